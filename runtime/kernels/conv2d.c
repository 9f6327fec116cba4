/* conv2d: NCHW input, OIHW weight [O, C/groups, kh, kw], optional bias [O], symmetric padding,
 * stride, dilation, groups, fused activation.
 *
 * Two paths:
 *  - C/groups == 1 (depthwise, incl. channel multipliers, and single-channel inputs): direct loops
 *    per output plane, vectorized along output columns. No scratch.
 *  - otherwise: per (image, group), the input is packed ("im2col") into panels of NR output pixels
 *    ([K][NR] each, K = C/groups*kh*kw, zero-filled outside the image) in scratch, then a register-
 *    blocked MR x NR micro-kernel computes out[o, p] = sum_k w[o, k] * panel[k, p]. When the packed
 *    matrix would exceed CONV_SCRATCH_CAP the output pixels are processed in bands. 1x1 stride-1
 *    convs pack by plain copies. Packing is parallel over panels, the GEMM over (panel, row-block)
 *    tiles; both write disjoint memory. */
#include <math.h>

#include "kernel.h"

#define MR 6
#define NR 8
#define CONV_SCRATCH_CAP ((int64_t)8 << 20) /* bytes of packed input per band */
#define CONV_PARAM_LIMIT ((int64_t)1 << 24) /* bound on stride/pad/dilation so index math cannot overflow */

typedef struct conv_geom {
  int64_t N, C, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, groups, Cg, Og, K, P;
} conv_geom;

static void conv_geom_read(const pkt_node* n, conv_geom* g) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  g->N = x->dims[0];
  g->C = x->dims[1];
  g->H = x->dims[2];
  g->W = x->dims[3];
  g->O = y->dims[1];
  g->OH = y->dims[2];
  g->OW = y->dims[3];
  g->kh = w->dims[2];
  g->kw = w->dims[3];
  g->sh = pkt_param_i(n, PKT_CONV2D_STRIDE_H);
  g->sw = pkt_param_i(n, PKT_CONV2D_STRIDE_W);
  g->ph = pkt_param_i(n, PKT_CONV2D_PAD_H);
  g->pw = pkt_param_i(n, PKT_CONV2D_PAD_W);
  g->dh = pkt_param_i(n, PKT_CONV2D_DIL_H);
  g->dw = pkt_param_i(n, PKT_CONV2D_DIL_W);
  g->groups = pkt_param_i(n, PKT_CONV2D_GROUPS);
  g->Cg = g->groups > 0 ? g->C / g->groups : 0;
  g->Og = g->groups > 0 ? g->O / g->groups : 0;
  g->K = g->Cg * g->kh * g->kw;
  g->P = g->OH * g->OW;
}

/* Pixels per band (a multiple of NR) so that the packed band stays under the cap. */
static int64_t conv_band(const conv_geom* g) {
  int64_t panels = (g->P + NR - 1) / NR;
  int64_t panel_bytes = g->K * NR * (int64_t)sizeof(float);
  int64_t fit = panel_bytes > 0 ? CONV_SCRATCH_CAP / panel_bytes : panels;
  if (fit < 1) fit = 1;
  if (fit > panels) fit = panels;
  return fit * NR;
}

pkt_status pkt_kernel_conv2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_CONV2D_MIN_INPUTS, PKT_CONV2D_MAX_INPUTS, 1, PKT_CONV2D_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(w, PKT_F32, "weight", err)) ||
      (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  if (x->rank != 4 || w->rank != 4 || y->rank != 4)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, weight %d, output %d; expected 4, 4, 4", x->rank, w->rank,
                    y->rank);
  const int idx[6] = {PKT_CONV2D_STRIDE_H, PKT_CONV2D_STRIDE_W, PKT_CONV2D_DIL_H, PKT_CONV2D_DIL_W, PKT_CONV2D_PAD_H,
                      PKT_CONV2D_PAD_W};
  for (int i = 0; i < 6; i++) {
    int64_t v = pkt_param_i(n, idx[i]);
    int64_t lo = i < 4 ? 1 : 0;
    if (v < lo || v > CONV_PARAM_LIMIT)
      return pkt_fail(err, PKT_BAD_PARAMS, "%s %lld is out of range [%lld, %lld]",
                      i < 2 ? "stride" : i < 4 ? "dilation" : "padding", (long long)v, (long long)lo,
                      (long long)CONV_PARAM_LIMIT);
  }
  int64_t groups = pkt_param_i(n, PKT_CONV2D_GROUPS);
  if (groups < 1 || groups > x->dims[1] || x->dims[1] % groups || y->dims[1] % groups)
    return pkt_fail(err, PKT_BAD_PARAMS, "groups %lld does not divide input channels %lld and output channels %lld",
                    (long long)groups, (long long)x->dims[1], (long long)y->dims[1]);
  /* With at least one output channel the weight's element count bounds K = C/groups*kh*kw, so
   * conv_geom_read cannot overflow (the loader checked that every numel fits). */
  if (y->dims[1] < 1 || w->numel < 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "convolution has no output channels or an empty weight");
  conv_geom g;
  conv_geom_read(n, &g);
  if (g.N != y->dims[0]) return pkt_fail(err, PKT_BAD_OPERANDS, "batch %lld != output batch %lld", (long long)g.N, (long long)y->dims[0]);
  if (w->dims[0] != g.O || w->dims[1] != g.Cg || g.kh < 1 || g.kw < 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "weight [%lld, %lld, %lld, %lld] does not match %lld output channels and %lld input channels per group",
                    (long long)w->dims[0], (long long)w->dims[1], (long long)g.kh, (long long)g.kw, (long long)g.O,
                    (long long)g.Cg);
  int64_t eh = g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1, ew = g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1;
  if (eh < 0 || ew < 0 || eh / g.sh + 1 != g.OH || ew / g.sw + 1 != g.OW)
    return pkt_fail(err, PKT_BAD_OPERANDS, "output %lldx%lld does not match input %lldx%lld with these kernel/stride/padding/dilation",
                    (long long)g.OH, (long long)g.OW, (long long)g.H, (long long)g.W);
  if (n->n_inputs == 3) {
    const pkt_tensor* b = n->inputs[2];
    if ((st = pkt_check_dtype(b, PKT_F32, "bias", err))) return st;
    if (b->numel != g.O)
      return pkt_fail(err, PKT_BAD_OPERANDS, "bias has %lld elements, expected %lld", (long long)b->numel, (long long)g.O);
  }
  if ((st = pkt_check_act(n, PKT_CONV2D_ACT, err))) return st;
  *scratch = 0;
  if (g.Cg > 1 && g.P > 0 && g.Og > 0) {
    /* K <= weight numel; bound it so K*NR*4 (and the band bytes, <= max(CAP, K*NR*4)) cannot overflow. */
    if (g.K > ((int64_t)1 << 40) || (uint64_t)g.K > (uint64_t)SIZE_MAX / (4 * NR * sizeof(float)))
      return pkt_fail(err, PKT_BAD_OPERANDS, "convolution window of %lld elements is too large", (long long)g.K);
    int64_t band = conv_band(&g);
    *scratch = (size_t)g.K * (size_t)band * sizeof(float);
  }
  return PKT_OK;
}

typedef struct conv_job {
  conv_geom g;
  const float *x, *w, *b;
  float* y;
  float* packed;
  int act;
  float lo, hi;
  /* current (image, group, band) */
  const float* xg; /* input channels of the group */
  float* yg;       /* output channels of the group */
  const float* wg; /* weight rows of the group */
  const float* bg; /* bias of the group or NULL */
  int64_t p0, np;  /* band: first output pixel, pixel count */
} conv_job;

static inline float act_scalar(float v, int act, float lo, float hi) {
  switch (act) {
    case PKT_ACT_RELU: return v > 0.f ? v : 0.f;
    case PKT_ACT_RELU6: return v < 0.f ? 0.f : v > 6.f ? 6.f : v;
    case PKT_ACT_CLAMP: return v < lo ? lo : v > hi ? hi : v;
    default: return v;
  }
}
static inline int act_is_simple(int act) {
  return act == PKT_ACT_NONE || act == PKT_ACT_RELU || act == PKT_ACT_RELU6 || act == PKT_ACT_CLAMP;
}

/* Pack panels [begin, end) of the current band: panel q holds pixels p0 + q*NR .. +NR as [K][NR]. */
static void conv_pack(void* ctx, int64_t begin, int64_t end) {
  const conv_job* j = ctx;
  const conv_geom* g = &j->g;
  const int64_t HW = g->H * g->W;
  const int pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
  for (int64_t q = begin; q < end; q++) {
    float* dst = j->packed + q * g->K * NR;
    int64_t pbeg = j->p0 + q * NR;
    int64_t cnt = j->p0 + j->np - pbeg;
    if (cnt > NR) cnt = NR;
    if (pointwise && cnt == NR) {
      /* output pixel p reads input pixel p */
      for (int64_t c = 0; c < g->Cg; c++) memcpy(dst + c * NR, j->xg + c * HW + pbeg, NR * sizeof(float));
      continue;
    }
    int64_t iy0[NR], ix0[NR];
    for (int t = 0; t < NR; t++) {
      int64_t p = pbeg + (t < cnt ? t : 0);
      iy0[t] = (p / g->OW) * g->sh - g->ph;
      ix0[t] = (p % g->OW) * g->sw - g->pw;
    }
    int64_t k = 0;
    for (int64_t c = 0; c < g->Cg; c++) {
      const float* xc = j->xg + c * HW;
      for (int64_t ky = 0; ky < g->kh; ky++) {
        for (int64_t kx = 0; kx < g->kw; kx++, k++) {
          float* d = dst + k * NR;
          for (int t = 0; t < NR; t++) {
            int64_t iy = iy0[t] + ky * g->dh, ix = ix0[t] + kx * g->dw;
            d[t] = (t < cnt && iy >= 0 && iy < g->H && ix >= 0 && ix < g->W) ? xc[iy * g->W + ix] : 0.f;
          }
        }
      }
    }
  }
}

/* acc[MR][NR] = sum_k w_i[k] * panel[k][:]. GCC/clang get explicit 4-lane vectors (auto-vectorization
 * picks the k loop and shuffles); other compilers get the plain loops. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(PKT_NO_VECTOR_EXT)
typedef float conv_v4 __attribute__((vector_size(16)));
static inline conv_v4 conv_ld(const float* p) {
  conv_v4 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static void conv_micro(int64_t K, const float* const w[MR], const float* panel, float acc[MR][NR]) {
  conv_v4 c[MR][NR / 4];
  memset(c, 0, sizeof c);
  for (int64_t k = 0; k < K; k++) {
    conv_v4 b0 = conv_ld(panel + k * NR), b1 = conv_ld(panel + k * NR + 4);
    for (int i = 0; i < MR; i++) {
      float s = w[i][k];
      conv_v4 a = {s, s, s, s};
      c[i][0] += a * b0;
      c[i][1] += a * b1;
    }
  }
  memcpy(acc, c, sizeof c);
}
#else
static void conv_micro(int64_t K, const float* const w[MR], const float* panel, float acc[MR][NR]) {
  memset(acc, 0, sizeof(float) * MR * NR);
  for (int64_t k = 0; k < K; k++) {
    const float* b = panel + k * NR;
    for (int i = 0; i < MR; i++) {
      float a = w[i][k];
      for (int t = 0; t < NR; t++) acc[i][t] += a * b[t];
    }
  }
}
#endif

/* Tiles [begin, end): tile -> (panel q, row block r), panel-major so a panel is reused across rows. */
static void conv_gemm(void* ctx, int64_t begin, int64_t end) {
  const conv_job* j = ctx;
  const conv_geom* g = &j->g;
  const int64_t rblocks = (g->Og + MR - 1) / MR;
  for (int64_t tile = begin; tile < end; tile++) {
    int64_t q = tile / rblocks, r = tile % rblocks;
    int64_t o0 = r * MR;
    int64_t rows = g->Og - o0 < MR ? g->Og - o0 : MR;
    const float* wr[MR];
    for (int i = 0; i < MR; i++) wr[i] = j->wg + (o0 + (i < rows ? i : rows - 1)) * g->K;
    float acc[MR][NR];
    conv_micro(g->K, wr, j->packed + q * g->K * NR, acc);
    int64_t pbeg = j->p0 + q * NR;
    int64_t cnt = j->p0 + j->np - pbeg;
    if (cnt > NR) cnt = NR;
    for (int64_t i = 0; i < rows; i++) {
      float bias = j->bg ? j->bg[o0 + i] : 0.f;
      float* dst = j->yg + (o0 + i) * g->P + pbeg;
      for (int64_t t = 0; t < cnt; t++) dst[t] = act_scalar(acc[i][t] + bias, j->act, j->lo, j->hi);
      if (!act_is_simple(j->act)) pkt_apply_act(dst, cnt, j->act, j->lo, j->hi);
    }
  }
}

/* Direct path for C/groups == 1: planes [begin, end) of N*O. */
static void conv_direct(void* ctx, int64_t begin, int64_t end) {
  const conv_job* j = ctx;
  const conv_geom* g = &j->g;
  for (int64_t plane = begin; plane < end; plane++) {
    int64_t nidx = plane / g->O, o = plane % g->O;
    int64_t c = o / g->Og; /* the group's single input channel */
    const float* xc = j->x + (nidx * g->C + c) * g->H * g->W;
    const float* wo = j->w + o * g->kh * g->kw;
    float* yo = j->y + plane * g->P;
    float bias = j->b ? j->b[o] : 0.f;
    for (int64_t oy = 0; oy < g->OH; oy++) {
      float* yr = yo + oy * g->OW;
      for (int64_t ox = 0; ox < g->OW; ox++) yr[ox] = bias;
      for (int64_t ky = 0; ky < g->kh; ky++) {
        int64_t iy = oy * g->sh - g->ph + ky * g->dh;
        if (iy < 0 || iy >= g->H) continue;
        const float* xr = xc + iy * g->W;
        for (int64_t kx = 0; kx < g->kw; kx++) {
          /* valid ox: 0 <= ox*sw - pw + kx*dw < W */
          int64_t off = kx * g->dw - g->pw;
          int64_t lo = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
          int64_t last = g->W - 1 - off;
          if (last < 0) continue;
          int64_t hi = last / g->sw + 1;
          if (hi > g->OW) hi = g->OW;
          float wv = wo[ky * g->kw + kx];
          if (g->sw == 1) {
            for (int64_t ox = lo; ox < hi; ox++) yr[ox] += wv * xr[ox + off];
          } else {
            for (int64_t ox = lo; ox < hi; ox++) yr[ox] += wv * xr[ox * g->sw + off];
          }
        }
      }
    }
    pkt_apply_act(yo, g->P, j->act, j->lo, j->hi);
  }
}

pkt_status pkt_kernel_conv2d_run(const pkt_node* n) {
  conv_job j;
  memset(&j, 0, sizeof j);
  conv_geom_read(n, &j.g);
  const conv_geom* g = &j.g;
  j.x = n->inputs[0]->data;
  j.w = n->inputs[1]->data;
  j.b = n->n_inputs == 3 ? n->inputs[2]->data : NULL;
  j.y = n->outputs[0]->data;
  j.packed = n->scratch;
  j.act = (int)pkt_param_i(n, PKT_CONV2D_ACT);
  j.lo = (float)pkt_param_f(n, PKT_CONV2D_ACT_MIN);
  j.hi = (float)pkt_param_f(n, PKT_CONV2D_ACT_MAX);
  if (g->P == 0 || g->O == 0 || g->N == 0) return PKT_OK;
  if (g->Cg == 1) {
    pkt_parallel_for(n, g->N * g->O, conv_direct, &j);
    return PKT_OK;
  }
  int64_t band = conv_band(g);
  const int64_t rblocks = (g->Og + MR - 1) / MR;
  for (int64_t img = 0; img < g->N; img++) {
    for (int64_t grp = 0; grp < g->groups; grp++) {
      j.xg = j.x + (img * g->C + grp * g->Cg) * g->H * g->W;
      j.yg = j.y + (img * g->O + grp * g->Og) * g->P;
      j.wg = j.w + grp * g->Og * g->K;
      j.bg = j.b ? j.b + grp * g->Og : NULL;
      for (j.p0 = 0; j.p0 < g->P; j.p0 += band) {
        j.np = g->P - j.p0 < band ? g->P - j.p0 : band;
        int64_t panels = (j.np + NR - 1) / NR;
        pkt_parallel_for(n, panels, conv_pack, &j);
        pkt_parallel_for(n, panels * rblocks, conv_gemm, &j);
      }
    }
  }
  return PKT_OK;
}
