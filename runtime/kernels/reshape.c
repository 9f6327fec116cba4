/* reshape: same elements, new shape. The memory planner usually gives the output the input's
 * buffer, making this free; otherwise it is a copy. */
#include "core/kernel.h"

pkt_status pkt_kernel_reshape_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, 0, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != y->dtype) return pkt_fail(err, PKT_BAD_OPERANDS, "changes dtype %s to %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (x->numel != y->numel)
    return pkt_fail(err, PKT_BAD_OPERANDS, "changes element count %lld to %lld", (long long)x->numel, (long long)y->numel);
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_reshape_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->data != y->data) memmove(y->data, x->data, x->nbytes);
  return PKT_OK;
}
