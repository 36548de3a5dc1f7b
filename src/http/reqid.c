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
 *
 * A W3C traceparent (version-traceid-parentid-flags, lower-case hex, ids
 * not all zeros) is kept when it is well-formed, echoed in the response
 * and logged after the request id.  c->dbtag is what application_name
 * should carry after "req=": the id and, with a traceparent, its trace
 * id ("ID tp=TRACEID"; PostgreSQL keeps 63 bytes of the whole name).
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

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

static int
reqid_hex(const char *s, size_t len)
{
	size_t	i;
	int	nonzero = 0;

	for (i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return (-1);
		if (s[i] != '0')
			nonzero = 1;
	}
	return (nonzero);
}

/*
 * W3C Trace Context: 2 hex version (not ff), '-', 32 hex trace id, '-',
 * 16 hex parent id, '-', 2 hex flags; ids not all zeros.  A later
 * version may append "-..." fields: the first 55 bytes are kept.
 */
static int
reqid_traceparent_ok(const char *s, size_t len)
{
	if (len < TRACEPARENT_LEN || (len > TRACEPARENT_LEN &&
	    (memcmp(s, "00", 2) == 0 || s[TRACEPARENT_LEN] != '-')))
		return (0);
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return (0);
	if (reqid_hex(s, 2) < 0 || memcmp(s, "ff", 2) == 0 ||
	    reqid_hex(s + 53, 2) < 0 || reqid_hex(s + 3, 32) != 1 ||
	    reqid_hex(s + 36, 16) != 1)
		return (0);
	return (1);
}

static void
reqid_traceparent(struct client *c, int parsed)
{
	const struct http_span	*h = NULL;
	const char		*v;

	c->traceparent[0] = '\0';
	if (parsed && http_header_count(&c->req, BUF_PTR(&c->in),
	    "traceparent") == 1)
		h = http_header_find(&c->req, BUF_PTR(&c->in), "traceparent");
	if (h != NULL) {
		v = BUF_PTR(&c->in) + h->off;
		if (reqid_traceparent_ok(v, h->len)) {
			memcpy(c->traceparent, v, TRACEPARENT_LEN);
			c->traceparent[TRACEPARENT_LEN] = '\0';
		}
	}
	strlcpy(c->dbtag, c->reqid, sizeof(c->dbtag));
	if (c->traceparent[0] != '\0') {
		strlcat(c->dbtag, " tp=", sizeof(c->dbtag));
		if (strlen(c->dbtag) + 32 < sizeof(c->dbtag))
			strncat(c->dbtag, c->traceparent + 3, 32);
	}
}

/*
 * Random bytes for ids from a pool filled 32 ids at a time: each
 * arc4random_buf call checks getpid() for a fork, a system call per
 * request on the cached path otherwise.  Only workers assign ids, and
 * the master, which forks them, never does: a pool is always filled in
 * the process that drains it.
 */
static void
reqid_random(unsigned char *out, size_t len)
{
	static unsigned char	 pool[256];
	static size_t		 left;

	if (left < len) {
		arc4random_buf(pool, sizeof(pool));
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, len);
	left -= len;
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
		reqid_traceparent(c, parsed);
		return;
	}
	reqid_random(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		c->reqid[2 * i] = hex[rnd[i] >> 4];
		c->reqid[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	c->reqid[2 * sizeof(rnd)] = '\0';
	reqid_traceparent(c, parsed);
}
