/* A test harness for the Vulkan backend alone: init/execute/destroy through its pkt_backend table on float32
 * buffers from Python (ctypes), so each shader is checked against torch without a whole program around it. */
#include <stdio.h>

#include "core/backend.h"

extern const pkt_backend pkt_backend_vulkan;

int vkh_available(void) { return pkt_backend_vulkan.is_available(); }

static void fill(pkt_tensor* t, float* data, int rank, const int64_t* dims) {
  memset(t, 0, sizeof *t);
  t->data = data;
  t->dtype = PKT_F32;
  t->rank = rank;
  t->numel = 1;
  for (int d = 0; d < rank; d++) t->numel *= (t->dims[d] = dims[d]);
  t->nbytes = (size_t)t->numel * 4;
  t->bound_dims = t->dims;
}

/* dims: PKT_MAX_RANK per tensor. Returns the pkt_status; err and device get the message and the device name. */
int vkh_run(const void* blob, size_t size, int n_in, float** in_data, const int* in_rank, const int64_t* in_dims,
            int n_out, float** out_data, const int* out_rank, const int64_t* out_dims, int runs, char* errbuf,
            size_t errsize, char* device, size_t devsize, unsigned long long* device_ns) {
  pkt_tensor ts[64], *ins[32], *outs[32];
  if (n_in > 32 || n_out > 32) return PKT_INVALID_ARGUMENT;
  for (int i = 0; i < n_in; i++) fill(ins[i] = &ts[i], in_data[i], in_rank[i], in_dims + i * PKT_MAX_RANK);
  for (int i = 0; i < n_out; i++) fill(outs[i] = &ts[32 + i], out_data[i], out_rank[i], out_dims + i * PKT_MAX_RANK);
  pkt_backend_io io = {n_in, n_out, ins, outs};
  pkt_err err = {errbuf, errsize};
  void* h = NULL;
  pkt_status st = pkt_backend_vulkan.init(blob, size, &io, &h, &err);
  if (st != PKT_OK) return st;
  snprintf(device, devsize, "%s | %s", pkt_backend_vulkan.device_name(h), pkt_backend_vulkan.driver_name(h));
  for (int r = 0; r < runs && st == PKT_OK; r++) st = pkt_backend_vulkan.execute(h, &io);
  *device_ns = pkt_backend_vulkan.last_device_ns(h);
  pkt_backend_vulkan.destroy(h);
  return st;
}

#include "backends/vulkan/vk_blob.h"

/* Parse and validate only (no device): the status, and the message in errbuf. */
int vkh_parse(const void* blob, size_t size, char* errbuf, size_t errsize) {
  pkt_vk_blob b;
  pkt_err err = {errbuf, errsize};
  pkt_status st = pkt_vk_blob_parse(blob, size, &b, &err);
  if (st == PKT_OK) pkt_vk_blob_free(&b);
  return st;
}
