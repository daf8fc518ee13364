/*
 * Pattern windows and trajectories (SPEC §2.2, §2.3): contiguity by minute,
 * flat and bad windows, features against an independent long double
 * computation, trajectories over gaps and at 20:00, and the day scan against
 * prt_pattern_window on every index of a random day.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "index/pattern.h"

#define MAX_BARS  PRT_MINUTES_PER_DAY

static prt_bar_t  bars[MAX_BARS];

static prt_bar_t
bar(int minute, double close, double volume)
{
    prt_bar_t  b;

    memset(&b, 0, sizeof(b));
    b.minute = minute;
    b.open = b.high = b.low = b.close = close;
    b.volume = volume;
    return b;
}

/* Appends bars for minutes [from, to] with close(j) = base + j * step. */
static size_t
add_run(size_t n, int from, int to, double base, double step)
{
    int  m;

    for (m = from; m <= to; m++) {
        bars[n++] = bar(m, base + (m - from) * step, 100.0);
    }
    return n;
}

static void
test_horizons(void)
{
    static const int  want[PRT_N_HORIZONS] = {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60
    };
    int  i, same = 1;

    for (i = 0; i < PRT_N_HORIZONS; i++) {
        same &= prt_horizons[i] == want[i];
        same &= prt_horizon_index(want[i]) == i;
    }
    ok(same, "H = {1..10,15,20,30,45,60} and prt_horizon_index inverts it");
    is_int(prt_horizon_index(0), -1, "0 minutes is not a horizon");
    is_int(prt_horizon_index(11), -1, "11 minutes is not a horizon");
    is_int(prt_horizon_index(61), -1, "61 minutes is not a horizon");
    is_int(prt_horizon_index(-1), -1, "-1 minutes is not a horizon");
}

static void
test_contiguity(void)
{
    float              v[PRT_WINDOW];
    prt_window_info_t  info;
    size_t             n;

    /* 31 rows, minutes 600..631 without 615: no 30 consecutive minutes */
    n = add_run(0, 600, 614, 20.0, 0.01);
    n = add_run(n, 616, 631, 20.3, -0.02);
    is_int(n, 31, "31 rows around a missing minute");
    is_int(prt_pattern_window(bars, n, 30, v, &info), PRT_PATTERN_ESHORT,
           "30 rows spanning a missing minute are not a window");
    is_int(prt_pattern_window(bars, n, 29, v, &info), PRT_PATTERN_ESHORT,
           "window ending at 630 fails too");
    is_int(prt_pattern_window(bars, n, 10, v, &info), PRT_PATTERN_ESHORT,
           "fewer than 30 rows before the end");
    is_int(prt_pattern_window(bars, n, 31, v, &info), PRT_PATTERN_EARG,
           "end index past the array");

    /* gaps, then 400..429 consecutive, then gaps */
    n = 0;
    bars[n++] = bar(300, 20.0, 5.0);
    bars[n++] = bar(310, 20.1, 5.0);
    n = add_run(n, 400, 429, 20.0, 0.01);
    bars[n++] = bar(500, 21.0, 5.0);
    bars[n++] = bar(520, 21.5, 5.0);
    is_int(prt_pattern_window(bars, n, 31, v, &info), 0,
           "30 consecutive minutes between gaps form a window");
    is_int(prt_pattern_window(bars, n, 30, v, &info), PRT_PATTERN_ESHORT,
           "ending at 428 needs 399, which is absent");
    is_int(prt_pattern_window(bars, n, 32, v, &info), PRT_PATTERN_ESHORT,
           "ending at 500 after a 70-minute gap");
}

static void
test_flat_and_bad(void)
{
    float              v[PRT_WINDOW];
    prt_window_info_t  info;
    size_t             n;
    int                m;

    n = add_run(0, 600, 629, 50.0, 0.0);
    is_int(prt_pattern_window(bars, n, 29, v, &info), PRT_PATTERN_EFLAT,
           "constant closes: sigma = 0 is a flat window");

    /* constant growth: every log return equal, sigma = 0 up to rounding */
    for (m = 0; m < 30; m++) {
        bars[m] = bar(600 + m, 100.0 * pow(1.001, m), 100.0);
    }
    is_int(prt_pattern_window(bars, 30, 29, v, &info), PRT_PATTERN_EFLAT,
           "geometric closes: sigma below the rounding floor is flat");

    n = add_run(0, 600, 629, 50.0, 0.1);
    is_int(prt_pattern_window(bars, n, 29, v, &info), 0, "base window valid");
    bars[7].close = 0.0;
    is_int(prt_pattern_window(bars, n, 29, v, &info), PRT_PATTERN_EPRICE,
           "close 0 is a bad price");
    bars[7].close = -3.0;
    is_int(prt_pattern_window(bars, n, 29, v, &info), PRT_PATTERN_EPRICE,
           "negative close is a bad price");
    bars[7].close = NAN;
    is_int(prt_pattern_window(bars, n, 29, v, &info), PRT_PATTERN_EPRICE,
           "NaN close is a bad price");
    bars[7].close = INFINITY;
    is_int(prt_pattern_window(bars, n, 29, v, &info), PRT_PATTERN_EPRICE,
           "infinite close is a bad price");
    bars[3].minute = 602;
    bars[2].minute = 601;
    bars[1].minute = 599;
    bars[0].minute = 598;
    is_int(prt_pattern_window(bars, n, 29, v, &info), PRT_PATTERN_ESHORT,
           "a gap is reported before a bad price");
}

/*
 * Independent arrangement: p_j = ln(c_j / c_29) as one log of a ratio, and
 * sigma^2 = E[r^2] - E[r]^2 (one pass), all in long double.
 */
static void
expected_features(const prt_bar_t *b, long double x[PRT_WINDOW],
    long double *sigma)
{
    long double  r, s1 = 0, s2 = 0, var;
    int          j;

    for (j = 1; j < PRT_WINDOW; j++) {
        r = logl((long double) b[j].close / (long double) b[j - 1].close);
        s1 += r;
        s2 += r * r;
    }
    var = s2 / 29.0L - (s1 / 29.0L) * (s1 / 29.0L);
    *sigma = sqrtl(var);
    for (j = 0; j < PRT_WINDOW; j++) {
        x[j] = logl((long double) b[j].close / (long double) b[29].close)
               / (*sigma * sqrtl(30.0L));
    }
}

static void
test_features(void)
{
    float              v[PRT_WINDOW];
    prt_window_info_t  info;
    long double        x[PRT_WINDOW], sigma;
    double             worst = 0.0, err;
    int                j, rc;

    for (j = 0; j < PRT_WINDOW; j++) {
        bars[j] = bar(700 + j, 100.0 + 3.0 * sin(0.7 * j) + 0.01 * j * j,
                      10.0 * (j + 1));
    }
    rc = prt_pattern_window(bars, PRT_WINDOW, PRT_WINDOW - 1, v, &info);
    is_int(rc, 0, "smooth window is valid");
    expected_features(bars, x, &sigma);
    for (j = 0; j < PRT_WINDOW; j++) {
        err = fabs((double) v[j] - (double) x[j])
              / fmax(1.0, fabs((double) x[j]));
        worst = fmax(worst, err);
    }
    ok(worst < 2e-7, "30 features match long double within float precision "
       "(worst relative error %.3g)", worst);
    ok(v[29] == 0.0f, "x_29 = ln(c29/c29) = 0");
    is_double(info.c29, bars[29].close, 0.0, "info.c29 is the close of bar t");
    is_double(info.sigma, (double) sigma, 1e-12 * (double) sigma,
              "info.sigma is the population std of the 29 returns");
    is_double(info.volume, 10.0 * 465, 0.0, "info.volume = 10 * (1+..+30)");

    /*
     * Closes alternate 100, 101: returns +a (15 times), -a (14 times), with
     * a = ln 1.01.  mean = a/29, sigma = a * sqrt(840/841).  c29 = 101, so
     * x_odd = 0 and x_even = -a / (sigma sqrt 30) = -29 / sqrt(25200).
     */
    for (j = 0; j < PRT_WINDOW; j++) {
        bars[j] = bar(800 + j, j % 2 ? 101.0 : 100.0, 1.0);
    }
    rc = prt_pattern_window(bars, PRT_WINDOW, PRT_WINDOW - 1, v, &info);
    is_int(rc, 0, "alternating window is valid");
    is_double(v[0], -29.0 / sqrt(25200.0), 1e-6, "x_0 = -29/sqrt(25200)");
    is_double(v[28], -29.0 / sqrt(25200.0), 1e-6, "x_28 = -29/sqrt(25200)");
    is_double(v[1], 0.0, 1e-7, "x_1 = 0");
    is_double(info.sigma, log(1.01) * sqrt(840.0 / 841.0), 1e-15,
              "sigma = ln(1.01) * sqrt(840/841)");
}

static void
test_close_at(void)
{
    size_t  n = 0;

    bars[n++] = bar(600, 10.0, 1.0);
    bars[n++] = bar(605, 11.0, 1.0);
    bars[n++] = bar(606, 12.0, 1.0);
    ok(isnan(prt_close_at(bars, n, 599)), "C(u) before the first bar is NaN");
    is_double(prt_close_at(bars, n, 600), 10.0, 0.0, "C at a bar start");
    is_double(prt_close_at(bars, n, 604), 10.0, 0.0,
              "C in a gap takes the latest earlier bar");
    is_double(prt_close_at(bars, n, 605), 11.0, 0.0, "C at 605");
    is_double(prt_close_at(bars, n, 1200), 12.0, 0.0, "C after the last bar");
    ok(isnan(prt_close_at(bars, 0, 700)), "C of an empty day is NaN");
}

static void
test_trajectory_gaps(void)
{
    /* r_h in percent for H, worked out from the bars below (c29 = 10) */
    static const double  want[PRT_N_HORIZONS] = {
        1, 1, 1, 2, 2, 2, 2, 2, 2, 2, -1, -1, 5, 5, 5
    };
    float   traj[PRT_N_HORIZONS];
    size_t  n;
    int     i, same = 1;

    n = add_run(0, 600, 629, 9.71, 0.01);   /* t = 629, c29 = 10.00 */
    bars[n++] = bar(630, 10.1, 1.0);    /* t+1 .. t+3 -> 10.1: +1 % */
    bars[n++] = bar(633, 10.2, 1.0);    /* t+4 .. t+10 -> 10.2: +2 % */
    bars[n++] = bar(640, 9.9, 1.0);     /* t+15 (644), t+20 (649): -1 % */
    bars[n++] = bar(650, 10.5, 1.0);    /* t+30, t+45, t+60: +5 % */
    bars[n++] = bar(700, 11.0, 1.0);    /* t+71: beyond H */
    prt_pattern_trajectory(bars, n, 29, traj);
    for (i = 0; i < PRT_N_HORIZONS; i++) {
        if (!(fabs(traj[i] - want[i]) < 1e-4)) {
            same = 0;
            printf("#   h=%d got %.9g want %g\n", prt_horizons[i], traj[i],
                   want[i]);
        }
    }
    ok(same, "trajectory over gaps uses the latest earlier bar");
}

static void
test_trajectory_end_of_day(void)
{
    float   traj[PRT_N_HORIZONS];
    size_t  n;
    int     i, nan_from_45 = 1;

    /* t = 1170 (19:30), c29 = 20; bars at 19:40 (21) and 19:59 (19) */
    n = add_run(0, 1141, 1170, 19.71, 0.01);
    bars[n++] = bar(1180, 21.0, 1.0);
    bars[n++] = bar(1199, 19.0, 1.0);
    prt_pattern_trajectory(bars, n, 29, traj);
    is_double(traj[8], 0.0, 1e-5, "t+9 = 19:39 -> bar t itself, 0 %%");
    is_double(traj[9], 5.0, 1e-4, "t+10 = 19:40 -> 19:40 bar, +5 %%");
    is_double(traj[10], 5.0, 1e-4, "t+15 = 19:45 -> 19:40 bar, +5 %%");
    is_double(traj[11], 5.0, 1e-4, "t+20 = 19:50 -> 19:40 bar, +5 %%");
    is_double(traj[12], -5.0, 1e-4,
              "t+30 = 20:00 counts: C(20:00) = 19:59 bar, -5 %%");
    for (i = 13; i < PRT_N_HORIZONS; i++) {
        nan_from_45 &= isnan(traj[i]);
    }
    ok(nan_from_45, "t+45 and t+60 are past 20:00: NaN");

    /* t = 19:59: only h = 1 reaches 20:00 */
    prt_pattern_trajectory(bars, n, n - 1, traj);
    is_double(traj[0], 0.0, 0.0, "t = 19:59, h = 1: C(20:00) = c29, 0 %%");
    ok(isnan(traj[1]), "t = 19:59, h = 2: NaN");

    prt_pattern_trajectory(bars, n, n, traj);
    ok(isnan(traj[0]) && isnan(traj[14]), "index past the day: all NaN");
}

static uint64_t  rng_state = 88172645463325252ULL;

static double
rng_uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double) (rng_state >> 11) / 9007199254740992.0;
}

/*
 * A day with gaps (10 % of minutes missing, plus a long pause), a flat
 * stretch, a bad close and a random walk elsewhere.
 */
static size_t
random_day(void)
{
    double  price = 37.5;
    size_t  n = 0;
    int     m;

    for (m = PRT_MINUTE_FIRST; m <= PRT_MINUTE_LAST; m++) {
        if ((m > 500 && m < 530) || rng_uniform() < 0.02) {
            continue;
        }
        if (m < 700 || m > 760) {           /* 700..760 stays flat */
            price *= exp(0.002 * (rng_uniform() - 0.5));
        }
        bars[n] = bar(m, price, floor(rng_uniform() * 1000.0));
        if (m == 900) {
            bars[n].close = 0.0;
        }
        n++;
    }
    return n;
}

static void
test_day_scan(void)
{
    prt_day_scan_t     scan;
    prt_pattern_t      pat;
    prt_window_info_t  info;
    float              v[PRT_WINDOW], traj[PRT_N_HORIZONS];
    size_t             n, i, counts[5] = { 0 };
    int                rc, got, mismatches = 0, missing = 0, extra = 0;

    n = random_day();
    is_int(prt_day_scan_init(&scan, bars, n), 0, "random day accepted");
    got = prt_day_scan_next(&scan, &pat);

    for (i = 0; i < n; i++) {
        rc = prt_pattern_window(bars, n, i, v, &info);
        counts[-rc]++;
        if (rc != 0) {
            if (got && pat.end_idx == i) {
                extra++;
            }
            continue;
        }
        if (!got || pat.end_idx != i) {
            missing++;
            continue;
        }
        prt_pattern_trajectory(bars, n, i, traj);
        if (memcmp(pat.vec, v, sizeof(v)) != 0
            || memcmp(pat.traj, traj, sizeof(traj)) != 0
            || memcmp(&pat.info, &info, sizeof(info)) != 0
            || pat.minute != bars[i].minute)
        {
            mismatches++;
        }
        got = prt_day_scan_next(&scan, &pat);
    }
    ok(counts[0] > 500 && counts[1] > 30 && counts[2] > 0 && counts[3] > 0,
       "random day has valid (%zu), short (%zu), flat (%zu) and bad-price "
       "(%zu) windows", counts[0], counts[1], counts[2], counts[3]);
    is_int(mismatches, 0, "day scan equals prt_pattern_window bit for bit");
    is_int(missing + extra, 0, "day scan emits exactly the valid windows");
    is_int(got, 0, "day scan ends after the last bar");
    ok(scan.n_emitted == counts[0] && scan.n_short == counts[1]
       && scan.n_flat == counts[2] && scan.n_price == counts[3],
       "day scan counts skipped windows by reason");

    bars[10].minute = bars[9].minute;
    is_int(prt_day_scan_init(&scan, bars, n), PRT_PATTERN_EARG,
           "duplicate minute rejected");
    bars[10].minute = bars[9].minute + 1;
    bars[0].minute = PRT_MINUTE_FIRST - 1;
    is_int(prt_day_scan_init(&scan, bars, n), PRT_PATTERN_EARG,
           "bar before 04:00 rejected");
    is_int(prt_day_scan_init(&scan, bars, 0), 0, "empty day accepted");
    is_int(prt_day_scan_next(&scan, &pat), 0, "empty day emits nothing");
}

int
main(void)
{
    test_horizons();
    test_contiguity();
    test_flat_and_bad();
    test_features();
    test_close_at();
    test_trajectory_gaps();
    test_trajectory_end_of_day();
    test_day_scan();
    return done_testing();
}
