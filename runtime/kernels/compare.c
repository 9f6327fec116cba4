/* compare: out = a <kind> b (EQ NE LT LE GT GE) with NumPy broadcasting; a and b share a dtype
 * (float32, int64, int32, bool, uint8 or int8), out is bool. NaN compares as in C (only NE is true). */
#include "kernels/elementwise_util.h"

pkt_status pkt_kernel_compare_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_COMPARE_MIN_INPUTS, PKT_COMPARE_MAX_INPUTS, 1, PKT_COMPARE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  int64_t kind = pkt_param_i(n, PKT_COMPARE_KIND);
  if (kind < 0 || kind >= PKT_COMPARE_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown kind %lld", (long long)kind);
  if (!pkt_ew_plain_dtype(a->dtype))
    return pkt_fail(err, PKT_BAD_OPERANDS, "does not support dtype %s", pkt_dtype_name(a->dtype));
  if ((st = pkt_check_dtype(b, a->dtype, "input 1", err)) || (st = pkt_check_dtype(y, PKT_BOOL, "output", err)))
    return st;
  *scratch = 0;
  return pkt_ew_check_shapes(n, err);
}

#define PKT_COMPARE_ROW(T)                                                          \
  switch (ew->kind) {                                                               \
    case PKT_COMPARE_EQ: PKT_EW_LOOP2(T, uint8_t, out, in, s, n, x == y); break;    \
    case PKT_COMPARE_NE: PKT_EW_LOOP2(T, uint8_t, out, in, s, n, x != y); break;    \
    case PKT_COMPARE_LT: PKT_EW_LOOP2(T, uint8_t, out, in, s, n, x < y); break;     \
    case PKT_COMPARE_LE: PKT_EW_LOOP2(T, uint8_t, out, in, s, n, x <= y); break;    \
    case PKT_COMPARE_GT: PKT_EW_LOOP2(T, uint8_t, out, in, s, n, x > y); break;     \
    case PKT_COMPARE_GE: PKT_EW_LOOP2(T, uint8_t, out, in, s, n, x >= y); break;    \
    default: break;                                                                 \
  }

static void compare_row(const pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n) {
  switch (ew->dtype) {
    case PKT_F32: PKT_COMPARE_ROW(float) break;
    case PKT_I64: PKT_COMPARE_ROW(int64_t) break;
    case PKT_I32: PKT_COMPARE_ROW(int32_t) break;
    case PKT_I8: PKT_COMPARE_ROW(int8_t) break;
    default: PKT_COMPARE_ROW(uint8_t) break; /* bool, uint8 */
  }
}

pkt_status pkt_kernel_compare_run(const pkt_node* n) {
  pkt_ew ew;
  pkt_ew_init(&ew, n, compare_row);
  ew.dtype = n->inputs[0]->dtype;
  ew.kind = (int)pkt_param_i(n, PKT_COMPARE_KIND);
  pkt_ew_run(n, &ew);
  return PKT_OK;
}
