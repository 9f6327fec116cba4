/* The checks linear_wo and embedding_wo share on a weight quantized in groups (op table: linear_wo): the bits and
 * group size, the packed weight's dtype and shape, and scales that are constants, finite and > 0 (a file is
 * untrusted: a zero, negative or NaN scale never reaches the kernels). Rows: N (linear) or V (embedding); cols: K / D. */
#ifndef PKT_WO_WEIGHT_H
#define PKT_WO_WEIGHT_H

#include "core/kernel.h"

static inline pkt_status pkt_wo_check_weight(const pkt_tensor* q, const pkt_tensor* s, int64_t bits, int64_t group,
                                             int64_t* rows, int64_t* cols, pkt_err* err) {
  if (bits != 4 && bits != 8) return pkt_fail(err, PKT_BAD_PARAMS, "bits must be 4 or 8, got %lld", (long long)bits);
  if (group <= 0 || group % 2 || group > INT32_MAX)
    return pkt_fail(err, PKT_BAD_PARAMS, "group size %lld must be positive and even", (long long)group);
  pkt_status st = pkt_check_dtype(q, bits == 8 ? PKT_I8 : PKT_U8, "quantized weight", err);
  if (st || (st = pkt_check_dtype(s, PKT_F32, "scales", err))) return st;
  if (q->rank != 2 || s->rank != 2)
    return pkt_fail(err, PKT_BAD_OPERANDS, "quantized weight rank %d, scales rank %d; expected 2 and 2", q->rank, s->rank);
  if (!q->data || !s->data) return pkt_fail(err, PKT_BAD_OPERANDS, "the quantized weight and scales must be constants");
  *rows = q->dims[0];
  if (q->dims[1] > INT64_MAX / 2) return pkt_fail(err, PKT_BAD_OPERANDS, "quantized weight is too large");
  *cols = bits == 8 ? q->dims[1] : 2 * q->dims[1];
  if (*cols % group)
    return pkt_fail(err, PKT_BAD_PARAMS, "group size %lld does not divide the %lld weight columns", (long long)group,
                    (long long)*cols);
  if (s->dims[0] != *rows || s->dims[1] != *cols / group)
    return pkt_fail(err, PKT_BAD_OPERANDS, "scales are [%lld, %lld], expected [%lld, %lld]", (long long)s->dims[0],
                    (long long)s->dims[1], (long long)*rows, (long long)(*cols / group));
  const float* sv = s->data;
  if (!pkt_all_finite(sv, s->numel)) return pkt_fail(err, PKT_BAD_PARAMS, "a weight scale is not finite");
  for (int64_t i = 0; i < s->numel; i++)
    if (!(sv[i] > 0.f)) return pkt_fail(err, PKT_BAD_PARAMS, "weight scale %lld is %g, expected > 0", (long long)i, sv[i]);
  return PKT_OK;
}

#endif
