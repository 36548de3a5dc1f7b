/*
 * api_items.c: the pxcodes resource (the original's demo resource):
 * its collection and its items.
 *
 * Handlers check the input (cJSON for request bodies), submit one prepared
 * statement and answer from its callback.  Representations are written in
 * the original's exact bytes: see response.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <cjson/cJSON.h>

#include "starterd.h"

#define API_COLLECTION	STARTERD_API_PREFIX "/pxcodes/"
#define API_MAX_PAGE	100000000LL

/* ------------------------------------------------------------- helpers */

/* db_submit, remembering when the first statement went (Server-Timing). */
static int
api_db_submit(struct client *c, enum db_stmt stmt, int n,
    const char *const *p, db_cb cb, void *arg)
{
	if (c->t_db == 0)
		c->t_db = now_us();
	return (db_submit(c, stmt, n, p, cb, arg));
}

/* scheme://host of the request, for absolute links. */
static void
api_base(struct client *c, struct buf *b)
{
	const char	*buf = BUF_PTR(&c->in);

	buf_appendstr(b, "http://");
	if (c->req.host.len > 0)
		buf_append(b, buf + c->req.host.off, c->req.host.len);
	else
		buf_appendf(b, "localhost:%d", conf->port);
}

/* Append the item URL; the code percent-encoded like Python's quote(). */
static void
api_item_url(struct client *c, struct buf *b, const char *code)
{
	static const char	hex[] = "0123456789ABCDEF";
	const unsigned char	*p;

	api_base(c, b);
	buf_appendstr(b, API_COLLECTION);
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

/* {"procedure":...,"pxcode":...,"url":...}: keys sorted, as jsonify. */
static void
api_item_json(struct client *c, struct buf *b, PGresult *res, int row)
{
	const char	*code = PQgetvalue(res, row, 0);
	struct buf	 url;

	buf_init(&url, 4096);
	buf_appendstr(b, "{\"procedure\":");
	if (PQgetisnull(res, row, 1))
		buf_appendstr(b, "null");
	else
		json_string(b, PQgetvalue(res, row, 1),
		    (size_t)PQgetlength(res, row, 1));
	buf_appendstr(b, ",\"pxcode\":");
	json_string(b, code, (size_t)PQgetlength(res, row, 0));
	buf_appendstr(b, ",\"url\":");
	api_item_url(c, &url, code);
	json_string(b, BUF_PTR(&url), BUF_LEN(&url));
	buf_appendstr(b, "}");
	buf_free(&url);
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
	if (strcmp(state, "23505") == 0)
		response_error(c, 409, "pxcode already exists");
	else if (strncmp(state, "22", 2) == 0)
		response_error(c, 400, "invalid value: %s",
		    strcmp(state, "22001") == 0 ? "too long" :
		    "rejected by the database");
	else if (strcmp(state, "42P01") == 0 || strcmp(state, "26000") == 0) {
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
	response_header(c, "ETag: %s", etag);
	/* Authenticated: browsers may keep it, shared caches may not. */
	response_header(c, "Cache-Control: private, no-cache");
	if (status != NULL)
		response_header(c, "Cache-Status: " STARTERD_NAME "; %s",
		    status);
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
	long long	 page;
	long long	 per_page;
};

static void
get_ctx_free(struct get_ctx *g)
{
	if (g == NULL)
		return;
	buf_free(&g->key);
	free(g);
}

/* Item key "I <scheme://host> <code>"; page key "C <base> page per_page". */
static struct get_ctx *
get_ctx_new(struct client *c, char kind, long long page, long long per_page)
{
	struct get_ctx	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return (NULL);
	buf_init(&g->key, 1024);
	buf_appendf(&g->key, "%c ", kind);
	api_base(c, &g->key);
	if (kind == 'I')
		buf_appendf(&g->key, " %s", c->arg);
	else
		buf_appendf(&g->key, " %lld %lld", page, per_page);
	g->page = page;
	g->per_page = per_page;
	return (g);
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

	if (!cache_enabled())
		return (0);
	/*
	 * Stale only when the database is known to be unreachable: a
	 * worker still making its first connection (just respawned) must
	 * not serve what other workers' writes made outdated.
	 */
	down = db_failed || db_status() == DB_DOWN;
	buf_init(&body, CLIENT_MAX_OUTPUT);
	if (cache_lookup(BUF_PTR(&g->key), BUF_LEN(&g->key), down, &body,
	    etag, sizeof(etag), &age, &stale) == -1) {
		buf_free(&body);
		return (0);
	}
	if (stale || down) {
		/* Not revalidated: say so, and how old it is. */
		response_header(c, "Age: %lld", age);
		snprintf(status, sizeof(status), "hit; detail=\"stale: "
		    "database unavailable\"");
		c->cache_desc = "stale";
	} else {
		snprintf(status, sizeof(status), "hit");
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
	char	etag[40];

	etag_compute(BUF_PTR(body), BUF_LEN(body), etag, sizeof(etag));
	if (cache_enabled())
		c->cache_desc = "miss";
	if (cache_enabled())
		cache_store(BUF_PTR(&g->key), BUF_LEN(&g->key), g->version,
		    BUF_PTR(body), BUF_LEN(body), etag);
	api_send_representation(c, body, etag, cache_enabled() ?
	    "fwd=miss; stored" : "fwd=bypass");
}

/* The database failed a GET: a stale cached copy, else the error. */
static int
api_get_failed(struct client *c, struct get_ctx *g, PGresult *res)
{
	if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK))
		return (0);
	if (res == NULL && api_cache_answer(c, g, 1))
		return (1);
	return (api_db_error(c, res));
}

/*
 * Count the characters of s, which must be UTF-8 as PostgreSQL checks it
 * (no overlong forms, no surrogates, nothing past U+10FFFF): -1 if it is
 * not; -2 if it holds a control character (C0 or DEL) and ctl is 0.
 */
static long
api_charcount(const char *s, int ctl)
{
	const unsigned char	*p = (const unsigned char *)s;
	long			 n = 0;
	size_t			 k, i;
	int			 badctl = 0;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			badctl = !ctl;
		if (*p < 0x80)
			k = 1;
		else if (*p >= 0xc2 && *p <= 0xdf)
			k = 2;
		else if ((*p & 0xf0) == 0xe0 &&
		    !(*p == 0xe0 && p[1] < 0xa0) &&
		    !(*p == 0xed && p[1] > 0x9f))
			k = 3;
		else if (*p >= 0xf0 && *p <= 0xf4 &&
		    !(*p == 0xf0 && p[1] < 0x90) &&
		    !(*p == 0xf4 && p[1] > 0x8f))
			k = 4;
		else
			return (-1);
		for (i = 1; i < k; i++)
			if ((p[i] & 0xc0) != 0x80)
				return (-1);
		p += k;
		n++;
	}
	return (badctl ? -2 : n);
}

/*
 * cJSON decodes \u0000 into a NUL byte that ends its C string: "a\u0000b"
 * would read as "a".  Scan the raw body (valid JSON, cJSON parsed it) and
 * say whether the key (API_NUL_KEY) or the string value (API_NUL_VALUE)
 * of top-level member idx (from 0, in document order, the order cJSON
 * keeps) holds a \u0000 escape; idx -1 asks about every key.
 */
#define API_NUL_KEY	1
#define API_NUL_VALUE	2

static int
api_json_nul(const char *s, size_t len, int idx)
{
	size_t	i, j;
	int	depth = 0, member = -1, key = 0, nul, rv = 0;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '"':
			nul = 0;
			for (j = i + 1; j < len && s[j] != '"'; j++) {
				if (s[j] != '\\')
					continue;
				if (len - j > 5 &&
				    strncmp(s + j + 1, "u0000", 5) == 0)
					nul = 1;
				j++;
			}
			i = j;
			if (depth == 1 && key) {
				member++;
				if (nul && (idx == -1 || idx == member))
					rv |= API_NUL_KEY;
			} else if (depth == 1 && nul && member == idx)
				rv |= API_NUL_VALUE;
			key = 0;
			break;
		case '{':
		case '[':
			if (++depth == 1)
				key = 1;
			break;
		case '}':
		case ']':
			depth--;
			break;
		case ',':
			if (depth == 1)
				key = 1;
			break;
		}
	}
	return (rv);
}

/*
 * Parse the JSON object body of a write.  Returns NULL after answering
 * 415/400 itself.
 */
static cJSON *
api_body_object(struct client *c)
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
	if (api_json_nul(BUF_PTR(&c->body), BUF_LEN(&c->body), -1) &
	    API_NUL_KEY) {
		cJSON_Delete(j);
		response_error(c, 400, "invalid body: a member name contains "
		    "U+0000 (NUL)");
		return (NULL);
	}
	return (j);
}

/*
 * Check one string field.  Returns its value, or NULL after answering 400
 * (when required or present but wrong); *absent is set when missing.
 * Messages start "invalid <field>:" so they name the field at fault.
 * Text is stored exactly as sent, so what PostgreSQL text cannot hold
 * (NUL) is refused, never cut; pxcode, a segment of the item URL, also
 * refuses the other control characters; procedure takes them.
 */
static const char *
api_field(struct client *c, cJSON *obj, const char *name, long maxchars,
    int required, int *absent)
{
	cJSON	*f, *g;
	long	 n;
	int	 idx, ispx = strcmp(name, "pxcode") == 0;

	/* The first member of that name, as cJSON_GetObjectItem... */
	for (f = obj->child, idx = 0; f != NULL; f = f->next, idx++)
		if (f->string != NULL && strcmp(f->string, name) == 0)
			break;
	*absent = 0;
	if (f == NULL) {
		*absent = 1;
		if (required)
			response_error(c, 400, "invalid body: %s is missing",
			    name);
		return (NULL);
	}
	/* cJSON keeps the first of two, Python's json the last: neither. */
	for (g = f->next; g != NULL; g = g->next)
		if (g->string != NULL && strcmp(g->string, name) == 0) {
			response_error(c, 400, "invalid body: %s is given "
			    "more than once", name);
			return (NULL);
		}
	if (!cJSON_IsString(f) || f->valuestring == NULL) {
		response_error(c, 400, "invalid %s: it must be a string", name);
		return (NULL);
	}
	if (api_json_nul(BUF_PTR(&c->body), BUF_LEN(&c->body), idx) &
	    API_NUL_VALUE) {
		response_error(c, 400, "invalid %s: it must not contain "
		    "U+0000 (NUL), which PostgreSQL text cannot hold", name);
		return (NULL);
	}
	n = api_charcount(f->valuestring, !ispx);
	if (n == -1) {
		response_error(c, 400, "invalid %s: it must be valid UTF-8 "
		    "(no surrogates)", name);
		return (NULL);
	}
	if (n == -2) {
		response_error(c, 400, "invalid %s: it must not contain "
		    "control characters (it is a segment of the item URL)",
		    name);
		return (NULL);
	}
	if (n > maxchars || (n == 0 && ispx)) {
		response_error(c, 400, "invalid %s: it must be %s%ld "
		    "characters", name, ispx ? "1 to " : "at most ", maxchars);
		return (NULL);
	}
	return (f->valuestring);
}

/* ---------------------------------------------------------- collection */

static void
api_page_link(struct client *c, struct buf *b, long long per_page,
    long long page)
{
	struct buf	l;

	buf_init(&l, 4096);
	api_base(c, &l);
	buf_appendf(&l, API_COLLECTION "?per_page=%lld&page=%lld", per_page,
	    page);
	json_string(b, BUF_PTR(&l), BUF_LEN(&l));
	buf_free(&l);
}

static void
api_page_cb(struct client *c, PGresult *res, void *arg)
{
	struct get_ctx	*pa = arg;
	struct buf	 b;
	long long	 total, pages;
	int		 i, n, first = 1;

	if (c == NULL || api_get_failed(c, pa, res)) {
		get_ctx_free(pa);
		return;
	}
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
		if (PQgetisnull(res, i, 1))
			continue;
		if (!first)
			buf_append(&b, ",", 1);
		first = 0;
		/* columns 1, 2 are pxcode, procedure */
		{
			struct buf url;

			buf_init(&url, 4096);
			buf_appendstr(&b, "{\"procedure\":");
			if (PQgetisnull(res, i, 2))
				buf_appendstr(&b, "null");
			else
				json_string(&b, PQgetvalue(res, i, 2),
				    (size_t)PQgetlength(res, i, 2));
			buf_appendstr(&b, ",\"pxcode\":");
			json_string(&b, PQgetvalue(res, i, 1),
			    (size_t)PQgetlength(res, i, 1));
			buf_appendstr(&b, ",\"url\":");
			api_item_url(c, &url, PQgetvalue(res, i, 1));
			json_string(&b, BUF_PTR(&url), BUF_LEN(&url));
			buf_appendstr(&b, "}");
			buf_free(&url);
		}
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

static void
api_collection_get(struct client *c)
{
	struct get_ctx	*pa;
	char		 lim[24], off[24];
	const char	*p[2] = { lim, off };
	long long	 page, per_page;

	if (api_query_int(c, "page", 1, API_MAX_PAGE, &page) == -1 ||
	    api_query_int(c, "per_page", PXCODES_MAX_PER_PAGE, LLONG_MAX / 2,
	    &per_page) == -1)
		return;
	if (per_page > PXCODES_MAX_PER_PAGE)
		per_page = PXCODES_MAX_PER_PAGE;
	if ((pa = get_ctx_new(c, 'C', page, per_page)) == NULL) {
		response_error(c, 500, "out of memory");
		return;
	}
	if (api_cache_answer(c, pa, 0)) {
		get_ctx_free(pa);
		return;
	}
	snprintf(lim, sizeof(lim), "%lld", per_page);
	snprintf(off, sizeof(off), "%lld", (page - 1) * per_page);
	pa->version = cache_version();
	if (api_db_submit(c, DB_PX_PAGE, 2, p, api_page_cb, pa) == -1) {
		if (!api_cache_answer(c, pa, 1))
			api_db_error(c, NULL);
		get_ctx_free(pa);
	}
}

static void
api_insert_cb(struct client *c, PGresult *res, void *arg)
{
	char		*code = arg;
	struct buf	 url;

	if (c == NULL || api_db_error(c, res)) {
		free(code);
		return;
	}
	if (PQntuples(res) == 0) {
		response_error(c, 409, "pxcode already exists");
		free(code);
		return;
	}
	cache_invalidate("starter_pxcodes");
	buf_init(&url, 4096);
	api_item_url(c, &url, code);
	response_header(c, "Location: %s", BUF_PTR(&url));
	buf_free(&url);
	response_send(c, 201, "application/json", "{}\n", 3);
	free(code);
}

static void
api_collection_post(struct client *c)
{
	cJSON		*j;
	const char	*code, *proc, *p[2];
	char		*dup;
	int		 absent;

	if ((j = api_body_object(c)) == NULL)
		return;
	if ((code = api_field(c, j, "pxcode", PXCODE_MAX_CHARS, 1,
	    &absent)) == NULL ||
	    (proc = api_field(c, j, "procedure", PROCEDURE_MAX_CHARS, 1,
	    &absent)) == NULL) {
		cJSON_Delete(j);
		return;
	}
	p[0] = code;
	p[1] = proc;
	if ((dup = strdup(code)) == NULL) {
		cJSON_Delete(j);
		response_error(c, 500, "out of memory");
		return;
	}
	if (api_db_submit(c, DB_PX_INSERT, 2, p, api_insert_cb, dup) == -1) {
		free(dup);
		api_db_error(c, NULL);
	}
	cJSON_Delete(j);
}

void
api_pxcodes_collection(struct client *c)
{
	if (c->req.method == HTTP_M_POST)
		api_collection_post(c);
	else
		api_collection_get(c);
}

/* ---------------------------------------------------------------- item */

/* What a write needs across its (at most two) round trips. */
struct write_ctx {
	enum http_method	 method;
	char			*code;		/* from the URL */
	char			*newcode;	/* PATCH pxcode, or NULL */
	char			*proc;		/* new procedure, or NULL */
	int			 set_proc;
	char			*old_proc;	/* CAS: the matched value */
	int			 cas;
};

static void
write_ctx_free(struct write_ctx *w)
{
	if (w == NULL)
		return;
	free(w->code);
	free(w->newcode);
	free(w->proc);
	free(w->old_proc);
	free(w);
}

/* The item document and its ETag, for row 0 of res. */
static void
api_item_doc(struct client *c, PGresult *res, struct buf *b, char *etag,
    size_t etaglen)
{
	api_item_json(c, b, res, 0);
	buf_append(b, "\n", 1);
	etag_compute(BUF_PTR(b), BUF_LEN(b), etag, etaglen);
}

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
	buf_init(&b, 65536);
	api_item_json(c, &b, res, 0);
	buf_append(&b, "\n", 1);
	api_answer_fresh(c, g, &b);
	buf_free(&b);
	get_ctx_free(g);
}

static void
api_item_get(struct client *c)
{
	struct get_ctx	*g;
	const char	*p[1] = { c->arg };

	if ((g = get_ctx_new(c, 'I', 0, 0)) == NULL) {
		response_error(c, 500, "out of memory");
		return;
	}
	if (api_cache_answer(c, g, 0)) {
		get_ctx_free(g);
		return;
	}
	g->version = cache_version();
	if (api_db_submit(c, DB_PX_GET, 1, p, api_item_get_cb, g) == -1) {
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
	struct buf		 b;
	char			 etag[40];

	if (c == NULL || api_db_error(c, res)) {
		write_ctx_free(w);
		return;
	}
	if (PQntuples(res) == 0) {
		/* Gone, or changed since the ETag the client holds. */
		if (w->cas)
			response_error(c, 412, "precondition failed: the "
			    "item changed");
		else if (w->method == HTTP_M_PUT && w->code != NULL &&
		    http_header_find(&c->req, BUF_PTR(&c->in),
		    "If-None-Match") != NULL)
			response_error(c, 412, "precondition failed: the "
			    "item exists");
		else
			response_error(c, 404, "invalid resource URI");
		write_ctx_free(w);
		return;
	}
	cache_invalidate("starter_pxcodes");
	if (w->method == HTTP_M_DELETE) {
		response_send(c, 204, "application/json", NULL, 0);
		write_ctx_free(w);
		return;
	}
	buf_init(&b, 65536);
	api_item_doc(c, res, &b, etag, sizeof(etag));
	response_header(c, "ETag: %s", etag);
	if (!w->cas && w->method == HTTP_M_PUT &&
	    http_header_find(&c->req, BUF_PTR(&c->in), "If-None-Match")) {
		struct buf url;

		buf_init(&url, 4096);
		api_item_url(c, &url, PQgetvalue(res, 0, 0));
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
	const char	*p[5];

	switch (w->method) {
	case HTTP_M_DELETE:
		p[0] = w->code;
		p[1] = w->old_proc;
		return (api_db_submit(c, w->cas ? DB_PX_DELETE_CAS :
		    DB_PX_DELETE, w->cas ? 2 : 1, p, api_write_done_cb, w));
	case HTTP_M_PUT:
		p[0] = w->code;
		p[1] = w->proc;
		p[2] = w->old_proc;
		return (api_db_submit(c, w->cas ? DB_PX_UPDATE_CAS :
		    DB_PX_UPDATE, w->cas ? 3 : 2, p, api_write_done_cb, w));
	default:
		p[0] = w->code;
		p[1] = w->newcode;
		p[2] = w->set_proc ? "true" : "false";
		p[3] = w->proc;
		p[4] = w->old_proc;
		return (api_db_submit(c, w->cas ? DB_PX_PATCH_CAS : DB_PX_PATCH,
		    w->cas ? 5 : 4, p, api_write_done_cb, w));
	}
}

/*
 * If-Match: read the current row, compare its representation's ETag with
 * the client's, then write only if the row still holds those values.
 */
static void
api_write_check_cb(struct client *c, PGresult *res, void *arg)
{
	struct write_ctx	*w = arg;
	const struct http_span	*im;
	struct buf		 b;
	char			 etag[40];
	int			 match;

	if (c == NULL || api_db_error(c, res)) {
		write_ctx_free(w);
		return;
	}
	if (PQntuples(res) == 0) {
		response_error(c, 412, "precondition failed: no such item");
		write_ctx_free(w);
		return;
	}
	buf_init(&b, 65536);
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
	if (!PQgetisnull(res, 0, 1) &&
	    (w->old_proc = strdup(PQgetvalue(res, 0, 1))) == NULL) {
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

static int
api_strdup(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return (0);
	return ((*dst = strdup(src)) == NULL ? -1 : 0);
}

static void
api_item_write(struct client *c)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_span	*im, *inm;
	struct write_ctx	*w;
	cJSON			*j = NULL;
	const char		*code = NULL, *proc = NULL, *p[2];
	int			 code_absent = 1, proc_absent = 1, rv, star;
	long			 n;

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
	if (c->req.method != HTTP_M_DELETE) {
		if ((j = api_body_object(c)) == NULL)
			return;
		if (c->req.method == HTTP_M_PUT) {
			proc = api_field(c, j, "procedure",
			    PROCEDURE_MAX_CHARS, 1, &proc_absent);
			if (proc == NULL)
				goto done;
		} else {
			code = api_field(c, j, "pxcode", PXCODE_MAX_CHARS, 0,
			    &code_absent);
			if (code == NULL && !code_absent)
				goto done;
			proc = api_field(c, j, "procedure",
			    PROCEDURE_MAX_CHARS, 0, &proc_absent);
			if (proc == NULL && !proc_absent)
				goto done;
			if (code_absent && proc_absent) {
				response_error(c, 400, "invalid body: "
				    "nothing to update (give pxcode and/or "
				    "procedure)");
				goto done;
			}
		}
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    api_strdup(&w->code, c->arg) == -1 ||
	    api_strdup(&w->newcode, code) == -1 ||
	    api_strdup(&w->proc, proc) == -1) {
		write_ctx_free(w);
		response_error(c, 500, "out of memory");
		goto done;
	}
	w->method = c->req.method;
	w->set_proc = !proc_absent;

	/* PUT + If-None-Match: * creates, and only if absent. */
	if (c->req.method == HTTP_M_PUT && inm != NULL) {
		if (http_etag_match(buf + inm->off, inm->len, "\"\"", 1) == -1 ||
		    inm->len != 1 || buf[inm->off] != '*') {
			write_ctx_free(w);
			response_error(c, 400, "only If-None-Match: * is "
			    "supported on PUT");
			goto done;
		}
		/* The code comes from the URL: the body's rules. */
		if ((n = api_charcount(c->arg, 0)) < 0 ||
		    n > PXCODE_MAX_CHARS || n < 1) {
			write_ctx_free(w);
			if (n == -1)
				response_error(c, 400, "invalid pxcode: it "
				    "must be valid UTF-8");
			else if (n == -2)
				response_error(c, 400, "invalid pxcode: it "
				    "must not contain control characters");
			else
				response_error(c, 400, "invalid pxcode: it "
				    "must be 1 to %d characters",
				    PXCODE_MAX_CHARS);
			goto done;
		}
		p[0] = w->code;
		p[1] = w->proc;
		rv = api_db_submit(c, DB_PX_CREATE, 2, p, api_write_done_cb, w);
	} else if (im != NULL) {
		star = im->len == 1 && buf[im->off] == '*';
		p[0] = w->code;
		/* "*" only needs the item to exist: the plain write does. */
		rv = star ? api_write_submit(c, w) :
		    api_db_submit(c, DB_PX_GET, 1, p, api_write_check_cb, w);
	} else
		rv = api_write_submit(c, w);
	if (rv == -1) {
		write_ctx_free(w);
		api_db_error(c, NULL);
	}
done:
	cJSON_Delete(j);
}

void
api_pxcodes_item(struct client *c)
{
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
api_pxcodes_redirect(struct client *c)
{
	struct buf	url;

	buf_init(&url, 4096);
	api_base(c, &url);
	buf_appendstr(&url, API_COLLECTION);
	if (c->req.query.len > 0) {
		buf_append(&url, "?", 1);
		buf_append(&url, BUF_PTR(&c->in) + c->req.query.off,
		    c->req.query.len);
	}
	response_header(c, "Location: %s", BUF_PTR(&url));
	response_error(c, 308, "the collection is %s", BUF_PTR(&url));
	buf_free(&url);
}
