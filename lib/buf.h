/*
 * buf: a growable byte buffer with a hard upper bound.
 *
 * Every append checks for size_t overflow and for the buffer's own maximum
 * before it allocates, so a peer can never make a buffer grow without limit.
 * The data is always NUL-terminated (the NUL is not counted in len), which
 * lets callers hand it to string functions without copying.
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;		/* bytes in use */
	size_t	 off;		/* bytes consumed from the front */
	size_t	 cap;		/* bytes allocated */
	size_t	 max;		/* hard bound on len - off; 0 = SIZE_MAX/2 */
};

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
int	 buf_reserve(struct buf *, size_t);
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_appendstr(struct buf *, const char *);
/* The decimal digits of v (no printf: the response path uses it). */
int	 buf_appendu(struct buf *, unsigned long long);
int	 buf_appendf(struct buf *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
int	 buf_vappendf(struct buf *, const char *, va_list);
void	 buf_consume(struct buf *, size_t);
void	 buf_compact(struct buf *);

/* Unread bytes: start and length. */
#define BUF_PTR(b)	((b)->data + (b)->off)
#define BUF_LEN(b)	((b)->len - (b)->off)

#endif /* BUF_H */
