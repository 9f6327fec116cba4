/* avg_pool2d: NCHW, kernel/stride/padding, count_include_pad, divisor (0: derived from the window).
 * Ceil mode is implied by the output shape. Follows torch's window rules: a window is clipped to
 * [-pad, in + pad) for the padded count, and to [0, in) for the elements summed. Parallel over planes. */
#include "core/kernel.h"

#define POOL_PARAM_LIMIT ((int64_t)1 << 24)

static void avg_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t* fl, int64_t* ce) {
  int64_t num = in + 2 * p - k;
  if (num < 0) { /* a window larger than the padded input: only ceil mode has an output (EfficientNet's pooler) */
    *fl = -1;
    *ce = num / s + 1; /* C division truncates toward zero: the ceiling of a negative quotient */
    if (*ce < 1) *ce = -1;
    return;
  }
  *fl = num / s + 1;
  *ce = (num + s - 1) / s + 1;
  if ((*ce - 1) * s >= in + p) --*ce;
}

pkt_status pkt_kernel_avg_pool2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_AVG_POOL2D_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (x->rank != 4 || y->rank != 4 || x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1])
    return pkt_fail(err, PKT_BAD_OPERANDS, "input and output must be NCHW with the same N and C");
  for (int i = PKT_AVG_POOL2D_KERNEL_H; i <= PKT_AVG_POOL2D_PAD_W; i++) {
    int64_t v = pkt_param_i(n, i);
    int64_t lo = (i == PKT_AVG_POOL2D_PAD_H || i == PKT_AVG_POOL2D_PAD_W) ? 0 : 1;
    if (v < lo || v > POOL_PARAM_LIMIT)
      return pkt_fail(err, PKT_BAD_PARAMS, "parameter %d = %lld is out of range [%lld, %lld]", i, (long long)v,
                      (long long)lo, (long long)POOL_PARAM_LIMIT);
  }
  int64_t cip = pkt_param_i(n, PKT_AVG_POOL2D_COUNT_INCLUDE_PAD), div = pkt_param_i(n, PKT_AVG_POOL2D_DIVISOR);
  if (cip != 0 && cip != 1) return pkt_fail(err, PKT_BAD_PARAMS, "count_include_pad must be 0 or 1, got %lld", (long long)cip);
  if (div < 0 || div > ((int64_t)1 << 48)) return pkt_fail(err, PKT_BAD_PARAMS, "divisor %lld is out of range", (long long)div);
  for (int a = 0; a < 2; a++) {
    int64_t fl, ce;
    avg_out_size(x->dims[2 + a], pkt_param_i(n, PKT_AVG_POOL2D_KERNEL_H + a), pkt_param_i(n, PKT_AVG_POOL2D_STRIDE_H + a),
                 pkt_param_i(n, PKT_AVG_POOL2D_PAD_H + a), &fl, &ce);
    int64_t o = y->dims[2 + a];
    if (!((fl > 0 && o == fl) || (ce > 0 && o == ce)))
      return pkt_fail(err, PKT_BAD_OPERANDS, "output %s %lld does not match the input %lld with this window",
                      a ? "width" : "height", (long long)o, (long long)x->dims[2 + a]);
  }
  *scratch = 0;
  return PKT_OK;
}

typedef struct ap_job {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw, cip, div;
  const float* x;
  float* y;
} ap_job;

static void ap_planes(void* ctx, int64_t begin, int64_t end) {
  const ap_job* j = ctx;
  for (int64_t plane = begin; plane < end; plane++) {
    const float* xp = j->x + plane * j->H * j->W;
    float* yp = j->y + plane * j->OH * j->OW;
    for (int64_t oy = 0; oy < j->OH; oy++) {
      int64_t h0 = oy * j->sh - j->ph, h1 = h0 + j->kh;
      if (h1 > j->H + j->ph) h1 = j->H + j->ph;
      int64_t ph = h1 - h0;
      if (h0 < 0) h0 = 0;
      if (h1 > j->H) h1 = j->H;
      for (int64_t ox = 0; ox < j->OW; ox++) {
        int64_t w0 = ox * j->sw - j->pw, w1 = w0 + j->kw;
        if (w1 > j->W + j->pw) w1 = j->W + j->pw;
        int64_t pwn = w1 - w0;
        if (w0 < 0) w0 = 0;
        if (w1 > j->W) w1 = j->W;
        if (h0 >= h1 || w0 >= w1) {
          yp[oy * j->OW + ox] = 0.f;
          continue;
        }
        float sum = 0.f;
        for (int64_t iy = h0; iy < h1; iy++) {
          const float* xr = xp + iy * j->W;
          for (int64_t ix = w0; ix < w1; ix++) sum += xr[ix];
        }
        int64_t count = j->div ? j->div : j->cip ? ph * pwn : (h1 - h0) * (w1 - w0);
        yp[oy * j->OW + ox] = sum / (float)count;
      }
    }
  }
}

pkt_status pkt_kernel_avg_pool2d_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  ap_job j = {x->dims[2], x->dims[3], y->dims[2], y->dims[3],
              pkt_param_i(n, PKT_AVG_POOL2D_KERNEL_H), pkt_param_i(n, PKT_AVG_POOL2D_KERNEL_W),
              pkt_param_i(n, PKT_AVG_POOL2D_STRIDE_H), pkt_param_i(n, PKT_AVG_POOL2D_STRIDE_W),
              pkt_param_i(n, PKT_AVG_POOL2D_PAD_H), pkt_param_i(n, PKT_AVG_POOL2D_PAD_W),
              pkt_param_i(n, PKT_AVG_POOL2D_COUNT_INCLUDE_PAD), pkt_param_i(n, PKT_AVG_POOL2D_DIVISOR),
              x->data, y->data};
  pkt_parallel_for(n, x->dims[0] * x->dims[1], ap_planes, &j);
  return PKT_OK;
}
