/* NEON GEMM micro-kernel: 6 rows x PANEL_COLS columns per call, called over the 32-column panel.
 * arm64: 6 x 16 (24 accumulators of the 32 q registers), fused multiply-add.
 * armv7: 6 x 8 (12 accumulators of the 16 q registers); vmla (multiply then add) unless the CPU has
 * VFPv4 FMA. armv7 NEON flushes denormals to zero, which is within the kernels' tolerances. */
#include "compute/gemm/gemm.h"

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
      if (simple) v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(flo)), vdupq_n_f32(fhi)); /* NaN stays NaN (not vmaxnm) */
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

/* ---- GEMV over a [N, K] weight: 4 rows x 2 accumulators ---- */
#if defined(PKT_HAVE_NEON64)
void pkt_gemv_neon(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y) {
  const int64_t kv = K - K % 8;
  int64_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float* w = W + n * ldw;
    float32x4_t s[4][2];
    for (int r = 0; r < 4; r++) s[r][0] = s[r][1] = vdupq_n_f32(0.f);
    for (int64_t k = 0; k < kv; k += 8) {
      float32x4_t x0 = vld1q_f32(x + k), x1 = vld1q_f32(x + k + 4);
      for (int r = 0; r < 4; r++) {
        s[r][0] = vfmaq_f32(s[r][0], x0, vld1q_f32(w + r * ldw + k));
        s[r][1] = vfmaq_f32(s[r][1], x1, vld1q_f32(w + r * ldw + k + 4));
      }
    }
    for (int r = 0; r < 4; r++) {
      float t = vaddvq_f32(vaddq_f32(s[r][0], s[r][1]));
      for (int64_t k = kv; k < K; k++) t += x[k] * w[r * ldw + k];
      y[n + r] = t;
    }
  }
  for (; n < N; n++) {
    const float* w = W + n * ldw;
    float32x4_t s0 = vdupq_n_f32(0.f), s1 = s0;
    for (int64_t k = 0; k < kv; k += 8) {
      s0 = vfmaq_f32(s0, vld1q_f32(x + k), vld1q_f32(w + k));
      s1 = vfmaq_f32(s1, vld1q_f32(x + k + 4), vld1q_f32(w + k + 4));
    }
    float t = vaddvq_f32(vaddq_f32(s0, s1));
    for (int64_t k = kv; k < K; k++) t += x[k] * w[k];
    y[n] = t;
  }
}

/* ---- row helpers (softmax, attention): exp as in gemm_x86.c ---- */
static inline float32x4_t exp_neon(float32x4_t x) {
  uint32x4_t tiny = vcltq_f32(x, vdupq_n_f32(-87.3365447505531f));
  /* vmaxnm/vminnm would drop NaN: compare-and-select keeps it. */
  x = vbslq_f32(vcltq_f32(x, vdupq_n_f32(-87.3365447505531f)), vdupq_n_f32(-87.3365447505531f), x);
  x = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(88.3762626647949f)), vdupq_n_f32(88.3762626647949f), x);
  float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500E-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507E-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073E-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894E-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459E-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201E-1f), p, r);
  float32x4_t y = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.f)), vmulq_f32(p, r), r);
  int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
  y = vmulq_f32(y, vreinterpretq_f32_s32(e));
  return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), tiny));
}

float pkt_vec_max_neon(const float* x, int64_t n) {
  float32x4_t m0 = vdupq_n_f32(-INFINITY), m1 = m0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
    m0 = vbslq_f32(vcgtq_f32(a, m0), a, m0);
    m1 = vbslq_f32(vcgtq_f32(b, m1), b, m1);
  }
  float m = vmaxvq_f32(vmaxq_f32(m0, m1));
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

float pkt_vec_exp_sum_neon(const float* x, float* y, int64_t n, float scale, float shift) {
  float32x4_t vs = vdupq_n_f32(scale), vsh = vdupq_n_f32(shift), s0 = vdupq_n_f32(0.f), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t e0 = exp_neon(vsubq_f32(vmulq_f32(vld1q_f32(x + i), vs), vsh));
    float32x4_t e1 = exp_neon(vsubq_f32(vmulq_f32(vld1q_f32(x + i + 4), vs), vsh));
    if (y) {
      vst1q_f32(y + i, e0);
      vst1q_f32(y + i + 4, e1);
    }
    s0 = vaddq_f32(s0, e0);
    s1 = vaddq_f32(s1, e1);
  }
  float s = vaddvq_f32(vaddq_f32(s0, s1));
  for (; i < n; i++) {
    float e = expf(x[i] * scale - shift);
    if (y) y[i] = e;
    s += e;
  }
  return s;
}

void pkt_vec_scale_neon(float* x, int64_t n, float s) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), s));
  for (; i < n; i++) x[i] *= s;
}
#endif
#endif
