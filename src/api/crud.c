/*
 * crud — the one engine behind every collection: list, create, get,
 * update (PATCH/PUT) and delete, driven by the collection tables.
 *
 * Writes run in one transaction: lock the row (FOR UPDATE, reading its
 * clock), write, re-read the item to answer with, stamp the next write
 * position (seq, the last lock taken: see crud_stamp_seq) and commit; only
 * a committed (durable) write is answered 2xx.
 */
#include "api_int.h"

#include "../grammar/plan.h"
#include "../grammar/query.h"
#include "../util/text.h"
#include "../util/vclock.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared pieces ---------------------------------------------------- */

struct params {
    struct store_param p[64];
    int n;
};

static int pushp(struct params *ps, struct store_param v)
{
    ps->p[ps->n++] = v;
    return ps->n;
}

static void ph(struct ctx *x, struct buf *b, int n)
{
    plan_placeholder(b, x->d, n);
}

int crud_workspace_visible(struct ctx *x, const char *ws)
{
    struct store_err err = {0};
    struct store_param p[2] = {sp_text(ws, strlen(ws)), sp_text(x->who.user_id, strlen(x->who.user_id))};
    char sql[200];
    if (x->who.is_admin)
        snprintf(sql, sizeof sql, "SELECT 1 FROM workspaces WHERE workspace_id = %c1", x->d->param_prefix);
    else
        snprintf(sql, sizeof sql, "SELECT 1 FROM workspace_members WHERE workspace_id = %c1 AND user_id = %c2",
                 x->d->param_prefix, x->d->param_prefix);
    long n = store_exec(x->st, sql, p, x->who.is_admin ? 1 : 2, NULL, NULL, &err);
    if (n < 0) {
        api_store_error(x->r, &err);
        return -1;
    }
    if (n == 0) {
        resp_error(x->r, 404, "Workspace not found");
        return 0;
    }
    return 1;
}

static int read_seq(void *ctx, const struct store_row *row)
{
    int64_t *v = ctx;
    *v = row->vals[0] ? strtoll(row->vals[0], NULL, 10) : 0;
    return 0;
}

int crud_next_seq(struct ctx *x, int64_t *seq, struct store_err *err)
{
    *seq = 0;
    long n = store_exec(x->st, "UPDATE firemode_counters SET value = value + 1 WHERE name = 'write_seq' RETURNING value",
                        NULL, 0, read_seq, seq, err);
    return n < 0 ? -1 : 0;
}

/* Write positions and locks.  Every write takes the counter row (its
 * position, seq) as late as it can, and after it waits for no other lock:
 *  - an update or delete first locks its row FOR UPDATE (so no other
 *    writer can hold even a foreign-key KEY SHARE lock on it), then takes
 *    the counter and changes the row, seq included, in ONE statement;
 *  - a create inserts its row (foreign keys lock the parents), then takes
 *    the counter and stamps seq on its own row, which nobody else can see.
 * So writers never wait in a cycle (no deadlocks), they queue on the counter
 * only for their last statements and the COMMIT, and since the counter is
 * held until COMMIT, seq order is commit order (what change feeds need).
 * (A second UPDATE of a row already updated in the transaction could wait
 * for KEY SHARE lockers that the first, non-key update let in.) */
int crud_stamp_seq(struct ctx *x, const struct collection *c, const char *id, struct store_err *err)
{
    int64_t seq;
    char sql[160];
    if (crud_next_seq(x, &seq, err) < 0) return -1;
    snprintf(sql, sizeof sql, "UPDATE %s SET %s = %c1 WHERE %s = %c2", c->table, c->seq_field->column,
             x->d->param_prefix, c->pk->column, x->d->param_prefix);
    struct store_param p[2] = {sp_int(seq), sp_text(id, strlen(id))};
    return store_exec(x->st, sql, p, 2, NULL, NULL, err) < 0 ? -1 : 0;
}

/* WHERE clause selecting one item the caller may see. */
static void item_where(struct ctx *x, const struct collection *c, const char *id, bool include_deleted, struct buf *b,
                       struct params *ps)
{
    buf_printf(b, " WHERE t.%s = ", c->pk->column);
    ph(x, b, pushp(ps, sp_text(id, strlen(id))));
    switch (c->scope) {
    case SCOPE_WORKSPACE:
        buf_printf(b, " AND t.%s = ", c->workspace_field->column);
        ph(x, b, pushp(ps, sp_text(x->r->path_ws, strlen(x->r->path_ws))));
        if (x->who.is_admin) break;
        /* membership in the same query: an item of a workspace the caller
         * may not see is simply not found (404, as the contract wants) */
        plan_membership(b, x->d, c->workspace_field->column, pushp(ps, sp_text(x->who.user_id, strlen(x->who.user_id))));
        break;
    case SCOPE_MEMBER:
        if (x->who.is_admin) break;
        plan_membership(b, x->d, c->pk->column, pushp(ps, sp_text(x->who.user_id, strlen(x->who.user_id))));
        break;
    case SCOPE_OWNER:
        buf_printf(b, " AND t.%s = ", c->owner_column);
        ph(x, b, pushp(ps, sp_text(x->who.user_id, strlen(x->who.user_id))));
        break;
    case SCOPE_GLOBAL:
        break;
    }
    if (c->soft_delete && !include_deleted) buf_printf(b, " AND t.%s IS NULL", c->deleted_at->column);
}

struct render_ctx {
    const struct collection *c;
    struct buf *out;
    int rows;
    int max;       /* render at most this many */
    int64_t total; /* include_total: the count */
};

static int render_row(void *ctx, const struct store_row *row)
{
    struct render_ctx *rc = ctx;
    if (rc->rows >= rc->max) {
        rc->rows++;
        return 1;
    }
    if (rc->rows) buf_putc(rc->out, ',');
    render_item(rc->out, rc->c, row);
    rc->rows++;
    return 0;
}

/* Reads one item into out; 1 found, 0 not found, -1 error (err set). */
static int fetch_item(struct ctx *x, const struct collection *c, const char *id, bool include_deleted, struct buf *out,
                      struct store_err *err)
{
    struct buf sql;
    struct params ps = {.n = 0};
    buf_init(&sql);
    buf_printf(&sql, "SELECT %s FROM %s t", c->select_list, c->table);
    item_where(x, c, id, include_deleted, &sql, &ps);
    struct render_ctx rc = {c, out, 0, 1, 0};
    long n = store_exec(x->st, sql.data, ps.p, ps.n, render_row, &rc, err);
    buf_free(&sql);
    if (n < 0) return -1;
    return rc.rows > 0;
}

/* Query parameters of single-item requests: only include_deleted, where
 * the collection has soft delete.  -1 answered. */
static int item_query(struct ctx *x, const struct collection *c, bool *include_deleted)
{
    *include_deleted = false;
    bool seen = false;
    for (int i = 0; i < x->r->url.npairs; i++) {
        const struct qpair *p = &x->r->url.pairs[i];
        if (c->soft_delete && c->scope != SCOPE_OWNER && text_eq(p->key, p->key_len, "include_deleted")) {
            if (seen) {
                resp_invalid(x->r, "query", "include_deleted", "Parameter 'include_deleted' may be given only once",
                             "multiple_values");
                return -1;
            }
            seen = true;
            if (!bool_parse(p->value, p->value_len, include_deleted)) {
                resp_invalid(x->r, "query", "include_deleted",
                             "Input should be a valid boolean, unable to interpret input", "bool_parsing");
                return -1;
            }
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(p->key_len > 40 ? 40 : p->key_len), p->key);
        char msg[160];
        snprintf(msg, sizeof msg, "Unknown query parameter '%s'. Allowed: %s", name,
                 c->soft_delete && c->scope != SCOPE_OWNER ? "include_deleted" : "(none)");
        resp_invalid(x->r, "query", name, msg, "extra_forbidden");
        return -1;
    }
    return 0;
}

/* ---- list ------------------------------------------------------------- */

/* Rows of plan.total_sql: (count, item columns...). */
static int render_total_row(void *ctx, const struct store_row *row)
{
    struct render_ctx *rc = ctx;
    rc->total = row->vals[0] ? strtoll(row->vals[0], NULL, 10) : 0;
    if (row->ncols < 2 || !row->vals[1]) return 0; /* an empty page: the count alone */
    struct store_row item = {row->ncols - 1, row->vals + 1, row->lens + 1};
    return render_row(ctx, &item);
}

void crud_list(struct ctx *x, const struct collection *c)
{
    struct request *r = x->r;
    struct list_query q;
    struct lq_error qerr;
    struct plan p;
    struct buf out;
    struct store_err err = {0};
    bool planned = false;
    buf_init(&out);

    if (lq_parse(c, r->url.pairs, r->url.npairs, &q, &qerr) < 0) {
        if (qerr.as_string)
            resp_error(r, 422, "%s", qerr.msg);
        else
            resp_invalid(r, "query", qerr.loc, qerr.msg, qerr.type);
        return;
    }
    struct plan_scope sc = {r->path_ws, x->who.user_id, x->who.is_admin};
    if (plan_list(&q, x->d, &sc, &p) < 0) {
        resp_invalid(r, "query", NULL, "Query too complex", "too_long");
        goto out;
    }
    planned = true;

    /* One statement either way: the page with a look-ahead row, or the
     * count and the page together (one snapshot). */
    buf_puts(&out, "{\"items\":[");
    struct render_ctx rc = {c, &out, 0, q.page_size, 0};
    long n = q.include_total ? store_exec(x->st, p.total_sql.data, p.params, p.nparams, render_total_row, &rc, &err)
                             : store_exec(x->st, p.sql.data, p.params, p.nparams, render_row, &rc, &err);
    if (n < 0) {
        api_store_error(r, &err);
        goto out;
    }
    /* The page query checked membership itself; only an empty page needs to
     * tell "no rows" from "no such workspace (for you)", a 404. */
    if (rc.rows == 0 && c->scope == SCOPE_WORKSPACE && crud_workspace_visible(x, r->path_ws) <= 0) goto out;
    bool has_next = q.include_total ? q.page * (int64_t)q.page_size < rc.total : rc.rows > q.page_size;
    buf_printf(&out, "],\"page\":%lld,\"page_size\":%d,\"has_previous\":%s,\"has_next\":%s", (long long)q.page,
               q.page_size, q.page > 1 ? "true" : "false", has_next ? "true" : "false");
    if (q.include_total) buf_printf(&out, ",\"total\":%lld", (long long)rc.total);
    buf_putc(&out, '}');
    resp_json(r, 200, &out);
out:
    if (planned) plan_free(&p);
    lq_free(&q);
    buf_free(&out);
}

/* ---- get -------------------------------------------------------------- */

void crud_get(struct ctx *x, const struct collection *c, const char *id)
{
    bool include_deleted;
    struct store_err err = {0};
    struct buf item;
    buf_init(&item);
    if (item_query(x, c, &include_deleted) < 0) return;
    int found = fetch_item(x, c, id, include_deleted, &item, &err);
    if (found < 0)
        api_store_error(x->r, &err);
    else if (!found)
        resp_error(x->r, 404, "%c%s not found", c->item_name[0] - 32, c->item_name + 1);
    else
        resp_json(x->r, 200, &item);
    buf_free(&item);
}

/* ---- writes ----------------------------------------------------------- */

/* Checks that each given reference names a live row of the same workspace.
 * 0 ok, -1 answered (422 or storage error). */
static int check_refs(struct ctx *x, const struct collection *c, const struct body *b, const char *self_id)
{
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        const struct body_value *v = &b->v[i];
        if (!f->references || !v->present || v->p.type == SP_NULL) continue;
        const struct collection *rc = collection_by_name(f->references, strlen(f->references));
        if (self_id && rc == c && strncmp(v->p.s, self_id, v->p.len) == 0) {
            resp_invalid(x->r, "body", f->name, "A row cannot refer to itself", "value_error");
            return -1;
        }
        struct buf sql;
        struct params ps = {.n = 0};
        struct store_err err = {0};
        buf_init(&sql);
        buf_printf(&sql, "SELECT 1 FROM %s t WHERE t.%s = ", rc->table, rc->pk->column);
        ph(x, &sql, pushp(&ps, v->p));
        if (rc->workspace_field) {
            buf_printf(&sql, " AND t.%s = ", rc->workspace_field->column);
            ph(x, &sql, pushp(&ps, sp_text(x->r->path_ws, strlen(x->r->path_ws))));
        }
        if (rc->soft_delete) buf_printf(&sql, " AND t.%s IS NULL", rc->deleted_at->column);
        long n = store_exec(x->st, sql.data, ps.p, ps.n, NULL, NULL, &err);
        buf_free(&sql);
        if (n < 0) {
            api_store_error(x->r, &err);
            return -1;
        }
        if (n == 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "No %s with this id in this workspace", rc->item_name);
            resp_invalid(x->r, "body", f->name, msg, "foreign_key");
            return -1;
        }
    }
    return 0;
}

/* Rewrites the side table of tags for item id from the canonical JSON. */
static int write_tags(struct ctx *x, const struct collection *c, const char *id, const struct body_value *v,
                      bool replace, struct store_err *err)
{
    char sql[256];
    struct store_param p[2] = {sp_text(id, strlen(id)), sp_null()};
    if (replace) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = %c1", c->tag_table, c->tag_fk, x->d->param_prefix);
        if (store_exec(x->st, sql, p, 1, NULL, NULL, err) < 0) return -1;
    }
    json_error_t jerr;
    json_t *arr = json_loadb(v->p.s, v->p.len, 0, &jerr);
    snprintf(sql, sizeof sql, "INSERT INTO %s (%s, tag) VALUES (%c1, %c2)", c->tag_table, c->tag_fk,
             x->d->param_prefix, x->d->param_prefix);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++) {
        json_t *t = json_array_get(arr, i);
        p[1] = sp_text(json_string_value(t), json_string_length(t));
        if (store_exec(x->st, sql, p, 2, NULL, NULL, err) < 0) rc = -1;
    }
    json_decref(arr);
    return rc;
}

static void conflict(struct ctx *x, const struct collection *c, const struct store_err *err)
{
    if (err->kind != STORE_UNIQUE) {
        api_store_error(x->r, err);
        return;
    }
    if (c == &coll_users)
        resp_error(x->r, 409, "A user with this email already exists");
    else if (c == &coll_configs)
        resp_error(x->r, 409, "A live config with this slug already exists in this workspace");
    else
        resp_error(x->r, 409, "This %s conflicts with an existing one", c->item_name);
}

/* Location of a new item: the collection's path, ids in canonical form. */
static void location(struct ctx *x, const struct collection *c, const char *id)
{
    char path[200];
    if (c->scope == SCOPE_WORKSPACE)
        snprintf(path, sizeof path, "/workspaces/%s/%s/%s", x->r->path_ws, c->name, id);
    else if (c->scope == SCOPE_OWNER)
        snprintf(path, sizeof path, "/v1/tests/%s/%s", c->name, id);
    else
        snprintf(path, sizeof path, "/%s/%s", c->name, id);
    resp_header(x->r, "Location", path);
}

void crud_create(struct ctx *x, const struct collection *c)
{
    struct body b;
    struct buf sql, cols, item, clock;
    struct params ps = {.n = 0};
    struct store_err err = {0};
    char id[37];
    bool in_tx = false;
    buf_init(&sql), buf_init(&cols), buf_init(&item), buf_init(&clock);

    if (c->scope == SCOPE_WORKSPACE && crud_workspace_visible(x, x->r->path_ws) <= 0) {
        memset(&b, 0, sizeof b);
        goto out;
    }
    if (body_parse(x, c, BODY_CREATE, &b) < 0) goto out;

    uuid7_new(id);
    struct vclock vc = {0};
    vclock_tick(&vc, api_node_id);
    vclock_render(&vc, &clock);

    if (store_begin(x->st, true, &err) < 0) goto fail;
    in_tx = true;
    /* References are checked inside the transaction (the insert's foreign
     * keys then hold them until COMMIT). */
    if (check_refs(x, c, &b, NULL) < 0) {
        store_rollback(x->st);
        in_tx = false;
        goto out;
    }

    buf_printf(&sql, "INSERT INTO %s (", c->table);
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        const struct body_value *v = &b.v[i];
        struct store_param val = sp_null();
        if (v->present) {
            val = v->p;
        } else {
            switch (f->autofill) {
            case A_NEW_ID: val = sp_text(id, 36); break;
            case A_NOW:
            case A_NOW_ALWAYS: val = sp_int(x->r->now_us); break;
            case A_CALLER: val = sp_text(x->who.user_id, strlen(x->who.user_id)); break;
            case A_WORKSPACE: val = sp_text(x->r->path_ws, strlen(x->r->path_ws)); break;
            case A_CLOCK: val = sp_text(clock.data, clock.len); break;
            case A_SEQ: val = sp_int(0); break; /* stamped last, see crud_stamp_seq */
            default: break; /* derived fields (A_LOWER_OF) come filled by body_parse */
            }
        }
        /* created_at given by an admin also sets updated_at */
        if (f->autofill == A_NOW_ALWAYS) {
            const struct field *ca = collection_field(c, "created_at", 10);
            if (ca && b.v[ca - c->fields].present) val = b.v[ca - c->fields].p;
        }
        if (i) buf_puts(&cols, ", ");
        buf_puts(&sql, i ? ", " : "");
        buf_puts(&sql, f->column);
        ph(x, &cols, pushp(&ps, val));
    }
    buf_puts(&sql, ") VALUES (");
    buf_append(&sql, cols.data, cols.len);
    buf_putc(&sql, ')');
    if (store_exec(x->st, sql.data, ps.p, ps.n, NULL, NULL, &err) < 0) goto fail;
    if (c->tags_field && write_tags(x, c, id, &b.v[c->tags_field - c->fields], false, &err) < 0) goto fail;
    if (c == &coll_workspaces) {
        /* the creator becomes a member */
        char msql[160];
        snprintf(msql, sizeof msql,
                 "INSERT INTO workspace_members (workspace_id, user_id, created_at) VALUES (%c1, %c2, %c3)",
                 x->d->param_prefix, x->d->param_prefix, x->d->param_prefix);
        struct store_param mp[3] = {sp_text(id, 36), sp_text(x->who.user_id, strlen(x->who.user_id)),
                                    sp_int(x->r->now_us)};
        if (store_exec(x->st, msql, mp, 3, NULL, NULL, &err) < 0) goto fail;
    }
    if (fetch_item(x, c, id, true, &item, &err) < 0) goto fail;
    if (crud_stamp_seq(x, c, id, &err) < 0) goto fail;
    in_tx = false;
    if (store_commit(x->st, &err) < 0) goto fail;
    location(x, c, id);
    resp_json(x->r, 201, &item);
    goto out;
fail:
    if (in_tx) store_rollback(x->st);
    conflict(x, c, &err);
out:
    body_free(&b);
    buf_free(&sql), buf_free(&cols), buf_free(&item), buf_free(&clock);
}

struct clock_ctx {
    struct vclock vc;
    bool found, bad;
};

static int read_clock(void *ctx, const struct store_row *row)
{
    struct clock_ctx *cc = ctx;
    cc->found = true;
    if (!row->vals[0] || !vclock_parse(row->vals[0], row->lens[0], &cc->vc)) cc->bad = true;
    return 0;
}

/* Locks the live item and reads its clock.  1 found, 0 not found, -1 error. */
static int lock_item(struct ctx *x, const struct collection *c, const char *id, struct clock_ctx *cc,
                     struct store_err *err)
{
    struct buf sql;
    struct params ps = {.n = 0};
    buf_init(&sql);
    buf_printf(&sql, "SELECT t.%s FROM %s t", c->clock_field->column, c->table);
    item_where(x, c, id, false, &sql, &ps);
    buf_puts(&sql, x->d->for_update);
    long n = store_exec(x->st, sql.data, ps.p, ps.n, read_clock, cc, err);
    buf_free(&sql);
    if (n < 0) return -1;
    return cc->found ? 1 : 0;
}

/* Opens the write transaction of an update or delete: locks the live item,
 * adds one to this server's entry of its clock (rendered into clock) and
 * takes the next write position, to be written with the row's change in
 * one statement (see crud_stamp_seq).  1: go on, the transaction is open;
 * 0: answered (404, or 409 for a full clock), nothing open; -1: storage
 * error in err, nothing open. */
static int write_begin(struct ctx *x, const struct collection *c, const char *id, struct buf *clock, int64_t *seq,
                       struct store_err *err)
{
    struct clock_ctx cc;
    memset(&cc, 0, sizeof cc);
    if (store_begin(x->st, true, err) < 0) return -1;
    int found = lock_item(x, c, id, &cc, err);
    if (found <= 0) {
        store_rollback(x->st);
        if (found == 0) resp_error(x->r, 404, "%c%s not found", c->item_name[0] - 32, c->item_name + 1);
        return found;
    }
    if (cc.bad) cc.vc.n = 0;
    if (!vclock_tick(&cc.vc, api_node_id)) {
        store_rollback(x->st);
        resp_error(x->r, 409, "The vector clock of this %s is full", c->item_name);
        return 0;
    }
    vclock_render(&cc.vc, clock);
    if (crud_next_seq(x, seq, err) < 0) { /* the row is locked: the counter now */
        store_rollback(x->st);
        return -1;
    }
    return 1;
}

void crud_update(struct ctx *x, const struct collection *c, const char *id, enum body_mode mode)
{
    struct body b;
    struct buf sql, item, clock;
    struct params ps = {.n = 0};
    struct store_err err = {0};
    int64_t seq = 0;
    bool in_tx = false;
    buf_init(&sql), buf_init(&item), buf_init(&clock);
    memset(&b, 0, sizeof b);

    if (c->scope == SCOPE_WORKSPACE && crud_workspace_visible(x, x->r->path_ws) <= 0) goto out;
    if (body_parse(x, c, mode, &b) < 0) goto out;
    int w = write_begin(x, c, id, &clock, &seq, &err);
    if (w < 0) goto fail;
    if (w == 0) goto out;
    in_tx = true;
    if (check_refs(x, c, &b, id) < 0) {
        store_rollback(x->st);
        in_tx = false;
        goto out;
    }

    buf_printf(&sql, "UPDATE %s SET ", c->table);
    bool first = true;
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        const struct body_value *v = &b.v[i];
        struct store_param val;
        if (v->present) {
            val = v->p;
        } else if (f->autofill == A_NOW_ALWAYS) {
            val = sp_int(x->r->now_us);
        } else if (f->autofill == A_CLOCK) {
            val = sp_text(clock.data, clock.len);
        } else if (f->autofill == A_SEQ) {
            val = sp_int(seq);
        } else {
            continue;
        }
        buf_printf(&sql, "%s%s = ", first ? "" : ", ", f->column);
        ph(x, &sql, pushp(&ps, val));
        first = false;
    }
    buf_printf(&sql, " WHERE %s = ", c->pk->column);
    ph(x, &sql, pushp(&ps, sp_text(id, strlen(id))));
    if (store_exec(x->st, sql.data, ps.p, ps.n, NULL, NULL, &err) < 0) goto fail;
    if (c->tags_field && b.v[c->tags_field - c->fields].present &&
        write_tags(x, c, id, &b.v[c->tags_field - c->fields], true, &err) < 0)
        goto fail;
    if (fetch_item(x, c, id, false, &item, &err) < 0) goto fail;
    in_tx = false;
    if (store_commit(x->st, &err) < 0) goto fail;
    resp_json(x->r, 200, &item);
    goto out;
fail:
    if (in_tx) store_rollback(x->st);
    conflict(x, c, &err);
out:
    body_free(&b);
    buf_free(&sql), buf_free(&item), buf_free(&clock);
}

void crud_delete(struct ctx *x, const struct collection *c, const char *id)
{
    struct store_err err = {0};
    struct buf sql, clock;
    int64_t seq = 0;
    bool in_tx = false;
    buf_init(&sql), buf_init(&clock);
    if (x->r->url.npairs) {
        resp_invalid(x->r, "query", NULL, "DELETE takes no query parameters", "extra_forbidden");
        goto out;
    }
    if (c->scope == SCOPE_WORKSPACE && crud_workspace_visible(x, x->r->path_ws) <= 0) goto out;
    int w = write_begin(x, c, id, &clock, &seq, &err);
    if (w < 0) goto fail;
    if (w == 0) goto out;
    in_tx = true;
    struct params ps = {.n = 0};
    buf_printf(&sql, "UPDATE %s SET %s = ", c->table, c->deleted_at->column);
    ph(x, &sql, pushp(&ps, sp_int(x->r->now_us)));
    for (size_t i = 0; i < c->nfields; i++)
        if (c->fields[i].autofill == A_NOW_ALWAYS) {
            buf_printf(&sql, ", %s = ", c->fields[i].column);
            ph(x, &sql, pushp(&ps, sp_int(x->r->now_us)));
        }
    buf_printf(&sql, ", %s = ", c->clock_field->column);
    ph(x, &sql, pushp(&ps, sp_text(clock.data, clock.len)));
    buf_printf(&sql, ", %s = ", c->seq_field->column);
    ph(x, &sql, pushp(&ps, sp_int(seq)));
    buf_printf(&sql, " WHERE %s = ", c->pk->column);
    ph(x, &sql, pushp(&ps, sp_text(id, strlen(id))));
    if (store_exec(x->st, sql.data, ps.p, ps.n, NULL, NULL, &err) < 0) goto fail;
    in_tx = false;
    if (store_commit(x->st, &err) < 0) goto fail;
    resp_empty(x->r, 204);
    goto out;
fail:
    if (in_tx) store_rollback(x->st);
    api_store_error(x->r, &err);
out:
    buf_free(&sql), buf_free(&clock);
}
