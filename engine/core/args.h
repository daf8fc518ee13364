/*
 * The one command-line parser of pattern-rt-engine: every command (serve's
 * settings in core/config.c, build-index, replay, generate, token)
 * describes its options in a table of field offsets and checks, and
 * prt_args_parse walks argv with it.
 *
 *   --name value, --name=value; in names '-' and '_' are the same
 *   --help, -h            prt_args_parse returns 1 (the caller prints usage)
 *   anything not --name   an error ("unexpected argument")
 *
 * A value is checked by its kind (range, date, size suffixes...) and
 * stored at its offset; PRT_ARG_CALL hands it to the command's own
 * function for what no kind covers. Errors are printed on stderr, prefixed
 * with the table's `who` ("token: "), naming the option and the value.
 */
#ifndef PRT_ARGS_H
#define PRT_ARGS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PRT_ARG_FLAG,    /* no value: the int at offset becomes 1 */
    PRT_ARG_STR,     /* const char *, pointing into argv (or the file) */
    PRT_ARG_DUP,     /* char *, owned: the old one freed, a copy stored */
    PRT_ARG_UINT,    /* unsigned integer in [lo, hi], 4 or 8 bytes */
    PRT_ARG_INT,     /* int in [lo, hi] */
    PRT_ARG_SIZE,    /* like UINT, with k, m, g suffixes (prt_parse_size) */
    PRT_ARG_NUM,     /* double in [lo, hi] */
    PRT_ARG_BOOL,    /* true | false -> int 1 | 0 */
    PRT_ARG_DATE,    /* YYYY-MM-DD (New York) -> int32_t day number */
    PRT_ARG_OCTAL,   /* file mode up to 0777 -> unsigned */
    PRT_ARG_CALL,    /* call(opts, "--name", value): 0 or -1 (said why) */
} prt_arg_kind_t;

typedef struct {
    const char      *name;       /* without "--" */
    prt_arg_kind_t   kind;
    size_t           offset;     /* of the field in the options struct */
    size_t           size;       /* of that field (UINT, SIZE) */
    double           lo, hi;     /* UINT, INT, SIZE, NUM: the range */
    int            (*call)(void *opts, const char *name, const char *value);
    const char      *help;       /* for usage texts; may be NULL */
} prt_arg_t;

typedef struct {
    const char       *who;       /* message prefix, e.g. "token: " or "" */
    const prt_arg_t  *args;
    size_t            nargs;
} prt_args_t;

#define PRT_ARGS(who, table)  { who, table, sizeof(table) / sizeof(table[0]) }

/* Table entries: T the options struct, F its field. */
#define PRT_ARG_OF(n, k, T, F, lo, hi, h) \
    { n, k, offsetof(T, F), sizeof(((T *) 0)->F), lo, hi, NULL, h }
#define PRT_ARG_FN(n, fn, h) \
    { n, PRT_ARG_CALL, 0, 0, 0, 0, fn, h }

/*
 * Parses argv[first..argc) into opts. 0: done; 1: --help or -h was given
 * (nothing after it is read); -1: an error, printed.
 */
int prt_args_parse(const prt_args_t *spec, void *opts, int argc, char **argv,
    int first);

/* The entry named name[0..len) ('-' and '_' alike), or NULL. */
const prt_arg_t *prt_args_find(const prt_args_t *spec, const char *name,
    size_t len);

/* Checks and stores one value (a config file's line, say). 0 or -1; prints
 * nothing for the value kinds, so that the caller says where it was. */
int prt_args_set(const prt_args_t *spec, const prt_arg_t *a, void *opts,
    const char *value, int quiet);

/* "4m" -> 4194304; "123" -> 123. 0 or -1. */
int prt_parse_size(const char *s, uint64_t *out);

#endif
