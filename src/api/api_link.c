/*
 * api_link.c: scheme://host[/prefix], what every absolute link of an
 * answer starts with (an item's "url", Location, the paging links and
 * Link header, the resource index, the OpenAPI document's server).
 *
 * In order: --public-url when set (behind a proxy that terminates TLS,
 * the one answer that is always right); else, when the peer is one of
 * --trusted-proxy, the proto= and host= of the RFC 7239 Forwarded field,
 * else X-Forwarded-Proto and X-Forwarded-Host; else http:// and the
 * request's Host.  Of a forwarded list the right-most value counts: the
 * one the trusted peer wrote (what lies to its left is what its own
 * client claimed).  A forwarded value that is not "http" or "https", or
 * not a strict host[:port] (http_authority_valid()), is ignored: the
 * next source is used, and nothing unchecked is ever printed.  Anybody
 * else's forwarding headers are ignored.
 *
 * The response cache keys every representation by this base
 * (api_resource.c, get_ctx_new()), so a body cached for one host is never
 * served to a client that reached another.
 */
#include <string.h>
#include <strings.h>

#include "starterd.h"

/* One forwarded value, within the request's buffer. */
struct link_val {
	const char	*p;
	size_t		 len;
};

/* Trim blanks around [*p, *e). */
static void
link_trim(const char **p, const char **e)
{
	while (*p < *e && (**p == ' ' || **p == '\t'))
		(*p)++;
	while (*e > *p && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static int
link_proto_ok(const char *p, size_t len)
{
	return ((len == 4 && strncasecmp(p, "http", 4) == 0) ||
	    (len == 5 && strncasecmp(p, "https", 5) == 0));
}

/*
 * The right-most element of the Forwarded field lines (RFC 7239 section
 * 4: elements separated by ',', pairs by ';', each token=value, the value
 * a token or a quoted-string): its proto and host, when they are valid.
 * A quoted-string with a backslash in it is not taken (no unescaping).
 */
static void
link_forwarded(struct client *c, struct link_val *proto,
    struct link_val *host)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_header *h = NULL;
	const char		*v, *end, *p, *q, *eq, *a;
	size_t			 i;
	int			 inq;

	for (i = c->req.nheaders; i-- > 0; ) {
		h = &c->req.headers[i];
		if (h->name.len == 9 && strncasecmp(buf + h->name.off,
		    "Forwarded", 9) == 0 && h->value.len > 0)
			break;
		h = NULL;
	}
	if (h == NULL)
		return;
	/* The last element: after the last ',' outside quotes. */
	v = buf + h->value.off;
	end = v + h->value.len;
	for (p = q = v, inq = 0; q < end; q++)
		if (*q == '"')
			inq = !inq;
		else if (*q == ',' && !inq)
			p = q + 1;
	if (inq)
		return;		/* an unclosed quote: nothing of it */
	for (; p < end; p = q < end ? q + 1 : end) {
		for (q = p, inq = 0; q < end && (inq || *q != ';'); q++)
			if (*q == '"')
				inq = !inq;
		v = p;
		a = q;
		link_trim(&v, &a);
		if ((eq = memchr(v, '=', (size_t)(a - v))) == NULL)
			continue;
		p = eq + 1;		/* the value: [p, a) */
		if (a - p >= 2 && *p == '"' && a[-1] == '"') {
			p++;
			a--;
			if (memchr(p, '\\', (size_t)(a - p)) != NULL)
				continue;
		}
		if (eq - v == 5 && strncasecmp(v, "proto", 5) == 0 &&
		    link_proto_ok(p, (size_t)(a - p))) {
			proto->p = p;
			proto->len = (size_t)(a - p);
		} else if (eq - v == 4 && strncasecmp(v, "host", 4) == 0 &&
		    http_authority_valid(p, (size_t)(a - p))) {
			host->p = p;
			host->len = (size_t)(a - p);
		}
	}
}

/* X-Forwarded-<name>'s right-most value, when ok() takes it. */
static void
link_xforwarded(struct client *c, const char *name,
    int (*ok)(const char *, size_t), struct link_val *out)
{
	const char		*buf = BUF_PTR(&c->in);
	const struct http_header *h;
	const char		*v, *e, *p;
	size_t			 i, nlen = strlen(name);

	for (i = c->req.nheaders; i-- > 0; ) {
		h = &c->req.headers[i];
		if (h->name.len != nlen ||
		    strncasecmp(buf + h->name.off, name, nlen) != 0)
			continue;
		v = buf + h->value.off;
		e = v + h->value.len;
		for (p = e; p > v && p[-1] != ','; p--)
			;
		link_trim(&p, &e);
		if (ok(p, (size_t)(e - p))) {
			out->p = p;
			out->len = (size_t)(e - p);
		}
		return;
	}
}

void
api_link_base(struct client *c, struct buf *b)
{
	struct link_val	 proto = { NULL, 0 }, host = { NULL, 0 };
	size_t		 i;

	if (conf->public_url[0] != '\0') {
		buf_appendstr(b, conf->public_url);
		return;
	}
	if (ratelimit_peer_trusted(c)) {
		link_forwarded(c, &proto, &host);
		if (proto.p == NULL)
			link_xforwarded(c, "X-Forwarded-Proto", link_proto_ok,
			    &proto);
		if (host.p == NULL)
			link_xforwarded(c, "X-Forwarded-Host",
			    http_authority_valid, &host);
	}
	if (proto.p != NULL && proto.len == 5)
		buf_appendstr(b, "https://");
	else
		buf_appendstr(b, "http://");
	if (host.p != NULL) {
		/* Hosts are case-insensitive: one spelling, one cache key. */
		for (i = 0; i < host.len; i++) {
			char ch = host.p[i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			buf_append(b, &ch, 1);
		}
	} else if (c->req.host.len > 0)
		buf_append(b, BUF_PTR(&c->in) + c->req.host.off,
		    c->req.host.len);
	else
		buf_appendf(b, "localhost:%d", conf->port);
}
