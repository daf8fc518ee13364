#include <string.h>

#include "clock/clock.h"
#include "pattern_rt_nytime.h"
#include "core/loop.h"

int
prt_clock_init(prt_clock_t *c, const char *spec)
{
    memset(c, 0, sizeof(*c));
    if (strcmp(spec, "real") == 0) {
        c->mode = PRT_CLOCK_REAL;
        return 0;
    }
    if (strcmp(spec, "feed") == 0) {
        c->mode = PRT_CLOCK_FEED;
        return 0;
    }
    if (prt_parse_iso(spec, strlen(spec), &c->fixed_ms) == 0) {
        c->mode = PRT_CLOCK_FIXED;
        return 0;
    }
    return -1;
}

int64_t
prt_clock_now_ms(const prt_clock_t *c)
{
    switch (c->mode) {
    case PRT_CLOCK_FIXED:
        return c->fixed_ms;
    case PRT_CLOCK_FEED:
        return c->feed_ms;
    default:
        return (int64_t) prt_wall_ms();
    }
}

/* The feed clock only moves forward: a late or corrected bar for an
 * earlier minute does not turn market time back. */
void
prt_clock_feed(prt_clock_t *c, int64_t bar_end_ms)
{
    if (bar_end_ms > c->feed_ms) {
        c->feed_ms = bar_end_ms;
    }
}

const char *
prt_clock_mode_name(const prt_clock_t *c)
{
    static const char *const names[] = { "real", "fixed", "feed" };

    return names[c->mode];
}
