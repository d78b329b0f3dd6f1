/* Typed, size-checked messages between click2signd's processes over SOCK_SEQPACKET
 * socketpairs: one datagram = one message {type u32, length u32, body}. A permit table says
 * which peer may send which message in which state, and how large its body may be. */
#ifndef C2S_IPC_H
#define C2S_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define IPC_HDR_LEN  8
#define IPC_MAX_BODY (64 * 1024)
#define IPC_MAX_FDS  64

enum ipc_type {
	/* web -> keyholder */
	IPC_STATUS_REQ = 1,      /* empty */
	IPC_KEYINFO_REQ = 2,     /* str key */
	IPC_SIGN_DIGEST_REQ = 3, /* str key, u8 hash, blob digest */
	IPC_SEAL_ATTRS_REQ = 4,  /* str key, blob signed-attributes DER (SET) */
	/* keyholder -> web */
	IPC_STATUS_RESP = 16,
	IPC_KEYINFO_RESP = 17,
	IPC_SIGN_RESP = 18,  /* blob signature */
	IPC_ERROR_RESP = 19, /* u32 c2s_err, str detail */
	/* parent -> child */
	IPC_CHANNELS = 32, /* u32 generation + SCM_RIGHTS fds */
	IPC_SHUTDOWN = 33, /* empty */
	/* child -> parent */
	IPC_READY = 40, /* empty */
};

/* Who sent a message, from the receiver's point of view. */
enum ipc_peer { IPC_PEER_WEB = 1, IPC_PEER_KEYHOLDER = 2, IPC_PEER_PARENT = 4, IPC_PEER_CHILD = 8 };

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

/* Whether `peer` may send `type` with a body of `len` bytes to a receiver in `state`.
 * C2S_ERR_IPC_MALFORMED for unknown types and bad sizes, C2S_ERR_IPC_PERMIT for a known
 * message not allowed from that peer or in that state. */
C2S_MUST_CHECK c2s_err ipc_permit(enum ipc_peer peer, enum ipc_state state, uint32_t type,
                                  size_t len);
const char *ipc_type_name(uint32_t type);

/* Frame a message into `out` (header + body); checks the body size. */
C2S_MUST_CHECK c2s_err ipc_encode(uint32_t type, const void *body, size_t len, struct buf *out);
/* Parse one datagram: header, declared length == actual, body <= max for the type. */
C2S_MUST_CHECK c2s_err ipc_decode(const uint8_t *p, size_t n, struct ipc_msg *m);

/* Send/receive one message on a SEQPACKET socket (blocking; EINTR retried). */
C2S_MUST_CHECK c2s_err ipc_send(int fd, uint32_t type, const void *body, size_t len);
C2S_MUST_CHECK c2s_err ipc_send_fds(int fd, uint32_t type, const void *body, size_t len,
                                    const int *fds, size_t nfds);
/* `rxbuf` must hold IPC_HDR_LEN + IPC_MAX_BODY bytes; m->body points into it.
 * timeout_ms < 0 waits forever. C2S_ERR_IPC on EOF/error, C2S_ERR_TIMEOUT on timeout,
 * C2S_ERR_IPC_MALFORMED on a bad frame (the caller must drop the peer). Received fds are
 * closed on error. */
C2S_MUST_CHECK c2s_err ipc_recv(int fd, uint8_t *rxbuf, struct ipc_msg *m, int timeout_ms);

/* Helpers for the common bodies. */
C2S_MUST_CHECK c2s_err ipc_send_error(int fd, c2s_err code, const char *detail);
/* Reads an IPC_ERROR_RESP body. */
C2S_MUST_CHECK c2s_err ipc_parse_error(struct ipc_msg *m, c2s_err *code, char *detail, size_t cap);

#endif
