/* The texts the customer receives (e-mail and SMS), in the order's locale: sl (default), en.
 * Payload formats are in outbox.h. The SMS never carries the link: it only says where it went. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firmware/base/buf.h"
#include "orders_int.h"

#define NOTICE_TEXT_MAX 16384

struct notice_words {
	const char *hello; /* "Pozdravljeni, %s %s," */
	const char *link_subject;
	const char *link_body;  /* reference */
	const char *link_valid; /* hours-phrase, until */
	const char *sms;        /* hours-phrase */
	const char *signed_subject;
	const char *signed_body; /* reference */
	const char *signed_docs; /* heading of the signed documents */
	const char *signed_atts; /* heading of the attachments */
	const char *courier_subject;
	const char *courier_body; /* reference */
	const char *signature;
};

static const struct notice_words notice_sl = {
    .hello = "Pozdravljeni, %s %s,\n\n",
    .link_subject = "Elektronski podpis dokumentov",
    .link_body = "pripravili smo dokumente za vaš elektronski podpis (naročilo %s). "
                 "Preberete in podpišete jih na tej povezavi:\n\n",
    .link_valid = "\n\nPovezava velja %s (do %s UTC). Če dokumentov v tem času ne podpišete, "
                  "vas bo za podpis obiskal kurir.\n",
    .sms = "Povezava za podpis je bila poslana na vaš e-naslov. Velja %s.",
    .signed_subject = "Podpisani dokumenti",
    .signed_body = "dokumente naročila %s ste uspešno elektronsko podpisali. Podpisane "
                   "dokumente in priloge vam pošiljamo v priponki.\n",
    .signed_docs = "\nPodpisani dokumenti:\n",
    .signed_atts = "\nPriloge:\n",
    .courier_subject = "Podpis dokumentov: obiskal vas bo kurir",
    .courier_body = "dokumentov naročila %s niste elektronsko podpisali v času veljavnosti "
                    "povezave, zato je povezava potekla. Za podpis vas bo obiskal kurir, ki vas "
                    "bo pred tem poklical. Ničesar vam ni treba storiti.\n",
    .signature = "\nLep pozdrav\n",
};

static const struct notice_words notice_en = {
    .hello = "Dear %s %s,\n\n",
    .link_subject = "Electronic signing of your documents",
    .link_body = "your documents are ready for your electronic signature (order %s). "
                 "Read and sign them at this link:\n\n",
    .link_valid = "\n\nThe link is valid for %s (until %s UTC). If the documents are not "
                  "signed by then, a courier will visit you to sign them on paper.\n",
    .sms = "The signing link was sent to your e-mail address. It is valid for %s.",
    .signed_subject = "Your signed documents",
    .signed_body = "you have signed the documents of order %s electronically. The signed "
                   "documents and the attachments are attached to this e-mail.\n",
    .signed_docs = "\nSigned documents:\n",
    .signed_atts = "\nAttachments:\n",
    .courier_subject = "Signing your documents: a courier will visit you",
    .courier_body = "the documents of order %s were not signed while the link was valid, so the "
                    "link has expired. A courier will call you and visit you to sign them. "
                    "There is nothing you need to do.\n",
    .signature = "\nKind regards\n",
};

static const struct notice_words *notice_words(const struct order_info *o)
{
	return strcmp(o->locale, "en") == 0 ? &notice_en : &notice_sl;
}

/* "24 ur", "1 uro", "2 uri", "3 ure" / "24 hours"; days when whole days and more than one. */
static void notice_validity(const struct order_info *o, char *out, size_t cap)
{
	int64_t sec = o->expires_at - o->created_at;
	int en = strcmp(o->locale, "en") == 0;
	int64_t n = sec % 86400 == 0 && sec > 86400 ? sec / 86400 : (sec + 3599) / 3600;
	int days = sec % 86400 == 0 && sec > 86400;
	int64_t h = n % 100;
	if (en)
		snprintf(out, cap, "%lld %s%s", (long long)n, days ? "day" : "hour",
		         n == 1 ? "" : "s");
	else if (days)
		snprintf(out, cap, "%lld %s", (long long)n,
		         h == 1   ? "dan"
		         : h == 2 ? "dneva"
		                  : "dni");
	else
		snprintf(out, cap, "%lld %s", (long long)n,
		         h == 1             ? "uro"
		         : h == 2           ? "uri"
		         : h == 3 || h == 4 ? "ure"
		                            : "ur");
}

static void notice_until(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(out, cap, "?");
}

/* Copies a template, putting a1 and a2 (NULL: "") in place of its first and second "%s"
 * (templates are ours, never printf formats, so names with '%' stay plain text). */
static int notice_fill(struct buf *b, const char *tmpl, const char *a1, const char *a2)
{
	const char *args[2] = {a1 ? a1 : "", a2 ? a2 : ""};
	int used = 0;
	for (const char *p = tmpl; *p;) {
		const char *q = strstr(p, "%s");
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (buf_put(b, p, n) != C2S_OK)
			return -1;
		if (!q)
			break;
		if (used < 2 && buf_put(b, args[used], strlen(args[used])) != C2S_OK)
			return -1;
		used++;
		p = q + 2;
	}
	return 0;
}

static json_t *notice_text(struct buf *b)
{
	json_t *j = NULL;
	if (buf_put_u8(b, 0) == C2S_OK)
		j = json_string((const char *)b->data);
	return j;
}

static json_t *notice_email(const struct order_info *o, const char *subject, json_t *text,
                            json_t *atts)
{
	return json_pack("{ss ss so so}", "to", o->subscriber.email, "subject", subject, "text",
	                 text, "attachments", atts ? atts : json_array());
}

json_t *notice_link_email(const struct order_info *o, const char *link)
{
	const struct notice_words *w = notice_words(o);
	struct buf b;
	char valid[64], until[32];
	json_t *j = NULL;
	buf_init(&b, NOTICE_TEXT_MAX);
	notice_validity(o, valid, sizeof(valid));
	notice_until(o->expires_at, until, sizeof(until));
	if (notice_fill(&b, w->hello, o->subscriber.given_name, o->subscriber.family_name) == 0 &&
	    notice_fill(&b, w->link_body, o->reference, NULL) == 0 &&
	    buf_put(&b, link, strlen(link)) == C2S_OK &&
	    notice_fill(&b, w->link_valid, valid, until) == 0 &&
	    notice_fill(&b, w->signature, NULL, NULL) == 0)
		j = notice_email(o, w->link_subject, notice_text(&b), NULL);
	buf_free_secret(&b); /* held the link */
	return j;
}

json_t *notice_link_sms(const struct order_info *o)
{
	char valid[64];
	struct buf b;
	json_t *j = NULL;
	buf_init(&b, NOTICE_TEXT_MAX);
	notice_validity(o, valid, sizeof(valid));
	if (notice_fill(&b, notice_words(o)->sms, valid, NULL) == 0)
		j = json_pack("{ss so}", "to", o->subscriber.phone, "text", notice_text(&b));
	buf_free(&b);
	return j;
}

/* Adds "- title\n" lines for one kind and the attachment entries for the e-mail. */
static int notice_list(const struct order_info *o, enum order_doc_kind kind, struct buf *b,
                       json_t *atts)
{
	for (size_t i = 0; i < o->n_documents + o->n_attachments; i++) {
		const struct order_doc *d = &o->docs[i];
		if (d->kind != kind)
			continue;
		const uint8_t *sha = kind == ORDER_DOC_DOCUMENT ? d->signed_sha256 : d->sha256;
		json_t *a = json_pack("{ss so ss}", "filename", d->filename, "sha256",
		                      od_json_hex(sha, 32), "type", "application/pdf");
		if (!a || json_array_append_new(atts, a) != 0 ||
		    notice_fill(b, "- %s\n", d->title, NULL) != 0)
			return -1;
	}
	return 0;
}

json_t *notice_signed_email(const struct order_info *o)
{
	const struct notice_words *w = notice_words(o);
	struct buf b;
	json_t *j = NULL, *atts = json_array();
	buf_init(&b, NOTICE_TEXT_MAX);
	if (atts &&
	    notice_fill(&b, w->hello, o->subscriber.given_name, o->subscriber.family_name) == 0 &&
	    notice_fill(&b, w->signed_body, o->reference, NULL) == 0 &&
	    notice_fill(&b, w->signed_docs, NULL, NULL) == 0 &&
	    notice_list(o, ORDER_DOC_DOCUMENT, &b, atts) == 0 &&
	    (o->n_attachments == 0 || (notice_fill(&b, w->signed_atts, NULL, NULL) == 0 &&
	                               notice_list(o, ORDER_DOC_ATTACHMENT, &b, atts) == 0)) &&
	    notice_fill(&b, w->signature, NULL, NULL) == 0) {
		j = notice_email(o, w->signed_subject, notice_text(&b), atts);
		atts = NULL;
	}
	json_decref(atts);
	buf_free(&b);
	return j;
}

json_t *notice_courier_email(const struct order_info *o)
{
	const struct notice_words *w = notice_words(o);
	struct buf b;
	json_t *j = NULL;
	buf_init(&b, NOTICE_TEXT_MAX);
	if (notice_fill(&b, w->hello, o->subscriber.given_name, o->subscriber.family_name) == 0 &&
	    notice_fill(&b, w->courier_body, o->reference, NULL) == 0 &&
	    notice_fill(&b, w->signature, NULL, NULL) == 0)
		j = notice_email(o, w->courier_subject, notice_text(&b), NULL);
	buf_free(&b);
	return j;
}
