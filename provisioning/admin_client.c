/* click2sign-admin client add|list|revoke: API clients (portal) and their bearer tokens. */
#include "admin.h"

#include <stdio.h>
#include <string.h>

#include "firmware/store/store.h"

/* Client names appear in logs and the audit trail: keep them plain. */
static int client_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 64)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static c2s_err client_store_open(struct admin *a, struct store **st)
{
	c2s_err ret = admin_config_load(a, 0);
	if (ret != C2S_OK)
		return ret;
	ret = store_open(a->cfg.state_dir, st);
	if (ret != C2S_OK)
		admin_fail("cannot open the database in %s: %s; run `click2sign-admin init` first",
		           a->cfg.state_dir, c2s_err_message(ret));
	return ret;
}

static int client_add(struct admin *a, const char *name)
{
	int rc = ADMIN_EXIT_FAIL;
	struct store *st = NULL;
	char token[STORE_CLIENT_TOKEN_LEN + 1];
	if (client_store_open(a, &st) != C2S_OK)
		goto out;
	c2s_err ret = store_client_add(st, name, token, sizeof(token));
	if (ret == C2S_ERR_ARG) {
		admin_fail("a client named '%s' exists already (revoked names stay taken); choose "
		           "another name",
		           name);
		goto out;
	}
	if (ret != C2S_OK) {
		admin_fail("cannot add client '%s': %s", name, c2s_err_message(ret));
		goto out;
	}
	/* the token is shown once, alone on stdout, so scripts can capture it */
	printf("%s\n", token);
	fflush(stdout);
	fprintf(stderr,
	        "click2sign-admin: client '%s' added; the bearer token above is shown "
	        "only once\n",
	        name);
	rc = ADMIN_EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	store_close(st);
	return rc;
}

static void client_list_cb(void *ctx, const char *name, const char *created, int revoked)
{
	size_t *n = ctx;
	printf("%-32s %-22s %s\n", name, created ? created : "-", revoked ? "revoked" : "active");
	(*n)++;
}

static int client_list(struct admin *a)
{
	int rc = ADMIN_EXIT_FAIL;
	struct store *st = NULL;
	size_t n = 0;
	if (client_store_open(a, &st) != C2S_OK)
		goto out;
	printf("%-32s %-22s %s\n", "NAME", "CREATED", "STATUS");
	c2s_err ret = store_client_list(st, client_list_cb, &n);
	if (ret != C2S_OK) {
		admin_fail("cannot list clients: %s", c2s_err_message(ret));
		goto out;
	}
	if (n == 0)
		printf("(no clients; add one with `client add NAME`)\n");
	rc = ADMIN_EXIT_OK;
out:
	store_close(st);
	return rc;
}

static int client_revoke(struct admin *a, const char *name)
{
	int rc = ADMIN_EXIT_FAIL;
	struct store *st = NULL;
	if (client_store_open(a, &st) != C2S_OK)
		goto out;
	c2s_err ret = store_client_revoke(st, name);
	if (ret == C2S_ERR_NOT_FOUND) {
		admin_fail("no client named '%s'; `client list` shows them", name);
		goto out;
	}
	if (ret != C2S_OK) {
		admin_fail("cannot revoke client '%s': %s", name, c2s_err_message(ret));
		goto out;
	}
	printf("client '%s' revoked; its token stops working at once\n", name);
	rc = ADMIN_EXIT_OK;
out:
	store_close(st);
	return rc;
}

int admin_cmd_client(struct admin *a, int argc, char **argv)
{
	const char *pos[1] = {NULL};
	size_t n_pos = 0;
	if (argc < 1)
		return admin_usage_fail("client", "expected add, list or revoke");
	const char *sub = argv[0];
	int is_list = strcmp(sub, "list") == 0;
	if (!is_list && strcmp(sub, "add") != 0 && strcmp(sub, "revoke") != 0)
		return admin_usage_fail("client",
		                        "unknown subcommand '%s' (expected add, list or "
		                        "revoke)",
		                        sub);
	int rc = admin_opts_parse(a, "client", argc - 1, argv + 1, NULL, 0, pos, is_list ? 0 : 1,
	                          &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	if (is_list)
		return client_list(a);
	if (n_pos != 1)
		return admin_usage_fail("client", "%s needs a client NAME", sub);
	if (!client_name_ok(pos[0]))
		return admin_usage_fail("client", "NAME must be 1..64 of A-Z a-z 0-9 . _ -");
	return strcmp(sub, "add") == 0 ? client_add(a, pos[0]) : client_revoke(a, pos[0]);
}
