/*
 * log: error and diagnostic logging to stderr or syslog.
 *
 * In the foreground every line is written whole with one write(2), so lines
 * from the master and several workers sharing stderr never interleave.
 * Nothing here may be called from a signal handler.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "log.h"

static int	 log_use_syslog;
static int	 log_level = LOG_LVL_INFO;
static char	 log_proc[32] = "starterd";
static const char *log_ident = "starterd";

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_init(int use_syslog, int level, const char *ident)
{
	log_use_syslog = use_syslog;
	log_level = level;
	log_ident = ident;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return (log_level);
}

/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int
log_level_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcasecmp(s, log_names[i]) == 0)
			return ((int)i);
	if (strcasecmp(s, "warning") == 0)
		return (LOG_LVL_WARN);
	return (-1);
}

void
log_procname(const char *name)
{
	strlcpy(log_proc, name, sizeof(log_proc));
}

void
vlog(int level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char	 msg[2048], line[2200];
	int	 n;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_use_syslog) {
		syslog(prio[level], "%s: %s", log_proc, msg);
		return;
	}
	n = snprintf(line, sizeof(line), "%s[%ld]: %s: %s%s\n", log_ident,
	    (long)getpid(), log_proc,
	    level == LOG_LVL_ERROR ? "error: " :
	    level == LOG_LVL_WARN ? "warning: " : "", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)write(STDERR_FILENO, line, (size_t)n);
}

#define LOG_ERRNO_FN(fn, lvl)						\
void									\
fn(const char *fmt, ...)						\
{									\
	char	 tmp[1024];						\
	int	 saved = errno;						\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	vsnprintf(tmp, sizeof(tmp), fmt, ap);				\
	va_end(ap);							\
	if (saved != 0)							\
		log_emit(lvl, "%s: %s", tmp, strerror(saved));		\
	else								\
		log_emit(lvl, "%s", tmp);				\
	errno = saved;							\
}

#define LOG_PLAIN_FN(fn, lvl)						\
void									\
fn(const char *fmt, ...)						\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	vlog(lvl, fmt, ap);						\
	va_end(ap);							\
}

static void log_emit(int, const char *, ...)
    __attribute__((__format__ (printf, 2, 3)));

static void
log_emit(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

LOG_ERRNO_FN(log_warn, LOG_LVL_WARN)
LOG_PLAIN_FN(log_warnx, LOG_LVL_WARN)
LOG_PLAIN_FN(log_error, LOG_LVL_ERROR)
LOG_PLAIN_FN(log_info, LOG_LVL_INFO)
LOG_PLAIN_FN(log_debug, LOG_LVL_DEBUG)

void
fatal(const char *fmt, ...)
{
	char	 tmp[1024];
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (saved != 0)
		log_emit(LOG_LVL_ERROR, "fatal: %s: %s", tmp, strerror(saved));
	else
		log_emit(LOG_LVL_ERROR, "fatal: %s", tmp);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	char	 tmp[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	log_emit(LOG_LVL_ERROR, "fatal: %s", tmp);
	exit(1);
}
