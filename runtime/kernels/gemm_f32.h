/* Portable f32 matrix-multiply building blocks shared by the linear, matmul and sdpa kernels.
 *
 * C[i, j] = bias[j] + sum_k A[i, k] * B(k, j), where B(k, j) is B[k * ldb + j] ("nn", B is [K, N]) or
 * B[j * ldb + k] ("nt", B is [N, K], the layout of a linear weight).
 *
 * The inner loops are register tiles written so that compilers vectorize them without -ffast-math:
 * an MR x NR tile of independent accumulators (the nn micro-kernel, vectorized over NR columns) and
 * lane-split dot products (the nt path for few rows). For many rows the nt path transposes KC x NR
 * panels of B into caller scratch (PKT_GEMM_PACK_FLOATS floats) and reuses the nn micro-kernel.
 * A later SIMD layer replaces these micro-kernels; the blocking stays. */
#ifndef PKT_GEMM_F32_H
#define PKT_GEMM_F32_H

#include <stdint.h>
#include <string.h>

#define PKT_GEMM_MR 4
#define PKT_GEMM_NR 16
#define PKT_GEMM_KC 256
#define PKT_GEMM_LANES 8
#define PKT_GEMM_PACK_FLOATS (PKT_GEMM_KC * PKT_GEMM_NR)

typedef struct pkt_gemm {
  int64_t M, N, K;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  int b_trans; /* 1: B is [N, K] */
  float* C;
  int64_t ldc;
  const float* bias; /* [N] or NULL */
} pkt_gemm;

/* MR x NR tile over kc steps: B rows are NR contiguous floats ldb apart. load: 0 init from bias/zero,
 * 1 accumulate onto C. Stores nr <= NR columns. */
static inline void pkt_gemm_mk4(int64_t kc, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                                int64_t ldc, int nr, int load, const float* bias) {
  float acc0[PKT_GEMM_NR], acc1[PKT_GEMM_NR], acc2[PKT_GEMM_NR], acc3[PKT_GEMM_NR];
  if (load) {
    for (int c = 0; c < nr; c++) {
      acc0[c] = C[c];
      acc1[c] = C[ldc + c];
      acc2[c] = C[2 * ldc + c];
      acc3[c] = C[3 * ldc + c];
    }
    for (int c = nr; c < PKT_GEMM_NR; c++) acc0[c] = acc1[c] = acc2[c] = acc3[c] = 0.f;
  } else {
    for (int c = 0; c < PKT_GEMM_NR; c++) acc0[c] = acc1[c] = acc2[c] = acc3[c] = (bias && c < nr) ? bias[c] : 0.f;
  }
  const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * lda, *a3 = A + 3 * lda;
  for (int64_t k = 0; k < kc; k++) {
    const float* b = B + k * ldb;
    const float x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
    for (int c = 0; c < PKT_GEMM_NR; c++) {
      acc0[c] += x0 * b[c];
      acc1[c] += x1 * b[c];
      acc2[c] += x2 * b[c];
      acc3[c] += x3 * b[c];
    }
  }
  for (int c = 0; c < nr; c++) {
    C[c] = acc0[c];
    C[ldc + c] = acc1[c];
    C[2 * ldc + c] = acc2[c];
    C[3 * ldc + c] = acc3[c];
  }
}

static inline void pkt_gemm_mk1(int64_t kc, const float* A, const float* B, int64_t ldb, float* C, int nr, int load,
                                const float* bias) {
  float acc[PKT_GEMM_NR];
  for (int c = 0; c < PKT_GEMM_NR; c++) acc[c] = c < nr ? (load ? C[c] : bias ? bias[c] : 0.f) : 0.f;
  for (int64_t k = 0; k < kc; k++) {
    const float* b = B + k * ldb;
    const float x = A[k];
    for (int c = 0; c < PKT_GEMM_NR; c++) acc[c] += x * b[c];
  }
  for (int c = 0; c < nr; c++) C[c] = acc[c];
}

/* Edge tile of the nn path (fewer than NR columns left): plain loops, reads only valid columns. */
static inline void pkt_gemm_edge_nn(int64_t mr, int64_t nr, int64_t K, const float* A, int64_t lda, const float* B,
                                    int64_t ldb, float* C, int64_t ldc, const float* bias) {
  for (int64_t r = 0; r < mr; r++) {
    float acc[PKT_GEMM_NR];
    for (int64_t c = 0; c < nr; c++) acc[c] = bias ? bias[c] : 0.f;
    const float* a = A + r * lda;
    for (int64_t k = 0; k < K; k++) {
      const float x = a[k];
      const float* b = B + k * ldb;
      for (int64_t c = 0; c < nr; c++) acc[c] += x * b[c];
    }
    for (int64_t c = 0; c < nr; c++) C[r * ldc + c] = acc[c];
  }
}

/* Dot product with lane-split accumulators (vectorizes without reassociation flags). */
static inline float pkt_dot_f32(const float* x, const float* y, int64_t n) {
  float acc[PKT_GEMM_LANES] = {0};
  int64_t k = 0;
  for (; k + PKT_GEMM_LANES <= n; k += PKT_GEMM_LANES)
    for (int l = 0; l < PKT_GEMM_LANES; l++) acc[l] += x[k + l] * y[k + l];
  float s = 0.f;
  for (; k < n; k++) s += x[k] * y[k];
  for (int l = 0; l < PKT_GEMM_LANES; l++) s += acc[l];
  return s;
}

/* One row of A against 4 rows of B ([N, K] layout): out[c] = A . B_c. */
static inline void pkt_dot4_f32(const float* x, const float* b0, const float* b1, const float* b2, const float* b3,
                                int64_t n, float out[4]) {
  float s0[PKT_GEMM_LANES] = {0}, s1[PKT_GEMM_LANES] = {0}, s2[PKT_GEMM_LANES] = {0}, s3[PKT_GEMM_LANES] = {0};
  int64_t k = 0;
  for (; k + PKT_GEMM_LANES <= n; k += PKT_GEMM_LANES)
    for (int l = 0; l < PKT_GEMM_LANES; l++) {
      const float v = x[k + l];
      s0[l] += v * b0[k + l];
      s1[l] += v * b1[k + l];
      s2[l] += v * b2[k + l];
      s3[l] += v * b3[k + l];
    }
  float r0 = 0.f, r1 = 0.f, r2 = 0.f, r3 = 0.f;
  for (; k < n; k++) {
    r0 += x[k] * b0[k];
    r1 += x[k] * b1[k];
    r2 += x[k] * b2[k];
    r3 += x[k] * b3[k];
  }
  for (int l = 0; l < PKT_GEMM_LANES; l++) {
    r0 += s0[l];
    r1 += s1[l];
    r2 += s2[l];
    r3 += s3[l];
  }
  out[0] = r0;
  out[1] = r1;
  out[2] = r2;
  out[3] = r3;
}

/* Rows [i0, i1) x columns [j0, j1) of C. `pack` (PKT_GEMM_PACK_FLOATS floats) is needed only when
 * b_trans is set and the block has at least MR rows; it may be NULL otherwise. */
static void pkt_gemm_block(const pkt_gemm* g, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float* pack) {
  const int64_t K = g->K, lda = g->lda, ldb = g->ldb, ldc = g->ldc;
  if (i0 >= i1 || j0 >= j1) return;
  if (K == 0) {
    for (int64_t i = i0; i < i1; i++)
      for (int64_t j = j0; j < j1; j++) g->C[i * ldc + j] = g->bias ? g->bias[j] : 0.f;
    return;
  }
  if (!g->b_trans) {
    for (int64_t j = j0; j < j1; j += PKT_GEMM_NR) {
      const int64_t nr = j1 - j < PKT_GEMM_NR ? j1 - j : PKT_GEMM_NR;
      const float* bias = g->bias ? g->bias + j : NULL;
      int64_t i = i0;
      if (nr == PKT_GEMM_NR) {
        for (; i + PKT_GEMM_MR <= i1; i += PKT_GEMM_MR)
          pkt_gemm_mk4(K, g->A + i * lda, lda, g->B + j, ldb, g->C + i * ldc + j, ldc, PKT_GEMM_NR, 0, bias);
        for (; i < i1; i++) pkt_gemm_mk1(K, g->A + i * lda, g->B + j, ldb, g->C + i * ldc + j, PKT_GEMM_NR, 0, bias);
      } else {
        pkt_gemm_edge_nn(i1 - i, nr, K, g->A + i * lda, lda, g->B + j, ldb, g->C + i * ldc + j, ldc, bias);
      }
    }
    return;
  }
  if (i1 - i0 < PKT_GEMM_MR || pack == NULL) {
    /* Few rows (batch-1 linear layers): dot products, four B rows at a time. */
    for (int64_t i = i0; i < i1; i++) {
      const float* a = g->A + i * lda;
      float* c = g->C + i * ldc;
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) {
        float out[4];
        pkt_dot4_f32(a, g->B + j * ldb, g->B + (j + 1) * ldb, g->B + (j + 2) * ldb, g->B + (j + 3) * ldb, K, out);
        for (int t = 0; t < 4; t++) c[j + t] = out[t] + (g->bias ? g->bias[j + t] : 0.f);
      }
      for (; j < j1; j++) c[j] = pkt_dot_f32(a, g->B + j * ldb, K) + (g->bias ? g->bias[j] : 0.f);
    }
    return;
  }
  /* Many rows: transpose KC x NR panels of B into `pack`, then run the nn micro-kernels on them. */
  for (int64_t j = j0; j < j1; j += PKT_GEMM_NR) {
    const int nr = (int)(j1 - j < PKT_GEMM_NR ? j1 - j : PKT_GEMM_NR);
    const float* bias = g->bias ? g->bias + j : NULL;
    for (int64_t k0 = 0; k0 < K; k0 += PKT_GEMM_KC) {
      const int64_t kc = K - k0 < PKT_GEMM_KC ? K - k0 : PKT_GEMM_KC;
      for (int c = 0; c < PKT_GEMM_NR; c++) {
        if (c < nr) {
          const float* src = g->B + (j + c) * ldb + k0;
          for (int64_t k = 0; k < kc; k++) pack[k * PKT_GEMM_NR + c] = src[k];
        } else {
          for (int64_t k = 0; k < kc; k++) pack[k * PKT_GEMM_NR + c] = 0.f;
        }
      }
      const int load = k0 > 0;
      int64_t i = i0;
      for (; i + PKT_GEMM_MR <= i1; i += PKT_GEMM_MR)
        pkt_gemm_mk4(kc, g->A + i * lda + k0, lda, pack, PKT_GEMM_NR, g->C + i * ldc + j, ldc, nr, load, bias);
      for (; i < i1; i++) pkt_gemm_mk1(kc, g->A + i * lda + k0, pack, PKT_GEMM_NR, g->C + i * ldc + j, nr, load, bias);
    }
  }
}

/* Split an M x N product into `parts` (<= max_parts) rectangles for parallel workers: rows first
 * (in multiples of MR), then columns (in multiples of NR, or 4 for few-row nt products). */
static inline void pkt_gemm_split(int64_t M, int64_t N, int64_t parts, int64_t* row_parts, int64_t* col_parts) {
  if (parts < 1) parts = 1;
  int64_t row_blocks = (M + PKT_GEMM_MR - 1) / PKT_GEMM_MR;
  int64_t col_blocks = (N + PKT_GEMM_NR - 1) / PKT_GEMM_NR;
  if (M < PKT_GEMM_MR) col_blocks = (N + 3) / 4;
  int64_t rp = row_blocks < parts ? row_blocks : parts;
  if (rp < 1) rp = 1;
  int64_t cp = parts / rp;
  if (cp > col_blocks) cp = col_blocks;
  if (cp < 1) cp = 1;
  *row_parts = rp;
  *col_parts = cp;
}

/* Bounds of part p of n items split into `parts` pieces aligned to `align`. */
static inline void pkt_gemm_range(int64_t n, int64_t parts, int64_t p, int64_t align, int64_t* b, int64_t* e) {
  int64_t blocks = (n + align - 1) / align;
  int64_t lo = blocks * p / parts, hi = blocks * (p + 1) / parts;
  *b = lo * align < n ? lo * align : n;
  *e = hi * align < n ? hi * align : n;
}

#endif
