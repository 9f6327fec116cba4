/* embedding_bag (torch.nn.EmbeddingBag): weight [N, D] float32, indices [I] and offsets [B] or [B + 1]
 * (with include_last_offset) int64/int32, optional per-sample weights [I] float32 (sum only) -> out [B, D].
 * Bag b holds indices[offsets[b] : offsets[b + 1]] (the last bag runs to I without include_last_offset)
 * and is reduced by sum, mean or max; entries equal to padding_idx (-1: none) are skipped, and an empty
 * bag gives zeros. Indices and offsets are data: offsets must start at 0, never decrease and stay within
 * I, indices within [0, N); run() returns PKT_INDEX_OUT_OF_RANGE otherwise, before writing anything. */
#include "core/kernel.h"

pkt_status pkt_kernel_embedding_bag_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_EMBEDDING_BAG_MIN_INPUTS, PKT_EMBEDDING_BAG_MAX_INPUTS, 1,
                                     PKT_EMBEDDING_BAG_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *w = n->inputs[0], *ind = n->inputs[1], *off = n->inputs[2], *y = n->outputs[0];
  if ((st = pkt_check_dtype(w, PKT_F32, "weight", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  for (int k = 1; k <= 2; k++)
    if (n->inputs[k]->dtype != PKT_I64 && n->inputs[k]->dtype != PKT_I32)
      return pkt_fail(err, PKT_BAD_OPERANDS, "input %d is %s, expected int64 or int32", k, pkt_dtype_name(n->inputs[k]->dtype));
  int64_t mode = pkt_param_i(n, PKT_EMBEDDING_BAG_MODE), last = pkt_param_i(n, PKT_EMBEDDING_BAG_INCLUDE_LAST_OFFSET);
  int64_t pad = pkt_param_i(n, PKT_EMBEDDING_BAG_PADDING_IDX);
  if (mode < 0 || mode >= PKT_EMBAG_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown mode %lld", (long long)mode);
  if (last != 0 && last != 1) return pkt_fail(err, PKT_BAD_PARAMS, "include_last_offset must be 0 or 1");
  if (w->rank != 2 || ind->rank != 1 || off->rank != 1 || y->rank != 2)
    return pkt_fail(err, PKT_BAD_OPERANDS, "expected weight [N, D], indices [I], offsets [B], output [B, D]");
  if (pad < -1 || pad >= w->dims[0]) return pkt_fail(err, PKT_BAD_PARAMS, "padding_idx %lld out of range", (long long)pad);
  if (y->dims[0] != off->dims[0] - last || y->dims[1] != w->dims[1])
    return pkt_fail(err, PKT_BAD_OPERANDS, "output is [%lld, %lld], expected [%lld, %lld]", (long long)y->dims[0],
                    (long long)y->dims[1], (long long)(off->dims[0] - last), (long long)w->dims[1]);
  if (n->n_inputs == 4) {
    const pkt_tensor* psw = n->inputs[3];
    if ((st = pkt_check_dtype(psw, PKT_F32, "per-sample weights", err))) return st;
    if (psw->rank != 1 || psw->dims[0] != ind->dims[0]) return pkt_fail(err, PKT_BAD_OPERANDS, "per-sample weights must be [I]");
    if (mode != PKT_EMBAG_SUM) return pkt_fail(err, PKT_BAD_OPERANDS, "per-sample weights need mode sum");
  }
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_embedding_bag_run(const pkt_node* n) {
  const pkt_tensor *w = n->inputs[0], *ind = n->inputs[1], *off = n->inputs[2], *y = n->outputs[0];
  const float* psw = n->n_inputs == 4 ? n->inputs[3]->data : NULL;
  int mode = (int)pkt_param_i(n, PKT_EMBEDDING_BAG_MODE);
  int64_t pad = pkt_param_i(n, PKT_EMBEDDING_BAG_PADDING_IDX);
  int64_t rows = w->dims[0], d = w->dims[1], bags = y->dims[0], total = ind->numel;
  for (int64_t b = 0; b < off->numel; b++) {
    int64_t o = pkt_index_at(off, b);
    if (o < 0 || o > total || (b == 0 && o != 0) || (b > 0 && o < pkt_index_at(off, b - 1))) return PKT_INDEX_OUT_OF_RANGE;
  }
  for (int64_t i = 0; i < total; i++) {
    int64_t v = pkt_index_at(ind, i);
    if (v < 0 || v >= rows) return PKT_INDEX_OUT_OF_RANGE;
  }
  const float* wt = w->data;
  float* out = y->data;
  for (int64_t b = 0; b < bags; b++) {
    int64_t lo = pkt_index_at(off, b), hi = b + 1 < off->numel ? pkt_index_at(off, b + 1) : total;
    float* o = out + b * d;
    int64_t count = 0;
    for (int64_t j = 0; j < d; j++) o[j] = 0.f;
    for (int64_t i = lo; i < hi; i++) {
      int64_t v = pkt_index_at(ind, i);
      if (v == pad) continue;
      const float* row = wt + v * d;
      float s = psw ? psw[i] : 1.f;
      for (int64_t j = 0; j < d; j++) {
        if (mode == PKT_EMBAG_MAX)
          o[j] = count == 0 || row[j] > o[j] || row[j] != row[j] ? row[j] : o[j];
        else
          o[j] += psw ? row[j] * s : row[j];
      }
      count++;
    }
    if (mode == PKT_EMBAG_MEAN && count > 1)
      for (int64_t j = 0; j < d; j++) o[j] /= (float)count;
  }
  return PKT_OK;
}
