/*
 * Pattern Real-Time nginx module: the WebSocket handshake (RFC 6455 4.2):
 * GET, Upgrade: websocket, Connection: upgrade, version 13, a 16-byte key,
 * the Origin policy, the token, the connection limit; then 101, and the
 * connection (ngx_http_pattern_rt_ws.c) takes over.
 */

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ngx_http_pattern_rt_ws.h"


#define NGX_HTTP_PATTERN_RT_WS_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


/* ---- the handshake ---------------------------------------------------- */


static ngx_uint_t
ngx_http_pattern_rt_header_has_token(ngx_http_request_t *r, const char *name,
    const char *token)
{
    u_char           *p, *last;
    size_t            len;
    ngx_table_elt_t  *h;

    h = ngx_http_pattern_rt_find_header(r, name);
    if (h == NULL) {
        return 0;
    }

    /* comma-separated tokens, case-insensitive (RFC 7230 6.7) */
    len = ngx_strlen(token);
    p = h->value.data;
    last = p + h->value.len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',' || *p == '\t')) {
            p++;
        }

        if ((size_t) (last - p) >= len
            && ngx_strncasecmp(p, (u_char *) token, len) == 0
            && (p + len == last || p[len] == ',' || p[len] == ' '
                || p[len] == '\t'))
        {
            return 1;
        }

        while (p < last && *p != ',') {
            p++;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_pattern_rt_ws_origin_ok(ngx_http_request_t *r,
    ngx_http_pattern_rt_loc_conf_t *plcf)
{
    ngx_str_t        *o;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    if (plcf->ws_origins == NULL) {
        return 1;
    }

    h = ngx_http_pattern_rt_find_header(r, "Origin");
    if (h == NULL) {
        return 0;
    }

    o = plcf->ws_origins->elts;

    for (i = 0; i < plcf->ws_origins->nelts; i++) {
        if ((o[i].len == 1 && o[i].data[0] == '*')
            || (o[i].len == h->value.len
                && ngx_strncasecmp(o[i].data, h->value.data, o[i].len) == 0))
        {
            return 1;
        }
    }

    return 0;
}


/* Sec-WebSocket-Accept: base64(SHA-1(key + GUID)), OpenSSL for both */
static ngx_int_t
ngx_http_pattern_rt_ws_accept(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *accept)
{
    u_char    digest[SHA_DIGEST_LENGTH];
    u_char    buf[64 + sizeof(NGX_HTTP_PATTERN_RT_WS_GUID)];

    if (key->len > 64) {
        return NGX_ERROR;
    }

    ngx_memcpy(buf, key->data, key->len);
    ngx_memcpy(buf + key->len, NGX_HTTP_PATTERN_RT_WS_GUID,
               sizeof(NGX_HTTP_PATTERN_RT_WS_GUID) - 1);

    SHA1(buf, key->len + sizeof(NGX_HTTP_PATTERN_RT_WS_GUID) - 1, digest);

    accept->data = ngx_pnalloc(r->pool, 32);
    if (accept->data == NULL) {
        return NGX_ERROR;
    }

    accept->len = EVP_EncodeBlock(accept->data, digest, SHA_DIGEST_LENGTH);

    return NGX_OK;
}


/* The key is base64 of 16 bytes: 22 characters and "==". */
static ngx_uint_t
ngx_http_pattern_rt_ws_key_ok(ngx_str_t *key)
{
    u_char  out[32];

    if (key->len != 24 || key->data[22] != '=' || key->data[23] != '=') {
        return 0;
    }

    return EVP_DecodeBlock(out, key->data, 24) == 18;
}


/* Why a handshake is refused; the handler sends it. */
typedef struct {
    ngx_uint_t    status;               /* 0: the code's own */
    prt_error_t   code;
    const char   *message;
} ngx_http_pattern_rt_ws_refusal_t;


static ngx_int_t
ngx_http_pattern_rt_ws_refuse(ngx_http_pattern_rt_ws_refusal_t *no,
    ngx_uint_t status, prt_error_t code, const char *message)
{
    no->status = status;
    no->code = code;
    no->message = message;
    return NGX_DECLINED;
}


/* NGX_OK, NGX_DECLINED with *no filled, or an HTTP error status */
static ngx_int_t
ngx_http_pattern_rt_ws_handshake(ngx_http_request_t *r,
    ngx_http_pattern_rt_loc_conf_t *plcf, ngx_str_t *accept,
    ngx_http_pattern_rt_ws_refusal_t *no)
{
    ngx_table_elt_t  *h;

    if (r->method != NGX_HTTP_GET) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_METHOD,
                                        "a WebSocket handshake is a GET");
    }

    if (r->http_version < NGX_HTTP_VERSION_11
        || !ngx_http_pattern_rt_header_has_token(r, "Upgrade", "websocket")
        || !ngx_http_pattern_rt_header_has_token(r, "Connection", "upgrade"))
    {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_BAD_REQUEST,
                                        "not a WebSocket handshake "
                                        "(HTTP/1.1, Upgrade: websocket, "
                                        "Connection: upgrade)");
    }

    h = ngx_http_pattern_rt_find_header(r, "Sec-WebSocket-Version");
    if (h == NULL || h->value.len != 2
        || ngx_strncmp(h->value.data, "13", 2) != 0)
    {
        return ngx_http_pattern_rt_ws_refuse(no, 426, PRT_E_BAD_REQUEST,
                                        "WebSocket version 13 only");
    }

    h = ngx_http_pattern_rt_find_header(r, "Sec-WebSocket-Key");
    if (h == NULL || !ngx_http_pattern_rt_ws_key_ok(&h->value)) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_BAD_REQUEST,
                                        "missing or malformed "
                                        "Sec-WebSocket-Key");
    }

    if (ngx_http_pattern_rt_ws_accept(r, &h->value, accept) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ngx_http_pattern_rt_ws_origin_ok(r, plcf)) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_FORBIDDEN,
                                        "origin not allowed");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pattern_rt_ws_send_refusal(ngx_http_request_t *r,
    ngx_http_pattern_rt_ws_refusal_t *no)
{
    ngx_table_elt_t  *h;

    if (no->status == 426) {
        /* RFC 6455 4.4: say which version is spoken */
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Sec-WebSocket-Version");
        ngx_str_set(&h->value, "13");
        ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");
    }

    return ngx_http_pattern_rt_send_error_status(r, no->status, no->code,
                                                 no->message, NULL);
}


static ngx_int_t
ngx_http_pattern_rt_ws_101(ngx_http_request_t *r, ngx_str_t *accept)
{
    ngx_table_elt_t  *h;

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");
    h->value = *accept;

    /* the header filter adds "Connection: upgrade" to a 101 */
    if (ngx_http_send_header(r) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_send_special(r, NGX_HTTP_FLUSH);
}




/* The connection set up, then the 101 sent, then what the client sent
 * with its handshake read: NGX_ERROR when any of it fails. */
static ngx_int_t
ngx_http_pattern_rt_ws_start(ngx_http_request_t *r,
    ngx_http_pattern_rt_ctx_t *ctx, ngx_http_pattern_rt_engine_t *eng,
    time_t expires, ngx_str_t *accept)
{
    ngx_http_pattern_rt_ws_t  *ws;

    ws = ngx_http_pattern_rt_ws_open(r, ctx, eng, expires);
    if (ws == NULL || ngx_http_pattern_rt_ws_101(r, accept) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_pattern_rt_ws_first_read(ws);

    return NGX_OK;
}


/*
 * Browsers cannot set headers on a WebSocket: the token comes as ?token=.
 * Checked before the upgrade (401/403), and again at its expiry (1008).
 */
static ngx_int_t
ngx_http_pattern_rt_ws_auth(ngx_http_request_t *r, time_t *expires,
    ngx_http_pattern_rt_ws_refusal_t *no)
{
    ngx_int_t    rc;
    ngx_str_t    token;
    const char  *reason;

    if (!ngx_http_pattern_rt_auth_needed(r, NGX_HTTP_PATTERN_RT_SCOPE_READ)) {
        return NGX_OK;
    }

    if (ngx_http_pattern_rt_auth_query_token(r, &token) != NGX_OK) {
        return ngx_http_pattern_rt_ws_refuse(no, 0, PRT_E_UNAUTHORIZED,
                                        "a token (?token=) is required");
    }

    rc = ngx_http_pattern_rt_auth_verify(r, &token,
                                         NGX_HTTP_PATTERN_RT_SCOPE_READ,
                                         expires, &reason);
    if (rc == NGX_OK) {
        return NGX_OK;
    }

    return ngx_http_pattern_rt_ws_refuse(no, 0,
                       rc == NGX_HTTP_FORBIDDEN ? PRT_E_FORBIDDEN
                       : rc == NGX_HTTP_UNAUTHORIZED ? PRT_E_UNAUTHORIZED
                       : PRT_E_INTERNAL, reason);
}


/* The content handler of pattern_rt_websocket. */
ngx_int_t
ngx_http_pattern_rt_ws_handler(ngx_http_request_t *r)
{
    time_t                            expires;
    ngx_int_t                         rc;
    ngx_str_t                         accept;
    ngx_http_pattern_rt_ctx_t        *ctx;
    ngx_http_pattern_rt_engine_t     *eng;
    ngx_http_pattern_rt_ws_refusal_t  no;
    ngx_http_pattern_rt_loc_conf_t   *plcf;
    ngx_http_pattern_rt_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pattern_rt_module);
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);
    eng = pmcf->engine;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    expires = 0;

    rc = ngx_http_pattern_rt_ws_handshake(r, plcf, &accept, &no);
    if (rc == NGX_OK) {
        rc = ngx_http_pattern_rt_ws_auth(r, &expires, &no);
    }

    if (rc == NGX_OK
        && (eng == NULL || eng->ws_hub == NULL
            || eng->ws_hub->nconns >= pmcf->ws_max_connections))
    {
        rc = ngx_http_pattern_rt_ws_refuse(&no, 0, PRT_E_BUSY,
                                           "too many WebSocket connections");
    }

    if (rc == NGX_DECLINED) {
        if (eng && eng->ws_hub) {
            eng->ws_hub->refused++;
        }
        return ngx_http_pattern_rt_ws_send_refusal(r, &no);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_pattern_rt_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_pattern_rt_module);

    r->main->count++;

    if (ngx_http_pattern_rt_ws_start(r, ctx, eng, expires, &accept)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
        return NGX_DONE;
    }

    return NGX_DONE;
}
