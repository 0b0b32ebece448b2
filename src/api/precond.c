/*
 * precond — see precond.h.
 */
#include "precond.h"

#include "../util/text.h"

#include <string.h>

/* Walks a comma-separated list of entity-tags.  Calls fn for each with its
 * inside (without quotes) and whether it was weak; false on a malformed
 * list. */
typedef bool (*tag_fn)(void *ctx, const char *s, size_t n, bool weak);

static bool each_tag(const char *h, tag_fn fn, void *ctx)
{
    const char *p = h;
    int count = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) return count > 0;
        bool weak = false;
        if (p[0] == 'W' && p[1] == '/') weak = true, p += 2;
        if (*p != '"') return false;
        const char *q = strchr(p + 1, '"');
        if (!q) return false;
        if (++count > PRECOND_MAX_TAGS) return false;
        if (!fn(ctx, p + 1, (size_t)(q - p - 1), weak)) return false;
        p = q + 1;
        while (*p == ' ' || *p == '\t') p++;
        if (*p && *p != ',') return false;
    }
}

static bool add_strong(void *ctx, const char *s, size_t n, bool weak)
{
    struct precond *p = ctx;
    if (weak) return true; /* never satisfies If-Match: just not a candidate */
    if (!vclock_from_etag(s, n, &p->c[p->n])) return false;
    p->n++;
    return true;
}

void precond_parse_if_match(const char *h, struct precond *p)
{
    memset(p, 0, sizeof *p);
    if (!h) return;
    p->present = true;
    const char *s = h;
    size_t n = strlen(h);
    text_trim(&s, &n);
    if (n == 1 && s[0] == '*') {
        p->any = true;
        return;
    }
    if (n && s[0] == '{') {
        /* the clock as bare JSON */
        if (vclock_parse(s, n, &p->c[0])) p->n = 1;
        else p->invalid = true;
        return;
    }
    if (!each_tag(s, add_strong, p)) {
        p->n = 0;
        p->invalid = true;
    }
}

enum precond_result precond_check(const struct precond *p, const struct vclock *s, const struct vclock **use)
{
    *use = NULL;
    if (!p->present || p->any) return PRECOND_APPLY;
    bool concurrent = false;
    for (int i = 0; i < p->n; i++) {
        enum vc_order o = vclock_compare(s, &p->c[i]);
        if (o == VC_EQUAL) { /* the version stored: nothing to merge, nothing to doubt */
            *use = &p->c[i];
            return PRECOND_APPLY;
        }
        if (o == VC_BEFORE && !*use) *use = &p->c[i];
        if (o == VC_CONCURRENT) concurrent = true;
    }
    if (*use) return PRECOND_APPLY;
    return concurrent ? PRECOND_CONCURRENT : PRECOND_STALE;
}

struct inm {
    const struct vclock *cur;
    bool match;
};

static bool match_tag(void *ctx, const char *s, size_t n, bool weak)
{
    struct inm *m = ctx;
    struct vclock c;
    (void)weak; /* weak comparison */
    if (vclock_from_etag(s, n, &c) && vclock_compare(&c, m->cur) == VC_EQUAL) m->match = true;
    return true;
}

bool precond_if_none_match(const char *h, const struct vclock *current)
{
    const char *s = h;
    size_t n = strlen(h);
    text_trim(&s, &n);
    if (n == 1 && s[0] == '*') return true;
    struct inm m = {current, false};
    return each_tag(s, match_tag, &m) && m.match;
}
