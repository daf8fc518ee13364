/*
 * Pattern Real-Time nginx module: writing responses. Every answer, the
 * engine's and the module's own errors alike, goes through
 * ngx_http_pattern_rt_send_json() so that each carries the CORS headers and
 * the JSON content type.
 */

#include "ngx_http_pattern_rt_module.h"


static ngx_int_t ngx_http_pattern_rt_cors(ngx_http_request_t *r);
static ngx_int_t ngx_http_pattern_rt_add_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);


ngx_int_t
ngx_http_pattern_rt_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

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
