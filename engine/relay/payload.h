/*
 * The text of one event as it crosses from node to node in a PostgreSQL
 * notification (relay.h): a header line of space-separated fields, then
 * the event's JSON as the node that published it rendered it.
 *
 *   e <stream> <kind> <coalesce> <direction> <seq> <job_id|-> <edge|-> <symbol|->\n<json>
 *   g\n                      events of the sender may be missing (a gap)
 *   p <count> <index>\n<part>   part index (from 0) of a longer payload
 *
 * Notifications are text of at most PRT_RELAY_PAYLOAD_MAX bytes, without
 * NUL. A longer one (a job_complete carries every result of its job) is
 * cut into parts at UTF-8 character boundaries, sent in order by one
 * connection, and put together by the receiver per sending connection.
 * Any database user may notify the channel, so a payload is parsed as
 * untrusted bytes: anything but these forms is refused.
 */
#ifndef PRT_RELAY_PAYLOAD_H
#define PRT_RELAY_PAYLOAD_H

#include <stddef.h>

#include "pattern_rt_msg.h"

/* PostgreSQL's limit is 8000 bytes, terminating NUL included. */
#define PRT_RELAY_PAYLOAD_MAX  7999

typedef enum {
    PRT_RELAY_EVENT = 1,
    PRT_RELAY_GAP
} prt_relay_kind_t;

/* The bytes of payload one part carries at most, and the most parts of
 * one payload (about 32 MB). */
#define PRT_RELAY_PART_MAX     7936
#define PRT_RELAY_PARTS_MAX    4096

/* Writes the payload of an event into out (cap bytes, NUL-terminated;
 * PRT_RELAY_HEAD_MAX more than the JSON is enough); returns its length, or
 * 0 when it does not fit or the JSON holds a NUL. */
#define PRT_RELAY_HEAD_MAX     160

size_t prt_relay_encode(const prt_event_hdr_t *hdr, const char *json,
    size_t len, char *out, size_t cap);

/* The length of the part of text that starts at `at`: at most
 * PRT_RELAY_PART_MAX bytes, never ending inside a UTF-8 sequence. */
size_t prt_relay_part_len(const char *text, size_t len, size_t at);

/* Reads the head of a part: its count, its index and where its bytes
 * start; -1 when text is not a well-formed part. */
int prt_relay_part(const char *text, size_t len, unsigned *count,
    unsigned *index, size_t *skip);

/* Reads a payload: for an event, the header and where its JSON is in
 * text. Returns the kind, or -1 for anything malformed. */
int prt_relay_decode(const char *text, size_t len, prt_event_hdr_t *hdr,
    const char **json, size_t *json_len);

#endif
