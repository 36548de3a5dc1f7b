/*
 * clock: CLOCK_MONOTONIC in milliseconds and microseconds.  See clock.h.
 */
#include <stdint.h>
#include <time.h>

#include "clock.h"

/* CLOCK_MONOTONIC cannot fail on Linux; 0 if it ever did. */
static void
clock_now(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) == -1)
		ts->tv_sec = ts->tv_nsec = 0;
}

int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_now(&ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
now_us(void)
{
	struct timespec	ts;

	clock_now(&ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}
