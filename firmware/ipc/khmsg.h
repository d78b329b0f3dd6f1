/* Bodies of the keyholder's IPC messages: encode and decode side by side. */
#ifndef C2S_KHMSG_H
#define C2S_KHMSG_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

/* Wire values for a key's algorithms. They equal enum cms_hash / enum cms_sig (the PAdES
 * engine's) and enum hsm_hash; the keyholder asserts that at compile time, where it sees all. */
#define KHMSG_MAX_CHAIN 8
enum khmsg_hash { KHMSG_SHA256 = 1, KHMSG_SHA384 = 2, KHMSG_SHA512 = 3 };
enum khmsg_sig { KHMSG_SIG_RSA_PKCS1 = 1, KHMSG_SIG_RSA_PSS = 2, KHMSG_SIG_ECDSA = 3 };

struct khmsg_status {
	uint32_t state;   /* C2S_OK when ready to sign, else why not */
	char reason[512]; /* human reason when state != C2S_OK */
	uint8_t token_present, logged_in, removable;
	char label[33], manufacturer[33], model[17], serial[17], slot[65];
	char seal_key[512];
	uint8_t seal_key_present, seal_cert_present;
	uint8_t card_monitored, card_present, pcscd_up;
	char reader[128];
	char atr[80];
	int64_t card_since;               /* unix time of the last card/reader change */
	uint64_t signatures, sign_errors; /* counters since the keyholder started */
};

struct khmsg_keyinfo {
	uint8_t key_type; /* enum hsm_key_type */
	uint32_t bits;
	uint8_t hash;     /* enum khmsg_hash the keyholder uses with this key */
	uint8_t sig;      /* enum khmsg_sig */
	uint32_t sig_max; /* max signature bytes */
	uint8_t *cert;    /* leaf DER (malloc'd by decode) */
	size_t cert_len;
	uint8_t *chain[KHMSG_MAX_CHAIN];
	size_t chain_len[KHMSG_MAX_CHAIN];
	size_t n_chain;
};

C2S_MUST_CHECK c2s_err khmsg_status_encode(const struct khmsg_status *s, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_status_decode(struct buf *b, struct khmsg_status *s);
C2S_MUST_CHECK c2s_err khmsg_keyinfo_encode(const struct khmsg_keyinfo *k, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_keyinfo_decode(struct buf *b, struct khmsg_keyinfo *k);
void khmsg_keyinfo_free(struct khmsg_keyinfo *k);

#endif
