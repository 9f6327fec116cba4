/* int8 GEMM for the quantized kernels (conv2d as im2col/1x1 GEMM, linear, matmul with a constant):
 *   acc[m, n] = sum_k (A[m, k] - a_zp[m]) * B[k, n] + bias[n]        (A int8, B int8, acc int32)
 * and one of two epilogues:
 *   REQUANT: C8[m, n] = clamp(round_half_even(acc * scale[n]) + c_zp, c_min, c_max)   (static int8: scale[n] =
 *            a_scale * w_scale[n] / c_scale in float, as the PT2E reference's dequantize -> op -> quantize rounds;
 *            ReLU/ReLU6 are folded into c_min/c_max)
 *   DEQUANT: Cf[m, n] = act(acc * a_scale[m] * w_scale[n] + fbias[n])               (dynamic int8: A was
 *            quantized per row at run time; bias stays float)
 * B (weights, [K, N] logically, symmetric int8) is packed once: panels of columns laid out for the session's
 * micro-kernel (VNNI 4-byte groups, sdot/smmla blocks, ...), plus the column sums the zero-point compensation
 * needs (x86 VNNI multiplies u8 x s8: A is shifted by +128 in registers and the sums take the shift back out).
 * The pack is specific to the session's ISA config: pack and run with the same cfg.
 * Implementations: portable C, x86 AVX-512 VNNI, AVX2 (+AVX-VNNI where present), ARM NEON sdot (armv8.2
 * dotprod), smmla (i8mm), armv7 NEON; chosen through the session's ISA config like the fp32 GEMM. */
#ifndef PKT_QGEMM_H
#define PKT_QGEMM_H

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

enum { PKT_QGEMM_REQUANT = 0, PKT_QGEMM_DEQUANT = 1 };

typedef struct pkt_qgemm_args {
  int64_t M, N, K;
  const int8_t* A;
  int64_t lda;
  const int32_t* a_zp; /* M values (DEQUANT: per row), or 1 value broadcast to every row (REQUANT) */
  int a_zp_per_row;
  const void* packed_b; /* pkt_qgemm_pack_b output */
  int epilogue;         /* PKT_QGEMM_* */
  /* REQUANT */
  int8_t* C8;
  int64_t ldc;
  const float* scale; /* N requantization multipliers */
  int32_t c_zp, c_min, c_max;
  /* DEQUANT */
  float* Cf;
  const float* a_scale; /* M */
  const float* w_scale; /* N */
  const float* fbias;   /* N or NULL */
  int act;              /* PKT_ACT_* */
  float act_min, act_max;
  /* REQUANT, optional: M int32 biases added to every column of their row, and M multipliers that replace scale[n]
   * (a convolution with the weights as A and the activations as B writes NCHW rows: per output channel = per row).
   * NULL: none, and scale[n]. */
  const int32_t* row_bias;
  const float* row_scale;
} pkt_qgemm_args;

/* Bytes of packed B (weights, column sums and the int32 bias) for this config. */
size_t pkt_qgemm_packed_size(const pkt_isa_config* cfg, int64_t K, int64_t N);
/* Pack B, element (k, n) at B[k * stride_k + n * stride_n] (a linear weight [N, K] is stride_k 1, stride_n K);
 * bias: N int32 values (REQUANT: round(fbias / (a_scale * w_scale[n]))) or NULL. */
void pkt_qgemm_pack_b(const pkt_isa_config* cfg, const int8_t* B, int64_t stride_k, int64_t stride_n, int64_t K,
                      int64_t N, const int32_t* bias, void* packed);
/* Pack B given row-major ([K, N], row stride ldb: activations, packed on every call) on the node's threads (node
 * may be NULL: serial), as pkt_qgemm_pack_b(cfg, B, ldb, 1, K, N, NULL, packed) packs it. */
void pkt_qgemm_pack_b_rows(const pkt_node* node, const pkt_isa_config* cfg, const int8_t* B, int64_t ldb, int64_t K,
                           int64_t N, void* packed);
/* Run on the node's threads (node may be NULL: serial). */
void pkt_qgemm(const pkt_node* node, const pkt_isa_config* cfg, const pkt_qgemm_args* args);

/* Row quantization for the DEQUANT path: per row of x [M, K] (row stride ldx), asymmetric int8 with the PT2E
 * dynamic reference's choose_qparams (min/max including 0, eps-guarded scale), writing q, a_scale[m], a_zp[m]. */
void pkt_quantize_rows(const pkt_isa_config* cfg, int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q,
                       float* a_scale, int32_t* a_zp);

/* The name of the micro-kernel this config uses ("avx512vnni_...", "neon_sdot_...", "portable"), for tests. */
const char* pkt_qgemm_kernel_name(const pkt_isa_config* cfg);

#endif
