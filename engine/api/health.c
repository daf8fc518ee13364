#include <stdio.h>
#include <unistd.h>

#include "api/api.h"
#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "core/version.h"

static void
engine_json(prt_engine_t *e, prt_json_t *j)
{
    uint64_t  now = prt_wall_ms();
    char      epoch[17];

    snprintf(epoch, sizeof(epoch), "%016llx",
             (unsigned long long) prt_server_epoch(e->server));

    prt_json_key(j, "engine");
    prt_json_open(j);
    prt_json_kint(j, "pid", getpid());
    prt_json_kstr(j, "version", PRT_ENGINE_VERSION);
    prt_json_kstr(j, "epoch", epoch);
    prt_json_ktime(j, "started_at", (int64_t) e->started_at_ms);
    prt_json_kuint(j, "uptime_s", (now - e->started_at_ms) / 1000);
    prt_json_close(j);
}

static void
market_json(prt_engine_t *e, prt_json_t *j)
{
    int64_t             now = prt_clock_now_ms(&e->clock);
    prt_market_state_t  ms;

    prt_market_state(now / 1000, &ms);
    prt_json_key(j, "market");
    prt_json_open(j);
    prt_json_kstr(j, "clock", prt_clock_mode_name(&e->clock));
    prt_json_ktime(j, "now", now);
    prt_json_kstr(j, "session", prt_session_name(ms.session));
    prt_json_kstr(j, "reason", ms.reason);
    prt_json_close(j);
}

static void
bars_json(prt_engine_t *e, prt_json_t *j)
{
    prt_bs_stats_t  st;

    prt_json_key(j, "bars");
    if (prt_barstore_stats(e->bars, &st) != 0) {
        prt_json_null(j);
        return;
    }
    prt_json_open(j);
    prt_json_kuint(j, "tickers", st.tickers);
    prt_json_kuint(j, "days", st.days);
    prt_json_kuint(j, "bars", st.bars);
    prt_json_kuint(j, "map_bytes", st.kv.map_size);
    prt_json_kuint(j, "map_max_bytes", st.kv.map_max);
    prt_json_kuint(j, "used_bytes", st.kv.used_bytes);
    prt_json_close(j);
}

/* how far the feed is behind the clock: the newest bar's end vs now */
static void
feed_json(prt_engine_t *e, prt_json_t *j)
{
    prt_json_key(j, "feed");
    prt_json_open(j);
    prt_json_kuint(j, "bars_ingested", e->bars_ingested);
    if (e->clock.mode == PRT_CLOCK_FEED && e->clock.feed_ms) {
        prt_json_ktime(j, "market_time", e->clock.feed_ms);
    }
    prt_json_close(j);
}

static void
store_json(prt_engine_t *e, prt_json_t *j)
{
    prt_store_stats_t  st;

    prt_json_key(j, "store");
    if (prt_store_stats(e->store, &st) != 0) {
        prt_json_null(j);
        return;
    }
    prt_json_open(j);
    prt_json_kstr(j, "backend", st.lmdb ? "lmdb" : "postgresql");
    prt_json_kuint(j, "jobs", st.jobs);
    prt_json_kuint(j, "predictions", st.predictions);
    prt_json_kuint(j, "pending", st.pending);
    prt_json_kuint(j, "failures", st.failures);
    if (st.lmdb) {                    /* PostgreSQL has no map */
        prt_json_kuint(j, "map_bytes", st.kv.map_size);
        prt_json_kuint(j, "map_max_bytes", st.kv.map_max);
        prt_json_kuint(j, "used_bytes", st.kv.used_bytes);
    }
    prt_json_close(j);
}

void
prt_api_health(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    prt_json_t  j;

    if (prt_json_init(&j) != 0) {
        return;
    }
    prt_json_open(&j);
    prt_json_kstr(&j, "status", "ok");
    engine_json(e, &j);
    prt_json_key(&j, "index");
    if (e->index) {
        prt_api_index_json(e->index, &j);
    } else {
        prt_json_null(&j);
    }
    market_json(e, &j);
    bars_json(e, &j);
    store_json(e, &j);
    prt_json_key(&j, "jobs");
    prt_jobs_stats_json(e->jobs, &j);
    prt_json_key(&j, "events");
    prt_events_stats_json(e->events, &j);
    prt_json_key(&j, "relay");
    if (e->relay) {
        prt_relay_stats_json(e->relay, &j);
    } else {
        prt_json_null(&j);
    }
    prt_json_key(&j, "verification");
    prt_verifier_stats_json(e->verifier, &j);
    feed_json(e, &j);
    prt_json_key(&j, "ipc");
    prt_server_stats_json(e->server, &j);
    prt_json_close(&j);

    prt_api_reply(e, to, 200, &j);
    prt_json_free(&j);
}
