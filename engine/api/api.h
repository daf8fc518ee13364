/*
 * Request handlers: each decodes one request struct (pattern_rt_msg.h),
 * does its work and answers with a JSON body through prt_api_reply().
 */
#ifndef PRT_API_H
#define PRT_API_H

#include <stdint.h>

#include "core/json.h"
#include "api/engine.h"
#include "pattern_rt_errors.h"

typedef void (*prt_api_handler_fn)(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);

/* The server's request callback (ctx is the prt_engine_t). */
void prt_api_dispatch(void *ctx, const prt_reply_t *to, uint16_t type,
    const uint8_t *payload, uint32_t len);

void prt_api_reply(prt_engine_t *e, const prt_reply_t *to, int status,
    prt_json_t *j);
void prt_api_reply_flags(prt_engine_t *e, const prt_reply_t *to, int status,
    uint16_t flags, prt_json_t *j);
void prt_api_error(prt_engine_t *e, const prt_reply_t *to, prt_error_t code,
    const char *message, const char *field);

void prt_api_health(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_metrics(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_search(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_prices(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_index_stats(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_index_reload(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_available_dates(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);

void prt_api_run(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_job_get(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_job_results(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_job_cancel(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_history(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);

void prt_api_bars(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_subscribe(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);
void prt_api_performance(prt_engine_t *e, const prt_reply_t *to,
    const uint8_t *payload, uint32_t len);

/* the index's description, shared by /health and /api/index/stats */
void prt_api_index_json(const prt_index_t *ix, prt_json_t *j);

#endif
