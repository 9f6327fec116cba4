/* AVX-512 int4 weight-only micro-kernel (wogemm.h). At one token it is bound by the vector ops that turn nibbles into
 * floats, so it spends two on each 16: a shift and a vpermps (which reads only the low 4 bits of each lane) through a
 * table of the 16 values - 8; the FMA is the third.
 *
 * A block is 128 k: 64 bytes of a weight row, one zmm whose dword lane i holds the 8 nibbles of k = 8i .. 8i + 7
 * (nibble j at bits 4j). Shifted by 4j, its low nibbles are vector j of the block; x is packed to match
 * (pkt_wogemm_pack_w4_avx512: x vector j of a block holds x[8i + j]). A lane's 8 k sit in one group when the group
 * size G is a multiple of 8 that divides 128 or is a multiple of it (pkt_wogemm_w4_avx512_fits): each block's sums,
 * one a lane, then take their lanes' scales in one FMA. A last partial block (K % 128, whole groups) reads its
 * weight bytes and scales under masks; its x is padded with zeros. The weight rows of a block are read as parallel
 * streams, which the hardware prefetcher follows poorly: each block prefetches the bytes PF_Q ahead in its rows, or
 * at a row's end the same place in the next block of rows. */
#include "compute/wogemm/wogemm.h"

#if defined(PKT_WOGEMM_HAVE_X86)
#include <immintrin.h>

#define W4B 128   /* k a block */
#define PF_Q 1024 /* bytes of a weight row ahead (16 blocks) */
#define PF_S 64   /* scales of a row ahead */
#define T512 __attribute__((target("avx512f")))

int pkt_wogemm_w4_avx512_fits(int G) { return G % 8 == 0 && (W4B % G == 0 || G % W4B == 0); }

void pkt_wogemm_pack_w4_avx512(int64_t M, int64_t K, const float* x, float* xp) {
  const int64_t Kp = (K + W4B - 1) / W4B * W4B;
  for (int64_t m = 0; m < M; m++)
    for (int64_t k0 = 0; k0 < Kp; k0 += W4B)
      for (int j = 0; j < 8; j++)
        for (int i = 0; i < 16; i++) {
          const int64_t k = k0 + 8 * i + j;
          xp[m * Kp + k0 + 16 * j + i] = k < K ? x[m * K + k] : 0.f;
        }
}

/* One block: total[m][r] += the block's sums of x row m times weight row r, times their lanes' scales (the weight
 * bytes under qm, the block's scales s[r * groups + 0..] under sm, lane i's at sidx); prefetches pq bytes and ps
 * scales on. */
T512 __attribute__((always_inline)) static inline void w4_step(int MB, int NB, const float* x, int64_t ldx,
                                                                const uint8_t* q, int64_t ldq, const float* s,
                                                                int64_t groups, int64_t pq, int64_t ps, __mmask16 qm,
                                                                __mmask16 sm, __m512i sidx, __m512 total[][4]) {
  const __m512 lut = _mm512_setr_ps(-8.f, -7.f, -6.f, -5.f, -4.f, -3.f, -2.f, -1.f, 0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f,
                                    7.f);
  __m512i v[4];
  __m512 acc[PKT_WOGEMM_MR][4];
  for (int r = 0; r < NB; r++) {
    _mm_prefetch((const char*)(q + r * ldq + pq), _MM_HINT_T0);
    _mm_prefetch((const char*)(s + r * groups + ps), _MM_HINT_T0);
    v[r] = _mm512_maskz_loadu_epi32(qm, q + r * ldq);
  }
  for (int j = 0; j < 8; j++) {
    __m512 xv[PKT_WOGEMM_MR];
    for (int m = 0; m < MB; m++) xv[m] = _mm512_loadu_ps(x + m * ldx + 16 * j);
    for (int r = 0; r < NB; r++) {
      __m512 w = _mm512_permutexvar_ps(j ? _mm512_srli_epi32(v[r], 4 * j) : v[r], lut);
      for (int m = 0; m < MB; m++) acc[m][r] = j == 0 ? _mm512_mul_ps(xv[m], w) : _mm512_fmadd_ps(xv[m], w, acc[m][r]);
    }
  }
  for (int r = 0; r < NB; r++) {
    __m512 sv = _mm512_permutexvar_ps(sidx, _mm512_maskz_loadu_ps(sm, s + r * groups));
    for (int m = 0; m < MB; m++) total[m][r] = _mm512_fmadd_ps(acc[m][r], sv, total[m][r]);
  }
}

/* MB rows of x (packed, stride ldx) against NB weight rows. */
T512 __attribute__((always_inline)) static inline void w4_block(int MB, int NB, int64_t K, int G, const float* x,
                                                                 int64_t ldx, const uint8_t* q, int64_t ldq,
                                                                 const float* s, float* y, int64_t ldy) {
  const int small = G < W4B, lg = __builtin_ctz((unsigned)G); /* small: G is a power of 2 dividing 128 */
  const __m512i sidx = small ? _mm512_srlv_epi32(_mm512_setr_epi32(0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96,
                                                                   104, 112, 120),
                                                 _mm512_set1_epi32(lg))
                             : _mm512_setzero_si512();
  /* a block's first scale: + 128 / G a block (small), or + 1 every G / 128 blocks */
  const int64_t groups = K / G, sstep = small ? W4B >> lg : 1, per = small ? 1 : G / W4B, full = K / W4B;
  const __mmask16 sm = (__mmask16)(small ? (1u << (W4B >> lg)) - 1 : 1u);
  __m512 total[PKT_WOGEMM_MR][4];
  for (int m = 0; m < MB; m++)
    for (int r = 0; r < NB; r++) total[m][r] = _mm512_setzero_ps();
  int64_t sg = 0, b = 0;
  for (int64_t n = 0; b < full; b++) {
    const int64_t pq = b * (W4B / 2) + PF_Q < ldq ? PF_Q : PF_Q + (NB - 1) * ldq,
                  ps = sg + PF_S < groups ? PF_S : PF_S + (NB - 1) * groups;
    w4_step(MB, NB, x + b * W4B, ldx, q + b * (W4B / 2), ldq, s + sg, groups, pq, ps, 0xFFFF, sm, sidx, total);
    if (++n == per) n = 0, sg += sstep;
  }
  const int64_t kt = K - full * W4B; /* small only: whole groups */
  if (kt)
    w4_step(MB, NB, x + b * W4B, ldx, q + b * (W4B / 2), ldq, s + sg, groups, 0, 0, (__mmask16)((1u << (kt / 8)) - 1),
            (__mmask16)((1u << (kt >> lg)) - 1), sidx, total);
  for (int m = 0; m < MB; m++)
    for (int r = 0; r < NB; r++) y[m * ldy + r] = _mm512_reduce_add_ps(total[m][r]);
}

/* 4 weight rows a block against 1 or 2 x rows (more accumulators would not fit the registers): 3 or 4 x rows run
 * as pairs and a single over the same 4 weight rows, the second pass reading them from L1. */
T512 void pkt_wogemm_w4_avx512(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,
                               int64_t ldq, const float* s, float* y, int64_t ldy) {
  const int64_t groups = K / G;
  int64_t n = 0;
#define W4_AT(MB, NB, M) \
  w4_block(MB, NB, K, G, x + (M) * ldx, ldx, q + n * ldq, ldq, s + n * groups, y + (M) * ldy + n, ldy)
  for (; n + 4 <= nrows; n += 4) {
    int m = 0;
    for (; m + 2 <= mb; m += 2) W4_AT(2, 4, m);
    if (m < mb) W4_AT(1, 4, m);
  }
  for (; n < nrows; n++) {
    int m = 0;
    for (; m + 2 <= mb; m += 2) W4_AT(2, 1, m);
    if (m < mb) W4_AT(1, 1, m);
  }
#undef W4_AT
}

#endif
