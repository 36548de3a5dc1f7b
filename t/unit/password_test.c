/*
 * password_test: lib/password against fixed vectors (werkzeug, argon2)
 * and round trips.  Prints TAP.
 */
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include <argon2.h>

#include "password.h"
#include "tap.h"

/* werkzeug 3.1 generate_password_hash(pw, method="pbkdf2:sha256:1000") */
#define WZ_1000		"pbkdf2:sha256:1000$a3wUbz6zVz1OOzE9$" \
	"2a8b08978afb333487eab164bcffc7d86baa51a2d15a35f449a2a28d5ad43a1c"
/* werkzeug, salt_length=8, the 260000 iterations of werkzeug 2.x */
#define WZ_260000	"pbkdf2:sha256:260000$4AVRxDiH$" \
	"12bb5a072c4c059f91730384837cb92402595e4ab6a8905fec3f0062919ab95b"
/* iterations left out: werkzeug's default 260000 (hashlib.pbkdf2_hmac) */
#define WZ_NOITER	"pbkdf2:sha256$OldFlaskSalt$" \
	"fa96fd5d4b2195fe9b4e6502b929fccb78db5b3376c54f8a1708adef5dfda0ee"
#define WZ_SHA512	"pbkdf2:sha512:2000$abc$9de6e834418674b976fad11191" \
	"ec43744d9fafe27c1636ac0d18e7e0cdf98fe20882b95c09f2fae2a992fb61dd4" \
	"77c98d8b177eb42f0ea7b86ab5272cc47f0a6"

static const struct password_params fast = { 1, 64, 1 };

static void
test_werkzeug(void)
{
	char	buf[256];

	ok(password_verify(WZ_1000, "s3cret") == 0, "werkzeug 1000 matches");
	ok(password_verify(WZ_1000, "s3creT") == -1,
	    "werkzeug 1000 wrong password");
	ok(password_verify(WZ_260000, "admin") == 0,
	    "werkzeug 260000 matches");
	ok(password_verify(WZ_260000, "") == -1, "werkzeug empty password");
	ok(password_verify(WZ_NOITER, "flask-pw") == 0,
	    "pbkdf2:sha256 without iterations uses 260000");
	ok(password_verify(WZ_SHA512, "x") == 0, "pbkdf2:sha512 matches");
	ok(password_needs_rehash(WZ_1000, NULL) == 1,
	    "pbkdf2 needs rehash");

	/* Upper-case hex is the same digest. */
	strlcpy(buf, WZ_1000, sizeof(buf));
	for (char *p = strrchr(buf, '$'); *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p -= 'a' - 'A';
	ok(password_verify(buf, "s3cret") == 0, "upper-case hex digest");

	/* Damaged strings never match. */
	strlcpy(buf, WZ_1000, sizeof(buf));
	buf[strlen(buf) - 1] = buf[strlen(buf) - 1] == '0' ? '1' : '0';
	ok(password_verify(buf, "s3cret") == -1, "flipped digest");
	buf[strlen(buf) - 1] = '\0';
	ok(password_verify(buf, "s3cret") == -1, "short digest");
	strlcpy(buf, WZ_1000, sizeof(buf));
	buf[strlen(buf) - 1] = 'g';
	ok(password_verify(buf, "s3cret") == -1, "non-hex digest");
	ok(password_verify("pbkdf2:sha256:0$a3wUbz6zVz1OOzE9$2a8b", "s3cret")
	    == -1, "zero iterations");
	ok(password_verify("pbkdf2:sha256:x$salt$00", "s3cret") == -1,
	    "bad iteration count");
	ok(password_verify("pbkdf2:nosuchhash:10$salt$00", "s3cret") == -1,
	    "unknown digest");
	ok(password_verify("pbkdf2:sha256:10$$00", "s3cret") == -1,
	    "empty salt");
	ok(password_verify("pbkdf2:sha256:10", "s3cret") == -1,
	    "no salt or digest");
	ok(password_verify("plain", "plain") == -1, "plain text refused");
	ok(password_verify("", "") == -1, "empty hash refused");
	ok(password_verify(NULL, "x") == -1, "NULL hash refused");
}

static void
test_argon2(void)
{
	struct password_params	 pp = PASSWORD_PARAMS_DEFAULT;
	char			 h1[PASSWORD_PHC_MAX], h2[PASSWORD_PHC_MAX];
	char			 small[16], enc[PASSWORD_PHC_MAX];
	const char		*salt = "0123456789abcdef";

	ok(pp.t_cost == 2 && pp.m_cost_kib == 19456 && pp.parallelism == 1,
	    "defaults are t=2 m=19456 p=1");
	ok(password_hash("correct horse", NULL, h1, sizeof(h1)) == 0,
	    "hash with defaults");
	ok(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0,
	    "PHC string: %s", h1);
	ok(password_verify(h1, "correct horse") == 0, "default hash verifies");
	ok(password_verify(h1, "correct horsE") == -1, "wrong password");
	ok(password_needs_rehash(h1, NULL) == 0, "defaults need no rehash");

	ok(password_hash("correct horse", NULL, h2, sizeof(h2)) == 0 &&
	    strcmp(h1, h2) != 0, "fresh salt each time");

	ok(password_hash("pw", &fast, h1, sizeof(h1)) == 0,
	    "hash with t=1 m=64");
	ok(strncmp(h1, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0,
	    "params in PHC string");
	ok(password_verify(h1, "pw") == 0, "fast hash verifies");
	ok(password_needs_rehash(h1, NULL) == 1,
	    "weaker than defaults needs rehash");
	ok(password_needs_rehash(h1, &fast) == 0,
	    "same params need no rehash");
	pp = fast;
	pp.t_cost = 2;
	ok(password_needs_rehash(h1, &pp) == 1, "lower t_cost needs rehash");

	ok(password_hash("", &fast, h1, sizeof(h1)) == 0 &&
	    password_verify(h1, "") == 0 && password_verify(h1, "x") == -1,
	    "empty password hashes (refusing it is the caller's job)");
	ok(password_hash("pw", &fast, small, sizeof(small)) == -1 &&
	    small[0] == '\0', "too small output buffer");

	/* Other argon2 variants from older deployments. */
	ok(argon2_hash(1, 64, 1, "pw", 2, salt, 16, NULL, 32, enc,
	    sizeof(enc), Argon2_i, ARGON2_VERSION_NUMBER) == ARGON2_OK,
	    "make argon2i");
	ok(password_verify(enc, "pw") == 0, "argon2i verifies");
	ok(password_verify(enc, "pW") == -1, "argon2i wrong password");
	ok(password_needs_rehash(enc, &fast) == 1, "argon2i needs rehash");
	ok(argon2_hash(1, 64, 1, "pw", 2, salt, 16, NULL, 32, enc,
	    sizeof(enc), Argon2_d, ARGON2_VERSION_NUMBER) == ARGON2_OK,
	    "make argon2d");
	ok(password_verify(enc, "pw") == 0, "argon2d verifies");
	ok(password_needs_rehash(enc, &fast) == 1, "argon2d needs rehash");
	ok(password_verify("$argon2x$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", "pw")
	    == -1, "unknown argon2 type");
	ok(password_verify("$argon2id$v=19$m=64,t=1,p=1$c2FsdA", "pw") == -1,
	    "truncated argon2id");
}

int
main(void)
{
	test_werkzeug();
	test_argon2();
	return (done_testing());
}
