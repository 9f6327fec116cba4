/* ARM NEON int8 depthwise planes (arm64 and armv7): qdw_impl.h vectorized by the compiler for NEON, with a NEON row
 * requantization. arm64 rounds with vcvtnq (half to even); armv7 has no such conversion and adds and subtracts
 * 1.5 * 2^23 instead (NEON arithmetic rounds to nearest even, and the clamped values are far inside 2^22). */
#include "compute/qdw/qdw.h"

#if defined(PKT_QDW_HAVE_NEON)
#include <arm_neon.h>
#include <math.h>
#include <string.h>

__attribute__((always_inline)) static inline void requant_neon(const int32_t* acc, int64_t n, float scale, int32_t oz,
                                                               int32_t lo, int32_t hi, int8_t* y) {
  const float lof = (float)(lo - oz), hif = (float)(hi - oz);
  const float32x4_t s = vdupq_n_f32(scale), flo = vdupq_n_f32(lof), fhi = vdupq_n_f32(hif);
  const int32x4_t z = vdupq_n_s32(oz);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t f0 = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(vld1q_s32(acc + i)), s), flo), fhi);
    float32x4_t f1 = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(vld1q_s32(acc + i + 4)), s), flo), fhi);
#if defined(__aarch64__)
    int32x4_t q0 = vcvtnq_s32_f32(f0), q1 = vcvtnq_s32_f32(f1);
#else
    const float32x4_t magic = vdupq_n_f32(12582912.0f);
    int32x4_t q0 = vcvtq_s32_f32(vsubq_f32(vaddq_f32(f0, magic), magic));
    int32x4_t q1 = vcvtq_s32_f32(vsubq_f32(vaddq_f32(f1, magic), magic));
#endif
    int16x8_t w = vcombine_s16(vmovn_s32(vaddq_s32(q0, z)), vmovn_s32(vaddq_s32(q1, z)));
    vst1_s8(y + i, vmovn_s16(w));
  }
  pkt_qdw_requant_scalar(acc + i, n - i, scale, oz, lo, hi, y + i);
}

#define QD_NAME(x) x##_neon
#define QD_TARGET
#define QD_REQUANT requant_neon
#include "compute/qdw/qdw_impl.h"
#endif
