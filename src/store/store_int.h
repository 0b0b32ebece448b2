/*
 * store_int — what the backends share and the rest of the server does not
 * see: the operations table each backend fills in, and the schema.
 */
#ifndef FM_STORE_INT_H
#define FM_STORE_INT_H

#include "store.h"

struct store_ops {
    long (*exec)(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn, void *ctx,
                 struct store_err *err);
    /* NULL: store_exec_later runs the statement at once (exec), and
     * store_exec_commit runs exec, then commit. */
    int (*exec_later)(struct store *st, const char *sql, const struct store_param *p, int np, struct store_err *err);
    long (*exec_commit)(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn,
                        void *ctx, struct store_err *err);
    int (*begin)(struct store *st, enum store_tx mode, struct store_err *err);
    int (*commit)(struct store *st, struct store_err *err);
    void (*rollback)(struct store *st);
    /* Runs several ;-separated statements without parameters (the schema). */
    int (*script)(struct store *st, const char *sql, struct store_err *err);
    int (*ping)(struct store *st, struct store_err *err);
    int (*bulk_mode)(struct store *st, struct store_err *err);
    /* SQL run first inside the migration transaction (PostgreSQL: an
     * advisory lock, so that servers starting together migrate once), or NULL. */
    const char *migrate_lock_sql;
    /* How the migration transaction begins: it must see what another
     * server's migration committed while it waited for the lock (READ
     * COMMITTED on PostgreSQL), and hold the write lock (SQLite). */
    const char *migrate_begin_sql;
    /* Run at the end of every migration, after the steps (or NULL). */
    const char *post_migrate_sql;
    void (*close)(struct store *st);
    /* false while the connection is lost and not yet made again; NULL: always true. */
    bool (*connected)(const struct store *st);
};

/* Every backend's connection struct starts with this. */
struct store {
    const struct store_ops *ops;
    const struct dialect *dialect;
    unsigned long long round_trips; /* see store_round_trips; the backend counts what it sends */
    uint64_t int_only; /* the statement running under store_exec_ints: its columns read only as integers */
};

extern int store_timeout_ms; /* see store_set_timeout_ms */

struct store *store_sqlite_open(const char *path, struct store_err *err);
struct store *store_pg_open(const char *conninfo, struct store_err *err);

/* Fills err and returns -1: the one way backends report failures. */
int store_fail(struct store_err *err, enum store_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The schema, as ordered migration steps; step i brings the schema to
 * version i+1.  Instantiated once per dialect from one definition. */
const char *const *schema_steps(const struct dialect *d, size_t *n);
/* The script that makes the kept counts again (schema.c, store_recount) and
 * the query that then counts the scopes whose count changed; NULL where
 * the dialect keeps no counts. */
const char *schema_recount_sql(const struct dialect *d, const char **changed_sql);

#endif
