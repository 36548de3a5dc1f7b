/*
 * hex: hex digit values, hex encoding and decoding.  See hex.h.
 */
#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#include "hex.h"

int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

size_t
hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return (2 * len);
}

ssize_t
hex_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t	i;
	int	hi, lo;

	if (len % 2 != 0 || len / 2 > outlen || len / 2 > SSIZE_MAX)
		return (-1);
	for (i = 0; i < len / 2; i++) {
		if ((hi = hex_value((unsigned char)in[2 * i])) == -1 ||
		    (lo = hex_value((unsigned char)in[2 * i + 1])) == -1)
			return (-1);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return ((ssize_t)(len / 2));
}
