/* conv_pw_dw: a pointwise conv2d (x [N, C, H, W], weight [M, C, 1, 1], bias [M], act1) feeding a
 * depthwise conv2d (weight [M, 1, kh, kw], bias [M], stride, padding, dilation, act) -- mobilenet's
 * expansion and its depthwise conv, fused by the exporter (exporter/passes/fuse_conv_pairs.py).
 *
 * The [N, M, H, W] intermediate is never written out: each thread takes bands of output rows and, per
 * band, computes just the intermediate rows the band reads (all M channels, in its own scratch, sized
 * to stay in L2) with conv2d's GEMM micro-kernel, then runs conv2d's depthwise row kernels over them.
 * At 112x112 x 96 channels the intermediate is 4.8 MB, which otherwise goes out to memory and back.
 * Rows shared by two bands are computed twice; the exporter fuses only where that is cheap. */
#include "compute/conv/conv_pair.h"

static const conv_pair_op PW_DW = {1, PKT_CONV_PW_DW_STRIDE_H, PKT_CONV_PW_DW_ACT1, PKT_CONV_PW_DW_ACT};

/* Intermediate rows [m0, m1) that output rows [oy0, oy1) read. */
static void pwdw_mid_range(const conv_geom* d, int64_t oy0, int64_t oy1, int64_t* m0, int64_t* m1) {
  int64_t lo = oy0 * d->sh - d->ph, hi = (oy1 - 1) * d->sh - d->ph + (d->kh - 1) * d->dh + 1;
  *m0 = lo < 0 ? 0 : lo;
  *m1 = hi > d->H ? d->H : hi;
  if (*m1 < *m0) *m1 = *m0;
}

pkt_status pkt_kernel_conv_pw_dw_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  static const char* const names[5] = {"input", "pointwise weight", "pointwise bias", "depthwise weight",
                                       "depthwise bias"};
  pkt_status st = conv_check_pair_operands(n, names, 5, err);
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
  return conv_pair_prepare(n, &PW_DW, scratch, err);
}

size_t pkt_kernel_conv_pw_dw_pack_size(const pkt_node* n) { return conv_pair_pack_size(n, 1); }
void pkt_kernel_conv_pw_dw_pack(const pkt_node* n, void* packed) { conv_pair_pack(n, 1, packed); }

/* The pointwise conv for the intermediate rows the band reads, then the depthwise conv from them. */
static void pwdw_band(const conv_pair_plan* p, const conv_pair_job* j, int64_t img, int64_t oy0, int64_t oy1,
                      float* mid, float* panel, float* buf) {
  const conv_geom *a = &p->pw, *d = &p->dw;
  int64_t m0, m1;
  pwdw_mid_range(d, oy0, oy1, &m0, &m1);
  const int64_t P = (m1 - m0) * d->W;
  conv_pointwise_pixels(a, &j->impl, j->x + img * a->C * a->P, j->packed, j->b1, j->act1, j->lo1, j->hi1, m0 * a->W,
                        P, mid, P, panel);
  if (d->sh == 2 && conv_dw_flat(d, &j->impl)) { /* reads the intermediate rows in place */
    const conv_dwf_args f = {mid, j->w2, j->b2, j->y + img * d->C * d->P + oy0 * d->OW, P, d->P, d->C, d->H, d->W,
                             oy0 * d->OW, oy1 * d->OW, d->kh, d->kw, d->ph, d->pw, d->dh, d->dw, j->act, j->lo, j->hi,
                             2, m0};
    j->impl.dwf(&f);
    return;
  }
  for (int64_t c = 0; c < d->C; c++)
    conv_dw_band(d, &j->impl, p->dw_ps, p->dw_rows, mid + c * P, m0, buf, oy0, oy1, j->w2 + c * d->K, j->b2[c],
                 j->act, j->lo, j->hi, j->y + (img * d->C + c) * d->P + oy0 * d->OW);
}

pkt_status pkt_kernel_conv_pw_dw_run(const pkt_node* n) { return conv_pair_run(n, &PW_DW, pwdw_band); }
