/*
 * metrics.c: counters in shared memory, readiness and heartbeats of the
 * workers, and their exposition in the Prometheus text format (0.0.4),
 * which GET /metrics (api/api_metrics.c) serves.
 *
 * The "metrics" region holds:
 *   - one block of counters per worker id, bumped with relaxed atomics by
 *     the worker(s) holding that id and summed at scrape time.  A respawned
 *     or reloaded worker keeps adding to its id's block, so every counter
 *     only grows for the life of the master, as Prometheus expects;
 *   - one entry per master slot (process): pid, ready flag, database state
 *     and a heartbeat (CLOCK_MONOTONIC ms, system-wide) that the worker
 *     refreshes on every loop iteration.  The master reads ready and the
 *     heartbeat for readiness (sd_notify READY=1, reloads) and the
 *     watchdog; plain aligned atomics, so a worker dying mid-write cannot
 *     leave anything the master could trip on;
 *   - the counters the master owns (workers restarted, reloads), written
 *     only by the master.
 */
#include <sys/types.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "starterd.h"

#define METRICS_MAX_ROUTES	16	/* the last one counts unrouted paths */
#define METRICS_OTHER_ROUTE	(METRICS_MAX_ROUTES - 1)
#define METRICS_NPROCS		(4 * STARTERD_MAX_WORKERS)

static const int metrics_codes[] = {
	100, 200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406,
	408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 422, 426, 428, 429,
	431, 500, 501, 502, 503, 504, 505
};
#define METRICS_NKNOWN	(sizeof(metrics_codes) / sizeof(metrics_codes[0]))
#define METRICS_NCODES	(METRICS_NKNOWN + 5)	/* + 1xx..5xx for the rest */

/* Upper bounds in microseconds; +Inf is implicit. */
static const int64_t metrics_buckets[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000
};
#define METRICS_NBUCKETS (sizeof(metrics_buckets) / sizeof(metrics_buckets[0]))

struct metrics_route {
	_Atomic uint64_t code[METRICS_NCODES];
	_Atomic uint64_t bucket[METRICS_NBUCKETS + 1];	/* not cumulative */
	_Atomic uint64_t sum_us;
};

struct metrics_worker {
	struct metrics_route	 route[METRICS_MAX_ROUTES];
	_Atomic uint64_t	 db_reconnects;
} __attribute__((__aligned__(64)));

struct metrics_proc {
	_Atomic int32_t		 pid;
	_Atomic int32_t		 ready;
	_Atomic int32_t		 db_up;
	_Atomic int64_t		 heartbeat;
} __attribute__((__aligned__(64)));

struct metrics_shm {
	_Atomic uint64_t	 workers_restarted;	/* master only */
	_Atomic uint64_t	 reloads;		/* master only */
	struct metrics_proc	 proc[METRICS_NPROCS];
	struct metrics_worker	 worker[STARTERD_MAX_WORKERS + 1];
};

static struct metrics_shm	*mshm;
static struct metrics_proc	*my_proc;	/* worker: our entry */
static struct metrics_worker	*my_worker;	/* worker: our counters */

/* Route labels, set by the worker from the route table at start. */
static char			 metrics_labels[METRICS_MAX_ROUTES][64];

size_t
metrics_shm_size(void)
{
	return (sizeof(struct metrics_shm));
}

int
metrics_shm_attach(void *p)
{
	if (p == NULL)
		return (-1);
	mshm = p;
	return (0);
}

/* ------------------------------------------------------------ master */

/* Before fork: the slot's process is not ready yet. */
void
metrics_proc_start(int proc)
{
	struct metrics_proc	*mp = &mshm->proc[proc];

	atomic_store(&mp->ready, 0);
	atomic_store(&mp->db_up, 0);
	atomic_store(&mp->heartbeat, now_ms());
	atomic_store(&mp->pid, 0);
}

void
metrics_proc_pid(int proc, pid_t pid)
{
	atomic_store(&mshm->proc[proc].pid, (int32_t)pid);
}

void
metrics_proc_end(int proc)
{
	atomic_store(&mshm->proc[proc].pid, 0);
	atomic_store(&mshm->proc[proc].ready, 0);
	atomic_store(&mshm->proc[proc].db_up, 0);
}

int
metrics_proc_ready(int proc)
{
	return (atomic_load(&mshm->proc[proc].ready) != 0);
}

/* Milliseconds since the process's last loop iteration. */
int64_t
metrics_proc_idle(int proc)
{
	return (now_ms() - atomic_load(&mshm->proc[proc].heartbeat));
}

void
metrics_worker_restarted(void)
{
	atomic_fetch_add(&mshm->workers_restarted, 1);
}

void
metrics_reloaded(void)
{
	atomic_fetch_add(&mshm->reloads, 1);
}

/* ------------------------------------------------------------ worker */

/* In the child, before worker_main(): which entries are ours. */
void
metrics_child(int proc, int id)
{
	my_proc = &mshm->proc[proc];
	my_worker = &mshm->worker[id];
	atomic_store(&my_proc->pid, (int32_t)getpid());
	atomic_store(&my_proc->heartbeat, now_ms());
}

/*
 * Every loop iteration.  Ready once the first connection attempt is over
 * (connected or failed): a worker with the database down still answers,
 * with 503s, and must not hold up a reload or READY=1 forever.
 */
void
metrics_beat(int64_t now_ms, enum db_state st)
{
	if (my_proc == NULL)
		return;
	atomic_store_explicit(&my_proc->heartbeat, now_ms,
	    memory_order_relaxed);
	if (atomic_load_explicit(&my_proc->db_up, memory_order_relaxed) !=
	    (st == DB_READY))
		atomic_store(&my_proc->db_up, st == DB_READY);
	if (st != DB_CONNECTING &&
	    !atomic_load_explicit(&my_proc->ready, memory_order_relaxed))
		atomic_store(&my_proc->ready, 1);
}

void
metrics_db_reconnect(void)
{
	if (my_worker != NULL)
		atomic_fetch_add_explicit(&my_worker->db_reconnects, 1,
		    memory_order_relaxed);
}

static size_t
metrics_code_index(int status)
{
	size_t	i;

	for (i = 0; i < METRICS_NKNOWN; i++)
		if (metrics_codes[i] == status)
			return (i);
	if (status < 100 || status > 599)
		status = 500;
	return (METRICS_NKNOWN + (size_t)(status / 100 - 1));
}

/* One response went out (worker_finish). */
void
metrics_request(struct client *c)
{
	struct metrics_route	*r;
	int			 ri;
	int64_t			 us;
	size_t			 b;

	if (my_worker == NULL)
		return;
	ri = c->route_id;
	if (ri < 0 || ri >= METRICS_OTHER_ROUTE)
		ri = METRICS_OTHER_ROUTE;
	r = &my_worker->route[ri];
	us = c->t_start > 0 ? now_us() - c->t_start : 0;
	if (us < 0)
		us = 0;
	for (b = 0; b < METRICS_NBUCKETS && us > metrics_buckets[b]; b++)
		;
	atomic_fetch_add_explicit(&r->code[metrics_code_index(c->status)], 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&r->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->sum_us, (uint64_t)us,
	    memory_order_relaxed);
}

/* -------------------------------------------------------- /metrics */

/* The worker, at start: route ri is called label in the metrics. */
void
metrics_route_label(int ri, const char *label)
{
	if (ri >= 0 && ri < METRICS_OTHER_ROUTE)
		strlcpy(metrics_labels[ri], label, sizeof(metrics_labels[ri]));
}

static void
metrics_label(int ri, char *out, size_t len)
{
	if (ri == METRICS_OTHER_ROUTE || metrics_labels[ri][0] == '\0')
		strlcpy(out, "other", len);
	else
		strlcpy(out, metrics_labels[ri], len);
}

static void
metrics_code_label(size_t ci, char *out, size_t len)
{
	if (ci < METRICS_NKNOWN)
		snprintf(out, len, "%d", metrics_codes[ci]);
	else
		snprintf(out, len, "%dxx", (int)(ci - METRICS_NKNOWN) + 1);
}

static int
metrics_counter(struct buf *b, const char *name, const char *help,
    uint64_t v)
{
	return (buf_appendf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
	    name, help, name, name, (unsigned long long)v));
}

static int
metrics_gauge(struct buf *b, const char *name, const char *help, long v)
{
	return (buf_appendf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %ld\n",
	    name, help, name, name, v));
}

/*
 * The whole exposition; the caches' counters come from the caller (the
 * /metrics handler), which reads them from their modules.
 */
int
metrics_format(struct buf *b, const struct cache_stats *cs, uint64_t ahits,
    uint64_t amiss)
{
	static struct metrics_route	 tot[METRICS_MAX_ROUTES];
	uint64_t			 dbrec = 0, cum;
	char				 rl[128], cl[8];
	size_t				 w, ri, i;
	long				 nlive = 0, nready = 0, ndb = 0;
	int				 rv = 0;

	/* Snapshot: sum every worker's block (relaxed; slight skew is ok). */
	memset(tot, 0, sizeof(tot));
	for (w = 0; w <= STARTERD_MAX_WORKERS; w++) {
		struct metrics_worker *mw = &mshm->worker[w];

		dbrec += atomic_load_explicit(&mw->db_reconnects,
		    memory_order_relaxed);
		for (ri = 0; ri < METRICS_MAX_ROUTES; ri++) {
			struct metrics_route *s = &mw->route[ri], *d = &tot[ri];

			for (i = 0; i < METRICS_NCODES; i++)
				d->code[i] += atomic_load_explicit(&s->code[i],
				    memory_order_relaxed);
			for (i = 0; i <= METRICS_NBUCKETS; i++)
				d->bucket[i] += atomic_load_explicit(
				    &s->bucket[i], memory_order_relaxed);
			d->sum_us += atomic_load_explicit(&s->sum_us,
			    memory_order_relaxed);
		}
	}
	for (i = 0; i < METRICS_NPROCS; i++) {
		if (atomic_load(&mshm->proc[i].pid) == 0)
			continue;
		nlive++;
		nready += atomic_load(&mshm->proc[i].ready) != 0;
		ndb += atomic_load(&mshm->proc[i].db_up) != 0;
	}

	rv |= buf_appendstr(b, "# HELP starterd_http_requests_total HTTP "
	    "responses sent, by route and status code.\n"
	    "# TYPE starterd_http_requests_total counter\n");
	for (ri = 0; ri < METRICS_MAX_ROUTES; ri++) {
		metrics_label((int)ri, rl, sizeof(rl));
		for (i = 0; i < METRICS_NCODES; i++) {
			if (tot[ri].code[i] == 0)
				continue;
			metrics_code_label(i, cl, sizeof(cl));
			rv |= buf_appendf(b, "starterd_http_requests_total"
			    "{route=\"%s\",code=\"%s\"} %llu\n", rl, cl,
			    (unsigned long long)tot[ri].code[i]);
		}
	}
	rv |= buf_appendstr(b, "# HELP starterd_http_request_duration_seconds "
	    "Time from the first byte of a request to its response.\n"
	    "# TYPE starterd_http_request_duration_seconds histogram\n");
	for (ri = 0; ri < METRICS_MAX_ROUTES; ri++) {
		cum = 0;
		for (i = 0; i <= METRICS_NBUCKETS; i++)
			cum += tot[ri].bucket[i];
		if (cum == 0)
			continue;
		metrics_label((int)ri, rl, sizeof(rl));
		cum = 0;
		for (i = 0; i <= METRICS_NBUCKETS; i++) {
			cum += tot[ri].bucket[i];
			if (i < METRICS_NBUCKETS)
				rv |= buf_appendf(b,
				    "starterd_http_request_duration_seconds_"
				    "bucket{route=\"%s\",le=\"%g\"} %llu\n", rl,
				    (double)metrics_buckets[i] / 1e6,
				    (unsigned long long)cum);
			else
				rv |= buf_appendf(b,
				    "starterd_http_request_duration_seconds_"
				    "bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
				    rl, (unsigned long long)cum);
		}
		rv |= buf_appendf(b, "starterd_http_request_duration_seconds_sum"
		    "{route=\"%s\"} %.6f\n", rl, (double)tot[ri].sum_us / 1e6);
		rv |= buf_appendf(b, "starterd_http_request_duration_seconds_"
		    "count{route=\"%s\"} %llu\n", rl, (unsigned long long)cum);
	}

	rv |= metrics_counter(b, "starterd_cache_hits_total",
	    "Response cache hits.", cs->hits);
	rv |= metrics_counter(b, "starterd_cache_misses_total",
	    "Response cache misses.", cs->misses);
	rv |= metrics_counter(b, "starterd_cache_evictions_total",
	    "Response cache entries evicted for space.", cs->evictions);
	rv |= metrics_counter(b, "starterd_auth_cache_hits_total",
	    "Credentials found in the verified-credentials cache.", ahits);
	rv |= metrics_counter(b, "starterd_auth_cache_misses_total",
	    "Credentials that needed a password verification.", amiss);
	rv |= metrics_counter(b, "starterd_db_reconnects_total",
	    "Database connections re-established after a loss.", dbrec);
	rv |= metrics_counter(b, "starterd_workers_restarted_total",
	    "Workers that died unexpectedly and were started again.",
	    atomic_load(&mshm->workers_restarted));
	rv |= metrics_counter(b, "starterd_reloads_total",
	    "Configuration reloads (SIGHUP) applied.",
	    atomic_load(&mshm->reloads));
	rv |= metrics_gauge(b, "starterd_workers",
	    "Worker processes alive (including retiring ones).", nlive);
	rv |= metrics_gauge(b, "starterd_workers_ready",
	    "Worker processes serving.", nready);
	rv |= metrics_gauge(b, "starterd_db_connected",
	    "Worker processes connected to the database.", ndb);
	return (rv ? -1 : 0);
}
