/*
 * resconf.c: the `resource NAME { ... }` blocks of the configuration file
 * (starterd.conf(5)), each parsed into a struct res_decl, and the built-in
 * declaration used when the file declares none.
 *
 * Only the declaration's own syntax is checked here: that a name is a URL
 * segment, a table is `ident` or `schema.ident`, a column list is a list
 * of identifiers, an access value is one of four.  Whether the table and
 * the columns exist, and what they are, is the catalog's to say
 * (schema.c), at worker start and by `starterd -t`.  Identifiers are kept
 * as written (no case folding, no quotes): they are compared with the
 * catalog's names and quoted only when a statement is written.
 *
 * Every mistake is one line, "FILE:LINE: resource NAME: KEY: cause",
 * as the file's other settings say theirs; all are reported, then the
 * block is refused.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "starterd.h"
#include "str.h"

#define RESCONF_MAX_LINE	4096	/* as config.c's lines */
#define RESCONF_PER_PAGE	100	/* the defaults, as the original */
#define RESCONF_MAX_PER_PAGE	100
#define RESCONF_PAGE_LIMIT	10000LL	/* per_page, max_per_page: at most */
#define RESCONF_COUNT_LIMIT	1000000000000LL	/* count_threshold: at most */

enum resconf_kind {
	RK_TABLE,	/* [schema.]ident */
	RK_IDENT,	/* one column */
	RK_LIST,	/* columns, comma-separated */
	RK_ORDER,	/* columns, each optionally preceded by '-' */
	RK_PAGE,	/* a page size */
	RK_ACCESS,	/* anyone, user, group:NAME, none */
	RK_UNKNOWN,	/* reject, ignore */
	RK_PREFIX,	/* a statement name prefix */
	RK_COUNT,	/* auto, exact, estimated */
	RK_THRESHOLD	/* a row count */
};

struct resconf_key {
	const char		*name;
	enum resconf_kind	 kind;
	size_t			 off;
	size_t			 size;
};

#define D(f)	offsetof(struct res_decl, f), sizeof(((struct res_decl *)0)->f)

static const struct resconf_key resconf_keys[] = {
	{ "table", RK_TABLE, D(table) },
	{ "key", RK_IDENT, D(key) },
	{ "columns", RK_LIST, D(columns) },
	{ "hidden", RK_LIST, D(hidden) },
	{ "read_only", RK_LIST, D(read_only) },
	{ "required", RK_LIST, D(required) },
	{ "as_text", RK_LIST, D(as_text) },
	{ "order", RK_ORDER, D(order) },
	{ "per_page", RK_PAGE, D(per_page) },
	{ "max_per_page", RK_PAGE, D(max_per_page) },
	{ "read", RK_ACCESS, D(read) },
	{ "write", RK_ACCESS, D(write) },
	{ "unknown_fields", RK_UNKNOWN, D(ignore_unknown) },
	{ "statement_prefix", RK_PREFIX, D(stmt_prefix) },
	{ "filter", RK_LIST, D(filter) },
	{ "sort", RK_LIST, D(sortable) },
	{ "search", RK_LIST, D(search) },
	{ "count", RK_COUNT, D(count_mode) },
	{ "count_threshold", RK_THRESHOLD, D(count_threshold) },
};
#define RESCONF_NKEYS	(sizeof(resconf_keys) / sizeof(resconf_keys[0]))

/* Where a problem is: the file and line, the resource. */
struct resconf_where {
	const char	*file;
	int		 line;
	const char	*name;
};

static void	resconf_error(const struct resconf_where *, const char *,
		    const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

/* One line: "FILE:LINE: resource NAME: KEY: cause" (KEY may be NULL). */
static void
resconf_error(const struct resconf_where *w, const char *key,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%d: resource %s: %s%s%s", w->file, w->line, w->name,
	    key != NULL ? key : "", key != NULL ? ": " : "", msg);
}

/*
 * An identifier as PostgreSQL writes one unquoted, but with its case
 * kept: a letter, '_' or a non-ASCII byte, then those, digits or '$'.
 * Returns its length (0: none at s); *toolong when past NAMEDATALEN - 1.
 */
static size_t
resconf_ident(const char *s, int *toolong)
{
	size_t	n = 0;

	*toolong = 0;
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_' ||
	    (unsigned char)s[0] >= 0x80))
		return (0);
	while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '$' ||
	    (unsigned char)s[n] >= 0x80)
		n++;
	if (n > RES_IDENT_MAX - 1)
		*toolong = 1;
	return (n);
}

/* A resource name: a URL segment of [a-z0-9_-], not too long. */
static int
resconf_name_ok(const struct resconf_where *w, const char *name)
{
	size_t	 n;

	if (name[0] == '\0') {
		resconf_error(w, NULL, "no name (resource NAME {)");
		return (-1);
	}
	n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");
	if (name[n] != '\0') {
		resconf_error(w, NULL, "the name is not a URL segment "
		    "(a-z, 0-9, _ and - only)");
		return (-1);
	}
	if (n > RES_IDENT_MAX - 1) {
		resconf_error(w, NULL, "the name is too long (at most %d "
		    "bytes)", RES_IDENT_MAX - 1);
		return (-1);
	}
	return (0);
}

static int
resconf_table(const struct resconf_where *w, const char *key,
    const char *v)
{
	size_t	 n, m = 0;
	int	 toolong, toolong2 = 0;

	n = resconf_ident(v, &toolong);
	if (n > 0 && v[n] == '.')
		m = resconf_ident(v + n + 1, &toolong2);
	if (n == 0 || (v[n] != '\0' && (v[n] != '.' || m == 0 ||
	    v[n + 1 + m] != '\0'))) {
		resconf_error(w, key, "\"%s\" is not TABLE or SCHEMA.TABLE "
		    "(identifiers as in the catalog, unquoted)", v);
		return (-1);
	}
	if (toolong || toolong2) {
		resconf_error(w, key, "\"%s\": a name is too long (at most "
		    "%d bytes)", v, RES_IDENT_MAX - 1);
		return (-1);
	}
	return (0);
}

/*
 * A list of identifiers separated by commas, blanks around them allowed;
 * with order set, each may be preceded by '-' (descending).  The value is
 * rewritten without the blanks, "a,-b", which is what the field holds.
 */
static int
resconf_list(const struct resconf_where *w, const char *key, char *v,
    int order, int single)
{
	char	*p = v, *out = v;
	size_t	 n;
	int	 toolong, count = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (order && *p == '-')
			*out++ = *p++;
		if ((n = resconf_ident(p, &toolong)) == 0) {
			resconf_error(w, key, "expected a column name at "
			    "\"%.40s\"", p);
			return (-1);
		}
		if (toolong) {
			resconf_error(w, key, "\"%.*s\" is too long (at most "
			    "%d bytes)", (int)n, p, RES_IDENT_MAX - 1);
			return (-1);
		}
		memmove(out, p, n);
		out += n;
		p += n;
		count++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',' || single) {
			resconf_error(w, key, "expected %s at \"%.40s\"",
			    single ? "one column name" : "',' or the end",
			    p);
			return (-1);
		}
		*out++ = *p++;
	}
	*out = '\0';
	return (0);
}

static int
resconf_access(const struct resconf_where *w, const char *key,
    const char *v, enum res_access *a, char *group, size_t glen)
{
	const char	*g;
	size_t		 n;

	group[0] = '\0';
	if (strcmp(v, "anyone") == 0)
		*a = RES_ACCESS_ANYONE;
	else if (strcmp(v, "user") == 0)
		*a = RES_ACCESS_USER;
	else if (strcmp(v, "none") == 0)
		*a = RES_ACCESS_NONE;
	else if (strncmp(v, "group:", 6) == 0) {
		g = v + 6;
		n = strspn(g, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_.-");
		if (n == 0 || g[n] != '\0') {
			resconf_error(w, key, "\"%s\": a group name is "
			    "letters, digits, _ . and -", v);
			return (-1);
		}
		if (n >= glen) {
			resconf_error(w, key, "\"%s\": the group name is too "
			    "long (at most %zu bytes)", v, glen - 1);
			return (-1);
		}
		*a = RES_ACCESS_GROUP;
		strlcpy(group, g, glen);
	} else {
		resconf_error(w, key, "\"%s\" is not anyone, user, "
		    "group:NAME or none", v);
		return (-1);
	}
	return (0);
}

static size_t
resconf_key_index(const char *name)
{
	size_t	i;

	for (i = 0; i < RESCONF_NKEYS; i++)
		if (strcmp(resconf_keys[i].name, name) == 0)
			break;
	return (i);
}

/* One "key = value" line of the block; -1 on a mistake (reported). */
static int
resconf_line(const struct resconf_where *w, char *line, struct res_decl *d,
    int *seen)
{
	const struct resconf_key *k = NULL;
	const char	*errstr;
	char		*key, *val, *base = (char *)d;
	size_t		 i;
	long long	 n, max;

	if (str_keyval(line, &key, &val) == -1) {
		resconf_error(w, NULL, "expected key = value or }");
		return (-1);
	}
	if ((i = resconf_key_index(key)) < RESCONF_NKEYS)
		k = &resconf_keys[i];
	if (k == NULL) {
		resconf_error(w, NULL, "unknown key \"%s\"", key);
		return (-1);
	}
	if (seen[i] != 0) {
		resconf_error(w, key, "given twice (first on line %d)",
		    seen[i]);
		return (-1);
	}
	seen[i] = w->line;
	if (*val == '\0') {
		resconf_error(w, key, "no value");
		return (-1);
	}
	switch (k->kind) {
	case RK_TABLE:
		if (resconf_table(w, key, val) == -1)
			return (-1);
		break;
	case RK_IDENT:
	case RK_LIST:
	case RK_ORDER:
		if (resconf_list(w, key, val, k->kind == RK_ORDER,
		    k->kind == RK_IDENT) == -1)
			return (-1);
		break;
	case RK_PAGE:
	case RK_THRESHOLD:
		max = k->kind == RK_PAGE ? RESCONF_PAGE_LIMIT :
		    RESCONF_COUNT_LIMIT;
		n = strtonum(val, 1, max, &errstr);
		if (errstr != NULL) {
			resconf_error(w, key, "\"%s\" is %s (1..%lld)", val,
			    errstr, max);
			return (-1);
		}
		if (k->kind == RK_PAGE)
			*(int *)(base + k->off) = (int)n;
		else
			*(long long *)(base + k->off) = n;
		return (0);
	case RK_ACCESS:
		return (resconf_access(w, key, val,
		    (enum res_access *)(base + k->off),
		    k->off == offsetof(struct res_decl, read) ?
		    d->read_group : d->write_group, sizeof(d->read_group)));
	case RK_UNKNOWN:
		if (strcmp(val, "reject") != 0 && strcmp(val, "ignore") != 0) {
			resconf_error(w, key, "\"%s\" is not reject or ignore",
			    val);
			return (-1);
		}
		*(int *)(base + k->off) = strcmp(val, "ignore") == 0;
		return (0);
	case RK_COUNT:
		if (strcmp(val, "auto") == 0)
			d->count_mode = RES_COUNT_AUTO;
		else if (strcmp(val, "exact") == 0)
			d->count_mode = RES_COUNT_EXACT;
		else if (strcmp(val, "estimated") == 0)
			d->count_mode = RES_COUNT_ESTIMATED;
		else {
			resconf_error(w, key, "\"%s\" is not auto, exact or "
			    "estimated", val);
			return (-1);
		}
		return (0);
	case RK_PREFIX:
		/* Part of a statement name: plain, whatever the log reads. */
		if (isdigit((unsigned char)val[0]) || val[strspn(val,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_")] != '\0') {
			resconf_error(w, key, "\"%s\" is not letters, digits "
			    "and _ (not a digit first)", val);
			return (-1);
		}
		break;
	}
	if (strlcpy(base + k->off, val, k->size) >= k->size) {
		resconf_error(w, key, "too long (at most %zu bytes)",
		    k->size - 1);
		return (-1);
	}
	return (0);
}

/* Is this (trimmed, comment-free) line one that opens a block? */
int
resconf_opens(const char *line)
{
	const char	*p = line + 8;

	if (strncmp(line, "resource", 8) != 0 ||
	    !(*p == ' ' || *p == '\t' || *p == '{'))
		return (0);
	p += strspn(p, " \t");
	return (*p != '=');	/* "resource = x" is a (bad) setting */
}

/*
 * Parse the block opened by `open`, line *lineno of file (trimmed, its
 * comment removed: "resource NAME {"), reading fp up to the "}" alone on
 * its line; *lineno counts the lines read.  d is filled with the defaults
 * and what the block says.  Every mistake is logged on its own line;
 * returns 0, or -1 when there was any (d is then not to be used).
 *
 * A block still open when another one starts, or at the end of the file,
 * is unterminated: that is all said of it.  The line that opens the next
 * block is given back to fp (when fp can seek), so that it is read as a
 * block of its own rather than as a stream of mistakes.
 */
int
resconf_block(FILE *fp, const char *file, int *lineno, const char *open,
    struct res_decl *d)
{
	struct resconf_where	 w;
	char			 buf[RESCONF_MAX_LINE], *line, *p;
	const char		*q;
	char			 name[RES_IDENT_MAX * 2];
	int			 seen[RESCONF_NKEYS], open_line = *lineno;
	int			 rv = 0, closed = 0, pp, mpp;
	size_t			 l;
	off_t			 at;

	memset(d, 0, sizeof(*d));
	memset(seen, 0, sizeof(seen));
	d->read = d->write = RES_ACCESS_USER;
	d->count_mode = RES_COUNT_AUTO;
	d->count_threshold = RES_COUNT_DEFAULT_THRESHOLD;
	strlcpy(d->file, file, sizeof(d->file));
	d->line = open_line;

	/* "resource" NAME "{": the name up to the blanks or the brace. */
	q = open + 8;
	q += strspn(q, " \t");
	l = strcspn(q, " \t{");
	snprintf(name, sizeof(name), "%.*s", (int)(l < sizeof(name) - 1 ?
	    l : sizeof(name) - 1), q);
	w.file = file;
	w.line = open_line;
	w.name = name[0] != '\0' ? name : "?";
	q += l;
	q += strspn(q, " \t");
	if (strcmp(q, "{") != 0) {
		resconf_error(&w, NULL, "expected \"resource NAME {\" on a "
		    "line of its own");
		/* No brace to end it: no body follows (a one-line block). */
		l = strlen(q);
		if (l == 0 || q[l - 1] != '{')
			return (-1);
		rv = -1;
	} else if (resconf_name_ok(&w, name) == -1)
		rv = -1;
	else
		strlcpy(d->name, name, sizeof(d->name));

	for (;;) {
		at = ftello(fp);
		if (fgets(buf, sizeof(buf), fp) == NULL)
			break;
		(*lineno)++;
		w.line = *lineno;
		l = strlen(buf);
		if (l == sizeof(buf) - 1 && buf[l - 1] != '\n') {
			resconf_error(&w, NULL, "line too long");
			rv = -1;
			/* The rest of it is no line of its own. */
			while (fgets(buf, sizeof(buf), fp) != NULL &&
			    buf[strlen(buf) - 1] != '\n')
				;
			continue;
		}
		if ((p = strchr(buf, '#')) != NULL)
			*p = '\0';
		line = str_trim(buf);
		if (*line == '\0')
			continue;
		if (strcmp(line, "}") == 0) {
			closed = 1;
			break;
		}
		if (resconf_opens(line)) {
			w.line = open_line;
			resconf_error(&w, NULL, "unterminated block: line %d "
			    "opens another one before its }", *lineno);
			if (at != -1 && fseeko(fp, at, SEEK_SET) == 0)
				(*lineno)--;
			return (-1);	/* nothing more to say of it */
		}
		if (resconf_line(&w, line, d, seen) == -1)
			rv = -1;
	}
	w.line = open_line;
	if (!closed) {
		resconf_error(&w, NULL, "unterminated block: no } before the "
		    "end of the file");
		return (-1);
	}

	if (seen[resconf_key_index("table")] == 0) {
		resconf_error(&w, "table", "missing: say which table or view "
		    "to serve");
		rv = -1;
	}
	/* Unset, a page is 100 or the maximum if that is lower. */
	pp = seen[resconf_key_index("per_page")];
	mpp = seen[resconf_key_index("max_per_page")];
	if (mpp == 0)
		d->max_per_page = RESCONF_MAX_PER_PAGE;
	if (pp == 0)
		d->per_page = d->max_per_page < RESCONF_PER_PAGE ?
		    d->max_per_page : RESCONF_PER_PAGE;
	else if (d->per_page > d->max_per_page && d->max_per_page > 0) {
		w.line = pp;
		resconf_error(&w, "per_page", "%d is more than max_per_page "
		    "%d", d->per_page, d->max_per_page);
		rv = -1;
	}
	if (d->columns[0] != '\0' && d->hidden[0] != '\0') {
		w.line = seen[resconf_key_index("hidden")];
		resconf_error(&w, "hidden", "give columns or hidden, not "
		    "both");
		w.line = open_line;
		rv = -1;
	}
	/* The threshold is what auto decides by: with another mode, a slip. */
	if (seen[resconf_key_index("count_threshold")] != 0 &&
	    d->count_mode != RES_COUNT_AUTO) {
		w.line = seen[resconf_key_index("count_threshold")];
		resconf_error(&w, "count_threshold", "only with count = auto "
		    "(count is %s)", d->count_mode == RES_COUNT_EXACT ?
		    "exact" : "estimated");
		w.line = open_line;
		rv = -1;
	}
	return (rv);
}

/*
 * Append d to the declarations *list (*n of them, malloc'd; the caller
 * frees it): a name declared twice, or more than RES_MAX, is refused with
 * its line.
 */
int
resconf_add(struct res_decl **list, int *n, const struct res_decl *d)
{
	struct resconf_where	 w = { d->file, d->line, d->name };
	struct res_decl		*nl;
	int			 i;

	for (i = 0; i < *n; i++)
		if (strcmp((*list)[i].name, d->name) == 0) {
			resconf_error(&w, NULL, "declared twice (first on "
			    "line %d)", (*list)[i].line);
			return (-1);
		}
	if (*n >= RES_MAX) {
		resconf_error(&w, NULL, "more than %d resources", RES_MAX);
		return (-1);
	}
	if ((nl = reallocarray(*list, (size_t)*n + 1, sizeof(*nl))) == NULL) {
		resconf_error(&w, NULL, "out of memory");
		return (-1);
	}
	nl[*n] = *d;
	*list = nl;
	(*n)++;
	return (0);
}

/*
 * The declaration served when the configuration declares none: the
 * original's one resource, so that starterd with no file serves what the
 * seed did, unknown members ignored and statements named as before.
 * Exactly the pxcodes block of starterd.conf(5).
 */
void
resconf_builtin(struct res_decl *d)
{
	memset(d, 0, sizeof(*d));
	strlcpy(d->name, "pxcodes", sizeof(d->name));
	strlcpy(d->table, "starter_pxcodes", sizeof(d->table));
	strlcpy(d->key, "pxcode", sizeof(d->key));
	strlcpy(d->hidden, "id", sizeof(d->hidden));
	strlcpy(d->required, "procedure", sizeof(d->required));
	strlcpy(d->order, "id", sizeof(d->order));
	d->per_page = RESCONF_PER_PAGE;
	d->max_per_page = RESCONF_MAX_PER_PAGE;
	d->read = d->write = RES_ACCESS_USER;
	/* The original's totals at any size: its pages byte for byte. */
	d->count_mode = RES_COUNT_EXACT;
	d->ignore_unknown = 1;		/* Flask read what it knew */
	strlcpy(d->stmt_prefix, "px", sizeof(d->stmt_prefix));	/* logs */
	d->file[0] = '\0';		/* no file: messages say no line */
	d->line = 0;
}

/*
 * The tables of the n declarations d as the text[] literal that
 * schema_catalog_sql takes, {"a","s.b"}, into out; -1 if it does not fit.
 */
int
resconf_tables(const struct res_decl *d, int n, char *out, size_t len)
{
	const char	*t;
	size_t		 w = 0;
	int		 i;

	if (len < 3)
		return (-1);
	out[w++] = '{';
	for (i = 0; i < n; i++) {
		if (w + 3 >= len)
			return (-1);
		if (i > 0)
			out[w++] = ',';
		out[w++] = '"';
		for (t = d[i].table; *t != '\0'; t++) {
			if (w + 4 >= len)
				return (-1);
			if (*t == '"' || *t == '\\')
				out[w++] = '\\';
			out[w++] = *t;
		}
		out[w++] = '"';
	}
	if (w + 2 > len)
		return (-1);
	out[w++] = '}';
	out[w] = '\0';
	return (0);
}
