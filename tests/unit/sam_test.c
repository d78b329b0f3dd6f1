/* Sole control, at the keyholder's IPC: the real c2s-keyholder (exec'd from the built
 * click2signd, SoftHSM2 token in signer mode) is driven by a hostile web peer. Forged, expired
 * and replayed manifests, guessed codes, a keyholder killed between tries, signing without a SAD
 * or with another order's, documents outside the manifest, updates that change what was shown
 * and double signatures each get their precise refusal; the keyholder keeps serving; the
 * signatures it does make validate (pdfsig, openssl) and carry the subscriber's name. The test
 * is also the notify peer: it receives the SMS the keyholder sends. */
#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "test_shell.h"
#include "firmware/base/config.h"
#include "firmware/certs/jws.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/pades/cms.h"
#include "firmware/pades/midstate.h"
#include "firmware/orders/audit.h"
#include "firmware/pades/pdf.h"

#define NCH 6

static char dir[] = "/tmp/c2s-sam-test-XXXXXX";
static char conf[600], exe[600];
static pid_t kh_pid = -1;
static int parent_fd = -1, ch[NCH], notify_fd = -1;
static uint8_t *rx;
static struct config cfg;
static mbedtls_pk_context portal, stranger;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static uint8_t *doc[3];
static size_t doc_len[3];
static char doc_hex[3][65];
static int seq;

/* ---- the keyholder process ---- */

static int start_keyholder(void)
{
	int sv[2], nv[2], khfds[NCH];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, nv) != 0)
		return -1;
	kh_pid = fork();
	if (kh_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(sv[1], 3);
		close_range(4, ~0U, 0);
		execl(exe, "c2s-keyholder", "-c", conf, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	parent_fd = sv[0];
	for (int i = 0; i < NCH; i++) {
		int p[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p) != 0)
			return -1;
		ch[i] = p[0];
		khfds[i] = p[1];
	}
	uint8_t gen[4] = {0, 0, 0, 1};
	if (ipc_send_fds(parent_fd, IPC_CHANNELS, gen, 4, khfds, NCH) != C2S_OK ||
	    ipc_send_fds(parent_fd, IPC_NOTIFY_CHANNEL, NULL, 0, &nv[1], 1) != C2S_OK)
		return -1;
	for (int i = 0; i < NCH; i++)
		close(khfds[i]);
	close(nv[1]);
	notify_fd = nv[0];
	/* ready: the status says so */
	for (int i = 0; i < 300; i++) {
		struct ipc_msg m;
		struct khmsg_status st;
		if (ipc_send(ch[0], IPC_STATUS_REQ, NULL, 0) == C2S_OK &&
		    ipc_recv(ch[0], rx, &m, 5000) == C2S_OK && m.type == IPC_STATUS_RESP &&
		    khmsg_status_decode(&m.body, &st) == C2S_OK && st.state == C2S_OK)
			return 0;
		usleep(100000);
	}
	return -1;
}

static void stop_keyholder(int sig)
{
	if (kh_pid > 0) {
		kill(kh_pid, sig);
		waitpid(kh_pid, NULL, 0);
	}
	kh_pid = -1;
	close(parent_fd);
	close(notify_fd);
	for (int i = 0; i < NCH; i++)
		close(ch[i]);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)sz + 1);
	*n = p ? fread(p, 1, (size_t)sz, f) : 0;
	fclose(f);
	return p;
}

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR"), *bld = getenv("C2S_BUILD_DIR");
	char path[700];
	if (!src || !bld || !mkdtemp(dir))
		return -1;
	if (run("bash -c '. \"$0/tests/tools/appliance.sh\" && c2s_provision \"$1\" ec:p256 && "
	        "c2s_provision_signer \"$1\"' '%s' '%s' >%s.provision.log 2>&1",
	        src, dir, dir) != 0)
		return -1;
	/* as root, init gives the keyholder's store to c2s-keyholder (the user the daemon runs its
	 * child as); this test execs the keyholder itself, as root, which the store's owner check
	 * would refuse */
	if (geteuid() == 0 && run("chown -R 0:0 '%s/state/keyholder'", dir) != 0)
		return -1;
	/* three documents (Ghostscript) */
	for (int i = 0; i < 3; i++)
		if (run("printf '%%%%!PS\\n/Helvetica findfont 14 scalefont setfont 72 720 moveto "
		        "(Pogodba %d: Janez Novak) show showpage\\n' >%s/doc%d.ps && ps2pdf "
		        "%s/doc%d.ps %s/doc%d.pdf",
		        i, dir, i, dir, i, dir, i) != 0)
			return -1;
	for (int i = 0; i < 3; i++) {
		uint8_t h[32];
		snprintf(path, sizeof(path), "%s/doc%d.pdf", dir, i);
		doc[i] = slurp(path, &doc_len[i]);
		if (!doc[i] || mbedtls_sha256_ret(doc[i], doc_len[i], h, 0) != 0)
			return -1;
		for (int j = 0; j < 32; j++)
			snprintf(doc_hex[i] + 2 * j, 3, "%02x", h[j]);
	}
	snprintf(conf, sizeof(conf), "%s/c2s.conf", dir);
	if (config_load(conf, &cfg) != C2S_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
	setenv("SOFTHSM2_CONF", path, 1);
	snprintf(exe, sizeof(exe), "%s/click2signd", bld);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&portal);
	mbedtls_pk_init(&stranger);
	snprintf(path, sizeof(path), "%s/portal/key.pem", dir);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0 ||
	    mbedtls_pk_parse_keyfile(&portal, path, NULL) != 0)
		return -1;
	if (run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/str.pem "
	        "2>/dev/null",
	        dir) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/str.pem", dir);
	if (mbedtls_pk_parse_keyfile(&stranger, path, NULL) != 0)
		return -1;
	rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	return rx ? start_keyholder() : -1;
}

static int teardown(void **state)
{
	(void)state;
	stop_keyholder(SIGTERM);
	for (int i = 0; i < 3; i++)
		free(doc[i]);
	free(rx);
	mbedtls_pk_free(&portal);
	mbedtls_pk_free(&stranger);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return run("rm -rf '%s'", dir);
}

/* ---- the portal: signed manifests ---- */

static c2s_err es256(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*(mbedtls_pk_context *)ctx);
	mbedtls_mpi r, s;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	int rc = mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, digest, 32, mbedtls_ctr_drbg_random,
	                            &drbg);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary(&r, sig, 32) ||
		     mbedtls_mpi_write_binary(&s, sig + 32, 32);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	*sig_len = 64;
	return rc == 0 ? C2S_OK : C2S_ERR_CMS;
}

struct mf {
	const char *jti;
	int64_t iat, exp;
	const char *aud, *phone, *given;
	int ndocs;
	const char *doc0; /* NULL: doc_hex[0] */
	mbedtls_pk_context *key;
};

static char *manifest(const struct mf *f)
{
	int64_t now = time(NULL);
	char jti[64];
	snprintf(jti, sizeof(jti), "jti-%d-%08x-test", ++seq, (unsigned)rand());
	json_t *docs = json_array();
	for (int i = 0; i < (f->ndocs ? f->ndocs : 2); i++)
		json_array_append_new(docs, json_string(i == 0 && f->doc0 ? f->doc0 : doc_hex[i]));
	json_t *c = json_pack(
	    "{s:s, s:s, s:I, s:I, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:o}", "iss", "moj-a1", "aud",
	    f->aud ? f->aud : cfg.public_url, "iat", (json_int_t)(f->iat ? f->iat : now), "exp",
	    (json_int_t)(f->exp ? f->exp : now + 300), "jti", f->jti ? f->jti : jti, "reference",
	    "A1-2026-000123", "signer", "given_name", f->given ? f->given : "Živa", "family_name",
	    "Čeh", "email", "ziva.ceh@example.si", "phone", f->phone ? f->phone : "+38641123456",
	    "documents", docs);
	char *out = NULL;
	assert_non_null(c);
	assert_int_equal(jws_sign(JWS_ES256, "c2s-order+jwt", c, es256, f->key ? f->key : &portal,
	                          &out, NULL, 0),
	                 C2S_OK);
	json_decref(c);
	return out;
}

/* ---- IPC calls ---- */

static c2s_err error_of(struct ipc_msg *m, char *detail, size_t cap)
{
	c2s_err code = C2S_OK;
	assert_int_equal(m->type, IPC_ERROR_RESP);
	assert_int_equal(ipc_parse_error(m, &code, detail, cap), C2S_OK);
	return code;
}

static c2s_err call(int fd, uint32_t type, const struct buf *req, struct ipc_msg *m)
{
	assert_int_equal(ipc_send(fd, type, req ? req->data : NULL, req ? req->len : 0), C2S_OK);
	return ipc_recv(fd, rx, m, 30000);
}

/* Sends the manifest; C2S_OK when accepted, else the refusal (its detail in `why`). */
static c2s_err send_manifest(const char *order, const char *jws, char *why, size_t cap)
{
	struct buf b;
	struct ipc_msg m;
	struct khmsg_manifest mr = {.jws = jws, .jws_len = strlen(jws), .expires_in = 86400};
	snprintf(mr.order, sizeof(mr.order), "%s", order);
	buf_init(&b, IPC_MAX_BODY);
	assert_int_equal(khmsg_manifest_encode(&mr, &b), C2S_OK);
	assert_int_equal(call(ch[0], IPC_MANIFEST_REQ, &b, &m), C2S_OK);
	buf_free(&b);
	if (m.type == IPC_DONE_RESP)
		return C2S_OK;
	return error_of(&m, why, cap);
}

static void order_req(struct buf *b, const char *order, const char *code)
{
	buf_init(b, 1024);
	assert_int_equal(buf_put_str(b, order), C2S_OK);
	if (code)
		assert_int_equal(buf_put_str(b, code), C2S_OK);
}

/* Asks for a code as the web does. When the keyholder hands an SMS to notify, the test reads
 * it (to, text), acknowledges it, and takes the code out of the text. Returns the outcome:
 * OTP_RESP's result, or the error's code. */
static c2s_err otp_send(const char *order, struct khmsg_otp *o, char *code, char *to)
{
	struct buf b;
	struct ipc_msg m;
	code[0] = to[0] = 0;
	order_req(&b, order, NULL);
	assert_int_equal(ipc_send(ch[1], IPC_OTP_SEND_REQ, b.data, b.len), C2S_OK);
	buf_free(&b);
	struct pollfd p[2] = {{.fd = ch[1], .events = POLLIN}, {.fd = notify_fd, .events = POLLIN}};
	assert_true(poll(p, 2, 30000) > 0);
	if (p[1].revents & POLLIN) {
		char text[512];
		assert_int_equal(ipc_recv(notify_fd, rx, &m, 1000), C2S_OK);
		assert_int_equal(m.type, IPC_SMS_REQ);
		assert_int_equal(buf_get_str(&m.body, to, 40), C2S_OK);
		assert_int_equal(buf_get_str(&m.body, text, sizeof(text)), C2S_OK);
		const char *d = text;
		while (*d && !(d[0] >= '0' && d[0] <= '9' && strspn(d, "0123456789") == 6))
			d++;
		assert_true(*d);
		memcpy(code, d, 6);
		code[6] = 0;
		uint8_t ok[4] = {0};
		assert_int_equal(ipc_send(notify_fd, IPC_SMS_RESP, ok, 4), C2S_OK);
	}
	assert_int_equal(ipc_recv(ch[1], rx, &m, 30000), C2S_OK);
	if (m.type == IPC_ERROR_RESP) {
		char why[256];
		return error_of(&m, why, sizeof(why));
	}
	assert_int_equal(m.type, IPC_OTP_RESP);
	assert_int_equal(khmsg_otp_decode(&m.body, o), C2S_OK);
	return (c2s_err)o->result;
}

static c2s_err otp_verify(const char *order, const char *code, struct khmsg_otp *o)
{
	struct buf b;
	struct ipc_msg m;
	order_req(&b, order, code);
	assert_int_equal(call(ch[2], IPC_OTP_VERIFY_REQ, &b, &m), C2S_OK);
	buf_free(&b);
	if (m.type == IPC_ERROR_RESP) {
		char why[256];
		return error_of(&m, why, sizeof(why));
	}
	assert_int_equal(m.type, IPC_OTP_RESP);
	assert_int_equal(khmsg_otp_decode(&m.body, o), C2S_OK);
	return (c2s_err)o->result;
}

/* The web's half of signing document n: an update from our writer, the midstate of the
 * original. `tamper` may change the update before it is sent. */
struct signed_doc {
	struct pdf_prepared pp;
	struct buf resp; /* copy of the IPC_SIGN_DOC_RESP body */
	char why[512];
};

static c2s_err sign_doc(const uint8_t *sad, const char *order, uint32_t n, const uint8_t *orig,
                        size_t orig_len, void (*tamper)(struct buf *upd), struct signed_doc *sd)
{
	struct pdf_sig_params p = {.name = "Živa Čeh",
	                           .reason = "Podpis pogodbe",
	                           .when = time(NULL),
	                           .contents_max = 12000,
	                           .field_name = "Signature1",
	                           .no_page_annot = 1};
	struct buf mid, req;
	struct ipc_msg m;
	memset(sd, 0, sizeof(*sd));
	buf_init(&mid, 256);
	buf_init(&req, IPC_MAX_BODY);
	buf_init(&sd->resp, IPC_MAX_BODY);
	assert_int_equal(pdf_prepare(orig, orig_len, 0, &p, &sd->pp, sd->why, sizeof(sd->why)),
	                 C2S_OK);
	if (tamper)
		tamper(&sd->pp.update);
	assert_int_equal(midstate_of(orig, orig_len, &mid), C2S_OK);
	struct khmsg_sign_doc d = {.doc = n,
	                           .midstate = mid.data,
	                           .midstate_len = mid.len,
	                           .update = sd->pp.update.data,
	                           .update_len = sd->pp.update.len};
	memcpy(d.sad, sad, KHMSG_SAD_LEN);
	snprintf(d.order, sizeof(d.order), "%s", order);
	assert_int_equal(khmsg_sign_doc_encode(&d, &req), C2S_OK);
	assert_int_equal(call(ch[3], IPC_SIGN_DOC_REQ, &req, &m), C2S_OK);
	buf_free(&mid);
	buf_free(&req);
	if (m.type == IPC_ERROR_RESP)
		return error_of(&m, sd->why, sizeof(sd->why));
	assert_int_equal(m.type, IPC_SIGN_DOC_RESP);
	assert_int_equal(buf_put(&sd->resp, m.body.data, m.body.len), C2S_OK);
	return C2S_OK;
}

static void signed_doc_free(struct signed_doc *sd)
{
	pdf_prepared_free(&sd->pp);
	buf_free(&sd->resp);
}

/* The web's last step: CMS into the placeholder; then independent validators. */
static void finish_and_validate(struct signed_doc *sd, const uint8_t *orig, size_t orig_len,
                                const char *name)
{
	struct khmsg_signed s;
	struct buf v, cms;
	char out[700], in[700];
	buf_view(&v, sd->resp.data, sd->resp.len);
	assert_int_equal(khmsg_signed_decode(&v, &s), C2S_OK);
	struct cms_signer cs = {.cert = s.cert,
	                        .cert_len = s.cert_len,
	                        .n_chain = s.n_chain,
	                        .hash = (enum cms_hash)s.hash,
	                        .sig = (enum cms_sig)s.sig};
	for (size_t i = 0; i < s.n_chain; i++) {
		cs.chain[i] = s.chain[i];
		cs.chain_len[i] = s.chain_len[i];
	}
	buf_init(&cms, 65536);
	assert_int_equal(
	    cms_signed_data(&cs, s.attrs, s.attrs_len, s.signature, s.signature_len, NULL, 0, &cms),
	    C2S_OK);
	assert_int_equal(pdf_set_contents(&sd->pp, cms.data, cms.len), C2S_OK);
	snprintf(out, sizeof(out), "%s/%s", dir, name);
	snprintf(in, sizeof(in), "%s/%s.orig.pdf", dir, name);
	FILE *f = fopen(out, "wb"), *g = fopen(in, "wb");
	assert_non_null(f);
	assert_non_null(g);
	assert_int_equal(fwrite(orig, 1, orig_len, f), orig_len);
	assert_int_equal(fwrite(sd->pp.update.data, 1, sd->pp.update.len, f), sd->pp.update.len);
	assert_int_equal(fwrite(orig, 1, orig_len, g), orig_len);
	fclose(f);
	fclose(g);
	if (run("bash %s/tests/tools/validate_pdf.sh --level B-B %s %s %s/pki/root.pem >%s.log "
	        "2>&1",
	        getenv("C2S_SOURCE_DIR"), out, in, dir, out) != 0) {
		run("cat %s.log >&2", out);
		fail_msg("%s does not validate", name);
	}
	/* signer mode: the subscriber's own short-lived certificate, read by openssl */
	snprintf(out, sizeof(out), "%s/%s.cert.der", dir, name);
	f = fopen(out, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s.cert, 1, s.cert_len, f), s.cert_len);
	fclose(f);
	assert_int_equal(run("openssl x509 -inform DER -in %s -noout -subject -nameopt utf8 | "
	                     "grep -q 'CN *= *\xc5\xbdiva \xc4\x8c"
	                     "eh'",
	                     out),
	                 0);
	buf_free(&cms);
}

/* ---- the tests ---- */

static void manifests(void **state)
{
	(void)state;
	char why[512];
	char *j;
	struct mf f = {0};
	/* signed by a key the portal does not have */
	f.key = &stranger;
	j = manifest(&f);
	assert_int_equal(send_manifest("order-forged", j, why, sizeof(why)), C2S_ERR_MANIFEST);
	assert_non_null(strstr(why, "signature"));
	free(j);
	/* expired */
	memset(&f, 0, sizeof(f));
	f.iat = time(NULL) - 1000;
	f.exp = time(NULL) - 400;
	j = manifest(&f);
	assert_int_equal(send_manifest("order-expired", j, why, sizeof(why)),
	                 C2S_ERR_MANIFEST_EXPIRED);
	free(j);
	/* for another appliance */
	memset(&f, 0, sizeof(f));
	f.aud = "https://elsewhere.example";
	j = manifest(&f);
	assert_int_equal(send_manifest("order-aud", j, why, sizeof(why)), C2S_ERR_MANIFEST);
	assert_non_null(strstr(why, "aud"));
	free(j);
	/* a phone number that is not E.164, a document hash that is not one */
	memset(&f, 0, sizeof(f));
	f.phone = "041 123 456";
	j = manifest(&f);
	assert_int_equal(send_manifest("order-phone", j, why, sizeof(why)), C2S_ERR_MANIFEST);
	assert_non_null(strstr(why, "phone"));
	free(j);
	memset(&f, 0, sizeof(f));
	f.doc0 = "not-a-hash";
	j = manifest(&f);
	assert_int_equal(send_manifest("order-hash", j, why, sizeof(why)), C2S_ERR_MANIFEST);
	assert_non_null(strstr(why, "documents[0]"));
	free(j);
	/* good, idempotent, and not reusable for another order */
	memset(&f, 0, sizeof(f));
	j = manifest(&f);
	assert_int_equal(send_manifest("order-a", j, why, sizeof(why)), C2S_OK);
	assert_int_equal(send_manifest("order-a", j, why, sizeof(why)), C2S_OK);
	assert_int_equal(send_manifest("order-b", j, why, sizeof(why)), C2S_ERR_MANIFEST_REPLAY);
	free(j);
	/* not even well-formed: the channel is dropped, the keyholder lives on */
	struct buf b;
	struct ipc_msg m;
	buf_init(&b, 64);
	assert_int_equal(buf_put_str(&b, "order a with spaces"), C2S_OK);
	assert_int_equal(buf_put_blob(&b, "x", 1), C2S_OK);
	assert_int_equal(buf_put_u32(&b, 60), C2S_OK);
	assert_int_equal(call(ch[5], IPC_MANIFEST_REQ, &b, &m), C2S_ERR_IPC);
	buf_free(&b);
	assert_int_equal(kill(kh_pid, 0), 0);
}

/* A six-digit code that differs from `code` (checked to be six digits) by `delta`. */
static void wrong_code(const char *code, long delta, char out[8])
{
	char *end = NULL;
	assert_int_equal(strlen(code), 6);
	long v = strtol(code, &end, 10);
	assert_true(end == code + 6 && v >= 0);
	snprintf(out, 8, "%06ld", (v + delta) % 1000000);
}

static void codes(void **state)
{
	(void)state;
	char why[512], code[8], to[40];
	struct khmsg_otp o;
	/* no manifest: no code */
	assert_int_equal(otp_send("order-none", &o, code, to), C2S_ERR_SAD);
	assert_int_equal(code[0], 0);
	struct mf f = {0};
	char *j = manifest(&f);
	assert_int_equal(send_manifest("order-c", j, why, sizeof(why)), C2S_OK);
	free(j);
	/* verify before any code */
	assert_int_equal(otp_verify("order-c", "123456", &o), C2S_ERR_OTP_NONE);
	/* the code goes to the manifest's phone, whatever the web says */
	assert_int_equal(otp_send("order-c", &o, code, to), C2S_OK);
	assert_string_equal(to, "+38641123456");
	assert_int_equal(strlen(code), 6);
	assert_non_null(strstr(o.phone_masked, "56"));
	assert_null(strstr(o.phone_masked, "123456"));
	assert_int_equal(o.tries_left, 3);
	/* again at once: too soon, no SMS */
	char code2[8];
	assert_int_equal(otp_send("order-c", &o, code2, to), C2S_ERR_OTP_TOO_SOON);
	assert_int_equal(code2[0], 0);
	assert_true(o.retry_after > time(NULL));
	/* two wrong tries, then the right one */
	char wrong[8];
	wrong_code(code, 1, wrong);
	assert_int_equal(otp_verify("order-c", wrong, &o), C2S_ERR_OTP_WRONG);
	assert_int_equal(o.tries_left, 2);
	assert_int_equal(otp_verify("order-c", "12345x", &o), C2S_ERR_OTP_WRONG);
	assert_int_equal(o.tries_left, 1);
	assert_int_equal(otp_verify("order-c", code, &o), C2S_OK);
	assert_int_equal(o.ndocs, 2);
	assert_true(o.expires_at > time(NULL));
	/* single use */
	assert_int_equal(otp_verify("order-c", code, &o), C2S_ERR_OTP_NONE);
}

/* A code guessed in a loop: at most three comparisons, never a SAD. */
static void guessing(void **state)
{
	(void)state;
	char why[512], code[8], to[40], guess[8];
	struct khmsg_otp o;
	struct mf f = {0};
	char *j = manifest(&f);
	assert_int_equal(send_manifest("order-guess", j, why, sizeof(why)), C2S_OK);
	free(j);
	assert_int_equal(otp_send("order-guess", &o, code, to), C2S_OK);
	unsigned wrong = 0, exhausted = 0, other = 0, ok = 0;
	for (unsigned i = 0; i < 3000; i++) {
		snprintf(guess, sizeof(guess), "%06u", i * 331u % 1000000u);
		if (strcmp(guess, code) == 0)
			continue;
		c2s_err r = otp_verify("order-guess", guess, &o);
		wrong += r == C2S_ERR_OTP_WRONG;
		exhausted += r == C2S_ERR_OTP_EXHAUSTED;
		ok += r == C2S_OK;
		other += r != C2S_ERR_OTP_WRONG && r != C2S_ERR_OTP_EXHAUSTED && r != C2S_OK;
	}
	print_message("3000 guesses: %u compared (wrong), %u refused as exhausted, %u other, %u "
	              "accepted\n",
	              wrong, exhausted, other, ok);
	assert_int_equal(wrong, 3);
	assert_int_equal(ok, 0);
	assert_int_equal(other, 0);
	/* the right code now is refused too: the code is used up */
	assert_int_equal(otp_verify("order-guess", code, &o), C2S_ERR_OTP_EXHAUSTED);
}

static void activate(const char *order, uint8_t *sad)
{
	char why[512], code[8], to[40];
	struct khmsg_otp o;
	struct mf f = {0};
	char *j = manifest(&f);
	assert_int_equal(send_manifest(order, j, why, sizeof(why)), C2S_OK);
	free(j);
	assert_int_equal(otp_send(order, &o, code, to), C2S_OK);
	assert_int_equal(otp_verify(order, code, &o), C2S_OK);
	memcpy(sad, o.sad, KHMSG_SAD_LEN);
}

static void add_content_stream(struct buf *upd)
{
	/* a new content stream before the xref: new content is never allowed */
	static const char obj[] = "99 0 obj\n<< /Length 21 >>\nstream\nBT (changed) Tj ET\n\n"
	                          "endstream\nendobj\n";
	struct buf n;
	const char *x = memmem(upd->data, upd->len, "xref", 4);
	size_t at = x ? (size_t)((const uint8_t *)x - upd->data) : upd->len / 2;
	buf_init(&n, upd->len + sizeof(obj));
	assert_int_equal(buf_put(&n, upd->data, at), C2S_OK);
	assert_int_equal(buf_put(&n, obj, sizeof(obj) - 1), C2S_OK);
	assert_int_equal(buf_put(&n, upd->data + at, upd->len - at), C2S_OK);
	buf_free(upd);
	*upd = n;
}

static void truncate_update(struct buf *upd)
{
	upd->len -= 10;
}

static void signing(void **state)
{
	(void)state;
	uint8_t sad[KHMSG_SAD_LEN], other[KHMSG_SAD_LEN], none[KHMSG_SAD_LEN];
	struct signed_doc sd;
	activate("order-s", sad);
	activate("order-t", other);
	memset(none, 0x5a, sizeof(none));
	/* without a SAD, with another order's, outside the manifest */
	assert_int_equal(sign_doc(none, "order-s", 0, doc[0], doc_len[0], NULL, &sd), C2S_ERR_SAD);
	signed_doc_free(&sd);
	assert_int_equal(sign_doc(other, "order-s", 0, doc[0], doc_len[0], NULL, &sd), C2S_ERR_SAD);
	signed_doc_free(&sd);
	assert_int_equal(sign_doc(sad, "order-s", 2, doc[2], doc_len[2], NULL, &sd), C2S_ERR_SAD);
	signed_doc_free(&sd);
	/* a document the portal did not authorise, under document 0's index */
	assert_int_equal(sign_doc(sad, "order-s", 0, doc[2], doc_len[2], NULL, &sd),
	                 C2S_ERR_UPDATE_REFUSED);
	assert_non_null(strstr(sd.why, "authorised"));
	signed_doc_free(&sd);
	/* updates that change more than a signature may */
	assert_int_equal(sign_doc(sad, "order-s", 0, doc[0], doc_len[0], add_content_stream, &sd),
	                 C2S_ERR_UPDATE_REFUSED);
	print_message("new content stream refused: %s\n", sd.why);
	signed_doc_free(&sd);
	assert_int_equal(sign_doc(sad, "order-s", 0, doc[0], doc_len[0], truncate_update, &sd),
	                 C2S_ERR_UPDATE_REFUSED);
	signed_doc_free(&sd);
	/* the real thing, each document once */
	assert_int_equal(sign_doc(sad, "order-s", 0, doc[0], doc_len[0], NULL, &sd), C2S_OK);
	finish_and_validate(&sd, doc[0], doc_len[0], "signed-0.pdf");
	signed_doc_free(&sd);
	assert_int_equal(sign_doc(sad, "order-s", 0, doc[0], doc_len[0], NULL, &sd),
	                 C2S_ERR_DOC_USED);
	signed_doc_free(&sd);
	assert_int_equal(sign_doc(sad, "order-s", 1, doc[1], doc_len[1], NULL, &sd), C2S_OK);
	finish_and_validate(&sd, doc[1], doc_len[1], "signed-1.pdf");
	signed_doc_free(&sd);
	/* the order ends: its SAD dies with it */
	struct buf b;
	struct ipc_msg m;
	order_req(&b, "order-t", NULL);
	assert_int_equal(buf_put_u8(&b, 2), C2S_OK);
	assert_int_equal(call(ch[4], IPC_ORDER_END_REQ, &b, &m), C2S_OK);
	assert_int_equal(m.type, IPC_DONE_RESP);
	buf_free(&b);
	assert_int_equal(sign_doc(other, "order-t", 0, doc[0], doc_len[0], NULL, &sd), C2S_ERR_SAD);
	signed_doc_free(&sd);
}

/* Audit checkpoints: the keyholder signs a structure it assembles, and never a head at or
 * behind the last one it signed. */
static c2s_err checkpoint(int64_t cp_seq, const uint8_t head[32], int64_t *at, struct buf *sig,
                          struct buf *cert)
{
	struct buf b;
	struct ipc_msg m;
	buf_init(&b, 64);
	assert_int_equal(buf_put_u32(&b, (uint32_t)((uint64_t)cp_seq >> 32)), C2S_OK);
	assert_int_equal(buf_put_u32(&b, (uint32_t)cp_seq), C2S_OK);
	assert_int_equal(buf_put(&b, head, 32), C2S_OK);
	assert_int_equal(call(ch[4], IPC_CHECKPOINT_REQ, &b, &m), C2S_OK);
	buf_free(&b);
	if (m.type == IPC_ERROR_RESP) {
		char why[256];
		return error_of(&m, why, sizeof(why));
	}
	uint32_t hi, lo;
	const uint8_t *p;
	size_t n;
	assert_int_equal(m.type, IPC_CHECKPOINT_RESP);
	assert_int_equal(buf_get_u32(&m.body, &hi), C2S_OK);
	assert_int_equal(buf_get_u32(&m.body, &lo), C2S_OK);
	*at = (int64_t)(((uint64_t)hi << 32) | lo);
	assert_int_equal(buf_get_blob(&m.body, &p, &n, 1024), C2S_OK);
	assert_int_equal(buf_put(sig, p, n), C2S_OK);
	assert_int_equal(buf_get_blob(&m.body, &p, &n, 16384), C2S_OK);
	assert_int_equal(buf_put(cert, p, n), C2S_OK);
	return C2S_OK;
}

static void checkpoints(void **state)
{
	(void)state;
	uint8_t head[32], tbs[AUDIT_CHECKPOINT_TBS], h[32];
	int64_t at = 0;
	struct buf sig, cert;
	memset(head, 0xab, sizeof(head));
	buf_init(&sig, 1024);
	buf_init(&cert, 16384);
	assert_int_equal(checkpoint(5, head, &at, &sig, &cert), C2S_OK);
	/* the signature is the seal key's over the bytes the keyholder assembled */
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	assert_int_equal(mbedtls_x509_crt_parse_der(&c, cert.data, cert.len), 0);
	audit_checkpoint_tbs(5, head, at, tbs);
	assert_int_equal(mbedtls_sha256_ret(tbs, sizeof(tbs), h, 0), 0);
	assert_int_equal(mbedtls_pk_verify(&c.pk, MBEDTLS_MD_SHA256, h, 32, sig.data, sig.len), 0);
	audit_checkpoint_tbs(6, head, at, tbs); /* another sequence: does not verify */
	assert_int_equal(mbedtls_sha256_ret(tbs, sizeof(tbs), h, 0), 0);
	assert_int_not_equal(mbedtls_pk_verify(&c.pk, MBEDTLS_MD_SHA256, h, 32, sig.data, sig.len),
	                     0);
	mbedtls_x509_crt_free(&c);
	/* the same head again, or one behind it: refused */
	buf_reset(&sig);
	buf_reset(&cert);
	assert_int_equal(checkpoint(5, head, &at, &sig, &cert), C2S_ERR_CONFLICT);
	assert_int_equal(checkpoint(3, head, &at, &sig, &cert), C2S_ERR_CONFLICT);
	assert_int_equal(checkpoint(6, head, &at, &sig, &cert), C2S_OK);
	buf_free(&sig);
	buf_free(&cert);
}

/* Login assertions: the web names the account, the keyholder writes every other claim and
 * signs with the assertion key; the result verifies with that key's public half. */
static void assertions(void **state)
{
	(void)state;
	struct buf b;
	struct ipc_msg m;
	char jws[JWS_MAX_LEN + 1], why[256] = "";
	buf_init(&b, 512);
	assert_int_equal(buf_put_str(&b, "moj-a1-778899"), C2S_OK);
	assert_int_equal(buf_put_str(&b, "order-a"), C2S_OK);
	assert_int_equal(call(ch[4], IPC_ASSERTION_REQ, &b, &m), C2S_OK);
	assert_int_equal(m.type, IPC_ASSERTION_RESP);
	assert_int_equal(buf_get_str(&m.body, jws, sizeof(jws)), C2S_OK);
	buf_free(&b);
	/* the public key, read from the token by an independent tool */
	assert_int_equal(
	    run("pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label c2s "
	        "--read-object --type pubkey --label c2s-assertion -o %s/as.der "
	        ">/dev/null 2>&1 && openssl pkey -pubin -inform DER -in %s/as.der "
	        "-out %s/as.pem",
	        dir, dir, dir),
	    0);
	char path[700];
	size_t n = 0;
	snprintf(path, sizeof(path), "%s/as.pem", dir);
	uint8_t *pem = slurp(path, &n);
	assert_non_null(pem);
	pem[n] = 0;
	struct jws_key *key = NULL;
	assert_int_equal(jws_key_from_pem(pem, n + 1, &key, why, sizeof(why)), C2S_OK);
	json_t *c = NULL;
	const struct jws_key *keys[1] = {key};
	assert_int_equal(jws_verify(jws, strlen(jws), keys, 1, "JWT", &c, why, sizeof(why)),
	                 C2S_OK);
	assert_string_equal(json_string_value(json_object_get(c, "sub")), "moj-a1-778899");
	assert_string_equal(json_string_value(json_object_get(c, "order")), "order-a");
	assert_string_equal(json_string_value(json_object_get(c, "iss")), cfg.public_url);
	assert_string_equal(json_string_value(json_object_get(c, "aud")), "https://moj.a1.test");
	json_int_t iat = json_integer_value(json_object_get(c, "iat"));
	json_int_t exp = json_integer_value(json_object_get(c, "exp"));
	assert_true(exp > iat && exp - iat <= 300);
	assert_true(strlen(json_string_value(json_object_get(c, "jti"))) >= 16);
	struct jws_expect ex = {
	    .aud = "https://moj.a1.test", .now = time(NULL), .max_lifetime = 300, .leeway = 60};
	assert_int_equal(jws_claims_check(c, &ex, why, sizeof(why)), C2S_OK);
	json_decref(c);
	jws_key_free(key);
	free(pem);
	/* the web cannot bring claims of its own: an account that is not an account id drops the
	 * channel */
	buf_init(&b, 512);
	assert_int_equal(buf_put_str(&b, "x\", \"sub\": \"admin"), C2S_OK);
	assert_int_equal(buf_put_str(&b, ""), C2S_OK);
	int p2[2];
	uint8_t gen[4] = {0, 0, 0, 9};
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p2), 0);
	assert_int_equal(ipc_send_fds(parent_fd, IPC_CHANNELS, gen, 4, &p2[1], 1), C2S_OK);
	close(p2[1]);
	assert_int_equal(call(p2[0], IPC_ASSERTION_REQ, &b, &m), C2S_ERR_IPC);
	close(p2[0]);
	buf_free(&b);
}

/* Killing the keyholder between wrong tries gives no extra try; a store it cannot use stops
 * customer signing and nothing else. */
static void restarts(void **state)
{
	(void)state;
	char why[512], code[8], to[40], wrong[8];
	struct khmsg_otp o;
	struct mf f = {0};
	char *j = manifest(&f);
	assert_int_equal(send_manifest("order-k", j, why, sizeof(why)), C2S_OK);
	free(j);
	assert_int_equal(otp_send("order-k", &o, code, to), C2S_OK);
	wrong_code(code, 7, wrong);
	assert_int_equal(otp_verify("order-k", wrong, &o), C2S_ERR_OTP_WRONG);
	assert_int_equal(o.tries_left, 2);
	stop_keyholder(SIGKILL);
	assert_int_equal(start_keyholder(), 0);
	/* the count survived; the code itself died with the keyholder's key */
	assert_int_equal(otp_verify("order-k", code, &o), C2S_ERR_OTP_WRONG);
	assert_int_equal(o.tries_left, 1);
	stop_keyholder(SIGKILL);
	/* an unusable store: codes refused with the reason, seals still signed */
	assert_int_equal(run("chmod 0755 '%s'", cfg.kh_state_dir), 0);
	assert_int_equal(start_keyholder(), 0);
	assert_int_equal(otp_send("order-k", &o, code, to), C2S_ERR_KHSTORE);
	struct buf b, attrs;
	struct ipc_msg m;
	struct khmsg_keyinfo ki;
	buf_init(&b, 1024);
	assert_int_equal(buf_put_str(&b, cfg.seal_key), C2S_OK);
	assert_int_equal(call(ch[0], IPC_KEYINFO_REQ, &b, &m), C2S_OK);
	assert_int_equal(khmsg_keyinfo_decode(&m.body, &ki), C2S_OK);
	uint8_t md[32] = {1, 2, 3};
	struct cms_signer cs = {
	    .cert = ki.cert, .cert_len = ki.cert_len, .hash = CMS_SHA256, .sig = CMS_SIG_ECDSA};
	buf_init(&attrs, 8192);
	assert_int_equal(cms_signed_attrs(&cs, md, 32, &attrs), C2S_OK);
	buf_reset(&b);
	assert_int_equal(buf_put_str(&b, cfg.seal_key), C2S_OK);
	assert_int_equal(buf_put_blob(&b, attrs.data, attrs.len), C2S_OK);
	assert_int_equal(call(ch[1], IPC_SEAL_ATTRS_REQ, &b, &m), C2S_OK);
	assert_int_equal(m.type, IPC_SIGN_RESP);
	khmsg_keyinfo_free(&ki);
	buf_free(&attrs);
	buf_free(&b);
	stop_keyholder(SIGTERM);
	assert_int_equal(run("chmod 0700 '%s'", cfg.kh_state_dir), 0);
	assert_int_equal(start_keyholder(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(manifests),   cmocka_unit_test(codes),
	    cmocka_unit_test(guessing),    cmocka_unit_test(signing),
	    cmocka_unit_test(checkpoints), cmocka_unit_test(assertions),
	    cmocka_unit_test(restarts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
