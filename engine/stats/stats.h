/*
 * What a proportion is worth: the small, exact formulas the forecast and
 * the track record report beside their raw numbers (SPEC 3.1, the method
 * in docs/forecast.md). A leaf library: no engine types, no allocation.
 */
#ifndef PRT_STATS_H
#define PRT_STATS_H

#include <stddef.h>

/* the normal quantile of a two-sided 95 % interval */
#define PRT_STATS_Z95  1.959963984540054

typedef struct {
    double  lo, hi;
} prt_interval_t;

/*
 * Kish's effective sample size (sum w)^2 / sum w^2 of n weights; 0 when
 * the weights sum to 0. Incremental form: pass the two sums.
 */
double prt_kish_n_eff(double sum_w, double sum_w2);

/*
 * The Wilson score interval of a proportion p observed over n (n may be
 * fractional: an effective sample, or ties counted half), at normal
 * quantile z. n <= 0 gives [0, 1]: nothing observed excludes nothing.
 */
prt_interval_t prt_wilson(double p, double n, double z);

/*
 * One-sided exact binomial test: P(X >= k) for X ~ Binomial(n, p), the
 * p-value of k successes against a chance rate p. 1 when k <= 0; 0 when
 * k > n; NaN when p is outside [0, 1].
 */
double prt_binomial_upper_tail(unsigned long k, unsigned long n, double p);

#endif
