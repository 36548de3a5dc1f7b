/*
 * password: hash and verify passwords as PHC strings.
 *
 * New hashes are argon2id ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
 * Verification also accepts argon2i/argon2d and werkzeug's
 * "pbkdf2:sha256:ITERATIONS$salt$hexdigest", so that the users of a
 * database created by the original Flask application can still log in;
 * password_needs_rehash() tells the caller when to upgrade such a hash.
 * Leaf module: nothing here knows about the server or the database.
 */
#ifndef PASSWORD_H
#define PASSWORD_H

#include <stddef.h>
#include <stdint.h>

/* OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
#define PASSWORD_T_COST_DEFAULT		2
#define PASSWORD_M_COST_DEFAULT		19456	/* KiB */
#define PASSWORD_PARALLELISM_DEFAULT	1
#define PASSWORD_SALTLEN		16
#define PASSWORD_HASHLEN		32
/* Room for any PHC string password_hash() makes, with the NUL. */
#define PASSWORD_PHC_MAX		256
/* werkzeug's default when the iteration count is left out. */
#define PASSWORD_PBKDF2_ITER_DEFAULT	260000
#define PASSWORD_PBKDF2_ITER_MAX	100000000

struct password_params {
	uint32_t	t_cost;
	uint32_t	m_cost_kib;
	uint32_t	parallelism;
};

#define PASSWORD_PARAMS_DEFAULT { PASSWORD_T_COST_DEFAULT,		\
	PASSWORD_M_COST_DEFAULT, PASSWORD_PARALLELISM_DEFAULT }

void	password_params_default(struct password_params *);
int	password_hash(const char *, const struct password_params *, char *,
	    size_t);
int	password_verify(const char *, const char *);
int	password_needs_rehash(const char *, const struct password_params *);

#endif /* PASSWORD_H */
