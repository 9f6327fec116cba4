/* Vector math over float rows, one implementation per ISA: fused activations, elementwise maps and
 * binary arithmetic, and the row helpers of softmax, attention and layer_norm. Kernels never call these
 * by name: they take them from the session's ISA config (backends/cpu/isa_config.h), so PKT_MAX_ISA holds.
 *
 * Every ISA gives the same NaN/inf results, and NaN stays NaN through every activation (relu, relu6 and
 * clamp included, as torch); the SIMD paths agree with the portable one to a few ulp. */
#ifndef PKT_VMATH_H
#define PKT_VMATH_H

#include <stdint.h>

/* Codes for the maps beside the PKT_ACT_* activations. */
enum {
  PKT_VMAP_EXP = 64,   /* expf */
  PKT_VMAP_HARDSIGMOID /* clamp(x + 3, 0, 6) / 6, NaN kept */
};
enum { PKT_VBIN_ADD, PKT_VBIN_SUB, PKT_VBIN_MUL, PKT_VBIN_DIV };

/* x[i] = act(x[i]) for a PKT_ACT_* code (NONE does nothing). */
typedef void (*pkt_act_fn)(float* x, int64_t n, int act, float lo, float hi);
/* y[i] = f(x[i]) for fn a PKT_ACT_* or PKT_VMAP_* code; y may equal x, or not overlap it. */
typedef void (*pkt_vmap_fn)(float* y, const float* x, int64_t n, int fn, float lo, float hi);
/* out = a op b (PKT_VBIN_*) over n elements; sa / sb are 1 (contiguous) or 0 (a scalar), not both 0. */
typedef void (*pkt_vbinary_fn)(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op);
/* The largest of n floats (-INFINITY for n == 0; NaNs are skipped). */
typedef float (*pkt_vec_max_fn)(const float* x, int64_t n);
/* y[i] = exp(x[i] * scale - shift) (y may be x, or NULL to only sum); returns the sum. The SIMD paths use a
 * range-reduced polynomial exp (about 1 ulp; exactly 0 below -87.3, NaN propagates). */
typedef float (*pkt_vec_exp_sum_fn)(const float* x, float* y, int64_t n, float scale, float shift);
/* x[i] *= s. */
typedef void (*pkt_vec_scale_fn)(float* x, int64_t n, float s);
/* One layer_norm row of D: y = (x - mean) * rstd * w + b (w / b may be NULL), mean and variance in two passes. */
typedef void (*pkt_layer_norm_row_fn)(const float* x, float* y, int64_t D, const float* w, const float* b, float eps);

void pkt_act_portable(float* x, int64_t n, int act, float lo, float hi);
void pkt_vmap_portable(float* y, const float* x, int64_t n, int fn, float lo, float hi);
float pkt_vec_max_portable(const float* x, int64_t n);
float pkt_vec_exp_sum_portable(const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale_portable(float* x, int64_t n, float s);
void pkt_layer_norm_row_portable(const float* x, float* y, int64_t D, const float* w, const float* b, float eps);
/* The last pass of a layer_norm row, scalar (the SIMD rows' tails). */
void pkt_layer_norm_apply(const float* x, float* y, int64_t D, float mean, float rstd, const float* w, const float* b);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_VMATH_HAVE_X86 1
void pkt_act_avx2(float* x, int64_t n, int act, float lo, float hi);
void pkt_vmap_avx2(float* y, const float* x, int64_t n, int fn, float lo, float hi);
void pkt_vbinary_avx2(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op);
float pkt_vec_max_avx2(const float* x, int64_t n);
float pkt_vec_exp_sum_avx2(const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale_avx2(float* x, int64_t n, float s);
void pkt_layer_norm_row_avx2(const float* x, float* y, int64_t D, const float* w, const float* b, float eps);
void pkt_act_avx512(float* x, int64_t n, int act, float lo, float hi);
void pkt_vmap_avx512(float* y, const float* x, int64_t n, int fn, float lo, float hi);
void pkt_vbinary_avx512(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op);
float pkt_vec_max_avx512(const float* x, int64_t n);
float pkt_vec_exp_sum_avx512(const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale_avx512(float* x, int64_t n, float s);
void pkt_layer_norm_row_avx512(const float* x, float* y, int64_t D, const float* w, const float* b, float eps);
#endif

#if defined(__aarch64__)
#define PKT_VMATH_HAVE_NEON64 1 /* arm64-only intrinsics (vaddvq, vfmaq, vrndnq, vdivq) */
void pkt_act_neon(float* x, int64_t n, int act, float lo, float hi);
void pkt_vmap_neon(float* y, const float* x, int64_t n, int fn, float lo, float hi);
void pkt_vbinary_neon(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op);
float pkt_vec_max_neon(const float* x, int64_t n);
float pkt_vec_exp_sum_neon(const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale_neon(float* x, int64_t n, float s);
void pkt_layer_norm_row_neon(const float* x, float* y, int64_t D, const float* w, const float* b, float eps);
#endif

#endif
