/* linear: y[m, n] = sum_k x[m, k] * w[n, k] + b[n] over all leading dims of x; fused activation.
 * Rows are split between workers; when there are few rows (batch-1 layers, M < MR) the output
 * columns are split instead. Many-row products pack weight panels into per-worker scratch. */
#include "kernel.h"
#include "gemm_f32.h"

#define LINEAR_SLOTS 16 /* most workers one node uses; scratch holds one packing panel each */

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
  int64_t N = w->dims[0];
  int64_t M = N ? y->numel / N : 0;
  *scratch = M >= PKT_GEMM_MR ? (size_t)LINEAR_SLOTS * PKT_GEMM_PACK_FLOATS * sizeof(float) : 0;
  return pkt_check_act(n, PKT_LINEAR_ACT, err);
}

typedef struct linear_job {
  pkt_gemm g;
  int64_t row_parts, col_parts;
  float* scratch;
  int act;
  float lo, hi;
} linear_job;

static void linear_parts(void* ctx, int64_t begin, int64_t end) {
  const linear_job* j = ctx;
  for (int64_t p = begin; p < end; p++) {
    int64_t i0, i1, c0, c1;
    pkt_gemm_range(j->g.M, j->row_parts, p / j->col_parts, PKT_GEMM_MR, &i0, &i1);
    pkt_gemm_range(j->g.N, j->col_parts, p % j->col_parts, j->g.M < PKT_GEMM_MR ? 4 : PKT_GEMM_NR, &c0, &c1);
    pkt_gemm_block(&j->g, i0, i1, c0, c1, j->scratch ? j->scratch + p * PKT_GEMM_PACK_FLOATS : NULL);
    if (j->act != PKT_ACT_NONE)
      for (int64_t i = i0; i < i1; i++) pkt_apply_act(j->g.C + i * j->g.ldc + c0, c1 - c0, j->act, j->lo, j->hi);
  }
}

pkt_status pkt_kernel_linear_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  linear_job j;
  j.g.N = w->dims[0];
  j.g.K = w->dims[1];
  j.g.M = y->numel / j.g.N;
  j.g.A = x->data;
  j.g.lda = j.g.K;
  j.g.B = w->data;
  j.g.ldb = j.g.K;
  j.g.b_trans = 1;
  j.g.C = y->data;
  j.g.ldc = j.g.N;
  j.g.bias = n->n_inputs == 3 ? n->inputs[2]->data : NULL;
  j.scratch = j.g.M >= PKT_GEMM_MR ? n->scratch : NULL;
  j.act = (int)pkt_param_i(n, PKT_LINEAR_ACT);
  j.lo = (float)pkt_param_f(n, PKT_LINEAR_ACT_MIN);
  j.hi = (float)pkt_param_f(n, PKT_LINEAR_ACT_MAX);
  int64_t parts = n->num_threads > 1 ? n->num_threads : 1;
  if (parts > LINEAR_SLOTS) parts = LINEAR_SLOTS;
  /* Tiny products are not worth waking workers for. */
  if (y->numel < 32768 / (j.g.K + 1)) parts = 1;
  pkt_gemm_split(j.g.M, j.g.N, parts, &j.row_parts, &j.col_parts);
  pkt_parallel_for(n, j.row_parts * j.col_parts, linear_parts, &j);
  return PKT_OK;
}
