/* conv_transpose2d: NCHW input [N, C, H, W], weight IOHW [C, O/groups, kh, kw], optional bias [O],
 * stride, symmetric padding, dilation, groups, fused activation. Output padding is implied by the
 * output shape (checked against the valid range in prepare).
 *
 * Direct scatter per output plane: y[n, o, iy*sh - ph + ky*dh, ix*sw - pw + kx*dw] += x[n, c, iy, ix] *
 * w[c, o % Og, ky, kx] over the group's input channels c. Each worker owns whole output planes, so
 * it needs no scratch; column ranges are computed so no index ever leaves the output row. */
#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

#define CT_PARAM_LIMIT ((int64_t)1 << 24)

typedef struct ct_job {
  int64_t N, C, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, Cg, Og;
  const float *x, *w, *b;
  float* y;
  int act;
  float lo, hi;
  pkt_act_fn act_fn;
} ct_job;

static void ct_read(const pkt_node* n, ct_job* j) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  int64_t groups = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_GROUPS);
  j->N = x->dims[0];
  j->C = x->dims[1];
  j->H = x->dims[2];
  j->W = x->dims[3];
  j->O = y->dims[1];
  j->OH = y->dims[2];
  j->OW = y->dims[3];
  j->kh = w->dims[2];
  j->kw = w->dims[3];
  j->sh = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_STRIDE_H);
  j->sw = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_STRIDE_W);
  j->ph = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_PAD_H);
  j->pw = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_PAD_W);
  j->dh = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_DIL_H);
  j->dw = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_DIL_W);
  j->Cg = groups > 0 ? j->C / groups : 0;
  j->Og = groups > 0 ? j->O / groups : 0;
}

pkt_status pkt_kernel_conv_transpose2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_CONV_TRANSPOSE2D_MIN_INPUTS, PKT_CONV_TRANSPOSE2D_MAX_INPUTS, 1,
                                     PKT_CONV_TRANSPOSE2D_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(w, PKT_F32, "weight", err)) ||
      (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  if (x->rank != 4 || w->rank != 4 || y->rank != 4)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, weight %d, output %d; expected 4, 4, 4", x->rank, w->rank,
                    y->rank);
  const int idx[6] = {PKT_CONV_TRANSPOSE2D_STRIDE_H, PKT_CONV_TRANSPOSE2D_STRIDE_W, PKT_CONV_TRANSPOSE2D_DIL_H,
                      PKT_CONV_TRANSPOSE2D_DIL_W, PKT_CONV_TRANSPOSE2D_PAD_H, PKT_CONV_TRANSPOSE2D_PAD_W};
  for (int i = 0; i < 6; i++) {
    int64_t v = pkt_param_i(n, idx[i]);
    int64_t lo = i < 4 ? 1 : 0;
    if (v < lo || v > CT_PARAM_LIMIT)
      return pkt_fail(err, PKT_BAD_PARAMS, "%s %lld is out of range [%lld, %lld]",
                      i < 2 ? "stride" : i < 4 ? "dilation" : "padding", (long long)v, (long long)lo,
                      (long long)CT_PARAM_LIMIT);
  }
  int64_t groups = pkt_param_i(n, PKT_CONV_TRANSPOSE2D_GROUPS);
  if (groups < 1 || groups > x->dims[1] || x->dims[1] % groups || y->dims[1] % groups)
    return pkt_fail(err, PKT_BAD_PARAMS, "groups %lld does not divide input channels %lld and output channels %lld",
                    (long long)groups, (long long)x->dims[1], (long long)y->dims[1]);
  ct_job j;
  ct_read(n, &j);
  if (y->dims[0] != j.N)
    return pkt_fail(err, PKT_BAD_OPERANDS, "batch %lld != output batch %lld", (long long)j.N, (long long)y->dims[0]);
  if (w->dims[0] != j.C || w->dims[1] != j.Og || j.kh < 1 || j.kw < 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "weight [%lld, %lld, %lld, %lld] does not match %lld input channels and %lld output channels per group",
                    (long long)w->dims[0], (long long)w->dims[1], (long long)j.kh, (long long)j.kw, (long long)j.C,
                    (long long)j.Og);
  if (j.H < 1 || j.W < 1) return pkt_fail(err, PKT_BAD_OPERANDS, "input has an empty spatial size");
  /* output = (in - 1)*s - 2p + d*(k - 1) + 1 + output_padding, 0 <= output_padding < max(s, d) */
  int64_t bh = (j.H - 1) * j.sh - 2 * j.ph + j.dh * (j.kh - 1) + 1;
  int64_t bw = (j.W - 1) * j.sw - 2 * j.pw + j.dw * (j.kw - 1) + 1;
  int64_t mh = j.sh > j.dh ? j.sh : j.dh, mw = j.sw > j.dw ? j.sw : j.dw;
  if (j.OH - bh < 0 || j.OH - bh >= mh || j.OW - bw < 0 || j.OW - bw >= mw)
    return pkt_fail(err, PKT_BAD_OPERANDS, "output %lldx%lld does not match input %lldx%lld with these kernel/stride/padding/dilation",
                    (long long)j.OH, (long long)j.OW, (long long)j.H, (long long)j.W);
  if (n->n_inputs == 3) {
    const pkt_tensor* b = n->inputs[2];
    if ((st = pkt_check_dtype(b, PKT_F32, "bias", err))) return st;
    if (b->numel != j.O)
      return pkt_fail(err, PKT_BAD_OPERANDS, "bias has %lld elements, expected %lld", (long long)b->numel, (long long)j.O);
  }
  *scratch = 0;
  return pkt_check_act(n, PKT_CONV_TRANSPOSE2D_ACT, err);
}

static void ct_planes(void* ctx, int64_t begin, int64_t end) {
  const ct_job* j = ctx;
  const int64_t P = j->OH * j->OW, HW = j->H * j->W;
  for (int64_t plane = begin; plane < end; plane++) {
    int64_t nidx = plane / j->O, o = plane % j->O;
    int64_t grp = o / j->Og, ol = o % j->Og;
    float* yo = j->y + plane * P;
    float bias = j->b ? j->b[o] : 0.f;
    for (int64_t i = 0; i < P; i++) yo[i] = bias;
    for (int64_t cl = 0; cl < j->Cg; cl++) {
      int64_t c = grp * j->Cg + cl;
      const float* xc = j->x + (nidx * j->C + c) * HW;
      const float* wc = j->w + (c * j->Og + ol) * j->kh * j->kw;
      for (int64_t ky = 0; ky < j->kh; ky++) {
        for (int64_t kx = 0; kx < j->kw; kx++) {
          float wv = wc[ky * j->kw + kx];
          /* valid ix: 0 <= ix*sw + off < OW */
          int64_t off = kx * j->dw - j->pw;
          int64_t lo = off >= 0 ? 0 : (-off + j->sw - 1) / j->sw;
          int64_t last = j->OW - 1 - off;
          if (last < 0) continue;
          int64_t hi = last / j->sw + 1;
          if (hi > j->W) hi = j->W;
          for (int64_t iy = 0; iy < j->H; iy++) {
            int64_t oy = iy * j->sh - j->ph + ky * j->dh;
            if (oy < 0 || oy >= j->OH) continue;
            const float* xr = xc + iy * j->W;
            float* yr = yo + oy * j->OW;
            if (j->sw == 1) {
              for (int64_t ix = lo; ix < hi; ix++) yr[ix + off] += wv * xr[ix];
            } else {
              for (int64_t ix = lo; ix < hi; ix++) yr[ix * j->sw + off] += wv * xr[ix];
            }
          }
        }
      }
    }
    j->act_fn(yo, P, j->act, j->lo, j->hi);
  }
}

pkt_status pkt_kernel_conv_transpose2d_run(const pkt_node* n) {
  ct_job j;
  ct_read(n, &j);
  j.x = n->inputs[0]->data;
  j.w = n->inputs[1]->data;
  j.b = n->n_inputs == 3 ? n->inputs[2]->data : NULL;
  j.y = n->outputs[0]->data;
  j.act_fn = n->cfg->act;
  j.act = (int)pkt_param_i(n, PKT_CONV_TRANSPOSE2D_ACT);
  j.lo = (float)pkt_param_f(n, PKT_CONV_TRANSPOSE2D_ACT_MIN);
  j.hi = (float)pkt_param_f(n, PKT_CONV_TRANSPOSE2D_ACT_MAX);
  pkt_parallel_for(n, j.N * j.O, ct_planes, &j);
  return PKT_OK;
}
