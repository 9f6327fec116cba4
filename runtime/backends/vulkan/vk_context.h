/* One Vulkan instance + device + compute queue, with what the backend needs to know about it: subgroup size,
 * workgroup limits, fp16 storage, timestamps, names. */
#ifndef PKT_VK_CONTEXT_H
#define PKT_VK_CONTEXT_H

#include "backends/vulkan/vk_loader.h"
#include "core/kernel.h"

typedef struct pkt_vk_context {
  pkt_vk_fns fn;
  VkInstance instance;
  VkPhysicalDevice phys;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem;
  uint32_t subgroup_size;
  int fp16_storage;    /* storageBuffer16BitAccess is enabled on the device */
  int timestamps;      /* the compute queue writes timestamps */
  char device_name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  char driver_name[2 * VK_MAX_DRIVER_NAME_SIZE + 2];
} pkt_vk_context;

/* Creates the instance and device (fp16 storage enabled when `want_fp16` and the device has it). Never crashes
 * without a loader, driver or device: it returns PKT_NOT_SUPPORTED with the reason. */
pkt_status pkt_vk_context_create(pkt_vk_context* ctx, int want_fp16, pkt_err* err);
void pkt_vk_context_destroy(pkt_vk_context* ctx);
/* The index of a memory type with `want` flags among `bits`, or -1. */
int pkt_vk_memory_type(const pkt_vk_context* ctx, uint32_t bits, VkMemoryPropertyFlags want);

#endif
