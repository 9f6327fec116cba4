/* dequantize: int8 -> float32, (float)(q - zp) * (float)scale as the PT2E reference (compute/qelem's rows). */
#include "compute/qelem/qelem.h"
#include "core/kernel.h"
#include "kernels/quant_util.h"

pkt_status pkt_kernel_dequantize_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_DEQUANTIZE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_I8, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err)) ||
      (st = pkt_q_check_qparams(n, PKT_DEQUANTIZE_SCALE, "input", err)))
    return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from the input's");
  *scratch = 0;
  return PKT_OK;
}

/* Blocks of DQ_BLOCK elements, the unit split across threads. */
#define DQ_BLOCK 16384

typedef struct dq_job {
  const pkt_isa_config* cfg;
  const int8_t* x;
  float* y;
  int64_t n;
  float scale;
  int32_t zp;
} dq_job;

static void dq_range(void* ctx, int64_t b, int64_t e) {
  const dq_job* j = ctx;
  const int64_t end = e * DQ_BLOCK < j->n ? e * DQ_BLOCK : j->n;
  pkt_qelem_dequantize(j->cfg, j->x + b * DQ_BLOCK, j->zp, j->scale, j->y + b * DQ_BLOCK, end - b * DQ_BLOCK);
}

pkt_status pkt_kernel_dequantize_run(const pkt_node* n) {
  dq_job j = {n->cfg, n->inputs[0]->data, n->outputs[0]->data, n->outputs[0]->numel,
              (float)pkt_param_f(n, PKT_DEQUANTIZE_SCALE), (int32_t)pkt_param_i(n, PKT_DEQUANTIZE_ZP)};
  pkt_parallel_for(n, (j.n + DQ_BLOCK - 1) / DQ_BLOCK, dq_range, &j);
  return PKT_OK;
}
