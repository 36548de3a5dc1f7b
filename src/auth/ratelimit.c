/*
 * ratelimit.c: request rate limits and brute-force throttling, counted in
 * shared memory so that every worker of an instance sees the same counts.
 *
 * Request windows are fixed and aligned on the epoch, like the original's
 * (Grinberg's rate_limit decorator): with --rate-limit N/S a window ends
 * at the next multiple of S seconds, X-RateLimit-Reset names that instant
 * in epoch seconds, and the count starts again from zero there.  A fixed
 * window allows up to 2N calls across a boundary; it is what the original
 * did and it keeps every counter a single word.
 *
 * The table is a fixed array of slots, each two 64-bit atomics: the key
 * (a keyed hash of "kind:client", 0 = free) and the state (window end in
 * epoch seconds << 32 | count).  A key lives in one of RL_PROBE slots
 * after its hash; a free slot or one whose window ended is claimed with a
 * CAS on the key.  Counting is a CAS loop on the state word, so calls made
 * through different workers at once are numbered 1, 2, 3... exactly and
 * Limit = Remaining + calls made holds across workers.  Nothing waits and
 * nothing is locked: a worker killed at any point leaves a valid table.
 * When all RL_PROBE slots are held by live windows of other keys the call
 * shares the first one (counting can only be too strict, never lost).
 *
 * Brute force: failed password checks are counted per client address and
 * per username in the same table (--auth-fail-limit K/S, default 10/60),
 * in fixed windows that start with the first failure (not aligned).
 * Each check is charged before argon2 runs and refunded when it succeeds,
 * so a concurrent burst is capped at K checks in flight, not only after K
 * failures have completed.  The address limit is the hard one: past K
 * failures from one address (so past K for any user from it) the answer
 * is 429 with Retry-After, without a database lookup and without argon2.
 * The username's is only a slowdown, so that nobody can lock a user out
 * from addresses of their own: past K, checks of that user wait on the
 * verification thread RL_SLOW_MS for each such check in flight, across
 * all workers (at most RL_SLOW_MAX; past that 429), which serialises the
 * guesses at about one per RL_SLOW_MS while the right password, from any
 * address that is not itself throttled, still gets through.  auth.c only
 * asks here on a credential cache miss: a client whose credentials are
 * cached is never throttled or delayed.
 *
 * The client's address: the peer's, or when the peer is a trusted proxy
 * (--trusted-proxy ADDR[,ADDR...]), the right-most X-Forwarded-For entry,
 * across every field line, that is not itself a trusted proxy: the
 * entries on the left are whatever the client claimed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "starterd.h"

#define RL_SLOTS	32768		/* power of two */
#define RL_PROBE	8
#define RL_KEY_MAX	160
#define RL_PROXY_MAX	8		/* --trusted-proxy addresses */
#define RL_SLOW_MS	1000		/* per slow check of a user in flight */
#define RL_SLOW_MAX	10		/* slow checks of a user in flight */
#define RL_POLICY	"default"	/* RateLimit-Policy's one policy */

struct rl_slot {
	_Atomic uint64_t key;
	_Atomic uint64_t state;		/* window end << 32 | count */
};

struct rl_shm {
	unsigned char	 secret[32];	/* keys the slot hash */
	struct rl_slot	 slots[RL_SLOTS];
};

struct rl_limit {
	unsigned int	 n;		/* 0: off */
	unsigned int	 secs;
	int		 aligned;	/* windows on multiples of secs */
};

struct rl_addr {
	int		 af;		/* AF_INET or AF_INET6 */
	unsigned char	 a[16];
};

static struct rl_shm	*rl_shm;
static struct rl_limit	 rl_req, rl_fail, rl_slow;
static int		 rl_by_user;
static struct rl_addr	 rl_proxy[RL_PROXY_MAX];
static int		 rl_nproxy;
static char		 rl_proxy_str[sizeof(conf->trusted_proxy)];

/* "N/SECS" or "off"; -1 when malformed. */
static int
rl_parse(const char *s, struct rl_limit *l, const char *what)
{
	char		 buf[32], *slash;
	const char	*err;

	l->n = l->secs = 0;
	if (*s == '\0' || strcmp(s, "off") == 0)
		return (0);
	strlcpy(buf, s, sizeof(buf));
	if ((slash = strchr(buf, '/')) == NULL)
		goto fail;
	*slash = '\0';
	l->n = (unsigned int)strtonum(buf, 1, 1000000000, &err);
	if (err != NULL)
		goto fail;
	l->secs = (unsigned int)strtonum(slash + 1, 1, 86400 * 366, &err);
	if (err != NULL)
		goto fail;
	return (0);
fail:
	log_warnx("--%s %s: expected N/SECONDS or off", what, s);
	l->n = l->secs = 0;
	return (-1);
}

/* An address in text form, v4-mapped IPv6 as IPv4; -1 if not one. */
static int
rl_addr_parse(const char *s, size_t len, struct rl_addr *ra)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0xff, 0xff };
	char	 tmp[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(tmp))
		return (-1);
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(ra, 0, sizeof(*ra));
	if (inet_pton(AF_INET, tmp, ra->a) == 1) {
		ra->af = AF_INET;
		return (0);
	}
	if (inet_pton(AF_INET6, tmp, ra->a) != 1)
		return (-1);
	ra->af = AF_INET6;
	if (memcmp(ra->a, mapped, sizeof(mapped)) == 0) {
		memmove(ra->a, ra->a + 12, 4);
		memset(ra->a + 4, 0, 12);
		ra->af = AF_INET;
	}
	return (0);
}

static int
rl_proxy_trusted(const struct rl_addr *ra)
{
	int	i;

	for (i = 0; i < rl_nproxy; i++)
		if (rl_proxy[i].af == ra->af &&
		    memcmp(rl_proxy[i].a, ra->a, sizeof(ra->a)) == 0)
			return (1);
	return (0);
}

/*
 * --trusted-proxy: a comma-separated list of addresses, or empty.  Parsed
 * again when a reload changed it (refused at start, a bad value in a
 * reload trusts no proxy).
 */
static int
rl_proxy_parse(const char *s)
{
	const char	*p = s, *e;

	strlcpy(rl_proxy_str, s, sizeof(rl_proxy_str));
	rl_nproxy = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ',' && *e != ' '; e++)
			;
		if (rl_nproxy == RL_PROXY_MAX) {
			log_warnx("--trusted-proxy: at most %d addresses",
			    RL_PROXY_MAX);
			rl_nproxy = 0;
			return (-1);
		}
		if (rl_addr_parse(p, (size_t)(e - p),
		    &rl_proxy[rl_nproxy]) == -1) {
			log_warnx("--trusted-proxy %s: \"%.*s\" is not an IPv4 "
			    "or IPv6 address", s, (int)(e - p), p);
			rl_nproxy = 0;
			return (-1);
		}
		rl_nproxy++;
		p = e;
	}
	return (0);
}

size_t
ratelimit_shm_size(void)
{
	return (sizeof(struct rl_shm));
}

/* Master, before fork: parse the settings, key the hash. */
int
ratelimit_shm_attach(void *p)
{
	if (p == NULL)
		return (-1);
	if (rl_parse(conf->rate_limit, &rl_req, "rate-limit") == -1 ||
	    rl_parse(conf->auth_fail_limit, &rl_fail, "auth-fail-limit") == -1)
		return (-1);
	rl_req.aligned = 1;
	/*
	 * Over-limit checks of a user in flight (a leak ends with the
	 * window): never capped by rl_count(), so that a refused one gives
	 * back exactly what it took.
	 */
	rl_slow.n = 1000000000;
	rl_slow.secs = 60;
	if (rl_proxy_parse(conf->trusted_proxy) == -1)
		return (-1);
	if (strcmp(conf->rate_limit_by, "user") == 0)
		rl_by_user = 1;
	else if (strcmp(conf->rate_limit_by, "addr") != 0) {
		log_warnx("--rate-limit-by %s: expected addr or user",
		    conf->rate_limit_by);
		return (-1);
	}
	rl_shm = p;
	arc4random_buf(rl_shm->secret, sizeof(rl_shm->secret));
	return (0);
}

static uint64_t
rl_hash(const char *key)
{
	static struct mac	 m;
	unsigned char		 md[MAC_LEN];
	uint64_t		 h;

	/* Keyed once per worker (lib/mac.h); a failure hashes to slot 1. */
	if ((m.ctx == NULL && mac_init(&m, rl_shm->secret,
	    sizeof(rl_shm->secret)) == -1) ||
	    mac_sha256(&m, key, strlen(key), md) == -1)
		return (1);
	memcpy(&h, md, sizeof(h));
	return (h == 0 ? 1 : h);
}

/*
 * The end of the window a new count starts, in epoch seconds: the next
 * multiple of secs for request limits (the original's), secs after the
 * first failure for the brute-force throttle, so that an attacker cannot
 * time a burst across an aligned boundary to get 2K guesses.
 */
static uint32_t
rl_window_end(const struct rl_limit *l, time_t now)
{
	if (!l->aligned)
		return ((uint32_t)now + l->secs);
	return ((uint32_t)((now / l->secs) * l->secs + l->secs));
}

/* The count in state, if its window is the current one. */
static uint32_t
rl_current(const struct rl_limit *l, uint64_t st, time_t now)
{
	uint32_t	wend = (uint32_t)(st >> 32);

	if (l->aligned)
		return (wend == rl_window_end(l, now) ? (uint32_t)st : 0);
	return (wend > (uint32_t)now ? (uint32_t)st : 0);
}

static struct rl_slot *
rl_slot_find(uint64_t h, uint32_t now)
{
	struct rl_slot	*s;
	uint64_t	 k, st;
	unsigned int	 i;

	for (i = 0; i < RL_PROBE; i++) {
		s = &rl_shm->slots[(h + i) & (RL_SLOTS - 1)];
		if (atomic_load(&s->key) == h)
			return (s);
	}
	for (i = 0; i < RL_PROBE; i++) {
		s = &rl_shm->slots[(h + i) & (RL_SLOTS - 1)];
		k = atomic_load(&s->key);
		st = atomic_load(&s->state);
		if (k != 0 && (uint32_t)(st >> 32) > now)
			continue;	/* a live window of another key */
		if (atomic_compare_exchange_strong(&s->key, &k, h)) {
			/* Ours now: its old window is over, start afresh. */
			atomic_store(&s->state, 0);
			return (s);
		}
		if (k == h)
			return (s);
	}
	return (&rl_shm->slots[h & (RL_SLOTS - 1)]);
}

/*
 * Count one call (delta 1) or refund one (delta -1) against key; returns
 * the count after it and the window's end.  A call over the limit is not
 * counted: the count stays capped at limit + 1.
 */
static uint32_t
rl_count(const char *key, const struct rl_limit *l, int delta,
    uint32_t *reset)
{
	struct rl_slot	*s;
	time_t		 now = time(NULL);
	uint32_t	 end, cnt;
	uint64_t	 st, nst;

	s = rl_slot_find(rl_hash(key), (uint32_t)now);
	st = atomic_load(&s->state);
	do {
		cnt = rl_current(l, st, now);
		end = cnt > 0 ? (uint32_t)(st >> 32) : rl_window_end(l, now);
		if (delta < 0) {
			if (cnt == 0)
				break;
			cnt--;
		} else if (cnt <= l->n)
			cnt++;
		else
			break;		/* already over: leave it */
		nst = (uint64_t)end << 32 | cnt;
	} while (!atomic_compare_exchange_weak(&s->state, &st, nst));
	if (delta > 0 && cnt > l->n)
		cnt = l->n + 1;
	*reset = end;
	return (cnt);
}

/*
 * Is c's peer one of --trusted-proxy (whose forwarding headers count:
 * X-Forwarded-For here, the scheme and host of links in api_link.c)?
 */
int
ratelimit_peer_trusted(struct client *c)
{
	struct rl_addr	ra;

	if (strcmp(conf->trusted_proxy, rl_proxy_str) != 0)
		(void)rl_proxy_parse(conf->trusted_proxy);
	return (rl_nproxy > 0 &&
	    rl_addr_parse(c->addr, strlen(c->addr), &ra) == 0 &&
	    rl_proxy_trusted(&ra));
}

/*
 * The client's address: the peer's, or when the peer is a trusted proxy,
 * the right-most X-Forwarded-For entry (last field line first, each list
 * right to left) that is not a trusted proxy.  A malformed entry there
 * stops the walk at the last trusted hop: a header never picks any key.
 */
static void
rl_client_addr(struct client *c, char *out, size_t len)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_header *h;
	struct rl_addr		 ra;
	const char		*v, *e, *p, *q;
	size_t			 i;

	strlcpy(out, c->addr, len);
	if (!ratelimit_peer_trusted(c))
		return;
	for (i = c->req.nheaders; i-- > 0; ) {
		h = &c->req.headers[i];
		if (h->name.len != 15 || strncasecmp(buf + h->name.off,
		    "X-Forwarded-For", 15) != 0)
			continue;
		v = buf + h->value.off;
		e = v + h->value.len;
		while (e > v) {
			for (p = e; p > v && p[-1] != ','; p--)
				;
			q = p;
			while (q < e && (*q == ' ' || *q == '\t'))
				q++;
			while (e > q && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (e > q) {
				if (rl_addr_parse(q, (size_t)(e - q),
				    &ra) == -1)
					return;
				/* One spelling per address: one key. */
				if (inet_ntop(ra.af, ra.a, out,
				    (socklen_t)len) == NULL)
					strlcpy(out, c->addr, len);
				if (!rl_proxy_trusted(&ra))
					return;
			}
			e = p > v ? p - 1 : v;
		}
	}
}

/*
 * The request rate limit of a ROUTE_AUTH route (/api/, /auth/).  Called
 * with authed 0 before the credentials are looked at, and with authed 1
 * once they checked out.  By address (the default) the call is counted
 * before authentication, so a flood costs no argon2 and no database; by
 * user (--rate-limit-by user) an authenticated call is counted against
 * its user id after authentication (failed logins are left to the
 * brute-force throttle, so nobody can spend another user's quota).
 * Adds the X-RateLimit-* headers; returns -1 after answering 429.
 */
int
ratelimit_request(struct client *c, int authed)
{
	char		 key[RL_KEY_MAX], addr[RATELIMIT_ADDR_MAX];
	uint32_t	 cnt, reset;
	long long	 left;

	if (rl_req.n == 0 || c->route == NULL ||
	    !(c->route->flags & ROUTE_AUTH) || authed != rl_by_user)
		return (0);
	if (rl_by_user)
		snprintf(key, sizeof(key), "r:u:%d", c->user_id);
	else {
		rl_client_addr(c, addr, sizeof(addr));
		snprintf(key, sizeof(key), "r:a:%s", addr);
	}
	cnt = rl_count(key, &rl_req, 1, &reset);
	left = (long long)reset - (long long)time(NULL);
	response_header(c, "X-RateLimit-Limit: %u", rl_req.n);
	response_header(c, "X-RateLimit-Remaining: %u",
	    cnt >= rl_req.n ? 0 : rl_req.n - cnt);
	response_header(c, "X-RateLimit-Reset: %u", reset);
	/*
	 * The same, as draft-ietf-httpapi-ratelimit-headers-11 spells it:
	 * the policy (quota q per window of w seconds) and what is left of
	 * it (r, and t seconds until the window ends).
	 */
	response_header(c, "RateLimit-Policy: \"" RL_POLICY "\";q=%u;w=%u",
	    rl_req.n, rl_req.secs);
	response_header(c, "RateLimit: \"" RL_POLICY "\";r=%u;t=%lld",
	    cnt >= rl_req.n ? 0 : rl_req.n - cnt, left < 0 ? 0 : left);
	if (cnt <= rl_req.n)
		return (0);
	response_header(c, "Retry-After: %lld", left < 1 ? 1 : left);
	response_error(c, 429, "too many requests: the limit is %u per %u "
	    "seconds", rl_req.n, rl_req.secs);
	return (-1);
}

static void
rl_fail_keys(const char *addr, const char *user, char *ka, char *ku)
{
	snprintf(ka, RL_KEY_MAX, "f:a:%s", addr);
	snprintf(ku, RL_KEY_MAX, "f:u:%s", user);
}

/* The client's address as counted, for a check charged later. */
void
ratelimit_auth_addr(struct client *c, char *addr)
{
	rl_client_addr(c, addr, RATELIMIT_ADDR_MAX);
}

/*
 * Before a password check (credential cache miss): 0 to go on, -1 when
 * the address has used up its failures for the window, or too many
 * checks of an over-limit user are already waiting (Retry-After is set;
 * the caller answers 429).  On 0 the check is charged to the address and
 * the username; ratelimit_auth_end() refunds it on success.  When the
 * username is past its limit *slow is the time in milliseconds the check
 * is to wait before argon2 (it then holds a place among the user's slow
 * checks, and the username is not charged further); 0 otherwise.  The
 * client's address as counted goes to addr (RATELIMIT_ADDR_MAX bytes):
 * the client may be gone by the end.
 */
int
ratelimit_auth_begin(struct client *c, const char *user, char *addr,
    int *slow)
{
	char		 ka[RL_KEY_MAX], ku[RL_KEY_MAX];
	uint32_t	 ra, ru, n;
	long long	 left;

	*slow = 0;
	rl_client_addr(c, addr, RATELIMIT_ADDR_MAX);
	if (rl_fail.n == 0)
		return (0);
	rl_fail_keys(addr, user, ka, ku);
	/*
	 * Charge first, look after: two workers cannot both take the last
	 * check.  A count past the limit stays capped at limit + 1.
	 */
	if (rl_count(ka, &rl_fail, 1, &ra) > rl_fail.n) {
		left = (long long)ra - (long long)time(NULL);
		goto fail;
	}
	if (rl_count(ku, &rl_fail, 1, &ru) <= rl_fail.n)
		return (0);
	/* The user is past its limit: slowed down, not locked out. */
	ku[2] = 's';
	if ((n = rl_count(ku, &rl_slow, 1, &ru)) > RL_SLOW_MAX) {
		(void)rl_count(ku, &rl_slow, -1, &ru);
		(void)rl_count(ka, &rl_fail, -1, &ra);	/* not its fault */
		left = 1;
		goto fail;
	}
	*slow = (int)n * RL_SLOW_MS;
	return (0);
fail:
	response_header(c, "Retry-After: %lld", left < 1 ? 1 : left);
	return (-1);
}

/*
 * After a password check begun with ratelimit_auth_begin(): ok refunds
 * its charge (it succeeded, or was never made); slow (the *slow it was
 * given) gives back its place among the user's slow checks.
 */
void
ratelimit_auth_end(const char *addr, const char *user, int ok, int slow)
{
	char		 ka[RL_KEY_MAX], ku[RL_KEY_MAX];
	uint32_t	 reset;

	if (rl_fail.n == 0)
		return;
	rl_fail_keys(addr, user, ka, ku);
	if (ok) {
		(void)rl_count(ka, &rl_fail, -1, &reset);
		if (!slow)
			(void)rl_count(ku, &rl_fail, -1, &reset);
	}
	if (slow) {
		ku[2] = 's';
		(void)rl_count(ku, &rl_slow, -1, &reset);
	}
}

/*
 * A failed check that was not charged before (known credentials that no
 * longer verify): charge it now, to the address and the username.
 */
void
ratelimit_auth_charge(const char *addr, const char *user)
{
	char		 ka[RL_KEY_MAX], ku[RL_KEY_MAX];
	uint32_t	 reset;

	if (rl_fail.n == 0)
		return;
	rl_fail_keys(addr, user, ka, ku);
	(void)rl_count(ka, &rl_fail, 1, &reset);
	(void)rl_count(ku, &rl_fail, 1, &reset);
}
