/* x86-64 GEMM micro-kernels: AVX2+FMA (6 rows x 16 columns, two calls per 32-column panel) and
 * AVX-512 (12 rows x 32 columns). Compiled with target attributes, so the file builds without
 * -mavx flags and runs only where pkt_cpu_isa() selected it. */
#include "compute/gemm/gemm.h"

#if defined(PKT_GEMM_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

static inline int simple_act(int act) {
  return act == PKT_ACT_NONE || act == PKT_ACT_RELU || act == PKT_ACT_RELU6 || act == PKT_ACT_CLAMP;
}

/* Clamp bounds of a simple activation, applied as min(hi, max(lo, v)): max/min return their second operand
 * when either is NaN, so v goes second and NaN stays NaN. */
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
      v0 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v0));
      v1 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v1));
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
      v0 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v0));
      v1 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v1));
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

INLINE512 __m512 exp512(__m512 x) {
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

AVX512 float pkt_vec_max_avx512(const float* x, int64_t n) {
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

AVX512 float pkt_vec_exp_sum_avx512(const float* x, float* y, int64_t n, float scale, float shift) {
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

AVX512 void pkt_vec_scale_avx512(float* x, int64_t n, float s) {
  __m512 vs = _mm512_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
  if (i < n) {
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
  }
}

INLINE2 __m256 exp256(__m256 x) {
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

AVX2 float pkt_vec_max_avx2(const float* x, int64_t n) {
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

AVX2 float pkt_vec_exp_sum_avx2(const float* x, float* y, int64_t n, float scale, float shift) {
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

AVX2 void pkt_vec_scale_avx2(float* x, int64_t n, float s) {
  __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
  for (; i < n; i++) x[i] *= s;
}
#endif
