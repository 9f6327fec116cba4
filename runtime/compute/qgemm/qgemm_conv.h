/* The int8 convolution GEMM of AVX-512 VNNI sessions: y[m, p] for the output channels m of one group and the output
 * positions p of one image, as qconv2d's generic GEMM path computes them, in one pass over blocks of columns:
 *   - each block of output columns (sized to stay in L2) is gathered straight from the input (im2col fused with the
 *     packing, a vector stride-2 path) into panels of 48 columns, kr 4, the activations flipped to u8 (x ^ 0x80);
 *   - 8-row x 48-column micro-kernels broadcast the signed weights from memory as vpdpbusd's s8 operand, so the
 *     compensation for the flip and the input zero point is one constant per row, folded into row_bias:
 *       row_bias[m] = ibias[m] - (in_zp + 128) * sum_k W[m, k]      (int32, wrapping as the sums do)
 *   - the requantization runs on the accumulators in registers;
 *   - a last panel of few columns at large K (49 = 48 + 1 at 7x7) takes per-column dot products over K instead.
 * A conv with 16k channels a group (not a pointwise one) first copies its input, flipped to u8, into a padded HWC
 * plane (the scratch's shared part), where the bytes a column multiplies are runs: per window row the kw * Cg bytes
 * (kx, c), or with a dilated width per tap the Cg bytes; a run is a row of k-groups, one 32-bit word per column, so
 * packing is a 16x16 word transpose with no borders to test (im2col's per-row gathers cost more than the multiplies
 * on 14x14 and 7x7 planes). Its weights come ordered as the runs. Fewer channels (a first conv's 3) keep im2col: the
 * transpose would move mostly padding.
 * Threads split the columns (or, for few columns, the row blocks), each with its own slice of the scratch. */
#ifndef PKT_QGEMM_CONV_H
#define PKT_QGEMM_CONV_H

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

typedef struct pkt_qconv_gemm_args {
  const int8_t* x;                          /* the group's input planes [Cg, H, W] */
  int64_t Cg, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;
  int64_t M, K;                             /* output channels of the group; K = Cg * kh * kw */
  const int8_t* w;                          /* [M, K]: K ordered (c, ky, kx), or the HWC path's runs */
  const int32_t* row_bias;                  /* M, compensated as above */
  const float* row_scale;                   /* M */
  int8_t* y;                                /* [M, OH * OW] */
  int32_t iz, c_zp, c_min, c_max;
} pkt_qconv_gemm_args;

/* Whether this session's config runs it (x86 AVX-512 with VNNI). */
int pkt_qconv_gemm_supported(const pkt_isa_config* cfg);
/* The HWC path (geometry fields set): 16k channels a group, not 1x1 stride 1 unpadded. */
static inline int pkt_qconv_gemm_hwc(const pkt_qconv_gemm_args* a) {
  return a->Cg % 16 == 0 && !(a->kh == 1 && a->kw == 1 && a->sh == 1 && a->sw == 1 && a->ph == 0 && a->pw == 0);
}
/* Its runs: a window row's kw * Cg bytes when the width is not dilated, else one tap's Cg bytes. */
static inline int64_t pkt_qconv_gemm_runs(const pkt_qconv_gemm_args* a) { return a->dw == 1 ? a->kh : a->kh * a->kw; }
/* Scratch bytes for `threads` threads (geometry fields set). */
size_t pkt_qconv_gemm_scratch(const pkt_qconv_gemm_args* a, int threads);
/* Runs on the node's threads: the HWC copy first (when it applies), then slice i of the scratch for thread i. */
void pkt_qconv_gemm(const pkt_node* node, const pkt_qconv_gemm_args* a, void* scratch);

#endif
