/* Typed, size-checked messages between click2signd's processes over SOCK_SEQPACKET
 * socketpairs: one datagram = one message {type u32, length u32, body}. A permit table says
 * which peer may send which message in which state, and how large its body may be. */
#ifndef C2S_IPC_H
#define C2S_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

/* Fixed descriptors every child finds after exec (set up by the parent, firmware/daemon). */
#define IPC_FD_PARENT      3 /* SEQPACKET to the parent */
#define IPC_FD_LISTEN      4 /* web: main HTTPS listener */
#define IPC_FD_CERT_LISTEN 5 /* web: certificate listener */

#define IPC_HDR_LEN  8
#define IPC_MAX_BODY (64 * 1024)
#define IPC_MAX_FDS  64

enum ipc_type {
	/* web -> keyholder */
	IPC_STATUS_REQ = 1,  /* empty */
	IPC_KEYINFO_REQ = 2, /* str key */
	/* 3 was a generic "sign this digest": removed, there is no such message */
	IPC_SEAL_ATTRS_REQ = 4, /* str key, blob signed-attributes DER (SET) */
	/* customer signing (khmsg.h: struct khmsg_manifest, khmsg_otp, khmsg_sign_doc) */
	IPC_MANIFEST_REQ = 5,    /* the portal-signed order manifest, verified by the keyholder */
	IPC_OTP_SEND_REQ = 6,    /* str order: draw a code, send it to the manifest's phone */
	IPC_OTP_VERIFY_REQ = 7,  /* str order, str code: a SAD for the manifest's documents */
	IPC_SIGN_DOC_REQ = 8,    /* SAD, document n, SHA-256 midstate of the original, update */
	IPC_ORDER_END_REQ = 9,   /* str order, u8 why: the order ended; keys and SADs die */
	IPC_CHECKPOINT_REQ = 10, /* u64 seq, 32-byte head hash of the audit chain */
	IPC_ASSERTION_REQ = 11,  /* str account, str order (may be ""): a login assertion */
	/* keyholder -> web */
	IPC_STATUS_RESP = 16,
	IPC_KEYINFO_RESP = 17,
	IPC_SIGN_RESP = 18,       /* blob signature */
	IPC_ERROR_RESP = 19,      /* u32 c2s_err, str detail */
	IPC_DONE_RESP = 20,       /* u32 count: manifest accepted (documents), order ended */
	IPC_OTP_RESP = 21,        /* struct khmsg_otp: outcome of a send or a verify */
	IPC_SIGN_DOC_RESP = 22,   /* struct khmsg_signed: attributes, signature, certificates */
	IPC_CHECKPOINT_RESP = 23, /* u64 at, blob signature, blob seal certificate */
	IPC_ASSERTION_RESP = 26,  /* str compact JWS the keyholder assembled and signed */
	/* keyholder -> notify */
	IPC_SMS_REQ = 24,  /* str to, str text: the one-time code; only the keyholder sends it */
	IPC_SMS_RESP = 25, /* u32 c2s_err: queued (durably) or not */
	/* parent -> child */
	IPC_CHANNELS = 32,       /* u32 generation + SCM_RIGHTS fds */
	IPC_SHUTDOWN = 33,       /* empty */
	IPC_NOTIFY_CHANNEL = 34, /* keyholder: empty + one SCM_RIGHTS fd, its channel to notify */
	/* child -> parent */
	IPC_READY = 40, /* empty */
};

/* Who sent a message, from the receiver's point of view. */
enum ipc_peer {
	IPC_PEER_WEB = 1,
	IPC_PEER_KEYHOLDER = 2,
	IPC_PEER_PARENT = 4,
	IPC_PEER_CHILD = 8,
	IPC_PEER_NOTIFY = 16,
};

/* Receiver states the permit table distinguishes. */
enum ipc_state {
	IPC_ST_STARTING = 1, /* keyholder: token not (yet) usable */
	IPC_ST_READY = 2,    /* keyholder: logged in, keys found */
	IPC_ST_ANY = 3,
};

struct ipc_msg {
	uint32_t type;
	struct buf body; /* view into the receive buffer */
	int fds[IPC_MAX_FDS];
	size_t nfds;
};

/* One row of a receiver's dispatch table, in the style of OpenSSH's monitor table: the
 * message, the peers it may come from, the receiver states it is handled in, its body bounds,
 * how many file descriptors it may carry, and its handler. Each receiving process has one
 * table; there is no default handler. `fn` is NULL only in a table of replies, whose message
 * goes back to the caller that waits for it. */
struct ipc_row {
	uint32_t type;
	unsigned peers;  /* enum ipc_peer mask */
	unsigned states; /* enum ipc_state mask of the receiver */
	size_t min, max; /* body bytes */
	size_t max_fds;  /* SCM_RIGHTS descriptors allowed (0: none) */
	c2s_err (*fn)(void *ctx, int fd, struct ipc_msg *m);
};

/* Route `m` from `peer` through `tab` for a receiver in `state`:
 * - C2S_OK, *row set: handle it with (*row)->fn;
 * - C2S_ERR_IPC_PERMIT, *row set: a known message outside the states of its row; answer
 *   with the state's reason and keep the channel;
 * - C2S_ERR_IPC_MALFORMED, *row NULL: no row for this type and peer, a body out of bounds
 *   or descriptors the row does not expect; the caller drops the channel.
 * On C2S_ERR_IPC_MALFORMED and C2S_ERR_IPC_PERMIT the message's descriptors are closed. */
C2S_MUST_CHECK c2s_err ipc_route(const struct ipc_row *tab, size_t n, enum ipc_peer peer,
                                 unsigned state, struct ipc_msg *m, const struct ipc_row **row);
#define IPC_ROWS(tab) (tab), (sizeof(tab) / sizeof((tab)[0]))
/* Close the descriptors a message carried (idempotent). */
void ipc_msg_close_fds(struct ipc_msg *m);
const char *ipc_type_name(uint32_t type);

/* Frame a message into `out` (header + body); checks the body size. */
C2S_MUST_CHECK c2s_err ipc_encode(uint32_t type, const void *body, size_t len, struct buf *out);
/* Parse one datagram: header, a known type, declared length == actual, body <= IPC_MAX_BODY. */
C2S_MUST_CHECK c2s_err ipc_decode(const uint8_t *p, size_t n, struct ipc_msg *m);

/* Send/receive one message on a SEQPACKET socket (blocking; EINTR retried). */
C2S_MUST_CHECK c2s_err ipc_send(int fd, uint32_t type, const void *body, size_t len);
C2S_MUST_CHECK c2s_err ipc_send_fds(int fd, uint32_t type, const void *body, size_t len,
                                    const int *fds, size_t nfds);
/* `rxbuf` must hold IPC_HDR_LEN + IPC_MAX_BODY bytes; m->body points into it.
 * timeout_ms < 0 waits forever. C2S_ERR_IPC on EOF or a socket error, C2S_ERR_TIMEOUT on
 * timeout, C2S_ERR_IPC_MALFORMED on a bad frame, a truncated datagram or truncated control
 * data (too many descriptors); the caller drops the peer. Descriptors are taken only from a
 * successful receive, and closed on every error. */
C2S_MUST_CHECK c2s_err ipc_recv(int fd, uint8_t *rxbuf, struct ipc_msg *m, int timeout_ms);

/* Helpers for the common bodies. */
C2S_MUST_CHECK c2s_err ipc_send_error(int fd, c2s_err code, const char *detail);
/* Reads an IPC_ERROR_RESP body. */
C2S_MUST_CHECK c2s_err ipc_parse_error(struct ipc_msg *m, c2s_err *code, char *detail, size_t cap);

#endif
