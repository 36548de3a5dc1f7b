/*
 * conn.c: the HTTP state machine of one client, run only by the loop.
 *
 *	read -> parse head -> dispatch: route -> rate limit -> method ->
 *	authorise -> (input budget, 100-continue, read the body) -> handler
 *	... the handler answers now, or later from a completion ...
 *	finish (access log, metrics, reset) -> next pipelined request
 *
 * Credentials are checked before a body is read (or 100 Continue sent),
 * unless the whole body came with the head: a request answered before its
 * body was read closes the connection, with a lingering close so that the
 * peer still sending it reads the answer.  A body is read only within the
 * worker's input budget (--worker-input-budget), and buffers that grew for
 * a big request are shrunk once it is finished.
 *
 * A connection handles one request at a time; pipelined requests wait in
 * the input buffer, so responses leave in request order.  A handler (or
 * the authorisation) that waits leaves the client CLIENT_BUSY; the
 * completion wakes it (client.c) and the loop calls conn_run() again,
 * which carries on with c->resume when nothing is pending any more, or
 * finishes the request when the response is queued (CLIENT_DONE).
 * response.c only queues bytes: finishing happens here, in one place.
 *
 * conn_run() is never re-entered: completions are posted, not called, so
 * a database answer that arrives while another request is being parsed
 * waits for the loop.  A re-entry would be a bug and stops the worker.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starterd.h"

#define CONN_LINGER_MS	2000
#define CONN_DRAIN_GRACE_MS 1000	/* as worker.c's: idle when retiring */

static int	conn_active;	/* inside conn_run(): never re-entered */
static int	conn_draining;

static void	conn_authorise(struct client *);
static void	conn_handle(struct client *);

/* The per-request fields conn.c and response.c keep (starterd.h). */
static void
conn_reset_extras(struct client *c)
{
	c->head_parsed = 0;
	c->cors = CORS_NONE;
	c->t_auth = 0;
	c->auth_us = -1;
	c->t_db = 0;
	c->db_us = -1;
	c->cache_desc = NULL;
	c->traceparent[0] = '\0';
	c->dbtag[0] = '\0';
}

void
conn_set_draining(int on)
{
	conn_draining = on;
}

static int
conn_write(struct client *c)
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

/*
 * Read what the socket holds, up to the input bound; with once, one chunk
 * only (a head: no more is taken before the request is authorised).
 */
static int
conn_read(struct client *c, int once)
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
		if (once)
			break;
	}
	return (0);
}

/* Give a buffer that grew for a big request back to the allocator. */
static void
conn_shrink(struct buf *b)
{
	char	*p;

	if (b->cap <= CLIENT_BUF_KEEP)
		return;
	if (BUF_LEN(b) == 0) {
		buf_free(b);
		return;
	}
	if (BUF_LEN(b) >= CLIENT_BUF_KEEP / 2)
		return;		/* pipelined requests: keep it for now */
	buf_compact(b);
	if ((p = realloc(b->data, CLIENT_BUF_KEEP)) != NULL) {
		b->data = p;
		b->cap = CLIENT_BUF_KEEP;
	}
}

/* Answer a request that cannot be parsed (or timed out), then close. */
static void
conn_fail(struct client *c, int status, const char *msg)
{
	if (c->t_start == 0)
		c->t_start = now_us();
	c->keepalive = 0;
	c->close_after = 1;
	reqid_assign(c, 0);
	response_error(c, status, "%s", msg);
}

/*
 * The one "authorised, now dispatch" step, whether the credentials were
 * checked at once or by a completion.
 */
static void
conn_authorised(struct client *c, int result)
{
	if (c->t_auth != 0 && result != AUTH_AGAIN)
		c->auth_us = now_us() - c->t_auth;
	switch (result) {
	case AUTH_OK:
		if (ratelimit_request(c, 1) == 0)
			conn_handle(c);
		break;
	case AUTH_AGAIN:
		conn_authorise(c);
		break;
	case AUTH_THROTTLED:
		response_error(c, 429, "too many failed logins: try later");
		break;
	case AUTH_UNAVAILABLE:
		response_unavailable(c, db_retry_after());
		break;
	default:
		response_error(c, 401, "please authenticate");
		break;
	}
}

/* Woken after a pending check: its result is in c->auth_result. */
static void
conn_auth_resume(struct client *c)
{
	int	result = c->auth_result;

	c->auth_result = AUTH_PENDING;
	if (result == AUTH_PENDING) {	/* not for us yet: wait on */
		c->resume = conn_auth_resume;
		return;
	}
	conn_authorised(c, result);
}

static void
conn_authorise(struct client *c)
{
	int	rv;

	c->auth_result = AUTH_PENDING;
	if (c->t_auth == 0)
		c->t_auth = now_us();
	if ((rv = auth_check(c)) == AUTH_PENDING) {
		c->resume = conn_auth_resume;
		return;
	}
	conn_authorised(c, rv);
}

/*
 * Authorised (or no credentials needed): read the body if it is still to
 * come, within the worker's input budget, else run the handler.
 */
static void
conn_handle(struct client *c)
{
	size_t	need;

	if (!c->body_pending) {
		c->deadline = 0;
		c->route->handler(c);
		return;
	}
	need = c->req.content_length > 0 ? (size_t)c->req.content_length :
	    HTTP_MAX_BODY;
	if (client_budget_take(c, need, (size_t)conf->worker_input_budget)
	    == -1) {
		/* keepalive is off: the unread body closes the connection */
		response_header(c, "Retry-After: 1");
		response_error(c, 503, "too many request bodies in flight: "
		    "try later");
		return;
	}
	c->keepalive = c->req.keepalive && !conn_draining;
	if (c->req.expect_continue && c->req.version_minor == 1 &&
	    BUF_LEN(&c->in) == c->req.head_len)
		(void)buf_appendstr(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	c->deadline = now_ms() + conf->header_timeout * 1000LL;
	c->state = CLIENT_READ_BODY;
}

/*
 * Dispatch a request whose head is parsed (and whose body may still be to
 * come: then c->body_pending, and any answer before it is read closes).
 */
static void
conn_dispatch(struct client *c)
{
	const char	*buf = BUF_PTR(&c->in);
	const struct route *r;
	char		 allow[128];
	int		 argerr;

	c->state = CLIENT_BUSY;
	c->head_parsed = 1;
	reqid_assign(c, 1);
	response_cors_check(c);
	c->keepalive = c->req.keepalive && !conn_draining && !c->body_pending;
	c->head_only = c->req.method == HTTP_M_HEAD;
	if (c->req.host.len > 0 &&
	    !http_host_valid(buf + c->req.host.off, c->req.host.len)) {
		conn_fail(c, 400, "invalid Host header");
		return;
	}
	r = router_find(buf + c->req.path.off, c->req.path.len, c->arg,
	    sizeof(c->arg), &argerr);
	if (r == NULL) {
		response_error(c, 404, "invalid resource URI");
		return;
	}
	c->route = r;
	c->route_id = router_index(r);
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
	if (c->req.method == HTTP_M_OPTIONS && !(r->flags & ROUTE_REDIRECT)) {
		router_allow(r, allow, sizeof(allow));
		response_header(c, "Allow: %s", allow);
		if (c->cors != CORS_NONE && http_header_find(&c->req, buf,
		    "Access-Control-Request-Method") != NULL)
			response_preflight(c, allow);
		else
			response_send(c, 204, NULL, NULL, 0);
		return;
	}
	if ((r->flags & ROUTE_AUTH) &&
	    !(r->open_methods & (1u << c->req.method))) {
		conn_authorise(c);
		return;
	}
	conn_handle(c);
}

/*
 * The response for the current request is in c->out: log it, drop the
 * request's bytes and get ready for the next one.
 */
static void
conn_finish(struct client *c)
{
	accesslog_write(c);
	metrics_request(c);
	c->nreq++;
	client_budget_release(c);
	buf_consume(&c->in, c->req.pos);
	conn_shrink(&c->in);
	client_reset_request(c);
	conn_reset_extras(c);
	c->state = CLIENT_READ_HEAD;
	if (!c->keepalive)
		c->close_after = 1;
	else if (conn_draining)		/* retiring: idle only briefly */
		c->deadline = now_ms() + CONN_DRAIN_GRACE_MS;
	else
		c->deadline = now_ms() + conf->idle_timeout * 1000LL;
}

/* Parse and dispatch what the input holds; 1 if progress was made. */
static int
conn_parse(struct client *c)
{
	int	rv;

	if (c->state == CLIENT_READ_HEAD) {
		if (BUF_LEN(&c->in) == 0)
			return (0);
		if (c->t_start == 0) {
			conn_reset_extras(c);
			c->t_start = now_us();
			c->deadline = now_ms() + conf->header_timeout * 1000LL;
		}
		rv = http_parse_head(&c->req, BUF_PTR(&c->in),
		    BUF_LEN(&c->in));
		if (rv == HTTP_PARSE_AGAIN) {
			if (BUF_LEN(&c->in) >= CLIENT_MAX_INPUT) {
				conn_fail(c, 431, "request head too large");
				return (1);
			}
			return (0);
		}
		if (rv == HTTP_PARSE_ERROR) {
			conn_fail(c, c->req.status, c->req.errmsg);
			return (1);
		}
		/*
		 * A body that came whole with the head is taken now (the
		 * connection then survives an early answer); else it waits
		 * until the request is authorised.
		 */
		if (c->req.chunked || c->req.content_length > 0) {
			rv = http_parse_body(&c->req, BUF_PTR(&c->in),
			    BUF_LEN(&c->in), &c->body);
			if (rv == HTTP_PARSE_ERROR) {
				conn_fail(c, c->req.status, c->req.errmsg);
				return (1);
			}
			c->body_pending = rv == HTTP_PARSE_AGAIN;
		}
		conn_dispatch(c);
		return (1);
	}
	if (c->state == CLIENT_READ_BODY) {
		rv = http_parse_body(&c->req, BUF_PTR(&c->in),
		    BUF_LEN(&c->in), &c->body);
		if (rv == HTTP_PARSE_AGAIN) {
			if (BUF_LEN(&c->in) >= CLIENT_MAX_INPUT) {
				conn_fail(c, 413, "body too large");
				return (1);
			}
			return (0);
		}
		if (rv == HTTP_PARSE_ERROR) {
			conn_fail(c, c->req.status, c->req.errmsg);
			return (1);
		}
		c->deadline = 0;
		c->body_pending = 0;
		c->state = CLIENT_BUSY;
		c->route->handler(c);
		return (1);
	}
	return (0);
}

/* Lingering close: stop writing, drain what the peer still sends. */
static void
conn_linger(struct client *c)
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
	/* Until EOF; the sweep closes it at the linger deadline. */
	if (c->eof)
		client_close(c);
}

/* Drive one client as far as it can go without blocking. */
static void
conn_step(struct client *c)
{
	void	(*resume)(struct client *);

	if (c->state == CLIENT_CLOSED)
		return;
	if (c->in.max == 0) {	/* lingering */
		conn_linger(c);
		return;
	}
	if (c->state == CLIENT_BUSY && c->npending == 0 &&
	    (resume = c->resume) != NULL) {
		c->resume = NULL;
		resume(c);
	}
	for (;;) {
		if (c->state == CLIENT_DONE)
			conn_finish(c);
		if (conn_write(c) == -1) {
			client_close(c);
			return;
		}
		if (c->close_after || c->state == CLIENT_BUSY ||
		    BUF_LEN(&c->out) > CLIENT_OUTPUT_HIWAT)
			break;
		if (conn_read(c, c->state == CLIENT_READ_HEAD) == -1) {
			client_close(c);
			return;
		}
		if (conn_parse(c))
			continue;
		/* A head is read a chunk at a time: on while there is more. */
		if (c->state == CLIENT_READ_HEAD && c->rd_ready && !c->eof &&
		    BUF_LEN(&c->in) < CLIENT_MAX_INPUT)
			continue;
		break;
	}
	if (conn_write(c) == -1) {
		client_close(c);
		return;
	}
	if (BUF_LEN(&c->out) == 0)
		conn_shrink(&c->out);
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
		c->deadline = now_ms() + CONN_LINGER_MS;
		conn_linger(c);
		return;
	}
	if (c->eof && BUF_LEN(&c->out) == 0 && (c->state == CLIENT_READ_HEAD ||
	    c->state == CLIENT_READ_BODY))	/* a body that cannot end */
		client_close(c);
}

/* The loop: an event or a wake-up for c. */
void
conn_run(struct client *c)
{
	if (conn_active)
		fatalx("conn_run re-entered (client %llu)",
		    (unsigned long long)c->serial);
	conn_active = 1;
	conn_step(c);
	conn_active = 0;
}

/* The loop: c's deadline passed. */
void
conn_timeout(struct client *c)
{
	if (c->in.max != 0 && (c->state == CLIENT_READ_BODY ||
	    BUF_LEN(&c->in) > 0) && !c->close_after) {
		conn_fail(c, 408, "request timed out");
		conn_run(c);
	} else
		client_close(c);
}
