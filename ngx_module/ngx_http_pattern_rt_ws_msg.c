/*
 * Parsing WebSocket client messages (ngx_http_pattern_rt_ws_msg.h) with
 * yajl's tree: strict (unknown fields, wrong types and unknown message
 * types are errors the client is told about), bounded (the frame size
 * limit bounds the input; nesting is refused before parsing).
 */

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "ngx_http_pattern_rt_ws_msg.h"


#define PRT_WS_MSG_MAX_DEPTH  4


static int
prt_ws_msg_fail(char *error, size_t len, const char *what, const char *name)
{
    snprintf(error, len, what, name);
    return -1;
}


/* the nesting a message may have is one object: deeper input is refused
 * before yajl builds a tree for it */
static int
prt_ws_msg_shallow(const char *text, size_t len)
{
    size_t  depth = 0;
    int     in_string = 0, escaped = 0;

    for (size_t i = 0; i < len; i++) {
        char  c = text[i];

        if (in_string) {
            if (escaped) {
                escaped = 0;
            } else if (c == '\\') {
                escaped = 1;
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > PRT_WS_MSG_MAX_DEPTH) {
                return 0;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '\0') {
            return 0;
        }
    }
    return 1;
}


static int
prt_ws_msg_job_id(const char *s, char *out)
{
    size_t  i;

    if (strlen(s) != PRT_JOB_ID_LEN) {
        return -1;
    }
    for (i = 0; i < PRT_JOB_ID_LEN; i++) {
        char  c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return -1;
            }
        } else if (c >= 'A' && c <= 'F') {
            c = (char) (c - 'A' + 'a');
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return -1;
        }
        out[i] = c;
    }
    out[i] = '\0';
    return 0;
}


/* ---- the alerts filter ---------------------------------------------------- */


/* /run's rule: 1 to 10 characters, a letter, then letters, digits, '.' or
 * '-', compared upper-cased. 0 and out (NUL padded), or -1. */
static int
prt_ws_msg_symbol(const char *s, size_t len, char out[PRT_SYMBOL_SIZE])
{
    size_t  i;

    if (len == 0 || len > 10) {
        return -1;
    }
    memset(out, 0, PRT_SYMBOL_SIZE);
    for (i = 0; i < len; i++) {
        char  c = s[i];

        if (c >= 'a' && c <= 'z') {
            c = (char) (c - 'a' + 'A');
        }
        if (!((c >= 'A' && c <= 'Z')
              || (i > 0 && ((c >= '0' && c <= '9') || c == '.' || c == '-'))))
        {
            return -1;
        }
        out[i] = c;
    }
    return 0;
}


/* inserts sym into the sorted, distinct list; -1 when it is full */
static int
prt_ws_msg_symbol_add(prt_ws_alert_filter_t *f, const char *sym)
{
    size_t  lo = 0, hi = f->nsymbols, mid;
    int     c;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(f->symbols[mid], sym);
        if (c == 0) {
            return 0;                          /* a repeat: kept once */
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (f->nsymbols == PRT_WS_ALERT_SYMBOLS_MAX) {
        return -1;
    }
    memmove(f->symbols[lo + 1], f->symbols[lo],
            (f->nsymbols - lo) * PRT_SYMBOL_SIZE);
    memcpy(f->symbols[lo], sym, PRT_SYMBOL_SIZE);
    f->nsymbols++;
    return 0;
}


static int
prt_ws_msg_is_separator(char c)
{
    return c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t';
}


/* one string of symbols split on spaces, commas and newlines, as /run */
static int
prt_ws_msg_symbol_string(const char *s, prt_ws_alert_filter_t *f,
    char *error, size_t len)
{
    char    sym[PRT_SYMBOL_SIZE];
    size_t  i = 0, start, n = strlen(s);

    while (i < n) {
        while (i < n && prt_ws_msg_is_separator(s[i])) {
            i++;
        }
        start = i;
        while (i < n && !prt_ws_msg_is_separator(s[i])) {
            i++;
        }
        if (i == start) {
            break;
        }
        if (prt_ws_msg_symbol(s + start, i - start, sym) != 0) {
            return prt_ws_msg_fail(error, len, "symbols: a symbol is 1 to 10 "
                                   "characters: a letter, then letters, "
                                   "digits, '.' or '-'%s", "");
        }
        if (prt_ws_msg_symbol_add(f, sym) != 0) {
            snprintf(error, len, "symbols: more than %d distinct symbols",
                     PRT_WS_ALERT_SYMBOLS_MAX);
            return -1;
        }
    }
    return 0;
}


static int
prt_ws_msg_symbols(yajl_val v, prt_ws_alert_filter_t *f, char *error,
    size_t len)
{
    size_t  i;

    if (YAJL_IS_STRING(v)) {
        if (prt_ws_msg_symbol_string(v->u.string, f, error, len) != 0) {
            return -1;
        }

    } else if (YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++) {
            if (!YAJL_IS_STRING(v->u.array.values[i])) {
                return prt_ws_msg_fail(error, len, "%s must be an array of "
                                       "strings or one string", "symbols");
            }
            if (prt_ws_msg_symbol_string(v->u.array.values[i]->u.string, f,
                                         error, len) != 0)
            {
                return -1;
            }
        }

    } else {
        return prt_ws_msg_fail(error, len, "%s must be an array of strings "
                               "or one string", "symbols");
    }

    if (f->nsymbols == 0) {
        return prt_ws_msg_fail(error, len, "%s is empty (leave it out for "
                               "every symbol)", "symbols");
    }
    return 0;
}


static int
prt_ws_msg_filter_field(yajl_val v, const char *key, prt_ws_msg_t *out,
    char *error, size_t len)
{
    double  d;

    out->has_filter = 1;

    if (strcmp(key, "min_edge") == 0) {
        if (!YAJL_IS_NUMBER(v)) {
            return prt_ws_msg_fail(error, len, "%s must be a number >= 0",
                                   key);
        }
        d = YAJL_IS_INTEGER(v) ? (double) YAJL_GET_INTEGER(v)
                               : YAJL_GET_DOUBLE(v);
        if (!isfinite(d) || d < 0) {
            return prt_ws_msg_fail(error, len, "%s must be a number >= 0",
                                   key);
        }
        out->filter.min_edge = d + 0.0;
        return 0;
    }

    if (strcmp(key, "direction") == 0) {
        if (YAJL_IS_STRING(v) && strcmp(v->u.string, "ALL") == 0) {
            out->filter.direction = PRT_WS_DIRECTION_ALL;
        } else if (YAJL_IS_STRING(v) && strcmp(v->u.string, "UP") == 0) {
            out->filter.direction = PRT_WS_DIRECTION_UP;
        } else if (YAJL_IS_STRING(v) && strcmp(v->u.string, "DOWN") == 0) {
            out->filter.direction = PRT_WS_DIRECTION_DOWN;
        } else {
            return prt_ws_msg_fail(error, len, "%s must be \"UP\", \"DOWN\" "
                                   "or \"ALL\"", key);
        }
        return 0;
    }

    /* symbols */
    return prt_ws_msg_symbols(v, &out->filter, error, len);
}


int
prt_ws_alert_match(const prt_ws_alert_filter_t *f, const char *symbol,
    double edge, int direction)
{
    size_t  lo = 0, hi = f->nsymbols, mid;
    int     c;

    /* NaN never passes: an edge is always a number */
    if (!(edge >= f->min_edge)) {
        return 0;
    }
    if ((f->direction == PRT_WS_DIRECTION_UP && direction != 0)
        || (f->direction == PRT_WS_DIRECTION_DOWN && direction != 1))
    {
        return 0;
    }
    if (f->nsymbols == 0) {
        return 1;
    }
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strncmp(f->symbols[mid], symbol, PRT_SYMBOL_SIZE);
        if (c == 0) {
            return 1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}


/* ---- one field -------------------------------------------------------------- */


static int
prt_ws_msg_field(yajl_val v, const char *key, prt_ws_msg_t *out,
    char *error, size_t len)
{
    if (strcmp(key, "type") == 0) {
        return 0;                                /* read before */
    }

    if (strcmp(key, "job_id") == 0) {
        if (!YAJL_IS_STRING(v)
            || prt_ws_msg_job_id(v->u.string, out->job_id) != 0)
        {
            return prt_ws_msg_fail(error, len, "%s must be a job id (UUID)",
                                   key);
        }
        out->stream = PRT_STREAM_JOB;
        return 0;
    }

    if (strcmp(key, "channel") == 0) {
        if (YAJL_IS_STRING(v) && strcmp(v->u.string, "verifications") == 0) {
            out->stream = PRT_STREAM_VERIFICATIONS;
            return 0;
        }
        if (YAJL_IS_STRING(v) && strcmp(v->u.string, "prices") == 0) {
            out->stream = PRT_STREAM_PRICES;
            return 0;
        }
        if (YAJL_IS_STRING(v) && strcmp(v->u.string, "alerts") == 0) {
            out->stream = PRT_STREAM_ALERTS;
            return 0;
        }
        return prt_ws_msg_fail(error, len, "%s must be \"verifications\", "
                               "\"prices\" or \"alerts\"", key);
    }

    if (strcmp(key, "min_edge") == 0 || strcmp(key, "direction") == 0
        || strcmp(key, "symbols") == 0)
    {
        return prt_ws_msg_filter_field(v, key, out, error, len);
    }

    if (strcmp(key, "since") == 0) {
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0) {
            return prt_ws_msg_fail(error, len,
                                   "%s must be a non-negative integer", key);
        }
        out->has_since = 1;
        out->since = (uint64_t) YAJL_GET_INTEGER(v);
        return 0;
    }

    return prt_ws_msg_fail(error, len, "unknown field \"%s\"", key);
}


static int
prt_ws_msg_type(yajl_val tree, prt_ws_msg_t *out, char *error, size_t len)
{
    const char  *path[] = { "type", NULL };
    yajl_val     type = yajl_tree_get(tree, path, yajl_t_string);

    if (type == NULL) {
        return prt_ws_msg_fail(error, len, "%s (a string) is required",
                               "type");
    }
    if (strcmp(type->u.string, "subscribe") == 0) {
        out->type = PRT_WS_MSG_SUBSCRIBE;
    } else if (strcmp(type->u.string, "unsubscribe") == 0) {
        out->type = PRT_WS_MSG_UNSUBSCRIBE;
    } else if (strcmp(type->u.string, "ping") == 0) {
        out->type = PRT_WS_MSG_PING;
    } else {
        return prt_ws_msg_fail(error, len, "unknown message %s: expected "
                               "subscribe, unsubscribe or ping", "type");
    }
    return 0;
}


static int
prt_ws_msg_check(const prt_ws_msg_t *m, int has_job, int has_channel,
    char *error, size_t len)
{
    if (m->type == PRT_WS_MSG_PING) {
        if (has_job || has_channel || m->has_since || m->has_filter) {
            return prt_ws_msg_fail(error, len, "%s takes no other field",
                                   "ping");
        }
        return 0;
    }
    if (has_job == has_channel) {
        return prt_ws_msg_fail(error, len, "exactly one of job_id and "
                               "channel is required%s", "");
    }
    if (m->type == PRT_WS_MSG_UNSUBSCRIBE && m->has_since) {
        return prt_ws_msg_fail(error, len, "%s takes no since",
                               "unsubscribe");
    }
    if (m->has_filter
        && (m->type != PRT_WS_MSG_SUBSCRIBE || m->stream != PRT_STREAM_ALERTS))
    {
        return prt_ws_msg_fail(error, len, "min_edge, direction and symbols "
                               "are only for subscribing to the %s channel",
                               "alerts");
    }
    if (m->stream == PRT_STREAM_ALERTS && m->has_since) {
        return prt_ws_msg_fail(error, len, "the %s channel takes no since "
                               "(alerts are live; results are kept over "
                               "REST)", "alerts");
    }
    return 0;
}


int
prt_ws_msg_parse(const char *text, size_t len, prt_ws_msg_t *out,
    char *error, size_t error_len)
{
    char      *copy, yerr[128];
    yajl_val   tree;
    size_t     i;
    int        rc = -1, has_job = 0, has_channel = 0;

    memset(out, 0, offsetof(prt_ws_msg_t, symbol_buf));
    out->filter.symbols = out->symbol_buf;

    if (!prt_ws_msg_shallow(text, len)) {
        return prt_ws_msg_fail(error, error_len,
                               "message nested too deep or with %s",
                               "NUL bytes");
    }

    copy = malloc(len + 1);                      /* yajl wants a C string */
    if (copy == NULL) {
        return prt_ws_msg_fail(error, error_len, "%s", "out of memory");
    }
    memcpy(copy, text, len);
    copy[len] = '\0';

    tree = yajl_tree_parse(copy, yerr, sizeof(yerr));
    free(copy);
    if (tree == NULL) {
        return prt_ws_msg_fail(error, error_len, "malformed JSON%s", "");
    }

    if (!YAJL_IS_OBJECT(tree)) {
        prt_ws_msg_fail(error, error_len, "a message is a JSON %s", "object");
        goto done;
    }
    if (prt_ws_msg_type(tree, out, error, error_len) != 0) {
        goto done;
    }

    for (i = 0; i < tree->u.object.len; i++) {
        const char  *key = tree->u.object.keys[i];

        for (size_t k = 0; k < i; k++) {
            if (strcmp(tree->u.object.keys[k], key) == 0) {
                prt_ws_msg_fail(error, error_len, "duplicate field \"%s\"",
                                key);
                goto done;
            }
        }
        if (prt_ws_msg_field(tree->u.object.values[i], key, out, error,
                             error_len) != 0)
        {
            goto done;
        }
        has_job |= strcmp(key, "job_id") == 0;
        has_channel |= strcmp(key, "channel") == 0;
    }

    rc = prt_ws_msg_check(out, has_job, has_channel, error, error_len);

done:
    yajl_tree_free(tree);
    return rc;
}
