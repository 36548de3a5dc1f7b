/*
 * client.c: the lifecycle of a client connection, below everything that
 * serves it.
 *
 * A client is allocated on accept and freed only at the end of a turn of
 * the loop, once it is closed and nothing holds it.  Asynchronous work
 * (a database query, a password check) holds it while in flight and
 * releases it when done.  Finishing asynchronous work never runs the
 * client's state machine: it wakes the client, which only posts it to the
 * ready list (nginx's posted events, Kore's http_request_wakeup); the loop
 * alone drains that list and runs the state machine (conn.c), so nothing
 * is ever re-entered from below.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "starterd.h"

struct clientlist		 client_all = TAILQ_HEAD_INITIALIZER(client_all);
int				 client_count;
static struct clientlist	 client_ready =
				    TAILQ_HEAD_INITIALIZER(client_ready);
static struct clientlist	 client_garbage =
				    TAILQ_HEAD_INITIALIZER(client_garbage);
static uint64_t			 client_serial;
/* Input budget: the body bytes taken by all clients (client_budget_take). */
static size_t			 client_budget_used;

static void
client_free(struct client *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->body);
	buf_free(&c->hdrs);
	free(c);
}

void
client_reset_request(struct client *c)
{
	http_request_init(&c->req);
	/* A big request's buffers go back to the allocator, not kept. */
	if (c->body.cap > CLIENT_BUF_KEEP)
		buf_free(&c->body);
	else
		buf_reset(&c->body);
	if (c->hdrs.cap > CLIENT_BUF_KEEP)
		buf_free(&c->hdrs);
	else
		buf_reset(&c->hdrs);
	c->body_pending = 0;
	c->status = 0;
	c->resp_bytes = 0;
	c->head_only = 0;
	c->route = NULL;
	c->route_id = -1;
	c->arg[0] = '\0';
	c->user_id = 0;
	c->username[0] = '\0';
	c->t_start = 0;
	c->reqid[0] = '\0';
	c->auth_result = AUTH_PENDING;
	c->resume = NULL;
}

/* A new connection on fd from addr, in the list of clients. */
struct client *
client_new(int fd, const char *addr)
{
	struct client	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->fd = fd;
	c->serial = ++client_serial;
	buf_init(&c->in, CLIENT_MAX_INPUT);
	buf_init(&c->out, CLIENT_MAX_OUTPUT);
	buf_init(&c->body, HTTP_MAX_BODY);
	buf_init(&c->hdrs, 8192);
	client_reset_request(c);
	strlcpy(c->addr, addr, sizeof(c->addr));
	c->rd_ready = 1;
	c->wr_ready = 1;
	TAILQ_INSERT_TAIL(&client_all, c, entry);
	client_count++;
	return (c);
}

/* Take a reference for an asynchronous operation. */
void
client_hold(struct client *c)
{
	c->npending++;
}

/*
 * Drop a reference; returns c if it is still connected, NULL if it went
 * away meanwhile (and is freed at the end of the turn if nothing else
 * holds it).
 */
struct client *
client_release(struct client *c)
{
	c->npending--;
	if (c->state != CLIENT_CLOSED)
		return (c);
	if (c->npending == 0)
		TAILQ_INSERT_TAIL(&client_garbage, c, entry);
	return (NULL);
}

/* Something c waited for happened: post it for the loop. */
void
client_wake(struct client *c)
{
	if (c == NULL || c->state == CLIENT_CLOSED || c->posted)
		return;
	c->posted = 1;
	TAILQ_INSERT_TAIL(&client_ready, c, ready_entry);
}

/* A password or token check of c is over: its result, and a wake-up. */
void
client_auth_result(struct client *c, int result)
{
	if (c == NULL)
		return;
	c->auth_result = result;
	client_wake(c);
}

/* The loop: the next posted client, or NULL. */
struct client *
client_next_ready(void)
{
	struct client	*c;

	if ((c = TAILQ_FIRST(&client_ready)) == NULL)
		return (NULL);
	TAILQ_REMOVE(&client_ready, c, ready_entry);
	c->posted = 0;
	return (c);
}

int
client_has_ready(void)
{
	return (!TAILQ_EMPTY(&client_ready));
}

void
client_close(struct client *c)
{
	if (c->state == CLIENT_CLOSED)
		return;
	close(c->fd);
	c->fd = -1;
	client_budget_release(c);
	TAILQ_REMOVE(&client_all, c, entry);
	client_count--;
	if (c->posted) {
		TAILQ_REMOVE(&client_ready, c, ready_entry);
		c->posted = 0;
	}
	c->state = CLIENT_CLOSED;
	/*
	 * Freed at the end of the loop's turn, never now: an event for it
	 * may still be in this round's batch.
	 */
	if (c->npending == 0)
		TAILQ_INSERT_TAIL(&client_garbage, c, entry);
}

/*
 * Take n bytes of the worker's input budget (limit bytes in all) for c's
 * request body; -1 when that would pass the limit.  Released when the
 * request is finished or the client closed.
 */
int
client_budget_take(struct client *c, size_t n, size_t limit)
{
	client_budget_release(c);
	if (n > limit || client_budget_used > limit - n)
		return (-1);
	client_budget_used += n;
	c->budget = n;
	return (0);
}

void
client_budget_release(struct client *c)
{
	client_budget_used -= c->budget;
	c->budget = 0;
}

/* The end of a turn of the loop: free the closed clients nobody holds. */
void
client_collect(void)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&client_garbage)) != NULL) {
		TAILQ_REMOVE(&client_garbage, c, entry);
		client_free(c);
	}
}
