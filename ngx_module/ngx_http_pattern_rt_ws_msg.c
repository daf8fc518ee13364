/*
 * Parsing WebSocket client messages (ngx_http_pattern_rt_ws_msg.h) with
 * yajl's tree: strict (unknown fields, wrong types and unknown message
 * types are errors the client is told about), bounded (the frame size
 * limit bounds the input; nesting is refused before parsing).
 */

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
        return prt_ws_msg_fail(error, len,
                               "%s must be \"verifications\" or \"prices\"",
                               key);
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
        if (has_job || has_channel || m->has_since) {
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

    memset(out, 0, sizeof(*out));

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
