/*
 * The honest-statistics leaf library (engine/stats/): Wilson intervals,
 * Kish's effective count and the exact binomial tail against values worked
 * out by hand or in exact rational arithmetic, and the walk-forward
 * calibration map on small cases whose pooling is shown in the comments.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "stats/calibration.h"
#include "stats/stats.h"

#define EPS  1e-12

static void
test_wilson(void)
{
    prt_interval_t  ci;

    /* p = 0.5, n = 100: centre 0.5, half 1.96/(1 + 3.8415/100) *
     * sqrt(0.0025 + 3.8415/40000) = 0.0961665 */
    ci = prt_wilson(0.5, 100, PRT_STATS_Z95);
    is_double(ci.lo, 0.40383153, 1e-7, "wilson 50/100 lo");
    is_double(ci.hi, 0.59616847, 1e-7, "wilson 50/100 hi");

    /* p = 0, n = 10: lo 0, hi = z^2/n / (1 + z^2/n) = 0.277533 */
    ci = prt_wilson(0.0, 10, PRT_STATS_Z95);
    is_double(ci.lo, 0.0, EPS, "wilson 0/10 lo is 0");
    is_double(ci.hi, 0.27753279, 1e-7, "wilson 0/10 hi");

    ci = prt_wilson(1.0, 10, PRT_STATS_Z95);
    is_double(ci.lo, 1.0 - 0.27753279, 1e-7, "wilson 10/10 is the mirror");
    is_double(ci.hi, 1.0, EPS, "wilson 10/10 hi is 1");

    ci = prt_wilson(0.7, 0, PRT_STATS_Z95);
    ok(ci.lo == 0.0 && ci.hi == 1.0, "nothing observed: [0, 1]");

    /* a fractional effective count: p = 0.9 at n = 2.5 */
    ci = prt_wilson(0.9, 2.5, PRT_STATS_Z95);
    ok(ci.lo > 0.3 && ci.lo < 0.45 && ci.hi > 0.98 && ci.hi <= 1.0,
       "wilson at n_eff 2.5 is wide: [%g, %g]", ci.lo, ci.hi);
}

static void
test_kish(void)
{
    is_double(prt_kish_n_eff(4.0, 4.0), 4.0, EPS, "equal weights: n");
    is_double(prt_kish_n_eff(1.0, 1.0), 1.0, EPS, "one weight: 1");
    /* weights 1, 0.5: (1.5)^2 / 1.25 = 1.8 */
    is_double(prt_kish_n_eff(1.5, 1.25), 1.8, EPS, "1 and 0.5: 1.8");
    is_double(prt_kish_n_eff(0.0, 0.0), 0.0, EPS, "no weight: 0");
}

static void
test_binomial(void)
{
    /* P(X >= 7), n = 10, p = 1/2: (120 + 45 + 10 + 1) / 1024 */
    is_double(prt_binomial_upper_tail(7, 10, 0.5), 176.0 / 1024, 1e-14,
              "P(X>=7 | 10, 0.5)");
    is_double(prt_binomial_upper_tail(0, 10, 0.3), 1.0, EPS, "k 0: 1");
    is_double(prt_binomial_upper_tail(11, 10, 0.3), 0.0, EPS, "k > n: 0");
    is_double(prt_binomial_upper_tail(10, 10, 0.5), 1.0 / 1024, 1e-15,
              "all successes");
    /* exact rational: sum_{i>=60} C(100,i) / 2^100 */
    is_double(prt_binomial_upper_tail(60, 100, 0.5), 0.028443966820490392,
              1e-13, "P(X>=60 | 100, 0.5)");
    /* p = 0.3, n = 5, k = 3: 10*.027*.49 + 5*.0081*.7 + .00243 */
    is_double(prt_binomial_upper_tail(3, 5, 0.3), 0.16308, 1e-12,
              "P(X>=3 | 5, 0.3)");
    is_double(prt_binomial_upper_tail(1, 5, 0.0), 0.0, EPS, "p 0");
    is_double(prt_binomial_upper_tail(5, 5, 1.0), 1.0, EPS, "p 1");
    ok(isnan(prt_binomial_upper_tail(1, 5, 1.5)), "p outside [0, 1]: NaN");
    /* a million trials: P(X >= n/2) = 1/2 + pmf(n/2)/2, and the pmf at
     * the mode is sqrt(2 / (pi n)) (1 - 1/(4n) + ...) */
    is_double(prt_binomial_upper_tail(500000, 1000000, 0.5),
              0.5 + sqrt(2.0 / (M_PI * 1e6)) * (1 - 0.25e-6) / 2, 1e-10,
              "P(X>=n/2 | a million, 0.5)");
    is_double(prt_binomial_upper_tail(600000, 1000000, 0.5), 0.0, 1e-300,
              "200 standard deviations out: 0");
}

static void
test_fit(void)
{
    uint64_t         n[PRT_CALIB_BINS], up2[PRT_CALIB_BINS];
    prt_calib_map_t  m;

    memset(n, 0, sizeof(n));
    memset(up2, 0, sizeof(up2));
    prt_calib_fit(n, up2, 200.0, &m);
    ok(m.n == 0 && m.value[0] == 0.5 && m.value[99] == 0.5
       && m.base_rate == 0.5, "nothing verified: 0.5 everywhere");

    /* bins 10, 50, 90: 10 with 2 up, 10 with 6 up, 10 with 4 up (one tie
     * counted half: up2 = 8). PAV with no prior pools 50 and 90 into
     * (6 + 4) / 20 = 0.5; bin 10 stays 0.2. */
    n[10] = 10; up2[10] = 4;
    n[50] = 10; up2[50] = 12;
    n[90] = 10; up2[90] = 8;
    prt_calib_fit(n, up2, 0.0, &m);
    is_int(m.n, 30, "fitted on 30");
    is_double(m.value[10], 0.2, EPS, "bin 10 alone");
    is_double(m.value[0], 0.2, EPS, "empty bins below take the first block");
    is_double(m.value[49], 0.2, EPS, "empty bins take the block below");
    is_double(m.value[50], 0.5, EPS, "50 and 90 pooled");
    is_double(m.value[99], 0.5, EPS, "top empty bins: the last block");
    /* base rate: (12 + 500) / (30 + 1000) */
    is_double(m.base_rate, 512.0 / 1030.0, EPS, "base rate with its prior");

    /* prior 30: (6 + 30 r) / 40 and (10 + 30 r) / 50 */
    prt_calib_fit(n, up2, 30.0, &m);
    is_double(m.value[10], (2 + 30 * 512.0 / 1030) / 40, EPS,
              "shrunk toward the base rate");
    is_double(m.value[90], (10 + 30 * 512.0 / 1030) / 50, EPS,
              "the pooled block shrunk");
    for (int b = 1; b < PRT_CALIB_BINS; b++) {
        if (m.value[b] < m.value[b - 1]) {
            ok(0, "monotone at bin %d", b);
            return;
        }
    }
    ok(1, "the map is monotone");
    is_double(prt_calib_apply(&m, 0.905), m.value[90], EPS, "apply: bin 90");
    is_int(prt_calib_bin(1.0), 99, "1.0 in the last bin");
    is_int(prt_calib_bin(0.5), 50, "0.5 in bin 50");
    is_int(prt_calib_bin(0.29999999999999999), 30,
           "a value a rounding below a boundary lands on it");
    is_int(prt_calib_bin(-0.1), 0, "below 0: bin 0");
    is_int(prt_calib_bin(NAN), 0, "NaN: bin 0");
}

/* the shrinkage may break the pooled order: pooled again */
static void
test_fit_repools(void)
{
    uint64_t         n[PRT_CALIB_BINS], up2[PRT_CALIB_BINS];
    prt_calib_map_t  m;

    memset(n, 0, sizeof(n));
    memset(up2, 0, sizeof(up2));
    /* 2 of 2 up at bin 20 (small), 550 of 1000 at bin 30: after a prior
     * of 100 toward r ~ 0.55 bin 20 is ~0.57 > bin 30's 0.5505, pooled */
    n[20] = 2; up2[20] = 0;
    n[25] = 4; up2[25] = 8;
    n[30] = 1000; up2[30] = 1100;
    prt_calib_fit(n, up2, 100.0, &m);
    ok(m.value[20] <= m.value[25] && m.value[25] <= m.value[30],
       "monotone after shrinking: %g %g %g", m.value[20], m.value[25],
       m.value[30]);
}

static void
test_calibrator(void)
{
    prt_calibrator_t  *c = prt_calibrator_new(2, 0.0);
    prt_calib_map_t    m;

    ok(c != NULL, "calibrator");
    ok(prt_calibrator_add(c, 0, 1000, 0.9, 1.5) == 0, "add up");
    ok(prt_calibrator_add(c, 0, 2000, 0.9, -0.5) == 0, "add down");
    ok(prt_calibrator_add(c, 0, 3000, 0.9, 0.0) == 0, "add a tie");
    ok(prt_calibrator_add(c, 1, 1500, 0.1, 1.0) == 0, "another series");
    ok(prt_calibrator_add(c, 2, 1500, 0.1, 1.0) != 0, "bad series refused");
    ok(prt_calibrator_add(c, 0, 1500, 0.1, NAN) != 0, "no outcome refused");
    is_int(prt_calibrator_count(c, 0), 3, "three in series 0");
    is_int(prt_calibrator_size(c), 4, "four in all");

    prt_calibrator_map(c, 0, 5000, &m);
    is_int(m.n, 3, "cutoff after all: 3");
    is_double(m.value[90], 1.5 / 3, EPS, "ties count half");
    prt_calibrator_map(c, 0, 2000, &m);
    is_int(m.n, 2, "cutoff at the second: what was verified by then");
    is_double(m.value[90], 0.5, EPS, "one up, one down");
    prt_calibrator_map(c, 0, 999, &m);
    is_int(m.n, 0, "cutoff before any: nothing");
    is_double(m.value[90], 0.5, EPS, "0.5 before any");
    prt_calibrator_free(c);
}

int
main(void)
{
    test_wilson();
    test_kish();
    test_binomial();
    test_fit();
    test_fit_repools();
    test_calibrator();
    return done_testing();
}
