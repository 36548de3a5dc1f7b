/*
 * channels.c: NOTIFY routing, the one place that names every channel and
 * what each message drops.
 *
 * Statement triggers (migrations 002, 004 and 006; `starterctl resources
 * install` for declared tables) NOTIFY the channel "starterd" with the
 * changed table's name, whoever changed it (starterd, psql, COPY,
 * TRUNCATE, another instance).  Since migration 005 the name is
 * schema-qualified ("public.starter_users"); the bare form of older
 * databases is accepted too.  Every worker LISTENs on the channel (db.c,
 * through the hooks the worker installs) and routes the payload here:
 *
 *	starter_users		the verified-credentials cache (auth.c) and
 *				the token version cache (token.c)
 *	starter_user_groups	the group memberships (groups.c)
 *	anything else		the response cache (cache.c), which knows
 *				which resources the table serves
 *
 * When notifications may have been missed (a reconnect, or a worker that
 * replaces a dead one), everything is forgotten.
 */
#include <string.h>

#include "starterd.h"

#define CHANNEL_TABLES	"starterd"	/* payload: the changed table */
#define CHANNEL_SCHEMA	"public."	/* where our own tables live */

const char *const channels_listen[] = { CHANNEL_TABLES, NULL };

/* Is payload our table name, bare or qualified with public? */
static int
channels_is(const char *payload, const char *table)
{
	if (strncmp(payload, CHANNEL_SCHEMA, sizeof(CHANNEL_SCHEMA) - 1) == 0)
		payload += sizeof(CHANNEL_SCHEMA) - 1;
	return (strcmp(payload, table) == 0);
}

void
channels_route(const char *channel, const char *payload)
{
	if (strcmp(channel, CHANNEL_TABLES) != 0 || payload == NULL)
		return;
	if (channels_is(payload, "starter_users")) {
		auth_cache_flush();
		token_cache_flush();
	} else if (channels_is(payload, "starter_user_groups"))
		groups_cache_flush();
	else
		cache_notified(payload);
}

void
channels_forget_all(void)
{
	auth_cache_flush();
	token_cache_flush();
	groups_cache_flush();
	cache_notified(NULL);
}
