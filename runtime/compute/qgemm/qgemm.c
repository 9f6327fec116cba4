/* int8 GEMM: the family's configs, B packing, the threaded driver, the shared epilogue, the portable
 * micro-kernel and row quantization (see qgemm.h and qgemm_internal.h). */
#include "compute/qgemm/qgemm_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- configs ---- */
static const pkt_qgemm_config portable = {"portable_4x16", pkt_qgemm_ukernel_portable, 4, 16, 1};
#if defined(PKT_QGEMM_HAVE_X86)
static const pkt_qgemm_config avx512vnni = {"avx512vnni_12x32", pkt_qgemm_ukernel_avx512vnni_12x32, 12, 32, 4};
static const pkt_qgemm_config avxvnni = {"avxvnni_6x16", pkt_qgemm_ukernel_avxvnni_6x16, 6, 16, 4};
static const pkt_qgemm_config avx2 = {"avx2_3x8", pkt_qgemm_ukernel_avx2_3x8, 3, 8, 8};
#endif
#if defined(PKT_QGEMM_HAVE_NEON64)
static const pkt_qgemm_config neon_i8mm = {"neon_i8mm_4x16", pkt_qgemm_ukernel_neon_i8mm_4x16, 4, 16, 8};
static const pkt_qgemm_config neon_sdot = {"neon_sdot_4x16", pkt_qgemm_ukernel_neon_sdot_4x16, 4, 16, 4};
#endif
#if defined(PKT_QGEMM_HAVE_NEON)
static const pkt_qgemm_config neon = {"neon_4x8", pkt_qgemm_ukernel_neon_4x8, 4, 8, 1};
#endif

/* The micro-kernel of the config's ISA and int8 features (an AVX-512 CPU without VNNI takes the AVX2 kernels). */
const pkt_qgemm_config* pkt_qgemm_config_of(const pkt_isa_config* cfg) {
  switch (cfg->isa) {
#if defined(PKT_QGEMM_HAVE_X86)
    case PKT_ISA_AVX512:
      if (cfg->features & PKT_CPU_VNNI) return &avx512vnni;
      /* fall through */
    case PKT_ISA_AVX2:
      return cfg->features & PKT_CPU_AVXVNNI ? &avxvnni : &avx2;
#endif
#if defined(PKT_QGEMM_HAVE_NEON)
    case PKT_ISA_NEON:
#if defined(PKT_QGEMM_HAVE_NEON64)
      if (cfg->features & PKT_CPU_I8MM) return &neon_i8mm;
      if (cfg->features & PKT_CPU_DOTPROD) return &neon_sdot;
#endif
      return &neon;
#endif
    default:
      return &portable;
  }
}

const char* pkt_qgemm_kernel_name(const pkt_isa_config* cfg) { return pkt_qgemm_config_of(cfg)->name; }

/* ---- packing ---- */
size_t pkt_qgemm_packed_size(const pkt_isa_config* cfg, int64_t K, int64_t N) {
  const pkt_qgemm_config* qc = pkt_qgemm_config_of(cfg);
  int64_t panels = (N + qc->nr - 1) / qc->nr;
  return (size_t)panels * qgemm_panel_bytes(qc, K);
}

void pkt_qgemm_pack_b(const pkt_isa_config* cfg, const int8_t* B, int64_t stride_k, int64_t stride_n, int64_t K,
                      int64_t N, const int32_t* bias, void* packed) {
  const pkt_qgemm_config* qc = pkt_qgemm_config_of(cfg);
  const int NR = qc->nr, KR = qc->kr;
  const int64_t Kp = qgemm_kpad(K, KR);
  const size_t panel_bytes = qgemm_panel_bytes(qc, K);
  for (int64_t n0 = 0, p = 0; n0 < N; n0 += NR, p++) {
    uint8_t* panel = (uint8_t*)packed + (size_t)p * panel_bytes;
    int32_t* colsum = (int32_t*)(void*)panel;
    int32_t* pbias = colsum + NR;
    int8_t* w = (int8_t*)(panel + (size_t)NR * 8u);
    memset(w, 0, (size_t)(Kp * NR));
    for (int j = 0; j < NR; j++) {
      int32_t sum = 0;
      if (n0 + j < N) {
        const int8_t* src = B + (n0 + j) * stride_n;
        int8_t* dst = w + j * KR;
        for (int64_t k0 = 0; k0 < K; k0 += KR, dst += NR * KR) /* one k-group of column j: KR bytes */
          for (int64_t k = k0; k < k0 + KR && k < K; k++) {
            int8_t v = src[k * stride_k];
            dst[k - k0] = v;
            sum += v;
          }
      }
      colsum[j] = sum;
      pbias[j] = bias && n0 + j < N ? bias[n0 + j] : 0;
    }
  }
}

/* Panels [p0, p1) of B rows [K, N]: each k-group's KR rows read in order, column sums on the way (per call: the
 * packed bias is 0). */
void pkt_qgemm_pack_rows_portable(const pkt_qgemm_config* qc, const int8_t* B, int64_t ldb, int64_t K, int64_t N,
                                  int64_t p0, int64_t p1, void* packed) {
  const int NR = qc->nr, KR = qc->kr;
  const size_t panel_bytes = qgemm_panel_bytes(qc, K);
  for (int64_t p = p0; p < p1; p++) {
    uint8_t* panel = (uint8_t*)packed + (size_t)p * panel_bytes;
    int32_t* colsum = (int32_t*)(void*)panel;
    int8_t* w = (int8_t*)(panel + (size_t)NR * 8u);
    const int64_t n0 = p * NR, nc = N - n0 < NR ? N - n0 : NR;
    memset(panel, 0, panel_bytes);
    for (int64_t k = 0; k < K; k++) {
      const int8_t* src = B + k * ldb + n0;
      int8_t* dst = w + (k / KR) * NR * KR + k % KR;
      for (int64_t j = 0; j < nc; j++) {
        dst[j * KR] = src[j];
        colsum[j] += src[j];
      }
    }
  }
}

typedef struct pack_rows_job {
  const pkt_qgemm_config* qc;
  const pkt_isa_config* cfg;
  const int8_t* B;
  int64_t ldb, K, N;
  void* packed;
} pack_rows_job;

static void pack_rows_range(void* ctx, int64_t p0, int64_t p1) {
  const pack_rows_job* j = ctx;
#if defined(PKT_QGEMM_HAVE_X86)
  if (j->qc->kr == 4 && (j->cfg->isa == PKT_ISA_AVX2 || j->cfg->isa == PKT_ISA_AVX512)) {
    pkt_qgemm_pack_rows_kr4_avx2(j->qc, j->B, j->ldb, j->K, j->N, p0, p1, j->packed);
    return;
  }
#endif
  pkt_qgemm_pack_rows_portable(j->qc, j->B, j->ldb, j->K, j->N, p0, p1, j->packed);
}

void pkt_qgemm_pack_b_rows(const pkt_node* node, const pkt_isa_config* cfg, const int8_t* B, int64_t ldb, int64_t K,
                           int64_t N, void* packed) {
  pack_rows_job j = {pkt_qgemm_config_of(cfg), cfg, B, ldb, K, N, packed};
  const int64_t panels = (N + j.qc->nr - 1) / j.qc->nr;
  if (node && node->pool && (double)K * (double)N >= (double)(1 << 16))
    pkt_parallel_for(node, panels, pack_rows_range, &j);
  else
    pack_rows_range(&j, 0, panels);
}

/* ---- epilogue ---- */
void pkt_qgemm_finish_cols(const qgemm_tile* t, int r, const int32_t* dot, int shift, int j0) {
  const pkt_qgemm_args* g = t->g;
  const int64_t m = t->m0 + r;
  const int32_t* colsum = qgemm_colsum(t->panel);
  const int32_t* bias = qgemm_bias(t->panel, pkt_qgemm_config_of(t->cfg)->nr);
  const int32_t zs = qgemm_row_zp(g, m) + shift;
  if (g->epilogue == PKT_QGEMM_REQUANT) {
    const float lo = qgemm_lo(g), hi = qgemm_hi(g);
    int8_t* c = g->C8 + m * g->ldc + t->n0;
    const int32_t rb = qgemm_row_bias(g, m);
    const float* cs = qgemm_col_scale(t);
    for (int j = j0; j < t->nr; j++) {
      float f = (float)(int32_t)((uint32_t)qgemm_compensate(dot[j], bias[j], zs, colsum[j]) + (uint32_t)rb) *
                (cs ? cs[j] : g->row_scale[m]);
      f = f < lo ? lo : f > hi ? hi : f;
      c[j] = (int8_t)((int32_t)nearbyintf(f) + g->c_zp);
    }
  } else {
    const float s = g->a_scale[m];
    float* c = g->Cf + m * g->ldc + t->n0;
    for (int j = j0; j < t->nr; j++) {
      c[j] = (float)qgemm_compensate(dot[j], bias[j], zs, colsum[j]) * s * g->w_scale[t->n0 + j];
      if (g->fbias) c[j] += g->fbias[t->n0 + j];
    }
  }
}

/* ---- portable micro-kernel: 4 rows x a 16-column panel, kr 1 ---- */
void pkt_qgemm_ukernel_portable(const qgemm_tile* t) {
  enum { MR = 4, NR = 16 };
  const pkt_qgemm_args* g = t->g;
  const int8_t* w = qgemm_weights(t->panel, NR);
  int32_t acc[MR][NR];
  memset(acc, 0, sizeof acc);
  const int8_t* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = g->A + (t->m0 + (r < t->mr ? r : t->mr - 1)) * g->lda;
  for (int64_t k = 0; k < g->K; k++) {
    const int8_t* b = w + k * NR;
    for (int r = 0; r < MR; r++) {
      int32_t a = rows[r][k];
      for (int j = 0; j < NR; j++) acc[r][j] += a * (int32_t)b[j];
    }
  }
  for (int r = 0; r < t->mr; r++) {
    pkt_qgemm_finish_cols(t, r, acc[r], 0, 0);
    qgemm_row_act(t, r);
  }
}

/* ---- driver ---- */
/* Products with fewer multiply-adds than this run on the calling thread. */
#define QGEMM_SERIAL_MACS (1 << 18)

typedef struct qgemm_job {
  const pkt_qgemm_args* g;
  const pkt_isa_config* cfg;
  const pkt_qgemm_config* qc;
  size_t panel_bytes;
  int64_t panels, row_blocks, panels_per_chunk;
  int split_rows;
} qgemm_job;

static void run_tile(const qgemm_job* j, int64_t rb, int64_t p) {
  const pkt_qgemm_args* g = j->g;
  int32_t dot[QGEMM_MAX_TILE];
  qgemm_tile t;
  t.dot = dot;
  t.g = g;
  t.cfg = j->cfg;
  t.panel = (const uint8_t*)g->packed_b + (size_t)p * j->panel_bytes;
  t.m0 = rb * j->qc->mr;
  t.n0 = p * j->qc->nr;
  t.mr = (int)(g->M - t.m0 < j->qc->mr ? g->M - t.m0 : j->qc->mr);
  t.nr = (int)(g->N - t.n0 < j->qc->nr ? g->N - t.n0 : j->qc->nr);
  j->qc->ukernel(&t);
}

static void qgemm_range(void* ctx, int64_t begin, int64_t end) {
  const qgemm_job* j = ctx;
  if (j->split_rows) {
    /* Panels in chunks that stay in L2 while this task's row blocks stream past them. */
    for (int64_t p0 = 0; p0 < j->panels; p0 += j->panels_per_chunk) {
      int64_t p1 = p0 + j->panels_per_chunk < j->panels ? p0 + j->panels_per_chunk : j->panels;
      for (int64_t rb = begin; rb < end; rb++)
        for (int64_t p = p0; p < p1; p++) run_tile(j, rb, p);
    }
  } else {
    for (int64_t p = begin; p < end; p++)
      for (int64_t rb = 0; rb < j->row_blocks; rb++) run_tile(j, rb, p);
  }
}

void pkt_qgemm(const pkt_node* node, const pkt_isa_config* cfg, const pkt_qgemm_args* g) {
  if (g->M <= 0 || g->N <= 0) return;
  qgemm_job j;
  j.g = g;
  j.cfg = cfg;
  j.qc = pkt_qgemm_config_of(cfg);
  j.panel_bytes = qgemm_panel_bytes(j.qc, g->K);
  j.panels = (g->N + j.qc->nr - 1) / j.qc->nr;
  j.row_blocks = (g->M + j.qc->mr - 1) / j.qc->mr;
  j.panels_per_chunk = (int64_t)((256u * 1024u) / j.panel_bytes);
  if (j.panels_per_chunk < 1) j.panels_per_chunk = 1;
  int threads = node && node->pool ? node->num_threads : 1;
  if ((double)g->M * (double)g->N * (double)g->K < (double)QGEMM_SERIAL_MACS) threads = 1;
  /* Split whichever dimension leaves the threads most evenly loaded (rows on a tie), as pkt_gemm does. */
  j.split_rows = 1;
  if (threads > 1) {
    int64_t rows_per = (j.row_blocks + threads - 1) / threads * j.qc->mr;
    int64_t cols_per = (j.panels + threads - 1) / threads * j.qc->nr;
    double row_load = (double)(rows_per < g->M ? rows_per : g->M) * (double)g->N;
    double col_load = (double)(cols_per < g->N ? cols_per : g->N) * (double)g->M;
    j.split_rows = row_load <= col_load;
    pkt_parallel_for(node, j.split_rows ? j.row_blocks : j.panels, qgemm_range, &j);
  } else {
    qgemm_range(&j, 0, j.row_blocks);
  }
}

/* ---- row quantization ---- */
/* One row's parameters as torch.ops.quantized_decomposed.choose_qparams.tensor computes them in float32 (range
 * widened to include 0, scale = range / 255 kept >= FLT_EPSILON, zero point -128 - round(min / scale) clamped);
 * quantize_per_tensor then multiplies by 1 / scale computed in double and rounded to float. A row holding NaN
 * or an infinity gets scale NaN (zero point 0, q 0): its products are NaN, as eager's dequantized row gives
 * NaN everywhere it holds a finite value (0 * inf) or a NaN. */
int pkt_qgemm_row_qparams(const float* row, int64_t k, int64_t K, float mn, float mx, int finite, int8_t* qr,
                          float* scale, int32_t* zp, float* inv) {
  for (; k < K; k++) {
    float v = row[k];
    finite &= fabsf(v) <= FLT_MAX;
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  if (!finite) {
    *scale = NAN;
    *zp = 0;
    memset(qr, 0, (size_t)K);
    return 0;
  }
  mn = mn < 0.f ? mn : 0.f;
  mx = mx > 0.f ? mx : 0.f;
  float s = (mx - mn) / 255.f;
  s = s > FLT_EPSILON ? s : FLT_EPSILON;
  float z = -128.f - nearbyintf(mn / s);
  *zp = (int32_t)(z < -128.f ? -128.f : z > 127.f ? 127.f : z);
  *scale = s;
  *inv = (float)(1.0 / (double)s);
  return 1;
}

void pkt_quantize_rows_portable(int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q, float* a_scale,
                                int32_t* a_zp) {
  for (int64_t m = 0; m < M; m++) {
    const float* row = x + m * ldx;
    int8_t* qr = q + m * K;
    float inv;
    if (!pkt_qgemm_row_qparams(row, 0, K, 0.f, 0.f, 1, qr, &a_scale[m], &a_zp[m], &inv)) continue;
    const float lo = (float)(-128 - a_zp[m]), hi = (float)(127 - a_zp[m]);
    for (int64_t k = 0; k < K; k++) {
      float f = row[k] * inv;
      f = f < lo ? lo : f > hi ? hi : f;
      qr[k] = (int8_t)((int32_t)nearbyintf(f) + a_zp[m]);
    }
  }
}

void pkt_quantize_rows(const pkt_isa_config* cfg, int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q,
                       float* a_scale, int32_t* a_zp) {
#if defined(PKT_QGEMM_HAVE_X86)
  if (cfg->isa == PKT_ISA_AVX2 || cfg->isa == PKT_ISA_AVX512) {
    pkt_quantize_rows_avx2(M, K, x, ldx, q, a_scale, a_zp);
    return;
  }
#endif
#if defined(PKT_QGEMM_HAVE_NEON)
  if (cfg->isa == PKT_ISA_NEON) {
    pkt_quantize_rows_neon(M, K, x, ldx, q, a_scale, a_zp);
    return;
  }
#endif
  pkt_quantize_rows_portable(M, K, x, ldx, q, a_scale, a_zp);
}
