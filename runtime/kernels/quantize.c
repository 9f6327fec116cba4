/* quantize: float32 -> int8, clamp(round_half_even(x * (1 / scale)) + zp, qmin, qmax) as the PT2E reference
 * (compute/qelem's rows). */
#include "compute/qelem/qelem.h"
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

/* Blocks of Q_BLOCK elements, the unit split across threads. */
#define Q_BLOCK 16384

typedef struct q_job {
  const pkt_isa_config* cfg;
  const float* x;
  int8_t* y;
  int64_t n;
  pkt_qelem_out o;
} q_job;

static void q_range(void* ctx, int64_t b, int64_t e) {
  const q_job* j = ctx;
  const int64_t end = e * Q_BLOCK < j->n ? e * Q_BLOCK : j->n;
  pkt_qelem_quantize(j->cfg, j->x + b * Q_BLOCK, j->y + b * Q_BLOCK, end - b * Q_BLOCK, &j->o);
}

pkt_status pkt_kernel_quantize_run(const pkt_node* n) {
  q_job j = {n->cfg, n->inputs[0]->data, n->outputs[0]->data, n->outputs[0]->numel,
             {pkt_q_inv(pkt_param_f(n, PKT_QUANTIZE_SCALE)), (int32_t)pkt_param_i(n, PKT_QUANTIZE_ZP),
              (int32_t)pkt_param_i(n, PKT_QUANTIZE_QMIN), (int32_t)pkt_param_i(n, PKT_QUANTIZE_QMAX)}};
  pkt_parallel_for(n, (j.n + Q_BLOCK - 1) / Q_BLOCK, q_range, &j);
  return PKT_OK;
}
