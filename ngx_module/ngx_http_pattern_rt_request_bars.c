/*
 * Request parser of POST /api/pattern-realtime/bars: the feed's batch of
 * Polygon AM events, read as a stream with yajl's event parser. Each bad
 * event is rejected with its index and reason and the rest kept. See
 * ngx_http_pattern_rt_request.h and docs/api-validation.md.
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "pattern_rt_nytime.h"
#include "ngx_http_pattern_rt_request_fields.h"


/* ---- POST /api/pattern-realtime/bars ------------------------------------- */


enum {
    BA_EV, BA_SYM, BA_V, BA_O, BA_C, BA_H, BA_L, BA_S, BA_E,
    BA_AV, BA_OP, BA_VW, BA_A, BA_Z, BA_OTC,
    BA_COUNT
};

#define BAR_NUMBER(n)   { .name = n, .kind = FK_NUM, .required = 1,         \
                          .dlo = -INFINITY, .dhi = INFINITY }
#define BAR_INTEGER(n)  { .name = n, .kind = FK_INT, .required = 1,         \
                          .ilo = INT64_MIN, .ihi = INT64_MAX }
#define BAR_IGNORED(n)  { .name = n, .kind = FK_IGNORED }

/* Polygon's AM event; av, op, vw, a, z, otc are accepted and ignored */
static const field_spec_t  bar_fields[BA_COUNT] = {
    [BA_EV] = { .name = "ev", .kind = FK_STRING, .required = 1 },
    [BA_SYM] = { .name = "sym", .kind = FK_STRING, .required = 1 },
    [BA_V] = BAR_NUMBER("v"),
    [BA_O] = BAR_NUMBER("o"),
    [BA_C] = BAR_NUMBER("c"),
    [BA_H] = BAR_NUMBER("h"),
    [BA_L] = BAR_NUMBER("l"),
    [BA_S] = BAR_INTEGER("s"),
    [BA_E] = BAR_INTEGER("e"),
    [BA_AV] = BAR_IGNORED("av"),
    [BA_OP] = BAR_IGNORED("op"),
    [BA_VW] = BAR_IGNORED("vw"),
    [BA_A] = BAR_IGNORED("a"),
    [BA_Z] = BAR_IGNORED("z"),
    [BA_OTC] = BAR_IGNORED("otc"),
};


__attribute__((format(printf, 2, 3)))
static int
bar_reject(char reason[PRT_REASON_SIZE], const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(reason, PRT_REASON_SIZE, fmt, ap);
    va_end(ap);

    return -1;
}


/* the OHLC/volume rules, once every field has the right type */
static int
bar_values_check(const prt_bar_event_t *b, char reason[PRT_REASON_SIZE])
{
    if (!(b->open > 0) || !(b->high > 0) || !(b->low > 0)
        || !(b->close > 0))
    {
        return bar_reject(reason, "prices must be > 0 (o %g, h %g, l %g, "
                          "c %g)", b->open, b->high, b->low, b->close);
    }

    if (b->volume < 0) {
        return bar_reject(reason, "v must not be negative (got %g)",
                          b->volume);
    }

    if (b->high < b->open || b->high < b->close || b->high < b->low) {
        return bar_reject(reason, "h %g is below o, c or l", b->high);
    }

    if (b->low > b->open || b->low > b->close) {
        return bar_reject(reason, "l %g is above o or c", b->low);
    }

    if (b->start_ms % MINUTE_MS != 0) {
        return bar_reject(reason, "s must be a whole minute in ms (got "
                          "%lld)", (long long) b->start_ms);
    }

    if (b->start_ms > INT64_MAX - MINUTE_MS
        || b->end_ms != b->start_ms + MINUTE_MS)
    {
        return bar_reject(reason, "e must be s + 60000 (s %lld, e %lld)",
                          (long long) b->start_ms, (long long) b->end_ms);
    }

    /* the bar store keys bars by their New York date; s is whole minutes */
    if (!prt_req_day_in_range(prt_ny_day_of_utc(b->start_ms / 1000))) {
        return bar_reject(reason, "s must fall on a date from "
                          PRT_DATES_TEXT " ET (got %lld)",
                          (long long) b->start_ms);
    }

    return 0;
}


/*
 * The batch is read with yajl's event parser, not its tree: a feed posts
 * thousands of events a minute, and a tree costs a dozen allocations per
 * event (SPEC 8's ingest target). The reader keeps what json_read_object
 * keeps for one object and applies the same rules in the same order:
 * unknown, duplicate and mistyped fields in key order, then the required
 * ones, then ev, sym and the values.
 */

#define BAR_NUMBER_MAX  127     /* longer number text is refused */

typedef enum {
    BV_NULL, BV_BOOL, BV_NUMBER, BV_STRING, BV_OBJECT, BV_ARRAY
} bar_value_type_t;

typedef struct {
    prt_parser_t        *parser;
    prt_parse_error_t   *err;           /* what rejects the whole body */
    uint32_t             max_events;
    size_t               elements;      /* batch elements started */
    unsigned             depth;         /* 1: in the batch, 2: in an event */
    unsigned             in_event:1;
    unsigned             rejected:1;    /* the event has its reason */
    unsigned             failed:1;      /* the body is refused */
    size_t               field;         /* of the next value */

    /* the event being read */
    uint8_t              seen[BA_COUNT];
    uint8_t              present[BA_COUNT];
    prt_bar_event_t      event;
    char                 ev[SHOW_SIZE];
    size_t               ev_len;
    char                 sym[SHOW_SIZE];
    size_t               sym_len;
    char                 reason[PRT_REASON_SIZE];

    prt_bar_event_t     *events;
    size_t               nevents, events_cap;
    prt_bar_reject_t    *rejects;
    size_t               nrejects, rejects_cap;
} bars_reader_t;


/* rc: the prt_req_fail() that set r->err; 0 stops yajl */
static int
bars_fail(bars_reader_t *r, int rc)
{
    r->failed = (rc != 0);
    return 0;
}


static int
bars_grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t   c;
    void    *nv;

    if (n < *cap) {
        return 0;
    }

    c = *cap ? *cap * 2 : 256;
    nv = realloc(*v, c * size);
    if (nv == NULL) {
        return -1;
    }

    *v = nv;
    *cap = c;
    return 0;
}


static int
bars_push_reject(bars_reader_t *r, const char *reason)
{
    prt_bar_reject_t  *rj;

    if (bars_grow((void **) &r->rejects, &r->rejects_cap, r->nrejects,
                  sizeof(*r->rejects)) != 0)
    {
        return bars_fail(r, prt_req_out_of_memory(r->err));
    }

    rj = &r->rejects[r->nrejects++];
    memset(rj, 0, sizeof(*rj));
    rj->index = (uint32_t) (r->elements - 1);
    snprintf(rj->reason, sizeof(rj->reason), "%s", reason);
    return 1;
}


static int
bars_push_event(bars_reader_t *r)
{
    if (bars_grow((void **) &r->events, &r->events_cap, r->nevents,
                  sizeof(*r->events)) != 0)
    {
        return bars_fail(r, prt_req_out_of_memory(r->err));
    }

    r->event.index = (uint32_t) (r->elements - 1);
    r->events[r->nevents++] = r->event;
    return 1;
}


/* A new element of the batch: 1 to read it, 0 past max_events, where
 * the rest is only counted for the message */
static int
bars_element(bars_reader_t *r)
{
    r->elements++;
    r->in_event = 0;
    r->rejected = 0;
    return r->elements <= r->max_events;
}


static int
bars_not_array(bars_reader_t *r)
{
    return bars_fail(r, bad_request(r->err, NULL, "request body must be a "
                                    "JSON array of Polygon AM events"));
}


__attribute__((format(printf, 2, 3)))
static void
bars_reject_event(bars_reader_t *r, const char *fmt, ...)
{
    va_list  ap;

    if (r->rejected) {
        return;                         /* the first reason stands */
    }

    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    r->rejected = 1;
}


/* what a value is, for "(got ...)" (describe_json without a tree) */
static const char *
bars_describe(bar_value_type_t type, const char *s, size_t len,
    char buf[SHOW_SIZE + 2])
{
    char  shown[SHOW_SIZE];

    switch (type) {
    case BV_STRING:
        snprintf(buf, SHOW_SIZE + 2, "\"%s\"", prt_req_show(shown, s, len));
        return buf;
    case BV_NUMBER:
    case BV_BOOL:
        return prt_req_show(buf, s, len);
    case BV_OBJECT:
        return "an object";
    case BV_ARRAY:
        return "an array";
    default:
        return "null";
    }
}


static int
bars_accept(bars_reader_t *r, const field_spec_t *f, bar_value_type_t type,
    const char *s, size_t len, field_value_t *v)
{
    char  text[BAR_NUMBER_MAX + 1], *copy;

    switch (f->kind) {

    case FK_INT:
        return type == BV_NUMBER ? prt_req_accept_int(f, s, len, v) : -1;

    case FK_NUM:
        if (type != BV_NUMBER || len > BAR_NUMBER_MAX) {
            return -1;
        }
        memcpy(text, s, len);
        text[len] = '\0';
        return prt_req_accept_number(f, text, v);

    case FK_STRING:
        if (type != BV_STRING) {
            return -1;
        }
        /* enough of it to check (symbols are short) or to show */
        copy = (f == &bar_fields[BA_EV]) ? r->ev : r->sym;
        memcpy(copy, s, len < SHOW_MAX ? len : SHOW_MAX);
        v->s = copy;
        v->len = len;
        return 0;

    default:
        return 0;                       /* FK_IGNORED */
    }
}


/* the value of the current field of an event */
static void
bars_field_value(bars_reader_t *r, bar_value_type_t type, const char *s,
    size_t len)
{
    char               shown[SHOW_SIZE + 2];
    field_value_t      v;
    prt_parse_error_t  e;
    const field_spec_t *f;

    if (r->rejected || type == BV_NULL) {
        return;                         /* null is the same as absent */
    }

    f = &bar_fields[r->field];
    if (bars_accept(r, f, type, s, len, &v) != 0) {
        prt_req_field_error(f, 0, bars_describe(type, s, len, shown), &e);
        bars_reject_event(r, "%s", e.message);
        return;
    }

    r->present[r->field] = 1;

    switch (r->field) {
    case BA_EV:  r->ev_len = v.len; break;
    case BA_SYM: r->sym_len = v.len; break;
    case BA_V:   r->event.volume = v.d; break;
    case BA_O:   r->event.open = v.d; break;
    case BA_C:   r->event.close = v.d; break;
    case BA_H:   r->event.high = v.d; break;
    case BA_L:   r->event.low = v.d; break;
    case BA_S:   r->event.start_ms = v.i; break;
    case BA_E:   r->event.end_ms = v.i; break;
    default:     break;
    }
}


/* a value where a batch element, a field value or nothing is expected */
static int
bars_value(bars_reader_t *r, bar_value_type_t type, const char *s,
    size_t len)
{
    switch (r->depth) {

    case 0:
        return bars_not_array(r);

    case 1:
        return bars_element(r)
               ? bars_push_reject(r, "event is not a JSON object") : 1;

    case 2:
        if (r->in_event) {
            bars_field_value(r, type, s, len);
        }
        return 1;

    default:
        return 1;                       /* inside a value: already judged */
    }
}


static void
bars_event_start(bars_reader_t *r)
{
    r->in_event = 1;
    memset(r->seen, 0, sizeof(r->seen));
    memset(r->present, 0, sizeof(r->present));
    memset(&r->event, 0, sizeof(r->event));
    r->ev_len = 0;
    r->sym_len = 0;
}


static int
bars_event_end(bars_reader_t *r)
{
    char    shown[SHOW_SIZE];
    size_t  j;

    r->in_event = 0;

    for (j = 0; j < BA_COUNT && !r->rejected; j++) {
        if (bar_fields[j].required && !r->present[j]) {
            bars_reject_event(r, "%s is required%s", bar_fields[j].name,
                              r->seen[j] ? " (got null)" : "");
        }
    }

    if (!r->rejected && (r->ev_len != 2 || memcmp(r->ev, "AM", 2) != 0)) {
        bars_reject_event(r, "ev must be \"AM\" (got \"%s\")",
                          prt_req_show(shown, r->ev, r->ev_len));
    }

    if (!r->rejected && !prt_req_symbol_valid(r->parser, r->sym, r->sym_len))
    {
        bars_reject_event(r, "sym \"%s\" is not a valid symbol",
                          prt_req_show(shown, r->sym, r->sym_len));
    }

    if (!r->rejected) {
        memcpy(r->event.symbol, r->sym, r->sym_len);
        if (bar_values_check(&r->event, r->reason) != 0) {
            r->rejected = 1;
        }
    }

    return r->rejected ? bars_push_reject(r, r->reason)
                       : bars_push_event(r);
}


/* ---- yajl's callbacks ---- */

static int
bars_on_null(void *ctx)
{
    return bars_value(ctx, BV_NULL, "null", 4);
}


static int
bars_on_boolean(void *ctx, int b)
{
    return bars_value(ctx, BV_BOOL, b ? "true" : "false", b ? 4 : 5);
}


static int
bars_on_number(void *ctx, const char *s, size_t len)
{
    return bars_value(ctx, BV_NUMBER, s, len);
}


static int
bars_on_string(void *ctx, const unsigned char *s, size_t len)
{
    return bars_value(ctx, BV_STRING, (const char *) s, len);
}


/* The same limit as every other body's (json_prescan): the event parser
 * would follow any depth, but nothing that deep is a batch of bars. */
static int
bars_too_deep(bars_reader_t *r)
{
    if (r->depth < PRT_REQ_JSON_MAX_DEPTH) {
        return 0;
    }

    (void) bars_fail(r, bad_request(r->err, NULL, "JSON nested deeper than "
                                    "%d levels", PRT_REQ_JSON_MAX_DEPTH));
    return 1;
}


static int
bars_on_start_map(void *ctx)
{
    bars_reader_t  *r = ctx;

    if (bars_too_deep(r)) {
        return 0;
    }

    if (r->depth == 1) {
        if (bars_element(r)) {
            bars_event_start(r);
        }

    } else if (!bars_value(r, BV_OBJECT, NULL, 0)) {
        return 0;
    }

    r->depth++;
    return 1;
}


static int
bars_on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    char            shown[SHOW_SIZE];
    size_t          j;
    bars_reader_t  *r = ctx;

    if (r->depth != 2 || !r->in_event || r->rejected) {
        return 1;
    }

    j = prt_req_find_field(bar_fields, BA_COUNT, (const char *) key, len);

    if (j == BA_COUNT) {
        bars_reject_event(r, "unknown field \"%s\"",
                          prt_req_show(shown, (const char *) key, len));

    } else if (r->seen[j]) {
        bars_reject_event(r, "duplicate field \"%s\"",
                          prt_req_show(shown, (const char *) key, len));
    }

    r->field = j;
    if (j < BA_COUNT) {
        r->seen[j] = 1;
    }
    return 1;
}


static int
bars_on_end_map(void *ctx)
{
    bars_reader_t  *r = ctx;

    r->depth--;
    return (r->depth == 1 && r->in_event) ? bars_event_end(r) : 1;
}


static int
bars_on_start_array(void *ctx)
{
    bars_reader_t  *r = ctx;

    if (bars_too_deep(r)) {
        return 0;
    }

    if (r->depth > 0 && !bars_value(r, BV_ARRAY, NULL, 0)) {
        return 0;
    }

    r->depth++;
    return 1;
}


static int
bars_on_end_array(void *ctx)
{
    bars_reader_t  *r = ctx;

    r->depth--;
    return 1;
}


static const yajl_callbacks  bars_callbacks = {
    bars_on_null, bars_on_boolean, NULL, NULL, bars_on_number,
    bars_on_string, bars_on_start_map, bars_on_map_key, bars_on_end_map,
    bars_on_start_array, bars_on_end_array
};


/* The message: header, events, rejections, in one allocation. */
static int
bars_output(bars_reader_t *r, const prt_allocator_t *a,
    prt_req_bars_t **out, size_t *out_len)
{
    size_t           ev_size, rj_size;
    prt_req_bars_t  *hdr;

    ev_size = r->nevents * sizeof(prt_bar_event_t);
    rj_size = r->nrejects * sizeof(prt_bar_reject_t);

    hdr = a->alloc(a->ctx, sizeof(*hdr) + ev_size + rj_size);
    if (hdr == NULL) {
        return prt_req_out_of_memory(r->err);
    }

    memset(hdr, 0, sizeof(*hdr));
    hdr->nevents = (uint32_t) r->nevents;
    hdr->nrejected = (uint32_t) r->nrejects;
    if (ev_size) {
        memcpy(hdr + 1, r->events, ev_size);
    }
    if (rj_size) {
        memcpy((char *) (hdr + 1) + ev_size, r->rejects, rj_size);
    }

    *out = hdr;
    *out_len = sizeof(*hdr) + ev_size + rj_size;
    return 0;
}


int
prt_req_parse_bars(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, uint32_t max_events,
    prt_req_bars_t **out, size_t *out_len, prt_parse_error_t *err)
{
    int             rc;
    yajl_handle     h;
    yajl_status     st;
    unsigned char  *msg;
    bars_reader_t   r;

    *out = NULL;
    *out_len = 0;

    if (body == NULL || len == 0) {
        return bad_request(err, NULL, "request body is empty");
    }

    memset(&r, 0, sizeof(r));
    r.parser = p;
    r.err = err;
    r.max_events = max_events;

    /* yajl's own buffers come from malloc, as its tree's did */
    h = yajl_alloc(&bars_callbacks, NULL, &r);
    if (h == NULL) {
        return prt_req_out_of_memory(err);
    }

    st = yajl_parse(h, (const unsigned char *) body, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    if (r.failed) {
        rc = -1;

    } else if (st != yajl_status_ok) {
        msg = yajl_get_error(h, 0, NULL, 0);
        rc = prt_req_json_syntax_error(msg ? (const char *) msg
                                           : "parse error", err);
        yajl_free_error(h, msg);

    } else if (r.elements > max_events) {
        rc = prt_req_fail(err, PRT_E_TOO_LARGE, NULL, "batch has %zu events; "
                          "the limit is %u", r.elements, max_events);

    } else {
        rc = bars_output(&r, a, out, out_len);
    }

    yajl_free(h);
    free(r.events);
    free(r.rejects);

    return rc;
}
