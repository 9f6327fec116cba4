/* The ISA config: what a session's kernels run with, chosen once when the session is created from the
 * CPU's ISA (pkt_cpu_isa(), capped by PKT_MAX_ISA), and pointed at by every node (node->cfg). Kernels
 * take the vector math from it directly, and the compute families (GEMM, conv, Winograd) their micro-kernels
 * and tile sizes through it (pkt_gemm_config(), conv_config(), ...: one table per family, indexed by the
 * config's ISA, in the family's own files so a selective build links only the families it uses).
 * Nothing else looks at the CPU, so the session's choice holds everywhere. After XNNPACK's src/configs/. */
#ifndef PKT_ISA_CONFIG_H
#define PKT_ISA_CONFIG_H

#include "backends/cpu/cpu.h"
#include "compute/vmath/vmath.h"

struct pkt_isa_config {
  pkt_isa isa;
  pkt_act_fn act;
  pkt_vmap_fn vmap;
  pkt_vbinary_fn vbinary; /* NULL: no vector path, the elementwise kernel runs its own loop */
  pkt_vec_max_fn vec_max;
  pkt_vec_exp_sum_fn vec_exp_sum;
  pkt_vec_scale_fn vec_scale;
  pkt_layer_norm_row_fn layer_norm_row;
  unsigned features; /* PKT_CPU_* bits of this ISA the session may use (the int8 GEMM's dot products) */
};
typedef struct pkt_isa_config pkt_isa_config;

/* The config for an ISA this build and CPU can run (an ISA the build lacks gives the portable one), with the
 * features of that ISA pkt_cpu_features() reports. */
const pkt_isa_config* pkt_isa_config_get(pkt_isa isa);

#endif
