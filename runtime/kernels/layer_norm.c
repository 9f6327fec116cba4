/* layer_norm: normalize x over its last `axes` dims (D elements per row), then scale by weight and
 * shift by bias (each optional, D elements). Inputs: x, then weight if has_weight, then bias if
 * has_bias. Two-pass mean/variance (float lanes, summed in double). AVX-512 / AVX2 / NEON row paths
 * beside the portable one, chosen by the session's ISA. */
#include <math.h>

#include "core/kernel.h"
#include "backends/cpu/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LN_X86 1
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

pkt_status pkt_kernel_layer_norm_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 3, 1, PKT_LAYER_NORM_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  int64_t axes = pkt_param_i(n, PKT_LAYER_NORM_AXES);
  int64_t hw = pkt_param_i(n, PKT_LAYER_NORM_HAS_WEIGHT), hb = pkt_param_i(n, PKT_LAYER_NORM_HAS_BIAS);
  double eps = pkt_param_f(n, PKT_LAYER_NORM_EPS);
  if (axes < 1 || axes > x->rank)
    return pkt_fail(err, PKT_BAD_PARAMS, "normalizes %lld trailing dims of a rank-%d input", (long long)axes, x->rank);
  if ((hw != 0 && hw != 1) || (hb != 0 && hb != 1))
    return pkt_fail(err, PKT_BAD_PARAMS, "has_weight %lld / has_bias %lld must be 0 or 1", (long long)hw, (long long)hb);
  if (!(eps >= 0.0) || isinf(eps)) return pkt_fail(err, PKT_BAD_PARAMS, "eps %g is not a finite value >= 0", eps);
  if (n->n_inputs != 1 + hw + hb)
    return pkt_fail(err, PKT_BAD_OPERANDS, "has %d inputs, expected %lld for has_weight %lld, has_bias %lld",
                    n->n_inputs, (long long)(1 + hw + hb), (long long)hw, (long long)hb);
  int64_t D = 1;
  for (int d = x->rank - (int)axes; d < x->rank; d++) D *= x->dims[d];
  for (int i = 1; i < n->n_inputs; i++) {
    const pkt_tensor* p = n->inputs[i];
    const char* what = (i == 1 && hw) ? "weight" : "bias";
    if ((st = pkt_check_dtype(p, PKT_F32, what, err))) return st;
    if (p->numel != D)
      return pkt_fail(err, PKT_BAD_OPERANDS, "%s has %lld elements, expected %lld", what, (long long)p->numel, (long long)D);
  }
  *scratch = 0;
  return PKT_OK;
}

typedef struct ln_job {
  const float *x, *w, *b;
  float* y;
  int64_t D;
  float eps;
  int isa;
} ln_job;

/* y = (x - mean) * rstd * w + b for one row; w / b may be NULL. */
static void ln_apply(const float* x, float* y, int64_t D, float mean, float rstd, const float* w, const float* b) {
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

static void ln_row_portable(const ln_job* j, const float* x, float* y) {
  const int64_t D = j->D;
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
  ln_apply(x, y, D, mean, (float)(1.0 / sqrt(var / (double)D + j->eps)), j->w, j->b);
}

#ifdef LN_X86
__attribute__((target("avx512f"))) static void ln_row_avx512(const ln_job* j, const float* x, float* y) {
  const int64_t D = j->D;
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 32 <= D; i += 32) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
  }
  for (; i < D; i += 16) {
    __mmask16 k = (__mmask16)(D - i >= 16 ? 0xFFFF : (1u << (D - i)) - 1);
    s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(k, x + i));
  }
  const float mean = (float)((double)_mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (double)D);
  const __m512 vm = _mm512_set1_ps(mean);
  s0 = s1 = _mm512_setzero_ps();
  for (i = 0; i + 32 <= D; i += 32) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), vm), d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm);
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
  }
  for (; i < D; i += 16) {
    __mmask16 k = (__mmask16)(D - i >= 16 ? 0xFFFF : (1u << (D - i)) - 1);
    __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), vm);
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  const double var = (double)_mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  const float rstd = (float)(1.0 / sqrt(var / (double)D + j->eps));
  const __m512 vr = _mm512_set1_ps(rstd);
  for (i = 0; i < D; i += 16) {
    __mmask16 k = (__mmask16)(D - i >= 16 ? 0xFFFF : (1u << (D - i)) - 1);
    __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm), vr);
    if (j->w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, j->w + i));
    if (j->b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, j->b + i));
    _mm512_mask_storeu_ps(y + i, k, v);
  }
}

__attribute__((target("avx2,fma"))) static void ln_row_avx2(const ln_job* j, const float* x, float* y) {
  const int64_t D = j->D;
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 16 <= D; i += 16) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
  }
  float t[8];
  _mm256_storeu_ps(t, _mm256_add_ps(s0, s1));
  double sum = 0.0;
  for (int l = 0; l < 8; l++) sum += t[l];
  for (int64_t r = i; r < D; r++) sum += x[r];
  const float mean = (float)(sum / (double)D);
  const __m256 vm = _mm256_set1_ps(mean);
  s0 = s1 = _mm256_setzero_ps();
  for (i = 0; i + 16 <= D; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  _mm256_storeu_ps(t, _mm256_add_ps(s0, s1));
  double var = 0.0;
  for (int l = 0; l < 8; l++) var += t[l];
  for (int64_t r = i; r < D; r++) var += (double)(x[r] - mean) * (x[r] - mean);
  const float rstd = (float)(1.0 / sqrt(var / (double)D + j->eps));
  const __m256 vr = _mm256_set1_ps(rstd);
  for (i = 0; i + 8 <= D; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vr);
    if (j->w) v = _mm256_mul_ps(v, _mm256_loadu_ps(j->w + i));
    if (j->b) v = _mm256_add_ps(v, _mm256_loadu_ps(j->b + i));
    _mm256_storeu_ps(y + i, v);
  }
  ln_apply(x + i, y + i, D - i, mean, rstd, j->w ? j->w + i : NULL, j->b ? j->b + i : NULL);
}
#endif

#if defined(__aarch64__)
static void ln_row_neon(const ln_job* j, const float* x, float* y) {
  const int64_t D = j->D;
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
  const float rstd = (float)(1.0 / sqrt(var / (double)D + j->eps));
  for (i = 0; i + 4 <= D; i += 4) {
    float32x4_t v = vmulq_n_f32(vsubq_f32(vld1q_f32(x + i), vm), rstd);
    if (j->w) v = vmulq_f32(v, vld1q_f32(j->w + i));
    if (j->b) v = vaddq_f32(v, vld1q_f32(j->b + i));
    vst1q_f32(y + i, v);
  }
  ln_apply(x + i, y + i, D - i, mean, rstd, j->w ? j->w + i : NULL, j->b ? j->b + i : NULL);
}
#endif

static void ln_rows(void* ctx, int64_t begin, int64_t end) {
  const ln_job* j = ctx;
  for (int64_t r = begin; r < end; r++) {
    const float* x = j->x + r * j->D;
    float* y = j->y + r * j->D;
#ifdef LN_X86
    if (j->isa == PKT_ISA_AVX512) {
      ln_row_avx512(j, x, y);
      continue;
    }
    if (j->isa == PKT_ISA_AVX2) {
      ln_row_avx2(j, x, y);
      continue;
    }
#endif
#if defined(__aarch64__)
    if (j->isa == PKT_ISA_NEON) {
      ln_row_neon(j, x, y);
      continue;
    }
#endif
    ln_row_portable(j, x, y);
  }
}

pkt_status pkt_kernel_layer_norm_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  int axes = (int)pkt_param_i(n, PKT_LAYER_NORM_AXES);
  int hw = (int)pkt_param_i(n, PKT_LAYER_NORM_HAS_WEIGHT), hb = (int)pkt_param_i(n, PKT_LAYER_NORM_HAS_BIAS);
  ln_job j = {x->data, hw ? n->inputs[1]->data : NULL, hb ? n->inputs[1 + hw]->data : NULL, y->data, 1,
              (float)pkt_param_f(n, PKT_LAYER_NORM_EPS), n->isa};
  for (int d = x->rank - axes; d < x->rank; d++) j.D *= x->dims[d];
  if (x->numel < 16384) /* waking workers costs more than a small normalization */
    ln_rows(&j, 0, x->numel / j.D);
  else
    pkt_parallel_for(n, x->numel / j.D, ln_rows, &j);
  return PKT_OK;
}
