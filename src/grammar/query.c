/*
 * query — the list grammar parser (see query.h).
 *
 * The parse is one pass over the pairs: each key is either a common
 * parameter (page, page_size, include_total, sort) or one of the
 * collection's filters; anything else is a 422 naming the allowed keys.
 * Scalar parameters may appear once; *_in lists may repeat and are joined.
 * Text patterns are trimmed, bounded, lower-cased (ASCII) and LIKE-escaped
 * here, so the planner only binds them.
 */
#include "query.h"

#include "../model/types.h"
#include "../util/buf.h"
#include "../util/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lq_error_init(struct lq_error *e)
{
    e->n = 0;
    e->truncated = false;
    e->at = 0;
}

static int add_issue(struct lq_error *e, int at, const char *loc, const char *type, const char *fmt, va_list ap)
{
    /* the list stays sorted by position; equal positions keep their order */
    int k = e->n;
    while (k > 0 && e->list[k - 1].at > at) k--;
    if (k == LQ_MAX_ERRORS) {
        e->truncated = true;
        return -1;
    }
    if (e->n == LQ_MAX_ERRORS) {
        e->truncated = true; /* the last one by position goes */
        e->n--;
    }
    memmove(&e->list[k + 1], &e->list[k], (size_t)(e->n - k) * sizeof e->list[0]);
    e->n++;
    struct lq_issue *is = &e->list[k];
    snprintf(is->loc, sizeof is->loc, "%s", loc ? loc : "");
    snprintf(is->type, sizeof is->type, "%s", type);
    vsnprintf(is->msg, sizeof is->msg, fmt, ap);
    is->as_string = false;
    is->at = at;
    return -1;
}

int lq_error_add(struct lq_error *e, int at, const char *loc, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_issue(e, at, loc, type, fmt, ap);
    va_end(ap);
    return -1;
}

/* Files an issue at the position being read (err->at). */
static int fail(struct lq_error *err, const char *loc, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct lq_error *err, const char *loc, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_issue(err, err->at, loc, type, fmt, ap);
    va_end(ap);
    return -1;
}

/* Marks the issue just filed at err->at as one answered as a string alone. */
static void last_as_string(struct lq_error *err)
{
    for (int k = err->n - 1; k >= 0; k--)
        if (err->list[k].at == err->at) {
            err->list[k].as_string = true;
            return;
        }
}

void lq_free(struct list_query *q)
{
    free(q->arena);
    q->arena = NULL;
    q->arena_len = q->arena_cap = 0;
}

/* Copies n bytes into the arena (which was sized up front, so it never
 * moves and earlier pointers stay valid). */
static char *arena_put(struct list_query *q, const char *s, size_t n)
{
    if (q->arena_len + n + 1 > q->arena_cap) return NULL; /* sized up front: cannot happen */
    char *d = q->arena + q->arena_len;
    memcpy(d, s, n);
    d[n] = '\0';
    q->arena_len += n + 1;
    return d;
}

/* "%" + escape(lower(s)) + "%", escaping %, _ and \ with \. */
static const char *like_pattern(struct list_query *q, const char *s, size_t n, size_t *out_len)
{
    char *d = q->arena + q->arena_len;
    if (q->arena_len + 2 * n + 3 > q->arena_cap) return NULL;
    size_t o = 0;
    d[o++] = '%';
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c == '%' || c == '_' || c == '\\') d[o++] = '\\';
        d[o++] = c;
    }
    d[o++] = '%';
    d[o] = '\0';
    q->arena_len += o + 1;
    *out_len = o;
    return d;
}


/* Validates one filter value of the type of f's field and appends it. */
static int add_value(struct list_query *q, const struct filter *f, const char *s, size_t n, struct lq_error *err)
{
    const struct field *fd = f->field;
    struct lq_value v = {0};
    if (q->nvals == LQ_MAX_VALUES)
        return fail(err, f->param, "too_long", "At most %d filter values are accepted in one request", LQ_MAX_VALUES);
    if (n == 0) return fail(err, f->param, "string_too_short", "Value must not be empty");
    if (f->op == OP_TAG_IN) {
        long cps = utf8_count(s, n);
        if (cps < 0) return fail(err, f->param, "string_type", "Input should be a valid UTF-8 string");
        if (cps > LQ_MAX_TAG)
            return fail(err, f->param, "string_too_long", "Tags have at most %d characters", LQ_MAX_TAG);
        v.s = s, v.len = n;
    } else {
        const struct type_ops *t = type_of(fd);
        struct type_qvalue tv;
        struct type_error te;
        memset(&tv, 0, sizeof tv);
        if (!t->parse_query) return fail(err, f->param, "value_error", "This parameter cannot be filtered on");
        if (t->parse_query(fd, s, n, &tv, &te) < 0) return fail(err, f->param, te.type, "%s", te.msg);
        v.s = tv.canon[0] ? arena_put(q, tv.canon, 36) : tv.s;
        v.len = tv.len;
        v.i = tv.i;
        /* inclusive bound: a date alone means the whole of that day */
        if (f->op == OP_THROUGH && fd->type == FT_TIME && n == 10) v.i += 86400LL * 1000000 - 1;
    }
    q->vals[q->nvals++] = v;
    return 0;
}

static int parse_int_param(const char *name, const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out,
                           struct lq_error *err)
{
    if (!int_parse(s, n, out))
        return fail(err, name, "int_parsing", "Input should be a valid integer, unable to parse string as an integer");
    if (*out < lo) return fail(err, name, "greater_than_equal", "Input should be greater than or equal to %lld", (long long)lo);
    if (*out > hi) return fail(err, name, "less_than_equal", "Input should be less than or equal to %lld", (long long)hi);
    return 0;
}

static int parse_sort(const struct collection *c, const char *s, size_t n, struct list_query *q, struct lq_error *err)
{
    size_t i = 0;
    q->nsort = 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && s[i] != ',') i++;
        const char *tok = s + start;
        size_t len = i - start;
        i++;
        text_trim(&tok, &len);
        if (len == 0) continue;
        bool desc = false;
        if (tok[0] == '-' || tok[0] == '+') {
            desc = tok[0] == '-';
            tok++, len--;
            text_trim(&tok, &len);
        }
        const struct sort_key *key = NULL;
        for (size_t k = 0; k < c->nsorts && !key; k++)
            if (text_ieq(tok, len, c->sorts[k].name)) key = &c->sorts[k];
        if (!key) {
            fail(err, "sort", "value_error", "Unsupported sort field '%.*s'. Allowed: %s", (int)(len > 64 ? 64 : len),
                 tok, c->allowed_sorts);
            last_as_string(err);
            return -1; /* one issue per sort parameter: its first bad field */
        }
        bool dup = false;
        for (int k = 0; k < q->nsort; k++) dup |= q->sort[k].key == key;
        if (dup) continue; /* first wins */
        if (q->nsort == LQ_MAX_SORT) {
            fail(err, "sort", "value_error", "Too many sort fields (max %d).", LQ_MAX_SORT);
            last_as_string(err);
            return -1;
        }
        q->sort[q->nsort].key = key;
        q->sort[q->nsort].desc = desc;
        q->nsort++;
    }
    return 0;
}

static void finish_sort(const struct collection *c, struct list_query *q)
{
    if (q->nsort == 0) {
        const char *d = c->default_sort;
        bool desc = d[0] == '-';
        if (desc) d++;
        for (size_t k = 0; k < c->nsorts; k++)
            if (strcmp(c->sorts[k].name, d) == 0) {
                q->sort[0].key = &c->sorts[k];
                q->sort[0].desc = desc;
                q->nsort = 1;
            }
    }
    for (int k = 0; k < q->nsort; k++)
        if (strcmp(q->sort[k].key->column, c->pk->column) == 0) return;
    /* tie-breaker: the primary key, in the first field's direction */
    for (size_t k = 0; k < c->nsorts; k++)
        if (strcmp(c->sorts[k].column, c->pk->column) == 0) {
            q->sort[q->nsort].key = &c->sorts[k];
            q->sort[q->nsort].desc = q->nsort ? q->sort[0].desc : false;
            q->nsort++;
            return;
        }
}

static const struct filter *find_filter(const struct collection *c, const char *k, size_t n)
{
    for (size_t i = 0; i < c->nfilters; i++)
        if (text_eq(k, n, c->filters[i].param)) return &c->filters[i];
    return NULL;
}

static struct lq_cond *cond_for(struct list_query *q, const struct filter *f)
{
    for (int i = 0; i < q->nconds; i++)
        if (q->conds[i].filter == f) return &q->conds[i];
    return NULL;
}

static bool is_list_op(enum fop op)
{
    return op == OP_IN || op == OP_TAG_IN;
}

/* The list-grammar parameters a profile takes, before its filters. */
enum common_param { CP_PAGE, CP_SIZE, CP_TOTAL, CP_SORT, CP_CURSOR, CP_N };

static int common_param(const struct list_profile *pr, const char *k, size_t n)
{
    if (pr->pages && text_eq(k, n, "page")) return CP_PAGE;
    if (text_eq(k, n, pr->size_param)) return CP_SIZE;
    if (pr->pages && text_eq(k, n, "include_total")) return CP_TOTAL;
    if (text_eq(k, n, "sort")) return CP_SORT;
    if (text_eq(k, n, "cursor")) return CP_CURSOR;
    return -1;
}

/* Every problem of the request is filed (see query.h), at most one per
 * pair but for the cursor/page conflict and an empty list.  Two limits stop
 * the scan, as any more issues would only repeat them: LQ_MAX_CONDS
 * distinct filters, and LQ_MAX_VALUES filter values in all (the value slots
 * are spent).  Returns -1 iff something was filed. */
static int parse_pairs(const struct collection *c, const struct qpair *pairs, int npairs, struct list_query *q,
                       struct lq_error *err)
{
    const struct list_profile *pr = c->profile;
    int seen_common[CP_N] = {0};
    int cursor_at = -1;

    /* Pass 1: names, repetition, and the scalar parameters. */
    for (int i = 0; i < npairs; i++) {
        const struct qpair *p = &pairs[i];
        err->at = i;
        int ci = common_param(pr, p->key, p->key_len);
        if (ci >= 0) {
            const char *name = ci == CP_SIZE ? pr->size_param : p->key;
            if (seen_common[ci]++) {
                fail(err, name, "multiple_values", "Parameter '%s' may be given only once", name);
                continue;
            }
            if (ci != CP_SORT && p->value_len == 0) {
                fail(err, name, "missing", "Value must not be empty");
                continue;
            }
            int64_t v;
            bool b;
            switch (ci) {
            case CP_PAGE:
                if (parse_int_param("page", p->value, p->value_len, 1, LQ_MAX_PAGE, &v, err) < 0) break;
                q->page = v;
                q->page_given = true;
                break;
            case CP_SIZE:
                if (parse_int_param(name, p->value, p->value_len, 1, pr->max_size, &v, err) < 0) break;
                q->page_size = (int)v;
                break;
            case CP_TOTAL:
                if (!bool_parse(p->value, p->value_len, &b)) {
                    fail(err, "include_total", "bool_parsing", "Input should be a valid boolean, unable to interpret input");
                    break;
                }
                q->include_total = b;
                break;
            case CP_SORT:
                if (parse_sort(c, p->value, p->value_len, q, err) < 0) q->nsort = 0;
                q->explicit_query = true;
                break;
            case CP_CURSOR:
                q->cursor = p->value;
                q->cursor_len = p->value_len;
                cursor_at = i;
                break;
            }
            continue;
        }
        const struct filter *f = find_filter(c, p->key, p->key_len);
        if (!f) {
            char name[64];
            size_t kl = p->key_len < 40 ? p->key_len : 40;
            memcpy(name, p->key, kl);
            name[kl] = '\0';
            fail(err, name, "extra_forbidden", "Unknown query parameter '%s%s'. Allowed: %s", name,
                 p->key_len > 40 ? "..." : "", c->allowed_params);
            continue;
        }
        q->explicit_query = true;
        struct lq_cond *cond = cond_for(q, f);
        if (cond && !is_list_op(f->op)) {
            fail(err, f->param, "multiple_values", "Parameter '%s' may be given only once", f->param);
            continue; /* pass 2 reads the first one only */
        }
        if (!cond) {
            if (q->nconds == LQ_MAX_CONDS) return fail(err, f->param, "too_long", "Too many filters"); /* stops */
            cond = &q->conds[q->nconds++];
            cond->filter = f;
            cond->first = 0;
            cond->count = 0;
        }
    }
    if (q->cursor && q->page_given) {
        err->at = cursor_at;
        fail(err, "cursor", "value_error",
             "Parameter 'cursor' cannot be combined with 'page': a cursor carries its own position in the walk");
    }

    /* Pass 2: filter values, grouped per condition so each one's values are
     * contiguous (repeated *_in parameters are joined). */
    for (int ci = 0; ci < q->nconds; ci++) {
        struct lq_cond *cond = &q->conds[ci];
        const struct filter *f = cond->filter;
        int first_at = -1, items = 0;
        cond->first = q->nvals;
        for (int i = 0; i < npairs; i++) {
            const struct qpair *p = &pairs[i];
            if (!text_eq(p->key, p->key_len, f->param)) continue;
            err->at = i;
            const char *s = p->value;
            size_t n = p->value_len;
            if (is_list_op(f->op)) {
                if (first_at < 0) first_at = i;
                size_t j = 0;
                while (j <= n) {
                    size_t st = j;
                    while (j < n && s[j] != ',') j++;
                    const char *item = s + st;
                    size_t il = j - st;
                    j++;
                    text_trim(&item, &il);
                    if (il == 0) continue; /* empty items are ignored */
                    items++;
                    if (q->nvals == LQ_MAX_VALUES) { /* the value slots are spent: stop the scan */
                        return fail(err, f->param, "too_long",
                                    "At most %d filter values are accepted in one request", LQ_MAX_VALUES);
                    }
                    if (add_value(q, f, item, il, err) < 0) break; /* one issue per pair: its first bad item */
                }
                continue;
            }
            if (n == 0) {
                fail(err, f->param, "missing", "Value must not be empty");
                break;
            }
            /* q, title and *_is_null take a value slot too (add_value checks the others) */
            if (f->op != OP_INCLUDE_DELETED && q->nvals == LQ_MAX_VALUES)
                return fail(err, f->param, "too_long", "At most %d filter values are accepted in one request",
                            LQ_MAX_VALUES); /* stops the scan */
            switch (f->op) {
            case OP_SEARCH:
            case OP_CONTAINS: {
                text_trim(&s, &n);
                long cps = utf8_count(s, n);
                int lo = f->op == OP_SEARCH ? LQ_MIN_SEARCH : 1;
                int hi = f->op == OP_SEARCH ? LQ_MAX_SEARCH : LQ_MAX_CONTAINS;
                if (cps < 0) {
                    fail(err, f->param, "string_type", "Input should be a valid UTF-8 string");
                } else if (cps < lo) {
                    fail(err, f->param, "string_too_short", "String should have at least %d character%s after trimming",
                         lo, lo == 1 ? "" : "s");
                } else if (cps > hi) {
                    fail(err, f->param, "string_too_long", "String should have at most %d characters", hi);
                } else {
                    struct lq_value v = {0};
                    v.s = like_pattern(q, s, n, &v.len);
                    v.src = s, v.src_len = n;
                    q->vals[q->nvals++] = v;
                }
                break;
            }
            case OP_IS_NULL:
            case OP_INCLUDE_DELETED: {
                bool b;
                if (!bool_parse(s, n, &b)) {
                    fail(err, f->param, "bool_parsing", "Input should be a valid boolean, unable to interpret input");
                } else if (f->op == OP_INCLUDE_DELETED) {
                    q->include_deleted = b;
                } else {
                    struct lq_value v = {0};
                    v.i = b;
                    q->vals[q->nvals++] = v;
                }
                break;
            }
            default:
                add_value(q, f, s, n, err);
            }
            break; /* a scalar: its first pair (a repetition was filed in pass 1) */
        }
        cond->count = q->nvals - cond->first;
        if (is_list_op(f->op) && items == 0) {
            err->at = first_at;
            fail(err, f->param, "missing", "List must have at least one non-empty item");
        }
    }
    return err->n ? -1 : 0;
}

int lq_parse(const struct collection *c, const struct qpair *pairs, int npairs, struct list_query *q,
             struct lq_error *err)
{
    memset(q, 0, sizeof *q);
    lq_error_init(err);
    q->coll = c;
    q->page = 1;
    q->page_size = c->profile->default_size;
    size_t total = 64;
    for (int i = 0; i < npairs; i++) total += 2 * pairs[i].value_len + 40;
    q->arena_cap = total;
    q->arena = xmalloc(total);
    if (parse_pairs(c, pairs, npairs, q, err) < 0) {
        lq_free(q);
        return -1;
    }
    finish_sort(c, q);
    return 0;
}

/* ---- canonical form ------------------------------------------------------ */

static void put_pair(struct buf *b, const char *k, const char *v, size_t vn)
{
    buf_append(b, k, strlen(k) + 1);
    buf_append(b, v, vn);
    buf_putc(b, '\0');
}

/* One value in canonical text (what lq_parse reads back as the same value). */
static void canon_value(struct buf *b, const struct filter *f, const struct lq_value *v)
{
    if (f->op == OP_SEARCH || f->op == OP_CONTAINS) {
        buf_append(b, v->src, v->src_len);
        return;
    }
    if (f->op == OP_IS_NULL) {
        buf_puts(b, v->i ? "true" : "false");
        return;
    }
    if (f->op == OP_TAG_IN) {
        buf_append(b, v->s, v->len);
        return;
    }
    switch (f->field->type) {
    case FT_BOOL: buf_puts(b, v->i ? "true" : "false"); break;
    case FT_TIME: time_format(b, v->i); break;
    case FT_INT: buf_put_i64(b, v->i); break;
    default: buf_append(b, v->s, v->len);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void lq_canonical(const struct list_query *q, struct buf *out)
{
    const struct collection *c = q->coll;
    struct buf v;
    buf_init(&v);
    for (size_t fi = 0; fi < c->nfilters; fi++) {
        const struct lq_cond *cond = NULL;
        for (int k = 0; k < q->nconds; k++)
            if (q->conds[k].filter == &c->filters[fi]) cond = &q->conds[k];
        if (!cond || cond->filter->op == OP_INCLUDE_DELETED) continue;
        const struct filter *f = cond->filter;
        buf_reset(&v);
        if (is_list_op(f->op)) {
            /* sorted, without duplicates, joined by ',' (no item holds one) */
            char *items[LQ_MAX_VALUES];
            int n = 0;
            struct buf one;
            buf_init(&one);
            for (int k = 0; k < cond->count; k++) {
                buf_reset(&one);
                canon_value(&one, f, &q->vals[cond->first + k]);
                items[n++] = xstrndup(one.data ? one.data : "", one.len);
            }
            buf_free(&one);
            qsort(items, (size_t)n, sizeof items[0], cmp_str);
            for (int k = 0; k < n; k++) {
                if (k == 0 || strcmp(items[k], items[k - 1]) != 0) {
                    if (v.len) buf_putc(&v, ',');
                    buf_puts(&v, items[k]);
                }
            }
            for (int k = 0; k < n; k++) free(items[k]);
        } else if (cond->count) {
            canon_value(&v, f, &q->vals[cond->first]);
        }
        put_pair(out, f->param, v.data ? v.data : "", v.len);
    }
    if (q->include_deleted) put_pair(out, "include_deleted", "true", 4);
    buf_reset(&v);
    /* the resolved sort reads back as itself; past LQ_MAX_SORT fields the
     * last is the implicit tie-breaker, which the parse adds again */
    int nsort = q->nsort > LQ_MAX_SORT ? LQ_MAX_SORT : q->nsort;
    for (int k = 0; k < nsort; k++) {
        if (k) buf_putc(&v, ',');
        if (q->sort[k].desc) buf_putc(&v, '-');
        buf_puts(&v, q->sort[k].key->name);
    }
    put_pair(out, "sort", v.data ? v.data : "", v.len);
    buf_free(&v);
}

int lq_parse_canonical(const struct collection *c, const char *s, size_t n, struct list_query *q,
                       struct lq_error *err)
{
    struct qpair pairs[LQ_MAX_CONDS + 4];
    int np = 0;
    size_t i = 0;
    while (i < n) {
        if (np == (int)(sizeof pairs / sizeof pairs[0])) goto bad;
        const char *k = s + i;
        const char *kend = memchr(k, '\0', n - i);
        if (!kend) goto bad;
        i += (size_t)(kend - k) + 1;
        if (i > n) goto bad;
        const char *v = s + i;
        const char *vend = memchr(v, '\0', n - i);
        if (!vend) goto bad;
        i += (size_t)(vend - v) + 1;
        pairs[np].key = k;
        pairs[np].key_len = (size_t)(kend - k);
        pairs[np].value = v;
        pairs[np].value_len = (size_t)(vend - v);
        np++;
    }
    if (lq_parse(c, pairs, np, q, err) < 0) return -1;
    if (q->cursor || q->page_given) {
        lq_free(q);
        goto bad;
    }
    return 0;
bad:
    memset(q, 0, sizeof *q);
    lq_error_init(err);
    return fail(err, "cursor", "value_error", "Invalid cursor");
}

/* Every problem is filed, in the order of the parameters; a missing since
 * comes last (position npairs). */
int lq_parse_feed(const struct qpair *pairs, int npairs, struct feed_query *fq, struct lq_error *err)
{
    bool seen_since = false, seen_limit = false;
    lq_error_init(err);
    fq->since = NULL;
    fq->since_len = 0;
    fq->limit = LQ_FEED_DEFAULT_LIMIT;
    for (int i = 0; i < npairs; i++) {
        const struct qpair *p = &pairs[i];
        err->at = i;
        if (text_eq(p->key, p->key_len, "since")) {
            if (seen_since) {
                fail(err, "since", "multiple_values", "Parameter 'since' may be given only once");
                continue;
            }
            seen_since = true;
            if (p->value_len == 0) {
                fail(err, "since", "missing", "Value must not be empty");
                continue;
            }
            fq->since = p->value;
            fq->since_len = p->value_len;
        } else if (text_eq(p->key, p->key_len, "limit")) {
            int64_t v;
            if (seen_limit) {
                fail(err, "limit", "multiple_values", "Parameter 'limit' may be given only once");
                continue;
            }
            seen_limit = true;
            if (p->value_len == 0) {
                fail(err, "limit", "missing", "Value must not be empty");
                continue;
            }
            if (parse_int_param("limit", p->value, p->value_len, 1, LQ_FEED_MAX_LIMIT, &v, err) < 0) continue;
            fq->limit = (int)v;
        } else {
            char name[64];
            size_t kl = p->key_len < 40 ? p->key_len : 40;
            memcpy(name, p->key, kl);
            name[kl] = '\0';
            fail(err, name, "extra_forbidden", "Unknown query parameter '%s'. Allowed: since, limit", name);
        }
    }
    if (!seen_since) {
        err->at = npairs;
        fail(err, "since", "missing",
             "Field required: since (the sync_token of a list page, or the next_since of a change feed page)");
    }
    return err->n ? -1 : 0;
}
