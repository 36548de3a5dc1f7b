/*
 * support.c: the shared half of the libFuzzer harnesses (fuzz.h): weak
 * stand-ins for what the fuzzed files call in layers that are not linked
 * (the database, the shared cache, the client lifecycle, rate limits),
 * simulated PGresults, and the response checker.
 *
 * The stand-ins are weak, so a harness that links the real file gets the
 * real one.  db_submit() never reaches a database: it captures the call,
 * and the harness answers it with fuzz_answer() as db_deliver() would
 * (the callback, then PQclear()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"

#define WEAK	__attribute__((weak))

struct fuzz_query fuzz_pending[FUZZ_MAX_PENDING];
int		 fuzz_npending;
int		 fuzz_db_fail;
int		 fuzz_db_down;
int		 fuzz_cache_on;
int		 fuzz_cache_hit;
const char	*fuzz_sqlstate = "XX000";

void
fuzz_init(void)
{
	static int	done;

	if (done)
		return;
	done = 1;
	config_defaults(conf);
	log_init(0, LOG_LVL_ERROR, "fuzz");
	log_setlevel(-1);		/* not even errors: keep it fast */
}

/* ------------------------------------------------------ data/db.c */

WEAK int
db_submit(struct client *c, enum db_stmt stmt, int n,
    const char *const *params, db_cb cb, void *arg)
{
	struct fuzz_query	*q;
	int			 i;

	if (fuzz_db_fail || fuzz_npending >= FUZZ_MAX_PENDING)
		return (-1);
	q = &fuzz_pending[fuzz_npending++];
	memset(q, 0, sizeof(*q));
	q->stmt = stmt;
	q->nparams = n;
	for (i = 0; i < n && i < 5; i++)
		strlcpy(q->params[i], params[i] != NULL ? params[i] : "\\N",
		    sizeof(q->params[i]));
	q->cb = cb;
	q->arg = arg;
	q->c = c;
	if (c != NULL)
		c->npending++;
	return (0);
}

WEAK enum db_state
db_status(void)
{
	return (fuzz_db_down ? DB_DOWN : DB_READY);
}

WEAK int
db_retry_after(void)
{
	return (1);
}

WEAK const char *
db_sqlstate(PGresult *res)
{
	(void)res;
	return (fuzz_sqlstate);
}

int
fuzz_answer(PGresult *res)
{
	struct fuzz_query	 q;

	if (fuzz_npending == 0) {
		PQclear(res);
		return (0);
	}
	q = fuzz_pending[0];
	memmove(&fuzz_pending[0], &fuzz_pending[1],
	    (size_t)(--fuzz_npending) * sizeof(fuzz_pending[0]));
	if (q.c != NULL)
		q.c->npending--;
	q.cb(q.c, res, q.arg);
	PQclear(res);
	return (1);
}

void
fuzz_pending_reset(void)
{
	fuzz_npending = 0;
}

/* --------------------------------------------------- data/cache.c */

WEAK int
cache_enabled(void)
{
	return (fuzz_cache_on);
}

WEAK uint64_t
cache_version(const char *table)
{
	(void)table;
	return (1);
}

WEAK int
cache_invalidate(const char *table)
{
	(void)table;
	return (0);
}

WEAK int
cache_lookup(const char *key, size_t keylen, int stale_ok, struct buf *body,
    char *etag, size_t etaglen, long long *age, int *stale)
{
	(void)key;
	(void)keylen;
	if (!fuzz_cache_on || !fuzz_cache_hit)
		return (-1);
	if (buf_appendstr(body, "{\"cached\":true}\n") == -1)
		return (-1);
	strlcpy(etag, "\"0123456789abcdef0123456789abcdef\"", etaglen);
	*age = 7;
	*stale = stale_ok;
	return (0);
}

WEAK void
cache_store(const char *key, size_t keylen, uint64_t version,
    const char *body, size_t len, const char *etag)
{
	(void)key;
	(void)keylen;
	(void)version;
	(void)body;
	(void)len;
	(void)etag;
}

/* --------------------------------------------------- core/client.c */

WEAK void
client_hold(struct client *c)
{
	c->npending++;
}

WEAK struct client *
client_release(struct client *c)
{
	c->npending--;
	return (c);
}

WEAK void
client_wake(struct client *c)
{
	(void)c;
}

WEAK void
client_auth_result(struct client *c, int result)
{
	if (c != NULL)
		c->auth_result = result;
}

/* ------------------------------------------------ auth/ratelimit.c */

WEAK int
ratelimit_request(struct client *c, int authed)
{
	(void)c;
	(void)authed;
	return (0);
}

WEAK int
ratelimit_auth_begin(struct client *c, const char *user, char *addr,
    int *slow)
{
	(void)c;
	(void)user;
	addr[0] = '\0';
	*slow = 0;
	return (0);
}

WEAK void
ratelimit_auth_end(const char *addr, const char *user, int ok, int slow)
{
	(void)addr;
	(void)user;
	(void)ok;
	(void)slow;
}

WEAK void
ratelimit_auth_addr(struct client *c, char *addr)
{
	(void)c;
	addr[0] = '\0';
}

WEAK void
ratelimit_auth_charge(const char *addr, const char *user)
{
	(void)addr;
	(void)user;
}

/* ------------------------- api/: the handlers router.c names, unused */

WEAK void
api_healthz(struct client *c)
{
	response_error(c, 500, "not in this harness");
}

WEAK void
api_readyz(struct client *c)
{
	response_error(c, 500, "not in this harness");
}

WEAK void
api_auth_token(struct client *c)
{
	response_error(c, 500, "not in this harness");
}

WEAK void
api_metrics(struct client *c)
{
	response_error(c, 500, "not in this harness");
}

WEAK void
api_index(struct client *c)
{
	response_error(c, 500, "not in this harness");
}

WEAK void
api_openapi(struct client *c)
{
	response_error(c, 500, "not in this harness");
}

/* ------------------------------------------------------ the client */

struct client *
fuzz_client_new(const uint8_t *data, size_t len, int *parsed)
{
	struct client	*c;
	int		 rv;

	*parsed = 0;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->fd = -1;
	buf_init(&c->in, CLIENT_MAX_INPUT);
	buf_init(&c->out, CLIENT_MAX_OUTPUT);
	buf_init(&c->body, HTTP_MAX_BODY);
	buf_init(&c->hdrs, 8192);
	strlcpy(c->addr, "127.0.0.1", sizeof(c->addr));
	c->route_id = -1;
	c->auth_result = AUTH_PENDING;
	http_request_init(&c->req);
	if (len == 0 || buf_append(&c->in, data, len) == -1)
		return (c);
	rv = http_parse_head(&c->req, BUF_PTR(&c->in), BUF_LEN(&c->in));
	if (rv != HTTP_PARSE_DONE)
		return (c);
	rv = http_parse_body(&c->req, BUF_PTR(&c->in), BUF_LEN(&c->in),
	    &c->body);
	if (rv != HTTP_PARSE_DONE)
		return (c);
	c->state = CLIENT_BUSY;
	c->keepalive = c->req.keepalive;
	c->head_only = c->req.method == HTTP_M_HEAD;
	*parsed = 1;
	return (c);
}

void
fuzz_client_free(struct client *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->body);
	buf_free(&c->hdrs);
	free(c);
}

/* ------------------------------------------------------ PGresults */

int
fuzz_stmt_ncols(enum db_stmt stmt)
{
	switch (stmt) {
	case DB_PX_PAGE:
		return (3);	/* n, pxcode, procedure */
	case DB_PX_INSERT:
	case DB_PX_DELETE:
	case DB_PX_DELETE_CAS:
	case DB_PING:
	case DB_TOKEN_KEY:
	case DB_USER_REHASH:
		return (1);
	default:
		return (2);
	}
}

PGresult *
fuzz_result(ExecStatusType st, int ncols, const char *text, size_t len,
    int maxrows)
{
	PGresAttDesc	 att[8];
	PGresult	*res;
	const char	*p, *end, *eol, *cell, *tab;
	char		 name[8];
	int		 row, col;

	if ((res = PQmakeEmptyPGresult(NULL, st)) == NULL)
		abort();
	if (st != PGRES_TUPLES_OK)
		return (res);
	if (text == NULL) {
		text = "";
		len = 0;
	}
	p = text;
	end = text + len;
	if (ncols > 8)
		ncols = 8;
	memset(att, 0, sizeof(att));
	for (col = 0; col < ncols; col++) {
		snprintf(name, sizeof(name), "c%d", col);
		att[col].name = strdup(name);
		att[col].typid = 25;	/* text */
		att[col].typlen = -1;
		att[col].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, ncols, att))
		abort();
	for (col = 0; col < ncols; col++)
		free(att[col].name);
	for (row = 0; row < maxrows && row < FUZZ_MAX_ROWS && p < end;
	    row++) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		cell = p;
		for (col = 0; col < ncols; col++) {
			size_t	n;

			if (cell > eol)
				tab = cell;	/* missing: empty */
			else if ((tab = memchr(cell, '\t',
			    (size_t)(eol - cell))) == NULL)
				tab = eol;
			n = cell > eol ? 0 : (size_t)(tab - cell);
			if (n == 2 && memcmp(cell, "\\N", 2) == 0) {
				if (!PQsetvalue(res, row, col, NULL, -1))
					abort();
			} else if (!PQsetvalue(res, row, col,
			    n > 0 ? (char *)cell : "", (int)n))
				abort();
			cell = tab + 1;
		}
		p = eol + 1;
	}
	return (res);
}

/* ------------------------------------------------ checking answers */

int
fuzz_json_valid(const char *p, size_t len)
{
	const char	*end = NULL;
	char		*copy;
	cJSON		*j;
	int		 ok;

	if ((copy = malloc(len + 1)) == NULL)
		abort();
	memcpy(copy, p, len);
	copy[len] = '\0';
	ok = memchr(copy, '\0', len) == NULL &&
	    (j = cJSON_ParseWithOpts(copy, &end, 0)) != NULL;
	if (ok) {
		while (*end == ' ' || *end == '\n' || *end == '\r' ||
		    *end == '\t')
			end++;
		ok = *end == '\0';
		cJSON_Delete(j);
	}
	free(copy);
	return (ok);
}

static void
fuzz_bad(struct client *c, const char *why)
{
	fprintf(stderr, "bad response (%s):\n%.*s\n", why,
	    (int)BUF_LEN(&c->out), BUF_PTR(&c->out));
	abort();
}

int
fuzz_check_response(struct client *c, int head_only)
{
	const char	*p = BUF_PTR(&c->out), *end = p + BUF_LEN(&c->out);
	const char	*eol, *colon, *ctype = NULL;
	long long	 cl = -1;
	size_t		 ctlen = 0, body;
	int		 status, i;

	if (BUF_LEN(&c->out) < 17 || memcmp(p, "HTTP/1.1 ", 9) != 0)
		fuzz_bad(c, "status line");
	for (i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			fuzz_bad(c, "status code");
	status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (status < 200 || status > 599 || p[12] != ' ')
		fuzz_bad(c, "status code");
	if (c->status != status)
		fuzz_bad(c, "c->status is not the status sent");
	for (;;) {
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			fuzz_bad(c, "unterminated head");
		if (memchr(p, '\n', (size_t)(eol - p)) != NULL ||
		    memchr(p, '\r', (size_t)(eol - p)) != NULL ||
		    memchr(p, '\0', (size_t)(eol - p)) != NULL)
			fuzz_bad(c, "bare CR, LF or NUL in the head");
		if (p == BUF_PTR(&c->out)) {	/* the status line */
			p = eol + 2;
			continue;
		}
		if (eol == p) {
			p += 2;
			break;
		}
		if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL ||
		    colon == p)
			fuzz_bad(c, "header line without a name");
		for (const char *q = p; q < colon; q++)
			if (*q <= ' ' || *q >= 0x7f)
				fuzz_bad(c, "header name");
		if ((size_t)(colon - p) == 14 &&
		    strncasecmp(p, "Content-Length", 14) == 0) {
			if (cl != -1)
				fuzz_bad(c, "two Content-Length");
			cl = strtoll(colon + 1, NULL, 10);
		} else if ((size_t)(colon - p) == 12 &&
		    strncasecmp(p, "Content-Type", 12) == 0) {
			ctype = colon + 2;
			ctlen = (size_t)(eol - ctype);
		}
		p = eol + 2;
	}
	body = (size_t)(end - p);
	if (status == 204 || status == 304) {
		if (cl != -1 && status == 204)
			fuzz_bad(c, "Content-Length on a 204");
		if (body != 0)
			fuzz_bad(c, "a body on a 204 or 304");
		return (status);
	}
	if (cl < 0)
		fuzz_bad(c, "no Content-Length");
	if (head_only) {
		if (body != 0)
			fuzz_bad(c, "a body on a HEAD answer");
		return (status);
	}
	if ((size_t)cl != body)
		fuzz_bad(c, "Content-Length is not the body length");
	if (ctype != NULL && ctlen >= 16 &&
	    strncmp(ctype, "application/json", 16) == 0 && body > 0 &&
	    !fuzz_json_valid(p, body))
		fuzz_bad(c, "the body is not JSON");
	return (status);
}
