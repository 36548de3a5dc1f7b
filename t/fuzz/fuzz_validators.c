/*
 * fuzz_validators.c: libFuzzer harness for the input validators of the
 * resource engine (src/api/api_resource.c, #included for its static
 * functions) and the query-string decoder (http_query_get() and
 * http_pct_decode() of src/http/http.c).
 *
 * The input is a request as a client sends it.  Parsed, its query goes
 * through api_query_int() for page and per_page; its body through
 * api_body_object(), then each top-level member through api_check_value()
 * against every exposed column of both demo resources (support.c binds
 * them with the real schema_bind()), and the whole object through
 * api_read_body() for POST, PUT and PATCH on each.  Every 4xx they answer
 * must be one well-formed response with a JSON body; what they accept
 * must be of the column's type, in range, and exactly the value sent
 * (numbers and json by their raw text).  api_members_index() and
 * api_member() are compared with support.c's own JSON reader.  The raw
 * input also goes to http_query_get() and http_pct_decode() with output
 * buffers of several sizes: the result must fit, be NUL-terminated, and
 * agree with a plain reference decoder.
 */
#include "../../src/api/api_resource.c"

#include <ctype.h>
#include <errno.h>
#include <math.h>

#include "fuzz.h"

#define MAX_MEMBERS	16

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

static void
fail(const char *what, const struct res_column *col, const char *v)
{
	fprintf(stderr, "%s: column %s, value [%s]\n", what,
	    col != NULL ? col->name : "-", v != NULL ? v : "(null)");
	abort();
}

/* A real day of the Gregorian calendar, YYYY-MM-DD. */
static int
ref_date(const char *s)
{
	struct tm	 tm;
	int		 y, m, d, i;

	for (i = 0; i < 10; i++)
		if ((i == 4 || i == 7) != (s[i] == '-') ||
		    (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')))
			return (0);
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	if (m < 1 || m > 12 || d < 1 || timegm(&tm) == (time_t)-1)
		return (0);
	return (tm.tm_mday == d && tm.tm_mon == m - 1);
}

/* An accepted integer: -?digits, within the column's type. */
static void
ref_int(const struct res_column *col, const char *v)
{
	long long	 n, lo, hi;
	const char	*p = v[0] == '-' ? v + 1 : v;
	char		*end;

	if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
		fail("an integer that is not digits", col, v);
	errno = 0;
	n = strtoll(v, &end, 10);
	lo = col->type == COL_INT2 ? -32768 : col->type == COL_INT4 ?
	    -2147483648LL : LLONG_MIN;
	hi = col->type == COL_INT2 ? 32767 : col->type == COL_INT4 ?
	    2147483647LL : LLONG_MAX;
	if (errno != 0 || *end != '\0' || n < lo || n > hi)
		fail("an integer out of range accepted", col, v);
}

/*
 * api_check_value() accepted member m (cJSON's f) for col as out: it must
 * be what was sent, and of the column's type.
 */
static void
check_accepted(struct client *c, const struct res_column *col, cJSON *f,
    const struct fuzz_member *m, int iskey, const char *out)
{
	const char	*body = BUF_PTR(&c->body);
	long		 n;
	size_t		 i;

	if (c->state == CLIENT_DONE)
		fail("accepted but answered", col, out);
	if (cJSON_IsNull(f)) {
		if (out != NULL || col->notnull || col->required || iskey)
			fail("null accepted", col, out);
		return;
	}
	if (out == NULL)
		fail("a value read as NULL", col, NULL);
	switch (col->type) {
	case COL_INT2:
	case COL_INT4:
	case COL_INT8:
	case COL_NUMERIC:
	case COL_FLOAT4:
	case COL_FLOAT8:
		if (!cJSON_IsNumber(f) || strlen(out) != m->vlen ||
		    memcmp(out, body + m->voff, m->vlen) != 0)
			fail("a number that is not the digits sent", col, out);
		if (col->type <= COL_INT8)
			ref_int(col, out);
		if (col->type == COL_NUMERIC && col->precision >= 0 &&
		    !(fabs(strtod(out, NULL)) < pow(10, col->precision -
		    col->scale)))
			fail("a numeric too large accepted", col, out);
		if ((col->type == COL_FLOAT4 && !isfinite(strtof(out, NULL))) ||
		    (col->type == COL_FLOAT8 && !isfinite(strtod(out, NULL))))
			fail("a float out of range accepted", col, out);
		return;
	case COL_BOOL:
		if (strcmp(out, cJSON_IsTrue(f) ? "true" : "false") != 0 ||
		    !cJSON_IsBool(f))
			fail("a boolean that is not the one sent", col, out);
		return;
	case COL_JSON:
	case COL_JSONB:
		if (strlen(out) != m->vlen ||
		    memcmp(out, body + m->voff, m->vlen) != 0)
			fail("json that is not the text sent", col, out);
		return;
	default:
		break;
	}
	if (!cJSON_IsString(f) || out != f->valuestring || m->val_nul)
		fail("a string that is not the one sent", col, out);
	switch (col->type) {
	case COL_DATE:
		if (strlen(out) != 10 || !ref_date(out))
			fail("not a date", col, out);
		return;
	case COL_TIMESTAMP:
	case COL_TIMESTAMPTZ:
		if (strlen(out) < 16 || !ref_date(out))
			fail("not a timestamp", col, out);
		return;
	case COL_UUID:
		for (i = 0; i < 36; i++)
			if ((i == 8 || i == 13 || i == 18 || i == 23) ?
			    out[i] != '-' : !isxdigit((unsigned char)out[i]))
				fail("not a uuid", col, out);
		if (out[36] != '\0')
			fail("not a uuid", col, out);
		return;
	default:
		n = fuzz_utf8_chars(out, strlen(out));
		if (n < 0 || (col->maxlen >= 0 && n > col->maxlen))
			fail("text not UTF-8 or too long", col, out);
		if (iskey && n == 0)
			fail("an empty key", col, out);
		for (i = 0; iskey && out[i] != '\0'; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				fail("a control character in a key", col, out);
		return;
	}
}

/* Each member against each column of r. */
static void
check_values(struct client *c, struct resource *r, cJSON *j,
    const struct fuzz_member *m, int nm)
{
	const struct res_column	*col;
	struct api_members	 x;
	cJSON			*f;
	char			*out;
	int			 idx, i, owned;

	api_members_index(&x, BUF_PTR(&c->body), BUF_LEN(&c->body), 0);
	for (f = j->child, idx = 0; f != NULL && idx < nm; f = f->next,
	    idx++)
		for (i = 0; i < r->ncols; i++) {
			col = &r->cols[i];
			if (!col->exposed)
				continue;
			if (api_check_value(c, col, f, &x, idx, i == r->key,
			    &out, &owned) == -1) {
				if (owned)
					free(out);
				answered(c, 400);
				continue;
			}
			check_accepted(c, col, f, &m[idx], i == r->key, out);
			if (owned)
				free(out);
		}
}

/* The key's test: what it accepts must be a value of the key's type. */
static void
check_key(struct resource *r, const char *key)
{
	const struct res_column	*col = &r->cols[r->key];
	long			 n;
	size_t			 i;

	if (!api_key_ok(r, key))
		return;
	switch (col->type) {
	case COL_INT2:
	case COL_INT4:
	case COL_INT8:
		ref_int(col, key);
		return;
	default:
		n = fuzz_utf8_chars(key, strlen(key));
		if (n < 1 || (col->maxlen >= 0 && n > col->maxlen))
			fail("a key that cannot exist accepted", col, key);
		for (i = 0; key[i] != '\0'; i++)
			if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
				fail("a control character in a key", col, key);
		return;
	}
}

/* api_read_body() for a write on r: what it took, and only that. */
static void
check_read_body(struct client *c, struct resource *r, cJSON *j,
    enum http_method method)
{
	struct route		 route = { r->decl.name, 0, 0, NULL, 0, r };
	struct write_ctx	*w;
	struct api_members	 x;
	const struct res_column	*col;
	cJSON			*f;
	int			 set[RES_MAX_COLS], i, given, nset = 0, first;

	c->route = &route;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		abort();
	w->method = method;
	first = method == HTTP_M_POST ? 0 : 1;
	if (first == 1) {
		if ((w->key = strdup(r->key == 0 ? "1" : "A1")) == NULL ||
		    (w->params[0] = strdup(w->key)) == NULL)
			abort();
		w->nparams = 1;
	}
	api_members_index(&x, BUF_PTR(&c->body), BUF_LEN(&c->body), 0);
	if (api_read_body(c, j, &x, w, set, first) == -1) {
		answered(c, 400);
		goto done;
	}
	if (c->state == CLIENT_DONE)
		abort();
	for (i = 0; i < r->ncols; i++) {
		col = &r->cols[i];
		given = 0;
		for (f = j->child; f != NULL; f = f->next)
			if (f->string != NULL && strcmp(f->string,
			    col->name) == 0)
				given++;
		if (given > 1 && col->exposed)
			fail("a field given twice accepted", col, NULL);
		if (set[i] && (!given || !col->exposed || col->read_only))
			fail("a field set that it may not be", col, NULL);
		if (given && col->exposed && col->read_only)
			fail("a read-only field accepted", col, NULL);
		if (set[i] != (given && col->exposed && !(method ==
		    HTTP_M_PUT && i == r->key)))
			fail("a field given but not taken", col, NULL);
		if (!given && col->required && (method == HTTP_M_POST ||
		    (method == HTTP_M_PUT && i != r->key)))
			fail("a required field missing", col, NULL);
		nset += set[i];
	}
	if (w->nparams != first + nset)
		fail("the parameters are not the fields taken", NULL, NULL);
	for (f = j->child; f != NULL && !r->decl.ignore_unknown;
	    f = f->next) {
		for (i = 0; i < r->ncols; i++)
			if (r->cols[i].exposed && f->string != NULL &&
			    strcmp(f->string, r->cols[i].name) == 0)
				break;
		if (i == r->ncols)
			fail("an unknown field accepted", NULL, f->string);
	}
done:
	write_ctx_free(w);
	c->route = NULL;
}

/*
 * api_members_index() and api_member() against support.c's reader, with
 * windows that start at several members (the members before a window
 * are looked up by a pass of their own).
 */
static int
check_members(struct client *c, cJSON *j, struct fuzz_member *m)
{
	const char	*body = BUF_PTR(&c->body);
	size_t		 len = BUF_LEN(&c->body), off, vlen;
	struct api_members x;
	cJSON		*f;
	int		 nm, n, idx, nul, anykey = 0, k;
	int		 firsts[4];

	nm = fuzz_json_members(body, len, m, MAX_MEMBERS);
	for (n = 0, f = j->child; f != NULL; f = f->next)
		n++;
	if (nm == -1 && n < MAX_MEMBERS) {
		fprintf(stderr, "cJSON took an object the reader cannot\n");
		abort();
	}
	if (nm == -1)
		return (0);
	if (nm != n) {
		fprintf(stderr, "%d members, cJSON says %d\n", nm, n);
		abort();
	}
	for (idx = 0; idx < nm; idx++)
		anykey |= m[idx].key_nul;
	firsts[0] = 0;
	firsts[1] = 1;
	firsts[2] = nm / 2;
	firsts[3] = nm;
	for (k = 0; k < 4; k++) {
		api_members_index(&x, body, len, firsts[k]);
		if (x.total != nm || x.nul_key != anykey) {
			fprintf(stderr, "window %d: %d members, nul key %d\n",
			    firsts[k], x.total, x.nul_key);
			abort();
		}
		for (idx = 0; idx < nm; idx++) {
			if (api_member(&x, idx, &off, &vlen, &nul) == -1 ||
			    off != m[idx].voff || vlen != m[idx].vlen) {
				fprintf(stderr, "member %d: raw value, the "
				    "reader's [%.*s]\n", idx,
				    (int)m[idx].vlen, body + m[idx].voff);
				abort();
			}
			if (((nul & API_NUL_KEY) != 0) != m[idx].key_nul ||
			    ((nul & API_NUL_VALUE) != 0) != m[idx].val_nul) {
				fprintf(stderr, "member %d: nul %d\n", idx,
				    nul);
				abort();
			}
		}
		if (api_member(&x, nm, &off, &vlen, &nul) != -1)
			abort();
	}
	return (nm);
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
	struct fuzz_member	 m[MAX_MEMBERS];
	struct api_members	 bx;
	struct client		*c;
	cJSON			*j, *f;
	int			 parsed, i, nm;

	fuzz_init();
	fuzz_resources_init();
	check_decoders(data, len);
	c = fuzz_client_new(data, len, &parsed);
	if (!parsed)
		goto done;
	check_query_int(c, "page", 1, API_MAX_PAGE);
	check_query_int(c, "per_page", fuzz_res[0].decl.per_page,
	    LLONG_MAX / 2);
	if ((j = api_body_object(c, &bx)) == NULL) {
		answered(c, 0);		/* a 400 or 415 */
		goto done;
	}
	if (c->state == CLIENT_DONE)
		abort();
	/* With a \u0000 in a name, cJSON's names are cut: refused above. */
	nm = check_members(c, j, m);
	for (i = 0; i < fuzz_nres; i++) {
		check_values(c, &fuzz_res[i], j, m, nm);
		check_read_body(c, &fuzz_res[i], j, HTTP_M_POST);
		check_read_body(c, &fuzz_res[i], j, HTTP_M_PUT);
		check_read_body(c, &fuzz_res[i], j, HTTP_M_PATCH);
		for (f = j->child; f != NULL; f = f->next)
			if (cJSON_IsString(f))
				check_key(&fuzz_res[i], f->valuestring);
	}
	cJSON_Delete(j);
done:
	fuzz_client_free(c);
	return (0);
}
