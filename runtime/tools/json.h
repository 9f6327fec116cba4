/* A tiny JSON writer into a growable buffer, for the runner's and the fuzzer's reports.
 * No parser: the tools only write JSON. Commas are handled by the writer (jw_key / jw_value). */
#ifndef PKT_TOOLS_JSON_H
#define PKT_TOOLS_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct jw {
  char* buf;
  size_t len, cap;
  int need_comma[32]; /* per nesting depth: a value was already written at this level */
  int depth;
  int failed;         /* allocation failed; the text is incomplete */
} jw;

void jw_init(jw* w);
void jw_free(jw* w);
void jw_begin_object(jw* w);
void jw_end_object(jw* w);
void jw_begin_array(jw* w);
void jw_end_array(jw* w);
void jw_key(jw* w, const char* key);
void jw_string(jw* w, const char* s);
void jw_string_n(jw* w, const char* s, size_t n);
void jw_int(jw* w, int64_t v);
void jw_double(jw* w, double v); /* non-finite values are written as null */
void jw_null(jw* w);
void jw_bool(jw* w, int v);

#endif
