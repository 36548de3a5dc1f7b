/*
 * str.c: small string helpers.
 *
 * str_oneline() puts a message that spans several lines on one (libpq's
 * "ERROR: ...\nDETAIL: ...\nHINT: ..."): each line break with the blanks
 * around it becomes "; ", and trailing ones go, so that a log line or an
 * error message stays one line.
 */
#include <stdlib.h>
#include <string.h>

#include "str.h"

void
str_oneline(char *s, size_t size)
{
	char	*t, *r;
	size_t	 w = 0;

	if (size == 0 || (t = strdup(s)) == NULL)
		return;		/* left as it is */
	for (r = t; *r != '\0' && w + 3 < size; ) {
		if (*r != '\n' && *r != '\r') {
			s[w++] = *r++;
			continue;
		}
		while (w > 0 && (s[w - 1] == ' ' || s[w - 1] == '\t'))
			w--;
		while (*r == '\n' || *r == '\r' || *r == ' ' || *r == '\t')
			r++;
		if (*r != '\0' && w > 0) {
			s[w++] = ';';
			s[w++] = ' ';
		}
	}
	s[w] = '\0';
	free(t);
}
