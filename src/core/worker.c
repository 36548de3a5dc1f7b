/*
 * worker.c: one worker process and its event loop.
 *
 * A single epoll loop (event.c) multiplexes the listening sockets, every
 * client socket (edge-triggered, with rd_ready/wr_ready flags as in
 * nginx), the worker's PostgreSQL connection (db.c) and the eventfd of
 * its password thread (auth.c).  Nothing here blocks: a client waiting
 * for the database or for argon2 is parked in CLIENT_BUSY and the loop
 * serves the others.
 *
 * One turn: wait for events; run the state machine (conn.c) of every
 * client with an event; hand the database's and the password thread's
 * completions to their callbacks (db_deliver, auth_event), which wake
 * their clients; run every woken client; then close the turn's batch of
 * queries with one sync point (db_loop_end), flush the access log and
 * free the closed clients.  Only this loop runs a client's state machine.
 *
 * The listeners are level-triggered: a worker that cannot accept (it holds
 * --worker-connections clients, or accept fails for want of descriptors or
 * memory) takes them out of its epoll set, or it would spin on them, and
 * puts them back when a client closes or after WORKER_ACCEPT_PAUSE_MS.
 *
 * A retiring worker (reload, SIGTERM) closes no connection under a client
 * that may be sending: each answers its next request with Connection:
 * close, and one left idle is closed after WORKER_DRAIN_GRACE_MS without
 * traffic (bounded by the drain deadline), as nginx retires keep-alives.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <bsd/unistd.h>

#include "starterd.h"

#define WORKER_MAX_EVENTS	256
#define WORKER_ACCEPT_BURST	64
#define WORKER_SWEEP_MS		250
#define WORKER_ACCEPT_PAUSE_MS	100	/* out of fds: retry after */
#define WORKER_DRAIN_GRACE_MS	1000	/* idle keep-alive, retiring */

int				 worker_id;
static struct listener		*listeners;
static int			 nlisteners;
static int			 draining;
static int64_t			 drain_deadline;
static int			 replaces_dead;	/* set by the master */
/* Listeners out of the epoll set, back at accept_resume (0: a close). */
static int			 accept_paused;
static int64_t			 accept_resume;
static int64_t			 accept_logged;	/* last logged */
static unsigned long		 accept_suppressed;

static volatile sig_atomic_t	 w_term, w_quit, w_usr1;

static void
worker_sig(int sig)
{
	switch (sig) {
	case SIGTERM:
		w_term = 1;
		break;
	case SIGQUIT:
		_exit(0);
	case SIGUSR1:
		w_usr1 = 1;
		break;
	}
}

/* Take the listeners out of the epoll set, until `until` (0: a close). */
static void
worker_accept_pause(int64_t until)
{
	int	i;

	if (!accept_paused && !draining)
		for (i = 0; i < nlisteners; i++)
			(void)event_watch(EPOLL_CTL_DEL, listeners[i].fd, 0,
			    NULL);
	accept_paused = 1;
	accept_resume = until;
}

/* Put them back when there is room again (and the pause is over). */
static void
worker_accept_resume(int64_t now)
{
	int	i;

	if (!accept_paused || draining ||
	    client_count >= conf->worker_connections ||
	    (accept_resume != 0 && now < accept_resume))
		return;
	accept_paused = 0;
	for (i = 0; i < nlisteners; i++)
		if (event_watch(EPOLL_CTL_ADD, listeners[i].fd,
		    EPOLLIN | EPOLLEXCLUSIVE, &listeners[i]) == -1)
			log_warn("epoll_ctl listener");
}

/* An accept error, logged at most once a second with a count of the rest. */
static void
worker_accept_error(void)
{
	int64_t	now = now_ms();
	int	saved = errno;

	if (accept_logged != 0 && now - accept_logged < 1000) {
		accept_suppressed++;
		return;
	}
	errno = saved;
	if (accept_suppressed > 0)
		log_warn("accept (%lu more suppressed)", accept_suppressed);
	else
		log_warn("accept");
	accept_logged = now;
	accept_suppressed = 0;
}

static void
worker_accept(struct listener *l)
{
	struct sockaddr_storage	 ss;
	socklen_t		 slen;
	struct client		*c;
	char			 host[INET6_ADDRSTRLEN];
	int			 fd, i, err, on = 1;

	for (i = 0; i < WORKER_ACCEPT_BURST; i++) {
		if (draining)
			return;
		if (client_count >= conf->worker_connections) {
			worker_accept_pause(0);
			return;
		}
		slen = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if ((err = errno) == EAGAIN || err == EINTR ||
			    err == ECONNABORTED)
				return;
			worker_accept_error();
			if (err == EMFILE || err == ENFILE ||
			    err == ENOBUFS || err == ENOMEM)
				worker_accept_pause(now_ms() +
				    WORKER_ACCEPT_PAUSE_MS);
			return;
		}
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, host, sizeof(host));
		else if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, host, sizeof(host));
		else
			strlcpy(host, "unix", sizeof(host));
		if ((c = client_new(fd, host)) == NULL) {
			log_warn("calloc");
			close(fd);
			worker_accept_pause(now_ms() + WORKER_ACCEPT_PAUSE_MS);
			return;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		c->deadline = now_ms() + conf->header_timeout * 1000LL;
		if (event_watch(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT |
		    EPOLLRDHUP | EPOLLET, c) == -1) {
			log_warn("epoll_ctl");
			client_close(c);
			continue;
		}
		conn_run(c);
	}
}

static void
worker_sweep(int64_t now)
{
	struct client	*c, *next;

	for (c = TAILQ_FIRST(&client_all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CLIENT_BUSY || c->deadline == 0 ||
		    now < c->deadline)
			continue;
		conn_timeout(c);
	}
}

/*
 * Stop accepting.  Every connection's next response says Connection:
 * close (conn.c's draining); one idle between requests is closed only
 * when it has stayed idle for the grace time (its deadline, which the
 * sweep enforces), so a client sending its next request meanwhile gets
 * an answer, never a reset.  Busy ones close after their response.
 */
static void
worker_drain(void)
{
	struct client	*c, *next;
	int64_t		 grace;
	int		 i;

	if (draining)
		return;
	draining = 1;
	conn_set_draining(1);
	drain_deadline = now_ms() + conf->shutdown_timeout * 1000LL;
	for (i = 0; i < nlisteners; i++) {
		if (!accept_paused)
			(void)event_watch(EPOLL_CTL_DEL, listeners[i].fd, 0,
			    NULL);
		close(listeners[i].fd);
	}
	setproctitle("worker %d (stopping)", worker_id);
	grace = now_ms() + WORKER_DRAIN_GRACE_MS;
	if (grace > drain_deadline)
		grace = drain_deadline;
	for (c = TAILQ_FIRST(&client_all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		/* A response already queued keeps what it said. */
		if (c->state == CLIENT_BUSY || c->state == CLIENT_READ_BODY)
			c->keepalive = 0;
		if (c->state == CLIENT_READ_HEAD && BUF_LEN(&c->in) == 0 &&
		    BUF_LEN(&c->out) == 0 && c->nreq > 0 &&
		    (c->deadline == 0 || c->deadline > grace))
			c->deadline = grace;
	}
}

/*
 * A database link is ready.  The primary: bind the resources, load the
 * token key.  The listening link: whatever changed while it was away is
 * unknown, so after a reconnect, and in a worker that replaces one that
 * died (its backend may still have committed a write it never reported),
 * everything is forgotten; a worker of a fresh start or a reload missed
 * nothing, the others were listening.  Either way, fills from replicas
 * wait for its first position (cache.c).
 */
/* Does this link LISTEN (db.c: the listening one, else the primary)? */
static int
worker_db_listens(int link)
{
	if (conf->listen_dsn != NULL && *conf->listen_dsn != '\0')
		return (link == DB_LISTEN);
	return (link == DB_PRIMARY);
}

static void
worker_db_up(int link, int reconnected)
{
	/*
	 * Every link: through a pooler the primary link may outlive a
	 * database restart that only the (direct) listening link sees.
	 */
	if (reconnected)
		metrics_db_reconnect();
	if (link == DB_PRIMARY) {
		token_db_up();
		resource_db_up();
	}
	if (worker_db_listens(link)) {
		if (reconnected || replaces_dead)
			channels_forget_all();
		else
			cache_listen_up();
	}
}

static void
worker_db_down(int link)
{
	if (worker_db_listens(link))
		cache_listen_down();
}

static const struct db_hooks worker_db_hooks = {
	channels_listen, channels_route, worker_db_up, worker_db_down,
	cache_probe_sent, cache_synced
};

/* Run every posted completion and woken client, until none is left. */
static void
worker_run_posted(void)
{
	struct client	*c;

	do {
		db_deliver();
		while ((c = client_next_ready()) != NULL)
			conn_run(c);
	} while (db_has_done());
}

void
worker_main(int id, struct listener *l, int nl, int died)
{
	struct epoll_event	 evs[WORKER_MAX_EVENTS];
	struct sigaction	 sa;
	sigset_t		 mask;
	int64_t			 now, next_sweep = 0;
	int			 i, n, timeout;
	char			 name[32], label[128];
	const struct route	*r;

	worker_id = id;
	listeners = l;
	nlisteners = nl;
	replaces_dead = died;
	snprintf(name, sizeof(name), "worker %d", id);
	log_procname(name);
	setproctitle("worker %d", id);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_sig;
	sigfillset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);	/* the master decides */
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	if (resource_init() == -1)
		fatal("resource_init");
	for (i = 0; (r = router_get(i)) != NULL; i++) {
		router_label(r, label, sizeof(label));
		metrics_route_label(i, label);
	}
	/*
	 * A fixed threshold (glibc's moves up as big blocks are freed): a
	 * buffer that grew for a big request is mapped, and its memory goes
	 * back to the system when it is shrunk or freed.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 4 * CLIENT_BUF_KEEP);
	accesslog_open();
	if (event_init() == -1)
		fatal("epoll_create1");
	for (i = 0; i < nlisteners; i++)
		if (event_watch(EPOLL_CTL_ADD, listeners[i].fd,
		    EPOLLIN | EPOLLEXCLUSIVE, &listeners[i]) == -1)
			fatal("epoll_ctl listener");
	if (auth_init() == -1)
		fatal("auth_init");
	if (event_watch(EPOLL_CTL_ADD, auth_fd(), EPOLLIN, &auth_evtag) == -1)
		fatal("epoll_ctl auth");
	if (db_init(conf->dsn, conf->read_dsn, conf->listen_dsn,
	    strcmp(conf->prepare, "unnamed") == 0, id, &worker_db_hooks) == -1)
		fatalx("db_init");

	for (;;) {
		if (w_term && !draining)
			worker_drain();
		if (w_usr1) {
			w_usr1 = 0;
			accesslog_flush();
			accesslog_open();
		}
		if (draining &&
		    (client_count == 0 || now_ms() >= drain_deadline))
			break;
		worker_accept_resume(now_ms());
		/* Work posted after the last drain is run at once. */
		timeout = client_has_ready() || db_has_done() ? 0 :
		    WORKER_SWEEP_MS;
		if (accept_paused && accept_resume != 0 && timeout > 0) {
			int64_t left = accept_resume - now_ms();

			if (left < timeout)
				timeout = left > 0 ? (int)left : 0;
		}
		n = event_wait(evs, WORKER_MAX_EVENTS, timeout);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		response_date_update();
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if ((char *)p >= db_evtag &&
			    (char *)p < db_evtag + DB_NLINKS) {
				db_event((int)((char *)p - db_evtag),
				    evs[i].events);
				continue;
			}
			if (p == &auth_evtag) {
				auth_event();
				continue;
			}
			if ((struct listener *)p >= listeners &&
			    (struct listener *)p < listeners + nlisteners) {
				worker_accept((struct listener *)p);
				continue;
			}
			{
				struct client *c = p;

				if (c->state == CLIENT_CLOSED)
					continue;
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP |
				    EPOLLHUP | EPOLLERR))
					c->rd_ready = 1;
				if (evs[i].events & (EPOLLOUT | EPOLLHUP |
				    EPOLLERR))
					c->wr_ready = 1;
				conn_run(c);
			}
		}
		worker_run_posted();
		now = now_ms();
		db_tick(now);
		db_loop_end();
		metrics_beat(now, db_status());
		if (now >= next_sweep) {
			worker_sweep(now);
			next_sweep = now + WORKER_SWEEP_MS;
			/*
			 * EPOLLEXCLUSIVE wakes one worker per connection; if
			 * that one is killed or stopped before it accepts,
			 * the connection waits in the backlog until the next
			 * one arrives.  Polling the listeners on the sweep
			 * bounds that wait to WORKER_SWEEP_MS.
			 */
			if (!accept_paused && !draining)
				for (i = 0; i < nlisteners; i++)
					worker_accept(&listeners[i]);
		}
		accesslog_flush();
		client_collect();
	}
	accesslog_flush();
	auth_shutdown();
	db_shutdown();
	exit(0);
}
