/*
 * A PostgreSQL connection as every part of the engine makes it: a connect
 * timeout, TCP keepalives and a user timeout, so that a database that is
 * down or unreachable fails a call within seconds instead of hanging it,
 * and statement, lock and idle-transaction timeouts on the server side.
 * The operator's connection string comes last and overrides them.
 */
#ifndef PRT_CORE_PG_H
#define PRT_CORE_PG_H

#include <libpq-fe.h>

/* Always a connection (NULL only when out of memory): the caller checks
 * PQstatus and reads PQerrorMessage. application_name tells the engine's
 * connections apart in pg_stat_activity. */
PGconn *prt_pg_connect(const char *conninfo, const char *application_name);

#endif
