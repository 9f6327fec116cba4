/* x86-64 vector math (see vmath.h): vec_math_impl.h instantiated for AVX2+FMA and AVX-512F, and the row
 * helpers of softmax, attention and layer_norm. Target attributes only: the file builds without -m flags
 * and runs only where the session's ISA config points at it. */
#include "compute/vmath/vmath.h"

#if defined(PKT_VMATH_HAVE_X86)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/kernel.h"

#define VM_AVX2 __attribute__((target("avx2,fma")))
#define VM_AVX512 __attribute__((target("avx512f")))
#define VM_INLINE2 __attribute__((target("avx2,fma"), always_inline)) static inline
#define VM_INLINE512 __attribute__((target("avx512f"), always_inline)) static inline

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

void pkt_vmap_avx2(float* y, const float* x, int64_t n, int fn, float lo, float hi) { vec_map_avx2(y, x, n, fn, lo, hi); }
void pkt_vmap_avx512(float* y, const float* x, int64_t n, int fn, float lo, float hi) { vec_map_avx512(y, x, n, fn, lo, hi); }
void pkt_act_avx2(float* x, int64_t n, int act, float lo, float hi) {
  if (act != PKT_ACT_NONE) vec_map_avx2(x, x, n, act, lo, hi);
}
void pkt_act_avx512(float* x, int64_t n, int act, float lo, float hi) {
  if (act != PKT_ACT_NONE) vec_map_avx512(x, x, n, act, lo, hi);
}
void pkt_vbinary_avx2(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op) {
  vec_binary_avx2(out, a, b, sa, sb, n, op);
}
void pkt_vbinary_avx512(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op) {
  vec_binary_avx512(out, a, b, sa, sb, n, op);
}

/* ---- row helpers (softmax, attention) ---- */
/* exp: x = n ln2 + r, |r| <= ln2/2, e^r by the Cephes degree-6 polynomial, times 2^n. Inputs are
 * clamped to [EXP_LO, EXP_HI] (NaN passes through the clamps) and below EXP_LO give exactly 0. */
#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365447505531f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO -2.12194440e-4f
#define P0 1.9875691500E-4f
#define P1 1.3981999507E-3f
#define P2 8.3334519073E-3f
#define P3 4.1665795894E-2f
#define P4 1.6666665459E-1f
#define P5 5.0000001201E-1f

VM_INLINE512 __m512 exp512(__m512 x) {
  __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_LO), _CMP_LT_OQ);
  x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), _mm512_max_ps(_mm512_set1_ps(EXP_LO), x));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
  __m512 p = _mm512_set1_ps(P0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
  __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  y = _mm512_scalef_ps(y, n);
  return _mm512_mask_mov_ps(y, tiny, _mm512_setzero_ps());
}

VM_AVX512 float pkt_vec_max_avx512(const float* x, int64_t n) {
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
  }
  for (; i < n; i += 16) {
    __mmask16 k = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    m0 = _mm512_mask_max_ps(m0, k, _mm512_maskz_loadu_ps(k, x + i), m0);
  }
  return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

VM_AVX512 float pkt_vec_exp_sum_avx512(const float* x, float* y, int64_t n, float scale, float shift) {
  __m512 vs = _mm512_set1_ps(scale), vsh = _mm512_set1_ps(shift), s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 e0 = exp512(_mm512_fmsub_ps(_mm512_loadu_ps(x + i), vs, vsh));
    __m512 e1 = exp512(_mm512_fmsub_ps(_mm512_loadu_ps(x + i + 16), vs, vsh));
    if (y) {
      _mm512_storeu_ps(y + i, e0);
      _mm512_storeu_ps(y + i + 16, e1);
    }
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
  }
  for (; i < n; i += 16) {
    __mmask16 k = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    __m512 e = _mm512_maskz_mov_ps(k, exp512(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(k, x + i), vs, vsh)));
    if (y) _mm512_mask_storeu_ps(y + i, k, e);
    s0 = _mm512_add_ps(s0, e);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

VM_AVX512 void pkt_vec_scale_avx512(float* x, int64_t n, float s) {
  __m512 vs = _mm512_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
  if (i < n) {
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
  }
}

VM_INLINE2 __m256 exp256(__m256 x) {
  __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), _mm256_max_ps(_mm256_set1_ps(EXP_LO), x));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
  __m256 p = _mm256_set1_ps(P0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
  __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  /* n is in [-126, 127] after the clamp (NaN lanes give garbage here but y is already NaN). */
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(tiny, y);
}

VM_AVX2 float pkt_vec_max_avx2(const float* x, int64_t n) {
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
  }
  float t[8];
  _mm256_storeu_ps(t, _mm256_max_ps(m0, m1));
  float m = t[0];
  for (int l = 1; l < 8; l++) m = t[l] > m ? t[l] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

VM_AVX2 float pkt_vec_exp_sum_avx2(const float* x, float* y, int64_t n, float scale, float shift) {
  __m256 vs = _mm256_set1_ps(scale), vsh = _mm256_set1_ps(shift), s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 e0 = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vsh));
    __m256 e1 = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(x + i + 8), vs, vsh));
    if (y) {
      _mm256_storeu_ps(y + i, e0);
      _mm256_storeu_ps(y + i + 8, e1);
    }
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  if (i < n) {
    float t[8] = {0};
    int r = (int)(n - i);
    for (int l = 0; l < r && l < 8; l++) t[l] = x[i + l];
    __m256 e = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(t), vs, vsh));
    float et[8];
    _mm256_storeu_ps(et, e);
    for (int l = 0; l < 8; l++) et[l] = l < r ? et[l] : 0.f;
    if (y)
      for (int l = 0; l < r && l < 8; l++) y[i + l] = et[l];
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(et));
    i += 8;
    if (i < n) { /* up to 15 left: a second partial vector */
      r = (int)(n - i);
      for (int l = 0; l < 8; l++) t[l] = l < r ? x[i + l] : 0.f;
      e = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(t), vs, vsh));
      _mm256_storeu_ps(et, e);
      for (int l = 0; l < 8; l++) et[l] = l < r ? et[l] : 0.f;
      if (y)
        for (int l = 0; l < r; l++) y[i + l] = et[l];
      s1 = _mm256_add_ps(s1, _mm256_loadu_ps(et));
    }
  }
  float t[8];
  _mm256_storeu_ps(t, _mm256_add_ps(s0, s1));
  return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}

VM_AVX2 void pkt_vec_scale_avx2(float* x, int64_t n, float s) {
  __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
  for (; i < n; i++) x[i] *= s;
}

/* ---- layer_norm rows ---- */
VM_AVX512 void pkt_layer_norm_row_avx512(const float* x, float* y, int64_t D, const float* w, const float* b, float eps) {
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
  const float rstd = (float)(1.0 / sqrt(var / (double)D + eps));
  const __m512 vr = _mm512_set1_ps(rstd);
  for (i = 0; i < D; i += 16) {
    __mmask16 k = (__mmask16)(D - i >= 16 ? 0xFFFF : (1u << (D - i)) - 1);
    __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm), vr);
    if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, w + i));
    if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + i));
    _mm512_mask_storeu_ps(y + i, k, v);
  }
}

VM_AVX2 void pkt_layer_norm_row_avx2(const float* x, float* y, int64_t D, const float* w, const float* b, float eps) {
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
  const float rstd = (float)(1.0 / sqrt(var / (double)D + eps));
  const __m256 vr = _mm256_set1_ps(rstd);
  for (i = 0; i + 8 <= D; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vr);
    if (w) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
    if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));
    _mm256_storeu_ps(y + i, v);
  }
  pkt_layer_norm_apply(x + i, y + i, D - i, mean, rstd, w ? w + i : NULL, b ? b + i : NULL);
}
#endif
