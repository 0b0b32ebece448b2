/*
 * plan — see plan.h.
 *
 * Page query:
 *   SELECT <columns> FROM <table> t
 *   WHERE <scope> [AND t.deleted_at IS NULL] [AND <filter>]...
 *   ORDER BY <sort> [NULLS LAST], ..., <pk>
 *   LIMIT <n> OFFSET <m>
 * Count query: SELECT count(*) FROM (SELECT 1 FROM <table> t WHERE ...) s —
 * the same WHERE with the ordering dropped.  With include_total both run as
 * one statement:
 *   WITH c(n) AS (<count>), p AS (<page, plus its sort keys as fm_s0..>)
 *   SELECT c.n, p.* FROM c LEFT JOIN p ON 1=1 ORDER BY p.fm_s0, ...
 * tag_in is an EXISTS over the side table, so a document with two matching
 * tags is still one row.
 */
#include "plan.h"

#include <stdio.h>
#include <string.h>

void plan_placeholder(struct buf *b, const struct dialect *d, int n)
{
    buf_putc(b, d->param_prefix);
    buf_put_i64(b, n);
}

void plan_membership(struct buf *b, const struct dialect *d, const char *ws_column, int n)
{
    buf_printf(b, " AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = t.%s AND m.user_id = ", ws_column);
    plan_placeholder(b, d, n);
    buf_putc(b, ')');
}

static int add(struct plan *p, struct store_param v)
{
    if (p->nparams == STORE_MAX_PARAMS) return -1;
    p->params[p->nparams++] = v;
    return p->nparams;
}

static struct store_param param_of(const struct filter *f, const struct lq_value *v)
{
    if (f->op == OP_IS_NULL) return sp_bool(v->i != 0);
    if (f->op == OP_TAG_IN || f->op == OP_SEARCH || f->op == OP_CONTAINS) return sp_text(v->s, v->len);
    switch (f->field->type) {
    case FT_BOOL: return sp_bool(v->i != 0);
    case FT_TIME:
    case FT_INT: return sp_int(v->i);
    default: return sp_text(v->s, v->len);
    }
}

static int where(const struct list_query *q, const struct dialect *d, const struct plan_scope *sc, struct plan *p,
                 struct buf *w)
{
    const struct collection *c = q->coll;
    int n;
    buf_puts(w, " WHERE 1=1");
    switch (c->scope) {
    case SCOPE_WORKSPACE:
        if ((n = add(p, sp_text(sc->workspace_id, strlen(sc->workspace_id)))) < 0) return -1;
        buf_printf(w, " AND t.%s = ", c->workspace_field->column);
        plan_placeholder(w, d, n);
        /* a non-admin sees rows of workspaces they are a member of: checked
         * here, in the same query, rather than in a round trip of its own */
        if (sc->is_admin) break;
        if ((n = add(p, sp_text(sc->user_id, strlen(sc->user_id)))) < 0) return -1;
        plan_membership(w, d, c->workspace_field->column, n);
        break;
    case SCOPE_MEMBER:
        if (sc->is_admin) break;
        if ((n = add(p, sp_text(sc->user_id, strlen(sc->user_id)))) < 0) return -1;
        plan_membership(w, d, c->pk->column, n);
        break;
    case SCOPE_OWNER:
        if ((n = add(p, sp_text(sc->user_id, strlen(sc->user_id)))) < 0) return -1;
        buf_printf(w, " AND t.%s = ", c->owner_column);
        plan_placeholder(w, d, n);
        break;
    case SCOPE_GLOBAL:
        break;
    }
    if (c->soft_delete && !q->include_deleted) buf_printf(w, " AND t.%s IS NULL", c->deleted_at->column);

    for (int ci = 0; ci < q->nconds; ci++) {
        const struct lq_cond *cond = &q->conds[ci];
        const struct filter *f = cond->filter;
        const struct lq_value *v = &q->vals[cond->first];
        switch (f->op) {
        case OP_EQ:
        case OP_FROM:
        case OP_TO:
            if ((n = add(p, param_of(f, v))) < 0) return -1;
            buf_printf(w, " AND t.%s %s ", f->column, f->op == OP_EQ ? "=" : f->op == OP_FROM ? ">=" : "<");
            plan_placeholder(w, d, n);
            break;
        case OP_IN:
        case OP_TAG_IN:
            if (f->op == OP_IN)
                buf_printf(w, " AND t.%s IN (", f->column);
            else
                buf_printf(w, " AND EXISTS (SELECT 1 FROM %s x WHERE x.%s = t.%s AND x.tag IN (", c->tag_table,
                           c->tag_fk, c->pk->column);
            for (int k = 0; k < cond->count; k++) {
                if ((n = add(p, param_of(f, &v[k]))) < 0) return -1;
                if (k) buf_puts(w, ", ");
                plan_placeholder(w, d, n);
            }
            buf_puts(w, f->op == OP_IN ? ")" : "))");
            break;
        case OP_IS_NULL:
            buf_printf(w, " AND t.%s IS %sNULL", f->column, v->i ? "" : "NOT ");
            break;
        case OP_SEARCH:
        case OP_CONTAINS: {
            if ((n = add(p, param_of(f, v))) < 0) return -1;
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
    return 0;
}

int plan_list(const struct list_query *q, const struct dialect *d, const struct plan_scope *sc, struct plan *p)
{
    const struct collection *c = q->coll;
    struct buf w, tail;
    buf_init(&w);
    buf_init(&tail);
    buf_init(&p->sql);
    buf_init(&p->count_sql);
    buf_init(&p->total_sql);
    p->nparams = 0;
    int rc = -1;
    if (where(q, d, sc, p, &w) < 0) goto out;
    p->nwhere = p->nparams;

    /* what follows "FROM <table> t" in the page query */
    buf_append(&tail, w.data, w.len);
    buf_puts(&tail, " ORDER BY ");
    for (int k = 0; k < q->nsort; k++) {
        const struct sort_key *s = q->sort[k].key;
        buf_printf(&tail, "%st.%s %s%s", k ? ", " : "", s->column, q->sort[k].desc ? "DESC" : "ASC",
                   s->nullable ? " NULLS LAST" : "");
    }
    p->limit = q->page_size + (q->include_total ? 0 : 1);
    int nl = add(p, sp_int(p->limit));
    int no = add(p, sp_int((q->page - 1) * (int64_t)q->page_size));
    if (nl < 0 || no < 0) goto out;
    buf_puts(&tail, " LIMIT ");
    plan_placeholder(&tail, d, nl);
    buf_puts(&tail, " OFFSET ");
    plan_placeholder(&tail, d, no);

    buf_printf(&p->sql, "SELECT %s FROM %s t", c->select_list, c->table);
    buf_append(&p->sql, tail.data, tail.len);

    if (q->include_total) {
        buf_printf(&p->count_sql, "SELECT count(*) FROM (SELECT 1 FROM %s t", c->table);
        buf_append(&p->count_sql, w.data, w.len);
        buf_puts(&p->count_sql, ") s");
        /* Both parts use the same parameter numbers.  The page carries its
         * sort keys as extra columns (a key need not be rendered, e.g.
         * users.email_canonical) so the outer query can keep page order. */
        buf_puts(&p->total_sql, "WITH c(n) AS (");
        buf_append(&p->total_sql, p->count_sql.data, p->count_sql.len);
        buf_printf(&p->total_sql, "), p AS (SELECT %s", c->select_list);
        for (int k = 0; k < q->nsort; k++) buf_printf(&p->total_sql, ", t.%s AS fm_s%d", q->sort[k].key->column, k);
        buf_printf(&p->total_sql, " FROM %s t", c->table);
        buf_append(&p->total_sql, tail.data, tail.len);
        buf_puts(&p->total_sql, ") SELECT c.n, p.* FROM c LEFT JOIN p ON 1=1 ORDER BY ");
        for (int k = 0; k < q->nsort; k++)
            buf_printf(&p->total_sql, "%sp.fm_s%d %s%s", k ? ", " : "", k, q->sort[k].desc ? "DESC" : "ASC",
                       q->sort[k].key->nullable ? " NULLS LAST" : "");
    }
    rc = 0;
out:
    buf_free(&w);
    buf_free(&tail);
    if (rc < 0) plan_free(p);
    return rc;
}

void plan_free(struct plan *p)
{
    buf_free(&p->sql);
    buf_free(&p->count_sql);
    buf_free(&p->total_sql);
    p->nparams = 0;
}
