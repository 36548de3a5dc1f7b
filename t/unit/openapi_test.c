/*
 * openapi_test: openapi_build() (src/api/api_discovery.c) on resources
 * filled by hand the way schema.c binds them: pxcodes as declared by
 * resconf_builtin() (id hidden, key pxcode, procedure required), an
 * encounters-like table (identity key, numeric(10,2), date, boolean,
 * nullable text, timestamptz read-only), one of every other supported
 * type with read = anyone and write = none, and a group-only one.  The
 * document is parsed back with cJSON and checked: paths and methods,
 * JSON Schema types and bounds (int64 and numeric bounds in their exact
 * digits), request bodies, that every $ref resolves, that operation ids
 * are unique, that the auth mode picks the security schemes, the query
 * parameters of the collections (fields, sort, q, a filter per
 * filterable column, whose patterns accept what query.c takes), and that
 * the bound on the output holds.  Prints TAP.
 */
#include <sys/types.h>

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include <cjson/cJSON.h>

#include "starterd.h"
#include "tap.h"

#define BASE	"http://127.0.0.1:5000"
#define PFX	STARTERD_API_PREFIX

struct config		*conf;
static struct config	 cf;	/* zero: --auth both */

/* The registry is data/resource.c's; the builder is handed its array. */
int
resource_count(void)
{
	return (0);
}

struct resource *
resource_get(int i)
{
	(void)i;
	return (NULL);
}

int
db_retry_after(void)
{
	return (1);
}

enum db_state
db_status(void)
{
	return (DB_READY);
}

/* The handlers' link base (api_link.c); the builder is handed BASE. */
void
api_link_base(struct client *c, struct buf *b)
{
	(void)c;
	buf_appendstr(b, BASE);
}

static struct resource	 res[5];

/* cJSON's allocations, the fail_at-th failing (0: none). */
static long	 nallocs, fail_at;

static void *
test_malloc(size_t n)
{
	if (fail_at != 0 && ++nallocs == fail_at)
		return (NULL);
	return (malloc(n));
}

static struct res_column *
col(struct resource *r, const char *name, enum col_type t, const char *tn,
    int notnull)
{
	struct res_column	*c = &r->cols[r->ncols++];

	memset(c, 0, sizeof(*c));
	strlcpy(c->name, name, sizeof(c->name));
	snprintf(c->qname, sizeof(c->qname), "\"%s\"", name);
	c->type = t;
	strlcpy(c->type_name, tn, sizeof(c->type_name));
	c->maxlen = c->precision = c->scale = -1;
	c->notnull = notnull;
	c->exposed = 1;
	/* POST must give it: NOT NULL without a default. */
	c->required = notnull;
	return (c);
}

/* exposed[]: the exposed columns and url (-1), by name, as schema.c. */
static void
expose(struct resource *r)
{
	int	i, j, k, n = 0;

	for (i = 0; i < r->ncols; i++)
		if (r->cols[i].exposed)
			r->exposed[n++] = i;
	r->exposed[n++] = -1;
	for (i = 1; i < n; i++)
		for (j = i; j > 0; j--) {
			const char *a = r->exposed[j - 1] < 0 ? "url" :
			    r->cols[r->exposed[j - 1]].name;
			const char *b = r->exposed[j] < 0 ? "url" :
			    r->cols[r->exposed[j]].name;

			if (strcmp(a, b) <= 0)
				break;
			k = r->exposed[j];
			r->exposed[j] = r->exposed[j - 1];
			r->exposed[j - 1] = k;
		}
	r->nexposed = n;
}

static void
decl(struct resource *r, const char *name, const char *table)
{
	memset(r, 0, sizeof(*r));
	strlcpy(r->decl.name, name, sizeof(r->decl.name));
	strlcpy(r->decl.table, table, sizeof(r->decl.table));
	strlcpy(r->nspname, "public", sizeof(r->nspname));
	strlcpy(r->relname, table, sizeof(r->relname));
	r->decl.per_page = 100;
	r->decl.max_per_page = 100;
}

static void
fill(void)
{
	struct resource		*r;
	struct res_column	*c;
	int			 i;

	r = &res[0];
	decl(r, "pxcodes", "starter_pxcodes");
	c = col(r, "id", COL_INT4, "integer", 1);
	c->has_default = 1;
	c->required = 0;
	c->exposed = 0;				/* hidden = id */
	c = col(r, "pxcode", COL_VARCHAR, "character varying(10)", 1);
	c->maxlen = 10;
	c = col(r, "procedure", COL_VARCHAR, "character varying(80)", 0);
	c->maxlen = 80;
	c->required = 1;			/* required = procedure */
	c->searchable = 1;			/* search = procedure */
	r->key = 1;
	expose(r);

	r = &res[1];
	decl(r, "encounters", "starter_encounters");
	c = col(r, "id", COL_INT4, "integer", 1);
	c->has_default = c->generated = c->read_only = 1;
	c->required = 0;
	c = col(r, "pxcode", COL_VARCHAR, "character varying(10)", 1);
	c->maxlen = 10;
	(void)col(r, "seen_on", COL_DATE, "date", 1);
	c = col(r, "charge", COL_NUMERIC, "numeric(10,2)", 1);
	c->precision = 10;
	c->scale = 2;
	c = col(r, "paid", COL_BOOL, "boolean", 1);
	c->has_default = 1;
	c->required = 0;
	(void)col(r, "note", COL_TEXT, "text", 0);
	c = col(r, "created_at", COL_TIMESTAMPTZ,
	    "timestamp with time zone", 1);
	c->has_default = c->read_only = 1;
	c->required = 0;
	r->key = 0;
	r->decl.per_page = 20;
	r->decl.max_per_page = 50;
	/* The sample's filter, sort and search. */
	for (i = 1; i <= 5; i++)
		r->cols[i].filterable = 1;
	r->cols[0].sortable = r->cols[2].sortable = r->cols[3].sortable = 1;
	r->cols[5].searchable = 1;
	expose(r);

	r = &res[2];
	decl(r, "kinds", "kinds");
	r->is_view = 1;
	(void)col(r, "k", COL_UUID, "uuid", 1);
	(void)col(r, "big", COL_INT8, "bigint", 0);
	(void)col(r, "small", COL_INT2, "smallint", 0);
	(void)col(r, "r4", COL_FLOAT4, "real", 0);
	(void)col(r, "r8", COL_FLOAT8, "double precision", 0);
	(void)col(r, "n", COL_NUMERIC, "numeric", 0);
	c = col(r, "ch", COL_CHAR, "character(3)", 0);
	c->maxlen = 3;
	(void)col(r, "ts", COL_TIMESTAMP, "timestamp without time zone", 0);
	(void)col(r, "j", COL_JSON, "json", 0);
	(void)col(r, "jb", COL_JSONB, "jsonb", 1);
	(void)col(r, "odd", COL_ASTEXT, "inet", 0);
	for (i = 0; i < r->ncols; i++)
		r->cols[i].filterable = 1;	/* one filter of each type */
	r->key = 0;
	r->decl.read = RES_ACCESS_ANYONE;
	r->decl.write = RES_ACCESS_NONE;
	expose(r);

	r = &res[3];
	decl(r, "staff_notes", "staff_notes");
	(void)col(r, "code", COL_TEXT, "text", 1);
	(void)col(r, "body", COL_TEXT, "text", 0);
	r->key = 0;
	r->decl.read = r->decl.write = RES_ACCESS_GROUP;
	strlcpy(r->decl.read_group, "staff", sizeof(r->decl.read_group));
	strlcpy(r->decl.write_group, "staff", sizeof(r->decl.write_group));
	expose(r);
}

/* root["a"]["b"]...: NULL-ended keys; NULL when a step is missing. */
static cJSON *
jget(cJSON *j, ...)
{
	va_list		 ap;
	const char	*k;

	va_start(ap, j);
	while (j != NULL && (k = va_arg(ap, const char *)) != NULL)
		j = cJSON_GetObjectItemCaseSensitive(j, k);
	va_end(ap);
	return (j);
}

static const char *
jstr(cJSON *j)
{
	return (cJSON_IsString(j) ? j->valuestring : "(none)");
}

/* Is s in the array a of strings? */
static int
jhas(cJSON *a, const char *s)
{
	cJSON	*e;

	cJSON_ArrayForEach(e, a)
		if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
			return (1);
	return (0);
}

/* "type": t, or [t, "null"] when nullable (and nothing else). */
static int
jtype(cJSON *s, const char *t, int nullable)
{
	cJSON	*ty = jget(s, "type", NULL);

	if (!nullable)
		return (cJSON_IsString(ty) && strcmp(ty->valuestring, t) == 0);
	return (cJSON_IsArray(ty) && cJSON_GetArraySize(ty) == 2 &&
	    jhas(ty, t) && jhas(ty, "null"));
}

static cJSON	*doc;
static int	 nrefs, badrefs, nops, dupops;
static char	 opids[256][128];

/* Resolve "#/components/K/N" in doc (N may hold dots, not slashes). */
static int
ref_ok(const char *ref)
{
	char	 kind[64], name[128];

	if (sscanf(ref, "#/components/%63[^/]/%127s", kind, name) != 2)
		return (0);
	return (jget(doc, "components", kind, name, NULL) != NULL);
}

/* Every $ref resolves; every operationId is unique. */
static void
walk(cJSON *j, int inops)
{
	cJSON	*e;
	int	 i;

	cJSON_ArrayForEach(e, j) {
		if (e->string != NULL && strcmp(e->string, "$ref") == 0) {
			nrefs++;
			if (!cJSON_IsString(e) || !ref_ok(e->valuestring)) {
				badrefs++;
				diag("unresolved $ref %s", jstr(e));
			}
		}
		if (inops && e->string != NULL &&
		    strcmp(e->string, "operationId") == 0 &&
		    cJSON_IsString(e)) {
			for (i = 0; i < nops; i++)
				if (strcmp(opids[i], e->valuestring) == 0)
					dupops++;
			if (nops < 256)
				strlcpy(opids[nops++], e->valuestring,
				    sizeof(opids[0]));
		}
		walk(e, inops);
	}
}

static cJSON *
build(struct resource *const *rs, int n, struct buf *b)
{
	buf_reset(b);
	if (openapi_build(b, BASE, rs, n) == -1)
		return (NULL);
	return (cJSON_Parse(BUF_PTR(b)));
}

/* A parameter, or the component its $ref names. */
static cJSON *
param_deref(cJSON *p)
{
	const char	*ref = jstr(jget(p, "$ref", NULL));
	char		 name[256];

	if (sscanf(ref, "#/components/parameters/%255s", name) == 1)
		return (jget(doc, "components", "parameters", name, NULL));
	return (p);
}

/* The parameters of an operation, "name:in,..." in their order. */
static void
param_names(cJSON *op, char *out, size_t len)
{
	cJSON	*e, *p;

	out[0] = '\0';
	cJSON_ArrayForEach(e, jget(op, "parameters", NULL)) {
		p = param_deref(e);
		if (out[0] != '\0')
			strlcat(out, ",", len);
		strlcat(out, jstr(jget(p, "name", NULL)), len);
		strlcat(out, ":", len);
		strlcat(out, jstr(jget(p, "in", NULL)), len);
	}
}

/* The parameter named n of an operation (dereferenced), or NULL. */
static cJSON *
param_find(cJSON *op, const char *n)
{
	cJSON	*e, *p;

	cJSON_ArrayForEach(e, jget(op, "parameters", NULL)) {
		p = param_deref(e);
		if (strcmp(jstr(jget(p, "name", NULL)), n) == 0)
			return (p);
	}
	return (NULL);
}

/*
 * The strings of an array, "a,b"; keys: the member names of an object
 * instead (its "parameters" left out: the methods of a path).
 */
static void
jlist(cJSON *a, int keys, char *out, size_t len)
{
	cJSON	*e;

	out[0] = '\0';
	cJSON_ArrayForEach(e, a) {
		if (keys && strcmp(e->string, "parameters") == 0)
			continue;
		if (out[0] != '\0')
			strlcat(out, ",", len);
		strlcat(out, keys ? e->string : jstr(e), len);
	}
}

/* Does the pattern of schema Filter.<cls> match v (POSIX ERE)? */
static int
filter_matches(const char *cls, const char *v)
{
	char	 name[64];
	regex_t	 re;
	int	 m;

	snprintf(name, sizeof(name), "Filter.%s", cls);
	if (regcomp(&re, jstr(jget(doc, "components", "schemas", name,
	    "pattern", NULL)), REG_EXTENDED | REG_NOSUB) != 0)
		return (-1);
	m = regexec(&re, v, 0, NULL, 0) == 0;
	regfree(&re);
	return (m);
}


int
main(void)
{
	struct resource	*rs[RES_MAX];
	struct buf	 b;
	cJSON		*s, *p, *e, *q;
	char		 m[512], n[512];
	const char	*text, *out;
	FILE		*fp;
	int		 i, j;

	conf = &cf;
	fill();
	for (i = 0; i < 4; i++)
		rs[i] = &res[i];
	buf_init(&b, CLIENT_MAX_OUTPUT);

	doc = build(rs, 4, &b);
	if (!ok(doc != NULL, "openapi_build: a JSON document")) {
		diag("%s", BUF_PTR(&b));
		return (done_testing());
	}
	text = BUF_PTR(&b);
	/* For a look, or a linter: OPENAPI_TEST_OUT=file. */
	if ((out = getenv("OPENAPI_TEST_OUT")) != NULL &&
	    (fp = fopen(out, "w")) != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
	ok(BUF_LEN(&b) > 0 && text[BUF_LEN(&b) - 1] == '\n' &&
	    strchr(text, '\n') == text + BUF_LEN(&b) - 1,
	    "one line and a newline (cJSON_PrintUnformatted)");
	ok(strcmp(jstr(jget(doc, "openapi", NULL)), "3.1.0") == 0,
	    "openapi is 3.1.0");
	ok(strcmp(jstr(jget(cJSON_GetArrayItem(jget(doc, "servers", NULL), 0),
	    "url", NULL)), BASE) == 0, "servers[0].url is the base");
	ok(strcmp(jstr(jget(doc, "info", "version", NULL)), PACKAGE_VERSION)
	    == 0, "info.version is the package's");

	/* Paths and methods. */
	jlist(jget(doc, "paths", PFX "/pxcodes/", NULL), 1, m, sizeof(m));
	ok(strcmp(m, "get,head,post") == 0, "pxcodes collection: %s", m);
	jlist(jget(doc, "paths", PFX "/pxcodes/{pxcode}", NULL), 1, m,
	    sizeof(m));
	ok(strcmp(m, "get,head,put,patch,delete") == 0, "pxcodes item: %s",
	    m);
	jlist(jget(doc, "paths", PFX "/encounters/{id}", NULL), 1, m,
	    sizeof(m));
	ok(strcmp(m, "get,head,put,patch,delete") == 0,
	    "encounters item by its key id: %s", m);
	jlist(jget(doc, "paths", PFX "/kinds/", NULL), 1, m, sizeof(m));
	ok(strcmp(m, "get,head") == 0, "write = none: no POST (%s)", m);
	jlist(jget(doc, "paths", PFX "/kinds/{k}", NULL), 1, m, sizeof(m));
	ok(strcmp(m, "get,head") == 0, "write = none: no PUT, PATCH, "
	    "DELETE (%s)", m);
	for (i = 0; i < 5; i++) {
		static const char *const fixed[] = { PFX "/",
		    PFX "/openapi.json", "/auth/request-token", "/healthz",
		    "/readyz" };

		ok(jget(doc, "paths", fixed[i], "get", NULL) != NULL,
		    "GET %s", fixed[i]);
	}
	p = jget(doc, "paths", PFX "/pxcodes/{pxcode}", "parameters", NULL);
	e = cJSON_GetArrayItem(p, 0);
	ok(strcmp(jstr(jget(e, "name", NULL)), "pxcode") == 0 &&
	    strcmp(jstr(jget(e, "in", NULL)), "path") == 0 &&
	    cJSON_IsTrue(jget(e, "required", NULL)) &&
	    jtype(jget(e, "schema", NULL), "string", 0) &&
	    jget(e, "schema", "maxLength", NULL)->valueint == 10 &&
	    jget(e, "schema", "minLength", NULL)->valueint == 1,
	    "the item's path parameter is the key, a non-empty string");
	e = cJSON_GetArrayItem(jget(doc, "paths", PFX "/encounters/{id}",
	    "parameters", NULL), 0);
	ok(jtype(jget(e, "schema", NULL), "integer", 0) &&
	    jget(e, "schema", "readOnly", NULL) == NULL,
	    "encounters: the id parameter is an integer, not readOnly");

	/* Operations: responses and parameters. */
	q = jget(doc, "paths", PFX "/pxcodes/{pxcode}", NULL);
	for (i = 0; i < 5; i++) {
		static const char *const meth[] = { "get", "head", "put",
		    "patch", "delete" };
		static const char *const want[] = {
		    "200,304,401,403,404,412,429,503",
		    "200,304,401,403,404,412,429,503",
		    "200,201,400,401,403,404,409,412,415,422,428,429,503",
		    "200,400,401,403,404,409,412,415,422,428,429,503",
		    "204,400,401,403,404,409,412,428,429,503" };

		jlist(jget(q, meth[i], "responses", NULL), 1, m, sizeof(m));
		ok(strcmp(m, want[i]) == 0, "item %s responses: %s", meth[i],
		    m);
	}
	jlist(jget(doc, "paths", PFX "/pxcodes/", "post", "responses",
	    NULL), 1, m, sizeof(m));
	ok(strcmp(m, "201,400,401,403,409,415,422,429,503") == 0,
	    "POST responses: %s", m);
	ok(jget(doc, "paths", PFX "/pxcodes/", "post", "responses", "201",
	    "headers", "Location", NULL) != NULL, "POST 201 has Location");
	ok(jget(q, "get", "responses", "200", "headers", "ETag", NULL) !=
	    NULL, "GET 200 has ETag");
	ok(jget(q, "head", "responses", "200", "content", NULL) == NULL,
	    "HEAD 200 has no content");
	ok(strcmp(jstr(jget(q, "put", "requestBody", "content",
	    "application/json", "schema", "$ref", NULL)),
	    "#/components/schemas/pxcodes.replace") == 0,
	    "PUT takes pxcodes.replace");
	p = jget(doc, "paths", PFX "/encounters/", "get", "parameters", NULL);
	j = 0;
	cJSON_ArrayForEach(e, p)
		if (strcmp(jstr(jget(e, "name", NULL)), "per_page") == 0 &&
		    jget(e, "schema", "default", NULL) != NULL &&
		    jget(e, "schema", "default", NULL)->valueint == 20)
			j++;
	ok(j == 1, "encounters: per_page defaults to the declared 20");
	ok(cJSON_GetArraySize(jget(doc, "paths", PFX "/kinds/", "get",
	    "security", NULL)) == 0 && cJSON_IsArray(jget(doc, "paths",
	    PFX "/kinds/", "get", "security", NULL)),
	    "read = anyone: security is []");
	ok(jget(doc, "paths", PFX "/pxcodes/", "get", "security", NULL) ==
	    NULL, "read = user: the document's security");
	ok(strstr(jstr(jget(doc, "paths", PFX "/staff_notes/", "get",
	    "description", NULL)), "group staff") != NULL,
	    "read = group:staff: said in the description");
	s = jget(doc, "components", "responses", "NotFound", "content", NULL);
	ok(strcmp(jstr(jget(s, "application/json", "schema", "$ref", NULL)),
	    "#/components/schemas/Error") == 0 &&
	    strcmp(jstr(jget(s, "application/problem+json", "schema", "$ref",
	    NULL)), "#/components/schemas/Problem") == 0,
	    "errors: the error body, or the problem document");
	s = jget(doc, "components", "schemas", "Error", NULL);
	ok(jhas(jget(s, "required", NULL), "error") &&
	    jhas(jget(s, "required", NULL), "message") &&
	    jhas(jget(s, "required", NULL), "status") &&
	    cJSON_GetArraySize(jget(s, "properties", NULL)) == 3,
	    "Error: exactly error, message, status (response.c)");
	ok(jget(doc, "components", "responses", "TooManyRequests", "headers",
	    "Retry-After", NULL) != NULL &&
	    jget(doc, "components", "responses", "Unauthorized", "headers",
	    "WWW-Authenticate", NULL) != NULL,
	    "429 and 503 carry Retry-After, 401 the challenge");
	s = jget(doc, "components", "securitySchemes", NULL);
	ok(strcmp(jstr(jget(s, "basic", "scheme", NULL)), "basic") == 0 &&
	    strcmp(jstr(jget(s, "bearer", "scheme", NULL)), "bearer") == 0 &&
	    strcmp(jstr(jget(s, "bearer", "bearerFormat", NULL)), "JWT") == 0,
	    "security schemes: basic, bearer (JWT)");
	ok(cJSON_GetArraySize(jget(doc, "security", NULL)) == 2,
	    "--auth both: either scheme");
	e = cJSON_GetArrayItem(jget(doc, "paths", "/auth/request-token",
	    "get", "security", NULL), 0);
	ok(cJSON_GetArraySize(jget(doc, "paths", "/auth/request-token",
	    "get", "security", NULL)) == 1 && jget(e, "basic", NULL) != NULL,
	    "/auth/request-token: basic only");

	/* The representations. */
	s = jget(doc, "components", "schemas", "pxcodes", NULL);
	p = jget(s, "properties", NULL);
	ok(jget(p, "id", NULL) == NULL, "pxcodes: hidden id not exposed");
	ok(jtype(jget(p, "pxcode", NULL), "string", 0) &&
	    jget(p, "pxcode", "maxLength", NULL)->valueint == 10,
	    "pxcodes.pxcode: string, maxLength 10");
	ok(jtype(jget(p, "procedure", NULL), "string", 1) &&
	    jget(p, "procedure", "maxLength", NULL)->valueint == 80,
	    "pxcodes.procedure: [string, null], maxLength 80");
	ok(strcmp(jstr(jget(p, "url", "format", NULL)), "uri") == 0 &&
	    cJSON_IsTrue(jget(p, "url", "readOnly", NULL)),
	    "pxcodes.url: a read-only uri");
	e = cJSON_GetArrayItem(p, 0);
	ok(e != NULL && strcmp(e->string, "procedure") == 0 &&
	    strcmp(cJSON_GetArrayItem(p, 2)->string, "url") == 0,
	    "properties in the representation's (sorted) order");
	ok(cJSON_GetArraySize(jget(s, "required", NULL)) == 3 &&
	    cJSON_IsFalse(jget(s, "additionalProperties", NULL)),
	    "pxcodes: every member always there, no other");
	s = jget(doc, "components", "schemas", "pxcodes.page", NULL);
	jlist(jget(s, "properties", NULL), 1, m, sizeof(m));
	ok(strcmp(m, "items,meta") == 0 && jhas(jget(s, "required", NULL),
	    "items") && jhas(jget(s, "required", NULL), "meta") &&
	    strcmp(jstr(jget(s, "properties", "items", "items", "$ref",
	    NULL)), "#/components/schemas/pxcodes") == 0,
	    "pxcodes.page: items (of pxcodes) and meta (%s)", m);
	jlist(jget(doc, "components", "schemas", "Meta", "properties",
	    NULL), 1, m, sizeof(m));
	ok(strcmp(m, "first,last,next,page,pages,per_page,prev,total,count")
	    == 0 && !jhas(jget(doc, "components", "schemas", "Meta",
	    "required", NULL), "count"),
	    "Meta: the envelope's members, count optional (%s)", m);
	jlist(jget(doc, "components", "schemas", "Meta", "properties",
	    "count", "enum", NULL), 0, m, sizeof(m));
	ok(strcmp(m, "exact,estimated,none") == 0, "Meta.count: %s", m);

	/* The collections' query parameters. */
	q = jget(doc, "paths", PFX "/encounters/", "get", NULL);
	param_names(q, m, sizeof(m));
	ok(strcmp(m, "page:query,cursor:query,Prefer:header,"
	    "If-None-Match:header,fields:query,sort:query,q:query,"
	    "charge:query,note:query,paid:query,pxcode:query,"
	    "seen_on:query,per_page:query") == 0,
	    "encounters: the parameters of GET (%s)", m);
	param_names(jget(doc, "paths", PFX "/encounters/", "head", NULL),
	    n, sizeof(n));
	ok(strcmp(m, n) == 0, "encounters: HEAD takes the same");
	jlist(jget(param_find(q, "fields"), "schema", "items", "enum", NULL), 0,
	    m, sizeof(m));
	ok(strcmp(m, "charge,created_at,id,note,paid,pxcode,seen_on") == 0 &&
	    strcmp(jstr(jget(param_find(q, "fields"), "style", NULL)),
	    "form") == 0 && cJSON_IsFalse(jget(param_find(q, "fields"),
	    "explode", NULL)), "fields: the exposed columns, a,b (%s)", m);
	jlist(jget(param_find(q, "sort"), "schema", "items", "enum", NULL), 0,
	    m, sizeof(m));
	ok(strcmp(m, "charge,-charge,id,-id,seen_on,-seen_on") == 0,
	    "sort: the sortable columns, either way (%s)", m);
	ok(strstr(jstr(jget(param_find(q, "q"), "description", NULL)),
	    "of note contains") != NULL, "q: over note");
	ok(strcmp(jstr(jget(param_find(q, "charge"), "schema", "$ref", NULL)),
	    "#/components/schemas/Filter.number") == 0 &&
	    strcmp(jstr(jget(param_find(q, "note"), "schema", "$ref", NULL)),
	    "#/components/schemas/Filter.text") == 0 &&
	    strcmp(jstr(jget(param_find(q, "seen_on"), "schema", "$ref",
	    NULL)), "#/components/schemas/Filter.date") == 0,
	    "filters: a schema by type (number, text, date)");
	ok(strstr(jstr(jget(param_find(q, "charge"), "description", NULL)),
	    "numeric(10,2)") != NULL, "filter charge: its type said");
	ok(jget(q, "responses", "200", "headers", "Link", NULL) != NULL &&
	    jget(q, "responses", "200", "headers", "Preference-Applied",
	    NULL) != NULL && jget(doc, "components", "headers", "Link",
	    NULL) != NULL, "GET: Link and Preference-Applied");
	ok(strcmp(jstr(jget(param_find(q, "Prefer"), "in", NULL)), "header")
	    == 0 && strcmp(jstr(jget(param_find(q, "cursor"), "schema",
	    "pattern", NULL)), "^[A-Za-z0-9_-]+$") == 0,
	    "Prefer (a header) and cursor (base64url)");
	param_names(jget(doc, "paths", PFX "/pxcodes/", "get", NULL), m,
	    sizeof(m));
	ok(strcmp(m, "page:query,cursor:query,Prefer:header,"
	    "If-None-Match:header,fields:query,q:query,per_page:query") == 0,
	    "pxcodes: no sort, no filter, q (%s)", m);
	q = jget(doc, "paths", PFX "/kinds/", "get", NULL);
	ok(strcmp(jstr(jget(param_find(q, "j"), "schema", "$ref", NULL)),
	    "#/components/schemas/Filter.json") == 0 &&
	    strcmp(jstr(jget(param_find(q, "odd"), "schema", "$ref", NULL)),
	    "#/components/schemas/Filter.text") == 0 &&
	    strcmp(jstr(jget(param_find(q, "k"), "schema", "$ref", NULL)),
	    "#/components/schemas/Filter.uuid") == 0 &&
	    strcmp(jstr(jget(param_find(q, "ts"), "schema", "$ref", NULL)),
	    "#/components/schemas/Filter.timestamp") == 0,
	    "kinds: json, as_text, uuid and timestamp filters");
	{
		static const struct {
			const char	*cls, *v;
			int		 m;
		} fm[] = {
			{ "number", "gte.100", 1 },
			{ "number", "lt.-1.5e3", 1 },
			{ "number", "in.(1,2.5)", 1 },
			{ "number", "is.null", 1 },
			{ "number", "pre.1", 0 },
			{ "number", "gte.abc", 0 },
			{ "number", "gte.01", 0 },
			{ "number", "100", 0 },
			{ "text", "has.much better", 1 },
			{ "text", "pre.R0", 1 },
			{ "text", "eq.", 1 },
			{ "text", "in.(a,\"b,c\")", 1 },
			{ "text", "like.x", 0 },
			{ "text", "not.nul", 0 },
			{ "integer", "eq.-12", 1 },
			{ "integer", "eq.1.5", 0 },
			{ "boolean", "eq.true", 1 },
			{ "boolean", "eq.yes", 0 },
			{ "date", "lt.2024-01-31", 1 },
			{ "date", "lt.2024", 0 },
			{ "timestamp", "gte.2026-01-31T12:00:00Z", 1 },
			{ "timestamp", "gte.2026-01-31", 0 },
			{ "uuid", "eq.123e4567-e89b-12d3-a456-426614174000",
			    1 },
			{ "uuid", "eq.123", 0 },
			{ "json", "is.null", 1 },
			{ "json", "not.null", 1 },
			{ "json", "eq.{}", 0 },
		};
		size_t	 k;
		int	 bad = 0;

		for (k = 0; k < sizeof(fm) / sizeof(fm[0]); k++)
			if (filter_matches(fm[k].cls, fm[k].v) != fm[k].m) {
				diag("Filter.%s on \"%s\": not %s", fm[k].cls,
				    fm[k].v, fm[k].m ? "matched" : "refused");
				bad++;
			}
		ok(bad == 0, "the filter patterns take what query.c takes "
		    "(%zu cases)", k);
	}
	s = jget(doc, "components", "schemas", "pxcodes.create", NULL);
	ok(jhas(jget(s, "required", NULL), "pxcode") &&
	    jhas(jget(s, "required", NULL), "procedure") &&
	    jget(s, "properties", "url", NULL) == NULL,
	    "pxcodes.create: pxcode and procedure required, no url");
	s = jget(doc, "components", "schemas", "pxcodes.replace", NULL);
	ok(jget(s, "properties", "pxcode", NULL) == NULL &&
	    jhas(jget(s, "required", NULL), "procedure"),
	    "pxcodes.replace: the key is the URL's");
	s = jget(doc, "components", "schemas", "pxcodes.update", NULL);
	ok(jget(s, "required", NULL) == NULL &&
	    jget(s, "minProperties", NULL) != NULL &&
	    jget(s, "properties", "pxcode", NULL) != NULL,
	    "pxcodes.update: any column, the key too (a rename)");

	p = jget(doc, "components", "schemas", "encounters", "properties",
	    NULL);
	ok(jtype(jget(p, "id", NULL), "integer", 0) &&
	    strcmp(jstr(jget(p, "id", "format", NULL)), "int32") == 0 &&
	    jget(p, "id", "maximum", NULL)->valuedouble == 2147483647.0 &&
	    cJSON_IsTrue(jget(p, "id", "readOnly", NULL)),
	    "encounters.id: int32, bounded, read-only (identity)");
	ok(jtype(jget(p, "charge", NULL), "number", 0) &&
	    strstr(text, "\"exclusiveMaximum\":1e8,\"exclusiveMinimum\":-1e8")
	    != NULL, "encounters.charge numeric(10,2): |x| < 1e8");
	ok(jtype(jget(p, "seen_on", NULL), "string", 0) &&
	    strcmp(jstr(jget(p, "seen_on", "format", NULL)), "date") == 0,
	    "encounters.seen_on: a date");
	ok(jtype(jget(p, "paid", NULL), "boolean", 0),
	    "encounters.paid: boolean");
	ok(jtype(jget(p, "note", NULL), "string", 1) &&
	    jget(p, "note", "maxLength", NULL) == NULL,
	    "encounters.note: [string, null], no length");
	ok(strcmp(jstr(jget(p, "created_at", "format", NULL)), "date-time")
	    == 0 && cJSON_IsTrue(jget(p, "created_at", "readOnly", NULL)),
	    "encounters.created_at: a read-only date-time");
	s = jget(doc, "components", "schemas", "encounters.create", NULL);
	ok(jget(s, "properties", "id", NULL) == NULL &&
	    jget(s, "properties", "created_at", NULL) == NULL &&
	    jget(s, "properties", "paid", NULL) != NULL,
	    "encounters.create: no generated or read-only column");
	ok(cJSON_GetArraySize(jget(s, "required", NULL)) == 3 &&
	    jhas(jget(s, "required", NULL), "pxcode") &&
	    jhas(jget(s, "required", NULL), "seen_on") &&
	    jhas(jget(s, "required", NULL), "charge"),
	    "encounters.create: NOT NULL without a default is required");

	p = jget(doc, "components", "schemas", "kinds", "properties", NULL);
	ok(strcmp(jstr(jget(p, "k", "format", NULL)), "uuid") == 0,
	    "uuid: format uuid");
	ok(strstr(text, "\"format\":\"int64\",\"minimum\":"
	    "-9223372036854775808,\"maximum\":9223372036854775807") != NULL,
	    "bigint: int64 bounds in their exact digits");
	ok(jtype(jget(p, "big", NULL), "integer", 1), "nullable bigint");
	ok(strcmp(jstr(jget(p, "small", "format", NULL)), "int16") == 0 &&
	    jget(p, "small", "minimum", NULL)->valueint == -32768,
	    "smallint: int16 bounds");
	ok(strcmp(jstr(jget(p, "r4", "format", NULL)), "float") == 0 &&
	    strcmp(jstr(jget(p, "r8", "format", NULL)), "double") == 0,
	    "real, double precision: float, double");
	ok(jtype(jget(p, "n", NULL), "number", 1) &&
	    jget(p, "n", "exclusiveMaximum", NULL) == NULL,
	    "numeric without precision: unbounded number");
	ok(jget(p, "ch", "maxLength", NULL)->valueint == 3,
	    "char(3): maxLength 3");
	ok(jtype(jget(p, "ts", NULL), "string", 1) &&
	    jget(p, "ts", "format", NULL) == NULL,
	    "timestamp: a string, no date-time format (no offset)");
	ok(jget(p, "j", "type", NULL) == NULL &&
	    jget(p, "jb", "type", NULL) == NULL,
	    "json, jsonb: any value");
	ok(jtype(jget(p, "odd", NULL), "string", 1) &&
	    strstr(jstr(jget(p, "odd", "description", NULL)), "as text"),
	    "as_text: a string, said so");
	ok(jget(doc, "components", "schemas", "kinds.create", NULL) == NULL,
	    "write = none: no body schemas");

	walk(doc, 0);
	walk(jget(doc, "paths", NULL), 1);
	ok(nrefs > 50 && badrefs == 0, "%d $refs, all resolved", nrefs);
	ok(nops == 5 + 8 + 8 + 4 + 8 && dupops == 0,
	    "%d operation ids, none twice", nops);
	cJSON_Delete(doc);

	/* --auth token: bearer only (request-token still takes basic). */
	cf.auth_mode = AUTH_MODE_TOKEN;
	doc = build(rs, 4, &b);
	e = jget(doc, "security", NULL);
	ok(cJSON_GetArraySize(e) == 1 && jget(cJSON_GetArrayItem(e, 0),
	    "bearer", NULL) != NULL, "--auth token: bearer only");
	cJSON_Delete(doc);
	cf.auth_mode = AUTH_MODE_BOTH;

	/* No resources: the fixed paths alone, still valid. */
	doc = build(rs, 0, &b);
	ok(doc != NULL && cJSON_GetArraySize(jget(doc, "paths", NULL)) == 5,
	    "no resources: the 5 fixed paths");
	nrefs = badrefs = 0;
	walk(doc, 0);
	ok(badrefs == 0, "no resources: every $ref resolves");
	ok(jget(doc, "components", "schemas", "Meta", NULL) == NULL &&
	    jget(doc, "components", "parameters", NULL) == NULL &&
	    jget(doc, "components", "headers", "Location", NULL) == NULL,
	    "no resources: no unused component (Meta, parameters, Location)");
	cJSON_Delete(doc);

	/*
	 * Out of memory anywhere: -1, nothing half-written, nothing leaked
	 * (the ASan build's leak check sees it).  Every 7th allocation up
	 * to past the last one fails in turn.
	 */
	{
		cJSON_Hooks	 hooks = { test_malloc, free };
		int		 fails = 0, oks = 0, bad = 0;
		long		 k;

		cJSON_InitHooks(&hooks);
		for (k = 1; k < 100000; k += 7) {
			fail_at = k;
			nallocs = 0;
			buf_reset(&b);
			if (openapi_build(&b, BASE, rs, 4) == 0) {
				oks++;
				break;		/* past the last allocation */
			}
			fails++;
			if (BUF_LEN(&b) != 0)
				bad++;
		}
		fail_at = 0;
		cJSON_InitHooks(NULL);
		ok(fails > 100 && oks == 1 && bad == 0, "an allocation failing "
		    "(%d places): -1 and an empty buffer each time", fails);
	}

	/* Bounded: a buffer too small is left as it was. */
	buf_free(&b);
	buf_init(&b, 4096);
	buf_appendstr(&b, "keep");
	ok(openapi_build(&b, BASE, rs, 4) == -1 && BUF_LEN(&b) == 4 &&
	    strcmp(BUF_PTR(&b), "keep") == 0,
	    "past the buffer's bound: -1, the buffer unchanged");

	/*
	 * The largest declaration set fits the handler's bound, with every
	 * column filterable, sortable and searchable.
	 */
	for (i = 0; i < RES_MAX; i++) {
		static struct resource	big[RES_MAX];
		struct res_column	*c;
		char			 n[RES_IDENT_MAX];

		snprintf(n, sizeof(n), "r%02d_%.*s", i, RES_IDENT_MAX - 10,
		    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
		decl(&big[i], n, n);
		for (j = 0; j < RES_MAX_COLS; j++) {
			snprintf(n, sizeof(n), "c%02d_%.*s", j,
			    RES_IDENT_MAX - 10, "abcdefghijklmnopqrstuvwxyz"
			    "abcdefghijklmnopqrstuvwxyz");
			c = col(&big[i], n, COL_VARCHAR, "character varying"
			    "(1000)", j % 2);
			c->maxlen = 1000;
			c->filterable = c->sortable = c->searchable = 1;
		}
		expose(&big[i]);
		rs[i] = &big[i];
	}
	buf_free(&b);
	/* api_discovery.c's OPENAPI_MAX */
	buf_init(&b, CLIENT_MAX_OUTPUT - 65536);
	i = openapi_build(&b, BASE, rs, RES_MAX);
	ok(i == 0, "RES_MAX resources of RES_MAX_COLS columns: %zu bytes, "
	    "within %d", BUF_LEN(&b), CLIENT_MAX_OUTPUT - 65536);
	buf_free(&b);
	return (done_testing());
}
