/* pkt_alloc_fail: allocation-failure stress test.
 *
 *   pkt_alloc_fail prog1.ptm [prog2.ptm ...]
 *
 * Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign (CMakeLists.txt), so
 * every allocation the runtime makes goes through the wrappers below; no hook exists in the runtime
 * and no LD_PRELOAD is used. For each program and N = 1, 2, ... it runs the whole life cycle (load from
 * file, load from a buffer, sessions with 1 and 2 threads, two runs each, free) with the Nth allocation
 * failing, and checks that the call that hit it returned PKT_OUT_OF_MEMORY and that nothing crashed
 * (built with PKT_SANITIZE=ON, LeakSanitizer also checks every error path frees what it took). It stops
 * when a whole life cycle makes fewer than N allocations. Exit 0 when every case behaved, 1 otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pockettorch/pockettorch.h"

void* __real_malloc(size_t n);
void* __real_calloc(size_t n, size_t m);
void* __real_realloc(void* p, size_t n);
int __real_posix_memalign(void** p, size_t a, size_t n);

static int g_armed;
static long g_calls, g_fail_at;
static int g_failed;

static int should_fail(void) {
  if (!g_armed) return 0;
  if (++g_calls == g_fail_at) {
    g_failed = 1;
    return 1;
  }
  return 0;
}

void* __wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void* __wrap_calloc(size_t n, size_t m) { return should_fail() ? NULL : __real_calloc(n, m); }
void* __wrap_realloc(void* p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }
int __wrap_posix_memalign(void** p, size_t a, size_t n) { return should_fail() ? ENOMEM : __real_posix_memalign(p, a, n); }

static int read_all(const char* path, uint8_t** out, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n < 0) {
    fclose(f);
    return -1;
  }
  *out = __real_malloc((size_t)n + 1);
  int ok = *out && fread(*out, 1, (size_t)n, f) == (size_t)n;
  fclose(f);
  *size = (size_t)n;
  return ok ? 0 : -1;
}

/* Zero inputs before every run: the memory plan may reuse input bytes, and zeros are in range for
 * index inputs (embeddings, gather). */
static pkt_status run_zeroed(pkt_session* s, const pkt_program* p) {
  for (int i = 0; i < pkt_program_num_inputs(p); i++) {
    pkt_tensor_info info;
    if (pkt_program_input_info(p, i, &info) == PKT_OK && info.nbytes) memset(pkt_session_input_data(s, i), 0, info.nbytes);
  }
  return pkt_session_run(s);
}

/* One life cycle. Returns the first non-OK status (or PKT_OK). */
static pkt_status life_cycle(const char* path, const uint8_t* data, size_t size) {
  pkt_program *a = NULL, *b = NULL;
  pkt_session *s1 = NULL, *s2 = NULL;
  char err[256];
  pkt_status st = pkt_program_load_file(path, &a, err, sizeof err);
  if (!st) st = pkt_program_load_buffer(data, size, 1, &b, err, sizeof err);
  if (!st) {
    pkt_session_options o = pkt_session_options_default();
    st = pkt_session_create(a, &o, &s1, err, sizeof err);
  }
  if (!st) {
    pkt_session_options o = pkt_session_options_default();
    o.num_threads = 2;
    st = pkt_session_create(b, &o, &s2, err, sizeof err);
  }
  for (int k = 0; k < 2 && !st; k++) {
    st = run_zeroed(s1, a);
    if (!st) st = run_zeroed(s2, b);
  }
  pkt_session_free(s1);
  pkt_session_free(s2);
  pkt_program_free(a);
  pkt_program_free(b);
  return st;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pkt_alloc_fail prog1.ptm [prog2.ptm ...]\n");
    return 2;
  }
  int bad = 0;
  printf("{\"schema\":\"pockettorch.alloc_fail/1\",\"programs\":[");
  for (int i = 1; i < argc; i++) {
    uint8_t* data = NULL;
    size_t size = 0;
    if (read_all(argv[i], &data, &size) != 0) {
      fprintf(stderr, "pkt_alloc_fail: cannot read %s\n", argv[i]);
      return 1;
    }
    pkt_status base = life_cycle(argv[i], data, size);
    if (base != PKT_OK) {
      fprintf(stderr, "pkt_alloc_fail: %s fails without injected failures: %s\n", argv[i], pkt_status_name(base));
      free(data);
      return 1;
    }
    long n;
    for (n = 1;; n++) {
      g_calls = 0;
      g_fail_at = n;
      g_failed = 0;
      g_armed = 1;
      pkt_status st = life_cycle(argv[i], data, size);
      g_armed = 0;
      if (!g_failed) {
        if (st != PKT_OK) {
          fprintf(stderr, "pkt_alloc_fail: %s: no failure injected but got %s\n", argv[i], pkt_status_name(st));
          bad = 1;
        }
        break;
      }
      if (st != PKT_OUT_OF_MEMORY) {
        fprintf(stderr, "pkt_alloc_fail: %s: allocation %ld failed but the life cycle returned %s\n", argv[i], n,
                pkt_status_name(st));
        bad = 1;
      }
    }
    printf("%s{\"path\":\"%s\",\"allocations\":%ld}", i > 1 ? "," : "", argv[i], n - 1);
    free(data);
  }
  printf("],\"ok\":%s}\n", bad ? "false" : "true");
  return bad;
}
