/*
 * Pattern Real-Time nginx module: token auth (docs/auth.md).
 *
 * Tokens are HMAC-SHA256 signed, carry their scopes and expiry, and are
 * verified here without any state: the token format and its checks are
 * include/pattern_rt_token.h (common/token.c), shared with the engine's
 * `token` command.
 *
 * REST sends `Authorization: Bearer <token>`; the WebSocket, which browsers
 * cannot give headers, sends `?token=`. A token is needed only where
 * `pattern_rt_auth on` applies, and on read routes only with
 * `pattern_rt_auth_read on`; elsewhere any credentials are ignored, so
 * nginx's own auth_request, allow and deny work beside or instead of ours.
 *
 * Neither the secret nor a token is ever written to a log or an answer:
 * a rejected token is named by its nonce (its id), and only once its
 * signature proved it genuine.
 */

#include "ngx_http_pattern_rt_module.h"
#include "pattern_rt_token.h"


#if (NGX_HTTP_PATTERN_RT_SCOPE_READ != PRT_TOKEN_SCOPE_READ                   \
     || NGX_HTTP_PATTERN_RT_SCOPE_FEED != PRT_TOKEN_SCOPE_FEED                \
     || NGX_HTTP_PATTERN_RT_SCOPE_ADMIN != PRT_TOKEN_SCOPE_ADMIN)
#error "route scopes and token scopes must be the same bits"
#endif


#define NGX_HTTP_PATTERN_RT_REALM  "Bearer realm=\"pattern-rt\""


static ngx_int_t ngx_http_pattern_rt_auth_bearer(ngx_http_request_t *r,
    ngx_str_t *token);
static ngx_int_t ngx_http_pattern_rt_auth_refuse(ngx_http_request_t *r,
    ngx_int_t status, const char *reason, ngx_uint_t scope,
    ngx_uint_t presented);
static ngx_int_t ngx_http_pattern_rt_auth_answer(ngx_http_request_t *r,
    ngx_int_t status, const char *reason, ngx_uint_t scope,
    ngx_uint_t presented);
static ngx_int_t ngx_http_pattern_rt_auth_challenge(ngx_http_request_t *r,
    ngx_int_t status, const char *reason, ngx_uint_t scope,
    ngx_uint_t presented);
static u_char *ngx_http_pattern_rt_auth_read_secret(ngx_conf_t *cf,
    ngx_str_t *file, size_t *len);
static void ngx_http_pattern_rt_auth_cleanse(void *data);


/* ---- requests -------------------------------------------------------- */


ngx_uint_t
ngx_http_pattern_rt_auth_needed(ngx_http_request_t *r, ngx_uint_t scope)
{
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    if (plcf->auth != 1) {
        return 0;
    }

    if (scope == NGX_HTTP_PATTERN_RT_SCOPE_READ) {
        return plcf->auth_read == 1;
    }

    return 1;
}


/*
 * NGX_OK: go on. Anything else: the refusal (401, 403) went out and this is
 * what to give ngx_http_finalize_request(); never NGX_OK then (see
 * ngx_http_pattern_rt_auth_refuse()).
 */
ngx_int_t
ngx_http_pattern_rt_auth_check(ngx_http_request_t *r, ngx_uint_t scope)
{
    time_t       expires;
    ngx_int_t    rc;
    ngx_str_t    token, arg;
    const char  *reason;

    if (!ngx_http_pattern_rt_auth_needed(r, scope)) {
        return NGX_OK;
    }

    if (ngx_http_pattern_rt_auth_bearer(r, &token) == NGX_DECLINED) {
        /*
         * REST takes no ?token=: query strings end up in access logs,
         * proxies' logs and browser history. Say so to whoever tried.
         */
        reason = (ngx_http_arg(r, (u_char *) "token", 5, &arg) == NGX_OK)
                 ? "send the token as Authorization: Bearer (?token= is "
                   "only for the WebSocket)"
                 : "authorization required: Authorization: Bearer <token>";

        return ngx_http_pattern_rt_auth_refuse(r, NGX_HTTP_UNAUTHORIZED,
                                               reason, scope, 0);
    }

    rc = ngx_http_pattern_rt_auth_verify(r, &token, scope, &expires, &reason);
    if (rc == NGX_OK) {
        return NGX_OK;
    }

    return ngx_http_pattern_rt_auth_refuse(r, rc, reason, scope, 1);
}


ngx_int_t
ngx_http_pattern_rt_auth_verify(ngx_http_request_t *r, ngx_str_t *token,
    ngx_uint_t scope, time_t *expires, const char **reason)
{
    prt_token_t                      t;
    prt_token_status_t               st;
    ngx_http_pattern_rt_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pattern_rt_module);

    if (plcf->auth_secret.len == 0) {
        /* pattern_rt_auth off here: nothing to verify against */
        *reason = "token auth is not configured here";
        return NGX_HTTP_UNAUTHORIZED;
    }

    st = prt_token_verify(plcf->auth_secret.data, plcf->auth_secret.len,
                          (const char *) token->data, token->len,
                          (int64_t) ngx_time(), (unsigned) scope, &t);

    *reason = prt_token_status_text(st);

    switch (st) {

    case PRT_TOKEN_OK:
        *expires = (time_t) t.expires;
        return NGX_OK;

    case PRT_TOKEN_E_EXPIRED:
    case PRT_TOKEN_E_SCOPE:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "pattern_rt: %s: token id \"%*s\"", *reason,
                      t.nonce_len, token->data + t.nonce_off);
        return st == PRT_TOKEN_E_SCOPE ? NGX_HTTP_FORBIDDEN
                                       : NGX_HTTP_UNAUTHORIZED;

    case PRT_TOKEN_E_CRYPTO:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "pattern_rt: HMAC-SHA256 failed in OpenSSL");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "pattern_rt: %s", *reason);
        return NGX_HTTP_UNAUTHORIZED;
    }
}


ngx_int_t
ngx_http_pattern_rt_auth_query_token(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char     *dst, *src;
    ngx_str_t   arg;

    if (ngx_http_arg(r, (u_char *) "token", 5, &arg) != NGX_OK) {
        return NGX_DECLINED;
    }

    /*
     * Every token byte is an unreserved URL character, but a client may
     * still percent-encode it (RFC 3986 says that is the same URL).
     * Anything longer than a token even decoded is left for the verifier
     * to reject by length.
     */
    if (ngx_strlchr(arg.data, arg.data + arg.len, '%') == NULL
        || arg.len > 3 * PRT_TOKEN_MAX_LEN)
    {
        *token = arg;
        return NGX_OK;
    }

    dst = ngx_pnalloc(r->pool, arg.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    token->data = dst;
    src = arg.data;
    ngx_unescape_uri(&dst, &src, arg.len, 0);
    token->len = dst - token->data;

    return NGX_OK;
}


/*
 * The credentials of "Authorization: Bearer <token>" (RFC 6750). Returns
 * NGX_OK, or NGX_DECLINED when there is no such header or it holds another
 * scheme (Basic meant for a proxy in front, for example).
 */
static ngx_int_t
ngx_http_pattern_rt_auth_bearer(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char  *p, *last;

    if (r->headers_in.authorization == NULL) {
        return NGX_DECLINED;
    }

    p = r->headers_in.authorization->value.data;
    last = p + r->headers_in.authorization->value.len;

    if (last - p < 7 || ngx_strncasecmp(p, (u_char *) "Bearer ", 7) != 0) {
        return NGX_DECLINED;
    }

    p += 7;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    token->data = p;
    token->len = last - p;

    return NGX_OK;
}


/*
 * Sends the refusal. A refusal sent in full reports NGX_AGAIN rather than
 * the output filter's NGX_OK, so that the caller can tell "refused" from
 * "allowed"; ngx_http_finalize_request() treats the two alike.
 */
static ngx_int_t
ngx_http_pattern_rt_auth_refuse(ngx_http_request_t *r, ngx_int_t status,
    const char *reason, ngx_uint_t scope, ngx_uint_t presented)
{
    ngx_int_t  rc;

    rc = ngx_http_pattern_rt_auth_answer(r, status, reason, scope, presented);

    return (rc == NGX_OK) ? NGX_AGAIN : rc;
}


/* presented: a token came (and was refused), rather than none at all */
static ngx_int_t
ngx_http_pattern_rt_auth_answer(ngx_http_request_t *r, ngx_int_t status,
    const char *reason, ngx_uint_t scope, ngx_uint_t presented)
{
    u_char       *msg;
    const char   *name;

    if (status == NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return ngx_http_pattern_rt_send_error(r, PRT_E_INTERNAL, reason,
                                              NULL);
    }

    if (ngx_http_pattern_rt_auth_challenge(r, status, reason, scope,
                                           presented)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_UNAUTHORIZED) {
        return ngx_http_pattern_rt_send_error(r, PRT_E_UNAUTHORIZED, reason,
                                              NULL);
    }

    /* a route needs one scope; should one ever need several, say so */
    name = prt_token_scope_name((unsigned) scope);
    if (name == NULL) {
        return ngx_http_pattern_rt_send_error(r, PRT_E_FORBIDDEN,
                                   "the token lacks a required scope", NULL);
    }

    msg = ngx_pnalloc(r->pool, sizeof("the token lacks the \"\" scope")
                               + ngx_strlen(name));
    if (msg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(msg, "the token lacks the \"%s\" scope%Z", name);

    return ngx_http_pattern_rt_send_error(r, PRT_E_FORBIDDEN,
                                          (const char *) msg, NULL);
}


/*
 * WWW-Authenticate as RFC 6750 section 3 has it: the bare challenge when
 * no token came, error="invalid_token" for a bad one, and
 * error="insufficient_scope" with the scope on a 403. A reason never holds
 * a quote or a backslash, so it goes in as it is.
 */
static ngx_int_t
ngx_http_pattern_rt_auth_challenge(ngx_http_request_t *r, ngx_int_t status,
    const char *reason, ngx_uint_t scope, ngx_uint_t presented)
{
    size_t            len;
    u_char           *p;
    const char       *name;
    ngx_table_elt_t  *h;

    name = prt_token_scope_name((unsigned) scope);

    len = sizeof(NGX_HTTP_PATTERN_RT_REALM ", error=\"insufficient_scope\", "
                 "error_description=\"\", scope=\"\"")
          + ngx_strlen(reason) + (name ? ngx_strlen(name) : 0);

    p = ngx_pnalloc(r->pool, len);
    h = ngx_list_push(&r->headers_out.headers);
    if (p == NULL || h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value.data = p;

    if (status == NGX_HTTP_FORBIDDEN) {
        p = ngx_cpymem(p, NGX_HTTP_PATTERN_RT_REALM
                       ", error=\"insufficient_scope\"",
                       sizeof(NGX_HTTP_PATTERN_RT_REALM
                              ", error=\"insufficient_scope\"") - 1);
        if (name) {
            p = ngx_sprintf(p, ", scope=\"%s\"", name);
        }

    } else if (presented) {
        p = ngx_sprintf(p, NGX_HTTP_PATTERN_RT_REALM
                        ", error=\"invalid_token\", "
                        "error_description=\"%s\"", reason);

    } else {
        p = ngx_cpymem(p, NGX_HTTP_PATTERN_RT_REALM,
                       sizeof(NGX_HTTP_PATTERN_RT_REALM) - 1);
    }

    h->value.len = p - h->value.data;
    r->headers_out.www_authenticate = h;

    return NGX_OK;
}


/* ---- configuration --------------------------------------------------- */


/* pattern_rt_auth_secret FILE: read once, at configuration time. */
char *
ngx_http_pattern_rt_auth_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pattern_rt_loc_conf_t  *plcf = conf;

    u_char              *secret;
    size_t               len;
    ngx_str_t           *value, file, *keep;
    ngx_pool_cleanup_t  *cln;

    if (plcf->auth_secret.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    keep = ngx_palloc(cf->pool, sizeof(ngx_str_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (keep == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    secret = ngx_http_pattern_rt_auth_read_secret(cf, &file, &len);
    if (secret == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the old configuration's copy is wiped when a reload frees it */
    keep->data = secret;
    keep->len = len;
    cln->handler = ngx_http_pattern_rt_auth_cleanse;
    cln->data = keep;

    plcf->auth_secret = *keep;

    return NGX_CONF_OK;
}


/*
 * Returns the secret (in cf->pool), or NULL after an [emerg] that names
 * the file and what is wrong with it, never its content.
 */
static u_char *
ngx_http_pattern_rt_auth_read_secret(ngx_conf_t *cf, ngx_str_t *file,
    size_t *len)
{
    off_t            size;
    u_char          *buf;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;
    const char      *bad;

    fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "pattern_rt_auth_secret: "
                           ngx_open_file_n " \"%V\" failed", file);
        return NULL;
    }

    buf = NULL;
    bad = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "pattern_rt_auth_secret: "
                           ngx_fd_info_n " \"%V\" failed", file);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (!ngx_is_file(&fi)) {
        bad = "is not a regular file";

    } else if (size > PRT_TOKEN_SECRET_FILE_MAX) {
        bad = "is longer than 1024 bytes";

    } else if (size < PRT_TOKEN_SECRET_MIN) {
        bad = "is shorter than 32 bytes (try: openssl rand -hex 32)";
    }

    if (bad) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pattern_rt_auth_secret: \"%V\" %s", file, bad);
        goto done;
    }

    buf = ngx_pnalloc(cf->pool, (size_t) size);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, buf, (size_t) size);
    if (n != (ssize_t) size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, n == -1 ? ngx_errno : 0,
                           "pattern_rt_auth_secret: "
                           ngx_read_fd_n " \"%V\" failed", file);
        buf = NULL;
        goto done;
    }

    bad = prt_token_secret_check(buf, (size_t) n, len);
    if (bad) {
        OPENSSL_cleanse(buf, (size_t) n);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pattern_rt_auth_secret: \"%V\" %s", file, bad);
        buf = NULL;
        goto done;
    }

    if (ngx_file_access(&fi) & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "pattern_rt_auth_secret: \"%V\" is readable by "
                           "every user: anyone can mint tokens", file);
    }

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", file);
    }

    return buf;
}


static void
ngx_http_pattern_rt_auth_cleanse(void *data)
{
    ngx_str_t  *secret = data;

    OPENSSL_cleanse(secret->data, secret->len);
}
