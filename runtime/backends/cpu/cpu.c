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
  int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
  if (avx512f && os_saves(0xE6)) return PKT_ISA_AVX512; /* + opmask, ZMM upper halves, ZMM16-31 */
  if (avx2 && fma) return PKT_ISA_AVX2;
  return PKT_ISA_PORTABLE;
#elif defined(__aarch64__) || defined(__ARM_NEON)
  return PKT_ISA_NEON; /* baseline on arm64; armv7 builds that define __ARM_NEON require it */
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

/* strcmp(a, b) == 0 without libc, for builds that have none (platform_embedded.c). */
static int same_name(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

static pkt_isa cap(pkt_isa found) {
  const char* want = pkt_platform_isa_cap();
  if (!want) return found;
  if (same_name(want, "portable")) return PKT_ISA_PORTABLE;
  if (same_name(want, "avx2") && found == PKT_ISA_AVX512) return PKT_ISA_AVX2;
  return found;
}

pkt_isa pkt_cpu_isa(void) {
  /* Detection is cached (a racy first call is harmless: every thread computes the same value); the cap is
   * read each time, which only happens when a session is created. */
  static int detected = -1;
  if (detected < 0) detected = (int)detect();
  return cap((pkt_isa)detected);
}
