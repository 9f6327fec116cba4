/* Winograd convolution for 3x3, stride-1, dilation-1, ungrouped conv2d (the bulk of ResNet-style
 * nets): fewer multiplications than direct or im2col convolution. conv2d.c calls these with the tile
 * pkt_winograd_tile() picks; the transformed weights are packed once per session.
 *
 * Two tile sizes m: F(4x4, 3x3) (36 transformed values per 3x3 kernel, 4x the weight's bytes, 2.25
 * multiplications per output) for large images, and F(2x2, 3x3) (16 values, 1.8x the bytes, 4 per
 * output) where the images are too small for enough 4x4 tiles to pay for streaming 4x the weights.
 * scratch_size() depends on node->num_threads (set it before asking). run() reads
 * node->inputs/outputs/params/cfg/pool and the two buffers it is given, allocates nothing, and may be
 * called for any 3x3 / stride 1 / dilation 1 / groups 1 float32 conv with m 2 or 4; tile() adds the
 * size rules. */
#ifndef PKT_WINOGRAD_H
#define PKT_WINOGRAD_H

#include "core/kernel.h"

/* The output tile (2 or 4) this conv2d node (already prepared) is best computed with, 0 for none. */
int pkt_winograd_tile(const pkt_node* node);
/* Bytes of transformed weights (for conv2d's pack_size) and the transform itself (for its pack). */
size_t pkt_winograd_packed_size(const pkt_node* node, int m);
void pkt_winograd_pack(const pkt_node* node, int m, void* packed);
/* Scratch the run needs (conv2d's prepare asks for the max of its own and this). */
size_t pkt_winograd_scratch_size(const pkt_node* node, int m);
/* Compute the output, bias and activation `act` (PKT_ACT_*, bounds from the node's params) included,
 * on the node's threads. */
void pkt_winograd_run(const pkt_node* node, int m, int act, const void* packed, void* scratch);

#endif
