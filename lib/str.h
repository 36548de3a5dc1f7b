/*
 * str: small string helpers that know nothing of HTTP or the schema.
 */
#ifndef STR_H
#define STR_H

#include <stddef.h>

void	str_oneline(char *, size_t);

#endif /* STR_H */
