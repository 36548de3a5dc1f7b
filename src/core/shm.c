/*
 * shm.c: the one shared-memory mapping, made by the master before it forks.
 *
 * The mapping is anonymous and MAP_SHARED, so it is inherited by every
 * worker and disappears with the last process: nothing to clean up after
 * a crash, no name another program could open.  It is split into regions,
 * one per module, each sized by the module from the configuration and
 * aligned to a cache line.  Modules keep offsets, never pointers into
 * another module's region.
 *
 * The master only maps it and hands out the region pointers; it never
 * reads or writes what the workers keep there, so a worker dying in the
 * middle of an update cannot wedge the master.  Each module recovers from
 * such a death itself (robust mutexes: see cache.c).
 */
#include <sys/mman.h>

#include <stdint.h>
#include <string.h>

#include "starterd.h"

#define SHM_ALIGN	64

static const struct {
	const char	*name;
	size_t		(*size)(void);
	int		(*attach)(void *);
} shm_regions[] = {
	{ "cache", cache_shm_size, cache_shm_attach },
	{ "auth", auth_shm_size, auth_shm_attach },
	{ "token", token_shm_size, token_shm_attach },
	{ "ratelimit", ratelimit_shm_size, ratelimit_shm_attach },
	{ "metrics", metrics_shm_size, metrics_shm_attach },
};
#define SHM_NREGIONS	(sizeof(shm_regions) / sizeof(shm_regions[0]))

static void	*shm_base;
static size_t	 shm_len;

int
shm_init(void)
{
	size_t	 sizes[SHM_NREGIONS], total = 0, i, off;
	char	*p;

	for (i = 0; i < SHM_NREGIONS; i++) {
		sizes[i] = (shm_regions[i].size() + SHM_ALIGN - 1) &
		    ~(size_t)(SHM_ALIGN - 1);
		if (total > SIZE_MAX / 2 - sizes[i]) {
			log_warnx("shared memory: size overflow");
			return (-1);
		}
		total += sizes[i];
	}
	if (total == 0)
		total = SHM_ALIGN;
	shm_base = mmap(NULL, total, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm_base == MAP_FAILED) {
		log_warn("shared memory: mmap %zu bytes", total);
		shm_base = NULL;
		return (-1);
	}
	shm_len = total;
	p = shm_base;
	for (i = 0, off = 0; i < SHM_NREGIONS; off += sizes[i], i++) {
		if (shm_regions[i].attach(sizes[i] ? p + off : NULL) == -1) {
			log_warnx("shared memory: %s: cannot initialise",
			    shm_regions[i].name);
			return (-1);
		}
		log_debug("shared memory: %s %zu bytes", shm_regions[i].name,
		    sizes[i]);
	}
	return (0);
}

size_t
shm_size(void)
{
	return (shm_len);
}
