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
#include "firmware/store/store.h"

#define WEB_PROBLEM_BASE "https://click2sign.invalid/problems/"

struct web_ctx {
	const struct config *cfg;
	struct store *store;
	pthread_mutex_t store_mu;
};

struct web_req {
	struct web_ctx *ctx;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	struct buf body;
	int too_big;
	int cert_listener;
	const struct web_route *route;
	int started;
	char client[65]; /* authenticated API client name */
};

typedef enum MHD_Result (*web_handler)(struct web_req *r);

struct web_route {
	const char *method;
	const char *path;
	web_handler fn;
	int auth; /* needs a bearer token */
	int body; /* accepts a body */
};

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
void web_seal_init(const struct config *cfg); /* before the listeners start */
enum MHD_Result web_metrics(struct web_req *r);

/* Metrics counters */
struct web_metrics {
	atomic_ulong requests[6]; /* by status class 1xx..5xx (index 1..5) */
	atomic_ulong seals_ok, seals_failed;
	atomic_ulong seal_bytes;
};
extern struct web_metrics web_stats;

#endif
