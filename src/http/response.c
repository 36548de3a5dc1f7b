/*
 * response.c: writing responses.  Every response gets Date, Server,
 * Content-Type and Content-Length (none on 204; no Content-Length on 304,
 * where RFC 9110 forbids or makes them describe something else), the
 * request id, traceparent, Server-Timing and CORS headers, the extra
 * headers the handler collected in c->hdrs, and a body unless the
 * request was HEAD.
 *
 * Bodies are JSON written the way the original's Flask jsonify writes it:
 * sorted keys, compact separators, non-ASCII escaped, trailing newline.
 * Byte-identical output keeps ETags (md5 of the body) equal to the
 * original stack's and equal across instances.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <bsd/string.h>

#include <openssl/evp.h>

#include "starterd.h"

static char	 date_str[40];
static time_t	 date_t;

void
response_date_update(void)
{
	time_t	now = time(NULL);

	if (now == date_t)
		return;
	date_t = now;
	http_date_format(now, date_str, sizeof(date_str));
}

const char *
response_date(void)
{
	if (date_t == 0)
		response_date_update();
	return (date_str);
}

/* Append an extra header line ("Name: value", no CRLF) for this request. */
void
response_header(struct client *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (buf_vappendf(&c->hdrs, fmt, ap) == 0)
		(void)buf_append(&c->hdrs, "\r\n", 2);
	va_end(ap);
}

/*
 * Append "Name: value" and CRLF for this request: response_header without
 * printf, for the headers of every cached answer.
 */
void
response_header_str(struct client *c, const char *name, const char *value)
{
	if (buf_appendstr(&c->hdrs, name) == 0 &&
	    buf_append(&c->hdrs, ": ", 2) == 0 &&
	    buf_appendstr(&c->hdrs, value) == 0)
		(void)buf_append(&c->hdrs, "\r\n", 2);
}

/* Append " name;dur=MS" (microseconds printed as milliseconds). */
static int
response_timing_dur(struct buf *o, const char *sep, const char *name,
    int64_t us)
{
	char	 frac[4];
	int	 rv = 0;

	if (us < 0)
		us = 0;
	frac[0] = '.';
	frac[1] = (char)('0' + us / 100 % 10);
	frac[2] = (char)('0' + us / 10 % 10);
	frac[3] = (char)('0' + us % 10);
	rv |= buf_appendstr(o, sep);
	rv |= buf_appendstr(o, name);
	rv |= buf_append(o, ";dur=", 5);
	rv |= buf_appendu(o, (unsigned long long)(us / 1000));
	rv |= buf_append(o, frac, sizeof(frac));
	return (rv);
}

/*
 * Server-Timing: the phases the request went through (auth, cache, db)
 * and the total so far; a few clock reads per request, no more.
 */
static int
response_timing(struct client *c, struct buf *o, int64_t now)
{
	int	rv = 0;

	rv |= buf_appendstr(o, "Server-Timing:");
	if (c->auth_us >= 0)
		rv |= response_timing_dur(o, " ", "auth", c->auth_us);
	if (c->cache_desc != NULL) {
		rv |= buf_appendstr(o, c->auth_us >= 0 ? ", cache;desc=\"" :
		    " cache;desc=\"");
		rv |= buf_appendstr(o, c->cache_desc);
		rv |= buf_append(o, "\"", 1);
	}
	if (c->t_db > 0)
		c->db_us = now - c->t_db;
	if (c->db_us >= 0)
		rv |= response_timing_dur(o, c->auth_us >= 0 ||
		    c->cache_desc != NULL ? ", " : " ", "db", c->db_us);
	rv |= response_timing_dur(o, c->auth_us >= 0 || c->cache_desc !=
	    NULL || c->db_us >= 0 ? ", " : " ", "total", now - c->t_start);
	rv |= buf_append(o, "\r\n", 2);
	return (rv);
}

/*
 * CORS headers of a response to an allowed Origin (response_cors_check).
 * With --cors-origin set, the others still get Vary: Origin, so that a
 * shared cache does not hand one origin's answer to another.
 */
static int
response_cors(struct client *c, struct buf *o)
{
	const struct http_span	*h;
	int			 rv = 0;

	if (c->cors == CORS_ANY)
		rv |= buf_appendstr(o, "Access-Control-Allow-Origin: *\r\n");
	else if (c->cors == CORS_ORIGIN && (h = http_header_find(&c->req,
	    BUF_PTR(&c->in), "Origin")) != NULL) {
		rv |= buf_appendstr(o, "Access-Control-Allow-Origin: ");
		rv |= buf_append(o, BUF_PTR(&c->in) + h->off, h->len);
		rv |= buf_append(o, "\r\n", 2);
	} else
		return (0);
	rv |= buf_appendstr(o, "Vary: Origin\r\nAccess-Control-Expose-Headers: "
	    "ETag, Location, Link, Retry-After, RateLimit-Policy, RateLimit, "
	    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
	    "X-Request-Id, traceparent, Server-Timing\r\n");
	return (rv);
}

void
response_send(struct client *c, int status, const char *ctype,
    const char *body, size_t len)
{
	struct buf	*o = &c->out;
	int		 nobody = status == 204 || status == 304;
	int		 rv = 0;

	/*
	 * 204 must not carry Content-Length (RFC 9110 8.6) and has no
	 * content to type; on 304 Content-Length may be sent, but clients
	 * built on the classic http_parser (wrk, older node) then wait for
	 * a body that never comes, so it is left out, as nginx does.
	 */
	/* Appended piece by piece: printf was a third of a cached hit. */
	rv |= buf_append(o, "HTTP/1.1 ", 9);
	rv |= buf_appendu(o, (unsigned)status);
	rv |= buf_append(o, " ", 1);
	rv |= buf_appendstr(o, http_status_reason(status));
	rv |= buf_appendstr(o, "\r\nServer: " STARTERD_NAME "\r\nDate: ");
	rv |= buf_appendstr(o, response_date());
	if (!nobody || status == 304) {
		rv |= buf_appendstr(o, "\r\nContent-Type: ");
		rv |= buf_appendstr(o, ctype);
	}
	if (!nobody) {
		rv |= buf_appendstr(o, "\r\nContent-Length: ");
		rv |= buf_appendu(o, len);
	}
	rv |= buf_append(o, "\r\n", 2);
	if (!c->keepalive)
		rv |= buf_appendstr(o, "Connection: close\r\n");
	else if (c->req.version_minor == 0)
		rv |= buf_appendstr(o, "Connection: keep-alive\r\n");
	if (c->reqid[0] != '\0') {
		rv |= buf_appendstr(o, "X-Request-Id: ");
		rv |= buf_appendstr(o, c->reqid);
		rv |= buf_append(o, "\r\n", 2);
	}
	if (c->traceparent[0] != '\0') {
		rv |= buf_appendstr(o, "traceparent: ");
		rv |= buf_appendstr(o, c->traceparent);
		rv |= buf_append(o, "\r\n", 2);
	}
	if (c->head_parsed && c->t_start != 0)
		rv |= response_timing(c, o, now_us());
	if (c->cors != CORS_NONE)
		rv |= response_cors(c, o);
	else if (c->head_parsed && conf->cors_origin[0] != '\0')
		rv |= buf_appendstr(o, "Vary: Origin\r\n");	/* for caches */
	if (BUF_LEN(&c->hdrs) > 0)
		rv |= buf_append(o, BUF_PTR(&c->hdrs), BUF_LEN(&c->hdrs));
	rv |= buf_append(o, "\r\n", 2);
	if (!nobody && !c->head_only && len > 0)
		rv |= buf_append(o, body, len);
	if (rv != 0) {
		log_warnx("%s: output buffer full", c->addr);
		c->keepalive = 0;
		c->eof = 1;
	}
	c->status = status;
	c->resp_bytes = nobody || c->head_only ? 0 : len;
	/* Queued: the loop finishes the request (conn.c), not us. */
	c->state = CLIENT_DONE;
}

void
response_json(struct client *c, int status, struct buf *b)
{
	response_send(c, status, "application/json", BUF_PTR(b), BUF_LEN(b));
}

/* 503 with Retry-After: the database cannot be reached. */
void
response_unavailable(struct client *c, int retry_after)
{
	response_header(c, "Retry-After: %d", retry_after);
	response_error(c, 503, "the database is unavailable");
}

/* The lower-case reason phrase, as the original's error bodies say it. */
static void
response_lower_reason(int status, char *out, size_t len)
{
	size_t	i;

	strlcpy(out, http_status_reason(status), len);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
}

/*
 * The q-value of the best Accept range matching type/subtype: exact
 * (prec 3) over type/ * (2) over * / * (1); -1 when none matches.  q is
 * read in thousandths; parameters other than q are ignored.
 */
static int
response_accept_q(const char *s, size_t len, const char *type, int exact)
{
	size_t		 i = 0, st, tl = strlen(type), sl;
	const char	*slash = strchr(type, '/');
	int		 best = -1, bestprec = 0, prec, q;

	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		st = i;
		while (i < len && s[i] != ';' && s[i] != ',' && s[i] != ' ' &&
		    s[i] != '\t')
			i++;
		sl = i - st;
		prec = 0;
		if (sl == tl && strncasecmp(s + st, type, tl) == 0)
			prec = 3;
		else if (!exact && sl == 3 && memcmp(s + st, "*/*", 3) == 0)
			prec = 1;
		else if (!exact && slash != NULL &&
		    sl == (size_t)(slash - type) + 2 &&
		    strncasecmp(s + st, type, sl - 1) == 0 &&
		    s[st + sl - 1] == '*')
			prec = 2;
		q = 1000;
		while (i < len && s[i] != ',') {
			if (s[i] == ';') {
				i++;
				while (i < len && (s[i] == ' ' || s[i] == '\t'))
					i++;
				if (i + 2 <= len && (s[i] == 'q' ||
				    s[i] == 'Q') && s[i + 1] == '=') {
					size_t	 d;
					int	 mul = 1000;

					i += 2;
					q = 0;
					if (i < len && s[i] == '1')
						q = 1000;
					if (i < len && (s[i] == '0' ||
					    s[i] == '1'))
						i++;
					if (i < len && s[i] == '.')
						for (i++, d = 0; i < len &&
						    d < 3 && s[i] >= '0' &&
						    s[i] <= '9'; i++, d++) {
							mul /= 10;
							if (q < 1000)
								q += (s[i] -
								    '0') * mul;
						}
					continue;
				}
				continue;
			}
			i++;
		}
		if (prec > bestprec) {
			bestprec = prec;
			best = q;
		}
	}
	return (best);
}

/* Does the client's Accept prefer application/problem+json (RFC 9457)? */
static int
response_wants_problem(struct client *c)
{
	const struct http_span	*h;
	const char		*v;
	int			 qp, qj;

	if (!c->head_parsed || (h = http_header_find(&c->req,
	    BUF_PTR(&c->in), "Accept")) == NULL)
		return (0);
	v = BUF_PTR(&c->in) + h->off;
	qp = response_accept_q(v, h->len, "application/problem+json", 1);
	qj = response_accept_q(v, h->len, "application/json", 0);
	return (qp > 0 && qp > qj);
}

/*
 * {"error":"<reason>","message":"...","status":N}\n, keys sorted like the
 * original's jsonify; or, when the client's Accept prefers it, the RFC
 * 9457 problem document {"type":"about:blank","title":"<Reason>",
 * "status":N,"detail":"..."} as application/problem+json.  401 adds the
 * challenge; a 5xx, 4xx framing error or an unread body closes the
 * connection (the caller sets keepalive).
 */
void
response_error(struct client *c, int status, const char *fmt, ...)
{
	struct buf	 b;
	char		 msg[512], reason[64];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_init(&b, 4096);
	if (status == 401)
		response_header(c, "WWW-Authenticate: Basic realm=\""
		    STARTERD_REALM "\"");
	if (response_wants_problem(c)) {
		strlcpy(reason, http_status_reason(status), sizeof(reason));
		buf_appendstr(&b, "{\"type\":\"about:blank\",\"title\":");
		json_string(&b, reason, strlen(reason));
		buf_appendf(&b, ",\"status\":%d,\"detail\":", status);
		json_string(&b, msg, strlen(msg));
		buf_appendstr(&b, "}\n");
		response_send(c, status, "application/problem+json",
		    BUF_PTR(&b), BUF_LEN(&b));
		buf_free(&b);
		return;
	}
	response_lower_reason(status, reason, sizeof(reason));
	buf_appendstr(&b, "{\"error\":");
	json_string(&b, reason, strlen(reason));
	buf_appendstr(&b, ",\"message\":");
	json_string(&b, msg, strlen(msg));
	buf_appendf(&b, ",\"status\":%d}\n", status);
	response_json(c, status, &b);
	buf_free(&b);
}

/*
 * CORS (--cors-origin): is the request's Origin allowed?  Sets c->cors;
 * the list is exact origins separated by commas (spaces ignored), or *.
 */
void
response_cors_check(struct client *c)
{
	const struct http_span	*h;
	const char		*o, *p = conf->cors_origin, *e;
	size_t			 n;

	c->cors = CORS_NONE;
	if (*p == '\0' || (h = http_header_find(&c->req, BUF_PTR(&c->in),
	    "Origin")) == NULL || h->len == 0)
		return;
	o = BUF_PTR(&c->in) + h->off;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		for (e = p; *e != '\0' && *e != ','; e++)
			;
		n = (size_t)(e - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 1 && *p == '*') {
			c->cors = CORS_ANY;
			return;
		}
		if (n > 0 && n == h->len && memcmp(p, o, n) == 0) {
			c->cors = CORS_ORIGIN;
			return;
		}
		p = e;
	}
}

/* A CORS preflight from an allowed Origin: 204, no credentials needed. */
void
response_preflight(struct client *c, const char *allow)
{
	response_header(c, "Access-Control-Allow-Methods: %s", allow);
	response_header(c, "Access-Control-Allow-Headers: Authorization, "
	    "Content-Type, If-Match, If-None-Match, X-Request-Id, "
	    "traceparent");
	response_header(c, "Access-Control-Max-Age: %d", CORS_MAX_AGE);
	response_send(c, 204, NULL, NULL, 0);
}

/* Decode one UTF-8 sequence; returns its length, 0 if invalid. */
static size_t
utf8_decode(const unsigned char *s, size_t len, unsigned int *cp)
{
	unsigned int	c = s[0], v;
	size_t		n, i;

	if (c < 0x80) {
		*cp = c;
		return (1);
	} else if ((c & 0xe0) == 0xc0) {
		n = 2;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		v = c & 0x07;
	} else
		return (0);
	if (n > len)
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) ||
	    (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return (0);
	*cp = v;
	return (n);
}

/*
 * Append s as a JSON string the way Python's json.dumps(ensure_ascii=True)
 * does: \" \\ \n \r \t \b \f, other controls, DEL and every non-ASCII
 * code point as \uXXXX (lower-case hex, surrogate pairs above U+FFFF).
 * Invalid UTF-8 becomes U+FFFD.
 */
int
json_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, start, n;
	unsigned int		 cp;
	int			 rv = 0;

	rv |= buf_append(b, "\"", 1);
	while (i < len) {
		start = i;
		while (i < len && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' &&
		    p[i] != '\\')
			i++;
		if (i > start)
			rv |= buf_append(b, s + start, i - start);
		if (i == len)
			break;
		switch (p[i]) {
		case '"':
			rv |= buf_append(b, "\\\"", 2);
			i++;
			continue;
		case '\\':
			rv |= buf_append(b, "\\\\", 2);
			i++;
			continue;
		case '\n':
			rv |= buf_append(b, "\\n", 2);
			i++;
			continue;
		case '\r':
			rv |= buf_append(b, "\\r", 2);
			i++;
			continue;
		case '\t':
			rv |= buf_append(b, "\\t", 2);
			i++;
			continue;
		case '\b':
			rv |= buf_append(b, "\\b", 2);
			i++;
			continue;
		case '\f':
			rv |= buf_append(b, "\\f", 2);
			i++;
			continue;
		}
		if ((n = utf8_decode(p + i, len - i, &cp)) == 0) {
			cp = 0xfffd;
			n = 1;
		}
		i += n;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			rv |= buf_appendf(b, "\\u%04x\\u%04x",
			    0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		} else
			rv |= buf_appendf(b, "\\u%04x", cp);
	}
	rv |= buf_append(b, "\"", 1);
	return (rv ? -1 : 0);
}

/* Strong ETag: the quoted hex md5 of the body, as the original. */
void
etag_compute(const char *body, size_t len, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	size_t			 j = 0;

	if (outlen < 35) {
		out[0] = '\0';
		return;
	}
	EVP_Digest(body, len, md, &mdlen, EVP_md5(), NULL);
	out[j++] = '"';
	for (i = 0; i < mdlen && j + 3 < outlen; i++) {
		out[j++] = hex[md[i] >> 4];
		out[j++] = hex[md[i] & 0xf];
	}
	out[j++] = '"';
	out[j] = '\0';
}
