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
#include "starterd.h"
#include "str.h"

#define CTL_EXIT_OK		0
#define CTL_EXIT_ERROR		1
#define CTL_EXIT_USAGE		2

#define CTL_PASSWORD_MAX	1024	/* bytes, without the newline */
#define CTL_USERNAME_MAX	64	/* starter_users.username varchar(64) */
#define CTL_GROUP_MAX		63	/* as a declaration's group:NAME */
#define CTL_DEMO_ENCOUNTERS	1000	/* synthetic rows of load-demo */
#define CTL_DEMO_SEED		0x5eed2026u
#define CTL_CONF_LINE		4096	/* as starterd's config lines */
#define CTL_SQL_MAX		1024	/* a statement with two identifiers */
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
	const char		*conffile;	/* -f FILE */
};

/* What the catalog says of a declared table (ctl_table_find()). */
struct ctl_table {
	char		 nspname[RES_IDENT_MAX];
	char		 relname[RES_IDENT_MAX];
	char		 relkind;	/* pg_class.relkind */
	int		 notify;	/* its NOTIFY trigger is there */
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
static void	ctl_check_line(const struct res_decl *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
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
static int	cmd_resources(struct ctl *, int, char **);
static int	ctl_decls(struct ctl *, struct res_decl **, int *);
static int	ctl_install(struct ctl *, const struct res_decl *, int, int);

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
	int		 conf;		/* takes -f FILE */
	const char	*synopsis;
} commands[] = {
	{ "initdb", cmd_initdb, 0, 0, 1, 0, 0, 1,
	    "initdb [-f FILE]            apply pending migrations, install "
	    "the triggers" },
	{ "resetdb", cmd_resetdb, 0, 0, 1, 0, 1, 0,
	    "resetdb [--yes]             drop all starter tables, then initdb" },
	{ "adduser", cmd_adduser, 1, 1, 1, 1, 0, 0,
	    "adduser NAME [--password-stdin]" },
	{ "passwd", cmd_passwd, 1, 1, 1, 1, 0, 0,
	    "passwd NAME [--password-stdin]" },
	{ "deluser", cmd_deluser, 1, 1, 1, 0, 0, 0,
	    "deluser NAME" },
	{ "users", cmd_users, 0, 0, 1, 0, 0, 0,
	    "users                       list user names" },
	{ "group", cmd_group, 1, 3, 1, 0, 0, 0,
	    "group add|del USER GROUP | list [USER]  group membership" },
	{ "load-demo", cmd_loaddemo, 0, 0, 1, 0, 0, 0,
	    "load-demo                   insert the demo pxcodes and "
	    "encounters" },
	{ "hash", cmd_hash, 0, 0, 0, 1, 0, 0,
	    "hash [--password-stdin]     print an argon2id hash" },
	{ "status", cmd_status, 0, 0, 1, 0, 0, 1,
	    "status [-f FILE]            schema, pending migrations, users, "
	    "resources" },
	/* connects for check and install only */
	{ "resources", cmd_resources, 0, 1, 0, 0, 0, 1,
	    "resources [list|check|install] [-f FILE]  declared resources" },
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

/*
 * The migrations, then the NOTIFY trigger of each declared table that
 * lacks one (a table that is not there is only a warning: initdb's work
 * is the schema; `resources check` says more).
 */
static int
cmd_initdb(struct ctl *c, int argc, char **argv)
{
	struct res_decl	*decls;
	int		 n, problems;

	(void)argc;
	(void)argv;
	if (ctl_decls(c, &decls, &n) == -1)	/* before changing anything */
		return (-1);
	if (migrate(c) == -1) {
		free(decls);
		return (-1);
	}
	problems = ctl_install(c, decls, n, 0);
	free(decls);
	if (problems > 0)
		ctl_warnx("warning: %d declared resource%s without a trigger",
		    problems, problems == 1 ? "" : "s");
	return (problems == -1 ? -1 : 0);
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

/* ---------------------------------------------------------- resources */

/*
 * The declarations starterd would serve: the `resource` blocks of the
 * configuration file (-f FILE, else $STARTERD_CONFIG, else the compiled-in
 * path), else the built-in pxcodes one, as starterd decides: a default
 * file that is not there, or a file with no block, serves pxcodes alone.
 * The file's settings are starterd's own, not read here.  0 and *decls
 * (malloc'd, *n of them), or -1 (each mistake printed on its own line).
 */
static int
ctl_decls(struct ctl *c, struct res_decl **decls, int *n)
{
	struct res_decl	 d;
	FILE		*fp;
	const char	*path = c->conffile;
	char		 buf[CTL_CONF_LINE], *line, *p;
	int		 lineno = 0, rv = 0, must = 1;
	size_t		 l;

	*decls = NULL;
	*n = 0;
	if (path == NULL && ((path = getenv("STARTERD_CONFIG")) == NULL ||
	    *path == '\0')) {
		path = STARTERD_CONFIG_FILE;
		must = 0;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT || must) {
			ctl_warnx("config file %s: %s", path, strerror(errno));
			return (-1);
		}
	} else {
		while (fgets(buf, sizeof(buf), fp) != NULL) {
			lineno++;
			l = strlen(buf);
			if (l == sizeof(buf) - 1 && buf[l - 1] != '\n') {
				ctl_warnx("%s:%d: line too long", path, lineno);
				rv = -1;
				break;
			}
			if ((p = strchr(buf, '#')) != NULL)
				*p = '\0';
			line = str_trim(buf);
			if (!resconf_opens(line))
				continue;	/* a setting: starterd's */
			if (resconf_block(fp, path, &lineno, line, &d) == -1 ||
			    resconf_add(decls, n, &d) == -1)
				rv = -1;
		}
		if (ferror(fp)) {
			ctl_warnx("config file %s: %s", path, strerror(errno));
			rv = -1;
		}
		fclose(fp);
	}
	if (rv == 0 && *n == 0) {
		resconf_builtin(&d);
		rv = resconf_add(decls, n, &d);
	}
	if (rv == -1) {
		free(*decls);
		*decls = NULL;
		*n = 0;
	}
	return (rv);
}

/*
 * Find a declared table as starterd does (schema.c): to_regclass(), so
 * as PostgreSQL reads the name in a query (the search path, unquoted
 * names folded to lower case).  Its trigger counts when it runs
 * starterd_notify() after each statement on all four events and is
 * enabled.  1 and *t, 0 if there is no such relation, -1 on error.
 */
static int
ctl_table_find(struct ctl *c, const char *table, struct ctl_table *t)
{
	PGresult	*res;
	int		 found;

	if ((res = ctl_params(c, "SELECT n.nspname, c.relname, c.relkind, "
	    "EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid "
	    "AND t.tgfoid = to_regproc('starterd_notify') "
	    "AND t.tgtype & 67 = 0 AND t.tgtype & 60 = 60 "
	    "AND t.tgenabled <> 'D') "
	    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE c.oid = to_regclass($1)", 1, &table,
	    PGRES_TUPLES_OK)) == NULL)
		return (-1);
	if ((found = PQntuples(res) == 1)) {
		strlcpy(t->nspname, PQgetvalue(res, 0, 0), sizeof(t->nspname));
		strlcpy(t->relname, PQgetvalue(res, 0, 1), sizeof(t->relname));
		t->relkind = PQgetvalue(res, 0, 2)[0];
		t->notify = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	}
	PQclear(res);
	return (found);
}

/* "schema"."table" of t into buf (size bytes), quoted by libpq; 0 or -1. */
static int
ctl_qtable(struct ctl *c, const struct ctl_table *t, char *buf, size_t size)
{
	char	*qs, *qt;
	int	 rv = -1;

	qs = PQescapeIdentifier(c->conn, t->nspname, strlen(t->nspname));
	qt = PQescapeIdentifier(c->conn, t->relname, strlen(t->relname));
	if (qs != NULL && qt != NULL &&
	    (size_t)snprintf(buf, size, "%s.%s", qs, qt) < size)
		rv = 0;
	else
		ctl_warnx("cannot quote %s.%s: %s", t->nspname, t->relname,
		    PQerrorMessage(c->conn));
	PQfreemem(qs);
	PQfreemem(qt);
	return (rv);
}

/*
 * Give each declared table that lacks one the statement trigger that
 * NOTIFYs starterd of every change, so that the response cache stays
 * coherent whoever writes (the same trigger as migration 002's).  A view
 * cannot have it (and is not cached): skipped.  verbose: say so of the
 * tables that have it already.  The number of problems (missing tables,
 * failed statements), each printed, or -1 on a connection error.
 */
static int
ctl_install(struct ctl *c, const struct res_decl *decls, int n, int verbose)
{
	struct ctl_table t;
	char		 qtable[4 * RES_IDENT_MAX + 8], sql[CTL_SQL_MAX];
	int		 i, found, problems = 0;

	for (i = 0; i < n; i++) {
		if ((found = ctl_table_find(c, decls[i].table, &t)) == -1)
			return (-1);
		if (!found) {
			ctl_warnx("%s: table %s does not exist", decls[i].name,
			    decls[i].table);
			problems++;
			continue;
		}
		if (t.relkind == 'v' || t.relkind == 'm') {
			printf("%s: %s.%s: not cacheable: a view (skipped)\n",
			    decls[i].name, t.nspname, t.relname);
			continue;
		}
		if (t.relkind != 'r' && t.relkind != 'p' && t.relkind != 'f') {
			ctl_warnx("%s: %s.%s is not a table or a view",
			    decls[i].name, t.nspname, t.relname);
			problems++;
			continue;
		}
		if (t.notify) {
			if (verbose)
				printf("%s: %s.%s: trigger in place\n",
				    decls[i].name, t.nspname, t.relname);
			continue;
		}
		if (ctl_qtable(c, &t, qtable, sizeof(qtable)) == -1) {
			problems++;
			continue;
		}
		/* One implicit transaction: both, or neither. */
		if ((size_t)snprintf(sql, sizeof(sql),
		    "DROP TRIGGER IF EXISTS starterd_notify ON %s; "
		    "CREATE TRIGGER starterd_notify AFTER INSERT OR UPDATE OR "
		    "DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE "
		    "FUNCTION starterd_notify()", qtable, qtable) >=
		    sizeof(sql) || ctl_exec(c, sql) == -1) {
			ctl_warnx("%s: cannot install the trigger on %s.%s "
			    "(is the schema there? run 'starterctl initdb')",
			    decls[i].name, t.nspname, t.relname);
			problems++;
			continue;
		}
		printf("%s: %s.%s: trigger installed\n", decls[i].name,
		    t.nspname, t.relname);
	}
	return (problems);
}

/* A problem found by schema_bind(): one line on standard output. */
static void
ctl_report(void *arg, const char *msg)
{
	(*(int *)arg)++;
	printf("%s\n", msg);
}

/* One of check's own lines, in schema_bind()'s form: where, then what. */
static void
ctl_check_line(const struct res_decl *d, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->file[0] != '\0')
		printf("%s:%d: resource %s: %s\n", d->file, d->line, d->name,
		    msg);
	else
		printf("resource %s: %s\n", d->name, msg);
}

/*
 * Bind each declaration to the catalog as starterd does at start
 * (schema.c) and print every problem on its own line, then whether each
 * table has its trigger.  The number of problems, or -1 on error.
 */
static int
ctl_check(struct ctl *c, const struct res_decl *decls, int n)
{
	struct resource	*r;
	struct ctl_table t;
	char		 arr[4 * RES_IDENT_MAX + 8];	/* {"a.b"}, escaped */
	const char	*params[1] = { arr };
	PGresult	*res;
	int		 i, found, before, problems = 0, rv = -1;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		ctl_warnx("out of memory");
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (resconf_tables(&decls[i], 1, arr, sizeof(arr)) == -1) {
			ctl_warnx("%s: the table name is too long",
			    decls[i].name);
			goto done;
		}
		if ((res = ctl_params(c, schema_catalog_sql, 1, params,
		    PGRES_TUPLES_OK)) == NULL)
			goto done;
		before = problems;
		memset(r, 0, sizeof(*r));
		(void)schema_bind(c->conn, &decls[i], res, r, ctl_report,
		    &problems);
		schema_free(r);
		PQclear(res);
		if ((found = ctl_table_find(c, decls[i].table, &t)) == -1)
			goto done;
		if (!found && problems == before) {	/* unless bind said */
			ctl_check_line(&decls[i], "table %s does not exist",
			    decls[i].table);
			problems++;
		}
		if (found && !t.notify && t.relkind != 'v' && t.relkind != 'm') {
			ctl_check_line(&decls[i], "%s.%s has no NOTIFY "
			    "trigger: starterd serves it uncached (run "
			    "'starterctl resources install')", t.nspname,
			    t.relname);
			problems++;
		}
		if (problems == before)
			ctl_check_line(&decls[i], "ok");
	}
	rv = problems;
done:
	free(r);
	return (rv);
}

/*
 * resources [list|check|install]: the declarations, one "NAME TABLE KEY"
 * line each (no database); checked against the catalog; their triggers
 * installed.
 */
static int
cmd_resources(struct ctl *c, int argc, char **argv)
{
	struct res_decl	*decls;
	const char	*sub = argc > 0 ? argv[0] : "list";
	int		 i, n, rv = -1;

	if (ctl_decls(c, &decls, &n) == -1)
		return (-1);
	if (strcmp(sub, "list") == 0) {
		for (i = 0; i < n; i++)
			printf("%s %s %s\n", decls[i].name, decls[i].table,
			    decls[i].key[0] != '\0' ? decls[i].key :
			    "(primary key)");
		rv = 0;
	} else if (ctl_connect(c) == 0) {
		if (strcmp(sub, "check") == 0)
			rv = ctl_check(c, decls, n) == 0 ? 0 : -1;
		else
			rv = ctl_install(c, decls, n, 1) == 0 ? 0 : -1;
	}
	free(decls);
	return (rv);
}

/* 1 if the table exists, 0 if not, -1 on error. */
static int
ctl_table_exists(struct ctl *c, const char *table)
{
	return (ctl_exists(c, "SELECT to_regclass($1) IS NOT NULL", table));
}

/*
 * Print "key: N", the rows of table (as declared, ctl_table_find()), or
 * "key: no table ..." when it is missing.
 */
static int
ctl_status_count(struct ctl *c, const char *key, const char *table)
{
	struct ctl_table t;
	PGresult	*res;
	char		 sql[CTL_SQL_MAX], qtable[4 * RES_IDENT_MAX + 8];
	int		 have;

	if ((have = ctl_table_find(c, table, &t)) == -1)
		return (-1);
	if (!have) {
		printf("%s: no table (run 'starterctl initdb')\n", key);
		return (0);
	}
	if (ctl_qtable(c, &t, qtable, sizeof(qtable)) == -1)
		return (-1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", qtable);
	if ((res = ctl_params(c, sql, 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return (-1);
	printf("%s: %s\n", key, PQntuples(res) == 1 ?
	    PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
	return (0);
}

/*
 * status: one "key: value" line each for the schema version, the pending
 * migrations (count, then names), the users and the tables of the
 * declared resources with their row counts.  Reads only.
 */
static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	struct res_decl	*decls;
	const char	*params[1];
	PGresult	*res;
	char		 vbuf[16], key[2 * RES_IDENT_MAX + 16];
	size_t		 i, npending = 0;
	int		 have, applied, sep = 0, n, j, rv = -1;
	char		*done;

	(void)argc;
	(void)argv;
	if (ctl_decls(c, &decls, &n) == -1)
		return (-1);
	if ((have = ctl_table_exists(c, "starterd_schema_version")) == -1 ||
	    (done = calloc(nmigrations + 1, 1)) == NULL) {
		free(decls);
		return (-1);
	}
	if (have) {
		if ((res = ctl_params(c, "SELECT coalesce(max(version), 0) "
		    "FROM starterd_schema_version", 0, NULL,
		    PGRES_TUPLES_OK)) == NULL)
			goto done;
		printf("schema_version: %s\n", PQgetvalue(res, 0, 0));
		PQclear(res);
		for (i = 0; i < nmigrations; i++) {
			snprintf(vbuf, sizeof(vbuf), "%d",
			    migrations[i].version);
			params[0] = vbuf;
			if ((res = ctl_params(c, "SELECT 1 FROM "
			    "starterd_schema_version WHERE version = $1::int",
			    1, params, PGRES_TUPLES_OK)) == NULL)
				goto done;
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

	if (ctl_status_count(c, "users", "starter_users") == -1)
		goto done;
	printf("resources:");
	for (j = 0; j < n; j++)
		printf("%s%s", j ? ", " : " ", decls[j].table);
	printf("\n");
	for (j = 0; j < n; j++) {
		snprintf(key, sizeof(key), "%s.rows", decls[j].table);
		if (ctl_status_count(c, key, decls[j].table) == -1)
			goto done;
	}
	rv = 0;
done:
	free(done);
	free(decls);
	return (rv);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "dsn",		required_argument,	NULL, 'd' },
		{ "config",		required_argument,	NULL, 'f' },
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
	/* resconf.c reports a declaration's mistakes through log.c */
	log_init(0, LOG_LVL_INFO, getprogname());

	memset(&c, 0, sizeof(c));
	password_params_default(&c.pp);

	while ((ch = getopt_long(argc, argv, "d:f:hV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'd':
			c.dsn = optarg;
			break;
		case 'f':
			c.conffile = optarg;
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
	if ((c.pwstdin && !cmd->pwstdin) || (c.yes && !cmd->yes) ||
	    (c.conffile != NULL && !cmd->conf)) {
		ctl_warnx("%s does not take %s", cmd->name,
		    c.yes && !cmd->yes ? "--yes" : c.pwstdin && !cmd->pwstdin ?
		    "--password-stdin" : "-f");
		return (CTL_EXIT_USAGE);
	}
	if (cmd->fn == cmd_resources && argc > 1 &&
	    strcmp(argv[1], "list") != 0 && strcmp(argv[1], "check") != 0 &&
	    strcmp(argv[1], "install") != 0) {
		ctl_warnx("resources: unknown subcommand '%s'", argv[1]);
		fprintf(stderr, "usage: %s %s\n", getprogname(),
		    cmd->synopsis);
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
