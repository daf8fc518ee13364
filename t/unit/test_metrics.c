/*
 * The engine's metric text (engine/core/metrics.c): histogram buckets
 * (upper bounds inclusive, +Inf last), the cumulative _bucket lines with
 * _sum and _count, label escaping, and the sample and family lines, each
 * compared with text written out by hand from the exposition format 0.0.4.
 */
#include <math.h>
#include <string.h>

#include "tap.h"
#include "core/metrics.h"

static const double  bounds[] = { 0.1, 1, 10 };

static const char *
text(prt_text_t *t)
{
    return t->failed ? NULL : (t->buf ? t->buf : "");
}

static void
test_buckets(void)
{
    prt_hist_t  h = { bounds, 3, { 0 }, 0 };

    prt_hist_observe(&h, 0.05);     /* le 0.1 */
    prt_hist_observe(&h, 0.1);      /* le 0.1: bounds are inclusive */
    prt_hist_observe(&h, 0.5);      /* le 1 */
    prt_hist_observe(&h, 10);       /* le 10 */
    prt_hist_observe(&h, 11);       /* +Inf */
    prt_hist_observe(&h, NAN);      /* ignored */

    is_int(h.counts[0], 2, "two at or below 0.1");
    is_int(h.counts[1], 1, "one in (0.1, 1]");
    is_int(h.counts[2], 1, "one in (1, 10]");
    is_int(h.counts[3], 1, "one above the last bound");
    is_double(h.sum, 21.65, 1e-12, "sum of the observations, NaN left out");
}

static void
test_hist_text(void)
{
    prt_hist_t  h = { bounds, 3, { 0 }, 0 };
    prt_text_t  t;

    memset(&t, 0, sizeof(t));
    prt_hist_observe(&h, 0.5);
    prt_hist_observe(&h, 2);
    prt_hist_observe(&h, 3);
    prt_text_hist(&t, "x_seconds", NULL, &h);
    is_str(text(&t),
           "x_seconds_bucket{le=\"0.1\"} 0\n"
           "x_seconds_bucket{le=\"1\"} 1\n"
           "x_seconds_bucket{le=\"10\"} 3\n"
           "x_seconds_bucket{le=\"+Inf\"} 3\n"
           "x_seconds_sum 5.5\n"
           "x_seconds_count 3\n",
           "histogram without labels: cumulative buckets, sum, count");
    prt_text_free(&t);

    prt_text_hist(&t, "x_seconds", "route=\"/a\"", &h);
    is_str(text(&t),
           "x_seconds_bucket{route=\"/a\",le=\"0.1\"} 0\n"
           "x_seconds_bucket{route=\"/a\",le=\"1\"} 1\n"
           "x_seconds_bucket{route=\"/a\",le=\"10\"} 3\n"
           "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
           "x_seconds_sum{route=\"/a\"} 5.5\n"
           "x_seconds_count{route=\"/a\"} 3\n",
           "histogram with a label: le comes last");
    prt_text_free(&t);
}

static void
test_samples(void)
{
    prt_text_t  t;

    memset(&t, 0, sizeof(t));
    prt_text_family(&t, "a_total", "counter", "things done");
    prt_text_sample(&t, "a_total", NULL, 42);
    prt_text_sample(&t, "a_total", "kind=\"x\"", 0.011);
    prt_text_sample(&t, "b", "", 1796588748.578);
    prt_text_sample(&t, "c", NULL, INFINITY);
    prt_text_sample(&t, "d", NULL, NAN);
    is_str(text(&t),
           "# HELP a_total things done\n"
           "# TYPE a_total counter\n"
           "a_total 42\n"
           "a_total{kind=\"x\"} 0.011\n"
           "b 1796588748.578\n"
           "c +Inf\n"
           "d NaN\n",
           "family lines and values: integers plain, no binary noise");
    prt_text_free(&t);

    prt_text_label_value(&t, "a\"b\\c\nd");
    is_str(text(&t), "a\\\"b\\\\c\\nd", "label value escaping");
    prt_text_free(&t);
}

static void
test_growth(void)
{
    prt_text_t  t;
    size_t      i;
    int         all = 1;

    memset(&t, 0, sizeof(t));
    for (i = 0; i < 10000; i++) {
        prt_text_printf(&t, "m{i=\"%zu\"} %zu\n", i, i);
    }
    ok(!t.failed && t.len == strlen(t.buf), "10,000 lines: one string");
    for (i = 0; i < 10000 && all; i++) {
        char  want[64];

        snprintf(want, sizeof(want), "\nm{i=\"%zu\"} %zu\n", i, i);
        all = i == 0 || strstr(t.buf, want) != NULL;
    }
    ok(all, "every line kept across reallocations");
    prt_text_free(&t);
}

int
main(void)
{
    test_buckets();
    test_hist_text();
    test_samples();
    test_growth();
    return done_testing();
}
