/*
 * cache.c: invalidation entry point for NOTIFY "starterd" payloads.
 * (The shared-memory response cache builds on this.)
 */
#include <string.h>

#include "starterd.h"

/* table: the changed table's name, or NULL when anything may have. */
int
cache_notify(const char *table)
{
	if (table == NULL || strcmp(table, "starter_users") == 0)
		auth_cache_flush();
	return (0);
}

size_t
cache_shm_size(void)
{
	return (0);
}

int
cache_shm_attach(void *p)
{
	(void)p;
	return (0);
}
