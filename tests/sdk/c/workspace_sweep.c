/* workspace_sweep PROGRAM.ptm: for every workspace size from 0 up (16-byte steps), load the program into a
 * pkt_workspace and create a session on it, with the embedded platform (no heap to fall back on). Below the
 * size the program needs, the call that runs out must return PKT_OUT_OF_MEMORY, and once everything is
 * freed the workspace must be empty again (every error path gives its blocks back). Prints the first size
 * that works, after a run there succeeded. Exit 0 when every size behaved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pockettorch/pockettorch.h"

static _Alignas(64) unsigned char workspace_memory[1 << 20];

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  FILE* f = fopen(argv[1], "rb");
  if (!f) return 2;
  static _Alignas(64) unsigned char program_bytes[1 << 22];
  size_t size = fread(program_bytes, 1, sizeof program_bytes, f);
  fclose(f);
  char err[256];
  pkt_workspace ws;
  pkt_program* program;
  pkt_session* session;
  pkt_workspace_init(&ws, workspace_memory, sizeof workspace_memory);
  if (pkt_program_load_buffer_in(program_bytes, size, &ws, &program, err, sizeof err) != PKT_OK) {
    printf("load: %s\n", err);
    return 1;
  }
  size_t arena_size = pkt_session_required_arena(program, 1);
  pkt_program_free(program);
  if (arena_size == 0 || ws.used != 0) {
    printf("required arena %zu, workspace left holding %zu bytes\n", arena_size, ws.used);
    return 1;
  }
  void* arena = aligned_alloc(64, (arena_size + 63) / 64 * 64);
  for (size_t cap = 0; cap <= sizeof workspace_memory; cap += 16) {
    pkt_workspace_init(&ws, workspace_memory, cap);
    program = NULL;
    session = NULL;
    pkt_session_options opt = pkt_session_options_default();
    opt.arena = arena;
    opt.arena_size = arena_size;
    pkt_status st = pkt_program_load_buffer_in(program_bytes, size, &ws, &program, err, sizeof err);
    if (st == PKT_OK) st = pkt_session_create(program, &opt, &session, err, sizeof err);
    for (int i = 0; st == PKT_OK && i < pkt_program_num_inputs(program); i++) { /* zeros: valid for every op */
      pkt_tensor_info info;
      pkt_program_input_info(program, i, &info);
      memset(pkt_session_input_data(session, i), 0, info.nbytes);
    }
    if (st == PKT_OK) st = pkt_session_run(session);
    pkt_session_free(session);
    pkt_program_free(program);
    if (ws.used != 0) {
      printf("workspace of %zu bytes: %zu bytes not given back (%s)\n", cap, ws.used, pkt_status_name(st));
      return 1;
    }
    if (st == PKT_OK) {
      printf("%zu\n", cap);
      free(arena);
      return 0;
    }
    if (st != PKT_OUT_OF_MEMORY) {
      printf("workspace of %zu bytes: %s (%s), expected PKT_OUT_OF_MEMORY\n", cap, pkt_status_name(st), err);
      return 1;
    }
  }
  printf("no workspace size up to %zu bytes worked\n", sizeof workspace_memory);
  return 1;
}
