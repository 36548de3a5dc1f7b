/*
 * config.c: the settings table and the one precedence rule.
 *
 * Every setting has a long flag, an environment variable and a config file
 * key, all from the table below, so they cannot drift apart.  Values are
 * applied in rising precedence: built-in default, config file, environment,
 * command line; a later source simply overwrites an earlier one.
 *
 * The config file is "key = value" lines; '#' starts a comment.  A line
 * "resource NAME {" opens a block that resconf.c reads up to its "}": the
 * declared resources, which have no flag or variable (a list of blocks is
 * no single value).  None declared, the built-in one is served.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "starterd.h"
#include "str.h"

static struct config	 config_main;
struct config		*conf = &config_main;	/* the running settings */
int			 main_argc;		/* main.c keeps argv here */
char			**main_argv;

#ifndef STARTERD_CONFIG_FILE
#define STARTERD_CONFIG_FILE	"/etc/starterd/starterd.conf"
#endif

#define CONFIG_MAX_LINE		4096

enum config_type {
	CT_STR,		/* char array inside struct config */
	CT_STRP,	/* malloc'd char * */
	CT_INT,
	CT_BOOL,
	CT_SIZE,	/* bytes, with K/M/G suffixes */
	CT_LEVEL,
	CT_AUTH,
	CT_METRICS,
	CT_FLAG		/* command line only, no value */
};

struct config_opt {
	const char	*name;		/* long flag; key with '-' -> '_' */
	int		 shortopt;
	enum config_type type;
	size_t		 off;
	size_t		 size;		/* CT_STR buffer size */
	long long	 min, max;	/* CT_INT, CT_SIZE */
	const char	*def;
	const char	*arg;		/* argument name for -h */
	const char	*help;
};

#define S(f)	offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define I(f)	offsetof(struct config, f), 0

static const struct config_opt config_opts[] = {
	{ "listen", 'b', CT_STR, S(listen), 0, 0, "127.0.0.1", "addr[,addr]",
	    "addresses to listen on (IPv4 or IPv6)" },
	{ "port", 'p', CT_INT, I(port), 1, 65535, "5000", "port",
	    "TCP port" },
	{ "dsn", 'd', CT_STRP, I(dsn), 0, 0, NULL, "dsn",
	    "libpq connection string or URI (else DATABASE_URL, PG*)" },
	{ "dsn-file", 0, CT_STR, S(dsn_file), 0, 0, "", "file",
	    "read the connection string from this file" },
	{ "read-dsn", 0, CT_STRP, I(read_dsn), 0, 0, NULL, "dsn",
	    "connection for reads (a replica); default: the --dsn one" },
	{ "listen-dsn", 0, CT_STRP, I(listen_dsn), 0, 0, NULL, "dsn",
	    "direct connection for LISTEN (behind a pooler)" },
	{ "prepare", 0, CT_STR, S(prepare), 0, 0, "named", "named|unnamed",
	    "statements prepared per connection, or unnamed (PgBouncer)" },
	{ "workers", 'w', CT_INT, I(workers), 0, STARTERD_MAX_WORKERS, "0",
	    "n", "worker processes (0: one per CPU)" },
	{ "config", 'f', CT_STR, S(config_file), 0, 0, STARTERD_CONFIG_FILE,
	    "file", "configuration file" },
	{ "test", 't', CT_FLAG, 0, 0, 0, 0, NULL, NULL,
	    "check the configuration and the database, then exit" },
	{ "show-config", 'T', CT_FLAG, 0, 0, 0, 0, NULL, NULL,
	    "print every setting and where it came from, then exit" },
	{ "test-config-only", 0, CT_BOOL, I(test_config_only), 0, 0, "no",
	    NULL, "with -t: check everything but the database" },
	{ "user", 'u', CT_STR, S(user), 0, 0, "", "user",
	    "drop privileges to this user after binding" },
	{ "pidfile", 'P', CT_STR, S(pidfile), 0, 0, "", "file",
	    "write the master's pid to this file" },
	{ "cache-size", 'C', CT_SIZE, I(cache_size), 0, 1LL << 36, "64M",
	    "size", "shared response cache size (0 disables)" },
	{ "auth-cache-ttl", 0, CT_INT, I(auth_cache_ttl), 0, 86400, "60",
	    "seconds", "how long verified credentials are remembered" },
	{ "access-log", 'a', CT_STR, S(access_log), 0, 0, "-", "file",
	    "access log file, - for stderr, off for none" },
	{ "log-level", 'l', CT_LEVEL, I(log_level), 0, 0, "info", "level",
	    "error, warn, info or debug" },
	{ "syslog", 's', CT_BOOL, I(use_syslog), 0, 0, "no", NULL,
	    "log errors to syslog instead of stderr" },
	{ "header-timeout", 0, CT_INT, I(header_timeout), 1, 3600, "10",
	    "seconds", "time allowed to send a request's head and body" },
	{ "idle-timeout", 0, CT_INT, I(idle_timeout), 1, 86400, "60",
	    "seconds", "keep-alive connection idle time" },
	{ "shutdown-timeout", 0, CT_INT, I(shutdown_timeout), 0, 3600, "10",
	    "seconds", "time allowed to finish requests at shutdown" },
	{ "worker-timeout", 0, CT_INT, I(worker_timeout), 0, 3600, "10",
	    "seconds", "a worker stuck this long is killed (0: never)" },
	{ "statement-timeout", 0, CT_INT, I(statement_timeout), 0, 3600000,
	    "5000", "ms", "PostgreSQL statement_timeout of each worker" },
	{ "token-ttl", 0, CT_INT, I(token_ttl), 1, 31536000, "3600",
	    "seconds", "lifetime of issued tokens" },
	{ "token-key-file", 0, CT_STR, S(token_key_file), 0, 0, "", "file",
	    "token signing key (default: kept in the database)" },
	{ "auth", 0, CT_AUTH, I(auth_mode), 0, 0, "both", "mode",
	    "accepted credentials on /api/: both, password or token" },
	{ "rate-limit", 0, CT_STR, S(rate_limit), 0, 0, "off", "n/secs",
	    "requests allowed per client per window, or off" },
	{ "rate-limit-by", 0, CT_STR, S(rate_limit_by), 0, 0, "addr",
	    "addr|user", "what a rate limit counts by" },
	{ "trusted-proxy", 0, CT_STR, S(trusted_proxy), 0, 0, "", "addr",
	    "trust X-Forwarded-For from these peer addresses (a,b)" },
	{ "auth-fail-limit", 0, CT_STR, S(auth_fail_limit), 0, 0, "10/60",
	    "n/secs", "failed password checks per address before 429 "
	    "(per user: slowed down), or off" },
	{ "require-if-match", 0, CT_BOOL, I(require_if_match), 0, 0, "no",
	    NULL, "writes must carry If-Match (428 otherwise)" },
	{ "metrics", 0, CT_METRICS, I(metrics), 0, 0, "auth", "mode",
	    "GET /metrics: auth (credentials), loopback (TCP peer), on, off" },
	{ "argon2-memory", 0, CT_INT, I(argon2_memory), 8, 4194304, "19456",
	    "KiB", "argon2id memory cost for new password hashes" },
	{ "argon2-time", 0, CT_INT, I(argon2_time), 1, 100, "2", "n",
	    "argon2id iterations for new password hashes" },
	{ "worker-connections", 0, CT_INT, I(worker_connections), 1, 1048576,
	    "4096", "n", "clients a worker holds at most" },
	{ "worker-input-budget", 0, CT_SIZE, I(worker_input_budget), 1,
	    1LL << 40, "64M", "size",
	    "request body bytes a worker buffers at most (503 past it)" },
	{ "log-format", 0, CT_STR, S(log_format), 0, 0, "combined",
	    "combined|json", "access log line format" },
	{ "cors-origin", 0, CT_STR, S(cors_origin), 0, 0, "", "list",
	    "origins allowed by CORS, comma-separated, or *" },
	{ "public-url", 0, CT_STR, S(public_url), 0, 0, "", "url",
	    "scheme://host[:port][/prefix] of every absolute link" },
	{ "help", 'h', CT_FLAG, 0, 0, 0, 0, NULL, NULL,
	    "show this help and exit" },
	{ "version", 'V', CT_FLAG, 0, 0, 0, 0, NULL, NULL,
	    "show the version and exit" },
};
#define CONFIG_NOPTS	(sizeof(config_opts) / sizeof(config_opts[0]))

/*
 * Where each setting's value came from, for -T: the last source that set
 * it (the precedence rule means the one that counts).  note names what
 * is not the setting's own variable or file line (DATABASE_URL, the
 * dsn file).
 */
enum config_src {
	SRC_DEFAULT = 0,
	SRC_FILE,
	SRC_ENV,
	SRC_FLAG
};

static struct config_origin {
	enum config_src	 src;
	int		 line;		/* SRC_FILE */
	const char	*note;
} config_origin[CONFIG_NOPTS];
static int	 config_show;		/* -T */
static int	 config_file_found;	/* the config file was read */
static int	 config_res_builtin;	/* no resource block: the built-in */

static void
config_from(const struct config_opt *o, enum config_src src, int line,
    const char *note)
{
	struct config_origin	*g = &config_origin[o - config_opts];

	g->src = src;
	g->line = line;
	g->note = note;
}

static void
config_envname(const struct config_opt *o, char *out, size_t len)
{
	size_t	i, j;

	j = strlcpy(out, "STARTERD_", len);
	for (i = 0; o->name[i] != '\0' && j + 1 < len; i++, j++)
		out[j] = o->name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)o->name[i]);
	out[j] = '\0';
}

static int
config_size_parse(const char *s, long long *out)
{
	char		*end;
	long long	 v, mul = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return (-1);
	switch (*end) {
	case 'k': case 'K':
		mul = 1024;
		end++;
		break;
	case 'm': case 'M':
		mul = 1024 * 1024;
		end++;
		break;
	case 'g': case 'G':
		mul = 1024LL * 1024 * 1024;
		end++;
		break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || v > LLONG_MAX / mul)
		return (-1);
	*out = v * mul;
	return (0);
}

/*
 * --public-url: http or https, "://", a strict host[:port], then nothing
 * or a path prefix (no query, no fragment, no dot segment); "" is off.
 * One trailing '/' is dropped so that links are prefix + "/api/...".
 * The reason it is not one, or NULL.
 */
static const char *
config_url_check(char *s)
{
	size_t	 n, hl;
	char	*host, *p;

	if (*s == '\0')
		return (NULL);
	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return ("does not start with http:// or https://");
	hl = strcspn(host, "/");
	if (!http_authority_valid(host, hl))
		return ("has no valid host[:port]");
	for (p = host + hl; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) ||
		    strchr("/-._~%!$&'()*+,;=:@", *p) != NULL))
			return ("has a character a path prefix cannot have");
	if (strstr(host + hl, "//") != NULL ||
	    strstr(host + hl, "/./") != NULL ||
	    strstr(host + hl, "/../") != NULL)
		return ("has an empty or dot path segment");
	n = strlen(s);
	if (n > 0 && s[n - 1] == '/')
		s[n - 1] = '\0';
	n = strlen(s);
	if ((n >= 2 && strcmp(s + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(s + n - 3, "/..") == 0))
		return ("has an empty or dot path segment");
	return (NULL);
}

static int
config_bool_parse(const char *s)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0 ||
	    strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		return (1);
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0 ||
	    strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
		return (0);
	return (-1);
}

/*
 * Set one option from text; where names the setting as it was given, for
 * the message: "--port", "STARTERD_PORT" or "FILE:LINE: port".
 */
static int
config_set(struct config *c, const struct config_opt *o, const char *val,
    const char *where)
{
	char		*base = (char *)c;
	const char	*errstr, *err;
	long long	 n;
	int		 v;

	switch (o->type) {
	case CT_STR:
		if (strlcpy(base + o->off, val, o->size) >= o->size) {
			log_error("%s: value too long", where);
			return (-1);
		}
		if (strcmp(o->name, "public-url") == 0 &&
		    (err = config_url_check(base + o->off)) != NULL) {
			log_error("%s: \"%s\" %s", where, val, err);
			return (-1);
		}
		if (strcmp(o->name, "prepare") == 0 &&
		    strcmp(val, "named") != 0 && strcmp(val, "unnamed") != 0) {
			log_error("%s: \"%s\" is not named or unnamed", where,
			    val);
			return (-1);
		}
		if (strcmp(o->name, "log-format") == 0 &&
		    strcmp(val, "combined") != 0 && strcmp(val, "json") != 0) {
			fprintf(stderr, "%s: %s: \"%s\" is not combined or "
			    "json\n", where, o->name, val);
			return (-1);
		}
		return (0);
	case CT_STRP:
		free(*(char **)(base + o->off));
		if ((*(char **)(base + o->off) = strdup(val)) == NULL)
			return (-1);
		return (0);
	case CT_INT:
		n = strtonum(val, o->min, o->max, &errstr);
		if (errstr != NULL) {
			log_error("%s: \"%s\" is %s (%lld..%lld)", where, val,
			    errstr, o->min, o->max);
			return (-1);
		}
		*(int *)(base + o->off) = (int)n;
		return (0);
	case CT_SIZE:
		if (config_size_parse(val, &n) == -1 || n > o->max) {
			log_error("%s: \"%s\" is not a size", where, val);
			return (-1);
		}
		*(long long *)(base + o->off) = n;
		return (0);
	case CT_BOOL:
		if ((v = config_bool_parse(val)) == -1) {
			log_error("%s: \"%s\" is not yes or no", where, val);
			return (-1);
		}
		*(int *)(base + o->off) = v;
		return (0);
	case CT_LEVEL:
		if ((v = log_level_parse(val)) == -1) {
			log_error("%s: \"%s\" is not a log level", where,
			    val);
			return (-1);
		}
		*(int *)(base + o->off) = v;
		return (0);
	case CT_AUTH:
		if (strcmp(val, "both") == 0)
			v = AUTH_MODE_BOTH;
		else if (strcmp(val, "password") == 0)
			v = AUTH_MODE_PASSWORD;
		else if (strcmp(val, "token") == 0)
			v = AUTH_MODE_TOKEN;
		else {
			log_error("%s: \"%s\" is not both, password or token",
			    where, val);
			return (-1);
		}
		*(int *)(base + o->off) = v;
		return (0);
	case CT_METRICS:
		if (strcmp(val, "loopback") == 0)
			v = METRICS_LOOPBACK;
		else if (strcmp(val, "auth") == 0)
			v = METRICS_AUTH;
		else if ((v = config_bool_parse(val)) != -1)
			v = v ? METRICS_ON : METRICS_OFF;
		else {
			log_error("%s: \"%s\" is not auth, loopback, on or "
			    "off", where, val);
			return (-1);
		}
		*(int *)(base + o->off) = v;
		return (0);
	case CT_FLAG:
		break;
	}
	return (0);
}

void
config_defaults(struct config *c)
{
	size_t	i;

	memset(c, 0, sizeof(*c));
	memset(config_origin, 0, sizeof(config_origin));
	config_file_found = config_res_builtin = 0;
	for (i = 0; i < CONFIG_NOPTS; i++)
		if (config_opts[i].def != NULL)
			(void)config_set(c, &config_opts[i],
			    config_opts[i].def, "default");
}

static const struct config_opt *
config_find(const char *key)
{
	size_t	i, j;

	for (i = 0; i < CONFIG_NOPTS; i++) {
		const char *n = config_opts[i].name;

		for (j = 0; n[j] != '\0' && key[j] != '\0'; j++)
			if (!(n[j] == key[j] || (n[j] == '-' && key[j] == '_')))
				break;
		if (n[j] == '\0' && key[j] == '\0')
			return (&config_opts[i]);
	}
	return (NULL);
}

/* "--name=value" of an option that takes no value: that option. */
static const struct config_opt *
config_find_flag(const char *arg)
{
	char	 name[64];
	size_t	 i;

	if (strncmp(arg, "--", 2) != 0 || strchr(arg, '=') == NULL)
		return (NULL);
	strlcpy(name, arg + 2, sizeof(name));
	name[strcspn(name, "=")] = '\0';
	for (i = 0; i < CONFIG_NOPTS; i++)
		if (strcmp(config_opts[i].name, name) == 0 &&
		    (config_opts[i].type == CT_FLAG ||
		    config_opts[i].type == CT_BOOL))
			return (&config_opts[i]);
	return (NULL);
}

static int
config_file_read(struct config *c, const char *path, int must_exist,
    int reload)
{
	struct stat		 st;
	FILE			*fp;
	char			 line[CONFIG_MAX_LINE], where[PATH_MAX + 96];
	char			*key, *val, *eq;
	const struct config_opt	*o;
	struct res_decl		 d;
	int			 lineno = 0, rv = 0;
	size_t			 l;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist) {
			/* -t reports it as a problem itself (preflight.c). */
			if (!c->test_only && !reload && !config_show)
				log_warnx("config file %s: %s; using the "
				    "defaults and the environment", path,
				    strerror(errno));
			return (0);
		}
		log_error("config file %s: %s", path, strerror(errno));
		return (-1);
	}
	config_file_found = 1;
	if (fstat(fileno(fp), &st) == -1 || S_ISDIR(st.st_mode)) {
		log_error("config file %s: %s", path, S_ISDIR(st.st_mode) ?
		    strerror(EISDIR) : strerror(errno));
		fclose(fp);
		return (-1);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		l = strlen(line);
		if (l == sizeof(line) - 1 && line[l - 1] != '\n') {
			log_error("%s: line too long", where);
			rv = -1;
			break;
		}
		if ((eq = strchr(line, '#')) != NULL)
			*eq = '\0';
		key = str_trim(line);
		if (*key == '\0')
			continue;
		if (resconf_opens(key)) {
			/* A bad block is listed too: a name given twice is
			 * said in the same run as the block's mistakes. */
			if (resconf_block(fp, path, &lineno, key, &d) == -1)
				rv = -1;
			if (d.name[0] != '\0' && resconf_add(&c->resources,
			    &c->nresources, &d) == -1)
				rv = -1;
			continue;
		}
		if (strcmp(key, "}") == 0) {
			log_error("%s: } closes no resource block", where);
			rv = -1;
			continue;
		}
		if (str_keyval(key, &key, &val) == -1) {
			log_error("%s: expected key = value", where);
			rv = -1;
			continue;
		}
		o = config_find(key);
		if (o == NULL || o->type == CT_FLAG ||
		    strcmp(o->name, "config") == 0) {
			log_error("%s: unknown setting \"%s\"", where, key);
			rv = -1;
			continue;
		}
		snprintf(where, sizeof(where), "%s:%d: %s", path, lineno, key);
		if (config_set(c, o, val, where) == -1)
			rv = -1;
		else
			config_from(o, SRC_FILE, lineno, NULL);
	}
	fclose(fp);
	explicit_bzero(line, sizeof(line));
	return (rv);
}

void
config_usage(FILE *fp)
{
	size_t	 i;
	char	 left[64], env[64];

	fprintf(fp, "usage: starterd [-htTV] [-b addr] [-p port] [-d dsn] "
	    "[-w workers] [-f file]\n"
	    "                [-u user] [-P pidfile] [-C size] [-a file] "
	    "[-l level] [-s] [--option value ...]\n\n");
	for (i = 0; i < CONFIG_NOPTS; i++) {
		const struct config_opt *o = &config_opts[i];

		if (o->shortopt)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
			    o->shortopt, o->name, o->arg ? " " : "",
			    o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(fp, "  %-34s %s", left, o->help);
		if (o->type != CT_FLAG) {
			config_envname(o, env, sizeof(env));
			fprintf(fp, " [%s%s%s]", env,
			    o->def && *o->def ? ", default " : "",
			    o->def && *o->def ? o->def : "");
		}
		fputc('\n', fp);
	}
	fprintf(fp, "\nPrecedence: flag > environment > config file > "
	    "default.\n");
}

static int	config_dsn(struct config *, int);
static void	config_print(struct config *, FILE *);

/*
 * Load everything.  Returns 0, or exits: 0 after -h/-V, 2 on a usage
 * error, 1 on a bad config file or value.  With reload set (SIGHUP: argv
 * was accepted once already), returns -1 instead of exiting on a bad
 * file or value; c is then only good for config_free_dsns(c) and
 * free(c->resources).
 */
static int
config_parse(struct config *c, int argc, char **argv, int reload)
{
	struct option		 lopts[CONFIG_NOPTS + 1];
	char			 sopts[CONFIG_NOPTS * 2 + 2], env[64];
	const char		*v;
	size_t			 i, si = 0;
	int			 ch, idx, bad = 0;

	config_defaults(c);
	sopts[si++] = ':';
	for (i = 0; i < CONFIG_NOPTS; i++) {
		const struct config_opt *o = &config_opts[i];

		lopts[i].name = o->name;
		lopts[i].has_arg = (o->type == CT_FLAG || o->type == CT_BOOL) ?
		    no_argument : required_argument;
		lopts[i].flag = NULL;
		lopts[i].val = o->shortopt ? o->shortopt : 256 + (int)i;
		if (o->shortopt) {
			sopts[si++] = (char)o->shortopt;
			if (lopts[i].has_arg == required_argument)
				sopts[si++] = ':';
		}
	}
	memset(&lopts[CONFIG_NOPTS], 0, sizeof(lopts[0]));
	sopts[si] = '\0';

	/* Pass 1: -h, -V, -t and which config file. */
	optind = 0;		/* GNU getopt: start over completely */
	if ((v = getenv("STARTERD_CONFIG")) != NULL && *v != '\0') {
		strlcpy(c->config_file, v, sizeof(c->config_file));
		c->config_explicit = 1;
		config_from(config_find("config"), SRC_ENV, 0, NULL);
	}
	opterr = 0;
	while ((ch = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
		switch (ch) {
		case 'h':
			config_usage(stdout);
			exit(0);
		case 'V':
			printf("starterd %s\n", PACKAGE_VERSION);
			exit(0);
		case 't':
			c->test_only = 1;
			break;
		case 'T':
			config_show = 1;
			break;
		case 'f':
			strlcpy(c->config_file, optarg,
			    sizeof(c->config_file));
			c->config_explicit = 1;
			config_from(config_find("config"), SRC_FLAG, 0, NULL);
			break;
		case '?':
			if (config_find_flag(argv[optind - 1]) != NULL)
				log_error("option %.*s takes no value",
				    (int)strcspn(argv[optind - 1], "="),
				    argv[optind - 1]);
			else if (strncmp(argv[optind - 1], "--", 2) != 0 &&
			    optopt > 0 && optopt < 256)
				log_error("unknown option -%c", optopt);
			else
				log_error("unknown option %s",
				    argv[optind - 1]);
			config_usage(stderr);
			exit(2);
		case ':':
			log_error("option %s needs a value", argv[optind - 1]);
			exit(2);
		}
	}
	if (optind < argc) {
		log_error("unexpected argument \"%s\"", argv[optind]);
		exit(2);
	}

	/*
	 * Config file, then environment, then flags: every bad value is
	 * reported (one line each) before exiting 1.
	 */
	if (config_file_read(c, c->config_file, c->config_explicit,
	    reload) == -1)
		bad = 1;
	for (i = 0; i < CONFIG_NOPTS; i++) {
		const struct config_opt *o = &config_opts[i];

		if (o->type == CT_FLAG || strcmp(o->name, "config") == 0)
			continue;
		config_envname(o, env, sizeof(env));
		if ((v = getenv(env)) != NULL && *v != '\0') {
			if (config_set(c, o, v, env) == -1)
				bad = 1;
			else
				config_from(o, SRC_ENV, 0, NULL);
		}
	}

	/* Pass 2: flags win. */
	optind = 1;
	while ((ch = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
		const struct config_opt *o = NULL;
		char where[80];

		for (i = 0; i < CONFIG_NOPTS; i++)
			if (lopts[i].val == ch) {
				o = &config_opts[i];
				break;
			}
		if (o == NULL || o->type == CT_FLAG ||
		    strcmp(o->name, "config") == 0)
			continue;
		snprintf(where, sizeof(where), "--%s", o->name);
		if (config_set(c, o, o->type == CT_BOOL ? "yes" : optarg,
		    where) == -1)
			bad = 1;
		else
			config_from(o, SRC_FLAG, 0, NULL);
	}
	if (bad) {
		if (reload)
			return (-1);
		exit(1);
	}
	if (c->nresources == 0) {
		if ((c->resources = calloc(1, sizeof(*c->resources))) == NULL)
			return (-1);
		resconf_builtin(&c->resources[0]);
		c->nresources = 1;
		config_res_builtin = 1;
	}
	if (c->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		c->workers = n < 1 ? 1 : n > STARTERD_MAX_WORKERS ?
		    STARTERD_MAX_WORKERS : (int)n;
	}
	if (config_dsn(c, reload) == -1)
		return (-1);
	if (config_show && !reload) {
		config_print(c, stdout);
		exit(fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1);
	}
	return (0);
}

/* The connection strings: they may hold passwords, so wiped first. */
void
config_free_dsns(struct config *c)
{
	char	**p[] = { &c->dsn, &c->read_dsn, &c->listen_dsn };
	size_t	  i;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		if (*p[i] != NULL)
			explicit_bzero(*p[i], strlen(*p[i]));
		free(*p[i]);
		*p[i] = NULL;
	}
}

int
config_load(struct config *c, int argc, char **argv)
{
	return (config_parse(c, argc, argv, 0));
}

/* SIGHUP: the same sources again into nc; -1 (nothing exits) on errors. */
int
config_reload(struct config *nc, int argc, char **argv)
{
	return (config_parse(nc, argc, argv, 1));
}

/*
 * The DSN: --dsn, else --dsn-file, else DATABASE_URL, else empty (libpq
 * reads PG* itself).  The file form keeps a password out of argv.
 */
int
config_resolve_dsn(struct config *c)
{
	return (config_dsn(c, 0));
}

static int
config_dsn(struct config *c, int reload)
{
	FILE		*fp;
	char		 line[CONFIG_MAX_LINE];
	const char	*v;

	if (c->dsn != NULL && *c->dsn != '\0')
		return (0);
	if (c->dsn_file[0] != '\0') {
		if ((fp = fopen(c->dsn_file, "r")) == NULL) {
			log_error("dsn file %s: %s", c->dsn_file,
			    strerror(errno));
			if (reload)
				return (-1);
			exit(1);
		}
		if (fgets(line, sizeof(line), fp) == NULL)
			line[0] = '\0';
		fclose(fp);
		line[strcspn(line, "\r\n")] = '\0';
		free(c->dsn);
		c->dsn = strdup(line);
		explicit_bzero(line, sizeof(line));
		config_from(config_find("dsn"), config_origin[config_find(
		    "dsn-file") - config_opts].src, 0, "dsn_file");
		return (c->dsn == NULL ? -1 : 0);
	}
	if ((v = getenv("DATABASE_URL")) != NULL && *v != '\0') {
		free(c->dsn);
		if ((c->dsn = strdup(v)) == NULL)
			return (-1);
		config_from(config_find("dsn"), SRC_ENV, 0, "DATABASE_URL");
		return (0);
	}
	free(c->dsn);
	c->dsn = strdup("");
	return (c->dsn == NULL ? -1 : 0);
}

/* ---------------------------------------------------------------- -T */

/*
 * A connection string with every password masked, as key='value' pairs
 * (libpq parses both of its forms): only what was given, nothing libpq
 * would default.  One that does not parse is not shown at all.
 */
static void
config_dsn_masked(const char *dsn, char *out, size_t len)
{
	PQconninfoOption	*opts, *p;
	char			*err = NULL, ch[2] = { 0, 0 };
	const char		*v;

	out[0] = '\0';
	if (dsn == NULL || *dsn == '\0')
		return;
	if ((opts = PQconninfoParse(dsn, &err)) == NULL) {
		PQfreemem(err);
		strlcpy(out, "(not a connection string: not shown)", len);
		return;
	}
	for (p = opts; p->keyword != NULL; p++) {
		if (p->val == NULL)
			continue;
		if (out[0] != '\0')
			strlcat(out, " ", len);
		strlcat(out, p->keyword, len);
		strlcat(out, "='", len);
		if (strstr(p->keyword, "password") != NULL)
			strlcat(out, "****", len);
		else
			for (v = p->val; *v != '\0'; v++) {
				if (*v == '\'' || *v == '\\')
					strlcat(out, "\\", len);
				ch[0] = *v;
				strlcat(out, ch, len);
			}
		strlcat(out, "'", len);
	}
	PQconninfoFree(opts);
}

/* One setting's value in the file's syntax; a DSN masked. */
static void
config_value(struct config *c, const struct config_opt *o, char *out,
    size_t len)
{
	char		*base = (char *)c;
	size_t		 n = strlen(o->name);
	int		 v;

	switch (o->type) {
	case CT_STR:
	case CT_STRP:
		if (n >= 3 && strcmp(o->name + n - 3, "dsn") == 0)
			config_dsn_masked(o->type == CT_STR ? base + o->off :
			    *(char **)(base + o->off), out, len);
		else
			strlcpy(out, o->type == CT_STR ? base + o->off :
			    *(char **)(base + o->off) != NULL ?
			    *(char **)(base + o->off) : "", len);
		break;
	case CT_INT:
		snprintf(out, len, "%d", *(int *)(base + o->off));
		break;
	case CT_SIZE:
		snprintf(out, len, "%lld", *(long long *)(base + o->off));
		break;
	case CT_BOOL:
		strlcpy(out, *(int *)(base + o->off) ? "yes" : "no", len);
		break;
	case CT_LEVEL:
		strlcpy(out, log_level_name(*(int *)(base + o->off)), len);
		break;
	case CT_AUTH:
		v = *(int *)(base + o->off);
		strlcpy(out, v == AUTH_MODE_PASSWORD ? "password" :
		    v == AUTH_MODE_TOKEN ? "token" : "both", len);
		break;
	case CT_METRICS:
		v = *(int *)(base + o->off);
		strlcpy(out, v == METRICS_ON ? "on" : v == METRICS_OFF ? "off" :
		    v == METRICS_LOOPBACK ? "loopback" : "auth", len);
		break;
	case CT_FLAG:
		out[0] = '\0';
		break;
	}
}

/*
 * starterd -T: every setting, one line each, in the file's syntax (key =
 * value), then where the value came from: "# flag --name", "# environment
 * VAR", "# file PATH:LINE" or "# default".  The declared resources follow,
 * a line each.  Secrets are masked: a DSN's password.
 */
static void
config_print(struct config *c, FILE *fp)
{
	const struct config_opt		*o;
	const struct config_origin	*g;
	char				 key[64], val[CONFIG_MAX_LINE];
	char				 env[64];
	size_t				 i, j;
	int				 k;

	for (i = 0; i < CONFIG_NOPTS; i++) {
		o = &config_opts[i];
		g = &config_origin[i];
		if (o->type == CT_FLAG)
			continue;
		for (j = 0; o->name[j] != '\0' && j + 1 < sizeof(key); j++)
			key[j] = o->name[j] == '-' ? '_' : o->name[j];
		key[j] = '\0';
		config_value(c, o, val, sizeof(val));
		fprintf(fp, "%s = %s\t# ", key, val);
		if (g->note != NULL && strcmp(g->note, "dsn_file") == 0)
			fprintf(fp, "file %s, named by dsn_file", c->dsn_file);
		else switch (g->src) {
		case SRC_FLAG:
			fprintf(fp, "flag --%s", o->name);
			break;
		case SRC_ENV:
			config_envname(o, env, sizeof(env));
			fprintf(fp, "environment %s", g->note != NULL ?
			    g->note : env);
			break;
		case SRC_FILE:
			fprintf(fp, "file %s:%d", c->config_file, g->line);
			break;
		case SRC_DEFAULT:
			fprintf(fp, "default");
			break;
		}
		if (strcmp(o->name, "config") == 0 && !config_file_found)
			fprintf(fp, " (not found: not read)");
		else if (strcmp(o->name, "workers") == 0 &&
		    g->src == SRC_DEFAULT)
			fprintf(fp, " (0: one per CPU)");
		else if (strcmp(o->name, "dsn") == 0 && val[0] == '\0')
			fprintf(fp, " (libpq's PG* variables)");
		fputc('\n', fp);
	}
	for (k = 0; k < c->nresources; k++)
		fprintf(fp, "resource = %s\t# %s%s\n", c->resources[k].name,
		    config_res_builtin ? "default (built in)" : "file ",
		    config_res_builtin ? "" : c->config_file);
}
