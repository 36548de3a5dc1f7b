/*
 * starterctl: manage the starterd database from the command line.
 *
 * Applies the migrations compiled in from sql/migrations (table
 * starterd_schema_version records them), loads the demo rows, manages
 * the users of HTTP Basic authentication and their groups, and lists,
 * checks and installs the NOTIFY triggers of the resources declared in
 * the configuration file.  Blocking libpq; every statement that carries
 * user data is parameterised, and identifiers (declared tables) are
 * quoted with PQescapeIdentifier.  Passwords are never printed and are
 * wiped with explicit_bzero as soon as they are hashed.
 *
 * Exit status: 0 success, 1 error, 2 usage.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/readpassphrase.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <libpq-fe.h>

#include "migrations.h"
#include "password.h"
#include "str.h"

#define CTL_EXIT_OK		0
#define CTL_EXIT_ERROR		1
#define CTL_EXIT_USAGE		2

#define CTL_PASSWORD_MAX	1024	/* bytes, without the newline */
#define CTL_USERNAME_MAX	64	/* starter_users.username varchar(64) */
#define CTL_GROUP_MAX		63	/* as a declaration's group:NAME */
#define CTL_DEMO_ENCOUNTERS	1000	/* synthetic rows of load-demo */
#define CTL_DEMO_SEED		0x5eed2026u
#define CTL_ARGON2_M_MIN	8
#define CTL_ARGON2_M_MAX	(4 * 1024 * 1024)	/* 4 GiB in KiB */
#define CTL_ARGON2_T_MAX	64
/* pg_advisory_xact_lock key shared by initdb and resetdb: "strd" */
#define CTL_LOCK_KEY		"1937011300"

struct ctl {
	const char		*dsn;
	PGconn			*conn;
	struct password_params	 pp;
	int			 yes;
	int			 pwstdin;
};

/*
 * What adduser and passwd differ in: whether the user must exist already,
 * the statement that stores the new hash ($1 the name, $2 the hash; it
 * must change one row) and the messages, each of which takes the name.
 */
struct setpw {
	int		 exists;	/* the user must be there already */
	const char	*lookup_err;	/* the user is (not) there */
	const char	*sql;
	const char	*store_err;	/* sql changed no row */
	const char	*done;		/* printed on success */
};

static void	ctl_warnx(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static void	usage(FILE *);
static int	ctl_connect(struct ctl *);
static int	ctl_exec(struct ctl *, const char *);
static PGresult	*ctl_params(struct ctl *, const char *, int, const char *const *,
		    ExecStatusType);
static int	ctl_rollback(struct ctl *);
static int	ctl_readpw(struct ctl *, char *, size_t);
static int	ctl_newhash(struct ctl *, char *, size_t);
static int	ctl_checkname(const char *);
static int	ctl_setpw(struct ctl *, const char *, const struct setpw *);
static int	migrate(struct ctl *);
static int	cmd_initdb(struct ctl *, int, char **);
static int	ctl_confirm_reset(void);
static int	cmd_resetdb(struct ctl *, int, char **);
static int	cmd_adduser(struct ctl *, int, char **);
static int	cmd_passwd(struct ctl *, int, char **);
static int	cmd_deluser(struct ctl *, int, char **);
static int	cmd_users(struct ctl *, int, char **);
static int	ctl_group_usage(int, char **);
static int	cmd_group(struct ctl *, int, char **);
static int	cmd_loaddemo(struct ctl *, int, char **);
static int	cmd_hash(struct ctl *, int, char **);
static int	cmd_status(struct ctl *, int, char **);

/*
 * The commands.  A synopsis is also what the bash completion reads
 * (etc/bash-completion/starterctl): the command's own options in
 * brackets ("[--yes]", "[-f FILE]"), its subcommands as words joined by
 * '|', operands in capitals, and the description after two blanks.
 */
static const struct command {
	const char	*name;
	int		 (*fn)(struct ctl *, int, char **);
	int		 minargs;	/* operands after the command name */
	int		 maxargs;
	int		 db;		/* needs a connection */
	int		 pwstdin;	/* takes --password-stdin */
	int		 yes;		/* takes --yes */
	const char	*synopsis;
} commands[] = {
	{ "initdb", cmd_initdb, 0, 0, 1, 0, 0,
	    "initdb                      apply pending migrations" },
	{ "resetdb", cmd_resetdb, 0, 0, 1, 0, 1,
	    "resetdb [--yes]             drop all starter tables, then initdb" },
	{ "adduser", cmd_adduser, 1, 1, 1, 1, 0,
	    "adduser NAME [--password-stdin]" },
	{ "passwd", cmd_passwd, 1, 1, 1, 1, 0,
	    "passwd NAME [--password-stdin]" },
	{ "deluser", cmd_deluser, 1, 1, 1, 0, 0,
	    "deluser NAME" },
	{ "users", cmd_users, 0, 0, 1, 0, 0,
	    "users                       list user names" },
	{ "group", cmd_group, 1, 3, 1, 0, 0,
	    "group add|del USER GROUP | list [USER]  group membership" },
	{ "load-demo", cmd_loaddemo, 0, 0, 1, 0, 0,
	    "load-demo                   insert the demo pxcodes and "
	    "encounters" },
	{ "hash", cmd_hash, 0, 0, 0, 1, 0,
	    "hash [--password-stdin]     print an argon2id hash" },
	{ "status", cmd_status, 0, 0, 1, 0, 0,
	    "status                      schema, pending migrations, users, "
	    "resources" },
};

static void
ctl_warnx(const char *fmt, ...)
{
	char	 msg[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	str_oneline(msg, sizeof(msg));
	fprintf(stderr, "%s: %s\n", getprogname(), msg);
}

static void
usage(FILE *fp)
{
	size_t	i;

	fprintf(fp, "usage: %1$s [-d DSN] [--argon2-memory KIB] "
	    "[--argon2-time N] COMMAND\n"
	    "       %1$s -h | --help\n"
	    "       %1$s -V | --version\n"
	    "commands:\n", getprogname());
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %s\n", commands[i].synopsis);
	fprintf(fp, "The DSN comes from -d, else STARTERD_DSN, else "
	    "DATABASE_URL, else libpq's PG* variables.\n");
}

/*
 * client_min_messages = warning hides "relation already exists, skipping";
 * what still arrives (resetdb's list of dropped objects) goes to stderr.
 */
static void
ctl_notice(void *arg, const char *msg)
{
	(void)arg;
	if (strncmp(msg, "WARNING:  ", 10) == 0)
		msg += 10;
	ctl_warnx("%s", msg);
}

static int
ctl_connect(struct ctl *c)
{
	const char	*dsn = c->dsn;
	PGresult	*res;

	if (dsn == NULL || *dsn == '\0')
		dsn = getenv("STARTERD_DSN");
	if (dsn == NULL || *dsn == '\0')
		dsn = getenv("DATABASE_URL");
	if (dsn == NULL)
		dsn = "";
	c->conn = PQconnectdb(dsn);
	if (PQstatus(c->conn) != CONNECTION_OK) {
		/* libpq's message names host and database, never the password */
		ctl_warnx("cannot connect to the database: %s",
		    PQerrorMessage(c->conn));
		return (-1);
	}
	PQsetNoticeProcessor(c->conn, ctl_notice, NULL);
	res = PQexec(c->conn, "SET client_min_messages = warning");
	PQclear(res);
	return (0);
}

/* Run fixed SQL text (no user data); 0 or -1. */
static int
ctl_exec(struct ctl *c, const char *sql)
{
	PGresult	*res;
	int		 rv = 0;

	res = PQexec(c->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		ctl_warnx("%s", PQresultErrorMessage(res));
		rv = -1;
	}
	PQclear(res);
	return (rv);
}

/*
 * Run a parameterised statement; the caller frees the result.  NULL (and
 * the server's message printed) unless the status is the one expected.
 */
static PGresult *
ctl_params(struct ctl *c, const char *sql, int n, const char *const *vals,
    ExecStatusType want)
{
	PGresult	*res;

	res = PQexecParams(c->conn, sql, n, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != want) {
		ctl_warnx("%s", PQresultErrorMessage(res));
		if (PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL &&
		    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE),
		    "42P01") == 0)
			ctl_warnx("the schema is missing: "
			    "run 'starterctl initdb' first");
		PQclear(res);
		return (NULL);
	}
	return (res);
}

static int
ctl_rollback(struct ctl *c)
{
	PGresult	*res;

	res = PQexec(c->conn, "ROLLBACK");
	PQclear(res);
	return (-1);
}

/* A one-parameter question answered by one boolean: 1, 0, or -1. */
static int
ctl_exists(struct ctl *c, const char *sql, const char *param)
{
	PGresult	*res;
	int		 rv;

	if ((res = ctl_params(c, sql, 1, &param, PGRES_TUPLES_OK)) == NULL)
		return (-1);
	rv = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return (rv);
}

/* 1 if the user exists, 0 if not, -1 on error. */
static int
ctl_user_exists(struct ctl *c, const char *name)
{
	return (ctl_exists(c, "SELECT EXISTS (SELECT 1 FROM starter_users "
	    "WHERE username = $1)", name));
}

/*
 * Read a password into pw (size bytes): one line from stdin with
 * --password-stdin, else twice from the terminal without echo.
 * Empty passwords are refused.  0 or -1; pw is wiped on failure.
 */
static int
ctl_readpw(struct ctl *c, char *pw, size_t size)
{
	char	 again[CTL_PASSWORD_MAX + 2];
	size_t	 len;
	int	 rv = -1;

	if (c->pwstdin) {
		if (fgets(pw, (int)size, stdin) == NULL) {
			ctl_warnx("no password on standard input");
			goto done;
		}
		len = strcspn(pw, "\r\n");
		if (pw[len] == '\0' && len == size - 1) {
			ctl_warnx("password longer than %d bytes",
			    CTL_PASSWORD_MAX);
			goto done;
		}
		pw[len] = '\0';
	} else {
		if (readpassphrase("Password: ", pw, size,
		    RPP_REQUIRE_TTY) == NULL) {
			ctl_warnx("cannot read a password from the terminal "
			    "(use --password-stdin)");
			goto done;
		}
		if (readpassphrase("Password again: ", again, sizeof(again),
		    RPP_REQUIRE_TTY) == NULL) {
			ctl_warnx("cannot read a password from the terminal");
			goto done;
		}
		if (strcmp(pw, again) != 0) {
			ctl_warnx("passwords do not match");
			goto done;
		}
	}
	if (pw[0] == '\0') {
		ctl_warnx("empty password refused");
		goto done;
	}
	if (strlen(pw) > CTL_PASSWORD_MAX) {
		ctl_warnx("password longer than %d bytes", CTL_PASSWORD_MAX);
		goto done;
	}
	rv = 0;
done:
	explicit_bzero(again, sizeof(again));
	if (rv == -1)
		explicit_bzero(pw, size);
	return (rv);
}

/* Read a password and hash it into phc; 0 or -1. */
static int
ctl_newhash(struct ctl *c, char *phc, size_t size)
{
	char	pw[CTL_PASSWORD_MAX + 2];
	int	rv;

	if (ctl_readpw(c, pw, sizeof(pw)) == -1)
		return (-1);
	rv = password_hash(pw, &c->pp, phc, size);
	explicit_bzero(pw, sizeof(pw));
	if (rv == -1)
		ctl_warnx("password hashing failed (argon2 memory %u KiB, "
		    "time %u)", c->pp.m_cost_kib, c->pp.t_cost);
	return (rv);
}

static int
ctl_checkname(const char *name)
{
	const unsigned char	*p;

	if (*name == '\0' || strlen(name) > CTL_USERNAME_MAX) {
		ctl_warnx("user name must be 1 to %d bytes", CTL_USERNAME_MAX);
		return (-1);
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		/* ':' cannot appear in an HTTP Basic user-id */
		if (*p < 0x21 || *p == 0x7f || *p == ':') {
			ctl_warnx("user name must not contain spaces, control "
			    "characters or ':'");
			return (-1);
		}
	}
	return (0);
}

/*
 * Apply the pending migrations in one transaction.  The advisory lock
 * serialises concurrent initdb runs (and starterd instances running it).
 */
static int
migrate(struct ctl *c)
{
	const char	*params[2];
	PGresult	*res;
	char		 vbuf[16];
	size_t		 i;
	int		 applied = 0, have, row, nrows;

	if (ctl_exec(c, "BEGIN") == -1)
		return (-1);
	params[0] = CTL_LOCK_KEY;
	if ((res = ctl_params(c, "SELECT pg_advisory_xact_lock($1::bigint)",
	    1, params, PGRES_TUPLES_OK)) == NULL)
		return (ctl_rollback(c));
	PQclear(res);
	if (ctl_exec(c, "CREATE TABLE IF NOT EXISTS starterd_schema_version ("
	    "version int PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())") == -1)
		return (ctl_rollback(c));

	for (i = 0; i < nmigrations; i++) {
		snprintf(vbuf, sizeof(vbuf), "%d", migrations[i].version);
		params[0] = vbuf;
		if ((res = ctl_params(c, "SELECT 1 FROM starterd_schema_version"
		    " WHERE version = $1::int", 1, params,
		    PGRES_TUPLES_OK)) == NULL)
			return (ctl_rollback(c));
		have = PQntuples(res) > 0;
		PQclear(res);
		if (have)
			continue;
		/* Migration text is ours, compiled in: plain PQexec. */
		if (ctl_exec(c, migrations[i].sql) == -1) {
			ctl_warnx("migration %03d_%s failed",
			    migrations[i].version, migrations[i].name);
			return (ctl_rollback(c));
		}
		params[1] = migrations[i].name;
		if ((res = ctl_params(c, "INSERT INTO starterd_schema_version "
		    "(version, name) VALUES ($1::int, $2)", 2, params,
		    PGRES_COMMAND_OK)) == NULL)
			return (ctl_rollback(c));
		PQclear(res);
		printf("applied %03d_%s\n", migrations[i].version,
		    migrations[i].name);
		applied++;
	}
	if (ctl_exec(c, "COMMIT") == -1)
		return (-1);

	if (applied == 0) {
		res = PQexec(c->conn, "SELECT max(version) "
		    "FROM starterd_schema_version");
		nrows = PQresultStatus(res) == PGRES_TUPLES_OK ?
		    PQntuples(res) : 0;
		for (row = 0; row < nrows; row++)
			printf("schema is up to date (version %s)\n",
			    PQgetvalue(res, row, 0));
		PQclear(res);
	}
	return (0);
}

static int
cmd_initdb(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return (migrate(c));
}

/*
 * Ask for "yes" on the terminal.  0 when given; -1 otherwise; exits with
 * the usage status when there is no terminal to ask on.
 */
static int
ctl_confirm_reset(void)
{
	char	answer[16];

	if (readpassphrase("This drops every starter_* and starterd_* "
	    "table and their data.\nType yes to continue: ", answer,
	    sizeof(answer), RPP_ECHO_ON | RPP_REQUIRE_TTY) == NULL) {
		ctl_warnx("resetdb: no terminal to confirm on; use --yes");
		exit(CTL_EXIT_USAGE);
	}
	if (strcmp(answer, "yes") != 0) {
		ctl_warnx("resetdb: not confirmed, nothing dropped");
		return (-1);
	}
	return (0);
}

static int
cmd_resetdb(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!c->yes)	/* main() asks before connecting */
		return (-1);
	if (ctl_exec(c, "BEGIN") == -1)
		return (-1);
	if (ctl_exec(c, "SELECT pg_advisory_xact_lock(" CTL_LOCK_KEY ")")
	    == -1)
		return (ctl_rollback(c));
	/* Names come from the catalogue and are quoted with %I / regprocedure. */
	if (ctl_exec(c,
	    "DO $reset$\n"
	    "DECLARE r record;\n"
	    "BEGIN\n"
	    "  FOR r IN SELECT c.relname FROM pg_class c\n"
	    "      JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	    "      WHERE n.nspname = current_schema() AND c.relkind IN "
	    "('r', 'p')\n"
	    "        AND (c.relname LIKE 'starter\\_%' OR "
	    "c.relname LIKE 'starterd\\_%')\n"
	    "  LOOP\n"
	    "    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.relname);\n"
	    "    RAISE WARNING 'dropped table %', r.relname;\n"
	    "  END LOOP;\n"
	    "  FOR r IN SELECT p.oid::regprocedure::text AS sig FROM pg_proc p\n"
	    "      JOIN pg_namespace n ON n.oid = p.pronamespace\n"
	    "      WHERE n.nspname = current_schema()\n"
	    "        AND p.proname LIKE 'starterd\\_%'\n"
	    "  LOOP\n"
	    "    EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.sig);\n"
	    "    RAISE WARNING 'dropped function %', r.sig;\n"
	    "  END LOOP;\n"
	    "END\n"
	    "$reset$") == -1)
		return (ctl_rollback(c));
	if (ctl_exec(c, "COMMIT") == -1)
		return (-1);
	return (migrate(c));
}

/*
 * adduser and passwd: look the user up first, so that nobody types a
 * password in vain, then read a new password, hash it and store it.
 */
static int
ctl_setpw(struct ctl *c, const char *name, const struct setpw *sp)
{
	const char	*params[2];
	PGresult	*res;
	char		 phc[PASSWORD_PHC_MAX];
	int		 n, rv = -1;

	if ((n = ctl_user_exists(c, name)) == -1)
		return (-1);
	if (n != sp->exists) {
		ctl_warnx(sp->lookup_err, name);
		return (-1);
	}
	if (ctl_newhash(c, phc, sizeof(phc)) == -1)
		goto done;
	params[0] = name;
	params[1] = phc;
	if ((res = ctl_params(c, sp->sql, 2, params,
	    PGRES_COMMAND_OK)) == NULL)
		goto done;
	n = atoi(PQcmdTuples(res));	/* usernames are unique: 0 or 1 */
	PQclear(res);
	if (n != 1) {
		ctl_warnx(sp->store_err, name);
		goto done;
	}
	printf(sp->done, name);
	rv = 0;
done:
	explicit_bzero(phc, sizeof(phc));
	return (rv);
}

static int
cmd_adduser(struct ctl *c, int argc, char **argv)
{
	static const struct setpw add = { 0,
	    "user '%s' already exists (use passwd to change the password)",
	    "INSERT INTO starter_users (username, password_hash) "
	    "VALUES ($1, $2) ON CONFLICT (username) DO NOTHING",
	    "user '%s' already exists", "added user %s\n" };

	(void)argc;
	if (ctl_checkname(argv[0]) == -1)
		return (-1);
	return (ctl_setpw(c, argv[0], &add));
}

static int
cmd_passwd(struct ctl *c, int argc, char **argv)
{
	static const struct setpw change = { 1, "no such user '%s'",
	    "UPDATE starter_users SET password_hash = $2 "
	    "WHERE username = $1",
	    "no such user '%s'", "changed the password of %s\n" };

	(void)argc;
	return (ctl_setpw(c, argv[0], &change));
}

static int
cmd_deluser(struct ctl *c, int argc, char **argv)
{
	const char	*params[1];
	PGresult	*res;
	int		 n;

	(void)argc;
	params[0] = argv[0];
	if ((res = ctl_params(c, "DELETE FROM starter_users "
	    "WHERE username = $1", 1, params, PGRES_COMMAND_OK)) == NULL)
		return (-1);
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	if (n == 0) {
		ctl_warnx("no such user '%s'", argv[0]);
		return (-1);
	}
	printf("deleted user %s\n", argv[0]);
	return (0);
}

static int
cmd_users(struct ctl *c, int argc, char **argv)
{
	PGresult	*res;
	int		 i;

	(void)argc;
	(void)argv;
	if ((res = ctl_params(c, "SELECT username FROM starter_users "
	    "ORDER BY username", 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return (-1);
	for (i = 0; i < PQntuples(res); i++)
		printf("%s\n", PQgetvalue(res, i, 0));
	PQclear(res);
	return (0);
}

/*
 * group add|del USER GROUP, group list [USER]: the operands each
 * subcommand takes; nonzero when they are wrong (a usage error).
 */
static int
ctl_group_usage(int argc, char **argv)
{
	if (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0)
		return (argc != 3);
	if (strcmp(argv[0], "list") == 0)
		return (argc > 2);
	return (1);
}

/* A group name as a declaration's group:NAME may say it. */
static int
ctl_checkgroup(const char *name)
{
	size_t	n;

	n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-");
	if (n == 0 || name[n] != '\0' || n > CTL_GROUP_MAX) {
		ctl_warnx("group name must be 1 to %d letters, digits, "
		    "'_', '.' or '-'", CTL_GROUP_MAX);
		return (-1);
	}
	return (0);
}

/*
 * Add or remove a membership in one statement ($1 the user, $2 the
 * group); when it changed no row, the user is looked up to say why.
 */
static int
ctl_group_change(struct ctl *c, const char *user, const char *group,
    int add)
{
	const char	*params[2];
	PGresult	*res;
	int		 n;

	params[0] = user;
	params[1] = group;
	if ((res = ctl_params(c, add ?
	    "INSERT INTO starter_user_groups (user_id, name) "
	    "SELECT id, $2 FROM starter_users WHERE username = $1 "
	    "ON CONFLICT DO NOTHING" :
	    "DELETE FROM starter_user_groups g USING starter_users u "
	    "WHERE g.user_id = u.id AND u.username = $1 AND g.name = $2",
	    2, params, PGRES_COMMAND_OK)) == NULL)
		return (-1);
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	if (n > 0) {
		printf(add ? "added %s to group %s\n" :
		    "removed %s from group %s\n", user, group);
		return (0);
	}
	if ((n = ctl_user_exists(c, user)) != 1) {
		if (n == 0)
			ctl_warnx("no such user '%s'", user);
		return (-1);
	}
	if (add) {	/* already there: what was asked for holds */
		printf("%s is already in group %s\n", user, group);
		return (0);
	}
	ctl_warnx("user '%s' is not in group '%s'", user, group);
	return (-1);
}

/*
 * group list: "GROUP USER" a line, by group then user; group list USER:
 * that user's groups, one a line.
 */
static int
ctl_group_list(struct ctl *c, const char *user)
{
	const char	*params[1];
	PGresult	*res;
	int		 i, n;

	if (user != NULL && (n = ctl_user_exists(c, user)) != 1) {
		if (n == 0)
			ctl_warnx("no such user '%s'", user);
		return (-1);
	}
	params[0] = user;
	if ((res = ctl_params(c, user != NULL ?
	    "SELECT g.name FROM starter_user_groups g "
	    "JOIN starter_users u ON u.id = g.user_id "
	    "WHERE u.username = $1 ORDER BY g.name" :
	    "SELECT g.name, u.username FROM starter_user_groups g "
	    "JOIN starter_users u ON u.id = g.user_id "
	    "ORDER BY g.name, u.username", user != NULL, params,
	    PGRES_TUPLES_OK)) == NULL)
		return (-1);
	for (i = 0; i < PQntuples(res); i++) {
		if (user != NULL)
			printf("%s\n", PQgetvalue(res, i, 0));
		else
			printf("%s %s\n", PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return (0);
}

static int
cmd_group(struct ctl *c, int argc, char **argv)
{
	if (strcmp(argv[0], "list") == 0)
		return (ctl_group_list(c, argc > 1 ? argv[1] : NULL));
	if (ctl_checkgroup(argv[2]) == -1)
		return (-1);
	return (ctl_group_change(c, argv[1], argv[2],
	    strcmp(argv[0], "add") == 0));
}

/* xorshift32: the same sequence on every run and every machine. */
static uint32_t
ctl_rand(uint32_t *state)
{
	uint32_t	x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return (*state = x);
}

/* Notes of the demo encounters: quotes and non-ASCII text on purpose. */
static const char *const ctl_demo_notes[] = {
	"first visit",
	"follow-up in two weeks",
	"referred by the GP",
	"paid in cash",
	"insurance claim pending",
	"second opinion requested",
	"rescheduled twice",
	"patient said \"much better\"",
	"seen at the Caf\xc3\xa9 Clinic, Z\xc3\xbcrich",
	"back-slash \\ and tab\tin a note",
};
#define CTL_DEMO_NNOTES	(sizeof(ctl_demo_notes) / sizeof(ctl_demo_notes[0]))

/*
 * The synthetic encounters, in load-demo's transaction: CTL_DEMO_ENCOUNTERS
 * rows drawn from a fixed seed, so that every run makes the same rows
 * (ids from 1, created_at too), each on one of the demo pxcodes, which the
 * transaction has just made sure of.  Only into an empty table: rows that
 * are there are somebody's.  The number added (0: the table had rows),
 * or -1.
 */
static long
ctl_demo_encounters(struct ctl *c)
{
	const char	*params[6];
	PGresult	*res;
	char		 day[16], charge[16], secs[16];
	uint32_t	 seed = CTL_DEMO_SEED, cents;
	long		 i, added = 0;
	int		 full;

	/* Two load-demo at once: the second waits, then finds rows. */
	if (ctl_exec(c, "LOCK TABLE starter_encounters "
	    "IN SHARE ROW EXCLUSIVE MODE") == -1)
		return (-1);
	if ((res = ctl_params(c, "SELECT EXISTS "
	    "(SELECT 1 FROM starter_encounters)", 0, NULL,
	    PGRES_TUPLES_OK)) == NULL)
		return (-1);
	full = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (full)
		return (0);
	if (ctl_exec(c, "SELECT setval(pg_get_serial_sequence("
	    "'starter_encounters', 'id'), 1, false)") == -1)
		return (-1);

	for (i = 0; i < CTL_DEMO_ENCOUNTERS; i++) {
		params[0] = demo_rows[ctl_rand(&seed) % ndemo_rows].pxcode;
		snprintf(day, sizeof(day), "%u", ctl_rand(&seed) % 365);
		params[1] = day;
		/* a tenth free of charge; else up to 4999.99 */
		cents = ctl_rand(&seed) % 10 == 0 ? 0 :
		    ctl_rand(&seed) % 500000;
		snprintf(charge, sizeof(charge), "%u.%02u", cents / 100,
		    cents % 100);
		params[2] = charge;
		params[3] = ctl_rand(&seed) % 3 != 0 ? "t" : "f";
		/* two notes in five are NULL */
		params[4] = ctl_rand(&seed) % 5 < 2 ? NULL :
		    ctl_demo_notes[ctl_rand(&seed) % CTL_DEMO_NNOTES];
		/* entered that day between 08:00 and 18:00 UTC */
		snprintf(secs, sizeof(secs), "%u",
		    8 * 3600 + ctl_rand(&seed) % (10 * 3600));
		params[5] = secs;
		if ((res = ctl_params(c, "INSERT INTO starter_encounters "
		    "(pxcode, seen_on, charge, paid, note, created_at) "
		    "VALUES ($1, DATE '2025-01-01' + $2::int, $3, $4, $5, "
		    "(DATE '2025-01-01' + $2::int + $6::int * "
		    "interval '1 second') AT TIME ZONE 'UTC')", 6, params,
		    PGRES_COMMAND_OK)) == NULL)
			return (-1);
		added += atol(PQcmdTuples(res));
		PQclear(res);
	}
	return (added);
}

/*
 * The 100 demo pxcodes (those missing are added) and the demo encounters
 * (only into an empty table), in one transaction.
 */
static int
cmd_loaddemo(struct ctl *c, int argc, char **argv)
{
	const char	*params[2];
	PGresult	*res;
	size_t		 i;
	long		 added = 0, enc;

	(void)argc;
	(void)argv;
	if (ctl_exec(c, "BEGIN") == -1)
		return (-1);
	for (i = 0; i < ndemo_rows; i++) {
		params[0] = demo_rows[i].pxcode;
		params[1] = demo_rows[i].procedure;
		if ((res = ctl_params(c, "INSERT INTO starter_pxcodes "
		    "(pxcode, procedure) VALUES ($1, $2) "
		    "ON CONFLICT (pxcode) DO NOTHING", 2, params,
		    PGRES_COMMAND_OK)) == NULL)
			return (ctl_rollback(c));
		added += atol(PQcmdTuples(res));
		PQclear(res);
	}
	if ((enc = ctl_demo_encounters(c)) == -1)
		return (ctl_rollback(c));
	if (ctl_exec(c, "COMMIT") == -1)
		return (-1);
	printf("load-demo: added %ld of %zu demo rows\n", added, ndemo_rows);
	if (enc > 0)
		printf("load-demo: added %ld demo encounters\n", enc);
	else
		printf("load-demo: starter_encounters has rows already: "
		    "no demo encounters added\n");
	return (0);
}

static int
cmd_hash(struct ctl *c, int argc, char **argv)
{
	char	phc[PASSWORD_PHC_MAX];

	(void)argc;
	(void)argv;
	if (ctl_newhash(c, phc, sizeof(phc)) == -1)
		return (-1);
	printf("%s\n", phc);
	explicit_bzero(phc, sizeof(phc));
	return (0);
}

/*
 * The tables starterd serves, each with the fixed statement that counts
 * its rows (an identifier cannot be a parameter).
 */
static const struct ctl_resource {
	const char	*table;
	const char	*count_sql;
} ctl_resources[] = {
	{ "starter_pxcodes", "SELECT count(*) FROM starter_pxcodes" },
};

/* 1 if the table exists, 0 if not, -1 on error. */
static int
ctl_table_exists(struct ctl *c, const char *table)
{
	return (ctl_exists(c, "SELECT to_regclass($1) IS NOT NULL", table));
}

/* Print "key: count" from a one-value statement; "no table" if missing. */
static int
ctl_status_count(struct ctl *c, const char *key, const char *table,
    const char *sql)
{
	PGresult	*res;
	int		 have;

	if ((have = ctl_table_exists(c, table)) == -1)
		return (-1);
	if (!have) {
		printf("%s: no table (run 'starterctl initdb')\n", key);
		return (0);
	}
	if ((res = ctl_params(c, sql, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return (-1);
	printf("%s: %s\n", key, PQntuples(res) == 1 ?
	    PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
	return (0);
}

/*
 * status: one "key: value" line each for the schema version, the pending
 * migrations (count, then names), the users and the resources served
 * with their row counts.  Reads only.
 */
static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	const char	*params[1];
	PGresult	*res;
	char		 vbuf[16], key[96];
	size_t		 i, npending = 0;
	int		 have, applied, sep = 0;
	char		*done;

	(void)argc;
	(void)argv;
	if ((have = ctl_table_exists(c, "starterd_schema_version")) == -1)
		return (-1);
	if ((done = calloc(nmigrations + 1, 1)) == NULL) {
		ctl_warnx("out of memory");
		return (-1);
	}
	if (have) {
		if ((res = ctl_params(c, "SELECT coalesce(max(version), 0) "
		    "FROM starterd_schema_version", 0, NULL,
		    PGRES_TUPLES_OK)) == NULL) {
			free(done);
			return (-1);
		}
		printf("schema_version: %s\n", PQgetvalue(res, 0, 0));
		PQclear(res);
		for (i = 0; i < nmigrations; i++) {
			snprintf(vbuf, sizeof(vbuf), "%d",
			    migrations[i].version);
			params[0] = vbuf;
			if ((res = ctl_params(c, "SELECT 1 FROM "
			    "starterd_schema_version WHERE version = $1::int",
			    1, params, PGRES_TUPLES_OK)) == NULL) {
				free(done);
				return (-1);
			}
			applied = PQntuples(res) > 0;
			PQclear(res);
			done[i] = (char)applied;
		}
	} else
		printf("schema_version: 0\n");
	for (i = 0; i < nmigrations; i++)
		npending += !done[i];
	printf("migrations_pending: %zu\n", npending);
	printf("migrations_pending_names:");
	for (i = 0; i < nmigrations; i++) {
		if (done[i])
			continue;
		printf("%s%03d_%s", sep ? ", " : " ", migrations[i].version,
		    migrations[i].name);
		sep = 1;
	}
	printf("%s\n", sep ? "" : " none");
	free(done);

	if (ctl_status_count(c, "users", "starter_users",
	    "SELECT count(*) FROM starter_users") == -1)
		return (-1);
	printf("resources:");
	for (i = 0; i < sizeof(ctl_resources) / sizeof(ctl_resources[0]); i++)
		printf("%s%s", i ? ", " : " ", ctl_resources[i].table);
	printf("\n");
	for (i = 0; i < sizeof(ctl_resources) / sizeof(ctl_resources[0]);
	    i++) {
		snprintf(key, sizeof(key), "%s.rows", ctl_resources[i].table);
		if (ctl_status_count(c, key, ctl_resources[i].table,
		    ctl_resources[i].count_sql) == -1)
			return (-1);
	}
	return (0);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "dsn",		required_argument,	NULL, 'd' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "argon2-memory",	required_argument,	NULL, 'M' },
		{ "argon2-time",	required_argument,	NULL, 'T' },
		{ "password-stdin",	no_argument,		NULL, 'S' },
		{ "version",		no_argument,		NULL, 'V' },
		{ "yes",		no_argument,		NULL, 'y' },
		{ NULL,			0,			NULL, 0 }
	};
	struct ctl		 c;
	const struct command	*cmd = NULL;
	const char		*errstr;
	size_t			 i;
	int			 ch, rv;

	/*
	 * Messages name the program, not the path it was run by.  libbsd's
	 * setprogname keeps what follows the last '/'; glibc's getopt names
	 * argv[0] in its own messages, so that becomes the short name too.
	 */
	if (argc > 0 && argv[0] != NULL && *argv[0] != '\0') {
		setprogname(argv[0]);
		argv[0] = (char *)getprogname();
	} else
		setprogname("starterctl");

	memset(&c, 0, sizeof(c));
	password_params_default(&c.pp);

	while ((ch = getopt_long(argc, argv, "d:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			c.dsn = optarg;
			break;
		case 'h':
			usage(stdout);
			return (CTL_EXIT_OK);
		case 'V':
			printf("starterctl %s\n", PACKAGE_VERSION);
			return (CTL_EXIT_OK);
		case 'M':
			c.pp.m_cost_kib = strtonum(optarg, CTL_ARGON2_M_MIN,
			    CTL_ARGON2_M_MAX, &errstr);
			if (errstr != NULL) {
				ctl_warnx("--argon2-memory %s: %s (KiB, %d..%d)",
				    optarg, errstr, CTL_ARGON2_M_MIN,
				    CTL_ARGON2_M_MAX);
				return (CTL_EXIT_USAGE);
			}
			break;
		case 'T':
			c.pp.t_cost = strtonum(optarg, 1, CTL_ARGON2_T_MAX,
			    &errstr);
			if (errstr != NULL) {
				ctl_warnx("--argon2-time %s: %s (1..%d)",
				    optarg, errstr, CTL_ARGON2_T_MAX);
				return (CTL_EXIT_USAGE);
			}
			break;
		case 'S':
			c.pwstdin = 1;
			break;
		case 'y':
			c.yes = 1;
			break;
		default:
			usage(stderr);
			return (CTL_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;

	if (argc < 1) {
		usage(stderr);
		return (CTL_EXIT_USAGE);
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		ctl_warnx("unknown command '%s'", argv[0]);
		usage(stderr);
		return (CTL_EXIT_USAGE);
	}
	if (argc - 1 < cmd->minargs || argc - 1 > cmd->maxargs ||
	    (cmd->fn == cmd_group && ctl_group_usage(argc - 1, argv + 1))) {
		ctl_warnx("%s: wrong number of arguments", cmd->name);
		fprintf(stderr, "usage: %s %s\n", getprogname(),
		    cmd->synopsis);
		return (CTL_EXIT_USAGE);
	}
	if ((c.pwstdin && !cmd->pwstdin) || (c.yes && !cmd->yes)) {
		ctl_warnx("%s does not take %s", cmd->name,
		    c.yes ? "--yes" : "--password-stdin");
		return (CTL_EXIT_USAGE);
	}

	if (cmd->fn == cmd_resetdb && !c.yes) {
		if (ctl_confirm_reset() == -1)
			return (CTL_EXIT_ERROR);
		c.yes = 1;
	}
	if (cmd->db && ctl_connect(&c) == -1) {
		PQfinish(c.conn);
		return (CTL_EXIT_ERROR);
	}
	rv = cmd->fn(&c, argc - 1, argv + 1);
	if (c.conn != NULL)
		PQfinish(c.conn);
	return (rv == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR);
}
