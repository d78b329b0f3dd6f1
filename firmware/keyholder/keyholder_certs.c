#include <mbedtls/pk.h>
#include <stdlib.h>
#include <string.h>

#include "keyholder_int.h"

c2s_err kh_cert_add(struct kh *k, const uint8_t *der, size_t len, int leaf)
{
	if (!leaf && k->n_chain >= CMS_MAX_CHAIN)
		return C2S_ERR_CHAIN;
	uint8_t *p = malloc(len);
	if (!p)
		return C2S_ERR_NOMEM;
	memcpy(p, der, len);
	if (leaf) {
		free(k->cert);
		k->cert = p;
		k->cert_len = len;
	} else {
		k->chain[k->n_chain] = p;
		k->chain_len[k->n_chain++] = len;
	}
	return C2S_OK;
}

void kh_certs_free(struct kh *k)
{
	free(k->cert);
	k->cert = NULL;
	k->cert_len = 0;
	for (size_t i = 0; i < k->n_chain; i++)
		free(k->chain[i]);
	k->n_chain = 0;
}

/* Whether the certificate's SubjectPublicKeyInfo equals `spki` (DER). */
int kh_cert_matches(const mbedtls_x509_crt *c, const uint8_t *spki, size_t spki_len)
{
	unsigned char tmp[4096];
	/* mbedtls_pk_write_pubkey_der writes at the end of the buffer */
	int n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&c->pk, tmp, sizeof(tmp));
	return n > 0 && (size_t)n == spki_len &&
	       memcmp(tmp + sizeof(tmp) - (size_t)n, spki, spki_len) == 0;
}

int kh_cert_matches_der(const uint8_t *der, size_t len, const uint8_t *spki, size_t spki_len)
{
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	int ok =
	    mbedtls_x509_crt_parse_der(&c, der, len) == 0 && kh_cert_matches(&c, spki, spki_len);
	mbedtls_x509_crt_free(&c);
	return ok;
}
