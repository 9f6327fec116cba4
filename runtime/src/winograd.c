/* Winograd convolution (see winograd.h). Not implemented yet: applies() is 0, so conv2d never calls
 * the other entry points. */
#include "winograd.h"

int pkt_winograd_applies(const pkt_node* node) {
  (void)node;
  return 0;
}
size_t pkt_winograd_packed_size(const pkt_node* node) {
  (void)node;
  return 0;
}
void pkt_winograd_pack(const pkt_node* node, void* packed) {
  (void)node;
  (void)packed;
}
size_t pkt_winograd_scratch_size(const pkt_node* node) {
  (void)node;
  return 0;
}
void pkt_winograd_run(const pkt_node* node, const void* packed, void* scratch) {
  (void)node;
  (void)packed;
  (void)scratch;
}
