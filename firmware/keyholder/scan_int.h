/* The keyholder's scan of a prepared signature revision (customer signing, document n).
 *
 * The web (untrusted) sends the SHA-256 midstate of the original document and the bytes of
 * the incremental update it appends. The keyholder never sees the original; scan_update
 * checks the update's own bytes against an allow-list of what our writer
 * (firmware/pades/pdf_*.c) produces for a signature, and scan_digest computes the
 * message-digest over the /ByteRange from the midstate. Every refusal is
 * C2S_ERR_UPDATE_REFUSED with a `why` naming the object and the rule.
 *
 * Accepted, and nothing else (see docs/SCAN.md for the reasons and what cannot be seen):
 *   objects "N G obj <dict> endobj", each number once, at most SCAN_MAX_OBJS:
 *     one signature dictionary, one signature field/widget (no /AP), at most one AcroForm
 *     (/Fields direct, /DR a reference), catalog, xref stream. No page and no array object:
 *     a new revision of a page (direct /Resources, boxes, /Rotate) or of an array (an
 *     indirect /Annots, /Contents or /Kids) could change what the pages show, and the scan
 *     cannot compare it with the original;
 *   then an xref table + trailer, or the xref stream object (uncompressed), then
 *   "startxref N %%EOF" and at most one end-of-line. */
#ifndef C2S_SCAN_INT_H
#define C2S_SCAN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "firmware/base/sha256.h"

#define SCAN_MAX_UPDATE (4u << 20)    /* bytes: 1 MiB of DER is 2 MiB of hex, plus the rest */
#define SCAN_MAX_TOKENS 8192          /* the one work budget of a scan (tokens lexed) */
#define SCAN_MAX_DEPTH  32            /* nesting of arrays and dictionaries */
#define SCAN_MAX_OBJS   8             /* objects one signature update may contain */
#define SCAN_MAX_OFFSET 9999999999ULL /* 10 digits: classic xref offsets and /ByteRange */
#define SCAN_MAX_NUM    8388607       /* largest object number (as our writer and Acrobat) */

enum scan_role {
	SCAN_NONE = 0,
	SCAN_SIG,      /* the signature dictionary */
	SCAN_FIELD,    /* the signature field merged with its widget */
	SCAN_ACROFORM, /* the interactive form dictionary */
	SCAN_CATALOG,  /* the document catalog (the trailer's /Root) */
	SCAN_XREF,     /* the cross-reference stream */
};

struct scan_obj {
	uint32_t num;
	uint16_t gen;
	enum scan_role role;
	size_t off; /* offset in the update of "N G obj" */
};

struct scan_result {
	uint64_t orig_len;
	size_t hole_off; /* offset in the update of the '<' that opens /Contents */
	size_t hole_len; /* the hex string, both angle brackets included */
	uint64_t range[4];
	uint32_t sig_num, field_num;
	int xref_stream; /* the update closes with an xref stream (else a table) */
	size_t n_objs;
	struct scan_obj objs[SCAN_MAX_OBJS];
};

/* Scans upd[0..n), to be appended to an original of orig_len bytes. `r` is filled on
 * success (zeroed on failure). C2S_ERR_UPDATE_REFUSED (with `why`) for anything outside the
 * allow-list, C2S_ERR_TOO_BIG over SCAN_MAX_UPDATE or past 10-digit offsets, C2S_ERR_ARG for
 * NULL arguments, C2S_ERR_NOMEM. */
C2S_MUST_CHECK c2s_err scan_update(const uint8_t *upd, size_t n, uint64_t orig_len,
                                   struct scan_result *r, char *why, size_t why_cap);

/* The message digest: a copy of `after_orig` (the state after the original's orig_len bytes)
 * continued over upd[0..hole) and upd[hole end..n), finished. C2S_ERR_ARG when `r` does not
 * describe upd[0..n) or the state's length is not r->orig_len. */
C2S_MUST_CHECK c2s_err scan_digest(const struct c2s_sha256 *after_orig, const uint8_t *upd,
                                   size_t n, const struct scan_result *r, uint8_t out[32]);

/* "signature", "field", ... for logs. */
const char *scan_role_name(enum scan_role role);

/* ---- Between scan*.c only: the syntax tree of the update's objects. ---- */

enum sn_type {
	SN_NULL = 1,
	SN_BOOL,
	SN_INT,
	SN_REAL,
	SN_NAME,
	SN_STR,
	SN_HEX,
	SN_REF,
	SN_ARRAY,
	SN_DICT
};

/* Nodes live in one arena; index 0 means "none". A dictionary's children alternate key
 * (SN_NAME) and value. */
struct sn {
	uint8_t t;
	uint8_t ok_ref; /* SN_REF to an object of this update, at a place the rules allow */
	uint8_t owner;  /* index of the object (SCAN_MAX_OBJS: the trailer) */
	uint16_t gen;   /* SN_REF */
	uint32_t kid, next, n;
	size_t off, len; /* the token's bytes in the update */
	int64_t v;       /* SN_INT, SN_BOOL, SN_REF (object number); SN_NAME: hash */
};

struct sobj {
	uint32_t num;
	uint16_t gen;
	size_t off;    /* "N G obj" */
	uint32_t root; /* node */
	int stream;
	size_t data_off, data_len;
	enum scan_role role;
};

struct scan_ctx {
	const uint8_t *u;
	size_t n, pos;
	uint64_t orig_len;
	size_t tokens;
	struct sn *nodes;
	uint32_t n_nodes, cap_nodes;
	uint8_t owner; /* object being parsed */
	struct sobj objs[SCAN_MAX_OBJS];
	size_t n_objs;
	int by_role[SCAN_XREF + 1]; /* index in objs of the object with that role, or -1 */
	uint32_t trailer;           /* the trailer dictionary (the xref stream's for a stream) */
	size_t xref_at;             /* "xref", or the xref stream's "N G obj" */
	uint64_t startxref;
	int64_t size; /* trailer /Size */
	struct {
		uint32_t num;
		uint16_t gen;
		uint64_t off;
	} xents[SCAN_MAX_OBJS + 1]; /* the xref's in-use entries */
	size_t n_xents;
	char *why;
	size_t why_cap;
};

/* scan_syntax.c: tokens and values. */
/* Skips white-space and comments; refuses a "%%EOF" comment before the end. */
C2S_MUST_CHECK c2s_err scan_skip_ws(struct scan_ctx *c);
/* Whether the bytes at the cursor are the keyword `kw` followed by a delimiter or the end. */
int scan_at_keyword(const struct scan_ctx *c, const char *kw);
/* Reads "N G obj" (after white-space): number and generation. */
C2S_MUST_CHECK c2s_err scan_obj_header(struct scan_ctx *c, uint32_t *num, uint16_t *gen);
/* Reads one direct value into a new node (*idx), within the budget and depth bound. */
C2S_MUST_CHECK c2s_err scan_value(struct scan_ctx *c, uint32_t *idx);
/* Reads the keyword `kw` (after white-space) or refuses with `what`. */
C2S_MUST_CHECK c2s_err scan_expect_keyword(struct scan_ctx *c, const char *kw, const char *what);
/* The value of /key in dictionary node d, or 0. */
uint32_t scan_get(const struct scan_ctx *c, uint32_t d, const char *key);
/* Whether node i is the name /name (compared decoded: /J#61vaScript is /JavaScript). */
int scan_is_name(const struct scan_ctx *c, uint32_t i, const char *name);
/* Decoded name of node i (without '/') into out, printable, for messages. */
void scan_name_text(const struct scan_ctx *c, uint32_t i, char *out, size_t cap);
/* Sets why (printf-style) and returns C2S_ERR_UPDATE_REFUSED; SCAN_REFUSE also jumps to
 * `out` with `ret` set (a `struct scan_ctx *c` in scope). */
#define SCAN_REFUSE(...)                                                                           \
	do {                                                                                       \
		ret = scan_refuse(c, __VA_ARGS__);                                                 \
		goto out;                                                                          \
	} while (0)
c2s_err scan_refuse(struct scan_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Refuses a key of dictionary d that is not in `allowed` (NULL-terminated, without '/');
 * `what` names the object in the reason. */
C2S_MUST_CHECK c2s_err scan_keys_allowed(struct scan_ctx *c, uint32_t d, const char *const *allowed,
                                         const char *what);

/* scan.c: the object of this update with number `num`, or -1. */
int scan_obj_index(const struct scan_ctx *c, uint32_t num);
/* Whether node i is a reference to the object with role `role` (number and generation);
 * if so it is marked as an allowed reference. */
int scan_ref_to(struct scan_ctx *c, uint32_t i, enum scan_role role);

/* scan_xref.c: the closing cross-reference section, trailer, startxref and %%EOF. */
C2S_MUST_CHECK c2s_err scan_xref_table(struct scan_ctx *c);
C2S_MUST_CHECK c2s_err scan_xref_stream(struct scan_ctx *c);
C2S_MUST_CHECK c2s_err scan_tail(struct scan_ctx *c);
/* The trailer's keys (either form); run after every object's role is known. */
C2S_MUST_CHECK c2s_err scan_trailer(struct scan_ctx *c);

/* scan_rules.c: which object is what, and the allow-list of each. */
C2S_MUST_CHECK c2s_err scan_rules(struct scan_ctx *c, struct scan_result *r);

#endif
