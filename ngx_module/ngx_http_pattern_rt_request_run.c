/*
 * Request parser of POST /api/pattern-realtime/run: the forecast
 * arguments, the sessions and the symbol list (split, normalised and made
 * unique with a small open-addressing set), written as one variable-length
 * message. See ngx_http_pattern_rt_request.h and docs/api-validation.md.
 */

#include <math.h>
#include <string.h>

#include "ngx_http_pattern_rt_request_fields.h"


/* ---- POST /api/pattern-realtime/run: symbols ---------------------------- */


typedef struct {
    prt_parser_t  *parser;
    char          *symbols;     /* n * PRT_SYMBOL_SIZE */
    uint32_t       n;
    uint32_t       max;
    uint32_t      *slots;       /* open addressing: index + 1, 0 = free */
    uint32_t       mask;
} symbol_set_t;


static int
is_separator(int c)
{
    return c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t';
}


/* calls fn for every token of s split on separators; stops at an error */
static int
for_each_token(const char *s, size_t len,
    int (*fn)(void *ctx, const char *tok, size_t tlen), void *ctx)
{
    size_t  i, start;

    for (i = 0; i < len; /* void */) {
        while (i < len && is_separator((unsigned char) s[i])) {
            i++;
        }

        start = i;
        while (i < len && !is_separator((unsigned char) s[i])) {
            i++;
        }

        if (i > start && fn(ctx, s + start, i - start) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
count_token(void *ctx, const char *tok, size_t len)
{
    (*(size_t *) ctx)++;
    return 0;
}


/* FNV-1a over the NUL-padded symbol */
static uint32_t
symbol_hash(const char *sym)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;
    for (i = 0; i < PRT_SYMBOL_SIZE; i++) {
        h = (h ^ (uint8_t) sym[i]) * 16777619u;
    }

    return h;
}


/* the slot holding sym, or the free slot where it belongs */
static uint32_t *
symbol_slot(symbol_set_t *set, const char *sym)
{
    uint32_t  i, *slot;

    for (i = symbol_hash(sym) & set->mask; ; i = (i + 1) & set->mask) {
        slot = &set->slots[i];
        if (*slot == 0
            || memcmp(set->symbols + (size_t) (*slot - 1) * PRT_SYMBOL_SIZE,
                      sym, PRT_SYMBOL_SIZE) == 0)
        {
            return slot;
        }
    }
}


typedef struct {
    symbol_set_t       *set;
    prt_parse_error_t  *err;
} symbol_add_ctx_t;


static int
symbol_add(void *ctx, const char *tok, size_t len)
{
    char               sym[PRT_SYMBOL_SIZE], shown[SHOW_SIZE];
    uint32_t          *slot;
    symbol_set_t      *set;
    symbol_add_ctx_t  *c = ctx;

    set = c->set;

    if (prt_req_symbol_normalize(set->parser, tok, len, sym) != 0) {
        return bad_request(c->err, "symbols", "symbols: \"%s\" is not a "
                           "valid symbol (" SYMBOL_RULE ")",
                           prt_req_show(shown, tok, len));
    }

    slot = symbol_slot(set, sym);
    if (*slot != 0) {
        return 0;                       /* duplicate: first one kept */
    }

    if (set->n == set->max) {
        return bad_request(c->err, "symbols", "symbols: more than %u "
                           "distinct symbols (the limit is %u)", set->max,
                           set->max);
    }

    memcpy(set->symbols + (size_t) set->n * PRT_SYMBOL_SIZE, sym,
           PRT_SYMBOL_SIZE);
    *slot = ++set->n;

    return 0;
}


/* symbols: one string, or an array of strings; each string is split */
static int
symbols_check_shape(yajl_val j, prt_parse_error_t *err)
{
    size_t  i;

    if (YAJL_IS_STRING(j)) {
        return 0;
    }

    if (!YAJL_IS_ARRAY(j)) {
        return bad_request(err, "symbols", "symbols must be an array of "
                           "strings or one string of symbols separated by "
                           "spaces, commas or newlines");
    }

    for (i = 0; i < j->u.array.len; i++) {
        if (!YAJL_IS_STRING(j->u.array.values[i])) {
            return bad_request(err, "symbols", "symbols[%zu] must be a "
                               "string", i);
        }
    }

    return 0;
}


static int
symbols_each(yajl_val j, int (*fn)(void *, const char *, size_t), void *ctx)
{
    size_t       i, n;
    yajl_val    *items;
    const char  *s;

    items = YAJL_IS_ARRAY(j) ? j->u.array.values : &j;
    n = YAJL_IS_ARRAY(j) ? j->u.array.len : 1;

    for (i = 0; i < n; i++) {
        s = items[i]->u.string;
        if (for_each_token(s, strlen(s), fn, ctx) != 0) {
            return -1;
        }
    }

    return 0;
}


/*
 * cap = min(tokens, max) symbols, known before any token is read: the set
 * stops at max distinct symbols and there are no more than tokens, so it
 * never outgrows cap, and the table (>= 2 * cap slots) never fills.
 */
static int
symbol_set_init(symbol_set_t *set, prt_parser_t *p, const prt_allocator_t *a,
    size_t cap, uint32_t max, char *symbols, prt_parse_error_t *err)
{
    size_t  nslots;

    nslots = 16;
    while (nslots < cap * 2) {
        nslots *= 2;
    }

    set->slots = a->alloc(a->ctx, nslots * sizeof(uint32_t));
    if (set->slots == NULL) {
        return prt_req_out_of_memory(err);
    }

    memset(set->slots, 0, nslots * sizeof(uint32_t));
    set->mask = (uint32_t) (nslots - 1);
    set->parser = p;
    set->symbols = symbols;
    set->n = 0;
    set->max = max;

    return 0;
}


/* ---- POST /api/pattern-realtime/run ------------------------------------- */


enum { RU_SYMBOLS = FA_COUNT, RU_MIN_EDGE, RU_SESSIONS, RU_COUNT };

static const field_spec_t  run_fields[RU_COUNT] = {
    FORECAST_FIELDS,
    [RU_SYMBOLS] = { .name = "symbols", .kind = FK_JSON, .required = 1 },
    [RU_MIN_EDGE] = { .name = "min_edge", .kind = FK_NUM,
                      .dlo = 0, .dhi = INFINITY },
    [RU_SESSIONS] = { .name = "sessions", .kind = FK_JSON },
};

/* bit i is PRT_SESSION_BIT_* */
static const char *const  session_names[] = { "pre", "regular", "post",
                                               NULL };


static int
sessions_from(yajl_val j, uint32_t *mask, prt_parse_error_t *err)
{
    size_t         i;
    yajl_val       s;
    field_value_t  v;
    field_spec_t   spec = { .name = "sessions", .kind = FK_ENUM,
                            .names = session_names };

    if (!YAJL_IS_ARRAY(j) || j->u.array.len == 0) {
        return bad_request(err, "sessions", "sessions must be a non-empty "
                           "array of \"pre\", \"regular\", \"post\"");
    }

    *mask = 0;

    for (i = 0; i < j->u.array.len; i++) {
        s = j->u.array.values[i];
        if (!YAJL_IS_STRING(s)
            || prt_req_accept_enum(&spec, s->u.string, strlen(s->u.string),
                                   &v)
               != 0)
        {
            return bad_request(err, "sessions", "sessions[%zu] must be one "
                               "of \"pre\", \"regular\", \"post\"", i);
        }
        *mask |= 1u << v.i;
    }

    return 0;
}


static int
run_symbols(prt_parser_t *p, const prt_allocator_t *a, yajl_val j,
    uint32_t max_symbols, prt_req_run_t **out, prt_parse_error_t *err)
{
    size_t            tokens, cap;
    symbol_set_t      set;
    symbol_add_ctx_t  ctx;

    tokens = 0;
    if (symbols_check_shape(j, err) != 0) {
        return -1;
    }
    (void) symbols_each(j, count_token, &tokens);

    if (tokens == 0) {
        return bad_request(err, "symbols", "symbols is empty");
    }

    cap = tokens < max_symbols ? tokens : max_symbols;

    *out = a->alloc(a->ctx, sizeof(prt_req_run_t) + cap * PRT_SYMBOL_SIZE);
    if (*out == NULL) {
        return prt_req_out_of_memory(err);
    }
    memset(*out, 0, sizeof(prt_req_run_t) + cap * PRT_SYMBOL_SIZE);

    if (symbol_set_init(&set, p, a, cap, max_symbols, (char *) (*out + 1),
                        err) != 0)
    {
        return -1;
    }

    ctx.set = &set;
    ctx.err = err;

    if (symbols_each(j, symbol_add, &ctx) != 0) {
        return -1;
    }

    (*out)->nsymbols = set.n;
    return 0;
}


static int
run_from(prt_parser_t *p, const prt_allocator_t *a, const field_value_t *v,
    uint32_t max_symbols, prt_req_run_t **out, size_t *out_len,
    prt_parse_error_t *err)
{
    uint32_t             sessions;
    prt_forecast_args_t  f;

    sessions = PRT_SESSION_BITS_ALL;

    if (prt_req_forecast_from(v, 1, &f, err) != 0
        || (v[RU_SESSIONS].present
            && sessions_from(v[RU_SESSIONS].json, &sessions, err) != 0)
        || run_symbols(p, a, v[RU_SYMBOLS].json, max_symbols, out, err) != 0)
    {
        return -1;
    }

    (*out)->f = f;
    (*out)->min_edge = v[RU_MIN_EDGE].present ? v[RU_MIN_EDGE].d : 0;
    (*out)->sessions = sessions;
    *out_len = sizeof(prt_req_run_t)
               + (size_t) (*out)->nsymbols * PRT_SYMBOL_SIZE;

    return 0;
}


int
prt_req_parse_run(prt_parser_t *p, const prt_allocator_t *a,
    const char *body, size_t len, uint32_t max_symbols,
    prt_req_run_t **out, size_t *out_len, prt_parse_error_t *err)
{
    int            rc;
    yajl_val       root;
    field_value_t  v[RU_COUNT];

    *out = NULL;
    *out_len = 0;

    if (prt_req_json_object_body(a, body, len, run_fields, RU_COUNT, v, &root,
                                 err)
        != 0)
    {
        return -1;
    }

    rc = run_from(p, a, v, max_symbols, out, out_len, err);
    yajl_tree_free(root);

    if (rc != 0) {
        *out = NULL;
        *out_len = 0;
    }

    return rc;
}
