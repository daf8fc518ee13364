/*
 * The index endpoints (SPEC 5.2): stats, available dates, and reload, which
 * loads the current generation on a worker thread and swaps it in on the
 * loop thread. Searches hold their own reference, so the old index lives
 * until the last one using it finishes; a broken index is refused with
 * E_INDEX and the old one stays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "core/path.h"
#include "pattern_rt_msg.h"

static void
json_day(prt_json_t *j, const char *key, int64_t day)
{
    char  buf[16];

    prt_format_date(day, buf, sizeof(buf));
    if (key) {
        prt_json_kstr(j, key, buf);
    } else {
        prt_json_str(j, buf);
    }
}

/* The fields /health and /api/index/stats share. */
void
prt_api_index_json(const prt_index_t *ix, prt_json_t *j)
{
    const prt_manifest_t  *m = &ix->manifest;
    const char            *gen = strrchr(ix->dir, '/');

    prt_json_open(j);
    prt_json_kuint(j, "n_vectors", ix->n);
    prt_json_kint(j, "dim", m->dim);
    prt_json_kstr(j, "index_type", m->factory);
    prt_json_kuint(j, "nlist", m->nlist);
    prt_json_kuint(j, "nprobe", ix->nprobe);
    prt_json_kuint(j, "refine", ix->refine);
    prt_json_knum(j, "recall_at_40", m->recall);
    prt_json_kuint(j, "tickers", m->tickers);
    prt_json_kuint(j, "days", m->days);
    json_day(j, "first_day", m->first_day);
    json_day(j, "last_day", m->last_day);
    prt_json_ktime(j, "built_at", m->built_at_ms);
    prt_json_ktime(j, "loaded_at", ix->loaded_at_ms);
    prt_json_kstr(j, "generation", gen ? gen + 1 : ix->dir);
    prt_json_kuint(j, "file_bytes", ix->bytes);
    prt_json_knum(j, "min_window_volume", m->min_window_volume);
    prt_json_close(j);
}

void
prt_api_index_stats(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    prt_json_t  j;

    if (e->index == NULL) {
        prt_api_error(e, to, PRT_E_INDEX, "no index is loaded", NULL);
        return;
    }
    if (prt_json_init(&j) != 0) {
        return;
    }
    prt_api_index_json(e->index, &j);
    prt_api_reply(e, to, 200, &j);
    prt_json_free(&j);
}


/* ---- available dates -------------------------------------------------- */

#define MAX_DATES  20000

typedef struct {
    prt_barstore_t  *bs;
    prt_bs_date_t   *dates;
    int              n;
} dates_ctx_t;

static int
dates_in_txn(MDB_txn *txn, void *arg)
{
    dates_ctx_t  *c = arg;

    c->n = prt_barstore_dates(c->bs, txn, 0, PRT_BS_DAY_MAX, c->dates,
                              MAX_DATES);
    return c->n < 0 ? c->n : 0;
}

/* Days a historical search can use: those with bars in the store. */
void
prt_api_available_dates(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    dates_ctx_t  c = { e->bars, malloc(MAX_DATES * sizeof(prt_bs_date_t)), 0 };
    prt_json_t   j;

    if (c.dates == NULL || prt_json_init(&j) != 0) {
        free(c.dates);
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return;
    }
    if (prt_barstore_read(e->bars, dates_in_txn, &c) != 0) {
        prt_error("available dates: %s", prt_barstore_errmsg());
        prt_api_error(e, to, PRT_E_INTERNAL, "bar store read failed", NULL);
        free(c.dates);
        prt_json_free(&j);
        return;
    }

    prt_json_open(&j);
    prt_json_key(&j, "dates");
    prt_json_array(&j);
    for (int i = 0; i < c.n; i++) {
        json_day(&j, NULL, c.dates[i].day);
    }
    prt_json_array_end(&j);
    if (c.n) {
        json_day(&j, "last", c.dates[c.n - 1].day);
    } else {
        prt_json_knull(&j, "last");
    }
    prt_json_close(&j);
    prt_api_reply(e, to, 200, &j);
    prt_json_free(&j);
    free(c.dates);
}


/* ---- reload ------------------------------------------------------------- */

typedef struct {
    prt_task_t      task;
    prt_engine_t   *e;
    prt_reply_t     to;
    prt_index_t    *loaded;
    int             missing;          /* no `current` generation at all */
    char            err[512];
} reload_task_t;

static void
reload_run(prt_task_t *task)
{
    reload_task_t  *t = (reload_task_t *) task;

    char  current[PATH_MAX];

    if (prt_index_open(t->e->index_dir, t->e->conf.nprobe, &t->loaded,
                       t->err, sizeof(t->err)) != 0)
    {
        t->loaded = NULL;
        t->missing = prt_fmt(current, sizeof(current), "%s/current",
                             t->e->index_dir) == 0
                     && access(current, F_OK) != 0;
    }
}

static void
reload_done(prt_task_t *task)
{
    reload_task_t  *t = (reload_task_t *) task;
    prt_engine_t   *e = t->e;
    prt_index_t    *old = e->index;
    prt_json_t      j;

    e->reloading = 0;
    if (t->loaded == NULL) {
        /* the details (paths, FAISS's own words) are for the operator */
        prt_error("index reload refused, the loaded index stays: %s",
                  t->err);
        prt_api_error(e, &t->to, PRT_E_INDEX, t->missing
                      ? "no index has been built: run build-index, then "
                        "reload"
                      : "the index on disk is missing or broken; the loaded "
                        "index stays (details in the engine log)", NULL);
        free(t);
        return;
    }

    e->index = t->loaded;
    prt_info("index reloaded: %s, %llu patterns (was %llu)", e->index->dir,
             (unsigned long long) e->index->n,
             (unsigned long long) (old ? old->n : 0));

    if (prt_json_init(&j) == 0) {
        prt_json_open(&j);
        prt_json_kstr(&j, "status", "reloaded");
        prt_json_key(&j, "index");
        prt_api_index_json(e->index, &j);
        prt_json_kuint(&j, "previous_n_vectors", old ? old->n : 0);
        prt_json_close(&j);
        prt_api_reply(e, &t->to, 200, &j);
        prt_json_free(&j);
    }
    prt_index_unref(old);          /* freed when its last search ends */
    free(t);
}

void
prt_api_index_reload(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len)
{
    reload_task_t  *t;

    if (e->reloading) {
        prt_api_error(e, to, PRT_E_BUSY, "a reload is already running", NULL);
        return;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        prt_api_error(e, to, PRT_E_INTERNAL, "out of memory", NULL);
        return;
    }
    t->e = e;
    t->to = *to;
    t->task.run = reload_run;
    t->task.done = reload_done;
    e->reloading = 1;
    prt_workq_submit(e->workq, &t->task, PRT_LANE_INTERACTIVE);
}
