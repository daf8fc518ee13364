/*
 * The tools' HTTP client over libcurl's easy interface (tools/http.h).
 *
 * One easy handle for the client's life: libcurl keeps its connection
 * alive between transfers on the same handle and re-opens it when the
 * server has closed it (nginx does after keepalive_timeout and
 * keepalive_requests answers). The answer is gathered in one growing
 * buffer that the write callback refuses to grow past the limit, so a
 * server cannot make the tool hold more than max_response bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tools/http.h"

#define HTTP_USER_AGENT  "pattern-rt-engine"

struct prt_http_s {
    CURL               *curl;
    struct curl_slist  *head;        /* every request: Authorization, no
                                        Expect: 100-continue */
    struct curl_slist  *head_json;   /* requests with a body: the same plus
                                        Content-Type */
    char               *base;        /* the URL as given */
    char               *prefix;      /* scheme://host[:port][/prefix], no
                                        trailing '/' */
    char               *url;         /* prefix + the request's path */
    size_t              url_cap;
    char               *body;        /* the answer, NUL-terminated */
    size_t              len, cap, max;
    int                 too_big;
    int                 global;      /* curl_global_init succeeded */
    prt_http_stats_t    stats;
    char                curl_err[CURL_ERROR_SIZE];
    char                err[PRT_HTTP_ERR_SIZE];
};


static void
set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", msg);
    }
}

/* A bearer token goes into a header line: visible ASCII only. */
static int
token_ok(const char *t)
{
    size_t  n = strlen(t);

    if (n == 0 || n > PRT_HTTP_MAX_TOKEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] <= 0x20 || t[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/*
 * h->prefix from the URL: libcurl's parser, then what this client refuses
 * (other schemes, credentials, a query or fragment: the paths appended
 * would not be where the user meant).
 */
static int
parse_url(prt_http_t *h, const char *url, char *err, size_t errlen)
{
    CURLU      *u = curl_url();
    char       *part = NULL, *full = NULL;
    CURLUcode   rc;
    size_t      n;
    int         ret = -1;

    if (u == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        snprintf(err, errlen, "not a URL: %s", curl_url_strerror(rc));
        goto done;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &part, 0) != CURLUE_OK
        || (strcmp(part, "http") != 0 && strcmp(part, "https") != 0))
    {
        set_err(err, errlen, "want http:// or https://");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_USER, &full, 0) != CURLUE_NO_USER) {
        set_err(err, errlen, "no user in the URL, please (use a token)");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &full, 0) != CURLUE_NO_QUERY
        || curl_url_get(u, CURLUPART_FRAGMENT, &full, 0)
           != CURLUE_NO_FRAGMENT)
    {
        set_err(err, errlen, "no query or fragment in the URL, please");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        set_err(err, errlen, "not a URL");
        goto done;
    }
    n = strlen(full);
    while (n > 0 && full[n - 1] == '/') {
        n--;
    }
    h->prefix = strndup(full, n);
    if (h->prefix == NULL) {
        set_err(err, errlen, "out of memory");
        goto done;
    }
    ret = 0;

done:
    curl_free(part);
    curl_free(full);
    curl_url_cleanup(u);
    return ret;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    prt_http_t  *h = arg;
    size_t       n = size * nmemb, cap;
    char        *p;

    if (n > h->max - h->len) {
        h->too_big = 1;
        return 0;                     /* libcurl: CURLE_WRITE_ERROR */
    }
    if (h->len + n + 1 > h->cap) {
        cap = h->cap ? h->cap : 4096;
        while (cap < h->len + n + 1) {
            cap *= 2;
        }
        p = realloc(h->body, cap);
        if (p == NULL) {
            return 0;
        }
        h->body = p;
        h->cap = cap;
    }
    memcpy(h->body + h->len, data, n);
    h->len += n;
    h->body[h->len] = '\0';
    return n;
}

static int
append_header(struct curl_slist **list, const char *line)
{
    struct curl_slist  *l = curl_slist_append(*list, line);

    if (l == NULL) {
        return -1;
    }
    *list = l;
    return 0;
}

static int
make_headers(prt_http_t *h, const char *bearer)
{
    char   auth[PRT_HTTP_MAX_TOKEN + 32];
    int    rc = 0;

    if (append_header(&h->head, "Expect:") != 0
        || append_header(&h->head_json, "Expect:") != 0
        || append_header(&h->head_json, "Content-Type: application/json")
           != 0)
    {
        return -1;
    }
    if (bearer != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        rc = append_header(&h->head, auth) != 0
             || append_header(&h->head_json, auth) != 0 ? -1 : 0;
        explicit_bzero(auth, sizeof(auth));
    }
    return rc;
}

/* The options every request shares; any refusal is a libcurl too old or
 * built without HTTP, said as such. */
static int
setup_handle(prt_http_t *h, long timeout_ms)
{
    CURL  *c = h->curl;

    if (curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms)
           != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t) h->max) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEDATA, h) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_USERAGENT, HTTP_USER_AGENT)
           != CURLE_OK)
    {
        return -1;
    }
    return 0;
}

prt_http_t *
prt_http_new(const char *url, const prt_http_options_t *opt, char *err,
    size_t errlen)
{
    prt_http_options_t  o = { 0, 0, NULL, NULL };
    prt_http_t         *h;

    if (opt != NULL) {
        o = *opt;
    }
    if (url == NULL || o.timeout_ms < 0) {
        set_err(err, errlen, "no URL or a negative timeout");
        return NULL;
    }
    if (o.bearer != NULL && !token_ok(o.bearer)) {
        set_err(err, errlen, "the token is not one header value");
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    h->max = o.max_response ? o.max_response : PRT_HTTP_MAX_RESPONSE;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        set_err(err, errlen, "libcurl failed to start");
        goto failed;
    }
    h->global = 1;
    if (parse_url(h, url, err, errlen) != 0) {
        goto failed;
    }
    h->base = strdup(url);
    h->curl = curl_easy_init();
    if (h->base == NULL || h->curl == NULL || make_headers(h, o.bearer) != 0)
    {
        set_err(err, errlen, "out of memory");
        goto failed;
    }
    if (setup_handle(h, o.timeout_ms ? o.timeout_ms : PRT_HTTP_TIMEOUT_MS)
        != 0
        || (o.ca_file != NULL
            && curl_easy_setopt(h->curl, CURLOPT_CAINFO, o.ca_file)
               != CURLE_OK))
    {
        set_err(err, errlen, "libcurl refused an option (too old?)");
        goto failed;
    }
    return h;

failed:
    prt_http_free(h);
    return NULL;
}

/* The token lives in the header lists: wiped before they are freed. */
static void
free_headers(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p != NULL; p = p->next) {
        explicit_bzero(p->data, strlen(p->data));
    }
    curl_slist_free_all(l);
}

void
prt_http_free(prt_http_t *h)
{
    if (h == NULL) {
        return;
    }
    if (h->curl != NULL) {
        curl_easy_cleanup(h->curl);
    }
    free_headers(h->head);
    free_headers(h->head_json);
    if (h->global) {
        curl_global_cleanup();
    }
    free(h->base);
    free(h->prefix);
    free(h->url);
    free(h->body);
    free(h);
}

static int
set_request(prt_http_t *h, const char *method, const char *body, size_t len)
{
    CURL        *c = h->curl;
    const char  *custom = NULL;
    CURLcode     rc;

    if (strcmp(method, "GET") == 0 && len == 0) {
        rc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0) {
            custom = method;
        }
        rc = curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (rc == CURLE_OK) {
            rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                  (curl_off_t) len);
        }
        if (rc == CURLE_OK) {
            rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, len ? body : "");
        }
    }
    if (rc == CURLE_OK) {
        rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom);
    }
    if (rc == CURLE_OK) {
        rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER,
                              len ? h->head_json : h->head);
    }
    if (rc == CURLE_OK) {
        rc = curl_easy_setopt(c, CURLOPT_URL, h->url);
    }
    if (rc != CURLE_OK) {
        snprintf(h->err, sizeof(h->err), "%s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* h->url = prefix + path */
static int
make_url(prt_http_t *h, const char *path)
{
    size_t  need = strlen(h->prefix) + strlen(path) + 1;
    char   *p;

    if (need > h->url_cap) {
        p = realloc(h->url, need);
        if (p == NULL) {
            snprintf(h->err, sizeof(h->err), "out of memory");
            return -1;
        }
        h->url = p;
        h->url_cap = need;
    }
    snprintf(h->url, h->url_cap, "%s%s", h->prefix, path);
    return 0;
}

/* libcurl's words, and the system's reason for a failed connect
 * ("Connection refused") that libcurl's message leaves out. */
static void
say_failure(prt_http_t *h, CURLcode rc)
{
    long  os = 0;

    if (rc == CURLE_COULDNT_CONNECT
        && curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os) == CURLE_OK
        && os != 0)
    {
        snprintf(h->err, sizeof(h->err), "%.200s (%s)",
                 h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc),
                 strerror((int) os));
        return;
    }
    snprintf(h->err, sizeof(h->err), "%s",
             h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc));
}

int
prt_http_request(prt_http_t *h, const char *method, const char *path,
    const char *body, size_t len, prt_http_response_t *res)
{
    CURLcode  rc;
    long      status = 0, connects = 0;

    h->err[0] = '\0';
    if (method == NULL || path == NULL || path[0] != '/'
        || (len > 0 && body == NULL))
    {
        snprintf(h->err, sizeof(h->err), "a request needs a method and a "
                 "path starting with /");
        return -1;
    }
    if (make_url(h, path) != 0 || set_request(h, method, body, len) != 0) {
        return -1;
    }
    h->len = 0;
    h->too_big = 0;
    h->curl_err[0] = '\0';
    if (h->body != NULL) {
        h->body[0] = '\0';
    }

    rc = curl_easy_perform(h->curl);
    if (curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects)
        == CURLE_OK && connects > 0)
    {
        h->stats.connects += (uint64_t) connects;
    }
    if (rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_WRITE_ERROR
                                          && h->too_big))
    {
        snprintf(h->err, sizeof(h->err), "the answer is larger than %zu "
                 "bytes", h->max);
        return -1;
    }
    if (rc != CURLE_OK) {
        say_failure(h, rc);
        return -1;
    }
    if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status)
        != CURLE_OK || status < 100 || status > 599)
    {
        snprintf(h->err, sizeof(h->err), "no HTTP status in the answer");
        return -1;
    }
    h->stats.requests++;
    res->status = (int) status;
    res->body = h->body != NULL ? h->body : "";
    res->len = h->len;
    return 0;
}

const char *
prt_http_errmsg(const prt_http_t *h)
{
    return h->err;
}

const char *
prt_http_base(const prt_http_t *h)
{
    return h->base;
}

void
prt_http_stats(const prt_http_t *h, prt_http_stats_t *out)
{
    *out = h->stats;
}
