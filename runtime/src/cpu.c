/* CPU feature detection (see cpu.h). */
#include "cpu.h"

#include <string.h>

static pkt_isa detect(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return PKT_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return PKT_ISA_AVX2;
  return PKT_ISA_PORTABLE;
#elif defined(__aarch64__) || defined(__ARM_NEON)
  return PKT_ISA_NEON;
#else
  return PKT_ISA_PORTABLE;
#endif
}

const char* pkt_isa_name(pkt_isa isa) {
  switch (isa) {
    case PKT_ISA_NEON: return "neon";
    case PKT_ISA_AVX2: return "avx2";
    case PKT_ISA_AVX512: return "avx512";
    default: return "portable";
  }
}

static pkt_isa cap(pkt_isa found) {
  const char* want = pkt_platform_isa_cap();
  if (!want) return found;
  if (strcmp(want, "portable") == 0) return PKT_ISA_PORTABLE;
  if (strcmp(want, "avx2") == 0 && found == PKT_ISA_AVX512) return PKT_ISA_AVX2;
  return found;
}

pkt_isa pkt_cpu_isa(void) {
  /* Detection is cached (a racy first call is harmless: every thread computes the same value); the cap is
   * read each time, which only happens when a session is created. */
  static int detected = -1;
  if (detected < 0) detected = (int)detect();
  return cap((pkt_isa)detected);
}
