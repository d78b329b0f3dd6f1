/* Fuzz target for the PDF reader and update writer: pdf_prepare (+ pdf_set_contents and
 * pdf_signed_ranges) on arbitrary bytes must never crash, leak or overrun; a successful
 * update must keep the ByteRange consistent with the output it describes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/pades/pdf.h"

struct acc {
	size_t n;
	uint8_t x; /* touches every byte, so ASan sees a bad range */
};

static void sum(void *ctx, const uint8_t *p, size_t n)
{
	struct acc *a = ctx;
	for (size_t i = 0; i < n; i++)
		a->x ^= p[i];
	a->n += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	struct pdf_sig_params p = {.name = "Fuzz Čšž",
	                           .reason = "fuzz (test)",
	                           .when = 1700000000,
	                           .contents_max = 64,
	                           .field_name = "Signature1"};
	struct pdf_prepared pp;
	char why[256];
	if (pdf_prepare(data, size, 0, &p, &pp, why, sizeof(why)) != C2S_OK)
		return 0;
	if (pdf_set_contents(&pp, der, sizeof(der)) != C2S_OK)
		abort();
	struct acc a = {0};
	pdf_signed_ranges(&pp, data, sum, &a);
	if (pp.orig_len != size || a.n + 2 * pp.contents_max + 2 != size + pp.update.len ||
	    pp.range[2] + pp.range[3] != size + pp.update.len)
		abort();
	pdf_prepared_free(&pp);
	return 0;
}
