/* delegate: the CPU side of a delegate instruction (FORMAT.md, DELEGATES). The loader checked its operands, its
 * delegate entry and its fallback range. When its backend runs, the session calls the backend instead of this
 * kernel and skips the fallback range; when the backend is not compiled in, not available or failed to
 * initialize, this kernel runs: it computes nothing, and the fallback instructions that follow compute the
 * outputs on the CPU. */
#include "core/kernel.h"

pkt_status pkt_kernel_delegate_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  if (n->n_params != PKT_DELEGATE_NUM_PARAMS)
    return pkt_fail(err, PKT_BAD_PARAMS, "has %d parameters, expected %d", n->n_params, PKT_DELEGATE_NUM_PARAMS);
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_delegate_run(const pkt_node* n) {
  (void)n;
  return PKT_OK;
}
