/* x86-64 int8 elementwise rows (AVX-512F: 16 lanes, AVX2: 8) and max pooling planes (qelem_pool_impl.h for AVX2,
 * which AVX-512 sessions use too: byte max on zmm needs AVX-512BW, which the AVX-512 tier does not promise).
 * Target attributes only: the file builds without -m flags. vcvtps2dq rounds half to even under the default MXCSR;
 * a row's last partial vector runs on zero-padded copies. */
#include "compute/qelem/qelem.h"

#if defined(PKT_QELEM_HAVE_X86)
#include <immintrin.h>
#include <string.h>

#define T512 __attribute__((target("avx2,fma,avx512f")))
#define T_AVX2 __attribute__((target("avx2,fma")))
#define INLINE __attribute__((always_inline)) static inline

/* ---- AVX-512F ---- */
typedef struct out512 {
  __m512 inv, lo, hi;
  __m512i oz;
} out512;

T512 INLINE out512 out512_of(const pkt_qelem_out* o) {
  out512 r = {_mm512_set1_ps(o->inv), _mm512_set1_ps((float)(o->lo - o->oz)), _mm512_set1_ps((float)(o->hi - o->oz)),
              _mm512_set1_epi32(o->oz)};
  return r;
}

/* (float)(q - z) * s of 16 int8 */
T512 INLINE __m512 deq512(const int8_t* p, __m512i z, __m512 s) {
  __m512i q = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(const void*)p)), z);
  return _mm512_mul_ps(_mm512_cvtepi32_ps(q), s);
}

/* clamp(round(v * inv), lo - oz, hi - oz) + oz as 16 int8; v is not NaN */
T512 INLINE __m128i q512(__m512 v, const out512* o) {
  v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, o->inv), o->lo), o->hi);
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), o->oz));
}

T512 INLINE void binary512_body(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int mul,
                                 int8_t* y, int64_t n) {
  const out512 o = out512_of(&p->out);
  const __m512 as = _mm512_set1_ps(p->as), bs = _mm512_set1_ps(p->bs);
  const __m512i az = _mm512_set1_epi32(p->az), bz = _mm512_set1_epi32(p->bz);
  const __m512 fb1 = _mm512_set1_ps((float)(b[0] - p->bz) * p->bs);
  for (int64_t i = 0; i < n; i += 16) {
    __m512 fa = deq512(a + i, az, as), fb = b_step ? deq512(b + i, bz, bs) : fb1;
    _mm_storeu_si128((__m128i*)(void*)(y + i), q512(mul ? _mm512_mul_ps(fa, fb) : _mm512_add_ps(fa, fb), &o));
  }
}

T512 static void binary512(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int8_t* y,
                           int64_t n) {
  if (n <= 0) return;
  const int64_t full = n & ~(int64_t)15;
  if (b_step) {
    if (p->mul) binary512_body(p, a, b, 1, 1, y, full);
    else binary512_body(p, a, b, 1, 0, y, full);
  } else {
    if (p->mul) binary512_body(p, a, b, 0, 1, y, full);
    else binary512_body(p, a, b, 0, 0, y, full);
  }
  if (full < n) {
    int8_t ta[16] = {0}, tb[16] = {0}, ty[16];
    memcpy(ta, a + full, (size_t)(n - full));
    if (b_step) memcpy(tb, b + full, (size_t)(n - full));
    else tb[0] = b[0];
    binary512_body(p, ta, tb, b_step, p->mul, ty, 16);
    memcpy(y + full, ty, (size_t)(n - full));
  }
}

T512 INLINE void quantize512_body(const float* x, int8_t* y, int64_t n, const out512* o) {
  for (int64_t i = 0; i < n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v); /* NaN is 0 */
    _mm_storeu_si128((__m128i*)(void*)(y + i), q512(v, o));
  }
}

T512 static void quantize512(const float* x, int8_t* y, int64_t n, const pkt_qelem_out* po) {
  const out512 o = out512_of(po);
  const int64_t full = n & ~(int64_t)15;
  quantize512_body(x, y, full, &o);
  if (full < n) {
    float tx[16] = {0};
    int8_t ty[16];
    memcpy(tx, x + full, (size_t)(n - full) * sizeof(float));
    quantize512_body(tx, ty, 16, &o);
    memcpy(y + full, ty, (size_t)(n - full));
  }
}

T512 static void requantize512(const int8_t* x, int32_t iz, float s, int8_t* y, int64_t n, const pkt_qelem_out* po) {
  const out512 o = out512_of(po);
  const __m512 vs = _mm512_set1_ps(s);
  const __m512i z = _mm512_set1_epi32(iz);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128((__m128i*)(void*)(y + i), q512(deq512(x + i, z, vs), &o));
  if (i < n) {
    int8_t tx[16] = {0}, ty[16];
    memcpy(tx, x + i, (size_t)(n - i));
    _mm_storeu_si128((__m128i*)(void*)ty, q512(deq512(tx, z, vs), &o));
    memcpy(y + i, ty, (size_t)(n - i));
  }
}

T512 static void dequantize512(const int8_t* x, int32_t zp, float scale, float* y, int64_t n) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i z = _mm512_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, deq512(x + i, z, s));
  if (i < n) {
    int8_t tx[16] = {0};
    float ty[16];
    memcpy(tx, x + i, (size_t)(n - i));
    _mm512_storeu_ps(ty, deq512(tx, z, s));
    memcpy(y + i, ty, (size_t)(n - i) * sizeof(float));
  }
}

/* ---- AVX2: two vectors of 8 a step, packed to 16 int8 ---- */
typedef struct out256 {
  __m256 inv, lo, hi;
  __m256i oz;
} out256;

T_AVX2 INLINE out256 out256_of(const pkt_qelem_out* o) {
  out256 r = {_mm256_set1_ps(o->inv), _mm256_set1_ps((float)(o->lo - o->oz)), _mm256_set1_ps((float)(o->hi - o->oz)),
              _mm256_set1_epi32(o->oz)};
  return r;
}

/* (float)(q - z) * s of 8 int8 */
T_AVX2 INLINE __m256 deq256(const int8_t* p, __m256i z, __m256 s) {
  __m256i q = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(const void*)p)), z);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(q), s);
}

T_AVX2 INLINE __m256i q256_i32(__m256 v, const out256* o) {
  v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v, o->inv), o->lo), o->hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), o->oz);
}

/* 16 int32 inside int8 -> 16 int8 in order */
T_AVX2 INLINE __m128i pack16(__m256i q0, __m256i q1) {
  __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

T_AVX2 INLINE void binary256_body(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int mul,
                                  int8_t* y, int64_t n) {
  const out256 o = out256_of(&p->out);
  const __m256 as = _mm256_set1_ps(p->as), bs = _mm256_set1_ps(p->bs);
  const __m256i az = _mm256_set1_epi32(p->az), bz = _mm256_set1_epi32(p->bz);
  const __m256 fb1 = _mm256_set1_ps((float)(b[0] - p->bz) * p->bs);
  for (int64_t i = 0; i < n; i += 16) {
    __m256 fa0 = deq256(a + i, az, as), fa1 = deq256(a + i + 8, az, as);
    __m256 fb0 = b_step ? deq256(b + i, bz, bs) : fb1, fb1_ = b_step ? deq256(b + i + 8, bz, bs) : fb1;
    __m256 v0 = mul ? _mm256_mul_ps(fa0, fb0) : _mm256_add_ps(fa0, fb0);
    __m256 v1 = mul ? _mm256_mul_ps(fa1, fb1_) : _mm256_add_ps(fa1, fb1_);
    _mm_storeu_si128((__m128i*)(void*)(y + i), pack16(q256_i32(v0, &o), q256_i32(v1, &o)));
  }
}

T_AVX2 static void binary256(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int8_t* y,
                             int64_t n) {
  if (n <= 0) return;
  const int64_t full = n & ~(int64_t)15;
  if (b_step) {
    if (p->mul) binary256_body(p, a, b, 1, 1, y, full);
    else binary256_body(p, a, b, 1, 0, y, full);
  } else {
    if (p->mul) binary256_body(p, a, b, 0, 1, y, full);
    else binary256_body(p, a, b, 0, 0, y, full);
  }
  if (full < n) {
    int8_t ta[16] = {0}, tb[16] = {0}, ty[16];
    memcpy(ta, a + full, (size_t)(n - full));
    if (b_step) memcpy(tb, b + full, (size_t)(n - full));
    else tb[0] = b[0];
    binary256_body(p, ta, tb, b_step, p->mul, ty, 16);
    memcpy(y + full, ty, (size_t)(n - full));
  }
}

T_AVX2 INLINE __m256i quantize256_8(const float* x, const out256* o) {
  __m256 v = _mm256_loadu_ps(x);
  return q256_i32(_mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)), o); /* NaN is 0 */
}

T_AVX2 static void quantize256(const float* x, int8_t* y, int64_t n, const pkt_qelem_out* po) {
  const out256 o = out256_of(po);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128((__m128i*)(void*)(y + i), pack16(quantize256_8(x + i, &o), quantize256_8(x + i + 8, &o)));
  if (i < n) {
    float tx[16] = {0};
    int8_t ty[16];
    memcpy(tx, x + i, (size_t)(n - i) * sizeof(float));
    _mm_storeu_si128((__m128i*)(void*)ty, pack16(quantize256_8(tx, &o), quantize256_8(tx + 8, &o)));
    memcpy(y + i, ty, (size_t)(n - i));
  }
}

T_AVX2 INLINE __m128i requantize256_16(const int8_t* x, __m256i z, __m256 s, const out256* o) {
  return pack16(q256_i32(deq256(x, z, s), o), q256_i32(deq256(x + 8, z, s), o));
}

T_AVX2 static void requantize256(const int8_t* x, int32_t iz, float s, int8_t* y, int64_t n, const pkt_qelem_out* po) {
  const out256 o = out256_of(po);
  const __m256 vs = _mm256_set1_ps(s);
  const __m256i z = _mm256_set1_epi32(iz);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128((__m128i*)(void*)(y + i), requantize256_16(x + i, z, vs, &o));
  if (i < n) {
    int8_t tx[16] = {0}, ty[16];
    memcpy(tx, x + i, (size_t)(n - i));
    _mm_storeu_si128((__m128i*)(void*)ty, requantize256_16(tx, z, vs, &o));
    memcpy(y + i, ty, (size_t)(n - i));
  }
}

T_AVX2 static void dequantize256(const int8_t* x, int32_t zp, float scale, float* y, int64_t n) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, deq256(x + i, z, s));
  if (i < n) {
    int8_t tx[8] = {0};
    float ty[8];
    memcpy(tx, x + i, (size_t)(n - i));
    _mm256_storeu_ps(ty, deq256(tx, z, s));
    memcpy(y + i, ty, (size_t)(n - i) * sizeof(float));
  }
}

/* The max pooling row step for dilation 1 and stride 1 or 2 (n >= 32 or 16 outputs): the max of kw shifted loads of
 * t, and for stride 2 its even bytes; the last vector overlaps the one before instead of a scalar tail. */
T_AVX2 INLINE __m256i hmax_window(const int8_t* t, int64_t kw) {
  __m256i m = _mm256_loadu_si256((const __m256i*)(const void*)t);
  for (int64_t k = 1; k < kw; k++) m = _mm256_max_epi8(m, _mm256_loadu_si256((const __m256i*)(const void*)(t + k)));
  return m;
}

T_AVX2 INLINE int hmax_avx2(const int8_t* t, int8_t* y, int64_t n, int64_t kw, int64_t sw, int64_t dw) {
  if (dw != 1 || kw > 32 || !(sw == 1 ? n >= 32 : sw == 2 && n >= 16)) return 0;
  if (sw == 1) {
    for (int64_t i = 0;; i += 32) {
      if (i > n - 32) i = n - 32;
      _mm256_storeu_si256((__m256i*)(void*)(y + i), hmax_window(t + i, kw));
      if (i == n - 32) return 1;
    }
  }
  const __m256i even = _mm256_set1_epi16(0xff);
  for (int64_t i = 0;; i += 16) {
    if (i > n - 16) i = n - 16;
    __m256i w = _mm256_and_si256(hmax_window(t + 2 * i, kw), even);
    w = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
    _mm_storeu_si128((__m128i*)(void*)(y + i), _mm256_castsi256_si128(w));
    if (i == n - 16) return 1;
  }
}

#define QP_NAME(x) x##_avx2
#define QP_TARGET T_AVX2
#define QP_HMAX hmax_avx2
#include "compute/qelem/qelem_pool_impl.h"
#undef QP_HMAX
#undef QP_NAME
#undef QP_TARGET

const pkt_qelem_impl pkt_qelem_avx512 = {binary512, quantize512, requantize512, dequantize512, qp_plane_avx2};
const pkt_qelem_impl pkt_qelem_avx2 = {binary256, quantize256, requantize256, dequantize256, qp_plane_avx2};
#endif
