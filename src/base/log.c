/*
 * log: error and diagnostic logging to stderr or syslog.
 *
 * In the foreground every line is written whole with one write(2), so lines
 * from the master and several workers sharing stderr never interleave.
 * Nothing here may be called from a signal handler.
 */
#include <sys/stat.h>

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
static int	 log_journal;		/* stderr is systemd's journal stream */
static int	 log_strict;		/* starterd -t: a warning is an error */
static int	 log_nproblems;		/* warnings and errors logged */
static char	 log_proc[32] = "";	/* "" until the master names itself */
static const char *log_ident = "starterd";

static const char *const log_names[] = { "error", "warn", "info", "debug" };

/*
 * Under systemd, stderr connected to the journal: JOURNAL_STREAM holds
 * the device and inode of that stream as "DEV:INODE" (sd-daemon(3),
 * systemd.exec(5)); it counts only while stderr is still that stream.
 */
static int
log_journal_detect(void)
{
	struct stat	 st;
	const char	*v;
	unsigned long long dev, ino;
	char		 end;

	if ((v = getenv("JOURNAL_STREAM")) == NULL || *v == '\0')
		return (0);
	if (sscanf(v, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return (0);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (0);
	return ((unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino);
}

void
log_init(int use_syslog, int level, const char *ident)
{
	log_use_syslog = use_syslog;
	log_level = level;
	log_ident = ident;
	log_journal = log_journal_detect();
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

/*
 * starterd -t: every warning is a problem of the configuration, logged as
 * an error (no "warning: ", priority <3>); count them with log_problems().
 */
void
log_set_strict(int on)
{
	log_strict = on;
}

int
log_problems(void)
{
	return (log_nproblems);
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

/* A level's name, as log_level_parse() takes it. */
const char *
log_level_name(int level)
{
	if (level < 0 || (size_t)level >= sizeof(log_names) /
	    sizeof(log_names[0]))
		return ("?");
	return (log_names[level]);
}

void
log_procname(const char *name)
{
	strlcpy(log_proc, name, sizeof(log_proc));
}

/*
 * One line, written whole.  word is "fatal: " or NULL for the level's own
 * ("warning: "; none for errors: the message names the problem).
 * Foreground: "starterd: ..." until the master names itself, then
 * "starterd[PID]: master: ..."; on the journal stream, "<N>" (the
 * sd-daemon priority) instead of "starterd[PID]: ", which the journal adds.
 */
static void
log_line(int level, const char *word, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char	 msg[2048], line[2200], head[64];
	char	*p;
	int	 n;

	if (level <= LOG_LVL_WARN)
		log_nproblems++;
	if (log_strict && level == LOG_LVL_WARN)
		level = LOG_LVL_ERROR;
	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (p = msg; (p = strpbrk(p, "\r\n")) != NULL; )
		*p = ' ';	/* one line, whatever the message held */
	if (word == NULL)
		word = level == LOG_LVL_WARN ? "warning: " : "";
	if (log_use_syslog) {
		if (log_proc[0] != '\0')
			syslog(prio[level], "%s: %s%s", log_proc, word, msg);
		else
			syslog(prio[level], "%s%s", word, msg);
		return;
	}
	if (log_journal)
		snprintf(head, sizeof(head), "<%d>%s%s", prio[level], log_proc,
		    log_proc[0] != '\0' ? ": " : "");
	else if (log_proc[0] != '\0')
		snprintf(head, sizeof(head), "%s[%ld]: %s: ", log_ident,
		    (long)getpid(), log_proc);
	else
		snprintf(head, sizeof(head), "%s: ", log_ident);
	n = snprintf(line, sizeof(line), "%s%s%s\n", head, word, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)write(STDERR_FILENO, line, (size_t)n);
}

void
vlog(int level, const char *fmt, va_list ap)
{
	log_line(level, NULL, fmt, ap);
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

static void log_fatal_emit(const char *, ...)
    __attribute__((__format__ (printf, 1, 2)));

static void
log_fatal_emit(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(LOG_LVL_ERROR, "fatal: ", fmt, ap);
	va_end(ap);
}

/* The "fatal:" line of fmt/ap, with strerror(saved) unless it is 0. */
static void
log_vfatal(int saved, const char *fmt, va_list ap)
{
	char	 tmp[1024];

	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (saved != 0)
		log_fatal_emit("%s: %s", tmp, strerror(saved));
	else
		log_fatal_emit("%s", tmp);
}

/* The one "fatal:" line, with strerror(errno); the caller exits. */
void
log_fatal(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	log_vfatal(saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* The one "fatal:" line, as given; the caller exits. */
void
log_fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vfatal(0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	log_vfatal(saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vfatal(0, fmt, ap);
	va_end(ap);
	exit(1);
}
