/*
 * url — see url.h.
 */
#include "url.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool url_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return false;
            int h = hexv(s[i + 1]), l = hexv(s[i + 2]);
            if (h < 0 || l < 0) return false;
            c = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0') return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *out_len = o;
    return true;
}

void url_free(struct url *u)
{
    free(u->arena);
    u->arena = NULL;
    u->nseg = 0;
    u->npairs = 0;
}

enum url_status url_parse(const char *target, size_t n, struct url *u)
{
    memset(u, 0, sizeof *u);
    if (n == 0 || target[0] != '/') return URL_BAD_PATH;
    const char *q = memchr(target, '?', n);
    size_t path_len = q ? (size_t)(q - target) : n;
    const char *hash = memchr(target, '#', n);
    if (hash && (!q || hash < q)) {
        path_len = (size_t)(hash - target);
        q = NULL; /* a '?' inside the fragment starts no query */
    }
    /* Every decoded piece is no longer than its source, plus one NUL each. */
    u->arena = xmalloc(n * 2 + 2);
    char *a = u->arena;

    /* Path: split on '/', decode each segment. */
    size_t i = 1;
    while (i < path_len) {
        size_t start = i;
        while (i < path_len && target[i] != '/') i++;
        size_t len = i - start;
        if (len == 0) {
            /* "//" inside the path: not a resource we serve */
            return URL_BAD_PATH;
        }
        if (u->nseg == URL_MAX_SEGMENTS) return URL_TOO_MANY;
        size_t dl;
        if (!url_decode(target + start, len, false, a, &dl)) return URL_BAD_ENCODING;
        if (memchr(a, '/', dl) || (dl == 1 && a[0] == '.') || (dl == 2 && a[0] == '.' && a[1] == '.'))
            return URL_BAD_PATH;
        u->seg[u->nseg] = a;
        u->seg_len[u->nseg] = dl;
        u->nseg++;
        a += dl + 1;
        if (i < path_len) {
            i++; /* the '/' */
            if (i == path_len) u->trailing_slash = true;
        }
    }

    if (!q) return URL_OK;
    size_t qs = (size_t)(q - target) + 1;
    size_t qe = n;
    const char *h2 = memchr(target + qs, '#', n - qs);
    if (h2) qe = (size_t)(h2 - target);
    i = qs;
    while (i < qe) {
        size_t start = i;
        while (i < qe && target[i] != '&') i++;
        size_t len = i - start;
        if (i < qe) i++;
        if (len == 0) continue; /* "a=1&&b=2" */
        const char *eq = memchr(target + start, '=', len);
        size_t klen = eq ? (size_t)(eq - (target + start)) : len;
        if (u->npairs == URL_MAX_PAIRS) return URL_TOO_MANY_PAIRS;
        struct qpair *p = &u->pairs[u->npairs];
        size_t dl;
        if (!url_decode(target + start, klen, true, a, &dl)) return URL_BAD_ENCODING;
        p->key = a;
        p->key_len = dl;
        a += dl + 1;
        if (eq) {
            if (!url_decode(eq + 1, len - klen - 1, true, a, &dl)) return URL_BAD_ENCODING;
        } else {
            a[0] = '\0';
            dl = 0;
        }
        p->value = a;
        p->value_len = dl;
        a += dl + 1;
        u->npairs++;
    }
    return URL_OK;
}
