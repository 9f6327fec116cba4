/* The kernel interface. One kernel per file under runtime/kernels/, registered in the generated
 * kernel_table.c. prepare() runs once per session (it checks operand counts, dtypes, shapes and
 * parameters, and asks for scratch); run() runs every inference, allocates nothing and is only
 * called on nodes whose prepare() succeeded. */
#ifndef PKT_KERNEL_H
#define PKT_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pockettorch/pockettorch.h"
#include "core/ops_generated.h"

typedef struct pkt_tensor {
  void* data;
  int dtype;
  int rank;
  int64_t dims[PKT_MAX_RANK];
  int64_t numel;
  size_t nbytes;
  /* The dims the memory plan and packed weights were made for (the upper bound of a dynamic dim); `dims` are the
   * current ones. A kernel that chooses a packed-weight layout by shape chooses it from these, so a run at
   * another shape reads the layout pack() wrote. Equal to `dims` in a static program. */
  const int64_t* bound_dims;
} pkt_tensor;

typedef struct pkt_threadpool pkt_threadpool;
typedef struct pkt_isa_config pkt_isa_config; /* backends/cpu/isa_config.h */

typedef struct pkt_node {
  uint32_t op;
  int n_inputs, n_outputs, n_params;
  pkt_tensor* const* inputs;
  pkt_tensor* const* outputs;
  const int64_t* params; /* may be unaligned in a file: read through pkt_param_i/f */
  void* scratch;         /* scratch_bytes asked for in prepare, 64-byte aligned, shared between nodes */
  pkt_threadpool* pool;  /* NULL when single-threaded */
  int num_threads;
  const pkt_isa_config* cfg; /* the session's ISA config: every SIMD path comes from here */
  const void* packed;    /* this node's repacked weights (pack_size/pack), 64-byte aligned, or NULL */
  /* The program has dynamic dims: a later call may give the operands any dims up to their bound_dims (the session
   * refuses a dim past its bound). prepare() runs first at the bounds, and the scratch it asks for then is all
   * the session ever plans, so it must cover every such shape: a kernel whose need is not non-decreasing in
   * every dim (a loop order or band chosen by size) asks, when this is set, for a bound that is. */
  int dynamic;
} pkt_node;

/* Error detail sink for prepare(). */
typedef struct pkt_err {
  char* buf;
  size_t size;
} pkt_err;

typedef pkt_status (*pkt_prepare_fn)(const pkt_node* node, size_t* scratch_bytes, pkt_err* err);
typedef pkt_status (*pkt_run_fn)(const pkt_node* node);

/* Optional, for kernels that repack constant weights once per session (op table `packs`):
 * pack_size() runs after prepare() and returns the bytes needed (0 for none); pack() writes every one of
 * them (padding included: the session does not zero them first), on the node's pool when it has one.
 * During prepare() and pack_size() only constant tensors have `data` set (arena tensors are NULL until
 * the arena exists), which is how a kernel tells a constant weight from one the graph computes. */
typedef size_t (*pkt_pack_size_fn)(const pkt_node* node);
typedef void (*pkt_pack_fn)(const pkt_node* node, void* packed);

typedef struct pkt_kernel {
  pkt_prepare_fn prepare;
  pkt_run_fn run;
  pkt_pack_size_fn pack_size; /* NULL when the kernel does not repack */
  pkt_pack_fn pack;
} pkt_kernel;

/* The generated table: index by op code; entries with prepare == NULL were not built. */
extern const pkt_kernel pkt_kernel_table[PKT_OP_COUNT_];

/* Format a detail message into err (if any) and return status. */
pkt_status pkt_fail(pkt_err* err, pkt_status status, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static inline int64_t pkt_param_i(const pkt_node* n, int i) {
  int64_t v;
  memcpy(&v, n->params + i, sizeof v);
  return v;
}
static inline double pkt_param_f(const pkt_node* n, int i) {
  double v;
  memcpy(&v, n->params + i, sizeof v);
  return v;
}

/* Parallel loop over [0, n): fn(ctx, begin, end) is called on contiguous, disjoint ranges that cover
 * [0, n), on up to num_threads threads (the caller's included). Ranges are claimed dynamically, a few per
 * thread: which thread runs which range is not fixed, so index per-thread scratch by the range (or use
 * pkt_parallel_for_threads). Serial when the node has no pool, and when called from inside a parallel loop. */
typedef void (*pkt_range_fn)(void* ctx, int64_t begin, int64_t end);
void pkt_parallel_for(const pkt_node* node, int64_t n, pkt_range_fn fn, void* ctx);

/* Per-thread work: fn(ctx, index, count) runs exactly once for every index in [0, count), count being
 * the node's num_threads (1 without a pool), in parallel where threads are free -- e.g. for per-thread
 * scratch slices (scratch + index * slice, sized num_threads * slice in prepare()). An index is not an OS
 * thread: one thread may run several indices one after another, so fn must never wait for another index. */
typedef void (*pkt_thread_fn)(void* ctx, int index, int count);
void pkt_parallel_for_threads(const pkt_node* node, pkt_thread_fn fn, void* ctx);

/* Shared checks for prepare(). */
pkt_status pkt_check_operands(const pkt_node* n, int min_in, int max_in, int n_out, int n_params_min,
                              pkt_err* err);
pkt_status pkt_check_dtype(const pkt_tensor* t, int dtype, const char* what, pkt_err* err);
int pkt_same_shape(const pkt_tensor* a, const pkt_tensor* b);

pkt_status pkt_check_act(const pkt_node* n, int act_index, pkt_err* err);
/* 1 when none of x[0..n) is NaN or +-inf. */
int pkt_all_finite(const float* x, int64_t n);

/* Element j of an int64 or int32 index tensor (take, gather). */
static inline int64_t pkt_index_at(const pkt_tensor* idx, int64_t j) {
  return idx->dtype == PKT_I64 ? ((const int64_t*)idx->data)[j] : (int64_t)((const int32_t*)idx->data)[j];
}

/* Element strides of t's batch dims (all but the last two) against y's, 0 where t broadcasts
 * (matmul, sdpa). */
void pkt_batch_strides(const pkt_tensor* t, const pkt_tensor* y, int64_t* str);

/* Broadcasting: an output index walk over up to PKT_MAX_RANK dims with per-input strides (0 on
 * broadcast dims). pkt_broadcast_strides fills strides for `in` against `out`, right-aligned;
 * returns 0 if the shapes do not broadcast. */
int pkt_broadcast_strides(const pkt_tensor* in, const pkt_tensor* out, int64_t strides[PKT_MAX_RANK]);

#define PKT_DECLARE_KERNEL(name)                                                             \
  pkt_status pkt_kernel_##name##_prepare(const pkt_node* node, size_t* scratch, pkt_err* err); \
  pkt_status pkt_kernel_##name##_run(const pkt_node* node);
#define PKT_DECLARE_PACKING(name)                                  \
  size_t pkt_kernel_##name##_pack_size(const pkt_node* node); \
  void pkt_kernel_##name##_pack(const pkt_node* node, void* packed);

#endif
