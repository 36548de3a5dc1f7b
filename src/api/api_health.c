/*
 * api_health.c: GET /healthz (the process answers: no authentication, no
 * database) and GET /readyz (this worker's database connection answers
 * and every declared resource is bound to its table: a load balancer
 * takes an instance that cannot serve what it declares out of its pool).
 */
#include "starterd.h"

void
api_healthz(struct client *c)
{
	static const char body[] = "{\"status\":\"ok\"}\n";

	response_send(c, 200, "application/json", body, sizeof(body) - 1);
}

static void
api_ready_cb(struct client *c, PGresult *res, void *arg)
{
	static const char body[] = "{\"database\":\"ok\",\"status\":\"ok\"}\n";
	char		 names[256];

	(void)arg;
	if (c == NULL)
		return;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		response_unavailable(c, db_retry_after());
		return;
	}
	if (resource_unbound(names, sizeof(names)) > 0) {
		response_header(c, "Retry-After: 1");
		response_error(c, 503, "not serving resource %s: its table "
		    "or declaration does not match the database (the log "
		    "says why)", names);
		return;
	}
	response_send(c, 200, "application/json", body, sizeof(body) - 1);
}

void
api_readyz(struct client *c)
{
	if (db_submit(c, DB_PING, 0, NULL, api_ready_cb, NULL) == -1)
		response_unavailable(c, db_retry_after());
}
