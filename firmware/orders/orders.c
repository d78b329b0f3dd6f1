/* Orders: creation (one transaction with its documents, event and notices), lookup, links. */
#include "orders.h"

#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "audit.h"
#include "firmware/base/json.h"
#include "firmware/base/log.h"
#include "orders_int.h"
#include "outbox.h"

static const char *const order_status_names[] = {
    [ORDER_AWAITING_SIGNATURE] = "awaiting_signature",
    [ORDER_SIGNED] = "signed",
    [ORDER_EXPIRED] = "expired",
    [ORDER_CANCELLED] = "cancelled",
};

const char *order_status_name(enum order_status st)
{
	return (unsigned)st < sizeof(order_status_names) / sizeof(order_status_names[0])
	           ? order_status_names[st]
	           : "unknown";
}

static int order_status_parse(const char *s, enum order_status *st)
{
	for (size_t i = 0; i < sizeof(order_status_names) / sizeof(order_status_names[0]); i++) {
		if (strcmp(s, order_status_names[i]) == 0) {
			*st = (enum order_status)i;
			return 0;
		}
	}
	return -1;
}

/* ---- links and ids ---- */

c2s_err order_link_new(char *token, size_t cap, uint8_t sha[32])
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t rnd[32];
	unsigned char b64[48];
	size_t olen = 0;
	ENSURE(token && cap > ORDER_LINK_TOKEN_LEN, C2S_ERR_ARG);
	ENSURE(getrandom(rnd, sizeof(rnd), 0) == sizeof(rnd), C2S_ERR_INTERNAL);
	ENSURE(mbedtls_base64_encode(b64, sizeof(b64), &olen, rnd, sizeof(rnd)) == 0,
	       C2S_ERR_INTERNAL);
	for (size_t i = 0; i < olen; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	while (olen && b64[olen - 1] == '=')
		olen--;
	ENSURE(olen == ORDER_LINK_TOKEN_LEN, C2S_ERR_INTERNAL);
	memcpy(token, b64, olen);
	token[olen] = 0;
	order_link_hash(token, sha);
	ret = C2S_OK;
out:
	explicit_bzero(rnd, sizeof(rnd));
	explicit_bzero(b64, sizeof(b64));
	if (ret != C2S_OK && token && cap)
		explicit_bzero(token, cap);
	return ret;
}

void order_link_hash(const char *token, uint8_t sha[32])
{
	if (od_sha256(token, strlen(token), sha) != C2S_OK)
		memset(sha, 0xff, 32); /* never the hash of a real token */
}

c2s_err order_id_derive(const char *client, const char *reference, char *id, size_t cap)
{
	c2s_err ret = C2S_ERR_ARG;
	static const char tag[] = "c2s-order-id";
	uint8_t buf[sizeof(tag) + ORDER_CLIENT_MAX + ORDER_REFERENCE_MAX], h[32];
	size_t cl, rl;
	ENSURE(client && reference && cap >= 26, C2S_ERR_ARG);
	cl = strlen(client);
	rl = strlen(reference);
	ENSURE(cl < ORDER_CLIENT_MAX && rl < ORDER_REFERENCE_MAX, C2S_ERR_ARG);
	memcpy(buf, tag, sizeof(tag)); /* with its NUL: the separator */
	memcpy(buf + sizeof(tag), client, cl + 1);
	memcpy(buf + sizeof(tag) + cl + 1, reference, rl);
	GUARD(od_sha256(buf, sizeof(tag) + cl + 1 + rl, h));
	id[0] = 'o';
	od_hex(h, 12, id + 1);
	ret = C2S_OK;
out:
	return ret;
}

/* ---- loading ---- */

static c2s_err order_person_from_json(const char *text, struct order_person *p)
{
	json_t *j = NULL;
	if (!text)
		text = "{}";
	/* a name read back with a byte missing would be worse than no order */
	if (c2s_json_parse(text, strlen(text), 0, &j, NULL) == C2S_ERR_NOMEM)
		return C2S_ERR_NOMEM;
	const char *g = json_string_value(json_object_get(j, "given_name"));
	const char *f = json_string_value(json_object_get(j, "family_name"));
	const char *e = json_string_value(json_object_get(j, "email"));
	const char *ph = json_string_value(json_object_get(j, "phone"));
	snprintf(p->given_name, sizeof(p->given_name), "%s", g ? g : "");
	snprintf(p->family_name, sizeof(p->family_name), "%s", f ? f : "");
	snprintf(p->email, sizeof(p->email), "%s", e ? e : "");
	snprintf(p->phone, sizeof(p->phone), "%s", ph ? ph : "");
	json_decref(j);
	return C2S_OK;
}

static c2s_err order_load_docs_tx(struct store *s, struct order_info *o)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	int rc;
	GUARD(od_prep(s,
	              "SELECT kind, idx, title, filename, sha256, size, status, signed_sha256, "
	              "signed_size, signed_at FROM documents WHERE order_id = ?1 "
	              "ORDER BY kind = 'attachment', idx",
	              &st));
	GUARD(od_bound(s, sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC), "documents"));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t n = o->n_documents + o->n_attachments;
		ENSURE(n < sizeof(o->docs) / sizeof(o->docs[0]), C2S_ERR_STORE);
		struct order_doc *d = &o->docs[n];
		memset(d, 0, sizeof(*d));
		d->kind = strcmp((const char *)sqlite3_column_text(st, 0), "document") == 0
		              ? ORDER_DOC_DOCUMENT
		              : ORDER_DOC_ATTACHMENT;
		d->idx = sqlite3_column_int(st, 1);
		od_col_text(st, 2, d->title, sizeof(d->title));
		od_col_text(st, 3, d->filename, sizeof(d->filename));
		ENSURE(od_col_sha(st, 4, d->sha256), C2S_ERR_STORE);
		d->size = sqlite3_column_int64(st, 5);
		d->is_signed = strcmp((const char *)sqlite3_column_text(st, 6), "signed") == 0;
		if (d->is_signed) {
			ENSURE(od_col_sha(st, 7, d->signed_sha256), C2S_ERR_STORE);
			d->signed_size = sqlite3_column_int64(st, 8);
			d->signed_at = sqlite3_column_int64(st, 9);
		}
		if (d->kind == ORDER_DOC_DOCUMENT)
			o->n_documents++;
		else
			o->n_attachments++;
	}
	GUARD(store_rc(s, rc, "documents"));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err order_load_tx(struct store *s, const char *id, struct order_info *o)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	char status[32];
	memset(o, 0, sizeof(*o));
	ENSURE(id && id[0] && strlen(id) < ORDER_ID_MAX, C2S_ERR_NOT_FOUND);
	GUARD(
	    od_prep(s,
	            "SELECT id, client, reference, body_sha256, status, locale, subscriber, "
	            "created_at, expires_at, ended_at, coalesce(json_extract(account, '$.id'), '') "
	            "FROM orders WHERE id = ?1",
	            &st));
	GUARD(od_bound(s, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), "order"));
	int rc = sqlite3_step(st);
	ENSURE(rc == SQLITE_ROW, rc == SQLITE_DONE ? C2S_ERR_NOT_FOUND : store_rc(s, rc, "order"));
	od_col_text(st, 0, o->id, sizeof(o->id));
	od_col_text(st, 1, o->client, sizeof(o->client));
	od_col_text(st, 2, o->reference, sizeof(o->reference));
	ENSURE(od_col_sha(st, 3, o->body_sha256), C2S_ERR_STORE);
	od_col_text(st, 4, status, sizeof(status));
	ENSURE(order_status_parse(status, &o->status) == 0, C2S_ERR_STORE);
	od_col_text(st, 5, o->locale, sizeof(o->locale));
	GUARD(order_person_from_json((const char *)sqlite3_column_text(st, 6), &o->subscriber));
	o->created_at = sqlite3_column_int64(st, 7);
	o->expires_at = sqlite3_column_int64(st, 8);
	o->ended_at = sqlite3_column_int64(st, 9); /* NULL reads as 0 */
	if (sqlite3_column_type(st, 10) == SQLITE_TEXT)
		od_col_text(st, 10, o->account_id, sizeof(o->account_id));
	GUARD(order_load_docs_tx(s, o));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err order_get(struct store *s, const char *id, struct order_info *out)
{
	c2s_err ret = C2S_ERR_STORE;
	int tx = 0;
	GUARD(store_read_begin(s));
	tx = 1;
	GUARD(order_load_tx(s, id, out));
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	return ret;
}

c2s_err order_by_link(struct store *s, const uint8_t sha[32], int64_t now, struct order_info *out)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	char id[ORDER_ID_MAX];
	int tx = 0;
	memset(out, 0, sizeof(*out));
	GUARD(store_read_begin(s));
	tx = 1;
	/* looked up by the hash, a one-way function of the secret: timing tells nothing useful */
	GUARD(od_prep(s, "SELECT id FROM orders WHERE link_sha256 = ?1", &st));
	GUARD(od_bound(s, sqlite3_bind_blob(st, 1, sha, 32, SQLITE_STATIC), "link"));
	int rc = sqlite3_step(st);
	ENSURE(rc == SQLITE_ROW, rc == SQLITE_DONE ? C2S_ERR_NOT_FOUND : store_rc(s, rc, "link"));
	od_col_text(st, 0, id, sizeof(id));
	GUARD(order_load_tx(s, id, out));
	if (out->status == ORDER_SIGNED)
		ret = C2S_ERR_ORDER_CLOSED;
	else if (out->status != ORDER_AWAITING_SIGNATURE || now >= out->expires_at)
		ret = C2S_ERR_GONE;
	else
		ret = C2S_OK;
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	return ret;
}
