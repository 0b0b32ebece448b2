/*
 * crud — the one engine behind every collection: list (offset pages and
 * keyset walks), change feeds, create, get, update (PATCH/PUT) and delete,
 * driven by the collection tables.
 *
 * Every write runs through the write path (write.c): one transaction that
 * locks the item, checks If-Match with the row locked, takes the position
 * in the order of writes, writes, re-reads the item to answer with, and
 * commits; only a committed (durable) write is answered 2xx.
 *
 * Lists and feeds are one statement each (plan.h), whose first column is
 * the position S of its snapshot: a first page hands S out as its
 * sync_token and inside its next_cursor; later pages of the walk read only
 * rows old for S after the last row's keys, so a walk never shows a row
 * twice and misses only rows written during it, which the change feed since
 * S reports (CONTRACT.md §5; the design note is in README.md).
 */
#include "api_int.h"
#include "errors.h"

#include "../grammar/plan.h"
#include "../grammar/query.h"
#include "../grammar/token.h"
#include "../util/crypto.h"
#include "../util/text.h"
#include "../util/vclock.h"
#include "precond.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ph(struct ctx *x, struct buf *b, int n)
{
    plan_placeholder(b, x->d, n);
}

static struct plan_scope scope_of(struct ctx *x)
{
    struct plan_scope sc = {x->r ? x->r->path_ws : "", x->who.user_id, x->who.is_admin,
                            x->guarded ? x->guard_hash : NULL};
    return sc;
}

int crud_workspace_visible(struct ctx *x, const char *ws)
{
    struct store_err err = {0};
    struct store_param p[2] = {sp_text(ws, strlen(ws)), sp_text(x->who.user_id, strlen(x->who.user_id))};
    char sql[200];
    if (x->who.is_admin)
        snprintf(sql, sizeof sql, "SELECT 1 FROM workspaces WHERE workspace_id = %c1", x->d->param_prefix);
    else
        snprintf(sql, sizeof sql, "SELECT 1 FROM workspace_members WHERE workspace_id = %c1 AND user_id = %c2"
                 " AND removed_at IS NULL",
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

void crud_not_found(struct ctx *x, const struct collection *c)
{
    resp_error(x->r, 404, "%c%s not found", c->item_name[0] - 32, c->item_name + 1);
}

/* Renders rows of a statement whose item columns start at `first`. */
struct render_ctx {
    const struct collection *c;
    struct buf *out;
    int first;        /* first item column */
    int rows;         /* item rows seen */
    int max;          /* render at most this many */
    struct buf *clock; /* single items: the stored clock text, or NULL */
};

static int render_row(void *ctx, const struct store_row *row)
{
    struct render_ctx *rc = ctx;
    if (rc->rows >= rc->max) {
        rc->rows++;
        return 1;
    }
    if (rc->rows) buf_putc(rc->out, ',');
    struct store_row item = {row->ncols - rc->first, row->vals + rc->first, row->lens + rc->first,
                             row->ints ? row->ints + rc->first : NULL, row->is_int ? row->is_int + rc->first : NULL};
    render_item(rc->out, rc->c, &item);
    if (rc->clock && item.vals[rc->c->clock_col]) {
        buf_reset(rc->clock);
        buf_append(rc->clock, item.vals[rc->c->clock_col], item.lens[rc->c->clock_col]);
    }
    rc->rows++;
    return 0;
}

/* An item read on the identity hint: its first column is fm_auth; nothing
 * is rendered unless it holds. */
struct guarded_item {
    struct render_ctx rc;
    bool auth_ok;
};

static int guarded_item_row(void *ctx, const struct store_row *row)
{
    struct guarded_item *g = ctx;
    g->auth_ok = store_row_true(row, 0);
    if (!g->auth_ok) return 1; /* nothing of this may be answered */
    return render_row(&g->rc, row);
}

/* Reads the item (as crud_fetch_item); with w, as the write's last
 * statement, committed with it (write_exec_last).  On the identity hint
 * (x->guarded; reads only), the statement also confirms who asks, in its
 * own snapshot: x->guard_confirmed when the item was there and the caller
 * is who the hint says, x->guard_failed when not; an item not found
 * confirms nothing (no row carries the check), and the caller runs the
 * request again, authenticated in full. */
static int fetch_item(struct ctx *x, struct wtx *w, const struct collection *c, const char *id, bool include_deleted,
                      struct buf *out, struct buf *clock, struct store_err *err)
{
    struct buf sql;
    struct plan_params ps;
    struct plan_scope sc = scope_of(x);
    bool guarded = !w && sc.guard_hash;
    buf_init(&sql);
    plan_params_init(&ps);
    buf_puts(&sql, "SELECT ");
    if (guarded) { /* the check first, then the item's columns */
        if (plan_guard_column(&sql, x->d, &sc, &ps) < 0) {
            /* cannot happen (four parameters); confirms nothing: run again */
            buf_free(&sql);
            plan_params_free(&ps);
            return 0;
        }
        buf_puts(&sql, ", ");
    }
    buf_printf(&sql, "%s FROM %s t WHERE t.%s = ", c->select_list, c->table, c->pk->column);
    ph(x, &sql, plan_param(&ps, sp_text(id, strlen(id))));
    plan_scope_clause(&sql, x->d, c, &sc, &ps);
    if (c->soft_delete && !include_deleted) buf_printf(&sql, " AND t.%s IS NULL", c->deleted_at->column);
    struct guarded_item g = {{c, out, guarded ? 1 : 0, 0, 1, clock}, false};
    long n = w ? write_exec_last(w, sql.data, ps.p, ps.n, render_row, &g.rc, err)
         : guarded ? store_exec(x->st, sql.data, ps.p, ps.n, guarded_item_row, &g, err)
                   : store_exec(x->st, sql.data, ps.p, ps.n, render_row, &g.rc, err);
    buf_free(&sql);
    plan_params_free(&ps);
    if (n < 0) {
        x->guard_store_error = guarded;
        return -1;
    }
    if (guarded && n > 0) {
        x->guard_confirmed = g.auth_ok;
        x->guard_failed = !g.auth_ok;
        if (!g.auth_ok) return 0;
    }
    return g.rc.rows > 0;
}

int crud_fetch_item(struct ctx *x, const struct collection *c, const char *id, bool include_deleted, struct buf *out,
                    struct buf *clock, struct store_err *err)
{
    return fetch_item(x, NULL, c, id, include_deleted, out, clock, err);
}

/* A request answered before its write transaction (a 422 of its body, a
 * 428) is a 404 instead when the caller cannot see its workspace, as if that
 * had been checked first.  The write checks the workspace itself, in its
 * transaction (write_check_workspace, or in the INSERT of a create), so only
 * this path spends a round trip on it. */
static void workspace_first(struct ctx *x, const struct collection *c)
{
    if (c->scope == SCOPE_WORKSPACE) (void)crud_workspace_visible(x, x->r->path_ws);
}

void crud_answer_item(struct ctx *x, int status, struct buf *item, const struct buf *clock)
{
    struct vclock vc;
    struct buf etag;
    buf_init(&etag);
    if (clock && clock->data && vclock_parse(clock->data, clock->len, &vc)) {
        vclock_etag(&vc, &etag);
        resp_header(x->r, "ETag", etag.data);
        const char *inm = (x->r->method == M_GET || x->r->method == M_HEAD) && status == 200
                              ? req_header(x->r, "If-None-Match")
                              : NULL;
        if (inm && precond_if_none_match(inm, &vc)) {
            resp_empty(x->r, 304);
            buf_free(&etag);
            return;
        }
    }
    resp_json(x->r, status, item);
    buf_free(&etag);
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

/* ---- tokens: what binds them to one caller and one list ----------------- */

static void token_for(struct ctx *x, const struct collection *c, enum token_kind kind, struct token *t)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->coll = c->index;
    t->admin = x->who.is_admin;
    if (c->scope == SCOPE_WORKSPACE) memcpy(t->scope, x->r->path_ws, 37);
    memcpy(t->user, x->who.user_id, 37);
}

/* Decodes a token sent by the client and checks that it was made for this
 * caller, collection and scope.  false: not valid here (the caller answers 422). */
static bool token_accept(struct ctx *x, const struct collection *c, enum token_kind kind, const char *s, size_t n,
                         struct token *t)
{
    struct token want;
    if (!token_decode(s, n, api_token_key, t)) return false;
    token_for(x, c, kind, &want);
    if (t->kind != kind || t->coll != want.coll || t->admin != want.admin || strcmp(t->scope, want.scope) != 0 ||
        strcmp(t->user, want.user) != 0) {
        token_free(t);
        return false;
    }
    return true;
}

static void put_token_json(struct buf *out, const struct token *t)
{
    buf_putc(out, '"');
    token_encode(t, api_token_key, out); /* base64url: nothing to escape */
    buf_putc(out, '"');
}

/* The position a statement read (its fm_pos column); -1 answered. */
static int statement_pos(struct ctx *x, const struct buf *text, struct wpos *s)
{
    if (text->data && store_parse_pos(x->d, text->data, text->len, s)) return 0;
    fprintf(stderr, "firemode: unreadable write position '%.100s' (rid=%s)\n", text->data ? text->data : "",
            x->r->request_id);
    resp_header(x->r, "Retry-After", "1");
    resp_error(x->r, 503, "Database busy: too many transactions in progress to mark a position, try again shortly");
    return -1;
}

/* A position no statement can have seen yet: the token outlived its
 * database's history (a restore, a failover to a replica behind it), and
 * going on would skip or repeat rows silently. */
static bool token_from_the_future(const struct wpos *tok, const struct wpos *now)
{
    return tok->xmax > now->xmax;
}

/* ---- list ------------------------------------------------------------- */

/* A cursor carries its walk's filters up to this size (so it can be sent
 * alone); past it, their hash, and the client repeats them on every page:
 * a cursor must fit in a request line (8 KiB) with its sort keys. */
#define CURSOR_QUERY_INLINE 1024

struct list_ctx {
    struct render_ctx rc;
    const struct plan *p;
    int nkeys;
    bool first_row;
    struct buf pos;      /* fm_pos of the statement */
    int64_t total;
    bool auth_ok;        /* fm_auth, when the statement has it */
    struct buf keys;     /* the last rendered row's sort keys, back to back */
    bool key_null[TOKEN_MAX_KEYS];
    size_t key_off[TOKEN_MAX_KEYS], key_len[TOKEN_MAX_KEYS];
};

static int list_row(void *ctx, const struct store_row *row)
{
    struct list_ctx *l = ctx;
    const struct plan *p = l->p;
    if (l->first_row) {
        l->first_row = false;
        if (row->vals[0]) buf_append(&l->pos, row->vals[0], row->lens[0]);
        if (p->col_auth >= 0) {
            l->auth_ok = store_row_true(row, p->col_auth);
            if (!l->auth_ok) return 1; /* nothing of this may be answered */
        }
        if (p->col_count >= 0 && row->vals[p->col_count]) l->total = store_row_int(row, p->col_count);
    }
    if (!row->vals[p->col_item + l->rc.c->pk_col]) return 0; /* an empty page: the position alone */
    if (l->rc.rows < l->rc.max) {
        buf_reset(&l->keys);
        for (int k = 0; k < l->nkeys; k++) {
            const char *v = row->vals[p->key_col[k]];
            l->key_null[k] = v == NULL;
            l->key_off[k] = l->keys.len;
            l->key_len[k] = v ? row->lens[p->key_col[k]] : 0;
            if (v) buf_append(&l->keys, v, l->key_len[k]);
        }
    }
    return render_row(&l->rc, row);
}

/* The columns of a list page read only as integers (store_exec_ints): the
 * position's count and guard, and the rendered fields whose type renders
 * from the integer (c->int_rendered, from the type table at start), but for
 * sort keys, whose text goes into the cursor. */
static uint64_t list_int_only(const struct plan *p, const struct collection *c, int nkeys)
{
    uint64_t m = p->col_item < 32 ? c->int_rendered << p->col_item : 0; /* at most 32 fields, 3 head columns */
    if (p->col_auth >= 0 && p->col_auth < 64) m |= 1ull << p->col_auth;
    if (p->col_count >= 0 && p->col_count < 64) m |= 1ull << p->col_count;
    for (int k = 0; k < nkeys; k++)
        if (p->key_col[k] >= 0 && p->key_col[k] < 64) m &= ~(1ull << p->key_col[k]);
    return m;
}

static void query_error(struct request *r, const struct lq_error *e)
{
    api_invalid(r, "query", e);
}

static void bad_cursor(struct request *r, const char *why)
{
    resp_invalid(r, "query", "cursor", why, "value_error");
}

void crud_list(struct ctx *x, const struct collection *c)
{
    struct request *r = x->r;
    const struct list_profile *pr = c->profile;
    struct list_query q, qc;
    struct lq_error qerr;
    struct plan p;
    struct buf out, canon;
    struct store_err err = {0};
    struct token t;
    bool have_q = false, have_qc = false, have_t = false, planned = false;
    struct wpos s;
    buf_init(&out);
    buf_init(&canon);

    if (lq_parse(c, r->url.pairs, r->url.npairs, &q, &qerr) < 0) {
        query_error(r, &qerr);
        return;
    }
    have_q = true;
    struct list_query *use = &q;
    struct plan_after after, *afterp = NULL;
    int64_t page = q.page;
    if (q.cursor) {
        if (!token_accept(x, c, TOKEN_CURSOR, q.cursor, q.cursor_len, &t)) {
            bad_cursor(r, "Invalid cursor: it is garbled, or was made for another list, scope or user");
            goto out;
        }
        have_t = true;
        if (t.query_hashed) {
            /* the walk's filters were too long to travel: the client sends them */
            char hash[65];
            lq_canonical(&q, &canon);
            crypto_sha256_hex(canon.data ? canon.data : "", canon.len, hash);
            if (!q.explicit_query || t.query_len != 64 || memcmp(hash, t.query, 64) != 0) {
                bad_cursor(r, "This walk's filters are too long to travel inside its cursor: send them with it, "
                              "exactly as on the first page");
                goto out;
            }
        } else {
            if (lq_parse_canonical(c, t.query, t.query_len, &qc, &qerr) < 0) {
                bad_cursor(r, "Invalid cursor");
                goto out;
            }
            have_qc = true;
            if (q.explicit_query) {
                lq_canonical(&q, &canon);
                if (canon.len != t.query_len || memcmp(canon.data, t.query, canon.len) != 0) {
                    bad_cursor(r, "This cursor was made for other filters or another sort: send them exactly as "
                                  "on the first page, or leave them out (the cursor carries them)");
                    goto out;
                }
            }
            qc.page_size = q.page_size;
            qc.include_total = q.include_total;
            use = &qc;
        }
        page = t.page + 1;
        after.s = &t.s;
        after.keys = t.keys;
        after.nkeys = t.nkeys;
        afterp = &after;
        s = t.s;
    }
    struct plan_scope sc = scope_of(x);
    planned = true;
    if (plan_list(use, x->d, &sc, afterp, &p) < 0) {
        if (afterp) bad_cursor(r, "Invalid cursor");
        else resp_invalid(r, "query", NULL, "Query too complex", "too_long");
        goto out;
    }

    buf_reserve(&out, 1024 + (size_t)use->page_size * 512); /* a page's answer, grown once if at all */
    buf_putc(&out, '{');
    buf_json_str(&out, pr->items_key, strlen(pr->items_key));
    buf_puts(&out, ":[");
    struct list_ctx l = {.rc = {c, &out, p.col_item, 0, use->page_size, NULL}, .p = &p, .nkeys = use->nsort,
                         .first_row = true};
    buf_init(&l.pos);
    buf_init(&l.keys);
    uint64_t int_only = list_int_only(&p, c, l.nkeys);
    long n = store_exec_ints(x->st, int_only, p.stmt.data, p.ps.p, p.ps.n, list_row, &l, &err);
    if (n == 0) {
        /* no row, so no position: the empty-page form reads both again in
         * one statement (its page may have rows by now; they are this page) */
        struct buf empty;
        buf_init(&empty);
        plan_list_empty_form(&p, &empty);
        n = store_exec_ints(x->st, int_only, empty.data, p.ps.p, p.ps.n, list_row, &l, &err);
        buf_free(&empty);
    }
    if (n < 0) {
        /* an error answer holds nothing the statement read: final, also on
         * the identity hint (running the list again would double the wait
         * of a database that is down or slow) */
        api_store_error(r, &err);
        x->guard_store_error = x->guarded;
        goto list_out;
    }
    if (p.col_auth >= 0) {
        /* the identity hint: kept only if the statement confirmed it */
        if (!l.auth_ok) {
            x->guard_failed = true;
            goto list_out;
        }
        x->guard_confirmed = true;
    }
    /* The statement checked membership itself; only an empty page needs to
     * tell "no rows" from "no such workspace (for you)", a 404. */
    if (l.rc.rows == 0 && c->scope == SCOPE_WORKSPACE && crud_workspace_visible(x, r->path_ws) <= 0) goto list_out;
    {
        struct wpos now;
        if (statement_pos(x, &l.pos, &now) < 0) goto list_out;
        if (!afterp) s = now;
        else if (token_from_the_future(&t.s, &now)) {
            bad_cursor(r, "This cursor is ahead of the database (was it restored from a backup?): start the walk "
                          "again");
            goto list_out;
        }
    }
    bool more = l.rc.rows > use->page_size;
    buf_putc(&out, ']');
    if (pr->pages) {
        bool has_next = use->include_total && !afterp ? page * (int64_t)use->page_size < l.total : more;
        buf_puts(&out, ",\"page\":");
        buf_put_i64(&out, page);
        buf_puts(&out, ",\"page_size\":");
        buf_put_i64(&out, use->page_size);
        buf_puts(&out, page > 1 ? ",\"has_previous\":true" : ",\"has_previous\":false");
        buf_puts(&out, has_next ? ",\"has_next\":true" : ",\"has_next\":false");
    }
    buf_puts(&out, ",\"next_cursor\":");
    size_t cursor_at = out.len + 1; /* where the token text will start */
    if (more) {
        struct token nt;
        token_for(x, c, TOKEN_CURSOR, &nt);
        nt.s = s;
        nt.page = page;
        buf_reset(&canon);
        lq_canonical(use, &canon);
        nt.query = canon.data;
        nt.query_len = canon.len;
        char hash[65];
        if (canon.len > CURSOR_QUERY_INLINE) {
            crypto_sha256_hex(canon.data, canon.len, hash);
            nt.query = hash;
            nt.query_len = 64;
            nt.query_hashed = true;
        }
        nt.nkeys = l.nkeys;
        for (int k = 0; k < l.nkeys; k++) {
            nt.keys[k].null = l.key_null[k];
            nt.keys[k].s = l.keys.data ? l.keys.data + l.key_off[k] : "";
            nt.keys[k].len = l.key_len[k];
        }
        put_token_json(&out, &nt);
        /* the same as a Link header (RFC 8288), for generic clients */
        struct buf link;
        buf_init(&link);
        buf_putc(&link, '<');
        for (int k = 0; k < r->url.nseg; k++) { /* the matched route's segments: words and UUIDs */
            buf_putc(&link, '/');
            buf_append(&link, r->url.seg[k], r->url.seg_len[k]);
        }
        buf_puts(&link, "?cursor=");
        buf_append(&link, out.data + cursor_at, out.len - 1 - cursor_at);
        buf_puts(&link, ">; rel=\"next\"");
        resp_header(r, "Link", link.data);
        buf_free(&link);
    } else {
        buf_puts(&out, "null");
    }
    {
        struct token st;
        token_for(x, c, TOKEN_FEED, &st);
        st.s = s;
        buf_puts(&out, ",\"sync_token\":");
        put_token_json(&out, &st);
    }
    if (use->include_total) {
        buf_puts(&out, ",\"total\":");
        buf_put_i64(&out, l.total);
    }
    buf_putc(&out, '}');
    resp_json(r, 200, &out);
list_out:
    buf_free(&l.pos);
    buf_free(&l.keys);
out:
    if (planned) plan_free(&p);
    if (have_q) lq_free(&q);
    if (have_qc) lq_free(&qc);
    if (have_t) token_free(&t);
    buf_free(&out);
    buf_free(&canon);
}

/* ---- change feeds ------------------------------------------------------ */

struct feed_ctx {
    const struct collection *c;
    const struct plan *p;
    struct buf *out;
    bool first_row;
    struct buf pos;
    int rows, max;
    int64_t last_seq;
    struct buf last_pk;
};

static int feed_row(void *ctx, const struct store_row *row)
{
    struct feed_ctx *f = ctx;
    const struct collection *c = f->c;
    const struct plan *p = f->p;
    if (f->first_row) {
        f->first_row = false;
        if (row->vals[0]) buf_append(&f->pos, row->vals[0], row->lens[0]);
    }
    const char *pk = row->vals[p->col_item + c->pk_col];
    if (!pk) return 0;
    if (f->rows >= f->max) {
        f->rows++;
        return 1;
    }
    if (f->rows) buf_putc(f->out, ',');
    const char *w = row->vals[p->col_keys], *del = row->vals[p->col_keys + 1];
    if (del && del[0] == '1') {
        buf_putc(f->out, '{');
        buf_json_str(f->out, c->pk->name, strlen(c->pk->name));
        buf_putc(f->out, ':');
        buf_json_str(f->out, pk, row->lens[p->col_item + c->pk_col]);
        buf_puts(f->out, ",\"deleted\":true}");
    } else {
        struct store_row item = {row->ncols - p->col_item, row->vals + p->col_item, row->lens + p->col_item,
                                 row->ints ? row->ints + p->col_item : NULL,
                                 row->is_int ? row->is_int + p->col_item : NULL};
        render_item(f->out, c, &item);
        f->out->len--; /* the closing brace: the item goes on */
        buf_puts(f->out, ",\"deleted\":false}");
    }
    f->last_seq = w ? strtoll(w, NULL, 10) : 0;
    buf_reset(&f->last_pk);
    buf_append(&f->last_pk, pk, row->lens[p->col_item + c->pk_col]);
    f->rows++;
    return 0;
}

void crud_changes(struct ctx *x, const struct collection *c)
{
    struct request *r = x->r;
    struct feed_query fq;
    struct lq_error qerr;
    struct token t;
    struct plan p;
    struct store_err err = {0};
    struct buf out;
    buf_init(&out);
    if (lq_parse_feed(r->url.pairs, r->url.npairs, &fq, &qerr) < 0) {
        query_error(r, &qerr);
        return;
    }
    if (!token_accept(x, c, TOKEN_FEED, fq.since, fq.since_len, &t)) {
        resp_invalid(r, "query", "since",
                     "Invalid since: use the sync_token of a list page or the next_since of a change feed page of "
                     "this list, as this user",
                     "value_error");
        return;
    }
    struct plan_scope sc = scope_of(x);
    if (plan_feed(c, x->d, &sc, &t, fq.limit, &p) < 0) {
        resp_invalid(r, "query", "since", "Invalid since", "value_error");
        goto out;
    }
    const char *key = c->profile->items_key;
    buf_putc(&out, '{');
    buf_json_str(&out, key, strlen(key));
    buf_puts(&out, ":[");
    struct feed_ctx f = {c, &p, &out, true, {0}, 0, fq.limit, 0, {0}};
    buf_init(&f.pos);
    buf_init(&f.last_pk);
    if (store_exec(x->st, p.stmt.data, p.ps.p, p.ps.n, feed_row, &f, &err) < 0) {
        api_store_error(r, &err);
        goto feed_out;
    }
    if (f.rows == 0 && c->scope == SCOPE_WORKSPACE && crud_workspace_visible(x, r->path_ws) <= 0) goto feed_out;
    struct wpos now;
    if (statement_pos(x, &f.pos, &now) < 0) goto feed_out;
    if (token_from_the_future(&t.s, &now) || (t.has_end && token_from_the_future(&t.e, &now))) {
        resp_invalid(r, "query", "since",
                     "This position is ahead of the database (was it restored from a backup?): list again and use "
                     "the new sync_token",
                     "value_error");
        goto feed_out;
    }
    bool more = f.rows > fq.limit;
    struct token nt;
    token_for(x, c, TOKEN_FEED, &nt);
    if (more) {
        /* the same window, from the last row on */
        nt.s = t.s;
        nt.has_end = true;
        nt.e = t.has_end ? t.e : now;
        nt.has_last = true;
        nt.last_seq = f.last_seq;
        nt.last_pk = f.last_pk.data;
        nt.last_pk_len = f.last_pk.len;
    } else {
        /* the window is done: what comes next is what its end did not hold */
        nt.s = t.has_end ? t.e : now;
    }
    buf_puts(&out, "],\"next_since\":");
    put_token_json(&out, &nt);
    buf_puts(&out, more ? ",\"has_more\":true}" : ",\"has_more\":false}");
    resp_json(r, 200, &out);
feed_out:
    buf_free(&f.pos);
    buf_free(&f.last_pk);
out:
    plan_free(&p);
    token_free(&t);
    buf_free(&out);
}

/* ---- get -------------------------------------------------------------- */

void crud_get(struct ctx *x, const struct collection *c, const char *id)
{
    bool include_deleted;
    struct store_err err = {0};
    struct buf item, clock;
    buf_init(&item);
    buf_init(&clock);
    if (item_query(x, c, &include_deleted) < 0) return;
    int found = crud_fetch_item(x, c, id, include_deleted, &item, &clock, &err);
    if (found < 0)
        api_store_error(x->r, &err);
    else if (x->guarded && !x->guard_confirmed)
        ; /* on the identity hint, unconfirmed: the caller runs it again */
    else if (!found)
        crud_not_found(x, c);
    else
        crud_answer_item(x, 200, &item, &clock);
    buf_free(&item);
    buf_free(&clock);
}

/* ---- writes ----------------------------------------------------------- */

/* Checks that each given reference names a live row of the same workspace.
 * W_DONE ok, W_ANSWERED (422), W_FAIL (err). */
static int check_refs(struct wtx *w, struct ctx *x, const struct collection *c, const struct body *b,
                      const char *self_id, struct store_err *err)
{
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        const struct body_value *v = &b->v[i];
        if (!f->references || !v->present || v->p.type == SP_NULL) continue;
        const struct collection *rc = collection_by_name(f->references, strlen(f->references));
        if (self_id && rc == c && strncmp(v->p.s, self_id, v->p.len) == 0) {
            resp_invalid(x->r, "body", f->name, "A row cannot refer to itself", "value_error");
            return W_ANSWERED;
        }
        struct buf sql;
        struct plan_params ps;
        buf_init(&sql);
        plan_params_init(&ps);
        buf_printf(&sql, "SELECT 1 FROM %s t WHERE t.%s = ", rc->table, rc->pk->column);
        ph(x, &sql, plan_param(&ps, v->p));
        if (rc->workspace_field) {
            buf_printf(&sql, " AND t.%s = ", rc->workspace_field->column);
            ph(x, &sql, plan_param(&ps, sp_text(x->r->path_ws, strlen(x->r->path_ws))));
        }
        if (rc->soft_delete) buf_printf(&sql, " AND t.%s IS NULL", rc->deleted_at->column);
        /* a row that can be soft-deleted is held (FOR SHARE) until COMMIT, so
         * a delete racing this write waits or makes it run again; rows that
         * cannot (jobs) only need the foreign key's KEY SHARE, and FOR SHARE
         * between two jobs referring to each other could deadlock */
        if (rc->soft_delete) buf_puts(&sql, w->d->for_share);
        long n = store_exec(w->st, sql.data, ps.p, ps.n, NULL, NULL, err);
        buf_free(&sql);
        plan_params_free(&ps);
        if (n < 0) return W_FAIL;
        if (n == 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "No %s with this id in this workspace", rc->item_name);
            resp_invalid(x->r, "body", f->name, msg, "foreign_key");
            return W_ANSWERED;
        }
    }
    return W_DONE;
}

/* Rewrites the side table of tags for item id from the canonical JSON (an
 * array of distinct strings): one statement whatever their number, from the
 * item's row (so a create that inserted none inserts no tags), queued with
 * the write's other statements. */
static int write_tags(struct wtx *w, const struct collection *c, const char *id, const struct body_value *v,
                      bool replace, struct store_err *err)
{
    char sql[400], from[80];
    char pf = w->d->param_prefix;
    struct store_param p[2] = {sp_text(id, strlen(id)), v->p};
    if (replace) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = %c1", c->tag_table, c->tag_fk, pf);
        if (store_exec_later(w->st, sql, p, 1, err) < 0) return -1;
    }
    if (v->p.type != SP_TEXT || v->p.len <= 2) return 0; /* [] */
    snprintf(from, sizeof from, w->d->json_elements_fmt, pf, 2);
    snprintf(sql, sizeof sql, "INSERT INTO %s (%s, tag) SELECT t.%s, j.value FROM %s t, %s WHERE t.%s = %c1",
             c->tag_table, c->tag_fk, c->pk->column, c->table, from, c->pk->column, pf);
    return store_exec_later(w->st, sql, p, 2, err);
}

/* Whether b gives a reference to another row (check_refs checks it). */
static bool gives_refs(const struct collection *c, const struct body *b)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (c->fields[i].references && b->v[i].present && b->v[i].p.type != SP_NULL) return true;
    return false;
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

/* What one write of an item carries through the write path. */
struct item_write {
    struct ctx *x;
    const struct collection *c;
    struct body *b;
    const char *id;
    enum body_mode mode;
    const struct precond *pre;
    struct buf item, clock; /* the answer */
};

static int create_body(struct wtx *w, void *arg, struct store_err *err)
{
    struct item_write *iw = arg;
    struct ctx *x = iw->x;
    const struct collection *c = iw->c;
    const struct body *b = iw->b;
    struct buf sql, cols, clock;
    struct plan_params ps;
    int rc = W_FAIL;
    buf_init(&sql), buf_init(&cols), buf_init(&clock);
    plan_params_init(&ps);
    buf_reset(&iw->item);
    buf_reset(&iw->clock);
    struct vclock vc = {0};
    vclock_tick(&vc, api_node_id);
    vclock_render(&vc, &clock);

    /* The workspace: a member's membership is held FOR SHARE until COMMIT
     * (so a removal racing the create is ordered with it), an admin's
     * workspace must exist.  Both are checked by the INSERT itself (it
     * selects its row from the membership, or the workspace, and so writes
     * nothing without one) -- except before references, which are checked
     * after the workspace (404 before 422) and after the membership lock, in
     * the lock order of every write. */
    bool in_ws = c->scope == SCOPE_WORKSPACE, refs = gives_refs(c, b);
    if (in_ws && refs && (rc = write_check_workspace(w, x, x->r->path_ws, err)) != W_DONE) goto out;
    /* References are checked inside the transaction (the insert's foreign
     * keys then hold them until COMMIT). */
    if ((rc = check_refs(w, x, c, b, NULL, err)) != W_DONE) goto out;
    rc = W_FAIL;
    buf_printf(&sql, "INSERT INTO %s (", c->table);
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        const struct body_value *v = &b->v[i];
        struct store_param val = sp_null();
        if (v->present) {
            val = v->p;
        } else {
            switch (f->autofill) {
            case A_NEW_ID: val = sp_text(iw->id, 36); break;
            case A_NOW:
            case A_NOW_ALWAYS: val = sp_int(x->r->now_us); break;
            case A_CALLER: val = sp_text(x->who.user_id, strlen(x->who.user_id)); break;
            case A_WORKSPACE: val = sp_text(x->r->path_ws, strlen(x->r->path_ws)); break;
            case A_CLOCK: val = sp_text(clock.data, clock.len); break;
            case A_SEQ: val = sp_int(w->pos); break;
            default: break; /* derived fields (A_LOWER_OF) come filled by body_parse */
            }
        }
        /* created_at given by an admin also sets updated_at */
        if (f->autofill == A_NOW_ALWAYS) {
            const struct field *ca = collection_field(c, "created_at", 10);
            if (ca && b->v[ca - c->fields].present) val = b->v[ca - c->fields].p;
        }
        if (i) buf_puts(&cols, ", ");
        buf_puts(&sql, i ? ", " : "");
        buf_puts(&sql, f->column);
        ph(x, &cols, plan_param(&ps, val));
    }
    bool folded = in_ws && !refs;
    if (!folded) {
        buf_puts(&sql, ") VALUES (");
        buf_append(&sql, cols.data, cols.len);
        buf_putc(&sql, ')');
    } else {
        buf_puts(&sql, ") SELECT ");
        buf_append(&sql, cols.data, cols.len);
        if (x->who.is_admin) {
            buf_puts(&sql, " FROM workspaces w WHERE w.workspace_id = ");
            ph(x, &sql, plan_param(&ps, sp_text(x->r->path_ws, strlen(x->r->path_ws))));
        } else {
            buf_puts(&sql, " FROM workspace_members m WHERE m.workspace_id = ");
            ph(x, &sql, plan_param(&ps, sp_text(x->r->path_ws, strlen(x->r->path_ws))));
            buf_puts(&sql, " AND m.user_id = ");
            ph(x, &sql, plan_param(&ps, sp_text(x->who.user_id, strlen(x->who.user_id))));
            buf_puts(&sql, " AND m.removed_at IS NULL");
            buf_puts(&sql, w->d->for_share);
        }
    }
    if (store_exec_later(w->st, sql.data, ps.p, ps.n, err) < 0) goto out;
    if (c->tags_field && write_tags(w, c, iw->id, &b->v[c->tags_field - c->fields], false, err) < 0) goto out;
    if (c == &coll_workspaces) {
        /* the creator becomes a member */
        char msql[200];
        snprintf(msql, sizeof msql,
                 "INSERT INTO workspace_members (workspace_id, user_id, created_at, seq) VALUES (%c1, %c2, %c3, %c4)",
                 w->d->param_prefix, w->d->param_prefix, w->d->param_prefix, w->d->param_prefix);
        struct store_param mp[4] = {sp_text(iw->id, 36), sp_text(x->who.user_id, strlen(x->who.user_id)),
                                    sp_int(x->r->now_us), sp_int(w->pos)};
        if (store_exec_later(w->st, msql, mp, 4, err) < 0) goto out;
    }
    /* the answer, read back and committed in one */
    int found = fetch_item(x, w, c, iw->id, true, &iw->item, &iw->clock, err);
    if (found < 0) goto out;
    if (!found && folded) { /* no membership (or workspace): nothing was written */
        resp_error(x->r, 404, "Workspace not found");
        rc = W_ANSWERED;
        goto out;
    }
    if (!found) {
        err->kind = STORE_ERROR;
        snprintf(err->msg, sizeof err->msg, "the new %s %s was not found after its insert", c->item_name, iw->id);
        goto out;
    }
    rc = W_DONE;
out:
    buf_free(&sql), buf_free(&cols), buf_free(&clock);
    plan_params_free(&ps);
    return rc;
}

void crud_create(struct ctx *x, const struct collection *c)
{
    struct body b;
    struct store_err err = {0};
    char id[37];
    struct item_write iw = {.x = x, .c = c, .b = &b, .id = id};
    buf_init(&iw.item), buf_init(&iw.clock);
    memset(&b, 0, sizeof b);

    if (body_parse(x, c, BODY_CREATE, &b) < 0) {
        workspace_first(x, c);
        goto out;
    }
    uuid7_new(id);
    int rc = write_run(x->st, create_body, &iw, &err);
    if (rc == W_FAIL) conflict(x, c, &err);
    if (rc != W_DONE) goto out;
    location(x, c, id);
    crud_answer_item(x, 201, &iw.item, &iw.clock);
out:
    body_free(&b);
    buf_free(&iw.item), buf_free(&iw.clock);
}

/* If-Match, parsed once before the write: 0 go on, -1 answered. */
static int write_precondition(struct ctx *x, struct precond *pre)
{
    const char *h = req_header(x->r, "If-Match");
    precond_parse_if_match(h, pre);
    if (!pre->present && api_require_if_match) {
        resp_error(x->r, 428,
                   "Precondition Required: send If-Match with the item's ETag (this server runs with "
                   "--require-if-match)");
        return -1;
    }
    return 0; /* an invalid clock is answered by the write path, after the item is found (404 first) */
}

static int update_body(struct wtx *w, void *arg, struct store_err *err)
{
    struct item_write *iw = arg;
    struct ctx *x = iw->x;
    const struct collection *c = iw->c;
    const struct body *b = iw->b;
    struct plan_scope sc = scope_of(x);
    struct buf sql, clock;
    struct plan_params ps;
    int rc;
    buf_init(&sql), buf_init(&clock);
    plan_params_init(&ps);
    buf_reset(&iw->item);
    buf_reset(&iw->clock);
    if ((rc = write_lock_item(w, x, c, &sc, iw->id, iw->pre, &clock, err)) != W_DONE) goto out;
    if (b && (rc = check_refs(w, x, c, b, iw->id, err)) != W_DONE) goto out;
    rc = W_FAIL;
    buf_printf(&sql, "UPDATE %s SET ", c->table);
    bool first = true;
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        const struct body_value *v = b ? &b->v[i] : NULL;
        struct store_param val;
        if (v && v->present) {
            val = v->p;
        } else if (!b && f == c->deleted_at) {
            val = sp_int(x->r->now_us); /* a delete */
        } else if (f->autofill == A_NOW_ALWAYS) {
            val = sp_int(x->r->now_us);
        } else if (f->autofill == A_CLOCK) {
            val = sp_text(clock.data, clock.len);
        } else if (f->autofill == A_SEQ) {
            val = sp_int(w->pos);
        } else {
            continue;
        }
        buf_printf(&sql, "%s%s = ", first ? "" : ", ", f->column);
        ph(x, &sql, plan_param(&ps, val));
        first = false;
    }
    buf_printf(&sql, " WHERE %s = ", c->pk->column);
    ph(x, &sql, plan_param(&ps, sp_text(iw->id, strlen(iw->id))));
    /* queued: they go with the read-back (or a delete's COMMIT) */
    if (store_exec_later(w->st, sql.data, ps.p, ps.n, err) < 0) goto out;
    if (b && c->tags_field && b->v[c->tags_field - c->fields].present &&
        write_tags(w, c, iw->id, &b->v[c->tags_field - c->fields], true, err) < 0)
        goto out;
    if (b) {
        /* the answer, read back and committed in one; the row is locked and
         * live, so it is there */
        int found = fetch_item(x, w, c, iw->id, false, &iw->item, &iw->clock, err);
        if (found < 0) goto out;
        if (!found) {
            err->kind = STORE_ERROR;
            snprintf(err->msg, sizeof err->msg, "%s %s was not found after its update", c->item_name, iw->id);
            goto out;
        }
    }
    rc = W_DONE;
out:
    buf_free(&sql), buf_free(&clock);
    plan_params_free(&ps);
    return rc;
}

void crud_update(struct ctx *x, const struct collection *c, const char *id, enum body_mode mode)
{
    struct body b;
    struct store_err err = {0};
    struct precond pre;
    struct item_write iw = {.x = x, .c = c, .b = &b, .id = id, .mode = mode, .pre = &pre};
    buf_init(&iw.item), buf_init(&iw.clock);
    memset(&b, 0, sizeof b);

    if (body_parse(x, c, mode, &b) < 0 || write_precondition(x, &pre) < 0) {
        workspace_first(x, c);
        goto out;
    }
    int rc = write_run(x->st, update_body, &iw, &err);
    if (rc == W_FAIL) conflict(x, c, &err);
    if (rc == W_DONE) crud_answer_item(x, 200, &iw.item, &iw.clock);
out:
    body_free(&b);
    buf_free(&iw.item), buf_free(&iw.clock);
}

void crud_delete(struct ctx *x, const struct collection *c, const char *id)
{
    struct store_err err = {0};
    struct precond pre;
    struct item_write iw = {.x = x, .c = c, .b = NULL, .id = id, .pre = &pre};
    buf_init(&iw.item), buf_init(&iw.clock);
    if (x->r->url.npairs) {
        resp_invalid(x->r, "query", NULL, "DELETE takes no query parameters", "extra_forbidden");
        goto out;
    }
    if (write_precondition(x, &pre) < 0) {
        workspace_first(x, c);
        goto out;
    }
    int rc = write_run(x->st, update_body, &iw, &err);
    if (rc == W_FAIL) api_store_error(x->r, &err);
    if (rc == W_DONE) resp_empty(x->r, 204);
out:
    buf_free(&iw.item), buf_free(&iw.clock);
}
