/* Winograd convolution for 3x3, stride-1, dilation-1, ungrouped conv2d (the bulk of ResNet-style
 * nets): fewer multiplications than direct or im2col convolution. conv2d.c calls these when
 * pkt_winograd_applies() says so; the transformed weights are packed once per session.
 *
 * F(4x4, 3x3): 36 transformed values per 3x3 kernel, so the packed weights take 4x the bytes of the
 * conv's weight. scratch_size() depends on node->num_threads (set it before asking). run() reads
 * node->inputs/outputs/params/isa/pool and the two buffers it is given, allocates nothing, and may be
 * called for any 3x3 / stride 1 / dilation 1 / groups 1 float32 conv; applies() adds the size rules. */
#ifndef PKT_WINOGRAD_H
#define PKT_WINOGRAD_H

#include "kernel.h"

/* 1 when this conv2d node (already prepared) is better served by Winograd. */
int pkt_winograd_applies(const pkt_node* node);
/* Bytes of transformed weights (for conv2d's pack_size) and the transform itself (for its pack). */
size_t pkt_winograd_packed_size(const pkt_node* node);
void pkt_winograd_pack(const pkt_node* node, void* packed);
/* Scratch the run needs (conv2d's prepare asks for the max of its own and this). */
size_t pkt_winograd_scratch_size(const pkt_node* node);
/* Compute the output, bias and fused activation included, on the node's threads. */
void pkt_winograd_run(const pkt_node* node, const void* packed, void* scratch);

#endif
