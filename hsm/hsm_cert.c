/* X.509 certificates stored next to keys (same CKA_ID). */
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"

#define CERT_MAX (64 * 1024)

struct store_ctx {
	const mbedtls_x509_crt *crt;
	const uint8_t *id;
	size_t id_len;
	const char *label;
};

static CK_RV cert_remove_old(struct hsm *h, CK_SESSION_HANDLE s, const uint8_t *id, size_t id_len)
{
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cc, sizeof(cc)}, {CKA_ID, (void *)id, id_len}};
	CK_OBJECT_HANDLE o[8];
	CK_ULONG n = 0;
	CK_RV rv = hsm_find(h->f, s, t, 2, o, 8, &n);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
		log_info("replacing the certificate stored under the same id");
		rv = h->f->C_DestroyObject(s, o[i]);
	}
	return rv;
}

static c2s_err store_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct store_ctx *c = vctx;
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	uint8_t serial[2 + 127];
	const mbedtls_x509_crt *x = c->crt;
	CK_OBJECT_HANDLE o;
	if (x->serial.len > 125)
		return C2S_ERR_X509;
	serial[0] = 0x02; /* CKA_SERIAL_NUMBER is the DER INTEGER */
	serial[1] = (uint8_t)x->serial.len;
	memcpy(serial + 2, x->serial.p, x->serial.len);
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &no, sizeof(no)},
	    {CKA_VALUE, x->raw.p, x->raw.len},
	    {CKA_SUBJECT, x->subject_raw.p, x->subject_raw.len},
	    {CKA_ISSUER, x->issuer_raw.p, x->issuer_raw.len},
	    {CKA_SERIAL_NUMBER, serial, x->serial.len + 2},
	    {CKA_ID, (void *)c->id, c->id_len},
	    {CKA_LABEL, (void *)c->label, strlen(c->label)},
	};
	*rv = cert_remove_old(h, s->s, c->id, c->id_len);
	if (*rv == CKR_OK)
		*rv = h->f->C_CreateObject(s->s, t, sizeof(t) / sizeof(t[0]), &o);
	if (*rv != CKR_OK)
		HSM_LOG_RV("storing the certificate", *rv);
	return hsm_rv_err(*rv);
}

c2s_err hsm_cert_store(struct hsm *h, const uint8_t *der, size_t len, const uint8_t *id,
                       size_t id_len, const char *label)
{
	c2s_err ret = C2S_ERR_ARG;
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	ENSURE(h && der && id && label && len > 0 && len <= CERT_MAX, C2S_ERR_ARG);
	ENSURE(id_len > 0 && id_len <= HSM_MAX_ID && strlen(label) < HSM_MAX_LABEL, C2S_ERR_ARG);
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0 || crt.raw.len != len) {
		ret = C2S_ERR_X509;
		goto out;
	}
	struct store_ctx c = {&crt, id, id_len, label};
	GUARD(hsm_run(h, store_op, &c));
out:
	mbedtls_x509_crt_free(&crt);
	return ret;
}

/* The value (DER) of the one certificate object matching t[0..1], appended to der. */
static c2s_err cert_value(struct hsm *h, struct hsm_sess *s, CK_ATTRIBUTE *t, struct buf *der,
                          CK_RV *rv)
{
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;
	*rv = hsm_find(h->f, s->s, t, 2, &o, 1, &n);
	if (*rv != CKR_OK)
		return hsm_rv_err(*rv);
	if (n == 0)
		return C2S_ERR_NOT_FOUND;
	CK_ATTRIBUTE a = {CKA_VALUE, NULL, 0};
	*rv = h->f->C_GetAttributeValue(s->s, o, &a, 1);
	if (*rv != CKR_OK)
		return hsm_rv_err(*rv);
	if (a.ulValueLen == 0 || a.ulValueLen > CERT_MAX)
		return C2S_ERR_X509;
	c2s_err r = buf_reserve(der, a.ulValueLen);
	if (r != C2S_OK)
		return r;
	a.pValue = der->data + der->len;
	*rv = h->f->C_GetAttributeValue(s->s, o, &a, 1);
	if (*rv != CKR_OK)
		return hsm_rv_err(*rv);
	der->len += a.ulValueLen;
	return C2S_OK;
}

struct certget_ctx {
	const struct hsm_key_info *ki;
	struct buf *der;
};

static c2s_err certget_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct certget_ctx *c = vctx;
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cc, sizeof(cc)},
	                    {CKA_ID, (void *)c->ki->id, c->ki->id_len}};
	return cert_value(h, s, t, c->der, rv);
}

c2s_err hsm_cert_for_key(struct hsm *h, struct hsm_key *k, struct buf *der)
{
	c2s_err ret = C2S_ERR_ARG;
	struct hsm_key_info ki;
	ENSURE(h && k && der, C2S_ERR_ARG);
	pthread_mutex_lock(&h->mu);
	ki = k->info;
	pthread_mutex_unlock(&h->mu);
	ENSURE(ki.id_len > 0, C2S_ERR_NOT_FOUND);
	struct certget_ctx c = {&ki, der};
	size_t before = der->len;
	ret = hsm_run(h, certget_op, &c);
	if (ret != C2S_OK)
		der->len = before;
out:
	return ret;
}

struct certlabel_ctx {
	const char *label;
	struct buf *der;
};

static c2s_err certlabel_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct certlabel_ctx *c = vctx;
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cc, sizeof(cc)},
	                    {CKA_LABEL, (void *)c->label, strlen(c->label)}};
	return cert_value(h, s, t, c->der, rv);
}

c2s_err hsm_cert_by_label(struct hsm *h, const char *label, struct buf *der)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(h && label && label[0] && strlen(label) < HSM_MAX_LABEL && der, C2S_ERR_ARG);
	struct certlabel_ctx c = {label, der};
	size_t before = der->len;
	ret = hsm_run(h, certlabel_op, &c);
	if (ret != C2S_OK)
		der->len = before;
out:
	return ret;
}
