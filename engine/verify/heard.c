#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "index/pattern.h"
#include "pattern_rt_nytime.h"
#include "verify/heard.h"

static yajl_val
field(yajl_val data, const char *name, yajl_type type)
{
    const char  *path[] = { name, NULL };

    return yajl_tree_get(data, path, type);
}

/* The numbers of prt_render_result: %.15g, which bins and signs alike. */
static int
number(yajl_val data, const char *name, double *out)
{
    yajl_val  v = field(data, name, yajl_t_number);

    if (v == NULL || !YAJL_IS_DOUBLE(v) || !isfinite(YAJL_GET_DOUBLE(v))) {
        return -1;
    }
    *out = YAJL_GET_DOUBLE(v);
    return 0;
}

static int
read_data(yajl_val data, prt_heard_t *out)
{
    yajl_val     id = field(data, "id", yajl_t_number);
    yajl_val     h = field(data, "horizon", yajl_t_number);
    yajl_val     at = field(data, "verified_at", yajl_t_string);
    yajl_val     how = field(data, "verification", yajl_t_string);
    const char  *status = how ? YAJL_GET_STRING(how) : NULL;
    const char  *text = at ? YAJL_GET_STRING(at) : NULL;

    if (status == NULL || id == NULL || !YAJL_IS_INTEGER(id) || h == NULL
        || !YAJL_IS_INTEGER(h))
    {
        return -1;
    }
    if (strcmp(status, "verified") != 0) {
        return strcmp(status, "unverifiable") == 0 ? 0 : -1;
    }
    out->id = (uint64_t) YAJL_GET_INTEGER(id);
    out->horizon_idx = prt_horizon_index((int) YAJL_GET_INTEGER(h));
    if (text == NULL || out->horizon_idx < 0
        || prt_parse_iso(text, strlen(text), &out->verified_at_ms) != 0
        || number(data, "prob_up", &out->prob_up) != 0
        || number(data, "actual_return", &out->actual_return) != 0)
    {
        return -1;
    }
    return 1;
}

int
prt_heard_parse(const char *json, size_t len, prt_heard_t *out)
{
    char      *text = malloc(len + 1);
    yajl_val   tree, data;
    int        rc = -1;

    if (text == NULL) {
        return -1;
    }
    memcpy(text, json, len);
    text[len] = '\0';
    tree = yajl_tree_parse(text, NULL, 0);
    data = tree ? field(tree, "data", yajl_t_object) : NULL;
    if (data) {
        rc = read_data(data, out);
    }
    yajl_tree_free(tree);
    free(text);
    return rc;
}
