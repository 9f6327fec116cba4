/* conv2d x86-64 paths (see conv_impl.h): the family's GEMM micro-kernels and row kernels instantiated for
 * AVX-512 and AVX2+FMA (conv_simd_impl.h), and what is particular to each: the flat depthwise kernels. Compiled with target attributes, so the file builds without -m flags and runs only
 * where the session's ISA config points at it. */
#include "compute/conv/conv_impl.h"

#if defined(CONV_HAVE_X86)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define INLINE2 __attribute__((target("avx2,fma"), always_inline)) static inline
#define INLINE512 __attribute__((target("avx512f"), always_inline)) static inline

/* ------------------------------------------------------------------ conv_simd_impl.h per ISA */
/* GEMM tiles AVX-512 12 x 32 (24 of the 32 zmm) and AVX2+FMA 6 x 16 (12 of the 16 ymm), both prefetching and
 * both with up to 4 extra columns, rows in lanes (a 7x7 image's last 1-pixel panel: 1 FMA a step, not 6 or 12);
 * depthwise blocks of one vector (16 and 8 columns). */
INLINE2 __m256i lanes2(int n) { /* the first n lanes */
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __mmask16 lanes512(int n) { return (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1); }

#define CV_NAME(x) x##_avx512
#define CV_TARGET AVX512
#define CV_ACT pkt_act_avx512
#define CV_MR CONV_MR_AVX512
#define CV_NV 2
#define CV_EX_MAX 4
#define CV_PREFETCH_A(ak) _mm_prefetch((const char*)((ak) + 12 * 16), _MM_HINT_T0)
#define CV_PREFETCH_B(bk) (_mm_prefetch((const char*)(bk), _MM_HINT_T0), _mm_prefetch((const char*)((bk) + 31), _MM_HINT_T0))
#define CV_DW_NV 1
#define V __m512
#define VL 16
#define VZERO _mm512_setzero_ps
#define VSET _mm512_set1_ps
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VLOAD_PART(p, n) _mm512_maskz_loadu_ps(lanes512(n), p)
#define VSTORE_PART(p, v, n) _mm512_mask_storeu_ps(p, lanes512(n), v)
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define VCLAMP(v, lo, hi) _mm512_min_ps(hi, _mm512_max_ps(lo, v)) /* v second: NaN stays NaN */
#define VUNZIP(a, b, e, o)                                                                                     \
  (e = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b), \
   o = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b))
#include "compute/conv/conv_simd_impl.h"

#define CV_NAME(x) x##_avx2
#define CV_TARGET AVX2
#define CV_ACT pkt_act_avx2
#define CV_MR CONV_MR_AVX2
#define CV_NV 2
#define CV_EX_MAX 4
#define CV_PREFETCH_A(ak) _mm_prefetch((const char*)((ak) + 6 * 32), _MM_HINT_T0)
#define CV_PREFETCH_B(bk) _mm_prefetch((const char*)((bk) + 15), _MM_HINT_T0)
#define CV_DW_NV 1
#define V __m256
#define VL 8
#define VZERO _mm256_setzero_ps
#define VSET _mm256_set1_ps
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VLOAD_PART(p, n) _mm256_maskload_ps(p, lanes2(n))
#define VSTORE_PART(p, v, n) _mm256_maskstore_ps(p, lanes2(n), v)
#define VBCAST _mm256_broadcast_ss
#define VFMA _mm256_fmadd_ps
#define VADD _mm256_add_ps
#define VCLAMP(v, lo, hi) _mm256_min_ps(hi, _mm256_max_ps(lo, v))
/* in-lane shuffles leave [a0 a2 b0 b2 | a4 a6 b4 b6]; the 64-bit permute puts the halves in order */
#define VUNZIP(a, b, e, o)                                                                                    \
  (e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8)),       \
   o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8)))
#include "compute/conv/conv_simd_impl.h"

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
