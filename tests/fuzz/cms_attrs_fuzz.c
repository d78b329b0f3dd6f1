/* Fuzz target: the keyholder's parser of CMS signed attributes (cms_attrs_check). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "firmware/pades/cms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *d = NULL;
	size_t dl = 0;
	if (cms_attrs_check(data, size, &d, &dl) == C2S_OK) {
		/* the digest points inside the input and has a SHA-2 length */
		if (d < data || dl > size || d + dl > data + size ||
		    (dl != 32 && dl != 48 && dl != 64))
			abort();
	}
	return 0;
}
