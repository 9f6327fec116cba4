/* x86-64 GEMM micro-kernels: AVX2+FMA (6 rows x 16 columns, two calls per 32-column panel) and
 * AVX-512 (12 rows x 32 columns). Compiled with target attributes, so the file builds without
 * -mavx flags and runs only where pkt_cpu_isa() selected it. */
#include "gemm.h"

#if defined(PKT_GEMM_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

static inline int simple_act(int act) {
  return act == PKT_ACT_NONE || act == PKT_ACT_RELU || act == PKT_ACT_RELU6 || act == PKT_ACT_CLAMP;
}

static void act_bounds(int act, float lo, float hi, float* out_lo, float* out_hi) {
  *out_lo = -INFINITY;
  *out_hi = INFINITY;
  if (act == PKT_ACT_RELU) *out_lo = 0.f;
  if (act == PKT_ACT_RELU6) {
    *out_lo = 0.f;
    *out_hi = 6.f;
  }
  if (act == PKT_ACT_CLAMP) {
    *out_lo = lo;
    *out_hi = hi;
  }
}

/* ---- AVX2: up to 6 x 16 over half a panel; row count constant per instance ---- */
#define INLINE2 __attribute__((target("avx2,fma"), always_inline)) static inline

INLINE2 void store2(int MRc, __m256 acc[][2], float* C, int64_t ldc, int nr, const float* bias, int act, float lo,
                    float hi) {
  float flo, fhi;
  act_bounds(act, lo, hi, &flo, &fhi);
  __m256 vlo = _mm256_set1_ps(flo), vhi = _mm256_set1_ps(fhi);
  float tmp[16] = {0};
  if (bias)
    for (int j = 0; j < nr; j++) tmp[j] = bias[j];
  __m256 bias0 = _mm256_loadu_ps(tmp), bias1 = _mm256_loadu_ps(tmp + 8);
  for (int r = 0; r < MRc; r++) {
    __m256 v0 = _mm256_add_ps(acc[r][0], bias0), v1 = _mm256_add_ps(acc[r][1], bias1);
    if (simple_act(act)) {
      v0 = _mm256_min_ps(_mm256_max_ps(v0, vlo), vhi);
      v1 = _mm256_min_ps(_mm256_max_ps(v1, vlo), vhi);
    }
    float* c = C + r * ldc;
    if (nr == 16) {
      _mm256_storeu_ps(c, v0);
      _mm256_storeu_ps(c + 8, v1);
    } else {
      _mm256_storeu_ps(tmp, v0);
      _mm256_storeu_ps(tmp + 8, v1);
      for (int j = 0; j < nr; j++) c[j] = tmp[j];
    }
    if (!simple_act(act)) pkt_gemm_epilogue_row(c, nr, act, lo, hi);
  }
}

INLINE2 void tile2(int MRc, int64_t K, const float* A, int64_t lda, const float* b, float* C, int64_t ldc, int nr,
                   const float* bias, int act, float lo, float hi) {
  __m256 acc[6][2];
  const float* rows[6];
  for (int r = 0; r < MRc; r++) {
    acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    rows[r] = A + r * lda;
  }
  for (int64_t k = 0; k < K; k++) {
    __m256 b0 = _mm256_loadu_ps(b + k * PKT_GEMM_NR), b1 = _mm256_loadu_ps(b + k * PKT_GEMM_NR + 8);
    for (int r = 0; r < MRc; r++) {
      __m256 a = _mm256_broadcast_ss(rows[r] + k);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  store2(MRc, acc, C, ldc, nr, bias, act, lo, hi);
}

/* The full 6-row tile with every accumulator a named register: GCC spills the array form here. */
AVX2 static void full2(int64_t K, const float* A, int64_t lda, const float* b, float* C, int64_t ldc, int nr,
                       const float* bias, int act, float lo, float hi) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * lda, *a3 = A + 3 * lda, *a4 = A + 4 * lda, *a5 = A + 5 * lda;
  for (int64_t k = 0; k < K; k++) {
    __m256 b0 = _mm256_loadu_ps(b + k * PKT_GEMM_NR), b1 = _mm256_loadu_ps(b + k * PKT_GEMM_NR + 8);
    __m256 a = _mm256_broadcast_ss(a0 + k);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(a1 + k);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(a2 + k);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(a3 + k);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(a4 + k);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(a5 + k);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  store2(6, acc, C, ldc, nr, bias, act, lo, hi);
}

AVX2 static void row2(int64_t K, const float* a, const float* b, float* C, int nr, const float* bias, int act, float lo,
                      float hi) {
  __m256 s[4][2];
  for (int u = 0; u < 4; u++) s[u][0] = s[u][1] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    for (int u = 0; u < 4; u++) {
      const float* bk = b + (k + u) * PKT_GEMM_NR;
      __m256 av = _mm256_broadcast_ss(a + k + u);
      s[u][0] = _mm256_fmadd_ps(av, _mm256_loadu_ps(bk), s[u][0]);
      s[u][1] = _mm256_fmadd_ps(av, _mm256_loadu_ps(bk + 8), s[u][1]);
    }
  }
  for (; k < K; k++) {
    const float* bk = b + k * PKT_GEMM_NR;
    __m256 av = _mm256_broadcast_ss(a + k);
    s[0][0] = _mm256_fmadd_ps(av, _mm256_loadu_ps(bk), s[0][0]);
    s[0][1] = _mm256_fmadd_ps(av, _mm256_loadu_ps(bk + 8), s[0][1]);
  }
  __m256 acc[1][2] = {{_mm256_add_ps(_mm256_add_ps(s[0][0], s[1][0]), _mm256_add_ps(s[2][0], s[3][0])),
                       _mm256_add_ps(_mm256_add_ps(s[0][1], s[1][1]), _mm256_add_ps(s[2][1], s[3][1]))}};
  store2(1, acc, C, 0, nr, bias, act, lo, hi);
}

AVX2 static void half2(int64_t K, const float* A, int64_t lda, int mr, const float* b, float* C, int64_t ldc, int nr,
                       const float* bias, int act, float lo, float hi) {
  switch (mr) {
#define CASE(n) \
  case n: tile2(n, K, A, lda, b, C, ldc, nr, bias, act, lo, hi); break;
    CASE(2) CASE(3) CASE(4) CASE(5)
#undef CASE
    case 6: full2(K, A, lda, b, C, ldc, nr, bias, act, lo, hi); break;
    default: row2(K, A, b, C, nr, bias, act, lo, hi); break;
  }
}

void pkt_gemm_ukernel_avx2(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C, int64_t ldc,
                           int nr, const float* bias, int act, float lo, float hi) {
  half2(K, A, lda, mr, panel, C, ldc, nr < 16 ? nr : 16, bias, act, lo, hi);
  if (nr > 16) half2(K, A, lda, mr, panel + 16, C + 16, ldc, nr - 16, bias ? bias + 16 : NULL, act, lo, hi);
}

/* ---- AVX-512: up to 12 x 32; the row count is a compile-time constant in each instance ---- */
#define INLINE512 __attribute__((target("avx512f"), always_inline)) static inline

INLINE512 void store512(int MRc, __m512 acc[][2], float* C, int64_t ldc, int nr, const float* bias, int act, float lo,
                        float hi) {
  float flo, fhi;
  act_bounds(act, lo, hi, &flo, &fhi);
  __m512 vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi);
  __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
  __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
  __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  __m512 bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  for (int r = 0; r < MRc; r++) {
    __m512 v0 = _mm512_add_ps(acc[r][0], bias0), v1 = _mm512_add_ps(acc[r][1], bias1);
    if (simple_act(act)) {
      v0 = _mm512_min_ps(_mm512_max_ps(v0, vlo), vhi);
      v1 = _mm512_min_ps(_mm512_max_ps(v1, vlo), vhi);
    }
    float* c = C + r * ldc;
    _mm512_mask_storeu_ps(c, m0, v0);
    if (m1) _mm512_mask_storeu_ps(c + 16, m1, v1);
    if (!simple_act(act)) pkt_gemm_epilogue_row(c, nr, act, lo, hi);
  }
}

INLINE512 void tile512(int MRc, int64_t K, const float* A, int64_t lda, const float* panel, float* C, int64_t ldc, int nr,
                       const float* bias, int act, float lo, float hi) {
  __m512 acc[12][2];
  const float* rows[12];
  for (int r = 0; r < MRc; r++) {
    acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    rows[r] = A + r * lda;
  }
  for (int64_t k = 0; k < K; k++) {
    __m512 b0 = _mm512_loadu_ps(panel + k * PKT_GEMM_NR), b1 = _mm512_loadu_ps(panel + k * PKT_GEMM_NR + 16);
    for (int r = 0; r < MRc; r++) {
      __m512 a = _mm512_set1_ps(rows[r][k]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  store512(MRc, acc, C, ldc, nr, bias, act, lo, hi);
}

/* One row (batch-1 linear layers): four independent accumulator pairs hide the FMA latency. */
AVX512 static void row512(int64_t K, const float* a, const float* panel, float* C, int nr, const float* bias, int act,
                          float lo, float hi) {
  __m512 s[4][2];
  for (int u = 0; u < 4; u++) s[u][0] = s[u][1] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    for (int u = 0; u < 4; u++) {
      const float* b = panel + (k + u) * PKT_GEMM_NR;
      __m512 av = _mm512_set1_ps(a[k + u]);
      s[u][0] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b), s[u][0]);
      s[u][1] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 16), s[u][1]);
    }
  }
  for (; k < K; k++) {
    const float* b = panel + k * PKT_GEMM_NR;
    __m512 av = _mm512_set1_ps(a[k]);
    s[0][0] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b), s[0][0]);
    s[0][1] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 16), s[0][1]);
  }
  __m512 acc[1][2] = {{_mm512_add_ps(_mm512_add_ps(s[0][0], s[1][0]), _mm512_add_ps(s[2][0], s[3][0])),
                       _mm512_add_ps(_mm512_add_ps(s[0][1], s[1][1]), _mm512_add_ps(s[2][1], s[3][1]))}};
  store512(1, acc, C, 0, nr, bias, act, lo, hi);
}

AVX512 void pkt_gemm_ukernel_avx512(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                                    int64_t ldc, int nr, const float* bias, int act, float lo, float hi) {
  switch (mr) {
#define CASE(n) \
  case n: tile512(n, K, A, lda, panel, C, ldc, nr, bias, act, lo, hi); break;
    CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    default: row512(K, A, panel, C, nr, bias, act, lo, hi); break;
  }
}
#endif
