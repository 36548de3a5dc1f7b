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
 * are unique, that the auth mode picks the security schemes, and that
 * the bound on the output holds.  Prints TAP.
 */
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

/* The methods of a path, as "get,head,post" in the document's order. */
static void
methods(cJSON *path, char *out, size_t len)
{
	cJSON	*e;

	out[0] = '\0';
	cJSON_ArrayForEach(e, path) {
		if (strcmp(e->string, "parameters") == 0)
			continue;
		if (out[0] != '\0')
			strlcat(out, ",", len);
		strlcat(out, e->string, len);
	}
}

int
main(void)
{
	struct resource	*rs[RES_MAX];
	struct buf	 b;
	cJSON		*s, *p, *e, *q;
	char		 m[128];
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
	methods(jget(doc, "paths", PFX "/pxcodes/", NULL), m, sizeof(m));
	ok(strcmp(m, "get,head,post") == 0, "pxcodes collection: %s", m);
	methods(jget(doc, "paths", PFX "/pxcodes/{pxcode}", NULL), m,
	    sizeof(m));
	ok(strcmp(m, "get,head,put,patch,delete") == 0, "pxcodes item: %s",
	    m);
	methods(jget(doc, "paths", PFX "/encounters/{id}", NULL), m,
	    sizeof(m));
	ok(strcmp(m, "get,head,put,patch,delete") == 0,
	    "encounters item by its key id: %s", m);
	methods(jget(doc, "paths", PFX "/kinds/", NULL), m, sizeof(m));
	ok(strcmp(m, "get,head") == 0, "write = none: no POST (%s)", m);
	methods(jget(doc, "paths", PFX "/kinds/{k}", NULL), m, sizeof(m));
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

		methods(jget(q, meth[i], "responses", NULL), m, sizeof(m));
		ok(strcmp(m, want[i]) == 0, "item %s responses: %s", meth[i],
		    m);
	}
	methods(jget(doc, "paths", PFX "/pxcodes/", "post", "responses",
	    NULL), m, sizeof(m));
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
	methods(jget(s, "properties", NULL), m, sizeof(m));
	ok(strcmp(m, "items,meta") == 0 && jhas(jget(s, "required", NULL),
	    "items") && jhas(jget(s, "required", NULL), "meta") &&
	    strcmp(jstr(jget(s, "properties", "items", "items", "$ref",
	    NULL)), "#/components/schemas/pxcodes") == 0,
	    "pxcodes.page: items (of pxcodes) and meta (%s)", m);
	methods(jget(doc, "components", "schemas", "Meta", "properties",
	    NULL), m, sizeof(m));
	ok(strcmp(m, "first,last,next,page,pages,per_page,prev,total") == 0,
	    "Meta: the envelope's members (%s)", m);
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

	/* The largest declaration set fits the handler's bound. */
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
		}
		expose(&big[i]);
		rs[i] = &big[i];
	}
	buf_free(&b);
	buf_init(&b, CLIENT_MAX_OUTPUT / 2);
	i = openapi_build(&b, BASE, rs, RES_MAX);
	ok(i == 0, "RES_MAX resources of RES_MAX_COLS columns: %zu bytes, "
	    "within %d", BUF_LEN(&b), CLIENT_MAX_OUTPUT / 2);
	buf_free(&b);
	return (done_testing());
}
