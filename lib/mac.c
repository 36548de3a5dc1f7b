/*
 * mac: HMAC-SHA-256 with a context keyed once.  See mac.h.
 */
#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mac.h"

/* Fetched once per process, kept for its life (as OpenSSL's own are). */
static EVP_MAC	*mac_alg;

int
mac_init(struct mac *m, const void *key, size_t keylen)
{
	OSSL_PARAM	 params[2];
	EVP_MAC_CTX	*ctx;

	mac_clear(m);
	if (mac_alg == NULL &&
	    (mac_alg = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)) == NULL)
		return (-1);
	if ((ctx = EVP_MAC_CTX_new(mac_alg)) == NULL)
		return (-1);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_CTX_get_mac_size(ctx) != MAC_LEN) {
		EVP_MAC_CTX_free(ctx);
		return (-1);
	}
	m->ctx = ctx;
	if (keylen <= sizeof(m->key)) {
		memcpy(m->key, key, keylen);
		m->keylen = keylen;
	}
	return (0);
}

int
mac_with(struct mac *m, const void *key, size_t keylen)
{
	if (m->ctx != NULL && keylen == m->keylen && keylen > 0 &&
	    CRYPTO_memcmp(m->key, key, keylen) == 0)
		return (0);
	return (mac_init(m, key, keylen));
}

int
mac_sha256(struct mac *m, const void *p, size_t n, unsigned char *out)
{
	size_t	 len = 0;

	/* A NULL key re-initialises with the key given to mac_init. */
	if (m->ctx == NULL || EVP_MAC_init(m->ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(m->ctx, p, n) != 1 ||
	    EVP_MAC_final(m->ctx, out, &len, MAC_LEN) != 1 || len != MAC_LEN)
		return (-1);
	return (0);
}

void
mac_clear(struct mac *m)
{
	EVP_MAC_CTX_free(m->ctx);	/* cleanses the key schedule */
	m->ctx = NULL;
	OPENSSL_cleanse(m->key, sizeof(m->key));
	m->keylen = 0;
}
