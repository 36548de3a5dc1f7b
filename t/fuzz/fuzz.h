/*
 * fuzz.h: what the libFuzzer harnesses of t/fuzz/ share (support.c):
 * a fake client whose request is parsed from the fuzz input, simulated
 * database results, the captured db_submit() and db_submit_sql() calls,
 * the two demo resources bound by the real schema_bind(), and a checker
 * for the bytes a handler queued in c->out.  Nothing here talks to a
 * database or a socket; see t/fuzz/README.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "starterd.h"

#define FUZZ_MAX_PENDING	4
#define FUZZ_MAX_ROWS		128
#define FUZZ_MAX_COLS		(2 * RES_MAX_COLS + 2)
#define FUZZ_MAX_PARAMS		(2 * RES_MAX_COLS + 8)	/* db.c's */

/*
 * A db_submit() or db_submit_sql() the stub captured: the harness answers
 * it.  What the caller passed is copied (it may free its own copies once
 * submitted, as db.c allows); the copies are freed when it is answered or
 * dropped.
 */
struct fuzz_query {
	enum db_stmt	 stmt;		/* DB_NSTMTS: a db_submit_sql() */
	char		 name[64];	/* db_submit_sql(): its name */
	char		*sql;		/* db_submit_sql(): its text */
	int		 write;
	int		 nparams;
	char		*params[FUZZ_MAX_PARAMS];	/* NULL: SQL NULL */
	db_cb		 cb;
	void		*arg;
	struct client	*c;
};

extern struct fuzz_query fuzz_pending[FUZZ_MAX_PENDING];
extern int	 fuzz_npending;
extern int	 fuzz_db_fail;		/* db_submit() returns -1 */
extern int	 fuzz_db_down;		/* db_status() says DB_DOWN */
extern int	 fuzz_cache_on;		/* cache_enabled() */
extern int	 fuzz_cache_hit;	/* cache_lookup() finds an entry */
extern const char *fuzz_sqlstate;	/* what db_sqlstate() says */

/* Once per process: settings defaults, quiet logging. */
void	 fuzz_init(void);

/*
 * The resources resource_count()/resource_get()/resource_match() serve:
 * 0 pxcodes (the built-in declaration), 1 encounters (the sample
 * config's), each bound by schema_bind() to the catalog document
 * PostgreSQL 15 answers schema_catalog_sql with for the demo tables.
 * Bound once per process by fuzz_resources_init() (aborts on a problem).
 */
#define FUZZ_NRES	2
extern struct resource	 fuzz_res[FUZZ_NRES];
extern int		 fuzz_nres;
void	 fuzz_resources_init(void);

/*
 * A client whose c->in holds len bytes of data, parsed like conn.c does
 * (head, then body).  0 when a whole request was parsed, -1 otherwise;
 * either way release it with fuzz_client_free().
 */
struct client *fuzz_client_new(const uint8_t *data, size_t len, int *parsed);
void	 fuzz_client_free(struct client *);

/*
 * A result as the statement would produce it: status st, ncols columns;
 * rows come from text (lines, cells separated by tabs, \N is NULL),
 * at most maxrows of them.
 */
PGresult *fuzz_result(ExecStatusType st, int ncols, const char *text,
	    size_t len, int maxrows);
/* The columns statement stmt returns. */
int	 fuzz_stmt_ncols(enum db_stmt);

/* Answer the oldest captured query with res (may be NULL); 0 if none. */
int	 fuzz_answer(PGresult *res);
/* Drop what is still captured (frees nothing of the handler's). */
void	 fuzz_pending_reset(void);

/*
 * The top-level members of a JSON object body that cJSON accepted (so
 * with cJSON's leniency: any byte <= ' ' is white space, numbers as its
 * strtod reads them), found by a recursive-descent reader of its own,
 * in document order: the spans of each key (without its quotes) and
 * value, and whether the key or a string value holds a \u0000 escape.
 * Returns the number of members, -1 if s is not such an object.
 */
struct fuzz_member {
	size_t		 koff, klen;
	size_t		 voff, vlen;
	int		 key_nul;
	int		 val_nul;	/* a string value with \u0000 */
};
int	 fuzz_json_members(const char *, size_t, struct fuzz_member *, int);

/* Is [p, p + len) UTF-8 as PostgreSQL takes it?  Its characters, or -1. */
long	 fuzz_utf8_chars(const char *, size_t);

/*
 * c->out must hold exactly one well-formed response: status line,
 * headers, Content-Length equal to the body's length (0 bytes sent on
 * HEAD), a JSON body when the type says so.  Aborts otherwise.  Returns
 * the status.
 */
int	 fuzz_check_response(struct client *, int head_only);

/* Is [p, p + len) one JSON value and nothing else? */
int	 fuzz_json_valid(const char *, size_t);

#endif /* FUZZ_H */
