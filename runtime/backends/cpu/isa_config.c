/* The ISA configs (see isa_config.h): one constant table, built per target. */
#include "backends/cpu/isa_config.h"

#include <stddef.h>

/* The SIMD activations, maps and binary arithmetic (a few KB each ISA) are linked only into a build with a kernel
 * that calls them (cfg->act / vmap / vbinary, or the GEMM and conv families' fused activations); a selective build
 * without one (data movement only, as the size figures' core) keeps the portable ones. A kernel missing from this
 * list would still get right answers, from the portable C. */
#if !defined(PKT_SELECTIVE_BUILD) || defined(PKT_WITH_BINARY) || defined(PKT_WITH_UNARY) ||                  \
    defined(PKT_WITH_CONV2D) || defined(PKT_WITH_CONV_DW_PW) || defined(PKT_WITH_CONV_PW_DW) ||              \
    defined(PKT_WITH_CONV_TRANSPOSE2D) || defined(PKT_WITH_LINEAR) || defined(PKT_WITH_LSTM) ||              \
    defined(PKT_WITH_MATMUL) || defined(PKT_WITH_SDPA) || defined(PKT_WITH_LINEAR_WO)
#define MAPS(act, vmap, vbinary) act, vmap, vbinary
#else
#define MAPS(act, vmap, vbinary) pkt_act_portable, pkt_vmap_portable, NULL
#endif

#define PORTABLE_FNS pkt_act_portable, pkt_vmap_portable, NULL, pkt_vec_max_portable, pkt_vec_exp_sum_portable, \
                     pkt_vec_scale_portable, pkt_layer_norm_row_portable
#if defined(PKT_VMATH_HAVE_NEON64)
#define NEON_FNS MAPS(pkt_act_neon, pkt_vmap_neon, pkt_vbinary_neon), pkt_vec_max_neon, pkt_vec_exp_sum_neon, \
                 pkt_vec_scale_neon, pkt_layer_norm_row_neon
#else /* armv7 NEON (or another target's config): the GEMM and conv micro-kernels are NEON, the vector math
        portable */
#define NEON_FNS PORTABLE_FNS
#endif
#define AVX2_FNS MAPS(pkt_act_avx2, pkt_vmap_avx2, pkt_vbinary_avx2), pkt_vec_max_avx2, pkt_vec_exp_sum_avx2, \
                 pkt_vec_scale_avx2, pkt_layer_norm_row_avx2
#define AVX512_FNS MAPS(pkt_act_avx512, pkt_vmap_avx512, pkt_vbinary_avx512), pkt_vec_max_avx512, \
                   pkt_vec_exp_sum_avx512, pkt_vec_scale_avx512, pkt_layer_norm_row_avx512
/* One config per ISA and feature set (features outside the ISA's mask never occur). */
#define VARIANTS(isa, fns)                                                                                   \
  {{isa, fns, 0},  {isa, fns, 1},  {isa, fns, 2},  {isa, fns, 3},  {isa, fns, 4},  {isa, fns, 5},          \
   {isa, fns, 6},  {isa, fns, 7},  {isa, fns, 8},  {isa, fns, 9},  {isa, fns, 10}, {isa, fns, 11},         \
   {isa, fns, 12}, {isa, fns, 13}, {isa, fns, 14}, {isa, fns, 15}}

static const pkt_isa_config configs[][PKT_CPU_FEATURE_COUNT_] = {
    [PKT_ISA_PORTABLE] = VARIANTS(PKT_ISA_PORTABLE, PORTABLE_FNS),
    [PKT_ISA_NEON] = VARIANTS(PKT_ISA_NEON, NEON_FNS),
#if defined(PKT_VMATH_HAVE_X86)
    [PKT_ISA_AVX2] = VARIANTS(PKT_ISA_AVX2, AVX2_FNS),
    [PKT_ISA_AVX512] = VARIANTS(PKT_ISA_AVX512, AVX512_FNS),
#endif
};

const pkt_isa_config* pkt_isa_config_get(pkt_isa isa) {
  if ((unsigned)isa >= sizeof configs / sizeof configs[0] || !configs[isa][0].act) return &configs[PKT_ISA_PORTABLE][0];
  return &configs[isa][pkt_cpu_features() & pkt_isa_feature_mask(isa)];
}
