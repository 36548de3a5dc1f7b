/*
 * master.c: the supervisor.
 *
 * The master binds the listening sockets, maps the shared memory, drops
 * privileges and forks the workers; from then on it only waits for signals
 * and children.  It never speaks HTTP or SQL and never touches what the
 * workers write in shared memory, so nothing a worker does can wedge it
 * (the rule of PostgreSQL's postmaster).
 *
 * Signal handlers only set flags; master_loop() acts on them.
 *   SIGCHLD	reap, log the cause, respawn (with back-off in a crash loop:
 *		only workers that die before they are ready back off)
 *   SIGTERM/SIGINT	graceful stop: workers finish in-flight requests
 *   SIGQUIT	immediate stop
 *   SIGHUP	re-read the configuration, start a new generation of
 *		workers and retire the old one once the new one serves,
 *		without closing the listening sockets
 *   SIGUSR1	reopen log files (passed on to the workers)
 *   SIGALRM	the one timer: respawns due, readiness polling, the
 *		watchdog, and the heartbeat check that SIGKILLs a worker
 *		stuck for worker_timeout seconds
 *
 * The one exception to "never touches what the workers write": the
 * per-process ready flag and heartbeat in the metrics region (metrics.c),
 * plain atomics read for readiness (READY=1, reloads), the systemd
 * watchdog and the hung-worker check.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/libutil.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "starterd.h"

#define MASTER_BACKLOG		511
#define MASTER_CRASH_WINDOW_MS	2000	/* a death this soon is a crash loop */
#define MASTER_BACKOFF_MAX_MS	10000
#define MASTER_POLL_MS		50	/* readiness polling */
#define MASTER_AI_OWN		0x10000	/* ai_flags: master_loopback's */
#define MASTER_AI_OPTIONAL	0x20000	/* ai_flags: may be missing here */
#define MASTER_READY_TIMEOUT_MS	15000	/* a reload stops waiting after */
#define MASTER_NSLOTS		(4 * STARTERD_MAX_WORKERS)

struct worker_slot {
	pid_t		 pid;
	int		 id;
	int		 generation;
	int		 retiring;	/* not replaced when it exits */
	int		 retire_pending;	/* SIGTERM once the new serve */
	int		 proc;		/* entry in the metrics region */
	int		 fails;		/* consecutive early deaths */
	int64_t		 started;
	int64_t		 respawn_at;	/* 0: none pending */
	int		 died;		/* the last one here died unasked */
	int		 hung;		/* SIGKILLed for a stopped heartbeat */
};

static volatile sig_atomic_t	 sig_chld, sig_term, sig_quit, sig_hup;
static volatile sig_atomic_t	 sig_usr1, sig_alrm;

/*
 * slots[0 .. conf->workers - 1] hold the current generation; the rest
 * hold retiring workers until they exit.
 */
static struct worker_slot	 slots[MASTER_NSLOTS];
static struct listener		 listeners[STARTERD_MAX_LISTEN];
static int			 nlisteners;
static int			 generation;
static int			 pidfd = -1;	/* the pidfile, locked */
static int			 want_ready;	/* READY=1 not sent yet */
static int64_t			 ready_deadline;	/* reload: stop waiting */
static int64_t			 wd_next;	/* next WATCHDOG=1 */
static int64_t			 hang_next;	/* next heartbeat check */

static void
master_sig(int sig)
{
	int	saved = errno;

	switch (sig) {
	case SIGCHLD:
		sig_chld = 1;
		break;
	case SIGTERM:
	case SIGINT:
		sig_term = 1;
		break;
	case SIGQUIT:
		sig_quit = 1;
		break;
	case SIGHUP:
		sig_hup = 1;
		break;
	case SIGUSR1:
		sig_usr1 = 1;
		break;
	case SIGALRM:
		sig_alrm = 1;
		break;
	}
	errno = saved;
}

/* Bind one address; -1 on failure with the reason logged. */
/*
 * The addresses of one listen entry (a name, an address, [v6] or *), for
 * the master and for -t (preflight.c); 0, or the getaddrinfo() error.
 */
static int	master_loopback(int, struct addrinfo **);

int
master_resolve(const char *host, int port, struct addrinfo **res)
{
	struct addrinfo	 hints;
	char		 portstr[8], h[256];
	size_t		 l;

	if (strcasecmp(host, "localhost") == 0)
		return (master_loopback(port, res));

	strlcpy(h, host, sizeof(h));
	l = strlen(h);
	if (l > 2 && h[0] == '[' && h[l - 1] == ']') {
		memmove(h, h + 1, l - 2);
		h[l - 2] = '\0';
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	return (getaddrinfo(strcmp(h, "*") == 0 ? NULL : h, portstr, &hints,
	    res));
}

/* master_resolve's list, whichever made it. */
void
master_addrfree(struct addrinfo *res)
{
	struct addrinfo	*next;

	if (res == NULL || !(res->ai_flags & MASTER_AI_OWN)) {
		if (res != NULL)
			freeaddrinfo(res);
		return;
	}
	for (; res != NULL; res = next) {
		next = res->ai_next;
		free(res);
	}
}

/* "addr:port" or "[addr]:port" of one resolved address. */
void
master_addr_name(const struct addrinfo *ai, int port, char *out, size_t len)
{
	char	name[INET6_ADDRSTRLEN];

	if (ai->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
		    ai->ai_addr)->sin6_addr, name, sizeof(name));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)
		    ai->ai_addr)->sin_addr, name, sizeof(name));
	snprintf(out, len, ai->ai_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
	    name, port);
}

/*
 * "localhost" is the loopback (RFC 6761, 6.3), whatever the hosts file
 * says (some list only 127.0.0.1): both 127.0.0.1 and ::1, as a list of
 * our own (master_addrfree).  ::1 may be missing (no IPv6 in a
 * container): the binders skip it then.
 */
static int
master_loopback(int port, struct addrinfo **res)
{
	struct lb {
		struct addrinfo		ai;
		struct sockaddr_storage	ss;
	}			*v4, *v6;
	struct sockaddr_in	*s4;
	struct sockaddr_in6	*s6;

	if ((v4 = calloc(1, sizeof(*v4))) == NULL ||
	    (v6 = calloc(1, sizeof(*v6))) == NULL) {
		free(v4);
		return (EAI_MEMORY);
	}
	s4 = (struct sockaddr_in *)&v4->ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s6 = (struct sockaddr_in6 *)&v6->ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	s6->sin6_addr = in6addr_loopback;
	v4->ai = (struct addrinfo){ MASTER_AI_OWN, AF_INET, SOCK_STREAM,
	    IPPROTO_TCP, sizeof(*s4), (struct sockaddr *)s4, NULL, &v6->ai };
	v6->ai = (struct addrinfo){ MASTER_AI_OWN | MASTER_AI_OPTIONAL,
	    AF_INET6, SOCK_STREAM, IPPROTO_TCP, sizeof(*s6),
	    (struct sockaddr *)s6, NULL, NULL };
	*res = &v4->ai;
	return (0);
}

static int
master_bind_one(const char *host, int port)
{
	struct addrinfo	 *res, *ai;
	int		 fd, on = 1, error, n = 0, bound;

	if ((error = master_resolve(host, port, &res)) != 0) {
		log_fatalx("listen %s: %s", host, gai_strerror(error));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		char	name[INET6_ADDRSTRLEN + 16];

		if (nlisteners == STARTERD_MAX_LISTEN) {
			log_warnx("listen: more than %d addresses",
			    STARTERD_MAX_LISTEN);
			break;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			if (errno == EAFNOSUPPORT) {	/* no IPv6 here */
				log_debug("listen: address family %d "
				    "unsupported", ai->ai_family);
				continue;
			}
			log_fatal("listen: socket");
			master_addrfree(res);
			return (-1);
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		master_addr_name(ai, port, name, sizeof(name));
		bound = bind(fd, ai->ai_addr, ai->ai_addrlen);
		if (bound == -1 && errno == EADDRNOTAVAIL &&
		    (ai->ai_flags & MASTER_AI_OPTIONAL)) {
			log_debug("listen %s: no such address here", name);
			close(fd);
			continue;
		}
		if (bound == -1 || listen(fd, MASTER_BACKLOG) == -1) {
			/* Every address asked for, or none (as nginx). */
			log_fatal("listen %s", name);
			close(fd);
			master_addrfree(res);
			return (-1);
		}
		listeners[nlisteners].fd = fd;
		strlcpy(listeners[nlisteners].name, name,
		    sizeof(listeners[nlisteners].name));
		log_info("listening on %s", listeners[nlisteners].name);
		nlisteners++;
		n++;
	}
	master_addrfree(res);
	if (n == 0)
		log_fatalx("listen %s: no usable address", host);
	return (n > 0 ? 0 : -1);
}

static int
master_bind(struct config *c)
{
	char	 list[sizeof(c->listen)], *p, *tok;

	strlcpy(list, c->listen, sizeof(list));
	p = list;
	while ((tok = strsep(&p, ", ")) != NULL) {
		if (*tok == '\0')
			continue;
		if (master_bind_one(tok, c->port) == -1)
			return (-1);
	}
	if (nlisteners == 0) {
		log_fatalx("listen: no address given");
		return (-1);
	}
	return (0);
}

/*
 * Stopping: let go of the listening sockets, so that once the workers
 * close theirs new connections are refused instead of waiting in the
 * backlog for a worker that will never accept them.
 */
static void
master_unlisten(void)
{
	int	i;

	for (i = 0; i < nlisteners; i++)
		if (listeners[i].fd != -1) {
			close(listeners[i].fd);
			listeners[i].fd = -1;
		}
}

/*
 * The pidfile, opened as whoever started us (root, often, in a directory
 * someone else may write): never through a symbolic link (O_NOFOLLOW),
 * only a plain file with one link, locked (flock) for as long as the
 * master lives, and later handed to the unprivileged user through the
 * descriptor (fchown), never by path.  -1 with errno set; EEXIST when
 * another master holds it, *other then its pid (or -1).
 */
static int
master_pidfile_open(const char *path, pid_t *other)
{
	struct stat	 st;
	char		 b[32];
	ssize_t		 n;
	int		 fd, saved;

	*other = -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK, 0644)) == -1)
		return (-1);
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		errno = EPERM;
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			if ((n = pread(fd, b, sizeof(b) - 1, 0)) > 0) {
				b[n] = '\0';
				*other = (pid_t)strtol(b, NULL, 10);
			}
			errno = EEXIST;
		}
		goto fail;
	}
	n = snprintf(b, sizeof(b), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, b, (size_t)n, 0) != n)
		goto fail;
	return (fd);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

/*
 * Workers never run as root.  Started as root, the master drops to -u
 * USER after binding and mapping shared memory, or to "nobody" (as nginx
 * does) when no user is given; -u root is refused.  The pidfile is handed
 * to that user so that it can be removed at exit.
 */
static int
master_drop_privileges(struct config *c)
{
	struct passwd	*pw;
	const char	*user = c->user;

	if (geteuid() != 0) {
		if (user[0] == '\0')
			return (0);
		if ((pw = getpwnam(user)) == NULL) {
			log_warnx("unknown user %s", user);
			return (-1);
		}
		if (pw->pw_uid == geteuid())
			return (0);
		log_warnx("-u %s needs root", user);
		return (-1);
	}
	if (user[0] == '\0')
		user = STARTERD_DEFAULT_USER;
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("unknown user %s (give -u USER)", user);
		return (-1);
	}
	if (pw->pw_uid == 0) {
		log_warnx("refusing to run workers as root (-u %s): give an "
		    "unprivileged user", user);
		return (-1);
	}
	if (pidfd != -1 && fchown(pidfd, pw->pw_uid, pw->pw_gid) == -1)
		log_warn("chown %s", c->pidfile);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_warn("dropping privileges to %s", user);
		return (-1);
	}
	log_info("running as %s", user);
	return (0);
}

static void
master_timer(int64_t ms)
{
	struct itimerval	it;

	memset(&it, 0, sizeof(it));
	if (ms > 0) {
		it.it_value.tv_sec = ms / 1000;
		it.it_value.tv_usec = (ms % 1000) * 1000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

/* A metrics process entry no live worker uses. */
static int
master_proc_alloc(void)
{
	size_t	i;
	int	p;

	for (p = 0; p < MASTER_NSLOTS; p++) {
		for (i = 0; i < MASTER_NSLOTS; i++)
			if (slots[i].pid > 0 && slots[i].proc == p)
				break;
		if (i == MASTER_NSLOTS)
			return (p);
	}
	return (0);	/* cannot happen: as many entries as slots */
}

static void
master_spawn(struct worker_slot *s)
{
	pid_t	pid;

	s->proc = master_proc_alloc();
	metrics_proc_start(s->proc);
	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		s->respawn_at = now_ms() + 1000;
		return;
	case 0:
		if (pidfd != -1)
			close(pidfd);
		metrics_child(s->proc, s->id);
		cache_proc_start(s->proc);
		worker_main(s->id, listeners, nlisteners, s->died);
		/* NOTREACHED */
	}
	s->pid = pid;
	metrics_proc_pid(s->proc, pid);
	s->started = now_ms();
	s->respawn_at = 0;
	s->generation = generation;
	s->retiring = 0;
	s->retire_pending = 0;
	s->hung = 0;
	log_debug("worker %d started, pid %ld", s->id, (long)pid);
}

static struct worker_slot *
master_slot_bypid(pid_t pid)
{
	size_t	i;

	for (i = 0; i < MASTER_NSLOTS; i++)
		if (slots[i].pid == pid)
			return (&slots[i]);
	return (NULL);
}

static int
master_nalive(void)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < MASTER_NSLOTS; i++)
		if (slots[i].pid > 0)
			n++;
	return (n);
}

static void
master_signal_all(int sig)
{
	size_t	i;

	for (i = 0; i < MASTER_NSLOTS; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
}

/* Reap every dead child; schedule replacements unless stopping. */
static void
master_reap(int stopping)
{
	struct worker_slot	*s;
	pid_t			 pid;
	int			 status, was_ready;
	int64_t			 now, delay;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((s = master_slot_bypid(pid)) == NULL)
			continue;
		now = now_ms();
		if (WIFSIGNALED(status))
			log_warnx("worker %d (pid %ld) killed by signal %d",
			    s->id, (long)pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0 && !s->retiring)
			log_warnx("worker %d (pid %ld) exited with status %d",
			    s->id, (long)pid, WEXITSTATUS(status));
		else
			log_debug("worker %d (pid %ld) exited", s->id,
			    (long)pid);
		s->pid = 0;
		was_ready = metrics_proc_ready(s->proc);
		metrics_proc_end(s->proc);
		cache_proc_end(s->proc);	/* its probes will not answer */
		if (stopping || s->retiring) {
			/* Retired in place (reload overflow): replace it. */
			if (!stopping && s >= slots && s < slots + conf->workers)
				s->respawn_at = now;
			s->retiring = 0;
			s->retire_pending = 0;
			continue;
		}
		metrics_worker_restarted();
		s->died = 1;
		/*
		 * A crash loop is a worker dying before it serves (a bad
		 * setting, a resource it cannot get): those back off.  One
		 * that was serving is replaced at once, however soon it
		 * died, or a storm of kills would leave nobody serving.
		 */
		if (!was_ready && now - s->started < MASTER_CRASH_WINDOW_MS)
			s->fails++;
		else
			s->fails = 0;
		delay = s->fails == 0 ? 0 : 100LL << (s->fails > 7 ? 7 :
		    s->fails);
		if (delay > MASTER_BACKOFF_MAX_MS)
			delay = MASTER_BACKOFF_MAX_MS;
		if (delay > 0)
			log_warnx("worker %d is dying in a loop; respawn in "
			    "%lld ms", s->id, (long long)delay);
		s->respawn_at = now + delay;
	}
}

/* Start the replacements that are due. */
static void
master_respawn_due(void)
{
	size_t	 i;
	int64_t	 now = now_ms();

	for (i = 0; i < (size_t)conf->workers; i++) {
		struct worker_slot *s = &slots[i];

		if (s->pid == 0 && s->respawn_at != 0 && s->respawn_at <= now)
			master_spawn(s);
	}
}

/* Every worker of the current generation is up and serving. */
static int
master_all_ready(void)
{
	size_t	i;

	for (i = 0; i < (size_t)conf->workers; i++)
		if (slots[i].pid <= 0 || !metrics_proc_ready(slots[i].proc))
			return (0);
	return (1);
}

/* SIGTERM the previous generation; how many were sent it. */
static int
master_retire_old(void)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < MASTER_NSLOTS; i++) {
		if (slots[i].pid > 0 && slots[i].retire_pending) {
			slots[i].retire_pending = 0;
			kill(slots[i].pid, SIGTERM);
			n++;
		}
	}
	return (n);
}

/* The new generation serves (or took too long): retire the old one. */
static void
master_ready_check(void)
{
	int	n;

	if (!want_ready)
		return;
	if (!master_all_ready()) {
		if (ready_deadline == 0 || now_ms() < ready_deadline)
			return;
		log_warnx("workers not ready after %d ms; going on",
		    MASTER_READY_TIMEOUT_MS);
	}
	n = master_retire_old();
	want_ready = 0;
	ready_deadline = 0;
	if (n > 0)
		log_info("reload: generation %d serving, %d old workers "
		    "retiring", generation, n);
	notify_send("READY=1\nSTATUS=serving, %d workers", conf->workers);
}

/*
 * The watchdog: WATCHDOG=1 at half the interval, only while every live
 * worker of the current generation went round its loop recently (a worker
 * wakes at least every 250 ms) and at least one is alive.
 */
static void
master_watchdog(void)
{
	uint64_t	 usec = notify_watchdog_usec();
	int64_t		 now = now_ms(), half, stale;
	size_t		 i;
	int		 live = 0;

	if (usec == 0 || now < wd_next)
		return;
	half = (int64_t)(usec / 2000);
	if (half < 1)
		half = 1;
	wd_next = now + half;
	stale = half < 1000 ? 1000 : half;
	for (i = 0; i < (size_t)conf->workers; i++) {
		if (slots[i].pid <= 0)
			continue;
		if (metrics_proc_idle(slots[i].proc) > stale) {
			log_warnx("worker %d (pid %ld) is not answering; "
			    "withholding the watchdog", slots[i].id,
			    (long)slots[i].pid);
			return;
		}
		live++;
	}
	if (live > 0)
		notify_send("WATCHDOG=1");
}

/*
 * A worker whose heartbeat stopped for worker_timeout seconds (SIGSTOP, a
 * debugger, a page-fault storm) is SIGKILLed, then replaced like any dead
 * worker: while it does not run it holds its clients, and it may hold a
 * shared-memory lock the others only wait for a bounded time.  A worker
 * goes round its loop at least every 250 ms, so the bound is generous.
 */
static void
master_hang_check(void)
{
	int64_t	 now = now_ms(), idle, bound;
	size_t	 i;

	if (conf->worker_timeout <= 0 || now < hang_next)
		return;
	bound = (int64_t)conf->worker_timeout * 1000;
	hang_next = now + (bound / 4 < 1000 ? bound / 4 : 1000);
	for (i = 0; i < MASTER_NSLOTS; i++) {
		struct worker_slot *s = &slots[i];

		if (s->pid <= 0 || s->hung)
			continue;
		if ((idle = metrics_proc_idle(s->proc)) <= bound)
			continue;
		log_warnx("worker %d (pid %ld) has not run its loop for %lld "
		    "ms; killing it", s->id, (long)s->pid, (long long)idle);
		if (kill(s->pid, SIGKILL) == 0)
			s->hung = 1;
	}
}

/* Arm the one-shot timer for the earliest thing we wait for. */
static void
master_schedule(int64_t deadline)
{
	size_t	 i;
	int64_t	 now = now_ms(), next = deadline;

#define NEXT(t)	do { if ((t) > 0 && (next == 0 || (t) < next)) next = (t); \
	} while (0)
	for (i = 0; i < (size_t)conf->workers; i++)
		if (slots[i].pid == 0)
			NEXT(slots[i].respawn_at);
	if (want_ready)
		NEXT(now + MASTER_POLL_MS);
	if (notify_watchdog_usec() > 0)
		NEXT(wd_next);
	if (conf->worker_timeout > 0 && master_nalive() > 0)
		NEXT(hang_next);
#undef NEXT
	if (next > 0)
		master_timer(next <= now ? 1 : next - now);
	else
		master_timer(0);
}

/*
 * SIGHUP: re-read the configuration file and environment (flags keep
 * their values); on an error keep the current configuration.  Otherwise
 * start a new generation next to the old one; master_ready_check()
 * retires the old workers once every new one serves.  The listening
 * sockets stay open throughout, so no connection is refused, and a
 * retiring worker finishes what it holds: in-flight requests complete,
 * keep-alive connections close after their current response.
 */
static void
master_reload(void)
{
	struct config	 nc;
	size_t		 i, j;
	int		 oldn = conf->workers;

	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)now_us());
	log_info("reloading configuration");
	if (config_reload(&nc, main_argc, main_argv) == -1) {
		log_warnx("reload: the configuration has errors; keeping the "
		    "current one");
		config_free_dsns(&nc);
		free(nc.resources);
		notify_send("READY=1");
		return;
	}
	/* What needs the sockets, privileges or the mapping again. */
#define KEEP(changed, f, name) do {					\
	if (changed) {							\
		log_warnx("reload: %s changed; it takes effect after a "	\
		    "restart", name);					\
		memcpy(&nc.f, &conf->f, sizeof(nc.f));			\
	}								\
} while (0)
	KEEP(strcmp(nc.listen, conf->listen) != 0, listen, "listen");
	KEEP(nc.port != conf->port, port, "port");
	KEEP(strcmp(nc.user, conf->user) != 0, user, "user");
	KEEP(strcmp(nc.pidfile, conf->pidfile) != 0, pidfile, "pidfile");
	KEEP(nc.cache_size != conf->cache_size, cache_size, "cache_size");
	KEEP(nc.use_syslog != conf->use_syslog, use_syslog, "syslog");
	/* Parsed into shared memory before the first fork (ratelimit.c). */
	KEEP(strcmp(nc.rate_limit, conf->rate_limit) != 0, rate_limit,
	    "rate_limit");
	KEEP(strcmp(nc.rate_limit_by, conf->rate_limit_by) != 0,
	    rate_limit_by, "rate_limit_by");
	KEEP(strcmp(nc.auth_fail_limit, conf->auth_fail_limit) != 0,
	    auth_fail_limit, "auth_fail_limit");
	/* Read before privileges are dropped (token.c). */
	KEEP(strcmp(nc.token_key_file, conf->token_key_file) != 0,
	    token_key_file, "token_key_file");
#undef KEEP
	(void)master_retire_old();	/* a pending reload: its old go now */
	config_free_dsns(conf);
	free(conf->resources);	/* new workers bind the new list */
	*conf = nc;
	log_setlevel(conf->log_level);
	generation++;
	metrics_reloaded();

	/* Move the old generation out of the way, still serving. */
	for (i = 0; i < MASTER_NSLOTS; i++) {
		struct worker_slot *s = &slots[i];

		if ((int)i >= oldn && (int)i >= conf->workers)
			break;
		if (i >= (size_t)STARTERD_MAX_WORKERS)
			break;
		if (s->pid <= 0) {
			s->respawn_at = 0;
			continue;
		}
		for (j = STARTERD_MAX_WORKERS; j < MASTER_NSLOTS; j++)
			if (slots[j].pid <= 0)
				break;
		if (j == MASTER_NSLOTS) {
			log_warnx("reload: too many retiring workers; "
			    "stopping worker %d now", s->id);
			kill(s->pid, SIGTERM);
			s->retiring = 1;
			continue;
		}
		slots[j] = *s;
		slots[j].retiring = 1;
		slots[j].retire_pending = 1;
		memset(s, 0, sizeof(*s));
	}
	for (i = 0; i < (size_t)conf->workers; i++) {
		slots[i].id = (int)i + 1;
		slots[i].fails = 0;
		if (slots[i].pid <= 0)
			master_spawn(&slots[i]);
	}
	log_info("reload: generation %d, %d workers starting", generation,
	    conf->workers);
	want_ready = 1;
	ready_deadline = now_ms() + MASTER_READY_TIMEOUT_MS;
}

/*
 * Every worker has exited: nobody writes the shared memory any more, so
 * reading its counters cannot race or wedge anything.
 */
static void
master_log_stats(void)
{
	struct cache_stats	st;

	cache_stats(&st);
	if (cache_enabled())
		log_info("cache: %llu hits, %llu misses, %llu stored, "
		    "%llu evictions, %llu invalidations, %llu stale served, "
		    "%llu stripe resets", (unsigned long long)st.hits,
		    (unsigned long long)st.misses,
		    (unsigned long long)st.stores,
		    (unsigned long long)st.evictions,
		    (unsigned long long)st.invalidations,
		    (unsigned long long)st.stale,
		    (unsigned long long)st.resets);
}

int
master_run(struct config *c)
{
	struct sigaction	 sa;
	sigset_t		 mask, empty;
	size_t			 i;
	int64_t			 deadline = 0;
	pid_t			 otherpid;
	int			 stopping, quitting = 0;

	if (master_bind(c) == -1)
		return (1);	/* said in one fatal line */
	if (shm_init() == -1)
		return (1);
	if (c->pidfile[0] != '\0') {
		if ((pidfd = master_pidfile_open(c->pidfile, &otherpid)) ==
		    -1) {
			if (errno == EEXIST)
				log_warnx("already running, pid %ld",
				    (long)otherpid);
			else if (errno == ELOOP || errno == EPERM)
				log_warnx("pidfile %s: not a plain file (a "
				    "symbolic or hard link?); refusing it",
				    c->pidfile);
			else
				log_warn("pidfile %s", c->pidfile);
			return (1);
		}
	}
	if (master_drop_privileges(c) == -1)
		return (1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = master_sig;
	sigfillset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGALRM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigemptyset(&empty);

	setproctitle("master");
	log_procname("master");
	notify_init();
	log_info("starterd %s starting %d workers", PACKAGE_VERSION,
	    c->workers);
	for (i = 0; i < (size_t)c->workers; i++) {
		slots[i].id = (int)i + 1;
		master_spawn(&slots[i]);
	}
	want_ready = 1;		/* READY=1 once they all serve */
	wd_next = now_ms();
	master_schedule(0);

	for (;;) {
		sigsuspend(&empty);
		stopping = sig_term || sig_quit;
		if (sig_chld) {
			sig_chld = 0;
			master_reap(stopping);
		}
		if (sig_alrm) {
			sig_alrm = 0;
			if (deadline != 0 && now_ms() >= deadline) {
				log_warnx("workers did not stop in time; "
				    "killing them");
				master_signal_all(SIGKILL);
				deadline = now_ms() + 1000;
			}
		}
		if (sig_quit) {
			if (!quitting) {
				quitting = 1;
				log_info("immediate shutdown");
				notify_send("STOPPING=1");
				master_signal_all(SIGQUIT);
				deadline = now_ms() + 2000;
			}
		} else if (sig_term && deadline == 0) {
			log_info("shutting down");
			notify_send("STOPPING=1\nSTATUS=finishing requests");
			master_signal_all(SIGTERM);
			master_unlisten();
			deadline = now_ms() +
			    (int64_t)c->shutdown_timeout * 1000 + 1000;
		}
		if (stopping && master_nalive() == 0)
			break;
		if (!stopping) {
			master_respawn_due();
			if (sig_hup) {
				sig_hup = 0;
				master_reload();
			}
			master_ready_check();
			master_watchdog();
			master_hang_check();
		}
		if (sig_usr1) {
			sig_usr1 = 0;
			master_signal_all(SIGUSR1);
		}
		master_schedule(stopping ? deadline : 0);
	}
	if (pidfd != -1) {
		(void)unlink(c->pidfile);
		close(pidfd);
	}
	master_log_stats();
	log_info("stopped");
	return (0);
}
