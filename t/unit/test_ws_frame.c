/*
 * RFC 6455 frame codec (ngx_module/ngx_http_pattern_rt_ws_frame.c).
 *
 * Client frames are built here by hand, masked byte by byte with our own
 * loop (not the codec's word-wise unmask), and fed to the parser whole, one
 * byte at a time and split at every position; the results must agree with
 * each other and with the expected events. UTF-8 is checked against a slow
 * code-point decoder written independently of the codec's byte-class DFA.
 */

#include <stdint.h>

#include "tap.h"
#include "utf8_oracle.h"
#include "ngx_http_pattern_rt_ws_frame.h"

#define OP_CONT    NGX_HTTP_PATTERN_RT_WS_OP_CONTINUATION
#define OP_TEXT    NGX_HTTP_PATTERN_RT_WS_OP_TEXT
#define OP_BINARY  NGX_HTTP_PATTERN_RT_WS_OP_BINARY
#define OP_CLOSE   NGX_HTTP_PATTERN_RT_WS_OP_CLOSE
#define OP_PING    NGX_HTTP_PATTERN_RT_WS_OP_PING
#define OP_PONG    NGX_HTTP_PATTERN_RT_WS_OP_PONG

#define EV_MORE    NGX_HTTP_PATTERN_RT_WS_NEED_MORE
#define EV_MSG     NGX_HTTP_PATTERN_RT_WS_MESSAGE
#define EV_CTL     NGX_HTTP_PATTERN_RT_WS_CONTROL
#define EV_ERR     NGX_HTTP_PATTERN_RT_WS_ERROR

#define U8_OK      NGX_HTTP_PATTERN_RT_WS_UTF8_OK
#define U8_INC     NGX_HTTP_PATTERN_RT_WS_UTF8_INCOMPLETE
#define U8_BAD     NGX_HTTP_PATTERN_RT_WS_UTF8_INVALID

#define FIN        0x80
#define MAX_EVENTS 16
#define WHOLE      SIZE_MAX

/* length encodings a client may choose */
enum { LEN_MINIMAL, LEN_16, LEN_64 };


/* ---- building client frames ------------------------------------------- */

/* a growable byte string for streams of frames */
typedef struct {
    uint8_t  *p;
    size_t    len, cap;
} bytes_t;

static unsigned  key_seed = 1;

static void
bytes_put(bytes_t *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            perror("realloc");
            exit(2);
        }
    }

    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void
bytes_free(bytes_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* header with an explicit b0 (FIN/RSV/opcode) and length encoding */
static void
put_header(bytes_t *b, unsigned b0, int masked, uint64_t len, int form,
    uint8_t key[4])
{
    uint8_t  h[14];
    size_t   n = 2;
    int      i;

    h[0] = (uint8_t) b0;

    if (form == LEN_MINIMAL && len <= 125) {
        h[1] = (uint8_t) len;

    } else if (form != LEN_64 && len <= 0xffff) {
        h[1] = 126;
        h[n++] = (uint8_t) (len >> 8);
        h[n++] = (uint8_t) len;

    } else {
        h[1] = 127;
        for (i = 7; i >= 0; i--) {
            h[n++] = (uint8_t) (len >> (8 * i));
        }
    }

    if (masked) {
        h[1] |= 0x80;
        key_seed = key_seed * 1103515245u + 12345u;
        for (i = 0; i < 4; i++) {
            key[i] = (uint8_t) (key_seed >> (8 * i + 3));
            h[n++] = key[i];
        }
    }

    bytes_put(b, h, n);
}

static void
put_frame_form(bytes_t *b, unsigned b0, const void *payload, size_t len,
    int form)
{
    uint8_t        key[4];
    const uint8_t *src = payload;
    size_t         i;

    put_header(b, b0, 1, len, form, key);

    for (i = 0; i < len; i++) {
        uint8_t  c = src[i] ^ key[i % 4];

        bytes_put(b, &c, 1);
    }
}

static void
put_frame(bytes_t *b, unsigned b0, const void *payload, size_t len)
{
    put_frame_form(b, b0, payload, len, LEN_MINIMAL);
}

static void
put_str(bytes_t *b, unsigned b0, const char *s)
{
    put_frame(b, b0, s, strlen(s));
}

static void
put_close(bytes_t *b, unsigned code, const char *reason)
{
    uint8_t  p[125];
    size_t   n = strlen(reason);

    p[0] = (uint8_t) (code >> 8);
    p[1] = (uint8_t) code;
    memcpy(p + 2, reason, n);
    put_frame(b, FIN | OP_CLOSE, p, n + 2);
}


/* ---- running the parser ----------------------------------------------- */

typedef struct {
    int        kind;
    unsigned   opcode, close_code;
    size_t     len;
    uint8_t   *data;
} rec_t;

typedef struct {
    rec_t      ev[MAX_EVENTS];
    size_t     n;
    size_t     consumed;   /* total bytes consumed when the run ended */
    int        bad_call;   /* a feed broke the consumed contract */
} run_t;

static void
run_free(run_t *r)
{
    size_t  i;

    for (i = 0; i < r->n; i++) {
        free(r->ev[i].data);
    }
    memset(r, 0, sizeof(*r));
}

static void
record(run_t *r, int kind, const ngx_http_pattern_rt_ws_event_t *e)
{
    rec_t  *x;

    if (r->n == MAX_EVENTS) {
        r->bad_call = 1;
        return;
    }

    x = &r->ev[r->n++];
    x->kind = kind;
    x->opcode = e->opcode;
    x->close_code = e->close_code;
    x->len = kind == EV_ERR ? 0 : e->len;
    x->data = malloc(x->len + 1);
    if (x->data == NULL) {
        exit(2);
    }
    if (x->len) {
        memcpy(x->data, e->data, x->len);
    }
}

/*
 * Feeds in[0..len): first `first` bytes (if non-zero), then pieces of `step`
 * bytes; stops at the first error.
 */
static void
run_pieces(run_t *r, const uint8_t *in, size_t len, size_t limit,
    size_t first, size_t step)
{
    ngx_http_pattern_rt_ws_parser_t  p;
    uint8_t                         *msg = malloc(limit + 1);
    size_t                           pos = 0, end, used;
    int                              kind;

    memset(r, 0, sizeof(*r));
    ngx_http_pattern_rt_ws_parser_init(&p, msg, limit);

    while (pos < len) {
        end = first ? first : (len - pos > step ? pos + step : len);
        first = 0;

        while (pos < end) {
            kind = ngx_http_pattern_rt_ws_feed(&p, in + pos, end - pos, &used);
            if (used > end - pos || (kind == EV_MORE && used != end - pos)) {
                r->bad_call = 1;
            }
            pos += used;

            if (kind != EV_MORE) {
                record(r, kind, &p.event);
            }
            if (kind == EV_ERR) {
                r->consumed = pos;
                free(msg);
                return;
            }
        }
    }

    r->consumed = pos;
    free(msg);
}

static void
run_whole(run_t *r, const bytes_t *b, size_t limit)
{
    run_pieces(r, b->p, b->len, limit, 0, WHOLE);
}

static int
runs_equal(const run_t *a, const run_t *b)
{
    size_t  i;

    if (a->n != b->n || a->bad_call || b->bad_call) {
        return 0;
    }

    for (i = 0; i < a->n; i++) {
        const rec_t  *x = &a->ev[i], *y = &b->ev[i];

        if (x->kind != y->kind || x->opcode != y->opcode
            || x->close_code != y->close_code || x->len != y->len
            || memcmp(x->data, y->data, x->len) != 0)
        {
            return 0;
        }
    }

    return 1;
}

/* byte-at-a-time and every two-piece split give the same events as whole */
static void
check_all_splits(const bytes_t *b, size_t limit, const char *name)
{
    run_t   whole, other;
    size_t  i, bad = 0;

    run_whole(&whole, b, limit);

    run_pieces(&other, b->p, b->len, limit, 0, 1);
    ok(runs_equal(&whole, &other), "%s: one byte at a time = whole", name);
    run_free(&other);

    for (i = 1; i < b->len; i++) {
        run_pieces(&other, b->p, b->len, limit, i, WHOLE);
        if (!runs_equal(&whole, &other) && bad++ == 0) {
            printf("#   first mismatch splitting at %zu\n", i);
        }
        run_free(&other);
    }
    is_int(bad, 0, "%s: all %zu split points = whole", name, b->len);

    run_free(&whole);
}

static int
event_is(const run_t *r, size_t i, int kind, unsigned opcode,
    const void *data, size_t len)
{
    return i < r->n && r->ev[i].kind == kind && r->ev[i].opcode == opcode
           && r->ev[i].len == len && memcmp(r->ev[i].data, data, len) == 0;
}

/* the run ends in exactly one error, after `events` events, with `code` */
static void
expect_error(const bytes_t *b, size_t limit, size_t events, unsigned code,
    const char *name)
{
    run_t  r, r1;

    run_whole(&r, b, limit);
    run_pieces(&r1, b->p, b->len, limit, 0, 1);

    ok(r.n == events + 1 && r.ev[events].kind == EV_ERR
       && r.ev[events].close_code == code && !r.bad_call,
       "%s: error %u", name, code);
    if (r.n > 0 && r.ev[r.n - 1].kind == EV_ERR) {
        if (r.ev[r.n - 1].close_code != code) {
            printf("#   got close code %u\n", r.ev[r.n - 1].close_code);
        }
    } else {
        printf("#   no error, %zu events\n", r.n);
    }
    ok(runs_equal(&r, &r1), "%s: same byte by byte", name);

    run_free(&r);
    run_free(&r1);
}

/* byte-by-byte run of b fails after exactly `at` bytes */
static void
expect_error_at(const bytes_t *b, size_t limit, size_t at, unsigned code,
    const char *name)
{
    run_t  r;

    run_pieces(&r, b->p, b->len, limit, 0, 1);
    ok(r.n >= 1 && r.ev[r.n - 1].kind == EV_ERR
       && r.ev[r.n - 1].close_code == code,
       "%s: error %u", name, code);
    is_int(r.consumed, at, "%s: reported at byte %zu", name, at);
    run_free(&r);
}


/* ---- the codec's validator against utf8_oracle.h ------------------------ */

static int
dfa_utf8(const uint8_t *s, size_t len)
{
    ngx_http_pattern_rt_ws_utf8_t  u;

    ngx_http_pattern_rt_ws_utf8_init(&u);
    return ngx_http_pattern_rt_ws_utf8_validate(&u, s, len);
}


/* ---- tests: UTF-8 ------------------------------------------------------ */

static void
test_utf8_vectors(void)
{
    static const struct {
        const char  *s;
        int          want;
        const char  *name;
    } v[] = {
        { "", U8_OK, "empty" },
        { "plain ascii, longer than one word", U8_OK, "ascii" },
        { "\xc2\x80", U8_OK, "U+0080" },
        { "\xdf\xbf", U8_OK, "U+07FF" },
        { "\xe0\xa0\x80", U8_OK, "U+0800" },
        { "\xed\x9f\xbf", U8_OK, "U+D7FF" },
        { "\xee\x80\x80", U8_OK, "U+E000" },
        { "\xef\xbf\xbf", U8_OK, "U+FFFF" },
        { "\xf0\x90\x80\x80", U8_OK, "U+10000" },
        { "\xf4\x8f\xbf\xbf", U8_OK, "U+10FFFF" },
        { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", U8_OK, "kosme" },
        { "\xc0\xaf", U8_BAD, "overlong '/' C0 AF" },
        { "\xc1\xbf", U8_BAD, "overlong C1 BF" },
        { "\xe0\x80\xaf", U8_BAD, "overlong E0 80 AF" },
        { "\xf0\x80\x80\xaf", U8_BAD, "overlong F0 80 80 AF" },
        { "\xed\xa0\x80", U8_BAD, "surrogate ED A0 80" },
        { "\xed\xbf\xbf", U8_BAD, "surrogate ED BF BF" },
        { "\xf4\x90\x80\x80", U8_BAD, "U+110000 F4 90 80 80" },
        { "\xf5\x80\x80\x80", U8_BAD, "lead F5" },
        { "\xfe", U8_BAD, "FE" },
        { "\xff", U8_BAD, "FF" },
        { "\x80", U8_BAD, "lone continuation" },
        { "a\xc3(", U8_BAD, "lead then ASCII" },
        { "12345678\xe2\x82", U8_INC, "truncated euro after a word" },
        { "\xf0\x9f\x98", U8_INC, "truncated emoji" },
        { "\xe0", U8_INC, "lone E0" },
    };
    size_t  i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const uint8_t  *s = (const uint8_t *) v[i].s;

        is_int(dfa_utf8(s, strlen(v[i].s)), v[i].want, "utf8 %s", v[i].name);
        is_int(utf8_oracle(s, strlen(v[i].s)), v[i].want,
               "reference agrees: %s", v[i].name);
    }

    ok(ngx_http_pattern_rt_ws_utf8_valid((const uint8_t *) "\xc3\xa9", 2)
       && !ngx_http_pattern_rt_ws_utf8_valid((const uint8_t *) "\xc3", 1),
       "one-shot utf8_valid");
}

/* every split of multi-byte text: INCOMPLETE/OK in between, OK at the end */
static void
test_utf8_incremental(void)
{
    static const char  text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
    const uint8_t     *s = (const uint8_t *) text;
    size_t             n = sizeof(text) - 1, i, bad = 0;

    for (i = 0; i <= n; i++) {
        ngx_http_pattern_rt_ws_utf8_t  u;
        int                            r1, r2;

        ngx_http_pattern_rt_ws_utf8_init(&u);
        r1 = ngx_http_pattern_rt_ws_utf8_validate(&u, s, i);
        r2 = ngx_http_pattern_rt_ws_utf8_validate(&u, s + i, n - i);
        if (r1 != utf8_oracle(s, i) || r2 != U8_OK) {
            bad++;
        }
    }
    is_int(bad, 0, "utf8 split at all %zu points", n + 1);

    {
        ngx_http_pattern_rt_ws_utf8_t  u;

        ngx_http_pattern_rt_ws_utf8_init(&u);
        ngx_http_pattern_rt_ws_utf8_validate(&u, (const uint8_t *) "\xff", 1);
        is_int(ngx_http_pattern_rt_ws_utf8_validate(&u,
                   (const uint8_t *) "abc", 3), U8_BAD,
               "invalid stays invalid");
    }
}

/* DFA = arithmetic decoder on all sequences of up to 3 bytes, and 4-byte
 * ones with every lead and second byte */
static void
test_utf8_exhaustive(void)
{
    static const uint8_t  tail[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
                                     0x9f, 0xa0, 0xbf, 0xc0, 0xe0, 0xff };
    uint8_t               s[4];
    unsigned long         checked = 0, bad = 0;
    unsigned              a, b, c, d;
    size_t                nt = sizeof(tail);

    for (a = 0; a < 256; a++) {
        s[0] = (uint8_t) a;
        checked++;
        bad += dfa_utf8(s, 1) != utf8_oracle(s, 1);

        for (b = 0; b < 256; b++) {
            s[1] = (uint8_t) b;
            checked++;
            bad += dfa_utf8(s, 2) != utf8_oracle(s, 2);

            for (c = 0; c < 256; c++) {
                s[2] = (uint8_t) c;
                checked++;
                bad += dfa_utf8(s, 3) != utf8_oracle(s, 3);
            }

            for (c = 0; c < nt; c++) {
                s[2] = tail[c];
                for (d = 0; d < nt; d++) {
                    s[3] = tail[d];
                    checked++;
                    bad += dfa_utf8(s, 4) != utf8_oracle(s, 4);
                }
            }
        }
    }

    is_int(bad, 0, "utf8 DFA = reference on %lu sequences", checked);
}


/* a non-ASCII byte at every position of the word-at-a-time ASCII path */
static void
test_utf8_word_positions(void)
{
    uint8_t   s[40];
    size_t    k, bad = 0;

    for (k = 0; k < 32; k++) {
        memset(s, 'a', sizeof(s));
        s[k] = 0xff;
        bad += dfa_utf8(s, sizeof(s)) != U8_BAD;

        memset(s, 'a', sizeof(s));
        s[k] = 0xc3;
        s[k + 1] = 0xa9;
        bad += dfa_utf8(s, sizeof(s)) != U8_OK;
        bad += dfa_utf8(s, k + 1) != U8_INC;
    }

    is_int(bad, 0, "utf8 non-ASCII at each of 32 positions in ASCII text");
}

/* long mixed strings, whole and split in two, against the reference */
static void
test_utf8_random(void)
{
    static const char  *pieces[] = { "abcdefgh", "x", "0123456789abcdef",
                                     "\xc3\xa9", "\xe2\x82\xac",
                                     "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
                                     "\xed\x9f\xbf", "\xee\x80\x80" };
    uint8_t             s[96];
    uint32_t            x = 12345;
    unsigned long       bad = 0, invalid = 0, i;
    size_t              len, cut, np = sizeof(pieces) / sizeof(pieces[0]);

    for (i = 0; i < 200000; i++) {
        len = 0;
        while (len < 64) {
            const char  *pc;

            x = x * 1664525u + 1013904223u;
            pc = pieces[(x >> 8) % np];
            memcpy(s + len, pc, strlen(pc));
            len += strlen(pc);
        }

        /* one time in four, corrupt a random byte */
        x = x * 1664525u + 1013904223u;
        if ((x >> 30) == 0) {
            s[(x >> 8) % len] = (uint8_t) (x >> 16);
        }

        x = x * 1664525u + 1013904223u;
        cut = (x >> 8) % (len + 1);

        {
            ngx_http_pattern_rt_ws_utf8_t  u;
            int                            want = utf8_oracle(s, len), got;

            ngx_http_pattern_rt_ws_utf8_init(&u);
            ngx_http_pattern_rt_ws_utf8_validate(&u, s, cut);
            got = ngx_http_pattern_rt_ws_utf8_validate(&u, s + cut, len - cut);
            bad += got != want || dfa_utf8(s, len) != want;
            invalid += want == U8_BAD;
        }
    }

    is_int(bad, 0, "utf8 DFA = reference on 200000 random texts (%lu bad)",
           invalid);
    ok(invalid > 10000, "random texts include invalid ones");
}


/* ---- tests: unmask ----------------------------------------------------- */

static void
test_unmask(void)
{
    static const uint8_t  key[4] = { 0x12, 0xab, 0x5c, 0xf0 };
    uint8_t               buf[80], want[80];
    size_t                start, len, off, i;
    unsigned long         bad = 0;

    for (start = 0; start < 8; start++) {
        for (len = 0; len <= 64; len++) {
            for (off = 0; off < 8; off++) {
                for (i = 0; i < len; i++) {
                    buf[start + i] = (uint8_t) (i * 31 + len);
                    want[i] = buf[start + i] ^ key[(off + i) % 4];
                }
                ngx_http_pattern_rt_ws_unmask(buf + start, len, key, off);
                bad += memcmp(buf + start, want, len) != 0;
            }
        }
    }

    is_int(bad, 0, "unmask = bytewise XOR for all alignments/offsets");
}


/* ---- tests: parsing ---------------------------------------------------- */

static uint8_t *
pattern(size_t len)
{
    uint8_t  *p = malloc(len + 1);
    size_t    i;

    if (p == NULL) {
        exit(2);
    }
    for (i = 0; i < len; i++) {
        p[i] = (uint8_t) (i * 7 + (i >> 8) + 3);
    }
    return p;
}

static void
test_length_classes(void)
{
    static const size_t  lens[] = { 0, 125, 126, 65535, 65536 };
    static const char   *forms[] = { "minimal", "16-bit", "64-bit" };
    size_t               i;
    int                  form;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (form = LEN_MINIMAL; form <= LEN_64; form++) {
            bytes_t   b = { 0 };
            run_t     r, r1;
            uint8_t  *data = pattern(lens[i]);

            if (form == LEN_16 && lens[i] > 0xffff) {
                free(data);
                continue;
            }

            put_frame_form(&b, FIN | OP_BINARY, data, lens[i], form);
            run_whole(&r, &b, 65536);
            ok(r.n == 1 && event_is(&r, 0, EV_MSG, OP_BINARY, data, lens[i])
               && r.consumed == b.len,
               "binary %zu bytes, %s length", lens[i], forms[form]);

            run_pieces(&r1, b.p, b.len, 65536, 0, 1);
            ok(runs_equal(&r, &r1), "binary %zu bytes, %s, byte by byte",
               lens[i], forms[form]);

            run_free(&r);
            run_free(&r1);
            bytes_free(&b);
            free(data);
        }
    }
}

/* a stream mixing every kind of frame, split everywhere */
static void
test_stream_splits(void)
{
    bytes_t   b = { 0 };
    run_t     r;
    uint8_t  *bin = pattern(300);
    char      big[200];

    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\0';

    put_str(&b, FIN | OP_TEXT, "hello");
    put_str(&b, FIN | OP_PING, "abc");
    put_frame(&b, FIN | OP_BINARY, bin, 126);
    put_str(&b, OP_TEXT, "caf\xc3");
    put_str(&b, FIN | OP_PONG, "");
    put_str(&b, OP_CONT, "");
    put_str(&b, FIN | OP_CONT, "\xa9 \xe2\x82\xac");
    put_frame_form(&b, FIN | OP_TEXT, "ok", 2, LEN_64);
    put_str(&b, FIN | OP_TEXT, "");
    put_str(&b, FIN | OP_TEXT, big);
    put_close(&b, 1000, "bye");

    run_whole(&r, &b, 1024);
    ok(r.n == 9 && !r.bad_call, "stream: 9 events");
    ok(event_is(&r, 0, EV_MSG, OP_TEXT, "hello", 5), "stream: text");
    ok(event_is(&r, 1, EV_CTL, OP_PING, "abc", 3), "stream: ping");
    ok(event_is(&r, 2, EV_MSG, OP_BINARY, bin, 126), "stream: binary 126");
    ok(event_is(&r, 3, EV_CTL, OP_PONG, "", 0), "stream: empty pong");
    ok(event_is(&r, 4, EV_MSG, OP_TEXT, "caf\xc3\xa9 \xe2\x82\xac", 9),
       "stream: fragmented text, UTF-8 split over 3 fragments");
    ok(event_is(&r, 5, EV_MSG, OP_TEXT, "ok", 2),
       "stream: non-minimal 64-bit length accepted");
    ok(event_is(&r, 6, EV_MSG, OP_TEXT, "", 0), "stream: empty text");
    ok(event_is(&r, 7, EV_MSG, OP_TEXT, big, sizeof(big) - 1),
       "stream: 199-byte text");
    ok(event_is(&r, 8, EV_CTL, OP_CLOSE, "\x03\xe8" "bye", 5)
       && r.ev[8].close_code == 1000, "stream: close 1000");
    run_free(&r);

    check_all_splits(&b, 1024, "stream");

    bytes_free(&b);
    free(bin);
}

static void
test_fragments_with_control(void)
{
    bytes_t  b = { 0 };
    run_t    r;
    uint8_t  ping[125];

    memset(ping, 'p', sizeof(ping));

    put_str(&b, OP_TEXT, "Hel");
    put_str(&b, FIN | OP_PING, "p1");
    put_str(&b, OP_CONT, "lo w\xc3");
    put_frame(&b, FIN | OP_PING, ping, sizeof(ping));
    put_str(&b, FIN | OP_PONG, "");
    put_str(&b, FIN | OP_CONT, "\xb6rld");

    /* the 125-byte ping must not count against a 12-byte limit */
    run_whole(&r, &b, 12);
    ok(r.n == 4, "interleaved: 4 events");
    ok(event_is(&r, 0, EV_CTL, OP_PING, "p1", 2), "interleaved: ping 1");
    ok(event_is(&r, 1, EV_CTL, OP_PING, ping, sizeof(ping)),
       "interleaved: 125-byte ping");
    ok(event_is(&r, 2, EV_CTL, OP_PONG, "", 0), "interleaved: pong");
    ok(event_is(&r, 3, EV_MSG, OP_TEXT, "Hello w\xc3\xb6rld", 12),
       "interleaved: message reassembled");
    run_free(&r);

    check_all_splits(&b, 12, "interleaved");
    bytes_free(&b);

    /* a binary message keeps its type across continuation frames */
    put_frame(&b, OP_BINARY, "\xff\x00", 2);
    put_str(&b, FIN | OP_PING, "");
    put_frame(&b, FIN | OP_CONT, "\xfe", 1);
    run_whole(&r, &b, 3);
    ok(r.n == 2 && event_is(&r, 1, EV_MSG, OP_BINARY, "\xff\x00\xfe", 3),
       "fragmented binary (not UTF-8) reassembled");
    run_free(&r);
    bytes_free(&b);
}

static void
test_close_frames(void)
{
    static const unsigned  valid[] = { 1000, 1001, 1002, 1003, 1007, 1008,
                                       1009, 1010, 1011, 3000, 3999, 4000,
                                       4999 };
    static const unsigned  invalid[] = { 0, 999, 1004, 1005, 1006, 1012,
                                         1014, 1015, 1016, 1100, 2000, 2999,
                                         5000, 65535 };
    size_t                 i;
    bytes_t                b = { 0 };
    run_t                  r;

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        put_close(&b, valid[i], "r\xc3\xa9");
        run_whole(&r, &b, 16);
        ok(r.n == 1 && r.ev[0].kind == EV_CTL && r.ev[0].opcode == OP_CLOSE
           && r.ev[0].close_code == valid[i] && r.ev[0].len == 5,
           "close code %u accepted", valid[i]);
        run_free(&r);
        bytes_free(&b);
    }

    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        char  name[32];

        put_close(&b, invalid[i], "");
        snprintf(name, sizeof(name), "close code %u", invalid[i]);
        expect_error(&b, 16, 0, 1002, name);
        bytes_free(&b);
    }

    put_str(&b, FIN | OP_CLOSE, "");
    run_whole(&r, &b, 16);
    ok(r.n == 1 && r.ev[0].close_code == 1005 && r.ev[0].len == 0,
       "empty close reports 1005 (no status)");
    run_free(&r);
    bytes_free(&b);

    put_str(&b, FIN | OP_CLOSE, "\x03");
    expect_error(&b, 16, 0, 1002, "close with 1-byte payload");
    bytes_free(&b);

    put_close(&b, 1000, "bad \xc0\xaf");
    expect_error(&b, 16, 0, 1007, "close reason not UTF-8");
    bytes_free(&b);

    put_close(&b, 1000, "cut \xe2\x82");
    expect_error(&b, 16, 0, 1007, "close reason truncated UTF-8");
    bytes_free(&b);
}

static void
test_after_close_and_error(void)
{
    ngx_http_pattern_rt_ws_parser_t  p;
    uint8_t                          msg[16];
    bytes_t                          b = { 0 };
    size_t                           used, off;
    int                              kind;

    /* after a close frame the rest of the input is ignored */
    put_close(&b, 1001, "");
    off = b.len;
    put_str(&b, FIN | OP_TEXT, "late");
    ngx_http_pattern_rt_ws_parser_init(&p, msg, sizeof(msg));
    kind = ngx_http_pattern_rt_ws_feed(&p, b.p, b.len, &used);
    ok(kind == EV_CTL && used == off && p.event.close_code == 1001,
       "close stops the feed after its frame");
    kind = ngx_http_pattern_rt_ws_feed(&p, b.p + used, b.len - used, &used);
    ok(kind == EV_MORE && used == b.len - off, "bytes after close ignored");
    bytes_free(&b);

    /* an error is sticky and consumes nothing */
    put_str(&b, FIN | 0x3, "x");
    ngx_http_pattern_rt_ws_parser_init(&p, msg, sizeof(msg));
    kind = ngx_http_pattern_rt_ws_feed(&p, b.p, b.len, &used);
    ok(kind == EV_ERR && p.event.close_code == 1002 && used <= b.len
       && p.event.error != NULL, "reserved opcode fails: %s",
       p.event.error ? p.event.error : "(null)");
    kind = ngx_http_pattern_rt_ws_feed(&p, b.p, b.len, &used);
    ok(kind == EV_ERR && used == 0 && p.event.close_code == 1002,
       "error repeats, consumes nothing");
    bytes_free(&b);
}

/* The buffer is taken back between messages only, and a lent one is
 * used for the next. */
static void
test_buffer_release(void)
{
    ngx_http_pattern_rt_ws_parser_t  p;
    uint8_t                          a[64], b2[64];
    bytes_t                          b = { 0 };
    size_t                           used;
    int                              kind;

    put_str(&b, OP_TEXT, "first ");
    put_str(&b, FIN | OP_CONT, "half");
    ngx_http_pattern_rt_ws_parser_init(&p, NULL, sizeof(a));
    ngx_http_pattern_rt_ws_parser_lend(&p, a);
    kind = ngx_http_pattern_rt_ws_feed(&p, b.p, 9, &used);
    ok(kind == EV_MORE && ngx_http_pattern_rt_ws_parser_release(&p) == NULL,
       "no release while a message is open");
    kind = ngx_http_pattern_rt_ws_feed(&p, b.p + used, b.len - used, &used);
    ok(kind == EV_MSG && p.event.len == 10
       && memcmp(p.event.data, "first half", 10) == 0,
       "the message completes in the kept buffer");
    ok(ngx_http_pattern_rt_ws_parser_release(&p) == a,
       "released between messages");
    ok(ngx_http_pattern_rt_ws_parser_release(&p) == NULL,
       "nothing to release twice");
    bytes_free(&b);

    put_str(&b, FIN | OP_TEXT, "second");
    ngx_http_pattern_rt_ws_parser_lend(&p, b2);
    kind = ngx_http_pattern_rt_ws_feed(&p, b.p, b.len, &used);
    ok(kind == EV_MSG && p.event.data == b2 && p.event.len == 6
       && memcmp(b2, "second", 6) == 0, "the lent buffer takes the next");
    bytes_free(&b);
}

static void
test_protocol_errors(void)
{
    static const unsigned  reserved[] = { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe,
                                          0xf };
    bytes_t                b = { 0 };
    uint8_t                key[4];
    char                   name[48];
    size_t                 i;

    put_header(&b, FIN | OP_TEXT, 0, 5, LEN_MINIMAL, key);
    bytes_put(&b, "hello", 5);
    expect_error(&b, 64, 0, 1002, "unmasked frame");
    expect_error_at(&b, 64, 2, 1002, "unmasked frame");
    bytes_free(&b);

    for (i = 0; i < 3; i++) {
        put_str(&b, FIN | (0x40 >> i) | OP_TEXT, "x");
        snprintf(name, sizeof(name), "RSV%zu set", i + 1);
        expect_error(&b, 64, 0, 1002, name);
        bytes_free(&b);
    }

    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        put_str(&b, FIN | reserved[i], "x");
        snprintf(name, sizeof(name), "reserved opcode 0x%x", reserved[i]);
        expect_error(&b, 64, 0, 1002, name);
        bytes_free(&b);
    }

    put_header(&b, FIN | OP_PING, 1, 126, LEN_MINIMAL, key);
    expect_error_at(&b, 4096, 2, 1002, "126-byte ping");
    bytes_free(&b);

    put_header(&b, FIN | OP_PONG, 1, 70000, LEN_MINIMAL, key);
    expect_error_at(&b, 4096, 2, 1002, "pong with 64-bit length");
    bytes_free(&b);

    put_str(&b, OP_PING, "x");
    expect_error(&b, 64, 0, 1002, "fragmented ping");
    bytes_free(&b);

    put_close(&b, 1000, "");
    b.p[0] &= 0x7f;
    expect_error(&b, 64, 0, 1002, "fragmented close");
    bytes_free(&b);

    put_str(&b, FIN | OP_CONT, "x");
    expect_error(&b, 64, 0, 1002, "continuation without a message");
    bytes_free(&b);

    put_str(&b, FIN | OP_TEXT, "done");
    put_str(&b, OP_CONT, "x");
    expect_error(&b, 64, 1, 1002, "continuation after a complete message");
    bytes_free(&b);

    put_str(&b, OP_TEXT, "a");
    put_str(&b, FIN | OP_TEXT, "b");
    expect_error(&b, 64, 0, 1002, "text inside a fragmented text");
    bytes_free(&b);

    put_str(&b, OP_TEXT, "a");
    put_str(&b, FIN | OP_PING, "");
    put_frame(&b, OP_BINARY, "b", 1);
    expect_error(&b, 64, 1, 1002, "binary inside a fragmented text");
    bytes_free(&b);

    /* an empty first fragment still opens the message */
    put_str(&b, OP_TEXT, "");
    put_str(&b, FIN | OP_BINARY, "");
    expect_error(&b, 64, 0, 1002, "binary after an empty text fragment");
    bytes_free(&b);

    put_header(&b, FIN | OP_BINARY, 1, 0x8000000000000000ULL, LEN_64, key);
    expect_error_at(&b, 64, 10, 1002, "64-bit length with top bit");
    bytes_free(&b);

    put_header(&b, FIN | OP_BINARY, 1, 0x7fffffffffffffffULL, LEN_64, key);
    expect_error_at(&b, 64, 10, 1009, "2^63-1 byte frame");
    bytes_free(&b);
}

static void
test_text_utf8_errors(void)
{
    static const struct {
        const char  *s;
        const char  *name;
    } bad[] = {
        { "a\xc0\xaf", "overlong C0 AF" },
        { "\xed\xa0\x80", "surrogate ED A0 80" },
        { "\xf4\x90\x80\x80", "U+110000 F4 90 80 80" },
        { "ok \xe2\x82", "truncated at message end" },
        { "\xff", "byte FF" },
    };
    bytes_t  b = { 0 };
    run_t    r;
    uint8_t  key[4];
    size_t   i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_str(&b, FIN | OP_TEXT, bad[i].s);
        expect_error(&b, 64, 0, 1007, bad[i].name);
        bytes_free(&b);
    }

    /* the same bytes are fine in a binary message */
    put_str(&b, FIN | OP_BINARY, "\xed\xa0\x80");
    run_whole(&r, &b, 64);
    ok(r.n == 1 && event_is(&r, 0, EV_MSG, OP_BINARY, "\xed\xa0\x80", 3),
       "binary messages are not UTF-8 checked");
    run_free(&r);
    bytes_free(&b);

    /* truncation is only an error at the end of the message */
    put_str(&b, OP_TEXT, "\xe2\x82");
    put_str(&b, FIN | OP_CONT, "\xac");
    put_str(&b, OP_TEXT, "\xe2");
    put_str(&b, FIN | OP_CONT, "\x82");
    expect_error(&b, 64, 1, 1007, "sequence cut by the final fragment");
    bytes_free(&b);

    /* invalid bytes are reported before the rest of the frame arrives */
    put_header(&b, FIN | OP_TEXT, 1, 1000, LEN_MINIMAL, key);
    {
        uint8_t  c[3] = { 'a' ^ key[0], 0xed ^ key[1], 0xa0 ^ key[2] };

        bytes_put(&b, c, sizeof(c));
    }
    expect_error_at(&b, 4096, 8 + 3, 1007, "surrogate early in a long frame");
    bytes_free(&b);

    /* ... and in a continuation frame too */
    put_str(&b, OP_TEXT, "ok");
    put_header(&b, FIN | OP_CONT, 1, 1000, LEN_MINIMAL, key);
    {
        uint8_t  c[2] = { 0xc0 ^ key[0], 0xaf ^ key[1] };

        bytes_put(&b, c, sizeof(c));
    }
    /* C0 can never start a sequence: rejected at that byte already */
    expect_error_at(&b, 4096, b.len - 1, 1007, "C0 early in a continuation");
    bytes_free(&b);
}

static void
test_limits(void)
{
    bytes_t   b = { 0 };
    uint8_t   key[4];
    uint8_t  *data = pattern(1001);
    run_t     r;

    put_frame(&b, FIN | OP_BINARY, data, 1000);
    run_whole(&r, &b, 1000);
    ok(r.n == 1 && event_is(&r, 0, EV_MSG, OP_BINARY, data, 1000),
       "message exactly at the limit");
    run_free(&r);
    bytes_free(&b);

    put_frame(&b, FIN | OP_BINARY, data, 1001);
    expect_error(&b, 1000, 0, 1009, "one byte over the limit");
    bytes_free(&b);

    /* 1009 from the header alone: no payload needed */
    put_header(&b, FIN | OP_TEXT, 1, 1001, LEN_MINIMAL, key);
    expect_error_at(&b, 1000, 4, 1009, "over-limit header");
    bytes_free(&b);

    put_frame(&b, OP_BINARY, data, 600);
    put_frame(&b, FIN | OP_CONT, data + 600, 400);
    run_whole(&r, &b, 1000);
    ok(r.n == 1 && event_is(&r, 0, EV_MSG, OP_BINARY, data, 1000),
       "fragments summing to the limit");
    run_free(&r);
    bytes_free(&b);

    put_frame(&b, OP_BINARY, data, 600);
    put_frame(&b, FIN | OP_CONT, data + 600, 401);
    expect_error(&b, 1000, 0, 1009, "fragments one byte over the limit");
    bytes_free(&b);

    /* the limit is per message: the next one starts from zero */
    put_frame(&b, FIN | OP_BINARY, data, 1000);
    put_frame(&b, FIN | OP_BINARY, data, 1000);
    run_whole(&r, &b, 1000);
    ok(r.n == 2 && event_is(&r, 1, EV_MSG, OP_BINARY, data, 1000),
       "two messages at the limit");
    run_free(&r);
    bytes_free(&b);

    put_str(&b, FIN | OP_TEXT, "");
    put_str(&b, FIN | OP_TEXT, "x");
    expect_error(&b, 0, 1, 1009, "limit 0: empty ok, 1 byte too big");
    bytes_free(&b);

    free(data);
}


/* ---- tests: encoder ---------------------------------------------------- */

static void
test_header_encoding(void)
{
    static const struct {
        uint64_t  len;
        size_t    size;
        uint8_t   bytes[10];
    } v[] = {
        { 0, 2, { 0x81, 0 } },
        { 125, 2, { 0x81, 125 } },
        { 126, 4, { 0x81, 126, 0, 126 } },
        { 65535, 4, { 0x81, 126, 0xff, 0xff } },
        { 65536, 10, { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
        { 0x7fffffffffffffffULL, 10,
          { 0x81, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
    };
    uint8_t  h[10];
    size_t   i, n;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memset(h, 0xee, sizeof(h));
        n = ngx_http_pattern_rt_ws_header(h, OP_TEXT, 1, v[i].len);
        ok(n == v[i].size && memcmp(h, v[i].bytes, n) == 0,
           "header for %llu bytes", (unsigned long long) v[i].len);
    }

    n = ngx_http_pattern_rt_ws_header(h, OP_BINARY, 0, 3);
    ok(n == 2 && h[0] == 0x02 && h[1] == 3, "non-final binary header");
    n = ngx_http_pattern_rt_ws_header(h, OP_CONT, 1, 3);
    ok(n == 2 && h[0] == 0x80, "final continuation header");

    is_int(ngx_http_pattern_rt_ws_header(h, 3, 1, 1), 0, "reserved opcode");
    is_int(ngx_http_pattern_rt_ws_header(h, 0x10, 1, 1), 0, "opcode > 15");
    is_int(ngx_http_pattern_rt_ws_header(h, -1, 1, 1), 0, "negative opcode");
    is_int(ngx_http_pattern_rt_ws_header(h, OP_TEXT, 1,
                                         0x8000000000000000ULL), 0,
           "length with top bit");
    is_int(ngx_http_pattern_rt_ws_header(h, OP_PING, 1, 126), 0,
           "126-byte ping");
    is_int(ngx_http_pattern_rt_ws_header(h, OP_PING, 0, 1), 0,
           "fragmented ping");
}

static void
test_control_encoding(void)
{
    uint8_t  f[NGX_HTTP_PATTERN_RT_WS_CONTROL_FRAME_MAX];
    uint8_t  reason[130];
    size_t   n, i;

    n = ngx_http_pattern_rt_ws_close_frame(f, 1000, (const uint8_t *) "bye",
                                           3);
    ok(n == 7 && memcmp(f, "\x88\x05\x03\xe8" "bye", 7) == 0,
       "close 1000 bye");

    n = ngx_http_pattern_rt_ws_close_frame(f, 1009, NULL, 0);
    ok(n == 4 && memcmp(f, "\x88\x02\x03\xf1", 4) == 0, "close 1009");

    n = ngx_http_pattern_rt_ws_close_frame(f, 1005, (const uint8_t *) "x", 1);
    ok(n == 2 && f[0] == 0x88 && f[1] == 0, "echo of a status-less close");

    is_int(ngx_http_pattern_rt_ws_close_frame(f, 1006, NULL, 0), 0,
           "1006 is never sent");

    /* 62 x "é" = 124 bytes: one byte too many, and the cut must not split */
    for (i = 0; i < 124; i += 2) {
        reason[i] = 0xc3;
        reason[i + 1] = 0xa9;
    }
    n = ngx_http_pattern_rt_ws_close_frame(f, 1000, reason, 124);
    ok(n == 2 + 2 + 122 && f[1] == 124
       && ngx_http_pattern_rt_ws_utf8_valid(f + 4, 122),
       "long reason cut to 122 bytes on a code point boundary");

    memset(reason, 'r', sizeof(reason));
    n = ngx_http_pattern_rt_ws_close_frame(f, 4000, reason, sizeof(reason));
    ok(n == 127 && f[1] == 125, "ASCII reason cut to 123 bytes");

    n = ngx_http_pattern_rt_ws_ping_frame(f, (const uint8_t *) "hb", 2);
    ok(n == 4 && memcmp(f, "\x89\x02hb", 4) == 0, "ping frame");
    n = ngx_http_pattern_rt_ws_pong_frame(f, reason, 125);
    ok(n == 127 && f[0] == 0x8a && f[1] == 125, "125-byte pong frame");
    is_int(ngx_http_pattern_rt_ws_pong_frame(f, reason, 126), 0,
           "126-byte pong refused");
    n = ngx_http_pattern_rt_ws_pong_frame(f, NULL, 0);
    ok(n == 2 && f[0] == 0x8a && f[1] == 0, "empty pong frame");
}

/* frames from our encoder, masked as a client would, parse back */
static void
test_round_trip(void)
{
    static const size_t  lens[] = { 0, 1, 125, 126, 65535, 65536, 70000 };
    uint8_t              h[10], key[4] = { 1, 2, 3, 4 };
    size_t               i, j, n;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        bytes_t   b = { 0 };
        run_t     r;
        uint8_t  *data = pattern(lens[i]);

        n = ngx_http_pattern_rt_ws_header(h, OP_BINARY, 1, lens[i]);
        h[1] |= 0x80;
        bytes_put(&b, h, n);
        bytes_put(&b, key, 4);
        for (j = 0; j < lens[i]; j++) {
            uint8_t  c = data[j] ^ key[j % 4];

            bytes_put(&b, &c, 1);
        }

        run_whole(&r, &b, 70000);
        ok(r.n == 1 && event_is(&r, 0, EV_MSG, OP_BINARY, data, lens[i]),
           "round trip %zu bytes", lens[i]);
        run_free(&r);
        bytes_free(&b);
        free(data);
    }
}


int
main(void)
{
    test_utf8_vectors();
    test_utf8_incremental();
    test_utf8_exhaustive();
    test_utf8_word_positions();
    test_utf8_random();
    test_unmask();
    test_length_classes();
    test_stream_splits();
    test_fragments_with_control();
    test_close_frames();
    test_after_close_and_error();
    test_protocol_errors();
    test_buffer_release();
    test_text_utf8_errors();
    test_limits();
    test_header_encoding();
    test_control_encoding();
    test_round_trip();

    return done_testing();
}
