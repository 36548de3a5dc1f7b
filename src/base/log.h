/*
 * log: the OpenBSD log.c set.  Lines go to stderr in the foreground or to
 * syslog, each tagged with the process name ("master", "worker 3").
 * log_warn appends strerror(errno); fatal/fatalx log and exit(1).
 *
 * A fatal error is ONE line, "starterd: fatal: SETTING VALUE: cause"
 * (e.g. "fatal: listen 127.0.0.1:5000: Address already in use"): use
 * fatal() (appends strerror(errno)) or fatalx(), which exit(1), or
 * log_fatal()/log_fatalx(), which only log it, for a caller that cleans
 * up and returns 1 to main().  Log no warning before it for the same
 * cause.  Errors (log_error) carry no level word, warnings "warning: ".
 * Lines never hold a newline (one is turned into a space).  Under systemd
 * (JOURNAL_STREAM names stderr) each line starts with its sd-daemon
 * priority, <3> error and fatal, <4> warning, <6> info, <7> debug, and not
 * with "starterd[PID]: ", which the journal adds.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

void	log_init(int use_syslog, int level, const char *ident);
void	log_setlevel(int level);
void	log_set_strict(int);
int	log_problems(void);
int	log_getlevel(void);
int	log_level_parse(const char *);
const char *log_level_name(int);
void	log_procname(const char *);
void	log_warn(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	vlog(int, const char *, va_list) __attribute__((__format__ (printf, 2, 0)));
void	log_fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
__attribute__((__noreturn__))
void	fatal(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
__attribute__((__noreturn__))
void	fatalx(const char *, ...) __attribute__((__format__ (printf, 1, 2)));

#endif /* LOG_H */
