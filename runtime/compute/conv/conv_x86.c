/* conv2d x86-64 paths (see conv_impl.h): GEMM micro-kernels with a per-row bias (AVX-512 12 x 32,
 * AVX2+FMA 6 x 16) and depthwise row kernels vectorized along the output columns. Compiled with
 * target attributes, so the file builds without -m flags and runs only where pkt_cpu_isa() chose
 * it. */
#include "compute/conv/conv_impl.h"

#if defined(CONV_HAVE_X86)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define INLINE2 __attribute__((target("avx2,fma"), always_inline)) static inline
#define INLINE512 __attribute__((target("avx512f"), always_inline)) static inline

AVX512 void conv_residual_avx512(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int64_t i = 0; i < rows; i++, y += ld, r += ld)
    for (int64_t j = 0; j < cols; j += 16) {
      const __mmask16 m = (__mmask16)(cols - j >= 16 ? 0xFFFF : (1u << (cols - j)) - 1);
      __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + j), _mm512_maskz_loadu_ps(m, r + j));
      _mm512_mask_storeu_ps(y + j, m, _mm512_min_ps(vhi, _mm512_max_ps(vlo, v))); /* NaN stays NaN */
    }
}

AVX2 void conv_residual_avx2(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (int64_t i = 0; i < rows; i++, y += ld, r += ld) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) {
      __m256 v = _mm256_add_ps(_mm256_loadu_ps(y + j), _mm256_loadu_ps(r + j));
      _mm256_storeu_ps(y + j, _mm256_min_ps(vhi, _mm256_max_ps(vlo, v))); /* NaN stays NaN */
    }
    for (; j < cols; j++) {
      float v = y[j] + r[j];
      y[j] = v < lo ? lo : v > hi ? hi : v;
    }
  }
}

/* ------------------------------------------------------------------ AVX-512 GEMM, 12 x 32 */
/* The EX extra columns of a 12-row tile: out[j] = sum over k of the A step (12 rows, one vector) times
 * b[k * ldb + j]; two chains per column so the FMA latency does not bound it, one A load for all columns.
 * The A steps are in L1 after the tile's main loop. */
INLINE512 void ex_columns512(int EX, int64_t kc, const float* a, const float* b, int64_t ldb, __m512* out) {
  const __mmask16 rows12 = 0x0FFF; /* an A step is 12 floats: the load stops there */
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
  int64_t k = 0;
  for (; k + 2 <= kc; k += 2) {
    const float *b0 = b + k * ldb, *b1 = b0 + ldb;
    const __m512 a0 = _mm512_maskz_loadu_ps(rows12, a + k * 12), a1 = _mm512_maskz_loadu_ps(rows12, a + k * 12 + 12);
    s0 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[0]), s0);
    t0 = _mm512_fmadd_ps(a1, _mm512_set1_ps(b1[0]), t0);
    if (EX > 1) s1 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[1]), s1);
    if (EX > 1) t1 = _mm512_fmadd_ps(a1, _mm512_set1_ps(b1[1]), t1);
    if (EX > 2) s2 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[2]), s2);
    if (EX > 2) t2 = _mm512_fmadd_ps(a1, _mm512_set1_ps(b1[2]), t2);
    if (EX > 3) s3 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[3]), s3);
    if (EX > 3) t3 = _mm512_fmadd_ps(a1, _mm512_set1_ps(b1[3]), t3);
  }
  if (k < kc) {
    const float* b0 = b + k * ldb;
    const __m512 a0 = _mm512_maskz_loadu_ps(rows12, a + k * 12);
    s0 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[0]), s0);
    if (EX > 1) s1 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[1]), s1);
    if (EX > 2) s2 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[2]), s2);
    if (EX > 3) s3 = _mm512_fmadd_ps(a0, _mm512_set1_ps(b0[3]), s3);
  }
  out[0] = _mm512_add_ps(s0, t0), out[1] = _mm512_add_ps(s1, t1);
  out[2] = _mm512_add_ps(s2, t2), out[3] = _mm512_add_ps(s3, t3);
}

/* NV vectors of 16 columns (2, or 1 for a panel with at most 20 columns, or 0 for one with at most 4: the
 * rest of its 32 are zero padding, so more FMAs would be wasted) and EX extra columns past them (0 to 4).
 * An extra column j is kept the other way round: one vector of the tile's 12 rows (the packed A step
 * a[k*12 .. k*12 + 11] is exactly that) times the broadcast b[k][16*NV + j]. So a 7x7 image's second
 * panel (17 pixels) costs 13 FMAs per step, not 24, and a 14x14 image's last (4 pixels) 4, not 12. */
INLINE512 void tile512(int MRc, int NV, int EX, int64_t kc, const float* a, const float* b, int64_t ldb, float* C,
                       int64_t ldc, int nr, const float* bias, int first, int last, int act, float lo, float hi) {
  __m512 acc[12][2];
  for (int r = 0; r < MRc; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  /* B rows read in place from a 1x1 conv's input (not a packed panel) are too far apart for the
   * hardware's stride prefetcher; from the other core's cache each is a long wait, so ask 16 ahead. Never
   * past the slice's last row: what follows may be lines another core is writing (a prefetch would take
   * them away from it). */
  const int strided = ldb > 64;
  for (int64_t k = 0; NV >= 1 && k < kc; k++) {
    const float* bk = b + k * ldb;
    __m512 b0 = _mm512_loadu_ps(bk), b1 = NV == 2 ? _mm512_loadu_ps(bk + 16) : b0;
    const float* ak = a + k * 12;
    _mm_prefetch((const char*)(ak + 12 * 16), _MM_HINT_T0);
    if (strided && k + 16 < kc) {
      _mm_prefetch((const char*)(bk + 16 * ldb), _MM_HINT_T0);
      if (NV == 2) _mm_prefetch((const char*)(bk + 16 * ldb + 31), _MM_HINT_T0);
    }
    for (int r = 0; r < MRc; r++) {
      __m512 av = _mm512_set1_ps(ak[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (NV == 2) acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  float flo, fhi;
  conv_act_bounds(act, lo, hi, &flo, &fhi);
  const int simple = conv_act_simple(act);
  __m512 vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi);
  if (EX) {
    /* the extra columns: rows in lanes, so bias and clamp are vector ops; stored a float at a time */
    const __mmask16 mrows = (__mmask16)((1u << MRc) - 1);
    const __m512 bv = bias && last ? _mm512_maskz_loadu_ps(mrows, bias) : _mm512_setzero_ps();
    float col[16];
    __m512 ex[4];
    ex_columns512(EX, kc, a, b + 16 * NV, ldb, ex);
    for (int j = 0; j < EX; j++) {
      float* c = C + 16 * NV + j;
      __m512 v = ex[j];
      if (!first) {
        for (int r = 0; r < MRc; r++) col[r] = c[r * ldc];
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mrows, col));
      }
      if (last) {
        v = _mm512_add_ps(v, bv);
        if (simple) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));
      }
      _mm512_storeu_ps(col, v);
      for (int r = 0; r < MRc; r++) c[r * ldc] = col[r];
    }
  }
  __mmask16 m0 = (__mmask16)(NV == 0 ? 0 : nr - EX >= 16 ? 0xFFFF : (1u << (nr - EX)) - 1);
  __mmask16 m1 = (__mmask16)(NV < 2 ? 0 : nr >= 32 ? 0xFFFF : (1u << (nr - 16)) - 1);
  for (int r = 0; r < MRc; r++) {
    float* c = C + r * ldc;
    if (NV >= 1) {
      __m512 v0 = acc[r][0], v1 = acc[r][1];
      if (!first) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
        if (NV == 2) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
      }
      if (last) {
        if (bias) {
          __m512 bv = _mm512_set1_ps(bias[r]);
          v0 = _mm512_add_ps(v0, bv);
          v1 = _mm512_add_ps(v1, bv);
        }
        if (simple) {
          v0 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v0));
          v1 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v1));
        }
      }
      _mm512_mask_storeu_ps(c, m0, v0);
      if (NV == 2) _mm512_mask_storeu_ps(c + 16, m1, v1);
    }
    if (last && !simple) pkt_act_avx512(c, nr, act, lo, hi);
  }
}

AVX512 void conv_ukernel_avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                                int nr, const float* bias, int first, int last, int act, float lo, float hi) {
  /* the panel's shape: 16-column vectors and extra columns (tile512) */
#define TILE(n, nv, ex) tile512(n, nv, ex, kc, a, b, ldb, C, ldc, nr, bias, first, last, act, lo, hi)
#define SHAPES(n)                      \
  if (nr > 20)                         \
    TILE(n, 2, 0);                     \
  else if (nr > 16)                    \
    switch (nr) {                      \
      case 17: TILE(n, 1, 1); break;   \
      case 18: TILE(n, 1, 2); break;   \
      case 19: TILE(n, 1, 3); break;   \
      default: TILE(n, 1, 4); break;   \
    }                                  \
  else if (nr > 4)                     \
    TILE(n, 1, 0);                     \
  else                                 \
    switch (nr) {                      \
      case 1: TILE(n, 0, 1); break;    \
      case 2: TILE(n, 0, 2); break;    \
      case 3: TILE(n, 0, 3); break;    \
      default: TILE(n, 0, 4); break;   \
    }
  switch (mr) {
#define CASE(n) \
  case n: SHAPES(n) break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    default: break;
  }
#undef SHAPES
#undef TILE
}

/* ------------------------------------------------------------------ AVX2 GEMM, 6 x 16 */
INLINE2 void store2(int MRc, __m256 acc[][2], float* C, int64_t ldc, int nr, const float* bias, int first, int last,
                    int act, float lo, float hi) {
  float flo, fhi;
  conv_act_bounds(act, lo, hi, &flo, &fhi);
  const int simple = conv_act_simple(act);
  __m256 vlo = _mm256_set1_ps(flo), vhi = _mm256_set1_ps(fhi);
  float tmp[16];
  for (int r = 0; r < MRc; r++) {
    float* c = C + r * ldc;
    __m256 v0 = acc[r][0], v1 = acc[r][1];
    if (!first) {
      if (nr == 16) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
      } else {
        for (int j = 0; j < 16; j++) tmp[j] = j < nr ? c[j] : 0.f;
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(tmp));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(tmp + 8));
      }
    }
    if (last) {
      if (bias) {
        __m256 bv = _mm256_set1_ps(bias[r]);
        v0 = _mm256_add_ps(v0, bv);
        v1 = _mm256_add_ps(v1, bv);
      }
      if (simple) {
        v0 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v0));
        v1 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v1));
      }
    }
    if (nr == 16) {
      _mm256_storeu_ps(c, v0);
      _mm256_storeu_ps(c + 8, v1);
    } else {
      _mm256_storeu_ps(tmp, v0);
      _mm256_storeu_ps(tmp + 8, v1);
      for (int j = 0; j < nr; j++) c[j] = tmp[j];
    }
    if (last && !simple) pkt_act_avx2(c, nr, act, lo, hi);
  }
}

/* NV vectors of 8 columns: 1 for a panel of at most 8 pixels (a 7x7 image's last, of 1), whose other 8
 * columns are zero padding. */
INLINE2 void tile2(int MRc, int NV, int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc,
                   int nr, const float* bias, int first, int last, int act, float lo, float hi) {
  __m256 acc[6][2];
  for (int r = 0; r < MRc; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; k++) {
    __m256 b0 = _mm256_loadu_ps(b + k * ldb), b1 = NV == 2 ? _mm256_loadu_ps(b + k * ldb + 8) : b0;
    for (int r = 0; r < MRc; r++) {
      __m256 av = _mm256_broadcast_ss(a + k * 6 + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      if (NV == 2) acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  store2(MRc, acc, C, ldc, nr, bias, first, last, act, lo, hi);
}

/* The full tile with named accumulators: GCC spills the array form with 16 registers. */
AVX2 static void full2(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int nr,
                       const float* bias, int first, int last, int act, float lo, float hi) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const int strided = ldb > 64; /* B rows in place: prefetched as in tile512 */
  for (int64_t k = 0; k < kc; k++, a += 6, b += ldb) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    _mm_prefetch((const char*)(a + 6 * 32), _MM_HINT_T0); /* packed weights, as in tile512 */
    if (strided && k + 16 < kc) _mm_prefetch((const char*)(b + 16 * ldb + 15), _MM_HINT_T0);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  store2(6, acc, C, ldc, nr, bias, first, last, act, lo, hi);
}

AVX2 void conv_ukernel_avx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                            int nr, const float* bias, int first, int last, int act, float lo, float hi) {
  if (nr <= 8) {
    switch (mr) {
#define CASE(n) \
  case n: tile2(n, 1, kc, a, b, ldb, C, ldc, nr, bias, first, last, act, lo, hi); break;
      CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#undef CASE
      default: break;
    }
    return;
  }
  switch (mr) {
#define CASE(n) \
  case n: tile2(n, 2, kc, a, b, ldb, C, ldc, nr, bias, first, last, act, lo, hi); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5)
#undef CASE
    case 6: full2(kc, a, b, ldb, C, ldc, nr, bias, first, last, act, lo, hi); break;
    default: break;
  }
}

/* ------------------------------------------------------------------ depthwise row kernels */
AVX512 void conv_fill2_avx512(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n) {
  const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t i = 0; i < n; i += 16) {
    /* padded columns 2i .. 2i + 31 are source columns c0 .. c0 + 31; lanes [lo, hi) are in the row */
    int64_t c0 = 2 * i - pw;
    int64_t lo = c0 < 0 ? -c0 : 0, hi = W - c0 < 32 ? W - c0 : 32;
    uint32_t m = 0;
    if (hi > lo) m = (uint32_t)((hi >= 32 ? 0xFFFFFFFFu : (1u << hi) - 1) & ~((lo >= 32 ? 0xFFFFFFFFu : (1u << lo) - 1)));
    /* masked-off lanes are never read, so the address may point before the row */
    const float* s = (const float*)((uintptr_t)src + (uintptr_t)(c0 * (int64_t)sizeof(float)));
    __m512 a = _mm512_maskz_loadu_ps((__mmask16)m, s), b = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), s + 16);
    __mmask16 sm = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(e + i, sm, _mm512_permutex2var_ps(a, ie, b));
    if (o) _mm512_mask_storeu_ps(o + i, sm, _mm512_permutex2var_ps(a, io, b));
  }
}

/* 3x3 with the weights and the three column offsets in registers; stride-1 rows (sh == dh == 1)
 * go two output rows at a time so the four input rows are loaded once for both. */
#define DW3_ROW512(acc, r, m)                                                        \
  acc = _mm512_fmadd_ps(w##r##0, _mm512_loadu_ps(m + c0), acc);                      \
  acc = _mm512_fmadd_ps(w##r##1, _mm512_loadu_ps(m + c1), acc);                      \
  acc = _mm512_fmadd_ps(w##r##2, _mm512_loadu_ps(m + c2), acc);

AVX512 static void dw3x3_avx512(const conv_dw_args* a) {
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const int simple = conv_act_simple(a->act);
  const __m512 vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi), vb = _mm512_set1_ps(a->bias);
  const __m512 w00 = _mm512_set1_ps(a->w[0]), w01 = _mm512_set1_ps(a->w[1]), w02 = _mm512_set1_ps(a->w[2]);
  const __m512 w10 = _mm512_set1_ps(a->w[3]), w11 = _mm512_set1_ps(a->w[4]), w12 = _mm512_set1_ps(a->w[5]);
  const __m512 w20 = _mm512_set1_ps(a->w[6]), w21 = _mm512_set1_ps(a->w[7]), w22 = _mm512_set1_ps(a->w[8]);
  const int64_t c0 = 0, c1 = (a->dw % a->sw) * a->pstride + a->dw / a->sw,
                c2 = (2 * a->dw % a->sw) * a->pstride + 2 * a->dw / a->sw;
  const int64_t rs = a->dh * a->rstride;
  int64_t oy = a->oy0;
  if (a->sh == 1 && a->dh == 1) {
    for (; oy + 2 <= a->oy1; oy += 2) {
      float* y0 = a->y + oy * a->OW;
      float* y1 = y0 + a->OW;
      const float* base = a->buf + oy * a->rstride;
      for (int64_t ox = 0; ox < a->OW; ox += 16) {
        int64_t rem = a->OW - ox;
        __mmask16 m = (__mmask16)(rem >= 16 ? 0xFFFF : (1u << rem) - 1);
        const float* r0 = base + ox;
        const float* r1 = r0 + rs;
        const float* r2 = r1 + rs;
        const float* r3 = r2 + rs;
        __m512 a0 = vb, a1 = vb;
        __m512 x0 = _mm512_loadu_ps(r1 + c0), x1 = _mm512_loadu_ps(r1 + c1), x2 = _mm512_loadu_ps(r1 + c2);
        a0 = _mm512_fmadd_ps(w10, x0, a0);
        a1 = _mm512_fmadd_ps(w00, x0, a1);
        a0 = _mm512_fmadd_ps(w11, x1, a0);
        a1 = _mm512_fmadd_ps(w01, x1, a1);
        a0 = _mm512_fmadd_ps(w12, x2, a0);
        a1 = _mm512_fmadd_ps(w02, x2, a1);
        x0 = _mm512_loadu_ps(r2 + c0), x1 = _mm512_loadu_ps(r2 + c1), x2 = _mm512_loadu_ps(r2 + c2);
        a0 = _mm512_fmadd_ps(w20, x0, a0);
        a1 = _mm512_fmadd_ps(w10, x0, a1);
        a0 = _mm512_fmadd_ps(w21, x1, a0);
        a1 = _mm512_fmadd_ps(w11, x1, a1);
        a0 = _mm512_fmadd_ps(w22, x2, a0);
        a1 = _mm512_fmadd_ps(w12, x2, a1);
        DW3_ROW512(a0, 0, r0)
        DW3_ROW512(a1, 2, r3)
        if (simple) {
          a0 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, a0));
          a1 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, a1));
        }
        _mm512_mask_storeu_ps(y0 + ox, m, a0);
        _mm512_mask_storeu_ps(y1 + ox, m, a1);
      }
      if (!simple) {
        pkt_act_avx512(y0, a->OW, a->act, a->lo, a->hi);
        pkt_act_avx512(y1, a->OW, a->act, a->lo, a->hi);
      }
    }
  }
  for (; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    const float* base = a->buf + oy * a->sh * a->rstride;
    for (int64_t ox = 0; ox < a->OW; ox += 16) {
      int64_t rem = a->OW - ox;
      __mmask16 m = (__mmask16)(rem >= 16 ? 0xFFFF : (1u << rem) - 1);
      const float* r0 = base + ox;
      const float* r1 = r0 + rs;
      const float* r2 = r1 + rs;
      __m512 a0 = vb, a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
      DW3_ROW512(a0, 0, r0)
      DW3_ROW512(a1, 1, r1)
      DW3_ROW512(a2, 2, r2)
      a0 = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
      if (simple) a0 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, a0));
      _mm512_mask_storeu_ps(yr + ox, m, a0);
    }
    if (!simple) pkt_act_avx512(yr, a->OW, a->act, a->lo, a->hi);
  }
}

/* One output row vector of VL columns at ox: sum over the window. KH/KW are compile-time for the
 * specialized 3x3 instance and runtime otherwise. */
AVX512 void conv_dw_avx512(const conv_dw_args* a) {
  if (a->kh == 3 && a->kw == 3) {
    dw3x3_avx512(a);
    return;
  }
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const int simple = conv_act_simple(a->act);
  const __m512 vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi), vb = _mm512_set1_ps(a->bias);
  const int64_t nk = a->kh * a->kw;
  int64_t koff[49];
  __m512 wv[49];
  const int small = nk <= 49;
  if (small) {
    for (int64_t ky = 0; ky < a->kh; ky++)
      for (int64_t kx = 0; kx < a->kw; kx++) {
        int64_t c = kx * a->dw;
        koff[ky * a->kw + kx] = ky * a->dh * a->rstride + (c % a->sw) * a->pstride + c / a->sw;
        wv[ky * a->kw + kx] = _mm512_set1_ps(a->w[ky * a->kw + kx]);
      }
  }
  for (int64_t oy = a->oy0; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    const float* base = a->buf + oy * a->sh * a->rstride;
    for (int64_t ox = 0; ox < a->OW; ox += 16) {
      int64_t rem = a->OW - ox;
      __mmask16 m = (__mmask16)(rem >= 16 ? 0xFFFF : (1u << rem) - 1);
      const float* p = base + ox;
      __m512 acc0 = vb, acc1 = _mm512_setzero_ps();
      if (nk == 9 && small) {
        acc0 = _mm512_fmadd_ps(wv[0], _mm512_loadu_ps(p + koff[0]), acc0);
        acc1 = _mm512_fmadd_ps(wv[1], _mm512_loadu_ps(p + koff[1]), acc1);
        acc0 = _mm512_fmadd_ps(wv[2], _mm512_loadu_ps(p + koff[2]), acc0);
        acc1 = _mm512_fmadd_ps(wv[3], _mm512_loadu_ps(p + koff[3]), acc1);
        acc0 = _mm512_fmadd_ps(wv[4], _mm512_loadu_ps(p + koff[4]), acc0);
        acc1 = _mm512_fmadd_ps(wv[5], _mm512_loadu_ps(p + koff[5]), acc1);
        acc0 = _mm512_fmadd_ps(wv[6], _mm512_loadu_ps(p + koff[6]), acc0);
        acc1 = _mm512_fmadd_ps(wv[7], _mm512_loadu_ps(p + koff[7]), acc1);
        acc0 = _mm512_fmadd_ps(wv[8], _mm512_loadu_ps(p + koff[8]), acc0);
      } else if (small) {
        int64_t i = 0;
        for (; i + 2 <= nk; i += 2) {
          acc0 = _mm512_fmadd_ps(wv[i], _mm512_loadu_ps(p + koff[i]), acc0);
          acc1 = _mm512_fmadd_ps(wv[i + 1], _mm512_loadu_ps(p + koff[i + 1]), acc1);
        }
        if (i < nk) acc0 = _mm512_fmadd_ps(wv[i], _mm512_loadu_ps(p + koff[i]), acc0);
      } else {
        for (int64_t ky = 0; ky < a->kh; ky++)
          for (int64_t kx = 0; kx < a->kw; kx++) {
            int64_t c = kx * a->dw;
            const float* s = p + ky * a->dh * a->rstride + (c % a->sw) * a->pstride + c / a->sw;
            acc0 = _mm512_fmadd_ps(_mm512_set1_ps(a->w[ky * a->kw + kx]), _mm512_loadu_ps(s), acc0);
          }
      }
      __m512 v = _mm512_add_ps(acc0, acc1);
      if (simple) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));
      _mm512_mask_storeu_ps(yr + ox, m, v);
    }
    if (!simple) pkt_act_avx512(yr, a->OW, a->act, a->lo, a->hi);
  }
}

/* ------------------------------------------------------------------ depthwise, flat planes */
#ifndef DW3_MIN_W
#define DW3_MIN_W 12 /* narrower rows leave too many of a vector's lanes idle: the flat kernel serves */
#endif
#define DWF_CHUNK 1024 /* output pixels per load-mask table */

/* One output vector at flat pixel q of a plane. EDGE (the vector's taps reach outside the plane): every load
 * masked by the tap's mask in lm (inside the plane and inside the row; a zero lane adds nothing). Otherwise
 * the loads are plain and each kernel column's sum is added where that column stays in the row (cm). */
INLINE512 __m512 dwf_vec(int KH, int KW, int EDGE, const float* x, int64_t q, const int64_t* off, const __m512* wreg,
                         const float* w, const __mmask16* cm, const __mmask16* lm, __m512 out) {
  if (EDGE) {
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < KH * KW; t++) {
      /* masked-off lanes are never read, so the address may point outside the plane */
      const float* s = (const float*)((uintptr_t)x + (uintptr_t)((q + off[t]) * (int64_t)sizeof(float)));
      __m512 xv = _mm512_maskz_loadu_ps(_load_mask16((__mmask16*)&lm[t]), s);
      __m512 wv = KH * KW <= 9 ? wreg[t] : _mm512_set1_ps(w[t]);
      if (t & 1)
        acc = _mm512_fmadd_ps(wv, xv, acc);
      else
        out = _mm512_fmadd_ps(wv, xv, out);
    }
    return _mm512_add_ps(out, acc);
  }
  for (int kx = 0; kx < KW; kx++) {
    __m512 acc = _mm512_setzero_ps();
    for (int ky = 0; ky < KH; ky++) {
      const int t = ky * KW + kx;
      acc = _mm512_fmadd_ps(KH * KW <= 9 ? wreg[t] : _mm512_set1_ps(w[t]), _mm512_loadu_ps(x + q + off[t]), acc);
    }
    out = _mm512_mask_add_ps(out, _load_mask16((__mmask16*)&cm[kx]), out, acc);
  }
  return out;
}

/* Pixels [q0, q1) (at most DWF_CHUNK) of every plane, vectors [e0, e1) of them away from the plane's edges;
 * per vector, mk holds KW column masks then KH*KW tap masks. KH/KW are compile-time for the 3x3 instance
 * (weights in registers) and the runtime kernel size otherwise; CLAMP: a simple activation. */
INLINE512 void dwf_chunk512(int KH, int KW, int CLAMP, const conv_dwf_args* a, const int64_t* off, int64_t q0,
                            int64_t q1, int64_t e0, int64_t e1, const __mmask16* mk) {
  const int nk = KH * KW, rec = KW + nk;
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const __m512 vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi);
  __m512 wreg[9];
  for (int64_t c = 0; c < a->planes; c++) {
    const float* x = a->x + c * a->xs;
    const float* w = a->w + c * nk;
    float* y = a->y + c * a->ys - a->p0 + q0;
    if (nk <= 9)
      for (int t = 0; t < nk; t++) wreg[t] = _mm512_set1_ps(w[t]);
    const __m512 vb = _mm512_set1_ps(a->b ? a->b[c] : 0.f);
    const __mmask16* m = mk;
    int64_t v = 0;
    for (int64_t q = q0; q < q1; q += 16, v++, m += rec, y += 16) {
      __m512 r = v >= e0 && v < e1 ? dwf_vec(KH, KW, 0, x, q, off, wreg, w, m, m + KW, vb)
                                   : dwf_vec(KH, KW, 1, x, q, off, wreg, w, m, m + KW, vb);
      if (CLAMP) r = _mm512_min_ps(vhi, _mm512_max_ps(vlo, r));
      if (q1 - q >= 16)
        _mm512_storeu_ps(y, r);
      else
        _mm512_mask_storeu_ps(y, (__mmask16)((1u << (q1 - q)) - 1), r);
    }
    if (!CLAMP) pkt_act_avx512(y - v * 16, q1 - q0, a->act, a->lo, a->hi);
  }
}

/* 3x3, stride 1, padding 1, dilation 1, whole rows (mobilenet's depthwise convs): per output row, each input
 * row is read a vector at a time from the row start (masked at its end, so lanes past W are zero) and its
 * left and right taps are the same vectors shifted one lane across their neighbours (valignd); rows above
 * and below the image read a zero row. Every load starts a row's vector; the flat kernel below takes 9
 * loads across rows and 3 masked adds a vector. */
static inline __mmask16 dw3_lanes(int64_t n) { /* the first n lanes */
  return (__mmask16)(n >= 16 ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1);
}

INLINE512 __m512 dw3_left(__m512 cur, __m512 prev) { /* lane i: element i - 1 */
  return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(cur), _mm512_castps_si512(prev), 15));
}
INLINE512 __m512 dw3_right(__m512 next, __m512 cur) { /* lane i: element i + 1 */
  return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(cur), 1));
}

/* One input row's part of an output vector: its left, centre and right taps from the row's previous,
 * current and next vectors. */
INLINE512 __m512 dw3_row(__m512 acc, __m512 p, __m512 c, __m512 n, const __m512* w) {
  acc = _mm512_fmadd_ps(w[0], dw3_left(c, p), acc);
  acc = _mm512_fmadd_ps(w[1], c, acc);
  return _mm512_fmadd_ps(w[2], dw3_right(n, c), acc);
}

INLINE512 void dw3_rows512(int CLAMP, const conv_dwf_args* a, const float* zrow) {
  const int64_t W = a->W, H = a->H, nv = (W + 15) / 16, oy0 = a->p0 / W, oy1 = a->p1 / W;
  const __mmask16 mlast = (__mmask16)(W % 16 ? (1u << (W % 16)) - 1 : 0xFFFF);
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const __m512 vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi), zero = _mm512_setzero_ps();
  for (int64_t c = 0; c < a->planes; c++) {
    const float* x = a->x + c * a->xs;
    float* y = a->y + c * a->ys - a->p0;
    __m512 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm512_set1_ps(a->w[c * 9 + t]);
    const __m512 vb = _mm512_set1_ps(a->b ? a->b[c] : 0.f);
    for (int64_t oy = oy0; oy < oy1; oy++) {
      const float* r0 = oy > 0 ? x + (oy - 1) * W : zrow;
      const float* r1 = x + oy * W;
      const float* r2 = oy + 1 < H ? x + (oy + 1) * W : zrow;
      const __mmask16 m0 = nv == 1 ? mlast : 0xFFFF;
      __m512 p0 = zero, p1 = zero, p2 = zero;
      __m512 c0 = _mm512_maskz_loadu_ps(m0, r0), c1 = _mm512_maskz_loadu_ps(m0, r1), c2 = _mm512_maskz_loadu_ps(m0, r2);
      float* yr = y + oy * W;
      for (int64_t j = 0; j < nv; j++) {
        __m512 n0 = zero, n1 = zero, n2 = zero;
        if (j + 1 < nv) {
          const __mmask16 mn = j + 2 == nv ? mlast : 0xFFFF;
          n0 = _mm512_maskz_loadu_ps(mn, r0 + 16 * (j + 1));
          n1 = _mm512_maskz_loadu_ps(mn, r1 + 16 * (j + 1));
          n2 = _mm512_maskz_loadu_ps(mn, r2 + 16 * (j + 1));
        }
        __m512 v = dw3_row(vb, p0, c0, n0, w);
        v = _mm512_add_ps(v, dw3_row(zero, p1, c1, n1, w + 3));
        v = _mm512_add_ps(v, dw3_row(zero, p2, c2, n2, w + 6));
        if (CLAMP) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));
        _mm512_mask_storeu_ps(yr + 16 * j, j + 1 == nv ? mlast : 0xFFFF, v);
        p0 = c0, p1 = c1, p2 = c2;
        c0 = n0, c1 = n1, c2 = n2;
      }
      if (!CLAMP) pkt_act_avx512(yr, W, a->act, a->lo, a->hi);
    }
  }
}

/* 3x3, stride 2, padding 1, dilation 1: output vector j of a row reads input columns [32j - 1, 32j + 31] of
 * three rows: two loads per row, split into the even columns (centre taps) and the odd ones (right taps) by
 * vpermt2ps; the left taps are the odd columns shifted one lane across from the previous vector's. Rows are
 * read in place (x holds rows from row0 on); rows outside the image read a zero row. */
INLINE512 void dw3s2_rows512(int CLAMP, const conv_dwf_args* a, const float* zrow) {
  const int64_t W = a->W, H = a->H, OW = (W + 1) / 2, nv = (OW + 15) / 16, oy0 = a->p0 / OW, oy1 = a->p1 / OW;
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const __m512 vlo = _mm512_set1_ps(flo), vhi = _mm512_set1_ps(fhi), zero = _mm512_setzero_ps();
  for (int64_t c = 0; c < a->planes; c++) {
    const float* x = a->x + c * a->xs;
    float* y = a->y + c * a->ys - a->p0;
    __m512 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm512_set1_ps(a->w[c * 9 + t]);
    const __m512 vb = _mm512_set1_ps(a->b ? a->b[c] : 0.f);
    for (int64_t oy = oy0; oy < oy1; oy++) {
      const float* r[3];
      for (int ky = 0; ky < 3; ky++) {
        int64_t iy = 2 * oy - 1 + ky;
        r[ky] = iy >= 0 && iy < H ? x + (iy - a->row0) * W : zrow;
      }
      __m512 po0 = zero, po1 = zero, po2 = zero; /* the previous vector's odd columns, per row */
      float* yr = y + oy * OW;
      for (int64_t j = 0; j < nv; j++) {
        const __mmask16 m0 = dw3_lanes(W - 32 * j), m1 = dw3_lanes(W - 32 * j - 16);
        __m512 acc[3];
        __m512* po[3] = {&po0, &po1, &po2};
        for (int k = 0; k < 3; k++) {
          const float* s = r[k] + 32 * j;
          __m512 v0 = _mm512_maskz_loadu_ps(m0, s), v1 = _mm512_maskz_loadu_ps(m1, s + 16);
          __m512 e = _mm512_permutex2var_ps(v0, ie, v1), o = _mm512_permutex2var_ps(v0, io, v1);
          acc[k] = _mm512_fmadd_ps(w[3 * k], dw3_left(o, *po[k]), k == 0 ? vb : zero);
          acc[k] = _mm512_fmadd_ps(w[3 * k + 1], e, acc[k]);
          acc[k] = _mm512_fmadd_ps(w[3 * k + 2], o, acc[k]);
          *po[k] = o;
        }
        __m512 v = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), acc[2]);
        if (CLAMP) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));
        _mm512_mask_storeu_ps(yr + 16 * j, dw3_lanes(OW - 16 * j), v);
      }
      if (!CLAMP) pkt_act_avx512(yr, OW, a->act, a->lo, a->hi);
    }
  }
}

AVX512 void conv_dwf_avx512(const conv_dwf_args* a) {
  const int64_t W = a->W, HW = a->H * a->W, KH = a->kh, KW = a->kw, nk = KH * KW;
  if (a->stride == 1 && KH == 3 && KW == 3 && a->ph == 1 && a->pw == 1 && a->dh == 1 && a->dw == 1 &&
      W >= DW3_MIN_W && a->p0 % W == 0 && a->p1 % W == 0) {
    float zrow[CONV_DWF_MAX_W + 16];
    memset(zrow, 0, (size_t)(W + 16) * sizeof(float));
    if (conv_act_simple(a->act))
      dw3_rows512(1, a, zrow);
    else
      dw3_rows512(0, a, zrow);
    return;
  }
  if (a->stride == 2) { /* conv_dw_flat admits only 3x3, padding 1, dilation 1 at stride 2 */
    float zrow[CONV_DWF_MAX_W + 32];
    memset(zrow, 0, (size_t)(W + 32) * sizeof(float));
    if (conv_act_simple(a->act))
      dw3s2_rows512(1, a, zrow);
    else
      dw3s2_rows512(0, a, zrow);
    return;
  }
  int64_t off[CONV_DWF_MAX_TAPS], omin = 0, omax = 0;
  for (int64_t ky = 0; ky < KH; ky++)
    for (int64_t kx = 0; kx < KW; kx++) {
      int64_t o = (ky * a->dh - a->ph) * W + kx * a->dw - a->pw;
      off[ky * KW + kx] = o;
      omin = o < omin ? o : omin;
      omax = o > omax ? o : omax;
    }
  /* bit t of pattern kx: is kernel column kx inside the row for a pixel in column t mod W (t < W + 32), so
   * 16 lanes starting at column c take 16 bits from bit c */
  uint8_t bits[CONV_DWF_MAX_KW][(CONV_DWF_MAX_W + 32) / 8 + 4];
  for (int64_t kx = 0; kx < KW; kx++) {
    const int64_t s = kx * a->dw - a->pw;
    memset(bits[kx], 0, (size_t)(W + 32) / 8 + 4);
    for (int64_t t = 0, col = 0; t < W + 32; t++, col = col + 1 == W ? 0 : col + 1)
      if (col + s >= 0 && col + s < W) bits[kx][t >> 3] |= (uint8_t)(1u << (t & 7));
  }
  __mmask16 mk[DWF_CHUNK / 16 * (CONV_DWF_MAX_KW + CONV_DWF_MAX_TAPS)];
  const int64_t step = 16 % W;
  const int simple = conv_act_simple(a->act);
  int64_t col = a->p0 % W;
  for (int64_t q0 = a->p0; q0 < a->p1; q0 += DWF_CHUNK) {
    const int64_t q1 = a->p1 - q0 < DWF_CHUNK ? a->p1 : q0 + DWF_CHUNK;
    /* vectors [e0, e1) read only inside the plane: q + omin >= 0 and q + 15 + omax < HW */
    int64_t e0 = q0 + omin >= 0 ? 0 : (-omin - q0 + 15) / 16, e1 = (HW - 16 - omax - q0) / 16 + 1;
    if (HW - 16 - omax - q0 < 0) e1 = 0;
    __mmask16* m = mk;
    for (int64_t q = q0; q < q1; q += 16, m += KW + nk) {
      for (int64_t kx = 0; kx < KW; kx++) {
        uint32_t word;
        memcpy(&word, bits[kx] + (col >> 3), sizeof word);
        m[kx] = (__mmask16)(word >> (col & 7));
        for (int64_t ky = 0; ky < KH; ky++) {
          int64_t t = ky * KW + kx, lo = -(q + off[t]), hi = HW - (q + off[t]);
          lo = lo < 0 ? 0 : lo;
          hi = hi > 16 ? 16 : hi;
          m[KW + t] = (__mmask16)(hi <= lo ? 0 : m[kx] & ((1u << hi) - 1) & ~((1u << lo) - 1));
        }
      }
      col += step;
      if (col >= W) col -= W;
    }
    if (KH == 3 && KW == 3 && simple)
      dwf_chunk512(3, 3, 1, a, off, q0, q1, e0, e1, mk);
    else if (simple)
      dwf_chunk512((int)KH, (int)KW, 1, a, off, q0, q1, e0, e1, mk);
    else
      dwf_chunk512((int)KH, (int)KW, 0, a, off, q0, q1, e0, e1, mk);
  }
}

AVX2 void conv_dw_avx2(const conv_dw_args* a) {
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const int simple = conv_act_simple(a->act);
  const __m256 vlo = _mm256_set1_ps(flo), vhi = _mm256_set1_ps(fhi), vb = _mm256_set1_ps(a->bias);
  const int64_t nk = a->kh * a->kw;
  int64_t koff[49];
  const int small = nk <= 49;
  if (small)
    for (int64_t ky = 0; ky < a->kh; ky++)
      for (int64_t kx = 0; kx < a->kw; kx++) {
        int64_t c = kx * a->dw;
        koff[ky * a->kw + kx] = ky * a->dh * a->rstride + (c % a->sw) * a->pstride + c / a->sw;
      }
  float tmp[8];
  for (int64_t oy = a->oy0; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    const float* base = a->buf + oy * a->sh * a->rstride;
    for (int64_t ox = 0; ox < a->OW; ox += 8) {
      const float* p = base + ox;
      __m256 acc0 = vb, acc1 = _mm256_setzero_ps();
      if (small) {
        int64_t i = 0;
        for (; i + 2 <= nk; i += 2) {
          acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a->w + i), _mm256_loadu_ps(p + koff[i]), acc0);
          acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a->w + i + 1), _mm256_loadu_ps(p + koff[i + 1]), acc1);
        }
        if (i < nk) acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a->w + i), _mm256_loadu_ps(p + koff[i]), acc0);
      } else {
        for (int64_t ky = 0; ky < a->kh; ky++)
          for (int64_t kx = 0; kx < a->kw; kx++) {
            int64_t c = kx * a->dw;
            const float* s = p + ky * a->dh * a->rstride + (c % a->sw) * a->pstride + c / a->sw;
            acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a->w + ky * a->kw + kx), _mm256_loadu_ps(s), acc0);
          }
      }
      __m256 v = _mm256_add_ps(acc0, acc1);
      if (simple) v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));
      if (a->OW - ox >= 8) {
        _mm256_storeu_ps(yr + ox, v);
      } else {
        _mm256_storeu_ps(tmp, v);
        for (int64_t j = 0; j < a->OW - ox; j++) yr[ox + j] = tmp[j];
      }
    }
    if (!simple) pkt_act_avx2(yr, a->OW, a->act, a->lo, a->hi);
  }
}
/* ------------------------------------------------------------------ AVX2 depthwise 3x3, rows in place */
/* 3x3, padding 1, dilation 1 (mobilenet's depthwise convs; conv_dw_flat admits only these on AVX2): output
 * rows from the input rows read in place, 8 pixels a vector. A vector whose taps reach past either end of
 * the row (the first, and those near the end) loads with lane masks, so the padding columns read as zero
 * and nothing outside the row is touched; rows above and below the image read a zero row. */
INLINE2 __m256i dw3_iota(void) { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
/* Lanes i with lo <= i < hi. */
INLINE2 __m256i dw3_between(int64_t lo, int64_t hi) {
  const __m256i i = dw3_iota();
  lo = lo < -1 ? -1 : lo > 8 ? 8 : lo;
  hi = hi < 0 ? 0 : hi > 9 ? 9 : hi;
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), i),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), i));
}
/* 8 floats from column c of a row of W, zero outside [0, W); masked-off lanes are never read, so c may
 * lie outside the row. */
INLINE2 __m256 dw3_load(int EDGE, const float* row, int64_t c, int64_t W) {
  const float* s = (const float*)((uintptr_t)row + (uintptr_t)(c * (int64_t)sizeof(float)));
  return EDGE ? _mm256_maskload_ps(s, dw3_between(-c, W - c)) : _mm256_loadu_ps(s);
}
INLINE2 __m256 dw3_clamp(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
INLINE2 void dw3_store(int EDGE, float* y, __m256 v, int64_t n) {
  if (EDGE && n < 8)
    _mm256_maskstore_ps(y, dw3_between(0, n), v);
  else
    _mm256_storeu_ps(y, v);
}

/* Output vector at column c of ROWS (1 or 2) stride-1 output rows: input rows r[0 .. ROWS + 1]. Each input
 * row is loaded once (left, centre, right) for both output rows. */
INLINE2 void dw3s1_vec(int ROWS, int EDGE, int CLAMP, const float* const* r, int64_t c, int64_t W, const __m256* w,
                       __m256 vb, __m256 vlo, __m256 vhi, float* y0, float* y1) {
  __m256 a0 = vb, a1 = vb;
  for (int k = 0; k < ROWS + 2; k++) {
    const __m256 l = dw3_load(EDGE, r[k], c - 1, W), m = dw3_load(EDGE, r[k], c, W), n = dw3_load(EDGE, r[k], c + 1, W);
    if (k < 3) { /* kernel row k of output row 0 */
      a0 = _mm256_fmadd_ps(w[3 * k], l, a0);
      a0 = _mm256_fmadd_ps(w[3 * k + 1], m, a0);
      a0 = _mm256_fmadd_ps(w[3 * k + 2], n, a0);
    }
    if (ROWS == 2 && k >= 1) { /* kernel row k - 1 of output row 1 */
      a1 = _mm256_fmadd_ps(w[3 * k - 3], l, a1);
      a1 = _mm256_fmadd_ps(w[3 * k - 2], m, a1);
      a1 = _mm256_fmadd_ps(w[3 * k - 1], n, a1);
    }
  }
  if (CLAMP) a0 = dw3_clamp(a0, vlo, vhi), a1 = dw3_clamp(a1, vlo, vhi);
  dw3_store(EDGE, y0 + c, a0, W - c);
  if (ROWS == 2) dw3_store(EDGE, y1 + c, a1, W - c);
}

INLINE2 void dw3s1_rows2(int CLAMP, const conv_dwf_args* a, const float* zrow) {
  const int64_t W = a->W, H = a->H, oy0 = a->p0 / W, oy1 = a->p1 / W;
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const __m256 vlo = _mm256_set1_ps(flo), vhi = _mm256_set1_ps(fhi);
  /* vectors at c in [8, cend) read columns c - 1 .. c + 8, all inside the row */
  const int64_t cend = W >= 9 ? (W - 9) / 8 * 8 + 1 : 0;
  for (int64_t p = 0; p < a->planes; p++) {
    const float* x = a->x + p * a->xs;
    float* y = a->y + p * a->ys - a->p0;
    __m256 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm256_set1_ps(a->w[p * 9 + t]);
    const __m256 vb = _mm256_set1_ps(a->b ? a->b[p] : 0.f);
    for (int64_t oy = oy0; oy < oy1; oy += 2) {
      const float* r[4];
      for (int k = 0; k < 4; k++) {
        const int64_t iy = oy - 1 + k;
        r[k] = iy >= 0 && iy < H ? x + (iy - a->row0) * W : zrow;
      }
      float *y0 = y + oy * W, *y1 = y0 + W;
      int64_t c = 0;
      if (oy + 2 <= oy1) {
        dw3s1_vec(2, 1, CLAMP, r, 0, W, w, vb, vlo, vhi, y0, y1);
        for (c = 8; c < cend; c += 8) dw3s1_vec(2, 0, CLAMP, r, c, W, w, vb, vlo, vhi, y0, y1);
        for (; c < W; c += 8) dw3s1_vec(2, 1, CLAMP, r, c, W, w, vb, vlo, vhi, y0, y1);
        if (!CLAMP) pkt_act_avx2(y0, 2 * W, a->act, a->lo, a->hi);
      } else {
        dw3s1_vec(1, 1, CLAMP, r, 0, W, w, vb, vlo, vhi, y0, y1);
        for (c = 8; c < cend; c += 8) dw3s1_vec(1, 0, CLAMP, r, c, W, w, vb, vlo, vhi, y0, y1);
        for (; c < W; c += 8) dw3s1_vec(1, 1, CLAMP, r, c, W, w, vb, vlo, vhi, y0, y1);
        if (!CLAMP) pkt_act_avx2(y0, W, a->act, a->lo, a->hi);
      }
    }
  }
}

/* The even-indexed floats of the 16 at a, b (a0 a2 .. a6 b0 .. b6) and the odd ones, each left in the
 * order [0 1 4 5 | 2 3 6 7] of in-lane shuffles: all taps share it, so the sum is put in order once. */
INLINE2 __m256 dw3_even(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, 0x88); }
INLINE2 __m256 dw3_odd(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, 0xDD); }

/* Output vector at column c of a stride-2 output row: it reads input columns 2c - 1 .. 2c + 15 of rows
 * r[0..2]; the centre taps are the even columns from 2c, the right taps the odd ones, the left taps the odd
 * ones from 2c - 2. */
INLINE2 void dw3s2_vec(int EDGE, int CLAMP, const float* const* r, int64_t c, int64_t W, int64_t OW, const __m256* w,
                       __m256 vb, __m256 vlo, __m256 vhi, float* y) {
  __m256 acc[3];
  for (int k = 0; k < 3; k++) {
    const __m256 v0 = dw3_load(EDGE, r[k], 2 * c, W), v1 = dw3_load(EDGE, r[k], 2 * c + 8, W);
    const __m256 l0 = dw3_load(EDGE, r[k], 2 * c - 2, W), l1 = dw3_load(EDGE, r[k], 2 * c + 6, W);
    acc[k] = _mm256_fmadd_ps(w[3 * k], dw3_odd(l0, l1), k == 0 ? vb : _mm256_setzero_ps());
    acc[k] = _mm256_fmadd_ps(w[3 * k + 1], dw3_even(v0, v1), acc[k]);
    acc[k] = _mm256_fmadd_ps(w[3 * k + 2], dw3_odd(v0, v1), acc[k]);
  }
  __m256 v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), acc[2]);
  v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
  if (CLAMP) v = dw3_clamp(v, vlo, vhi);
  dw3_store(EDGE, y + c, v, OW - c);
}

INLINE2 void dw3s2_rows2(int CLAMP, const conv_dwf_args* a, const float* zrow) {
  const int64_t W = a->W, H = a->H, OW = (W + 1) / 2, oy0 = a->p0 / OW, oy1 = a->p1 / OW;
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const __m256 vlo = _mm256_set1_ps(flo), vhi = _mm256_set1_ps(fhi);
  /* vectors at c in [8, cend) read columns 2c - 2 .. 2c + 15, all inside the row */
  const int64_t cend = W >= 16 ? (W - 16) / 2 / 8 * 8 + 1 : 0;
  for (int64_t p = 0; p < a->planes; p++) {
    const float* x = a->x + p * a->xs;
    float* y = a->y + p * a->ys - a->p0;
    __m256 w[9];
    for (int t = 0; t < 9; t++) w[t] = _mm256_set1_ps(a->w[p * 9 + t]);
    const __m256 vb = _mm256_set1_ps(a->b ? a->b[p] : 0.f);
    for (int64_t oy = oy0; oy < oy1; oy++) {
      const float* r[3];
      for (int k = 0; k < 3; k++) {
        const int64_t iy = 2 * oy - 1 + k;
        r[k] = iy >= 0 && iy < H ? x + (iy - a->row0) * W : zrow;
      }
      float* yr = y + oy * OW;
      int64_t c;
      dw3s2_vec(1, CLAMP, r, 0, W, OW, w, vb, vlo, vhi, yr);
      for (c = 8; c < cend; c += 8) dw3s2_vec(0, CLAMP, r, c, W, OW, w, vb, vlo, vhi, yr);
      for (; c < OW; c += 8) dw3s2_vec(1, CLAMP, r, c, W, OW, w, vb, vlo, vhi, yr);
      if (!CLAMP) pkt_act_avx2(yr, OW, a->act, a->lo, a->hi);
    }
  }
}

AVX2 void conv_dwf_avx2(const conv_dwf_args* a) {
  float zrow[CONV_DWF_MAX_W + 16]; /* rows above and below the image; plain loads read up to W + 15 */
  memset(zrow, 0, (size_t)(a->W + 16) * sizeof(float));
  const int clamp = conv_act_simple(a->act);
  if (a->stride == 1 && clamp)
    dw3s1_rows2(1, a, zrow);
  else if (a->stride == 1)
    dw3s1_rows2(0, a, zrow);
  else if (clamp)
    dw3s2_rows2(1, a, zrow);
  else
    dw3s2_rows2(0, a, zrow);
}
#endif
