/*
 * log: the OpenBSD log.c set.  Lines go to stderr in the foreground or to
 * syslog, each tagged with the process name ("master", "worker 3").
 * log_warn appends strerror(errno); fatal/fatalx log and exit(1).
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
int	log_getlevel(void);
int	log_level_parse(const char *);
void	log_procname(const char *);
void	log_warn(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
void	vlog(int, const char *, va_list) __attribute__((__format__ (printf, 2, 0)));
__attribute__((__noreturn__))
void	fatal(const char *, ...) __attribute__((__format__ (printf, 1, 2)));
__attribute__((__noreturn__))
void	fatalx(const char *, ...) __attribute__((__format__ (printf, 1, 2)));

#endif /* LOG_H */
