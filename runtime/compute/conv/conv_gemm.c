/* Convolution internals shared by every ISA and by conv2d and the fused conv pairs: implementation
 * selection, prepare() checks, weight and im2col packing, depthwise bands, pointwise GEMMs over a pixel
 * range, and the portable micro-kernel and depthwise row kernel (see conv_impl.h). The fused pairs'
 * own machinery is in conv_pair.c. */
#include <math.h>

#include "compute/conv/conv_impl.h"

/* The conv family's micro-kernels and helpers per ISA (dwf NULL: the padded-buffer dw path serves every
 * depthwise conv; dwf_3x3: dwf takes only 3x3 kernels with padding 1). */
static const conv_isa_impl configs[] = {
    [PKT_ISA_PORTABLE] = {.mr = CONV_MR_PORTABLE, .nr = CONV_NR_PORTABLE, .ukernel = conv_ukernel_portable,
                          .residual = conv_residual_portable, .dw = conv_dw_portable, .fill2 = conv_fill2_portable,
                          .act = pkt_act_portable},
#ifdef CONV_HAVE_NEON
    [PKT_ISA_NEON] = {.mr = CONV_MR_NEON, .nr = CONV_NR_NEON, .ukernel = conv_ukernel_neon,
                      .residual = conv_residual_neon, .dw = conv_dw_neon, .fill2 = conv_fill2_neon,
                      .act = pkt_act_portable},
#endif
#ifdef CONV_HAVE_X86
    [PKT_ISA_AVX2] = {.mr = CONV_MR_AVX2, .nr = CONV_NR_AVX2, .ukernel = conv_ukernel_avx2,
                      .residual = conv_residual_avx2, .dw = conv_dw_avx2, .dwf = conv_dwf_avx2, .dwf_3x3 = 1,
                      .fill2 = conv_fill2_avx2, .act = pkt_act_avx2},
    [PKT_ISA_AVX512] = {.mr = CONV_MR_AVX512, .nr = CONV_NR_AVX512, .ukernel = conv_ukernel_avx512,
                        .residual = conv_residual_avx512, .dw = conv_dw_avx512, .dwf = conv_dwf_avx512,
                        .fill2 = conv_fill2_avx512, .act = pkt_act_avx512},
#endif
};

void conv_isa_select(const pkt_isa_config* cfg, conv_isa_impl* out) {
  unsigned i = (unsigned)cfg->isa;
  *out = i < sizeof configs / sizeof configs[0] && configs[i].ukernel ? configs[i] : configs[PKT_ISA_PORTABLE];
}

pkt_status conv_check_window_params(const pkt_node* n, int first, pkt_err* err) {
  static const char* names[6] = {"stride", "stride", "padding", "padding", "dilation", "dilation"};
  for (int i = 0; i < 6; i++) {
    int64_t v = pkt_param_i(n, first + i), lo = i == 2 || i == 3 ? 0 : 1;
    if (v < lo || v > CONV_PARAM_LIMIT)
      return pkt_fail(err, PKT_BAD_PARAMS, "%s %lld is out of range [%lld, %lld]", names[i], (long long)v,
                      (long long)lo, (long long)CONV_PARAM_LIMIT);
  }
  return PKT_OK;
}

pkt_status conv_check_output_size(const conv_geom* g, pkt_err* err) {
  int64_t eh = g->H + 2 * g->ph - g->dh * (g->kh - 1) - 1, ew = g->W + 2 * g->pw - g->dw * (g->kw - 1) - 1;
  if (eh < 0 || ew < 0 || eh / g->sh + 1 != g->OH || ew / g->sw + 1 != g->OW)
    return pkt_fail(err, PKT_BAD_OPERANDS,
                    "output %lldx%lld does not match input %lldx%lld with this kernel/stride/padding/dilation",
                    (long long)g->OH, (long long)g->OW, (long long)g->H, (long long)g->W);
  return PKT_OK;
}

pkt_status conv_check_residual(const pkt_tensor* r, const pkt_tensor* y, pkt_err* err) {
  pkt_status st = pkt_check_dtype(r, PKT_F32, "residual", err);
  if (st) return st;
  if (!pkt_same_shape(r, y))
    return pkt_fail(err, PKT_BAD_OPERANDS, "residual input is not shaped as the output [%lld, %lld, %lld, %lld]",
                    (long long)y->dims[0], (long long)y->dims[1], (long long)y->dims[2], (long long)y->dims[3]);
  return PKT_OK;
}

void conv_add_act(const conv_isa_impl* impl, float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, int act,
                  float lo, float hi) {
  float clo, chi;
  conv_act_bounds(act, lo, hi, &clo, &chi);
  impl->residual(y, r, ld, rows, cols, clo, chi);
  if (!conv_act_simple(act))
    for (int64_t i = 0; i < rows; i++) impl->act(y + i * ld, cols, act, lo, hi);
}

void conv_dw_layout(const conv_geom* g, int64_t* rows, int64_t* pstride) {
  int64_t wp = g->W + 2 * g->pw;
  *rows = g->H + 2 * g->ph;
  /* a row kernel reads phase columns up to OW rounded up to a vector (16) plus the window offset */
  int64_t need = (g->OW + CONV_DW_OVERRUN - 1) / CONV_DW_OVERRUN * CONV_DW_OVERRUN + (g->kw - 1) * g->dw / g->sw;
  int64_t ps = (wp + g->sw - 1) / g->sw;
  *pstride = ps > need ? ps : need;
}

void conv_dw_fill(const conv_geom* g, int64_t ps, conv_fill2_fn fill2, const float* src_rows, int64_t row0, float* buf,
                  float* tmp, int64_t r0, int64_t r1) {
  const int64_t sw = g->sw;
  for (int64_t r = r0; r < r1; r++) {
    int64_t iy = r - g->ph;
    float* row = buf + r * sw * ps;
    if (iy < 0 || iy >= g->H) {
      memset(row, 0, (size_t)(sw * ps) * sizeof(float));
      continue;
    }
    const float* src = src_rows + (iy - row0) * g->W;
    if (sw == 1) {
      memset(row, 0, (size_t)g->pw * sizeof(float));
      memcpy(row + g->pw, src, (size_t)g->W * sizeof(float));
      memset(row + g->pw + g->W, 0, (size_t)(ps - g->pw - g->W) * sizeof(float));
      continue;
    }
    if (sw == 2) {
      fill2(src, g->W, g->pw, row, row + ps, ps);
      continue;
    }
    /* the padded row, sw*ps columns, in tmp; then phase f gets padded columns i*sw + f */
    int64_t n = g->W < sw * ps - g->pw ? g->W : sw * ps - g->pw;
    memset(tmp, 0, (size_t)g->pw * sizeof(float));
    memcpy(tmp + g->pw, src, (size_t)n * sizeof(float));
    memset(tmp + g->pw + n, 0, (size_t)(sw * ps - g->pw - n) * sizeof(float));
    for (int64_t f = 0; f < sw; f++)
      for (int64_t i = 0; i < ps; i++) row[f * ps + i] = tmp[i * sw + f];
  }
}

void conv_dw_band(const conv_geom* d, const conv_isa_impl* impl, int64_t ps, int64_t dw_rows, const float* src_rows,
                  int64_t row0, float* buf, int64_t oy0, int64_t oy1, const float* w, float bias, int act, float lo,
                  float hi, float* out) {
  const int64_t rstride = d->sw * ps;
  conv_dw_fill(d, ps, impl->fill2, src_rows, row0, buf, buf + dw_rows * rstride, oy0 * d->sh,
               (oy1 - 1) * d->sh + (d->kh - 1) * d->dh + 1);
  /* the row kernel writes output row oy at y + oy * OW and reads buffer row oy * sh + ky * dh: shift the
   * buffer so the band's rows count from 0 */
  conv_dw_args a = {buf + oy0 * d->sh * rstride, rstride, ps, out, d->OW, 0, oy1 - oy0, d->kh, d->kw, d->sh, d->sw,
                    d->dh, d->dw, w, bias, act, lo, hi};
  impl->dw(&a);
}

void conv_pointwise_pixels(const conv_geom* g, const conv_isa_impl* impl, const float* x, const float* packed,
                           const float* bias, int act, float lo, float hi, int64_t p_first, int64_t P, float* out,
                           int64_t ldo, float* panel) {
  const int mr = impl->mr, nr = impl->nr;
  const int64_t plane = g->H * g->W;
  for (int64_t p0 = 0; p0 < P; p0 += nr) {
    int cnt = (int)(P - p0 < nr ? P - p0 : nr), in_place = conv_panel_in_place(g, cnt, nr);
    if (!in_place) conv_pack_panel(g, x, p_first + p0, cnt, nr, impl->fill2, panel);
    for (int64_t k0 = 0; k0 < g->K; k0 += CONV_POINTWISE_KC) {
      int64_t kc = g->K - k0 < CONV_POINTWISE_KC ? g->K - k0 : CONV_POINTWISE_KC;
      const float* b = in_place ? x + p_first + p0 + k0 * plane : panel + k0 * nr;
      for (int64_t o0 = 0; o0 < g->O; o0 += mr) {
        int rows = (int)(g->O - o0 < mr ? g->O - o0 : mr);
        impl->ukernel(kc, packed + o0 * g->K + k0 * mr, b, in_place ? plane : nr, out + o0 * ldo + p0, ldo, rows, cnt,
                      bias + o0, k0 == 0, k0 + kc == g->K, act, lo, hi);
      }
    }
  }
}

/* One block of mr rows (rows < mr: the rest zero) in tiles of CONV_PACK_KT columns: each row's tile is
 * one contiguous read and the tile's writes stay in L1, where a column at a time would read mr rows
 * K floats apart for every k. */
#define CONV_PACK_KT 16
static void pack_row_block(const float* w, int rows, int64_t K, int mr, float* dst) {
  for (int64_t k0 = 0; k0 < K; k0 += CONV_PACK_KT) {
    const int kc = (int)(K - k0 < CONV_PACK_KT ? K - k0 : CONV_PACK_KT);
    float* d = dst + k0 * mr;
    for (int r = 0; r < rows; r++) {
      const float* src = w + r * K + k0;
      for (int k = 0; k < kc; k++) d[k * mr + r] = src[k];
    }
    for (int r = rows; r < mr; r++)
      for (int k = 0; k < kc; k++) d[k * mr + r] = 0.f;
  }
}

void conv_pack_weights(const float* w, int64_t Og, int64_t K, int mr, float* dst) {
  for (int64_t r0 = 0; r0 < Og; r0 += mr, dst += K * mr) pack_row_block(w + r0 * K, (int)(Og - r0 < mr ? Og - r0 : mr), K, mr, dst);
}

typedef struct conv_pack_job {
  const float* w;
  int64_t Og, K, rblocks;
  int mr;
  float* dst;
} conv_pack_job;

static void conv_pack_range(void* ctx, int64_t begin, int64_t end) {
  const conv_pack_job* j = ctx;
  for (int64_t it = begin; it < end; it++) {
    int64_t grp = it / j->rblocks, r0 = it % j->rblocks * j->mr;
    pack_row_block(j->w + (grp * j->Og + r0) * j->K, (int)(j->Og - r0 < j->mr ? j->Og - r0 : j->mr), j->K, j->mr,
                   j->dst + (it * j->mr) * j->K);
  }
}

void conv_pack_weights_on(const pkt_node* n, const float* w, int64_t groups, int64_t Og, int64_t K, int mr, float* dst) {
  conv_pack_job j = {w, Og, K, (Og + mr - 1) / mr, mr, dst};
  pkt_parallel_for(n, groups * j.rblocks, conv_pack_range, &j);
}

typedef struct conv_seg {
  int64_t oy, ox, len, off; /* output row, first column, pixel count, column in the panel */
} conv_seg;

/* The kh*kw rows of one input channel for a stride-1 or stride-2 panel (dilation 1 along x at stride 2).
 * The input row of a (kernel row, segment) is looked up once for its kw rows. At stride 2 it is split
 * into its even and odd columns once, and kernel column kx copies phase kx % 2 from offset kx / 2; at
 * stride 1 each kernel column is one copy between two zero-filled ends. */
/* d[t] = row[start + t] for t in [0, len), zero where start + t falls outside the row's W columns. */
static void copy_shifted(const float* row, int64_t W, int64_t start, int64_t len, float* d) {
  int64_t a = start < 0 ? -start : 0, b = W - start; /* valid [a, b) */
  if (a > len) a = len;
  if (b > len) b = len;
  if (b < a) b = a;
  memset(d, 0, (size_t)a * sizeof(float));
  memcpy(d + a, row + start + a, (size_t)(b - a) * sizeof(float)); /* column start + a >= 0 */
  memset(d + b, 0, (size_t)(len - b) * sizeof(float));
}

#define CONV_PHASE_SPAN 32
static void pack_rows_shifted(const conv_geom* g, const float* xc, const conv_seg* seg, int nseg, int64_t cnt, int nr,
                              conv_fill2_fn fill2, float* dst) {
  float even[3 * CONV_PHASE_SPAN], odd[3 * CONV_PHASE_SPAN];
  for (int64_t ky = 0; ky < g->kh; ky++) {
    float* rows = dst + ky * g->kw * nr;
    for (int64_t kx = 0; kx < g->kw; kx++)
      for (int64_t t = cnt; t < nr; t++) rows[kx * nr + t] = 0.f;
    for (int i = 0; i < nseg; i++) {
      const conv_seg* s = &seg[i];
      int64_t iy = s->oy * g->sh - g->ph + ky * g->dh;
      if (iy < 0 || iy >= g->H) {
        for (int64_t kx = 0; kx < g->kw; kx++) memset(rows + kx * nr + s->off, 0, (size_t)s->len * sizeof(float));
        continue;
      }
      if (g->sw == 2) {
        fill2(xc + iy * g->W, g->W, g->pw - 2 * s->ox, even, odd, s->len + g->kw / 2);
        for (int64_t kx = 0; kx < g->kw; kx++)
          memcpy(rows + kx * nr + s->off, (kx % 2 ? odd : even) + kx / 2, (size_t)s->len * sizeof(float));
        continue;
      }
      for (int64_t kx = 0; kx < g->kw; kx++)
        copy_shifted(xc + iy * g->W, g->W, s->ox + kx * g->dw - g->pw, s->len, rows + kx * nr + s->off);
    }
  }
}

/* Small images (rows shorter than a vector, deep layers such as resnet18's 7x7 and 14x14): a panel holds
 * pieces of many output rows, too short for the row copies above to pay for their set-up. Each channel
 * is copied once into a zero-padded plane instead, and every panel row gathers from it through one index
 * per pixel (the pixel's window corner in the padded plane), the same for every channel and tap. */
#define CONV_SMALL_PLANE 4096 /* floats of the padded plane, on the stack */
static int conv_small_image(const conv_geom* g, int nr) {
  return g->OW < 16 && g->kh * g->kw > 1 && nr <= 64 && (g->H + 2 * g->ph) * (g->W + 2 * g->pw) <= CONV_SMALL_PLANE;
}

static void pack_small_image(const conv_geom* g, const float* xg, int64_t p0, int64_t cnt, int nr, float* dst) {
  const int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph;
  float pad[CONV_SMALL_PLANE];
  int64_t idx[64];
  memset(pad, 0, (size_t)(Hp * Wp) * sizeof(float)); /* the border stays zero: channels overwrite the inside */
  for (int64_t j = 0; j < cnt; j++) idx[j] = (p0 + j) / g->OW * g->sh * Wp + (p0 + j) % g->OW * g->sw;
  /* the input rows the panel's windows cover */
  int64_t iy0 = p0 / g->OW * g->sh - g->ph, iy1 = (p0 + cnt - 1) / g->OW * g->sh - g->ph + (g->kh - 1) * g->dh + 1;
  iy0 = iy0 < 0 ? 0 : iy0;
  iy1 = iy1 > g->H ? g->H : iy1;
  for (int64_t c = 0; c < g->Cg; c++) {
    const float* xc = xg + c * g->H * g->W;
    for (int64_t iy = iy0; iy < iy1; iy++)
      memcpy(pad + (iy + g->ph) * Wp + g->pw, xc + iy * g->W, (size_t)g->W * sizeof(float));
    for (int64_t ky = 0; ky < g->kh; ky++)
      for (int64_t kx = 0; kx < g->kw; kx++, dst += nr) {
        const float* src = pad + ky * g->dh * Wp + kx * g->dw;
        for (int64_t j = 0; j < cnt; j++) dst[j] = src[idx[j]];
        for (int64_t j = cnt; j < nr; j++) dst[j] = 0.f;
      }
  }
}

void conv_pack_line(const conv_geom* g, const float* xg, int64_t oy, int64_t ld, conv_fill2_fn fill2, float* dst) {
  for (int64_t c = 0; c < g->Cg; c++) {
    const float* xc = xg + c * g->H * g->W;
    for (int64_t ky = 0; ky < g->kh; ky++) {
      float* rows = dst + (c * g->kh + ky) * g->kw * ld;
      const int64_t iy = oy * g->sh - g->ph + ky * g->dh;
      if (iy < 0 || iy >= g->H) {
        memset(rows, 0, (size_t)(g->kw * ld) * sizeof(float));
        continue;
      }
      const float* src = xc + iy * g->W;
      if (g->sw == 2) { /* taps kx and kx + 1 are the even and odd columns from kx on */
        for (int64_t kx = 0; kx < g->kw; kx += 2)
          fill2(src, g->W, g->pw - kx, rows + kx * ld, kx + 1 < g->kw ? rows + (kx + 1) * ld : NULL, ld);
        continue;
      }
      for (int64_t kx = 0; kx < g->kw; kx++) copy_shifted(src, g->W, kx * g->dw - g->pw, ld, rows + kx * ld);
    }
  }
}

void conv_pack_panel(const conv_geom* g, const float* xg, int64_t p0, int64_t cnt, int nr, conv_fill2_fn fill2,
                     float* dst) {
  const int64_t HW = g->H * g->W;
  if (conv_pointwise(g)) {
    for (int64_t c = 0; c < g->Cg; c++) {
      float* d = dst + c * nr;
      const float* s = xg + c * HW + p0;
      if (cnt == nr && nr == 32) {
        memcpy(d, s, 32 * sizeof(float)); /* a constant size is inlined: no call per channel */
      } else if (cnt == nr) {
        memcpy(d, s, (size_t)nr * sizeof(float));
      } else {
        for (int64_t t = 0; t < cnt; t++) d[t] = s[t];
        for (int64_t t = cnt; t < nr; t++) d[t] = 0.f;
      }
    }
    return;
  }
  if (conv_small_image(g, nr)) {
    pack_small_image(g, xg, p0, cnt, nr, dst);
    return;
  }
  conv_seg seg[64];
  int nseg = 0;
  for (int64_t p = p0; p < p0 + cnt && nseg < 64; nseg++) {
    conv_seg* s = &seg[nseg];
    s->oy = p / g->OW;
    s->ox = p % g->OW;
    s->len = g->OW - s->ox;
    if (s->len > p0 + cnt - p) s->len = p0 + cnt - p;
    s->off = p - p0;
    p += s->len;
  }
  int64_t k = 0;
  for (int64_t c = 0; c < g->Cg; c++) {
    const float* xc = xg + c * HW;
    if (g->sw == 1 || (g->sw == 2 && g->dw == 1 && g->kw <= 2 * CONV_PHASE_SPAN + 1 && nr <= 2 * CONV_PHASE_SPAN)) {
      pack_rows_shifted(g, xc, seg, nseg, cnt, nr, fill2, dst + k * nr);
      k += g->kh * g->kw;
      continue;
    }
    for (int64_t ky = 0; ky < g->kh; ky++) {
      for (int64_t kx = 0; kx < g->kw; kx++, k++) {
        float* d = dst + k * nr;
        for (int64_t t = cnt; t < nr; t++) d[t] = 0.f;
        /* valid output columns for this kx: 0 <= ox*sw + off < W */
        int64_t off = kx * g->dw - g->pw;
        int64_t vlo = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
        int64_t last = g->W - 1 - off;
        int64_t vhi = last < 0 ? 0 : last / g->sw + 1;
        for (int i = 0; i < nseg; i++) {
          const conv_seg* s = &seg[i];
          float* ds = d + s->off;
          int64_t iy = s->oy * g->sh - g->ph + ky * g->dh;
          if (iy < 0 || iy >= g->H) {
            for (int64_t t = 0; t < s->len; t++) ds[t] = 0.f;
            continue;
          }
          const float* xr = xc + iy * g->W;
          if (g->sw == 2) {
            fill2(xr, g->W, -(s->ox * 2 + off), ds, NULL, s->len);
            continue;
          }
          int64_t a = vlo - s->ox, b = vhi - s->ox; /* valid t in [a, b) */
          if (a < 0) a = 0;
          if (b > s->len) b = s->len;
          if (b < a) b = a;
          for (int64_t t = 0; t < a; t++) ds[t] = 0.f;
          const float* src = xr + s->ox * g->sw + off;
          for (int64_t t = a; t < b; t++) ds[t] = src[t * g->sw];
          for (int64_t t = b; t < s->len; t++) ds[t] = 0.f;
        }
      }
    }
  }
}

void conv_residual_portable(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi) {
  for (int64_t i = 0; i < rows; i++, y += ld, r += ld)
    for (int64_t k = 0; k < cols; k++) {
      float v = y[k] + r[k];
      y[k] = v < lo ? lo : v > hi ? hi : v;
    }
}

void conv_ukernel_portable(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                           int nr, const float* bias, int first, int last, int act, float lo, float hi) {
  enum { MR = CONV_MR_PORTABLE, NR = CONV_NR_PORTABLE };
  float acc[MR][NR];
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < NR; j++) acc[r][j] = 0.f;
  for (int64_t k = 0; k < kc; k++) {
    const float* bk = b + k * ldb;
    const float* ak = a + k * MR;
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < NR; j++) acc[r][j] += ak[r] * bk[j];
  }
  float flo, fhi;
  conv_act_bounds(act, lo, hi, &flo, &fhi);
  int simple = conv_act_simple(act);
  for (int r = 0; r < mr; r++) {
    float* c = C + r * ldc;
    float add = last && bias ? bias[r] : 0.f;
    for (int j = 0; j < nr; j++) {
      float v = acc[r][j] + add + (first ? 0.f : c[j]);
      if (last && simple) v = v < flo ? flo : v > fhi ? fhi : v;
      c[j] = v;
    }
    if (last && !simple) pkt_act_portable(c, nr, act, lo, hi);
  }
}

void conv_fill2_portable(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n) {
  for (int64_t i = 0; i < n; i++) conv_fill2_at(src, W, pw, e, o, i);
}

void conv_dw_portable(const conv_dw_args* a) {
  float flo, fhi;
  conv_act_bounds(a->act, a->lo, a->hi, &flo, &fhi);
  int simple = conv_act_simple(a->act);
  for (int64_t oy = a->oy0; oy < a->oy1; oy++) {
    float* yr = a->y + oy * a->OW;
    for (int64_t ox = 0; ox < a->OW; ox++) yr[ox] = a->bias;
    for (int64_t ky = 0; ky < a->kh; ky++) {
      const float* row = a->buf + (oy * a->sh + ky * a->dh) * a->rstride;
      for (int64_t kx = 0; kx < a->kw; kx++) {
        int64_t c = kx * a->dw;
        const float* src = row + (c % a->sw) * a->pstride + c / a->sw;
        float wv = a->w[ky * a->kw + kx];
        for (int64_t ox = 0; ox < a->OW; ox++) yr[ox] += wv * src[ox];
      }
    }
    if (simple) {
      for (int64_t ox = 0; ox < a->OW; ox++) yr[ox] = yr[ox] < flo ? flo : yr[ox] > fhi ? fhi : yr[ox];
    } else {
      pkt_act_portable(yr, a->OW, a->act, a->lo, a->hi);
    }
  }
}
