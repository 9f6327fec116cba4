/* The in-memory program: tables parsed and validated by loader.c, read by session.c. */
#ifndef PKT_PROGRAM_H
#define PKT_PROGRAM_H

#include "core/kernel.h"

typedef struct pkt_tensor_desc {
  int dtype;
  int rank;
  int storage; /* 0 arena, 1 constant */
  int64_t dims[PKT_MAX_RANK];
  int64_t numel;
  uint64_t offset;
  uint64_t nbytes;
  const char* name;
  int32_t dim_expr[PKT_MAX_RANK]; /* SHAPES: index into the program's expressions for a dynamic dim, -1 static */
} pkt_tensor_desc;

/* A dynamic dimension's symbol (FORMAT.md, SHAPES): every value in [min, max] is valid; the plan is made for max. */
typedef struct pkt_symbol {
  const char* name;
  int64_t min, max;
} pkt_symbol;

/* A dimension as a function of the symbols: `n_words` i64 words of postfix code in the file (dynamic_shapes.c). */
typedef struct pkt_dim_expr {
  const uint8_t* words;
  uint32_t n_words;
} pkt_dim_expr;

typedef struct pkt_instruction {
  uint32_t op;
  int n_inputs, n_outputs, n_params;
  const uint32_t* operands; /* inputs then outputs, points into the file */
  const int64_t* params;    /* points into the file, 8-byte aligned within it */
  const char* source;
} pkt_instruction;

/* A DELEGATES entry (FORMAT.md): the backend that runs it, its blob (in the file, 64-byte aligned) and where its
 * delegate instruction and the fallback instructions after it are. */
typedef struct pkt_delegate {
  const char* backend;
  const uint8_t* blob;
  uint64_t blob_size;
  int instruction; /* the delegate instruction's index */
  int fallback;    /* how many instructions after it compute the same outputs on the CPU */
} pkt_delegate;

struct pkt_program {
  pkt_workspace* ws;   /* where this program's and its sessions' tables live; NULL: the heap */
  const uint8_t* base; /* the file bytes */
  size_t size;
  void* owned;         /* buffer to free (copy) or NULL */
  void* mapping;       /* mmap base to unmap or NULL */
  size_t mapping_size;

  uint64_t arena_bytes;
  const uint8_t* constants;
  uint64_t constants_size;
  const char* metadata;
  size_t metadata_size;
  const char* strings; /* the STRINGS section, NUL-terminated */
  uint64_t strings_size;

  int n_tensors;
  pkt_tensor_desc* tensors;
  int n_instructions;
  pkt_instruction* instructions;
  int n_inputs, n_outputs;
  uint32_t* io; /* inputs then outputs */

  int n_delegates; /* 0: everything runs on the CPU kernels */
  pkt_delegate* delegates;

  int n_symbols; /* 0: every shape is static */
  pkt_symbol* symbols;
  int n_exprs;
  pkt_dim_expr* exprs;
};

/* Dynamic shapes (dynamic_shapes.c). PKT_MAX_SYMBOLS bounds the symbols of a program. */
#define PKT_MAX_SYMBOLS 16
/* Parse and validate the SHAPES section (base + offset, size bytes) after the tensors and IO. */
pkt_status pkt_parse_shapes(pkt_program* p, uint64_t offset, uint64_t size, pkt_err* err);
/* The symbol an input's dynamic dim is (the loader checked that it is exactly one). */
int pkt_dim_symbol(const pkt_dim_expr* e);
/* Value of expression e at the symbols' values; PKT_BAD_SHAPE on overflow or division by zero. */
pkt_status pkt_eval_dim(const pkt_dim_expr* e, const int64_t* symbols, int64_t* value);
/* Output dims of a node by its op's shape rule (shape_rules.c), from its inputs' current dims; `desc` are the
 * outputs' descriptors (their declared expressions and bound dims). */
pkt_status pkt_infer_output_shapes(const pkt_program* p, const pkt_instruction* ins, pkt_node* node,
                                   const int64_t* symbols, pkt_err* err);

/* pkt_session_required_arena for kernels of a given pkt_isa (the SDK generator sizes the embedded
 * profile's arena for the portable kernels it runs). */
size_t pkt_session_required_arena_isa(const pkt_program* program, int num_threads, int isa);

/* Descriptor tables: zeroed memory from `ws` (workspace.c), or from the platform heap when ws is NULL. */
void* pkt_ws_calloc(pkt_workspace* ws, size_t n, size_t size);
void pkt_ws_free(pkt_workspace* ws, void* p);

/* Platform layer: one file per target (platform_posix.c, platform_embedded.c), the only code that touches
 * the OS. An embedded build has no heap, file system or threads: its allocators return NULL, map_file
 * returns PKT_NOT_SUPPORTED and the thread pool is never created. */
void* pkt_platform_calloc(size_t n, size_t size);
void pkt_platform_free(void* p);
/* vsnprintf for error details (always NUL-terminates when size > 0). */
void pkt_platform_vformat(char* buf, size_t size, const char* fmt, va_list ap);
void* pkt_aligned_alloc(size_t alignment, size_t size);
void pkt_aligned_free(void* p);
uint64_t pkt_now_ns(void);
int pkt_cpu_count(void);
/* What num_threads = 0 means: the big (performant) cores this process may use, >= 1, <= pkt_cpu_count(). */
int pkt_cpu_default_threads(void);
pkt_status pkt_map_file(const char* path, void** base, size_t* size, pkt_err* err);
void pkt_unmap_file(void* base, size_t size);

pkt_threadpool* pkt_threadpool_create(int num_threads);
void pkt_threadpool_free(pkt_threadpool* pool);

#endif
