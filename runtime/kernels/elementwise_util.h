/* The broadcasting walk shared by the elementwise kernels (binary, compare, logical, where, unary, cast).
 *
 * pkt_ew_init lays out up to PKT_EW_MAX_IN inputs against the output with NumPy broadcasting
 * (right-aligned; pkt_broadcast_strides), drops size-1 dims and merges dims that are contiguous for
 * every operand. Equal shapes therefore collapse to one row of numel elements and a scalar operand to
 * stride 0, so the fast paths fall out of the layout. The walk then calls the kernel's row function on
 * runs of the innermost dim, where every input's stride is 0 (broadcast) or 1 (contiguous).
 *
 * Large outputs are split over the node's threads by element range; small ones run on the caller.
 * Nothing here allocates, and the output may alias input 0 (the planner's in-place reuse): the walk
 * reads each input element before writing the output element at the same position.
 */
#ifndef PKT_ELEMENTWISE_UTIL_H
#define PKT_ELEMENTWISE_UTIL_H

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

#define PKT_EW_MAX_IN 3
/* Below this many output elements a node runs on one thread: waking workers costs more. */
#define PKT_EW_PARALLEL_MIN 32768

struct pkt_ew;
/* Compute n output elements from inputs in[k] advancing by s[k] elements (0 or 1) per element. */
typedef void (*pkt_ew_row_fn)(const struct pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n);

typedef struct pkt_ew {
  int n_in;
  int rank; /* >= 1 after init */
  int64_t dims[PKT_MAX_RANK];
  int64_t strides[PKT_EW_MAX_IN][PKT_MAX_RANK]; /* in elements */
  size_t in_size[PKT_EW_MAX_IN];
  size_t out_size;
  const char* in[PKT_EW_MAX_IN];
  char* out;
  int64_t numel;
  pkt_ew_row_fn row;
  /* Kernel state the row function reads. */
  int kind;
  int dtype;
  const pkt_isa_config* cfg; /* the session's, for the row functions' SIMD paths */
  int act;
  float act_lo, act_hi;
  double alpha, beta;
} pkt_ew;

/* The dtypes compare, where, cast and fill handle: every dtype but float16. */
static inline int pkt_ew_plain_dtype(int dtype) {
  switch (dtype) {
    case PKT_F32: case PKT_I64: case PKT_I32: case PKT_BOOL: case PKT_U8: case PKT_I8: return 1;
    default: return 0;
  }
}

/* Float to integer as torch converts on x86: truncate toward zero; NaN and out-of-range values give
 * the type's minimum. (Exact for float32 inputs too, which convert to double exactly.) */
static inline int64_t pkt_ew_to_i64(double v) {
  return (v >= -9223372036854775808.0 && v < 9223372036854775808.0) ? (int64_t)v : INT64_MIN;
}
static inline int32_t pkt_ew_to_i32(double v) {
  return (v >= -2147483648.0 && v < 2147483648.0) ? (int32_t)v : INT32_MIN;
}

/* The broadcast of the inputs' shapes, right-aligned; 0 when they do not broadcast. */
static inline int pkt_ew_broadcast_shape(const pkt_tensor* const* ins, int n_in, int* rank, int64_t dims[PKT_MAX_RANK]) {
  int r = 0;
  for (int k = 0; k < n_in; k++)
    if (ins[k]->rank > r) r = ins[k]->rank;
  for (int d = 0; d < r; d++) {
    int64_t dim = 1;
    for (int k = 0; k < n_in; k++) {
      int id = d - (r - ins[k]->rank);
      if (id < 0) continue;
      int64_t v = ins[k]->dims[id];
      if (v == dim || v == 1) continue;
      if (dim != 1) return 0;
      dim = v;
    }
    dims[d] = dim;
  }
  *rank = r;
  return 1;
}

/* prepare(): the output's shape must be exactly the broadcast of the inputs' shapes. */
static inline pkt_status pkt_ew_check_shapes(const pkt_node* n, pkt_err* err) {
  int rank;
  int64_t dims[PKT_MAX_RANK];
  const pkt_tensor* y = n->outputs[0];
  if (!pkt_ew_broadcast_shape((const pkt_tensor* const*)n->inputs, n->n_inputs, &rank, dims))
    return pkt_fail(err, PKT_BAD_OPERANDS, "input shapes do not broadcast");
  int same = rank == y->rank;
  for (int d = 0; same && d < rank; d++) same = dims[d] == y->dims[d];
  if (!same) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape is not the broadcast of the input shapes");
  return PKT_OK;
}

/* Lay out the walk for node n's inputs and output 0 (shapes already checked in prepare). */
static inline void pkt_ew_init(pkt_ew* ew, const pkt_node* n, pkt_ew_row_fn row) {
  const pkt_tensor* y = n->outputs[0];
  int64_t st[PKT_EW_MAX_IN][PKT_MAX_RANK];
  memset(ew, 0, sizeof *ew);
  ew->n_in = n->n_inputs;
  ew->row = row;
  ew->out = y->data;
  ew->out_size = pkt_dtype_size(y->dtype);
  ew->numel = y->numel;
  ew->cfg = n->cfg;
  for (int k = 0; k < ew->n_in; k++) {
    ew->in[k] = n->inputs[k]->data;
    ew->in_size[k] = pkt_dtype_size(n->inputs[k]->dtype);
    pkt_broadcast_strides(n->inputs[k], y, st[k]);
  }
  /* Keep dims > 1, merging a dim into the previous kept one when every operand is contiguous across both. */
  int r = 0;
  for (int d = 0; d < y->rank; d++) {
    int64_t dim = y->dims[d];
    if (dim == 1) continue;
    int merge = r > 0;
    for (int k = 0; merge && k < ew->n_in; k++) merge = ew->strides[k][r - 1] == st[k][d] * dim;
    if (merge) {
      ew->dims[r - 1] *= dim;
      for (int k = 0; k < ew->n_in; k++) ew->strides[k][r - 1] = st[k][d];
    } else {
      ew->dims[r] = dim;
      for (int k = 0; k < ew->n_in; k++) ew->strides[k][r] = st[k][d];
      r++;
    }
  }
  if (r == 0) { /* a single element */
    ew->dims[0] = 1;
    r = 1;
  }
  ew->rank = r;
}

/* Run the walk over output elements [begin, end). */
static inline void pkt_ew_range(void* ctx, int64_t begin, int64_t end) {
  const pkt_ew* ew = ctx;
  const int r = ew->rank, nk = ew->n_in;
  const int64_t inner = ew->dims[r - 1];
  int64_t idx[PKT_MAX_RANK], off[PKT_EW_MAX_IN] = {0}, s[PKT_EW_MAX_IN] = {0};
  int64_t rest = begin;
  for (int d = r - 1; d >= 0; d--) {
    idx[d] = rest % ew->dims[d];
    rest /= ew->dims[d];
    for (int k = 0; k < nk; k++) off[k] += idx[d] * ew->strides[k][d];
  }
  for (int k = 0; k < nk; k++) s[k] = ew->strides[k][r - 1];
  int64_t pos = begin;
  while (pos < end) {
    int64_t len = inner - idx[r - 1];
    if (len > end - pos) len = end - pos;
    const void* in[PKT_EW_MAX_IN] = {0};
    for (int k = 0; k < nk; k++) in[k] = ew->in[k] + (size_t)off[k] * ew->in_size[k];
    ew->row(ew, ew->out + (size_t)pos * ew->out_size, in, s, len);
    pos += len;
    if (pos >= end) break;
    /* Advance the index by len along the inner dim, carrying into the outer dims. */
    for (int k = 0; k < nk; k++) off[k] += len * s[k];
    idx[r - 1] += len;
    if (idx[r - 1] < inner) continue;
    for (int k = 0; k < nk; k++) off[k] -= inner * s[k];
    idx[r - 1] = 0;
    for (int d = r - 2; d >= 0; d--) {
      idx[d]++;
      for (int k = 0; k < nk; k++) off[k] += ew->strides[k][d];
      if (idx[d] < ew->dims[d]) break;
      for (int k = 0; k < nk; k++) off[k] -= ew->dims[d] * ew->strides[k][d];
      idx[d] = 0;
    }
  }
}

/* Run the whole walk, on the node's threads when the output is large. */
static inline void pkt_ew_run(const pkt_node* n, pkt_ew* ew) {
  if (ew->numel <= 0) return;
  if (ew->numel < PKT_EW_PARALLEL_MIN || !n->pool || n->num_threads <= 1)
    pkt_ew_range(ew, 0, ew->numel);
  else
    pkt_parallel_for(n, ew->numel, pkt_ew_range, ew);
}

/* Inner loops over one row, specialised on which operands are broadcast scalars so the common
 * cases vectorize. Elements are read into locals before the output is written (in-place safe). */
#define PKT_EW_LOOP1(TI, TO, OUT, IN0, S0, N, EXPR) \
  do {                                              \
    TO* o_ = (TO*)(OUT);                            \
    const TI* a_ = (const TI*)(IN0);                \
    if ((S0) == 1) {                                \
      for (int64_t i_ = 0; i_ < (N); i_++) {        \
        TI x = a_[i_];                              \
        o_[i_] = (EXPR);                            \
      }                                             \
    } else {                                        \
      TI x = a_[0];                                 \
      TO v_ = (EXPR);                               \
      for (int64_t i_ = 0; i_ < (N); i_++) o_[i_] = v_; \
    }                                               \
  } while (0)

#define PKT_EW_LOOP2(TI, TO, OUT, IN, S, N, EXPR)                 \
  do {                                                            \
    TO* o_ = (TO*)(OUT);                                          \
    const TI* a_ = (const TI*)(IN)[0];                            \
    const TI* b_ = (const TI*)(IN)[1];                            \
    if ((S)[0] == 1 && (S)[1] == 1) {                             \
      for (int64_t i_ = 0; i_ < (N); i_++) {                      \
        TI x = a_[i_], y = b_[i_];                                \
        o_[i_] = (EXPR);                                          \
      }                                                           \
    } else if ((S)[0] == 1) {                                     \
      const TI y = b_[0];                                         \
      for (int64_t i_ = 0; i_ < (N); i_++) {                      \
        TI x = a_[i_];                                            \
        o_[i_] = (EXPR);                                          \
      }                                                           \
    } else if ((S)[1] == 1) {                                     \
      const TI x = a_[0];                                         \
      for (int64_t i_ = 0; i_ < (N); i_++) {                      \
        TI y = b_[i_];                                            \
        o_[i_] = (EXPR);                                          \
      }                                                           \
    } else {                                                      \
      const TI x = a_[0], y = b_[0];                              \
      const TO v_ = (EXPR);                                       \
      for (int64_t i_ = 0; i_ < (N); i_++) o_[i_] = v_;           \
    }                                                             \
  } while (0)

#endif
