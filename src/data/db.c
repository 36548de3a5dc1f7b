/*
 * db.c: the worker's PostgreSQL connections, asynchronous end to end.
 *
 * A worker holds up to three links (struct db_link), each its own libpq
 * connection with its own state, queues, back-off and resolver:
 *
 *	primary	--dsn: writes, credentials and tokens (they must be fresh:
 *		a changed password or a revoked token takes effect at once),
 *		group membership, the catalog, and LISTEN unless there is a
 *		listen link.  May be a multi-host string with
 *		target_session_attrs=read-write: libpq finds the primary
 *		again on each connection attempt.
 *	read	--read-dsn: the reads a caller marks DB_SQL_REPLICA (the
 *		resources' GET and HEAD).  While it is not up they go to the
 *		primary, and a read in flight when it is lost is sent again
 *		to the primary: losing a replica never fails a read.
 *	listen	--listen-dsn: LISTEN only, a direct connection for when the
 *		primary link goes through a transaction-mode pooler.
 *
 * libpq runs in non-blocking pipeline mode: every query is sent at once
 * and results come back in order.  The sockets sit in the worker's epoll
 * set; a query costs no thread and no wait.
 *
 * Group commit: the queries submitted during one turn of the event loop
 * share one sync point per link (db_loop_end), so they run as one
 * implicit transaction and many clients' writes cost one WAL flush
 * instead of one each.  No answer is given before its batch's sync
 * arrives, i.e. before the commit.  If any statement of a batch fails,
 * the whole batch was rolled back: every query of it is sent again on its
 * own ("solo", with its own sync), so one client's error never becomes
 * another's, and a statement that failed for its own reasons (bad data,
 * timeout) is not run twice.
 *
 * Positions in the primary's WAL (LSNs) make reads from replicas safe:
 *   - a batch with writes is followed, in the next sync group (after the
 *     commit: statements between two syncs share one transaction), by
 *     SELECT pg_current_wal_insert_lsn(), and the batch's writes are
 *     answered only with it (db_result_lsn: X-Starterd-LSN).  The insert
 *     position rather than pg_current_wal_lsn(), the write position:
 *     with synchronous_commit off the commit record may not be written
 *     out yet, and a replica that replayed up to the write position
 *     could still miss it;
 *   - every batch of the read link starts with its replay position
 *     (pg_last_wal_replay_lsn()), so a read's data is known to be at
 *     least that new; the last one seen routes reads that carry an LSN
 *     (db_replica_ok), with no round trip of their own;
 *   - the listening link answers a probe (the insert position again)
 *     after notifications arrive and on demand: every notification of a
 *     transaction that committed before the probe ran has been delivered
 *     before the probe's ReadyForQuery (PostgreSQL sends pending
 *     notifications before ReadyForQuery), so the hooks hear "all
 *     changes before V are known" (db_hooks.synced).  When that link
 *     is the primary, the commit position after its writes is such a
 *     probe too (db_covers): a NOTIFY parsed before that result needs
 *     none of its own, so a stream of writes costs no extra statement.
 *
 * States: DB_CONNECTING (PQconnectPoll driven by the loop; queries are
 * queued, bounded), DB_READY, DB_DOWN (queries fail at once so clients get
 * 503; a retry is due at retry_at, with exponential back-off up to half a
 * second, so a promoted replica serves within a second of its promotion).
 * A new connection counts as up (hooks, log, back-off, db_status) only
 * once the server answered its first setup statement, within the connect
 * timeout (db_confirm): a pooler logs us in whether or not the database
 * behind it is there.
 * A statement that finds the primary read-only (SQLSTATE 25006: a demoted
 * node) or shutting down (57P01-57P03) drops that connection: its client
 * gets 503 and libpq looks for the primary again.
 *
 * Completions are posted, not called: a finished query goes on a done
 * list, and the loop hands it to its callback (db_deliver) once db.c is
 * out of its reading; the client is woken after the callback.  So nothing
 * here runs a client's state machine, and a callback may submit queries.
 *
 * What the connections see is reported through hooks that the worker
 * installs (struct db_hooks): a link is up (again), a NOTIFY arrived on
 * one of the channels LISTENed on, a probe answered.  db.c knows nothing
 * of what they mean (data/channels.c routes them).
 *
 * --prepare unnamed runs every statement unnamed (PQsendQueryParams):
 * PgBouncer 1.18 in transaction mode has no protocol-level prepared
 * statements.  Session settings do not follow a pooled connection either
 * (see starterd(8), PGBOUNCER).
 *
 * Host names are resolved off the loop.  libpq would resolve a DSN's host
 * name synchronously inside PQconnectStartParams, so a slow resolver (the
 * database's container gone, its DNS name with it) would stall every
 * client of the worker.  db_init parses each DSN (PQconninfoParse, then
 * PGHOST/PGHOSTADDR as libpq would); when the host is one name, neither
 * an address nor a socket directory, and no hostaddr is given, each
 * connection attempt first resolves it with getaddrinfo on a detached
 * thread, one at a time per link.  The thread posts its answer through an
 * eventfd watched under the link's tag (so the loop calls db_event, which
 * looks at the eventfd only while a resolution is in flight), and the
 * connection is then started with hostaddr set to every address found,
 * the name repeated in host for each (libpq tries them in order, as it
 * would its own lookup's, and keeps the name for TLS and its messages).
 * The wait is bounded by the connect timeout: past it the attempt fails
 * (503s, retried with back-off) and a late answer is used by the next
 * attempt or dropped.  Host lists, service files and a given hostaddr are
 * left to libpq as they were.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "starterd.h"

/* The most a statement takes: a collection's page at the query language's
   bounds (16 filters of 100 values...); a write takes fewer. */
#define DB_MAX_PARAMS		QUERY_MAX_PARAMS
#define DB_MAX_PSTMTS		256	/* run-time statements prepared */
#define DB_MAX_QUEUED		4096
#define DB_CONNECT_TIMEOUT_MS	5000
#define DB_BACKOFF_MIN_MS	100
#define DB_BACKOFF_MAX_MS	500	/* back within 1 s of the database */
#define DB_MAX_BATCH		64	/* queries per sync point */
#define DB_MAX_ADDRS		8	/* addresses of a resolved host */
#define DB_MAX_CONNOPTS		80	/* libpq connection options */
#define DB_HOST_MAX		256
#define DB_PROBE_IDLE_MS	1000	/* a position at least this often */

/* Internal statements' SQL (see the top comment). */
#define DB_SQL_LSN	"SELECT pg_current_wal_insert_lsn()"
/*
 * The listening link's probe for a read that waits on a position: a WAL
 * record of its own (non-transactional, no commit, no flush wait) whose
 * end is past every position reached before the probe ran, so that the
 * answer can be strictly past a write's position even when nothing else
 * writes (pg_current_wal_insert_lsn() would then return that very
 * position, and a read carrying it could never be answered from the
 * cache).
 */
#define DB_SQL_LSN_ADVANCE \
	"SELECT pg_logical_emit_message(false, 'starterd', '')"
#define DB_SQL_REPLAY	"SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()"

/*
 * The internal statements sent on every batch with writes (the commit
 * position) or of the read link (its replay position), prepared like
 * db_stmts[] (after them in that table) on every link, so that the
 * server parses and plans them once per connection, not once per batch.
 */
#define DB_STMT_LSN	DB_NSTMTS
#define DB_STMT_REPLAY	(DB_NSTMTS + 1)
#define DB_NFIXED	(DB_NSTMTS + 2)

enum db_kind {
	DBK_DATA = 0,		/* a caller's */
	DBK_SETUP,		/* connection setup: the answer is dropped */
	DBK_LSN,		/* the commit position of the writes before */
	DBK_REPLAY,		/* the read link's replay position */
	DBK_SYNC		/* the listening link's probe */
};

struct db_query {
	TAILQ_ENTRY(db_query)	 entry;
	struct client		*c;
	int			 stmt;	/* DB_NSTMTS: internal; above: run-time */
	enum db_kind		 kind;
	db_cb			 cb;
	void			*arg;
	int			 nparams;
	char			**params;
	int			 pstmt;	/* run-time statement, or -1 */
	char			*sql;	/* run unnamed, or NULL */
	int			 prep;	/* this entry prepares pstmt prep */
	int			 fixed;	/* this setup entry prepares db_stmts[] */
	PGresult		*res;
	int			 done;	/* got the NULL after the result */
	int			 solo;	/* own sync point: never batched */
	int			 write;	/* changes data: commits */
	int			 replica;	/* may run on the read link */
	int			 tag;	/* set application_name to params[0] */
	int			 covers;	/* a position that counts as a probe */
	uint64_t		 lsn;	/* see db_result_lsn */
};
TAILQ_HEAD(db_queue, db_query);

/* The resolver thread's one job (see the top comment), per link. */
struct db_resolver {
	pthread_mutex_t	 mtx;
	int		 efd;		/* eventfd: an answer is posted */
	int		 busy;		/* loop side: a thread is running */
	int		 error;		/* getaddrinfo's, 0 */
	int		 naddrs;
	char		 addrs[DB_MAX_ADDRS * (INET6_ADDRSTRLEN + 1)];
	char		 host[DB_HOST_MAX];	/* the name resolved, or "" */
};

struct db_link {
	int		 id;		/* DB_PRIMARY, DB_READ, DB_LISTEN */
	const char	*what;		/* for the log */
	char		*dsn;		/* NULL: this link is not used */
	int		 listens;	/* LISTENs on the hooks' channels */
	PGconn		*conn;
	enum db_state	 st;
	int		 sock;
	int		 want_write;
	int64_t		 retry_at;
	int64_t		 connect_deadline;
	int		 backoff;
	struct db_queue	 sent;
	struct db_queue	 wait;
	struct db_queue	 lsnwait;	/* committed, waiting for DBK_LSN */
	int		 nqueued;
	int		 ever_connected;
	int		 up;		/* its setup answered: hooks told */
	int		 logged_down;	/* said so once per outage */
	int		 ping_wanted;	/* primary: is it still there? */
	int		 unsynced;	/* queries sent since the last sync */
	int		 syncs;		/* sync points sent, not yet answered */
	int		 unsynced_writes;
	int		 probed;	/* read link: this batch has one */
	int		 drop;		/* a demoted or stopping server */
	char		 droperr[128];
	char		 tagged[REQID_MAX + 40];	/* c->dbtag in use */
	unsigned int	 gen;		/* this connection's generation */
	/* positions */
	uint64_t	 replay;	/* read link: last replay position */
	int		 noprobe;	/* the replay probe failed: none */
	int		 probe_wanted;
	int		 notified;	/* listen: NOTIFYs since the last probe */
	int		 covering;	/* positions in flight that will cover them */
	int		 probing;	/* a probe is in flight */
	int64_t		 probe_at;	/* last probe sent */
	/*
	 * The fixed statements this connection could not prepare (the schema
	 * lacked what they need when it came up: a database adopted before
	 * its migrations, or started before starterctl initdb): run unnamed,
	 * so that they work as soon as the schema does.
	 */
	unsigned char	 unprepared[DB_NFIXED];
	int		 advance_wanted;	/* listen: DB_SQL_LSN_ADVANCE */
	int		 advancing;	/* the probe in flight is one */
	int		 noadvance;	/* it failed: plain probes only */
	/* resolving */
	PQconninfoOption *opts;		/* the parsed DSN, when resolving */
	int		 resolving;	/* this attempt waits for the thread */
	struct db_resolver res;
};

static const struct {
	const char	*name;
	int		 nparams;
	const char	*sql;
} db_stmts[DB_NFIXED] = {
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
	/* Internal (db_internal_fixed). */
	[DB_STMT_LSN] = { "starterd_position", 0, DB_SQL_LSN },
	[DB_STMT_REPLAY] = { "starterd_replay", 0, DB_SQL_REPLAY },
};

char			 db_evtag[DB_NLINKS];	/* the sockets' tags */
static const struct db_hooks *db_hooks;
static struct db_queue	 db_done = TAILQ_HEAD_INITIALIZER(db_done);
static int		 db_worker;
static int		 db_unnamed;		/* --prepare unnamed */
static struct db_link	 db_links[DB_NLINKS];
static struct db_link	*db_listener;		/* the link that LISTENs */
static const struct db_query *db_current;	/* its callback is running */
static unsigned int	 db_gen_next = 1;

#define DB_P	(&db_links[DB_PRIMARY])

/*
 * Run-time statements (db_submit_sql): the SQL text is the identity; each
 * is prepared on a connection the first time it is used there (conn_gen
 * tells which connection it was, per link), under the name its submitter
 * gave (e.g. "px_get": PostgreSQL's logs and pg_stat_activity show it) or
 * else "r<index>".  Bounded: past DB_MAX_PSTMTS distinct texts a
 * statement runs unnamed.
 */
static struct db_pstmt {
	uint64_t	 hash;
	char		 name[64];	/* as PostgreSQL's logs show it */
	char		*sql;
	int		 nparams;
	int		 write;
	unsigned int	 conn_gen[DB_NLINKS];	/* prepared on this one */
} db_pstmts[DB_MAX_PSTMTS];
static int		 db_npstmts;

static void	db_connect(struct db_link *);
static int	db_held(const struct db_link *);
static int	db_prepare(struct db_link *, int);
static void	db_lost(struct db_link *, const char *);
static void	db_drain_notifies(struct db_link *);
static int	db_send(struct db_link *, struct db_query *);

/*
 * --prepare unnamed is for PgBouncer 1.18 in transaction mode, which
 * releases the server at a ReadyForQuery even while more of the client's
 * pipeline is in flight, and then answers out of step: there, a link
 * keeps one sync group in flight, and what comes meanwhile waits for it
 * (the next group: group commit still batches it).
 */
static int
db_held(const struct db_link *l)
{
	return (db_unnamed && l->syncs > 0);
}

/*
 * Copy n parameters (NULL: SQL NULL) into q as one allocation: the
 * pointers, then the strings they point to.  -1 when out of memory.
 */
static int
db_params_copy(struct db_query *q, int n, const char *const *params)
{
	size_t	 len, total = 0;
	char	*p;
	int	 i;

	if (n <= 0)
		return (0);
	for (i = 0; i < n; i++)
		if (params[i] != NULL)
			total += strlen(params[i]) + 1;
	if ((q->params = malloc((size_t)n * sizeof(char *) + total)) == NULL)
		return (-1);
	p = (char *)(q->params + n);
	for (i = 0; i < n; i++) {
		if (params[i] == NULL) {
			q->params[i] = NULL;
			continue;
		}
		len = strlen(params[i]) + 1;
		memcpy(p, params[i], len);
		q->params[i] = p;
		p += len;
	}
	q->nparams = n;
	return (0);
}

static void
db_query_free(struct db_query *q)
{
	free(q->params);	/* db_params_copy: one block */
	free(q->sql);
	if (q->res != NULL)
		PQclear(q->res);
	free(q);
}

/* A query is over: post it for the loop (db_deliver). */
static void
db_complete(struct db_link *l, struct db_query *q)
{
	l->nqueued--;
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
		db_current = q;
		if (q->cb != NULL)
			q->cb(c, q->res, q->arg);
		else if (q->kind == DBK_SETUP && q->res != NULL &&
		    q->fixed < 0 &&	/* those: db_batch_done said it */
		    PQresultStatus(q->res) != PGRES_COMMAND_OK &&
		    PQresultStatus(q->res) != PGRES_TUPLES_OK &&
		    PQresultStatus(q->res) != PGRES_PIPELINE_ABORTED)
			log_warnx("database setup: %s",
			    PQresultErrorMessage(q->res));
		db_current = NULL;
		client_wake(c);
		db_query_free(q);
	}
}

/*
 * In a callback: a write's commit position (0: unknown); a read's data is
 * at least as new as this position of the primary's WAL (DB_LSN_FRESH:
 * read on a primary, as new as the query itself).
 */
uint64_t
db_result_lsn(void)
{
	return (db_current != NULL ? db_current->lsn : 0);
}

static void
db_watch(struct db_link *l, uint32_t events)
{
	int	fd = l->conn ? PQsocket(l->conn) : -1;

	if (fd != l->sock) {
		if (l->sock != -1)
			(void)event_watch(EPOLL_CTL_DEL, l->sock, 0, NULL);
		l->sock = fd;
		if (fd != -1)
			(void)event_watch(EPOLL_CTL_ADD, fd, events,
			    &db_evtag[l->id]);
		return;
	}
	if (fd != -1)
		(void)event_watch(EPOLL_CTL_MOD, fd, events, &db_evtag[l->id]);
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
	q->fixed = -1;
	q->cb = cb;
	q->arg = arg;
	return (q);
}

/* Queue an internal statement just written to libpq (kind k). */
static int
db_internal_entry(struct db_link *l, enum db_kind k)
{
	struct db_query	*q;

	if ((q = db_query_new(NULL, DB_NSTMTS, NULL, NULL)) == NULL)
		return (-1);
	q->kind = k;
	l->nqueued++;
	TAILQ_INSERT_TAIL(&l->sent, q, entry);
	l->unsynced++;
	return (0);
}

/* Send an internal statement (no parameters) into the current batch. */
static int
db_internal(struct db_link *l, const char *sql, enum db_kind k)
{
	if (!PQsendQueryParams(l->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		return (-1);
	return (db_internal_entry(l, k));
}

/* The same, for an internal statement of db_stmts[] (DB_STMT_*). */
static int
db_internal_fixed(struct db_link *l, int i, enum db_kind k)
{
	if (db_unnamed || l->unprepared[i])
		return (db_internal(l, db_stmts[i].sql, k));
	if (!PQsendQueryPrepared(l->conn, db_stmts[i].name, 0, NULL, NULL,
	    NULL, 0))
		return (-1);
	return (db_internal_entry(l, k));
}

/* A sync point: what was sent since the last one is a group. */
static int
db_pipeline_sync(struct db_link *l)
{
	l->unsynced = 0;
	l->probed = 0;
	if (!PQpipelineSync(l->conn))
		return (-1);
	l->syncs++;
	return (0);
}

/*
 * A position statement just queued is read on the listening link: its
 * answer counts as a probe (db_covered), so NOTIFYs that arrive before it
 * need no probe of their own.
 */
static void
db_covers(struct db_link *l)
{
	if (l->listens) {
		TAILQ_LAST(&l->sent, db_queue)->covers = 1;
		l->covering++;
	}
}

/* The commit position of the writes before it, in a group of its own. */
static int
db_send_position(struct db_link *l)
{
	if (db_internal_fixed(l, DB_STMT_LSN, DBK_LSN) == -1)
		return (-1);
	db_covers(l);
	return (db_pipeline_sync(l));
}

/*
 * End the current batch: one sync point for what was sent since.  After
 * writes, their commit position, in a sync group of its own.
 */
static int
db_sync(struct db_link *l)
{
	int	writes = l->unsynced_writes;

	if (l->unsynced == 0)
		return (0);
	l->unsynced_writes = 0;
	if (db_pipeline_sync(l) == -1)
		return (-1);
	if (writes == 0 || db_unnamed)	/* pooled: db_release sends it */
		return (0);
	return (db_send_position(l));
}

/* Put one query on the wire (pipeline mode); -1 if the link broke. */
static int
db_send(struct db_link *l, struct db_query *q)
{
	const char	*sql;
	int		 ok;

	/* A replica's batch starts with its replay position. */
	if (l->id == DB_READ && !l->probed && !l->noprobe &&
	    q->kind == DBK_DATA && q->stmt != DB_NSTMTS) {
		if (db_internal_fixed(l, DB_STMT_REPLAY, DBK_REPLAY) == -1)
			return (-1);
		l->probed = 1;
		l->probe_at = now_ms();
	}
	if (q->tag)
		ok = PQsendQueryParams(l->conn, "SELECT set_config("
		    "'application_name', $1, false)", 1, NULL,
		    (const char *const *)q->params, NULL, NULL, 0);
	else if (q->stmt == DB_NSTMTS)
		ok = 1;		/* already sent by db_setup */
	else if (q->sql != NULL)
		ok = PQsendQueryParams(l->conn, q->sql, q->nparams, NULL,
		    (const char *const *)q->params, NULL, NULL, 0);
	else if (q->pstmt >= 0 && db_unnamed)
		ok = PQsendQueryParams(l->conn, db_pstmts[q->pstmt].sql,
		    q->nparams, NULL, (const char *const *)q->params, NULL,
		    NULL, 0);
	else if (q->pstmt >= 0)
		ok = db_prepare(l, q->pstmt) == 0 &&
		    PQsendQueryPrepared(l->conn, db_pstmts[q->pstmt].name,
		    q->nparams, (const char *const *)q->params, NULL, NULL, 0);
	else if (db_unnamed || l->unprepared[q->stmt]) {
		sql = db_stmts[q->stmt].sql;
		ok = PQsendQueryParams(l->conn, sql, q->nparams, NULL,
		    (const char *const *)q->params, NULL, NULL, 0);
	} else
		ok = PQsendQueryPrepared(l->conn, db_stmts[q->stmt].name,
		    q->nparams, (const char *const *)q->params, NULL, NULL,
		    0);
	if (!ok)
		return (-1);
	TAILQ_INSERT_TAIL(&l->sent, q, entry);
	l->unsynced++;
	if (q->write)
		l->unsynced_writes++;
	if ((q->solo || l->unsynced >= DB_MAX_BATCH) && db_sync(l) == -1)
		return (-1);
	return (0);
}

static void
db_flush(struct db_link *l)
{
	int	rv;

	if ((rv = PQflush(l->conn)) == -1) {
		db_lost(l, PQerrorMessage(l->conn));
		return;
	}
	if ((rv == 1) != l->want_write) {
		l->want_write = rv == 1;
		db_watch(l, EPOLLIN | (l->want_write ? EPOLLOUT : 0));
	}
}

/* Queue an internal statement that is already written to libpq. */
static int
db_setup_entry(struct db_link *l)
{
	if (db_internal_entry(l, DBK_SETUP) == -1)
		return (-1);
	if (db_unnamed)
		return (0);	/* pooled: one group, synced by the loop */
	/* Its own sync point, as before: a setup step never batches. */
	return (db_pipeline_sync(l));
}

/*
 * Prepare run-time statement i on this connection unless it is (or is
 * being): the Parse joins the current batch, just before its first use.
 * A failed prepare is forgotten by db_batch_done, so the next use tries
 * again.
 */
static int
db_prepare(struct db_link *l, int i)
{
	struct db_pstmt	*p = &db_pstmts[i];
	struct db_query	*q;

	if (p->conn_gen[l->id] == l->gen)
		return (0);
	if (!PQsendPrepare(l->conn, p->name, p->sql, p->nparams, NULL))
		return (-1);
	if ((q = db_query_new(NULL, DB_NSTMTS, NULL, NULL)) == NULL)
		return (-1);
	q->prep = i;
	q->kind = DBK_SETUP;
	l->nqueued++;
	p->conn_gen[l->id] = l->gen;
	TAILQ_INSERT_TAIL(&l->sent, q, entry);
	l->unsynced++;
	return (0);
}

/*
 * Send what waits (connecting, or held: db_held), and in pooled mode the
 * commit position of the writes answered last, in a group of its own.
 * -1 if the link broke (what was not sent is still waiting).
 */
static int
db_release(struct db_link *l)
{
	struct db_query	*q;

	if (db_unnamed && !db_held(l) && !TAILQ_EMPTY(&l->lsnwait) &&
	    db_send_position(l) == -1)
		return (-1);
	while (!db_held(l) && (q = TAILQ_FIRST(&l->wait)) != NULL) {
		TAILQ_REMOVE(&l->wait, q, entry);
		if (db_send(l, q) == -1) {
			TAILQ_INSERT_HEAD(&l->wait, q, entry);
			return (-1);
		}
	}
	return (0);
}

/* Connected: enter pipeline mode, prepare, LISTEN, release the queue. */
static void
db_setup(struct db_link *l)
{
	char		 timeout[16], *id, sql[128];
	const char	*p[1] = { timeout };
	int		 i;

	if (PQsetnonblocking(l->conn, 1) == -1 ||
	    !PQenterPipelineMode(l->conn)) {
		db_lost(l, PQerrorMessage(l->conn));
		return;
	}
	l->gen = db_gen_next++;
	l->replay = 0;
	l->noprobe = 0;
	l->probing = 0;
	l->notified = 0;
	l->covering = 0;
	l->drop = 0;
	snprintf(timeout, sizeof(timeout), "%d", conf->statement_timeout);
	/*
	 * Output that does not depend on the server's settings: ISO dates,
	 * timestamptz in UTC, floats in their shortest exact form (what the
	 * JSON representations carry: api_resource.c).
	 */
	if (!PQsendQueryParams(l->conn,
	    "SELECT set_config('statement_timeout', $1, false), "
	    "set_config('DateStyle', 'ISO, YMD', false), "
	    "set_config('TimeZone', 'UTC', false), "
	    "set_config('IntervalStyle', 'iso_8601', false), "
	    "set_config('extra_float_digits', '1', false)", 1, NULL, p,
	    NULL, NULL, 0) || db_setup_entry(l) == -1)
		goto fail;
	for (i = 0; l->listens && db_hooks->channels[i] != NULL; i++) {
		if ((id = PQescapeIdentifier(l->conn, db_hooks->channels[i],
		    strlen(db_hooks->channels[i]))) == NULL)
			goto fail;
		snprintf(sql, sizeof(sql), "LISTEN %s", id);
		PQfreemem(id);
		if (!PQsendQueryParams(l->conn, sql, 0, NULL, NULL, NULL, NULL,
		    0) || db_setup_entry(l) == -1)
			goto fail;
	}
	memset(l->unprepared, 0, sizeof(l->unprepared));
	for (i = 0; !db_unnamed && i < DB_NFIXED; i++) {
		if (l->id == DB_LISTEN && i < DB_NSTMTS)
			continue;	/* only the internal ones there */
		if (!PQsendPrepare(l->conn, db_stmts[i].name, db_stmts[i].sql,
		    db_stmts[i].nparams, NULL) || db_setup_entry(l) == -1)
			goto fail;
		TAILQ_LAST(&l->sent, db_queue)->fixed = i;
	}
	l->st = DB_READY;
	l->tagged[0] = '\0';
	/* The first position after LISTEN: what was missed is before it. */
	if (l->listens)
		l->probe_wanted = 1;
	if (db_release(l) == -1)
		goto fail;
	db_flush(l);
	return;
fail:
	db_lost(l, PQerrorMessage(l->conn));
}

/*
 * The server answered the connection's first setup statement: it is up.
 * Not before: a pooler (PgBouncer) accepts the login by itself, from its
 * cache, while the database behind it is down, and fails the first
 * statement; counted as up, every back-off turn would be a reconnect
 * (logged, counted, the back-off reset) and db_status would say ready.
 */
static void
db_confirm(struct db_link *l)
{
	int	again;

	l->up = 1;
	l->backoff = DB_BACKOFF_MIN_MS;
	if ((again = l->ever_connected))
		log_info("database connection re-established%s%s",
		    l->id == DB_PRIMARY ? "" : ": ", l->id == DB_PRIMARY ? "" :
		    l->what);
	l->ever_connected = 1;
	l->logged_down = 0;
	db_hooks->up(l->id, again);
}

/* Fail every query of a queue: the client gets NULL (-> 503). */
static void
db_fail_queue(struct db_link *l, struct db_queue *qu)
{
	struct db_query	*q;

	while ((q = TAILQ_FIRST(qu)) != NULL) {
		TAILQ_REMOVE(qu, q, entry);
		if (q->res != NULL) {
			PQclear(q->res);
			q->res = NULL;
		}
		db_complete(l, q);
	}
}

/*
 * A read of the read link goes to the primary instead (a read is safe to
 * run twice): the replica is gone, or could not answer it.
 */
static void
db_to_primary(struct db_link *l, struct db_query *q)
{
	struct db_link	*p = DB_P;

	l->nqueued--;
	if (q->res != NULL) {
		PQclear(q->res);
		q->res = NULL;
	}
	q->done = 0;
	q->solo = 0;
	q->replica = 0;
	q->lsn = 0;
	p->nqueued++;
	if (p->st == DB_DOWN || p->conn == NULL) {
		db_complete(p, q);
		return;
	}
	if (p->st == DB_CONNECTING || db_held(p)) {
		TAILQ_INSERT_TAIL(&p->wait, q, entry);
		return;
	}
	if (db_send(p, q) == -1) {
		TAILQ_INSERT_TAIL(&p->wait, q, entry);
		db_lost(p, PQerrorMessage(p->conn));
		return;
	}
	db_flush(p);
}

/* The read link is gone: its reads go to the primary, the rest is dropped. */
static void
db_move_reads(struct db_link *l, struct db_queue *qu)
{
	struct db_query	*q;

	while ((q = TAILQ_FIRST(qu)) != NULL) {
		TAILQ_REMOVE(qu, q, entry);
		if (q->kind != DBK_DATA || q->stmt == DB_NSTMTS || q->tag) {
			l->nqueued--;
			if (q->c != NULL)
				(void)client_release(q->c);
			db_query_free(q);
			continue;
		}
		db_to_primary(l, q);
	}
}

/* A replica's error that the primary would not give: ask it instead. */
static int
db_replica_error(const struct db_query *q)
{
	const char	*s;

	if (q->res == NULL)
		return (1);
	if (PQresultStatus(q->res) != PGRES_FATAL_ERROR)
		return (0);
	s = db_sqlstate(q->res);
	return (strncmp(s, "40", 2) == 0 || strncmp(s, "57", 2) == 0 ||
	    strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 ||
	    strncmp(s, "25", 2) == 0);
}

static void
db_lost(struct db_link *l, const char *why)
{
	struct db_query	*q;
	char		 msg[256];
	size_t		 n;

	strlcpy(msg, why ? why : "", sizeof(msg));
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* libpq's hints come on their own lines: keep one log line. */
	for (n = 0; msg[n] != '\0'; n++)
		if (msg[n] == '\n' || msg[n] == '\t')
			msg[n] = ' ';
	if (l->up)
		db_hooks->down(l->id);
	/*
	 * The listening link is direct while the primary link may go through
	 * a pooler, which holds a statement while the database is away
	 * instead of failing it: a statement on the primary link now tells
	 * whether the database is gone (db_loop_end), before a client's does.
	 */
	if (l->up && l != DB_P && l->listens && DB_P->up)
		DB_P->ping_wanted = 1;
	if (l->up || !l->logged_down)
		log_warnx("database unavailable%s%s: %s",
		    l->id == DB_PRIMARY ? "" : ": ", l->id == DB_PRIMARY ? "" :
		    l->what, msg[0] ? msg : "connection lost");
	l->logged_down = 1;
	l->up = 0;
	l->ping_wanted = 0;
	if (l->sock != -1) {
		(void)event_watch(EPOLL_CTL_DEL, l->sock, 0, NULL);
		l->sock = -1;
	}
	if (l->conn != NULL) {
		PQfinish(l->conn);
		l->conn = NULL;
	}
	l->st = DB_DOWN;
	l->want_write = 0;
	l->unsynced = 0;
	l->unsynced_writes = 0;
	l->syncs = 0;
	l->probed = 0;
	l->probing = 0;
	l->notified = 0;
	l->covering = 0;
	l->drop = 0;
	l->retry_at = now_ms() + l->backoff;
	l->backoff = l->backoff * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS :
	    l->backoff * 2;
	/* Committed already: answered, without their position. */
	while ((q = TAILQ_FIRST(&l->lsnwait)) != NULL) {
		TAILQ_REMOVE(&l->lsnwait, q, entry);
		db_complete(l, q);
	}
	if (l->id == DB_READ) {
		db_move_reads(l, &l->sent);
		db_move_reads(l, &l->wait);
		return;
	}
	db_fail_queue(l, &l->sent);
	db_fail_queue(l, &l->wait);
}

static void
db_connect_poll(struct db_link *l)
{
	switch (PQconnectPoll(l->conn)) {
	case PGRES_POLLING_READING:
		db_watch(l, EPOLLIN);
		break;
	case PGRES_POLLING_WRITING:
		db_watch(l, EPOLLOUT);
		break;
	case PGRES_POLLING_OK:
		db_watch(l, EPOLLIN);
		db_setup(l);
		break;
	case PGRES_POLLING_FAILED:
	default:
		db_lost(l, PQerrorMessage(l->conn));
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
 * whatever it names); else the parsed DSN with host = the resolved name
 * repeated naddrs times and hostaddr = addrs, so libpq resolves nothing.
 */
static void
db_connect_start(struct db_link *l, const char *addrs, int naddrs)
{
	const char		*keys[DB_MAX_CONNOPTS + 4];
	const char		*vals[DB_MAX_CONNOPTS + 4];
	char			 appname[64];
	char			 hosts[DB_MAX_ADDRS * (DB_HOST_MAX + 1)];
	PQconninfoOption	*o;
	int			 n = 0, i;

	if (l->id == DB_PRIMARY)
		snprintf(appname, sizeof(appname), "starterd worker %d",
		    db_worker);
	else
		snprintf(appname, sizeof(appname), "starterd worker %d %s",
		    db_worker, l->what);
	if (addrs == NULL) {
		keys[n] = "dbname";
		vals[n++] = l->dsn;
	} else {
		for (o = l->opts; o->keyword != NULL &&
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
			strlcat(hosts, l->res.host, sizeof(hosts));
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
	l->conn = PQconnectStartParams(keys, vals, addrs == NULL);
	if (l->conn == NULL || PQstatus(l->conn) == CONNECTION_BAD) {
		db_lost(l, l->conn ? PQerrorMessage(l->conn) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(l->conn, db_notice, NULL);
	l->st = DB_CONNECTING;
	l->connect_deadline = now_ms() + DB_CONNECT_TIMEOUT_MS;
	db_connect_poll(l);
}

/* The thread: resolve the link's host, post the addresses (or the error). */
static void *
db_resolve_thread(void *arg)
{
	struct db_resolver *r = arg;
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 list[sizeof(r->addrs)], a[INET6_ADDRSTRLEN + 16];
	uint64_t	 one = 1;
	int		 error, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	list[0] = '\0';
	error = getaddrinfo(r->host, NULL, &hints, &res);
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
	pthread_mutex_lock(&r->mtx);
	r->error = error;
	r->naddrs = n;
	strlcpy(r->addrs, list, sizeof(r->addrs));
	pthread_mutex_unlock(&r->mtx);
	(void)write(r->efd, &one, sizeof(one));
	return (NULL);
}

/* Start a resolution unless one is running (its answer will do). */
static int
db_resolve_start(struct db_link *l)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	sigset_t	 all, old;
	int		 rv;

	if (l->res.busy)
		return (0);
	/* Signals are the loop's: the thread blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&t, &attr, db_resolve_thread, &l->res);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0)
		return (-1);
	l->res.busy = 1;
	return (0);
}

/* The loop, through db_event: the resolver posted an answer?  1 if so. */
static int
db_resolve_done(struct db_link *l)
{
	char		 addrs[sizeof(l->res.addrs)], msg[DB_HOST_MAX + 128];
	uint64_t	 v;
	int		 error, n;

	if (read(l->res.efd, &v, sizeof(v)) != sizeof(v))
		return (0);
	l->res.busy = 0;
	pthread_mutex_lock(&l->res.mtx);
	error = l->res.error;
	n = l->res.naddrs;
	strlcpy(addrs, l->res.addrs, sizeof(addrs));
	pthread_mutex_unlock(&l->res.mtx);
	if (!l->resolving || l->st != DB_CONNECTING || l->conn != NULL)
		return (1);	/* that attempt was given up: drop it */
	l->resolving = 0;
	if (error != 0) {
		snprintf(msg, sizeof(msg), "could not translate host name "
		    "\"%s\": %s", l->res.host, gai_strerror(error));
		db_lost(l, msg);
		return (1);
	}
	log_debug("database host %s: %s", l->res.host, addrs);
	db_connect_start(l, addrs, n);
	return (1);
}

static void
db_connect(struct db_link *l)
{
	if (l->res.host[0] == '\0') {
		db_connect_start(l, NULL, 0);
		return;
	}
	l->st = DB_CONNECTING;
	l->connect_deadline = now_ms() + DB_CONNECT_TIMEOUT_MS;
	l->resolving = 1;
	if (db_resolve_start(l) == -1) {
		l->resolving = 0;
		db_lost(l, "cannot start the host name resolver");
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
db_resolve_init(struct db_link *l)
{
	PQconninfoOption	*o;
	const char		*host = NULL, *hostaddr = NULL;
	char			*err = NULL;
	int			 service = 0;

	if ((l->opts = PQconninfoParse(l->dsn, &err)) == NULL) {
		PQfreemem(err);		/* libpq will say it when connecting */
		return;
	}
	for (o = l->opts; o->keyword != NULL; o++) {
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
	    (l->res.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    event_watch(EPOLL_CTL_ADD, l->res.efd, EPOLLIN,
	    &db_evtag[l->id]) == -1) {
		if (l->res.efd != -1)
			close(l->res.efd);
		l->res.efd = -1;
		PQconninfoFree(l->opts);
		l->opts = NULL;
		return;
	}
	strlcpy(l->res.host, host, sizeof(l->res.host));
}

static int
db_link_init(int id, const char *what, const char *dsn)
{
	struct db_link	*l = &db_links[id];

	memset(l, 0, sizeof(*l));
	l->id = id;
	l->what = what;
	l->st = DB_DOWN;
	l->sock = -1;
	l->backoff = DB_BACKOFF_MIN_MS;
	TAILQ_INIT(&l->sent);
	TAILQ_INIT(&l->wait);
	TAILQ_INIT(&l->lsnwait);
	pthread_mutex_init(&l->res.mtx, NULL);
	l->res.efd = -1;
	if (dsn == NULL)
		return (0);
	if ((l->dsn = strdup(dsn)) == NULL)
		return (-1);
	db_resolve_init(l);
	return (0);
}

/*
 * The links: the primary always (dsn, "" for libpq's defaults); a read
 * link and a listening link only when their DSN is given.
 */
int
db_init(const char *dsn, const char *read_dsn, const char *listen_dsn,
    int unnamed, int worker, const struct db_hooks *hooks)
{
	int	i;

	db_worker = worker;
	db_hooks = hooks;
	db_unnamed = unnamed;
	if (db_link_init(DB_PRIMARY, "primary", dsn ? dsn : "") == -1 ||
	    db_link_init(DB_READ, "read", read_dsn != NULL &&
	    *read_dsn != '\0' ? read_dsn : NULL) == -1 ||
	    db_link_init(DB_LISTEN, "listen", listen_dsn != NULL &&
	    *listen_dsn != '\0' ? listen_dsn : NULL) == -1)
		return (-1);
	db_listener = db_links[DB_LISTEN].dsn != NULL ? &db_links[DB_LISTEN] :
	    DB_P;
	db_listener->listens = 1;
	for (i = 0; i < DB_NLINKS; i++)
		if (db_links[i].dsn != NULL)
			db_connect(&db_links[i]);
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

/* "X/Y" (hex, PostgreSQL's pg_lsn text) to a number; 0 if it is not one. */
uint64_t
db_lsn_parse(const char *s, size_t len)
{
	uint64_t	 hi = 0, lo = 0, *v = &hi;
	size_t		 i, nd = 0;
	int		 d;

	for (i = 0; i < len; i++) {
		if (s[i] == '/' && v == &hi && nd > 0) {
			v = &lo;
			nd = 0;
			continue;
		}
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else
			return (0);
		if (++nd > 8)
			return (0);
		*v = *v << 4 | (uint64_t)d;
	}
	if (v != &lo || nd == 0)
		return (0);
	return (hi << 32 | lo);
}

/* A position as PostgreSQL prints it; out holds DB_LSN_MAX. */
void
db_lsn_format(uint64_t lsn, char *out, size_t len)
{
	snprintf(out, len, "%" PRIX64 "/%" PRIX64, (uint64_t)(lsn >> 32),
	    (uint64_t)(lsn & 0xffffffffU));
}

/* A one-value answer as a position; 0 if there is none. */
static uint64_t
db_res_lsn(PGresult *res, int col)
{
	const char	*v;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1 || PQnfields(res) <= col ||
	    PQgetisnull(res, 0, col))
		return (0);
	v = PQgetvalue(res, 0, col);
	return (db_lsn_parse(v, strlen(v)));
}

/* The server is read-only (a demoted primary) or going away. */
static int
db_must_drop(const struct db_query *q)
{
	const char	*s;

	if (q->res == NULL || PQresultStatus(q->res) != PGRES_FATAL_ERROR)
		return (0);
	s = db_sqlstate(q->res);
	return (strcmp(s, "25006") == 0 || strcmp(s, "57P01") == 0 ||
	    strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0);
}

/* An internal statement answered. */
static void
db_internal_done(struct db_link *l, struct db_query *q, uint64_t *pos)
{
	uint64_t	 v;
	struct db_query	*w;

	if (q->covers == 1) {		/* no result came: no probe either */
		l->covering--;
		q->covers = 0;
	}
	switch (q->kind) {
	case DBK_LSN:
		v = db_res_lsn(q->res, 0);
		while ((w = TAILQ_FIRST(&l->lsnwait)) != NULL) {
			TAILQ_REMOVE(&l->lsnwait, w, entry);
			w->lsn = v;
			db_complete(l, w);
		}
		if (q->covers == 0 || l->conn == NULL)
			break;
		/* A probe as well: as DBK_SYNC below. */
		db_drain_notifies(l);
		if (v != 0)
			db_hooks->synced(v);
		else
			l->probe_wanted = 1;
		break;
	case DBK_REPLAY:
		l->probing = 0;
		if (db_failed(q)) {
			if (q->res != NULL && PQresultStatus(q->res) ==
			    PGRES_FATAL_ERROR) {
				log_warnx("database: read: the replay position "
				    "is not readable (%s): reads that carry a "
				    "position go to the primary",
				    db_sqlstate(q->res));
				l->noprobe = 1;
			}
			*pos = 0;
			break;
		}
		if (strcmp(PQgetvalue(q->res, 0, 0), "t") != 0)
			v = DB_LSN_FRESH;	/* a primary: current */
		else
			v = db_res_lsn(q->res, 1);
		*pos = v;
		if (v > l->replay || v == DB_LSN_FRESH)
			l->replay = v;
		break;
	case DBK_SYNC:
		l->probing = 0;
		/* Notifications before its ReadyForQuery: handled first. */
		if (l->conn != NULL)
			db_drain_notifies(l);
		if (l->advancing && db_failed(q) && q->res != NULL &&
		    PQresultStatus(q->res) == PGRES_FATAL_ERROR) {
			log_warnx("database: listen: pg_logical_emit_message "
			    "refused (%s): a read that carries a position is "
			    "answered from the cache only once other writes "
			    "move the WAL on", db_sqlstate(q->res));
			l->noadvance = 1;
		}
		l->advancing = 0;
		if (q->covers != 0 && (v = db_res_lsn(q->res, 0)) != 0)
			db_hooks->synced(v);
		else
			l->probe_wanted = 1;
		break;
	default:
		break;
	}
}

/*
 * A sync point arrived: the queries answered before it form the batch it
 * ends.  If all succeeded they are committed: complete them (writes wait
 * for their commit position, the next sync group).  Otherwise the batch
 * was rolled back: complete only a statement that failed on its own
 * account and send the rest again, each alone.
 */
static void
db_batch_done(struct db_link *l)
{
	struct db_queue	 batch = TAILQ_HEAD_INITIALIZER(batch);
	struct db_query	*q, *bad[DB_MAX_BATCH];
	int		 nbad = 0, i;
	const char	*state;
	int		 n = 0, failed = 0;
	uint64_t	 pos = l->id == DB_READ ? 0 : DB_LSN_FRESH;

	while ((q = TAILQ_FIRST(&l->sent)) != NULL && q->done) {
		TAILQ_REMOVE(&l->sent, q, entry);
		TAILQ_INSERT_TAIL(&batch, q, entry);
		n++;
		failed |= db_failed(q);
		/*
		 * A client's statement only: LISTEN or the token key on a
		 * standby named by a plain --dsn is not a failover.
		 */
		if (q->kind == DBK_DATA && q->stmt != DB_NSTMTS &&
		    q->c != NULL && db_must_drop(q) && !l->drop) {
			l->drop = 1;
			state = PQresultErrorField(q->res,
			    PG_DIAG_MESSAGE_PRIMARY);
			strlcpy(l->droperr, state != NULL ? state : "",
			    sizeof(l->droperr));
		}
	}
	while ((q = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, q, entry);
		/* The first is db_setup's: answered, whatever it says. */
		if (q->kind == DBK_SETUP && !l->up && l->conn != NULL)
			db_confirm(l);
		if (q->kind != DBK_DATA && q->kind != DBK_SETUP) {
			db_internal_done(l, q, &pos);
			db_complete(l, q);
			continue;
		}
		if (q->fixed >= 0 && q->fixed < DB_NFIXED && db_failed(q)) {
			l->unprepared[q->fixed] = 1;
			log_warnx("database setup: %s cannot be prepared, "
			    "run unnamed on this connection (is the schema "
			    "up to date? starterctl initdb): %s",
			    db_stmts[q->fixed].name, q->res != NULL ?
			    PQresultErrorMessage(q->res) : "no answer");
		}
		if (q->prep >= 0 && db_failed(q)) {
			db_pstmts[q->prep].conn_gen[l->id] = 0;	/* again */
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
			db_complete(l, q);
			continue;
		}
		/*
		 * A demoted or stopping server: the connection is dropped
		 * below and libpq looks for the primary again.  What failed
		 * or was rolled back with it is a 503 (NULL), never a 500;
		 * a read that was answered keeps its answer.
		 */
		if (l->id == DB_READ && q->stmt != DB_NSTMTS &&
		    db_failed(q) && (l->drop || db_replica_error(q))) {
			db_to_primary(l, q);
			continue;
		}
		if (l->drop && q->stmt != DB_NSTMTS &&
		    (db_failed(q) || (failed && q->write))) {
			if (q->res != NULL)
				PQclear(q->res);
			q->res = NULL;
			db_complete(l, q);
			continue;
		}
		if (failed && n > 1 && l->conn != NULL &&
		    q->stmt != DB_NSTMTS && !l->drop) {
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
				if (db_held(l)) {
					TAILQ_INSERT_TAIL(&l->wait, q, entry);
					continue;
				}
				if (db_send(l, q) == -1) {
					TAILQ_INSERT_TAIL(&l->wait, q, entry);
					db_lost(l, PQerrorMessage(l->conn));
					continue;
				}
				continue;
			}
		}
		if (q->write && !failed && q->stmt != DB_NSTMTS &&
		    l->conn != NULL) {
			/* Committed: answered with the next sync group. */
			TAILQ_INSERT_TAIL(&l->lsnwait, q, entry);
			continue;
		}
		if (!q->write)
			q->lsn = pos;
		db_complete(l, q);
	}
	if (!l->drop && l->conn != NULL && db_release(l) == -1) {
		db_lost(l, PQerrorMessage(l->conn));
		return;
	}
	if (l->drop && l->conn != NULL) {
		char	msg[200];

		snprintf(msg, sizeof(msg), "the server cannot take this "
		    "connection's statements (%s): connecting again",
		    l->droperr);
		db_lost(l, msg);
		return;
	}
	if (l->conn != NULL)
		db_flush(l);
}

/* Hand every NOTIFY libpq has parsed to the hook (channels.c routes it). */
static void
db_drain_notifies(struct db_link *l)
{
	PGnotify	*n;

	while ((n = PQnotifies(l->conn)) != NULL) {
		db_hooks->notify(n->relname, n->extra);
		PQfreemem(n);
		l->notified = 1;
	}
}

/*
 * The result of a position statement that covers (db_covers) has just been
 * read.  libpq parses in order and stops at each result, so the NOTIFYs it
 * has parsed are the ones that came before this result; PostgreSQL sends
 * them only between transactions, so their transactions committed before
 * this statement ran, and its position is past them.  Hand them over
 * first: then this answer is their probe (db_hooks.probe_sent now,
 * db_hooks.synced at its ReadyForQuery, db_internal_done).
 */
static void
db_covered(struct db_link *l, struct db_query *q)
{
	l->covering--;
	if (PQresultStatus(q->res) != PGRES_TUPLES_OK) {
		q->covers = 0;	/* failed or rolled back: no probe */
		return;
	}
	db_drain_notifies(l);
	q->covers = 2;
	l->notified = 0;
	l->probe_at = now_ms();
	db_hooks->probe_sent();
}

/* Read what the server sent; complete every query whose sync arrived. */
static void
db_read(struct db_link *l)
{
	struct db_query	*q;
	PGresult	*res;

	if (!PQconsumeInput(l->conn)) {
		db_lost(l, PQerrorMessage(l->conn));
		return;
	}
	db_drain_notifies(l);
	/*
	 * Only results of batches whose sync point was sent can come: asking
	 * libpq for more (queries not yet synced) would never end.
	 */
	while (l->conn != NULL && l->syncs > 0 && !PQisBusy(l->conn)) {
		/* The query being answered: the first not yet done. */
		TAILQ_FOREACH(q, &l->sent, entry)
			if (!q->done)
				break;
		res = PQgetResult(l->conn);
		if (res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			l->syncs--;
			db_batch_done(l);
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
		if (q->res == NULL) {
			q->res = res;
			if (q->covers == 1)
				db_covered(l, q);
		} else
			PQclear(res);
	}
	/*
	 * Again: a NOTIFY that came in behind a result was parsed only by the
	 * loop above; left in libpq's list it would wait for the next bytes
	 * from the server, however long, with the caches answering stale.
	 */
	if (l->conn != NULL)
		db_drain_notifies(l);
	if (l->conn != NULL && PQstatus(l->conn) == CONNECTION_BAD)
		db_lost(l, PQerrorMessage(l->conn));
}

void
db_event(int link, uint32_t events)
{
	struct db_link	*l;

	if (link < 0 || link >= DB_NLINKS)
		return;
	l = &db_links[link];
	/* The eventfd shares the tag (the loop knows one per link). */
	if (l->res.busy && db_resolve_done(l))
		return;
	if (l->conn == NULL)
		return;
	if (l->st == DB_CONNECTING) {
		db_connect_poll(l);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		db_read(l);
	if (l->conn != NULL && (events & EPOLLOUT))
		db_flush(l);
}

void
db_tick(int64_t now)
{
	struct db_link	*l;
	int		 i;

	for (i = 0; i < DB_NLINKS; i++) {
		l = &db_links[i];
		if (l->dsn == NULL)
			continue;
		if (l->st == DB_DOWN && now >= l->retry_at && l->conn == NULL)
			db_connect(l);
		else if (l->st == DB_CONNECTING &&
		    now >= l->connect_deadline) {
			if (l->resolving) {
				l->resolving = 0;
				db_lost(l, "timed out resolving the host name");
			} else
				db_lost(l, "timed out connecting");
		} else if (l->st == DB_READY && !l->up &&
		    now >= l->connect_deadline)
			db_lost(l, "timed out waiting for the first answer");
		else if (l->st == DB_READY && (l->listens ||
		    (l->id == DB_READ && !l->noprobe)) &&
		    now - l->probe_at >= DB_PROBE_IDLE_MS)
			l->probe_wanted = 1;
	}
}

/*
 * Name the session after the request whose statements follow, so that
 * PostgreSQL's log lines (%a) and pg_stat_activity show its id: a
 * set_config() pipelined just before them, skipped when the session
 * already carries this id.  application_name keeps 63 bytes.
 */
static int
db_tag(struct db_link *l, struct client *c)
{
	struct db_query	*q;
	const char	*p[1];
	char		 name[64];

	if (c == NULL || c->dbtag[0] == '\0' ||
	    strcmp(c->dbtag, l->tagged) == 0)
		return (0);
	if ((q = db_query_new(NULL, DB_NSTMTS, NULL, NULL)) == NULL)
		return (-1);
	/* Truncated to what PostgreSQL keeps (NAMEDATALEN - 1). */
	snprintf(name, sizeof(name), "starterd worker %d req=", db_worker);
	strlcat(name, c->dbtag, sizeof(name));
	p[0] = name;
	if (db_params_copy(q, 1, p) == -1) {
		free(q);
		return (-1);
	}
	q->tag = 1;
	q->kind = DBK_SETUP;
	l->nqueued++;
	strlcpy(l->tagged, c->dbtag, sizeof(l->tagged));
	if (l->st == DB_CONNECTING || db_held(l)) {
		TAILQ_INSERT_TAIL(&l->wait, q, entry);
		return (0);
	}
	if (db_send(l, q) == -1) {
		TAILQ_INSERT_TAIL(&l->wait, q, entry);
		db_lost(l, PQerrorMessage(l->conn));
		return (-1);
	}
	return (0);
}

/* Queue q (parameters copied, NULL means SQL NULL) and send it. */
static int
db_enqueue(struct db_link *l, struct client *c, struct db_query *q,
    int nparams, const char *const *params)
{
	if (db_params_copy(q, nparams, params) == -1) {
		db_query_free(q);
		return (-1);
	}
	if (c != NULL)
		client_hold(c);
	l->nqueued++;
	if (l->st == DB_CONNECTING || db_held(l)) {
		TAILQ_INSERT_TAIL(&l->wait, q, entry);
		return (0);
	}
	if (db_send(l, q) == -1) {
		/* q is not queued yet: fail it through the queue. */
		TAILQ_INSERT_TAIL(&l->wait, q, entry);
		db_lost(l, PQerrorMessage(l->conn));
		return (0);
	}
	return (0);
}

/* Can l take a query now (or queue it while it connects)? */
static int
db_link_open(struct db_link *l)
{
	return (l->dsn != NULL && l->st != DB_DOWN &&
	    l->nqueued < DB_MAX_QUEUED);
}

/*
 * Run a prepared statement for c on the primary.  Parameters are copied
 * (NULL means SQL NULL).  Returns -1 when the database is down: answer
 * 503 now.
 */
int
db_submit(struct client *c, enum db_stmt stmt, int nparams,
    const char *const *params, db_cb cb, void *arg)
{
	struct db_query	*q;

	if (!db_link_open(DB_P) || nparams > DB_MAX_PARAMS ||
	    db_tag(DB_P, c) == -1)
		return (-1);
	if ((q = db_query_new(c, stmt, cb, arg)) == NULL)
		return (-1);
	q->write = stmt != DB_USER_BY_NAME && stmt != DB_PING &&
	    stmt != DB_USER_TOKEN_VER;
	return (db_enqueue(DB_P, c, q, nparams, params));
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
	p->hash = h;
	p->nparams = nparams;
	p->write = write;
	memset(p->conn_gen, 0, sizeof(p->conn_gen));
	return (db_npstmts++);
}

/*
 * Run a statement written at run time (the resources' SQL; identifiers
 * in it quoted by their writer, values always parameters).  Prepared on
 * first use on each connection; see db_pstmts.  flags: DB_SQL_WRITE (it
 * changes data: the primary, and it commits with its batch),
 * DB_SQL_REPLICA (a read the read link may answer, when it is up).
 */
int
db_submit_sql(struct client *c, const char *sql, const char *name, int flags,
    int nparams, const char *const *params, db_cb cb, void *arg)
{
	struct db_query	*q;
	struct db_link	*l = DB_P;
	int		 write = (flags & DB_SQL_WRITE) != 0;

	if (!write && (flags & DB_SQL_REPLICA) &&
	    db_links[DB_READ].st == DB_READY &&
	    db_links[DB_READ].nqueued < DB_MAX_QUEUED)
		l = &db_links[DB_READ];
	if (!db_link_open(l) || nparams > DB_MAX_PARAMS ||
	    db_tag(l, c) == -1)
		return (-1);
	if ((q = db_query_new(c, DB_NSTMTS + 1, cb, arg)) == NULL)
		return (-1);
	if ((q->pstmt = db_pstmt_find(sql, name, nparams, write)) == -1 &&
	    (q->sql = strdup(sql)) == NULL) {
		db_query_free(q);
		return (-1);
	}
	q->write = write;
	q->replica = l->id == DB_READ;
	return (db_enqueue(l, c, q, nparams, params));
}

/*
 * May a read that must see position lsn (0: none) go to the read link?
 * Only when it is up and has been seen past lsn; otherwise the caller
 * marks its read for the primary (flags without DB_SQL_REPLICA), and a
 * probe is asked for, so that the next such read may go there.
 */
int
db_replica_ok(uint64_t lsn)
{
	struct db_link	*l = &db_links[DB_READ];

	if (l->st != DB_READY)
		return (0);
	if (lsn == 0 || l->replay >= lsn)
		return (1);
	if (!l->noprobe)
		l->probe_wanted = 1;
	return (0);
}

/* Ask the listening link for a position (db_hooks.synced answers). */
void
db_listen_probe(void)
{
	if (db_listener != NULL) {
		db_listener->probe_wanted = 1;
		db_listener->advance_wanted = !db_listener->noadvance;
	}
}

/*
 * A separate listening link (--listen-dsn) was lost and has not come back:
 * this worker hears no NOTIFY, whatever the primary link says (through a
 * pooler it may stay up while the database is gone).
 */
int
db_listen_lost(void)
{
	return (db_listener != NULL && db_listener != DB_P &&
	    !db_listener->up && db_listener->logged_down);
}

PGconn *
db_conn_handle(void)
{
	return (DB_P->st == DB_READY ? DB_P->conn : NULL);
}

/* A position probe, alone or ahead of what this turn sends. */
static int
db_probe(struct db_link *l)
{
	if (l->probing || db_held(l))
		return (0);
	l->probe_wanted = 0;
	l->probe_at = now_ms();
	if (l->listens) {
		l->advancing = l->advance_wanted && !l->noadvance;
		l->advance_wanted = 0;
		if ((l->advancing ? db_internal(l, DB_SQL_LSN_ADVANCE,
		    DBK_SYNC) : db_internal_fixed(l, DB_STMT_LSN, DBK_SYNC)) == -1)
			return (-1);
		db_covers(l);
		l->probing = 1;
		return (0);
	}
	if (l->id == DB_READ && !l->noprobe && !l->probed) {
		if (db_internal_fixed(l, DB_STMT_REPLAY, DBK_REPLAY) == -1)
			return (-1);
		l->probed = 1;
		l->probing = 1;
	}
	return (0);
}

/*
 * The end of a turn of the event loop: close each link's batch of
 * queries sent during it with one sync point, and push it to the server.
 */
void
db_loop_end(void)
{
	struct db_link	*l;
	int		 i;

	for (i = 0; i < DB_NLINKS; i++) {
		l = &db_links[i];
		if (l->st != DB_READY || l->conn == NULL)
			continue;
		/* NOTIFYs want a probe, unless a position in flight covers. */
		if ((l->probe_wanted || (l->notified && l->covering == 0)) &&
		    db_probe(l) == -1) {
			db_lost(l, PQerrorMessage(l->conn));
			continue;
		}
		/* Anything in flight or about to go answers it as well. */
		if (l->ping_wanted && l->syncs == 0 && l->unsynced == 0 &&
		    db_internal(l, "SELECT 1", DBK_SETUP) == -1) {
			db_lost(l, PQerrorMessage(l->conn));
			continue;
		}
		l->ping_wanted = 0;
		/*
		 * Writes wait while a batch is in flight: its answer comes
		 * within a round trip, and everything that arrived meanwhile
		 * then commits together.  Under load batches grow by
		 * themselves; alone, a write is sent at once.  (Reads are
		 * answered from the cache mostly; the ones sharing a held
		 * batch wait the same round trip.)
		 */
		if (l->unsynced_writes > 0 && l->syncs > 0 &&
		    l->unsynced < DB_MAX_BATCH)
			continue;
		if (db_sync(l) == -1) {
			db_lost(l, PQerrorMessage(l->conn));
			continue;
		}
		db_flush(l);
	}
}

/*
 * The primary's state: what requests depend on.  Logged in but not yet
 * answered (db_confirm) is still down after a loss: through a pooler that
 * login says nothing of the database.
 */
enum db_state
db_status(void)
{
	if (DB_P->up)
		return (DB_READY);
	if (DB_P->st == DB_READY)
		return (DB_P->logged_down ? DB_DOWN : DB_CONNECTING);
	return (DB_P->st);
}

/* Seconds a client should wait before retrying (Retry-After). */
int
db_retry_after(void)
{
	int64_t	left = DB_P->retry_at - now_ms();

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
	struct db_link	*l;
	int		 i;

	for (i = 0; i < DB_NLINKS; i++) {
		l = &db_links[i];
		if (l->conn != NULL) {
			PQfinish(l->conn);
			l->conn = NULL;
		}
		/* A resolver thread still running reads the host: keep it. */
		if (l->opts != NULL && !l->res.busy) {
			PQconninfoFree(l->opts);
			l->opts = NULL;
		}
	}
}
