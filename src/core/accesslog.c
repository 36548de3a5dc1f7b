/*
 * accesslog.c: the access log, one line per response, in the combined
 * log format plus the request time in microseconds, the request id and
 * the traceparent ("-" when none); or, with --log-format json, one JSON
 * object per line with the same fields, strings JSON-escaped.
 * Lines are gathered in a buffer and written once per turn of the loop
 * (or when the buffer passes 16 KiB).
 *
 * What the client sent (request line, Referer, User-Agent, user name) is
 * escaped as nginx escapes it, so no field can forge another or a line.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "starterd.h"

static FILE		*access_fp;
static struct buf	 access_buf;
static int		 access_inited;

/* (Re)open the log named by the configuration (SIGUSR1 after a rotate). */
void
accesslog_open(void)
{
	if (!access_inited) {
		buf_init(&access_buf, 1 << 20);
		access_inited = 1;
	}
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

void
accesslog_flush(void)
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

#define ACCESSLOG_MAX_TARGET	1024	/* bytes of the request line */
#define ACCESSLOG_MAX_FIELD	256	/* bytes of Referer, User-Agent */

/*
 * Append s[0..len), at most max bytes of it, as nginx's log escaping
 * does: '"', '\', control characters and bytes >= 0x7f become \xHH.
 */
static void
accesslog_escape(const char *s, size_t len, size_t max)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, start;

	if (len > max)
		len = max;
	for (i = 0; i < len; ) {
		start = i;
		while (i < len && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' &&
		    p[i] != '\\')
			i++;
		if (i > start)
			(void)buf_append(&access_buf, s + start, i - start);
		if (i < len) {
			char e[4] = { '\\', 'x', hex[p[i] >> 4],
			    hex[p[i] & 0xf] };

			(void)buf_append(&access_buf, e, 4);
			i++;
		}
	}
}

/*
 * The request line: as parsed, or, when the parser did not get through
 * it (414, 400, 505, a timeout), the raw bytes up to the line's end;
 * "-" when there are none.
 */
static void
accesslog_reqline(struct client *c)
{
	const char	*buf = BUF_PTR(&c->in);
	size_t		 len = BUF_LEN(&c->in), i = 0, n;

	/* hdr_start is set once the request line is complete and sound. */
	if (c->req.hdr_start != 0) {
		accesslog_escape(buf + c->req.method_tok.off,
		    c->req.method_tok.len, ACCESSLOG_MAX_FIELD);
		(void)buf_append(&access_buf, " ", 1);
		accesslog_escape(buf + c->req.target.off, c->req.target.len,
		    ACCESSLOG_MAX_TARGET);
		(void)buf_appendf(&access_buf, " HTTP/1.%d",
		    c->req.version_minor);
		return;
	}
	while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
		i++;
	for (n = 0; n < ACCESSLOG_MAX_TARGET && i + n < len &&
	    buf[i + n] != '\r' && buf[i + n] != '\n'; n++)
		;
	if (n == 0)
		(void)buf_append(&access_buf, "-", 1);
	else
		accesslog_escape(buf + i, n, ACCESSLOG_MAX_TARGET);
}

/* A header's escaped value, or "-" when it is absent. */
static void
accesslog_header(struct client *c, const char *name)
{
	const struct http_span	*h;

	h = http_header_find(&c->req, BUF_PTR(&c->in), name);
	if (h == NULL)
		(void)buf_append(&access_buf, "-", 1);
	else
		accesslog_escape(BUF_PTR(&c->in) + h->off, h->len,
		    ACCESSLOG_MAX_FIELD);
}

/* A JSON string member ,"name":"..." (null when s is NULL). */
static void
accesslog_jstr(const char *name, const char *s, size_t len, size_t max)
{
	(void)buf_appendf(&access_buf, ",\"%s\":", name);
	if (s == NULL) {
		(void)buf_appendstr(&access_buf, "null");
		return;
	}
	(void)json_string(&access_buf, s, len > max ? max : len);
}

static void
accesslog_jheader(struct client *c, const char *member, const char *name)
{
	const struct http_span	*h;

	h = http_header_find(&c->req, BUF_PTR(&c->in), name);
	if (h == NULL)
		accesslog_jstr(member, NULL, 0, 0);
	else
		accesslog_jstr(member, BUF_PTR(&c->in) + h->off, h->len,
		    ACCESSLOG_MAX_FIELD);
}

/* --log-format json: one object per line. */
static void
accesslog_json(struct client *c, time_t now, int64_t dur)
{
	const char	*buf = BUF_PTR(&c->in);
	size_t		 len = BUF_LEN(&c->in), i = 0, n;
	char		 t[32], proto[16];
	struct tm	 tm;

	gmtime_r(&now, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	(void)buf_appendf(&access_buf, "{\"time\":\"%s\"", t);
	accesslog_jstr("remote_addr", c->addr, strlen(c->addr),
	    sizeof(c->addr));
	accesslog_jstr("user", c->username[0] ? c->username : NULL,
	    strlen(c->username), sizeof(c->username));
	if (c->req.hdr_start != 0) {
		accesslog_jstr("method", buf + c->req.method_tok.off,
		    c->req.method_tok.len, ACCESSLOG_MAX_FIELD);
		accesslog_jstr("target", buf + c->req.target.off,
		    c->req.target.len, ACCESSLOG_MAX_TARGET);
		snprintf(proto, sizeof(proto), "HTTP/1.%d",
		    c->req.version_minor);
		accesslog_jstr("protocol", proto, strlen(proto), sizeof(proto));
	} else {
		/* Not parsed: the raw line as the target, as combined does. */
		while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
			i++;
		for (n = 0; n < ACCESSLOG_MAX_TARGET && i + n < len &&
		    buf[i + n] != '\r' && buf[i + n] != '\n'; n++)
			;
		accesslog_jstr("method", NULL, 0, 0);
		accesslog_jstr("target", n > 0 ? buf + i : NULL, n,
		    ACCESSLOG_MAX_TARGET);
		accesslog_jstr("protocol", NULL, 0, 0);
	}
	(void)buf_appendf(&access_buf, ",\"status\":%d,\"bytes\":%zu",
	    c->status, c->resp_bytes);
	accesslog_jheader(c, "referer", "Referer");
	accesslog_jheader(c, "user_agent", "User-Agent");
	(void)buf_appendf(&access_buf, ",\"duration_us\":%lld",
	    (long long)dur);
	accesslog_jstr("request_id", c->reqid[0] ? c->reqid : NULL,
	    strlen(c->reqid), sizeof(c->reqid));
	accesslog_jstr("traceparent", c->traceparent[0] ? c->traceparent :
	    NULL, strlen(c->traceparent), sizeof(c->traceparent));
	(void)buf_append(&access_buf, "}\n", 2);
}

void
accesslog_write(struct client *c)
{
	static char	 tstr[40];
	static time_t	 tlast;
	struct tm	 tm;
	time_t		 now;

	if (access_fp == NULL)
		return;
	now = time(NULL);
	if (conf->log_format[0] == 'j') {
		accesslog_json(c, now, now_us() - c->t_start);
		if (BUF_LEN(&access_buf) > 16384)
			accesslog_flush();
		return;
	}
	if (now != tlast) {
		tlast = now;
		gmtime_r(&now, &tm);
		strftime(tstr, sizeof(tstr), "%d/%b/%Y:%H:%M:%S +0000", &tm);
	}
	(void)buf_appendf(&access_buf, "%s - ", c->addr);
	if (c->username[0] != '\0')
		accesslog_escape(c->username, strlen(c->username),
		    sizeof(c->username));
	else
		(void)buf_append(&access_buf, "-", 1);
	(void)buf_appendf(&access_buf, " [%s] \"", tstr);
	accesslog_reqline(c);
	(void)buf_appendf(&access_buf, "\" %d %zu \"", c->status,
	    c->resp_bytes);
	accesslog_header(c, "Referer");
	(void)buf_append(&access_buf, "\" \"", 3);
	accesslog_header(c, "User-Agent");
	(void)buf_appendf(&access_buf, "\" %lld %s %s\n",
	    (long long)(now_us() - c->t_start), c->reqid[0] ? c->reqid : "-",
	    c->traceparent[0] ? c->traceparent : "-");
	if (BUF_LEN(&access_buf) > 16384)
		accesslog_flush();
}
