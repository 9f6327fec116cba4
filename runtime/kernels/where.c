/* where: out = cond ? a : b with NumPy broadcasting over all three inputs. cond is bool (any nonzero
 * byte is true); a, b and out share a dtype (float32, int64, int32, bool, uint8 or int8). The kernel
 * only moves elements, so it works on element sizes. */
#include "kernels/elementwise_util.h"

pkt_status pkt_kernel_where_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_WHERE_MIN_INPUTS, PKT_WHERE_MAX_INPUTS, 1, PKT_WHERE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *c = n->inputs[0], *a = n->inputs[1], *b = n->inputs[2], *y = n->outputs[0];
  if (!pkt_ew_plain_dtype(y->dtype))
    return pkt_fail(err, PKT_BAD_OPERANDS, "does not support dtype %s", pkt_dtype_name(y->dtype));
  if ((st = pkt_check_dtype(c, PKT_BOOL, "condition", err)) || (st = pkt_check_dtype(a, y->dtype, "input 1", err)) ||
      (st = pkt_check_dtype(b, y->dtype, "input 2", err)))
    return st;
  *scratch = 0;
  return pkt_ew_check_shapes(n, err);
}

#define PKT_WHERE_ROW(T)                                                          \
  do {                                                                            \
    const uint8_t* c_ = in[0];                                                    \
    const T *a_ = in[1], *b_ = in[2];                                             \
    T* o_ = out;                                                                  \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                    \
      for (int64_t i = 0; i < n; i++) o_[i] = c_[i] ? a_[i] : b_[i];              \
    } else {                                                                      \
      for (int64_t i = 0; i < n; i++) o_[i] = c_[i * s[0]] ? a_[i * s[1]] : b_[i * s[2]]; \
    }                                                                             \
  } while (0)

static void where_row(const pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n) {
  switch (ew->out_size) {
    case 8: PKT_WHERE_ROW(uint64_t); break;
    case 4: PKT_WHERE_ROW(uint32_t); break;
    default: PKT_WHERE_ROW(uint8_t); break;
  }
}

pkt_status pkt_kernel_where_run(const pkt_node* n) {
  pkt_ew ew;
  pkt_ew_init(&ew, n, where_row);
  pkt_ew_run(n, &ew);
  return PKT_OK;
}
