/* The x86 pair kernel (qdw_x86.c) on zmm, for CPUs with AVX512_VNNI (PKT_CPU_VNNI, which the CPU detection gives
 * only with AVX512BW): vpdpwssd adds a pair of taps for 16 outputs in place, the pairs are built straight from the
 * int8 rows with masked loads (the padding falls out of the masks, so short rows need no scalar tail), and the band
 * is built just before it is summed, so its rows are still in L1. The sums of 16 outputs stay in a register over
 * every tap and are requantized there (vcvtps2dq rounds half to even under the default MXCSR); the int8 results of a
 * band go to the scratch flat ([rows][Wq], as the sums run) and their OW columns are copied out. Same layout, taps
 * and bytes as the AVX2 pair kernel. */
#include "compute/qdw/qdw.h"

#if defined(PKT_QDW_HAVE_X86)
#include <immintrin.h>
#include <string.h>

#define TV __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

/* lanes [lo, hi) of 32 (clipped) */
static inline __mmask32 lanes(int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (hi > 32) hi = 32;
  if (hi <= lo) return 0;
  return (__mmask32)((((uint64_t)1 << hi) - 1) & ~(((uint64_t)1 << lo) - 1));
}

/* int16 lanes of x[c - pw] - iz for columns c = c0 .. c0 + 31 (0 where c - pw is outside [0, W)). Masked-off lanes
 * are not read (no fault), so the load may start before the row or end past it. */
TV __attribute__((always_inline)) static inline __m512i widen(const int8_t* src, int64_t W, int64_t pw, int64_t c0,
                                                               __m512i vz) {
  const __mmask32 m = c0 >= pw && c0 - pw + 32 <= W ? (__mmask32)0xffffffffu : lanes(pw - c0, pw + W - c0);
  const __m512i v = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, src + (c0 - pw)));
  return _mm512_maskz_sub_epi16(m, v, vz);
}

/* Padded row r (phase r % sh, row r / sh) of the pair plane, as qdw_x86.c's. */
TV static void build_row(const pkt_qdw_args* a, int32_t* q, int64_t Wq, int64_t plane, int64_t r) {
  const int64_t sh = a->sh, W = a->W, pw = a->pw, iy = r - a->ph;
  const int64_t pr = sh == 1 ? 0 : sh == 2 ? (r & 1) : r % sh, qr = sh == 1 ? r : sh == 2 ? r >> 1 : r / sh;
  int32_t* dst = q + pr * plane + qr * Wq; /* no division per row for the common strides */
  if (iy < 0 || iy >= a->H) {
    memset(dst, 0, (size_t)Wq * 4u);
    return;
  }
  const int8_t* src = a->x + iy * W;
  const __m512i vz = _mm512_set1_epi16((short)a->iz);
  if (a->sw == 2) { /* the pairs are the padded row itself, as int16 */
    int16_t* d = (int16_t*)(void*)dst;
    for (int64_t c0 = 0; c0 < 2 * Wq; c0 += 32)
      _mm512_mask_storeu_epi16(d + c0, 2 * Wq - c0 >= 32 ? (__mmask32)0xffffffffu : lanes(0, 2 * Wq - c0),
                               widen(src, W, pw, c0, vz));
  } else { /* q[c] = (v[c], v[c + 1]): 16 pairs from 17 columns */
    const __m512i idx = _mm512_set_epi16(16, 15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5,
                                         5, 4, 4, 3, 3, 2, 2, 1, 1, 0);
    for (int64_t c0 = 0; c0 < Wq; c0 += 16) {
      const __mmask16 sm = Wq - c0 >= 16 ? (__mmask16)0xffff : (__mmask16)lanes(0, Wq - c0);
      _mm512_mask_storeu_epi32(dst + c0, sm, _mm512_permutexvar_epi16(idx, widen(src, W, pw, c0, vz)));
    }
  }
}

typedef struct vq {
  __m512 s, flo, fhi;
  __m512i z;
} vq;

TV __attribute__((always_inline)) static inline __m128i requant16(__m512i acc, const vq* r) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), r->s);
  f = _mm512_min_ps(_mm512_max_ps(f, r->flo), r->fhi);
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), r->z));
}

/* out[j] = requant(bias + sum over the taps of pairs(base + off[t] + j) . wp[t]) for j in [0, n) rounded up to 16
 * (reads up to 15 pairs of slack past the plane, results dropped). */
TV __attribute__((always_inline)) static inline void pair_band(const int32_t* base, const int64_t* off,
                                                                const __m512i* wp, int taps, __m512i bias, int64_t n,
                                                                const vq* r, int8_t* out) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m512i s0 = bias, s1 = bias;
    for (int t = 0; t < taps; t++) {
      const int32_t* p = base + off[t] + j;
      s0 = _mm512_dpwssd_epi32(s0, _mm512_loadu_si512(p), wp[t]);
      s1 = _mm512_dpwssd_epi32(s1, _mm512_loadu_si512(p + 16), wp[t]);
    }
    _mm_storeu_si128((__m128i*)(void*)(out + j), requant16(s0, r));
    _mm_storeu_si128((__m128i*)(void*)(out + j + 16), requant16(s1, r));
  }
  for (; j < n; j += 16) {
    __m512i s0 = bias;
    for (int t = 0; t < taps; t++) s0 = _mm512_dpwssd_epi32(s0, _mm512_loadu_si512(base + off[t] + j), wp[t]);
    _mm_storeu_si128((__m128i*)(void*)(out + j), requant16(s0, r));
  }
}

TV void pkt_qdw_plane_avx512vnni(const pkt_qdw_args* a) {
  const int64_t sh = a->sh, sw = a->sw, OW = a->OW;
  pkt_qdw_layout L;
  pkt_qdw_geometry(a->H, a->W, sh, sw, a->ph, a->pw, &L);
  const int64_t Wq = L.Wq, plane = L.Hq * Wq;
  int32_t* q = a->buf;
  int8_t* out = (int8_t*)(void*)(q + sh * plane + PKT_QDW_SLACK); /* the sums' room of qdw.h, as bytes */
  memset(q + sh * plane, 0, PKT_QDW_SLACK * 4u);
  /* the pair taps: offset in q and (w0, w1) */
  int64_t off[PKT_QDW_PAIR_TAPS];
  __m512i wp[PKT_QDW_PAIR_TAPS];
  int taps = 0;
  for (int64_t ky = 0; ky < a->kh; ky++) {
    const int64_t ry = ky * a->dh;
    for (int64_t kx = 0; kx < a->kw; kx += 2) {
      const int16_t w0 = a->w[ky * a->kw + kx], w1 = kx + 1 < a->kw ? a->w[ky * a->kw + kx + 1] : 0;
      off[taps] = (ry % sh) * plane + (ry / sh) * Wq + kx / sw;
      wp[taps++] = _mm512_set1_epi32((int32_t)((uint32_t)(uint16_t)w0 | ((uint32_t)(uint16_t)w1 << 16)));
    }
  }
  const vq r = {_mm512_set1_ps(a->scale), _mm512_set1_ps((float)(a->lo - a->oz)),
                _mm512_set1_ps((float)(a->hi - a->oz)), _mm512_set1_epi32(a->oz)};
  const __m512i bias = _mm512_set1_epi32(a->bias);
  const int64_t band = Wq >= PKT_QDW_BAND ? 1 : PKT_QDW_BAND / Wq;
  int64_t built = 0; /* padded rows built so far */
  for (int64_t oy0 = 0; oy0 < a->OH; oy0 += band) {
    const int64_t oy1 = oy0 + band < a->OH ? oy0 + band : a->OH;
    /* the band's last output row reads padded rows up to (oy1 - 1) * sh + (kh - 1) * dh (the slack lanes past it
     * may read rows not built yet: their results are dropped) */
    const int64_t need = (oy1 - 1) * sh + (a->kh - 1) * a->dh + 1;
    for (; built < need; built++) build_row(a, q, Wq, plane, built);
    const int64_t n = (oy1 - oy0 - 1) * Wq + OW;
    if (taps == 6)
      pair_band(q + oy0 * Wq, off, wp, 6, bias, n, &r, out); /* 3x3: the count known, the weights in registers */
    else
      pair_band(q + oy0 * Wq, off, wp, taps, bias, n, &r, out);
    for (int64_t oy = oy0; oy < oy1; oy++) memcpy(a->y + oy * OW, out + (oy - oy0) * Wq, (size_t)OW);
  }
}
#endif
