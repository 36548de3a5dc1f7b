/*
 * api_discovery.c: what a client can learn of the API from the API.
 *
 *   GET /api/v1.0/		{"resources":[{"name":...,"url":...},...]}
 *   GET /api/v1.0/openapi.json	an OpenAPI 3.1.0 document
 *
 * Both are generated from the bound resources (data/resource.c: each
 * declaration joined to the catalog), so that they describe what this
 * worker serves: a resource added by a reload appears (with the new
 * workers), a removed one goes.  The document holds the links' base
 * (api_link.c: --public-url, a trusted proxy's or the request's own), so it is written for every request (a few milliseconds
 * at most for RES_MAX resources of RES_MAX_COLS columns) and carries a
 * strong ETag.
 *
 * openapi_build() is pure (cJSON in, bytes out): t/unit/openapi_test.c
 * runs it on hand-filled resources, t/098_openapi.t lints and renders
 * what a real server answers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include <cjson/cJSON.h>

#include "starterd.h"

#define OPENAPI_VERSION		"3.1.0"
/* Document bytes: a response's bound, less room for its head. */
#define OPENAPI_MAX		(CLIENT_MAX_OUTPUT - 65536)
#define OA_NAME_MAX		(RES_IDENT_MAX + 32)	/* a component name */
#define OA_TEXT_MAX		512			/* one description */
#define OA_MAX_PAGE		"100000000"	/* page: api_items.c's bound */
#define OA_LIST_MAX		300	/* a list of columns in a description */

/* The document being built: cJSON nodes, and what went wrong. */
struct oa {
	cJSON		*root;
	unsigned int	 used;		/* bit i: oa_errors[i] referenced */
	int		 err;		/* a node could not be made */
	int		 any_read;	/* a resource may be read: pages... */
	int		 any_write;	/* ...written: bodies, Location */
	unsigned int	 filters;	/* bit i: oa_filters[i] referenced */
	cJSON		*comp;		/* components */
	cJSON		*params;	/* components/parameters, once made */
};

/*
 * The error responses, shared through components/responses.  Every one
 * carries the body of response_error() (response.c): {"error","message",
 * "status"} as application/json, or the RFC 9457 problem document when
 * the client's Accept prefers application/problem+json.
 */
#define OA_H_NONE	0
#define OA_H_RETRY	1	/* Retry-After */
#define OA_H_CHALLENGE	2	/* WWW-Authenticate */

static const struct oa_error {
	int		 status;
	const char	*name;
	const char	*desc;
	int		 header;
} oa_errors[] = {
	{ 400, "BadRequest", "The request is malformed, a query parameter "
	    "is unknown or wrong (a filter's value is checked as its "
	    "column's type; a cursor that was altered), or a field of the "
	    "body is wrong (unknown, read-only, missing, of the wrong type, "
	    "too long): the message names it.", OA_H_NONE },
	{ 401, "Unauthorized", "Credentials are missing or wrong.",
	    OA_H_CHALLENGE },
	{ 403, "Forbidden", "The user may not do this (the resource is "
	    "open to a group only).", OA_H_NONE },
	{ 404, "NotFound", "No such item, or a page past the last one.",
	    OA_H_NONE },
	{ 409, "Conflict", "A unique key is taken, or a row of another "
	    "table refers to this one.", OA_H_NONE },
	{ 412, "PreconditionFailed", "If-Match or If-None-Match did not "
	    "hold: the item changed, exists, or is gone.", OA_H_NONE },
	{ 415, "UnsupportedMediaType", "The body is not application/json.",
	    OA_H_NONE },
	{ 422, "UnprocessableContent", "A check constraint refused the "
	    "values, or a referenced row does not exist (the message names "
	    "the relation).", OA_H_NONE },
	{ 428, "PreconditionRequired", "This server requires If-Match on "
	    "writes (require_if_match).", OA_H_NONE },
	{ 429, "TooManyRequests", "A rate limit or the failed-login limit "
	    "was reached.", OA_H_RETRY },
	{ 503, "ServiceUnavailable", "The database cannot be reached.",
	    OA_H_RETRY },
};
#define OA_NERRORS	(sizeof(oa_errors) / sizeof(oa_errors[0]))

/* Which error responses each kind of operation can give. */
static const int oa_err_read[] = { 401, 403, 404, 412, 429, 503, 0 };
static const int oa_err_list[] = { 400, 401, 403, 404, 429, 503, 0 };
static const int oa_err_post[] = { 400, 401, 403, 409, 415, 422, 429,
	503, 0 };
static const int oa_err_put[] = { 400, 401, 403, 404, 409, 412, 415, 422,
	428, 429, 503, 0 };
static const int oa_err_auth[] = { 401, 429, 503, 0 };
static const int oa_err_delete[] = { 400, 401, 403, 404, 409, 412, 428,
	429, 503, 0 };

/* ------------------------------------------------------- cJSON helpers */

/* Each helper counts a failure in o->err; a NULL parent is one too. */
static cJSON *
oa_check(struct oa *o, cJSON *n)
{
	if (n == NULL)
		o->err++;
	return (n);
}

static cJSON *
oa_obj(struct oa *o, cJSON *parent, const char *key)
{
	cJSON	*n;

	if (parent == NULL)
		return (oa_check(o, NULL));
	if (!cJSON_IsArray(parent))
		return (oa_check(o, cJSON_AddObjectToObject(parent, key)));
	if ((n = cJSON_CreateObject()) != NULL &&
	    !cJSON_AddItemToArray(parent, n)) {
		cJSON_Delete(n);
		n = NULL;
	}
	return (oa_check(o, n));
}

static cJSON *
oa_arr(struct oa *o, cJSON *parent, const char *key)
{
	return (oa_check(o, parent == NULL ? NULL :
	    cJSON_AddArrayToObject(parent, key)));
}

static void
oa_str(struct oa *o, cJSON *parent, const char *key, const char *v)
{
	if (parent != NULL && cJSON_IsArray(parent)) {
		if (!cJSON_AddItemToArray(parent, cJSON_CreateString(v)))
			o->err++;
		return;
	}
	(void)oa_check(o, parent == NULL ? NULL :
	    cJSON_AddStringToObject(parent, key, v));
}

/*
 * A string member written by printf after prefix; longer than OA_TEXT_MAX
 * is an error.
 */
static void
oa_vstrf(struct oa *o, cJSON *parent, const char *key, const char *prefix,
    const char *fmt, va_list ap)
{
	char	s[OA_TEXT_MAX];
	size_t	l = strlcpy(s, prefix, sizeof(s));
	int	n;

	n = l < sizeof(s) ? vsnprintf(s + l, sizeof(s) - l, fmt, ap) : -1;
	if (n < 0 || (size_t)n >= sizeof(s) - l) {
		o->err++;
		return;
	}
	oa_str(o, parent, key, s);
}

static void
oa_strf(struct oa *o, cJSON *parent, const char *key, const char *fmt, ...)
    __attribute__((__format__ (printf, 4, 5)));

static void
oa_strf(struct oa *o, cJSON *parent, const char *key, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	oa_vstrf(o, parent, key, "", fmt, ap);
	va_end(ap);
}

/*
 * A number written with its digits as given: cJSON keeps numbers as
 * doubles, which would print the int64 bounds rounded.
 */
static void
oa_raw(struct oa *o, cJSON *parent, const char *key, const char *digits)
{
	(void)oa_check(o, parent == NULL ? NULL :
	    cJSON_AddRawToObject(parent, key, digits));
}

static void
oa_int(struct oa *o, cJSON *parent, const char *key, long long v)
{
	char	s[24];

	snprintf(s, sizeof(s), "%lld", v);
	oa_raw(o, parent, key, s);
}

static void
oa_true(struct oa *o, cJSON *parent, const char *key)
{
	(void)oa_check(o, parent == NULL ? NULL :
	    cJSON_AddTrueToObject(parent, key));
}

/* {"$ref": "#/components/<fmt...>"} as member key of parent. */
static void
oa_ref(struct oa *o, cJSON *parent, const char *key, const char *fmt, ...)
    __attribute__((__format__ (printf, 4, 5)));

static void
oa_ref(struct oa *o, cJSON *parent, const char *key, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	oa_vstrf(o, oa_obj(o, parent, key), "$ref", "#/components/", fmt, ap);
	va_end(ap);
}

/* "type": t, or [t, "null"] when the value may be null. */
static void
oa_type(struct oa *o, cJSON *s, const char *t, int nullable)
{
	cJSON	*a;

	if (!nullable) {
		oa_str(o, s, "type", t);
		return;
	}
	a = oa_arr(o, s, "type");
	oa_str(o, a, NULL, t);
	oa_str(o, a, NULL, "null");
}

/* ------------------------------------------------------------- schemas */

#define OA_COL_OUTPUT	0x01	/* in a representation: readOnly shown */
#define OA_COL_NONNULL	0x02	/* a path parameter: never null */
#define OA_COL_KEY	0x04	/* the key: a URL segment, never empty */

/*
 * What each column type is in JSON: the type the engine writes (numbers
 * as numbers, bigint and numeric with their exact digits, dates as
 * strings, json/jsonb embedded), its format and bounds.  A timestamp
 * without time zone has no offset: not an RFC 3339 date-time.
 */
static const struct oa_coltype {
	const char	*type;		/* NULL: any JSON value */
	const char	*format;
	const char	*min, *max;	/* exact digits */
} oa_coltypes[] = {
	[COL_TEXT] =		{ "string", NULL, NULL, NULL },
	[COL_VARCHAR] =		{ "string", NULL, NULL, NULL },
	[COL_CHAR] =		{ "string", NULL, NULL, NULL },
	[COL_INT2] =		{ "integer", "int16", "-32768", "32767" },
	[COL_INT4] =		{ "integer", "int32", "-2147483648",
				    "2147483647" },
	[COL_INT8] =		{ "integer", "int64", "-9223372036854775808",
				    "9223372036854775807" },
	[COL_NUMERIC] =		{ "number", NULL, NULL, NULL },
	[COL_FLOAT4] =		{ "number", "float", NULL, NULL },
	[COL_FLOAT8] =		{ "number", "double", NULL, NULL },
	[COL_BOOL] =		{ "boolean", NULL, NULL, NULL },
	[COL_DATE] =		{ "string", "date", NULL, NULL },
	[COL_TIMESTAMP] =	{ "string", NULL, NULL, NULL },
	[COL_TIMESTAMPTZ] =	{ "string", "date-time", NULL, NULL },
	[COL_UUID] =		{ "string", "uuid", NULL, NULL },
	[COL_JSON] =		{ NULL, NULL, NULL, NULL },
	[COL_JSONB] =		{ NULL, NULL, NULL, NULL },
	[COL_ASTEXT] =		{ "string", NULL, NULL, NULL },
};
#define OA_NCOLTYPES	(sizeof(oa_coltypes) / sizeof(oa_coltypes[0]))

/* The JSON Schema of a column, with the catalog's bounds. */
static void
oa_column(struct oa *o, cJSON *s, const struct res_column *col, int flags)
{
	const struct oa_coltype	*t = &oa_coltypes[COL_TEXT];
	const char		*tn;
	char			 b[16];

	tn = col->type_name[0] != '\0' ? col->type_name : "text";
	if ((size_t)col->type < OA_NCOLTYPES)
		t = &oa_coltypes[col->type];
	if (t->type != NULL)
		oa_type(o, s, t->type, !col->notnull &&
		    !(flags & OA_COL_NONNULL));
	if (t->format != NULL)
		oa_str(o, s, "format", t->format);
	if (t->min != NULL) {
		oa_raw(o, s, "minimum", t->min);
		oa_raw(o, s, "maximum", t->max);
	}
	/* numeric(p,s) holds |x| < 10^(p-s). */
	if (col->type == COL_NUMERIC && col->precision > 0) {
		snprintf(b, sizeof(b), "1e%d", col->precision - col->scale);
		oa_raw(o, s, "exclusiveMaximum", b);
		snprintf(b, sizeof(b), "-1e%d", col->precision - col->scale);
		oa_raw(o, s, "exclusiveMinimum", b);
	}
	if (t->type != NULL && strcmp(t->type, "string") == 0 &&
	    t->format == NULL) {
		if (col->maxlen > 0)
			oa_int(o, s, "maxLength", col->maxlen);
		if (flags & OA_COL_KEY)
			oa_int(o, s, "minLength", 1);
	}
	switch (col->type) {
	case COL_INT8:
	case COL_NUMERIC:
		oa_strf(o, s, "description", "%s; written with its exact "
		    "digits (parse it as a decimal, not a double, to keep "
		    "them)", tn);
		break;
	case COL_TIMESTAMP:
		oa_strf(o, s, "description", "%s: an ISO 8601 date and time "
		    "without an offset", tn);
		break;
	case COL_TIMESTAMPTZ:
		oa_strf(o, s, "description", "%s: ISO 8601 in UTC "
		    "(2026-01-31T12:00:00Z)", tn);
		break;
	case COL_ASTEXT:
		oa_strf(o, s, "description", "%s, served as text", tn);
		break;
	default:
		oa_str(o, s, "description", tn);
		break;
	}
	if ((flags & OA_COL_OUTPUT) && (col->read_only || col->generated))
		oa_true(o, s, "readOnly");
}

/* May a client write this column? */
static int
oa_writable(const struct res_column *col)
{
	return (col->exposed && !col->read_only && !col->generated);
}

/* The representation of an item: every exposed column and its url. */
static void
oa_schema_item(struct oa *o, cJSON *schemas, const struct resource *r)
{
	cJSON	*s, *props, *req, *u;
	int	 i, ci;

	s = oa_obj(o, schemas, r->decl.name);
	oa_str(o, s, "type", "object");
	oa_strf(o, s, "description", "An item of %s: a row of %s.%s.",
	    r->decl.name, r->nspname, r->relname);
	req = oa_arr(o, s, "required");
	props = oa_obj(o, s, "properties");
	for (i = 0; i < r->nexposed; i++) {
		if ((ci = r->exposed[i]) < 0) {
			u = oa_obj(o, props, "url");
			oa_str(o, u, "type", "string");
			oa_str(o, u, "format", "uri");
			oa_str(o, u, "description", "The item's URL.");
			oa_true(o, u, "readOnly");
			oa_str(o, req, NULL, "url");
			continue;
		}
		if (ci >= r->ncols) {
			o->err++;
			continue;
		}
		oa_column(o, oa_obj(o, props, r->cols[ci].name), &r->cols[ci],
		    OA_COL_OUTPUT);
		oa_str(o, req, NULL, r->cols[ci].name);
	}
	(void)oa_check(o, cJSON_AddFalseToObject(s, "additionalProperties"));
}

#define OA_BODY_CREATE	0	/* POST: the required columns */
#define OA_BODY_REPLACE	1	/* PUT: the key is the URL's */
#define OA_BODY_UPDATE	2	/* PATCH: any of them, at least one */

static const char *const oa_body_suffix[] = { "create", "replace",
	"update" };

/* A request body: the writable columns, exposed order. */
static void
oa_schema_body(struct oa *o, cJSON *schemas, const struct resource *r,
    int kind)
{
	const struct res_column	*col;
	cJSON			*s, *props, *req = NULL;
	char			 name[OA_NAME_MAX];
	int			 i, ci;

	snprintf(name, sizeof(name), "%s.%s", r->decl.name,
	    oa_body_suffix[kind]);
	s = oa_obj(o, schemas, name);
	oa_str(o, s, "type", "object");
	switch (kind) {
	case OA_BODY_CREATE:
		oa_strf(o, s, "description", "A new item of %s (POST).",
		    r->decl.name);
		break;
	case OA_BODY_REPLACE:
		oa_strf(o, s, "description", "The new values of an item of "
		    "%s (PUT); its %s is the URL's.", r->decl.name,
		    r->cols[r->key].name);
		break;
	default:
		oa_strf(o, s, "description", "The columns of an item of %s "
		    "to change (PATCH).", r->decl.name);
		oa_int(o, s, "minProperties", 1);
		break;
	}
	if (kind != OA_BODY_UPDATE)
		req = oa_arr(o, s, "required");
	props = oa_obj(o, s, "properties");
	for (i = 0; i < r->nexposed; i++) {
		if ((ci = r->exposed[i]) < 0 || ci >= r->ncols)
			continue;
		col = &r->cols[ci];
		if (!oa_writable(col) || (kind == OA_BODY_REPLACE &&
		    ci == r->key))
			continue;
		oa_column(o, oa_obj(o, props, col->name), col,
		    ci == r->key ? OA_COL_KEY : 0);
		if (req != NULL && col->required)
			oa_str(o, req, NULL, col->name);
	}
	(void)oa_check(o, cJSON_AddFalseToObject(s, "additionalProperties"));
}

/* A page of the collection: the items and the meta of the envelope. */
static void
oa_schema_page(struct oa *o, cJSON *schemas, const struct resource *r)
{
	cJSON	*s, *props, *items, *req;
	char	 name[OA_NAME_MAX];

	snprintf(name, sizeof(name), "%s.page", r->decl.name);
	s = oa_obj(o, schemas, name);
	oa_str(o, s, "type", "object");
	oa_strf(o, s, "description", "A page of %s.", r->decl.name);
	req = oa_arr(o, s, "required");
	oa_str(o, req, NULL, "items");
	oa_str(o, req, NULL, "meta");
	props = oa_obj(o, s, "properties");
	items = oa_obj(o, props, "items");
	oa_str(o, items, "type", "array");
	oa_ref(o, items, "items", "schemas/%s", r->decl.name);
	oa_ref(o, props, "meta", "schemas/Meta");
	(void)oa_check(o, cJSON_AddFalseToObject(s, "additionalProperties"));
}

/* A string property named key, of format fmt (NULL: none). */
static void
oa_prop_str(struct oa *o, cJSON *props, const char *key, const char *fmt,
    int nullable, const char *desc)
{
	cJSON	*p = oa_obj(o, props, key);

	oa_type(o, p, "string", nullable);
	if (fmt != NULL)
		oa_str(o, p, "format", fmt);
	if (desc != NULL)
		oa_str(o, p, "description", desc);
}

static void
oa_prop_int(struct oa *o, cJSON *props, const char *key, int min,
    const char *desc)
{
	cJSON	*p = oa_obj(o, props, key);

	oa_str(o, p, "type", "integer");
	oa_int(o, p, "minimum", min);
	if (desc != NULL)
		oa_str(o, p, "description", desc);
}

/*
 * An object schema, member key of parent, whose listed properties are
 * all required and the only ones; returns its properties member.
 */
static cJSON *
oa_schema_object(struct oa *o, cJSON *parent, const char *key,
    const char *desc, const char *const *required)
{
	cJSON	*s, *req;

	s = oa_obj(o, parent, key);
	oa_str(o, s, "type", "object");
	oa_str(o, s, "description", desc);
	req = oa_arr(o, s, "required");
	for (; *required != NULL; required++)
		oa_str(o, req, NULL, *required);
	(void)oa_check(o, cJSON_AddFalseToObject(s, "additionalProperties"));
	return (oa_obj(o, s, "properties"));
}

/* The meta of a page's envelope. */
static void
oa_schema_meta(struct oa *o, cJSON *schemas)
{
	static const char *const meta[] = { "first", "last", "next", "page",
		"pages", "per_page", "prev", "total", NULL };
	cJSON	*p, *c, *e;

	p = oa_schema_object(o, schemas, "Meta", "Where a page stands in "
	    "its collection, with the links to its neighbours.", meta);
	oa_prop_str(o, p, "first", "uri", 0, "The first page.");
	oa_prop_str(o, p, "last", "uri", 0, "The last page.");
	oa_prop_str(o, p, "next", "uri", 1, "The next page; null on the "
	    "last.");
	oa_prop_int(o, p, "page", 1, "This page's number.");
	oa_prop_int(o, p, "pages", 0, "How many pages there are.");
	oa_prop_int(o, p, "per_page", 1, "Items a page.");
	oa_prop_str(o, p, "prev", "uri", 1, "The previous page; null on "
	    "the first.");
	oa_prop_int(o, p, "total", 0, "Items in the collection (with the "
	    "filters and q=); an estimate when count says so.");
	c = oa_obj(o, p, "count");
	oa_str(o, c, "type", "string");
	e = oa_arr(o, c, "enum");
	oa_str(o, e, NULL, "exact");
	oa_str(o, e, NULL, "estimated");
	oa_str(o, e, NULL, "none");
	oa_str(o, c, "description", "How total was counted when not "
	    "exactly: estimated (the planner's estimate: above the "
	    "resource's count_threshold, or Prefer: count=estimated) or "
	    "none (Prefer: count=none); absent when total is exact.");
}

/*
 * The schemas every document has (errors, discovery, token, probes), and
 * the page's meta when a resource may be read: a linter counts an unused
 * component.
 */
static void
oa_schemas_common(struct oa *o, cJSON *schemas)
{
	static const char *const err[] = { "error", "message", "status",
		NULL };
	static const char *const prob[] = { "type", "title", "status",
		"detail", NULL };
	static const char *const idx[] = { "resources", NULL };
	static const char *const ent[] = { "name", "url", NULL };
	static const char *const tok[] = { "expires_in", "token", NULL };
	static const char *const st[] = { "status", NULL };
	static const char *const rd[] = { "database", "status", NULL };
	cJSON	*p, *a;

	if (o->any_read)
		oa_schema_meta(o, schemas);
	p = oa_schema_object(o, schemas, "Error", "What went wrong "
	    "(application/json).", err);
	oa_prop_str(o, p, "error", NULL, 0, "The status's reason phrase in "
	    "lower case.");
	oa_prop_str(o, p, "message", NULL, 0, "What went wrong, naming the "
	    "field or relation at fault.");
	oa_prop_int(o, p, "status", 300, "The HTTP status.");

	p = oa_schema_object(o, schemas, "Problem", "What went wrong, as an "
	    "RFC 9457 problem document: sent when the request's Accept "
	    "prefers application/problem+json.", prob);
	oa_prop_str(o, p, "type", "uri-reference", 0, "Always about:blank.");
	oa_prop_str(o, p, "title", NULL, 0, "The status's reason phrase.");
	oa_prop_int(o, p, "status", 300, "The HTTP status.");
	oa_prop_str(o, p, "detail", NULL, 0, "What went wrong.");

	p = oa_schema_object(o, schemas, "Index", "The resources this "
	    "server serves.", idx);
	a = oa_obj(o, p, "resources");
	oa_str(o, a, "type", "array");
	p = oa_schema_object(o, a, "items", "A resource.", ent);
	oa_prop_str(o, p, "name", NULL, 0, "The resource's name.");
	oa_prop_str(o, p, "url", "uri", 0, "Its collection's URL.");

	p = oa_schema_object(o, schemas, "Token", "A bearer token (JWT).",
	    tok);
	oa_prop_int(o, p, "expires_in", 1, "Seconds the token is valid.");
	oa_prop_str(o, p, "token", NULL, 0, "The token, for "
	    "`Authorization: Bearer`.");

	p = oa_schema_object(o, schemas, "Health", "The process answers.",
	    st);
	oa_prop_str(o, p, "status", NULL, 0, "ok");
	p = oa_schema_object(o, schemas, "Ready", "The worker's database "
	    "connection answers.", rd);
	oa_prop_str(o, p, "database", NULL, 0, "ok");
	oa_prop_str(o, p, "status", NULL, 0, "ok");
}

/* ----------------------------------------------------------- responses */

/* "STATUS": a reference to the shared error response. */
static void
oa_error_ref(struct oa *o, cJSON *responses, int status)
{
	char	code[8];
	size_t	i;

	for (i = 0; i < OA_NERRORS; i++)
		if (oa_errors[i].status == status)
			break;
	if (i == OA_NERRORS) {
		o->err++;
		return;
	}
	o->used |= 1u << i;
	snprintf(code, sizeof(code), "%d", status);
	oa_ref(o, responses, code, "responses/%s", oa_errors[i].name);
}

static void
oa_error_refs(struct oa *o, cJSON *responses, const int *statuses)
{
	for (; *statuses != 0; statuses++)
		oa_error_ref(o, responses, *statuses);
}

/* A response with a JSON body of the schema ref (NULL: no body). */
static cJSON *
oa_response(struct oa *o, cJSON *responses, const char *code,
    const char *desc, const char *ref)
{
	cJSON	*r, *mt;

	r = oa_obj(o, responses, code);
	oa_str(o, r, "description", desc);
	if (ref != NULL) {
		mt = oa_obj(o, oa_obj(o, r, "content"), "application/json");
		oa_ref(o, mt, "schema", "schemas/%s", ref);
	}
	return (r);
}

/* The response's headers member, with the named shared headers. */
static void
oa_headers(struct oa *o, cJSON *response, const char *const *names)
{
	cJSON	*h = oa_obj(o, response, "headers");

	for (; *names != NULL; names++)
		oa_ref(o, h, *names, "headers/%s", *names);
}

static const char *const oa_h_etag[] = { "ETag", NULL };
static const char *const oa_h_page[] = { "ETag", "Link", "Preference-Applied",
	NULL };
static const char *const oa_h_created[] = { "ETag", "Location", NULL };
static const char *const oa_h_location[] = { "Location", NULL };

/* The shared error responses that the operations referenced. */
static void
oa_responses_common(struct oa *o, cJSON *responses)
{
	const struct oa_error	*e;
	cJSON			*r, *c;
	size_t			 i;

	for (i = 0; i < OA_NERRORS; i++) {
		if (!(o->used & (1u << i)))
			continue;
		e = &oa_errors[i];
		r = oa_obj(o, responses, e->name);
		oa_str(o, r, "description", e->desc);
		if (e->header == OA_H_RETRY)
			oa_ref(o, oa_obj(o, r, "headers"), "Retry-After",
			    "headers/Retry-After");
		else if (e->header == OA_H_CHALLENGE)
			oa_ref(o, oa_obj(o, r, "headers"), "WWW-Authenticate",
			    "headers/WWW-Authenticate");
		c = oa_obj(o, r, "content");
		oa_ref(o, oa_obj(o, c, "application/json"), "schema",
		    "schemas/Error");
		oa_ref(o, oa_obj(o, c, "application/problem+json"), "schema",
		    "schemas/Problem");
	}
}

static void
oa_header(struct oa *o, cJSON *headers, const char *name, const char *desc,
    const char *type)
{
	cJSON	*h = oa_obj(o, headers, name);

	oa_str(o, h, "description", desc);
	oa_str(o, oa_obj(o, h, "schema"), "type", type);
}

static void
oa_headers_common(struct oa *o, cJSON *headers)
{
	oa_header(o, headers, "ETag", "The strong entity tag of the "
	    "representation (the quoted MD5 of its bytes).", "string");
	if (o->any_write)
		oa_header(o, headers, "Location", "The absolute URL of the "
		    "item (with a generated key, the one the database "
		    "chose).", "string");
	if (o->any_read) {
		oa_header(o, headers, "Link", "RFC 8288 links to the pages "
		    "around this one, with this request's query: rel first, "
		    "prev and next (and last when the total is exact); when "
		    "paging by keyset, prev and next carry a cursor.",
		    "string");
		oa_header(o, headers, "Preference-Applied", "RFC 7240: the "
		    "count preference applied (count=exact, "
		    "count=estimated or count=none), when the request's "
		    "Prefer asked for one or the total is not exact.",
		    "string");
	}
	oa_header(o, headers, "Retry-After", "Seconds to wait before "
	    "trying again.", "integer");
	oa_header(o, headers, "WWW-Authenticate", "The Basic challenge.",
	    "string");
}

/* ---------------------------------------------------------- parameters */

static cJSON *
oa_param(struct oa *o, cJSON *parent, const char *key, const char *name,
    const char *in, const char *desc)
{
	cJSON	*p = oa_obj(o, parent, key);

	oa_str(o, p, "name", name);
	oa_str(o, p, "in", in);
	if (desc != NULL)
		oa_str(o, p, "description", desc);
	return (p);
}

/* components/parameters, made on first use (none: no unused member). */
static cJSON *
oa_params(struct oa *o)
{
	if (o->params == NULL)
		o->params = oa_obj(o, o->comp, "parameters");
	return (o->params);
}

/* A shared parameter whose value is a string; its schema. */
static cJSON *
oa_param_str(struct oa *o, cJSON *params, const char *key, const char *name,
    const char *in, const char *desc)
{
	cJSON	*s;

	s = oa_obj(o, oa_param(o, params, key, name, in, desc), "schema");
	oa_str(o, s, "type", "string");
	return (s);
}

/* The shared parameters the resources' operations use. */
static void
oa_parameters_common(struct oa *o)
{
	cJSON	*params, *p, *s;

	if (!o->any_read && !o->any_write)
		return;
	params = oa_params(o);
	(void)oa_param_str(o, params, "If-Match", "If-Match", "header",
	    "Only if the item's current ETag is one of these (or * : it "
	    "exists); the write is atomic with the check.");
	if (o->any_read) {
		p = oa_param(o, params, "page", "page", "query", "The page, "
		    "from 1.");
		s = oa_obj(o, p, "schema");
		oa_str(o, s, "type", "integer");
		oa_int(o, s, "minimum", 1);
		oa_raw(o, s, "maximum", OA_MAX_PAGE);
		oa_int(o, s, "default", 1);
		(void)oa_param_str(o, params, "If-None-Match",
		    "If-None-Match", "header", "304 when the "
		    "representation's ETag is one of these.");
		s = oa_param_str(o, params, "cursor", "cursor", "query",
		    "Keyset paging: the token in a Link (rel next or prev) "
		    "of an earlier page, for the page after (or before) it, "
		    "at the same cost at any depth.  Opaque and signed: "
		    "altered, or for another query, it is a 400.");
		oa_str(o, s, "pattern", "^[A-Za-z0-9_-]+$");
		oa_int(o, s, "maxLength", QUERY_CURSOR_MAX);
		s = oa_param_str(o, params, "Prefer", "Prefer", "header",
		    "RFC 7240: count=exact, count=estimated (the planner's "
		    "estimate, as cheap on any size) or count=none (no "
		    "count) says how meta.total is counted; without it, "
		    "exactly below the resource's count_threshold rows, "
		    "else an estimate.  Preference-Applied says what was "
		    "done; other preferences are ignored.");
		oa_str(o, oa_arr(o, s, "examples"), NULL, "count=estimated");
	}
	if (o->any_write) {
		s = oa_param_str(o, params, "If-None-Match-create",
		    "If-None-Match", "header", "* alone: create the item, "
		    "and only if it does not exist (201), else 412.");
		oa_str(o, s, "const", "*");
	}
}

/* "parameters": references to the shared ones named. */
static cJSON *
oa_param_refs(struct oa *o, cJSON *op, const char *const *names)
{
	cJSON	*a = oa_arr(o, op, "parameters");

	for (; *names != NULL; names++)
		oa_ref(o, a, NULL, "parameters/%s", *names);
	return (a);
}

static const char *const oa_p_list[] = { "page", "cursor", "Prefer",
	"If-None-Match", NULL };
static const char *const oa_p_get[] = { "If-Match", "If-None-Match", NULL };
static const char *const oa_p_put[] = { "If-Match", "If-None-Match-create",
	NULL };
static const char *const oa_p_write[] = { "If-Match", NULL };

/* ------------------------------------------------------------- queries */

/*
 * A filter's value by its column's type (query.c's checks): op.value,
 * the value of the pattern given; in.(a,b) takes a list (a member with a
 * comma or a parenthesis in double quotes); pre and has are for text.
 * Each class is a schema of its own, components/schemas/Filter.<name>,
 * made only when a filter refers to it.
 */
#define OA_FILTER_OPS	"eq, neq, lt, lte, gt, gte compare (gte.100); " \
			"in.(a,b) is any of a list (a member holding a comma or a " \
			"parenthesis in double quotes, with \\\" and \\\\ " \
			"inside)"
static const struct oa_filter {
	const char	*name;
	const char	*value;		/* its pattern; NULL: no value */
	int		 text;		/* pre. and has. too */
	const char	*what;
} oa_filters[] = {
	{ "text", ".*", 1, "any text" },
	{ "integer", "-?[0-9]+", 0, "an integer" },
	{ "number", "-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?", 0,
	    "a number (JSON's syntax)" },
	{ "boolean", "(true|false)", 0, "true or false" },
	{ "date", "[0-9]{4}-[0-9]{2}-[0-9]{2}", 0, "a date, YYYY-MM-DD" },
	{ "timestamp", "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*", 0,
	    "ISO 8601, YYYY-MM-DDThh:mm[:ss[.frac]] (timestamptz: and Z or "
	    "+hh:mm; none is UTC)" },
	{ "uuid", "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
	    "[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}", 0, "a UUID" },
	{ "json", NULL, 0, NULL },
};
#define OA_NFILTERS	(sizeof(oa_filters) / sizeof(oa_filters[0]))

static size_t
oa_filter_class(const struct res_column *c)
{
	switch (c->type) {
	case COL_INT2:
	case COL_INT4:
	case COL_INT8:
		return (1);
	case COL_NUMERIC:
	case COL_FLOAT4:
	case COL_FLOAT8:
		return (2);
	case COL_BOOL:
		return (3);
	case COL_DATE:
		return (4);
	case COL_TIMESTAMP:
	case COL_TIMESTAMPTZ:
		return (5);
	case COL_UUID:
		return (6);
	case COL_JSON:
	case COL_JSONB:
		return (7);
	default:
		return (0);
	}
}

/* The Filter.<name> schemas the filters referred to. */
static void
oa_schemas_filter(struct oa *o, cJSON *schemas)
{
	const struct oa_filter	*f;
	cJSON			*s;
	char			 name[OA_NAME_MAX];
	size_t			 i;

	for (i = 0; i < OA_NFILTERS; i++) {
		if (!(o->filters & (1u << i)))
			continue;
		f = &oa_filters[i];
		snprintf(name, sizeof(name), "Filter.%s", f->name);
		s = oa_obj(o, schemas, name);
		oa_str(o, s, "type", "string");
		if (f->value == NULL) {
			oa_str(o, s, "pattern", "^(is|not)\\.null$");
			oa_str(o, s, "description", "A filter of a json "
			    "column: is.null or not.null.");
			continue;
		}
		oa_strf(o, s, "pattern", "^((eq|neq|lt|lte|gt|gte%s)\\.%s|"
		    "in\\.\\(.+\\)|(is|not)\\.null)$", f->text ? "|pre|has" :
		    "", f->value);
		oa_strf(o, s, "description", "A filter, op.value, the value "
		    "%s: " OA_FILTER_OPS "%s; is.null and not.null test for "
		    "NULL.", f->what, f->text ? "; pre.x starts with x, has.x "
		    "contains x in any case" : "");
	}
}

/*
 * Comma-separated names of r's columns for which pick() holds, in
 * exposed (JSON key) order, cut with "..." past OA_LIST_MAX bytes.
 */
static void
oa_col_list(const struct resource *r, int (*pick)(const struct res_column *),
    char *out, size_t len)
{
	int	i, ci;

	out[0] = '\0';
	for (i = 0; i < r->nexposed; i++) {
		if ((ci = r->exposed[i]) < 0 || ci >= r->ncols ||
		    !pick(&r->cols[ci]))
			continue;
		if (strlen(out) + strlen(r->cols[ci].name) + 6 > len) {
			strlcat(out, ", ...", len);
			break;
		}
		if (out[0] != '\0')
			strlcat(out, ", ", len);
		strlcat(out, r->cols[ci].name, len);
	}
}

static int
oa_is_sortable(const struct res_column *c)
{
	return (c->exposed && c->sortable);
}

static int
oa_is_searchable(const struct res_column *c)
{
	return (c->exposed && c->searchable);
}

/* A parameter's component name: <resource>.<what>; unsafe names by index. */
static void
oa_param_name(const struct resource *r, const char *what, int ci, char *out,
    size_t len)
{
	const char	*n = ci >= 0 ? r->cols[ci].name : "";
	char		 idx[16];

	if (ci >= 0 && n[strspn(n, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] != '\0') {
		snprintf(idx, sizeof(idx), "col%d", ci);
		n = idx;
	}
	snprintf(out, len, "%s.%s%s%s", r->decl.name, what, ci >= 0 ? "." :
	    "", n);
}

/*
 * The component parameter key, named name in the query, referred to
 * from refs; NULL when it is there already (the other operation of the
 * collection made it), else the new parameter to fill.
 */
static cJSON *
oa_qparam(struct oa *o, cJSON *refs, const char *key, const char *name,
    const char *desc)
{
	cJSON	*params = oa_params(o);

	oa_ref(o, refs, NULL, "parameters/%s", key);
	if (params == NULL ||
	    cJSON_GetObjectItemCaseSensitive(params, key) != NULL)
		return (NULL);
	return (oa_param(o, params, key, name, "query", desc));
}

/* An array parameter written a,b (form, not exploded) of names. */
static cJSON *
oa_param_list(struct oa *o, cJSON *p)
{
	cJSON	*s;

	oa_str(o, p, "style", "form");
	(void)oa_check(o, cJSON_AddFalseToObject(p, "explode"));
	s = oa_obj(o, p, "schema");
	oa_str(o, s, "type", "array");
	oa_true(o, s, "uniqueItems");
	s = oa_obj(o, s, "items");
	oa_str(o, s, "type", "string");
	return (oa_arr(o, s, "enum"));
}

/*
 * The query parameters of r's collection, as components (GET and HEAD
 * share them): fields, sort and q where declared, a filter for each
 * filterable column.  Their references are appended to refs.
 */
static void
oa_query_params(struct oa *o, const struct resource *r, cJSON *refs)
{
	const struct res_column	*c;
	cJSON			*p, *e;
	char			 key[OA_NAME_MAX + RES_IDENT_MAX];
	char			 list[OA_LIST_MAX + 8];
	size_t			 fc;
	int			 i, ci;

	oa_param_name(r, "fields", -1, key, sizeof(key));
	if ((p = oa_qparam(o, refs, key, "fields", "Only these columns in "
	    "each item, comma-separated (the key and url always there): "
	    "another representation, with an ETag of its own.")) != NULL) {
		e = oa_param_list(o, p);
		for (i = 0; i < r->nexposed; i++)
			if ((ci = r->exposed[i]) >= 0 && ci < r->ncols)
				oa_str(o, e, NULL, r->cols[ci].name);
	}

	oa_col_list(r, oa_is_sortable, list, sizeof(list));
	oa_param_name(r, "sort", -1, key, sizeof(key));
	if (list[0] != '\0' && (p = oa_qparam(o, refs, key, "sort", "The "
	    "order, comma-separated: sortable columns, each - first for a "
	    "descending one; the key completes it, so that the order is "
	    "total.  Default: the declared order.")) != NULL) {
		e = oa_param_list(o, p);
		for (i = 0; i < r->nexposed; i++) {
			if ((ci = r->exposed[i]) < 0 || ci >= r->ncols ||
			    !oa_is_sortable(&r->cols[ci]))
				continue;
			oa_str(o, e, NULL, r->cols[ci].name);
			oa_strf(o, e, NULL, "-%s", r->cols[ci].name);
		}
	}

	oa_col_list(r, oa_is_searchable, list, sizeof(list));
	oa_param_name(r, "q", -1, key, sizeof(key));
	if (list[0] != '\0' && (p = oa_qparam(o, refs, key, "q", NULL)) !=
	    NULL) {
		oa_strf(o, p, "description", "Free text: only items where one "
		    "of %s contains it, in any case.", list);
		e = oa_obj(o, p, "schema");
		oa_str(o, e, "type", "string");
		oa_int(o, e, "minLength", 1);
	}

	for (i = 0; i < r->nexposed; i++) {
		if ((ci = r->exposed[i]) < 0 || ci >= r->ncols ||
		    !r->cols[ci].filterable || !r->cols[ci].exposed)
			continue;
		c = &r->cols[ci];
		fc = oa_filter_class(c);
		o->filters |= 1u << fc;
		oa_param_name(r, "filter", ci, key, sizeof(key));
		if ((p = oa_qparam(o, refs, key, c->name, NULL)) == NULL)
			continue;
		oa_strf(o, p, "description", "Only items whose %s (%s) "
		    "matches: op.value, as Filter.%s says; ANDed with the "
		    "other filters.%s", c->name, c->type_name[0] != '\0' ?
		    c->type_name : oa_filters[fc].name, oa_filters[fc].name,
		    oa_filters[fc].value != NULL ? "  Given twice, a range "
		    "(gte.1, then lt.9)." : "");
		oa_ref(o, p, "schema", "schemas/Filter.%s",
		    oa_filters[fc].name);
	}
}

/* ---------------------------------------------------------- operations */

/*
 * One operation: its id (<resource>_<verb>, or the verb alone for the
 * fixed paths, whose tags are capitalised: resource names never are),
 * in the characters of an HTML id so that renderers can anchor it; its
 * summary, tag and who may call it.
 */
static cJSON *
oa_op(struct oa *o, cJSON *path, const char *method, const char *tag,
    const char *verb, enum res_access access, const char *group,
    const char *summary)
{
	cJSON	*op;
	int	 fixed = tag[0] >= 'A' && tag[0] <= 'Z';

	op = oa_obj(o, path, method);
	oa_strf(o, op, "operationId", "%s%s%s", fixed ? "" : tag,
	    fixed ? "" : "_", verb);
	oa_str(o, op, "summary", summary);
	oa_str(o, oa_arr(o, op, "tags"), NULL, tag);
	if (access == RES_ACCESS_ANYONE)
		(void)oa_arr(o, op, "security");	/* none needed */
	else if (access == RES_ACCESS_GROUP)
		oa_strf(o, op, "description", "Only users in group %s "
		    "(starterctl group add USER %s) may call it.", group,
		    group);
	return (op);
}

/* The request body of a write, of schema <name>.<kind>. */
static void
oa_body(struct oa *o, cJSON *op, const char *name, int kind)
{
	cJSON	*b, *mt;

	b = oa_obj(o, op, "requestBody");
	oa_true(o, b, "required");
	mt = oa_obj(o, oa_obj(o, b, "content"), "application/json");
	oa_ref(o, mt, "schema", "schemas/%s.%s", name, oa_body_suffix[kind]);
}

/* GET and HEAD of the collection: a page, per_page bounded. */
static void
oa_op_list(struct oa *o, cJSON *path, const struct resource *r,
    const char *method)
{
	const struct res_decl	*d = &r->decl;
	int			 head = strcmp(method, "head") == 0;
	cJSON			*op, *p, *s, *resp, *refs;
	char			 page[OA_NAME_MAX];

	op = oa_op(o, path, method, d->name, head ? "list_head" : "list",
	    d->read, d->read_group, head ? "The headers of a page of the "
	    "collection" : "A page of the collection");
	refs = oa_param_refs(o, op, oa_p_list);
	oa_query_params(o, r, refs);
	p = oa_obj(o, refs, NULL);
	oa_str(o, p, "name", "per_page");
	oa_str(o, p, "in", "query");
	oa_strf(o, p, "description", "Items a page; more than %d count as "
	    "%d.", d->max_per_page, d->max_per_page);
	s = oa_obj(o, p, "schema");
	oa_str(o, s, "type", "integer");
	oa_int(o, s, "minimum", 1);
	oa_int(o, s, "default", d->per_page);
	resp = oa_obj(o, op, "responses");
	snprintf(page, sizeof(page), "%s.page", d->name);
	oa_headers(o, oa_response(o, resp, "200", "The page, in the "
	    "requested order (else the declared one).", head ? NULL : page),
	    oa_h_page);
	oa_response(o, resp, "304", "Not modified: the ETag matched.", NULL);
	oa_error_refs(o, resp, oa_err_list);
}

static void
oa_op_post(struct oa *o, cJSON *path, const struct resource *r)
{
	const struct res_decl	*d = &r->decl;
	cJSON			*op, *resp, *created, *s;

	op = oa_op(o, path, "post", d->name, "create", d->write,
	    d->write_group, "Create an item");
	oa_body(o, op, d->name, OA_BODY_CREATE);
	resp = oa_obj(o, op, "responses");
	created = oa_response(o, resp, "201", "Created: Location is the new "
	    "item; the body is {}.", NULL);
	oa_headers(o, created, oa_h_location);
	s = oa_obj(o, oa_obj(o, oa_obj(o, created, "content"),
	    "application/json"), "schema");
	oa_str(o, s, "type", "object");
	oa_int(o, s, "maxProperties", 0);
	oa_error_refs(o, resp, oa_err_post);
}

/* GET and HEAD of an item. */
static void
oa_op_get(struct oa *o, cJSON *path, const struct resource *r,
    const char *method)
{
	const struct res_decl	*d = &r->decl;
	int			 head = strcmp(method, "head") == 0;
	cJSON			*op, *resp;

	op = oa_op(o, path, method, d->name, head ? "head" : "get", d->read,
	    d->read_group, head ? "The headers of an item" : "An item");
	(void)oa_param_refs(o, op, oa_p_get);
	resp = oa_obj(o, op, "responses");
	oa_headers(o, oa_response(o, resp, "200", "The item.", head ? NULL :
	    d->name), oa_h_etag);
	oa_response(o, resp, "304", "Not modified: the ETag matched.", NULL);
	oa_error_refs(o, resp, oa_err_read);
}

/* PUT, PATCH and DELETE of an item. */
static void
oa_op_write(struct oa *o, cJSON *path, const struct resource *r,
    const char *method)
{
	const struct res_decl	*d = &r->decl;
	cJSON			*op, *resp;

	if (strcmp(method, "delete") == 0) {
		op = oa_op(o, path, method, d->name, "delete", d->write,
		    d->write_group, "Delete an item");
		(void)oa_param_refs(o, op, oa_p_write);
		resp = oa_obj(o, op, "responses");
		oa_response(o, resp, "204", "Deleted.", NULL);
		oa_error_refs(o, resp, oa_err_delete);
		return;
	}
	if (strcmp(method, "put") == 0) {
		op = oa_op(o, path, method, d->name, "replace", d->write,
		    d->write_group, "Replace an item, or create it "
		    "(If-None-Match: *)");
		(void)oa_param_refs(o, op, oa_p_put);
		oa_body(o, op, d->name, OA_BODY_REPLACE);
	} else {
		op = oa_op(o, path, method, d->name, "update", d->write,
		    d->write_group, "Change some columns of an item");
		(void)oa_param_refs(o, op, oa_p_write);
		oa_body(o, op, d->name, OA_BODY_UPDATE);
	}
	resp = oa_obj(o, op, "responses");
	oa_headers(o, oa_response(o, resp, "200", "The item as it now is.",
	    d->name), oa_h_etag);
	if (strcmp(method, "put") == 0)
		oa_headers(o, oa_response(o, resp, "201", "Created (with "
		    "If-None-Match: *).", d->name), oa_h_created);
	oa_error_refs(o, resp, oa_err_put);
}

/* The collection and item paths of a resource, and its schemas. */
static void
oa_resource(struct oa *o, cJSON *paths, cJSON *schemas, cJSON *tags,
    const struct resource *r)
{
	const struct res_decl	*d = &r->decl;
	const struct res_column	*key;
	cJSON			*coll, *item, *p, *t;
	char			 path[sizeof(STARTERD_API_PREFIX) +
				    2 * RES_IDENT_MAX + 8];
	int			 rd = d->read != RES_ACCESS_NONE;
	int			 wr = d->write != RES_ACCESS_NONE;

	if (r->key < 0 || r->key >= r->ncols) {
		o->err++;
		return;
	}
	key = &r->cols[r->key];
	o->any_read |= rd;
	o->any_write |= wr;
	t = oa_obj(o, tags, NULL);
	oa_str(o, t, "name", d->name);
	oa_strf(o, t, "description", "Table %s.%s%s, by %s.", r->nspname,
	    r->relname, r->is_view ? " (a view)" : "", key->name);

	snprintf(path, sizeof(path), STARTERD_API_PREFIX "/%s/", d->name);
	coll = oa_obj(o, paths, path);
	snprintf(path, sizeof(path), STARTERD_API_PREFIX "/%s/{%s}", d->name,
	    key->name);
	item = oa_obj(o, paths, path);
	p = oa_param(o, oa_arr(o, item, "parameters"), NULL, key->name,
	    "path", "The item's key.");
	oa_true(o, p, "required");
	oa_column(o, oa_obj(o, p, "schema"), key, OA_COL_NONNULL | OA_COL_KEY);

	if (rd) {
		oa_op_list(o, coll, r, "get");
		oa_op_list(o, coll, r, "head");
		oa_op_get(o, item, r, "get");
		oa_op_get(o, item, r, "head");
	}
	if (wr) {
		oa_op_post(o, coll, r);
		oa_op_write(o, item, r, "put");
		oa_op_write(o, item, r, "patch");
		oa_op_write(o, item, r, "delete");
	}
	oa_schema_item(o, schemas, r);
	if (rd)
		oa_schema_page(o, schemas, r);
	if (wr) {
		oa_schema_body(o, schemas, r, OA_BODY_CREATE);
		oa_schema_body(o, schemas, r, OA_BODY_REPLACE);
		oa_schema_body(o, schemas, r, OA_BODY_UPDATE);
	}
}

/* The paths that are there whatever is declared. */
static void
oa_paths_fixed(struct oa *o, cJSON *paths, cJSON *tags)
{
	cJSON	*op, *resp, *s, *t;

	t = oa_obj(o, tags, NULL);
	oa_str(o, t, "name", "Discovery");
	oa_str(o, t, "description", "What this server serves.");
	op = oa_op(o, oa_obj(o, paths, STARTERD_API_PREFIX "/"), "get",
	    "Discovery", "index", RES_ACCESS_USER, NULL, "The resources "
	    "and their URLs");
	resp = oa_obj(o, op, "responses");
	oa_headers(o, oa_response(o, resp, "200", "The resources.", "Index"),
	    oa_h_etag);
	oa_response(o, resp, "304", "Not modified: the ETag matched.", NULL);
	oa_error_refs(o, resp, oa_err_auth);
	op = oa_op(o, oa_obj(o, paths, STARTERD_API_PREFIX "/openapi.json"),
	    "get", "Discovery", "openapi", RES_ACCESS_USER, NULL, "This "
	    "document");
	resp = oa_obj(o, op, "responses");
	s = oa_response(o, resp, "200", "The OpenAPI document.", NULL);
	oa_headers(o, s, oa_h_etag);
	s = oa_obj(o, oa_obj(o, oa_obj(o, s, "content"), "application/json"),
	    "schema");
	oa_str(o, s, "type", "object");
	oa_response(o, resp, "304", "Not modified: the ETag matched.", NULL);
	oa_error_refs(o, resp, oa_err_auth);

	t = oa_obj(o, tags, NULL);
	oa_str(o, t, "name", "Auth");
	oa_str(o, t, "description", "Bearer tokens.");
	op = oa_op(o, oa_obj(o, paths, "/auth/request-token"), "get", "Auth",
	    "request_token", RES_ACCESS_USER, NULL, "A bearer token for the "
	    "user");
	oa_str(o, op, "description", "Takes a password (Basic), never a "
	    "token.");
	(void)oa_arr(o, oa_obj(o, oa_arr(o, op, "security"), NULL), "basic");
	resp = oa_obj(o, op, "responses");
	oa_response(o, resp, "200", "The token.", "Token");
	oa_error_refs(o, resp, oa_err_auth);

	t = oa_obj(o, tags, NULL);
	oa_str(o, t, "name", "Health");
	oa_str(o, t, "description", "Probes for load balancers and "
	    "supervisors; no credentials.");
	op = oa_op(o, oa_obj(o, paths, "/healthz"), "get", "Health",
	    "healthz", RES_ACCESS_ANYONE, NULL, "The process answers");
	oa_response(o, oa_obj(o, op, "responses"), "200", "Alive.",
	    "Health");
	op = oa_op(o, oa_obj(o, paths, "/readyz"), "get", "Health", "readyz",
	    RES_ACCESS_ANYONE, NULL, "The database answers and every declared "
	    "resource is served");
	resp = oa_obj(o, op, "responses");
	oa_response(o, resp, "200", "Ready.", "Ready");
	oa_error_ref(o, resp, 503);
}

/* Which schemes /api/ takes (--auth): both, or the one named. */
static void
oa_security(struct oa *o, cJSON *root, cJSON *components)
{
	cJSON	*sec, *schemes, *s;
	int	 mode = conf != NULL ? conf->auth_mode : AUTH_MODE_BOTH;

	sec = oa_arr(o, root, "security");
	if (mode != AUTH_MODE_TOKEN)
		(void)oa_arr(o, oa_obj(o, sec, NULL), "basic");
	if (mode != AUTH_MODE_PASSWORD)
		(void)oa_arr(o, oa_obj(o, sec, NULL), "bearer");
	schemes = oa_obj(o, components, "securitySchemes");
	s = oa_obj(o, schemes, "basic");
	oa_str(o, s, "type", "http");
	oa_str(o, s, "scheme", "basic");
	oa_str(o, s, "description", "A user of starterctl adduser.");
	s = oa_obj(o, schemes, "bearer");
	oa_str(o, s, "type", "http");
	oa_str(o, s, "scheme", "bearer");
	oa_str(o, s, "bearerFormat", "JWT");
	oa_str(o, s, "description", "A token of GET /auth/request-token.");
}

/*
 * Append the OpenAPI document of the n resources rs to out (NUL ended,
 * as a buf always is) and a newline.  base is scheme://host, the
 * server's URL.  Returns 0, or -1 when a node could not be made or the
 * document does not fit out's bound (out is then as it was).
 */
int
openapi_build(struct buf *out, const char *base, struct resource *const *rs,
    int n)
{
	struct oa	 o;
	cJSON		*info, *paths, *comp, *schemas, *tags, *srv, *resp;
	char		*text = NULL;
	size_t		 len0 = BUF_LEN(out);
	int		 i, rv = -1;

	memset(&o, 0, sizeof(o));
	if ((o.root = cJSON_CreateObject()) == NULL)
		return (-1);
	oa_str(&o, o.root, "openapi", OPENAPI_VERSION);
	info = oa_obj(&o, o.root, "info");
	oa_str(&o, info, "title", STARTERD_NAME);
	oa_str(&o, info, "version", PACKAGE_VERSION);
	oa_str(&o, info, "description", "The resources this server "
	    "serves, generated from their declarations (starterd.conf(5)) "
	    "and the database catalog.");
	srv = oa_obj(&o, oa_arr(&o, o.root, "servers"), NULL);
	oa_str(&o, srv, "url", base);
	tags = oa_arr(&o, o.root, "tags");
	paths = oa_obj(&o, o.root, "paths");
	comp = oa_obj(&o, o.root, "components");
	o.comp = comp;
	schemas = oa_obj(&o, comp, "schemas");
	oa_paths_fixed(&o, paths, tags);
	for (i = 0; i < n; i++)
		if (rs[i] != NULL)
			oa_resource(&o, paths, schemas, tags, rs[i]);
	oa_schemas_common(&o, schemas);
	oa_schemas_filter(&o, schemas);
	oa_parameters_common(&o);
	oa_headers_common(&o, oa_obj(&o, comp, "headers"));
	resp = oa_obj(&o, comp, "responses");
	oa_responses_common(&o, resp);
	oa_security(&o, o.root, comp);
	if (o.err != 0)
		goto fail;
	if ((text = cJSON_PrintUnformatted(o.root)) == NULL)
		goto fail;
	if (buf_appendstr(out, text) == -1 || buf_append(out, "\n", 1) == -1)
		goto fail;
	rv = 0;
fail:
	if (rv == -1 && BUF_LEN(out) > len0)
		out->len = out->off + len0;
	if (out->data != NULL)
		out->data[out->len] = '\0';
	cJSON_free(text);
	cJSON_Delete(o.root);
	return (rv);
}

/* ------------------------------------------------------------ handlers */

/*
 * The bound resources into rs (RES_MAX of them), in declaration order;
 * their count, or -1 after a 503 when none is bound and the database is
 * not there to bind them.  A binding outlives a lost connection, so what
 * is bound is described even then; one still unbound (its table missing,
 * or its catalog answer not in yet, just after the worker connected) is
 * left out until it is.
 */
static int
discovery_resources(struct client *c, struct resource **rs)
{
	int	i, n, k = 0;

	if ((n = resource_count()) > RES_MAX)
		n = RES_MAX;
	for (i = 0; i < n; i++)
		if ((rs[k] = resource_get(i)) != NULL)
			k++;
	if (k == 0 && n > 0 && db_status() != DB_READY) {
		response_unavailable(c, db_retry_after());
		return (-1);
	}
	return (k);
}

/* 200 with a strong ETag, or 304 when If-None-Match holds it. */
static void
discovery_send(struct client *c, struct buf *b)
{
	const struct http_span	*h;
	char			 etag[40];

	etag_compute(BUF_PTR(b), BUF_LEN(b), etag, sizeof(etag));
	response_header(c, "ETag: %s", etag);
	/* Authenticated: browsers may keep it, shared caches may not. */
	response_header(c, "Cache-Control: private, no-cache");
	h = http_header_find(&c->req, BUF_PTR(&c->in), "If-None-Match");
	if (h != NULL && http_etag_match(BUF_PTR(&c->in) + h->off, h->len,
	    etag, 1) == 1)
		response_send(c, 304, "application/json", BUF_PTR(b),
		    BUF_LEN(b));
	else
		response_json(c, 200, b);
}

/*
 * GET /api/v1.0/: {"resources":[{"name":N,"url":U},...]} in declaration
 * order, written like every other body (sorted keys, jsonify's bytes).
 */
void
api_index(struct client *c)
{
	struct resource	*rs[RES_MAX];
	struct buf	 b, url;
	int		 i, n, rv = 0;

	if ((n = discovery_resources(c, rs)) == -1)
		return;
	buf_init(&b, OPENAPI_MAX);
	buf_init(&url, 4096);
	rv |= buf_appendstr(&b, "{\"resources\":[");
	for (i = 0; i < n; i++) {
		buf_reset(&url);
		api_link_base(c, &url);
		rv |= buf_appendf(&url, STARTERD_API_PREFIX "/%s/",
		    rs[i]->decl.name);
		rv |= buf_appendstr(&b, i > 0 ? ",{\"name\":" : "{\"name\":");
		rv |= json_string(&b, rs[i]->decl.name,
		    strlen(rs[i]->decl.name));
		rv |= buf_appendstr(&b, ",\"url\":");
		rv |= json_string(&b, BUF_PTR(&url), BUF_LEN(&url));
		rv |= buf_appendstr(&b, "}");
	}
	rv |= buf_appendstr(&b, "]}\n");
	if (rv != 0)
		response_error(c, 500, "the resource index does not fit");
	else
		discovery_send(c, &b);
	buf_free(&url);
	buf_free(&b);
}

/* GET /api/v1.0/openapi.json */
void
api_openapi(struct client *c)
{
	struct resource	*rs[RES_MAX];
	struct buf	 b, base;
	int		 n;

	if ((n = discovery_resources(c, rs)) == -1)
		return;
	buf_init(&base, 1024);
	buf_init(&b, OPENAPI_MAX);
	api_link_base(c, &base);
	if (openapi_build(&b, BUF_PTR(&base), rs, n) == -1) {
		log_warnx("%s: the OpenAPI document could not be built",
		    c->addr);
		response_error(c, 500, "the OpenAPI document could not be "
		    "built");
	} else
		discovery_send(c, &b);
	buf_free(&base);
	buf_free(&b);
}
