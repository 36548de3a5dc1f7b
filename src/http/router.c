/*
 * router.c: the table from path and method to handler: the one place
 * that names the handlers (api/), which nothing below it may call.
 *
 * A route is either an exact path or a prefix whose remainder is one path
 * segment (the resource id), percent-decoded into the caller's buffer.
 * The declared resources' routes (collection, item, the slash-less
 * collection) are looked up after this table (resource_route).
 *
 * /metrics needs credentials (ROUTE_AUTH) under --metrics auth, the
 * default; its flags follow the setting each time it is found.
 */
#include <string.h>

#include <bsd/string.h>

#include "starterd.h"

#define M(m)	(1u << (m))
#define READ	(M(HTTP_M_GET) | M(HTTP_M_HEAD) | M(HTTP_M_OPTIONS))
#define ROUTE_METRICS	0x100	/* ROUTE_AUTH under --metrics auth */

static struct route routes[] = {
	{ "/healthz", READ, 0, api_healthz, 0, NULL },
	{ "/readyz", READ, 0, api_readyz, 0, NULL },
	{ "/auth/request-token", READ, ROUTE_AUTH | ROUTE_PASSWORD,
	    api_auth_token, 0, NULL },
	{ "/metrics", READ, ROUTE_METRICS, api_metrics, 0, NULL },
	{ STARTERD_API_PREFIX "/", READ, ROUTE_AUTH, api_index, 0, NULL },
	{ STARTERD_API_PREFIX "/openapi.json", READ, ROUTE_AUTH, api_openapi, 0,
	    NULL },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/* The declared resources' routes, with their handlers, filled at first use. */
static struct route	res_routes[RES_MAX][RES_ROUTE_KINDS];
static int		res_routes_set;

static void
router_resources(void)
{
	int	i, k;

	if (res_routes_set)
		return;
	for (i = 0; i < resource_count() && i < RES_MAX; i++) {
		for (k = 0; k < RES_ROUTE_KINDS; k++)
			resource_route_info(i, k, &res_routes[i][k]);
		res_routes[i][RES_ROUTE_COLL].handler = api_resource_collection;
		res_routes[i][RES_ROUTE_ITEM].handler = api_resource_item;
		res_routes[i][RES_ROUTE_REDIRECT].handler =
		    api_resource_redirect;
	}
	res_routes_set = 1;
}

/*
 * Find the route for a path.  *argerr is set when the path matched a
 * ROUTE_ARG route but its argument could not be decoded.
 */
const struct route *
router_find(const char *path, size_t len, char *arg, size_t arglen,
    int *argerr)
{
	size_t	 i, plen;
	const char *rest;
	int	 kind;

	*argerr = 0;
	arg[0] = '\0';
	for (i = 0; i < NROUTES; i++) {
		plen = strlen(routes[i].path);
		if (!(routes[i].flags & ROUTE_ARG)) {
			if (len != plen || memcmp(path, routes[i].path, len)
			    != 0)
				continue;
			if (routes[i].flags & ROUTE_METRICS)
				routes[i].flags = conf->metrics ==
				    METRICS_AUTH ? ROUTE_METRICS | ROUTE_AUTH :
				    ROUTE_METRICS;
			return (&routes[i]);
		}
		if (len <= plen || memcmp(path, routes[i].path, plen) != 0)
			continue;
		rest = path + plen;
		if (memchr(rest, '/', len - plen) != NULL)
			continue;
		if (http_pct_decode(rest, len - plen, arg, arglen) < 0 ||
		    strlen(arg) != strnlen(arg, arglen) || arg[0] == '\0')
			*argerr = 1;
		return (&routes[i]);
	}
	/* Then the declared resources (data/resource.c). */
	if ((i = (size_t)resource_match(path, len, arg, arglen, argerr,
	    &kind)) == (size_t)-1)
		return (NULL);
	router_resources();
	return (&res_routes[i][kind]);
}

/* The Allow header value of a route. */
void
router_allow(const struct route *r, char *out, size_t len)
{
	int	m;

	out[0] = '\0';
	for (m = HTTP_M_GET; m <= HTTP_M_CONNECT; m++) {
		if (!(r->methods & M(m)))
			continue;
		if (out[0] != '\0')
			strlcat(out, ", ", len);
		strlcat(out, http_method_name((enum http_method)m), len);
	}
}

/* The route's position in the table (a metrics label index). */
int
router_index(const struct route *r)
{
	if (r >= &res_routes[0][0] &&
	    r < &res_routes[0][0] + RES_MAX * RES_ROUTE_KINDS)
		return ((int)(NROUTES + (size_t)(r - &res_routes[0][0])));
	if (r < routes || r >= routes + NROUTES)
		return (-1);
	return ((int)(r - routes));
}

/* The i-th route, NULL past the end. */
const struct route *
router_get(int i)
{
	if (i < 0)
		return (NULL);
	if ((size_t)i < NROUTES)
		return (&routes[i]);
	router_resources();
	i -= (int)NROUTES;
	if (i >= resource_count() * RES_ROUTE_KINDS)
		return (NULL);
	return (&res_routes[i / RES_ROUTE_KINDS][i % RES_ROUTE_KINDS]);
}

/* The route's label for metrics: its path, "{id}" for the argument. */
void
router_label(const struct route *r, char *out, size_t len)
{
	strlcpy(out, r->path, len);
	if (r->flags & ROUTE_ARG)
		strlcat(out, "{id}", len);
}
