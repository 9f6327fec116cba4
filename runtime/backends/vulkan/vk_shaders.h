/* The Vulkan backend's SPIR-V, generated at build time by shaders.py into vk_shaders.c (not committed). The
 * enum's order is shaders.py's VARIANTS; [1] of each row is the fp16-storage build of the same shader. */
#ifndef PKT_VK_SHADERS_H
#define PKT_VK_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef enum pkt_vk_shader {
  PKT_VK_SH_GEMM, PKT_VK_SH_GEMM_IM2COL, PKT_VK_SH_CONV_DIRECT, PKT_VK_SH_BINARY, PKT_VK_SH_COPY, PKT_VK_SH_POOL,
  PKT_VK_SH_REDUCE, PKT_VK_SH_SOFTMAX, PKT_VK_SH_LAYER_NORM, PKT_VK_SHADER_COUNT
} pkt_vk_shader;

typedef struct pkt_vk_spirv {
  const uint32_t* code;
  size_t size; /* bytes */
} pkt_vk_spirv;

extern const pkt_vk_spirv pkt_vk_shaders[PKT_VK_SHADER_COUNT][2];

#endif
