/* int8 depthwise planes on AVX512_VNNI (PKT_CPU_VNNI, which the CPU detection gives only with AVX512BW), for
 * dilation 1 along W and stride 1 or 2 along W (pkt_qdw_pair_fits).
 *
 * vpdpbusd multiplies 4 unsigned bytes by 4 signed ones and adds the 4 products to an int32 lane, in place. The
 * input goes in as u = x + 128 (x ^ 0x80; the padding holds iz + 128), so
 *   acc = bias + sum (x - iz) * w = bias - (iz + 128) * sum w + sum u * w
 * in wrapping int32 arithmetic, exact because the true sum fits (pkt_qdw_exact). The padded plane of u is stored
 * once, in sh row phases of [Hq][Wu] bytes (Wu = sw * Wq, qdw.h's geometry), so that over a band of output rows the
 * flat output index f = oy * Wq + ox reads row ky's byte kx at sw * f + (the tap's offset), as qdw_impl.h's phases.
 * The outputs f = P * i + m (P = 4 / sw phases m, 16 lanes i) then read 4 consecutive bytes at a dword-aligned step:
 * one unaligned 64-byte load gives the 16 lanes' bytes for taps 4t .. 4t + 3 of a row, with no shuffle. A 3x3
 * window is 3 vpdpbusd per 16 outputs. The P vectors of sums are requantized in registers (vcvtps2dq rounds half
 * to even under the default MXCSR), narrowed by saturating packs and shuffled back into f order, 64 (stride 1) or
 * 32 outputs a store into a band's staging, whose OW columns are then copied to y. */
#include "compute/qdw/qdw.h"

#if defined(PKT_QDW_HAVE_X86)
#include <immintrin.h>
#include <string.h>

#define TV __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#define STAGING_SLACK 128 /* bytes past a band's last output and past the plane that whole vectors may touch */

/* lanes [lo, hi) of 64 (clipped) */
static inline uint64_t lanes(int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (hi > 64) hi = 64;
  if (hi <= lo) return 0;
  return (hi == 64 ? ~(uint64_t)0 : ((uint64_t)1 << hi) - 1) & ~(((uint64_t)1 << lo) - 1);
}

/* Padded rows [r0, r1) (row r in phase r % sh, row r / sh) of u. Masked-off lanes are not read (no fault), so a
 * load may start before the source row or end past it; they take iz. A row of at most 64 bytes is one load and one
 * whole store, which may run into the phase's next rows (built later) or past the plane (its slack), so not when
 * that would reach the next phase (built before). */
TV static void build_rows(const pkt_qdw_args* a, uint8_t* u, int64_t Wu, int64_t phase, int64_t r0, int64_t r1) {
  const int64_t sh = a->sh, W = a->W, pw = a->pw, HW = a->H * W;
  const __m512i fill = _mm512_set1_epi8((char)a->iz), flip = _mm512_set1_epi8((char)0x80);
  const __m512i pad = _mm512_xor_si512(fill, flip);
  const __mmask64 inrow = (__mmask64)lanes(pw, pw + W); /* a narrow row's source lanes, from column -pw */
  for (int64_t r = r0; r < r1; r++) {
    const int64_t pr = sh == 1 ? 0 : sh == 2 ? (r & 1) : r % sh, qr = sh == 1 ? r : sh == 2 ? r >> 1 : r / sh;
    uint8_t* dst = u + pr * phase + qr * Wu; /* no division per row for the common strides */
    const int64_t iy = r - a->ph, at = iy * W - pw; /* the row's column -pw in the source plane */
    if (Wu <= 64 && (qr * Wu + 64 <= phase || pr == sh - 1)) {
      __m512i v = pad;
      if (iy >= 0 && iy < a->H) {
        const __m512i x = at >= 0 && at + 64 <= HW ? _mm512_mask_blend_epi8(inrow, fill, _mm512_loadu_si512(a->x + at))
                                                   : _mm512_mask_loadu_epi8(fill, inrow, a->x + at);
        v = _mm512_xor_si512(x, flip);
      }
      _mm512_storeu_si512(dst, v);
      continue;
    }
    if (iy < 0 || iy >= a->H) {
      memset(dst, a->iz ^ 0x80, (size_t)Wu);
      continue;
    }
    const int8_t* src = a->x + iy * W;
    for (int64_t c0 = 0; c0 < Wu; c0 += 64) {
      const int64_t b0 = c0 - pw; /* source column of the first byte */
      const __m512i x = b0 >= 0 && b0 + 64 <= W
                            ? _mm512_loadu_si512(src + b0)
                            : _mm512_mask_loadu_epi8(fill, (__mmask64)lanes(-b0, W - b0), src + b0);
      const __m512i v = _mm512_xor_si512(x, flip);
      if (Wu - c0 >= 64)
        _mm512_storeu_si512(dst + c0, v);
      else
        _mm512_mask_storeu_epi8(dst + c0, (__mmask64)lanes(0, Wu - c0), v);
    }
  }
}

typedef struct vq {
  __m512 s, fhi;
  __m512i z, lo, hi; /* oz as int16, lo and hi as int8 */
} vq;

/* round_half_even(min(acc * scale, hi - oz)) in int32 lanes: the upper clamp comes first, as vcvtps2dq turns a value
 * past int32 into INT_MIN; the lower clamp and + oz follow on the packs, which saturate (monotonic: clamping to
 * [lo, hi], inside int8, after them gives the same bytes) */
TV __attribute__((always_inline)) static inline __m512i scaled16(__m512i acc, const vq* r) {
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), r->s), r->fhi));
}

/* clamp(q + oz, lo, hi) as int8 from the int32 lanes of q0, q1 and q2, q3: 128-bit lane k holds bytes
 * q0[4k .. 4k + 3], q1[..], q2[..], q3[..] (the packs' order) */
TV __attribute__((always_inline)) static inline __m512i narrow(__m512i q0, __m512i q1, __m512i q2, __m512i q3,
                                                               const vq* r) {
  const __m512i w01 = _mm512_adds_epi16(_mm512_packs_epi32(q0, q1), r->z);
  const __m512i w23 = _mm512_adds_epi16(_mm512_packs_epi32(q2, q3), r->z);
  return _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w01, w23), r->lo), r->hi);
}

/* bias + sum over the taps of u(p + off[t] + 4i) . wq[t], lane i */
TV __attribute__((always_inline)) static inline __m512i sums16(const uint8_t* p, const int64_t* off, const __m512i* wq,
                                                               int taps, __m512i bias) {
  __m512i s = bias;
  for (int t = 0; t < taps; t++) s = _mm512_dpbusd_epi32(s, _mm512_loadu_si512(p + off[t]), wq[t]);
  return s;
}

/* out[f] for f in [0, n) rounded up to 16 * P, base at the band's first row */
TV __attribute__((always_inline)) static inline void band(const uint8_t* base, int64_t sw, const int64_t* off,
                                                           const __m512i* wq, int taps, __m512i bias, int64_t n,
                                                           const vq* r, int8_t* out) {
  if (sw == 1) { /* output 4i + m is q_m[i]: byte m of dword i, a 4x4 transpose of each lane's bytes */
    const __m512i order = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    for (int64_t f = 0; f < n; f += 64) {
      const uint8_t* p = base + f;
      const __m512i q0 = scaled16(sums16(p, off, wq, taps, bias), r);
      const __m512i q1 = scaled16(sums16(p + 1, off, wq, taps, bias), r);
      const __m512i q2 = scaled16(sums16(p + 2, off, wq, taps, bias), r);
      const __m512i q3 = scaled16(sums16(p + 3, off, wq, taps, bias), r);
      _mm512_storeu_si512(out + f, _mm512_shuffle_epi8(narrow(q0, q1, q2, q3, r), order));
    }
  } else { /* output 2i + m is q_m[i]: each lane's 8 bytes interleaved, then the lanes' low halves gathered */
    const __m512i order = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15));
    const __m512i halves = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    for (int64_t f = 0; f < n; f += 32) {
      const uint8_t* p = base + 2 * f;
      const __m512i q0 = scaled16(sums16(p, off, wq, taps, bias), r);
      const __m512i q1 = scaled16(sums16(p + 2, off, wq, taps, bias), r);
      const __m512i v = _mm512_shuffle_epi8(narrow(q0, q1, q0, q1, r), order);
      _mm256_storeu_si256((__m256i*)(void*)(out + f), _mm512_castsi512_si256(_mm512_permutexvar_epi64(halves, v)));
    }
  }
}

TV void pkt_qdw_plane_avx512vnni(const pkt_qdw_args* a) {
  const int64_t sh = a->sh, sw = a->sw, OW = a->OW;
  pkt_qdw_layout L;
  pkt_qdw_geometry(a->H, a->W, sh, sw, a->ph, a->pw, &L);
  const int64_t Wq = L.Wq, Wu = sw * Wq, phase = L.Hq * Wu, ubytes = sh * phase;
  /* the u plane and its slack take at most half of qdw.h's phases of int16 pairs; the staging (at most
   * PKT_QDW_BAND + STAGING_SLACK bytes, or Wq + STAGING_SLACK) follows in what is left and the sums' room */
  uint8_t* u = a->buf;
  int8_t* out = (int8_t*)(void*)(u + (ubytes + STAGING_SLACK + 63) / 64 * 64);
  memset(u + ubytes, a->iz ^ 0x80, STAGING_SLACK);
  /* the quad taps: byte offset in u and (w[4t], .., w[4t + 3]), 0 past the window; sum w for the bias */
  int64_t off[PKT_QDW_PAIR_TAPS];
  __m512i wq[PKT_QDW_PAIR_TAPS];
  int taps = 0;
  uint32_t wsum = 0;
  for (int64_t ky = 0, pr = 0, qr = 0; ky < a->kh; ky++) { /* row ky * dh: phase pr, row qr, stepped */
    for (int64_t kx = 0; kx < a->kw; kx += 4) {
      uint32_t packed = 0;
      for (int64_t i = 0; i < 4 && kx + i < a->kw; i++) {
        const int8_t wv = a->w[ky * a->kw + kx + i];
        packed |= (uint32_t)(uint8_t)wv << (8 * i);
        wsum += (uint32_t)(int32_t)wv;
      }
      off[taps] = pr * phase + qr * Wu + kx;
      wq[taps++] = _mm512_set1_epi32((int32_t)packed);
    }
    for (pr += a->dh; pr >= sh; pr -= sh) qr++;
  }
  const vq r = {_mm512_set1_ps(a->scale), _mm512_set1_ps((float)(a->hi - a->oz)), _mm512_set1_epi16((short)a->oz),
                _mm512_set1_epi8((char)a->lo), _mm512_set1_epi8((char)a->hi)};
  const __m512i bias = _mm512_set1_epi32((int32_t)((uint32_t)a->bias - (uint32_t)(a->iz + 128) * wsum));
  const int64_t rows = Wq >= PKT_QDW_BAND ? 1 : PKT_QDW_BAND / Wq;
  int64_t built = 0; /* padded rows built so far */
  for (int64_t oy0 = 0; oy0 < a->OH; oy0 += rows) {
    const int64_t oy1 = oy0 + rows < a->OH ? oy0 + rows : a->OH;
    /* the band's last output row reads padded rows up to (oy1 - 1) * sh + (kh - 1) * dh (the whole vectors past it
     * may read rows not built yet: their results are dropped) */
    const int64_t need = (oy1 - 1) * sh + (a->kh - 1) * a->dh + 1;
    if (built < need) {
      build_rows(a, u, Wu, phase, built, need);
      built = need;
    }
    const int64_t n = (oy1 - oy0 - 1) * Wq + OW;
    if (taps == 3) /* 3x3: the count known, the weights in registers */
      band(u + oy0 * Wu, sw, off, wq, 3, bias, n, &r, out);
    else
      band(u + oy0 * Wu, sw, off, wq, taps, bias, n, &r, out);
    if (OW <= 64) {
      /* The band's rows packed together first, then stored a whole vector at a time (one masked store): one store
       * a row to lines another core holds (the next conv reads them all) made the second thread twice as slow. */
      int8_t packed[PKT_QDW_BAND + 64];
      for (int64_t oy = oy0; oy < oy1; oy++)
        _mm512_storeu_si512(packed + (oy - oy0) * OW, _mm512_loadu_si512(out + (oy - oy0) * Wq));
      const int64_t bytes = (oy1 - oy0) * OW;
      int64_t i = 0;
      for (; i + 64 <= bytes; i += 64) _mm512_storeu_si512(a->y + oy0 * OW + i, _mm512_loadu_si512(packed + i));
      if (i < bytes)
        _mm512_mask_storeu_epi8(a->y + oy0 * OW + i, (__mmask64)lanes(0, bytes - i), _mm512_loadu_si512(packed + i));
    } else {
      for (int64_t oy = oy0; oy < oy1; oy++) memcpy(a->y + oy * OW, out + (oy - oy0) * Wq, (size_t)OW);
    }
  }
}
#endif
