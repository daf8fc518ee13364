/*
 * Two small core helpers every command relies on:
 *
 * - core/args.h, the one command-line parser: each kind of value (ranges at
 *   both ends, sizes with suffixes, dates, booleans, file modes, flags,
 *   a command's own function), --name=value, '-' and '_' alike, --help,
 *   and the refusals (unknown option, missing value, positional argument,
 *   a value for a flag);
 * - core/array.h, the growable arrays: doubling, contents kept, and a size
 *   that would overflow refused with the array left as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

#include "core/args.h"
#include "core/array.h"

typedef struct {
    const char  *name;
    char        *owned;
    uint32_t     u32;
    uint64_t     u64;
    size_t       size;
    int          i;
    double       num;
    int          yes;
    int32_t      day;
    unsigned     mode;
    int          flag;
    int          calls;
} opts_t;

static int
count_call(void *opts, const char *name, const char *value)
{
    opts_t  *o = opts;

    if (strcmp(name, "--call") != 0 || strcmp(value, "bad") == 0) {
        return -1;
    }
    o->calls++;
    return 0;
}

#define OPT(n, k, f, lo, hi)  PRT_ARG_OF(n, k, opts_t, f, lo, hi, NULL)

static const prt_arg_t  table[] = {
    OPT("name", PRT_ARG_STR, name, 0, 0),
    OPT("owned", PRT_ARG_DUP, owned, 0, 0),
    OPT("u32", PRT_ARG_UINT, u32, 1, 100),
    OPT("u64", PRT_ARG_UINT, u64, 0, (double) UINT64_MAX),
    OPT("max-body", PRT_ARG_SIZE, size, 1024, 1 << 30),
    OPT("int", PRT_ARG_INT, i, -5, 5),
    OPT("num", PRT_ARG_NUM, num, 0, 1),
    OPT("yes", PRT_ARG_BOOL, yes, 0, 0),
    OPT("day", PRT_ARG_DATE, day, 0, 0),
    OPT("mode", PRT_ARG_OCTAL, mode, 0, 0),
    OPT("flag", PRT_ARG_FLAG, flag, 0, 0),
    PRT_ARG_FN("call", count_call, NULL),
};

static const prt_args_t  spec = PRT_ARGS("test: ", table);

/* argv from a string of words; the parser's return value */
static int
parse(opts_t *o, const char *line)
{
    char   buf[512], *argv[32], *w, *save = NULL;
    int    argc = 0, rc;

    snprintf(buf, sizeof(buf), "cmd %s", line);
    for (w = strtok_r(buf, " ", &save); w && argc < 31;
         w = strtok_r(NULL, " ", &save))
    {
        argv[argc++] = w;
    }
    argv[argc] = NULL;
    rc = prt_args_parse(&spec, o, argc, argv, 1);
    if (o->name != NULL) {
        o->name = "(argv gone)";              /* it pointed into buf */
    }
    return rc;
}

static void
test_kinds(void)
{
    opts_t  o;

    memset(&o, 0, sizeof(o));
    is_int(parse(&o, "--u32 7 --u64=18446744073709551615 --max-body 4k "
                 "--int -5 --num 0.25 --yes true --day 2024-01-02 "
                 "--mode 0640 --flag --call x --call y --owned a "
                 "--owned b --name n"), 0, "every kind parses");
    is_int(o.u32, 7, "a 4-byte unsigned");
    ok(o.u64 == UINT64_MAX, "an 8-byte unsigned to its top");
    is_int(o.size, 4096, "a size with a suffix");
    is_int(o.i, -5, "a negative int at the bottom of its range");
    is_double(o.num, 0.25, 0, "a number");
    is_int(o.yes, 1, "a boolean");
    is_int(o.day, 19724, "a date as its day number");
    is_int(o.mode, 0640, "an octal mode");
    is_int(o.flag, 1, "a flag");
    is_int(o.calls, 2, "the command's own function, each time");
    is_str(o.owned, "b", "an owned string: the last one kept");
    free(o.owned);

    memset(&o, 0, sizeof(o));
    is_int(parse(&o, "--max_body=2m --U32 1"), -1,
           "names are case-sensitive");
    is_int(o.size, 2 << 20, "'_' for '-', and --name=value");
}

static void
test_refusals(void)
{
    static const char  *bad[] = {
        "--u32 0", "--u32 101", "--u32 -1", "--u32 1x", "--u32=",
        "--max-body 1023", "--max-body 2g", "--int 6", "--int -6",
        "--num 1.5", "--num nan", "--yes 1", "--day 2024-13-01",
        "--mode 0800", "--mode 1000", "--call bad", "--flag=1",
        "--nope 1", "--u32", "positional", "--", "-x",
    };
    opts_t  o;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&o, 0, sizeof(o));
        is_int(parse(&o, bad[i]), -1, "refused: %s", bad[i]);
    }
    memset(&o, 0, sizeof(o));
    is_int(parse(&o, "--u32 5 --help --nope"), 1, "--help: 1, rest unread");
    is_int(parse(&o, "-h"), 1, "-h too");
    ok(prt_args_find(&spec, "max_body", 8) == &table[4],
       "prt_args_find, '_' for '-'");
    ok(prt_args_find(&spec, "max", 3) == NULL, "no prefix matches");
}

static void
test_array(void)
{
    uint32_t  *v = NULL, *p;
    size_t     cap = 0, n = 0, grows = 0;
    int        same = 1;

    for (uint32_t i = 0; i < 1000; i++) {
        if (n == cap) {
            p = prt_array_grow(v, &cap, sizeof(*v), 16);
            if (p == NULL) {
                break;
            }
            v = p;
            grows++;
        }
        v[n++] = i * 7;
    }
    is_int(n, 1000, "1000 elements appended");
    is_int(cap, 1024, "16 doubled six times");
    is_int(grows, 7, "seven reallocations");
    for (size_t i = 0; i < n; i++) {
        same &= v[i] == i * 7;
    }
    ok(same, "every element kept through the moves");

    cap = SIZE_MAX / 2 + 1;
    ok(prt_array_grow(v, &cap, sizeof(*v), 16) == NULL
       && cap == SIZE_MAX / 2 + 1, "a doubling past SIZE_MAX: refused");
    cap = SIZE_MAX / 8;
    ok(prt_array_grow(v, &cap, sizeof(*v), 16) == NULL
       && cap == SIZE_MAX / 8, "bytes past SIZE_MAX: refused, cap kept");
    ok(v[999] == 999 * 7, "the array is intact after a refusal");
    free(v);
}

int
main(void)
{
    test_kinds();
    test_refusals();
    test_array();
    return done_testing();
}
