/* sdpa: scaled dot-product attention. q [..., L, E], k [..., S, E], v [..., S, Ev] -> out [..., L, Ev];
 * k, v and the optional mask (4th input, bool: true attends, or float: added to the scores,
 * broadcastable to [..., L, S]) broadcast over q's batch dims. is_causal keeps key j <= query i.
 * Rows whose keys are all masked give 0 (as torch's math path does).
 * Work is a block of BR query rows of one batch: its scores live in per-slot scratch, then
 * softmax, then one product with v. Blocks are spread over a fixed number of slots. */
#include <math.h>
#include <stdint.h>

#include "kernel.h"
#include "gemm_f32.h"

#define SDPA_SLOTS 16
#define SDPA_BLOCK_FLOATS 8192 /* scores per slot: BR rows x S keys */
#define SDPA_MAX_BR 16

static int64_t block_rows(int64_t S) {
  int64_t br = S ? SDPA_BLOCK_FLOATS / S : SDPA_MAX_BR;
  return br < 1 ? 1 : br > SDPA_MAX_BR ? SDPA_MAX_BR : br;
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
  uint64_t bytes = (uint64_t)SDPA_SLOTS * (uint64_t)(block_rows(S) * S) * sizeof(float);
  if (bytes > (uint64_t)SIZE_MAX / 2) return pkt_fail(err, PKT_BAD_OPERANDS, "%lld keys need too much scratch", (long long)S);
  *scratch = (size_t)bytes;
  return PKT_OK;
}

typedef struct sdpa_job {
  const float *q, *k, *v;
  const void* mask;
  int mask_bool;
  float* y;
  float* scratch;
  int64_t L, S, E, Ev, br, blocks, items, slots;
  int rank; /* output rank */
  int64_t dims[PKT_MAX_RANK];
  int64_t k_str[PKT_MAX_RANK], v_str[PKT_MAX_RANK], m_str[PKT_MAX_RANK]; /* batch strides (elements) */
  int64_t m_row, m_col;
  int causal;
  float scale;
} sdpa_job;

static void sdpa_slots(void* ctx, int64_t begin, int64_t end) {
  const sdpa_job* j = ctx;
  const int64_t L = j->L, S = j->S, E = j->E, Ev = j->Ev;
  for (int64_t s = begin; s < end; s++) {
    float* scores = j->scratch + s * j->br * S;
    const int64_t it0 = j->items * s / j->slots, it1 = j->items * (s + 1) / j->slots;
    for (int64_t it = it0; it < it1; it++) {
      const int64_t b = it / j->blocks, r0 = (it % j->blocks) * j->br;
      const int64_t r1 = r0 + j->br < L ? r0 + j->br : L, rows = r1 - r0;
      int64_t koff = 0, voff = 0, moff = 0, rem = b;
      for (int d = j->rank - 3; d >= 0; d--) {
        int64_t idx = rem % j->dims[d];
        rem /= j->dims[d];
        koff += idx * j->k_str[d];
        voff += idx * j->v_str[d];
        moff += idx * j->m_str[d];
      }
      /* Causal rows r0..r1-1 only see keys below r1. */
      const int64_t cols = j->causal ? (r1 < S ? r1 : S) : S;
      float* out = j->y + (b * L + r0) * Ev;
      if (cols == 0) {
        memset(out, 0, (size_t)(rows * Ev) * sizeof(float));
        continue;
      }
      pkt_gemm g = {rows, cols, E, j->q + (b * L + r0) * E, E, j->k + koff, E, 1, scores, cols, NULL};
      pkt_gemm_block(&g, 0, rows, 0, cols, NULL);
      for (int64_t r = 0; r < rows; r++) {
        float* p = scores + r * cols;
        const int64_t i = r0 + r;
        const int64_t lim = j->causal ? (i + 1 < cols ? i + 1 : cols) : cols;
        for (int64_t c = 0; c < cols; c++) p[c] *= j->scale;
        if (j->mask) {
          const int64_t mbase = moff + i * j->m_row;
          if (j->mask_bool) {
            const uint8_t* m = (const uint8_t*)j->mask + mbase;
            for (int64_t c = 0; c < cols; c++)
              if (!m[c * j->m_col]) p[c] = -INFINITY;
          } else {
            const float* m = (const float*)j->mask + mbase;
            for (int64_t c = 0; c < cols; c++) p[c] += m[c * j->m_col];
          }
        }
        for (int64_t c = lim; c < cols; c++) p[c] = -INFINITY;
        float mx = -INFINITY;
        for (int64_t c = 0; c < cols; c++) mx = p[c] > mx ? p[c] : mx;
        float sum = 0.f;
        if (mx == -INFINITY) {
          for (int64_t c = 0; c < cols; c++) p[c] = 0.f; /* nothing to attend: output 0 */
        } else {
          for (int64_t c = 0; c < cols; c++) {
            p[c] = expf(p[c] - mx);
            sum += p[c];
          }
          const float inv = 1.f / sum;
          for (int64_t c = 0; c < cols; c++) p[c] *= inv;
        }
      }
      pkt_gemm pv = {rows, Ev, cols, scores, cols, j->v + voff, Ev, 0, out, Ev, NULL};
      pkt_gemm_block(&pv, 0, rows, 0, Ev, NULL);
    }
  }
}

static void batch_strides(const pkt_tensor* t, const pkt_tensor* y, int64_t* str) {
  int64_t s = t->dims[t->rank - 1] * t->dims[t->rank - 2];
  for (int d = y->rank - 3; d >= 0; d--) {
    int dt = d - (y->rank - t->rank);
    int64_t e = dt >= 0 ? t->dims[dt] : 1;
    str[d] = e == 1 ? 0 : s;
    s *= e;
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
  j.L = q->dims[q->rank - 2];
  j.E = q->dims[q->rank - 1];
  j.S = k->dims[k->rank - 2];
  j.Ev = v->dims[v->rank - 1];
  j.rank = y->rank;
  memcpy(j.dims, y->dims, sizeof j.dims);
  batch_strides(k, y, j.k_str);
  batch_strides(v, y, j.v_str);
  if (n->n_inputs == 4) {
    const pkt_tensor* m = n->inputs[3];
    j.mask = m->numel ? m->data : NULL;
    j.mask_bool = m->dtype == PKT_BOOL;
    batch_strides(m, y, j.m_str);
    j.m_row = m->dims[m->rank - 2] == 1 ? 0 : m->dims[m->rank - 1];
    j.m_col = m->dims[m->rank - 1] == 1 ? 0 : 1;
  }
  j.causal = (int)pkt_param_i(n, PKT_SDPA_IS_CAUSAL);
  j.scale = (float)pkt_param_f(n, PKT_SDPA_SCALE);
  j.br = block_rows(j.S);
  j.blocks = (j.L + j.br - 1) / j.br;
  j.items = (y->numel / (j.L * j.Ev)) * j.blocks;
  int64_t T = n->num_threads > 1 ? n->num_threads : 1;
  if (T > SDPA_SLOTS) T = SDPA_SLOTS;
  j.slots = j.items < T ? j.items : T;
  pkt_parallel_for(n, j.slots, sdpa_slots, &j);
  return PKT_OK;
}
