/*
 * fuzz_http.c: libFuzzer harness for the request parser (src/http/http.c).
 *
 * The input is a byte stream from a client (one or more pipelined
 * requests).  It is fed three ways: whole, split in two at a point chosen
 * from the input (its first two bytes), and one byte at a time, each
 * step in a fresh allocation of exactly the bytes received so far (so
 * ASan sees any read past them, and any pointer kept across calls).
 * Every request's outcome (DONE with its method, target, path, query,
 * version, header spans, interpreted fields, decoded body and end; or
 * ERROR with its status, message and position) must be the same in all
 * three, and so must where the stream stopped; any disagreement aborts.
 * The documented invariants of http.h are checked on each DONE, and the
 * helpers of http.c are run on what the whole feed parsed: field lookup,
 * entity-tag lists (If-Match, If-None-Match), dates (every field value;
 * a parsed date must format and parse back to itself), the query string,
 * method names and status reasons.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"

#define MAX_REQS	16
#define COPY_EACH_BYTE	512	/* byte mode reallocates up to this size */

struct outcome {
	int			 rv;		/* DONE or ERROR */
	int			 phase;		/* 0 head, 1 body */
	struct http_request	 req;
	char			*body;
	size_t			 bodylen;
};

struct run {
	struct outcome	 o[MAX_REQS];
	int		 n;
	int		 end_phase;	/* where the stream stopped: */
	size_t		 end_body;	/* body bytes of the incomplete one */
	int		 stopped;	/* an ERROR ended it */
};

static void
fail(const char *what, int req, const uint8_t *data, size_t len)
{
	fprintf(stderr, "fuzz_http: %s (request %d of %zu input bytes)\n",
	    what, req, len);
	(void)data;
	abort();
}

static void
check_span(const struct http_span *s, size_t limit, const char *what)
{
	if ((size_t)s->off + s->len > limit) {
		fprintf(stderr, "fuzz_http: %s span %u+%u past %zu\n", what,
		    s->off, s->len, limit);
		abort();
	}
}

/* What http.h promises after a head DONE. */
static void
check_done(const struct http_request *r, const char *buf)
{
	size_t	i;

	check_span(&r->method_tok, r->head_len, "method");
	check_span(&r->target, r->head_len, "target");
	check_span(&r->path, r->head_len, "path");
	check_span(&r->query, r->head_len, "query");
	check_span(&r->host, r->head_len, "host");
	if (r->nheaders > HTTP_MAX_HEADERS)
		abort();
	for (i = 0; i < r->nheaders; i++) {
		check_span(&r->headers[i].name, r->head_len, "header name");
		check_span(&r->headers[i].value, r->head_len, "header value");
		if (r->headers[i].name.len == 0)
			abort();
	}
	if (r->path.len == 0)
		abort();
	if (buf[r->path.off] != '/' && !(r->path.len == 1 &&
	    buf[r->path.off] == '*' && r->method == HTTP_M_OPTIONS)) {
		fprintf(stderr, "fuzz_http: path starts with %02x\n",
		    (unsigned char)buf[r->path.off]);
		abort();
	}
	if (r->version_minor != 0 && r->version_minor != 1)
		abort();
	if (r->chunked && r->content_length != -1)
		abort();	/* RFC 9112 6.3: both is an error or CL goes */
	if (r->body_len > HTTP_MAX_BODY)
		abort();
	if (!r->chunked && r->content_length >= 0 &&
	    r->body_len != (size_t)r->content_length)
		abort();
}

/*
 * A request's outcome must not depend on what follows it: its bytes
 * alone, in an allocation of exactly their size, parse the same.
 */
static void
check_alone(const char *req, const struct http_request *want,
    const struct buf *wantbody)
{
	struct http_request	 r;
	struct buf		 body;
	char			*copy;

	if ((copy = malloc(want->pos)) == NULL)
		abort();
	memcpy(copy, req, want->pos);
	http_request_init(&r);
	buf_init(&body, HTTP_MAX_BODY);
	if (http_parse_head(&r, copy, want->pos) != HTTP_PARSE_DONE ||
	    http_parse_body(&r, copy, want->pos, &body) != HTTP_PARSE_DONE ||
	    r.pos != want->pos || r.head_len != want->head_len ||
	    r.nheaders != want->nheaders || r.method != want->method ||
	    r.keepalive != want->keepalive ||
	    r.content_length != want->content_length ||
	    BUF_LEN(&body) != BUF_LEN(wantbody) || (BUF_LEN(&body) > 0 &&
	    memcmp(BUF_PTR(&body), BUF_PTR(wantbody), BUF_LEN(&body)) != 0)) {
		fprintf(stderr, "fuzz_http: a request parses differently "
		    "without the bytes that follow it\n");
		abort();
	}
	buf_free(&body);
	free(copy);
}

/* The helpers, on a parsed request's own bytes. */
static void
exercise(const char *buf, const struct http_request *r)
{
	static const char *const names[] = { "host", "If-Match",
	    "If-None-Match", "Content-Type", "Authorization", "X-Request-Id" };
	const struct http_span	*h;
	char			 out[64], date[40];
	time_t			 t, t2;
	size_t			 i, n;
	int			 rv;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		h = http_header_find(r, buf, names[i]);
		n = http_header_count(r, buf, names[i]);
		if ((h == NULL) != (n == 0) || n > r->nheaders)
			abort();
		if (h == NULL)
			continue;
		rv = http_etag_match(buf + h->off, h->len,
		    "\"0123456789abcdef\"", i == 1 ? 0 : 1);
		if (rv < -1 || rv > 1)
			abort();
	}
	for (i = 0; i < r->nheaders && i < 8; i++) {
		h = &r->headers[i].value;
		if (http_date_parse(buf + h->off, h->len, &t) != 0)
			continue;
		n = http_date_format(t, date, sizeof(date));
		if (n == 0 || n >= sizeof(date) ||
		    http_date_parse(date, n, &t2) != 0 || t2 != t) {
			fprintf(stderr, "fuzz_http: date %.*s -> %s\n",
			    (int)h->len, buf + h->off, date);
			abort();
		}
	}
	rv = http_query_get(buf + r->query.off, r->query.len, "page", out,
	    sizeof(out));
	if (rv < -2 || rv >= (int)sizeof(out))
		abort();
	if (http_method_name(r->method) == NULL ||
	    http_method_parse(buf + r->method_tok.off, r->method_tok.len) !=
	    r->method)
		abort();
}

static void
run_stream(const uint8_t *data, size_t len, const size_t *steps,
    size_t nsteps, int copy, struct run *out)
{
	struct http_request	 r;
	struct buf		 body;
	size_t			 base = 0, s, avail;
	char			*cur = NULL;
	const char		*buf;
	int			 phase = 0, rv;

	memset(out, 0, sizeof(*out));
	http_request_init(&r);
	buf_init(&body, HTTP_MAX_BODY);
	for (s = 0; s < nsteps && !out->stopped && out->n < MAX_REQS; s++) {
		avail = steps[s];
		if (copy) {
			free(cur);
			if ((cur = malloc(avail ? avail : 1)) == NULL)
				abort();
			memcpy(cur, data, avail);
			buf = cur;
		} else
			buf = (const char *)data;
		while (base < avail && out->n < MAX_REQS) {
			if (phase == 0) {
				rv = http_parse_head(&r, buf + base,
				    avail - base);
				if (rv == HTTP_PARSE_AGAIN)
					break;
				if (rv == HTTP_PARSE_DONE) {
					phase = 1;
					if (r.head_len != r.pos)
						fail("head_len != pos", out->n,
						    data, len);
				}
			} else
				rv = HTTP_PARSE_DONE;
			if (rv == HTTP_PARSE_DONE && phase == 1) {
				rv = http_parse_body(&r, buf + base,
				    avail - base, &body);
				if (rv == HTTP_PARSE_AGAIN)
					break;
			}
			{
				struct outcome *o = &out->o[out->n++];

				o->rv = rv;
				o->phase = phase;
				o->req = r;
				if (rv == HTTP_PARSE_DONE) {
					check_done(&r, buf + base);
					if (nsteps == 1) {
						exercise(buf + base, &r);
						check_alone(buf + base, &r,
						    &body);
					}
					if (BUF_LEN(&body) != r.body_len)
						fail("body_len is not the "
						    "decoded length", out->n,
						    data, len);
					o->bodylen = BUF_LEN(&body);
					if ((o->body = malloc(o->bodylen + 1))
					    == NULL)
						abort();
					if (o->bodylen > 0)
						memcpy(o->body, BUF_PTR(&body),
						    o->bodylen);
				} else {
					if (r.status < 400 ||
					    r.status > 599 ||
					    r.errmsg == NULL ||
					    !http_status_reason(r.status))
						fail("error without a 4xx/5xx "
						    "and a message", out->n,
						    data, len);
					out->stopped = 1;
					break;
				}
			}
			if (r.pos == 0)
				fail("DONE without consuming", out->n, data,
				    len);
			base += r.pos;
			http_request_init(&r);
			buf_reset(&body);
			phase = 0;
		}
	}
	out->end_phase = phase;
	out->end_body = BUF_LEN(&body);
	buf_free(&body);
	free(cur);
}

static int
span_eq(const struct http_span *a, const struct http_span *b)
{
	return (a->off == b->off && a->len == b->len);
}

static const char *
compare(const struct run *a, const struct run *b, int *which)
{
	int	i;
	size_t	h;

	*which = -1;
	if (a->n != b->n)
		return ("number of requests");
	for (i = 0; i < a->n; i++) {
		const struct outcome *x = &a->o[i], *y = &b->o[i];

		*which = i;
		if (x->rv != y->rv || x->phase != y->phase)
			return ("outcome");
		if (x->rv == HTTP_PARSE_ERROR) {
			if (x->req.status != y->req.status)
				return ("error status");
			if (strcmp(x->req.errmsg, y->req.errmsg) != 0)
				return ("error message");
			if (x->req.pos != y->req.pos)
				return ("error position");
			continue;
		}
		if (x->req.method != y->req.method ||
		    !span_eq(&x->req.method_tok, &y->req.method_tok) ||
		    !span_eq(&x->req.target, &y->req.target) ||
		    !span_eq(&x->req.path, &y->req.path) ||
		    !span_eq(&x->req.query, &y->req.query) ||
		    x->req.version_minor != y->req.version_minor)
			return ("request line");
		if (x->req.nheaders != y->req.nheaders)
			return ("number of headers");
		for (h = 0; h < x->req.nheaders; h++)
			if (!span_eq(&x->req.headers[h].name,
			    &y->req.headers[h].name) ||
			    !span_eq(&x->req.headers[h].value,
			    &y->req.headers[h].value))
				return ("header spans");
		if (x->req.head_len != y->req.head_len ||
		    x->req.keepalive != y->req.keepalive ||
		    x->req.chunked != y->req.chunked ||
		    x->req.expect_continue != y->req.expect_continue ||
		    x->req.content_length != y->req.content_length ||
		    !span_eq(&x->req.host, &y->req.host))
			return ("interpreted fields");
		if (x->req.pos != y->req.pos)
			return ("end of the request");
		if (x->bodylen != y->bodylen || (x->bodylen > 0 &&
		    memcmp(x->body, y->body, x->bodylen) != 0))
			return ("decoded body");
	}
	*which = a->n;
	if (a->stopped != b->stopped || a->end_phase != b->end_phase)
		return ("where the stream stopped");
	if (a->end_body != b->end_body)
		return ("body bytes of the incomplete request");
	return (NULL);
}

static void
run_free(struct run *r)
{
	int	i;

	for (i = 0; i < r->n; i++)
		free(r->o[i].body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct run	 whole, split, bytes;
	static size_t		*steps;
	static size_t		 nsteps_max;
	size_t			 st[2], k, i;
	const char		*why;
	int			 which;

	if (len == 0)
		return (0);
	if (nsteps_max < len) {
		free(steps);
		if ((steps = malloc(len * sizeof(*steps))) == NULL)
			abort();
		nsteps_max = len;
	}
	st[0] = len;
	run_stream(data, len, st, 1, 1, &whole);

	k = len >= 2 ? ((size_t)data[0] | (size_t)data[1] << 8) % (len + 1) :
	    0;
	st[0] = k;
	st[1] = len;
	run_stream(data, len, st, 2, 1, &split);

	for (i = 0; i < len; i++)
		steps[i] = i + 1;
	run_stream(data, len, steps, len, len <= COPY_EACH_BYTE, &bytes);

	if ((why = compare(&whole, &split, &which)) != NULL) {
		fprintf(stderr, "split at %zu: ", k);
		fail(why, which, data, len);
	}
	if ((why = compare(&whole, &bytes, &which)) != NULL) {
		fprintf(stderr, "byte at a time: ");
		fail(why, which, data, len);
	}
	run_free(&whole);
	run_free(&split);
	run_free(&bytes);
	return (0);
}
