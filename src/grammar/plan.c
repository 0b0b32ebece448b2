/*
 * plan — see plan.h.
 *
 * Page query:
 *   SELECT <columns> FROM <table> t
 *   WHERE 1=1 <scope> [AND t.deleted_at IS NULL] [AND <filter>]...
 *         [AND <keyset: after the last row>] [AND <old for the walk's S>]
 *   ORDER BY <sort> [NULLS LAST], ..., <pk>
 *   LIMIT <n> [OFFSET <m>]
 * or, from an OFFSET of d->keys_first_offset rows on, the keys first:
 *   SELECT <columns> FROM (SELECT 1) fm_one LEFT JOIN <table> t ON t.rowid IN
 *   (SELECT t.rowid FROM <table> t WHERE ... ORDER BY ... LIMIT <n> OFFSET <m>)
 *   ORDER BY <sort>
 * (PostgreSQL: t.<pk> = ANY (ARRAY(SELECT t.<pk> ...))): the offset is walked in the sort index
 * alone, index-only, and only the page's rows are read (deep pages 2.3x on
 * SQLite and 7.7x on PostgreSQL at page 400 of 200k users).
 * Count query: SELECT count(*) FROM <table> t [WHERE <scope> AND ...] —
 * the filters' WHERE with the ordering, keyset and position dropped (the
 * count "now").  Both run inside the one statement described in plan.h.
 * The count is a plain count(*) over the table: no subquery and no 1=1,
 * so that with nothing to filter (all users, an admin's workspaces) SQLite
 * counts the cells of its narrowest index's pages (OP_Count) instead of
 * stepping through its rows, 30x less work on 200k users; and its
 * membership check is one probe, not one per row (scope_clause).  With a
 * scope it walks the entries of a covering index in the scope's range
 * (tests/pg/test_plans.py pins every collection's and scope's count).
 * With no filter at all, a dialect that keeps counts as rows are written
 * (PostgreSQL, whose count(*) is a scan of the table whatever the index:
 * schema step 9) sums the scope's kept counts instead:
 *   SELECT coalesce(sum(k.n), 0)::bigint FROM <row_counts> k
 *   WHERE k.tbl = '<table>' AND k.scope = <the workspace, or ''> [AND <membership>]
 * in the same statement, so of the same snapshot as the page.
 * tag_in is a semi-join, t.<pk> IN (SELECT x.<fk> FROM <tag table> x WHERE
 * x.tag IN (...)), so a document with two matching tags is still one row,
 * and the set of matching ids comes from the tag index (tag, <fk>).  The
 * count drives from that set (a lookup per matching row: no cost for tags
 * that match little); the page probes it while walking its ORDER BY
 * (d->no_index before the term, "+" on SQLite, keeps SQLite from driving
 * the page from the set, which costs a lookup and a sort per matching row
 * when many match).  A per-row EXISTS costs a probe per row and tag: 72.9 s
 * for 100 tags on 1M documents.
 *
 * The keyset predicate, for sort keys k1..kn (the primary key last, or
 * named earlier) with the last row's values v1..vn, is "strictly after in
 * the ORDER BY", NULLS LAST in both directions:
 *   - a trailing run of non-nullable keys of one direction is one row
 *     comparison, (k_i, .., k_n) > (v_i, .., v_n) (< descending): an index
 *     range on the default sorts;
 *   - a non-nullable key:          (k > v OR (k = v AND rest))
 *   - a nullable key, v not NULL:  (k > v OR k IS NULL OR (k = v AND rest))
 *   - a nullable key, v NULL:      (k IS NULL AND rest)
 * and a leading non-nullable key also gets the redundant k >= v in front,
 * so the planner sees a range on it.
 */
#include "plan.h"

#include "../model/types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void plan_placeholder(struct buf *b, const struct dialect *d, int n)
{
    buf_putc(b, d->param_prefix);
    buf_put_i64(b, n);
}

void plan_params_init(struct plan_params *ps)
{
    ps->n = 0;
    buf_init(&ps->text);
}

void plan_params_free(struct plan_params *ps)
{
    buf_free(&ps->text);
    ps->n = 0;
}

int plan_param(struct plan_params *ps, struct store_param v)
{
    if (ps->n == STORE_MAX_PARAMS) return -1;
    ps->p[ps->n++] = v;
    return ps->n;
}

/* " AND <expr> " with expr containing one placeholder for v. */
static int bind(struct buf *b, const struct dialect *d, struct plan_params *ps, struct store_param v)
{
    int n = plan_param(ps, v);
    if (n < 0) return -1;
    plan_placeholder(b, d, n);
    return 0;
}

/* ws_param > 0: the workspace is that bound parameter (a count: the check
 * is then one probe for the whole statement, not one per row). */
static int membership(struct buf *b, const struct dialect *d, const char *ws_column, int ws_param, const char *user,
                      struct plan_params *ps)
{
    buf_puts(b, " AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = ");
    if (ws_param > 0)
        plan_placeholder(b, d, ws_param);
    else
        buf_printf(b, "t.%s", ws_column);
    buf_puts(b, " AND m.removed_at IS NULL AND m.user_id = ");
    if (bind(b, d, ps, sp_text(user, strlen(user))) < 0) return -1;
    buf_putc(b, ')');
    return 0;
}

/* What a scope clause restricts: the page's rows t, the rows t a count
 * reads, or the kept counts' rows k (their scope column). */
enum scoped { SCOPED_PAGE, SCOPED_COUNT, SCOPED_KEPT };

/* A count (include_total) reads every row in scope, so the membership
 * check must not cost a probe per row: for a workspace's rows it names the
 * workspace's parameter (one probe), for a member's workspaces the rows
 * come from the member's memberships.  The kept counts' scope is the
 * workspace or '' (counted() picks the scopes they have); the parameters
 * are bound in the same order for all three, so a count's numbers are the
 * page's. */
static int scope_clause(struct buf *w, const struct dialect *d, const struct collection *c, const struct plan_scope *sc,
                        struct plan_params *ps, enum scoped what)
{
    bool count = what != SCOPED_PAGE;
    if (what == SCOPED_KEPT && c->scope != SCOPE_WORKSPACE) {
        buf_puts(w, " AND k.scope = ''");
        return 0;
    }
    switch (c->scope) {
    case SCOPE_WORKSPACE: {
        if (what == SCOPED_KEPT)
            buf_puts(w, " AND k.scope = ");
        else
            buf_printf(w, " AND t.%s = ", c->workspace_field->column);
        if (bind(w, d, ps, sp_text(sc->workspace_id, strlen(sc->workspace_id))) < 0) return -1;
        int ws_param = ps->n;
        /* a non-admin sees rows of workspaces they are a member of: checked
         * here, in the same query, rather than in a round trip of its own */
        if (!sc->is_admin &&
            membership(w, d, c->workspace_field->column, count ? ws_param : 0, sc->user_id, ps) < 0)
            return -1;
        break;
    }
    case SCOPE_MEMBER:
        if (sc->is_admin) break;
        if (count) {
            buf_printf(w,
                       " AND t.%s IN (SELECT m.workspace_id FROM workspace_members m WHERE m.user_id = ",
                       c->pk->column);
            if (bind(w, d, ps, sp_text(sc->user_id, strlen(sc->user_id))) < 0) return -1;
            buf_puts(w, " AND m.removed_at IS NULL)");
        } else if (membership(w, d, c->pk->column, 0, sc->user_id, ps) < 0) {
            return -1;
        }
        break;
    case SCOPE_OWNER:
        buf_printf(w, " AND t.%s = ", c->owner_column);
        if (bind(w, d, ps, sp_text(sc->user_id, strlen(sc->user_id))) < 0) return -1;
        break;
    case SCOPE_GLOBAL:
        break;
    }
    return 0;
}

/* The count of include_total is the kept one (dialect.row_counts) when the
 * list has no filter and its scope is one the counts have: all rows (all
 * users, an admin's workspaces) or a workspace's.  A member's own
 * workspaces are counted through their memberships. */
static bool counted(const struct list_query *q, const struct dialect *d, const struct plan_scope *sc)
{
    enum scope s = q->coll->scope;
    if (!d->row_counts || q->include_deleted ||
        !(s == SCOPE_GLOBAL || s == SCOPE_WORKSPACE || (s == SCOPE_MEMBER && sc->is_admin)))
        return false;
    for (int i = 0; i < q->nconds; i++) /* include_deleted=false is a condition that filters nothing */
        if (q->conds[i].filter->op != OP_INCLUDE_DELETED) return false;
    return true;
}

int plan_scope_clause(struct buf *w, const struct dialect *d, const struct collection *c, const struct plan_scope *sc,
                      struct plan_params *ps)
{
    return scope_clause(w, d, c, sc, ps, SCOPED_PAGE);
}

/* Binds s's in-progress ids as one array parameter, PostgreSQL's text
 * form "{1,2,3}" (one statement shape whatever their number), and appends
 * its placeholder cast to bigint[].  The text lives in ps->text; fix_text
 * points the parameter at it once ps->text stops growing. */
static int bind_xip(struct buf *b, const struct dialect *d, const struct wpos *s, struct plan_params *ps)
{
    size_t off = ps->text.len;
    buf_putc(&ps->text, '{');
    for (int i = 0; i < s->nxip; i++) {
        if (i) buf_putc(&ps->text, ',');
        buf_put_i64(&ps->text, s->xip[i]);
    }
    buf_putc(&ps->text, '}');
    if (bind(b, d, ps, sp_text(NULL, ps->text.len - off)) < 0) return -1;
    ps->p[ps->n - 1].i = (int64_t)off; /* the offset into ps->text, until fix_text */
    buf_puts(b, "::bigint[]");
    return 0;
}

int plan_old_for(struct buf *b, const struct dialect *d, const struct wpos *s, struct plan_params *ps)
{
    if (s->nxip == 0) {
        /* nothing was in progress: old <=> seq < xmin (= xmax) */
        buf_puts(b, " AND t.seq < ");
        return bind(b, d, ps, sp_int(s->xmax));
    }
    /* seq < xmin OR (seq < xmax AND seq <> ALL(xip)) */
    buf_puts(b, " AND (t.seq < ");
    if (bind(b, d, ps, sp_int(s->xmin)) < 0) return -1;
    buf_puts(b, " OR (t.seq < ");
    if (bind(b, d, ps, sp_int(s->xmax)) < 0) return -1;
    buf_puts(b, " AND t.seq <> ALL (");
    if (bind_xip(b, d, s, ps) < 0) return -1;
    buf_puts(b, ")))");
    return 0;
}

/* Text parameters made by the planner point into ps->text, which may have
 * moved while it grew: resolve them (their .i holds the offset) at the end. */
static void fix_text(struct plan_params *ps)
{
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].type == SP_TEXT && ps->p[i].s == NULL && ps->p[i].len) {
            ps->p[i].s = ps->text.data + ps->p[i].i;
            ps->p[i].i = 0;
        }
}

static struct store_param param_of(const struct filter *f, const struct lq_value *v)
{
    if (f->op == OP_IS_NULL) return sp_bool(v->i != 0);
    if (f->op == OP_TAG_IN || f->op == OP_SEARCH || f->op == OP_CONTAINS) return sp_text(v->s, v->len);
    return type_of(f->field)->bind(f->field, v->s, v->len, v->i);
}

static int where(const struct list_query *q, const struct dialect *d, const struct plan_scope *sc,
                 struct plan_params *ps, struct buf *w, bool count)
{
    const struct collection *c = q->coll;
    /* a count's conditions are " AND <term>"s turned into " WHERE ..." at
     * the end (no 1=1: see plan_list) */
    if (!count) buf_puts(w, " WHERE 1=1");
    if (scope_clause(w, d, c, sc, ps, count ? SCOPED_COUNT : SCOPED_PAGE) < 0) return -1;
    if (c->soft_delete && !q->include_deleted) buf_cat(w, " AND t.", c->deleted_at->column, " IS NULL", NULL);

    for (int ci = 0; ci < q->nconds; ci++) {
        const struct lq_cond *cond = &q->conds[ci];
        const struct filter *f = cond->filter;
        const struct lq_value *v = &q->vals[cond->first];
        switch (f->op) {
        case OP_EQ:
        case OP_FROM:
        case OP_TO:
        case OP_THROUGH:
            buf_printf(w, " AND t.%s %s ", f->column,
                       f->op == OP_EQ ? "=" : f->op == OP_FROM ? ">=" : f->op == OP_TO ? "<" : "<=");
            if (bind(w, d, ps, param_of(f, v)) < 0) return -1;
            break;
        case OP_IN:
        case OP_TAG_IN:
            if (f->op == OP_IN)
                buf_printf(w, " AND t.%s IN (", f->column);
            else
                buf_printf(w, " AND %st.%s IN (SELECT x.%s FROM %s x WHERE x.tag IN (",
                           count || !d->no_index ? "" : d->no_index, c->pk->column, c->tag_fk, c->tag_table);
            for (int k = 0; k < cond->count; k++) {
                if (k) buf_puts(w, ", ");
                if (bind(w, d, ps, param_of(f, &v[k])) < 0) return -1;
            }
            buf_puts(w, f->op == OP_IN ? ")" : "))");
            break;
        case OP_IS_NULL:
            buf_printf(w, " AND t.%s IS %sNULL", f->column, v->i ? "" : "NOT ");
            break;
        case OP_SEARCH:
        case OP_CONTAINS: {
            int n = plan_param(ps, param_of(f, v));
            if (n < 0) return -1;
            buf_puts(w, " AND (");
            const char *one[2] = {f->column, NULL};
            const char *const *cols = f->op == OP_SEARCH ? f->columns : one;
            for (int k = 0; cols[k]; k++) {
                char col[80];
                snprintf(col, sizeof col, "t.%s", cols[k]);
                if (k) buf_puts(w, " OR ");
                buf_printf(w, d->ci_like_fmt, col, d->param_prefix, n);
            }
            buf_putc(w, ')');
            break;
        }
        case OP_INCLUDE_DELETED:
            break;
        }
    }
    if (count && w->len) {
        /* every term above begins " AND " */
        struct buf t;
        buf_init(&t);
        buf_puts(&t, " WHERE");
        buf_append(&t, w->data + 4, w->len - 4);
        buf_reset(w);
        buf_append(w, t.data, t.len);
        buf_free(&t);
    }
    return 0;
}

/* A sort key's value from a cursor (the text the database rendered),
 * bound by its field's type. */
static int key_param(const struct sort_key *k, const struct token_key *v, struct store_param *out)
{
    enum ftype t = k->field->type;
    int64_t i = 0;
    if (t == FT_TIME || t == FT_INT) {
        char tmp[24];
        char *end;
        if (v->len == 0 || v->len >= sizeof tmp) return -1;
        memcpy(tmp, v->s, v->len);
        tmp[v->len] = '\0';
        i = strtoll(tmp, &end, 10);
        if (*end) return -1;
    } else if (t == FT_BOOL && v->len != 1) {
        return -1;
    }
    *out = type_of(k->field)->bind(k->field, v->s, v->len, i);
    return 0;
}

/* Rows strictly after the keys i.. (see the top of this file). */
static int keyset(struct buf *b, const struct dialect *d, const struct list_query *q, const struct plan_after *a,
                  int i, int n, struct plan_params *ps)
{
    struct store_param v;
    /* a trailing run of non-nullable keys of one direction: one row comparison */
    int j = i;
    while (j < n && !q->sort[j].key->nullable && q->sort[j].desc == q->sort[i].desc) j++;
    if (j == n && n - i >= 2) {
        buf_putc(b, '(');
        for (int k = i; k < n; k++) buf_printf(b, "%st.%s", k > i ? ", " : "", q->sort[k].key->column);
        buf_printf(b, ") %s (", q->sort[i].desc ? "<" : ">");
        for (int k = i; k < n; k++) {
            if (k > i) buf_puts(b, ", ");
            if (a->keys[k].null || key_param(q->sort[k].key, &a->keys[k], &v) < 0 || bind(b, d, ps, v) < 0)
                return -1;
        }
        buf_putc(b, ')');
        return 0;
    }
    const struct sort_key *k = q->sort[i].key;
    const char *after = q->sort[i].desc ? "<" : ">";
    if (a->keys[i].null) {
        if (!k->nullable || i == n - 1) return -1;
        buf_printf(b, "(t.%s IS NULL AND ", k->column);
        if (keyset(b, d, q, a, i + 1, n, ps) < 0) return -1;
        buf_putc(b, ')');
        return 0;
    }
    if (key_param(k, &a->keys[i], &v) < 0) return -1;
    if (i == n - 1) {
        buf_printf(b, "t.%s %s ", k->column, after);
        return bind(b, d, ps, v);
    }
    buf_printf(b, "(t.%s %s ", k->column, after);
    if (bind(b, d, ps, v) < 0) return -1;
    if (k->nullable) buf_printf(b, " OR t.%s IS NULL", k->column);
    buf_printf(b, " OR (t.%s = ", k->column);
    if (bind(b, d, ps, v) < 0) return -1;
    buf_puts(b, " AND ");
    if (keyset(b, d, q, a, i + 1, n, ps) < 0) return -1;
    buf_puts(b, "))");
    return 0;
}

/* alias: the order of a query over a page's rows (p.*, u.*), whose sort
 * keys are their rendered columns or, for a key that is not rendered,
 * fm_s<k> (key_columns). */
static void order_by(struct buf *b, const struct list_query *q, const char *prefix, bool alias)
{
    for (int k = 0; k < q->nsort; k++) {
        const struct sort_key *s = q->sort[k].key;
        buf_cat(b, k ? ", " : "", prefix, NULL);
        if (alias && s->rendered_col < 0) {
            buf_puts(b, "fm_s");
            buf_put_i64(b, k);
        } else {
            buf_puts(b, s->column);
        }
        buf_cat(b, q->sort[k].desc ? " DESC" : " ASC", s->nullable ? " NULLS LAST" : "", NULL);
    }
}

/* The sort keys a page selects after its rendered columns: only those
 * that are not rendered (a rendered key is read from its own column: a
 * column selected twice is read and sent twice, 7-15 % of a first page's
 * statement alone on both backends). */
static void key_columns(struct buf *b, const struct list_query *q)
{
    for (int k = 0; k < q->nsort; k++)
        if (q->sort[k].key->rendered_col < 0) {
            buf_cat(b, ", t.", q->sort[k].key->column, " AS fm_s", NULL);
            buf_put_i64(b, k);
        }
}

void plan_free(struct plan *p)
{
    buf_free(&p->sql);
    buf_free(&p->count_sql);
    buf_free(&p->stmt);
    buf_free(&p->head);
    buf_free(&p->page);
    plan_params_free(&p->ps);
}

static void plan_init(struct plan *p)
{
    buf_init(&p->sql);
    buf_init(&p->count_sql);
    buf_init(&p->stmt);
    buf_init(&p->head);
    buf_init(&p->page);
    plan_params_init(&p->ps);
    p->q = NULL;
    p->nwhere = 0;
    p->limit = 0;
    p->col_count = -1;
    p->col_auth = -1;
    p->col_item = 1;
    p->col_keys = 0;
    for (int k = 0; k < TOKEN_MAX_KEYS; k++) p->key_col[k] = 0;
}

int plan_guard_column(struct buf *b, const struct dialect *d, const struct plan_scope *sc, struct plan_params *ps)
{
    /* the caller's identity, confirmed in the statement's own snapshot */
    buf_puts(b, "EXISTS (SELECT 1 FROM api_tokens fa JOIN users fu ON fu.user_id = fa.user_id WHERE fa.token_hash = ");
    if (bind(b, d, ps, sp_text(sc->guard_hash, strlen(sc->guard_hash))) < 0) return -1;
    buf_puts(b, " AND fu.user_id = ");
    if (bind(b, d, ps, sp_text(sc->user_id, strlen(sc->user_id))) < 0) return -1;
    buf_puts(b, " AND fu.is_active = ");
    if (bind(b, d, ps, sp_bool(true)) < 0) return -1;
    buf_puts(b, " AND fu.is_admin = ");
    if (bind(b, d, ps, sp_bool(sc->is_admin)) < 0) return -1;
    buf_puts(b, ") AS fm_auth");
    return 0;
}

int plan_list(const struct list_query *q, const struct dialect *d, const struct plan_scope *sc,
              const struct plan_after *after, struct plan *p)
{
    const struct collection *c = q->coll;
    struct buf w, tail;
    bool split = false;
    int limit_param = 0;
    struct buf branch_a, branch_b;
    buf_init(&branch_a);
    buf_init(&branch_b);
    buf_init(&w);
    buf_init(&tail);
    plan_init(p);
    int rc = -1;
    if (where(q, d, sc, &p->ps, &w, false) < 0) goto out;
    p->nwhere = p->ps.n;

    /* what follows "FROM <table> t" in the page query */
    buf_append(&tail, w.data, w.len);
    if (after) {
        if (after->nkeys != q->nsort) goto out;
        /* keys after the primary key never decide (the rows before them
         * are already one row): the keyset stops at it */
        int n = 0;
        while (n < q->nsort && q->sort[n].key->field != c->pk) n++;
        if (n == q->nsort) goto out;
        n++;
        bool one_run = true;
        for (int k = 0; k < n; k++)
            one_run = one_run && !q->sort[k].key->nullable && q->sort[k].desc == q->sort[0].desc;
        if (n == 2 && q->sort[0].key->nullable && !after->keys[0].null && q->sort[1].desc == q->sort[0].desc) {
            /* A nullable key after a value: the rows after it are two index
             * ranges, the larger values (a row comparison, which NULLs never
             * pass) and then the NULLs; a page is at most limit of each,
             * merged.  (One OR over both would be no range at all.) */
            split = true;
            struct store_param v0, v1;
            if (key_param(q->sort[0].key, &after->keys[0], &v0) < 0 ||
                key_param(q->sort[1].key, &after->keys[1], &v1) < 0)
                goto out;
            const char *k0 = q->sort[0].key->column, *k1 = q->sort[1].key->column, *dir = q->sort[0].desc ? "DESC" : "ASC";
            struct buf old;
            buf_init(&old);
            if (plan_old_for(&old, d, after->s, &p->ps) < 0) {
                buf_free(&old);
                goto out;
            }
            p->limit = q->page_size + 1;
            int lim = plan_param(&p->ps, sp_int(p->limit));
            buf_printf(&branch_a, " AND (t.%s, t.%s) %s (", k0, k1, q->sort[0].desc ? "<" : ">");
            if (bind(&branch_a, d, &p->ps, v0) < 0 || (buf_puts(&branch_a, ", "), bind(&branch_a, d, &p->ps, v1)) < 0 ||
                lim < 0) {
                buf_free(&old);
                goto out;
            }
            buf_putc(&branch_a, ')');
            buf_append(&branch_a, old.data, old.len);
            buf_printf(&branch_a, " ORDER BY t.%s %s, t.%s %s LIMIT ", k0, dir, k1, dir);
            plan_placeholder(&branch_a, d, lim);
            buf_printf(&branch_b, " AND t.%s IS NULL", k0);
            buf_append(&branch_b, old.data, old.len);
            buf_printf(&branch_b, " ORDER BY t.%s %s LIMIT ", k1, dir);
            plan_placeholder(&branch_b, d, lim);
            buf_free(&old);
            limit_param = lim;
        }
        if (!split) buf_puts(&tail, " AND ");
        if (!q->sort[0].key->nullable && n > 1 && !one_run) {
            /* a redundant range on the leading key for the planner (the
             * keyset below is an OR the planner cannot range-scan) */
            struct store_param v;
            if (after->keys[0].null || key_param(q->sort[0].key, &after->keys[0], &v) < 0) goto out;
            buf_printf(&tail, "t.%s %s ", q->sort[0].key->column, q->sort[0].desc ? "<=" : ">=");
            if (bind(&tail, d, &p->ps, v) < 0) goto out;
            buf_puts(&tail, " AND ");
        }
        if (!split && keyset(&tail, d, q, after, 0, n, &p->ps) < 0) goto out;
        if (!split && plan_old_for(&tail, d, after->s, &p->ps) < 0) goto out;
    }
    if (split) {
        /* tail: the merge of the two ranges (their rows carry the keys that are
         * not rendered as fm_s<k>) */
        struct buf head;
        buf_init(&head);
        buf_cat(&head, "SELECT ", c->select_list, NULL);
        key_columns(&head, q);
        buf_cat(&head, " FROM ", c->table, " t", NULL);
        buf_reset(&tail);
        buf_puts(&tail, "SELECT * FROM (");
        buf_append(&tail, head.data, head.len);
        buf_append(&tail, w.data, w.len);
        buf_append(&tail, branch_a.data, branch_a.len);
        buf_puts(&tail, ") a UNION ALL SELECT * FROM (");
        buf_append(&tail, head.data, head.len);
        buf_append(&tail, w.data, w.len);
        buf_append(&tail, branch_b.data, branch_b.len);
        buf_puts(&tail, ") b");
        buf_free(&head);
    } else {
        buf_puts(&tail, " ORDER BY ");
        order_by(&tail, q, "t.", false);
        p->limit = q->page_size + 1;
        buf_puts(&tail, " LIMIT ");
        if (bind(&tail, d, &p->ps, sp_int(p->limit)) < 0) goto out;
    }
    int64_t offset = after ? 0 : (q->page - 1) * (int64_t)q->page_size;
    if (!after) {
        buf_puts(&tail, " OFFSET ");
        if (bind(&tail, d, &p->ps, sp_int(offset)) < 0) goto out;
    }
    bool keys_first = d->keys_in_open && offset > 0 && offset >= d->keys_first_offset;
    if (keys_first) {
        /* Rows after a long OFFSET: the offset is walked over the keys alone
         * (the sort index, index-only), then only the page's rows are read,
         * by key, and put in order again (a page of rows).  All in the one
         * statement, so in one snapshot: the keys found are rows it sees.
         * The rows are LEFT JOINed to one row, so that a page past the end
         * is one row of NULLs that still carries the head (position, count,
         * identity): no second walk of the offset in the empty-page form. */
        struct buf keys;
        buf_init(&keys);
        const char *key = d->keys_column ? d->keys_column : c->pk->column;
        buf_printf(&keys, " FROM (SELECT 1) fm_one LEFT JOIN %s t ON t.%s%sSELECT t.%s FROM %s t", c->table, key,
                   d->keys_in_open, key, c->table);
        buf_append(&keys, tail.data, tail.len);
        buf_printf(&keys, "%s ORDER BY ", d->keys_in_close);
        order_by(&keys, q, "t.", false);
        buf_reset(&tail);
        buf_append(&tail, keys.data, keys.len);
        buf_free(&keys);
    }

    if (split) {
        buf_puts(&p->sql, "SELECT u.* FROM (");
        buf_append(&p->sql, tail.data, tail.len);
        buf_puts(&p->sql, ") u ORDER BY ");
        order_by(&p->sql, q, "u.", true);
        buf_puts(&p->sql, " LIMIT ");
        plan_placeholder(&p->sql, d, limit_param);
    } else if (keys_first) {
        buf_cat(&p->sql, "SELECT ", c->select_list, NULL);
        buf_append(&p->sql, tail.data, tail.len);
    } else {
        buf_cat(&p->sql, "SELECT ", c->select_list, " FROM ", c->table, " t", NULL);
        buf_append(&p->sql, tail.data, tail.len);
    }

    /* The one statement: position, count and page (parameter numbers
     * shared), the position and count as columns of every row. */
    buf_cat(&p->head, d->pos_sql, " AS fm_pos", NULL);
    if (q->include_total) {
        /* the same WHERE with the same parameter numbers, but for the count */
        struct plan_params cps;
        struct buf cw;
        plan_params_init(&cps);
        buf_init(&cw);
        bool kept = counted(q, d, sc);
        /* the kept count: the same scope's parameters, on the counts' rows
         * (plan.h; the membership check names no row of t) */
        int crc = kept ? scope_clause(&cw, d, c, sc, &cps, SCOPED_KEPT) : where(q, d, sc, &cps, &cw, true);
        plan_params_free(&cps);
        if (crc < 0) {
            buf_free(&cw);
            goto out;
        }
        if (kept)
            buf_cat(&p->count_sql, "SELECT coalesce(sum(k.n), 0)::bigint FROM ", d->row_counts, " k WHERE k.tbl = '",
                    c->table, "'", NULL);
        else
            buf_cat(&p->count_sql, "SELECT count(*) FROM ", c->table, " t", NULL);
        buf_append(&p->count_sql, cw.data, cw.len);
        buf_free(&cw);
        buf_puts(&p->head, ", (");
        buf_append(&p->head, p->count_sql.data, p->count_sql.len);
        buf_puts(&p->head, ") AS fm_n");
        p->col_count = 1;
    }
    p->col_item = q->include_total ? 2 : 1;
    if (sc->guard_hash) {
        buf_puts(&p->head, ", ");
        if (plan_guard_column(&p->head, d, sc, &p->ps) < 0) goto out;
        p->col_auth = p->col_item++;
    }
    for (int k = 0, extra = 0; k < q->nsort; k++) {
        int rc_k = q->sort[k].key->rendered_col;
        p->key_col[k] = p->col_item + (rc_k >= 0 ? rc_k : c->nrendered + extra++);
    }
    /* the page with the sort keys not rendered as fm_s<k> (what the
     * empty-page form joins to) */
    if (split) {
        buf_append(&p->page, p->sql.data, p->sql.len);
    } else {
        buf_cat(&p->page, "SELECT ", c->select_list, NULL);
        key_columns(&p->page, q);
        if (!keys_first) buf_cat(&p->page, " FROM ", c->table, " t", NULL);
        buf_append(&p->page, tail.data, tail.len);
    }
    /* the page's columns after the head's (p->page without its "SELECT ") */
    buf_puts(&p->stmt, "SELECT ");
    buf_append(&p->stmt, p->head.data, p->head.len);
    buf_puts(&p->stmt, ", ");
    buf_append(&p->stmt, p->page.data + 7, p->page.len - 7);
    p->q = q;
    fix_text(&p->ps);
    rc = 0;
out:
    buf_free(&w);
    buf_free(&tail);
    buf_free(&branch_a);
    buf_free(&branch_b);
    return rc;
}

void plan_list_empty_form(const struct plan *p, struct buf *out)
{
    buf_puts(out, "WITH m AS (SELECT ");
    buf_append(out, p->head.data, p->head.len);
    buf_puts(out, "), p AS (");
    buf_append(out, p->page.data, p->page.len);
    buf_puts(out, ") SELECT m.*, p.* FROM m LEFT JOIN p ON 1=1 ORDER BY ");
    order_by(out, p->q, "p.", true);
}

int plan_feed(const struct collection *c, const struct dialect *d, const struct plan_scope *sc, const struct token *t,
              int limit, struct plan *p)
{
    struct buf w;
    buf_init(&w);
    plan_init(p);
    int rc = -1;
    struct plan_params *ps = &p->ps;
    const struct wpos *s = &t->s;
    /* A member's feed of workspaces is built from the membership history:
     * a live membership reports the workspace at its own position, a
     * removed one a tombstone at the removal's position (adding a member is
     * a write to the workspace, so a new member sees it as changed). */
    bool history = c->scope == SCOPE_MEMBER && !sc->is_admin;
    struct buf from;
    buf_init(&from);
    if (history) {
        buf_printf(&from,
                   "(SELECT %s, CASE WHEN mm.removed_at IS NULL THEN t.seq ELSE mm.seq END AS seq,"
                   " mm.removed_at AS fm_removed FROM %s t JOIN workspace_members mm ON mm.workspace_id = t.%s"
                   " AND mm.user_id = ",
                   c->select_list, c->table, c->pk->column);
        if (bind(&from, d, ps, sp_text(sc->user_id, strlen(sc->user_id))) < 0) goto out;
        buf_puts(&from, ") t");
    } else {
        buf_printf(&from, "%s t", c->table);
    }
    buf_puts(&w, " WHERE 1=1");
    if (!history && plan_scope_clause(&w, d, c, sc, ps) < 0) goto out;
    /* not old for S: seq >= xmax OR seq IN xip; seq >= xmin keeps it a range */
    buf_puts(&w, " AND t.seq >= ");
    if (bind(&w, d, ps, sp_int(s->xmin)) < 0) goto out;
    if (s->nxip) {
        buf_puts(&w, " AND (t.seq >= ");
        if (bind(&w, d, ps, sp_int(s->xmax)) < 0) goto out;
        buf_puts(&w, " OR t.seq = ANY (");
        if (bind_xip(&w, d, s, ps) < 0) goto out;
        buf_puts(&w, "))");
    } else if (s->xmax != s->xmin) {
        buf_puts(&w, " AND t.seq >= ");
        if (bind(&w, d, ps, sp_int(s->xmax)) < 0) goto out;
    }
    if (t->has_end && plan_old_for(&w, d, &t->e, ps) < 0) goto out;
    if (t->has_last) {
        buf_printf(&w, " AND (t.seq, t.%s) > (", c->pk->column);
        if (bind(&w, d, ps, sp_int(t->last_seq)) < 0) goto out;
        buf_puts(&w, ", ");
        if (bind(&w, d, ps, sp_text(t->last_pk, t->last_pk_len)) < 0) goto out;
        buf_putc(&w, ')');
    }
    p->nwhere = ps->n;
    p->limit = limit + 1;
    p->col_item = 1;
    p->col_keys = 1 + c->nrendered;
    buf_printf(&p->stmt, "WITH m AS (SELECT %s AS fm_pos), p AS (SELECT %s, t.seq AS fm_w, ", d->pos_sql,
               c->select_list);
    if (history)
        buf_puts(&p->stmt, "CASE WHEN t.fm_removed IS NULL THEN 0 ELSE 1 END AS fm_del");
    else if (c->soft_delete)
        buf_printf(&p->stmt, "CASE WHEN t.%s IS NULL THEN 0 ELSE 1 END AS fm_del", c->deleted_at->column);
    else
        buf_puts(&p->stmt, "0 AS fm_del");
    buf_printf(&p->stmt, ", t.%s AS fm_pk FROM ", c->pk->column);
    buf_append(&p->stmt, from.data, from.len);
    buf_append(&p->stmt, w.data, w.len);
    buf_printf(&p->stmt, " ORDER BY t.seq, t.%s LIMIT ", c->pk->column);
    if (bind(&p->stmt, d, ps, sp_int(p->limit)) < 0) goto out;
    buf_puts(&p->stmt, ") SELECT m.*, p.* FROM m LEFT JOIN p ON 1=1 ORDER BY p.fm_w, p.fm_pk");
    fix_text(ps);
    rc = 0;
out:
    buf_free(&w);
    buf_free(&from);
    return rc;
}
