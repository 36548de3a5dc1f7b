/*
 * resource.c: the worker's resources, their routes, and their binding to
 * the catalog.
 *
 * Each declared resource (conf->resources) gets three routes: the
 * collection "/api/v1.0/NAME/", its items "/api/v1.0/NAME/KEY" and the
 * slash-less collection (308).  Their methods and credentials follow the
 * declared access (a method whose access is "anyone" needs none); the
 * router gives them their handlers (resource_route_info).
 *
 * Binding: the catalog query (schema.c) is sent when the connection comes
 * up and the answer bound by schema_bind().  A resource, once bound, keeps
 * its binding for the life of the worker: a reload starts new workers,
 * which bind the new declarations.  One not bound yet (the connection is
 * still coming up, or its table did not exist: `starterctl initdb` not
 * run yet) is bound on demand: the request that needs it sends the
 * catalog query itself and is resumed by the loop when the answer is in
 * (resource_wait), never waited for here.  A failed binding is retried at
 * most once a second and its problems are logged once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "starterd.h"

#define RESOURCE_RETRY_MS	1000

#define M(m)	(1u << (m))
#define READ	(M(HTTP_M_GET) | M(HTTP_M_HEAD) | M(HTTP_M_OPTIONS))

struct res_slot {
	struct resource		 r;
	int			 bound;
	int64_t			 failed_at;	/* last failed binding, ms */
	int			 logged;	/* its problems were logged */
	char			 coll_path[RES_IDENT_MAX + 32];
	char			 redir_path[RES_IDENT_MAX + 32];
	struct route		 routes[RES_ROUTE_KINDS];
};

static struct res_slot	*slots;
static int		 nslots;
static int		 catalog_inflight;

static unsigned int
resource_methods(enum res_access a, unsigned int m)
{
	return (a == RES_ACCESS_NONE ? 0 : m);
}

int
resource_init(void)
{
	const struct res_decl	*d;
	struct res_slot		*s;
	unsigned int		 rd, wr;
	int			 i;

	nslots = conf->nresources;
	if ((slots = calloc((size_t)(nslots > 0 ? nslots : 1),
	    sizeof(*slots))) == NULL)
		return (-1);
	for (i = 0; i < nslots; i++) {
		s = &slots[i];
		d = &conf->resources[i];
		s->r.decl = *d;
		snprintf(s->coll_path, sizeof(s->coll_path),
		    STARTERD_API_PREFIX "/%s/", d->name);
		snprintf(s->redir_path, sizeof(s->redir_path),
		    STARTERD_API_PREFIX "/%s", d->name);
		rd = resource_methods(d->read, READ);
		wr = resource_methods(d->write, M(HTTP_M_POST));
		s->routes[RES_ROUTE_COLL] = (struct route){ s->coll_path,
		    rd | wr | M(HTTP_M_OPTIONS), ROUTE_AUTH, NULL, 0, &s->r };
		wr = resource_methods(d->write, M(HTTP_M_PUT) |
		    M(HTTP_M_PATCH) | M(HTTP_M_DELETE));
		s->routes[RES_ROUTE_ITEM] = (struct route){ s->coll_path,
		    rd | wr | M(HTTP_M_OPTIONS), ROUTE_AUTH | ROUTE_ARG, NULL,
		    0, &s->r };
		s->routes[RES_ROUTE_REDIRECT] = (struct route){ s->redir_path,
		    ~0u, ROUTE_REDIRECT, NULL, 0, &s->r };
		if (d->read == RES_ACCESS_ANYONE) {
			s->routes[RES_ROUTE_COLL].open_methods |= READ;
			s->routes[RES_ROUTE_ITEM].open_methods |= READ;
		}
		if (d->write == RES_ACCESS_ANYONE) {
			s->routes[RES_ROUTE_COLL].open_methods |=
			    M(HTTP_M_POST);
			s->routes[RES_ROUTE_ITEM].open_methods |=
			    M(HTTP_M_PUT) | M(HTTP_M_PATCH) | M(HTTP_M_DELETE);
		}
	}
	return (0);
}

/*
 * The resource a path is under: its index, and *kind which of its routes
 * (RES_ROUTE_*); -1 if none.  The item's key is percent-decoded into arg
 * (*argerr set when it cannot be).
 */
int
resource_match(const char *path, size_t len, char *arg, size_t arglen,
    int *argerr, int *kind)
{
	struct res_slot	*s;
	size_t		 plen;
	const char	*rest;
	int		 i;

	for (i = 0; i < nslots; i++) {
		s = &slots[i];
		plen = strlen(s->redir_path);
		if (len == plen && memcmp(path, s->redir_path, len) == 0) {
			*kind = RES_ROUTE_REDIRECT;
			return (i);
		}
		plen = strlen(s->coll_path);
		if (len < plen || memcmp(path, s->coll_path, plen) != 0)
			continue;
		*kind = RES_ROUTE_COLL;
		if (len == plen)
			return (i);
		rest = path + plen;
		if (memchr(rest, '/', len - plen) != NULL)
			return (-1);
		if (http_pct_decode(rest, len - plen, arg, arglen) < 0 ||
		    strlen(arg) != strnlen(arg, arglen) || arg[0] == '\0')
			*argerr = 1;
		*kind = RES_ROUTE_ITEM;
		return (i);
	}
	return (-1);
}

/* Route kind of resource i, without its handler (the router's to give). */
void
resource_route_info(int i, int kind, struct route *out)
{
	*out = slots[i].routes[kind];
}

static void
resource_log_problem(void *arg, const char *line)
{
	(void)arg;
	log_warnx("%s", line);
}

/* The catalog answered: bind what is not bound yet. */
static void
resource_catalog_cb(struct client *c, PGresult *res, void *arg)
{
	struct res_slot	*s;
	struct resource	 r;
	PGconn		*conn = db_conn_handle();
	int		 i, problems;

	(void)c;
	(void)arg;
	catalog_inflight--;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    conn == NULL) {
		if (res != NULL)
			log_warnx("reading the catalog: %s",
			    db_sqlstate(res));
		return;
	}
	for (i = 0; i < nslots; i++) {
		s = &slots[i];
		if (s->bound)
			continue;
		problems = schema_bind(conn, &s->r.decl, res, &r,
		    s->logged ? NULL : resource_log_problem, NULL);
		if (problems > 0) {
			s->failed_at = now_ms();
			if (!s->logged)
				log_warnx("resource %s is not served until "
				    "these are fixed (retried on demand)",
				    s->r.decl.name);
			s->logged = 1;
			continue;
		}
		s->r = r;
		s->bound = 1;
		if (!r.cacheable && cache_enabled())
			log_warnx("resource %s: %s has no starterd_notify "
			    "trigger, so its answers are not cached (run "
			    "starterctl resources install)", r.decl.name,
			    r.decl.table);
		if (s->logged)
			log_info("resource %s is served now", r.decl.name);
	}
}

/* The catalog query for every declared table (resconf_tables: a text[]). */
static int
resource_catalog_submit(struct client *c)
{
	char		 tables[RES_MAX * (2 * (2 * RES_IDENT_MAX + 2) + 4) + 4];
	const char	*p[1] = { tables };
	int		 rv;

	if (resconf_tables(conf->resources, nslots, tables, sizeof(tables))
	    == -1)
		return (-1);
	rv = db_submit_sql(c, schema_catalog_sql, "catalog", 0, 1, p,
	    resource_catalog_cb, NULL);
	if (rv == 0)
		catalog_inflight++;
	return (rv);
}

/* The connection is up: bind what is not bound yet. */
void
resource_db_up(void)
{
	int	i;

	for (i = 0; i < nslots; i++)
		if (!slots[i].bound)
			break;
	if (i < nslots && catalog_inflight == 0)
		(void)resource_catalog_submit(NULL);
}

/*
 * Is r bound?  0: yes, go on.  1: the catalog query was sent for c, which
 * resume continues once the answer is in.  -1: the database is down;
 * -2: the binding failed (its problems are in the log).
 */
int
resource_wait(struct client *c, void (*resume)(struct client *))
{
	struct res_slot	*s = (struct res_slot *)c->route->arg;

	if (s->bound)
		return (0);
	if (db_status() == DB_DOWN)
		return (-1);
	if (s->failed_at != 0 && now_ms() - s->failed_at < RESOURCE_RETRY_MS &&
	    catalog_inflight == 0)
		return (-2);
	if (resource_catalog_submit(c) == -1)
		return (-1);
	c->resume = resume;
	return (1);
}

struct resource *
resource_find(const char *name, size_t len)
{
	int	i;

	for (i = 0; i < nslots; i++)
		if (strlen(slots[i].r.decl.name) == len &&
		    memcmp(slots[i].r.decl.name, name, len) == 0)
			return (&slots[i].r);
	return (NULL);
}

int
resource_count(void)
{
	return (nslots);
}

/*
 * For /readyz: how many declared resources are not bound, their names
 * comma-separated into names (truncated to len).  A binding that failed
 * is tried again here once its retry is due, so that readiness comes back
 * once the table does, with no API request needed to notice it.
 */
int
resource_unbound(char *names, size_t len)
{
	int	i, n = 0, due = 0;

	if (len > 0)
		names[0] = '\0';
	for (i = 0; i < nslots; i++) {
		if (slots[i].bound)
			continue;
		if (n++ > 0)
			strlcat(names, ", ", len);
		strlcat(names, slots[i].r.decl.name, len);
		if (slots[i].failed_at == 0 ||
		    now_ms() - slots[i].failed_at >= RESOURCE_RETRY_MS)
			due = 1;
	}
	if (due && catalog_inflight == 0 && db_status() != DB_DOWN)
		(void)resource_catalog_submit(NULL);
	return (n);
}

/* The i-th resource if it is bound, else NULL. */
struct resource *
resource_get(int i)
{
	if (i < 0 || i >= nslots || !slots[i].bound)
		return (NULL);
	return (&slots[i].r);
}
