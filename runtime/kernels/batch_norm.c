/* batch_norm (inference): y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c] over dim 1 of
 * x [N, C, *]. Usually folded into a preceding conv/linear by the exporter; this runs the rest. */
#include <math.h>

#include "core/kernel.h"

pkt_status pkt_kernel_batch_norm_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 5, 5, 1, PKT_BATCH_NORM_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  if (x->rank < 2) return pkt_fail(err, PKT_BAD_OPERANDS, "input has rank %d, expected at least 2 ([N, C, ...])", x->rank);
  static const char* names[5] = {"input", "mean", "var", "weight", "bias"};
  for (int i = 1; i < 5; i++) {
    if ((st = pkt_check_dtype(n->inputs[i], PKT_F32, names[i], err))) return st;
    if (n->inputs[i]->numel != x->dims[1])
      return pkt_fail(err, PKT_BAD_OPERANDS, "%s has %lld elements, expected %lld channels", names[i],
                      (long long)n->inputs[i]->numel, (long long)x->dims[1]);
  }
  double eps = pkt_param_f(n, PKT_BATCH_NORM_EPS);
  if (!(eps >= 0.0) || isinf(eps)) return pkt_fail(err, PKT_BAD_PARAMS, "eps %g is not a finite value >= 0", eps);
  *scratch = 0;
  return PKT_OK;
}

typedef struct bn_job {
  const float *x, *mean, *var, *w, *b;
  float* y;
  int64_t C, inner;
  double eps;
} bn_job;

static void bn_planes(void* ctx, int64_t begin, int64_t end) {
  const bn_job* j = ctx;
  for (int64_t p = begin; p < end; p++) {
    int64_t c = p % j->C;
    const float scale = (float)(j->w[c] / sqrt((double)j->var[c] + j->eps));
    const float shift = j->b[c] - j->mean[c] * scale;
    const float* x = j->x + p * j->inner;
    float* y = j->y + p * j->inner;
    for (int64_t i = 0; i < j->inner; i++) y[i] = x[i] * scale + shift;
  }
}

pkt_status pkt_kernel_batch_norm_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  bn_job j = {x->data, n->inputs[1]->data, n->inputs[2]->data, n->inputs[3]->data, n->inputs[4]->data, y->data,
              x->dims[1], 1, pkt_param_f(n, PKT_BATCH_NORM_EPS)};
  for (int d = 2; d < x->rank; d++) j.inner *= x->dims[d];
  pkt_parallel_for(n, x->numel / j.inner, bn_planes, &j);
  return PKT_OK;
}
