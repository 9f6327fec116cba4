/* GEMM driver, B packing and the portable micro-kernel (see gemm.h). */
#include "gemm.h"

#include <math.h>

#include "cpu.h"

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
    for (int64_t k = 0; k < K; k++) {
      const float* src = B + k * stride_k + n0 * stride_n;
      for (int j = 0; j < nr; j++) dst[k * PKT_GEMM_NR + j] = src[j * stride_n];
      for (int j = nr; j < PKT_GEMM_NR; j++) dst[k * PKT_GEMM_NR + j] = 0.f;
    }
  }
}

void pkt_gemm_epilogue_row(float* c, int nr, int act, float lo, float hi) {
  if (act != PKT_ACT_NONE) pkt_apply_act(c, nr, act, lo, hi);
}

void pkt_gemm_ukernel_portable(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                               int64_t ldc, int nr, const float* bias, int act, float lo, float hi) {
  enum { MR = PKT_GEMM_MR_PORTABLE, NR = PKT_GEMM_NR };
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
    pkt_gemm_epilogue_row(c, nr, act, lo, hi);
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

void pkt_gemm(const pkt_node* node, int isa, const pkt_gemm_args* g) {
  if (g->M <= 0 || g->N <= 0) return;
  gemm_job j = {g, pkt_gemm_ukernel_portable, PKT_GEMM_MR_PORTABLE, 0, 0, 0, 0};
#ifdef PKT_GEMM_HAVE_X86
  if (isa == PKT_ISA_AVX512) {
    j.ukernel = pkt_gemm_ukernel_avx512;
    j.mr = PKT_GEMM_MR_AVX512;
  } else if (isa == PKT_ISA_AVX2) {
    j.ukernel = pkt_gemm_ukernel_avx2;
    j.mr = PKT_GEMM_MR_AVX2;
  }
#endif
#ifdef PKT_GEMM_HAVE_NEON
  if (isa == PKT_ISA_NEON) {
    j.ukernel = pkt_gemm_ukernel_neon;
    j.mr = PKT_GEMM_MR_NEON;
  }
#endif
  (void)isa;
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

/* ---- row helpers: dispatch and portable C ---- */
float pkt_vec_max(int isa, const float* x, int64_t n) {
#ifdef PKT_GEMM_HAVE_X86
  if (isa == PKT_ISA_AVX512) return pkt_vec_max_avx512(x, n);
  if (isa == PKT_ISA_AVX2) return pkt_vec_max_avx2(x, n);
#endif
#ifdef PKT_GEMM_HAVE_NEON
  if (isa == PKT_ISA_NEON) return pkt_vec_max_neon(x, n);
#endif
  (void)isa;
  float m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
  for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
  float a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
  return a > b ? a : b;
}

float pkt_vec_exp_sum(int isa, const float* x, float* y, int64_t n, float scale, float shift) {
#ifdef PKT_GEMM_HAVE_X86
  if (isa == PKT_ISA_AVX512) return pkt_vec_exp_sum_avx512(x, y, n, scale, shift);
  if (isa == PKT_ISA_AVX2) return pkt_vec_exp_sum_avx2(x, y, n, scale, shift);
#endif
#ifdef PKT_GEMM_HAVE_NEON
  if (isa == PKT_ISA_NEON) return pkt_vec_exp_sum_neon(x, y, n, scale, shift);
#endif
  (void)isa;
  float s = 0.f;
  for (int64_t i = 0; i < n; i++) {
    float e = expf(x[i] * scale - shift);
    if (y) y[i] = e;
    s += e;
  }
  return s;
}

void pkt_vec_scale(int isa, float* x, int64_t n, float s) {
#ifdef PKT_GEMM_HAVE_X86
  if (isa == PKT_ISA_AVX512) {
    pkt_vec_scale_avx512(x, n, s);
    return;
  }
  if (isa == PKT_ISA_AVX2) {
    pkt_vec_scale_avx2(x, n, s);
    return;
  }
#endif
#ifdef PKT_GEMM_HAVE_NEON
  if (isa == PKT_ISA_NEON) {
    pkt_vec_scale_neon(x, n, s);
    return;
  }
#endif
  (void)isa;
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}
