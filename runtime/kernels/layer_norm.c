/* layer_norm: normalize x over its last `axes` dims (D elements per row), then scale by weight and
 * shift by bias (each optional, D elements). Inputs: x, then weight if has_weight, then bias if
 * has_bias. Two-pass mean/variance (float lanes, summed in double); the row function comes from the
 * session's ISA config (compute/vmath). */
#include <math.h>

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

pkt_status pkt_kernel_layer_norm_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 3, 1, PKT_LAYER_NORM_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  int64_t axes = pkt_param_i(n, PKT_LAYER_NORM_AXES);
  int64_t hw = pkt_param_i(n, PKT_LAYER_NORM_HAS_WEIGHT), hb = pkt_param_i(n, PKT_LAYER_NORM_HAS_BIAS);
  double eps = pkt_param_f(n, PKT_LAYER_NORM_EPS);
  if (axes < 1 || axes > x->rank)
    return pkt_fail(err, PKT_BAD_PARAMS, "normalizes %lld trailing dims of a rank-%d input", (long long)axes, x->rank);
  if ((hw != 0 && hw != 1) || (hb != 0 && hb != 1))
    return pkt_fail(err, PKT_BAD_PARAMS, "has_weight %lld / has_bias %lld must be 0 or 1", (long long)hw, (long long)hb);
  if (!(eps >= 0.0) || isinf(eps)) return pkt_fail(err, PKT_BAD_PARAMS, "eps %g is not a finite value >= 0", eps);
  if (n->n_inputs != 1 + hw + hb)
    return pkt_fail(err, PKT_BAD_OPERANDS, "has %d inputs, expected %lld for has_weight %lld, has_bias %lld",
                    n->n_inputs, (long long)(1 + hw + hb), (long long)hw, (long long)hb);
  int64_t D = 1;
  for (int d = x->rank - (int)axes; d < x->rank; d++) D *= x->dims[d];
  for (int i = 1; i < n->n_inputs; i++) {
    const pkt_tensor* p = n->inputs[i];
    const char* what = (i == 1 && hw) ? "weight" : "bias";
    if ((st = pkt_check_dtype(p, PKT_F32, what, err))) return st;
    if (p->numel != D)
      return pkt_fail(err, PKT_BAD_OPERANDS, "%s has %lld elements, expected %lld", what, (long long)p->numel, (long long)D);
  }
  *scratch = 0;
  return PKT_OK;
}

typedef struct ln_job {
  const float *x, *w, *b;
  float* y;
  int64_t D;
  float eps;
  pkt_layer_norm_row_fn row;
} ln_job;

static void ln_rows(void* ctx, int64_t begin, int64_t end) {
  const ln_job* j = ctx;
  for (int64_t r = begin; r < end; r++) j->row(j->x + r * j->D, j->y + r * j->D, j->D, j->w, j->b, j->eps);
}

pkt_status pkt_kernel_layer_norm_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  int axes = (int)pkt_param_i(n, PKT_LAYER_NORM_AXES);
  int hw = (int)pkt_param_i(n, PKT_LAYER_NORM_HAS_WEIGHT), hb = (int)pkt_param_i(n, PKT_LAYER_NORM_HAS_BIAS);
  ln_job j = {x->data, hw ? n->inputs[1]->data : NULL, hb ? n->inputs[1 + hw]->data : NULL, y->data, 1,
              (float)pkt_param_f(n, PKT_LAYER_NORM_EPS), n->cfg->layer_norm_row};
  for (int d = x->rank - axes; d < x->rank; d++) j.D *= x->dims[d];
  if (x->numel < 16384) /* waking workers costs more than a small normalization */
    ln_rows(&j, 0, x->numel / j.D);
  else
    pkt_parallel_for(n, x->numel / j.D, ln_rows, &j);
  return PKT_OK;
}
