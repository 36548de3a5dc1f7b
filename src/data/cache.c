/*
 * cache.c: the shared-memory response cache, and the invalidation entry
 * point for NOTIFY "starterd" payloads (routed by data/channels.c).
 *
 * What is cached: the bytes and ETag of a 200 GET representation, under a
 * key made of everything that shapes those bytes (resource, canonical
 * query, scheme and Host of the links).  A repeated GET, or a conditional
 * one, is answered from here without a database round trip.
 *
 * Coherence: version counters live in shared memory, CACHE_TABLES of
 * them, a table's being the one its name hashes to (the name without its
 * schema, so that "public.t" and "t" agree; two tables sharing a counter
 * only invalidate each other more often).  A worker reads the table's
 * version *before* it sends the query whose result it will store, and
 * stores the entry under that version (the counter's index rides in its
 * top byte); a lookup serves an entry only if its version is still the
 * current one.  The counter is
 * bumped by the worker that committed a write (after the commit: read your
 * writes) and by every worker that receives the table's NOTIFY, which the
 * triggers of migration 002 send for any change by anyone (psql, COPY,
 * TRUNCATE, another instance).  A result computed from data older than a
 * bump therefore can never be served as current.
 *
 * Replicas (db.c, --read-dsn): a replica may answer with data older than
 * an invalidation this instance has already seen, and stored under the
 * version after that bump the old data would be served as current.  So
 * each counter also keeps the primary's WAL position by which its last
 * invalidation happened (inval_lsn): a NOTIFY marks the table pending for
 * this process (pend, one bit per process) before it bumps the version,
 * the listening link probes the primary's position, and the answer
 * (cache_synced) raises inval_lsn and clears the bit.  A replica's answer
 * is stored only if no process has that table pending and the replica's
 * replay position, read before the data in the same batch, has reached
 * inval_lsn.  A read on a primary is as new as its own query and stores
 * as before.  Our own writes raise inval_lsn to their commit position.
 *
 * valid_through is the highest position through which every change has
 * been announced to this instance (a probe's answer: PostgreSQL delivers
 * the notifications of transactions committed before a statement ahead of
 * its ReadyForQuery).  A read that must see position L is answered from
 * here only if valid_through is past L (api_resource.c); it is reset when
 * a listening link is lost (after a failover positions may go back).
 *
 * Layout: the region is cut into CACHE_STRIPES stripes, each a small cache
 * of its own: a robust process-shared mutex, hash buckets, entry slots and
 * a pool of fixed 256-byte chunks; an entry's key and body are a chain of
 * chunks.  Eviction is CLOCK over the entry slots (a hit sets the
 * reference bit, the hand clears it or evicts).  Everything is indexed by
 * int32 offsets, never pointers.
 *
 * Worker death: the mutexes are PTHREAD_MUTEX_ROBUST.  If a worker dies
 * holding one (SIGKILL in mid-store), the next locker gets EOWNERDEAD and
 * empties that stripe before marking the mutex consistent, so a half-
 * written entry is never read and the stripe is never left locked.  The
 * critical sections are short (a hash walk and one memcpy of at most one
 * body), so a mutex costs less than a lock-free scheme would in copies.
 *
 * A worker that is stopped, not dead (SIGSTOP, a debugger, a page-fault
 * storm), keeps its lock: nobody may wait for it unboundedly.  A lock is
 * waited for at most CACHE_LOCK_WAIT_MS; past that the lookup is a miss
 * and the store is skipped, and this process does not wait for that
 * stripe again for CACHE_LOCK_SKIP_MS (it only tries it), so a stuck
 * holder costs one bounded wait, not one per request.  The master kills
 * a worker whose heartbeat stops (master.c, worker_timeout); the robust
 * mutex then recovers the stripe.
 */
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "starterd.h"

#define CACHE_STRIPES		16
#define CACHE_TABLES		64	/* version counters */
#define CACHE_SLOT_SHIFT	56	/* a version's counter index */
#define CACHE_CHUNK		256
#define CACHE_MIN_SIZE		(1024 * 1024)
#define CACHE_MAX_ENTRY_FRAC	4	/* an entry takes <= 1/4 of a stripe */
#define CACHE_LOCK_WAIT_MS	50	/* longest wait for a stripe lock */
#define CACHE_LOCK_SKIP_MS	1000	/* then only tried, for this long */
#define CACHE_MAX_PROCS		(4 * STARTERD_MAX_WORKERS)	/* master.c */
#define CACHE_PROC_WORDS	(CACHE_MAX_PROCS / 64)
#define CACHE_NEXT_PROBE	UINT64_MAX	/* cache_need: not sent yet */

struct cache_entry {
	uint64_t	 hash;
	uint64_t	 version;
	int64_t		 stored;	/* CLOCK_REALTIME seconds, for Age */
	int32_t		 next;		/* bucket chain or free list */
	int32_t		 first;		/* first chunk */
	uint32_t	 keylen;
	uint32_t	 bodylen;
	uint32_t	 nchunks;
	uint8_t		 used;
	uint8_t		 ref;		/* CLOCK reference bit */
	char		 etag[40];
};

struct cache_stripe {
	pthread_mutex_t	 mtx;
	int32_t		 free_entry;
	int32_t		 free_chunk;
	int32_t		 nfree_chunks;
	int32_t		 hand;
	uint64_t	 hits, misses, stores, evictions, invalidations;
	uint64_t	 stale, resets;
};

struct cache_shm {
	_Atomic uint64_t version[CACHE_TABLES];	/* per table hash */
	_Atomic uint64_t inval_lsn[CACHE_TABLES];	/* see the top */
	_Atomic uint64_t pend[CACHE_TABLES][CACHE_PROC_WORDS];
	_Atomic uint64_t valid_through;
	int32_t		 nbuckets;	/* per stripe */
	int32_t		 nentries;
	int32_t		 nchunks;
	size_t		 stripe_bytes;
	size_t		 off_buckets, off_entries, off_next, off_chunks;
};

static struct cache_shm	*cache;
/* This process: until when each stripe is only tried (ms). */
static int64_t		 cache_skip_until[CACHE_STRIPES];
/* This process: its bit in pend, and the probe each pending table waits
 * for (0: none; CACHE_NEXT_PROBE: the next one sent). */
static int		 cache_proc = -1;
static uint64_t		 cache_need[CACHE_TABLES];
static uint64_t		 cache_probes_sent, cache_probes_answered;
static int		 cache_rebase;	/* the next position replaces */
static uint64_t		 cache_rebase_from[CACHE_TABLES];

/* ---------------------------------------------------------------- layout */

static struct cache_stripe *
cache_stripe(int i)
{
	return ((struct cache_stripe *)((char *)(cache + 1) +
	    (size_t)i * cache->stripe_bytes));
}

#define S_BUCKETS(s)	((int32_t *)((char *)(s) + cache->off_buckets))
#define S_ENTRIES(s)	((struct cache_entry *)((char *)(s) + \
			    cache->off_entries))
#define S_NEXT(s)	((int32_t *)((char *)(s) + cache->off_next))
#define S_CHUNK(s, i)	((char *)(s) + cache->off_chunks + \
			    (size_t)(i) * CACHE_CHUNK)

static size_t
cache_align(size_t n)
{
	return ((n + 63) & ~(size_t)63);
}

size_t
cache_shm_size(void)
{
	if (conf->cache_size <= 0)
		return (0);
	if (conf->cache_size < CACHE_MIN_SIZE)
		return (CACHE_MIN_SIZE);
	return ((size_t)conf->cache_size);
}

/* Empty a stripe: every entry and chunk on its free list. */
static void
cache_stripe_reset(struct cache_stripe *s)
{
	struct cache_entry	*e = S_ENTRIES(s);
	int32_t			*b = S_BUCKETS(s), *nx = S_NEXT(s);
	int32_t			 i;

	for (i = 0; i < cache->nbuckets; i++)
		b[i] = -1;
	for (i = 0; i < cache->nentries; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].next = i + 1 < cache->nentries ? i + 1 : -1;
	}
	for (i = 0; i < cache->nchunks; i++)
		nx[i] = i + 1 < cache->nchunks ? i + 1 : -1;
	s->free_entry = 0;
	s->free_chunk = 0;
	s->nfree_chunks = cache->nchunks;
	s->hand = 0;
}

/* Master, before fork: carve the region, initialise the mutexes. */
int
cache_shm_attach(void *p)
{
	pthread_mutexattr_t	 ma;
	size_t			 total = cache_shm_size(), per, hdr;
	size_t			 per_chunk;
	int			 i;

	if (p == NULL || total == 0) {
		cache = NULL;
		return (0);
	}
	cache = p;
	per = (total - sizeof(*cache)) / CACHE_STRIPES;
	per &= ~(size_t)63;
	hdr = cache_align(sizeof(struct cache_stripe));
	/*
	 * Per chunk: its bytes, its next link, half an entry slot and half
	 * a bucket (one entry per two chunks on average: an item fits one
	 * chunk, a page of 100 items takes about fifty).
	 */
	per_chunk = CACHE_CHUNK + sizeof(int32_t) +
	    (sizeof(struct cache_entry) + sizeof(int32_t)) / 2 + 1;
	cache->nchunks = (int32_t)((per - hdr - 4 * 64) / per_chunk);
	cache->nentries = cache->nchunks / 2;
	cache->nbuckets = cache->nentries;
	cache->off_buckets = hdr;
	cache->off_entries = cache_align(cache->off_buckets +
	    (size_t)cache->nbuckets * sizeof(int32_t));
	cache->off_next = cache_align(cache->off_entries +
	    (size_t)cache->nentries * sizeof(struct cache_entry));
	cache->off_chunks = cache_align(cache->off_next +
	    (size_t)cache->nchunks * sizeof(int32_t));
	cache->stripe_bytes = per;
	if (cache->nentries < 4 || cache->off_chunks +
	    (size_t)cache->nchunks * CACHE_CHUNK > per)
		return (-1);

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	for (i = 0; i < CACHE_STRIPES; i++) {
		struct cache_stripe *s = cache_stripe(i);

		if (pthread_mutex_init(&s->mtx, &ma) != 0)
			return (-1);
		cache_stripe_reset(s);
	}
	pthread_mutexattr_destroy(&ma);
	log_debug("cache: %d stripes x %d entries, %d chunks of %d bytes",
	    CACHE_STRIPES, cache->nentries, cache->nchunks, CACHE_CHUNK);
	return (0);
}

static int
cache_lock(struct cache_stripe *s)
{
	struct timespec	 ts;
	int64_t		*skip, now;
	int		 rv;

	skip = &cache_skip_until[((char *)s - (char *)(cache + 1)) /
	    (ptrdiff_t)cache->stripe_bytes];
	if ((rv = pthread_mutex_trylock(&s->mtx)) == EBUSY) {
		now = now_ms();
		if (now < *skip)
			return (-1);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += CACHE_LOCK_WAIT_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		rv = pthread_mutex_clocklock(&s->mtx, CLOCK_MONOTONIC, &ts);
		if (rv == ETIMEDOUT) {
			*skip = now_ms() + CACHE_LOCK_SKIP_MS;
			log_warnx("cache: a stripe lock was held for more than "
			    "%d ms; skipping that stripe for %d ms",
			    CACHE_LOCK_WAIT_MS, CACHE_LOCK_SKIP_MS);
			return (-1);
		}
	}
	if (rv == EOWNERDEAD) {
		/* Its owner died inside: trust nothing in it. */
		cache_stripe_reset(s);
		s->resets++;
		pthread_mutex_consistent(&s->mtx);
		log_warnx("cache: a worker died holding a stripe; emptied it");
		return (0);
	}
	return (rv == 0 ? 0 : -1);
}

static void
cache_unlock(struct cache_stripe *s)
{
	pthread_mutex_unlock(&s->mtx);
}

/* FNV-1a, 64 bits: the stripe, the bucket and a quick key filter. */
static uint64_t
cache_hash(const char *k, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return (h);
}

/* ------------------------------------------------------------- entries */

/* Compare or copy bytes [off, off+len) of an entry's chunk chain. */
static int
cache_chain_io(struct cache_stripe *s, const struct cache_entry *e,
    size_t off, size_t len, const char *cmp, struct buf *out)
{
	int32_t	 c = e->first, *nx = S_NEXT(s);
	size_t	 pos = 0, n, skip;

	while (c != -1 && len > 0) {
		if (pos + CACHE_CHUNK <= off) {
			pos += CACHE_CHUNK;
			c = nx[c];
			continue;
		}
		skip = off > pos ? off - pos : 0;
		n = CACHE_CHUNK - skip;
		if (n > len)
			n = len;
		if (cmp != NULL) {
			if (memcmp(S_CHUNK(s, c) + skip, cmp, n) != 0)
				return (-1);
			cmp += n;
		} else if (buf_append(out, S_CHUNK(s, c) + skip, n) == -1)
			return (-1);
		off += n;
		len -= n;
		pos += CACHE_CHUNK;
		c = nx[c];
	}
	return (len == 0 ? 0 : -1);
}

static void
cache_evict(struct cache_stripe *s, int32_t idx)
{
	struct cache_entry	*e = S_ENTRIES(s), *x = &e[idx];
	int32_t			*b = &S_BUCKETS(s)[x->hash %
				    (uint64_t)cache->nbuckets];
	int32_t			*nx = S_NEXT(s), c, last;

	while (*b != -1 && *b != idx)
		b = &e[*b].next;
	if (*b == idx)
		*b = x->next;
	if ((c = x->first) != -1) {
		for (last = c; nx[last] != -1; last = nx[last])
			;
		nx[last] = s->free_chunk;
		s->free_chunk = c;
		s->nfree_chunks += (int32_t)x->nchunks;
	}
	memset(x, 0, sizeof(*x));
	x->first = -1;
	x->next = s->free_entry;
	s->free_entry = idx;
}

static int32_t
cache_find(struct cache_stripe *s, uint64_t h, const char *key, size_t klen)
{
	struct cache_entry	*e = S_ENTRIES(s);
	int32_t			 i = S_BUCKETS(s)[h % (uint64_t)cache->nbuckets];

	for (; i != -1; i = e[i].next)
		if (e[i].hash == h && e[i].keylen == klen &&
		    cache_chain_io(s, &e[i], 0, klen, key, NULL) == 0)
			return (i);
	return (-1);
}

/* CLOCK: clear reference bits until an unreferenced entry is found. */
static int
cache_evict_one(struct cache_stripe *s)
{
	struct cache_entry	*e = S_ENTRIES(s);
	int32_t			 n;

	for (n = 0; n < 2 * cache->nentries + 1; n++) {
		int32_t i = s->hand;

		s->hand = (s->hand + 1) % cache->nentries;
		if (!e[i].used)
			continue;
		if (e[i].ref) {
			e[i].ref = 0;
			continue;
		}
		cache_evict(s, i);
		s->evictions++;
		return (0);
	}
	return (-1);
}

/* --------------------------------------------------------------- API */

int
cache_enabled(void)
{
	return (cache != NULL);
}

static int
cache_table_slot(const char *table)
{
	const char	*dot = strrchr(table, '.');

	if (dot != NULL)
		table = dot + 1;
	return ((int)(cache_hash(table, strlen(table)) % CACHE_TABLES));
}

/* The current version under which v was taken. */
static uint64_t
cache_current(uint64_t v)
{
	int	i = (int)(v >> CACHE_SLOT_SHIFT);

	if (i < 0 || i >= CACHE_TABLES)
		return (UINT64_MAX);
	return (((uint64_t)i << CACHE_SLOT_SHIFT) |
	    atomic_load(&cache->version[i]));
}

/*
 * The version of table to record before sending a query whose result is
 * stored.
 */
uint64_t
cache_version(const char *table)
{
	int	i;

	if (cache == NULL)
		return (0);
	i = cache_table_slot(table);
	return (((uint64_t)i << CACHE_SLOT_SHIFT) |
	    atomic_load(&cache->version[i]));
}

/*
 * Look key up.  On a hit the body is appended to body, etag filled, *age
 * set to the entry's age in seconds and 0 returned.  allow_stale serves an
 * entry whose version moved (the database is unreachable: stale-if-error);
 * *stale says whether that happened.
 */
int
cache_lookup(const char *key, size_t klen, int allow_stale, struct buf *body,
    char *etag, size_t etaglen, long long *age, int *stale)
{
	struct cache_stripe	*s;
	struct cache_entry	*e;
	uint64_t		 h;
	int32_t			 i;
	int			 rv = -1;

	*stale = 0;
	if (cache == NULL)
		return (-1);
	h = cache_hash(key, klen);
	s = cache_stripe((int)(h % CACHE_STRIPES));
	if (cache_lock(s) == -1)
		return (-1);
	if ((i = cache_find(s, h, key, klen)) == -1) {
		s->misses++;
		goto done;
	}
	e = &S_ENTRIES(s)[i];
	if (e->version != cache_current(e->version)) {
		if (!allow_stale) {
			cache_evict(s, i);
			s->invalidations++;
			s->misses++;
			goto done;
		}
		*stale = 1;
		s->stale++;
	}
	/* One allocation for the body, not a doubling per chunk. */
	if (buf_reserve(body, e->bodylen) == -1 ||
	    cache_chain_io(s, e, e->keylen, e->bodylen, NULL, body) == -1) {
		s->misses++;
		goto done;
	}
	e->ref = 1;
	strlcpy(etag, e->etag, etaglen);
	*age = (long long)(time(NULL) - e->stored);
	if (*age < 0)
		*age = 0;
	s->hits++;
	rv = 0;
done:
	cache_unlock(s);
	return (rv);
}

/*
 * May data that is at least as new as position lsn fill table slot i?
 * Not while a process waits for the position of an invalidation of it,
 * nor from before the last one (see the top comment).
 */
static int
cache_fill_ok(int i, uint64_t lsn)
{
	int	w;

	if (lsn == DB_LSN_FRESH)
		return (1);
	for (w = 0; w < CACHE_PROC_WORDS; w++)
		if (atomic_load(&cache->pend[i][w]) != 0)
			return (0);
	return (lsn >= atomic_load(&cache->inval_lsn[i]));
}

/*
 * Store a 200 representation computed from data read at version v, at
 * least as new as position lsn of the primary's WAL (DB_LSN_FRESH: read
 * on a primary).  1 if it was stored.
 */
int
cache_store(const char *key, size_t klen, uint64_t v, uint64_t lsn,
    const char *body, size_t blen, const char *etag)
{
	struct cache_stripe	*s;
	struct cache_entry	*e;
	uint64_t		 h;
	size_t			 total, off, n;
	int32_t			 i, c, need, prev = -1, *nx;
	int			 stored = 0;

	if (cache == NULL || v != cache_current(v))
		return (0);	/* already outdated */
	if (!cache_fill_ok((int)(v >> CACHE_SLOT_SHIFT), lsn))
		return (0);	/* maybe older than an invalidation */
	total = klen + blen;
	need = (int32_t)((total + CACHE_CHUNK - 1) / CACHE_CHUNK);
	if (need == 0 || need > cache->nchunks / CACHE_MAX_ENTRY_FRAC)
		return (0);
	h = cache_hash(key, klen);
	s = cache_stripe((int)(h % CACHE_STRIPES));
	if (cache_lock(s) == -1)
		return (0);
	if ((i = cache_find(s, h, key, klen)) != -1)
		cache_evict(s, i);
	while (s->nfree_chunks < need || s->free_entry == -1)
		if (cache_evict_one(s) == -1)
			goto done;
	i = s->free_entry;
	e = &S_ENTRIES(s)[i];
	s->free_entry = e->next;
	memset(e, 0, sizeof(*e));
	nx = S_NEXT(s);
	e->first = -1;
	for (off = 0; off < total; off += n) {
		c = s->free_chunk;
		s->free_chunk = nx[c];
		s->nfree_chunks--;
		nx[c] = -1;
		if (prev == -1)
			e->first = c;
		else
			nx[prev] = c;
		prev = c;
		n = total - off > CACHE_CHUNK ? CACHE_CHUNK : total - off;
		/* key bytes first, then body bytes */
		if (off + n <= klen)
			memcpy(S_CHUNK(s, c), key + off, n);
		else if (off >= klen)
			memcpy(S_CHUNK(s, c), body + (off - klen), n);
		else {
			memcpy(S_CHUNK(s, c), key + off, klen - off);
			memcpy(S_CHUNK(s, c) + (klen - off), body,
			    n - (klen - off));
		}
	}
	e->nchunks = (uint32_t)need;
	e->hash = h;
	e->version = v;
	e->stored = (int64_t)time(NULL);
	e->keylen = (uint32_t)klen;
	e->bodylen = (uint32_t)blen;
	e->used = 1;
	e->ref = 0;
	strlcpy(e->etag, etag, sizeof(e->etag));
	e->next = S_BUCKETS(s)[h % (uint64_t)cache->nbuckets];
	S_BUCKETS(s)[h % (uint64_t)cache->nbuckets] = i;
	s->stores++;
	stored = 1;
done:
	cache_unlock(s);
	return (stored);
}

#ifdef CACHE_TEST_HOOKS
/*
 * t/unit/cache_test only, never in starterd: take the lock of key's stripe
 * and keep it, as a worker stopped inside a lookup would.
 */
int
cache_test_hold(const char *key, size_t klen)
{
	uint64_t	h = cache_hash(key, klen);

	return (cache_lock(cache_stripe((int)(h % CACHE_STRIPES))));
}
#endif

void
cache_stats(struct cache_stats *st)
{
	int	i;

	memset(st, 0, sizeof(*st));
	if (cache == NULL)
		return;
	for (i = 0; i < CACHE_STRIPES; i++) {
		struct cache_stripe *s = cache_stripe(i);

		if (cache_lock(s) == -1)
			continue;
		st->hits += s->hits;
		st->misses += s->misses;
		st->stores += s->stores;
		st->evictions += s->evictions;
		st->invalidations += s->invalidations;
		st->stale += s->stale;
		st->resets += s->resets;
		cache_unlock(s);
	}
	st->version = 0;
	for (i = 0; i < CACHE_TABLES; i++)
		st->version += atomic_load(&cache->version[i]);
}

static void
cache_max(_Atomic uint64_t *p, uint64_t v)
{
	uint64_t	o = atomic_load(p);

	while (o < v && !atomic_compare_exchange_weak(p, &o, v))
		;
}

/* Slot i waits for this process's next probe. */
static void
cache_pend(int i)
{
	if (cache_proc < 0)
		return;
	atomic_fetch_or(&cache->pend[i][cache_proc / 64],
	    (uint64_t)1 << (cache_proc % 64));
	cache_need[i] = CACHE_NEXT_PROBE;
}

static void
cache_unpend(int i)
{
	if (cache_proc < 0)
		return;
	atomic_fetch_and(&cache->pend[i][cache_proc / 64],
	    ~((uint64_t)1 << (cache_proc % 64)));
	cache_need[i] = 0;
}

/*
 * Our own committed write, at position lsn (0: unknown): replicas must
 * have replayed it before they fill the table again.
 */
int
cache_invalidate(const char *table, uint64_t lsn)
{
	int	i;

	if (cache == NULL)
		return (0);
	i = cache_table_slot(table);
	if (lsn != 0)
		cache_max(&cache->inval_lsn[i], lsn);
	atomic_fetch_add(&cache->version[i], 1);
	return (0);
}

/*
 * A NOTIFY said table changed (NULL: anything may have, notifications
 * were missed): pending until the listening link's next position, then
 * bumped.
 */
void
cache_notified(const char *table)
{
	int	i;

	if (cache == NULL)
		return;
	if (table != NULL) {
		i = cache_table_slot(table);
		cache_pend(i);
		atomic_fetch_add(&cache->version[i], 1);
		return;
	}
	atomic_store(&cache->valid_through, 0);
	for (i = 0; i < CACHE_TABLES; i++) {
		cache_pend(i);
		atomic_fetch_add(&cache->version[i], 1);
	}
}

/*
 * The listening link is up without having missed anything we know of:
 * still, replicas fill nothing until its first position says from where.
 */
void
cache_listen_up(void)
{
	int	i;

	if (cache == NULL)
		return;
	for (i = 0; i < CACHE_TABLES; i++)
		cache_pend(i);
}

/* It is lost: positions it gave may not hold on the next primary. */
void
cache_listen_down(void)
{
	int	i;

	/* Its probes in flight will not answer: the next one covers them. */
	cache_probes_answered = cache_probes_sent;
	/*
	 * The next primary's positions may stay below the lost one's for a
	 * long while (WAL the old one wrote and no replica received, lost
	 * with it), and raised only, inval_lsn would refuse every replica's
	 * fill until then.  The next link's first position replaces it:
	 * what that primary holds is what there is to be as new as.  Only
	 * where nobody raised it since (a write of ours on the next primary,
	 * another process's position): those stand.
	 */
	if (cache != NULL) {
		cache_rebase = 1;
		for (i = 0; i < CACHE_TABLES; i++)
			cache_rebase_from[i] =
			    atomic_load(&cache->inval_lsn[i]);
		atomic_store(&cache->valid_through, 0);
	}
}

/*
 * A probe's answer is being read (db.c: after every NOTIFY that came
 * before it): it covers every table pending so far.
 */
void
cache_probe_sent(void)
{
	int	i;

	cache_probes_sent++;
	for (i = 0; i < CACHE_TABLES; i++)
		if (cache_need[i] == CACHE_NEXT_PROBE)
			cache_need[i] = cache_probes_sent;
}

/* Its answer (probes answer in order): the primary was at position v. */
void
cache_synced(uint64_t v)
{
	int	i;

	cache_probes_answered++;
	if (cache == NULL)
		return;
	for (i = 0; i < CACHE_TABLES; i++) {
		if (cache_need[i] == 0 || cache_need[i] > cache_probes_answered)
			continue;
		if (!cache_rebase || !atomic_compare_exchange_strong(
		    &cache->inval_lsn[i], &cache_rebase_from[i], v))
			cache_max(&cache->inval_lsn[i], v);
		cache_unpend(i);
	}
	cache_rebase = 0;
	cache_max(&cache->valid_through, v);
}

/*
 * Through which position every change has been announced here: a read
 * that must see position L may be answered from the cache if this is
 * past L.
 */
uint64_t
cache_valid_through(void)
{
	return (cache != NULL ? atomic_load(&cache->valid_through) : 0);
}

/* Master, in the child: this process is proc; nothing is pending. */
void
cache_proc_start(int proc)
{
	if (proc < 0 || proc >= CACHE_MAX_PROCS)
		return;
	cache_proc_end(proc);
	cache_proc = proc;
}

/* Master: process proc is gone, and its pending probes with it. */
void
cache_proc_end(int proc)
{
	int	i;

	if (cache == NULL || proc < 0 || proc >= CACHE_MAX_PROCS)
		return;
	for (i = 0; i < CACHE_TABLES; i++)
		atomic_fetch_and(&cache->pend[i][proc / 64],
		    ~((uint64_t)1 << (proc % 64)));
}
