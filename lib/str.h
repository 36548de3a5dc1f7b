/*
 * str: small string helpers that know nothing of HTTP or the schema.
 */
#ifndef STR_H
#define STR_H

#include <stddef.h>

void	str_oneline(char *, size_t);
char	*str_trim(char *);
int	str_keyval(char *, char **, char **);

#endif /* STR_H */
