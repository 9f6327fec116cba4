/* qmax_pool2d: int8 max pooling NCHW (the output keeps the input's scale and zero point, so max commutes with
 * the quantization and the result is exact); padding never wins. */
#include "core/kernel.h"
#include "kernels/quant_util.h"

pkt_status pkt_kernel_qmax_pool2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_QMAX_POOL2D_NUM_PARAMS, err);
  if (st) return st;
  if ((st = pkt_check_dtype(n->inputs[0], PKT_I8, "input", err)) || (st = pkt_check_dtype(n->outputs[0], PKT_I8, "output", err)) ||
      (st = pkt_q_check_window(n, pkt_param_i(n, PKT_QMAX_POOL2D_DIL_H), pkt_param_i(n, PKT_QMAX_POOL2D_DIL_W), err)))
    return st;
  *scratch = 0;
  return PKT_OK;
}

static void qmp_planes(void* ctx, int64_t b, int64_t e) {
  const pkt_node* n = ctx;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  const int64_t H = x->dims[2], W = x->dims[3], OH = y->dims[2], OW = y->dims[3];
  const int64_t kh = pkt_param_i(n, PKT_QMAX_POOL2D_KERNEL_H), kw = pkt_param_i(n, PKT_QMAX_POOL2D_KERNEL_W);
  const int64_t sh = pkt_param_i(n, PKT_QMAX_POOL2D_STRIDE_H), sw = pkt_param_i(n, PKT_QMAX_POOL2D_STRIDE_W);
  const int64_t ph = pkt_param_i(n, PKT_QMAX_POOL2D_PAD_H), pw = pkt_param_i(n, PKT_QMAX_POOL2D_PAD_W);
  const int64_t dh = pkt_param_i(n, PKT_QMAX_POOL2D_DIL_H), dw = pkt_param_i(n, PKT_QMAX_POOL2D_DIL_W);
  for (int64_t p = b; p < e; p++) {
    const int8_t* xp = (const int8_t*)x->data + p * H * W;
    int8_t* yp = (int8_t*)y->data + p * OH * OW;
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        int m = -128;
        for (int64_t ky = 0; ky < kh; ky++) {
          int64_t iy = oy * sh - ph + ky * dh;
          if (iy < 0 || iy >= H) continue;
          for (int64_t kx = 0; kx < kw; kx++) {
            int64_t ix = ox * sw - pw + kx * dw;
            if (ix >= 0 && ix < W && xp[iy * W + ix] > m) m = xp[iy * W + ix];
          }
        }
        yp[oy * OW + ox] = (int8_t)m;
      }
  }
}

pkt_status pkt_kernel_qmax_pool2d_run(const pkt_node* n) {
  pkt_parallel_for(n, n->outputs[0]->dims[0] * n->outputs[0]->dims[1], qmp_planes, (void*)n);
  return PKT_OK;
}
