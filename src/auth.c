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
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "starterd.h"
#include "password.h"

#define AUTH_MAX_HEADER		1024
#define AUTH_CACHE_SLOTS	1024	/* power of two */
#define AUTH_KEYLEN		32

struct auth_job {
	TAILQ_ENTRY(auth_job)	 entry;
	struct client		*c;
	char			 user[65];
	char			*pass;
	char			 hash[PASSWORD_PHC_MAX];
	int			 user_id;
	int			 dummy;		/* unknown user */
	int			 result;
	unsigned char		 key[AUTH_KEYLEN];
};
TAILQ_HEAD(auth_jobs, auth_job);

struct auth_slot {
	unsigned char	 key[AUTH_KEYLEN];
	int64_t		 expires;	/* monotonic ms; 0 = empty */
	int		 user_id;
	char		 user[65];
};

static pthread_t	 auth_thread;
static pthread_mutex_t	 auth_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 auth_cond = PTHREAD_COND_INITIALIZER;
static struct auth_jobs	 auth_todo = TAILQ_HEAD_INITIALIZER(auth_todo);
static struct auth_jobs	 auth_done = TAILQ_HEAD_INITIALIZER(auth_done);
static int		 auth_stop;
static int		 auth_efd = -1;
static unsigned char	 auth_secret[32];
static char		 auth_dummy[PASSWORD_PHC_MAX];
static struct auth_slot	 auth_cache[AUTH_CACHE_SLOTS];

static void
auth_job_free(struct auth_job *j)
{
	if (j->pass != NULL) {
		explicit_bzero(j->pass, strlen(j->pass));
		free(j->pass);
	}
	explicit_bzero(j, sizeof(*j));
	free(j);
}

static void *
auth_main(void *arg)
{
	struct auth_job	*j;
	uint64_t	 one = 1;

	(void)arg;
	pthread_mutex_lock(&auth_mtx);
	for (;;) {
		while (!auth_stop && TAILQ_EMPTY(&auth_todo))
			pthread_cond_wait(&auth_cond, &auth_mtx);
		if (auth_stop)
			break;
		j = TAILQ_FIRST(&auth_todo);
		TAILQ_REMOVE(&auth_todo, j, entry);
		pthread_mutex_unlock(&auth_mtx);

		j->result = password_verify(j->dummy ? auth_dummy : j->hash,
		    j->pass) == 0 && !j->dummy ? AUTH_OK : AUTH_FAIL;

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
	char			 pw[33];

	arc4random_buf(auth_secret, sizeof(auth_secret));
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

void
auth_cache_flush(void)
{
	explicit_bzero(auth_cache, sizeof(auth_cache));
}

static struct auth_slot *
auth_cache_slot(const unsigned char *key)
{
	uint32_t	h;

	memcpy(&h, key, sizeof(h));
	return (&auth_cache[h & (AUTH_CACHE_SLOTS - 1)]);
}

static void
auth_cache_add(const unsigned char *key, int user_id, const char *user)
{
	struct auth_slot	*s;

	if (conf->auth_cache_ttl == 0)
		return;
	s = auth_cache_slot(key);
	memcpy(s->key, key, AUTH_KEYLEN);
	s->user_id = user_id;
	strlcpy(s->user, user, sizeof(s->user));
	s->expires = worker_now_ms() + conf->auth_cache_ttl * 1000LL;
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

	if (c == NULL) {
		auth_job_free(j);
		return;
	}
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res != NULL)
			log_warnx("user lookup: %s",
			    PQresultErrorMessage(res));
		auth_job_free(j);
		worker_authed(c, AUTH_UNAVAILABLE);
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
	j->c = c;
	worker_hold(c);
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
	struct client		*c;
	uint64_t		 v;

	(void)read(auth_efd, &v, sizeof(v));
	pthread_mutex_lock(&auth_mtx);
	TAILQ_CONCAT(&done, &auth_done, entry);
	pthread_mutex_unlock(&auth_mtx);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, entry);
		if ((c = worker_release(j->c)) != NULL) {
			if (j->result == AUTH_OK) {
				auth_cache_add(j->key, j->user_id, j->user);
				auth_set(c, j->user_id, j->user);
			}
			worker_authed(c, j->result);
			worker_continue(c);
		}
		auth_job_free(j);
	}
}

/*
 * Check c's credentials: AUTH_OK or AUTH_FAIL at once, AUTH_PENDING when
 * worker_authed() will be called later, AUTH_UNAVAILABLE without a
 * database.
 */
int
auth_check(struct client *c)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_span	*h;
	struct auth_slot	*s;
	struct auth_job		*j;
	char			 cred[AUTH_MAX_HEADER], *colon;
	const char		*v, *p[1];
	unsigned char		 key[AUTH_KEYLEN];
	unsigned int		 keylen = 0;
	size_t			 vlen;
	int			 n, rv = AUTH_FAIL;

	h = http_header_find(&c->req, buf, "Authorization");
	if (h == NULL || h->len > AUTH_MAX_HEADER)
		return (AUTH_FAIL);
	v = buf + h->off;
	vlen = h->len;
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
	    (colon = strchr(cred, ':')) == NULL || colon == cred ||
	    colon - cred > 64)
		goto done;
	*colon = '\0';
	/* HMAC over "user\0password": the cache key, never the secret. */
	HMAC(EVP_sha256(), auth_secret, sizeof(auth_secret),
	    (unsigned char *)cred, (size_t)n, key, &keylen);
	s = auth_cache_slot(key);
	if (s->expires > worker_now_ms() &&
	    CRYPTO_memcmp(s->key, key, AUTH_KEYLEN) == 0) {
		auth_set(c, s->user_id, s->user);
		rv = AUTH_OK;
		goto done;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto done;
	strlcpy(j->user, cred, sizeof(j->user));
	memcpy(j->key, key, sizeof(key));
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
	rv = AUTH_PENDING;
done:
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(key, sizeof(key));
	return (rv);
}
