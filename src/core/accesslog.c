/*
 * accesslog.c: the access log, one line per response, in the combined
 * log format plus the request time in microseconds and the request id.
 * Lines are gathered in a buffer and written once per turn of the loop
 * (or when the buffer passes 16 KiB).
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

void
accesslog_write(struct client *c)
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
	    (long long)(now_us() - c->t_start),
	    c->reqid[0] ? c->reqid : "-");
	if (BUF_LEN(&access_buf) > 16384)
		accesslog_flush();
}
