/* arm64 vector math (see vmath.h): vec_math_impl.h instantiated for 128-bit NEON (the activations, maps
 * and binary arithmetic, the same math as the x86 paths), and the row helpers of softmax, attention and
 * layer_norm. armv7 keeps the portable C: it lacks the division, rounding and (before VFPv4) FMA the
 * shared math is written with, and its NEON flushes denormals. */
#include "compute/vmath/vmath.h"

#if defined(PKT_VMATH_HAVE_NEON64)
#include <arm_neon.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/kernel.h"

/* The impl's tails: NEON has no masked loads, so the last 1-3 lanes go through a small buffer. */
static inline float32x4_t load_tail_neon(const float* p, int rem) {
  float t[4] = {0.f, 0.f, 0.f, 0.f};
  memcpy(t, p, (size_t)rem * sizeof *t);
  return vld1q_f32(t);
}
static inline void store_tail_neon(float* p, int rem, float32x4_t v) {
  float t[4];
  vst1q_f32(t, v);
  memcpy(p, t, (size_t)rem * sizeof *t);
}

#if defined(__OPTIMIZE_SIZE__) /* -Os: one copy of exp, sigmoid, ... called by every map, not one inlined in each */
#define TARGET __attribute__((noinline))
#else
#define TARGET
#endif
#define V float32x4_t
#define VI int32x4_t
#define VL 4
#define VFN(name) vec_##name##_neon
#define VSET(c) vdupq_n_f32(c)
#define VLOAD vld1q_f32
#define VSTORE vst1q_f32
#define VTAIL_MASK(m, rem) const int m = (rem)
#define VLOAD_TAIL(m, p) load_tail_neon(p, m)
#define VSTORE_TAIL(m, p, v) store_tail_neon(p, m, v)
#define VADD vaddq_f32
#define VSUB vsubq_f32
#define VMUL vmulq_f32
#define VDIV vdivq_f32
/* x86's maxps / minps exactly (a > b ? a : b): b when either is NaN or both are zeros, so relu(-0) = -0 and
 * NaN stays NaN as on every other path (vmaxq would give +0, vmaxnmq would drop the NaN). */
#define VMAX(a, b) vbslq_f32(vcgtq_f32(a, b), a, b)
#define VMIN(a, b) vbslq_f32(vcltq_f32(a, b), a, b)
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
#define VFMS(a, b, c) vnegq_f32(vfmsq_f32(c, a, b)) /* a*b - c, one rounding: -(c - a*b) is exact */
#define VFNMA(a, b, c) vfmsq_f32(c, a, b)
#define VROUND vrndnq_f32
#define VCVTI vcvtnq_s32_f32
#define VCASTF vreinterpretq_f32_s32
#define VCASTI vreinterpretq_s32_f32
#define VI_SET vdupq_n_s32
#define VI_ADD vaddq_s32
#define VI_SUB vsubq_s32
#define VI_SRAI1(i) vshrq_n_s32(i, 1)
#define VI_SLLI23(i) vshlq_n_s32(i, 23)
#define VABS vabsq_f32
#define VSIGN(x) VCASTF(vandq_s32(VCASTI(x), VI_SET((int32_t)0x80000000u)))
#define VOR(a, b) VCASTF(vorrq_s32(VCASTI(a), VCASTI(b)))
#define VSEL_GE(a, b, t, f) vbslq_f32(vcgeq_f32(a, b), t, f)
#define VSEL_GT(a, b, t, f) vbslq_f32(vcgtq_f32(a, b), t, f)
#define VSEL_LT(a, b, t, f) vbslq_f32(vcltq_f32(a, b), t, f)
#include "compute/vmath/vec_math_impl.h"

void pkt_vmap_neon(float* y, const float* x, int64_t n, int fn, float lo, float hi) { vec_map_neon(y, x, n, fn, lo, hi); }
void pkt_act_neon(float* x, int64_t n, int act, float lo, float hi) {
  if (act != PKT_ACT_NONE) vec_map_neon(x, x, n, act, lo, hi);
}
void pkt_vbinary_neon(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op) {
  vec_binary_neon(out, a, b, sa, sb, n, op);
}

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
