/*
 * store — dispatch from a database URL to its backend, and what is the same
 * for every backend: migrations and error reporting.
 */
#include "store_int.h"

#include "../util/buf.h"

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

int store_begin(struct store *st, bool write, struct store_err *err)
{
    return st->ops->begin(st, write, err);
}

int store_commit(struct store *st, struct store_err *err)
{
    return st->ops->commit(st, err);
}

void store_rollback(struct store *st)
{
    if (st) st->ops->rollback(st);
}

int store_ping(struct store *st, struct store_err *err)
{
    return st->ops->ping(st, err);
}

int store_bulk_mode(struct store *st, struct store_err *err)
{
    return st->ops->bulk_mode(st, err);
}

static int read_version(void *ctx, const struct store_row *row)
{
    long *v = ctx;
    if (row->vals[0]) *v = strtol(row->vals[0], NULL, 10);
    return 0;
}

static int migrate(struct store *st, struct store_err *err);

/* Migrations may wait for another server's migration (the advisory lock)
 * and may rewrite large tables: no statement deadline applies.  They run at
 * start, before any other thread uses a store. */
int store_migrate(struct store *st, struct store_err *err)
{
    int saved = store_timeout_ms;
    store_timeout_ms = -1;
    int rc = migrate(st, err);
    store_timeout_ms = saved;
    return rc;
}

static int migrate(struct store *st, struct store_err *err)
{
    size_t nsteps;
    const char *const *steps = schema_steps(st->dialect, &nsteps);
    long version = 0;
    char vtext[24];
    if (store_begin(st, true, err) < 0) return -1;
    if (st->ops->migrate_lock_sql && st->ops->script(st, st->ops->migrate_lock_sql, err) < 0) goto fail;
    if (st->ops->script(st, "CREATE TABLE IF NOT EXISTS firemode_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                        err) < 0)
        goto fail;
    if (store_exec(st, "SELECT value FROM firemode_meta WHERE key = 'schema_version'", NULL, 0, read_version, &version,
                   err) < 0)
        goto fail;
    if (version > (long)nsteps) {
        store_fail(err, STORE_ERROR, "database schema version %ld is newer than this server (%zu)", version, nsteps);
        goto fail;
    }
    for (size_t i = (size_t)version; i < nsteps; i++)
        if (st->ops->script(st, steps[i], err) < 0) goto fail;
    snprintf(vtext, sizeof vtext, "%zu", nsteps);
    {
        struct store_param p = sp_text(vtext, strlen(vtext));
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO firemode_meta (key, value) VALUES ('schema_version', %c1) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 st->dialect->param_prefix);
        if (store_exec(st, sql, &p, 1, NULL, NULL, err) < 0) goto fail;
    }
    return store_commit(st, err);
fail:
    store_rollback(st);
    return -1;
}
