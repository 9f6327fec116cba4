/* sdpa: scaled dot-product attention. q [..., L, E], k [..., S, E], v [..., S, Ev] -> out [..., L, Ev];
 * k, v and the optional mask (4th input, bool: true attends, or float: added to the scores,
 * broadcastable to [..., L, S]) broadcast over q's batch dims. is_causal keeps key j <= query i.
 * Rows whose keys are all masked give 0 (as torch's math path does).
 *
 * Blockwise on the packed GEMM (runtime/src/gemm.h): a work item is one batch (head) and a range of
 * its query rows. The item packs K^T and V into its slot's scratch once, then for each block of BR
 * query rows computes the scores S = Q K^T (only one block of scores exists at a time), the row-wise
 * softmax (vectorized exp; scale, mask and causal limit applied on the way), and O = P V, with the
 * 1/sum normalization applied to the Ev outputs instead of the S probabilities. */
#include <math.h>
#include <stdint.h>

#include "core/kernel.h"
#include "compute/gemm/gemm.h"

#define SDPA_SLOTS 16
#define SDPA_BR 48 /* query rows per block: a multiple of every micro-kernel's row count */

/* Floats of one slot's scratch: packed K^T, packed V, a block of scores, 1/sum per row. */
static uint64_t slot_floats(int64_t S, int64_t E, int64_t Ev) {
  uint64_t s_pad = (uint64_t)((S + 15) / 16 * 16);
  return (uint64_t)pkt_gemm_packed_size(E, S) + (uint64_t)pkt_gemm_packed_size(S, Ev) + SDPA_BR * s_pad + SDPA_BR;
}

/* Is t ([.., a, b]) broadcastable to out's batch dims with last two dims in {1, r} x {1, c}? */
static int fits(const pkt_tensor* t, const pkt_tensor* out, int64_t r, int64_t c, int exact) {
  if (t->rank < 2 || t->rank > out->rank) return 0;
  int64_t tr = t->dims[t->rank - 2], tc = t->dims[t->rank - 1];
  if (exact ? (tr != r || tc != c) : ((tr != 1 && tr != r) || (tc != 1 && tc != c))) return 0;
  for (int d = 0; d < t->rank - 2; d++) {
    int64_t e = t->dims[d], o = out->dims[d + out->rank - t->rank];
    if (e != 1 && e != o) return 0;
  }
  return 1;
}

static int64_t slots_for(const pkt_node* n) {
  int64_t T = n->num_threads > 1 ? n->num_threads : 1;
  return T > SDPA_SLOTS ? SDPA_SLOTS : T;
}

pkt_status pkt_kernel_sdpa_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_SDPA_MIN_INPUTS, PKT_SDPA_MAX_INPUTS, 1, PKT_SDPA_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *q = n->inputs[0], *k = n->inputs[1], *v = n->inputs[2], *y = n->outputs[0];
  if ((st = pkt_check_dtype(q, PKT_F32, "query", err)) || (st = pkt_check_dtype(k, PKT_F32, "key", err)) ||
      (st = pkt_check_dtype(v, PKT_F32, "value", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  if (q->rank < 2 || y->rank != q->rank || k->rank < 2 || v->rank < 2)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks q %d, k %d, v %d, output %d; expected >= 2 and output = q", q->rank,
                    k->rank, v->rank, y->rank);
  int64_t L = q->dims[q->rank - 2], E = q->dims[q->rank - 1];
  int64_t S = k->dims[k->rank - 2], Ev = v->dims[v->rank - 1];
  for (int d = 0; d < q->rank - 2; d++)
    if (q->dims[d] != y->dims[d]) return pkt_fail(err, PKT_BAD_OPERANDS, "output batch dim %d differs from q", d);
  if (y->dims[y->rank - 2] != L || y->dims[y->rank - 1] != Ev)
    return pkt_fail(err, PKT_BAD_OPERANDS, "output is [.., %lld, %lld], expected [.., %lld, %lld]",
                    (long long)y->dims[y->rank - 2], (long long)y->dims[y->rank - 1], (long long)L, (long long)Ev);
  if (!fits(k, y, S, E, 1) || !fits(v, y, S, Ev, 1))
    return pkt_fail(err, PKT_BAD_OPERANDS, "key [.., %lld, %lld] / value do not match query [.., %lld, %lld] and its batch dims",
                    (long long)S, (long long)k->dims[k->rank - 1], (long long)L, (long long)E);
  if (n->n_inputs == 4) {
    const pkt_tensor* m = n->inputs[3];
    if (m->dtype != PKT_F32 && m->dtype != PKT_BOOL)
      return pkt_fail(err, PKT_BAD_OPERANDS, "mask is %s, expected bool or float32", pkt_dtype_name(m->dtype));
    if (!fits(m, y, L, S, 0)) return pkt_fail(err, PKT_BAD_OPERANDS, "mask does not broadcast to [.., %lld, %lld]", (long long)L, (long long)S);
  }
  int64_t causal = pkt_param_i(n, PKT_SDPA_IS_CAUSAL);
  double scale = pkt_param_f(n, PKT_SDPA_SCALE);
  if (causal != 0 && causal != 1) return pkt_fail(err, PKT_BAD_PARAMS, "is_causal is %lld, expected 0 or 1", (long long)causal);
  if (!isfinite(scale)) return pkt_fail(err, PKT_BAD_PARAMS, "scale %g is not finite", scale);
  /* Every dim is bounded by the loader; still keep the product far from overflow. */
  if (S > ((int64_t)1 << 31) || E > ((int64_t)1 << 31) || Ev > ((int64_t)1 << 31) ||
      (double)S * (double)(E + Ev + SDPA_BR + 64) * 4.0 * SDPA_SLOTS > (double)(SIZE_MAX / 4))
    return pkt_fail(err, PKT_BAD_OPERANDS, "%lld keys of %lld + %lld features need too much scratch", (long long)S,
                    (long long)E, (long long)Ev);
  *scratch = (size_t)((uint64_t)slots_for(n) * slot_floats(S, E, Ev) * sizeof(float));
  return PKT_OK;
}

typedef struct sdpa_job {
  const float *q, *k, *v;
  const void* mask;
  int mask_bool;
  float* y;
  float* scratch;
  int64_t L, S, E, Ev, parts, items, slots, slot_floats;
  int rank; /* output rank */
  int64_t dims[PKT_MAX_RANK];
  int64_t k_str[PKT_MAX_RANK], v_str[PKT_MAX_RANK], m_str[PKT_MAX_RANK]; /* batch strides (elements) */
  int64_t m_row, m_col;
  int causal;
  const pkt_isa_config* cfg;
  float scale;
} sdpa_job;

/* Scale, mask and causal limit on one row of raw scores, then softmax in place; returns 1/sum
 * (0 when no key is attended: the row is zeroed and gives a zero output). */
static float softmax_row(const sdpa_job* j, float* p, int64_t cols, int64_t lim, const uint8_t* mb, const float* mf) {
  float scale = j->scale;
  if (mb || mf || scale < 0.f) {
    if (mb) {
      for (int64_t c = 0; c < lim; c++) p[c] = mb[c * j->m_col] ? p[c] * scale : -INFINITY;
    } else if (mf) {
      for (int64_t c = 0; c < lim; c++) p[c] = p[c] * scale + mf[c * j->m_col];
    } else {
      for (int64_t c = 0; c < lim; c++) p[c] *= scale;
    }
    scale = 1.f;
  }
  const float mx = j->cfg->vec_max(p, lim);
  if (mx == -INFINITY || lim == 0) {
    memset(p, 0, (size_t)cols * sizeof(float));
    return 0.f;
  }
  const float sum = j->cfg->vec_exp_sum(p, p, lim, scale, mx * scale);
  if (lim < cols) memset(p + lim, 0, (size_t)(cols - lim) * sizeof(float));
  return 1.f / sum;
}

static void sdpa_slots(void* ctx, int64_t begin, int64_t end) {
  const sdpa_job* j = ctx;
  const int64_t L = j->L, S = j->S, E = j->E, Ev = j->Ev;
  const int64_t s_pad = (S + 15) / 16 * 16;
  for (int64_t s = begin; s < end; s++) {
    float* pk = j->scratch + s * j->slot_floats;
    float* pv = pk + pkt_gemm_packed_size(E, S);
    float* scores = pv + pkt_gemm_packed_size(S, Ev);
    float* inv = scores + SDPA_BR * s_pad;
    const int64_t it0 = j->items * s / j->slots, it1 = j->items * (s + 1) / j->slots;
    int64_t packed_b = -1;
    for (int64_t it = it0; it < it1; it++) {
      const int64_t b = it / j->parts, part = it % j->parts;
      /* Row range of this part, in whole blocks. */
      const int64_t blocks = (L + SDPA_BR - 1) / SDPA_BR;
      const int64_t blk0 = blocks * part / j->parts, blk1 = blocks * (part + 1) / j->parts;
      if (blk0 >= blk1) continue;
      int64_t koff = 0, voff = 0, moff = 0, rem = b;
      for (int d = j->rank - 3; d >= 0; d--) {
        int64_t idx = rem % j->dims[d];
        rem /= j->dims[d];
        koff += idx * j->k_str[d];
        voff += idx * j->v_str[d];
        moff += idx * j->m_str[d];
      }
      if (packed_b != b) {
        pkt_gemm_pack_b(j->k + koff, 1, E, E, S, pk);  /* K^T: element (e, s) at k[s * E + e] */
        pkt_gemm_pack_b(j->v + voff, Ev, 1, S, Ev, pv); /* V: element (s, f) at v[s * Ev + f] */
        packed_b = b;
      }
      for (int64_t r0 = blk0 * SDPA_BR; r0 < blk1 * SDPA_BR && r0 < L; r0 += SDPA_BR) {
        const int64_t r1 = r0 + SDPA_BR < L ? r0 + SDPA_BR : L, rows = r1 - r0;
        /* Causal rows r0..r1-1 only see keys below r1. */
        const int64_t cols = j->causal ? (r1 < S ? r1 : S) : S;
        float* out = j->y + (b * L + r0) * Ev;
        if (cols == 0 || E == 0) {
          /* No keys (or empty features: every score 0): softmax of nothing / a uniform average. */
          for (int64_t r = 0; r < rows; r++) {
            float* o = out + r * Ev;
            if (cols == 0) {
              memset(o, 0, (size_t)Ev * sizeof(float));
              continue;
            }
            for (int64_t c = 0; c < cols; c++) scores[c] = 0.f;
            const int64_t i = r0 + r, lim = j->causal ? (i + 1 < cols ? i + 1 : cols) : cols;
            const uint8_t* mb = j->mask && j->mask_bool ? (const uint8_t*)j->mask + moff + i * j->m_row : NULL;
            const float* mf = j->mask && !j->mask_bool ? (const float*)j->mask + moff + i * j->m_row : NULL;
            float iv = softmax_row(j, scores, cols, lim, mb, mf);
            for (int64_t f = 0; f < Ev; f++) {
              float acc = 0.f;
              for (int64_t c = 0; c < cols; c++) acc += scores[c] * j->v[voff + c * Ev + f];
              o[f] = acc * iv;
            }
          }
          continue;
        }
        pkt_gemm_args g;
        memset(&g, 0, sizeof g);
        g.M = rows;
        g.N = cols;
        g.K = E;
        g.A = j->q + (b * L + r0) * E;
        g.lda = E;
        g.packed_b = pk;
        g.C = scores;
        g.ldc = s_pad;
        pkt_gemm(NULL, j->cfg, &g);
        for (int64_t r = 0; r < rows; r++) {
          const int64_t i = r0 + r, lim = j->causal ? (i + 1 < cols ? i + 1 : cols) : cols;
          const uint8_t* mb = j->mask && j->mask_bool ? (const uint8_t*)j->mask + moff + i * j->m_row : NULL;
          const float* mf = j->mask && !j->mask_bool ? (const float*)j->mask + moff + i * j->m_row : NULL;
          inv[r] = softmax_row(j, scores + r * s_pad, cols, lim, mb, mf);
        }
        if (Ev == 0) continue;
        pkt_gemm_args o;
        memset(&o, 0, sizeof o);
        o.M = rows;
        o.N = Ev;
        o.K = cols;
        o.A = scores;
        o.lda = s_pad;
        o.packed_b = pv;
        o.panel_stride = S * PKT_GEMM_NR;
        o.C = out;
        o.ldc = Ev;
        pkt_gemm(NULL, j->cfg, &o);
        for (int64_t r = 0; r < rows; r++) j->cfg->vec_scale(out + r * Ev, Ev, inv[r]);
      }
    }
  }
}

pkt_status pkt_kernel_sdpa_run(const pkt_node* n) {
  const pkt_tensor *q = n->inputs[0], *k = n->inputs[1], *v = n->inputs[2], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  sdpa_job j;
  memset(&j, 0, sizeof j);
  j.q = q->data;
  j.k = k->data;
  j.v = v->data;
  j.y = y->data;
  j.scratch = n->scratch;
  j.cfg = n->cfg;
  j.L = q->dims[q->rank - 2];
  j.E = q->dims[q->rank - 1];
  j.S = k->dims[k->rank - 2];
  j.Ev = v->dims[v->rank - 1];
  j.slot_floats = (int64_t)slot_floats(j.S, j.E, j.Ev);
  j.rank = y->rank;
  memcpy(j.dims, y->dims, sizeof j.dims);
  pkt_batch_strides(k, y, j.k_str);
  pkt_batch_strides(v, y, j.v_str);
  if (n->n_inputs == 4) {
    const pkt_tensor* m = n->inputs[3];
    j.mask = m->numel ? m->data : NULL;
    j.mask_bool = m->dtype == PKT_BOOL;
    pkt_batch_strides(m, y, j.m_str);
    j.m_row = m->dims[m->rank - 2] == 1 ? 0 : m->dims[m->rank - 1];
    j.m_col = m->dims[m->rank - 1] == 1 ? 0 : 1;
  }
  j.causal = (int)pkt_param_i(n, PKT_SDPA_IS_CAUSAL);
  j.scale = (float)pkt_param_f(n, PKT_SDPA_SCALE);
  const int64_t batches = j.L ? y->numel / (j.L * j.Ev) : 0;
  const int64_t blocks = (j.L + SDPA_BR - 1) / SDPA_BR;
  int64_t T = slots_for(n);
  /* Tiny attention stays on the calling thread. */
  if ((double)batches * (double)j.L * (double)j.S * (double)(j.E + j.Ev) < (double)PKT_GEMM_SERIAL_MACS) T = 1;
  /* Fewer batches than threads: split each batch's rows into parts (each part packs K and V itself). */
  j.parts = batches >= T ? 1 : (T + batches - 1) / batches;
  if (j.parts > blocks) j.parts = blocks;
  if (j.parts < 1) j.parts = 1;
  j.items = batches * j.parts;
  j.slots = j.items < T ? j.items : T;
  if (j.slots < 1) return PKT_OK;
  if (j.slots == 1)
    sdpa_slots(&j, 0, 1);
  else
    pkt_parallel_for(n, j.slots, sdpa_slots, &j);
  return PKT_OK;
}
