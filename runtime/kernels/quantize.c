/* quantize: float32 -> int8, clamp(round_half_even(x * (1 / scale)) + zp, qmin, qmax) as the PT2E reference. */
#include "core/kernel.h"
#include "kernels/quant_util.h"

pkt_status pkt_kernel_quantize_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_QUANTIZE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_I8, "output", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QUANTIZE_SCALE, "output", err)) ||
      (st = pkt_q_check_clamp(pkt_param_i(n, PKT_QUANTIZE_QMIN), pkt_param_i(n, PKT_QUANTIZE_QMAX), err)))
    return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from the input's");
  *scratch = 0;
  return PKT_OK;
}

typedef struct q_job {
  const float* x;
  int8_t* y;
  float inv;
  int32_t zp, lo, hi;
} q_job;

static void q_range(void* ctx, int64_t b, int64_t e) {
  const q_job* j = ctx;
  for (int64_t i = b; i < e; i++) j->y[i] = pkt_q_round(j->x[i] * j->inv, j->zp, j->lo, j->hi);
}

pkt_status pkt_kernel_quantize_run(const pkt_node* n) {
  q_job j = {n->inputs[0]->data, n->outputs[0]->data, pkt_q_inv(pkt_param_f(n, PKT_QUANTIZE_SCALE)),
             (int32_t)pkt_param_i(n, PKT_QUANTIZE_ZP), (int32_t)pkt_param_i(n, PKT_QUANTIZE_QMIN),
             (int32_t)pkt_param_i(n, PKT_QUANTIZE_QMAX)};
  pkt_parallel_for(n, n->outputs[0]->numel, q_range, &j);
  return PKT_OK;
}
