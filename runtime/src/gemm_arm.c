/* NEON GEMM micro-kernel: 6 rows x PANEL_COLS columns per call, called over the 32-column panel.
 * arm64: 6 x 16 (24 accumulators of the 32 q registers), fused multiply-add.
 * armv7: 6 x 8 (12 accumulators of the 16 q registers); vmla (multiply then add) unless the CPU has
 * VFPv4 FMA. armv7 NEON flushes denormals to zero, which is within the kernels' tolerances. */
#include "gemm.h"

#if defined(PKT_GEMM_HAVE_NEON)
#include <arm_neon.h>
#include <math.h>

#if defined(__aarch64__)
#define Q 4 /* q registers of accumulators per row */
#define FMA_N(acc, b, a) vfmaq_n_f32(acc, b, a)
#elif defined(__ARM_FEATURE_FMA)
#define Q 2
#define FMA_N(acc, b, a) vfmaq_f32(acc, b, vdupq_n_f32(a))
#else
#define Q 2
#define FMA_N(acc, b, a) vmlaq_n_f32(acc, b, a)
#endif
#define COLS (4 * Q)

static void neon_6xcols(int64_t K, const float* const* rows, const float* b, float* C, int64_t ldc, int mr, int nr,
                        const float* bias, int act, float lo, float hi) {
  float32x4_t acc[6][Q];
  for (int r = 0; r < 6; r++)
    for (int q = 0; q < Q; q++) acc[r][q] = vdupq_n_f32(0.f);
  for (int64_t k = 0; k < K; k++) {
    const float* bk = b + k * PKT_GEMM_NR;
    float32x4_t bq[Q];
    for (int q = 0; q < Q; q++) bq[q] = vld1q_f32(bk + 4 * q);
    for (int r = 0; r < 6; r++) {
      float a = rows[r][k];
      for (int q = 0; q < Q; q++) acc[r][q] = FMA_N(acc[r][q], bq[q], a);
    }
  }
  float flo = -INFINITY, fhi = INFINITY;
  int simple = act == PKT_ACT_NONE || act == PKT_ACT_RELU || act == PKT_ACT_RELU6 || act == PKT_ACT_CLAMP;
  if (act == PKT_ACT_RELU || act == PKT_ACT_RELU6) flo = 0.f;
  if (act == PKT_ACT_RELU6) fhi = 6.f;
  if (act == PKT_ACT_CLAMP) {
    flo = lo;
    fhi = hi;
  }
  float bias_c[COLS] = {0};
  if (bias)
    for (int j = 0; j < nr; j++) bias_c[j] = bias[j];
  for (int r = 0; r < mr; r++) {
    float tmp[COLS];
    for (int q = 0; q < Q; q++) {
      float32x4_t v = vaddq_f32(acc[r][q], vld1q_f32(bias_c + 4 * q));
      if (simple) v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(flo)), vdupq_n_f32(fhi));
      vst1q_f32(tmp + 4 * q, v);
    }
    float* c = C + r * ldc;
    for (int j = 0; j < nr; j++) c[j] = tmp[j];
    if (!simple) pkt_gemm_epilogue_row(c, nr, act, lo, hi);
  }
}

void pkt_gemm_ukernel_neon(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C, int64_t ldc,
                           int nr, const float* bias, int act, float lo, float hi) {
  const float* rows[6];
  for (int r = 0; r < 6; r++) rows[r] = A + (r < mr ? r : mr - 1) * lda;
  for (int c0 = 0; c0 < nr; c0 += COLS)
    neon_6xcols(K, rows, panel + c0, C + c0, ldc, mr, nr - c0 < COLS ? nr - c0 : COLS, bias ? bias + c0 : NULL, act,
                lo, hi);
}
#endif
