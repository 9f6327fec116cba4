/* Caller memory for descriptor tables (pkt_workspace in pockettorch.h): a stack of blocks taken from the
 * front. Freeing the top block pops it; a block freed below others is marked and popped with them, so any
 * free order works and the memory never fragments. Each block starts with a small header. */
#include "core/program.h"

#define WS_ALIGN 16

typedef struct ws_block {
  struct ws_block* below;
  int freed;
} ws_block;

#define HEADER ((sizeof(ws_block) + WS_ALIGN - 1) & ~(size_t)(WS_ALIGN - 1))

void pkt_workspace_init(pkt_workspace* ws, void* memory, size_t size) {
  if (!ws) return;
  memset(ws, 0, sizeof *ws);
  uintptr_t start = (uintptr_t)memory, aligned = (start + WS_ALIGN - 1) & ~(uintptr_t)(WS_ALIGN - 1);
  if (!memory || size < aligned - start) return; /* an empty workspace: every allocation fails */
  ws->base = (unsigned char*)aligned;
  ws->size = size - (aligned - start);
}

size_t pkt_workspace_peak(const pkt_workspace* ws) { return ws ? ws->peak : 0; }

void* pkt_ws_calloc(pkt_workspace* ws, size_t n, size_t size) {
  if (!ws) return pkt_platform_calloc(n, size);
  if (size && n > SIZE_MAX / size) return NULL;
  size_t bytes = n * size;
  if (bytes > SIZE_MAX - HEADER - WS_ALIGN) return NULL;
  size_t need = HEADER + ((bytes + WS_ALIGN - 1) & ~(size_t)(WS_ALIGN - 1));
  if (need > ws->size - ws->used) return NULL;
  ws_block* b = (ws_block*)(ws->base + ws->used);
  b->below = ws->top;
  b->freed = 0;
  ws->top = b;
  ws->used += need;
  if (ws->used > ws->peak) ws->peak = ws->used;
  unsigned char* data = (unsigned char*)b + HEADER;
  memset(data, 0, bytes);
  return data;
}

void pkt_ws_free(pkt_workspace* ws, void* p) {
  if (!p) return;
  if (!ws) {
    pkt_platform_free(p);
    return;
  }
  ((ws_block*)((unsigned char*)p - HEADER))->freed = 1;
  while (ws->top && ((ws_block*)ws->top)->freed) {
    ws_block* b = ws->top;
    ws->used = (size_t)((unsigned char*)b - ws->base);
    ws->top = b->below;
  }
}
