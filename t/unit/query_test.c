/*
 * query_test: query.c (the collection query language of issue 11) on
 * resources that schema_bind() binds from catalog documents built here:
 * "things", a table of every supported type (and an inet served as_text),
 * with the filter, sortable and search flags set by hand as the
 * declaration's keys will set them; and "px", the seed's pxcodes shape,
 * which ignores unknown parameters and declares none of the new keys.
 * Covers every operator on every type, the errors (each naming its
 * parameter), the canonical form, the statements' shapes, and cursors:
 * a round trip, a flipped byte, another query's cursor.  Prints TAP.
 *
 * QUERY_TEST_SQL=1 prints each statement and its parameters, for EXPLAIN
 * on a real server.  QUERY_TEST_DSN=conninfo walks real pages by cursor,
 * forward and back, over a table things of these columns (with NULLs and
 * ties in n, t and i4), and compares them with one ordered statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include <cjson/cJSON.h>

#include "starterd.h"
#include "tap.h"

static const unsigned char	 key[] = "0123456789abcdef0123456789abcdef";
static struct resource		 things, px;

static const struct {
	const char	*name, *type, *fmt;
	int		 typmod, notnull, hasdef, identity;
} tcols[] = {
	{ "id", "int8", "bigint", -1, 1, 1, 1 },
	{ "i2", "int2", "smallint", -1, 0, 0, 0 },
	{ "i4", "int4", "integer", -1, 1, 0, 0 },
	{ "n", "numeric", "numeric(10,2)", 655366, 0, 0, 0 },
	{ "f4", "float4", "real", -1, 0, 0, 0 },
	{ "f8", "float8", "double precision", -1, 0, 0, 0 },
	{ "b", "bool", "boolean", -1, 0, 0, 0 },
	{ "d", "date", "date", -1, 0, 0, 0 },
	{ "ts", "timestamp", "timestamp without time zone", -1, 0, 0, 0 },
	{ "tz", "timestamptz", "timestamp with time zone", -1, 1, 1, 0 },
	{ "u", "uuid", "uuid", -1, 0, 0, 0 },
	{ "j", "json", "json", -1, 0, 0, 0 },
	{ "jb", "jsonb", "jsonb", -1, 0, 0, 0 },
	{ "t", "text", "text", -1, 0, 0, 0 },
	{ "v", "varchar", "character varying(10)", 14, 1, 0, 0 },
	{ "c", "bpchar", "character(3)", 7, 0, 0, 0 },
	{ "x", "inet", "inet", -1, 0, 0, 0 },
	{ "secret", "text", "text", -1, 0, 0, 0 },
};
#define NTCOLS	(sizeof(tcols) / sizeof(tcols[0]))

/* A catalog document as schema_catalog_sql answers it. */
static char *
doc_things(void)
{
	cJSON	*d, *a, *c, *u, *k;
	char	*s;
	size_t	 i;

	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "nsp", "public");
	cJSON_AddStringToObject(d, "rel", "things");
	cJSON_AddStringToObject(d, "kind", "r");
	cJSON_AddStringToObject(d, "qnsp", "public");
	cJSON_AddStringToObject(d, "qrel", "things");
	cJSON_AddTrueToObject(d, "notify");
	c = cJSON_AddObjectToObject(d, "priv");
	cJSON_AddTrueToObject(c, "select");
	cJSON_AddTrueToObject(c, "insert");
	cJSON_AddTrueToObject(c, "update");
	cJSON_AddTrueToObject(c, "delete");
	a = cJSON_AddArrayToObject(d, "cols");
	for (i = 0; i < NTCOLS; i++) {
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "name", tcols[i].name);
		cJSON_AddStringToObject(c, "q", tcols[i].name);
		cJSON_AddStringToObject(c, "type", tcols[i].type);
		cJSON_AddNumberToObject(c, "typmod", tcols[i].typmod);
		cJSON_AddStringToObject(c, "fmt", tcols[i].fmt);
		cJSON_AddBoolToObject(c, "notnull", tcols[i].notnull);
		cJSON_AddBoolToObject(c, "hasdef", tcols[i].hasdef);
		cJSON_AddStringToObject(c, "identity", tcols[i].identity ?
		    "a" : "");
		cJSON_AddStringToObject(c, "generated", "");
		cJSON_AddTrueToObject(c, "sel");
		cJSON_AddTrueToObject(c, "ins");
		cJSON_AddTrueToObject(c, "upd");
		cJSON_AddItemToArray(a, c);
	}
	a = cJSON_AddArrayToObject(d, "uniques");
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "name", "things_pkey");
	cJSON_AddTrueToObject(u, "primary");
	k = cJSON_AddArrayToObject(u, "cols");
	cJSON_AddItemToArray(k, cJSON_CreateString("id"));
	cJSON_AddItemToArray(a, u);
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "name", "things_v_key");
	cJSON_AddFalseToObject(u, "primary");
	k = cJSON_AddArrayToObject(u, "cols");
	cJSON_AddItemToArray(k, cJSON_CreateString("v"));
	cJSON_AddItemToArray(a, u);
	cJSON_AddNullToObject(d, "cons");
	s = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	return (s);
}

static void
problem(void *arg, const char *line)
{
	(void)arg;
	diag("bind: %s", line);
}

static int
bind_doc(struct res_decl *d, const char *doc, struct resource *r)
{
	PGresAttDesc	 att[2];
	PGresult	*res;
	int		 i, n;

	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	memset(att, 0, sizeof(att));
	att[0].name = "name";
	att[0].typid = 25;
	att[1].name = "doc";
	att[1].typid = 114;
	for (i = 0; i < 2; i++) {
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	PQsetResultAttrs(res, 2, att);
	PQsetvalue(res, 0, 0, d->table, (int)strlen(d->table));
	PQsetvalue(res, 0, 1, (char *)doc, (int)strlen(doc));
	n = schema_bind(NULL, d, res, r, problem, NULL);
	PQclear(res);
	return (n);
}

static void
setup(void)
{
	struct res_decl	 d;
	char		*doc;
	int		 i;

	memset(&d, 0, sizeof(d));
	strlcpy(d.name, "things", sizeof(d.name));
	strlcpy(d.table, "things", sizeof(d.table));
	strlcpy(d.hidden, "secret", sizeof(d.hidden));
	strlcpy(d.as_text, "x", sizeof(d.as_text));
	strlcpy(d.order, "-d", sizeof(d.order));
	d.per_page = 20;
	d.max_per_page = 50;
	doc = doc_things();
	is_int(bind_doc(&d, doc, &things), 0, "things binds");
	/* What Q2's filter, sortable and search keys will set. */
	for (i = 0; i < things.ncols; i++) {
		things.cols[i].filterable = things.cols[i].exposed;
		things.cols[i].sortable = things.cols[i].exposed &&
		    things.cols[i].type != COL_JSON;
		things.cols[i].searchable = strcmp(things.cols[i].name,
		    "t") == 0 || strcmp(things.cols[i].name, "v") == 0;
	}
	/* The seed's pxcodes: key v, the hidden id orders. */
	memset(&d, 0, sizeof(d));
	strlcpy(d.name, "px", sizeof(d.name));
	strlcpy(d.table, "things", sizeof(d.table));
	strlcpy(d.key, "v", sizeof(d.key));
	strlcpy(d.hidden, "id", sizeof(d.hidden));
	strlcpy(d.as_text, "x", sizeof(d.as_text));
	strlcpy(d.order, "id", sizeof(d.order));
	d.per_page = d.max_per_page = 100;
	d.ignore_unknown = 1;
	is_int(bind_doc(&d, doc, &px), 0, "px binds");
	free(doc);
}

static int
col(const struct resource *r, const char *name)
{
	int	i;

	for (i = 0; i < r->ncols; i++)
		if (strcmp(r->cols[i].name, name) == 0)
			return (i);
	return (-1);
}

/* Parse s on r: 0 or -1, err holding the message. */
static int
parse(const struct resource *r, const char *s, const char *prefer,
    struct query *q, char *err, size_t errlen)
{
	err[0] = '\0';
	return (query_parse(r, s, strlen(s), prefer, prefer != NULL ?
	    strlen(prefer) : 0, q, err, errlen));
}

static void
good(const struct resource *r, const char *s, const char *what)
{
	struct query	q;
	char		err[256];

	if (!ok(parse(r, s, NULL, &q, err, sizeof(err)) == 0, "%s: %s", what,
	    s))
		diag("  error: %s", err);
	else
		query_free(&q);
}

static void
bad(const struct resource *r, const char *s, const char *want)
{
	struct query	q;
	char		err[256];
	int		rv;

	rv = parse(r, s, NULL, &q, err, sizeof(err));
	if (!ok(rv == -1 && strstr(err, want) == err, "400 for %s: %s", s,
	    want))
		diag("  got rv %d, \"%s\"", rv, err);
}

static void
show(const char *sql, const char **p, int n)
{
	int	i;

	if (getenv("QUERY_TEST_SQL") == NULL)
		return;
	printf("# SQL %s\n", sql);
	for (i = 0; i < n; i++)
		printf("#   $%d = %s\n", i + 1, p[i]);
}

/* The statement of s on r contains want (and print it on request). */
static void
sql_has(const struct resource *r, const char *s, const char *prefer,
    int count, const char *want)
{
	static const char	*p[QUERY_MAX_PARAMS];
	struct query		 q;
	struct buf		 b;
	char			 err[256];
	int			 n = 0, rv;

	buf_init(&b, 0);
	if (parse(r, s, prefer, &q, err, sizeof(err)) == -1) {
		ok(0, "%s parses (%s)", s, err);
		return;
	}
	rv = count ? query_count_sql(r, &q, &b, p, &n) : query_sql(r, &q,
	    &b, p, &n);
	if (!ok(rv == 0 && strstr(BUF_PTR(&b), want) != NULL, "%s%s: %s",
	    count ? "count of " : "", s, want))
		diag("  got %s", BUF_PTR(&b));
	show(BUF_PTR(&b), p, n);
	query_free(&q);
	buf_free(&b);
}

static void
test_values(void)
{
	static const struct {
		const char	*col, *good, *bad, *why;
	} v[] = {
		{ "i2", "-32768", "32768", "out of range for smallint" },
		{ "i2", "7", "7.5", "not an integer" },
		{ "i4", "2147483647", "2147483648",
		    "out of range for integer" },
		{ "i4", "-1", "1e3", "not an integer" },
		{ "id", "9223372036854775807", "9223372036854775808",
		    "out of range for bigint" },
		{ "id", "0", "", "not an integer" },
		{ "n", "123456789012.345", "abc", "not a number" },
		{ "n", "-1.5e3", "1.", "not a number" },
		{ "n", "0.25", "01", "not a number" },
		{ "f4", "1.5", "NaN", "not a number" },
		{ "f8", "-2E-3", "+1", "not a number" },
		{ "b", "true", "yes", "not a boolean" },
		{ "b", "false", "TRUE", "not a boolean" },
		{ "d", "2024-02-29", "2023-02-29", "not a date" },
		{ "d", "2026-01-31", "2026-1-31", "not a date" },
		{ "ts", "2026-01-31T12:00:00.5", "2026-01-31T12:00Z",
		    "not an ISO 8601 timestamp" },
		{ "ts", "2026-01-31 23:59", "2026-01-31T24:00",
		    "not an ISO 8601 timestamp" },
		{ "tz", "2026-01-31T12:00:00Z", "2026-01-31T12:00:00+5",
		    "not an ISO 8601 timestamp" },
		{ "tz", "2026-01-31T12:00+05:30", "2026-01-31",
		    "not an ISO 8601 timestamp" },
		{ "u", "123e4567-e89b-12d3-a456-426614174000",
		    "123e4567-e89b-12d3-a456-42661417400g", "not a UUID" },
		{ "t", "caf\xc3\xa9", "caf\xc3", "not valid UTF-8" },
		{ "v", "longer than ten characters is fine", "\xed\xa0\x80",
		    "not valid UTF-8" },
		{ "j", NULL, "{}", "a json column is filtered by is.null" },
		{ "jb", NULL, "1", "a json column is filtered by is.null" },
	};
	const struct res_column	*c;
	size_t			 i;
	int			 ci;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ci = col(&things, v[i].col);
		c = &things.cols[ci];
		if (v[i].good != NULL)
			ok(query_check_value(c, v[i].good) == NULL, "%s takes "
			    "%s", v[i].col, v[i].good);
		ok(query_check_value(c, v[i].bad) != NULL &&
		    strstr(query_check_value(c, v[i].bad), v[i].why) != NULL,
		    "%s refuses %s: %s", v[i].col, v[i].bad, v[i].why);
	}
}

static void
test_filters(void)
{
	struct query	 q;
	char		 err[256];
	static const char *const ops[] = { "eq", "neq", "lt", "lte", "gt",
	    "gte" };
	static const char *const vals[][2] = {
		{ "i2", "3" }, { "i4", "-4" }, { "id", "5" }, { "n", "1.25" },
		{ "f4", "0.5" }, { "f8", "2e10" }, { "b", "true" },
		{ "d", "2026-01-31" }, { "ts", "2026-01-31T10:00" },
		{ "tz", "2026-01-31T10:00Z" },
		{ "u", "123e4567-e89b-12d3-a456-426614174000" },
		{ "t", "a.b" }, { "v", "x" }, { "c", "abc" },
		{ "x", "10.0.0.1" },
	};
	char		 s[256];
	size_t		 i, k;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			snprintf(s, sizeof(s), "%s=%s.%s", vals[i][0], ops[k],
			    vals[i][1]);
			good(&things, s, "filter");
		}
		snprintf(s, sizeof(s), "%s=in.(%s,%s)", vals[i][0],
		    vals[i][1], vals[i][1]);
		good(&things, s, "in");
		snprintf(s, sizeof(s), "%s=is.null&%s=not.null", vals[i][0],
		    vals[i][0]);
		good(&things, s, "is/not null");
	}
	good(&things, "j=is.null&jb=not.null", "json: null tests");
	good(&things, "t=pre.ab%25_&v=has.X&c=pre.a&x=has.10.", "pre/has");
	bad(&things, "n=pre.1", "n: pre.1: pre and has apply to text");
	bad(&things, "d=has.2026", "d: has.2026: pre and has apply to text");
	bad(&things, "j=eq.1", "j: eq.1: a json column is filtered by");
	bad(&things, "n=gte.abc", "n: gte.abc: not a number");
	bad(&things, "i4=in.(1,x)", "i4: in.(1,x): not an integer");
	bad(&things, "i4=in.()", "i4: in.(): the list is empty");
	bad(&things, "i4=in.1,2", "i4: in.1,2: in takes a list");
	bad(&things, "t=in.(\"a,b)", "t: in.(\"a,b): a quote is not closed");
	bad(&things, "t=in.(\"a\"b)", "t: in.(\"a\"b): a quoted value must");
	bad(&things, "t=in.(\"a\\x\")", "t: in.(\"a\\x\"): inside quotes");
	bad(&things, "t=in.(a(b)", "t: in.(a(b): quote a value");
	bad(&things, "i4=like.1", "i4: like.1: not op.value");
	bad(&things, "i4=5", "i4: 5: not op.value");
	bad(&things, "i4=is.5", "i4: is.5: is and not take null only");
	bad(&things, "i4=gt.1&i4=gt.2", "i4: gt.2: this operator is given");
	bad(&things, "secret=eq.1", "secret: unknown parameter");
	bad(&things, "nope=1", "nope: unknown parameter");
	bad(&things, "t=eq.%ff", "t: eq.?: not valid UTF-8");
	bad(&things, "t=eq.%00", "t: badly percent-encoded");
	good(&things, "i4=gte.1&i4=lt.9", "a range on one column");

	/* In-lists: quotes, escapes, commas, empty values. */
	if (ok(parse(&things, "t=in.(a,\"b,c\",\"d\\\"e\\\\\",,\"\")", NULL,
	    &q, err, sizeof(err)) == 0, "in-list with quotes parses")) {
		ok(q.nfilters == 1 && q.f[0].nvals == 5 &&
		    strcmp(q.f[0].vals[0], "a") == 0 &&
		    strcmp(q.f[0].vals[1], "b,c") == 0 &&
		    strcmp(q.f[0].vals[2], "d\"e\\") == 0 &&
		    strcmp(q.f[0].vals[3], "") == 0 &&
		    strcmp(q.f[0].vals[4], "") == 0, "in-list values");
		query_free(&q);
	}
	/* Percent-decoding, + as a space. */
	if (ok(parse(&things, "t=eq.a+b%2Bc%20d", NULL, &q, err,
	    sizeof(err)) == 0, "encoded value parses")) {
		ok(strcmp(q.f[0].vals[0], "a b+c d") == 0, "decoded: %s",
		    q.f[0].vals[0]);
		query_free(&q);
	}
	/* Too many filters, too many values. */
	{
		struct buf	 b;
		int		 n;

		/* Six operators on each of t and v, then on i4. */
		buf_init(&b, 0);
		for (n = 0; n < 17; n++)
			buf_appendf(&b, "%s%s=%s.%s", n > 0 ? "&" : "",
			    n < 6 ? "t" : n < 12 ? "v" : "i4", ops[n % 6],
			    n < 12 ? "x" : "1");
		bad(&things, BUF_PTR(&b), "i4: gt.1: too many filters");
		buf_reset(&b);
		buf_appendstr(&b, "i4=in.(");
		for (n = 0; n < QUERY_MAX_VALUES + 1; n++)
			buf_appendf(&b, "%s%d", n > 0 ? "," : "", n);
		buf_appendstr(&b, ")");
		bad(&things, BUF_PTR(&b), "i4: in.(0,1,2,");
		buf_free(&b);
	}
}

static void
test_params(void)
{
	struct query	q;
	char		err[256];

	/* The seed's page and per_page. */
	if (ok(parse(&px, "page=2&per_page=500&page=x", NULL, &q, err,
	    sizeof(err)) == 0, "first page wins, per_page capped")) {
		ok(q.page == 2 && q.per_page == 100 && !q.keyset &&
		    strcmp(q.lim, "100") == 0 && strcmp(q.off, "100") == 0,
		    "page 2 of 100: limit %s offset %s", q.lim, q.off);
		query_free(&q);
	}
	bad(&px, "page=0", "page must be a positive integer");
	bad(&px, "per_page=", "per_page must be a positive integer");
	bad(&px, "page=%zz", "page must be a positive integer");
	bad(&px, "page=100000001", "page must be a positive integer");
	good(&px, "foo=1&sort=v&q=x&t=eq.1&%zz=1&bar=%zz", "px ignores "
	    "what the seed ignored");
	good(&px, "fields=v", "px: fields");
	bad(&px, "fields=id", "fields: id: not a field");
	bad(&px, "cursor=abc&page=1", "cursor: not with page");
	bad(&things, "sort=t&sort=v", "sort: given twice");
	bad(&things, "fields=t&fields=v", "fields: given twice");
	bad(&things, "q=a&q=b", "q: given twice");
	bad(&things, "cursor=a&cursor=b", "cursor: given twice");
	bad(&things, "q=", "q: must not be empty");
	bad(&things, "q=%c3", "q: not valid UTF-8");
	{
		char	s[512];

		memset(s, 0, sizeof(s));
		strlcpy(s, "q=", sizeof(s));
		memset(s + 2, 'a', 200);
		good(&things, s, "q: 200 characters");
		s[202] = 'a';
		bad(&things, s, "q: at most 200 characters");
	}
	bad(&things, "sort=j", "sort: j: not a sortable column");
	bad(&things, "sort=secret", "sort: secret: not a sortable column");
	bad(&things, "sort=t,", "sort: t,: not a list");
	bad(&things, "sort=,t", "sort: ,t: not a list");
	bad(&things, "sort=", "sort: : not a list");
	bad(&things, "sort=t,-t", "sort: t: given twice");
	bad(&things, "fields=", "fields: : not a list");
	bad(&things, "fields=t,,v", "fields: t,,v: not a list");

	/* Sort: the key completes it, unless given. */
	if (ok(parse(&things, "sort=-n,t", NULL, &q, err, sizeof(err)) == 0,
	    "sort parses")) {
		ok(q.nsort == 3 && q.sort[0] == col(&things, "n") &&
		    q.sort_desc[0] && q.sort[1] == col(&things, "t") &&
		    !q.sort_desc[1] && q.sort[2] == things.key &&
		    !q.sort_desc[2] && q.keyset, "sort -n,t,id; keyset");
		query_free(&q);
	}
	if (ok(parse(&things, "sort=-id,n", NULL, &q, err, sizeof(err)) == 0,
	    "sort with the key parses")) {
		ok(q.nsort == 2 && q.sort_desc[0], "the key not appended");
		query_free(&q);
	}
	if (ok(parse(&things, "", NULL, &q, err, sizeof(err)) == 0,
	    "no parameters")) {
		ok(q.nsort == 2 && q.sort[0] == col(&things, "d") &&
		    q.sort_desc[0] && q.sort[1] == things.key && !q.keyset &&
		    q.per_page == 20 && q.count == QCOUNT_EXACT &&
		    !q.count_preferred, "declared order, offset, exact");
		query_free(&q);
	}
	/* Fields: r->sel order, the key always. */
	if (ok(parse(&things, "fields=v,url,b", NULL, &q, err,
	    sizeof(err)) == 0, "fields parses")) {
		ok(q.nfields == 3 && q.fields[0] == things.key &&
		    q.fields[1] == col(&things, "b") &&
		    q.fields[2] == col(&things, "v") && !q.keyset,
		    "fields id, b, v; offset paging");
		query_free(&q);
	}
	/* Keyset: the default for the new features without page=. */
	if (ok(parse(&things, "i4=eq.1&page=1", NULL, &q, err,
	    sizeof(err)) == 0, "filter with page")) {
		ok(!q.keyset, "page= keeps offset paging");
		query_free(&q);
	}
	if (ok(parse(&things, "q=abc&per_page=7", NULL, &q, err,
	    sizeof(err)) == 0, "q without page")) {
		ok(q.keyset && strcmp(q.lim, "8") == 0 &&
		    strcmp(q.search_pat, "%abc%") == 0, "keyset, limit 8");
		query_free(&q);
	}
}

static void
test_prefer(void)
{
	static const struct {
		const char		*h;
		enum query_count	 want;
		int			 preferred;
	} p[] = {
		{ "count=exact", QCOUNT_EXACT, 1 },
		{ "count=estimated", QCOUNT_ESTIMATED, 1 },
		{ "respond-async, count=none", QCOUNT_NONE, 1 },
		{ "Count = \"Estimated\"; x=1", QCOUNT_ESTIMATED, 1 },
		{ "count=planned", QCOUNT_EXACT, 0 },
		{ "counted=none", QCOUNT_EXACT, 0 },
		{ "return=minimal", QCOUNT_EXACT, 0 },
		{ "", QCOUNT_EXACT, 0 },
	};
	struct query	q;
	char		err[256];
	size_t		i;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		parse(&things, "", p[i].h, &q, err, sizeof(err));
		ok(q.count == p[i].want && q.count_preferred ==
		    p[i].preferred, "Prefer: %s", p[i].h);
		query_free(&q);
	}
	things.decl.count_mode = RES_COUNT_ESTIMATED;
	parse(&things, "", NULL, &q, err, sizeof(err));
	ok(q.count == QCOUNT_ESTIMATED, "count_mode estimated: default");
	query_free(&q);
	things.decl.count_mode = RES_COUNT_AUTO;
}

static void
canon_is(const struct resource *r, const char *s, const char *prefer,
    const char *want)
{
	struct query	q;
	char		err[256];

	if (parse(r, s, prefer, &q, err, sizeof(err)) == -1) {
		ok(0, "%s parses (%s)", s, err);
		return;
	}
	if (!ok(strcmp(q.canon, want) == 0, "canon of %s", s))
		diag("  got  \"%s\"\n#   want \"%s\"", q.canon, want);
	ok(q.canon_link == strcspn(q.canon, " "), "canon_link of %s", s);
	query_free(&q);
}

static void
test_canon(void)
{
	struct query	q, q2;
	char		err[256];

	canon_is(&things, "", NULL, "per_page=20 count=exact offset");
	canon_is(&things, "v=eq.b&n=lt.5&i4=in.(2,1)&n=gte.1&per_page=5",
	    "count=none", "i4=in.(2,1)&n=lt.5&n=gte.1&v=eq.b&per_page=5 "
	    "count=none keyset");
	canon_is(&things, "sort=-n&fields=v,b&q=a%20b&t=in.(\"x,y\",z)", NULL,
	    "t=in.(%22x,y%22,z)&q=a%20b&fields=id,b,v&per_page=20&"
	    "sort=-n,id count=exact keyset");
	canon_is(&things, "t=eq.%26%3D%2B%25", NULL,
	    "t=eq.%26%3D%2B%25&per_page=20 count=exact keyset");
	canon_is(&things, "fields=id,i2,i4,n,f4,f8,b,d,ts,tz,u,j,jb,t,v,c,x",
	    NULL, "per_page=20 count=exact offset");
	/* Its link part reads back as the same query. */
	parse(&things, "sort=-n&t=in.(\"a\\\\b\",\"c(d)\")&q=x+y&page=3",
	    NULL, &q, err, sizeof(err));
	ok(query_parse(&things, q.canon, q.canon_link, NULL, 0, &q2, err,
	    sizeof(err)) == 0 && strcmp(q2.canon + q2.canon_link,
	    " count=exact keyset") == 0 && strncmp(q.canon, q2.canon,
	    q.canon_link) == 0, "the link part round-trips: %.*s",
	    (int)q.canon_link, q.canon);
	query_free(&q);
	query_free(&q2);
}

static void
test_sql(void)
{
	sql_has(&things, "", NULL, 0, "SELECT id, i2, i4, n, f4, f8, b, d, "
	    "ts, tz, u, j, jb, t, v, c, x, d AS \"starterd_k0\", id AS "
	    "\"starterd_k1\" FROM things ORDER BY d DESC, id LIMIT $1::int "
	    "OFFSET $2::bigint");
	sql_has(&px, "page=3", NULL, 0, "SELECT i2, i4, n, f4, f8, b, d, ts, "
	    "tz, u, j, jb, t, v, c, x, secret, id AS \"starterd_k0\"");
	sql_has(&px, "page=3", NULL, 0, "id AS \"starterd_k0\", v AS "
	    "\"starterd_k1\" FROM things ORDER BY id, v LIMIT $1::int "
	    "OFFSET $2::bigint");
	sql_has(&things, "fields=b&page=1", NULL, 0, "SELECT id, NULL AS i2, "
	    "NULL AS i4, NULL AS n, NULL AS f4, NULL AS f8, b, NULL AS d");
	sql_has(&things, "i4=eq.1&n=neq.2&f4=lt.3&f8=lte.4&i2=gt.5&d=gte."
	    "2026-01-01", NULL, 0, " WHERE d >= $1 AND f4 < $2 AND f8 <= $3 "
	    "AND i2 > $4 AND i4 = $5 AND n <> $6 ORDER BY d DESC, id "
	    "LIMIT $7::int");
	sql_has(&things, "t=in.(a,b,c)&b=is.null&u=not.null", NULL, 0,
	    " WHERE b IS NULL AND t IN ($1, $2, $3) AND u IS NOT NULL");
	sql_has(&things, "t=pre.a_b&v=has.50%25", NULL, 0, " WHERE t LIKE $1 "
	    "AND v ILIKE $2 ");
	sql_has(&things, "x=eq.10.0.0.1&x=pre.10.", NULL, 0, " WHERE x::text "
	    "= $1 AND x::text LIKE $2 ");
	sql_has(&things, "q=abc&i4=eq.1", NULL, 0, " WHERE i4 = $1 AND (t "
	    "ILIKE $2 OR v ILIKE $2) ");
	sql_has(&things, "i4=eq.1", NULL, 1, "SELECT count(*) FROM things "
	    "WHERE i4 = $1");
	sql_has(&things, "", "count=estimated", 1, "SELECT CASE WHEN "
	    "reltuples >= 0 THEN reltuples::bigint ELSE (SELECT count(*) "
	    "FROM things) END FROM pg_class WHERE oid = $1::regclass");
	sql_has(&things, "i4=eq.1&q=x", "count=estimated", 1,
	    "SELECT starterd_count_estimate($1, $2::text[])");
	{
		static const char	*p[QUERY_MAX_PARAMS];
		struct query		 q;
		struct buf		 b;
		char			 err[256];
		int			 n;

		buf_init(&b, 0);
		parse(&things, "t=in.(\"a\\\"b\",c)&q=x", "count=estimated",
		    &q, err, sizeof(err));
		ok(query_count_sql(&things, &q, &b, p, &n) == 0 && n == 2 &&
		    strcmp(p[0], "SELECT 1 FROM things WHERE t IN ($1, $2) "
		    "AND (t ILIKE $3 OR v ILIKE $3)") == 0 &&
		    strcmp(p[1], "{\"a\\\"b\",\"c\",\"%x%\"}") == 0,
		    "estimate's parameters: %s | %s", p[0], p[1]);
		query_free(&q);
		buf_free(&b);
	}
	/* The LIKE escapes. */
	{
		struct query	q;
		char		err[256];

		parse(&things, "t=pre.a%25b_c%5Cd&v=has.x", NULL, &q, err,
		    sizeof(err));
		ok(strcmp(q.f[0].pat, "a\\%b\\_c\\\\d%") == 0 &&
		    strcmp(q.f[1].pat, "%x%") == 0, "LIKE patterns %s %s",
		    q.f[0].pat, q.f[1].pat);
		query_free(&q);
	}
}

/*
 * A result row of a page: lead columns of the caller's, the select list,
 * then the sort values.
 */
static PGresult *
page_result(const struct resource *r, const struct query *q,
    const char *const *sortvals, int lead)
{
	PGresAttDesc	 att[RES_MAX_COLS * 2 + 1];
	PGresult	*res;
	char		 names[RES_MAX_COLS * 2 + 1][16];
	int		 i, n = lead + r->nsel + q->nsort;

	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	memset(att, 0, sizeof(att));
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		att[i].name = names[i];
		att[i].typid = 25;
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	PQsetResultAttrs(res, n, att);
	for (i = 0; i < lead + r->nsel; i++)
		PQsetvalue(res, 0, i, "1", 1);
	for (i = 0; i < q->nsort; i++)
		PQsetvalue(res, 0, lead + r->nsel + i, (char *)sortvals[i],
		    sortvals[i] != NULL ? (int)strlen(sortvals[i]) : -1);
	return (res);
}

/* The keyset predicate of s with a cursor on sortvals. */
static void
keyset_has(const char *s, const char *const *sortvals, int backward,
    const char *want)
{
	static const char	*p[QUERY_MAX_PARAMS];
	struct query		 q;
	struct buf		 b;
	PGresult		*res;
	char			 err[256], tok[QUERY_CURSOR_MAX + 1];
	char			 qs[QUERY_CURSOR_MAX + 512];
	int			 n;

	buf_init(&b, 0);
	parse(&things, s, NULL, &q, err, sizeof(err));
	res = page_result(&things, &q, sortvals, 0);
	ok(query_cursor(&things, &q, res, 0, 0, backward, key,
	    sizeof(key) - 1, tok, sizeof(tok)) == 0, "cursor for %s", s);
	PQclear(res);
	query_free(&q);
	snprintf(qs, sizeof(qs), "%s&cursor=%s", s, tok);
	parse(&things, qs, NULL, &q, err, sizeof(err));
	ok(query_cursor_open(&things, &q, q.cursor, key, sizeof(key) - 1) ==
	    0 && q.backward == backward, "cursor opens for %s", s);
	if (!ok(query_sql(&things, &q, &b, p, &n) == 0 &&
	    strstr(BUF_PTR(&b), want) != NULL, "%s%s: %s", s, backward ?
	    " (back)" : "", want))
		diag("  got %s", BUF_PTR(&b));
	show(BUF_PTR(&b), p, n);
	query_free(&q);
	buf_free(&b);
}

static void
test_cursor(void)
{
	static const char *const v3[] = { "5", "hello", "42" };
	static const char *const v3n[] = { NULL, "hello", "42" };
	static const char *const v2[] = { "7", "42" };
	static const char *const v2n[] = { NULL, "42" };
	struct query	 q, q2;
	PGresult	*res;
	char		 err[256], tok[QUERY_CURSOR_MAX + 1];
	char		 qs[QUERY_CURSOR_MAX + 64];
	size_t		 i;

	/* Round trip, values and NULL. */
	parse(&things, "sort=-n,t&i4=gt.0", NULL, &q, err, sizeof(err));
	res = page_result(&things, &q, v3n, 0);
	ok(query_cursor(&things, &q, res, 0, 0, 1, key, sizeof(key) - 1, tok,
	    sizeof(tok)) == 0, "cursor made: %s", tok);
	ok(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == strlen(tok), "base64url, no padding");
	ok(query_cursor(&things, &q, res, 0, 0, 1, key, sizeof(key) - 1, qs,
	    10) == -1, "a cursor that does not fit: -1");
	ok(query_cursor(&things, &q, res, 1, 0, 1, key, sizeof(key) - 1, qs,
	    sizeof(qs)) == -1, "no such row: -1");
	PQclear(res);
	query_free(&q);
	snprintf(qs, sizeof(qs), "i4=gt.0&per_page=3&fields=t&sort=-n,t&"
	    "cursor=%s", tok);
	ok(parse(&things, qs, NULL, &q, err, sizeof(err)) == 0 && q.keyset,
	    "cursor= parses, keyset");
	ok(query_cursor_open(&things, &q, q.cursor, key, sizeof(key) - 1) ==
	    0 && q.ncursor == 3 && q.backward == 1 && q.cursor_vals[0] ==
	    NULL && strcmp(q.cursor_vals[1], "hello") == 0 &&
	    strcmp(q.cursor_vals[2], "42") == 0, "round trip: NULL, hello, 42, "
	    "backward (per_page and fields may change)");
	ok(strstr(q.canon, "cursor") == NULL, "the canon has no cursor");
	query_free(&q);

	/* Tampered: every byte flipped in turn, each refused. */
	{
		int	refused = 1;
		char	t[sizeof(tok)];

		for (i = 0; i < strlen(tok); i++) {
			strlcpy(t, tok, sizeof(t));
			t[i] = t[i] == 'A' ? 'B' : 'A';
			parse(&things, "i4=gt.0&sort=-n,t", NULL, &q, err,
			    sizeof(err));
			if (query_cursor_open(&things, &q, t, key,
			    sizeof(key) - 1) != -1 || q.ncursor != 0)
				refused = 0;
			query_free(&q);
		}
		ok(refused, "a flipped character: -1 (all %zu)", strlen(tok));
		strlcpy(t, tok, sizeof(t));
		t[strlen(t) - 1] = '\0';
		parse(&things, "i4=gt.0&sort=-n,t", NULL, &q, err, sizeof(err));
		ok(query_cursor_open(&things, &q, t, key, sizeof(key) - 1) ==
		    -1, "a truncated cursor: -1");
		ok(query_cursor_open(&things, &q, tok, (const unsigned char *)
		    "another key", 11) == -1, "another key: -1");
		ok(query_cursor_open(&things, &q, "!!!!", key,
		    sizeof(key) - 1) == -1, "not base64url: -1");
		ok(query_cursor_open(&things, &q, "", key,
		    sizeof(key) - 1) == -1, "empty: -1");
		query_free(&q);
	}
	/* Another query's cursor. */
	{
		static const char *const other[] = { "sort=n,t&i4=gt.0",
		    "sort=-n,t&i4=gt.1", "sort=-n,t", "sort=-n,t&i4=gt.0&q=a",
		    "sort=-n&i4=gt.0", "i4=gt.0" };

		for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
			parse(&things, other[i], NULL, &q, err, sizeof(err));
			ok(query_cursor_open(&things, &q, tok, key,
			    sizeof(key) - 1) == -1, "a cursor of another "
			    "query: %s: -1", other[i]);
			query_free(&q);
		}
		parse(&px, "i4=gt.0&sort=-n,t", NULL, &q, err, sizeof(err));
		ok(query_cursor_open(&px, &q, tok, key, sizeof(key) - 1) == -1,
		    "a cursor of another resource: -1");
		query_free(&q);
	}
	/* first_field: the select list after the caller's own columns. */
	parse(&things, "sort=t", NULL, &q, err, sizeof(err));
	{
		static const char *const vt[] = { "tee", "9" };

		res = page_result(&things, &q, vt, 1);
		ok(query_cursor(&things, &q, res, 0, 1, 0, key,
		    sizeof(key) - 1, tok, sizeof(tok)) == 0 &&
		    query_cursor_open(&things, &q, tok, key, sizeof(key) - 1) ==
		    0 && strcmp(q.cursor_vals[0], "tee") == 0 &&
		    strcmp(q.cursor_vals[1], "9") == 0 && !q.backward,
		    "first_field 1: the values after it");
		PQclear(res);
	}
	query_free(&q);
	memset(&q2, 0, sizeof(q2));
	query_free(&q2);

	/*
	 * The predicates.  i4 and v are NOT NULL, n and t nullable; id the
	 * key.  Row comparison: all NOT NULL, one direction.
	 */
	keyset_has("sort=i4", v2, 0, " WHERE (i4, id) > ($1, $2) ORDER BY "
	    "i4, id LIMIT $3::int");
	keyset_has("sort=i4", v2, 1, " WHERE (i4, id) < ($1, $2) ORDER BY "
	    "i4 DESC, id DESC LIMIT $3::int");
	keyset_has("sort=-v,-id&b=eq.true", v2, 0, " WHERE b = $1 AND (v, "
	    "id) < ($2, $3) ORDER BY v DESC, id DESC LIMIT $4::int");
	/* Mixed directions: expanded. */
	keyset_has("sort=-i4", v2, 0, " WHERE ((i4 < $1) OR (i4 = $1 AND "
	    "id > $2)) ORDER BY i4 DESC, id LIMIT $3::int");
	keyset_has("sort=-i4", v2, 1, " WHERE ((i4 > $1) OR (i4 = $1 AND "
	    "id < $2)) ORDER BY i4, id DESC LIMIT $3::int");
	/* A nullable column, its value not NULL. */
	keyset_has("sort=n", v2, 0, " WHERE (((n > $1 OR n IS NULL)) OR "
	    "(n = $1 AND id > $2)) ORDER BY n, id");
	keyset_has("sort=-n", v2, 0, " WHERE ((n < $1) OR (n = $1 AND id > "
	    "$2)) ORDER BY n DESC, id");
	keyset_has("sort=n", v2, 1, " WHERE ((n < $1) OR (n = $1 AND id < "
	    "$2)) ORDER BY n DESC, id DESC");
	keyset_has("sort=-n", v2, 1, " WHERE (((n > $1 OR n IS NULL)) OR "
	    "(n = $1 AND id < $2)) ORDER BY n, id DESC");
	/* Its value NULL: NULL is the greatest either way. */
	keyset_has("sort=n", v2n, 0, " WHERE ((n IS NULL AND id > $1)) "
	    "ORDER BY n, id");
	keyset_has("sort=-n", v2n, 0, " WHERE ((n IS NOT NULL) OR (n IS NULL "
	    "AND id > $1)) ORDER BY n DESC, id");
	keyset_has("sort=n", v2n, 1, " WHERE ((n IS NOT NULL) OR (n IS NULL "
	    "AND id < $1)) ORDER BY n DESC, id DESC");
	keyset_has("sort=-n", v2n, 1, " WHERE ((n IS NULL AND id < $1)) "
	    "ORDER BY n, id DESC");
	/* Three columns, the first NULL. */
	keyset_has("sort=-n,t", v3n, 0, " WHERE ((n IS NOT NULL) OR (n IS "
	    "NULL AND (t > $1 OR t IS NULL)) OR (n IS NULL AND t = $1 AND "
	    "id > $2)) ORDER BY n DESC, t, id");
	keyset_has("sort=-n,t", v3, 0, " WHERE ((n < $1) OR (n = $1 AND (t > "
	    "$2 OR t IS NULL)) OR (n = $1 AND t = $2 AND id > $3))");
}

/*
 * With QUERY_TEST_DSN (a database holding the table things, see
 * t/019_query.t), walk every page of s forward by cursor, then back from
 * the last one, and compare with the order the server gives.
 */
static void
test_walk(PGconn *db, const char *s)
{
	static const char	*p[QUERY_MAX_PARAMS];
	static long long	 want[2000], got[2000], back[2000];
	struct query		 q;
	struct buf		 b;
	PGresult		*res;
	char			 err[256], tok[QUERY_CURSOR_MAX + 1];
	char			 qs[QUERY_CURSOR_MAX + 256];
	int			 n, i, rows, nwant = 0, ngot = 0, nback = 0;
	int			 dir = 0, last = 0, same;

	buf_init(&b, 0);
	/* The whole answer in one statement: the reference. */
	snprintf(qs, sizeof(qs), "%s&page=1", s);
	parse(&things, qs, NULL, &q, err, sizeof(err));
	snprintf(q.lim, sizeof(q.lim), "2000");
	query_sql(&things, &q, &b, p, &n);
	res = PQexecParams(db, BUF_PTR(&b), n, NULL, p, NULL, NULL, 0);
	for (i = 0; i < PQntuples(res) && nwant < 2000; i++)
		want[nwant++] = strtoll(PQgetvalue(res, i,
		    things.selpos[things.key]), NULL, 10);
	PQclear(res);
	query_free(&q);
	snprintf(qs, sizeof(qs), "%s&per_page=7", s);
	for (;;) {
		if (parse(&things, qs, NULL, &q, err, sizeof(err)) == -1 ||
		    (q.cursor[0] != '\0' && query_cursor_open(&things, &q,
		    q.cursor, key, sizeof(key) - 1) == -1) ||
		    query_sql(&things, &q, &b, p, &n) == -1)
			break;
		res = PQexecParams(db, BUF_PTR(&b), n, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			diag("%s: %s", BUF_PTR(&b), PQerrorMessage(db));
			PQclear(res);
			query_free(&q);
			break;
		}
		/* Backward, the rows come nearest the cursor first. */
		rows = PQntuples(res) > 7 ? 7 : PQntuples(res);
		for (i = 0; i < rows && ngot < 2000 && nback < 2000; i++)
			if (dir)
				back[nback++] = strtoll(PQgetvalue(res, i,
				    things.selpos[things.key]), NULL, 10);
			else
				got[ngot++] = strtoll(PQgetvalue(res, i,
				    things.selpos[things.key]), NULL, 10);
		if (PQntuples(res) <= 7 && dir) {
			PQclear(res);
			query_free(&q);
			break;
		}
		if (PQntuples(res) <= 7) {
			/* The last page: walk back from its first row. */
			last = rows;
			dir = 1;
			i = 0;
		} else
			i = rows - 1;
		if (rows == 0 || query_cursor(&things, &q, res, i, 0, dir, key,
		    sizeof(key) - 1, tok, sizeof(tok)) == -1) {
			PQclear(res);
			query_free(&q);
			break;
		}
		PQclear(res);
		query_free(&q);
		snprintf(qs, sizeof(qs), "%s&per_page=7&cursor=%s", s, tok);
	}
	same = ngot == nwant && nwant > 0;
	for (i = 0; same && i < ngot; i++)
		same = got[i] == want[i];
	ok(same, "walk forward by cursor, %s: %d rows, as ordered", s, ngot);
	same = nback == nwant - last;
	for (i = 0; same && i < nback; i++)
		same = back[i] == want[nwant - last - 1 - i];
	ok(same, "walk back by cursor from the last page, %s: %d rows", s,
	    nback);
	buf_free(&b);
}

static void
test_db(void)
{
	static const char *const walks[] = { "sort=-n,t", "sort=n,-t",
	    "sort=i4", "sort=-i4,n", "sort=t&i4=gt.2", "sort=-t,-n",
	    "q=t1&sort=n", "n=is.null&sort=-t", "i4=gte.0" };
	PGconn	*db;
	size_t	 i;

	if (getenv("QUERY_TEST_DSN") == NULL)
		return;
	db = PQconnectdb(getenv("QUERY_TEST_DSN"));
	if (!ok(PQstatus(db) == CONNECTION_OK, "connected"))
		diag("%s", PQerrorMessage(db));
	else
		for (i = 0; i < sizeof(walks) / sizeof(walks[0]); i++)
			test_walk(db, walks[i]);
	PQfinish(db);
}

int
main(void)
{
	setup();
	test_values();
	test_filters();
	test_params();
	test_prefer();
	test_canon();
	test_sql();
	test_cursor();
	test_db();
	schema_free(&things);
	schema_free(&px);
	return (done_testing());
}
