/* The conv family's SIMD kernels for one ISA: the GEMM micro-kernel (conv_ukernel_impl.h) and the row kernels
 * (conv_rows_impl.h: depthwise, residual), each written once over the vector macros below and included here
 * once per ISA (conv_x86.c: AVX-512, AVX2; conv_arm.c: NEON), which then forgets every parameter. Defines
 * CV_NAME(conv_ukernel), CV_NAME(conv_dw), CV_NAME(conv_residual), CV_NAME(conv_fill2) (conv_impl.h's
 * declarations).
 *
 * The includer defines:
 *   CV_NAME(x)     suffixes a name with the ISA   CV_TARGET      function attributes
 *   CV_ACT         the ISA's in-place activation (pkt_act_fn)
 *   CV_MR, CV_NV   GEMM tile: rows, vectors a row  CV_EX_MAX      GEMM extra columns, rows in lanes (0: none)
 *   CV_PREFETCH_A(ak), CV_PREFETCH_B(bk)   the ISA's prefetch of packed weights ahead of step ak and of the
 *                  B row 16 steps ahead when B rows are read in place from a pointwise conv's input (far
 *                  apart for the hardware's stride prefetcher); ((void)0) where it does not pay
 *   CV_DW_NV       vectors a depthwise block
 *   V, VL          vector type and lanes           VZERO()  VSET(c)  VLOAD(p)  VSTORE(p, v)  VBCAST(p)
 *   VFMA(a, b, c)  c + a*b                          VADD(a, b)
 *   VCLAMP(v, lo, hi)   min(hi, max(lo, v)) with NaN in v kept
 *   VUNZIP(a, b, e, o)  e = the even-indexed lanes of a then of b, o the odd ones
 * and may define:
 *   VLOAD_PART(p, n), VSTORE_PART(p, v, n)   the first n lanes only (else through a buffer on the stack)
 *   CV_A_DECL(ak), CV_A_ROW(r)               a GEMM step's weights: declared once, row r broadcast (else
 *                                            VBCAST per row; NEON loads the step and multiplies by lane) */

#ifndef CV_A_DECL
#define CV_A_DECL(ak) const float* cv_a = (ak)
#define CV_A_ROW(r) VBCAST(cv_a + (r))
#endif

#ifndef VLOAD_PART
CV_TARGET __attribute__((always_inline)) static inline V CV_NAME(load_part)(const float* p, int n) {
  float t[VL] = {0};
  for (int j = 0; j < n; j++) t[j] = p[j];
  return VLOAD(t);
}
CV_TARGET __attribute__((always_inline)) static inline void CV_NAME(store_part)(float* p, V v, int n) {
  float t[VL];
  VSTORE(t, v);
  for (int j = 0; j < n; j++) p[j] = t[j];
}
#define VLOAD_PART(p, n) CV_NAME(load_part)(p, n)
#define VSTORE_PART(p, v, n) CV_NAME(store_part)(p, v, n)
#endif

#include "compute/conv/conv_ukernel_impl.h"
#include "compute/conv/conv_rows_impl.h"

#undef CV_NAME
#undef CV_TARGET
#undef CV_ACT
#undef CV_MR
#undef CV_NV
#undef CV_EX_MAX
#undef CV_PREFETCH_A
#undef CV_PREFETCH_B
#undef CV_DW_NV
#undef CV_A_DECL
#undef CV_A_ROW
#undef V
#undef VL
#undef VZERO
#undef VSET
#undef VLOAD
#undef VSTORE
#undef VBCAST
#undef VFMA
#undef VADD
#undef VCLAMP
#undef VUNZIP
#undef VLOAD_PART
#undef VSTORE_PART
