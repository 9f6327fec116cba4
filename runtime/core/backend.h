/* The delegate backend interface: an accelerator (Vulkan, and later Metal, Core ML, an NPU SDK) runs a subgraph
 * the exporter handed to it. The program stores, per delegate, the backend's name, the blob its compiler wrote
 * and the subgraph's arena inputs/outputs; the CPU instructions of the same subgraph stay beside it as the
 * fallback. A backend is a table of functions, registered at build time (core/backend_registry.c); nothing in
 * the loader or the exporter's core knows any backend by name.
 *
 * Lifetime: is_available() may be called any time and must never crash (no driver, no device -> 0). init() runs
 * once per session with the blob (the program's bytes: valid until destroy, 16-byte aligned, already bounds-checked
 * by the loader but its contents are untrusted: the backend validates them) and the shapes of the delegate's
 * inputs and outputs; it uploads weights and builds pipelines, and may allocate. execute() runs every inference:
 * it reads inputs[i]->data and writes outputs[i]->data (arena memory the CPU owns), allocates nothing, and is
 * called from one thread at a time per handle. destroy() frees everything init made. */
#ifndef PKT_BACKEND_H
#define PKT_BACKEND_H

#include "core/kernel.h"

typedef struct pkt_backend_io {
  int n_inputs, n_outputs;
  pkt_tensor* const* inputs;  /* the delegate's arena/constant inputs, in the blob's order */
  pkt_tensor* const* outputs; /* its outputs */
} pkt_backend_io;

typedef struct pkt_backend {
  const char* name; /* as the exporter's backend names it: "vulkan" */
  int (*is_available)(void);
  /* The device the backend runs on ("llvmpipe (LLVM 15.0.6, 256 bits)"), and its driver, or "" before init. */
  const char* (*device_name)(void* handle);
  const char* (*driver_name)(void* handle);
  pkt_status (*init)(const void* blob, size_t blob_size, const pkt_backend_io* io, void** handle, pkt_err* err);
  pkt_status (*execute)(void* handle, const pkt_backend_io* io);
  void (*destroy)(void* handle);
  /* Optional (NULL): nanoseconds the last execute spent on the device (timestamp queries), for the profiler. */
  uint64_t (*last_device_ns)(void* handle);
} pkt_backend;

/* The backends compiled into this build, by name; NULL when `name` was not compiled in. */
const pkt_backend* pkt_backend_find(const char* name);

#endif
