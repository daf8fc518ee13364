// The exact binomial tail through Boost.Math's binomial distribution (its
// regularized incomplete beta), so the track record's p-values come from a
// well-kept library rather than a hand-written series. Errors are values:
// the policy turns Boost's exceptions into NaN results, and anything else
// thrown is caught here; nothing escapes into C.
#include <cmath>

#include <boost/math/distributions/binomial.hpp>

extern "C" {
#include "stats/stats.h"
}

namespace {

using quiet_policy = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::ignore_error>,
    boost::math::policies::overflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::underflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::evaluation_error<
        boost::math::policies::ignore_error>>;

}  // namespace

extern "C" double
prt_binomial_upper_tail(unsigned long k, unsigned long n, double p)
{
    if (!(p >= 0.0 && p <= 1.0)) {
        return NAN;
    }
    if (k == 0) {
        return 1.0;
    }
    if (k > n) {
        return 0.0;
    }
    try {
        boost::math::binomial_distribution<double, quiet_policy> d(
            static_cast<double>(n), p);

        // P(X >= k) = P(X > k - 1)
        double q = boost::math::cdf(boost::math::complement(
            d, static_cast<double>(k - 1)));
        return q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
    } catch (...) {
        return NAN;
    }
}
