/* int8 depthwise planes: the scratch size, the exactness check, the dispatch on the session's ISA config, and the
 * portable instantiation of qdw_impl.h (see qdw.h). */
#include "compute/qdw/qdw.h"

#include <math.h>
#include <string.h>

size_t pkt_qdw_scratch(int64_t H, int64_t W, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  pkt_qdw_layout L;
  pkt_qdw_geometry(H, W, sh, sw, ph, pw, &L);
  const int64_t sums = (L.Wq > PKT_QDW_BAND ? L.Wq : PKT_QDW_BAND) + PKT_QDW_SLACK;
  /* the phases of int16 (qdw_impl.h), or of int16 pairs (the x86 pair kernel): room for the larger */
  const int64_t halves = sh * (sw > 2 ? sw : 2) * L.Hq * L.Wq + 2 * PKT_QDW_SLACK;
  size_t bytes = (size_t)halves * 2u + 64u + (size_t)sums * 4u; /* 64: the sums start aligned */
  return (bytes + 63) & ~(size_t)63;
}

int pkt_qdw_exact(int32_t bias, float scale, int64_t kh, int64_t kw) {
  const double most = (double)kh * (double)kw * 255.0 * 128.0; /* |sum (x - iz) * w| */
  return fabs((double)bias) + most < 2147483647.0 && isfinite(scale);
}

#define QD_NAME(x) x##_portable
#define QD_TARGET
#define QD_REQUANT pkt_qdw_requant_scalar
#include "compute/qdw/qdw_impl.h"
#undef QD_NAME
#undef QD_TARGET
#undef QD_REQUANT

static pkt_isa qdw_isa(const pkt_isa_config* cfg) {
  switch (cfg->isa) {
#if defined(PKT_QDW_HAVE_X86)
    case PKT_ISA_AVX512:
    case PKT_ISA_AVX2:
      return cfg->isa;
#endif
#if defined(PKT_QDW_HAVE_NEON)
    case PKT_ISA_NEON:
      return PKT_ISA_NEON;
#endif
    default:
      return PKT_ISA_PORTABLE;
  }
}

void pkt_qdw_plane(const pkt_isa_config* cfg, const pkt_qdw_args* a) {
  switch (qdw_isa(cfg)) {
#if defined(PKT_QDW_HAVE_X86)
    case PKT_ISA_AVX512:
      if ((cfg->features & PKT_CPU_VNNI) && pkt_qdw_pair_fits(a))
        pkt_qdw_plane_avx512vnni(a); /* VNNI comes with AVX512BW */
      else
        pkt_qdw_plane_avx512(a);
      return;
    case PKT_ISA_AVX2: pkt_qdw_plane_avx2(a); return;
#endif
#if defined(PKT_QDW_HAVE_NEON)
    case PKT_ISA_NEON: pkt_qdw_plane_neon(a); return;
#endif
    default: pkt_qdw_plane_portable(a);
  }
}

const char* pkt_qdw_kernel_name(const pkt_isa_config* cfg) { return pkt_isa_name(qdw_isa(cfg)); }
