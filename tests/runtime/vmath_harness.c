/* Test driver for the vector math of the ISA config the runtime picks (PKT_MAX_ISA caps it): the activations
 * (cfg->act), the maps (cfg->vmap) and the binary arithmetic (cfg->vbinary); test_vmath.py checks the results
 * against float64 torch.
 *
 *   vmath_harness isa
 *       prints the ISA the runtime picks: "isa=neon vbinary=1"
 *   vmath_harness map fn lo hi in.bin out.bin
 *       in.bin: x [n] (float32). out.bin: vmap(x) out of place [n], then x mapped in place [n] (by cfg->act for
 *       an activation code, cfg->vmap otherwise), then for every length L in [1, 12] a row of 16 floats filled
 *       with 1234.5 whose first L are vmap(x[0..L)) (so a tail that writes past L shows).
 *   vmath_harness binary op in.bin out.bin
 *       in.bin: a [n], b [n]. out.bin: a op b for (sa, sb) = (1, 1), (1, 0), (0, 1) [n each] (the scalar is
 *       element 0), then a op b written over a [n], then the 16-float rows of every L in [1, 12] for (1, 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/isa_config.h"
#include "core/kernel.h"

enum { ROW = 16, SHORT = 12 };

static float* read_floats(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f) / sizeof(float);
  fseek(f, 0, SEEK_SET);
  float* x = malloc((*n + 1) * sizeof *x);
  if (x && fread(x, sizeof *x, *n, f) != *n) {
    free(x);
    x = NULL;
  }
  fclose(f);
  return x;
}

static int put(FILE* out, const float* y, size_t n) { return fwrite(y, sizeof *y, n, out) == n ? 0 : 2; }

static int run_map(const pkt_isa_config* cfg, int fn, float lo, float hi, const float* x, size_t n, FILE* out) {
  float* y = malloc((n + 1) * sizeof *y);
  if (!y) return 2;
  cfg->vmap(y, x, (int64_t)n, fn, lo, hi);
  int rc = put(out, y, n);
  memcpy(y, x, n * sizeof *y);
  if (fn < PKT_ACT_COUNT_) cfg->act(y, (int64_t)n, fn, lo, hi);
  else cfg->vmap(y, y, (int64_t)n, fn, lo, hi);
  rc |= put(out, y, n);
  for (int L = 1; L <= SHORT && (size_t)L <= n; L++) {
    float row[ROW];
    for (int i = 0; i < ROW; i++) row[i] = 1234.5f;
    cfg->vmap(row, x, L, fn, lo, hi);
    rc |= put(out, row, ROW);
  }
  free(y);
  return rc;
}

static int run_binary(const pkt_isa_config* cfg, int op, const float* in, size_t n2, FILE* out) {
  const size_t n = n2 / 2;
  const float *a = in, *b = in + n;
  float* y = malloc((n + 1) * sizeof *y);
  if (!y || !cfg->vbinary) return 2;
  static const int64_t layouts[3][2] = {{1, 1}, {1, 0}, {0, 1}};
  int rc = 0;
  for (int l = 0; l < 3; l++) {
    cfg->vbinary(y, a, b, layouts[l][0], layouts[l][1], (int64_t)n, op);
    rc |= put(out, y, n);
  }
  memcpy(y, a, n * sizeof *y);
  cfg->vbinary(y, y, b, 1, 1, (int64_t)n, op);
  rc |= put(out, y, n);
  for (int L = 1; L <= SHORT && (size_t)L <= n; L++) {
    float row[ROW];
    for (int i = 0; i < ROW; i++) row[i] = 1234.5f;
    cfg->vbinary(row, a, b, 1, 1, L, op);
    rc |= put(out, row, ROW);
  }
  free(y);
  return rc;
}

int main(int argc, char** argv) {
  const pkt_isa_config* cfg = pkt_isa_config_get(pkt_cpu_isa());
  if (argc == 2 && !strcmp(argv[1], "isa")) {
    printf("isa=%s vbinary=%d\n", pkt_isa_name(cfg->isa), cfg->vbinary != NULL);
    return 0;
  }
  const int is_map = argc == 7 && !strcmp(argv[1], "map"), is_bin = argc == 5 && !strcmp(argv[1], "binary");
  if (!is_map && !is_bin) {
    fprintf(stderr, "usage: vmath_harness isa | map fn lo hi in.bin out.bin | binary op in.bin out.bin\n");
    return 2;
  }
  size_t n = 0;
  float* x = read_floats(argv[is_map ? 5 : 3], &n);
  FILE* out = fopen(argv[is_map ? 6 : 4], "wb");
  if (!x || !out) {
    fprintf(stderr, "cannot read the input or open the output\n");
    return 2;
  }
  int rc = is_map ? run_map(cfg, atoi(argv[2]), (float)atof(argv[3]), (float)atof(argv[4]), x, n, out)
                  : run_binary(cfg, atoi(argv[2]), x, n, out);
  fclose(out);
  free(x);
  return rc;
}
