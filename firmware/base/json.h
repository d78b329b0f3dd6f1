/* JSON through jansson without trusting its handling of a failed allocation.
 *
 * jansson 2.14 goes on after some allocations it did not get: its lexer drops a byte it
 * could not save (lex_save in load.c, akheron/jansson#362), and its writer drops an object
 * key it could not write (dump_string's result unchecked in do_dump). A parse can then return
 * a document that is not the input ("https://podpis.example.si" read back as
 * "https://podpisexample.si") and a dump can return text that is not the document
 * ({"email":"…",:"Čeh",…}), both without an error. This module installs jansson allocation
 * functions (once, before main) that note a failure in a per-thread flag; the functions below
 * discard a result made while an allocation failed. (The lexer bug can also end in an
 * assertion inside jansson on a number token; that cannot be prevented from outside.)
 * Every JSON parse and dump in the tree goes through here. */
#ifndef C2S_JSON_H
#define C2S_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* Parses n bytes at p (jansson flags, e.g. JSON_REJECT_DUPLICATES).
 * C2S_OK with *out set; C2S_ERR_NOMEM when an allocation failed during the parse (err->text
 * says "out of memory"); C2S_ERR_ARG when the bytes are not JSON (err from jansson: text,
 * line, column). *out is NULL on failure. err may be NULL. */
C2S_MUST_CHECK c2s_err c2s_json_parse(const void *p, size_t n, size_t flags, json_t **out,
                                      json_error_t *err);

/* json_dumps, NULL also when an allocation failed anywhere during the dump. */
char *c2s_json_dumps(const json_t *j, size_t flags);
/* json_dump_callback, -1 also when an allocation or any call of cb failed during the dump
 * (jansson ignores cb's failure on an object key). */
int c2s_json_dump_callback(const json_t *j, json_dump_callback_t cb, void *data, size_t flags);

/* For other jansson calls whose NULL means either "refused" or "out of memory" (json_pack of
 * a string that may not be UTF-8): c2s_json_watch() before, c2s_json_oom() after says whether
 * a jansson allocation failed on this thread in between. */
void c2s_json_watch(void);
int c2s_json_oom(void);

#endif
