/* Fuzz target: the portal's order body (POST /v1/orders) as c2s-web parses it, through
 * web_order_parse: JSON syntax, the field allow-lists, strings, e-mail and phone checks, and the
 * documents' base64 decoding and hashing. What it accepts must hold what the rest of
 * web_order_create relies on; what it refuses must say why in a bounded, terminated detail.
 * The seeds are orders as tests/integration/orders_test.sh builds them, with small documents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PDF_MAX 4096 /* [web] pdf_max: small, so that the size limits are reached too */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct web_order_body o;
	struct web_refusal why;
	memset(&why, 0, sizeof(why));
	if (web_order_parse(data, size, PDF_MAX, &o, &why)) {
		if (!o.reference || !o.acc_id || !o.acc_given || !o.acc_family || !o.account ||
		    o.ndocs < 1 || o.ndocs > WEB_ORDER_MAX_DOCS || o.natts > WEB_ORDER_MAX_ATTS)
			abort();
		if (!o.sub.given_name[0] || !o.sub.email[0] || !strchr(o.sub.email, '@') ||
		    o.sub.phone[0] != '+')
			abort();
		for (size_t i = 0; i < o.ndocs + o.natts; i++) {
			const struct web_order_file *f =
			    i < o.ndocs ? &o.docs[i] : &o.atts[i - o.ndocs];
			if (!f->data || f->len == 0 || f->len > PDF_MAX || strlen(f->hex) != 64 ||
			    strchr(f->filename, '/') || !f->title[0])
				abort();
		}
	} else {
		if (strnlen(why.detail, sizeof(why.detail)) == sizeof(why.detail) ||
		    strnlen(why.path, sizeof(why.path)) == sizeof(why.path))
			abort();
		if (why.status != 0 && why.status != 400 && why.status != 413)
			abort();
		if (why.status && (!why.title || why.path[0] != '$'))
			abort();
	}
	web_order_body_free(&o);
	return 0;
}
