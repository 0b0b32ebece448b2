/*
 * token — see token.h.
 */
#include "token.h"

#include "../util/crypto.h"
#include "../util/text.h"

#include <stdlib.h>
#include <string.h>

#define MAC_LEN 16

static void put_varint(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        buf_putc(b, (char)(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    buf_putc(b, (char)v);
}

static void put_bytes(struct buf *b, const char *s, size_t n)
{
    put_varint(b, n);
    if (n) buf_append(b, s, n);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A canonical UUID as its 16 bytes. */
static void put_uuid(struct buf *b, const char *u)
{
    unsigned char raw[16] = {0};
    for (int i = 0, k = 0; u[i] && k < 32; i++) {
        int v = hexval(u[i]);
        if (v < 0) continue;
        raw[k / 2] = (unsigned char)(raw[k / 2] | (k % 2 ? v : v << 4));
        k++;
    }
    buf_append(b, raw, 16);
}

static void put_pos(struct buf *b, const struct wpos *p)
{
    put_varint(b, (uint64_t)p->xmin);
    put_varint(b, (uint64_t)(p->xmax - p->xmin));
    put_varint(b, (uint64_t)p->nxip);
    int64_t prev = p->xmin;
    for (int i = 0; i < p->nxip; i++) {
        put_varint(b, (uint64_t)(p->xip[i] - prev));
        prev = p->xip[i];
    }
}

void token_encode(const struct token *t, const unsigned char key[32], struct buf *out)
{
    struct buf p;
    unsigned char mac[32];
    buf_init(&p);
    buf_putc(&p, TOKEN_VERSION);
    buf_putc(&p, (char)t->kind);
    buf_putc(&p, (char)t->coll);
    buf_putc(&p, (char)((t->admin ? 1 : 0) | (t->scope[0] ? 2 : 0) | (t->query_hashed ? 4 : 0)));
    if (t->scope[0]) put_uuid(&p, t->scope);
    put_uuid(&p, t->user);
    put_pos(&p, &t->s);
    if (t->kind == TOKEN_CURSOR) {
        put_varint(&p, (uint64_t)t->page);
        put_bytes(&p, t->query, t->query_len);
        buf_putc(&p, (char)t->nkeys);
        for (int i = 0; i < t->nkeys; i++) {
            buf_putc(&p, t->keys[i].null ? 1 : 0);
            if (!t->keys[i].null) put_bytes(&p, t->keys[i].s, t->keys[i].len);
        }
    } else {
        buf_putc(&p, t->has_end ? 1 : 0);
        if (t->has_end) put_pos(&p, &t->e);
        buf_putc(&p, t->has_last ? 1 : 0);
        if (t->has_last) {
            put_varint(&p, (uint64_t)t->last_seq);
            put_bytes(&p, t->last_pk, t->last_pk_len);
        }
    }
    crypto_hmac_sha256(key, 32, p.data, p.len, mac);
    buf_append(&p, mac, MAC_LEN);
    crypto_b64url_encode(p.data, p.len, out);
    buf_free(&p);
}

/* ---- decoding: a cursor over the payload ---- */

struct rd {
    const unsigned char *p, *end;
    bool bad;
};

static uint64_t get_varint(struct rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p == r->end) break;
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (shift == 63 && c > 1) break; /* past 64 bits */
            return v;
        }
    }
    r->bad = true;
    return 0;
}

static int get_u8(struct rd *r)
{
    if (r->p == r->end) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}

static const char *get_bytes(struct rd *r, size_t *n)
{
    uint64_t len = get_varint(r);
    if (r->bad || len > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        *n = 0;
        return "";
    }
    const char *s = (const char *)r->p;
    r->p += len;
    *n = (size_t)len;
    return s;
}

static void get_uuid(struct rd *r, char out[37])
{
    if (r->end - r->p < 16) {
        r->bad = true;
        out[0] = '\0';
        return;
    }
    uuid_format(r->p, out);
    r->p += 16;
}

static void get_pos(struct rd *r, struct wpos *p)
{
    uint64_t xmin = get_varint(r), span = get_varint(r), nxip = get_varint(r);
    if (r->bad || xmin > INT64_MAX || span > (uint64_t)INT64_MAX - xmin || nxip > WPOS_MAX_XIP) {
        r->bad = true;
        return;
    }
    p->xmin = (int64_t)xmin;
    p->xmax = (int64_t)(xmin + span);
    p->nxip = 0;
    int64_t prev = p->xmin;
    for (uint64_t i = 0; i < nxip; i++) {
        uint64_t d = get_varint(r);
        if (r->bad || (i > 0 && d == 0) || d >= (uint64_t)(p->xmax - prev)) {
            r->bad = true;
            return;
        }
        prev += (int64_t)d;
        p->xip[p->nxip++] = prev;
    }
}

bool token_decode(const char *s, size_t n, const unsigned char key[32], struct token *t)
{
    memset(t, 0, sizeof *t);
    if (n == 0 || n > TOKEN_MAX_LEN) return false;
    unsigned char *raw = xmalloc(n);
    size_t len;
    unsigned char mac[32];
    if (!crypto_b64url_decode(s, n, raw, n, &len) || len < MAC_LEN + 4) goto bad;
    len -= MAC_LEN;
    crypto_hmac_sha256(key, 32, raw, len, mac);
    if (!crypto_equal(mac, raw + len, MAC_LEN)) goto bad;

    struct rd r = {raw, raw + len, false};
    if (get_u8(&r) != TOKEN_VERSION) goto bad;
    t->kind = (enum token_kind)get_u8(&r);
    t->coll = get_u8(&r);
    int flags = get_u8(&r);
    if (t->kind != TOKEN_CURSOR && t->kind != TOKEN_FEED) goto bad;
    t->admin = flags & 1;
    t->query_hashed = (flags & 4) != 0;
    if (flags & 2) get_uuid(&r, t->scope);
    get_uuid(&r, t->user);
    get_pos(&r, &t->s);
    if (t->kind == TOKEN_CURSOR) {
        uint64_t page = get_varint(&r);
        if (page > INT64_MAX) goto bad;
        t->page = (int64_t)page;
        t->query = get_bytes(&r, &t->query_len);
        t->nkeys = get_u8(&r);
        if (t->nkeys > TOKEN_MAX_KEYS) goto bad;
        for (int i = 0; i < t->nkeys && !r.bad; i++) {
            t->keys[i].null = get_u8(&r) != 0;
            if (!t->keys[i].null) t->keys[i].s = get_bytes(&r, &t->keys[i].len);
        }
    } else {
        t->has_end = get_u8(&r) != 0;
        if (t->has_end) get_pos(&r, &t->e);
        t->has_last = get_u8(&r) != 0;
        if (t->has_last) {
            uint64_t seq = get_varint(&r);
            if (seq > INT64_MAX) goto bad;
            t->last_seq = (int64_t)seq;
            t->last_pk = get_bytes(&r, &t->last_pk_len);
        }
    }
    if (r.bad || r.p != r.end) goto bad;
    t->owned = raw;
    return true;
bad:
    free(raw);
    memset(t, 0, sizeof *t);
    return false;
}

void token_free(struct token *t)
{
    free(t->owned);
    t->owned = NULL;
}
