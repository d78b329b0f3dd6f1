/* click2sign-admin key generate|list|destroy */
#include "admin.h"

#include <mbedtls/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key_type_name {
	const char *name;
	enum hsm_key_type type;
	unsigned bits;
	enum hsm_curve curve;
};

static const struct key_type_name key_types[] = {
    {"rsa:2048", HSM_KEY_RSA, 2048, HSM_CURVE_NONE},
    {"rsa:3072", HSM_KEY_RSA, 3072, HSM_CURVE_NONE},
    {"rsa:4096", HSM_KEY_RSA, 4096, HSM_CURVE_NONE},
    {"ec:p256", HSM_KEY_EC, 0, HSM_CURVE_P256},
    {"ec:p384", HSM_KEY_EC, 0, HSM_CURVE_P384},
    {"ec:p521", HSM_KEY_EC, 0, HSM_CURVE_P521},
};

/* A label people can type and the token stores: printable ASCII/UTF-8, no control bytes. */
static int key_label_ok(const char *l)
{
	size_t n = strlen(l);
	if (n == 0 || n >= HSM_MAX_LABEL || strncmp(l, "pkcs11:", 7) == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)l[i] < 0x20 || l[i] == 0x7f)
			return 0;
	return 1;
}

/* C2S_OK when no private key has this label yet (prints the reason otherwise). */
static c2s_err key_label_free(struct hsm *h, const char *label)
{
	struct hsm_key *k = NULL;
	char why[HSM_WHY] = "";
	c2s_err ret = hsm_key_find(h, label, &k, why, sizeof(why));
	if (k)
		hsm_key_free(k);
	if (ret == C2S_ERR_HSM_NO_KEY || ret == C2S_ERR_NOT_FOUND)
		return C2S_OK;
	if (ret == C2S_OK || ret == C2S_ERR_HSM_AMBIGUOUS)
		admin_fail("a key labelled '%s' already exists; choose another --label or destroy "
		           "it first",
		           label);
	else
		admin_fail("cannot check the label '%s': %s", label,
		           why[0] ? why : c2s_err_message(ret));
	return ret == C2S_OK ? C2S_ERR_ARG : ret;
}

static int key_generate(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {
	    {.name = "label", .has_arg = 1, .required = 1},
	    {.name = "type", .has_arg = 1, .required = 1},
	};
	const char *pos[1];
	size_t n_pos;
	const struct key_type_name *kt = NULL;
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	struct hsm_key_info ki;
	char why[HSM_WHY] = "", idhex[2 * HSM_MAX_ID + 1];
	int rc = admin_opts_parse(a, "key generate", argc, argv, opts, 2, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strcmp(opts[1].val, key_types[i].name) == 0)
			kt = &key_types[i];
	if (!kt)
		return admin_usage_fail("key generate",
		                        "--type '%s' is not one of rsa:2048 rsa:3072 rsa:4096 "
		                        "ec:p256 ec:p384 ec:p521",
		                        opts[1].val);
	if (!key_label_ok(opts[0].val))
		return admin_usage_fail("key generate",
		                        "--label must be 1..%d printable bytes "
		                        "and not a pkcs11: URI",
		                        HSM_MAX_LABEL - 1);
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK || admin_hsm_open(a, 1, &h) != C2S_OK ||
	    key_label_free(h, opts[0].val) != C2S_OK)
		goto out;
	struct hsm_keygen spec = {
	    .type = kt->type, .rsa_bits = kt->bits, .curve = kt->curve, .label = opts[0].val};
	c2s_err ret = hsm_key_generate(h, &spec, &k, why, sizeof(why));
	if (ret != C2S_OK) {
		admin_fail("key generation failed: %s", why[0] ? why : c2s_err_message(ret));
		goto out;
	}
	if (hsm_key_get_info(h, k, &ki) == C2S_OK)
		admin_hex(ki.id, ki.id_len, idhex, sizeof(idhex));
	else
		snprintf(idhex, sizeof(idhex), "?");
	printf("generated %s key '%s' (id %s)\n", kt->name, opts[0].val, idhex);
	printf("next: click2sign-admin --config %s csr --key %s --subject \"CN=...,O=...,C=SI\" "
	       "--out %s.csr\n",
	       a->config_path, opts[0].val, opts[0].val);
	rc = ADMIN_EXIT_OK;
out:
	if (k)
		hsm_key_free(k);
	if (h)
		hsm_close(h);
	return rc;
}

static int key_list(struct admin *a, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos, n = 0;
	struct hsm *h = NULL;
	struct hsm_key_info *keys = NULL;
	char idhex[2 * HSM_MAX_ID + 1], type[32];
	int rc = admin_opts_parse(a, "key list", argc, argv, NULL, 0, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK || admin_hsm_open(a, 1, &h) != C2S_OK ||
	    admin_key_list_all(h, &keys, &n) != C2S_OK)
		goto out;
	printf("%-24s %-42s %-5s %-6s %s\n", "LABEL", "ID", "TYPE", "SIZE", "CERTIFICATE");
	for (size_t i = 0; i < n; i++) {
		const struct hsm_key_info *ki = &keys[i];
		admin_hex(ki->id, ki->id_len, idhex, sizeof(idhex));
		admin_key_type_str(ki, type, sizeof(type));
		char *colon = strchr(type, ':');
		if (colon)
			*colon++ = 0;
		printf("%-24s %-42s %-5s %-6s %s\n", ki->label[0] ? ki->label : "(no label)",
		       idhex[0] ? idhex : "-", type, colon ? colon : "?",
		       ki->has_certificate ? "yes" : "no");
	}
	if (n == 0)
		printf("(no private keys; create one with `key generate`)\n");
	rc = ADMIN_EXIT_OK;
out:
	free(keys);
	if (h)
		hsm_close(h);
	return rc;
}

static int key_destroy(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {
	    {.name = "label", .has_arg = 1, .required = 1},
	    {.name = "yes"},
	};
	const char *pos[1];
	size_t n_pos;
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	int rc = admin_opts_parse(a, "key destroy", argc, argv, opts, 2, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	if (!opts[1].val)
		return admin_usage_fail("key destroy",
		                        "destroying '%s' cannot be undone; add --yes "
		                        "to confirm",
		                        opts[0].val);
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK || admin_hsm_open(a, 1, &h) != C2S_OK ||
	    admin_key_find(h, opts[0].val, &k) != C2S_OK)
		goto out;
	c2s_err ret = hsm_key_destroy(h, k);
	if (ret != C2S_OK) {
		admin_fail("the token refused to destroy '%s': %s", opts[0].val,
		           c2s_err_message(ret));
		goto out;
	}
	printf("destroyed key '%s'\n", opts[0].val);
	if (strcmp(opts[0].val, a->cfg.seal_key) == 0)
		printf("warning: this was the [seal] key; sealing stops until a new one is "
		       "provisioned\n");
	rc = ADMIN_EXIT_OK;
out:
	if (k)
		hsm_key_free(k);
	if (h)
		hsm_close(h);
	return rc;
}

/* The public key as PEM (SubjectPublicKeyInfo): what the portal needs to verify the login
 * assertions signed with the [assertions] key. */
static int key_public(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {{.name = "label", .has_arg = 1, .required = 1}};
	const char *pos[1];
	size_t n_pos, len = 0, olen = 0;
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	uint8_t spki[4096];
	unsigned char pem[8192];
	int rc = admin_opts_parse(a, "key public", argc, argv, opts, 1, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	len = sizeof(spki);
	if (admin_config_load(a, 0) != C2S_OK || admin_hsm_open(a, 1, &h) != C2S_OK ||
	    admin_key_find(h, opts[0].val, &k) != C2S_OK ||
	    admin_key_spki(h, k, spki, &len) != C2S_OK)
		goto out;
	if (mbedtls_pem_write_buffer("-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n",
	                             spki, len, pem, sizeof(pem), &olen) != 0) {
		admin_fail("the public key of '%s' is too large to print", opts[0].val);
		goto out;
	}
	fputs((const char *)pem, stdout);
	rc = ADMIN_EXIT_OK;
out:
	if (k)
		hsm_key_free(k);
	if (h)
		hsm_close(h);
	return rc;
}

int admin_cmd_key(struct admin *a, int argc, char **argv)
{
	if (argc < 1)
		return admin_usage_fail("key", "expected generate, list or destroy");
	if (strcmp(argv[0], "generate") == 0)
		return key_generate(a, argc - 1, argv + 1);
	if (strcmp(argv[0], "list") == 0)
		return key_list(a, argc - 1, argv + 1);
	if (strcmp(argv[0], "destroy") == 0)
		return key_destroy(a, argc - 1, argv + 1);
	if (strcmp(argv[0], "public") == 0)
		return key_public(a, argc - 1, argv + 1);
	return admin_usage_fail("key",
	                        "unknown subcommand '%s' (expected generate, list, public or "
	                        "destroy)",
	                        argv[0]);
}
