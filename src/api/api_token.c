/*
 * api_token.c: GET /auth/request-token.  The route takes Basic
 * credentials only (ROUTE_PASSWORD), so c->user_id is the user once the
 * handler runs; the token (auth/token.c) carries the user's current
 * token version, from the shared cache or the database.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "starterd.h"

struct api_token_req {
	uint64_t	gen;		/* token cache generation before */
};

static void
api_token_send(struct client *c, int ver)
{
	struct buf	 tok, body;

	buf_init(&tok, 2048);
	buf_init(&body, 4096);
	if (token_make(&tok, c->user_id, c->username, ver) == -1 ||
	    buf_appendf(&body, "{\"expires_in\":%d,\"token\":",
	    conf->token_ttl) == -1 ||
	    json_string(&body, BUF_PTR(&tok), BUF_LEN(&tok)) == -1 ||
	    buf_appendstr(&body, "}\n") == -1)
		response_error(c, 500, "cannot make a token");
	else {
		response_header(c, "Cache-Control: no-cache, no-store, "
		    "max-age=0");
		response_json(c, 200, &body);
	}
	explicit_bzero(tok.data, tok.cap);
	buf_free(&tok);
	buf_free(&body);
}

/* The user's current version is in (or the lookup failed). */
static void
api_token_ver_cb(struct client *c, PGresult *res, void *arg)
{
	struct api_token_req	*r = arg;
	int			 ver;

	if (c == NULL) {
		free(r);
		return;
	}
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res != NULL)
			log_warnx("token version lookup: %s",
			    PQresultErrorMessage(res));
		response_unavailable(c, db_retry_after());
	} else if (PQntuples(res) == 0)	/* the user is gone */
		response_error(c, 401, "please authenticate");
	else {
		ver = atoi(PQgetvalue(res, 0, 0));
		token_version_add(c->user_id, ver, r->gen);
		api_token_send(c, ver);
	}
	free(r);
}

void
api_auth_token(struct client *c)
{
	struct api_token_req	*r;
	char			 id[16];
	const char		*p[1] = { id };
	int			 ver, rv;

	/* The key first: when it is loaded, this handler runs again. */
	if (c->auth_result == AUTH_UNAVAILABLE ||
	    (rv = token_key_ready(c)) == -1) {
		response_unavailable(c, db_retry_after());
		return;
	}
	if (rv == AUTH_PENDING) {
		c->resume = api_auth_token;
		return;
	}
	if (token_version_find(c->user_id, &ver) == 0) {
		api_token_send(c, ver);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		response_error(c, 500, "out of memory");
		return;
	}
	/* Before the query: a change meanwhile makes the entry stale. */
	r->gen = token_generation();
	snprintf(id, sizeof(id), "%d", c->user_id);
	if (db_submit(c, DB_USER_TOKEN_VER, 1, p, api_token_ver_cb, r) == -1) {
		free(r);
		response_unavailable(c, db_retry_after());
	}
}
