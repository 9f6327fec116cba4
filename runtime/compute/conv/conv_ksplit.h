/* Pointwise convs that reduce many channels to few (mobilenet's projections: 384 -> 64 channels at 14x14),
 * shared by threads along K, the input channels, instead of along the pixels.
 *
 * The depthwise conv before such a conv splits its output by channels, so with a pixel split every thread
 * read half of its input from the other core's cache. Split along K, each thread reads the channels it
 * wrote, sums them into a partial output (thread 0 into the output itself, with the bias), and only the
 * partial sums (O x P floats, a sixth of the input in mobilenet_v2) cross between the cores: a second pass,
 * split by pixels, adds them up with the residual and the activation. */
#ifndef PKT_CONV_KSPLIT_H
#define PKT_CONV_KSPLIT_H

#include "compute/conv/conv_impl.h"

typedef struct conv_ksplit_job {
  const conv_geom* g;
  const conv_isa_impl* impl;
  const float *x, *packed, *bias; /* one image's input planes, the weights packed by conv_pack_weights */
  const float* res;               /* residual (O x P) or NULL */
  float* y;                       /* one image's output planes */
  float* scratch;                 /* conv_ksplit_scratch_floats */
  int act;                        /* applied after the partial sums (and the residual) are added */
  float lo, hi;
} conv_ksplit_job;

/* Whether threads share the conv g along K. */
int conv_ksplit_wanted(const conv_geom* g, int threads);
/* Floats of scratch for conv_ksplit_run: the partial outputs and a panel per thread. */
int64_t conv_ksplit_scratch_floats(const conv_geom* g, int nr, int threads);
/* One image: the partial sums, then their total, on the node's threads. */
void conv_ksplit_run(const pkt_node* n, const conv_ksplit_job* j);

#endif
