/* model_driver.c's stand-in for the Swift `Model`, called from many threads at once the way Swift tasks
 * share one `Model`: each run(_:) holds a mutex (the stand-in for Model's NSLock, which
 * test_ios_threads.py checks in Model.swift's syntax tree) around the same C calls. Every output is checked
 * against a sequential run on the same input.
 *
 * usage: concurrent_driver MODEL.ptm THREADS CALLERS CALLS   (float32 inputs only; prints "wrong=N ok=N") */
#define main model_driver_main
#include "model_driver.c"
#undef main

#include <math.h>
#include <pthread.h>

static model shared;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* Model.lock */
static int callers, calls;
static void** inputs;   /* [call * num_inputs + i] */
static void** expected; /* [call * num_outputs + i] */

static int locked_run(void* const* in, void* const* out) {
  pthread_mutex_lock(&lock);
  int rc = model_run(&shared, in, out);
  pthread_mutex_unlock(&lock);
  return rc;
}

typedef struct {
  int first, wrong, failed;
} caller;

static void* call_many(void* arg) {
  caller* c = arg;
  void* out[16];
  for (int i = 0; i < shared.num_outputs; i++) out[i] = malloc(shared.outputs[i].nbytes);
  for (int k = 0; k < calls; k++) {
    int call = c->first + k;
    if (locked_run(&inputs[call * shared.num_inputs], out) != 0) {
      c->failed++;
      continue;
    }
    for (int i = 0; i < shared.num_outputs; i++)
      if (memcmp(out[i], expected[call * shared.num_outputs + i], shared.outputs[i].nbytes)) {
        c->wrong++;
        break;
      }
  }
  for (int i = 0; i < shared.num_outputs; i++) free(out[i]);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  callers = atoi(argv[3]);
  calls = atoi(argv[4]);
  if (callers > 64 || model_init(&shared, argv[1], atoi(argv[2])) != 0) return 1;
  int total = callers * calls;
  inputs = calloc((size_t)total * (size_t)shared.num_inputs, sizeof *inputs);
  expected = calloc((size_t)total * (size_t)shared.num_outputs, sizeof *expected);
  for (int call = 0; call < total; call++) {
    for (int i = 0; i < shared.num_inputs; i++) {
      if (shared.inputs[i].dtype != PKT_F32) return fail("driver", PKT_NOT_SUPPORTED, "float32 inputs only");
      size_t n = shared.inputs[i].nbytes / sizeof(float);
      float* x = malloc(shared.inputs[i].nbytes);
      inputs[call * shared.num_inputs + i] = x;
      for (size_t j = 0; j < n; j++) x[j] = sinf(0.37f * (float)call + 0.11f * (float)j + (float)i);
    }
    for (int i = 0; i < shared.num_outputs; i++) expected[call * shared.num_outputs + i] = malloc(shared.outputs[i].nbytes);
    if (model_run(&shared, &inputs[call * shared.num_inputs], &expected[call * shared.num_outputs]) != 0)
      return 1;
  }
  pthread_t threads[64];
  caller state[64];
  for (int t = 0; t < callers; t++) {
    state[t] = (caller){t * calls, 0, 0};
    pthread_create(&threads[t], NULL, call_many, &state[t]);
  }
  int wrong = 0, failed = 0;
  for (int t = 0; t < callers; t++) {
    pthread_join(threads[t], NULL);
    wrong += state[t].wrong;
    failed += state[t].failed;
  }
  model_free(&shared);
  printf("wrong=%d ok=%d\n", wrong, total - wrong - failed);
  return failed ? 1 : 0;
}
