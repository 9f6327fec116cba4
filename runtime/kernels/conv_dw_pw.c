/* conv_dw_pw: a depthwise conv2d (x [N, C, H, W], weight [C, 1, kh, kw], bias [C], stride, padding,
 * dilation, act1) feeding a pointwise conv2d (weight [O, C, 1, 1], bias [O], act) -- mobilenet's
 * depthwise conv and its projection, fused by the exporter (exporter/passes/fuse_conv_pairs.py).
 *
 * The [N, C, OH, OW] intermediate is never written out: each thread takes bands of output rows and, per
 * band, runs conv2d's depthwise row kernels for those rows of every channel into its own scratch (sized
 * to stay in L2), then conv2d's pointwise GEMM over them into the output. Nothing is computed twice: the
 * pointwise conv reads only the band's own pixels. */
#include "conv_impl.h"
#include "cpu.h"

#define DWPW_BAND_BYTES ((int64_t)512 << 10) /* intermediate rows of one band, all channels */

typedef struct dwpw_plan {
  conv_geom dw, pw;                /* x -> intermediate (depthwise), intermediate -> y (1x1) */
  int64_t band, bands;             /* output rows per band, bands per image */
  int64_t dw_rows, dw_ps;          /* depthwise buffer (conv_dw_layout) */
  int64_t off_panel, off_dw, slot; /* floats: per-thread slot = [intermediate | panel | depthwise buffer] */
} dwpw_plan;

static int64_t round16(int64_t v) { return (v + 15) / 16 * 16; }

static void dwpw_make_plan(const pkt_node* n, const conv_isa_impl* impl, int threads, dwpw_plan* p) {
  const pkt_tensor *x = n->inputs[0], *w1 = n->inputs[1], *y = n->outputs[0];
  memset(p, 0, sizeof *p);
  conv_geom* d = &p->dw;
  d->N = x->dims[0], d->C = d->O = d->groups = x->dims[1], d->H = x->dims[2], d->W = x->dims[3];
  d->OH = y->dims[2], d->OW = y->dims[3], d->kh = w1->dims[2], d->kw = w1->dims[3];
  d->sh = pkt_param_i(n, PKT_CONV_DW_PW_STRIDE_H), d->sw = pkt_param_i(n, PKT_CONV_DW_PW_STRIDE_W);
  d->ph = pkt_param_i(n, PKT_CONV_DW_PW_PAD_H), d->pw = pkt_param_i(n, PKT_CONV_DW_PW_PAD_W);
  d->dh = pkt_param_i(n, PKT_CONV_DW_PW_DIL_H), d->dw = pkt_param_i(n, PKT_CONV_DW_PW_DIL_W);
  d->Cg = d->Og = 1, d->K = d->kh * d->kw, d->P = d->OH * d->OW;
  conv_geom* a = &p->pw;
  a->N = d->N, a->C = a->Cg = a->K = d->C, a->O = a->Og = y->dims[1];
  a->kh = a->kw = a->sh = a->sw = a->dh = a->dw = a->groups = 1;
  a->OH = a->H = d->OH, a->OW = a->W = d->OW, a->P = d->P;
  /* the tallest band whose intermediate rows fit the budget, but at least two bands per thread */
  int64_t row_bytes = d->C * d->OW * (int64_t)sizeof(float);
  p->band = d->OH > 0 ? d->OH : 1;
  while (p->band > 1 && (p->band * row_bytes > DWPW_BAND_BYTES ||
                         (threads > 1 && (d->OH + p->band - 1) / p->band < 2 * (int64_t)threads)))
    p->band--;
  p->bands = d->OH > 0 ? (d->OH + p->band - 1) / p->band : 0;
  conv_dw_layout(d, &p->dw_rows, &p->dw_ps);
  p->off_panel = round16(d->C * p->band * d->OW);
  p->off_dw = p->off_panel + round16(a->K * impl->nr);
  p->slot = p->off_dw + round16((p->dw_rows + 1) * d->sw * p->dw_ps);
}

pkt_status pkt_kernel_conv_dw_pw_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  static const char* const names[5] = {"input", "depthwise weight", "depthwise bias", "pointwise weight",
                                       "pointwise bias"};
  pkt_status st = conv_check_pair_operands(n, names, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w1 = n->inputs[1], *b1 = n->inputs[2], *w2 = n->inputs[3], *b2 = n->inputs[4];
  const pkt_tensor* y = n->outputs[0];
  const int64_t C = x->dims[1], O = y->dims[1];
  if (C < 1 || O < 1 || w1->dims[0] != C || w1->dims[1] != 1 || w1->dims[2] < 1 || w1->dims[3] < 1 ||
      b1->numel != C || w2->dims[0] != O || w2->dims[1] != C || w2->dims[2] != 1 || w2->dims[3] != 1 ||
      b2->numel != O || y->dims[0] != x->dims[0])
    return pkt_fail(err, PKT_BAD_OPERANDS, "weights [%lld, %lld, %lld, %lld] and [%lld, %lld, %lld, %lld] do not "
                    "make a depthwise conv on %lld channels and a pointwise conv from them to %lld",
                    (long long)w1->dims[0], (long long)w1->dims[1], (long long)w1->dims[2], (long long)w1->dims[3],
                    (long long)w2->dims[0], (long long)w2->dims[1], (long long)w2->dims[2], (long long)w2->dims[3],
                    (long long)C, (long long)O);
  if ((st = conv_check_window_params(n, PKT_CONV_DW_PW_STRIDE_H, err))) return st;
  if ((st = pkt_check_act(n, PKT_CONV_DW_PW_ACT1, err)) || (st = pkt_check_act(n, PKT_CONV_DW_PW_ACT, err))) return st;
  conv_isa_impl impl;
  conv_isa_select(n->isa, &impl);
  dwpw_plan p;
  int T = n->num_threads > 1 ? n->num_threads : 1;
  dwpw_make_plan(n, &impl, T, &p);
  if ((st = conv_check_output_size(&p.dw, err))) return st;
  /* one slot holds C intermediate rows (a band, or one row when a row alone is over budget), one panel
   * and a padded input plane */
  const uint64_t limit = (uint64_t)1 << 40;
  if ((uint64_t)C * (uint64_t)p.dw.OW > limit / 64 || (uint64_t)(p.dw_rows + 1) * (uint64_t)(p.dw.sw * p.dw_ps) >
                                                           limit / 64)
    return pkt_fail(err, PKT_BAD_OPERANDS, "images of %lld x %lld with %lld channels are too large to fuse",
                    (long long)p.dw.H, (long long)p.dw.W, (long long)C);
  *scratch = (size_t)((uint64_t)T * (uint64_t)p.slot * sizeof(float));
  return PKT_OK;
}

size_t pkt_kernel_conv_dw_pw_pack_size(const pkt_node* n) { return conv_pair_pack_size(n, 3); }
void pkt_kernel_conv_dw_pw_pack(const pkt_node* n, void* packed) { conv_pair_pack(n, 3, packed); }

typedef struct dwpw_job {
  dwpw_plan p;
  conv_pair_job c;
} dwpw_job;

/* Slot t: (image, band) items [t*items/T, (t+1)*items/T). */
static void dwpw_slot(void* ctx, int64_t begin, int64_t end) {
  const dwpw_plan* p = &((const dwpw_job*)ctx)->p;
  const conv_pair_job* j = &((const dwpw_job*)ctx)->c;
  const conv_geom *d = &p->dw, *a = &p->pw;
  const int64_t items = d->N * p->bands;
  for (int64_t t = begin; t < end; t++) {
    float* slot = j->scratch + t * p->slot;
    float *mid = slot, *panel = slot + p->off_panel, *buf = slot + p->off_dw;
    for (int64_t it = items * t / j->threads; it < items * (t + 1) / j->threads; it++) {
      int64_t img = it / p->bands, oy0 = it % p->bands * p->band;
      int64_t oy1 = oy0 + p->band < d->OH ? oy0 + p->band : d->OH, P = (oy1 - oy0) * d->OW;
      for (int64_t c = 0; c < d->C; c++)
        conv_dw_band(d, &j->impl, p->dw_ps, p->dw_rows, j->x + (img * d->C + c) * d->H * d->W, 0, buf, oy0, oy1,
                     j->w1 + c * d->K, j->b1[c], j->act1, j->lo1, j->hi1, mid + c * P);
      /* the band's pixels as planes of their own: P floats per channel */
      conv_geom band = *a;
      band.H = band.OH = oy1 - oy0;
      band.P = P;
      conv_pointwise_pixels(&band, &j->impl, mid, j->packed, j->b2, j->act, j->lo, j->hi, 0, P,
                            j->y + img * a->O * a->P + oy0 * a->OW, a->P, panel);
    }
  }
}

pkt_status pkt_kernel_conv_dw_pw_run(const pkt_node* n) {
  dwpw_job j;
  conv_pair_job_init(n, PKT_CONV_DW_PW_ACT1, PKT_CONV_DW_PW_ACT, &j.c);
  /* the plan prepare() sized: the session's thread count, even when this run has no pool */
  dwpw_make_plan(n, &j.c.impl, n->num_threads > 1 ? n->num_threads : 1, &j.p);
  if (j.p.dw.P > 0 && j.p.dw.N > 0) pkt_parallel_for(n, j.c.threads, dwpw_slot, &j);
  return PKT_OK;
}
