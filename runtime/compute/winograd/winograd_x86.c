/* x86-64 Winograd transforms: the channel-vectorized F(4x4, 3x3) and F(2x2, 3x3) transforms of
 * winograd_impl.h instantiated for AVX2 (8 lanes) and AVX-512 (16 lanes), and an AVX-512 16x16
 * transpose for the channel-last band copy. Target attributes only; built without -m flags. */
#include "compute/winograd/winograd_internal.h"

#if defined(PKT_WG_HAVE_X86)
#include <immintrin.h>
#include <math.h>

typedef float wg_v8 __attribute__((vector_size(32), may_alias));
typedef float wg_v16 __attribute__((vector_size(64), may_alias));

#define WG_LINKAGE
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

/* Row i (lanes 4i..4i+3 of a channel's vector) of a tile to out; partial rows through tmp. */
static inline void store_rows(const wg_run* r, const wg_tile_out* to, float* yo, const float* tmp, int simple) {
  for (int i = 0; i < to->vi; i++) {
    float* row = yo + i * to->OW;
    for (int j = 0; j < to->vj; j++) row[j] = tmp[i * 4 + j];
    if (!simple) r->cfg->act(row, to->vj, r->act, r->lo, r->hi);
  }
}

/* The channel loop of an emit (r, to, c, nc, simple, Yt in scope): channel k's 4x4 tile, row i = ROW(k, i) (4
 * pixels, an __m128, i a constant), straight to the output when the tile is whole and the activation clamp-like,
 * else through Yt and store_rows. */
#define STORE_TILES(ROW)                                                            \
  do {                                                                              \
    const int full = to->vi == 4 && to->vj == 4 && simple;                          \
    for (int k = 0; k < nc; k++) {                                                  \
      float* yo = to->base + (c + k) * to->plane;                                   \
      _mm_storeu_ps(full ? yo : Yt, ROW(k, 0));                                     \
      _mm_storeu_ps(full ? yo + to->OW : Yt + 4, ROW(k, 1));                        \
      _mm_storeu_ps(full ? yo + 2 * to->OW : Yt + 8, ROW(k, 2));                    \
      _mm_storeu_ps(full ? yo + 3 * to->OW : Yt + 12, ROW(k, 3));                   \
      if (!full) store_rows(r, to, yo, Yt, simple);                                 \
    }                                                                               \
  } while (0)

/* AVX2: 16 pixels x 8 channels -> per channel, two 8x8 transposes (pixels 0-7 = rows 0-1, 8-15 = rows 2-3). */
__attribute__((target("avx2,fma"), always_inline)) static inline void tr8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}

AVX2 static void wg_emit_avx2(const wg_run* r, const wg_tile_out* to, int64_t c, int nc, const wg_v8* o, float* Yt) {
  float flo, fhi;
  int simple = wg_act_bounds(r, &flo, &fhi);
  __m256 lo = _mm256_set1_ps(flo), hi = _mm256_set1_ps(fhi);
  __m256 a[8], b[8];
  for (int i = 0; i < 8; i++) {
    a[i] = _mm256_min_ps(hi, _mm256_max_ps(lo, (__m256)o[i]));
    b[i] = _mm256_min_ps(hi, _mm256_max_ps(lo, (__m256)o[i + 8]));
  }
  tr8(a);
  tr8(b);
#define ROW2(k, i) (i % 2 ? _mm256_extractf128_ps(i < 2 ? a[k] : b[k], 1) : _mm256_castps256_ps128(i < 2 ? a[k] : b[k]))
  STORE_TILES(ROW2);
#undef ROW2
}

/* AVX-512: 16 pixels x 16 channels, one 16x16 transpose. */
__attribute__((target("avx512f"), always_inline)) static inline void tr16(__m512 v[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; i++) {
      t[h + i] = _mm512_shuffle_f32x4(v[h + i], v[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(v[h + i], v[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; i++) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

AVX512 static void wg_emit_avx512(const wg_run* r, const wg_tile_out* to, int64_t c, int nc, const wg_v16* o,
                                  float* Yt) {
  float flo, fhi;
  int simple = wg_act_bounds(r, &flo, &fhi);
  __m512 lo = _mm512_set1_ps(flo), hi = _mm512_set1_ps(fhi);
  __m512 v[16];
  for (int i = 0; i < 16; i++) v[i] = _mm512_min_ps(hi, _mm512_max_ps(lo, (__m512)o[i]));
  tr16(v);
#define ROW512(k, i) _mm512_extractf32x4_ps(v[k], i)
  STORE_TILES(ROW512);
#undef ROW512
}

#define wg_v wg_v8
#define WG_VW 8
#define WG_NAME(x) x##_avx2
#define WG_TARGET __attribute__((target("avx2,fma")))
#define WG_EMIT wg_emit_avx2
#include "compute/winograd/winograd_impl.h"
#undef WG_EMIT
#undef wg_v
#undef WG_VW
#undef WG_NAME
#undef WG_TARGET

#define wg_v wg_v16
#define WG_VW 16
#define WG_NAME(x) x##_avx512
#define WG_TARGET __attribute__((target("avx512f")))
#define WG_EMIT wg_emit_avx512
#include "compute/winograd/winograd_impl.h"
#undef WG_EMIT
#undef wg_v
#undef WG_VW
#undef WG_NAME
#undef WG_TARGET

/* One input row of all channels, NCHW -> [W][Cp]: src[c * hw + x] to dst[x * Cp + c], channels past
 * C zero. 16x16 blocks transposed in registers; masked loads and stores at the tails. */
__attribute__((target("avx512f"))) void wg_fill_row_avx512(const wg_run* r, const float* src, int64_t hw, float* dst) {
  const int64_t C = r->p.C, Cp = r->p.Cp, W = r->p.W;
  for (int64_t x0 = 0; x0 < W; x0 += 16) {
    int xn = (int)(W - x0 < 16 ? W - x0 : 16);
    __mmask16 mx = (__mmask16)(xn == 16 ? 0xFFFF : (1u << xn) - 1);
    for (int64_t c0 = 0; c0 < Cp; c0 += 16) {
      __m512 v[16];
      for (int i = 0; i < 16; i++)
        v[i] = c0 + i < C ? _mm512_maskz_loadu_ps(mx, src + (c0 + i) * hw + x0) : _mm512_setzero_ps();
      tr16(v);
      for (int i = 0; i < xn; i++) _mm512_store_ps(dst + (x0 + i) * Cp + c0, v[i]);
    }
  }
}
#endif
