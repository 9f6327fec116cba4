/* logical: out = a AND/OR/XOR b with NumPy broadcasting; inputs and output are bool. Any nonzero
 * byte reads as true; the output is 0 or 1. */
#include "kernels/elementwise_util.h"

pkt_status pkt_kernel_logical_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_LOGICAL_MIN_INPUTS, PKT_LOGICAL_MAX_INPUTS, 1, PKT_LOGICAL_NUM_PARAMS, err);
  if (st) return st;
  int64_t kind = pkt_param_i(n, PKT_LOGICAL_KIND);
  if (kind < 0 || kind >= PKT_LOGICAL_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown kind %lld", (long long)kind);
  if ((st = pkt_check_dtype(n->inputs[0], PKT_BOOL, "input 0", err)) ||
      (st = pkt_check_dtype(n->inputs[1], PKT_BOOL, "input 1", err)) ||
      (st = pkt_check_dtype(n->outputs[0], PKT_BOOL, "output", err)))
    return st;
  *scratch = 0;
  return pkt_ew_check_shapes(n, err);
}

static void logical_row(const pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n) {
  switch (ew->kind) {
    case PKT_LOGICAL_AND: PKT_EW_LOOP2(uint8_t, uint8_t, out, in, s, n, (x != 0) & (y != 0)); break;
    case PKT_LOGICAL_OR: PKT_EW_LOOP2(uint8_t, uint8_t, out, in, s, n, (x != 0) | (y != 0)); break;
    case PKT_LOGICAL_XOR: PKT_EW_LOOP2(uint8_t, uint8_t, out, in, s, n, (x != 0) ^ (y != 0)); break;
    default: break;
  }
}

pkt_status pkt_kernel_logical_run(const pkt_node* n) {
  pkt_ew ew;
  pkt_ew_init(&ew, n, logical_row);
  ew.kind = (int)pkt_param_i(n, PKT_LOGICAL_KIND);
  pkt_ew_run(n, &ew);
  return PKT_OK;
}
