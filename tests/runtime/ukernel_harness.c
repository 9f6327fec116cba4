/* Test driver for the GEMM micro-kernel instantiations (runtime/compute/gemm/gemm_ukernel_impl.h): runs the
 * micro-kernel of the ISA config the runtime picks (PKT_MAX_ISA caps it) on every row count, column count,
 * bias and activation, over one packed panel read from a file; test_ukernels.py checks the results against torch.
 *
 *   ukernel_harness isa
 *       prints the ISA the runtime picks and its GEMM micro-kernel: "isa=avx2 ukernel=avx2_6x16 mr=6 nr=16"
 *   ukernel_harness gemm K lo hi in.bin out.bin
 *       in.bin: A [12][K], the panel [K][32], bias [32] (float32). For act in [0, PKT_ACT_COUNT_), bias off/on,
 *       mr in [1, MR], nr in [1, 32]: C [12][32] filled with 1234.5, then C = act(A[:mr] x panel[:, :nr] + bias)
 *       through the micro-kernel (ldc 32, clamp bounds lo, hi); every C, in that order, goes to out.bin.
 *   ukernel_harness gemv N K in.bin out.bin
 *       in.bin: x [K], W [N][K + 3] (float32, ldw K + 3). out.bin: y = W[:, :K] x through the config's GEMV [N],
 *       followed by the sentinel 1234.5 it must not overwrite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/isa_config.h"
#include "compute/gemm/gemm.h"

enum { ROWS = 12, COLS = PKT_GEMM_NR };

static const pkt_gemm_config* picked(const pkt_isa_config** cfg) {
  *cfg = pkt_isa_config_get(pkt_cpu_isa());
  return pkt_gemm_config_of(*cfg);
}

static int run_gemv(const pkt_gemm_config* gc, int64_t N, int64_t K, const char* in_path, const char* out_path) {
  const size_t n_in = (size_t)(K + N * (K + 3));
  float* in = malloc(n_in * sizeof(float));
  float* y = malloc((size_t)(N + 1) * sizeof(float));
  FILE* f = fopen(in_path, "rb");
  if (!in || !y || !f || fread(in, sizeof(float), n_in, f) != n_in) return 2;
  fclose(f);
  y[N] = 1234.5f;
  gc->gemv(N, K, in, in + K, K + 3, y);
  FILE* out = fopen(out_path, "wb");
  if (!out || fwrite(y, sizeof(float), (size_t)N + 1, out) != (size_t)N + 1) return 2;
  fclose(out);
  free(in);
  free(y);
  return 0;
}

int main(int argc, char** argv) {
  const pkt_isa_config* cfg;
  const pkt_gemm_config* gc = picked(&cfg);
  if (argc == 2 && !strcmp(argv[1], "isa")) {
    printf("isa=%s ukernel=%s mr=%d nr=%d\n", pkt_isa_name(cfg->isa), gc->name, gc->mr, gc->nr);
    return 0;
  }
  if (argc == 6 && !strcmp(argv[1], "gemv")) return run_gemv(gc, atoll(argv[2]), atoll(argv[3]), argv[4], argv[5]);
  if (argc != 7 || strcmp(argv[1], "gemm")) {
    fprintf(stderr, "usage: ukernel_harness isa | gemm K lo hi in.bin out.bin | gemv N K in.bin out.bin\n");
    return 2;
  }
  const int64_t K = atoll(argv[2]);
  const float lo = (float)atof(argv[3]), hi = (float)atof(argv[4]);
  const size_t n_in = (size_t)(ROWS * K + K * COLS + COLS);
  float* in = malloc(n_in * sizeof(float));
  float C[ROWS * COLS];
  FILE* f = fopen(argv[5], "rb");
  if (!in || !f || fread(in, sizeof(float), n_in, f) != n_in) {
    fprintf(stderr, "cannot read %zu floats from %s\n", n_in, argv[5]);
    return 2;
  }
  fclose(f);
  const float *A = in, *panel = in + ROWS * K, *bias = panel + K * COLS;
  FILE* out = fopen(argv[6], "wb");
  if (!out) return 2;
  for (int act = 0; act < PKT_ACT_COUNT_; act++)
    for (int with_bias = 0; with_bias < 2; with_bias++)
      for (int mr = 1; mr <= gc->mr; mr++)
        for (int nr = 1; nr <= COLS; nr++) {
          for (int i = 0; i < ROWS * COLS; i++) C[i] = 1234.5f;
          gc->ukernel(K, A, K, mr, panel, C, COLS, nr, with_bias ? bias : NULL, act, lo, hi);
          if (fwrite(C, sizeof(float), ROWS * COLS, out) != ROWS * COLS) return 2;
        }
  fclose(out);
  free(in);
  return 0;
}
