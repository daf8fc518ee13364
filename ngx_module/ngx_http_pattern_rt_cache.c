/*
 * Pattern Real-Time nginx module: the worker's cache of finished jobs.
 *
 * GET /job/{id} and /job/{id}/results of a finished job are the same bytes
 * until a verification changes them, and the engine publishes an event on
 * the job's stream with every such change. The engine flags those answers
 * (PRT_RESP_CACHEABLE); the worker keeps them, keyed by the request it
 * sent, and answers repeats itself, without an engine round trip.
 *
 * An entry never outlives what it shows:
 * - an event on the job's stream drops the job's entries, and the broadcast
 *   log is read before every lookup, so an event the engine published
 *   before the request arrived is always seen first;
 * - an answer is kept only when no event for its job arrived since its
 *   request was sent (its render may predate that change);
 * - missed events (a broadcast lap, an engine restart, the engine down)
 *   empty the cache, and nothing is served while the engine is down;
 * - entries expire after pattern_rt_job_cache_valid regardless.
 *
 * Bounded by pattern_rt_job_cache bytes per worker, least recently used
 * out first. Jobs hash to buckets by id; the bucket also remembers the
 * last event of its jobs (a shared bucket only makes keeping rarer).
 */

#include "ngx_http_pattern_rt_module.h"


#define NGX_HTTP_PATTERN_RT_CACHE_BUCKETS  1024     /* a power of two */
#define NGX_HTTP_PATTERN_RT_CACHE_KEY_MAX  64


struct ngx_http_pattern_rt_cached_s {
    ngx_queue_t                     lru;            /* most recent first */
    ngx_queue_t                     in_bucket;
    ngx_msec_t                      expires;
    size_t                          key_len;
    size_t                          body_len;
    u_char                          key[NGX_HTTP_PATTERN_RT_CACHE_KEY_MAX];
    u_char                          body[1];
};


typedef struct {
    ngx_queue_t                     entries;
    uint64_t                        last_event;     /* the jobs' last event */
} ngx_http_pattern_rt_bucket_t;


struct ngx_http_pattern_rt_cache_s {
    ngx_queue_t                     lru;
    ngx_http_pattern_rt_bucket_t    buckets[NGX_HTTP_PATTERN_RT_CACHE_BUCKETS];
    uint64_t                        events;         /* job events seen */
    uint64_t                        floor;          /* keep nothing asked
                                                       before this */
    size_t                          bytes;
    size_t                          max_bytes;
    ngx_msec_t                      valid;
    ngx_log_t                      *log;

    ngx_uint_t                      entries;
    ngx_uint_t                      hits;
    ngx_uint_t                      misses;
    ngx_uint_t                      stored;
    ngx_uint_t                      dropped;        /* by events */
};


/* The key: the message type, then the request; both start with the id. */
static size_t
ngx_http_pattern_rt_cache_key(u_char *key, uint16_t type, const void *req,
    size_t len)
{
    if (len > NGX_HTTP_PATTERN_RT_CACHE_KEY_MAX - sizeof(uint16_t)) {
        return 0;
    }

    ngx_memcpy(key, &type, sizeof(uint16_t));
    ngx_memcpy(key + sizeof(uint16_t), req, len);

    return sizeof(uint16_t) + len;
}


static ngx_http_pattern_rt_bucket_t *
ngx_http_pattern_rt_cache_bucket(ngx_http_pattern_rt_cache_t *cache,
    const u_char *job_id)
{
    uint32_t  h;

    h = ngx_crc32_short((u_char *) job_id, ngx_strlen(job_id));

    return &cache->buckets[h & (NGX_HTTP_PATTERN_RT_CACHE_BUCKETS - 1)];
}


static void
ngx_http_pattern_rt_cache_drop(ngx_http_pattern_rt_cache_t *cache,
    ngx_http_pattern_rt_cached_t *e)
{
    ngx_queue_remove(&e->lru);
    ngx_queue_remove(&e->in_bucket);
    cache->bytes -= sizeof(ngx_http_pattern_rt_cached_t) + e->body_len;
    cache->entries--;
    ngx_free(e);
}


ngx_http_pattern_rt_cache_t *
ngx_http_pattern_rt_cache_create(size_t max_bytes, ngx_msec_t valid,
    ngx_log_t *log)
{
    ngx_uint_t                    i;
    ngx_http_pattern_rt_cache_t  *cache;

    cache = ngx_calloc(sizeof(ngx_http_pattern_rt_cache_t), log);
    if (cache == NULL) {
        return NULL;
    }

    ngx_queue_init(&cache->lru);

    for (i = 0; i < NGX_HTTP_PATTERN_RT_CACHE_BUCKETS; i++) {
        ngx_queue_init(&cache->buckets[i].entries);
    }

    cache->max_bytes = max_bytes;
    cache->valid = valid;
    cache->log = log;

    return cache;
}


/* Everything goes: events were missed. */
void
ngx_http_pattern_rt_cache_clear(ngx_http_pattern_rt_cache_t *cache)
{
    if (cache == NULL) {
        return;
    }

    while (!ngx_queue_empty(&cache->lru)) {
        ngx_http_pattern_rt_cache_drop(cache,
            ngx_queue_data(ngx_queue_head(&cache->lru),
                           ngx_http_pattern_rt_cached_t, lru));
    }

    /* answers to requests sent before now may show the missed changes */
    cache->floor = ++cache->events;
}


/* An event of a job's stream: its entries are out of date. */
void
ngx_http_pattern_rt_cache_event(ngx_http_pattern_rt_cache_t *cache,
    const u_char *job_id)
{
    ngx_queue_t                   *q, *next;
    ngx_http_pattern_rt_bucket_t  *b;
    ngx_http_pattern_rt_cached_t  *e;

    if (cache == NULL) {
        return;
    }

    b = ngx_http_pattern_rt_cache_bucket(cache, job_id);
    b->last_event = ++cache->events;

    for (q = ngx_queue_head(&b->entries); q != ngx_queue_sentinel(&b->entries);
         q = next)
    {
        next = ngx_queue_next(q);
        e = ngx_queue_data(q, ngx_http_pattern_rt_cached_t, in_bucket);

        if (ngx_strcmp(e->key + sizeof(uint16_t), job_id) == 0) {
            ngx_http_pattern_rt_cache_drop(cache, e);
            cache->dropped++;
        }
    }
}


static ngx_http_pattern_rt_cached_t *
ngx_http_pattern_rt_cache_lookup(ngx_http_pattern_rt_cache_t *cache,
    ngx_http_pattern_rt_bucket_t *b, const u_char *key, size_t key_len)
{
    ngx_queue_t                   *q;
    ngx_http_pattern_rt_cached_t  *e;

    for (q = ngx_queue_head(&b->entries); q != ngx_queue_sentinel(&b->entries);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_pattern_rt_cached_t, in_bucket);

        if (e->key_len != key_len || ngx_memcmp(e->key, key, key_len) != 0) {
            continue;
        }

        if ((ngx_msec_int_t) (e->expires - ngx_current_msec) <= 0) {
            ngx_http_pattern_rt_cache_drop(cache, e);
            return NULL;
        }

        return e;
    }

    return NULL;
}


/*
 * The cached answer to (type, req), or NULL. req starts with the job id
 * (NUL-terminated). *asked is what to hand to _store() with the answer.
 */
ngx_http_pattern_rt_cached_t *
ngx_http_pattern_rt_cache_find(ngx_http_pattern_rt_cache_t *cache,
    uint16_t type, const void *req, size_t len, uint64_t *asked)
{
    size_t                         key_len;
    u_char                         key[NGX_HTTP_PATTERN_RT_CACHE_KEY_MAX];
    ngx_http_pattern_rt_cached_t  *e;

    *asked = cache->events;

    key_len = ngx_http_pattern_rt_cache_key(key, type, req, len);
    e = key_len ? ngx_http_pattern_rt_cache_lookup(cache,
                      ngx_http_pattern_rt_cache_bucket(cache, req),
                      key, key_len)
                : NULL;

    if (e == NULL) {
        cache->misses++;
        return NULL;
    }

    ngx_queue_remove(&e->lru);
    ngx_queue_insert_head(&cache->lru, &e->lru);
    cache->hits++;

    return e;
}


/* Keeps an answer flagged PRT_RESP_CACHEABLE, unless it may be stale. */
void
ngx_http_pattern_rt_cache_store(ngx_http_pattern_rt_cache_t *cache,
    uint64_t asked, uint16_t type, const void *req, size_t len,
    const u_char *body, size_t body_len)
{
    size_t                         key_len, size;
    u_char                         key[NGX_HTTP_PATTERN_RT_CACHE_KEY_MAX];
    ngx_http_pattern_rt_bucket_t  *b;
    ngx_http_pattern_rt_cached_t  *e;

    b = ngx_http_pattern_rt_cache_bucket(cache, req);

    if (asked < cache->floor || b->last_event > asked) {
        return;                         /* its render may predate a change */
    }

    key_len = ngx_http_pattern_rt_cache_key(key, type, req, len);
    size = sizeof(ngx_http_pattern_rt_cached_t) + body_len;

    /* one big job must not push out everything else */
    if (key_len == 0 || size > cache->max_bytes / 4
        || ngx_http_pattern_rt_cache_lookup(cache, b, key, key_len))
    {
        return;
    }

    while (cache->bytes + size > cache->max_bytes
           && !ngx_queue_empty(&cache->lru))
    {
        ngx_http_pattern_rt_cache_drop(cache,
            ngx_queue_data(ngx_queue_last(&cache->lru),
                           ngx_http_pattern_rt_cached_t, lru));
    }

    e = ngx_alloc(size, cache->log);
    if (e == NULL) {
        return;
    }

    e->expires = ngx_current_msec + cache->valid;
    e->key_len = key_len;
    ngx_memcpy(e->key, key, key_len);
    e->body_len = body_len;
    ngx_memcpy(e->body, body, body_len);

    ngx_queue_insert_head(&cache->lru, &e->lru);
    ngx_queue_insert_head(&b->entries, &e->in_bucket);
    cache->bytes += size;
    cache->entries++;
    cache->stored++;
}


const u_char *
ngx_http_pattern_rt_cached_body(ngx_http_pattern_rt_cached_t *e, size_t *len)
{
    *len = e->body_len;
    return e->body;
}


u_char *
ngx_http_pattern_rt_cache_stats(ngx_http_pattern_rt_cache_t *cache, u_char *p)
{
    if (cache == NULL) {
        return p;
    }

    return ngx_sprintf(p, ",\"job_cache\":{\"entries\":%ui,\"bytes\":%uz,"
                       "\"max_bytes\":%uz,\"hits\":%ui,\"misses\":%ui,"
                       "\"stored\":%ui,\"dropped\":%ui}",
                       cache->entries, cache->bytes, cache->max_bytes,
                       cache->hits, cache->misses, cache->stored,
                       cache->dropped);
}
