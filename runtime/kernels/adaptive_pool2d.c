/* adaptive_pool2d: adaptive average or max pooling NCHW to the output's H, W. Output cell o along a
 * dim of input size I and output size O covers [floor(o*I/O), ceil((o+1)*I/O)), as in torch. Max
 * propagates NaN. Parallel over N*C planes. */
#include <math.h>

#include "core/kernel.h"

pkt_status pkt_kernel_adaptive_pool2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_ADAPTIVE_POOL2D_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (x->rank != 4 || y->rank != 4 || x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1])
    return pkt_fail(err, PKT_BAD_OPERANDS, "input and output must be NCHW with the same N and C");
  int64_t is_max = pkt_param_i(n, PKT_ADAPTIVE_POOL2D_IS_MAX);
  if (is_max != 0 && is_max != 1) return pkt_fail(err, PKT_BAD_PARAMS, "is_max must be 0 or 1, got %lld", (long long)is_max);
  if ((y->dims[2] > 0 && x->dims[2] == 0) || (y->dims[3] > 0 && x->dims[3] == 0))
    return pkt_fail(err, PKT_BAD_OPERANDS, "cannot pool an empty input to a non-empty output");
  *scratch = 0;
  return PKT_OK;
}

typedef struct adp_job {
  int64_t H, W, OH, OW;
  int is_max;
  const float* x;
  float* y;
} adp_job;

static void adp_planes(void* ctx, int64_t begin, int64_t end) {
  const adp_job* j = ctx;
  for (int64_t plane = begin; plane < end; plane++) {
    const float* xp = j->x + plane * j->H * j->W;
    float* yp = j->y + plane * j->OH * j->OW;
    for (int64_t oy = 0; oy < j->OH; oy++) {
      int64_t h0 = oy * j->H / j->OH, h1 = ((oy + 1) * j->H + j->OH - 1) / j->OH;
      for (int64_t ox = 0; ox < j->OW; ox++) {
        int64_t w0 = ox * j->W / j->OW, w1 = ((ox + 1) * j->W + j->OW - 1) / j->OW;
        float r;
        if (j->is_max) {
          r = -INFINITY;
          for (int64_t iy = h0; iy < h1; iy++)
            for (int64_t ix = w0; ix < w1; ix++) {
              float v = xp[iy * j->W + ix];
              r = (v > r || isnan(v)) ? v : r;
            }
        } else {
          r = 0.f;
          for (int64_t iy = h0; iy < h1; iy++)
            for (int64_t ix = w0; ix < w1; ix++) r += xp[iy * j->W + ix];
          r /= (float)((h1 - h0) * (w1 - w0));
        }
        yp[oy * j->OW + ox] = r;
      }
    }
  }
}

pkt_status pkt_kernel_adaptive_pool2d_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  adp_job j = {x->dims[2], x->dims[3], y->dims[2], y->dims[3], (int)pkt_param_i(n, PKT_ADAPTIVE_POOL2D_IS_MAX),
               x->data, y->data};
  pkt_parallel_for(n, x->dims[0] * x->dims[1], adp_planes, &j);
  return PKT_OK;
}
