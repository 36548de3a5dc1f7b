/*
 * str.c: small string helpers.
 *
 * str_oneline() puts a message that spans several lines on one (libpq's
 * "ERROR: ...\nDETAIL: ...\nHINT: ..."): each line break with the blanks
 * around it becomes "; ", and trailing ones go, so that a log line or an
 * error message stays one line.
 *
 * str_trim() and str_keyval() read the "key = value" lines of the
 * configuration file, settings and resource blocks alike.
 */
#include <ctype.h>
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

/* s without its leading and trailing blanks (cut in place). */
char *
str_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

/*
 * Split "key = value" in place at its first '=': both trimmed, a value in
 * double quotes without them.  -1 when there is no '='.
 */
int
str_keyval(char *line, char **key, char **val)
{
	char	*eq, *v;
	size_t	 l;

	if ((eq = strchr(line, '=')) == NULL)
		return (-1);
	*eq = '\0';
	*key = str_trim(line);
	v = str_trim(eq + 1);
	l = strlen(v);
	if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
		v[l - 1] = '\0';
		v++;
	}
	*val = v;
	return (0);
}

long
str_utf8_count(const char *s, size_t len, int *ctl)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k, j;
	long			 n = 0;
	int			 c0 = 0;

	while (i < len) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			c0 = 1;
		if (p[i] < 0x80)
			k = 1;
		else if (p[i] >= 0xc2 && p[i] <= 0xdf)
			k = 2;
		else if ((p[i] & 0xf0) == 0xe0)
			k = 3;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			k = 4;
		else
			return (-1);
		if (len - i < k)
			return (-1);
		for (j = 1; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return (-1);
		/* Overlong three and four byte forms, surrogates, > U+10FFFF. */
		if ((k == 3 && ((p[i] == 0xe0 && p[i + 1] < 0xa0) ||
		    (p[i] == 0xed && p[i + 1] > 0x9f))) ||
		    (k == 4 && ((p[i] == 0xf0 && p[i + 1] < 0x90) ||
		    (p[i] == 0xf4 && p[i + 1] > 0x8f))))
			return (-1);
		i += k;
		n++;
	}
	if (ctl != NULL)
		*ctl = c0;
	return (n);
}
