/* linear: y[m, n] = sum_k x[m, k] * w[n, k] + b[n], over all leading dims of x; fused activation. */
#include "kernel.h"

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
  *scratch = 0;
  return pkt_check_act(n, PKT_LINEAR_ACT, err);
}

typedef struct linear_job {
  const float *x, *w, *b;
  float* y;
  int64_t K, N;
  int act;
  float lo, hi;
} linear_job;

static void linear_rows(void* ctx, int64_t begin, int64_t end) {
  const linear_job* j = ctx;
  for (int64_t m = begin; m < end; m++) {
    const float* xr = j->x + m * j->K;
    float* yr = j->y + m * j->N;
    for (int64_t o = 0; o < j->N; o++) {
      const float* wr = j->w + o * j->K;
      float acc = j->b ? j->b[o] : 0.f;
      for (int64_t k = 0; k < j->K; k++) acc += xr[k] * wr[k];
      yr[o] = acc;
    }
    pkt_apply_act(yr, j->N, j->act, j->lo, j->hi);
  }
}

pkt_status pkt_kernel_linear_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1];
  linear_job j = {x->data, w->data, n->n_inputs == 3 ? n->inputs[2]->data : NULL, n->outputs[0]->data,
                  w->dims[1], w->dims[0], (int)pkt_param_i(n, PKT_LINEAR_ACT),
                  (float)pkt_param_f(n, PKT_LINEAR_ACT_MIN), (float)pkt_param_f(n, PKT_LINEAR_ACT_MAX)};
  int64_t M = j.K ? x->numel / j.K : n->outputs[0]->numel / (j.N ? j.N : 1);
  pkt_parallel_for(n, M, linear_rows, &j);
  return PKT_OK;
}
