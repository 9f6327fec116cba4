/* cumsum along one axis for float32, int64 and int32 (output dtype = input dtype; the exporter casts first when
 * torch promotes): the scan kernels/cumulative.h shares with cumprod. */
#include "kernels/cumulative.h"

pkt_status pkt_kernel_cumsum_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  return pkt_cum_prepare(n, PKT_CUMSUM_NUM_PARAMS, PKT_CUMSUM_AXIS, scratch, err);
}

pkt_status pkt_kernel_cumsum_run(const pkt_node* n) { return pkt_cum_run(n, PKT_CUMSUM_AXIS, PKT_CUM_SUM); }
