/* arm64 vector math (see vmath.h): the row helpers of softmax, attention and layer_norm. The activations
 * and maps use the portable C on arm (the compiler vectorizes the simple ones). */
#include "compute/vmath/vmath.h"

#if defined(PKT_VMATH_HAVE_NEON64)
#include <arm_neon.h>
#include <stddef.h>
#include <math.h>

/* ---- row helpers (softmax, attention): exp as in vmath_x86.c ---- */
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
/* ---- layer_norm rows ---- */
void pkt_layer_norm_row_neon(const float* x, float* y, int64_t D, const float* w, const float* b, float eps) {
  float32x4_t s0 = vdupq_n_f32(0.f), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= D; i += 8) {
    s0 = vaddq_f32(s0, vld1q_f32(x + i));
    s1 = vaddq_f32(s1, vld1q_f32(x + i + 4));
  }
  double sum = (double)vaddvq_f32(vaddq_f32(s0, s1));
  for (int64_t r = i; r < D; r++) sum += x[r];
  const float mean = (float)(sum / (double)D);
  const float32x4_t vm = vdupq_n_f32(mean);
  s0 = s1 = vdupq_n_f32(0.f);
  for (i = 0; i + 8 <= D; i += 8) {
    float32x4_t d0 = vsubq_f32(vld1q_f32(x + i), vm), d1 = vsubq_f32(vld1q_f32(x + i + 4), vm);
    s0 = vfmaq_f32(s0, d0, d0);
    s1 = vfmaq_f32(s1, d1, d1);
  }
  double var = (double)vaddvq_f32(vaddq_f32(s0, s1));
  for (int64_t r = i; r < D; r++) var += (double)(x[r] - mean) * (x[r] - mean);
  const float rstd = (float)(1.0 / sqrt(var / (double)D + eps));
  for (i = 0; i + 4 <= D; i += 4) {
    float32x4_t v = vmulq_n_f32(vsubq_f32(vld1q_f32(x + i), vm), rstd);
    if (w) v = vmulq_f32(v, vld1q_f32(w + i));
    if (b) v = vaddq_f32(v, vld1q_f32(b + i));
    vst1q_f32(y + i, v);
  }
  pkt_layer_norm_apply(x + i, y + i, D - i, mean, rstd, w ? w + i : NULL, b ? b + i : NULL);
}
#endif
