/* firmware/base/sha256: the FIPS 180-2 known answers, any way of cutting the input into
 * update calls gives the one-shot digest (and mbedTLS's), peek leaves the hash running, final
 * resets it, and the exported state continues to the same digest after import. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "firmware/base/sha256.h"

static void from_hex(const char *h, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = malloc(n + 1);
	assert_non_null(p);
	uint32_t x = 0xdeadbeef;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

static void test_known_answers(void **state)
{
	(void)state;
	static const struct {
		const char *msg, *hex;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
	     "nopqrlmnopqrsmnopqrstnopqrstu",
	     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	uint8_t want[32], got[32];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		from_hex(v[i].hex, want);
		c2s_sha256_oneshot(v[i].msg, strlen(v[i].msg), got);
		assert_memory_equal(got, want, 32);
	}
	/* one million 'a', fed 1000 at a time */
	char a[1000];
	memset(a, 'a', sizeof(a));
	struct c2s_sha256 c;
	c2s_sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		c2s_sha256_update(&c, a, sizeof(a));
	assert_int_equal(c2s_sha256_length(&c), 1000000);
	c2s_sha256_final(&c, got);
	from_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want);
	assert_memory_equal(got, want, 32);
	/* NULL with length 0 is the empty message */
	c2s_sha256_oneshot(NULL, 0, got);
	from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
	assert_memory_equal(got, want, 32);
}

/* Pieces of every size 1..130 over 3000 bytes, and a few large ones, agree with mbedTLS. */
static void test_pieces(void **state)
{
	(void)state;
	enum { N = 3000 };
	uint8_t *p = pattern(3u << 20);
	uint8_t want[32], got[32];
	assert_int_equal(mbedtls_sha256_ret(p, N, want, 0), 0);
	for (size_t step = 1; step <= 130; step++) {
		struct c2s_sha256 c;
		c2s_sha256_init(&c);
		for (size_t off = 0; off < N; off += step)
			c2s_sha256_update(&c, p + off, N - off < step ? N - off : step);
		c2s_sha256_final(&c, got);
		assert_memory_equal(got, want, 32);
	}
	static const size_t big[] = {65536, 1u << 20, (3u << 20) - 1, 3u << 20};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		assert_int_equal(mbedtls_sha256_ret(p, big[i], want, 0), 0);
		c2s_sha256_oneshot(p, big[i], got);
		assert_memory_equal(got, want, 32);
	}
	free(p);
}

/* peek does not disturb; final resets to empty; a copy forks the hash */
static void test_peek_final_fork(void **state)
{
	(void)state;
	uint8_t a[32], b[32], abc[32], empty[32];
	c2s_sha256_oneshot("abc", 3, abc);
	c2s_sha256_oneshot("", 0, empty);
	struct c2s_sha256 c;
	c2s_sha256_init(&c);
	c2s_sha256_update(&c, "ab", 2);
	struct c2s_sha256 fork = c;
	c2s_sha256_peek(&c, a);
	c2s_sha256_oneshot("ab", 2, b);
	assert_memory_equal(a, b, 32);
	c2s_sha256_update(&c, "c", 1);
	c2s_sha256_final(&c, a);
	assert_memory_equal(a, abc, 32);
	assert_int_equal(c2s_sha256_length(&c), 0);
	c2s_sha256_final(&c, a);
	assert_memory_equal(a, empty, 32);
	c2s_sha256_update(&fork, "c", 1);
	c2s_sha256_final(&fork, a);
	assert_memory_equal(a, abc, 32);
}

/* export after every length 0..200 (and a large one), import into a fresh context, continue */
static void test_export_import(void **state)
{
	(void)state;
	uint8_t *p = pattern(70000);
	for (size_t split = 0; split <= 200 + 69500; split += split < 200 ? 1 : 69500) {
		size_t total = split + 300;
		struct c2s_sha256 c;
		c2s_sha256_init(&c);
		c2s_sha256_update(&c, p, split);
		struct c2s_sha256_state s;
		memset(&s, 0xa5, sizeof(s));
		c2s_sha256_export(&c, &s);
		assert_int_equal(s.len, split);
		for (size_t i = split % 64; i < sizeof(s.pending); i++)
			assert_int_equal(s.pending[i], 0);
		assert_memory_equal(s.pending, p + split - split % 64, split % 64);
		struct c2s_sha256 d;
		memset(&d, 0x5a, sizeof(d));
		assert_int_equal(c2s_sha256_import(&d, &s), C2S_OK);
		assert_int_equal(c2s_sha256_length(&d), split);
		c2s_sha256_update(&d, p + split, total - split);
		uint8_t got[32], want[32];
		c2s_sha256_final(&d, got);
		assert_int_equal(mbedtls_sha256_ret(p, total, want, 0), 0);
		assert_memory_equal(got, want, 32);
	}
	/* a length SHA-256 cannot count is refused, leaving an empty context */
	struct c2s_sha256_state s = {.len = C2S_SHA256_LEN_LIMIT};
	struct c2s_sha256 d;
	assert_int_equal(c2s_sha256_import(&d, &s), C2S_ERR_ARG);
	assert_int_equal(c2s_sha256_length(&d), 0);
	s.len = C2S_SHA256_LEN_LIMIT - 1;
	assert_int_equal(c2s_sha256_import(&d, &s), C2S_OK);
	assert_int_equal(c2s_sha256_length(&d), C2S_SHA256_LEN_LIMIT - 1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answers),
	    cmocka_unit_test(test_pieces),
	    cmocka_unit_test(test_peek_final_fork),
	    cmocka_unit_test(test_export_import),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
