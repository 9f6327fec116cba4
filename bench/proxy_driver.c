/* proxy_driver: the arm64 instruction-count proxy's benchmark (bench/arm64_proxy.py). Loads one .ptm, fills
 * its inputs with seeded values (bound in place, so every run reads the same), runs it once untimed (lazy packing and first-touch stay out), then runs it
 * `runs` times between proxy_begin() and proxy_end(): the counters (qemu's exec log on arm64, callgrind's
 * --toggle-collect=proxy_measured on x86-64) count only those runs.
 *
 *   proxy_driver model.ptm [runs]      prints "isa <name>" on stdout; exit 1 on any error */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pockettorch/pockettorch.h"

/* Markers the counters find by symbol; noinline and not empty so each keeps an address of its own. */
__attribute__((noinline)) void proxy_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void proxy_end(void) { __asm__ volatile("" ::: "memory"); }

__attribute__((noinline)) int proxy_measured(pkt_session* s, long runs) {
  for (long i = 0; i < runs; i++)
    if (pkt_session_run(s) != PKT_OK) return 1;
  return 0;
}

static int fail(const char* what, const char* err) {
  fprintf(stderr, "proxy_driver: %s: %s\n", what, err);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) return fail("usage", "proxy_driver model.ptm [runs]");
  long runs = argc > 2 ? atol(argv[2]) : 1;
  char err[512];
  pkt_program* prog;
  pkt_session* s;
  if (pkt_program_load_file(argv[1], &prog, err, sizeof err) != PKT_OK) return fail("load", err);
  pkt_session_options opt = pkt_session_options_default();
  opt.num_threads = 1;
  if (pkt_session_create(prog, &opt, &s, err, sizeof err) != PKT_OK) return fail("session", err);
  unsigned state = 12345u;
  for (int i = 0; i < pkt_program_num_inputs(prog); i++) {
    pkt_tensor_info info;
    pkt_program_input_info(prog, i, &info);
    unsigned char* d = calloc(1, info.nbytes + 64); /* malloc's alignment suits every dtype; freed at exit */
    if (!d) return fail("input", "out of memory");
    if (info.dtype == PKT_F32)
      for (size_t k = 0; k < info.nbytes / 4; k++) { /* uniform in [-1, 1): finite, like the zoo's inputs */
        state = state * 1664525u + 1013904223u;
        ((float*)d)[k] = (float)(state >> 8) / 8388608.f - 1.f;
      }
    if (pkt_session_bind_input(s, i, d, info.nbytes) != PKT_OK) return fail("input", "cannot bind");
  }
  if (pkt_session_run(s) != PKT_OK) return fail("run", "warm-up run failed");
  proxy_begin();
  int bad = proxy_measured(s, runs);
  proxy_end();
  if (bad) return fail("run", "measured run failed");
  printf("isa %s\n", pkt_session_isa(s));
  pkt_session_free(s);
  pkt_program_free(prog);
  return 0;
}
