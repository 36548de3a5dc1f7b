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

/* Capture a statement: copies of what was passed (fuzz.h). */
static int
fuzz_capture(struct client *c, enum db_stmt stmt, const char *sql,
    const char *name, int write, int n, const char *const *params,
    db_cb cb, void *arg)
{
	struct fuzz_query	*q;
	int			 i;

	if (fuzz_db_fail || fuzz_npending >= FUZZ_MAX_PENDING || n < 0 ||
	    n > FUZZ_MAX_PARAMS)
		return (-1);
	q = &fuzz_pending[fuzz_npending++];
	memset(q, 0, sizeof(*q));
	q->stmt = stmt;
	if (name != NULL)
		strlcpy(q->name, name, sizeof(q->name));
	if (sql != NULL && (q->sql = strdup(sql)) == NULL)
		abort();
	q->write = write;
	q->nparams = n;
	for (i = 0; i < n; i++)
		if (params[i] != NULL &&
		    (q->params[i] = strdup(params[i])) == NULL)
			abort();
	q->cb = cb;
	q->arg = arg;
	q->c = c;
	if (c != NULL)
		c->npending++;
	return (0);
}

static void
fuzz_query_clear(struct fuzz_query *q)
{
	int	i;

	free(q->sql);
	for (i = 0; i < q->nparams; i++)
		free(q->params[i]);
	memset(q, 0, sizeof(*q));
}

WEAK int
db_submit(struct client *c, enum db_stmt stmt, int n,
    const char *const *params, db_cb cb, void *arg)
{
	return (fuzz_capture(c, stmt, NULL, NULL, 0, n, params, cb, arg));
}

/* As db.c: refused while the database is down. */
WEAK int
db_submit_sql(struct client *c, const char *sql, const char *name,
    int write, int n, const char *const *params, db_cb cb, void *arg)
{
	if (fuzz_db_down)
		return (-1);
	return (fuzz_capture(c, DB_NSTMTS, sql, name, write, n, params, cb,
	    arg));
}

WEAK uint64_t
db_result_lsn(void)
{
	return (DB_LSN_FRESH);
}

WEAK int
db_replica_ok(uint64_t lsn)
{
	(void)lsn;
	return (0);
}

WEAK void
db_listen_probe(void)
{
}

WEAK int
db_listen_lost(void)
{
	return (0);
}

WEAK uint64_t
db_lsn_parse(const char *s, size_t len)
{
	(void)s;
	(void)len;
	return (len > 0 ? 1 : 0);
}

WEAK void
db_lsn_format(uint64_t lsn, char *out, size_t len)
{
	snprintf(out, len, "0/%llX", (unsigned long long)lsn);
}

WEAK PGconn *
db_conn_handle(void)
{
	return (NULL);
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
	memset(&fuzz_pending[fuzz_npending], 0, sizeof(fuzz_pending[0]));
	if (q.c != NULL)
		q.c->npending--;
	q.cb(q.c, res, q.arg);
	PQclear(res);
	fuzz_query_clear(&q);
	return (1);
}

void
fuzz_pending_reset(void)
{
	while (fuzz_npending > 0)
		fuzz_query_clear(&fuzz_pending[--fuzz_npending]);
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
cache_invalidate(const char *table, uint64_t lsn)
{
	(void)table;
	(void)lsn;
	return (0);
}

WEAK uint64_t
cache_valid_through(void)
{
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

WEAK int
cache_store(const char *key, size_t keylen, uint64_t version, uint64_t lsn,
    const char *body, size_t len, const char *etag)
{
	(void)key;
	(void)keylen;
	(void)version;
	(void)lsn;
	(void)body;
	(void)len;
	(void)etag;
	return (0);
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

/*
 * Every peer is a trusted proxy here, so that api/api_link.c parses the
 * fuzzer's Forwarded and X-Forwarded-* headers into the links it builds.
 */
WEAK int
ratelimit_peer_trusted(struct client *c)
{
	(void)c;
	return (1);
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

/* --------------------------------- data/resource.c: the resources */

/*
 * What PostgreSQL 15 answers schema_catalog_sql with for the demo tables
 * (001_schema.sql's starter_pxcodes; starter_encounters as issue 10
 * defines it), copied from psql: schema_bind() reads the same bytes the
 * worker would.
 */
static const char fuzz_doc_pxcodes[] =
    "{\"nsp\" : \"public\", \"rel\" : \"starter_pxcodes\", \"kind\" : \"r\", "
    "\"qnsp\" : \"public\", \"qrel\" : \"starter_pxcodes\", \"priv\" : "
    "{\"select\" : true, \"insert\" : true, \"update\" : true, \"delete\" : "
    "true}, \"cols\" : [{\"name\" : \"id\", \"q\" : \"id\", \"type\" : "
    "\"int4\", \"typmod\" : -1, \"fmt\" : \"integer\", \"notnull\" : true, "
    "\"hasdef\" : true, \"identity\" : \"\", \"generated\" : \"\", \"sel\" : "
    "true, \"ins\" : true, \"upd\" : true}, {\"name\" : \"pxcode\", \"q\" : "
    "\"pxcode\", \"type\" : \"varchar\", \"typmod\" : 14, \"fmt\" : "
    "\"character varying(10)\", \"notnull\" : true, \"hasdef\" : false, "
    "\"identity\" : \"\", \"generated\" : \"\", \"sel\" : true, \"ins\" : "
    "true, \"upd\" : true}, {\"name\" : \"procedure\", \"q\" : "
    "\"procedure\", \"type\" : \"varchar\", \"typmod\" : 84, \"fmt\" : "
    "\"character varying(80)\", \"notnull\" : false, \"hasdef\" : false, "
    "\"identity\" : \"\", \"generated\" : \"\", \"sel\" : true, \"ins\" : "
    "true, \"upd\" : true}], \"uniques\" : [{\"name\" : "
    "\"starter_pxcodes_pkey\", \"primary\" : true, \"cols\" : [\"id\"]}, "
    "{\"name\" : \"starter_pxcodes_pxcode_key\", \"primary\" : false, "
    "\"cols\" : [\"pxcode\"]}], \"cons\" : null}";

static const char fuzz_doc_encounters[] =
    "{\"nsp\" : \"public\", \"rel\" : \"starter_encounters\", \"kind\" : "
    "\"r\", \"qnsp\" : \"public\", \"qrel\" : \"starter_encounters\", "
    "\"priv\" : {\"select\" : true, \"insert\" : true, \"update\" : true, "
    "\"delete\" : true}, \"cols\" : [{\"name\" : \"id\", \"q\" : \"id\", "
    "\"type\" : \"int4\", \"typmod\" : -1, \"fmt\" : \"integer\", "
    "\"notnull\" : true, \"hasdef\" : true, \"identity\" : \"a\", "
    "\"generated\" : \"\", \"sel\" : true, \"ins\" : true, \"upd\" : true}, "
    "{\"name\" : \"pxcode\", \"q\" : \"pxcode\", \"type\" : \"varchar\", "
    "\"typmod\" : 14, \"fmt\" : \"character varying(10)\", \"notnull\" : "
    "true, \"hasdef\" : false, \"identity\" : \"\", \"generated\" : \"\", "
    "\"sel\" : true, \"ins\" : true, \"upd\" : true}, {\"name\" : "
    "\"seen_on\", \"q\" : \"seen_on\", \"type\" : \"date\", \"typmod\" : -1, "
    "\"fmt\" : \"date\", \"notnull\" : true, \"hasdef\" : false, "
    "\"identity\" : \"\", \"generated\" : \"\", \"sel\" : true, \"ins\" : "
    "true, \"upd\" : true}, {\"name\" : \"charge\", \"q\" : \"charge\", "
    "\"type\" : \"numeric\", \"typmod\" : 655366, \"fmt\" : "
    "\"numeric(10,2)\", \"notnull\" : true, \"hasdef\" : false, "
    "\"identity\" : \"\", \"generated\" : \"\", \"sel\" : true, \"ins\" : "
    "true, \"upd\" : true}, {\"name\" : \"paid\", \"q\" : \"paid\", "
    "\"type\" : \"bool\", \"typmod\" : -1, \"fmt\" : \"boolean\", "
    "\"notnull\" : true, \"hasdef\" : true, \"identity\" : \"\", "
    "\"generated\" : \"\", \"sel\" : true, \"ins\" : true, \"upd\" : true}, "
    "{\"name\" : \"note\", \"q\" : \"note\", \"type\" : \"text\", "
    "\"typmod\" : -1, \"fmt\" : \"text\", \"notnull\" : false, \"hasdef\" : "
    "false, \"identity\" : \"\", \"generated\" : \"\", \"sel\" : true, "
    "\"ins\" : true, \"upd\" : true}, {\"name\" : \"created_at\", \"q\" : "
    "\"created_at\", \"type\" : \"timestamptz\", \"typmod\" : -1, \"fmt\" : "
    "\"timestamp with time zone\", \"notnull\" : true, \"hasdef\" : true, "
    "\"identity\" : \"\", \"generated\" : \"\", \"sel\" : true, \"ins\" : "
    "true, \"upd\" : true}], \"uniques\" : [{\"name\" : "
    "\"starter_encounters_pkey\", \"primary\" : true, \"cols\" : "
    "[\"id\"]}], \"cons\" : [{\"name\" : "
    "\"starter_encounters_charge_check\", \"type\" : \"c\", \"ref\" : null, "
    "\"cols\" : [\"charge\"]}, {\"name\" : "
    "\"starter_encounters_pxcode_fkey\", \"type\" : \"f\", \"ref\" : "
    "\"starter_pxcodes\", \"cols\" : [\"pxcode\"]}]}";

struct resource	 fuzz_res[FUZZ_NRES];
int		 fuzz_nres;
static char	 fuzz_coll[FUZZ_NRES][RES_IDENT_MAX + 32];
static char	 fuzz_redir[FUZZ_NRES][RES_IDENT_MAX + 32];
static struct route fuzz_routes[FUZZ_NRES][RES_ROUTE_KINDS];

static void
fuzz_bind_problem(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "fuzz_resources_init: %s\n", line);
}

static void
fuzz_resource_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_resources_init: %s\n", what);
		abort();
	}
}

void
fuzz_resources_init(void)
{
	static const char *const docs[FUZZ_NRES] = { fuzz_doc_pxcodes,
	    fuzz_doc_encounters };
	struct res_decl		 decl[FUZZ_NRES];
	PGresAttDesc		 att[2];
	PGresult		*res;
	struct resource		*px = &fuzz_res[0], *en = &fuzz_res[1];
	unsigned int		 rd, wr;
	int			 i;

	if (fuzz_nres > 0)
		return;
	memset(decl, 0, sizeof(decl));
	/* resconf_builtin(): the original's pxcodes. */
	strlcpy(decl[0].name, "pxcodes", sizeof(decl[0].name));
	strlcpy(decl[0].table, "starter_pxcodes", sizeof(decl[0].table));
	strlcpy(decl[0].key, "pxcode", sizeof(decl[0].key));
	strlcpy(decl[0].hidden, "id", sizeof(decl[0].hidden));
	strlcpy(decl[0].required, "procedure", sizeof(decl[0].required));
	strlcpy(decl[0].order, "id", sizeof(decl[0].order));
	decl[0].per_page = decl[0].max_per_page = 100;
	decl[0].ignore_unknown = 1;
	strlcpy(decl[0].stmt_prefix, "px", sizeof(decl[0].stmt_prefix));
	/* The second demo resource: unknown fields refused. */
	strlcpy(decl[1].name, "encounters", sizeof(decl[1].name));
	strlcpy(decl[1].table, "starter_encounters", sizeof(decl[1].table));
	strlcpy(decl[1].key, "id", sizeof(decl[1].key));
	strlcpy(decl[1].read_only, "created_at", sizeof(decl[1].read_only));
	decl[1].per_page = 20;
	decl[1].max_per_page = 100;

	/* The catalog's answer: (name text, doc json), one row a table. */
	if ((res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK)) == NULL)
		abort();
	memset(att, 0, sizeof(att));
	att[0].name = "name";
	att[0].typid = 25;
	att[1].name = "json_build_object";
	att[1].typid = 114;
	for (i = 0; i < 2; i++) {
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, 2, att))
		abort();
	for (i = 0; i < FUZZ_NRES; i++)
		if (!PQsetvalue(res, i, 0, decl[i].table,
		    (int)strlen(decl[i].table)) || !PQsetvalue(res, i, 1,
		    (char *)docs[i], (int)strlen(docs[i])))
			abort();
	for (i = 0; i < FUZZ_NRES; i++)
		if (schema_bind(NULL, &decl[i], res, &fuzz_res[i],
		    fuzz_bind_problem, NULL) != 0)
			abort();
	PQclear(res);

	/* What the declarations say, as the binding must have read it. */
	fuzz_resource_check(px->ncols == 3 && px->key == 1 &&
	    !px->cols[0].exposed && px->cols[1].required &&
	    px->cols[1].maxlen == 10 && px->cols[2].required &&
	    px->cols[2].maxlen == 80 && !px->cols[2].notnull &&
	    px->nsel == 2 && px->norder == 2 && px->order[0] == 0 &&
	    px->order[1] == 1, "pxcodes is not bound as declared");
	fuzz_resource_check(en->ncols == 7 && en->key == 0 &&
	    en->cols[0].generated && en->cols[0].read_only &&
	    en->cols[1].required && en->cols[2].type == COL_DATE &&
	    en->cols[3].type == COL_NUMERIC && en->cols[3].precision == 10 &&
	    en->cols[3].scale == 2 && en->cols[4].type == COL_BOOL &&
	    !en->cols[4].required && !en->cols[5].notnull &&
	    en->cols[6].type == COL_TIMESTAMPTZ && en->cols[6].read_only &&
	    en->nsel == 7 && en->norder == 1 && en->nfkey == 1 &&
	    en->nchecks == 1, "encounters is not bound as declared");

	/* The routes, as resource_init() makes them (access: user). */
	rd = 1u << HTTP_M_GET | 1u << HTTP_M_HEAD | 1u << HTTP_M_OPTIONS;
	for (i = 0; i < FUZZ_NRES; i++) {
		snprintf(fuzz_coll[i], sizeof(fuzz_coll[i]),
		    STARTERD_API_PREFIX "/%s/", decl[i].name);
		snprintf(fuzz_redir[i], sizeof(fuzz_redir[i]),
		    STARTERD_API_PREFIX "/%s", decl[i].name);
		wr = 1u << HTTP_M_POST;
		fuzz_routes[i][RES_ROUTE_COLL] = (struct route){ fuzz_coll[i],
		    rd | wr, ROUTE_AUTH, NULL, 0, &fuzz_res[i] };
		wr = 1u << HTTP_M_PUT | 1u << HTTP_M_PATCH |
		    1u << HTTP_M_DELETE;
		fuzz_routes[i][RES_ROUTE_ITEM] = (struct route){ fuzz_coll[i],
		    rd | wr, ROUTE_AUTH | ROUTE_ARG, NULL, 0, &fuzz_res[i] };
		fuzz_routes[i][RES_ROUTE_REDIRECT] = (struct route){
		    fuzz_redir[i], ~0u, ROUTE_REDIRECT, NULL, 0,
		    &fuzz_res[i] };
	}
	fuzz_nres = FUZZ_NRES;
}

WEAK int
resource_count(void)
{
	return (fuzz_nres);
}

WEAK struct resource *
resource_get(int i)
{
	return (i >= 0 && i < fuzz_nres ? &fuzz_res[i] : NULL);
}

/* Every resource is bound (the catalog answered at start). */
WEAK int
resource_wait(struct client *c, void (*resume)(struct client *))
{
	(void)c;
	(void)resume;
	return (0);
}

/* resource.c's matching, over the harness's resources. */
WEAK int
resource_match(const char *path, size_t len, char *arg, size_t arglen,
    int *argerr, int *kind)
{
	size_t		 plen;
	const char	*rest;
	int		 i;

	for (i = 0; i < fuzz_nres; i++) {
		plen = strlen(fuzz_redir[i]);
		if (len == plen && memcmp(path, fuzz_redir[i], len) == 0) {
			*kind = RES_ROUTE_REDIRECT;
			return (i);
		}
		plen = strlen(fuzz_coll[i]);
		if (len < plen || memcmp(path, fuzz_coll[i], plen) != 0)
			continue;
		*kind = RES_ROUTE_COLL;
		if (len == plen)
			return (i);
		rest = path + plen;
		if (memchr(rest, '/', len - plen) != NULL)
			return (-1);
		if (http_pct_decode(rest, len - plen, arg, arglen) < 0 ||
		    strlen(arg) != strnlen(arg, arglen) || arg[0] == '\0')
			*argerr = 1;
		*kind = RES_ROUTE_ITEM;
		return (i);
	}
	return (-1);
}

/* token.c (fuzz_auth links the real one): a fixed cursor key. */
WEAK int
token_derive(const char *label, unsigned char *out, size_t len)
{
	(void)label;
	memset(out, 0x5a, len);
	return (0);
}

WEAK int
token_key_ready(struct client *c)
{
	(void)c;
	return (0);
}

/* groups.c: every member of every group (no resource declares one). */
WEAK int
groups_check(struct client *c, const char *group)
{
	(void)c;
	(void)group;
	return (AUTH_OK);
}

WEAK void
resource_route_info(int i, int kind, struct route *out)
{
	*out = fuzz_routes[i][kind];
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
	PGresAttDesc	 att[FUZZ_MAX_COLS];
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
	if (ncols > FUZZ_MAX_COLS)
		ncols = FUZZ_MAX_COLS;
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

/* ------------------------------------------- reading what was sent */

static void
fuzz_jws(const char *s, size_t len, size_t *i)
{
	while (*i < len && (unsigned char)s[*i] <= ' ')
		(*i)++;
}

/* A string at s[*i] == '"'; *nul is set if it holds a \u0000 escape. */
static int
fuzz_jstring(const char *s, size_t len, size_t *i, int *nul)
{
	if (*i >= len || s[*i] != '"')
		return (-1);
	for ((*i)++; *i < len; ) {
		if (s[*i] == '"') {
			(*i)++;
			return (0);
		}
		if (s[*i] != '\\') {
			(*i)++;
			continue;
		}
		if (*i + 1 >= len)
			return (-1);
		if (s[*i + 1] == 'u') {
			if (len - *i < 6)
				return (-1);
			if (memcmp(s + *i + 2, "0000", 4) == 0)
				*nul = 1;
			*i += 6;
		} else
			*i += 2;
	}
	return (-1);
}

static int
fuzz_jvalue(const char *s, size_t len, size_t *i, int depth)
{
	int	nul = 0;
	char	close;

	if (*i >= len || depth > 2000)
		return (-1);
	switch (s[*i]) {
	case '"':
		return (fuzz_jstring(s, len, i, &nul));
	case '{':
	case '[':
		close = s[*i] == '{' ? '}' : ']';
		(*i)++;
		fuzz_jws(s, len, i);
		if (*i < len && s[*i] == close) {
			(*i)++;
			return (0);
		}
		for (;;) {
			fuzz_jws(s, len, i);
			if (close == '}') {
				if (fuzz_jstring(s, len, i, &nul) == -1)
					return (-1);
				fuzz_jws(s, len, i);
				if (*i >= len || s[*i] != ':')
					return (-1);
				(*i)++;
				fuzz_jws(s, len, i);
			}
			if (fuzz_jvalue(s, len, i, depth + 1) == -1)
				return (-1);
			fuzz_jws(s, len, i);
			if (*i < len && s[*i] == ',') {
				(*i)++;
				continue;
			}
			if (*i < len && s[*i] == close) {
				(*i)++;
				return (0);
			}
			return (-1);
		}
	default:
		if (len - *i >= 4 && (memcmp(s + *i, "true", 4) == 0 ||
		    memcmp(s + *i, "null", 4) == 0)) {
			*i += 4;
			return (0);
		}
		if (len - *i >= 5 && memcmp(s + *i, "false", 5) == 0) {
			*i += 5;
			return (0);
		}
		if (s[*i] != '-' && (s[*i] < '0' || s[*i] > '9'))
			return (-1);
		/* cJSON hands these characters to strtod. */
		while (*i < len && strchr("0123456789+-eE.", s[*i]) != NULL &&
		    s[*i] != '\0')
			(*i)++;
		return (0);
	}
}

int
fuzz_json_members(const char *s, size_t len, struct fuzz_member *m, int max)
{
	size_t	i = 0;
	int	n = 0;

	fuzz_jws(s, len, &i);
	if (i >= len || s[i] != '{')
		return (-1);
	i++;
	fuzz_jws(s, len, &i);
	if (i < len && s[i] == '}')
		return (0);
	for (;;) {
		if (n >= max)
			return (-1);
		memset(&m[n], 0, sizeof(m[n]));
		fuzz_jws(s, len, &i);
		m[n].koff = i + 1;
		if (fuzz_jstring(s, len, &i, &m[n].key_nul) == -1)
			return (-1);
		m[n].klen = i - 1 - m[n].koff;
		fuzz_jws(s, len, &i);
		if (i >= len || s[i] != ':')
			return (-1);
		i++;
		fuzz_jws(s, len, &i);
		m[n].voff = i;
		if (i < len && s[i] == '"') {
			if (fuzz_jstring(s, len, &i, &m[n].val_nul) == -1)
				return (-1);
		} else if (fuzz_jvalue(s, len, &i, 0) == -1)
			return (-1);
		m[n].vlen = i - m[n].voff;
		n++;
		fuzz_jws(s, len, &i);
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (i < len && s[i] == '}')
			return (n);
		return (-1);
	}
}

long
fuzz_utf8_chars(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k, n;
	unsigned long		 cp, min;
	long			 chars = 0;

	while (i < len) {
		if (p[i] == 0)
			return (-1);
		if (p[i] < 0x80) {
			i++;
			chars++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else
			return (-1);
		if (len - i < n)
			return (-1);
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return (-1);
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (-1);
		i += n;
		chars++;
	}
	return (chars);
}
