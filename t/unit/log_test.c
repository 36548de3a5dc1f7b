/*
 * log_test.c: says one line through src/base/log.c, for t/092_config_test.t
 * (which checks the line's format on stderr and the exit status):
 *
 *	log_test fatalx|fatal|warnx|info [procname] message
 *
 * fatal appends strerror(EADDRINUSE); a procname names the process first
 * (as the master does once it runs).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int
main(int argc, char *argv[])
{
	const char	*what, *msg;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: log_test what [procname] message\n");
		return (2);
	}
	what = argv[1];
	msg = argv[argc - 1];
	log_init(0, LOG_LVL_DEBUG, "starterd");
	if (argc == 4)
		log_procname(argv[2]);
	if (strcmp(what, "fatalx") == 0)
		fatalx("%s", msg);
	if (strcmp(what, "fatal") == 0) {
		errno = EADDRINUSE;
		fatal("%s", msg);
	}
	if (strcmp(what, "warnx") == 0)
		log_warnx("%s", msg);
	else
		log_info("%s", msg);
	return (0);
}
