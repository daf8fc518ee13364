/*
 * `pattern-rt-engine replay` (replay.h, docs/replay.md).
 *
 * A day's flat file is sorted by ticker; the feed must arrive by minute.
 * So a day is read whole (one compact row per bar, about 50 bytes), put
 * in minute order by a counting sort that keeps the file's ticker order
 * inside a minute, and posted minute after minute: every batch is what a
 * live feed would have sent at the end of that minute. Nothing is posted
 * before the whole file has read cleanly, so a damaged file never leaves
 * half a day in the engine.
 *
 * Scans: at market times first + k * every (first = the day's first bar
 * minute), once every bar before that time is posted, one job per
 * horizon is started and waited for before the next minute is posted, so
 * the jobs see exactly the bars up to their scan time whatever the speed.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "clock/calendar.h"
#include "pattern_rt_nytime.h"
#include "core/args.h"
#include "core/json.h"
#include "core/loop.h"
#include "core/path.h"
#include "data/flatfile.h"
#include "tools/http.h"
#include "tools/replay.h"
#include "index/pattern.h"
#include "pattern_rt_msg.h"

#define EXIT_OK             0
#define EXIT_FAILED         1
#define EXIT_USAGE          2

#define PRT_API             "/api/pattern-realtime"
#define MINUTE_MS           60000LL
#define DAY_MINUTES         PRT_MINUTES_PER_DAY

#define MAX_DAY_ROWS        (16u << 20)   /* bars of one day held at once */
#define MAX_SCAN_SYMBOLS    10000         /* SPEC 5.1 default limit */
#define MAX_HORIZONS        15            /* |H| */
#define EVENT_MAX_BYTES     256           /* one AM event as JSON */
#define MIN_BODY            1024
#define DEFAULT_BATCH       10000         /* pattern_rt_max_bar_events */
#define DEFAULT_MAX_BODY    (1u << 20)    /* pattern_rt_max_body */
#define REPORT_REJECTS      10            /* rejections printed in full */
#define REPORT_MISSING      5             /* days without a file named */
#define BUSY_RETRIES        12            /* 503 E_BUSY: ~8 s of backoff */
#define SETTLE_QUIET_MS     300           /* no verification activity */
#define SETTLE_TIMEOUT_MS   120000
#define TOKEN_FILE_MAX      1024
#define JOB_ID_LEN          36            /* UUID text */
#define NO_DAY              INT32_MIN     /* --from / --to not given */

/* ---- options ------------------------------------------------------------- */

typedef struct {
    const char   *url;
    char          url_buf[64];
    unsigned      port;
    const char   *token;
    char          token_buf[TOKEN_FILE_MAX];
    const char   *cacert;              /* --cacert; NULL: the system's */
    const char   *data_dir;
    prt_day_t     from;
    prt_day_t     to;
    double        speed;               /* market/real time; 0: max */
    int           bulk;
    size_t        batch;               /* events per POST at most */
    size_t        max_body;            /* bytes per POST at most */
    int           timeout_s;
    int           job_timeout_s;
    int           close_day;
    int           quiet;

    char        (*symbols)[PRT_SYMBOL_SIZE];
    size_t        nsymbols;
    int           every;               /* minutes; 0: no scans */
    int           horizons[MAX_HORIZONS];
    size_t        nhorizons;
    int           k;
    double        alpha;
    int           trim_lo;
    int           trim_hi;
    int           exclude_self;
    int           cross_asset;
    double        min_edge;
    uint32_t      sessions;            /* PRT_SESSION_BIT_*; 0: all */
} replay_opts_t;

/* ---- one day of bars ----------------------------------------------------- */

typedef struct {
    uint32_t      ticker;              /* into day_t.tickers */
    int32_t       minute;              /* after 00:00 ET */
    double        open;
    double        high;
    double        low;
    double        close;
    double        volume;
} day_row_t;

typedef struct {
    prt_day_t     day;
    int64_t       start_s;             /* 00:00 ET in UTC seconds */
    char        (*tickers)[PRT_TICKER_SIZE];
    size_t        ntickers;
    size_t        tcap;
    day_row_t    *rows;                /* file order */
    size_t        n;
    size_t        cap;
    uint32_t     *order;               /* row indexes, minute order */
    uint32_t      first[DAY_MINUTES + 1];  /* minute i: order[first[i] ..
                                              first[i + 1]) */
    uint64_t      outside;             /* rows of another day or hour */
    uint64_t      malformed;
} day_t;

/* ---- the run ------------------------------------------------------------- */

typedef struct {
    char          id[PRT_JOB_ID_SIZE];
} job_ref_t;

typedef struct {
    replay_opts_t     o;
    prt_http_t       *http;
    prt_ff_reader_t  *reader;
    day_t             day;
    char             *body;            /* one batch of events */
    size_t            body_cap;
    char            **run_body;        /* the /run body per horizon */
    size_t           *run_len;
    job_ref_t         jobs[MAX_HORIZONS];
    int               feed_clock;      /* the engine's clock is `feed` */

    int64_t           last_end_ms;     /* end of the newest bar posted */
    uint64_t          days;
    uint64_t          bars;            /* posted */
    uint64_t          accepted;
    uint64_t          rejected;
    uint64_t          requests;        /* POST /bars */
    uint64_t          njobs;
    uint64_t          scan_ok;         /* symbols predicted */
    uint64_t          scan_failed;     /* symbols failed */
    int               shrunk;          /* a 413 halved the batches */
    uint64_t          started_ms;
    uint64_t          ingest_ms;       /* spent in the days (posting and
                                          scanning), not in setup or the
                                          final wait */
    prt_day_t         last_day;        /* the last day replayed */
} replay_t;

__attribute__((format(printf, 1, 2)))
static void
say(const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    fputs("replay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}




/* ---- option parsing ------------------------------------------------------ */

static void
usage(FILE *out)
{
    fprintf(out,
"usage: pattern-rt-engine replay --data DIR --from DATE [options]\n"
"  --data DIR            folder of YYYY-MM-DD.csv.gz flat files\n"
"  --from DATE           first day (YYYY-MM-DD)\n"
"  --to DATE             last day (default: --from)\n"
"  --speed N|max         market time runs N times real time (default max)\n"
"  --url URL             nginx in front of the engine (default\n"
"                        http://127.0.0.1:PORT)\n"
"  --port N              port of that default URL (8080)\n"
"  --token T             Authorization: Bearer T (feed scope; read too\n"
"                        where the read API needs tokens); also\n"
"                        --token-file F or $PATTERN_RT_TOKEN\n"
"  --cacert FILE         PEM certificates to trust for an https:// URL\n"
"                        (default: the system's)\n"
"  --scan SYMBOLS        start scan jobs for these symbols (spaces or\n"
"                        commas) every --every minutes of market time\n"
"  --every MIN           minutes between scans (required with --scan)\n"
"  --horizon H           one job per horizon per scan (repeatable;\n"
"                        default 10)\n"
"  --k N --alpha A --trim-lo N --trim-hi N --min-edge E\n"
"  --exclude-self true|false --cross-asset true|false\n"
"  --sessions pre,regular,post\n"
"                        /run parameters (SPEC 5.1 defaults); --sessions\n"
"                        also limits when scans start\n"
"  --bulk                post each day in file order, --batch events per\n"
"                        request (ingest benchmark; no --scan)\n"
"  --batch N             events per request at most (default 10000)\n"
"  --max-body SIZE       bytes per request at most (default 1m)\n"
"  --close               when predictions are still pending at the end,\n"
"                        post the first minute of the next trading day's\n"
"                        file (if --data has it) so that they come due\n"
"  --timeout SEC         per HTTP request (default 30)\n"
"  --job-timeout SEC     per scan job (default 300)\n"
"  --quiet               no per-day lines\n"
"exit: 0 done, 1 engine unreachable or an HTTP error, 2 bad arguments\n");
}

static int
parse_speed(void *opts, const char *name, const char *v)
{
    replay_opts_t  *o = opts;
    char           *end;
    double          x;

    if (strcmp(v, "max") == 0) {
        o->speed = 0;
        return 0;
    }
    x = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(x >= 1e-3 && x <= 1e9)) {
        fprintf(stderr, "%s wants max or a number in 0.001..1e+09, got "
                "\"%s\"\n", name, v);
        return -1;
    }
    o->speed = x;
    return 0;
}

static int
parse_horizon(void *opts, const char *name, const char *v)
{
    replay_opts_t  *o = opts;
    char           *end;
    long            h;

    errno = 0;
    h = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || h < 1 || h > 60
        || prt_horizon_index((int) h) < 0)
    {
        fprintf(stderr, "--horizon must be one of 1-10, 15, 20, 30, 45, 60: "
                "%s\n", v);
        return -1;
    }
    for (size_t i = 0; i < o->nhorizons; i++) {
        if (o->horizons[i] == h) {
            return 0;                          /* given twice: one job */
        }
    }
    o->horizons[o->nhorizons++] = (int) h;
    return 0;
}

static int
parse_sessions(void *opts, const char *name, const char *v)
{
    replay_opts_t  *o = opts;
    static const struct { const char *name; uint32_t bit; } names[] = {
        { "pre", PRT_SESSION_BIT_PRE },
        { "regular", PRT_SESSION_BIT_REGULAR },
        { "post", PRT_SESSION_BIT_POST },
    };
    const char  *p = v;
    size_t       n;
    size_t       i;

    o->sessions = 0;
    while (*p) {
        n = strcspn(p, ", ");
        for (i = 0; i < 3; i++) {
            if (strlen(names[i].name) == n
                && strncasecmp(p, names[i].name, n) == 0)
            {
                o->sessions |= names[i].bit;
                break;
            }
        }
        if (n && i == 3) {
            fprintf(stderr, "--sessions: unknown session in %s (pre, "
                    "regular, post)\n", v);
            return -1;
        }
        p += n;
        p += strspn(p, ", ");
    }
    if (o->sessions == 0) {
        fprintf(stderr, "--sessions: empty\n");
        return -1;
    }
    return 0;
}

/* Splits on spaces and commas, upper-cases, checks, drops repeats. */
static int
parse_symbols(void *opts, const char *name, const char *v)
{
    replay_opts_t  *o = opts;
    const char  *p = v;
    char         sym[PRT_SYMBOL_SIZE];
    size_t       n, i;

    free(o->symbols);
    o->nsymbols = 0;
    o->symbols = calloc(MAX_SCAN_SYMBOLS, PRT_SYMBOL_SIZE);
    if (o->symbols == NULL) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    for (p += strspn(p, ", \t\n"); *p; p += strspn(p, ", \t\n")) {
        n = strcspn(p, ", \t\n");
        memset(sym, 0, sizeof(sym));
        for (i = 0; i < n && i < PRT_SYMBOL_SIZE - 1; i++) {
            sym[i] = (char) (p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
        }
        if (n >= PRT_SYMBOL_SIZE || !prt_ff_ticker_valid(sym, n)) {
            fprintf(stderr, "--scan: not a symbol: %.*s\n", (int) n, p);
            return -1;
        }
        p += n;
        for (i = 0; i < o->nsymbols && strcmp(o->symbols[i], sym); i++) {
        }
        if (i < o->nsymbols) {
            continue;
        }
        if (o->nsymbols == MAX_SCAN_SYMBOLS) {
            fprintf(stderr, "--scan: more than %d symbols\n",
                    MAX_SCAN_SYMBOLS);
            return -1;
        }
        memcpy(o->symbols[o->nsymbols++], sym, PRT_SYMBOL_SIZE);
    }
    if (o->nsymbols == 0) {
        fprintf(stderr, "--scan: no symbol given\n");
        return -1;
    }
    return 0;
}

static int
read_token_file(void *opts, const char *name, const char *path)
{
    replay_opts_t  *o = opts;
    FILE    *f = fopen(path, "r");
    size_t   n;

    if (f == NULL) {
        fprintf(stderr, "--token-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    n = fread(o->token_buf, 1, sizeof(o->token_buf) - 1, f);
    fclose(f);
    o->token_buf[n] = '\0';
    o->token_buf[strcspn(o->token_buf, "\r\n")] = '\0';
    o->token = o->token_buf;
    return 0;
}

#define OPT(name, kind, field, lo, hi) \
    PRT_ARG_OF(name, kind, replay_opts_t, field, lo, hi, NULL)

static const prt_arg_t  replay_args[] = {
    OPT("data", PRT_ARG_STR, data_dir, 0, 0),
    OPT("from", PRT_ARG_DATE, from, 0, 0),
    OPT("to", PRT_ARG_DATE, to, 0, 0),
    PRT_ARG_FN("speed", parse_speed, NULL),
    OPT("url", PRT_ARG_STR, url, 0, 0),
    OPT("port", PRT_ARG_UINT, port, 1, 65535),
    OPT("token", PRT_ARG_STR, token, 0, 0),
    PRT_ARG_FN("token-file", read_token_file, NULL),
    OPT("cacert", PRT_ARG_STR, cacert, 0, 0),
    PRT_ARG_FN("scan", parse_symbols, NULL),
    OPT("every", PRT_ARG_INT, every, 1, DAY_MINUTES),
    PRT_ARG_FN("horizon", parse_horizon, NULL),
    OPT("k", PRT_ARG_INT, k, 1, 500),
    OPT("alpha", PRT_ARG_NUM, alpha, 0, 50),
    OPT("trim-lo", PRT_ARG_INT, trim_lo, 0, 49),
    OPT("trim-hi", PRT_ARG_INT, trim_hi, 0, 49),
    OPT("exclude-self", PRT_ARG_BOOL, exclude_self, 0, 0),
    OPT("cross-asset", PRT_ARG_BOOL, cross_asset, 0, 0),
    OPT("min-edge", PRT_ARG_NUM, min_edge, 0, 1e9),
    PRT_ARG_FN("sessions", parse_sessions, NULL),
    OPT("batch", PRT_ARG_SIZE, batch, 1, 1000000),
    OPT("max-body", PRT_ARG_SIZE, max_body, MIN_BODY, 1u << 30),
    OPT("timeout", PRT_ARG_INT, timeout_s, 1, 3600),
    OPT("job-timeout", PRT_ARG_INT, job_timeout_s, 1, 86400),
    OPT("bulk", PRT_ARG_FLAG, bulk, 0, 0),
    OPT("close", PRT_ARG_FLAG, close_day, 0, 0),
    OPT("quiet", PRT_ARG_FLAG, quiet, 0, 0),
};

/* The combinations no single option can check. */
static int
check_options(replay_opts_t *o)
{
    if (o->data_dir == NULL || o->from == NO_DAY) {
        fprintf(stderr, "--data and --from are required\n");
        return -1;
    }
    if (o->to == NO_DAY) {
        o->to = o->from;
    }
    if (o->to < o->from) {
        fprintf(stderr, "--to is before --from\n");
        return -1;
    }
    if ((o->nsymbols != 0) != (o->every != 0)) {
        fprintf(stderr, "--scan and --every go together\n");
        return -1;
    }
    if (o->nhorizons && o->nsymbols == 0) {
        fprintf(stderr, "--horizon needs --scan\n");
        return -1;
    }
    if (o->nsymbols && o->nhorizons == 0) {
        o->horizons[o->nhorizons++] = 10;       /* SPEC 5.1 default */
    }
    if (!o->cross_asset && o->exclude_self) {
        fprintf(stderr, "--cross-asset false needs --exclude-self false "
                "(no neighbour would be left)\n");
        return -1;
    }
    if (o->bulk && (o->nsymbols || o->speed > 0)) {
        fprintf(stderr, "--bulk posts as fast as it can and scans nothing: "
                "no --scan, no --speed\n");
        return -1;
    }
    if (o->url == NULL) {
        snprintf(o->url_buf, sizeof(o->url_buf), "http://127.0.0.1:%u",
                 o->port);
        o->url = o->url_buf;
    }
    if (o->token == NULL) {
        o->token = getenv("PATTERN_RT_TOKEN");
    }
    return 0;
}

static int
parse_args(replay_opts_t *o, int argc, char **argv)
{
    static const prt_args_t  spec = PRT_ARGS("", replay_args);
    int                      rc;

    o->port = 8080;
    o->from = NO_DAY;
    o->to = NO_DAY;
    o->batch = DEFAULT_BATCH;
    o->max_body = DEFAULT_MAX_BODY;
    o->timeout_s = 30;
    o->job_timeout_s = 300;
    o->k = 40;
    o->alpha = 6;
    o->exclude_self = 1;
    o->cross_asset = 1;

    rc = prt_args_parse(&spec, o, argc, argv, 1);
    return rc != 0 ? rc : check_options(o);
}


/* ---- JSON answers -------------------------------------------------------- */

static yajl_val
json_get(yajl_val root, const char *k1, const char *k2)
{
    const char  *path[3] = { k1, k2, NULL };

    return root ? yajl_tree_get(root, path, yajl_t_any) : NULL;
}

static double
json_num(yajl_val root, const char *k1, const char *k2, double dflt)
{
    yajl_val  v = json_get(root, k1, k2);

    return v && YAJL_IS_NUMBER(v) ? YAJL_GET_DOUBLE(v) : dflt;
}

static const char *
json_str(yajl_val root, const char *k1, const char *k2)
{
    yajl_val  v = json_get(root, k1, k2);

    return v && YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static int64_t
json_time_ms(yajl_val root, const char *k1, const char *k2)
{
    const char  *s = json_str(root, k1, k2);
    int64_t      ms;

    return s && prt_parse_iso(s, strlen(s), &ms) == 0 ? ms : INT64_MIN;
}

static yajl_val
parse_json(const prt_http_response_t *res)
{
    char  err[128];

    return yajl_tree_parse(res->body, err, sizeof(err));
}

/* An error answer in a line: the API's error code and message, or the
 * start of whatever else came back. */
static void
http_failure(const char *what, const prt_http_response_t *res)
{
    yajl_val     root = parse_json(res);
    const char  *code = json_str(root, "error", "code");
    const char  *msg = json_str(root, "error", "message");

    if (code && msg) {
        say("%s: HTTP %d %s: %s", what, res->status, code, msg);
    } else {
        say("%s: HTTP %d: %.200s", what, res->status, res->body);
    }
    yajl_tree_free(root);
}

static int
is_busy(const prt_http_response_t *res)
{
    yajl_val     root;
    const char  *code;
    int          busy;

    if (res->status != 503 && res->status != 429) {
        return 0;
    }
    root = parse_json(res);
    code = json_str(root, "error", "code");
    busy = code && strcmp(code, "E_BUSY") == 0;
    yajl_tree_free(root);
    return busy;
}

static void
sleep_ms(uint64_t ms)
{
    struct timespec  ts = { (time_t) (ms / 1000),
                            (long) (ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/*
 * One request; a 503/429 E_BUSY (the engine's queues are full) is tried
 * again with a growing pause. -1: no answer at all (reason said).
 */
static int
call(replay_t *r, const char *method, const char *path, const char *body,
    size_t len, prt_http_response_t *res)
{
    uint64_t  pause = 10;

    for (int tries = 0; ; tries++) {
        if (prt_http_request(r->http, method, path, body, len, res) != 0) {
            say("%s %s%s: %s", method, prt_http_base(r->http), path,
                prt_http_errmsg(r->http));
            return -1;
        }
        if (!is_busy(res) || tries == BUSY_RETRIES) {
            return 0;
        }
        sleep_ms(pause);
        pause = pause < 2000 ? pause * 2 : pause;
    }
}


/* ---- the engine ---------------------------------------------------------- */

/* Is the engine there, and on which clock? Warns when it is not `feed`. */
static int
check_engine(replay_t *r)
{
    prt_http_response_t  res;
    yajl_val             root;
    const char          *clock;

    if (call(r, "GET", "/health", NULL, 0, &res) != 0) {
        say("the engine is unreachable through %s", r->o.url);
        return -1;
    }
    if (res.status != 200) {
        http_failure("GET /health", &res);
        return -1;
    }
    root = parse_json(&res);
    clock = json_str(root, "market", "clock");
    if (clock == NULL) {
        say("GET /health: no market.clock in the answer; is %s a Pattern "
            "Real-Time server?", r->o.url);
        yajl_tree_free(root);
        return -1;
    }
    r->feed_clock = strcmp(clock, "feed") == 0;
    if (!r->feed_clock) {
        say("warning: the engine's clock is '%s', not 'feed': scans, "
            "staleness and verification follow that clock, not the "
            "replayed bars (start the engine with --clock feed for a "
            "backtest)", clock);
    }
    yajl_tree_free(root);
    return 0;
}


/* ---- reading a day ------------------------------------------------------- */

static void
day_reset(day_t *d, prt_day_t day)
{
    d->day = day;
    d->start_s = prt_ny_day_start_utc(day);
    d->ntickers = 0;
    d->n = 0;
    d->outside = 0;
    d->malformed = 0;
}

static void
day_free(day_t *d)
{
    free(d->tickers);
    free(d->rows);
    free(d->order);
    memset(d, 0, sizeof(*d));
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t  c = *cap ? *cap : 1024;
    void   *q;

    if (need <= *cap) {
        return 0;
    }
    while (c < need) {
        c *= 2;
    }
    q = realloc(*p, c * size);
    if (q == NULL) {
        return -1;
    }
    *p = q;
    *cap = c;
    return 0;
}

/* Rows come sorted by ticker: only a change of ticker adds a name. */
static int
add_row(day_t *d, const prt_ff_row_t *row, const prt_bar_t *bar)
{
    day_row_t  *x;

    if (d->ntickers == 0
        || strcmp(d->tickers[d->ntickers - 1], row->ticker) != 0)
    {
        if (grow((void **) &d->tickers, &d->tcap, d->ntickers + 1,
                 PRT_TICKER_SIZE) != 0)
        {
            return -1;
        }
        memcpy(d->tickers[d->ntickers++], row->ticker, PRT_TICKER_SIZE);
    }
    if (grow((void **) &d->rows, &d->cap, d->n + 1, sizeof(day_row_t)) != 0) {
        return -1;
    }
    x = &d->rows[d->n++];
    x->ticker = (uint32_t) (d->ntickers - 1);
    x->minute = bar->minute;
    x->open = bar->open;
    x->high = bar->high;
    x->low = bar->low;
    x->close = bar->close;
    x->volume = bar->volume;
    return 0;
}

/* Counting sort by minute; stable, so tickers keep the file's order. */
static int
sort_by_minute(day_t *d)
{
    uint32_t  *order = realloc(d->order, (d->n ? d->n : 1)
                                         * sizeof(uint32_t));
    uint32_t   pos[DAY_MINUTES + 1];

    if (order == NULL) {
        return -1;
    }
    d->order = order;
    memset(d->first, 0, sizeof(d->first));
    for (size_t i = 0; i < d->n; i++) {
        d->first[d->rows[i].minute - PRT_MINUTE_FIRST + 1]++;
    }
    for (size_t m = 0; m < DAY_MINUTES; m++) {
        d->first[m + 1] += d->first[m];
    }
    memcpy(pos, d->first, sizeof(pos));
    for (size_t i = 0; i < d->n; i++) {
        d->order[pos[d->rows[i].minute - PRT_MINUTE_FIRST]++] = (uint32_t) i;
    }
    return 0;
}

static int
load_day(replay_t *r, const char *path, prt_day_t day)
{
    day_t         *d = &r->day;
    prt_ff_row_t   row;
    prt_bar_t      bar;
    prt_day_t      bar_day;
    int            rc;

    day_reset(d, day);
    if (prt_ff_reader_open(r->reader, path) != 0) {
        say("%s", prt_ff_reader_error(r->reader));
        return -1;
    }
    while ((rc = prt_ff_reader_next(r->reader, &row)) == 1) {
        if (prt_ff_row_to_bar(&row, &bar_day, &bar) != 0 || bar_day != day) {
            d->outside++;
            continue;
        }
        if (d->n == MAX_DAY_ROWS || add_row(d, &row, &bar) != 0) {
            say("%s: more than %zu bars in a day, or out of memory", path,
                d->n);
            rc = -2;
            break;
        }
    }
    d->malformed = prt_ff_reader_stats(r->reader)->malformed;
    if (rc == -1) {
        say("%s; nothing of that day was posted",
            prt_ff_reader_error(r->reader));
    }
    prt_ff_reader_close(r->reader);
    if (rc != 0) {
        return -1;
    }
    if (sort_by_minute(d) != 0) {
        say("%s: out of memory", path);
        return -1;
    }
    return 0;
}


/* ---- posting bars -------------------------------------------------------- */

/* At most ~235 bytes: a 15-byte ticker, five numbers of at most 24
 * characters and two 13-digit times around 60 bytes of names. */
static size_t
format_event(const day_t *d, const day_row_t *x, char *out)
{
    char     o[PRT_NUM_SIZE], h[PRT_NUM_SIZE], l[PRT_NUM_SIZE];
    char     c[PRT_NUM_SIZE], v[PRT_NUM_SIZE];
    int64_t  s = (d->start_s + (int64_t) x->minute * 60) * 1000;
    int      n;

    prt_format_number(x->open, PRT_NUM_EXACT, o, sizeof(o));
    prt_format_number(x->high, PRT_NUM_EXACT, h, sizeof(h));
    prt_format_number(x->low, PRT_NUM_EXACT, l, sizeof(l));
    prt_format_number(x->close, PRT_NUM_EXACT, c, sizeof(c));
    prt_format_number(x->volume, PRT_NUM_EXACT, v, sizeof(v));
    n = snprintf(out, EVENT_MAX_BYTES,
                 "{\"ev\":\"AM\",\"sym\":\"%s\",\"v\":%s,\"o\":%s,\"c\":%s,"
                 "\"h\":%s,\"l\":%s,\"s\":%lld,\"e\":%lld}",
                 d->tickers[x->ticker], v, o, c, h, l, (long long) s,
                 (long long) (s + MINUTE_MS));
    return n > 0 && n < EVENT_MAX_BYTES ? (size_t) n : 0;
}

/* As many of rows[idx[0..n)] as the limits allow, as a JSON array in
 * r->body; returns how many (at least one). */
static size_t
build_batch(replay_t *r, const uint32_t *idx, size_t n, size_t *len)
{
    char    ev[EVENT_MAX_BYTES];
    size_t  k = 0, l = 1, el;

    r->body[0] = '[';
    for (; k < n && k < r->o.batch; k++) {
        el = format_event(&r->day, &r->day.rows[idx[k]], ev);
        if (k && l + 1 + el + 1 > r->o.max_body) {
            break;
        }
        if (k) {
            r->body[l++] = ',';
        }
        memcpy(r->body + l, ev, el);
        l += el;
    }
    r->body[l++] = ']';
    r->body[l] = '\0';
    *len = l;
    return k;
}

static void
report_reject(replay_t *r, const day_row_t *x, const char *reason)
{
    char  date[16];

    if (r->rejected > REPORT_REJECTS) {
        return;
    }
    if (r->rejected == REPORT_REJECTS) {
        say("further rejections are only counted");
        return;
    }
    prt_format_date(r->day.day, date, sizeof(date));
    say("rejected: %s %s %02d:%02d ET: %s", r->day.tickers[x->ticker], date,
        x->minute / 60, x->minute % 60, reason ? reason : "?");
}

/* {"accepted": n, "rejected": [{"index": i, "reason": "..."}]} */
static int
count_reply(replay_t *r, const prt_http_response_t *res, const uint32_t *idx,
    size_t n)
{
    yajl_val  root = parse_json(res), rej, item, index;
    double    accepted = json_num(root, "accepted", NULL, -1);
    size_t    nrej;

    rej = json_get(root, "rejected", NULL);
    if (accepted < 0 || rej == NULL || !YAJL_IS_ARRAY(rej)) {
        say("POST /bars: unexpected answer: %.200s", res->body);
        yajl_tree_free(root);
        return -1;
    }
    nrej = YAJL_GET_ARRAY(rej)->len;
    for (size_t i = 0; i < nrej; i++) {
        item = YAJL_GET_ARRAY(rej)->values[i];
        index = json_get(item, "index", NULL);
        if (index && YAJL_IS_INTEGER(index)
            && YAJL_GET_INTEGER(index) >= 0
            && (size_t) YAJL_GET_INTEGER(index) < n)
        {
            report_reject(r, &r->day.rows[idx[YAJL_GET_INTEGER(index)]],
                          json_str(item, "reason", NULL));
        }
        r->rejected++;
    }
    r->accepted += (uint64_t) accepted;
    if ((size_t) accepted + nrej != n) {
        say("warning: %zu events posted, the engine counted %.0f accepted "
            "and %zu rejected", n, accepted, nrej);
    }
    yajl_tree_free(root);
    return 0;
}

/* 0 posted, 1 refused as too large (batches are now smaller: build it
 * again), -1 failed. */
static int
post_batch(replay_t *r, const uint32_t *idx, size_t n, size_t len)
{
    prt_http_response_t  res;
    const day_row_t     *last = &r->day.rows[idx[n - 1]];

    if (call(r, "POST", PRT_API "/bars", r->body, len, &res) != 0) {
        return -1;
    }
    if (res.status == 413 && n > 1) {
        r->o.batch = n / 2;
        if (!r->shrunk) {
            say("the server refused %zu events in %zu bytes as too large; "
                "batches now hold at most %zu", n, len, r->o.batch);
        }
        r->shrunk = 1;
        return 1;
    }
    if (res.status != 200) {
        http_failure("POST /bars", &res);
        return -1;
    }
    r->requests++;
    r->bars += n;
    if (count_reply(r, &res, idx, n) != 0) {
        return -1;
    }
    if (!r->o.bulk) {
        r->last_end_ms = (r->day.start_s + (int64_t) last->minute * 60)
                         * 1000 + MINUTE_MS;
    }
    return 0;
}

static int
post_rows(replay_t *r, const uint32_t *idx, size_t n)
{
    size_t  done = 0, k, len;
    int     rc;

    while (done < n) {
        k = build_batch(r, idx + done, n - done, &len);
        rc = post_batch(r, idx + done, k, len);
        if (rc < 0) {
            return -1;
        }
        done += rc == 0 ? k : 0;
    }
    return 0;
}


/* ---- scans --------------------------------------------------------------- */

static int
append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    for ( ;; ) {
        va_start(ap, fmt);
        n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return -1;
        }
        if (*len + (size_t) n < *cap) {
            *len += (size_t) n;
            return 0;
        }
        if (grow((void **) buf, cap, *len + (size_t) n + 1, 1) != 0) {
            return -1;
        }
    }
}

/* The "sessions" member of the /run body, or "" for every session. */
static void
sessions_json(uint32_t bits, char *out, size_t cap)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        { PRT_SESSION_BIT_PRE, "pre" },
        { PRT_SESSION_BIT_REGULAR, "regular" },
        { PRT_SESSION_BIT_POST, "post" },
    };
    size_t  len = 0;

    out[0] = '\0';
    if (bits == 0) {
        return;
    }
    len += (size_t) snprintf(out, cap, ",\"sessions\":[");
    for (size_t i = 0; i < 3; i++) {
        if (bits & names[i].bit) {
            len += (size_t) snprintf(out + len, cap - len, "%s\"%s\"",
                                     out[len - 1] == '[' ? "" : ",",
                                     names[i].name);
        }
    }
    snprintf(out + len, cap - len, "]");
}

/* The /run body of one horizon: every parameter explicit. */
static int
make_run_body(replay_t *r, int horizon, char **out, size_t *len)
{
    const replay_opts_t  *o = &r->o;
    size_t                cap = 512 + o->nsymbols * (PRT_SYMBOL_SIZE + 3);
    char                 *b = malloc(cap), sessions[64];
    char                  alpha[PRT_NUM_SIZE], min_edge[PRT_NUM_SIZE];

    *len = 0;
    prt_format_number(o->alpha, PRT_NUM_EXACT, alpha, sizeof(alpha));
    prt_format_number(o->min_edge, PRT_NUM_EXACT, min_edge,
                      sizeof(min_edge));
    if (b == NULL || append(&b, len, &cap, "{\"symbols\":[") != 0) {
        goto failed;
    }
    for (size_t i = 0; i < o->nsymbols; i++) {
        if (append(&b, len, &cap, "%s\"%s\"", i ? "," : "", o->symbols[i])
            != 0)
        {
            goto failed;
        }
    }
    sessions_json(o->sessions, sessions, sizeof(sessions));
    if (append(&b, len, &cap,
               "],\"k\":%d,\"horizon\":%d,\"alpha\":%s,"
               "\"trim_lo\":%d,\"trim_hi\":%d,\"exclude_self\":%s,"
               "\"cross_asset\":%s,\"min_edge\":%s%s}",
               o->k, horizon, alpha, o->trim_lo, o->trim_hi,
               o->exclude_self ? "true" : "false",
               o->cross_asset ? "true" : "false", min_edge, sessions)
        != 0)
    {
        goto failed;
    }
    *out = b;
    return 0;

failed:
    free(b);
    return -1;
}

static int
make_run_bodies(replay_t *r)
{
    r->run_body = calloc(r->o.nhorizons, sizeof(char *));
    r->run_len = calloc(r->o.nhorizons, sizeof(size_t));
    if (r->run_body == NULL || r->run_len == NULL) {
        return -1;
    }
    for (size_t i = 0; i < r->o.nhorizons; i++) {
        if (make_run_body(r, r->o.horizons[i], &r->run_body[i],
                          &r->run_len[i]) != 0)
        {
            return -1;
        }
    }
    return 0;
}

static int
start_job(replay_t *r, size_t i)
{
    prt_http_response_t  res;
    yajl_val             root;
    const char          *id;
    int                  rc = -1;

    if (call(r, "POST", PRT_API "/run", r->run_body[i], r->run_len[i], &res)
        != 0)
    {
        return -1;
    }
    if (res.status != 202) {
        http_failure("POST /run", &res);
        return -1;
    }
    root = parse_json(&res);
    id = json_str(root, "job_id", NULL);
    if (id && strlen(id) == JOB_ID_LEN) {
        memcpy(r->jobs[i].id, id, JOB_ID_LEN + 1);
        r->njobs++;
        rc = 0;
    } else {
        say("POST /run: no job_id in %.200s", res.body);
    }
    yajl_tree_free(root);
    return rc;
}

/* Polls GET /job/{id} until it is no longer running: 1 ms at first, the
 * pause growing by half up to 25 ms for long jobs, so a short job is seen
 * done within a few ms and a long one costs few requests. */
static int
wait_job(replay_t *r, const char *id)
{
    prt_http_response_t  res;
    yajl_val             root;
    const char          *status;
    char                 path[128];
    uint64_t             deadline, pause = 1;

    snprintf(path, sizeof(path), PRT_API "/job/%s", id);
    deadline = prt_monotonic_ms() + (uint64_t) r->o.job_timeout_s * 1000;
    for ( ;; ) {
        if (call(r, "GET", path, NULL, 0, &res) != 0) {
            return -1;
        }
        if (res.status != 200) {
            http_failure("GET /job", &res);
            return -1;
        }
        root = parse_json(&res);
        status = json_str(root, "status", NULL);
        if (status && strcmp(status, "running") != 0) {
            r->scan_ok += (uint64_t) json_num(root, "progress", "completed",
                                              0);
            r->scan_failed += (uint64_t) json_num(root, "progress", "failed",
                                                  0);
            if (strcmp(status, "completed") != 0) {
                say("warning: job %s ended %s", id, status);
            }
            yajl_tree_free(root);
            return 0;
        }
        yajl_tree_free(root);
        if (status == NULL) {
            say("GET /job/%s: no status in the answer", id);
            return -1;
        }
        if (prt_monotonic_ms() > deadline) {
            say("job %s still running after %d s (--job-timeout)", id,
                r->o.job_timeout_s);
            return -1;
        }
        sleep_ms(pause);
        pause = pause + (pause + 1) / 2 < 25 ? pause + (pause + 1) / 2 : 25;
    }
}

/* Would the engine scan at the market time of the newest bar posted? */
static int
scan_session(const replay_t *r)
{
    static const uint32_t  bits[] = {
        0, PRT_SESSION_BIT_PRE, PRT_SESSION_BIT_REGULAR, PRT_SESSION_BIT_POST
    };
    prt_market_state_t     ms;
    uint32_t               allowed = r->o.sessions ? r->o.sessions
                                                   : PRT_SESSION_BITS_ALL;

    if (r->last_end_ms == 0) {
        return 0;
    }
    prt_market_state(r->last_end_ms / 1000, &ms);
    return ms.session != PRT_SESSION_CLOSED && (allowed & bits[ms.session]);
}

/* One job per horizon, started together, then each waited for. */
static int
run_scans(replay_t *r)
{
    if (!scan_session(r)) {
        return 0;
    }
    for (size_t i = 0; i < r->o.nhorizons; i++) {
        if (start_job(r, i) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < r->o.nhorizons; i++) {
        if (wait_job(r, r->jobs[i].id) != 0) {
            return -1;
        }
    }
    return 0;
}


/* ---- one day ------------------------------------------------------------- */

/* Speed N: minute m goes out at wall0 + (m - first) * 60 / N seconds. */
static void
pace(const replay_t *r, const struct timespec *wall0, int minutes)
{
    struct timespec  at = *wall0;
    double           s = (double) minutes * 60.0 / r->o.speed;
    double           whole = floor(s);

    at.tv_sec += (time_t) whole;
    at.tv_nsec += (long) ((s - whole) * 1e9);
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL)
           == EINTR) {
    }
}

/*
 * The next scan is at minute `next` (a minute start, market time). Before
 * minute m is posted every bar that ended by m is in, so each scheduled
 * time <= m is due: one scan covers all of them when the feed had a gap.
 */
static int
replay_minutes(replay_t *r)
{
    day_t            *d = &r->day;
    struct timespec   wall0;
    int               first = -1, next = 0, m;

    clock_gettime(CLOCK_MONOTONIC, &wall0);
    for (int i = 0; i < DAY_MINUTES; i++) {
        size_t  n = d->first[i + 1] - d->first[i];

        if (n == 0) {
            continue;
        }
        m = i + PRT_MINUTE_FIRST;
        if (first < 0) {
            first = m;
            next = m + r->o.every;
        }
        if (r->o.speed > 0) {
            pace(r, &wall0, m - first);
        }
        if (r->o.every && next <= m) {
            if (run_scans(r) != 0) {
                return -1;
            }
            next += ((m - next) / r->o.every + 1) * r->o.every;
        }
        if (post_rows(r, d->order + d->first[i], n) != 0) {
            return -1;
        }
    }
    /* a scan due at the end of the last minute (closed at 20:00 on an
     * ordinary day, but not on every day and session choice) */
    m = first < 0 ? 0 : (int) ((r->last_end_ms / 1000 - d->start_s) / 60);
    if (first >= 0 && r->o.every && next <= m) {
        return run_scans(r);
    }
    return 0;
}

static int
replay_bulk(replay_t *r)
{
    for (size_t i = 0; i < r->day.n; i++) {
        r->day.order[i] = (uint32_t) i;          /* file order */
    }
    if (post_rows(r, r->day.order, r->day.n) != 0) {
        return -1;
    }
    if (r->day.n) {
        r->last_end_ms = (r->day.start_s + PRT_MINUTE_END * 60LL) * 1000;
    }
    return 0;
}

static int
replay_day(replay_t *r, const char *path, prt_day_t day)
{
    uint64_t  t0 = prt_monotonic_ms(), bars0 = r->bars, rej0 = r->rejected;
    uint64_t  jobs0 = r->njobs;
    char      date[16];
    int       rc;

    if (load_day(r, path, day) != 0) {
        return -1;
    }
    rc = r->o.bulk ? replay_bulk(r) : replay_minutes(r);
    r->ingest_ms += prt_monotonic_ms() - t0;
    r->days++;
    r->last_day = day;
    prt_format_date(day, date, sizeof(date));
    if (!r->o.quiet) {
        say("%s: %llu bars posted, %llu rejected, %llu jobs, %.2f s%s", date,
            (unsigned long long) (r->bars - bars0),
            (unsigned long long) (r->rejected - rej0),
            (unsigned long long) (r->njobs - jobs0),
            (double) (prt_monotonic_ms() - t0) / 1000.0,
            rc ? " (stopped)" : "");
    }
    if (r->day.outside || r->day.malformed) {
        say("%s: %llu rows outside the day's 04:00-20:00 ET and %llu "
            "malformed rows not posted", date,
            (unsigned long long) r->day.outside,
            (unsigned long long) r->day.malformed);
    }
    return rc;
}


/* ---- the days of the range ----------------------------------------------- */

typedef struct {
    prt_day_t   day;
    char       *path;
} day_file_t;

static int
day_file_cmp(const void *a, const void *b)
{
    const day_file_t  *x = a, *y = b;

    return (x->day > y->day) - (x->day < y->day);
}

static void
free_days(day_file_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
    }
    free(f);
}

/* The flat files of [from, to], in day order; -1 when the folder cannot
 * be read. */
static int
list_days(const char *dir, prt_day_t from, prt_day_t to, day_file_t **out,
    size_t *n)
{
    DIR            *dp = opendir(dir);
    struct dirent  *de;
    prt_day_t       day;
    size_t          cap = 0;
    char            path[PATH_MAX];

    *out = NULL;
    *n = 0;
    if (dp == NULL) {
        fprintf(stderr, "--data %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(dp)) != NULL) {
        if (prt_ff_name_day(de->d_name, &day) != 0 || day < from || day > to
            || prt_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) != 0)
        {
            continue;
        }
        if (grow((void **) out, &cap, *n + 1, sizeof(day_file_t)) != 0
            || ((*out)[*n].path = strdup(path)) == NULL)
        {
            closedir(dp);
            free_days(*out, *n);
            return -1;
        }
        (*out)[(*n)++].day = day;
    }
    closedir(dp);
    if (*n) {
        qsort(*out, *n, sizeof(day_file_t), day_file_cmp);
    }
    return 0;
}

/* Trading days of the range without a file: said (the first few), not
 * fatal. */
static void
note_missing_days(const day_file_t *f, size_t n, prt_day_t from, prt_day_t to)
{
    prt_trading_day_t  td;
    size_t             j = 0, missing = 0;
    char               date[16];

    for (prt_day_t d = from; d <= to; d++) {
        while (j < n && f[j].day < d) {
            j++;
        }
        prt_calendar_day(d, &td);
        if (!td.trading || (j < n && f[j].day == d)) {
            continue;
        }
        if (missing++ < REPORT_MISSING) {
            prt_format_date(d, date, sizeof(date));
            say("note: no flat file for the trading day %s", date);
        }
    }
    if (missing > REPORT_MISSING) {
        say("note: %zu trading days of the range have no flat file",
            missing);
    }
}


/* ---- the end ------------------------------------------------------------- */

typedef struct {
    int64_t    now_ms;
    int64_t    pass_clock_ms;
    double     passes;
    double     pending;
} verify_view_t;

static int
read_health(replay_t *r, verify_view_t *v)
{
    prt_http_response_t  res;
    yajl_val             root;

    if (call(r, "GET", "/health", NULL, 0, &res) != 0) {
        return -1;
    }
    if (res.status != 200) {
        http_failure("GET /health", &res);
        return -1;
    }
    root = parse_json(&res);
    v->now_ms = json_time_ms(root, "market", "now");
    v->pass_clock_ms = json_time_ms(root, "verification", "last_pass_clock");
    v->passes = json_num(root, "verification", "passes", -1);
    v->pending = json_num(root, "store", "pending", -1);
    yajl_tree_free(root);
    return 0;
}

/*
 * Verification runs on the engine's own schedule after each ingest. The
 * record is final once a pass that started at the final clock has ended
 * (feed clock) and neither the pending count nor the pass count moved
 * for SETTLE_QUIET_MS (a pass that hit its batch limit chains another).
 */
static int
wait_verified(replay_t *r)
{
    verify_view_t  v, prev = { 0, 0, -1, -1 };
    uint64_t       t0 = prt_monotonic_ms(), quiet_since = t0, now;

    for ( ;; ) {
        if (read_health(r, &v) != 0) {
            return -1;
        }
        now = prt_monotonic_ms();
        if (v.passes != prev.passes || v.pending != prev.pending) {
            quiet_since = now;
        }
        if ((!r->feed_clock || v.pass_clock_ms >= v.now_ms)
            && now - quiet_since >= SETTLE_QUIET_MS)
        {
            return 0;
        }
        if (now - t0 > SETTLE_TIMEOUT_MS) {
            say("warning: verification still busy after %d s; the figures "
                "below may change", SETTLE_TIMEOUT_MS / 1000);
            return 0;
        }
        prev = v;
        sleep_ms(50);
    }
}

/* --close: the next trading day's first minute moves the feed clock past
 * every horizon of the last day replayed. */
static int
close_last_day(replay_t *r)
{
    prt_day_t      next = (prt_day_t) prt_next_trading_day(r->last_day);
    char           path[PATH_MAX], name[16];
    uint64_t       bars0 = r->bars;
    verify_view_t  v;

    if (read_health(r, &v) != 0) {
        return -1;
    }
    if (v.pending <= 0) {
        say("--close: nothing is pending");
        return 0;
    }
    prt_format_date(next, name, sizeof(name));
    if (prt_fmt(path, sizeof(path), "%s/%s.csv.gz", r->o.data_dir, name) != 0
        || access(path, R_OK) != 0)
    {
        say("--close: no %s.csv.gz in --data; the pending predictions stay "
            "pending", name);
        return 0;
    }
    if (load_day(r, path, next) != 0) {
        return -1;
    }
    for (int i = 0; i < DAY_MINUTES; i++) {
        if (r->day.first[i + 1] > r->day.first[i]) {
            if (post_rows(r, r->day.order + r->day.first[i],
                          r->day.first[i + 1] - r->day.first[i]) != 0)
            {
                return -1;
            }
            break;
        }
    }
    say("--close: posted the first minute of %s (%llu bars)", name,
        (unsigned long long) (r->bars - bars0));
    return wait_verified(r);
}

static void
print_bucket(yajl_val root, const char *key, const char *label)
{
    yajl_val  b = json_get(root, key, NULL);

    if (b == NULL || !YAJL_IS_OBJECT(b)) {
        printf("  %-10s %8s\n", label, "-");
        return;
    }
    /* + 0.0: a DOWN prediction on an unchanged price has a pnl of -0 */
    printf("  %-10s %8.0f %6.0f %6.0f %9.4f %10.5f %10.5f\n", label,
           json_num(b, "n", NULL, 0), json_num(b, "long_count", NULL, 0),
           json_num(b, "short_count", NULL, 0),
           json_num(b, "win_rate", NULL, NAN),
           json_num(b, "mean_pnl", NULL, NAN) + 0.0,
           json_num(b, "median_pnl", NULL, NAN) + 0.0);
}

/* a number, or "-" for null (no loss: no profit factor) */
static void
print_cell(yajl_val b, const char *key, const char *fmt, int width)
{
    double  v = json_num(b, key, NULL, NAN);

    if (isfinite(v)) {
        printf(fmt, width, v + 0.0);
    } else {
        printf("%*s", width, "-");
    }
}

/* What a bucket's win rate is worth (SPEC 3.1). */
static void
print_worth(yajl_val root, const char *key, const char *label)
{
    yajl_val  b = json_get(root, key, NULL), ci;

    if (b == NULL || !YAJL_IS_OBJECT(b)) {
        printf("  %-10s %17s\n", label, "-");
        return;
    }
    ci = json_get(b, "win_rate_ci", NULL);
    printf("  %-10s", label);
    if (ci && YAJL_IS_ARRAY(ci) && ci->u.array.len == 2) {
        printf("  %.4f-%.4f", YAJL_GET_DOUBLE(ci->u.array.values[0]),
               YAJL_GET_DOUBLE(ci->u.array.values[1]));
    } else {
        printf(" %14s", "-");
    }
    print_cell(b, "chance_win_rate", " %*.4f", 7);
    print_cell(b, "p_value", " %*.4g", 10);
    print_cell(b, "profit_factor", " %*.3f", 7);
    print_cell(b, "avg_win", " %*.5f", 9);
    print_cell(b, "avg_loss", " %*.5f", 9);
    print_cell(b, "max_drawdown", " %*.4f", 9);
    printf("\n");
}

/* The reliability tables: raw and calibrated prob_up by tenth, against
 * the up moves that followed. */
static void
print_calibration(yajl_val root)
{
    yajl_val  cal = json_get(root, "calibration", NULL);
    yajl_val  raw = cal ? json_get(cal, "bins", NULL) : NULL;
    yajl_val  adj = cal ? json_get(cal, "calibrated_bins", NULL) : NULL;
    yajl_val  brier = cal ? json_get(cal, "brier", NULL) : NULL;

    if (raw == NULL || adj == NULL || !YAJL_IS_ARRAY(raw)
        || !YAJL_IS_ARRAY(adj) || raw->u.array.len != adj->u.array.len)
    {
        return;
    }
    printf("calibration: prob_up by tenth against the up moves that "
           "followed (ties half)\n");
    printf("  %-9s | %6s %8s %8s | %6s %8s %8s\n", "bin", "raw n", "mean",
           "realized", "cal n", "mean", "realized");
    for (size_t i = 0; i < raw->u.array.len; i++) {
        yajl_val  a = raw->u.array.values[i], c = adj->u.array.values[i];

        printf("  [%.1f,%.1f%c |", json_num(a, "lo", NULL, 0),
               json_num(a, "hi", NULL, 0), i + 1 < raw->u.array.len ? ')' : ']');
        print_cell(a, "n", " %*.0f", 6);
        print_cell(a, "mean_prob_up", " %*.3f", 8);
        print_cell(a, "realized_up", " %*.3f", 8);
        printf(" |");
        print_cell(c, "n", " %*.0f", 6);
        print_cell(c, "mean_prob_up", " %*.3f", 8);
        print_cell(c, "realized_up", " %*.3f", 8);
        printf("\n");
    }
    if (brier) {
        printf("  brier: raw");
        print_cell(brier, "raw", " %*.5f", 0);
        printf(", calibrated");
        print_cell(brier, "calibrated", " %*.5f", 0);
        printf(", base rate");
        print_cell(brier, "base_rate", " %*.5f", 0);
        printf("\n");
    }
}

/* GET /performance?period=all as a table; *total and *verified for the
 * summary line. */
static int
print_performance(replay_t *r, double *total, double *verified)
{
    static const char *const  keys[][2] = {
        { "all_stats", "all" }, { "top_1pct", "top 1%" },
        { "top_5pct", "top 5%" }, { "top_10pct", "top 10%" },
        { "long_stats", "long" }, { "short_stats", "short" },
    };
    prt_http_response_t       res;
    yajl_val                  root;
    double                    pending;

    if (call(r, "GET", PRT_API "/performance?period=all", NULL, 0, &res)
        != 0)
    {
        return -1;
    }
    if (res.status != 200) {
        http_failure("GET /performance", &res);
        return -1;
    }
    root = parse_json(&res);
    *total = json_num(root, "total_predictions", NULL, 0);
    *verified = json_num(root, "verified", NULL, 0);
    pending = json_num(root, "pending", NULL, 0);
    printf("performance (period all): %.0f predictions, %.0f verified, "
           "%.0f pending, %.0f unverifiable\n", *total, *verified, pending,
           json_num(root, "unverifiable", NULL, 0));
    printf("  %-10s %8s %6s %6s %9s %10s %10s\n", "bucket", "n", "long",
           "short", "win_rate", "mean_pnl", "median_pnl");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        print_bucket(root, keys[i][0], keys[i][1]);
    }
    printf("  %-10s %15s %7s %10s %7s %9s %9s %9s\n", "worth",
           "win_rate 95% CI", "chance", "p_value", "p.fact", "avg_win",
           "avg_loss", "max_dd");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        print_worth(root, keys[i][0], keys[i][1]);
    }
    print_calibration(root);
    if (pending > 0 && r->feed_clock) {
        say("note: %.0f predictions are still pending: their horizon ends "
            "after the newest bar posted, and the feed clock only moves "
            "with bars (replay the next trading day as well, or --close; "
            "docs/replay.md)", pending);
    }
    yajl_tree_free(root);
    return 0;
}

static void
print_summary(replay_t *r, double total, double verified)
{
    double  secs = (double) (prt_monotonic_ms() - r->started_ms) / 1000.0;
    double  days = (double) r->ingest_ms / 1000.0;

    printf("replay: %llu days, %llu bars posted, %llu accepted, "
           "%llu rejected, %llu requests, %llu jobs (%llu symbols "
           "predicted, %llu failed), %.0f predictions, %.0f verified, "
           "%.2f s wall, %.2f s in the days, %.0f bars/s\n",
           (unsigned long long) r->days, (unsigned long long) r->bars,
           (unsigned long long) r->accepted,
           (unsigned long long) r->rejected,
           (unsigned long long) r->requests, (unsigned long long) r->njobs,
           (unsigned long long) r->scan_ok,
           (unsigned long long) r->scan_failed, total, verified, secs, days,
           days > 0 ? (double) r->bars / days : 0.0);
    fflush(stdout);
}


/* ---- the command --------------------------------------------------------- */

static int
replay_setup(replay_t *r)
{
    prt_http_options_t  ho = { r->o.timeout_s * 1000, 0, r->o.token,
                               r->o.cacert };
    char                err[PRT_HTTP_ERR_SIZE];

    r->http = prt_http_new(r->o.url, &ho, err, sizeof(err));
    if (r->http == NULL) {
        fprintf(stderr, "--url %s%s: %s\n", r->o.url,
                r->o.token ? " with that token" : "", err);
        return EXIT_USAGE;
    }
    r->reader = prt_ff_reader_new(NULL);
    r->body_cap = r->o.max_body + 1;
    r->body = malloc(r->body_cap);
    if (r->reader == NULL || r->body == NULL
        || (r->o.nsymbols && make_run_bodies(r) != 0))
    {
        say("out of memory");
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static void
replay_free(replay_t *r)
{
    for (size_t i = 0; r->run_body && i < r->o.nhorizons; i++) {
        free(r->run_body[i]);
    }
    free(r->run_body);
    free(r->run_len);
    free(r->body);
    day_free(&r->day);
    prt_ff_reader_free(r->reader);
    prt_http_free(r->http);
    free(r->o.symbols);
    explicit_bzero(r->o.token_buf, sizeof(r->o.token_buf));
}

static int
replay_run(replay_t *r)
{
    day_file_t  *files;
    size_t       nfiles;
    double       total = 0, verified = 0;
    int          rc = 0;

    if (list_days(r->o.data_dir, r->o.from, r->o.to, &files, &nfiles) != 0) {
        return EXIT_USAGE;
    }
    if (nfiles == 0) {
        fprintf(stderr, "no flat file (YYYY-MM-DD.csv.gz) of that range in "
                "%s\n", r->o.data_dir);
        free_days(files, nfiles);
        return EXIT_USAGE;
    }
    note_missing_days(files, nfiles, r->o.from, r->o.to);
    if (check_engine(r) != 0) {
        free_days(files, nfiles);
        return EXIT_FAILED;
    }
    for (size_t i = 0; i < nfiles && rc == 0; i++) {
        rc = replay_day(r, files[i].path, files[i].day);
    }
    free_days(files, nfiles);
    if (rc == 0 && r->accepted) {
        rc = wait_verified(r);
    }
    if (rc == 0 && r->o.close_day && r->accepted) {
        rc = close_last_day(r);
    }
    if (rc == 0) {
        rc = print_performance(r, &total, &verified);
    }
    print_summary(r, total, verified);
    return rc == 0 ? EXIT_OK : EXIT_FAILED;
}

int
prt_replay_command(int argc, char **argv)
{
    replay_t  r;
    int       rc;

    memset(&r, 0, sizeof(r));
    r.started_ms = prt_monotonic_ms();
    rc = parse_args(&r.o, argc, argv);
    if (rc != 0) {
        if (rc > 0) {
            usage(stdout);
        } else {
            fprintf(stderr, "see: pattern-rt-engine replay --help\n");
        }
        free(r.o.symbols);
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    }
    rc = replay_setup(&r);
    if (rc == EXIT_OK) {
        rc = replay_run(&r);
    }
    replay_free(&r);
    return rc;
}
