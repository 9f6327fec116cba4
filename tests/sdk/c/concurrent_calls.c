/* Calls one generated `mlp` model (tests/sdk/c/test_c_sdk_threads.py) from many callers at once and checks
 * every output against the output of a sequential call on the same input (the runtime is deterministic).
 *
 * Host profile:     concurrent_calls MODEL.ptm NUM_THREADS CALLERS CALLS   (CALLERS pthreads)
 * Embedded profile: concurrent_calls CALLS   (a SIGALRM timer calls the model from its handler, the way an
 *                   interrupt would, while the main loop runs it: those calls must get PKT_BUSY or succeed)
 * Prints "wrong=N busy=N ok=N" and exits 0, or exits 1 when a call failed unexpectedly. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

#define IN_NUMEL MLP_INPUT_X_NUMEL
#define OUT_NUMEL MLP_OUTPUT_OUTPUT_NUMEL

static mlp model;
static float* inputs;   /* [calls][IN_NUMEL], distinct per call */
static float* expected; /* [calls][OUT_NUMEL] */
static int total_calls;

static void make_input(float* x, int call) {
  for (int j = 0; j < IN_NUMEL; j++) x[j] = sinf(0.37f * (float)call + 0.11f * (float)j);
}

static int prepare(int calls) {
  total_calls = calls;
  inputs = malloc(sizeof(float) * IN_NUMEL * (size_t)calls);
  expected = malloc(sizeof(float) * OUT_NUMEL * (size_t)calls);
  for (int i = 0; i < calls; i++) {
    make_input(inputs + (size_t)i * IN_NUMEL, i);
    if (mlp_run(&model, inputs + (size_t)i * IN_NUMEL, expected + (size_t)i * OUT_NUMEL) != PKT_OK) {
      fprintf(stderr, "sequential run %d: %s\n", i, mlp_error(&model));
      return 0;
    }
  }
  return 1;
}

static int is_expected(const float* y, int call) {
  return memcmp(y, expected + (size_t)call * OUT_NUMEL, sizeof(float) * OUT_NUMEL) == 0;
}

#ifndef MLP_MEMORY_BYTES
#include <pthread.h>

typedef struct {
  int first, count, wrong, failed;
} caller;

static void* call_many(void* arg) {
  caller* c = arg;
  float y[OUT_NUMEL];
  for (int k = 0; k < c->count; k++) {
    int call = c->first + k;
    if (mlp_run(&model, inputs + (size_t)call * IN_NUMEL, y) != PKT_OK)
      c->failed++;
    else
      c->wrong += !is_expected(y, call);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  int callers = atoi(argv[3]), calls = atoi(argv[4]);
  if (mlp_init(&model, argv[1], atoi(argv[2])) != PKT_OK) {
    fprintf(stderr, "init: %s\n", mlp_error(&model));
    return 1;
  }
  if (!prepare(callers * calls)) return 1;
  pthread_t threads[64];
  caller state[64];
  for (int t = 0; t < callers && t < 64; t++) {
    state[t] = (caller){t * calls, calls, 0, 0};
    pthread_create(&threads[t], NULL, call_many, &state[t]);
  }
  int wrong = 0, failed = 0;
  for (int t = 0; t < callers && t < 64; t++) {
    pthread_join(threads[t], NULL);
    wrong += state[t].wrong;
    failed += state[t].failed;
  }
  mlp_free(&model);
  printf("wrong=%d busy=0 ok=%d\n", wrong, callers * calls - wrong - failed);
  return failed ? 1 : 0;
}
#else
#include <signal.h>
#include <sys/time.h>
#include <time.h>

static _Alignas(MLP_MEMORY_ALIGN) unsigned char memory[MLP_MEMORY_BYTES];
static volatile sig_atomic_t nested_busy, nested_ok, nested_wrong, nested_failed;

/* The "interrupt": one call on its own input (call 0) while the main loop may be inside mlp_run. */
static void on_alarm(int sig) {
  (void)sig;
  float y[OUT_NUMEL];
  pkt_status st = mlp_run(&model, inputs, y);
  if (st == PKT_BUSY)
    nested_busy++;
  else if (st != PKT_OK)
    nested_failed++;
  else if (is_expected(y, 0))
    nested_ok++;
  else
    nested_wrong++;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int calls = atoi(argv[1]);
  if (mlp_init(&model, memory, sizeof memory) != PKT_OK) {
    fprintf(stderr, "init: %s\n", mlp_error(&model));
    return 1;
  }
  if (!prepare(calls)) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  /* an "interrupt" every 3 run times: most land inside a run, and the main loop still makes progress */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  mlp_run(&model, inputs, expected);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long period_us = 3 * ((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000) + 50;
  if (period_us > 999999) period_us = 999999;
  struct itimerval every = {{0, period_us}, {0, period_us}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &every, NULL);
  int wrong = 0, failed = 0;
  float y[OUT_NUMEL];
  for (int round = 0; round < 4; round++)
    for (int call = 1; call < calls; call++) {
      pkt_status st = mlp_run(&model, inputs + (size_t)call * IN_NUMEL, y);
      if (st != PKT_OK)
        failed++;
      else
        wrong += !is_expected(y, call);
    }
  setitimer(ITIMER_REAL, &off, NULL);
  mlp_free(&model);
  printf("wrong=%d busy=%d ok=%d\n", wrong + (int)nested_wrong, (int)nested_busy, (int)nested_ok);
  return failed || nested_failed ? 1 : 0;
}
#endif
