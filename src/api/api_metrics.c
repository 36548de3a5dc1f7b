/*
 * api_metrics.c: GET /metrics, the Prometheus text format (0.0.4) of the
 * counters kept in shared memory (core/metrics.c) and of the caches.
 *
 * --metrics auth (the default) wants the credentials of any user: the
 * route is ROUTE_AUTH then (router.c), checked before this runs.  on has
 * no authentication; off hides it (404); loopback answers 403 to any TCP
 * peer but 127.0.0.0/8 and ::1, so it trusts whatever connects from there
 * (a local reverse proxy makes every client loopback).
 */
#include <string.h>

#include "starterd.h"

/* 1 when the peer address is 127.0.0.0/8 or ::1 (or v4-mapped 127/8). */
static int
api_metrics_loopback(const char *addr)
{
	return (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	    strncmp(addr, "::ffff:127.", 11) == 0);
}

void
api_metrics(struct client *c)
{
	struct cache_stats	 cs;
	struct buf		 b;
	uint64_t		 ahits = 0, amiss = 0;

	if (conf->metrics == METRICS_OFF) {
		response_error(c, 404, "invalid resource URI");
		return;
	}
	if (conf->metrics == METRICS_LOOPBACK &&
	    !api_metrics_loopback(c->addr)) {
		response_error(c, 403, "metrics are only served to loopback "
		    "clients");
		return;
	}
	cache_stats(&cs);
	auth_stats(&ahits, &amiss);
	buf_init(&b, 1 << 20);
	if (metrics_format(&b, &cs, ahits, amiss) == -1) {
		buf_free(&b);
		response_error(c, 500, "metrics do not fit the buffer");
		return;
	}
	response_send(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    BUF_PTR(&b), BUF_LEN(&b));
	buf_free(&b);
}
