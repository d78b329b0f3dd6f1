/* click2signd: the parent process, and (exec'd under another argv[0]) its children. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "firmware/base/config.h"
#include "firmware/base/log.h"

static void usage(void)
{
	fprintf(stderr, "usage: click2signd -c CONFIG [-n]\n"
	                "  -c FILE  configuration file\n"
	                "  -n       check the configuration, name every problem, and exit\n");
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
		default:
			usage();
			return 2;
		}
	}
	if (!config_path || optind != argc) {
		usage();
		return 2;
	}
	static struct config cfg;
	log_init(role ? role->name : "click2signd", LOG_LVL_INFO);
	if (config_load(config_path, &cfg) != C2S_OK) {
		config_print_problems(&cfg);
		fprintf(stderr, "%s: %zu problem(s); nothing started\n", config_path,
		        cfg.n_problems);
		return 1;
	}
	log_set_level((enum log_level)cfg.log_level);
	if (check_only) {
		printf("%s: configuration OK\n", config_path);
		return 0;
	}
	if (role)
		return role->main(&cfg);
	return proc_parent_run(&cfg, config_path);
}
