/*
 * buf: a growable byte buffer with a hard upper bound. See buf.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MINALLOC	256

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : SIZE_MAX / 2;
}

void
buf_free(struct buf *b)
{
	size_t	max = b->max;

	free(b->data);
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Forget the contents, keep the allocation. */
void
buf_reset(struct buf *b)
{
	b->len = b->off = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for n more bytes (plus the NUL); -1 with errno set on failure. */
int
buf_reserve(struct buf *b, size_t n)
{
	size_t	 need, ncap;
	char	*p;

	if (n > b->max || BUF_LEN(b) > b->max - n) {
		errno = EMSGSIZE;
		return (-1);
	}
	if (b->len + n + 1 <= b->cap)
		return (0);
	/* Reclaim consumed space before growing. */
	if (b->off > 0) {
		buf_compact(b);
		if (b->len + n + 1 <= b->cap)
			return (0);
	}
	need = b->len + n + 1;
	ncap = b->cap ? b->cap : BUF_MINALLOC;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			errno = ENOMEM;
			return (-1);
		}
		ncap *= 2;
	}
	if ((p = realloc(b->data, ncap)) == NULL)
		return (-1);
	b->data = p;
	b->cap = ncap;
	return (0);
}

int
buf_append(struct buf *b, const void *src, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return (-1);
	if (n > 0)
		memcpy(b->data + b->len, src, n);
	b->len += n;
	b->data[b->len] = '\0';
	return (0);
}

int
buf_appendstr(struct buf *b, const char *s)
{
	return (buf_append(b, s, strlen(s)));
}

int
buf_appendu(struct buf *b, unsigned long long v)
{
	char	 t[20];		/* 2^64 - 1 has 20 digits */
	size_t	 i = sizeof(t);

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return (buf_append(b, t + i, sizeof(t) - i));
}

int
buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return (-1);
	if (buf_reserve(b, (size_t)n) == -1)
		return (-1);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return (0);
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	rv;

	va_start(ap, fmt);
	rv = buf_vappendf(b, fmt, ap);
	va_end(ap);
	return (rv);
}

/* Drop n bytes from the front; cheap, the space is reclaimed lazily. */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= BUF_LEN(b)) {
		buf_reset(b);
		return;
	}
	b->off += n;
}

void
buf_compact(struct buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
	b->data[b->len] = '\0';
}
