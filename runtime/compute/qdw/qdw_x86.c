/* x86-64 int8 depthwise planes: qdw_impl.h for AVX-512 and AVX2 (target attributes only: the file builds without -m
 * flags), each with a vector row requantization (vcvtps2dq rounds half to even under the default MXCSR). */
#include "compute/qdw/qdw.h"

#if defined(PKT_QDW_HAVE_X86)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define T512 __attribute__((target("avx2,fma,avx512f")))
#define T_AVX2 __attribute__((target("avx2,fma")))

T512 __attribute__((always_inline)) static inline void requant_avx512(const int32_t* acc, int64_t n, float scale,
                                                                      int32_t oz, int32_t lo, int32_t hi, int8_t* y) {
  const __m512 s = _mm512_set1_ps(scale), flo = _mm512_set1_ps((float)(lo - oz)), fhi = _mm512_set1_ps((float)(hi - oz));
  const __m512i z = _mm512_set1_epi32(oz);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, acc + i)), s);
    f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, k, _mm512_add_epi32(_mm512_cvtps_epi32(f), z));
  }
}

T_AVX2 __attribute__((always_inline)) static inline void requant_avx2(const int32_t* acc, int64_t n, float scale,
                                                                      int32_t oz, int32_t lo, int32_t hi, int8_t* y) {
  const float lof = (float)(lo - oz), hif = (float)(hi - oz);
  const __m256 s = _mm256_set1_ps(scale), flo = _mm256_set1_ps(lof), fhi = _mm256_set1_ps(hif);
  const __m256i z = _mm256_set1_epi32(oz);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i*)(acc + i))), s);
    f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64((__m128i*)(y + i), _mm_packs_epi16(w, w));
  }
  for (; i < n; i++) {
    float f = (float)acc[i] * scale;
    f = f < lof ? lof : f > hif ? hif : f;
    y[i] = (int8_t)((int32_t)nearbyintf(f) + oz);
  }
}

#define QD_NAME(x) x##_avx512
#define QD_TARGET T512
#define QD_REQUANT requant_avx512
#include "compute/qdw/qdw_impl.h"
#undef QD_NAME
#undef QD_TARGET
#undef QD_REQUANT

#define QD_NAME(x) x##_avx2
#define QD_TARGET T_AVX2
#define QD_REQUANT requant_avx2
#include "compute/qdw/qdw_impl.h"
#endif
