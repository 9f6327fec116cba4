/* Shared by the int8 kernels (quantize, dequantize, q*): parameter checks and the reference's rounding.
 * The PT2E reference quantizes as clamp(round_half_even(x * (float)(1 / scale)) + zp, qmin, qmax) in float32 and
 * dequantizes as (float)(q - zp) * (float)scale; the kernels that combine in float do exactly that, so they match
 * it bit for bit. The GEMM kernels requantize acc * (float)(in_scale * w_scale / out_scale) (compute/qgemm). */
#ifndef PKT_QUANT_UTIL_H
#define PKT_QUANT_UTIL_H

#include <math.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/kernel.h"

/* Largest scale ratio accepted: beyond it every value saturates and the file is not a real quantized model. */
#define PKT_Q_SCALE_MAX 1e30

static inline pkt_status pkt_q_check_scale(double s, const char* what, pkt_err* err) {
  if (!(s > 0) || !(s <= PKT_Q_SCALE_MAX))
    return pkt_fail(err, PKT_BAD_PARAMS, "%s scale %g must be finite and > 0", what, s);
  return PKT_OK;
}

static inline pkt_status pkt_q_check_zp(int64_t zp, const char* what, pkt_err* err) {
  if (zp < -128 || zp > 127) return pkt_fail(err, PKT_BAD_PARAMS, "%s zero point %lld is not in [-128, 127]", what, (long long)zp);
  return PKT_OK;
}

/* A scale param and the zero-point param right after it. */
static inline pkt_status pkt_q_check_qparams(const pkt_node* n, int scale_index, const char* what, pkt_err* err) {
  pkt_status st = pkt_q_check_scale(pkt_param_f(n, scale_index), what, err);
  return st ? st : pkt_q_check_zp(pkt_param_i(n, scale_index + 1), what, err);
}

static inline pkt_status pkt_q_check_clamp(int64_t lo, int64_t hi, pkt_err* err) {
  if (lo < -128 || hi > 127 || lo > hi)
    return pkt_fail(err, PKT_BAD_PARAMS, "output clamp [%lld, %lld] is not inside [-128, 127]", (long long)lo, (long long)hi);
  return PKT_OK;
}

/* A constant f32 tensor of n scales, each finite and > 0 (per-channel weight scales). */
static inline pkt_status pkt_q_check_scales(const pkt_tensor* t, int64_t n, pkt_err* err) {
  pkt_status st = pkt_check_dtype(t, PKT_F32, "weight scales", err);
  if (st) return st;
  if (!t->data) return pkt_fail(err, PKT_BAD_OPERANDS, "weight scales must be a constant");
  if (t->numel != n)
    return pkt_fail(err, PKT_BAD_OPERANDS, "%lld weight scales for %lld output channels", (long long)t->numel, (long long)n);
  const float* s = (const float*)t->data;
  for (int64_t i = 0; i < n; i++)
    if ((st = pkt_q_check_scale(s[i], "weight", err))) return st;
  return PKT_OK;
}

/* What qlinear and qlinear_dynamic share: x [..., K] -> y [..., N] with a constant int8 weight [N, K] (K <= max_k),
 * N weight scales (input 2) and an optional constant f32 bias [N] (input 3); dtypes of x and y are the caller's. */
static inline pkt_status pkt_q_check_linear(const pkt_node* n, int64_t max_k, pkt_err* err) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  pkt_status st = pkt_check_dtype(w, PKT_I8, "weight", err);
  if (st) return st;
  if (!w->data) return pkt_fail(err, PKT_BAD_OPERANDS, "the int8 weight must be a constant");
  if (x->rank < 1 || w->rank != 2 || y->rank != x->rank || x->dims[x->rank - 1] != w->dims[1] ||
      y->dims[y->rank - 1] != w->dims[0])
    return pkt_fail(err, PKT_BAD_OPERANDS, "input, weight [N, K] and output shapes do not match");
  for (int d = 0; d < x->rank - 1; d++)
    if (x->dims[d] != y->dims[d]) return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d differs from input", d);
  if (w->dims[1] > max_k) return pkt_fail(err, PKT_BAD_OPERANDS, "K %lld is too large", (long long)w->dims[1]);
  if ((st = pkt_q_check_scales(n->inputs[2], w->dims[0], err))) return st;
  if (n->n_inputs == 4) {
    if ((st = pkt_check_dtype(n->inputs[3], PKT_F32, "bias", err))) return st;
    if (!n->inputs[3]->data || n->inputs[3]->numel != w->dims[0])
      return pkt_fail(err, PKT_BAD_OPERANDS, "the bias must be a constant of %lld floats", (long long)w->dims[0]);
  }
  return PKT_OK;
}

/* clamp(round_half_even(v) + zp, lo, hi); NaN gives zp (the reference's float-to-int cast is undefined there). */
static inline int8_t pkt_q_round(float v, int32_t zp, int32_t lo, int32_t hi) {
  if (!(v == v)) v = 0.0f;
  if (v > 4e9f) v = 4e9f;
  if (v < -4e9f) v = -4e9f;
#if defined(__x86_64__) && defined(__SSE2__)
  /* cvtss2si rounds as nearbyintf does (the MXCSR mode, half to even), inline: baseline x86-64 has no roundss, so
   * nearbyintf would be a libm call per element */
  int64_t q = (int64_t)_mm_cvtss_si64(_mm_set_ss(v)) + zp;
#else
  int64_t q = (int64_t)nearbyintf(v) + zp; /* nearbyintf: in the embedded SDK's libm allow-list */
#endif
  return (int8_t)(q < lo ? lo : q > hi ? hi : q);
}

static inline float pkt_q_inv(double scale) { return (float)(1.0 / scale); }

/* Check a pooling window's params (kernel, stride, dilation >= 1, padding >= 0) at p[0..] in the max_pool2d order
 * kernel_h kernel_w stride_h stride_w pad_h pad_w, and that the output H and W are the floor- or ceil-mode sizes. */
static inline pkt_status pkt_q_check_window(const pkt_node* n, int64_t dil_h, int64_t dil_w, pkt_err* err) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->rank != 4 || y->rank != 4 || x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1])
    return pkt_fail(err, PKT_BAD_OPERANDS, "input and output must be NCHW with the same N and C");
  for (int a = 0; a < 2; a++) {
    int64_t k = pkt_param_i(n, 0 + a), s = pkt_param_i(n, 2 + a), p = pkt_param_i(n, 4 + a), d = a ? dil_w : dil_h;
    if (k < 1 || s < 1 || d < 1 || p < 0 || k > (1 << 24) || s > (1 << 24) || d > (1 << 24) || p > k)
      return pkt_fail(err, PKT_BAD_PARAMS, "window %lld stride %lld pad %lld dilation %lld out of range", (long long)k,
                      (long long)s, (long long)p, (long long)d);
    int64_t num = x->dims[2 + a] + 2 * p - d * (k - 1) - 1, o = y->dims[2 + a];
    if (num < 0) return pkt_fail(err, PKT_BAD_OPERANDS, "window larger than the padded input");
    int64_t fl = num / s + 1, ce = (num + s - 1) / s + 1;
    if ((ce - 1) * s >= x->dims[2 + a] + p) --ce;
    if (o != fl && o != ce) return pkt_fail(err, PKT_BAD_OPERANDS, "output size %lld does not match the window", (long long)o);
  }
  return PKT_OK;
}

/* round half to even in double with floor only (the embedded SDK's libm allow-list has no nearbyint). */
static inline double pkt_q_round_even(double v) {
  double r = floor(v), d = v - r;
  if (d > 0.5 || (d == 0.5 && r - 2.0 * floor(r / 2.0) != 0.0)) r += 1.0;
  return r;
}

static inline size_t pkt_q_align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The requantization multipliers of a GEMM-based kernel: scale[n] = in_scale * w_scale[n] / out_scale (float), and
 * the float bias as int32 in the accumulator's units, round(b[n] / (in_scale * w_scale[n])) (0 without a bias). */
static inline void pkt_q_gemm_consts(double in_scale, const float* w_scale, double out_scale, const float* bias,
                                     int64_t N, float* scale, int32_t* ibias) {
  for (int64_t i = 0; i < N; i++) {
    double unit = in_scale * (double)w_scale[i];
    if (scale) scale[i] = (float)(unit / out_scale);
    double b = bias ? pkt_q_round_even((double)bias[i] / unit) : 0.0;
    ibias[i] = (int32_t)(b > 2147483647.0 ? 2147483647.0 : b < -2147483648.0 ? -2147483648.0 : (b == b ? b : 0.0));
  }
}

#endif
