/* Fuzz target: everything the keyholder and c2s-web parse from each other. The input is
 * taken as one datagram: ipc_decode, the keyholder's dispatch table, then the body decoders. */
#include <stdint.h>
#include <string.h>

#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/keyholder/keyholder_int.h"

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	char detail[128], key[513];
	if (ipc_decode(data, size, &m) != C2S_OK)
		return 0;
	const struct ipc_row *row;
	m.nfds = 0;
	sink += ipc_route(kh_rows, kh_n_rows, IPC_PEER_WEB, IPC_ST_READY, &m, &row);
	sink += ipc_route(kh_rows, kh_n_rows, IPC_PEER_PARENT, IPC_ST_ANY, &m, &row);
	struct buf b = m.body;
	switch (m.type) {
	case IPC_STATUS_RESP: {
		struct khmsg_status s;
		sink += khmsg_status_decode(&b, &s);
		break;
	}
	case IPC_KEYINFO_RESP: {
		struct khmsg_keyinfo k;
		if (khmsg_keyinfo_decode(&b, &k) == C2S_OK)
			khmsg_keyinfo_free(&k);
		break;
	}
	case IPC_ERROR_RESP: {
		c2s_err code;
		sink += ipc_parse_error(&m, &code, detail, sizeof(detail));
		break;
	}
	default: {
		const uint8_t *p;
		size_t n;
		uint8_t h;
		if (buf_get_str(&b, key, sizeof(key)) == C2S_OK && buf_get_u8(&b, &h) == C2S_OK)
			sink += buf_get_blob(&b, &p, &n, 8192);
		break;
	}
	}
	return 0;
}
