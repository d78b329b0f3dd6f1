/* Locked memory for secrets (firmware/base/secmem): each secret on pages of its own, locked and
 * excluded from core dumps; freeing one leaves another locked (munlock works on whole pages, and
 * the old allocator's neighbours shared them); wiping and constant-time comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/base/secmem.h"

/* The smaps entry of the mapping that holds p: its Locked kB and whether VmFlags has "dd". */
static int smaps_of(const void *p, long *locked_kb, int *dontdump)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = 0;
	uintptr_t a = (uintptr_t)p;
	*locked_kb = -1;
	*dontdump = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			found |= in;
			continue;
		}
		if (in && strncmp(line, "Locked:", 7) == 0)
			*locked_kb = strtol(line + 7, NULL, 10);
		if (in && strncmp(line, "VmFlags:", 8) == 0)
			*dontdump = strstr(line, " dd") != NULL;
	}
	if (f)
		fclose(f);
	return found;
}

static void secrets_are_locked_and_kept_out_of_core_dumps(void **state)
{
	(void)state;
	char *a = secmem_alloc(256), *b = secmem_alloc(256);
	long kb;
	int dd;
	assert_non_null(a);
	assert_non_null(b);
	memcpy(a, "1234", 5);
	memcpy(b, "5678", 5);
	assert_true(smaps_of(b, &kb, &dd));
	assert_true(dd);
	assert_true(kb >= 4);
	/* freeing a does not unlock b */
	secmem_free(a, 256);
	assert_true(smaps_of(b, &kb, &dd));
	assert_true(kb >= 4);
	assert_string_equal(b, "5678");
	secmem_free(b, 256);
	/* a large secret spans its pages, all locked */
	char *c = secmem_alloc(3 * 4096);
	assert_non_null(c);
	memset(c, 0x5a, 3 * 4096);
	assert_true(smaps_of(c, &kb, &dd));
	assert_true(kb >= 12);
	secmem_free(c, 3 * 4096);
}

static void comparison_is_exact(void **state)
{
	(void)state;
	assert_int_equal(secmem_cmp("abcd", "abcd", 4), 0);
	assert_int_not_equal(secmem_cmp("abcd", "abce", 4), 0);
	assert_int_not_equal(secmem_cmp("\x01\x00", "\x00\x01", 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(secrets_are_locked_and_kept_out_of_core_dumps),
	    cmocka_unit_test(comparison_is_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
