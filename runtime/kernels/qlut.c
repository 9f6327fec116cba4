/* qlut: y = table[x + 128], the table a constant int8 [256] the exporter made with the reference's own
 * dequantize -> activation -> quantize (so any activation of one int8 value is exact). */
#include "core/kernel.h"

pkt_status pkt_kernel_qlut_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 2, 2, 1, 0, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *t = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_I8, "input", err)) || (st = pkt_check_dtype(t, PKT_I8, "table", err)) ||
      (st = pkt_check_dtype(y, PKT_I8, "output", err)))
    return st;
  if (t->numel != 256) return pkt_fail(err, PKT_BAD_OPERANDS, "the table has %lld entries, expected 256", (long long)t->numel);
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from the input's");
  *scratch = 0;
  return PKT_OK;
}

typedef struct lut_job {
  const int8_t *x, *table;
  int8_t* y;
} lut_job;

static void lut_range(void* ctx, int64_t b, int64_t e) {
  const lut_job* j = ctx;
  for (int64_t i = b; i < e; i++) j->y[i] = j->table[j->x[i] + 128];
}

pkt_status pkt_kernel_qlut_run(const pkt_node* n) {
  lut_job j = {n->inputs[0]->data, n->inputs[1]->data, n->outputs[0]->data};
  pkt_parallel_for(n, n->outputs[0]->numel, lut_range, &j);
  return PKT_OK;
}
