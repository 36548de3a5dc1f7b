/*
 * db.c: the worker's one PostgreSQL connection, asynchronous end to end.
 *
 * libpq runs in non-blocking pipeline mode: every query is sent at once
 * and results come back in order.  The socket sits in the worker's epoll
 * set; a query costs no thread and no wait.
 *
 * Group commit: the queries submitted during one turn of the event loop
 * share one sync point (db_loop_end), so they run as one implicit
 * transaction and many clients' writes cost one WAL flush instead of one
 * each.  No answer is given before its batch's sync arrives, i.e. before
 * the commit.  If any statement of a batch fails, the whole batch was
 * rolled back: every query of it is sent again on its own ("solo", with
 * its own sync), so one client's error never becomes another's, and a
 * statement that failed for its own reasons (bad data, timeout) is not
 * run twice.
 *
 * States: DB_CONNECTING (PQconnectPoll driven by the loop; queries are
 * queued, bounded), DB_READY, DB_DOWN (queries fail at once so clients get
 * 503; a retry is due at retry_at, with exponential back-off).
 *
 * Completions are posted, not called: a finished query goes on a done
 * list, and the loop hands it to its callback (db_deliver) once db.c is
 * out of its reading; the client is woken after the callback.  So nothing
 * here runs a client's state machine, and a callback may submit queries.
 *
 * What the connection sees is reported through hooks that the worker
 * installs (struct db_hooks): the connection is up (again), or a NOTIFY
 * arrived on one of the channels it LISTENs on.  db.c knows nothing of
 * what they mean (data/channels.c routes them).
 *
 * Host names are resolved off the loop.  libpq would resolve a DSN's host
 * name synchronously inside PQconnectStartParams, so a slow resolver (the
 * database's container gone, its DNS name with it) would stall every
 * client of the worker.  db_init parses the DSN (PQconninfoParse, then
 * PGHOST/PGHOSTADDR as libpq would); when the host is one name, neither
 * an address nor a socket directory, and no hostaddr is given, each
 * connection attempt first resolves it with getaddrinfo on a detached
 * thread, one at a time.  The thread posts its answer through an eventfd
 * watched under db_evtag (so the loop calls db_event, which looks at the
 * eventfd only while a resolution is in flight), and the connection is
 * then started with hostaddr set to every address found, the name
 * repeated in host for each (libpq tries them in order, as it would its
 * own lookup's, and keeps the name for TLS and its messages).  The wait
 * is bounded by the connect timeout: past it the attempt fails (503s,
 * retried with back-off) and a late answer is used by the next attempt
 * or dropped.  Host lists, service files and a given hostaddr are left to
 * libpq as they were.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "starterd.h"

#define DB_MAX_PARAMS		(2 * RES_MAX_COLS + 8)
#define DB_MAX_PSTMTS		256	/* run-time statements prepared */
#define DB_MAX_QUEUED		4096
#define DB_CONNECT_TIMEOUT_MS	5000
#define DB_BACKOFF_MIN_MS	100
#define DB_BACKOFF_MAX_MS	1000	/* back within 1 s of the database */
#define DB_MAX_BATCH		64	/* queries per sync point */
#define DB_MAX_ADDRS		8	/* addresses of a resolved host */
#define DB_MAX_CONNOPTS		80	/* libpq connection options */
#define DB_HOST_MAX		256

struct db_query {
	TAILQ_ENTRY(db_query)	 entry;
	struct client		*c;
	int			 stmt;	/* DB_NSTMTS: internal; above: run-time */
	db_cb			 cb;
	void			*arg;
	int			 nparams;
	char			**params;
	int			 pstmt;	/* run-time statement, or -1 */
	char			*sql;	/* run unnamed, or NULL */
	int			 prep;	/* this entry prepares pstmt prep */
	PGresult		*res;
	int			 done;	/* got the NULL after the result */
	int			 solo;	/* own sync point: never batched */
	int			 write;	/* changes data: commits */
	int			 tag;	/* set application_name to params[0] */
};
TAILQ_HEAD(db_queue, db_query);

static const struct {
	const char	*name;
	int		 nparams;
	const char	*sql;
} db_stmts[DB_NSTMTS] = {
	[DB_USER_BY_NAME] = { "user_by_name", 1,
	    "SELECT id, password_hash FROM starter_users WHERE username = $1" },
	[DB_PING] = { "ping", 0, "SELECT 1" },
	/* token.c: a token's user must still exist with the same version. */
	[DB_USER_TOKEN_VER] = { "user_token_ver", 1,
	    "SELECT token_version, username FROM starter_users WHERE id = $1" },
	/*
	 * token.c: the shared signing key; $1 (hex) is kept only if no key
	 * exists yet.  Zero rows when another instance inserted meanwhile
	 * and our snapshot predates it: the caller asks again.
	 */
	[DB_TOKEN_KEY] = { "token_key", 1,
	    "WITH ins AS (INSERT INTO starterd_secrets (name, value) "
	    "VALUES ('token_key', decode($1, 'hex')) ON CONFLICT (name) "
	    "DO NOTHING RETURNING value) SELECT encode(value, 'hex') FROM ins "
	    "UNION ALL SELECT encode(value, 'hex') FROM starterd_secrets "
	    "WHERE name = 'token_key'" },
	/* auth.c: a stronger hash of the same password, if still current. */
	[DB_USER_REHASH] = { "user_rehash", 3,
	    "SELECT starterd_rehash($1::int, $2, $3)" },
};

char			 db_evtag;	/* the socket's tag in the loop */
static const struct db_hooks *db_hooks;
static struct db_queue	 db_done = TAILQ_HEAD_INITIALIZER(db_done);
static PGconn		*db_conn;
static char		*db_dsn;
static int		 db_worker;
static enum db_state	 db_st = DB_DOWN;
static int		 db_sock = -1;
static int		 db_want_write;
static int64_t		 db_retry_at;
static int64_t		 db_connect_deadline;
static int		 db_backoff = DB_BACKOFF_MIN_MS;
static struct db_queue	 db_sent = TAILQ_HEAD_INITIALIZER(db_sent);
static struct db_queue	 db_wait = TAILQ_HEAD_INITIALIZER(db_wait);
static int		 db_nqueued;
static int		 db_ever_connected;
static int		 db_logged_down;	/* said so once per outage */
static int		 db_unsynced;	/* queries sent since the last sync */
static int		 db_syncs;	/* sync points sent, not yet answered */
static int		 db_unsynced_writes;
static char		 db_tagged[REQID_MAX + 40];	/* c->dbtag in use */

/*
 * The resolver thread's one job; the mutex orders what the thread writes
 * before its eventfd post against what the loop reads after it.
 */
static struct {
	pthread_mutex_t	 mtx;
	int		 efd;		/* eventfd: an answer is posted */
	int		 busy;		/* loop side: a thread is running */
	int		 error;		/* getaddrinfo's, 0 */
	int		 naddrs;
	char		 addrs[DB_MAX_ADDRS * (INET6_ADDRSTRLEN + 1)];
} db_res = { PTHREAD_MUTEX_INITIALIZER, -1, 0, 0, 0, "" };
/*
 * Run-time statements (db_submit_sql): the SQL text is the identity; each
 * is prepared on a connection the first time it is used there (conn_gen
 * tells which connection it was), under the name its submitter gave
 * (e.g. "px_get": PostgreSQL's logs and pg_stat_activity show it) or
 * else "r<index>".  Bounded: past
 * DB_MAX_PSTMTS distinct texts a statement runs unnamed.
 */
static struct db_pstmt {
	uint64_t	 hash;
	char		 name[64];	/* as PostgreSQL's logs show it */
	char		*sql;
	int		 nparams;
	int		 write;
	unsigned int	 conn_gen;	/* prepared on this connection */
} db_pstmts[DB_MAX_PSTMTS];
static int		 db_npstmts;
static unsigned int	 db_conn_gen = 1;

static PQconninfoOption	*db_opts;	/* the parsed DSN, when resolving */
static char		 db_host[DB_HOST_MAX];	/* the name resolved, or "" */
static int		 db_resolving;	/* this attempt waits for the thread */

static void	db_connect(void);
static int	db_prepare(int);
static void	db_lost(const char *);

static void
db_query_free(struct db_query *q)
{
	int	i;

	for (i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	if (q->res != NULL)
		PQclear(q->res);
	free(q);
}

/* A query is over: post it for the loop (db_deliver). */
static void
db_complete(struct db_query *q)
{
	db_nqueued--;
	TAILQ_INSERT_TAIL(&db_done, q, entry);
}

int
db_has_done(void)
{
	return (!TAILQ_EMPTY(&db_done));
}

/*
 * The loop: hand every finished query to its callback, then wake its
 * client.  A callback may submit queries (they join the next batch) or
 * answer its client (the loop finishes the request).
 */
void
db_deliver(void)
{
	struct db_query	*q;
	struct client	*c;

	while ((q = TAILQ_FIRST(&db_done)) != NULL) {
		TAILQ_REMOVE(&db_done, q, entry);
		c = q->c != NULL ? client_release(q->c) : NULL;
		if (q->cb != NULL)
			q->cb(c, q->res, q->arg);
		else if (q->res != NULL &&
		    PQresultStatus(q->res) != PGRES_COMMAND_OK &&
		    PQresultStatus(q->res) != PGRES_TUPLES_OK)
			log_warnx("database setup: %s",
			    PQresultErrorMessage(q->res));
		client_wake(c);
		db_query_free(q);
	}
}

static void
db_watch(uint32_t events)
{
	int	fd = db_conn ? PQsocket(db_conn) : -1;

	if (fd != db_sock) {
		if (db_sock != -1)
			(void)event_watch(EPOLL_CTL_DEL, db_sock, 0, NULL);
		db_sock = fd;
		if (fd != -1)
			(void)event_watch(EPOLL_CTL_ADD, fd, events, &db_evtag);
		return;
	}
	if (fd != -1)
		(void)event_watch(EPOLL_CTL_MOD, fd, events, &db_evtag);
}

/* End the current batch: one sync point for what was sent since. */
static int
db_sync(void)
{
	if (db_unsynced == 0)
		return (0);
	db_unsynced = 0;
	db_unsynced_writes = 0;
	if (!PQpipelineSync(db_conn))
		return (-1);
	db_syncs++;
	return (0);
}

/* Put one query on the wire (pipeline mode); -1 if the link broke. */
static int
db_send(struct db_query *q)
{
	int	ok;

	if (q->tag)
		ok = PQsendQueryParams(db_conn, "SELECT set_config("
		    "'application_name', $1, false)", 1, NULL,
		    (const char *const *)q->params, NULL, NULL, 0);
	else if (q->stmt == DB_NSTMTS)
		ok = 1;		/* already sent by db_setup */
	else if (q->sql != NULL)
		ok = PQsendQueryParams(db_conn, q->sql, q->nparams, NULL,
		    (const char *const *)q->params, NULL, NULL, 0);
	else if (q->pstmt >= 0)
		ok = db_prepare(q->pstmt) == 0 &&
		    PQsendQueryPrepared(db_conn, db_pstmts[q->pstmt].name,
		    q->nparams, (const char *const *)q->params, NULL, NULL, 0);
	else
		ok = PQsendQueryPrepared(db_conn, db_stmts[q->stmt].name,
		    q->nparams, (const char *const *)q->params, NULL, NULL,
		    0);
	if (!ok)
		return (-1);
	TAILQ_INSERT_TAIL(&db_sent, q, entry);
	db_unsynced++;
	if (q->write)
		db_unsynced_writes++;
	if ((q->solo || db_unsynced >= DB_MAX_BATCH) && db_sync() == -1)
		return (-1);
	return (0);
}

static void
db_flush(void)
{
	int	rv;

	if ((rv = PQflush(db_conn)) == -1) {
		db_lost(PQerrorMessage(db_conn));
		return;
	}
	if ((rv == 1) != db_want_write) {
		db_want_write = rv == 1;
		db_watch(EPOLLIN | (db_want_write ? EPOLLOUT : 0));
	}
}

static struct db_query *
db_query_new(struct client *c, int stmt, db_cb cb, void *arg)
{
	struct db_query	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (NULL);
	q->c = c;
	q->stmt = stmt;
	q->pstmt = -1;
	q->prep = -1;
	q->cb = cb;
	q->arg = arg;
	return (q);
}

/* Queue an internal statement that is already written to libpq. */
static int
db_setup_entry(void)
{
	struct db_query	*q;

	if ((q = db_query_new(NULL, DB_NSTMTS, NULL, NULL)) == NULL)
		return (-1);
	q->solo = 1;
	db_nqueued++;
	if (db_send(q) == -1) {
		db_nqueued--;
		db_query_free(q);
		return (-1);
	}
	return (0);
}

/*
 * Prepare run-time statement i on this connection unless it is (or is
 * being): the Parse joins the current batch, just before its first use.
 * A failed prepare is forgotten by db_batch_done, so the next use tries
 * again.
 */
static int
db_prepare(int i)
{
	struct db_pstmt	*p = &db_pstmts[i];
	struct db_query	*q;

	if (p->conn_gen == db_conn_gen)
		return (0);
	if (!PQsendPrepare(db_conn, p->name, p->sql, p->nparams, NULL))
		return (-1);
	if ((q = db_query_new(NULL, DB_NSTMTS, NULL, NULL)) == NULL)
		return (-1);
	q->prep = i;
	db_nqueued++;
	p->conn_gen = db_conn_gen;
	TAILQ_INSERT_TAIL(&db_sent, q, entry);
	db_unsynced++;
	return (0);
}

/* Connected: enter pipeline mode, prepare, LISTEN, release the queue. */
static void
db_setup(void)
{
	struct db_query	*q;
	char		 timeout[16], *id, sql[128];
	const char	*p[1] = { timeout };
	int		 i, again;

	if (PQsetnonblocking(db_conn, 1) == -1 ||
	    !PQenterPipelineMode(db_conn)) {
		db_lost(PQerrorMessage(db_conn));
		return;
	}
	db_conn_gen++;
	snprintf(timeout, sizeof(timeout), "%d", conf->statement_timeout);
	/*
	 * Output that does not depend on the server's settings: ISO dates,
	 * timestamptz in UTC, floats in their shortest exact form (what the
	 * JSON representations carry: api_resource.c).
	 */
	if (!PQsendQueryParams(db_conn,
	    "SELECT set_config('statement_timeout', $1, false), "
	    "set_config('DateStyle', 'ISO, YMD', false), "
	    "set_config('TimeZone', 'UTC', false), "
	    "set_config('IntervalStyle', 'iso_8601', false), "
	    "set_config('extra_float_digits', '1', false)", 1, NULL, p,
	    NULL, NULL, 0) || db_setup_entry() == -1)
		goto fail;
	for (i = 0; db_hooks->channels[i] != NULL; i++) {
		if ((id = PQescapeIdentifier(db_conn, db_hooks->channels[i],
		    strlen(db_hooks->channels[i]))) == NULL)
			goto fail;
		snprintf(sql, sizeof(sql), "LISTEN %s", id);
		PQfreemem(id);
		if (!PQsendQueryParams(db_conn, sql, 0, NULL, NULL, NULL, NULL,
		    0) || db_setup_entry() == -1)
			goto fail;
	}
	for (i = 0; i < DB_NSTMTS; i++)
		if (!PQsendPrepare(db_conn, db_stmts[i].name, db_stmts[i].sql,
		    db_stmts[i].nparams, NULL) || db_setup_entry() == -1)
			goto fail;
	db_st = DB_READY;
	db_backoff = DB_BACKOFF_MIN_MS;
	db_tagged[0] = '\0';
	if ((again = db_ever_connected))
		log_info("database connection re-established");
	db_ever_connected = 1;
	db_logged_down = 0;
	db_hooks->up(again);
	while ((q = TAILQ_FIRST(&db_wait)) != NULL) {
		TAILQ_REMOVE(&db_wait, q, entry);
		if (db_send(q) == -1) {
			TAILQ_INSERT_HEAD(&db_wait, q, entry);
			goto fail;
		}
	}
	db_flush();
	return;
fail:
	db_lost(PQerrorMessage(db_conn));
}

/* Fail every query of a queue: the client gets NULL (-> 503). */
static void
db_fail_queue(struct db_queue *qu)
{
	struct db_query	*q;

	while ((q = TAILQ_FIRST(qu)) != NULL) {
		TAILQ_REMOVE(qu, q, entry);
		if (q->res != NULL) {
			PQclear(q->res);
			q->res = NULL;
		}
		db_complete(q);
	}
}

static void
db_lost(const char *why)
{
	char	msg[256];
	size_t	l;

	strlcpy(msg, why ? why : "", sizeof(msg));
	l = strlen(msg);
	while (l > 0 && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
		msg[--l] = '\0';
	/* libpq's hints come on their own lines: keep one log line. */
	for (l = 0; msg[l] != '\0'; l++)
		if (msg[l] == '\n' || msg[l] == '\t')
			msg[l] = ' ';
	if (db_st == DB_READY || !db_logged_down)
		log_warnx("database unavailable: %s", msg[0] ? msg :
		    "connection lost");
	db_logged_down = 1;
	if (db_sock != -1) {
		(void)event_watch(EPOLL_CTL_DEL, db_sock, 0, NULL);
		db_sock = -1;
	}
	if (db_conn != NULL) {
		PQfinish(db_conn);
		db_conn = NULL;
	}
	db_st = DB_DOWN;
	db_want_write = 0;
	db_unsynced = 0;
	db_unsynced_writes = 0;
	db_syncs = 0;
	db_retry_at = now_ms() + db_backoff;
	db_backoff = db_backoff * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS :
	    db_backoff * 2;
	db_fail_queue(&db_sent);
	db_fail_queue(&db_wait);
}

static void
db_connect_poll(void)
{
	switch (PQconnectPoll(db_conn)) {
	case PGRES_POLLING_READING:
		db_watch(EPOLLIN);
		break;
	case PGRES_POLLING_WRITING:
		db_watch(EPOLLOUT);
		break;
	case PGRES_POLLING_OK:
		db_watch(EPOLLIN);
		db_setup();
		break;
	case PGRES_POLLING_FAILED:
	default:
		db_lost(PQerrorMessage(db_conn));
		break;
	}
}

/*
 * Server notices and asynchronous errors ("terminating connection due to
 * administrator command") go through our log, tagged with the worker,
 * instead of libpq's default bare line on stderr.
 */
static void
db_notice(void *arg, const char *msg)
{
	char	line[512];
	size_t	l;

	(void)arg;
	strlcpy(line, msg, sizeof(line));
	l = strlen(line);
	while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
		line[--l] = '\0';
	log_info("postgres: %s", line);
}

/*
 * Start the connection.  addrs NULL: the DSN as given (libpq resolves
 * whatever it names); else the parsed DSN with host = db_host repeated
 * naddrs times and hostaddr = addrs, so libpq resolves nothing.
 */
static void
db_connect_start(const char *addrs, int naddrs)
{
	const char		*keys[DB_MAX_CONNOPTS + 4];
	const char		*vals[DB_MAX_CONNOPTS + 4];
	char			 appname[64];
	char			 hosts[DB_MAX_ADDRS * (DB_HOST_MAX + 1)];
	PQconninfoOption	*o;
	int			 n = 0, i;

	snprintf(appname, sizeof(appname), "starterd worker %d", db_worker);
	if (addrs == NULL) {
		keys[n] = "dbname";
		vals[n++] = db_dsn;
	} else {
		for (o = db_opts; o->keyword != NULL &&
		    n < DB_MAX_CONNOPTS; o++) {
			if (o->val == NULL || strcmp(o->keyword, "host") == 0 ||
			    strcmp(o->keyword, "hostaddr") == 0 ||
			    strcmp(o->keyword, "application_name") == 0)
				continue;
			keys[n] = o->keyword;
			vals[n++] = o->val;
		}
		hosts[0] = '\0';
		for (i = 0; i < naddrs; i++) {
			if (i > 0)
				strlcat(hosts, ",", sizeof(hosts));
			strlcat(hosts, db_host, sizeof(hosts));
		}
		keys[n] = "host";
		vals[n++] = hosts;
		keys[n] = "hostaddr";
		vals[n++] = addrs;
	}
	keys[n] = "application_name";
	vals[n++] = appname;
	keys[n] = NULL;
	vals[n] = NULL;
	/* expand_dbname: a connection string or URI in dbname is parsed. */
	db_conn = PQconnectStartParams(keys, vals, addrs == NULL);
	if (db_conn == NULL || PQstatus(db_conn) == CONNECTION_BAD) {
		db_lost(db_conn ? PQerrorMessage(db_conn) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(db_conn, db_notice, NULL);
	db_st = DB_CONNECTING;
	db_connect_deadline = now_ms() + DB_CONNECT_TIMEOUT_MS;
	db_connect_poll();
}

/* The thread: resolve db_host, post the addresses (or the error). */
static void *
db_resolve_thread(void *arg)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 list[sizeof(db_res.addrs)], a[INET6_ADDRSTRLEN + 16];
	uint64_t	 one = 1;
	int		 error, n = 0;

	(void)arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	list[0] = '\0';
	error = getaddrinfo(db_host, NULL, &hints, &res);
	for (ai = error == 0 ? res : NULL; ai != NULL && n < DB_MAX_ADDRS;
	    ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, a, sizeof(a),
		    NULL, 0, NI_NUMERICHOST) != 0 ||
		    strlen(list) + strlen(a) + 2 > sizeof(list))
			continue;
		if (n++ > 0)
			strlcat(list, ",", sizeof(list));
		strlcat(list, a, sizeof(list));
	}
	if (res != NULL)
		freeaddrinfo(res);
	if (error == 0 && n == 0)
		error = EAI_NONAME;
	pthread_mutex_lock(&db_res.mtx);
	db_res.error = error;
	db_res.naddrs = n;
	strlcpy(db_res.addrs, list, sizeof(db_res.addrs));
	pthread_mutex_unlock(&db_res.mtx);
	(void)write(db_res.efd, &one, sizeof(one));
	return (NULL);
}

/* Start a resolution unless one is running (its answer will do). */
static int
db_resolve_start(void)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	sigset_t	 all, old;
	int		 rv;

	if (db_res.busy)
		return (0);
	/* Signals are the loop's: the thread blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&t, &attr, db_resolve_thread, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0)
		return (-1);
	db_res.busy = 1;
	return (0);
}

/* The loop, through db_event: the resolver posted an answer?  1 if so. */
static int
db_resolve_done(void)
{
	char		 addrs[sizeof(db_res.addrs)], msg[DB_HOST_MAX + 128];
	uint64_t	 v;
	int		 error, n;

	if (read(db_res.efd, &v, sizeof(v)) != sizeof(v))
		return (0);
	db_res.busy = 0;
	pthread_mutex_lock(&db_res.mtx);
	error = db_res.error;
	n = db_res.naddrs;
	strlcpy(addrs, db_res.addrs, sizeof(addrs));
	pthread_mutex_unlock(&db_res.mtx);
	if (!db_resolving || db_st != DB_CONNECTING || db_conn != NULL)
		return (1);	/* that attempt was given up: drop it */
	db_resolving = 0;
	if (error != 0) {
		snprintf(msg, sizeof(msg), "could not translate host name "
		    "\"%s\": %s", db_host, gai_strerror(error));
		db_lost(msg);
		return (1);
	}
	log_debug("database host %s: %s", db_host, addrs);
	db_connect_start(addrs, n);
	return (1);
}

static void
db_connect(void)
{
	if (db_host[0] == '\0') {
		db_connect_start(NULL, 0);
		return;
	}
	db_st = DB_CONNECTING;
	db_connect_deadline = now_ms() + DB_CONNECT_TIMEOUT_MS;
	db_resolving = 1;
	if (db_resolve_start() == -1) {
		db_resolving = 0;
		db_lost("cannot start the host name resolver");
	}
}

/* A host that is one name: not an address, a socket directory, a list. */
static int
db_host_is_name(const char *h)
{
	struct in6_addr	a6;
	struct in_addr	a4;

	if (h == NULL || *h == '\0' || *h == '/' || *h == '@' ||
	    strchr(h, ',') != NULL || strlen(h) >= DB_HOST_MAX)
		return (0);
	if (inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1)
		return (0);
	return (1);
}

/* Whether (and what) to resolve off the loop; see the top comment. */
static void
db_resolve_init(void)
{
	PQconninfoOption	*o;
	const char		*host = NULL, *hostaddr = NULL;
	char			*err = NULL;
	int			 service = 0;

	if ((db_opts = PQconninfoParse(db_dsn, &err)) == NULL) {
		PQfreemem(err);		/* libpq will say it when connecting */
		return;
	}
	for (o = db_opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "service") == 0)
			service = 1;
	}
	if (host == NULL)
		host = getenv("PGHOST");
	if (hostaddr == NULL)
		hostaddr = getenv("PGHOSTADDR");
	if (service || (hostaddr != NULL && *hostaddr != '\0') ||
	    !db_host_is_name(host) ||
	    (db_res.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    event_watch(EPOLL_CTL_ADD, db_res.efd, EPOLLIN, &db_evtag) == -1) {
		if (db_res.efd != -1)
			close(db_res.efd);
		db_res.efd = -1;
		PQconninfoFree(db_opts);
		db_opts = NULL;
		return;
	}
	strlcpy(db_host, host, sizeof(db_host));
}

int
db_init(const char *dsn, int worker, const struct db_hooks *hooks)
{
	if ((db_dsn = strdup(dsn ? dsn : "")) == NULL)
		return (-1);
	db_worker = worker;
	db_hooks = hooks;
	db_resolve_init();
	db_connect();
	return (0);
}

static int
db_failed(const struct db_query *q)
{
	ExecStatusType	st;

	if (q->res == NULL)
		return (1);
	st = PQresultStatus(q->res);
	return (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK);
}

/*
 * A sync point arrived: the queries answered before it form the batch it
 * ends.  If all succeeded they are committed: complete them.  Otherwise
 * the batch was rolled back: complete only a statement that failed on its
 * own account and send the rest again, each alone.
 */
static void
db_batch_done(void)
{
	struct db_queue	 batch = TAILQ_HEAD_INITIALIZER(batch);
	struct db_query	*q, *bad[DB_MAX_BATCH];
	int		 nbad = 0, i;
	const char	*state;
	int		 n = 0, failed = 0;

	while ((q = TAILQ_FIRST(&db_sent)) != NULL && q->done) {
		TAILQ_REMOVE(&db_sent, q, entry);
		TAILQ_INSERT_TAIL(&batch, q, entry);
		n++;
		failed |= db_failed(q);
	}
	while ((q = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, q, entry);
		if (q->prep >= 0 && db_failed(q)) {
			db_pstmts[q->prep].conn_gen = 0;	/* again */
			/* Its own error, not a neighbour's abort. */
			if (nbad < DB_MAX_BATCH && q->res != NULL &&
			    PQresultStatus(q->res) == PGRES_FATAL_ERROR)
				bad[nbad++] = q;
		}
		/*
		 * Its statement could not be prepared: the Parse's error is
		 * its answer.  Sent again it would fail the same way, and
		 * again: a loop that never ends.
		 */
		for (i = 0; q->pstmt >= 0 && i < nbad; i++) {
			if (bad[i]->prep != q->pstmt)
				continue;
			if (q->res != NULL)
				PQclear(q->res);
			q->res = bad[i]->res != NULL ? bad[i]->res :
			    PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
			bad[i]->res = NULL;
			break;
		}
		if (i < nbad && q->pstmt >= 0) {
			db_complete(q);
			continue;
		}
		if (failed && n > 1 && db_conn != NULL && q->stmt != DB_NSTMTS) {
			state = db_sqlstate(q->res);
			/*
			 * Retry all but a statement that failed by itself:
			 * a constraint or serialization failure may have
			 * come from a neighbour in the batch, so it is
			 * retried too.
			 */
			if (q->res == NULL || PQresultStatus(q->res) !=
			    PGRES_FATAL_ERROR || strncmp(state, "23", 2) == 0 ||
			    strncmp(state, "40", 2) == 0) {
				if (q->res != NULL)
					PQclear(q->res);
				q->res = NULL;
				q->done = 0;
				q->solo = 1;
				if (db_send(q) == -1) {
					TAILQ_INSERT_TAIL(&db_wait, q, entry);
					db_lost(PQerrorMessage(db_conn));
					continue;
				}
				continue;
			}
		}
		db_complete(q);
	}
	if (db_conn != NULL)
		db_flush();
}

/* Read what the server sent; complete every query whose sync arrived. */
static void
db_read(void)
{
	struct db_query	*q;
	PGnotify	*n;
	PGresult	*res;

	if (!PQconsumeInput(db_conn)) {
		db_lost(PQerrorMessage(db_conn));
		return;
	}
	while ((n = PQnotifies(db_conn)) != NULL) {
		db_hooks->notify(n->relname, n->extra);
		PQfreemem(n);
	}
	/*
	 * Only results of batches whose sync point was sent can come: asking
	 * libpq for more (queries not yet synced) would never end.
	 */
	while (db_conn != NULL && db_syncs > 0 && !PQisBusy(db_conn)) {
		/* The query being answered: the first not yet done. */
		TAILQ_FOREACH(q, &db_sent, entry)
			if (!q->done)
				break;
		res = PQgetResult(db_conn);
		if (res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			db_syncs--;
			db_batch_done();
			continue;
		}
		if (q == NULL) {
			if (res == NULL)
				break;
			PQclear(res);	/* nothing expected: ignore */
			continue;
		}
		if (res == NULL) {
			q->done = 1;
			continue;
		}
		if (q->res == NULL)
			q->res = res;
		else
			PQclear(res);
	}
	if (db_conn != NULL && PQstatus(db_conn) == CONNECTION_BAD)
		db_lost(PQerrorMessage(db_conn));
}

void
db_event(uint32_t events)
{
	/* The eventfd shares the tag (the loop knows one for db.c). */
	if (db_res.busy && db_resolve_done())
		return;
	if (db_conn == NULL)
		return;
	if (db_st == DB_CONNECTING) {
		db_connect_poll();
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		db_read();
	if (db_conn != NULL && (events & EPOLLOUT))
		db_flush();
}

void
db_tick(int64_t now)
{
	if (db_st == DB_DOWN && now >= db_retry_at && db_conn == NULL)
		db_connect();
	else if (db_st == DB_CONNECTING && now >= db_connect_deadline) {
		if (db_resolving) {
			db_resolving = 0;
			db_lost("timed out resolving the host name");
		} else
			db_lost("timed out connecting");
	}
}

/*
 * Name the session after the request whose statements follow, so that
 * PostgreSQL's log lines (%a) and pg_stat_activity show its id: a
 * set_config() pipelined just before them, skipped when the session
 * already carries this id.  application_name keeps 63 bytes.
 */
static int
db_tag(struct client *c)
{
	struct db_query	*q;
	char		 name[64];

	if (c == NULL || c->dbtag[0] == '\0' ||
	    strcmp(c->dbtag, db_tagged) == 0)
		return (0);
	if ((q = db_query_new(NULL, DB_NSTMTS, NULL, NULL)) == NULL)
		return (-1);
	/* Truncated to what PostgreSQL keeps (NAMEDATALEN - 1). */
	snprintf(name, sizeof(name), "starterd worker %d req=", db_worker);
	strlcat(name, c->dbtag, sizeof(name));
	if ((q->params = calloc(1, sizeof(char *))) == NULL ||
	    (q->params[0] = strdup(name)) == NULL) {
		free(q->params);
		free(q);
		return (-1);
	}
	q->nparams = 1;
	q->tag = 1;
	db_nqueued++;
	strlcpy(db_tagged, c->dbtag, sizeof(db_tagged));
	if (db_st == DB_CONNECTING) {
		TAILQ_INSERT_TAIL(&db_wait, q, entry);
		return (0);
	}
	if (db_send(q) == -1) {
		TAILQ_INSERT_TAIL(&db_wait, q, entry);
		db_lost(PQerrorMessage(db_conn));
		return (-1);
	}
	return (0);
}

/* Queue q (parameters copied, NULL means SQL NULL) and send it. */
static int
db_enqueue(struct client *c, struct db_query *q, int nparams,
    const char *const *params)
{
	int	i;

	if (nparams > 0 &&
	    (q->params = calloc((size_t)nparams, sizeof(char *))) == NULL) {
		db_query_free(q);
		return (-1);
	}
	for (i = 0; i < nparams; i++) {
		if (params[i] == NULL)
			continue;
		if ((q->params[i] = strdup(params[i])) == NULL) {
			q->nparams = i;
			db_query_free(q);
			return (-1);
		}
	}
	q->nparams = nparams;
	if (c != NULL)
		client_hold(c);
	db_nqueued++;
	if (db_st == DB_CONNECTING) {
		TAILQ_INSERT_TAIL(&db_wait, q, entry);
		return (0);
	}
	if (db_send(q) == -1) {
		/* q is not queued yet: fail it through the queue. */
		TAILQ_INSERT_TAIL(&db_wait, q, entry);
		db_lost(PQerrorMessage(db_conn));
		return (0);
	}
	return (0);
}

/*
 * Run a prepared statement for c.  Parameters are copied (NULL means SQL
 * NULL).  Returns -1 when the database is down: answer 503 now.
 */
int
db_submit(struct client *c, enum db_stmt stmt, int nparams,
    const char *const *params, db_cb cb, void *arg)
{
	struct db_query	*q;

	if (db_st == DB_DOWN || db_nqueued >= DB_MAX_QUEUED ||
	    nparams > DB_MAX_PARAMS || db_tag(c) == -1)
		return (-1);
	if ((q = db_query_new(c, stmt, cb, arg)) == NULL)
		return (-1);
	q->write = stmt != DB_USER_BY_NAME && stmt != DB_PING &&
	    stmt != DB_USER_TOKEN_VER;
	return (db_enqueue(c, q, nparams, params));
}

static uint64_t
db_hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (h);
}

/*
 * The run-time statement of this text, registered if there is room, named
 * name unless that is taken (or NULL, or not a plain name).
 */
static int
db_pstmt_find(const char *sql, const char *name, int nparams, int write)
{
	struct db_pstmt	*p;
	uint64_t	 h = db_hash(sql);
	int		 i, taken = name == NULL || *name == '\0' ||
			    strlen(name) >= sizeof(p->name) ||
			    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_")
			    != strlen(name) || (name[0] == 'r' &&
			    strspn(name + 1, "0123456789") == strlen(name + 1));

	for (i = 0; i < db_npstmts; i++) {
		if (db_pstmts[i].hash == h && db_pstmts[i].nparams ==
		    nparams && strcmp(db_pstmts[i].sql, sql) == 0)
			return (i);
		if (!taken && strcmp(db_pstmts[i].name, name) == 0)
			taken = 1;
	}
	if (db_npstmts == DB_MAX_PSTMTS ||
	    (db_pstmts[db_npstmts].sql = strdup(sql)) == NULL)
		return (-1);
	p = &db_pstmts[db_npstmts];
	if (taken)
		snprintf(p->name, sizeof(p->name), "r%d", db_npstmts);
	else
		strlcpy(p->name, name, sizeof(p->name));
	db_pstmts[db_npstmts].hash = h;
	db_pstmts[db_npstmts].nparams = nparams;
	db_pstmts[db_npstmts].write = write;
	db_pstmts[db_npstmts].conn_gen = 0;
	return (db_npstmts++);
}

/*
 * Run a statement written at run time (the resources' SQL; identifiers
 * in it quoted by their writer, values always parameters).  Prepared on
 * first use on each connection; see db_pstmts.
 */
int
db_submit_sql(struct client *c, const char *sql, const char *name, int write,
    int nparams, const char *const *params, db_cb cb, void *arg)
{
	struct db_query	*q;

	if (db_st == DB_DOWN || db_nqueued >= DB_MAX_QUEUED ||
	    nparams > DB_MAX_PARAMS || db_tag(c) == -1)
		return (-1);
	if ((q = db_query_new(c, DB_NSTMTS + 1, cb, arg)) == NULL)
		return (-1);
	if ((q->pstmt = db_pstmt_find(sql, name, nparams, write)) == -1 &&
	    (q->sql = strdup(sql)) == NULL) {
		db_query_free(q);
		return (-1);
	}
	q->write = write;
	return (db_enqueue(c, q, nparams, params));
}

PGconn *
db_conn_handle(void)
{
	return (db_st == DB_READY ? db_conn : NULL);
}

/*
 * The end of a turn of the event loop: close the batch of queries sent
 * during it with one sync point, and push it to the server.
 */
void
db_loop_end(void)
{
	if (db_st != DB_READY || db_conn == NULL)
		return;
	/*
	 * Writes wait while a batch is in flight: its answer comes within a
	 * round trip, and everything that arrived meanwhile then commits
	 * together.  Under load batches grow by themselves; alone, a write
	 * is sent at once.  (Reads are answered from the cache mostly; the
	 * ones sharing a held batch wait the same round trip.)
	 */
	if (db_unsynced_writes > 0 && db_syncs > 0 &&
	    db_unsynced < DB_MAX_BATCH)
		return;
	if (db_sync() == -1) {
		db_lost(PQerrorMessage(db_conn));
		return;
	}
	db_flush();
}

enum db_state
db_status(void)
{
	return (db_st);
}

/* Seconds a client should wait before retrying (Retry-After). */
int
db_retry_after(void)
{
	int64_t	left = db_retry_at - now_ms();

	if (left < 1000)
		return (1);
	return ((int)((left + 999) / 1000));
}

const char *
db_sqlstate(PGresult *res)
{
	const char	*s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) :
	    NULL;

	return (s ? s : "");
}

void
db_shutdown(void)
{
	if (db_conn != NULL) {
		PQfinish(db_conn);
		db_conn = NULL;
	}
	/* A resolver thread still running reads db_host: keep it. */
	if (db_opts != NULL && !db_res.busy) {
		PQconninfoFree(db_opts);
		db_opts = NULL;
	}
}
