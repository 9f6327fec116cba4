/* Vector math, portable C (see vmath.h): also the reference the SIMD paths are tested against. */
#include "compute/vmath/vmath.h"

#include <math.h>
#include <string.h>

#include "core/kernel.h"

/* The portable activations (also the reference the SIMD paths are tested against). */
void pkt_act_portable(float* x, int64_t n, int act, float lo, float hi) {
  switch (act) {
    /* comparisons, not fmaxf/fminf (which return the number when one operand is NaN): NaN stays NaN */
    case PKT_ACT_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] < 0.f ? 0.f : x[i];
      break;
    case PKT_ACT_RELU6:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] < 0.f ? 0.f : x[i] > 6.f ? 6.f : x[i];
      break;
    case PKT_ACT_CLAMP:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
      break;
    case PKT_ACT_SILU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.f + expf(-x[i]));
      break;
    case PKT_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) x[i] = 1.f / (1.f + expf(-x[i]));
      break;
    case PKT_ACT_TANH:
      for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
      break;
    case PKT_ACT_GELU: /* + (x - x): NaN at +-inf, so gelu(+inf) is NaN as in eager float32 torch */
      for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.f + erff(x[i] * 0.70710678118654752f) + (x[i] - x[i]));
      break;
    case PKT_ACT_GELU_TANH:
      for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
      }
      break;
    case PKT_ACT_HARDSWISH:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] * fminf(fmaxf(x[i] + 3.f, 0.f), 6.f) / 6.f;
      break;
    default:
      break;
  }
}

void pkt_vmap_portable(float* y, const float* x, int64_t n, int fn, float lo, float hi) {
  switch (fn) {
    case PKT_VMAP_EXP:
      for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
      return;
    case PKT_VMAP_HARDSIGMOID:
      for (int64_t i = 0; i < n; i++) {
        float v = x[i] + 3.f;
        v = v < 0.f ? 0.f : v;
        y[i] = (v > 6.f ? 6.f : v) / 6.f;
      }
      return;
    default:
      if (y != x) memmove(y, x, (size_t)n * sizeof *y);
      pkt_act_portable(y, n, fn, lo, hi);
      return;
  }
}

float pkt_vec_max_portable(const float* x, int64_t n) {
  float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
  for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
  float a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
  return a > b ? a : b;
}


float pkt_vec_exp_sum_portable(const float* x, float* y, int64_t n, float scale, float shift) {
  float s = 0.f;
  for (int64_t i = 0; i < n; i++) {
    float e = expf(x[i] * scale - shift);
    if (y) y[i] = e;
    s += e;
  }
  return s;
}


void pkt_vec_scale_portable(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

/* y = (x - mean) * rstd * w + b for one row; w / b may be NULL. */
void pkt_layer_norm_apply(const float* x, float* y, int64_t D, float mean, float rstd, const float* w, const float* b) {
  if (w && b) {
    for (int64_t i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
  } else if (w) {
    for (int64_t i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd * w[i];
  } else if (b) {
    for (int64_t i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd + b[i];
  } else {
    for (int64_t i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd;
  }
}

void pkt_layer_norm_row_portable(const float* x, float* y, int64_t D, const float* w, const float* b, float eps) {
  float s8[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= D; i += 8)
    for (int l = 0; l < 8; l++) s8[l] += x[i + l];
  double sum = 0.0;
  for (; i < D; i++) sum += x[i];
  for (int l = 0; l < 8; l++) sum += s8[l];
  const float mean = (float)(sum / (double)D);
  float v8[8] = {0};
  for (i = 0; i + 8 <= D; i += 8)
    for (int l = 0; l < 8; l++) {
      float d = x[i + l] - mean;
      v8[l] += d * d;
    }
  double var = 0.0;
  for (; i < D; i++) var += (double)(x[i] - mean) * (x[i] - mean);
  for (int l = 0; l < 8; l++) var += v8[l];
  pkt_layer_norm_apply(x, y, D, mean, (float)(1.0 / sqrt(var / (double)D + eps)), w, b);
}

