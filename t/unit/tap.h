/*
 * tap.h: the least TAP producer that prove accepts, for C unit tests.
 *
 *	plan_no_plan(); ok(cond, "name %d", i); ... return done_testing();
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static inline int
ok(int cond, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

static inline int
ok(int cond, const char *fmt, ...)
{
	va_list	ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return (cond);
}

static inline void
diag(const char *fmt, ...)
{
	va_list	ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return (tap_failed ? 1 : 0);
}

#define is_int(got, want, ...)						\
	(ok((got) == (want), __VA_ARGS__) ? 1 :				\
	    (diag("  got %lld, want %lld", (long long)(got),		\
	    (long long)(want)), 0))

#endif /* TAP_H */
