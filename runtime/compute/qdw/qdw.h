/* int8 depthwise convolution, one plane at a time (the quantized conv's depthwise case, compute/qgemm's sibling):
 *   acc[oy, ox] = bias + sum_{ky, kx} (x[oy*sh - ph + ky*dh, ox*sw - pw + kx*dw] - iz) * w[ky, kx]
 *   y[oy, ox]   = clamp(round_half_even((float)acc * scale) + oz, lo, hi)
 * with padding that holds iz (it adds 0). The plane is widened once into int16 (x - iz), zero-padded and split into
 * stride phases, so every tap reads one contiguous run over a band of output rows and the loops vectorize; a row of
 * int32 sums is requantized at once (qdw_impl.h). acc stays int32: the caller keeps a bias with
 * |bias| + kh*kw*255*128 >= 2^31 (and a non-finite scale) on its own scalar path, where the sum does not wrap.
 * Implementations: portable C, AVX512_VNNI (qdw_avx512vnni.c), AVX-512, AVX2 (qdw_x86.c), NEON (qdw_arm.c), chosen
 * through the session's ISA config; every one gives the same bytes. */
#ifndef PKT_QDW_H
#define PKT_QDW_H

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

#include <math.h>

typedef struct pkt_qdw_args {
  const int8_t* x; /* [H, W] */
  int64_t H, W;
  const int8_t* w; /* [kh, kw] */
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int8_t* y; /* [OH, OW] */
  int64_t OH, OW;
  int32_t bias, iz, oz, lo, hi;
  float scale;
  void* buf; /* pkt_qdw_scratch() bytes, 64-byte aligned */
} pkt_qdw_args;

/* Scratch one plane needs (a thread runs planes one after another in it). */
size_t pkt_qdw_scratch(int64_t H, int64_t W, int64_t sh, int64_t sw, int64_t ph, int64_t pw);
/* Whether the int32 row path gives today's bytes for this channel: the sums cannot wrap and the scale is finite. */
int pkt_qdw_exact(int32_t bias, float scale, int64_t kh, int64_t kw);
/* One plane with the config's implementation. */
void pkt_qdw_plane(const pkt_isa_config* cfg, const pkt_qdw_args* a);
/* "avx512", "avx2", "neon" or "portable", for tests. */
const char* pkt_qdw_kernel_name(const pkt_isa_config* cfg);

/* clamp(round_half_even(acc * scale) + oz, lo, hi), as the GEMM epilogue and pkt_q_round compute it: the portable
 * row requantization and the SIMD ones' tails. */
static inline void pkt_qdw_requant_scalar(const int32_t* acc, int64_t n, float scale, int32_t oz, int32_t lo,
                                          int32_t hi, int8_t* y) {
  const float flo = (float)(lo - oz), fhi = (float)(hi - oz);
  for (int64_t i = 0; i < n; i++) {
    float f = (float)acc[i] * scale;
    f = f < flo ? flo : f > fhi ? fhi : f;
    y[i] = (int8_t)((int32_t)nearbyintf(f) + oz);
  }
}

/* Internals: the row requantization each ISA provides, and the plane body (qdw_impl.h) instantiated with it. */
typedef void (*pkt_qdw_requant_fn)(const int32_t* acc, int64_t n, float scale, int32_t oz, int32_t lo, int32_t hi,
                                   int8_t* y);
void pkt_qdw_plane_portable(const pkt_qdw_args* a);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_QDW_HAVE_X86 1
void pkt_qdw_plane_avx512(const pkt_qdw_args* a);
void pkt_qdw_plane_avx2(const pkt_qdw_args* a);
void pkt_qdw_plane_avx512vnni(const pkt_qdw_args* a); /* the quad kernel, when pkt_qdw_pair_fits */
/* The x86 pair and quad kernels: dilation 1 along W, stride 1 or 2 along W, up to PKT_QDW_PAIR_TAPS taps. */
#define PKT_QDW_PAIR_TAPS 32
static inline int pkt_qdw_pair_fits(const pkt_qdw_args* a) {
  return a->dw == 1 && (a->sw == 1 || a->sw == 2) && a->kh * ((a->kw + 1) / 2) <= PKT_QDW_PAIR_TAPS;
}
#endif
#if defined(__aarch64__) || (defined(__arm__) && defined(__ARM_NEON))
#define PKT_QDW_HAVE_NEON 1
void pkt_qdw_plane_neon(const pkt_qdw_args* a);
#endif

/* Scratch layout shared by every implementation: sh*sw phases of [Hq][Wq] int16 (the padded plane, Hq = ceil((H +
 * 2ph) / sh), Wq = ceil((W + 2pw) / sw)) and PKT_QDW_SLACK more, then the int32 sums of a band of output rows
 * (max(PKT_QDW_BAND, Wq) + PKT_QDW_SLACK). */
#define PKT_QDW_BAND 1024
#define PKT_QDW_SLACK 16 /* the sums run in multiples of this; the phases and the sums have this much room past them */
typedef struct pkt_qdw_layout {
  int64_t Hq, Wq;
} pkt_qdw_layout;
static inline void pkt_qdw_geometry(int64_t H, int64_t W, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                                    pkt_qdw_layout* L) {
  L->Hq = (H + 2 * ph + sh - 1) / sh;
  L->Wq = (W + 2 * pw + sw - 1) / sw;
}

#endif
