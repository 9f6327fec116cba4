/* softmax / log_softmax along one axis, numerically stable (max subtracted). The tensor is viewed
 * as [outer, axis, inner]; inner == 1 runs contiguous rows, otherwise columns are processed in
 * strips of up to STRIP inner positions so that every pass reads contiguous memory. Rows use the
 * vectorized max / exp-sum / scale helpers of the session's ISA. */
#include <math.h>

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

#define STRIP 64

pkt_status pkt_kernel_softmax_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_SOFTMAX_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  int64_t axis = pkt_param_i(n, PKT_SOFTMAX_AXIS), lg = pkt_param_i(n, PKT_SOFTMAX_LOG);
  int rank = x->rank < 1 ? 1 : x->rank; /* a scalar is a 1-element axis */
  if (axis < 0 || axis >= rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld out of range for rank %d", (long long)axis, x->rank);
  if (lg != 0 && lg != 1) return pkt_fail(err, PKT_BAD_PARAMS, "log is %lld, expected 0 or 1", (long long)lg);
  *scratch = 0;
  return PKT_OK;
}

typedef struct softmax_job {
  const float* x;
  float* y;
  int64_t axis_len, inner, strips;
  int log;
  const pkt_isa_config* cfg;
} softmax_job;

static void softmax_row(const float* x, float* y, int64_t len, int lg, const pkt_isa_config* cfg) {
  float m = cfg->vec_max(x, len);
  if (m == -INFINITY) m = 0.f; /* all -inf: exp gives 0s, sum 0 -> NaN like torch */
  if (lg) {
    const float off = m + logf(cfg->vec_exp_sum(x, NULL, len, 1.f, m));
    for (int64_t i = 0; i < len; i++) y[i] = x[i] - off;
  } else {
    const float s = cfg->vec_exp_sum(x, y, len, 1.f, m);
    cfg->vec_scale(y, len, 1.f / s);
  }
}

static void softmax_rows(void* ctx, int64_t begin, int64_t end) {
  const softmax_job* j = ctx;
  for (int64_t r = begin; r < end; r++) softmax_row(j->x + r * j->axis_len, j->y + r * j->axis_len, j->axis_len, j->log, j->cfg);
}

/* Work item = (outer index, strip of inner positions). */
static void softmax_strips(void* ctx, int64_t begin, int64_t end) {
  const softmax_job* j = ctx;
  const int64_t L = j->axis_len, inner = j->inner;
  for (int64_t it = begin; it < end; it++) {
    int64_t o = it / j->strips, c0 = (it % j->strips) * STRIP;
    int64_t w = inner - c0 < STRIP ? inner - c0 : STRIP;
    const float* x = j->x + o * L * inner + c0;
    float* y = j->y + o * L * inner + c0;
    float m[STRIP], s[STRIP];
    for (int64_t c = 0; c < w; c++) {
      m[c] = -INFINITY;
      s[c] = 0.f;
    }
    for (int64_t a = 0; a < L; a++)
      for (int64_t c = 0; c < w; c++) m[c] = x[a * inner + c] > m[c] ? x[a * inner + c] : m[c];
    for (int64_t c = 0; c < w; c++) m[c] = m[c] == -INFINITY ? 0.f : m[c];
    if (j->log) {
      for (int64_t a = 0; a < L; a++)
        for (int64_t c = 0; c < w; c++) s[c] += expf(x[a * inner + c] - m[c]);
      for (int64_t c = 0; c < w; c++) m[c] += logf(s[c]);
      for (int64_t a = 0; a < L; a++)
        for (int64_t c = 0; c < w; c++) y[a * inner + c] = x[a * inner + c] - m[c];
    } else {
      for (int64_t a = 0; a < L; a++)
        for (int64_t c = 0; c < w; c++) {
          float e = expf(x[a * inner + c] - m[c]);
          y[a * inner + c] = e;
          s[c] += e;
        }
      for (int64_t c = 0; c < w; c++) s[c] = 1.f / s[c];
      for (int64_t a = 0; a < L; a++)
        for (int64_t c = 0; c < w; c++) y[a * inner + c] *= s[c];
    }
  }
}

pkt_status pkt_kernel_softmax_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  int axis = (int)pkt_param_i(n, PKT_SOFTMAX_AXIS);
  softmax_job j = {x->data, y->data, x->rank ? x->dims[axis] : 1, 1, 1, (int)pkt_param_i(n, PKT_SOFTMAX_LOG), n->cfg};
  for (int d = axis + 1; d < x->rank; d++) j.inner *= x->dims[d];
  int64_t outer = x->numel / (j.axis_len * j.inner);
  if (j.inner == 1) {
    if (x->numel < 16384) /* waking workers costs more than a small softmax */
      softmax_rows(&j, 0, outer);
    else
      pkt_parallel_for(n, outer, softmax_rows, &j);
  } else {
    j.strips = (j.inner + STRIP - 1) / STRIP;
    pkt_parallel_for(n, outer * j.strips, softmax_strips, &j);
  }
  return PKT_OK;
}
