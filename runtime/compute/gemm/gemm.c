/* GEMM driver, B packing and the portable micro-kernel (see gemm.h). */
#include "compute/gemm/gemm.h"

#include <math.h>


size_t pkt_gemm_packed_size(int64_t K, int64_t N) {
  int64_t panels = (N + PKT_GEMM_NR - 1) / PKT_GEMM_NR;
  return (size_t)(panels * K * PKT_GEMM_NR);
}

void pkt_gemm_pack_b(const float* B, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, float* packed) {
  int64_t panels = (N + PKT_GEMM_NR - 1) / PKT_GEMM_NR;
  for (int64_t p = 0; p < panels; p++) {
    float* dst = packed + p * K * PKT_GEMM_NR;
    int64_t n0 = p * PKT_GEMM_NR;
    int nr = (int)(N - n0 < PKT_GEMM_NR ? N - n0 : PKT_GEMM_NR);
    if (stride_k == 1 && stride_n != 1) {
      /* [N, K] source (a linear weight): transpose 8 x 32 tiles so that both sides stay in cache lines. */
      for (int64_t k0 = 0; k0 < K; k0 += 8) {
        int kc = (int)(K - k0 < 8 ? K - k0 : 8);
        for (int j = 0; j < PKT_GEMM_NR; j++) {
          if (j < nr) {
            const float* src = B + (n0 + j) * stride_n + k0;
            for (int k = 0; k < kc; k++) dst[(k0 + k) * PKT_GEMM_NR + j] = src[k];
          } else {
            for (int k = 0; k < kc; k++) dst[(k0 + k) * PKT_GEMM_NR + j] = 0.f;
          }
        }
      }
      continue;
    }
    for (int64_t k = 0; k < K; k++) {
      const float* src = B + k * stride_k + n0 * stride_n;
      float* d = dst + k * PKT_GEMM_NR;
      if (stride_n == 1) {
        memcpy(d, src, (size_t)nr * sizeof(float));
      } else {
        for (int j = 0; j < nr; j++) d[j] = src[j * stride_n];
      }
      for (int j = nr; j < PKT_GEMM_NR; j++) d[j] = 0.f;
    }
  }
}

typedef struct pack_b_job {
  const float* B;
  int64_t stride_k, stride_n, K, N;
  float* packed;
} pack_b_job;

static void pack_b_range(void* ctx, int64_t begin, int64_t end) {
  const pack_b_job* j = ctx;
  int64_t n0 = begin * PKT_GEMM_NR, n1 = end * PKT_GEMM_NR < j->N ? end * PKT_GEMM_NR : j->N;
  pkt_gemm_pack_b(j->B + n0 * j->stride_n, j->stride_k, j->stride_n, j->K, n1 - n0, j->packed + begin * j->K * PKT_GEMM_NR);
}

void pkt_gemm_pack_b_on(const pkt_node* n, const float* B, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N,
                        float* packed) {
  pack_b_job j = {B, stride_k, stride_n, K, N, packed};
  pkt_parallel_for(n, (N + PKT_GEMM_NR - 1) / PKT_GEMM_NR, pack_b_range, &j); /* panels are independent */
}

/* The family's configs, by ISA (an ISA this build lacks keeps the portable entry). */
static const pkt_gemm_config configs[] = {
    [PKT_ISA_PORTABLE] = {"portable_4x32", pkt_gemm_ukernel_portable, 4, PKT_GEMM_NR, pkt_gemv_portable},
#if defined(__aarch64__)
    [PKT_ISA_NEON] = {"neon_6x16", pkt_gemm_ukernel_neon_6x16, 6, 16, pkt_gemv_neon},
#elif defined(PKT_GEMM_HAVE_NEON)
    [PKT_ISA_NEON] = {"neon_6x8", pkt_gemm_ukernel_neon_6x8, 6, 8, pkt_gemv_portable},
#endif
#ifdef PKT_GEMM_HAVE_X86
    [PKT_ISA_AVX2] = {"avx2_6x16", pkt_gemm_ukernel_avx2_6x16, 6, 16, pkt_gemv_avx2},
    [PKT_ISA_AVX512] = {"avx512_12x32", pkt_gemm_ukernel_avx512_12x32, 12, 32, pkt_gemv_avx512},
#endif
};

const pkt_gemm_config* pkt_gemm_config_of(const pkt_isa_config* cfg) {
  unsigned i = (unsigned)cfg->isa;
  return i < sizeof configs / sizeof configs[0] && configs[i].ukernel ? &configs[i] : &configs[PKT_ISA_PORTABLE];
}

/* Portable C: 4 rows x the whole panel; rows past mr repeat the last one (computed, not stored). */
void pkt_gemm_ukernel_portable(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                               int64_t ldc, int nr, const float* bias, int act, float lo, float hi) {
  enum { MR = 4, NR = PKT_GEMM_NR };
  float acc[MR][NR];
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < NR; j++) acc[r][j] = 0.f;
  const float* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = A + (r < mr ? r : mr - 1) * lda;
  for (int64_t k = 0; k < K; k++) {
    const float* b = panel + k * NR;
    for (int r = 0; r < MR; r++) {
      float a = rows[r][k];
      for (int j = 0; j < NR; j++) acc[r][j] += a * b[j];
    }
  }
  for (int r = 0; r < mr; r++) {
    float* c = C + r * ldc;
    for (int j = 0; j < nr; j++) c[j] = acc[r][j] + (bias ? bias[j] : 0.f);
    pkt_act_portable(c, nr, act, lo, hi);
  }
}

typedef struct gemm_job {
  const pkt_gemm_args* g;
  pkt_gemm_ukernel ukernel;
  int mr;
  int64_t panels, row_blocks, panels_per_chunk;
  int split_rows; /* tasks are row blocks (else panels) */
} gemm_job;

static void run_tile(const gemm_job* j, int64_t rb, int64_t p) {
  const pkt_gemm_args* g = j->g;
  int64_t m0 = rb * j->mr, n0 = p * PKT_GEMM_NR;
  int mr = (int)(g->M - m0 < j->mr ? g->M - m0 : j->mr);
  int nr = (int)(g->N - n0 < PKT_GEMM_NR ? g->N - n0 : PKT_GEMM_NR);
  int64_t ps = g->panel_stride ? g->panel_stride : g->K * PKT_GEMM_NR;
  j->ukernel(g->K, g->A + m0 * g->lda, g->lda, mr, g->packed_b + p * ps, g->C + m0 * g->ldc + n0,
             g->ldc, nr, g->bias ? g->bias + n0 : NULL, g->act, g->act_min, g->act_max);
}

static void gemm_range(void* ctx, int64_t begin, int64_t end) {
  const gemm_job* j = ctx;
  if (j->split_rows) {
    /* Panels in chunks that stay in L2 while the row blocks of this task stream past them. */
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

void pkt_gemm(const pkt_node* node, const pkt_isa_config* cfg, const pkt_gemm_args* g) {
  if (g->M <= 0 || g->N <= 0) return;
  const pkt_gemm_config* gc = pkt_gemm_config_of(cfg);
  gemm_job j = {g, gc->ukernel, gc->mr, 0, 0, 0, 0};
  j.panels = (g->N + PKT_GEMM_NR - 1) / PKT_GEMM_NR;
  j.row_blocks = (g->M + j.mr - 1) / j.mr;
  int64_t panel_bytes = g->K * PKT_GEMM_NR * (int64_t)sizeof(float);
  j.panels_per_chunk = panel_bytes > 0 ? (256 * 1024) / panel_bytes : j.panels;
  if (j.panels_per_chunk < 1) j.panels_per_chunk = 1;
  int threads = node && node->pool ? node->num_threads : 1;
  if ((double)g->M * (double)g->N * (double)g->K < (double)PKT_GEMM_SERIAL_MACS) threads = 1;
  /* Split whichever dimension leaves the threads most evenly loaded (rows on a tie: each worker then
   * reads only its own rows of A). Loads are compared as the busiest worker's rows x columns. */
  if (threads > 1) {
    int64_t rows_per = (j.row_blocks + threads - 1) / threads * j.mr, cols_per = (j.panels + threads - 1) / threads * PKT_GEMM_NR;
    double row_load = (double)(rows_per < g->M ? rows_per : g->M) * (double)g->N;
    double col_load = (double)(cols_per < g->N ? cols_per : g->N) * (double)g->M;
    j.split_rows = row_load <= col_load;
  } else {
    j.split_rows = 1;
  }
  if (threads > 1)
    pkt_parallel_for(node, j.split_rows ? j.row_blocks : j.panels, gemm_range, &j);
  else
    gemm_range(&j, 0, j.split_rows ? j.row_blocks : j.panels);
}

/* ---- GEMV ---- */
void pkt_gemv_portable(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y) {
  enum { L = 8 };
  int64_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float *w0 = W + n * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    float s0[L] = {0}, s1[L] = {0}, s2[L] = {0}, s3[L] = {0};
    int64_t k = 0;
    for (; k + L <= K; k += L)
      for (int l = 0; l < L; l++) {
        float v = x[k + l];
        s0[l] += v * w0[k + l];
        s1[l] += v * w1[k + l];
        s2[l] += v * w2[k + l];
        s3[l] += v * w3[k + l];
      }
    float r0 = 0.f, r1 = 0.f, r2 = 0.f, r3 = 0.f;
    for (; k < K; k++) {
      r0 += x[k] * w0[k];
      r1 += x[k] * w1[k];
      r2 += x[k] * w2[k];
      r3 += x[k] * w3[k];
    }
    for (int l = 0; l < L; l++) {
      r0 += s0[l];
      r1 += s1[l];
      r2 += s2[l];
      r3 += s3[l];
    }
    y[n] = r0;
    y[n + 1] = r1;
    y[n + 2] = r2;
    y[n + 3] = r3;
  }
  for (; n < N; n++) {
    const float* w = W + n * ldw;
    float s[L] = {0}, r = 0.f;
    int64_t k = 0;
    for (; k + L <= K; k += L)
      for (int l = 0; l < L; l++) s[l] += x[k + l] * w[k + l];
    for (; k < K; k++) r += x[k] * w[k];
    for (int l = 0; l < L; l++) r += s[l];
    y[n] = r;
  }
}

typedef struct gemv_job {
  pkt_gemv_fn fn;
  pkt_act_fn act_fn;
  int64_t N, K, ldw;
  const float *x, *W, *bias;
  float* y;
  int act;
  float lo, hi;
} gemv_job;

static void gemv_range(void* ctx, int64_t begin, int64_t end) {
  const gemv_job* j = ctx;
  /* Chunks of 16 outputs (begin / end count chunks) keep the split on cache-line boundaries of y. */
  int64_t n0 = begin * 16, n1 = end * 16 < j->N ? end * 16 : j->N;
  float* y = j->y + n0;
  j->fn(n1 - n0, j->K, j->x, j->W + n0 * j->ldw, j->ldw, y);
  if (j->bias)
    for (int64_t n = 0; n < n1 - n0; n++) y[n] += j->bias[n0 + n];
  j->act_fn(y, n1 - n0, j->act, j->lo, j->hi);
}

void pkt_gemv(const pkt_node* node, const pkt_isa_config* cfg, int64_t N, int64_t K, const float* x, const float* W,
              int64_t ldw, const float* bias, float* y, int act, float lo, float hi) {
  if (N <= 0) return;
  gemv_job j = {pkt_gemm_config_of(cfg)->gemv, cfg->act, N, K, ldw, x, W, bias, y, act, lo, hi};
  int64_t chunks = (N + 15) / 16;
  int threads = node && node->pool ? node->num_threads : 1;
  if ((double)N * (double)K < (double)PKT_GEMM_SERIAL_MACS) threads = 1;
  if (threads > 1)
    pkt_parallel_for(node, chunks, gemv_range, &j);
  else
    gemv_range(&j, 0, chunks);
}
