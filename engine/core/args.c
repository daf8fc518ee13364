/*
 * The table-driven argv parser (core/args.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "pattern_rt_nytime.h"

int
prt_parse_size(const char *s, uint64_t *out)
{
    char                *end;
    unsigned long long   v;
    uint64_t             mul = 1;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno) {
        return -1;
    }
    switch (*end) {
    case 'k': case 'K': mul = 1ULL << 10; end++; break;
    case 'm': case 'M': mul = 1ULL << 20; end++; break;
    case 'g': case 'G': mul = 1ULL << 30; end++; break;
    default: break;
    }
    if (*end != '\0' || v > UINT64_MAX / mul) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

const prt_arg_t *
prt_args_find(const prt_args_t *spec, const char *name, size_t len)
{
    const char  *n;
    size_t       i, k;

    for (i = 0; i < spec->nargs; i++) {
        n = spec->args[i].name;
        for (k = 0; k < len && n[k] != '\0'; k++) {
            if (n[k] != name[k] && !((n[k] == '-' || n[k] == '_')
                                     && (name[k] == '-' || name[k] == '_')))
            {
                break;
            }
        }
        if (k == len && n[k] == '\0') {
            return &spec->args[i];
        }
    }
    return NULL;
}

/* An unsigned decimal in [lo, hi] (suffixes with `size`), stored in a field
 * of 4 or 8 bytes. */
static int
set_uint(const prt_arg_t *a, void *slot, const char *v, int size)
{
    char                *end;
    unsigned long long   x;
    uint64_t             u;

    if (size) {
        if (prt_parse_size(v, &u) != 0) {
            return -1;
        }
        x = u;
    } else {
        if (v[0] < '0' || v[0] > '9') {
            return -1;
        }
        errno = 0;
        x = strtoull(v, &end, 10);
        if (*end != '\0' || errno != 0) {
            return -1;
        }
    }
    if ((double) x < a->lo || (double) x > a->hi) {
        return -1;
    }
    if (a->size == sizeof(uint32_t) && x <= UINT32_MAX) {
        *(uint32_t *) slot = (uint32_t) x;
        return 0;
    }
    if (a->size == sizeof(uint64_t)) {
        *(uint64_t *) slot = (uint64_t) x;
        return 0;
    }
    return -1;
}

static int
set_value(const prt_arg_t *a, void *slot, const char *v)
{
    char           *end, *copy;
    long            l;
    double          d;
    int64_t         day;
    unsigned long   mode;

    switch (a->kind) {
    case PRT_ARG_FLAG:
    case PRT_ARG_CALL:
        return -1;
    case PRT_ARG_STR:
        *(const char **) slot = v;
        return 0;
    case PRT_ARG_DUP:
        copy = strdup(v);
        if (copy == NULL) {
            return -1;
        }
        free(*(char **) slot);
        *(char **) slot = copy;
        return 0;
    case PRT_ARG_UINT:
        return set_uint(a, slot, v, 0);
    case PRT_ARG_SIZE:
        return set_uint(a, slot, v, 1);
    case PRT_ARG_INT:
        errno = 0;
        l = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno != 0 || (double) l < a->lo
            || (double) l > a->hi)
        {
            return -1;
        }
        *(int *) slot = (int) l;
        return 0;
    case PRT_ARG_NUM:
        d = strtod(v, &end);
        if (*v == '\0' || *end != '\0' || !(d >= a->lo && d <= a->hi)) {
            return -1;
        }
        *(double *) slot = d;
        return 0;
    case PRT_ARG_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
            return -1;
        }
        *(int *) slot = v[0] == 't';
        return 0;
    case PRT_ARG_DATE:
        if (prt_parse_date(v, strlen(v), &day) != 0 || day < INT32_MIN
            || day > INT32_MAX)
        {
            return -1;
        }
        *(int32_t *) slot = (int32_t) day;
        return 0;
    case PRT_ARG_OCTAL:
        mode = strtoul(v, &end, 8);
        if (*v == '\0' || *end != '\0' || mode > 0777) {
            return -1;
        }
        *(unsigned *) slot = (unsigned) mode;
        return 0;
    }
    return -1;
}

/* What a value of this kind should have been. */
static void
say_bad(const prt_args_t *spec, const prt_arg_t *a, const char *v)
{
    const char  *w = spec->who;

    switch (a->kind) {
    case PRT_ARG_UINT:
    case PRT_ARG_INT:
        fprintf(stderr, "%s--%s wants a whole number in %.0f..%.0f, got "
                "\"%s\"\n", w, a->name, a->lo, a->hi, v);
        return;
    case PRT_ARG_SIZE:
        if (a->lo <= 0 && a->hi >= (double) UINT64_MAX) {
            fprintf(stderr, "%s--%s wants a size (k, m, g suffixes), got "
                    "\"%s\"\n", w, a->name, v);
            return;
        }
        fprintf(stderr, "%s--%s wants a size in %.0f..%.0f (k, m, g "
                "suffixes), got \"%s\"\n", w, a->name, a->lo, a->hi, v);
        return;
    case PRT_ARG_NUM:
        fprintf(stderr, "%s--%s wants a number in %g..%g, got \"%s\"\n", w,
                a->name, a->lo, a->hi, v);
        return;
    case PRT_ARG_BOOL:
        fprintf(stderr, "%s--%s wants true or false, got \"%s\"\n", w,
                a->name, v);
        return;
    case PRT_ARG_DATE:
        fprintf(stderr, "%s--%s wants YYYY-MM-DD, got \"%s\"\n", w, a->name,
                v);
        return;
    case PRT_ARG_OCTAL:
        fprintf(stderr, "%s--%s wants a file mode up to 0777, got \"%s\"\n",
                w, a->name, v);
        return;
    default:
        fprintf(stderr, "%sbad value for --%s: %s\n", w, a->name, v);
        return;
    }
}

int
prt_args_set(const prt_args_t *spec, const prt_arg_t *a, void *opts,
    const char *value, int quiet)
{
    char  name[80];

    if (a->kind == PRT_ARG_CALL) {
        snprintf(name, sizeof(name), "--%s", a->name);
        return a->call(opts, name, value);
    }
    if (set_value(a, (char *) opts + a->offset, value) != 0) {
        if (!quiet) {
            say_bad(spec, a, value);
        }
        return -1;
    }
    return 0;
}

int
prt_args_parse(const prt_args_t *spec, void *opts, int argc, char **argv,
    int first)
{
    const prt_arg_t  *a;
    const char       *arg, *eq, *value;
    size_t            len;

    for (int i = first; i < argc; i++) {
        arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            fprintf(stderr, "%sunexpected argument: %s\n", spec->who, arg);
            return -1;
        }
        arg += 2;
        eq = strchr(arg, '=');
        len = eq ? (size_t) (eq - arg) : strlen(arg);
        a = prt_args_find(spec, arg, len);
        if (a == NULL) {
            fprintf(stderr, "%sunknown option: --%.*s\n", spec->who,
                    (int) len, arg);
            return -1;
        }
        if (a->kind == PRT_ARG_FLAG) {
            if (eq != NULL) {
                fprintf(stderr, "%s--%s takes no value\n", spec->who,
                        a->name);
                return -1;
            }
            *(int *) ((char *) opts + a->offset) = 1;
            continue;
        }
        value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (value == NULL) {
            fprintf(stderr, "%s--%s needs a value\n", spec->who, a->name);
            return -1;
        }
        if (prt_args_set(spec, a, opts, value, 0) != 0) {
            return -1;
        }
    }
    return 0;
}
