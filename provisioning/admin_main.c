/* click2sign-admin: global options, dispatch to one file per subcommand, usage. */
#include "admin.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/base/log.h"
#include "firmware/base/sandbox.h"

static const char admin_usage_text[] =
    "usage: click2sign-admin --config FILE [--verbose] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  init                                   check the config, create the state directory and "
    "database\n"
    "  token init --label L --so-pin-file F [--pin-file F] [--yes]\n"
    "                                         initialise the token and set the user PIN; --yes "
    "to\n"
    "                                         erase a token that is already initialised\n"
    "  token status                           token, login and PIN state, configured keys\n"
    "  token pin-change --new-pin-file F [--old-pin-file F]\n"
    "                                         change the user PIN\n"
    "  key generate --label L --type T        T: rsa:2048 rsa:3072 rsa:4096 ec:p256 ec:p384 "
    "ec:p521\n"
    "  key list                               keys in the token\n"
    "  key public --label L                   the key's public key (PEM), e.g. for the portal\n"
    "                                         to verify login assertions\n"
    "  key destroy --label L --yes            destroy a private key (irreversible)\n"
    "  csr --key L --subject DN [--out FILE]  PKCS#10 request signed by the token key\n"
    "                                         DN like \"CN=Name,O=Company,C=SI\" (UTF-8)\n"
    "  cert import [--key L] --cert LEAF.pem [--chain CHAIN.pem]\n"
    "                                         store a certificate for its key; chain goes to "
    "[seal] chain\n"
    "  client add NAME                        new API client; prints its bearer token once\n"
    "  client list                            API clients\n"
    "  client revoke NAME                     revoke an API client\n"
    "  portal-key add FILE                    trust the portal's public key (PEM key or "
    "certificate)\n"
    "                                         for signed order manifests\n"
    "  portal-key list                        trusted portal keys by key id\n"
    "  portal-key remove KEYID                stop trusting a portal key\n"
    "  trust add FILE                         trust CA certificates (PEM or DER) for customers'\n"
    "                                         certificates: self-signed = anchor, else "
    "intermediate\n"
    "  trust list                             trusted CA certificates by SHA-256\n"
    "  trust remove SHA256                    stop trusting a CA certificate\n"
    "  crl add FILE                           install a CRL of a trusted CA (PEM or DER; "
    "newer wins)\n"
    "  audit verify                           check the orders' hash-chained audit log\n"
    "  audit export ORDER [--dir DIR]         an order's evidence (JSON; with --dir also the "
    "signed PDFs)\n"
    "  selftest                               sign and verify with every key; check the seal "
    "key\n"
    "\n"
    "Exit status: 0 success, 1 failure (reason on stderr), 2 usage error.\n";

/* Run as root, a command may have created files (token objects, the keyholder's store, the
 * database's journal) that belong to a role's user: the daemon's start-up rules give them back,
 * so a running keyholder or web can open them. Without the users, nothing to do: the daemon
 * names what is missing. */
static void admin_give_files(const char *config_path)
{
	static struct config cfg;
	struct sandbox_ids ids;
	char why[512];
	if (geteuid() != 0 || config_load(config_path, &cfg) != C2S_OK ||
	    sandbox_ids(&cfg, &ids, why, sizeof(why)) != C2S_OK)
		return;
	(void)sandbox_prepare(&cfg, &ids);
}

void admin_usage(void)
{
	fputs(admin_usage_text, stderr);
}

/* Present only in sanitizer builds (weak: NULL otherwise). */
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

/* The tool's contract is one reason line on stderr, but lower layers log their own view of
 * a failure (log_error) and PKCS#11 modules may print to fd 2. Unless --verbose, fd 2 goes
 * to /dev/null and our `stderr` (and sanitizer reports) use a private copy of the real
 * stderr. */
static void admin_quiet_stderr(void)
{
	int keep = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	FILE *f = keep >= 0 ? fdopen(keep, "w") : NULL;
	if (!f || null < 0) {
		if (f)
			fclose(f);
		else if (keep >= 0)
			close(keep);
		if (null >= 0)
			close(null);
		return;
	}
	setvbuf(f, NULL, _IONBF, 0);
	fflush(stderr);
	if (dup2(null, STDERR_FILENO) < 0) {
		fclose(f);
		close(null);
		return;
	}
	close(null);
	stderr = f;
	if (__sanitizer_set_report_fd)
		__sanitizer_set_report_fd((void *)(intptr_t)keep);
}

struct admin_command {
	const char *name;
	int (*run)(struct admin *a, int argc, char **argv);
};

static const struct admin_command admin_commands[] = {
    {"init", admin_cmd_init},         {"token", admin_cmd_token},
    {"key", admin_cmd_key},           {"csr", admin_cmd_csr},
    {"cert", admin_cmd_cert},         {"client", admin_cmd_client},
    {"selftest", admin_cmd_selftest}, {"portal-key", admin_cmd_portal_key},
    {"audit", admin_cmd_audit},       {"trust", admin_cmd_trust},
    {"crl", admin_cmd_crl},
};

/* Global options before the command. Returns the index of the command word, or -1 after
 * printing why (usage error), or -2 when help was printed. */
static int admin_global_opts(struct admin *a, int argc, char **argv, int *verbose)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0 || strcmp(o, "help") == 0) {
			fputs(admin_usage_text, stdout);
			return -2;
		} else if (strcmp(o, "--verbose") == 0 || strcmp(o, "-v") == 0) {
			*verbose = 1;
		} else if (strcmp(o, "--config") == 0 || strcmp(o, "-c") == 0) {
			if (i + 1 >= argc) {
				admin_usage_fail(NULL, "--config needs a file name");
				return -1;
			}
			a->config_path = argv[++i];
		} else if (strncmp(o, "--config=", 9) == 0) {
			a->config_path = o + 9;
		} else if (o[0] == '-') {
			admin_usage_fail(NULL, "unknown option '%s'", o);
			return -1;
		} else {
			break;
		}
	}
	return i;
}

int main(int argc, char **argv)
{
	static struct admin a; /* struct config is large: keep it off the stack */
	int verbose = 0;
	a.prog = "click2sign-admin";
	int ci = admin_global_opts(&a, argc, argv, &verbose);
	if (ci == -2)
		return ADMIN_EXIT_OK;
	if (ci < 0)
		return ADMIN_EXIT_USAGE;
	log_init("click2sign-admin", verbose ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	if (!verbose)
		admin_quiet_stderr();
	if (ci >= argc) {
		admin_usage();
		return ADMIN_EXIT_USAGE;
	}
	const struct admin_command *cmd = NULL;
	for (size_t i = 0; i < sizeof(admin_commands) / sizeof(admin_commands[0]); i++)
		if (strcmp(argv[ci], admin_commands[i].name) == 0)
			cmd = &admin_commands[i];
	if (!cmd) {
		fprintf(stderr, "click2sign-admin: unknown command '%s'\n", argv[ci]);
		admin_usage();
		return ADMIN_EXIT_USAGE;
	}
	if (!a.config_path)
		return admin_usage_fail(NULL, "--config FILE is required");
	int rc = cmd->run(&a, argc - ci - 1, argv + ci + 1);
	admin_give_files(a.config_path);
	return rc;
}
