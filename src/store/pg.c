/*
 * pg — the PostgreSQL backend, through libpq.
 *
 * One PGconn per struct store (one per worker thread).  Every connection is
 * opened with a 2 s connect_timeout, TCP keepalives and client_encoding UTF8,
 * then set to TIME ZONE 'UTC', a statement_timeout just under the store
 * timeout and a 10 s idle-in-transaction timeout, so that no request can hold
 * a connection (or a lock) for long.  Every round trip waits at most the
 * store timeout (store_set_timeout_ms) for its
 * answer (poll on the socket), so a database that stops answering costs a
 * 503, never a hang.
 *
 * Statements: the first time a SQL text is seen on a connection it is
 * prepared under a fresh name ("s<N>", N from the stmt_cache) with parameter
 * types left for the server to infer; the name is cached and later uses only
 * Bind/Execute.  Parameters always travel in text format, results come back
 * as text: integers as decimal, booleans as "t"/"f" (store.h allows both).
 *
 * Errors are classified from the SQLSTATE through one table (pg_errmap).  A
 * lost connection is STORE_UNAVAILABLE.  The connection's life:
 *
 *     GOOD --(a query fails and libpq reports CONNECTION_BAD, or the
 *             check before each call finds the socket closed)--> BAD
 *     BAD  --(next exec/begin/script/ping outside a transaction)--> one
 *             reconnect attempt (bounded by connect_timeout) --> GOOD or BAD
 *
 * A reconnect forgets the statement cache without DEALLOCATE (the server side
 * went away with the old session).  A connection lost inside a transaction is
 * never silently replaced: the transaction is gone, so every call up to the
 * caller's rollback answers STORE_UNAVAILABLE, and the next begin reconnects.
 * Nothing is retried in a loop: a failed attempt answers at once, so the HTTP
 * layer can send a 503 within about connect_timeout.
 *
 * A prepared statement that vanished under us (SQLSTATE 26000, e.g. after a
 * DISCARD ALL) or whose cached plan went stale after a schema change (0A000,
 * "cached plan must not change result type") is prepared again and run once
 * more, but only when the failure left no transaction open: outside a
 * transaction the failed statement had no effect, inside one the whole
 * transaction is already aborted.
 */
#include "store_int.h"

#include "../util/buf.h"
#include "stmt_cache.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#define PG_STMT_CACHE 512
/* Bulk mode (`firemode seed`): commits need not wait for the WAL flush, and
 * the load's one long transaction (index builds included) is not a request,
 * so the statement timeout does not apply. */
/* Prepared statements run their generic plan, planned once per connection
 * (plan_cache_mode).  With the default (auto) PostgreSQL plans a statement
 * anew on every execution once its generic plan looks dearer than the
 * custom ones, which a list's "LIMIT $n" always does (a generic plan
 * assumes 10 % of the rows): 60-70 % of the backend's CPU per list request
 * was planning.  tests/pg/test_plans.py pins the generic plans of every
 * cursor page and count. */
#define PG_BULK_SQL "SET synchronous_commit = off; SET statement_timeout = 0"
#define PG_QUEUE_MAX 16 /* statements store_exec_later holds before sending them */
#define PG_ROW_COLS 64 /* result columns delivered without a heap allocation */
/* A request waits at most store_timeout_ms for any one answer from the
 * database.  A database that accepts connections but does not answer
 * (frozen, or a network that drops packets) then costs a 503 after that
 * long, not a hang; the connection is dropped and made again on the next
 * call.  The server's own statement_timeout is a little shorter, so a merely
 * slow statement is cancelled by PostgreSQL (a 503 "busy") first. */
#define PG_STATEMENT_MARGIN_MS 200

struct pg_store {
    struct store base;
    PGconn *conn;             /* NULL, or a connection (possibly gone bad) */
    char *conninfo;           /* owned copy, for reconnects */
    struct stmt_cache *stmts; /* SQL text -> malloc'd statement name */
    struct buf scratch;       /* NUL-terminated copies of the parameters */
    bool in_tx;               /* a transaction is open (as of the last answer) */
    bool bulk;                /* bulk mode: re-applied after a reconnect */
    bool timed_out;           /* the last answer did not come in time */
    /* A write transaction's BEGIN is not sent on its own: it waits here for
     * the transaction's first statement (or its COMMIT) and goes in the same
     * round trip, as do statements queued by store_exec_later (see
     * run_pipeline). */
    bool begin_pending;
    enum store_tx begin_mode;
    int nqueued;
    struct queued {
        char *sql;   /* owned copy: the cache key, to drop a stale statement */
        char name[24];
        int np;
        char *data;  /* the parameters, NUL-terminated, back to back (owned) */
        int *offs;   /* offs[i] into data, or -1 for SQL NULL (owned) */
    } queue[PG_QUEUE_MAX];
};

static const struct dialect pg_dialect = {
    .name = "postgresql",
    .param_prefix = '$',
    /* Columns are COLLATE "C", so lower() folds ASCII only, like SQLite's LIKE.
     * No ESCAPE clause: the backslash is PostgreSQL's default escape, and
     * an ESCAPE with a bound pattern runs like_escape() on every row. */
    .ci_like_fmt = "lower(%s) LIKE %c%d",
    /* NO KEY UPDATE: children's foreign-key checks (KEY SHARE) do not wait
     * for it, so a write never waits on a write of a row it references. */
    .for_update = " FOR NO KEY UPDATE",
    /* a soft delete or deactivation of a referenced row is a NO KEY
     * UPDATE, which KEY SHARE (a foreign key) would not notice */
    .for_share = " FOR SHARE",
    .pos_sql = "(SELECT pg_current_snapshot()::text)", /* a subquery: once per statement, not per row */
    .snapshot_pos = true,
    /* Secondary indexes of the collection tables (not those that back a
     * primary key or unique constraint), as (name, CREATE INDEX ...). */
    .indexes_sql = "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
                   " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
                   " WHERE t.relnamespace = current_schema()::regnamespace AND t.relname IN"
                   " ('users', 'workspaces', 'documents', 'document_tags', 'configs', 'jobs', 'test_sessions')"
                   " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname",
    .json_elements_fmt = "jsonb_array_elements_text(%c%d::jsonb) j(value)",
    .keys_in_open = " = ANY (ARRAY(",
    .keys_in_close = "))",
    .keys_first_offset = 200,
    .row_counts = "firemode_row_counts",
};

/* SQLSTATE -> store_kind.  A two-character code matches a whole class.  The
 * first matching row wins, so exact codes come before their class. */
static const struct {
    const char *code;
    enum store_kind kind;
} pg_errmap[] = {
    {"23505", STORE_UNIQUE},      /* unique_violation */
    {"23", STORE_CONSTRAINT},     /* integrity constraint violation */
    {"40001", STORE_RETRY},       /* serialization_failure */
    {"40P01", STORE_RETRY},       /* deadlock_detected */
    {"55P03", STORE_BUSY},        /* lock_not_available */
    {"57014", STORE_BUSY},        /* query_canceled (statement_timeout) */
    {"08P01", STORE_ERROR},       /* protocol_violation: e.g. our parameter count was wrong */
    {"08", STORE_UNAVAILABLE},    /* connection exception */
    {"57P01", STORE_UNAVAILABLE}, /* admin_shutdown */
    {"57P02", STORE_UNAVAILABLE}, /* crash_shutdown */
    {"57P03", STORE_UNAVAILABLE}, /* cannot_connect_now (starting up) */
    {"53300", STORE_UNAVAILABLE}, /* too_many_connections */
};

static enum store_kind kind_of_sqlstate(const char *state)
{
    for (size_t i = 0; i < sizeof pg_errmap / sizeof pg_errmap[0]; i++)
        if (strncmp(state, pg_errmap[i].code, strlen(pg_errmap[i].code)) == 0) return pg_errmap[i].kind;
    return STORE_ERROR;
}

/* Bulk loads (seed) wait as long as their statements take. */
static int deadline(const struct pg_store *s)
{
    return s->bulk ? -1 : store_timeout_ms;
}

/* COMMIT waits longer: once sent, the database may apply it even if its
 * answer is late, and a 503 for a write that was in fact committed invites
 * the client to write it twice.  Only a database that stops answering at
 * exactly this point costs a request this long. */
#define PG_COMMIT_DEADLINE_MS 30000

static int commit_deadline(const struct pg_store *s)
{
    int d = deadline(s);
    return d < 0 || d > PG_COMMIT_DEADLINE_MS ? d : PG_COMMIT_DEADLINE_MS;
}

static bool conn_ok(const struct pg_store *s)
{
    return s->conn && PQstatus(s->conn) == CONNECTION_OK;
}

/* Records whether a transaction is open, from the server's last answer.
 * Unknown (connection gone) keeps what we knew. */
static void track_tx(struct pg_store *s)
{
    if (!conn_ok(s)) return;
    PGTransactionStatusType ts = PQtransactionStatus(s->conn);
    if (ts == PQTRANS_IDLE) s->in_tx = false;
    else if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) s->in_tx = true;
}

/* Copies the first line of a libpq message (which may span several lines and
 * end in a newline) into out. */
static void first_line(char *out, size_t n, const char *msg)
{
    if (!msg || !*msg) msg = "connection lost";
    size_t len = strcspn(msg, "\n");
    if (len >= n) len = n - 1;
    memcpy(out, msg, len);
    out[len] = '\0';
}

static int fail_unavailable(struct pg_store *s, const char *why, struct store_err *err)
{
    if (s->timed_out)
        return store_fail(err, STORE_UNAVAILABLE, "database unavailable: no answer within %d ms", store_timeout_ms);
    char line[200];
    first_line(line, sizeof line, why ? why : (s->conn ? PQerrorMessage(s->conn) : NULL));
    return store_fail(err, STORE_UNAVAILABLE, "database unavailable: %s", line);
}

/* Fills err from a failed result (res may be NULL).  The message is the
 * server's primary message, which names constraints and columns but not
 * values; for data exceptions (class 22), whose messages quote the offending
 * value, only the SQLSTATE is kept. */
static int fail_result(struct pg_store *s, const PGresult *res, struct store_err *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary && res && *PQresultErrorMessage(res)) primary = PQresultErrorMessage(res);
    /* The link is gone (whatever the SQLSTATE, e.g. 57P01 on shutdown), or
     * libpq failed on its own without one because the connection died. */
    if (!conn_ok(s)) return fail_unavailable(s, primary, err);
    if (!state) {
        char line[200];
        first_line(line, sizeof line, primary ? primary : PQerrorMessage(s->conn));
        return store_fail(err, STORE_ERROR, "postgresql: %s", line);
    }
    enum store_kind kind = kind_of_sqlstate(state);
    if (kind == STORE_UNAVAILABLE) return fail_unavailable(s, primary, err);
    if (strncmp(state, "22", 2) == 0) return store_fail(err, kind, "postgresql: invalid value (SQLSTATE %s)", state);
    char line[200];
    first_line(line, sizeof line, primary);
    return store_fail(err, kind, "postgresql: %s (SQLSTATE %s)", line, state);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs one parameterless command on c and checks it answered COMMAND_OK or
 * TUPLES_OK.  Returns the result's status (PGRES_FATAL_ERROR on failure) and
 * leaves the result in *out for the caller to PQclear, or clears it if out is
 * NULL. */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Collects the answer to the command just sent on c (sent: what the PQsend*
 * call returned), waiting at most deadline_ms for it (< 0: no limit).
 * Returns the last result, for the caller to PQclear, or NULL.  When the
 * deadline passes, the socket is shut down, so the connection is bad from
 * then on (and replaced by the next call), and *timed_out is set. */
static PGresult *await_result(PGconn *c, int sent, int deadline_ms, bool *timed_out)
{
    PGresult *last = NULL, *res;
    int64_t end = mono_ms() + deadline_ms;
    *timed_out = false;
    if (!sent) return NULL;
    for (;;) {
        while (PQisBusy(c)) {
            int left = -1;
            if (deadline_ms >= 0 && (left = (int)(end - mono_ms())) <= 0) {
                *timed_out = true;
                shutdown(PQsocket(c), SHUT_RDWR);
                break;
            }
            struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
            int r = poll(&pfd, 1, left);
            if (r < 0 && errno != EINTR) break;
            if (r > 0 && !PQconsumeInput(c)) break;
        }
        /* Not busy, or the connection broke: PQgetResult does not block. */
        if (!(res = PQgetResult(c))) break;
        PQclear(last);
        last = res;
        if (PQstatus(c) != CONNECTION_OK) break;
    }
    if (*timed_out) {
        PQclear(last);
        last = NULL;
    }
    return last;
}

/* Runs one parameterless command on c and checks it answered COMMAND_OK or
 * TUPLES_OK, waiting at most deadline_ms.  Returns the result's status
 * (PGRES_FATAL_ERROR on failure) and leaves the result in *out for the caller
 * to PQclear, or clears it if out is NULL. */
static ExecStatusType run_simple(PGconn *c, const char *sql, PGresult **out, int deadline_ms, bool *timed_out)
{
    bool t;
    PGresult *res = await_result(c, PQsendQuery(c, sql), deadline_ms, timed_out ? timed_out : &t);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (out) *out = res;
    else PQclear(res);
    return st;
}

static bool status_ok(ExecStatusType st)
{
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Opens and sets up a connection.  Returns it, or NULL with err filled (no
 * PGconn is left allocated). */
static PGconn *pg_connect(const char *conninfo, bool bulk, struct store_err *err)
{
    /* Keywords before dbname are defaults the conninfo may override (the
     * expanded URI replaces earlier values); those after it are forced. */
    static const char *const keys[] = {
        "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
        "fallback_application_name", "dbname", "client_encoding", NULL,
    };
    const char *vals[] = {"2", "1", "30", "10", "3", "firemode", conninfo, "UTF8", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    PGresult *res = NULL;
    if (!c) {
        store_fail(err, STORE_UNAVAILABLE, "database unavailable: out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char line[200];
        first_line(line, sizeof line, PQerrorMessage(c));
        store_fail(err, STORE_UNAVAILABLE, "database unavailable: %s", line);
        goto fail;
    }
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    char setup[256];
    int stmt_ms = store_timeout_ms <= 0                          ? 0 /* no limit */
                  : store_timeout_ms > 2 * PG_STATEMENT_MARGIN_MS ? store_timeout_ms - PG_STATEMENT_MARGIN_MS
                                                                 : store_timeout_ms;
    if (bulk)
        snprintf(setup, sizeof setup, "SET TIME ZONE 'UTC'; %s", PG_BULK_SQL);
    else
        snprintf(setup, sizeof setup,
                 "SET TIME ZONE 'UTC'; SET statement_timeout = %d; SET idle_in_transaction_session_timeout = '10s';"
                 " SET plan_cache_mode = force_generic_plan",
                 stmt_ms);
    if (!status_ok(run_simple(c, setup, &res, store_timeout_ms, NULL))) {
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        char line[200];
        first_line(line, sizeof line, msg ? msg : PQerrorMessage(c));
        if (PQstatus(c) == CONNECTION_OK) store_fail(err, STORE_ERROR, "postgresql: session setup: %s", line);
        else store_fail(err, STORE_UNAVAILABLE, "database unavailable: %s", line);
        goto fail;
    }
    PQclear(res);
    return c;
fail:
    PQclear(res);
    PQfinish(c);
    return NULL;
}

/* Whether the connection still looks good, reading (without blocking) what
 * the server sent while it sat idle: a server that shut down or restarted
 * sent a FATAL error (which libpq, while idle, hands to the notice processor)
 * and then closed the socket.  The usual case (nothing arrived) costs one
 * non-blocking peek; noticing the closed socket here saves a failed request
 * once the server is back. */
static bool conn_alive(struct pg_store *s)
{
    if (!conn_ok(s)) return false;
    char c;
    if (recv(PQsocket(s->conn), &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;
    /* Something arrived (or EOF): let libpq read and parse it.  The second
     * read finds the end of the stream after a FATAL message. */
    for (int i = 0; i < 2; i++) {
        if (!PQconsumeInput(s->conn)) return false;
        (void)PQisBusy(s->conn);
        if (!conn_ok(s)) return false;
    }
    return true;
}

/* Makes sure there is a good connection to run the next statement on.
 * Outside a transaction a bad connection is replaced (one attempt); inside
 * one the transaction died with the connection, so it only reports. */
static int ensure_conn(struct pg_store *s, struct store_err *err)
{
    s->timed_out = false;
    if (conn_alive(s)) return 0;
    /* (queued statements name statements prepared on the lost connection) */
    if (s->in_tx || s->nqueued) return fail_unavailable(s, "connection lost during a transaction", err);
    if (s->conn) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    /* With s->conn NULL the free callback only frees names. */
    stmt_cache_clear(s->stmts);
    s->conn = pg_connect(s->conninfo, s->bulk, err);
    return s->conn ? 0 : -1;
}

/* stmt_cache free callback: handle is the malloc'd statement name. */
static void free_stmt(void *ctx, void *handle)
{
    struct pg_store *s = ctx;
    char *name = handle;
    PGTransactionStatusType ts = conn_ok(s) ? PQtransactionStatus(s->conn) : PQTRANS_UNKNOWN;
    if (ts == PQTRANS_IDLE || ts == PQTRANS_INTRANS) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", name);
        run_simple(s->conn, sql, NULL, deadline(s), &s->timed_out);
    }
    free(name);
}

/* The cached statement name for sql, preparing it first if needed.  NULL
 * with err set on failure. */
static const char *prepared(struct pg_store *s, const char *sql, int np, struct store_err *err)
{
    char *name = stmt_cache_get(s->stmts, sql);
    if (name) return name;
    name = xmalloc(24);
    snprintf(name, 24, "s%lu", stmt_cache_next_id(s->stmts));
    PGresult *res = await_result(s->conn, PQsendPrepare(s->conn, name, sql, np, NULL), deadline(s), &s->timed_out);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail_result(s, res, err);
        PQclear(res);
        free(name);
        return NULL;
    }
    PQclear(res);
    stmt_cache_put(s->stmts, sql, name);
    return name;
}

/* Forgets sql's statement after the server reported it missing (26000) or
 * stale (0A000). */
static void drop_prepared(struct pg_store *s, const char *sql, const char *state)
{
    char *name = stmt_cache_get(s->stmts, sql);
    if (!name) return;
    stmt_cache_forget(s->stmts, sql);
    if (strcmp(state, "26000") == 0) free(name); /* nothing to DEALLOCATE */
    else free_stmt(s, name);
}

/* Copies the parameters into s->scratch as NUL-terminated text and points
 * vals[i] at them (NULL for SQL NULL).  -1 with err set if a text value holds
 * a NUL byte, which PostgreSQL text cannot store. */
static int format_params(struct pg_store *s, const struct store_param *p, int np, const char **vals,
                         struct store_err *err)
{
    size_t offs[STORE_MAX_PARAMS];
    buf_reset(&s->scratch);
    for (int i = 0; i < np; i++) {
        offs[i] = s->scratch.len;
        switch (p[i].type) {
        case SP_NULL: break;
        case SP_TEXT:
            if (p[i].s && p[i].len) {
                if (memchr(p[i].s, '\0', p[i].len))
                    return store_fail(err, STORE_CONSTRAINT, "postgresql: text parameter %d contains a NUL byte",
                                      i + 1);
                buf_append(&s->scratch, p[i].s, p[i].len);
            }
            break;
        case SP_INT: buf_put_i64(&s->scratch, p[i].i); break;
        case SP_BOOL: buf_putc(&s->scratch, p[i].i ? '1' : '0'); break;
        }
        buf_putc(&s->scratch, '\0');
    }
    /* Only now: appending may have moved the data. */
    for (int i = 0; i < np; i++) vals[i] = p[i].type == SP_NULL ? NULL : s->scratch.data + offs[i];
    return 0;
}

/* Hands res's rows to fn until it returns nonzero. */
static void deliver_rows(const PGresult *res, store_row_fn fn, void *ctx)
{
    int ncols = PQnfields(res), nrows = PQntuples(res);
    const char *vals_small[PG_ROW_COLS];
    size_t lens_small[PG_ROW_COLS];
    const char **vals = vals_small;
    size_t *lens = lens_small;
    if (ncols > PG_ROW_COLS) {
        vals = xcalloc((size_t)ncols, sizeof *vals);
        lens = xcalloc((size_t)ncols, sizeof *lens);
    }
    for (int r = 0; r < nrows; r++) {
        for (int i = 0; i < ncols; i++) {
            /* a NULL has length 0 (and the value ""): only an empty value
             * needs asking which it is */
            int len = PQgetlength(res, r, i);
            if (len == 0 && PQgetisnull(res, r, i)) {
                vals[i] = NULL;
                lens[i] = 0;
            } else {
                vals[i] = PQgetvalue(res, r, i);
                lens[i] = (size_t)len;
            }
        }
        struct store_row row = {ncols, vals, lens, NULL, NULL};
        if (fn(ctx, &row)) break;
    }
    if (vals != vals_small) {
        free(vals);
        free(lens);
    }
}

/* ---- pipelines: several statements in one round trip ------------------
 *
 * A write transaction's BEGIN waits for its first statement, and statements
 * whose answers the caller does not need (store_exec_later) wait for the
 * next one it does need, or for the COMMIT: run_pipeline then sends them all
 * in libpq's pipeline mode, ended by one Sync, and reads every answer.  The
 * server runs them in order; after the first that fails it skips the rest
 * up to the Sync, so the transaction is then in the failed state and the
 * caller's rollback ends it, as after any failed statement.  The error
 * reported is the first one's, whichever statement it belonged to.
 * A COMMIT in the pipeline (store_exec_commit, store_commit) is awaited as
 * long as a lone COMMIT (commit_deadline). */

static const char *begin_sql(enum store_tx mode)
{
    /* Writers run REPEATABLE READ: whatever a write transaction reads or
     * overwrites was committed before its snapshot, so before its
     * transaction id was taken; every dependency between writes points to
     * a larger id, which is the order change feeds report (store.h).  A
     * row changed after the snapshot fails with 40001 and the write path
     * runs the transaction again.  A read transaction must see one
     * snapshot too: REPEATABLE READ, READ ONLY. */
    return mode == STORE_TX_SERIALIZABLE ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
           : mode == STORE_TX_WRITE      ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                                         : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
}

static void queue_clear(struct pg_store *s)
{
    for (int i = 0; i < s->nqueued; i++) {
        free(s->queue[i].sql);
        free(s->queue[i].data);
        free(s->queue[i].offs);
    }
    s->nqueued = 0;
}

/* Waits until PQgetResult will not block (at most until end, CLOCK_MONOTONIC
 * ms; deadline_ms < 0: no limit) and stores what it returns in *out.  false:
 * the deadline passed (the socket is then shut down and *timed_out set) or
 * the connection failed. */
static bool next_result(PGconn *c, int64_t end, int deadline_ms, bool *timed_out, PGresult **out)
{
    while (PQisBusy(c)) {
        int left = -1;
        if (deadline_ms >= 0 && (left = (int)(end - mono_ms())) <= 0) {
            *timed_out = true;
            shutdown(PQsocket(c), SHUT_RDWR);
            return false;
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int r = poll(&pfd, 1, left);
        if (r < 0 && errno != EINTR) return false;
        if (r > 0 && !PQconsumeInput(c)) return false;
    }
    *out = PQgetResult(c);
    return true;
}

enum { PIPE_BEGIN = -1, PIPE_FINAL = -2, PIPE_COMMIT = -3 }; /* else: an index into the queue */

/* Sends in one pipeline the pending BEGIN, the queued statements, then the
 * prepared statement `name` with vals (if name is not NULL; sql is its
 * text), then COMMIT (if commit), and reads every answer.  Returns the final
 * statement's row count (its rows handed to fn) or 0 without one; -1 with
 * err set from the first failure.  A statement the server no longer knows or
 * whose plan went stale (26000, 0A000) is forgotten, and the failure is a
 * STORE_RETRY: the write path runs the transaction again, preparing it anew. */
static long run_pipeline(struct pg_store *s, const char *sql, const char *name, int np, const char *const *vals,
                         bool commit, store_row_fn fn, void *ctx, struct store_err *err)
{
    PGconn *c = s->conn;
    PGresult *res[PG_QUEUE_MAX + 3] = {0};
    int what[PG_QUEUE_MAX + 3];
    int nq = 0, qi = 0, failed = -1;
    long rows = 0;
    bool synced = false, began = s->begin_pending;
    const char *stale_sql = NULL;
    char stale_state[6] = "";
    int dl = commit ? commit_deadline(s) : deadline(s);
    s->base.round_trips++;
    s->timed_out = false;
    bool sent = PQenterPipelineMode(c) == 1;
    if (sent && s->begin_pending) {
        sent = PQsendQueryParams(c, begin_sql(s->begin_mode), 0, NULL, NULL, NULL, NULL, 0) == 1;
        what[nq++] = PIPE_BEGIN;
    }
    s->begin_pending = false;
    for (int i = 0; sent && i < s->nqueued; i++) {
        const struct queued *q = &s->queue[i];
        const char *qv[STORE_MAX_PARAMS];
        for (int k = 0; k < q->np; k++) qv[k] = q->offs[k] < 0 ? NULL : q->data + q->offs[k];
        sent = PQsendQueryPrepared(c, q->name, q->np, qv, NULL, NULL, 0) == 1;
        what[nq++] = i;
    }
    if (sent && name) {
        sent = PQsendQueryPrepared(c, name, np, vals, NULL, NULL, 0) == 1;
        what[nq++] = PIPE_FINAL;
    }
    if (sent && commit) {
        sent = PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1;
        what[nq++] = PIPE_COMMIT;
    }
    if (sent) sent = PQpipelineSync(c) == 1;
    /* every statement's answers end with a NULL; then the Sync's */
    int64_t end = mono_ms() + dl;
    PGresult *cur = NULL;
    while (sent) {
        PGresult *r;
        if (!next_result(c, end, dl, &s->timed_out, &r)) break;
        if (!r) {
            if (qi == nq) break; /* no Sync where one should be: broken */
            res[qi++] = cur;
            cur = NULL;
            if (PQstatus(c) != CONNECTION_OK) break;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            synced = qi == nq;
            break;
        }
        PQclear(cur);
        cur = r;
    }
    PQclear(cur);
    bool ok_conn = synced && PQexitPipelineMode(c) == 1 && PQstatus(c) == CONNECTION_OK;
    /* the first failure (those after it were skipped: PGRES_PIPELINE_ABORTED) */
    for (int i = 0; i < nq && failed < 0; i++) {
        ExecStatusType st = res[i] ? PQresultStatus(res[i]) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK && what[i] == PIPE_COMMIT && strcmp(PQcmdStatus(res[i]), "ROLLBACK") == 0) {
            store_fail(err, STORE_ERROR, "postgresql: transaction was rolled back after an earlier error");
            failed = i;
        } else if (!status_ok(st)) {
            failed = i;
            if (!ok_conn) {
                fail_unavailable(s, res[i] ? PQresultErrorField(res[i], PG_DIAG_MESSAGE_PRIMARY) : NULL, err);
                break;
            }
            fail_result(s, res[i], err);
            const char *state = res[i] ? PQresultErrorField(res[i], PG_DIAG_SQLSTATE) : NULL;
            if (state && (strcmp(state, "26000") == 0 || strcmp(state, "0A000") == 0) && what[i] != PIPE_BEGIN &&
                what[i] != PIPE_COMMIT) {
                stale_sql = what[i] == PIPE_FINAL ? sql : s->queue[what[i]].sql;
                snprintf(stale_state, sizeof stale_state, "%s", state);
            }
        }
    }
    if (failed < 0 && !ok_conn) {
        fail_unavailable(s, NULL, err);
        failed = 0;
    }
    if (failed < 0 && name && fn)
        for (int i = 0; i < nq; i++)
            if (what[i] == PIPE_FINAL) deliver_rows(res[i], fn, ctx);
    for (int i = 0; i < nq; i++) {
        if (failed < 0 && what[i] == PIPE_FINAL)
            rows = PQresultStatus(res[i]) == PGRES_TUPLES_OK ? PQntuples(res[i]) : strtol(PQcmdTuples(res[i]), NULL, 10);
        PQclear(res[i]);
    }
    if (!ok_conn) {
        /* a pipeline cut short leaves the connection in no known state: it
         * is dropped, and made again outside a transaction */
        PQfinish(s->conn);
        s->conn = NULL;
        if (began || s->in_tx) s->in_tx = true;
    } else {
        track_tx(s);
        if (stale_sql) {
            drop_prepared(s, stale_sql, stale_state);
            if (s->in_tx || began) err->kind = STORE_RETRY;
        }
        /* a failed COMMIT ends the transaction; make sure nothing stays open */
        if (failed >= 0 && commit && PQtransactionStatus(c) != PQTRANS_IDLE) {
            s->base.round_trips++;
            run_simple(c, "ROLLBACK", NULL, deadline(s), &s->timed_out);
            track_tx(s);
        }
    }
    if (commit) s->in_tx = false;
    queue_clear(s);
    return failed >= 0 ? -1 : rows;
}

/* Sends what waits (the BEGIN, queued statements), if anything does. */
static int flush_pending(struct pg_store *s, struct store_err *err)
{
    if (!s->begin_pending && !s->nqueued) return 0;
    if (ensure_conn(s, err) < 0) return -1;
    return run_pipeline(s, NULL, NULL, 0, NULL, false, NULL, NULL, err) < 0 ? -1 : 0;
}

static long pg_exec(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn,
                    void *ctx, struct store_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    const char *vals[STORE_MAX_PARAMS];
    PGresult *res = NULL;
    long rows = -1;
    if (np < 0 || np > STORE_MAX_PARAMS || (np > 0 && !p))
        return store_fail(err, STORE_ERROR, "postgresql: %d parameters (at most %d)", np, STORE_MAX_PARAMS);
    if (format_params(s, p, np, vals, err) < 0) return -1;
    if (ensure_conn(s, err) < 0) return -1;
    assert(s->conn);
    if (s->begin_pending || s->nqueued) {
        /* the BEGIN and the queued statements go with this one */
        const char *name = prepared(s, sql, np, err);
        return name ? run_pipeline(s, sql, name, np, vals, false, fn, ctx, err) : -1;
    }
    s->base.round_trips++;
    for (int attempt = 0;; attempt++) {
        const char *name = prepared(s, sql, np, err);
        if (!name) goto out;
        res = await_result(s->conn, PQsendQueryPrepared(s->conn, name, np, vals, NULL, NULL, 0), deadline(s),
                           &s->timed_out);
        ExecStatusType rs = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (rs == PGRES_TUPLES_OK) {
            rows = PQntuples(res);
            if (fn) deliver_rows(res, fn, ctx);
            goto out;
        }
        if (rs == PGRES_COMMAND_OK) {
            rows = strtol(PQcmdTuples(res), NULL, 10);
            goto out;
        }
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        bool stale = state && (strcmp(state, "26000") == 0 || strcmp(state, "0A000") == 0);
        if (attempt == 0 && stale && conn_ok(s) && PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
            drop_prepared(s, sql, state);
            PQclear(res);
            res = NULL;
            continue;
        }
        fail_result(s, res, err);
        goto out;
    }
out:
    PQclear(res);
    track_tx(s);
    return rows;
}

static int pg_script(struct store *st, const char *sql, struct store_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    PGresult *res = NULL;
    int rc = -1;
    if (flush_pending(s, err) < 0) return -1;
    if (ensure_conn(s, err) < 0) return -1;
    if (status_ok(run_simple(s->conn, sql, &res, deadline(s), &s->timed_out))) rc = 0;
    else fail_result(s, res, err);
    PQclear(res);
    track_tx(s);
    return rc;
}

/* Nothing is sent yet: the BEGIN goes with the transaction's first
 * statement (run_pipeline). */
static int pg_begin(struct store *st, enum store_tx mode, struct store_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    /* A transaction whose connection died is over, whether or not the
     * caller rolled it back: let ensure_conn reconnect. */
    if (s->in_tx && !conn_alive(s)) s->in_tx = false;
    if (s->in_tx || s->begin_pending) return store_fail(err, STORE_ERROR, "postgresql: begin inside an open transaction");
    s->begin_pending = true;
    s->begin_mode = mode;
    return 0;
}

static int pg_commit(struct store *st, struct store_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    PGresult *res = NULL;
    int rc = -1;
    if (s->begin_pending && !s->nqueued) {
        s->begin_pending = false; /* nothing was sent: nothing to commit */
        return 0;
    }
    if (s->begin_pending || s->nqueued) {
        if (ensure_conn(s, err) < 0) {
            queue_clear(s);
            s->begin_pending = s->in_tx = false;
            return -1;
        }
        return run_pipeline(s, NULL, NULL, 0, NULL, true, NULL, NULL, err) < 0 ? -1 : 0;
    }
    if (!conn_ok(s)) {
        s->in_tx = false;
        return fail_unavailable(s, "connection lost during a transaction", err);
    }
    s->base.round_trips++;
    ExecStatusType rs = run_simple(s->conn, "COMMIT", &res, commit_deadline(s), &s->timed_out);
    if (rs != PGRES_COMMAND_OK) {
        fail_result(s, res, err);
    } else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        /* The transaction had failed earlier; COMMIT only ended it. */
        store_fail(err, STORE_ERROR, "postgresql: transaction was rolled back after an earlier error");
    } else {
        rc = 0;
    }
    PQclear(res);
    /* A failed COMMIT ends the transaction; make sure nothing stays open. */
    if (rc < 0 && conn_ok(s) && PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        s->base.round_trips++;
        run_simple(s->conn, "ROLLBACK", NULL, deadline(s), &s->timed_out);
    }
    s->in_tx = false;
    return rc;
}

static void pg_rollback(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    /* what was never sent is simply forgotten */
    queue_clear(s);
    s->begin_pending = false;
    if (conn_ok(s) && PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        s->base.round_trips++;
        run_simple(s->conn, "ROLLBACK", NULL, deadline(s), &s->timed_out);
    }
    s->in_tx = false;
}

/* Inside a transaction: queued, sent with the next statement or the COMMIT.
 * Outside one: run at once. */
static int pg_exec_later(struct store *st, const char *sql, const struct store_param *p, int np,
                         struct store_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    const char *vals[STORE_MAX_PARAMS];
    if (!s->begin_pending && !s->in_tx) return pg_exec(st, sql, p, np, NULL, NULL, err) < 0 ? -1 : 0;
    if (np < 0 || np > STORE_MAX_PARAMS || (np > 0 && !p))
        return store_fail(err, STORE_ERROR, "postgresql: %d parameters (at most %d)", np, STORE_MAX_PARAMS);
    if (s->nqueued == PG_QUEUE_MAX && flush_pending(s, err) < 0) return -1;
    if (format_params(s, p, np, vals, err) < 0) return -1;
    if (ensure_conn(s, err) < 0) return -1;
    const char *name = prepared(s, sql, np, err);
    if (!name) return -1;
    struct queued *q = &s->queue[s->nqueued++];
    q->sql = xstrndup(sql, strlen(sql));
    snprintf(q->name, sizeof q->name, "%s", name);
    q->np = np;
    q->data = xmalloc(s->scratch.len ? s->scratch.len : 1);
    if (s->scratch.len) memcpy(q->data, s->scratch.data, s->scratch.len);
    q->offs = xcalloc(np ? (size_t)np : 1, sizeof *q->offs);
    for (int i = 0; i < np; i++) q->offs[i] = vals[i] ? (int)(vals[i] - s->scratch.data) : -1;
    return 0;
}

/* The statement and the COMMIT in one pipeline (with the BEGIN and what is
 * queued).  Outside a transaction: the statement alone. */
static long pg_exec_commit(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn,
                           void *ctx, struct store_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    const char *vals[STORE_MAX_PARAMS];
    if (!s->begin_pending && !s->in_tx) return pg_exec(st, sql, p, np, fn, ctx, err);
    long rows = -1;
    const char *name;
    if (np < 0 || np > STORE_MAX_PARAMS || (np > 0 && !p))
        store_fail(err, STORE_ERROR, "postgresql: %d parameters (at most %d)", np, STORE_MAX_PARAMS);
    else if (format_params(s, p, np, vals, err) == 0 && ensure_conn(s, err) == 0 &&
             (name = prepared(s, sql, np, err)) != NULL)
        return run_pipeline(s, sql, name, np, vals, true, fn, ctx, err);
    pg_rollback(st); /* the transaction is over either way */
    return rows;
}

static int pg_ping(struct store *st, struct store_err *err)
{
    return pg_exec(st, "SELECT 1", NULL, 0, NULL, NULL, err) < 0 ? -1 : 0;
}

static int pg_bulk_mode(struct store *st, struct store_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    if (pg_script(st, PG_BULK_SQL, err) < 0) return -1;
    s->bulk = true;
    return 0;
}

static void pg_close(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    /* DEALLOCATE is pointless right before PQfinish: forget the session. */
    queue_clear(s);
    PQfinish(s->conn);
    s->conn = NULL;
    stmt_cache_free(s->stmts);
    buf_free(&s->scratch);
    free(s->conninfo);
    free(s);
}

static bool pg_connected(const struct store *st)
{
    return conn_ok((const struct pg_store *)st);
}

static const struct store_ops pg_ops = {
    .exec = pg_exec,
    .exec_later = pg_exec_later,
    .exec_commit = pg_exec_commit,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .script = pg_script,
    .ping = pg_ping,
    .bulk_mode = pg_bulk_mode,
    /* Runs inside the migration transaction: several servers starting on an
     * empty database migrate once.  A migration step (an index on a big
     * table) and the wait behind another server's migration may both take
     * longer than the statement timeout, so that limit is lifted for this
     * one transaction (SET LOCAL ends with it). */
    .migrate_begin_sql = "BEGIN ISOLATION LEVEL READ COMMITTED", /* each step sees what committed
                                                                   before its locks (schema step 9) */
    /* A database restored into another cluster (pg_dump/pg_restore loads
     * rows before their triggers, and the new cluster's transaction ids
     * start low) holds rows whose seq is ahead of every snapshot: walks
     * would skip them and feeds repeat them forever.  The cluster's system
     * identifier is kept in firemode_meta; when it changes, every row is
     * stamped again (the trigger gives it this migration's id), once. */
    .post_migrate_sql =
        "DO $fm$ DECLARE sid text := (SELECT system_identifier::text FROM pg_control_system());"
        " old text := (SELECT value FROM firemode_meta WHERE key = 'cluster_id');"
        " BEGIN IF old IS DISTINCT FROM sid THEN"
        "  IF old IS NOT NULL THEN"
        "   UPDATE users SET seq = seq; UPDATE workspaces SET seq = seq; UPDATE documents SET seq = seq;"
        "   UPDATE configs SET seq = seq; UPDATE jobs SET seq = seq; UPDATE test_sessions SET seq = seq;"
        "   UPDATE workspace_members SET seq = seq;"
        "  END IF;"
        "  INSERT INTO firemode_meta (key, value) VALUES ('cluster_id', sid)"
        "   ON CONFLICT (key) DO UPDATE SET value = excluded.value;"
        " END IF; END $fm$;"
        /* The kept counts of sessions that have ended are folded into
         * slot 0 (schema step 9), so that their rows do not pile up with
         * every restart and reconnect.  A live session's rows are left
         * alone: it may hold them; a new session that reuses the pid of
         * one folded here waits for this commit at most. */
        "WITH g AS (DELETE FROM firemode_row_counts WHERE slot > 0"
        " AND slot / 16 NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL) RETURNING tbl, scope, n)"
        " INSERT INTO firemode_row_counts AS k (tbl, scope, slot, n) SELECT tbl, scope, 0, sum(n) FROM g"
        " GROUP BY tbl, scope ON CONFLICT (tbl, scope, slot) DO UPDATE SET n = k.n + excluded.n;"
        "DELETE FROM firemode_row_counts WHERE slot = 0 AND n = 0",
    .migrate_lock_sql = "SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock(7274001)",
    .close = pg_close,
    .connected = pg_connected,
};

struct store *store_pg_open(const char *conninfo, struct store_err *err)
{
    PGconn *c = pg_connect(conninfo, false, err);
    if (!c) return NULL;
    struct pg_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &pg_ops;
    s->base.dialect = &pg_dialect;
    s->conn = c;
    s->conninfo = xstrndup(conninfo, strlen(conninfo));
    s->stmts = stmt_cache_new(PG_STMT_CACHE, free_stmt, s);
    buf_init(&s->scratch);
    return &s->base;
}
