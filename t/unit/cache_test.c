/*
 * cache_test: the response cache's stripe locks are waited for a bounded
 * time (src/data/cache.c).  A child process takes a stripe's lock through
 * the test hook (CACHE_TEST_HOOKS, compiled into this program only) and
 * is stopped with SIGSTOP while holding it, as a worker stopped inside a
 * lookup would be; the parent's lookups and stores on that stripe must
 * give up within the bound (a miss, a skipped store), the other stripes
 * must serve as before, and once the holder is SIGKILLed the robust mutex
 * gives the stripe back.  An alarm bounds the whole program: an unbounded
 * wait kills it with SIGALRM, which prove reports.  Prints TAP.
 */
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starterd.h"
#include "tap.h"

#define NKEYS		64
#define BOUND_MS	250	/* what a bounded wait may take here */

struct config	*conf;
static struct config	 cf;

int	 cache_test_hold(const char *, size_t);

static pid_t	 holder;

/* An unbounded wait: say so, take the holder along, fail. */
static void
on_alarm(int sig)
{
	static const char m[] = "not ok - a lock wait did not end (alarm)\n";

	(void)sig;
	(void)write(STDOUT_FILENO, m, sizeof(m) - 1);
	if (holder > 0)
		kill(holder, SIGKILL);
	_exit(1);
}

static void
key(char *b, size_t len, int i)
{
	snprintf(b, len, "/api/v1.0/pxcodes/K%03d", i);
}

/* How many of the keys hit. */
static int
lookup_all(int64_t *ms)
{
	struct buf	 body;
	char		 k[64], etag[64];
	long long	 age;
	int		 i, n = 0, stale;
	int64_t		 t0 = now_ms();

	buf_init(&body, 1 << 20);
	for (i = 0; i < NKEYS; i++) {
		key(k, sizeof(k), i);
		buf_reset(&body);
		if (cache_lookup(k, strlen(k), 0, &body, etag, sizeof(etag),
		    &age, &stale) == 0)
			n++;
	}
	buf_free(&body);
	*ms = now_ms() - t0;
	return (n);
}

static void
store_all(void)
{
	char	k[64];
	int	i;

	for (i = 0; i < NKEYS; i++) {
		key(k, sizeof(k), i);
		cache_store(k, strlen(k), cache_version("t"), DB_LSN_FRESH, "{\"x\":1}", 7,
		    "\"e\"");
	}
}

int
main(void)
{
	struct cache_stats	 st;
	struct buf		 body;
	char			 k0[64], etag[64], c;
	long long		 age;
	void			*p;
	int			 fds[2], status, n, stale;
	int64_t			 ms, t0;
	pid_t			 pid;

	conf = &cf;
	cf.cache_size = 1024 * 1024;
	log_init(0, LOG_LVL_ERROR, "cache_test");
	signal(SIGALRM, on_alarm);
	alarm(10);
	p = mmap(NULL, cache_shm_size(), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || cache_shm_attach(p) == -1) {
		ok(0, "the cache region is made");
		return (done_testing());
	}
	store_all();
	n = lookup_all(&ms);
	ok(n == NKEYS, "every key is stored and found (%d)", n);

	key(k0, sizeof(k0), 0);
	if (pipe(fds) == -1 || (pid = fork()) == -1)
		return (1);
	if (pid == 0) {
		int	null = open("/dev/null", O_WRONLY);

		/* Not prove's pipe: a stopped holder must not keep it. */
		if (null != -1)
			dup2(null, STDOUT_FILENO);
		close(fds[0]);
		if (cache_test_hold(k0, strlen(k0)) == 0)
			(void)write(fds[1], "h", 1);
		raise(SIGSTOP);
		for (;;)
			pause();
	}
	holder = pid;
	close(fds[1]);
	ok(read(fds[0], &c, 1) == 1, "a child holds the stripe of one key");
	ok(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status),
	    "and is stopped");

	buf_init(&body, 1 << 20);
	t0 = now_ms();
	n = cache_lookup(k0, strlen(k0), 0, &body, etag, sizeof(etag), &age,
	    &stale);
	ms = now_ms() - t0;
	ok(n == -1, "a lookup on the held stripe is a miss");
	ok(ms < BOUND_MS, "after a bounded wait (%lld ms)", (long long)ms);
	t0 = now_ms();
	cache_store(k0, strlen(k0), cache_version("t"), DB_LSN_FRESH, "{}", 2,
	    "\"f\"");
	ms = now_ms() - t0;
	ok(ms < BOUND_MS, "a store on the held stripe gives up at once (%lld "
	    "ms)", (long long)ms);
	n = lookup_all(&ms);
	ok(n > 0 && n < NKEYS, "the other stripes still serve (%d of %d hit)",
	    n, NKEYS);
	ok(ms < BOUND_MS, "every lookup together took a bounded time (%lld "
	    "ms)", (long long)ms);

	kill(pid, SIGKILL);
	ok(waitpid(pid, &status, 0) == pid, "the holder is killed");
	store_all();
	n = lookup_all(&ms);
	ok(n == NKEYS, "then the stripe is recovered: every key found (%d)",
	    n);
	cache_stats(&st);
	ok(st.resets == 1, "one stripe reset (%llu)",
	    (unsigned long long)st.resets);
	buf_free(&body);
	return (done_testing());
}
