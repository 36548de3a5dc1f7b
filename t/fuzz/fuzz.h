/*
 * fuzz.h: what the libFuzzer harnesses of t/fuzz/ share (support.c):
 * a fake client whose request is parsed from the fuzz input, simulated
 * database results, the captured db_submit() calls and a checker for the
 * bytes a handler queued in c->out.  Nothing here talks to a database or
 * a socket; see t/fuzz/README.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "starterd.h"

#define FUZZ_MAX_PENDING	4
#define FUZZ_MAX_ROWS		128

/* A db_submit() the stub captured: the harness answers it. */
struct fuzz_query {
	enum db_stmt	 stmt;
	int		 nparams;
	char		 params[5][256];
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
 * c->out must hold exactly one well-formed response: status line,
 * headers, Content-Length equal to the body's length (0 bytes sent on
 * HEAD), a JSON body when the type says so.  Aborts otherwise.  Returns
 * the status.
 */
int	 fuzz_check_response(struct client *, int head_only);

/* Is [p, p + len) one JSON value and nothing else? */
int	 fuzz_json_valid(const char *, size_t);

#endif /* FUZZ_H */
