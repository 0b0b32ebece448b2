/*
 * sqlite — the SQLite backend.
 *
 * One sqlite3 connection per struct store, in WAL mode with synchronous=FULL
 * so that a committed write survives a crash of the process or the machine.
 * Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * and kept in a stmt_cache keyed by SQL text; each use binds, steps, and
 * resets.
 *
 * The deadline (store_set_timeout_ms): every statement, and the wait for the
 * write lock before it, gets at most store_timeout_ms.  A progress handler,
 * called every SQLITE_PROGRESS_OPS virtual-machine steps, stops a slower
 * statement (SQLITE_INTERRUPT, a STORE_BUSY: a 503).  An interrupted write
 * inside a transaction makes SQLite roll the whole transaction back; the
 * caller's rollback is then a no-op and the connection is ready for the next
 * request.  COMMIT has no deadline: once a transaction has done its work,
 * stopping its COMMIT would answer 503 for a write that may be durable (and
 * a COMMIT in WAL mode is short: append and fsync).  Migrations and bulk
 * loads (seed) have no deadline either.  Without a deadline a writer waits
 * up to SQLITE_BUSY_MS for the write lock.
 *
 * Memory: a sort or a count must not take an unbounded amount of it.  Temp
 * b-trees (ORDER BY ... LIMIT n OFFSET m keeps n+m rows in one, an IN
 * (SELECT ...) keeps its set in one) live in temp files (temp_store=FILE),
 * whose pages SQLite caches in a bounded amount of memory and the OS writes
 * out only under pressure; they were in memory before (temp_store=MEMORY),
 * and four deep-page unindexed sorts on 1M documents took 1 GB.  Each
 * connection caches up to SQLITE_CACHE_KIB of pages (external sorts use
 * about as much), and SQLite's whole heap, every connection's cache
 * together, is held near SQLITE_SOFT_HEAP_LIMIT (page caches recycle their
 * own pages instead of growing past it) and never past
 * SQLITE_HARD_HEAP_LIMIT (an allocation beyond fails: a 503 for that
 * request), whatever --threads is: the page cache is one budget, not one
 * per thread.  The hot pages of list requests (the top of an index, a
 * count index) are a few MB; a scan of a whole table (q on users) goes
 * through the OS page cache either way.  A server after the 200k-user
 * side-by-side harness: 52 MB RSS with 16 MB and 256 MB, and see README
 * for the figures with these.
 *
 * Placeholders are ?NNN.  LIKE is already ASCII-case-insensitive in SQLite,
 * which is exactly the folding the contract asks for.
 */
#include "store_int.h"

#include "../util/buf.h"
#include "stmt_cache.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SQLITE_BUSY_MS 5000
#define SQLITE_STMT_CACHE 512
#define SQLITE_PROGRESS_OPS 1000 /* VM steps between two looks at the clock (~0.1 ms) */
#define SQLITE_CACHE_KIB 8192    /* page cache per connection, at most */
#define SQLITE_SOFT_HEAP_LIMIT (40LL << 20) /* all connections together */
#define SQLITE_BULK_HEAP_LIMIT (512LL << 20) /* firemode seed's one connection */
#define SQLITE_HARD_HEAP_LIMIT (1024LL << 20)

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    struct stmt_cache *stmts;
    bool bulk;
    int64_t deadline_ms; /* CLOCK_MONOTONIC ms after which the running statement stops; 0: none */
    int64_t busy_since;  /* when the current wait for a lock began */
    bool timed_out;      /* the progress handler stopped the last statement */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nonzero stops the running statement with SQLITE_INTERRUPT. */
static int on_progress(void *ctx)
{
    struct sqlite_store *s = ctx;
    if (s->deadline_ms && mono_ms() >= s->deadline_ms) {
        s->timed_out = true;
        return 1;
    }
    return 0;
}

/* Waits for a lock another connection holds: short sleeps (1, 2, 4, 8, then
 * 10 ms, so a lock held briefly is taken soon after it is free), until the
 * statement's deadline, or SQLITE_BUSY_MS without one. */
static int on_busy(void *ctx, int count)
{
    struct sqlite_store *s = ctx;
    int64_t now = mono_ms();
    if (count == 0) s->busy_since = now;
    int64_t end = s->deadline_ms ? s->deadline_ms : s->busy_since + SQLITE_BUSY_MS;
    if (now >= end) return 0;
    int64_t ms = count < 4 ? 1 << count : 10;
    if (ms > end - now) ms = end - now;
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
    return 1;
}

static const struct dialect sqlite_dialect = {
    .name = "sqlite",
    .param_prefix = '?',
    .ci_like_fmt = "%s LIKE %c%d ESCAPE '\\'",
    .for_update = "",
    .for_share = "",
    .pos_sql = "(SELECT value FROM firemode_counters WHERE name = 'write_seq')",
    .snapshot_pos = false,
    .no_index = "+",
    .indexes_sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
                   "('users', 'workspaces', 'documents', 'document_tags', 'configs', 'jobs', 'test_sessions')",
    .json_elements_fmt = "json_each(%c%d) j",
    .keys_in_open = " IN (",
    .keys_in_close = ")",
    .keys_first_offset = 1500,
    .keys_column = "rowid",
};

static enum store_kind kind_of(int rc)
{
    switch (rc & 0xFF) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return STORE_UNIQUE;
        return STORE_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_INTERRUPT: /* the deadline (fail_db words it) */
    case SQLITE_NOMEM:     /* over SQLITE_HARD_HEAP_LIMIT: try again later */
        return STORE_BUSY;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
        return STORE_UNAVAILABLE;
    default:
        return STORE_ERROR;
    }
}

static int fail_db(struct sqlite_store *s, int rc, struct store_err *err)
{
    /* The SQLSTATE PostgreSQL gives a cancelled statement, so that both
     * backends' statement timeouts are counted alike (api.c, metrics). */
    if ((rc & 0xFF) == SQLITE_INTERRUPT && s->timed_out)
        return store_fail(err, STORE_BUSY, "sqlite: statement cancelled after %d ms (statement timeout, SQLSTATE 57014)",
                          store_timeout_ms);
    return store_fail(err, kind_of(rc), "sqlite: %s", sqlite3_errmsg(s->db));
}

static void free_stmt(void *ctx, void *handle)
{
    (void)ctx;
    sqlite3_finalize(handle);
}

static int bind_all(sqlite3_stmt *stmt, const struct store_param *p, int np)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < np && rc == SQLITE_OK; i++) {
        switch (p[i].type) {
        case SP_NULL: rc = sqlite3_bind_null(stmt, i + 1); break;
        case SP_TEXT: rc = sqlite3_bind_text(stmt, i + 1, p[i].s ? p[i].s : "", (int)p[i].len, SQLITE_STATIC); break;
        case SP_INT:
        case SP_BOOL: rc = sqlite3_bind_int64(stmt, i + 1, p[i].i); break;
        }
    }
    return rc;
}

static long run(struct sqlite_store *s, const char *sql, const struct store_param *p, int np, store_row_fn fn,
                void *ctx, struct store_err *err);

/* Runs one statement under the deadline (none in bulk mode or while
 * migrating: store_timeout_ms <= 0). */
static long sq_exec(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn, void *ctx,
                    struct store_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    s->timed_out = false;
    s->base.round_trips++;
    s->deadline_ms = !s->bulk && store_timeout_ms > 0 ? mono_ms() + store_timeout_ms : 0;
    long rows = run(s, sql, p, np, fn, ctx, err);
    s->deadline_ms = 0;
    return rows;
}

static long run(struct sqlite_store *s, const char *sql, const struct store_param *p, int np, store_row_fn fn,
                void *ctx, struct store_err *err)
{
    sqlite3_stmt *stmt = stmt_cache_get(s->stmts, sql);
    int rc;
    long rows = 0;
    /* this statement's mask alone: taken, so that a statement run from
     * inside its callback (or after an early return) reads in full */
    const uint64_t int_only = s->base.int_only;
    s->base.int_only = 0;
    if (!stmt) {
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
        if (rc != SQLITE_OK) return fail_db(s, rc, err);
        stmt_cache_put(s->stmts, sql, stmt);
    }
    if (np > sqlite3_bind_parameter_count(stmt) || np > STORE_MAX_PARAMS)
        return store_fail(err, STORE_ERROR, "sqlite: %d parameters for %d placeholders", np,
                          sqlite3_bind_parameter_count(stmt));
    rc = bind_all(stmt, p, np);
    if (rc != SQLITE_OK) {
        fail_db(s, rc, err);
        goto out;
    }
    int ncols = sqlite3_column_count(stmt);
    const char *vals[64];
    size_t lens[64];
    int64_t ints[64];
    unsigned char is_int[64];
    char digits[64][21]; /* integers as text, by us: SQLite's own conversion goes through its Mem */
    if (ncols > 64) {
        store_fail(err, STORE_ERROR, "sqlite: too many result columns");
        rc = SQLITE_ERROR;
        goto out;
    }
    bool stopped = false;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        rows++;
        if (!fn || stopped) continue;
        for (int i = 0; i < ncols; i++) {
            /* One column call, then the value's own accessors: each
             * sqlite3_column_* call looks the column up again and does its
             * error bookkeeping.  The value is "unprotected" (no mutex
             * held), which makes no difference on a connection that has no
             * mutex: opened NOMUTEX, checked in store_sqlite_open.  It
             * lives until the next step, as the text would. */
            sqlite3_value *cv = sqlite3_column_value(stmt, i);
            int t = sqlite3_value_type(cv);
            is_int[i] = 0;
            if (t == SQLITE_NULL) {
                vals[i] = NULL;
                lens[i] = 0;
            } else if (t == SQLITE_INTEGER) {
                int64_t v = sqlite3_value_int64(cv);
                ints[i] = v;
                is_int[i] = 1;
                if (i < 64 && (int_only >> i & 1)) { /* read as a number only (store_exec_ints) */
                    vals[i] = "";
                    lens[i] = 0;
                    continue;
                }
                char *e = digits[i] + sizeof digits[i] - 1, *d = i64_digits(e, v);
                *e = '\0';
                vals[i] = d;
                lens[i] = (size_t)(e - d);
            } else {
                vals[i] = (const char *)sqlite3_value_text(cv);
                lens[i] = (size_t)sqlite3_value_bytes(cv);
            }
        }
        struct store_row row = {ncols, vals, lens, ints, is_int};
        if (fn(ctx, &row)) {
            stopped = true;
            break;
        }
    }
    if (rc == SQLITE_DONE || (stopped && rc == SQLITE_ROW)) {
        rc = SQLITE_OK;
        if (ncols == 0) rows = sqlite3_changes(s->db);
    } else {
        fail_db(s, rc, err);
    }
out:
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_OK ? rows : -1;
}

static int sq_script(struct store *st, const char *sql, struct store_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        store_fail(err, kind_of(rc), "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int sq_begin(struct store *st, enum store_tx mode, struct store_err *err)
{
    /* one writer at a time: every write transaction is serializable */
    return sq_exec(st, mode != STORE_TX_READ ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, NULL, NULL, err) < 0 ? -1 : 0;
}

static int sq_commit(struct store *st, struct store_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    /* no deadline (see the top of this file) */
    s->timed_out = false;
    s->deadline_ms = 0;
    s->base.round_trips++;
    if (run(s, "COMMIT", NULL, 0, NULL, NULL, err) < 0) {
        /* A failed COMMIT leaves the transaction open: roll it back. */
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static void sq_rollback(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (!sqlite3_get_autocommit(s->db)) {
        s->base.round_trips++;
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static int sq_ping(struct store *st, struct store_err *err)
{
    return sq_exec(st, "SELECT 1", NULL, 0, NULL, NULL, err) < 0 ? -1 : 0;
}

/* Bulk loads write each page once, straight to the database file (no WAL,
 * no sync); sq_close puts the database back in WAL mode.  Leaving WAL needs
 * the database to itself: when another connection (a running server) has
 * it open, SQLite refuses at once with SQLITE_BUSY; then the load stays in
 * WAL with synchronous=NORMAL (still safe for the other connections) and
 * the answer is 1, "shared". */
/* A bulk load beside a server waits for the write lock polling every
 * millisecond (SQLite's default backs off to 100 ms sleeps, idling the load
 * long after a short server write is done), up to SQLITE_BUSY_MS. */
static int poll_busy(void *ctx, int count)
{
    (void)ctx;
    if (count >= SQLITE_BUSY_MS) return 0;
    struct timespec ms = {0, 1000000L};
    nanosleep(&ms, NULL);
    return 1;
}

static int sq_bulk_mode(struct store *st, struct store_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    s->bulk = true;
    /* a load is a process of its own (firemode seed), not a server: its
     * one connection may use a large cache to build indexes */
    sqlite3_soft_heap_limit64(SQLITE_BULK_HEAP_LIMIT);
    if (sq_script(st, "PRAGMA cache_size=-262144; PRAGMA threads=4", err) < 0) return -1;
    if (sq_script(st, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY", err) == 0) return 0;
    if (err->kind != STORE_BUSY) return -1;
    sqlite3_busy_handler(s->db, poll_busy, NULL);
    return sq_script(st, "PRAGMA synchronous=NORMAL", err) < 0 ? -1 : 1;
}

static void sq_close(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    stmt_cache_free(s->stmts);
    if (s->bulk) sqlite3_exec(s->db, "PRAGMA synchronous=FULL; PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_close_v2(s->db);
    free(s);
}

static const struct store_ops sqlite_ops = {
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .script = sq_script,
    .ping = sq_ping,
    .bulk_mode = sq_bulk_mode,
    .migrate_lock_sql = NULL,
    .migrate_begin_sql = "BEGIN IMMEDIATE",
    .close = sq_close,
};

struct store *store_sqlite_open(const char *path, struct store_err *err)
{
    struct sqlite_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    s->base.dialect = &sqlite_dialect;
    bool memory = strcmp(path, ":memory:") == 0;
    /* All connections of one process share a :memory: database through a
     * named shared-cache URI, so every worker thread sees the same data. */
    const char *name = memory ? "file:firemode-memdb?mode=memory&cache=shared" : path;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | (memory ? SQLITE_OPEN_URI : 0);
    int rc = sqlite3_open_v2(name, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        store_fail(err, STORE_UNAVAILABLE, "sqlite: cannot open %s: %s", path,
                   s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(s->db);
        free(s);
        return NULL;
    }
    if (sqlite3_db_mutex(s->db) != NULL) {
        /* run() reads result values without a mutex (sqlite3_column_value) */
        store_fail(err, STORE_ERROR, "sqlite: the connection to %s has a mutex despite SQLITE_OPEN_NOMUTEX", path);
        sqlite3_close_v2(s->db);
        free(s);
        return NULL;
    }
    s->stmts = stmt_cache_new(SQLITE_STMT_CACHE, free_stmt, NULL);
    sqlite3_busy_handler(s->db, on_busy, s);
    sqlite3_progress_handler(s->db, SQLITE_PROGRESS_OPS, on_progress, s);
    sqlite3_extended_result_codes(s->db, 1);
    /* One plan per statement, whatever its bound values (the query planner
     * stability guarantee).  Without it a LIKE whose pattern is a bound
     * parameter (every q filter) marks the statement to be prepared again
     * whenever that parameter is bound anew: a q list paid a full prepare
     * on every request (9.5k statements/s instead of 28k on the harness's
     * users).  FireMode's patterns always start with '%', so the LIKE prefix
     * optimization that looks at the value never applied. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, (int *)NULL);
    /* process-wide; the same values every time */
    if (sqlite3_soft_heap_limit64(-1) == 0) sqlite3_soft_heap_limit64(SQLITE_SOFT_HEAP_LIMIT); /* not a load's */
    sqlite3_hard_heap_limit64(SQLITE_HARD_HEAP_LIMIT);
    char pragmas[256] = "PRAGMA foreign_keys=ON; PRAGMA read_uncommitted=OFF";
    if (!memory)
        snprintf(pragmas, sizeof pragmas,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                 " PRAGMA temp_store=FILE; PRAGMA cache_size=-%d",
                 SQLITE_CACHE_KIB);
    if (sq_script(&s->base, pragmas, err) < 0) {
        sq_close(&s->base);
        return NULL;
    }
    return &s->base;
}
