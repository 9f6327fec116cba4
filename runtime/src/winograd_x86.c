/* x86-64 Winograd transforms: the channel-vectorized F(4x4, 3x3) input/output transforms of
 * winograd_impl.h instantiated for AVX2 (8 lanes) and AVX-512 (16 lanes), and an AVX-512 16x16
 * transpose for the channel-last band copy. Target attributes only; built without -m flags. */
#include "winograd_internal.h"

#if defined(PKT_WG_HAVE_X86)
#include <immintrin.h>

typedef float wg_v8 __attribute__((vector_size(32), may_alias));
typedef float wg_v16 __attribute__((vector_size(64), may_alias));

#define WG_LINKAGE
#define wg_v wg_v8
#define WG_VW 8
#define WG_NAME(x) x##_avx2
#define WG_TARGET __attribute__((target("avx2,fma")))
#include "winograd_impl.h"
#undef wg_v
#undef WG_VW
#undef WG_NAME
#undef WG_TARGET

#define wg_v wg_v16
#define WG_VW 16
#define WG_NAME(x) x##_avx512
#define WG_TARGET __attribute__((target("avx512f")))
#include "winograd_impl.h"
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
      for (int i = 0; i < xn; i++) _mm512_store_ps(dst + (x0 + i) * Cp + c0, v[i]);
    }
  }
}
#endif
