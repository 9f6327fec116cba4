/* cumprod along one axis for float32, int64 and int32 (output dtype = input dtype; the exporter casts first when
 * torch promotes): the scan kernels/cumulative.h shares with cumsum. */
#include "kernels/cumulative.h"

pkt_status pkt_kernel_cumprod_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  return pkt_cum_prepare(n, PKT_CUMPROD_NUM_PARAMS, PKT_CUMPROD_AXIS, scratch, err);
}

pkt_status pkt_kernel_cumprod_run(const pkt_node* n) { return pkt_cum_run(n, PKT_CUMPROD_AXIS, PKT_CUM_PROD); }
