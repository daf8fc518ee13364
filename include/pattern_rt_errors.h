/*
 * Pattern Real-Time: error codes and their HTTP statuses, shared by the
 * module (validation, engine down, timeouts) and the engine (everything it
 * answers). Error bodies are
 *   {"error":{"code":"E_...","message":"...","field":"..."},"detail":"..."}
 * (SPEC §5; `field` only when one field is at fault).
 */
#ifndef PATTERN_RT_ERRORS_H
#define PATTERN_RT_ERRORS_H

/* X(name, http status) */
#define PRT_ERRORS(X)                                                         \
    X(E_BAD_REQUEST,    400)                                                  \
    X(E_UNAUTHORIZED,   401)                                                  \
    X(E_FORBIDDEN,      403)                                                  \
    X(E_NOT_FOUND,      404)                                                  \
    X(E_METHOD,         405)                                                  \
    X(E_TOO_LARGE,      413)                                                  \
    X(E_BUSY,           503)                                                  \
    X(E_RATE,           429)                                                  \
    X(E_ENGINE_DOWN,    503)                                                  \
    X(E_INDEX,          503)                                                  \
    X(E_TIMEOUT,        504)                                                  \
    X(E_INTERNAL,       500)                                                  \
    X(E_NO_DATA,        404)                                                  \
    X(E_WINDOW,         422)                                                  \
    X(E_FAISS,          503)                                                  \
    X(E_WEEKEND,        422)                                                  \
    X(E_MARKET_CLOSED,  422)                                                  \
    X(E_PRICE,          422)                                                  \
    X(E_GAP,            410)                                                  \
    X(E_STORE,          503)

/*
 * The one message an E_INTERNAL answer carries, from the engine and the
 * module alike: what failed is logged where it failed (file names, store
 * errors, library messages), never sent to a client.
 */
#define PRT_INTERNAL_MESSAGE  "internal error"

/* What an E_STORE answer says: the job store (PostgreSQL) could not be
 * reached or did not answer in time; the request may be retried. */
#define PRT_STORE_MESSAGE  "the job store is unavailable, try again"

typedef enum {
    PRT_OK = 0,
#define PRT_ERROR_ENUM(name, status)  PRT_##name,
    PRT_ERRORS(PRT_ERROR_ENUM)
#undef PRT_ERROR_ENUM
    PRT_ERROR_COUNT
} prt_error_t;

static inline const char *
prt_error_name(prt_error_t e)
{
    switch (e) {
#define PRT_ERROR_NAME(name, status)  case PRT_##name: return #name;
    PRT_ERRORS(PRT_ERROR_NAME)
#undef PRT_ERROR_NAME
    default: return "E_INTERNAL";
    }
}

static inline int
prt_error_status(prt_error_t e)
{
    switch (e) {
#define PRT_ERROR_STATUS(name, status)  case PRT_##name: return status;
    PRT_ERRORS(PRT_ERROR_STATUS)
#undef PRT_ERROR_STATUS
    default: return 500;
    }
}

#endif
