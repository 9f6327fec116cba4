/* x86-64 GEMM micro-kernels: gemm_ukernel_impl.h instantiated for AVX2+FMA (6 rows x 16 columns: 12
 * accumulators of the 16 ymm registers) and AVX-512 (12 x 32: 24 of the 32 zmm), and the GEMV per ISA.
 * Target attributes only: the file builds without -m flags and runs only where the session's config
 * points at it. */
#include "compute/gemm/gemm.h"

#if defined(PKT_GEMM_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#include "compute/vmath/vmath.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define INLINE2 __attribute__((target("avx2,fma"), always_inline)) static inline

#define UK_NAME pkt_gemm_ukernel_avx2_6x16
#define UK_MR 6
#define UK_NV 2
#define UK_TARGET AVX2
#define UK_ACT pkt_act_avx2
#define V __m256
#define VL 8
#define VZERO _mm256_setzero_ps
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VBCAST _mm256_broadcast_ss
#define VSET _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define VADD _mm256_add_ps
#define VCLAMP(v, lo, hi) _mm256_min_ps(hi, _mm256_max_ps(lo, v)) /* v second: NaN stays NaN */
#include "compute/gemm/gemm_ukernel_impl.h"
#undef UK_NAME
#undef UK_MR
#undef UK_NV
#undef UK_TARGET
#undef UK_ACT
#undef V
#undef VL
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VBCAST
#undef VSET
#undef VFMA
#undef VADD
#undef VCLAMP

#define UK_NAME pkt_gemm_ukernel_avx512_12x32
#define UK_MR 12
#define UK_NV 2
#define UK_TARGET AVX512
#define UK_ACT pkt_act_avx512
#define V __m512
#define VL 16
#define VZERO _mm512_setzero_ps
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VSET _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define VCLAMP(v, lo, hi) _mm512_min_ps(hi, _mm512_max_ps(lo, v))
#include "compute/gemm/gemm_ukernel_impl.h"

/* ---- GEMV over a [N, K] weight: 8 rows at a time, one accumulator each (8 independent chains) ---- */
AVX512 void pkt_gemv_avx512(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y) {
  const __mmask16 tail = (__mmask16)((1u << (K % 16)) - 1);
  const int64_t kv = K - K % 16;
  int64_t n = 0;
  for (; n + 8 <= N; n += 8) {
    const float* w = W + n * ldw;
    __m512 s[8];
    for (int r = 0; r < 8; r++) s[r] = _mm512_setzero_ps();
    /* The next 8 rows are prefetched while these stream: one core's L3 bandwidth is latency-bound. */
    const float* next = n + 16 <= N ? w + 8 * ldw : w;
    for (int64_t k = 0; k < kv; k += 16) {
      __m512 xv = _mm512_loadu_ps(x + k);
      for (int r = 0; r < 8; r++) {
        _mm_prefetch((const char*)(next + r * ldw + k), _MM_HINT_T0);
        s[r] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(w + r * ldw + k), s[r]);
      }
    }
    if (tail) {
      __m512 xv = _mm512_maskz_loadu_ps(tail, x + kv);
      for (int r = 0; r < 8; r++) s[r] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(tail, w + r * ldw + kv), s[r]);
    }
    for (int r = 0; r < 8; r++) y[n + r] = _mm512_reduce_add_ps(s[r]);
  }
  for (; n < N; n++) {
    const float* w = W + n * ldw;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t k = 0;
    for (; k + 32 <= kv; k += 32) {
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(w + k), s0);
      s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(w + k + 16), s1);
    }
    for (; k < kv; k += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(w + k), s0);
    if (tail) s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + kv), _mm512_maskz_loadu_ps(tail, w + kv), s1);
    y[n] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  }
}

INLINE2 float hsum256(__m256 v) {
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

AVX2 void pkt_gemv_avx2(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y) {
  const int64_t kv = K - K % 8;
  int64_t n = 0;
  for (; n + 8 <= N; n += 8) {
    const float* w = W + n * ldw;
    __m256 s[8];
    for (int r = 0; r < 8; r++) s[r] = _mm256_setzero_ps();
    const float* next = n + 16 <= N ? w + 8 * ldw : w; /* prefetch the next rows, as above */
    for (int64_t k = 0; k < kv; k += 8) {
      __m256 xv = _mm256_loadu_ps(x + k);
      if (k % 16 == 0)
        for (int r = 0; r < 8; r++) _mm_prefetch((const char*)(next + r * ldw + k), _MM_HINT_T0);
      for (int r = 0; r < 8; r++) s[r] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + r * ldw + k), s[r]);
    }
    for (int r = 0; r < 8; r++) {
      float t = hsum256(s[r]);
      for (int64_t k = kv; k < K; k++) t += x[k] * w[r * ldw + k];
      y[n + r] = t;
    }
  }
  for (; n < N; n++) {
    const float* w = W + n * ldw;
    __m256 s0 = _mm256_setzero_ps();
    for (int64_t k = 0; k < kv; k += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), s0);
    float t = hsum256(s0);
    for (int64_t k = kv; k < K; k++) t += x[k] * w[k];
    y[n] = t;
  }
}

#endif
