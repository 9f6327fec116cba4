/* CPU feature detection, done once; kernels pick their SIMD path from pkt_cpu_isa().
 * PKT_MAX_ISA=portable|avx2|avx512|neon in the environment caps the choice (tests use it to run
 * every implementation on one machine), like oneDNN's ONEDNN_MAX_CPU_ISA. */
#ifndef PKT_CPU_H
#define PKT_CPU_H

typedef enum pkt_isa {
  PKT_ISA_PORTABLE = 0,
  PKT_ISA_NEON = 1,   /* arm64 / armv7 with NEON */
  PKT_ISA_AVX2 = 2,   /* x86-64 with AVX2 + FMA */
  PKT_ISA_AVX512 = 3  /* x86-64 with AVX-512F */
} pkt_isa;

pkt_isa pkt_cpu_isa(void);
const char* pkt_isa_name(pkt_isa isa);

/* Platform hook: the PKT_MAX_ISA cap, or NULL. */
const char* pkt_platform_isa_cap(void);

#endif
