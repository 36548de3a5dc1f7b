/*
 * starterd.h: every struct and prototype of the daemon, grouped by layer
 * and then by the file that implements it (the httpd.h layout: one header,
 * so a reader finds every interface in one place; src/LAYERS and
 * `make check-layers` say which layer may call which).
 *
 * Process model: the master (core/master.c) binds, maps shared memory and
 * forks workers; it never speaks HTTP or SQL.  Each worker (core/worker.c)
 * multiplexes client sockets, its own PostgreSQL connection (data/db.c)
 * and its password verification thread (auth/auth.c) in one epoll loop.
 * A request flows one way: socket -> parser (http/http.c) -> state
 * machine (core/conn.c) -> router (http/router.c) -> handler (api/) ->
 * cache/db (data/) -> response (http/response.c).  Completions (database
 * answers, password checks) are posted back to the loop: they wake a
 * client (base/client.c), and only the loop runs its state machine.
 */
#ifndef STARTERD_H
#define STARTERD_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include <bsd/sys/queue.h>

#include <libpq-fe.h>

#include "buf.h"
#include "clock.h"
#include "hex.h"
#include "mac.h"
#include "http.h"
#include "log.h"
#include "seqlock.h"
#include "str.h"

#define STARTERD_NAME		"starterd"
#define STARTERD_MAX_WORKERS	64
#define STARTERD_MAX_LISTEN	8
#define STARTERD_API_PREFIX	"/api/v1.0"
#define STARTERD_REALM		"starterd"
#define STARTERD_DEFAULT_USER	"nobody"	/* started as root, no -u */

/* Per-connection bounds. */
#define CLIENT_MAX_INPUT	(HTTP_MAX_REQLINE + HTTP_MAX_HEADER_BYTES + \
				    HTTP_MAX_BODY + 65536)
#define CLIENT_MAX_OUTPUT	(4 * 1024 * 1024)
#define CLIENT_OUTPUT_HIWAT	(256 * 1024)	/* stop parsing above this */
#define CLIENT_READ_CHUNK	16384
#define WORKER_MAX_CLIENTS	4096	/* --worker-connections default */
#define CLIENT_BUF_KEEP		32768	/* shrunk above this */

/* Pagination, as the original. */
#define PXCODES_MAX_PER_PAGE	100
#define PXCODE_MAX_CHARS	10
#define PROCEDURE_MAX_CHARS	80

#define REQID_MAX		64	/* X-Request-Id accepted up to this */
#define TRACEPARENT_LEN		55	/* W3C traceparent, version 00 */
#define CORS_MAX_AGE		600	/* Access-Control-Max-Age, seconds */

enum auth_mode {
	AUTH_MODE_BOTH = 0,
	AUTH_MODE_PASSWORD,
	AUTH_MODE_TOKEN
};

enum metrics_mode {
	METRICS_ON = 0,
	METRICS_OFF,
	METRICS_LOOPBACK,	/* trusts the TCP peer: not behind a proxy */
	METRICS_AUTH		/* the default: any authenticated user */
};

/* config.c: every setting; see config.c's table for flags/env/keys. */
struct config {
	char		 listen[256];
	int		 port;
	char		*dsn;		/* may hold a password: never logged */
	char		 dsn_file[PATH_MAX];
	char		*read_dsn;	/* replicas; NULL: the primary */
	char		*listen_dsn;	/* LISTEN; NULL: the primary link */
	char		 prepare[16];	/* named or unnamed */
	int		 workers;
	char		 config_file[PATH_MAX];
	int		 config_explicit;
	int		 test_only;
	char		 user[64];
	char		 pidfile[PATH_MAX];
	long long	 cache_size;
	int		 auth_cache_ttl;
	char		 access_log[PATH_MAX];
	int		 log_level;
	int		 use_syslog;
	int		 header_timeout;
	int		 idle_timeout;
	int		 shutdown_timeout;
	int		 worker_timeout;	/* hung worker: killed after */
	int		 statement_timeout;	/* milliseconds */
	int		 token_ttl;
	char		 token_key_file[PATH_MAX];
	int		 auth_mode;
	char		 rate_limit[32];
	char		 rate_limit_by[16];
	char		 trusted_proxy[256];
	char		 auth_fail_limit[32];
	int		 require_if_match;
	int		 test_config_only;	/* -t without the database */
	int		 metrics;
	int		 argon2_memory;
	int		 argon2_time;
	int		 worker_connections;
	long long	 worker_input_budget;
	char		 log_format[16];	/* combined or json */
	char		 cors_origin[1024];	/* "", "*" or a list */
	char		 public_url[512];	/* "" or scheme://host[/prefix] */
	struct res_decl	*resources;	/* resconf.c: declared, or builtin */
	int		 nresources;
};

extern struct config	*conf;		/* config.c */
extern int		 main_argc;	/* a copy of argv: setproctitle */
extern char		**main_argv;	/* overwrites the original */

void	 config_defaults(struct config *);
int	 config_load(struct config *, int, char **);
void	 config_usage(FILE *);
int	 config_resolve_dsn(struct config *);
int	 config_reload(struct config *, int, char **);
void	 config_free_dsns(struct config *);

/*
 * resconf.c: `resource NAME { ... }` blocks of the configuration file
 * (starterd.conf(5)); starterctl reads them too.  A declaration says what
 * to serve; the catalog (schema.c) says what it is.
 */
#define RES_MAX			32	/* declared resources */
#define RES_MAX_COLS		64	/* columns of a served table */
#define RES_IDENT_MAX		64	/* NAMEDATALEN */
#define RES_LIST_MAX		1024	/* a comma-separated column list */

#define RES_COUNT_AUTO		0	/* exact below count_threshold rows */
#define RES_COUNT_EXACT		1
#define RES_COUNT_ESTIMATED	2
#define RES_COUNT_DEFAULT_THRESHOLD	100000

enum res_access {
	RES_ACCESS_USER = 0,	/* any authenticated user (the default) */
	RES_ACCESS_ANYONE,	/* no credentials needed */
	RES_ACCESS_GROUP,	/* authenticated users in a named group */
	RES_ACCESS_NONE		/* nobody: e.g. write = none, read-only API */
};

struct res_decl {
	char		 name[RES_IDENT_MAX];	/* URL segment */
	char		 table[2 * RES_IDENT_MAX + 2];	/* [schema.]table */
	char		 key[RES_IDENT_MAX];	/* "": the one-column pkey */
	char		 columns[RES_LIST_MAX];	/* exposed; "": all */
	char		 hidden[RES_LIST_MAX];	/* never exposed */
	char		 read_only[RES_LIST_MAX];
	char		 required[RES_LIST_MAX];	/* POST must give them */
	char		 as_text[RES_LIST_MAX];	/* other types, as text */
	char		 order[RES_LIST_MAX];	/* "col,-col"; "": the pkey */
	int		 per_page;		/* default page size */
	int		 max_per_page;
	enum res_access	 read, write;
	char		 read_group[RES_IDENT_MAX];
	char		 write_group[RES_IDENT_MAX];
	int		 ignore_unknown;	/* unknown_fields = ignore */
	char		 filter[RES_LIST_MAX];	/* filterable columns */
	char		 sortable[RES_LIST_MAX];	/* sort= columns */
	char		 search[RES_LIST_MAX];	/* q= columns (text) */
	int		 count_mode;		/* RES_COUNT_* */
	long long	 count_threshold;	/* auto: exact below this */
	char		 stmt_prefix[32];	/* statement names: "" = name */
	char		 file[PATH_MAX];	/* where it was declared */
	int		 line;
};

/*
 * Parse the block that `line` (trimmed, without its comment: "resource
 * NAME {") opens on line *lineno of file, reading fp to its "}" and
 * counting *lineno; each mistake logged on its own line (file:line, the
 * resource, the key, the cause); 0, or -1 if any.
 */
int	 resconf_block(FILE *, const char *, int *, const char *,
	    struct res_decl *);
int	 resconf_opens(const char *);	/* does the line open a block? */
/* Append to a malloc'd list: refuses a name twice, more than RES_MAX. */
int	 resconf_add(struct res_decl **, int *, const struct res_decl *);
/* The declaration used when the configuration declares none. */
void	 resconf_builtin(struct res_decl *);
/* The declared tables as schema_catalog_sql's $1: {"a","s.b"}. */
int	 resconf_tables(const struct res_decl *, int, char *, size_t);

/*
 * schema.c: a declaration bound to the catalog (pg_attribute, pg_type,
 * pg_constraint), with its statements written once.  Pure: it runs one
 * catalog query's result through the rules; db.c or preflight.c run it.
 */
enum col_type {
	COL_TEXT = 0, COL_VARCHAR, COL_CHAR, COL_INT2, COL_INT4, COL_INT8,
	COL_NUMERIC, COL_FLOAT4, COL_FLOAT8, COL_BOOL, COL_DATE,
	COL_TIMESTAMP, COL_TIMESTAMPTZ, COL_UUID, COL_JSON, COL_JSONB,
	COL_ASTEXT		/* declared as_text: any type, as a string */
};

struct res_column {
	char		 name[RES_IDENT_MAX];
	char		 qname[2 * RES_IDENT_MAX + 3];	/* quoted */
	enum col_type	 type;
	char		 type_name[64];	/* format_type(): for docs, errors */
	int		 maxlen;	/* varchar(n), char(n): n; else -1 */
	int		 precision;	/* numeric(p,s): p, s; else -1 */
	int		 scale;
	int		 notnull;
	int		 has_default;	/* DEFAULT, serial, identity */
	int		 generated;	/* GENERATED ALWAYS (identity or
					   stored): never written */
	int		 read_only;	/* declared, or generated */
	int		 required;	/* POST: NOT NULL without default, or
					   declared */
	int		 exposed;	/* in representations */
	int		 filterable;	/* declared filter */
	int		 sortable;	/* declared sortable */
	int		 searchable;	/* declared search (q=) */
};

struct res_unique {			/* a unique index, or a foreign key */
	char		 name[RES_IDENT_MAX];
	char		 columns[RES_LIST_MAX];	/* its columns, for messages */
	char		 ref[RES_IDENT_MAX];	/* foreign key: the table */
};

#define RES_MAX_UNIQUE	16

struct resource {
	struct res_decl	 decl;
	char		 nspname[RES_IDENT_MAX];	/* resolved */
	char		 relname[RES_IDENT_MAX];
	char		 qtable[4 * RES_IDENT_MAX + 8];	/* "schema"."table" */
	int		 is_view;
	int		 cacheable;	/* its table NOTIFYs every change */
	long long	 approx_rows;	/* rows, roughly (count = auto) */
	int		 ncols;
	struct res_column cols[RES_MAX_COLS];	/* catalog order */
	int		 key;			/* index in cols */
	int		 nexposed;
	int		 exposed[RES_MAX_COLS + 1];	/* JSON key order (sorted);
						   -1 stands for "url" */
	int		 nsel;			/* exposed, in catalog order: */
	int		 sel[RES_MAX_COLS];	/* the select list, cols index */
	int		 selpos[RES_MAX_COLS];	/* cols -> select column, -1 */
	int		 norder;
	int		 order[RES_MAX_COLS];	/* ORDER BY: cols index */
	int		 order_desc[RES_MAX_COLS];
	int		 nunique;
	struct res_unique unique[RES_MAX_UNIQUE];
	int		 nfkey;
	struct res_unique fkey[RES_MAX_UNIQUE];
	int		 nchecks;
	struct res_unique check[RES_MAX_UNIQUE];
	int		 can_select, can_insert, can_update, can_delete;
	/* Statements that do not depend on the request (schema.c). */
	char		*sql_get;	/* $1 key */
	char		*sql_get_cas;	/* $1 key: exposed + row text */
	char		*sql_page;	/* $1 limit, $2 offset */
	char		*sql_delete;	/* $1 key */
	char		*sql_delete_cas;	/* $1 key, $2 row text */
	char		*sql_select_list;	/* exposed columns, quoted */
	char		*sql_row_text;	/* ROW(exposed)::text expression */
	/*
	 * The last INSERT api_resource.c wrote of each shape (0: POST, 1:
	 * PUT creating), by the columns it names (bit i: cols[i]): a
	 * client's writes usually name the same columns every time.
	 */
	struct {
		uint64_t	 cols;
		char		*sql;
	}		 sql_insert[2];
};

/*
 * query.c: a collection's query language (issue 11), parsed against a
 * bound resource and written as one statement.  Pure: no I/O.
 *
 *   ?col=op.value		filters, ANDed (PostgREST's syntax): eq, neq,
 *				lt, lte, gt, gte, in.(a,b,"c,d"), pre.text
 *				(prefix), has.text (case-insensitive
 *				contains), is.null, not.null
 *   q=text			free text over the declared search columns
 *   sort=col,-col		declared sortable columns, key appended
 *   fields=a,b			exposed columns (the key and url always)
 *   per_page=, page=		the seed's offset paging, unchanged
 *   cursor=TOKEN		keyset paging (opaque, HMAC-signed)
 *   Prefer: count=exact|estimated|none	(RFC 7240)
 */
#define QUERY_MAX_FILTERS	16
#define QUERY_MAX_VALUES	100	/* in.(...) */
#define QUERY_CURSOR_MAX	2048	/* a cursor token's length */
#define QUERY_SEARCH_MAX	200	/* q=: characters */
/* Parameters of the page statement, at most: filters, q, cursor, limits. */
#define QUERY_MAX_PARAMS	(QUERY_MAX_FILTERS * QUERY_MAX_VALUES + \
				    RES_MAX_COLS + 3)

enum query_op {
	QOP_EQ = 0, QOP_NEQ, QOP_LT, QOP_LTE, QOP_GT, QOP_GTE, QOP_IN,
	QOP_PREFIX, QOP_HAS, QOP_ISNULL, QOP_NOTNULL
};

struct query_filter {
	int		 col;		/* cols index */
	enum query_op	 op;
	int		 nvals;
	char		*vals[QUERY_MAX_VALUES];	/* checked text values */
	char		*pat;		/* pre/has: the LIKE pattern */
};

enum query_count {
	QCOUNT_EXACT = 0, QCOUNT_ESTIMATED, QCOUNT_NONE
};

struct query {
	/* Zeroed by query_parse(), up to f. */
	int		 nfilters;
	char		*search;		/* q=, or NULL */
	char		*search_pat;		/* its ILIKE pattern */
	int		 nsort;			/* the order, key last */
	int		 nfields;		/* 0: every exposed column */
	long long	 page, per_page;
	int		 keyset;		/* cursor paging (cursor= or
						   sort=/filters without page=) */
	int		 backward;		/* the cursor pages back */
	int		 inclusive;		/* ... from its row on */
	int		 ncursor;		/* the cursor's row: per sort col */
	char		 lim[24], off[24];	/* LIMIT, OFFSET parameters */
	enum query_count count;
	int		 count_preferred;	/* Prefer: count=... given */
	size_t		 canon_link;		/* canon[0..canon_link): a
						   query string for links */
	/*
	 * Read only up to their counts, or as strings: not zeroed (20 kB,
	 * half the instructions of a cached page if they were).
	 */
	struct query_filter f[QUERY_MAX_FILTERS];
	int		 sort[RES_MAX_COLS];
	int		 sort_desc[RES_MAX_COLS];
	int		 fields[RES_MAX_COLS];	/* cols index, r->sel order */
	char		*cursor_vals[RES_MAX_COLS];	/* NULL: SQL NULL */
	char		 cursor[QUERY_CURSOR_MAX + 1];	/* cursor=, as given:
						   query_cursor_open() it */
	char		 canon[4096];		/* canonical form: cache key,
						   links (without cursor/page) */
};

/*
 * -1 with a message naming the parameter in err (the caller's 400); q is
 * then already freed.  q->cursor holds cursor= as given: the caller then
 * calls query_cursor_open() with its key.
 */
int	 query_parse(const struct resource *, const char *, size_t,
	    const char *, size_t, struct query *, char *, size_t);
void	 query_free(struct query *);	/* idempotent */
/* A filter value for col: NULL if it is good, else why not. */
const char *query_check_value(const struct res_column *, const char *);
/*
 * The page's statement: filters, order, limit per_page + 1 (keyset: one
 * more row says whether there is a next page); its parameters are
 * pointers into q (not to be freed), at most QUERY_MAX_PARAMS.  Returns
 * -1 when out of memory.  The result's layout is in query.c.
 */
int	 query_sql(const struct resource *, const struct query *,
	    struct buf *, const char **, int *);
/*
 * The count's statement (exact, or the planner's estimate): one row, one
 * bigint.  Its parameters may point into q, r, or into sql itself past
 * the statement's NUL: keep all three until it is sent.
 */
int	 query_count_sql(const struct resource *, const struct query *,
	    struct buf *, const char **, int *);
/*
 * A cursor for the page after (flags 0) or before (QUERY_CUR_BACK) row
 * `row` of res, whose select list starts at column first_field, the row
 * itself included with QUERY_CUR_INCL; -1 if it does not fit outlen (or
 * QUERY_CURSOR_MAX).  query_cursor_here: the same from the position of
 * q's own cursor (a page that came out empty has no row to start from).
 */
#define QUERY_CUR_BACK	1
#define QUERY_CUR_INCL	2
int	 query_cursor(const struct resource *, const struct query *,
	    PGresult *, int, int, int, const unsigned char *, size_t,
	    char *, size_t);
int	 query_cursor_here(const struct resource *, const struct query *,
	    int, const unsigned char *, size_t, char *, size_t);
/* Check a token against q (0: q->cursor_vals, ncursor, backward set). */
int	 query_cursor_open(const struct resource *, struct query *,
	    const char *, const unsigned char *, size_t);

/* The catalog query: $1 a text[] of declared tables (as declared). */
extern const char schema_catalog_sql[];
/*
 * Bind decl to the catalog rows in res (schema_catalog_sql's answer) into
 * r; conn quotes identifiers (PQescapeIdentifier).  Each problem is one
 * line passed to report (with arg); returns the number of problems (0:
 * r is usable).  check_privileges: also the role's privileges against
 * the declared access.
 */
int	 schema_bind(PGconn *, const struct res_decl *, PGresult *,
	    struct resource *, void (*)(void *, const char *), void *);
void	 schema_free(struct resource *);
const char *col_type_name(enum col_type);

/* master.c */
struct listener {
	int			 fd;
	char			 name[80];
};

struct addrinfo;
int	 master_run(struct config *);
int	 master_resolve(const char *, int, struct addrinfo **);
void	 master_addrfree(struct addrinfo *);
void	 master_addr_name(const struct addrinfo *, int, char *, size_t);

/* preflight.c: starterd -t, every startup check without serving */
int	 preflight_run(struct config *);

/* worker.c: the process and its event loop */
void	 worker_main(int, struct listener *, int, int)
	    __attribute__((__noreturn__));
extern int	 worker_id;

/* event.c: the worker's epoll set */
int	 event_init(void);
int	 event_watch(int, int, uint32_t, void *);
int	 event_wait(void *, int, int);

/* client.c: a client connection's lifecycle (below everything it serves) */
enum client_state {
	CLIENT_READ_HEAD = 0,	/* waiting for / parsing a request head */
	CLIENT_READ_BODY,	/* reading the body */
	CLIENT_BUSY,		/* waiting for auth or the database */
	CLIENT_DONE,		/* the response is queued: finish the request */
	CLIENT_CLOSED		/* fd closed; freed when nothing is pending */
};

struct client {
	TAILQ_ENTRY(client)	 entry;
	TAILQ_ENTRY(client)	 ready_entry;	/* posted: the loop runs it */
	int			 posted;
	int			 fd;
	enum client_state	 state;
	uint64_t		 serial;
	int			 npending;	/* async operations in flight */
	int			 rd_ready;	/* edge-triggered: more to read */
	int			 wr_ready;	/* edge-triggered: can write */
	int			 eof;		/* peer closed its side */
	int			 close_after;	/* close once output drains */
	int64_t			 deadline;	/* monotonic ms; 0 = none */

	struct buf		 in;
	struct buf		 out;
	struct buf		 body;		/* decoded request body */
	struct http_request	 req;
	char			 addr[64];	/* peer address, for logs */

	/* per request: reset by client_reset_request() */
	int64_t			 t_start;	/* monotonic us */
	int			 status;	/* status sent, for the log */
	size_t			 resp_bytes;
	int			 head_only;	/* HEAD: no body */
	int			 keepalive;
	const struct route	*route;
	int			 route_id;	/* router_index(), for metrics */
	char			 arg[128];	/* decoded path argument */
	int			 user_id;
	char			 username[65];
	struct buf		 hdrs;		/* extra response headers */
	char			 reqid[REQID_MAX + 1];	/* reqid.c */
	unsigned int		 nreq;		/* responses sent so far */
	int			 auth_result;	/* AUTH_*, set by completions */
	int			 body_pending;	/* body not read */
	size_t			 budget;	/* input budget taken */
	/* Run by the loop once woken with nothing pending (a handler's
	 * or the authorisation's next step). */
	void			(*resume)(struct client *);
	/* per request, reset by conn.c (conn_reset_extras) */
	int			 head_parsed;	/* headers may be read */
	int			 cors;		/* CORS_*: Origin allowed */
	int64_t			 t_auth;	/* auth began (us), 0: none */
	int64_t			 auth_us;	/* auth took, -1: none */
	int64_t			 t_db;		/* first statement sent (us) */
	int64_t			 db_us;		/* until the answer, -1: none */
	const char		*cache_desc;	/* "hit", "miss", NULL */
	char			 traceparent[TRACEPARENT_LEN + 1];
	/* reqid and trace id for application_name (reqid.c) */
	char			 dbtag[REQID_MAX + 40];
};

#define CORS_NONE	0
#define CORS_ORIGIN	1	/* echo the request's Origin */
#define CORS_ANY	2	/* "*" */

TAILQ_HEAD(clientlist, client);
extern struct clientlist client_all;
extern int		 client_count;

struct client *client_new(int, const char *);
void	 client_reset_request(struct client *);
void	 client_hold(struct client *);
struct client *client_release(struct client *);
void	 client_wake(struct client *);
void	 client_auth_result(struct client *, int);
struct client *client_next_ready(void);
int	 client_has_ready(void);
void	 client_close(struct client *);
void	 client_collect(void);
int	 client_budget_take(struct client *, size_t, size_t);
void	 client_budget_release(struct client *);

/* conn.c: the HTTP state machine of a client, run only by the loop */
void	 conn_run(struct client *);
void	 conn_timeout(struct client *);
void	 conn_set_draining(int);

/* accesslog.c */
void	 accesslog_open(void);
void	 accesslog_write(struct client *);
void	 accesslog_flush(void);

/* response.c */
void	 response_send(struct client *, int, const char *, const char *,
	    size_t);
void	 response_json(struct client *, int, struct buf *);
void	 response_error(struct client *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 response_header_str(struct client *, const char *, const char *);
void	 response_header(struct client *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	 response_unavailable(struct client *, int);
void	 response_date_update(void);
const char *response_date(void);
int	 json_string(struct buf *, const char *, size_t);
void	 response_cors_check(struct client *);
void	 response_preflight(struct client *, const char *);
void	 etag_compute(const char *, size_t, char *, size_t);

/* router.c */
#define ROUTE_AUTH	0x01	/* needs credentials */
#define ROUTE_ARG	0x02	/* last path segment is an argument */
#define ROUTE_PASSWORD	0x04	/* with ROUTE_AUTH: a password, never a token */
#define ROUTE_REDIRECT	0x08	/* every method goes to the handler */

struct route {
	const char	*path;		/* exact, or the prefix when ROUTE_ARG */
	unsigned int	 methods;	/* 1 << enum http_method */
	int		 flags;
	void		(*handler)(struct client *);
	unsigned int	 open_methods;	/* with ROUTE_AUTH: need none */
	void		*arg;		/* the resource, for its handlers */
};

/* The route table (router.c) is the one place that names the handlers. */

const struct route *router_find(const char *, size_t, char *, size_t,
	    int *);
void	 router_allow(const struct route *, char *, size_t);
int	 router_index(const struct route *);
const struct route *router_get(int);
void	 router_label(const struct route *, char *, size_t);

/* api/: the handlers, a file per resource or concern */
void	 api_healthz(struct client *);			/* api_health.c */
void	 api_readyz(struct client *);
void	 api_auth_token(struct client *);		/* api_token.c */
void	 api_metrics(struct client *);			/* api_metrics.c */
void	 api_resource_collection(struct client *);	/* api_resource.c */
void	 api_resource_item(struct client *);
void	 api_resource_redirect(struct client *);
void	 api_index(struct client *);			/* api_discovery.c */
void	 api_openapi(struct client *);
/* The OpenAPI 3.1 document of the bound resources; base: scheme://host. */
int	 openapi_build(struct buf *, const char *, struct resource *const *,
	    int);
/* scheme://host[/prefix] of every absolute link: --public-url, a trusted
 * proxy's Forwarded/X-Forwarded-*, else http:// and Host (api_link.c). */
void	 api_link_base(struct client *, struct buf *);

/* db.c */
enum db_state {
	DB_DOWN = 0,		/* waiting to retry */
	DB_CONNECTING,
	DB_READY
};

enum db_stmt {
	DB_USER_BY_NAME = 0,
	DB_PING,
	DB_USER_TOKEN_VER,
	DB_TOKEN_KEY,
	DB_USER_REHASH,
	DB_NSTMTS
};

/*
 * A query's completion: res is its result (owned by db.c, freed after
 * the callback returns) or NULL when the connection was lost before the
 * answer came; c is NULL when the client went away meanwhile.  Callbacks
 * run from the loop (db_deliver), never from inside db.c's reading, and
 * the client is woken after its callback.
 */
typedef void (*db_cb)(struct client *, PGresult *, void *);

/* The links of a worker (db.c's top comment). */
#define DB_PRIMARY	0	/* --dsn */
#define DB_READ		1	/* --read-dsn */
#define DB_LISTEN	2	/* --listen-dsn */
#define DB_NLINKS	3

#define DB_LSN_FRESH	UINT64_MAX	/* read on a primary: current */
#define DB_LSN_MAX	24		/* "XXXXXXXX/XXXXXXXX" and a NUL */

/* db_submit_sql's flags. */
#define DB_SQL_WRITE	0x01	/* changes data: commits with its batch */
#define DB_SQL_REPLICA	0x02	/* a read the read link may answer */

/*
 * What the connections report, installed by the worker at start: db.c
 * knows nothing of caches, tokens or metrics.
 */
struct db_hooks {
	const char *const *channels;	/* LISTENed on the listening link */
	void	(*notify)(const char *, const char *);	/* channel, payload */
	void	(*up)(int, int);	/* link ready; 1: after it was lost */
	void	(*down)(int);		/* link lost */
	/*
	 * The listening link: a probe's answer is being read, after every
	 * notification that came before it (it covers those).
	 */
	void	(*probe_sent)(void);
	/*
	 * Its answer: every notification of a transaction that committed
	 * before this position of the primary's WAL has been delivered.
	 */
	void	(*synced)(uint64_t);
};

extern char	 db_evtag[DB_NLINKS];	/* the epoll tags of the links */

int	 db_init(const char *, const char *, const char *, int, int,
	    const struct db_hooks *);
int	 db_submit(struct client *, enum db_stmt, int, const char *const *,
	    db_cb, void *);
void	 db_event(int, uint32_t);
int	 db_has_done(void);
void	 db_deliver(void);
void	 db_tick(int64_t);
void	 db_loop_end(void);
enum db_state db_status(void);
int	 db_retry_after(void);
void	 db_shutdown(void);
const char *db_sqlstate(PGresult *);

/*
 * A statement written at run time (resources): prepared on the connection
 * the first time it is used (a bounded set per connection; past it, run
 * unnamed), under the given name if it is free (NULL: one is made up).
 * flags: DB_SQL_*.
 */
int	 db_submit_sql(struct client *, const char *, const char *, int,
	    int, const char *const *, db_cb, void *);
PGconn	*db_conn_handle(void);	/* for PQescapeIdentifier; NULL: down */
/* In a callback: the write's commit position, or the read's (db.c). */
uint64_t db_result_lsn(void);
int	 db_replica_ok(uint64_t);
void	 db_listen_probe(void);
int	 db_listen_lost(void);
uint64_t db_lsn_parse(const char *, size_t);	/* 0: not a position */
void	 db_lsn_format(uint64_t, char *, size_t);

/* resource.c: the worker's resources, bound again on every connection */
#define RES_ROUTE_COLL		0	/* /api/v1.0/NAME/ */
#define RES_ROUTE_ITEM		1	/* /api/v1.0/NAME/KEY */
#define RES_ROUTE_REDIRECT	2	/* /api/v1.0/NAME: 308 */
#define RES_ROUTE_KINDS		3
int	 resource_init(void);
void	 resource_db_up(void);
struct resource *resource_find(const char *, size_t);
int	 resource_count(void);
int	 resource_unbound(char *, size_t);
struct resource *resource_get(int);
int	 resource_wait(struct client *, void (*)(struct client *));
int	 resource_match(const char *, size_t, char *, size_t, int *, int *);
void	 resource_route_info(int, int, struct route *);

/* groups.c: is the authenticated user in a group (starter_user_groups)? */
int	 groups_check(struct client *, const char *);	/* AUTH_* */
void	 groups_cache_flush(void);

/* auth.c */
enum auth_result {
	AUTH_OK = 0,
	AUTH_FAIL,
	AUTH_PENDING,
	AUTH_UNAVAILABLE,
	AUTH_THROTTLED,		/* 429: Retry-After already set */
	AUTH_AGAIN		/* check again (a key has been loaded) */
};

extern char	 auth_evtag;	/* the epoll tag of the thread's eventfd */

int	 auth_init(void);
int	 auth_fd(void);
void	 auth_event(void);
int	 auth_check(struct client *);
void	 auth_cache_flush(void);
void	 auth_shutdown(void);
size_t	 auth_shm_size(void);
int	 auth_shm_attach(void *);
void	 auth_stats(uint64_t *, uint64_t *);

/* token.c */
int	 token_check(struct client *, const char *, size_t);
void	 token_db_up(void);
int	 token_key_ready(struct client *);
int	 token_derive(const char *, unsigned char *, size_t);
int	 token_version_find(int, int *);
uint64_t token_generation(void);
void	 token_version_add(int, int, uint64_t);
void	 token_cache_flush(void);
int	 token_make(struct buf *, int, const char *, int);
size_t	 token_shm_size(void);
int	 token_shm_attach(void *);

/* ratelimit.c */
int	 ratelimit_request(struct client *, int);
#define RATELIMIT_ADDR_MAX	64
int	 ratelimit_auth_begin(struct client *, const char *, char *, int *);
void	 ratelimit_auth_end(const char *, const char *, int, int);
void	 ratelimit_auth_addr(struct client *, char *);
int	 ratelimit_peer_trusted(struct client *);
void	 ratelimit_auth_charge(const char *, const char *);
size_t	 ratelimit_shm_size(void);
int	 ratelimit_shm_attach(void *);

/* cache.c */
struct cache_stats {
	uint64_t	hits, misses, stores, evictions, invalidations;
	uint64_t	stale, resets, version;
};

int	 cache_invalidate(const char *, uint64_t);
void	 cache_notified(const char *);
void	 cache_listen_up(void);
void	 cache_listen_down(void);
void	 cache_probe_sent(void);
void	 cache_synced(uint64_t);
uint64_t cache_valid_through(void);
void	 cache_proc_start(int);
void	 cache_proc_end(int);
int	 cache_enabled(void);
uint64_t cache_version(const char *);
int	 cache_lookup(const char *, size_t, int, struct buf *, char *, size_t,
	    long long *, int *);
int	 cache_store(const char *, size_t, uint64_t, uint64_t, const char *,
	    size_t, const char *);
void	 cache_stats(struct cache_stats *);
size_t	 cache_shm_size(void);
int	 cache_shm_attach(void *);

/* metrics.c */
size_t	 metrics_shm_size(void);
int	 metrics_shm_attach(void *);
void	 metrics_proc_start(int);
void	 metrics_proc_pid(int, pid_t);
void	 metrics_proc_end(int);
int	 metrics_proc_ready(int);
int64_t	 metrics_proc_idle(int);
void	 metrics_worker_restarted(void);
void	 metrics_reloaded(void);
void	 metrics_child(int, int);
void	 metrics_beat(int64_t, enum db_state);
void	 metrics_db_reconnect(void);
void	 metrics_request(struct client *);
void	 metrics_route_label(int, const char *);
int	 metrics_format(struct buf *, const struct cache_stats *, uint64_t,
	    uint64_t);

/* channels.c: NOTIFY routing, the one place that names every channel */
extern const char *const channels_listen[];
void	 channels_route(const char *, const char *);
void	 channels_forget_all(void);

/* sdnotify.c */
void	 notify_init(void);
void	 notify_send(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
uint64_t notify_watchdog_usec(void);

/* reqid.c */
void	 reqid_assign(struct client *, int);

/* shm.c: regions are listed in shm.c; each module sizes and attaches its */
int	 shm_init(void);
size_t	 shm_size(void);

#endif /* STARTERD_H */
