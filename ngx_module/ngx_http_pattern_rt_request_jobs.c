/*
 * Request parsers of the job reads: /job/{id}, GET /job/{id}/results,
 * GET /performance and GET /history (route captures and query strings,
 * no body). See ngx_http_pattern_rt_request.h and docs/api-validation.md.
 */

#include <string.h>

#include "ngx_http_pattern_rt_request_fields.h"


/* ---- job ids and job results -------------------------------------------- */


int
prt_req_parse_job_id(const char *id, size_t len, prt_req_job_t *out,
    prt_parse_error_t *err)
{
    size_t  i;
    int     dash;

    memset(out, 0, sizeof(*out));

    /* 404, not 400: the front end stops polling on 404 only */
    if (id == NULL || len != PRT_JOB_ID_LEN) {
        return prt_req_fail(err, PRT_E_NOT_FOUND, "job_id", "no such job");
    }

    for (i = 0; i < len; i++) {
        dash = (i == 8 || i == 13 || i == 18 || i == 23);

        if (dash ? id[i] != '-'
                 : prt_req_hex_value((unsigned char) id[i]) < 0)
        {
            memset(out, 0, sizeof(*out));
            return prt_req_fail(err, PRT_E_NOT_FOUND, "job_id", "no such job");
        }

        out->job_id[i] = (char) prt_req_ascii_lower((unsigned char) id[i]);
    }

    return 0;
}


enum { JR_SORT_BY, JR_DIRECTION, JR_LIMIT, JR_INCLUDE_VERIFIED, JR_COUNT };

/* in prt_sort_t and prt_direction_filter_t order */
static const char *const  sort_names[] = { "edge", "prob_up", "mean_return",
                                           "edge_calibrated", NULL };
static const char *const  direction_names[] = { "ALL", "UP", "DOWN", NULL };

static const field_spec_t  job_results_fields[JR_COUNT] = {
    [JR_SORT_BY] = { .name = "sort_by", .kind = FK_ENUM,
                     .names = sort_names },
    [JR_DIRECTION] = { .name = "direction", .kind = FK_ENUM,
                       .names = direction_names },
    [JR_LIMIT] = { .name = "limit", .kind = FK_INT,
                   .ilo = 1, .ihi = PRT_REQ_LIMIT_MAX },
    [JR_INCLUDE_VERIFIED] = { .name = "include_verified", .kind = FK_BOOL },
};


int
prt_req_parse_job_results(const char *id, size_t id_len, const char *args,
    size_t args_len, prt_req_job_results_t *out, prt_parse_error_t *err)
{
    prt_req_job_t  job;
    field_value_t  v[JR_COUNT];

    memset(out, 0, sizeof(*out));

    if (prt_req_parse_job_id(id, id_len, &job, err) != 0
        || prt_req_query_read(args, args_len, job_results_fields, JR_COUNT, v,
                              err)
           != 0)
    {
        return -1;
    }

    memcpy(out->job_id, job.job_id, sizeof(out->job_id));
    out->sort_by = (uint8_t) (v[JR_SORT_BY].present ? v[JR_SORT_BY].i
                                                    : PRT_SORT_EDGE);
    out->direction = (uint8_t) (v[JR_DIRECTION].present
                                ? v[JR_DIRECTION].i : PRT_FILTER_ALL);
    out->limit = (uint32_t) (v[JR_LIMIT].present ? v[JR_LIMIT].i
                                                 : PRT_REQ_DEFAULT_LIMIT);
    out->include_verified = (uint8_t) (v[JR_INCLUDE_VERIFIED].present
                                       ? v[JR_INCLUDE_VERIFIED].i : 1);

    return 0;
}


/* ---- GET /performance ---------------------------------------------------- */


enum { PE_PERIOD, PE_HORIZON, PE_DEDUPE, PE_COUNT };

/* in prt_period_t order */
static const char *const  period_names[] = { "1h", "today", "week", "all",
                                             NULL };

/* in prt_dedupe_t order */
static const char *const  dedupe_names[] = { "none", "symbol_day", NULL };

static const field_spec_t  performance_fields[PE_COUNT] = {
    [PE_PERIOD] = { .name = "period", .kind = FK_ENUM,
                    .names = period_names },
    [PE_HORIZON] = { .name = "horizon", .kind = FK_HORIZON },
    [PE_DEDUPE] = { .name = "dedupe", .kind = FK_ENUM,
                    .names = dedupe_names },
};


int
prt_req_parse_performance(const char *args, size_t args_len,
    prt_req_performance_t *out, prt_parse_error_t *err)
{
    field_value_t  v[PE_COUNT];

    memset(out, 0, sizeof(*out));

    if (prt_req_query_read(args, args_len, performance_fields, PE_COUNT, v,
                           err)
        != 0)
    {
        return -1;
    }

    out->period = (uint8_t) (v[PE_PERIOD].present ? v[PE_PERIOD].i
                                                  : PRT_PERIOD_ALL);
    out->horizon = (int32_t) (v[PE_HORIZON].present ? v[PE_HORIZON].i : 0);
    out->dedupe = (uint8_t) (v[PE_DEDUPE].present ? v[PE_DEDUPE].i
                                                  : PRT_DEDUPE_NONE);

    return 0;
}


/* ---- GET /history -------------------------------------------------------- */


enum { HI_LIMIT, HI_OFFSET, HI_SYMBOL, HI_VERIFIED_ONLY, HI_COUNT };

static const field_spec_t  history_fields[HI_COUNT] = {
    [HI_LIMIT] = { .name = "limit", .kind = FK_INT,
                   .ilo = 1, .ihi = PRT_REQ_HISTORY_LIMIT_MAX },
    [HI_OFFSET] = { .name = "offset", .kind = FK_INT,
                    .ilo = 0, .ihi = INT32_MAX },
    [HI_SYMBOL] = { .name = "symbol", .kind = FK_STRING },
    [HI_VERIFIED_ONLY] = { .name = "verified_only", .kind = FK_BOOL },
};


int
prt_req_parse_history(prt_parser_t *p, const char *args, size_t args_len,
    prt_req_history_t *out, prt_parse_error_t *err)
{
    field_value_t  v[HI_COUNT];

    memset(out, 0, sizeof(*out));

    if (prt_req_query_read(args, args_len, history_fields, HI_COUNT, v, err)
        != 0
        || (v[HI_SYMBOL].present
            && prt_req_read_symbol(p, "symbol", v[HI_SYMBOL].s,
                                   v[HI_SYMBOL].len, out->symbol, err)
               != 0))
    {
        memset(out, 0, sizeof(*out));
        return -1;
    }

    out->limit = (uint32_t) (v[HI_LIMIT].present ? v[HI_LIMIT].i
                                                 : PRT_REQ_DEFAULT_LIMIT);
    out->offset = (uint32_t) (v[HI_OFFSET].present ? v[HI_OFFSET].i : 0);
    out->verified_only = (uint8_t) (v[HI_VERIFIED_ONLY].present
                                    ? v[HI_VERIFIED_ONLY].i : 0);

    return 0;
}
