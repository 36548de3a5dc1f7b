/*
 * channels.c: NOTIFY routing, the one place that names every channel and
 * what each message drops.
 *
 * Migration 002 installs statement triggers that NOTIFY the channel
 * "starterd" with the changed table's name, whoever changed it (starterd,
 * psql, COPY, TRUNCATE, another instance).  Every worker LISTENs on it
 * (db.c, through the hooks the worker installs) and routes the payload
 * here:
 *
 *	starter_users	 the verified-credentials cache (auth.c) and the
 *			 token version cache (token.c)
 *	starter_pxcodes	 the response cache (cache.c)
 *
 * When notifications may have been missed (a reconnect, or a worker that
 * replaces a dead one), everything is forgotten.
 */
#include <string.h>

#include "starterd.h"

#define CHANNEL_TABLES	"starterd"	/* payload: the changed table */

const char *const channels_listen[] = { CHANNEL_TABLES, NULL };

void
channels_route(const char *channel, const char *payload)
{
	if (strcmp(channel, CHANNEL_TABLES) != 0 || payload == NULL)
		return;
	if (strcmp(payload, "starter_users") == 0) {
		auth_cache_flush();
		token_cache_flush();
	} else if (strcmp(payload, "starter_pxcodes") == 0)
		cache_invalidate(payload);
}

void
channels_forget_all(void)
{
	auth_cache_flush();
	token_cache_flush();
	cache_invalidate(NULL);
}
