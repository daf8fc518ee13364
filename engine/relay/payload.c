#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/jobid.h"
#include "relay/payload.h"

size_t
prt_relay_encode(const prt_event_hdr_t *hdr, const char *json, size_t len,
    char *out, size_t cap)
{
    char    edge[32];
    int     n;

    if (memchr(json, '\0', len) != NULL) {
        return 0;
    }
    if (hdr->kind == PRT_EVENT_RESULT) {
        snprintf(edge, sizeof(edge), "%.17g", hdr->edge);
    } else {
        snprintf(edge, sizeof(edge), "-");
    }
    n = snprintf(out, cap, "e %u %u %u %u %" PRIu64 " %s %s %s\n",
                 hdr->stream, hdr->kind, hdr->coalesce, hdr->direction,
                 hdr->seq, hdr->job_id[0] ? hdr->job_id : "-", edge,
                 hdr->symbol[0] ? hdr->symbol : "-");
    if (n <= 0 || (size_t) n + len + 1 > cap) {
        return 0;
    }
    memcpy(out + n, json, len);
    out[n + len] = '\0';
    return (size_t) n + len;
}


/* ---- decoding ------------------------------------------------------------ */

/* The next space- or newline-ended field of [*p, end): its bytes. */
static int
field(const char **p, const char *end, char stop, char *out, size_t cap)
{
    const char  *q = *p;
    size_t       n;

    while (q < end && *q != stop && *q != ' ' && *q != '\n') {
        q++;
    }
    n = (size_t) (q - *p);
    if (q == end || *q != stop || n == 0 || n >= cap) {
        return -1;
    }
    memcpy(out, *p, n);
    out[n] = '\0';
    *p = q + 1;
    return 0;
}

/* A decimal without sign, leading zeros or more than max. */
static int
number(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t  v = 0;

    if (s[0] == '0' && s[1] != '\0') {
        return -1;
    }
    for (; *s; s++) {
        uint64_t  d = (uint64_t) (*s - '0');

        /* v * 10 + d <= max */
        if (*s < '0' || *s > '9' || d > max || v > (max - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* SPEC's symbol: ^[A-Z][A-Z0-9.-]{0,9}$ */
static int
symbol_ok(const char *s)
{
    size_t  n = strlen(s);

    if (n < 1 || n > 10 || s[0] < 'A' || s[0] > 'Z') {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '.' || s[i] == '-'))
        {
            return 0;
        }
    }
    return 1;
}

static int
decode_header(const char **p, const char *end, prt_event_hdr_t *hdr)
{
    char      f[8][48];
    uint64_t  v[5], max[5] = { PRT_STREAM_COUNT - 1, PRT_EVENT_PRICE_UPDATE,
                               1, 1, UINT64_MAX };
    uint8_t   id[PRT_JOB_UUID_LEN];
    char     *e;

    for (int i = 0; i < 8; i++) {
        if (field(p, end, i == 7 ? '\n' : ' ', f[i], sizeof(f[i])) != 0) {
            return -1;
        }
    }
    for (int i = 0; i < 5; i++) {
        if (number(f[i], max[i], &v[i]) != 0) {
            return -1;
        }
    }
    memset(hdr, 0, sizeof(*hdr));
    hdr->stream = (uint8_t) v[0];
    hdr->kind = (uint8_t) v[1];
    hdr->coalesce = (uint8_t) v[2];
    hdr->direction = (uint8_t) v[3];
    hdr->seq = v[4];
    /* alerts are made by the workers from results, never published */
    if (hdr->stream == PRT_STREAM_ALERTS || hdr->kind == 0) {
        return -1;
    }
    if (strcmp(f[5], "-") == 0) {
        if (hdr->stream == PRT_STREAM_JOB) {
            return -1;
        }
    } else if (prt_job_id_parse(f[5], id) != 0) {
        return -1;
    } else {
        prt_job_id_format(id, hdr->job_id);
        if (strcmp(hdr->job_id, f[5]) != 0) {
            return -1;                 /* only the canonical text */
        }
    }
    if (hdr->kind == PRT_EVENT_RESULT) {
        errno = 0;
        hdr->edge = strtod(f[6], &e);
        if (*e != '\0' || errno != 0 || !isfinite(hdr->edge)) {
            return -1;
        }
    } else if (strcmp(f[6], "-") != 0) {
        return -1;
    }
    if (strcmp(f[7], "-") != 0) {
        if (!symbol_ok(f[7])) {
            return -1;
        }
        memcpy(hdr->symbol, f[7], strlen(f[7]) + 1);
    }
    return 0;
}

/*
 * One JSON object on one line, valid UTF-8: the hub sends it as a text
 * frame as it is and a replay separates events by newlines.
 */
static int
json_ok(const char *json, size_t len)
{
    yajl_handle  h;
    int          ok;

    if (len < 2 || json[0] != '{' || json[len - 1] != '}'
        || memchr(json, '\n', len) != NULL)
    {
        return 0;
    }
    h = yajl_alloc(NULL, NULL, NULL);
    if (h == NULL) {
        return 0;
    }
    ok = yajl_parse(h, (const unsigned char *) json, len) == yajl_status_ok
         && yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

int
prt_relay_decode(const char *text, size_t len, prt_event_hdr_t *hdr,
    const char **json, size_t *json_len)
{
    const char  *p = text + 2, *end = text + len;

    if (memchr(text, '\0', len) != NULL) {
        return -1;
    }
    if (len == 2 && memcmp(text, "g\n", 2) == 0) {
        return PRT_RELAY_GAP;
    }
    if (len < 2 || memcmp(text, "e ", 2) != 0
        || decode_header(&p, end, hdr) != 0)
    {
        return -1;
    }
    if (!json_ok(p, (size_t) (end - p))) {
        return -1;
    }
    *json = p;
    *json_len = (size_t) (end - p);
    return PRT_RELAY_EVENT;
}


/* ---- parts ----------------------------------------------------------------- */

size_t
prt_relay_part_len(const char *text, size_t len, size_t at)
{
    size_t  n = len - at;

    if (n <= PRT_RELAY_PART_MAX) {
        return n;
    }
    n = PRT_RELAY_PART_MAX;
    /* back off continuation bytes (10xxxxxx): the next part starts on a
     * character, so each part is valid text on its own */
    while (n > 0 && ((unsigned char) text[at + n] & 0xc0) == 0x80) {
        n--;
    }
    return n;
}

int
prt_relay_part(const char *text, size_t len, unsigned *count,
    unsigned *index, size_t *skip)
{
    const char  *p = text + 2, *end = text + len;
    char         f[2][16];
    uint64_t     v[2];

    if (len < 2 || memcmp(text, "p ", 2) != 0
        || field(&p, end, ' ', f[0], sizeof(f[0])) != 0
        || field(&p, end, '\n', f[1], sizeof(f[1])) != 0
        || number(f[0], PRT_RELAY_PARTS_MAX, &v[0]) != 0
        || number(f[1], v[0] - 1, &v[1]) != 0 || v[0] < 2 || p == end)
    {
        return -1;
    }
    *count = (unsigned) v[0];
    *index = (unsigned) v[1];
    *skip = (size_t) (p - text);
    return 0;
}
