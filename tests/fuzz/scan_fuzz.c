/* Fuzz target for the keyholder's update scan: scan_update over arbitrary bytes as the
 * update of a 1000-byte original must never crash, leak, overrun or run away; whatever it
 * accepts must describe itself consistently (the /Contents hole inside the update and
 * excluded by the /ByteRange, one signature and one field), and scan_digest must work on it.
 * Seeds (tests/fuzz/corpus/scan_fuzz/): updates pdf_prepare wrote (contents_max 16) for
 * hand-made 1000-byte originals (new field, xref stream, indirect /Annots, filled empty
 * field, direct AcroForm with an indirect /Fields), and a few refused variants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/keyholder/scan_int.h"

#define ORIG_LEN 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_result r;
	char why[256];
	c2s_err e = scan_update(data, size, ORIG_LEN, &r, why, sizeof(why));
	if (e != C2S_OK) {
		if (e != C2S_ERR_UPDATE_REFUSED && e != C2S_ERR_TOO_BIG)
			abort();
		if (!why[0] || r.n_objs)
			abort();
		return 0;
	}
	if (r.orig_len != ORIG_LEN || r.hole_len < 4 || r.hole_off + r.hole_len > size ||
	    data[r.hole_off] != '<' || data[r.hole_off + r.hole_len - 1] != '>' ||
	    r.range[0] != 0 || r.range[1] != ORIG_LEN + r.hole_off ||
	    r.range[2] != r.range[1] + r.hole_len || r.range[2] + r.range[3] != ORIG_LEN + size)
		abort();
	int sigs = 0, fields = 0;
	for (size_t i = 0; i < r.n_objs; i++) {
		sigs += r.objs[i].role == SCAN_SIG;
		fields += r.objs[i].role == SCAN_FIELD;
		if (r.objs[i].role == SCAN_NONE || r.objs[i].off >= size)
			abort();
	}
	if (sigs != 1 || fields != 1)
		abort();
	static const uint8_t orig[ORIG_LEN];
	struct c2s_sha256 c;
	uint8_t md[32];
	c2s_sha256_init(&c);
	c2s_sha256_update(&c, orig, ORIG_LEN);
	if (scan_digest(&c, data, size, &r, md) != C2S_OK)
		abort();
	return 0;
}
