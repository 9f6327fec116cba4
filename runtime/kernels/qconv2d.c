/* qconv2d: int8 conv2d NCHW, weight int8 OIHW (symmetric per output channel), float bias made int32 at pack time.
 * Depthwise (one input and one output channel a group): compute/qdw's row kernels, int32 sums (a channel whose bias
 * could make them wrap takes the direct int64 loop here). Otherwise per image and group, the int8 GEMM
 * (compute/qgemm) with the weights as A [Og, K] and the activations as B [K, P]: a 1x1 stride-1 unpadded conv
 * packs the input plane as it is, any other first writes its im2col [K, P] (rows of the input, padding iz so it
 * adds 0); the output rows are NCHW as they come. The input zero point goes into a per-output-channel bias,
 * ibias[o] - iz * sum_k W[o, k] (int32, wrapping as the GEMM's sums do), with the per-channel multipliers as the
 * GEMM's per-row terms. AVX-512 VNNI sessions run compute/qgemm's convolution GEMM instead (fused im2col and
 * packing per block of columns, u8 activations, the bias ibias[o] - (iz + 128) * sum_k W[o, k]; with 16k channels a
 * group from a padded HWC copy of the input, the weights reordered to its runs). Packed: the multipliers and int32
 * biases, then (not depthwise) the per-row biases of the session's path, then the reordered weights if used. */
#include "core/kernel.h"
#include "compute/qgemm/qgemm.h"
#include "compute/qgemm/qgemm_internal.h"
#include "compute/qgemm/qgemm_conv.h"
#include "compute/qdw/qdw.h"
#include "kernels/quant_util.h"

PKT_DECLARE_PACKING(qconv2d)

typedef struct qc_geom {
  int64_t N, C, H, W, O, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, g, Cg, Og, K, P;
} qc_geom;

static void qc_geometry(const pkt_node* n, qc_geom* q) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  q->N = x->dims[0], q->C = x->dims[1], q->H = x->dims[2], q->W = x->dims[3];
  q->O = w->dims[0], q->kh = w->dims[2], q->kw = w->dims[3], q->OH = y->dims[2], q->OW = y->dims[3];
  q->sh = pkt_param_i(n, PKT_QCONV2D_STRIDE_H), q->sw = pkt_param_i(n, PKT_QCONV2D_STRIDE_W);
  q->ph = pkt_param_i(n, PKT_QCONV2D_PAD_H), q->pw = pkt_param_i(n, PKT_QCONV2D_PAD_W);
  q->dh = pkt_param_i(n, PKT_QCONV2D_DIL_H), q->dw = pkt_param_i(n, PKT_QCONV2D_DIL_W);
  q->g = pkt_param_i(n, PKT_QCONV2D_GROUPS);
  q->Cg = q->g ? q->C / q->g : 0, q->Og = q->g ? q->O / q->g : 0;
  q->K = q->Cg * q->kh * q->kw, q->P = q->OH * q->OW;
}

static int qc_depthwise(const qc_geom* q) { return q->Cg == 1 && q->Og == 1; }

static size_t qc_dw_slice(const qc_geom* q) {
  return pkt_qdw_scratch(q->H, q->W, q->sh, q->sw, q->ph, q->pw);
}

/* A 1x1 conv with stride 1 and no padding: its input plane is the GEMM's B as it is. */
static int qc_pointwise(const qc_geom* q) {
  return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->ph == 0 && q->pw == 0;
}

static size_t qc_col_bytes(const qc_geom* q) { return qc_pointwise(q) ? 0 : pkt_q_align64((size_t)(q->K * q->P)); }

/* The conv GEMM's geometry fields for q. */
static pkt_qconv_gemm_args qc_conv_gemm_geometry(const qc_geom* q) {
  pkt_qconv_gemm_args a = {0};
  a.Cg = q->Cg, a.H = q->H, a.W = q->W, a.kh = q->kh, a.kw = q->kw, a.sh = q->sh, a.sw = q->sw, a.ph = q->ph;
  a.pw = q->pw, a.dh = q->dh, a.dw = q->dw, a.OH = q->OH, a.OW = q->OW, a.M = q->Og, a.K = q->K;
  return a;
}

/* Whether the session runs the conv GEMM's HWC path (weights reordered at pack time). */
static int qc_hwc(const pkt_node* n, const qc_geom* q) {
  const pkt_qconv_gemm_args a = qc_conv_gemm_geometry(q);
  return !qc_depthwise(q) && pkt_qconv_gemm_supported(n->cfg) && pkt_qconv_gemm_hwc(&a);
}

static size_t qc_scratch(const pkt_node* n, const qc_geom* q) {
  const size_t threads = (size_t)(n->num_threads > 1 ? n->num_threads : 1);
  if (qc_depthwise(q)) return threads * qc_dw_slice(q);
  if (pkt_qconv_gemm_supported(n->cfg)) {
    const pkt_qconv_gemm_args a = qc_conv_gemm_geometry(q);
    return pkt_qconv_gemm_scratch(&a, (int)threads);
  }
  return qc_col_bytes(q) + pkt_q_align64(pkt_qgemm_packed_size(n->cfg, q->K, q->P));
}

pkt_status pkt_kernel_qconv2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_QCONV2D_MIN_INPUTS, PKT_QCONV2D_MAX_INPUTS, 1, PKT_QCONV2D_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_I8, "input", err)) || (st = pkt_check_dtype(w, PKT_I8, "weight", err)) ||
      (st = pkt_check_dtype(y, PKT_I8, "output", err)) || (st = pkt_q_check_qparams(n, PKT_QCONV2D_IN_SCALE, "input", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QCONV2D_OUT_SCALE, "output", err)) ||
      (st = pkt_q_check_clamp(pkt_param_i(n, PKT_QCONV2D_OUT_MIN), pkt_param_i(n, PKT_QCONV2D_OUT_MAX), err)))
    return st;
  if (!w->data) return pkt_fail(err, PKT_BAD_OPERANDS, "the int8 weight must be a constant");
  if (x->rank != 4 || w->rank != 4 || y->rank != 4)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input, weight and output must be 4-D (NCHW, OIHW)");
  for (int i = PKT_QCONV2D_STRIDE_H; i <= PKT_QCONV2D_GROUPS; i++) {
    int64_t v = pkt_param_i(n, i), lo = (i == PKT_QCONV2D_PAD_H || i == PKT_QCONV2D_PAD_W) ? 0 : 1;
    if (v < lo || v > ((int64_t)1 << 24)) return pkt_fail(err, PKT_BAD_PARAMS, "parameter %d = %lld is out of range", i, (long long)v);
  }
  qc_geom q;
  qc_geometry(n, &q);
  if (q.C % q.g || q.O % q.g || w->dims[1] != q.Cg || y->dims[0] != q.N || y->dims[1] != q.O)
    return pkt_fail(err, PKT_BAD_OPERANDS, "channels: input %lld, weight [%lld, %lld], output %lld, groups %lld",
                    (long long)q.C, (long long)q.O, (long long)w->dims[1], (long long)y->dims[1], (long long)q.g);
  int64_t eh = q.dh * (q.kh - 1) + 1, ew = q.dw * (q.kw - 1) + 1;
  if (q.H + 2 * q.ph < eh || q.W + 2 * q.pw < ew || q.OH != (q.H + 2 * q.ph - eh) / q.sh + 1 ||
      q.OW != (q.W + 2 * q.pw - ew) / q.sw + 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "output %lldx%lld does not match the input and window", (long long)q.OH, (long long)q.OW);
  if (q.K > PKT_QGEMM_MAX_K || q.P > ((int64_t)1 << 40) / (q.K + q.Og + 1))
    return pkt_fail(err, PKT_BAD_OPERANDS, "the convolution is too large");
  if ((st = pkt_q_check_scales(n->inputs[2], q.O, err))) return st;
  if (n->n_inputs == 4) {
    if ((st = pkt_check_dtype(n->inputs[3], PKT_F32, "bias", err))) return st;
    if (!n->inputs[3]->data || n->inputs[3]->numel != q.O)
      return pkt_fail(err, PKT_BAD_OPERANDS, "the bias must be a constant of %lld floats", (long long)q.O);
  }
  *scratch = qc_scratch(n, &q);
  return PKT_OK;
}

static size_t qc_consts_bytes(const qc_geom* q) { return pkt_q_align64((size_t)q->O * 8u); }
static size_t qc_row_bias_bytes(const qc_geom* q) { return qc_depthwise(q) ? 0 : pkt_q_align64((size_t)q->O * 4u); }

size_t pkt_kernel_qconv2d_pack_size(const pkt_node* n) {
  qc_geom q;
  qc_geometry(n, &q);
  return qc_consts_bytes(&q) + qc_row_bias_bytes(&q) + (qc_hwc(n, &q) ? pkt_q_align64((size_t)(q.O * q.K)) : 0);
}

void pkt_kernel_qconv2d_pack(const pkt_node* n, void* packed) {
  qc_geom q;
  qc_geometry(n, &q);
  memset(packed, 0, pkt_kernel_qconv2d_pack_size(n));
  float* scale = packed;
  int32_t* ibias = (int32_t*)(scale + q.O);
  pkt_q_gemm_consts(pkt_param_f(n, PKT_QCONV2D_IN_SCALE), n->inputs[2]->data, pkt_param_f(n, PKT_QCONV2D_OUT_SCALE),
                    n->n_inputs == 4 ? n->inputs[3]->data : NULL, q.O, scale, ibias);
  if (qc_depthwise(&q)) return;
  const int8_t* w = n->inputs[1]->data;
  const uint32_t iz = (uint32_t)(int32_t)pkt_param_i(n, PKT_QCONV2D_IN_ZP);
  const uint32_t zp = pkt_qconv_gemm_supported(n->cfg) ? iz + 128u : iz; /* the conv GEMM's activations are u8 */
  int32_t* row_bias = (int32_t*)(void*)((char*)packed + qc_consts_bytes(&q));
  for (int64_t o = 0; o < q.O; o++) {
    uint32_t sum = 0;
    for (int64_t k = 0; k < q.K; k++) sum += (uint32_t)(int32_t)w[o * q.K + k];
    row_bias[o] = (int32_t)((uint32_t)ibias[o] - zp * sum);
  }
  if (!qc_hwc(n, &q)) return;
  const pkt_qconv_gemm_args a = qc_conv_gemm_geometry(&q);
  const int64_t per_row = q.dw == 1 ? 1 : q.kw, len = q.K / pkt_qconv_gemm_runs(&a);
  int8_t* wr = (int8_t*)row_bias + qc_row_bias_bytes(&q); /* [O][runs][len]: (kx, c) or c within a run */
  for (int64_t o = 0; o < q.O; o++)
    for (int64_t ky = 0; ky < q.kh; ky++)
      for (int64_t kx = 0; kx < q.kw; kx++) { /* written in order: load time */
        int8_t* d = wr + o * q.K + (per_row > 1 ? (ky * q.kw + kx) * len : ky * len + kx * q.Cg);
        const int8_t* s = w + o * q.K + ky * q.kw + kx;
        for (int64_t c = 0; c < q.Cg; c++) d[c] = s[c * q.kh * q.kw];
      }
}

typedef struct qc_job {
  const pkt_node* n;
  const qc_geom* q;
  const float* scale;
  const int32_t* ibias;
  int32_t iz, oz, lo, hi;
} qc_job;

/* One depthwise plane p of N*C, directly with int64 sums: the reference of the row kernels (compute/qdw), and the
 * path of a channel whose bias is so large that their int32 sums could wrap. */
static void qc_dw_plane_scalar(const qc_job* j, int64_t p) {
  const qc_geom* q = j->q;
  const int8_t *x = j->n->inputs[0]->data, *w = j->n->inputs[1]->data;
  int8_t* y = j->n->outputs[0]->data;
  const int64_t c = p % q->C;
  const int8_t *xp = x + p * q->H * q->W, *wc = w + c * q->kh * q->kw;
  int8_t* yp = y + p * q->P;
  for (int64_t oy = 0; oy < q->OH; oy++)
    for (int64_t ox = 0; ox < q->OW; ox++) {
      int64_t acc = j->ibias[c]; /* 64-bit: a saturated int32 bias (a huge float bias) plus the sums must not wrap */
      for (int64_t ky = 0; ky < q->kh; ky++) {
        int64_t iy = oy * q->sh - q->ph + ky * q->dh;
        if (iy < 0 || iy >= q->H) continue;
        for (int64_t kx = 0; kx < q->kw; kx++) {
          int64_t ix = ox * q->sw - q->pw + kx * q->dw;
          if (ix >= 0 && ix < q->W) acc += (int64_t)(xp[iy * q->W + ix] - j->iz) * wc[ky * q->kw + kx];
        }
      }
      yp[oy * q->OW + ox] = pkt_q_round((float)acc * j->scale[c], j->oz, j->lo, j->hi);
    }
}

/* Thread `index` of `count`: its share of the N*C planes, in its slice of the scratch. */
static void qc_dw_thread(void* ctx, int index, int count) {
  const qc_job* j = ctx;
  const qc_geom* q = j->q;
  const int64_t planes = q->N * q->C, b = planes * index / count, e = planes * (index + 1) / count;
  pkt_qdw_args a = {0};
  a.H = q->H, a.W = q->W, a.kh = q->kh, a.kw = q->kw, a.sh = q->sh, a.sw = q->sw, a.ph = q->ph, a.pw = q->pw;
  a.dh = q->dh, a.dw = q->dw, a.OH = q->OH, a.OW = q->OW, a.iz = j->iz, a.oz = j->oz, a.lo = j->lo, a.hi = j->hi;
  a.buf = (char*)j->n->scratch + (size_t)index * qc_dw_slice(q);
  for (int64_t p = b; p < e; p++) {
    const int64_t c = p % q->C;
    if (!pkt_qdw_exact(j->ibias[c], j->scale[c], q->kh, q->kw)) {
      qc_dw_plane_scalar(j, p);
      continue;
    }
    a.x = (const int8_t*)j->n->inputs[0]->data + p * q->H * q->W;
    a.w = (const int8_t*)j->n->inputs[1]->data + c * q->kh * q->kw;
    a.y = (int8_t*)j->n->outputs[0]->data + p * q->P;
    a.bias = j->ibias[c], a.scale = j->scale[c];
    pkt_qdw_plane(j->n->cfg, &a);
  }
}

/* B [K, P] for image b, group g: row k = (c, ky, kx) as the weight's, column p = output position; each output row's
 * run of input columns copied (memcpy at stride 1), padding iz. */
static void qc_im2col(const qc_job* j, int64_t b, int64_t g, int8_t* B) {
  const qc_geom* q = j->q;
  const int8_t* x = (const int8_t*)j->n->inputs[0]->data + (b * q->C + g * q->Cg) * q->H * q->W;
  const int iz = j->iz;
  for (int64_t c = 0; c < q->Cg; c++)
    for (int64_t ky = 0; ky < q->kh; ky++)
      for (int64_t kx = 0; kx < q->kw; kx++) {
        int8_t* row = B + ((c * q->kh + ky) * q->kw + kx) * q->P;
        /* output columns [lo, hi) read input columns inside the row */
        const int64_t off = kx * q->dw - q->pw;
        int64_t lo = off >= 0 ? 0 : (-off + q->sw - 1) / q->sw;
        int64_t hi = q->W - off <= 0 ? 0 : (q->W - off + q->sw - 1) / q->sw;
        if (hi > q->OW) hi = q->OW;
        if (lo > hi) lo = hi;
        for (int64_t oy = 0; oy < q->OH; oy++) {
          int8_t* r = row + oy * q->OW;
          const int64_t iy = oy * q->sh - q->ph + ky * q->dh;
          if (iy < 0 || iy >= q->H) {
            memset(r, iz, (size_t)q->OW);
            continue;
          }
          const int8_t* src = x + (c * q->H + iy) * q->W;
          memset(r, iz, (size_t)lo);
          if (q->sw == 1)
            memcpy(r + lo, src + lo + off, (size_t)(hi - lo));
          else
            for (int64_t ox = lo; ox < hi; ox++) r[ox] = src[ox * q->sw + off];
          memset(r + hi, iz, (size_t)(q->OW - hi));
        }
      }
}

/* The AVX-512 VNNI convolution GEMM, per image and group. */
static void qc_run_conv_gemm(const qc_job* j) {
  const pkt_node* n = j->n;
  const qc_geom* q = j->q;
  const int32_t* row_bias = (const int32_t*)(const void*)((const char*)n->packed + qc_consts_bytes(q));
  const int8_t* w = qc_hwc(n, q) ? (const int8_t*)row_bias + qc_row_bias_bytes(q) : n->inputs[1]->data;
  pkt_qconv_gemm_args a = qc_conv_gemm_geometry(q);
  a.iz = j->iz, a.c_zp = j->oz, a.c_min = j->lo, a.c_max = j->hi;
  for (int64_t b = 0; b < q->N; b++)
    for (int64_t gr = 0; gr < q->g; gr++) {
      a.x = (const int8_t*)n->inputs[0]->data + (b * q->C + gr * q->Cg) * q->H * q->W;
      a.w = w + gr * q->Og * q->K;
      a.row_bias = row_bias + gr * q->Og;
      a.row_scale = j->scale + gr * q->Og;
      a.y = (int8_t*)n->outputs[0]->data + (b * q->O + gr * q->Og) * q->P;
      pkt_qconv_gemm(n, &a, n->scratch);
    }
}

pkt_status pkt_kernel_qconv2d_run(const pkt_node* n) {
  qc_geom q;
  qc_geometry(n, &q);
  if (n->outputs[0]->numel == 0) return PKT_OK;
  qc_job j = {n, &q, n->packed, (const int32_t*)((const float*)n->packed + q.O),
              (int32_t)pkt_param_i(n, PKT_QCONV2D_IN_ZP), (int32_t)pkt_param_i(n, PKT_QCONV2D_OUT_ZP),
              (int32_t)pkt_param_i(n, PKT_QCONV2D_OUT_MIN), (int32_t)pkt_param_i(n, PKT_QCONV2D_OUT_MAX)};
  if (qc_depthwise(&q)) {
    pkt_parallel_for_threads(n, qc_dw_thread, &j);
    return PKT_OK;
  }
  if (pkt_qconv_gemm_supported(n->cfg)) {
    qc_run_conv_gemm(&j);
    return PKT_OK;
  }
  int8_t* col = n->scratch;
  void* packed_b = (char*)n->scratch + qc_col_bytes(&q);
  const int8_t *x = n->inputs[0]->data, *w = n->inputs[1]->data;
  const int32_t* row_bias = (const int32_t*)(const void*)((const char*)n->packed + qc_consts_bytes(&q));
  int8_t* y = n->outputs[0]->data;
  const int32_t no_zp = 0; /* A is the symmetric weight */
  pkt_qgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = q.Og;
  g.N = q.P;
  g.K = q.K;
  g.lda = q.K;
  g.a_zp = &no_zp;
  g.packed_b = packed_b;
  g.epilogue = PKT_QGEMM_REQUANT;
  g.ldc = q.P;
  g.c_zp = j.oz;
  g.c_min = j.lo;
  g.c_max = j.hi;
  for (int64_t b = 0; b < q.N; b++)
    for (int64_t gr = 0; gr < q.g; gr++) {
      const int8_t* B = x + (b * q.C + gr * q.Cg) * q.H * q.W;
      if (!qc_pointwise(&q)) {
        qc_im2col(&j, b, gr, col);
        B = col;
      }
      pkt_qgemm_pack_b_rows(n, n->cfg, B, q.P, q.K, q.P, packed_b);
      g.A = w + gr * q.Og * q.K;
      g.C8 = y + (b * q.O + gr * q.Og) * q.P;
      g.row_scale = j.scale + gr * q.Og;
      g.row_bias = row_bias + gr * q.Og;
      pkt_qgemm(n, n->cfg, &g);
    }
  return PKT_OK;
}
