/* Short-lived signer certificates (firmware/keyholder/issue.c). A test PKI made with openssl
 * in a mkdtemp directory (root -> issuing CA with a subjectKeyIdentifier, EC P-256 and
 * RSA-3072); the issuing CA's key signs through a callback backed by an mbedTLS key loaded
 * from there, and in the last test through SoftHSM2 with the customer's key generated in the
 * token. Issued certificates are checked by openssl (verify -x509_strict, x509 -text), every
 * refusal with its code, the field named in `why` and no certificate handed out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "firmware/keyholder/issue_int.h"
#include "firmware/pades/pades.h"
#include "hsm_test_common.h"
#include "test_shell.h"

#define T_LIFETIME 900 /* the SAD's lifetime */
#define SPKI_BUF   4096

/* One test PKI: root -> issuing CA, and a customer key (its SPKI). */
struct pki {
	const char *name; /* "ec" or "rsa" */
	char dir[PATH_MAX];
	mbedtls_pk_context ca_key, root_key;
	uint8_t ca_der[ISSUE_CERT_MAX], spki[SPKI_BUF];
	size_t ca_der_len, spki_len;
	enum cms_sig sig;
	enum cms_hash hash;
};

static char t_dir[] = "/tmp/c2s-issue-XXXXXX";
static struct pki t_pki[2] = {{.name = "ec", .sig = CMS_SIG_ECDSA, .hash = CMS_SHA256},
                              {.name = "rsa", .sig = CMS_SIG_RSA_PKCS1, .hash = CMS_SHA256}};
static mbedtls_entropy_context t_entropy;
static mbedtls_ctr_drbg_context t_drbg;

static size_t t_read(const char *path, uint8_t *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(out, 1, cap, f);
	assert_true(feof(f) && n < cap);
	fclose(f);
	return n;
}

static void t_write(const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	fclose(f);
}

/* root (self-signed, SKI) -> issuing CA (SKI, AKI, pathlen 0), customer key; keys PKCS#8. */
static int t_make_pki(struct pki *p)
{
	const char *k = strcmp(p->name, "ec") == 0 ? "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
	                                           : "-newkey rsa:3072";
	const char *g = strcmp(p->name, "ec") == 0
	                    ? "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
	                    : "-algorithm RSA -pkeyopt rsa_keygen_bits:2048";
	char path[PATH_MAX + 32];
	snprintf(p->dir, sizeof(p->dir), "%s/%s", t_dir, p->name);
	if (run("set -e; mkdir -p %s; cd %s\n"
	        "printf '[ca]\\nbasicConstraints=critical,CA:TRUE,pathlen:0\\n"
	        "keyUsage=critical,keyCertSign,cRLSign\\nsubjectKeyIdentifier=hash\\n"
	        "authorityKeyIdentifier=keyid\\n' >ext.cnf\n"
	        "openssl req -x509 %s -nodes -keyout root.key -out root.pem -days 3650 "
	        "-subj '/C=SI/O=Click2Sign Test/CN=Issue Test Root' "
	        "-addext basicConstraints=critical,CA:TRUE "
	        "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null\n"
	        "openssl req -new %s -nodes -keyout ca.key -out ca.csr "
	        "-subj '/C=SI/O=Click2Sign Test/CN=Issue Test Issuing CA' 2>/dev/null\n"
	        "openssl x509 -req -in ca.csr -CA root.pem -CAkey root.key -set_serial 2 "
	        "-days 1825 -extfile ext.cnf -extensions ca -out ca.pem 2>/dev/null\n"
	        "openssl x509 -in ca.pem -outform DER -out ca.der\n"
	        "openssl genpkey %s -out subj.key\n"
	        "openssl pkey -in subj.key -pubout -outform DER -out subj.spki\n"
	        "openssl req -new -x509 -key subj.key -subj /CN=ref -days 1 "
	        "-addext subjectKeyIdentifier=hash -out ref.pem\n",
	        p->dir, p->dir, k, k, g) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ca.der", p->dir);
	p->ca_der_len = t_read(path, p->ca_der, sizeof(p->ca_der));
	snprintf(path, sizeof(path), "%s/subj.spki", p->dir);
	p->spki_len = t_read(path, p->spki, sizeof(p->spki));
	mbedtls_pk_init(&p->ca_key);
	mbedtls_pk_init(&p->root_key);
	snprintf(path, sizeof(path), "%s/ca.key", p->dir);
	if (mbedtls_pk_parse_keyfile(&p->ca_key, path, NULL) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/root.key", p->dir);
	return mbedtls_pk_parse_keyfile(&p->root_key, path, NULL) != 0 ? -1 : 0;
}

static int t_setup(void **state)
{
	(void)state;
	mbedtls_entropy_init(&t_entropy);
	mbedtls_ctr_drbg_init(&t_drbg);
	if (mbedtls_ctr_drbg_seed(&t_drbg, mbedtls_entropy_func, &t_entropy,
	                          (const unsigned char *)"issue_test", 10) != 0 ||
	    mkdtemp(t_dir) == NULL)
		return -1;
	for (size_t i = 0; i < 2; i++)
		if (t_make_pki(&t_pki[i]) != 0)
			return -1;
	return 0;
}

static int t_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		mbedtls_pk_free(&t_pki[i].ca_key);
		mbedtls_pk_free(&t_pki[i].root_key);
	}
	mbedtls_ctr_drbg_free(&t_drbg);
	mbedtls_entropy_free(&t_entropy);
	run("rm -rf %s", t_dir);
	return 0;
}

/* issue_sign_cb over an mbedTLS key (DER ECDSA, like hsm_sign). */
static c2s_err t_sign(void *ctx, const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *sig_len)
{
	mbedtls_md_type_t md = dlen == 32 ? MBEDTLS_MD_SHA256 : MBEDTLS_MD_SHA384;
	if (*sig_len < MBEDTLS_PK_SIGNATURE_MAX_SIZE)
		return C2S_ERR_ARG;
	return mbedtls_pk_sign(ctx, md, digest, dlen, sig, sig_len, mbedtls_ctr_drbg_random,
	                       &t_drbg) == 0
	           ? C2S_OK
	           : C2S_ERR_HSM;
}

/* A callback that signs correctly and then damages the last byte. */
static c2s_err t_sign_flip(void *ctx, const uint8_t *digest, size_t dlen, uint8_t *sig,
                           size_t *sig_len)
{
	c2s_err r = t_sign(ctx, digest, dlen, sig, sig_len);
	sig[*sig_len - 1] ^= 0x01;
	return r;
}

/* An ECDSA callback that breaks the contract: raw r||s instead of DER. */
static c2s_err t_sign_raw(void *ctx, const uint8_t *digest, size_t dlen, uint8_t *sig,
                          size_t *sig_len)
{
	uint8_t der[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t n = sizeof(der);
	c2s_err r = t_sign(ctx, digest, dlen, der, &n);
	mbedtls_mpi rr, ss;
	unsigned char *p = der;
	size_t len = 0;
	mbedtls_mpi_init(&rr);
	mbedtls_mpi_init(&ss);
	assert_int_equal(mbedtls_asn1_get_tag(&p, der + n, &len, 0x30), 0);
	assert_int_equal(mbedtls_asn1_get_mpi(&p, der + n, &rr), 0);
	assert_int_equal(mbedtls_asn1_get_mpi(&p, der + n, &ss), 0);
	assert_int_equal(mbedtls_mpi_write_binary(&rr, sig, 32), 0);
	assert_int_equal(mbedtls_mpi_write_binary(&ss, sig + 32, 32), 0);
	*sig_len = 64;
	mbedtls_mpi_free(&rr);
	mbedtls_mpi_free(&ss);
	return r;
}

static c2s_err t_sign_removed(void *ctx, const uint8_t *digest, size_t dlen, uint8_t *sig,
                              size_t *sig_len)
{
	(void)ctx, (void)digest, (void)dlen, (void)sig, (void)sig_len;
	return C2S_ERR_HSM_REMOVED;
}

static struct issue_req t_req(const struct pki *p, int64_t now)
{
	struct issue_req rq = {
	    .subject = {.given_name = "Živa",
	                .surname = "Čeh",
	                .serial_number = "C2S-7F3A9",
	                .country = "SI"},
	    .spki = p->spki,
	    .spki_len = p->spki_len,
	    .issuer_cert = p->ca_der,
	    .issuer_cert_len = p->ca_der_len,
	    .not_before = now - ISSUE_BACKDATE_S,
	    .not_after = now + T_LIFETIME,
	    .sig = p->sig,
	    .hash = p->hash,
	};
	assert_int_equal(issue_serial_draw(rq.serial), C2S_OK);
	return rq;
}

/* The whole output of a shell command. */
static void t_capture(char *out, size_t cap, const char *cmd)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
}

/* The hex value on the line after `label` in openssl's -ext output ("AB:CD:..."). */
static void t_ext_value(const char *pem, const char *ext, char *out, size_t cap)
{
	char cmd[PATH_MAX + 128], text[1024];
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -ext %s", pem, ext);
	t_capture(text, sizeof(text), cmd);
	char *nl = strchr(text, '\n');
	assert_non_null(nl);
	nl += strspn(nl, "\n ");
	if (strncmp(nl, "keyid:", 6) == 0)
		nl += 6;
	snprintf(out, cap, "%.*s", (int)strcspn(nl, "\n"), nl);
	assert_true(strlen(out) == 59); /* 20 bytes as XX: */
}

/* openssl verifies the chain and shows what the certificate says. */
static void t_check_with_openssl(const struct pki *p, const struct issue_req *rq,
                                 const struct buf *der)
{
	char path[PATH_MAX + 32], cmd[4 * PATH_MAX], text[16384], want[256], ski[64], ref[64];
	snprintf(path, sizeof(path), "%s/leaf.der", p->dir);
	t_write(path, der);
	assert_int_equal(run("cd %s && openssl x509 -inform DER -in leaf.der -out leaf.pem && "
	                     "openssl verify -x509_strict -CAfile root.pem -untrusted ca.pem "
	                     "leaf.pem >/dev/null",
	                     p->dir),
	                 0);
	snprintf(
	    cmd, sizeof(cmd),
	    "cd %s && openssl x509 -in leaf.pem -noout -text -nameopt utf8,sep_comma_plus_space",
	    p->dir);
	t_capture(text, sizeof(text), cmd);
	if (getenv("ISSUE_TEST_SHOW"))
		fputs(text, stdout);
	assert_non_null(strstr(text, "Version: 3 (0x2)"));
	assert_non_null(
	    strstr(text, "Subject: C=SI, GN=Živa, SN=Čeh, CN=Živa Čeh, serialNumber=C2S-7F3A9\n"));
	assert_non_null(
	    strstr(text, "Issuer: C=SI, O=Click2Sign Test, CN=Issue Test Issuing CA\n"));
	assert_non_null(strstr(text, p->sig == CMS_SIG_ECDSA
	                                 ? "Signature Algorithm: ecdsa-with-SHA256"
	                                 : "Signature Algorithm: "
	                                   "sha256WithRSAEncryption"));
	assert_non_null(strstr(text, "X509v3 Key Usage: critical\n"
	                             "                Digital Signature, Non Repudiation\n"));
	assert_non_null(
	    strstr(text, "X509v3 Basic Constraints: critical\n                CA:FALSE\n"));
	assert_null(strstr(text, "Extended Key Usage"));
	char stamp[32];
	time_t t = (time_t)rq->not_before;
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S %Y GMT", gmtime(&t));
	snprintf(want, sizeof(want), "Not Before: %s\n", stamp);
	assert_non_null(strstr(text, want));
	t = (time_t)rq->not_after;
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S %Y GMT", gmtime(&t));
	snprintf(want, sizeof(want), "Not After : %s\n", stamp);
	assert_non_null(strstr(text, want));
	/* serial: the 16 bytes as given */
	char *s = strstr(text, "Serial Number:\n");
	assert_non_null(s);
	s += strlen("Serial Number:\n");
	s += strspn(s, " ");
	for (size_t i = 0; i < ISSUE_SERIAL_LEN; i++, s += 3) {
		snprintf(want, sizeof(want), "%02x", rq->serial[i]);
		assert_memory_equal(s, want, 2);
	}
	/* SKI = what openssl computes for the same key; AKI = the issuing CA's SKI */
	snprintf(path, sizeof(path), "%s/leaf.pem", p->dir);
	t_ext_value(path, "subjectKeyIdentifier", ski, sizeof(ski));
	snprintf(path, sizeof(path), "%s/ref.pem", p->dir);
	t_ext_value(path, "subjectKeyIdentifier", ref, sizeof(ref));
	assert_string_equal(ski, ref);
	snprintf(path, sizeof(path), "%s/leaf.pem", p->dir);
	t_ext_value(path, "authorityKeyIdentifier", ski, sizeof(ski));
	snprintf(path, sizeof(path), "%s/ca.pem", p->dir);
	t_ext_value(path, "subjectKeyIdentifier", ref, sizeof(ref));
	assert_string_equal(ski, ref);
}

static void t_issue_and_check(struct pki *p)
{
	char why[512] = "";
	struct buf der;
	buf_init(&der, ISSUE_CERT_MAX);
	struct issue_req rq = t_req(p, (int64_t)time(NULL));
	assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)), C2S_OK);
	t_check_with_openssl(p, &rq, &der);
	buf_free(&der);
}

static void test_issue_ec(void **state)
{
	(void)state;
	t_issue_and_check(&t_pki[0]);
}

static void test_issue_rsa(void **state)
{
	(void)state;
	t_issue_and_check(&t_pki[1]);
}

/* Names: what is refused names the field; characters are counted, not bytes. */
static void test_names(void **state)
{
	(void)state;
	struct pki *p = &t_pki[0];
	char z64[64 * 2 + 1] = "", z65[65 * 2 + 1] = "", why[512];
	for (int i = 0; i < 64; i++)
		memcpy(z64 + 2 * i, "Ž", 3); /* 2 bytes and the NUL */
	snprintf(z65, sizeof(z65), "%sŽ", z64);
	static const struct {
		const char *given, *surname, *cn, *serial, *country, *field;
	} bad[] = {
	    {"", "Čeh", NULL, NULL, NULL, "given name"},
	    {NULL, "Čeh", NULL, NULL, NULL, "given name"},
	    {"Živa", NULL, NULL, NULL, NULL, "surname"},
	    {"Živa", "\xc3\x28", NULL, NULL, NULL, "surname"},           /* broken sequence */
	    {"Živa", "\xc0\xaf", NULL, NULL, NULL, "surname"},           /* overlong '/' */
	    {"Živa", "\xed\xa0\x80", NULL, NULL, NULL, "surname"},       /* surrogate */
	    {"Živa", "Če\xc5", NULL, NULL, NULL, "surname"},             /* truncated */
	    {"Ži\x01va", "Čeh", NULL, NULL, NULL, "given name"},         /* C0 control */
	    {"Živa", "Če\xc2\x85h", NULL, NULL, NULL, "surname"},        /* C1 control (NEL) */
	    {"Živa\xe2\x80\xae", "Čeh", NULL, NULL, NULL, "given name"}, /* bidi override */
	    {" Živa", "Čeh", NULL, NULL, NULL, "given name"},
	    {"Živa", "Čeh ", NULL, NULL, NULL, "surname"},
	    {"Živa", "Čeh", "", NULL, NULL, "common name"},
	    {"Živa", "Čeh", NULL, "Č-1", NULL, "serial number"},
	    {"Živa", "Čeh", NULL, "", NULL, "serial number"},
	    {"Živa", "Čeh", NULL, NULL, "si", "country"},
	    {"Živa", "Čeh", NULL, NULL, "SVN", "country"},
	};
	struct buf der;
	buf_init(&der, ISSUE_CERT_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct issue_req rq = t_req(p, (int64_t)time(NULL));
		rq.subject = (struct issue_subject){bad[i].given, bad[i].surname, bad[i].cn,
		                                    bad[i].serial, bad[i].country};
		why[0] = '\0';
		assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)),
		                 C2S_ERR_ARG);
		if (strstr(why, bad[i].field) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, why, bad[i].field);
		assert_int_equal(der.len, 0);
	}
	/* 65 characters (130 bytes) refused, 64 accepted; the CN of both would be longer */
	struct issue_req rq = t_req(p, (int64_t)time(NULL));
	rq.subject.surname = z65;
	rq.subject.common_name = "Živa Čeh";
	assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)), C2S_ERR_ARG);
	assert_non_null(strstr(why, "surname is longer than 64 characters"));
	rq.subject.surname = z64;
	assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)), C2S_OK);
	rq.subject.common_name = NULL; /* "Živa " + 64 characters */
	assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)), C2S_ERR_ARG);
	assert_non_null(strstr(why, "common name (given name and surname)"));
	/* decomposed input (Z + combining caron) comes out composed; optional fields absent */
	rq = t_req(p, (int64_t)time(NULL));
	rq.subject = (struct issue_subject){.given_name = "Z\xcc\x8civa",
	                                    .surname = "C\xcc\x8c"
	                                               "eh"};
	assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)), C2S_OK);
	mbedtls_x509_crt c;
	char dn[256];
	mbedtls_x509_crt_init(&c);
	assert_int_equal(mbedtls_x509_crt_parse_der(&c, der.data, der.len), 0);
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &c.subject) > 0);
	/* mbedTLS prints non-ASCII bytes as '?': 2 bytes per composed letter, 3 if not */
	assert_string_equal(dn, "GN=??iva, SN=??eh, CN=??iva ??eh");
	assert_memory_equal(c.subject.val.p, "Živa", strlen("Živa"));
	assert_int_equal(c.subject.val.tag, MBEDTLS_ASN1_UTF8_STRING);
	mbedtls_x509_crt_free(&c);
	buf_free(&der);
}

/* issue_cert refuses rq with `code` and a reason containing `part`; no certificate. */
static void t_refused(const struct issue_req *rq, issue_sign_cb sign, void *ctx, c2s_err code,
                      const char *part)
{
	char why[512] = "";
	struct buf der;
	buf_init(&der, ISSUE_CERT_MAX);
	assert_int_equal(buf_put(&der, "x", 1), C2S_OK); /* emptied on failure */
	c2s_err r = issue_cert(rq, sign, ctx, &der, why, sizeof(why));
	if (r != code || strstr(why, part) == NULL)
		fail_msg("got %s \"%s\", want %s \"%s\"", c2s_err_name(r), why, c2s_err_name(code),
		         part);
	assert_int_equal(der.len, 0);
	buf_free(&der);
}

/* Validity, serial, algorithm, key and issuer refusals. */
static void test_refusals(void **state)
{
	(void)state;
	struct pki *p = &t_pki[0];
	uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	int64_t now = (int64_t)time(NULL);
	struct issue_req rq = t_req(p, now);
	rq.not_after = rq.not_before;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "not_after");
	rq.not_after = rq.not_before - 1;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "not_after");
	rq = t_req(p, now);
	rq.not_after = rq.not_before + ISSUE_LIFETIME_MAX + 1;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "short-lived");
	rq = t_req(p, now + 1900LL * 86400); /* the issuing CA expires after 1825 days */
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "ends after the issuing CA certificate's");
	rq = t_req(p, now);
	rq.serial[0] = 0x80;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "serial number");
	rq.serial[0] = 0x00;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "serial number");
	rq = t_req(p, now);
	rq.sig = CMS_SIG_RSA_PKCS1;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "does not fit the issuing CA");
	rq = t_req(p, now);
	rq.hash = CMS_SHA512;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "signature algorithm");
	rq = t_req(p, now);
	rq.spki = junk;
	rq.spki_len = sizeof(junk);
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "subject public key");
	rq.spki_len = 0;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "subject public key");
	rq = t_req(p, now);
	rq.issuer_cert_len = p->ca_der_len - 1; /* truncated: does not parse */
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_X509, "does not parse");
	rq.issuer_cert = junk;
	rq.issuer_cert_len = sizeof(junk);
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_X509, "does not parse");
	mbedtls_x509_crt ca;
	mbedtls_x509_crt_init(&ca);
	assert_int_equal(mbedtls_x509_crt_parse_der(&ca, p->ca_der, p->ca_der_len), 0);
	rq = t_req(p, now);
	rq.spki = ca.pk_raw.p;
	rq.spki_len = ca.pk_raw.len;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_ARG, "the issuing CA's own key");
	mbedtls_x509_crt_free(&ca);
	/* an issued certificate is no issuer: not a CA */
	char why[512];
	struct buf leaf;
	buf_init(&leaf, ISSUE_CERT_MAX);
	rq = t_req(p, now);
	assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &leaf, why, sizeof(why)), C2S_OK);
	rq.issuer_cert = leaf.data;
	rq.issuer_cert_len = leaf.len;
	t_refused(&rq, t_sign, &p->ca_key, C2S_ERR_X509, "not a CA");
	buf_free(&leaf);
	rq = t_req(p, now);
	t_refused(&rq, NULL, NULL, C2S_ERR_ARG, "signer");
	assert_int_equal(issue_cert(NULL, t_sign, NULL, NULL, NULL, 0), C2S_ERR_ARG);
}

/* The self-check: a signature that does not verify with the issuer's key is never handed
 * out; a failing signer's code comes back. */
static void test_bad_signatures(void **state)
{
	(void)state;
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < 2; i++) {
		struct pki *p = &t_pki[i];
		struct issue_req rq = t_req(p, now);
		/* the root's key instead of the issuing CA's */
		t_refused(&rq, t_sign, &p->root_key, C2S_ERR_CERT_MISMATCH, "does not verify");
		t_refused(&rq, t_sign_flip, &p->ca_key, C2S_ERR_CERT_MISMATCH, "does not verify");
		t_refused(&rq, t_sign_removed, &p->ca_key, C2S_ERR_HSM_REMOVED,
		          "did not sign the certificate");
	}
	struct issue_req rq = t_req(&t_pki[0], now);
	t_refused(&rq, t_sign_raw, &t_pki[0].ca_key, C2S_ERR_CERT_MISMATCH, "ECDSA must be DER");
}

static void test_serial_draw(void **state)
{
	(void)state;
	uint8_t a[ISSUE_SERIAL_LEN], b[ISSUE_SERIAL_LEN];
	unsigned seen_or = 0, seen_and = 0xff;
	assert_int_equal(issue_serial_draw(b), C2S_OK);
	for (int i = 0; i < 256; i++) {
		assert_int_equal(issue_serial_draw(a), C2S_OK);
		assert_true(a[0] >= 0x40 && a[0] <= 0x7f);
		assert_memory_not_equal(a, b, sizeof(a));
		seen_or |= a[0];
		seen_and &= a[0];
		memcpy(b, a, sizeof(a));
	}
	assert_int_equal(seen_or, 0x7f); /* every low bit of the first byte is random */
	assert_int_equal(seen_and, 0x40);
}

/* Issuance time with a software key (the token's signature time comes on top). */
static void test_timing(void **state)
{
	(void)state;
	char why[512];
	for (size_t i = 0; i < 2; i++) {
		struct pki *p = &t_pki[i];
		struct buf der;
		buf_init(&der, ISSUE_CERT_MAX);
		struct issue_req rq = t_req(p, (int64_t)time(NULL));
		double t0 = t_now();
		for (int k = 0; k < 50; k++)
			assert_int_equal(
			    issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)), C2S_OK);
		printf("issue_cert %s: %.2f ms per certificate (software key, %zu bytes)\n",
		       p->name, (t_now() - t0) * 1000 / 50, der.len);
		buf_free(&der);
	}
}

/* pades_sign_cb with the customer's key (what the keyholder does with the token key). */
static c2s_err t_pades_sign(void *ctx, const uint8_t *attrs, size_t n, uint8_t *sig,
                            size_t *sig_len)
{
	uint8_t h[32], tmp[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t tmp_len = sizeof(tmp);
	if (cms_hash_buf(CMS_SHA256, attrs, n, h) != C2S_OK ||
	    t_sign(ctx, h, sizeof(h), tmp, &tmp_len) != C2S_OK || tmp_len > *sig_len)
		return C2S_ERR_CMS;
	memcpy(sig, tmp, tmp_len);
	*sig_len = tmp_len;
	return C2S_OK;
}

/* The issued certificate as the signer certificate of a PAdES B-B signature: pdfsig (NSS,
 * trusting only the root), qpdf and openssl cms accept it (tests/tools/validate_pdf.sh). */
static void test_pades_pdfsig(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	char why[512] = "", path[PATH_MAX + 32], text[8192], cmd[2 * PATH_MAX];
	assert_non_null(src);
	assert_int_equal(run("cd %s && printf '%%%%!PS\\n/Helvetica findfont 20 scalefont setfont "
	                     "72 720 moveto (Pogodba) show showpage\\n' >doc.ps && "
	                     "ps2pdf doc.ps doc.pdf",
	                     t_dir),
	                 0);
	snprintf(path, sizeof(path), "%s/doc.pdf", t_dir);
	static uint8_t pdf[1 << 16];
	size_t pdf_len = t_read(path, pdf, sizeof(pdf));
	for (size_t i = 0; i < 2; i++) {
		struct pki *p = &t_pki[i];
		mbedtls_pk_context subj;
		struct buf der;
		struct pades_result res;
		buf_init(&der, ISSUE_CERT_MAX);
		mbedtls_pk_init(&subj);
		snprintf(path, sizeof(path), "%s/subj.key", p->dir);
		assert_int_equal(mbedtls_pk_parse_keyfile(&subj, path, NULL), 0);
		int64_t now = (int64_t)time(NULL);
		struct issue_req rq = t_req(p, now);
		assert_int_equal(issue_cert(&rq, t_sign, &p->ca_key, &der, why, sizeof(why)),
		                 C2S_OK);
		struct cms_signer signer = {
		    .cert = der.data,
		    .cert_len = der.len,
		    .chain = {p->ca_der},
		    .chain_len = {p->ca_der_len},
		    .n_chain = 1,
		    .hash = CMS_SHA256,
		    .sig = mbedtls_pk_get_type(&subj) == MBEDTLS_PK_RSA ? CMS_SIG_RSA_PKCS1
		                                                        : CMS_SIG_ECDSA,
		};
		struct pades_request r = {
		    .level = PADES_B_B,
		    .signer = &signer,
		    .sig_max = 512,
		    .sign = t_pades_sign,
		    .sign_ctx = &subj,
		    .params = {.name = "Živa Čeh",
		               .reason = "Podpis pogodbe",
		               .when = (time_t)now,
		               .field_name = "Signature1"},
		};
		c2s_err rc = pades_sign(pdf, pdf_len, &r, &res, why, sizeof(why));
		if (rc != C2S_OK)
			fail_msg("pades_sign %s: %s: %s", p->name, c2s_err_name(rc), why);
		snprintf(path, sizeof(path), "%s/signed.pdf", p->dir);
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(pdf, 1, pdf_len, f), pdf_len);
		assert_int_equal(fwrite(res.update.data, 1, res.update.len, f), res.update.len);
		assert_int_equal(fclose(f), 0);
		if (run("bash %s/tests/tools/validate_pdf.sh --level B-B %s %s/doc.pdf %s/root.pem "
		        ">%s/validate.log 2>&1",
		        src, path, t_dir, p->dir, p->dir) != 0) {
			run("cat %s/validate.log >&2", p->dir);
			fail_msg("validate_pdf.sh refused the signature with the %s certificate",
			         p->name);
		}
		snprintf(cmd, sizeof(cmd), "pdfsig %s", path);
		t_capture(text, sizeof(text), cmd);
		assert_non_null(strstr(text, "Signer Certificate Common Name: Živa Čeh\n"));
		pades_result_free(&res);
		mbedtls_pk_free(&subj);
		buf_free(&der);
	}
}

/* End to end with the token: the issuing CA's key imported into SoftHSM2, the customer's key
 * generated there (session object, as per order), issue_hsm_setup/issue_hsm_sign. */
static void test_softhsm(void **state)
{
	(void)state;
	char why[512];
	struct t_env e;
	struct hsm *h = NULL;
	t_env_init(&e, NULL);
	assert_int_equal(hsm_token_init(&e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)),
	                 C2S_OK);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(
		    run("softhsm2-util --import %s/ca.key --token c2s-test --label ca-%s "
		        "--id 0%zu --pin %s >/dev/null",
		        t_pki[i].dir, t_pki[i].name, i + 1, T_PIN),
		    0);
	assert_int_equal(hsm_open(&e.cfg, &h, why, sizeof(why)), C2S_OK);
	for (size_t i = 0; i < 2; i++) {
		struct pki *p = &t_pki[i];
		char label[32];
		struct hsm_key *ca = NULL, *subj = NULL;
		struct hsm_keygen g = {.type = HSM_KEY_EC,
		                       .curve = HSM_CURVE_P256,
		                       .label = "signer-order-1",
		                       .session_only = 1};
		struct buf spki, der;
		struct issue_hsm ctx;
		buf_init(&spki, SPKI_BUF);
		buf_init(&der, ISSUE_CERT_MAX);
		snprintf(label, sizeof(label), "ca-%s", p->name);
		assert_int_equal(hsm_key_find(h, label, &ca, why, sizeof(why)), C2S_OK);
		assert_int_equal(hsm_key_generate(h, &g, &subj, why, sizeof(why)), C2S_OK);
		assert_int_equal(hsm_key_spki(h, subj, &spki), C2S_OK);
		struct issue_req rq = t_req(p, (int64_t)time(NULL));
		rq.sig = 0, rq.hash = 0; /* chosen from the token's key */
		rq.spki = spki.data;
		rq.spki_len = spki.len;
		assert_int_equal(issue_hsm_setup(&ctx, h, ca, &rq), C2S_OK);
		assert_int_equal(rq.sig, p->sig);
		assert_int_equal(rq.hash, CMS_SHA256);
		double t0 = t_now();
		assert_int_equal(issue_cert(&rq, issue_hsm_sign, &ctx, &der, why, sizeof(why)),
		                 C2S_OK);
		printf("issue_cert %s through SoftHSM2: %.2f ms\n", p->name, (t_now() - t0) * 1000);
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/leaf.der", p->dir);
		t_write(path, &der);
		assert_int_equal(
		    run("cd %s && openssl x509 -inform DER -in leaf.der -out leaf.pem && "
		        "openssl verify -x509_strict -CAfile root.pem -untrusted ca.pem "
		        "leaf.pem >/dev/null",
		        p->dir),
		    0);
		/* the certificate's key is the token's signer key: it verifies the key's signature
		 */
		uint8_t digest[32] = {1, 2, 3}, sig[HSM_MAX_SIG];
		size_t sig_len = sizeof(sig);
		mbedtls_x509_crt c;
		mbedtls_x509_crt_init(&c);
		assert_int_equal(mbedtls_x509_crt_parse_der(&c, der.data, der.len), 0);
		assert_int_equal(
		    hsm_sign(h, subj, HSM_MECH_ECDSA, HSM_HASH_SHA256, digest, 32, sig, &sig_len),
		    C2S_OK);
		assert_int_equal(
		    mbedtls_pk_verify(&c.pk, MBEDTLS_MD_SHA256, digest, 32, sig, sig_len), 0);
		/* a digest of the wrong length never reaches the token */
		sig_len = sizeof(sig);
		assert_int_equal(issue_hsm_sign(&ctx, digest, 20, sig, &sig_len), C2S_ERR_ARG);
		mbedtls_x509_crt_free(&c);
		assert_int_equal(hsm_key_destroy(h, subj), C2S_OK);
		hsm_key_free(subj);
		hsm_key_free(ca);
		buf_free(&spki);
		buf_free(&der);
	}
	hsm_close(h);
	t_env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue_ec),       cmocka_unit_test(test_issue_rsa),
	    cmocka_unit_test(test_names),          cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_bad_signatures), cmocka_unit_test(test_serial_draw),
	    cmocka_unit_test(test_timing),         cmocka_unit_test(test_pades_pdfsig),
	    cmocka_unit_test(test_softhsm),
	};
	return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
