#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static prt_log_level_t   log_level = PRT_LOG_INFO;
static prt_log_format_t  log_format = PRT_LOG_TEXT;
static int               log_journal;
static const char       *level_names[] = { "error", "warn", "info", "debug" };
/* syslog priorities: err, warning, info, debug */
static const int         level_prio[] = { 3, 4, 6, 7 };

void
prt_log_set_level(prt_log_level_t level)
{
    log_level = level;
}

int
prt_log_parse_level(const char *name, prt_log_level_t *out)
{
    for (int i = 0; i <= PRT_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (prt_log_level_t) i;
            return 0;
        }
    }
    return -1;
}

int
prt_log_enabled(prt_log_level_t level)
{
    return level <= log_level;
}

int
prt_log_parse_format(const char *name, prt_log_format_t *out)
{
    if (strcmp(name, "text") == 0) {
        *out = PRT_LOG_TEXT;
        return 0;
    }
    if (strcmp(name, "json") == 0) {
        *out = PRT_LOG_JSON;
        return 0;
    }
    return -1;
}

/* systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected to
 * stderr; a redirected stderr no longer matches it. */
static int
stderr_is_journal(void)
{
    const char          *env = getenv("JOURNAL_STREAM");
    struct stat          st;
    unsigned long long   dev, ino;

    if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2
        || fstat(STDERR_FILENO, &st) == -1)
    {
        return 0;
    }
    return (unsigned long long) st.st_dev == dev
           && (unsigned long long) st.st_ino == ino;
}

void
prt_log_set_format(prt_log_format_t format)
{
    log_format = format;
    log_journal = stderr_is_journal();
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t
utf8_sequence(const unsigned char *s, size_t n)
{
    size_t         len;
    unsigned long  cp;

    if (s[0] < 0x80) {
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800)
        || (len == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }
    return len;
}

/* Appends msg as the inside of a JSON string to buf[*n..size): stops
 * before an escape or a character that would not fit whole, so the text
 * written is always a valid prefix of the escaped message. */
static void
json_escape(char *buf, size_t size, size_t *n, const char *msg)
{
    const unsigned char  *s = (const unsigned char *) msg;
    size_t                left = strlen(msg), len, need;
    char                  esc[8];
    const char           *out;

    while (left > 0) {
        len = utf8_sequence(s, left);
        out = esc;
        if (len == 0) {
            out = "\xef\xbf\xbd";          /* U+FFFD for a bad byte */
            need = 3;
            len = 1;
        } else if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = (char) *s;
            need = 2;
        } else if (*s == '\n' || *s == '\t' || *s == '\r') {
            esc[0] = '\\';
            esc[1] = *s == '\n' ? 'n' : *s == '\t' ? 't' : 'r';
            need = 2;
        } else if (*s < 0x20 || *s == 0x7f) {
            need = (size_t) snprintf(esc, sizeof(esc), "\\u%04x", *s);
        } else {
            out = (const char *) s;
            need = len;
        }
        if (*n + need >= size) {
            return;
        }
        memcpy(buf + *n, out, need);
        *n += need;
        s += len;
        left -= len;
    }
}

static size_t
append(char *buf, size_t size, size_t n, const char *s)
{
    size_t  len = strlen(s);

    if (n + len >= size) {
        len = size - n - 1;
    }
    memcpy(buf + n, s, len);
    return n + len;
}

size_t
prt_log_render(char *buf, size_t size, prt_log_format_t format, int journal,
    prt_log_level_t level, const struct timespec *ts, long pid,
    const char *msg)
{
    char       head[128], time[64];
    struct tm  tm;
    size_t     n = 0;

    gmtime_r(&ts->tv_sec, &tm);
    snprintf(time, sizeof(time), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
    if (journal) {
        snprintf(head, sizeof(head), "<%d>", level_prio[level]);
        n = append(buf, size - 1, n, head);
    }

    /* size - 1 everywhere below: room is always left for the newline;
     * the JSON closing needs 2 more bytes, reserved the same way */
    if (format == PRT_LOG_JSON) {
        snprintf(head, sizeof(head),
                 "{\"time\":\"%s\",\"level\":\"%s\",\"pid\":%ld,\"msg\":\"",
                 time, level_names[level], pid);
        n = append(buf, size - 3, n, head);
        json_escape(buf, size - 2, &n, msg);
        buf[n++] = '"';
        buf[n++] = '}';
    } else {
        if (!journal) {
            snprintf(head, sizeof(head), "%s [%s] ", time, level_names[level]);
            n = append(buf, size - 1, n, head);
        }
        n = append(buf, size - 1, n, msg);
        /* a message's own newlines would split the line */
        for (char *p = memchr(buf, '\n', n); p; p = memchr(p, '\n', (size_t) (buf + n - p))) {
            *p = ' ';
        }
    }
    buf[n++] = '\n';
    return n;
}

void
prt_log(prt_log_level_t level, const char *fmt, ...)
{
    char             msg[PRT_LOG_LINE_MAX], line[PRT_LOG_LINE_MAX];
    struct timespec  ts;
    va_list          ap;
    size_t           n;

    if (level > log_level) {
        return;
    }

    clock_gettime(CLOCK_REALTIME, &ts);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /* one write per line so concurrent threads never interleave a line */
    n = prt_log_render(line, sizeof(line), log_format, log_journal, level,
                       &ts, (long) getpid(), msg);
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}
