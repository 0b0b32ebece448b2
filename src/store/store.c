/*
 * store — dispatch from a database URL to its backend, and what is the same
 * for every backend: migrations and error reporting.
 */
#include "store_int.h"

#include "../util/buf.h"
#include "../util/crypto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_timeout_ms = 2000;

void store_set_timeout_ms(int ms)
{
    store_timeout_ms = ms;
}

int store_fail(struct store_err *err, enum store_kind kind, const char *fmt, ...)
{
    if (!err) return -1;
    err->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

bool store_url_valid(const char *url)
{
    if (has_prefix(url, "sqlite:")) return url[7] != '\0';
    return has_prefix(url, "postgresql://") || has_prefix(url, "postgres://");
}

struct store *store_open(const char *url, struct store_err *err)
{
    if (has_prefix(url, "sqlite:") && url[7]) return store_sqlite_open(url + 7, err);
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) return store_pg_open(url, err);
    store_fail(err, STORE_ERROR, "unsupported database URL (want sqlite:PATH or postgresql://...)");
    return NULL;
}

void store_close(struct store *st)
{
    if (st) st->ops->close(st);
}

const struct dialect *store_dialect(const struct store *st)
{
    return st->dialect;
}

long store_exec(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn, void *ctx,
                struct store_err *err)
{
    return st->ops->exec(st, sql, p, np, fn, ctx, err);
}

long store_exec_ints(struct store *st, uint64_t int_only, const char *sql, const struct store_param *p, int np,
                     store_row_fn fn, void *ctx, struct store_err *err)
{
    st->int_only = int_only;
    long n = st->ops->exec(st, sql, p, np, fn, ctx, err);
    st->int_only = 0;
    return n;
}

int store_exec_later(struct store *st, const char *sql, const struct store_param *p, int np, struct store_err *err)
{
    if (st->ops->exec_later) return st->ops->exec_later(st, sql, p, np, err);
    return st->ops->exec(st, sql, p, np, NULL, NULL, err) < 0 ? -1 : 0;
}

long store_exec_commit(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn,
                       void *ctx, struct store_err *err)
{
    if (st->ops->exec_commit) return st->ops->exec_commit(st, sql, p, np, fn, ctx, err);
    long rows = st->ops->exec(st, sql, p, np, fn, ctx, err);
    if (rows < 0 || st->ops->commit(st, err) < 0) {
        st->ops->rollback(st); /* over either way */
        return -1;
    }
    return rows;
}

int store_begin(struct store *st, bool write, struct store_err *err)
{
    return store_begin_tx(st, write ? STORE_TX_WRITE : STORE_TX_READ, err);
}

int store_begin_tx(struct store *st, enum store_tx mode, struct store_err *err)
{
    return st->ops->begin(st, mode, err);
}

int store_commit(struct store *st, struct store_err *err)
{
    return st->ops->commit(st, err);
}

void store_rollback(struct store *st)
{
    if (!st) return;
    st->ops->rollback(st);
}

int store_ping(struct store *st, struct store_err *err)
{
    return st->ops->ping(st, err);
}

unsigned long long store_round_trips(const struct store *st)
{
    return st->round_trips;
}

bool store_connected(const struct store *st)
{
    return !st->ops->connected || st->ops->connected(st);
}

int store_bulk_mode(struct store *st, struct store_err *err)
{
    return st->ops->bulk_mode(st, err);
}

/* The first column of a one-row answer, as an integer (0 if NULL). */
static int read_i64(void *ctx, const struct store_row *row)
{
    int64_t *v = ctx;
    *v = row->vals[0] ? strtoll(row->vals[0], NULL, 10) : 0;
    return 0;
}

typedef int (*locked_body)(struct store *st, void *ctx, struct store_err *err);

/* Runs body inside one transaction taken as a migration takes it: no
 * statement deadline (a migration may wait for another server's, rewrite
 * large tables; a recount counts whole ones) and, after BEGIN, the
 * migrations' lock (PostgreSQL: an advisory lock), so that servers starting
 * together, or a start and a recount, take turns.  Commits if body returns
 * 0, else rolls back.  Used at start, before any other thread uses a store,
 * and by the command line. */
static int as_migration(struct store *st, locked_body body, void *ctx, struct store_err *err)
{
    int saved = store_timeout_ms;
    store_timeout_ms = -1;
    int rc = -1;
    if (st->ops->script(st, st->ops->migrate_begin_sql, err) == 0) {
        if ((!st->ops->migrate_lock_sql || st->ops->script(st, st->ops->migrate_lock_sql, err) == 0) &&
            body(st, ctx, err) == 0)
            rc = store_commit(st, err);
        else
            store_rollback(st);
    }
    store_timeout_ms = saved;
    return rc;
}

static int migrate(struct store *st, void *ctx, struct store_err *err);

int store_migrate(struct store *st, struct store_err *err)
{
    return as_migration(st, migrate, NULL, err);
}

static int migrate(struct store *st, void *ctx, struct store_err *err)
{
    (void)ctx;
    size_t nsteps;
    const char *const *steps = schema_steps(st->dialect, &nsteps);
    int64_t version = 0;
    char vtext[24];
    if (st->ops->script(st, "CREATE TABLE IF NOT EXISTS firemode_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                        err) < 0)
        return -1;
    if (store_exec(st, "SELECT value FROM firemode_meta WHERE key = 'schema_version'", NULL, 0, read_i64, &version,
                   err) < 0)
        return -1;
    if (version > (int64_t)nsteps) {
        store_fail(err, STORE_ERROR, "database schema version %lld is newer than this server (%zu)", (long long)version,
                   nsteps);
        return -1;
    }
    for (size_t i = (size_t)version; i < nsteps; i++)
        if (st->ops->script(st, steps[i], err) < 0) return -1;
    if (st->ops->post_migrate_sql && st->ops->script(st, st->ops->post_migrate_sql, err) < 0) return -1;
    {
        /* The token key: made once, by whichever server migrates first. */
        unsigned char raw[32];
        char hex[65];
        static const char digits[] = "0123456789abcdef";
        crypto_random(raw, sizeof raw);
        for (int i = 0; i < 32; i++) hex[2 * i] = digits[raw[i] >> 4], hex[2 * i + 1] = digits[raw[i] & 15];
        hex[64] = '\0';
        struct store_param p = sp_text(hex, 64);
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO firemode_meta (key, value) VALUES ('token_key', %c1) ON CONFLICT (key) DO NOTHING",
                 st->dialect->param_prefix);
        if (store_exec(st, sql, &p, 1, NULL, NULL, err) < 0) return -1;
    }
    snprintf(vtext, sizeof vtext, "%zu", nsteps);
    {
        struct store_param p = sp_text(vtext, strlen(vtext));
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO firemode_meta (key, value) VALUES ('schema_version', %c1) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 st->dialect->param_prefix);
        if (store_exec(st, sql, &p, 1, NULL, NULL, err) < 0) return -1;
    }
    return 0;
}

struct recount {
    const char *sql, *changed_sql;
    int64_t changed;
};

static int recount(struct store *st, void *ctx, struct store_err *err)
{
    struct recount *r = ctx;
    if (st->ops->script(st, r->sql, err) < 0) return -1;
    return store_exec(st, r->changed_sql, NULL, 0, read_i64, &r->changed, err) < 0 ? -1 : 0;
}

int store_recount(struct store *st, long *changed, struct store_err *err)
{
    struct recount r = {.changed = -1};
    r.sql = schema_recount_sql(st->dialect, &r.changed_sql);
    *changed = -1;
    if (!r.sql) return 0;
    int rc = as_migration(st, recount, &r, err);
    if (rc == 0) *changed = (long)r.changed;
    return rc;
}

/* ---- positions ------------------------------------------------------------ */

static bool parse_u63(const char **s, const char *end, int64_t *out)
{
    const char *p = *s;
    int64_t v = 0;
    if (p == end || *p < '0' || *p > '9') return false;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*p++ - '0');
    }
    *s = p;
    *out = v;
    return true;
}

bool store_parse_pos(const struct dialect *d, const char *s, size_t n, struct wpos *out)
{
    const char *p = s, *end = s + n;
    out->nxip = 0;
    if (!d->snapshot_pos) {
        int64_t c;
        if (!parse_u63(&p, end, &c) || p != end || c == INT64_MAX) return false;
        out->xmin = out->xmax = c + 1;
        return true;
    }
    /* pg_snapshot text: xmin:xmax:xip1,xip2,... */
    if (!parse_u63(&p, end, &out->xmin) || p == end || *p++ != ':') return false;
    if (!parse_u63(&p, end, &out->xmax) || p == end || *p++ != ':') return false;
    if (out->xmax < out->xmin) return false;
    while (p < end) {
        int64_t x;
        if (out->nxip == WPOS_MAX_XIP || !parse_u63(&p, end, &x)) return false;
        if (x < out->xmin || x >= out->xmax || (out->nxip && x <= out->xip[out->nxip - 1])) return false;
        out->xip[out->nxip++] = x;
        if (p < end && *p++ != ',') return false;
        if (p == end && p[-1] == ',') return false;
    }
    return true;
}

bool wpos_old(const struct wpos *p, int64_t seq)
{
    if (seq < p->xmin) return true;
    if (seq >= p->xmax) return false;
    for (int i = 0; i < p->nxip; i++)
        if (p->xip[i] == seq) return false;
    return true;
}

int store_write_position(struct store *st, int64_t *pos, struct store_err *err)
{
    *pos = 0;
    if (st->dialect->snapshot_pos) return 0; /* the trigger sets seq */
    long n = store_exec(st, "UPDATE firemode_counters SET value = value + 1 WHERE name = 'write_seq' RETURNING value",
                        NULL, 0, read_i64, pos, err);
    if (n < 0) return -1;
    if (n != 1) return store_fail(err, STORE_ERROR, "the write_seq counter row is missing");
    return 0;
}

static int read_key(void *ctx, const struct store_row *row)
{
    unsigned char *key = ctx;
    if (!row->vals[0] || row->lens[0] != 64) return 1;
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = row->vals[0][2 * i + k];
            v = v * 16 + (c >= 'a' ? c - 'a' + 10 : c - '0');
        }
        key[i] = (unsigned char)v;
    }
    key[32] = 1; /* found */
    return 0;
}

int store_token_key(struct store *st, unsigned char key[32], struct store_err *err)
{
    unsigned char k[33] = {0};
    if (store_exec(st, "SELECT value FROM firemode_meta WHERE key = 'token_key'", NULL, 0, read_key, k, err) < 0)
        return -1;
    if (!k[32]) return store_fail(err, STORE_ERROR, "the token key is missing from firemode_meta");
    memcpy(key, k, 32);
    return 0;
}
