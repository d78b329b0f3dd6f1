/* The keyholder's store: directory refusals, manifests (replay, idempotency, end, sweep),
 * document-used marks, the signature log, and a store that became unusable. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "kh_test_common.h"

struct fx {
	char base[256];
	char dir[300]; /* base/kh: the store directory */
	struct khstore *ks;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || !kh_tmpdir(f->base, sizeof(f->base)))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/kh", f->base);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	khstore_close(f->ks);
	kh_rmtree(f->base);
	free(f);
	return 0;
}

static struct khstore *fx_open(struct fx *f)
{
	char why[512] = "";
	assert_int_equal(khstore_open(f->dir, &f->ks, why, sizeof(why)), C2S_OK);
	assert_non_null(f->ks);
	return f->ks;
}

static void fx_put(struct fx *f, const char *order, const char *jti, size_t ndocs)
{
	struct kh_manifest m;
	char why[256] = "";
	kh_manifest_fill(&m, order, jti, ndocs, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_OK);
}

/* ---- the directory ---- */

static void open_creates_a_private_directory(void **state)
{
	struct fx *f = *state;
	struct stat st;
	fx_open(f);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	char db[400];
	snprintf(db, sizeof(db), "%s/keyholder.db", f->dir);
	assert_int_equal(lstat(db, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 077, 0);
	/* a second open of the same, now existing, store works (migrations are not re-run) */
	khstore_close(f->ks);
	f->ks = NULL;
	fx_open(f);
}

static void expect_refused(struct fx *f, const char *want1, const char *want2)
{
	char why[512] = "";
	struct khstore *ks = (struct khstore *)1;
	assert_int_equal(khstore_open(f->dir, &ks, why, sizeof(why)), C2S_ERR_KHSTORE);
	assert_null(ks);
	if (!strstr(why, want1) || (want2 && !strstr(why, want2)))
		fail_msg("reason \"%s\" lacks \"%s\" / \"%s\"", why, want1, want2 ? want2 : "");
}

static void refuses_a_directory_others_can_read(void **state)
{
	struct fx *f = *state;
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	expect_refused(f, "mode 0755", "chmod 700");
	assert_int_equal(chmod(f->dir, 0710), 0);
	expect_refused(f, "mode 0710", NULL);
	assert_int_equal(chmod(f->dir, 0700), 0);
	fx_open(f); /* repaired as told: accepted */
}

static void refuses_a_symlink(void **state)
{
	struct fx *f = *state;
	char real[320];
	snprintf(real, sizeof(real), "%s/real", f->base);
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(symlink(real, f->dir), 0);
	expect_refused(f, "symbolic link", "mkdir -m 700");
}

static void refuses_a_file(void **state)
{
	struct fx *f = *state;
	FILE *fp = fopen(f->dir, "w");
	assert_non_null(fp);
	fclose(fp);
	expect_refused(f, "is not a directory", NULL);
}

static void refuses_another_owner(void **state)
{
	struct fx *f = *state;
	if (geteuid() != 0)
		skip(); /* only root can give the directory away */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(chown(f->dir, 12345, 12345), 0);
	expect_refused(f, "owned by uid 12345", "chown 0");
}

static void refuses_a_database_that_is_a_directory(void **state)
{
	struct fx *f = *state;
	char db[400];
	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(db, sizeof(db), "%s/keyholder.db", f->dir);
	assert_int_equal(mkdir(db, 0700), 0);
	expect_refused(f, "not a regular file", NULL);
}

static void refuses_a_newer_schema(void **state)
{
	struct fx *f = *state;
	char db[400];
	sqlite3 *raw = NULL;
	fx_open(f);
	khstore_close(f->ks);
	f->ks = NULL;
	snprintf(db, sizeof(db), "%s/keyholder.db", f->dir);
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(raw);
	expect_refused(f, "schema version 99", "newer");
}

/* ---- manifests ---- */

static void manifest_round_trip(void **state)
{
	struct fx *f = *state;
	struct kh_manifest m, got;
	char why[256] = "";
	fx_open(f);
	kh_manifest_fill(&m, "order-1", "jti-1", 3, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_OK);
	assert_int_equal(khstore_manifest_get(f->ks, "order-1", &got), C2S_OK);
	assert_string_equal(got.order, "order-1");
	assert_string_equal(got.jti, "jti-1");
	assert_string_equal(got.phone, m.phone);
	assert_string_equal(got.email, m.email);
	assert_int_equal(got.ndocs, 3);
	assert_memory_equal(got.docs, m.docs, 3 * 32);
	assert_int_equal(got.order_expires, T0 + 86400);
	assert_int_equal(got.ended, 0);
	assert_int_equal(khstore_manifest_get(f->ks, "order-2", &got), C2S_ERR_NOT_FOUND);
}

static void manifest_replay_and_idempotency(void **state)
{
	struct fx *f = *state;
	struct kh_manifest m;
	char why[256] = "";
	fx_open(f);
	fx_put(f, "order-1", "jti-1", 2);
	/* the same manifest again (a web restart) is fine */
	kh_manifest_fill(&m, "order-1", "jti-1", 2, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0 + 5, why, sizeof(why)), C2S_OK);
	/* ... also when a retried request computed a later expiry: the first one stays */
	kh_manifest_fill(&m, "order-1", "jti-1", 2, T0 + 86400 + 30);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0 + 30, why, sizeof(why)), C2S_OK);
	struct kh_manifest kept;
	assert_int_equal(khstore_manifest_get(f->ks, "order-1", &kept), C2S_OK);
	assert_int_equal(kept.order_expires, T0 + 86400);
	/* the same jti for another order: a replay */
	kh_manifest_fill(&m, "order-2", "jti-1", 2, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)),
	                 C2S_ERR_MANIFEST_REPLAY);
	assert_non_null(strstr(why, "already used for another order"));
	/* another jti for an order that has one */
	kh_manifest_fill(&m, "order-1", "jti-2", 2, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_ERR_MANIFEST);
	assert_string_equal(why, "the order already has a manifest");
	/* the same jti and order with another phone number: not idempotent, refused */
	kh_manifest_fill(&m, "order-1", "jti-1", 2, T0 + 86400);
	snprintf(m.phone, sizeof(m.phone), "+38641999999");
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_ERR_MANIFEST);
	/* ... or another document */
	kh_manifest_fill(&m, "order-1", "jti-1", 2, T0 + 86400);
	m.docs[1][31] ^= 1;
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_ERR_MANIFEST);
	/* the stored one is untouched, and order-2 was not stored */
	struct kh_manifest got;
	assert_int_equal(khstore_manifest_get(f->ks, "order-1", &got), C2S_OK);
	assert_string_equal(got.phone, "+38640111222");
	assert_int_equal(khstore_manifest_get(f->ks, "order-2", &got), C2S_ERR_NOT_FOUND);
}

static void manifest_field_checks(void **state)
{
	struct fx *f = *state;
	struct kh_manifest m;
	char why[256] = "";
	fx_open(f);
	kh_manifest_fill(&m, "order-1", "jti-1", 0, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_ERR_ARG);
	kh_manifest_fill(&m, "order-1", "jti-1", KH_MAX_DOCS + 1, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_ERR_ARG);
	kh_manifest_fill(&m, "", "jti-1", 1, T0 + 86400);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_ERR_ARG);
	kh_manifest_fill(&m, "order-1", "jti-1", 1, T0 + 86400);
	memset(m.phone, '1', sizeof(m.phone)); /* not terminated */
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_ERR_ARG);
	/* an order already expired is not stored */
	kh_manifest_fill(&m, "order-1", "jti-1", 1, T0);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)),
	                 C2S_ERR_MANIFEST_EXPIRED);
	kh_manifest_fill(&m, "order-1", "jti-1", KH_MAX_DOCS, T0 + 1);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_OK);
}

static void manifest_end_and_sweep(void **state)
{
	struct fx *f = *state;
	struct kh_manifest m, got;
	char why[256] = "";
	unsigned n = 99;
	fx_open(f);
	fx_put(f, "order-1", "jti-1", 1);
	fx_put(f, "order-2", "jti-2", 1);
	assert_int_equal(khstore_manifest_end(f->ks, "order-1"), C2S_OK);
	assert_int_equal(khstore_manifest_get(f->ks, "order-1", &got), C2S_OK);
	assert_int_equal(got.ended, 1);
	assert_int_equal(khstore_manifest_end(f->ks, "order-9"), C2S_ERR_NOT_FOUND);
	/* nothing is swept until 7 days after the order expired */
	int64_t exp = T0 + 86400;
	assert_int_equal(khstore_sweep(f->ks, exp + KH_SWEEP_AFTER_S, &n), C2S_OK);
	assert_int_equal(n, 0);
	assert_int_equal(khstore_sweep(f->ks, exp + KH_SWEEP_AFTER_S + 1, &n), C2S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(khstore_manifest_get(f->ks, "order-2", &got), C2S_ERR_NOT_FOUND);
	/* a swept manifest cannot come back: its order has expired */
	kh_manifest_fill(&m, "order-2", "jti-2", 1, exp);
	assert_int_equal(
	    khstore_manifest_put(f->ks, &m, exp + KH_SWEEP_AFTER_S + 1, why, sizeof(why)),
	    C2S_ERR_MANIFEST_EXPIRED);
}

/* ---- document-used marks ---- */

static void doc_marks(void **state)
{
	struct fx *f = *state;
	int used = -1;
	fx_open(f);
	fx_put(f, "order-1", "jti-1", 2);
	assert_int_equal(khstore_doc_used(f->ks, "order-1", 0, &used), C2S_OK);
	assert_int_equal(used, 0);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", 0, T0), C2S_OK);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", 0, T0 + 1), C2S_ERR_DOC_USED);
	assert_int_equal(khstore_doc_used(f->ks, "order-1", 0, &used), C2S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(khstore_doc_used(f->ks, "order-1", 1, &used), C2S_OK);
	assert_int_equal(used, 0);
	/* out of range, unknown order, expired order, ended order */
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", 2, T0), C2S_ERR_NOT_FOUND);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", -1, T0), C2S_ERR_NOT_FOUND);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-9", 0, T0), C2S_ERR_NOT_FOUND);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", 1, T0 + 86400), C2S_ERR_NOT_FOUND);
	/* durable: a new handle sees the mark */
	khstore_close(f->ks);
	f->ks = NULL;
	fx_open(f);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", 0, T0 + 2), C2S_ERR_DOC_USED);
	assert_int_equal(khstore_manifest_end(f->ks, "order-1"), C2S_OK);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", 1, T0), C2S_ERR_NOT_FOUND);
}

struct race {
	struct khstore *ks;
	int ok, used, other;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	for (int d = 0; d < KH_MAX_DOCS; d++) {
		c2s_err e = khstore_doc_mark_used(r->ks, "order-1", d, T0);
		if (e == C2S_OK)
			r->ok++;
		else if (e == C2S_ERR_DOC_USED)
			r->used++;
		else
			r->other++;
	}
	return NULL;
}

/* Channel threads race for the same documents: each is marked exactly once. */
static void doc_marks_race(void **state)
{
	struct fx *f = *state;
	struct race r[6];
	pthread_t t[6];
	fx_open(f);
	fx_put(f, "order-1", "jti-1", KH_MAX_DOCS);
	for (int i = 0; i < 6; i++) {
		r[i] = (struct race){.ks = f->ks};
		assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
	}
	int ok = 0, used = 0, other = 0;
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		ok += r[i].ok;
		used += r[i].used;
		other += r[i].other;
	}
	assert_int_equal(ok, KH_MAX_DOCS);
	assert_int_equal(used, 5 * KH_MAX_DOCS);
	assert_int_equal(other, 0);
}

/* ---- signature log ---- */

struct rows {
	int n;
	int64_t id[4], at[4];
	int doc[4];
	char order[4][65], key[4][64], caller[4][32];
	uint8_t first[4];
	size_t dlen[4];
};

static void rows_cb(void *ctx, const struct kh_sig_row *r)
{
	struct rows *x = ctx;
	if (x->n >= 4)
		return;
	x->id[x->n] = r->id;
	x->at[x->n] = r->at;
	x->doc[x->n] = r->doc;
	snprintf(x->order[x->n], 65, "%s", r->order ? r->order : "(null)");
	snprintf(x->key[x->n], 64, "%s", r->key);
	snprintf(x->caller[x->n], 32, "%s", r->caller);
	x->first[x->n] = r->digest[0];
	x->dlen[x->n] = r->dlen;
	x->n++;
}

static void signature_log(void **state)
{
	struct fx *f = *state;
	uint8_t d[48];
	uint64_t n = 99;
	struct rows rows = {0};
	fx_open(f);
	assert_int_equal(khstore_sig_log_count(f->ks, &n), C2S_OK);
	assert_int_equal(n, 0);
	memset(d, 0xa1, sizeof(d));
	assert_int_equal(khstore_sig_log(f->ks, T0, "seal", d, 32, "web#1", NULL, -1), C2S_OK);
	memset(d, 0xb2, sizeof(d));
	assert_int_equal(khstore_sig_log(f->ks, T0 + 1, "signer", d, 48, "web#2", "order-1", 0),
	                 C2S_OK);
	memset(d, 0xc3, sizeof(d));
	assert_int_equal(khstore_sig_log(f->ks, T0 + 2, "signer", d, 32, "web#2", "order-1", 1),
	                 C2S_OK);
	/* refused rows are not written */
	assert_int_equal(khstore_sig_log(f->ks, T0, "seal", d, 0, "web#1", NULL, -1), C2S_ERR_ARG);
	assert_int_equal(khstore_sig_log(f->ks, T0, "", d, 32, "web#1", NULL, -1), C2S_ERR_ARG);
	assert_int_equal(khstore_sig_log(f->ks, T0, "seal", d, 32, "web#1", NULL, -2), C2S_ERR_ARG);
	assert_int_equal(khstore_sig_log_count(f->ks, &n), C2S_OK);
	assert_int_equal(n, 3);
	assert_int_equal(khstore_sig_log_last(f->ks, 2, rows_cb, &rows), C2S_OK);
	assert_int_equal(rows.n, 2); /* newest first */
	assert_int_equal(rows.at[0], T0 + 2);
	assert_int_equal(rows.doc[0], 1);
	assert_int_equal(rows.first[0], 0xc3);
	assert_int_equal(rows.at[1], T0 + 1);
	assert_int_equal(rows.dlen[1], 48);
	assert_string_equal(rows.order[1], "order-1");
	assert_true(rows.id[0] > rows.id[1]);
	rows.n = 0;
	assert_int_equal(khstore_sig_log_last(f->ks, 10, rows_cb, &rows), C2S_OK);
	assert_int_equal(rows.n, 3);
	assert_string_equal(rows.key[2], "seal");
	assert_string_equal(rows.caller[2], "web#1");
	assert_string_equal(rows.order[2], "(null)");
	assert_int_equal(rows.doc[2], -1);
}

/* Channel threads log signatures at once: every row lands exactly once, and rows that arrive
 * while a transaction is being synced share the next one (group commit). */
#define SIG_THREADS 8
#define SIG_EACH    150
struct sig_race {
	struct khstore *ks;
	int id, failed;
};

static void *sig_thread(void *arg)
{
	struct sig_race *r = arg;
	for (int i = 0; i < SIG_EACH; i++) {
		uint8_t d[32] = {(uint8_t)r->id, (uint8_t)(i >> 8), (uint8_t)i, 0x5a};
		if (khstore_sig_log(r->ks, T0 + i, "seal", d, 32, "web", NULL, -1) != C2S_OK)
			r->failed++;
	}
	return NULL;
}

struct seen {
	int count[SIG_THREADS][SIG_EACH];
	int bad;
};

static void seen_cb(void *ctx, const struct kh_sig_row *r)
{
	struct seen *s = ctx;
	int id = r->digest[0], i = r->digest[1] << 8 | r->digest[2];
	if (r->dlen != 32 || id >= SIG_THREADS || i >= SIG_EACH || r->digest[3] != 0x5a ||
	    r->at != T0 + i)
		s->bad++;
	else
		s->count[id][i]++;
}

static void signature_log_concurrent(void **state)
{
	struct fx *f = *state;
	struct sig_race r[SIG_THREADS];
	pthread_t t[SIG_THREADS];
	static struct seen seen;
	uint64_t n = 0;
	fx_open(f);
	for (int i = 0; i < SIG_THREADS; i++) {
		r[i] = (struct sig_race){.ks = f->ks, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, sig_thread, &r[i]), 0);
	}
	for (int i = 0; i < SIG_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].failed, 0);
	}
	assert_int_equal(khstore_sig_log_count(f->ks, &n), C2S_OK);
	assert_int_equal(n, SIG_THREADS * SIG_EACH);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(khstore_sig_log_last(f->ks, SIG_THREADS * SIG_EACH, seen_cb, &seen),
	                 C2S_OK);
	assert_int_equal(seen.bad, 0);
	for (int id = 0; id < SIG_THREADS; id++)
		for (int i = 0; i < SIG_EACH; i++)
			assert_int_equal(seen.count[id][i], 1);
	uint64_t commits = khstore_sig_commits(f->ks);
	printf("signature log: %d rows from %d threads in %llu transactions\n",
	       SIG_THREADS * SIG_EACH, SIG_THREADS, (unsigned long long)commits);
	assert_true(commits >= 1 && commits <= SIG_THREADS * SIG_EACH);
}

/* ---- an unusable store ---- */

static void unusable_store_says_so(void **state)
{
	struct fx *f = *state;
	struct kh_manifest got;
	uint64_t n = 0;
	int used = 0;
	uint8_t d[32] = {1};
	/* no store at all (the keyholder could not open it) */
	assert_int_equal(khstore_manifest_get(NULL, "order-1", &got), C2S_ERR_KHSTORE);
	assert_int_equal(khstore_doc_mark_used(NULL, "order-1", 0, T0), C2S_ERR_KHSTORE);
	assert_int_equal(khstore_sig_log(NULL, T0, "seal", d, 32, "web", NULL, -1),
	                 C2S_ERR_KHSTORE);
	/* the directory removed under an open store */
	fx_open(f);
	fx_put(f, "order-1", "jti-1", 1);
	kh_rmtree(f->dir);
	assert_int_equal(khstore_manifest_get(f->ks, "order-1", &got), C2S_ERR_KHSTORE);
	assert_int_equal(khstore_doc_mark_used(f->ks, "order-1", 0, T0), C2S_ERR_KHSTORE);
	assert_int_equal(khstore_doc_used(f->ks, "order-1", 0, &used), C2S_ERR_KHSTORE);
	assert_int_equal(khstore_sig_log(f->ks, T0, "seal", d, 32, "web", NULL, -1),
	                 C2S_ERR_KHSTORE);
	assert_int_equal(khstore_sig_log_count(f->ks, &n), C2S_ERR_KHSTORE);
	/* the database file replaced by a directory under an open store */
	char db[400];
	snprintf(db, sizeof(db), "%s/keyholder.db", f->dir);
	khstore_close(f->ks);
	f->ks = NULL;
	fx_open(f); /* a new, empty store in a new directory */
	assert_int_equal(unlink(db), 0);
	assert_int_equal(mkdir(db, 0700), 0);
	assert_int_equal(khstore_sig_log(f->ks, T0, "seal", d, 32, "web", NULL, -1),
	                 C2S_ERR_KHSTORE);
	assert_int_equal(khstore_manifest_get(f->ks, "order-1", &got), C2S_ERR_KHSTORE);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(open_creates_a_private_directory),
	    T(refuses_a_directory_others_can_read),
	    T(refuses_a_symlink),
	    T(refuses_a_file),
	    T(refuses_another_owner),
	    T(refuses_a_database_that_is_a_directory),
	    T(refuses_a_newer_schema),
	    T(manifest_round_trip),
	    T(manifest_replay_and_idempotency),
	    T(manifest_field_checks),
	    T(manifest_end_and_sweep),
	    T(doc_marks),
	    T(doc_marks_race),
	    T(signature_log),
	    T(signature_log_concurrent),
	    T(unusable_store_says_so),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
