/* NEON GEMM micro-kernels: gemm_ukernel_impl.h instantiated for arm64 (6 rows x 16 columns: 24
 * accumulators of the 32 q registers, fused multiply-add) and armv7 (6 x 8: 12 of the 16 q registers;
 * vmla, multiply then add, unless the CPU has VFPv4 FMA; armv7 NEON flushes denormals to zero, which is
 * within the kernels' tolerances), and the arm64 GEMV. */
#include "compute/gemm/gemm.h"

#if defined(PKT_GEMM_HAVE_NEON)
#include <arm_neon.h>
#include <math.h>

#include "compute/vmath/vmath.h"

#if defined(__aarch64__)
#define UK_NAME pkt_gemm_ukernel_neon_6x16
#define UK_NV 4
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
#define VFMA_LANE(a, v, l, c) vfmaq_laneq_f32(c, a, v, l)
#elif defined(__ARM_FEATURE_FMA)
#define UK_NAME pkt_gemm_ukernel_neon_6x8
#define UK_NV 2
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
#else
#define UK_NAME pkt_gemm_ukernel_neon_6x8
#define UK_NV 2
#define VFMA(a, b, c) vmlaq_f32(c, a, b)
#endif
#define UK_MR 6
#define UK_TARGET
#if defined(PKT_VMATH_HAVE_NEON64)
#define UK_ACT pkt_act_neon
#else
#define UK_ACT pkt_act_portable
#endif
#define V float32x4_t
#define VL 4
#define VZERO() vdupq_n_f32(0.f)
#define VLOAD vld1q_f32
#define VSTORE vst1q_f32
#define VBCAST vld1q_dup_f32
#define VSET vdupq_n_f32
#define VADD vaddq_f32
#define VCLAMP(v, lo, hi) vminq_f32(vmaxq_f32(v, lo), hi) /* NaN stays NaN (not vmaxnm) */
#include "compute/gemm/gemm_ukernel_impl.h"

/* ---- GEMV over a [N, K] weight: 4 rows x 2 accumulators, 16 steps of K a pass (W is read once, so the loop is
 * its loads and FMAs: the longer pass spends fewer of its instructions on the loop itself) ---- */
#if defined(__aarch64__)
void pkt_gemv_neon(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y) {
  const int64_t kv = K - K % 8;
  int64_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float* w[4] = {W + n * ldw, W + (n + 1) * ldw, W + (n + 2) * ldw, W + (n + 3) * ldw};
    float32x4_t s[4][2];
    for (int r = 0; r < 4; r++) s[r][0] = s[r][1] = vdupq_n_f32(0.f);
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      float32x4_t x0 = vld1q_f32(x + k), x1 = vld1q_f32(x + k + 4), x2 = vld1q_f32(x + k + 8),
                  x3 = vld1q_f32(x + k + 12);
      for (int r = 0; r < 4; r++) {
        s[r][0] = vfmaq_f32(s[r][0], x0, vld1q_f32(w[r] + k));
        s[r][1] = vfmaq_f32(s[r][1], x1, vld1q_f32(w[r] + k + 4));
        s[r][0] = vfmaq_f32(s[r][0], x2, vld1q_f32(w[r] + k + 8));
        s[r][1] = vfmaq_f32(s[r][1], x3, vld1q_f32(w[r] + k + 12));
      }
    }
    for (; k < kv; k += 8) {
      float32x4_t x0 = vld1q_f32(x + k), x1 = vld1q_f32(x + k + 4);
      for (int r = 0; r < 4; r++) {
        s[r][0] = vfmaq_f32(s[r][0], x0, vld1q_f32(w[r] + k));
        s[r][1] = vfmaq_f32(s[r][1], x1, vld1q_f32(w[r] + k + 4));
      }
    }
    for (int r = 0; r < 4; r++) {
      float t = vaddvq_f32(vaddq_f32(s[r][0], s[r][1]));
      for (int64_t j = kv; j < K; j++) t += x[j] * w[r][j];
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

#endif
#endif
