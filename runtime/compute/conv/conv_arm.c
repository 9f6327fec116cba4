/* arm64 NEON convolution kernels: the 6 x 16 GEMM micro-kernel (per-row bias, K-chunk accumulation),
 * the depthwise row kernel, vectorized along the output row, and the stride-2 row splitter. Mirrors conv_gemm.c's portable code. */
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
    float32x4_t bq[4] = {vld1q_f32(bk), vld1q_f32(bk + 4), vld1q_f32(bk + 8), vld1q_f32(bk + 12)};
    /* step k's 6 weights in two loads, used by lane (fmla by element): no load per row */
    float32x4_t a03 = vld1q_f32(a + k * MR);
    float32x2_t a45 = vld1_f32(a + k * MR + 4);
#define CONV_NEON_ROW(r, fma, v, lane) \
  for (int q = 0; q < 4; q++) acc[r][q] = fma(acc[r][q], bq[q], v, lane);
    CONV_NEON_ROW(0, vfmaq_laneq_f32, a03, 0)
    CONV_NEON_ROW(1, vfmaq_laneq_f32, a03, 1)
    CONV_NEON_ROW(2, vfmaq_laneq_f32, a03, 2)
    CONV_NEON_ROW(3, vfmaq_laneq_f32, a03, 3)
    CONV_NEON_ROW(4, vfmaq_lane_f32, a45, 0)
    CONV_NEON_ROW(5, vfmaq_lane_f32, a45, 1)
#undef CONV_NEON_ROW
  }
  float flo, fhi;
  conv_act_bounds(act, lo, hi, &flo, &fhi);
  int simple = conv_act_simple(act);
  float32x4_t vlo = vdupq_n_f32(flo), vhi = vdupq_n_f32(fhi);
  for (int r = 0; r < mr; r++) {
    float* c = C + r * ldc;
    float tmp[NR];
    float32x4_t add = vdupq_n_f32(last && bias ? bias[r] : 0.f);
    if (nr == NR) { /* a full tile: the epilogue in vectors, in the scalar path's order of operations */
      for (int q = 0; q < 4; q++) {
        float32x4_t v = vaddq_f32(acc[r][q], add);
        if (!first) v = vaddq_f32(v, vld1q_f32(c + 4 * q));
        if (last && simple) v = vminq_f32(vmaxq_f32(v, vlo), vhi); /* NaN stays NaN (not vmaxnm) */
        vst1q_f32(c + 4 * q, v);
      }
      if (last && !simple) pkt_act_portable(c, nr, act, lo, hi);
      continue;
    }
    for (int q = 0; q < 4; q++) vst1q_f32(tmp + 4 * q, vaddq_f32(acc[r][q], add));
    for (int j = 0; j < nr; j++) {
      float v = tmp[j] + (first ? 0.f : c[j]);
      if (last && simple) v = v < flo ? flo : v > fhi ? fhi : v;
      c[j] = v;
    }
    if (last && !simple) pkt_act_portable(c, nr, act, lo, hi);
  }
}

/* 16 output columns (4 accumulators) per block, every tap applied in registers; each tap's offset in the buffer
 * is computed once per call (no division per tap). The last block of a row also computes 16 columns: the phase
 * rows are readable and zero-filled up to OW rounded up to CONV_DW_OVERRUN, so there is no scalar tail; only
 * the columns below OW are stored. */
void conv_dw_neon(const conv_dw_args* a) {
  const int64_t taps = a->kh * a->kw;
  if (taps > CONV_DWF_MAX_TAPS) { /* larger than 7x7: rare enough for the portable kernel */
    conv_dw_portable(a);
    return;
  }
  int64_t off[CONV_DWF_MAX_TAPS];
  for (int64_t t = 0; t < taps; t++) {
    int64_t c = t % a->kw * a->dw;
    off[t] = t / a->kw * a->dh * a->rstride + (c % a->sw) * a->pstride + c / a->sw;
  }
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  int simple = conv_act_simple(a->act);
  float32x4_t vlo = vdupq_n_f32(flo), vhi = vdupq_n_f32(fhi);
  for (int64_t oy = a->oy0; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    const float* row = a->buf + oy * a->sh * a->rstride;
    for (int64_t ox = 0; ox < a->OW; ox += 16) {
      float32x4_t acc[4];
      for (int q = 0; q < 4; q++) acc[q] = vdupq_n_f32(a->bias);
      for (int64_t t = 0; t < taps; t++) {
        const float* src = row + off[t] + ox;
        for (int q = 0; q < 4; q++) acc[q] = vfmaq_n_f32(acc[q], vld1q_f32(src + 4 * q), a->w[t]);
      }
      if (simple)
        for (int q = 0; q < 4; q++) acc[q] = vminq_f32(vmaxq_f32(acc[q], vlo), vhi); /* NaN stays NaN */
      if (ox + 16 <= a->OW) {
        for (int q = 0; q < 4; q++) vst1q_f32(yr + ox + 4 * q, acc[q]);
      } else {
        float tmp[16];
        for (int q = 0; q < 4; q++) vst1q_f32(tmp + 4 * q, acc[q]);
        memcpy(yr + ox, tmp, (size_t)(a->OW - ox) * sizeof(float));
      }
    }
    if (!simple) pkt_act_portable(yr, a->OW, a->act, a->lo, a->hi);
  }
}
static inline void fill2_at(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t i) {
  int64_t c = 2 * i - pw;
  e[i] = c >= 0 && c < W ? src[c] : 0.f;
  if (o) o[i] = c + 1 >= 0 && c + 1 < W ? src[c + 1] : 0.f;
}

/* conv_fill2_fn: the row's interior split into even and odd columns by vld2q (4 pairs a load), the padded ends
 * as conv_fill2_portable. */
void conv_fill2_neon(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n) {
  int64_t first = pw > 0 ? (pw + 1) / 2 : 0; /* the first i whose column 2i - pw is inside the row */
  int64_t i = 0;
  for (; i < n && i < first; i++) fill2_at(src, W, pw, e, o, i);
  for (; i + 4 <= n && 2 * i - pw + 8 <= W; i += 4) {
    float32x4x2_t v = vld2q_f32(src + 2 * i - pw);
    vst1q_f32(e + i, v.val[0]);
    if (o) vst1q_f32(o + i, v.val[1]);
  }
  for (; i < n; i++) fill2_at(src, W, pw, e, o, i);
}
#endif
