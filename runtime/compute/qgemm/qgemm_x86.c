/* x86-64 int8 GEMM micro-kernels (see qgemm_internal.h for the packed layout):
 *   avx512vnni_12x32  vpdpbusd on zmm: 24 accumulators of the 32 registers; A shifted to u8 (xor 0x80)
 *   avxvnni_6x16      the same on ymm with the VEX encoding (AVX-VNNI, Alder Lake / Zen 4 and later)
 *   avx2_3x8          no VNNI, kr 8: A and B sign-extended to int16 and vpmaddwd (pairs of int16 products summed
 *                     into int32 never saturate, unlike vpmaddubsw), horizontal adds per row at the end
 * and the vectorized row quantization. Target attributes only: the file builds without -m flags and runs only
 * where the session's config points at it. Each kernel leaves a row's raw dot products in a small buffer and a
 * vector epilogue (compensation, requantization or dequantization) writes the row. */
#include "compute/qgemm/qgemm_internal.h"

#if defined(PKT_QGEMM_HAVE_X86)
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define T512 __attribute__((target("avx2,fma,avx512f,avx512vnni")))
#define T_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define T_AVX2 __attribute__((target("avx2,fma")))

/* acc += dot4(a u8, b s8) in place. GCC 12 copies the accumulator of the intrinsic into a fresh register and back
 * every step (two moves per vpdpbusd); the asm keeps it where it is. */
#define DPBUSD512(acc, a, b) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b))
#define DPBUSD256(acc, a, b) __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b))

static inline int32_t load_u32(const int8_t* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline long long load_u64(const int8_t* p) {
  long long v;
  memcpy(&v, p, 8);
  return v;
}
/* The last k % 4 bytes of a row (the packed B is zero there, so the filler bytes do not count). */
static inline int32_t load_tail(const int8_t* p, int n) {
  int32_t v = 0;
  memcpy(&v, p, (size_t)n);
  return v;
}

/* ---- epilogues over 8 (AVX2) or 16 (AVX-512) columns of a row, the scalar code for the rest ---- */
T_AVX2 static void finish_row_avx2(const qgemm_tile* t, int r, const int32_t* dot, int shift, int NR) {
  const pkt_qgemm_args* g = t->g;
  const int64_t m = t->m0 + r;
  const int32_t* colsum = qgemm_colsum(t->panel);
  const int32_t* bias = qgemm_bias(t->panel, NR);
  const __m256i zs = _mm256_set1_epi32(qgemm_row_zp(g, m) + shift);
  int j = 0;
  if (g->epilogue == PKT_QGEMM_REQUANT) {
    const __m256 lo = _mm256_set1_ps(qgemm_lo(g)), hi = _mm256_set1_ps(qgemm_hi(g));
    const __m256i czp = _mm256_set1_epi32(g->c_zp), rb = _mm256_set1_epi32(qgemm_row_bias(g, m));
    const float* cs = qgemm_col_scale(t);
    const __m256 rs = _mm256_set1_ps(cs ? 0.f : g->row_scale[m]);
    int8_t* c = g->C8 + m * g->ldc + t->n0;
    for (; j + 8 <= t->nr; j += 8) {
      __m256i acc = _mm256_add_epi32(_mm256_loadu_si256((const __m256i*)(dot + j)),
                                     _mm256_loadu_si256((const __m256i*)(bias + j)));
      acc = _mm256_sub_epi32(_mm256_add_epi32(acc, rb),
                             _mm256_mullo_epi32(zs, _mm256_loadu_si256((const __m256i*)(colsum + j))));
      __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), cs ? _mm256_loadu_ps(cs + j) : rs);
      f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
      __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), czp); /* MXCSR default: nearest, ties to even */
      __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      _mm_storel_epi64((__m128i*)(c + j), _mm_packs_epi16(w, w));
    }
  } else {
    const __m256 s = _mm256_set1_ps(g->a_scale[m]);
    float* c = g->Cf + m * g->ldc + t->n0;
    for (; j + 8 <= t->nr; j += 8) {
      __m256i acc = _mm256_add_epi32(_mm256_loadu_si256((const __m256i*)(dot + j)),
                                     _mm256_loadu_si256((const __m256i*)(bias + j)));
      acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(zs, _mm256_loadu_si256((const __m256i*)(colsum + j))));
      __m256 f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), s), _mm256_loadu_ps(g->w_scale + t->n0 + j));
      if (g->fbias) f = _mm256_add_ps(f, _mm256_loadu_ps(g->fbias + t->n0 + j));
      _mm256_storeu_ps(c + j, f);
    }
  }
  if (j < t->nr) pkt_qgemm_finish_cols(t, r, dot, shift, j);
  qgemm_row_act(t, r);
}

T512 static void finish_row_avx512(const qgemm_tile* t, int r, const int32_t* dot, int shift, int NR) {
  const pkt_qgemm_args* g = t->g;
  const int64_t m = t->m0 + r;
  const int32_t* colsum = qgemm_colsum(t->panel);
  const int32_t* bias = qgemm_bias(t->panel, NR);
  const __m512i zs = _mm512_set1_epi32(qgemm_row_zp(g, m) + shift);
  for (int j = 0; j < t->nr; j += 16) {
    const __mmask16 k = t->nr - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (t->nr - j)) - 1);
    __m512i acc = _mm512_add_epi32(_mm512_loadu_si512(dot + j), _mm512_loadu_si512(bias + j));
    acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zs, _mm512_loadu_si512(colsum + j)));
    __m512 f = _mm512_cvtepi32_ps(acc);
    if (g->epilogue == PKT_QGEMM_REQUANT) {
      if (g->row_bias) f = _mm512_cvtepi32_ps(_mm512_add_epi32(acc, _mm512_set1_epi32(g->row_bias[m])));
      f = _mm512_mul_ps(f, g->row_scale ? _mm512_set1_ps(g->row_scale[m]) : _mm512_maskz_loadu_ps(k, g->scale + t->n0 + j));
      f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(qgemm_lo(g))), _mm512_set1_ps(qgemm_hi(g)));
      __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(g->c_zp));
      _mm512_mask_cvtepi32_storeu_epi8(g->C8 + m * g->ldc + t->n0 + j, k, q);
    } else {
      f = _mm512_mul_ps(_mm512_mul_ps(f, _mm512_set1_ps(g->a_scale[m])), _mm512_maskz_loadu_ps(k, g->w_scale + t->n0 + j));
      if (g->fbias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(k, g->fbias + t->n0 + j));
      _mm512_mask_storeu_ps(g->Cf + m * g->ldc + t->n0 + j, k, f);
    }
  }
  qgemm_row_act(t, r);
}

/* The kernels name every accumulator (c<row>_<vector>): GCC keeps an array of them in memory around the asm
 * statements, and copies them around the loop otherwise. */
#define ROWS3(X) X(0) X(1) X(2)
#define ROWS6(X) ROWS3(X) X(3) X(4) X(5)
#define ROWS12(X) ROWS6(X) X(6) X(7) X(8) X(9) X(10) X(11)

/* ---- AVX-512 VNNI: 12 rows x 32 columns ---- */
T512 void pkt_qgemm_ukernel_avx512vnni_12x32(const qgemm_tile* t) {
  enum { MR = 12, NR = 32 };
  const pkt_qgemm_args* g = t->g;
  const int8_t* w = qgemm_weights(t->panel, NR);
  const int8_t* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = g->A + (t->m0 + (r < t->mr ? r : t->mr - 1)) * g->lda;
  const __m512i flip = _mm512_set1_epi32((int)0x80808080u);
#define DECL(r) __m512i c##r##_0 = _mm512_setzero_si512(), c##r##_1 = _mm512_setzero_si512();
  ROWS12(DECL)
#undef DECL
  const int64_t K = g->K, kfull = K / 4 * 4;
#define ROW(r)                                                 \
  {                                                            \
    __m512i a = _mm512_xor_si512(_mm512_set1_epi32(LOAD(r)), flip); \
    DPBUSD512(c##r##_0, a, b0);                                \
    DPBUSD512(c##r##_1, a, b1);                                \
  }
#define STEP                                                                   \
  {                                                                            \
    const __m512i b0 = _mm512_loadu_si512(w), b1 = _mm512_loadu_si512(w + 64); \
    ROWS12(ROW)                                                                \
  }
  int64_t k = 0;
#define LOAD(r) load_u32(rows[r] + k)
  for (; k < kfull; k += 4, w += 4 * NR) STEP
#undef LOAD
#define LOAD(r) load_tail(rows[r] + k, (int)(K - k))
  if (k < K) STEP
#undef LOAD
#undef STEP
#undef ROW
  /* All MR rows stored, then the mr real ones finished. */
  int32_t(*dot)[NR] = (int32_t(*)[NR])t->dot; /* the caller's (qgemm_tile.dot) */
#define STORE(r)                              \
  _mm512_storeu_si512(dot[r], c##r##_0);      \
  _mm512_storeu_si512(dot[r] + 16, c##r##_1);
  ROWS12(STORE)
#undef STORE
  for (int r = 0; r < t->mr; r++) finish_row_avx512(t, r, dot[r], 128, NR);
}

/* ---- AVX-VNNI: 6 rows x 16 columns ---- */
T_AVXVNNI void pkt_qgemm_ukernel_avxvnni_6x16(const qgemm_tile* t) {
  enum { MR = 6, NR = 16 };
  const pkt_qgemm_args* g = t->g;
  const int8_t* w = qgemm_weights(t->panel, NR);
  const int8_t* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = g->A + (t->m0 + (r < t->mr ? r : t->mr - 1)) * g->lda;
  const __m256i flip = _mm256_set1_epi32((int)0x80808080u);
#define DECL(r) __m256i c##r##_0 = _mm256_setzero_si256(), c##r##_1 = _mm256_setzero_si256();
  ROWS6(DECL)
#undef DECL
  const int64_t K = g->K, kfull = K / 4 * 4;
#define ROW(r)                                                 \
  {                                                            \
    __m256i a = _mm256_xor_si256(_mm256_set1_epi32(LOAD(r)), flip); \
    DPBUSD256(c##r##_0, a, b0);                                \
    DPBUSD256(c##r##_1, a, b1);                                \
  }
#define STEP                                                                                                  \
  {                                                                                                           \
    const __m256i b0 = _mm256_loadu_si256((const __m256i*)w), b1 = _mm256_loadu_si256((const __m256i*)(w + 32)); \
    ROWS6(ROW)                                                                                                \
  }
  int64_t k = 0;
#define LOAD(r) load_u32(rows[r] + k)
  for (; k < kfull; k += 4, w += 4 * NR) STEP
#undef LOAD
#define LOAD(r) load_tail(rows[r] + k, (int)(K - k))
  if (k < K) STEP
#undef LOAD
#undef STEP
#undef ROW
  int32_t(*dot)[NR] = (int32_t(*)[NR])t->dot; /* the caller's (qgemm_tile.dot) */
#define STORE(r)                                           \
  _mm256_storeu_si256((__m256i*)dot[r], c##r##_0);         \
  _mm256_storeu_si256((__m256i*)(dot[r] + 8), c##r##_1);
  ROWS6(STORE)
#undef STORE
  for (int r = 0; r < t->mr; r++) finish_row_avx2(t, r, dot[r], 128, NR);
}

/* ---- AVX2 without VNNI: 3 rows x 8 columns, kr 8. Per k-group of 8: each row's 8 bytes sign-extended to int16
 * in both halves of a register, each pair of columns' 16 bytes (column 2p, column 2p + 1) sign-extended; vpmaddwd
 * sums pairs of int16 products into int32 and never saturates (unlike vpmaddubsw). Two horizontal adds and a
 * permute per row at the end make the 8 column sums. ---- */
T_AVX2 void pkt_qgemm_ukernel_avx2_3x8(const qgemm_tile* t) {
  enum { MR = 3, NR = 8 };
  const pkt_qgemm_args* g = t->g;
  const int8_t* w = qgemm_weights(t->panel, NR);
  const int8_t* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = g->A + (t->m0 + (r < t->mr ? r : t->mr - 1)) * g->lda;
#define DECL(r) __m256i c##r##_0 = _mm256_setzero_si256(), c##r##_1 = c##r##_0, c##r##_2 = c##r##_0, c##r##_3 = c##r##_0;
  ROWS3(DECL)
#undef DECL
#define ROW(r) const __m256i a##r = _mm256_cvtepi8_epi16(_mm_set1_epi64x(load_u64(src[r])));
#define PAIR(p)                                                                          \
  {                                                                                      \
    const __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(w + 16 * p))); \
    c0_##p = _mm256_add_epi32(c0_##p, _mm256_madd_epi16(a0, b));                          \
    c1_##p = _mm256_add_epi32(c1_##p, _mm256_madd_epi16(a1, b));                          \
    c2_##p = _mm256_add_epi32(c2_##p, _mm256_madd_epi16(a2, b));                          \
  }
  /* One loop body (GCC spills the accumulators when the K tail repeats it): the last k-group reads the rows'
   * remaining bytes from zero-padded copies. */
  const int8_t* src[MR] = {rows[0], rows[1], rows[2]};
  int8_t tail[MR][8];
  for (int64_t left = g->K; left > 0; left -= 8, w += 8 * NR) {
    if (left < 8)
      for (int r = 0; r < MR; r++) {
        memset(tail[r], 0, 8);
        memcpy(tail[r], src[r], (size_t)left);
        src[r] = tail[r];
      }
    ROWS3(ROW)
    PAIR(0) PAIR(1) PAIR(2) PAIR(3)
    for (int r = 0; r < MR; r++) src[r] += 8;
  }
#undef PAIR
#undef ROW
  int32_t(*dot)[NR] = (int32_t(*)[NR])t->dot; /* the caller's (qgemm_tile.dot) */
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  /* hadd twice: [c0 c2 c4 c6 | c1 c3 c5 c7]; the permute puts them in order */
#define STORE(r)                                                                                         \
  _mm256_storeu_si256((__m256i*)dot[r],                                                                \
                      _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(_mm256_hadd_epi32(c##r##_0, c##r##_1), \
                                                                    _mm256_hadd_epi32(c##r##_2, c##r##_3)), \
                                                  order));
  ROWS3(STORE)
#undef STORE
  for (int r = 0; r < t->mr; r++) finish_row_avx2(t, r, dot[r], 0, NR);
}

/* ---- packing B rows per call, kr 4 (the VNNI kernels): per k-group of 4 rows and 16 columns, two rounds of byte
 * and word unpacks give each column's 4 bytes in one 32-bit lane; vpmaddubsw/vpmaddwd against ones sum them into
 * the column sums. Partial groups and panels go through a zero-filled copy. ---- */
T_AVX2 void pkt_qgemm_pack_rows_kr4_avx2(const pkt_qgemm_config* qc, const int8_t* B, int64_t ldb, int64_t K,
                                         int64_t N, int64_t p0, int64_t p1, void* packed) {
  const int NR = qc->nr; /* 16 or 32 */
  const size_t panel_bytes = qgemm_panel_bytes(qc, K);
  const __m128i ones8 = _mm_set1_epi8(1), ones16 = _mm_set1_epi16(1);
  for (int64_t p = p0; p < p1; p++) {
    uint8_t* panel = (uint8_t*)packed + (size_t)p * panel_bytes;
    int8_t* w = (int8_t*)(panel + (size_t)NR * 8u);
    const int64_t n0 = p * NR, nc = N - n0 < NR ? N - n0 : NR;
    __m128i sums[8];
    for (int h = 0; h < NR / 4; h++) sums[h] = _mm_setzero_si128();
    for (int64_t k0 = 0; k0 < K; k0 += 4, w += 4 * NR) {
      for (int h = 0; h < NR / 16; h++) {
        __m128i x[4];
        for (int r = 0; r < 4; r++) {
          if (k0 + r < K && nc >= 16 * (h + 1)) {
            x[r] = _mm_loadu_si128((const __m128i*)(B + (k0 + r) * ldb + n0 + 16 * h));
          } else {
            int8_t tmp[16] = {0};
            const int64_t m = nc - 16 * h;
            if (k0 + r < K && m > 0) memcpy(tmp, B + (k0 + r) * ldb + n0 + 16 * h, (size_t)(m < 16 ? m : 16));
            x[r] = _mm_loadu_si128((const __m128i*)tmp);
          }
        }
        const __m128i t0 = _mm_unpacklo_epi8(x[0], x[1]), t1 = _mm_unpackhi_epi8(x[0], x[1]);
        const __m128i u0 = _mm_unpacklo_epi8(x[2], x[3]), u1 = _mm_unpackhi_epi8(x[2], x[3]);
        const __m128i o[4] = {_mm_unpacklo_epi16(t0, u0), _mm_unpackhi_epi16(t0, u0), _mm_unpacklo_epi16(t1, u1),
                              _mm_unpackhi_epi16(t1, u1)};
        for (int q = 0; q < 4; q++) {
          _mm_storeu_si128((__m128i*)(w + 64 * h + 16 * q), o[q]);
          sums[4 * h + q] = _mm_add_epi32(sums[4 * h + q], _mm_madd_epi16(_mm_maddubs_epi16(ones8, o[q]), ones16));
        }
      }
    }
    int32_t* colsum = (int32_t*)(void*)panel;
    for (int h = 0; h < NR / 4; h++) _mm_storeu_si128((__m128i*)(colsum + 4 * h), sums[h]);
    memset(colsum + NR, 0, (size_t)NR * 4u); /* bias */
  }
}

/* ---- row quantization: min, max and a finiteness check, then x * inv rounded, 8 lanes at a time ---- */
T_AVX2 void pkt_quantize_rows_avx2(int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q, float* a_scale,
                                   int32_t* a_zp) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), big = _mm256_set1_ps(FLT_MAX);
  for (int64_t m = 0; m < M; m++) {
    const float* row = x + m * ldx;
    int8_t* qr = q + m * K;
    __m256 vmn = _mm256_setzero_ps(), vmx = _mm256_setzero_ps(), ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
      __m256 v = _mm256_loadu_ps(row + k);
      ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_and_ps(v, absmask), big, _CMP_LE_OQ)); /* false for NaN */
      vmn = _mm256_min_ps(vmn, v);
      vmx = _mm256_max_ps(vmx, v);
    }
    float mn[8], mx[8];
    _mm256_storeu_ps(mn, vmn);
    _mm256_storeu_ps(mx, vmx);
    int finite = _mm256_movemask_ps(ok) == 0xff;
    for (int i = 1; i < 8; i++) {
      mn[0] = mn[i] < mn[0] ? mn[i] : mn[0];
      mx[0] = mx[i] > mx[0] ? mx[i] : mx[0];
    }
    float inv;
    if (!pkt_qgemm_row_qparams(row, k, K, mn[0], mx[0], finite, qr, &a_scale[m], &a_zp[m], &inv)) continue;
    const float lof = (float)(-128 - a_zp[m]), hif = (float)(127 - a_zp[m]);
    const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(lof), hi = _mm256_set1_ps(hif);
    const __m256i zp = _mm256_set1_epi32(a_zp[m]);
    for (k = 0; k + 8 <= K; k += 8) {
      __m256 f = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(row + k), vinv), lo), hi);
      __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
      __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      _mm_storel_epi64((__m128i*)(qr + k), _mm_packs_epi16(w, w));
    }
    for (; k < K; k++) {
      float f = row[k] * inv;
      f = f < lof ? lof : f > hif ? hif : f;
      qr[k] = (int8_t)((int32_t)nearbyintf(f) + a_zp[m]);
    }
  }
}
#endif
