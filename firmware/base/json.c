#include "json.h"

#include <stdio.h>
#include <stdlib.h>

/* Set by an allocation jansson asked for and did not get, on this thread. */
static _Thread_local int json_alloc_failed;

static void *json_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		json_alloc_failed = 1;
	return p;
}

static void json_release(void *p)
{
	free(p);
}

/* Before main, so that every thread allocates through json_alloc from the start (blocks from
 * either allocator are malloc's, so nothing allocated earlier is freed the wrong way). */
__attribute__((constructor)) static void json_install(void)
{
	json_set_alloc_funcs(json_alloc, json_release);
}

void c2s_json_watch(void)
{
	json_alloc_failed = 0;
}

int c2s_json_oom(void)
{
	return json_alloc_failed;
}

c2s_err c2s_json_parse(const void *p, size_t n, size_t flags, json_t **out, json_error_t *err)
{
	json_error_t local;
	json_error_t *e = err ? err : &local;
	c2s_json_watch();
	json_t *j = json_loadb((const char *)p, n, flags, e);
	if (c2s_json_oom()) {
		json_decref(j); /* possibly not what the bytes say */
		*out = NULL;
		snprintf(e->text, sizeof(e->text), "out of memory");
		e->line = e->column = -1;
		e->position = 0;
		return C2S_ERR_NOMEM;
	}
	*out = j;
	return j ? C2S_OK : C2S_ERR_ARG;
}

char *c2s_json_dumps(const json_t *j, size_t flags)
{
	c2s_json_watch();
	char *s = json_dumps(j, flags);
	if (c2s_json_oom()) {
		free(s); /* possibly with a key missing */
		return NULL;
	}
	return s;
}

struct json_cb {
	json_dump_callback_t cb;
	void *data;
	int failed;
};

static int json_cb_once(const char *buffer, size_t size, void *data)
{
	struct json_cb *c = data;
	if (c->cb(buffer, size, c->data) != 0)
		c->failed = 1;
	return c->failed ? -1 : 0;
}

int c2s_json_dump_callback(const json_t *j, json_dump_callback_t cb, void *data, size_t flags)
{
	struct json_cb c = {cb, data, 0};
	c2s_json_watch();
	int r = json_dump_callback(j, json_cb_once, &c, flags);
	return r != 0 || c.failed || c2s_json_oom() ? -1 : 0;
}
