/* qconv2d: int8 conv2d NCHW, weight int8 OIHW (symmetric per output channel), float bias made int32 at pack time.
 * Depthwise (one input and one output channel a group): a direct loop with int32 accumulation. Otherwise per image
 * and group: im2col of (x) into [OH*OW, K] int8 (padding holds in_zp, so it adds 0), the int8 GEMM (compute/qgemm)
 * with its requantizing epilogue into [OH*OW, O/g], then the transpose into NCHW. Packed: the per-channel
 * multipliers and int32 biases, then (not depthwise) one GEMM pack per group. */
#include "core/kernel.h"
#include "compute/qgemm/qgemm.h"
#include "compute/qgemm/qgemm_internal.h"
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

static size_t qc_scratch(const qc_geom* q) {
  return qc_depthwise(q) ? 0 : pkt_q_align64((size_t)(q->P * q->K)) + (size_t)(q->P * q->Og);
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
  *scratch = qc_scratch(&q);
  return PKT_OK;
}

static size_t qc_consts_bytes(const qc_geom* q) { return pkt_q_align64((size_t)q->O * 8u); }
static size_t qc_group_bytes(const pkt_node* n, const qc_geom* q) {
  return pkt_q_align64(pkt_qgemm_packed_size(n->cfg, q->K, q->Og));
}

size_t pkt_kernel_qconv2d_pack_size(const pkt_node* n) {
  qc_geom q;
  qc_geometry(n, &q);
  return qc_consts_bytes(&q) + (qc_depthwise(&q) ? 0 : (size_t)q.g * qc_group_bytes(n, &q));
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
  for (int64_t g = 0; g < q.g; g++)
    pkt_qgemm_pack_b(n->cfg, w + g * q.Og * q.K, 1, q.K, q.K, q.Og, ibias + g * q.Og,
                     (char*)packed + qc_consts_bytes(&q) + (size_t)g * qc_group_bytes(n, &q));
}

typedef struct qc_job {
  const pkt_node* n;
  const qc_geom* q;
  const float* scale;
  const int32_t* ibias;
  int32_t iz, oz, lo, hi;
} qc_job;

/* Depthwise planes [b, e) of N*C: direct accumulation, the same requantization as the GEMM's epilogue. */
static void qc_dw_planes(void* ctx, int64_t b, int64_t e) {
  const qc_job* j = ctx;
  const qc_geom* q = j->q;
  const int8_t *x = j->n->inputs[0]->data, *w = j->n->inputs[1]->data;
  int8_t* y = j->n->outputs[0]->data;
  for (int64_t p = b; p < e; p++) {
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
}

/* A [P, K] for image b, group g: row p = output position, column (c, ky, kx) as the weight's. */
static void qc_im2col(const qc_job* j, int64_t b, int64_t g, int8_t* A) {
  const qc_geom* q = j->q;
  const int8_t* x = (const int8_t*)j->n->inputs[0]->data + (b * q->C + g * q->Cg) * q->H * q->W;
  for (int64_t oy = 0; oy < q->OH; oy++)
    for (int64_t ox = 0; ox < q->OW; ox++) {
      int8_t* row = A + (oy * q->OW + ox) * q->K;
      for (int64_t c = 0; c < q->Cg; c++)
        for (int64_t ky = 0; ky < q->kh; ky++) {
          int64_t iy = oy * q->sh - q->ph + ky * q->dh;
          for (int64_t kx = 0; kx < q->kw; kx++) {
            int64_t ix = ox * q->sw - q->pw + kx * q->dw;
            *row++ = (iy >= 0 && iy < q->H && ix >= 0 && ix < q->W) ? x[(c * q->H + iy) * q->W + ix] : (int8_t)j->iz;
          }
        }
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
    pkt_parallel_for(n, q.N * q.C, qc_dw_planes, &j);
    return PKT_OK;
  }
  int8_t* A = n->scratch;
  int8_t* Cm = A + pkt_q_align64((size_t)(q.P * q.K));
  int8_t* y = n->outputs[0]->data;
  pkt_qgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = q.P;
  g.N = q.Og;
  g.K = q.K;
  g.A = A;
  g.lda = q.K;
  g.a_zp = &j.iz;
  g.epilogue = PKT_QGEMM_REQUANT;
  g.C8 = Cm;
  g.ldc = q.Og;
  g.c_zp = j.oz;
  g.c_min = j.lo;
  g.c_max = j.hi;
  for (int64_t b = 0; b < q.N; b++)
    for (int64_t gr = 0; gr < q.g; gr++) {
      qc_im2col(&j, b, gr, A);
      g.packed_b = (const char*)n->packed + qc_consts_bytes(&q) + (size_t)gr * qc_group_bytes(n, &q);
      g.scale = j.scale + gr * q.Og;
      pkt_qgemm(n, n->cfg, &g);
      int8_t* yg = y + (b * q.O + gr * q.Og) * q.P;
      for (int64_t p = 0; p < q.P; p++)
        for (int64_t o = 0; o < q.Og; o++) yg[o * q.P + p] = Cm[p * q.Og + o];
    }
  return PKT_OK;
}
