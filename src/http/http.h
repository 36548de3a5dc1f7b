/*
 * http: a resumable HTTP/1.x request parser (RFC 9112) and the small pure
 * helpers around it (dates, entity tags, query strings).
 *
 * No I/O and no allocation except the decoded body, which is appended to a
 * caller-owned struct buf.  The caller keeps all bytes of the current request
 * contiguous, starting at the same address-independent origin ("buf" below
 * is the first byte of the request), and calls again with a longer len when
 * more bytes arrive.  The parser remembers how far it got in r->pos, so each
 * byte is examined once; feeding one byte at a time or everything at once
 * gives the same result.
 *
 * Every outcome is one of:
 *   HTTP_PARSE_DONE	the part is complete; r->pos is just past it
 *   HTTP_PARSE_AGAIN	need more bytes
 *   HTTP_PARSE_ERROR	r->status (4xx/5xx) and r->errmsg say why; the
 *			connection must be answered and then closed
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define HTTP_MAX_REQLINE	8192		/* -> 414 */
#define HTTP_MAX_HEADER_BYTES	16384		/* -> 431 */
#define HTTP_MAX_HEADERS	100		/* -> 431 */
#define HTTP_MAX_BODY		(1024 * 1024)	/* -> 413 */
#define HTTP_MAX_CHUNK_LINE	1024		/* chunk-size line -> 400 */
#define HTTP_MAX_TRAILER_BYTES	4096		/* -> 431 */
#define HTTP_MAX_LEADING_CRLF	32		/* empty-line bytes -> 400 */

enum http_parse_rv {
	HTTP_PARSE_ERROR = -1,
	HTTP_PARSE_DONE = 0,
	HTTP_PARSE_AGAIN = 1
};

enum http_method {
	HTTP_M_UNKNOWN = 0,
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_PATCH,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_TRACE,
	HTTP_M_CONNECT
};

/* A region of the request bytes: offset from the request's first byte. */
struct http_span {
	uint32_t	off;
	uint32_t	len;
};

struct http_header {
	struct http_span	name;
	struct http_span	value;	/* OWS trimmed on both sides */
};

struct http_request {
	/* parser state: private */
	int		state;
	int		bstate;
	size_t		pos;		/* bytes consumed from buf */
	size_t		line_start;
	uint64_t	chunk_left;
	size_t		trailer_bytes;
	size_t		hdr_start;	/* offset of the first field line */

	/* request line */
	enum http_method method;
	struct http_span method_tok;
	struct http_span target;	/* as sent */
	struct http_span path;		/* target up to '?' */
	struct http_span query;		/* after '?', len 0 if none */
	int		version_minor;	/* HTTP/1.<minor>: 0 or 1 */

	/* header fields, in order */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t		nheaders;
	size_t		head_len;	/* bytes of request line + fields + CRLF */

	/* interpreted fields (set when the head is DONE) */
	int		keepalive;	/* 1: connection may persist */
	int		chunked;	/* Transfer-Encoding: chunked */
	int		expect_continue;/* Expect: 100-continue */
	int64_t		content_length;	/* -1 when absent */
	struct http_span host;		/* len 0 when absent (1.0 only) */
	struct http_span lsn;		/* X-Starterd-LSN (starterd's) */
	int		lsn_given;	/* it was there (maybe empty) */
	struct http_span cookie;	/* the first Cookie, len 0: none */

	/* body progress */
	size_t		body_len;	/* decoded body bytes so far */

	/* error */
	int		status;		/* HTTP status to answer with */
	const char	*errmsg;	/* static string, for the JSON body */
};

/*
 * After http_parse_head DONE: head_len == pos, counted from buf[0] (any
 * ignored leading empty lines included); path starts with '/' or is "*"
 * (OPTIONS only); in absolute-form host is the target's authority, else
 * the Host field.  Always call http_parse_body next, even without a body
 * (it then returns DONE at once); after its DONE, pos is the end of the
 * request and buf + pos is the next pipelined request.  After ERROR, pos
 * is where the error was found; answer, then close.  Chunked
 * framing requires CRLF; a bare LF is accepted only in the head.
 */
void	 http_request_init(struct http_request *);
int	 http_parse_head(struct http_request *, const char *buf, size_t len);
int	 http_parse_body(struct http_request *, const char *buf, size_t len,
	    struct buf *body);

/* A Host value fit to print into our links (http.c). */
int	 http_host_valid(const char *, size_t);
/* host[:port], strictly (http.c): a forwarded host, --public-url's. */
int	 http_authority_valid(const char *, size_t);

/*
 * Field lookup by case-insensitive name; returns the first match's value
 * span or NULL.  http_header_count tells how many fields have that name.
 */
const struct http_span *http_header_find(const struct http_request *,
	    const char *buf, const char *name);
size_t	 http_header_count(const struct http_request *, const char *buf,
	    const char *name);

enum http_method http_method_parse(const char *, size_t);
const char	*http_method_name(enum http_method);
const char	*http_status_reason(int status);	/* "Not Found" */

/* IMF-fixdate (RFC 9110 5.6.7): out must hold 30 bytes. */
size_t	 http_date_format(time_t, char *out, size_t outlen);
/* Accepts IMF-fixdate, RFC 850 and asctime forms; -1 if none matches. */
int	 http_date_parse(const char *, size_t, time_t *);

/*
 * Entity-tag list matching for If-Match / If-None-Match (RFC 9110 13.1).
 * etag is the full quoted tag, e.g. "\"abc\"".  weak=1 uses the weak
 * comparison (If-None-Match), weak=0 the strong one (If-Match).
 * Returns 1 on a match (including "*"), 0 on no match, -1 if the field
 * is not a syntactically valid list.
 */
int	 http_etag_match(const char *field, size_t len, const char *etag,
	    int weak);

/* Query string: the next pair, raw (http.c says how). */
int	 http_query_next(const char *, size_t, size_t *, const char **,
	    size_t *, const char **, size_t *);
/*
 * Query string: find parameter name (exact, after percent-decoding of the
 * key) and percent-decode its value ('+' is a space) into out.
 * Returns the decoded length, -1 when absent, -2 when it does not fit or
 * is badly encoded.  The first occurrence wins.
 */
int	 http_query_get(const char *query, size_t len, const char *name,
	    char *out, size_t outlen);
/* Percent-decode a path segment; '+' stays '+'.  -1 on bad encoding or
 * when it does not fit (out gets a NUL-terminated string). */
int	 http_pct_decode(const char *, size_t, char *out, size_t outlen);

#endif /* HTTP_H */
