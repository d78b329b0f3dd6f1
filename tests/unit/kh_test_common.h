/* Shared by khstore_test.c and otp_test.c: a mkdtemp directory per test, removed afterwards,
 * and a filled-in order manifest. */
#ifndef C2S_KH_TEST_COMMON_H
#define C2S_KH_TEST_COMMON_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/keyholder/khstore_int.h"

#define T0 1700000000 /* a fixed "now"; tests move time themselves */

static int kh_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

__attribute__((unused)) static void kh_rmtree(const char *dir)
{
	nftw(dir, kh_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* base gets a fresh mkdtemp directory (mode 0700) under $TMPDIR or /tmp; NULL on failure. */
__attribute__((unused)) static char *kh_tmpdir(char *base, size_t cap)
{
	const char *t = getenv("TMPDIR");
	snprintf(base, cap, "%s/c2s-kh-XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(base);
}

/* A manifest for `order` with `ndocs` distinct document hashes. */
__attribute__((unused)) static void kh_manifest_fill(struct kh_manifest *m, const char *order,
                                                     const char *jti, size_t ndocs,
                                                     long long expires)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->order, sizeof(m->order), "%s", order);
	snprintf(m->jti, sizeof(m->jti), "%s", jti);
	snprintf(m->given, sizeof(m->given), "Ana");
	snprintf(m->family, sizeof(m->family), "Novak");
	snprintf(m->email, sizeof(m->email), "ana.novak@example.si");
	snprintf(m->phone, sizeof(m->phone), "+38640111222");
	m->ndocs = ndocs;
	for (size_t i = 0; i < ndocs && i < KH_MAX_DOCS; i++)
		memset(m->docs[i], (int)(0x10 + i), 32);
	m->order_expires = expires;
}

#endif
