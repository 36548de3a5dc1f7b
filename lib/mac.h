/*
 * mac: HMAC-SHA-256 under a key set once.
 *
 * OpenSSL 3's one-shot HMAC() fetches the algorithm and the digest,
 * allocates a context and keys it on every call: some 20,000
 * instructions, most of a cached request's cost.  A struct mac is keyed
 * once (the inner and outer pads computed then) and reset for each
 * message, which costs the two SHA-256 compressions and little more.
 * Leaf module: nothing here knows about the server.
 */
#ifndef MAC_H
#define MAC_H

#include <stddef.h>

#define MAC_LEN		32	/* bytes of an HMAC-SHA-256 */
#define MAC_KEY_MAX	64	/* longest key mac_with() remembers */

struct evp_mac_ctx_st;

struct mac {
	struct evp_mac_ctx_st	*ctx;	/* NULL: not keyed */
	size_t			 keylen;	/* of key; for mac_with */
	unsigned char		 key[MAC_KEY_MAX];
};

/* Key m (0), or -1 if libcrypto fails; m must be zeroed or cleared. */
int	 mac_init(struct mac *m, const void *key, size_t keylen);
/* out[0..MAC_LEN) = HMAC(key, p[0..n)); 0, or -1 (m not keyed). */
int	 mac_sha256(struct mac *m, const void *p, size_t n,
	    unsigned char *out);
/*
 * Make sure m is keyed with key: keyed again only when the key differs
 * from the one it holds (callers that are handed a key per call).
 */
int	 mac_with(struct mac *m, const void *key, size_t keylen);
/* Forget the key (the context is freed and cleansed). */
void	 mac_clear(struct mac *m);

#endif /* MAC_H */
