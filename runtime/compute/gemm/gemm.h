/* Single-precision GEMM for the kernels: C[M,N] = act(A[M,K] x B[K,N] + bias[N]).
 *
 * B (weights) is packed once into panels of PKT_GEMM_NR columns, K-major, zero-padded, so every
 * micro-kernel streams it contiguously; A (activations) is read in place with a row stride. The
 * micro-kernel keeps a tile of C in registers over the whole K and writes it once with the bias and
 * activation applied (the fused epilogue). Implementations: AVX-512, AVX2+FMA, NEON (arm64, armv7) and
 * portable C, chosen per node from pkt_cpu_isa() when the session is created. */
#ifndef PKT_GEMM_H
#define PKT_GEMM_H

#include "core/kernel.h"

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
  int64_t panel_stride; /* floats from one packed panel to the next; 0 means K * PKT_GEMM_NR (a whole pack),
                           more when only the first K rows of a deeper pack are used */
} pkt_gemm_args;

/* Products with fewer multiply-adds than this run on the calling thread: waking workers costs more. */
#define PKT_GEMM_SERIAL_MACS (1 << 17)

/* Floats needed for packed B. */
size_t pkt_gemm_packed_size(int64_t K, int64_t N);

/* Pack B, element (k, n) at B[k * stride_k + n * stride_n]: a linear weight [N, K] is
 * (stride_k 1, stride_n K); a row-major [K, N] matrix is (stride_k N, stride_n 1). */
void pkt_gemm_pack_b(const float* B, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N, float* packed);
/* The same with the panels split over the node's pool (the load-time packers). */
void pkt_gemm_pack_b_on(const pkt_node* n, const float* B, int64_t stride_k, int64_t stride_n, int64_t K, int64_t N,
                        float* packed);

/* Run on the node's threads (node may be NULL: serial) with the given ISA (a pkt_isa value). Small
 * products (< PKT_GEMM_SERIAL_MACS) stay on the calling thread. */
void pkt_gemm(const pkt_node* node, int isa, const pkt_gemm_args* args);

/* Matrix-vector product for one-row inputs (batch-1 linear layers), reading a [N, K] weight in place
 * (row n at W + n * ldw): y[n] = act(x . W[n] + bias[n]). Each weight element is used once, so
 * packing would only cost load time and memory. Runs on the node's threads (split over N) when large. */
void pkt_gemv(const pkt_node* node, int isa, int64_t N, int64_t K, const float* x, const float* W, int64_t ldw,
              const float* bias, float* y, int act, float lo, float hi);
/* y[n] = x . W[n] for n in [0, N) (no bias, no activation), one implementation per ISA. */
typedef void (*pkt_gemv_fn)(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
void pkt_gemv_portable(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);

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
void pkt_gemv_avx2(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
void pkt_gemv_avx512(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
#define PKT_GEMM_MR_AVX2 6
#define PKT_GEMM_MR_AVX512 12
#endif

#if defined(__aarch64__) || (defined(__arm__) && defined(__ARM_NEON))
#define PKT_GEMM_HAVE_NEON 1 /* arm64, and armv7 built with -mfpu=neon */
void pkt_gemm_ukernel_neon(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                           int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
#define PKT_GEMM_MR_NEON 6
#endif
#if defined(__aarch64__)
#define PKT_HAVE_NEON64 1 /* the row helpers and GEMV use arm64-only intrinsics (vaddvq, vfmaq, vrndnq) */
void pkt_gemv_neon(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
#endif

/* Row helpers for softmax and attention, per ISA (a pkt_isa value); the SIMD paths use a
 * range-reduced polynomial exp (about 1 ulp; exactly 0 below -87.3, NaN propagates).
 * pkt_vec_max: the largest of n floats (-INFINITY for n == 0; NaNs are skipped).
 * pkt_vec_exp_sum: y[i] = exp(x[i] * scale - shift) (y may be x, or NULL to only sum); returns the sum.
 * pkt_vec_scale: x[i] *= s. */
float pkt_vec_max(int isa, const float* x, int64_t n);
float pkt_vec_exp_sum(int isa, const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale(int isa, float* x, int64_t n, float s);
#ifdef PKT_GEMM_HAVE_X86
float pkt_vec_max_avx2(const float* x, int64_t n);
float pkt_vec_exp_sum_avx2(const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale_avx2(float* x, int64_t n, float s);
float pkt_vec_max_avx512(const float* x, int64_t n);
float pkt_vec_exp_sum_avx512(const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale_avx512(float* x, int64_t n, float s);
#endif
#ifdef PKT_HAVE_NEON64
float pkt_vec_max_neon(const float* x, int64_t n);
float pkt_vec_exp_sum_neon(const float* x, float* y, int64_t n, float scale, float shift);
void pkt_vec_scale_neon(float* x, int64_t n, float s);
#endif

/* Shared epilogue for stored rows: activations the SIMD paths do not do inline. */
void pkt_gemm_epilogue_row(float* c, int nr, int act, float lo, float hi);

#endif
