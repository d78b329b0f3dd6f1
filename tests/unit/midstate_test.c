/* midstate: a SHA-256 state exported after n bytes and imported elsewhere continues to the
 * same digest as hashing everything at once; every inconsistent serialization is refused. The
 * form is byte for byte the one the mbedTLS-based midstate wrote before firmware/base/sha256
 * (a reference serializer of mbedTLS's context below), in both directions, so an old web and a
 * new keyholder (or the reverse) interoperate during an upgrade. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "firmware/base/sha256.h"

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

	struct c2s_sha256 c;
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
	c2s_sha256_update(&c, p + split, total - split);
	c2s_sha256_final(&c, got);
	assert_int_equal(mbedtls_sha256_ret(p, total, want, 0), 0);
	assert_memory_equal(got, want, 32);
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
	struct c2s_sha256 c;
	uint64_t len;
	uint8_t got[32];
	assert_int_equal(midstate_import(b.data, b.len, &c, &len), C2S_OK);
	c2s_sha256_update(&c, "bc", 2);
	c2s_sha256_final(&c, got);
	assert_memory_equal(got, abc, 32);
	buf_free(&b);
}

/* ---- The form as the mbedTLS-based midstate.c wrote and read it (mbedTLS 2.28's context:
 * total[2] bytes, state[8], buffer[64]), kept here as the reference. */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t mbed_export(const mbedtls_sha256_context *c, uint8_t t[MIDSTATE_MAX])
{
	uint64_t len = (uint64_t)c->total[1] << 32 | c->total[0];
	t[0] = 1;
	put32(t + 1, (uint32_t)(len >> 32));
	put32(t + 5, (uint32_t)len);
	for (int i = 0; i < 8; i++)
		put32(t + 9 + 4 * i, c->state[i]);
	memcpy(t + MIDSTATE_FIXED, c->buffer, len % 64);
	return MIDSTATE_FIXED + len % 64;
}

static void mbed_import(const uint8_t *p, size_t n, mbedtls_sha256_context *c)
{
	mbedtls_sha256_init(c);
	assert_int_equal(mbedtls_sha256_starts_ret(c, 0), 0);
	assert_true(n >= MIDSTATE_FIXED && n <= MIDSTATE_MAX && p[0] == 1);
	uint64_t len = (uint64_t)get32(p + 1) << 32 | get32(p + 5);
	assert_int_equal(n - MIDSTATE_FIXED, len % 64);
	c->total[0] = (uint32_t)len;
	c->total[1] = (uint32_t)(len >> 32);
	for (int i = 0; i < 8; i++)
		c->state[i] = get32(p + 9 + 4 * i);
	memcpy(c->buffer, p + MIDSTATE_FIXED, n - MIDSTATE_FIXED);
}

/* After `split` bytes (fed in pieces of `step` to both libraries): the same bytes from both
 * exporters; each one's midstate, imported by the other, finishes to the one-shot digest. */
static void cross_check(const uint8_t *p, size_t split, size_t total, size_t step)
{
	mbedtls_sha256_context m;
	mbedtls_sha256_init(&m);
	assert_int_equal(mbedtls_sha256_starts_ret(&m, 0), 0);
	struct c2s_sha256 n;
	c2s_sha256_init(&n);
	for (size_t off = 0; off < split; off += step) {
		size_t k = split - off < step ? split - off : step;
		assert_int_equal(mbedtls_sha256_update_ret(&m, p + off, k), 0);
		c2s_sha256_update(&n, p + off, k);
	}
	uint8_t old_form[MIDSTATE_MAX];
	size_t old_len = mbed_export(&m, old_form);
	mbedtls_sha256_free(&m);
	struct buf new_form;
	buf_init(&new_form, MIDSTATE_MAX);
	assert_int_equal(midstate_export(&n, &new_form), C2S_OK);
	assert_int_equal(new_form.len, old_len);
	assert_memory_equal(new_form.data, old_form, old_len);

	uint8_t want[32], got[32];
	assert_int_equal(mbedtls_sha256_ret(p, total, want, 0), 0);
	/* old web, new keyholder */
	struct c2s_sha256 c;
	uint64_t len = 0;
	assert_int_equal(midstate_import(old_form, old_len, &c, &len), C2S_OK);
	assert_int_equal(len, split);
	c2s_sha256_update(&c, p + split, total - split);
	c2s_sha256_final(&c, got);
	assert_memory_equal(got, want, 32);
	/* new web, old keyholder */
	mbed_import(new_form.data, new_form.len, &m);
	assert_int_equal(mbedtls_sha256_update_ret(&m, p + split, total - split), 0);
	assert_int_equal(mbedtls_sha256_finish_ret(&m, got), 0);
	mbedtls_sha256_free(&m);
	assert_memory_equal(got, want, 32);
	buf_free(&new_form);
}

static void test_same_as_mbedtls(void **state)
{
	(void)state;
	static const size_t big[] = {4096, 65536 + 13, BIG, 3u * BIG + 61};
	uint8_t *p = pattern(3 * BIG + 300);
	for (size_t split = 0; split <= 200; split++) {
		cross_check(p, split, split, 1000);     /* one piece */
		cross_check(p, split, split + 77, 7);   /* odd pieces, more after */
		cross_check(p, split, split + 200, 64); /* whole blocks */
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		cross_check(p, big[i], big[i] + 100, big[i]);
		cross_check(p, big[i], big[i] + 1, 4093);
	}
	free(p);
}

static void expect_refused(const uint8_t *p, size_t n)
{
	struct c2s_sha256 c;
	memset(&c, 0x5a, sizeof(c));
	uint64_t len = 77;
	assert_int_equal(midstate_import(p, n, &c, &len), C2S_ERR_ARG);
	assert_int_equal(len, 77); /* untouched */
	/* the context is usable (empty), not half-imported */
	assert_int_equal(c2s_sha256_length(&c), 0);
	static const uint8_t empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	                                  0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	                                  0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	                                  0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	uint8_t got[32];
	c2s_sha256_final(&c, got);
	assert_memory_equal(got, empty, 32);
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
	struct c2s_sha256 c;
	uint64_t len;
	assert_int_equal(midstate_import(t, n, &c, &len), C2S_OK);
	assert_int_equal(len >> 56, 0x1f);
	assert_int_equal(c2s_sha256_length(&c), len);
	/* and exported again unchanged */
	struct buf huge;
	buf_init(&huge, 1024);
	assert_int_equal(midstate_export(&c, &huge), C2S_OK);
	assert_int_equal(huge.len, n);
	assert_memory_equal(huge.data, t, n);
	buf_free(&huge);
	expect_refused(NULL, n);
	assert_int_equal(midstate_import(m, n, NULL, &len), C2S_ERR_ARG);
	assert_int_equal(midstate_import(m, n, &c, NULL), C2S_ERR_ARG);

	/* export refuses no context and a full output buffer */
	struct buf o;
	buf_init(&o, 1024);
	assert_int_equal(midstate_export(NULL, &o), C2S_ERR_ARG);
	assert_int_equal(o.len, 0);
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
	    cmocka_unit_test(test_same_as_mbedtls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
