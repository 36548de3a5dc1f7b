/*
 * fuzz_validators.c: libFuzzer harness for the input validators of the
 * pxcodes handlers (src/api/api_items.c, #included for its static
 * functions) and the query-string decoder (http_query_get() and
 * http_pct_decode() of src/http/http.c).
 *
 * The input is a request as a client sends it.  Parsed, its body goes
 * through api_body_object() and the pxcode/procedure fields through
 * api_field(), its query through api_query_int() for page and per_page;
 * every 4xx they answer must be one well-formed response with a JSON
 * body, and what they accept must be in range.  The raw input also goes
 * to http_query_get() and http_pct_decode() with output buffers of
 * several sizes: the result must fit, be NUL-terminated, and agree with
 * a plain reference decoder.
 */
#include "../../src/api/api_items.c"

#include "fuzz.h"

/* A response was queued: check it, then forget it. */
static void
answered(struct client *c, int expect_status)
{
	int	status;

	if (c->state != CLIENT_DONE)
		abort();
	status = fuzz_check_response(c, c->head_only);
	if (expect_status != 0 && status != expect_status) {
		fprintf(stderr, "status %d, expected %d\n", status,
		    expect_status);
		abort();
	}
	buf_reset(&c->out);
	buf_reset(&c->hdrs);
	c->status = 0;
	c->state = CLIENT_BUSY;
}

static void
check_field(struct client *c, cJSON *j, const char *name, long max,
    int required)
{
	const char	*v;
	int		 absent = -1;
	long		 n;

	v = api_field(c, j, name, max, required, &absent);
	if (absent != 0 && absent != 1)
		abort();
	if (v == NULL) {
		if (absent && !required) {
			if (c->state == CLIENT_DONE)
				abort();	/* absent, optional: no 400 */
			return;
		}
		answered(c, 400);
		return;
	}
	if (c->state == CLIENT_DONE)
		abort();		/* accepted but answered */
	/* accepted: valid text; control characters only in procedure */
	n = api_charcount(v, strcmp(name, "pxcode") != 0);
	if (n < 0 || n > max || (n == 0 && strcmp(name, "pxcode") == 0))
		abort();
}

static void
check_query_int(struct client *c, const char *name, long long def,
    long long max)
{
	long long	v = -12345;

	if (api_query_int(c, name, def, max, &v) == -1) {
		answered(c, 400);
		return;
	}
	if (c->state == CLIENT_DONE)
		abort();
	if (v != def && (v < 1 || v > max))
		abort();
}

/* The reference: percent-decoding done the obvious way. */
static int
ref_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	if (ch >= 'A' && ch <= 'F')
		return (ch - 'A' + 10);
	return (-1);
}

/* Decode s[0..len) into out (room for len bytes); -1 if malformed. */
static long
ref_decode(const uint8_t *s, size_t len, int plus, char *out)
{
	size_t	k, n = 0;
	int	hi, lo;

	for (k = 0; k < len; k++) {
		if (s[k] == '%') {
			if (len - k < 3)
				return (-1);
			hi = ref_hex(s[k + 1]);
			lo = ref_hex(s[k + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return (-1);	/* %00 is refused */
			out[n++] = (char)(hi << 4 | lo);
			k += 2;
		} else if (s[k] == '+' && plus)
			out[n++] = ' ';
		else
			out[n++] = (char)s[k];
	}
	return ((long)n);
}

/* What http_query_get() should say, by the reference decoder. */
static int
ref_query_get(const uint8_t *q, size_t len, const char *name, char *out,
    size_t outlen)
{
	const uint8_t	*pair, *eq, *end;
	size_t		 i = 0, plen, klen;
	char		*tmp;
	long		 n;

	if ((tmp = malloc(len + 1)) == NULL)
		abort();
	while (i < len) {
		pair = q + i;
		end = memchr(pair, '&', len - i);
		plen = end != NULL ? (size_t)(end - pair) : len - i;
		i += plen + 1;
		if (plen == 0)
			continue;
		eq = memchr(pair, '=', plen);
		klen = eq != NULL ? (size_t)(eq - pair) : plen;
		n = ref_decode(pair, klen, 1, tmp);
		if (n < 0 || (size_t)n != strlen(name) ||
		    memcmp(tmp, name, (size_t)n) != 0)
			continue;
		if (eq == NULL)
			n = 0;
		else
			n = ref_decode(eq + 1, plen - klen - 1, 1, tmp);
		free(tmp);
		if (n < 0 || (size_t)n >= outlen)
			return (-2);
		(void)out;
		return ((int)n);
	}
	free(tmp);
	return (-1);
}

static void
check_decoders(const uint8_t *data, size_t len)
{
	static const char *const names[] = { "page", "per_page", "a", "" };
	static const size_t	 sizes[] = { 1, 2, 8, 32, 4096 };
	char			 out[4096 + 8], *ref;
	size_t			 i, j;
	long			 n;
	int			 rv, want;

	if ((ref = malloc(len + 1)) == NULL)
		abort();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			memset(out, 'Z', sizeof(out));
			rv = http_query_get((const char *)data, len, names[i],
			    out, sizes[j]);
			if (out[sizes[j]] != 'Z')
				abort();	/* wrote past outlen */
			want = ref_query_get(data, len, names[i], ref,
			    sizes[j]);
			if (rv != want) {
				fprintf(stderr, "http_query_get(%s, %zu): "
				    "%d, reference %d\n", names[i], sizes[j],
				    rv, want);
				abort();
			}
			if (rv >= 0 && out[rv] != '\0')
				abort();
		}
	n = ref_decode(data, len, 0, ref);
	for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
		memset(out, 'Z', sizeof(out));
		rv = http_pct_decode((const char *)data, len, out, sizes[j]);
		if (out[sizes[j]] != 'Z')
			abort();
		want = n < 0 || (size_t)n >= sizes[j] ? -1 : (int)n;
		if (rv != want) {
			fprintf(stderr, "http_pct_decode(%zu): %d, reference "
			    "%d\n", sizes[j], rv, want);
			abort();
		}
		if (rv >= 0 && (out[rv] != '\0' ||
		    memcmp(out, ref, (size_t)rv) != 0))
			abort();
	}
	free(ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct client	*c;
	cJSON		*j;
	int		 parsed;

	fuzz_init();
	check_decoders(data, len);
	c = fuzz_client_new(data, len, &parsed);
	if (!parsed)
		goto done;
	check_query_int(c, "page", 1, API_MAX_PAGE);
	check_query_int(c, "per_page", PXCODES_MAX_PER_PAGE, LLONG_MAX / 2);
	if ((j = api_body_object(c)) == NULL) {
		answered(c, 0);		/* a 400 or 415 */
		goto done;
	}
	if (c->state == CLIENT_DONE)
		abort();
	check_field(c, j, "pxcode", PXCODE_MAX_CHARS, 1);
	check_field(c, j, "procedure", PROCEDURE_MAX_CHARS, 1);
	check_field(c, j, "pxcode", PXCODE_MAX_CHARS, 0);
	check_field(c, j, "procedure", PROCEDURE_MAX_CHARS, 0);
	cJSON_Delete(j);
done:
	fuzz_client_free(c);
	return (0);
}
