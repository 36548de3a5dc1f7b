/*
 * auth.c: HTTP Basic authentication against starter_users.
 *
 * argon2id costs tens of milliseconds of CPU by design, so it never runs
 * on the event loop: each worker has one verification thread fed through a
 * queue, which reports back through an eventfd in the worker's epoll set.
 * While argon2 runs, the loop keeps serving everyone else.
 *
 * Verified credentials are remembered for auth_cache_ttl seconds under a
 * keyed hash (HMAC-SHA-256 with a secret drawn at start), never as the
 * password itself; a NOTIFY on starter_users (any change to any user)
 * flushes them.  An unknown user is verified against a dummy hash so that
 * it costs the same time as a wrong password.
 *
 * Tokens (token.c) come as "Authorization: Bearer TOKEN" or as a Basic
 * username with an empty password, the original client's convention;
 * --auth password|token|both says which kinds /api/ accepts, and a
 * ROUTE_PASSWORD route (/auth/request-token) takes a password only.
 *
 * Brute force (ratelimit.c): on a cache miss the address and the username
 * are charged one failure before the database lookup and argon2, and
 * refunded if the password was right; past the limit the answer is 429
 * at once.  After a successful check, a hash made with weaker parameters
 * than the configured ones (or a werkzeug pbkdf2 hash) is replaced on the
 * verification thread by a new argon2id hash, stored only if the old one
 * is still current (starterd_rehash(), migration 003).
 *
 * Every failed check takes at least as long as a check against the dummy
 * hash (timed on the verification thread at start, then by every unknown
 * user's check, so that it follows the load): a user whose stored
 * hash is cheaper (old parameters, pbkdf2) answers a wrong password no
 * faster than an unknown user.  The padding sleeps on that thread, never
 * on the event loop.
 */
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "starterd.h"
#include "password.h"

#define AUTH_MAX_HEADER		1024
#define AUTH_CACHE_SLOTS	4096	/* power of two */
#define AUTH_KEYLEN		MAC_LEN
#define AUTH_MAX_WAITERS	64	/* clients sharing one verification */
#define AUTH_THREAD_NICE	10	/* argon2 yields to the event loop */
#define AUTH_DUMMY_RING		8	/* dummy check times kept */

struct auth_job {
	TAILQ_ENTRY(auth_job)	 entry;
	struct client		*c;
	char			 user[65];
	char			*pass;
	char			 hash[PASSWORD_PHC_MAX];
	int			 user_id;
	int			 dummy;		/* unknown user */
	int			 result;
	uint64_t		 gen;		/* users generation at start */
	unsigned char		 key[AUTH_KEYLEN];
	int			 charged;	/* brute-force counters */
	int			 known;		/* re-verifying a cached slot */
	int			 slow;		/* ms: the user is past limit */
	int64_t			 not_before;	/* monotonic us: argon2 waits */
	char			 rladdr[RATELIMIT_ADDR_MAX];
	int			 rehash;	/* newhash is to be stored */
	char			 newhash[PASSWORD_PHC_MAX];
	/* single flight: clients with the same credentials wait for it */
	TAILQ_ENTRY(auth_job)	 inflight;
	struct client		*waiters[AUTH_MAX_WAITERS];
	int			 nwaiters;
	int			 refresh;	/* background re-check, no client */
};
TAILQ_HEAD(auth_jobs, auth_job);

/*
 * A credential cache slot in shared memory, guarded by a seqlock
 * (lib/seqlock.h, shared with the token version cache): readers never
 * wait, and a worker killed mid-write leaves a slot the next writer takes
 * over.  Entries are valid only for the generation they were written in:
 * a change to starter_users bumps the generation, which drops them all.
 */
struct auth_entry {
	uint64_t	 gen;
	int64_t		 expires;	/* CLOCK_MONOTONIC ms, system-wide */
	unsigned char	 key[AUTH_KEYLEN];
	int		 user_id;
	char		 user[65];
};

struct auth_slot {
	struct seqlock	 lock;
	struct auth_entry e;
};

struct auth_shm {
	_Atomic uint64_t gen;
	_Atomic uint64_t hits, misses;
	unsigned char	 secret[32];	/* keys the HMAC of credentials */
	struct auth_slot slots[AUTH_CACHE_SLOTS];
};

static pthread_t	 auth_thread;
static pthread_mutex_t	 auth_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 auth_cond;	/* on CLOCK_MONOTONIC: auth_init() */
static struct auth_jobs	 auth_todo = TAILQ_HEAD_INITIALIZER(auth_todo);
static struct auth_jobs	 auth_done = TAILQ_HEAD_INITIALIZER(auth_done);
static int		 auth_stop;
static int		 auth_efd = -1;
static char		 auth_dummy[PASSWORD_PHC_MAX];
static int64_t		 auth_dummy_us;	/* its verification time, measured */
/* The verification thread's last dummy check times (auth_dummy_note()). */
static int64_t		 auth_dummy_ring[AUTH_DUMMY_RING];
static int		 auth_dummy_n, auth_dummy_i;
/* This worker's verifications from lookup to answer, by credential key. */
static struct auth_jobs	 auth_inflight = TAILQ_HEAD_INITIALIZER(auth_inflight);
static struct auth_shm	*auth_shm;
char			 auth_evtag;

size_t
auth_shm_size(void)
{
	return (sizeof(struct auth_shm));
}

/* Master, before fork: one secret for all workers of this instance. */
int
auth_shm_attach(void *p)
{
	if (p == NULL)
		return (-1);
	auth_shm = p;
	arc4random_buf(auth_shm->secret, sizeof(auth_shm->secret));
	return (0);
}

static void
auth_job_free(struct auth_job *j)
{
	/* Anything but a completed failed check is refunded. */
	if (j->charged || j->slow)
		ratelimit_auth_end(j->rladdr, j->user, j->charged, j->slow);
	if (j->pass != NULL) {
		explicit_bzero(j->pass, strlen(j->pass));
		free(j->pass);
	}
	explicit_bzero(j, sizeof(*j));
	free(j);
}

static void	auth_set(struct client *, int, const char *);

static struct auth_job *
auth_inflight_find(const unsigned char *key)
{
	struct auth_job	*j;

	TAILQ_FOREACH(j, &auth_inflight, inflight)
		if (CRYPTO_memcmp(j->key, key, AUTH_KEYLEN) == 0)
			return (j);
	return (NULL);
}

/*
 * The verification is over: answer its client and every client that
 * waited on it with the same credentials, then free it.
 */
static void
auth_job_finish(struct auth_job *j, int result)
{
	struct client	*c;
	int		 i;

	TAILQ_REMOVE(&auth_inflight, j, inflight);
	for (i = -1; i < j->nwaiters; i++) {
		c = i < 0 ? j->c : j->waiters[i];
		if (c == NULL || (c = client_release(c)) == NULL)
			continue;
		if (result == AUTH_OK)
			auth_set(c, j->user_id, j->user);
		client_auth_result(c, result);
	}
	auth_job_free(j);
}

/*
 * Verification thread, after a successful check: make a stronger hash if
 * the stored one is weaker than the configured parameters.
 */
static void
auth_rehash(struct auth_job *j)
{
	struct password_params	pp;

	pp.t_cost = (uint32_t)conf->argon2_time;
	pp.m_cost_kib = (uint32_t)conf->argon2_memory;
	pp.parallelism = 1;
	if (password_needs_rehash(j->hash, &pp) == 0)
		return;
	if (password_hash(j->pass, &pp, j->newhash, sizeof(j->newhash)) == 0)
		j->rehash = 1;
}

static void
auth_rehash_cb(struct client *c, PGresult *res, void *arg)
{
	(void)c;
	(void)arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		log_warnx("password rehash: %s", res ?
		    PQresultErrorMessage(res) : "connection lost");
	else if (strcmp(PQgetvalue(res, 0, 0), "1") == 0)
		log_info("password hash upgraded to the configured parameters");
}

/* Event loop: store the new hash of j's user (if still the old one). */
static void
auth_rehash_store(struct auth_job *j)
{
	char		 id[16];
	const char	*p[3] = { id, j->newhash, j->hash };

	snprintf(id, sizeof(id), "%d", j->user_id);
	(void)db_submit(NULL, DB_USER_REHASH, 3, p, auth_rehash_cb, NULL);
}

/*
 * Verification thread: one more time a dummy check took; auth_dummy_us
 * becomes the median of the last AUTH_DUMMY_RING, so that it follows the
 * machine's load as the unknown users' own time does, and one outlier
 * does not move it.
 */
static void
auth_dummy_note(int64_t d)
{
	int64_t	 v[AUTH_DUMMY_RING], t;
	int	 i, k;

	auth_dummy_ring[auth_dummy_i] = d;
	auth_dummy_i = (auth_dummy_i + 1) % AUTH_DUMMY_RING;
	if (auth_dummy_n < AUTH_DUMMY_RING)
		auth_dummy_n++;
	memcpy(v, auth_dummy_ring, sizeof(v));
	for (i = 1; i < auth_dummy_n; i++)	/* insertion sort */
		for (k = i; k > 0 && v[k - 1] > v[k]; k--) {
			t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	auth_dummy_us = v[auth_dummy_n / 2];
}

/*
 * Verification thread, at start: how long a check against the dummy hash
 * takes here (the second of two: the first pays for cold memory).  Each
 * check of an unknown user then adds its own time (auth_main()).
 */
static void
auth_dummy_time(void)
{
	int64_t	 t0;

	t0 = now_us();
	(void)password_verify(auth_dummy, "not the password");
	t0 = now_us();
	(void)password_verify(auth_dummy, "not the password");
	auth_dummy_note(now_us() - t0);
}

/* Verification thread: sleep until a failed check took the dummy's time. */
static void
auth_pad(int64_t t0)
{
	struct timespec	 ts;
	int64_t		 left = auth_dummy_us - (now_us() - t0);

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)(left / 1000000);
	ts.tv_nsec = (long)(left % 1000000) * 1000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Verification thread, with auth_mtx held: the first job whose time has
 * come (a slowed one waits, the others pass it), or NULL and in *wake the
 * monotonic time in us of the earliest waiting one (0 if none).
 */
static struct auth_job *
auth_next(int64_t *wake)
{
	struct auth_job	*j;
	int64_t		 now = now_us();

	*wake = 0;
	TAILQ_FOREACH(j, &auth_todo, entry) {
		if (j->not_before <= now) {
			TAILQ_REMOVE(&auth_todo, j, entry);
			return (j);
		}
		if (*wake == 0 || j->not_before < *wake)
			*wake = j->not_before;
	}
	return (NULL);
}

static void *
auth_main(void *arg)
{
	struct auth_job	*j;
	uint64_t	 one = 1;
	int64_t		 t0, wake;
	struct timespec	 ts;

	(void)arg;
	/*
	 * Linux nice values are per thread: a lower priority here keeps a
	 * burst of password checks from taking the CPU away from the event
	 * loop, which serves every client with a cached credential or token.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	    AUTH_THREAD_NICE);
	auth_dummy_time();
	pthread_mutex_lock(&auth_mtx);
	for (;;) {
		while (!auth_stop && (j = auth_next(&wake)) == NULL) {
			if (wake == 0) {
				pthread_cond_wait(&auth_cond, &auth_mtx);
				continue;
			}
			ts.tv_sec = (time_t)(wake / 1000000);
			ts.tv_nsec = (long)(wake % 1000000) * 1000;
			(void)pthread_cond_timedwait(&auth_cond, &auth_mtx,
			    &ts);
		}
		if (auth_stop)
			break;
		pthread_mutex_unlock(&auth_mtx);

		t0 = now_us();
		j->result = password_verify(j->dummy ? auth_dummy : j->hash,
		    j->pass) == 0 && !j->dummy ? AUTH_OK : AUTH_FAIL;
		if (j->result == AUTH_OK)
			auth_rehash(j);
		else if (j->dummy)
			auth_dummy_note(now_us() - t0);
		else
			auth_pad(t0);

		pthread_mutex_lock(&auth_mtx);
		TAILQ_INSERT_TAIL(&auth_done, j, entry);
		(void)write(auth_efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&auth_mtx);
	return (NULL);
}

int
auth_init(void)
{
	struct password_params	 pp;
	pthread_condattr_t	 ca;
	char			 pw[33];

	/* The dummy hash: same parameters as real ones, unknown password. */
	pp.t_cost = (uint32_t)conf->argon2_time;
	pp.m_cost_kib = (uint32_t)conf->argon2_memory;
	pp.parallelism = 1;
	arc4random_buf(pw, sizeof(pw) - 1);
	for (size_t i = 0; i < sizeof(pw) - 1; i++)
		pw[i] = (char)('a' + ((unsigned char)pw[i] % 26));
	pw[sizeof(pw) - 1] = '\0';
	if (password_hash(pw, &pp, auth_dummy, sizeof(auth_dummy)) == -1)
		return (-1);
	explicit_bzero(pw, sizeof(pw));
	if ((auth_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return (-1);
	/* Slowed checks wait on the clock now_us() reads. */
	if (pthread_condattr_init(&ca) != 0)
		return (-1);
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&auth_cond, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		return (-1);
	}
	pthread_condattr_destroy(&ca);
	if (pthread_create(&auth_thread, NULL, auth_main, NULL) != 0)
		return (-1);
	return (0);
}

int
auth_fd(void)
{
	return (auth_efd);
}

void
auth_shutdown(void)
{
	pthread_mutex_lock(&auth_mtx);
	auth_stop = 1;
	pthread_cond_signal(&auth_cond);
	pthread_mutex_unlock(&auth_mtx);
	pthread_join(auth_thread, NULL);
}

/* A change to the users (data/channels.c): every entry is forgotten. */
void
auth_cache_flush(void)
{
	if (auth_shm != NULL)
		atomic_fetch_add(&auth_shm->gen, 1);
}

static struct auth_slot *
auth_cache_slot(const unsigned char *key)
{
	uint32_t	h;

	memcpy(&h, key, sizeof(h));
	return (&auth_shm->slots[h & (AUTH_CACHE_SLOTS - 1)]);
}

/*
 * Copy the slot for key if it holds a live entry; 0 on a hit, 1 when the
 * slot holds these very credentials from an older generation or past
 * their time (they were right then: re-verify, but it is no guess), -1
 * otherwise.
 */
static int
auth_cache_find(const unsigned char *key, int *user_id, char *user,
    size_t userlen, int64_t *left)
{
	struct auth_slot	*s = auth_cache_slot(key);
	struct auth_entry	 copy;
	int64_t			 now = now_ms();

	if (seqlock_read(&s->lock, &copy, &s->e, sizeof(copy)) == -1)
		return (-1);
	if (CRYPTO_memcmp(copy.key, key, AUTH_KEYLEN) != 0)
		return (-1);
	if (copy.expires <= now || copy.gen != atomic_load(&auth_shm->gen))
		return (1);	/* verified before, but no longer valid */
	*left = copy.expires - now;
	*user_id = copy.user_id;
	copy.user[sizeof(copy.user) - 1] = '\0';
	strlcpy(user, copy.user, userlen);
	return (0);
}

/*
 * Forget the slot of key if it still holds key: credentials that failed
 * their re-verification (an old password) are no longer "known".
 */
static void
auth_cache_evict(const unsigned char *key)
{
	struct auth_slot	*s = auth_cache_slot(key);

	if (seqlock_write_begin(&s->lock) == -1)
		return;		/* another writer has it */
	if (CRYPTO_memcmp(s->e.key, key, AUTH_KEYLEN) == 0)
		explicit_bzero(&s->e, sizeof(s->e));
	seqlock_write_end(&s->lock);
}

static void
auth_cache_add(const unsigned char *key, int user_id, const char *user,
    uint64_t gen)
{
	struct auth_slot	*s;

	if (conf->auth_cache_ttl == 0)
		return;
	s = auth_cache_slot(key);
	if (seqlock_write_begin(&s->lock) == -1)
		return;		/* another writer has it: skip */
	s->e.gen = gen;
	memcpy(s->e.key, key, AUTH_KEYLEN);
	s->e.user_id = user_id;
	strlcpy(s->e.user, user, sizeof(s->e.user));
	s->e.expires = now_ms() + conf->auth_cache_ttl * 1000LL;
	seqlock_write_end(&s->lock);
}

/* Decode standard base64; -1 on any malformation. */
static int
auth_b64decode(const char *in, size_t len, char *out, size_t outlen)
{
	int	n, pad = 0;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 + 1 > outlen)
		return (-1);
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in,
	    (int)len);
	if (n < 0 || n < pad)
		return (-1);
	n -= pad;
	out[n] = '\0';
	return (n);
}

/* 1 when s[0..len) is well-formed UTF-8 (no overlong, no surrogates). */
static int
auth_utf8_valid(const unsigned char *s, size_t len)
{
	return (str_utf8_count((const char *)s, len, NULL) >= 0);
}

/* The user's verified identity goes on the client (and the access log). */
static void
auth_set(struct client *c, int user_id, const char *user)
{
	c->user_id = user_id;
	strlcpy(c->username, user, sizeof(c->username));
}

static void
auth_user_cb(struct client *c, PGresult *res, void *arg)
{
	struct auth_job	*j = arg;

	/* Held from here until auth_job_finish() answers it. */
	j->c = c;
	if (c != NULL)
		client_hold(c);
	if (c == NULL && j->nwaiters == 0 && !j->refresh) {
		auth_job_finish(j, AUTH_FAIL);	/* nobody left to answer */
		return;
	}
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res != NULL)
			log_warnx("user lookup: %s",
			    PQresultErrorMessage(res));
		auth_job_finish(j, AUTH_UNAVAILABLE);
		return;
	}
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 1))
		j->dummy = 1;
	else {
		j->user_id = atoi(PQgetvalue(res, 0, 0));
		if (strlcpy(j->hash, PQgetvalue(res, 0, 1), sizeof(j->hash))
		    >= sizeof(j->hash))
			j->dummy = 1;
	}
	pthread_mutex_lock(&auth_mtx);
	TAILQ_INSERT_TAIL(&auth_todo, j, entry);
	pthread_cond_signal(&auth_cond);
	pthread_mutex_unlock(&auth_mtx);
}

/* Verification results are in: resume their clients. */
void
auth_event(void)
{
	struct auth_jobs	 done = TAILQ_HEAD_INITIALIZER(done);
	struct auth_job		*j;
	uint64_t		 v;

	(void)read(auth_efd, &v, sizeof(v));
	pthread_mutex_lock(&auth_mtx);
	TAILQ_CONCAT(&done, &auth_done, entry);
	pthread_mutex_unlock(&auth_mtx);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, entry);
		if (j->result == AUTH_FAIL && j->known) {
			/*
			 * Known credentials that no longer verify (an old
			 * password after a change): a failure like any
			 * other, and no longer known.
			 */
			ratelimit_auth_charge(j->rladdr, j->user);
			auth_cache_evict(j->key);
		}
		if (j->result == AUTH_FAIL)
			j->charged = 0;		/* the failure stays counted */
		if (j->result == AUTH_OK && j->rehash)
			auth_rehash_store(j);
		if (j->result == AUTH_OK)
			auth_cache_add(j->key, j->user_id, j->user, j->gen);
		auth_job_finish(j, j->result);
	}
}

/*
 * Verify known-good credentials again in the background, with no client
 * waiting: on success the cache entry gets a new life.  Not charged to
 * the brute-force counters (the credentials were verified before).
 */
static void
auth_refresh(struct client *c, const char *user, const char *pass,
    const unsigned char *key)
{
	struct auth_job	*j;
	const char	*p[1];

	(void)c;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return;
	j->refresh = 1;
	strlcpy(j->user, user, sizeof(j->user));
	memcpy(j->key, key, AUTH_KEYLEN);
	j->gen = atomic_load(&auth_shm->gen);
	if ((j->pass = strdup(pass)) == NULL) {
		auth_job_free(j);
		return;
	}
	p[0] = j->user;
	if (db_submit(NULL, DB_USER_BY_NAME, 1, p, auth_user_cb, j) == -1) {
		auth_job_free(j);
		return;
	}
	TAILQ_INSERT_TAIL(&auth_inflight, j, inflight);
}

/*
 * Check c's credentials: AUTH_OK or AUTH_FAIL at once, AUTH_PENDING when
 * the result comes later in c->auth_result (client_auth_result()), and
 * AUTH_UNAVAILABLE without a database.
 */
/*
 * The cache key of credentials: HMAC-SHA-256 under the instance's secret,
 * the context keyed once per worker (lib/mac.h says why).
 */
static int
auth_key(const char *cred, size_t n, unsigned char *key)
{
	static struct mac	 m;

	if (m.ctx == NULL &&
	    mac_init(&m, auth_shm->secret, sizeof(auth_shm->secret)) == -1)
		return (-1);
	return (mac_sha256(&m, cred, n, key));
}

int
auth_check(struct client *c)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_span	*h;
	struct auth_job		*j;
	char			 cred[AUTH_MAX_HEADER], *colon;
	const char		*v, *p[1];
	unsigned char		 key[AUTH_KEYLEN];
	size_t			 vlen;
	int64_t			 left = 0;
	int			 n, pw_only, known, rv = AUTH_FAIL;

	pw_only = (c->route->flags & ROUTE_PASSWORD) != 0;
	h = http_header_find(&c->req, buf, "Authorization");
	if (h == NULL || h->len > AUTH_MAX_HEADER)
		return (AUTH_FAIL);
	v = buf + h->off;
	vlen = h->len;
	if (vlen > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		vlen -= 7;
		while (vlen > 0 && *v == ' ') {
			v++;
			vlen--;
		}
		if (pw_only || conf->auth_mode == AUTH_MODE_PASSWORD)
			return (AUTH_FAIL);
		return (token_check(c, v, vlen));
	}
	if (vlen < 6 || strncasecmp(v, "Basic ", 6) != 0)
		return (AUTH_FAIL);
	v += 6;
	vlen -= 6;
	while (vlen > 0 && *v == ' ') {
		v++;
		vlen--;
	}
	if ((n = auth_b64decode(v, vlen, cred, sizeof(cred))) <= 0 ||
	    memchr(cred, '\0', (size_t)n) != NULL ||
	    (colon = strchr(cred, ':')) == NULL || colon == cred)
		goto done;
	if (colon[1] == '\0') {
		/* TOKEN: (empty password): the original's token convention. */
		if (!pw_only && conf->auth_mode != AUTH_MODE_PASSWORD)
			rv = token_check(c, cred, (size_t)(colon - cred));
		goto done;
	}
	if (colon - cred > 64 ||
	    (!pw_only && conf->auth_mode == AUTH_MODE_TOKEN))
		goto done;
	*colon = '\0';
	/*
	 * Not UTF-8: no such user can exist (the database would refuse
	 * the lookup), but it is a guess all the same: charged, never
	 * refunded, and answered like a wrong password.
	 */
	if (!auth_utf8_valid((unsigned char *)cred, (size_t)(colon - cred))) {
		char	 rladdr[RATELIMIT_ADDR_MAX];
		int	 slow;

		if (ratelimit_auth_begin(c, cred, rladdr, &slow) == -1)
			rv = AUTH_THROTTLED;
		else if (slow)
			ratelimit_auth_end(rladdr, cred, 0, slow);
		goto done;
	}
	/* HMAC over "user\0password": the cache key, never the secret. */
	if (auth_key(cred, (size_t)n, key) == -1) {
		rv = AUTH_UNAVAILABLE;
		goto done;
	}
	if ((known = auth_cache_find(key, &c->user_id, c->username,
	    sizeof(c->username), &left)) == 0) {
		atomic_fetch_add_explicit(&auth_shm->hits, 1,
		    memory_order_relaxed);
		/*
		 * Refresh ahead: in the last quarter of its life the entry
		 * is checked again in the background, so a steady client
		 * never meets an expired entry (and a herd of its
		 * connections never queues behind argon2 at once).
		 */
		if (left < conf->auth_cache_ttl * 250LL &&
		    auth_inflight_find(key) == NULL)
			auth_refresh(c, cred, colon + 1, key);
		rv = AUTH_OK;
		goto done;
	}
	atomic_fetch_add_explicit(&auth_shm->misses, 1, memory_order_relaxed);
	/*
	 * Single flight: the same credentials already being checked by
	 * this worker: wait for that answer instead of a second argon2.
	 */
	if ((j = auth_inflight_find(key)) != NULL &&
	    j->nwaiters < AUTH_MAX_WAITERS) {
		client_hold(c);
		j->waiters[j->nwaiters++] = c;
		rv = AUTH_PENDING;
		goto done;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto done;
	strlcpy(j->user, cred, sizeof(j->user));
	/*
	 * Credentials verified before (the cache was flushed by a change to
	 * any user, a reconnect or a respawn, or they expired) are checked
	 * again without a charge: the whole herd of clients re-verifying at
	 * once must not look like a guessing burst.  A guess never matches.
	 */
	if (known != 1) {
		if (ratelimit_auth_begin(c, j->user, j->rladdr,
		    &j->slow) == -1) {
			auth_job_free(j);
			rv = AUTH_THROTTLED;
			goto done;
		}
		j->charged = 1;
		if (j->slow)
			j->not_before = now_us() + j->slow * 1000LL;
	} else {
		/* Charged only if they fail (auth_event()). */
		j->known = 1;
		ratelimit_auth_addr(c, j->rladdr);
	}
	memcpy(j->key, key, sizeof(key));
	/*
	 * The generation before the lookup: if the user changes while we
	 * verify, the entry we add is already dead.
	 */
	j->gen = atomic_load(&auth_shm->gen);
	if ((j->pass = strdup(colon + 1)) == NULL) {
		auth_job_free(j);
		goto done;
	}
	p[0] = j->user;
	if (db_submit(c, DB_USER_BY_NAME, 1, p, auth_user_cb, j) == -1) {
		auth_job_free(j);
		rv = AUTH_UNAVAILABLE;
		goto done;
	}
	TAILQ_INSERT_TAIL(&auth_inflight, j, inflight);
	rv = AUTH_PENDING;
done:
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(key, sizeof(key));
	return (rv);
}

/* The credential cache's counters, for /metrics (metrics.c). */
void
auth_stats(uint64_t *hits, uint64_t *misses)
{
	*hits = auth_shm ? atomic_load(&auth_shm->hits) : 0;
	*misses = auth_shm ? atomic_load(&auth_shm->misses) : 0;
}
