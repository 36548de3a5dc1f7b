/*
 * schema.c: a resource declaration bound to the catalog.
 *
 * One catalog query (schema_catalog_sql) answers, for every declared
 * table, one JSON document: the relation (schema, name, kind), its columns
 * (type, length, NOT NULL, default, identity, generated, the role's
 * column privileges), its unique indexes, foreign keys and check
 * constraints, and the role's table privileges.  schema_bind() runs one
 * declaration through the rules against that document and fills a struct
 * resource, with the statements that do not depend on the request written
 * once.  Every problem is reported on its own line; none means the
 * resource can be served.
 *
 * Pure: no connection of its own (the caller runs the query: the worker
 * through db.c, `starterd -t` and `starterctl resources check` directly),
 * and the PGconn passed in is only used to quote identifiers.  So the
 * worker, -t and starterctl apply the very same rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include <cjson/cJSON.h>

#include "starterd.h"

#define SCHEMA_SQL_MAX	(64 * 1024)

/*
 * $1: the declared names, as declared.  to_regclass() resolves each as
 * PostgreSQL would in a query (search_path, case folding), so what is
 * served is what `SELECT ... FROM <name>` would read.  A missing table is
 * a row with a NULL document.
 */
const char schema_catalog_sql[] =
    "SELECT d.name, (SELECT json_build_object("
    "'nsp', n.nspname, 'rel', c.relname, 'kind', c.relkind, "
    "'qnsp', quote_ident(n.nspname), 'qrel', quote_ident(c.relname), "
    "'reltuples', c.reltuples::bigint, "
    "'notify', EXISTS (SELECT 1 FROM pg_trigger g JOIN pg_proc f "
    "ON f.oid = g.tgfoid WHERE g.tgrelid = c.oid AND NOT g.tgisinternal "
    "AND f.proname = 'starterd_notify' AND g.tgenabled <> 'D' "
    /* a statement trigger (bit 0 clear) on INSERT, DELETE, UPDATE and
       TRUNCATE (bits 2 to 5): every change, as starterctl installs it */
    "AND (g.tgtype & 1) = 0 AND (g.tgtype & 60) = 60), "
    "'priv', json_build_object("
    "'select', has_table_privilege(c.oid, 'SELECT'), "
    "'insert', has_table_privilege(c.oid, 'INSERT'), "
    "'update', has_table_privilege(c.oid, 'UPDATE'), "
    "'delete', has_table_privilege(c.oid, 'DELETE')), "
    "'cols', (SELECT json_agg(json_build_object("
    "'name', a.attname, 'q', quote_ident(a.attname), "
    "'type', CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END, "
    "'typmod', CASE WHEN t.typtype = 'd' THEN t.typtypmod "
    "ELSE a.atttypmod END, "
    "'fmt', format_type(a.atttypid, a.atttypmod), "
    "'notnull', a.attnotnull OR (t.typtype = 'd' AND t.typnotnull), "
    "'hasdef', a.atthasdef OR a.attidentity <> '' OR "
    "(t.typtype = 'd' AND t.typdefault IS NOT NULL), "
    "'identity', a.attidentity, 'generated', a.attgenerated, "
    "'sel', has_column_privilege(c.oid, a.attnum, 'SELECT'), "
    "'ins', has_column_privilege(c.oid, a.attnum, 'INSERT'), "
    "'upd', has_column_privilege(c.oid, a.attnum, 'UPDATE')) "
    "ORDER BY a.attnum) "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_type bt ON bt.oid = t.typbasetype "
    "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), "
    "'uniques', (SELECT json_agg(json_build_object("
    "'name', i.relname, 'primary', x.indisprimary, "
    "'cols', (SELECT json_agg(a.attname ORDER BY k.ord) "
    "FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(num, ord) "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num)) "
    "ORDER BY x.indisprimary DESC, i.relname) "
    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    "WHERE x.indrelid = c.oid AND x.indisunique AND x.indpred IS NULL "
    "AND x.indexprs IS NULL), "
    "'cons', (SELECT json_agg(json_build_object("
    "'name', o.conname, 'type', o.contype, "
    "'ref', (SELECT r.relname FROM pg_class r WHERE r.oid = o.confrelid), "
    "'cols', (SELECT json_agg(a.attname ORDER BY k.ord) "
    "FROM unnest(o.conkey) WITH ORDINALITY k(num, ord) "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num)) "
    "ORDER BY o.conname) "
    "FROM pg_constraint o WHERE o.conrelid = c.oid "
    "AND o.contype IN ('f', 'c'))"
    ") FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = to_regclass(d.name)) "
    "FROM unnest($1::text[]) AS d(name)";

static const struct {
	const char	*typname;
	enum col_type	 type;
	const char	*name;
} schema_types[] = {
	{ "text", COL_TEXT, "text" },
	{ "varchar", COL_VARCHAR, "varchar" },
	{ "bpchar", COL_CHAR, "char" },
	{ "int2", COL_INT2, "smallint" },
	{ "int4", COL_INT4, "integer" },
	{ "int8", COL_INT8, "bigint" },
	{ "numeric", COL_NUMERIC, "numeric" },
	{ "float4", COL_FLOAT4, "real" },
	{ "float8", COL_FLOAT8, "double precision" },
	{ "bool", COL_BOOL, "boolean" },
	{ "date", COL_DATE, "date" },
	{ "timestamp", COL_TIMESTAMP, "timestamp" },
	{ "timestamptz", COL_TIMESTAMPTZ, "timestamptz" },
	{ "uuid", COL_UUID, "uuid" },
	{ "json", COL_JSON, "json" },
	{ "jsonb", COL_JSONB, "jsonb" },
};
#define NTYPES	(sizeof(schema_types) / sizeof(schema_types[0]))

const char *
col_type_name(enum col_type t)
{
	size_t	i;

	if (t == COL_ASTEXT)
		return ("text (as_text)");
	for (i = 0; i < NTYPES; i++)
		if (schema_types[i].type == t)
			return (schema_types[i].name);
	return ("?");
}

struct bind {
	PGconn			*conn;
	const struct res_decl	*d;
	void			(*report)(void *, const char *);
	void			*arg;
	int			 problems;
};

static void
schema_problem(struct bind *b, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

static void
schema_problem(struct bind *b, const char *fmt, ...)
{
	char	 msg[512], line[PATH_MAX + 1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->d->file[0] != '\0')
		snprintf(line, sizeof(line), "%s:%d: resource %s: %s",
		    b->d->file, b->d->line, b->d->name, msg);
	else
		snprintf(line, sizeof(line), "resource %s: %s", b->d->name,
		    msg);
	b->problems++;
	if (b->report != NULL)
		b->report(b->arg, line);
}

/* Is name in the comma-separated list (spaces around names allowed)? */
static int
schema_in_list(const char *list, const char *name)
{
	const char	*p = list, *e;
	size_t		 l, n = strlen(name);

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '-' || *p == '+')
			p++;
		e = p + strcspn(p, ",");
		l = (size_t)(e - p);
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (l == n && l > 0 && strncmp(p, name, n) == 0)
			return (1);
		p = e;
	}
	return (0);
}

static int
schema_col(const struct resource *r, const char *name)
{
	int	i;

	for (i = 0; i < r->ncols; i++)
		if (strcmp(r->cols[i].name, name) == 0)
			return (i);
	return (-1);
}

/* Every name of a declared list must be a column of the table. */
static void
schema_list_check(struct bind *b, const struct resource *r,
    const char *key, const char *list)
{
	char		 name[RES_IDENT_MAX];
	const char	*p = list, *e;
	size_t		 l;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if ((*p == '-' || *p == '+') && strcmp(key, "order") == 0)
			p++;
		e = p + strcspn(p, ",");
		l = (size_t)(e - p);
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (l >= sizeof(name))
			l = sizeof(name) - 1;
		memcpy(name, p, l);
		name[l] = '\0';
		if (l > 0 && schema_col(r, name) == -1)
			schema_problem(b, "%s: %s is not a column of %s", key,
			    name, b->d->table);
		p = e;
	}
}

/*
 * May q= search the column?  Text, varchar and char as they are (their
 * trigram index serves ILIKE); an as_text column is served as text, so
 * its text is what a client sees and may search.  Numbers, dates, json:
 * a filter's business, not free text's.
 */
static int
schema_searchable(const struct res_column *c)
{
	return (c->type == COL_TEXT || c->type == COL_VARCHAR ||
	    c->type == COL_CHAR || c->type == COL_ASTEXT);
}

/* The collection's own query parameters: no filter can have their names. */
static const char *const schema_qparams[] = { "page", "per_page", "cursor",
	"fields", "sort", "q", NULL };

/*
 * The query language's lists (filter, sort, search): each name a column
 * (said by schema_list_check), exposed (a hidden column must not leak
 * through what a filter matches or the order of a page), and fit for its
 * use: json has no order, q= matches text, and a filter is a parameter
 * named as its column.  Each one found sets its column's flag.
 */
static void
schema_query_list(struct bind *b, struct resource *r, const char *key,
    const char *list)
{
	struct res_column	*c;
	int			 i, k;

	for (i = 0; i < r->ncols; i++) {
		c = &r->cols[i];
		if (!schema_in_list(list, c->name))
			continue;
		if (!c->exposed) {
			schema_problem(b, "%s: %s is not exposed (hidden, or "
			    "not in columns)", key, c->name);
			continue;
		}
		if (strcmp(key, "filter") == 0) {
			for (k = 0; schema_qparams[k] != NULL; k++)
				if (strcmp(c->name, schema_qparams[k]) == 0)
					break;
			if (schema_qparams[k] != NULL)
				schema_problem(b, "filter: %s is a query "
				    "parameter of its own (page, per_page, "
				    "cursor, fields, sort, q)", c->name);
			else
				c->filterable = 1;
		} else if (strcmp(key, "sort") == 0) {
			if (c->type == COL_JSON)
				schema_problem(b, "sort: %s is json, which has "
				    "no order (jsonb has)", c->name);
			else
				c->sortable = 1;
		} else if (!schema_searchable(c))
			schema_problem(b, "search: %s is %s, not text, "
			    "varchar, char or as_text (q= matches text)",
			    c->name, c->type_name);
		else
			c->searchable = 1;
	}
}

/* The query language's lists, by their keys in the declaration. */
static const struct {
	const char	*key;
	size_t		 off;
} schema_qlists[] = {
	{ "filter", offsetof(struct res_decl, filter) },
	{ "sort", offsetof(struct res_decl, sortable) },
	{ "search", offsetof(struct res_decl, search) },
};
#define SCHEMA_NQLISTS	(sizeof(schema_qlists) / sizeof(schema_qlists[0]))

/*
 * Quote an identifier for the statements: as it is when the server's
 * quote_ident() leaves it alone (a lower-case name that is no keyword:
 * statements stay readable in logs and pg_stat_statements), else with
 * libpq's PQescapeIdentifier.
 */
static int
schema_quote(PGconn *conn, const char *ident, const char *server, char *out,
    size_t len)
{
	char	*q;

	if (server != NULL && strcmp(server, ident) == 0)
		return (strlcpy(out, ident, len) >= len ? -1 : 0);
	if (conn != NULL) {
		if ((q = PQescapeIdentifier(conn, ident, strlen(ident)))
		    == NULL)
			return (-1);
		if (strlcpy(out, q, len) >= len) {
			PQfreemem(q);
			return (-1);
		}
		PQfreemem(q);
		return (0);
	}
	return (-1);
}

static const char *
schema_jstr(const cJSON *o, const char *k)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, k);

	return (cJSON_IsString(v) ? v->valuestring : "");
}

static int
schema_jbool(const cJSON *o, const char *k)
{
	return (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k)));
}

/* A JSON array of names as "a,b". */
static void
schema_names(const cJSON *a, char *out, size_t len)
{
	const cJSON	*v;

	out[0] = '\0';
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsString(v))
			continue;
		if (out[0] != '\0')
			strlcat(out, ",", len);
		strlcat(out, v->valuestring, len);
	}
}

static int
schema_bind_column(struct bind *b, struct resource *r, const cJSON *jc)
{
	const struct res_decl	*d = b->d;
	struct res_column	*c;
	const char		*typ, *gen, *ident;
	int			 typmod;
	size_t			 i;

	if (r->ncols >= RES_MAX_COLS) {
		schema_problem(b, "%s has more than %d columns", d->table,
		    RES_MAX_COLS);
		return (-1);
	}
	c = &r->cols[r->ncols];
	memset(c, 0, sizeof(*c));
	if (strlcpy(c->name, schema_jstr(jc, "name"), sizeof(c->name)) >=
	    sizeof(c->name))
		return (-1);
	typ = schema_jstr(jc, "type");
	typmod = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(jc,
	    "typmod")) ? cJSON_GetObjectItemCaseSensitive(jc,
	    "typmod")->valueint : -1;
	strlcpy(c->type_name, schema_jstr(jc, "fmt"), sizeof(c->type_name));
	c->maxlen = c->precision = c->scale = -1;
	c->type = COL_ASTEXT;
	for (i = 0; i < NTYPES; i++)
		if (strcmp(typ, schema_types[i].typname) == 0) {
			c->type = schema_types[i].type;
			break;
		}
	if (schema_in_list(d->as_text, c->name))
		c->type = COL_ASTEXT;
	if ((c->type == COL_VARCHAR || c->type == COL_CHAR) && typmod >= 4)
		c->maxlen = typmod - 4;
	/* timestamp(p): fractional digits kept (default 6) */
	if ((c->type == COL_TIMESTAMP || c->type == COL_TIMESTAMPTZ) &&
	    typmod >= 0)
		c->scale = typmod;
	if (c->type == COL_NUMERIC && typmod >= 4) {
		c->precision = ((typmod - 4) >> 16) & 0xffff;
		c->scale = (typmod - 4) & 0xffff;
	}
	c->notnull = schema_jbool(jc, "notnull");
	c->has_default = schema_jbool(jc, "hasdef");
	ident = schema_jstr(jc, "identity");
	gen = schema_jstr(jc, "generated");
	c->generated = strcmp(ident, "a") == 0 || gen[0] != '\0';
	c->exposed = (d->columns[0] == '\0' ||
	    schema_in_list(d->columns, c->name)) &&
	    !schema_in_list(d->hidden, c->name);
	c->read_only = c->generated || schema_in_list(d->read_only, c->name);
	c->required = c->exposed && !c->read_only &&
	    ((c->notnull && !c->has_default) ||
	    schema_in_list(d->required, c->name));
	if (schema_quote(b->conn, c->name, schema_jstr(jc, "q"), c->qname,
	    sizeof(c->qname)) == -1)
		return (-1);
	if (c->exposed && i == NTYPES && c->type == COL_ASTEXT &&
	    !schema_in_list(d->as_text, c->name))
		schema_problem(b, "column %s: type %s is not supported "
		    "(declare it in as_text to serve it as text, or hide it)",
		    c->name, c->type_name);
	if (c->exposed && !schema_jbool(jc, "sel") &&
	    d->read != RES_ACCESS_NONE)
		schema_problem(b, "column %s: the role may not SELECT it",
		    c->name);
	if (!c->exposed && c->notnull && !c->has_default &&
	    d->write != RES_ACCESS_NONE)
		schema_problem(b, "column %s is not exposed but NOT NULL "
		    "without a default: nothing could be created (expose "
		    "it, or write = none)", c->name);
	if (c->exposed && !c->read_only && d->write != RES_ACCESS_NONE &&
	    (!schema_jbool(jc, "ins") || !schema_jbool(jc, "upd")))
		schema_problem(b, "column %s: the role may not INSERT or "
		    "UPDATE it (declare it read_only, or write = none)",
		    c->name);
	r->ncols++;
	return (0);
}

/* Sort the JSON keys of the representation: the columns and "url". */
static const char *
schema_keyname(const struct resource *r, int i)
{
	return (i == -1 ? "url" : r->cols[i].name);
}

static void
schema_sort_exposed(struct resource *r)
{
	int	i, j, t;

	r->nexposed = 0;
	r->nsel = 0;
	for (i = 0; i < r->ncols; i++) {
		r->selpos[i] = -1;
		if (!r->cols[i].exposed)
			continue;
		r->selpos[i] = r->nsel;
		r->sel[r->nsel++] = i;
		r->exposed[r->nexposed++] = i;
	}
	r->exposed[r->nexposed++] = -1;
	/* Insertion sort by byte order, as Python's sort_keys. */
	for (i = 1; i < r->nexposed; i++)
		for (j = i; j > 0 && strcmp(schema_keyname(r,
		    r->exposed[j - 1]), schema_keyname(r, r->exposed[j])) > 0;
		    j--) {
			t = r->exposed[j];
			r->exposed[j] = r->exposed[j - 1];
			r->exposed[j - 1] = t;
		}
}

/* The ORDER BY columns: declared, else the primary key; then the key. */
static void
schema_order(struct bind *b, struct resource *r, const char *pkey)
{
	const char	*list = b->d->order[0] != '\0' ? b->d->order : pkey;
	const char	*p = list, *e;
	char		 name[RES_IDENT_MAX];
	size_t		 l;
	int		 desc, i, k;

	r->norder = 0;
	while (*p != '\0' && r->norder < RES_MAX_COLS - 1) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		desc = *p == '-';
		if (*p == '-' || *p == '+')
			p++;
		e = p + strcspn(p, ",");
		l = (size_t)(e - p);
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (l >= sizeof(name))
			l = sizeof(name) - 1;
		memcpy(name, p, l);
		name[l] = '\0';
		p = e;
		if ((i = schema_col(r, name)) == -1)
			continue;	/* reported by schema_list_check */
		for (k = 0; k < r->norder; k++)
			if (r->order[k] == i)
				break;
		if (k < r->norder)
			continue;
		r->order[r->norder] = i;
		r->order_desc[r->norder++] = desc;
	}
	/* The key completes the order: it is unique, so the order is total. */
	for (k = 0; k < r->norder; k++)
		if (r->order[k] == r->key)
			return;
	r->order[r->norder] = r->key;
	r->order_desc[r->norder++] = 0;
}

static char *
schema_printf(const char *fmt, ...) __attribute__((__format__ (printf, 1, 2)));

static char *
schema_printf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	return (s);
}

/* The statements that do not depend on the request. */
static int
schema_statements(struct resource *r)
{
	struct buf	 sel, row, ord, ordi, ordo;
	const char	*key = r->cols[r->key].qname;
	int		 i, err = 0, rv = -1;

	buf_init(&sel, SCHEMA_SQL_MAX);
	buf_init(&row, SCHEMA_SQL_MAX);
	buf_init(&ord, SCHEMA_SQL_MAX);
	buf_init(&ordi, SCHEMA_SQL_MAX);
	buf_init(&ordo, SCHEMA_SQL_MAX);
	for (i = 0; i < r->nsel; i++)
		err |= buf_appendf(&sel, "%s%s", i > 0 ? ", " : "",
		    r->cols[r->sel[i]].qname);
	err |= buf_appendf(&row, "ROW(%s)::text", BUF_PTR(&sel));
	for (i = 0; i < r->norder; i++) {
		err |= buf_appendf(&ord, ", %s AS \"starterd_o%d\"",
		    r->cols[r->order[i]].qname, i);
		err |= buf_appendf(&ordi, "%s%s%s", i > 0 ? ", " : "",
		    r->cols[r->order[i]].qname,
		    r->order_desc[i] ? " DESC" : "");
		err |= buf_appendf(&ordo, "%sp.\"starterd_o%d\"%s",
		    i > 0 ? ", " : "", i, r->order_desc[i] ? " DESC" : "");
	}
	if (err)
		goto done;
	r->sql_select_list = strdup(BUF_PTR(&sel));
	r->sql_row_text = strdup(BUF_PTR(&row));
	r->sql_get = schema_printf("SELECT %s FROM %s WHERE %s = $1",
	    BUF_PTR(&sel), r->qtable, key);
	r->sql_get_cas = schema_printf("SELECT %s, %s FROM %s WHERE %s = $1",
	    BUF_PTR(&sel), BUF_PTR(&row), r->qtable, key);
	/*
	 * One round trip: the total and the page, and a row even when the
	 * page is empty (the LEFT JOIN); the outer ORDER BY repeats the
	 * page's, on the order columns carried out under names of their own
	 * (an order column may be hidden).
	 */
	r->sql_page = schema_printf("WITH t AS (SELECT count(*) AS n FROM %s) "
	    "SELECT t.n, p.* FROM t LEFT JOIN LATERAL (SELECT %s%s FROM %s "
	    "ORDER BY %s LIMIT $1::int OFFSET $2::bigint) p ON true "
	    "ORDER BY %s", r->qtable, BUF_PTR(&sel), BUF_PTR(&ord), r->qtable,
	    BUF_PTR(&ordi), BUF_PTR(&ordo));
	r->sql_delete = schema_printf("DELETE FROM %s WHERE %s = $1 "
	    "RETURNING %s", r->qtable, key, key);
	r->sql_delete_cas = schema_printf("DELETE FROM %s WHERE %s = $1 AND "
	    "%s = $2 RETURNING %s", r->qtable, key, BUF_PTR(&row), key);
	if (r->sql_select_list != NULL && r->sql_row_text != NULL &&
	    r->sql_get != NULL && r->sql_get_cas != NULL &&
	    r->sql_page != NULL && r->sql_delete != NULL &&
	    r->sql_delete_cas != NULL)
		rv = 0;
done:
	buf_free(&sel);
	buf_free(&row);
	buf_free(&ord);
	buf_free(&ordi);
	buf_free(&ordo);
	return (rv);
}

void
schema_free(struct resource *r)
{
	free(r->sql_select_list);
	free(r->sql_row_text);
	free(r->sql_get);
	free(r->sql_get_cas);
	free(r->sql_page);
	free(r->sql_delete);
	free(r->sql_delete_cas);
	free(r->sql_insert[0].sql);
	free(r->sql_insert[1].sql);
	r->sql_insert[0].sql = r->sql_insert[1].sql = NULL;
	r->sql_select_list = r->sql_row_text = r->sql_get = NULL;
	r->sql_get_cas = r->sql_page = r->sql_delete = NULL;
	r->sql_delete_cas = NULL;
}

static void
schema_constraints(struct bind *b, struct resource *r, const cJSON *doc,
    char *pkey, size_t pkeylen)
{
	const cJSON	*u, *a;
	const char	*t;
	struct res_unique *x;

	pkey[0] = '\0';
	r->nunique = r->nfkey = r->nchecks = 0;
	a = cJSON_GetObjectItemCaseSensitive(doc, "uniques");
	cJSON_ArrayForEach(u, a) {
		if (schema_jbool(u, "primary"))
			schema_names(cJSON_GetObjectItemCaseSensitive(u,
			    "cols"), pkey, pkeylen);
		if (r->nunique >= RES_MAX_UNIQUE)
			continue;
		x = &r->unique[r->nunique++];
		strlcpy(x->name, schema_jstr(u, "name"), sizeof(x->name));
		schema_names(cJSON_GetObjectItemCaseSensitive(u, "cols"),
		    x->columns, sizeof(x->columns));
		x->ref[0] = '\0';
	}
	a = cJSON_GetObjectItemCaseSensitive(doc, "cons");
	cJSON_ArrayForEach(u, a) {
		t = schema_jstr(u, "type");
		if (strcmp(t, "f") == 0 && r->nfkey < RES_MAX_UNIQUE)
			x = &r->fkey[r->nfkey++];
		else if (strcmp(t, "c") == 0 && r->nchecks < RES_MAX_UNIQUE)
			x = &r->check[r->nchecks++];
		else
			continue;
		strlcpy(x->name, schema_jstr(u, "name"), sizeof(x->name));
		schema_names(cJSON_GetObjectItemCaseSensitive(u, "cols"),
		    x->columns, sizeof(x->columns));
		strlcpy(x->ref, schema_jstr(u, "ref"), sizeof(x->ref));
	}
	(void)b;
}

int
schema_bind(PGconn *conn, const struct res_decl *d, PGresult *res,
    struct resource *r, void (*report)(void *, const char *), void *arg)
{
	struct bind	 b = { conn, d, report, arg, 0 };
	cJSON		*doc = NULL;
	const cJSON	*jc, *priv;
	const char	*kind, *keyname, *list;
	char		 pkey[RES_LIST_MAX], qn[2 * RES_IDENT_MAX + 3];
	char		 qr[2 * RES_IDENT_MAX + 3];
	size_t		 q;
	int		 row, i, u, fatal = 0;

	memset(r, 0, sizeof(*r));
	r->decl = *d;
	r->key = -1;
	for (row = 0; row < PQntuples(res); row++)
		if (strcmp(PQgetvalue(res, row, 0), d->table) == 0)
			break;
	if (row == PQntuples(res) || PQgetisnull(res, row, 1)) {
		schema_problem(&b, "table %s does not exist (or the role may "
		    "not see it)", d->table);
		return (b.problems);
	}
	if ((doc = cJSON_Parse(PQgetvalue(res, row, 1))) == NULL) {
		schema_problem(&b, "the catalog's answer for %s is not "
		    "readable", d->table);
		return (b.problems);
	}
	strlcpy(r->nspname, schema_jstr(doc, "nsp"), sizeof(r->nspname));
	strlcpy(r->relname, schema_jstr(doc, "rel"), sizeof(r->relname));
	if (schema_quote(conn, r->nspname, schema_jstr(doc, "qnsp"), qn,
	    sizeof(qn)) == -1 || schema_quote(conn, r->relname,
	    schema_jstr(doc, "qrel"), qr, sizeof(qr)) == -1) {
		schema_problem(&b, "cannot quote the name of %s", d->table);
		goto out;
	}
	/*
	 * As declared: qualified if the declaration is (a bare name is
	 * looked up through search_path, as the catalog query did).
	 */
	if (strchr(d->table, '.') != NULL)
		snprintf(r->qtable, sizeof(r->qtable), "%s.%s", qn, qr);
	else
		strlcpy(r->qtable, qr, sizeof(r->qtable));
	kind = schema_jstr(doc, "kind");
	r->is_view = strcmp(kind, "v") == 0 || strcmp(kind, "m") == 0;
	if (strchr("rpvmf", kind[0] != '\0' ? kind[0] : 'x') == NULL) {
		schema_problem(&b, "%s is not a table or a view", d->table);
		goto out;
	}
	cJSON_ArrayForEach(jc, cJSON_GetObjectItemCaseSensitive(doc, "cols"))
		if (schema_bind_column(&b, r, jc) == -1) {
			fatal = 1;
			break;
		}
	if (fatal)
		goto out;
	schema_list_check(&b, r, "columns", d->columns);
	schema_list_check(&b, r, "hidden", d->hidden);
	schema_list_check(&b, r, "read_only", d->read_only);
	schema_list_check(&b, r, "required", d->required);
	schema_list_check(&b, r, "as_text", d->as_text);
	schema_list_check(&b, r, "order", d->order);
	for (q = 0; q < SCHEMA_NQLISTS; q++) {
		list = (const char *)d + schema_qlists[q].off;
		schema_list_check(&b, r, schema_qlists[q].key, list);
		schema_query_list(&b, r, schema_qlists[q].key, list);
	}
	schema_constraints(&b, r, doc, pkey, sizeof(pkey));

	/* The key: declared, else the one-column primary key. */
	keyname = d->key;
	if (keyname[0] == '\0') {
		if (pkey[0] == '\0' || strchr(pkey, ',') != NULL) {
			schema_problem(&b, "no key declared and %s has no "
			    "one-column primary key", d->table);
			goto out;
		}
		keyname = pkey;
	}
	if ((r->key = schema_col(r, keyname)) == -1) {
		schema_problem(&b, "key: %s is not a column of %s", keyname,
		    d->table);
		goto out;
	}
	for (u = 0; u < r->nunique; u++)
		if (strcmp(r->unique[u].columns, keyname) == 0)
			break;
	/* A view has no index to show it: the declaration vouches. */
	if (u == r->nunique && !r->is_view)
		schema_problem(&b, "key: %s is not unique in %s (declare a "
		    "unique constraint on it alone)", keyname, d->table);
	else if (!r->cols[r->key].notnull && !r->is_view)
		schema_problem(&b, "key: %s may be NULL (declare it NOT "
		    "NULL)", keyname);
	if (!r->cols[r->key].exposed)
		schema_problem(&b, "key: %s is hidden; the key is part of "
		    "every item", keyname);
	if (r->cols[r->key].type == COL_JSON ||
	    r->cols[r->key].type == COL_JSONB ||
	    r->cols[r->key].type == COL_BOOL)
		schema_problem(&b, "key: %s is of type %s, which cannot name "
		    "an item", keyname, r->cols[r->key].type_name);
	if (pkey[0] == '\0' && d->order[0] == '\0')
		strlcpy(pkey, keyname, sizeof(pkey));
	schema_order(&b, r, pkey);
	for (i = 0; i < r->norder; i++)
		if (r->cols[r->order[i]].type == COL_JSON)
			schema_problem(&b, "order: %s is json, which has no "
			    "order", r->cols[r->order[i]].name);

	/*
	 * Cached only when every change is announced: the statement
	 * trigger of migration 002 / `starterctl resources install` (a view
	 * has none: its tables change under it unannounced).
	 */
	r->cacheable = schema_jbool(doc, "notify");
	{
		const cJSON *rt = cJSON_GetObjectItemCaseSensitive(doc,
		    "reltuples");

		/* -1: never analysed; a count learns better (api_resource) */
		r->approx_rows = cJSON_IsNumber(rt) ? (long long)rt->valuedouble :
		    -1;
	}
	priv = cJSON_GetObjectItemCaseSensitive(doc, "priv");
	r->can_select = schema_jbool(priv, "select");
	r->can_insert = schema_jbool(priv, "insert");
	r->can_update = schema_jbool(priv, "update");
	r->can_delete = schema_jbool(priv, "delete");
	if (d->read != RES_ACCESS_NONE && !r->can_select)
		schema_problem(&b, "the role may not SELECT from %s (read "
		    "access is declared)", d->table);
	if (d->write != RES_ACCESS_NONE && !r->is_view &&
	    (!r->can_insert || !r->can_update || !r->can_delete))
		schema_problem(&b, "the role lacks INSERT, UPDATE or DELETE "
		    "on %s (write access is declared; write = none makes "
		    "it read-only)", d->table);
	if (strcmp(kind, "m") == 0 && d->write != RES_ACCESS_NONE)
		schema_problem(&b, "%s is a materialized view: declare "
		    "write = none", d->table);
	schema_sort_exposed(r);
	if (b.problems == 0 && schema_statements(r) == -1)
		schema_problem(&b, "out of memory writing its statements");
out:
	cJSON_Delete(doc);
	if (b.problems > 0)
		schema_free(r);
	return (b.problems);
}
