/* Shared by orders_test.c and audit_test.c: a store in a mkdtemp directory, an order with two
 * documents and two attachments (bytes put as blobs), and raw queries to count and read rows. */
#ifndef C2S_ORDERS_TEST_COMMON_H
#define C2S_ORDERS_TEST_COMMON_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/orders/audit.h"
#include "firmware/orders/blob.h"
#include "firmware/orders/orders.h"
#include "firmware/orders/outbox.h"
#include "firmware/store/store.h"

#define T0         1700000000 /* a fixed "now"; tests move time themselves */
#define PUBLIC_URL "https://podpis.example.si/"

struct fx {
	char dir[256];
	struct store *s;
	char token[ORDER_LINK_TOKEN_LEN + 1];
	uint8_t link_sha[32];
	struct order_file_new docs[2], atts[2];
	struct order_new n;
	struct order_info info;
};

static int ot_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

__attribute__((unused)) static void ot_rmtree(const char *dir)
{
	nftw(dir, ot_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Puts a small PDF-ish blob whose bytes depend on `tag`. */
__attribute__((unused)) static void ot_blob(struct fx *f, const char *tag, uint8_t sha[32],
                                            uint64_t *size)
{
	char b[256];
	int n = snprintf(b, sizeof(b), "%%PDF-1.7\n%% %s\n%%%%EOF\n", tag);
	assert_int_equal(blob_put(f->dir, b, (size_t)n, sha), C2S_OK);
	*size = (uint64_t)n;
}

/* A fresh order description for `reference` (new link token every time). */
__attribute__((unused)) static void ot_order(struct fx *f, const char *reference)
{
	static const char *const dt[] = {"Naročniška pogodba", "Pooblastilo"};
	static const char *const df[] = {"pogodba.pdf", "pooblastilo.pdf"};
	static const char *const at[] = {"Cenik", "Splošni pogoji"};
	static const char *const af[] = {"cenik.pdf", "pogoji.pdf"};
	char tag[200];
	memset(&f->n, 0, sizeof(f->n));
	for (int i = 0; i < 2; i++) {
		f->docs[i].title = dt[i];
		f->docs[i].filename = df[i];
		snprintf(tag, sizeof(tag), "%s document %d", reference, i);
		ot_blob(f, tag, f->docs[i].sha256, &f->docs[i].size);
		f->atts[i].title = at[i];
		f->atts[i].filename = af[i];
		snprintf(tag, sizeof(tag), "attachment %d", i); /* the same for every order */
		ot_blob(f, tag, f->atts[i].sha256, &f->atts[i].size);
	}
	assert_int_equal(order_link_new(f->token, sizeof(f->token), f->link_sha), C2S_OK);
	f->n.client = "portal";
	f->n.reference = reference;
	memset(f->n.body_sha256, 0x42, 32);
	f->n.locale = "sl";
	snprintf(f->n.subscriber.given_name, ORDER_NAME_MAX, "Janez");
	snprintf(f->n.subscriber.family_name, ORDER_NAME_MAX, "Novak");
	snprintf(f->n.subscriber.email, ORDER_EMAIL_MAX, "janez.novak@example.si");
	snprintf(f->n.subscriber.phone, ORDER_PHONE_MAX, "+38641123456");
	f->n.documents = f->docs;
	f->n.n_documents = 2;
	f->n.attachments = f->atts;
	f->n.n_attachments = 2;
	f->n.link_token = f->token;
	f->n.public_url = PUBLIC_URL;
}

__attribute__((unused)) static void ot_create(struct fx *f, const char *reference, int64_t now)
{
	char why[300] = "";
	int existed = -1;
	ot_order(f, reference);
	c2s_err e = order_create(f->s, &f->n, now, &f->info, &existed, why, sizeof(why));
	if (e != C2S_OK)
		fail_msg("order_create: %s: %s", c2s_err_name(e), why);
	assert_int_equal(existed, 0);
}

static int ot_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/c2s-orders-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(f->dir) || store_open(f->dir, &f->s) != C2S_OK)
		return -1;
	*state = f;
	return 0;
}

static int ot_teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	ot_rmtree(f->dir);
	free(f);
	return 0;
}

__attribute__((unused)) static long long ot_int(struct fx *f, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_prepare_v2(store_db(f->s), sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(store_db(f->s)));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

__attribute__((unused)) static void ot_exec(struct fx *f, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(store_db(f->s), sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* Row counts of every order table, to compare before and after. */
struct ot_counts {
	long long orders, documents, events, checkpoints, outbox, sessions;
};

__attribute__((unused)) static struct ot_counts ot_count(struct fx *f)
{
	struct ot_counts c = {
	    ot_int(f, "SELECT count(*) FROM orders"), ot_int(f, "SELECT count(*) FROM documents"),
	    ot_int(f, "SELECT count(*) FROM events"), ot_int(f, "SELECT count(*) FROM checkpoints"),
	    ot_int(f, "SELECT count(*) FROM outbox"), ot_int(f, "SELECT count(*) FROM sessions"),
	};
	return c;
}

__attribute__((unused)) static void ot_same_counts(struct ot_counts a, struct ot_counts b)
{
	assert_int_equal(a.orders, b.orders);
	assert_int_equal(a.documents, b.documents);
	assert_int_equal(a.events, b.events);
	assert_int_equal(a.checkpoints, b.checkpoints);
	assert_int_equal(a.outbox, b.outbox);
	assert_int_equal(a.sessions, b.sessions);
}

/* The n-th (0-based) outbox payload of a channel for an order, parsed (decref it); NULL when
 * there is none. */
__attribute__((unused)) static json_t *ot_payload(struct fx *f, const char *id, const char *channel,
                                                  int nth)
{
	sqlite3_stmt *st = NULL;
	json_t *j = NULL;
	assert_int_equal(sqlite3_prepare_v2(store_db(f->s),
	                                    "SELECT payload FROM outbox WHERE order_id = ?1 AND "
	                                    "channel = ?2 ORDER BY id LIMIT 1 OFFSET ?3",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, nth);
	if (sqlite3_step(st) == SQLITE_ROW) {
		json_error_t err;
		j = json_loads((const char *)sqlite3_column_text(st, 0), 0, &err);
		if (!j)
			fail_msg("payload is not JSON: %s", err.text);
	}
	sqlite3_finalize(st);
	return j;
}

__attribute__((unused)) static const char *ot_str(const json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));
	if (!v)
		fail_msg("no string \"%s\"", key);
	return v;
}

__attribute__((unused)) static void ot_hex(const uint8_t *p, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

#endif
