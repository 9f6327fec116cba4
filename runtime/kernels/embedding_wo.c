/* embedding_wo: rows of a table quantized in groups (op table: embedding_wo), dequantized as they are copied out:
 * out[i, k] = q[idx[i], k] * scale[idx[i], k / G], the float32 product torchao's dequantize_affine gives. Any index
 * outside [0, V) makes run() return PKT_INDEX_OUT_OF_RANGE before anything is written. */
#include "kernels/wo_weight.h"

pkt_status pkt_kernel_embedding_wo_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_EMBEDDING_WO_MIN_INPUTS, PKT_EMBEDDING_WO_MAX_INPUTS, 1,
                                     PKT_EMBEDDING_WO_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *idx = n->inputs[1], *y = n->outputs[0];
  int64_t bits = pkt_param_i(n, PKT_EMBEDDING_WO_BITS), group = pkt_param_i(n, PKT_EMBEDDING_WO_GROUP_SIZE), V = 0, D = 0;
  if ((st = pkt_wo_check_weight(n->inputs[0], n->inputs[2], bits, group, &V, &D, err))) return st;
  if (idx->dtype != PKT_I64 && idx->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "indices are %s, expected int64 or int32", pkt_dtype_name(idx->dtype));
  if ((st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (y->rank != idx->rank + 1)
    return pkt_fail(err, PKT_BAD_OPERANDS, "output rank %d, expected indices' %d + 1", y->rank, idx->rank);
  for (int d = 0; d < y->rank; d++) {
    int64_t want = d < idx->rank ? idx->dims[d] : D;
    if (y->dims[d] != want)
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is %lld, expected %lld", d, (long long)y->dims[d], (long long)want);
  }
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_embedding_wo_run(const pkt_node* n) {
  const pkt_tensor *q = n->inputs[0], *idx = n->inputs[1], *s = n->inputs[2], *y = n->outputs[0];
  const int bits = (int)pkt_param_i(n, PKT_EMBEDDING_WO_BITS);
  const int64_t G = pkt_param_i(n, PKT_EMBEDDING_WO_GROUP_SIZE), V = q->dims[0], D = y->dims[y->rank - 1];
  for (int64_t i = 0; i < idx->numel; i++) {
    int64_t v = pkt_index_at(idx, i);
    if (v < 0 || v >= V) return PKT_INDEX_OUT_OF_RANGE;
  }
  const int64_t groups = D / G, ldq = q->dims[1];
  float* out = y->data;
  for (int64_t i = 0; i < idx->numel; i++, out += D) {
    int64_t v = pkt_index_at(idx, i);
    const float* sv = (const float*)s->data + v * groups;
    if (bits == 8) {
      const int8_t* row = (const int8_t*)q->data + v * ldq;
      for (int64_t k = 0; k < D; k++) out[k] = (float)row[k] * sv[k / G];
    } else {
      const uint8_t* row = (const uint8_t*)q->data + v * ldq;
      for (int64_t k = 0; k < D; k += 2) {
        out[k] = (float)((row[k / 2] & 15) - 8) * sv[k / G];
        out[k + 1] = (float)((row[k / 2] >> 4) - 8) * sv[k / G];
      }
    }
  }
  return PKT_OK;
}
