/* The Vulkan backend's blob (exporter/backends/vulkan.py writes it), little-endian, every record fixed-size:
 *
 *   header (64 bytes): "PTVK", u32 version (1), u32 n_tensors, u32 n_ops, u32 n_inputs, u32 n_outputs,
 *     u32 precision (0 fp32, 1 fp16 storage), u32 flags (0), u64 tensors_offset, u64 ops_offset, u64 io_offset,
 *     u64 reserved (0)
 *   tensors (48 bytes each): u32 kind (0 intermediate, 1 input, 2 output, 3 constant), u32 rank (1..6),
 *     u32 dims[6], u64 data_offset, u64 data_bytes (constants: float32 data in the blob, 16-byte aligned; both 0
 *     for a program constant the delegate receives as an input: uploaded from there at init, not stored twice)
 *   io: n_inputs then n_outputs u32 tensor indices, in the delegate's input/output order (an input may name a
 *     constant: read at init only)
 *   ops (160 bytes each): u32 op (a pkt_vk_shader), i32 bind[5] (tensor index per binding, -1 unused),
 *     i32 p[28], f32 f[4] (the push constants, as the shader reads them), u32 reserved[2]
 *
 * Everything is untrusted: pkt_vk_blob_parse checks every count, offset and index, and for each op that every
 * element its shader can touch lies inside the tensors it binds (so no dispatch reads or writes out of bounds). */
#ifndef PKT_VK_BLOB_H
#define PKT_VK_BLOB_H

#include "core/kernel.h"

#define PKT_VK_BLOB_VERSION 1
#define PKT_VK_MAX_RANK 6
#define PKT_VK_BINDINGS 5
#define PKT_VK_NP 28
#define PKT_VK_NF 4
#define PKT_VK_MAX_TENSORS 65536
#define PKT_VK_MAX_OPS 65536

enum { PKT_VK_T_INTERMEDIATE = 0, PKT_VK_T_INPUT = 1, PKT_VK_T_OUTPUT = 2, PKT_VK_T_CONSTANT = 3 };

typedef struct pkt_vk_tensor {
  uint32_t kind, rank;
  uint32_t dims[PKT_VK_MAX_RANK];
  int64_t numel;
  const float* data; /* constants: inside the blob, or NULL when an input brings them */
} pkt_vk_tensor;

typedef struct pkt_vk_op {
  uint32_t op;
  int32_t bind[PKT_VK_BINDINGS];
  int32_t p[PKT_VK_NP];
  float f[PKT_VK_NF];
} pkt_vk_op;

typedef struct pkt_vk_blob {
  uint32_t precision, n_tensors, n_ops, n_inputs, n_outputs;
  pkt_vk_tensor* tensors;
  pkt_vk_op* ops;
  uint32_t* inputs;  /* tensor indices */
  uint32_t* outputs;
} pkt_vk_blob;

/* Parse and validate; on success the arrays are malloc'ed (pkt_vk_blob_free). */
pkt_status pkt_vk_blob_parse(const void* data, size_t size, pkt_vk_blob* out, pkt_err* err);
void pkt_vk_blob_free(pkt_vk_blob* b);

#endif
