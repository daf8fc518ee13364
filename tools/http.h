/*
 * The command-line tools' HTTP client (the replay, docs/replay.md): libcurl's
 * easy interface behind the few calls the replay makes. The nginx module
 * never blocks; a CLI talking to one server, one request at a time, may.
 *
 * One easy handle per client, so one connection to one server kept alive
 * between requests (libcurl opens it again when the server has closed it,
 * and sends a request again that a connection closed while idle never
 * answered). Every request is bounded by a timeout, every answer by a size
 * limit. http:// and https:// (TLS with libcurl's default certificate
 * checks); no redirects, proxies from the environment or other protocols.
 *
 *     prt_http_t *h = prt_http_new("http://127.0.0.1:8080", NULL, err, n);
 *     prt_http_response_t res;
 *     if (prt_http_request(h, "GET", "/health", NULL, 0, &res) == 0)
 *         ... res.status, res.body (NUL-terminated), res.len ...
 *     prt_http_free(h);
 */
#ifndef PRT_TOOLS_HTTP_H
#define PRT_TOOLS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define PRT_HTTP_ERR_SIZE        256
#define PRT_HTTP_TIMEOUT_MS      30000
#define PRT_HTTP_MAX_RESPONSE    (64u << 20)   /* body bytes */
#define PRT_HTTP_MAX_TOKEN       512           /* bearer token bytes */

typedef struct prt_http_s  prt_http_t;

typedef struct {
    int          timeout_ms;     /* a whole request (connect included);
                                    0: PRT_HTTP_TIMEOUT_MS */
    size_t       max_response;   /* largest body; 0: PRT_HTTP_MAX_RESPONSE */
    const char  *bearer;         /* sent as Authorization: Bearer; NULL:
                                    none. Copied. */
    const char  *ca_file;        /* PEM certificates trusted for https://
                                    instead of the system's; NULL: the
                                    system's. Copied. */
} prt_http_options_t;

typedef struct {
    int          status;         /* 100..599 */
    const char  *body;           /* NUL-terminated; valid until the next
                                    request or prt_http_free */
    size_t       len;
} prt_http_response_t;

typedef struct {
    uint64_t     requests;       /* answered */
    uint64_t     connects;       /* connections opened */
} prt_http_stats_t;

/*
 * url: http[s]://HOST[:PORT][/PREFIX] (HOST a name, an IPv4 address or
 * [IPv6]; no user, query or fragment); every request path is appended to
 * PREFIX, so a server mounted under /patterns is reached with the same
 * paths. No connection is made yet. NULL on a bad URL or options (reason
 * in err), when libcurl cannot start, or out of memory.
 */
prt_http_t *prt_http_new(const char *url, const prt_http_options_t *opt,
    char *err, size_t errlen);
void prt_http_free(prt_http_t *h);

/*
 * Sends one request (body may be NULL when len is 0; a body is sent as
 * application/json) and reads the whole response. 0: *res holds it,
 * whatever the status; -1: no response (connection refused, timeout,
 * malformed or oversized response), reason in prt_http_errmsg().
 */
int prt_http_request(prt_http_t *h, const char *method, const char *path,
    const char *body, size_t len, prt_http_response_t *res);

const char *prt_http_errmsg(const prt_http_t *h);
const char *prt_http_base(const prt_http_t *h);     /* the URL as given */
void prt_http_stats(const prt_http_t *h, prt_http_stats_t *out);

#endif
