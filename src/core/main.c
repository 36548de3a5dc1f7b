/*
 * main.c: read the settings, check them, then hand over to the master.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/unistd.h>

#include "starterd.h"


/*
 * Keep a copy of argv for SIGHUP (flags keep their precedence on reload):
 * setproctitle() overwrites the original strings, which is also what
 * hides a password given with -d from ps.
 */
static int
main_save_args(int argc, char **argv)
{
	int	i;

	if ((main_argv = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		return (-1);
	for (i = 0; i < argc; i++)
		if ((main_argv[i] = strdup(argv[i])) == NULL)
			return (-1);
	main_argc = argc;
	return (0);
}

int
main(int argc, char *argv[])
{
	if (main_save_args(argc, argv) == -1) {
		fprintf(stderr, "starterd: fatal: out of memory\n");
		return (1);
	}
	setproctitle_init(argc, argv, environ);
	/* Configuration errors go through the log too (<3> on the journal). */
	log_init(0, LOG_LVL_INFO, STARTERD_NAME);
	if (config_load(conf, argc, argv) == -1) {
		log_fatalx("out of memory");
		return (1);
	}
	log_init(conf->use_syslog, conf->log_level, STARTERD_NAME);
	if (conf->test_only)
		return (preflight_run(conf));
	signal(SIGPIPE, SIG_IGN);
	return (master_run(conf));
}
