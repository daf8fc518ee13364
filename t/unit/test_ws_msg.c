/*
 * WebSocket client messages (SPEC 5.3): every accepted shape and every
 * refusal with the message the client is told.
 */
#include "tap.h"

#include "ngx_http_pattern_rt_ws_msg.h"

#define JOB "3CB71383-e74c-4258-98c0-bf9a18aa1e29"

static int
parse(const char *text, prt_ws_msg_t *m, char *error)
{
    return prt_ws_msg_parse(text, strlen(text), m, error, 200);
}

static void
accepted(void)
{
    prt_ws_msg_t  m;
    char          e[200];

    ok(parse("{\"type\":\"ping\"}", &m, e) == 0 && m.type == PRT_WS_MSG_PING,
       "ping");
    ok(parse("{\"type\":\"subscribe\",\"job_id\":\"" JOB "\"}", &m, e) == 0
       && m.type == PRT_WS_MSG_SUBSCRIBE && m.stream == PRT_STREAM_JOB
       && !m.has_since, "subscribe to a job");
    is_str(m.job_id, "3cb71383-e74c-4258-98c0-bf9a18aa1e29",
           "job id lower-cased");
    ok(parse("{\"job_id\":\"" JOB "\",\"since\":1838335529284608,"
             "\"type\":\"subscribe\"}", &m, e) == 0 && m.has_since
       && m.since == 1838335529284608ULL, "since, type last");
    ok(parse("{\"type\":\"subscribe\",\"channel\":\"verifications\"}", &m, e)
       == 0 && m.stream == PRT_STREAM_VERIFICATIONS, "verifications channel");
    ok(parse("{\"type\":\"subscribe\",\"channel\":\"prices\",\"since\":0}",
             &m, e) == 0 && m.stream == PRT_STREAM_PRICES && m.has_since
       && m.since == 0, "prices channel, since 0");
    ok(parse("{\"type\":\"unsubscribe\",\"job_id\":\"" JOB "\"}", &m, e) == 0
       && m.type == PRT_WS_MSG_UNSUBSCRIBE, "unsubscribe");
    ok(parse(" {\"type\" : \"ping\"} \n", &m, e) == 0, "white space");
}

static void
refused(const char *text, const char *want)
{
    prt_ws_msg_t  m;
    char          e[200];

    ok(parse(text, &m, e) == -1 && strstr(e, want) != NULL,
       "refused: %s", text);
    if (strstr(e, want) == NULL) {
        printf("#   error \"%s\", want \"%s\"\n", e, want);
    }
}

int
main(void)
{
    accepted();

    refused("", "malformed JSON");
    refused("not json", "malformed JSON");
    refused("[1]", "JSON object");
    refused("{}", "type");
    refused("{\"type\":1}", "type");
    refused("{\"type\":\"publish\"}", "unknown message");
    refused("{\"type\":\"ping\",\"x\":1}", "unknown field \"x\"");
    refused("{\"type\":\"ping\",\"job_id\":\"" JOB "\"}", "ping takes no");
    refused("{\"type\":\"subscribe\"}", "exactly one of job_id and channel");
    refused("{\"type\":\"subscribe\",\"job_id\":\"" JOB "\","
            "\"channel\":\"prices\"}", "exactly one of job_id and channel");
    refused("{\"type\":\"subscribe\",\"job_id\":\"nope\"}", "job id");
    refused("{\"type\":\"subscribe\",\"job_id\":7}", "job id");
    refused("{\"type\":\"subscribe\",\"job_id\":\"3cb71383-e74c-4258-98c0-"
            "bf9a18aa1e2g\"}", "job id");
    refused("{\"type\":\"subscribe\",\"channel\":\"jobs\"}",
            "\"verifications\" or \"prices\"");
    refused("{\"type\":\"subscribe\",\"channel\":\"prices\",\"since\":-1}",
            "non-negative integer");
    refused("{\"type\":\"subscribe\",\"channel\":\"prices\",\"since\":1.5}",
            "non-negative integer");
    refused("{\"type\":\"subscribe\",\"channel\":\"prices\",\"since\":\"1\"}",
            "non-negative integer");
    refused("{\"type\":\"unsubscribe\",\"channel\":\"prices\",\"since\":1}",
            "unsubscribe takes no since");
    refused("{\"type\":\"ping\",\"type\":\"ping\"}", "duplicate field");
    refused("{\"type\":\"ping\",\"a\":[[[[[[]]]]]]}", "nested too deep");
    {
        prt_ws_msg_t  m;
        char          e[200];
        const char    t[] = "{\"type\":\"ping\"}\0x";

        ok(prt_ws_msg_parse(t, sizeof(t) - 1, &m, e, sizeof(e)) == -1,
           "NUL bytes refused");
    }
    return done_testing();
}
