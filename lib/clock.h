/*
 * clock: the project's one clock, CLOCK_MONOTONIC.
 *
 * Deadlines, timeouts, cache expiry and heartbeats all use it, so values
 * taken in different processes of one host compare (the clock is
 * system-wide) and a change of the wall clock moves none of them.
 * Leaf module: nothing here knows about the server.
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>

int64_t	now_ms(void);		/* CLOCK_MONOTONIC in milliseconds */
int64_t	now_us(void);		/* CLOCK_MONOTONIC in microseconds */

#endif /* CLOCK_H */
