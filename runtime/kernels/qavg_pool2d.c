/* qavg_pool2d: int8 average pooling NCHW (global average included): the window's sum of (q - zp) as an integer,
 * times in_scale over the divisor (torch's count_include_pad / divisor_override rules), requantized. */
#include "core/kernel.h"
#include "kernels/quant_util.h"

pkt_status pkt_kernel_qavg_pool2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_QAVG_POOL2D_NUM_PARAMS, err);
  if (st) return st;
  if ((st = pkt_check_dtype(n->inputs[0], PKT_I8, "input", err)) || (st = pkt_check_dtype(n->outputs[0], PKT_I8, "output", err)) ||
      (st = pkt_q_check_window(n, 1, 1, err)) || (st = pkt_q_check_qparams(n, PKT_QAVG_POOL2D_IN_SCALE, "input", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QAVG_POOL2D_OUT_SCALE, "output", err)))
    return st;
  int64_t div = pkt_param_i(n, PKT_QAVG_POOL2D_DIVISOR), cip = pkt_param_i(n, PKT_QAVG_POOL2D_COUNT_INCLUDE_PAD);
  if (div < 0 || div > (1 << 30) || (cip != 0 && cip != 1))
    return pkt_fail(err, PKT_BAD_PARAMS, "divisor %lld / count_include_pad %lld out of range", (long long)div, (long long)cip);
  *scratch = 0;
  return PKT_OK;
}

/* The sum of n int8 (0 when n <= 0), in int32 over runs short enough not to wrap (the compiler vectorizes the inner loop). */
static int64_t qap_sum(const int8_t* p, int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i += 1 << 20) {
    const int64_t m = n - i < (1 << 20) ? n - i : (1 << 20);
    int32_t s = 0;
    for (int64_t k = 0; k < m; k++) s += p[i + k];
    sum += s;
  }
  return sum;
}

static void qap_planes(void* ctx, int64_t b, int64_t e) {
  const pkt_node* n = ctx;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  const int64_t H = x->dims[2], W = x->dims[3], OH = y->dims[2], OW = y->dims[3];
  const int64_t kh = pkt_param_i(n, PKT_QAVG_POOL2D_KERNEL_H), kw = pkt_param_i(n, PKT_QAVG_POOL2D_KERNEL_W);
  const int64_t sh = pkt_param_i(n, PKT_QAVG_POOL2D_STRIDE_H), sw = pkt_param_i(n, PKT_QAVG_POOL2D_STRIDE_W);
  const int64_t ph = pkt_param_i(n, PKT_QAVG_POOL2D_PAD_H), pw = pkt_param_i(n, PKT_QAVG_POOL2D_PAD_W);
  const int64_t div = pkt_param_i(n, PKT_QAVG_POOL2D_DIVISOR);
  const int cip = (int)pkt_param_i(n, PKT_QAVG_POOL2D_COUNT_INCLUDE_PAD);
  const float in_scale = (float)pkt_param_f(n, PKT_QAVG_POOL2D_IN_SCALE), inv = pkt_q_inv(pkt_param_f(n, PKT_QAVG_POOL2D_OUT_SCALE));
  const int32_t iz = (int32_t)pkt_param_i(n, PKT_QAVG_POOL2D_IN_ZP), oz = (int32_t)pkt_param_i(n, PKT_QAVG_POOL2D_OUT_ZP);
  for (int64_t p = b; p < e; p++) {
    const int8_t* xp = (const int8_t*)x->data + p * H * W;
    int8_t* yp = (int8_t*)y->data + p * OH * OW;
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t y0 = oy * sh - ph, x0 = ox * sw - pw;
        int64_t y1 = y0 + kh < H + ph ? y0 + kh : H + ph, x1 = x0 + kw < W + pw ? x0 + kw : W + pw;
        int64_t padded = (y1 - y0) * (x1 - x0);
        if (y0 < 0) y0 = 0;
        if (x0 < 0) x0 = 0;
        if (y1 > H) y1 = H;
        if (x1 > W) x1 = W;
        int64_t sum = 0; /* of (x - iz): of x, less iz per cell */
        if (x0 == 0 && x1 == W) /* whole rows: one run (global average) */
          sum = qap_sum(xp + y0 * W, (y1 - y0) * W);
        else
          for (int64_t iy = y0; iy < y1; iy++) sum += qap_sum(xp + iy * W + x0, x1 - x0);
        sum -= (int64_t)iz * (y1 > y0 && x1 > x0 ? (y1 - y0) * (x1 - x0) : 0);
        int64_t count = div ? div : cip ? padded : (y1 - y0) * (x1 - x0);
        float mean = count > 0 ? (float)sum * in_scale / (float)count : 0.0f;
        yp[oy * OW + ox] = pkt_q_round(mean * inv, oz, -128, 127);
      }
  }
}

pkt_status pkt_kernel_qavg_pool2d_run(const pkt_node* n) {
  pkt_parallel_for(n, n->outputs[0]->dims[0] * n->outputs[0]->dims[1], qap_planes, (void*)n);
  return PKT_OK;
}
