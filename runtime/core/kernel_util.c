/* Helpers shared by kernels: error formatting, operand checks, fused activations, broadcasting. */
#include <math.h>
#include <stdatomic.h>

#include "backends/cpu/cpu.h"
#include "core/program.h"

pkt_status pkt_fail(pkt_err* err, pkt_status status, const char* fmt, ...) {
  if (err && err->buf && err->size) {
    va_list ap;
    va_start(ap, fmt);
    pkt_platform_vformat(err->buf, err->size, fmt, ap);
    va_end(ap);
  }
  return status;
}

const char* pkt_dtype_name(int dtype) {
  switch (dtype) {
    case PKT_F32: return "float32";
    case PKT_I64: return "int64";
    case PKT_I32: return "int32";
    case PKT_BOOL: return "bool";
    case PKT_U8: return "uint8";
    case PKT_I8: return "int8";
    case PKT_F16: return "float16";
    default: return "unknown";
  }
}

pkt_status pkt_check_operands(const pkt_node* n, int min_in, int max_in, int n_out, int n_params_min, pkt_err* err) {
  if (n->n_inputs < min_in || n->n_inputs > max_in)
    return pkt_fail(err, PKT_BAD_OPERANDS, "has %d inputs, expected %d to %d", n->n_inputs, min_in, max_in);
  if (n->n_outputs != n_out) return pkt_fail(err, PKT_BAD_OPERANDS, "has %d outputs, expected %d", n->n_outputs, n_out);
  if (n->n_params < n_params_min)
    return pkt_fail(err, PKT_BAD_PARAMS, "has %d parameters, expected at least %d", n->n_params, n_params_min);
  return PKT_OK;
}

pkt_status pkt_check_dtype(const pkt_tensor* t, int dtype, const char* what, pkt_err* err) {
  if (t->dtype != dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "%s is %s, expected %s", what, pkt_dtype_name(t->dtype), pkt_dtype_name(dtype));
  return PKT_OK;
}

int pkt_same_shape(const pkt_tensor* a, const pkt_tensor* b) {
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

pkt_status pkt_check_act(const pkt_node* n, int act_index, pkt_err* err) {
  int64_t act = pkt_param_i(n, act_index);
  if (act < 0 || act >= PKT_ACT_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown fused activation %lld", (long long)act);
  if (act == PKT_ACT_CLAMP) {
    double lo = pkt_param_f(n, act_index + 1), hi = pkt_param_f(n, act_index + 2);
    if (isnan(lo) || isnan(hi) || lo > hi) return pkt_fail(err, PKT_BAD_PARAMS, "clamp bounds [%g, %g] are invalid", lo, hi);
  }
  return PKT_OK;
}

int pkt_all_finite(const float* x, int64_t n) {
  for (int64_t i0 = 0; i0 < n; i0 += 4096) {
    const int64_t i1 = n - i0 < 4096 ? n : i0 + 4096;
    uint32_t bad = 0; /* exponent all ones: inf or NaN; an integer OR, so the loop vectorizes */
    for (int64_t i = i0; i < i1; i++) {
      uint32_t b;
      memcpy(&b, x + i, sizeof b);
      bad |= (b & 0x7F800000u) == 0x7F800000u;
    }
    if (bad) return 0;
  }
  return 1;
}

/* The portable activations (also the reference the SIMD paths are tested against). */
static void act_portable(float* x, int64_t n, int act, float lo, float hi) {
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
    case PKT_ACT_GELU:
      for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.f + erff(x[i] * 0.70710678118654752f));
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

static void vmap_portable(float* y, const float* x, int64_t n, int fn, float lo, float hi) {
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
      act_portable(y, n, fn, lo, hi);
      return;
  }
}

/* ---- x86 SIMD: vec_math_impl.h instantiated for AVX2+FMA and AVX-512F. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PKT_VEC_X86 1
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))
#define V __m256
#define VI __m256i
#define VL 8
#define VFN(name) vec_##name##_avx2
#define VSET(c) _mm256_set1_ps(c)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VTAIL_MASK(m, rem) const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VLOAD_TAIL(m, p) _mm256_maskload_ps(p, m)
#define VSTORE_TAIL(m, p, v) _mm256_maskstore_ps(p, m, v)
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VMAX _mm256_max_ps
#define VMIN _mm256_min_ps
#define VFMA _mm256_fmadd_ps
#define VFMS _mm256_fmsub_ps
#define VFNMA _mm256_fnmadd_ps
#define VROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVTI _mm256_cvtps_epi32
#define VCASTF _mm256_castsi256_ps
#define VCASTI _mm256_castps_si256
#define VI_SET _mm256_set1_epi32
#define VI_ADD _mm256_add_epi32
#define VI_SUB _mm256_sub_epi32
#define VI_SRAI1(i) _mm256_srai_epi32(i, 1)
#define VI_SLLI23(i) _mm256_slli_epi32(i, 23)
#define VABS(x) VCASTF(_mm256_and_si256(VCASTI(x), VI_SET(0x7fffffff)))
#define VSIGN(x) VCASTF(_mm256_and_si256(VCASTI(x), VI_SET((int)0x80000000u)))
#define VOR(a, b) VCASTF(_mm256_or_si256(VCASTI(a), VCASTI(b)))
#define VSEL_GE(a, b, t, f) _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_GE_OQ))
#define VSEL_GT(a, b, t, f) _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_GT_OQ))
#define VSEL_LT(a, b, t, f) _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ))
#include "compute/vmath/vec_math_impl.h"
#undef TARGET
#undef V
#undef VI
#undef VL
#undef VFN
#undef VSET
#undef VLOAD
#undef VSTORE
#undef VTAIL_MASK
#undef VLOAD_TAIL
#undef VSTORE_TAIL
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VMAX
#undef VMIN
#undef VFMA
#undef VFMS
#undef VFNMA
#undef VROUND
#undef VCVTI
#undef VCASTF
#undef VCASTI
#undef VI_SET
#undef VI_ADD
#undef VI_SUB
#undef VI_SRAI1
#undef VI_SLLI23
#undef VABS
#undef VSIGN
#undef VOR
#undef VSEL_GE
#undef VSEL_GT
#undef VSEL_LT

#define TARGET __attribute__((target("avx512f")))
#define V __m512
#define VI __m512i
#define VL 16
#define VFN(name) vec_##name##_avx512
#define VSET(c) _mm512_set1_ps(c)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VTAIL_MASK(m, rem) const __mmask16 m = (__mmask16)((1u << (rem)) - 1u)
#define VLOAD_TAIL(m, p) _mm512_maskz_loadu_ps(m, p)
#define VSTORE_TAIL(m, p, v) _mm512_mask_storeu_ps(p, m, v)
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VMAX _mm512_max_ps
#define VMIN _mm512_min_ps
#define VFMA _mm512_fmadd_ps
#define VFMS _mm512_fmsub_ps
#define VFNMA _mm512_fnmadd_ps
#define VROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVTI _mm512_cvtps_epi32
#define VCASTF _mm512_castsi512_ps
#define VCASTI _mm512_castps_si512
#define VI_SET _mm512_set1_epi32
#define VI_ADD _mm512_add_epi32
#define VI_SUB _mm512_sub_epi32
#define VI_SRAI1(i) _mm512_srai_epi32(i, 1)
#define VI_SLLI23(i) _mm512_slli_epi32(i, 23)
#define VABS(x) VCASTF(_mm512_and_epi32(VCASTI(x), VI_SET(0x7fffffff)))
#define VSIGN(x) VCASTF(_mm512_and_epi32(VCASTI(x), VI_SET((int)0x80000000u)))
#define VOR(a, b) VCASTF(_mm512_or_epi32(VCASTI(a), VCASTI(b)))
#define VSEL_GE(a, b, t, f) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ), f, t)
#define VSEL_GT(a, b, t, f) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), f, t)
#define VSEL_LT(a, b, t, f) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), f, t)
#include "compute/vmath/vec_math_impl.h"
#endif

void pkt_vmap_f32(float* y, const float* x, int64_t n, int fn, float lo, float hi, int isa) {
  if (n <= 0 || fn == PKT_ACT_NONE) {
    if (n > 0 && y != x) memmove(y, x, (size_t)n * sizeof *y);
    return;
  }
#ifdef PKT_VEC_X86
  if (isa == PKT_ISA_AVX512) {
    vec_map_avx512(y, x, n, fn, lo, hi);
    return;
  }
  if (isa == PKT_ISA_AVX2) {
    vec_map_avx2(y, x, n, fn, lo, hi);
    return;
  }
#endif
  (void)isa;
  vmap_portable(y, x, n, fn, lo, hi);
}

int pkt_vbinary_f32(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op, int isa) {
  if (!sa && !sb) return 0; /* two scalars: the caller's loop */
#ifdef PKT_VEC_X86
  if (isa == PKT_ISA_AVX512) {
    vec_binary_avx512(out, a, b, sa, sb, n, op);
    return 1;
  }
  if (isa == PKT_ISA_AVX2) {
    vec_binary_avx2(out, a, b, sa, sb, n, op);
    return 1;
  }
#endif
  (void)out, (void)a, (void)b, (void)sa, (void)sb, (void)n, (void)op, (void)isa;
  return 0;
}

void pkt_apply_act_isa(float* x, int64_t n, int act, float lo, float hi, int isa) {
  if (act == PKT_ACT_NONE || n <= 0) return;
  pkt_vmap_f32(x, x, n, act, lo, hi, isa);
}

void pkt_apply_act(float* x, int64_t n, int act, float lo, float hi) {
  static _Atomic int cached = -1; /* a racy first call is harmless: every thread computes the same value */
  int isa = atomic_load_explicit(&cached, memory_order_relaxed);
  if (isa < 0) atomic_store_explicit(&cached, isa = (int)pkt_cpu_isa(), memory_order_relaxed);
  pkt_apply_act_isa(x, n, act, lo, hi, isa);
}

int pkt_broadcast_strides(const pkt_tensor* in, const pkt_tensor* out, int64_t strides[PKT_MAX_RANK]) {
  if (in->rank > out->rank) return 0;
  int64_t stride = 1;
  for (int d = out->rank - 1; d >= 0; d--) {
    int id = d - (out->rank - in->rank);
    if (id < 0) {
      strides[d] = 0;
      continue;
    }
    int64_t dim = in->dims[id];
    if (dim == out->dims[d]) {
      strides[d] = dim == 1 ? 0 : stride;
    } else if (dim == 1) {
      strides[d] = 0;
    } else {
      return 0;
    }
    stride *= dim;
  }
  return 1;
}

void pkt_batch_strides(const pkt_tensor* t, const pkt_tensor* y, int64_t* str) {
  int64_t s = t->dims[t->rank - 1] * t->dims[t->rank - 2];
  for (int d = y->rank - 3; d >= 0; d--) {
    int dt = d - (y->rank - t->rank);
    int64_t e = dt >= 0 ? t->dims[dt] : 1;
    str[d] = e == 1 ? 0 : s;
    s *= e;
  }
}
