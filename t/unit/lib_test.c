/*
 * lib_test: the small leaf helpers of lib/: clock (now_ms, now_us), hex
 * (hex_value, hex_encode, hex_decode), seqlock (reads, claims, the
 * takeover of a slot left odd by a dead writer), str (str_trim,
 * str_keyval) and mac (HMAC-SHA-256 against RFC 4231's vectors and
 * OpenSSL's one-shot HMAC).  Prints TAP.
 */
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"
#include "hex.h"
#include "mac.h"
#include "seqlock.h"
#include "str.h"
#include "tap.h"

static void
sleep_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
test_clock(void)
{
	int64_t	ms0, us0, ms1, us1, ms, us, prev_ms, prev_us;
	int	i, mono = 1;

	prev_ms = now_ms();
	prev_us = now_us();
	for (i = 0; i < 100000; i++) {
		ms = now_ms();
		us = now_us();
		if (ms < prev_ms || us < prev_us)
			mono = 0;
		prev_ms = ms;
		prev_us = us;
	}
	ok(mono, "now_ms and now_us never go backwards");
	ok(now_ms() > 0 && now_us() > 0, "both are positive");

	/* One clock: us / 1000 lies between the ms taken around it. */
	ms0 = now_ms();
	us = now_us();
	ms1 = now_ms();
	ok(us / 1000 >= ms0 && us / 1000 <= ms1,
	    "us / 1000 between surrounding ms (%lld <= %lld <= %lld)",
	    (long long)ms0, (long long)(us / 1000), (long long)ms1);
	ok(llabs((long long)(us - ms0 * 1000)) < 50000,
	    "us is ms * 1000 within 50 ms");

	ms0 = now_ms();
	us0 = now_us();
	sleep_ms(50);
	ms1 = now_ms();
	us1 = now_us();
	ok(ms1 - ms0 >= 50 && ms1 - ms0 < 5000,
	    "now_ms advances by a 50 ms sleep (%lld)", (long long)(ms1 - ms0));
	ok(us1 - us0 >= 50000 && us1 - us0 < 5000000,
	    "now_us advances by a 50 ms sleep (%lld)", (long long)(us1 - us0));
	ok(llabs((long long)((us1 - us0) - (ms1 - ms0) * 1000)) < 20000,
	    "elapsed us = elapsed ms * 1000 within 20 ms");
}

/* The obvious reference, for every byte value. */
static int
ref_hex_value(int c)
{
	const char	*lo = "0123456789abcdef", *up = "0123456789ABCDEF";
	int		 i;

	for (i = 0; i < 16; i++)
		if (c == lo[i] || c == up[i])
			return (i);
	return (-1);
}

static void
test_hex_value(void)
{
	int	c, bad = 0, ndigits = 0;

	for (c = 0; c < 256; c++) {
		if (hex_value(c) != ref_hex_value(c)) {
			diag("hex_value(%d) = %d, want %d", c, hex_value(c),
			    ref_hex_value(c));
			bad++;
		}
		if (hex_value(c) != -1)
			ndigits++;
	}
	ok(bad == 0, "hex_value right for all 256 byte values");
	is_int(ndigits, 22, "22 hex digits (0-9, a-f, A-F)");
	ok(hex_value('0') == 0 && hex_value('9') == 9 && hex_value('a') == 10 &&
	    hex_value('F') == 15, "0, 9, a, F");
	ok(hex_value('/') == -1 && hex_value(':') == -1 &&
	    hex_value('`') == -1 && hex_value('g') == -1 &&
	    hex_value('@') == -1 && hex_value('G') == -1,
	    "neighbours of the digit ranges are -1");
	ok(hex_value(-1) == -1 && hex_value(256) == -1 &&
	    hex_value(256 + '0') == -1 && hex_value(-128) == -1,
	    "EOF, negative and out-of-range ints are -1");
}

static void
test_hex_encode(void)
{
	unsigned char	all[256], back[256];
	char		out[2 * 256 + 2];
	size_t		i;
	int		bad = 0;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;

	memset(out, 'X', sizeof(out));
	is_int(hex_encode(all, 0, out), 0, "encode nothing returns 0");
	ok(out[0] == '\0' && out[1] == 'X', "encode nothing writes only NUL");

	memset(out, 'X', sizeof(out));
	ok(hex_encode((const unsigned char *)"\x01\xab\xff", 3, out) == 6 &&
	    strcmp(out, "01abff") == 0, "encode 01 ab ff, lowercase");

	memset(out, 'X', sizeof(out));
	is_int(hex_encode(all, 256, out), 512, "encode 256 bytes returns 512");
	ok(out[512] == '\0' && out[513] == 'X', "NUL at 2*len, nothing beyond");
	for (i = 0; i < 256; i++) {
		char	want[3];

		snprintf(want, sizeof(want), "%02x", (unsigned)i);
		if (memcmp(out + 2 * i, want, 2) != 0)
			bad++;
	}
	ok(bad == 0, "every byte encodes as %%02x");

	memset(back, 0, sizeof(back));
	ok(hex_decode(out, 512, back, sizeof(back)) == 256 &&
	    memcmp(back, all, 256) == 0, "decode(encode(all bytes)) round trip");

	/* Upper case decodes to the same bytes. */
	for (i = 0; i < 512; i++)
		if (out[i] >= 'a' && out[i] <= 'f')
			out[i] = out[i] - 'a' + 'A';
	memset(back, 0, sizeof(back));
	ok(hex_decode(out, 512, back, sizeof(back)) == 256 &&
	    memcmp(back, all, 256) == 0, "upper-case digits round trip");

	/* Round trips of every length up to 64 over varied bytes. */
	bad = 0;
	for (i = 0; i <= 64; i++) {
		unsigned char	in[64], dec[64];
		char		enc[2 * 64 + 1];
		size_t		j;

		for (j = 0; j < i; j++)
			in[j] = (unsigned char)(j * 37 + i * 11);
		if (hex_encode(in, i, enc) != 2 * i || strlen(enc) != 2 * i ||
		    hex_decode(enc, 2 * i, dec, i) != (ssize_t)i ||
		    memcmp(in, dec, i) != 0)
			bad++;
	}
	ok(bad == 0, "round trips of lengths 0..64 (outlen exactly len)");
}

static void
test_hex_decode(void)
{
	unsigned char	out[8];
	char		in[4];
	int		c, bad;

	is_int(hex_decode("", 0, out, 0), 0, "decode empty into nothing");
	is_int(hex_decode(NULL, 0, NULL, 0), 0, "decode 0 chars touches nothing");
	ok(hex_decode("00ff7A", 6, out, 3) == 3 && out[0] == 0x00 &&
	    out[1] == 0xff && out[2] == 0x7a, "decode 00ff7A");
	ok(hex_decode("abcdXX", 4, out, 2) == 2 && out[0] == 0xab &&
	    out[1] == 0xcd, "decode reads exactly len chars, no NUL needed");

	/* Odd lengths. */
	is_int(hex_decode("a", 1, out, sizeof(out)), -1, "odd length 1 is -1");
	is_int(hex_decode("abc", 3, out, sizeof(out)), -1, "odd length 3 is -1");
	is_int(hex_decode("abcd", 3, out, sizeof(out)), -1,
	    "odd len of an even string is -1");

	/* Too long for out, never written past outlen. */
	memset(out, 0x55, sizeof(out));
	is_int(hex_decode("00112233", 8, out, 3), -1, "4 bytes into 3 is -1");
	ok(out[3] == 0x55, "nothing written past outlen");
	is_int(hex_decode("00", 2, out, 0), -1, "1 byte into 0 is -1");
	is_int(hex_decode("0011", 4, out, 2), 2, "4 chars into exactly 2 fit");

	/* Bad characters in either half of a byte, at the start and end. */
	is_int(hex_decode("g0", 2, out, 1), -1, "bad high digit g");
	is_int(hex_decode("0g", 2, out, 1), -1, "bad low digit g");
	is_int(hex_decode("00 1", 4, out, 2), -1, "space is -1");
	is_int(hex_decode("0x12", 4, out, 2), -1, "0x prefix is -1");
	is_int(hex_decode("-1", 2, out, 1), -1, "sign is -1");
	is_int(hex_decode("001\0", 4, out, 2), -1, "NUL within len is -1");
	is_int(hex_decode("\xff" "0", 2, out, 1), -1, "high byte 0xff is -1");
	is_int(hex_decode("\x80" "0", 2, out, 1), -1, "high byte 0x80 is -1");

	/* Every non-digit byte, in both positions. */
	bad = 0;
	for (c = 0; c < 256; c++) {
		if (ref_hex_value(c) != -1)
			continue;
		in[0] = (char)c;
		in[1] = '0';
		in[2] = '0';
		in[3] = (char)c;
		if (hex_decode(in, 2, out, 1) != -1 ||
		    hex_decode(in + 2, 2, out, 1) != -1)
			bad++;
	}
	ok(bad == 0, "each of the 234 non-digit bytes rejected high and low");
}

struct slot {
	struct seqlock	sl;
	char		data[64];
};

static void
test_seqlock_basic(void)
{
	struct slot	s;
	char		copy[64];

	memset(&s, 0, sizeof(s));
	strlcpy(s.data, "first", sizeof(s.data));
	memset(copy, 'X', sizeof(copy));
	ok(seqlock_read(&s.sl, copy, s.data, sizeof(copy)) == 0,
	    "read of a stable slot succeeds");
	ok(strcmp(copy, "first") == 0, "and copies the data");

	ok(seqlock_write_begin(&s.sl) == 0, "write_begin claims a stable slot");
	ok(atomic_load(&s.sl.seq) == 1, "seq is odd while writing");
	is_int(atomic_load(&s.sl.writer), getpid(), "writer is our pid");
	ok(seqlock_read(&s.sl, copy, s.data, sizeof(copy)) == -1,
	    "read while a write is in progress fails");
	ok(seqlock_write_begin(&s.sl) == -1,
	    "second write_begin while a live writer (us) holds it fails");
	ok(atomic_load(&s.sl.seq) == 1 &&
	    atomic_load(&s.sl.writer) == getpid(),
	    "failed write_begin changes nothing");
	strlcpy(s.data, "second", sizeof(s.data));
	seqlock_write_end(&s.sl);
	ok(atomic_load(&s.sl.seq) == 2 && atomic_load(&s.sl.writer) == 0,
	    "write_end: seq even, writer 0");
	ok(seqlock_read(&s.sl, copy, s.data, sizeof(copy)) == 0 &&
	    strcmp(copy, "second") == 0, "read after write_end gets new data");

	/* Odd with no pid yet: a claim between its CAS and its pid store. */
	atomic_store(&s.sl.seq, 3);
	atomic_store(&s.sl.writer, 0);
	ok(seqlock_write_begin(&s.sl) == -1, "odd with writer 0 is left alone");
	/* pid 1 exists (kill gives 0 as root, EPERM otherwise): alive. */
	atomic_store(&s.sl.writer, 1);
	ok(seqlock_write_begin(&s.sl) == -1, "odd with writer pid 1 is alive");
	atomic_store(&s.sl.writer, -5);
	ok(seqlock_write_begin(&s.sl) == -1, "odd with a negative pid refused");
	ok(atomic_load(&s.sl.seq) == 3, "refusals leave seq alone");
}

static void
test_seqlock_takeover(void)
{
	struct slot	s;
	char		copy[64];
	pid_t		pid;
	int		status;

	memset(&s, 0, sizeof(s));
	if ((pid = fork()) == -1) {
		ok(0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(0);
	ok(waitpid(pid, &status, 0) == pid, "child %d forked and reaped",
	    (int)pid);
	ok(kill(pid, 0) == -1 && errno == ESRCH, "the child is gone");

	/* As if the child had died between write_begin and write_end. */
	atomic_store(&s.sl.seq, 5);
	atomic_store(&s.sl.writer, (int32_t)pid);
	strlcpy(s.data, "torn", sizeof(s.data));
	ok(seqlock_read(&s.sl, copy, s.data, sizeof(copy)) == -1,
	    "read of a slot left odd fails");
	ok(seqlock_write_begin(&s.sl) == 0,
	    "write_begin takes over a slot left odd by a dead writer");
	ok(atomic_load(&s.sl.seq) == 7, "takeover moves seq odd -> next odd");
	is_int(atomic_load(&s.sl.writer), getpid(), "writer is now our pid");
	ok(seqlock_read(&s.sl, copy, s.data, sizeof(copy)) == -1,
	    "read during the takeover write fails");
	ok(seqlock_write_begin(&s.sl) == -1,
	    "no second takeover while we hold it");
	strlcpy(s.data, "recovered", sizeof(s.data));
	seqlock_write_end(&s.sl);
	ok(atomic_load(&s.sl.seq) == 8 && atomic_load(&s.sl.writer) == 0,
	    "write_end after takeover: seq even, writer 0");
	ok(seqlock_read(&s.sl, copy, s.data, sizeof(copy)) == 0 &&
	    strcmp(copy, "recovered") == 0,
	    "reads succeed again with the new data");
	ok(seqlock_write_begin(&s.sl) == 0, "and the slot can be claimed again");
	seqlock_write_end(&s.sl);
}

/*
 * A child rewrites a shared slot byte by byte with a uniform pattern
 * while we read it: every read that succeeds must be uniform.
 */
#define STRESS_LEN	4096
#define STRESS_WRITES	20000
#define STRESS_READS	20000000L

struct bigslot {
	struct seqlock	sl;
	unsigned char	data[STRESS_LEN];
};

static void
stress_writer(struct bigslot *s)
{
	volatile unsigned char	*d = s->data;
	int			 i, j;

	for (i = 1; i <= STRESS_WRITES; i++) {
		if (seqlock_write_begin(&s->sl) == -1)
			_exit(1);
		for (j = 0; j < STRESS_LEN; j++)
			d[j] = (unsigned char)i;
		seqlock_write_end(&s->sl);
	}
	_exit(0);
}

static int
uniform(const unsigned char *p, size_t len)
{
	size_t	i;

	for (i = 1; i < len; i++)
		if (p[i] != p[0])
			return (0);
	return (1);
}

static void
test_seqlock_stress(void)
{
	struct bigslot	*s;
	unsigned char	 copy[STRESS_LEN];
	long		 reads = 0, good = 0, torn = 0;
	pid_t		 pid;
	int		 status = -1;

	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED) {
		ok(0, "mmap: %s", strerror(errno));
		return;
	}
	memset(s, 0, sizeof(*s));
	if ((pid = fork()) == -1) {
		ok(0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		stress_writer(s);
	while (reads < STRESS_READS) {
		reads++;
		if (seqlock_read(&s->sl, copy, s->data, sizeof(copy)) == 0) {
			good++;
			if (!uniform(copy, sizeof(copy)))
				torn++;
		}
		if ((reads & 1023) == 0 &&
		    waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	if (reads >= STRESS_READS)
		waitpid(pid, &status, 0);
	diag("stress: %ld reads, %ld consistent, %ld torn accepted", reads,
	    good, torn);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "writer never refused by its own slot");
	ok(good > 0, "some reads succeed under writes");
	is_int(torn, 0, "no torn copy is ever accepted");
	ok(seqlock_read(&s->sl, copy, s->data, sizeof(copy)) == 0 &&
	    copy[0] == (unsigned char)STRESS_WRITES && uniform(copy,
	    sizeof(copy)), "final read sees the last write");
	munmap(s, sizeof(*s));
}

static void
test_str_keyval(void)
{
	char	 a[] = "  key =  value \t", b[] = "k=\"a b\"", c[] = "novalue";
	char	 d[] = "k = \"", e[] = " \t x \n";
	char	*k, *v;

	ok(str_keyval(a, &k, &v) == 0 && strcmp(k, "key") == 0 &&
	    strcmp(v, "value") == 0, "str_keyval: blanks around both go");
	ok(str_keyval(b, &k, &v) == 0 && strcmp(k, "k") == 0 &&
	    strcmp(v, "a b") == 0, "str_keyval: quotes around the value go");
	ok(str_keyval(c, &k, &v) == -1, "str_keyval: no '=': -1");
	ok(str_keyval(d, &k, &v) == 0 && strcmp(v, "\"") == 0,
	    "str_keyval: a lone quote stays");
	ok(strcmp(str_trim(e), "x") == 0, "str_trim: both ends");
}

static void
test_utf8(void)
{
	int	ctl = -1;

	ok(str_utf8_count("plain", 5, &ctl) == 5 && ctl == 0, "utf8: ASCII");
	ok(str_utf8_count("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	    NULL) == 8, "utf8: two, three and four byte characters count one");
	ok(str_utf8_count("a\tb", 3, &ctl) == 3 && ctl == 1,
	    "utf8: a control character is flagged");
	ok(str_utf8_count("a\0b", 3, &ctl) == 3 && ctl == 1,
	    "utf8: NUL within the length counts, as a control character");
	ok(str_utf8_count("x\x7f", 2, &ctl) == 2 && ctl == 1, "utf8: DEL too");
	ok(str_utf8_count("\xc0\x80", 2, NULL) == -1 &&
	    str_utf8_count("\xc1\xbf", 2, NULL) == -1,
	    "utf8: overlong two byte forms refused");
	ok(str_utf8_count("\xe0\x80\x80", 3, NULL) == -1 &&
	    str_utf8_count("\xf0\x80\x80\x80", 4, NULL) == -1,
	    "utf8: overlong three and four byte forms refused");
	ok(str_utf8_count("\xed\xa0\x80", 3, NULL) == -1 &&
	    str_utf8_count("\xed\x9f\xbf", 3, NULL) == 1,
	    "utf8: surrogates refused, U+D7FF accepted");
	ok(str_utf8_count("\xf4\x90\x80\x80", 4, NULL) == -1 &&
	    str_utf8_count("\xf4\x8f\xbf\xbf", 4, NULL) == 1 &&
	    str_utf8_count("\xf5\x80\x80\x80", 4, NULL) == -1,
	    "utf8: nothing past U+10FFFF");
	ok(str_utf8_count("\xe2\x82", 2, NULL) == -1 &&
	    str_utf8_count("\xe2\x82\xac", 2, NULL) == -1,
	    "utf8: a character cut by the length is refused (never read past)");
	ok(str_utf8_count("\x80", 1, NULL) == -1 &&
	    str_utf8_count("\xc3\x28", 2, NULL) == -1,
	    "utf8: a stray or missing continuation byte is refused");
	ok(str_utf8_count("", 0, &ctl) == 0 && ctl == 0, "utf8: empty");
}

static void
test_mac(void)
{
	/* RFC 4231 test cases 1 and 2. */
	static const unsigned char	key1[20] = {
	    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b };
	struct mac			 m = { 0 };
	unsigned char			 out[MAC_LEN], want[EVP_MAX_MD_SIZE];
	unsigned char			 key[200], msg[300];
	unsigned int			 wlen;
	char				 hex[2 * MAC_LEN + 1];
	int				 i, same = 1;

	ok(mac_sha256(&m, "x", 1, out) == -1, "an unkeyed mac refuses");
	ok(mac_init(&m, key1, sizeof(key1)) == 0, "mac_init");
	ok(mac_sha256(&m, "Hi There", 8, out) == 0, "mac_sha256");
	hex_encode(out, MAC_LEN, hex);
	ok(strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7") == 0, "RFC 4231 case 1");
	/* Again with the same context: the key is kept, the state reset. */
	(void)mac_sha256(&m, "Hi There", 8, out);
	hex_encode(out, MAC_LEN, hex);
	ok(strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7") == 0, "reused: the same digest");
	ok(mac_with(&m, "Jefe", 4) == 0 &&
	    mac_sha256(&m, "what do ya want for nothing?", 28, out) == 0,
	    "mac_with a new key");
	hex_encode(out, MAC_LEN, hex);
	ok(strcmp(hex, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843") == 0, "RFC 4231 case 2");
	ok(mac_with(&m, "Jefe", 4) == 0 && m.keylen == 4,
	    "mac_with the same key keeps it");
	/* Against the one-shot HMAC for keys and messages of every size. */
	for (i = 0; i < (int)sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 1);
	for (i = 0; i < (int)sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 13 + 5);
	for (i = 1; i <= (int)sizeof(key) && same; i += 9) {
		size_t	n = (size_t)(i * 3 % (int)sizeof(msg));

		if (mac_with(&m, key, (size_t)i) == -1 ||
		    mac_sha256(&m, msg, n, out) == -1 ||
		    HMAC(EVP_sha256(), key, i, msg, n, want, &wlen) == NULL ||
		    wlen != MAC_LEN || memcmp(out, want, MAC_LEN) != 0)
			same = 0;
	}
	ok(same, "equal to HMAC() for keys of 1..200 bytes (past the "
	    "block size and the remembered length)");
	mac_clear(&m);
	ok(m.ctx == NULL && m.keylen == 0 &&
	    mac_sha256(&m, "x", 1, out) == -1, "mac_clear forgets the key");
}

int
main(void)
{
	test_clock();
	test_hex_value();
	test_hex_encode();
	test_hex_decode();
	test_seqlock_basic();
	test_seqlock_takeover();
	test_seqlock_stress();
	test_str_keyval();
	test_mac();
	test_utf8();
	return (done_testing());
}
