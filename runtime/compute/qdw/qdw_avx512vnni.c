/* int8 depthwise planes on AVX512_VNNI (PKT_CPU_VNNI, which the CPU detection gives only with AVX512BW): a quad
 * kernel for dilation 1 along W and stride 1 or 2 along W (pkt_qdw_pair_fits).
 *
 * vpdpbusd multiplies 4 unsigned bytes by 4 signed ones and adds the 4 products to an int32 lane, in place. The
 * input goes in as u = x + 128 (x ^ 0x80; the padding holds iz + 128), so
 *   acc = bias + sum (x - iz) * w = bias - (iz + 128) * sum w + sum u * w
 * in wrapping int32 arithmetic, exact because the true sum fits (pkt_qdw_exact). Each padded row r is stored as
 * quads Q[c] = (u[sw*c], u[sw*c + 1], u[sw*c + 2], u[sw*c + 3]) (bytes past the row hold iz + 128 and meet weight 0),
 * in sh row phases of [Hq][Wq] as qdw_impl.h's int16 planes; taps 4t .. 4t + 3 of row ky for output column ox are
 * Q[ox + 4t / sw] of the row's phase, so a 3x3 window is 3 vpdpbusd per 16 outputs. The rows are built from int8
 * with masked loads (the padding falls out of the masks) just before the band that reads them first, so they are
 * still in L1; the sums of 16 outputs stay in a register over every tap and are requantized there (vcvtps2dq rounds
 * half to even under the default MXCSR). The int8 results of a band go to the scratch flat ([rows][Wq], as the
 * sums run) and their OW columns are copied out. */
#include "compute/qdw/qdw.h"

#if defined(PKT_QDW_HAVE_X86)
#include <immintrin.h>
#include <string.h>

#define TV __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

/* lanes [lo, hi) of 64 (clipped) */
static inline uint64_t lanes(int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (hi > 64) hi = 64;
  if (hi <= lo) return 0;
  return (hi == 64 ? ~(uint64_t)0 : ((uint64_t)1 << hi) - 1) & ~(((uint64_t)1 << lo) - 1);
}

/* quads [0, min(n, 16)) of v to dst: a masked store only at the row's end (they are slow on some CPUs) */
TV __attribute__((always_inline)) static inline void store16(uint32_t* dst, int64_t n, __m512i v) {
  if (n >= 16)
    _mm512_storeu_si512(dst, v);
  else
    _mm512_mask_storeu_epi32(dst, (__mmask16)lanes(0, n), v);
}

/* Padded row r (phase r % sh, row r / sh) as quads. Masked-off lanes are not read (no fault), so a load may start
 * before the source row or end past it; they take iz. */
TV static void build_row(const pkt_qdw_args* a, uint32_t* q, int64_t Wq, int64_t plane, int64_t r) {
  const int64_t sh = a->sh, W = a->W, pw = a->pw, iy = r - a->ph;
  const int64_t pr = sh == 1 ? 0 : sh == 2 ? (r & 1) : r % sh, qr = sh == 1 ? r : sh == 2 ? r >> 1 : r / sh;
  uint32_t* dst = q + pr * plane + qr * Wq; /* no division per row for the common strides */
  const uint8_t pad = (uint8_t)(a->iz ^ 0x80);
  if (iy < 0 || iy >= a->H) {
    memset(dst, pad, (size_t)Wq * 4u);
    return;
  }
  const int8_t* src = a->x + iy * W;
  if (a->sw == 1) { /* 16 quads from bytes c0 .. c0 + 18: lane k of 4 quads from dwords k, k + 1 */
    const __m256i fill = _mm256_set1_epi8((char)a->iz), flip = _mm256_set1_epi8((char)0x80);
    const __m512i perm = _mm512_set_epi32(4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0);
    const __m512i shuf = _mm512_broadcast_i32x4(_mm_set_epi8(6, 5, 4, 3, 5, 4, 3, 2, 4, 3, 2, 1, 3, 2, 1, 0));
    for (int64_t c0 = 0; c0 < Wq; c0 += 16) {
      const __m256i x = c0 >= pw && c0 - pw + 32 <= W
                            ? _mm256_loadu_si256((const __m256i*)(const void*)(src + (c0 - pw)))
                            : _mm256_mask_loadu_epi8(fill, (__mmask32)lanes(pw - c0, pw + W - c0), src + (c0 - pw));
      const __m256i u = _mm256_xor_si256(x, flip);
      const __m512i v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(perm, _mm512_castsi256_si512(u)), shuf);
      store16(dst + c0, Wq - c0, v);
    }
  } else { /* 16 quads from bytes 2c0 .. 2c0 + 33: lane k of 4 quads from dwords 2k .. 2k + 2 */
    const __m512i fill = _mm512_set1_epi8((char)a->iz), flip = _mm512_set1_epi8((char)0x80);
    const __m512i perm = _mm512_set_epi32(8, 8, 7, 6, 6, 6, 5, 4, 4, 4, 3, 2, 2, 2, 1, 0);
    const __m512i shuf = _mm512_broadcast_i32x4(_mm_set_epi8(9, 8, 7, 6, 7, 6, 5, 4, 5, 4, 3, 2, 3, 2, 1, 0));
    for (int64_t c0 = 0; c0 < Wq; c0 += 16) {
      const int64_t b0 = 2 * c0 - pw; /* source column of the first byte */
      const __m512i x = b0 >= 0 && b0 + 64 <= W
                            ? _mm512_loadu_si512(src + b0)
                            : _mm512_mask_loadu_epi8(fill, (__mmask64)lanes(-b0, W - b0), src + b0);
      const __m512i v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(perm, _mm512_xor_si512(x, flip)), shuf);
      store16(dst + c0, Wq - c0, v);
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

/* out[j] = requant(bias + sum over the taps of quads(base + off[t] + j) . wq[t]) for j in [0, n) rounded up to 16
 * (reads up to 15 quads of slack past the plane, results dropped). */
TV __attribute__((always_inline)) static inline void quad_band(const uint32_t* base, const int64_t* off,
                                                                const __m512i* wq, int taps, __m512i bias, int64_t n,
                                                                const vq* r, int8_t* out) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m512i s0 = bias, s1 = bias;
    for (int t = 0; t < taps; t++) {
      const uint32_t* p = base + off[t] + j;
      s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(p), wq[t]);
      s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(p + 16), wq[t]);
    }
    _mm_storeu_si128((__m128i*)(void*)(out + j), requant16(s0, r));
    _mm_storeu_si128((__m128i*)(void*)(out + j + 16), requant16(s1, r));
  }
  for (; j < n; j += 16) {
    __m512i s0 = bias;
    for (int t = 0; t < taps; t++) s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(base + off[t] + j), wq[t]);
    _mm_storeu_si128((__m128i*)(void*)(out + j), requant16(s0, r));
  }
}

/* y[j] = requant(...) for j in [0, OW) of one output row, straight to y (a masked store for the last part). */
TV __attribute__((always_inline)) static inline void quad_row(const uint32_t* base, const int64_t* off,
                                                               const __m512i* wq, int taps, __m512i bias, int64_t OW,
                                                               const vq* r, int8_t* y) {
  int64_t j = 0;
  for (; j + 32 <= OW; j += 32) {
    __m512i s0 = bias, s1 = bias;
    for (int t = 0; t < taps; t++) {
      const uint32_t* p = base + off[t] + j;
      s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(p), wq[t]);
      s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(p + 16), wq[t]);
    }
    _mm_storeu_si128((__m128i*)(void*)(y + j), requant16(s0, r));
    _mm_storeu_si128((__m128i*)(void*)(y + j + 16), requant16(s1, r));
  }
  for (; j < OW; j += 16) {
    __m512i s0 = bias;
    for (int t = 0; t < taps; t++) s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(base + off[t] + j), wq[t]);
    if (OW - j >= 16)
      _mm_storeu_si128((__m128i*)(void*)(y + j), requant16(s0, r));
    else
      _mm_mask_storeu_epi8(y + j, (__mmask16)lanes(0, OW - j), requant16(s0, r));
  }
}

TV void pkt_qdw_plane_avx512vnni(const pkt_qdw_args* a) {
  const int64_t sh = a->sh, sw = a->sw, OW = a->OW;
  pkt_qdw_layout L;
  pkt_qdw_geometry(a->H, a->W, sh, sw, a->ph, a->pw, &L);
  const int64_t Wq = L.Wq, plane = L.Hq * Wq;
  uint32_t* q = a->buf;
  int8_t* out = (int8_t*)(void*)(q + sh * plane + PKT_QDW_SLACK); /* the sums' room of qdw.h, as bytes */
  memset(q + sh * plane, 0, PKT_QDW_SLACK * 4u);
  /* the quad taps: offset in q and (w[4t], .., w[4t + 3]), 0 past the window; sum w for the bias */
  int64_t off[PKT_QDW_PAIR_TAPS];
  __m512i wq[PKT_QDW_PAIR_TAPS];
  int taps = 0;
  uint32_t wsum = 0;
  for (int64_t ky = 0; ky < a->kh; ky++) {
    const int64_t ry = ky * a->dh;
    for (int64_t kx = 0; kx < a->kw; kx += 4) {
      uint32_t packed = 0;
      for (int64_t i = 0; i < 4 && kx + i < a->kw; i++) {
        const int8_t wv = a->w[ky * a->kw + kx + i];
        packed |= (uint32_t)(uint8_t)wv << (8 * i);
        wsum += (uint32_t)(int32_t)wv;
      }
      off[taps] = (ry % sh) * plane + (ry / sh) * Wq + kx / sw;
      wq[taps++] = _mm512_set1_epi32((int32_t)packed);
    }
  }
  const vq r = {_mm512_set1_ps(a->scale), _mm512_set1_ps((float)(a->lo - a->oz)),
                _mm512_set1_ps((float)(a->hi - a->oz)), _mm512_set1_epi32(a->oz)};
  const __m512i bias = _mm512_set1_epi32((int32_t)((uint32_t)a->bias - (uint32_t)(a->iz + 128) * wsum));
  const int64_t band = Wq >= PKT_QDW_BAND ? 1 : PKT_QDW_BAND / Wq;
  int64_t built = 0; /* padded rows built so far */
  for (int64_t oy0 = 0; oy0 < a->OH; oy0 += band) {
    const int64_t oy1 = oy0 + band < a->OH ? oy0 + band : a->OH;
    /* the band's last output row reads padded rows up to (oy1 - 1) * sh + (kh - 1) * dh (the slack lanes past it
     * may read rows not built yet: their results are dropped) */
    const int64_t need = (oy1 - 1) * sh + (a->kh - 1) * a->dh + 1;
    for (; built < need; built++) build_row(a, q, Wq, plane, built);
    if (OW >= 16) { /* row by row, straight to y */
      for (int64_t oy = oy0; oy < oy1; oy++)
        if (taps == 3) /* 3x3: the count known, the weights in registers */
          quad_row(q + oy * Wq, off, wq, 3, bias, OW, &r, a->y + oy * OW);
        else
          quad_row(q + oy * Wq, off, wq, taps, bias, OW, &r, a->y + oy * OW);
      continue;
    }
    /* narrow rows: the band as one run (the Wq - OW columns past each row computed and dropped), then stored row by
     * row (the staging has 16 bytes of room past the run's last row: the sums' room of qdw.h is far larger) */
    const int64_t n = (oy1 - oy0 - 1) * Wq + OW;
    if (taps == 3)
      quad_band(q + oy0 * Wq, off, wq, 3, bias, n, &r, out);
    else
      quad_band(q + oy0 * Wq, off, wq, taps, bias, n, &r, out);
    const __mmask16 row = (__mmask16)lanes(0, OW);
    for (int64_t oy = oy0; oy < oy1; oy++)
      _mm_mask_storeu_epi8(a->y + oy * OW, row, _mm_loadu_si128((const __m128i*)(const void*)(out + (oy - oy0) * Wq)));
  }
}
#endif
