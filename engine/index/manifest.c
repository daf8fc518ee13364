#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "pattern_rt_nytime.h"
#include "core/json.h"
#include "core/log.h"
#include "index/manifest.h"

static void
json_day(prt_json_t *j, const char *key, int32_t day)
{
    char  buf[16];

    if (prt_format_date(day, buf, sizeof(buf)) < 0) {
        prt_json_knull(j, key);
        return;
    }
    prt_json_kstr(j, key, buf);
}

static void
manifest_json(const prt_manifest_t *m, prt_json_t *j)
{
    prt_json_open(j);
    prt_json_kint(j, "format", m->format);
    prt_json_kstr(j, "engine_version", m->engine_version);
    prt_json_kint(j, "dim", m->dim);
    prt_json_kint(j, "window", m->window);
    prt_json_key(j, "horizons");
    prt_json_array(j);
    for (int i = 0; i < m->n_horizons; i++) {
        prt_json_int(j, m->horizons[i]);
    }
    prt_json_array_end(j);
    prt_json_kstr(j, "factory", m->factory);
    prt_json_kuint(j, "nlist", m->nlist);
    prt_json_kuint(j, "nprobe", m->nprobe);
    prt_json_kuint(j, "refine", m->refine);
    prt_json_knum(j, "recall_at_40", m->recall);
    prt_json_kuint(j, "recall_queries", m->recall_queries);
    prt_json_kuint(j, "patterns", m->patterns);
    prt_json_kuint(j, "tickers", m->tickers);
    prt_json_kuint(j, "days", m->days);
    json_day(j, "first_day", m->first_day);
    json_day(j, "last_day", m->last_day);
    prt_json_knum(j, "min_window_volume", m->min_window_volume);
    prt_json_ktime(j, "built_at", m->built_at_ms);
    prt_json_knum(j, "build_seconds", m->build_seconds);
    prt_json_kuint(j, "updates", m->updates);

    prt_json_key(j, "source");
    prt_json_open(j);
    prt_json_kuint(j, "files", m->files);
    prt_json_kuint(j, "rows", m->rows);
    prt_json_kuint(j, "malformed_rows", m->malformed_rows);
    prt_json_kuint(j, "skipped_rows", m->skipped_rows);
    prt_json_close(j);

    prt_json_key(j, "windows_not_indexed");
    prt_json_open(j);
    prt_json_kuint(j, "not_contiguous", m->windows_short);
    prt_json_kuint(j, "flat", m->windows_flat);
    prt_json_kuint(j, "bad_price", m->windows_price);
    prt_json_kuint(j, "low_volume", m->windows_low_volume);
    prt_json_close(j);
    prt_json_close(j);
}

int
prt_manifest_write(const prt_manifest_t *m, const char *path)
{
    prt_json_t   j;
    const char  *body;
    size_t       len;
    FILE        *f;
    int          rc = -1;

    if (prt_json_init(&j) != 0) {
        return -1;
    }
    manifest_json(m, &j);
    body = prt_json_body(&j, &len);

    f = fopen(path, "w");
    if (f && !prt_json_failed(&j) && fwrite(body, 1, len, f) == len
        && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0)
    {
        rc = 0;
    }
    if (f && fclose(f) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        prt_error("writing %s: %s", path, strerror(errno));
    }
    prt_json_free(&j);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

static yajl_val
get(yajl_val obj, const char *a, const char *b)
{
    const char  *path[3] = { a, b, NULL };

    return yajl_tree_get(obj, path, yajl_t_any);
}

static const char *
get_string(yajl_val obj, const char *key)
{
    yajl_val  v = get(obj, key, NULL);

    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

static uint64_t
get_uint(yajl_val obj, const char *a, const char *b, int *bad)
{
    yajl_val  v = get(obj, a, b);

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0) {
        *bad = 1;
        return 0;
    }
    return (uint64_t) YAJL_GET_INTEGER(v);
}

static double
get_num(yajl_val obj, const char *key, int *bad)
{
    yajl_val  v = get(obj, key, NULL);

    if (!YAJL_IS_NUMBER(v)) {
        *bad = 1;
        return 0;
    }
    return YAJL_GET_DOUBLE(v);
}

static void
get_str(yajl_val obj, const char *key, char *out, size_t cap, int *bad)
{
    const char  *s = get_string(obj, key);

    if (s == NULL || strlen(s) >= cap) {
        *bad = 1;
        return;
    }
    strcpy(out, s);
}

static int32_t
get_day(yajl_val obj, const char *key, int *bad)
{
    const char  *s = get_string(obj, key);
    int64_t      day;

    if (s == NULL || prt_parse_date(s, strlen(s), &day) != 0) {
        *bad = 1;
        return 0;
    }
    return (int32_t) day;
}

static void
get_horizons(yajl_val obj, prt_manifest_t *m, int *bad)
{
    yajl_val  v = get(obj, "horizons", NULL);

    if (!YAJL_IS_ARRAY(v) || v->u.array.len > 15) {
        *bad = 1;
        return;
    }
    m->n_horizons = (int) v->u.array.len;
    for (size_t i = 0; i < v->u.array.len; i++) {
        if (!YAJL_IS_INTEGER(v->u.array.values[i])) {
            *bad = 1;
            return;
        }
        m->horizons[i] = (int) YAJL_GET_INTEGER(v->u.array.values[i]);
    }
}

static int
manifest_from_tree(prt_manifest_t *m, yajl_val t)
{
    const char  *built_at;
    int          bad = 0;

    m->format = (int) get_uint(t, "format", NULL, &bad);
    get_str(t, "engine_version", m->engine_version,
            sizeof(m->engine_version), &bad);
    m->dim = (int) get_uint(t, "dim", NULL, &bad);
    m->window = (int) get_uint(t, "window", NULL, &bad);
    get_horizons(t, m, &bad);
    get_str(t, "factory", m->factory, sizeof(m->factory), &bad);
    m->nlist = get_uint(t, "nlist", NULL, &bad);
    m->nprobe = get_uint(t, "nprobe", NULL, &bad);
    m->refine = get_uint(t, "refine", NULL, &bad);
    m->recall = get_num(t, "recall_at_40", &bad);
    m->recall_queries = get_uint(t, "recall_queries", NULL, &bad);
    m->patterns = get_uint(t, "patterns", NULL, &bad);
    m->tickers = get_uint(t, "tickers", NULL, &bad);
    m->days = get_uint(t, "days", NULL, &bad);
    m->first_day = get_day(t, "first_day", &bad);
    m->last_day = get_day(t, "last_day", &bad);
    m->min_window_volume = get_num(t, "min_window_volume", &bad);
    m->build_seconds = get_num(t, "build_seconds", &bad);
    m->updates = get_uint(t, "updates", NULL, &bad);
    m->files = get_uint(t, "source", "files", &bad);
    m->rows = get_uint(t, "source", "rows", &bad);
    m->malformed_rows = get_uint(t, "source", "malformed_rows", &bad);
    m->skipped_rows = get_uint(t, "source", "skipped_rows", &bad);
    m->windows_short = get_uint(t, "windows_not_indexed", "not_contiguous", &bad);
    m->windows_flat = get_uint(t, "windows_not_indexed", "flat", &bad);
    m->windows_price = get_uint(t, "windows_not_indexed", "bad_price", &bad);
    m->windows_low_volume = get_uint(t, "windows_not_indexed", "low_volume", &bad);

    built_at = get_string(t, "built_at");
    if (built_at == NULL
        || prt_parse_iso(built_at, strlen(built_at), &m->built_at_ms) != 0)
    {
        bad = 1;
    }
    return bad ? -1 : 0;
}

int
prt_manifest_read(prt_manifest_t *m, const char *path, char *err,
    size_t errlen)
{
    FILE      *f;
    char      *buf;
    long       size;
    yajl_val   tree;
    char       yerr[128];
    int        rc;

    memset(m, 0, sizeof(*m));
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || size > 65536
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        snprintf(err, errlen, "%s: unreadable or too large", path);
        return -1;
    }
    buf = malloc((size_t) size + 1);
    if (buf == NULL || fread(buf, 1, (size_t) size, f) != (size_t) size) {
        free(buf);
        fclose(f);
        snprintf(err, errlen, "%s: read failed", path);
        return -1;
    }
    fclose(f);
    buf[size] = '\0';

    tree = yajl_tree_parse(buf, yerr, sizeof(yerr));
    free(buf);
    if (tree == NULL) {
        snprintf(err, errlen, "%s: %s", path, yerr);
        return -1;
    }
    rc = manifest_from_tree(m, tree);
    yajl_tree_free(tree);
    if (rc != 0) {
        snprintf(err, errlen, "%s: missing or malformed fields", path);
    }
    return rc;
}
