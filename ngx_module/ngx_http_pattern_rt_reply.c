/*
 * Pattern Real-Time nginx module: writing responses. Every answer, the
 * engine's and the module's own errors alike, goes through
 * ngx_http_pattern_rt_send_json() so that each carries the CORS headers and
 * the JSON content type. Errors nginx raises itself (a malformed request
 * line, a URI or header too long, a body over client_max_body_size) reach
 * pattern_rt_error through error_page and get the same JSON shape.
 */

#include "ngx_http_pattern_rt_module.h"


/* An HTTP status raised outside the API's own answers, as an API error. */
typedef struct {
    ngx_uint_t     status;       /* as raised (494 is nginx's own) */
    ngx_uint_t     sent;         /* as answered; 0: as raised */
    prt_error_t    code;
    const char    *message;
} ngx_http_pattern_rt_status_error_t;


static const ngx_http_pattern_rt_status_error_t *
    ngx_http_pattern_rt_status_error(ngx_uint_t status);
static ngx_int_t ngx_http_pattern_rt_cors(ngx_http_request_t *r);
static ngx_int_t ngx_http_pattern_rt_add_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);


ngx_int_t
ngx_http_pattern_rt_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_pattern_rt_cors(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (len == 0) {
        r->header_only = 1;
    }

    return ngx_http_pattern_rt_send_body(r, body, len);
}


/* Sends the headers as set, then body (pool memory) as the whole answer. */
ngx_int_t
ngx_http_pattern_rt_send_body(ngx_http_request_t *r, u_char *body,
    size_t len)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* Appends s to p as a JSON string body (quotes excluded). */
static u_char *
ngx_http_pattern_rt_json_escape(u_char *p, const char *s)
{
    for ( /* void */ ; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *p++ = '\\';
            *p++ = *s;

        } else if ((u_char) *s < 0x20) {
            p = ngx_sprintf(p, "\\u%04xd", (u_char) *s);

        } else {
            *p++ = *s;
        }
    }

    return p;
}


ngx_int_t
ngx_http_pattern_rt_send_error(ngx_http_request_t *r, prt_error_t code,
    const char *message, const char *field)
{
    return ngx_http_pattern_rt_send_error_status(r, 0, code, message, field);
}


/* status 0: the code's own (prt_error_status) */
ngx_int_t
ngx_http_pattern_rt_send_error_status(ngx_http_request_t *r,
    ngx_uint_t status, prt_error_t code, const char *message,
    const char *field)
{
    size_t   len;
    u_char  *body, *p;

    static u_char  internal[] =
        "{\"error\":{\"code\":\"E_INTERNAL\",\"message\":\""
        PRT_INTERNAL_MESSAGE "\"},\"detail\":\"" PRT_INTERNAL_MESSAGE "\"}";

    /* what failed is for the log; the client learns only that something
     * did (and the body needs no allocation, which may be what failed) */
    if (code == PRT_E_INTERNAL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pattern_rt: internal error: %s", message);
        return ngx_http_pattern_rt_send_json(r, status ? status : 500,
                                             internal, sizeof(internal) - 1);
    }

    /* every character may need 6 bytes escaped */
    len = sizeof("{\"error\":{\"code\":\"\",\"message\":\"\",\"field\":\"\"},"
                 "\"detail\":\"\"}")
          + ngx_strlen(prt_error_name(code))
          + 12 * ngx_strlen(message)
          + (field ? 6 * ngx_strlen(field) : 0);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error\":{\"code\":\"%s\",\"message\":\"",
                    prt_error_name(code));
    p = ngx_http_pattern_rt_json_escape(p, message);

    if (field) {
        p = ngx_cpymem(p, "\",\"field\":\"", sizeof("\",\"field\":\"") - 1);
        p = ngx_http_pattern_rt_json_escape(p, field);
    }

    p = ngx_cpymem(p, "\"},\"detail\":\"", sizeof("\"},\"detail\":\"") - 1);
    p = ngx_http_pattern_rt_json_escape(p, message);
    p = ngx_cpymem(p, "\"}", 2);

    return ngx_http_pattern_rt_send_json(r,
                                   status ? status : (ngx_uint_t) prt_error_status(code),
                                   body, p - body);
}


/* ---- errors raised outside the API's answers ------------------------- */


static const ngx_http_pattern_rt_status_error_t
    ngx_http_pattern_rt_status_errors[] =
{
    { 400, 400, PRT_E_BAD_REQUEST, "malformed request: the request line, a "
      "header, the URI or the body framing could not be parsed" },
    { 401, 401, PRT_E_UNAUTHORIZED, "authentication required" },
    { 403, 403, PRT_E_FORBIDDEN, "access denied" },
    { 404, 404, PRT_E_NOT_FOUND, "no such endpoint" },
    { 405, 405, PRT_E_METHOD, "method not allowed" },
    { 408, 408, PRT_E_TIMEOUT, "the request was not received in time" },
    { 411, 411, PRT_E_BAD_REQUEST, "a Content-Length is required" },
    { 413, 413, PRT_E_TOO_LARGE, "request body too large" },
    { 414, 414, PRT_E_TOO_LARGE, "request URI too long" },
    { 429, 429, PRT_E_RATE, "too many requests" },
    { 431, 431, PRT_E_TOO_LARGE, "request header too large" },
    /* error_page turns 494 into 400 unless told "=431" (README) */
    { 494, 431, PRT_E_TOO_LARGE, "request header too large" },
    { 501, 501, PRT_E_BAD_REQUEST, "not implemented: the request uses a "
      "method or transfer encoding the server does not support" },
    { 503, 503, PRT_E_BUSY, "service busy, try again" },
    { 504, 504, PRT_E_TIMEOUT, "the request timed out" },
    { 505, 505, PRT_E_BAD_REQUEST, "HTTP version not supported" },
};


static const ngx_http_pattern_rt_status_error_t *
ngx_http_pattern_rt_status_error(ngx_uint_t status)
{
    ngx_uint_t  i;

    static const ngx_http_pattern_rt_status_error_t  other_4xx =
        { 0, 0, PRT_E_BAD_REQUEST, "request refused" };
    static const ngx_http_pattern_rt_status_error_t  other_5xx =
        { 0, 0, PRT_E_INTERNAL, PRT_INTERNAL_MESSAGE };

    for (i = 0; i < sizeof(ngx_http_pattern_rt_status_errors)
                    / sizeof(ngx_http_pattern_rt_status_errors[0]); i++)
    {
        if (ngx_http_pattern_rt_status_errors[i].status == status) {
            return &ngx_http_pattern_rt_status_errors[i];
        }
    }

    return (status >= 400 && status < 500) ? &other_4xx : &other_5xx;
}


/*
 * A status returned by a handler (rc >= 300) as the API's JSON error, sent
 * here rather than by nginx's HTML page; detail says what failed, for the
 * log, when it is a 5xx. Other rc values, and requests whose header has
 * gone out already, are returned as they are.
 */
ngx_int_t
ngx_http_pattern_rt_send_status(ngx_http_request_t *r, ngx_int_t rc,
    const char *detail)
{
    ngx_uint_t                                 status;
    const ngx_http_pattern_rt_status_error_t  *e;

    if (rc < NGX_HTTP_SPECIAL_RESPONSE || r->header_sent) {
        return rc;
    }

    status = (ngx_uint_t) rc;
    e = ngx_http_pattern_rt_status_error(status);

    /* as nginx's own error pages: after these the connection's state is
     * unknown (a body half read, an allocation failed) */
    switch (status) {
    case NGX_HTTP_BAD_REQUEST:
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
    case NGX_HTTP_INTERNAL_SERVER_ERROR:
    case NGX_HTTP_NOT_IMPLEMENTED:
        r->keepalive = 0;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (detail == NULL) {
        detail = "no detail";
    }

    if (e->code == PRT_E_INTERNAL) {
        /* logged there with the detail, answered without it */
        return ngx_http_pattern_rt_send_error_status(r, status, e->code,
                                                     detail, NULL);
    }

    if (status >= 500) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pattern_rt: answering %ui: %s", status, detail);
    }

    return ngx_http_pattern_rt_send_error_status(r,
                                                 e->sent ? e->sent : status,
                                                 e->code, e->message, NULL);
}


/*
 * The content handler of pattern_rt_error: the JSON error of the status an
 * error_page redirect carries (r->err_status). Reached directly (a
 * location without "internal") it is a 404 like any unknown path.
 */
ngx_int_t
ngx_http_pattern_rt_error_handler(ngx_http_request_t *r)
{
    ngx_uint_t                                 status;
    const ngx_http_pattern_rt_status_error_t  *e;

    status = (r->err_status >= NGX_HTTP_BAD_REQUEST) ? r->err_status
                                                     : NGX_HTTP_NOT_FOUND;
    e = ngx_http_pattern_rt_status_error(status);

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    /* the status below is sent as given: ngx_http_send_header() would put
     * err_status back in its place */
    r->err_status = 0;

    if (e->sent == 431) {
        ngx_str_set(&r->headers_out.status_line,
                    "431 Request Header Fields Too Large");
    }

    if (e->code == PRT_E_INTERNAL) {
        /* nginx logged its reason where it raised the status */
        return ngx_http_pattern_rt_send_error_status(r, status, e->code,
                                 "nginx raised this status (logged above)",
                                 NULL);
    }

    return ngx_http_pattern_rt_send_error_status(r,
                                                 e->sent ? e->sent : status,
                                                 e->code, e->message, NULL);
}


/*
 * Ends a request parked with NGX_DONE from outside its own connection's
 * events (an engine response, a timeout, the engine going away).
 */
void
ngx_http_pattern_rt_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* ---- CORS ------------------------------------------------------------ */


static ngx_int_t
ngx_http_pattern_rt_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


ngx_table_elt_t *
ngx_http_pattern_rt_find_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * Access-Control-Allow-Origin on every response whose Origin is allowed by
 * pattern_rt_cors_origin ("*" allows any), and the preflight answer for
 * OPTIONS.
 */
static ngx_int_t
ngx_http_pattern_rt_cors(ngx_http_request_t *r)
{
    ngx_str_t                       *allowed, origin, v;
    ngx_uint_t                       i, any, match;
    ngx_table_elt_t                 *h;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);
    if (plcf->cors_origins == NULL) {
        return NGX_OK;
    }

    h = ngx_http_pattern_rt_find_header(r, "Origin");
    if (h) {
        origin = h->value;

    } else {
        ngx_str_null(&origin);
    }

    allowed = plcf->cors_origins->elts;
    any = 0;
    match = 0;

    for (i = 0; i < plcf->cors_origins->nelts; i++) {
        if (allowed[i].len == 1 && allowed[i].data[0] == '*') {
            any = 1;

        } else if (origin.len == allowed[i].len
                   && ngx_strncasecmp(origin.data, allowed[i].data,
                                      origin.len) == 0)
        {
            match = 1;
        }
    }

    if (match) {
        if (ngx_http_pattern_rt_add_header(r, "Access-Control-Allow-Origin",
                                           &origin) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&v, "Origin");
        if (ngx_http_pattern_rt_add_header(r, "Vary", &v) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (any) {
        ngx_str_set(&v, "*");
        if (ngx_http_pattern_rt_add_header(r, "Access-Control-Allow-Origin",
                                           &v) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        return NGX_OK;
    }

    if (r->method != NGX_HTTP_OPTIONS) {
        return NGX_OK;
    }

    ngx_str_set(&v, "GET, POST, DELETE, OPTIONS");
    if (ngx_http_pattern_rt_add_header(r, "Access-Control-Allow-Methods", &v)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "Content-Type, Authorization");
    if (ngx_http_pattern_rt_add_header(r, "Access-Control-Allow-Headers", &v)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "600");
    return ngx_http_pattern_rt_add_header(r, "Access-Control-Max-Age", &v);
}
