/* arm64 NEON convolution kernels: the 6 x 16 GEMM micro-kernel (per-row bias, K-chunk accumulation)
 * and the depthwise row kernel, vectorized along the output row. Mirrors conv_gemm.c's portable code. */
#include "compute/conv/conv_impl.h"

#if defined(CONV_HAVE_NEON)
#include <arm_neon.h>

void conv_ukernel_neon(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr, int nr,
                       const float* bias, int first, int last, int act, float lo, float hi) {
  enum { MR = CONV_MR_NEON, NR = CONV_NR_NEON };
  float32x4_t acc[MR][4];
  for (int r = 0; r < MR; r++)
    for (int q = 0; q < 4; q++) acc[r][q] = vdupq_n_f32(0.f);
  for (int64_t k = 0; k < kc; k++) {
    const float* bk = b + k * ldb;
    float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8), b3 = vld1q_f32(bk + 12);
    const float* ak = a + k * MR;
    for (int r = 0; r < MR; r++) {
      float av = ak[r];
      acc[r][0] = vfmaq_n_f32(acc[r][0], b0, av);
      acc[r][1] = vfmaq_n_f32(acc[r][1], b1, av);
      acc[r][2] = vfmaq_n_f32(acc[r][2], b2, av);
      acc[r][3] = vfmaq_n_f32(acc[r][3], b3, av);
    }
  }
  float flo, fhi;
  conv_act_bounds(act, lo, hi, &flo, &fhi);
  int simple = conv_act_simple(act);
  for (int r = 0; r < mr; r++) {
    float* c = C + r * ldc;
    float tmp[NR];
    float32x4_t add = vdupq_n_f32(last && bias ? bias[r] : 0.f);
    for (int q = 0; q < 4; q++) vst1q_f32(tmp + 4 * q, vaddq_f32(acc[r][q], add));
    for (int j = 0; j < nr; j++) {
      float v = tmp[j] + (first ? 0.f : c[j]);
      if (last && simple) v = v < flo ? flo : v > fhi ? fhi : v;
      c[j] = v;
    }
    if (last && !simple) pkt_act_portable(c, nr, act, lo, hi);
  }
}

void conv_dw_neon(const conv_dw_args* a) {
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  int simple = conv_act_simple(a->act);
  float32x4_t vlo = vdupq_n_f32(flo), vhi = vdupq_n_f32(fhi);
  for (int64_t oy = a->oy0; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    int64_t ox = 0;
    for (; ox + 4 <= a->OW; ox += 4) {
      float32x4_t acc = vdupq_n_f32(a->bias);
      for (int64_t ky = 0; ky < a->kh; ky++) {
        const float* row = a->buf + (oy * a->sh + ky * a->dh) * a->rstride;
        for (int64_t kx = 0; kx < a->kw; kx++) {
          int64_t c = kx * a->dw;
          const float* src = row + (c % a->sw) * a->pstride + c / a->sw;
          acc = vfmaq_n_f32(acc, vld1q_f32(src + ox), a->w[ky * a->kw + kx]);
        }
      }
      if (simple) acc = vminq_f32(vmaxq_f32(acc, vlo), vhi); /* NaN stays NaN (not vmaxnm) */
      vst1q_f32(yr + ox, acc);
    }
    for (; ox < a->OW; ox++) {
      float acc = a->bias;
      for (int64_t ky = 0; ky < a->kh; ky++) {
        const float* row = a->buf + (oy * a->sh + ky * a->dh) * a->rstride;
        for (int64_t kx = 0; kx < a->kw; kx++) {
          int64_t c = kx * a->dw;
          acc += a->w[ky * a->kw + kx] * row[(c % a->sw) * a->pstride + c / a->sw + ox];
        }
      }
      yr[ox] = simple ? (acc < flo ? flo : acc > fhi ? fhi : acc) : acc;
    }
    if (!simple) pkt_act_portable(yr, a->OW, a->act, a->lo, a->hi);
  }
}
#endif
