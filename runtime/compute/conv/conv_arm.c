/* arm64 NEON convolution kernels: the family's GEMM micro-kernel and row kernels instantiated for NEON
 * (conv_simd_impl.h). */
#include "compute/conv/conv_impl.h"

#if defined(CONV_HAVE_NEON)
#include <arm_neon.h>

/* conv_simd_impl.h for arm64 NEON: the 6 x 16 GEMM tile (24 of the 32 q registers; a step's 6 weights come in
 * two loads and each row multiplies by lane, fmla by element, no load per row) and depthwise blocks of 4
 * vectors (16 columns). */
#define CV_NAME(x) x##_neon
#define CV_TARGET
#define CV_ACT pkt_act_portable
#define CV_MR CONV_MR_NEON
#define CV_NV 4
#define CV_EX_MAX 0
#define CV_PREFETCH_A(ak) ((void)0)
#define CV_PREFETCH_B(bk) ((void)0)
#define CV_DW_NV 4
#define CV_A_DECL(ak) const float32x4_t cv_a03 = vld1q_f32(ak); const float32x2_t cv_a45 = vld1_f32((ak) + 4)
#define CV_A_ROW(r) vdupq_n_f32((r) < 4 ? cv_a03[(r) & 3] : cv_a45[(r) & 1])
#define V float32x4_t
#define VL 4
#define VZERO() vdupq_n_f32(0.f)
#define VSET vdupq_n_f32
#define VLOAD vld1q_f32
#define VSTORE vst1q_f32
#define VBCAST vld1q_dup_f32
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
#define VADD vaddq_f32
#define VCLAMP(v, lo, hi) vminq_f32(vmaxq_f32(v, lo), hi) /* NaN stays NaN (not vmaxnm) */
#define VUNZIP(a, b, e, o) (e = vuzp1q_f32(a, b), o = vuzp2q_f32(a, b))
#include "compute/conv/conv_simd_impl.h"

#endif
