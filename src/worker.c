/*
 * worker.c: one worker process.
 *
 * A single epoll loop multiplexes the listening sockets, every client
 * socket (edge-triggered, with rd_ready/wr_ready flags as in nginx), the
 * worker's PostgreSQL connection (db.c) and the eventfd of its password
 * thread (auth.c).  Nothing here blocks: a client waiting for the
 * database or for argon2 is parked in CLIENT_BUSY and the loop serves the
 * others.
 *
 * A connection handles one request at a time; pipelined requests wait in
 * the input buffer, so responses leave in request order.
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
#define WORKER_LINGER_MS	2000

TAILQ_HEAD(clientlist, client);

int				 worker_id;
int				 worker_replaces_dead;	/* set by the master */
int				 worker_epfd = -1;
static struct clientlist	 clients = TAILQ_HEAD_INITIALIZER(clients);
static struct clientlist	 garbage = TAILQ_HEAD_INITIALIZER(garbage);
static int			 nclients;
static uint64_t			 client_serial;
static struct listener		*listeners;
static int			 nlisteners;
static int			 draining;
static int64_t			 drain_deadline;
static FILE			*access_fp;
static struct buf		 access_buf;

static volatile sig_atomic_t	 w_term, w_quit, w_usr1;

/* epoll tags: data.ptr is a client, or one of these. */
static char	 tag_db, tag_auth;

static void	 client_run(struct client *);
static void	 client_close(struct client *);

int64_t
worker_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
worker_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

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

/* Watch fd for events; tag identifies it in the loop.  op: EPOLL_CTL_*. */
int
worker_watch(int op, int fd, uint32_t events, void *tag)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = tag;
	return (epoll_ctl(worker_epfd, op, fd, &ev));
}

void *
worker_db_tag(void)
{
	return (&tag_db);
}

/* ---------------------------------------------------------------- logs */

static void
access_open(void)
{
	if (access_fp != NULL && access_fp != stderr)
		fclose(access_fp);
	access_fp = NULL;
	if (strcmp(conf->access_log, "off") == 0)
		return;
	if (strcmp(conf->access_log, "-") == 0) {
		access_fp = stderr;
		return;
	}
	if ((access_fp = fopen(conf->access_log, "a")) == NULL)
		log_warn("access log %s", conf->access_log);
}

static void
access_flush(void)
{
	if (access_fp == NULL || BUF_LEN(&access_buf) == 0) {
		buf_reset(&access_buf);
		return;
	}
	if (access_fp == stderr)
		(void)write(STDERR_FILENO, BUF_PTR(&access_buf),
		    BUF_LEN(&access_buf));
	else {
		fwrite(BUF_PTR(&access_buf), 1, BUF_LEN(&access_buf),
		    access_fp);
		fflush(access_fp);
	}
	buf_reset(&access_buf);
}

/*
 * Combined log format, plus the request time in microseconds and the
 * request id.
 */
static void
access_log(struct client *c)
{
	static char	 tstr[40];
	static time_t	 tlast;
	const char	*buf = BUF_PTR(&c->in);
	const struct http_span *ref, *ua;
	struct tm	 tm;
	time_t		 now;

	if (access_fp == NULL)
		return;
	now = time(NULL);
	if (now != tlast) {
		tlast = now;
		gmtime_r(&now, &tm);
		strftime(tstr, sizeof(tstr), "%d/%b/%Y:%H:%M:%S +0000", &tm);
	}
	ref = http_header_find(&c->req, buf, "Referer");
	ua = http_header_find(&c->req, buf, "User-Agent");
	(void)buf_appendf(&access_buf, "%s - %s [%s] \"%.*s %.*s HTTP/1.%d\" "
	    "%d %zu \"%.*s\" \"%.*s\" %lld %s\n", c->addr,
	    c->username[0] ? c->username : "-", tstr,
	    (int)c->req.method_tok.len, buf + c->req.method_tok.off,
	    (int)(c->req.target.len > 1024 ? 1024 : c->req.target.len),
	    buf + c->req.target.off, c->req.version_minor, c->status,
	    c->resp_bytes, ref ? (int)(ref->len > 256 ? 256 : ref->len) : 1,
	    ref ? buf + ref->off : "-",
	    ua ? (int)(ua->len > 256 ? 256 : ua->len) : 1,
	    ua ? buf + ua->off : "-",
	    (long long)(worker_now_us() - c->t_start),
	    c->reqid[0] ? c->reqid : "-");
	if (BUF_LEN(&access_buf) > 16384)
		access_flush();
}

/* ------------------------------------------------------------- clients */

static void
client_free(struct client *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->body);
	buf_free(&c->hdrs);
	free(c);
}

static void
client_reset_request(struct client *c)
{
	http_request_init(&c->req);
	buf_reset(&c->body);
	buf_reset(&c->hdrs);
	c->status = 0;
	c->resp_bytes = 0;
	c->head_only = 0;
	c->route = NULL;
	c->arg[0] = '\0';
	c->user_id = 0;
	c->username[0] = '\0';
	c->t_start = 0;
	c->reqid[0] = '\0';
}

static void
worker_accept(struct listener *l)
{
	struct sockaddr_storage	 ss;
	socklen_t		 slen;
	struct client		*c;
	char			 host[INET6_ADDRSTRLEN];
	int			 fd, i, on = 1;

	for (i = 0; i < WORKER_ACCEPT_BURST; i++) {
		if (nclients >= WORKER_MAX_CLIENTS || draining)
			return;
		slen = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_warn("calloc");
			close(fd);
			return;
		}
		c->fd = fd;
		c->serial = ++client_serial;
		buf_init(&c->in, CLIENT_MAX_INPUT);
		buf_init(&c->out, CLIENT_MAX_OUTPUT);
		buf_init(&c->body, HTTP_MAX_BODY);
		buf_init(&c->hdrs, 8192);
		client_reset_request(c);
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, host, sizeof(host));
		else if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, host, sizeof(host));
		else
			strlcpy(host, "unix", sizeof(host));
		strlcpy(c->addr, host, sizeof(c->addr));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		c->deadline = worker_now_ms() + conf->header_timeout * 1000LL;
		c->rd_ready = 1;
		c->wr_ready = 1;
		if (worker_watch(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT |
		    EPOLLRDHUP | EPOLLET, c) == -1) {
			log_warn("epoll_ctl");
			client_free(c);
			close(fd);
			continue;
		}
		TAILQ_INSERT_TAIL(&clients, c, entry);
		nclients++;
		client_run(c);
	}
}

/* Take a reference for an async operation. */
void
worker_hold(struct client *c)
{
	c->npending++;
}

/*
 * Drop a reference; returns c if it is still connected, NULL if it went
 * away meanwhile (and is freed now if nothing else holds it).
 */
struct client *
worker_release(struct client *c)
{
	c->npending--;
	if (c->state != CLIENT_CLOSED)
		return (c);
	if (c->npending == 0)
		TAILQ_INSERT_TAIL(&garbage, c, entry);
	return (NULL);
}

static void
client_close(struct client *c)
{
	if (c->state == CLIENT_CLOSED)
		return;
	close(c->fd);
	c->fd = -1;
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	c->state = CLIENT_CLOSED;
	/*
	 * Freed at the end of the loop iteration, never now: an event for it
	 * may still be in this round's batch.
	 */
	if (c->npending == 0)
		TAILQ_INSERT_TAIL(&garbage, c, entry);
}

static void
worker_collect(void)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&garbage)) != NULL) {
		TAILQ_REMOVE(&garbage, c, entry);
		client_free(c);
	}
}

static int
client_write(struct client *c)
{
	ssize_t	n;

	while (BUF_LEN(&c->out) > 0 && c->wr_ready) {
		n = write(c->fd, BUF_PTR(&c->out), BUF_LEN(&c->out));
		if (n == -1) {
			if (errno == EAGAIN) {
				c->wr_ready = 0;
				break;
			}
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf_consume(&c->out, (size_t)n);
	}
	return (0);
}

static int
client_read(struct client *c)
{
	ssize_t	n;

	while (c->rd_ready && !c->eof) {
		if (BUF_LEN(&c->in) >= CLIENT_MAX_INPUT)
			return (0);	/* the parser reports the limit */
		if (buf_reserve(&c->in, CLIENT_READ_CHUNK) == -1 &&
		    buf_reserve(&c->in, CLIENT_MAX_INPUT - BUF_LEN(&c->in))
		    == -1)
			return (-1);
		n = read(c->fd, c->in.data + c->in.len,
		    c->in.cap - c->in.len - 1);
		if (n == -1) {
			if (errno == EAGAIN) {
				c->rd_ready = 0;
				break;
			}
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			c->eof = 1;
			c->rd_ready = 0;
			break;
		}
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
	}
	return (0);
}

/* Answer a request that cannot be parsed, then close. */
static void
client_fail(struct client *c, int status, const char *msg)
{
	if (c->t_start == 0)
		c->t_start = worker_now_us();
	c->keepalive = 0;
	c->close_after = 1;
	reqid_assign(c, 0);
	response_error(c, status, "%s", msg);
}

/* Host as sent, checked: it goes into URLs we print. */
static int
client_host_ok(const char *h, size_t len)
{
	size_t	i;

	if (len == 0 || len > 255)
		return (0);
	for (i = 0; i < len; i++) {
		char ch = h[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == ':' || ch == '[' || ch == ']' || ch == '_'))
			return (0);
	}
	return (1);
}

/* Dispatch a complete request to its route. */
static void
client_dispatch(struct client *c)
{
	const char	*buf = BUF_PTR(&c->in);
	const struct route *r;
	char		 allow[128];
	int		 argerr, rv;

	c->state = CLIENT_BUSY;
	reqid_assign(c, 1);
	c->keepalive = c->req.keepalive && !draining;
	c->head_only = c->req.method == HTTP_M_HEAD;
	if (c->req.host.len > 0 &&
	    !client_host_ok(buf + c->req.host.off, c->req.host.len)) {
		client_fail(c, 400, "invalid Host header");
		return;
	}
	r = router_find(buf + c->req.path.off, c->req.path.len, c->arg,
	    sizeof(c->arg), &argerr);
	if (r == NULL) {
		response_error(c, 404, "invalid resource URI");
		return;
	}
	c->route = r;
	if (argerr) {
		response_error(c, 400, "invalid resource id in the path");
		return;
	}
	if (ratelimit_request(c, 0) == -1)	/* 429 before any work */
		return;
	if (!(r->methods & (1u << c->req.method))) {
		router_allow(r, allow, sizeof(allow));
		response_header(c, "Allow: %s", allow);
		response_error(c, 405, "the method is not supported");
		return;
	}
	if (c->req.method == HTTP_M_OPTIONS) {
		router_allow(r, allow, sizeof(allow));
		response_header(c, "Allow: %s", allow);
		response_send(c, 204, "application/json", NULL, 0);
		return;
	}
	if (r->flags & ROUTE_AUTH) {
		rv = auth_check(c);
		if (rv == AUTH_PENDING)
			return;
		if (rv != AUTH_OK) {
			worker_authed(c, rv);
			return;
		}
		if (ratelimit_request(c, 1) == -1)
			return;
	}
	r->handler(c);
}

/* Called by auth.c when credentials checked out asynchronously. */
void
worker_authed(struct client *c, int result)
{
	if (result == AUTH_OK) {
		if (ratelimit_request(c, 1) == 0)
			c->route->handler(c);
	} else if (result == AUTH_THROTTLED)
		response_error(c, 429, "too many failed logins: try later");
	else if (result == AUTH_UNAVAILABLE) {
		response_header(c, "Retry-After: %d", db_retry_after());
		response_error(c, 503, "the database is unavailable");
	} else
		response_error(c, 401, "please authenticate");
}

/*
 * The response for the current request is in c->out: log it, drop the
 * request's bytes and get ready for the next one.
 */
void
worker_finish(struct client *c)
{
	access_log(c);
	metrics_request(c);
	c->nreq++;
	buf_consume(&c->in, c->req.pos);
	client_reset_request(c);
	c->state = CLIENT_READ_HEAD;
	if (!c->keepalive)
		c->close_after = 1;
	else
		c->deadline = worker_now_ms() + conf->idle_timeout * 1000LL;
}

/* Parse and dispatch what the input holds; 1 if progress was made. */
static int
client_parse(struct client *c)
{
	int	rv;

	if (c->state == CLIENT_READ_HEAD) {
		if (BUF_LEN(&c->in) == 0)
			return (0);
		if (c->t_start == 0) {
			c->t_start = worker_now_us();
			c->deadline = worker_now_ms() +
			    conf->header_timeout * 1000LL;
		}
		rv = http_parse_head(&c->req, BUF_PTR(&c->in),
		    BUF_LEN(&c->in));
		if (rv == HTTP_PARSE_AGAIN) {
			if (BUF_LEN(&c->in) >= CLIENT_MAX_INPUT) {
				client_fail(c, 431, "request head too large");
				return (1);
			}
			return (0);
		}
		if (rv == HTTP_PARSE_ERROR) {
			client_fail(c, c->req.status, c->req.errmsg);
			return (1);
		}
		c->state = CLIENT_READ_BODY;
		if (c->req.expect_continue && c->req.version_minor == 1 &&
		    (c->req.chunked || c->req.content_length > 0) &&
		    BUF_LEN(&c->in) == c->req.head_len)
			(void)buf_appendstr(&c->out,
			    "HTTP/1.1 100 Continue\r\n\r\n");
	}
	if (c->state == CLIENT_READ_BODY) {
		rv = http_parse_body(&c->req, BUF_PTR(&c->in),
		    BUF_LEN(&c->in), &c->body);
		if (rv == HTTP_PARSE_AGAIN) {
			if (BUF_LEN(&c->in) >= CLIENT_MAX_INPUT) {
				client_fail(c, 413, "body too large");
				return (1);
			}
			return (0);
		}
		if (rv == HTTP_PARSE_ERROR) {
			client_fail(c, c->req.status, c->req.errmsg);
			return (1);
		}
		c->deadline = 0;
		client_dispatch(c);
		return (1);
	}
	return (0);
}

/* Lingering close: stop writing, drain what the peer still sends. */
static void
client_linger(struct client *c)
{
	char	tmp[4096];
	ssize_t	n;

	if (!c->eof && c->deadline > 0 && c->rd_ready) {
		while ((n = read(c->fd, tmp, sizeof(tmp))) > 0)
			;
		if (n == 0)
			c->eof = 1;
		else if (errno == EAGAIN)
			c->rd_ready = 0;
		else
			c->eof = 1;
	}
	if (c->eof || c->in.max == 0) {
		client_close(c);
		return;
	}
}

/* Drive one client as far as it can go without blocking. */
static void
client_run(struct client *c)
{
	if (c->state == CLIENT_CLOSED)
		return;
	if (c->in.max == 0) {	/* lingering */
		client_linger(c);
		return;
	}
	for (;;) {
		if (client_write(c) == -1) {
			client_close(c);
			return;
		}
		if (c->close_after || c->state == CLIENT_BUSY ||
		    BUF_LEN(&c->out) > CLIENT_OUTPUT_HIWAT)
			break;
		if (client_read(c) == -1) {
			client_close(c);
			return;
		}
		if (!client_parse(c))
			break;
	}
	if (client_write(c) == -1) {
		client_close(c);
		return;
	}
	if (c->state == CLIENT_BUSY)
		return;
	if (c->close_after && BUF_LEN(&c->out) == 0) {
		if (c->eof) {
			client_close(c);
			return;
		}
		/* Linger so the peer reads our answer before any RST. */
		shutdown(c->fd, SHUT_WR);
		c->in.max = 0;
		c->deadline = worker_now_ms() + WORKER_LINGER_MS;
		client_linger(c);
		return;
	}
	if (c->eof && c->state == CLIENT_READ_HEAD && BUF_LEN(&c->out) == 0)
		client_close(c);
}

/* An async operation for c finished: carry on with it. */
void
worker_continue(struct client *c)
{
	if (c != NULL && c->state != CLIENT_CLOSED)
		client_run(c);
}

static void
worker_sweep(int64_t now)
{
	struct client	*c, *next;

	for (c = TAILQ_FIRST(&clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CLIENT_BUSY || c->deadline == 0 ||
		    now < c->deadline)
			continue;
		if (c->in.max != 0 && (c->state == CLIENT_READ_BODY ||
		    BUF_LEN(&c->in) > 0) && !c->close_after) {
			client_fail(c, 408, "request timed out");
			client_run(c);
		} else
			client_close(c);
	}
}

/*
 * Stop accepting; close idle keep-alive connections; busy ones close
 * after their response.  A connection that has not sent its first
 * request yet is not idle: its client has just connected and is sending,
 * so it is served once (within the header timeout) like a busy one.
 */
static void
worker_drain(void)
{
	struct client	*c, *next;
	int		 i;

	if (!draining) {
		draining = 1;
		drain_deadline = worker_now_ms() +
		    conf->shutdown_timeout * 1000LL;
		for (i = 0; i < nlisteners; i++) {
			(void)epoll_ctl(worker_epfd, EPOLL_CTL_DEL,
			    listeners[i].fd, NULL);
			close(listeners[i].fd);
		}
		setproctitle("worker %d (stopping)", worker_id);
	}
	for (c = TAILQ_FIRST(&clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CLIENT_READ_HEAD && BUF_LEN(&c->in) == 0 &&
		    BUF_LEN(&c->out) == 0 && c->nreq > 0)
			client_close(c);
		else
			c->keepalive = 0;
	}
}

void
worker_main(int id, struct listener *l, int nl)
{
	struct epoll_event	 evs[WORKER_MAX_EVENTS];
	struct sigaction	 sa;
	sigset_t		 mask;
	int64_t			 now, next_sweep = 0;
	int			 i, n, timeout;
	char			 name[32];

	worker_id = id;
	listeners = l;
	nlisteners = nl;
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

	buf_init(&access_buf, 1 << 20);
	access_open();
	if ((worker_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	for (i = 0; i < nlisteners; i++)
		if (worker_watch(EPOLL_CTL_ADD, listeners[i].fd,
		    EPOLLIN | EPOLLEXCLUSIVE, &listeners[i]) == -1)
			fatal("epoll_ctl listener");
	if (auth_init() == -1)
		fatal("auth_init");
	if (worker_watch(EPOLL_CTL_ADD, auth_fd(), EPOLLIN, &tag_auth) == -1)
		fatal("epoll_ctl auth");
	if (db_init(conf->dsn, id) == -1)
		fatalx("db_init");

	for (;;) {
		if (w_term && !draining)
			worker_drain();
		if (w_usr1) {
			w_usr1 = 0;
			access_flush();
			access_open();
		}
		if (draining) {
			worker_drain();
			if (nclients == 0 ||
			    worker_now_ms() >= drain_deadline)
				break;
		}
		timeout = WORKER_SWEEP_MS;
		n = epoll_wait(worker_epfd, evs, WORKER_MAX_EVENTS, timeout);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		response_date_update();
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &tag_db) {
				db_event(evs[i].events);
				continue;
			}
			if (p == &tag_auth) {
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
				client_run(c);
			}
		}
		now = worker_now_ms();
		db_tick(now);
		db_loop_end();
		metrics_beat(now, db_status());
		if (now >= next_sweep) {
			worker_sweep(now);
			next_sweep = now + WORKER_SWEEP_MS;
		}
		access_flush();
		worker_collect();
	}
	access_flush();
	auth_shutdown();
	db_shutdown();
	exit(0);
}
