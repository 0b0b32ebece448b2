/*
 * url — strict parsing of a request target into path segments and query
 * pairs.  Percent-decoding is strict: a '%' not followed by two hex digits
 * is an error (the caller answers 400), as is a decoded NUL byte.  In the
 * query, '+' means a space.  All output points into one arena owned by the
 * struct url; nothing points into the input after parsing.
 */
#ifndef FM_URL_H
#define FM_URL_H

#include <stdbool.h>
#include <stddef.h>

#define URL_MAX_SEGMENTS 16
#define URL_MAX_PAIRS 64

struct qpair {
    const char *key;   /* decoded, NUL-terminated (no NUL inside) */
    size_t key_len;
    const char *value;
    size_t value_len;
};

struct url {
    char *arena;                     /* owned */
    const char *seg[URL_MAX_SEGMENTS];
    size_t seg_len[URL_MAX_SEGMENTS];
    int nseg;
    bool trailing_slash;
    struct qpair pairs[URL_MAX_PAIRS];
    int npairs;
};

enum url_status {
    URL_OK = 0,
    URL_BAD_ENCODING,   /* malformed percent-encoding or NUL -> 400 */
    URL_BAD_PATH,       /* not starting with '/', empty or dot segments -> 404 */
    URL_TOO_MANY,       /* more path segments than any route has -> 404 */
    URL_TOO_MANY_PAIRS, /* more query pairs than we accept -> 422 */
};

/* Parses target (n bytes: "/path?query").  On any status, url_free is safe. */
enum url_status url_parse(const char *target, size_t n, struct url *u);
void url_free(struct url *u);
/* Decodes one percent-encoded component; returns false on malformed input.
 * out must hold n+1 bytes; *out_len gets the decoded length. */
bool url_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t *out_len);

#endif
