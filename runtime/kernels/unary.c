/* unary: out = f(x), elementwise; out has x's shape.
 *
 * Parameters alpha and beta, by kind:
 *   CLAMP       alpha = min, beta = max (+-inf for a missing bound); min > max gives max, as torch.clamp
 *   ELU         alpha = alpha, beta = input scale (x <= 0 gives alpha * expm1(beta * x); 0 means 1)
 *   LEAKY_RELU  alpha = negative slope
 *   SOFTPLUS    alpha = beta, beta = threshold (x * beta > threshold gives x)
 *   others      unused (0)
 * dtypes: float32 for every kind but NOT and BITNOT. int64 and int32 for NEG ABS RELU CLAMP SIGN BITNOT
 * FLOOR CEIL ROUND TRUNC ISNAN (rounding is the identity on integers, ISNAN is false). bool for NOT,
 * BITNOT (both logical not) and ISNAN. ISNAN and NOT write bool; every other kind writes x's dtype.
 * ROUND rounds half to even, SIGN of NaN is 0, RELU and CLAMP keep NaN, as torch does.
 */
#include <math.h>

#include "kernels/elementwise_util.h"

static int kind_supports(int kind, int dtype) {
  switch (dtype) {
    case PKT_F32: return kind != PKT_UNARY_NOT && kind != PKT_UNARY_BITNOT;
    case PKT_I64:
    case PKT_I32:
      switch (kind) {
        case PKT_UNARY_NEG: case PKT_UNARY_ABS: case PKT_UNARY_RELU: case PKT_UNARY_CLAMP: case PKT_UNARY_SIGN:
        case PKT_UNARY_BITNOT: case PKT_UNARY_FLOOR: case PKT_UNARY_CEIL: case PKT_UNARY_ROUND: case PKT_UNARY_TRUNC:
        case PKT_UNARY_ISNAN:
          return 1;
        default:
          return 0;
      }
    case PKT_BOOL: return kind == PKT_UNARY_NOT || kind == PKT_UNARY_BITNOT || kind == PKT_UNARY_ISNAN;
    default: return 0;
  }
}

pkt_status pkt_kernel_unary_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_UNARY_MIN_INPUTS, PKT_UNARY_MAX_INPUTS, 1, PKT_UNARY_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t kind = pkt_param_i(n, PKT_UNARY_KIND);
  if (kind < 0 || kind >= PKT_UNARY_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown kind %lld", (long long)kind);
  if (!kind_supports((int)kind, x->dtype))
    return pkt_fail(err, PKT_BAD_OPERANDS, "kind %lld does not support dtype %s", (long long)kind, pkt_dtype_name(x->dtype));
  int out_dtype = kind == PKT_UNARY_ISNAN || kind == PKT_UNARY_NOT ? PKT_BOOL : x->dtype;
  if ((st = pkt_check_dtype(y, out_dtype, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from the input's");
  double alpha = pkt_param_f(n, PKT_UNARY_ALPHA), beta = pkt_param_f(n, PKT_UNARY_BETA);
  if (kind == PKT_UNARY_CLAMP && (isnan(alpha) || isnan(beta)))
    return pkt_fail(err, PKT_BAD_PARAMS, "clamp bounds [%g, %g] are invalid", alpha, beta);
  *scratch = 0;
  return PKT_OK;
}

static inline float relu_f(float x) { return x < 0.f ? 0.f : x; }
static inline float clamp_f(float x, float lo, float hi) {
  float v = x < lo ? lo : x;
  return v > hi ? hi : v;
}
static inline float sigmoid_f(float x) { return 1.f / (1.f + expf(-x)); }
static inline float softplus_f(float x, float beta, float threshold) {
  return x * beta > threshold ? x : log1pf(expf(x * beta)) / beta;
}

/* The kinds with a SIMD path (the config's vmap), as its function code; -1 for none. */
static int vmap_code(int kind) {
  switch (kind) {
    case PKT_UNARY_SIGMOID: return PKT_ACT_SIGMOID;
    case PKT_UNARY_TANH: return PKT_ACT_TANH;
    case PKT_UNARY_GELU: return PKT_ACT_GELU;
    case PKT_UNARY_GELU_TANH: return PKT_ACT_GELU_TANH;
    case PKT_UNARY_SILU: return PKT_ACT_SILU;
    case PKT_UNARY_HARDSWISH: return PKT_ACT_HARDSWISH;
    case PKT_UNARY_EXP: return PKT_VMAP_EXP;
    case PKT_UNARY_RELU: return PKT_ACT_RELU;
    case PKT_UNARY_HARDSIGMOID: return PKT_VMAP_HARDSIGMOID;
    default: return -1;
  }
}

static void unary_f32(const pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n) {
  const float a = (float)ew->alpha, b = (float)ew->beta;
  if (s[0] == 1 && ew->cfg->isa != PKT_ISA_PORTABLE) {
    int code = vmap_code(ew->kind);
    if (code >= 0) {
      ew->cfg->vmap((float*)out, (const float*)in[0], n, code, 0.f, 0.f);
      return;
    }
  }
  switch (ew->kind) {
    case PKT_UNARY_NEG: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, -x); break;
    case PKT_UNARY_ABS: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, fabsf(x)); break;
    case PKT_UNARY_EXP: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, expf(x)); break;
    case PKT_UNARY_LOG: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, logf(x)); break;
    case PKT_UNARY_SQRT: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, sqrtf(x)); break;
    case PKT_UNARY_RSQRT: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, 1.f / sqrtf(x)); break;
    case PKT_UNARY_SIN: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, sinf(x)); break;
    case PKT_UNARY_COS: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, cosf(x)); break;
    case PKT_UNARY_TANH: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, tanhf(x)); break;
    case PKT_UNARY_SIGMOID: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, sigmoid_f(x)); break;
    case PKT_UNARY_RELU: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, relu_f(x)); break;
    case PKT_UNARY_GELU:
      /* + (x - x): gelu(+inf) is NaN, as in eager float32 torch (and pkt_act_portable) */
      PKT_EW_LOOP1(float, float, out, in[0], s[0], n, 0.5f * x * (1.f + erff(x * 0.70710678118654752f) + (x - x)));
      break;
    case PKT_UNARY_GELU_TANH:
      PKT_EW_LOOP1(float, float, out, in[0], s[0], n,
                   0.5f * x * (1.f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x))));
      break;
    case PKT_UNARY_SILU: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, x / (1.f + expf(-x))); break;
    case PKT_UNARY_HARDSWISH: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, x * clamp_f(x + 3.f, 0.f, 6.f) / 6.f); break;
    case PKT_UNARY_HARDSIGMOID: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, clamp_f(x + 3.f, 0.f, 6.f) / 6.f); break;
    case PKT_UNARY_ERF: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, erff(x)); break;
    case PKT_UNARY_FLOOR: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, floorf(x)); break;
    case PKT_UNARY_CEIL: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, ceilf(x)); break;
    case PKT_UNARY_ROUND: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, nearbyintf(x)); break;
    case PKT_UNARY_RECIPROCAL: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, 1.f / x); break;
    case PKT_UNARY_SIGN: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, (float)((0.f < x) - (x < 0.f))); break;
    case PKT_UNARY_LOG1P: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, log1pf(x)); break;
    case PKT_UNARY_EXPM1: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, expm1f(x)); break;
    case PKT_UNARY_ELU: {
      const float in_scale = b == 0.f ? 1.f : b;
      PKT_EW_LOOP1(float, float, out, in[0], s[0], n, x > 0.f ? x : a * expm1f(x * in_scale));
      break;
    }
    case PKT_UNARY_LEAKY_RELU: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, x > 0.f ? x : x * a); break;
    case PKT_UNARY_CLAMP: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, clamp_f(x, a, b)); break;
    case PKT_UNARY_SOFTPLUS: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, softplus_f(x, a, b)); break;
    case PKT_UNARY_MISH: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, x * tanhf(softplus_f(x, 1.f, 20.f))); break;
    case PKT_UNARY_TRUNC: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, truncf(x)); break;
    case PKT_UNARY_ISNAN: PKT_EW_LOOP1(float, uint8_t, out, in[0], s[0], n, x != x); break;
    case PKT_UNARY_LOG2: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, log2f(x)); break;
    case PKT_UNARY_TAN: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, tanf(x)); break;
    case PKT_UNARY_ASIN: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, asinf(x)); break;
    case PKT_UNARY_ACOS: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, acosf(x)); break;
    case PKT_UNARY_ATAN: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, atanf(x)); break;
    case PKT_UNARY_SINH: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, sinhf(x)); break;
    case PKT_UNARY_COSH: PKT_EW_LOOP1(float, float, out, in[0], s[0], n, coshf(x)); break;
    default: break;
  }
}

/* Integer bounds for CLAMP: the smallest integer >= alpha and the largest <= beta, saturated. */
static int64_t bound_i64(double v, int up) {
  if (v <= -9223372036854775808.0) return INT64_MIN;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  return (int64_t)(up ? ceil(v) : floor(v));
}

#define PKT_UNARY_INT_ROW(T, U, TMIN, TMAX)                                                                  \
  switch (ew->kind) {                                                                              \
    case PKT_UNARY_NEG: PKT_EW_LOOP1(T, T, out, in[0], s[0], n, (T)(0 - (U)x)); break;             \
    case PKT_UNARY_ABS: PKT_EW_LOOP1(T, T, out, in[0], s[0], n, x < 0 ? (T)(0 - (U)x) : x); break; \
    case PKT_UNARY_RELU: PKT_EW_LOOP1(T, T, out, in[0], s[0], n, x < 0 ? 0 : x); break;            \
    case PKT_UNARY_SIGN: PKT_EW_LOOP1(T, T, out, in[0], s[0], n, (T)((0 < x) - (x < 0))); break;   \
    case PKT_UNARY_BITNOT: PKT_EW_LOOP1(T, T, out, in[0], s[0], n, (T)~x); break;                  \
    case PKT_UNARY_ISNAN: memset(out, 0, (size_t)n); break;                                        \
    case PKT_UNARY_CLAMP: {                                                                        \
      int64_t lo = bound_i64(ew->alpha, 1), hi = bound_i64(ew->beta, 0);                           \
      hi = hi < (TMIN) ? (TMIN) : hi > (TMAX) ? (TMAX) : hi;                                       \
      lo = lo > hi ? hi : lo < (TMIN) ? (TMIN) : lo; /* min > max gives max */                     \
      const T lo_ = (T)lo, hi_ = (T)hi;                                                            \
      PKT_EW_LOOP1(T, T, out, in[0], s[0], n, x < lo_ ? lo_ : x > hi_ ? hi_ : x);                  \
      break;                                                                                       \
    }                                                                                              \
    default: /* FLOOR CEIL ROUND TRUNC: the identity on integers */                                \
      PKT_EW_LOOP1(T, T, out, in[0], s[0], n, x);                                                  \
      break;                                                                                       \
  }

static void unary_row(const pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n) {
  switch (ew->dtype) {
    case PKT_F32: unary_f32(ew, out, in, s, n); break;
    case PKT_I64: PKT_UNARY_INT_ROW(int64_t, uint64_t, INT64_MIN, INT64_MAX) break;
    case PKT_I32: PKT_UNARY_INT_ROW(int32_t, uint32_t, INT32_MIN, INT32_MAX) break;
    default: /* bool: NOT and BITNOT are logical not, ISNAN is false */
      if (ew->kind == PKT_UNARY_ISNAN)
        memset(out, 0, (size_t)n);
      else
        PKT_EW_LOOP1(uint8_t, uint8_t, out, in[0], s[0], n, x == 0);
      break;
  }
}

pkt_status pkt_kernel_unary_run(const pkt_node* n) {
  pkt_ew ew;
  pkt_ew_init(&ew, n, unary_row);
  ew.dtype = n->inputs[0]->dtype;
  ew.kind = (int)pkt_param_i(n, PKT_UNARY_KIND);
  ew.alpha = pkt_param_f(n, PKT_UNARY_ALPHA);
  ew.beta = pkt_param_f(n, PKT_UNARY_BETA);
  pkt_ew_run(n, &ew);
  return PKT_OK;
}
