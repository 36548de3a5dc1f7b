/*
 * reqid.c: request ids.
 *
 * Every request gets an id: the client's X-Request-Id when it is sane
 * (1 to REQID_MAX characters of [A-Za-z0-9._-]), else 16 random hex
 * digits.  The id is echoed in the response (X-Request-Id), ends the
 * access log line, and names the database session while the request's
 * statements run (application_name "starterd worker N req=ID", see
 * db_submit), so PostgreSQL's log (%a in log_line_prefix) and
 * pg_stat_activity show it too.
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "starterd.h"

static int
reqid_sane(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > REQID_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-'))
			return (0);
	}
	return (1);
}

/* parsed: the request head was parsed, so its headers may be read. */
void
reqid_assign(struct client *c, int parsed)
{
	static const char	 hex[] = "0123456789abcdef";
	const struct http_span	*h = NULL;
	unsigned char		 rnd[8];
	size_t			 i;

	if (c->reqid[0] != '\0')
		return;
	if (parsed)
		h = http_header_find(&c->req, BUF_PTR(&c->in), "X-Request-Id");
	if (h != NULL && reqid_sane(BUF_PTR(&c->in) + h->off, h->len)) {
		memcpy(c->reqid, BUF_PTR(&c->in) + h->off, h->len);
		c->reqid[h->len] = '\0';
		return;
	}
	arc4random_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		c->reqid[2 * i] = hex[rnd[i] >> 4];
		c->reqid[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	c->reqid[2 * sizeof(rnd)] = '\0';
}
