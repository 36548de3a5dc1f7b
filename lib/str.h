/*
 * str: small string helpers that know nothing of HTTP or the schema.
 */
#ifndef STR_H
#define STR_H

#include <stddef.h>

void	str_oneline(char *, size_t);
char	*str_trim(char *);
int	str_keyval(char *, char **, char **);
/*
 * The characters of s[0..len) if it is UTF-8 as PostgreSQL checks it (no
 * overlong form, no surrogate, nothing past U+10FFFF), else -1; *ctl (if
 * not NULL) says whether a control character (C0, NUL too, or DEL) is
 * among them.
 */
long	str_utf8_count(const char *s, size_t len, int *ctl);

#endif /* STR_H */
