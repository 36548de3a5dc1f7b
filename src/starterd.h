/*
 * starterd.h: every struct and prototype of the daemon, grouped by the file
 * that implements it (the httpd.h layout).
 *
 * Process model: the master (master.c) binds, maps shared memory and forks
 * workers; it never speaks HTTP or SQL.  Each worker (worker.c) multiplexes
 * client sockets, its own PostgreSQL connection (db.c) and its password
 * verification thread (auth.c) in one epoll loop.
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
#include "http.h"
#include "log.h"

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
#define WORKER_MAX_CLIENTS	4096

/* Pagination, as the original. */
#define PXCODES_MAX_PER_PAGE	100
#define PXCODE_MAX_CHARS	10
#define PROCEDURE_MAX_CHARS	80

#define REQID_MAX		64	/* X-Request-Id accepted up to this */

enum auth_mode {
	AUTH_MODE_BOTH = 0,
	AUTH_MODE_PASSWORD,
	AUTH_MODE_TOKEN
};

enum metrics_mode {
	METRICS_ON = 0,
	METRICS_OFF,
	METRICS_LOOPBACK
};

/* config.c: every setting; see config.c's table for flags/env/keys. */
struct config {
	char		 listen[256];
	int		 port;
	char		*dsn;		/* may hold a password: never logged */
	char		 dsn_file[PATH_MAX];
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
	int		 statement_timeout;	/* milliseconds */
	int		 token_ttl;
	char		 token_key_file[PATH_MAX];
	int		 auth_mode;
	char		 rate_limit[32];
	char		 rate_limit_by[16];
	char		 trusted_proxy[256];
	char		 auth_fail_limit[32];
	int		 require_if_match;
	int		 metrics;
	int		 argon2_memory;
	int		 argon2_time;
};

extern struct config	*conf;

void	 config_defaults(struct config *);
int	 config_load(struct config *, int, char **);
void	 config_usage(FILE *);
int	 config_resolve_dsn(struct config *);
int	 config_reload(struct config *, int, char **);

/* main.c: a copy of argv (setproctitle overwrites the original) */
extern int	 main_argc;
extern char	**main_argv;

/* master.c */
struct listener {
	int			 fd;
	char			 name[80];
};

int	 master_run(struct config *);

/* worker.c */
enum client_state {
	CLIENT_READ_HEAD = 0,	/* waiting for / parsing a request head */
	CLIENT_READ_BODY,	/* reading the body */
	CLIENT_BUSY,		/* waiting for auth or the database */
	CLIENT_CLOSED		/* fd closed; freed when nothing is pending */
};

struct client {
	TAILQ_ENTRY(client)	 entry;
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
	char			 arg[128];	/* decoded path argument */
	int			 user_id;
	char			 username[65];
	struct buf		 hdrs;		/* extra response headers */
	char			 reqid[REQID_MAX + 1];	/* reqid.c */
	unsigned int		 nreq;		/* responses sent so far */
};

void	 worker_main(int, struct listener *, int)
	    __attribute__((__noreturn__));
void	 worker_continue(struct client *);
void	 worker_finish(struct client *);
void	 worker_hold(struct client *);
struct client *worker_release(struct client *);
void	 worker_authed(struct client *, int);
int	 worker_watch(int, int, uint32_t, void *);
void	*worker_db_tag(void);
int64_t	 worker_now_ms(void);
int64_t	 worker_now_us(void);
extern int	 worker_id;
extern int	 worker_replaces_dead;

/* response.c */
void	 response_send(struct client *, int, const char *, const char *,
	    size_t);
void	 response_json(struct client *, int, struct buf *);
void	 response_error(struct client *, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 response_header(struct client *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	 response_date_update(void);
const char *response_date(void);
int	 json_string(struct buf *, const char *, size_t);
void	 etag_compute(const char *, size_t, char *, size_t);

/* router.c */
#define ROUTE_AUTH	0x01	/* needs credentials */
#define ROUTE_ARG	0x02	/* last path segment is an argument */
#define ROUTE_PASSWORD	0x04	/* with ROUTE_AUTH: a password, never a token */

struct route {
	const char	*path;		/* exact, or the prefix when ROUTE_ARG */
	unsigned int	 methods;	/* 1 << enum http_method */
	int		 flags;
	void		(*handler)(struct client *);
};

const struct route *router_find(const char *, size_t, char *, size_t,
	    int *);
void	 router_allow(const struct route *, char *, size_t);
int	 router_index(const struct route *);
const struct route *router_get(int);

/* api_pxcodes.c */
void	 api_pxcodes_collection(struct client *);
void	 api_pxcodes_item(struct client *);
void	 api_healthz(struct client *);
void	 api_readyz(struct client *);

/* db.c */
enum db_state {
	DB_DOWN = 0,		/* waiting to retry */
	DB_CONNECTING,
	DB_READY
};

enum db_stmt {
	DB_USER_BY_NAME = 0,
	DB_PX_GET,
	DB_PX_PAGE,
	DB_PX_INSERT,
	DB_PX_UPDATE,
	DB_PX_PATCH,
	DB_PX_DELETE,
	DB_PX_UPDATE_CAS,
	DB_PX_PATCH_CAS,
	DB_PX_DELETE_CAS,
	DB_PX_CREATE,
	DB_PING,
	DB_USER_TOKEN_VER,
	DB_TOKEN_KEY,
	DB_USER_REHASH,
	DB_NSTMTS
};

/*
 * Called once per query: res is the query's result (owned by db.c, freed
 * after the callback returns) or NULL when the connection was lost before
 * the answer came.  c is NULL when the client went away meanwhile.
 */
typedef void (*db_cb)(struct client *, PGresult *, void *);

int	 db_init(const char *, int);
int	 db_submit(struct client *, enum db_stmt, int, const char *const *,
	    db_cb, void *);
void	 db_event(uint32_t);
void	 db_tick(int64_t);
void	 db_loop_end(void);
enum db_state db_status(void);
int	 db_fd(void);
int	 db_retry_after(void);
void	 db_shutdown(void);
const char *db_sqlstate(PGresult *);

/* auth.c */
enum auth_result {
	AUTH_OK = 0,
	AUTH_FAIL,
	AUTH_PENDING,
	AUTH_UNAVAILABLE,
	AUTH_THROTTLED		/* 429: Retry-After already set */
};

int	 auth_init(void);
int	 auth_fd(void);
void	 auth_event(void);
int	 auth_check(struct client *);
void	 auth_cache_flush(void);
void	 auth_shutdown(void);
size_t	 auth_shm_size(void);
int	 auth_shm_attach(void *);
void	 auth_stats(uint64_t *, uint64_t *);
uint64_t auth_generation(void);

/* token.c */
int	 token_check(struct client *, const char *, size_t);
void	 token_db_up(void);
void	 api_auth_token(struct client *);
size_t	 token_shm_size(void);
int	 token_shm_attach(void *);

/* ratelimit.c */
int	 ratelimit_request(struct client *, int);
#define RATELIMIT_ADDR_MAX	64
int	 ratelimit_auth_begin(struct client *, const char *, char *);
void	 ratelimit_auth_end(const char *, const char *, int);
size_t	 ratelimit_shm_size(void);
int	 ratelimit_shm_attach(void *);

/* cache.c */
struct cache_stats {
	uint64_t	hits, misses, stores, evictions, invalidations;
	uint64_t	stale, resets, version;
};

int	 cache_notify(const char *);
int	 cache_enabled(void);
uint64_t cache_version(void);
int	 cache_lookup(const char *, size_t, int, struct buf *, char *, size_t,
	    long long *, int *);
void	 cache_store(const char *, size_t, uint64_t, const char *, size_t,
	    const char *);
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
void	 api_metrics(struct client *);

/* notify.c */
void	 notify_init(void);
void	 notify_send(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
uint64_t notify_watchdog_usec(void);
unsigned long long notify_monotonic_usec(void);

/* reqid.c */
void	 reqid_assign(struct client *, int);

/* shm.c: regions are listed in shm.c; each module sizes and attaches its */
int	 shm_init(void);
size_t	 shm_size(void);

#endif /* STARTERD_H */
