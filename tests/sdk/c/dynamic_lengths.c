/* A generated C SDK of a dynamic-length model (tests/sdk/c/test_c_sdk_dynamic.py): for each length given on the
 * command line, set the inputs' shapes, run, and print the output's shape and values; a refused shape prints
 * the status and the SDK's error sentence. Inputs are made from the length, so the test rebuilds them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tok.h"

int main(int argc, char** argv) {
  tok model;
  if (tok_init(&model, argv[1], 1) != PKT_OK) {
    printf("init %s\n", tok_error(&model));
    return 1;
  }
  static float x[TOK_INPUT_X_NUMEL], y[TOK_OUTPUT_OUTPUT_NUMEL];
  static bool mask[TOK_INPUT_MASK_NUMEL];
  for (int a = 2; a < argc; a++) {
    const int64_t seq = atoll(argv[a]);
    const int64_t xd[3] = {1, seq, 8}, md[2] = {1, seq};
    pkt_status st = tok_set_input_shape(&model, 0, xd, 3);
    if (st == PKT_OK) st = tok_set_input_shape(&model, 1, md, 2);
    if (st != PKT_OK) {
      printf("refused %d %s\n", (int)st, tok_error(&model));
      continue;
    }
    for (int64_t i = 0; i < seq * 8; i++) x[i] = (float)sin(0.37 * (double)i + (double)seq);
    for (int64_t i = 0; i < seq; i++) mask[i] = seq > 2 && i == seq - 1;
    if ((st = tok_run(&model, x, mask, y)) != PKT_OK) {
      printf("run %d %s\n", (int)st, tok_error(&model));
      continue;
    }
    int64_t dims[PKT_MAX_RANK];
    int rank;
    tok_output_shape(&model, 0, dims, &rank);
    printf("shape %lld %lld %lld values", (long long)dims[0], (long long)dims[1], (long long)dims[2]);
    for (int64_t i = 0; i < dims[1] * dims[2]; i++) printf(" %.9g", y[i]);
    printf("\n");
  }
  tok_free(&model);
  return 0;
}
