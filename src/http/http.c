/*
 * http: the resumable HTTP/1.x request parser (RFC 9112) and the pure
 * helpers declared in http.h.  No I/O, no allocation except appending the
 * decoded body to a caller-owned struct buf.
 *
 * The head and the chunked body are byte-level state machines in the
 * style of ngx_http_parse.c: the current state lives in the request
 * (r->state for the head, r->bstate for the body), positions are offsets
 * from the request's first byte, and each call resumes at r->pos.  Every
 * decision therefore depends only on the bytes seen so far, which is what
 * makes one-byte-at-a-time and all-at-once feeding give equal results.
 *
 * Framing is never guessed: whatever could be read two ways by two
 * implementations (CL with TE, odd transfer codings, bare CR, obs-fold,
 * bare LF inside chunked framing) is an error, and the caller closes the
 * connection after answering it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "hex.h"
#include "http.h"

#define CR	'\r'
#define LF	'\n'

/* Head states (r->state).  The request-line states are contiguous so the
 * line length limit can be checked with one range test. */
enum {
	sw_start = 0,		/* before the request line, skipping CRLFs */
	sw_start_lf,		/* CR seen in a leading empty line */
	sw_method,
	sw_target_start,
	sw_scheme,
	sw_scheme_slash1,
	sw_scheme_slash2,
	sw_authority,
	sw_asterisk,
	sw_path,
	sw_query,
	sw_http_H,
	sw_http_T1,
	sw_http_T2,
	sw_http_P,
	sw_http_slash,
	sw_major,
	sw_dot,
	sw_minor,
	sw_reqline_end,		/* expects CR or LF */
	sw_reqline_lf,		/* CR seen, expects LF */
	sw_field_start,
	sw_field_name,
	sw_value_ows,
	sw_value,
	sw_field_lf,
	sw_head_lf,
	sw_head_done,
	sw_head_error
};

/* Body states (r->bstate). */
enum {
	bs_size_start = 0,
	bs_size,
	bs_size_ws,		/* BWS between chunk-size and ';' */
	bs_ext,
	bs_size_lf,
	bs_data,
	bs_data_cr,
	bs_data_lf,
	bs_trailer_start,
	bs_trailer_name,
	bs_trailer_value,
	bs_trailer_lf,
	bs_last_lf,
	bs_done,
	bs_error
};

/* tchar (RFC 9110 5.6.2). */
static const uint8_t http_tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1
};

/*
 * Characters of an authority (Host value, absolute-form): unreserved,
 * sub-delims, ':' for the port, '[' ']' for IP literals and '%' for
 * pct-encoded.  '@' is left out on purpose: userinfo in an http URI is
 * deprecated (RFC 9110 4.2.4) and only ever used to confuse.
 */
static const uint8_t http_authc[256] = {
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1,
	['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
	[','] = 1, [';'] = 1, ['='] = 1, [':'] = 1, ['['] = 1, [']'] = 1,
	['%'] = 1,
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1
};

#define IS_TCHAR(c)	(http_tchar[(unsigned char)(c)])
#define IS_AUTHC(c)	(http_authc[(unsigned char)(c)])
/* request-target: visible ASCII except '#' (no fragment on the wire). */
#define IS_TARGETC(c)	((c) > 0x20 && (c) < 0x7f && (c) != '#')
/* field-vchar: VCHAR / obs-text (RFC 9110 5.5); SP/HTAB handled apart. */
#define IS_VCHAR(c)	((c) > 0x20 && (c) != 0x7f)
#define IS_WS(c)	((c) == ' ' || (c) == '\t')

static int
http_span_eq(const char *buf, const struct http_span *s, const char *lit)
{
	size_t	n = strlen(lit);

	return (s->len == n && strncasecmp(buf + s->off, lit, n) == 0);
}

void
http_request_init(struct http_request *r)
{
	memset(r, 0, sizeof(*r));
	r->state = sw_start;
	r->bstate = bs_size_start;
	r->content_length = -1;
}

static int
http_head_fail(struct http_request *r, size_t p, int status, const char *msg)
{
	r->state = sw_head_error;
	r->pos = p;
	r->status = status;
	r->errmsg = msg;
	return (HTTP_PARSE_ERROR);
}

/*
 * Content-Length = 1*DIGIT, but a recipient may see a list of identical
 * values (RFC 9110 8.6) from a sloppy intermediary.  Every element of
 * every field must be equal to the first one seen (*cl, -1 if none yet).
 * Returns 0, or -1 with *msg set.
 */
static int
http_parse_cl(const char *v, size_t len, int64_t *cl, const char **msg)
{
	size_t	i = 0;
	int64_t	n;
	int	d;

	for (;;) {
		while (i < len && IS_WS(v[i]))
			i++;
		if (i == len || v[i] < '0' || v[i] > '9')
			goto bad;
		n = 0;
		while (i < len && v[i] >= '0' && v[i] <= '9') {
			d = v[i++] - '0';
			if (n > (INT64_MAX - d) / 10)
				goto bad;
			n = n * 10 + d;
		}
		if (*cl != -1 && *cl != n) {
			*msg = "conflicting Content-Length";
			return (-1);
		}
		*cl = n;
		while (i < len && IS_WS(v[i]))
			i++;
		if (i == len)
			return (0);
		if (v[i++] != ',')
			goto bad;
	}
 bad:
	*msg = "invalid Content-Length";
	return (-1);
}

/* Connection = #connection-option; only close and keep-alive matter. */
static void
http_parse_connection(const char *v, size_t len, int *isclose, int *keep)
{
	size_t	i = 0, s;

	while (i < len) {
		while (i < len && (IS_WS(v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < len && IS_TCHAR(v[i]))
			i++;
		if (i - s == 5 && strncasecmp(v + s, "close", 5) == 0)
			*isclose = 1;
		else if (i - s == 10 &&
		    strncasecmp(v + s, "keep-alive", 10) == 0)
			*keep = 1;
		/* Skip the rest of a malformed element. */
		while (i < len && v[i] != ',')
			i++;
	}
}

/*
 * The head is complete: interpret the fields that decide framing and
 * persistence.  Order matters only for which error wins; framing errors
 * (400) come first because they make the rest meaningless.
 */
static int
http_head_finish(struct http_request *r, const char *buf)
{
	const struct http_header	*h;
	const struct http_span		*hostv = NULL, *tev = NULL;
	const char			*clmsg = NULL;
	size_t				 i, j, nhost = 0, nte = 0;
	int64_t				 cl = -1;
	int				 isclose = 0, keep = 0, expect = 0;
	int				 badexpect = 0;

	/* Collect first, judge after, so the answer is independent of
	 * the order of the fields. */
	for (i = 0; i < r->nheaders; i++) {
		h = &r->headers[i];
		if (http_span_eq(buf, &h->name, "host")) {
			nhost++;
			hostv = &h->value;
		} else if (http_span_eq(buf, &h->name, "content-length")) {
			if (clmsg == NULL)
				(void)http_parse_cl(buf + h->value.off,
				    h->value.len, &cl, &clmsg);
		} else if (http_span_eq(buf, &h->name, "transfer-encoding")) {
			nte++;
			tev = &h->value;
		} else if (http_span_eq(buf, &h->name, "connection")) {
			http_parse_connection(buf + h->value.off,
			    h->value.len, &isclose, &keep);
		} else if (http_span_eq(buf, &h->name, "x-starterd-lsn")) {
			/* Read by api_resource.c; the first one counts. */
			if (!r->lsn_given)
				r->lsn = h->value;
			r->lsn_given = 1;
		} else if (http_span_eq(buf, &h->name, "cookie")) {
			if (r->cookie.len == 0)
				r->cookie = h->value;
		} else if (http_span_eq(buf, &h->name, "expect")) {
			/* An empty list expects nothing. */
			if (h->value.len == 0)
				continue;
			if (http_span_eq(buf, &h->value, "100-continue"))
				expect = 1;
			else
				badexpect = 1;
		}
	}

	if (nhost > 1)
		return (http_head_fail(r, r->pos, 400,
		    "multiple Host headers"));
	if (nhost == 0 && r->version_minor == 1)
		return (http_head_fail(r, r->pos, 400, "missing Host header"));
	if (hostv != NULL) {
		for (j = 0; j < hostv->len; j++)
			if (!IS_AUTHC(buf[hostv->off + j]))
				return (http_head_fail(r, r->pos, 400,
				    "invalid Host header"));
		/* In absolute-form the target's authority wins (RFC 9112
		 * 3.2.2); it was stored in r->host by the request line. */
		if (r->path.off == r->target.off)
			r->host = *hostv;
	}

	if (clmsg != NULL)
		return (http_head_fail(r, r->pos, 400, clmsg));
	if (nte > 0) {
		/* RFC 9112 6.1: TE in 1.0 means faulty framing. */
		if (r->version_minor == 0)
			return (http_head_fail(r, r->pos, 400,
			    "Transfer-Encoding in HTTP/1.0 request"));
		/* RFC 9112 6.3: both is a smuggling attempt; refuse. */
		if (cl != -1)
			return (http_head_fail(r, r->pos, 400,
			    "both Content-Length and Transfer-Encoding"));
		/* Only a lone "chunked": anything else we cannot frame. */
		if (nte > 1 || !http_span_eq(buf, tev, "chunked"))
			return (http_head_fail(r, r->pos, 501,
			    "unsupported transfer coding"));
		r->chunked = 1;
	}

	r->content_length = cl;
	if (cl > HTTP_MAX_BODY)
		return (http_head_fail(r, r->pos, 413, "body too large"));
	if (badexpect)
		return (http_head_fail(r, r->pos, 417,
		    "unsupported expectation"));

	/* RFC 9110 10.1.1: 100-continue in a 1.0 request is ignored. */
	r->expect_continue = expect && r->version_minor == 1;

	if (r->version_minor == 1)
		r->keepalive = !isclose;
	else
		r->keepalive = keep && !isclose;

	r->state = sw_head_done;
	r->line_start = r->pos;		/* first chunk-size line */
	return (HTTP_PARSE_DONE);
}

/*
 * Parse the request head from buf[0..len).  buf starts at the request's
 * first byte (any ignored empty lines included) on every call.
 */
int
http_parse_head(struct http_request *r, const char *buf, size_t len)
{
	size_t		p;
	unsigned char	ch;
	int		state = r->state;

	if (state == sw_head_done)
		return (HTTP_PARSE_DONE);
	if (state == sw_head_error)
		return (HTTP_PARSE_ERROR);

	for (p = r->pos; p < len; p++) {
		ch = (unsigned char)buf[p];

		/*
		 * Limits are checked per byte, before the state is looked
		 * at, so an over-long line fails as soon as the byte past
		 * the limit arrives, however the input was split.  A line
		 * of exactly the limit is fine: its terminator is then the
		 * only acceptable byte.
		 */
		if (state >= sw_method && state <= sw_reqline_end &&
		    p - r->line_start >= HTTP_MAX_REQLINE &&
		    !(state == sw_reqline_end && (ch == CR || ch == LF)))
			return (http_head_fail(r, p, 414,
			    "request line too long"));
		if (state >= sw_field_start && state <= sw_head_lf &&
		    p - r->hdr_start >= HTTP_MAX_HEADER_BYTES)
			return (http_head_fail(r, p, 431,
			    "header section too large"));

		switch (state) {
		case sw_start:
			/* RFC 9112 2.2: ignore a few leading empty lines. */
			if (ch == CR || ch == LF) {
				if (p >= HTTP_MAX_LEADING_CRLF)
					return (http_head_fail(r, p, 400,
					    "too many empty lines"));
				if (ch == CR)
					state = sw_start_lf;
				break;
			}
			if (!IS_TCHAR(ch))
				return (http_head_fail(r, p, 400,
				    "invalid request line"));
			r->line_start = p;
			r->method_tok.off = p;
			state = sw_method;
			break;

		case sw_start_lf:
			if (ch != LF)
				return (http_head_fail(r, p, 400,
				    "invalid line ending"));
			state = sw_start;
			break;

		case sw_method:
			if (IS_TCHAR(ch))
				break;
			if (ch != ' ')
				return (http_head_fail(r, p, 400,
				    "invalid request line"));
			r->method_tok.len = p - r->method_tok.off;
			r->method = http_method_parse(buf + r->method_tok.off,
			    r->method_tok.len);
			state = sw_target_start;
			break;

		case sw_target_start:
			r->target.off = p;
			r->path.off = p;
			if (ch == '/') {
				state = sw_path;
			} else if (ch == '*') {
				state = sw_asterisk;
			} else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') {
				state = sw_scheme;
			} else {
				return (http_head_fail(r, p, 400,
				    "invalid request target"));
			}
			break;

		case sw_scheme:
			if (((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
			    (ch >= '0' && ch <= '9') || ch == '+' ||
			    ch == '-' || ch == '.')
				break;
			/* Only absolute-form http(s) URIs are served. */
			if (ch != ':' || !((p - r->target.off == 4 &&
			    strncasecmp(buf + r->target.off, "http", 4) == 0) ||
			    (p - r->target.off == 5 &&
			    strncasecmp(buf + r->target.off, "https", 5) == 0)))
				return (http_head_fail(r, p, 400,
				    "invalid request target"));
			state = sw_scheme_slash1;
			break;

		case sw_scheme_slash1:
		case sw_scheme_slash2:
			if (ch != '/')
				return (http_head_fail(r, p, 400,
				    "invalid request target"));
			if (state == sw_scheme_slash2)
				r->host.off = p + 1;
			state++;
			break;

		case sw_authority:
			if (IS_AUTHC(ch))
				break;
			/*
			 * The path must be there: path spans always begin
			 * with '/' (or are "*"), which the router relies on.
			 */
			if (ch != '/' || p == r->host.off)
				return (http_head_fail(r, p, 400,
				    "invalid request target"));
			r->host.len = p - r->host.off;
			r->path.off = p;
			state = sw_path;
			break;

		case sw_asterisk:
			if (ch != ' ' || r->method != HTTP_M_OPTIONS)
				return (http_head_fail(r, p, 400,
				    "invalid request target"));
			r->path.len = 1;
			r->target.len = 1;
			state = sw_http_H;
			break;

		case sw_path:
			if (ch == '?') {
				r->path.len = p - r->path.off;
				r->query.off = p + 1;
				state = sw_query;
				break;
			}
			/* FALLTHROUGH */
		case sw_query:
			if (IS_TARGETC(ch))
				break;
			if (ch != ' ')
				return (http_head_fail(r, p, 400,
				    "invalid request target"));
			if (state == sw_path)
				r->path.len = p - r->path.off;
			else
				r->query.len = p - r->query.off;
			r->target.len = p - r->target.off;
			state = sw_http_H;
			break;

		case sw_http_H:
		case sw_http_T1:
		case sw_http_T2:
		case sw_http_P:
		case sw_http_slash:
			/* "HTTP/" is case-sensitive (RFC 9112 2.3). */
			if (ch != (unsigned char)"HTTP/"[state - sw_http_H])
				return (http_head_fail(r, p, 400,
				    "invalid request line"));
			state++;
			break;

		case sw_major:
		case sw_minor:
			if (ch < '0' || ch > '9')
				return (http_head_fail(r, p, 400,
				    "invalid request line"));
			/* major * 10 + minor until the line ends. */
			if (state == sw_major)
				r->version_minor = (ch - '0') * 10;
			else
				r->version_minor += ch - '0';
			state++;
			break;

		case sw_dot:
			if (ch != '.')
				return (http_head_fail(r, p, 400,
				    "invalid request line"));
			state = sw_minor;
			break;

		case sw_reqline_end:
		case sw_reqline_lf:
			if (ch == CR && state == sw_reqline_end) {
				state = sw_reqline_lf;
				break;
			}
			if (ch != LF)
				return (http_head_fail(r, p, 400, state ==
				    sw_reqline_lf ? "invalid line ending" :
				    "invalid request line"));
			/* Well-formed line: now judge what it asks for. */
			/*
			 * RFC 9112 2.6: a higher minor version of 1.x is
			 * served as the highest we speak, 1.1.
			 */
			if (r->version_minor < 10 || r->version_minor > 19)
				return (http_head_fail(r, p, 505,
				    "unsupported HTTP version"));
			if (r->version_minor > 11)
				r->version_minor = 11;
			r->version_minor -= 10;
			if (r->method == HTTP_M_UNKNOWN)
				return (http_head_fail(r, p, 501,
				    "method not implemented"));
			r->hdr_start = p + 1;
			state = sw_field_start;
			break;

		case sw_field_start:
			if (ch == CR) {
				state = sw_head_lf;
				break;
			}
			if (ch == LF)
				goto done;
			/* RFC 9112 5.2: obs-fold is rejected, never joined. */
			if (IS_WS(ch))
				return (http_head_fail(r, p, 400,
				    "obsolete line folding"));
			if (!IS_TCHAR(ch))
				return (http_head_fail(r, p, 400,
				    "invalid header name"));
			if (r->nheaders == HTTP_MAX_HEADERS)
				return (http_head_fail(r, p, 431,
				    "too many header fields"));
			r->line_start = p;
			r->headers[r->nheaders].name.off = p;
			state = sw_field_name;
			break;

		case sw_field_name:
			if (IS_TCHAR(ch))
				break;
			if (ch == ':') {
				r->headers[r->nheaders].name.len =
				    p - r->headers[r->nheaders].name.off;
				r->headers[r->nheaders].value.off = p + 1;
				r->headers[r->nheaders].value.len = 0;
				state = sw_value_ows;
				break;
			}
			/* RFC 9112 5.1: no whitespace before the colon. */
			return (http_head_fail(r, p, 400, IS_WS(ch) ?
			    "whitespace before colon" : "invalid header name"));

		case sw_value_ows:
		case sw_value:
			if (IS_WS(ch))
				break;
			if (IS_VCHAR(ch)) {
				if (state == sw_value_ows)
					r->headers[r->nheaders].value.off = p;
				r->headers[r->nheaders].value.len =
				    p + 1 - r->headers[r->nheaders].value.off;
				state = sw_value;
				break;
			}
			if (ch == CR) {
				state = sw_field_lf;
				break;
			}
			if (ch == LF) {
				r->nheaders++;
				state = sw_field_start;
				break;
			}
			/* NUL and the other controls (RFC 9110 5.5). */
			return (http_head_fail(r, p, 400,
			    "invalid header value"));

		case sw_field_lf:
			if (ch != LF)
				return (http_head_fail(r, p, 400,
				    "invalid line ending"));
			r->nheaders++;
			state = sw_field_start;
			break;

		case sw_head_lf:
			if (ch != LF)
				return (http_head_fail(r, p, 400,
				    "invalid line ending"));
			goto done;

		default:
			return (http_head_fail(r, p, 500,
			    "internal parser error"));
		}
	}

	r->state = state;
	r->pos = p;
	return (HTTP_PARSE_AGAIN);

 done:
	r->pos = p + 1;
	r->head_len = r->pos;
	return (http_head_finish(r, buf));
}

static int
http_body_fail(struct http_request *r, size_t p, int status, const char *msg)
{
	r->bstate = bs_error;
	r->pos = p;
	r->status = status;
	r->errmsg = msg;
	return (HTTP_PARSE_ERROR);
}

static int
http_body_append(struct http_request *r, size_t p, struct buf *body,
    const char *data, size_t n)
{
	if (buf_append(body, data, n) == -1) {
		if (errno == EMSGSIZE)
			return (http_body_fail(r, p, 413, "body too large"));
		return (http_body_fail(r, p, 500, "out of memory"));
	}
	r->body_len += n;
	return (0);
}

/*
 * Chunked body (RFC 9112 7.1).  Unlike the head, every line here must end
 * in CRLF: RFC 9112 2.2 allows a bare LF only for the start-line and
 * fields, and disagreement over chunk line endings between a proxy and
 * us is a known request-smuggling vector.
 */
static int
http_parse_chunked(struct http_request *r, const char *buf, size_t len,
    struct buf *body)
{
	size_t		p = r->pos, n;
	unsigned char	ch;
	int		state = r->bstate, d;

	while (p < len) {
		ch = (unsigned char)buf[p];

		if (state <= bs_ext && ch != CR &&
		    p - r->line_start >= HTTP_MAX_CHUNK_LINE)
			return (http_body_fail(r, p, 400,
			    "chunk line too long"));
		if (state >= bs_trailer_start && state <= bs_last_lf) {
			if (r->trailer_bytes >= HTTP_MAX_TRAILER_BYTES)
				return (http_body_fail(r, p, 431,
				    "trailer section too large"));
			r->trailer_bytes++;
		}

		switch (state) {
		case bs_size_start:
			if ((d = hex_value(ch)) == -1)
				return (http_body_fail(r, p, 400,
				    "invalid chunk size"));
			r->chunk_left = d;
			state = bs_size;
			break;

		case bs_size:
			if ((d = hex_value(ch)) != -1) {
				if (r->chunk_left > (UINT64_MAX - d) / 16)
					return (http_body_fail(r, p, 400,
					    "invalid chunk size"));
				r->chunk_left = r->chunk_left * 16 + d;
				break;
			}
			if (ch == ';')
				state = bs_ext;
			else if (IS_WS(ch))
				state = bs_size_ws;
			else if (ch == CR)
				state = bs_size_lf;
			else
				return (http_body_fail(r, p, 400,
				    "invalid chunk size"));
			break;

		case bs_size_ws:
			if (IS_WS(ch))
				break;
			if (ch != ';')
				return (http_body_fail(r, p, 400,
				    "invalid chunk extension"));
			state = bs_ext;
			break;

		case bs_ext:
			/* Extensions are ignored, but must not hide a bare
			 * LF or other control bytes. */
			if (ch == CR)
				state = bs_size_lf;
			else if (!IS_VCHAR(ch) && !IS_WS(ch))
				return (http_body_fail(r, p, 400,
				    "invalid chunk extension"));
			break;

		case bs_size_lf:
			if (ch != LF)
				return (http_body_fail(r, p, 400,
				    "invalid chunk size"));
			if (r->chunk_left == 0) {
				r->trailer_bytes = 0;
				state = bs_trailer_start;
				break;
			}
			/* Refuse now rather than after reading it. */
			if (r->chunk_left > HTTP_MAX_BODY - r->body_len)
				return (http_body_fail(r, p, 413,
				    "body too large"));
			state = bs_data;
			break;

		case bs_data:
			n = len - p;
			if (n > r->chunk_left)
				n = r->chunk_left;
			if (http_body_append(r, p, body, buf + p, n) == -1)
				return (HTTP_PARSE_ERROR);
			r->chunk_left -= n;
			p += n;
			if (r->chunk_left == 0)
				state = bs_data_cr;
			continue;

		case bs_data_cr:
		case bs_data_lf:
			if (ch != (state == bs_data_cr ? CR : LF))
				return (http_body_fail(r, p, 400,
				    "missing CRLF after chunk data"));
			if (state == bs_data_lf)
				r->line_start = p + 1;
			state = state == bs_data_cr ? bs_data_lf :
			    bs_size_start;
			break;

		case bs_trailer_start:
			if (ch == CR) {
				state = bs_last_lf;
				break;
			}
			if (IS_WS(ch))
				return (http_body_fail(r, p, 400,
				    "obsolete line folding"));
			if (!IS_TCHAR(ch))
				return (http_body_fail(r, p, 400,
				    "invalid trailer field"));
			state = bs_trailer_name;
			break;

		case bs_trailer_name:
			if (IS_TCHAR(ch))
				break;
			if (ch != ':')
				return (http_body_fail(r, p, 400,
				    "invalid trailer field"));
			state = bs_trailer_value;
			break;

		case bs_trailer_value:
			if (ch == CR)
				state = bs_trailer_lf;
			else if (!IS_VCHAR(ch) && !IS_WS(ch))
				return (http_body_fail(r, p, 400,
				    "invalid trailer field"));
			break;

		case bs_trailer_lf:
		case bs_last_lf:
			if (ch != LF)
				return (http_body_fail(r, p, 400,
				    "invalid line ending"));
			if (state == bs_last_lf) {
				r->bstate = bs_done;
				r->pos = p + 1;
				return (HTTP_PARSE_DONE);
			}
			state = bs_trailer_start;
			break;

		default:
			return (http_body_fail(r, p, 500,
			    "internal parser error"));
		}
		p++;
	}

	r->bstate = state;
	r->pos = p;
	return (HTTP_PARSE_AGAIN);
}

/*
 * Read the body after a DONE head; buf is the same request-origin buffer
 * (the body starts at r->head_len).  Decoded bytes are appended to body,
 * whose own max should be at least HTTP_MAX_BODY.  After DONE, r->pos is
 * the end of the request.
 */
int
http_parse_body(struct http_request *r, const char *buf, size_t len,
    struct buf *body)
{
	size_t	n;

	if (r->bstate == bs_done)
		return (HTTP_PARSE_DONE);
	if (r->bstate == bs_error)
		return (HTTP_PARSE_ERROR);
	if (r->state != sw_head_done)
		return (http_body_fail(r, r->pos, 500, "head not parsed"));

	if (r->chunked)
		return (http_parse_chunked(r, buf, len, body));

	if (r->content_length > 0 && len > r->pos) {
		n = len - r->pos;
		if (n > (uint64_t)r->content_length - r->body_len)
			n = (uint64_t)r->content_length - r->body_len;
		if (http_body_append(r, r->pos, body, buf + r->pos, n) == -1)
			return (HTTP_PARSE_ERROR);
		r->pos += n;
	}
	if (r->content_length <= 0 ||
	    r->body_len == (uint64_t)r->content_length) {
		r->bstate = bs_done;
		return (HTTP_PARSE_DONE);
	}
	return (HTTP_PARSE_AGAIN);
}

const struct http_span *
http_header_find(const struct http_request *r, const char *buf,
    const char *name)
{
	size_t	i;

	for (i = 0; i < r->nheaders; i++)
		if (http_span_eq(buf, &r->headers[i].name, name))
			return (&r->headers[i].value);
	return (NULL);
}

size_t
http_header_count(const struct http_request *r, const char *buf,
    const char *name)
{
	size_t	i, n = 0;

	for (i = 0; i < r->nheaders; i++)
		if (http_span_eq(buf, &r->headers[i].name, name))
			n++;
	return (n);
}

static const char *const http_method_names[] = {
	[HTTP_M_GET] = "GET",
	[HTTP_M_HEAD] = "HEAD",
	[HTTP_M_POST] = "POST",
	[HTTP_M_PUT] = "PUT",
	[HTTP_M_PATCH] = "PATCH",
	[HTTP_M_DELETE] = "DELETE",
	[HTTP_M_OPTIONS] = "OPTIONS",
	[HTTP_M_TRACE] = "TRACE",
	[HTTP_M_CONNECT] = "CONNECT"
};

/* Methods are case-sensitive (RFC 9110 9.1): "get" is unknown. */
enum http_method
http_method_parse(const char *s, size_t len)
{
	size_t	i;

	for (i = HTTP_M_GET; i <= HTTP_M_CONNECT; i++)
		if (strlen(http_method_names[i]) == len &&
		    memcmp(http_method_names[i], s, len) == 0)
			return ((enum http_method)i);
	return (HTTP_M_UNKNOWN);
}

/* NULL for HTTP_M_UNKNOWN: log r->method_tok instead. */
const char *
http_method_name(enum http_method m)
{
	if (m < HTTP_M_GET || m > HTTP_M_CONNECT)
		return (NULL);
	return (http_method_names[m]);
}

/* Never NULL: an unknown status gets "Unknown". */
const char *
http_status_reason(int status)
{
	switch (status) {
	case 100:	return ("Continue");
	case 101:	return ("Switching Protocols");
	case 200:	return ("OK");
	case 201:	return ("Created");
	case 202:	return ("Accepted");
	case 203:	return ("Non-Authoritative Information");
	case 204:	return ("No Content");
	case 205:	return ("Reset Content");
	case 206:	return ("Partial Content");
	case 300:	return ("Multiple Choices");
	case 301:	return ("Moved Permanently");
	case 302:	return ("Found");
	case 303:	return ("See Other");
	case 304:	return ("Not Modified");
	case 307:	return ("Temporary Redirect");
	case 308:	return ("Permanent Redirect");
	case 400:	return ("Bad Request");
	case 401:	return ("Unauthorized");
	case 402:	return ("Payment Required");
	case 403:	return ("Forbidden");
	case 404:	return ("Not Found");
	case 405:	return ("Method Not Allowed");
	case 406:	return ("Not Acceptable");
	case 407:	return ("Proxy Authentication Required");
	case 408:	return ("Request Timeout");
	case 409:	return ("Conflict");
	case 410:	return ("Gone");
	case 411:	return ("Length Required");
	case 412:	return ("Precondition Failed");
	case 413:	return ("Content Too Large");
	case 414:	return ("URI Too Long");
	case 415:	return ("Unsupported Media Type");
	case 416:	return ("Range Not Satisfiable");
	case 417:	return ("Expectation Failed");
	case 421:	return ("Misdirected Request");
	case 422:	return ("Unprocessable Content");
	case 425:	return ("Too Early");
	case 426:	return ("Upgrade Required");
	case 428:	return ("Precondition Required");
	case 429:	return ("Too Many Requests");
	case 431:	return ("Request Header Fields Too Large");
	case 500:	return ("Internal Server Error");
	case 501:	return ("Not Implemented");
	case 502:	return ("Bad Gateway");
	case 503:	return ("Service Unavailable");
	case 504:	return ("Gateway Timeout");
	case 505:	return ("HTTP Version Not Supported");
	default:	return ("Unknown");
	}
}

static const char *const http_wday[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const http_wday_long[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};
static const char *const http_month[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"
};

/*
 * Format t as IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT".  Hand-made
 * rather than strftime so the locale can never leak into a header.
 * Returns the length (29), or 0 if out is short or t has no 4-digit year.
 */
size_t
http_date_format(time_t t, char *out, size_t outlen)
{
	struct tm	tm;
	int		n;

	if (outlen < 30 || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		if (outlen > 0)
			out[0] = '\0';
		return (0);
	}
	n = snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    http_wday[tm.tm_wday], tm.tm_mday, http_month[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return (n == 29 ? 29 : 0);
}

/* n decimal digits at s, or -1. */
static int
http_digits(const char *s, int n)
{
	int	v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return (-1);
		v = v * 10 + (*s++ - '0');
	}
	return (v);
}

static int
http_month_parse(const char *s)
{
	int	i;

	for (i = 0; i < 12; i++)
		if (memcmp(s, http_month[i], 3) == 0)
			return (i);
	return (-1);
}

static int
http_wday_parse(const char *s, size_t len, const char *const *names)
{
	int	i;

	for (i = 0; i < 7; i++)
		if (strlen(names[i]) == len && memcmp(s, names[i], len) == 0)
			return (i);
	return (-1);
}

/* "HH:MM:SS" into tm. */
static int
http_time_parse(const char *s, struct tm *tm)
{
	if (s[2] != ':' || s[5] != ':')
		return (-1);
	tm->tm_hour = http_digits(s, 2);
	tm->tm_min = http_digits(s + 3, 2);
	tm->tm_sec = http_digits(s + 6, 2);
	/* 60 is a leap second (RFC 9110 5.6.7). */
	if (tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 ||
	    tm->tm_min > 59 || tm->tm_sec < 0 || tm->tm_sec > 60)
		return (-1);
	return (0);
}

static int
http_mday_ok(const struct tm *tm)
{
	static const int	mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	y = tm->tm_year + 1900, max;

	max = mdays[tm->tm_mon];
	if (tm->tm_mon == 1 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		max = 29;
	return (tm->tm_mday >= 1 && tm->tm_mday <= max);
}

/*
 * The three HTTP-date forms (RFC 9110 5.6.7); the weekday must be a
 * valid name but is not checked against the date.
 */
int
http_date_parse(const char *s, size_t len, time_t *out)
{
	struct tm	 tm, now;
	const char	*c;
	time_t		 t;
	int		 yy;

	memset(&tm, 0, sizeof(tm));
	if (len == 29 && s[3] == ',') {
		/* Sun, 06 Nov 1994 08:49:37 GMT */
		if (http_wday_parse(s, 3, http_wday) == -1 || s[4] != ' ' ||
		    s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
		    s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
			return (-1);
		tm.tm_mday = http_digits(s + 5, 2);
		tm.tm_mon = http_month_parse(s + 8);
		tm.tm_year = http_digits(s + 12, 4);
		if (tm.tm_year == -1 || http_time_parse(s + 17, &tm) == -1)
			return (-1);
		tm.tm_year -= 1900;
	} else if (len == 24 && s[3] == ' ') {
		/* Sun Nov  6 08:49:37 1994 */
		if (http_wday_parse(s, 3, http_wday) == -1 || s[7] != ' ' ||
		    s[10] != ' ' || s[19] != ' ')
			return (-1);
		tm.tm_mon = http_month_parse(s + 4);
		tm.tm_mday = s[8] == ' ' ? http_digits(s + 9, 1) :
		    http_digits(s + 8, 2);
		tm.tm_year = http_digits(s + 20, 4);
		if (tm.tm_year == -1 || http_time_parse(s + 11, &tm) == -1)
			return (-1);
		tm.tm_year -= 1900;
	} else if ((c = memchr(s, ',', len)) != NULL &&
	    len - (size_t)(c - s) == 24) {
		/* Sunday, 06-Nov-94 08:49:37 GMT */
		if (http_wday_parse(s, c - s, http_wday_long) == -1 ||
		    c[1] != ' ' || c[4] != '-' || c[8] != '-' ||
		    c[11] != ' ' || c[20] != ' ' ||
		    memcmp(c + 21, "GMT", 3) != 0)
			return (-1);
		tm.tm_mday = http_digits(c + 2, 2);
		tm.tm_mon = http_month_parse(c + 5);
		if ((yy = http_digits(c + 9, 2)) == -1 ||
		    http_time_parse(c + 12, &tm) == -1)
			return (-1);
		/*
		 * RFC 9110 5.6.7: a two-digit year more than 50 years in
		 * the future is the most recent past year with those
		 * digits.
		 */
		t = time(NULL);
		if (gmtime_r(&t, &now) == NULL)
			return (-1);
		tm.tm_year = (now.tm_year + 1900) / 100 * 100 + yy;
		if (tm.tm_year > now.tm_year + 1900 + 50)
			tm.tm_year -= 100;
		tm.tm_year -= 1900;
	} else
		return (-1);

	if (tm.tm_mon == -1 || tm.tm_mday == -1 || !http_mday_ok(&tm))
		return (-1);
	*out = timegm(&tm);
	return (0);
}

/*
 * One entity-tag at s[*i] (RFC 9110 8.8.3): [ "W/" ] DQUOTE *etagc DQUOTE
 * with etagc = %x21 / %x23-7E / obs-text.  Sets *weak, and *op and *oplen
 * to the opaque-tag (quotes included).  -1 if malformed.
 */
static int
http_etag_one(const char *s, size_t len, size_t *i, int *weak,
    const char **op, size_t *oplen)
{
	size_t		 j = *i;
	unsigned char	 c;

	*weak = 0;
	if (len - j >= 2 && s[j] == 'W' && s[j + 1] == '/') {
		*weak = 1;
		j += 2;
	}
	if (j == len || s[j] != '"')
		return (-1);
	*op = s + j;
	for (j++; j < len; j++) {
		c = (unsigned char)s[j];
		if (c == '"')
			break;
		if (c < 0x21 || c == 0x7f)
			return (-1);
	}
	if (j == len)
		return (-1);
	j++;
	*oplen = (size_t)(s + j - *op);
	*i = j;
	return (0);
}

int
http_etag_match(const char *field, size_t len, const char *etag, int weak)
{
	const char	*eop, *op;
	size_t		 elen, oplen, i = 0, n = 0;
	int		 eweak, w, match = 0;

	if (etag == NULL || http_etag_one(etag, strlen(etag), &i, &eweak,
	    &eop, &elen) == -1 || i != strlen(etag))
		return (-1);

	/* OWS around the whole field, then "*" alone or a list. */
	while (len > 0 && IS_WS(field[len - 1]))
		len--;
	i = 0;
	while (i < len && IS_WS(field[i]))
		i++;
	if (len - i == 1 && field[i] == '*')
		return (1);

	/*
	 * Walk the whole list before answering so that a malformed list
	 * is reported as such even when an early element matches.  Empty
	 * elements are allowed (RFC 9110 5.6.1.2), an empty list is not.
	 */
	while (i < len) {
		if (field[i] == ',' || IS_WS(field[i])) {
			i++;
			continue;
		}
		if (http_etag_one(field, len, &i, &w, &op, &oplen) == -1)
			return (-1);
		n++;
		/* Strong comparison: neither tag weak (RFC 9110 8.8.3.2). */
		if (oplen == elen && memcmp(op, eop, oplen) == 0 &&
		    (weak || (!w && !eweak)))
			match = 1;
		while (i < len && IS_WS(field[i]))
			i++;
		if (i < len && field[i] != ',')
			return (-1);
	}
	if (n == 0)
		return (-1);
	return (match);
}

/*
 * Decode s[0..len) into out.  plus: '+' means space (query strings).
 * %00 is refused: a NUL would silently truncate the C string.
 * Returns the decoded length or -1; out is always NUL-terminated when
 * outlen > 0 (empty on failure).
 */
static int
http_decode(const char *s, size_t len, char *out, size_t outlen, int plus)
{
	size_t	i, o = 0;
	int	hi, lo, c;

	if (outlen == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (len - i < 3 ||
			    (hi = hex_value((unsigned char)s[i + 1])) == -1 ||
			    (lo = hex_value((unsigned char)s[i + 2])) == -1 ||
			    (c = hi * 16 + lo) == 0)
				goto fail;
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (o + 1 >= outlen || o >= INT32_MAX)
			goto fail;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return ((int)o);
 fail:
	out[0] = '\0';
	return (-1);
}

int
http_pct_decode(const char *s, size_t len, char *out, size_t outlen)
{
	return (http_decode(s, len, out, outlen, 0));
}

/* Does the encoded key k[0..klen) decode to exactly name? */
static int
http_query_key_eq(const char *k, size_t klen, const char *name)
{
	size_t	i;
	int	hi, lo, c;

	for (i = 0; i < klen; i++) {
		c = (unsigned char)k[i];
		if (c == '%') {
			if (klen - i < 3 ||
			    (hi = hex_value((unsigned char)k[i + 1])) == -1 ||
			    (lo = hex_value((unsigned char)k[i + 2])) == -1)
				return (0);
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (*name == '\0' || (unsigned char)*name++ != c)
			return (0);
	}
	return (*name == '\0');
}

/*
 * Step through a query string: the next non-empty pair from *pos (which
 * it advances), its raw key in *key (*klen bytes) and raw value in *val
 * (*vlen bytes; NULL when the pair has no '=').  0 once none is left.
 */
int
http_query_next(const char *query, size_t len, size_t *pos, const char **key,
    size_t *klen, const char **val, size_t *vlen)
{
	const char	*pair, *end, *eq;
	size_t		 plen;

	while (*pos < len) {
		pair = query + *pos;
		end = memchr(pair, '&', len - *pos);
		plen = end != NULL ? (size_t)(end - pair) : len - *pos;
		*pos += plen + 1;
		if (plen == 0)
			continue;
		eq = memchr(pair, '=', plen);
		*key = pair;
		*klen = eq != NULL ? (size_t)(eq - pair) : plen;
		*val = eq != NULL ? eq + 1 : NULL;
		*vlen = eq != NULL ? plen - *klen - 1 : 0;
		return (1);
	}
	return (0);
}

int
http_query_get(const char *query, size_t len, const char *name, char *out,
    size_t outlen)
{
	const char	*key, *val;
	size_t		 i = 0, klen, vlen;
	int		 n;

	while (http_query_next(query, len, &i, &key, &klen, &val, &vlen)) {
		if (!http_query_key_eq(key, klen, name))
			continue;
		/* A key without '=' has the empty value. */
		if (val == NULL) {
			if (outlen == 0)
				return (-2);
			out[0] = '\0';
			return (0);
		}
		n = http_decode(val, vlen, out, outlen, 1);
		return (n == -1 ? -2 : n);
	}
	return (-1);
}

/*
 * A Host value we are willing to print into the URLs of our answers
 * (conn.c refuses the request otherwise): 1 to 255 characters of
 * letters, digits and . - : [ ] _.
 */
int
http_host_valid(const char *h, size_t len)
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

/*
 * A strict authority, host[:port], as RFC 3986 spells it: a reg-name of
 * dot-separated labels of letters, digits, '-' and '_', or an IPv6
 * literal in brackets (hex digits, ':' and '.'), then optionally ':' and
 * a port of 1..65535.  For values a proxy forwards and --public-url:
 * what passes is safe to print into a URL and a header.
 */
int
http_authority_valid(const char *h, size_t len)
{
	size_t		i = 0, label = 0, port;
	unsigned long	n;

	if (len == 0 || len > 255)
		return (0);
	if (h[0] == '[') {
		for (i = 1; i < len && h[i] != ']'; i++)
			if (!(isxdigit((unsigned char)h[i]) || h[i] == ':' ||
			    h[i] == '.'))
				return (0);
		if (i == len || i < 3)
			return (0);
		i++;
	} else {
		for (; i < len && h[i] != ':'; i++) {
			if (h[i] == '.') {
				if (label == 0)
					return (0);
				label = 0;
			} else if (isalnum((unsigned char)h[i]) ||
			    h[i] == '-' || h[i] == '_')
				label++;
			else
				return (0);
		}
		if (i == 0)
			return (0);
	}
	if (i == len)
		return (1);
	if (h[i] != ':' || ++i == len || len - i > 5)
		return (0);
	for (n = 0, port = i; i < len; i++) {
		if (!isdigit((unsigned char)h[i]))
			return (0);
		n = n * 10 + (unsigned long)(h[i] - '0');
	}
	return (h[port] != '0' && n >= 1 && n <= 65535);
}
