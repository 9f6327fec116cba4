/* dlopen of the Vulkan loader (why: vk_loader.h). PKT_VK_LOADER_LIB overrides the library name (tests point it at
 * nothing to run the no-loader path). */
#include "backends/vulkan/vk_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

static pkt_vk_fns g_fns;
static int g_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void open_loader(void) {
  const char* names[] = {getenv("PKT_VK_LOADER_LIB"), "libvulkan.so.1", "libvulkan.so"};
  void* lib = NULL;
  for (int i = names[0] ? 0 : 1; i < 3 && !lib; i++) {
    lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (i == 0) break; /* an explicit override is the only candidate */
  }
  if (!lib) return;
  g_fns.vkGetInstanceProcAddr = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
  if (!g_fns.vkGetInstanceProcAddr) return;
#define PKT_VK_LOAD(name) g_fns.name = (PFN_##name)g_fns.vkGetInstanceProcAddr(NULL, #name);
  PKT_VK_GLOBAL_FNS(PKT_VK_LOAD)
#undef PKT_VK_LOAD
  g_ok = g_fns.vkCreateInstance != NULL; /* vkEnumerateInstanceVersion is 1.1+: NULL means a 1.0 loader */
}

const pkt_vk_fns* pkt_vk_loader(void) {
  pthread_once(&g_once, open_loader);
  return g_ok ? &g_fns : NULL;
}

int pkt_vk_load_instance(pkt_vk_fns* f, VkInstance instance) {
  int ok = 1;
#define PKT_VK_LOAD(name) ok &= (f->name = (PFN_##name)f->vkGetInstanceProcAddr(instance, #name)) != NULL;
  PKT_VK_INSTANCE_FNS(PKT_VK_LOAD)
#undef PKT_VK_LOAD
  return ok;
}

int pkt_vk_load_device(pkt_vk_fns* f, VkDevice device) {
  int ok = 1;
#define PKT_VK_LOAD(name) ok &= (f->name = (PFN_##name)f->vkGetDeviceProcAddr(device, #name)) != NULL;
  PKT_VK_DEVICE_FNS(PKT_VK_LOAD)
#undef PKT_VK_LOAD
  return ok;
}
