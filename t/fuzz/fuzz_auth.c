/*
 * fuzz_auth.c: libFuzzer harness for authorization parsing: the
 * Authorization header (Basic decoding, Bearer, the "TOKEN:" Basic
 * convention) in src/auth/auth.c and the token parser and checker of
 * src/auth/token.c, with a fixed key (STARTERD_TOKEN_KEY) and calloc'ed
 * blocks for their shared memory.  db_submit() is support.c's capture:
 * nothing touches a database; the harness answers the captured lookups
 * with simulated results.
 *
 * Input: a flags byte, then the rest.
 *   flags & 0x01	the route wants a password (ROUTE_PASSWORD)
 *   flags & 0x06	--auth: both, password, token, both
 *   flags & 0x08	the rest is a token payload (JSON): the harness signs
 *			it with the key, so the checker gets past the HMAC
 *			and parses the claims; else the rest is a request
 *   flags & 0x10	signed mode: send it as Basic "TOKEN:" not Bearer
 *   flags & 0x60	how a version lookup is answered: the claim's version,
 *			no row, connection lost, an error
 * A signed payload is judged by an oracle first (the claims exp, sub, ver,
 * the size limits, --auth, the route): a token it rejects must fail, one
 * it accepts must lead to the version lookup of its user.  The rest also
 * goes to token_check() as a raw token, and a token made by token_make()
 * for a name taken from it must check out (a round trip).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <cjson/cJSON.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"

#define KEY	"fuzz-token-key-0123456789abcdef"
#define HEADER	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"	/* token.c's */

static const struct route route_api = { "/api/v1.0/pxcodes/", 0xffff,
    ROUTE_AUTH, NULL };
static const struct route route_pw = { "/auth/request-token", 0xffff,
    ROUTE_AUTH | ROUTE_PASSWORD, NULL };

static void
setup(void)
{
	static int	 done;
	void		*p;

	if (done)
		return;
	done = 1;
	fuzz_init();
	setenv("STARTERD_TOKEN_KEY", KEY, 1);
	if ((p = calloc(1, token_shm_size())) == NULL ||
	    token_shm_attach(p) == -1)
		abort();
	if ((p = calloc(1, auth_shm_size())) == NULL ||
	    auth_shm_attach(p) == -1)
		abort();
}

static size_t
b64url(const unsigned char *in, size_t len, char *out)
{
	int	n, i;

	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++)
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	return ((size_t)n);
}

/* header.payload.signature over payload p, signed with KEY. */
static char *
sign(const uint8_t *p, size_t len)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	size_t		 n;
	char		*t;

	if ((t = malloc(strlen(HEADER) + 4 * (len / 3 + 2) + 64)) == NULL)
		abort();
	n = strlen(HEADER);
	memcpy(t, HEADER ".", n + 1);
	n++;
	n += b64url(p, len, t + n);
	HMAC(EVP_sha256(), KEY, strlen(KEY), (unsigned char *)t, n, mac,
	    &maclen);
	t[n++] = '.';
	b64url(mac, maclen, t + n);
	return (t);
}

/* The claim "ver" of a JSON payload, or -1. */
static long
claim_ver(const uint8_t *p, size_t len)
{
	cJSON	*o, *v;
	long	 ver = -1;

	if ((o = cJSON_ParseWithLength((const char *)p, len)) == NULL)
		return (-1);
	v = cJSON_GetObjectItemCaseSensitive(o, "ver");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
	    v->valuedouble <= 2147483647.0)
		ver = (long)v->valuedouble;
	cJSON_Delete(o);
	return (ver);
}

/* A claim as token.c wants it: a whole number in [0, 1e15]. */
static int
claim_int(cJSON *o, const char *name, long long *v)
{
	cJSON	*i = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(i) || !(i->valuedouble >= 0 &&
	    i->valuedouble <= 1e15) ||
	    (double)(long long)i->valuedouble != i->valuedouble)
		return (-1);
	*v = (long long)i->valuedouble;
	return (0);
}

/*
 * The oracle for a signed payload p sent as the header value of vlen
 * bytes: the user id whose version must be looked up next, or 0 when
 * the check must fail (the claims exp, sub, ver; the size limits;
 * --auth and password-only routes); -1 when it cannot tell.
 */
static long
expect_signed(const uint8_t *p, size_t len, size_t toklen, size_t vlen,
    int flags)
{
	const char	*err;
	cJSON		*o, *sub;
	long long	 exp, ver, id = 0;

	if ((flags & 0x01) || conf->auth_mode == AUTH_MODE_PASSWORD)
		return (0);
	if (vlen > 1024 || toklen > 1024 || len == 0)
		return (0);
	if ((flags & 0x10) && (vlen - 6) / 4 * 3 + 1 > 1024)
		return (0);
	if ((o = cJSON_ParseWithLength((const char *)p, len)) == NULL)
		return (0);
	sub = cJSON_GetObjectItemCaseSensitive(o, "sub");
	if (cJSON_IsString(sub) && claim_int(o, "exp", &exp) == 0 &&
	    claim_int(o, "ver", &ver) == 0 && ver <= INT32_MAX &&
	    exp > (long long)time(NULL)) {
		id = strtonum(sub->valuestring, 1, INT32_MAX, &err);
		if (err != NULL)
			id = 0;
	}
	/* Expiring right now: the clock may tick between us and it. */
	if (claim_int(o, "exp", &exp) == 0 &&
	    llabs(exp - (long long)time(NULL)) <= 2)
		id = -1;
	cJSON_Delete(o);
	return ((long)id);
}

/* Answer what auth_check()/token_check() submitted. */
static void
answer_all(int how, long ver, const char *name)
{
	char		 v[24];
	PGresult	*res;

	while (fuzz_npending > 0) {
		switch (fuzz_pending[0].stmt) {
		case DB_USER_TOKEN_VER:
			snprintf(v, sizeof(v), "%ld", ver);
			switch (how) {
			case 0:
				/* token_version, username: set as they are
				 * (a name may hold a tab or be "\N"). */
				res = fuzz_result(PGRES_TUPLES_OK, 2, "", 0,
				    0);
				if (!PQsetvalue(res, 0, 0, v, (int)strlen(v)) ||
				    !PQsetvalue(res, 0, 1, (char *)name,
				    (int)strlen(name)))
					abort();
				break;
			case 1:
				res = fuzz_result(PGRES_TUPLES_OK, 2, "", 0,
				    0);
				break;
			case 2:
				res = NULL;
				break;
			default:
				res = fuzz_result(PGRES_FATAL_ERROR, 0, NULL,
				    0, 0);
				break;
			}
			break;
		default:
			/*
			 * A user lookup: a row would queue the job for the
			 * argon2 thread, which this harness does not run.
			 */
			res = how & 1 ? NULL :
			    fuzz_result(PGRES_FATAL_ERROR, 0, NULL, 0, 0);
			break;
		}
		fuzz_answer(res);
	}
}

static void
check_result(struct client *c, int rv)
{
	if (rv < AUTH_OK || rv > AUTH_AGAIN)
		abort();
	if (rv == AUTH_PENDING) {
		if (fuzz_npending == 0)
			abort();	/* pending on nothing */
		return;
	}
	if (fuzz_npending != 0 && rv != AUTH_OK)
		abort();		/* a lookup left behind */
	if (rv == AUTH_OK && memchr(c->username, '\0',
	    sizeof(c->username)) == NULL)
		abort();
}

static void
check(struct client *c, int flags, long ver, const char *name, long expect)
{
	int	rv;

	c->auth_result = AUTH_PENDING;
	rv = auth_check(c);
	check_result(c, rv);
	if (expect == 0 && rv != AUTH_FAIL) {
		fprintf(stderr, "a token that must fail: %d\n", rv);
		abort();
	}
	if (expect > 0 && (rv != AUTH_PENDING || fuzz_npending != 1 ||
	    fuzz_pending[0].stmt != DB_USER_TOKEN_VER ||
	    atol(fuzz_pending[0].params[0]) != expect)) {
		fprintf(stderr, "a good token for user %ld: %d\n", expect,
		    rv);
		abort();
	}
	if (rv == AUTH_PENDING) {
		answer_all((flags >> 5) & 3, ver, name);
		if (c->auth_result == AUTH_PENDING ||
		    c->auth_result < AUTH_OK || c->auth_result > AUTH_AGAIN)
			abort();	/* answered, never told */
	}
	fuzz_pending_reset();
	if (c->npending != 0)
		abort();		/* a hold without a release */
}

/* token_make() then token_check(): a token we issue is accepted. */
static void
round_trip(const uint8_t *data, size_t len)
{
	struct client	*c;
	struct buf	 tok;
	char		 name[65];
	size_t		 i, n = len < 64 ? len : 64;
	int		 id = 1 + (int)(len % 1000), ver = (int)(len % 7), rv,
			 parsed;

	for (i = 0; i < n; i++)
		name[i] = (char)(' ' + data[i] % 95);	/* printable */
	name[n] = '\0';
	buf_init(&tok, 4096);
	if (token_make(&tok, id, name, ver) == -1)
		abort();
	c = fuzz_client_new(NULL, 0, &parsed);
	token_cache_flush();
	rv = token_check(c, BUF_PTR(&tok), BUF_LEN(&tok));
	if (rv != AUTH_PENDING || fuzz_npending != 1 ||
	    fuzz_pending[0].stmt != DB_USER_TOKEN_VER ||
	    atoi(fuzz_pending[0].params[0]) != id) {
		fprintf(stderr, "token_make/token_check: %d\n", rv);
		abort();
	}
	answer_all(0, ver, name);
	if (c->auth_result != AUTH_OK || c->user_id != id ||
	    strcmp(c->username, name) != 0)
		abort();
	/* Now from the version cache, at once. */
	c->user_id = 0;
	rv = token_check(c, BUF_PTR(&tok), BUF_LEN(&tok));
	if (rv != AUTH_OK || c->user_id != id || strcmp(c->username, name))
		abort();
	fuzz_pending_reset();
	buf_free(&tok);
	fuzz_client_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct client	*c;
	struct buf	 req;
	char		*tok = NULL;
	long		 ver = 0, expect = -1;
	size_t		 vstart = 0;
	int		 flags, parsed;

	setup();
	if (len < 1)
		return (0);
	flags = data[0];
	data++;
	len--;
	/* Every run starts from empty caches. */
	token_cache_flush();
	auth_cache_flush();
	fuzz_pending_reset();
	conf->auth_mode = (flags >> 1) & 3;
	if (conf->auth_mode > AUTH_MODE_TOKEN)
		conf->auth_mode = AUTH_MODE_BOTH;

	buf_init(&req, 65536);
	if (flags & 0x08) {
		tok = sign(data, len);
		ver = claim_ver(data, len);
		buf_appendstr(&req, "GET /api/v1.0/pxcodes/ HTTP/1.1\r\n"
		    "Host: h\r\nAuthorization: ");
		vstart = BUF_LEN(&req);
		if (flags & 0x10) {
			struct buf	 cred;
			char		*enc;

			buf_init(&cred, 0);
			buf_appendf(&cred, "%s:", tok);
			if ((enc = malloc(BUF_LEN(&cred) / 3 * 4 + 8)) ==
			    NULL)
				abort();
			EVP_EncodeBlock((unsigned char *)enc,
			    (unsigned char *)BUF_PTR(&cred),
			    (int)BUF_LEN(&cred));
			buf_appendf(&req, "Basic %s\r\n\r\n", enc);
			free(enc);
			buf_free(&cred);
		} else
			buf_appendf(&req, "Bearer %s\r\n\r\n", tok);
		expect = expect_signed(data, len, strlen(tok),
		    BUF_LEN(&req) - vstart - 4, flags);
	} else
		buf_append(&req, data, len);

	c = fuzz_client_new((const uint8_t *)BUF_PTR(&req), BUF_LEN(&req),
	    &parsed);
	c->route = flags & 0x01 ? &route_pw : &route_api;
	if (parsed)
		check(c, flags, ver, "fuzz", expect);
	fuzz_client_free(c);

	/* The rest as a raw token. */
	c = fuzz_client_new(NULL, 0, &parsed);
	c->route = &route_api;
	check_result(c, token_check(c, (const char *)data, len));
	answer_all((flags >> 5) & 3, 0, "raw");
	fuzz_pending_reset();
	fuzz_client_free(c);

	round_trip(data, len);
	buf_free(&req);
	free(tok);
	return (0);
}
