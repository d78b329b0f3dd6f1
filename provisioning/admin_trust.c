/* click2sign-admin trust add|list|remove and crl add: the anchors, intermediates and CRLs that
 * customers' certificates are validated against on the certificate listener (API.md section
 * 3). One PEM file per certificate in [certlogin] trust_dir, named after the SHA-256 of its DER;
 * one DER file per issuer in [certlogin] crl_dir, named after the SHA-256 of the issuer's name,
 * replaced only by a newer CRL. c2s-web reads both directories again when they change. */
#include "admin.h"

#include <dirent.h>
#include <errno.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "firmware/certs/custcert.h"

#define TRUST_FILE_MAX (4u << 20)

static uint8_t *trust_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *b = malloc(TRUST_FILE_MAX + 1);
	size_t n = b ? fread(b, 1, TRUST_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!b || n == 0 || n > TRUST_FILE_MAX) {
		free(b);
		errno = n > TRUST_FILE_MAX ? EFBIG : (n == 0 ? EINVAL : errno);
		return NULL;
	}
	b[n] = 0;
	/* PEM: mbedTLS wants the NUL counted */
	*len = strstr((char *)b, "-----BEGIN") ? n + 1 : n;
	return b;
}

static int trust_mkdir(const char *d, const char *key)
{
	struct stat st;
	if (stat(d, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (mkdir(d, 0755) != 0) /* public certificates: c2s-web must read them */
		return admin_fail("cannot create %s ([certlogin] %s): %s", d, key, strerror(errno));
	return 0;
}

static void trust_hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void trust_date(const mbedtls_x509_time *t, char *out, size_t cap)
{
	snprintf(out, cap, "%04d-%02d-%02d", t->year, t->mon, t->day);
}

static int trust_is_anchor(const mbedtls_x509_crt *c)
{
	return c->ca_istrue && c->issuer_raw.len == c->subject_raw.len &&
	       memcmp(c->issuer_raw.p, c->subject_raw.p, c->issuer_raw.len) == 0;
}

static int trust_add(struct admin *a, const char *file)
{
	size_t len = 0;
	uint8_t *data = trust_read(file, &len);
	mbedtls_x509_crt chain;
	int rc = ADMIN_EXIT_FAIL, added = 0, seen = 0;
	mbedtls_x509_crt_init(&chain);
	if (!data) {
		rc = admin_fail("cannot read %s: %s", file, strerror(errno));
		goto out;
	}
	int prc = len && data[len - 1] == 0 ? mbedtls_x509_crt_parse(&chain, data, len)
	                                    : mbedtls_x509_crt_parse_der(&chain, data, len);
	if (prc < 0 || !chain.raw.len) {
		rc = admin_fail("%s: no certificate in PEM or DER could be read", file);
		goto out;
	}
	if (prc > 0)
		fprintf(stderr,
		        "click2sign-admin: %s: %d certificate(s) could not be read and were "
		        "skipped\n",
		        file, prc);
	if (trust_mkdir(a->cfg.trust_dir, "trust_dir"))
		goto out;
	for (mbedtls_x509_crt *c = &chain; c && c->raw.len; c = c->next) {
		uint8_t sha[32];
		char fp[65], path[CONFIG_PATH + 80], subj[512], until[16];
		seen++;
		if (!c->ca_istrue) {
			cc_name_utf8(c->subject_raw.p, c->subject_raw.len, subj, sizeof(subj));
			fprintf(stderr,
			        "click2sign-admin: '%s' is not a CA certificate (basicConstraints "
			        "CA:FALSE); only CA certificates can be trust anchors or "
			        "intermediates; skipped\n",
			        subj);
			continue;
		}
		mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), c->raw.p, c->raw.len, sha);
		trust_hex(sha, 32, fp);
		snprintf(path, sizeof(path), "%s/%s.pem", a->cfg.trust_dir, fp);
		cc_name_utf8(c->subject_raw.p, c->subject_raw.len, subj, sizeof(subj));
		trust_date(&c->valid_to, until, sizeof(until));
		if (access(path, F_OK) == 0) {
			printf("%s %s is already trusted (%s)\n",
			       trust_is_anchor(c) ? "anchor" : "intermediate", fp, subj);
			added++;
			continue;
		}
		unsigned char pem[16384];
		size_t olen = 0;
		if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
		                             "-----END CERTIFICATE-----\n", c->raw.p, c->raw.len,
		                             pem, sizeof(pem), &olen) != 0) {
			fprintf(stderr, "click2sign-admin: '%s' is too large; skipped\n", subj);
			continue;
		}
		if (admin_write_file(path, pem, olen - 1, 0644) != C2S_OK) {
			rc = admin_fail("cannot write %s: %s", path, strerror(errno));
			goto out;
		}
		printf("%s %s added: %s (valid until %s)\n",
		       trust_is_anchor(c) ? "anchor" : "intermediate", fp, subj, until);
		added++;
	}
	if (!added) {
		rc = admin_fail("%s: none of its %d certificate(s) was added", file, seen);
		goto out;
	}
	rc = ADMIN_EXIT_OK;
out:
	mbedtls_x509_crt_free(&chain);
	free(data);
	return rc;
}

/* Each certificate file in trust_dir: cb(ctx, file name, parsed certificate or NULL). */
static int trust_each(struct admin *a, void (*cb)(void *, const char *, const mbedtls_x509_crt *),
                      void *ctx)
{
	struct dirent **names = NULL;
	int n = scandir(a->cfg.trust_dir, &names, NULL, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	int count = 0;
	for (int i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		size_t fl = strlen(f), len = 0;
		if (f[0] != '.' && fl > 4 &&
		    (strcmp(f + fl - 4, ".pem") == 0 || strcmp(f + fl - 4, ".crt") == 0 ||
		     strcmp(f + fl - 4, ".der") == 0)) {
			char path[CONFIG_PATH + 300];
			snprintf(path, sizeof(path), "%s/%s", a->cfg.trust_dir, f);
			uint8_t *d = trust_read(path, &len);
			mbedtls_x509_crt c;
			mbedtls_x509_crt_init(&c);
			int ok =
			    d && (d[len - 1] == 0 ? mbedtls_x509_crt_parse(&c, d, len)
			                          : mbedtls_x509_crt_parse_der(&c, d, len)) == 0;
			cb(ctx, f, ok ? &c : NULL);
			mbedtls_x509_crt_free(&c);
			free(d);
			count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

static void trust_list_cb(void *ctx, const char *name, const mbedtls_x509_crt *c)
{
	(void)ctx;
	char subj[512], until[16];
	if (!c) {
		printf("%-64s  %-12s  %-10s  (file %s cannot be read)\n", "-", "UNREADABLE", "-",
		       name);
		return;
	}
	cc_name_utf8(c->subject_raw.p, c->subject_raw.len, subj, sizeof(subj));
	trust_date(&c->valid_to, until, sizeof(until));
	printf("%.64s  %-12s  %-10s  %s\n", name, trust_is_anchor(c) ? "anchor" : "intermediate",
	       until, subj);
}

static int crl_add(struct admin *a, const char *file)
{
	size_t len = 0;
	uint8_t *data = trust_read(file, &len);
	struct cc_trust *t = NULL;
	struct cc_crl_info info = {0};
	char why[400] = "", fp[65], path[CONFIG_PATH + 80];
	int rc = ADMIN_EXIT_FAIL;
	if (!data) {
		rc = admin_fail("cannot read %s: %s", file, strerror(errno));
		goto out;
	}
	if (cc_trust_load(a->cfg.trust_dir, "", &t, why, sizeof(why)) != C2S_OK) {
		rc = admin_fail("cannot read the trust directory %s", a->cfg.trust_dir);
		goto out;
	}
	if (cc_crl_check(t, data, len, &info, why, sizeof(why)) != C2S_OK) {
		rc = admin_fail("%s refused: %s", file, why);
		goto out;
	}
	int64_t now = (int64_t)time(NULL);
	if (info.next_update && info.next_update <= now)
		fprintf(
		    stderr,
		    "click2sign-admin: warning: this CRL of '%s' is past its nextUpdate; it is "
		    "stored, but certificates of that issuer are refused as 'revocation unknown' "
		    "until a current CRL is added or fetched\n",
		    info.issuer);
	if (trust_mkdir(a->cfg.crl_dir, "crl_dir"))
		goto out;
	trust_hex(info.issuer_sha256, 32, fp);
	snprintf(path, sizeof(path), "%s/%s.crl", a->cfg.crl_dir, fp);
	/* keep the newer one */
	{
		size_t ol = 0;
		uint8_t *old = trust_read(path, &ol);
		struct cc_crl_info oi = {0};
		char ow[200];
		if (old && cc_crl_check(t, old, ol, &oi, ow, sizeof(ow)) == C2S_OK &&
		    oi.this_update > info.this_update) {
			printf("a newer CRL of '%s' is installed already; kept it\n", info.issuer);
			free(oi.der);
			free(old);
			rc = ADMIN_EXIT_OK;
			goto out;
		}
		free(oi.der);
		free(old);
	}
	if (admin_write_file(path, info.der, info.der_len, 0644) != C2S_OK) {
		rc = admin_fail("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	printf("CRL of '%s' added: %zu revoked certificate(s), next update %s\n", info.issuer,
	       info.entries, info.next_update ? "given" : "not given");
	rc = ADMIN_EXIT_OK;
out:
	free(info.der);
	cc_trust_free(t);
	free(data);
	return rc;
}

struct trust_rm {
	struct admin *a;
	const char *fp;
	int removed;
};

static void trust_rm_cb(void *ctx, const char *name, const mbedtls_x509_crt *c)
{
	struct trust_rm *r = ctx;
	char path[CONFIG_PATH + 300];
	(void)c;
	if (strncmp(name, r->fp, 64) != 0 || strlen(r->fp) != 64)
		return;
	snprintf(path, sizeof(path), "%s/%s", r->a->cfg.trust_dir, name);
	if (unlink(path) == 0)
		r->removed++;
}

int admin_cmd_trust(struct admin *a, int argc, char **argv)
{
	const char *pos[1] = {NULL};
	size_t n_pos = 0;
	if (argc < 1)
		return admin_usage_fail("trust", "expected add, list or remove");
	const char *sub = argv[0];
	int is_list = strcmp(sub, "list") == 0;
	if (!is_list && strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
		return admin_usage_fail(
		    "trust", "unknown subcommand '%s' (expected add, list or remove)", sub);
	int rc =
	    admin_opts_parse(a, "trust", argc - 1, argv + 1, NULL, 0, pos, is_list ? 0 : 1, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	if (!is_list && n_pos != 1)
		return admin_usage_fail("trust",
		                        strcmp(sub, "add") == 0
		                            ? "add needs a PEM or DER file of CA certificates"
		                            : "remove needs a fingerprint (from `trust list`)");
	if (admin_config_load(a, 0) != C2S_OK)
		return ADMIN_EXIT_FAIL;
	if (strcmp(sub, "add") == 0)
		return trust_add(a, pos[0]);
	if (is_list) {
		printf("%-64s  %-12s  %-10s  %s\n", "SHA-256 OF THE CERTIFICATE", "KIND",
		       "VALID TO", "SUBJECT");
		if (trust_each(a, trust_list_cb, NULL) < 0)
			return admin_fail("cannot read %s: %s", a->cfg.trust_dir, strerror(errno));
		return ADMIN_EXIT_OK;
	}
	struct trust_rm r = {.a = a, .fp = pos[0]};
	if (trust_each(a, trust_rm_cb, &r) < 0)
		return admin_fail("cannot read %s: %s", a->cfg.trust_dir, strerror(errno));
	if (!r.removed)
		return admin_fail(
		    "no trusted certificate has the fingerprint %s (see `trust list`)", pos[0]);
	printf("certificate %s is no longer trusted\n", pos[0]);
	return ADMIN_EXIT_OK;
}

int admin_cmd_crl(struct admin *a, int argc, char **argv)
{
	const char *pos[1] = {NULL};
	size_t n_pos = 0;
	if (argc < 1 || strcmp(argv[0], "add") != 0)
		return admin_usage_fail("crl", "expected add FILE");
	int rc = admin_opts_parse(a, "crl", argc - 1, argv + 1, NULL, 0, pos, 1, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	if (n_pos != 1)
		return admin_usage_fail("crl", "add needs a CRL file (PEM or DER)");
	if (admin_config_load(a, 0) != C2S_OK)
		return ADMIN_EXIT_FAIL;
	return crl_add(a, pos[0]);
}
