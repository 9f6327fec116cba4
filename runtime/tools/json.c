#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jw* w) { memset(w, 0, sizeof *w); }
void jw_free(jw* w) {
  free(w->buf);
  memset(w, 0, sizeof *w);
}

static void put(jw* w, const char* s, size_t n) {
  if (w->failed) return;
  if (w->len + n + 1 > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1) cap *= 2;
    char* b = realloc(w->buf, cap);
    if (!b) {
      w->failed = 1;
      return;
    }
    w->buf = b;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = 0;
}
static void puts_(jw* w, const char* s) { put(w, s, strlen(s)); }

/* Before a value: a comma if this level already has one (keys write their own comma). */
static void pre_value(jw* w, int after_key) {
  if (!after_key && w->need_comma[w->depth]) put(w, ",", 1);
  w->need_comma[w->depth] = 1;
}

static int last_was_key(const jw* w) { return w->len > 0 && w->buf && w->buf[w->len - 1] == ':'; }

static void open_(jw* w, const char* c) {
  pre_value(w, last_was_key(w));
  puts_(w, c);
  if (w->depth < 31) w->depth++;
  w->need_comma[w->depth] = 0;
}
static void close_(jw* w, const char* c) {
  if (w->depth > 0) w->depth--;
  puts_(w, c);
}

void jw_begin_object(jw* w) { open_(w, "{"); }
void jw_end_object(jw* w) { close_(w, "}"); }
void jw_begin_array(jw* w) { open_(w, "["); }
void jw_end_array(jw* w) { close_(w, "]"); }

static void quoted(jw* w, const char* s, size_t n) {
  put(w, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    switch (c) {
      case '"': puts_(w, "\\\""); break;
      case '\\': puts_(w, "\\\\"); break;
      case '\n': puts_(w, "\\n"); break;
      case '\r': puts_(w, "\\r"); break;
      case '\t': puts_(w, "\\t"); break;
      default:
        if (c < 0x20) {
          snprintf(esc, sizeof esc, "\\u%04x", c);
          puts_(w, esc);
        } else {
          put(w, (const char*)&s[i], 1);
        }
    }
  }
  put(w, "\"", 1);
}

void jw_key(jw* w, const char* key) {
  if (w->need_comma[w->depth]) put(w, ",", 1);
  w->need_comma[w->depth] = 1;
  quoted(w, key, strlen(key));
  put(w, ":", 1);
}

void jw_string_n(jw* w, const char* s, size_t n) {
  pre_value(w, last_was_key(w));
  quoted(w, s, n);
}
void jw_string(jw* w, const char* s) { jw_string_n(w, s ? s : "", s ? strlen(s) : 0); }

void jw_int(jw* w, int64_t v) {
  char b[32];
  pre_value(w, last_was_key(w));
  snprintf(b, sizeof b, "%lld", (long long)v);
  puts_(w, b);
}

void jw_double(jw* w, double v) {
  char b[48];
  pre_value(w, last_was_key(w));
  if (!isfinite(v)) {
    puts_(w, "null");
    return;
  }
  snprintf(b, sizeof b, "%.9g", v); /* significant digits: sub-microsecond op times keep their precision */
  puts_(w, b);
}

void jw_null(jw* w) {
  pre_value(w, last_was_key(w));
  puts_(w, "null");
}

void jw_bool(jw* w, int v) {
  pre_value(w, last_was_key(w));
  puts_(w, v ? "true" : "false");
}
