/*
 * WebSocket client messages (ngx_http_pattern_rt_ws_msg.c) on arbitrary
 * bytes: never a crash, and on success a message whose fields are within
 * what the module relies on.
 */
#include <assert.h>
#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_pattern_rt_ws_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    prt_ws_msg_t  m;
    char          error[200];

    if (prt_ws_msg_parse((const char *) data, size, &m, error, sizeof(error))
        != 0)
    {
        assert(memchr(error, '\0', sizeof(error)) != NULL);
        assert(error[0] != '\0');
        return 0;
    }

    assert(m.type >= PRT_WS_MSG_SUBSCRIBE && m.type <= PRT_WS_MSG_PING);
    assert(m.stream < PRT_STREAM_COUNT);
    if (m.type != PRT_WS_MSG_PING && m.stream == PRT_STREAM_JOB) {
        assert(strlen(m.job_id) == PRT_JOB_ID_LEN);
        for (size_t i = 0; i < PRT_JOB_ID_LEN; i++) {
            char  c = m.job_id[i];

            assert(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }
    }
    assert(!m.has_since || m.type == PRT_WS_MSG_SUBSCRIBE);

    /* an alerts filter: only on subscribe to alerts; min_edge a number
     * >= 0; symbols distinct, sorted, each valid, at most the limit */
    assert(!m.has_filter || (m.type == PRT_WS_MSG_SUBSCRIBE
                             && m.stream == PRT_STREAM_ALERTS));
    assert(!(m.stream == PRT_STREAM_ALERTS && m.has_since));
    assert(m.filter.min_edge >= 0 && m.filter.min_edge <= DBL_MAX);
    assert(m.filter.direction <= PRT_WS_DIRECTION_DOWN);
    assert(m.filter.nsymbols <= PRT_WS_ALERT_SYMBOLS_MAX);
    for (size_t i = 0; i < m.filter.nsymbols; i++) {
        const char  *sym = m.filter.symbols[i];
        size_t       n = strnlen(sym, PRT_SYMBOL_SIZE);

        assert(n >= 1 && n <= 10 && sym[0] >= 'A' && sym[0] <= 'Z');
        for (size_t k = 1; k < n; k++) {
            assert((sym[k] >= 'A' && sym[k] <= 'Z')
                   || (sym[k] >= '0' && sym[k] <= '9')
                   || sym[k] == '.' || sym[k] == '-');
        }
        assert(i == 0 || strcmp(m.filter.symbols[i - 1], sym) < 0);
        /* a listed symbol passes the symbol test, one not listed does not */
        assert(prt_ws_alert_match(&m.filter, sym, m.filter.min_edge,
                                  m.filter.direction == PRT_WS_DIRECTION_DOWN));
    }
    assert(m.filter.nsymbols == 0
           || !prt_ws_alert_match(&m.filter, "0", DBL_MAX, 0));
    return 0;
}
