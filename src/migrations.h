/*
 * migrations.h: the SQL compiled into starterctl.
 *
 * sql/embed.sh generates src/migrations.c, which defines these from
 * sql/migrations/NNN_name.sql (in file-name order) and the INSERT lines of
 * sql/starter_pxcodes.sql; src/starterctl.c uses them.
 */
#ifndef STARTERD_MIGRATIONS_H
#define STARTERD_MIGRATIONS_H

#include <stddef.h>

struct migration {
	int		 version;	/* NNN of the file name */
	const char	*name;		/* the file name without NNN_ and .sql */
	const char	*sql;
};

/* One demo row, inserted by load-demo as parameters. */
struct demo_row {
	const char	*pxcode;
	const char	*procedure;
};

extern const struct migration	migrations[];
extern const size_t		nmigrations;
extern const struct demo_row	demo_rows[];
extern const size_t		ndemo_rows;

#endif /* STARTERD_MIGRATIONS_H */
