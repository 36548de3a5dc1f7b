/*
 * sdnotify.c: the systemd service notification protocol, for Type=notify.
 *
 * The master reports READY=1 once every worker serves, RELOADING=1 (with
 * MONOTONIC_USEC) on SIGHUP then READY=1 again, STOPPING=1 at shutdown and
 * WATCHDOG=1 while its workers answer.  With libsystemd the messages go
 * through sd_notify(3); without it, through the documented protocol: one
 * datagram to the AF_UNIX socket named by $NOTIFY_SOCKET, a path or, when
 * it starts with '@', an abstract name.  Workers never notify.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "starterd.h"

#define NOTIFY_MAX_MSG	256

static uint64_t	notify_wd_usec;

#ifndef HAVE_LIBSYSTEMD
/* The fallback: one datagram, as sd_notify(3) documents the protocol. */
static int
notify_socket_send(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*path;
	socklen_t		 len;
	size_t			 plen;
	int			 fd, rv = -1;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return (0);
	if (path[0] != '/' && path[0] != '@')
		return (-1);
	plen = strlen(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (plen >= sizeof(sun.sun_path))
		return (-1);
	memcpy(sun.sun_path, path, plen);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract: no trailing NUL */
	else
		len++;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) != -1)
		rv = 1;
	close(fd);
	return (rv);
}
#endif

/* Read WATCHDOG_USEC (and WATCHDOG_PID, which must be us if set). */
void
notify_init(void)
{
#ifdef HAVE_LIBSYSTEMD
	uint64_t	 usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		notify_wd_usec = usec;
#else
	const char	*v, *errstr;
	long long	 n;

	if ((v = getenv("WATCHDOG_PID")) != NULL && *v != '\0') {
		n = strtonum(v, 1, INT32_MAX, &errstr);
		if (errstr != NULL || n != (long long)getpid())
			return;
	}
	if ((v = getenv("WATCHDOG_USEC")) != NULL && *v != '\0') {
		n = strtonum(v, 1, LLONG_MAX, &errstr);
		if (errstr == NULL)
			notify_wd_usec = (uint64_t)n;
	}
#endif
	if (notify_wd_usec > 0)
		log_info("systemd watchdog every %llu ms",
		    (unsigned long long)(notify_wd_usec / 1000));
}

uint64_t
notify_watchdog_usec(void)
{
	return (notify_wd_usec);
}

/* Send one state change; a failure is logged at debug level only. */
void
notify_send(const char *fmt, ...)
{
	char	msg[NOTIFY_MAX_MSG];
	va_list	ap;
	int	rv;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
#ifdef HAVE_LIBSYSTEMD
	rv = sd_notify(0, msg);
	if (rv < 0)
		errno = -rv;
#else
	rv = notify_socket_send(msg);
#endif
	if (rv < 0)
		log_debug("notify %s: %s", msg, strerror(errno));
}

