/* Test driver for the int8 GEMM family (runtime/compute/qgemm) with the ISA config the runtime picks (PKT_MAX_ISA
 * caps it); test_qgemm.py builds the cases and checks the results against an exact integer reference.
 *
 *   qgemm_harness isa
 *       prints "isa=<isa> qgemm=<micro-kernel name>"
 *   qgemm_harness run in.bin out.bin
 *       in.bin: cases one after another, each 16 int64 then its data (little-endian):
 *         op 0 (GEMM): op M N K lda ldc b_rows_n has_bias epilogue zp_per_row c_zp c_min c_max act threads
 *           has_fbias; A int8 [M][lda], B int8 ([N][K] when b_rows_n, else [K][N]), bias int32 [N] (has_bias),
 *           a_zp int32 [M or 1], scale f32 [N], a_scale f32 [M], w_scale f32 [N], fbias f32 [N] (has_fbias),
 *           act_min act_max f32. Out: C [M][ldc] (int8 for REQUANT, f32 for DEQUANT), first filled with a
 *           sentinel (0x5a / 1234.5) that the GEMM must leave outside the M x N block.
 *         op 1 (quantize rows): op M K ldx 0...; x f32 [M][ldx]. Out: q int8 [M][K], a_scale f32 [M], a_zp int32 [M].
 *       Packing runs twice over differently poisoned buffers, which must come out equal (every byte written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/isa_config.h"
#include "compute/qgemm/qgemm.h"
#include "core/program.h"

static FILE* in;
static FILE* out;

static void* take(size_t bytes) {
  void* p = malloc(bytes ? bytes : 1);
  if (!p || fread(p, 1, bytes, in) != bytes) {
    fprintf(stderr, "short input (%zu bytes)\n", bytes);
    exit(2);
  }
  return p;
}

static void put(const void* p, size_t bytes) {
  if (fwrite(p, 1, bytes, out) != bytes) exit(2);
}

static pkt_threadpool* pools[9];

static int run_gemm(const pkt_isa_config* cfg, const int64_t* h) {
  int64_t M = h[1], N = h[2], K = h[3], lda = h[4], ldc = h[5];
  int b_rows_n = (int)h[6], has_bias = (int)h[7], threads = (int)h[14], has_fbias = (int)h[15];
  pkt_qgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = M, g.N = N, g.K = K, g.lda = lda, g.ldc = ldc;
  g.epilogue = (int)h[8];
  g.a_zp_per_row = (int)h[9];
  g.c_zp = (int32_t)h[10], g.c_min = (int32_t)h[11], g.c_max = (int32_t)h[12];
  g.act = (int)h[13];
  int8_t* A = take((size_t)(M * lda));
  int8_t* B = take((size_t)(K * N));
  int32_t* bias = has_bias ? take((size_t)N * 4) : NULL;
  int32_t* a_zp = take((size_t)(g.a_zp_per_row ? M : 1) * 4);
  float* scale = take((size_t)N * 4);
  float* a_scale = take((size_t)M * 4);
  float* w_scale = take((size_t)N * 4);
  float* fbias = has_fbias ? take((size_t)N * 4) : NULL;
  float* lohi = take(8);
  size_t pb = pkt_qgemm_packed_size(cfg, K, N);
  unsigned char* packed = malloc(pb + 1);
  unsigned char* again = malloc(pb + 1);
  if (!packed || !again) return 2;
  memset(packed, 0xa5, pb);
  memset(again, 0x3c, pb);
  int64_t sk = b_rows_n ? 1 : N, sn = b_rows_n ? K : 1;
  pkt_qgemm_pack_b(cfg, B, sk, sn, K, N, bias, packed);
  pkt_qgemm_pack_b(cfg, B, sk, sn, K, N, bias, again);
  if (memcmp(packed, again, pb)) {
    fprintf(stderr, "pack left bytes unwritten (M=%lld N=%lld K=%lld)\n", (long long)M, (long long)N, (long long)K);
    return 2;
  }
  g.A = A, g.a_zp = a_zp, g.packed_b = packed;
  g.scale = scale, g.a_scale = a_scale, g.w_scale = w_scale, g.fbias = fbias;
  g.act_min = lohi[0], g.act_max = lohi[1];
  pkt_node node;
  memset(&node, 0, sizeof node);
  node.cfg = cfg;
  node.num_threads = threads;
  if (threads > 1 && threads < 9) {
    if (!pools[threads]) pools[threads] = pkt_threadpool_create(threads);
    node.pool = pools[threads];
  }
  size_t n = (size_t)(M * ldc);
  if (g.epilogue == PKT_QGEMM_REQUANT) {
    g.C8 = malloc(n + 1);
    memset(g.C8, 0x5a, n);
    pkt_qgemm(&node, cfg, &g);
    put(g.C8, n);
    free(g.C8);
  } else {
    g.Cf = malloc(n * 4 + 4);
    for (size_t i = 0; i < n; i++) g.Cf[i] = 1234.5f;
    pkt_qgemm(&node, cfg, &g);
    put(g.Cf, n * 4);
    free(g.Cf);
  }
  free(A), free(B), free(bias), free(a_zp), free(scale), free(a_scale), free(w_scale), free(fbias), free(lohi);
  free(packed), free(again);
  return 0;
}

static int run_quantize(const pkt_isa_config* cfg, const int64_t* h) {
  int64_t M = h[1], K = h[2], ldx = h[3];
  float* x = take((size_t)(M * ldx) * 4);
  int8_t* q = malloc((size_t)(M * K) + 1);
  float* s = malloc((size_t)M * 4 + 4);
  int32_t* zp = malloc((size_t)M * 4 + 4);
  if (!q || !s || !zp) return 2;
  pkt_quantize_rows(cfg, M, K, x, ldx, q, s, zp);
  put(q, (size_t)(M * K));
  put(s, (size_t)M * 4);
  put(zp, (size_t)M * 4);
  free(x), free(q), free(s), free(zp);
  return 0;
}

int main(int argc, char** argv) {
  const pkt_isa_config* cfg = pkt_isa_config_get(pkt_cpu_isa());
  if (argc == 2 && !strcmp(argv[1], "isa")) {
    printf("isa=%s qgemm=%s\n", pkt_isa_name(cfg->isa), pkt_qgemm_kernel_name(cfg));
    return 0;
  }
  if (argc != 4 || strcmp(argv[1], "run")) {
    fprintf(stderr, "usage: qgemm_harness isa | run in.bin out.bin\n");
    return 2;
  }
  in = fopen(argv[2], "rb");
  out = fopen(argv[3], "wb");
  if (!in || !out) return 2;
  int64_t h[16];
  while (fread(h, sizeof h, 1, in) == 1) {
    int rc = h[0] == 0 ? run_gemm(cfg, h) : run_quantize(cfg, h);
    if (rc) return rc;
  }
  fclose(out);
  for (int i = 0; i < 9; i++)
    if (pools[i]) pkt_threadpool_free(pools[i]);
  return 0;
}
