/* CPU feature detection, done once; kernels pick their SIMD path from pkt_cpu_isa().
 * PKT_MAX_ISA=portable|avx2|avx512|neon in the environment caps the choice (tests use it to run
 * every implementation on one machine), like oneDNN's ONEDNN_MAX_CPU_ISA. Beside the ISA, the int8
 * instructions some CPUs add (pkt_cpu_features()); "PKT_MAX_ISA=<isa>:<feature>,..." also caps those to the
 * features listed ("avx512:" none, "avx2:avxvnni", "neon:dotprod"); without a colon every feature the CPU has
 * (and the ISA can use) stays. */
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

/* Feature bits (int8 dot products), each usable only with the ISA named. */
enum {
  PKT_CPU_VNNI = 1,    /* AVX512_VNNI (vpdpbusd on zmm), with PKT_ISA_AVX512 */
  PKT_CPU_AVXVNNI = 2, /* AVX-VNNI (vpdpbusd on ymm, VEX), with PKT_ISA_AVX2 or AVX512 */
  PKT_CPU_DOTPROD = 4, /* armv8.2 dotprod (sdot/udot), with PKT_ISA_NEON on arm64 */
  PKT_CPU_I8MM = 8,    /* armv8.6 i8mm (smmla), with PKT_ISA_NEON on arm64 */
  PKT_CPU_FEATURE_COUNT_ = 16
};
/* The features of pkt_cpu_isa()'s ISA the CPU has, capped as the ISA is. */
unsigned pkt_cpu_features(void);
/* The features an ISA can use. */
unsigned pkt_isa_feature_mask(pkt_isa isa);

/* Platform hooks: the PKT_MAX_ISA cap, or NULL; the int8 features the OS reports (arm: hwcaps; x86 reads CPUID
 * itself and this returns 0). */
const char* pkt_platform_isa_cap(void);
unsigned pkt_platform_cpu_features(void);

#endif
