/*
 * write — the one write path (see api_int.h).
 *
 * A write transaction:
 *   BEGIN (SQLite IMMEDIATE: the one write lock; PostgreSQL REPEATABLE READ)
 *   -> its position (SQLite: the counter, bumped once; PostgreSQL: the
 *      trigger stamps the transaction id on every row written)
 *   -> body: lock the item (write_lock_item), preconditions, writes
 *   -> COMMIT; only then is the request answered 2xx.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITE_ATTEMPTS 8

static void set_err(struct store_err *err, const char *msg, const char *arg1, const char *arg2)
{
    err->kind = STORE_ERROR;
    snprintf(err->msg, sizeof err->msg, msg, arg1, arg2);
}

static void pause_before_retry(int attempt)
{
    unsigned char r;
    crypto_random(&r, 1);
    long us = (long)(1 + r % 8) * 500L * (1L << (attempt < 5 ? attempt : 5)); /* 0.5..4 ms, doubling */
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

int write_run(struct store *st, write_body_fn body, void *arg, struct store_err *err)
{
    struct wtx w = {.st = st, .d = store_dialect(st)};
    for (w.attempt = 0;; w.attempt++) {
        int rc = W_FAIL;
        memset(err, 0, sizeof *err);
        if (store_begin(st, true, err) < 0) goto failed;
        if (store_write_position(st, &w.pos, err) < 0) goto rollback;
        rc = body(&w, arg, err);
        if (rc != W_DONE) goto rollback;
        if (store_commit(st, err) < 0) {
            rc = W_FAIL;
            goto failed;
        }
        return W_DONE;
    rollback:
        store_rollback(st);
        if (rc == W_ANSWERED) return rc;
    failed:
        if (err->kind != STORE_RETRY || w.attempt + 1 >= WRITE_ATTEMPTS) return W_FAIL;
        pause_before_retry(w.attempt);
    }
}

struct clock_row {
    struct buf text;
    bool found;
};

static int read_clock_text(void *ctx, const struct store_row *row)
{
    struct clock_row *cr = ctx;
    cr->found = true;
    buf_reset(&cr->text);
    if (row->vals[0]) buf_append(&cr->text, row->vals[0], row->lens[0]);
    return 0;
}

int write_answer_conflict(struct wtx *w, struct ctx *x, const struct collection *c, const char *id, int status,
                          const char *detail, struct store_err *err)
{
    struct buf item, clock, out;
    buf_init(&item), buf_init(&clock), buf_init(&out);
    int rc = W_FAIL;
    (void)w;
    if (!x->r) { /* no request (bootstrap, command line): nobody to answer */
        set_err(err, "%s%s", detail, "");
        goto out;
    }
    if (crud_fetch_item(x, c, id, false, &item, &clock, err) < 0) goto out;
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
    buf_printf(&sql, "SELECT t.%s FROM %s t WHERE t.%s = ", c->clock_field->column, c->table, c->pk->column);
    plan_placeholder(&sql, w->d, plan_param(&ps, sp_text(id, strlen(id))));
    if (plan_scope_clause(&sql, w->d, c, scope, &ps) < 0) {
        set_err(err, "%s%s", "too many parameters", "");
        goto out;
    }
    if (c->soft_delete) buf_printf(&sql, " AND t.%s IS NULL", c->deleted_at->column);
    buf_puts(&sql, w->d->for_update);
    if (store_exec(w->st, sql.data, ps.p, ps.n, read_clock_text, &cr, err) < 0) goto out;
    if (!cr.found) {
        if (!x->r) {
            set_err(err, "%s %s not found", c->item_name, id);
            goto out;
        }
        resp_error(x->r, 404, "%c%s not found", c->item_name[0] - 32, c->item_name + 1);
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
    const struct vclock *client = NULL;
    enum precond_result pr = pre ? precond_check(pre, &vc, &client) : PRECOND_APPLY;
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
     * version look new. */
    if ((client && !vclock_merge(&vc, client)) || !vclock_tick(&vc, api_node_id)) {
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
