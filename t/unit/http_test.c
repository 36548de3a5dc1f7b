/*
 * http_test: unit tests for src/http.c, printing TAP.
 *
 * Every parser case is run three ways: all bytes at once, one byte at a
 * time, and split in two at every position (sampled for big inputs).  The
 * three results must agree field by field before the expectations are
 * checked, which is what "resumable" promises.  Each call gets a fresh
 * heap copy of exactly the bytes offered, so ASan catches any read past
 * len and any pointer kept across calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "buf.h"
#include "http.h"
#include "tap.h"

/* Expectation encodings: 0 means "not checked". */
#define YES	1
#define NO	2
#define V10	1
#define V11	2
#define CL(n)	((long long)(n) + 2)
#define NH(n)	((n) + 1)
/* A literal with embedded NULs. */
#define BIN(s)	.in = (s), .inlen = sizeof(s) - 1

struct tcase {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen(in) */
	int		 rv;		/* HTTP_PARSE_* of the first request */
	int		 status;
	const char	*errmsg;
	const char	*method;	/* method token */
	const char	*path;
	const char	*query;
	const char	*host;
	const char	*body;
	size_t		 bodylen;	/* 0: strlen(body) */
	int		 minor;		/* V10, V11 */
	int		 ka;		/* YES, NO */
	int		 chunked;	/* YES, NO */
	int		 expect;	/* YES, NO */
	long long	 cl;		/* CL(n) */
	int		 nheaders;	/* NH(n) */
	size_t		 consumed;	/* 0: the whole input */
	int		 nreq;		/* requests in the buffer; 0: 1 */
	const char	*paths;		/* all paths, space separated */
};

struct result {
	int			rv;
	struct http_request	r;
	struct buf		body;
};

/* Which part the driver is in. */
struct driver {
	struct result	*res;
	int		 inbody;
	int		 finished;
};

static void
drive_step(struct driver *d, const char *in, size_t len)
{
	char		*copy;
	struct result	*res = d->res;

	if (d->finished)
		return;
	/* Exact-size copies catch over-reads; big inputs skip the copy
	 * to keep byte-at-a-time runs linear. */
	if (len < 65536) {
		copy = malloc(len ? len : 1);
		if (copy == NULL)
			abort();
		memcpy(copy, in, len);
	} else
		copy = (char *)in;
	if (!d->inbody) {
		res->rv = http_parse_head(&res->r, copy, len);
		if (res->rv == HTTP_PARSE_DONE)
			d->inbody = 1;
	}
	if (d->inbody)
		res->rv = http_parse_body(&res->r, copy, len, &res->body);
	if (res->rv != HTTP_PARSE_AGAIN)
		d->finished = 1;
	if (copy != in)
		free(copy);
}

static void
result_init(struct result *res)
{
	memset(res, 0, sizeof(*res));
	http_request_init(&res->r);
	buf_init(&res->body, HTTP_MAX_BODY);
	res->rv = HTTP_PARSE_AGAIN;
}

/* Feed the prefixes ending at cuts[0..n) (increasing, last = len). */
static void
run_cuts(struct result *res, const char *in, const size_t *cuts, size_t n)
{
	struct driver	d;
	size_t		i;

	result_init(res);
	memset(&d, 0, sizeof(d));
	d.res = res;
	for (i = 0; i < n && !d.finished; i++)
		drive_step(&d, in, cuts[i]);
}

static void
run_all(struct result *res, const char *in, size_t len)
{
	run_cuts(res, in, &len, 1);
}

static void
run_bytewise(struct result *res, const char *in, size_t len)
{
	struct driver	d;
	size_t		i;

	result_init(res);
	memset(&d, 0, sizeof(d));
	d.res = res;
	for (i = 1; i <= len && !d.finished; i++)
		drive_step(&d, in, i);
}

static int
span_eq(const struct http_span *a, const struct http_span *b)
{
	return (a->off == b->off && a->len == b->len);
}

/* Every field a caller may look at, plus the private progress. */
static int
result_eq(const struct result *a, const struct result *b, const char **what)
{
	const struct http_request	*x = &a->r, *y = &b->r;
	size_t				 i;

#define CMP(c, w) do { if (!(c)) { *what = (w); return (0); } } while (0)
	CMP(a->rv == b->rv, "rv");
	CMP(x->status == y->status, "status");
	CMP(x->errmsg == y->errmsg, "errmsg");
	CMP(x->pos == y->pos, "pos");
	CMP(x->state == y->state && x->bstate == y->bstate, "state");
	CMP(x->head_len == y->head_len, "head_len");
	CMP(x->method == y->method, "method");
	CMP(span_eq(&x->method_tok, &y->method_tok), "method_tok");
	CMP(span_eq(&x->target, &y->target), "target");
	CMP(span_eq(&x->path, &y->path), "path");
	CMP(span_eq(&x->query, &y->query), "query");
	CMP(span_eq(&x->host, &y->host), "host");
	CMP(x->version_minor == y->version_minor, "version");
	CMP(x->nheaders == y->nheaders, "nheaders");
	for (i = 0; i < x->nheaders; i++)
		CMP(span_eq(&x->headers[i].name, &y->headers[i].name) &&
		    span_eq(&x->headers[i].value, &y->headers[i].value),
		    "header");
	CMP(x->keepalive == y->keepalive, "keepalive");
	CMP(x->chunked == y->chunked, "chunked");
	CMP(x->expect_continue == y->expect_continue, "expect");
	CMP(x->content_length == y->content_length, "content_length");
	CMP(x->body_len == y->body_len, "body_len");
	CMP(BUF_LEN(&a->body) == BUF_LEN(&b->body) &&
	    (BUF_LEN(&a->body) == 0 || memcmp(BUF_PTR(&a->body),
	    BUF_PTR(&b->body), BUF_LEN(&a->body)) == 0), "body");
#undef CMP
	*what = "";
	return (1);
}

static int
span_is(const char *in, const struct http_span *s, const char *want)
{
	return (s->len == strlen(want) && memcmp(in + s->off, want,
	    s->len) == 0);
}

static void
check_span(const char *name, const char *what, const char *in,
    const struct http_span *s, const char *want)
{
	if (!ok(span_is(in, s, want), "%s: %s is \"%s\"", name, what, want))
		diag("  got \"%.*s\"", (int)s->len, in + s->off);
}

/*
 * One request at in[0..len): the three feeding modes must agree.
 * Returns the all-at-once result in *res (caller frees res->body).
 */
static void
run_modes(const char *name, const char *in, size_t len, struct result *res)
{
	struct result	 other;
	const char	*what;
	size_t		 cuts[2], k, step;
	int		 same = 1;

	run_all(res, in, len);

	run_bytewise(&other, in, len);
	if (!ok(result_eq(res, &other, &what), "%s: byte-by-byte = at once",
	    name))
		diag("  differs in %s", what);
	buf_free(&other.body);

	/* Two pieces, split everywhere (sampled when big). */
	step = len <= 4096 ? 1 : len / 257 + 1;
	for (k = 1; k < len && same; k += step) {
		cuts[0] = k;
		cuts[1] = len;
		run_cuts(&other, in, cuts, 2);
		if (!result_eq(res, &other, &what)) {
			diag("  split at %zu differs in %s", k, what);
			same = 0;
		}
		buf_free(&other.body);
	}
	ok(same, "%s: every two-piece split = at once", name);
}

static void
run_case(const struct tcase *tc)
{
	struct result	 res;
	const struct http_request *r = &res.r;
	char		 paths[256], pathbuf[128];
	const char	*in = tc->in, *name = tc->name;
	size_t		 len = tc->inlen ? tc->inlen : strlen(tc->in);
	size_t		 off, consumed, blen;
	int		 nreq = 0;

	run_modes(name, in, len, &res);

	if (!is_int(res.rv, tc->rv, "%s: result %d", name, tc->rv))
		diag("  status %d errmsg %s", r->status,
		    r->errmsg ? r->errmsg : "(null)");
	if (tc->status)
		is_int(r->status, tc->status, "%s: status %d", name,
		    tc->status);
	if (tc->rv == HTTP_PARSE_ERROR)
	{
		if (!ok(r->errmsg != NULL && (tc->errmsg == NULL ||
		    strcmp(r->errmsg, tc->errmsg) == 0), "%s: errmsg \"%s\"",
		    name, tc->errmsg ? tc->errmsg : "(any)"))
			diag("  got \"%s\"", r->errmsg ? r->errmsg :
			    "(null)");
	} else
		ok(r->status == 0 && r->errmsg == NULL, "%s: no error set",
		    name);
	if (tc->method)
		check_span(name, "method", in, &r->method_tok, tc->method);
	if (tc->path)
		check_span(name, "path", in, &r->path, tc->path);
	if (tc->query)
		check_span(name, "query", in, &r->query, tc->query);
	if (tc->host)
		check_span(name, "host", in, &r->host, tc->host);
	if (tc->minor)
		is_int(r->version_minor, tc->minor - 1, "%s: HTTP/1.%d", name,
		    tc->minor - 1);
	if (tc->ka)
		is_int(r->keepalive, tc->ka == YES, "%s: keepalive %d", name,
		    tc->ka == YES);
	if (tc->chunked)
		is_int(r->chunked, tc->chunked == YES, "%s: chunked %d", name,
		    tc->chunked == YES);
	if (tc->expect)
		is_int(r->expect_continue, tc->expect == YES,
		    "%s: expect_continue %d", name, tc->expect == YES);
	if (tc->cl)
		is_int(r->content_length, tc->cl - 2, "%s: content_length %lld",
		    name, tc->cl - 2);
	if (tc->nheaders)
		is_int((int)r->nheaders, tc->nheaders - 1,
		    "%s: %d header fields", name, tc->nheaders - 1);
	if (tc->body) {
		blen = tc->bodylen ? tc->bodylen : strlen(tc->body);
		if (!ok(BUF_LEN(&res.body) == blen && r->body_len == blen &&
		    (blen == 0 || memcmp(BUF_PTR(&res.body), tc->body,
		    blen) == 0),
		    "%s: body (%zu bytes)", name, blen))
			diag("  got %zu bytes", BUF_LEN(&res.body));
	}
	if (res.rv == HTTP_PARSE_DONE) {
		ok(r->head_len <= r->pos, "%s: head_len <= pos", name);
		is_int(r->pos, tc->consumed ? tc->consumed : len,
		    "%s: consumed %zu", name, tc->consumed ? tc->consumed :
		    len);
	}

	/* Pipelined: parse what follows as the next requests. */
	paths[0] = '\0';
	off = 0;
	while (res.rv == HTTP_PARSE_DONE) {
		nreq++;
		snprintf(pathbuf, sizeof(pathbuf), "%s%.*s", nreq > 1 ? " " :
		    "", (int)r->path.len, in + off + r->path.off);
		strlcat(paths, pathbuf, sizeof(paths));
		consumed = r->pos;
		buf_free(&res.body);
		off += consumed;
		if (off >= len)
			break;
		snprintf(pathbuf, sizeof(pathbuf), "%s [next %d]", name,
		    nreq + 1);
		run_modes(pathbuf, in + off, len - off, &res);
	}
	buf_free(&res.body);
	if (tc->nreq || tc->paths) {
		is_int(nreq, tc->nreq ? tc->nreq : 1, "%s: %d requests", name,
		    tc->nreq ? tc->nreq : 1);
		if (tc->paths)
			if (!ok(strcmp(paths, tc->paths) == 0,
			    "%s: paths \"%s\"", name, tc->paths))
				diag("  got \"%s\"", paths);
	}
}

#define H11	" HTTP/1.1\r\nHost: h\r\n"

static const struct tcase cases[] = {
	/* Good requests. */
	{ .name = "simple GET",
	  .in = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .method = "GET", .path = "/", .query = "",
	  .host = "example.com", .minor = V11, .ka = YES, .chunked = NO,
	  .expect = NO, .cl = CL(-1), .nheaders = NH(1), .body = "" },
	{ .name = "GET with query",
	  .in = "GET /pxcodes?limit=10&offset=5" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .path = "/pxcodes",
	  .query = "limit=10&offset=5", .host = "h" },
	{ .name = "empty query", .in = "GET /a?" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .path = "/a", .query = "" },
	{ .name = "query with '?' and '/'", .in = "GET /a?b=/c?d" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .path = "/a", .query = "b=/c?d" },
	{ .name = "HTTP/1.0 without Host", .in = "GET /x HTTP/1.0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .minor = V10, .ka = NO, .host = "",
	  .nheaders = NH(0) },
	{ .name = "HTTP/1.0 keep-alive",
	  .in = "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .minor = V10, .ka = YES },
	{ .name = "HTTP/1.0 keep-alive, close",
	  .in = "GET /x HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .ka = NO },
	{ .name = "1.1 Connection: close",
	  .in = "GET /" H11 "Connection: close\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .ka = NO },
	{ .name = "1.1 Connection list with Close",
	  .in = "GET /" H11 "Connection: foo,  Close \r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .ka = NO },
	{ .name = "1.1 Connection: keep-alive, upgrade",
	  .in = "GET /" H11 "Connection: keep-alive, upgrade\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .ka = YES },
	{ .name = "1.1 Connection: closed is not close",
	  .in = "GET /" H11 "Connection: closed\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .ka = YES },
	{ .name = "bare LF line endings",
	  .in = "GET /lf HTTP/1.1\nHost: h\nX: y\n\n",
	  .rv = HTTP_PARSE_DONE, .path = "/lf", .nheaders = NH(2) },
	{ .name = "mixed CRLF and LF",
	  .in = "GET /m HTTP/1.1\r\nHost: h\nX: y\r\n\n",
	  .rv = HTTP_PARSE_DONE, .path = "/m", .nheaders = NH(2) },
	{ .name = "leading CRLFs ignored",
	  .in = "\r\n\r\nGET /l HTTP/1.1\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .path = "/l", .method = "GET" },
	{ .name = "leading bare LFs ignored",
	  .in = "\n\n\nGET /l" H11 "\r\n", .rv = HTTP_PARSE_DONE,
	  .path = "/l" },
	{ .name = "OWS trimmed",
	  .in = "GET / HTTP/1.1\r\nHost: \t example.com \t \r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .host = "example.com" },
	{ .name = "empty field value",
	  .in = "GET /" H11 "X-Empty:\r\nX-Sp:   \r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .nheaders = NH(3) },
	{ .name = "obs-text and inner spaces in value",
	  .in = "GET /" H11 "X: a \xff\x80 b\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .nheaders = NH(2) },
	{ .name = "all tchars in a field name",
	  .in = "GET /" H11 "!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .nheaders = NH(2) },
	{ .name = "Host with port",
	  .in = "GET / HTTP/1.1\r\nHost: h.example:8080\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .host = "h.example:8080" },
	{ .name = "Host IPv6 literal",
	  .in = "GET / HTTP/1.1\r\nHost: [::1]:5000\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .host = "[::1]:5000" },
	{ .name = "Host empty", .in = "GET / HTTP/1.1\r\nHost:\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .host = "" },
	{ .name = "host header name case",
	  .in = "GET / HTTP/1.1\r\nhOsT: x\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .host = "x" },
	{ .name = "POST Content-Length",
	  .in = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	  .rv = HTTP_PARSE_DONE, .method = "POST", .cl = CL(5),
	  .body = "hello", .chunked = NO },
	{ .name = "Content-Length 0",
	  .in = "POST /p" H11 "Content-Length: 0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .cl = CL(0), .body = "" },
	{ .name = "Content-Length list of equal values",
	  .in = "PUT /p" H11 "Content-Length: 5 ,5,  5\r\n\r\nhello",
	  .rv = HTTP_PARSE_DONE, .cl = CL(5), .body = "hello" },
	{ .name = "two equal Content-Length fields",
	  .in = "PUT /p" H11 "Content-Length: 3\r\ncontent-length: 3\r\n"
	    "\r\nabc",
	  .rv = HTTP_PARSE_DONE, .cl = CL(3), .body = "abc" },
	{ .name = "Content-Length leading zeros",
	  .in = "PUT /p" H11 "Content-Length: 003\r\n\r\nabc",
	  .rv = HTTP_PARSE_DONE, .cl = CL(3), .body = "abc" },
	{ .name = "body with NUL and CRLF bytes",
	  BIN("PUT /p" H11 "Content-Length: 6\r\n\r\na\0\r\n\nb"),
	  .rv = HTTP_PARSE_DONE, .body = "a\0\r\n\nb", .bodylen = 6 },
	{ .name = "HTTP/1.0 with Content-Length",
	  .in = "POST /p HTTP/1.0\r\nContent-Length: 2\r\n\r\nok",
	  .rv = HTTP_PARSE_DONE, .body = "ok", .ka = NO },
	{ .name = "chunked",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .chunked = YES, .cl = CL(-1),
	  .body = "Wikipedia" },
	{ .name = "chunked with extensions",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "4;foo=bar\r\nWiki\r\n5 \t; a=\"q ; x\" ;b\r\npedia\r\n"
	    "0;last\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "Wikipedia" },
	{ .name = "chunked hex sizes",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0000\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "0123456789abcdefghijk" },
	{ .name = "chunked leading zeros in size",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "00000000000000000000003\r\nabc\r\n0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "abc" },
	{ .name = "chunked with trailers",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\nX-Trailer: v 1\r\nChecksum:\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "abc" },
	{ .name = "chunked only last-chunk",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "" },
	{ .name = "Transfer-Encoding case and OWS",
	  .in = "POST /c" H11 "transfer-encoding:  ChUnKeD \r\n\r\n"
	    "1\r\nx\r\n0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .chunked = YES, .body = "x" },
	{ .name = "chunk data containing CRLF",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "4\r\n\r\n\r\n\r\n0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "\r\n\r\n" },
	{ .name = "Expect: 100-continue",
	  .in = "PUT /p" H11 "Expect: 100-continue\r\n"
	    "Content-Length: 1\r\n\r\n",
	  .rv = HTTP_PARSE_AGAIN, .expect = YES, .cl = CL(1) },
	{ .name = "Expect case-insensitive",
	  .in = "PUT /p" H11 "Expect: 100-Continue\r\n"
	    "Content-Length: 1\r\n\r\nz",
	  .rv = HTTP_PARSE_DONE, .expect = YES, .body = "z" },
	{ .name = "Expect ignored in HTTP/1.0",
	  .in = "PUT /p HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .expect = NO },
	{ .name = "empty Expect",
	  .in = "GET /" H11 "Expect:\r\n\r\n", .rv = HTTP_PARSE_DONE,
	  .expect = NO },
	{ .name = "absolute-form",
	  .in = "GET http://example.com/a/b?x=1 HTTP/1.1\r\n"
	    "Host: other\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .path = "/a/b", .query = "x=1",
	  .host = "example.com" },
	{ .name = "absolute-form HTTPS with port",
	  .in = "GET HTTPS://h.example:8443/ HTTP/1.1\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .path = "/", .host = "h.example:8443" },
	{ .name = "OPTIONS *",
	  .in = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .method = "OPTIONS", .path = "*",
	  .query = "" },
	{ .name = "HEAD", .in = "HEAD /h" H11 "\r\n", .rv = HTTP_PARSE_DONE,
	  .method = "HEAD" },
	{ .name = "PATCH", .in = "PATCH /h" H11 "Content-Length: 2\r\n\r\n{}",
	  .rv = HTTP_PARSE_DONE, .method = "PATCH", .body = "{}" },
	{ .name = "DELETE", .in = "DELETE /h/1" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .method = "DELETE", .path = "/h/1" },
	{ .name = "TRACE", .in = "TRACE /" H11 "\r\n", .rv = HTTP_PARSE_DONE },
	{ .name = "CONNECT origin-form", .in = "CONNECT /" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .method = "CONNECT" },
	{ .name = "target with sub-delims and pct",
	  .in = "GET /a%20b/c;d=e,f!$&'()*+:@-._~" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .path = "/a%20b/c;d=e,f!$&'()*+:@-._~" },
	{ .name = "GET with a body",
	  .in = "GET /" H11 "Content-Length: 2\r\n\r\nhi",
	  .rv = HTTP_PARSE_DONE, .body = "hi" },

	/* Incomplete input. */
	{ .name = "empty input", .in = "", .rv = HTTP_PARSE_AGAIN },
	{ .name = "only CRLF", .in = "\r\n", .rv = HTTP_PARSE_AGAIN },
	{ .name = "head incomplete", .in = "GET / HTTP/1.1\r\nHost: h\r\n",
	  .rv = HTTP_PARSE_AGAIN },
	{ .name = "head incomplete after CR",
	  .in = "GET / HTTP/1.1\r\nHost: h\r\n\r", .rv = HTTP_PARSE_AGAIN },
	{ .name = "body incomplete",
	  .in = "POST /p" H11 "Content-Length: 10\r\n\r\nhello",
	  .rv = HTTP_PARSE_AGAIN, .body = "hello" },
	{ .name = "chunked incomplete in data",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n5\r\nab",
	  .rv = HTTP_PARSE_AGAIN, .body = "ab" },
	{ .name = "chunked incomplete in trailer",
	  .in = "POST /c" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n",
	  .rv = HTTP_PARSE_AGAIN },

	/* Pipelining. */
	{ .name = "pipelined GETs",
	  .in = "GET /1" H11 "\r\nGET /2" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .consumed = 28, .nreq = 2,
	  .paths = "/1 /2" },
	{ .name = "pipelined POST then GET",
	  .in = "POST /1" H11 "Content-Length: 3\r\n\r\nabcGET /2" H11 "\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "abc", .consumed = 51, .nreq = 2,
	  .paths = "/1 /2" },
	{ .name = "pipelined chunked, LF GET, 1.0",
	  .in = "POST /1" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "2\r\nab\r\n0\r\nT: x\r\n\r\n"
	    "GET /2 HTTP/1.1\nHost: h\n\n"
	    "\r\nGET /3 HTTP/1.0\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .body = "ab", .consumed = 75, .nreq = 3,
	  .paths = "/1 /2 /3" },
	{ .name = "pipelined with partial second",
	  .in = "GET /1" H11 "\r\nGET /2 HT",
	  .rv = HTTP_PARSE_DONE, .consumed = 28, .nreq = 1, .paths = "/1" },

	/* 400 */
	{ .name = "multiple Host",
	  .in = "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "multiple Host headers" },
	{ .name = "missing Host", .in = "GET / HTTP/1.1\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "missing Host header" },
	{ .name = "absolute-form still needs Host",
	  .in = "GET http://h/ HTTP/1.1\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "missing Host header" },
	{ .name = "invalid Host", .in = "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid Host header" },
	{ .name = "Host with userinfo",
	  .in = "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Host with path", .in = "GET / HTTP/1.1\r\nHost: h/x\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "double space after method", .in = "GET  /" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid request target" },
	{ .name = "tab after method", .in = "GET\t/" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid request line" },
	{ .name = "space in target", .in = "GET /a b" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "control char in target", .in = "GET /a\x01" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid request target" },
	{ .name = "tab in target", .in = "GET /a\tb" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "DEL in target", .in = "GET /a\x7f" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "non-ASCII in target", .in = "GET /\xc3\xa9" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "fragment in target", .in = "GET /a#f" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "NUL in target", BIN("GET /\0 HTTP/1.1\r\n\r\n"),
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "relative target", .in = "GET a/b" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "authority-form", .in = "CONNECT h:443" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "asterisk with GET", .in = "GET *" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid request target" },
	{ .name = "asterisk with more", .in = "OPTIONS */" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "absolute-form without path",
	  .in = "GET http://h" H11 "\r\n", .rv = HTTP_PARSE_ERROR,
	  .status = 400 },
	{ .name = "absolute-form with query but no path",
	  .in = "GET http://h?x" H11 "\r\n", .rv = HTTP_PARSE_ERROR,
	  .status = 400 },
	{ .name = "absolute-form userinfo",
	  .in = "GET http://u@h/" H11 "\r\n", .rv = HTTP_PARSE_ERROR,
	  .status = 400 },
	{ .name = "absolute-form empty authority",
	  .in = "GET http:///a" H11 "\r\n", .rv = HTTP_PARSE_ERROR,
	  .status = 400 },
	{ .name = "absolute-form other scheme",
	  .in = "GET ftp://h/" H11 "\r\n", .rv = HTTP_PARSE_ERROR,
	  .status = 400 },
	{ .name = "absolute-form one slash",
	  .in = "GET http:/h/" H11 "\r\n", .rv = HTTP_PARSE_ERROR,
	  .status = 400 },
	{ .name = "leading space", .in = " GET /" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid request line" },
	{ .name = "trailing space after version",
	  .in = "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "lower-case http", .in = "GET / http/1.1\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "two-digit minor", .in = "GET / HTTP/1.10\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "HTTP/1", .in = "GET / HTTP/1\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "HTTP/0.9 style", .in = "GET /\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "no target", .in = "GET HTTP/1.1\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "bare CR in request line",
	  .in = "GET / HTTP/1.1\rHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid line ending" },
	{ .name = "bare CR in leading line", .in = "\rGET /" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid line ending" },
	{ .name = "bare CR in field line",
	  .in = "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "bare CR ending the head",
	  .in = "GET /" H11 "\rX", .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "whitespace before colon",
	  .in = "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "whitespace before colon" },
	{ .name = "obs-fold", .in = "GET /" H11 "X: a\r\n  b\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "obsolete line folding" },
	{ .name = "whitespace before first field",
	  .in = "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "obsolete line folding" },
	{ .name = "NUL in value", BIN("GET /" H11 "X: a\0b\r\n\r\n"),
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid header value" },
	{ .name = "control char in value", .in = "GET /" H11 "X: a\x01\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid header value" },
	{ .name = "DEL in value", .in = "GET /" H11 "X: \x7f\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "field without colon", .in = "GET /" H11 "X\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid header name" },
	{ .name = "empty field name", .in = "GET /" H11 ": v\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid header name" },
	{ .name = "bad char in field name", .in = "GET /" H11 "X(y): v\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Content-Length not a number",
	  .in = "POST /" H11 "Content-Length: abc\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid Content-Length" },
	{ .name = "Content-Length negative",
	  .in = "POST /" H11 "Content-Length: -1\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Content-Length plus sign",
	  .in = "POST /" H11 "Content-Length: +5\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Content-Length empty",
	  .in = "POST /" H11 "Content-Length:\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Content-Length hex",
	  .in = "POST /" H11 "Content-Length: 0x5\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Content-Length empty list element",
	  .in = "POST /" H11 "Content-Length: 5,,5\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Content-Length inner space",
	  .in = "POST /" H11 "Content-Length: 1 2\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "conflicting Content-Length list",
	  .in = "POST /" H11 "Content-Length: 5, 6\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "conflicting Content-Length" },
	{ .name = "conflicting Content-Length fields",
	  .in = "POST /" H11 "Content-Length: 5\r\nContent-Length: 50\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "conflicting Content-Length" },
	{ .name = "Content-Length overflow",
	  .in = "POST /" H11 "Content-Length: 99999999999999999999\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid Content-Length" },
	{ .name = "Content-Length INT64_MAX+1",
	  .in = "POST /" H11 "Content-Length: 9223372036854775808\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "Content-Length with Transfer-Encoding",
	  .in = "POST /" H11 "Content-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "both Content-Length and Transfer-Encoding" },
	{ .name = "Transfer-Encoding then Content-Length",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n"
	    "Content-Length: 0\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "both Content-Length and Transfer-Encoding" },
	{ .name = "Transfer-Encoding in HTTP/1.0",
	  .in = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "Transfer-Encoding in HTTP/1.0 request" },
	{ .name = "too many empty lines",
	  .in = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
	    "\r\n\r\n\r\nGET /" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "too many empty lines" },

	/* 413 */
	{ .name = "Content-Length over the limit",
	  .in = "POST /" H11 "Content-Length: 1048577\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 413, .errmsg = "body too large",
	  .cl = CL(1048577) },
	{ .name = "Content-Length INT64_MAX",
	  .in = "POST /" H11 "Content-Length: 9223372036854775807\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 413 },
	{ .name = "chunk size over the limit",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "100001\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 413, .errmsg = "body too large" },
	{ .name = "chunk size 2^64-1",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "FFFFFFFFFFFFFFFF\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 413 },

	/* 417 */
	{ .name = "unknown expectation",
	  .in = "PUT /" H11 "Expect: foo\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 417,
	  .errmsg = "unsupported expectation" },
	{ .name = "expectation list",
	  .in = "PUT /" H11 "Expect: 100-continue, foo\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 417 },
	{ .name = "unknown expectation in 1.0",
	  .in = "PUT / HTTP/1.0\r\nExpect: 200-ok\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 417 },

	/* 501 */
	{ .name = "unknown method", .in = "FOO /" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501,
	  .errmsg = "method not implemented" },
	{ .name = "lower-case method", .in = "get /" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },
	{ .name = "method prefix", .in = "GETS /" H11 "\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },
	{ .name = "TE gzip",
	  .in = "POST /" H11 "Transfer-Encoding: gzip\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501,
	  .errmsg = "unsupported transfer coding" },
	{ .name = "TE gzip, chunked",
	  .in = "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501,
	  .errmsg = "unsupported transfer coding" },
	{ .name = "TE chunked, chunked",
	  .in = "POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },
	{ .name = "TE in two fields",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },
	{ .name = "TE identity",
	  .in = "POST /" H11 "Transfer-Encoding: identity\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },
	{ .name = "TE chunked with parameter",
	  .in = "POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },
	{ .name = "TE chunked with trailing comma",
	  .in = "POST /" H11 "Transfer-Encoding: chunked,\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },
	{ .name = "TE empty",
	  .in = "POST /" H11 "Transfer-Encoding:\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 501 },

	/* 505 */
	{ .name = "HTTP/2.0", .in = "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 505,
	  .errmsg = "unsupported HTTP version" },
	/* RFC 9112 2.6: HTTP/1.2 is served as 1.1. */
	{ .name = "HTTP/1.2", .in = "GET / HTTP/1.2\r\nHost: h\r\n\r\n",
	  .rv = HTTP_PARSE_DONE, .minor = V11, .ka = YES, .host = "h" },
	{ .name = "HTTP/0.9", .in = "GET / HTTP/0.9\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 505 },
	{ .name = "HTTP/3.0 beats unknown method",
	  .in = "FOO / HTTP/3.0\r\n\r\n", .rv = HTTP_PARSE_ERROR,
	  .status = 505 },

	/* Chunked framing errors. */
	{ .name = "bad chunk size",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\nx\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid chunk size" },
	{ .name = "negative chunk size",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n-1\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "empty chunk size line",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "chunk size overflow",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "10000000000000000\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid chunk size" },
	{ .name = "chunk size 0x prefix",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0x5\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "chunk size trailing space",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n4 \r\nWiki",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "bare LF after chunk size",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n4\nWiki\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "bare LF in chunk extension",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "4;a\nWiki\r\n", .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid chunk extension" },
	{ .name = "NUL in chunk extension",
	  BIN("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n4;\0\r\n"),
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "chunk data too long",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n4\r\nWikiX\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "missing CRLF after chunk data" },
	{ .name = "bare LF after chunk data",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "4\r\nWiki\n0\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "missing CRLF after chunk data" },
	{ .name = "bare LF ending the trailer",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "bare LF in trailer field",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX: y\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400 },
	{ .name = "obs-fold in trailer",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX: y\r\n z\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "obsolete line folding" },
	{ .name = "bad trailer name",
	  .in = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX y: z\r\n\r\n",
	  .rv = HTTP_PARSE_ERROR, .status = 400,
	  .errmsg = "invalid trailer field" },
};

/* Build "<pre><fill x n><post>" in a fresh heap string. */
static char *
mk(const char *pre, char fill, size_t n, const char *post)
{
	size_t	a = strlen(pre), c = strlen(post);
	char	*s;

	if ((s = malloc(a + n + c + 1)) == NULL)
		abort();
	memcpy(s, pre, a);
	memset(s + a, fill, n);
	memcpy(s + a + n, post, c + 1);
	return (s);
}

static void
limit_cases(void)
{
	struct tcase	 tc;
	char		*s, *t, num[64];
	size_t		 i, n;
	struct buf	 b;

	/* Request line: exactly HTTP_MAX_REQLINE bytes, then one more. */
	n = HTTP_MAX_REQLINE - strlen("GET / HTTP/1.1");
	s = mk("GET /", 'a', n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "request line at the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	run_case(&tc);
	free(s);

	s = mk("GET /", 'a', n + 1, " HTTP/1.1\r\nHost: h\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "request line one past the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 414;
	tc.errmsg = "request line too long";
	run_case(&tc);
	free(s);

	/* 414 as soon as the limit is passed, without any terminator. */
	s = mk("GET /", 'a', HTTP_MAX_REQLINE - 5, "");
	memset(&tc, 0, sizeof(tc));
	tc.name = "request line of limit bytes, unterminated";
	tc.in = s;
	tc.rv = HTTP_PARSE_AGAIN;
	run_case(&tc);
	free(s);
	s = mk("GET /", 'a', HTTP_MAX_REQLINE - 4, "");
	memset(&tc, 0, sizeof(tc));
	tc.name = "request line of limit+1 bytes, unterminated";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 414;
	run_case(&tc);
	free(s);
	s = mk("GET", 'T', HTTP_MAX_REQLINE, "");
	memset(&tc, 0, sizeof(tc));
	tc.name = "endless method";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 414;
	run_case(&tc);
	free(s);

	/* Same with a bare LF terminator and leading empty lines, which
	 * do not count against the line. */
	s = mk("\r\n\r\nGET /", 'a', n, " HTTP/1.1\nHost: h\n\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "request line at the limit, LF, after empty lines";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	run_case(&tc);
	free(s);

	/* Leading empty lines: HTTP_MAX_LEADING_CRLF bytes are fine. */
	s = mk("", '\n', HTTP_MAX_LEADING_CRLF,
	    "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "leading empty lines at the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	run_case(&tc);
	free(s);
	s = mk("", '\n', HTTP_MAX_LEADING_CRLF + 1, "GET / HTTP/1.1\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "leading empty lines one past the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 400;
	run_case(&tc);
	free(s);

	/*
	 * Header section: "Host: h\r\n" (9) + "X: <pad>\r\n" + "\r\n" must
	 * total HTTP_MAX_HEADER_BYTES.
	 */
	n = HTTP_MAX_HEADER_BYTES - 9 - 5 - 2;
	s = mk("GET / HTTP/1.1\r\nHost: h\r\nX: ", 'v', n, "\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "header section at the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	tc.nheaders = NH(2);
	run_case(&tc);
	free(s);
	s = mk("GET / HTTP/1.1\r\nHost: h\r\nX: ", 'v', n + 1, "\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "header section one past the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 431;
	tc.errmsg = "header section too large";
	run_case(&tc);
	free(s);
	s = mk("GET / HTTP/1.1\r\nHost: h\r\nX: ", 'v', n + 5, "");
	memset(&tc, 0, sizeof(tc));
	tc.name = "header section too large, unterminated";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 431;
	run_case(&tc);
	free(s);
	s = mk("GET / HTTP/1.1\r\nHost: h\r\nX: ", 'v', n + 4, "");
	memset(&tc, 0, sizeof(tc));
	tc.name = "header section at the limit, unterminated";
	tc.in = s;
	tc.rv = HTTP_PARSE_AGAIN;
	run_case(&tc);
	free(s);

	/* Field count: HTTP_MAX_HEADERS, then one more. */
	buf_init(&b, 0);
	buf_appendstr(&b, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 1; i < HTTP_MAX_HEADERS; i++)
		buf_appendf(&b, "X-%zu: %zu\r\n", i, i);
	t = strdup(b.data);
	buf_appendstr(&b, "\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "header count at the limit";
	tc.in = b.data;
	tc.rv = HTTP_PARSE_DONE;
	tc.nheaders = NH(HTTP_MAX_HEADERS);
	run_case(&tc);
	buf_reset(&b);
	buf_appendf(&b, "%sX-last: y\r\n\r\n", t);
	memset(&tc, 0, sizeof(tc));
	tc.name = "header count one past the limit";
	tc.in = b.data;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 431;
	tc.errmsg = "too many header fields";
	run_case(&tc);
	free(t);

	/* Content-Length body exactly at HTTP_MAX_BODY. */
	snprintf(num, sizeof(num), "%d", HTTP_MAX_BODY);
	buf_reset(&b);
	buf_appendf(&b, "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: %s\r\n\r\n", num);
	n = b.len;
	s = mk(b.data, 'b', HTTP_MAX_BODY, "");
	memset(&tc, 0, sizeof(tc));
	tc.name = "Content-Length body at the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	tc.cl = CL(HTTP_MAX_BODY);
	tc.consumed = n + HTTP_MAX_BODY;
	run_case(&tc);
	free(s);

	/* Chunked: two chunks totalling HTTP_MAX_BODY, then one more. */
	snprintf(num, sizeof(num), "%x\r\n", HTTP_MAX_BODY - 1);
	buf_reset(&b);
	buf_appendf(&b, "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n%s", num);
	s = mk(b.data, 'c', HTTP_MAX_BODY - 1, "\r\n1\r\nd\r\n0\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "chunked body at the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	run_case(&tc);
	free(s);
	s = mk(b.data, 'c', HTTP_MAX_BODY - 1, "\r\n2\r\nde\r\n0\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "chunked body one past the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 413;
	tc.errmsg = "body too large";
	run_case(&tc);
	free(s);

	/* Chunk line: "1;" + extension up to HTTP_MAX_CHUNK_LINE bytes. */
	s = mk("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n1;", 'e', HTTP_MAX_CHUNK_LINE - 2, "\r\nx\r\n0\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "chunk line at the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	tc.body = "x";
	run_case(&tc);
	free(s);
	s = mk("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n1;", 'e', HTTP_MAX_CHUNK_LINE - 1, "\r\nx\r\n0\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "chunk line one past the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 400;
	tc.errmsg = "chunk line too long";
	run_case(&tc);
	free(s);
	s = mk("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n", '0', HTTP_MAX_CHUNK_LINE + 1, "");
	memset(&tc, 0, sizeof(tc));
	tc.name = "endless zeros in chunk size";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 400;
	run_case(&tc);
	free(s);

	/* Trailer section: "T: <pad>\r\n" + "\r\n" = the limit. */
	n = HTTP_MAX_TRAILER_BYTES - 5 - 2;
	s = mk("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n0\r\nT: ", 't', n, "\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "trailer section at the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_DONE;
	run_case(&tc);
	free(s);
	s = mk("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n0\r\nT: ", 't', n + 1, "\r\n\r\n");
	memset(&tc, 0, sizeof(tc));
	tc.name = "trailer section one past the limit";
	tc.in = s;
	tc.rv = HTTP_PARSE_ERROR;
	tc.status = 431;
	tc.errmsg = "trailer section too large";
	run_case(&tc);
	free(s);

	buf_free(&b);
}

/*
 * A fuller check of "split everywhere" on one chunked request: every
 * three-piece split must also agree.
 */
static void
chunked_splits(void)
{
	const char	*in = "POST /c HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
	struct result	 ref, res;
	const char	*what;
	size_t		 len = strlen(in), cuts[3], i, j;
	int		 same = 1;

	run_all(&ref, in, len);
	ok(ref.rv == HTTP_PARSE_DONE && BUF_LEN(&ref.body) == 19 &&
	    memcmp(BUF_PTR(&ref.body), "abc0123456789abcdef", 19) == 0,
	    "three-piece: reference body");
	for (i = 1; i < len && same; i++)
		for (j = i; j < len && same; j++) {
			cuts[0] = i;
			cuts[1] = j;
			cuts[2] = len;
			run_cuts(&res, in, cuts, 3);
			if (!result_eq(&ref, &res, &what)) {
				diag("  cuts %zu %zu differ in %s", i, j, what);
				same = 0;
			}
			buf_free(&res.body);
		}
	ok(same, "three-piece: every split of a chunked request agrees");
	buf_free(&ref.body);
}

/* Calls after DONE/ERROR are idempotent; a body before a head fails. */
static void
misuse(void)
{
	struct http_request	 r;
	struct buf		 b;
	const char		*in = "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET";
	size_t			 len = strlen(in);

	buf_init(&b, HTTP_MAX_BODY);
	http_request_init(&r);
	is_int(r.content_length, -1, "init: content_length -1");
	is_int(http_parse_body(&r, in, len, &b), HTTP_PARSE_ERROR,
	    "body before head is an error");
	is_int(r.status, 500, "body before head: 500");

	http_request_init(&r);
	is_int(http_parse_head(&r, in, len), HTTP_PARSE_DONE, "head done");
	is_int(r.pos, 27, "head stops at its end");
	is_int(r.head_len, 27, "head_len = pos");
	is_int(http_parse_head(&r, in, len), HTTP_PARSE_DONE, "head again");
	is_int(http_parse_body(&r, in, len, &b), HTTP_PARSE_DONE, "no body");
	is_int(r.pos, 27, "no body: pos unchanged");
	is_int(http_parse_body(&r, in, len, &b), HTTP_PARSE_DONE, "body again");

	http_request_init(&r);
	is_int(http_parse_head(&r, "GET / HTTP/9.9\r\n", 16), HTTP_PARSE_ERROR,
	    "error");
	is_int(http_parse_head(&r, "GET / HTTP/9.9\r\n\r\n", 18),
	    HTTP_PARSE_ERROR, "error is sticky");
	is_int(r.status, 505, "sticky status");

	/* A body buffer with a small max gives 413, not a crash. */
	buf_free(&b);
	buf_init(&b, 3);
	http_request_init(&r);
	in = "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
	len = strlen(in);
	is_int(http_parse_head(&r, in, len), HTTP_PARSE_DONE, "small buf head");
	is_int(http_parse_body(&r, in, len, &b), HTTP_PARSE_ERROR,
	    "small buf body");
	is_int(r.status, 413, "small buf: 413");
	buf_free(&b);
}

static void
test_header_find(void)
{
	struct http_request		 r;
	const struct http_span		*v;
	const char	*in = "GET / HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\n"
	    "x-dup: 2\r\nAccept:  */* \r\n\r\n";

	http_request_init(&r);
	is_int(http_parse_head(&r, in, strlen(in)), HTTP_PARSE_DONE,
	    "find: parsed");
	v = http_header_find(&r, in, "HOST");
	ok(v != NULL && span_is(in, v, "h"), "find: Host case-insensitive");
	v = http_header_find(&r, in, "X-DUP");
	ok(v != NULL && span_is(in, v, "1"), "find: first match wins");
	v = http_header_find(&r, in, "accept");
	ok(v != NULL && span_is(in, v, "*/*"), "find: value trimmed");
	ok(http_header_find(&r, in, "X-Du") == NULL, "find: no prefix match");
	ok(http_header_find(&r, in, "Missing") == NULL, "find: absent");
	is_int(http_header_count(&r, in, "x-dup"), 2, "count: 2");
	is_int(http_header_count(&r, in, "host"), 1, "count: 1");
	is_int(http_header_count(&r, in, "nope"), 0, "count: 0");
}

static void
test_methods(void)
{
	static const char *const names[] = { "GET", "HEAD", "POST", "PUT",
	    "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT" };
	enum http_method	 m;
	size_t			 i;
	int			 good = 1;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		m = http_method_parse(names[i], strlen(names[i]));
		if (m == HTTP_M_UNKNOWN || http_method_name(m) == NULL ||
		    strcmp(http_method_name(m), names[i]) != 0)
			good = 0;
	}
	ok(good, "method: all nine round-trip");
	is_int(http_method_parse("GET", 3), HTTP_M_GET, "method: GET");
	is_int(http_method_parse("DELETE", 6), HTTP_M_DELETE, "method: DELETE");
	is_int(http_method_parse("get", 3), HTTP_M_UNKNOWN,
	    "method: case-sensitive");
	is_int(http_method_parse("GETX", 4), HTTP_M_UNKNOWN, "method: GETX");
	is_int(http_method_parse("GET", 2), HTTP_M_UNKNOWN, "method: GE");
	is_int(http_method_parse("", 0), HTTP_M_UNKNOWN, "method: empty");
	ok(http_method_name(HTTP_M_UNKNOWN) == NULL, "method: unknown name");
	ok(http_method_name((enum http_method)99) == NULL,
	    "method: out of range name");
}

static void
test_status(void)
{
	static const int codes[] = { 100, 200, 201, 204, 304, 400, 401, 403,
	    404, 405, 408, 409, 411, 412, 413, 414, 415, 416, 417, 422, 428,
	    429, 431, 500, 501, 503, 505 };
	size_t	i;
	int	good = 1;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(http_status_reason(codes[i]), "Unknown") == 0) {
			diag("  no reason for %d", codes[i]);
			good = 0;
		}
	ok(good, "status: every status used has a reason");
	ok(strcmp(http_status_reason(404), "Not Found") == 0, "status: 404");
	ok(strcmp(http_status_reason(200), "OK") == 0, "status: 200");
	ok(strcmp(http_status_reason(413), "Content Too Large") == 0,
	    "status: 413");
	ok(strcmp(http_status_reason(431),
	    "Request Header Fields Too Large") == 0, "status: 431");
	ok(strcmp(http_status_reason(299), "Unknown") == 0,
	    "status: unknown code");
}

static void
test_dates(void)
{
	char	 out[64];
	time_t	 t;
	size_t	 i;
	int	 good = 1;
	static const time_t samples[] = { 0, 1, 784111777, 951782400,
	    1700000000, 2147483647, 4102444799LL, 253402300799LL };
	const char	*imf = "Sun, 06 Nov 1994 08:49:37 GMT";

	is_int(http_date_format(784111777, out, sizeof(out)), 29,
	    "date: format length");
	if (!ok(strcmp(out, imf) == 0, "date: format IMF-fixdate"))
		diag("  got \"%s\"", out);
	http_date_format(0, out, 30);
	ok(strcmp(out, "Thu, 01 Jan 1970 00:00:00 GMT") == 0,
	    "date: epoch in 30 bytes");
	is_int(http_date_format(0, out, 29), 0, "date: 29 bytes too short");
	is_int(http_date_format(253402300800LL, out, sizeof(out)), 0,
	    "date: year 10000 refused");

	t = 0;
	is_int(http_date_parse(imf, strlen(imf), &t), 0, "date: parse IMF");
	is_int(t, 784111777, "date: IMF value");
	t = 0;
	is_int(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0,
	    "date: parse RFC 850");
	is_int(t, 784111777, "date: RFC 850 value");
	t = 0;
	is_int(http_date_parse("Sun Nov  6 08:49:37 1994", 24, &t), 0,
	    "date: parse asctime");
	is_int(t, 784111777, "date: asctime value");
	t = 0;
	is_int(http_date_parse("Sun Nov 06 08:49:37 1994", 24, &t), 0,
	    "date: asctime two-digit day");
	is_int(t, 784111777, "date: asctime two-digit day value");
	is_int(http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", 29, &t), 0,
	    "date: leap day 2000");
	is_int(t, 951782400, "date: leap day value");
	is_int(http_date_parse("Thu, 29 Feb 1900 00:00:00 GMT", 29, &t), -1,
	    "date: no leap day 1900");
	is_int(http_date_parse("Sun, 31 Nov 1994 08:49:37 GMT", 29, &t), -1,
	    "date: 31 Nov");
	is_int(http_date_parse("Sun, 00 Nov 1994 08:49:37 GMT", 29, &t), -1,
	    "date: day 0");
	is_int(http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", 29, &t), -1,
	    "date: bad month");
	is_int(http_date_parse("Sun, 06 Nov 1994 24:00:00 GMT", 29, &t), -1,
	    "date: hour 24");
	is_int(http_date_parse("Sun, 06 Nov 1994 08:60:00 GMT", 29, &t), -1,
	    "date: minute 60");
	is_int(http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", 29, &t), -1,
	    "date: UTC is not GMT");
	is_int(http_date_parse("Xyz, 06 Nov 1994 08:49:37 GMT", 29, &t), -1,
	    "date: bad weekday");
	is_int(http_date_parse("Sun, 6 Nov 1994 08:49:37 GMT", 28, &t), -1,
	    "date: one-digit day");
	is_int(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT ", 30, &t), -1,
	    "date: trailing space");
	is_int(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 28, &t), -1,
	    "date: truncated");
	is_int(http_date_parse("Sun, 06 nov 1994 08:49:37 GMT", 29, &t), -1,
	    "date: month is case-sensitive");
	is_int(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 29, &t), -1,
	    "date: RFC 850 truncated");
	is_int(http_date_parse("Sun, 06-Nov-94 08:49:37 GMT", 27, &t), -1,
	    "date: RFC 850 short weekday");
	is_int(http_date_parse("", 0, &t), -1, "date: empty");
	is_int(http_date_parse("Sun, 06 Nov 1994 08:49:60 GMT", 29, &t), 0,
	    "date: leap second accepted");

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		if (http_date_format(samples[i], out, sizeof(out)) != 29 ||
		    http_date_parse(out, 29, &t) != 0 || t != samples[i]) {
			diag("  round trip failed for %lld",
			    (long long)samples[i]);
			good = 0;
		}
	}
	ok(good, "date: format/parse round trip");
}

static void
test_etags(void)
{
#define EM(f, e, w)	http_etag_match((f), strlen(f), (e), (w))
	is_int(EM("\"abc\"", "\"abc\"", 0), 1, "etag: strong equal");
	is_int(EM("\"abc\"", "\"abd\"", 0), 0, "etag: strong differ");
	is_int(EM("W/\"abc\"", "\"abc\"", 0), 0,
	    "etag: weak field, strong cmp");
	is_int(EM("W/\"abc\"", "\"abc\"", 1), 1, "etag: weak field, weak cmp");
	is_int(EM("\"abc\"", "W/\"abc\"", 0), 0, "etag: weak tag, strong cmp");
	is_int(EM("\"abc\"", "W/\"abc\"", 1), 1, "etag: weak tag, weak cmp");
	is_int(EM("W/\"abc\"", "W/\"abc\"", 1), 1, "etag: both weak, weak cmp");
	is_int(EM("W/\"abc\"", "W/\"abc\"", 0), 0,
	    "etag: both weak, strong cmp");
	is_int(EM("*", "\"abc\"", 0), 1, "etag: *");
	is_int(EM("  * ", "\"abc\"", 1), 1, "etag: * with OWS");
	is_int(EM("\"x\", \"abc\"", "\"abc\"", 0), 1, "etag: list");
	is_int(EM(" \"x\" , ,\t\"y\" ", "\"abc\"", 1), 0,
	    "etag: list with empty elements, no match");
	is_int(EM("\"x\",W/\"abc\"", "\"abc\"", 1), 1, "etag: list weak");
	is_int(EM("\"\"", "\"\"", 0), 1, "etag: empty opaque tag");
	is_int(EM("\"abc\"", "\"ab\"", 1), 0, "etag: prefix is no match");
	is_int(EM("abc", "\"abc\"", 0), -1, "etag: unquoted");
	is_int(EM("\"abc", "\"abc\"", 0), -1, "etag: unterminated");
	is_int(EM("\"a\" \"b\"", "\"a\"", 0), -1, "etag: missing comma");
	is_int(EM("*, \"a\"", "\"a\"", 0), -1, "etag: * in a list");
	is_int(EM("\"a\", *", "\"a\"", 0), -1, "etag: * after a tag");
	is_int(EM("", "\"a\"", 0), -1, "etag: empty field");
	is_int(EM(" , ", "\"a\"", 0), -1, "etag: only commas");
	is_int(EM("\"a\", bad", "\"a\"", 0), -1,
	    "etag: match then malformed");
	is_int(EM("w/\"a\"", "\"a\"", 1), -1, "etag: lower-case w/");
	is_int(EM("\"a b\"", "\"a\"", 0), -1, "etag: space inside");
	is_int(EM("\"\xff\"", "\"\xff\"", 0), 1, "etag: obs-text");
	is_int(EM("\"a\"", "a", 0), -1, "etag: our tag malformed");
#undef EM
}

static void
test_query(void)
{
	char		 out[16];
	const char	*q;

#define QG(q, n)	http_query_get((q), strlen(q), (n), out, sizeof(out))
	is_int(QG("a=1&b=22", "b"), 2, "query: second key");
	ok(strcmp(out, "22") == 0, "query: value");
	is_int(QG("a=1&b=2", "c"), -1, "query: absent");
	is_int(QG("", "a"), -1, "query: empty string");
	is_int(QG("a=1&a=2", "a"), 1, "query: first occurrence");
	ok(strcmp(out, "1") == 0, "query: first occurrence value");
	is_int(QG("q=hello+world%21", "q"), 12, "query: decoding");
	ok(strcmp(out, "hello world!") == 0, "query: decoded value");
	is_int(QG("my%20key=v", "my key"), 1, "query: key decoded");
	is_int(QG("a+b=v", "a b"), 1, "query: '+' in key");
	is_int(QG("flag&x=1", "flag"), 0, "query: key without '='");
	ok(out[0] == '\0', "query: empty value");
	is_int(QG("a=", "a"), 0, "query: empty value with '='");
	is_int(QG("&&a=1&", "a"), 1, "query: empty pairs skipped");
	is_int(QG("ab=1", "a"), -1, "query: no prefix match");
	is_int(QG("a=1", "ab"), -1, "query: no longer match");
	is_int(QG("a=b=c", "a"), 3, "query: '=' in value");
	ok(strcmp(out, "b=c") == 0, "query: '=' in value kept");
	is_int(QG("a=%zz", "a"), -2, "query: bad encoding");
	is_int(QG("a=%4", "a"), -2, "query: truncated escape");
	is_int(QG("a=%00", "a"), -2, "query: %%00 refused");
	is_int(QG("a=0123456789abcdef", "a"), -2, "query: does not fit");
	is_int(QG("a=0123456789abcde", "a"), 15, "query: exactly fits");
	is_int(QG("a=%zz&a=1", "a"), -2, "query: first wins even if bad");
	is_int(QG("%zz=1&b=2", "b"), 1, "query: bad key skipped");
	q = "a=1&b=2";
	is_int(http_query_get(q, 3, "b", out, sizeof(out)), -1,
	    "query: len bounds the search");
	is_int(http_query_get("a=1", 3, "a", out, 0), -2, "query: outlen 0");
#undef QG
}

static void
test_pct(void)
{
	char	out[16];

#define PD(s)	http_pct_decode((s), strlen(s), out, sizeof(out))
	is_int(PD("/a%2Fb"), 4, "pct: %%2F");
	ok(strcmp(out, "/a/b") == 0, "pct: value");
	is_int(PD("a+b"), 3, "pct: '+' kept");
	ok(strcmp(out, "a+b") == 0, "pct: '+' value");
	is_int(PD("%e2%82%AC"), 3, "pct: UTF-8, mixed case");
	ok(strcmp(out, "\xe2\x82\xac") == 0, "pct: UTF-8 value");
	is_int(PD(""), 0, "pct: empty");
	is_int(PD("%4"), -1, "pct: truncated");
	is_int(PD("%G0"), -1, "pct: not hex");
	is_int(PD("%"), -1, "pct: lone %%");
	is_int(PD("a%00b"), -1, "pct: NUL refused");
	ok(out[0] == '\0', "pct: out empty on failure");
	is_int(PD("0123456789abcdef"), -1, "pct: does not fit");
	is_int(PD("0123456789abcde"), 15, "pct: exactly fits");
	is_int(PD("%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41"), 15,
	    "pct: encoded exactly fits");
	is_int(http_pct_decode("abc", 3, out, 0), -1, "pct: outlen 0");
#undef PD
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	limit_cases();
	chunked_splits();
	misuse();
	test_header_find();
	test_methods();
	test_status();
	test_dates();
	test_etags();
	test_query();
	test_pct();
	return (done_testing());
}
