/* click2sign-admin cert import: store a certificate next to its key in the token, after
 * checking it belongs to that key and that its chain links up; the seal key's issuers go
 * to [seal] chain. Cards (removable tokens) usually refuse new objects and come with their
 * own certificate: then the seal certificate is kept in [seal] chain, leaf first. */
#include "admin.h"

#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_MAX       65536
#define CERT_DN_MAX    512
#define CERT_CHAIN_PEM (1u << 20)

static void cert_subject(const mbedtls_x509_crt *c, char *out, size_t cap)
{
	admin_dn_string(&c->subject, out, cap);
}

/* Parses every certificate in a PEM or DER file; prints the reason on failure. */
static c2s_err cert_parse_file(const char *path, const char *what, mbedtls_x509_crt *crt)
{
	int rc = mbedtls_x509_crt_parse_file(crt, path);
	if (rc < 0) {
		admin_fail("cannot read %s %s: not a readable PEM or DER certificate file", what,
		           path);
		return C2S_ERR_X509;
	}
	if (rc > 0) {
		admin_fail("%d certificate(s) in %s %s could not be parsed; fix the file", rc, what,
		           path);
		return C2S_ERR_X509;
	}
	return C2S_OK;
}

static int cert_same(const mbedtls_x509_crt *a, const mbedtls_x509_crt *b)
{
	return a->raw.len == b->raw.len && memcmp(a->raw.p, b->raw.p, a->raw.len) == 0;
}

/* Whether `parent` names and signed `child`. */
static int cert_signed_by(const mbedtls_x509_crt *child, mbedtls_x509_crt *parent)
{
	uint8_t hash[MBEDTLS_MD_MAX_SIZE];
	if (child->issuer_raw.len != parent->subject_raw.len ||
	    memcmp(child->issuer_raw.p, parent->subject_raw.p, child->issuer_raw.len) != 0)
		return 0;
	if (parent->version == 3 && !parent->ca_istrue)
		return 0;
	const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(child->sig_md);
	if (!mi || mbedtls_md(mi, child->tbs.p, child->tbs.len, hash) != 0)
		return 0;
	return mbedtls_pk_verify_ext(child->sig_pk, child->sig_opts, &parent->pk, child->sig_md,
	                             hash, mbedtls_md_get_size(mi), child->sig.p,
	                             child->sig.len) == 0;
}

/* Each certificate must be issued and signed by the next one in the list. */
static c2s_err cert_chain_check(const mbedtls_x509_crt *leaf, mbedtls_x509_crt *chain)
{
	char dn[CERT_DN_MAX], pdn[CERT_DN_MAX];
	const mbedtls_x509_crt *child = leaf;
	for (mbedtls_x509_crt *parent = chain; parent; parent = parent->next) {
		if (!cert_signed_by(child, parent)) {
			cert_subject(child, dn, sizeof(dn));
			cert_subject(parent, pdn, sizeof(pdn));
			admin_fail("chain is broken at %s: it is not issued and signed by the next "
			           "certificate (%s); give the issuers in order, the leaf's issuer "
			           "first",
			           dn, pdn);
			return C2S_ERR_CHAIN;
		}
		child = parent;
	}
	return C2S_OK;
}

static c2s_err cert_validity(const mbedtls_x509_crt *leaf)
{
	char dn[CERT_DN_MAX];
	const mbedtls_x509_time *t = mbedtls_x509_time_is_past(&leaf->valid_to) ? &leaf->valid_to
	                             : mbedtls_x509_time_is_future(&leaf->valid_from)
	                                 ? &leaf->valid_from
	                                 : NULL;
	if (!t)
		return C2S_OK;
	cert_subject(leaf, dn, sizeof(dn));
	admin_fail("certificate %s %s %04d-%02d-%02d %02d:%02d UTC; get a current one from the CA",
	           dn, t == &leaf->valid_to ? "expired on" : "is not valid before", t->year, t->mon,
	           t->day, t->hour, t->min);
	return C2S_ERR_X509;
}

/* Canonical SPKI of a parsed certificate. */
static c2s_err cert_spki(const mbedtls_x509_crt *c, uint8_t *out, size_t *len)
{
	c2s_err ret = admin_spki_canonical(c->pk_raw.p, c->pk_raw.len, out, len);
	if (ret != C2S_OK)
		admin_fail("the certificate's public key cannot be parsed");
	return ret;
}

/* Whether key k's public key is `spki` (canonical); silent. */
static int cert_key_matches(struct hsm *h, struct hsm_key *k, const uint8_t *spki, size_t len)
{
	struct buf kspki;
	buf_init(&kspki, ADMIN_SPKI_MAX);
	int same = hsm_key_spki(h, k, &kspki) == C2S_OK &&
	           admin_spki_equal(kspki.data, kspki.len, spki, len);
	buf_free(&kspki);
	return same;
}

/* The key whose public key is `spki`: by --key, or else by searching every key. */
static c2s_err cert_find_key(struct hsm *h, const char *label, const mbedtls_x509_crt *leaf,
                             const uint8_t *spki, size_t spki_len, struct hsm_key **out)
{
	c2s_err ret = C2S_ERR_CERT_MISMATCH;
	struct hsm_key_info *keys = NULL;
	size_t n = 0;
	char dn[CERT_DN_MAX], uri[1024], why[HSM_WHY];
	cert_subject(leaf, dn, sizeof(dn));
	*out = NULL;
	if (label) {
		GUARD(admin_key_find(h, label, out));
		if (!cert_key_matches(h, *out, spki, spki_len)) {
			admin_fail("certificate %s does not match key '%s': its public key is a "
			           "different one; check --key or the certificate file",
			           dn, label);
			ret = C2S_ERR_CERT_MISMATCH;
		}
		goto out;
	}
	GUARD(admin_key_list_all(h, &keys, &n));
	ret = C2S_ERR_CERT_MISMATCH;
	for (size_t i = 0; i < n && !*out; i++) {
		struct hsm_key *k = NULL;
		admin_key_uri(&keys[i], uri, sizeof(uri));
		if (hsm_key_find(h, uri, &k, why, sizeof(why)) != C2S_OK)
			continue;
		if (cert_key_matches(h, k, spki, spki_len))
			*out = k;
		else
			hsm_key_free(k);
	}
	if (*out)
		ret = C2S_OK;
	else
		admin_fail("certificate %s matches no key in the token; import it on the "
		           "appliance whose token holds its key",
		           dn);
out:
	if (ret != C2S_OK && *out) {
		hsm_key_free(*out);
		*out = NULL;
	}
	free(keys);
	return ret;
}

/* Where cert import put the leaf. */
enum cert_where {
	CERT_STORED,  /* written to the token now */
	CERT_ALREADY, /* the token held this very certificate */
	CERT_CONFIG,  /* the token would not take it: kept in [seal] chain */
};

/* Whether a failed C_CreateObject means the token does not take certificates (a card
 * through OpenSC, a write-protected token) rather than a passing problem. */
static int cert_refused(c2s_err r)
{
	return r != C2S_ERR_HSM_NO_TOKEN && r != C2S_ERR_HSM_REMOVED &&
	       r != C2S_ERR_HSM_NOT_LOGGED_IN && r != C2S_ERR_HSM_PIN_INCORRECT &&
	       r != C2S_ERR_HSM_PIN_LOCKED && r != C2S_ERR_NOMEM && r != C2S_ERR_X509;
}

/* Stores the leaf next to the key, unless the very same certificate is already there.
 * `card`: a removable token; a card's own certificate for the key is left alone and the
 * new one is kept in the config instead (*where = CERT_CONFIG, `why` says why). */
static c2s_err cert_store(struct hsm *h, struct hsm_key *k, const struct hsm_key_info *ki,
                          const mbedtls_x509_crt *leaf, int card, enum cert_where *where, char *why,
                          size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf old;
	char idhex[2 * HSM_MAX_ID + 1];
	buf_init(&old, CERT_MAX);
	*where = CERT_STORED;
	admin_hex(ki->id, ki->id_len, idhex, sizeof(idhex));
	ret = hsm_cert_for_key(h, k, &old);
	if (ret == C2S_OK) {
		if (old.len == leaf->raw.len && memcmp(old.data, leaf->raw.p, old.len) == 0) {
			*where = CERT_ALREADY;
			goto out;
		}
		if (card) {
			snprintf(why, why_cap,
			         "the card holds another certificate for key '%s' "
			         "(id %s), which is left as it is",
			         ki->label, idhex);
			*where = CERT_CONFIG;
			goto out;
		}
		admin_fail("key '%s' already has a different certificate in the token; delete it "
		           "first (pkcs11-tool --delete-object --type cert --id %s)",
		           ki->label, idhex);
		ret = C2S_ERR_ARG;
		goto out;
	}
	if (ret != C2S_ERR_NOT_FOUND) {
		admin_fail("cannot read the key's certificate: %s", c2s_err_message(ret));
		goto out;
	}
	ret = hsm_cert_store(h, leaf->raw.p, leaf->raw.len, ki->id, ki->id_len, ki->label);
	if (ret != C2S_OK && cert_refused(ret)) {
		snprintf(why, why_cap, "the token refused to store it (%s)", c2s_err_message(ret));
		*where = CERT_CONFIG;
		ret = C2S_OK;
	} else if (ret != C2S_OK) {
		admin_fail("the token refused to store the certificate: %s", c2s_err_message(ret));
	}
out:
	buf_free(&old);
	return ret;
}

/* Appends one certificate as PEM. */
static c2s_err cert_pem_put(struct buf *pem, const mbedtls_x509_crt *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	size_t cap = c->raw.len * 2 + 128, olen = 0;
	unsigned char *one = malloc(cap);
	ENSURE(one, C2S_ERR_NOMEM);
	ENSURE(mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	                                "-----END CERTIFICATE-----\n", c->raw.p, c->raw.len, one,
	                                cap, &olen) == 0 &&
	           olen > 0,
	       C2S_ERR_INTERNAL);
	GUARD(buf_put(pem, one, olen - 1));
out:
	free(one);
	return ret;
}

/* Writes `leaf` (if not NULL) followed by the issuers as PEM to [seal] chain; *n counts the
 * issuers. */
static c2s_err cert_write_chain(const char *path, const mbedtls_x509_crt *leaf,
                                const mbedtls_x509_crt *chain, size_t *n)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf pem;
	buf_init(&pem, CERT_CHAIN_PEM);
	*n = 0;
	if (leaf)
		GUARD(cert_pem_put(&pem, leaf));
	for (const mbedtls_x509_crt *c = chain; c; c = c->next) {
		GUARD(cert_pem_put(&pem, c));
		(*n)++;
	}
	ret = admin_write_file(path, pem.data, pem.len, 0644);
out:
	if (ret != C2S_OK && ret != C2S_ERR_IO)
		admin_fail("cannot encode the chain: %s", c2s_err_message(ret));
	buf_free(&pem);
	return ret;
}

struct cert_args {
	const char *key, *cert, *chain;
};

/* Loads the leaf and its issuers (--chain, or the rest of the leaf file). */
static c2s_err cert_load(const struct cert_args *ca, mbedtls_x509_crt *leafs,
                         mbedtls_x509_crt *chainf, mbedtls_x509_crt **chain)
{
	c2s_err ret = C2S_ERR_X509;
	*chain = NULL;
	GUARD(cert_parse_file(ca->cert, "--cert", leafs));
	if (ca->chain) {
		GUARD(cert_parse_file(ca->chain, "--chain", chainf));
		*chain = chainf;
		if (cert_same(*chain, leafs)) /* chain file that starts with the leaf */
			*chain = (*chain)->next;
	} else {
		*chain = leafs->next;
	}
	GUARD(cert_validity(leafs));
	GUARD(cert_chain_check(leafs, *chain));
out:
	return ret;
}

/* Whether k is the configured [seal] key (same public key). */
static int cert_is_seal_key(struct admin *a, struct hsm *h, const uint8_t *spki, size_t len)
{
	struct hsm_key *seal = NULL;
	char why[HSM_WHY];
	if (!a->cfg.seal_key[0] ||
	    hsm_key_find(h, a->cfg.seal_key, &seal, why, sizeof(why)) != C2S_OK)
		return 0;
	int is = cert_key_matches(h, seal, spki, len);
	hsm_key_free(seal);
	return is;
}

/* [seal] chain after the leaf is in place: the issuers (token holds the leaf) or, for a card,
 * the leaf followed by the issuers (the daemon takes a leaf from the chain file when the
 * card cannot hold it). */
static c2s_err cert_chain_update(struct admin *a, const struct hsm_key_info *ki, int is_seal,
                                 int card, enum cert_where where, const mbedtls_x509_crt *leaf,
                                 const mbedtls_x509_crt *chain)
{
	size_t n = 0;
	int with_leaf = card || where == CERT_CONFIG;
	if (!is_seal) {
		printf("key '%s' is not the [seal] key '%s'; no chain file written\n", ki->label,
		       a->cfg.seal_key);
		return C2S_OK;
	}
	if (!a->cfg.seal_chain[0]) {
		printf("note: [seal] chain is not set in the config; %s not written\n",
		       with_leaf ? "certificate and issuers" : "issuers");
		return C2S_OK;
	}
	if (!chain && !with_leaf) {
		printf("note: no issuers given (--chain); [seal] chain left unchanged\n");
		return C2S_OK;
	}
	if (cert_write_chain(a->cfg.seal_chain, with_leaf ? leaf : NULL, chain, &n) != C2S_OK)
		return C2S_ERR_IO;
	if (with_leaf)
		printf("wrote the certificate and %zu issuer certificate(s) to [seal] chain %s\n",
		       n, a->cfg.seal_chain);
	else
		printf("wrote %zu issuer certificate(s) to [seal] chain %s\n", n,
		       a->cfg.seal_chain);
	return C2S_OK;
}

/* Reports where the leaf went; fails when the token refused it and the config cannot hold
 * it either (not the [seal] key, or no [seal] chain). */
static c2s_err cert_report(struct admin *a, const struct hsm_key_info *ki, int is_seal,
                           enum cert_where where, const mbedtls_x509_crt *leaf, const char *why)
{
	char dn[CERT_DN_MAX], idhex[2 * HSM_MAX_ID + 1];
	cert_subject(leaf, dn, sizeof(dn));
	admin_hex(ki->id, ki->id_len, idhex, sizeof(idhex));
	if (where != CERT_CONFIG) {
		printf("certificate %s %s in the token with key '%s' (id %s)\n", dn,
		       where == CERT_ALREADY ? "was already stored" : "stored", ki->label, idhex);
		return C2S_OK;
	}
	if (!is_seal || !a->cfg.seal_chain[0]) {
		admin_fail("certificate %s was not stored: %s; only the [seal] key's certificate "
		           "can be kept in [seal] chain instead%s",
		           dn, why, is_seal ? " (set [seal] chain in the config)" : "");
		return C2S_ERR_ARG;
	}
	printf("note: certificate %s is not on the token: %s. It is kept in the appliance's "
	       "config instead: [seal] chain %s holds it first, then its issuers\n",
	       dn, why, a->cfg.seal_chain);
	return C2S_OK;
}

static int cert_import(struct admin *a, const struct cert_args *ca)
{
	int rc = ADMIN_EXIT_FAIL;
	mbedtls_x509_crt leafs, chainf, *chain = NULL;
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	struct hsm_key_info ki;
	struct hsm_token_info ti;
	enum cert_where where = CERT_STORED;
	uint8_t spki[ADMIN_SPKI_MAX];
	size_t spki_len = 0;
	char why[HSM_WHY * 2] = "";
	mbedtls_x509_crt_init(&leafs);
	mbedtls_x509_crt_init(&chainf);
	if (admin_config_load(a, 0) != C2S_OK || cert_load(ca, &leafs, &chainf, &chain) != C2S_OK ||
	    cert_spki(&leafs, spki, &spki_len) != C2S_OK || admin_hsm_open(a, 1, &h) != C2S_OK ||
	    cert_find_key(h, ca->key, &leafs, spki, spki_len, &k) != C2S_OK)
		goto out;
	if (hsm_key_get_info(h, k, &ki) != C2S_OK) {
		admin_fail("cannot read the key's attributes from the token");
		goto out;
	}
	int card = hsm_token_info(h, &ti) == C2S_OK && ti.removable;
	if (cert_store(h, k, &ki, &leafs, card, &where, why, sizeof(why)) != C2S_OK)
		goto out;
	int is_seal = cert_is_seal_key(a, h, spki, spki_len);
	if (cert_report(a, &ki, is_seal, where, &leafs, why) != C2S_OK ||
	    cert_chain_update(a, &ki, is_seal, card, where, &leafs, chain) != C2S_OK)
		goto out;
	rc = ADMIN_EXIT_OK;
out:
	if (k)
		hsm_key_free(k);
	if (h)
		hsm_close(h);
	mbedtls_x509_crt_free(&leafs);
	mbedtls_x509_crt_free(&chainf);
	return rc;
}

int admin_cmd_cert(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {
	    {.name = "key", .has_arg = 1},
	    {.name = "cert", .has_arg = 1, .required = 1},
	    {.name = "chain", .has_arg = 1},
	};
	const char *pos[1];
	size_t n_pos;
	if (argc < 1 || strcmp(argv[0], "import") != 0)
		return admin_usage_fail("cert", "expected `cert import`");
	int rc = admin_opts_parse(a, "cert import", argc - 1, argv + 1, opts, 3, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	struct cert_args ca = {.key = opts[0].val, .cert = opts[1].val, .chain = opts[2].val};
	return cert_import(a, &ca);
}
