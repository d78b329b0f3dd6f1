/* SHA-256 throughput of the libraries the appliance links, in one run on one buffer: mbedTLS
 * (portable C), nettle (directly and through firmware/base/sha256), and OpenSSL's EVP as the
 * reference. Prints MB/s (10^6 bytes per second) and each one's ratio to OpenSSL; every library
 * hashes the same buffer and the digests must agree.
 * Usage: sha_bench [MB [ROUNDS]]   (default 64 MiB, 5 rounds; the best round of each counts) */
#include <mbedtls/sha256.h>
#include <nettle/sha2.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firmware/base/sha256.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void h_mbedtls(const uint8_t *p, size_t n, uint8_t out[32])
{
	if (mbedtls_sha256_ret(p, n, out, 0) != 0)
		abort();
}

static void h_nettle(const uint8_t *p, size_t n, uint8_t out[32])
{
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, 32, out);
}

static void h_openssl(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned int ol = 0;
	if (EVP_Digest(p, n, out, &ol, EVP_sha256(), NULL) != 1 || ol != 32)
		abort();
}

static void h_c2s(const uint8_t *p, size_t n, uint8_t out[32])
{
	c2s_sha256_oneshot(p, n, out);
}

struct lib {
	const char *name;
	void (*fn)(const uint8_t *, size_t, uint8_t[32]);
	double best; /* seconds */
	uint8_t digest[32];
};

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 64;
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
	if (mb == 0 || mb > 4096 || rounds < 1 || rounds > 100) {
		fprintf(stderr, "usage: sha_bench [MB (1..4096) [ROUNDS (1..100)]]\n");
		return 2;
	}
	size_t n = mb << 20;
	uint8_t *buf = malloc(n);
	if (!buf)
		return 1;
	uint32_t x = 0x9e3779b9u; /* xorshift: incompressible, deterministic */
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	struct lib libs[] = {
	    {"openssl-evp", h_openssl, 1e9, {0}},
	    {"mbedtls", h_mbedtls, 1e9, {0}},
	    {"nettle", h_nettle, 1e9, {0}},
	    {"c2s-sha256", h_c2s, 1e9, {0}},
	};
	size_t nl = sizeof(libs) / sizeof(libs[0]);
	/* rounds interleave the libraries, so a noisy neighbour hurts them all alike */
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < nl; i++) {
			double t0 = now_s();
			libs[i].fn(buf, n, libs[i].digest);
			double t = now_s() - t0;
			if (t < libs[i].best)
				libs[i].best = t;
		}
	int bad = 0;
	printf("sha_bench: %zu MiB buffer, best of %d rounds\n", mb, rounds);
	for (size_t i = 0; i < nl; i++) {
		if (memcmp(libs[i].digest, libs[0].digest, 32) != 0) {
			fprintf(stderr, "%s: digest differs from %s\n", libs[i].name, libs[0].name);
			bad = 1;
		}
		double mbs = (double)n / libs[i].best / 1e6;
		printf("%-12s %8.1f MB/s  ratio to openssl %.3f\n", libs[i].name, mbs,
		       libs[0].best / libs[i].best);
	}
	free(buf);
	return bad;
}
