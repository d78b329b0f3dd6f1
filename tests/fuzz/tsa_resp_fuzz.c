/* Fuzz target: the RFC 3161 reply check (tsa_check_response), then the token's signature
 * check and certificate listing on what it accepts. Input layout: 1 byte hash selector
 * (0: SHA-256, 1: SHA-384, 2: SHA-512), 8 bytes nonce (big-endian), the imprint (hash
 * length), then the DER TimeStampResp; the seeds are real replies with their own prefix. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "firmware/pades/tsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9)
		return 0;
	enum cms_hash h = data[0] % 3 == 0   ? CMS_SHA256
	                  : data[0] % 3 == 1 ? CMS_SHA384
	                                     : CMS_SHA512;
	size_t hl = cms_hash_len(h);
	uint64_t nonce = 0;
	for (int i = 0; i < 8; i++)
		nonce = (nonce << 8) | data[1 + i];
	if (size < 9 + hl)
		return 0;
	const uint8_t *imprint = data + 9, *resp = data + 9 + hl, *tok = NULL;
	size_t rl = size - 9 - hl, tl = 0, n = 0, lens[16];
	const uint8_t *certs[16];
	char why[200];
	if (tsa_check_response(resp, rl, h, imprint, hl, nonce, &tok, &tl, why, sizeof(why)) !=
	    C2S_OK)
		return 0;
	if (tok < resp || tl > rl || tok + tl > resp + rl)
		abort();
	c2s_err v = tsa_token_verify(tok, tl, NULL, why, sizeof(why));
	if (getenv("C2S_FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "accepted reply, token signature: %s %s\n", c2s_err_name(v), why);
	if (tsa_token_certs(tok, tl, certs, lens, 16, &n) == C2S_OK && n > 16)
		abort();
	return 0;
}
