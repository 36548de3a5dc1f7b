/*
 * fuzz_handlers.c: libFuzzer harness for the pxcodes handlers
 * (src/api/api_items.c) with the database simulated.
 *
 * Input: a flags byte, a request, then (after the request's last byte)
 * the rows the database answers with: lines, cells separated by tabs,
 * \N for NULL.  The request is parsed (src/http/http.c), checked and
 * routed as conn.c does (router.c), and the handler runs on a fake
 * client.  support.c's db_submit() captures each statement; the harness
 * answers it with a PGresult built by PQmakeEmptyPGresult() +
 * PQsetResultAttrs() + PQsetvalue(), shaped like that statement's result
 * (its columns, at most the rows it can return), and the callback runs as
 * db_deliver() would run it.  At the end c->out must hold exactly one
 * well-formed response (status line, Content-Length equal to the body,
 * a JSON body), and no 5xx unless a failure was simulated.
 *
 *   flags & 0x03	the answer: rows, connection lost (NULL), an error
 *			(SQLSTATE from flags >> 4), rows
 *   flags & 0x04	the response cache is on; 0x08: and has the entry
 *   flags & 0x10	db_submit() fails (the database is down)
 *   flags & 0x20	--require-if-match
 *   flags & 0x40	db_status() says DB_DOWN
 *   flags & 0x80	the client went away before the first answer
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "fuzz.h"

static const char *const states[] = {
	"23505", "22001", "22P02", "42P01", "26000", "57014", "57P01",
	"08006", "53300", "XX000", "40001", "23503", "P0001", "", "2",
	"0"
};

/* The result the pending statement would get, from the rows text. */
static PGresult *
simulate(const struct fuzz_query *q, const char *rows, size_t len)
{
	PGresult	*res;
	char		 total[24];
	int		 maxrows = 1, i;

	if (q->stmt == DB_PX_PAGE) {
		maxrows = atoi(q->params[0]);
		if (maxrows < 1 || maxrows > PXCODES_MAX_PER_PAGE)
			maxrows = PXCODES_MAX_PER_PAGE;
	}
	res = fuzz_result(PGRES_TUPLES_OK, fuzz_stmt_ncols(q->stmt), rows,
	    len, maxrows);
	if (q->stmt == DB_PX_PAGE) {
		/* count(*): the same non-negative number on every row, and
		 * the LEFT JOIN's one row when the page is empty. */
		unsigned long long	n = 0;

		if (PQntuples(res) > 0)
			n = strtoull(PQgetvalue(res, 0, 0), NULL, 10) %
			    1000000000ULL;
		snprintf(total, sizeof(total), "%llu", n);
		if (PQntuples(res) == 0 && (!PQsetvalue(res, 0, 0, total,
		    (int)strlen(total)) || !PQsetvalue(res, 0, 1, NULL, -1) ||
		    !PQsetvalue(res, 0, 2, NULL, -1)))
			abort();
		for (i = 0; i < PQntuples(res); i++)
			if (!PQsetvalue(res, i, 0, total, (int)strlen(total)))
				abort();
	}
	return (res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct client		*c;
	const struct route	*r;
	const char		*buf, *rows;
	size_t			 nrows;
	int			 flags, parsed, argerr, round, failed, kind,
				 status;

	static int		 verbose = -1;

	if (verbose == -1)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	fuzz_init();
	if (len < 1)
		return (0);
	flags = data[0];
	kind = flags & 3;
	fuzz_cache_on = (flags & 0x04) != 0;
	fuzz_cache_hit = (flags & 0x08) != 0;
	fuzz_db_fail = (flags & 0x10) != 0;
	conf->require_if_match = (flags & 0x20) != 0;
	fuzz_db_down = (flags & 0x40) != 0;
	fuzz_sqlstate = states[flags >> 4];
	fuzz_pending_reset();
	failed = fuzz_db_fail || kind == 1 || kind == 2;

	c = fuzz_client_new(data + 1, len - 1, &parsed);
	if (!parsed)
		goto done;
	buf = BUF_PTR(&c->in);
	rows = buf + c->req.pos;
	nrows = BUF_LEN(&c->in) - c->req.pos;

	/* conn_dispatch(), as far as it goes before the handler. */
	if (c->req.host.len > 0 && !http_host_valid(buf + c->req.host.off,
	    c->req.host.len))
		goto done;
	r = router_find(buf + c->req.path.off, c->req.path.len, c->arg,
	    sizeof(c->arg), &argerr);
	if (r == NULL || argerr || (r->handler != api_pxcodes_collection &&
	    r->handler != api_pxcodes_item) ||
	    !(r->methods & (1u << c->req.method)) ||
	    c->req.method == HTTP_M_OPTIONS)
		goto done;
	c->route = r;
	c->user_id = 1;
	strlcpy(c->username, "admin", sizeof(c->username));
	r->handler(c);

	for (round = 0; fuzz_npending > 0; round++) {
		PGresult	*res;

		if (round > 3)
			abort();	/* a handler that never ends */
		if (c->state == CLIENT_DONE)
			abort();	/* answered and still querying */
		if (round == 0 && kind == 1)
			res = NULL;
		else if (round == 0 && kind == 2)
			res = fuzz_result(PGRES_FATAL_ERROR, 0, NULL, 0, 0);
		else
			res = simulate(&fuzz_pending[0], rows, nrows);
		if (round == 0 && (flags & 0x80))
			fuzz_pending[0].c = NULL;
		fuzz_answer(res);
		if (round == 0 && (flags & 0x80)) {
			if (fuzz_npending != 0)
				abort();	/* queried for nobody */
			goto done;
		}
	}
	if (c->state != CLIENT_DONE) {
		fprintf(stderr, "no answer\n");
		abort();
	}
	status = fuzz_check_response(c, c->head_only);
	if (verbose)
		fprintf(stderr, "%.*s\n", (int)BUF_LEN(&c->out),
		    BUF_PTR(&c->out));
	if (status >= 500 && !failed) {
		fprintf(stderr, "a %d with no failure simulated:\n%.*s\n",
		    status, (int)BUF_LEN(&c->out), BUF_PTR(&c->out));
		abort();
	}
done:
	fuzz_pending_reset();
	fuzz_client_free(c);
	return (0);
}
