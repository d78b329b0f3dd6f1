/* Fuzz target: customer certificate validation (cc_verify, with the CRL fetch callback),
 * `crl add`'s CRL check and the name decoder, on hostile certificates, chains, CRLs and names.
 * Input: records of [kind u8][length u16 big-endian][bytes]:
 *   0 a trust anchor or intermediate (cc_trust_add_cert)   1 a provisioned CRL
 *   2 a certificate the client presents (leaf first)       3 a DER Name for cc_name_utf8
 *   4 the bytes the CRL fetch callback returns
 * The seed corpus (tests/fuzz/corpus/custcert_fuzz/) was cut from tests/tools/mkcustpki.sh's
 * output made on 2026-11-29 (`now` below). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/certs/custcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fetch_src {
	const uint8_t *p;
	size_t n;
};

static c2s_err fetch(void *ctx, const char *url, const uint8_t *cert, size_t cert_len,
                     uint8_t **der, size_t *len, char *why, size_t why_cap)
{
	struct fetch_src *f = ctx;
	(void)url, (void)cert, (void)cert_len, (void)why, (void)why_cap;
	if (!f->p)
		return C2S_ERR_REVOCATION;
	*der = malloc(f->n ? f->n : 1);
	if (!*der)
		return C2S_ERR_NOMEM;
	memcpy(*der, f->p, f->n);
	*len = f->n;
	return C2S_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_trust *t = NULL;
	const uint8_t *der[8];
	size_t len[8], n = 0;
	struct fetch_src f = {0};
	char name[512];
	if (cc_trust_new(&t) != C2S_OK)
		return 0;
	for (size_t off = 0; off + 3 <= size;) {
		uint8_t kind = data[off];
		size_t l = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (l > size - off)
			l = size - off;
		const uint8_t *p = data + off;
		off += l;
		c2s_err e = C2S_OK;
		switch (kind % 5) {
		case 0:
			e = cc_trust_add_cert(t, p, l);
			break;
		case 1:
			e = cc_trust_add_crl(t, p, l);
			break;
		case 2:
			if (n < 8) {
				der[n] = p;
				len[n++] = l;
			}
			break;
		case 3:
			cc_name_utf8(p, l, name, sizeof(name));
			cc_name_cn_utf8(p, l, name, 7); /* a small buffer: the cut */
			break;
		default:
			f.p = p;
			f.n = l;
			break;
		}
		(void)e; /* refused input is part of the game */
	}
	struct cc_options o = {
	    .now = 1796000000, .require_revocation = 1, .fetch = fetch, .fetch_ctx = &f};
	struct cc_result res;
	if (cc_verify(t, der, len, n, &o, &res) == C2S_OK) {
		if (strlen(res.subject) >= sizeof(res.subject) ||
		    strlen(res.detail) >= sizeof(res.detail))
			abort();
	}
	if (f.p) {
		struct cc_crl_info info;
		char why[300];
		if (cc_crl_check(t, f.p, f.n, &info, why, sizeof(why)) == C2S_OK)
			free(info.der);
	}
	cc_trust_free(t);
	return 0;
}
