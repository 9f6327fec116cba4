/* The int8 convolution GEMM of AVX-512 VNNI sessions: y[m, p] for the output channels m of one group and the output
 * positions p of one image, as qconv2d's generic GEMM path computes them, in one pass over blocks of columns:
 *   - each block of output columns (sized to stay in L2) is gathered straight from the input (im2col fused with the
 *     packing, a vector stride-2 path) into panels of 48 columns, kr 4, the activations flipped to u8 (x ^ 0x80);
 *   - 8-row x 48-column micro-kernels broadcast the signed weights from memory as vpdpbusd's s8 operand, so the
 *     compensation for the flip and the input zero point is one constant per row, folded into row_bias:
 *       row_bias[m] = ibias[m] - (in_zp + 128) * sum_k W[m, k]      (int32, wrapping as the sums do)
 *   - the requantization runs on the accumulators in registers;
 *   - a last panel of few columns at large K (49 = 48 + 1 at 7x7) takes per-column dot products over K instead.
 * Threads split the columns (or, for few columns, the row blocks), each with its own slice of the scratch. */
#ifndef PKT_QGEMM_CONV_H
#define PKT_QGEMM_CONV_H

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

typedef struct pkt_qconv_gemm_args {
  const int8_t* x;                          /* the group's input planes [Cg, H, W] */
  int64_t Cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;
  int64_t M, K;                             /* output channels of the group; K = Cg * kh * kw */
  const int8_t* w;                          /* [M, K] */
  const int32_t* row_bias;                  /* M, compensated as above */
  const float* row_scale;                   /* M */
  int8_t* y;                                /* [M, OH * OW] */
  int32_t iz, c_zp, c_min, c_max;
} pkt_qconv_gemm_args;

/* Whether this session's config runs it (x86 AVX-512 with VNNI). */
int pkt_qconv_gemm_supported(const pkt_isa_config* cfg);
/* Scratch bytes one thread needs for K, P = OH * OW (the caller allots num_threads slices). */
size_t pkt_qconv_gemm_slice(int64_t K, int64_t P);
/* Runs on the node's threads, slice i of scratch for thread index i. */
void pkt_qconv_gemm(const pkt_node* node, const pkt_qconv_gemm_args* a, void* scratch);

#endif
