/* Orders: creation in one transaction (idempotency, conflict, validation, a failure injected at
 * each step leaves nothing), lookups, the transitions and their refusals, the outbox rows and
 * payloads each causes, the outbox's life, blobs, and orders that survive SIGKILL. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "orders_test_common.h"

/* ---- creation and lookup ---- */

static void create_get_and_find_by_link(void **state)
{
	struct fx *f = *state;
	struct order_info got, by;
	char id[ORDER_ID_MAX];
	ot_create(f, "A1-2026-000123", T0);
	assert_int_equal(order_id_derive("portal", "A1-2026-000123", id, sizeof(id)), C2S_OK);
	assert_string_equal(f->info.id, id);
	assert_int_equal(strlen(id), 25);
	assert_int_equal(id[0], 'o');
	/* another client or reference gives another id */
	char id2[ORDER_ID_MAX];
	assert_int_equal(order_id_derive("portal2", "A1-2026-000123", id2, sizeof(id2)), C2S_OK);
	assert_string_not_equal(id, id2);
	assert_int_equal(order_id_derive("portal", "A1-2026-000124", id2, sizeof(id2)), C2S_OK);
	assert_string_not_equal(id, id2);

	assert_int_equal(order_get(f->s, id, &got), C2S_OK);
	assert_int_equal(got.status, ORDER_AWAITING_SIGNATURE);
	assert_string_equal(got.reference, "A1-2026-000123");
	assert_string_equal(got.subscriber.phone, "+38641123456");
	assert_int_equal(got.created_at, T0);
	assert_int_equal(got.expires_at, T0 + 86400);
	assert_int_equal(got.ended_at, 0);
	assert_int_equal(got.n_documents, 2);
	assert_int_equal(got.n_attachments, 2);
	assert_int_equal(got.docs[0].kind, ORDER_DOC_DOCUMENT);
	assert_int_equal(got.docs[1].idx, 1);
	assert_memory_equal(got.docs[1].sha256, f->docs[1].sha256, 32);
	assert_int_equal(got.docs[2].kind, ORDER_DOC_ATTACHMENT);
	assert_string_equal(got.docs[3].title, "Splošni pogoji");
	assert_int_equal(order_get(f->s, "o000000000000000000000000", &got), C2S_ERR_NOT_FOUND);

	assert_int_equal(order_by_link(f->s, f->link_sha, T0 + 10, &by), C2S_OK);
	assert_string_equal(by.id, id);
	uint8_t other[32];
	order_link_hash("not-the-token-not-the-token-not", other);
	assert_int_equal(order_by_link(f->s, other, T0, &by), C2S_ERR_NOT_FOUND);
	order_link_hash(f->token, other);
	assert_memory_equal(other, f->link_sha, 32);
	/* only the hash of the link is kept with the order */
	char sql[300];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM orders WHERE instr(subscriber || account || manifest, '%s')",
	         f->token);
	assert_int_equal(ot_int(f, sql), 0);
	/* two tokens are not the same */
	char t2[ORDER_LINK_TOKEN_LEN + 1];
	uint8_t s2[32];
	assert_int_equal(order_link_new(t2, sizeof(t2), s2), C2S_OK);
	assert_int_equal(strlen(t2), ORDER_LINK_TOKEN_LEN);
	assert_string_not_equal(t2, f->token);
	assert_int_equal(order_link_new(t2, ORDER_LINK_TOKEN_LEN, s2), C2S_ERR_ARG);
}

static void order_json_for_the_api(void **state)
{
	struct fx *f = *state;
	json_t *j = NULL;
	char hex[65];
	ot_create(f, "json-1", T0);
	assert_int_equal(order_json(f->s, f->info.id, &j), C2S_OK);
	assert_string_equal(ot_str(j, "status"), "awaiting_signature");
	assert_string_equal(ot_str(j, "expires_at"), "2023-11-15T22:13:20Z");
	assert_string_equal(ot_str(j, "created_at"), "2023-11-14T22:13:20Z");
	assert_null(json_object_get(j, "ended_at"));
	json_t *docs = json_object_get(j, "documents");
	assert_int_equal(json_array_size(docs), 2);
	ot_hex(f->docs[0].sha256, hex);
	assert_string_equal(ot_str(json_array_get(docs, 0), "sha256"), hex);
	assert_string_equal(ot_str(json_array_get(docs, 0), "status"), "pending");
	assert_int_equal(json_array_size(json_object_get(j, "attachments")), 2);
	json_t *ev = json_object_get(j, "events");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(ot_str(json_array_get(ev, 0), "type"), "created");
	assert_null(json_object_get(j, "subscriber")); /* no personal data in the API's order */
	json_decref(j);
	assert_int_equal(order_json(f->s, "nope", &j), C2S_ERR_NOT_FOUND);
	assert_null(j);
}

static void same_body_again_returns_the_order(void **state)
{
	struct fx *f = *state;
	char why[300] = "", first[ORDER_ID_MAX];
	int existed = -1;
	struct order_info again;
	ot_create(f, "idem-1", T0);
	snprintf(first, sizeof(first), "%s", f->info.id);
	struct ot_counts before = ot_count(f);
	ot_order(f, "idem-1"); /* a retry: new token drawn, same body */
	assert_int_equal(order_create(f->s, &f->n, T0 + 5, &again, &existed, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(existed, 1);
	assert_string_equal(again.id, first);
	assert_int_equal(again.created_at, T0);
	ot_same_counts(before, ot_count(f)); /* nothing sent twice */
}

static void different_body_conflicts_and_writes_nothing(void **state)
{
	struct fx *f = *state;
	char why[300] = "";
	int existed = -1;
	struct order_info again;
	ot_create(f, "conflict-1", T0);
	struct ot_counts before = ot_count(f);
	ot_order(f, "conflict-1");
	f->n.body_sha256[0] ^= 1;
	assert_int_equal(order_create(f->s, &f->n, T0 + 5, &again, &existed, why, sizeof(why)),
	                 C2S_ERR_CONFLICT);
	assert_int_equal(existed, 0);
	assert_non_null(strstr(why, "conflict-1"));
	assert_non_null(strstr(why, "new reference"));
	ot_same_counts(before, ot_count(f));
	/* the same reference for another client is another order */
	f->n.client = "other-portal";
	assert_int_equal(order_create(f->s, &f->n, T0 + 5, &again, &existed, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(existed, 0);
	assert_int_equal(ot_count(f).orders, before.orders + 1);
}

static void invalid_orders_are_refused_with_a_reason(void **state)
{
	struct fx *f = *state;
	char why[300];
	int existed;
	struct order_info o;
	struct {
		const char *what;
		const char *want;
	} cases[] = {
	    {"phone", "E.164"},    {"email", "e-mail"},       {"locale", "locale"},
	    {"nodocs", "1 to 32"}, {"token", "link token"},   {"url", "public URL"},
	    {"title", "title"},    {"expires", "expires_in"}, {"control", "reference"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ot_order(f, "invalid");
		const char *w = cases[i].what;
		if (!strcmp(w, "phone"))
			snprintf(f->n.subscriber.phone, ORDER_PHONE_MAX, "041 123 456");
		if (!strcmp(w, "email"))
			snprintf(f->n.subscriber.email, ORDER_EMAIL_MAX, "janez@x.si\r\nBcc: a@b");
		if (!strcmp(w, "locale"))
			f->n.locale = "de";
		if (!strcmp(w, "nodocs"))
			f->n.n_documents = 0;
		if (!strcmp(w, "token"))
			f->n.link_token = "short";
		if (!strcmp(w, "url"))
			f->n.public_url = "ftp://x";
		if (!strcmp(w, "title"))
			f->docs[1].title = "";
		if (!strcmp(w, "expires"))
			f->n.expires_in = 59;
		if (!strcmp(w, "control"))
			f->n.reference = "A1\n2026";
		why[0] = 0;
		assert_int_equal(order_create(f->s, &f->n, T0, &o, &existed, why, sizeof(why)),
		                 C2S_ERR_ARG);
		if (!strstr(why, cases[i].want))
			fail_msg("%s: reason \"%s\" lacks \"%s\"", w, why, cases[i].want);
	}
	struct ot_counts c = ot_count(f);
	assert_int_equal(c.orders + c.documents + c.events + c.outbox, 0);
	/* and the unchanged description is accepted */
	ot_create(f, "valid", T0);
}

/* A failure at each step of the creation transaction (a document, the event, the last outbox
 * row) leaves no trace; without the injected failure the same order goes through. */
static void failure_mid_transaction_leaves_nothing(void **state)
{
	struct fx *f = *state;
	static const char *const traps[] = {
	    "CREATE TEMP TRIGGER trap BEFORE INSERT ON main.documents WHEN NEW.kind = 'attachment' "
	    "AND NEW.idx = 1 BEGIN SELECT RAISE(ABORT, 'injected'); END",
	    "CREATE TEMP TRIGGER trap BEFORE INSERT ON main.events BEGIN SELECT RAISE(ABORT, "
	    "'injected'); END",
	    "CREATE TEMP TRIGGER trap BEFORE INSERT ON main.outbox WHEN NEW.channel = 'sms' BEGIN "
	    "SELECT RAISE(ABORT, 'injected'); END",
	};
	char why[300];
	int existed;
	struct order_info o;
	for (size_t i = 0; i < sizeof(traps) / sizeof(traps[0]); i++) {
		ot_exec(f, traps[i]);
		ot_order(f, "trapped");
		assert_int_equal(order_create(f->s, &f->n, T0, &o, &existed, why, sizeof(why)),
		                 C2S_ERR_STORE);
		struct ot_counts c = ot_count(f);
		assert_int_equal(c.orders, 0);
		assert_int_equal(c.documents, 0);
		assert_int_equal(c.events, 0);
		assert_int_equal(c.outbox, 0);
		ot_exec(f, "DROP TRIGGER temp.trap");
	}
	ot_create(f, "trapped", T0);
	struct ot_counts c = ot_count(f);
	assert_int_equal(c.orders, 1);
	assert_int_equal(c.documents, 4);
	assert_int_equal(c.events, 1);
	assert_int_equal(c.outbox, 2);
	struct audit_report r;
	assert_int_equal(audit_verify(f->s, &r), C2S_OK);
}

/* ---- notices on creation ---- */

static void creation_queues_the_link_email_and_the_sms(void **state)
{
	struct fx *f = *state;
	char link[200];
	ot_create(f, "notice-1", T0);
	json_t *mail = ot_payload(f, f->info.id, "email", 0);
	json_t *sms = ot_payload(f, f->info.id, "sms", 0);
	assert_non_null(mail);
	assert_non_null(sms);
	assert_null(ot_payload(f, f->info.id, "webhook", 0)); /* nothing for the portal yet */
	assert_string_equal(ot_str(mail, "to"), "janez.novak@example.si");
	assert_string_equal(ot_str(mail, "subject"), "Elektronski podpis dokumentov");
	snprintf(link, sizeof(link), "https://podpis.example.si/s/%s\n", f->token);
	const char *text = ot_str(mail, "text");
	assert_non_null(strstr(text, link)); /* one slash after the host, whatever the config */
	assert_non_null(strstr(text, "Pozdravljeni, Janez Novak"));
	assert_non_null(strstr(text, "Povezava velja 24 ur"));
	assert_non_null(strstr(text, "notice-1"));
	assert_int_equal(json_array_size(json_object_get(mail, "attachments")), 0);
	assert_string_equal(ot_str(sms, "to"), "+38641123456");
	assert_non_null(strstr(ot_str(sms, "text"), "povezava za podpis je bila poslana na vaš "
	                                            "e-naslov") ||
	                strstr(ot_str(sms, "text"), "Povezava za podpis je bila poslana na vaš "
	                                            "e-naslov"));
	assert_null(strstr(ot_str(sms, "text"), f->token)); /* the SMS never carries the link */
	json_decref(mail);
	json_decref(sms);

	/* English, and another lifetime */
	ot_order(f, "notice-2");
	f->n.locale = "en";
	f->n.expires_in = 2 * 3600;
	char why[200];
	int existed;
	assert_int_equal(order_create(f->s, &f->n, T0, &f->info, &existed, why, sizeof(why)),
	                 C2S_OK);
	mail = ot_payload(f, f->info.id, "email", 0);
	sms = ot_payload(f, f->info.id, "sms", 0);
	assert_string_equal(ot_str(mail, "subject"), "Electronic signing of your documents");
	assert_non_null(strstr(ot_str(mail, "text"), "valid for 2 hours"));
	assert_non_null(strstr(ot_str(sms, "text"), "sent to your e-mail address"));
	assert_int_equal(f->info.expires_at, T0 + 7200);
	json_decref(mail);
	json_decref(sms);
}

/* ---- transitions ---- */

static void sign_each_document_then_finish(void **state)
{
	struct fx *f = *state;
	struct order_info o;
	uint8_t s0[32], s1[32], sx[32];
	uint64_t z0, z1, zx;
	char hex[65];
	ot_create(f, "sign-1", T0);
	const char *id = f->info.id;
	ot_blob(f, "signed 0", s0, &z0);
	ot_blob(f, "signed 1", s1, &z1);
	ot_blob(f, "signed other", sx, &zx);
	assert_int_equal(order_doc_signed(f->s, id, 0, s0, (int64_t)z0, T0 + 100), C2S_OK);
	long long ev = ot_int(f, "SELECT count(*) FROM events");
	/* a double click signs once; another revision for a signed document is refused */
	assert_int_equal(order_doc_signed(f->s, id, 0, s0, (int64_t)z0, T0 + 101), C2S_OK);
	assert_int_equal(order_doc_signed(f->s, id, 0, sx, (int64_t)zx, T0 + 101),
	                 C2S_ERR_CONFLICT);
	assert_int_equal(ot_int(f, "SELECT count(*) FROM events"), ev);
	assert_int_equal(order_doc_signed(f->s, id, 2, s1, (int64_t)z1, T0 + 101),
	                 C2S_ERR_NOT_FOUND); /* attachments are not signed */
	assert_int_equal(order_doc_signed(f->s, id, -1, s1, (int64_t)z1, T0 + 101),
	                 C2S_ERR_NOT_FOUND);
	assert_int_equal(order_doc_signed(f->s, "nope", 0, s1, (int64_t)z1, T0 + 101),
	                 C2S_ERR_NOT_FOUND);
	/* Izhod with a pending document is refused and queues nothing */
	struct ot_counts before = ot_count(f);
	assert_int_equal(order_finish(f->s, id, T0 + 102), C2S_ERR_ORDER_CLOSED);
	ot_same_counts(before, ot_count(f));
	assert_int_equal(order_doc_signed(f->s, id, 1, s1, (int64_t)z1, T0 + 103), C2S_OK);
	assert_int_equal(order_finish(f->s, id, T0 + 104), C2S_OK);
	assert_int_equal(order_get(f->s, id, &o), C2S_OK);
	assert_int_equal(o.status, ORDER_SIGNED);
	assert_int_equal(o.ended_at, T0 + 104);
	assert_true(o.docs[0].is_signed && o.docs[1].is_signed);
	assert_memory_equal(o.docs[1].signed_sha256, s1, 32);
	assert_int_equal(o.docs[1].signed_at, T0 + 103);

	/* the completion e-mail: the signed revisions and both attachments */
	json_t *mail = ot_payload(f, id, "email", 1);
	assert_non_null(mail);
	assert_string_equal(ot_str(mail, "subject"), "Podpisani dokumenti");
	const char *text = ot_str(mail, "text");
	assert_non_null(strstr(text, "Naročniška pogodba"));
	assert_non_null(strstr(text, "Cenik"));
	assert_non_null(strstr(text, "Splošni pogoji"));
	json_t *atts = json_object_get(mail, "attachments");
	assert_int_equal(json_array_size(atts), 4);
	ot_hex(s0, hex);
	assert_string_equal(ot_str(json_array_get(atts, 0), "sha256"), hex);
	assert_string_equal(ot_str(json_array_get(atts, 0), "filename"), "pogodba.pdf");
	ot_hex(f->atts[1].sha256, hex);
	assert_string_equal(ot_str(json_array_get(atts, 3), "sha256"), hex);
	assert_string_equal(ot_str(json_array_get(atts, 3), "type"), "application/pdf");
	json_decref(mail);
	json_t *hook = ot_payload(f, id, "webhook", 0);
	assert_string_equal(ot_str(hook, "event"), "order.signed");
	json_t *ord = json_object_get(hook, "order");
	assert_string_equal(ot_str(ord, "status"), "signed");
	assert_string_equal(ot_str(ord, "id"), id);
	assert_string_equal(ot_str(json_array_get(json_object_get(ord, "documents"), 1), "status"),
	                    "signed");
	assert_int_equal(json_array_size(json_object_get(ord, "events")), 4);
	json_decref(hook);

	/* Izhod again: finished once; a signed order cannot be cancelled nor signed again */
	before = ot_count(f);
	assert_int_equal(order_finish(f->s, id, T0 + 105), C2S_OK);
	assert_int_equal(order_cancel(f->s, id, T0 + 106), C2S_ERR_ORDER_CLOSED);
	ot_same_counts(before, ot_count(f));
	assert_int_equal(order_by_link(f->s, f->link_sha, T0 + 107, &o), C2S_ERR_ORDER_CLOSED);
	assert_int_equal(o.status, ORDER_SIGNED);
	/* the sweep leaves it alone */
	size_t n = 9;
	assert_int_equal(order_expire_due(f->s, T0 + 999999, NULL, NULL, &n), C2S_OK);
	assert_int_equal(n, 0);
}

static void cancel_kills_the_link(void **state)
{
	struct fx *f = *state;
	struct order_info o;
	uint8_t s0[32];
	uint64_t z0;
	ot_create(f, "cancel-1", T0);
	const char *id = f->info.id;
	ot_blob(f, "signed 0", s0, &z0);
	assert_int_equal(order_cancel(f->s, id, T0 + 50), C2S_OK);
	assert_int_equal(order_by_link(f->s, f->link_sha, T0 + 51, &o), C2S_ERR_GONE);
	assert_int_equal(o.status, ORDER_CANCELLED);
	assert_int_equal(o.ended_at, T0 + 50);
	json_t *hook = ot_payload(f, id, "webhook", 0);
	assert_string_equal(ot_str(hook, "event"), "order.cancelled");
	assert_string_equal(ot_str(json_object_get(hook, "order"), "status"), "cancelled");
	json_decref(hook);
	struct ot_counts before = ot_count(f);
	assert_int_equal(order_doc_signed(f->s, id, 0, s0, (int64_t)z0, T0 + 52),
	                 C2S_ERR_ORDER_CLOSED);
	assert_int_equal(order_finish(f->s, id, T0 + 52), C2S_ERR_ORDER_CLOSED);
	assert_int_equal(order_cancel(f->s, id, T0 + 53), C2S_OK); /* again: nothing new */
	ot_same_counts(before, ot_count(f));
	assert_int_equal(order_cancel(f->s, "nope", T0), C2S_ERR_NOT_FOUND);
}

struct ended {
	int n;
	char id[4][ORDER_ID_MAX];
	enum order_status st[4];
};

static void on_ended(void *ctx, const char *id, enum order_status st)
{
	struct ended *e = ctx;
	if (e->n < 4) {
		snprintf(e->id[e->n], ORDER_ID_MAX, "%s", id);
		e->st[e->n] = st;
	}
	e->n++;
}

static void expiry_hands_the_order_to_the_courier(void **state)
{
	struct fx *f = *state;
	struct order_info o;
	struct ended e = {0};
	uint8_t s0[32], s1[32];
	uint64_t z0, z1;
	size_t n = 99;
	ot_blob(f, "signed 0", s0, &z0);
	ot_blob(f, "signed 1", s1, &z1);
	ot_create(f, "late-1", T0);
	char late[ORDER_ID_MAX];
	snprintf(late, sizeof(late), "%s", f->info.id);
	uint8_t late_link[32];
	memcpy(late_link, f->link_sha, 32);
	/* one document signed in time, the other too late */
	assert_int_equal(order_doc_signed(f->s, late, 0, s0, (int64_t)z0, T0 + 86399), C2S_OK);
	assert_int_equal(order_by_link(f->s, late_link, T0 + 86399, &o), C2S_OK);
	assert_int_equal(order_by_link(f->s, late_link, T0 + 86400, &o), C2S_ERR_GONE);
	assert_int_equal(order_doc_signed(f->s, late, 1, s1, (int64_t)z1, T0 + 86400),
	                 C2S_ERR_GONE);
	/* an order whose documents were all signed in time, Izhod missed */
	ot_create(f, "done-1", T0 + 10);
	char done[ORDER_ID_MAX];
	snprintf(done, sizeof(done), "%s", f->info.id);
	assert_int_equal(order_doc_signed(f->s, done, 0, s0, (int64_t)z0, T0 + 20), C2S_OK);
	assert_int_equal(order_doc_signed(f->s, done, 1, s1, (int64_t)z1, T0 + 20), C2S_OK);
	/* and one still in time */
	ot_create(f, "fresh-1", T0 + 1000);

	assert_int_equal(order_expire_due(f->s, T0 + 86399, on_ended, &e, &n), C2S_OK);
	assert_int_equal(n, 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(order_expire_due(f->s, T0 + 86410, on_ended, &e, &n), C2S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.id[0], late);
	assert_int_equal(e.st[0], ORDER_EXPIRED);
	assert_string_equal(e.id[1], done);
	assert_int_equal(e.st[1], ORDER_SIGNED);

	assert_int_equal(order_get(f->s, late, &o), C2S_OK);
	assert_int_equal(o.status, ORDER_EXPIRED);
	assert_int_equal(o.ended_at, T0 + 86410);
	json_t *hook = ot_payload(f, late, "webhook", 0);
	assert_string_equal(ot_str(hook, "event"), "order.expired");
	assert_string_equal(ot_str(json_object_get(hook, "order"), "status"), "expired");
	json_decref(hook);
	json_t *mail = ot_payload(f, late, "email", 1);
	assert_string_equal(ot_str(mail, "to"), "janez.novak@example.si");
	assert_non_null(strstr(ot_str(mail, "subject"), "kurir"));
	assert_non_null(strstr(ot_str(mail, "text"), "obiskal kurir"));
	json_decref(mail);
	hook = ot_payload(f, done, "webhook", 0);
	assert_string_equal(ot_str(hook, "event"), "order.signed");
	json_decref(hook);
	assert_null(ot_payload(f, done, "webhook", 1));

	/* closed for good: no signing, no Izhod, no cancel, and the sweep is done */
	assert_int_equal(order_finish(f->s, late, T0 + 86411), C2S_ERR_ORDER_CLOSED);
	assert_int_equal(order_cancel(f->s, late, T0 + 86411), C2S_ERR_ORDER_CLOSED);
	assert_int_equal(order_doc_signed(f->s, late, 1, s1, (int64_t)z1, T0 + 86411),
	                 C2S_ERR_ORDER_CLOSED);
	assert_int_equal(order_expire_due(f->s, T0 + 86420, NULL, NULL, &n), C2S_OK);
	assert_int_equal(n, 0);
	assert_int_equal(order_expire_due(f->s, T0 + 1000 + 86400, NULL, NULL, &n), C2S_OK);
	assert_int_equal(n, 1);
	struct audit_report r;
	assert_int_equal(audit_verify(f->s, &r), C2S_OK);
}

/* Every document signed in time, "Izhod" clicked after expires_at: finished, not a courier. */
static void finish_after_expiry_when_all_signed_in_time(void **state)
{
	struct fx *f = *state;
	struct order_info o;
	uint8_t s0[32], s1[32];
	uint64_t z0, z1;
	ot_blob(f, "signed 0", s0, &z0);
	ot_blob(f, "signed 1", s1, &z1);
	ot_create(f, "izhod-late", T0);
	const char *id = f->info.id;
	assert_int_equal(order_doc_signed(f->s, id, 0, s0, (int64_t)z0, T0 + 86398), C2S_OK);
	/* with a document pending the late Izhod is refused */
	assert_int_equal(order_finish(f->s, id, T0 + 86401), C2S_ERR_ORDER_CLOSED);
	assert_int_equal(order_doc_signed(f->s, id, 1, s1, (int64_t)z1, T0 + 86399), C2S_OK);
	assert_int_equal(order_finish(f->s, id, T0 + 86401), C2S_OK);
	assert_int_equal(order_get(f->s, id, &o), C2S_OK);
	assert_int_equal(o.status, ORDER_SIGNED);
	json_t *hook = ot_payload(f, id, "webhook", 0);
	assert_string_equal(ot_str(hook, "event"), "order.signed");
	json_decref(hook);
	size_t n = 9;
	assert_int_equal(order_expire_due(f->s, T0 + 86402, NULL, NULL, &n), C2S_OK);
	assert_int_equal(n, 0);
}

/* ---- the outbox's life ---- */

struct due {
	int n;
	int64_t id[8];
	char channel[8][8];
	int64_t attempts[8];
};

static void on_due(void *ctx, const struct outbox_item *it)
{
	struct due *d = ctx;
	if (d->n < 8) {
		d->id[d->n] = it->id;
		snprintf(d->channel[d->n], 8, "%s", it->channel);
		d->attempts[d->n] = it->attempts;
		assert_int_equal(strlen(it->delivery_id), OUTBOX_DELIVERY_ID_LEN);
		json_t *j = json_loads(it->payload, 0, NULL);
		assert_non_null(j);
		json_decref(j);
	}
	d->n++;
}

static void outbox_delivery_retry_and_failure(void **state)
{
	struct fx *f = *state;
	struct due d = {0};
	struct outbox_backlog b;
	size_t n;
	char sql[300];
	ot_create(f, "out-1", T0);
	assert_int_equal(outbox_due(f->s, T0 - 1, 10, on_due, &d, &n), C2S_OK);
	assert_int_equal(n, 0);
	assert_int_equal(outbox_due(f->s, T0, 1, on_due, &d, &n), C2S_OK);
	assert_int_equal(n, 1);
	d.n = 0;
	assert_int_equal(outbox_due(f->s, T0, 10, on_due, &d, &n), C2S_OK);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.channel[0], "email");
	assert_string_equal(d.channel[1], "sms");
	assert_int_equal(outbox_due(f->s, T0, 0, on_due, &d, &n), C2S_ERR_ARG);
	assert_int_equal(outbox_backlog(f->s, T0 + 30, &b), C2S_OK);
	assert_int_equal(b.pending, 2);
	assert_int_equal(b.oldest_age, 30);
	assert_int_equal(b.failed, 0);

	/* the delivery id stays the same across retries */
	snprintf(sql, sizeof(sql), "SELECT delivery_id FROM outbox WHERE id = %lld",
	         (long long)d.id[1]);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(store_db(f->s), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	char did[40];
	snprintf(did, sizeof(did), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(outbox_retry(f->s, d.id[1], T0 + 1, T0 + 1, "now"), C2S_ERR_ARG);
	assert_int_equal(outbox_retry(f->s, d.id[1], T0 + 1, T0 + 60, "gateway said 503"), C2S_OK);
	d.n = 0;
	assert_int_equal(outbox_due(f->s, T0 + 59, 10, on_due, &d, &n), C2S_OK);
	assert_int_equal(d.n, 1); /* only the e-mail: the SMS waits */
	d.n = 0;
	assert_int_equal(outbox_due(f->s, T0 + 60, 10, on_due, &d, &n), C2S_OK);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.attempts[1], 1);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM outbox WHERE delivery_id = '%s' AND last_error = 'gateway "
	         "said 503'",
	         did);
	assert_int_equal(ot_int(f, sql), 1);

	/* delivered: the link leaves the payload */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE instr(payload, '%s')",
	         f->token);
	assert_int_equal(ot_int(f, sql), 1);
	assert_int_equal(outbox_done(f->s, d.id[0], T0 + 61), C2S_OK);
	assert_int_equal(ot_int(f, sql), 0);
	assert_int_equal(ot_int(f, "SELECT count(*) FROM outbox WHERE instr(payload, 'REDACTED') "
	                           "AND status = 'delivered' AND delivered_at = 1700000061"),
	                 1);
	assert_int_equal(outbox_done(f->s, d.id[0], T0 + 62), C2S_ERR_NOT_FOUND);
	assert_int_equal(outbox_retry(f->s, d.id[0], T0 + 62, T0 + 99, "x"), C2S_ERR_NOT_FOUND);
	/* given up */
	assert_int_equal(outbox_fail(f->s, d.id[1], T0 + 70, "number unreachable"), C2S_OK);
	assert_int_equal(outbox_fail(f->s, d.id[1], T0 + 71, "again"), C2S_ERR_NOT_FOUND);
	d.n = 0;
	assert_int_equal(outbox_due(f->s, T0 + 9999, 10, on_due, &d, &n), C2S_OK);
	assert_int_equal(d.n, 0);
	assert_int_equal(outbox_backlog(f->s, T0 + 100, &b), C2S_OK);
	assert_int_equal(b.pending, 0);
	assert_int_equal(b.oldest_age, 0);
	assert_int_equal(b.failed, 1);
	assert_int_equal(outbox_done(f->s, 12345, T0), C2S_ERR_NOT_FOUND);
}

/* ---- blobs ---- */

static int count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' || (prefix && !strncmp(e->d_name, prefix, strlen(prefix))))
			n += !prefix || !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

static void blobs_are_atomic_and_stored_once(void **state)
{
	struct fx *f = *state;
	char bdir[300], path[BLOB_PATH_MAX], hex[65];
	uint8_t a[32], b[32], c[32];
	struct buf out;
	struct stat st;
	const char bytes[] = "%PDF-1.7 the same bytes";
	snprintf(bdir, sizeof(bdir), "%s/blobs", f->dir);
	assert_int_equal(blob_put(f->dir, bytes, sizeof(bytes), a), C2S_OK);
	assert_int_equal(blob_put(f->dir, bytes, sizeof(bytes), b), C2S_OK);
	assert_memory_equal(a, b, 32);
	assert_int_equal(count_files(bdir, NULL), 1);
	assert_int_equal(count_files(bdir, ".tmp-"), 0); /* no temp file left behind */
	assert_int_equal(blob_path(f->dir, a, path, sizeof(path)), C2S_OK);
	ot_hex(a, hex);
	assert_non_null(strstr(path, hex));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, sizeof(bytes));
	assert_int_equal(blob_put(f->dir, "other", 5, c), C2S_OK);
	assert_memory_not_equal(a, c, 32);
	assert_int_equal(count_files(bdir, NULL), 2);
	/* read back, bounded, checked */
	assert_int_equal(blob_read(f->dir, a, 1 << 20, &out), C2S_OK);
	assert_int_equal(out.len, sizeof(bytes));
	assert_memory_equal(out.data, bytes, sizeof(bytes));
	buf_free(&out);
	assert_int_equal(blob_read(f->dir, a, sizeof(bytes) - 1, &out), C2S_ERR_TOO_BIG);
	uint8_t none[32] = {1};
	assert_int_equal(blob_read(f->dir, none, 1 << 20, &out), C2S_ERR_NOT_FOUND);
	/* a damaged file is refused, not served */
	assert_int_equal(blob_path(f->dir, c, path, sizeof(path)), C2S_OK);
	FILE *fp = fopen(path, "r+");
	assert_non_null(fp);
	fputc('X', fp);
	fclose(fp);
	assert_int_equal(blob_read(f->dir, c, 1 << 20, &out), C2S_ERR_IO);
	/* an empty blob is a blob */
	assert_int_equal(blob_put(f->dir, "", 0, c), C2S_OK);
	assert_int_equal(blob_read(f->dir, c, 10, &out), C2S_OK);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	/* what a killed writer leaves is swept at start-up, blobs are not */
	snprintf(path, sizeof(path), "%s/.tmp-killed", bdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	size_t removed = 0;
	assert_int_equal(blob_clean_tmp(f->dir, &removed), C2S_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(count_files(bdir, ".tmp-"), 0);
	assert_int_equal(count_files(bdir, NULL), 3);
}

/* ---- SIGKILL at random moments ---- */

#define CRASH_ROUNDS 5

static void crash_child(const char *dir, int round, int fd)
{
	struct store *s = NULL;
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || store_open(dir, &s) != C2S_OK)
		_exit(2);
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	f->s = s;
	for (int i = 0;; i++) {
		char ref[64], why[200];
		int existed;
		snprintf(ref, sizeof(ref), "crash-%d-%d", round, i);
		ot_order(f, ref);
		if (order_create(s, &f->n, T0 + i, &f->info, &existed, why, sizeof(why)) != C2S_OK)
			_exit(3);
		char rec[32] = {0};
		snprintf(rec, sizeof(rec), "%s", f->info.id);
		if (write(fd, rec, sizeof(rec)) != sizeof(rec))
			_exit(4);
	}
}

static void acknowledged_orders_survive_sigkill(void **state)
{
	struct fx *f = *state;
	char(*acked)[32] = calloc(100000, 32);
	size_t n_acked = 0;
	assert_non_null(acked);
	store_close(f->s); /* the children write; the parent checks afterwards */
	f->s = NULL;
	srand((unsigned)time(NULL));
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(f->dir, round, p[1]);
		}
		close(p[1]);
		usleep(100000 + (useconds_t)(rand() % 400000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		char rec[32];
		while (n_acked < 100000 && read(p[0], rec, sizeof(rec)) == sizeof(rec))
			memcpy(acked[n_acked++], rec, 32);
		close(p[0]);
	}
	assert_int_equal(store_open(f->dir, &f->s), C2S_OK);
	size_t removed = 0;
	assert_int_equal(blob_clean_tmp(f->dir, &removed), C2S_OK);
	print_message("crash: %d rounds, %zu orders acknowledged, %lld stored, %zu temp files "
	              "swept\n",
	              CRASH_ROUNDS, n_acked, ot_int(f, "SELECT count(*) FROM orders"), removed);
	assert_true(n_acked >= CRASH_ROUNDS); /* the test exercised something */
	for (size_t i = 0; i < n_acked; i++) {
		struct order_info o;
		char sql[200];
		assert_int_equal(order_get(f->s, acked[i], &o), C2S_OK);
		assert_int_equal(o.n_documents, 2);
		assert_int_equal(o.n_attachments, 2);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE order_id = '%s'",
		         acked[i]);
		assert_int_equal(ot_int(f, sql), 1);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE order_id = '%s'",
		         acked[i]);
		assert_int_equal(ot_int(f, sql), 2);
		for (int d = 0; d < 4; d++) {
			struct buf b;
			assert_int_equal(blob_read(f->dir, o.docs[d].sha256, 1 << 20, &b), C2S_OK);
			buf_free(&b);
		}
	}
	/* every stored order is whole, acknowledged or not (the last may have committed before
	 * its acknowledgement was written) */
	assert_int_equal(ot_int(f, "SELECT count(*) FROM orders o WHERE "
	                           "(SELECT count(*) FROM documents WHERE order_id = o.id) != 4 OR "
	                           "(SELECT count(*) FROM events WHERE order_id = o.id) != 1 OR "
	                           "(SELECT count(*) FROM outbox WHERE order_id = o.id) != 2"),
	                 0);
	assert_true(ot_int(f, "SELECT count(*) FROM orders") >= (long long)n_acked);
	assert_true(ot_int(f, "SELECT count(*) FROM orders") <= (long long)n_acked + CRASH_ROUNDS);
	struct audit_report r;
	assert_int_equal(audit_verify(f->s, &r), C2S_OK);
	assert_int_equal(r.events, ot_int(f, "SELECT count(*) FROM orders"));
	free(acked);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, ot_setup, ot_teardown)
	const struct CMUnitTest tests[] = {
	    T(create_get_and_find_by_link),
	    T(order_json_for_the_api),
	    T(same_body_again_returns_the_order),
	    T(different_body_conflicts_and_writes_nothing),
	    T(invalid_orders_are_refused_with_a_reason),
	    T(failure_mid_transaction_leaves_nothing),
	    T(creation_queues_the_link_email_and_the_sms),
	    T(sign_each_document_then_finish),
	    T(cancel_kills_the_link),
	    T(expiry_hands_the_order_to_the_courier),
	    T(finish_after_expiry_when_all_signed_in_time),
	    T(outbox_delivery_retry_and_failure),
	    T(blobs_are_atomic_and_stored_once),
	    T(acknowledged_orders_survive_sigkill),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
