/*
 * password: argon2id hashing and argon2 / werkzeug-pbkdf2 verification.
 * See password.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <argon2.h>
#include <openssl/evp.h>

#include "hex.h"
#include "password.h"

#define PBKDF2_PREFIX	"pbkdf2:"
#define PBKDF2_MAXSALT	256

static int	verify_argon2(const char *, const char *);
static int	verify_pbkdf2(const char *, const char *);

#ifndef HAVE_TIMINGSAFE_BCMP
/* OpenBSD's, for libbsd before 0.11.8: time depends only on n. */
static int
timingsafe_bcmp(const void *b1, const void *b2, size_t n)
{
	const unsigned char	*p1 = b1, *p2 = b2;
	int			 ret = 0;

	for (; n > 0; n--)
		ret |= *p1++ ^ *p2++;
	return (ret != 0);
}
#endif

void
password_params_default(struct password_params *pp)
{
	pp->t_cost = PASSWORD_T_COST_DEFAULT;
	pp->m_cost_kib = PASSWORD_M_COST_DEFAULT;
	pp->parallelism = PASSWORD_PARALLELISM_DEFAULT;
}

/*
 * Hash pw into out (outlen bytes, PASSWORD_PHC_MAX is always enough) as an
 * argon2id PHC string with a fresh random salt.  NULL params means the
 * defaults.  Returns 0, or -1 (out is then empty).
 */
int
password_hash(const char *pw, const struct password_params *pp, char *out,
    size_t outlen)
{
	struct password_params	 def;
	uint8_t			 salt[PASSWORD_SALTLEN];
	int			 rc;

	if (outlen > 0)
		out[0] = '\0';
	if (pw == NULL || out == NULL)
		return (-1);
	if (pp == NULL) {
		password_params_default(&def);
		pp = &def;
	}
	if (argon2_encodedlen(pp->t_cost, pp->m_cost_kib, pp->parallelism,
	    PASSWORD_SALTLEN, PASSWORD_HASHLEN, Argon2_id) > outlen)
		return (-1);
	arc4random_buf(salt, sizeof(salt));
	rc = argon2_hash(pp->t_cost, pp->m_cost_kib, pp->parallelism,
	    pw, strlen(pw), salt, sizeof(salt), NULL, PASSWORD_HASHLEN,
	    out, outlen, Argon2_id, ARGON2_VERSION_NUMBER);
	explicit_bzero(salt, sizeof(salt));
	if (rc != ARGON2_OK) {
		explicit_bzero(out, outlen);
		return (-1);
	}
	return (0);
}

/* 0 when pw matches the stored hash, -1 on mismatch or a bad hash. */
int
password_verify(const char *stored, const char *pw)
{
	if (stored == NULL || pw == NULL)
		return (-1);
	if (strncmp(stored, "$argon2", 7) == 0)
		return (verify_argon2(stored, pw));
	if (strncmp(stored, PBKDF2_PREFIX, strlen(PBKDF2_PREFIX)) == 0)
		return (verify_pbkdf2(stored, pw));
	return (-1);
}

static int
verify_argon2(const char *stored, const char *pw)
{
	argon2_type	type;

	if (strncmp(stored, "$argon2id$", 10) == 0)
		type = Argon2_id;
	else if (strncmp(stored, "$argon2i$", 9) == 0)
		type = Argon2_i;
	else if (strncmp(stored, "$argon2d$", 9) == 0)
		type = Argon2_d;
	else
		return (-1);
	return (argon2_verify(stored, pw, strlen(pw), type) == ARGON2_OK ?
	    0 : -1);
}

/*
 * werkzeug: "pbkdf2:HASH[:ITERATIONS]$SALT$HEXDIGEST", where the salt is
 * used as its ASCII text and the key length is the digest size.
 */
static int
verify_pbkdf2(const char *stored, const char *pw)
{
	char		 method[64], *p, *iterstr;
	const char	*salt, *hex, *errstr;
	const EVP_MD	*md;
	unsigned char	 want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	long long	 iter;
	size_t		 saltlen, hexlen, i, dklen;
	int		 hi, lo, rv = -1;

	if ((salt = strchr(stored, '$')) == NULL ||
	    (size_t)(salt - stored) >= sizeof(method))
		return (-1);
	memcpy(method, stored, salt - stored);
	method[salt - stored] = '\0';
	salt++;
	if ((hex = strchr(salt, '$')) == NULL)
		return (-1);
	saltlen = hex - salt;
	hex++;
	hexlen = strlen(hex);
	if (saltlen == 0 || saltlen > PBKDF2_MAXSALT)
		return (-1);

	/* method is "pbkdf2:HASH" or "pbkdf2:HASH:ITERATIONS" */
	p = method + strlen(PBKDF2_PREFIX);
	iter = PASSWORD_PBKDF2_ITER_DEFAULT;
	if ((iterstr = strchr(p, ':')) != NULL) {
		*iterstr++ = '\0';
		iter = strtonum(iterstr, 1, PASSWORD_PBKDF2_ITER_MAX, &errstr);
		if (errstr != NULL)
			return (-1);
	}
	if ((md = EVP_get_digestbyname(p)) == NULL)
		return (-1);
	dklen = (size_t)EVP_MD_get_size(md);
	if (dklen == 0 || dklen > sizeof(want) || hexlen != dklen * 2)
		return (-1);
	for (i = 0; i < dklen; i++) {
		if ((hi = hex_value((unsigned char)hex[2 * i])) == -1 ||
		    (lo = hex_value((unsigned char)hex[2 * i + 1])) == -1)
			goto done;
		want[i] = (unsigned char)(hi << 4 | lo);
	}
	if (strlen(pw) > INT_MAX ||
	    PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw),
	    (const unsigned char *)salt, (int)saltlen, (int)iter, md,
	    (int)dklen, got) != 1)
		goto done;
	if (timingsafe_bcmp(want, got, dklen) == 0)
		rv = 0;
done:
	explicit_bzero(got, sizeof(got));
	explicit_bzero(want, sizeof(want));
	return (rv);
}

/*
 * 1 when the stored hash should be replaced by a new password_hash(): it
 * is not argon2id, or its cost is below pp (NULL: the defaults); else 0.
 */
int
password_needs_rehash(const char *stored, const struct password_params *pp)
{
	struct password_params	def;
	unsigned int		v, m, t, p;
	int			n = 0;

	if (pp == NULL) {
		password_params_default(&def);
		pp = &def;
	}
	if (stored == NULL ||
	    sscanf(stored, "$argon2id$v=%u$m=%u,t=%u,p=%u$%n",
	    &v, &m, &t, &p, &n) != 4 || n == 0)
		return (1);
	if (v != ARGON2_VERSION_NUMBER || m < pp->m_cost_kib ||
	    t < pp->t_cost || p < pp->parallelism)
		return (1);
	return (0);
}
