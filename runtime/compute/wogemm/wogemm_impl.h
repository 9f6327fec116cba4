/* The weight-only micro-kernels (wogemm.h), one template instantiated per ISA. The includer defines:
 *   WO_W8, WO_W4     the two functions' names (no WO_W4: the ISA has its own int4 kernel)
 *   WO_TARGET        a function attribute (the ISA's target) or nothing
 *   V, VL            the float vector type and its lanes
 *   VZERO() VLOAD(p) VSET(f) VFMA(a, b, c) = a * b + c, VHSUM(v) = the sum of the lanes
 *   W8(p)            VL int8 values at p as floats
 *   W4(p, lo, hi)    (with WO_W4) VL bytes at p: lo = their low nibbles - 8, hi = their high nibbles - 8, as floats
 *   WO_PREFETCH(p)   (optional) a prefetch of the cache line at p: each group prefetches its rows WO_PF bytes
 *                    ahead, or at a row's end the same place in the next block of rows (the parallel row streams
 *                    are ones the hardware prefetcher follows poorly)
 * A block computes MB rows of x against NB weight rows; x is read once a step for all NB rows and every weight
 * step is unpacked once for all MB rows. Constant MB, NB: the compiler keeps the accumulators in registers. */

__attribute__((always_inline)) WO_TARGET static inline void WO_BLOCK(int bits, int MB, int NB, int64_t K, int G,
                                                                     const float* x, int64_t ldx, const uint8_t* q,
                                                                     int64_t ldq, const float* s, float* y,
                                                                     int64_t ldy) {
  V total[PKT_WOGEMM_MR][4], acc[PKT_WOGEMM_MR][4];
  for (int m = 0; m < MB; m++)
    for (int r = 0; r < NB; r++) total[m][r] = VZERO();
  const int64_t groups = K / G, per_step = bits == 8 ? VL : 2 * VL;
  for (int64_t g = 0; g < groups; g++) {
#ifdef WO_PREFETCH
    const int64_t at = g * G * bits / 8 + WO_PF, pf = at < ldq ? at : at + (NB - 1) * ldq;
    for (int r = 0; r < NB; r++) WO_PREFETCH(q + r * ldq + pf);
#endif
    for (int m = 0; m < MB; m++)
      for (int r = 0; r < NB; r++) acc[m][r] = VZERO();
    for (int64_t k = g * G; k < (g + 1) * G; k += per_step) {
      if (bits == 8) {
        V xv[PKT_WOGEMM_MR];
        for (int m = 0; m < MB; m++) xv[m] = VLOAD(x + m * ldx + k);
        for (int r = 0; r < NB; r++) {
          V w = W8(q + r * ldq + k);
          for (int m = 0; m < MB; m++) acc[m][r] = VFMA(xv[m], w, acc[m][r]);
        }
      } else {
#ifdef WO_W4
        V xe[PKT_WOGEMM_MR], xo[PKT_WOGEMM_MR];
        for (int m = 0; m < MB; m++) {
          xe[m] = VLOAD(x + m * ldx + k);
          xo[m] = VLOAD(x + m * ldx + k + VL);
        }
        for (int r = 0; r < NB; r++) {
          V lo, hi;
          W4(q + r * ldq + (k >> 1), lo, hi); /* k >= 0: a shift, not a signed division */
          for (int m = 0; m < MB; m++) acc[m][r] = VFMA(xo[m], hi, VFMA(xe[m], lo, acc[m][r]));
        }
#endif
      }
    }
    for (int r = 0; r < NB; r++) {
      V sv = VSET(s[r * groups + g]);
      for (int m = 0; m < MB; m++) total[m][r] = VFMA(acc[m][r], sv, total[m][r]);
    }
  }
  for (int m = 0; m < MB; m++)
    for (int r = 0; r < NB; r++) y[m * ldy + r] = VHSUM(total[m][r]);
}

/* One x row: 4 weight rows a block (4 independent chains); several: up to MR x rows against one weight row. */
#define WO_DEFINE(NAME, BITS)                                                                                       \
  WO_TARGET void NAME(int mb, int64_t nrows, int64_t K, int G, const float* x, int64_t ldx, const uint8_t* q,       \
                      int64_t ldq, const float* s, float* y, int64_t ldy) {                                        \
    const int64_t groups = K / G;                                                                                  \
    int64_t n = 0;                                                                                                 \
    if (mb == 1)                                                                                                   \
      for (; n + 4 <= nrows; n += 4) WO_BLOCK(BITS, 1, 4, K, G, x, ldx, q + n * ldq, ldq, s + n * groups, y + n, ldy); \
    for (; n < nrows; n++) {                                                                                       \
      const uint8_t* qn = q + n * ldq;                                                                             \
      const float* sn = s + n * groups;                                                                            \
      switch (mb) {                                                                                                \
        case 1: WO_BLOCK(BITS, 1, 1, K, G, x, ldx, qn, ldq, sn, y + n, ldy); break;                                \
        case 2: WO_BLOCK(BITS, 2, 1, K, G, x, ldx, qn, ldq, sn, y + n, ldy); break;                                \
        case 3: WO_BLOCK(BITS, 3, 1, K, G, x, ldx, qn, ldq, sn, y + n, ldy); break;                                \
        default: WO_BLOCK(BITS, 4, 1, K, G, x, ldx, qn, ldq, sn, y + n, ldy); break;                               \
      }                                                                                                            \
    }                                                                                                              \
  }
WO_DEFINE(WO_W8, 8)
#ifdef WO_W4
WO_DEFINE(WO_W4, 4)
#endif
#undef WO_DEFINE
