/* What the fused conv pairs (runtime/kernels/conv_pw_dw.c, conv_dw_pw.c) share. A pair is a pointwise and a
 * depthwise conv2d, one feeding the other; the kernel runs a band of output rows at a time, the band's
 * intermediate rows (all channels) in per-thread scratch sized to stay in L2, so the intermediate is never
 * written out. Here: operand checks, the band plan and slot layout, the loop over (image, band) items
 * split over the threads, the packing of the pointwise weights. */
#ifndef PKT_CONV_PAIR_H
#define PKT_CONV_PAIR_H

#include "compute/conv/conv_impl.h"

typedef struct conv_pair_plan {
  conv_geom pw, dw;                /* the pointwise and the depthwise conv */
  int pw_first;                    /* the pointwise conv makes the intermediate (conv_pw_dw), else the depthwise */
  int64_t band, bands;             /* most output rows in a band, bands per image */
  int64_t dw_rows, dw_ps;          /* depthwise buffer (conv_dw_layout) */
  int64_t off_panel, off_dw, slot; /* floats: per-thread slot = [intermediate | panel | depthwise buffer] */
} conv_pair_plan;

/* What the band functions read: inputs x, weight, bias, weight, bias in op order, the pointwise weights
 * packed (conv_pair_pack), the two activations (act1 of the first conv, act of the second). */
typedef struct conv_pair_job {
  conv_isa_impl impl;
  const float *x, *w1, *b1, *w2, *b2, *packed;
  const float* res; /* conv_dw_pw's residual input or NULL: then act applies after adding it */
  float *y, *scratch;
  int threads, act1, act;
  float lo1, hi1, lo, hi;
} conv_pair_job;

/* Which pair an op is: the pointwise conv first or not, where its window params (stride_h, stride_w,
 * pad_h, pad_w, dil_h, dil_w) and its two activations (act, act_min, act_max each) start. */
typedef struct conv_pair_op {
  int pw_first, window, act1, act;
} conv_pair_op;

/* prepare(), first: x, weight, bias, weight, bias, all f32, weights constant, 12 params (names[i] says
 * what input i is), and for max_inputs 6 an optional residual shaped as the output. The caller then checks
 * the weights' shapes and ends with conv_pair_prepare: the window params, the activations, the output size
 * and the scratch of the band plan for the session's threads. */
pkt_status conv_check_pair_operands(const pkt_node* n, const char* const names[5], int max_inputs, pkt_err* err);
pkt_status conv_pair_prepare(const pkt_node* n, const conv_pair_op* op, size_t* scratch, pkt_err* err);

/* Output rows [oy0, oy1) of image img, with the slot's intermediate, panel (K * NR floats) and depthwise
 * buffer. */
typedef void (*conv_pair_band_fn)(const conv_pair_plan* p, const conv_pair_job* j, int64_t img, int64_t oy0,
                                  int64_t oy1, float* mid, float* panel, float* buf);
/* run(): every (image, band) item, split over the threads, through `band`. */
pkt_status conv_pair_run(const pkt_node* n, const conv_pair_op* op, conv_pair_band_fn band);

/* The pointwise weight (input `index`, [O, C, 1, 1]) packed in MR-row blocks. */
size_t conv_pair_pack_size(const pkt_node* n, int index);
void conv_pair_pack(const pkt_node* n, int index, void* packed);

#endif
