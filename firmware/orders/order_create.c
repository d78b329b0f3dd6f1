/* order_create: the order, its files, the link's hash, the "created" event and the notices it
 * causes, in one transaction. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "firmware/base/log.h"
#include "orders.h"
#include "orders_int.h"
#include "outbox.h"

#define ORDER_URL_MAX 512

/* ---- creation ---- */

static int order_text_ok(const char *s, size_t min, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;
	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int order_email_ok(const char *e)
{
	const char *at = e ? strchr(e, '@') : NULL;
	if (!order_text_ok(e, 3, ORDER_EMAIL_MAX - 1) || !at || at == e || !at[1] ||
	    strchr(at + 1, '@'))
		return 0;
	for (const char *p = e; *p; p++)
		if (*p == ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';')
			return 0;
	return 1;
}

static int order_phone_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (n < 9 || n > 16 || p[0] != '+')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			return 0;
	return 1;
}

static int order_token_ok(const char *t, size_t min, size_t max)
{
	size_t n = t ? strnlen(t, max + 1) : 0;
	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '-' && t[i] != '_')
			return 0;
	return 1;
}

static c2s_err order_files_check(const struct order_file_new *f, size_t n, const char *what,
                                 char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	for (size_t i = 0; i < n; i++) {
		if (!order_text_ok(f[i].title, 1, ORDER_NAME_MAX - 1))
			WHY(C2S_ERR_ARG, "%s[%zu].title must be 1 to %d characters of text", what,
			    i, ORDER_NAME_MAX - 1);
		if (!order_text_ok(f[i].filename, 1, ORDER_NAME_MAX - 1) ||
		    strchr(f[i].filename, '/') || strchr(f[i].filename, '"'))
			WHY(C2S_ERR_ARG,
			    "%s[%zu].filename must be 1 to %d characters without '/' or '\"'", what,
			    i, ORDER_NAME_MAX - 1);
		if (f[i].size > INT64_MAX)
			WHY(C2S_ERR_ARG, "%s[%zu] is too large", what, i);
	}
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err order_new_check(const struct order_new *n, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	const struct order_person *p = &n->subscriber;
	if (n->id && !order_token_ok(n->id, 1, ORDER_ID_MAX - 1))
		WHY(C2S_ERR_ARG, "the order id must be 1 to 64 of A-Z a-z 0-9 - _");
	if (!order_text_ok(n->client, 1, ORDER_CLIENT_MAX - 1))
		WHY(C2S_ERR_ARG, "the API client name is missing or too long");
	if (!order_text_ok(n->reference, 1, ORDER_REFERENCE_MAX - 1))
		WHY(C2S_ERR_ARG, "reference must be 1 to %d characters of text",
		    ORDER_REFERENCE_MAX - 1);
	if (n->locale && strcmp(n->locale, "sl") != 0 && strcmp(n->locale, "en") != 0)
		WHY(C2S_ERR_ARG, "locale must be \"sl\" or \"en\"");
	if (!order_text_ok(p->given_name, 1, ORDER_NAME_MAX - 1) ||
	    !order_text_ok(p->family_name, 1, ORDER_NAME_MAX - 1))
		WHY(C2S_ERR_ARG, "subscriber.given_name and family_name must be 1 to %d characters",
		    ORDER_NAME_MAX - 1);
	if (!order_email_ok(p->email))
		WHY(C2S_ERR_ARG, "subscriber.email is not an e-mail address");
	if (!order_phone_ok(p->phone))
		WHY(C2S_ERR_ARG, "subscriber.phone must be in E.164 form, e.g. +38641123456");
	if (n->n_documents < 1 || n->n_documents > ORDER_MAX_DOCUMENTS || !n->documents)
		WHY(C2S_ERR_ARG, "an order has 1 to %d documents", ORDER_MAX_DOCUMENTS);
	if (n->n_attachments > ORDER_MAX_ATTACHMENTS || (n->n_attachments && !n->attachments))
		WHY(C2S_ERR_ARG, "an order has at most %d attachments", ORDER_MAX_ATTACHMENTS);
	GUARD(order_files_check(n->documents, n->n_documents, "documents", why, why_cap));
	GUARD(order_files_check(n->attachments, n->n_attachments, "attachments", why, why_cap));
	if (n->expires_in &&
	    (n->expires_in < ORDER_EXPIRES_MIN || n->expires_in > ORDER_EXPIRES_MAX))
		WHY(C2S_ERR_ARG, "expires_in must be %d to %d seconds", ORDER_EXPIRES_MIN,
		    ORDER_EXPIRES_MAX);
	if (!order_token_ok(n->link_token, 22, 128)) /* >= 128 bits of base64url */
		WHY(C2S_ERR_ARG, "the link token is missing or too short");
	if (!order_text_ok(n->public_url, 8, ORDER_URL_MAX) ||
	    (strncmp(n->public_url, "https://", 8) != 0 &&
	     strncmp(n->public_url, "http://", 7) != 0))
		WHY(C2S_ERR_ARG, "the appliance's public URL is not set ([web] public_url)");
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err order_insert_tx(struct store *s, const struct order_new *n, const char *id,
                               const uint8_t link_sha[32], int64_t now)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	char *sub = NULL, *acc = NULL;
	const struct order_person *p = &n->subscriber;
	json_t *sj = json_pack("{ss ss ss ss}", "given_name", p->given_name, "family_name",
	                       p->family_name, "email", p->email, "phone", p->phone);
	json_t *empty = n->account ? NULL : json_object();
	sub = sj ? od_json_text(sj) : NULL;
	acc = od_json_text(n->account ? n->account : empty);
	ENSURE(sub && acc, C2S_ERR_NOMEM);
	GUARD(od_prep(s,
	              "INSERT INTO orders(id, client, reference, body_sha256, status, locale, "
	              "subscriber, account, manifest, link_sha256, created_at, expires_at) "
	              "VALUES (?1, ?2, ?3, ?4, 'awaiting_signature', ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	              &st));
	GUARD(od_bound(
	    s,
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
	        sqlite3_bind_text(st, 2, n->client, -1, SQLITE_STATIC) |
	        sqlite3_bind_text(st, 3, n->reference, -1, SQLITE_STATIC) |
	        sqlite3_bind_blob(st, 4, n->body_sha256, 32, SQLITE_STATIC) |
	        sqlite3_bind_text(st, 5, n->locale ? n->locale : "sl", -1, SQLITE_STATIC) |
	        sqlite3_bind_text(st, 6, sub, -1, SQLITE_STATIC) |
	        sqlite3_bind_text(st, 7, acc, -1, SQLITE_STATIC) |
	        sqlite3_bind_text(st, 8, n->manifest ? n->manifest : "", -1, SQLITE_STATIC) |
	        sqlite3_bind_blob(st, 9, link_sha, 32, SQLITE_STATIC) |
	        sqlite3_bind_int64(st, 10, now) |
	        sqlite3_bind_int64(st, 11,
	                           now + (n->expires_in ? n->expires_in : ORDER_EXPIRES_DEFAULT)),
	    "order"));
	GUARD(od_exec(s, st, "insert order"));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	json_decref(sj);
	json_decref(empty);
	free(sub);
	free(acc);
	return ret;
}

static c2s_err order_insert_files_tx(struct store *s, const char *id, const char *kind,
                                     const struct order_file_new *f, size_t n)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	GUARD(od_prep(s,
	              "INSERT INTO documents(order_id, kind, idx, title, filename, sha256, size) "
	              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	              &st));
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		GUARD(od_bound(s,
		               sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
		                   sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC) |
		                   sqlite3_bind_int64(st, 3, (int64_t)i) |
		                   sqlite3_bind_text(st, 4, f[i].title, -1, SQLITE_STATIC) |
		                   sqlite3_bind_text(st, 5, f[i].filename, -1, SQLITE_STATIC) |
		                   sqlite3_bind_blob(st, 6, f[i].sha256, 32, SQLITE_STATIC) |
		                   sqlite3_bind_int64(st, 7, (int64_t)f[i].size),
		               "document"));
		GUARD(od_exec(s, st, "insert document"));
	}
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

/* The "created" event: what the order is, as hashes (no personal data in the chain). */
static c2s_err order_created_event_tx(struct store *s, const struct order_info *o, int64_t now)
{
	c2s_err ret = C2S_ERR_NOMEM;
	json_t *docs = json_array(), *atts = json_array(), *data = NULL;
	ENSURE(docs && atts, C2S_ERR_NOMEM);
	for (size_t i = 0; i < o->n_documents + o->n_attachments; i++) {
		const struct order_doc *d = &o->docs[i];
		ENSURE(json_array_append_new(d->kind == ORDER_DOC_DOCUMENT ? docs : atts,
		                             od_json_hex(d->sha256, 32)) == 0,
		       C2S_ERR_NOMEM);
	}
	data = json_pack("{ss ss so so so sI}", "client", o->client, "reference", o->reference,
	                 "body_sha256", od_json_hex(o->body_sha256, 32), "documents", docs,
	                 "attachments", atts, "expires_at", (json_int_t)o->expires_at);
	docs = atts = NULL;
	ENSURE(data, C2S_ERR_NOMEM);
	GUARD(audit_append(s, o->id, now, "created", data, NULL));
	ret = C2S_OK;
out:
	json_decref(docs);
	json_decref(atts);
	json_decref(data);
	return ret;
}

/* The link e-mail (the link is its secret: redacted once delivered) and the SMS notice. */
static c2s_err order_created_notices_tx(struct store *s, const struct order_info *o,
                                        const struct order_new *n, int64_t now)
{
	c2s_err ret = C2S_ERR_NOMEM;
	char link[ORDER_URL_MAX + 160];
	size_t ul = strlen(n->public_url);
	json_t *mail = NULL, *sms = NULL;
	while (ul && n->public_url[ul - 1] == '/')
		ul--;
	ENSURE((size_t)snprintf(link, sizeof(link), "%.*s/s/%s", (int)ul, n->public_url,
	                        n->link_token) < sizeof(link),
	       C2S_ERR_ARG);
	mail = notice_link_email(o, link);
	sms = notice_link_sms(o);
	ENSURE(mail && sms, C2S_ERR_NOMEM);
	GUARD(outbox_add(s, "email", o->id, mail, n->link_token, now));
	GUARD(outbox_add(s, "sms", o->id, sms, NULL, now));
	ret = C2S_OK;
out:
	explicit_bzero(link, sizeof(link));
	if (mail) {
		/* the text holds the link: wipe it before it goes back to the allocator */
		json_t *t = json_object_get(mail, "text");
		const char *v = json_string_value(t);
		if (v)
			explicit_bzero((char *)(uintptr_t)v, strlen(v));
	}
	json_decref(mail);
	json_decref(sms);
	return ret;
}

/* Inside the transaction: an order with this (client, reference) already exists. */
static c2s_err order_existing_tx(struct store *s, const struct order_new *n, struct order_info *out,
                                 int *found, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	char id[ORDER_ID_MAX];
	uint8_t body[32];
	*found = 0;
	GUARD(od_prep(s, "SELECT id, body_sha256 FROM orders WHERE client = ?1 AND reference = ?2",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_text(st, 1, n->client, -1, SQLITE_STATIC) |
	                   sqlite3_bind_text(st, 2, n->reference, -1, SQLITE_STATIC),
	               "order by reference"));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = C2S_OK;
		goto out;
	}
	GUARD(store_rc(s, rc, "order by reference"));
	od_col_text(st, 0, id, sizeof(id));
	ENSURE(od_col_sha(st, 1, body), C2S_ERR_STORE);
	if (memcmp(body, n->body_sha256, 32) != 0)
		WHY(C2S_ERR_CONFLICT,
		    "order %s already exists for reference \"%s\" with different content; send "
		    "the same body again to read it, or use a new reference",
		    id, n->reference);
	GUARD(order_load_tx(s, id, out));
	*found = 1;
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err order_create(struct store *s, const struct order_new *n, int64_t now,
                     struct order_info *out, int *existed, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	char id[ORDER_ID_MAX];
	uint8_t link_sha[32];
	int tx = 0, found = 0;
	*existed = 0;
	if (why && why_cap)
		why[0] = 0;
	GUARD(order_new_check(n, why, why_cap));
	if (n->id)
		snprintf(id, sizeof(id), "%s", n->id);
	else
		GUARD(order_id_derive(n->client, n->reference, id, sizeof(id)));
	order_link_hash(n->link_token, link_sha);
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(order_existing_tx(s, n, out, &found, why, why_cap));
	if (found) {
		*existed = 1; /* nothing written, nothing sent again */
		ret = C2S_OK;
		goto out;
	}
	GUARD(order_insert_tx(s, n, id, link_sha, now));
	GUARD(order_insert_files_tx(s, id, "document", n->documents, n->n_documents));
	GUARD(order_insert_files_tx(s, id, "attachment", n->attachments, n->n_attachments));
	GUARD(order_load_tx(s, id, out));
	GUARD(order_created_event_tx(s, out, now));
	GUARD(order_created_notices_tx(s, out, n, now));
	tx = 0;
	GUARD(store_tx_commit(s));
	log_info("order %s created for %s reference %s: %zu documents, %zu attachments", id,
	         n->client, n->reference, n->n_documents, n->n_attachments);
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	if (ret != C2S_OK && why && why_cap && !why[0])
		snprintf(why, why_cap, "%s", c2s_err_message(ret));
	return ret;
}
