/*
 * preflight.c: starterd -t, every check that startup makes, without
 * serving: the configuration file, binding each listen address (bound,
 * then closed, as nginx -t does), the settings parsed into shared memory
 * at startup (rate limits, the token key), the pidfile's directory, the
 * user to run as (privileges are really dropped, as the master does), the
 * access log as that user, the database, and every declared resource
 * bound to the catalog as a worker binds it (schema.c).  Each problem is
 * one line on stderr (an error: <3> on the journal); the exit status is 1
 * if any.  The resource blocks' own syntax was checked when the file was
 * read (resconf.c).
 *
 * The binding and the user come from master.c (master_bind_one(),
 * master_drop_privileges()), copied here in their minimal form because
 * the master keeps its sockets; keep the two in step.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/string.h>

#include "starterd.h"
#include "str.h"

#define PREFLIGHT_PROBE_MS	2000	/* is a starterd on a busy address? */

/*
 * An address in use may be held by this very starterd, running: -t is
 * what one runs before a reload.  It is then no problem; anything else
 * (another program, a starterd on another port) is.  One bounded
 * GET /healthz: a starterd answers with "Server: starterd".
 */
static int
preflight_is_starterd(const struct addrinfo *ai)
{
	static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
	struct pollfd	 pfd;
	char		 buf[1024];
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, err = 0, rv = 0;
	socklen_t	 sl = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return (0);
	pfd.fd = fd;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			goto done;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, PREFLIGHT_PROBE_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1 ||
		    err != 0)
			goto done;
	}
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto done;
	pfd.events = POLLIN;
	while (len < sizeof(buf) - 1 &&
	    poll(&pfd, 1, PREFLIGHT_PROBE_MS) == 1) {
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	buf[len] = '\0';
	rv = strncmp(buf, "HTTP/1.", 7) == 0 &&
	    strstr(buf, "\r\nServer: " STARTERD_NAME "\r\n") != NULL;
done:
	close(fd);
	return (rv);
}

/* Bind one listen address and close it; 0 or -1 (logged). */
static int
preflight_bind_one(const char *host, int port)
{
	struct addrinfo	*res, *ai;
	char		 where[INET6_ADDRSTRLEN + 16];
	int		 fd, on = 1, error, rv = 0;

	if ((error = master_resolve(host, port, &res)) != 0) {
		log_error("listen %s: %s", host, gai_strerror(error));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		master_addr_name(ai, port, where, sizeof(where));
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1 && errno == EAFNOSUPPORT &&
		    ai->ai_family == AF_INET6)
			continue;	/* no IPv6 here: master.c skips it too */
		if (fd == -1) {
			log_error("listen %s: socket: %s", where,
			    strerror(errno));
			rv = -1;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			    sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 1) == -1) {
			error = errno;
			close(fd);
			/* localhost's ::1, where there is none (master.c) */
			if (error == EADDRNOTAVAIL && ai->ai_family ==
			    AF_INET6 && strcasecmp(host, "localhost") == 0)
				continue;
			if (error == EADDRINUSE && preflight_is_starterd(ai)) {
				log_debug("listen %s: held by a running "
				    "starterd", where);
				continue;
			}
			log_error("listen %s: %s", where, strerror(error));
			rv = -1;
			continue;
		}
		close(fd);
	}
	master_addrfree(res);
	return (rv);
}

static void
preflight_bind(struct config *c)
{
	char	 list[sizeof(c->listen)], *p, *tok;
	int	 n = 0;

	strlcpy(list, c->listen, sizeof(list));
	p = list;
	while ((tok = strsep(&p, ", ")) != NULL) {
		if (*tok == '\0')
			continue;
		n++;
		(void)preflight_bind_one(tok, c->port);
	}
	if (n == 0)
		log_error("listen \"%s\": no address to listen on", c->listen);
	else if (n > STARTERD_MAX_LISTEN)
		log_error("listen: more than %d addresses",
		    STARTERD_MAX_LISTEN);
}

/*
 * What startup parses into shared memory before the first fork, by the
 * modules' own code (each logs its one line): rate limits, the brute
 * force limit, --rate-limit-by, the token key.  Regions of their own,
 * freed after.
 */
static void
preflight_shm(void)
{
	void	*p;

	if ((p = calloc(1, ratelimit_shm_size())) == NULL)
		log_error("rate limits: out of memory");
	else
		(void)ratelimit_shm_attach(p);
	free(p);
	if ((p = calloc(1, token_shm_size())) == NULL)
		log_error("token key: out of memory");
	else
		(void)token_shm_attach(p);
	free(p);
}

/* The directory that will hold path must exist. */
static int
preflight_dir_of(const char *what, const char *path)
{
	struct stat	 st;
	char		 tmp[PATH_MAX], *dir;

	strlcpy(tmp, path, sizeof(tmp));
	dir = dirname(tmp);
	if (stat(dir, &st) == -1) {
		log_error("%s %s: directory %s: %s", what, path, dir,
		    strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s %s: %s is not a directory", what, path, dir);
		return (-1);
	}
	return (0);
}

/*
 * The pidfile is not opened: the running instance holds it locked, and -t
 * runs before a reload.  Its directory must be there.
 */
static void
preflight_pidfile(struct config *c)
{
	struct stat	 st;

	if (c->pidfile[0] == '\0')
		return;
	if (preflight_dir_of("pidfile", c->pidfile) == -1)
		return;
	if (stat(c->pidfile, &st) == 0 && S_ISDIR(st.st_mode))
		log_error("pidfile %s: %s", c->pidfile, strerror(EISDIR));
}

/* As master_drop_privileges(): resolve the user and drop to it. */
static void
preflight_user(struct config *c)
{
	struct passwd	*pw;
	const char	*user = c->user;

	if (geteuid() != 0) {
		if (user[0] == '\0')
			return;
		if ((pw = getpwnam(user)) == NULL) {
			log_error("user %s: no such user", user);
			return;
		}
		if (pw->pw_uid != geteuid())
			log_error("user %s: switching to it needs root", user);
		return;
	}
	if (user[0] == '\0')
		user = STARTERD_DEFAULT_USER;
	if ((pw = getpwnam(user)) == NULL) {
		log_error("user %s: no such user%s", user,
		    c->user[0] == '\0' ? " (give -u USER)" : "");
		return;
	}
	if (pw->pw_uid == 0) {
		log_error("user %s: refusing to run workers as root: give an "
		    "unprivileged user", user);
		return;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		log_error("user %s: dropping privileges: %s", user,
		    strerror(errno));
}

/* The workers open the access log, as the user: check it as the user. */
static void
preflight_access_log(struct config *c)
{
	struct stat	 st;
	char		 tmp[PATH_MAX], *dir;
	int		 fd;

	if (strcmp(c->access_log, "-") == 0 ||
	    strcmp(c->access_log, "off") == 0)
		return;
	if (stat(c->access_log, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			log_error("access log %s: %s", c->access_log,
			    strerror(EISDIR));
			return;
		}
		fd = open(c->access_log, O_WRONLY | O_APPEND | O_CLOEXEC |
		    O_NOCTTY | O_NONBLOCK);
		if (fd == -1)
			log_error("access log %s: %s", c->access_log,
			    strerror(errno));
		else
			close(fd);
		return;
	}
	if (preflight_dir_of("access log", c->access_log) == -1)
		return;
	strlcpy(tmp, c->access_log, sizeof(tmp));
	dir = dirname(tmp);
	if (access(dir, W_OK | X_OK) == -1)
		log_error("access log %s: directory %s: %s", c->access_log,
		    dir, strerror(errno));
}

/* A problem schema_bind() found, with its declaration's file:line. */
static void
preflight_res_report(void *arg, const char *line)
{
	(void)arg;
	log_error("%s", line);
}

/*
 * Every declaration against the catalog, by the workers' own rules: one
 * catalog query for all the declared tables, then schema_bind() for each
 * declaration, which says each problem.
 */
static void
preflight_resources(struct config *c, PGconn *pg)
{
	char		 tables[RES_MAX * (2 * sizeof(c->resources->table) + 3)
			    + 3], msg[2048];
	const char	*params[1];
	PGresult	*res;
	struct resource	*r;
	int		 i;

	if (resconf_tables(c->resources, c->nresources, tables,
	    sizeof(tables)) == -1) {
		log_error("resources: too many to check");
		return;
	}
	params[0] = tables;
	res = PQexecParams(pg, schema_catalog_sql, 1, NULL, params, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		strlcpy(msg, PQresultErrorMessage(res), sizeof(msg));
		str_oneline(msg, sizeof(msg));
		log_error("database: reading the catalog: %s", msg);
		PQclear(res);
		return;
	}
	/* A struct resource is large (its columns): not on the stack. */
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_error("resources: out of memory");
		PQclear(res);
		return;
	}
	for (i = 0; i < c->nresources; i++) {
		(void)schema_bind(pg, &c->resources[i], res, r,
		    preflight_res_report, NULL);
		schema_free(r);
	}
	free(r);
	PQclear(res);
}

/*
 * A connection to dsn as the workers make it, or NULL after saying why
 * (what names the setting when it is not --dsn).
 */
static PGconn *
preflight_connect(const char *what, const char *dsn)
{
	PGconn	*pg;
	char	 msg[2048];

	pg = PQconnectdb(dsn);
	if (PQstatus(pg) == CONNECTION_OK)
		return (pg);
	/* libpq names host and database, never the password */
	strlcpy(msg, PQerrorMessage(pg), sizeof(msg));
	str_oneline(msg, sizeof(msg));
	log_error("database%s%s%s: %s", what != NULL ? " (" : "",
	    what != NULL ? what : "", what != NULL ? ")" : "", msg);
	PQfinish(pg);
	return (NULL);
}

/*
 * The primary (--dsn) and every declaration against its catalog; then
 * the replicas' and the listener's connections, which a worker opens as
 * well: a read link that never connects sends every read to the primary,
 * a listener that never connects leaves the cache without its NOTIFYs.
 */
static void
preflight_db(struct config *c)
{
	PGconn	*pg;

	if ((pg = preflight_connect(NULL, c->dsn)) != NULL) {
		preflight_resources(c, pg);
		PQfinish(pg);
	}
	if (c->read_dsn != NULL && c->read_dsn[0] != '\0' &&
	    (pg = preflight_connect("--read-dsn", c->read_dsn)) != NULL)
		PQfinish(pg);
	if (c->listen_dsn != NULL && c->listen_dsn[0] != '\0' &&
	    (pg = preflight_connect("--listen-dsn", c->listen_dsn)) != NULL)
		PQfinish(pg);
}

/* starterd -t: 0 when all is good, 1 otherwise. */
int
preflight_run(struct config *c)
{
	struct stat	 st;

	log_set_strict(1);
	if (!c->config_explicit && stat(c->config_file, &st) == -1)
		log_error("config file %s: %s (give -f FILE)", c->config_file,
		    strerror(errno));
	preflight_bind(c);
	preflight_shm();
	preflight_pidfile(c);
	preflight_user(c);
	preflight_access_log(c);
	if (!c->test_config_only)
		preflight_db(c);
	if (log_problems() > 0)
		return (1);
	if (log_getlevel() < LOG_LVL_INFO)
		log_setlevel(LOG_LVL_INFO);
	log_info("configuration %s is ok%s", c->config_file,
	    c->test_config_only ? " (database not checked)" :
	    ", database reachable");
	return (0);
}
