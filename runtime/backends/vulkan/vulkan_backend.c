/* The Vulkan compute backend (core/backend.h). init(): validate the blob (vk_blob.c), create the device, place
 * every tensor in one device buffer, upload the weights once through a staging buffer, build one pipeline per
 * shader used (workgroup size / tile from the device's subgroup size and limits, as specialization constants;
 * one VkPipelineCache for all of them), one descriptor set per op, and record the whole run into one command
 * buffer: inputs staged in, every dispatch with a barrier after it, outputs staged out, timestamps around it.
 * execute(): copy inputs to the staging buffer, submit that command buffer, wait, copy outputs out. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends/vulkan/vk_blob.h"
#include "backends/vulkan/vk_context.h"
#include "backends/vulkan/vk_shaders.h"
#include "core/backend.h"
#include "kernels/pkt_half.h"

#define PC_BYTES ((PKT_VK_NP + PKT_VK_NF) * 4)

typedef struct vk_buffer {
  VkBuffer buf;
  VkDeviceMemory mem;
  void* mapped; /* host-visible buffers only */
} vk_buffer;

typedef struct vk_session {
  pkt_vk_context ctx;
  pkt_vk_blob blob;
  int fp16;             /* buffers hold float16 */
  uint32_t wg, tile;    /* 1-D workgroup size (a multiple of the subgroup size), GEMM tile */
  VkDeviceSize* offset; /* per tensor, in `device` */
  VkDeviceSize* range;
  VkDeviceSize* stage_offset; /* per io tensor, in `staging` */
  vk_buffer device, staging;
  VkPipelineCache cache;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  VkPipeline pipelines[PKT_VK_SHADER_COUNT];
  VkDescriptorPool pool;
  VkDescriptorSet* sets;
  VkCommandPool cmd_pool;
  VkCommandBuffer cmd;
  VkFence fence;
  VkQueryPool queries;
  uint64_t last_ns;
  char driver[2 * VK_MAX_DRIVER_NAME_SIZE + 64];
} vk_session;

static pkt_status vk_fail(pkt_err* err, const char* what, VkResult r) {
  return pkt_fail(err, r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? PKT_OUT_OF_MEMORY
                                                                                                : PKT_INTERNAL,
                  "vulkan: %s failed (VkResult %d)", what, (int)r);
}

#define VK_TRY(call, what)                        \
  do {                                            \
    VkResult r_ = (call);                         \
    if (r_ != VK_SUCCESS) return vk_fail(err, what, r_); \
  } while (0)

static pkt_status make_buffer(vk_session* s, VkDeviceSize size, VkBufferUsageFlags usage, int host, vk_buffer* b,
                              pkt_err* err) {
  const pkt_vk_fns* f = &s->ctx.fn;
  VkDevice d = s->ctx.device;
  VkBufferCreateInfo bci = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, NULL, 0, size, usage, VK_SHARING_MODE_EXCLUSIVE,
                            0, NULL};
  VK_TRY(f->vkCreateBuffer(d, &bci, NULL, &b->buf), "vkCreateBuffer");
  VkMemoryRequirements req;
  f->vkGetBufferMemoryRequirements(d, b->buf, &req);
  VkMemoryPropertyFlags want = host ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                    : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  int type = pkt_vk_memory_type(&s->ctx, req.memoryTypeBits, want);
  if (type < 0 && !host) type = pkt_vk_memory_type(&s->ctx, req.memoryTypeBits, 0);
  if (type < 0) return pkt_fail(err, PKT_NOT_SUPPORTED, "vulkan: no suitable memory type");
  VkMemoryAllocateInfo mai = {VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, NULL, req.size, (uint32_t)type};
  VK_TRY(f->vkAllocateMemory(d, &mai, NULL, &b->mem), "vkAllocateMemory");
  VK_TRY(f->vkBindBufferMemory(d, b->buf, b->mem, 0), "vkBindBufferMemory");
  if (host) VK_TRY(f->vkMapMemory(d, b->mem, 0, VK_WHOLE_SIZE, 0, &b->mapped), "vkMapMemory");
  return PKT_OK;
}

static void free_buffer(vk_session* s, vk_buffer* b) {
  const pkt_vk_fns* f = &s->ctx.fn;
  if (b->buf) f->vkDestroyBuffer(s->ctx.device, b->buf, NULL);
  if (b->mem) f->vkFreeMemory(s->ctx.device, b->mem, NULL);
  memset(b, 0, sizeof *b);
}

static size_t elem_bytes(const vk_session* s) { return s->fp16 ? 2 : 4; }

static VkDeviceSize round_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }

/* float32 -> the buffers' storage type. */
static void store(const vk_session* s, void* dst, const float* src, int64_t n) {
  if (!s->fp16) {
    memcpy(dst, src, (size_t)n * 4);
    return;
  }
  uint16_t* h = (uint16_t*)dst;
  for (int64_t i = 0; i < n; i++) h[i] = pkt_f32_to_f16(src[i]);
}

static void load(const vk_session* s, float* dst, const void* src, int64_t n) {
  if (!s->fp16) {
    memcpy(dst, src, (size_t)n * 4);
    return;
  }
  const uint16_t* h = (const uint16_t*)src;
  for (int64_t i = 0; i < n; i++) dst[i] = pkt_f16_to_f32(h[i]);
}

/* Every tensor's place in the device buffer (aligned for storage-buffer descriptors) and every io tensor's place
 * in the staging buffer. */
static pkt_status place_tensors(vk_session* s, VkDeviceSize* device_bytes, VkDeviceSize* stage_bytes, pkt_err* err) {
  const pkt_vk_blob* b = &s->blob;
  VkDeviceSize align = s->ctx.props.limits.minStorageBufferOffsetAlignment;
  if (align < 16) align = 16;
  VkDeviceSize dev = 0, stage = 0;
  for (uint32_t i = 0; i < b->n_tensors; i++) {
    s->range[i] = round_up((VkDeviceSize)b->tensors[i].numel * elem_bytes(s), 4);
    if (s->range[i] > s->ctx.props.limits.maxStorageBufferRange)
      return pkt_fail(err, PKT_NOT_SUPPORTED, "vulkan: tensor %u (%llu bytes) exceeds the device's storage buffer "
                      "range", i, (unsigned long long)s->range[i]);
    s->offset[i] = dev;
    dev = round_up(dev + s->range[i], align);
    if (b->tensors[i].kind == PKT_VK_T_INPUT || b->tensors[i].kind == PKT_VK_T_OUTPUT) {
      s->stage_offset[i] = stage;
      stage = round_up(stage + s->range[i], 16);
    }
  }
  *device_bytes = dev;
  *stage_bytes = stage ? stage : 16;
  return PKT_OK;
}

static pkt_status one_time_submit(vk_session* s, VkCommandBuffer cb, pkt_err* err) {
  const pkt_vk_fns* f = &s->ctx.fn;
  VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO, NULL, 0, NULL, NULL, 1, &cb, 0, NULL};
  VK_TRY(f->vkResetFences(s->ctx.device, 1, &s->fence), "vkResetFences");
  VK_TRY(f->vkQueueSubmit(s->ctx.queue, 1, &si, s->fence), "vkQueueSubmit");
  VK_TRY(f->vkWaitForFences(s->ctx.device, 1, &s->fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  return PKT_OK;
}

/* A constant's float32 data: in the blob, or the delegate input that names it (a program constant). */
static const float* constant_data(const vk_session* s, uint32_t t, const pkt_backend_io* io) {
  if (s->blob.tensors[t].data) return s->blob.tensors[t].data;
  for (uint32_t i = 0; i < s->blob.n_inputs; i++)
    if (s->blob.inputs[i] == t) return (const float*)io->inputs[i]->data;
  return NULL;
}

/* The weights, once: a temporary host buffer, one copy command, then it is freed. */
static pkt_status upload_constants(vk_session* s, const pkt_backend_io* io, pkt_err* err) {
  const pkt_vk_blob* b = &s->blob;
  const pkt_vk_fns* f = &s->ctx.fn;
  VkDeviceSize total = 0;
  uint32_t n = 0;
  for (uint32_t i = 0; i < b->n_tensors; i++)
    if (b->tensors[i].kind == PKT_VK_T_CONSTANT) {
      total += s->range[i];
      n++;
    }
  if (n == 0) return PKT_OK;
  for (uint32_t i = 0; i < b->n_tensors; i++)
    if (b->tensors[i].kind == PKT_VK_T_CONSTANT && !constant_data(s, i, io))
      return pkt_fail(err, PKT_BAD_IO, "vulkan: constant input %u has no data at init", i);
  VkBufferCopy* regions = calloc(n, sizeof *regions);
  if (!regions) return pkt_fail(err, PKT_OUT_OF_MEMORY, "vulkan: out of memory");
  vk_buffer up = {0};
  pkt_status st = make_buffer(s, total, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, 1, &up, err);
  VkCommandBuffer cb = VK_NULL_HANDLE;
  if (st == PKT_OK) {
    VkDeviceSize at = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < b->n_tensors; i++) {
      if (b->tensors[i].kind != PKT_VK_T_CONSTANT) continue;
      store(s, (char*)up.mapped + at, constant_data(s, i, io), b->tensors[i].numel);
      regions[k++] = (VkBufferCopy){at, s->offset[i], s->range[i]};
      at += s->range[i];
    }
    VkCommandBufferAllocateInfo cai = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, NULL, s->cmd_pool,
                                       VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
    VkCommandBufferBeginInfo bi = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, NULL,
                                   VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT, NULL};
    VkResult r = f->vkAllocateCommandBuffers(s->ctx.device, &cai, &cb);
    if (r == VK_SUCCESS) r = f->vkBeginCommandBuffer(cb, &bi);
    if (r == VK_SUCCESS) {
      f->vkCmdCopyBuffer(cb, up.buf, s->device.buf, n, regions);
      r = f->vkEndCommandBuffer(cb);
    }
    st = r == VK_SUCCESS ? one_time_submit(s, cb, err) : vk_fail(err, "recording the weight upload", r);
  }
  free(regions);
  free_buffer(s, &up);
  (void)cb; /* freed with the command pool */
  return st;
}

static uint32_t pow2_floor(uint32_t v) {
  uint32_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

/* 1-D shaders: the subgroup size times enough subgroups to reach 64 invocations (the reductions need a power of
 * two, which subgroup sizes are), within the device's limits. GEMM: 16x16 tiles, 8x8 where 256 invocations are
 * not allowed. */
static void choose_sizes(vk_session* s) {
  const VkPhysicalDeviceLimits* l = &s->ctx.props.limits;
  uint32_t limit = pow2_floor(l->maxComputeWorkGroupInvocations < l->maxComputeWorkGroupSize[0]
                                  ? l->maxComputeWorkGroupInvocations : l->maxComputeWorkGroupSize[0]);
  uint32_t wg = pow2_floor(s->ctx.subgroup_size);
  while (wg < 64) wg *= 2;
  s->wg = wg < limit ? wg : limit;
  s->tile = (l->maxComputeWorkGroupInvocations >= 256 && l->maxComputeWorkGroupSize[1] >= 16) ? 16 : 8;
}

static pkt_status make_pipeline(vk_session* s, uint32_t shader, pkt_err* err) {
  const pkt_vk_fns* f = &s->ctx.fn;
  const pkt_vk_spirv* code = &pkt_vk_shaders[shader][s->fp16];
  VkShaderModuleCreateInfo smi = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, NULL, 0, code->size, code->code};
  VkShaderModule mod;
  VK_TRY(f->vkCreateShaderModule(s->ctx.device, &smi, NULL, &mod), "vkCreateShaderModule");
  uint32_t size = (shader == PKT_VK_SH_GEMM || shader == PKT_VK_SH_GEMM_IM2COL) ? s->tile : s->wg;
  VkSpecializationMapEntry entry = {0, 0, sizeof size};
  VkSpecializationInfo spec = {1, &entry, sizeof size, &size};
  VkComputePipelineCreateInfo cpi = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, NULL, 0,
                                     {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, NULL, 0,
                                      VK_SHADER_STAGE_COMPUTE_BIT, mod, "main", &spec},
                                     s->layout, VK_NULL_HANDLE, -1};
  VkResult r = f->vkCreateComputePipelines(s->ctx.device, s->cache, 1, &cpi, NULL, &s->pipelines[shader]);
  f->vkDestroyShaderModule(s->ctx.device, mod, NULL);
  return r == VK_SUCCESS ? PKT_OK : vk_fail(err, "vkCreateComputePipelines", r);
}

static pkt_status make_pipelines(vk_session* s, pkt_err* err) {
  const pkt_vk_fns* f = &s->ctx.fn;
  VkDevice d = s->ctx.device;
  VkPipelineCacheCreateInfo pci = {VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO, NULL, 0, 0, NULL};
  VK_TRY(f->vkCreatePipelineCache(d, &pci, NULL, &s->cache), "vkCreatePipelineCache");
  VkDescriptorSetLayoutBinding binds[PKT_VK_BINDINGS];
  for (uint32_t i = 0; i < PKT_VK_BINDINGS; i++)
    binds[i] = (VkDescriptorSetLayoutBinding){i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT,
                                              NULL};
  VkDescriptorSetLayoutCreateInfo dli = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL, 0,
                                         PKT_VK_BINDINGS, binds};
  VK_TRY(f->vkCreateDescriptorSetLayout(d, &dli, NULL, &s->set_layout), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, PC_BYTES};
  VkPipelineLayoutCreateInfo pli = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, 1, &s->set_layout, 1,
                                    &pcr};
  VK_TRY(f->vkCreatePipelineLayout(d, &pli, NULL, &s->layout), "vkCreatePipelineLayout");
  for (uint32_t i = 0; i < s->blob.n_ops; i++) {
    uint32_t sh = s->blob.ops[i].op;
    if (!s->pipelines[sh]) {
      pkt_status st = make_pipeline(s, sh, err);
      if (st != PKT_OK) return st;
    }
  }
  return PKT_OK;
}

static pkt_status make_descriptors(vk_session* s, pkt_err* err) {
  const pkt_vk_fns* f = &s->ctx.fn;
  VkDevice d = s->ctx.device;
  uint32_t n = s->blob.n_ops;
  VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n * PKT_VK_BINDINGS};
  VkDescriptorPoolCreateInfo dpi = {VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, NULL, 0, n, 1, &ps};
  VK_TRY(f->vkCreateDescriptorPool(d, &dpi, NULL, &s->pool), "vkCreateDescriptorPool");
  VkDescriptorSetLayout* layouts = malloc(n * sizeof *layouts);
  if (!layouts) return pkt_fail(err, PKT_OUT_OF_MEMORY, "vulkan: out of memory");
  for (uint32_t i = 0; i < n; i++) layouts[i] = s->set_layout;
  VkDescriptorSetAllocateInfo ai = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, NULL, s->pool, n, layouts};
  VkResult r = f->vkAllocateDescriptorSets(d, &ai, s->sets);
  free(layouts);
  if (r != VK_SUCCESS) return vk_fail(err, "vkAllocateDescriptorSets", r);
  for (uint32_t i = 0; i < n; i++) {
    const pkt_vk_op* op = &s->blob.ops[i];
    VkDescriptorBufferInfo info[PKT_VK_BINDINGS];
    VkWriteDescriptorSet w[PKT_VK_BINDINGS];
    for (uint32_t k = 0; k < PKT_VK_BINDINGS; k++) {
      int32_t t = op->bind[k] >= 0 ? op->bind[k] : op->bind[4]; /* unused bindings: any valid range */
      info[k] = (VkDescriptorBufferInfo){s->device.buf, s->offset[t], s->range[t]};
      w[k] = (VkWriteDescriptorSet){VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, NULL, s->sets[i], k, 0, 1,
                                    VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, NULL, &info[k], NULL};
    }
    f->vkUpdateDescriptorSets(d, PKT_VK_BINDINGS, w, 0, NULL);
  }
  return PKT_OK;
}

static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* Workgroup counts for one op; 0 when they exceed the device's limits. */
static int dispatch_size(const vk_session* s, const pkt_vk_op* op, uint32_t g[3]) {
  const int32_t* p = op->p;
  const uint32_t* lim = s->ctx.props.limits.maxComputeWorkGroupCount;
  uint64_t threads = 0, groups = 0;
  g[0] = g[1] = g[2] = 1;
  switch (op->op) {
    case PKT_VK_SH_GEMM:
    case PKT_VK_SH_GEMM_IM2COL:
      g[0] = ceil_div((uint64_t)p[2], s->tile);
      g[1] = ceil_div((uint64_t)p[1], s->tile);
      g[2] = (uint32_t)p[0];
      return g[0] <= lim[0] && g[1] <= lim[1] && g[2] <= lim[2];
    case PKT_VK_SH_CONV_DIRECT: threads = (uint64_t)p[0] * p[4] * p[5] * p[6]; break;
    case PKT_VK_SH_BINARY:
    case PKT_VK_SH_COPY: threads = (uint64_t)p[0]; break;
    case PKT_VK_SH_POOL: threads = (uint64_t)p[0] * p[3] * p[4]; break;
    case PKT_VK_SH_REDUCE: threads = (uint64_t)p[0] * p[2]; break;
    case PKT_VK_SH_SOFTMAX:
    case PKT_VK_SH_LAYER_NORM: groups = (uint64_t)p[0]; break; /* a workgroup per row */
  }
  if (threads) groups = (threads + s->wg - 1) / s->wg;
  g[0] = (uint32_t)(groups < lim[0] ? groups : lim[0]);
  g[1] = ceil_div(groups, g[0]);
  return g[1] <= lim[1];
}

static void barrier(const vk_session* s, VkPipelineStageFlags from, VkAccessFlags src, VkPipelineStageFlags to,
                    VkAccessFlags dst) {
  VkMemoryBarrier mb = {VK_STRUCTURE_TYPE_MEMORY_BARRIER, NULL, src, dst};
  s->ctx.fn.vkCmdPipelineBarrier(s->cmd, from, to, 0, 1, &mb, 0, NULL, 0, NULL);
}

static void copy_io(vk_session* s, const uint32_t* list, uint32_t n, int to_device) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t t = list[i];
    if (s->blob.tensors[t].kind == PKT_VK_T_CONSTANT) continue;
    VkBufferCopy c = {to_device ? s->stage_offset[t] : s->offset[t], to_device ? s->offset[t] : s->stage_offset[t],
                      s->range[t]};
    s->ctx.fn.vkCmdCopyBuffer(s->cmd, to_device ? s->staging.buf : s->device.buf,
                              to_device ? s->device.buf : s->staging.buf, 1, &c);
  }
}

/* The whole run as one command buffer, recorded once: the shapes are static. */
static pkt_status record(vk_session* s, pkt_err* err) {
  const pkt_vk_fns* f = &s->ctx.fn;
  VkCommandBufferAllocateInfo cai = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, NULL, s->cmd_pool,
                                     VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
  VK_TRY(f->vkAllocateCommandBuffers(s->ctx.device, &cai, &s->cmd), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, NULL, 0, NULL};
  VK_TRY(f->vkBeginCommandBuffer(s->cmd, &bi), "vkBeginCommandBuffer");
  if (s->queries) {
    f->vkCmdResetQueryPool(s->cmd, s->queries, 0, 2);
    f->vkCmdWriteTimestamp(s->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, s->queries, 0);
  }
  barrier(s, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
          VK_ACCESS_TRANSFER_READ_BIT);
  copy_io(s, s->blob.inputs, s->blob.n_inputs, 1);
  barrier(s, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
          VK_ACCESS_SHADER_READ_BIT);
  uint32_t bound_shader = PKT_VK_SHADER_COUNT;
  for (uint32_t i = 0; i < s->blob.n_ops; i++) {
    const pkt_vk_op* op = &s->blob.ops[i];
    uint32_t g[3];
    if (!dispatch_size(s, op, g))
      return pkt_fail(err, PKT_NOT_SUPPORTED, "vulkan: op %u needs more workgroups than the device allows", i);
    if (op->op != bound_shader) {
      f->vkCmdBindPipeline(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipelines[op->op]);
      bound_shader = op->op;
    }
    f->vkCmdBindDescriptorSets(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->layout, 0, 1, &s->sets[i], 0, NULL);
    uint8_t pc[PC_BYTES];
    memcpy(pc, op->p, sizeof op->p);
    memcpy(pc + sizeof op->p, op->f, sizeof op->f);
    f->vkCmdPushConstants(s->cmd, s->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, PC_BYTES, pc);
    f->vkCmdDispatch(s->cmd, g[0], g[1], g[2]);
    barrier(s, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  }
  barrier(s, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
          VK_ACCESS_TRANSFER_READ_BIT);
  copy_io(s, s->blob.outputs, s->blob.n_outputs, 0);
  barrier(s, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
          VK_ACCESS_HOST_READ_BIT);
  if (s->queries) f->vkCmdWriteTimestamp(s->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s->queries, 1);
  VK_TRY(f->vkEndCommandBuffer(s->cmd), "vkEndCommandBuffer");
  return PKT_OK;
}

/* The delegate's io tensors must be the blob's: float32, same dims. */
static pkt_status check_io(const vk_session* s, const pkt_backend_io* io, pkt_err* err) {
  const pkt_vk_blob* b = &s->blob;
  if (io->n_inputs != (int)b->n_inputs || io->n_outputs != (int)b->n_outputs)
    return pkt_fail(err, PKT_BAD_IO, "vulkan: the delegate has %d inputs and %d outputs, its blob %u and %u",
                    io->n_inputs, io->n_outputs, b->n_inputs, b->n_outputs);
  for (int i = 0; i < io->n_inputs + io->n_outputs; i++) {
    int is_in = i < io->n_inputs;
    const pkt_tensor* t = is_in ? io->inputs[i] : io->outputs[i - io->n_inputs];
    const pkt_vk_tensor* v = &b->tensors[is_in ? b->inputs[i] : b->outputs[i - io->n_inputs]];
    /* a 0-d tensor is [1] in the blob */
    int scalar = t && t->rank == 0 && v->rank == 1 && v->dims[0] == 1;
    int same = t && t->dtype == PKT_F32 && (t->rank == (int)v->rank || scalar);
    for (int d = 0; same && !scalar && d < t->rank; d++) same = t->dims[d] == (int64_t)v->dims[d];
    if (!same)
      return pkt_fail(err, is_in ? PKT_INPUT_SHAPE : PKT_BAD_IO, "vulkan: delegate %s %d is not the float32 tensor "
                      "of the shape its blob was compiled for", is_in ? "input" : "output",
                      is_in ? i : i - io->n_inputs);
  }
  return PKT_OK;
}

static void vk_destroy(void* handle);

static pkt_status build(vk_session* s, const pkt_backend_io* io, pkt_err* err) {
  const pkt_vk_blob* b = &s->blob;
  pkt_status st = check_io(s, io, err);
  if (st != PKT_OK) return st;
  if ((st = pkt_vk_context_create(&s->ctx, b->precision == 1, err)) != PKT_OK) return st;
  s->fp16 = b->precision == 1 && s->ctx.fp16_storage;
  snprintf(s->driver, sizeof s->driver, "%s%s", s->ctx.driver_name,
           b->precision == 1 && !s->fp16 ? " (no 16-bit storage buffers: running fp32)" : "");
  choose_sizes(s);
  s->offset = calloc(b->n_tensors, sizeof *s->offset);
  s->range = calloc(b->n_tensors, sizeof *s->range);
  s->stage_offset = calloc(b->n_tensors, sizeof *s->stage_offset);
  s->sets = calloc(b->n_ops, sizeof *s->sets);
  if (!s->offset || !s->range || !s->stage_offset || !s->sets)
    return pkt_fail(err, PKT_OUT_OF_MEMORY, "vulkan: out of memory");
  VkDeviceSize dev_bytes = 0, stage_bytes = 0;
  if ((st = place_tensors(s, &dev_bytes, &stage_bytes, err)) != PKT_OK) return st;
  const VkBufferUsageFlags transfer = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  if ((st = make_buffer(s, dev_bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | transfer, 0, &s->device, err)) != PKT_OK)
    return st;
  if ((st = make_buffer(s, stage_bytes, transfer, 1, &s->staging, err)) != PKT_OK) return st;
  const pkt_vk_fns* f = &s->ctx.fn;
  VkCommandPoolCreateInfo cpi = {VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, NULL, 0, s->ctx.queue_family};
  VK_TRY(f->vkCreateCommandPool(s->ctx.device, &cpi, NULL, &s->cmd_pool), "vkCreateCommandPool");
  VkFenceCreateInfo fci = {VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, NULL, 0};
  VK_TRY(f->vkCreateFence(s->ctx.device, &fci, NULL, &s->fence), "vkCreateFence");
  if (s->ctx.timestamps) {
    VkQueryPoolCreateInfo qpi = {VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, NULL, 0, VK_QUERY_TYPE_TIMESTAMP, 2, 0};
    VK_TRY(f->vkCreateQueryPool(s->ctx.device, &qpi, NULL, &s->queries), "vkCreateQueryPool");
  }
  if ((st = upload_constants(s, io, err)) != PKT_OK) return st;
  if ((st = make_pipelines(s, err)) != PKT_OK) return st;
  if ((st = make_descriptors(s, err)) != PKT_OK) return st;
  return record(s, err);
}

static pkt_status vk_init(const void* blob, size_t blob_size, const pkt_backend_io* io, void** handle, pkt_err* err) {
  *handle = NULL;
  vk_session* s = calloc(1, sizeof *s);
  if (!s) return pkt_fail(err, PKT_OUT_OF_MEMORY, "vulkan: out of memory");
  pkt_status st = pkt_vk_blob_parse(blob, blob_size, &s->blob, err);
  if (st == PKT_OK) st = build(s, io, err);
  if (st != PKT_OK) {
    vk_destroy(s);
    return st;
  }
  *handle = s;
  return PKT_OK;
}

static pkt_status vk_execute(void* handle, const pkt_backend_io* io) {
  vk_session* s = (vk_session*)handle;
  const pkt_vk_fns* f = &s->ctx.fn;
  const pkt_vk_blob* b = &s->blob;
  if (io->n_inputs != (int)b->n_inputs || io->n_outputs != (int)b->n_outputs) return PKT_BAD_IO;
  for (uint32_t i = 0; i < b->n_inputs; i++) {
    const pkt_vk_tensor* t = &b->tensors[b->inputs[i]];
    if (t->kind == PKT_VK_T_CONSTANT) continue;
    if (io->inputs[i]->numel != t->numel) return PKT_INPUT_SHAPE; /* static shapes only */
    store(s, (char*)s->staging.mapped + s->stage_offset[b->inputs[i]], (const float*)io->inputs[i]->data, t->numel);
  }
  VkSubmitInfo si = {VK_STRUCTURE_TYPE_SUBMIT_INFO, NULL, 0, NULL, NULL, 1, &s->cmd, 0, NULL};
  if (f->vkResetFences(s->ctx.device, 1, &s->fence) != VK_SUCCESS ||
      f->vkQueueSubmit(s->ctx.queue, 1, &si, s->fence) != VK_SUCCESS ||
      f->vkWaitForFences(s->ctx.device, 1, &s->fence, VK_TRUE, UINT64_MAX) != VK_SUCCESS)
    return PKT_INTERNAL;
  for (uint32_t i = 0; i < b->n_outputs; i++) {
    const pkt_vk_tensor* t = &b->tensors[b->outputs[i]];
    load(s, (float*)io->outputs[i]->data, (const char*)s->staging.mapped + s->stage_offset[b->outputs[i]], t->numel);
  }
  if (s->queries) {
    uint64_t ts[2];
    if (f->vkGetQueryPoolResults(s->ctx.device, s->queries, 0, 2, sizeof ts, ts, sizeof ts[0],
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS)
      s->last_ns = (uint64_t)((double)(ts[1] - ts[0]) * s->ctx.props.limits.timestampPeriod);
  }
  return PKT_OK;
}

static void vk_destroy(void* handle) {
  vk_session* s = (vk_session*)handle;
  if (!s) return;
  const pkt_vk_fns* f = &s->ctx.fn;
  VkDevice d = s->ctx.device;
  if (d) {
    if (s->queries) f->vkDestroyQueryPool(d, s->queries, NULL);
    if (s->fence) f->vkDestroyFence(d, s->fence, NULL);
    if (s->cmd_pool) f->vkDestroyCommandPool(d, s->cmd_pool, NULL);
    if (s->pool) f->vkDestroyDescriptorPool(d, s->pool, NULL);
    for (int i = 0; i < PKT_VK_SHADER_COUNT; i++)
      if (s->pipelines[i]) f->vkDestroyPipeline(d, s->pipelines[i], NULL);
    if (s->layout) f->vkDestroyPipelineLayout(d, s->layout, NULL);
    if (s->set_layout) f->vkDestroyDescriptorSetLayout(d, s->set_layout, NULL);
    if (s->cache) f->vkDestroyPipelineCache(d, s->cache, NULL);
    free_buffer(s, &s->device);
    free_buffer(s, &s->staging);
  }
  pkt_vk_context_destroy(&s->ctx);
  pkt_vk_blob_free(&s->blob);
  free(s->offset);
  free(s->range);
  free(s->stage_offset);
  free(s->sets);
  free(s);
}

/* Probed once per process: an instance and a compute device can be created. */
static int g_available;
static pthread_once_t g_probe = PTHREAD_ONCE_INIT;

static void probe(void) {
  pkt_vk_context ctx;
  if (pkt_vk_context_create(&ctx, 0, NULL) == PKT_OK) {
    g_available = 1;
    pkt_vk_context_destroy(&ctx);
  }
}

static int vk_is_available(void) {
  pthread_once(&g_probe, probe);
  return g_available;
}

static const char* vk_device_name(void* handle) { return handle ? ((vk_session*)handle)->ctx.device_name : ""; }
static const char* vk_driver_name(void* handle) { return handle ? ((vk_session*)handle)->driver : ""; }
static uint64_t vk_last_device_ns(void* handle) { return handle ? ((vk_session*)handle)->last_ns : 0; }

const pkt_backend pkt_backend_vulkan = {
    "vulkan", vk_is_available, vk_device_name, vk_driver_name, vk_init, vk_execute, vk_destroy, vk_last_device_ns,
};
