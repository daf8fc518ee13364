/*
 * GET /metrics, the engine's part: its counters, gauges and histograms as
 * Prometheus text (exposition format 0.0.4). The module puts its own
 * per-worker counters and pattern_rt_engine_up after it (docs/metrics.md).
 * Everything read here is the loop thread's, like the handler itself.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/version.h"

static void
gauge(prt_text_t *t, const char *name, const char *help, double v)
{
    prt_text_family(t, name, "gauge", help);
    prt_text_sample(t, name, NULL, v);
}

static void
counter(prt_text_t *t, const char *name, const char *help, double v)
{
    prt_text_family(t, name, "counter", help);
    prt_text_sample(t, name, NULL, v);
}

static void
engine_metrics(prt_engine_t *e, prt_text_t *t)
{
    prt_text_family(t, "pattern_rt_engine_info", "gauge",
                    "the engine's version and run (epoch); always 1");
    prt_text_printf(t, "pattern_rt_engine_info{version=\"%s\","
                    "epoch=\"%016llx\"} 1\n", PRT_ENGINE_VERSION,
                    (unsigned long long) prt_server_epoch(e->server));
    gauge(t, "pattern_rt_engine_start_time_seconds",
          "when the engine started, unix seconds",
          (double) e->started_at_ms / 1e3);
}

static void
jobs_metrics(prt_engine_t *e, prt_text_t *t)
{
    prt_jobs_metrics(e->jobs, t);
    prt_text_family(t, "pattern_rt_jobs_finished_total", "counter",
                    "scan jobs ended since the engine started, by status "
                    "(failed: running when the engine last stopped)");
    prt_text_sample(t, "pattern_rt_jobs_finished_total",
                    "status=\"completed\"", (double) prt_metrics.jobs_completed);
    prt_text_sample(t, "pattern_rt_jobs_finished_total",
                    "status=\"cancelled\"", (double) prt_metrics.jobs_cancelled);
    prt_text_sample(t, "pattern_rt_jobs_finished_total",
                    "status=\"failed\"", (double) prt_metrics.jobs_failed);
    counter(t, "pattern_rt_predictions_total",
            "predictions committed by scans", (double) prt_metrics.predictions);
    counter(t, "pattern_rt_symbol_failures_total",
            "symbols a scan could not predict (failures committed)",
            (double) prt_metrics.symbol_failures);
    prt_verifier_metrics(e->verifier, t);
}

/* one LMDB environment's size and use */
static void
kv_metrics(prt_text_t *t, const char *store, const prt_kv_stats_t *kv)
{
    char  l[32];

    snprintf(l, sizeof(l), "store=\"%s\"", store);
    prt_text_sample(t, "pattern_rt_lmdb_map_bytes", l, (double) kv->map_size);
    prt_text_sample(t, "pattern_rt_lmdb_map_max_bytes", l,
                    (double) kv->map_max);
    prt_text_sample(t, "pattern_rt_lmdb_used_bytes", l,
                    (double) kv->used_bytes);
}

static void
store_metrics(prt_engine_t *e, prt_text_t *t)
{
    prt_store_stats_t  st;
    prt_bs_stats_t     bs;
    int                have_st, have_bs;

    have_st = prt_store_stats(e->store, &st) == 0;
    have_bs = prt_barstore_stats(e->bars, &bs) == 0;

    if (have_st) {
        gauge(t, "pattern_rt_predictions_pending",
              "predictions waiting for verification", (double) st.pending);
        prt_text_family(t, "pattern_rt_store_records", "gauge",
                        "records in the job store, by kind");
        prt_text_sample(t, "pattern_rt_store_records", "kind=\"jobs\"",
                        (double) st.jobs);
        prt_text_sample(t, "pattern_rt_store_records",
                        "kind=\"predictions\"", (double) st.predictions);
        prt_text_sample(t, "pattern_rt_store_records", "kind=\"failures\"",
                        (double) st.failures);
    }
    if (have_bs) {
        prt_text_family(t, "pattern_rt_bar_store_records", "gauge",
                        "what the bar store holds, by kind");
        prt_text_sample(t, "pattern_rt_bar_store_records", "kind=\"bars\"",
                        (double) bs.bars);
        prt_text_sample(t, "pattern_rt_bar_store_records",
                        "kind=\"tickers\"", (double) bs.tickers);
        prt_text_sample(t, "pattern_rt_bar_store_records", "kind=\"days\"",
                        (double) bs.days);
    }

    prt_text_family(t, "pattern_rt_lmdb_map_bytes", "gauge",
                    "LMDB map size now, by store");
    prt_text_family(t, "pattern_rt_lmdb_map_max_bytes", "gauge",
                    "largest LMDB map size allowed, by store");
    prt_text_family(t, "pattern_rt_lmdb_used_bytes", "gauge",
                    "LMDB pages in use, bytes, by store");
    if (have_st && st.lmdb) {          /* PostgreSQL has no map */
        kv_metrics(t, "store", &st.kv);
    }
    if (have_bs) {
        kv_metrics(t, "bars", &bs.kv);
    }
}

static void
index_metrics(prt_engine_t *e, prt_text_t *t)
{
    const prt_index_t  *ix = e->index;
    const char         *gen;

    gauge(t, "pattern_rt_index_loaded", "1 when an index is loaded",
          ix ? 1 : 0);
    if (ix == NULL) {
        return;
    }
    gen = strrchr(ix->dir, '/');
    gen = gen ? gen + 1 : ix->dir;

    prt_text_family(t, "pattern_rt_index_info", "gauge",
                    "the loaded index generation; always 1");
    prt_text_printf(t, "pattern_rt_index_info{generation=\"");
    prt_text_label_value(t, gen);
    prt_text_printf(t, "\"} 1\n");
    gauge(t, "pattern_rt_index_patterns", "patterns in the loaded index",
          (double) ix->n);
    gauge(t, "pattern_rt_index_bytes", "size of the loaded index's files",
          (double) ix->bytes);
    gauge(t, "pattern_rt_index_built_time_seconds",
          "when the loaded generation was built, unix seconds",
          (double) ix->manifest.built_at_ms / 1e3);
    gauge(t, "pattern_rt_index_loaded_time_seconds",
          "when the loaded generation was loaded, unix seconds",
          (double) ix->loaded_at_ms / 1e3);
}

static void
feed_metrics(prt_engine_t *e, prt_text_t *t)
{
    int64_t  now = prt_clock_now_ms(&e->clock);
    int64_t  newest = prt_metrics.newest_bar_end_ms;

    counter(t, "pattern_rt_bars_ingested_total", "bars accepted by POST /bars",
            (double) e->bars_ingested);
    gauge(t, "pattern_rt_clock_time_seconds",
          "the engine clock (market time), unix seconds", (double) now / 1e3);
    if (newest) {
        gauge(t, "pattern_rt_feed_newest_bar_end_time_seconds",
              "end of the newest bar ingested, unix seconds",
              (double) newest / 1e3);
        gauge(t, "pattern_rt_feed_lag_seconds",
              "engine clock minus the end of the newest bar ingested",
              (double) (now - newest) / 1e3);
    }
}

static void
histograms(prt_text_t *t)
{
    prt_text_family(t, "pattern_rt_job_scan_seconds", "histogram",
                    "scan jobs' wall time from start to finish");
    prt_text_hist(t, "pattern_rt_job_scan_seconds", NULL,
                  &prt_metrics.job_scan);
    prt_text_family(t, "pattern_rt_chunk_search_seconds", "histogram",
                    "one chunk's batched FAISS search");
    prt_text_hist(t, "pattern_rt_chunk_search_seconds", NULL,
                  &prt_metrics.chunk_search);
    prt_text_family(t, "pattern_rt_verification_pass_seconds", "histogram",
                    "one verification pass (select, price, commit)");
    prt_text_hist(t, "pattern_rt_verification_pass_seconds", NULL,
                  &prt_metrics.verify_pass);
}

void
prt_api_metrics(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    prt_text_t  t;

    (void) payload;
    (void) len;
    memset(&t, 0, sizeof(t));

    engine_metrics(e, &t);
    jobs_metrics(e, &t);
    store_metrics(e, &t);
    index_metrics(e, &t);
    feed_metrics(e, &t);
    histograms(&t);
    prt_server_metrics(e->server, &t);

    if (t.failed) {
        prt_error("rendering the metrics failed: out of memory");
        prt_api_error(e, to, PRT_E_INTERNAL, "metrics rendering failed",
                      NULL);
    } else {
        (void) prt_server_respond(e->server, to, 200, t.buf, t.len);
    }
    prt_text_free(&t);
}
