/* The fused conv pairs' shared machinery (see conv_pair.h). */
#include "compute/conv/conv_pair.h"

#define CONV_PAIR_BAND_BYTES ((int64_t)512 << 10) /* intermediate rows of one band, all channels */

static int64_t round16(int64_t v) { return (v + 15) / 16 * 16; }

/* Intermediate rows a band of `band` output rows reads, at most: the depthwise conv's input rows when the
 * pointwise conv makes the intermediate, else the band's own rows. */
static int64_t mid_rows(const conv_pair_plan* p, int64_t band) {
  const conv_geom* d = &p->dw;
  return p->pw_first ? (band - 1) * d->sh + (d->kh - 1) * d->dh + 1 : band;
}

/* The geometry of both convs, the bands (their intermediate rows within the budget, shared evenly by the
 * threads) and the slot layout. */
static void conv_pair_plan_make(const pkt_node* n, const conv_pair_op* op, const conv_isa_impl* impl, int threads,
                                conv_pair_plan* p) {
  const pkt_tensor *x = n->inputs[0], *wd = n->inputs[op->pw_first ? 3 : 1], *y = n->outputs[0];
  memset(p, 0, sizeof *p);
  p->pw_first = op->pw_first;
  conv_geom* d = &p->dw;
  d->N = x->dims[0], d->H = x->dims[2], d->W = x->dims[3];
  d->C = d->O = d->groups = op->pw_first ? y->dims[1] : x->dims[1];
  d->OH = y->dims[2], d->OW = y->dims[3], d->kh = wd->dims[2], d->kw = wd->dims[3];
  d->sh = pkt_param_i(n, op->window), d->sw = pkt_param_i(n, op->window + 1);
  d->ph = pkt_param_i(n, op->window + 2), d->pw = pkt_param_i(n, op->window + 3);
  d->dh = pkt_param_i(n, op->window + 4), d->dw = pkt_param_i(n, op->window + 5);
  d->Cg = d->Og = 1, d->K = d->kh * d->kw, d->P = d->OH * d->OW;
  conv_geom* a = &p->pw;
  a->N = d->N, a->C = a->Cg = a->K = x->dims[1], a->O = a->Og = op->pw_first ? d->C : y->dims[1];
  a->kh = a->kw = a->sh = a->sw = a->dh = a->dw = a->groups = 1;
  a->H = a->OH = op->pw_first ? d->H : d->OH, a->W = a->OW = op->pw_first ? d->W : d->OW, a->P = a->H * a->W;
  /* an intermediate row holds the depthwise channels at the pointwise conv's width */
  const int64_t row_bytes = d->C * a->W * (int64_t)sizeof(float);
  int64_t tallest = d->OH > 0 ? d->OH : 1;
  while (tallest > 1 && mid_rows(p, tallest) * row_bytes > CONV_PAIR_BAND_BYTES) tallest--;
  /* as many bands as the budget needs, but at least two per thread and a multiple of the threads, all of
   * them within a row of the same height (band i: rows [OH*i/bands, OH*(i+1)/bands)), so every thread
   * gets the same share of rows */
  int64_t bands = (d->OH + tallest - 1) / tallest;
  if (threads > 1) {
    if (bands < 2 * (int64_t)threads) bands = 2 * (int64_t)threads;
    bands = (bands + threads - 1) / threads * threads;
  }
  p->bands = d->OH > 0 ? (bands < d->OH ? bands : d->OH) : 0;
  p->band = p->bands > 0 ? (d->OH + p->bands - 1) / p->bands : 1;
  const int64_t rows = mid_rows(p, p->band) < a->H ? mid_rows(p, p->band) : a->H;
  conv_dw_layout(d, &p->dw_rows, &p->dw_ps);
  p->off_panel = round16(d->C * rows * a->W);
  p->off_dw = p->off_panel + round16(a->K * impl->nr);
  /* the flat depthwise kernels read their input in place: no padded buffer (conv_pw_dw: at stride 2) */
  const int in_place = conv_dw_flat(d, impl) && (!p->pw_first || d->sh == 2);
  p->slot = p->off_dw + (in_place ? 0 : round16((p->dw_rows + 1) * d->sw * p->dw_ps));
}

static int session_threads(const pkt_node* n) { return n->num_threads > 1 ? n->num_threads : 1; }

pkt_status conv_check_pair_operands(const pkt_node* n, const char* const names[5], int max_inputs, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 5, max_inputs, 1, 12, err);
  if (st) return st;
  for (int i = 0; i < 5; i++)
    if ((st = pkt_check_dtype(n->inputs[i], PKT_F32, names[i], err))) return st;
  if ((st = pkt_check_dtype(n->outputs[0], PKT_F32, "output", err))) return st;
  const pkt_tensor *x = n->inputs[0], *w1 = n->inputs[1], *w2 = n->inputs[3], *y = n->outputs[0];
  if (x->rank != 4 || w1->rank != 4 || w2->rank != 4 || y->rank != 4 || n->inputs[2]->rank != 1 ||
      n->inputs[4]->rank != 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, weights %d and %d, biases %d and %d, output %d; expected "
                    "4, 4, 4, 1, 1, 4", x->rank, w1->rank, w2->rank, n->inputs[2]->rank, n->inputs[4]->rank, y->rank);
  if (!w1->data || !w2->data)
    return pkt_fail(err, PKT_BAD_OPERANDS, "the weights must be constants (the exporter fuses only those)");
  return n->n_inputs == 6 ? conv_check_residual(n->inputs[5], y, err) : PKT_OK;
}

pkt_status conv_pair_prepare(const pkt_node* n, const conv_pair_op* op, size_t* scratch, pkt_err* err) {
  pkt_status st;
  if ((st = conv_check_window_params(n, op->window, err))) return st;
  if ((st = pkt_check_act(n, op->act1, err)) || (st = pkt_check_act(n, op->act, err))) return st;
  conv_isa_impl impl;
  conv_isa_select(n->cfg, &impl);
  conv_pair_plan p;
  conv_pair_plan_make(n, op, &impl, session_threads(n), &p);
  const conv_geom *d = &p.dw, *a = &p.pw;
  if ((st = conv_check_output_size(d, err))) return st;
  /* one slot holds the intermediate rows of a band (or one row when a row alone is over budget), one panel
   * and a padded input plane of the depthwise conv */
  const uint64_t limit = (uint64_t)1 << 40;
  if ((uint64_t)d->C * (uint64_t)a->W > limit / 64 || (uint64_t)a->K > limit / 64 ||
      (uint64_t)(p.dw_rows + 1) * (uint64_t)(d->sw * p.dw_ps) > limit / 64)
    return pkt_fail(err, PKT_BAD_OPERANDS, "images of %lld x %lld with %lld channels are too large to fuse",
                    (long long)d->H, (long long)d->W, (long long)d->C);
  uint64_t slot = (uint64_t)p.slot;
  if (n->dynamic) { /* a bound non-decreasing in the dims (kernel.h): the bands' rows are within their budget
                     * unless one row's are over it, and the padded plane is planned whether or not the
                     * depthwise kernel reads in place (which depends on the width) */
    const int64_t row = p.dw.C * p.pw.W, budget = CONV_PAIR_BAND_BYTES / (int64_t)sizeof(float);
    const int64_t mid = mid_rows(&p, 1) * row > budget ? mid_rows(&p, 1) * row : budget;
    slot = (uint64_t)(round16(mid) + round16(p.pw.K * impl.nr) + round16((p.dw_rows + 1) * p.dw.sw * p.dw_ps));
  }
  *scratch = (size_t)((uint64_t)session_threads(n) * slot * sizeof(float));
  return PKT_OK;
}

typedef struct pair_run {
  conv_pair_plan p;
  conv_pair_job j;
  conv_pair_band_fn band;
} pair_run;

/* Slot t: (image, band) items [t*items/T, (t+1)*items/T). */
static void pair_slot(void* ctx, int64_t begin, int64_t end) {
  const pair_run* r = ctx;
  const conv_pair_plan* p = &r->p;
  const conv_pair_job* j = &r->j;
  const int64_t items = p->dw.N * p->bands;
  for (int64_t t = begin; t < end; t++) {
    float* slot = j->scratch + t * p->slot;
    for (int64_t it = items * t / j->threads; it < items * (t + 1) / j->threads; it++) {
      int64_t img = it / p->bands, b = it % p->bands;
      int64_t oy0 = p->dw.OH * b / p->bands, oy1 = p->dw.OH * (b + 1) / p->bands;
      r->band(p, j, img, oy0, oy1, slot, slot + p->off_panel, slot + p->off_dw);
    }
  }
}

pkt_status conv_pair_run(const pkt_node* n, const conv_pair_op* op, conv_pair_band_fn band) {
  pair_run r;
  r.band = band;
  conv_pair_job* j = &r.j;
  memset(j, 0, sizeof *j);
  conv_isa_select(n->cfg, &j->impl);
  const float* in[5];
  for (int i = 0; i < 5; i++) in[i] = n->inputs[i]->data;
  j->x = in[0], j->w1 = in[1], j->b1 = in[2], j->w2 = in[3], j->b2 = in[4];
  j->res = n->n_inputs == 6 ? n->inputs[5]->data : NULL;
  j->packed = n->packed;
  j->y = n->outputs[0]->data;
  j->scratch = n->scratch;
  j->threads = n->pool && n->num_threads > 1 ? n->num_threads : 1;
  j->act1 = (int)pkt_param_i(n, op->act1);
  j->lo1 = (float)pkt_param_f(n, op->act1 + 1);
  j->hi1 = (float)pkt_param_f(n, op->act1 + 2);
  j->act = (int)pkt_param_i(n, op->act);
  j->lo = (float)pkt_param_f(n, op->act + 1);
  j->hi = (float)pkt_param_f(n, op->act + 2);
  /* the plan prepare() sized: the session's thread count, even when this run has no pool */
  conv_pair_plan_make(n, op, &j->impl, session_threads(n), &r.p);
  if (r.p.dw.P > 0 && r.p.dw.N > 0) pkt_parallel_for(n, j->threads, pair_slot, &r);
  return PKT_OK;
}

size_t conv_pair_pack_size(const pkt_node* n, int index) {
  conv_isa_impl impl;
  conv_isa_select(n->cfg, &impl);
  const pkt_tensor* w = n->inputs[index];
  return (size_t)((w->dims[0] + impl.mr - 1) / impl.mr * w->dims[1] * impl.mr) * sizeof(float);
}

void conv_pair_pack(const pkt_node* n, int index, void* packed) {
  conv_isa_impl impl;
  conv_isa_select(n->cfg, &impl);
  const pkt_tensor* w = n->inputs[index];
  conv_pack_weights_on(n, w->data, 1, w->dims[0], w->dims[1], impl.mr, packed);
}
