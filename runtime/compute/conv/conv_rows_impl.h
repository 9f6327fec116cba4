/* The conv family's row kernels, written once over a few vector macros and included once per ISA
 * (through conv_simd_impl.h), like conv_ukernel_impl.h: the depthwise row kernel over the padded, phase-split
 * buffer (conv_impl.h's conv_dw_fn), the residual epilogue (conv_residual_fn) and the stride-2 row splitter
 * (conv_fill2_fn: the row's interior a pair of vectors at a time, split by VUNZIP; the padded ends scalar).
 *
 * Depthwise: output rows in blocks of CV_DW_NV vectors (CV_DW_NV * VL <= CONV_DW_OVERRUN columns: every load of a
 * block is inside the zero-filled buffer; only the columns below OW are stored). A 3x3 kernel keeps its
 * weights in registers and, at stride and dilation 1 along y, makes two output rows at a time, so each of the
 * four input rows is loaded once for both. Other kernels up to CONV_DWF_MAX_TAPS taps sum the taps in two
 * chains a vector (one where a block has several vectors already); larger ones are rare enough for the
 * portable kernel.
 */

#define RW_INLINE CV_TARGET __attribute__((always_inline)) static inline
#define RW_UNROLL _Pragma("GCC unroll 16")
#define DW_BLOCK (CV_DW_NV * VL)
#define DW_CHAINS (CV_DW_NV == 1 ? 2 : 1) /* a lone vector's taps in two chains, so the FMA latency does not bound it */

/* The first n (>= 1) columns of a block at y. */
RW_INLINE void CV_NAME(dw_put)(float* y, const V* v, int64_t n, int CLAMP, V vlo, V vhi) {
  RW_UNROLL
  for (int q = 0; q < CV_DW_NV; q++) {
    const int64_t m = n - q * VL;
    if (m <= 0) break;
    const V o = CLAMP ? VCLAMP(v[q], vlo, vhi) : v[q];
    if (m >= VL)
      VSTORE(y + q * VL, o);
    else
      VSTORE_PART(y + q * VL, o, (int)m);
  }
}

/* 3x3: column offsets c[3] of the taps in a buffer row, rows rs apart. */
RW_INLINE void CV_NAME(dw3x3)(const conv_dw_args* a, int CLAMP, V vlo, V vhi, V vb, const int64_t* c, int64_t rs) {
  V w[9];
  RW_UNROLL
  for (int t = 0; t < 9; t++) w[t] = VSET(a->w[t]);
  int64_t oy = a->oy0;
  if (a->sh == 1 && a->dh == 1)
    for (; oy + 2 <= a->oy1; oy += 2) {
      float* y0 = a->y + oy * a->OW;
      const float* base = a->buf + oy * a->rstride;
      for (int64_t ox = 0; ox < a->OW; ox += DW_BLOCK) {
        V a0[CV_DW_NV], a1[CV_DW_NV];
        RW_UNROLL
        for (int q = 0; q < CV_DW_NV; q++) a0[q] = a1[q] = vb;
        RW_UNROLL
        for (int k = 0; k < 4; k++) /* input row k: kernel row k of output row 0, k - 1 of output row 1 */
          RW_UNROLL
          for (int kx = 0; kx < 3; kx++)
            RW_UNROLL
            for (int q = 0; q < CV_DW_NV; q++) {
              const V x = VLOAD(base + k * rs + c[kx] + ox + q * VL);
              if (k < 3) a0[q] = VFMA(w[3 * k + kx], x, a0[q]);
              if (k >= 1) a1[q] = VFMA(w[3 * k - 3 + kx], x, a1[q]);
            }
        CV_NAME(dw_put)(y0 + ox, a0, a->OW - ox, CLAMP, vlo, vhi);
        CV_NAME(dw_put)(y0 + a->OW + ox, a1, a->OW - ox, CLAMP, vlo, vhi);
      }
      if (!CLAMP) CV_ACT(y0, 2 * a->OW, a->act, a->lo, a->hi);
    }
  for (; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    const float* base = a->buf + oy * a->sh * a->rstride;
    for (int64_t ox = 0; ox < a->OW; ox += DW_BLOCK) {
      V s[3][CV_DW_NV]; /* a chain per kernel row */
      RW_UNROLL
      for (int k = 0; k < 3; k++)
        RW_UNROLL
        for (int q = 0; q < CV_DW_NV; q++) {
          s[k][q] = k == 0 ? vb : VZERO();
          RW_UNROLL
          for (int kx = 0; kx < 3; kx++) s[k][q] = VFMA(w[3 * k + kx], VLOAD(base + k * rs + c[kx] + ox + q * VL), s[k][q]);
        }
      RW_UNROLL
      for (int q = 0; q < CV_DW_NV; q++) s[0][q] = VADD(VADD(s[0][q], s[1][q]), s[2][q]);
      CV_NAME(dw_put)(yr + ox, s[0], a->OW - ox, CLAMP, vlo, vhi);
    }
    if (!CLAMP) CV_ACT(yr, a->OW, a->act, a->lo, a->hi);
  }
}

RW_INLINE void CV_NAME(dw_taps)(const conv_dw_args* a, int CLAMP, V vlo, V vhi, V vb, const int64_t* off, int64_t taps) {
  for (int64_t oy = a->oy0; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    const float* row = a->buf + oy * a->sh * a->rstride;
    for (int64_t ox = 0; ox < a->OW; ox += DW_BLOCK) {
      V acc[DW_CHAINS][CV_DW_NV];
      RW_UNROLL
      for (int q = 0; q < CV_DW_NV; q++) {
        acc[0][q] = vb;
        if (DW_CHAINS > 1) acc[DW_CHAINS - 1][q] = VZERO();
      }
      for (int64_t t = 0; t < taps; t++) {
        const V wt = VBCAST(a->w + t);
        const float* src = row + off[t] + ox;
        RW_UNROLL
        for (int q = 0; q < CV_DW_NV; q++) acc[t % DW_CHAINS][q] = VFMA(wt, VLOAD(src + q * VL), acc[t % DW_CHAINS][q]);
      }
      if (DW_CHAINS > 1)
        RW_UNROLL
        for (int q = 0; q < CV_DW_NV; q++) acc[0][q] = VADD(acc[0][q], acc[DW_CHAINS - 1][q]);
      CV_NAME(dw_put)(yr + ox, acc[0], a->OW - ox, CLAMP, vlo, vhi);
    }
    if (!CLAMP) CV_ACT(yr, a->OW, a->act, a->lo, a->hi);
  }
}

CV_TARGET void CV_NAME(conv_dw)(const conv_dw_args* a) {
  const int64_t taps = a->kh * a->kw;
  if (taps > CONV_DWF_MAX_TAPS) {
    conv_dw_portable(a);
    return;
  }
  int64_t off[CONV_DWF_MAX_TAPS]; /* tap t's column in the buffer, from the output column */
  for (int64_t t = 0; t < taps; t++) {
    const int64_t c = t % a->kw * a->dw;
    off[t] = t / a->kw * a->dh * a->rstride + (c % a->sw) * a->pstride + c / a->sw;
  }
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  const V vlo = VSET(flo), vhi = VSET(fhi), vb = VSET(a->bias);
  const int clamp = conv_act_simple(a->act);
  if (a->kh == 3 && a->kw == 3) {
    const int64_t rs = a->dh * a->rstride;
    if (clamp)
      CV_NAME(dw3x3)(a, 1, vlo, vhi, vb, off, rs);
    else
      CV_NAME(dw3x3)(a, 0, vlo, vhi, vb, off, rs);
  } else if (clamp) {
    CV_NAME(dw_taps)(a, 1, vlo, vhi, vb, off, taps);
  } else {
    CV_NAME(dw_taps)(a, 0, vlo, vhi, vb, off, taps);
  }
}

CV_TARGET void CV_NAME(conv_residual)(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo,
                                    float hi) {
  const V vlo = VSET(lo), vhi = VSET(hi);
  for (int64_t i = 0; i < rows; i++, y += ld, r += ld) {
    int64_t j = 0;
    for (; j + VL <= cols; j += VL) VSTORE(y + j, VCLAMP(VADD(VLOAD(y + j), VLOAD(r + j)), vlo, vhi));
    if (j < cols) {
      const int n = (int)(cols - j);
      VSTORE_PART(y + j, VCLAMP(VADD(VLOAD_PART(y + j, n), VLOAD_PART(r + j, n)), vlo, vhi), n);
    }
  }
}

CV_TARGET void CV_NAME(conv_fill2)(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n) {
  const int64_t first = pw > 0 ? (pw + 1) / 2 : 0; /* the first i whose column 2i - pw is inside the row */
  int64_t i = 0;
  for (; i < n && i < first; i++) conv_fill2_at(src, W, pw, e, o, i);
  for (; i + VL <= n && 2 * i - pw + 2 * VL <= W; i += VL) {
    V ev, od;
    VUNZIP(VLOAD(src + 2 * i - pw), VLOAD(src + 2 * i - pw + VL), ev, od);
    VSTORE(e + i, ev);
    if (o) VSTORE(o + i, od);
  }
  for (; i < n; i++) conv_fill2_at(src, W, pw, e, o, i);
}

#undef RW_INLINE
#undef RW_UNROLL
#undef DW_BLOCK
#undef DW_CHAINS
