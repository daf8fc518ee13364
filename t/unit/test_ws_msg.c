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

/* The alerts channel's filter: what is accepted, normalised, and what
 * passes it. */
static void
alerts(void)
{
    prt_ws_msg_t  m;
    char          e[200], many[12000];
    size_t        n;

    ok(parse("{\"type\":\"subscribe\",\"channel\":\"alerts\"}", &m, e) == 0
       && m.stream == PRT_STREAM_ALERTS && !m.has_filter
       && m.filter.min_edge == 0 && m.filter.direction == PRT_WS_DIRECTION_ALL
       && m.filter.nsymbols == 0, "alerts, no filter: every result");
    ok(prt_ws_alert_match(&m.filter, "AAPL", 0, 0)
       && prt_ws_alert_match(&m.filter, "MSFT", 0.5, 1),
       "no filter: anything passes");

    ok(parse("{\"type\":\"subscribe\",\"channel\":\"alerts\",\"min_edge\":"
             "0.05,\"direction\":\"UP\",\"symbols\":[\"msft\",\"AAPL\","
             "\"brk.b\",\"aapl\"]}", &m, e) == 0 && m.has_filter,
       "alerts with every filter field");
    ok(m.filter.min_edge == 0.05 && m.filter.direction == PRT_WS_DIRECTION_UP,
       "min_edge and direction stored");
    ok(m.filter.nsymbols == 3 && strcmp(m.filter.symbols[0], "AAPL") == 0
       && strcmp(m.filter.symbols[1], "BRK.B") == 0
       && strcmp(m.filter.symbols[2], "MSFT") == 0,
       "symbols upper-cased, distinct, sorted");
    ok(prt_ws_alert_match(&m.filter, "AAPL", 0.05, 0), "edge == min_edge passes");
    ok(!prt_ws_alert_match(&m.filter, "AAPL", 0.0499, 0), "edge below fails");
    ok(!prt_ws_alert_match(&m.filter, "AAPL", 1, 1), "DOWN fails UP");
    ok(!prt_ws_alert_match(&m.filter, "GOOG", 1, 0), "unlisted symbol fails");
    ok(prt_ws_alert_match(&m.filter, "BRK.B", 1, 0)
       && prt_ws_alert_match(&m.filter, "MSFT", 1, 0), "listed symbols pass");
    ok(!prt_ws_alert_match(&m.filter, "AAPL", 0.0 / 0.0, 0), "NaN edge fails");

    ok(parse("{\"type\":\"subscribe\",\"channel\":\"alerts\",\"direction\":"
             "\"DOWN\",\"min_edge\":0,\"symbols\":\"AAPL, msft\\nX\"}", &m, e)
       == 0 && m.filter.nsymbols == 3 && m.filter.direction
       == PRT_WS_DIRECTION_DOWN, "symbols as one string, split as /run");
    ok(prt_ws_alert_match(&m.filter, "X", 0, 1)
       && !prt_ws_alert_match(&m.filter, "X", 0, 0), "DOWN only");
    ok(parse("{\"symbols\":[\"A\"],\"direction\":\"ALL\",\"min_edge\":3,"
             "\"channel\":\"alerts\",\"type\":\"subscribe\"}", &m, e) == 0
       && m.filter.min_edge == 3, "fields in any order, integer min_edge");
    ok(parse("{\"type\":\"unsubscribe\",\"channel\":\"alerts\"}", &m, e) == 0
       && m.type == PRT_WS_MSG_UNSUBSCRIBE && m.stream == PRT_STREAM_ALERTS,
       "unsubscribe from alerts");

    /* the limit: 500 distinct symbols, repeats not counted */
    n = (size_t) snprintf(many, sizeof(many), "{\"type\":\"subscribe\","
                          "\"channel\":\"alerts\",\"symbols\":[");
    for (int i = 0; i < PRT_WS_ALERT_SYMBOLS_MAX; i++) {
        n += (size_t) snprintf(many + n, sizeof(many) - n, "%s\"S%d\",\"s%d\"",
                               i ? "," : "", i, i);
    }
    snprintf(many + n, sizeof(many) - n, "]}");
    ok(parse(many, &m, e) == 0 && m.filter.nsymbols == PRT_WS_ALERT_SYMBOLS_MAX,
       "500 distinct symbols (each twice) accepted");
    snprintf(many + n, sizeof(many) - n, ",\"S500\"]}");
    ok(parse(many, &m, e) == -1 && strstr(e, "more than 500") != NULL,
       "501 distinct symbols refused");
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
            "\"verifications\", \"prices\" or \"alerts\"");
    refused("{\"type\":\"subscribe\",\"channel\":\"prices\",\"since\":-1}",
            "non-negative integer");
    refused("{\"type\":\"subscribe\",\"channel\":\"prices\",\"since\":1.5}",
            "non-negative integer");
    refused("{\"type\":\"subscribe\",\"channel\":\"prices\",\"since\":\"1\"}",
            "non-negative integer");
    refused("{\"type\":\"unsubscribe\",\"channel\":\"prices\",\"since\":1}",
            "unsubscribe takes no since");
    refused("{\"type\":\"ping\",\"type\":\"ping\"}", "duplicate field");
    alerts();
#define ALERTS "{\"type\":\"subscribe\",\"channel\":\"alerts\","
    refused(ALERTS "\"min_edge\":-0.01}", "min_edge must be a number >= 0");
    refused(ALERTS "\"min_edge\":\"0.1\"}", "min_edge must be a number");
    refused(ALERTS "\"min_edge\":null}", "min_edge must be a number");
    refused(ALERTS "\"min_edge\":1e999}", "min_edge must be a number");
    refused(ALERTS "\"direction\":\"up\"}", "\"UP\", \"DOWN\" or \"ALL\"");
    refused(ALERTS "\"direction\":1}", "\"UP\", \"DOWN\" or \"ALL\"");
    refused(ALERTS "\"symbols\":[]}", "symbols is empty");
    refused(ALERTS "\"symbols\":\" , \"}", "symbols is empty");
    refused(ALERTS "\"symbols\":[\"AAPL\",7]}", "array of strings");
    refused(ALERTS "\"symbols\":{\"a\":1}}", "array of strings");
    refused(ALERTS "\"symbols\":[\"1ABC\"]}", "a symbol is 1 to 10");
    refused(ALERTS "\"symbols\":[\"TOOLONGTICKER\"]}", "a symbol is 1 to 10");
    refused(ALERTS "\"symbols\":[\"A$\"]}", "a symbol is 1 to 10");
    refused(ALERTS "\"since\":5}", "alerts channel takes no since");
    refused(ALERTS "\"colour\":\"red\"}", "unknown field \"colour\"");
    refused("{\"type\":\"subscribe\",\"channel\":\"prices\",\"min_edge\":1}",
            "only for subscribing to the alerts channel");
    refused("{\"type\":\"subscribe\",\"job_id\":\"" JOB "\",\"symbols\":"
            "[\"A\"]}", "only for subscribing to the alerts channel");
    refused("{\"type\":\"unsubscribe\",\"channel\":\"alerts\",\"direction\":"
            "\"UP\"}", "only for subscribing to the alerts channel");
    refused("{\"type\":\"ping\",\"min_edge\":1}", "ping takes no");
    refused("{\"type\":\"subscribe\",\"channel\":\"alert\"}",
            "\"prices\" or \"alerts\"");
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
