/* linear: y[m, n] = act(sum_k x[m, k] * w[n, k] + b[n]) over all leading dims of x.
 * Several rows: a constant weight is packed once per session into GEMM panels (pack_size/pack), a
 * weight computed by the graph is packed into scratch on every run, and the product runs on the
 * shared packed GEMM (runtime/src/gemm.h) with the bias and activation fused into its epilogue.
 * One row (batch-1 layers): every weight element is used once, so the weight is read in place by
 * the GEMV (no packing: no load time, no second copy of the weights). */
#include "core/kernel.h"
#include "compute/gemm/gemm.h"

PKT_DECLARE_PACKING(linear)

static pkt_status packed_bytes(int64_t K, int64_t N, size_t* bytes) {
  uint64_t panels = (uint64_t)((N + PKT_GEMM_NR - 1) / PKT_GEMM_NR);
  if (K > 0 && panels > (uint64_t)SIZE_MAX / 8 / PKT_GEMM_NR / (uint64_t)K) return PKT_BAD_OPERANDS;
  *bytes = (size_t)(panels * PKT_GEMM_NR * (uint64_t)K * sizeof(float));
  return PKT_OK;
}

pkt_status pkt_kernel_linear_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_LINEAR_MIN_INPUTS, PKT_LINEAR_MAX_INPUTS, 1, PKT_LINEAR_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(w, PKT_F32, "weight", err)) ||
      (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  if (x->rank < 1 || w->rank != 2 || y->rank != x->rank)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, weight %d, output %d; expected weight 2 and output = input",
                    x->rank, w->rank, y->rank);
  int r = x->rank;
  if (x->dims[r - 1] != w->dims[1] || y->dims[r - 1] != w->dims[0])
    return pkt_fail(err, PKT_BAD_OPERANDS, "input features %lld / output features %lld do not match weight [%lld, %lld]",
                    (long long)x->dims[r - 1], (long long)y->dims[r - 1], (long long)w->dims[0], (long long)w->dims[1]);
  for (int d = 0; d < r - 1; d++)
    if (x->dims[d] != y->dims[d]) return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d differs from input", d);
  if (n->n_inputs == 3) {
    const pkt_tensor* b = n->inputs[2];
    if ((st = pkt_check_dtype(b, PKT_F32, "bias", err))) return st;
    if (b->numel != w->dims[0]) return pkt_fail(err, PKT_BAD_OPERANDS, "bias has %lld elements, expected %lld",
                                                (long long)b->numel, (long long)w->dims[0]);
  }
  size_t bytes;
  if (packed_bytes(w->dims[1], w->dims[0], &bytes))
    return pkt_fail(err, PKT_BAD_OPERANDS, "weight [%lld, %lld] is too large to pack", (long long)w->dims[0],
                    (long long)w->dims[1]);
  /* Constants have data before the session exists; a computed weight is packed per run. */
  int64_t M = w->dims[0] ? y->numel / w->dims[0] : 0;
  *scratch = (w->data || M <= 1) ? 0 : bytes;
  return pkt_check_act(n, PKT_LINEAR_ACT, err);
}

size_t pkt_kernel_linear_pack_size(const pkt_node* n) {
  const pkt_tensor* w = n->inputs[1];
  size_t bytes = 0;
  int64_t M = w->dims[0] ? n->outputs[0]->numel / w->dims[0] : 0;
  if (!w->data || M <= 1 || packed_bytes(w->dims[1], w->dims[0], &bytes)) return 0;
  return bytes;
}

void pkt_kernel_linear_pack(const pkt_node* n, void* packed) {
  const pkt_tensor* w = n->inputs[1];
  const int64_t N = w->dims[0], K = w->dims[1];
  pkt_gemm_pack_b_on(n, w->data, 1, K, K, N, packed);
}

pkt_status pkt_kernel_linear_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  const int64_t N = w->dims[0], K = w->dims[1], M = y->numel / N;
  const int act = (int)pkt_param_i(n, PKT_LINEAR_ACT);
  const float lo = (float)pkt_param_f(n, PKT_LINEAR_ACT_MIN), hi = (float)pkt_param_f(n, PKT_LINEAR_ACT_MAX);
  const float* bias = n->n_inputs == 3 ? n->inputs[2]->data : NULL;
  if (M == 1) {
    pkt_gemv(n, n->cfg, N, K, x->data, w->data, K, bias, y->data, act, lo, hi);
    return PKT_OK;
  }
  const float* packed = n->packed;
  if (!packed) {
    float* dst = n->scratch;
    pkt_gemm_pack_b(w->data, 1, K, K, N, dst);
    packed = dst;
  }
  pkt_gemm_args g;
  memset(&g, 0, sizeof g);
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = x->data;
  g.lda = K;
  g.packed_b = packed ? packed : (const float*)y->data; /* K == 0: never read */
  g.C = y->data;
  g.ldc = N;
  g.bias = bias;
  g.act = act;
  g.act_min = lo;
  g.act_max = hi;
  pkt_gemm(n, n->cfg, &g);
  return PKT_OK;
}
