/* Every error code has a name, a message, a problem type and a sensible HTTP status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/base/err.h"

static const int all_codes[] = {
#define X(name, value, http, type, msg) value,
    C2S_ERRORS(X)
#undef X
};

static void every_code_has_a_message(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(all_codes) / sizeof(all_codes[0]); i++) {
		c2s_err e = (c2s_err)all_codes[i];
		assert_true(c2s_err_known(all_codes[i]));
		assert_true(strlen(c2s_err_message(e)) > 3);
		assert_string_not_equal(c2s_err_message(e), "unknown error code");
		assert_true(strncmp(c2s_err_name(e), "C2S_", 4) == 0);
		assert_true(strlen(c2s_err_problem_type(e)) > 1);
		int s = c2s_err_http_status(e);
		assert_true(s >= 200 && s <= 599);
		/* no message may be the operator's dreaded generic one */
		assert_null(strstr(c2s_err_message(e), "an error occurred"));
	}
}

static void codes_are_unique(void **state)
{
	(void)state;
	size_t n = sizeof(all_codes) / sizeof(all_codes[0]);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(all_codes[i], all_codes[j]);
}

static void unknown_code_is_reported_as_such(void **state)
{
	(void)state;
	assert_false(c2s_err_known(99999));
	assert_string_equal(c2s_err_message((c2s_err)99999), "unknown error code");
	assert_int_equal(c2s_err_http_status((c2s_err)99999), 500);
}

static void layers_map_to_the_right_http_status(void **state)
{
	(void)state;
	assert_int_equal(c2s_err_http_status(C2S_ERR_PDF_ENCRYPTED), 422);
	assert_int_equal(c2s_err_http_status(C2S_ERR_TOO_BIG), 413);
	assert_int_equal(c2s_err_http_status(C2S_ERR_IPC), 503);
	assert_int_equal(c2s_err_http_status(C2S_ERR_HTTP_UNAUTHORIZED), 401);
	assert_string_equal(c2s_err_problem_type(C2S_ERR_PDF_NOT_PDF), "invalid-document");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_code_has_a_message),
	    cmocka_unit_test(codes_are_unique),
	    cmocka_unit_test(unknown_code_is_reported_as_such),
	    cmocka_unit_test(layers_map_to_the_right_http_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
