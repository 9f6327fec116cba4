/* matmul: out[..., m, n] = sum_k a[..., m, k] * b[..., k, n] with NumPy broadcasting of the batch
 * dims; transpose_b reads b as [..., n, k]. Both operands are computed by the graph (a constant
 * right-hand side becomes a linear), so each batch's b is packed into GEMM panels in scratch (the
 * pack strides absorb transpose_b) and multiplied with the shared GEMM micro-kernels. With at least
 * as many batches as threads, each thread takes whole batches with its own scratch slice; otherwise
 * batches run one after another, each product split over the threads. */
#include "core/kernel.h"
#include "compute/gemm/gemm.h"

#define MATMUL_SLOTS 16

static int64_t batch_count(const pkt_tensor* t) {
  int64_t b = 1;
  for (int d = 0; d < t->rank - 2; d++) b *= t->dims[d];
  return b;
}

static int64_t slots_for(const pkt_node* n) {
  int64_t T = n->num_threads > 1 ? n->num_threads : 1;
  return T > MATMUL_SLOTS ? MATMUL_SLOTS : T;
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
  uint64_t panels = (uint64_t)((N + PKT_GEMM_NR - 1) / PKT_GEMM_NR);
  if (K > 0 && panels > (uint64_t)SIZE_MAX / 4 / MATMUL_SLOTS / PKT_GEMM_NR / sizeof(float) / (uint64_t)K)
    return pkt_fail(err, PKT_BAD_OPERANDS, "b [.., %lld, %lld] is too large to pack", (long long)K, (long long)N);
  *scratch = (size_t)slots_for(n) * pkt_gemm_packed_size(K, N) * sizeof(float);
  return PKT_OK;
}

typedef struct matmul_job {
  pkt_gemm_args g; /* A and C point at the first batch; packed_b is set per batch */
  const float* b;
  int64_t stride_k, stride_n;
  int out_rank;
  const pkt_isa_config* cfg;
  int64_t out_dims[PKT_MAX_RANK], a_str[PKT_MAX_RANK], b_str[PKT_MAX_RANK];
  int64_t batches, slots;
  float* scratch;
  const pkt_node* node; /* for a product split over the threads; NULL inside a per-batch worker */
} matmul_job;

static void batch_offsets(const matmul_job* j, int64_t bi, int64_t* aoff, int64_t* boff) {
  int64_t rem = bi;
  *aoff = *boff = 0;
  for (int d = j->out_rank - 3; d >= 0; d--) {
    int64_t idx = rem % j->out_dims[d];
    rem /= j->out_dims[d];
    *aoff += idx * j->a_str[d];
    *boff += idx * j->b_str[d];
  }
}

/* Batches [b0, b1) with packing space `pack`; the product runs on `node`'s threads (or serially). */
static void run_batches(const matmul_job* j, int64_t b0, int64_t b1, float* pack, const pkt_node* node) {
  int64_t packed_off = -1;
  for (int64_t bi = b0; bi < b1; bi++) {
    int64_t aoff, boff;
    batch_offsets(j, bi, &aoff, &boff);
    if (boff != packed_off) { /* a broadcast b is packed once */
      pkt_gemm_pack_b(j->b + boff, j->stride_k, j->stride_n, j->g.K, j->g.N, pack);
      packed_off = boff;
    }
    pkt_gemm_args g = j->g;
    g.A += aoff;
    g.C += bi * g.M * g.N;
    g.packed_b = pack;
    pkt_gemm(node, j->cfg, &g);
  }
}

static void matmul_slots(void* ctx, int64_t begin, int64_t end) {
  const matmul_job* j = ctx;
  for (int64_t s = begin; s < end; s++)
    run_batches(j, j->batches * s / j->slots, j->batches * (s + 1) / j->slots,
                j->scratch + s * (int64_t)pkt_gemm_packed_size(j->g.K, j->g.N), NULL);
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
  j.g.C = y->data;
  j.g.ldc = j.g.N;
  j.b = b->data;
  j.stride_k = tb ? 1 : j.g.N;
  j.stride_n = tb ? j.g.K : 1;
  j.cfg = n->cfg;
  j.out_rank = y->rank;
  memcpy(j.out_dims, y->dims, sizeof j.out_dims);
  pkt_batch_strides(a, y, j.a_str);
  pkt_batch_strides(b, y, j.b_str);
  j.batches = batch_count(y);
  j.scratch = n->scratch;
  int64_t T = slots_for(n);
  if ((double)y->numel * (double)j.g.K < (double)PKT_GEMM_SERIAL_MACS) T = 1; /* tiny: stay on this thread */
  if (T > 1 && j.batches >= T) {
    j.slots = T;
    pkt_parallel_for(n, j.slots, matmul_slots, &j);
  } else {
    run_batches(&j, 0, j.batches, j.scratch, T > 1 ? n : NULL);
  }
  return PKT_OK;
}
