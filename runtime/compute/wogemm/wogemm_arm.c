/* arm64 NEON weight-only micro-kernels: wogemm_impl.h with 4 float lanes a step (4 weight bytes, read whole so
 * nothing past the row is touched). */
#include "compute/wogemm/wogemm.h"

#if defined(PKT_WOGEMM_HAVE_NEON)
#include <arm_neon.h>

static inline uint8x8_t wo_bytes4(const uint8_t* p) {
  uint32_t u;
  memcpy(&u, p, sizeof u);
  return vreinterpret_u8_u32(vdup_n_u32(u));
}

static inline float32x4_t wo_w8(const uint8_t* p) {
  return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u8(wo_bytes4(p))))));
}

#define WO_W8 pkt_wogemm_w8_neon
#define WO_W4 pkt_wogemm_w4_neon
#define WO_BLOCK wo_block_neon
#define WO_TARGET
#define V float32x4_t
#define VL 4
#define VZERO() vdupq_n_f32(0.f)
#define VLOAD vld1q_f32
#define VSET vdupq_n_f32
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
#define VHSUM vaddvq_f32
#define W8 wo_w8
#define W4(p, lo, hi)                                                                           \
  do {                                                                                          \
    int32x4_t b_ = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(wo_bytes4(p))))), e_ = vdupq_n_s32(8); \
    lo = vcvtq_f32_s32(vsubq_s32(vandq_s32(b_, vdupq_n_s32(15)), e_));                          \
    hi = vcvtq_f32_s32(vsubq_s32(vshrq_n_s32(b_, 4), e_));                                      \
  } while (0)
#include "compute/wogemm/wogemm_impl.h"

#endif
