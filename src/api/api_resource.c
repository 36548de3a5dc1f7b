/*
 * api_resource.c: every declared resource's collection and items
 * (data/resource.c binds them to the catalog, data/schema.c writes their
 * fixed statements).
 *
 * Handlers check the input against the catalog (cJSON for request bodies,
 * each value against its column's type), submit one statement and answer
 * from its callback.  Representations are the original's exact bytes for
 * pxcodes (keys sorted as jsonify sorts them, the item's "url"), typed as
 * their columns for every resource: see api_value().
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <cjson/cJSON.h>

#include "starterd.h"

#define API_MAX_PAGE	100000000LL
#define API_SQL_MAX	(64 * 1024)
#define API_REFILL_WAITERS	4096	/* clients on one refill, at most */

#define RES(c)		((struct resource *)(c)->route->arg)

/* ------------------------------------------------------------- helpers */

/*
 * db_submit_sql, remembering when the first statement went (Server-Timing),
 * the statement named "<prefix>_<kind>" (statement_prefix, else the
 * resource's name) in PostgreSQL's logs.
 */
static int
api_db_submit(struct client *c, const char *sql, const char *kind, int write,
    int n, const char *const *p, db_cb cb, void *arg)
{
	const struct res_decl	*d = &RES(c)->decl;
	char			 name[RES_IDENT_MAX + 16], *u;

	snprintf(name, sizeof(name), "%s_%s", d->stmt_prefix[0] != '\0' ?
	    d->stmt_prefix : d->name, kind);
	for (u = name; *u != '\0'; u++)
		if (*u == '-')
			*u = '_';
	if (c->t_db == 0)
		c->t_db = now_us();
	return (db_submit_sql(c, sql, name, write, n, p, cb, arg));
}

/* Append the item URL; the key percent-encoded like Python's quote(). */
static void
api_item_url(struct client *c, struct buf *b, const char *code)
{
	static const char	hex[] = "0123456789ABCDEF";
	const unsigned char	*p;

	api_link_base(c, b);
	buf_appendstr(b, c->route->path);
	for (p = (const unsigned char *)code; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			buf_append(b, p, 1);
		else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 0xf] };

			buf_append(b, e, 3);
		}
	}
}

/* The constraint named in an error, among r's list of n. */
static const struct res_unique *
api_constraint(const struct res_unique *list, int n, PGresult *res)
{
	const char	*name = PQresultErrorField(res,
			    PG_DIAG_CONSTRAINT_NAME);
	int		 i;

	for (i = 0; name != NULL && i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return (&list[i]);
	return (NULL);
}

/* The resource that serves a table, for messages: its name, or the table. */
static const char *
api_table_label(const char *table)
{
	struct resource	*o;
	int		 i;

	for (i = 0; i < resource_count(); i++)
		if ((o = resource_get(i)) != NULL &&
		    strcmp(o->relname, table) == 0)
			return (o->decl.name);
	return (table);
}

/*
 * Integrity violations, without the SQL: unique -> 409 naming the
 * columns; foreign key -> 422 naming the related resource (a write) or
 * 409 (a delete of a row others refer to); check -> 422; NOT NULL -> 400.
 */
static void
api_constraint_error(struct client *c, PGresult *res, const char *state)
{
	struct resource		*r = RES(c);
	const struct res_unique	*u;
	const char		*col, *tab;

	if (strcmp(state, "23505") == 0) {
		u = api_constraint(r->unique, r->nunique, res);
		response_error(c, 409, "%s already exists",
		    u != NULL ? u->columns : "an item with these values");
	} else if (strcmp(state, "23503") == 0) {
		if ((u = api_constraint(r->fkey, r->nfkey, res)) != NULL)
			response_error(c, 422, "invalid %s: no such item in "
			    "%s", u->columns, api_table_label(u->ref));
		else {
			tab = PQresultErrorField(res, PG_DIAG_TABLE_NAME);
			response_error(c, 409, "the item is still referred "
			    "to by %s", tab != NULL ? api_table_label(tab) :
			    "another table");
		}
	} else if (strcmp(state, "23514") == 0) {
		u = api_constraint(r->check, r->nchecks, res);
		if (u != NULL && u->columns[0] != '\0')
			response_error(c, 422, "invalid %s: the value breaks "
			    "the rule %s", u->columns, u->name);
		else
			response_error(c, 422, "the values break a rule of "
			    "the table%s%s", u != NULL ? ": " : "",
			    u != NULL ? u->name : "");
	} else if (strcmp(state, "23502") == 0) {
		col = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
		response_error(c, 400, "invalid %s: it must not be null",
		    col != NULL ? col : "value");
	} else
		response_error(c, 409, "the change conflicts with the data");
}

/*
 * Map a failed statement to a response.  Returns 1 when res was not a
 * success (and the response is sent), 0 when the caller goes on.
 */
static int
api_db_error(struct client *c, PGresult *res)
{
	const char	*state;

	if (res == NULL) {
		response_unavailable(c, db_retry_after());
		return (1);
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK)
		return (0);
	state = db_sqlstate(res);
	if (strncmp(state, "23", 2) == 0)
		api_constraint_error(c, res, state);
	else if (strncmp(state, "22", 2) == 0)
		response_error(c, 400, "invalid value: %s",
		    strcmp(state, "22001") == 0 ? "too long" :
		    "rejected by the database");
	else if (strcmp(state, "42703") == 0 || strcmp(state, "42804") == 0) {
		/* A column gone or changed since the worker bound the table. */
		log_warnx("resource %s: its table changed since it was bound "
		    "(%s): reload to bind it again", RES(c)->decl.name,
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		response_header(c, "Retry-After: 10");
		response_error(c, 503, "the resource's table changed; the "
		    "server must be reloaded");
	} else if (strcmp(state, "42P01") == 0 || strcmp(state, "26000") == 0) {
		log_warnx("the schema is missing: run starterctl initdb");
		response_header(c, "Retry-After: 10");
		response_error(c, 503, "the database schema is not initialized");
	} else if (strcmp(state, "57014") == 0) {
		response_header(c, "Retry-After: 1");
		response_error(c, 503, "the query took too long");
	} else if (strncmp(state, "57P", 3) == 0 ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0) {
		/* Server shutting down, connection trouble, no resources. */
		response_unavailable(c, db_retry_after());
	} else {
		log_warnx("database error %s: %s", state,
		    PQresultErrorMessage(res));
		response_error(c, 500, "database error");
	}
	return (1);
}

/*
 * Answer a 200 GET/HEAD representation with its ETag, honouring the
 * preconditions in RFC 9110 13.2.2 order: If-Match, (If-Unmodified-Since:
 * ignored, there is no Last-Modified), If-None-Match, (If-Modified-Since:
 * likewise).  etag may be NULL (computed here).  status is the
 * Cache-Status parameters for this answer.
 */
static void
api_send_representation(struct client *c, struct buf *body, const char *tag,
    const char *status)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_span	*h;
	char			 etag[40];

	if (tag == NULL)
		etag_compute(BUF_PTR(body), BUF_LEN(body), etag, sizeof(etag));
	else
		strlcpy(etag, tag, sizeof(etag));
	if ((h = http_header_find(&c->req, buf, "If-Match")) != NULL &&
	    http_etag_match(buf + h->off, h->len, etag, 0) != 1) {
		response_error(c, 412, "precondition failed");
		return;
	}
	response_header_str(c, "ETag", etag);
	/* Authenticated: browsers may keep it, shared caches may not. */
	response_header_str(c, "Cache-Control", "private, no-cache");
	if (status != NULL) {
		char	 cs[112];

		(void)strlcpy(cs, STARTERD_NAME "; ", sizeof(cs));
		(void)strlcat(cs, status, sizeof(cs));
		response_header_str(c, "Cache-Status", cs);
	}
	if ((h = http_header_find(&c->req, buf, "If-None-Match")) != NULL &&
	    http_etag_match(buf + h->off, h->len, etag, 1) == 1) {
		/* 304 repeats the validators; Content-Length is the 200's. */
		response_send(c, 304, "application/json", BUF_PTR(body),
		    BUF_LEN(body));
		return;
	}
	response_json(c, 200, body);
}

/*
 * A GET whose answer may come from the cache.  key says what shapes the
 * bytes; version is the cache version read before the query was sent.
 */
struct get_ctx {
	struct buf	 key;
	uint64_t	 version;
	uint64_t	 need_lsn;	/* the client's X-Starterd-LSN, or 0 */
	uint64_t	 data_lsn;	/* the answer is at least this new */
	long long	 page;
	long long	 per_page;
	int		 composite;	/* a collection: headers cached too */
	struct buf	 hdrs;		/* "Name: value\r\n" lines (Link) */
	/* A refill in flight: the clients that missed the same entry. */
	LIST_ENTRY(get_ctx)	 refill;
	int		 refilling;
	struct client	**waiters;
	int		 nwaiters;
	int		 cwaiters;
};

/*
 * Refills in flight in this worker.  When an entry is invalidated, the
 * clients that miss it before its refill is answered wait for that one
 * refill (and are then answered from the cache it filled) instead of each
 * sending the same statements: after a write to a big table, one count
 * and one page, not one per waiting client.  A refill sent before the
 * entry's last invalidation (another version) is not joined.
 */
static LIST_HEAD(, get_ctx) api_refills = LIST_HEAD_INITIALIZER(api_refills);

/* Its refill is over (answered, failed, or its client gone): wake all. */
static void
api_refill_end(struct get_ctx *g)
{
	struct client	*w;
	int		 i;

	if (!g->refilling)
		return;
	LIST_REMOVE(g, refill);
	g->refilling = 0;
	for (i = 0; i < g->nwaiters; i++)
		if ((w = client_release(g->waiters[i])) != NULL)
			client_wake(w);
	free(g->waiters);
	g->waiters = NULL;
	g->nwaiters = g->cwaiters = 0;
}

static void
get_ctx_free(struct get_ctx *g)
{
	if (g == NULL)
		return;
	api_refill_end(g);
	buf_free(&g->key);
	buf_free(&g->hdrs);
	free(g);
}

/*
 * g missed the cache at g->version: wait for a refill of the same entry
 * and version if one is in flight (1: c waits, resumed at fn, and g can
 * be freed), else become the refill others wait for (0: send it).
 */
static int
api_refill_join(struct client *c, struct get_ctx *g,
    void (*fn)(struct client *))
{
	struct get_ctx	*f;
	struct client	**nw;
	int		 n;

	LIST_FOREACH(f, &api_refills, refill) {
		if (f->version != g->version ||
		    BUF_LEN(&f->key) != BUF_LEN(&g->key) ||
		    memcmp(BUF_PTR(&f->key), BUF_PTR(&g->key),
		    BUF_LEN(&g->key)) != 0)
			continue;
		if (f->nwaiters == f->cwaiters) {
			if (f->cwaiters >= API_REFILL_WAITERS)
				break;
			n = f->cwaiters == 0 ? 16 : f->cwaiters * 2;
			if ((nw = reallocarray(f->waiters, (size_t)n,
			    sizeof(*nw))) == NULL)
				break;
			f->waiters = nw;
			f->cwaiters = n;
		}
		client_hold(c);
		c->resume = fn;
		f->waiters[f->nwaiters++] = c;
		return (1);
	}
	LIST_INSERT_HEAD(&api_refills, g, refill);
	g->refilling = 1;
	return (0);
}

/*
 * Item key "I <resource> <scheme://host> <key>"; page key "C <resource>
 * <base> page per_page".
 */
static struct get_ctx *
get_ctx_new(struct client *c, char kind, long long page, long long per_page)
{
	struct get_ctx	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return (NULL);
	buf_init(&g->key, 1024);
	(void)buf_append(&g->key, &kind, 1);
	(void)buf_append(&g->key, " ", 1);
	(void)buf_appendstr(&g->key, RES(c)->decl.name);
	(void)buf_append(&g->key, " ", 1);
	api_link_base(c, &g->key);
	if (kind == 'I') {
		(void)buf_append(&g->key, " ", 1);
		(void)buf_appendstr(&g->key, c->arg);
	} else if (kind == 'C' && page >= 0 && per_page >= 0) {
		(void)buf_append(&g->key, " ", 1);
		(void)buf_appendu(&g->key, (unsigned long long)page);
		(void)buf_append(&g->key, " ", 1);
		(void)buf_appendu(&g->key, (unsigned long long)per_page);
	} else if (kind == 'C')
		buf_appendf(&g->key, " %lld %lld", page, per_page);
	g->composite = kind != 'I';
	g->data_lsn = DB_LSN_FRESH;
	buf_init(&g->hdrs, 16384);
	g->page = page;
	g->per_page = per_page;
	return (g);
}

/* Is c's resource cached (its table announces its changes)? */
static int
api_cache_on(struct client *c)
{
	return (cache_enabled() && RES(c)->cacheable);
}

/*
 * Add a collection's header lines ("Name: value\r\n" each, as built for
 * it and kept with it in the cache) to the response, in one piece.
 */
static void
api_header_lines(struct client *c, const char *p, size_t n)
{
	if (n >= 2 && memcmp(p + n - 2, "\r\n", 2) == 0)
		(void)buf_append(&c->hdrs, p, n);
}

/*
 * A collection's cache entry: "<n>\n", n bytes of header lines (its Link
 * and Preference-Applied), then the body.  Send the headers; leave the
 * body in b.
 */
static int
api_split_headers(struct client *c, struct buf *b)
{
	const char	*p = BUF_PTR(b), *nl;
	char		*end;
	unsigned long	 n;

	if ((nl = memchr(p, '\n', BUF_LEN(b))) == NULL)
		return (-1);
	n = strtoul(p, &end, 10);
	if (end != nl || n > BUF_LEN(b) - (size_t)(nl + 1 - p))
		return (-1);
	api_header_lines(c, nl + 1, n);
	buf_consume(b, (size_t)(nl + 1 + n - BUF_PTR(b)));
	return (0);
}

/*
 * Try the cache.  Returns 1 when the request was answered from it.
 * While the database is down a stale entry is better than a 503
 * (stale-if-error): it is served with its Age and marked stale.
 */
static int
api_cache_answer(struct client *c, struct get_ctx *g, int db_failed)
{
	struct buf	 body;
	char		 etag[40], status[96];
	long long	 age;
	int		 stale, down;

	if (!api_cache_on(c))
		return (0);
	/*
	 * A client that wrote (it carries the position of its write) is
	 * answered from here only if this instance has heard of every
	 * change up to that position: else from the database, even when it
	 * is down (a stale copy could be older than the client's write).
	 * Strictly past it: a probe that read the same position may have
	 * run while the write's transaction was still finishing its commit
	 * (its WAL record in, its notification not yet signalled).
	 */
	if (g->need_lsn != 0 && cache_valid_through() <= g->need_lsn) {
		db_listen_probe();
		return (0);
	}
	/*
	 * Stale only when the database is known to be unreachable: a
	 * worker still making its first connection (just respawned) must
	 * not serve what other workers' writes made outdated.
	 */
	down = db_failed || db_status() == DB_DOWN;
	/*
	 * Its listening link lost while the primary link (a pooler's) still
	 * looks up: what this worker holds is not known to be current, and
	 * the database may be gone.  Ask it; a failure comes back here with
	 * db_failed and is answered stale.
	 */
	if (!down && db_listen_lost())
		return (0);
	buf_init(&body, CLIENT_MAX_OUTPUT);
	if (cache_lookup(BUF_PTR(&g->key), BUF_LEN(&g->key), down, &body,
	    etag, sizeof(etag), &age, &stale) == -1) {
		buf_free(&body);
		return (0);
	}
	if (g->composite && api_split_headers(c, &body) == -1) {
		buf_free(&body);
		return (0);
	}
	if (stale || down) {
		/* Not revalidated: say so, and how old it is. */
		response_header(c, "Age: %lld", age);
		(void)strlcpy(status, "hit; detail=\"stale: database "
		    "unavailable\"", sizeof(status));
		c->cache_desc = "stale";
	} else {
		(void)strlcpy(status, "hit", sizeof(status));
		c->cache_desc = "hit";
	}
	api_send_representation(c, &body, etag, status);
	buf_free(&body);
	return (1);
}

/* A fresh representation from the database: store it, then answer. */
static void
api_answer_fresh(struct client *c, struct get_ctx *g, struct buf *body)
{
	char		 etag[40];
	struct buf	 all;
	int		 stored = 0;

	etag_compute(BUF_PTR(body), BUF_LEN(body), etag, sizeof(etag));
	if (api_cache_on(c))
		c->cache_desc = "miss";
	if (api_cache_on(c) && !g->composite)
		stored = cache_store(BUF_PTR(&g->key), BUF_LEN(&g->key),
		    g->version, g->data_lsn, BUF_PTR(body), BUF_LEN(body),
		    etag);
	else if (api_cache_on(c)) {
		buf_init(&all, CLIENT_MAX_OUTPUT + 32768);
		if (buf_appendf(&all, "%zu\n", BUF_LEN(&g->hdrs)) == 0 &&
		    buf_append(&all, BUF_PTR(&g->hdrs), BUF_LEN(&g->hdrs)) ==
		    0 && buf_append(&all, BUF_PTR(body), BUF_LEN(body)) == 0)
			stored = cache_store(BUF_PTR(&g->key),
			    BUF_LEN(&g->key), g->version, g->data_lsn,
			    BUF_PTR(&all), BUF_LEN(&all), etag);
		buf_free(&all);
	}
	if (g->composite)
		api_header_lines(c, BUF_PTR(&g->hdrs), BUF_LEN(&g->hdrs));
	/* Not stored: outdated meanwhile, or a replica's older answer. */
	api_send_representation(c, body, etag, !api_cache_on(c) ?
	    "fwd=bypass" : stored ? "fwd=miss; stored" : "fwd=miss");
}

/* The database failed a GET: a stale cached copy, else the error. */
static int
api_get_failed(struct client *c, struct get_ctx *g, PGresult *res)
{
	uint64_t	lsn = db_result_lsn();

	/* Two statements (count, page): as new as the older one. */
	if (lsn < g->data_lsn)
		g->data_lsn = lsn;
	if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK))
		return (0);
	if (res == NULL && api_cache_answer(c, g, 1))
		return (1);
	return (api_db_error(c, res));
}

/*
 * The position the client must see (X-Starterd-LSN, else the cookie
 * starterd_lsn) into g->need_lsn.  -1: a malformed header, answered 400;
 * a malformed cookie is ignored (it may be another application's).
 */
static int
api_need_lsn(struct client *c, struct get_ctx *g)
{
	const char	*buf = BUF_PTR(&c->in), *p, *e, *v;
	size_t		 n;

	if (c->req.lsn_given) {
		if ((g->need_lsn = db_lsn_parse(buf + c->req.lsn.off,
		    c->req.lsn.len)) == 0) {
			response_error(c, 400, "invalid X-Starterd-LSN: it "
			    "must be a WAL position such as 0/3000A58");
			return (-1);
		}
		return (0);
	}
	if (c->req.cookie.len == 0)
		return (0);
	/* cookie-string: name=value pairs separated by "; " (RFC 6265). */
	p = buf + c->req.cookie.off;
	e = p + c->req.cookie.len;
	while (p < e) {
		while (p < e && (*p == ' ' || *p == ';'))
			p++;
		v = p;
		while (v < e && *v != ';')
			v++;
		n = (size_t)(v - p);
		if (n > 13 && memcmp(p, "starterd_lsn=", 13) == 0) {
			g->need_lsn = db_lsn_parse(p + 13, n - 13);
			return (0);
		}
		p = v;
	}
	return (0);
}

/* db_submit_sql's flags for a GET: a replica unless it lags behind. */
static int
api_read_flags(struct get_ctx *g)
{
	return (db_replica_ok(g->need_lsn) ? DB_SQL_REPLICA : 0);
}

/*
 * A committed write: the caches are told, and the client the position by
 * which its next read must see it (X-Starterd-LSN, and the cookie for
 * browsers).
 */
static void
api_written(struct client *c, const char *table)
{
	uint64_t	lsn = db_result_lsn();
	char		v[DB_LSN_MAX];

	cache_invalidate(table, lsn);
	if (lsn == 0)
		return;
	db_lsn_format(lsn, v, sizeof(v));
	response_header(c, "X-Starterd-LSN: %s", v);
	response_header(c, "Set-Cookie: starterd_lsn=%s; Path=/; Max-Age=60; "
	    "HttpOnly; SameSite=Lax", v);
}

/*
 * Count the characters of s, which must be UTF-8 as PostgreSQL checks it
 * (no overlong forms, no surrogates, nothing past U+10FFFF): -1 if it is
 * not; -2 if it holds a control character (C0 or DEL) and ctl is 0.
 */
static long
api_charcount(const char *s, int ctl)
{
	long	 n;
	int	 c0;

	if ((n = str_utf8_count(s, strlen(s), &c0)) == -1)
		return (-1);
	return (c0 && !ctl ? -2 : n);
}

/*
 * The closing quote of the JSON string opening at s[i] (or len), and in
 * *nul whether it holds a \u0000 escape.
 */
static size_t
api_json_string_end(const char *s, size_t len, size_t i, int *nul)
{
	size_t	j;

	*nul = 0;
	for (j = i + 1; j < len && s[j] != '"'; j++) {
		if (s[j] != '\\')
			continue;
		if (len - j > 5 && strncmp(s + j + 1, "u0000", 5) == 0)
			*nul = 1;
		j++;
	}
	return (j);
}

/* Does any string of the JSON text s, at any depth, hold a \u0000? */
static int
api_json_any_nul(const char *s, size_t len)
{
	size_t	i;
	int	nul;

	for (i = 0; i < len; i++)
		if (s[i] == '"') {
			i = api_json_string_end(s, len, i, &nul);
			if (nul)
				return (1);
		}
	return (0);
}

/*
 * Where the top-level members of a write's body are, in its raw text
 * (valid JSON: cJSON parsed it), in document order (cJSON's too), for a
 * window of API_MEMBERS_MAX members from first: the raw text of each
 * value, so that numbers keep their exact digits and json values their
 * bytes, and whether its key or its string value holds a \u0000 escape,
 * which cJSON decodes into a NUL that ends its C string ("a\u0000b" would
 * read as "a").  White space around a value is what cJSON skips: any byte
 * up to ' ' (not only JSON's four), else "1\x01" would be the value.  One
 * pass over the body serves every member of the window; a member beyond
 * it (a declaration that ignores unknown fields lets many through) is
 * looked up by a pass of its own.
 */
#define API_MEMBERS_MAX	(RES_MAX_COLS + 8)
#define API_NUL_KEY	1
#define API_NUL_VALUE	2

struct api_members {
	const char	*s;
	size_t		 len;
	int		 first;		/* the window's first member */
	int		 n;		/* members in the window */
	int		 total;		/* members of the object */
	int		 nul_key;	/* some key holds \u0000 */
	struct {
		size_t	 off, len;	/* the value's raw text */
		int	 nul;		/* API_NUL_KEY | API_NUL_VALUE */
	}		 m[API_MEMBERS_MAX];
};

static void
api_members_close(struct api_members *x, int slot, size_t end)
{
	while (end > x->m[slot].off && (unsigned char)x->s[end - 1] <= ' ')
		end--;
	x->m[slot].len = end - x->m[slot].off;
}

static void
api_members_index(struct api_members *x, const char *s, size_t len,
    int first)
{
	size_t	i, j;
	int	depth = 0, member = -1, key = 0, open = -1, slot, nul;

	x->s = s;
	x->len = len;
	x->first = first;
	x->nul_key = 0;
	for (i = 0; i < len; i++) {
		slot = member - first;
		switch (s[i]) {
		case '"':
			i = api_json_string_end(s, len, i, &nul);
			if (depth == 1 && key) {
				member++;
				key = 0;
				x->nul_key |= nul;
				slot = member - first;
				if (slot >= 0 && slot < API_MEMBERS_MAX) {
					x->m[slot].off = x->m[slot].len = 0;
					x->m[slot].nul = nul ? API_NUL_KEY : 0;
				}
			} else if (depth == 1 && nul && slot >= 0 &&
			    slot < API_MEMBERS_MAX)
				x->m[slot].nul |= API_NUL_VALUE;
			break;
		case ':':
			if (depth == 1 && slot >= 0 && slot < API_MEMBERS_MAX) {
				j = i + 1;
				while (j < len && (unsigned char)s[j] <= ' ')
					j++;
				x->m[slot].off = j;
				open = slot;
			}
			break;
		case '{':
		case '[':
			if (++depth == 1)
				key = 1;
			break;
		case '}':
		case ']':
			if (depth-- == 1 && open >= 0) {
				api_members_close(x, open, i);
				open = -1;
			}
			break;
		case ',':
			if (depth == 1) {
				if (open >= 0) {
					api_members_close(x, open, i);
					open = -1;
				}
				key = 1;
			}
			break;
		}
	}
	x->total = member + 1;
	x->n = x->total - first;
	if (x->n < 0)
		x->n = 0;
	if (x->n > API_MEMBERS_MAX)
		x->n = API_MEMBERS_MAX;
}

/*
 * The raw value of member idx and its API_NUL_* flags: from x's window,
 * else from a pass for a window that starts at idx.  -1: no such member.
 */
static int
api_member(const struct api_members *x, int idx, size_t *off, size_t *vlen,
    int *nul)
{
	struct api_members	 y;

	if (idx < 0 || idx >= x->total)
		return (-1);
	if (idx < x->first || idx >= x->first + x->n) {
		api_members_index(&y, x->s, x->len, idx);
		return (api_member(&y, idx, off, vlen, nul));
	}
	idx -= x->first;
	*nul = x->m[idx].nul;
	if (x->m[idx].len == 0)
		return (-1);
	*off = x->m[idx].off;
	*vlen = x->m[idx].len;
	return (0);
}

/*
 * Parse the JSON object body of a write.  Returns NULL after answering
 * 415/400 itself.
 */
static cJSON *
api_body_object(struct client *c, struct api_members *x)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_span	*ct;
	const char		*end;
	cJSON			*j;
	size_t			 l;

	ct = http_header_find(&c->req, buf, "Content-Type");
	if (ct == NULL) {
		response_error(c, 415, "Content-Type must be application/json");
		return (NULL);
	}
	l = strcspn(buf + ct->off, ";");
	if (l > ct->len)
		l = ct->len;
	while (l > 0 && (buf[ct->off + l - 1] == ' ' ||
	    buf[ct->off + l - 1] == '\t'))
		l--;
	if (l != strlen("application/json") ||
	    strncasecmp(buf + ct->off, "application/json", l) != 0) {
		response_error(c, 415, "Content-Type must be application/json");
		return (NULL);
	}
	if (BUF_LEN(&c->body) == 0) {
		response_error(c, 400, "invalid body: a JSON object is required");
		return (NULL);
	}
	/* The body buffer is NUL-terminated; a NUL inside is not JSON. */
	end = NULL;
	j = memchr(BUF_PTR(&c->body), '\0', BUF_LEN(&c->body)) != NULL ?
	    NULL : cJSON_ParseWithOpts(BUF_PTR(&c->body), &end, 0);
	if (j != NULL) {
		while (*end == ' ' || *end == '\t' || *end == '\r' ||
		    *end == '\n')
			end++;
		if (*end != '\0') {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	if (j == NULL) {
		response_error(c, 400, "invalid body: not valid JSON");
		return (NULL);
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		response_error(c, 400, "invalid body: a JSON object is required");
		return (NULL);
	}
	/* cJSON would cut "pxcode\u0000x" to "pxcode": refuse it. */
	api_members_index(x, BUF_PTR(&c->body), BUF_LEN(&c->body), 0);
	if (x->nul_key) {
		cJSON_Delete(j);
		response_error(c, 400, "invalid body: a member name contains "
		    "U+0000 (NUL)");
		return (NULL);
	}
	return (j);
}


/* ------------------------------------------------------ representations */

/*
 * jsonb's text form spaces its members ("a": 1, "b": 2): drop whitespace
 * outside strings, as jsonify writes.
 */
static void
api_json_compact(struct buf *b, const char *v, size_t l)
{
	size_t	i, start = 0;
	int	instr = 0;

	for (i = 0; i < l; i++) {
		if (instr) {
			if (v[i] == '\\')
				i++;
			else if (v[i] == '"')
				instr = 0;
			continue;
		}
		if (v[i] == '"')
			instr = 1;
		else if (v[i] == ' ' || v[i] == '\n' || v[i] == '\t' ||
		    v[i] == '\r') {
			buf_append(b, v + start, i - start);
			start = i + 1;
		}
	}
	buf_append(b, v + start, l - start);
}

/*
 * One column's value as JSON, from its text form (the session's output
 * settings are fixed by db.c: ISO dates, UTC, shortest exact floats):
 * integers, numeric and floats as JSON numbers with the database's exact
 * digits (numeric and bigint are never squeezed through a double; a
 * client that reads them as doubles rounds them itself), NaN and the
 * infinities as strings (JSON has no such number), booleans, dates as
 * "YYYY-MM-DD", timestamps as ISO 8601 ("2026-01-31T12:00:00", with "Z"
 * for timestamptz), json and jsonb embedded as they are, everything
 * else as a string.
 */
static void
api_value(struct buf *b, const struct res_column *col, PGresult *res,
    int row, int f)
{
	const char	*v;
	size_t		 l;
	char		 ts[128];

	if (PQgetisnull(res, row, f)) {
		buf_appendstr(b, "null");
		return;
	}
	v = PQgetvalue(res, row, f);
	l = (size_t)PQgetlength(res, row, f);
	switch (col->type) {
	case COL_INT2:
	case COL_INT4:
	case COL_INT8:
		buf_append(b, v, l);
		return;
	case COL_NUMERIC:
	case COL_FLOAT4:
	case COL_FLOAT8:
		if ((v[0] >= '0' && v[0] <= '9') ||
		    (v[0] == '-' && v[1] >= '0' && v[1] <= '9'))
			buf_append(b, v, l);
		else
			json_string(b, v, l);	/* NaN, Infinity */
		return;
	case COL_BOOL:
		buf_appendstr(b, v[0] == 't' ? "true" : "false");
		return;
	case COL_JSON:
		buf_append(b, v, l);	/* the text as it was stored */
		return;
	case COL_JSONB:
		api_json_compact(b, v, l);
		return;
	case COL_TIMESTAMP:
	case COL_TIMESTAMPTZ:
		/* "2026-01-31 12:00:00+00" -> "2026-01-31T12:00:00Z" */
		if (l < sizeof(ts) && l > 10 && v[10] == ' ' &&
		    v[0] >= '0' && v[0] <= '9') {
			memcpy(ts, v, l);
			ts[l] = '\0';
			ts[10] = 'T';
			if (col->type == COL_TIMESTAMPTZ && l > 3 &&
			    strcmp(ts + l - 3, "+00") == 0)
				strlcpy(ts + l - 3, "Z", sizeof(ts) - (l - 3));
			json_string(b, ts, strlen(ts));
			return;
		}
		json_string(b, v, l);
		return;
	default:
		json_string(b, v, l);
		return;
	}
}

/*
 * The item document of row of res, whose select list starts at field
 * first: keys sorted (as Flask's jsonify), "url" among them.
 */
static void
api_item_json_shown(struct client *c, struct buf *b, PGresult *res, int row,
    int first, const unsigned char *show)
{
	struct resource		*r = RES(c);
	struct buf		 url;
	int			 i, k, f, n = 0;

	buf_append(b, "{", 1);
	for (i = 0; i < r->nexposed; i++) {
		k = r->exposed[i];
		if (k >= 0 && show != NULL && !show[k])
			continue;
		if (n++ > 0)
			buf_append(b, ",", 1);
		if (k == -1) {
			buf_appendstr(b, "\"url\":");
			buf_init(&url, 4096);
			f = first + r->selpos[r->key];
			api_item_url(c, &url, PQgetvalue(res, row, f));
			json_string(b, BUF_PTR(&url), BUF_LEN(&url));
			buf_free(&url);
			continue;
		}
		json_string(b, r->cols[k].name, strlen(r->cols[k].name));
		buf_append(b, ":", 1);
		api_value(b, &r->cols[k], res, row, first + r->selpos[k]);
	}
	buf_append(b, "}", 1);
}

static void
api_item_json(struct client *c, struct buf *b, PGresult *res, int row,
    int first)
{
	api_item_json_shown(c, b, res, row, first, NULL);
}

/* The item document and its ETag, for row 0 of res. */
static void
api_item_doc(struct client *c, PGresult *res, struct buf *b, char *etag,
    size_t etaglen)
{
	api_item_json(c, b, res, 0, 0);
	buf_append(b, "\n", 1);
	etag_compute(BUF_PTR(b), BUF_LEN(b), etag, etaglen);
}

/* ------------------------------------------------------------- input */

static int
api_is_digits(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return (0);
	return (1);
}

/* An ISO 8601 date: YYYY-MM-DD, a real day. */
static int
api_date_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	y, m, d, i;

	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : s[i] < '0' || s[i] > '9')
			return (0);
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return (0);
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0)))
		return (0);
	return (1);
}

/*
 * An ISO 8601 timestamp: a date, T or a space, hh:mm[:ss[.frac]], then
 * for timestamptz an optional Z or +hh[:mm] (without one, UTC: the
 * session's zone).  A plain timestamp takes no zone.  1: it is; 0: it is
 * not; -1: it is, with a non-zero fractional digit past the digits the
 * column keeps, which PostgreSQL would round away.
 */
static int
api_timestamp_ok(const char *s, int tz, int digits)
{
	const char	*p;
	int		 i, ok = 1;

	if (strlen(s) < 16 || !api_date_ok(s) || (s[10] != 'T' &&
	    s[10] != ' '))
		return (0);
	p = s + 11;
	for (i = 0; i < 5; i++)
		if (i == 2 ? p[i] != ':' : p[i] < '0' || p[i] > '9')
			return (0);
	if (atoi(p) > 23 || atoi(p + 3) > 59)
		return (0);
	p += 5;
	if (*p == ':') {
		if (p[1] < '0' || p[1] > '5' || p[2] < '0' || p[2] > '9')
			return (0);
		p += 3;
		if (*p == '.') {
			if (p[1] < '0' || p[1] > '9')
				return (0);
			/* past digits PostgreSQL rounds: only zeros there */
			for (p++, i = 0; *p >= '0' && *p <= '9'; p++, i++)
				if (i >= digits && *p != '0')
					ok = -1;
		}
	}
	if (*p == '\0')
		return (ok);
	if (!tz)
		return (0);
	if (*p == 'Z')
		return (p[1] == '\0' ? ok : 0);
	/* PostgreSQL takes offsets up to 15:59 */
	if ((*p != '+' && *p != '-') || p[1] < '0' || p[1] > '1' ||
	    p[2] < '0' || p[2] > '9' || (p[1] == '1' && p[2] > '5'))
		return (0);
	p += 3;
	if (*p == ':')
		p++;
	if (*p == '\0')
		return (ok);
	return (p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] == '\0' ? ok : 0);
}

static int
api_uuid_ok(const char *s)
{
	int	i;

	if (strlen(s) != 36)
		return (0);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return (0);
	}
	return (1);
}

/*
 * An integer of the column's width, as text: -1 if it is not one.  Digits
 * only (JSON allows no leading '+' nor zeros), no fraction or exponent.
 */
static int
api_int_ok(const char *s, enum col_type t)
{
	const char	*errstr;
	long long	 lo = t == COL_INT2 ? -32768 : t == COL_INT4 ?
			    -2147483648LL : LLONG_MIN;
	long long	 hi = t == COL_INT2 ? 32767 : t == COL_INT4 ?
			    2147483647LL : LLONG_MAX;

	if (!api_is_digits(s[0] == '-' ? s + 1 : s))
		return (0);
	(void)strtonum(s, lo, hi, &errstr);
	return (errstr == NULL);
}

/*
 * A decimal number (JSON's form) as its significant digits, without
 * leading or trailing zeros (n of them, the first API_DEC_DIGITS kept in
 * dig), and the power of ten of the last of them: two numbers are equal
 * when these are.  n is 0 for zero.
 */
#define API_DEC_DIGITS	40

struct api_decimal {
	int	 neg;
	long	 n;
	char	 dig[API_DEC_DIGITS];
	long	 exp;
};

static void
api_decimal(const char *s, struct api_decimal *d)
{
	long	pos = 0, e = 0, zeros = 0;
	int	point = 0;

	d->neg = *s == '-';
	if (*s == '-')
		s++;
	d->n = 0;
	for (;; s++) {
		if (*s == '.' && !point) {
			point = 1;
			continue;
		}
		if (*s < '0' || *s > '9')
			break;
		if (point)
			pos--;
		if (*s == '0') {
			if (d->n > 0)
				zeros++;
			continue;
		}
		/* the zeros between two digits are digits */
		for (; zeros > 0; zeros--, d->n++)
			if (d->n < API_DEC_DIGITS)
				d->dig[d->n] = '0';
		if (d->n < API_DEC_DIGITS)
			d->dig[d->n] = *s;
		d->n++;
	}
	/*
	 * Not atoi, which wraps (1e4294967297 read as 1e1): strtol clamps,
	 * and the clamp keeps the sums in range.
	 */
	if (*s == 'e' || *s == 'E') {
		e = strtol(s + 1, NULL, 10);
		if (e > 100000)
			e = 100000;
		else if (e < -100000)
			e = -100000;
	}
	/* zeros counts the trailing ones, past the last digit kept */
	d->exp = pos + zeros + e;
	if (d->n == 0)
		d->neg = 0, d->exp = 0;
}

/*
 * numeric(p,s): at most p - s digits before the point (API_NUM_INT), and
 * none that is not zero past s after it (API_NUM_SCALE).
 */
#define API_NUM_OK	0
#define API_NUM_INT	1
#define API_NUM_SCALE	2

static int
api_numeric_fits(const char *s, const struct res_column *col)
{
	struct api_decimal	d;

	if (col->precision < 0)
		return (API_NUM_OK);
	api_decimal(s, &d);
	if (d.n == 0)
		return (API_NUM_OK);
	/* the first digit's power of ten, plus one: digits before the point */
	if (d.exp + d.n > (long)col->precision - col->scale)
		return (API_NUM_INT);
	/* Past 10^-scale PostgreSQL rounds: 1.005 would read back 1.01. */
	if (d.exp < -(long)col->scale)
		return (API_NUM_SCALE);
	return (API_NUM_OK);
}

/*
 * Does real (float4) or double precision hold the number s exactly, as
 * PostgreSQL will print it (the shortest text that reads back the same
 * binary value)?  API_FLT_OK; API_FLT_RANGE: PostgreSQL refuses it (too
 * large, or too small but not zero); API_FLT_INEXACT: it would be stored
 * as the nearest value, *back (BACKLEN) the text it would read back as.
 */
#define API_FLT_OK	0
#define API_FLT_RANGE	1
#define API_FLT_INEXACT	2
#define API_FLT_BACKLEN	32

static int
api_float_exact(const char *s, int single, char *back)
{
	struct api_decimal	a, b;
	double			v, w;
	int			prec;

	errno = 0;
	v = single ? (double)strtof(s, NULL) : strtod(s, NULL);
	if (errno == ERANGE && (v == 0 || isinf(v)))
		return (API_FLT_RANGE);
	for (prec = 1; prec <= 17; prec++) {
		snprintf(back, API_FLT_BACKLEN, "%.*g", prec, v);
		w = single ? (double)strtof(back, NULL) : strtod(back, NULL);
		if (w == v)
			break;
	}
	api_decimal(s, &a);
	api_decimal(back, &b);
	if (a.n > API_DEC_DIGITS || a.neg != b.neg || a.n != b.n ||
	    a.exp != b.exp || memcmp(a.dig, b.dig, (size_t)a.n) != 0)
		return (API_FLT_INEXACT);
	return (API_FLT_OK);
}

/*
 * Check member f (top-level index idx) against column col and give its
 * parameter text in *out (NULL for JSON null; malloc'd when *owned).
 * Returns -1 after answering 400 naming the field.
 */
static int
api_check_value(struct client *c, const struct res_column *col, cJSON *f,
    const struct api_members *x, int idx, int iskey, char **out, int *owned)
{
	const char	*name = col->name, *v;
	char		*t;
	size_t		 off, len;
	long		 n;
	int		 nul = 0;

	*out = NULL;
	*owned = 0;
	if (cJSON_IsNull(f)) {
		/* required: given, and with a value (the original's rule). */
		if (col->notnull || col->required || iskey) {
			response_error(c, 400, "invalid %s: it must not be "
			    "null", name);
			return (-1);
		}
		return (0);
	}
	switch (col->type) {
	case COL_INT2:
	case COL_INT4:
	case COL_INT8:
	case COL_NUMERIC:
	case COL_FLOAT4:
	case COL_FLOAT8:
		if (!cJSON_IsNumber(f) || api_member(x, idx, &off, &len,
		    &nul) == -1) {
			response_error(c, 400, "invalid %s: it must be a "
			    "number", name);
			return (-1);
		}
		if ((t = strndup(BUF_PTR(&c->body) + off, len)) == NULL) {
			response_error(c, 500, "out of memory");
			return (-1);
		}
		*out = t;
		*owned = 1;
		if (col->type <= COL_INT8 && !api_int_ok(t, col->type)) {
			response_error(c, 400, "invalid %s: it must be an "
			    "integer that fits a %s", name,
			    col_type_name(col->type));
			return (-1);
		}
		if (col->type == COL_FLOAT4 || col->type == COL_FLOAT8) {
			char	back[API_FLT_BACKLEN];

			switch (api_float_exact(t, col->type == COL_FLOAT4,
			    back)) {
			case API_FLT_RANGE:
				response_error(c, 400, "invalid %s: out of "
				    "range for %s", name,
				    col_type_name(col->type));
				return (-1);
			case API_FLT_INEXACT:
				response_error(c, 400, "invalid %s: a %s "
				    "cannot hold it exactly (it would read "
				    "back as %s)", name,
				    col_type_name(col->type), back);
				return (-1);
			}
		}
		switch (col->type == COL_NUMERIC ? api_numeric_fits(t, col) :
		    API_NUM_OK) {
		case API_NUM_INT:
			response_error(c, 400, "invalid %s: it must have at "
			    "most %d digits before the point", name,
			    col->precision - col->scale);
			return (-1);
		case API_NUM_SCALE:
			response_error(c, 400, "invalid %s: it must have at "
			    "most %d digits after the point (it would be "
			    "rounded)", name, col->scale);
			return (-1);
		}
		return (0);
	case COL_BOOL:
		if (!cJSON_IsBool(f)) {
			response_error(c, 400, "invalid %s: it must be true "
			    "or false", name);
			return (-1);
		}
		*out = cJSON_IsTrue(f) ? "true" : "false";
		return (0);
	case COL_JSON:
	case COL_JSONB:
		if (api_member(x, idx, &off, &len, &nul) == -1 ||
		    (t = strndup(BUF_PTR(&c->body) + off, len)) == NULL) {
			response_error(c, 400, "invalid %s: not JSON", name);
			return (-1);
		}
		if (col->type == COL_JSONB && api_json_any_nul(t, len)) {
			free(t);
			response_error(c, 400, "invalid %s: jsonb cannot hold "
			    "U+0000 (\\u0000)", name);
			return (-1);
		}
		*out = t;
		*owned = 1;
		return (0);
	default:
		break;
	}
	if (!cJSON_IsString(f) || f->valuestring == NULL) {
		response_error(c, 400, "invalid %s: it must be a string", name);
		return (-1);
	}
	(void)api_member(x, idx, &off, &len, &nul);
	if (nul & API_NUL_VALUE) {
		response_error(c, 400, "invalid %s: it must not contain "
		    "U+0000 (NUL), which PostgreSQL text cannot hold", name);
		return (-1);
	}
	v = f->valuestring;
	switch (col->type) {
	case COL_DATE:
		if (strlen(v) != 10 || !api_date_ok(v)) {
			response_error(c, 400, "invalid %s: it must be a date "
			    "(YYYY-MM-DD)", name);
			return (-1);
		}
		break;
	case COL_TIMESTAMP:
	case COL_TIMESTAMPTZ:
		switch (api_timestamp_ok(v, col->type == COL_TIMESTAMPTZ,
		    col->scale >= 0 ? col->scale : 6)) {
		case 0:
			response_error(c, 400, "invalid %s: it must be an ISO "
			    "8601 timestamp (YYYY-MM-DDThh:mm[:ss[.frac]]%s)",
			    name, col->type == COL_TIMESTAMPTZ ?
			    "[Z|+hh:mm]" : "");
			return (-1);
		case -1:
			response_error(c, 400, "invalid %s: it must have at "
			    "most %d fractional digits of a second (it would "
			    "be rounded)", name, col->scale >= 0 ? col->scale :
			    6);
			return (-1);
		}
		break;
	case COL_UUID:
		if (!api_uuid_ok(v)) {
			response_error(c, 400, "invalid %s: it must be a UUID",
			    name);
			return (-1);
		}
		break;
	default:
		/*
		 * Text is stored exactly as sent, or refused, never cut:
		 * valid UTF-8, and the key (a segment of the item URL)
		 * without control characters.
		 */
		n = api_charcount(v, !iskey);
		if (n == -1) {
			response_error(c, 400, "invalid %s: it must be valid "
			    "UTF-8 (no surrogates)", name);
			return (-1);
		}
		if (n == -2) {
			response_error(c, 400, "invalid %s: it must not "
			    "contain control characters (it is a segment of "
			    "the item URL)", name);
			return (-1);
		}
		if ((col->maxlen >= 0 && n > col->maxlen) ||
		    (n == 0 && iskey)) {
			if (iskey && col->maxlen >= 0)
				response_error(c, 400, "invalid %s: it must be "
				    "1 to %d characters", name, col->maxlen);
			else if (iskey)
				response_error(c, 400, "invalid %s: it must "
				    "not be empty", name);
			else
				response_error(c, 400, "invalid %s: it must be "
				    "at most %d characters", name, col->maxlen);
			return (-1);
		}
		break;
	}
	*out = (char *)v;
	return (0);
}

/* What a write needs across its (at most two) round trips. */
struct write_ctx {
	enum http_method	 method;
	char			*key;		/* from the URL */
	char			*sql;		/* the write, without CAS */
	char			*sql_cas;	/* with "AND row = $n" */
	int			 nparams;	/* without the CAS one */
	char			*params[RES_MAX_COLS + 2];
	int			 create;	/* PUT + If-None-Match: * */
	int			 cas;
};

static void
write_ctx_free(struct write_ctx *w)
{
	int	i;

	if (w == NULL)
		return;
	free(w->key);
	free(w->sql);
	free(w->sql_cas);
	for (i = 0; i < RES_MAX_COLS + 2; i++)
		free(w->params[i]);
	free(w);
}

/*
 * Read the members of a write's body into w->params, checked against the
 * catalog: each must be an exposed, writable column, given once, of the
 * column's type; on POST and PUT the required ones must be there.  set[i]
 * says whether column i was given.  -1 after answering 400.
 */
static int
api_read_body(struct client *c, cJSON *j, const struct api_members *x,
    struct write_ctx *w, int *set, int first_param)
{
	struct resource		*r = RES(c);
	const struct res_column	*col;
	cJSON			*f, *given[RES_MAX_COLS], *unknown = NULL;
	char			*v;
	int			 gidx[RES_MAX_COLS], twice[RES_MAX_COLS];
	int			 i, idx, owned, k = first_param;

	/*
	 * One pass over the members: which column each names (the first
	 * time), which are named twice, the first that names none.  The
	 * problems are then told in the columns' order, unknown ones last.
	 */
	for (i = 0; i < r->ncols; i++) {
		given[i] = NULL;
		twice[i] = 0;
	}
	for (f = j->child, idx = 0; f != NULL; f = f->next, idx++) {
		for (i = 0; i < r->ncols; i++)
			if (r->cols[i].exposed && f->string != NULL &&
			    strcmp(f->string, r->cols[i].name) == 0)
				break;
		if (i == r->ncols) {
			if (unknown == NULL)
				unknown = f;
		} else if (given[i] != NULL)
			twice[i] = 1;
		else {
			given[i] = f;
			gidx[i] = idx;
		}
	}
	for (i = 0; i < r->ncols; i++) {
		col = &r->cols[i];
		set[i] = 0;
		if (!col->exposed)
			continue;
		if ((f = given[i]) == NULL) {
			if (col->required && (w->method == HTTP_M_POST ||
			    (w->method == HTTP_M_PUT && i != r->key))) {
				response_error(c, 400, "invalid body: %s is "
				    "missing", col->name);
				return (-1);
			}
			continue;
		}
		if (twice[i]) {
			response_error(c, 400, "invalid body: %s is given "
			    "more than once", col->name);
			return (-1);
		}
		if (col->read_only) {
			response_error(c, 400, "invalid %s: it is %s", col->name,
			    col->generated ? "generated by the database" :
			    "read-only");
			return (-1);
		}
		if (api_check_value(c, col, f, x, gidx[i], i == r->key, &v,
		    &owned) == -1) {
			if (owned)
				free(v);
			return (-1);
		}
		if (w->method == HTTP_M_PUT && i == r->key) {
			/* The URL names the item: the body may repeat it. */
			if (v == NULL || strcmp(v, w->key) != 0) {
				if (owned)
					free(v);
				response_error(c, 400, "invalid %s: the URL "
				    "names the item (%s)", col->name, w->key);
				return (-1);
			}
			if (owned)
				free(v);
			continue;
		}
		if (v != NULL && !owned && (v = strdup(v)) == NULL) {
			response_error(c, 500, "out of memory");
			return (-1);
		}
		w->params[k++] = v;
		w->nparams = k;
		set[i] = 1;
	}
	/*
	 * Anything else is a mistake to say, not to ignore, unless the
	 * declaration keeps the original's leniency (unknown_fields =
	 * ignore: Flask read only the members it knew).
	 */
	if (unknown != NULL && !r->decl.ignore_unknown) {
		response_error(c, 400, "invalid body: unknown field %s",
		    unknown->string != NULL ? unknown->string : "");
		return (-1);
	}
	return (0);
}

/*
 * Is the URL's key a value of the key column's type?  A key that cannot
 * exist is simply not found (404), as the original answers for a code
 * too long to be stored.
 */
static int
api_key_ok(struct resource *r, const char *key)
{
	const struct res_column	*col = &r->cols[r->key];
	long			 n;

	switch (col->type) {
	case COL_INT2:
	case COL_INT4:
	case COL_INT8:
		return (api_int_ok(key, col->type));
	case COL_UUID:
		return (api_uuid_ok(key));
	case COL_DATE:
		return (strlen(key) == 10 && api_date_ok(key));
	case COL_TEXT:
	case COL_VARCHAR:
	case COL_CHAR:
		n = api_charcount(key, 0);
		return (n > 0 && (col->maxlen < 0 || n <= col->maxlen));
	default:
		return (1);
	}
}

/* ---------------------------------------------------------- collection */

static void
api_page_link(struct client *c, struct buf *b, long long per_page,
    long long page)
{
	struct buf	l;

	buf_init(&l, 4096);
	api_link_base(c, &l);
	buf_appendf(&l, "%s?per_page=%lld&page=%lld", c->route->path, per_page,
	    page);
	json_string(b, BUF_PTR(&l), BUF_LEN(&l));
	buf_free(&l);
}

/*
 * One RFC 8288 link of a collection's Link header: <base path?query>;
 * rel="rel", the links separated by ", ".
 */
static void
api_link(struct client *c, struct buf *h, const char *rel, const char *query,
    size_t qlen, const char *more)
{
	if (BUF_LEN(h) == 0)
		buf_appendstr(h, "Link: ");
	else
		buf_appendstr(h, ", ");
	buf_append(h, "<", 1);
	api_link_base(c, h);
	buf_appendstr(h, c->route->path);
	buf_append(h, "?", 1);
	buf_append(h, query, qlen);
	if (more != NULL)
		buf_appendstr(h, more);
	buf_appendf(h, ">; rel=\"%s\"", rel);
}

/* The seed's paging, as Link: first, prev, next, last. */
static void
api_page_links(struct client *c, struct buf *h, long long per_page,
    long long page, long long pages)
{
	char	q[64];

#define PL(rel, n) do {							\
	snprintf(q, sizeof(q), "per_page=%lld&page=%lld", per_page,	\
	    (long long)(n));						\
	api_link(c, h, rel, q, strlen(q), NULL);			\
} while (0)
	PL("first", 1);
	if (page > 1)
		PL("prev", page - 1);
	if (page < pages)
		PL("next", page + 1);
	PL("last", pages);
#undef PL
	buf_appendstr(h, "\r\n");
}

static void
api_page_cb(struct client *c, PGresult *res, void *arg)
{
	struct get_ctx	*pa = arg;
	struct resource	*r;
	struct buf	 b;
	long long	 total, pages;
	int		 i, n, first = 1;

	if (c == NULL || api_get_failed(c, pa, res)) {
		get_ctx_free(pa);
		return;
	}
	r = RES(c);
	n = PQntuples(res);
	total = n > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	pages = (total + pa->per_page - 1) / pa->per_page;
	if (pa->page > (pages > 0 ? pages : 1)) {
		response_error(c, 404, "page %lld is past the last page (%lld)",
		    pa->page, pages);
		get_ctx_free(pa);
		return;
	}
	buf_init(&b, CLIENT_MAX_OUTPUT);
	buf_appendstr(&b, "{\"items\":[");
	for (i = 0; i < n; i++) {
		/* The empty page's one row: the key is NULL (NOT NULL). */
		if (PQgetisnull(res, i, 1 + r->selpos[r->key]))
			continue;
		if (!first)
			buf_append(&b, ",", 1);
		first = 0;
		api_item_json(c, &b, res, i, 1);
	}
	buf_appendstr(&b, "],\"meta\":{\"first\":");
	api_page_link(c, &b, pa->per_page, 1);
	buf_appendstr(&b, ",\"last\":");
	api_page_link(c, &b, pa->per_page, pages);
	buf_appendstr(&b, ",\"next\":");
	if (pa->page < pages)
		api_page_link(c, &b, pa->per_page, pa->page + 1);
	else
		buf_appendstr(&b, "null");
	buf_appendf(&b, ",\"page\":%lld,\"pages\":%lld,\"per_page\":%lld,"
	    "\"prev\":", pa->page, pages, pa->per_page);
	if (pa->page > 1)
		api_page_link(c, &b, pa->per_page, pa->page - 1);
	else
		buf_appendstr(&b, "null");
	buf_appendf(&b, ",\"total\":%lld}}\n", total);
	api_page_links(c, &pa->hdrs, pa->per_page, pa->page, pages);
	api_answer_fresh(c, pa, &b);
	buf_free(&b);
	get_ctx_free(pa);
}

/* page / per_page: absent -> default; otherwise a positive integer. */
static int
api_query_int(struct client *c, const char *name, long long def,
    long long max, long long *out)
{
	const char	*buf = BUF_PTR(&c->in);
	const char	*errstr;
	char		 v[32];
	int		 rv;

	rv = http_query_get(buf + c->req.query.off, c->req.query.len, name, v,
	    sizeof(v));
	if (rv == -1) {
		*out = def;
		return (0);
	}
	if (rv >= 0)
		*out = strtonum(v, 1, max, &errstr);
	if (rv < 0 || errstr != NULL) {
		response_error(c, 400, "%s must be a positive integer", name);
		return (-1);
	}
	return (0);
}

/*
 * The resource must be bound before anything is checked against its
 * columns: 1 when the request waits for that (resumed at fn), or was
 * answered.
 */
static int
api_unbound(struct client *c, void (*fn)(struct client *))
{
	switch (resource_wait(c, fn)) {
	case 0:
		return (0);
	case 1:
		return (1);
	case -2:
		response_header(c, "Retry-After: 10");
		response_error(c, 503, "the resource %s is not available: its "
		    "table does not match its declaration (see the log)",
		    RES(c)->decl.name);
		return (1);
	default:
		response_unavailable(c, db_retry_after());
		return (1);
	}
}

/*
 * The declared access of this method, beyond the authentication the
 * router asked for: a group's members only.  0: go on; 1: answered, or
 * waiting for the membership (the loop resumes fn with its answer in
 * c->auth_result).
 */
static int
api_access(struct client *c, void (*fn)(struct client *))
{
	const struct res_decl	*d = &RES(c)->decl;
	int			 write, rv;
	const char		*group;

	write = c->req.method != HTTP_M_GET && c->req.method != HTTP_M_HEAD;
	if ((write ? d->write : d->read) != RES_ACCESS_GROUP)
		return (0);
	group = write ? d->write_group : d->read_group;
	if (c->auth_result != AUTH_PENDING) {
		rv = c->auth_result;		/* resumed: the answer */
		c->auth_result = AUTH_PENDING;
	} else if ((rv = groups_check(c, group)) == AUTH_PENDING) {
		c->resume = fn;
		return (1);
	}
	switch (rv) {
	case AUTH_OK:
		return (0);
	case AUTH_UNAVAILABLE:
		response_unavailable(c, db_retry_after());
		return (1);
	default:
		response_error(c, 403, "%s is reserved to the group %s",
		    write ? "writing" : "reading", group);
		return (1);
	}
}

/* ------------------------------------------------------- query language */

/*
 * A collection with the query language (query.c): the count (unless
 * none) and the page go in one batch; the count's answer comes first.
 */
struct qctx {
	struct get_ctx	*g;
	long long	 total;		/* -1: not counted */
	int		 count_failed;
	int		 pending;	/* callbacks still to come */
	unsigned char	 key[16];	/* the cursor key */
	struct query	 q;		/* last: query_parse() sets it up */
};

static void
qctx_unref(struct qctx *x)
{
	if (--x->pending > 0)
		return;
	get_ctx_free(x->g);
	query_free(&x->q);
	free(x);
}

static void
api_count_cb(struct client *c, PGresult *res, void *arg)
{
	struct qctx	*x = arg;

	if (db_result_lsn() < x->g->data_lsn)
		x->g->data_lsn = db_result_lsn();
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		x->count_failed = 1;
		if (res != NULL && PQresultStatus(res) != PGRES_TUPLES_OK)
			log_warnx("count: %s", PQresultErrorMessage(res));
	} else {
		x->total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		if (x->total < 0)
			x->total = 0;
		/* What count = auto decides by, learnt as it goes. */
		if (c != NULL && x->q.nfilters == 0 && x->q.search == NULL)
			RES(c)->approx_rows = x->total;
	}
	qctx_unref(x);
}

static const char *
api_count_name(enum query_count m)
{
	return (m == QCOUNT_ESTIMATED ? "estimated" : m == QCOUNT_NONE ?
	    "none" : "exact");
}

/* An absolute link to the collection with the query's canonical form. */
static void
api_qlink_json(struct client *c, struct qctx *x, struct buf *b,
    const char *more)
{
	struct buf	u;

	buf_init(&u, 8192);
	api_link_base(c, &u);
	buf_appendf(&u, "%s?%.*s%s", c->route->path, (int)x->q.canon_link,
	    x->q.canon, more != NULL ? more : "");
	json_string(b, BUF_PTR(&u), BUF_LEN(&u));
	buf_free(&u);
}

/* A keyset neighbour: a cursor from row, in Link and (json) in meta. */
static void
api_cursor_link(struct client *c, struct qctx *x, struct buf *h,
    const char *rel, PGresult *res, int row, int flags, struct buf *json)
{
	struct resource	*r = RES(c);
	char		 tok[QUERY_CURSOR_MAX + 1], more[QUERY_CURSOR_MAX + 16];
	int		 rv;

	/* row -1: from where this page's own cursor stood */
	rv = row < 0 ? query_cursor_here(r, &x->q, flags, x->key,
	    sizeof(x->key), tok, sizeof(tok)) : query_cursor(r, &x->q, res,
	    row, 0, flags, x->key, sizeof(x->key), tok, sizeof(tok));
	if (rv == -1) {
		buf_appendstr(json, "null");	/* too long to carry */
		return;
	}
	snprintf(more, sizeof(more), "&cursor=%s", tok);
	api_link(c, h, rel, x->q.canon, x->q.canon_link, more);
	api_qlink_json(c, x, json, more);
}

static void
api_qpage_cb(struct client *c, PGresult *res, void *arg)
{
	struct qctx		*x = arg;
	struct resource		*r;
	struct query		*q = &x->q;
	struct buf		 b, *h;
	unsigned char		 show[RES_MAX_COLS];
	long long		 per = q->per_page, pages = 0;
	char			 more[64];
	int			 i, n, shown, has_more, has_next, has_prev;
	int			 row, first_row, last_row;

	if (c == NULL || api_get_failed(c, x->g, res)) {
		qctx_unref(x);
		return;
	}
	if (x->count_failed && q->count != QCOUNT_NONE) {
		response_unavailable(c, db_retry_after());
		qctx_unref(x);
		return;
	}
	r = RES(c);
	h = &x->g->hdrs;
	memset(show, q->nfields == 0, sizeof(show));
	for (i = 0; i < q->nfields; i++)
		show[q->fields[i]] = 1;
	show[r->key] = 1;
	n = PQntuples(res);
	buf_init(&b, CLIENT_MAX_OUTPUT);
	buf_appendstr(&b, "{\"items\":[");
	if (q->keyset) {
		has_more = n > per;
		shown = has_more ? (int)per : n;
		for (i = 0; i < shown; i++) {
			/* backward: the rows came nearest the cursor first */
			row = q->backward ? shown - 1 - i : i;
			if (i > 0)
				buf_append(&b, ",", 1);
			api_item_json_shown(c, &b, res, row, 0, show);
		}
		has_next = q->backward ? shown > 0 : has_more;
		has_prev = q->backward ? has_more : q->cursor[0] != '\0' &&
		    shown > 0;
		first_row = q->backward ? shown - 1 : 0;
		last_row = q->backward ? 0 : shown - 1;
		buf_appendstr(&b, "],\"meta\":{");
		if (q->count != QCOUNT_EXACT)
			buf_appendf(&b, "\"count\":\"%s\",",
			    api_count_name(q->count));
		buf_appendstr(&b, "\"first\":");
		api_qlink_json(c, x, &b, NULL);
		api_link(c, h, "first", q->canon, q->canon_link, NULL);
		/*
		 * A page that came out empty (its rows deleted since the
		 * cursor was made) still leads back the way it came: from
		 * the cursor's own position, its row included.
		 */
		buf_appendstr(&b, ",\"next\":");
		if (has_next)
			api_cursor_link(c, x, h, "next", res, last_row, 0, &b);
		else if (q->backward && shown == 0)
			api_cursor_link(c, x, h, "next", NULL, -1,
			    QUERY_CUR_INCL, &b);
		else
			buf_appendstr(&b, "null");
		buf_appendf(&b, ",\"per_page\":%lld,\"prev\":", per);
		if (has_prev)
			api_cursor_link(c, x, h, "prev", res, first_row,
			    QUERY_CUR_BACK, &b);
		else if (!q->backward && shown == 0 && q->cursor[0] != '\0')
			api_cursor_link(c, x, h, "prev", NULL, -1,
			    QUERY_CUR_BACK | QUERY_CUR_INCL, &b);
		else
			buf_appendstr(&b, "null");
	} else {
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_append(&b, ",", 1);
			api_item_json_shown(c, &b, res, i, 0, show);
		}
		if (x->total >= 0)
			pages = (x->total + per - 1) / per;
		if (x->total >= 0 && q->page > (pages > 0 ? pages : 1)) {
			buf_free(&b);
			response_error(c, 404, "page %lld is past the last "
			    "page (%lld)", q->page, pages);
			qctx_unref(x);
			return;
		}
		buf_appendstr(&b, "],\"meta\":{");
		if (q->count != QCOUNT_EXACT)
			buf_appendf(&b, "\"count\":\"%s\",",
			    api_count_name(q->count));
		buf_appendstr(&b, "\"first\":");
		api_qlink_json(c, x, &b, "&page=1");
		api_link(c, h, "first", q->canon, q->canon_link, "&page=1");
		buf_appendstr(&b, ",\"last\":");
		if (x->total >= 0) {
			snprintf(more, sizeof(more), "&page=%lld",
			    pages > 0 ? pages : 1);
			api_qlink_json(c, x, &b, more);
		} else
			buf_appendstr(&b, "null");
		buf_appendstr(&b, ",\"next\":");
		/* Without a total, a full page says there may be more. */
		if (x->total >= 0 ? q->page < pages : n == per) {
			snprintf(more, sizeof(more), "&page=%lld", q->page + 1);
			api_qlink_json(c, x, &b, more);
			api_link(c, h, "next", q->canon, q->canon_link, more);
		} else
			buf_appendstr(&b, "null");
		buf_appendf(&b, ",\"page\":%lld,\"pages\":", q->page);
		if (x->total >= 0)
			buf_appendf(&b, "%lld", pages);
		else
			buf_appendstr(&b, "null");
		buf_appendf(&b, ",\"per_page\":%lld,\"prev\":", per);
		if (q->page > 1) {
			snprintf(more, sizeof(more), "&page=%lld", q->page - 1);
			api_qlink_json(c, x, &b, more);
			api_link(c, h, "prev", q->canon, q->canon_link, more);
		} else
			buf_appendstr(&b, "null");
		if (x->total >= 0 && q->count == QCOUNT_EXACT) {
			snprintf(more, sizeof(more), "&page=%lld",
			    pages > 0 ? pages : 1);
			api_link(c, h, "last", q->canon, q->canon_link, more);
		}
	}
	buf_appendstr(&b, ",\"total\":");
	if (x->total >= 0)
		buf_appendf(&b, "%lld", x->total);
	else
		buf_appendstr(&b, "null");
	buf_appendstr(&b, "}}\n");
	buf_appendstr(h, "\r\n");
	if (q->count_preferred)
		buf_appendf(h, "Preference-Applied: count=%s\r\n",
		    api_count_name(q->count));
	api_answer_fresh(c, x->g, &b);
	buf_free(&b);
	qctx_unref(x);
}

static void	api_query_get(struct client *);

/* Resumed once the signing key (hence the cursor key) is loaded. */
static void
api_query_resume(struct client *c)
{
	c->auth_result = AUTH_PENDING;	/* AUTH_AGAIN: not a group answer */
	api_query_get(c);
}

static void
api_query_get(struct client *c)
{
	struct resource		*r = RES(c);
	const struct http_span	*pf;
	struct qctx		*x;
	struct buf		 sql;
	const char		*params[QUERY_MAX_PARAMS];
	const char		*buf = BUF_PTR(&c->in);
	char			 err[256];
	int			 np, rv;

	/* Not calloc: query_parse() zeroes what of q needs it. */
	if ((x = malloc(sizeof(*x))) == NULL) {
		response_error(c, 500, "out of memory");
		return;
	}
	memset(x, 0, offsetof(struct qctx, q));
	x->total = -1;
	pf = http_header_find(&c->req, buf, "Prefer");
	if (query_parse(r, buf + c->req.query.off, c->req.query.len,
	    pf != NULL ? buf + pf->off : NULL, pf != NULL ? pf->len : 0, &x->q,
	    err, sizeof(err)) == -1) {
		free(x);
		response_error(c, 400, "%s", err);
		return;
	}
	if (!x->q.count_preferred && r->decl.count_mode == RES_COUNT_AUTO)
		x->q.count = r->approx_rows >= r->decl.count_threshold ?
		    QCOUNT_ESTIMATED : QCOUNT_EXACT;
	if (x->q.keyset && token_derive("cursor", x->key, sizeof(x->key)) ==
	    -1) {
		query_free(&x->q);
		free(x);
		if ((rv = token_key_ready(c)) == 0)
			api_query_get(c);
		else if (rv == AUTH_PENDING)
			c->resume = api_query_resume;
		else
			response_unavailable(c, db_retry_after());
		return;
	}
	if (x->q.cursor[0] != '\0' && query_cursor_open(r, &x->q, x->q.cursor,
	    x->key, sizeof(x->key)) == -1) {
		query_free(&x->q);
		free(x);
		response_error(c, 400, "cursor: invalid, or from another query");
		return;
	}
	if ((x->g = get_ctx_new(c, 'Q', 0, 0)) == NULL) {
		query_free(&x->q);
		free(x);
		response_error(c, 500, "out of memory");
		return;
	}
	/* Preference-Applied is part of the bytes: the preference too. */
	buf_appendf(&x->g->key, " %s %s%s p=%lld c=%s", x->q.canon,
	    api_count_name(x->q.count), x->q.count_preferred ? " pref" : "",
	    x->q.page, x->q.cursor);
	x->pending = 1;
	if (api_need_lsn(c, x->g) == -1) {
		qctx_unref(x);
		return;
	}
	if (api_cache_answer(c, x->g, 0)) {
		qctx_unref(x);
		return;
	}
	x->g->version = cache_version(r->relname);
	if (api_cache_on(c) && api_refill_join(c, x->g,
	    api_resource_collection)) {
		qctx_unref(x);
		return;
	}
	buf_init(&sql, API_SQL_MAX * 2);
	rv = 0;
	if (x->q.count != QCOUNT_NONE) {
		np = 0;
		if (query_count_sql(r, &x->q, &sql, params, &np) == -1)
			rv = -1;
		else if ((rv = api_db_submit(c, BUF_PTR(&sql), "count",
		    api_read_flags(x->g), np, params, api_count_cb, x)) == 0)
			x->pending++;
		buf_reset(&sql);
	}
	np = 0;
	if (rv == 0 && query_sql(r, &x->q, &sql, params, &np) == -1)
		rv = -1;
	else if (rv == 0 && (rv = api_db_submit(c, BUF_PTR(&sql), "query",
	    api_read_flags(x->g), np, params, api_qpage_cb, x)) == 0)
		x->pending++;
	buf_free(&sql);
	if (rv == -1 && !api_cache_answer(c, x->g, 1))
		api_db_error(c, NULL);
	qctx_unref(x);
}

/*
 * Does the query string hold only the seed's page and per_page?  (Then
 * the seed's own path answers, as fast as it was; anything else is the
 * query language's.)
 */
static int
api_query_plain(struct client *c)
{
	const char	*p = BUF_PTR(&c->in) + c->req.query.off;
	const char	*e = p + c->req.query.len, *amp, *eq;
	size_t		 l;

	while (p < e) {
		if ((amp = memchr(p, '&', (size_t)(e - p))) == NULL)
			amp = e;
		eq = memchr(p, '=', (size_t)(amp - p));
		l = (size_t)((eq != NULL ? eq : amp) - p);
		if (l > 0 && !(l == 4 && memcmp(p, "page", 4) == 0) &&
		    !(l == 8 && memcmp(p, "per_page", 8) == 0))
			return (0);
		p = amp + 1;
	}
	return (1);
}

static void
api_collection_get(struct client *c)
{
	struct resource	*r = RES(c);
	struct get_ctx	*pa;
	char		 lim[24], off[24];
	const char	*p[2] = { lim, off };
	long long	 page, per_page;

	/*
	 * Anything beyond page/per_page, a Prefer header, or a table past
	 * its count threshold (its total is then an estimate): the query
	 * language answers.
	 */
	if (!api_query_plain(c) || http_header_find(&c->req, BUF_PTR(&c->in),
	    "Prefer") != NULL || (r->decl.count_mode != RES_COUNT_EXACT &&
	    (r->decl.count_mode == RES_COUNT_ESTIMATED ||
	    r->approx_rows >= r->decl.count_threshold))) {
		if (api_unbound(c, api_resource_collection))
			return;
		api_query_get(c);
		return;
	}
	if (api_query_int(c, "page", 1, API_MAX_PAGE, &page) == -1 ||
	    api_query_int(c, "per_page", r->decl.per_page, LLONG_MAX / 2,
	    &per_page) == -1)
		return;
	if (per_page > r->decl.max_per_page)
		per_page = r->decl.max_per_page;
	if ((pa = get_ctx_new(c, 'C', page, per_page)) == NULL) {
		response_error(c, 500, "out of memory");
		return;
	}
	if (api_need_lsn(c, pa) == -1) {
		get_ctx_free(pa);
		return;
	}
	if (api_cache_answer(c, pa, 0)) {
		get_ctx_free(pa);
		return;
	}
	if (api_unbound(c, api_resource_collection)) {
		get_ctx_free(pa);
		return;
	}
	snprintf(lim, sizeof(lim), "%lld", per_page);
	snprintf(off, sizeof(off), "%lld", (page - 1) * per_page);
	pa->version = cache_version(r->relname);
	if (api_cache_on(c) && api_refill_join(c, pa, api_resource_collection)) {
		get_ctx_free(pa);
		return;
	}
	if (api_db_submit(c, r->sql_page, "page", api_read_flags(pa), 2, p,
	    api_page_cb, pa) == -1) {
		if (!api_cache_answer(c, pa, 1))
			api_db_error(c, NULL);
		get_ctx_free(pa);
	}
}

static void
api_insert_cb(struct client *c, PGresult *res, void *arg)
{
	struct resource	*r;
	struct buf	 url;

	(void)arg;
	if (c == NULL || api_db_error(c, res))
		return;
	r = RES(c);
	if (PQntuples(res) == 0) {
		response_error(c, 409, "%s already exists",
		    r->cols[r->key].name);
		return;
	}
	api_written(c, r->relname);
	buf_init(&url, 4096);
	api_item_url(c, &url, PQgetvalue(res, 0, 0));
	response_header(c, "Location: %s", BUF_PTR(&url));
	buf_free(&url);
	response_send(c, 201, "application/json", "{}\n", 3);
}

/*
 * INSERT of the given columns (the others take their defaults).  ON
 * CONFLICT on the key: a taken key is zero rows (409), not an error that
 * would roll back the whole batch of other clients' writes (db.c).  The
 * text is r's (kept for the next write naming the same columns: written
 * anew it cost a POST of six columns a sixth of its instructions).
 * returning is the same for every call of a shape (with_key).
 */
static const char *
api_insert_sql(struct resource *r, const int *set, int with_key,
    const char *returning)
{
	struct buf	 cols, vals;
	char		*sql = NULL;
	uint64_t	 mask = 0;
	int		 i, k = with_key ? 2 : 1, rv;

	for (i = 0; i < r->ncols; i++)
		if (set[i] || (with_key && i == r->key))
			mask |= (uint64_t)1 << i;
	if (r->sql_insert[with_key].sql != NULL &&
	    r->sql_insert[with_key].cols == mask)
		return (r->sql_insert[with_key].sql);
	buf_init(&cols, API_SQL_MAX);
	buf_init(&vals, API_SQL_MAX);
	for (i = 0; i < r->ncols; i++) {
		if ((mask & ((uint64_t)1 << i)) == 0)
			continue;
		if (BUF_LEN(&cols) > 0) {
			buf_appendstr(&cols, ", ");
			buf_appendstr(&vals, ", ");
		}
		buf_appendstr(&cols, r->cols[i].qname);
		if (with_key && i == r->key)
			buf_appendstr(&vals, "$1");
		else
			buf_appendf(&vals, "$%d", k++);
	}
	if (BUF_LEN(&cols) == 0)
		rv = asprintf(&sql, "INSERT INTO %s DEFAULT VALUES%s "
		    "RETURNING %s", r->qtable, r->is_view ? "" :
		    " ON CONFLICT DO NOTHING", returning);
	else
		rv = asprintf(&sql, "INSERT INTO %s (%s) VALUES (%s)%s "
		    "RETURNING %s", r->qtable, BUF_PTR(&cols), BUF_PTR(&vals),
		    r->is_view ? "" : " ON CONFLICT DO NOTHING", returning);
	buf_free(&cols);
	buf_free(&vals);
	if (rv == -1)
		return (NULL);
	free(r->sql_insert[with_key].sql);
	r->sql_insert[with_key].sql = sql;
	r->sql_insert[with_key].cols = mask;
	return (sql);
}

static void
api_collection_post(struct client *c)
{
	struct resource		*r = RES(c);
	struct write_ctx	*w;
	struct api_members	 x;
	cJSON			*j;
	int			 set[RES_MAX_COLS];
	const char		*sql;

	if (api_unbound(c, api_resource_collection))
		return;
	if ((j = api_body_object(c, &x)) == NULL)
		return;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		cJSON_Delete(j);
		response_error(c, 500, "out of memory");
		return;
	}
	w->method = HTTP_M_POST;
	if (api_read_body(c, j, &x, w, set, 0) == -1) {
		cJSON_Delete(j);
		write_ctx_free(w);
		return;
	}
	cJSON_Delete(j);
	if ((sql = api_insert_sql(r, set, 0, r->cols[r->key].qname)) == NULL) {
		write_ctx_free(w);
		response_error(c, 500, "out of memory");
		return;
	}
	if (api_db_submit(c, sql, "insert", 1, w->nparams, (const char *const *)w->params,
	    api_insert_cb, NULL) == -1)
		api_db_error(c, NULL);
	write_ctx_free(w);
}

void
api_resource_collection(struct client *c)
{
	if (api_access(c, api_resource_collection))
		return;
	if (c->req.method == HTTP_M_POST)
		api_collection_post(c);
	else
		api_collection_get(c);
}

/* ---------------------------------------------------------------- item */

static void
api_item_get_cb(struct client *c, PGresult *res, void *arg)
{
	struct get_ctx	*g = arg;
	struct buf	 b;

	if (c == NULL || api_get_failed(c, g, res)) {
		get_ctx_free(g);
		return;
	}
	if (PQntuples(res) == 0) {
		response_error(c, 404, "invalid resource URI");
		get_ctx_free(g);
		return;
	}
	buf_init(&b, CLIENT_MAX_OUTPUT);
	api_item_json(c, &b, res, 0, 0);
	buf_append(&b, "\n", 1);
	api_answer_fresh(c, g, &b);
	buf_free(&b);
	get_ctx_free(g);
}

static void
api_item_get(struct client *c)
{
	struct resource	*r = RES(c);
	struct get_ctx	*g;
	const char	*p[1] = { c->arg };

	if ((g = get_ctx_new(c, 'I', 0, 0)) == NULL) {
		response_error(c, 500, "out of memory");
		return;
	}
	if ((c->req.lsn_given || c->req.cookie.len > 0) &&
	    api_need_lsn(c, g) == -1) {
		get_ctx_free(g);
		return;
	}
	if (api_cache_answer(c, g, 0)) {
		get_ctx_free(g);
		return;
	}
	if (api_unbound(c, api_resource_item)) {
		get_ctx_free(g);
		return;
	}
	if (!api_key_ok(r, c->arg)) {
		response_error(c, 404, "invalid resource URI");
		get_ctx_free(g);
		return;
	}
	g->version = cache_version(r->relname);
	if (api_cache_on(c) && api_refill_join(c, g, api_resource_item)) {
		get_ctx_free(g);
		return;
	}
	if (api_db_submit(c, r->sql_get, "get", api_read_flags(g), 1, p,
	    api_item_get_cb, g) == -1) {
		if (!api_cache_answer(c, g, 1))
			api_db_error(c, NULL);
		get_ctx_free(g);
	}
}

/* A write's final answer: the item (PUT/PATCH), 201 (create) or 204. */
static void
api_write_done_cb(struct client *c, PGresult *res, void *arg)
{
	struct write_ctx	*w = arg;
	struct resource		*r;
	struct buf		 b;
	char			 etag[40];

	if (c == NULL || api_db_error(c, res)) {
		write_ctx_free(w);
		return;
	}
	r = RES(c);
	if (PQntuples(res) == 0) {
		/* Gone, or changed since the ETag the client holds. */
		if (w->cas)
			response_error(c, 412, "precondition failed: the "
			    "item changed");
		else if (w->create)
			response_error(c, 412, "precondition failed: the "
			    "item exists");
		else
			response_error(c, 404, "invalid resource URI");
		write_ctx_free(w);
		return;
	}
	api_written(c, r->relname);
	if (w->method == HTTP_M_DELETE) {
		response_send(c, 204, "application/json", NULL, 0);
		write_ctx_free(w);
		return;
	}
	buf_init(&b, CLIENT_MAX_OUTPUT);
	api_item_doc(c, res, &b, etag, sizeof(etag));
	response_header(c, "ETag: %s", etag);
	if (w->create) {
		struct buf url;

		buf_init(&url, 4096);
		api_item_url(c, &url, PQgetvalue(res, 0, r->selpos[r->key]));
		response_header(c, "Location: %s", BUF_PTR(&url));
		buf_free(&url);
		response_json(c, 201, &b);
	} else
		response_json(c, 200, &b);
	buf_free(&b);
	write_ctx_free(w);
}

/* Send the write itself; -1 when the database is down. */
static int
api_write_submit(struct client *c, struct write_ctx *w)
{
	int	n = w->nparams + (w->cas ? 1 : 0);

	return (api_db_submit(c, w->cas ? w->sql_cas : w->sql, w->create ?
	    "create" : w->method == HTTP_M_DELETE ? "delete" :
	    w->method == HTTP_M_PUT ? "update" : "patch", 1, n,
	    (const char *const *)w->params, api_write_done_cb, w));
}

/*
 * If-Match: read the current row, compare its representation's ETag with
 * the client's, then write only if the row still holds those values (its
 * exposed columns' text, the last parameter).
 */
static void
api_write_check_cb(struct client *c, PGresult *res, void *arg)
{
	struct write_ctx	*w = arg;
	struct resource		*r;
	const struct http_span	*im;
	struct buf		 b;
	char			 etag[40];
	int			 match;

	if (c == NULL || api_db_error(c, res)) {
		write_ctx_free(w);
		return;
	}
	r = RES(c);
	if (PQntuples(res) == 0) {
		response_error(c, 412, "precondition failed: no such item");
		write_ctx_free(w);
		return;
	}
	buf_init(&b, CLIENT_MAX_OUTPUT);
	api_item_doc(c, res, &b, etag, sizeof(etag));
	buf_free(&b);
	im = http_header_find(&c->req, BUF_PTR(&c->in), "If-Match");
	match = im != NULL && http_etag_match(BUF_PTR(&c->in) + im->off,
	    im->len, etag, 0) == 1;
	if (!match) {
		response_error(c, 412, "precondition failed: the ETag does "
		    "not match");
		write_ctx_free(w);
		return;
	}
	if ((w->params[w->nparams] = strdup(PQgetvalue(res, 0, r->nsel))) ==
	    NULL) {
		response_error(c, 500, "out of memory");
		write_ctx_free(w);
		return;
	}
	w->cas = 1;
	if (api_write_submit(c, w) == -1) {
		write_ctx_free(w);
		api_db_error(c, NULL);
	}
}

/*
 * The UPDATE of PUT (every writable column: given, else its default) or
 * PATCH (the given ones); $1 is the key, the CAS form adds the row.
 */
static int
api_update_sql(struct resource *r, struct write_ctx *w, const int *set)
{
	struct buf	 sets;
	int		 i, k = 2, rv = -1;

	buf_init(&sets, API_SQL_MAX);
	for (i = 0; i < r->ncols; i++) {
		if (set[i])
			buf_appendf(&sets, "%s%s = $%d", BUF_LEN(&sets) > 0 ?
			    ", " : "", r->cols[i].qname, k++);
		else if (w->method == HTTP_M_PUT && r->cols[i].exposed &&
		    !r->cols[i].read_only && i != r->key)
			buf_appendf(&sets, "%s%s = DEFAULT", BUF_LEN(&sets) > 0 ?
			    ", " : "", r->cols[i].qname);
	}
	if (BUF_LEN(&sets) == 0) {
		/* PUT of a resource whose only writable column is its key. */
		buf_appendf(&sets, "%s = %s", r->cols[r->key].qname,
		    r->cols[r->key].qname);
	}
	if (asprintf(&w->sql, "UPDATE %s SET %s WHERE %s = $1 RETURNING %s",
	    r->qtable, BUF_PTR(&sets), r->cols[r->key].qname,
	    r->sql_select_list) != -1 &&
	    asprintf(&w->sql_cas, "UPDATE %s SET %s WHERE %s = $1 AND %s = $%d "
	    "RETURNING %s", r->qtable, BUF_PTR(&sets), r->cols[r->key].qname,
	    r->sql_row_text, k, r->sql_select_list) != -1)
		rv = 0;
	buf_free(&sets);
	return (rv);
}

/* PUT + If-None-Match: *: the URL's key, checked as the body's would be. */
static int
api_create_key(struct client *c, struct write_ctx *w)
{
	struct resource		*r = RES(c);
	const struct res_column	*col = &r->cols[r->key];
	long			 n;

	if (col->read_only) {
		response_error(c, 400, "invalid %s: it is %s: create with "
		    "POST", col->name, col->generated ?
		    "generated by the database" : "read-only");
		return (-1);
	}
	if (col->type == COL_TEXT || col->type == COL_VARCHAR ||
	    col->type == COL_CHAR) {
		n = api_charcount(w->key, 0);
		if (n == -1)
			response_error(c, 400, "invalid %s: it must be valid "
			    "UTF-8", col->name);
		else if (n == -2)
			response_error(c, 400, "invalid %s: it must not "
			    "contain control characters", col->name);
		else if (n < 1 || (col->maxlen >= 0 && n > col->maxlen))
			response_error(c, 400, "invalid %s: it must be 1 to "
			    "%d characters", col->name, col->maxlen);
		if (n < 1 || (col->maxlen >= 0 && n > col->maxlen))
			return (-1);
	} else if (!api_key_ok(r, w->key)) {
		response_error(c, 400, "invalid %s: it must be a %s",
		    col->name, col_type_name(col->type));
		return (-1);
	}
	return (0);
}

/* PUT + If-None-Match: *: INSERT the key ($1) and the body's values. */
static int
api_create_sql(struct resource *r, struct write_ctx *w, const int *set)
{
	const char	*sql = api_insert_sql(r, set, 1, r->sql_select_list);

	return (sql == NULL || (w->sql = strdup(sql)) == NULL ? -1 : 0);
}

static void
api_item_write(struct client *c)
{
	struct resource		*r = RES(c);
	const char		*buf = BUF_PTR(&c->in);
	const struct http_span	*im, *inm;
	struct write_ctx	*w;
	struct api_members	 x;
	struct buf		 names;
	cJSON			*j = NULL;
	const char		*p[1];
	int			 set[RES_MAX_COLS], i, rv, star;

	if (api_unbound(c, api_resource_item))
		return;
	im = http_header_find(&c->req, buf, "If-Match");
	inm = http_header_find(&c->req, buf, "If-None-Match");
	if (im == NULL && conf->require_if_match && !(c->req.method ==
	    HTTP_M_PUT && inm != NULL)) {
		response_error(c, 428, "this server requires If-Match on "
		    "writes");
		return;
	}
	if (im != NULL && http_etag_match(buf + im->off, im->len, "\"\"", 0)
	    == -1) {
		response_error(c, 400, "malformed If-Match");
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->key = strdup(c->arg)) == NULL ||
	    (w->params[0] = strdup(c->arg)) == NULL) {
		write_ctx_free(w);
		response_error(c, 500, "out of memory");
		return;
	}
	w->method = c->req.method;
	w->nparams = 1;		/* $1: the key */
	memset(set, 0, sizeof(set));
	if (c->req.method == HTTP_M_PUT && inm != NULL) {
		if (http_etag_match(buf + inm->off, inm->len, "\"\"", 1) == -1 ||
		    inm->len != 1 || buf[inm->off] != '*') {
			response_error(c, 400, "only If-None-Match: * is "
			    "supported on PUT");
			goto done;
		}
		w->create = 1;
	}
	if (c->req.method != HTTP_M_DELETE) {
		if ((j = api_body_object(c, &x)) == NULL ||
		    api_read_body(c, j, &x, w, set, 1) == -1)
			goto done;
		if (w->method == HTTP_M_PATCH && w->nparams == 1) {
			buf_init(&names, 4096);
			for (i = 0; i < r->ncols; i++)
				if (r->cols[i].exposed && !r->cols[i].read_only)
					buf_appendf(&names, "%s%s",
					    BUF_LEN(&names) > 0 ? " and/or " :
					    "", r->cols[i].name);
			response_error(c, 400, "invalid body: nothing to "
			    "update (give %s)", BUF_LEN(&names) > 0 ?
			    BUF_PTR(&names) : "a writable field");
			buf_free(&names);
			goto done;
		}
	}
	if (w->create) {
		if (api_create_key(c, w) == -1)
			goto done;
		rv = api_create_sql(r, w, set);
	} else if (!api_key_ok(r, w->key)) {
		response_error(c, 404, "invalid resource URI");
		goto done;
	} else if (w->method == HTTP_M_DELETE) {
		rv = (w->sql = strdup(r->sql_delete)) == NULL ||
		    (w->sql_cas = strdup(r->sql_delete_cas)) == NULL ? -1 : 0;
	} else
		rv = api_update_sql(r, w, set);
	if (rv == -1) {
		response_error(c, 500, "out of memory");
		goto done;
	}
	if (im != NULL && !w->create) {
		star = im->len == 1 && buf[im->off] == '*';
		p[0] = w->key;
		/* "*" only needs the item to exist: the plain write does. */
		rv = star ? api_write_submit(c, w) : api_db_submit(c,
		    r->sql_get_cas, "get_cas", 0, 1, p, api_write_check_cb, w);
	} else
		rv = api_write_submit(c, w);
	if (rv == -1) {
		write_ctx_free(w);
		api_db_error(c, NULL);
	}
	cJSON_Delete(j);
	return;
done:
	write_ctx_free(w);
	cJSON_Delete(j);
}

void
api_resource_item(struct client *c)
{
	if (api_access(c, api_resource_item))
		return;
	switch (c->req.method) {
	case HTTP_M_GET:
	case HTTP_M_HEAD:
		api_item_get(c);
		return;
	default:
		api_item_write(c);
		return;
	}
}

/*
 * The collection without its trailing slash: 308 to the slash form, for
 * every method (as Flask's strict_slashes redirect), query kept.
 */
void
api_resource_redirect(struct client *c)
{
	struct buf	url;

	buf_init(&url, 4096);
	api_link_base(c, &url);
	buf_appendf(&url, "%s/", c->route->path);
	if (c->req.query.len > 0) {
		buf_append(&url, "?", 1);
		buf_append(&url, BUF_PTR(&c->in) + c->req.query.off,
		    c->req.query.len);
	}
	response_header(c, "Location: %s", BUF_PTR(&url));
	response_error(c, 308, "the collection is %s", BUF_PTR(&url));
	buf_free(&url);
}
