#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

double pkt_percentile_sorted(const double* s, size_t n, double q) {
  if (n == 0) return 0.0;
  if (q <= 0) return s[0];
  if (q >= 100) return s[n - 1];
  double pos = q / 100.0 * (double)(n - 1);
  size_t lo = (size_t)floor(pos);
  size_t hi = lo + 1 < n ? lo + 1 : lo;
  double frac = pos - (double)lo;
  return s[lo] + (s[hi] - s[lo]) * frac;
}

void pkt_latency_summarize(double* samples, size_t n, pkt_latency_stats* out) {
  memset(out, 0, sizeof *out);
  out->count = n;
  if (n == 0) return;
  qsort(samples, n, sizeof *samples, cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += samples[i];
  double mean = sum / (double)n, var = 0;
  for (size_t i = 0; i < n; i++) var += (samples[i] - mean) * (samples[i] - mean);
  out->min = samples[0];
  out->max = samples[n - 1];
  out->median = pkt_percentile_sorted(samples, n, 50);
  out->p90 = pkt_percentile_sorted(samples, n, 90);
  out->p99 = pkt_percentile_sorted(samples, n, 99);
  out->mean = mean;
  out->std = sqrt(var / (double)n);
}
