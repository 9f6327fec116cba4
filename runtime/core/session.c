/* Sessions: bind tensors into the arena and constants, prepare every node once, then run.
 * All memory is taken in pkt_session_create; pkt_session_run allocates nothing. */
#include <string.h>

#include "backends/cpu/isa_config.h"
#include "core/backend.h"
#include "core/fault_inject.h"
#include "core/program.h"

#ifdef PKT_FAULT_INJECTION
#define FAULT_ARMED(s) fault_armed(&(s)->fault)
#else
#define FAULT_ARMED(s) 0
#endif

/* A delegate in this session: its backend's handle when the backend runs it, or NULL and why its fallback runs. */
typedef struct session_delegate {
  const pkt_backend* backend; /* NULL: not compiled into this build */
  void* handle;               /* NULL: the CPU fallback runs */
  pkt_backend_io io;          /* the delegate instruction's operands in the session's tensors */
  char reason[200];
} session_delegate;

struct pkt_session {
  const pkt_program* program;
  uint8_t* arena;
  int owns_arena;
  size_t scratch_offset;
  pkt_tensor* tensors;
  pkt_tensor** operand_ptrs; /* per-node operand pointer lists, back to back */
  pkt_node* nodes;
  const pkt_kernel** kernels;
  pkt_threadpool* pool;
  int num_threads;
  const pkt_isa_config* cfg; /* every node's kernels run with it */
  int profiling;
  uint64_t* profile_ns;
  size_t* packed_offset; /* per node, into the packed-weights region; SIZE_MAX for none */
  size_t packed_bytes;
  pkt_instruction_hook hook; /* called after each instruction when set (debuggers) */
  void* hook_user;
#ifdef PKT_FAULT_INJECTION
  pkt_fault fault;
#endif
  const uint8_t* packed_base; /* where the packed weights start in the arena */
  /* dynamic shapes (n_symbols > 0) */
  size_t scratch_capacity; /* the most scratch a node may ask for at any shape in range: planned at creation */
  void** saved_data;       /* tensors' data while prepare() sees only constants' (pkt_session_run's re-check) */
  int shapes_dirty;        /* an input's shape changed since the last propagation */
  int64_t symbols[PKT_MAX_SYMBOLS];
  session_delegate* delegates; /* one per program delegate */
  char error[256];         /* what the last failed call found (pkt_session_error) */
};

pkt_session_options pkt_session_options_default(void) {
  pkt_session_options o = {1, NULL, 0, 0, NULL};
  return o;
}

static int resolve_threads(int requested) {
  int cores = pkt_cpu_count();
  if (requested <= 0) return pkt_cpu_default_threads();
  if (requested > cores) return cores;
  return requested;
}

static size_t align_up(size_t v) { return (v + PKT_ALIGNMENT - 1) & ~(size_t)(PKT_ALIGNMENT - 1); }

/* a + b, or SIZE_MAX on overflow (then no allocation can succeed and the caller reports it). */
static size_t add_sizes(size_t a, size_t b) { return a > SIZE_MAX - b - PKT_ALIGNMENT ? SIZE_MAX : a + b; }

/* Bind descriptors to tensors and nodes with a NULL arena, prepare all nodes, and return the
 * largest scratch any node needs; s->packed_offset / packed_bytes place the repacked weights. */
static pkt_status build_nodes(pkt_session* s, size_t* max_scratch, pkt_err* err) {
  const pkt_program* p = s->program;
  size_t n_operands = 0;
  for (int i = 0; i < p->n_instructions; i++)
    n_operands += (size_t)p->instructions[i].n_inputs + (size_t)p->instructions[i].n_outputs;
  s->tensors = pkt_ws_calloc(p->ws, (size_t)p->n_tensors + 1, sizeof(pkt_tensor));
  s->operand_ptrs = pkt_ws_calloc(p->ws, n_operands + 1, sizeof(pkt_tensor*));
  s->nodes = pkt_ws_calloc(p->ws, (size_t)p->n_instructions + 1, sizeof(pkt_node));
  s->kernels = pkt_ws_calloc(p->ws, (size_t)p->n_instructions + 1, sizeof(pkt_kernel*));
  s->profile_ns = pkt_ws_calloc(p->ws, (size_t)p->n_instructions + 1, sizeof(uint64_t));
  s->packed_offset = pkt_ws_calloc(p->ws, (size_t)p->n_instructions + 1, sizeof(size_t));
  s->saved_data = p->n_symbols ? pkt_ws_calloc(p->ws, (size_t)p->n_tensors + 1, sizeof(void*)) : NULL;
  if (!s->tensors || !s->operand_ptrs || !s->nodes || !s->kernels || !s->profile_ns || !s->packed_offset ||
      (p->n_symbols && !s->saved_data))
    return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for the session tables");
  for (int i = 0; i < p->n_tensors; i++) {
    const pkt_tensor_desc* d = &p->tensors[i];
    pkt_tensor* t = &s->tensors[i];
    t->dtype = d->dtype;
    t->rank = d->rank;
    memcpy(t->dims, d->dims, sizeof t->dims);
    t->numel = d->numel;
    t->nbytes = (size_t)d->nbytes;
    t->data = d->storage == 1 ? (void*)(p->constants + d->offset) : NULL;
    t->bound_dims = d->dims;
  }
  *max_scratch = 0;
  pkt_tensor** ptr = s->operand_ptrs;
  for (int i = 0; i < p->n_instructions; i++) {
    const pkt_instruction* ins = &p->instructions[i];
    pkt_node* n = &s->nodes[i];
    n->op = ins->op;
    n->n_inputs = ins->n_inputs;
    n->n_outputs = ins->n_outputs;
    n->n_params = ins->n_params;
    n->params = ins->params;
    n->num_threads = s->num_threads; /* prepare() may size per-thread scratch */
    n->cfg = s->cfg;
    n->dynamic = p->n_symbols > 0;
    for (int k = 0; k < ins->n_inputs + ins->n_outputs; k++) {
      uint32_t idx;
      memcpy(&idx, ins->operands + k, sizeof idx);
      ptr[k] = &s->tensors[idx];
    }
    n->inputs = ptr;
    n->outputs = ptr + ins->n_inputs;
    ptr += ins->n_inputs + ins->n_outputs;
    const pkt_kernel* k = &pkt_kernel_table[ins->op];
    if (!k->prepare)
      return pkt_fail(err, PKT_KERNEL_NOT_BUILT, "instruction %d needs kernel '%s', which this build leaves out", i,
                      pkt_op_names[ins->op]);
    s->kernels[i] = k;
    size_t scratch = 0;
    char detail[256] = "";
    pkt_err node_err = {detail, sizeof detail};
    pkt_status st = k->prepare(n, &scratch, &node_err);
    if (st)
      return pkt_fail(err, st, "instruction %d (%s, from %s): %s", i, pkt_op_names[ins->op],
                      ins->source[0] ? ins->source : "unknown source", detail);
    if (scratch > *max_scratch) *max_scratch = scratch;
    s->packed_offset[i] = SIZE_MAX;
    size_t packed = k->pack_size ? k->pack_size(n) : 0;
    if (packed) {
      s->packed_offset[i] = s->packed_bytes;
      s->packed_bytes = add_sizes(s->packed_bytes, align_up(packed));
    }
  }
  return PKT_OK;
}

static void free_tables(pkt_session* s) {
  pkt_workspace* ws = s->program->ws;
  pkt_ws_free(ws, s->saved_data);
  pkt_ws_free(ws, s->packed_offset);
  pkt_ws_free(ws, s->profile_ns);
  pkt_ws_free(ws, s->kernels);
  pkt_ws_free(ws, s->nodes);
  pkt_ws_free(ws, s->operand_ptrs);
  pkt_ws_free(ws, s->tensors);
}

/* Activations, then kernel scratch, then repacked weights. */
static size_t arena_layout(const pkt_session* s, size_t scratch, size_t* scratch_offset, size_t* packed_offset) {
  if (s->program->arena_bytes > (uint64_t)(SIZE_MAX - 2 * PKT_ALIGNMENT)) { /* 32-bit size_t: do not truncate */
    *scratch_offset = *packed_offset = SIZE_MAX;
    return SIZE_MAX;
  }
  *scratch_offset = align_up((size_t)s->program->arena_bytes);
  *packed_offset = add_sizes(*scratch_offset, align_up(scratch));
  return add_sizes(*packed_offset, s->packed_bytes);
}

/* ---- Dynamic shapes: the plan, the packed weights and the arena are made once, for the symbols' upper bounds;
 * a call at another shape recomputes every tensor's dims by the ops' shape rules (shape_rules.c) and asks each
 * kernel's prepare() to check them again (no packing, no allocation). Scratch is planned at the bounds, where
 * kernels ask for enough for every smaller shape (plan_dynamic_scratch); a call is still checked against it, so
 * a kernel that broke that rule would fail the call (ARENA_TOO_SMALL) instead of overrunning. */

/* Current shapes of the inputs from the symbols' values (static dims as planned). */
static void inputs_from_symbols(pkt_session* s) {
  const pkt_program* p = s->program;
  for (int k = 0; k < p->n_inputs; k++) {
    const pkt_tensor_desc* d = &p->tensors[p->io[k]];
    pkt_tensor* t = &s->tensors[p->io[k]];
    int64_t numel = 1;
    for (int i = 0; i < d->rank; i++) {
      t->dims[i] = d->dim_expr[i] >= 0 ? s->symbols[pkt_dim_symbol(&p->exprs[d->dim_expr[i]])] : d->dims[i];
      numel *= t->dims[i];
    }
    t->numel = numel;
    t->nbytes = (size_t)numel * pkt_dtype_size(d->dtype);
  }
}

/* Every instruction's output shapes from its inputs', each node prepared again at them; *max_scratch the most
 * scratch a node asks for (node->dynamic stays set, so kernels give the same kind of figure as at the bounds).
 * prepare() sees data only on constants, as at session creation. */
static pkt_status propagate(pkt_session* s, size_t* max_scratch, pkt_err* err) {
  const pkt_program* p = s->program;
  for (int i = 0; i < p->n_tensors; i++) {
    s->saved_data[i] = s->tensors[i].data;
    if (p->tensors[i].storage == 0) s->tensors[i].data = NULL;
  }
  pkt_status st = PKT_OK;
  *max_scratch = 0;
  for (int i = 0; i < p->n_instructions && st == PKT_OK; i++) {
    const pkt_instruction* ins = &p->instructions[i];
    char detail[200] = "";
    pkt_err node_err = {detail, sizeof detail};
    size_t scratch = 0;
    st = pkt_infer_output_shapes(p, ins, &s->nodes[i], s->symbols, &node_err);
    if (st == PKT_OK) st = s->kernels[i]->prepare(&s->nodes[i], &scratch, &node_err);
    if (st)
      st = pkt_fail(err, st, "instruction %d (%s, from %s): %s", i, pkt_op_names[ins->op],
                    ins->source[0] ? ins->source : "unknown source", detail);
    if (scratch > *max_scratch) *max_scratch = scratch;
  }
  for (int i = 0; i < p->n_tensors; i++) s->tensors[i].data = s->saved_data[i];
  return st;
}

/* Scratch of a dynamic program: build_nodes() prepared every node at the bounds (the plan's dims), and with
 * node->dynamic set each kernel asked for scratch that covers every shape whose dims are at most those (kernel.h);
 * pkt_infer_output_shapes refuses a dim past its bound, so no call in range can need more. The symbols start at
 * their maxima, the shapes the nodes were prepared at. */
static void plan_dynamic_scratch(pkt_session* s, size_t scratch) {
  const pkt_program* p = s->program;
  for (int k = 0; k < p->n_symbols; k++) s->symbols[k] = p->symbols[k].max;
  inputs_from_symbols(s);
  s->scratch_capacity = scratch;
}

pkt_status pkt_session_set_input_shape(pkt_session* s, int index, const int64_t* dims, int rank, char* err_buf,
                                       size_t err_size) {
  pkt_err err = {err_buf, err_size};
  if (!s || (!dims && rank)) return pkt_fail(&err, PKT_INVALID_ARGUMENT, "session or dims is NULL");
  const pkt_program* p = s->program;
  if (index < 0 || index >= p->n_inputs) return pkt_fail(&err, PKT_INPUT_COUNT, "input %d of %d", index, p->n_inputs);
  const pkt_tensor_desc* d = &p->tensors[p->io[index]];
  pkt_tensor* t = &s->tensors[p->io[index]];
  if (rank != d->rank)
    return pkt_fail(&err, PKT_INPUT_SHAPE, "input '%s' has %d dims, expected %d", d->name, rank, d->rank);
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) {
    if (d->dim_expr[i] < 0) {
      if (dims[i] != d->dims[i])
        return pkt_fail(&err, PKT_INPUT_SHAPE, "input '%s' dim %d is %lld, expected %lld", d->name, i,
                        (long long)dims[i], (long long)d->dims[i]);
    } else {
      const pkt_symbol* sym = &p->symbols[pkt_dim_symbol(&p->exprs[d->dim_expr[i]])];
      if (dims[i] < sym->min || dims[i] > sym->max)
        return pkt_fail(&err, PKT_INPUT_SHAPE, "input '%s' dim %d is %lld, outside the range %lld..%lld of '%s'", d->name,
                        i, (long long)dims[i], (long long)sym->min, (long long)sym->max, sym->name);
    }
    numel *= dims[i];
  }
  for (int i = 0; i < rank; i++) {
    if (t->dims[i] != dims[i]) s->shapes_dirty = 1;
    t->dims[i] = dims[i];
  }
  t->numel = numel;
  t->nbytes = (size_t)numel * pkt_dtype_size(d->dtype);
  return PKT_OK;
}

/* The symbols' values from the inputs' shapes (inputs that share a symbol must agree), then every shape. */
static pkt_status update_shapes(pkt_session* s) {
  const pkt_program* p = s->program;
  pkt_err err = {s->error, sizeof s->error};
  int from[PKT_MAX_SYMBOLS];
  for (int k = 0; k < p->n_symbols; k++) from[k] = -1;
  for (int k = 0; k < p->n_inputs; k++) {
    const pkt_tensor_desc* d = &p->tensors[p->io[k]];
    for (int i = 0; i < d->rank; i++) {
      if (d->dim_expr[i] < 0) continue;
      const int sym = pkt_dim_symbol(&p->exprs[d->dim_expr[i]]);
      const int64_t v = s->tensors[p->io[k]].dims[i];
      if (from[sym] >= 0 && s->symbols[sym] != v)
        return pkt_fail(&err, PKT_INPUT_SHAPE, "input '%s' dim %d is %lld but input '%s' gives '%s' = %lld", d->name, i,
                        (long long)v, p->tensors[p->io[from[sym]]].name, p->symbols[sym].name, (long long)s->symbols[sym]);
      s->symbols[sym] = v;
      from[sym] = k;
    }
  }
  size_t scratch;
  pkt_status st = propagate(s, &scratch, &err);
  if (st == PKT_OK && scratch > s->scratch_capacity)
    st = pkt_fail(&err, PKT_ARENA_TOO_SMALL, "this shape needs %zu bytes of kernel scratch; the session planned %zu",
                  scratch, s->scratch_capacity);
  if (st == PKT_OK) s->shapes_dirty = 0;
  return st;
}

pkt_status pkt_session_update_shapes(pkt_session* s) {
  if (!s) return PKT_INVALID_ARGUMENT;
  return s->shapes_dirty ? update_shapes(s) : PKT_OK;
}

const char* pkt_session_error(const pkt_session* s) { return s ? s->error : ""; }

size_t pkt_session_used_arena_bytes(const pkt_session* s) {
  if (!s) return 0;
  size_t end = 0;
  for (int i = 0; i < s->program->n_tensors; i++) {
    const pkt_tensor_desc* d = &s->program->tensors[i];
    if (d->storage == 0 && s->tensors[i].nbytes && d->offset + s->tensors[i].nbytes > end)
      end = (size_t)d->offset + s->tensors[i].nbytes;
  }
  return align_up(end);
}

pkt_status pkt_session_input_info(const pkt_session* s, int index, pkt_tensor_info* info) {
  if (!s || !info || index < 0 || index >= s->program->n_inputs) return PKT_INVALID_ARGUMENT;
  pkt_status st = pkt_program_input_info(s->program, index, info);
  const pkt_tensor* t = &s->tensors[s->program->io[index]];
  memcpy(info->dims, t->dims, sizeof info->dims);
  info->nbytes = t->nbytes;
  return st;
}

pkt_status pkt_session_output_info(const pkt_session* s, int index, pkt_tensor_info* info) {
  if (!s || !info || index < 0 || index >= s->program->n_outputs) return PKT_INVALID_ARGUMENT;
  pkt_status st = pkt_program_output_info(s->program, index, info);
  const pkt_tensor* t = &s->tensors[s->program->io[s->program->n_inputs + index]];
  memcpy(info->dims, t->dims, sizeof info->dims);
  info->nbytes = t->nbytes;
  return st;
}

size_t pkt_session_required_arena_isa(const pkt_program* program, int num_threads, int isa) {
  pkt_session s;
  memset(&s, 0, sizeof s);
  s.program = program;
  s.num_threads = resolve_threads(num_threads);
  s.cfg = pkt_isa_config_get((pkt_isa)isa);
  size_t scratch = 0, scratch_offset, packed_offset;
  pkt_err err = {NULL, 0};
  size_t total = 0;
  if (!program) return 0;
  if (build_nodes(&s, &scratch, &err) == PKT_OK) total = arena_layout(&s, scratch, &scratch_offset, &packed_offset);
  free_tables(&s);
  return total;
}

size_t pkt_session_required_arena(const pkt_program* program, int num_threads) {
  return pkt_session_required_arena_isa(program, num_threads, (int)pkt_cpu_isa());
}

void pkt_session_free(pkt_session* s) {
  if (!s) return;
  for (int d = 0; s->delegates && d < s->program->n_delegates; d++)
    if (s->delegates[d].handle) s->delegates[d].backend->destroy(s->delegates[d].handle);
  pkt_ws_free(s->program->ws, s->delegates);
  pkt_threadpool_free(s->pool);
  if (s->owns_arena) pkt_aligned_free(s->arena);
  free_tables(s);
  pkt_ws_free(s->program->ws, s);
}

/* Each delegate runs on its backend when the backend is compiled in, available and initializes; otherwise its CPU
 * fallback runs, or (strict) the session is not created. Runs once the arena holds every tensor. */
/* 1 when `name` is one of the comma-separated `list`'s entries (NULL: every backend). */
static int backend_enabled(const char* list, const char* name) {
  if (!list) return 1;
  for (const char* p = list; *p;) { /* by hand: the embedded build links no string functions beyond mem* */
    size_t len = 0, n = 0;
    while (p[len] && p[len] != ',') len++;
    while (n < len && name[n] == p[n]) n++;
    if (n == len && name[n] == '\0') return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

static pkt_status start_delegates(pkt_session* s, const pkt_session_options* opt, pkt_err* err) {
  const pkt_program* p = s->program;
  if (!p->n_delegates) return PKT_OK;
  s->delegates = pkt_ws_calloc(p->ws, (size_t)p->n_delegates, sizeof(session_delegate));
  if (!s->delegates) return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for the session's delegates");
  for (int k = 0; k < p->n_delegates; k++) {
    const pkt_delegate* pd = &p->delegates[k];
    session_delegate* d = &s->delegates[k];
    const pkt_node* n = &s->nodes[pd->instruction];
    d->io = (pkt_backend_io){n->n_inputs, n->n_outputs, n->inputs, n->outputs};
    d->backend = pkt_backend_find(pd->backend);
    pkt_status st = PKT_NOT_SUPPORTED;
    pkt_err reason = {d->reason, sizeof d->reason};
    if (!backend_enabled(opt->backends, pd->backend)) {
      pkt_fail(&reason, st, "backend '%s' is not among the session's backends (\"%s\")", pd->backend, opt->backends);
      continue;
    } else if (!d->backend) {
      pkt_fail(&reason, st, "backend '%s' is not compiled into this runtime", pd->backend);
    } else if (!d->backend->is_available()) {
      pkt_fail(&reason, st, "backend '%s' has no device here", pd->backend);
    } else {
      char detail[160] = "";
      pkt_err init_err = {detail, sizeof detail};
      st = d->backend->init(pd->blob, (size_t)pd->blob_size, &d->io, &d->handle, &init_err);
      if (st) {
        d->handle = NULL;
        pkt_fail(&reason, st, "backend '%s' could not initialize: %s", pd->backend, detail);
      }
    }
    if (!d->handle && opt->strict_backends)
      return pkt_fail(err, st, "delegate %d (instruction %d): %s, and strict_backends forbids its CPU fallback", k,
                      pd->instruction, d->reason);
  }
  return PKT_OK;
}

int pkt_session_num_delegates(const pkt_session* s) { return s ? s->program->n_delegates : 0; }

pkt_status pkt_session_delegate_info(const pkt_session* s, int index, pkt_delegate_info* info) {
  if (!s || !info || index < 0 || index >= s->program->n_delegates) return PKT_INVALID_ARGUMENT;
  const pkt_delegate* pd = &s->program->delegates[index];
  const session_delegate* d = &s->delegates[index];
  const pkt_backend* b = d->handle ? d->backend : NULL;
  *info = (pkt_delegate_info){pd->backend, b ? b->device_name(d->handle) : "", b ? b->driver_name(d->handle) : "",
                              d->reason, b != NULL, pd->instruction, pd->fallback,
                              b && b->last_device_ns ? b->last_device_ns(d->handle) : 0};
  return PKT_OK;
}

pkt_status pkt_session_create(const pkt_program* program, const pkt_session_options* options, pkt_session** out,
                              char* err_buf, size_t err_size) {
  pkt_err err = {err_buf, err_size};
  if (!program || !out) return pkt_fail(&err, PKT_INVALID_ARGUMENT, "program or session output pointer is NULL");
  *out = NULL;
  pkt_session_options opt = options ? *options : pkt_session_options_default();
  pkt_session* s = pkt_ws_calloc(program->ws, 1, sizeof *s);
  if (!s) return pkt_fail(&err, PKT_OUT_OF_MEMORY, "no memory for the session");
  s->program = program;
  s->num_threads = resolve_threads(opt.num_threads);
  s->cfg = pkt_isa_config_get(pkt_cpu_isa());
#ifdef PKT_FAULT_INJECTION
  s->fault = fault_parse(program);
#endif
  size_t scratch = 0;
  pkt_status st = build_nodes(s, &scratch, &err);
  if (st) goto fail;
  if (program->n_symbols) plan_dynamic_scratch(s, scratch);
  size_t packed_offset;
  size_t need = arena_layout(s, scratch, &s->scratch_offset, &packed_offset);
  if (need == SIZE_MAX) {
    st = pkt_fail(&err, PKT_OUT_OF_MEMORY, "the program's arena, scratch and packed weights overflow the address space");
    goto fail;
  }
  if (opt.arena) {
    if ((uintptr_t)opt.arena % PKT_ALIGNMENT) {
      st = pkt_fail(&err, PKT_BAD_ALIGNMENT, "caller arena is not 64-byte aligned");
      goto fail;
    }
    if (opt.arena_size < need) {
      st = pkt_fail(&err, PKT_ARENA_TOO_SMALL, "caller arena has %zu bytes, the program needs %zu", opt.arena_size, need);
      goto fail;
    }
    s->arena = opt.arena;
  } else {
    s->arena = pkt_aligned_alloc(PKT_ALIGNMENT, need ? need : PKT_ALIGNMENT);
    if (!s->arena) {
      st = pkt_fail(&err, PKT_OUT_OF_MEMORY, "no memory for a %zu-byte arena", need);
      goto fail;
    }
    s->owns_arena = 1;
    memset(s->arena, 0, packed_offset); /* not the packed weights: pack() writes every byte of its share */
  }
  s->packed_base = s->arena + packed_offset;
  for (int i = 0; i < program->n_tensors; i++)
    if (program->tensors[i].storage == 0) s->tensors[i].data = s->arena + program->tensors[i].offset;
  if (s->num_threads > 1) {
    s->pool = pkt_threadpool_create(s->num_threads);
    if (!s->pool) {
      st = pkt_fail(&err, PKT_OUT_OF_MEMORY, "could not start %d threads", s->num_threads);
      goto fail;
    }
  }
  for (int i = 0; i < program->n_instructions; i++) {
    s->nodes[i].scratch = s->arena + s->scratch_offset;
    s->nodes[i].pool = s->pool;
    if (s->packed_offset[i] != SIZE_MAX) {
      s->nodes[i].packed = s->arena + packed_offset + s->packed_offset[i];
      s->kernels[i]->pack(&s->nodes[i], s->arena + packed_offset + s->packed_offset[i]);
    }
  }
  if ((st = start_delegates(s, &opt, &err))) goto fail;
  *out = s;
  return PKT_OK;
fail:
  pkt_session_free(s);
  return st;
}

int pkt_session_num_threads(const pkt_session* s) { return s ? s->num_threads : 0; }
size_t pkt_session_packed_bytes(const pkt_session* s) { return s ? s->packed_bytes : 0; }
const void* pkt_session_packed_data(const pkt_session* s) {
  return s && s->packed_bytes ? s->packed_base : NULL;
}
const char* pkt_session_isa(const pkt_session* s) {
  return pkt_isa_name(s ? s->cfg->isa : pkt_isa_config_get(pkt_cpu_isa())->isa);
}

void* pkt_session_input_data(pkt_session* s, int i) {
  if (!s || i < 0 || i >= s->program->n_inputs) return NULL;
  return s->tensors[s->program->io[i]].data;
}

const void* pkt_session_output_data(const pkt_session* s, int i) {
  if (!s || i < 0 || i >= s->program->n_outputs) return NULL;
  return s->tensors[s->program->io[s->program->n_inputs + i]].data;
}

pkt_status pkt_session_bind_input(pkt_session* s, int i, const void* data, size_t nbytes) {
  if (!s) return PKT_INVALID_ARGUMENT;
  if (i < 0 || i >= s->program->n_inputs) return PKT_INPUT_COUNT;
  const int k = s->program->io[i];
  pkt_tensor* t = &s->tensors[k];
  if (!data) {
    t->data = s->arena + s->program->tensors[k].offset;
    return PKT_OK;
  }
  if (nbytes != t->nbytes) return PKT_INPUT_SHAPE;
  if ((uintptr_t)data % pkt_dtype_size(t->dtype)) return PKT_BAD_ALIGNMENT;
  t->data = (void*)(uintptr_t)data; /* read only: kernels never write an input */
  return PKT_OK;
}

pkt_status pkt_session_set_input(pkt_session* s, int i, const void* data, size_t nbytes) {
  if (!s || !data) return PKT_INVALID_ARGUMENT;
  if (i < 0 || i >= s->program->n_inputs) return PKT_INPUT_COUNT;
  pkt_tensor* t = &s->tensors[s->program->io[i]];
  if (nbytes != t->nbytes) return PKT_INPUT_SHAPE;
  memcpy(t->data, data, nbytes);
  return PKT_OK;
}

/* Instruction i: an active delegate runs on its backend and skips its fallback range; anything else runs its kernel
 * (an inactive delegate's kernel computes nothing and its fallback follows). */
static pkt_status run_instruction(pkt_session* s, int i, int* next) {
  const pkt_node* n = &s->nodes[i];
  *next = i + 1;
  if (n->op == PKT_OP_DELEGATE) {
    const int64_t k = pkt_param_i(n, PKT_DELEGATE_DELEGATE);
    session_delegate* d = &s->delegates[k];
    if (d->handle) {
      *next = i + 1 + s->program->delegates[k].fallback;
      pkt_status st = d->backend->execute(d->handle, &d->io);
      if (st) {
        pkt_err err = {s->error, sizeof s->error};
        pkt_fail(&err, st, "delegate %lld (backend '%s', instruction %d) failed to execute", (long long)k,
                 d->backend->name, i);
      }
      return st;
    }
  }
  return s->kernels[i]->run(n);
}

/* The run loop with profiling, the instruction hook or (test builds) fault injection. */
static pkt_status run_observed(pkt_session* s) {
  const int n = s->program->n_instructions;
  if (s->profiling) memset(s->profile_ns, 0, (size_t)n * sizeof *s->profile_ns); /* skipped fallbacks: 0 */
  for (int i = 0, next; i < n; i = next) {
    uint64_t t0 = s->profiling ? pkt_now_ns() : 0;
    pkt_status st = run_instruction(s, i, &next);
    if (s->profiling) s->profile_ns[i] = pkt_now_ns() - t0;
    if (st) return st;
#ifdef PKT_FAULT_INJECTION
    fault_apply(&s->fault, i, &s->nodes[i]);
#endif
    if (s->hook) s->hook(s->hook_user, s, i);
  }
  return PKT_OK;
}

pkt_status pkt_session_run(pkt_session* s) {
  if (!s) return PKT_INVALID_ARGUMENT;
  if (s->shapes_dirty) {
    pkt_status st = update_shapes(s);
    if (st) return st;
  }
  const int n = s->program->n_instructions;
  if (s->profiling || s->hook || FAULT_ARMED(s)) return run_observed(s);
  for (int i = 0, next; i < n; i = next) {
    pkt_status st = run_instruction(s, i, &next);
    if (st) return st;
  }
  return PKT_OK;
}

void pkt_session_enable_profiling(pkt_session* s, int enabled) {
  if (s) s->profiling = enabled;
}

const uint64_t* pkt_session_profile_ns(const pkt_session* s) { return s ? s->profile_ns : NULL; }

void pkt_session_set_instruction_hook(pkt_session* s, pkt_instruction_hook hook, void* user) {
  if (!s) return;
  s->hook = hook;
  s->hook_user = user;
}

const void* pkt_session_instruction_output(const pkt_session* s, int index, int k, pkt_tensor_info* info) {
  if (!s || index < 0 || index >= s->program->n_instructions || k < 0 || k >= s->nodes[index].n_outputs) return NULL;
  const pkt_tensor* t = s->nodes[index].outputs[k];
  if (info) {
    info->name = s->program->tensors[t - s->tensors].name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    memcpy(info->dims, t->dims, sizeof info->dims);
    info->nbytes = t->nbytes;
  }
  return t->data;
}
