/*
 * write — the one write path (see api_int.h).
 *
 * A write transaction:
 *   BEGIN (SQLite IMMEDIATE: the one write lock; PostgreSQL REPEATABLE READ)
 *   -> its position (SQLite: the counter, bumped once; PostgreSQL: the
 *      trigger stamps the transaction id on every row written)
 *   -> body: lock the item (write_lock_item), preconditions, writes
 *   -> COMMIT; only then is the request answered 2xx.
 * Round trips (PostgreSQL): the BEGIN goes with the body's first statement;
 * writes whose answers the body does not read are queued
 * (store_exec_later) and go with the next statement it does read; the last
 * one (write_exec_last: the read-back of the item written) goes with the
 * COMMIT, or store_commit sends what is queued with it.  A create is one
 * round trip (plus one per reference it checks), an update two (the lock;
 * then the writes, the read-back and the COMMIT; a member's membership lock
 * is one more), whatever its number of statements.  Nothing changes in what
 * is decided where: every statement still runs in order in the one
 * transaction, and the answer waits for the COMMIT's.
 * A serialization failure (a row changed after the snapshot) or a deadlock
 * (which the lock order should make impossible; kept as a safety net) rolls
 * back and runs the whole transaction again, at most WRITE_ATTEMPTS times
 * with a short random pause, then it is a 503.
 *
 * Why preconditions are race-free: the If-Match comparison reads the
 * stored clock after the row is locked, inside the transaction that writes
 * it.  On SQLite the write lock is held from BEGIN.  On PostgreSQL a
 * second writer waits on the row lock; when the first commits, the second
 * fails with 40001 (REPEATABLE READ: the row changed after its snapshot),
 * runs again, and then compares against the first one's clock.
 */
#include "api_int.h"

#include "../grammar/plan.h"
#include "../util/crypto.h"
#include "../util/vclock.h"
#include "precond.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Retries of one write: as long as this much time has not passed since
 * its first attempt (and at most this many attempts).  Under contention on
 * one row (PostgreSQL, REPEATABLE READ) every waiter fails once each time a
 * writer of that row commits, so the budget is time, not a small count. */
#define WRITE_RETRY_MS 2000
#define WRITE_ATTEMPTS 200

static void set_err(struct store_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An error of ours (no request to answer: bootstrap, command line). */
static void set_err(struct store_err *err, const char *fmt, ...)
{
    va_list ap;
    err->kind = STORE_ERROR;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

static void pause_before_retry(int attempt)
{
    unsigned char r;
    crypto_random_fast(&r, 1);
    long us = (long)(1 + r % 8) * 250L * (1L << (attempt < 4 ? attempt : 4)); /* 0.25..2 ms, doubling to 4..32 */
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(struct store *st, enum store_tx mode, write_body_fn body, void *arg, struct store_err *err);

int write_run(struct store *st, write_body_fn body, void *arg, struct store_err *err)
{
    return run(st, STORE_TX_WRITE, body, arg, err);
}

int write_run_serializable(struct store *st, write_body_fn body, void *arg, struct store_err *err)
{
    return run(st, STORE_TX_SERIALIZABLE, body, arg, err);
}

static int run(struct store *st, enum store_tx mode, write_body_fn body, void *arg, struct store_err *err)
{
    struct wtx w = {.st = st, .d = store_dialect(st)};
    int64_t start = mono_ms();
    for (w.attempt = 0;; w.attempt++) {
        int rc = W_FAIL;
        memset(err, 0, sizeof *err);
        w.committed = false;
        if (store_begin_tx(st, mode, err) < 0) goto failed;
        if (store_write_position(st, &w.pos, err) < 0) goto rollback;
        rc = body(&w, arg, err);
        if (w.committed) { /* write_exec_last ended the transaction */
            if (rc != W_FAIL) return rc;
            goto failed;
        }
        if (rc != W_DONE) goto rollback;
        if (store_commit(st, err) < 0) {
            rc = W_FAIL;
            goto failed;
        }
        return W_DONE;
    rollback:
        store_rollback(st);
        if (rc == W_ANSWERED || rc == W_REFUSED) return rc;
    failed:
        if (err->kind != STORE_RETRY || w.attempt + 1 >= WRITE_ATTEMPTS || mono_ms() - start > WRITE_RETRY_MS)
            return W_FAIL;
        pause_before_retry(w.attempt);
    }
}

long write_exec_last(struct wtx *w, const char *sql, const struct store_param *p, int np, store_row_fn fn, void *ctx,
                     struct store_err *err)
{
    w->committed = true;
    return store_exec_commit(w->st, sql, p, np, fn, ctx, err);
}

struct clock_row {
    struct buf text;
    bool found, deleted;
};

static int read_clock_text(void *ctx, const struct store_row *row)
{
    struct clock_row *cr = ctx;
    cr->found = true;
    buf_reset(&cr->text);
    if (row->vals[0]) buf_append(&cr->text, row->vals[0], row->lens[0]);
    cr->deleted = row->ncols > 1 && row->vals[1] != NULL;
    return 0;
}

static int answer_conflict(struct wtx *w, struct ctx *x, const struct collection *c, const char *id, int status,
                           const char *detail, bool include_deleted, struct store_err *err)
{
    struct buf item, clock, out;
    buf_init(&item), buf_init(&clock), buf_init(&out);
    int rc = W_FAIL;
    (void)w;
    if (!x->r) { /* no request (bootstrap, command line): nobody to answer */
        set_err(err, "%s", detail);
        goto out;
    }
    if (crud_fetch_item(x, c, id, include_deleted, &item, &clock, err) < 0) goto out;
    buf_puts(&out, "{\"detail\":");
    buf_json_str(&out, detail, strlen(detail));
    buf_puts(&out, ",\"current\":");
    buf_append(&out, item.data ? item.data : "null", item.data ? item.len : 4);
    buf_putc(&out, '}');
    crud_answer_item(x, status, &out, &clock);
    rc = W_ANSWERED;
out:
    buf_free(&item), buf_free(&clock), buf_free(&out);
    return rc;
}

int write_answer_conflict(struct wtx *w, struct ctx *x, const struct collection *c, const char *id, int status,
                          const char *detail, struct store_err *err)
{
    return answer_conflict(w, x, c, id, status, detail, false, err);
}

/* Runs sql, which reads the workspace's row or the caller's membership:
 * W_DONE if it found one; else the workspace is not found (a 404 for a
 * request, `missing` for a write with none, such as a seed's). */
static int workspace_found(struct wtx *w, struct ctx *x, const char *sql, const struct store_param *p, int np,
                           const char *missing, struct store_err *err)
{
    long n = store_exec(w->st, sql, p, np, NULL, NULL, err);
    if (n < 0) return W_FAIL;
    if (n > 0) return W_DONE;
    if (!x->r) {
        set_err(err, "%s", missing);
        return W_FAIL;
    }
    resp_error(x->r, 404, "Workspace not found");
    return W_ANSWERED;
}

int write_lock_membership(struct wtx *w, struct ctx *x, const char *ws, const char *user_id, struct store_err *err)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT 1 FROM workspace_members WHERE workspace_id = %c1 AND user_id = %c2 AND removed_at IS NULL%s",
             w->d->param_prefix, w->d->param_prefix, w->d->for_share);
    struct store_param p[2] = {sp_text(ws, strlen(ws)), sp_text(user_id, strlen(user_id))};
    return workspace_found(w, x, sql, p, 2, "not a member of this workspace", err);
}

int write_check_workspace(struct wtx *w, struct ctx *x, const char *ws, struct store_err *err)
{
    if (!x->who.is_admin) return write_lock_membership(w, x, ws, x->who.user_id, err);
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT 1 FROM workspaces WHERE workspace_id = %c1", w->d->param_prefix);
    struct store_param p = sp_text(ws, strlen(ws));
    return workspace_found(w, x, sql, &p, 1, "no such workspace", err);
}

/* What a client's clock C may bring into the stored one S beyond S <= C
 * (precond_check), checked before the comparison's answer.  A counter
 * ahead of S's names writes nobody saw on this item.  On this server's own
 * entry that is certain (a made-up or corrupted clock, or another item's
 * ETag) and merging it would wedge this server's counter: 412.  On another
 * entry it may be a client's or a device's own count (FireMode v1), which
 * the contract merges; but a server of the same database (there is no
 * telling which ids are servers') would be wedged the same way by a count
 * near 2^53 merged in through any other: so no counter C raises may pass
 * VCLOCK_CLIENT_MAX_COUNTER (412); and the entries C adds may not take a
 * clock past VCLOCK_CLIENT_MAX of its 64 (409, at the merge, once C is
 * known to apply), which leaves the servers room for their own first
 * writes of the item.  W_DONE: go on. */
static int check_client_clock(struct wtx *w, struct ctx *x, const struct collection *c, const char *id,
                              const struct vclock *stored, const struct vclock *client, struct store_err *err)
{
    for (int i = 0; i < client->n; i++) {
        int64_t mine = 0;
        for (int k = 0; k < stored->n; k++)
            if (strcmp(stored->e[k].node, client->e[i].node) == 0) mine = stored->e[k].counter;
        if (client->e[i].counter <= mine) continue;
        if (strcmp(client->e[i].node, api_node_id) == 0)
            return write_answer_conflict(w, x, c, id, 412,
                                         "Invalid vector clock in If-Match header: it counts more writes by this "
                                         "server than the item has",
                                         err);
        if (client->e[i].counter > VCLOCK_CLIENT_MAX_COUNTER)
            return write_answer_conflict(w, x, c, id, 412,
                                         "Invalid vector clock in If-Match header: a counter it raises is over "
                                         "2^32",
                                         err);
    }
    return W_DONE;
}

int write_lock_item(struct wtx *w, struct ctx *x, const struct collection *c, const struct plan_scope *scope,
                    const char *id, const struct precond *pre, struct buf *clock, struct store_err *err)
{
    struct buf sql;
    struct plan_params ps;
    struct clock_row cr = {.found = false};
    struct vclock vc;
    int rc = W_FAIL;
    buf_init(&sql);
    buf_init(&cr.text);
    plan_params_init(&ps);
    if (c->scope == SCOPE_WORKSPACE && !scope->is_admin &&
        (rc = write_lock_membership(w, x, scope->workspace_id, scope->user_id, err)) != W_DONE)
        goto out;
    rc = W_FAIL;
    /* the row, deleted or not: a client that sends If-Match for an item
     * deleted since it read it learns that (412), others get a 404 */
    buf_printf(&sql, "SELECT t.%s, %s%s FROM %s t WHERE t.%s = ", c->clock_field->column,
               c->soft_delete ? "t." : "NULL", c->soft_delete ? c->deleted_at->column : "", c->table, c->pk->column);
    plan_placeholder(&sql, w->d, plan_param(&ps, sp_text(id, strlen(id))));
    if (plan_scope_clause(&sql, w->d, c, scope, &ps) < 0) {
        set_err(err, "too many parameters");
        goto out;
    }
    buf_puts(&sql, w->d->for_update);
    if (store_exec(w->st, sql.data, ps.p, ps.n, read_clock_text, &cr, err) < 0) goto out;
    bool conditional = pre && pre->present;
    if (cr.found && cr.deleted && conditional) {
        rc = answer_conflict(w, x, c, id, 412, "Precondition failed: this item was deleted since that version", true,
                             err);
        goto out;
    }
    if (!cr.found || cr.deleted) {
        if (!x->r) {
            set_err(err, "%s %s not found", c->item_name, id);
            goto out;
        }
        /* an admin's workspace was not checked yet (a member's was, above):
         * a missing one is what is not found */
        if (c->scope == SCOPE_WORKSPACE && scope->is_admin &&
            (rc = write_check_workspace(w, x, scope->workspace_id, err)) != W_DONE)
            goto out;
        crud_not_found(x, c);
        rc = W_ANSWERED;
        goto out;
    }
    if (!vclock_parse(cr.text.data ? cr.text.data : "", cr.text.len, &vc)) {
        /* Never reset: an empty clock would let any stale client pass. */
        fprintf(stderr, "firemode: %s %s has a stored vector clock that cannot be read: %.200s\n", c->item_name, id,
                cr.text.data ? cr.text.data : "");
        if (x->r) resp_error(x->r, 500, "The stored version of this %s cannot be read", c->item_name);
        rc = W_ANSWERED;
        goto out;
    }
    if (pre && pre->invalid) {
        rc = write_answer_conflict(w, x, c, id, 412, "Invalid vector clock in If-Match header", err);
        goto out;
    }
    const struct vclock *client = NULL;
    enum precond_result pr = pre ? precond_check(pre, &vc, &client) : PRECOND_APPLY;
    if (client && (rc = check_client_clock(w, x, c, id, &vc, client, err)) != W_DONE) goto out;
    rc = W_FAIL;
    if (pr == PRECOND_STALE) {
        rc = write_answer_conflict(w, x, c, id, 412,
                                   "Precondition failed: this item was changed since the version in If-Match", err);
        goto out;
    }
    if (pr == PRECOND_CONCURRENT) {
        rc = write_answer_conflict(w, x, c, id, 409,
                                   "Conflict: the version in If-Match is concurrent with the stored one", err);
        goto out;
    }
    /* stored := merge(stored, client), then this server's entry + 1.  A
     * clock may hold at most 64 entries: a write that would pass that is
     * refused (409) rather than dropping an entry, which could make an old
     * version look new; and the entries a client adds may take it to 48 at
     * most (check_client_clock). */
    if (client) {
        int before = vc.n;
        if (!vclock_merge(&vc, client) || (vc.n > before && vc.n > VCLOCK_CLIENT_MAX)) {
            rc = write_answer_conflict(w, x, c, id, 409,
                                       "Conflict: the entries this vector clock adds would take the item's past 48, "
                                       "the last 16 of its 64 being for servers' own",
                                       err);
            goto out;
        }
    }
    if (!vclock_tick(&vc, api_node_id)) {
        rc = write_answer_conflict(w, x, c, id, 409,
                                   "Conflict: the vector clock of this item would exceed 64 entries or its "
                                   "counter limit",
                                   err);
        goto out;
    }
    buf_reset(clock);
    vclock_render(&vc, clock);
    rc = W_DONE;
out:
    buf_free(&sql);
    buf_free(&cr.text);
    plan_params_free(&ps);
    return rc;
}
