/*
 * libFuzzer target for the payloads other nodes send through PostgreSQL
 * notifications (engine/relay/payload.c): any database user can notify
 * the channel, so every byte string is possible.
 *
 * Input: the payload text itself (notifications carry no NUL: an input
 * with one must be refused).
 *
 * Checks, for every input:
 *   - an accepted event reads the same once written again: encoding its
 *     header and JSON and decoding that gives the same header and JSON;
 *   - its JSON is one object on one line, and a job event names its job;
 *   - a part's head is within its bounds (index below count, count within
 *     PRT_RELAY_PARTS_MAX), and its bytes start inside the input;
 *   - the length of the part a payload is cut into is within its bounds
 *     and never ends inside a UTF-8 sequence.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/payload.h"
#include "fuzz_check.h"

static void
check_event(const prt_event_hdr_t *hdr, const char *json, size_t len,
    const char *text, size_t text_len)
{
    prt_event_hdr_t   again;
    const char       *json2;
    size_t            len2, cap = len + PRT_RELAY_HEAD_MAX + 1, n;
    char             *out = malloc(cap);

    CHECK(out != NULL);
    CHECK(json >= text && json + len == text + text_len);
    CHECK(len >= 2 && json[0] == '{' && json[len - 1] == '}');
    CHECK(memchr(json, '\n', len) == NULL);
    CHECK(hdr->stream != PRT_STREAM_JOB || hdr->job_id[0] != '\0');
    n = prt_relay_encode(hdr, json, len, out, cap);
    CHECK(n > 0);
    CHECK(prt_relay_decode(out, n, &again, &json2, &len2) == PRT_RELAY_EVENT);
    CHECK(memcmp(&again, hdr, sizeof(again)) == 0);
    CHECK(len2 == len && memcmp(json2, json, len) == 0);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char       *text = (const char *) data, *json;
    prt_event_hdr_t   hdr;
    size_t            len, skip, n;
    unsigned          count, index;
    int               kind;

    kind = prt_relay_decode(text, size, &hdr, &json, &len);
    CHECK(kind == -1 || kind == PRT_RELAY_EVENT || kind == PRT_RELAY_GAP);
    CHECK(kind == -1 || memchr(text, '\0', size) == NULL);
    if (kind == PRT_RELAY_EVENT) {
        check_event(&hdr, json, len, text, size);
    }
    if (prt_relay_part(text, size, &count, &index, &skip) == 0) {
        CHECK(count >= 2 && count <= PRT_RELAY_PARTS_MAX && index < count);
        CHECK(skip > 0 && skip < size);
    }
    if (size > 0) {
        n = prt_relay_part_len(text, size, 0);
        CHECK(n > 0 || size > PRT_RELAY_PART_MAX);
        CHECK(n <= size && n <= PRT_RELAY_PART_MAX);
        CHECK(n == size || ((unsigned char) text[n] & 0xc0) != 0x80 || n == 0);
    }
    return 0;
}
