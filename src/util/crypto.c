/*
 * crypto — see crypto.h.  Randomness comes from getrandom(2); hashing and
 * constant-time comparison from libcrypto.
 *
 * SHA-256 goes through libcrypto's SHA256_CTX functions (deprecated in
 * OpenSSL 3, still supported): their state is a plain struct, so an HMAC
 * key's inner and outer states are computed once per key and copied per
 * message, with no allocation, no lock and no algorithm lookup.  HMAC()
 * and EVP digests fetch the algorithm and allocate contexts on every call:
 * two HMACs (a list's cursor and sync tokens) and one digest (the bearer
 * token) per request were 6% of a list request's time.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto.h"

#include "buf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void crypto_random(void *p, size_t n)
{
    unsigned char *b = p;
    while (n) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("firemode: getrandom");
            abort();
        }
        b += r;
        n -= (size_t)r;
    }
}

/* Each pooled byte is handed out once and wiped from the pool as it goes. */
#define RANDOM_POOL 4096
void crypto_random_fast(void *p, size_t n)
{
    static _Thread_local unsigned char pool[RANDOM_POOL];
    static _Thread_local size_t avail;
    unsigned char *b = p;
    if (n > RANDOM_POOL / 16) {
        crypto_random(b, n);
        return;
    }
    if (avail < n) {
        crypto_random(pool, RANDOM_POOL);
        avail = RANDOM_POOL;
    }
    unsigned char *from = pool + (RANDOM_POOL - avail);
    memcpy(b, from, n);
    memset(from, 0, n);
    avail -= n;
}

void crypto_sha256_hex(const void *data, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data, n);
    SHA256_Final(md, &c);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void crypto_b64url_encode(const void *data, size_t n, struct buf *out)
{
    const unsigned char *r = data;
    size_t whole = n / 3 * 3, len = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
    buf_reserve(out, len);
    char *d = out->data + out->len;
    /* three bytes make four characters */
    for (size_t i = 0; i < whole; i += 3, d += 4) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        d[0] = b64url[v >> 18];
        d[1] = b64url[(v >> 12) & 63];
        d[2] = b64url[(v >> 6) & 63];
        d[3] = b64url[v & 63];
    }
    /* no padding: one byte left makes two characters, two make three */
    if (n - whole == 1) {
        d[0] = b64url[r[whole] >> 2];
        d[1] = b64url[(r[whole] & 3) << 4];
    } else if (n - whole == 2) {
        uint32_t v = (uint32_t)r[whole] << 8 | r[whole + 1];
        d[0] = b64url[v >> 10];
        d[1] = b64url[(v >> 4) & 63];
        d[2] = b64url[(v & 15) << 2];
    }
    out->len += len;
    out->data[out->len] = '\0';
}

bool crypto_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    if (n % 4 == 1) return false; /* no encoder makes that length */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
              : c == '-' ? 62 : c == '_' ? 63 : -1;
        if (v < 0) return false;
        acc = ((acc << 6) | (unsigned)v) & 0xffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) return false;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* canonical: the bits left over must be zero */
    if (bits && (acc & ((1u << bits) - 1))) return false;
    *out_len = o;
    return true;
}

/* A key's HMAC-SHA256 states after its padded block (RFC 2104), kept per
 * thread for the last key used (the server has one key). */
struct hmac_key {
    bool ready;
    size_t key_len;
    unsigned char key[64];
    SHA256_CTX inner, outer;
};
static _Thread_local struct hmac_key tl_hmac;

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n, unsigned char out[32])
{
    struct hmac_key *k = &tl_hmac;
    if (!k->ready || k->key_len != key_len || key_len > sizeof k->key || memcmp(k->key, key, key_len) != 0) {
        unsigned char block[64] = {0}, pad[64];
        if (key_len > sizeof block) SHA256(key, key_len, block);
        else memcpy(block, key, key_len);
        for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
        SHA256_Init(&k->inner);
        SHA256_Update(&k->inner, pad, sizeof pad);
        for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
        SHA256_Init(&k->outer);
        SHA256_Update(&k->outer, pad, sizeof pad);
        OPENSSL_cleanse(block, sizeof block);
        OPENSSL_cleanse(pad, sizeof pad);
        k->key_len = key_len <= sizeof k->key ? key_len : 0;
        memcpy(k->key, key, k->key_len);
        k->ready = key_len <= sizeof k->key; /* a longer key is hashed every time */
    }
    SHA256_CTX c = k->inner;
    unsigned char ih[SHA256_DIGEST_LENGTH];
    SHA256_Update(&c, data, n);
    SHA256_Final(ih, &c);
    c = k->outer;
    SHA256_Update(&c, ih, sizeof ih);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

void crypto_token_new(char out[47])
{
    unsigned char r[32];
    struct buf b;
    crypto_random(r, sizeof r);
    buf_init(&b);
    crypto_b64url_encode(r, sizeof r, &b);
    out[0] = 'f', out[1] = 'm', out[2] = '_';
    memcpy(out + 3, b.data, 43);
    out[46] = '\0';
    buf_free(&b);
}
