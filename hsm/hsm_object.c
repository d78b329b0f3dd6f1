/* Objects: attribute reads, searches, loading a key's description and public half, and
 * finding a key again after a recovery. */
#include <stdio.h>
#include <string.h>

#include "hsm_int.h"

CK_RV hsm_attr_get(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                   CK_ATTRIBUTE_TYPE t, uint8_t *out, size_t cap, size_t *len)
{
	CK_ATTRIBUTE a = {t, out, cap};
	CK_RV rv = f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > cap)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	*len = a.ulValueLen;
	return CKR_OK;
}

CK_RV hsm_find(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
               CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *nfound)
{
	*nfound = 0;
	CK_RV rv = f->C_FindObjectsInit(s, tmpl, n);
	if (rv != CKR_OK)
		return rv;
	rv = f->C_FindObjects(s, found, max, nfound);
	CK_RV rv2 = f->C_FindObjectsFinal(s);
	return rv != CKR_OK ? rv : rv2;
}

static CK_RV key_public_ec(struct hsm *h, CK_SESSION_HANDLE s, struct hsm_key *k)
{
	CK_OBJECT_CLASS pc = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_ID, k->info.id, k->info.id_len}};
	CK_OBJECT_HANDLE o[2];
	CK_ULONG n = 0;
	uint8_t pt[200];
	size_t len = 0;
	CK_RV rv = hsm_find(h->f, s, t, 2, o, 2, &n);
	if (rv != CKR_OK || n != 1)
		return rv;
	rv = hsm_attr_get(h->f, s, o[0], CKA_EC_POINT, pt, sizeof(pt), &len);
	if (rv == CKR_OK && hsm_ec_point_unwrap(k->info.curve, pt, len, k->pub, sizeof(k->pub),
	                                        &k->pub_len) != C2S_OK)
		k->pub_len = 0;
	return rv;
}

static CK_RV key_type_attrs(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                            struct hsm_key *k, CK_KEY_TYPE kt)
{
	CK_FUNCTION_LIST_PTR f = h->f;
	uint8_t p[200];
	size_t len = 0;
	CK_RV rv;
	if (kt == CKK_RSA) {
		k->info.type = HSM_KEY_RSA;
		rv = hsm_attr_get(f, s, o, CKA_MODULUS, k->pub, sizeof(k->pub), &k->pub_len);
		if (rv == CKR_OK)
			rv = hsm_attr_get(f, s, o, CKA_PUBLIC_EXPONENT, k->exp, sizeof(k->exp),
			                  &k->exp_len);
		size_t z = 0;
		while (z < k->pub_len && k->pub[z] == 0)
			z++;
		k->info.bits = (unsigned)(k->pub_len - z) * 8;
		if (z < k->pub_len)
			for (uint8_t top = k->pub[z]; !(top & 0x80); top <<= 1)
				k->info.bits--;
		return rv;
	}
	if (kt != CKK_EC)
		return CKR_KEY_TYPE_INCONSISTENT;
	k->info.type = HSM_KEY_EC;
	rv = hsm_attr_get(f, s, o, CKA_EC_PARAMS, p, sizeof(p), &len);
	if (rv != CKR_OK)
		return rv;
	k->info.curve = hsm_curve_from_params(p, len);
	k->info.bits = hsm_curve_bits(k->info.curve);
	if (k->info.curve == HSM_CURVE_NONE)
		return CKR_CURVE_NOT_SUPPORTED;
	if (k->cls == CKO_PUBLIC_KEY) {
		rv = hsm_attr_get(f, s, o, CKA_EC_POINT, p, sizeof(p), &len);
		if (rv == CKR_OK && hsm_ec_point_unwrap(k->info.curve, p, len, k->pub,
		                                        sizeof(k->pub), &k->pub_len) != C2S_OK)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return rv;
	}
	return key_public_ec(h, s, k);
}

static int has_cert(struct hsm *h, CK_SESSION_HANDLE s, const struct hsm_key_info *ki)
{
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cc, sizeof(cc)}, {CKA_ID, (void *)ki->id, ki->id_len}};
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;
	return ki->id_len > 0 && hsm_find(h->f, s, t, 2, &o, 1, &n) == CKR_OK && n == 1;
}

CK_RV hsm_key_load(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, struct hsm_key *k)
{
	CK_KEY_TYPE kt = 0;
	CK_BBOOL aa = CK_FALSE;
	size_t len = 0;
	memset(k, 0, sizeof(*k));
	CK_RV rv = hsm_attr_get(h->f, s, o, CKA_CLASS, (uint8_t *)&k->cls, sizeof(k->cls), &len);
	if (rv == CKR_OK)
		rv = hsm_attr_get(h->f, s, o, CKA_KEY_TYPE, (uint8_t *)&kt, sizeof(kt), &len);
	if (rv != CKR_OK)
		return rv;
	if (hsm_attr_get(h->f, s, o, CKA_LABEL, (uint8_t *)k->info.label, sizeof(k->info.label) - 1,
	                 &len) == CKR_OK)
		k->info.label[len] = '\0';
	if (hsm_attr_get(h->f, s, o, CKA_ID, k->info.id, sizeof(k->info.id), &len) == CKR_OK)
		k->info.id_len = len;
	if (k->cls == CKO_PRIVATE_KEY &&
	    hsm_attr_get(h->f, s, o, CKA_ALWAYS_AUTHENTICATE, &aa, sizeof(aa), &len) == CKR_OK)
		k->info.always_authenticate = aa == CK_TRUE;
	rv = key_type_attrs(h, s, o, k, kt);
	if (rv != CKR_OK)
		return rv;
	k->info.has_certificate = has_cert(h, s, &k->info);
	k->handle = o;
	return CKR_OK;
}

/* After a recovery: by label/id; if those changed, by the public key. */
static CK_RV key_refind(struct hsm *h, CK_SESSION_HANDLE s, const struct hsm_key *k,
                        CK_OBJECT_HANDLE *o)
{
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[3] = {{CKA_CLASS, &pc, sizeof(pc)}};
	CK_ULONG nt = 1, n = 0;
	CK_OBJECT_HANDLE found[2];
	if (k->info.label[0]) {
		t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)k->info.label, strlen(k->info.label)};
	}
	if (k->info.id_len)
		t[nt++] = (CK_ATTRIBUTE){CKA_ID, (void *)k->info.id, k->info.id_len};
	CK_RV rv = hsm_find(h->f, s, t, nt, found, 2, &n);
	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < n && n == 1; i++) {
		struct hsm_key c;
		rv = hsm_key_load(h, s, found[i], &c);
		if (rv != CKR_OK)
			return rv;
		if (c.pub_len == k->pub_len && memcmp(c.pub, k->pub, k->pub_len) == 0) {
			*o = found[i];
			return CKR_OK;
		}
	}
	/* By public key: private keys of the same type whose public half is ours. */
	CK_KEY_TYPE kt = k->info.type == HSM_KEY_RSA ? CKK_RSA : CKK_EC;
	CK_OBJECT_HANDLE all[64];
	t[1] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof(kt)};
	rv = hsm_find(h->f, s, t, 2, all, 64, &n);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
		struct hsm_key c;
		if (hsm_key_load(h, s, all[i], &c) == CKR_OK && c.pub_len == k->pub_len &&
		    k->pub_len > 0 && memcmp(c.pub, k->pub, k->pub_len) == 0) {
			log_info("key \"%s\" found again by its public key", k->info.label);
			*o = all[i];
			return CKR_OK;
		}
	}
	return rv == CKR_OK ? CKR_KEY_HANDLE_INVALID : rv;
}

c2s_err hsm_key_handle(struct hsm *h, struct hsm_sess *s, struct hsm_key *k, CK_OBJECT_HANDLE *o,
                       CK_RV *rv)
{
	pthread_mutex_lock(&h->mu);
	int fresh = k->epoch == h->epoch && k->handle != CK_INVALID_HANDLE;
	uint64_t epoch = h->epoch;
	*o = k->handle;
	pthread_mutex_unlock(&h->mu);
	if (fresh)
		return C2S_OK;
	*rv = key_refind(h, s->s, k, o);
	if (*rv != CKR_OK) {
		HSM_LOG_RV("finding the key again", *rv);
		if (h->pin_state != C2S_OK)
			return h->pin_state;
		return *rv == CKR_KEY_HANDLE_INVALID ? C2S_ERR_HSM_NO_KEY : hsm_rv_err(*rv);
	}
	pthread_mutex_lock(&h->mu);
	k->handle = *o;
	k->epoch = epoch;
	pthread_mutex_unlock(&h->mu);
	return C2S_OK;
}
