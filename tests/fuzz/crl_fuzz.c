/* Fuzz target: CRLs as the appliance takes them from a distribution point or from the operator.
 *   - firmware/pades/revocation.c: rev_cdp_url on the certificate (the URL it would fetch), then
 *     rev_crl_accept on the answer (PEM to DER, parse, issuer, its signature by the issuer's
 *     key, nextUpdate), as rev_chain_crls does;
 *   - firmware/certs/custcert.c: `crl add`'s cc_crl_check (parse, signature by the provisioned
 *     issuer) and cc_trust_add_crl, as cc_trust_load does for the CRL directory.
 * Input: [u16 n][certificate the CRL is for][u16 n][its issuer][the CRL bytes] (big-endian).
 * The seeds are a CA, a leaf naming an http CDP, and the CA's CRL (DER and PEM), made with
 * openssl on 2026-11-30 (CRLs valid ten years), plus cut and swapped variants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "firmware/certs/custcert.h"
#include "firmware/pades/revocation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int take(const uint8_t **p, size_t *left, const uint8_t **out, size_t *n)
{
	if (*left < 2)
		return 0;
	*n = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*left -= 2;
	if (*n > *left)
		*n = *left;
	*out = *p;
	*p += *n;
	*left -= *n;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *cert, *issuer;
	size_t left = size, cert_len, issuer_len;
	char url[512], why[300];
	if (!take(&p, &left, &cert, &cert_len) || !take(&p, &left, &issuer, &issuer_len))
		return 0;
	/* revocation.c: the URL, then the answer */
	c2s_err e = rev_cdp_url(cert, cert_len, url, sizeof(url));
	if (e == C2S_OK && (strlen(url) >= sizeof(url) || strncasecmp(url, "http", 4) != 0))
		abort();
	struct buf b;
	buf_init(&b, REV_CRL_MAX);
	time_t next = 0;
	if (buf_put(&b, p, left) == C2S_OK &&
	    rev_crl_accept(cert, cert_len, issuer_len ? issuer : NULL, issuer_len, &b,
	                   e == C2S_OK ? url : "http://fuzz.invalid/ca.crl", &next, why,
	                   sizeof(why)) == C2S_OK &&
	    (b.len > left || next <= 0))
		abort();
	buf_free(&b);
	/* custcert.c: the issuer provisioned, the CRL checked and added */
	struct cc_trust *t = NULL;
	if (cc_trust_new(&t) != C2S_OK)
		return 0;
	if (cc_trust_add_cert(t, issuer, issuer_len) == C2S_OK) {
		struct cc_crl_info info;
		if (cc_crl_check(t, p, left, &info, why, sizeof(why)) == C2S_OK)
			free(info.der);
	}
	c2s_err added = cc_trust_add_crl(t, p, left); /* refused input is part of the game */
	(void)added;
	cc_trust_free(t);
	return 0;
}
