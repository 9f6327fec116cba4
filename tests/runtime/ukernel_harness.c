/* Test driver for the micro-kernel instantiations of the ISA config the runtime picks (PKT_MAX_ISA caps it): the
 * GEMM family (runtime/compute/gemm/gemm_ukernel_impl.h) and the conv family (runtime/compute/conv/
 * conv_simd_impl.h: GEMM tile, depthwise rows, residual epilogue), on every row count, column count, bias and
 * activation over inputs read from a file; test_ukernels.py checks the results against torch.
 *
 *   ukernel_harness isa
 *       prints the ISA, its GEMM micro-kernel and the conv tile: "isa=avx2 ukernel=avx2_6x16 mr=6 nr=16 conv_mr=6
 *       conv_nr=16"
 *   ukernel_harness gemm K lo hi in.bin out.bin
 *       in.bin: A [12][K], the panel [K][32], bias [32] (float32). For act in [0, PKT_ACT_COUNT_), bias off/on,
 *       mr in [1, MR], nr in [1, 32]: C [12][32] filled with 1234.5, then C = act(A[:mr] x panel[:, :nr] + bias)
 *       through the micro-kernel (ldc 32, clamp bounds lo, hi); every C, in that order, goes to out.bin.
 *   ukernel_harness conv K ldb lo hi in.bin out.bin
 *       in.bin: W [12][K], B [K][ldb] (ldb >= 32), bias [12]. W is packed as the conv kernels pack it (conv_mr
 *       rows a block). For act, bias off/on, split (0: one call; 1: K in two chunks, the second accumulating
 *       into C), mr in [1, conv_mr], nr in [1, conv_nr]: C [12][32] filled with 1234.5, then C = act(W[:mr] x
 *       B[:, :nr] + bias[:mr]) through the conv micro-kernel; every C goes to out.bin.
 *   ukernel_harness dw H W kh kw sh sw ph pw dh dw lo hi in.bin out.bin
 *       in.bin: x [H][W], w [kh*kw], bias [1]. For act, bias off/on: one depthwise plane through the padded
 *       buffer and the ISA's row kernel (conv_dw_band), rows [0, OH) in two bands; y [OH][OW] to out.bin.
 *   ukernel_harness residual lo hi in.bin out.bin
 *       in.bin: y [3][40], r [3][40]. For cols in [1, 40]: y' = clamp(y + r) over 3 rows x cols (row stride 40)
 *       through the ISA's residual epilogue; every y' [3][40] to out.bin.
 *   ukernel_harness gemv N K in.bin out.bin
 *       in.bin: x [K], W [N][K + 3] (float32, ldw K + 3). out.bin: y = W[:, :K] x through the config's GEMV [N],
 *       followed by the sentinel 1234.5 it must not overwrite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/isa_config.h"
#include "compute/conv/conv_impl.h"
#include "compute/gemm/gemm.h"

enum { ROWS = 12, COLS = PKT_GEMM_NR };

static const pkt_gemm_config* picked(const pkt_isa_config** cfg) {
  *cfg = pkt_isa_config_get(pkt_cpu_isa());
  return pkt_gemm_config_of(*cfg);
}

static float* read_in(const char* path, size_t n) {
  float* in = malloc(n * sizeof(float));
  FILE* f = fopen(path, "rb");
  if (!in || !f || fread(in, sizeof(float), n, f) != n) {
    fprintf(stderr, "cannot read %zu floats from %s\n", n, path);
    exit(2);
  }
  fclose(f);
  return in;
}

static void write_out(FILE* out, const float* v, size_t n) {
  if (fwrite(v, sizeof(float), n, out) != n) exit(2);
}

static int run_gemm(const pkt_gemm_config* gc, int64_t K, float lo, float hi, const char* fin, FILE* out) {
  float* in = read_in(fin, (size_t)(ROWS * K + K * COLS + COLS));
  float C[ROWS * COLS];
  const float *A = in, *panel = in + ROWS * K, *bias = panel + K * COLS;
  for (int act = 0; act < PKT_ACT_COUNT_; act++)
    for (int with_bias = 0; with_bias < 2; with_bias++)
      for (int mr = 1; mr <= gc->mr; mr++)
        for (int nr = 1; nr <= COLS; nr++) {
          for (int i = 0; i < ROWS * COLS; i++) C[i] = 1234.5f;
          gc->ukernel(K, A, K, mr, panel, C, COLS, nr, with_bias ? bias : NULL, act, lo, hi);
          write_out(out, C, ROWS * COLS);
        }
  free(in);
  return 0;
}

static int run_conv(const conv_isa_impl* ci, int64_t K, int64_t ldb, float lo, float hi, const char* fin, FILE* out) {
  float* in = read_in(fin, (size_t)(ROWS * K + K * ldb + ROWS));
  const float *W = in, *B = in + ROWS * K, *bias = B + K * ldb;
  float* packed = malloc((size_t)((ROWS + ci->mr - 1) / ci->mr * ci->mr * K) * sizeof(float));
  float C[ROWS * COLS];
  if (!packed) return 2;
  conv_pack_weights(W, ROWS, K, ci->mr, packed);
  for (int act = 0; act < PKT_ACT_COUNT_; act++)
    for (int with_bias = 0; with_bias < 2; with_bias++)
      for (int split = 0; split < 2; split++)
        for (int mr = 1; mr <= ci->mr; mr++)
          for (int nr = 1; nr <= ci->nr; nr++) {
            const float* b = with_bias ? bias : NULL;
            for (int i = 0; i < ROWS * COLS; i++) C[i] = 1234.5f;
            if (split && K > 1) {
              const int64_t k1 = K / 2;
              ci->ukernel(k1, packed, B, ldb, C, COLS, mr, nr, b, 1, 0, act, lo, hi);
              ci->ukernel(K - k1, packed + k1 * ci->mr, B + k1 * ldb, ldb, C, COLS, mr, nr, b, 0, 1, act, lo, hi);
            } else {
              ci->ukernel(K, packed, B, ldb, C, COLS, mr, nr, b, 1, 1, act, lo, hi);
            }
            write_out(out, C, ROWS * COLS);
          }
  free(packed);
  free(in);
  return 0;
}

static int run_dw(const conv_isa_impl* ci, char** v, FILE* out) {
  conv_geom g = {.N = 1, .C = 1, .O = 1, .groups = 1, .Cg = 1, .Og = 1};
  int64_t* f[] = {&g.H, &g.W, &g.kh, &g.kw, &g.sh, &g.sw, &g.ph, &g.pw, &g.dh, &g.dw};
  for (int i = 0; i < 10; i++) *f[i] = atoll(v[i]);
  const float lo = (float)atof(v[10]), hi = (float)atof(v[11]);
  g.OH = (g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.OW = (g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  float* in = read_in(v[12], (size_t)(g.H * g.W + g.kh * g.kw + 1));
  const float *x = in, *w = in + g.H * g.W, bias = w[g.kh * g.kw];
  int64_t rows, ps;
  conv_dw_layout(&g, &rows, &ps);
  float* buf = malloc((size_t)((rows + 1) * g.sw * ps) * sizeof(float));
  float* y = malloc((size_t)(g.OH * g.OW) * sizeof(float));
  if (!buf || !y) return 2;
  const int64_t mid = g.OH / 2; /* two bands: the second starts inside the plane */
  for (int act = 0; act < PKT_ACT_COUNT_; act++)
    for (int with_bias = 0; with_bias < 2; with_bias++) {
      const float b = with_bias ? bias : 0.f;
      if (mid > 0) conv_dw_band(&g, ci, ps, rows, x, 0, buf, 0, mid, w, b, act, lo, hi, y);
      conv_dw_band(&g, ci, ps, rows, x, 0, buf, mid, g.OH, w, b, act, lo, hi, y + mid * g.OW);
      write_out(out, y, (size_t)(g.OH * g.OW));
    }
  free(buf);
  free(y);
  free(in);
  return 0;
}

static int run_residual(const conv_isa_impl* ci, float lo, float hi, const char* fin, FILE* out) {
  enum { R = 3, LD = 40 };
  float* in = read_in(fin, 2 * R * LD);
  float y[R * LD];
  for (int cols = 1; cols <= LD; cols++) {
    memcpy(y, in, sizeof y);
    ci->residual(y, in + R * LD, LD, R, cols, lo, hi);
    write_out(out, y, R * LD);
  }
  free(in);
  return 0;
}

static int run_gemv(const pkt_gemm_config* gc, int64_t N, int64_t K, const char* fin, FILE* out) {
  float* in = read_in(fin, (size_t)(K + N * (K + 3)));
  float* y = malloc((size_t)(N + 1) * sizeof(float));
  if (!y) return 2;
  y[N] = 1234.5f;
  gc->gemv(N, K, in, in + K, K + 3, y);
  write_out(out, y, (size_t)N + 1);
  free(in);
  free(y);
  return 0;
}

int main(int argc, char** argv) {
  const pkt_isa_config* cfg;
  const pkt_gemm_config* gc = picked(&cfg);
  conv_isa_impl ci;
  conv_isa_select(cfg, &ci);
  if (argc == 2 && !strcmp(argv[1], "isa")) {
    printf("isa=%s ukernel=%s mr=%d nr=%d conv_mr=%d conv_nr=%d\n", pkt_isa_name(cfg->isa), gc->name, gc->mr, gc->nr,
           ci.mr, ci.nr);
    return 0;
  }
  const char* cmd = argc > 1 ? argv[1] : "";
  FILE* out = argc > 2 ? fopen(argv[argc - 1], "wb") : NULL;
  int rc = 2;
  if (!strcmp(cmd, "gemm") && argc == 7 && out)
    rc = run_gemm(gc, atoll(argv[2]), (float)atof(argv[3]), (float)atof(argv[4]), argv[5], out);
  else if (!strcmp(cmd, "gemv") && argc == 6 && out)
    rc = run_gemv(gc, atoll(argv[2]), atoll(argv[3]), argv[4], out);
  else if (!strcmp(cmd, "conv") && argc == 8 && out)
    rc = run_conv(&ci, atoll(argv[2]), atoll(argv[3]), (float)atof(argv[4]), (float)atof(argv[5]), argv[6], out);
  else if (!strcmp(cmd, "dw") && argc == 16 && out)
    rc = run_dw(&ci, argv + 2, out);
  else if (!strcmp(cmd, "residual") && argc == 6 && out)
    rc = run_residual(&ci, (float)atof(argv[2]), (float)atof(argv[3]), argv[4], out);
  else
    fprintf(stderr, "usage: ukernel_harness isa | gemm K lo hi in out | gemv N K in out | conv K ldb lo hi in out | "
                    "dw H W kh kw sh sw ph pw dh dw lo hi in out | residual lo hi in out\n");
  if (out) fclose(out);
  return rc;
}
