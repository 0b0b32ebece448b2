/*
 * fuzz_grammar — libFuzzer target for everything between a request target
 * and the SQL text: url_parse -> lq_parse (every collection) -> plan_list
 * (two dialects shaped like SQLite's and PostgreSQL's).
 *
 * The input is a request target ("/" is prefixed if it does not start with
 * one).  Beyond the sanitizers, invariants are checked and a violation traps:
 *   - url: segments and pairs are NUL-terminated, hold no NUL, fit the limits;
 *   - lq_parse errors: 1..LQ_MAX_ERRORS issues (exactly the bound when some
 *     were dropped), at most one per query pair, sorted by the pair they
 *     came from (0..npairs), loc/type/msg bounded, type and msg non-empty
 *     (loc is empty for a parameter named ""), msg renders as valid JSON text, as_string only on
 *     sort issues;
 *   - list_query: page >= 1, page_size 1..100, nsort 1..4, sort keys from the
 *     table and distinct, the primary key present exactly once and last
 *     unless named, values contiguous per condition, UUIDs canonical, LIKE
 *     patterns lower-case and fully escaped, times round-trip;
 *   - plan: every placeholder 1..nparams (count query: 1..nwhere) and all of
 *     them used, no quote but the fixed ESCAPE '\' literal, every word of the
 *     SQL a keyword or a name from the collection tables (so no client byte
 *     reaches SQL text), the count query's WHERE is the page query's, the two
 *     dialects differ only in placeholders and lower(), LIMIT/OFFSET values;
 *   - text helpers on each value: time_format/time_parse and int round-trips,
 *     buf_json_str always valid UTF-8 without control bytes.
 *
 * Build (see the Makefile's build/fuzz_grammar): clang -fsanitize=fuzzer,...
 */
#include "grammar/plan.h"
#include "grammar/query.h"
#include "model/collection.h"
#include "model/types.h"
#include "util/buf.h"
#include "util/text.h"
#include "util/url.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) __builtin_trap();                                                                                    \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct dialect lite = {.name = "sqlite",
                                    .param_prefix = '?',
                                    .ci_like_fmt = "%s LIKE %c%d ESCAPE '\\'",
                                    .for_update = "",
                                    .pos_sql = "(SELECT value FROM firemode_counters WHERE name = 'write_seq')",
                                    .keys_in_open = " IN (",
                                    .keys_in_close = ")",
                                    .keys_first_offset = 1500,
                                    .keys_column = "rowid"};
static const struct dialect pg = {.name = "postgresql",
                                  .param_prefix = '$',
                                  .ci_like_fmt = "lower(%s) LIKE %c%d ESCAPE '\\'",
                                  .for_update = " FOR NO KEY UPDATE",
                                  .pos_sql = "pg_current_snapshot()::text",
                                  .snapshot_pos = true,
                                  .keys_in_open = " = ANY (ARRAY(",
                                  .keys_in_close = "))",
                                  .keys_first_offset = 200};

#define WS "0190c0de-0000-7000-8000-00000000aaaa"
#define ME "0190c0de-0000-7000-8000-00000000bbbb"

#define MIN_US (-62135596800000000LL) /* 0001-01-01T00:00:00Z */
#define MAX_US 253402300799999999LL   /* 9999-12-31T23:59:59.999999Z */

/* ---- words allowed in SQL -------------------------------------------- */

static const char *const keywords[] = {
    "SELECT", "FROM", "WHERE", "AND", "OR", "IN", "IS", "NOT", "NULL", "EXISTS", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "LAST", "LIMIT", "OFFSET", "LIKE", "ESCAPE", "count", "lower", "t", "x", "m", "s", "1",
    "workspace_members", "workspace_id", "user_id", "tag", "removed_at",
    /* the one statement of a page (plan.h): position, count, page, keyset */
    "WITH", "AS", "LEFT", "JOIN", "ON", "ALL", "bigint", "text", "pg_current_snapshot", "p", "fm_pos", "fm_n",
    "fm_s0", "fm_s1", "fm_s2", "fm_s3", "UNION", "u", "a", "b",
    /* a deep page's keys first */
    "ANY", "ARRAY", "rowid", "fm_one", NULL,
};

static bool word_known(const char *w, size_t n)
{
    for (size_t i = 0; keywords[i]; i++)
        if (text_eq(w, n, keywords[i])) return true;
    for (size_t i = 0; collections[i]; i++) {
        const struct collection *c = collections[i];
        if (text_eq(w, n, c->table)) return true;
        if (c->tag_table && (text_eq(w, n, c->tag_table) || text_eq(w, n, c->tag_fk))) return true;
        for (size_t k = 0; k < c->nfields; k++)
            if (text_eq(w, n, c->fields[k].column)) return true;
        for (size_t k = 0; k < c->nsorts; k++)
            if (text_eq(w, n, c->sorts[k].column)) return true;
    }
    return false;
}

static bool is_word(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* Checks one SQL text; returns the number of distinct placeholders. */
static int check_sql(const struct buf *b, char prefix, int max)
{
    static const char esc[] = "ESCAPE '\\'";
    CHECK(b->data != NULL);
    CHECK(strlen(b->data) == b->len);
    bool seen[STORE_MAX_PARAMS + 1] = {0};
    int distinct = 0;
    const char *s = b->data;
    size_t i = 0, n = b->len;
    while (i < n) {
        char ch = s[i];
        if (ch == prefix) {
            int v = 0, digits = 0;
            i++;
            while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) v = v * 10 + (s[i++] - '0'), digits++;
            CHECK(digits >= 1 && digits <= 3);
            CHECK(v >= 1 && v <= max);
            if (!seen[v]) seen[v] = true, distinct++;
            continue;
        }
        if (ch == 'E' && n - i >= sizeof esc - 1 && memcmp(s + i, esc, sizeof esc - 1) == 0) {
            i += sizeof esc - 1;
            continue;
        }
        if (is_word(ch)) {
            size_t st = i;
            while (i < n && is_word(s[i])) i++;
            CHECK(word_known(s + st, i - st));
            continue;
        }
        /* punctuation: nothing that could open a literal, comment or a second statement */
        CHECK(strchr(" ,.()=<>*:[]", ch) != NULL && ch != '\0');
        i++;
    }
    CHECK(distinct == max);
    return distinct;
}

/* The PostgreSQL text with '$' as '?' and lower(x) as x is the SQLite text. */
static void check_dialects_agree(const struct buf *l, const struct buf *p)
{
    struct buf t;
    buf_init(&t);
    for (size_t i = 0; i < p->len;) {
        if (p->len - i >= 6 && memcmp(p->data + i, "lower(", 6) == 0) {
            size_t j = i + 6;
            while (j < p->len && p->data[j] != ')') j++;
            CHECK(j < p->len);
            buf_append(&t, p->data + i + 6, j - i - 6);
            i = j + 1;
            continue;
        }
        buf_putc(&t, p->data[i] == '$' ? '?' : p->data[i]);
        i++;
    }
    CHECK(t.len == l->len && memcmp(t.data, l->data, t.len) == 0);
    buf_free(&t);
}

/* ---- values ----------------------------------------------------------- */

static volatile unsigned sink;

static void touch(const char *s, size_t n)
{
    unsigned h = 0;
    for (size_t i = 0; i < n; i++) h = h * 31 + (unsigned char)s[i];
    sink += h;
}

static void check_json(const char *s, size_t n)
{
    struct buf b;
    buf_init(&b);
    buf_json_str(&b, s, n);
    CHECK(b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"');
    CHECK(utf8_count(b.data, b.len) >= 0);
    for (size_t i = 0; i < b.len; i++) CHECK((unsigned char)b.data[i] >= 0x20);
    buf_free(&b);
}

static void check_time_roundtrip(int64_t us)
{
    if (us < MIN_US || us > MAX_US) return;
    struct buf b;
    buf_init(&b);
    time_format(&b, us);
    CHECK(b.len == 27);
    int64_t back;
    CHECK(time_parse(b.data, b.len, &back));
    CHECK(back == us);
    buf_free(&b);
}

static void check_helpers(const char *s, size_t n)
{
    int64_t v;
    if (time_parse(s, n, &v)) check_time_roundtrip(v);
    if (int_parse(s, n, &v)) {
        struct buf b;
        buf_init(&b);
        buf_put_i64(&b, v);
        int64_t back;
        CHECK(int_parse(b.data, b.len, &back) && back == v);
        buf_free(&b);
    }
    bool bl;
    if (bool_parse(s, n, &bl)) CHECK(n >= 1 && n <= 5);
    char canon[37];
    if (uuid_parse(s, n, canon)) {
        CHECK(strlen(canon) == 36);
        char again[37];
        CHECK(uuid_parse(canon, 36, again) && memcmp(canon, again, 37) == 0);
    }
    long cps = utf8_count(s, n);
    CHECK(cps <= (long)n);
    check_json(s, n);
}

static void check_like(const struct lq_value *v)
{
    CHECK(v->s && v->len >= 2 && v->s[0] == '%' && v->s[v->len - 1] == '%' && v->s[v->len] == '\0');
    for (size_t i = 1; i + 1 < v->len; i++) {
        char ch = v->s[i];
        CHECK(!(ch >= 'A' && ch <= 'Z'));
        if (ch == '\\') {
            CHECK(i + 2 < v->len);
            char e = v->s[++i];
            CHECK(e == '%' || e == '_' || e == '\\');
        } else {
            CHECK(ch != '%' && ch != '_');
        }
    }
}

/* extra: issues that belong to no pair (a missing required parameter) */
static void check_error(const struct lq_error *e, int npairs, int extra)
{
    CHECK(e->n >= 1 && e->n <= LQ_MAX_ERRORS);
    if (e->truncated) CHECK(e->n == LQ_MAX_ERRORS);
    CHECK(e->n <= npairs + extra);
    for (int k = 0; k < e->n; k++) {
        const struct lq_issue *is = &e->list[k];
        CHECK(memchr(is->loc, 0, sizeof is->loc) != NULL);
        CHECK(memchr(is->type, 0, sizeof is->type) != NULL);
        CHECK(memchr(is->msg, 0, sizeof is->msg) != NULL);
        CHECK(is->msg[0] != '\0' && is->type[0] != '\0');
        check_json(is->msg, strlen(is->msg));
        check_json(is->loc, strlen(is->loc));
        CHECK(is->at >= 0 && is->at <= npairs);
        if (k) CHECK(is->at > e->list[k - 1].at); /* one per pair, in their order */
        if (is->as_string) CHECK(strcmp(is->loc, "sort") == 0);
    }
}

static void check_query(const struct collection *c, const struct list_query *q)
{
    CHECK(q->coll == c);
    CHECK(q->page >= 1 && q->page <= LQ_MAX_PAGE);
    CHECK(q->page_size >= 1 && q->page_size <= LQ_MAX_PAGE_SIZE);
    CHECK(q->nsort >= 1 && q->nsort <= LQ_MAX_SORT + 1);
    int pk_at = -1;
    for (int k = 0; k < q->nsort; k++) {
        const struct sort_key *key = q->sort[k].key;
        CHECK(key >= c->sorts && key < c->sorts + c->nsorts);
        for (int j = 0; j < k; j++) CHECK(q->sort[j].key != key);
        if (strcmp(key->column, c->pk->column) == 0) {
            CHECK(pk_at < 0);
            pk_at = k;
        }
    }
    CHECK(pk_at >= 0);
    if (pk_at != q->nsort - 1) CHECK(q->nsort <= LQ_MAX_SORT); /* "id" was named: nothing was added */
    if (q->nsort == LQ_MAX_SORT + 1) { /* three named fields and the added tie-breaker */
        CHECK(pk_at == LQ_MAX_SORT);
        CHECK(q->sort[pk_at].desc == q->sort[0].desc);
    }

    CHECK(q->nconds >= 0 && q->nconds <= LQ_MAX_CONDS);
    CHECK(q->nvals >= 0 && q->nvals <= LQ_MAX_VALUES);
    int next = 0;
    for (int i = 0; i < q->nconds; i++) {
        const struct lq_cond *cd = &q->conds[i];
        const struct filter *f = cd->filter;
        CHECK(f >= c->filters && f < c->filters + c->nfilters);
        for (int j = 0; j < i; j++) CHECK(q->conds[j].filter != f);
        CHECK(cd->first == next);
        next += cd->count;
        if (f->op == OP_INCLUDE_DELETED) CHECK(cd->count == 0);
        else if (f->op == OP_IN || f->op == OP_TAG_IN) CHECK(cd->count >= 1);
        else CHECK(cd->count == 1);
        for (int k = cd->first; k < cd->first + cd->count; k++) {
            const struct lq_value *v = &q->vals[k];
            switch (f->op) {
            case OP_SEARCH:
            case OP_CONTAINS:
                check_like(v);
                break;
            case OP_IS_NULL:
                CHECK(v->i == 0 || v->i == 1);
                break;
            case OP_TAG_IN:
                CHECK(v->s && v->len >= 1);
                CHECK(utf8_count(v->s, v->len) >= 1 && utf8_count(v->s, v->len) <= LQ_MAX_TAG);
                touch(v->s, v->len);
                break;
            default:
                switch (f->field->type) {
                case FT_UUID: {
                    char canon[37];
                    CHECK(v->s && v->len == 36 && uuid_parse(v->s, 36, canon) && memcmp(canon, v->s, 36) == 0);
                    break;
                }
                case FT_TIME:
                    CHECK(v->i >= MIN_US - 86400LL * 1000000 && v->i <= MAX_US + 86400LL * 1000000);
                    check_time_roundtrip(v->i);
                    break;
                case FT_BOOL:
                    CHECK(v->i == 0 || v->i == 1);
                    break;
                case FT_ENUM: {
                    bool found = false;
                    for (size_t e = 0; f->field->enum_values[e]; e++)
                        found |= text_eq(v->s, v->len, f->field->enum_values[e]);
                    CHECK(found);
                    break;
                }
                case FT_SLUG:
                    CHECK(type_valid_slug(v->s, v->len));
                    break;
                default:
                    CHECK(v->s != NULL);
                    touch(v->s, v->len);
                }
            }
        }
    }
    CHECK(next == q->nvals);
}

/* A deep page's keys-first form, "SELECT <list> FROM (SELECT 1) fm_one LEFT JOIN <table> t ON t.<key>
 * <open>SELECT t.<key> FROM <table> t<W ORDER BY O LIMIT .. OFFSET ..><close>
 * ORDER BY O", checked and written into out as the plain page it stands for,
 * "SELECT <list> FROM <table> t<W ORDER BY O LIMIT .. OFFSET ..>"; any other
 * page is copied as it is. */
static void plain_page(const struct list_query *q, const struct dialect *d, const struct plan *p, struct buf *out)
{
    const struct collection *c = q->coll;
    int64_t offset = (q->page - 1) * (int64_t)q->page_size;
    if (offset == 0 || offset < d->keys_first_offset) {
        CHECK(strstr(p->sql.data, " fm_one ") == NULL); /* below the threshold: the plain page */
        buf_append(out, p->sql.data, p->sql.len);
        return;
    }
    struct buf head;
    buf_init(&head);
    const char *key = d->keys_column ? d->keys_column : c->pk->column;
    buf_printf(&head, "SELECT %s FROM (SELECT 1) fm_one LEFT JOIN %s t ON t.%s%sSELECT t.%s FROM %s t",
               c->select_list, c->table, key, d->keys_in_open, key, c->table);
    CHECK(p->sql.len > head.len && memcmp(p->sql.data, head.data, head.len) == 0);
    /* the inner part: W ORDER BY O LIMIT .. OFFSET .., then close, " ORDER BY " O */
    const char *inner = p->sql.data + head.len;
    const char *order = strstr(inner, " ORDER BY ");
    CHECK(order != NULL);
    const char *limit = strstr(order, " LIMIT ");
    CHECK(limit != NULL);
    size_t olen = (size_t)(limit - order); /* " ORDER BY O" */
    size_t close = strlen(d->keys_in_close);
    size_t tail = close + olen;
    CHECK(p->sql.len - head.len > tail);
    const char *end = p->sql.data + p->sql.len - tail;
    CHECK(memcmp(end, d->keys_in_close, close) == 0 && memcmp(end + close, order, olen) == 0);
    buf_printf(out, "SELECT %s FROM %s t", c->select_list, c->table);
    buf_append(out, inner, (size_t)(end - inner));
    buf_free(&head);
}

static void check_plan(const struct list_query *q, const struct dialect *d, const struct plan *p, struct buf *plain)
{
    const struct collection *c = q->coll;
    CHECK(p->nwhere >= 0 && p->ps.n == p->nwhere + 2);
    CHECK(p->limit == q->page_size + 1);
    const struct store_param *lim = &p->ps.p[p->ps.n - 2], *off = &p->ps.p[p->ps.n - 1];
    CHECK(lim->type == SP_INT && lim->i == p->limit);
    CHECK(off->type == SP_INT && off->i == (q->page - 1) * (int64_t)q->page_size);
    for (int i = 0; i < p->ps.n; i++) {
        const struct store_param *sp = &p->ps.p[i];
        CHECK(sp->type == SP_TEXT || sp->type == SP_INT || sp->type == SP_BOOL);
        if (sp->type == SP_TEXT) {
            CHECK(sp->s != NULL);
            touch(sp->s, sp->len);
        }
        if (sp->type == SP_BOOL) CHECK(sp->i == 0 || sp->i == 1);
    }
    check_sql(&p->sql, d->param_prefix, p->ps.n);
    plain_page(q, d, p, plain);
    check_sql(plain, d->param_prefix, p->ps.n);

    /* "SELECT <list> FROM <table> t" + W + " ORDER BY ..." */
    struct buf head;
    buf_init(&head);
    buf_printf(&head, "SELECT %s FROM %s t WHERE 1=1", c->select_list, c->table);
    CHECK(plain->len > head.len && memcmp(plain->data, head.data, head.len) == 0);
    const char *order = strstr(plain->data, " ORDER BY ");
    CHECK(order != NULL);
    size_t wlen = (size_t)(order - plain->data) - (head.len - 10); /* W starts at " WHERE" */
    const char *w = plain->data + head.len - 10;
    buf_free(&head);

    if (q->include_total) {
        check_sql(&p->count_sql, d->param_prefix, p->nwhere);
        struct buf want;
        buf_init(&want);
        /* the count is the page's W with "WHERE 1=1 AND" made "WHERE" (no
         * WHERE when nothing is left), and a non-admin's membership check
         * one probe (the workspace's parameter, ?1) or, for workspaces, a
         * read of the caller's memberships (plan.c, scope_clause) */
        buf_printf(&want, "SELECT count(*) FROM %s t", c->table);
        struct buf cw;
        buf_init(&cw);
        buf_append(&cw, w, wlen);
        char from[200], to[200];
        snprintf(from, sizeof from,
                 "EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = t.workspace_id"
                 " AND m.removed_at IS NULL AND m.user_id = %c%d)",
                 d->param_prefix, c->scope == SCOPE_WORKSPACE ? 2 : 1);
        if (c->scope == SCOPE_WORKSPACE)
            snprintf(to, sizeof to,
                     "EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = %c1"
                     " AND m.removed_at IS NULL AND m.user_id = %c2)",
                     d->param_prefix, d->param_prefix);
        else
            snprintf(to, sizeof to,
                     "t.workspace_id IN (SELECT m.workspace_id FROM workspace_members m WHERE m.user_id = %c1"
                     " AND m.removed_at IS NULL)",
                     d->param_prefix);
        char *at = cw.len ? strstr(cw.data, from) : NULL;
        if (at) {
            struct buf r;
            buf_init(&r);
            buf_append(&r, cw.data, (size_t)(at - cw.data));
            buf_puts(&r, to);
            buf_puts(&r, at + strlen(from));
            buf_reset(&cw);
            buf_append(&cw, r.data, r.len);
            buf_free(&r);
        }
        CHECK(cw.len >= 10 && memcmp(cw.data, " WHERE 1=1", 10) == 0);
        if (cw.len > 10) {
            CHECK(memcmp(cw.data + 10, " AND ", 5) == 0);
            buf_puts(&want, " WHERE");
            buf_append(&want, cw.data + 14, cw.len - 14);
        }
        buf_free(&cw);
        CHECK(want.len == p->count_sql.len && memcmp(want.data, p->count_sql.data, want.len) == 0);
        buf_free(&want);
    } else {
        CHECK(p->count_sql.len == 0);
    }
}

/* ---- the target ------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    collections_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    collections_init(); /* idempotent; for runners without LLVMFuzzerInitialize */
    bool slash = size > 0 && data[0] == '/';
    size_t n = size + (slash ? 0 : 1);
    char *target = malloc(n ? n : 1); /* exactly n bytes: ASan sees any over-read */
    if (!target) return 0;
    if (!slash) target[0] = '/';
    if (size) memcpy(target + (slash ? 0 : 1), data, size);
    bool is_admin = size > 0 && (data[size - 1] & 1);

    struct url u;
    enum url_status st = url_parse(target, n, &u);
    CHECK(st == URL_OK || st == URL_BAD_ENCODING || st == URL_BAD_PATH || st == URL_TOO_MANY ||
          st == URL_TOO_MANY_PAIRS);
    if (st == URL_OK) {
        CHECK(u.nseg >= 0 && u.nseg <= URL_MAX_SEGMENTS && u.npairs >= 0 && u.npairs <= URL_MAX_PAIRS);
        for (int i = 0; i < u.nseg; i++) {
            CHECK(u.seg_len[i] >= 1 && u.seg[i][u.seg_len[i]] == '\0' && strlen(u.seg[i]) == u.seg_len[i]);
            CHECK(memchr(u.seg[i], '/', u.seg_len[i]) == NULL);
        }
        for (int i = 0; i < u.npairs; i++) {
            const struct qpair *pr = &u.pairs[i];
            CHECK(strlen(pr->key) == pr->key_len && strlen(pr->value) == pr->value_len);
            check_helpers(pr->value, pr->value_len);
        }

        bool sort_given = false;
        for (int i = 0; i < u.npairs; i++) {
            const char *v = u.pairs[i].value;
            size_t vl = u.pairs[i].value_len;
            text_trim(&v, &vl);
            /* "sort=" with only commas and blanks is the default too */
            bool blank = true;
            for (size_t k = 0; k < vl; k++) blank &= v[k] == ',' || v[k] == ' ' || v[k] == '\t' || v[k] == '\r' ||
                                                  v[k] == '\n' || v[k] == '\f' || v[k] == '\v';
            if (text_eq(u.pairs[i].key, u.pairs[i].key_len, "sort") && !blank) sort_given = true;
        }
        {
            struct feed_query fq;
            struct lq_error fe;
            if (lq_parse_feed(u.pairs, u.npairs, &fq, &fe) != 0) {
                check_error(&fe, u.npairs, 1);
            } else {
                CHECK(fe.n == 0 && fq.since && fq.since_len > 0);
                CHECK(fq.limit >= 1 && fq.limit <= LQ_FEED_MAX_LIMIT);
            }
        }
        struct plan_scope sc = {WS, ME, is_admin, NULL};
        for (size_t ci = 0; collections[ci]; ci++) {
            const struct collection *c = collections[ci];
            struct list_query q;
            struct lq_error e;
            if (lq_parse(c, u.pairs, u.npairs, &q, &e) != 0) {
                check_error(&e, u.npairs, 0);
                CHECK(q.arena == NULL);
                lq_free(&q);
                continue;
            }
            check_query(c, &q);
            if (!sort_given) { /* the collection's default sort and its tie-breaker */
                const char *ds = c->default_sort;
                bool desc = ds[0] == '-';
                CHECK(q.nsort == 2 && strcmp(q.sort[0].key->name, ds + desc) == 0 && q.sort[0].desc == desc);
                CHECK(strcmp(q.sort[1].key->column, c->pk->column) == 0 && q.sort[1].desc == desc);
            }
            /* the walk's canonical form reads back as the same query */
            {
                struct buf ca, cb;
                struct list_query back;
                struct lq_error be;
                buf_init(&ca), buf_init(&cb);
                lq_canonical(&q, &ca);
                CHECK(lq_parse_canonical(c, ca.data, ca.len, &back, &be) == 0);
                lq_canonical(&back, &cb);
                CHECK(ca.len == cb.len && memcmp(ca.data, cb.data, ca.len) == 0);
                CHECK(back.nsort == q.nsort);
                for (int k = 0; k < q.nsort; k++)
                    CHECK(back.sort[k].key == q.sort[k].key && back.sort[k].desc == q.sort[k].desc);
                lq_free(&back);
                buf_free(&ca), buf_free(&cb);
            }
            /* a cursor page after keys of every kind: every placeholder used */
            {
                struct token_key keys[TOKEN_MAX_KEYS];
                struct wpos s = {.xmin = 10, .xmax = 20, .nxip = (int)(size % 3), .xip = {10, 15}};
                for (int k = 0; k < q.nsort; k++) {
                    enum ftype ft = q.sort[k].key->field->type;
                    bool null = q.sort[k].key->nullable && (size >> k) % 2;
                    keys[k].null = null;
                    keys[k].s = ft == FT_TIME || ft == FT_INT ? "1740787200000000" : "x";
                    keys[k].len = strlen(keys[k].s);
                }
                struct plan_after a = {&s, keys, q.nsort};
                struct plan pa;
                CHECK(plan_list(&q, &pg, &sc, &a, &pa) == 0);
                check_sql(&pa.stmt, '$', pa.ps.n);
                CHECK(strstr(pa.stmt.data, "OFFSET") == NULL);
                plan_free(&pa);
            }
            struct plan pl, pp;
            CHECK(plan_list(&q, &lite, &sc, NULL, &pl) == 0);
            CHECK(plan_list(&q, &pg, &sc, NULL, &pp) == 0);
            struct buf plain_l, plain_p;
            buf_init(&plain_l), buf_init(&plain_p);
            check_plan(&q, &lite, &pl, &plain_l);
            check_plan(&q, &pg, &pp, &plain_p);
            check_dialects_agree(&plain_l, &plain_p);
            buf_free(&plain_l), buf_free(&plain_p);
            if (q.include_total) check_dialects_agree(&pl.count_sql, &pp.count_sql);
            CHECK(pl.ps.n == pp.ps.n && pl.nwhere == pp.nwhere);
            plan_free(&pl);
            plan_free(&pp);
            lq_free(&q);
        }
    }
    url_free(&u);
    free(target);
    return 0;
}
