/* group_norm: x [N, C, *] split into `groups` groups of C/groups channels; each (n, group) is
 * normalized over its channels and spatial positions, then scaled/shifted per channel. */
#include <math.h>

#include "core/kernel.h"

pkt_status pkt_kernel_group_norm_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 3, 3, 1, PKT_GROUP_NORM_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *b = n->inputs[2], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(w, PKT_F32, "weight", err)) ||
      (st = pkt_check_dtype(b, PKT_F32, "bias", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  if (x->rank < 2) return pkt_fail(err, PKT_BAD_OPERANDS, "input has rank %d, expected at least 2 ([N, C, ...])", x->rank);
  int64_t C = x->dims[1], G = pkt_param_i(n, PKT_GROUP_NORM_GROUPS);
  if (G < 1 || G > C || C % G)
    return pkt_fail(err, PKT_BAD_PARAMS, "%lld groups do not divide %lld channels", (long long)G, (long long)C);
  if (w->numel != C || b->numel != C)
    return pkt_fail(err, PKT_BAD_OPERANDS, "weight/bias have %lld/%lld elements, expected %lld", (long long)w->numel,
                    (long long)b->numel, (long long)C);
  double eps = pkt_param_f(n, PKT_GROUP_NORM_EPS);
  if (!(eps >= 0.0) || isinf(eps)) return pkt_fail(err, PKT_BAD_PARAMS, "eps %g is not a finite value >= 0", eps);
  *scratch = 0;
  return PKT_OK;
}

typedef struct gn_job {
  const float *x, *w, *b;
  float* y;
  int64_t C, G, inner;
  double eps;
} gn_job;

static void gn_groups(void* ctx, int64_t begin, int64_t end) {
  const gn_job* j = ctx;
  const int64_t cpg = j->C / j->G, len = cpg * j->inner;
  for (int64_t p = begin; p < end; p++) {
    const float* x = j->x + p * len;
    float* y = j->y + p * len;
    double sum = 0.0;
    for (int64_t i = 0; i < len; i++) sum += x[i];
    const double mean = len ? sum / (double)len : 0.0;
    double var = 0.0;
    for (int64_t i = 0; i < len; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    const double rstd = 1.0 / sqrt((len ? var / (double)len : 0.0) + j->eps);
    const int64_t c0 = (p % j->G) * cpg;
    const float meanf = (float)mean;
    for (int64_t c = 0; c < cpg; c++) {
      const float scale = (float)(j->w[c0 + c] * rstd), shift = j->b[c0 + c];
      const float* xc = x + c * j->inner;
      float* yc = y + c * j->inner;
      for (int64_t i = 0; i < j->inner; i++) yc[i] = (xc[i] - meanf) * scale + shift;
    }
  }
}

pkt_status pkt_kernel_group_norm_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  gn_job j = {x->data, n->inputs[1]->data, n->inputs[2]->data, y->data, x->dims[1],
              pkt_param_i(n, PKT_GROUP_NORM_GROUPS), 1, pkt_param_f(n, PKT_GROUP_NORM_EPS)};
  for (int d = 2; d < x->rank; d++) j.inner *= x->dims[d];
  pkt_parallel_for(n, x->numel / (j.C / j.G * j.inner), gn_groups, &j);
  return PKT_OK;
}
