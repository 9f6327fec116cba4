/* The Vulkan loader, opened at run time (dlopen) rather than linked: one binary (the Python binding, the runner,
 * an app) then runs on machines with and without libvulkan, and is_available() is simply false where it is
 * missing. Android's NDK would allow linking libvulkan directly (API 24+), but a phone without a Vulkan driver
 * would then fail to load the whole app, so the SDK gets the same dlopen path. */
#ifndef PKT_VK_LOADER_H
#define PKT_VK_LOADER_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#define PKT_VK_GLOBAL_FNS(X) X(vkCreateInstance) X(vkEnumerateInstanceVersion)

#define PKT_VK_INSTANCE_FNS(X)                                                                                    \
  X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties)                             \
  X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceFeatures2) X(vkGetPhysicalDeviceQueueFamilyProperties)   \
  X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice) X(vkGetDeviceProcAddr)

#define PKT_VK_DEVICE_FNS(X)                                                                                      \
  X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements)    \
  X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory) X(vkMapMemory) X(vkUnmapMemory)                       \
  X(vkCreateShaderModule) X(vkDestroyShaderModule) X(vkCreatePipelineCache) X(vkDestroyPipelineCache)             \
  X(vkCreateComputePipelines) X(vkDestroyPipeline) X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout)           \
  X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) X(vkCreateDescriptorPool)                        \
  X(vkDestroyDescriptorPool) X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets) X(vkCreateCommandPool)         \
  X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) X(vkBeginCommandBuffer) X(vkEndCommandBuffer)               \
  X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) X(vkCmdPushConstants) X(vkCmdDispatch)                          \
  X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkCmdWriteTimestamp) X(vkCmdResetQueryPool) X(vkCreateQueryPool)   \
  X(vkDestroyQueryPool) X(vkGetQueryPoolResults) X(vkCreateFence) X(vkDestroyFence) X(vkResetFences)              \
  X(vkWaitForFences) X(vkQueueSubmit)

typedef struct pkt_vk_fns {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
#define PKT_VK_DECL(name) PFN_##name name;
  PKT_VK_GLOBAL_FNS(PKT_VK_DECL)
  PKT_VK_INSTANCE_FNS(PKT_VK_DECL)
  PKT_VK_DEVICE_FNS(PKT_VK_DECL)
#undef PKT_VK_DECL
} pkt_vk_fns;

/* Opens the loader once (thread-safe) and fills the global entry points; NULL when there is no loader. */
const pkt_vk_fns* pkt_vk_loader(void);
/* Instance-level entry points into `f`; 0 when one is missing. */
int pkt_vk_load_instance(pkt_vk_fns* f, VkInstance instance);
int pkt_vk_load_device(pkt_vk_fns* f, VkDevice device);

#endif
