/*
 * event.c: the worker's epoll set.  The loop waits on it; the lower
 * layers (db.c's socket) register their descriptors here with a tag the
 * loop recognises, and never see the loop itself.
 */
#include <sys/epoll.h>

#include <string.h>
#include <unistd.h>

#include "starterd.h"

static int	event_fd = -1;

int
event_init(void)
{
	if ((event_fd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return (-1);
	return (0);
}

/* Watch fd for events; tag identifies it in the loop.  op: EPOLL_CTL_*. */
int
event_watch(int op, int fd, uint32_t events, void *tag)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = tag;
	return (epoll_ctl(event_fd, op, fd, &ev));
}

/* Wait for at most n events (an array of struct epoll_event). */
int
event_wait(void *evs, int n, int timeout_ms)
{
	return (epoll_wait(event_fd, evs, n, timeout_ms));
}
