#include <stdio.h>

#include "api/api.h"
#include "core/log.h"
#include "pattern_rt_msg.h"

typedef struct {
    uint16_t             type;
    uint32_t             size;        /* the fixed part of the request */
    int                  variable;    /* more may follow the fixed part */
    prt_api_handler_fn   handler;
    const char          *name;
} prt_route_t;

static const prt_route_t routes[] = {
    { PRT_MSG_HEALTH, 0, 0, prt_api_health, "health" },
    { PRT_MSG_SEARCH, sizeof(prt_req_search_t), 0, prt_api_search, "search" },
    { PRT_MSG_PRICES, sizeof(prt_req_prices_t), 0, prt_api_prices, "prices" },
    { PRT_MSG_INDEX_STATS, 0, 0, prt_api_index_stats, "index stats" },
    { PRT_MSG_INDEX_RELOAD, 0, 0, prt_api_index_reload, "index reload" },
    { PRT_MSG_AVAILABLE_DATES, 0, 0, prt_api_available_dates,
      "available dates" },
    { PRT_MSG_RUN, sizeof(prt_req_run_t), 1, prt_api_run, "run" },
    { PRT_MSG_JOB_GET, sizeof(prt_req_job_t), 0, prt_api_job_get, "job" },
    { PRT_MSG_JOB_RESULTS, sizeof(prt_req_job_results_t), 0,
      prt_api_job_results, "job results" },
    { PRT_MSG_JOB_CANCEL, sizeof(prt_req_job_t), 0, prt_api_job_cancel,
      "cancel" },
    { PRT_MSG_HISTORY, sizeof(prt_req_history_t), 0, prt_api_history,
      "history" },
    { PRT_MSG_BARS, sizeof(prt_req_bars_t), 1, prt_api_bars, "bars" },
    { PRT_MSG_PERFORMANCE, sizeof(prt_req_performance_t), 0,
      prt_api_performance, "performance" },
    { PRT_MSG_METRICS, 0, 0, prt_api_metrics, "metrics" },
    { PRT_MSG_SUBSCRIBE, sizeof(prt_req_subscribe_t), 0, prt_api_subscribe,
      "subscribe" },
};

void
prt_api_dispatch(void *ctx, const prt_reply_t *to, uint16_t type,
    const uint8_t *payload, uint32_t len)
{
    prt_engine_t  *e = ctx;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].type != type) {
            continue;
        }
        if (len < routes[i].size || (!routes[i].variable
                                      && len != routes[i].size))
        {
            prt_warn("%s request of %u bytes, expected %s%u",
                     routes[i].name, len, routes[i].variable ? ">= " : "",
                     routes[i].size);
            prt_api_error(e, to, PRT_E_BAD_REQUEST,
                          "malformed request record", NULL);
            return;
        }
        routes[i].handler(e, to, payload, len);
        return;
    }

    prt_warn("unknown request type %u from slot %u", type, to->slot);
    prt_api_error(e, to, PRT_E_BAD_REQUEST, "unknown request type", NULL);
}

void
prt_api_reply(prt_engine_t *e, const prt_reply_t *to, int status,
    prt_json_t *j)
{
    prt_api_reply_flags(e, to, status, 0, j);
}

void
prt_api_reply_flags(prt_engine_t *e, const prt_reply_t *to, int status,
    uint16_t flags, prt_json_t *j)
{
    const char  *body;
    size_t       len;

    body = prt_json_body(j, &len);
    if (prt_json_failed(j)) {
        prt_error("rendering a %d response failed", status);
        prt_api_error(e, to, PRT_E_INTERNAL, "response rendering failed",
                      NULL);
        return;
    }
    (void) prt_server_respond_flags(e->server, to, status, flags, body, len);
}

void
prt_api_error(prt_engine_t *e, const prt_reply_t *to, prt_error_t code,
    const char *message, const char *field)
{
    prt_json_t   j;
    const char  *body;
    size_t       len;

    /* an internal error's text is for the log: it names stores, files and
     * library errors a client has no use for */
    if (code == PRT_E_INTERNAL) {
        prt_error("internal error answered to slot %u: %s", to->slot,
                  message);
        message = PRT_INTERNAL_MESSAGE;
        field = NULL;
    }

    if (prt_json_init(&j) != 0) {
        return;
    }
    prt_json_error(&j, prt_error_name(code), message, field);
    body = prt_json_body(&j, &len);
    (void) prt_server_respond(e->server, to, prt_error_status(code), body,
                              len);
    prt_json_free(&j);
}
