/* Internals of c2s-web shared by its route files: requests, responses, problems. */
#ifndef C2S_WEB_H
#define C2S_WEB_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "firmware/base/buf.h"
#include "firmware/base/config.h"
#include "firmware/base/err.h"
#include "firmware/base/sha256.h"
#include "firmware/orders/orders.h"
#include "firmware/store/store.h"
#include "ratelimit.h"

#define WEB_PROBLEM_BASE "https://click2sign.invalid/problems/"

struct web_ctx {
	const struct config *cfg;
	struct store *store;
	pthread_mutex_t store_mu;
	struct ratelimit *rl; /* [web] rate_*; NULL = no limits */
};

struct web_req {
	struct web_ctx *ctx;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	struct buf body;
	int too_big;
	int seen;    /* the first call of the access handler happened */
	int uri_bad; /* the raw request target failed guard_uri_ok */
	char uri_why[96];
	size_t mem;     /* bytes of the body budget this request holds */
	char allow[48]; /* the Allow header of a 405 */
	int close;      /* answer with Connection: close (a request we cannot frame) */
	int64_t t0_us;  /* the handler's first call (monotonic), for the latency histogram */
	int cert_listener;
	const struct web_route *route;
	struct c2s_sha256 body_sha; /* the body so far, when route->hash_body */
	int started;
	char client[65]; /* authenticated API client name */
	/* the route's path parameters ('*' segments), percent-decoding not applied */
	char param[3][128];
	size_t n_params;
	const char *location; /* a Location header for the response, or NULL */
	unsigned retry_after; /* seconds for the Retry-After of a 429 (0: the default, 5) */
	struct {              /* a refusal decided before the body: answered once drained */
		unsigned status;
		int rate_page; /* 1 + enum rl_kind: answered with the rate-limit page, not a problem
		                */
		char type[48], title[64], detail[200];
		uint64_t drained;
		int64_t until_ms; /* 0, or the drain's deadline (monotonic ms) */
	} refuse;
};

typedef enum MHD_Result (*web_handler)(struct web_req *r);

struct web_route {
	const char *method;
	const char *path; /* segments; '*' matches one segment (a parameter) */
	web_handler fn;
	int auth;        /* needs a bearer token */
	int body;        /* accepts a body */
	size_t body_max; /* 0: [web] max_body */
	int where;       /* WEB_ON_MAIN (0), WEB_ON_CERT or WEB_ON_BOTH: which listener serves it */
	int hash_body;   /* SHA-256 of the body taken as it arrives (a seal's document) */
};
#define WEB_ON_MAIN 0
#define WEB_ON_CERT 1
#define WEB_ON_BOTH 2

/* HTML pages: security headers on every page (CSP without inline script, frame-ancestors
 * 'none', HSTS, no referrer), optional Set-Cookie. `html` is stolen (malloc'd). */
enum MHD_Result web_html(struct web_req *r, unsigned status, char *html, const char *cookie);
/* The value of field `name` in an application/x-www-form-urlencoded body, decoded, into out
 * (cut at cap): 1, or 0 with out = "" when there is no such field. */
int web_form_field(const struct buf *body, const char *name, char *out, size_t cap);
/* Appends s to b with the five HTML-special characters escaped. */
void web_esc(struct buf *b, const char *s);
/* 303 See Other to a path on this appliance. */
enum MHD_Result web_redirect(struct web_req *r, const char *location, const char *cookie);
/* A stored document (blob) as application/pdf; inline (customer pages) or attachment. */
enum MHD_Result web_blob(struct web_req *r, const uint8_t sha[32], const char *filename,
                         int inline_);

/* Responses (each queues exactly one response and returns its MHD result). */
enum MHD_Result web_json(struct web_req *r, unsigned status, json_t *doc); /* steals doc */
/* problem+json with `type` from the error table; detail NULL = the code's message. */
enum MHD_Result web_problem(struct web_req *r, c2s_err e, const char *detail);
/* problem+json with explicit status/type/title (type: last path part). extra may be NULL
 * (stolen: its fields are merged in). */
enum MHD_Result web_problem_ex(struct web_req *r, unsigned status, const char *type,
                               const char *title, const char *detail, json_t *extra);

/* Routes */
enum MHD_Result web_health(struct web_req *r);
enum MHD_Result web_seal(struct web_req *r);
enum MHD_Result web_document_repair(struct web_req *r); /* repair.c */
void web_seal_init(const struct config *cfg);           /* before the listeners start */
/* The seal certificate's notAfter (Unix s) and subject: 1, or 0 when not known yet. */
int web_seal_cert(const struct config *cfg, int64_t *not_after, char *subject, size_t cap);
/* The TLS certificate's notAfter, read at start (0 when unknown). */
extern int64_t web_tls_not_after;
/* The earliest notAfter among the [tsa] trust anchors, read at start (0 when none). */
extern int64_t web_tsa_trust_not_after;
/* The seal and TLS certificates against [daemon] expiry_warning_days: 2 one is expired, 1 one
 * ends within the warning, 0 fine; why names which and when. */
int web_expiry(const struct config *cfg, char *why, size_t cap);
enum MHD_Result web_metrics(struct web_req *r);
/* API: orders (orders_api.c) */
#define WEB_ORDER_MAX_DOCS ORDER_MAX_DOCUMENTS
#define WEB_ORDER_MAX_ATTS ORDER_MAX_ATTACHMENTS
struct web_order_file {
	const char *title, *filename;
	uint8_t *data; /* base64-decoded, malloc'd */
	size_t len;
	uint8_t sha[32];
	char hex[65];
};
/* The body of POST /v1/orders, parsed and checked; its strings point into `root`. */
struct web_order_body {
	json_t *root;
	const char *reference, *locale, *jws;
	struct order_person sub;
	const char *acc_id, *acc_given, *acc_family;
	json_t *account;
	struct web_order_file docs[WEB_ORDER_MAX_DOCS], atts[WEB_ORDER_MAX_ATTS];
	size_t ndocs, natts;
	int64_t expires_in;
};
/* Why a request body was refused: the problem the API answers with. */
struct web_refusal {
	unsigned status;   /* 400 invalid-request, 413 too-large; 0: web_problem(e) */
	c2s_err e;         /* with status 0 */
	const char *title; /* static */
	char path[96];     /* the JSON path, for the problem's "path" */
	char detail[600];
	size_t limit; /* 413: limit_bytes */
};
/* Parses the body of POST /v1/orders without answering: JSON syntax, the allowed fields, each
 * string, the e-mail and phone, documents and attachments (base64-decoded into memory, hashed,
 * each at most pdf_max bytes). 1 with `o` filled, or 0 with `why` filled; either way
 * web_order_body_free(o) after. The web's parser of portal input, and a fuzz target. */
int web_order_parse(const uint8_t *body, size_t len, size_t pdf_max, struct web_order_body *o,
                    struct web_refusal *why);
void web_order_body_free(struct web_order_body *o);
enum MHD_Result web_order_create(struct web_req *r);
enum MHD_Result web_order_get(struct web_req *r);
enum MHD_Result web_order_cancel(struct web_req *r);
enum MHD_Result web_order_document(struct web_req *r);
/* Customer pages (pages.c) */
enum MHD_Result web_page_start(struct web_req *r);
enum MHD_Result web_page_otp_send(struct web_req *r);
enum MHD_Result web_page_otp_verify(struct web_req *r);
enum MHD_Result web_page_documents(struct web_req *r);
enum MHD_Result web_asset_css(struct web_req *r);
enum MHD_Result web_page_to_start(struct web_req *r);
enum MHD_Result web_page_sign(struct web_req *r);
enum MHD_Result web_page_finish(struct web_req *r);

/* A request of `kind` against its rate limit ([web] rate_*): 1 when admitted; 0 when refused,
 * with r->retry_after set and a log line (at most once a minute per key). `name` is the key (an
 * order id, an API client's name), or NULL for the client's address (ratelimit.c). */
int web_rate_admit(struct web_req *r, enum rl_kind kind, const char *name);
/* The 429 page (Slovenian or English, like the other pages) for a browser refused by the rate
 * limit of `kind`, with Retry-After: r->retry_after (pages.c). On the certificate listener a
 * client that asks for JSON gets the problem instead. */
enum MHD_Result web_page_rate_limited(struct web_req *r, enum rl_kind kind);

/* Customers' certificates (certlogin.c): the certificate listener and the portal's API */
enum MHD_Result web_cert_register(struct web_req *r);
enum MHD_Result web_cert_register_post(struct web_req *r);
enum MHD_Result web_cert_login(struct web_req *r);
enum MHD_Result web_cert_check(struct web_req *r);
enum MHD_Result web_account_certs(struct web_req *r);
enum MHD_Result web_account_cert_delete(struct web_req *r);
/* A link to register a certificate for `account` on the certificate listener, with a
 * single-use ticket (15 minutes): for the confirmation page, after link + SMS code. 0 when
 * certificate login is not set up ([certlogin] url). */
int web_cert_register_url(const struct config *cfg, const char *account, const char *lang,
                          char *out, size_t cap);
/* PEM for the certificate listener's CertificateRequest (the trust anchors' names); malloc'd.
 * NULL when no anchor is configured. */
char *web_cert_trust_pem(const struct config *cfg);

/* Customer sessions (session.c): cookie -> order, CSRF token, the SAD after the code. */
#define WEB_SESSION_COOKIE "c2s_session"
struct web_session {
	int used;
	uint8_t id_hash[32]; /* SHA-256 of the cookie value */
	char order[ORDER_ID_MAX];
	uint8_t csrf_raw[24];
	char csrf[33];
	int otp_ok;
	uint8_t sad[32];
	int64_t sad_expires;
	int64_t created, expires;
};
C2S_MUST_CHECK c2s_err web_session_init(void);
/* The request's session for `order` (copied into out): 1, or 0 when it has none. */
int web_session_get(struct web_req *r, const char *order, struct web_session *out);
/* A new session for `order`; `cookie` gets the Set-Cookie value (Path = path). An order has
 * at most WEB_SESSIONS_PER_ORDER: a new one replaces the newest that is not past the code,
 * so one link cannot fill the table nor evict an earlier visitor. *first = 1 when the order
 * had no live session. */
#define WEB_SESSIONS_PER_ORDER 8
C2S_MUST_CHECK c2s_err web_session_new(const char *order, const char *path, struct web_session *out,
                                       char *cookie, size_t cap, int *first);
/* Stores otp_ok and the SAD of `s` back. */
void web_session_update(const struct web_session *s);
void web_session_end_order(const char *order);
int web_csrf_ok(const struct web_session *s, const char *presented);

/* Signs document n of the order under `sad` (sign.c): stored as a blob, recorded. */
C2S_MUST_CHECK c2s_err web_sign_document(struct web_ctx *ctx, const struct order_info *info, int n,
                                         const uint8_t *sad, char *why, size_t why_cap);

/* Latency histograms (metrics.c): cumulative buckets, sum in microseconds. */
#define WEB_BUCKETS 11
struct web_histogram {
	atomic_ulong le[WEB_BUCKETS];
	atomic_ulong count, sum_us;
};
void web_histogram_observe(struct web_histogram *h, int64_t us);
C2S_MUST_CHECK c2s_err web_histogram_print(struct buf *b, const char *name, const char *help,
                                           struct web_histogram *h);

/* Metrics counters */
struct web_metrics {
	atomic_ulong requests[6]; /* by status class 1xx..5xx (index 1..5) */
	atomic_ulong seals_ok, seals_failed;
	atomic_ulong seal_bytes;
	/* certificate listener: by outcome (enum cc_reason 0..10 for validation; see certlogin.c)
	 */
	atomic_ulong cert_checks[11];
	atomic_ulong cert_registered, cert_logins, cert_refused_other;
	struct web_histogram http_latency, seal_latency;
};
extern struct web_metrics web_stats;

#endif
