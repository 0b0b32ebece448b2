/*
 * vclock — see vclock.h.  Parsing uses jansson; entries are kept sorted by
 * node id so rendering is canonical.
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
        memcpy(out->e[out->n].node, key, strlen(key) + 1);
        out->e[out->n].counter = v;
        out->n++;
    }
    qsort(out->e, (size_t)out->n, sizeof out->e[0], cmp_entry);
    ok = true;
out:
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
