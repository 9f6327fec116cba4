/* arm64 NEON GEMM micro-kernel: 6 rows x 16 columns, two calls per 32-column panel. */
#include "gemm.h"

#if defined(PKT_GEMM_HAVE_NEON)
#include <arm_neon.h>
#include <math.h>

static void neon_6x16(int64_t K, const float* const* rows, const float* b, float* C, int64_t ldc, int mr, int nr,
                      const float* bias, int act, float lo, float hi) {
  float32x4_t acc[6][4];
  for (int r = 0; r < 6; r++)
    for (int q = 0; q < 4; q++) acc[r][q] = vdupq_n_f32(0.f);
  for (int64_t k = 0; k < K; k++) {
    const float* bk = b + k * PKT_GEMM_NR;
    float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8), b3 = vld1q_f32(bk + 12);
    for (int r = 0; r < 6; r++) {
      float a = rows[r][k];
      acc[r][0] = vfmaq_n_f32(acc[r][0], b0, a);
      acc[r][1] = vfmaq_n_f32(acc[r][1], b1, a);
      acc[r][2] = vfmaq_n_f32(acc[r][2], b2, a);
      acc[r][3] = vfmaq_n_f32(acc[r][3], b3, a);
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
  float bias16[16] = {0};
  if (bias)
    for (int j = 0; j < nr; j++) bias16[j] = bias[j];
  for (int r = 0; r < mr; r++) {
    float tmp[16];
    for (int q = 0; q < 4; q++) {
      float32x4_t v = vaddq_f32(acc[r][q], vld1q_f32(bias16 + 4 * q));
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
  neon_6x16(K, rows, panel, C, ldc, mr, nr < 16 ? nr : 16, bias, act, lo, hi);
  if (nr > 16) neon_6x16(K, rows, panel + 16, C + 16, ldc, mr, nr - 16, bias ? bias + 16 : NULL, act, lo, hi);
}
#endif
