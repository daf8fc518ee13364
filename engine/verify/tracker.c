#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "core/loop.h"
#include "data/symtab.h"
#include "events/events.h"
#include "forecast/forecast.h"
#include "jobs/render.h"
#include "verify/tracker.h"

typedef struct {
    uint64_t  id;
    uint8_t   job[PRT_JOB_UUID_LEN];
    uint8_t   direction;
    double    price_at_scan;
    int64_t   due_ms;
} open_pred_t;

typedef struct {
    open_pred_t  *v;
    size_t        n, cap;
} open_list_t;

struct prt_tracker_s {
    prt_events_t   *events;
    prt_clock_t    *clock;            /* what is still open at a load */
    prt_json_t      json;             /* reused for every event */
    prt_symtab_t    symbols;          /* symbol -> index into lists */
    open_list_t    *lists;
    size_t          nlists;
    size_t          open;
};

prt_tracker_t *
prt_tracker_new(prt_events_t *events, prt_clock_t *clock)
{
    prt_tracker_t  *t = calloc(1, sizeof(*t));

    if (t == NULL || prt_symtab_init(&t->symbols, 1024) != 0) {
        free(t);
        return NULL;
    }
    if (prt_json_init(&t->json) != 0) {
        prt_symtab_free(&t->symbols);
        free(t);
        return NULL;
    }
    t->events = events;
    t->clock = clock;
    return t;
}

void
prt_tracker_free(prt_tracker_t *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nlists; i++) {
        free(t->lists[i].v);
    }
    free(t->lists);
    prt_symtab_free(&t->symbols);
    prt_json_free(&t->json);
    free(t);
}

static open_list_t *
list_of(prt_tracker_t *t, const char *symbol, int create)
{
    uint32_t   id = create ? prt_symtab_add(&t->symbols, symbol)
                           : prt_symtab_find(&t->symbols, symbol);
    void      *p;

    if (id == PRT_SYMTAB_NONE) {
        return NULL;
    }
    if (id >= t->nlists) {
        p = realloc(t->lists, (id + 1) * sizeof(*t->lists));
        if (p == NULL) {
            return NULL;
        }
        t->lists = p;
        memset(t->lists + t->nlists, 0, (id + 1 - t->nlists) * sizeof(*t->lists));
        t->nlists = id + 1;
    }
    return &t->lists[id];
}

void
prt_tracker_add(prt_tracker_t *t, const prt_pred_rec_t *preds, size_t n)
{
    open_list_t  *l;
    open_pred_t  *o;
    void         *p;

    for (size_t i = 0; i < n; i++) {
        l = list_of(t, preds[i].symbol, 1);
        if (l == NULL) {
            continue;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 8;
            p = realloc(l->v, l->cap * sizeof(*l->v));
            if (p == NULL) {
                continue;
            }
            l->v = p;
        }
        o = &l->v[l->n++];
        o->id = preds[i].id;
        memcpy(o->job, preds[i].job, PRT_JOB_UUID_LEN);
        o->direction = preds[i].direction;
        o->price_at_scan = preds[i].price_at_scan;
        o->due_ms = preds[i].due_ms;
        t->open++;
    }
}

typedef struct {
    prt_tracker_t  *t;
    prt_store_t    *store;
    int64_t         now_ms;
    size_t          due;
} load_t;

static int
load_one(const prt_pred_rec_t *p, void *arg)
{
    load_t  *l = arg;

    if (p->due_ms > l->now_ms) {
        prt_tracker_add(l->t, p, 1);
    } else {
        l->due++;
    }
    return 0;
}

static int
load_txn(MDB_txn *txn, void *arg)
{
    load_t  *l = arg;

    return prt_store_pending_own(l->store, txn, load_one, l);
}

/*
 * The open predictions live only here and in the store: without this a
 * restarted engine would verify them but never move their prices. Those
 * whose horizon the clock has passed are left to the verifier (a feed
 * clock starts at 0: all of them are open then, and the first bar of a
 * symbol drops the ones its time has passed, as for live ones).
 */
int
prt_tracker_load(prt_tracker_t *t, prt_store_t *store, size_t *due)
{
    load_t  l = { t, store, prt_clock_now_ms(t->clock), 0 };
    int     rc = prt_store_read(store, load_txn, &l);

    *due = l.due;
    return rc;
}


/* One price_update, rendered once, on the job's stream and the prices
 * channel. */
static void
price_event(prt_tracker_t *t, const open_pred_t *o, const char *symbol,
    double price, int64_t at_ms)
{
    prt_price_subject_t  s = { o->id, symbol, o->direction, o->price_at_scan };
    int64_t              left = (o->due_ms - at_ms + 59999) / 60000;
    const char          *body;
    size_t               len;

    prt_json_reset(&t->json);
    prt_render_price_update(&t->json, &s, price, at_ms, left > 0 ? left : 1);
    body = prt_json_body(&t->json, &len);
    if (prt_json_failed(&t->json) || len < 2) {
        return;
    }
    /* the tail: the object without its opening brace */
    prt_events_publish_tail(t->events, PRT_STREAM_JOB,
                            PRT_EVENT_PRICE_UPDATE, "price_update", o->job,
                            body + 1, len - 1);
    prt_events_publish_tail(t->events, PRT_STREAM_PRICES,
                            PRT_EVENT_PRICE_UPDATE, "price_update", o->job,
                            body + 1, len - 1);
}

void
prt_tracker_price(prt_tracker_t *t, const char *symbol, double price,
    int64_t bar_end_ms)
{
    open_list_t  *l = list_of(t, symbol, 0);
    size_t        keep = 0;

    if (l == NULL || !(price > 0) || !isfinite(price)) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        const open_pred_t  *o = &l->v[i];

        /* at the horizon the verification sends the final update */
        if (o->due_ms <= bar_end_ms) {
            t->open--;
            continue;
        }
        price_event(t, o, symbol, price, bar_end_ms);
        l->v[keep++] = *o;
    }
    l->n = keep;
}

size_t
prt_tracker_open(const prt_tracker_t *t)
{
    return t->open;
}
