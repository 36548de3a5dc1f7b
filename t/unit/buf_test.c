/*
 * buf_test: lib/buf bounds, overflow checks, consume and compact.
 * Prints TAP.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

static void
test_basic(void)
{
	struct buf	b;

	buf_init(&b, 0);
	ok(b.data == NULL && b.len == 0 && b.off == 0, "init is empty");
	ok(b.max == SIZE_MAX / 2, "max 0 means SIZE_MAX/2");
	ok(buf_append(&b, "hello", 5) == 0, "append");
	is_int(BUF_LEN(&b), 5, "length 5");
	ok(memcmp(BUF_PTR(&b), "hello", 5) == 0 && b.data[5] == '\0',
	    "contents NUL-terminated");
	ok(buf_appendstr(&b, ", world") == 0 &&
	    strcmp(BUF_PTR(&b), "hello, world") == 0, "appendstr");
	ok(buf_appendf(&b, " %d%s", 42, "!") == 0 &&
	    strcmp(BUF_PTR(&b), "hello, world 42!") == 0, "appendf");
	{
		struct buf	u;

		buf_init(&u, 64);
		ok(buf_appendu(&u, 0) == 0 && buf_appendu(&u, 7) == 0 &&
		    buf_append(&u, " ", 1) == 0 &&
		    buf_appendu(&u, 18446744073709551615ULL) == 0 &&
		    buf_append(&u, " ", 1) == 0 && buf_appendu(&u, 1000) == 0 &&
		    strcmp(BUF_PTR(&u), "07 18446744073709551615 1000") == 0,
		    "appendu: zero, one digit, 2^64-1, trailing zeros");
		buf_free(&u);
		buf_init(&u, 3);
		ok(buf_appendu(&u, 123) == 0 && buf_appendu(&u, 4) == -1 &&
		    BUF_LEN(&u) == 3, "appendu over max fails, changes nothing");
		buf_free(&u);
	}
	ok(buf_append(&b, "", 0) == 0 && BUF_LEN(&b) == 16,
	    "empty append is a no-op");
	buf_reset(&b);
	ok(BUF_LEN(&b) == 0 && b.data != NULL && b.data[0] == '\0',
	    "reset keeps the allocation");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.max == SIZE_MAX / 2,
	    "free clears but keeps max");
	buf_free(&b);
	ok(1, "double free is harmless");
}

static void
test_bounds(void)
{
	struct buf	b;
	char		big[100];
	size_t		i;

	memset(big, 'x', sizeof(big));
	buf_init(&b, 10);
	ok(buf_append(&b, big, 10) == 0, "append up to max");
	errno = 0;
	ok(buf_append(&b, "y", 1) == -1 && errno == EMSGSIZE,
	    "one byte over max is EMSGSIZE");
	is_int(BUF_LEN(&b), 10, "failed append changes nothing");
	ok(buf_appendf(&b, "%s", "z") == -1, "appendf over max fails");
	is_int(BUF_LEN(&b), 10, "failed appendf changes nothing");
	buf_free(&b);

	buf_init(&b, 10);
	ok(buf_append(&b, big, 11) == -1, "single append over max fails");
	ok(b.data == NULL, "nothing allocated for a refused append");
	errno = 0;
	ok(buf_reserve(&b, SIZE_MAX) == -1 && errno == EMSGSIZE,
	    "reserve SIZE_MAX refused");
	buf_free(&b);

	buf_init(&b, 0);
	ok(buf_append(&b, "a", 1) == 0, "unbounded append");
	errno = 0;
	ok(buf_reserve(&b, SIZE_MAX) == -1, "reserve SIZE_MAX overflows");
	ok(buf_reserve(&b, SIZE_MAX / 2) == -1,
	    "reserve past SIZE_MAX/2 with data refused");
	is_int(BUF_LEN(&b), 1, "data intact after refused reserve");
	buf_free(&b);

	/* Growth across many appends keeps every byte. */
	buf_init(&b, 0);
	for (i = 0; i < 10000; i++)
		if (buf_append(&b, &"0123456789"[i % 10], 1) == -1)
			break;
	is_int(i, 10000, "10000 single-byte appends");
	ok(b.cap >= 10001, "capacity grew");
	for (i = 0; i < 10000; i++)
		if (b.data[i] != (char)('0' + i % 10))
			break;
	is_int(i, 10000, "contents intact after growth");
	ok(b.data[10000] == '\0', "still NUL-terminated");
	buf_free(&b);
}

static void
test_consume(void)
{
	struct buf	 b;
	char		*before;

	buf_init(&b, 8);
	ok(buf_append(&b, "abcdefgh", 8) == 0, "fill to max 8");
	buf_consume(&b, 3);
	is_int(BUF_LEN(&b), 5, "consume 3 leaves 5");
	ok(memcmp(BUF_PTR(&b), "defgh", 5) == 0, "consume moves the front");
	ok(buf_append(&b, "123", 3) == 0,
	    "consumed bytes free room under max");
	is_int(BUF_LEN(&b), 8, "unread length back at max");
	ok(strcmp(BUF_PTR(&b), "defgh123") == 0, "contents after refill");
	ok(buf_append(&b, "!", 1) == -1, "still bounded by unread bytes");

	/* Fill a whole allocation so that the next append must compact. */
	buf_free(&b);
	buf_init(&b, 300);
	ok(buf_append(&b, "abcdefgh", 8) == 0 && b.cap == 256,
	    "first allocation is 256 bytes");
	buf_consume(&b, 8 - 1);
	while (b.len + 1 < b.cap && buf_append(&b, "z", 1) == 0)
		;
	ok(b.len + 1 == b.cap && b.off == 7, "allocation full, 7 consumed");
	ok(buf_append(&b, "!", 1) == 0 && b.off == 0 && b.cap == 256,
	    "append into a full allocation compacts instead of growing");
	ok(BUF_PTR(&b)[0] == 'h' && BUF_PTR(&b)[BUF_LEN(&b) - 1] == '!',
	    "contents after compaction");

	buf_free(&b);
	buf_init(&b, 8);
	ok(buf_append(&b, "defgh123", 8) == 0, "refill");
	buf_consume(&b, 2);
	before = b.data;
	buf_compact(&b);
	ok(b.off == 0 && b.len == 6 && strcmp(b.data, "fgh123") == 0,
	    "explicit compact");
	ok(b.data == before, "compact does not reallocate");
	buf_compact(&b);
	ok(strcmp(b.data, "fgh123") == 0, "compact twice is a no-op");

	buf_consume(&b, 6);
	ok(BUF_LEN(&b) == 0 && b.off == 0 && b.data[0] == '\0',
	    "consume everything resets");
	ok(buf_append(&b, "xy", 2) == 0, "append after full consume");
	buf_consume(&b, 100);
	ok(BUF_LEN(&b) == 0 && b.off == 0, "over-consume resets");
	buf_free(&b);

	buf_init(&b, 0);
	buf_consume(&b, 1);
	ok(BUF_LEN(&b) == 0 && b.data == NULL, "consume on empty buffer");
	buf_compact(&b);
	ok(b.data == NULL, "compact on empty buffer");
	buf_reset(&b);
	ok(b.data == NULL, "reset on empty buffer");
	buf_free(&b);
}

int
main(void)
{
	test_basic();
	test_bounds();
	test_consume();
	return (done_testing());
}
