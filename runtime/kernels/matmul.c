/* matmul: out[..., m, n] = sum_k a[..., m, k] * b[..., k, n] with NumPy broadcasting of the batch
 * dims; transpose_b reads b as [..., n, k]. Work items (batch x row part x column part) are spread
 * over a fixed number of slots, each with its own packing scratch. */
#include "kernel.h"
#include "gemm_f32.h"

#define MATMUL_SLOTS 16

static int64_t batch_count(const pkt_tensor* t) {
  int64_t b = 1;
  for (int d = 0; d < t->rank - 2; d++) b *= t->dims[d];
  return b;
}

pkt_status pkt_kernel_matmul_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_MATMUL_MIN_INPUTS, PKT_MATMUL_MAX_INPUTS, 1, PKT_MATMUL_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(a, PKT_F32, "a", err)) || (st = pkt_check_dtype(b, PKT_F32, "b", err)) ||
      (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  int64_t tb = pkt_param_i(n, PKT_MATMUL_TRANSPOSE_B);
  if (tb != 0 && tb != 1) return pkt_fail(err, PKT_BAD_PARAMS, "transpose_b is %lld, expected 0 or 1", (long long)tb);
  if (a->rank < 2 || b->rank < 2 || y->rank != (a->rank > b->rank ? a->rank : b->rank))
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks a %d, b %d, output %d; expected >= 2 and output = max", a->rank,
                    b->rank, y->rank);
  int64_t M = a->dims[a->rank - 2], K = a->dims[a->rank - 1];
  int64_t bK = b->dims[b->rank - (tb ? 1 : 2)], N = b->dims[b->rank - (tb ? 2 : 1)];
  if (bK != K || y->dims[y->rank - 2] != M || y->dims[y->rank - 1] != N)
    return pkt_fail(err, PKT_BAD_OPERANDS, "a [.., %lld, %lld], b (as [.., K, N]) [.., %lld, %lld], output [.., %lld, %lld] do not match",
                    (long long)M, (long long)K, (long long)bK, (long long)N, (long long)y->dims[y->rank - 2],
                    (long long)y->dims[y->rank - 1]);
  for (int d = 0; d < y->rank - 2; d++) {
    int da = d - (y->rank - a->rank), db = d - (y->rank - b->rank);
    int64_t ea = da >= 0 ? a->dims[da] : 1, eb = db >= 0 ? b->dims[db] : 1;
    if ((ea != 1 && ea != y->dims[d]) || (eb != 1 && eb != y->dims[d]) || (ea == 1 && eb == 1 && y->dims[d] != 1))
      return pkt_fail(err, PKT_BAD_OPERANDS, "batch dim %d: a %lld, b %lld do not broadcast to output %lld", d,
                      (long long)ea, (long long)eb, (long long)y->dims[d]);
  }
  *scratch = (tb && M >= PKT_GEMM_MR) ? (size_t)MATMUL_SLOTS * PKT_GEMM_PACK_FLOATS * sizeof(float) : 0;
  return PKT_OK;
}

typedef struct matmul_job {
  pkt_gemm g; /* A, B, C point at the first batch */
  int out_rank;
  int64_t out_dims[PKT_MAX_RANK], a_str[PKT_MAX_RANK], b_str[PKT_MAX_RANK];
  int64_t batches, row_parts, col_parts, items, slots;
  float* scratch;
} matmul_job;

static void matmul_slots(void* ctx, int64_t begin, int64_t end) {
  const matmul_job* j = ctx;
  for (int64_t s = begin; s < end; s++) {
    float* pack = j->scratch ? j->scratch + s * PKT_GEMM_PACK_FLOATS : NULL;
    int64_t it0 = j->items * s / j->slots, it1 = j->items * (s + 1) / j->slots;
    for (int64_t it = it0; it < it1; it++) {
      int64_t parts = j->row_parts * j->col_parts;
      int64_t bi = it / parts, p = it % parts;
      int64_t aoff = 0, boff = 0, rem = bi;
      for (int d = j->out_rank - 3; d >= 0; d--) {
        int64_t idx = rem % j->out_dims[d];
        rem /= j->out_dims[d];
        aoff += idx * j->a_str[d];
        boff += idx * j->b_str[d];
      }
      pkt_gemm g = j->g;
      g.A += aoff;
      g.B += boff;
      g.C += bi * g.M * g.N;
      int64_t i0, i1, c0, c1;
      pkt_gemm_range(g.M, j->row_parts, p / j->col_parts, PKT_GEMM_MR, &i0, &i1);
      pkt_gemm_range(g.N, j->col_parts, p % j->col_parts, g.M < PKT_GEMM_MR ? 4 : PKT_GEMM_NR, &c0, &c1);
      pkt_gemm_block(&g, i0, i1, c0, c1, pack);
    }
  }
}

/* Element strides of t's batch dims against the output's (0 where broadcast). */
static void batch_strides(const pkt_tensor* t, const pkt_tensor* y, int64_t* str) {
  int64_t s = t->dims[t->rank - 1] * t->dims[t->rank - 2];
  for (int d = y->rank - 3; d >= 0; d--) {
    int dt = d - (y->rank - t->rank);
    int64_t e = dt >= 0 ? t->dims[dt] : 1;
    str[d] = e == 1 ? 0 : s;
    s *= e;
  }
}

pkt_status pkt_kernel_matmul_run(const pkt_node* n) {
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  matmul_job j;
  memset(&j, 0, sizeof j);
  int tb = (int)pkt_param_i(n, PKT_MATMUL_TRANSPOSE_B);
  j.g.M = a->dims[a->rank - 2];
  j.g.K = a->dims[a->rank - 1];
  j.g.N = y->dims[y->rank - 1];
  j.g.A = a->data;
  j.g.lda = j.g.K;
  j.g.B = b->data;
  j.g.ldb = tb ? j.g.K : j.g.N;
  j.g.b_trans = tb;
  j.g.C = y->data;
  j.g.ldc = j.g.N;
  j.out_rank = y->rank;
  memcpy(j.out_dims, y->dims, sizeof j.out_dims);
  batch_strides(a, y, j.a_str);
  batch_strides(b, y, j.b_str);
  j.batches = batch_count(y);
  int64_t T = n->num_threads > 1 ? n->num_threads : 1;
  if (T > MATMUL_SLOTS) T = MATMUL_SLOTS;
  if (y->numel < 32768 / (j.g.K + 1)) T = 1; /* tiny products stay on one thread */
  if (j.batches >= T) {
    j.row_parts = j.col_parts = 1;
  } else {
    pkt_gemm_split(j.g.M, j.g.N, (T + j.batches - 1) / j.batches, &j.row_parts, &j.col_parts);
  }
  j.items = j.batches * j.row_parts * j.col_parts;
  j.slots = j.items < T ? j.items : T;
  j.scratch = (tb && j.g.M >= PKT_GEMM_MR) ? n->scratch : NULL;
  pkt_parallel_for(n, j.slots, matmul_slots, &j);
  return PKT_OK;
}
