/*
 * token.c: signed bearer tokens (JWT, HS256) and GET /auth/request-token.
 *
 * A token is header.payload.signature, each base64url without padding;
 * the header is always {"alg":"HS256","typ":"JWT"} and the payload holds
 * the claims exp, iat, name, sub (the user id, a string as RFC 7519 wants)
 * and ver, the user's token_version when it was issued.  The signature is
 * HMAC-SHA-256 (OpenSSL) over "header.payload" with the instance key.
 *
 * Checking a token needs no argon2: the HMAC is recomputed and compared
 * with CRYPTO_memcmp before anything in the token is trusted or even
 * parsed, so a forged, tampered or malformed token costs one HMAC and is
 * answered in the same time whatever is wrong with it.  Then exp must be
 * in the future and ver must still be the user's token_version, which
 * migration 003 bumps whenever the password hash changes; a deleted user
 * has no version, so its tokens die with it.  The versions are cached in
 * shared memory (user id -> version), valid for one generation of the
 * credential cache: any change to starter_users NOTIFYs every instance and
 * bumps that generation (auth.c), so a repeated token costs no database
 * round trip and a revocation is seen as soon as the NOTIFY arrives.
 *
 * The key, in order: the file named by --token-key-file, the environment
 * variable STARTERD_TOKEN_KEY, else a random key kept in the database
 * (starterd_secrets) that the first worker of any instance inserts and
 * every other one reads, so that instances sharing a database accept each
 * other's tokens without set-up.  It is never logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <cjson/cJSON.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "starterd.h"

#define TOKEN_KEY_MIN		16
#define TOKEN_KEY_MAX		512
#define TOKEN_DB_KEYLEN		32
#define TOKEN_MAX		1024
#define TOKEN_SIGLEN		32
#define TOKEN_CACHE_SLOTS	8192	/* power of two */
/* base64url of {"alg":"HS256","typ":"JWT"} */
#define TOKEN_HEADER		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

/*
 * A version cache slot, seqlocked like auth.c's: a writer moves seq from
 * even to odd with a CAS, writes, and makes it even again; a reader trusts
 * its copy only if seq was even and unchanged.  A writer finding seq odd
 * gives up (that user is looked up in the database); a worker killed
 * mid-write leaves one slot that only ever misses.
 */
struct token_slot {
	_Atomic uint32_t seq;
	int32_t		 user_id;
	int32_t		 ver;
	uint64_t	 gen;
};

struct token_shm {
	struct token_slot slots[TOKEN_CACHE_SLOTS];
};

/* What a version lookup is for. */
struct token_req {
	int		 issue;		/* 1: GET /auth/request-token */
	int		 user_id;
	int		 ver;		/* the token's claim */
	uint64_t	 gen;
	char		 name[65];
};

static struct token_shm	*token_shm;
static unsigned char	 token_key[TOKEN_KEY_MAX];
static size_t		 token_keylen;	/* 0: not known yet */
static int		 token_key_fixed;	/* from a file or env */

size_t
token_shm_size(void)
{
	return (sizeof(struct token_shm));
}

/* Master, before fork (and before dropping privileges): the fixed key. */
int
token_shm_attach(void *p)
{
	const char	*env;
	ssize_t		 n;
	int		 fd;

	if (p == NULL)
		return (-1);
	token_shm = p;
	if (conf->token_key_file[0] != '\0') {
		if ((fd = open(conf->token_key_file, O_RDONLY | O_CLOEXEC))
		    == -1) {
			log_warn("token key file %s", conf->token_key_file);
			return (-1);
		}
		n = read(fd, token_key, sizeof(token_key));
		close(fd);
		if (n == -1) {
			log_warn("token key file %s", conf->token_key_file);
			return (-1);
		}
		while (n > 0 && (token_key[n - 1] == '\n' ||
		    token_key[n - 1] == '\r'))
			n--;
		token_keylen = (size_t)n;
	} else if ((env = getenv("STARTERD_TOKEN_KEY")) != NULL &&
	    *env != '\0')
		token_keylen = strlcpy((char *)token_key, env,
		    sizeof(token_key));
	else
		return (0);
	if (token_keylen < TOKEN_KEY_MIN || token_keylen >= TOKEN_KEY_MAX) {
		log_warnx("token key: %d to %d bytes expected", TOKEN_KEY_MIN,
		    TOKEN_KEY_MAX - 1);
		explicit_bzero(token_key, sizeof(token_key));
		token_keylen = 0;
		return (-1);
	}
	token_key_fixed = 1;
	return (0);
}

/* ------------------------------------------------------------ base64url */

/* Encode without padding; out needs 4 * ((len + 2) / 3) + 1 bytes. */
static size_t
token_b64url(const unsigned char *in, size_t len, char *out)
{
	int	n, i;

	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return ((size_t)n);
}

/* Decode unpadded base64url; -1 on any malformation or overflow. */
static int
token_unb64url(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	char	tmp[TOKEN_MAX + 4];
	size_t	i, pad;
	int	n;

	if (len == 0 || len % 4 == 1 || len > TOKEN_MAX)
		return (-1);
	for (i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '-')
			ch = '+';
		else if (ch == '_')
			ch = '/';
		else if (!((ch >= 'A' && ch <= 'Z') ||
		    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			return (-1);
		tmp[i] = ch;
	}
	pad = (4 - len % 4) % 4;
	memset(tmp + len, '=', pad);
	if ((len + pad) / 4 * 3 > outlen)
		return (-1);
	n = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)(len + pad));
	if (n < 0 || (size_t)n < pad)
		return (-1);
	return (n - (int)pad);
}

/* ------------------------------------------------------- version cache */

static struct token_slot *
token_slot(int user_id)
{
	return (&token_shm->slots[(uint32_t)user_id *
	    2654435761u & (TOKEN_CACHE_SLOTS - 1)]);
}

/* 0 and the version when user_id's is cached for the current generation. */
static int
token_ver_find(int user_id, int *ver)
{
	struct token_slot	*s = token_slot(user_id);
	struct token_slot	 copy;
	uint32_t		 seq;

	seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (seq & 1)
		return (-1);
	copy.user_id = s->user_id;
	copy.ver = s->ver;
	copy.gen = s->gen;
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
		return (-1);
	if (copy.user_id != user_id || copy.gen == 0 ||
	    copy.gen != auth_generation() + 1)
		return (-1);
	*ver = copy.ver;
	return (0);
}

/* gen: the generation read before the lookup began. */
static void
token_ver_add(int user_id, int ver, uint64_t gen)
{
	struct token_slot	*s = token_slot(user_id);
	uint32_t		 seq;

	seq = atomic_load(&s->seq);
	if ((seq & 1) || !atomic_compare_exchange_strong(&s->seq, &seq,
	    seq + 1))
		return;
	s->user_id = user_id;
	s->ver = ver;
	s->gen = gen + 1;	/* 0 stays "empty" */
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

/* ---------------------------------------------------------------- key */

static int
token_key_set(PGresult *res)
{
	const char	*hex;
	size_t		 len, i;
	unsigned int	 b;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		return (-1);
	hex = PQgetvalue(res, 0, 0);
	len = strlen(hex);
	if (len % 2 != 0 || len / 2 < TOKEN_KEY_MIN ||
	    len / 2 >= TOKEN_KEY_MAX)
		return (-1);
	for (i = 0; i < len / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return (-1);
		token_key[i] = (unsigned char)b;
	}
	token_keylen = len / 2;
	return (0);
}

static int	token_key_fetch(struct client *, int);

/*
 * The database's key came back.  c, when set, waited for it: its
 * credentials are checked again now.
 */
static void
token_key_cb(struct client *c, PGresult *res, void *arg)
{
	int	tries = (int)(intptr_t)arg, rv;

	if (token_keylen == 0 && token_key_set(res) == -1) {
		if (res != NULL && PQresultStatus(res) != PGRES_TUPLES_OK)
			log_warnx("token key: %s", PQresultErrorMessage(res));
		/* Lost an insert race: our snapshot missed it; once more. */
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
		    tries < 2 && token_key_fetch(c, tries + 1) == 0)
			return;
	}
	if (c == NULL)
		return;
	if (token_keylen == 0) {
		worker_authed(c, AUTH_UNAVAILABLE);
		return;
	}
	if ((rv = auth_check(c)) != AUTH_PENDING)
		worker_authed(c, rv);
}

static int
token_key_fetch(struct client *c, int tries)
{
	unsigned char	 raw[TOKEN_DB_KEYLEN];
	char		 hex[2 * TOKEN_DB_KEYLEN + 1];
	const char	*p[1] = { hex };
	size_t		 i;
	int		 rv;

	arc4random_buf(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	rv = db_submit(c, DB_TOKEN_KEY, 1, p, token_key_cb,
	    (void *)(intptr_t)tries);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(hex, sizeof(hex));
	return (rv);
}

/* db.c: the worker's connection is up; load the shared key now. */
void
token_db_up(void)
{
	if (!token_key_fixed && token_keylen == 0)
		(void)token_key_fetch(NULL, 0);
}

/* ----------------------------------------------------------- issuing */

static void
token_issue(struct client *c, int ver)
{
	struct buf	 p, b;
	unsigned char	 sig[EVP_MAX_MD_SIZE];
	unsigned int	 siglen = 0;
	char		*enc = NULL;
	size_t		 n;
	time_t		 now = time(NULL);

	buf_init(&p, 1024);
	buf_init(&b, 4096);
	(void)buf_appendf(&p, "{\"exp\":%lld,\"iat\":%lld,\"name\":",
	    (long long)now + conf->token_ttl, (long long)now);
	(void)json_string(&p, c->username, strlen(c->username));
	(void)buf_appendf(&p, ",\"sub\":\"%d\",\"ver\":%d}", c->user_id, ver);
	if ((enc = malloc(4 * ((BUF_LEN(&p) + 2) / 3) + 1)) == NULL)
		goto fail;
	(void)buf_appendstr(&b, TOKEN_HEADER ".");
	n = token_b64url((unsigned char *)BUF_PTR(&p), BUF_LEN(&p), enc);
	(void)buf_append(&b, enc, n);
	HMAC(EVP_sha256(), token_key, token_keylen,
	    (unsigned char *)BUF_PTR(&b), BUF_LEN(&b), sig, &siglen);
	n = token_b64url(sig, siglen, enc);
	(void)buf_append(&b, ".", 1);
	if (buf_append(&b, enc, n) == -1)
		goto fail;
	buf_reset(&p);
	(void)buf_appendf(&p, "{\"expires_in\":%d,\"token\":", conf->token_ttl);
	(void)json_string(&p, BUF_PTR(&b), BUF_LEN(&b));
	if (buf_appendstr(&p, "}\n") == -1)
		goto fail;
	response_header(c, "Cache-Control: no-cache, no-store, max-age=0");
	response_json(c, 200, &p);
	goto done;
fail:
	response_error(c, 500, "cannot make a token");
done:
	free(enc);
	explicit_bzero(sig, sizeof(sig));
	buf_free(&p);
	buf_free(&b);
}

/* ----------------------------------------------------------- checking */

/* The user's current version is in (or the lookup failed). */
static void
token_ver_cb(struct client *c, PGresult *res, void *arg)
{
	struct token_req	*r = arg;
	int			 ver;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res != NULL)
			log_warnx("token version lookup: %s",
			    PQresultErrorMessage(res));
		if (c != NULL)
			worker_authed(c, AUTH_UNAVAILABLE);
		free(r);
		return;
	}
	if (PQntuples(res) == 0) {	/* the user is gone */
		if (c != NULL) {
			if (r->issue)
				response_error(c, 401, "please authenticate");
			else
				worker_authed(c, AUTH_FAIL);
		}
		free(r);
		return;
	}
	ver = atoi(PQgetvalue(res, 0, 0));
	token_ver_add(r->user_id, ver, r->gen);
	if (c != NULL) {
		if (r->issue)
			token_issue(c, ver);
		else if (ver != r->ver)
			worker_authed(c, AUTH_FAIL);
		else {
			c->user_id = r->user_id;
			strlcpy(c->username, PQgetvalue(res, 0, 1),
			    sizeof(c->username));
			worker_authed(c, AUTH_OK);
		}
	}
	free(r);
}

/* Look up user_id's version in the database for r; AUTH_* for the caller. */
static int
token_ver_lookup(struct client *c, struct token_req *r)
{
	char		 id[16];
	const char	*p[1] = { id };

	snprintf(id, sizeof(id), "%d", r->user_id);
	/* Before the query: a change meanwhile makes the entry stale. */
	r->gen = auth_generation();
	if (db_submit(c, DB_USER_TOKEN_VER, 1, p, token_ver_cb, r) == -1) {
		free(r);
		return (AUTH_UNAVAILABLE);
	}
	return (AUTH_PENDING);
}

/* An integer claim of the payload; -1 if missing or not one. */
static int
token_claim_int(cJSON *o, const char *name, long long *v)
{
	cJSON	*i = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(i) || i->valuedouble < 0 ||
	    i->valuedouble > 1e15 || (double)(long long)i->valuedouble !=
	    i->valuedouble)
		return (-1);
	*v = (long long)i->valuedouble;
	return (0);
}

/*
 * Check a token (len bytes at tok, from the client's input).  AUTH_OK
 * with c->user_id/username set, AUTH_FAIL, AUTH_PENDING (worker_authed()
 * follows) or AUTH_UNAVAILABLE.
 */
int
token_check(struct client *c, const char *tok, size_t len)
{
	unsigned char		 mac[EVP_MAX_MD_SIZE], sig[TOKEN_MAX];
	unsigned char		 pay[TOKEN_MAX];
	unsigned int		 maclen = 0;
	const char		*dot1, *dot2, *err;
	struct token_req	*r;
	cJSON			*o = NULL, *s;
	long long		 exp, ver;
	int			 n, good, id, cver, rv = AUTH_FAIL;

	if (len == 0 || len > TOKEN_MAX)
		return (AUTH_FAIL);
	if (token_keylen == 0) {
		if (token_key_fixed || token_key_fetch(c, 0) == -1)
			return (AUTH_UNAVAILABLE);
		return (AUTH_PENDING);
	}
	/* The signature first, over whatever precedes the last dot. */
	if ((dot2 = memrchr(tok, '.', len)) == NULL)
		dot2 = tok + len;
	HMAC(EVP_sha256(), token_key, token_keylen, (const unsigned char *)tok,
	    (size_t)(dot2 - tok), mac, &maclen);
	memset(sig, 0, TOKEN_SIGLEN);
	n = dot2 < tok + len ? token_unb64url(dot2 + 1,
	    len - (size_t)(dot2 - tok) - 1, sig, sizeof(sig)) : -1;
	good = CRYPTO_memcmp(mac, sig, TOKEN_SIGLEN) == 0;
	explicit_bzero(mac, sizeof(mac));
	if (!good || n != TOKEN_SIGLEN)
		return (AUTH_FAIL);

	/* Signed by us: now the content can be read. */
	dot1 = memchr(tok, '.', len);
	if (dot1 == NULL || dot1 == dot2 || (size_t)(dot1 - tok) !=
	    strlen(TOKEN_HEADER) || memcmp(tok, TOKEN_HEADER, strlen(
	    TOKEN_HEADER)) != 0)
		return (AUTH_FAIL);
	n = token_unb64url(dot1 + 1, (size_t)(dot2 - dot1 - 1), pay,
	    sizeof(pay) - 1);
	if (n <= 0)
		return (AUTH_FAIL);
	pay[n] = '\0';
	if ((o = cJSON_ParseWithLength((char *)pay, (size_t)n)) == NULL)
		return (AUTH_FAIL);
	s = cJSON_GetObjectItemCaseSensitive(o, "sub");
	if (!cJSON_IsString(s) || token_claim_int(o, "exp", &exp) == -1 ||
	    token_claim_int(o, "ver", &ver) == -1 || ver > INT32_MAX)
		goto done;
	id = (int)strtonum(s->valuestring, 1, INT32_MAX, &err);
	if (err != NULL || exp <= (long long)time(NULL))
		goto done;
	s = cJSON_GetObjectItemCaseSensitive(o, "name");
	if (token_ver_find(id, &cver) == 0) {
		if (cver != (int)ver)
			goto done;
		c->user_id = id;
		strlcpy(c->username, cJSON_IsString(s) ? s->valuestring : "",
		    sizeof(c->username));
		rv = AUTH_OK;
		goto done;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rv = AUTH_UNAVAILABLE;
		goto done;
	}
	r->user_id = id;
	r->ver = (int)ver;
	rv = token_ver_lookup(c, r);
done:
	cJSON_Delete(o);
	return (rv);
}

/*
 * GET /auth/request-token: Basic credentials checked (ROUTE_PASSWORD), so
 * c->user_id is the user; the token carries their current version.
 */
void
api_auth_token(struct client *c)
{
	struct token_req	*r;
	int			 ver, rv;

	if (token_keylen == 0) {
		/* Key first; token_key_cb() then runs this request again. */
		if (token_key_fixed || token_key_fetch(c, 0) == -1) {
			response_header(c, "Retry-After: %d",
			    db_retry_after());
			response_error(c, 503, "the database is unavailable");
		}
		return;
	}
	if (token_ver_find(c->user_id, &ver) == 0) {
		token_issue(c, ver);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		response_error(c, 500, "out of memory");
		return;
	}
	r->issue = 1;
	r->user_id = c->user_id;
	rv = token_ver_lookup(c, r);
	if (rv == AUTH_UNAVAILABLE) {
		response_header(c, "Retry-After: %d", db_retry_after());
		response_error(c, 503, "the database is unavailable");
	}
}
