/*
 * groups.c: is the authenticated user in a named group?  The answer to
 * `read = group:NAME` and `write = group:NAME` (starterd.conf(5)).
 *
 * Membership is a row of starter_user_groups (migration 004), managed by
 * `starterctl group`.  Each worker remembers the answers it got, yes and
 * no alike, for auth_cache_ttl seconds (0: never) in a small table of its
 * own: a direct-mapped array, so that it is bounded and a newer answer
 * simply takes the slot of an older one.  Any change to the table NOTIFYs
 * every worker (channels.c), which forgets them all by moving the
 * generation on; an answer to a query sent before the change is passed to
 * its client but not remembered.
 *
 * A miss sends one query and answers AUTH_PENDING; the completion, run by
 * the loop, sets c->auth_result and wakes the client (client_auth_result),
 * as auth.c and token.c do, and conn.c resumes with the result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "starterd.h"

#define GROUPS_CACHE_SLOTS	1024	/* power of two */
#define GROUPS_NAME_MAX		64	/* starter_user_groups.name */

struct groups_entry {
	uint64_t	 gen;		/* generation + 1; 0: empty */
	int64_t		 expires;	/* monotonic ms */
	int		 user_id;
	int		 member;
	char		 name[GROUPS_NAME_MAX + 1];
};

/* What a lookup is for: the entry it fills in. */
struct groups_req {
	uint64_t	 gen;		/* the generation when it was sent */
	int		 user_id;
	char		 name[GROUPS_NAME_MAX + 1];
};

static const char groups_sql[] = "SELECT 1 FROM starter_user_groups "
    "WHERE user_id = $1 AND name = $2";

static struct groups_entry	 groups_cache[GROUPS_CACHE_SLOTS];
static uint64_t			 groups_gen;

static struct groups_entry *
groups_slot(int user_id, const char *name)
{
	const unsigned char	*p;
	uint32_t		 h = 2166136261u;	/* FNV-1a */
	int			 i;

	for (i = 0; i < 4; i++) {
		h ^= ((uint32_t)user_id >> (8 * i)) & 0xff;
		h *= 16777619u;
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return (&groups_cache[h & (GROUPS_CACHE_SLOTS - 1)]);
}

/* Every membership may have changed: forget what this worker knows. */
void
groups_cache_flush(void)
{
	groups_gen++;
}

static void
groups_remember(const struct groups_req *r, int member)
{
	struct groups_entry	*e;

	if (conf->auth_cache_ttl == 0 || r->gen != groups_gen)
		return;
	e = groups_slot(r->user_id, r->name);
	e->gen = r->gen + 1;
	e->expires = now_ms() + conf->auth_cache_ttl * 1000LL;
	e->user_id = r->user_id;
	e->member = member;
	strlcpy(e->name, r->name, sizeof(e->name));
}

/* The lookup's answer (res NULL: the connection was lost before it). */
static void
groups_cb(struct client *c, PGresult *res, void *arg)
{
	struct groups_req	*r = arg;
	int			 member;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res != NULL)
			log_warnx("group lookup: %s",
			    PQresultErrorMessage(res));
		client_auth_result(c, AUTH_UNAVAILABLE);
		free(r);
		return;
	}
	member = PQntuples(res) > 0;
	groups_remember(r, member);
	client_auth_result(c, member ? AUTH_OK : AUTH_FAIL);
	free(r);
}

/*
 * Is c's authenticated user (c->user_id) in group?  AUTH_OK, AUTH_FAIL,
 * AUTH_PENDING (a lookup was sent: the result comes in c->auth_result,
 * with a wake-up) or AUTH_UNAVAILABLE (the database is down or the query
 * could not be queued).
 */
int
groups_check(struct client *c, const char *group)
{
	struct groups_entry	*e;
	struct groups_req	*r;
	const char		*p[2];
	char			 id[16];

	if (c->user_id <= 0 || group == NULL || *group == '\0' ||
	    strlen(group) > GROUPS_NAME_MAX)
		return (AUTH_FAIL);
	e = groups_slot(c->user_id, group);
	if (e->gen == groups_gen + 1 && e->user_id == c->user_id &&
	    strcmp(e->name, group) == 0 && now_ms() < e->expires)
		return (e->member ? AUTH_OK : AUTH_FAIL);

	if (db_status() == DB_DOWN)
		return (AUTH_UNAVAILABLE);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (AUTH_UNAVAILABLE);
	r->gen = groups_gen;	/* before the query: a change meanwhile */
	r->user_id = c->user_id;
	strlcpy(r->name, group, sizeof(r->name));
	snprintf(id, sizeof(id), "%d", c->user_id);
	p[0] = id;
	p[1] = r->name;
	if (db_submit_sql(c, groups_sql, "group_member", 0, 2, p,
	    groups_cb, r) == -1) {
		free(r);
		return (AUTH_UNAVAILABLE);
	}
	return (AUTH_PENDING);
}
