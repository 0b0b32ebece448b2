/*
 * crypto — the few primitives the server needs, from OpenSSL's libcrypto:
 * random bytes, SHA-256, constant-time comparison, and API tokens.
 *
 * Tokens are 32 random bytes shown to the client once as "fm_" + base64url;
 * the database keeps only their SHA-256 (hex), so a leaked database does not
 * leak working tokens.
 */
#ifndef FM_CRYPTO_H
#define FM_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/* Fills p with n cryptographically random bytes from the kernel
 * (getrandom); aborts if the OS cannot.  For secrets: tokens, keys. */
void crypto_random(void *p, size_t n);
/* The same kind of bytes, at most 256 at a time, for what is not a secret
 * (the random bits of ids, retry jitter): served from a per-thread pool of
 * the kernel's bytes refilled 4 KiB at a time, one system call per ~250
 * UUIDs instead of one each.  (The server never forks; a child of a fork
 * would repeat its parent's pooled bytes.) */
void crypto_random_fast(void *p, size_t n);
/* Writes the lower-case hex SHA-256 of data into out[65]. */
void crypto_sha256_hex(const void *data, size_t n, char out[65]);
/* Constant-time equality of two equally long buffers. */
bool crypto_equal(const void *a, const void *b, size_t n);
/* A new token: out gets "fm_" + 43 base64url characters + NUL (47 bytes). */
void crypto_token_new(char out[47]);

struct buf;
/* Appends base64url (RFC 4648 §5, no padding) of n bytes. */
void crypto_b64url_encode(const void *data, size_t n, struct buf *out);
/* Decodes canonical unpadded base64url into out (at most cap bytes);
 * false on any other character, a length no encoder makes, non-zero
 * trailing bits or more than cap bytes. */
bool crypto_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *out_len);
/* HMAC-SHA256 of data under key. */
void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n, unsigned char out[32]);

#endif
