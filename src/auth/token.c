/*
 * token.c: signed bearer tokens (JWT, HS256): the key, the version cache,
 * checking a token and making one (GET /auth/request-token is
 * api/api_token.c).
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
 * cache: any change to starter_users NOTIFYs every instance and bumps
 * that generation (data/channels.c), so a repeated token costs no database
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
 * A version cache slot, guarded by a seqlock (lib/seqlock.h, shared with
 * the credential cache): readers never wait, a writer that finds the slot
 * busy gives up (that user is looked up in the database), and a worker
 * killed mid-write leaves a slot the next writer takes over.
 */
struct token_entry {
	int32_t		 user_id;
	int32_t		 ver;
	uint64_t	 gen;		/* generation + 1; 0: empty */
};

struct token_slot {
	struct seqlock	 lock;
	struct token_entry e;
};

struct token_shm {
	_Atomic uint64_t gen;		/* moves on any change to the users */
	struct token_slot slots[TOKEN_CACHE_SLOTS];
};

/* What a version lookup of a token check is for. */
struct token_req {
	int		 user_id;
	int		 ver;		/* the token's claim */
	uint64_t	 gen;
};

static struct token_shm	*token_shm;
static unsigned char	 token_key[TOKEN_KEY_MAX];
static size_t		 token_keylen;	/* 0: not known yet */
static int		 token_key_fixed;	/* from a file or env */
static struct mac	 token_mac;	/* keyed with token_key when used */

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

/*
 * Decode unpadded base64url; -1 on any malformation or overflow, and on a
 * non-canonical spelling: the bits of the last character that encode no
 * byte must be zero, so that a token has exactly one spelling.
 */
static int
token_unb64url(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	char			 tmp[TOKEN_MAX + 4];
	const char		*ch;
	size_t			 i, pad;
	int			 n;

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
	if (pad > 0) {
		/* 2 spare bits after 2 bytes (pad 1), 4 after 1 (pad 2). */
		if ((ch = strchr(b64, in[len - 1])) == NULL ||
		    ((ch - b64) & (pad == 1 ? 0x03 : 0x0f)) != 0)
			return (-1);
	}
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

/* The users generation of the version cache. */
uint64_t
token_generation(void)
{
	return (atomic_load(&token_shm->gen));
}

/* A change to the users: every cached version is forgotten. */
void
token_cache_flush(void)
{
	if (token_shm != NULL)
		atomic_fetch_add(&token_shm->gen, 1);
}

/* 0 and the version when user_id's is cached for the current generation. */
int
token_version_find(int user_id, int *ver)
{
	struct token_slot	*s = token_slot(user_id);
	struct token_entry	 copy;

	if (seqlock_read(&s->lock, &copy, &s->e, sizeof(copy)) == -1)
		return (-1);
	if (copy.user_id != user_id || copy.gen == 0 ||
	    copy.gen != token_generation() + 1)
		return (-1);
	*ver = copy.ver;
	return (0);
}

/* gen: the generation read before the lookup began. */
void
token_version_add(int user_id, int ver, uint64_t gen)
{
	struct token_slot	*s = token_slot(user_id);

	if (seqlock_write_begin(&s->lock) == -1)
		return;
	s->e.user_id = user_id;
	s->e.ver = ver;
	s->e.gen = gen + 1;	/* 0 stays "empty" */
	seqlock_write_end(&s->lock);
}

/* ---------------------------------------------------------------- key */

static int
token_key_set(PGresult *res)
{
	ssize_t		 n;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		return (-1);
	mac_clear(&token_mac);
	n = hex_decode(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
	    token_key, TOKEN_KEY_MAX - 1);
	if (n < TOKEN_KEY_MIN) {
		explicit_bzero(token_key, sizeof(token_key));
		return (-1);
	}
	token_keylen = (size_t)n;
	return (0);
}

static int	token_key_fetch(struct client *, int);

/* out[0..MAC_LEN) = HMAC-SHA-256 under the signing key; -1 if unknown. */
static int
token_hmac(const void *p, size_t n, unsigned char *out)
{
	if (token_keylen == 0 || (token_mac.ctx == NULL &&
	    mac_init(&token_mac, token_key, token_keylen) == -1))
		return (-1);
	return (mac_sha256(&token_mac, p, n, out));
}

/*
 * The database's key came back.  c, when set, waited for it: it is told
 * to check again (AUTH_AGAIN), or that there is no key.
 */
static void
token_key_cb(struct client *c, PGresult *res, void *arg)
{
	int	tries = (int)(intptr_t)arg;

	if (token_keylen == 0 && token_key_set(res) == -1) {
		if (res != NULL && PQresultStatus(res) != PGRES_TUPLES_OK)
			log_warnx("token key: %s", PQresultErrorMessage(res));
		/* Lost an insert race: our snapshot missed it; once more. */
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
		    tries < 2 && token_key_fetch(c, tries + 1) == 0)
			return;
	}
	client_auth_result(c, token_keylen == 0 ? AUTH_UNAVAILABLE :
	    AUTH_AGAIN);
}

static int
token_key_fetch(struct client *c, int tries)
{
	unsigned char	 raw[TOKEN_DB_KEYLEN];
	char		 hex[2 * TOKEN_DB_KEYLEN + 1];
	const char	*p[1] = { hex };
	int		 rv;

	arc4random_buf(raw, sizeof(raw));
	(void)hex_encode(raw, sizeof(raw), hex);
	rv = db_submit(c, DB_TOKEN_KEY, 1, p, token_key_cb,
	    (void *)(intptr_t)tries);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(hex, sizeof(hex));
	return (rv);
}

/* The worker's connection is up (a db.c hook): load the shared key now. */
void
token_db_up(void)
{
	if (!token_key_fixed && token_keylen == 0)
		(void)token_key_fetch(NULL, 0);
}

/*
 * Is the signing key known?  0 yes; AUTH_PENDING: it is being loaded for
 * c, which is woken with AUTH_AGAIN (or AUTH_UNAVAILABLE) in
 * c->auth_result; -1: there is none to be had now.
 */
int
token_key_ready(struct client *c)
{
	if (token_keylen > 0)
		return (0);
	if (token_key_fixed || token_key_fetch(c, 0) == -1)
		return (-1);
	return (AUTH_PENDING);
}

/*
 * A key of its own for another use of the shared secret (label says
 * which, e.g. "cursor"): HMAC-SHA256(signing key, label), so that every
 * instance derives the same one and neither use can forge the other's.
 * -1 while the signing key is not known (token_key_ready waits for it).
 */
int
token_derive(const char *label, unsigned char *out, size_t len)
{
	unsigned char	md[MAC_LEN];

	if (len > MAC_LEN || token_hmac(label, strlen(label), md) == -1)
		return (-1);
	memcpy(out, md, len);
	explicit_bzero(md, sizeof(md));
	return (0);
}

/* ----------------------------------------------------------- issuing */

/*
 * Append a signed token for user (id, name) at version ver to out.
 * 0, or -1 when it does not fit or the key is unknown.
 */
int
token_make(struct buf *out, int user_id, const char *name, int ver)
{
	struct buf	 p;
	unsigned char	 sig[MAC_LEN];
	char		*enc = NULL;
	size_t		 n, start = BUF_LEN(out);
	time_t		 now = time(NULL);
	int		 rv = -1;

	if (token_keylen == 0)
		return (-1);
	buf_init(&p, 1024);
	(void)buf_appendf(&p, "{\"exp\":%lld,\"iat\":%lld,\"name\":",
	    (long long)now + conf->token_ttl, (long long)now);
	(void)json_string(&p, name, strlen(name));
	if (buf_appendf(&p, ",\"sub\":\"%d\",\"ver\":%d}", user_id, ver)
	    == -1)
		goto done;
	if ((enc = malloc(4 * ((BUF_LEN(&p) + 2) / 3) + 1)) == NULL)
		goto done;
	(void)buf_appendstr(out, TOKEN_HEADER ".");
	n = token_b64url((unsigned char *)BUF_PTR(&p), BUF_LEN(&p), enc);
	(void)buf_append(out, enc, n);
	if (token_hmac(BUF_PTR(out) + start, BUF_LEN(out) - start, sig) == -1)
		goto done;
	n = token_b64url(sig, sizeof(sig), enc);
	(void)buf_append(out, ".", 1);
	if (buf_append(out, enc, n) == 0)
		rv = 0;
done:
	free(enc);
	explicit_bzero(sig, sizeof(sig));
	buf_free(&p);
	return (rv);
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
		client_auth_result(c, AUTH_UNAVAILABLE);
		free(r);
		return;
	}
	if (PQntuples(res) == 0) {	/* the user is gone */
		client_auth_result(c, AUTH_FAIL);
		free(r);
		return;
	}
	ver = atoi(PQgetvalue(res, 0, 0));
	token_version_add(r->user_id, ver, r->gen);
	if (c != NULL && ver == r->ver) {
		c->user_id = r->user_id;
		strlcpy(c->username, PQgetvalue(res, 0, 1),
		    sizeof(c->username));
	}
	client_auth_result(c, ver == r->ver ? AUTH_OK : AUTH_FAIL);
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
	r->gen = token_generation();
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
 * with c->user_id/username set, AUTH_FAIL, AUTH_PENDING (the result comes
 * in c->auth_result, with a wake-up) or AUTH_UNAVAILABLE.
 */
int
token_check(struct client *c, const char *tok, size_t len)
{
	unsigned char		 mac[MAC_LEN], sig[TOKEN_MAX];
	unsigned char		 pay[TOKEN_MAX];
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
	if (token_hmac(tok, (size_t)(dot2 - tok), mac) == -1)
		return (AUTH_UNAVAILABLE);
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
	if (token_version_find(id, &cver) == 0) {
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
