/* click2sign-admin audit verify|export: the hash-chained audit log of orders. `verify`
 * recomputes the chain and checks the checkpoints, naming the first broken event; `export`
 * writes an order's evidence (events, document hashes before and after, times) as JSON and,
 * with --dir, the signed PDFs next to it. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <sqlite3.h>

#include "firmware/base/json.h"
#include "firmware/orders/audit.h"
#include "firmware/orders/blob.h"
#include "firmware/orders/orders.h"
#include "firmware/store/store.h"

static c2s_err audit_store(struct admin *a, struct store **st)
{
	char why[256] = "";
	c2s_err ret = admin_config_load(a, 0);
	if (ret != C2S_OK)
		return ret;
	ret = store_open_why(a->cfg.state_dir, st, why, sizeof(why));
	if (ret != C2S_OK)
		admin_fail("cannot open the database in %s: %s", a->cfg.state_dir,
		           why[0] ? why : c2s_err_message(ret));
	return ret;
}

/* Every checkpoint's signature, over the bytes the keyholder assembles, with the seal
 * certificate stored next to it. Returns the number that failed (reasons on stderr). */
static int audit_check_signatures(struct store *st, int64_t *checked)
{
	sqlite3_stmt *q = NULL;
	int bad = 0;
	*checked = 0;
	if (sqlite3_prepare_v2(
	        store_db(st),
	        "SELECT seq, head_hash, at, signature, cert FROM checkpoints ORDER BY seq", -1, &q,
	        NULL) != SQLITE_OK)
		return 1;
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0), at = sqlite3_column_int64(q, 2);
		const uint8_t *head = sqlite3_column_blob(q, 1), *sig = sqlite3_column_blob(q, 3),
		              *cert = sqlite3_column_blob(q, 4);
		size_t sig_len = (size_t)sqlite3_column_bytes(q, 3),
		       cert_len = (size_t)sqlite3_column_bytes(q, 4);
		uint8_t tbs[AUDIT_CHECKPOINT_TBS], h[32];
		mbedtls_x509_crt c;
		mbedtls_x509_crt_init(&c);
		int ok = head && sqlite3_column_bytes(q, 1) == 32 && sig && cert;
		if (ok) {
			audit_checkpoint_tbs(seq, head, at, tbs);
			ok = mbedtls_sha256_ret(tbs, sizeof(tbs), h, 0) == 0 &&
			     mbedtls_x509_crt_parse_der(&c, cert, cert_len) == 0 &&
			     mbedtls_pk_verify(&c.pk, MBEDTLS_MD_SHA256, h, 32, sig, sig_len) == 0;
		}
		if (!ok) {
			fprintf(stderr,
			        "click2sign-admin: checkpoint %lld: the keyholder's signature does "
			        "not verify\n",
			        (long long)seq);
			bad++;
		}
		(*checked)++;
		mbedtls_x509_crt_free(&c);
	}
	sqlite3_finalize(q);
	return bad;
}

static int audit_verify_cmd(struct admin *a)
{
	struct store *st = NULL;
	struct audit_report rep;
	char hex[65];
	int rc = ADMIN_EXIT_FAIL;
	memset(&rep, 0, sizeof(rep));
	if (audit_store(a, &st) != C2S_OK)
		goto out;
	c2s_err e = audit_verify(st, &rep);
	if (e != C2S_OK || !rep.ok) {
		if (rep.first_bad_seq)
			admin_fail("audit chain broken at event %lld: %s",
			           (long long)rep.first_bad_seq, rep.why);
		else if (rep.bad_checkpoint)
			admin_fail("checkpoint %lld does not match the chain: %s",
			           (long long)rep.bad_checkpoint, rep.why);
		else
			admin_fail("audit log not verified: %s",
			           rep.why[0] ? rep.why : c2s_err_message(e));
		goto out;
	}
	int64_t checked = 0;
	if (audit_check_signatures(st, &checked) != 0) {
		admin_fail(
		    "a checkpoint's signature does not verify: the log may have been rewritten");
		goto out;
	}
	admin_hex(rep.head_hash, 32, hex, sizeof(hex));
	printf(
	    "audit chain verified: %lld events, head %lld (%s), %lld checkpoint(s) signed by the "
	    "keyholder, signatures verified\n",
	    (long long)rep.events, (long long)rep.head_seq, hex, (long long)checked);
	rc = ADMIN_EXIT_OK;
out:
	store_close(st);
	return rc;
}

/* Evidence is written whole or reported as not written (c2s_json_dump_callback). */
static int admin_json_to_file(const char *buffer, size_t size, void *data)
{
	return fwrite(buffer, 1, size, (FILE *)data) == size ? 0 : -1;
}

static int audit_export_cmd(struct admin *a, const char *order, const char *dir)
{
	struct store *st = NULL;
	struct order_info info;
	json_t *ev = NULL;
	int rc = ADMIN_EXIT_FAIL;
	if (audit_store(a, &st) != C2S_OK)
		goto out;
	c2s_err e = audit_export(st, order, &ev);
	if (e == C2S_ERR_NOT_FOUND) {
		admin_fail("no order %s", order);
		goto out;
	}
	if (e != C2S_OK || !ev) {
		admin_fail("cannot export order %s: %s", order, c2s_err_message(e));
		goto out;
	}
	if (!dir) {
		if (c2s_json_dump_callback(ev, admin_json_to_file, stdout,
		                           JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
			admin_fail("cannot write the evidence of order %s", order);
			goto out;
		}
		printf("\n");
		rc = ADMIN_EXIT_OK;
		goto out;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		admin_fail("cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/evidence.json", dir);
	FILE *ef = fopen(path, "w");
	int bad = !ef || c2s_json_dump_callback(ev, admin_json_to_file, ef,
	                                        JSON_INDENT(2) | JSON_SORT_KEYS) != 0;
	if ((ef && fclose(ef) != 0) || bad) {
		admin_fail("cannot write %s", path);
		goto out;
	}
	if (order_get(st, order, &info) == C2S_OK) {
		for (size_t i = 0; i < info.n_documents; i++) {
			struct buf b;
			if (!info.docs[i].is_signed)
				continue;
			buf_init(&b, (size_t)1 << 31);
			snprintf(path, sizeof(path), "%s/signed-%zu-%s", dir, i,
			         info.docs[i].filename);
			if (blob_read(a->cfg.state_dir, info.docs[i].signed_sha256, (size_t)1 << 31,
			              &b) != C2S_OK ||
			    admin_write_file(path, b.data, b.len, 0600) != C2S_OK)
				fprintf(stderr,
				        "click2sign-admin: signed document %zu not written\n", i);
			buf_free(&b);
		}
	}
	printf("evidence of order %s written to %s\n", order, dir);
	rc = ADMIN_EXIT_OK;
out:
	json_decref(ev);
	store_close(st);
	return rc;
}

int admin_cmd_audit(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {{"dir", 1, 0, NULL}};
	const char *pos[1] = {NULL};
	size_t n_pos = 0;
	if (argc < 1)
		return admin_usage_fail("audit", "expected verify or export");
	int is_verify = strcmp(argv[0], "verify") == 0;
	if (!is_verify && strcmp(argv[0], "export") != 0)
		return admin_usage_fail(
		    "audit", "unknown subcommand '%s' (expected verify or export)", argv[0]);
	int rc = admin_opts_parse(a, "audit", argc - 1, argv + 1, opts, is_verify ? 0 : 1, pos,
	                          is_verify ? 0 : 1, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	if (is_verify)
		return audit_verify_cmd(a);
	if (n_pos != 1)
		return admin_usage_fail("audit", "export needs an ORDER id");
	return audit_export_cmd(a, pos[0], opts[0].val);
}
