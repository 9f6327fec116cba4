/* Makes the C calls the generated Swift `Model` makes, in the same order and with the same arguments
 * (the test checks the order against Model.swift's syntax tree), so the package's C target can be run
 * without a Swift compiler. One function per Swift member: init(contentsOf:configuration:), deinit, run(_:).
 *
 * usage: model_driver MODEL.ptm THREADS REFERENCE_DIR OUT_DIR
 * reads REFERENCE_DIR/input_<i>.bin (raw little-endian elements), writes OUT_DIR/output_<i>.bin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pockettorch/pockettorch.h"

enum { ERROR_CAPACITY = 512 }; /* Model.errorCapacity */

typedef struct model {
  pkt_program* program;
  pkt_session* session;
  int num_inputs, num_outputs, threads;
  pkt_tensor_info inputs[16], outputs[16];
} model;

static int fail(const char* what, pkt_status status, const char* detail) {
  fprintf(stderr, "%s: %s (%d): %s\n", what, pkt_status_name(status), (int)status, detail);
  return (int)status;
}

/* init(contentsOf:configuration:); a failure after loading frees the program, like its catch block. */
static int model_init(model* m, const char* path, int threads) {
  char error_text[ERROR_CAPACITY] = {0};
  pkt_status status = pkt_program_load_file(path, &m->program, error_text, sizeof error_text);
  if (status != PKT_OK) return fail("load", status, error_text);
  m->num_inputs = pkt_program_num_inputs(m->program);
  for (int i = 0; i < m->num_inputs && i < 16 && status == PKT_OK; i++) {
    status = pkt_program_input_info(m->program, i, &m->inputs[i]);
    for (int d = 0; d < m->inputs[i].rank && status == PKT_OK; d++) { /* dynamic dims' ranges */
      int symbol = pkt_program_input_dim_symbol(m->program, i, d);
      int64_t low, high;
      if (symbol >= 0 && pkt_program_symbol(m->program, symbol, NULL, &low, &high) == PKT_OK)
        printf("input %d dim %d: %lld..%lld\n", i, d, (long long)low, (long long)high);
    }
  }
  m->num_outputs = pkt_program_num_outputs(m->program);
  for (int i = 0; i < m->num_outputs && i < 16 && status == PKT_OK; i++) {
    status = pkt_program_output_info(m->program, i, &m->outputs[i]);
  }
  if (status == PKT_OK) {
    pkt_session_options options = pkt_session_options_default();
    options.num_threads = threads;
    status = pkt_session_create(m->program, &options, &m->session, error_text, sizeof error_text);
    if (status == PKT_OK) {
      m->threads = pkt_session_num_threads(m->session);
      return 0;
    }
  }
  pkt_program_free(m->program);
  return fail("prepare", status, error_text);
}

/* deinit */
static void model_free(model* m) {
  pkt_session_free(m->session);
  pkt_program_free(m->program);
}

/* run(_:): inputs set before every run, then one run, then every output copied out. */
static int model_run(model* m, void* const* inputs, void* const* outputs) {
  char error_text[ERROR_CAPACITY] = {0};
  for (int i = 0; i < m->num_inputs; i++) { /* the shapes of this call (here: the planned ones) */
    pkt_status status = pkt_session_set_input_shape(m->session, i, m->inputs[i].dims, m->inputs[i].rank, error_text,
                                                    sizeof error_text);
    if (status != PKT_OK) return fail("input shape", status, error_text);
  }
  for (int i = 0; i < m->num_inputs; i++) {
    pkt_status status = pkt_session_set_input(m->session, i, inputs[i], m->inputs[i].nbytes);
    if (status != PKT_OK) return fail("set input", status, m->inputs[i].name);
  }
  pkt_status status = pkt_session_run(m->session);
  if (status != PKT_OK) return fail("run", status, pkt_session_error(m->session));
  for (int i = 0; i < m->num_outputs; i++) {
    pkt_tensor_info current; /* the shape this run gave it */
    if (pkt_session_output_info(m->session, i, &current) != PKT_OK) return fail("output info", PKT_INTERNAL, "");
    const void* data = pkt_session_output_data(m->session, i);
    if (data == NULL) return fail("output data", PKT_INTERNAL, m->outputs[i].name);
    memcpy(outputs[i], data, current.nbytes);
  }
  return 0;
}

static void* read_file(const char* path, size_t expected) {
  FILE* f = fopen(path, "rb");
  void* data = malloc(expected ? expected : 1);
  size_t got = f && data ? fread(data, 1, expected, f) : 0;
  int extra = f ? fgetc(f) != EOF : 1;
  if (f) fclose(f);
  if (got != expected || extra) {
    fprintf(stderr, "%s: expected %zu bytes\n", path, expected);
    free(data);
    return NULL;
  }
  return data;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MODEL.ptm THREADS REFERENCE_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  model m = {0};
  int rc = model_init(&m, argv[1], atoi(argv[2]));
  if (rc != 0) return rc;
  if (m.num_inputs > 16 || m.num_outputs > 16) return fail("driver", PKT_NOT_SUPPORTED, "more than 16 inputs/outputs");
  void* inputs[16] = {0};
  void* outputs[16] = {0};
  char path[4096];
  for (int i = 0; i < m.num_inputs && rc == 0; i++) {
    snprintf(path, sizeof path, "%s/input_%d.bin", argv[3], i);
    inputs[i] = read_file(path, m.inputs[i].nbytes);
    if (inputs[i] == NULL) rc = 1;
  }
  for (int i = 0; i < m.num_outputs; i++) outputs[i] = malloc(m.outputs[i].nbytes ? m.outputs[i].nbytes : 1);
  if (rc == 0) rc = model_run(&m, inputs, outputs);
  for (int i = 0; i < m.num_outputs && rc == 0; i++) {
    snprintf(path, sizeof path, "%s/output_%d.bin", argv[4], i);
    FILE* f = fopen(path, "wb");
    if (f == NULL || fwrite(outputs[i], 1, m.outputs[i].nbytes, f) != m.outputs[i].nbytes) rc = 1;
    if (f) fclose(f);
  }
  printf("threads %d\n", m.threads);
  for (int i = 0; i < 16; i++) {
    free(inputs[i]);
    free(outputs[i]);
  }
  model_free(&m);
  return rc;
}
