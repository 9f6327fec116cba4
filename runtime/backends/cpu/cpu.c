/* CPU feature detection (see cpu.h). */
#include "backends/cpu/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* The OS saves these register states (XCR0 bits), read with xgetbv. */
static int os_saves(unsigned mask) {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  (void)hi;
  return (lo & mask) == mask;
}
#endif

static unsigned detected_features; /* set with the ISA, by detect() */

static pkt_isa detect(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  /* CPUID directly rather than __builtin_cpu_supports: zig's compiler-rt (the cross-built runners)
   * implements that as a stub that reports no features. x86-64 only: the AVX paths (gemm_x86.c) are
   * built for x86-64; 32-bit x86 runs the portable code. */
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return PKT_ISA_PORTABLE;
  int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!osxsave || !avx || !os_saves(0x6)) return PKT_ISA_PORTABLE; /* SSE + AVX state */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return PKT_ISA_PORTABLE;
  int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vnni = (c >> 11) & 1;
  unsigned a1 = 0, b1, c1, d1;
  if (a >= 1) __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
  if (avx2 && fma && ((a1 >> 4) & 1)) detected_features |= PKT_CPU_AVXVNNI;
  if (avx512f && os_saves(0xE6)) { /* + opmask, ZMM upper halves, ZMM16-31 */
    if (avx512vnni && avx512bw) detected_features |= PKT_CPU_VNNI;
    return PKT_ISA_AVX512;
  }
  if (avx2 && fma) return PKT_ISA_AVX2;
  detected_features = 0;
  return PKT_ISA_PORTABLE;
#elif defined(__aarch64__)
  detected_features = pkt_platform_cpu_features() & (PKT_CPU_DOTPROD | PKT_CPU_I8MM);
  return PKT_ISA_NEON; /* baseline on arm64 */
#elif defined(__ARM_NEON)
  return PKT_ISA_NEON; /* armv7 builds that define __ARM_NEON require it */
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

unsigned pkt_isa_feature_mask(pkt_isa isa) {
  switch (isa) {
    case PKT_ISA_AVX512: return PKT_CPU_VNNI | PKT_CPU_AVXVNNI;
    case PKT_ISA_AVX2: return PKT_CPU_AVXVNNI;
#if defined(__aarch64__)
    case PKT_ISA_NEON: return PKT_CPU_DOTPROD | PKT_CPU_I8MM;
#endif
    default: return 0;
  }
}

/* The ISA name of a cap ("avx2" of "avx2:avxvnni") equals `name`; without libc, for builds that have none
 * (platform_embedded.c). */
static int same_name(const char* a, const char* b) {
  while (*a && *a != ':' && *a == *b) a++, b++;
  return (*a == 0 || *a == ':') && *b == 0;
}

/* The features a cap's list (after the colon) names; every feature when it has no colon. */
static unsigned cap_features(const char* want) {
  while (*want && *want != ':') want++;
  if (!*want) return ~0u;
  static const struct { const char* name; unsigned bit; } names[] = {
      {"vnni", PKT_CPU_VNNI}, {"avxvnni", PKT_CPU_AVXVNNI}, {"dotprod", PKT_CPU_DOTPROD}, {"i8mm", PKT_CPU_I8MM}};
  unsigned bits = 0;
  for (const char* p = want + 1; *p;) {
    const char* e = p;
    while (*e && *e != ',') e++;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
      const char *a = p, *b = names[i].name;
      while (a < e && *b && *a == *b) a++, b++;
      if (a == e && !*b) bits |= names[i].bit;
    }
    p = *e ? e + 1 : e;
  }
  return bits;
}

static pkt_isa cap(pkt_isa found) {
  const char* want = pkt_platform_isa_cap();
  if (!want) return found;
  if (same_name(want, "portable")) return PKT_ISA_PORTABLE;
  if (same_name(want, "avx2") && found == PKT_ISA_AVX512) return PKT_ISA_AVX2;
  return found;
}

static int detected = -1;

pkt_isa pkt_cpu_isa(void) {
  /* Detection is cached (a racy first call is harmless: every thread computes the same value); the cap is
   * read each time, which only happens when a session is created. */
  if (detected < 0) detected = (int)detect();
  return cap((pkt_isa)detected);
}

unsigned pkt_cpu_features(void) {
  pkt_isa isa = pkt_cpu_isa();
  const char* want = pkt_platform_isa_cap();
  return detected_features & pkt_isa_feature_mask(isa) & (want ? cap_features(want) : ~0u);
}
