/* linear_wo: y = act(x @ W^T + b) with W quantized in groups along K (op table: linear_wo), on the weight-only
 * GEMV / small-M GEMM (compute/wogemm), which unpacks the weight in registers; nothing is repacked. */
#include "compute/wogemm/wogemm.h"
#include "kernels/wo_weight.h"

pkt_status pkt_kernel_linear_wo_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_LINEAR_WO_MIN_INPUTS, PKT_LINEAR_WO_MAX_INPUTS, 1,
                                     PKT_LINEAR_WO_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t bits = pkt_param_i(n, PKT_LINEAR_WO_BITS), group = pkt_param_i(n, PKT_LINEAR_WO_GROUP_SIZE), N = 0, K = 0;
  if ((st = pkt_wo_check_weight(n->inputs[1], n->inputs[2], bits, group, &N, &K, err))) return st;
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (x->rank < 1 || y->rank != x->rank)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, output %d; expected output = input", x->rank, y->rank);
  int r = x->rank;
  if (x->dims[r - 1] != K || y->dims[r - 1] != N)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input features %lld / output features %lld do not match weight [%lld, %lld]",
                    (long long)x->dims[r - 1], (long long)y->dims[r - 1], (long long)N, (long long)K);
  for (int d = 0; d < r - 1; d++)
    if (x->dims[d] != y->dims[d]) return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d differs from input", d);
  if (n->n_inputs == 4) {
    const pkt_tensor* b = n->inputs[3];
    if ((st = pkt_check_dtype(b, PKT_F32, "bias", err))) return st;
    if (b->numel != N)
      return pkt_fail(err, PKT_BAD_OPERANDS, "bias has %lld elements, expected %lld", (long long)b->numel, (long long)N);
  }
  int64_t M = N ? y->numel / N : 0;
  *scratch = pkt_wogemm_scratch_bytes(n->cfg, (int)bits, (int)group, M, K);
  if (*scratch == SIZE_MAX) return pkt_fail(err, PKT_BAD_OPERANDS, "input [%lld, %lld] is too large", (long long)M, (long long)K);
  return pkt_check_act(n, PKT_LINEAR_WO_ACT, err);
}

pkt_status pkt_kernel_linear_wo_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  pkt_wogemm_args a;
  memset(&a, 0, sizeof a);
  a.bits = (int)pkt_param_i(n, PKT_LINEAR_WO_BITS);
  a.group_size = (int)pkt_param_i(n, PKT_LINEAR_WO_GROUP_SIZE);
  a.N = n->inputs[1]->dims[0];
  a.K = x->dims[x->rank - 1];
  a.M = y->numel / a.N;
  a.x = x->data;
  a.q = n->inputs[1]->data;
  a.scales = n->inputs[2]->data;
  a.bias = n->n_inputs == 4 ? n->inputs[3]->data : NULL;
  a.y = y->data;
  a.act = (int)pkt_param_i(n, PKT_LINEAR_WO_ACT);
  a.act_min = (float)pkt_param_f(n, PKT_LINEAR_WO_ACT_MIN);
  a.act_max = (float)pkt_param_f(n, PKT_LINEAR_WO_ACT_MAX);
  a.scratch = n->scratch;
  pkt_wogemm(n, n->cfg, &a);
  return PKT_OK;
}
