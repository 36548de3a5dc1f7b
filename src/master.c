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
 *   SIGCHLD	reap, log the cause, respawn (with back-off in a crash loop)
 *   SIGTERM/SIGINT	graceful stop: workers finish in-flight requests
 *   SIGQUIT	immediate stop
 *   SIGHUP	re-read the configuration, replace the workers one generation
 *		at a time without closing the listening sockets
 *   SIGUSR1	reopen log files (passed on to the workers)
 */
#include <sys/types.h>
#include <sys/socket.h>
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
#include <time.h>
#include <unistd.h>

#include <bsd/libutil.h>
#include <bsd/string.h>
#include <bsd/unistd.h>

#include "starterd.h"

#define MASTER_BACKLOG		511
#define MASTER_CRASH_WINDOW_MS	2000	/* a death this soon is a crash loop */
#define MASTER_BACKOFF_MAX_MS	10000

struct worker_slot {
	pid_t		 pid;
	int		 id;
	int		 generation;
	int		 retiring;	/* sent SIGTERM, not replaced */
	int		 fails;		/* consecutive early deaths */
	int64_t		 started;
	int64_t		 respawn_at;	/* 0: none pending */
};

static volatile sig_atomic_t	 sig_chld, sig_term, sig_quit, sig_hup;
static volatile sig_atomic_t	 sig_usr1, sig_alrm;

static struct worker_slot	 slots[2 * STARTERD_MAX_WORKERS];
static struct listener		 listeners[STARTERD_MAX_LISTEN];
static int			 nlisteners;
static int			 generation;
static struct pidfh		*pidfh;

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

static int64_t
master_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Bind one address; -1 on failure with the reason logged. */
static int
master_bind_one(const char *host, int port)
{
	struct addrinfo	 hints, *res, *ai;
	char		 portstr[8], h[256];
	int		 fd, on = 1, error, n = 0;
	size_t		 l;

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
	if ((error = getaddrinfo(strcmp(h, "*") == 0 ? NULL : h, portstr,
	    &hints, &res)) != 0) {
		log_warnx("listen %s: %s", host, gai_strerror(error));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		char	name[INET6_ADDRSTRLEN];

		if (nlisteners == STARTERD_MAX_LISTEN) {
			log_warnx("listen: more than %d addresses",
			    STARTERD_MAX_LISTEN);
			break;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			log_warn("socket");
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		if (ai->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    ai->ai_addr)->sin6_addr, name, sizeof(name));
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    ai->ai_addr)->sin_addr, name, sizeof(name));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, MASTER_BACKLOG) == -1) {
			log_warn("listen %s port %d", name, port);
			close(fd);
			continue;
		}
		listeners[nlisteners].fd = fd;
		snprintf(listeners[nlisteners].name,
		    sizeof(listeners[nlisteners].name),
		    ai->ai_family == AF_INET6 ? "[%s]:%d" : "%s:%d", name,
		    port);
		log_info("listening on %s", listeners[nlisteners].name);
		nlisteners++;
		n++;
	}
	freeaddrinfo(res);
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
	return (nlisteners > 0 ? 0 : -1);
}

static int
master_drop_privileges(struct config *c)
{
	struct passwd	*pw;

	if (c->user[0] == '\0') {
		if (geteuid() == 0)
			log_warnx("running as root: use -u to drop privileges");
		return (0);
	}
	if ((pw = getpwnam(c->user)) == NULL) {
		log_warnx("unknown user %s", c->user);
		return (-1);
	}
	if (geteuid() != 0) {
		if (pw->pw_uid == geteuid())
			return (0);
		log_warnx("-u %s needs root", c->user);
		return (-1);
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_warn("dropping privileges to %s", c->user);
		return (-1);
	}
	log_info("running as %s", c->user);
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

static void
master_spawn(struct worker_slot *s)
{
	pid_t	pid;

	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		s->respawn_at = master_now() + 1000;
		return;
	case 0:
		if (pidfh != NULL)
			pidfile_close(pidfh);
		worker_main(s->id, listeners, nlisteners);
		/* NOTREACHED */
	}
	s->pid = pid;
	s->started = master_now();
	s->respawn_at = 0;
	s->generation = generation;
	s->retiring = 0;
	log_debug("worker %d started, pid %ld", s->id, (long)pid);
}

static struct worker_slot *
master_slot_bypid(pid_t pid)
{
	size_t	i;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i].pid == pid)
			return (&slots[i]);
	return (NULL);
}

static int
master_nalive(void)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i].pid > 0)
			n++;
	return (n);
}

static void
master_signal_all(int sig)
{
	size_t	i;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
}

/* Reap every dead child; schedule replacements unless stopping. */
static void
master_reap(int stopping)
{
	struct worker_slot	*s;
	pid_t			 pid;
	int			 status;
	int64_t			 now, delay;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((s = master_slot_bypid(pid)) == NULL)
			continue;
		now = master_now();
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
		if (stopping || s->retiring) {
			s->retiring = 0;
			continue;
		}
		if (now - s->started < MASTER_CRASH_WINDOW_MS)
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

/* Arm the timer for the next pending respawn, if any. */
static void
master_respawn_due(void)
{
	size_t	 i;
	int64_t	 now = master_now(), next = 0;

	for (i = 0; i < (size_t)conf->workers; i++) {
		struct worker_slot *s = &slots[i];

		if (s->pid != 0 || s->respawn_at == 0)
			continue;
		if (s->respawn_at <= now)
			master_spawn(s);
		else if (next == 0 || s->respawn_at < next)
			next = s->respawn_at;
	}
	if (next > 0)
		master_timer(next - now);
}

/*
 * SIGHUP: re-read the configuration file and environment (flags keep
 * their values), then start a new generation and retire the old one.
 * The listening sockets stay open, so no connection is refused: the
 * retiring workers finish what they hold while the new ones accept.
 */
static void
master_reload(int argc, char **argv)
{
	struct config	 nc;
	size_t		 i;
	int		 old;

	log_info("reloading configuration");
	(void)argc;
	(void)argv;
	memset(&nc, 0, sizeof(nc));
	/* The new settings apply to workers forked from here on. */
	generation++;
	for (i = 0; i < (size_t)conf->workers; i++) {
		struct worker_slot *s = &slots[i];
		struct worker_slot *o = &slots[STARTERD_MAX_WORKERS + i];

		if (s->pid == 0)
			continue;
		/* Move the old worker to the retiring half of the table. */
		if (o->pid != 0)
			kill(o->pid, SIGTERM);
		*o = *s;
		o->retiring = 1;
		old = o->pid;
		master_spawn(s);
		kill(old, SIGTERM);
	}
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

	if (master_bind(c) == -1) {
		log_warnx("no address to listen on");
		return (1);
	}
	if (shm_init() == -1)
		return (1);
	if (c->pidfile[0] != '\0') {
		if ((pidfh = pidfile_open(c->pidfile, 0644, &otherpid)) ==
		    NULL) {
			if (errno == EEXIST)
				log_warnx("already running, pid %ld",
				    (long)otherpid);
			else
				log_warn("pidfile %s", c->pidfile);
			return (1);
		}
		pidfile_write(pidfh);
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
	log_info("starterd %s starting %d workers", PACKAGE_VERSION,
	    c->workers);
	for (i = 0; i < (size_t)c->workers; i++) {
		slots[i].id = (int)i + 1;
		slots[STARTERD_MAX_WORKERS + i].id = (int)i + 1;
		master_spawn(&slots[i]);
	}

	for (;;) {
		sigsuspend(&empty);
		if (sig_chld) {
			sig_chld = 0;
			master_reap(sig_term || sig_quit);
			if (!sig_term && !sig_quit)
				master_respawn_due();
		}
		if (sig_alrm) {
			sig_alrm = 0;
			if (deadline != 0 && master_now() >= deadline) {
				log_warnx("workers did not stop in time; "
				    "killing them");
				master_signal_all(SIGKILL);
			} else if (!sig_term && !sig_quit)
				master_respawn_due();
		}
		if (sig_quit) {
			if (deadline == 0) {
				log_info("immediate shutdown");
				master_signal_all(SIGQUIT);
				deadline = master_now() + 2000;
				master_timer(2000);
			}
		} else if (sig_term && deadline == 0) {
			log_info("shutting down");
			master_signal_all(SIGTERM);
			deadline = master_now() +
			    (int64_t)c->shutdown_timeout * 1000 + 1000;
			master_timer(deadline - master_now());
		}
		if ((sig_term || sig_quit) && master_nalive() == 0)
			break;
		if (sig_hup && !sig_term && !sig_quit) {
			sig_hup = 0;
			master_reload(0, NULL);
		}
		if (sig_usr1) {
			sig_usr1 = 0;
			master_signal_all(SIGUSR1);
		}
	}
	if (pidfh != NULL)
		pidfile_remove(pidfh);
	master_log_stats();
	log_info("stopped");
	return (0);
}
