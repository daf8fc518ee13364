/*
 * The engine's log lines (engine/core/log.c): every JSON line is one
 * object that an independent parser (yajl's) accepts, whose "msg" decodes
 * back to the message (invalid UTF-8 as U+FFFD), with nothing after the
 * single trailing newline, also when the message is cut to fit; text lines
 * keep one line per event; under the journal, lines start with the syslog
 * priority.
 */
#include <string.h>
#include <time.h>

#include <yajl/yajl_tree.h>

#include "tap.h"
#include "core/log.h"

static const struct timespec  ts = { 1763735400, 123456789 };  /* 2025-11-21T14:30:00.123Z */

/* Parses line (len bytes, ending in its only newline) as one JSON object;
 * NULL (with a diagnostic) when it is not. */
static yajl_val
parse_line(const char *line, size_t len)
{
    char      text[2 * PRT_LOG_LINE_MAX], err[256];
    yajl_val  v;

    if (len == 0 || line[len - 1] != '\n'
        || memchr(line, '\n', len - 1) != NULL || len >= sizeof(text))
    {
        printf("# not a single line: %.*s\n", (int) len, line);
        return NULL;
    }
    memcpy(text, line, len - 1);
    text[len - 1] = '\0';
    v = yajl_tree_parse(text, err, sizeof(err));
    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        printf("# not a JSON object (%s): %s\n", err, text);
        yajl_tree_free(v);
        return NULL;
    }
    return v;
}

static const char *
field(yajl_val v, const char *name)
{
    const char  *path[] = { name, NULL };
    yajl_val     f = yajl_tree_get(v, path, yajl_t_string);

    return f ? YAJL_GET_STRING(f) : NULL;
}

static void
check_json(const char *msg, const char *decoded, const char *what)
{
    char          line[PRT_LOG_LINE_MAX];
    size_t        n;
    yajl_val      v, pid;
    const char   *path[] = { "pid", NULL };

    n = prt_log_render(line, sizeof(line), PRT_LOG_JSON, 0, PRT_LOG_WARN,
                       &ts, 4242, msg);
    v = parse_line(line, n);
    ok(v != NULL, "%s: one JSON object on one line", what);
    if (v == NULL) {
        return;
    }
    is_str(field(v, "msg"), decoded, "%s: msg decodes to the message", what);
    is_str(field(v, "level"), "warn", "%s: level", what);
    is_str(field(v, "time"), "2025-11-21T14:30:00.123Z", "%s: time", what);
    pid = yajl_tree_get(v, path, yajl_t_number);
    ok(pid != NULL && YAJL_IS_INTEGER(pid) && YAJL_GET_INTEGER(pid) == 4242,
       "%s: pid", what);
    yajl_tree_free(v);
}

static void
test_escaping(void)
{
    char  ctl[40], want[80];

    check_json("index loaded", "index loaded", "plain");
    check_json("path \"a\\b\" said \"hi\"", "path \"a\\b\" said \"hi\"",
               "quotes and backslashes");
    check_json("two\nlines\tand\rreturn", "two\nlines\tand\rreturn",
               "newline, tab, return");
    for (int i = 1; i < 32; i++) {
        ctl[i - 1] = (char) i;
    }
    ctl[31] = 0x7f;
    ctl[32] = '\0';
    check_json(ctl, ctl, "every control character");
    check_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x88",
               "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x88", "UTF-8 kept");
    snprintf(want, sizeof(want), "bad \xef\xbf\xbd byte \xef\xbf\xbd( end");
    check_json("bad \xff byte \xc3\x28 end", want, "invalid UTF-8 replaced");
    check_json("overlong \xc0\xaf surrogate \xed\xa0\x80",
               "overlong \xef\xbf\xbd\xef\xbf\xbd surrogate "
               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
               "overlong forms and surrogates replaced");
    check_json("", "", "empty message");
}

/* Messages longer than a line: cut, still valid, a prefix of the message,
 * never mid-escape or mid-character, whatever the cut position. */
static void
test_truncation(void)
{
    static char   msg[3 * PRT_LOG_LINE_MAX];
    char          line[PRT_LOG_LINE_MAX];
    const char   *pieces[] = { "a", "\"", "\x01", "\xc3\xa9", "\xf0\x9f\x93\x88" };
    size_t        n, len, bad = 0, total = 0;
    yajl_val      v;
    const char   *m;

    for (size_t shift = 0; shift < 12; shift++) {
        len = 0;
        for (size_t i = 0; len + 8 < sizeof(msg); i++) {
            const char *p = pieces[(i + shift) % 5];
            memcpy(msg + len, p, strlen(p));
            len += strlen(p);
        }
        msg[len] = '\0';
        for (size_t size = 128; size <= sizeof(line); size += 397) {
            total++;
            n = prt_log_render(line, size, PRT_LOG_JSON, shift & 1,
                               PRT_LOG_INFO, &ts, 1, msg);
            if (n > size) {
                bad++;
                continue;
            }
            /* the journal prefix is not JSON */
            v = (shift & 1) ? (strncmp(line, "<6>", 3) == 0
                                   ? parse_line(line + 3, n - 3) : NULL)
                            : parse_line(line, n);
            m = v ? field(v, "msg") : NULL;
            if (m == NULL || strncmp(msg, m, strlen(m)) != 0) {
                bad++;
            }
            yajl_tree_free(v);
        }
    }
    is_int(bad, 0, "%zu cut lines: all valid JSON, msg a prefix", total);
}

static void
test_text(void)
{
    char    line[256];
    size_t  n;

    n = prt_log_render(line, sizeof(line), PRT_LOG_TEXT, 0, PRT_LOG_ERROR,
                       &ts, 1, "first\nsecond");
    line[n] = '\0';
    is_str(line, "2025-11-21T14:30:00.123Z [error] first second\n",
           "text: time, level, one line");

    n = prt_log_render(line, sizeof(line), PRT_LOG_TEXT, 1, PRT_LOG_DEBUG,
                       &ts, 1, "hello");
    line[n] = '\0';
    is_str(line, "<7>hello\n", "text to the journal: priority, no time");

    n = prt_log_render(line, sizeof(line), PRT_LOG_JSON, 1, PRT_LOG_ERROR,
                       &ts, 1, "x");
    ok(strncmp(line, "<3>{", 4) == 0, "json to the journal: priority first");
}

static void
test_parse(void)
{
    prt_log_format_t  f = PRT_LOG_TEXT;
    prt_log_level_t   l = PRT_LOG_INFO;

    ok(prt_log_parse_format("json", &f) == 0 && f == PRT_LOG_JSON,
       "log_format json");
    ok(prt_log_parse_format("text", &f) == 0 && f == PRT_LOG_TEXT,
       "log_format text");
    ok(prt_log_parse_format("JSON", &f) != 0, "log_format is exact");
    ok(prt_log_parse_level("warn", &l) == 0 && l == PRT_LOG_WARN,
       "log_level warn");
    ok(prt_log_parse_level("verbose", &l) != 0, "unknown log_level refused");
}

int
main(void)
{
    test_escaping();
    test_truncation();
    test_text();
    test_parse();
    return done_testing();
}
