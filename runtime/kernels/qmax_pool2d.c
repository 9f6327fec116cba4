/* qmax_pool2d: int8 max pooling NCHW (the output keeps the input's scale and zero point, so max commutes with
 * the quantization and the result is exact); padding never wins. The planes run in compute/qelem. */
#include "compute/qelem/qelem.h"
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
  const pkt_qelem_pool p = {x->dims[2], x->dims[3], y->dims[2], y->dims[3],
                            pkt_param_i(n, PKT_QMAX_POOL2D_KERNEL_H), pkt_param_i(n, PKT_QMAX_POOL2D_KERNEL_W),
                            pkt_param_i(n, PKT_QMAX_POOL2D_STRIDE_H), pkt_param_i(n, PKT_QMAX_POOL2D_STRIDE_W),
                            pkt_param_i(n, PKT_QMAX_POOL2D_PAD_H), pkt_param_i(n, PKT_QMAX_POOL2D_PAD_W),
                            pkt_param_i(n, PKT_QMAX_POOL2D_DIL_H), pkt_param_i(n, PKT_QMAX_POOL2D_DIL_W)};
  for (int64_t i = b; i < e; i++)
    pkt_qelem_max_plane(n->cfg, &p, (const int8_t*)x->data + i * p.H * p.W, (int8_t*)y->data + i * p.OH * p.OW);
}

pkt_status pkt_kernel_qmax_pool2d_run(const pkt_node* n) {
  pkt_parallel_for(n, n->outputs[0]->dims[0] * n->outputs[0]->dims[1], qmp_planes, (void*)n);
  return PKT_OK;
}
