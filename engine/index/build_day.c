#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern_rt_nytime.h"
#include "core/log.h"
#include "data/symtab.h"
#include "index/build_day.h"

/* A row of the day as read, before grouping. */
typedef struct {
    uint32_t   ticker;      /* index into the day's tickers */
    prt_bar_t  bar;
} day_row_t;

typedef struct {
    day_row_t  *rows;
    size_t      n;
    size_t      cap;
} row_buf_t;

static int
row_push(row_buf_t *b, uint32_t ticker, const prt_bar_t *bar)
{
    day_row_t  *p;

    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 65536;
        p = realloc(b->rows, b->cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        b->rows = p;
    }
    b->rows[b->n].ticker = ticker;
    b->rows[b->n].bar = *bar;
    b->n++;
    return 0;
}

static int
row_cmp(const void *a, const void *b)
{
    const day_row_t  *x = a, *y = b;

    if (x->ticker != y->ticker) {
        return x->ticker < y->ticker ? -1 : 1;
    }
    return (x->bar.minute > y->bar.minute) - (x->bar.minute < y->bar.minute);
}

/*
 * Reads the file into rows, numbering tickers in order of appearance (flat
 * files are sorted by ticker, so that is alphabetical; an unsorted file
 * still works: rows are sorted afterwards).
 */
static int
read_rows(prt_build_day_t *d, row_buf_t *rb, prt_symtab_t *tickers)
{
    prt_ff_reader_t  *r;
    prt_ff_row_t      row;
    prt_bar_t         bar;
    prt_day_t         day;
    uint32_t          cur = PRT_SYMTAB_NONE;
    int               rc;

    r = prt_ff_reader_new(NULL);
    if (r == NULL || prt_ff_reader_open(r, d->path) != 0) {
        snprintf(d->error, sizeof(d->error), "%s",
                 r ? prt_ff_reader_error(r) : "out of memory");
        prt_ff_reader_free(r);
        return -1;
    }

    while ((rc = prt_ff_reader_next(r, &row)) > 0) {
        if (prt_ff_row_to_bar(&row, &day, &bar) != 0 || day != d->day) {
            d->rows_other_day++;
            continue;
        }
        if (cur == PRT_SYMTAB_NONE
            || strcmp(prt_symtab_name(tickers, cur), row.ticker) != 0)
        {
            cur = prt_symtab_add(tickers, row.ticker);
        }
        if (cur == PRT_SYMTAB_NONE || row_push(rb, cur, &bar) != 0) {
            snprintf(d->error, sizeof(d->error), "%s: out of memory",
                     d->path);
            prt_ff_reader_free(r);
            return -1;
        }
    }

    d->ff = *prt_ff_reader_stats(r);
    if (rc < 0) {
        /* a truncated file keeps the rows before the damage (counted) */
        prt_warn("%s: %s (rows before it are used)", d->path,
                 prt_ff_reader_error(r));
    }
    prt_ff_reader_free(r);
    return 0;
}

/* rows -> per-ticker sorted bars, one bar per minute (the last one read) */
static int
group_rows(prt_build_day_t *d, row_buf_t *rb)
{
    size_t  i, t;

    qsort(rb->rows, rb->n, sizeof(day_row_t), row_cmp);

    d->bars = malloc((rb->n ? rb->n : 1) * sizeof(prt_bar_t));
    d->bar_start = calloc((size_t) d->ntickers + 1, sizeof(size_t));
    if (d->bars == NULL || d->bar_start == NULL) {
        return -1;
    }

    for (i = 0, t = 0; i < rb->n; i++) {
        while (t <= rb->rows[i].ticker) {
            d->bar_start[t++] = d->nbars;
        }
        if (d->nbars > d->bar_start[rb->rows[i].ticker]
            && d->bars[d->nbars - 1].minute == rb->rows[i].bar.minute)
        {
            d->bars[d->nbars - 1] = rb->rows[i].bar;
            d->rows_duplicate++;
            continue;
        }
        d->bars[d->nbars++] = rb->rows[i].bar;
    }
    while (t <= d->ntickers) {
        d->bar_start[t++] = d->nbars;
    }
    return 0;
}

static int
pattern_reserve(prt_build_day_t *d, size_t need, size_t *cap)
{
    size_t  c = *cap ? *cap : 65536;
    void   *p;

    if (need <= *cap) {
        return 0;
    }
    while (c < need) {
        c *= 2;
    }
    if ((p = realloc(d->pat_ticker, c * sizeof(uint32_t))) == NULL) {
        return -1;
    }
    d->pat_ticker = p;
    if ((p = realloc(d->pat_minute, c * sizeof(uint32_t))) == NULL) {
        return -1;
    }
    d->pat_minute = p;
    if ((p = realloc(d->vectors, c * PRT_WINDOW * sizeof(float))) == NULL) {
        return -1;
    }
    d->vectors = p;
    if ((p = realloc(d->trajectories, c * PRT_N_HORIZONS * sizeof(float)))
        == NULL)
    {
        return -1;
    }
    d->trajectories = p;
    *cap = c;
    return 0;
}

static int
extract_patterns(prt_build_day_t *d)
{
    prt_day_scan_t  *scan;
    prt_pattern_t    p;
    int64_t          day_start_min = prt_ny_day_start_utc(d->day) / 60;
    size_t           cap = 0, n;

    scan = malloc(sizeof(*scan));     /* large: keeps its logs per minute */
    if (scan == NULL) {
        return -1;
    }

    for (uint32_t t = 0; t < d->ntickers; t++) {
        n = d->bar_start[t + 1] - d->bar_start[t];
        if (prt_day_scan_init(scan, d->bars + d->bar_start[t], n) != 0) {
            continue;
        }
        while (prt_day_scan_next(scan, &p) == 1) {
            if (p.info.volume < d->min_window_volume) {
                d->windows_low_volume++;
                continue;
            }
            if (pattern_reserve(d, d->npatterns + 1, &cap) != 0) {
                free(scan);
                return -1;
            }
            d->pat_ticker[d->npatterns] = t;
            d->pat_minute[d->npatterns] = (uint32_t) (day_start_min + p.minute);
            memcpy(d->vectors + d->npatterns * PRT_WINDOW, p.vec,
                   sizeof(p.vec));
            memcpy(d->trajectories + d->npatterns * PRT_N_HORIZONS, p.traj,
                   sizeof(p.traj));
            d->npatterns++;
        }
        d->windows_short += scan->n_short;
        d->windows_flat += scan->n_flat;
        d->windows_price += scan->n_price;
    }
    free(scan);
    return 0;
}

int
prt_build_day_run(prt_build_day_t *d)
{
    row_buf_t     rb = { NULL, 0, 0 };
    prt_symtab_t  tickers;
    int           rc = -1;

    if (prt_symtab_init(&tickers, 4096) != 0) {
        snprintf(d->error, sizeof(d->error), "%s: out of memory", d->path);
        d->failed = 1;
        return -1;
    }
    if (read_rows(d, &rb, &tickers) != 0) {
        goto done;
    }

    /* the day keeps the names; the hash slots are not needed any more */
    d->ntickers = tickers.count;
    d->tickers = tickers.names;
    tickers.names = NULL;

    if (group_rows(d, &rb) != 0 || extract_patterns(d) != 0) {
        snprintf(d->error, sizeof(d->error), "%s: out of memory", d->path);
        goto done;
    }
    rc = 0;

done:
    prt_symtab_free(&tickers);
    free(rb.rows);
    d->failed = rc != 0;
    return rc;
}

void
prt_build_day_free(prt_build_day_t *d)
{
    free(d->path);
    free(d->tickers);
    free(d->bar_start);
    free(d->bars);
    free(d->pat_ticker);
    free(d->pat_minute);
    free(d->vectors);
    free(d->trajectories);
    memset(d, 0, sizeof(*d));
}
