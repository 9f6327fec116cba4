/* ARM NEON int8 elementwise rows (arm64 and armv7: 16 lanes a step as four float32x4) and max pooling planes
 * (qelem_pool_impl.h vectorized by the compiler). arm64 rounds with vcvtnq (half to even); armv7 has no such
 * conversion and adds and subtracts 1.5 * 2^23 (NEON rounds to nearest even; the clamped values are far inside
 * 2^22), and flushes subnormals, which qelem.c's dispatch keeps away. A row's last partial vector runs on
 * zero-padded copies. */
#include "compute/qelem/qelem.h"

#if defined(PKT_QELEM_HAVE_NEON)
#include <arm_neon.h>
#include <string.h>

#define INLINE __attribute__((always_inline)) static inline

typedef struct outn {
  float32x4_t inv, lo, hi;
  int32x4_t oz;
} outn;

INLINE outn outn_of(const pkt_qelem_out* o) {
  outn r = {vdupq_n_f32(o->inv), vdupq_n_f32((float)(o->lo - o->oz)), vdupq_n_f32((float)(o->hi - o->oz)),
            vdupq_n_s32(o->oz)};
  return r;
}

/* (float)(q - z) * s of 16 int8 */
INLINE void deqn(const int8_t* p, int32x4_t z, float32x4_t s, float32x4_t f[4]) {
  int8x16_t q = vld1q_s8(p);
  int16x8_t h0 = vmovl_s8(vget_low_s8(q)), h1 = vmovl_s8(vget_high_s8(q));
  f[0] = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vmovl_s16(vget_low_s16(h0)), z)), s);
  f[1] = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vmovl_s16(vget_high_s16(h0)), z)), s);
  f[2] = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vmovl_s16(vget_low_s16(h1)), z)), s);
  f[3] = vmulq_f32(vcvtq_f32_s32(vsubq_s32(vmovl_s16(vget_high_s16(h1)), z)), s);
}

/* clamp(round(v * inv), lo - oz, hi - oz) + oz; v is not NaN */
INLINE int32x4_t qn4(float32x4_t v, const outn* o) {
  v = vminq_f32(vmaxq_f32(vmulq_f32(v, o->inv), o->lo), o->hi);
#if defined(__aarch64__)
  int32x4_t r = vcvtnq_s32_f32(v);
#else
  const float32x4_t magic = vdupq_n_f32(12582912.0f);
  int32x4_t r = vcvtq_s32_f32(vsubq_f32(vaddq_f32(v, magic), magic));
#endif
  return vaddq_s32(r, o->oz);
}

INLINE void qn16(const float32x4_t f[4], const outn* o, int8_t* y) {
  int16x8_t h0 = vcombine_s16(vmovn_s32(qn4(f[0], o)), vmovn_s32(qn4(f[1], o)));
  int16x8_t h1 = vcombine_s16(vmovn_s32(qn4(f[2], o)), vmovn_s32(qn4(f[3], o)));
  vst1q_s8(y, vcombine_s8(vmovn_s16(h0), vmovn_s16(h1)));
}

INLINE void binaryn_body(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int mul, int8_t* y,
                         int64_t n) {
  const outn o = outn_of(&p->out);
  const float32x4_t as = vdupq_n_f32(p->as), bs = vdupq_n_f32(p->bs);
  const int32x4_t az = vdupq_n_s32(p->az), bz = vdupq_n_s32(p->bz);
  const float32x4_t fb1 = vdupq_n_f32((float)(b[0] - p->bz) * p->bs);
  for (int64_t i = 0; i < n; i += 16) {
    float32x4_t fa[4], fb[4] = {fb1, fb1, fb1, fb1};
    deqn(a + i, az, as, fa);
    if (b_step) deqn(b + i, bz, bs, fb);
    for (int k = 0; k < 4; k++) fa[k] = mul ? vmulq_f32(fa[k], fb[k]) : vaddq_f32(fa[k], fb[k]);
    qn16(fa, &o, y + i);
  }
}

static void binaryn(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int8_t* y, int64_t n) {
  if (n <= 0) return;
  const int64_t full = n & ~(int64_t)15;
  if (b_step) {
    if (p->mul) binaryn_body(p, a, b, 1, 1, y, full);
    else binaryn_body(p, a, b, 1, 0, y, full);
  } else {
    if (p->mul) binaryn_body(p, a, b, 0, 1, y, full);
    else binaryn_body(p, a, b, 0, 0, y, full);
  }
  if (full < n) {
    int8_t ta[16] = {0}, tb[16] = {0}, ty[16];
    memcpy(ta, a + full, (size_t)(n - full));
    if (b_step) memcpy(tb, b + full, (size_t)(n - full));
    else tb[0] = b[0];
    binaryn_body(p, ta, tb, b_step, p->mul, ty, 16);
    memcpy(y + full, ty, (size_t)(n - full));
  }
}

INLINE void quantizen_16(const float* x, const outn* o, int8_t* y) {
  float32x4_t f[4];
  for (int k = 0; k < 4; k++) {
    float32x4_t v = vld1q_f32(x + 4 * k);
    f[k] = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32(v, v))); /* NaN is 0 */
  }
  qn16(f, o, y);
}

static void quantizen(const float* x, int8_t* y, int64_t n, const pkt_qelem_out* po) {
  const outn o = outn_of(po);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) quantizen_16(x + i, &o, y + i);
  if (i < n) {
    float tx[16] = {0};
    int8_t ty[16];
    memcpy(tx, x + i, (size_t)(n - i) * sizeof(float));
    quantizen_16(tx, &o, ty);
    memcpy(y + i, ty, (size_t)(n - i));
  }
}

static void requantizen(const int8_t* x, int32_t iz, float s, int8_t* y, int64_t n, const pkt_qelem_out* po) {
  const outn o = outn_of(po);
  const float32x4_t vs = vdupq_n_f32(s);
  const int32x4_t z = vdupq_n_s32(iz);
  float32x4_t f[4];
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    deqn(x + i, z, vs, f);
    qn16(f, &o, y + i);
  }
  if (i < n) {
    int8_t tx[16] = {0}, ty[16];
    memcpy(tx, x + i, (size_t)(n - i));
    deqn(tx, z, vs, f);
    qn16(f, &o, ty);
    memcpy(y + i, ty, (size_t)(n - i));
  }
}

static void dequantizen(const int8_t* x, int32_t zp, float scale, float* y, int64_t n) {
  const float32x4_t s = vdupq_n_f32(scale);
  const int32x4_t z = vdupq_n_s32(zp);
  float32x4_t f[4];
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    deqn(x + i, z, s, f);
    for (int k = 0; k < 4; k++) vst1q_f32(y + i + 4 * k, f[k]);
  }
  if (i < n) {
    int8_t tx[16] = {0};
    float ty[16];
    memcpy(tx, x + i, (size_t)(n - i));
    deqn(tx, z, s, f);
    for (int k = 0; k < 4; k++) vst1q_f32(ty + 4 * k, f[k]);
    memcpy(y + i, ty, (size_t)(n - i) * sizeof(float));
  }
}

#define QP_NAME(x) x##_neon
#define QP_TARGET
#include "compute/qelem/qelem_pool_impl.h"
#undef QP_NAME
#undef QP_TARGET

const pkt_qelem_impl pkt_qelem_neon = {binaryn, quantizen, requantizen, dequantizen, qp_plane_neon};
#endif
