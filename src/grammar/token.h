/*
 * token — the opaque, URL-safe, versioned tokens of keyset walks
 * (`next_cursor`, `cursor`) and change feeds (`sync_token`, `since`,
 * `next_since`), as a pure codec: no I/O, no database.
 *
 * A token is base64url(payload || MAC), MAC = the first 16 bytes of
 * HMAC-SHA256(key, payload) under the database's token key
 * (store_token_key), so every server of a cluster accepts every other's
 * tokens and nobody can make or alter one.  The payload binds a token to
 * what it was made for: the collection, the scope (workspace id, or none),
 * the caller (user id, admin or not) and, for cursors, the walk's
 * normalized filters and sort.  Payload v1:
 *
 *   u8 version (1) | u8 kind | u8 collection | u8 flags (1 admin, 2 scope, 4 query hashed)
 *   | [16 scope uuid] | 16 caller uuid | pos S
 *   cursor: varint page | bytes query | u8 nkeys | nkeys x (u8 null | bytes)
 *   feed:   u8 has_end [| pos E] | u8 has_last [| varint seq | bytes pk]
 *   pos   = varint xmin | varint xmax-xmin | varint nxip | nxip x varint delta
 *   bytes = varint length | that many bytes
 *
 * Decoding checks the MAC (in constant time) before it reads anything, and
 * every length against what is left, so a garbled, truncated or forged
 * token is simply invalid.
 */
#ifndef FM_TOKEN_H
#define FM_TOKEN_H

#include "../store/store.h"
#include "../util/buf.h"

#include <stdbool.h>
#include <stdint.h>

#define TOKEN_VERSION 1
#define TOKEN_MAX_KEYS 4 /* LQ_MAX_SORT plus the tie-breaker */
#define TOKEN_MAX_LEN 6144 /* base64url characters accepted: fits a request line */

enum token_kind { TOKEN_CURSOR = 1, TOKEN_FEED = 2 };

struct token_key {
    bool null;
    const char *s; /* into the token's own storage (or the caller's, when encoding) */
    size_t len;
};

struct token {
    enum token_kind kind;
    int coll;        /* index in collections[] */
    bool admin;      /* the caller was an admin */
    char scope[37];  /* workspace id, or "" */
    char user[37];   /* the caller */
    struct wpos s;   /* the walk's position / the feed's "since" */
    /* TOKEN_CURSOR */
    int64_t page;    /* the number of the page this cursor was taken from */
    const char *query; /* canonical filters and sort (lq_canonical), or with */
    size_t query_len;
    bool query_hashed; /* ... its SHA-256 (hex) when it is too long to travel:
                          then the client repeats the filters on every page */
    int nkeys;       /* the last row's sort keys, in sort order */
    struct token_key keys[TOKEN_MAX_KEYS];
    /* TOKEN_FEED */
    bool has_end;    /* a window end: rows must also be old for e */
    struct wpos e;
    bool has_last;   /* go on after (last_seq, last_pk) */
    int64_t last_seq;
    const char *last_pk;
    size_t last_pk_len;
    unsigned char *owned; /* decoded payload (token_free) */
};

/* Appends the token text.  key: 32 bytes. */
void token_encode(const struct token *t, const unsigned char key[32], struct buf *out);
/* Decodes s (n bytes) into t; false if it is not a valid token under key.
 * After true, call token_free(t). */
bool token_decode(const char *s, size_t n, const unsigned char key[32], struct token *t);
void token_free(struct token *t);

#endif
