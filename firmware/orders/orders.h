/* Signing orders: the portal creates one, the customer signs each document, it ends signed,
 * expired (handed to a courier) or cancelled. Every change is one store transaction that also
 * appends its audit event (audit.h) and queues what it causes in the outbox (outbox.h), so an
 * order is never half-written and a change is never without its evidence or its notices.
 *
 * Document bytes are written before order_create with blob_put (blob.h); the order refers to
 * them by SHA-256. Times are passed in as `now` (unix seconds). */
#ifndef C2S_ORDERS_H
#define C2S_ORDERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "firmware/store/store.h"

#define ORDER_ID_MAX          65 /* bytes with the NUL; derived ids are "o" + 24 hex */
#define ORDER_CLIENT_MAX      65
#define ORDER_REFERENCE_MAX   129
#define ORDER_NAME_MAX        201 /* given / family name, title, filename */
#define ORDER_EMAIL_MAX       255
#define ORDER_PHONE_MAX       33
#define ORDER_MAX_DOCUMENTS   32 /* the keyholder's manifest holds at most 32 hashes */
#define ORDER_MAX_ATTACHMENTS 16
#define ORDER_LINK_TOKEN_LEN  43 /* base64url of 32 random bytes (256 bits) */
#define ORDER_EXPIRES_MIN     60
#define ORDER_EXPIRES_MAX     604800
#define ORDER_EXPIRES_DEFAULT 86400

enum order_status {
	ORDER_AWAITING_SIGNATURE = 0,
	ORDER_SIGNED,
	ORDER_EXPIRED,
	ORDER_CANCELLED,
};
/* "awaiting_signature", "signed", "expired", "cancelled" */
const char *order_status_name(enum order_status st);

enum order_doc_kind { ORDER_DOC_DOCUMENT = 0, ORDER_DOC_ATTACHMENT };

struct order_person {
	char given_name[ORDER_NAME_MAX];
	char family_name[ORDER_NAME_MAX];
	char email[ORDER_EMAIL_MAX];
	char phone[ORDER_PHONE_MAX]; /* E.164, "+386..." */
};

/* One document to sign, or one attachment that travels with them. */
struct order_file_new {
	const char *title;    /* "Naročniška pogodba", "Cenik" */
	const char *filename; /* "pogodba.pdf" */
	uint8_t sha256[32];   /* from blob_put */
	uint64_t size;
};

struct order_new {
	const char *id; /* NULL: order_id_derive(client, reference), see there */
	const char *client;
	const char *reference;   /* the portal's idempotency key, unique per client */
	uint8_t body_sha256[32]; /* of the request as the caller canonicalised it */
	const char *locale;      /* "sl" (also when NULL) or "en" */
	struct order_person subscriber;
	const json_t *account; /* the portal account object, stored as given (may be NULL) */
	const char *manifest;  /* the portal's compact JWS, or NULL / "" */
	const struct order_file_new *documents;
	size_t n_documents; /* 1 .. ORDER_MAX_DOCUMENTS */
	const struct order_file_new *attachments;
	size_t n_attachments;   /* 0 .. ORDER_MAX_ATTACHMENTS */
	const char *link_token; /* from order_link_new; only its SHA-256 is stored in orders */
	const char
	    *public_url;    /* "https://podpis.example.si"; the link is <public_url>/s/<token> */
	int64_t expires_in; /* seconds, ORDER_EXPIRES_MIN..MAX; 0: ORDER_EXPIRES_DEFAULT */
};

struct order_doc {
	enum order_doc_kind kind;
	int idx; /* 0-based within its kind */
	char title[ORDER_NAME_MAX];
	char filename[ORDER_NAME_MAX];
	uint8_t sha256[32];
	int64_t size;
	int is_signed;
	uint8_t signed_sha256[32]; /* the signed revision's blob, when is_signed */
	int64_t signed_size;
	int64_t signed_at;
};

struct order_info {
	char id[ORDER_ID_MAX];
	char client[ORDER_CLIENT_MAX];
	char reference[ORDER_REFERENCE_MAX];
	uint8_t body_sha256[32];
	enum order_status status;
	char locale[3];
	struct order_person subscriber;
	char account_id[129]; /* the portal account's "id" ("" when none, or not a string) */
	int64_t created_at, expires_at;
	int64_t ended_at; /* 0 while open */
	size_t n_documents, n_attachments;
	struct order_doc docs[ORDER_MAX_DOCUMENTS + ORDER_MAX_ATTACHMENTS]; /* documents first */
};

/* A fresh link token (base64url of 32 bytes from getrandom, NUL-terminated; cap >
 * ORDER_LINK_TOKEN_LEN) and its SHA-256. The token is a secret: never log it. */
C2S_MUST_CHECK c2s_err order_link_new(char *token, size_t cap, uint8_t sha[32]);
/* SHA-256 of a token presented in /s/<token> (for order_by_link). */
void order_link_hash(const char *token, uint8_t sha[32]);

/* "o" + the first 24 hex digits of SHA-256("c2s-order-id" 0 client 0 reference).
 * Deterministic on purpose: a portal that retries POST /v1/orders after a lost answer gets the
 * same order id, and the keyholder keys the portal's single-use manifest (its jti) by order id.
 * With a random id the retry would carry an already used jti to a "new" order and be refused as
 * a replay; with this id it is the same order, and idempotent all the way down. */
C2S_MUST_CHECK c2s_err order_id_derive(const char *client, const char *reference, char *id,
                                       size_t cap);

/* Creates the order in one transaction: the order, its documents and attachments, the link's
 * hash, the "created" event, the link e-mail and the SMS notice in the outbox.
 * Idempotent on (client, reference): the same body_sha256 gives the existing order and
 * *existed = 1 (nothing is written, nothing is sent again); another body gives
 * C2S_ERR_CONFLICT. On any failure nothing is written (document blobs already put stay as
 * files: they are content-addressed, so an orphan is harmless and reused by a retry).
 * `why` names what was wrong for the portal. */
C2S_MUST_CHECK c2s_err order_create(struct store *s, const struct order_new *n, int64_t now,
                                    struct order_info *out, int *existed, char *why,
                                    size_t why_cap);

/* The order with its documents; C2S_ERR_NOT_FOUND when unknown. */
C2S_MUST_CHECK c2s_err order_get(struct store *s, const char *id, struct order_info *out);
/* The order a link leads to. C2S_OK: open and before expiry. With `out` filled:
 * C2S_ERR_GONE when expired (also when merely past expires_at and not yet swept) or cancelled,
 * C2S_ERR_ORDER_CLOSED when signed. C2S_ERR_NOT_FOUND for an unknown link. */
C2S_MUST_CHECK c2s_err order_by_link(struct store *s, const uint8_t sha[32], int64_t now,
                                     struct order_info *out);

/* Document `idx` (0-based, kind document) was signed: its signed revision is the blob
 * `signed_sha256` of `size` bytes. pending -> signed with the event "document_signed".
 * The same call again is a no-op (C2S_OK, a double click signs once); another hash for a
 * signed document is C2S_ERR_CONFLICT. Refused: C2S_ERR_ORDER_CLOSED when the order is not
 * open, C2S_ERR_GONE at or after expires_at, C2S_ERR_NOT_FOUND for no such document. */
C2S_MUST_CHECK c2s_err order_doc_signed(struct store *s, const char *id, int idx,
                                        const uint8_t signed_sha256[32], int64_t size, int64_t now);
/* "Izhod": every document signed -> status signed, event "signed", the e-mail with the signed
 * documents and the attachments, and the webhook order.signed. Also allowed after expires_at
 * when every document was signed in time. Again on a signed order: C2S_OK, nothing new.
 * C2S_ERR_ORDER_CLOSED when a document is still pending or the order expired or was cancelled. */
C2S_MUST_CHECK c2s_err order_finish(struct store *s, const char *id, int64_t now);
/* Cancels an open order (its link dies): event "cancelled", webhook order.cancelled.
 * Again on a cancelled order: C2S_OK, nothing new. C2S_ERR_ORDER_CLOSED when signed or expired. */
C2S_MUST_CHECK c2s_err order_cancel(struct store *s, const char *id, int64_t now);

/* Every open order at or past its expires_at, each in its own transaction: expired, event
 * "expired", webhook order.expired and the courier e-mail to the customer. An order whose
 * documents were all signed is finished instead (order_finish: the customer signed everything
 * in time and only missed "Izhod"; sending a courier would be wrong). `cb` (may be NULL) gets
 * each order after its commit, with the status it ended in, so the caller can tell the
 * keyholder. *count (may be NULL) gets the number ended. */
typedef void (*order_ended_cb)(void *ctx, const char *id, enum order_status st);
C2S_MUST_CHECK c2s_err order_expire_due(struct store *s, int64_t now, order_ended_cb cb, void *ctx,
                                        size_t *count);

/* Appends an event for an order in its own transaction (for steps other modules see: the link
 * opened, the code verified, ...). `data` (may be NULL) is a JSON object. */
C2S_MUST_CHECK c2s_err order_event(struct store *s, const char *id, int64_t now, const char *type,
                                   const json_t *data);

/* The order as the API shows it (new reference; NULL when out of memory):
 * {"id", "reference", "status", "locale", "created_at", "expires_at", ["ended_at"],
 *  "documents": [{"index", "title", "filename", "status", "sha256", "size",
 *                 ["signed_sha256", "signed_size", "signed_at"]}],
 *  "attachments": [{"index", "title", "filename", "sha256", "size"}],
 *  "events": `events` (stolen; [] when NULL)}. Times are RFC 3339 UTC, hashes lowercase hex. */
json_t *order_to_json(const struct order_info *info, json_t *events);
/* order_to_json with the order's events ([{"seq", "at", "type", "data"}]) from the store. */
C2S_MUST_CHECK c2s_err order_json(struct store *s, const char *id, json_t **out);

/* "2026-03-12T14:05:00Z" into a buffer of at least 21 bytes. */
void order_time_rfc3339(int64_t t, char *out, size_t cap);

#endif
