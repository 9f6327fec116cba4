/* Single-precision GEMM for the kernels: C[M,N] = act(A[M,K] x B[K,N] + bias[N]).
 *
 * B (weights) is packed once into panels of PKT_GEMM_NR columns, K-major, zero-padded, so every
 * micro-kernel streams it contiguously; A (activations) is read in place with a row stride. The
 * micro-kernel keeps a tile of C in registers over the whole K and writes it once with the bias and
 * activation applied (the fused epilogue). The micro-kernels are one template (gemm_ukernel_impl.h)
 * instantiated per ISA and tile, plus portable C; the session's ISA config picks one (pkt_gemm_config). */
#ifndef PKT_GEMM_H
#define PKT_GEMM_H

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

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

/* Run on the node's threads (node may be NULL: serial) with the session's config. Small products
 * (< PKT_GEMM_SERIAL_MACS) stay on the calling thread. */
void pkt_gemm(const pkt_node* node, const pkt_isa_config* cfg, const pkt_gemm_args* args);

/* Matrix-vector product for one-row inputs (batch-1 linear layers), reading a [N, K] weight in place
 * (row n at W + n * ldw): y[n] = act(x . W[n] + bias[n]). Each weight element is used once, so
 * packing would only cost load time and memory. Runs on the node's threads (split over N) when large. */
void pkt_gemv(const pkt_node* node, const pkt_isa_config* cfg, int64_t N, int64_t K, const float* x, const float* W, int64_t ldw,
              const float* bias, float* y, int act, float lo, float hi);
/* y[n] = x . W[n] for n in [0, N) (no bias, no activation), one implementation per ISA. */
typedef void (*pkt_gemv_fn)(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
void pkt_gemv_portable(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);

/* Micro-kernel: rows [0, mr) (mr <= its MR) x columns [0, nr) (nr <= PKT_GEMM_NR) of one panel. */
typedef void (*pkt_gemm_ukernel)(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                                 int64_t ldc, int nr, const float* bias, int act, float lo, float hi);

/* The GEMM family's part of an ISA config: the micro-kernel, its register tile (mr rows x nr columns; a
 * panel takes PKT_GEMM_NR / nr steps) and the GEMV. */
typedef struct pkt_gemm_config {
  const char* name; /* "<isa>_<mr>x<nr>" */
  pkt_gemm_ukernel ukernel;
  int mr, nr;
  pkt_gemv_fn gemv;
} pkt_gemm_config;
const pkt_gemm_config* pkt_gemm_config_of(const pkt_isa_config* cfg);

void pkt_gemm_ukernel_portable(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                               int64_t ldc, int nr, const float* bias, int act, float lo, float hi);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_GEMM_HAVE_X86 1
void pkt_gemm_ukernel_avx2_6x16(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                                int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
void pkt_gemm_ukernel_avx512_12x32(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                                   int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
void pkt_gemv_avx2(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
void pkt_gemv_avx512(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
#endif

#if defined(__aarch64__)
#define PKT_GEMM_HAVE_NEON 1
void pkt_gemm_ukernel_neon_6x16(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                                int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
void pkt_gemv_neon(int64_t N, int64_t K, const float* x, const float* W, int64_t ldw, float* y);
#elif defined(__arm__) && defined(__ARM_NEON)
#define PKT_GEMM_HAVE_NEON 1 /* armv7 built with -mfpu=neon */
void pkt_gemm_ukernel_neon_6x8(int64_t K, const float* A, int64_t lda, int mr, const float* panel, float* C,
                               int64_t ldc, int nr, const float* bias, int act, float lo, float hi);
#endif

#endif
