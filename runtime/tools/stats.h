/* Latency statistics shared by the tools (and mirrored by `pockettorch run`, see RUN_JSON.md):
 * percentiles interpolate linearly between order statistics (numpy.percentile's default "linear"),
 * std is the population standard deviation (ddof=0). */
#ifndef PKT_TOOLS_STATS_H
#define PKT_TOOLS_STATS_H

#include <stddef.h>

typedef struct pkt_latency_stats {
  double min, median, p90, p99, mean, std, max;
  size_t count;
} pkt_latency_stats;

/* Summarize n samples (sorts `samples` in place). n == 0 gives all zeros. */
void pkt_latency_summarize(double* samples, size_t n, pkt_latency_stats* out);

/* Percentile q in [0, 100] of n sorted samples, linear interpolation. */
double pkt_percentile_sorted(const double* sorted, size_t n, double q);

#endif
