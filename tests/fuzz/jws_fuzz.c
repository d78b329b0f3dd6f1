/* Fuzz target: the keyholder's reader of compact JWS (jws_verify, then jws_claims_check) with one
 * P-256 and one RSA-2048 trusted public key. The private keys existed only while the seed corpus
 * (tests/fuzz/corpus/jws_fuzz/) was signed with openssl; its valid tokens carry
 * iat 1767225590, exp 1767225890 (`now` below), typ "c2s-order+jwt" and
 * aud "https://appliance.example". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/certs/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ec_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYgI6KGG3zhPrAjRoaywzG9DF1r8t\n"
                             "FANNEhTwzxfyFGLhdmIGyu7lScZXEM/9tlkr2yH+PFpVHE4wzdaDysKTRw==\n"
                             "-----END PUBLIC KEY-----\n";

static const char rsa_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqDy1EKsjlaav5OSOGCbu\n"
                              "UGp1AJTbbu7DxuJseNBJLNIWQSjvfKnvLtgFvuqPVHLDd/rqZB89oaYkdy7pNcQ2\n"
                              "2nlNc2u9DzwXt14/qiF2GhgzPHufFJ/jzyHWYPK047uWAivHi58Lc8CdMApaYkXn\n"
                              "gZeKD/XRhfhkkSYx1ZZkkCHeIFZn2S9Oo/gP7gyS2rVnUf3wqi99gfM0mX5E9Gti\n"
                              "28Iwf6jIo0FYkIWltn4C86FYsxnU3BgwNv/rjQkXs7HBHALBS+s1gYQLQSMwS7dO\n"
                              "QUnHyCHMO938hr4ueksCuB+zQF+fwHv+C8446tSkw8AU1nluFqvm+hvWqT7WrWgI\n"
                              "dwIDAQAB\n"
                              "-----END PUBLIC KEY-----\n";

static struct jws_key *keys[2];

static void load_keys(void)
{
	char why[256];
	if (keys[0] != NULL)
		return;
	if (jws_key_from_pem((const uint8_t *)ec_pem, strlen(ec_pem), &keys[0], why, sizeof(why)) !=
	        C2S_OK ||
	    jws_key_from_pem((const uint8_t *)rsa_pem, strlen(rsa_pem), &keys[1], why,
	                     sizeof(why)) != C2S_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512] = "";
	json_t *claims = (json_t *)1;
	const struct jws_key *const *k = (const struct jws_key *const *)keys;
	struct jws_expect e = {.aud = "https://appliance.example",
	                       .now = 1767225600,
	                       .max_lifetime = 600,
	                       .leeway = 60};

	load_keys();
	c2s_err ret =
	    jws_verify((const char *)data, size, k, 2, "c2s-order+jwt", &claims, why, sizeof(why));
	if (ret != C2S_OK) {
		/* every refusal leaves no claims and says why */
		if (claims != NULL || why[0] == '\0')
			abort();
		return 0;
	}
	if (!json_is_object(claims))
		abort();
	why[0] = '\0';
	ret = jws_claims_check(claims, &e, why, sizeof(why));
	if (ret != C2S_OK && why[0] == '\0')
		abort();
	json_decref(claims);
	return 0;
}
