/*
 * WebSocket client messages (ngx_http_pattern_rt_ws_msg.c) on arbitrary
 * bytes: never a crash, and on success a message whose fields are within
 * what the module relies on.
 */
#include <assert.h>
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
    assert(m.stream <= PRT_STREAM_PRICES);
    if (m.type != PRT_WS_MSG_PING && m.stream == PRT_STREAM_JOB) {
        assert(strlen(m.job_id) == PRT_JOB_ID_LEN);
        for (size_t i = 0; i < PRT_JOB_ID_LEN; i++) {
            char  c = m.job_id[i];

            assert(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }
    }
    assert(!m.has_since || m.type == PRT_WS_MSG_SUBSCRIBE);
    return 0;
}
