/* pad: constant / reflect / replicate / circular padding of any rank and dtype.
 * pads are (before, after) pairs starting from the last dim and going backwards; negative values crop.
 * Output coordinate o along a padded dim of input size n reads input i = o - before, mapped by mode:
 * constant: outside [0, n) -> value; reflect: mirrored without repeating the edge (period 2(n-1));
 * replicate: clamped; circular: i mod n. The mapping always lands in [0, n), so hostile pads cannot
 * make the kernel read outside the input. Parallel over output rows (all dims but the last). */
#include <math.h>

#include "core/kernel.h"

#define PAD_LIMIT ((int64_t)1 << 32)

pkt_status pkt_kernel_pad_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_PAD_PADS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != y->dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input is %s but output is %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (x->dtype != PKT_F32 && x->dtype != PKT_I64 && x->dtype != PKT_I32 && x->dtype != PKT_BOOL && x->dtype != PKT_U8 &&
      x->dtype != PKT_I8)
    return pkt_fail(err, PKT_BAD_OPERANDS, "pad does not support %s tensors", pkt_dtype_name(x->dtype));
  if (x->rank != y->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "input rank %d != output rank %d", x->rank, y->rank);
  int64_t mode = pkt_param_i(n, PKT_PAD_MODE);
  if (mode < 0 || mode >= PKT_PAD_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown pad mode %lld", (long long)mode);
  double value = pkt_param_f(n, PKT_PAD_VALUE);
  if (mode == PKT_PAD_CONSTANT && x->dtype != PKT_F32 && !isfinite(value))
    return pkt_fail(err, PKT_BAD_PARAMS, "pad value %g does not fit %s", value, pkt_dtype_name(x->dtype));
  int npads = n->n_params - PKT_PAD_PADS;
  if (npads % 2 || npads / 2 > x->rank)
    return pkt_fail(err, PKT_BAD_PARAMS, "%d pad values for a rank-%d tensor; expected pairs, at most one per dim", npads,
                    x->rank);
  for (int d = 0; d < x->rank; d++) {
    int p = x->rank - 1 - d; /* pair index */
    int64_t before = 0, after = 0;
    if (p < npads / 2) {
      before = pkt_param_i(n, PKT_PAD_PADS + 2 * p);
      after = pkt_param_i(n, PKT_PAD_PADS + 2 * p + 1);
    }
    if (before < -PAD_LIMIT || before > PAD_LIMIT || after < -PAD_LIMIT || after > PAD_LIMIT)
      return pkt_fail(err, PKT_BAD_PARAMS, "pad (%lld, %lld) of dim %d is out of range", (long long)before,
                      (long long)after, d);
    if (x->dims[d] + before + after != y->dims[d])
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is %lld, expected %lld + %lld + %lld", d,
                      (long long)y->dims[d], (long long)x->dims[d], (long long)before, (long long)after);
    if (mode != PKT_PAD_CONSTANT && x->dims[d] == 0 && y->dims[d] > 0)
      return pkt_fail(err, PKT_BAD_OPERANDS, "cannot %s-pad the empty dim %d",
                      mode == PKT_PAD_REFLECT ? "reflect" : mode == PKT_PAD_REPLICATE ? "replicate" : "circular", d);
  }
  *scratch = 0;
  return PKT_OK;
}

typedef struct pad_job {
  int rank, mode;
  int64_t in_dims[PKT_MAX_RANK], out_dims[PKT_MAX_RANK], before[PKT_MAX_RANK], in_strides[PKT_MAX_RANK];
  size_t es;
  unsigned char fill[8];
  const unsigned char* x;
  unsigned char* y;
} pad_job;

/* Input index for output coordinate o along a dim, or -1 for the constant fill. */
static inline int64_t pad_map(int mode, int64_t o, int64_t before, int64_t n) {
  int64_t i = o - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PKT_PAD_REFLECT: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      int64_t m = i % period;
      if (m < 0) m += period;
      return m < n ? m : period - m;
    }
    case PKT_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case PKT_PAD_CIRCULAR: {
      int64_t m = i % n;
      return m < 0 ? m + n : m;
    }
    default: return -1;
  }
}

static void pad_rows(void* ctx, int64_t begin, int64_t end) {
  const pad_job* j = ctx;
  const int last = j->rank - 1;
  const int64_t row_len = j->out_dims[last], n_in = j->in_dims[last], bl = j->before[last];
  const size_t es = j->es;
  for (int64_t row = begin; row < end; row++) {
    unsigned char* dst = j->y + (size_t)row * (size_t)row_len * es;
    /* source row offset from the outer coordinates */
    int64_t rem = row, src = 0;
    int outside = 0;
    for (int d = last - 1; d >= 0; d--) {
      int64_t o = rem % j->out_dims[d];
      rem /= j->out_dims[d];
      int64_t i = pad_map(j->mode, o, j->before[d], j->in_dims[d]);
      if (i < 0) outside = 1;
      else src += i * j->in_strides[d];
    }
    if (outside) {
      for (int64_t o = 0; o < row_len; o++) memcpy(dst + o * es, j->fill, es);
      continue;
    }
    const unsigned char* sr = j->x + (size_t)src * es;
    /* interior: one contiguous copy */
    int64_t lo = bl > 0 ? bl : 0, hi = bl + n_in < row_len ? bl + n_in : row_len;
    for (int64_t o = 0; o < lo && o < row_len; o++) {
      int64_t i = pad_map(j->mode, o, bl, n_in);
      if (i < 0) memcpy(dst + o * es, j->fill, es);
      else memcpy(dst + o * es, sr + i * es, es);
    }
    if (hi > lo) memcpy(dst + lo * es, sr + (lo - bl) * es, (size_t)(hi - lo) * es);
    for (int64_t o = hi > lo ? hi : lo; o < row_len; o++) {
      int64_t i = pad_map(j->mode, o, bl, n_in);
      if (i < 0) memcpy(dst + o * es, j->fill, es);
      else memcpy(dst + o * es, sr + i * es, es);
    }
  }
}

pkt_status pkt_kernel_pad_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  pad_job j;
  memset(&j, 0, sizeof j);
  j.mode = (int)pkt_param_i(n, PKT_PAD_MODE);
  j.x = x->data;
  j.y = y->data;
  if (y->numel == 0) return PKT_OK;
  /* Rank 0 has nothing to pad: view it as one row of one element. */
  j.rank = x->rank > 0 ? x->rank : 1;
  int npairs = (n->n_params - PKT_PAD_PADS) / 2;
  for (int d = 0; d < j.rank; d++) {
    j.in_dims[d] = x->rank ? x->dims[d] : 1;
    j.out_dims[d] = y->rank ? y->dims[d] : 1;
    int p = x->rank - 1 - d;
    j.before[d] = (x->rank && p < npairs) ? pkt_param_i(n, PKT_PAD_PADS + 2 * p) : 0;
  }
  int64_t stride = 1;
  for (int d = j.rank - 1; d >= 0; d--) {
    j.in_strides[d] = stride;
    stride *= j.in_dims[d];
  }
  double v = pkt_param_f(n, PKT_PAD_VALUE);
  switch (x->dtype) {
    case PKT_F32: { float f = (float)v; j.es = 4; memcpy(j.fill, &f, 4); break; }
    case PKT_I64: { int64_t t = v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v; j.es = 8; memcpy(j.fill, &t, 8); break; }
    case PKT_I32: { int32_t t = v >= 2147483647.0 ? INT32_MAX : v <= -2147483648.0 ? INT32_MIN : (int32_t)v; j.es = 4; memcpy(j.fill, &t, 4); break; }
    case PKT_BOOL: { j.es = 1; j.fill[0] = v != 0.0; break; }
    case PKT_U8: { j.es = 1; j.fill[0] = (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : (int)v); break; }
    case PKT_I8: { int8_t t = (int8_t)(v <= -128 ? -128 : v >= 127 ? 127 : (int)v); j.es = 1; memcpy(j.fill, &t, 1); break; }
    default: return PKT_INTERNAL;
  }
  pkt_parallel_for(n, y->numel / j.out_dims[j.rank - 1], pad_rows, &j);
  return PKT_OK;
}
