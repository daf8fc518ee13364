#include "core/pg.h"

PGconn *
prt_pg_connect(const char *conninfo, const char *application_name)
{
    /* ours first: the operator's connection string overrides them */
    const char *const  keys[] = {
        "connect_timeout", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "options",
        "application_name", "dbname", NULL
    };
    const char        *vals[] = {
        "5", "5", "2", "3", "10000",
        "-c statement_timeout=15000 -c lock_timeout=10000"
        " -c idle_in_transaction_session_timeout=60000",
        application_name, conninfo, NULL
    };

    return PQconnectdbParams(keys, vals, 1);
}
