/* The int8 max pooling plane, included once per ISA with QP_NAME(x) (the ISA's suffix) and QP_TARGET (its target
 * attribute), the loops vectorized by the compiler for that target. Output columns go in tiles whose input span fits
 * a stack row t (t[j] = input column c0 + j, -128 outside the input): per output row, t is the max of the window's
 * rows inside the input (contiguous runs, up to 3 rows in one pass), then each output is the max of its kw cells of
 * t. A window wider than half the row takes the reference loop. QP_HMAX(t, y, n, kw, sw, dw), when defined, is an
 * ISA's own horizontal step for the cases it takes (returns 1), reading up to QP_SLACK bytes past the span. */

#define QP_SPAN 2048
#define QP_ROWS 8 /* rows gathered before a pass over them */
#define QP_SLACK 64 /* t's bytes past the span, for QP_HMAX's whole vectors (-128) */

/* t[0..n) = the max of the rows r[0..nr) (nr >= 1), in one pass for up to 3 rows */
QP_TARGET static void QP_NAME(qp_vmax)(int8_t* t, const int8_t* const* r, int nr, int64_t n) {
  const int8_t *r0 = r[0], *r1 = r[nr > 1], *r2 = r[nr > 2 ? 2 : 0]; /* r0 may be t (rows folded) */
  for (int64_t i = 0; i < n; i++) {
    int8_t m = r0[i] > r1[i] ? r0[i] : r1[i];
    t[i] = m > r2[i] ? m : r2[i];
  }
  for (int k = 3; k < nr; k++) {
    const int8_t* rk = r[k];
    for (int64_t i = 0; i < n; i++) t[i] = t[i] > rk[i] ? t[i] : rk[i];
  }
}

QP_TARGET static void QP_NAME(qp_hmax)(const int8_t* restrict t, int8_t* restrict y, int64_t n, int64_t kw,
                                       int64_t sw, int64_t dw) {
#if defined(QP_HMAX)
  if (QP_HMAX(t, y, n, kw, sw, dw)) return;
#endif
  if (sw == 1 && dw == 1) {
    for (int64_t i = 0; i < n; i++) y[i] = t[i];
    for (int64_t k = 1; k < kw; k++)
      for (int64_t i = 0; i < n; i++) y[i] = y[i] > t[i + k] ? y[i] : t[i + k];
  } else if (sw == 2 && dw == 1) {
    for (int64_t i = 0; i < n; i++) y[i] = t[2 * i];
    for (int64_t k = 1; k < kw; k++)
      for (int64_t i = 0; i < n; i++) y[i] = y[i] > t[2 * i + k] ? y[i] : t[2 * i + k];
  } else {
    for (int64_t i = 0; i < n; i++) {
      int8_t m = t[i * sw];
      for (int64_t k = 1; k < kw; k++) m = m > t[i * sw + k * dw] ? m : t[i * sw + k * dw];
      y[i] = m;
    }
  }
}

QP_TARGET static void QP_NAME(qp_plane)(const pkt_qelem_pool* p, const int8_t* x, int8_t* y) {
  const int64_t win = (p->kw - 1) * p->dw + 1;
  if (win > QP_SPAN / 2) {
    pkt_qelem_max_plane_reference(p, x, y);
    return;
  }
  int8_t t[QP_SPAN + QP_SLACK];
  memset(t, -128, sizeof t);
  const int64_t tile = (QP_SPAN - win) / p->sw + 1;
  for (int64_t ox0 = 0; ox0 < p->OW; ox0 += tile) {
    const int64_t nt = p->OW - ox0 < tile ? p->OW - ox0 : tile, span = (nt - 1) * p->sw + win;
    const int64_t c0 = ox0 * p->sw - p->pw;
    int64_t j0 = c0 < 0 ? -c0 : 0, j1 = p->W - c0 < span ? p->W - c0 : span;
    if (j1 < j0) j1 = j0;
    if (ox0) memset(t, -128, (size_t)span);
    for (int64_t oy = 0; oy < p->OH; oy++) {
      const int8_t* r[QP_ROWS];
      int nr = 0;
      for (int64_t ky = 0; ky < p->kh && j1 > j0; ky++) {
        const int64_t iy = oy * p->sh - p->ph + ky * p->dh;
        if (iy < 0 || iy >= p->H) continue;
        r[nr++] = x + iy * p->W + (c0 + j0); /* input column c0 + j0 >= 0 */
        if (nr == QP_ROWS) { /* fold the rows so far into the first */
          QP_NAME(qp_vmax)(t + j0, r, nr, j1 - j0);
          r[0] = t + j0;
          nr = 1;
        }
      }
      if (nr)
        QP_NAME(qp_vmax)(t + j0, r, nr, j1 - j0);
      else if (j1 > j0)
        memset(t + j0, -128, (size_t)(j1 - j0));
      QP_NAME(qp_hmax)(t, y + oy * p->OW + ox0, nt, p->kw, p->sw, p->dw);
    }
  }
}

#undef QP_SPAN
#undef QP_ROWS
#undef QP_SLACK
