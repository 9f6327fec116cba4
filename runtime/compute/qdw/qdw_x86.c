/* x86-64 int8 depthwise planes: qdw_impl.h for AVX-512 and AVX2 (target attributes only: the file builds without -m
 * flags), each with a vector row requantization (vcvtps2dq rounds half to even under the default MXCSR). */
#include "compute/qdw/qdw.h"

#if defined(PKT_QDW_HAVE_X86)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define T512 __attribute__((target("avx2,fma,avx512f")))
#define T_AVX2 __attribute__((target("avx2,fma")))

T512 __attribute__((always_inline)) static inline void requant_avx512(const int32_t* acc, int64_t n, float scale,
                                                                      int32_t oz, int32_t lo, int32_t hi, int8_t* y) {
  const __m512 s = _mm512_set1_ps(scale), flo = _mm512_set1_ps((float)(lo - oz)), fhi = _mm512_set1_ps((float)(hi - oz));
  const __m512i z = _mm512_set1_epi32(oz);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, acc + i)), s);
    f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
    _mm512_mask_cvtepi32_storeu_epi8(y + i, k, _mm512_add_epi32(_mm512_cvtps_epi32(f), z));
  }
}

T_AVX2 __attribute__((always_inline)) static inline void requant_avx2(const int32_t* acc, int64_t n, float scale,
                                                                      int32_t oz, int32_t lo, int32_t hi, int8_t* y) {
  const float lof = (float)(lo - oz), hif = (float)(hi - oz);
  const __m256 s = _mm256_set1_ps(scale), flo = _mm256_set1_ps(lof), fhi = _mm256_set1_ps(hif);
  const __m256i z = _mm256_set1_epi32(oz);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i*)(acc + i))), s);
    f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64((__m128i*)(y + i), _mm_packs_epi16(w, w));
  }
  pkt_qdw_requant_scalar(acc + i, n - i, scale, oz, lo, hi, y + i);
}

/* requant_avx2 whose last partial vector reads up to 7 sums past n (the pair kernel's sums have that slack). */
T_AVX2 __attribute__((always_inline)) static inline void requant_avx2_slack(const int32_t* acc, int64_t n, float scale,
                                                                            int32_t oz, int32_t lo, int32_t hi,
                                                                            int8_t* y) {
  const __m256 s = _mm256_set1_ps(scale), flo = _mm256_set1_ps((float)(lo - oz)), fhi = _mm256_set1_ps((float)(hi - oz));
  const __m256i z = _mm256_set1_epi32(oz);
  for (int64_t i = 0; i < n; i += 8) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i*)(acc + i))), s);
    f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    w = _mm_packs_epi16(w, w);
    if (n - i >= 8) {
      _mm_storel_epi64((__m128i*)(y + i), w);
    } else {
      int8_t t[16];
      _mm_storeu_si128((__m128i*)(void*)t, w);
      memcpy(y + i, t, (size_t)(n - i));
    }
  }
}

/* ---- The pair kernel (pkt_qdw_pair_fits: dilation 1 along W, stride 1 or 2 along W, not too many taps): each padded
 * row r is stored as int32 pairs q[i] = (v[sw*i], v[sw*i + 1]) (v = x - iz, 0 in the padding), in sh row phases of
 * [Hq][Wq] as qdw_impl.h's; taps kx and kx + 1 of output column ox read the pair at ox + kx / sw (kx even when
 * sw = 2; every kx when sw = 1), so one vpmaddwd against (w[kx], w[kx + 1]) adds both, and a last odd tap pairs with
 * weight 0. The sums of 8 outputs stay in a register over every tap. ---- */

/* acc[j] = bias + sum over the taps of pairs(base + off[t] + j) . wp[t], for j in [0, n) rounded up to 8 (reads up
 * to 7 pairs of slack past the plane, sums dropped). */
T_AVX2 __attribute__((always_inline)) static inline void pair_sums(const int32_t* base, const int64_t* off,
                                                                   const __m256i* wp, int taps, __m256i bias, int64_t n,
                                                                   int32_t* acc) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256i s0 = bias, s1 = bias;
    for (int t = 0; t < taps; t++) {
      const int32_t* p = base + off[t] + j;
      s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)p), wp[t]));
      s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)(p + 8)), wp[t]));
    }
    _mm256_storeu_si256((__m256i*)(acc + j), s0);
    _mm256_storeu_si256((__m256i*)(acc + j + 8), s1);
  }
  for (; j < n; j += 8) {
    __m256i s0 = bias;
    for (int t = 0; t < taps; t++)
      s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i*)(base + off[t] + j)), wp[t]));
    _mm256_storeu_si256((__m256i*)(acc + j), s0);
  }
}

T_AVX2 static void pair_plane_avx2(const pkt_qdw_args* a) {
  const int64_t sh = a->sh, sw = a->sw, OW = a->OW;
  pkt_qdw_layout L;
  pkt_qdw_geometry(a->H, a->W, sh, sw, a->ph, a->pw, &L);
  const int64_t Wq = L.Wq, plane = L.Hq * Wq;
  int32_t* q = a->buf;
  int32_t* acc = q + sh * plane + PKT_QDW_SLACK;
  const int64_t pw = a->pw, W = a->W;
  const __m256i vz = _mm256_set1_epi16((short)a->iz);
  const int32_t iz = a->iz;
  memset(q + sh * plane, 0, PKT_QDW_SLACK * 4u);
  for (int64_t r = 0; r < sh * L.Hq; r++) { /* padded row r: phase r % sh, row r / sh */
    int32_t* dst = q + (r % sh) * plane + (r / sh) * Wq;
    const int64_t iy = r - a->ph;
    if (iy < 0 || iy >= a->H) {
      memset(dst, 0, (size_t)Wq * 4u);
      continue;
    }
    const int8_t* src = a->x + iy * W;
    if (sw == 2) { /* the pairs are the padded row itself, as int16 */
      int16_t* d = (int16_t*)(void*)dst;
      memset(d, 0, (size_t)pw * 2u);
      int64_t s = 0;
      for (; s + 16 <= W; s += 16)
        _mm256_storeu_si256((__m256i*)(d + pw + s),
                            _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(src + s))), vz));
      if (s < W && W >= 16) { /* the last 16 columns again, overlapping */
        s = W - 16;
        _mm256_storeu_si256((__m256i*)(d + pw + s),
                            _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(src + s))), vz));
        s = W;
      }
      for (; s < W; s++) d[pw + s] = (int16_t)(src[s] - iz);
      memset(d + pw + W, 0, (size_t)(2 * Wq - pw - W) * 2u);
    } else { /* q[i] = (v[i], v[i + 1]), v[c] = src[c - pw] */
      if (pw >= 2) memset(dst, 0, (size_t)(pw - 1) * 4u);
      if (pw >= 1) dst[pw - 1] = (int32_t)((uint32_t)(uint16_t)(src[0] - iz) << 16);
      int64_t s = 0;
      for (;;) { /* 16 pairs a step, the last step moved back to end at W - 1 (overlapping) */
        if (s + 17 > W) {
          if (s >= W - 1 || W < 17) break;
          s = W - 17;
        }
        const __m256i v0 = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(src + s))), vz);
        const __m256i v1 = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(src + s + 1))), vz);
        const __m256i lo = _mm256_unpacklo_epi16(v0, v1), hi = _mm256_unpackhi_epi16(v0, v1);
        _mm256_storeu_si256((__m256i*)(dst + pw + s), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i*)(dst + pw + s + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
        s += 16;
      }
      for (; s + 1 < W; s++)
        dst[pw + s] = (int32_t)((uint32_t)(uint16_t)(src[s] - iz) | ((uint32_t)(uint16_t)(src[s + 1] - iz) << 16));
      dst[pw + W - 1] = (int32_t)(uint32_t)(uint16_t)(src[W - 1] - iz);
      memset(dst + pw + W, 0, (size_t)(Wq - pw - W) * 4u);
    }
  }
  /* the pair taps: offset in q and (w0, w1) */
  int64_t off[PKT_QDW_PAIR_TAPS];
  __m256i wp[PKT_QDW_PAIR_TAPS];
  int taps = 0;
  for (int64_t ky = 0; ky < a->kh; ky++) {
    const int64_t ry = ky * a->dh;
    for (int64_t kx = 0; kx < a->kw; kx += 2) {
      const int16_t w0 = a->w[ky * a->kw + kx], w1 = kx + 1 < a->kw ? a->w[ky * a->kw + kx + 1] : 0;
      if (!w0 && !w1) continue;
      off[taps] = (ry % sh) * plane + (ry / sh) * Wq + kx / sw;
      wp[taps++] = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)w0 | ((uint32_t)(uint16_t)w1 << 16)));
    }
  }
  const __m256i bias = _mm256_set1_epi32(a->bias);
  const int64_t band = Wq >= PKT_QDW_BAND ? 1 : PKT_QDW_BAND / Wq;
  for (int64_t oy0 = 0; oy0 < a->OH; oy0 += band) {
    const int64_t oy1 = oy0 + band < a->OH ? oy0 + band : a->OH;
    const int64_t n = (oy1 - oy0 - 1) * Wq + OW;
    if (taps == 6)
      pair_sums(q + oy0 * Wq, off, wp, 6, bias, n, acc); /* 3x3: the count known, the weights in registers */
    else
      pair_sums(q + oy0 * Wq, off, wp, taps, bias, n, acc);
    for (int64_t oy = oy0; oy < oy1; oy++)
      requant_avx2_slack(acc + (oy - oy0) * Wq, OW, a->scale, a->oz, a->lo, a->hi, a->y + oy * OW);
  }
}

#define QD_NAME(x) x##_avx512_generic
#define QD_TARGET T512
#define QD_REQUANT requant_avx512
#include "compute/qdw/qdw_impl.h"
#undef QD_NAME
#undef QD_TARGET
#undef QD_REQUANT

void pkt_qdw_plane_avx512(const pkt_qdw_args* a) {
  if (pkt_qdw_pair_fits(a))
    pair_plane_avx2(a); /* ymm: AVX-512F alone has no 512-bit vpmaddwd */
  else
    pkt_qdw_plane_avx512_generic(a);
}

#define QD_NAME(x) x##_avx2_generic
#define QD_TARGET T_AVX2
#define QD_REQUANT requant_avx2
#include "compute/qdw/qdw_impl.h"

void pkt_qdw_plane_avx2(const pkt_qdw_args* a) {
  if (pkt_qdw_pair_fits(a))
    pair_plane_avx2(a);
  else
    pkt_qdw_plane_avx2_generic(a);
}
#endif
