/* x86-64 weight-only micro-kernels: wogemm_impl.h for AVX2+FMA (8 lanes) and AVX-512's int8 (16 lanes; its int4 is
 * wogemm_w4_avx512.c). Target attributes only: the file builds without -m flags and runs only where the session's
 * config points at it. */
#include "compute/wogemm/wogemm.h"

#if defined(PKT_WOGEMM_HAVE_X86)
#include <immintrin.h>

__attribute__((target("avx2,fma"), always_inline)) static inline float wo_hsum256(__m256 v) {
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

#define WO_PREFETCH(p) _mm_prefetch((const char*)(p), _MM_HINT_T0) /* both ISAs (wogemm_impl.h) */
#define WO_PF 2048
#define WO_W8 pkt_wogemm_w8_avx2
#define WO_W4 pkt_wogemm_w4_avx2
#define WO_BLOCK wo_block_avx2
#define WO_TARGET __attribute__((target("avx2,fma")))
#define V __m256
#define VL 8
#define VZERO _mm256_setzero_ps
#define VLOAD _mm256_loadu_ps
#define VSET _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define VHSUM wo_hsum256
#define W8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(p))))
#define W4(p, lo, hi)                                                                                \
  do {                                                                                               \
    __m256i b_ = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(p))), e_ = _mm256_set1_epi32(8); \
    lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b_, _mm256_set1_epi32(15)), e_));      \
    hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b_, 4), e_));                         \
  } while (0)
#include "compute/wogemm/wogemm_impl.h"
#undef WO_W8
#undef WO_W4
#undef WO_BLOCK
#undef WO_TARGET
#undef V
#undef VL
#undef VZERO
#undef VLOAD
#undef VSET
#undef VFMA
#undef VHSUM
#undef W8
#undef W4

#define WO_W8 pkt_wogemm_w8_avx512
#define WO_BLOCK wo_block_avx512
#define WO_TARGET __attribute__((target("avx512f")))
#define V __m512
#define VL 16
#define VZERO _mm512_setzero_ps
#define VLOAD _mm512_loadu_ps
#define VSET _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VHSUM _mm512_reduce_add_ps
#define W8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(p))))
#include "compute/wogemm/wogemm_impl.h"

#endif
