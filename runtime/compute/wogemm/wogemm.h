/* Weight-only quantized GEMV / small-M GEMM (linear_wo): y[m, n] = act(sum_k x[m, k] * W[n, k] + bias[n]) with W
 * stored as int8 or int4 in groups of G along K, one float scale a group (symmetric: W[n, k] = q[n, k] * s[n, k / G]).
 * The weights are unpacked in registers a SIMD step at a time and never dequantized into memory: per group the
 * micro-kernel accumulates x * q, then adds that sum times the group's scale to the row's total.
 *
 * Layouts: bits 8: int8 q [N][K]. bits 4: uint8 [N][K / 2], element 2j in the low nibble of byte j and 2j + 1 in the
 * high one, each stored as q + 8 (0..15). A SIMD step reads VL bytes and gets the low nibbles (the even elements)
 * and the high ones (the odd elements) as two vectors, so x is first reordered per step of 2 VL elements (its
 * even elements, then its odd ones) into scratch (pkt_wogemm_scratch_bytes); a group that is not a whole number of
 * steps runs on the next ISA down whose steps fit it (at last the portable C, which needs no reordering). AVX-512's
 * int4 kernel reads x in its own order instead (wogemm_w4_avx512.c: blocks of 128 k, K padded to whole blocks).
 * Implementations: portable C, AVX2+FMA, AVX-512, arm64 NEON; chosen through the session's ISA config. */
#ifndef PKT_WOGEMM_H
#define PKT_WOGEMM_H

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

typedef struct pkt_wogemm_args {
  int64_t M, N, K;
  int bits, group_size;
  const float* x; /* [M][K], row stride K */
  const void* q;  /* the quantized weight, as above */
  const float* scales; /* [N][K / group_size] */
  const float* bias;   /* N values or NULL */
  float* y;            /* [M][N], row stride N */
  int act;             /* PKT_ACT_* */
  float act_min, act_max;
  void* scratch; /* pkt_wogemm_scratch_bytes of it */
} pkt_wogemm_args;

/* Micro-kernel: y[m * ldy + n] = sum_g s[n][g] * sum_{k in g} x[m][k] * q[n][k] for m < mb (<= PKT_WOGEMM_MR),
 * n < nrows; x rows at stride ldx (already reordered for int4), q rows at stride ldq bytes, s rows at K / G. */
#define PKT_WOGEMM_MR 4
typedef void (*pkt_wogemm_ukernel)(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx,
                                   const uint8_t* q, int64_t ldq, const float* s, float* y, int64_t ldy);

/* int4 with its own x order: whether it takes groups of G, and x [M][K] into that order (into the scratch). */
typedef int (*pkt_wogemm_w4_fits)(int G);
typedef void (*pkt_wogemm_w4_pack)(int64_t M, int64_t K, const float* x, float* xp);

typedef struct pkt_wogemm_config {
  const char* name;
  int vl; /* float lanes a step: int8 groups must be a multiple of vl, int4 groups of 2 vl (else a lower ISA's) */
  pkt_wogemm_ukernel w8, w4;
  pkt_wogemm_w4_fits w4_fits; /* NULL: x reordered even / odd per step of 2 vl, as above */
  pkt_wogemm_w4_pack w4_pack;
  int w4_block;               /* w4_pack pads K to a multiple of it */
} pkt_wogemm_config;
const pkt_wogemm_config* pkt_wogemm_config_of(const pkt_isa_config* cfg);
/* The config a node runs: the session's, or the next ISA down (at last the portable one) whose steps fit its groups. */
const pkt_wogemm_config* pkt_wogemm_config_for(const pkt_isa_config* cfg, int bits, int group_size);

size_t pkt_wogemm_scratch_bytes(const pkt_isa_config* cfg, int bits, int group_size, int64_t M, int64_t K);
/* Run on the node's threads (split over N; node may be NULL: serial). */
void pkt_wogemm(const pkt_node* node, const pkt_isa_config* cfg, const pkt_wogemm_args* a);

void pkt_wogemm_w8_portable(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                            int64_t ldq, const float* s, float* y, int64_t ldy);
void pkt_wogemm_w4_portable(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                            int64_t ldq, const float* s, float* y, int64_t ldy);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_WOGEMM_HAVE_X86 1
void pkt_wogemm_w8_avx2(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                        int64_t ldq, const float* s, float* y, int64_t ldy);
void pkt_wogemm_w4_avx2(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                        int64_t ldq, const float* s, float* y, int64_t ldy);
void pkt_wogemm_w8_avx512(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                          int64_t ldq, const float* s, float* y, int64_t ldy);
int pkt_wogemm_w4_avx512_fits(int G);
void pkt_wogemm_pack_w4_avx512(int64_t M, int64_t K, const float* x, float* xp);
void pkt_wogemm_w4_avx512(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                          int64_t ldq, const float* s, float* y, int64_t ldy);
#endif
#if defined(__aarch64__)
#define PKT_WOGEMM_HAVE_NEON 1
void pkt_wogemm_w8_neon(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                        int64_t ldq, const float* s, float* y, int64_t ldy);
void pkt_wogemm_w4_neon(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                        int64_t ldq, const float* s, float* y, int64_t ldy);
#endif

#endif
