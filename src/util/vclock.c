/*
 * vclock — see vclock.h.  Parsing uses jansson; entries are kept sorted by
 * node id so rendering is canonical and comparisons are one merge walk.
 */
#include "vclock.h"

#include "buf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

bool vclock_valid_node(const char *s, size_t n)
{
    if (n < 1 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-'))
            return false;
    }
    return true;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b); /* node is the first member */
}

bool vclock_parse(const char *s, size_t n, struct vclock *out)
{
    json_error_t jerr;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
    bool ok = false;
    out->n = 0;
    if (!j || !json_is_object(j) || json_object_size(j) > VCLOCK_MAX) goto out;
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val)
    {
        if (!vclock_valid_node(key, strlen(key)) || !json_is_integer(val)) goto out;
        json_int_t v = json_integer_value(val);
        if (v < 0 || v > VCLOCK_MAX_COUNTER) goto out;
        if (v == 0) continue; /* a zero entry is no entry: one clock, one form */
        memcpy(out->e[out->n].node, key, strlen(key) + 1);
        out->e[out->n].counter = v;
        out->n++;
    }
    qsort(out->e, (size_t)out->n, sizeof out->e[0], cmp_entry);
    ok = true;
out:
    if (!ok) out->n = 0;
    json_decref(j);
    return ok;
}

bool vclock_tick(struct vclock *c, const char *node)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->e[i].node, node) == 0) {
            if (c->e[i].counter >= VCLOCK_MAX_COUNTER) return false;
            c->e[i].counter++;
            return true;
        }
    if (c->n == VCLOCK_MAX) return false;
    size_t l = strlen(node);
    if (l > 64) return false;
    memcpy(c->e[c->n].node, node, l + 1);
    c->e[c->n].counter = 1;
    c->n++;
    qsort(c->e, (size_t)c->n, sizeof c->e[0], cmp_entry);
    return true;
}

void vclock_render(const struct vclock *c, struct buf *b)
{
    buf_putc(b, '{');
    for (int i = 0; i < c->n; i++) {
        if (i) buf_putc(b, ',');
        buf_json_str(b, c->e[i].node, strlen(c->e[i].node));
        buf_putc(b, ':');
        buf_put_i64(b, c->e[i].counter);
    }
    buf_putc(b, '}');
}

enum vc_order vclock_compare(const struct vclock *a, const struct vclock *b)
{
    bool a_more = false, b_more = false; /* a has an entry above b's, and the other way */
    int i = 0, k = 0;
    while (i < a->n || k < b->n) {
        int c = i == a->n ? 1 : k == b->n ? -1 : strcmp(a->e[i].node, b->e[k].node);
        int64_t av = c <= 0 ? a->e[i].counter : 0;
        int64_t bv = c >= 0 ? b->e[k].counter : 0;
        if (av > bv) a_more = true;
        if (bv > av) b_more = true;
        if (c <= 0) i++;
        if (c >= 0) k++;
    }
    if (a_more && b_more) return VC_CONCURRENT;
    if (a_more) return VC_AFTER;
    if (b_more) return VC_BEFORE;
    return VC_EQUAL;
}

bool vclock_merge(struct vclock *a, const struct vclock *b)
{
    struct vclock m;
    int i = 0, k = 0;
    m.n = 0;
    while (i < a->n || k < b->n) {
        if (m.n == VCLOCK_MAX) return false;
        int c = i == a->n ? 1 : k == b->n ? -1 : strcmp(a->e[i].node, b->e[k].node);
        if (c <= 0) {
            m.e[m.n] = a->e[i];
            if (c == 0 && b->e[k].counter > m.e[m.n].counter) m.e[m.n].counter = b->e[k].counter;
        } else {
            m.e[m.n] = b->e[k];
        }
        m.n++;
        if (c <= 0) i++;
        if (c >= 0) k++;
    }
    memcpy(a, &m, sizeof m);
    return true;
}

void vclock_etag(const struct vclock *c, struct buf *b)
{
    buf_putc(b, '"');
    for (int i = 0; i < c->n; i++) {
        if (i) buf_putc(b, ';');
        buf_puts(b, c->e[i].node);
        buf_putc(b, '=');
        buf_put_i64(b, c->e[i].counter);
    }
    buf_putc(b, '"');
}

bool vclock_from_etag(const char *s, size_t n, struct vclock *out)
{
    out->n = 0;
    size_t i = 0;
    if (n == 0) return true; /* the empty clock */
    while (i <= n) {
        size_t start = i;
        while (i < n && s[i] != ';') i++;
        const char *ent = s + start;
        size_t len = i - start;
        i++;
        const char *eq = memchr(ent, '=', len);
        if (!eq || out->n == VCLOCK_MAX) goto bad;
        size_t nl = (size_t)(eq - ent), dl = len - nl - 1;
        if (!vclock_valid_node(ent, nl) || dl == 0 || dl > 16) goto bad;
        int64_t v = 0;
        for (size_t d = 0; d < dl; d++) {
            char ch = eq[1 + d];
            if (ch < '0' || ch > '9' || (d == 0 && ch == '0' && dl > 1)) goto bad;
            v = v * 10 + (ch - '0');
        }
        if (v == 0 || v > VCLOCK_MAX_COUNTER) goto bad;
        /* canonical: strictly increasing node ids */
        if (out->n) {
            const char *prev = out->e[out->n - 1].node;
            size_t pl = strlen(prev), ml = pl < nl ? pl : nl;
            int c = memcmp(prev, ent, ml);
            if (c > 0 || (c == 0 && pl >= nl)) goto bad;
        }
        memcpy(out->e[out->n].node, ent, nl);
        out->e[out->n].node[nl] = '\0';
        out->e[out->n].counter = v;
        out->n++;
    }
    return true;
bad:
    out->n = 0;
    return false;
}
