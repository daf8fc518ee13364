#include <math.h>

#include "stats/stats.h"

double
prt_kish_n_eff(double sum_w, double sum_w2)
{
    return sum_w2 > 0.0 ? sum_w * sum_w / sum_w2 : 0.0;
}

/*
 * centre = (p + z^2/2n) / (1 + z^2/n),
 * half   = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2).
 * Clamped to [0, 1] against rounding at p = 0 or 1.
 */
prt_interval_t
prt_wilson(double p, double n, double z)
{
    prt_interval_t  ci = { 0.0, 1.0 };
    double          z2 = z * z, denom, centre, half;

    if (!(n > 0.0) || !isfinite(p)) {
        return ci;
    }
    p = p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
    denom = 1.0 + z2 / n;
    centre = (p + z2 / (2.0 * n)) / denom;
    half = z / denom * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
    ci.lo = centre - half > 0.0 ? centre - half : 0.0;
    ci.hi = centre + half < 1.0 ? centre + half : 1.0;
    return ci;
}
