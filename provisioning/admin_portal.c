/* click2sign-admin portal-key add|list|remove: the portal's public keys, which the keyholder
 * trusts for the signed order manifest. One PEM file per key in [keyholder] portal_keys, named
 * after the key id (hex SHA-256 of its SubjectPublicKeyInfo); the keyholder reads the directory
 * again whenever it changes. */
#include "admin.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/certs/jws.h"

#define PORTAL_PEM_MAX 16384

static c2s_err portal_read(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return C2S_ERR_IO;
	*len = fread(buf, 1, cap - 1, f);
	int big = !feof(f) && fgetc(f) != EOF;
	fclose(f);
	buf[*len] = 0;
	return big ? C2S_ERR_TOO_BIG : C2S_OK;
}

/* The directory, created 0755 when missing (public keys are not secret; the keyholder's uid
 * must be able to read them). */
static c2s_err portal_dir(struct admin *a)
{
	struct stat st;
	const char *d = a->cfg.portal_keys;
	if (lstat(d, &st) == 0) {
		/* the keyholder reads keys only from a directory of root's (or its own user's) that
		 * no one else may write (jws_keys_from_dir): one planted by another user is not
		 * used, and not added to */
		if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
		    (st.st_mode & 022)) {
			admin_fail(
			    "%s ([keyholder] portal_keys) is not a directory of this user's that "
			    "only it may write (owner uid %u, mode %04o): the keyholder would "
			    "not read it; remove it and add the keys again",
			    d, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			return C2S_ERR_CONFIG;
		}
		return C2S_OK;
	}
	if (mkdir(d, 0755) != 0) {
		admin_fail("cannot create %s ([keyholder] portal_keys): %s", d, strerror(errno));
		return C2S_ERR_IO;
	}
	return C2S_OK;
}

static int portal_add(struct admin *a, const char *file)
{
	uint8_t *pem = malloc(PORTAL_PEM_MAX);
	struct jws_key *k = NULL;
	char why[256] = "", path[CONFIG_PATH + 80];
	size_t len = 0;
	int rc = ADMIN_EXIT_FAIL;
	if (!pem)
		goto out;
	c2s_err r = portal_read(file, pem, PORTAL_PEM_MAX, &len);
	if (r != C2S_OK) {
		admin_fail("cannot read %s: %s", file,
		           r == C2S_ERR_TOO_BIG ? "larger than 16 KiB" : strerror(errno));
		goto out;
	}
	if (jws_key_from_pem(pem, len + 1, &k, why, sizeof(why)) != C2S_OK) {
		admin_fail("%s refused as a portal key: %s", file, why);
		goto out;
	}
	if (portal_dir(a) != C2S_OK)
		goto out;
	snprintf(path, sizeof(path), "%s/%s.pem", a->cfg.portal_keys, jws_key_kid(k));
	if (access(path, F_OK) == 0) {
		printf("portal key %s (%s) is already trusted\n", jws_key_kid(k),
		       jws_alg_name(jws_key_alg(k)));
		rc = ADMIN_EXIT_OK;
		goto out;
	}
	if (admin_write_file(path, pem, len, 0644) != C2S_OK) {
		admin_fail("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	printf("portal key %s (%s) added; the keyholder trusts it for order manifests from now "
	       "on\n",
	       jws_key_kid(k), jws_alg_name(jws_key_alg(k)));
	rc = ADMIN_EXIT_OK;
out:
	jws_key_free(k);
	free(pem);
	return rc;
}

/* Calls cb for each *.pem in the directory with its parsed key (NULL when refused). */
static int portal_each(struct admin *a,
                       void (*cb)(void *ctx, const char *name, const struct jws_key *k,
                                  const char *why),
                       void *ctx)
{
	struct dirent **names = NULL;
	int n = scandir(a->cfg.portal_keys, &names, NULL, alphasort);
	uint8_t *pem = malloc(PORTAL_PEM_MAX);
	if (n < 0 || !pem) {
		free(pem);
		free(names);
		return n < 0 && errno == ENOENT ? 0 : -1;
	}
	int count = 0;
	for (int i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		size_t fl = strlen(f), len = 0;
		char path[CONFIG_PATH + 300], why[256] = "";
		struct jws_key *k = NULL;
		if (fl > 4 && strcmp(f + fl - 4, ".pem") == 0) {
			snprintf(path, sizeof(path), "%s/%s", a->cfg.portal_keys, f);
			if (portal_read(path, pem, PORTAL_PEM_MAX, &len) != C2S_OK)
				snprintf(why, sizeof(why), "unreadable");
			else if (jws_key_from_pem(pem, len + 1, &k, why, sizeof(why)) != C2S_OK)
				k = NULL;
			cb(ctx, f, k, why);
			jws_key_free(k);
			count++;
		}
		free(names[i]);
	}
	free(names);
	free(pem);
	return count;
}

static void portal_list_cb(void *ctx, const char *name, const struct jws_key *k, const char *why)
{
	(void)ctx;
	if (k)
		printf("%-64s  %s\n", jws_key_kid(k), jws_alg_name(jws_key_alg(k)));
	else
		printf("%-64s  REFUSED: %s (file %s)\n", "-", why, name);
}

struct portal_rm {
	struct admin *a;
	const char *kid;
	int removed;
};

static void portal_rm_cb(void *ctx, const char *name, const struct jws_key *k, const char *why)
{
	struct portal_rm *r = ctx;
	char path[CONFIG_PATH + 300];
	(void)why;
	if (!k || strcmp(jws_key_kid(k), r->kid) != 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", r->a->cfg.portal_keys, name);
	if (unlink(path) == 0)
		r->removed++;
}

int admin_cmd_portal_key(struct admin *a, int argc, char **argv)
{
	const char *pos[1] = {NULL};
	size_t n_pos = 0;
	if (argc < 1)
		return admin_usage_fail("portal-key", "expected add, list or remove");
	const char *sub = argv[0];
	int is_list = strcmp(sub, "list") == 0;
	if (!is_list && strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
		return admin_usage_fail(
		    "portal-key", "unknown subcommand '%s' (expected add, list or remove)", sub);
	int rc = admin_opts_parse(a, "portal-key", argc - 1, argv + 1, NULL, 0, pos,
	                          is_list ? 0 : 1, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	if (!is_list && n_pos != 1)
		return admin_usage_fail("portal-key", strcmp(sub, "add") == 0
		                                          ? "add needs the portal's PEM public "
		                                            "key or certificate file"
		                                          : "remove needs a key id (from "
		                                            "`portal-key list`)");
	if (admin_config_load(a, 0) != C2S_OK)
		return ADMIN_EXIT_FAIL;
	if (strcmp(sub, "add") == 0)
		return portal_add(a, pos[0]);
	if (is_list) {
		printf("%-64s  %s\n", "KEY ID (SHA-256 of the public key)", "ALG");
		int n = portal_each(a, portal_list_cb, NULL);
		if (n < 0)
			return admin_fail("cannot read %s: %s", a->cfg.portal_keys,
			                  strerror(errno));
		if (n == 0)
			printf("(no portal key: orders are refused until one is added with "
			       "`portal-key add FILE`)\n");
		return ADMIN_EXIT_OK;
	}
	struct portal_rm r = {.a = a, .kid = pos[0]};
	if (portal_each(a, portal_rm_cb, &r) < 0)
		return admin_fail("cannot read %s: %s", a->cfg.portal_keys, strerror(errno));
	if (!r.removed)
		return admin_fail("no portal key with id %s; `portal-key list` shows them", pos[0]);
	printf("portal key %s removed; manifests it signed are refused from now on\n", pos[0]);
	return ADMIN_EXIT_OK;
}
