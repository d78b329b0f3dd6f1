/* click2signd: the parent process, and (exec'd under another argv[0]) its children. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proc.h"
#include "ready.h"
#include "firmware/base/config.h"
#include "firmware/base/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: click2signd -c CONFIG [-n]\n"
	           "  -c FILE  configuration file\n"
	           "  -n       check the configuration and what it points at (PIN files, the TLS\n"
	           "           certificate and key), name every problem, and exit (1 when any\n"
	           "           would stop the appliance)\n"
	           "  -h       this help\n");
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	int check_only = 0, opt;
	const struct proc_role *role = proc_role_for(argv[0]);
	if (role)
		proc_child_setup(role);
	while ((opt = getopt(argc, argv, "c:nh")) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	static struct config cfg;
	log_init(role ? role->name : "click2signd", LOG_LVL_INFO);
	if (role)
		config_files_checked_by_parent();
	if (config_load(config_path, &cfg) != C2S_OK) {
		config_print_problems(&cfg);
		fprintf(stderr, "%s: %zu problem(s); nothing started\n", config_path,
		        cfg.n_problems);
		return 1;
	}
	log_set_level((enum log_level)cfg.log_level);
	if (role)
		return role->main(&cfg);
	static struct ready rd;
	ready_check(&cfg, (int64_t)time(NULL), check_only, &rd);
	if (check_only) {
		ready_print(&rd, config_path);
		if (rd.fatal) {
			fprintf(stderr, "%s: %zu problem(s) that would stop the appliance\n",
			        config_path, rd.fatal);
			return 1;
		}
		printf("%s: configuration OK%s\n", config_path,
		       rd.n ? " (with warnings above)" : "");
		return 0;
	}
	for (size_t i = 0; i < rd.n; i++) {
		if (rd.p[i].fatal)
			log_error("[%s] %s: %s", rd.p[i].section, rd.p[i].key, rd.p[i].why);
		else
			log_warn("[%s] %s: %s", rd.p[i].section, rd.p[i].key, rd.p[i].why);
	}
	if (rd.no_start) { /* a listener that could never answer: no port is opened at all */
		log_error("not started: the HTTPS listeners cannot serve with this certificate and "
		          "key");
		return 1;
	}
	return proc_parent_run(&cfg, config_path);
}
