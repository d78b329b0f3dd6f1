/* midstate: a SHA-256 state exported after n bytes and imported elsewhere continues to the
 * same digest as hashing everything at once; every inconsistent serialization is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "firmware/pades/midstate.h"

#define BIG ((1u << 20) + 7)

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n + 1);
	assert_non_null(p);
	uint32_t x = 0x12345678;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

/* Exports after `split` bytes, imports, continues over the rest: equals the one-shot hash. */
static void round_trip(const uint8_t *p, size_t split, size_t total)
{
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(midstate_of(p, split, &b), C2S_OK);
	assert_int_equal(b.len, MIDSTATE_FIXED + split % 64);
	assert_int_equal(b.data[0], MIDSTATE_VERSION);

	mbedtls_sha256_context c;
	uint64_t len = 0;
	assert_int_equal(midstate_import(b.data, b.len, &c, &len), C2S_OK);
	assert_int_equal(len, split);
	/* export of the imported state is byte-identical */
	struct buf again;
	buf_init(&again, 1024);
	assert_int_equal(midstate_export(&c, &again), C2S_OK);
	assert_int_equal(again.len, b.len);
	assert_memory_equal(again.data, b.data, b.len);

	uint8_t got[32], want[32];
	assert_int_equal(mbedtls_sha256_update_ret(&c, p + split, total - split), 0);
	assert_int_equal(mbedtls_sha256_finish_ret(&c, got), 0);
	assert_int_equal(mbedtls_sha256_ret(p, total, want, 0), 0);
	assert_memory_equal(got, want, 32);
	mbedtls_sha256_free(&c);
	buf_free(&b);
	buf_free(&again);
}

static void test_round_trip(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, BIG};
	uint8_t *p = pattern(BIG + 200);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		round_trip(p, lens[i], lens[i]);       /* finish right away */
		round_trip(p, lens[i], lens[i] + 1);   /* one more byte */
		round_trip(p, lens[i], lens[i] + 200); /* several blocks more */
	}
	free(p);
}

/* The known answer: SHA-256("abc") continued from a state after "a". */
static void test_known_answer(void **state)
{
	(void)state;
	static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
	                                0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	                                0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	                                0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(midstate_of((const uint8_t *)"a", 1, &b), C2S_OK);
	assert_int_equal(b.len, MIDSTATE_FIXED + 1);
	/* u64 length 1, then the SHA-256 initial state H0 = 6a09e667 */
	static const uint8_t head[] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0x6a, 0x09, 0xe6, 0x67};
	assert_memory_equal(b.data, head, sizeof(head));
	assert_int_equal(b.data[b.len - 1], 'a');
	mbedtls_sha256_context c;
	uint64_t len;
	uint8_t got[32];
	assert_int_equal(midstate_import(b.data, b.len, &c, &len), C2S_OK);
	assert_int_equal(mbedtls_sha256_update_ret(&c, (const uint8_t *)"bc", 2), 0);
	assert_int_equal(mbedtls_sha256_finish_ret(&c, got), 0);
	assert_memory_equal(got, abc, 32);
	mbedtls_sha256_free(&c);
	buf_free(&b);
}

static void expect_refused(const uint8_t *p, size_t n)
{
	mbedtls_sha256_context c;
	uint64_t len = 77;
	assert_int_equal(midstate_import(p, n, &c, &len), C2S_ERR_ARG);
	assert_int_equal(len, 77); /* untouched */
	/* the context is usable (empty), not half-imported */
	assert_int_equal(c.total[0], 0);
	assert_int_equal(c.total[1], 0);
	mbedtls_sha256_free(&c);
}

static void test_refusals(void **state)
{
	(void)state;
	uint8_t *p = pattern(200);
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(midstate_of(p, 130, &b), C2S_OK); /* 2 pending bytes */
	uint8_t m[MIDSTATE_MAX + 8];
	size_t n = b.len;
	memcpy(m, b.data, n);

	expect_refused(m, 0);
	expect_refused(m, MIDSTATE_FIXED - 1);
	expect_refused(m, n - 1); /* a pending byte missing */
	uint8_t t[sizeof(m)];
	memcpy(t, m, n);
	t[n] = 0;
	expect_refused(t, n + 1); /* a trailing byte */
	t[0] = 2;
	expect_refused(t, n); /* unknown version */
	t[0] = 0;
	expect_refused(t, n);
	memcpy(t, m, n);
	t[8] = 131; /* length says 3 pending bytes, 2 follow */
	expect_refused(t, n);
	t[8] = 192; /* length says 0 pending bytes, 2 follow */
	expect_refused(t, n);
	memcpy(t, m, n);
	t[1] = 0x20; /* 2^61 bytes and more: beyond SHA-256's 64-bit bit count */
	expect_refused(t, n);
	t[1] = 0x1f; /* just below: accepted */
	mbedtls_sha256_context c;
	uint64_t len;
	assert_int_equal(midstate_import(t, n, &c, &len), C2S_OK);
	assert_int_equal(len >> 56, 0x1f);
	mbedtls_sha256_free(&c);
	expect_refused(NULL, n);
	assert_int_equal(midstate_import(m, n, NULL, &len), C2S_ERR_ARG);
	assert_int_equal(midstate_import(m, n, &c, NULL), C2S_ERR_ARG);
	mbedtls_sha256_free(&c);

	/* export refuses SHA-224 and a full output buffer */
	mbedtls_sha256_context c224;
	mbedtls_sha256_init(&c224);
	assert_int_equal(mbedtls_sha256_starts_ret(&c224, 1), 0);
	struct buf o;
	buf_init(&o, 1024);
	assert_int_equal(midstate_export(&c224, &o), C2S_ERR_ARG);
	assert_int_equal(o.len, 0);
	mbedtls_sha256_free(&c224);
	struct buf small;
	buf_init(&small, MIDSTATE_FIXED);
	assert_int_equal(midstate_of(p, 65, &small), C2S_ERR_TOO_BIG);
	assert_int_equal(midstate_of(p, 64, &small), C2S_OK);
	assert_int_equal(midstate_of(NULL, 1, &o), C2S_ERR_ARG);
	buf_free(&small);
	buf_free(&o);
	buf_free(&b);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_known_answer),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
