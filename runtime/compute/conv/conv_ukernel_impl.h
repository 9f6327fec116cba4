/* The conv GEMM micro-kernel family (conv_impl.h's conv_ukernel_fn: per-row bias, K chunks accumulated into
 * C), written once over conv_simd_impl.h's vector macros, like gemm/gemm_ukernel_impl.h. An CV_MR x UK_NR tile
 * (UK_NR = CV_NV * VL) stays in registers over the chunk; a panel narrower than UK_NR runs only the vectors
 * that hold its columns, and, where CV_EX_MAX > 0, keeps up to CV_EX_MAX columns past its last whole vector the
 * other way round: one vector of the tile's rows (the packed A step a[k*MR .. k*MR + MR - 1] is exactly that,
 * so CV_MR <= VL) times the broadcast column element. A 7x7 image's last panel (1 pixel) then costs 1 FMA a
 * step, not MR. */

#ifndef CONV_UK_EPILOGUE
#define CONV_UK_EPILOGUE
/* What a tile does after its K loop, passed by address so that none of it holds a register across the loop
 * (clang kept the float lo there and spilled two accumulators of the AVX2 tile). */
typedef struct conv_uk_epilogue {
  const float* bias;
  int first, last, act;
  float lo, hi;
} conv_uk_epilogue;
#endif

#define UK_NAME CV_NAME(conv_ukernel)
#define UK_NR (CV_NV * VL)
#define UK_CAT_(a, b) a##_##b
#define UK_CAT(a, b) UK_CAT_(a, b)
#define UK_FN(part) UK_CAT(UK_NAME, part)
#define UK_INLINE CV_TARGET __attribute__((always_inline)) static inline
#define UK_UNROLL _Pragma("GCC unroll 16")

#if CV_EX_MAX > 0
#if CV_MR > VL
#error "conv_ukernel_impl.h: extra columns hold the tile's rows in one vector (CV_MR <= VL)"
#endif
/* out[j] = the EX extra columns over the chunk: two chains a column, one A load for all of them. */
UK_INLINE void UK_FN(ex_columns)(const int EX, int64_t kc, const float* a, const float* b, int64_t ldb, V* out) {
  V s[CV_EX_MAX], t[CV_EX_MAX];
  UK_UNROLL
  for (int j = 0; j < EX; j++) s[j] = t[j] = VZERO();
  int64_t k = 0;
  for (; k + 2 <= kc; k += 2) {
    const float *b0 = b + k * ldb, *b1 = b0 + ldb;
    const V a0 = VLOAD_PART(a + k * CV_MR, CV_MR), a1 = VLOAD_PART(a + k * CV_MR + CV_MR, CV_MR);
    UK_UNROLL
    for (int j = 0; j < EX; j++) {
      s[j] = VFMA(a0, VBCAST(b0 + j), s[j]);
      t[j] = VFMA(a1, VBCAST(b1 + j), t[j]);
    }
  }
  if (k < kc) {
    const V a0 = VLOAD_PART(a + k * CV_MR, CV_MR);
    UK_UNROLL
    for (int j = 0; j < EX; j++) s[j] = VFMA(a0, VBCAST(b + k * ldb + j), s[j]);
  }
  UK_UNROLL
  for (int j = 0; j < EX; j++) out[j] = VADD(s[j], t[j]);
}
#endif

/* MRc rows, NV whole vectors and EX extra columns (all compile-time in each instance) of nr columns. */
UK_INLINE void UK_FN(tile)(const int MRc, const int NV, const int EX, int64_t kc, const float* a, const float* b,
                           int64_t ldb, float* C, int64_t ldc, int nr, const conv_uk_epilogue* e) {
  V acc[CV_MR][CV_NV];
  UK_UNROLL
  for (int r = 0; r < MRc; r++)
    UK_UNROLL
    for (int q = 0; q < NV; q++) acc[r][q] = VZERO();
  /* B rows far apart are prefetched 16 steps ahead, never past the chunk's last row: what follows may be lines
   * another core is writing */
  const int64_t k_pf = ldb > 64 ? kc - 16 : 0;
  const float *ak = a, *bk = b;
  for (int64_t k = 0; NV >= 1 && k < kc; k++, ak += CV_MR, bk += ldb) {
    V bq[CV_NV];
    UK_UNROLL
    for (int q = 0; q < NV; q++) bq[q] = VLOAD(bk + q * VL);
    CV_PREFETCH_A(ak);
    if (k < k_pf) CV_PREFETCH_B(bk + 16 * ldb);
    CV_A_DECL(ak);
    UK_UNROLL
    for (int r = 0; r < MRc; r++) {
      const V av = CV_A_ROW(r);
      UK_UNROLL
      for (int q = 0; q < NV; q++) acc[r][q] = VFMA(av, bq[q], acc[r][q]);
    }
  }
  const float* bias = e->bias;
  const int first = e->first, last = e->last, act = e->act;
  float flo, fhi;
  conv_act_bounds(act, e->lo, e->hi, &flo, &fhi);
  const int simple = conv_act_simple(act);
  const V vlo = VSET(flo), vhi = VSET(fhi);
#if CV_EX_MAX > 0
  if (EX) { /* rows in lanes: bias and clamp are vector ops, the column goes out a float at a time */
    const V bv = bias && last ? VLOAD_PART(bias, MRc) : VZERO();
    float col[VL];
    V ex[CV_EX_MAX];
    UK_FN(ex_columns)(EX, kc, a, b + NV * VL, ldb, ex);
    UK_UNROLL
    for (int j = 0; j < EX; j++) {
      float* c = C + NV * VL + j;
      V v = ex[j];
      if (!first) {
        for (int r = 0; r < MRc; r++) col[r] = c[r * ldc];
        v = VADD(v, VLOAD_PART(col, MRc));
      }
      if (last) {
        v = VADD(v, bv);
        if (simple) v = VCLAMP(v, vlo, vhi);
      }
      VSTORE(col, v);
      for (int r = 0; r < MRc; r++) c[r * ldc] = col[r];
    }
  }
#endif
  const int tail = nr - EX - (NV - 1) * VL; /* columns of the last whole vector */
  UK_UNROLL
  for (int r = 0; r < MRc; r++) {
    float* c = C + r * ldc;
    const V bv = VSET(bias && last ? bias[r] : 0.f);
    UK_UNROLL
    for (int q = 0; q < NV; q++) {
      const int part = q == NV - 1 && tail < VL;
      V v = acc[r][q];
      if (!first) v = VADD(v, part ? VLOAD_PART(c + q * VL, tail) : VLOAD(c + q * VL));
      if (last) {
        v = VADD(v, bv);
        if (simple) v = VCLAMP(v, vlo, vhi);
      }
      if (part)
        VSTORE_PART(c + q * VL, v, tail);
      else
        VSTORE(c + q * VL, v);
    }
    if (last && !simple) CV_ACT(c, nr, act, e->lo, e->hi);
  }
}

/* The panel's shape, then the tile: nr = NV whole vectors (the last maybe partial) or, where the columns past
 * the whole vectors are few enough, NV full vectors and EX extra columns. */
UK_INLINE void UK_FN(shape)(const int MRc, int64_t kc, const float* a, const float* b, int64_t ldb, float* C,
                            int64_t ldc, int nr, const conv_uk_epilogue* e) {
#define UK_TILE(nv, ex) UK_FN(tile)(MRc, nv, ex, kc, a, b, ldb, C, ldc, nr, e)
  const int whole = nr / VL, rest = nr % VL;
#if CV_EX_MAX > 0
  if (rest && rest <= CV_EX_MAX) {
    switch (whole * 8 + rest) {
#define UK_EX_CASES(nv)                       \
  case nv * 8 + 1: UK_TILE(nv, 1); return;    \
  case nv * 8 + 2: UK_TILE(nv, 2 <= CV_EX_MAX ? 2 : 1); return; \
  case nv * 8 + 3: UK_TILE(nv, 3 <= CV_EX_MAX ? 3 : 1); return; \
  case nv * 8 + 4: UK_TILE(nv, 4 <= CV_EX_MAX ? 4 : 1); return;
      UK_EX_CASES(0)
#if CV_NV >= 2
      UK_EX_CASES(1)
#endif
#if CV_NV >= 3
      UK_EX_CASES(2)
#endif
#if CV_NV >= 4
      UK_EX_CASES(3)
#endif
#undef UK_EX_CASES
      default: break;
    }
  }
#endif
  switch (whole + (rest > 0)) {
    case 1: UK_TILE(1, 0); break;
#if CV_NV >= 2
    case 2: UK_TILE(2, 0); break;
#endif
#if CV_NV >= 3
    case 3: UK_TILE(3, 0); break;
#endif
#if CV_NV >= 4
    case 4: UK_TILE(4, 0); break;
#endif
    default: break;
  }
#undef UK_TILE
}

/* One row count: a function of its own (not inlined into the dispatch), so each gets its own registers. */
#define UK_CASE(n)                                                                                                \
  CV_TARGET __attribute__((noinline)) static void UK_CAT(UK_FN(rows), n)(                                        \
      int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int nr,                   \
      const conv_uk_epilogue* e) {                                                                               \
    UK_FN(shape)(n, kc, a, b, ldb, C, ldc, nr, e);                                                               \
  }
UK_CASE(1)
UK_CASE(2)
#if CV_MR >= 3
UK_CASE(3)
#endif
#if CV_MR >= 4
UK_CASE(4)
#endif
#if CV_MR >= 5
UK_CASE(5)
#endif
#if CV_MR >= 6
UK_CASE(6)
#endif
#if CV_MR >= 7
UK_CASE(7)
#endif
#if CV_MR >= 8
UK_CASE(8)
#endif
#if CV_MR >= 9
UK_CASE(9)
#endif
#if CV_MR >= 10
UK_CASE(10)
#endif
#if CV_MR >= 11
UK_CASE(11)
#endif
#if CV_MR >= 12
UK_CASE(12)
#endif
#if CV_MR > 12 || CV_NV > 4 || CV_EX_MAX > 4
#error "conv_ukernel_impl.h: CV_MR above 12, CV_NV above 4 or CV_EX_MAX above 4 needs more cases"
#endif
#undef UK_CASE

CV_TARGET void UK_NAME(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr, int nr,
                       const float* bias, int first, int last, int act, float lo, float hi) {
  const conv_uk_epilogue e = {bias, first, last, act, lo, hi};
  switch (mr) {
#define UK_CALL(m) \
  case m: UK_CAT(UK_FN(rows), m)(kc, a, b, ldb, C, ldc, nr, &e); break;
    UK_CALL(1)
    UK_CALL(2)
#if CV_MR >= 3
    UK_CALL(3)
#endif
#if CV_MR >= 4
    UK_CALL(4)
#endif
#if CV_MR >= 5
    UK_CALL(5)
#endif
#if CV_MR >= 6
    UK_CALL(6)
#endif
#if CV_MR >= 7
    UK_CALL(7)
#endif
#if CV_MR >= 8
    UK_CALL(8)
#endif
#if CV_MR >= 9
    UK_CALL(9)
#endif
#if CV_MR >= 10
    UK_CALL(10)
#endif
#if CV_MR >= 11
    UK_CALL(11)
#endif
#if CV_MR >= 12
    UK_CALL(12)
#endif
#undef UK_CALL
    default: break;
  }
}

#undef UK_NAME
#undef UK_NR
#undef UK_CAT_
#undef UK_CAT
#undef UK_FN
#undef UK_INLINE
#undef UK_UNROLL
