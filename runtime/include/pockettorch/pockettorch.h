/* PocketTorch runtime: load a .ptm program and run it.
 *
 * Usage:
 *   pkt_program* prog; char err[256];
 *   if (pkt_program_load_file("model.ptm", &prog, err, sizeof err) != PKT_OK) { puts(err); ... }
 *   pkt_session* s; pkt_session_options opt = pkt_session_options_default();
 *   pkt_session_create(prog, &opt, &s, err, sizeof err);
 *   memcpy(pkt_session_input_data(s, 0), my_input, bytes);
 *   pkt_session_run(s);
 *   const float* y = pkt_session_output_data(s, 0);
 *   pkt_session_free(s); pkt_program_free(prog);
 *
 * Every fallible call returns a pkt_status and, when given a buffer, a sentence saying what was wrong.
 * The library never aborts or exits.
 *
 * Threads: a program is immutable once loaded and may back any number of sessions, on any threads. A session
 * is not: one session must not be used from two threads at once (inputs, run and outputs share its arena).
 * To call one session from many threads, hold a lock around each whole call (set or bind the inputs, run,
 * read the outputs), e.g. a pkt_mutex below; this is what the Python binding and the generated Android,
 * iOS and C SDKs do, so their model objects are safe to call from many threads (calls run one at a time).
 * To run in parallel, create one session per thread.
 */
#ifndef POCKETTORCH_H
#define POCKETTORCH_H

#include <stddef.h>
#include <stdint.h>

#include "pockettorch/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PKT_FORMAT_MAJOR 1
#define PKT_FORMAT_MINOR 1
#define PKT_MAX_RANK 8
#define PKT_ALIGNMENT 64

/* Tensor dtypes, as stored in the file. */
typedef enum pkt_dtype {
  PKT_F32 = 1, PKT_I64 = 2, PKT_I32 = 3, PKT_BOOL = 4, PKT_U8 = 5, PKT_I8 = 6, PKT_F16 = 7
} pkt_dtype;

/* Byte size of one element, 0 for an unknown dtype. */
size_t pkt_dtype_size(int dtype);
/* "float32", "int64", ... (torch's names); "unknown" for an unknown dtype. */
const char* pkt_dtype_name(int dtype);

/* A validated, immutable program. */
typedef struct pkt_program pkt_program;
/* Execution state for one program: planned arena, threads, bound tensors. */
typedef struct pkt_session pkt_session;

typedef struct pkt_tensor_info {
  const char* name;
  int dtype;
  int rank;
  int64_t dims[PKT_MAX_RANK];
  size_t nbytes;
} pkt_tensor_info;

/* Load from a file. The file is memory-mapped where the platform allows, otherwise read. */
pkt_status pkt_program_load_file(const char* path, pkt_program** out, char* err, size_t err_size);

/* Load from memory. With copy=0 the buffer must be 64-byte aligned and outlive the program;
 * constants are then used in place (e.g. a model embedded in flash). */
pkt_status pkt_program_load_buffer(const void* data, size_t size, int copy, pkt_program** out,
                                   char* err, size_t err_size);

/* Caller memory for the runtime's own tables (program and session descriptors), for builds with no heap
 * such as the embedded platform (platform_embedded.c). Blocks are taken from the front and given back when
 * freed, in any order; the fields are private. Size it with the SDK's *_WORKSPACE_BYTES, or measure with
 * pkt_workspace_peak. */
typedef struct pkt_workspace {
  unsigned char* base;
  size_t size, used, peak;
  void* top;
} pkt_workspace;

/* Use `size` bytes at `memory` (any alignment; it is aligned up to 16 bytes inside). */
void pkt_workspace_init(pkt_workspace* ws, void* memory, size_t size);
/* Most bytes the workspace has held at once. */
size_t pkt_workspace_peak(const pkt_workspace* ws);

/* Load from a 64-byte aligned buffer that outlives the program, used in place, with the program's tables
 * and those of every session created on it taken from `ws` (which must outlive them) instead of the heap.
 * A workspace that runs out gives PKT_OUT_OF_MEMORY. A workspace has no lock: create and free the sessions
 * of such a program from one thread at a time. */
pkt_status pkt_program_load_buffer_in(const void* data, size_t size, pkt_workspace* ws, pkt_program** out,
                                      char* err, size_t err_size);

void pkt_program_free(pkt_program* program);

int pkt_program_num_inputs(const pkt_program* program);
int pkt_program_num_outputs(const pkt_program* program);
pkt_status pkt_program_input_info(const pkt_program* program, int index, pkt_tensor_info* info);
pkt_status pkt_program_output_info(const pkt_program* program, int index, pkt_tensor_info* info);
/* The metadata JSON (not NUL-terminated; use len). */
const char* pkt_program_metadata(const pkt_program* program, size_t* len);
size_t pkt_program_arena_bytes(const pkt_program* program);
int pkt_program_num_instructions(const pkt_program* program);
/* Name of instruction i's operator and where in the user's model it came from. */
const char* pkt_program_instruction_op(const pkt_program* program, int index);
const char* pkt_program_instruction_source(const pkt_program* program, int index);
/* How many tensors instruction i writes (0 for an index out of range). */
int pkt_program_instruction_num_outputs(const pkt_program* program, int index);

/* Dynamic shapes (FORMAT.md, SHAPES): a program may let some input dims take any value in a range, each dim a
 * named symbol that inputs may share (the sequence length of input_ids and attention_mask). The memory plan and
 * the packed weights are made once, for every symbol at its max; input_info gives those bound dims. */
int pkt_program_num_symbols(const pkt_program* program);
pkt_status pkt_program_symbol(const pkt_program* program, int index, const char** name, int64_t* min, int64_t* max);
/* The symbol input `index`'s dim `dim` is, or -1 for a static dim. */
int pkt_program_input_dim_symbol(const pkt_program* program, int index, int dim);

typedef struct pkt_session_options {
  int num_threads;   /* 0: one per big core available; never more than the cores available */
  void* arena;       /* optional caller memory, 64-byte aligned, >= pkt_session_arena_bytes() */
  size_t arena_size;
  /* Delegates (FORMAT.md, DELEGATES): 0 (default) runs a delegate's CPU fallback when its backend is not compiled
   * in, not available on this device or fails to initialize; 1 fails pkt_session_create instead (PKT_NOT_SUPPORTED,
   * or the backend's status), naming the delegate and the reason. */
  int strict_backends;
  /* NULL (default): delegates may use every backend compiled in; else a comma-separated list of the backends they
   * may use ("" = the CPU kernels only): a delegate of another backend runs its fallback (strict or not). */
  const char* backends;
} pkt_session_options;

pkt_session_options pkt_session_options_default(void);

/* Prepare: bind tensors, check every instruction's shapes and parameters, plan scratch, start threads.
 * The session's tables come from the program's workspace when it was loaded with one. */
pkt_status pkt_session_create(const pkt_program* program, const pkt_session_options* options,
                              pkt_session** out, char* err, size_t err_size);
void pkt_session_free(pkt_session* session);

/* Bytes a caller-supplied arena needs (planned activations plus kernel scratch). */
size_t pkt_session_required_arena(const pkt_program* program, int num_threads);
int pkt_session_num_threads(const pkt_session* session);
/* Bytes of weights the kernels repacked for this CPU at session creation (part of the arena). */
size_t pkt_session_packed_bytes(const pkt_session* session);
/* Those repacked weights (written once, at creation; read-only afterwards, whatever shapes the runs take). */
const void* pkt_session_packed_data(const pkt_session* session);
/* The SIMD instruction set the kernels use: "avx512", "avx2", "neon" or "portable". */
const char* pkt_session_isa(const pkt_session* session);

/* Input and output buffers live in the arena; write inputs there, read outputs after a run.
 * The memory plan reuses input bytes once they are last read, so set the inputs before every run. */
void* pkt_session_input_data(pkt_session* session, int index);
const void* pkt_session_output_data(const pkt_session* session, int index);

/* Copy an input in, checking its byte size. */
pkt_status pkt_session_set_input(pkt_session* session, int index, const void* data, size_t nbytes);
/* Read input `index` in place from the caller's buffer (nbytes as the input's, aligned for its dtype) in
 * the runs that follow, instead of from the arena: no copy per run. Kernels never write an input, so the
 * buffer is left as it is; it must stay valid and unchanged while bound. data NULL binds the arena buffer
 * again (then pkt_session_input_data is where the input is read from). */
pkt_status pkt_session_bind_input(pkt_session* session, int index, const void* data, size_t nbytes);

/* Dynamic shapes: give input `index`'s shape for the runs that follow (before setting or binding its data,
 * whose size then follows the shape). A dim outside its symbol's range, or a static dim that differs, is
 * PKT_INPUT_SHAPE with the range in `err`. The next run recomputes every tensor's shape and checks each
 * instruction at it (inputs sharing a symbol must agree); nothing is packed or allocated again. */
pkt_status pkt_session_set_input_shape(pkt_session* session, int index, const int64_t* dims, int rank, char* err,
                                       size_t err_size);
/* Recompute every shape from the inputs' now, without running (pkt_session_run does it when needed), e.g. to
 * size output buffers first; a failure's sentence is in pkt_session_error. */
pkt_status pkt_session_update_shapes(pkt_session* session);
/* Current shapes (after set_input_shape, and for outputs after a run or update_shapes; the bound dims before). */
pkt_status pkt_session_input_info(const pkt_session* session, int index, pkt_tensor_info* info);
pkt_status pkt_session_output_info(const pkt_session* session, int index, pkt_tensor_info* info);
/* Arena bytes the current shapes use (the planned arena is for the bounds: pkt_program_arena_bytes). */
size_t pkt_session_used_arena_bytes(const pkt_session* session);
/* What the last failed pkt_session_run found, as a sentence ("" when it gave none). */
const char* pkt_session_error(const pkt_session* session);

/* Execute all instructions. Allocates nothing. */
pkt_status pkt_session_run(pkt_session* session);

/* Delegates: where each of the program's delegated subgraphs runs in this session. `active` 0 means its CPU
 * fallback runs, and `reason` says why (not compiled in, not available, init failed). device and driver name what
 * the backend runs on ("" when inactive). last_device_ns: the device time of the last run's execute when the
 * backend measures it (timestamp queries), else 0. The strings live as long as the session. */
typedef struct pkt_delegate_info {
  const char* backend;
  const char* device;
  const char* driver;
  const char* reason;
  int active;
  int instruction; /* the delegate instruction; the `fallback` instructions after it are skipped when active */
  int fallback;
  uint64_t last_device_ns;
} pkt_delegate_info;
int pkt_session_num_delegates(const pkt_session* session);
pkt_status pkt_session_delegate_info(const pkt_session* session, int index, pkt_delegate_info* info);

/* Per-instruction profiling: when enabled, run() records each instruction's time in nanoseconds. */
void pkt_session_enable_profiling(pkt_session* session, int enabled);
const uint64_t* pkt_session_profile_ns(const pkt_session* session);

/* Per-instruction hook, for debuggers: when set, run() calls hook(user, session, i) right after instruction i,
 * on the calling thread, while what it wrote is still in the arena (the memory plan reuses those bytes later).
 * Read the outputs with pkt_session_instruction_output. NULL turns it off; a run without a hook pays nothing. */
typedef void (*pkt_instruction_hook)(void* user, const pkt_session* session, int index);
void pkt_session_set_instruction_hook(pkt_session* session, pkt_instruction_hook hook, void* user);
/* Output k of instruction `index` where the session keeps it; fills info when given (name, dtype, shape,
 * bytes). Inside a hook for that instruction it holds what the instruction just wrote. NULL when out of range. */
const void* pkt_session_instruction_output(const pkt_session* session, int index, int k, pkt_tensor_info* info);

/* A lock from the platform layer, for callers that share a session between threads. pkt_mutex_create
 * returns NULL when out of memory or on a platform without threads (the embedded one); lock, unlock and
 * free accept NULL and then do nothing. */
typedef struct pkt_mutex pkt_mutex;
pkt_mutex* pkt_mutex_create(void);
void pkt_mutex_lock(pkt_mutex* mutex);
void pkt_mutex_unlock(pkt_mutex* mutex);
void pkt_mutex_free(pkt_mutex* mutex);

const char* pkt_runtime_version(void);

#ifdef __cplusplus
}
#endif
#endif
