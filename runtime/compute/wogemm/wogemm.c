/* Weight-only GEMV / small-M GEMM driver and the portable micro-kernels (see wogemm.h). */
#include "compute/wogemm/wogemm.h"

#define WO_W8 pkt_wogemm_w8_portable
#define WO_W4 pkt_wogemm_w4_portable
#define WO_BLOCK wo_block_portable
#define WO_TARGET
#define V float
#define VL 1
#define VZERO() 0.f
#define VLOAD(p) (*(p))
#define VSET(f) (f)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VHSUM(v) (v)
#define W8(p) ((float)*(const int8_t*)(p))
#define W4(p, lo, hi) (lo = (float)((*(p) & 15) - 8), hi = (float)((*(p) >> 4) - 8))
#include "compute/wogemm/wogemm_impl.h"

/* Designated fields: the kernels without their own int4 x order leave w4_fits/w4_pack/w4_block zero (clang warns of
 * missing positional initializers). */
static const pkt_wogemm_config configs[] = {
    [PKT_ISA_PORTABLE] = {.name = "portable", .vl = 1, .w8 = pkt_wogemm_w8_portable, .w4 = pkt_wogemm_w4_portable},
#ifdef PKT_WOGEMM_HAVE_NEON
    [PKT_ISA_NEON] = {.name = "neon", .vl = 4, .w8 = pkt_wogemm_w8_neon, .w4 = pkt_wogemm_w4_neon},
#endif
#ifdef PKT_WOGEMM_HAVE_X86
    [PKT_ISA_AVX2] = {.name = "avx2", .vl = 8, .w8 = pkt_wogemm_w8_avx2, .w4 = pkt_wogemm_w4_avx2},
    [PKT_ISA_AVX512] = {.name = "avx512", .vl = 16, .w8 = pkt_wogemm_w8_avx512, .w4 = pkt_wogemm_w4_avx512,
                        .w4_fits = pkt_wogemm_w4_avx512_fits, .w4_pack = pkt_wogemm_pack_w4_avx512, .w4_block = 128},
#endif
};

const pkt_wogemm_config* pkt_wogemm_config_of(const pkt_isa_config* cfg) {
  unsigned i = (unsigned)cfg->isa;
  return i < sizeof configs / sizeof configs[0] && configs[i].w8 ? &configs[i] : &configs[PKT_ISA_PORTABLE];
}

static int fits(const pkt_wogemm_config* c, int bits, int group_size) {
  if (bits == 8) return group_size % c->vl == 0;
  return c->w4_fits ? c->w4_fits(group_size) : group_size % (2 * c->vl) == 0;
}

const pkt_wogemm_config* pkt_wogemm_config_for(const pkt_isa_config* cfg, int bits, int group_size) {
  const pkt_wogemm_config* c = pkt_wogemm_config_of(cfg);
  for (unsigned i = (unsigned)(c - configs); i > PKT_ISA_PORTABLE; i--) /* a build's lower x86 ISAs run here too */
    if (configs[i].w8 && fits(&configs[i], bits, group_size)) return &configs[i];
  return &configs[PKT_ISA_PORTABLE];
}

/* int4 on a SIMD config reads x reordered: per step of 2 vl, the even elements then the odd ones, or w4_pack's. */
static int reorders(const pkt_wogemm_config* c, int bits) { return bits == 4 && c->vl > 1; }

/* x's row stride in the scratch: K, or K padded to w4_pack's blocks. */
static int64_t packed_k(const pkt_wogemm_config* c, int64_t K) {
  return c->w4_pack ? (K + c->w4_block - 1) / c->w4_block * c->w4_block : K;
}

size_t pkt_wogemm_scratch_bytes(const pkt_isa_config* cfg, int bits, int group_size, int64_t M, int64_t K) {
  const pkt_wogemm_config* c = pkt_wogemm_config_for(cfg, bits, group_size);
  if (!reorders(c, bits) || M <= 0 || K <= 0) return 0;
  if (K > INT64_MAX - 1024) return SIZE_MAX; /* padding K to w4_block cannot overflow */
  const int64_t Kp = packed_k(c, K);
  if ((uint64_t)M > SIZE_MAX / sizeof(float) / (uint64_t)Kp) return SIZE_MAX;
  return (size_t)M * (size_t)Kp * sizeof(float);
}

static void reorder_x(int64_t M, int64_t K, int vl, const float* x, float* xp) {
  const int64_t step = 2 * (int64_t)vl;
  for (int64_t m = 0; m < M; m++)
    for (int64_t k0 = 0; k0 < K; k0 += step)
      for (int j = 0; j < vl; j++) {
        xp[m * K + k0 + j] = x[m * K + k0 + 2 * j];
        xp[m * K + k0 + vl + j] = x[m * K + k0 + 2 * j + 1];
      }
}

typedef struct wo_job {
  const pkt_wogemm_args* a;
  pkt_wogemm_ukernel uk;
  const float* x;
  int64_t ldx;
  pkt_act_fn act_fn;
} wo_job;

/* Chunks of 16 weight rows (begin / end count chunks), every x row against them. */
static void wo_range(void* ctx, int64_t begin, int64_t end) {
  const wo_job* j = ctx;
  const pkt_wogemm_args* a = j->a;
  const int64_t n0 = begin * 16, n1 = end * 16 < a->N ? end * 16 : a->N, groups = a->K / a->group_size;
  const int64_t ldq = a->bits == 8 ? a->K : a->K / 2;
  for (int64_t m = 0; m < a->M; m += PKT_WOGEMM_MR) {
    int mb = (int)(a->M - m < PKT_WOGEMM_MR ? a->M - m : PKT_WOGEMM_MR);
    j->uk(mb, n1 - n0, a->K, a->group_size, j->x + m * j->ldx, j->ldx, (const uint8_t*)a->q + n0 * ldq, ldq,
          a->scales + n0 * groups, a->y + m * a->N + n0, a->N);
  }
  for (int64_t m = 0; m < a->M; m++) {
    float* y = a->y + m * a->N + n0;
    if (a->bias)
      for (int64_t n = 0; n < n1 - n0; n++) y[n] += a->bias[n0 + n];
    j->act_fn(y, n1 - n0, a->act, a->act_min, a->act_max);
  }
}

void pkt_wogemm(const pkt_node* node, const pkt_isa_config* cfg, const pkt_wogemm_args* a) {
  if (a->M <= 0 || a->N <= 0) return;
  const pkt_wogemm_config* c = pkt_wogemm_config_for(cfg, a->bits, a->group_size);
  wo_job j = {a, a->bits == 8 ? c->w8 : c->w4, a->x, a->K, cfg->act};
  if (reorders(c, a->bits) && a->K > 0) {
    if (c->w4_pack)
      c->w4_pack(a->M, a->K, a->x, a->scratch);
    else
      reorder_x(a->M, a->K, c->vl, a->x, a->scratch);
    j.x = a->scratch;
    j.ldx = packed_k(c, a->K);
  }
  int64_t chunks = (a->N + 15) / 16;
  int threads = node && node->pool ? node->num_threads : 1;
  if ((double)a->M * (double)a->N * (double)a->K < (double)(1 << 17)) threads = 1;
  if (threads > 1)
    pkt_parallel_for(node, chunks, wo_range, &j);
  else
    wo_range(&j, 0, chunks);
}
