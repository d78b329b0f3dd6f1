#include "err.h"

#include <stddef.h>

struct err_row {
	int code;
	int http;
	const char *name;
	const char *type;
	const char *msg;
};

static const struct err_row err_table[] = {
#define C2S_ERR_ROW(name, value, http, type, msg) {value, http, #name, type, msg},
    C2S_ERRORS(C2S_ERR_ROW)
#undef C2S_ERR_ROW
};

static const struct err_row *err_find(int e)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == e)
			return &err_table[i];
	return NULL;
}

int c2s_err_known(int e)
{
	return err_find(e) != NULL;
}

const char *c2s_err_message(c2s_err e)
{
	const struct err_row *r = err_find((int)e);
	return r ? r->msg : "unknown error code";
}

const char *c2s_err_name(c2s_err e)
{
	const struct err_row *r = err_find((int)e);
	return r ? r->name : "C2S_ERR_UNKNOWN";
}

int c2s_err_http_status(c2s_err e)
{
	const struct err_row *r = err_find((int)e);
	return r ? r->http : 500;
}

const char *c2s_err_problem_type(c2s_err e)
{
	const struct err_row *r = err_find((int)e);
	return r ? r->type : "internal";
}
