/* Instance, physical device choice (a GPU before a CPU implementation such as lavapipe), the compute queue and
 * the device's properties. Vulkan 1.1 is required (subgroup properties, 16-bit storage features). */
#include "backends/vulkan/vk_context.h"

#include <stdio.h>

static pkt_status no(pkt_err* err, const char* what, VkResult r) {
  return pkt_fail(err, PKT_NOT_SUPPORTED, "vulkan: %s (VkResult %d)", what, (int)r);
}

static int compute_family(const pkt_vk_fns* f, VkPhysicalDevice pd, uint32_t* family) {
  VkQueueFamilyProperties q[16];
  uint32_t n = 16;
  f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
  for (uint32_t i = 0; i < n; i++)
    if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      *family = i;
      return 1;
    }
  return 0;
}

/* Discrete, then integrated, then virtual GPUs, then anything else (CPU implementations). */
static int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    default: return 3;
  }
}

static pkt_status pick_device(pkt_vk_context* c, pkt_err* err) {
  VkPhysicalDevice devs[16];
  uint32_t n = 16;
  VkResult r = c->fn.vkEnumeratePhysicalDevices(c->instance, &n, devs);
  if (r < 0 || n == 0) return no(err, "no physical device", r);
  int best = -1, best_rank = 99;
  for (uint32_t i = 0; i < n; i++) {
    VkPhysicalDeviceProperties p;
    uint32_t fam;
    c->fn.vkGetPhysicalDeviceProperties(devs[i], &p);
    if (p.apiVersion < VK_API_VERSION_1_1 || !compute_family(&c->fn, devs[i], &fam)) continue;
    if (type_rank(p.deviceType) < best_rank) {
      best = (int)i;
      best_rank = type_rank(p.deviceType);
    }
  }
  if (best < 0) return no(err, "no Vulkan 1.1 device with a compute queue", VK_SUCCESS);
  c->phys = devs[best];
  compute_family(&c->fn, c->phys, &c->queue_family);
  return PKT_OK;
}

static void describe(pkt_vk_context* c) {
  VkPhysicalDeviceSubgroupProperties sub = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 p2 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &sub};
  c->fn.vkGetPhysicalDeviceProperties(c->phys, &c->props);
  int has_driver_props = c->props.apiVersion >= VK_API_VERSION_1_2;
  if (has_driver_props) sub.pNext = &drv;
  c->fn.vkGetPhysicalDeviceProperties2(c->phys, &p2);
  c->fn.vkGetPhysicalDeviceMemoryProperties(c->phys, &c->mem);
  c->subgroup_size = sub.subgroupSize ? sub.subgroupSize : 1;
  snprintf(c->device_name, sizeof c->device_name, "%s", c->props.deviceName);
  if (has_driver_props)
    snprintf(c->driver_name, sizeof c->driver_name, "%s %s", drv.driverName, drv.driverInfo);
  else
    snprintf(c->driver_name, sizeof c->driver_name, "driver version 0x%x", c->props.driverVersion);
}

pkt_status pkt_vk_context_create(pkt_vk_context* c, int want_fp16, pkt_err* err) {
  memset(c, 0, sizeof *c);
  const pkt_vk_fns* g = pkt_vk_loader();
  if (!g) return pkt_fail(err, PKT_NOT_SUPPORTED, "vulkan: no Vulkan loader (libvulkan) on this system");
  c->fn = *g;
  uint32_t version = VK_API_VERSION_1_0;
  if (c->fn.vkEnumerateInstanceVersion) c->fn.vkEnumerateInstanceVersion(&version);
  if (version < VK_API_VERSION_1_1) return no(err, "the Vulkan loader is older than 1.1", VK_SUCCESS);
  VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO, NULL, "pockettorch", 1, "pockettorch", 1,
                           VK_API_VERSION_1_1};
  VkInstanceCreateInfo ici = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, NULL, 0, &app, 0, NULL, 0, NULL};
  VkResult r = c->fn.vkCreateInstance(&ici, NULL, &c->instance);
  if (r != VK_SUCCESS) return no(err, "vkCreateInstance failed (no driver?)", r);
  pkt_status st;
  if (!pkt_vk_load_instance(&c->fn, c->instance)) {
    st = no(err, "the loader lacks instance functions", VK_SUCCESS);
    goto fail;
  }
  if ((st = pick_device(c, err)) != PKT_OK) goto fail;
  describe(c);

  VkPhysicalDevice16BitStorageFeatures f16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceFeatures2 feats = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f16};
  c->fn.vkGetPhysicalDeviceFeatures2(c->phys, &feats);
  c->fp16_storage = want_fp16 && f16.storageBuffer16BitAccess;
  VkPhysicalDevice16BitStorageFeatures enable16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  enable16.storageBuffer16BitAccess = (VkBool32)c->fp16_storage;

  VkQueueFamilyProperties q[16];
  uint32_t nq = 16;
  c->fn.vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &nq, q);
  c->timestamps = c->props.limits.timestampComputeAndGraphics && q[c->queue_family].timestampValidBits > 0;

  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, c->queue_family, 1, &prio};
  VkDeviceCreateInfo dci = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &enable16, 0, 1, &qci, 0, NULL, 0, NULL, NULL};
  if ((r = c->fn.vkCreateDevice(c->phys, &dci, NULL, &c->device)) != VK_SUCCESS) {
    st = no(err, "vkCreateDevice failed", r);
    goto fail;
  }
  if (!pkt_vk_load_device(&c->fn, c->device)) {
    st = no(err, "the driver lacks device functions", VK_SUCCESS);
    goto fail;
  }
  c->fn.vkGetDeviceQueue(c->device, c->queue_family, 0, &c->queue);
  return PKT_OK;
fail:
  pkt_vk_context_destroy(c);
  return st;
}

void pkt_vk_context_destroy(pkt_vk_context* c) {
  if (c->device && c->fn.vkDestroyDevice) c->fn.vkDestroyDevice(c->device, NULL);
  if (c->instance && c->fn.vkDestroyInstance) c->fn.vkDestroyInstance(c->instance, NULL);
  c->device = VK_NULL_HANDLE;
  c->instance = VK_NULL_HANDLE;
}

int pkt_vk_memory_type(const pkt_vk_context* c, uint32_t bits, VkMemoryPropertyFlags want) {
  for (uint32_t i = 0; i < c->mem.memoryTypeCount; i++)
    if ((bits & (1u << i)) && (c->mem.memoryTypes[i].propertyFlags & want) == want) return (int)i;
  return -1;
}
