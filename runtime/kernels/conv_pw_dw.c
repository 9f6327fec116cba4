/* conv_pw_dw: a pointwise conv2d (x [N, C, H, W], weight [M, C, 1, 1], bias [M], act1) feeding a
 * depthwise conv2d (weight [M, 1, kh, kw], bias [M], stride, padding, dilation, act) -- mobilenet's
 * expansion and its depthwise conv, fused by the exporter (exporter/passes/fuse_conv_pairs.py).
 *
 * The [N, M, H, W] intermediate is never written out: each thread takes bands of output rows and, per
 * band, computes just the intermediate rows the band reads (all M channels, in its own scratch, sized
 * to stay in L2) with conv2d's GEMM micro-kernel, then runs conv2d's depthwise row kernels over them.
 * At 112x112 x 96 channels the intermediate is 4.8 MB, which otherwise goes out to memory and back.
 * Rows shared by two bands are computed twice; the exporter fuses only where that is cheap. */
#include "conv_impl.h"
#include "cpu.h"

#define PWDW_BAND_BYTES ((int64_t)512 << 10)   /* intermediate rows of one band, all channels */

typedef struct pwdw_plan {
  conv_geom pw, dw;                /* x -> intermediate (1x1), intermediate -> y (depthwise) */
  int64_t band, bands, mid_rows;   /* output rows per band, bands per image, intermediate rows per band */
  int64_t dw_rows, dw_ps;          /* depthwise buffer (conv_dw_layout) */
  int64_t off_panel, off_dw, slot; /* floats: per-thread slot = [intermediate | panel | depthwise buffer] */
} pwdw_plan;

static int64_t round16(int64_t v) { return (v + 15) / 16 * 16; }

/* Intermediate rows [m0, m1) that output rows [oy0, oy1) read. */
static void pwdw_mid_range(const conv_geom* d, int64_t oy0, int64_t oy1, int64_t* m0, int64_t* m1) {
  int64_t lo = oy0 * d->sh - d->ph, hi = (oy1 - 1) * d->sh - d->ph + (d->kh - 1) * d->dh + 1;
  *m0 = lo < 0 ? 0 : lo;
  *m1 = hi > d->H ? d->H : hi;
  if (*m1 < *m0) *m1 = *m0;
}

static void pwdw_make_plan(const pkt_node* n, const conv_isa_impl* impl, int threads, pwdw_plan* p) {
  const pkt_tensor *x = n->inputs[0], *w2 = n->inputs[3], *y = n->outputs[0];
  memset(p, 0, sizeof *p);
  conv_geom* a = &p->pw;
  a->N = x->dims[0], a->C = x->dims[1], a->H = x->dims[2], a->W = x->dims[3];
  a->O = y->dims[1], a->OH = a->H, a->OW = a->W;
  a->kh = a->kw = a->sh = a->sw = a->dh = a->dw = a->groups = 1;
  a->Cg = a->K = a->C, a->Og = a->O, a->P = a->H * a->W;
  conv_geom* d = &p->dw;
  d->N = a->N, d->C = d->O = d->groups = a->O, d->H = a->H, d->W = a->W;
  d->OH = y->dims[2], d->OW = y->dims[3], d->kh = w2->dims[2], d->kw = w2->dims[3];
  d->sh = pkt_param_i(n, PKT_CONV_PW_DW_STRIDE_H), d->sw = pkt_param_i(n, PKT_CONV_PW_DW_STRIDE_W);
  d->ph = pkt_param_i(n, PKT_CONV_PW_DW_PAD_H), d->pw = pkt_param_i(n, PKT_CONV_PW_DW_PAD_W);
  d->dh = pkt_param_i(n, PKT_CONV_PW_DW_DIL_H), d->dw = pkt_param_i(n, PKT_CONV_PW_DW_DIL_W);
  d->Cg = d->Og = 1, d->K = d->kh * d->kw, d->P = d->OH * d->OW;
  /* the tallest band whose intermediate rows fit the budget, but at least two bands per thread */
  int64_t row_bytes = d->C * d->W * (int64_t)sizeof(float);
  p->band = d->OH;
  while (p->band > 1 && (((p->band - 1) * d->sh + (d->kh - 1) * d->dh + 1) * row_bytes > PWDW_BAND_BYTES ||
                         (threads > 1 && (d->OH + p->band - 1) / p->band < 2 * (int64_t)threads)))
    p->band--;
  p->bands = d->OH > 0 ? (d->OH + p->band - 1) / p->band : 0;
  int64_t m_hi = (p->band - 1) * d->sh + (d->kh - 1) * d->dh + 1;
  p->mid_rows = m_hi < d->H ? m_hi : d->H;
  conv_dw_layout(d, &p->dw_rows, &p->dw_ps);
  p->off_panel = round16(d->C * p->mid_rows * d->W);
  p->off_dw = p->off_panel + round16(a->K * impl->nr);
  p->slot = p->off_dw + round16((p->dw_rows + 1) * d->sw * p->dw_ps);
}

pkt_status pkt_kernel_conv_pw_dw_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  static const char* const names[5] = {"input", "pointwise weight", "pointwise bias", "depthwise weight",
                                       "depthwise bias"};
  pkt_status st = conv_check_pair_operands(n, names, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w1 = n->inputs[1], *b1 = n->inputs[2], *w2 = n->inputs[3], *b2 = n->inputs[4];
  const pkt_tensor* y = n->outputs[0];
  const int64_t M = y->dims[1];
  if (M < 1 || w1->dims[0] != M || w1->dims[1] != x->dims[1] || w1->dims[2] != 1 || w1->dims[3] != 1 ||
      w2->dims[0] != M || w2->dims[1] != 1 || w2->dims[2] < 1 || w2->dims[3] < 1 || b1->numel != M ||
      b2->numel != M || y->dims[0] != x->dims[0])
    return pkt_fail(err, PKT_BAD_OPERANDS, "weights [%lld, %lld, %lld, %lld] and [%lld, %lld, %lld, %lld] do not "
                    "make a pointwise conv from %lld to %lld channels and a depthwise conv on them",
                    (long long)w1->dims[0], (long long)w1->dims[1], (long long)w1->dims[2], (long long)w1->dims[3],
                    (long long)w2->dims[0], (long long)w2->dims[1], (long long)w2->dims[2], (long long)w2->dims[3],
                    (long long)x->dims[1], (long long)M);
  if ((st = conv_check_window_params(n, PKT_CONV_PW_DW_STRIDE_H, err))) return st;
  if ((st = pkt_check_act(n, PKT_CONV_PW_DW_ACT1, err)) || (st = pkt_check_act(n, PKT_CONV_PW_DW_ACT, err))) return st;
  conv_isa_impl impl;
  conv_isa_select(n->isa, &impl);
  pwdw_plan p;
  pwdw_make_plan(n, &impl, n->num_threads > 1 ? n->num_threads : 1, &p);
  const conv_geom* d = &p.dw;
  if ((st = conv_check_output_size(d, err))) return st;
  /* one slot holds M intermediate rows (bounded by the band budget or one row), one panel and a padded plane */
  const uint64_t limit = (uint64_t)1 << 40;
  if ((uint64_t)d->C * (uint64_t)d->W > limit / 64 || (uint64_t)p.pw.K > limit / 64 ||
      (uint64_t)(p.dw_rows + 1) * (uint64_t)(d->sw * p.dw_ps) > limit / 64)
    return pkt_fail(err, PKT_BAD_OPERANDS, "images of %lld x %lld with %lld channels are too large to fuse",
                    (long long)d->H, (long long)d->W, (long long)d->C);
  int T = n->num_threads > 1 ? n->num_threads : 1;
  *scratch = (size_t)((uint64_t)T * (uint64_t)p.slot * sizeof(float));
  return PKT_OK;
}

size_t pkt_kernel_conv_pw_dw_pack_size(const pkt_node* n) { return conv_pair_pack_size(n, 1); }
void pkt_kernel_conv_pw_dw_pack(const pkt_node* n, void* packed) { conv_pair_pack(n, 1, packed); }

typedef struct pwdw_job {
  pwdw_plan p;
  conv_pair_job c;
} pwdw_job;

/* Slot t: (image, band) items [t*items/T, (t+1)*items/T). */
static void pwdw_slot(void* ctx, int64_t begin, int64_t end) {
  const pwdw_plan* p = &((const pwdw_job*)ctx)->p;
  const conv_pair_job* j = &((const pwdw_job*)ctx)->c;
  const conv_geom *a = &p->pw, *d = &p->dw;
  const int64_t items = d->N * p->bands;
  for (int64_t t = begin; t < end; t++) {
    float* slot = j->scratch + t * p->slot;
    float *mid = slot, *panel = slot + p->off_panel, *buf = slot + p->off_dw;
    for (int64_t it = items * t / j->threads; it < items * (t + 1) / j->threads; it++) {
      int64_t img = it / p->bands, oy0 = it % p->bands * p->band;
      int64_t oy1 = oy0 + p->band < d->OH ? oy0 + p->band : d->OH, m0, m1;
      pwdw_mid_range(d, oy0, oy1, &m0, &m1);
      const int64_t P = (m1 - m0) * d->W;
      conv_pointwise_pixels(a, &j->impl, j->x + img * a->C * a->P, j->packed, j->b1, j->act1, j->lo1, j->hi1,
                            m0 * a->W, P, mid, P, panel);
      for (int64_t c = 0; c < d->C; c++)
        conv_dw_band(d, &j->impl, p->dw_ps, p->dw_rows, mid + c * P, m0, buf, oy0, oy1, j->w2 + c * d->K, j->b2[c],
                     j->act, j->lo, j->hi, j->y + (img * d->C + c) * d->P + oy0 * d->OW);
    }
  }
}

pkt_status pkt_kernel_conv_pw_dw_run(const pkt_node* n) {
  pwdw_job j;
  conv_pair_job_init(n, PKT_CONV_PW_DW_ACT1, PKT_CONV_PW_DW_ACT, &j.c);
  /* the plan prepare() sized: the session's thread count, even when this run has no pool */
  pwdw_make_plan(n, &j.c.impl, n->num_threads > 1 ? n->num_threads : 1, &j.p);
  if (j.p.dw.P > 0 && j.p.dw.N > 0) pkt_parallel_for(n, j.c.threads, pwdw_slot, &j);
  return PKT_OK;
}
