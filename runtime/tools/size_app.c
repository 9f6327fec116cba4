/* The smallest app `pockettorch size` links the runtime into: load a program from a file, create a session,
 * run it once. The linker keeps exactly what these calls reach (and the kernels the table registers). */
#include "pockettorch/pockettorch.h"

int main(int argc, char** argv) {
  pkt_program* program = NULL;
  pkt_session* session = NULL;
  char err[256];
  if (argc < 2) return 2;
  pkt_status st = pkt_program_load_file(argv[1], &program, err, sizeof err);
  if (st == PKT_OK) {
    pkt_session_options options = pkt_session_options_default();
    st = pkt_session_create(program, &options, &session, err, sizeof err);
  }
  if (st == PKT_OK) st = pkt_session_run(session);
  pkt_session_free(session);
  pkt_program_free(program);
  return (int)st;
}
