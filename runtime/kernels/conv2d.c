/* conv2d: NCHW input, OIHW weight [O, C/groups, kh, kw], optional bias [O], symmetric padding,
 * stride, dilation, groups, fused activation.
 *
 * Paths (helpers in runtime/src/conv_impl.h, conv_gemm.c, conv_x86.c, conv_arm.c):
 *  - Winograd (runtime/src/winograd.c) with the tile pkt_winograd_tile() picks, if any.
 *  - C/groups == 1 (depthwise, incl. channel multipliers, and single-channel inputs): each input
 *    plane is copied once into per-thread scratch, zero-padded and split into column phases by
 *    the stride, so a row kernel computes output rows with plain vector loads (AVX-512/AVX2/NEON/
 *    portable), bias and activation fused. Threads split the planes (or row bands of few planes).
 *    Stride 1 with OW == W, where the ISA has masked loads (AVX-512), skips the copy: the flat kernel
 *    (conv_dwf_args) reads the planes in place, 16 pixels a vector across row ends.
 *  - otherwise GEMM per (image, group): out[Og, P] = W[Og, K] x col[K, P]. The weights are packed
 *    once per session into row blocks of MR output channels (pack_size/pack); each thread packs
 *    its panels of NR output pixels (im2col; a full panel of a 1x1 stride-1 conv is read in place) into
 *    its own scratch slot and runs the MR x NR micro-kernel over them in KC-deep slices, bias and
 *    activation fused in the last slice. Threads split the (panel, row block) tiles by work. */
#include <math.h>

#include "compute/conv/conv_impl.h"
#include "compute/conv/conv_ksplit.h"
#include "backends/cpu/cpu.h"
#include "compute/winograd/winograd.h"

#define CONV_KC 256                         /* K slice of one micro-kernel call (B slice stays in L1) */
#define CONV_L2_BYTES ((int64_t)1 << 20)    /* what we let one operand take of a core's L2 */

static void conv_geom_read(const pkt_node* n, conv_geom* g) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  g->N = x->dims[0];
  g->C = x->dims[1];
  g->H = x->dims[2];
  g->W = x->dims[3];
  g->O = y->dims[1];
  g->OH = y->dims[2];
  g->OW = y->dims[3];
  g->kh = w->dims[2];
  g->kw = w->dims[3];
  g->sh = pkt_param_i(n, PKT_CONV2D_STRIDE_H);
  g->sw = pkt_param_i(n, PKT_CONV2D_STRIDE_W);
  g->ph = pkt_param_i(n, PKT_CONV2D_PAD_H);
  g->pw = pkt_param_i(n, PKT_CONV2D_PAD_W);
  g->dh = pkt_param_i(n, PKT_CONV2D_DIL_H);
  g->dw = pkt_param_i(n, PKT_CONV2D_DIL_W);
  g->groups = pkt_param_i(n, PKT_CONV2D_GROUPS);
  g->Cg = g->groups > 0 ? g->C / g->groups : 0;
  g->Og = g->groups > 0 ? g->O / g->groups : 0;
  g->K = g->Cg * g->kh * g->kw;
  g->P = g->OH * g->OW;
}

static int conv_threads(const pkt_node* n) { return n->num_threads > 1 ? n->num_threads : 1; }

/* During prepare() and pack_size() only constants have data (the arena is not placed yet), so a
 * weight with data is a constant and is packed once; a weight computed by the graph is packed into
 * scratch on every run instead. */
static int conv_weight_constant(const pkt_node* n) { return n->inputs[1]->data != NULL; }

/* GEMM loop order. Normally (CONV_BY_PANELS) each thread packs one panel of pixels at a time and sweeps
 * the weights over it. CONV_BY_ROW_BLOCKS: each thread packs every panel once and takes a share of the row
 * blocks, when all panels fit in L2 and either
 *  - the weights exceed L2 (deep layers on small images): they stream from memory once instead of
 *    once per panel, or
 *  - the conv is 1x1 with K <= 32 (mobilenet's expansions at large sizes): each row block then writes
 *    its MR output planes front to back instead of every panel touching all O planes (the output is
 *    many times the input and the stores bound the time); needs enough rows for an even split, or
 *  - threads share a stride-1 1x1 conv with more output channels than pixels (mobilenet's expansions at
 *    14x14 and 7x7): a thread then streams only its share of the weights, not all of them, and writes whole
 *    output planes, which the depthwise conv after it splits the same way (by planes). Not at stride 2
 *    (resnet's downsampling convs): every thread would gather every panel, so the packing never split.
 * CONV_BY_PIXELS_ROW_BLOCKS: the same order within a thread's share of the panels, for the K <= 32 case on
 *    images of 2048+ pixels (mobilenet_v2's 56x56 expansion), where the fused conv pair after it takes bands
 *    of rows: each thread then reads the rows it wrote.
 * CONV_BY_LINES: each thread takes whole output rows and builds the im2col of one row at a time
 * (conv_pack_line), K rows of the row's pixels, that its panels read in place: for windowed convs on
 * wide rows with light weights (stems: mobilenet_v2's 3x3 stride-2 conv on 3 channels spent 40% of its
 * time packing panels, a copy per tap and piece of a row). */
#define CONV_PIXEL_SPLIT_MIN 2048
enum { CONV_BY_PANELS, CONV_BY_ROW_BLOCKS, CONV_BY_PIXELS_ROW_BLOCKS, CONV_BY_LINES };
static int conv_loop_order(const conv_geom* g, int mr, int nr, int threads) {
  const int64_t panels = (g->P + nr - 1) / nr, weight_bytes = g->Og * g->K * (int64_t)sizeof(float);
  if (panels * g->K * nr * (int64_t)sizeof(float) <= CONV_L2_BYTES * 3 / 2) {
    if (weight_bytes > CONV_L2_BYTES) return CONV_BY_ROW_BLOCKS;
    if (threads > 1 && conv_pointwise(g) && g->Og > g->P && (g->Og + mr - 1) / mr >= 2 * (int64_t)threads)
      return CONV_BY_ROW_BLOCKS;
    if (g->kh * g->kw == 1 && g->K <= 32) {
      if (threads > 1 && g->P >= CONV_PIXEL_SPLIT_MIN) return CONV_BY_PIXELS_ROW_BLOCKS;
      if (threads == 1 || g->Og >= 4 * (int64_t)threads * mr) return CONV_BY_ROW_BLOCKS;
    }
  }
  if (conv_line_packable(g, nr) && weight_bytes <= CONV_L2_BYTES / 4) return CONV_BY_LINES;
  return CONV_BY_PANELS;
}
/* Floats of per-thread panel scratch. */
static int64_t conv_slot_floats(const conv_geom* g, int order, int nr) {
  if (order == CONV_BY_ROW_BLOCKS || order == CONV_BY_PIXELS_ROW_BLOCKS) return (g->P + nr - 1) / nr * g->K * nr;
  return order == CONV_BY_LINES ? g->K * conv_line_ld(g, nr) : g->K * nr;
}

/* conv_slot_floats' bound over every loop order conv_loop_order can pick at any size (a dynamic program's plan,
 * kernel.h): non-decreasing in the dims, as ROW_BLOCKS is picked only while its panels fit 1.5 x L2. */
static int64_t conv_slot_floats_bound(const conv_geom* g, int nr) {
  const int64_t blocks = conv_slot_floats(g, CONV_BY_ROW_BLOCKS, nr), cap = CONV_L2_BYTES * 3 / 2 / (int64_t)sizeof(float);
  const int64_t lines = conv_slot_floats(g, CONV_BY_LINES, nr), panels = conv_slot_floats(g, CONV_BY_PANELS, nr);
  const int64_t most = lines > panels ? lines : panels;
  return (blocks < cap ? blocks : cap) > most ? (blocks < cap ? blocks : cap) : most;
}

/* Bytes of packed weights for the GEMM path (0 when it does not apply). */
static uint64_t conv_gemm_packed_bytes(const conv_geom* g, int mr) {
  if (g->Cg <= 1 || g->Og <= 0) return 0;
  uint64_t rblocks = (uint64_t)((g->Og + mr - 1) / mr);
  return (uint64_t)g->groups * rblocks * (uint64_t)g->K * (uint64_t)mr * sizeof(float);
}

pkt_status pkt_kernel_conv2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_CONV2D_MIN_INPUTS, PKT_CONV2D_MAX_INPUTS, 1, PKT_CONV2D_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(w, PKT_F32, "weight", err)) ||
      (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  if (x->rank != 4 || w->rank != 4 || y->rank != 4)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, weight %d, output %d; expected 4, 4, 4", x->rank, w->rank,
                    y->rank);
  if ((st = conv_check_window_params(n, PKT_CONV2D_STRIDE_H, err))) return st;
  int64_t groups = pkt_param_i(n, PKT_CONV2D_GROUPS);
  if (groups < 1 || groups > x->dims[1] || x->dims[1] % groups || y->dims[1] % groups)
    return pkt_fail(err, PKT_BAD_PARAMS, "groups %lld does not divide input channels %lld and output channels %lld",
                    (long long)groups, (long long)x->dims[1], (long long)y->dims[1]);
  /* With at least one output channel the weight's element count bounds K = C/groups*kh*kw, so
   * conv_geom_read cannot overflow (the loader checked that every numel fits). */
  if (y->dims[1] < 1 || w->numel < 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "convolution has no output channels or an empty weight");
  conv_geom g;
  conv_geom_read(n, &g);
  if (g.N != y->dims[0]) return pkt_fail(err, PKT_BAD_OPERANDS, "batch %lld != output batch %lld", (long long)g.N, (long long)y->dims[0]);
  if (w->dims[0] != g.O || w->dims[1] != g.Cg || g.kh < 1 || g.kw < 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "weight [%lld, %lld, %lld, %lld] does not match %lld output channels and %lld input channels per group",
                    (long long)w->dims[0], (long long)w->dims[1], (long long)g.kh, (long long)g.kw, (long long)g.O,
                    (long long)g.Cg);
  if ((st = conv_check_output_size(&g, err))) return st;
  if (n->n_inputs >= 3) {
    const pkt_tensor* b = n->inputs[2];
    if ((st = pkt_check_dtype(b, PKT_F32, "bias", err))) return st;
    if (b->numel != g.O)
      return pkt_fail(err, PKT_BAD_OPERANDS, "bias has %lld elements, expected %lld", (long long)b->numel, (long long)g.O);
  }
  if (n->n_inputs == 4 && (st = conv_check_residual(n->inputs[3], y, err))) return st;
  if ((st = pkt_check_act(n, PKT_CONV2D_ACT, err))) return st;
  *scratch = 0;
  conv_isa_impl impl;
  conv_isa_select(n->cfg, &impl);
  const int wg = conv_weight_constant(n) ? pkt_winograd_tile(n) : 0;
  const uint64_t T = (uint64_t)conv_threads(n);
  const uint64_t limit = (uint64_t)1 << 46;
  if (conv_dw_flat(&g, &impl) && !n->dynamic) {
    /* reads the input in place: no scratch (a dynamic program plans the plane: flat or not by width) */
  } else if (g.Cg == 1) {
    int64_t rows, ps;
    conv_dw_layout(&g, &rows, &ps);
    uint64_t per = (uint64_t)(rows + 1) * (uint64_t)g.sw * (uint64_t)ps; /* + one row of tmp */
    if ((uint64_t)rows > limit || (uint64_t)g.sw * (uint64_t)ps > limit || per > limit / (T * sizeof(float)))
      return pkt_fail(err, PKT_BAD_OPERANDS, "padded depthwise plane of %lld x %lld is too large", (long long)rows,
                      (long long)(g.W + 2 * g.pw));
    *scratch = (size_t)(per * T * sizeof(float));
  } else {
    /* K <= weight numel; bound it so the per-thread panels and the packed weights cannot overflow. */
    if ((uint64_t)g.K > limit / (T * 64 * sizeof(float)) ||
        (uint64_t)(g.O + g.groups * impl.mr) > limit / ((uint64_t)g.K * sizeof(float)))
      return pkt_fail(err, PKT_BAD_OPERANDS, "convolution window of %lld elements is too large", (long long)g.K);
    int order = conv_loop_order(&g, impl.mr, impl.nr, conv_threads(n));
    int64_t slot = n->dynamic ? conv_slot_floats_bound(&g, impl.nr) : conv_slot_floats(&g, order, impl.nr);
    *scratch = (size_t)(T * (uint64_t)slot * sizeof(float));
    if (conv_ksplit_wanted(&g, (int)T)) {
      if ((uint64_t)g.O * (uint64_t)g.P > limit / (T * sizeof(float)))
        return pkt_fail(err, PKT_BAD_OPERANDS, "output of %lld x %lld is too large", (long long)g.O, (long long)g.P);
      *scratch = (size_t)conv_ksplit_scratch_floats(&g, impl.nr, (int)T) * sizeof(float);
    }
    /* weights packed in scratch: computed by the graph, or Winograd's input not finite (run() falls back) */
    if (!conv_weight_constant(n) || wg)
      *scratch += (size_t)((conv_gemm_packed_bytes(&g, impl.mr) + 63) & ~(uint64_t)63);
  }
  if (wg) {
    size_t ws = pkt_winograd_scratch_size(n, wg);
    if (ws > *scratch) *scratch = ws;
  }
  return PKT_OK;
}

size_t pkt_kernel_conv2d_pack_size(const pkt_node* n) {
  if (!conv_weight_constant(n)) return 0;
  int wg = pkt_winograd_tile(n);
  if (wg) return pkt_winograd_packed_size(n, wg);
  conv_geom g;
  conv_geom_read(n, &g);
  conv_isa_impl impl;
  conv_isa_select(n->cfg, &impl);
  return (size_t)conv_gemm_packed_bytes(&g, impl.mr);
}

/* Called only when pack_size() was non-zero, i.e. for a constant weight. */
void pkt_kernel_conv2d_pack(const pkt_node* n, void* packed) {
  int wg = pkt_winograd_tile(n);
  if (wg) {
    pkt_winograd_pack(n, wg, packed);
    return;
  }
  conv_geom g;
  conv_geom_read(n, &g);
  conv_isa_impl impl;
  conv_isa_select(n->cfg, &impl);
  if (!conv_gemm_packed_bytes(&g, impl.mr)) return;
  conv_pack_weights_on(n, n->inputs[1]->data, g.groups, g.Og, g.K, impl.mr, packed);
}

typedef struct conv_job {
  conv_geom g;
  conv_isa_impl impl;
  const float *x, *w, *b;
  float* y;
  float* scratch;
  int threads;
  int act; /* applied by the kernels: none when a residual is added after them */
  float lo, hi;
  const float* res; /* residual input or NULL; then y = act(conv + bias + res) with these: */
  int res_act;
  float res_lo, res_hi;
  /* GEMM: the current (image, group) */
  const float* xg; /* input channels of the group */
  float* yg;       /* output channels of the group */
  const float* ag; /* packed weights of the group */
  const float* bg; /* bias of the group or NULL */
  const float* rg; /* residual of the group or NULL */
  /* depthwise */
  int64_t dw_rows, dw_pstride, dw_bands;
  int order; /* GEMM loop order (conv_loop_order) */
} conv_job;

/* y = act(y + r) over rows x cols with row stride ld: the residual after a tile's last K slice, while the
 * tile is in L1. */
static void conv_add_residual(const conv_job* j, float* y, const float* r, int64_t ld, int64_t rows, int64_t cols) {
  conv_add_act(&j->impl, y, r, ld, rows, cols, j->res_act, j->res_lo, j->res_hi);
}

/* The residual over whole planes [begin, end) of the output (paths whose kernels write whole planes). */
static void conv_residual_planes(void* ctx, int64_t begin, int64_t end) {
  const conv_job* j = ctx;
  const int64_t P = j->g.P;
  conv_add_residual(j, j->y + begin * P, j->res + begin * P, P, end - begin, P);
}

/* First tile (panel-major) of share t of T, the shares equal in work: a tile of the last panel counts its
 * pixels rounded up to a vector of 16 (the micro-kernels skip a panel's empty second half), a tile of
 * any other panel NR. With 196 pixels on 2 threads: 3 panels each, not 3.5 against 2.5 and a sliver. */
static int64_t conv_tile_split(const conv_geom* g, int64_t rblocks, int nr, int64_t t, int64_t T) {
  const int64_t panels = (g->P + nr - 1) / nr, rest = g->P - (panels - 1) * nr;
  const int64_t last = (rest + 15) / 16 * 16 < nr ? (rest + 15) / 16 * 16 : nr;
  const int64_t full = (panels - 1) * rblocks * nr, total = full + rblocks * last;
  const int64_t target = total * t / T;
  return target <= full ? target / nr : (panels - 1) * rblocks + (target - full + last - 1) / last;
}

/* CONV_BY_LINES: output rows [oy0, oy1) of the current (image, group), each row's im2col in `line`. */
static void conv_lines(const conv_job* j, float* line, int64_t oy0, int64_t oy1) {
  const conv_geom* g = &j->g;
  const int mr = j->impl.mr, nr = j->impl.nr;
  const int64_t ld = conv_line_ld(g, nr), rblocks = (g->Og + mr - 1) / mr;
  for (int64_t oy = oy0; oy < oy1; oy++) {
    conv_pack_line(g, j->xg, oy, ld, j->impl.fill2, line);
    for (int64_t k0 = 0; k0 < g->K; k0 += CONV_KC) {
      const int64_t kc = g->K - k0 < CONV_KC ? g->K - k0 : CONV_KC;
      const int first = k0 == 0, last = k0 + kc == g->K;
      for (int64_t p0 = 0; p0 < g->OW; p0 += nr) {
        const int cnt = (int)(g->OW - p0 < nr ? g->OW - p0 : nr);
        for (int64_t r = 0; r < rblocks; r++) {
          const int64_t o0 = r * mr, at = o0 * g->P + oy * g->OW + p0;
          const int rows = (int)(g->Og - o0 < mr ? g->Og - o0 : mr);
          j->impl.ukernel(kc, j->ag + r * g->K * mr + k0 * mr, line + k0 * ld + p0, ld, j->yg + at, g->P, rows, cnt,
                          j->bg ? j->bg + o0 : NULL, first, last, j->act, j->lo, j->hi);
          if (j->res && last) conv_add_residual(j, j->yg + at, j->rg + at, g->P, rows, cnt);
        }
      }
    }
  }
}

/* GEMM slot t of threads: its share of the tiles in panel-major order (conv_tile_split). */
static void conv_gemm_slot(void* ctx, int64_t begin, int64_t end) {
  const conv_job* j = ctx;
  const conv_geom* g = &j->g;
  const int mr = j->impl.mr, nr = j->impl.nr;
  const int64_t rblocks = (g->Og + mr - 1) / mr;
  const int64_t panels = (g->P + nr - 1) / nr;
  for (int64_t t = begin; t < end; t++) {
    float* panel = j->scratch + t * conv_slot_floats(g, j->order, nr);
    if (j->order == CONV_BY_LINES) {
      conv_lines(j, panel, g->OH * t / j->threads, g->OH * (t + 1) / j->threads);
      continue;
    }
    if (j->order == CONV_BY_ROW_BLOCKS || j->order == CONV_BY_PIXELS_ROW_BLOCKS) {
      const int by_pixels = j->order == CONV_BY_PIXELS_ROW_BLOCKS;
      const int64_t T = j->threads;
      const int64_t q0 = by_pixels ? panels * t / T : 0, q1 = by_pixels ? panels * (t + 1) / T : panels;
      const int64_t r0 = by_pixels ? 0 : rblocks * t / T, r1 = by_pixels ? rblocks : rblocks * (t + 1) / T;
      for (int64_t q = q0; q < q1; q++) {
        int cnt = (int)(g->P - q * nr < nr ? g->P - q * nr : nr);
        if (!conv_panel_in_place(g, cnt, nr))
          conv_pack_panel(g, j->xg, q * nr, cnt, nr, j->impl.fill2, panel + q * g->K * nr);
      }
      for (int64_t r = r0; r < r1; r++) {
        int64_t o0 = r * mr;
        int rows = (int)(g->Og - o0 < mr ? g->Og - o0 : mr);
        for (int64_t k0 = 0; k0 < g->K; k0 += CONV_KC) {
          int64_t kc = g->K - k0 < CONV_KC ? g->K - k0 : CONV_KC;
          for (int64_t q = q0; q < q1; q++) {
            int cnt = (int)(g->P - q * nr < nr ? g->P - q * nr : nr);
            int in_place = conv_panel_in_place(g, cnt, nr);
            const float* b = in_place ? j->xg + q * nr + k0 * g->P : panel + q * g->K * nr + k0 * nr;
            j->impl.ukernel(kc, j->ag + r * g->K * mr + k0 * mr, b, in_place ? g->P : nr, j->yg + o0 * g->P + q * nr,
                            g->P, rows, cnt, j->bg ? j->bg + o0 : NULL, k0 == 0, k0 + kc == g->K, j->act, j->lo,
                            j->hi);
            if (j->res && k0 + kc == g->K)
              conv_add_residual(j, j->yg + o0 * g->P + q * nr, j->rg + o0 * g->P + q * nr, g->P, rows, cnt);
          }
        }
      }
      continue;
    }
    int64_t t0 = conv_tile_split(g, rblocks, nr, t, j->threads), t1 = conv_tile_split(g, rblocks, nr, t + 1, j->threads);
    for (int64_t q = t0 / rblocks; q * rblocks < t1; q++) {
      int64_t r0 = t0 - q * rblocks, r1 = t1 - q * rblocks;
      if (r0 < 0) r0 = 0;
      if (r1 > rblocks) r1 = rblocks;
      int64_t p0 = q * nr;
      int cnt = (int)(g->P - p0 < nr ? g->P - p0 : nr);
      int in_place = conv_panel_in_place(g, cnt, nr);
      if (!in_place) conv_pack_panel(g, j->xg, p0, cnt, nr, j->impl.fill2, panel);
      for (int64_t k0 = 0; k0 < g->K; k0 += CONV_KC) {
        int64_t kc = g->K - k0 < CONV_KC ? g->K - k0 : CONV_KC;
        int first = k0 == 0, last = k0 + kc == g->K;
        const float* b = in_place ? j->xg + p0 + k0 * g->P : panel + k0 * nr;
        for (int64_t r = r0; r < r1; r++) {
          int64_t o0 = r * mr;
          int rows = (int)(g->Og - o0 < mr ? g->Og - o0 : mr);
          j->impl.ukernel(kc, j->ag + r * g->K * mr + k0 * mr, b, in_place ? g->P : nr, j->yg + o0 * g->P + p0, g->P,
                          rows, cnt, j->bg ? j->bg + o0 : NULL, first, last, j->act, j->lo, j->hi);
          if (j->res && last) conv_add_residual(j, j->yg + o0 * g->P + p0, j->rg + o0 * g->P + p0, g->P, rows, cnt);
        }
      }
    }
  }
}

/* Depthwise slot t: items (plane, band) [t*items/T, (t+1)*items/T). */
static void conv_dw_slot(void* ctx, int64_t begin, int64_t end) {
  const conv_job* j = ctx;
  const conv_geom* g = &j->g;
  const int64_t items = g->N * g->O * j->dw_bands;
  const int64_t rstride = g->sw * j->dw_pstride;
  for (int64_t t = begin; t < end; t++) {
    float* buf = j->scratch + t * (j->dw_rows + 1) * rstride;
    int64_t i0 = items * t / j->threads, i1 = items * (t + 1) / j->threads;
    int64_t filled = -1; /* input plane in buf (whole-plane bands only) */
    for (int64_t it = i0; it < i1; it++) {
      int64_t plane = it / j->dw_bands, band = it % j->dw_bands;
      int64_t nidx = plane / g->O, o = plane % g->O;
      int64_t cin = nidx * g->C + o / g->Og;
      int64_t oy0 = g->OH * band / j->dw_bands, oy1 = g->OH * (band + 1) / j->dw_bands;
      if (oy0 >= oy1) continue;
      int64_t r0 = oy0 * g->sh, r1 = (oy1 - 1) * g->sh + (g->kh - 1) * g->dh + 1;
      if (j->dw_bands > 1 || filled != cin) {
        conv_dw_fill(g, j->dw_pstride, j->impl.fill2, j->x + cin * g->H * g->W, 0, buf, buf + j->dw_rows * rstride, r0,
                     r1);
        filled = cin;
      }
      conv_dw_args a = {buf, rstride, j->dw_pstride, j->y + plane * g->P, g->OW, oy0, oy1, g->kh, g->kw, g->sh,
                        g->sw, g->dh, g->dw, j->w + o * g->kh * g->kw, j->b ? j->b[o] : 0.f, j->act, j->lo, j->hi};
      j->impl.dw(&a);
    }
  }
}

/* Flat depthwise slot t (conv_dw_flat): items (plane, band) as conv_dw_slot, whole planes of one image in
 * one call. */
static void conv_dwf_slot(void* ctx, int64_t begin, int64_t end) {
  const conv_job* j = ctx;
  const conv_geom* g = &j->g;
  const int64_t items = g->N * g->O * j->dw_bands;
  for (int64_t t = begin; t < end; t++) {
    int64_t i0 = items * t / j->threads, i1 = items * (t + 1) / j->threads;
    for (int64_t it = i0; it < i1;) {
      int64_t plane = it / j->dw_bands, band = it % j->dw_bands, o = plane % g->O;
      int64_t cnt = j->dw_bands > 1 ? 1 : g->O - o < i1 - it ? g->O - o : i1 - it;
      int64_t p0 = g->OH * band / j->dw_bands * g->OW, p1 = g->OH * (band + 1) / j->dw_bands * g->OW;
      conv_dwf_args a = {j->x + plane * g->H * g->W, j->w + o * g->kh * g->kw, j->b ? j->b + o : NULL,
                         j->y + plane * g->P + p0, g->H * g->W, g->P, cnt, g->H, g->W, p0, p1,
                         g->kh, g->kw, g->ph, g->pw, g->dh, g->dw, j->act, j->lo, j->hi, g->sh, 0};
      if (p0 < p1) j->impl.dwf(&a);
      it += cnt;
    }
  }
}

pkt_status pkt_kernel_conv2d_run(const pkt_node* n) {
  conv_job j;
  memset(&j, 0, sizeof j);
  conv_geom_read(n, &j.g);
  const conv_geom* g = &j.g;
  conv_isa_select(n->cfg, &j.impl);
  j.x = n->inputs[0]->data;
  j.w = n->inputs[1]->data;
  j.b = n->n_inputs >= 3 ? n->inputs[2]->data : NULL;
  j.y = n->outputs[0]->data;
  j.scratch = n->scratch;
  j.threads = n->pool ? conv_threads(n) : 1;
  j.act = (int)pkt_param_i(n, PKT_CONV2D_ACT);
  j.lo = (float)pkt_param_f(n, PKT_CONV2D_ACT_MIN);
  j.hi = (float)pkt_param_f(n, PKT_CONV2D_ACT_MAX);
  if (n->n_inputs == 4) {
    j.res = n->inputs[3]->data;
    j.res_act = j.act, j.res_lo = j.lo, j.res_hi = j.hi;
    j.act = PKT_ACT_NONE;
  }
  if (g->P == 0 || g->O == 0 || g->N == 0) return PKT_OK;
  int wg = n->packed ? pkt_winograd_tile(n) : 0;
  /* Winograd's transforms mix a tile's pixels: one NaN or inf would make the whole tile NaN, where the
   * direct sum (and torch) gives NaN or inf only in the windows that read it. Such inputs take the GEMM. */
  const int winograd_bypassed = wg && !pkt_all_finite(j.x, g->N * g->C * g->H * g->W);
  if (winograd_bypassed) wg = 0;
  if (wg || g->Cg == 1) {
    /* whole-plane paths: the residual (and then the activation) in a pass over the output after them */
    if (wg) {
      pkt_winograd_run(n, wg, j.act, n->packed, n->scratch);
    } else {
      conv_dw_layout(g, &j.dw_rows, &j.dw_pstride);
      int64_t planes = g->N * g->O;
      j.dw_bands = planes >= 4 * (int64_t)j.threads || g->OH < 2 ? 1 : g->OH < j.threads ? g->OH : j.threads;
      pkt_parallel_for(n, j.threads, conv_dw_flat(g, &j.impl) ? conv_dwf_slot : conv_dw_slot, &j);
    }
    if (j.res) pkt_parallel_for(n, g->N * g->O, conv_residual_planes, &j);
    return PKT_OK;
  }
  j.order = conv_loop_order(g, j.impl.mr, j.impl.nr, conv_threads(n)); /* as sized by prepare */
  const int64_t group_floats = (g->Og + j.impl.mr - 1) / j.impl.mr * g->K * j.impl.mr;
  const float* packed = winograd_bypassed ? NULL : n->packed;
  if (!packed) {
    /* weight computed by the graph (or packed for Winograd): pack it now, ahead of the panel slots */
    float* dst = j.scratch;
    for (int64_t grp = 0; grp < g->groups; grp++)
      conv_pack_weights(j.w + grp * g->Og * g->K, g->Og, g->K, j.impl.mr, dst + grp * group_floats);
    packed = dst;
    j.scratch += ((size_t)(g->groups * group_floats) * sizeof(float) + 63) / 64 * 16;
  }
  if (conv_ksplit_wanted(g, j.threads)) {
    for (int64_t img = 0; img < g->N; img++) {
      conv_ksplit_job k = {g, &j.impl, j.x + img * g->C * g->P, packed, j.b, j.res ? j.res + img * g->O * g->P : NULL,
                           j.y + img * g->O * g->P, j.scratch, j.res ? j.res_act : j.act, j.res ? j.res_lo : j.lo,
                           j.res ? j.res_hi : j.hi};
      conv_ksplit_run(n, &k);
    }
    return PKT_OK;
  }
  for (int64_t img = 0; img < g->N; img++) {
    for (int64_t grp = 0; grp < g->groups; grp++) {
      j.xg = j.x + (img * g->C + grp * g->Cg) * g->H * g->W;
      j.yg = j.y + (img * g->O + grp * g->Og) * g->P;
      j.ag = packed + grp * group_floats;
      j.bg = j.b ? j.b + grp * g->Og : NULL;
      j.rg = j.res ? j.res + (img * g->O + grp * g->Og) * g->P : NULL;
      pkt_parallel_for(n, j.threads, conv_gemm_slot, &j);
    }
  }
  return PKT_OK;
}
