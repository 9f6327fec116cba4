/* conv_dw_pw: a depthwise conv2d (x [N, C, H, W], weight [C, 1, kh, kw], bias [C], stride, padding,
 * dilation, act1) feeding a pointwise conv2d (weight [O, C, 1, 1], bias [O], act) -- mobilenet's
 * depthwise conv and its projection, fused by the exporter (exporter/passes/fuse_conv_pairs.py).
 *
 * The [N, C, OH, OW] intermediate is never written out: each thread takes bands of output rows and, per
 * band, runs conv2d's depthwise row kernels for those rows of every channel into its own scratch (sized
 * to stay in L2), then conv2d's pointwise GEMM over them into the output. Nothing is computed twice: the
 * pointwise conv reads only the band's own pixels. A residual add the exporter fused in (6th input) is added
 * to the band's output rows right after (exporter/passes/fuse_residual.py). */
#include "compute/conv/conv_pair.h"

static const conv_pair_op DW_PW = {0, PKT_CONV_DW_PW_STRIDE_H, PKT_CONV_DW_PW_ACT1, PKT_CONV_DW_PW_ACT};

pkt_status pkt_kernel_conv_dw_pw_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  static const char* const names[5] = {"input", "depthwise weight", "depthwise bias", "pointwise weight",
                                       "pointwise bias"};
  pkt_status st = conv_check_pair_operands(n, names, 6, err);
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
  return conv_pair_prepare(n, &DW_PW, scratch, err);
}

size_t pkt_kernel_conv_dw_pw_pack_size(const pkt_node* n) { return conv_pair_pack_size(n, 3); }
void pkt_kernel_conv_dw_pw_pack(const pkt_node* n, void* packed) { conv_pair_pack(n, 3, packed); }

/* The depthwise conv for the band's rows of every channel, then the pointwise conv over those pixels. */
static void dwpw_band(const conv_pair_plan* p, const conv_pair_job* j, int64_t img, int64_t oy0, int64_t oy1,
                      float* mid, float* panel, float* buf) {
  const conv_geom *d = &p->dw, *a = &p->pw;
  const int64_t P = (oy1 - oy0) * d->OW;
  if (conv_dw_flat(d, &j->impl)) {
    const conv_dwf_args f = {j->x + img * d->C * d->H * d->W, j->w1, j->b1, mid, d->H * d->W, P, d->C, d->H, d->W,
                             oy0 * d->OW, oy1 * d->OW, d->kh, d->kw, d->ph, d->pw, d->dh, d->dw, j->act1, j->lo1,
                             j->hi1, d->sh, 0};
    j->impl.dwf(&f);
  } else {
    for (int64_t c = 0; c < d->C; c++)
      conv_dw_band(d, &j->impl, p->dw_ps, p->dw_rows, j->x + (img * d->C + c) * d->H * d->W, 0, buf, oy0, oy1,
                   j->w1 + c * d->K, j->b1[c], j->act1, j->lo1, j->hi1, mid + c * P);
  }
  /* the band's pixels as planes of their own: P floats per channel */
  conv_geom band = *a;
  band.H = band.OH = oy1 - oy0;
  band.P = P;
  float* out = j->y + img * a->O * a->P + oy0 * a->OW;
  conv_pointwise_pixels(&band, &j->impl, mid, j->packed, j->b2, j->res ? PKT_ACT_NONE : j->act, j->lo, j->hi, 0, P,
                        out, a->P, panel);
  if (j->res) /* the residual's rows of the band while they are in cache, then the activation */
    conv_add_act(&j->impl, out, j->res + (out - j->y), a->P, a->O, P, j->act, j->lo, j->hi);
}

pkt_status pkt_kernel_conv_dw_pw_run(const pkt_node* n) { return conv_pair_run(n, &DW_PW, dwpw_band); }
