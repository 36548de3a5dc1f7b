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
 *
 * The request duration histogram is kept per route and per status class
 * (1xx..5xx), so that slow errors do not hide among fast successes.  Each
 * process entry also carries its worker id and its open connections
 * (client_count, refreshed every loop iteration).
 *
 * The process_* metrics are those of starterd as a whole, the master and
 * every live worker added up (no per-process label).  Each worker samples
 * its own /proc/self/stat and /proc/self/fd at most once a second (from
 * metrics_beat; a process can always read its own, even when -u made it
 * non-dumpable) into its entry; the serving worker samples itself afresh,
 * adds the entries and reads the master's (its parent's) /proc/PID/stat
 * and, when permitted, /proc/PID/fd: bounded by METRICS_NPROCS entries.
 * CPU time includes the master's reaped children (cutime, cstime), so it
 * does not go down when a worker exits; resident memory adds each
 * process's RSS, so shared pages (the shm regions) count once per process;
 * the start time is the master's.  A process whose entries cannot be read
 * (gone meanwhile) is left out.
 */
#include <sys/types.h>

#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "starterd.h"

#define METRICS_MAX_ROUTES	(8 + RES_ROUTE_KINDS * RES_MAX)	/* the last: unrouted */
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
#define METRICS_NCLASSES 5	/* 1xx..5xx */

struct metrics_route {
	_Atomic uint64_t code[METRICS_NCODES];
	/* Per status class; not cumulative. */
	_Atomic uint64_t bucket[METRICS_NCLASSES][METRICS_NBUCKETS + 1];
	_Atomic uint64_t sum_us[METRICS_NCLASSES];
};

struct metrics_worker {
	struct metrics_route	 route[METRICS_MAX_ROUTES];
	_Atomic uint64_t	 db_reconnects;
} __attribute__((__aligned__(64)));

struct metrics_proc {
	_Atomic int32_t		 pid;
	_Atomic int32_t		 ready;
	_Atomic int32_t		 db_up;
	_Atomic int32_t		 id;		/* worker id */
	_Atomic int32_t		 clients;	/* open connections */
	_Atomic int32_t		 sampled;	/* the three below are set */
	_Atomic int64_t		 heartbeat;
	_Atomic uint64_t	 cpu;		/* own ticks, user + system */
	_Atomic uint64_t	 rss;		/* pages */
	_Atomic uint64_t	 fds;		/* open descriptors */
} __attribute__((__aligned__(64)));

struct metrics_shm {
	_Atomic uint64_t	 workers_restarted;	/* master only */
	_Atomic uint64_t	 reloads;		/* master only */
	struct metrics_proc	 proc[METRICS_NPROCS];
	struct metrics_worker	 worker[STARTERD_MAX_WORKERS + 1];
};

struct metrics_pstat {
	unsigned long long	 cpu;		/* clock ticks */
	unsigned long long	 rss;		/* pages */
	unsigned long long	 fds;
	unsigned long long	 start;		/* ticks after boot */
};

static int	metrics_pstat_add(pid_t, int, struct metrics_pstat *);

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
	atomic_store(&mp->clients, 0);
	atomic_store(&mp->sampled, 0);
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
	atomic_store(&mshm->proc[proc].clients, 0);
	atomic_store(&mshm->proc[proc].sampled, 0);
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
	atomic_store(&my_proc->id, (int32_t)id);
	atomic_store(&my_proc->clients, 0);
	atomic_store(&my_proc->sampled, 0);
	atomic_store(&my_proc->pid, (int32_t)getpid());
	atomic_store(&my_proc->heartbeat, now_ms());
}

/* A worker: its own CPU time, RSS and open fds into its entry. */
static void
metrics_sample_self(void)
{
	struct metrics_pstat	 ps;

	if (my_proc == NULL)
		return;
	memset(&ps, 0, sizeof(ps));
	if (metrics_pstat_add(getpid(), 0, &ps) == -1)
		return;
	atomic_store_explicit(&my_proc->cpu, ps.cpu, memory_order_relaxed);
	atomic_store_explicit(&my_proc->rss, ps.rss, memory_order_relaxed);
	atomic_store_explicit(&my_proc->fds, ps.fds, memory_order_relaxed);
	atomic_store(&my_proc->sampled, 1);
}

/*
 * Every loop iteration.  Ready once the first connection attempt is over
 * (connected or failed): a worker with the database down still answers,
 * with 503s, and must not hold up a reload or READY=1 forever.
 */
void
metrics_beat(int64_t now_ms, enum db_state st)
{
	static int64_t	 sampled_at;

	if (my_proc == NULL)
		return;
	if (now_ms - sampled_at >= 1000 || now_ms < sampled_at) {
		sampled_at = now_ms;
		metrics_sample_self();
	}
	atomic_store_explicit(&my_proc->heartbeat, now_ms,
	    memory_order_relaxed);
	atomic_store_explicit(&my_proc->clients, (int32_t)client_count,
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

/* 0..4 for 1xx..5xx; anything out of range counts as a 5xx. */
static size_t
metrics_class_index(int status)
{
	if (status < 100 || status > 599)
		return (4);
	return ((size_t)(status / 100 - 1));
}

/* One response went out (worker_finish). */
void
metrics_request(struct client *c)
{
	struct metrics_route	*r;
	int			 ri;
	int64_t			 us;
	size_t			 b, k;

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
	k = metrics_class_index(c->status);
	atomic_fetch_add_explicit(&r->bucket[k][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->sum_us[k], (uint64_t)us,
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

/* The series of one route and status class k, if it saw any request. */
static int
metrics_histogram(struct buf *b, const char *rl, size_t k,
    const struct metrics_route *r)
{
	const char	*h = "starterd_http_request_duration_seconds";
	uint64_t	 cum = 0;
	size_t		 i;
	int		 rv = 0;

	for (i = 0; i <= METRICS_NBUCKETS; i++)
		cum += r->bucket[k][i];
	if (cum == 0)
		return (0);
	cum = 0;
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += r->bucket[k][i];
		rv |= buf_appendf(b, "%s_bucket{route=\"%s\","
		    "code_class=\"%zuxx\",le=\"%g\"} %llu\n", h, rl, k + 1,
		    (double)metrics_buckets[i] / 1e6, (unsigned long long)cum);
	}
	cum += r->bucket[k][METRICS_NBUCKETS];
	rv |= buf_appendf(b, "%s_bucket{route=\"%s\",code_class=\"%zuxx\","
	    "le=\"+Inf\"} %llu\n", h, rl, k + 1, (unsigned long long)cum);
	rv |= buf_appendf(b, "%s_sum{route=\"%s\",code_class=\"%zuxx\"} "
	    "%.6f\n", h, rl, k + 1, (double)r->sum_us[k] / 1e6);
	rv |= buf_appendf(b, "%s_count{route=\"%s\",code_class=\"%zuxx\"} "
	    "%llu\n", h, rl, k + 1, (unsigned long long)cum);
	return (rv);
}

/*
 * Add process pid's figures from /proc to *ps; children: add the CPU time
 * of its reaped children too.  -1 when its stat cannot be read.
 */
static int
metrics_pstat_add(pid_t pid, int children, struct metrics_pstat *ps)
{
	char			 path[64], line[1024], *p, *tok, *sp;
	unsigned long long	 f[24];
	struct dirent		*de;
	FILE			*fp;
	DIR			*d;
	size_t			 n;
	int			 i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = '\0';
	/* The name may hold spaces and parentheses: skip to the last ')'. */
	if ((p = strrchr(line, ')')) == NULL)
		return (-1);
	/* f[k] is field k + 3 of proc(5): f[0] is the state. */
	memset(f, 0, sizeof(f));
	for (i = 0, tok = strtok_r(p + 1, " \n", &sp); tok != NULL && i < 24;
	    i++, tok = strtok_r(NULL, " \n", &sp))
		f[i] = i == 0 ? 0 : strtoull(tok, NULL, 10);
	if (i < 22)
		return (-1);
	ps->cpu += f[11] + f[12] + (children ? f[13] + f[14] : 0);
	ps->rss += f[21];
	if (ps->start == 0 || f[19] < ps->start)
		ps->start = f[19];

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				ps->fds++;
		closedir(d);
	}
	return (0);
}

/* The boot time, seconds since the epoch (btime of /proc/stat), or 0. */
static unsigned long long
metrics_btime(void)
{
	char			 line[256];
	unsigned long long	 bt = 0;
	FILE			*fp;

	if ((fp = fopen("/proc/stat", "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "btime ", 6) == 0) {
			bt = strtoull(line + 6, NULL, 10);
			break;
		}
	fclose(fp);
	return (bt);
}

/* The process_* metrics: the master and its live workers together. */
static int
metrics_process(struct buf *b)
{
	struct metrics_pstat	 ps;
	struct metrics_pstat	 master;
	long			 tck, pg;
	pid_t			 pid;
	size_t			 i;
	int			 rv = 0;

	memset(&ps, 0, sizeof(ps));
	memset(&master, 0, sizeof(master));
	if ((tck = sysconf(_SC_CLK_TCK)) <= 0)
		tck = 100;
	if ((pg = sysconf(_SC_PAGESIZE)) <= 0)
		pg = 4096;
	/* Our parent is the master (a worker); else count ourselves. */
	pid = my_proc != NULL ? getppid() : getpid();
	if (metrics_pstat_add(pid, 1, &master) == 0) {
		ps = master;
		ps.start = 0;
	}
	metrics_sample_self();
	for (i = 0; i < METRICS_NPROCS; i++) {
		struct metrics_proc *mp = &mshm->proc[i];

		if ((pid = (pid_t)atomic_load(&mp->pid)) <= 0)
			continue;
		if (!atomic_load(&mp->sampled)) {
			/* Just started: read it here, if we may. */
			(void)metrics_pstat_add(pid, 0, &ps);
			continue;
		}
		ps.cpu += atomic_load_explicit(&mp->cpu, memory_order_relaxed);
		ps.rss += atomic_load_explicit(&mp->rss, memory_order_relaxed);
		ps.fds += atomic_load_explicit(&mp->fds, memory_order_relaxed);
	}
	rv |= buf_appendf(b, "# HELP process_cpu_seconds_total User and "
	    "system CPU time of the master and its workers (and of reaped "
	    "workers).\n# TYPE process_cpu_seconds_total counter\n"
	    "process_cpu_seconds_total %.2f\n", (double)ps.cpu / (double)tck);
	rv |= buf_appendf(b, "# HELP process_resident_memory_bytes Resident "
	    "memory of the master and its workers, added up.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %llu\n", ps.rss *
	    (unsigned long long)pg);
	rv |= buf_appendf(b, "# HELP process_open_fds Open file descriptors "
	    "of the master and its workers, added up.\n"
	    "# TYPE process_open_fds gauge\nprocess_open_fds %llu\n", ps.fds);
	rv |= buf_appendf(b, "# HELP process_start_time_seconds Start time "
	    "of the master, seconds since the epoch.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.2f\n", (double)metrics_btime() +
	    (double)master.start / (double)tck);
	return (rv);
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
	uint64_t			 dbrec = 0;
	char				 rl[128], cl[8];
	size_t				 w, ri, i, k;
	long				 nlive = 0, nready = 0, ndb = 0;
	long				 conns[STARTERD_MAX_WORKERS + 1];
	int				 seen[STARTERD_MAX_WORKERS + 1];
	int32_t				 id;
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
			for (k = 0; k < METRICS_NCLASSES; k++) {
				for (i = 0; i <= METRICS_NBUCKETS; i++)
					d->bucket[k][i] += atomic_load_explicit(
					    &s->bucket[k][i],
					    memory_order_relaxed);
				d->sum_us[k] += atomic_load_explicit(
				    &s->sum_us[k], memory_order_relaxed);
			}
		}
	}
	memset(conns, 0, sizeof(conns));
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < METRICS_NPROCS; i++) {
		if (atomic_load(&mshm->proc[i].pid) == 0)
			continue;
		nlive++;
		id = atomic_load(&mshm->proc[i].id);
		if (id >= 0 && id <= STARTERD_MAX_WORKERS) {
			seen[id] = 1;
			conns[id] += atomic_load(&mshm->proc[i].clients);
		}
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
	    "Time from the first byte of a request to its response, by route "
	    "and status class.\n"
	    "# TYPE starterd_http_request_duration_seconds histogram\n");
	for (ri = 0; ri < METRICS_MAX_ROUTES; ri++) {
		metrics_label((int)ri, rl, sizeof(rl));
		for (k = 0; k < METRICS_NCLASSES; k++)
			rv |= metrics_histogram(b, rl, k, &tot[ri]);
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
	rv |= buf_appendstr(b, "# HELP starterd_worker_connections Open client "
	    "connections, by worker id (retiring processes included).\n"
	    "# TYPE starterd_worker_connections gauge\n");
	for (i = 0; i <= STARTERD_MAX_WORKERS; i++)
		if (seen[i])
			rv |= buf_appendf(b, "starterd_worker_connections"
			    "{worker=\"%zu\"} %ld\n", i, conns[i]);
	rv |= buf_appendf(b, "# HELP starterd_build_info The version of "
	    "starterd; the value is always 1.\n"
	    "# TYPE starterd_build_info gauge\n"
	    "starterd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	rv |= metrics_process(b);
	return (rv ? -1 : 0);
}
