/*
 * hex: hexadecimal digits, bytes to text and back.
 *
 * hex_value() is the one digit decoder (password.c's pbkdf2 digests,
 * http.c's chunk sizes and %XX escapes).  hex_encode() writes lowercase;
 * hex_decode() accepts either case and checks every length before it
 * writes.  Leaf module: nothing here knows about the server.
 */
#ifndef HEX_H
#define HEX_H

#include <sys/types.h>

#include <stddef.h>

/* 0..15 for a hex digit of either case, -1 for anything else (EOF too). */
int	 hex_value(int c);
/*
 * Write the 2 * len lowercase digits of in[0..len) and a NUL to out,
 * which must hold 2 * len + 1 bytes; returns 2 * len.
 */
size_t	 hex_encode(const unsigned char *in, size_t len, char *out);
/*
 * Decode exactly len characters of in (no NUL needed) into out; the
 * number of bytes (len / 2), or -1 if len is odd, a character is not a
 * hex digit, or len / 2 > outlen.  out may be partly written on a bad
 * digit, never beyond outlen.
 */
ssize_t	 hex_decode(const char *in, size_t len, unsigned char *out,
	    size_t outlen);

#endif /* HEX_H */
