/* Internals of conv2d (runtime/kernels/conv2d.c) and of the fused conv pairs (conv_pw_dw.c,
 * conv_dw_pw.c): the GEMM micro-kernels with a per-output-channel (per-row) bias, the load-time weight
 * packer, the im2col-into-panels packer and the depthwise row kernels, one implementation per ISA
 * (portable C always; AVX2/AVX-512 in conv_x86.c, NEON in conv_arm.c), and the pieces the kernels share.
 *
 * The GEMM view of an NCHW convolution group: out[Og, P] = W[Og, K] x col[K, P] with P = OH*OW
 * output pixels and K = Cg*kh*kw. W is packed once per session into row blocks of MR output
 * channels, K-major ([K][MR], zero rows past Og); col is packed per run into panels of NR pixels
 * ([K][NR], zero columns past P). A micro-kernel computes an MR x NR tile of out over a range of K,
 * keeping it in registers, and writes it with bias + activation (or accumulates into it). */
#ifndef PKT_CONV_IMPL_H
#define PKT_CONV_IMPL_H

#include <math.h>

#include "core/kernel.h"
#include "backends/cpu/isa_config.h"

typedef struct conv_geom {
  int64_t N, C, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, groups, Cg, Og, K, P;
} conv_geom;

/* Micro-kernel: tile rows [0, mr) x columns [0, nr) (mr <= MR, nr <= NR) over kc steps of packed A
 * (a[k*MR + r]) and the panel (b[k*ldb + j], all NR columns readable: ldb = NR for a packed panel, or
 * the input's plane size when a pointwise conv reads a full panel straight from the input). first:
 * overwrite C (else add to it); last: add bias[r] (bias may be NULL) and apply the activation. */
typedef void (*conv_ukernel_fn)(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                                int nr, const float* bias, int first, int last, int act, float lo, float hi);

/* Depthwise: out[oy, ox] for rows [oy0, oy1), all ox of one output plane. The input plane was
 * copied into buf: zero-padded and split into `sw` column phases; input (padded) column c lives at
 * buf[row * rstride + (c % sw) * pstride + c / sw]. Loads may run past OW up to OW rounded up to
 * CONV_DW_OVERRUN in a phase row (the buffer is sized and zero-filled for it). */
typedef struct conv_dw_args {
  const float* buf;
  int64_t rstride, pstride;
  float* y;
  int64_t OW, oy0, oy1;
  int64_t kh, kw, sh, sw, dh, dw;
  const float* w; /* kh*kw */
  float bias;
  int act;
  float lo, hi;
} conv_dw_args;
typedef void (*conv_dw_fn)(const conv_dw_args* a);
/* One input row zero-padded by pw on the left (and as needed on the right) and split into its
 * even and odd padded columns: e[i] = x[2i - pw], o[i] = x[2i + 1 - pw] for i in [0, n), where
 * x[c] is src[c] for 0 <= c < W and 0 elsewhere. pw may be negative (the row starts inside src);
 * o may be NULL (only the even columns are wanted). */
typedef void (*conv_fill2_fn)(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n);
#define CONV_DW_OVERRUN 16 /* row kernels read output columns in vectors of up to this many */

/* Depthwise with stride 1 and output rows as long as the input rows (OW == W, "same" padding along W):
 * a plane is one flat row of pixels, and tap (ky, kx) of output pixel p reads input pixel
 * p + (ky*dh - ph)*W + kx*dw - pw, its lanes masked off where that falls outside the plane (a padded row)
 * or wraps into the row above or below (a padded column). The input is read in place, not copied into a
 * padded buffer, and a vector holds 16 pixels whatever the row length (a 7x7 plane is 4 vectors, not 7
 * rows of 7). Planes c in [0, planes): input at x + c*xs (H*W floats), weights w + c*kh*kw, bias b[c]
 * (b may be NULL); output pixels [p0, p1) of plane c go to y + c*ys + (p - p0).
 * Also 3x3, stride 2, padding 1 (OW = (W + 1) / 2): output rows from whole input rows, with no padded and
 * phase-split copy; there x holds input rows from row0 on (the rows the output range reads), p0 and p1
 * are whole output rows. */
typedef struct conv_dwf_args {
  const float *x, *w, *b;
  float* y;
  int64_t xs, ys, planes, H, W, p0, p1;
  int64_t kh, kw, ph, pw, dh, dw;
  int act;
  float lo, hi;
  int64_t stride, row0; /* 1 (row0 0) or 2 */
} conv_dwf_args;
typedef void (*conv_dwf_fn)(const conv_dwf_args* a);
#define CONV_DWF_MAX_W 1024 /* the column-mask patterns live on the stack */
#define CONV_DWF_MAX_KW 8
#define CONV_DWF_MAX_TAPS 49

/* Residual epilogue: y = clamp(y + r, lo, hi) over rows x cols with row stride ld (both). */
typedef void (*conv_residual_fn)(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi);

typedef struct conv_isa_impl {
  int mr, nr;
  conv_ukernel_fn ukernel;
  conv_residual_fn residual;
  conv_dw_fn dw;
  conv_dwf_fn dwf; /* NULL: the padded-buffer path (dw) serves every depthwise conv */
  int dwf_3x3;     /* dwf takes only 3x3 kernels with padding 1 and dilation 1 (at stride 1 or 2) */
  conv_fill2_fn fill2;
  pkt_act_fn act; /* the activations the others do not do inline */
} conv_isa_impl;

/* A depthwise conv (one input channel per output channel) that the flat kernel (conv_dwf_args) takes. */
static inline int conv_dw_flat(const conv_geom* g, const conv_isa_impl* impl) {
  if (!impl->dwf || g->Cg != 1 || g->Og != 1 || g->W > CONV_DWF_MAX_W) return 0;
  if (impl->dwf_3x3 && !(g->kh == 3 && g->kw == 3 && g->ph == 1 && g->pw == 1 && g->dh == 1 && g->dw == 1)) return 0;
  if (g->sh == 2 && g->sw == 2)
    return g->kh == 3 && g->kw == 3 && g->ph == 1 && g->pw == 1 && g->dh == 1 && g->dw == 1 &&
           g->OW == (g->W + 1) / 2 && g->OH == (g->H + 1) / 2;
  return g->sh == 1 && g->sw == 1 && g->OW == g->W && g->kw <= CONV_DWF_MAX_KW && g->kh * g->kw <= CONV_DWF_MAX_TAPS;
}

/* The conv family's part of the session's ISA config (portable where this build lacks the ISA). */
void conv_isa_select(const pkt_isa_config* cfg, conv_isa_impl* out);

void conv_ukernel_portable(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                           int nr, const float* bias, int first, int last, int act, float lo, float hi);
void conv_dw_portable(const conv_dw_args* a);
void conv_residual_portable(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi);
void conv_fill2_portable(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n);
/* conv_fill2_fn's column i. */
static inline void conv_fill2_at(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t i) {
  const int64_t c = 2 * i - pw;
  e[i] = c >= 0 && c < W ? src[c] : 0.f;
  if (o) o[i] = c + 1 >= 0 && c + 1 < W ? src[c + 1] : 0.f;
}
#define CONV_MR_PORTABLE 4
#define CONV_NR_PORTABLE 16

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CONV_HAVE_X86 1
void conv_ukernel_avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                         int nr, const float* bias, int first, int last, int act, float lo, float hi);
void conv_ukernel_avx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                       int nr, const float* bias, int first, int last, int act, float lo, float hi);
void conv_dw_avx512(const conv_dw_args* a);
void conv_dw_avx2(const conv_dw_args* a);
void conv_residual_avx512(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi);
void conv_residual_avx2(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi);
void conv_dwf_avx512(const conv_dwf_args* a);
void conv_dwf_avx2(const conv_dwf_args* a);
void conv_fill2_avx512(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n);
void conv_fill2_avx2(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n);
#define CONV_MR_AVX512 12
#define CONV_NR_AVX512 32
#define CONV_MR_AVX2 6
#define CONV_NR_AVX2 16
#endif

#if defined(__aarch64__)
#define CONV_HAVE_NEON 1
void conv_ukernel_neon(int64_t kc, const float* a, const float* b, int64_t ldb, float* C, int64_t ldc, int mr,
                       int nr, const float* bias, int first, int last, int act, float lo, float hi);
void conv_dw_neon(const conv_dw_args* a);
void conv_residual_neon(float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, float lo, float hi);
void conv_fill2_neon(const float* src, int64_t W, int64_t pw, float* e, float* o, int64_t n);
#define CONV_MR_NEON 6
#define CONV_NR_NEON 16
#endif

/* Depthwise buffer geometry: padded rows, phase rows of pstride floats, sw phases per row. */
void conv_dw_layout(const conv_geom* g, int64_t* rows, int64_t* pstride);
/* Copy padded rows [r0, r1) of one input plane into the phase-split buffer (conv_dw_args); input row iy
 * (only rows the padded rows map to are read) is at src_rows + (iy - row0) * W. tmp holds sw * pstride
 * floats (strides above 2 only). */
void conv_dw_fill(const conv_geom* g, int64_t pstride, conv_fill2_fn fill2, const float* src_rows, int64_t row0,
                  float* buf, float* tmp, int64_t r0, int64_t r1);

/* A 1x1 convolution with stride 1 and no padding: output pixel p reads input pixel p. */
static inline int conv_pointwise(const conv_geom* g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}
/* A pointwise conv's full panel is read in place from the input (rows of H*W floats): no copy. */
static inline int conv_panel_in_place(const conv_geom* g, int64_t cnt, int nr) { return conv_pointwise(g) && cnt == nr; }

/* Output rows [oy0, oy1) of one depthwise plane (weight w, kh*kw) into out (row oy at out + (oy - oy0) *
 * OW), its input rows read from src_rows as conv_dw_fill does, through buf (conv_dw_layout's rows + 1). */
void conv_dw_band(const conv_geom* d, const conv_isa_impl* impl, int64_t pstride, int64_t dw_rows,
                  const float* src_rows, int64_t row0, float* buf, int64_t oy0, int64_t oy1, const float* w, float bias,
                  int act, float lo, float hi, float* out);

/* A pointwise conv (g: groups 1, weights packed by conv_pack_weights with MR rows, bias [O]) over pixels
 * [p_first, p_first + P) of the input planes x (H*W floats each) into out (output channel o at out + o *
 * ldo); panel holds K * NR floats for the panels that cannot be read in place. */
#define CONV_POINTWISE_KC 256
void conv_pointwise_pixels(const conv_geom* g, const conv_isa_impl* impl, const float* x, const float* packed,
                           const float* bias, int act, float lo, float hi, int64_t p_first, int64_t P, float* out,
                           int64_t ldo, float* panel);

/* Pack the weights of one group (rows [0, Og) of w, each K long) into row blocks of mr: floats
 * needed = ceil(Og/mr) * K * mr. */
void conv_pack_weights(const float* w, int64_t Og, int64_t K, int mr, float* dst);
/* The same for `groups` groups of Og rows, group after group, their row blocks packed in parallel on the
 * node's pool (the load-time packers). */
void conv_pack_weights_on(const pkt_node* n, const float* w, int64_t groups, int64_t Og, int64_t K, int mr, float* dst);

/* im2col of one panel: pixels [p0, p0 + cnt) of the group's input xg (Cg planes of H*W) into
 * dst[K][nr], columns >= cnt zero. fill2 gathers the rows of stride-2 convolutions. */
void conv_pack_panel(const conv_geom* g, const float* xg, int64_t p0, int64_t cnt, int nr, conv_fill2_fn fill2,
                     float* dst);

/* im2col of one output row: the input rows, padded and strided, that output row oy of the group's input xg
 * reads, as K rows of the row's pixels, row k at dst + k * ld (ld = conv_line_ld: OW rounded up to NR, the
 * columns past OW readable); a panel of the row is then read in place. Stride 1, or 2 without dilation
 * along x. */
static inline int conv_line_packable(const conv_geom* g, int nr) {
  return !conv_pointwise(g) && (g->sw == 1 || (g->sw == 2 && g->dw == 1)) && g->OW >= nr &&
         g->K * (g->OW + nr) * (int64_t)sizeof(float) <= ((int64_t)256 << 10);
}
static inline int64_t conv_line_ld(const conv_geom* g, int nr) { return (g->OW + nr - 1) / nr * nr; }
void conv_pack_line(const conv_geom* g, const float* xg, int64_t oy, int64_t ld, conv_fill2_fn fill2, float* dst);

/* prepare() checks shared by the convolution kernels: the six window params at params[first..] in the
 * order stride_h, stride_w, pad_h, pad_w, dil_h, dil_w; and the output size they imply. */
#define CONV_PARAM_LIMIT ((int64_t)1 << 24) /* bound on stride/pad/dilation so index math cannot overflow */
pkt_status conv_check_window_params(const pkt_node* n, int first, pkt_err* err);
pkt_status conv_check_output_size(const conv_geom* g, pkt_err* err);
/* A residual input (fused residual add): f32 and shaped as the output y. */
pkt_status conv_check_residual(const pkt_tensor* r, const pkt_tensor* y, pkt_err* err);

/* Scalar activation for the simple kinds (NONE/RELU/RELU6/CLAMP); others go through the ISA's act. */
static inline int conv_act_simple(int act) {
  return act == PKT_ACT_NONE || act == PKT_ACT_RELU || act == PKT_ACT_RELU6 || act == PKT_ACT_CLAMP;
}
/* Clamp bounds equivalent to a simple activation. The SIMD kernels clamp as min(hi, max(lo, v)): x86's
 * max/min return their second operand when either is NaN, so v goes second and NaN stays NaN, as in torch. */
static inline void conv_act_bounds(int act, float lo, float hi, float* out_lo, float* out_hi) {
  *out_lo = act == PKT_ACT_RELU || act == PKT_ACT_RELU6 ? 0.f : act == PKT_ACT_CLAMP ? lo : -INFINITY;
  *out_hi = act == PKT_ACT_RELU6 ? 6.f : act == PKT_ACT_CLAMP ? hi : INFINITY;
}
/* y = act(y + r) over rows x cols with row stride ld (both): clamp-like activations with the add (the ISA's
 * residual epilogue), others after it. */
void conv_add_act(const conv_isa_impl* impl, float* y, const float* r, int64_t ld, int64_t rows, int64_t cols, int act,
                  float lo, float hi);

#endif
