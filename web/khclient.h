/* c2s-web's side of the keyholder channels: a pool of SEQPACKET sockets handed over by the
 * parent (replaced whenever either process restarts), one request in flight per socket. */
#ifndef C2S_KHCLIENT_H
#define C2S_KHCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"

C2S_MUST_CHECK c2s_err khc_init(void);
void khc_fini(void);
/* Replace the pool with fresh channels (takes ownership of the fds). */
void khc_set_channels(uint32_t generation, const int *fds, size_t n);
/* Generation of the current channel set (0 = none yet). */
uint32_t khc_generation(void);

/* One round-trip. On success *resp_type and resp (a malloc'd copy of the body) are set; an
 * IPC_ERROR_RESP is turned into its code with `detail`. If the keyholder goes away mid-call,
 * waits up to `wait_ms` for new channels and retries once (requests are idempotent). */
C2S_MUST_CHECK c2s_err khc_call(uint32_t type, const void *body, size_t len, int timeout_ms,
                                uint32_t *resp_type, struct buf *resp, char *detail,
                                size_t detail_cap);

C2S_MUST_CHECK c2s_err khc_status(struct khmsg_status *st, char *detail, size_t cap);
/* Caller must khmsg_keyinfo_free. */
C2S_MUST_CHECK c2s_err khc_keyinfo(const char *key, struct khmsg_keyinfo *ki, char *detail,
                                   size_t cap);
C2S_MUST_CHECK c2s_err khc_seal_attrs(const char *key, const uint8_t *attrs, size_t len,
                                      uint8_t *sig, size_t *sig_len, char *detail, size_t cap);

/* Customer signing: the keyholder's Signature Activation Module (docs/SAM.md). */
C2S_MUST_CHECK c2s_err khc_manifest(const char *order, const char *jws, size_t jws_len,
                                    uint32_t expires_in, char *detail, size_t cap);
/* OTP_RESP's result says whether a code was sent (or why not). */
C2S_MUST_CHECK c2s_err khc_otp_send(const char *order, struct khmsg_otp *o, char *detail,
                                    size_t cap);
C2S_MUST_CHECK c2s_err khc_otp_verify(const char *order, const char *code, struct khmsg_otp *o,
                                      char *detail, size_t cap);
/* On success `resp` holds the IPC_SIGN_DOC_RESP body (decode with khmsg_signed_decode). */
C2S_MUST_CHECK c2s_err khc_sign_doc(const struct khmsg_sign_doc *d, struct buf *resp, char *detail,
                                    size_t cap);
/* The audit head signed by the keyholder; `resp`: u64 at, blob signature, blob certificate. */
C2S_MUST_CHECK c2s_err khc_checkpoint(int64_t seq, const uint8_t head[32], struct buf *resp,
                                      char *detail, size_t cap);
C2S_MUST_CHECK c2s_err khc_order_end(const char *order, uint8_t why, char *detail, size_t cap);
/* A login assertion for `account` (and `order`, or ""), assembled and signed by the keyholder:
 * a malloc'd compact JWS in *jws. */
C2S_MUST_CHECK c2s_err khc_assertion(const char *account, const char *order, char **jws,
                                     char *detail, size_t cap);

#endif
