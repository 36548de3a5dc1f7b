/*
 * query.c: a collection's query language (issue 11), parsed against a
 * bound resource and written as one parameterised statement.
 *
 *   ?col=op.value	a filter (PostgREST's syntax: the operator is part of
 *			the value, so a name stays a column name and a URL
 *			needs no brackets to be escaped); filters are ANDed,
 *			a column may carry several (charge=gte.1&charge=lt.9)
 *			but not one operator twice
 *   q=		free text: ILIKE '%text%' over the search columns
 *   sort=		col,-col: sortable columns, the key appended
 *   fields=		exposed columns (the key always)
 *   page=, per_page=	the seed's offset paging, with the seed's rules
 *   cursor=		keyset paging: a token query_cursor() wrote
 *
 * Pure: no I/O, no connection; identifiers only from the resource (quoted
 * by schema.c), values only as parameters.  The caller (api_resource.c)
 * runs the statements and writes the answer.
 *
 * Keyset paging and NULLs: PostgreSQL sorts NULL after every value
 * ascending (NULLS LAST) and before them descending (NULLS FIRST), so in
 * both directions NULL behaves as the greatest value.  The "after the
 * cursor row" predicate relies on that: it is the lexicographic
 * expansion over the sort columns, each term chosen from whether the
 * cursor's value is NULL, or a row comparison (which an index on the
 * sort columns serves) when no sort column can be NULL and all go the
 * same way.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "starterd.h"

#define QUERY_SQL_MAX		(256 * 1024)
#define QUERY_MAX_PAGE		100000000LL	/* the seed's page bound */
#define QUERY_ECHO_MAX		48	/* a value quoted in a message */
#define QUERY_NAME_MAX		(2 * RES_IDENT_MAX)
#define QUERY_VERSION		1	/* of the cursor's payload */
#define QUERY_HASHLEN		8	/* the query's hash in a cursor */
#define QUERY_MACLEN		16	/* HMAC-SHA-256, truncated */
#define QUERY_PAYLOAD_MAX	(QUERY_CURSOR_MAX / 4 * 3)

/* The cursor key, kept keyed between requests (lib/mac.h). */
static struct mac	 query_mac;

static const struct {
	const char	*name;
	enum query_op	 op;
	const char	*sql;
} query_ops[] = {
	{ "eq", QOP_EQ, "=" },
	{ "neq", QOP_NEQ, "<>" },
	{ "lt", QOP_LT, "<" },
	{ "lte", QOP_LTE, "<=" },
	{ "gt", QOP_GT, ">" },
	{ "gte", QOP_GTE, ">=" },
	{ "in", QOP_IN, "IN" },
	{ "pre", QOP_PREFIX, "LIKE" },
	{ "has", QOP_HAS, "ILIKE" },
	{ "is", QOP_ISNULL, "IS NULL" },
	{ "not", QOP_NOTNULL, "IS NOT NULL" },
};
#define NOPS	(sizeof(query_ops) / sizeof(query_ops[0]))

/* --------------------------------------------------------- values */

static int
query_digits(const char *s)
{
	const char	*p = s;

	while (*p >= '0' && *p <= '9')
		p++;
	return ((int)(p - s));
}

/* YYYY-MM-DD, a real day of the proleptic Gregorian calendar. */
static int
query_date_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	y, m, d;

	if (query_digits(s) != 4 || s[4] != '-' ||
	    query_digits(s + 5) != 2 || s[7] != '-' ||
	    query_digits(s + 8) != 2)
		return (0);
	y = (int)strtol(s, NULL, 10);
	m = (int)strtol(s + 5, NULL, 10);
	d = (int)strtol(s + 8, NULL, 10);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return (0);
	return (!(m == 2 && d == 29 && (y % 4 != 0 ||
	    (y % 100 == 0 && y % 400 != 0))));
}

/*
 * The body validator's timestamp: a date, T or a space, hh:mm, optional
 * :ss and .fraction; timestamptz also Z or +hh[[:]mm] (none: UTC, the
 * session's zone).
 */
static int
query_timestamp_ok(const char *s, int tz)
{
	const char	*p = s + 11;

	if (strlen(s) < 16 || (s[10] != 'T' && s[10] != ' ') ||
	    !query_date_ok(s) || query_digits(p) != 2 || p[2] != ':' ||
	    query_digits(p + 3) != 2 || strtol(p, NULL, 10) > 23 ||
	    strtol(p + 3, NULL, 10) > 59)
		return (0);
	p += 5;
	if (*p == ':') {
		if (query_digits(p + 1) != 2 || p[1] > '5')
			return (0);
		p += 3;
		if (*p == '.') {
			if (query_digits(p + 1) == 0)
				return (0);
			p += 1 + query_digits(p + 1);
		}
	}
	if (*p == '\0')
		return (1);
	if (!tz)
		return (0);
	if (*p == 'Z')
		return (p[1] == '\0');
	if ((*p != '+' && *p != '-') || query_digits(p + 1) < 2)
		return (0);
	p += 3;
	if (*p == ':')
		p++;
	if (*p == '\0')
		return (1);
	return (query_digits(p) == 2 && p[0] <= '5' && p[2] == '\0');
}

static int
query_uuid_ok(const char *s)
{
	size_t	i;

	if (strlen(s) != 36)
		return (0);
	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    hex_value((unsigned char)s[i]) == -1)
			return (0);
	return (1);
}

/* A JSON number's grammar: what the body accepts for a numeric column. */
static int
query_number_ok(const char *s)
{
	const char	*p = s;

	if (*p == '-')
		p++;
	if (query_digits(p) == 0 || (p[0] == '0' && query_digits(p) > 1))
		return (0);
	p += query_digits(p);
	if (*p == '.') {
		if (query_digits(p + 1) == 0)
			return (0);
		p += 1 + query_digits(p + 1);
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (query_digits(p) == 0)
			return (0);
		p += query_digits(p);
	}
	return (*p == '\0');
}

/* Valid UTF-8 as PostgreSQL checks it: its length in characters, or -1. */
static long
query_utf8_len(const char *s)
{
	return (str_utf8_count(s, strlen(s), NULL));
}

static int
query_is_text(const struct res_column *col)
{
	return (col->type == COL_TEXT || col->type == COL_VARCHAR ||
	    col->type == COL_CHAR || col->type == COL_ASTEXT);
}

/*
 * A filter value against its column, as the body validators check a
 * field (api_resource.c), but for a text column without the length
 * bound (a filter stores nothing) and with a number taken from its
 * digits, not from JSON.  The value was percent-decoded, which refuses
 * %00: no NUL gets here.
 */
const char *
query_check_value(const struct res_column *col, const char *v)
{
	const char	*errstr, *digits;
	long long	 lo, hi;

	switch (col->type) {
	case COL_INT2:
	case COL_INT4:
	case COL_INT8:
		digits = v + (v[0] == '-');
		if (query_digits(digits) == 0 ||
		    digits[query_digits(digits)] != '\0')
			return ("not an integer");
		lo = col->type == COL_INT2 ? -32768 : col->type == COL_INT4 ?
		    -2147483648LL : LLONG_MIN;
		hi = col->type == COL_INT2 ? 32767 : col->type == COL_INT4 ?
		    2147483647LL : LLONG_MAX;
		(void)strtonum(v, lo, hi, &errstr);
		if (errstr != NULL)
			return (col->type == COL_INT2 ? "out of range for "
			    "smallint" : col->type == COL_INT4 ? "out of range "
			    "for integer" : "out of range for bigint");
		return (NULL);
	case COL_NUMERIC:
	case COL_FLOAT4:
	case COL_FLOAT8:
		return (query_number_ok(v) ? NULL : "not a number");
	case COL_BOOL:
		return (strcmp(v, "true") == 0 || strcmp(v, "false") == 0 ?
		    NULL : "not a boolean (true or false)");
	case COL_DATE:
		return (strlen(v) == 10 && query_date_ok(v) ? NULL :
		    "not a date (YYYY-MM-DD)");
	case COL_TIMESTAMP:
		return (query_timestamp_ok(v, 0) ? NULL : "not an ISO 8601 "
		    "timestamp (YYYY-MM-DDThh:mm[:ss[.frac]])");
	case COL_TIMESTAMPTZ:
		return (query_timestamp_ok(v, 1) ? NULL : "not an ISO 8601 "
		    "timestamp (YYYY-MM-DDThh:mm[:ss[.frac]][Z|+hh:mm])");
	case COL_UUID:
		return (query_uuid_ok(v) ? NULL : "not a UUID");
	case COL_JSON:
	case COL_JSONB:
		return ("a json column is filtered by is.null and not.null "
		    "only");
	default:
		return (query_utf8_len(v) == -1 ? "not valid UTF-8" : NULL);
	}
}

/* ------------------------------------------------------- messages */

/*
 * Quote a client's text in a message: printable ASCII only (the message
 * becomes JSON and a log line), cut at QUERY_ECHO_MAX.
 */
static void
query_echo(const char *s, char *out, size_t len)
{
	size_t	i, o = 0;

	for (i = 0; s[i] != '\0' && o + 4 < len; i++) {
		if (i == QUERY_ECHO_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		out[o++] = (unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f ? s[i] : '?';
	}
	out[o] = '\0';
}

/* "name: value: why", the value echoed. */
static int
query_fail(char *err, size_t errlen, const char *name, const char *value,
    const char *why)
{
	char	ename[QUERY_ECHO_MAX + 8], evalue[QUERY_ECHO_MAX + 8];

	query_echo(name, ename, sizeof(ename));
	if (value == NULL)
		snprintf(err, errlen, "%s: %s", ename, why);
	else {
		query_echo(value, evalue, sizeof(evalue));
		snprintf(err, errlen, "%s: %s: %s", ename, evalue, why);
	}
	return (-1);
}

/* ------------------------------------------------------- parsing */

static int
query_col(const struct resource *r, const char *name)
{
	int	i;

	for (i = 0; i < r->ncols; i++)
		if (strcmp(r->cols[i].name, name) == 0)
			return (i);
	return (-1);
}

/*
 * Percent-decode s[0..len) with '+' as a space (a query string's rule);
 * malloc'd, NULL on bad encoding (%00 included) or out of memory.
 */
static char *
query_decode(const char *s, size_t len)
{
	char	*raw, *out;
	size_t	 i;

	if ((raw = malloc(len + 1)) == NULL)
		return (NULL);
	if ((out = malloc(len + 1)) == NULL) {
		free(raw);
		return (NULL);
	}
	for (i = 0; i < len; i++)
		raw[i] = s[i] == '+' ? ' ' : s[i];
	if (http_pct_decode(raw, len, out, len + 1) == -1) {
		free(out);
		out = NULL;
	}
	free(raw);
	return (out);
}

/* "%" and "_" are LIKE's, "\\" its escape: the text matched as given. */
static char *
query_like(const char *v, int contains)
{
	size_t	 n = strlen(v), o = 0, i;
	char	*p;

	if (n > (SIZE_MAX - 3) / 2 || (p = malloc(2 * n + 3)) == NULL)
		return (NULL);
	if (contains)
		p[o++] = '%';
	for (i = 0; i < n; i++) {
		if (v[i] == '%' || v[i] == '_' || v[i] == '\\')
			p[o++] = '\\';
		p[o++] = v[i];
	}
	p[o++] = '%';
	p[o] = '\0';
	return (p);
}

/*
 * in.(a,b,"c,d"): the list after "in." into f->vals; double quotes for a
 * value with commas or parentheses, \" and \\ inside them.  An unquoted
 * value is taken as it is (empty too).
 */
static int
query_in_list(struct query_filter *f, const char *s, const char **why)
{
	size_t	 len = strlen(s), i, o;
	char	*v;
	int	 quoted, rv = -1;

	if (len < 2 || s[0] != '(' || s[len - 1] != ')') {
		*why = "in takes a list in parentheses: in.(a,b)";
		return (-1);
	}
	if (len == 2) {
		*why = "the list is empty";
		return (-1);
	}
	if ((v = malloc(len)) == NULL) {
		*why = "out of memory";
		return (-1);
	}
	i = 1;
	for (;;) {
		if (f->nvals == QUERY_MAX_VALUES) {
			*why = "too many values (at most 100)";
			goto done;
		}
		o = 0;
		quoted = s[i] == '"';
		if (quoted) {
			for (i++; i < len - 1 && s[i] != '"'; i++) {
				if (s[i] == '\\') {
					if (s[i + 1] != '"' && s[i + 1] != '\\') {
						*why = "inside quotes, only \\\" "
						    "and \\\\ are escapes";
						goto done;
					}
					i++;
				}
				v[o++] = s[i];
			}
			if (i == len - 1) {
				*why = "a quote is not closed";
				goto done;
			}
			i++;
		} else
			for (; i < len - 1 && s[i] != ','; i++) {
				if (s[i] == '"' || s[i] == '(' || s[i] == ')') {
					*why = "quote a value holding \", ( "
					    "or ): \"a(b)\"";
					goto done;
				}
				v[o++] = s[i];
			}
		v[o] = '\0';
		if ((f->vals[f->nvals] = strdup(v)) == NULL) {
			*why = "out of memory";
			goto done;
		}
		f->nvals++;
		if (i == len - 1) {
			rv = 0;
			goto done;
		}
		if (s[i] != ',') {
			*why = "a quoted value must be followed by , or )";
			goto done;
		}
		i++;
	}
 done:
	free(v);
	return (rv);
}

/* name=op.value: one filter on column ci. */
static int
query_filter_add(const struct resource *r, struct query *q, int ci,
    const char *name, const char *value, char *err, size_t errlen)
{
	const struct res_column	*col = &r->cols[ci];
	struct query_filter	*f;
	const char		*dot, *arg, *why = NULL;
	size_t			 i, oplen;
	int			 k;

	dot = strchr(value, '.');
	oplen = dot != NULL ? (size_t)(dot - value) : strlen(value);
	for (i = 0; i < NOPS; i++)
		if (strlen(query_ops[i].name) == oplen &&
		    strncmp(query_ops[i].name, value, oplen) == 0)
			break;
	if (i == NOPS || dot == NULL)
		return (query_fail(err, errlen, name, value, "not op.value (eq, "
		    "neq, lt, lte, gt, gte, in, pre, has, is.null, not.null)"));
	arg = dot + 1;
	if ((query_ops[i].op == QOP_ISNULL || query_ops[i].op == QOP_NOTNULL)
	    && strcmp(arg, "null") != 0)
		return (query_fail(err, errlen, name, value, "is and not take "
		    "null only: is.null, not.null"));
	for (k = 0; k < q->nfilters; k++)
		if (q->f[k].col == ci && q->f[k].op == query_ops[i].op)
			return (query_fail(err, errlen, name, value, "this "
			    "operator is given twice for the column"));
	if (q->nfilters == QUERY_MAX_FILTERS)
		return (query_fail(err, errlen, name, value, "too many filters "
		    "(at most 16)"));
	f = &q->f[q->nfilters++];
	memset(f, 0, sizeof(*f));
	f->col = ci;
	f->op = query_ops[i].op;
	switch (f->op) {
	case QOP_ISNULL:
	case QOP_NOTNULL:
		return (0);
	case QOP_PREFIX:
	case QOP_HAS:
		if (!query_is_text(col))
			return (query_fail(err, errlen, name, value, "pre and "
			    "has apply to text columns only"));
		break;
	default:
		break;
	}
	if (col->type == COL_JSON || col->type == COL_JSONB)
		return (query_fail(err, errlen, name, value,
		    query_check_value(col, "")));
	if (f->op == QOP_IN) {
		if (query_in_list(f, arg, &why) == -1)
			return (query_fail(err, errlen, name, value, why));
	} else {
		if ((f->vals[0] = strdup(arg)) == NULL)
			return (query_fail(err, errlen, name, NULL,
			    "out of memory"));
		f->nvals = 1;
	}
	for (k = 0; k < f->nvals; k++)
		if ((why = query_check_value(col, f->vals[k])) != NULL)
			return (query_fail(err, errlen, name, value, why));
	if ((f->op == QOP_PREFIX || f->op == QOP_HAS) &&
	    (f->pat = query_like(f->vals[0], f->op == QOP_HAS)) == NULL)
		return (query_fail(err, errlen, name, NULL, "out of memory"));
	return (0);
}

/* sort=col,-col: sortable columns, each once; the key completes it. */
static int
query_sort(const struct resource *r, struct query *q, const char *v,
    char *err, size_t errlen)
{
	char		 name[QUERY_NAME_MAX];
	const char	*p = v, *e;
	size_t		 l;
	int		 desc, ci, k;

	q->nsort = 0;
	while (*p != '\0' || p == v) {
		e = p + strcspn(p, ",");
		desc = *p == '-';
		if (desc)
			p++;
		l = (size_t)(e - p);
		if (l == 0 || l >= sizeof(name))
			return (query_fail(err, errlen, "sort", v, "not a list "
			    "of columns (col,-col)"));
		memcpy(name, p, l);
		name[l] = '\0';
		/* The key completes every order: it may always be named
		   (the links name it). */
		if ((ci = query_col(r, name)) == -1 || (!r->cols[ci].sortable &&
		    ci != r->key))
			return (query_fail(err, errlen, "sort", name,
			    "not a sortable column"));
		for (k = 0; k < q->nsort; k++)
			if (q->sort[k] == ci)
				return (query_fail(err, errlen, "sort", name,
				    "given twice"));
		q->sort[q->nsort] = ci;
		q->sort_desc[q->nsort++] = desc;
		p = *e == ',' ? e + 1 : e;
		if (*e == ',' && *p == '\0')
			return (query_fail(err, errlen, "sort", v, "not a list "
			    "of columns (col,-col)"));
	}
	for (k = 0; k < q->nsort; k++)
		if (q->sort[k] == r->key)
			return (0);
	q->sort[q->nsort] = r->key;
	q->sort_desc[q->nsort++] = 0;
	return (0);
}

/* fields=a,b: exposed columns; kept in r->sel order, the key among them. */
static int
query_fields(const struct resource *r, struct query *q, const char *v,
    char *err, size_t errlen)
{
	char		 name[QUERY_NAME_MAX];
	int		 want[RES_MAX_COLS];
	const char	*p = v, *e;
	size_t		 l;
	int		 ci, i;

	memset(want, 0, sizeof(want));
	want[r->key] = 1;
	while (*p != '\0' || p == v) {
		e = p + strcspn(p, ",");
		l = (size_t)(e - p);
		if (l == 0 || l >= sizeof(name))
			return (query_fail(err, errlen, "fields", v, "not a list "
			    "of fields (a,b)"));
		memcpy(name, p, l);
		name[l] = '\0';
		if (strcmp(name, "url") != 0) {
			if ((ci = query_col(r, name)) == -1 ||
			    !r->cols[ci].exposed)
				return (query_fail(err, errlen, "fields", name,
				    "not a field of the resource"));
			want[ci] = 1;
		}
		p = *e == ',' ? e + 1 : e;
		if (*e == ',' && *p == '\0')
			return (query_fail(err, errlen, "fields", v, "not a list "
			    "of fields (a,b)"));
	}
	q->nfields = 0;
	for (i = 0; i < r->nsel; i++)
		if (want[r->sel[i]])
			q->fields[q->nfields++] = r->sel[i];
	if (q->nfields == r->nsel)
		q->nfields = 0;		/* all of them: the same answer */
	return (0);
}

/*
 * Prefer (RFC 7240): a comma-separated list of token[=value][;params];
 * count=exact|estimated|none is ours, anything else is ignored (as the
 * RFC asks of preferences not understood), and so is a count of another
 * value.
 */
static void
query_prefer(const char *h, size_t len, struct query *q)
{
	static const struct {
		const char		*name;
		enum query_count	 mode;
	} modes[] = {
		{ "exact", QCOUNT_EXACT },
		{ "estimated", QCOUNT_ESTIMATED },
		{ "none", QCOUNT_NONE },
	};
	size_t	i = 0, s, n, m;

	while (h != NULL && i < len) {
		while (i < len && (h[i] == ' ' || h[i] == '\t' || h[i] == ','))
			i++;
		s = i;
		while (i < len && h[i] != ',')
			i++;
		/* h[s..i): one preference; its parameters after ';'. */
		for (n = s; n < i && h[n] != ';'; n++)
			;
		while (n > s && (h[n - 1] == ' ' || h[n - 1] == '\t'))
			n--;
		if (n - s < 6 || strncasecmp(h + s, "count", 5) != 0)
			continue;
		s += 5;
		while (s < n && (h[s] == ' ' || h[s] == '\t'))
			s++;
		if (s == n || h[s++] != '=')
			continue;
		while (s < n && (h[s] == ' ' || h[s] == '\t'))
			s++;
		if (n - s >= 2 && h[s] == '"' && h[n - 1] == '"') {
			s++;
			n--;
		}
		for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
			if (strlen(modes[m].name) == n - s &&
			    strncasecmp(modes[m].name, h + s, n - s) == 0) {
				q->count = modes[m].mode;
				q->count_preferred = 1;
				return;
			}
	}
}

/* The seed's page and per_page: a positive integer, else 400. */
static int
query_int(const char *name, const char *v, long long max, long long *out,
    char *err, size_t errlen)
{
	const char	*errstr;

	*out = strtonum(v, 1, max, &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "%s must be a positive integer", name);
		return (-1);
	}
	return (0);
}

/* ------------------------------------------------- canonical form */

/* Percent-encode all but the unreserved characters and , ( ) : */
static int
query_enc(struct buf *b, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	int			 err = 0;
	unsigned char		 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~,():", c) != NULL)
			err |= buf_append(b, s, 1);
		else
			err |= buf_appendf(b, "%%%c%c", hex[c >> 4],
			    hex[c & 15]);
	}
	return (err);
}

/* A value of an in-list, quoted when it must be to read back the same. */
static int
query_in_value(struct buf *b, const char *v)
{
	int	err = 0;

	if (*v != '\0' && strpbrk(v, ",\"()\\") == NULL)
		return (buf_appendstr(b, v));
	err |= buf_append(b, "\"", 1);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			err |= buf_append(b, "\\", 1);
		err |= buf_append(b, v, 1);
	}
	return (err | buf_append(b, "\"", 1));
}

/* Filters sorted by column name, then operator: the canonical order. */
static void
query_sort_filters(const struct resource *r, struct query *q)
{
	struct query_filter	 t;
	int			 i, j, c;

	for (i = 1; i < q->nfilters; i++)
		for (j = i; j > 0; j--) {
			c = strcmp(r->cols[q->f[j - 1].col].name,
			    r->cols[q->f[j].col].name);
			if (c < 0 || (c == 0 && q->f[j - 1].op < q->f[j].op))
				break;
			t = q->f[j];
			q->f[j] = q->f[j - 1];
			q->f[j - 1] = t;
		}
}

/* The filters and q=, as a query string (no leading '&'). */
static int
query_canon_where(const struct resource *r, const struct query *q,
    struct buf *b)
{
	struct buf	 v;
	const struct query_filter *f;
	int		 i, k, err = 0;

	buf_init(&v, 0);
	for (i = 0; i < q->nfilters; i++) {
		f = &q->f[i];
		buf_reset(&v);
		err |= buf_appendf(&v, "%s.", query_ops[f->op].name);
		if (f->op == QOP_ISNULL || f->op == QOP_NOTNULL)
			err |= buf_appendstr(&v, "null");
		else if (f->op == QOP_IN) {
			err |= buf_append(&v, "(", 1);
			for (k = 0; k < f->nvals; k++) {
				if (k > 0)
					err |= buf_append(&v, ",", 1);
				err |= query_in_value(&v, f->vals[k]);
			}
			err |= buf_append(&v, ")", 1);
		} else
			err |= buf_appendstr(&v, f->vals[0]);
		if (BUF_LEN(b) > 0)
			err |= buf_append(b, "&", 1);
		err |= query_enc(b, r->cols[f->col].name);
		err |= buf_append(b, "=", 1);
		err |= query_enc(b, BUF_PTR(&v));
	}
	if (q->search != NULL) {
		if (BUF_LEN(b) > 0)
			err |= buf_append(b, "&", 1);
		err |= buf_appendstr(b, "q=");
		err |= query_enc(b, q->search);
	}
	buf_free(&v);
	return (err);
}

static int
query_canon_sort(const struct resource *r, const struct query *q,
    struct buf *b)
{
	int	i, err = 0;

	if (BUF_LEN(b) > 0)
		err |= buf_append(b, "&", 1);
	err |= buf_appendstr(b, "sort=");
	for (i = 0; i < q->nsort; i++) {
		if (i > 0)
			err |= buf_append(b, ",", 1);
		if (q->sort_desc[i])
			err |= buf_append(b, "-", 1);
		err |= query_enc(b, r->cols[q->sort[i]].name);
	}
	return (err);
}

/*
 * canon: "[filters&][fields=..&]per_page=N[&q=..][&sort=..]" (a query
 * string: the links are built on it, with page= or cursor= appended),
 * then " count=MODE keyset|offset", which the cache key needs and links
 * do not.
 */
static int
query_canon(const struct resource *r, struct query *q, int sorted)
{
	struct buf	 b;
	const char	*cm;
	int		 i, err = 0, rv = -1;

	buf_init(&b, sizeof(q->canon) - 1);
	err |= query_canon_where(r, q, &b);
	if (q->nfields > 0) {
		if (BUF_LEN(&b) > 0)
			err |= buf_append(&b, "&", 1);
		err |= buf_appendstr(&b, "fields=");
		for (i = 0; i < q->nfields; i++) {
			if (i > 0)
				err |= buf_append(&b, ",", 1);
			err |= query_enc(&b, r->cols[q->fields[i]].name);
		}
	}
	if (BUF_LEN(&b) > 0)
		err |= buf_append(&b, "&", 1);
	err |= buf_appendf(&b, "per_page=%lld", q->per_page);
	if (sorted)
		err |= query_canon_sort(r, q, &b);
	q->canon_link = BUF_LEN(&b);
	cm = q->count == QCOUNT_EXACT ? "exact" : q->count ==
	    QCOUNT_ESTIMATED ? "estimated" : "none";
	err |= buf_appendf(&b, " count=%s %s", cm, q->keyset ? "keyset" :
	    "offset");
	if (!err) {
		memcpy(q->canon, BUF_PTR(&b), BUF_LEN(&b) + 1);
		rv = 0;
	}
	buf_free(&b);
	return (rv);
}

/* ---------------------------------------------------------- parse */

enum {
	QP_PAGE = 1, QP_PER_PAGE = 2, QP_CURSOR = 4, QP_SORT = 8,
	QP_FIELDS = 16, QP_Q = 32
};

static int
query_known(const struct resource *r, const char *name, int *bit)
{
	int	i, any;

	*bit = 0;
	if (strcmp(name, "page") == 0)
		*bit = QP_PAGE;
	else if (strcmp(name, "per_page") == 0)
		*bit = QP_PER_PAGE;
	else if (strcmp(name, "cursor") == 0)
		*bit = QP_CURSOR;
	else if (strcmp(name, "fields") == 0)
		*bit = QP_FIELDS;
	else if (strcmp(name, "sort") == 0 || strcmp(name, "q") == 0) {
		/* Known only where declared: the seed ignored them. */
		for (i = any = 0; i < r->ncols; i++)
			any |= name[0] == 's' ? r->cols[i].sortable :
			    r->cols[i].searchable;
		if (!any)
			return (-1);
		*bit = name[0] == 's' ? QP_SORT : QP_Q;
	} else if ((i = query_col(r, name)) != -1 && r->cols[i].filterable)
		return (i);
	else
		return (-1);
	return (RES_MAX_COLS);
}

/* One parameter; *seen says which were given already. */
static int
query_param(const struct resource *r, struct query *q, const char *name,
    const char *v, int *seen, char *err, size_t errlen)
{
	int	ci, bit;

	if ((ci = query_known(r, name, &bit)) == -1) {
		if (r->decl.ignore_unknown)
			return (0);
		return (query_fail(err, errlen, name, NULL, "unknown "
		    "parameter"));
	}
	if (bit == 0)
		return (query_filter_add(r, q, ci, name, v, err, errlen));
	if (*seen & bit) {
		/* The seed read the first page and per_page only. */
		if (bit == QP_PAGE || bit == QP_PER_PAGE)
			return (0);
		return (query_fail(err, errlen, name, NULL, "given twice"));
	}
	*seen |= bit;
	switch (bit) {
	case QP_PAGE:
		return (query_int(name, v, QUERY_MAX_PAGE, &q->page, err,
		    errlen));
	case QP_PER_PAGE:
		return (query_int(name, v, LLONG_MAX / 2, &q->per_page, err,
		    errlen));
	case QP_CURSOR:
		if (v[0] == '\0' || strlcpy(q->cursor, v, sizeof(q->cursor)) >=
		    sizeof(q->cursor))
			return (query_fail(err, errlen, name, NULL, "invalid or "
			    "from another query"));
		return (0);
	case QP_SORT:
		return (query_sort(r, q, v, err, errlen));
	case QP_FIELDS:
		return (query_fields(r, q, v, err, errlen));
	default:
		if (v[0] == '\0')
			return (query_fail(err, errlen, name, NULL, "must not "
			    "be empty"));
		if (query_utf8_len(v) == -1)
			return (query_fail(err, errlen, name, NULL, "not valid "
			    "UTF-8"));
		if (query_utf8_len(v) > QUERY_SEARCH_MAX)
			return (query_fail(err, errlen, name, NULL, "at most "
			    "200 characters"));
		if ((q->search = strdup(v)) == NULL ||
		    (q->search_pat = query_like(v, 1)) == NULL)
			return (query_fail(err, errlen, name, NULL, "out of "
			    "memory"));
		return (0);
	}
}

void
query_free(struct query *q)
{
	int	i, k;

	for (i = 0; i < q->nfilters; i++) {
		for (k = 0; k < q->f[i].nvals; k++)
			free(q->f[i].vals[k]);
		free(q->f[i].pat);
		q->f[i].nvals = 0;
		q->f[i].pat = NULL;
	}
	q->nfilters = 0;
	for (i = 0; i < q->ncursor; i++)
		free(q->cursor_vals[i]);
	q->ncursor = 0;
	free(q->search);
	free(q->search_pat);
	q->search = q->search_pat = NULL;
}

/*
 * Parse the query string qs[0..len) (after '?') and the Prefer header's
 * value (NULL: none) against r into q.  Returns 0, or -1 with the 400's
 * message in err (q freed).
 */
int
query_parse(const struct resource *r, const char *qs, size_t len,
    const char *prefer, size_t prefer_len, struct query *q, char *err,
    size_t errlen)
{
	const char	*key, *val;
	char		*name = NULL, *v = NULL;
	size_t		 i = 0, klen, vlen;
	int		 seen = 0, sorted, bit;

	memset(q, 0, offsetof(struct query, f));
	q->cursor[0] = q->canon[0] = '\0';
	q->page = 1;
	q->per_page = r->decl.per_page;
	q->count = r->decl.count_mode == RES_COUNT_ESTIMATED ?
	    QCOUNT_ESTIMATED : QCOUNT_EXACT;
	while (qs != NULL &&
	    http_query_next(qs, len, &i, &key, &klen, &val, &vlen)) {
		if ((name = query_decode(key, klen)) == NULL) {
			if (r->decl.ignore_unknown)
				continue;	/* the seed matched no name */
			snprintf(err, errlen, "a parameter name is badly "
			    "percent-encoded");
			goto fail;
		}
		v = val != NULL ? query_decode(val, vlen) : strdup("");
		if (v == NULL) {
			if (query_known(r, name, &bit) == -1 &&
			    r->decl.ignore_unknown)
				goto next;
			if (strcmp(name, "page") == 0 ||
			    strcmp(name, "per_page") == 0) {
				if ((strcmp(name, "page") == 0 ?
				    QP_PAGE : QP_PER_PAGE) & seen)
					goto next;
				snprintf(err, errlen, "%s must be a positive "
				    "integer", name);
			} else
				query_fail(err, errlen, name, NULL, "badly "
				    "percent-encoded");
			goto fail;
		}
		if (query_param(r, q, name, v, &seen, err, errlen) == -1)
			goto fail;
 next:
		free(name);
		free(v);
		name = v = NULL;
	}
	if ((seen & QP_PAGE) && (seen & QP_CURSOR)) {
		snprintf(err, errlen, "cursor: not with page");
		goto fail;
	}
	if (q->per_page > r->decl.max_per_page)
		q->per_page = r->decl.max_per_page;
	sorted = (seen & QP_SORT) != 0;
	if (!sorted) {
		q->nsort = r->norder;
		memcpy(q->sort, r->order, sizeof(q->sort[0]) * r->norder);
		memcpy(q->sort_desc, r->order_desc,
		    sizeof(q->sort_desc[0]) * r->norder);
	}
	q->keyset = (seen & QP_CURSOR) || (!(seen & QP_PAGE) &&
	    (sorted || q->nfilters > 0 || q->search != NULL));
	if (q->keyset) {
		snprintf(q->lim, sizeof(q->lim), "%lld", q->per_page + 1);
		q->off[0] = '\0';
	} else {
		snprintf(q->lim, sizeof(q->lim), "%lld", q->per_page);
		snprintf(q->off, sizeof(q->off), "%lld",
		    (q->page - 1) * q->per_page);
	}
	query_prefer(prefer, prefer_len, q);
	query_sort_filters(r, q);
	if (query_canon(r, q, sorted) == -1) {
		snprintf(err, errlen, "the query is too long (its canonical "
		    "form exceeds %zu bytes)", sizeof(q->canon) - 1);
		goto fail;
	}
	return (0);
 fail:
	free(name);
	free(v);
	query_free(q);
	return (-1);
}

/* ------------------------------------------------------------ SQL */

/* A column as the filters compare it: as_text ones by their text. */
static int
query_colexpr(struct buf *b, const struct res_column *col)
{
	return (buf_appendf(b, col->type == COL_ASTEXT ? "%s::text" : "%s",
	    col->qname));
}

/* The WHERE terms of the filters and q= ("" if none), from $*n + 1. */
static int
query_where(const struct resource *r, const struct query *q, struct buf *b,
    const char **params, int *n)
{
	const struct query_filter *f;
	const struct res_column	*col;
	int			 i, k, s, first = 1, err = 0;

	for (i = 0; i < q->nfilters; i++) {
		f = &q->f[i];
		col = &r->cols[f->col];
		err |= buf_appendstr(b, first ? " WHERE " : " AND ");
		first = 0;
		err |= query_colexpr(b, col);
		err |= buf_appendf(b, " %s", query_ops[f->op].sql);
		switch (f->op) {
		case QOP_ISNULL:
		case QOP_NOTNULL:
			break;
		case QOP_IN:
			err |= buf_appendstr(b, " (");
			for (k = 0; k < f->nvals; k++) {
				params[*n] = f->vals[k];
				err |= buf_appendf(b, "%s$%d", k > 0 ? ", " :
				    "", ++*n);
			}
			err |= buf_appendstr(b, ")");
			break;
		case QOP_PREFIX:
		case QOP_HAS:
			params[*n] = f->pat;
			err |= buf_appendf(b, " $%d", ++*n);
			break;
		default:
			params[*n] = f->vals[0];
			err |= buf_appendf(b, " $%d", ++*n);
			break;
		}
	}
	if (q->search != NULL) {
		err |= buf_appendstr(b, first ? " WHERE (" : " AND (");
		params[*n] = q->search_pat;
		s = ++*n;
		for (i = k = 0; i < r->ncols; i++) {
			if (!r->cols[i].searchable)
				continue;
			err |= buf_appendstr(b, k++ > 0 ? " OR " : "");
			/* A text column bare: its trigram index serves it. */
			err |= buf_appendf(b, query_is_text(&r->cols[i]) &&
			    r->cols[i].type != COL_ASTEXT ? "%s" : "%s::text",
			    r->cols[i].qname);
			err |= buf_appendf(b, " ILIKE $%d", s);
		}
		if (k == 0)
			err |= buf_appendstr(b, "false");
		err |= buf_appendstr(b, ")");
	}
	return (err);
}

/*
 * The keyset predicate: the rows after the cursor's in the (effective)
 * order, NULL the greatest value either way (see the top of the file);
 * with q->inclusive, the cursor's row as well.
 * Expanded: OR over i of (s0 = v0 AND .. AND s(i-1) = v(i-1) AND si
 * after vi), where "after" ascending is "> v OR IS NULL" (a NOT NULL
 * column: "> v"), and nothing for v NULL (no value is greater);
 * descending "< v", and for v NULL "IS NOT NULL"; equality with a NULL
 * value is IS NULL.
 */
static int
query_keyset(const struct resource *r, const struct query *q, struct buf *b,
    int first, const char **params, int *n)
{
	const struct res_column	*col;
	int			 pn[RES_MAX_COLS];
	int			 i, j, desc, same = 1, notnull = 1, terms = 0;
	int			 err = 0;

	for (i = 0; i < q->nsort; i++) {
		pn[i] = 0;
		if (q->cursor_vals[i] != NULL) {
			params[*n] = q->cursor_vals[i];
			pn[i] = ++*n;
		}
		notnull &= r->cols[q->sort[i]].notnull &&
		    q->cursor_vals[i] != NULL;
		same &= q->sort_desc[i] == q->sort_desc[0];
	}
	err |= buf_appendstr(b, first ? " WHERE " : " AND ");
	desc = q->sort_desc[0] ^ q->backward;
	if (notnull && same) {
		err |= buf_appendstr(b, "(");
		for (i = 0; i < q->nsort; i++)
			err |= buf_appendf(b, "%s%s", i > 0 ? ", " : "",
			    r->cols[q->sort[i]].qname);
		err |= buf_appendf(b, ") %s%s (", desc ? "<" : ">",
		    q->inclusive ? "=" : "");
		for (i = 0; i < q->nsort; i++)
			err |= buf_appendf(b, "%s$%d", i > 0 ? ", " : "", pn[i]);
		return (err | buf_appendstr(b, ")"));
	}
	err |= buf_appendstr(b, "(");
	/* Inclusive: the cursor's own row too, every column equal. */
	if (q->inclusive) {
		err |= buf_appendstr(b, "(");
		for (i = 0; i < q->nsort; i++) {
			if (pn[i] == 0)
				err |= buf_appendf(b, "%s%s IS NULL",
				    i > 0 ? " AND " : "",
				    r->cols[q->sort[i]].qname);
			else
				err |= buf_appendf(b, "%s%s = $%d",
				    i > 0 ? " AND " : "",
				    r->cols[q->sort[i]].qname, pn[i]);
		}
		err |= buf_appendstr(b, ")");
		terms++;
	}
	for (i = 0; i < q->nsort; i++) {
		col = &r->cols[q->sort[i]];
		desc = q->sort_desc[i] ^ q->backward;
		if (!desc && pn[i] == 0)
			continue;	/* nothing after NULL ascending */
		err |= buf_appendstr(b, terms++ > 0 ? " OR (" : "(");
		for (j = 0; j < i; j++) {
			if (pn[j] == 0)
				err |= buf_appendf(b, "%s IS NULL AND ",
				    r->cols[q->sort[j]].qname);
			else
				err |= buf_appendf(b, "%s = $%d AND ",
				    r->cols[q->sort[j]].qname, pn[j]);
		}
		if (desc && pn[i] == 0)
			err |= buf_appendf(b, "%s IS NOT NULL", col->qname);
		else if (desc)
			err |= buf_appendf(b, "%s < $%d", col->qname, pn[i]);
		else if (col->notnull)
			err |= buf_appendf(b, "%s > $%d", col->qname, pn[i]);
		else
			err |= buf_appendf(b, "(%s > $%d OR %s IS NULL)",
			    col->qname, pn[i], col->qname);
		err |= buf_appendstr(b, ")");
	}
	if (terms == 0)
		err |= buf_appendstr(b, "false");
	return (err | buf_appendstr(b, ")"));
}

/*
 * The page's statement.  Its result, one row per item:
 *
 *   columns 0 .. r->nsel - 1	the exposed columns in r->sel order, so
 *				that r->selpos[col] is a column's position
 *				(with fields=, the columns not chosen are
 *				there as NULL: same layout, skip them by
 *				q->fields)
 *   r->nsel + k		"starterd_k<k>": sort column q->sort[k],
 *				k < q->nsort (what query_cursor() reads;
 *				a sort column may be hidden)
 *
 * No count (query_count_sql() is a statement of its own).  Offset paging:
 * LIMIT per_page OFFSET (page - 1) * per_page.  Keyset: LIMIT per_page +
 * 1, the extra row saying that there is a page beyond; backward, the
 * order is reversed, so the rows come nearest the cursor first and the
 * caller reverses them (and the extra row, the last one, says there is a
 * page before).  Parameters: the filters', q='s, the cursor's values,
 * the limit, the offset.
 */
int
query_sql(const struct resource *r, const struct query *q, struct buf *sql,
    const char **params, int *n)
{
	int	i, k, chosen, err = 0;

	*n = 0;
	buf_reset(sql);
	err |= buf_appendstr(sql, "SELECT ");
	for (i = 0; i < r->nsel; i++) {
		chosen = q->nfields == 0;
		for (k = 0; k < q->nfields && !chosen; k++)
			chosen = q->fields[k] == r->sel[i];
		err |= buf_appendf(sql, "%s%s%s", i > 0 ? ", " : "",
		    chosen ? "" : "NULL AS ", r->cols[r->sel[i]].qname);
	}
	for (k = 0; k < q->nsort; k++)
		err |= buf_appendf(sql, ", %s AS \"starterd_k%d\"",
		    r->cols[q->sort[k]].qname, k);
	err |= buf_appendf(sql, " FROM %s", r->qtable);
	err |= query_where(r, q, sql, params, n);
	if (q->keyset && q->ncursor == q->nsort && q->ncursor > 0)
		err |= query_keyset(r, q, sql, q->nfilters == 0 &&
		    q->search == NULL, params, n);
	err |= buf_appendstr(sql, " ORDER BY ");
	for (k = 0; k < q->nsort; k++)
		err |= buf_appendf(sql, "%s%s%s", k > 0 ? ", " : "",
		    r->cols[q->sort[k]].qname,
		    q->sort_desc[k] ^ (q->keyset && q->backward) ? " DESC" : "");
	params[*n] = q->lim;
	err |= buf_appendf(sql, " LIMIT $%d::int", ++*n);
	if (!q->keyset) {
		params[*n] = q->off;
		err |= buf_appendf(sql, " OFFSET $%d::bigint", ++*n);
	}
	return (err ? -1 : 0);
}

/*
 * The count, one bigint: exact, count(*) under the filters and q=.
 * Estimated: without filters, the table's reltuples (a table never
 * analyzed, reltuples -1, is counted: it is new, so likely small);
 * otherwise starterd_count_estimate(sql, values) (migration 007), the
 * planner's row estimate of "SELECT 1 FROM t WHERE ..." with the values
 * of its $n as a text[]; a view (no reltuples) always so.  The inner
 * statement and the array literal are stored in sql after the
 * statement's NUL, and params point there.
 */
int
query_count_sql(const struct resource *r, const struct query *q,
    struct buf *sql, const char **params, int *n)
{
	struct buf	 w;
	size_t		 o1, o2;
	const char	*v;
	int		 i, nw = 0, err = 0, rv = -1;

	*n = 0;
	buf_reset(sql);
	buf_init(&w, QUERY_SQL_MAX);
	err |= query_where(r, q, &w, params, &nw);
	if (err)
		goto done;
	if (q->count != QCOUNT_ESTIMATED) {
		err |= buf_appendf(sql, "SELECT count(*) FROM %s%s", r->qtable,
		    BUF_LEN(&w) > 0 ? BUF_PTR(&w) : "");
		*n = nw;
	} else if (nw == 0 && !r->is_view) {
		err |= buf_appendf(sql, "SELECT CASE WHEN reltuples >= 0 THEN "
		    "reltuples::bigint ELSE (SELECT count(*) FROM %s) END "
		    "FROM pg_class WHERE oid = $1::regclass", r->qtable);
		params[0] = r->qtable;
		*n = 1;
	} else {
		err |= buf_appendstr(sql, "SELECT starterd_count_estimate($1, "
		    "$2::text[])");
		err |= buf_append(sql, "", 1);
		o1 = BUF_LEN(sql);
		err |= buf_appendf(sql, "SELECT 1 FROM %s%s", r->qtable,
		    BUF_LEN(&w) > 0 ? BUF_PTR(&w) : "");
		err |= buf_append(sql, "", 1);
		o2 = BUF_LEN(sql);
		err |= buf_append(sql, "{", 1);
		for (i = 0; i < nw; i++) {
			err |= buf_appendstr(sql, i > 0 ? ",\"" : "\"");
			for (v = params[i]; *v != '\0'; v++) {
				if (*v == '"' || *v == '\\')
					err |= buf_append(sql, "\\", 1);
				err |= buf_append(sql, v, 1);
			}
			err |= buf_append(sql, "\"", 1);
		}
		err |= buf_append(sql, "}", 1);
		if (!err) {
			params[0] = BUF_PTR(sql) + o1;
			params[1] = BUF_PTR(sql) + o2;
			*n = 2;
		}
	}
	if (!err)
		rv = 0;
 done:
	buf_free(&w);
	return (rv);
}

/* -------------------------------------------------------- cursors */

static const char query_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding; -1 if out (len) cannot hold it and a NUL. */
static int
query_b64_enc(const unsigned char *in, size_t n, char *out, size_t len)
{
	size_t		i, o = 0;
	uint32_t	v;
	int		k, chars;

	if ((n + 2) / 3 * 4 + 1 > len)
		return (-1);
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		chars = n - i >= 3 ? 4 : (int)(n - i) + 1;
		for (k = 0; k < chars; k++)
			out[o++] = query_b64[(v >> (18 - 6 * k)) & 63];
	}
	out[o] = '\0';
	return ((int)o);
}

/*
 * Decode: -1 on any character outside the alphabet, a length that no
 * encoding has, non-zero spare bits (one spelling per token), overflow.
 */
static int
query_b64_dec(const char *in, unsigned char *out, size_t len)
{
	size_t		n = strlen(in), i, o = 0;
	uint32_t	v;
	const char	*p;
	int		k, chars, d;

	if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > len)
		return (-1);
	for (i = 0; i < n; i += 4) {
		chars = n - i >= 4 ? 4 : (int)(n - i);
		v = 0;
		for (k = 0; k < 4; k++) {
			d = 0;
			if (k < chars) {
				if ((p = strchr(query_b64, in[i + k])) ==
				    NULL || in[i + k] == '\0')
					return (-1);
				d = (int)(p - query_b64);
			}
			v |= (uint32_t)d << (18 - 6 * k);
		}
		if ((chars == 2 && (v & 0xffff)) || (chars == 3 && (v & 0xff)))
			return (-1);
		for (k = 0; k < chars - 1; k++)
			out[o++] = (v >> (16 - 8 * k)) & 0xff;
	}
	return ((int)o);
}

/*
 * The hash of what places a row in the answer: the resource, the
 * filters, q= and the order (not fields, per_page or the count, which a
 * client may change while it pages on).
 */
static int
query_hash(const struct resource *r, const struct query *q,
    unsigned char *out)
{
	unsigned char	md[SHA256_DIGEST_LENGTH];
	struct buf	b;
	int		err;

	buf_init(&b, 0);
	err = buf_appendf(&b, "%s\n", r->decl.name);
	err |= query_canon_where(r, q, &b);
	err |= query_canon_sort(r, q, &b);
	if (!err) {
		SHA256((const unsigned char *)BUF_PTR(&b), BUF_LEN(&b), md);
		memcpy(out, md, QUERY_HASHLEN);
	}
	buf_free(&b);
	return (err ? -1 : 0);
}

/*
 * The token: base64url(payload || HMAC-SHA-256(key, payload)[0..16)),
 * payload = version, flags (QUERY_CUR_BACK: the page before the row,
 * else after; QUERY_CUR_INCL: the row included), the query's hash
 * (QUERY_HASHLEN), the number of values, then each as a marker byte (0
 * NULL, 1 a value) and for a value its length (2 bytes, big-endian) and
 * bytes.  vals[k] (NULL: SQL NULL) of lens[k] bytes, one per sort column.
 */
static int
query_token(const struct resource *r, const struct query *q, int flags,
    const char *const *vals, const size_t *lens, const unsigned char *key,
    size_t keylen, char *out, size_t outlen)
{
	unsigned char	 p[QUERY_PAYLOAD_MAX];
	unsigned char	 mac[MAC_LEN];
	size_t		 o = 0, l;
	int		 k;

	if (outlen > QUERY_CURSOR_MAX + 1)
		outlen = QUERY_CURSOR_MAX + 1;
	p[o++] = QUERY_VERSION;
	p[o++] = (unsigned char)flags;
	if (query_hash(r, q, p + o) == -1)
		return (-1);
	o += QUERY_HASHLEN;
	p[o++] = (unsigned char)q->nsort;
	for (k = 0; k < q->nsort; k++) {
		if (vals[k] == NULL) {
			if (o + 1 > sizeof(p) - QUERY_MACLEN)
				return (-1);
			p[o++] = 0;
			continue;
		}
		l = lens[k];
		if (l > 0xffff || o + 3 + l > sizeof(p) - QUERY_MACLEN)
			return (-1);
		p[o++] = 1;
		p[o++] = (unsigned char)(l >> 8);
		p[o++] = (unsigned char)(l & 0xff);
		memcpy(p + o, vals[k], l);
		o += l;
	}
	if (mac_with(&query_mac, key, keylen) == -1 ||
	    mac_sha256(&query_mac, p, o, mac) == -1)
		return (-1);
	memcpy(p + o, mac, QUERY_MACLEN);
	o += QUERY_MACLEN;
	return (query_b64_enc(p, o, out, outlen) == -1 ? -1 : 0);
}

int
query_cursor(const struct resource *r, const struct query *q,
    PGresult *res, int row, int first_field, int flags,
    const unsigned char *key, size_t keylen, char *out, size_t outlen)
{
	const char	*vals[RES_MAX_COLS];
	size_t		 lens[RES_MAX_COLS];
	int		 k, f;

	if (row < 0 || row >= PQntuples(res) || first_field < 0 ||
	    PQnfields(res) < first_field + r->nsel + q->nsort)
		return (-1);
	for (k = 0; k < q->nsort; k++) {
		f = first_field + r->nsel + k;
		vals[k] = PQgetisnull(res, row, f) ? NULL :
		    PQgetvalue(res, row, f);
		lens[k] = (size_t)PQgetlength(res, row, f);
	}
	return (query_token(r, q, flags, vals, lens, key, keylen, out,
	    outlen));
}

int
query_cursor_here(const struct resource *r, const struct query *q,
    int flags, const unsigned char *key, size_t keylen, char *out,
    size_t outlen)
{
	const char *const *vals = (const char *const *)q->cursor_vals;
	size_t		 lens[RES_MAX_COLS];
	int		 k;

	if (q->ncursor != q->nsort)
		return (-1);
	for (k = 0; k < q->nsort; k++)
		lens[k] = vals[k] != NULL ? strlen(vals[k]) : 0;
	return (query_token(r, q, flags, vals, lens, key, keylen, out,
	    outlen));
}

/*
 * Check token against q: its MAC first (constant time), before anything
 * in it is read; then that it was made for this query (the hash) and
 * its shape.  0 with q->cursor_vals (malloc'd, query_free() frees them),
 * ncursor = nsort and backward set; -1 on any failure, q unchanged.
 */
int
query_cursor_open(const struct resource *r, struct query *q,
    const char *token, const unsigned char *key, size_t keylen)
{
	unsigned char	 p[QUERY_PAYLOAD_MAX], mac[MAC_LEN];
	unsigned char	 h[QUERY_HASHLEN];
	char		*vals[RES_MAX_COLS];
	size_t		 o, l;
	int		 n, k, nv = 0;

	if (strlen(token) > QUERY_CURSOR_MAX ||
	    (n = query_b64_dec(token, p, sizeof(p))) == -1 ||
	    n < 3 + QUERY_HASHLEN + QUERY_MACLEN)
		return (-1);
	n -= QUERY_MACLEN;
	if (mac_with(&query_mac, key, keylen) == -1 ||
	    mac_sha256(&query_mac, p, (size_t)n, mac) == -1 ||
	    CRYPTO_memcmp(mac, p + n, QUERY_MACLEN) != 0)
		return (-1);
	if (p[0] != QUERY_VERSION || (p[1] & ~(QUERY_CUR_BACK |
	    QUERY_CUR_INCL)) != 0 || query_hash(r, q, h) == -1 ||
	    memcmp(h, p + 2, QUERY_HASHLEN) != 0 ||
	    p[2 + QUERY_HASHLEN] != q->nsort)
		return (-1);
	o = 3 + QUERY_HASHLEN;
	for (k = 0; k < q->nsort; k++) {
		if (o >= (size_t)n || p[o] > 1)
			goto fail;
		if (p[o++] == 0) {
			vals[nv++] = NULL;
			continue;
		}
		if (o + 2 > (size_t)n)
			goto fail;
		l = (size_t)p[o] << 8 | p[o + 1];
		o += 2;
		if (o + l > (size_t)n || memchr(p + o, '\0', l) != NULL ||
		    (vals[nv] = strndup((char *)p + o, l)) == NULL)
			goto fail;
		nv++;
		o += l;
	}
	if (o != (size_t)n)
		goto fail;
	for (k = 0; k < q->ncursor; k++)
		free(q->cursor_vals[k]);
	memcpy(q->cursor_vals, vals, sizeof(vals[0]) * nv);
	q->ncursor = nv;
	q->backward = (p[1] & QUERY_CUR_BACK) != 0;
	q->inclusive = (p[1] & QUERY_CUR_INCL) != 0;
	q->keyset = 1;
	return (0);
 fail:
	for (k = 0; k < nv; k++)
		free(vals[k]);
	return (-1);
}
