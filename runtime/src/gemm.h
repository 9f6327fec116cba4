/* Single-precision GEMM for the kernels: C[M,N] = act(A[M,K] x B[K,N] + bias[N]).
 *
 * B (weights) is packed once into panels of PKT_GEMM_NR columns, K-major, zero-padded, so every
 * micro-kernel streams it contiguously; A (activations) is read in place with a row stride. The
 * micro-kernel keeps a tile of C in registers over the whole K and writes it once with the bias and
 * activation applied (the fused epilogue). Implementations: AVX-512, AVX2+FMA, NEON (arm64, armv7) and
 * portable C, chosen per node from pkt_cpu_isa() when the session is created. */
#ifndef PKT_GEMM_H
#define PKT_GEMM_H

#include "kernel.h"

#define PKT_GEMM_NR 32

typedef struct pkt_gemm_args {
  int64_t M, N, K;
  const float* A;
  int64_t lda;
  const float* packed_b; /* pkt_gemm_pack_b output */
  float* C;
  int64_t ldc;
  const float* bias; /* N values or NULL */
  int act;           /* PKT_ACT_* */
  float act_min, act_max;
} pkt_gemm_args;

/* Floats needed for packed B. */
size_t pkt_gemm_packed_size(int64_t K, int64_t N);

/* Pack B, element (k, n) at B[k * stride_k + n * stride_n]: a linear weight [N, K] is
 * (stride_k 1, stride_n K); a row-major [K, N] matrix is (stride_k N, stride_n 1). */
void pkt_gemm_pack_b(const float* B, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, float* packed);

/* Run on the node's threads with the given ISA (a pkt_isa value). */
void pkt_gemm(const pkt_node* node, int isa, const pkt_gemm_args* args);

/* Micro-kernel: rows [0, mr) x columns [0, nr) of one panel. */
typedef void (*pkt_gemm_ukernel)(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                                 int64_t ldc, int nr, const float* bias, int act, float lo, float hi);

void pkt_gemm_ukernel_portable(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                               int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
#define PKT_GEMM_MR_PORTABLE 4

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_GEMM_HAVE_X86 1
void pkt_gemm_ukernel_avx2(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                           int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
void pkt_gemm_ukernel_avx512(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                             int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
#define PKT_GEMM_MR_AVX2 6
#define PKT_GEMM_MR_AVX512 12
#endif

#if defined(__aarch64__) || (defined(__arm__) && defined(__ARM_NEON))
#define PKT_GEMM_HAVE_NEON 1 /* arm64, and armv7 built with -mfpu=neon */
void pkt_gemm_ukernel_neon(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                           int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
#define PKT_GEMM_MR_NEON 6
#endif

/* Shared epilogue for stored rows: activations the SIMD paths do not do inline. */
void pkt_gemm_epilogue_row(float* c, int nr, int act, float lo, float hi);

#endif
