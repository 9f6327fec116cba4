/* The GEMM micro-kernel family, written once over a few vector macros and included once per ISA and tile
 * (gemm_x86.c, gemm_arm.c), like vmath/vec_math_impl.h. An instance computes rows [0, mr) (mr <= UK_MR) and
 * columns [0, nr) (nr <= PKT_GEMM_NR) of one packed panel (gemm.h's pkt_gemm_ukernel), UK_NR = UK_NV * VL
 * columns at a time: an UK_MR x UK_NR tile of C stays in registers over the whole K and is written once
 * with the bias and the activation (clamp-like ones inline, the others by UK_ACT over the stored row).
 *
 * The includer defines:
 *   UK_NAME        the exported function          UK_MR, UK_NV   rows, vectors per row of the tile
 *   UK_TARGET      function attributes            UK_ACT         the ISA's in-place activation (pkt_act_fn)
 *   V, VL          vector type and lanes          VZERO()        a zero vector
 *   VLOAD(p)       unaligned load                 VSTORE(p, v)   unaligned store
 *   VBCAST(p)      *p in every lane               VSET(c)        c in every lane
 *   VFMA(a, b, c)  c + a * b                      VADD(a, b)     a + b
 *   VCLAMP(v, lo, hi)  min(hi, max(lo, v)) with NaN in v kept
 * and may define VFMA_LANE(a, v, l, c), c + a * (lane l of v) for a constant l < 4 (NEON's fmla by element):
 * then A is read with vector loads, 4 steps of K per load, instead of a broadcast load per step.
 * Every row count is its own instance of the tile (a compile-time constant), so the accumulators stay in
 * registers; one row alone splits K four ways to hide the FMA latency (batch-1 linear layers). */

#define UK_NR (UK_NV * VL)
#define UK_CAT_(a, b) a##_##b
#define UK_CAT(a, b) UK_CAT_(a, b)
#define UK_FN(part) UK_CAT(UK_NAME, part)
#define UK_INLINE UK_TARGET __attribute__((always_inline)) static inline
/* Loops over rows and vectors unroll fully, so every accumulator is a named register (not an array in memory). */
#define UK_UNROLL _Pragma("GCC unroll 16")

UK_INLINE void UK_FN(store)(const int MRc, V acc[][UK_NV], float* C, int64_t ldc, int nr, const float* bias, int act,
                            float lo, float hi) {
  const int simple = act == PKT_ACT_NONE || act == PKT_ACT_RELU || act == PKT_ACT_RELU6 || act == PKT_ACT_CLAMP;
  float flo = -INFINITY, fhi = INFINITY;
  if (act == PKT_ACT_RELU || act == PKT_ACT_RELU6) flo = 0.f;
  if (act == PKT_ACT_RELU6) fhi = 6.f;
  if (act == PKT_ACT_CLAMP) flo = lo, fhi = hi;
  const V vlo = VSET(flo), vhi = VSET(fhi);
  float tmp[UK_NR];
  V vb[UK_NV];
  if (bias && nr == UK_NR) {
    UK_UNROLL
    for (int q = 0; q < UK_NV; q++) vb[q] = VLOAD(bias + q * VL);
  } else {
    for (int j = 0; j < UK_NR; j++) tmp[j] = bias && j < nr ? bias[j] : 0.f;
    UK_UNROLL
    for (int q = 0; q < UK_NV; q++) vb[q] = VLOAD(tmp + q * VL);
  }
  UK_UNROLL
  for (int r = 0; r < MRc; r++) {
    float* c = C + r * ldc;
    V v[UK_NV];
    UK_UNROLL
    for (int q = 0; q < UK_NV; q++) {
      v[q] = VADD(acc[r][q], vb[q]);
      if (simple) v[q] = VCLAMP(v[q], vlo, vhi);
    }
    if (nr == UK_NR) {
      UK_UNROLL
      for (int q = 0; q < UK_NV; q++) VSTORE(c + q * VL, v[q]);
    } else {
      UK_UNROLL
      for (int q = 0; q < UK_NV; q++) VSTORE(tmp + q * VL, v[q]);
      for (int j = 0; j < nr; j++) c[j] = tmp[j];
    }
    if (!simple) UK_ACT(c, nr, act, lo, hi);
  }
}

UK_INLINE void UK_FN(tile)(const int MRc, int64_t K, const float* A, int64_t lda, const float* b, float* C, int64_t ldc,
                           int nr, const float* bias, int act, float lo, float hi) {
  V acc[UK_MR][UK_NV];
  const float* rows[UK_MR];
  UK_UNROLL
  for (int r = 0; r < MRc; r++) {
    rows[r] = A + r * lda;
    UK_UNROLL
    for (int q = 0; q < UK_NV; q++) acc[r][q] = VZERO();
  }
  int64_t k = 0;
#if defined(VFMA_LANE)
  /* Four steps of k at a time: each row's next 4 A values in one vector load, each multiplied out of its lane,
   * instead of a broadcast load per row and step (live: the MR A vectors, one B vector, the accumulators). */
  for (; k + 4 <= K; k += 4) {
    V av[UK_MR];
    UK_UNROLL
    for (int r = 0; r < MRc; r++) av[r] = VLOAD(rows[r] + k);
#define UK_LANE_STEP(l)                                                             \
  UK_UNROLL                                                                         \
  for (int q = 0; q < UK_NV; q++) {                                                 \
    const V bv = VLOAD(b + (k + l) * PKT_GEMM_NR + q * VL);                         \
    UK_UNROLL                                                                       \
    for (int r = 0; r < MRc; r++) acc[r][q] = VFMA_LANE(bv, av[r], l, acc[r][q]);    \
  }
    UK_LANE_STEP(0)
    UK_LANE_STEP(1)
    UK_LANE_STEP(2)
    UK_LANE_STEP(3)
#undef UK_LANE_STEP
  }
#endif
  for (; k < K; k++) {
    V bq[UK_NV];
    UK_UNROLL
    for (int q = 0; q < UK_NV; q++) bq[q] = VLOAD(b + k * PKT_GEMM_NR + q * VL);
    UK_UNROLL
    for (int r = 0; r < MRc; r++) {
      const V a = VBCAST(rows[r] + k);
      UK_UNROLL
      for (int q = 0; q < UK_NV; q++) acc[r][q] = VFMA(a, bq[q], acc[r][q]);
    }
  }
  UK_FN(store)(MRc, acc, C, ldc, nr, bias, act, lo, hi);
}

UK_TARGET static void UK_FN(row)(int64_t K, const float* a, const float* b, float* C, int nr, const float* bias, int act,
                                 float lo, float hi) {
  V s[4][UK_NV];
  UK_UNROLL
  for (int u = 0; u < 4; u++)
    UK_UNROLL
    for (int q = 0; q < UK_NV; q++) s[u][q] = VZERO();
  int64_t k = 0;
  for (; k + 4 <= K; k += 4)
    UK_UNROLL
    for (int u = 0; u < 4; u++) {
      const V av = VBCAST(a + k + u);
      UK_UNROLL
      for (int q = 0; q < UK_NV; q++) s[u][q] = VFMA(av, VLOAD(b + (k + u) * PKT_GEMM_NR + q * VL), s[u][q]);
    }
  for (; k < K; k++) {
    const V av = VBCAST(a + k);
    UK_UNROLL
    for (int q = 0; q < UK_NV; q++) s[0][q] = VFMA(av, VLOAD(b + k * PKT_GEMM_NR + q * VL), s[0][q]);
  }
  V acc[1][UK_NV];
  UK_UNROLL
  for (int q = 0; q < UK_NV; q++) acc[0][q] = VADD(VADD(s[0][q], s[1][q]), VADD(s[2][q], s[3][q]));
  UK_FN(store)(1, acc, C, 0, nr, bias, act, lo, hi);
}

/* One UK_NR-column strip. Each case is a separate function so that each gets its own registers. */
#define UK_CASE(n)                                                                                            \
  UK_TARGET static void UK_CAT(UK_FN(rows), n)(int64_t K, const float* A, int64_t lda, const float* b, float* C, \
                                               int64_t ldc, int nr, const float* bias, int act, float lo,   \
                                               float hi) {                                                  \
    UK_FN(tile)(n, K, A, lda, b, C, ldc, nr, bias, act, lo, hi);                                             \
  }
UK_CASE(2)
#if UK_MR >= 3
UK_CASE(3)
#endif
#if UK_MR >= 4
UK_CASE(4)
#endif
#if UK_MR >= 5
UK_CASE(5)
#endif
#if UK_MR >= 6
UK_CASE(6)
#endif
#if UK_MR >= 7
UK_CASE(7)
#endif
#if UK_MR >= 8
UK_CASE(8)
#endif
#if UK_MR >= 9
UK_CASE(9)
#endif
#if UK_MR >= 10
UK_CASE(10)
#endif
#if UK_MR >= 11
UK_CASE(11)
#endif
#if UK_MR >= 12
UK_CASE(12)
#endif
#if UK_MR > 12
#error "gemm_ukernel_impl.h: UK_MR above 12 needs more cases"
#endif
#undef UK_CASE

UK_TARGET void UK_NAME(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C, int64_t ldc, int nr,
                       const float* bias, int act, float lo, float hi) {
  for (int c0 = 0; c0 < nr; c0 += UK_NR) {
    const float* b = panel + c0;
    float* c = C + c0;
    const float* bc = bias ? bias + c0 : NULL;
    const int n = nr - c0 < UK_NR ? nr - c0 : UK_NR;
    switch (mr) {
#define UK_CALL(m) \
  case m: UK_CAT(UK_FN(rows), m)(K, A, lda, b, c, ldc, n, bc, act, lo, hi); break;
      UK_CALL(2)
#if UK_MR >= 3
      UK_CALL(3)
#endif
#if UK_MR >= 4
      UK_CALL(4)
#endif
#if UK_MR >= 5
      UK_CALL(5)
#endif
#if UK_MR >= 6
      UK_CALL(6)
#endif
#if UK_MR >= 7
      UK_CALL(7)
#endif
#if UK_MR >= 8
      UK_CALL(8)
#endif
#if UK_MR >= 9
      UK_CALL(9)
#endif
#if UK_MR >= 10
      UK_CALL(10)
#endif
#if UK_MR >= 11
      UK_CALL(11)
#endif
#if UK_MR >= 12
      UK_CALL(12)
#endif
#undef UK_CALL
      default: UK_FN(row)(K, A, b, c, n, bc, act, lo, hi); break;
    }
  }
}

#undef UK_NR
#undef UK_CAT_
#undef UK_CAT
#undef UK_FN
#undef UK_INLINE
#undef UK_UNROLL
