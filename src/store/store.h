/*
 * store — the one interface both databases sit behind.
 *
 * A struct store is one database connection, owned by one thread at a time
 * (the HTTP layer keeps one per worker thread).  Handlers and the planner see
 * only this header: never sqlite3 * or PGconn *.
 *
 * SQL text given to store_exec comes from the planner (src/grammar/plan.c)
 * or from fixed strings in the code: identifiers only from the declared
 * collection tables, every value a bound parameter.  Parameters are written
 * in the dialect's own placeholder form (struct dialect).  Each backend
 * prepares a statement the first time it sees a given SQL text on a
 * connection and reuses it afterwards (src/store/stmt_cache.c).
 *
 * Values cross this boundary as text (NULL pointer = SQL NULL) so rows read
 * the same from both backends:
 *   - integers and timestamps (int64 microseconds since the epoch) as decimal;
 *   - booleans as "1"/"0" when bound; when read back, "1"/"t" mean true;
 *   - everything else as UTF-8 text.
 *
 * Errors: every call that can fail returns -1 and fills a struct store_err,
 * whose kind the HTTP layer maps to a status in exactly one place.
 */
#ifndef FM_STORE_H
#define FM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/text.h"

enum store_kind {
    STORE_OK = 0,
    STORE_UNIQUE,      /* a unique constraint failed           -> 409 */
    STORE_CONSTRAINT,  /* check / foreign key / not null failed -> 422 */
    STORE_UNAVAILABLE, /* cannot reach the database, or it is restarting -> 503 */
    STORE_BUSY,        /* lock or statement timeout              -> 503 */
    STORE_RETRY,       /* serialization failure or deadlock: the write
                          transaction may simply be run again (the write
                          path does, a few times; then it is a 503) */
    STORE_ERROR,       /* anything else (a bug of ours)          -> 500 */
};

struct store_err {
    enum store_kind kind;
    char msg[256];
};

enum store_ptype { SP_NULL, SP_TEXT, SP_INT, SP_BOOL };

struct store_param {
    enum store_ptype type;
    const char *s; /* SP_TEXT: borrowed, len bytes, need not be NUL-terminated */
    size_t len;
    int64_t i;     /* SP_INT, SP_BOOL (0/1) */
};

#define STORE_MAX_PARAMS 256

/* One result row, valid only during the callback.  Where the backend
 * read a column as an integer (SQLite), is_int[i] is 1 and ints[i] holds it
 * (vals[i] is then its decimal text, written by us): callers that want the
 * number take it from there instead of parsing the text (store_row_int). */
struct store_row {
    int ncols;
    const char *const *vals; /* vals[i] == NULL means SQL NULL; NUL-terminated */
    const size_t *lens;
    const int64_t *ints;         /* NULL when no column came as an integer */
    const unsigned char *is_int; /* NULL likewise */
};

/* The integer of column i (not NULL): the backend's own, or its text
 * parsed (int_parse; 0 if it is not an integer). */
static inline int64_t store_row_int(const struct store_row *row, int i)
{
    int64_t v = 0;
    if (row->is_int && row->is_int[i]) return row->ints[i];
    return int_parse(row->vals[i], row->lens[i], &v) ? v : 0;
}
/* A boolean's text as a backend writes it (SQLite 1/0, PostgreSQL t/f):
 * true?  v is n bytes, or NULL (false). */
static inline bool store_text_true(const char *v, size_t n)
{
    return v && n && (v[0] == '1' || v[0] == 't');
}
/* A boolean column: true; NULL is false. */
static inline bool store_row_true(const struct store_row *row, int i)
{
    const char *v = row->vals[i];
    if (v && row->is_int && row->is_int[i]) return row->ints[i] != 0;
    return store_text_true(v, row->lens[i]);
}
/* A pointer to the integer of column i if the backend read it as one. */
static inline const int64_t *store_row_intp(const struct store_row *row, int i)
{
    return row->is_int && row->is_int[i] ? &row->ints[i] : NULL;
}

/* Called once per row; return 0 to go on, nonzero to stop early. */
typedef int (*store_row_fn)(void *ctx, const struct store_row *row);

/* What differs between the SQL dialects, as data the planner reads. */
struct dialect {
    const char *name;   /* "sqlite" or "postgresql" */
    char param_prefix;  /* '?' (SQLite ?NNN) or '$' (PostgreSQL $N) */
    /* Case-insensitive (ASCII only) substring match of a column against a
     * bound pattern that is already lower-case and LIKE-escaped with '\'.
     * printf format taking: column (%s), prefix (%c), param number (%d). */
    const char *ci_like_fmt;
    const char *for_update; /* appended to a SELECT that locks the row it reads before writing it */
    const char *for_share;  /* appended to a SELECT of a row a write relies on (a reference) */
    /* The current position in the order of writes, as an SQL expression
     * of text type, read inside a statement so that it belongs to that
     * statement's snapshot (see struct wpos). */
    const char *pos_sql;
    /* Positions are snapshots (xmin, xmax, in-progress ids): PostgreSQL.
     * Otherwise a position is one counter value (SQLite). */
    bool snapshot_pos;
    /* Put before a WHERE term to keep the planner from driving the query
     * from an index on it (SQLite "+"), or NULL where the planner needs no
     * such hint (PostgreSQL). */
    const char *no_index;
    /* Lists the secondary indexes of the collection tables as rows of
     * (name, CREATE statement), for bulk loads that drop and rebuild them;
     * NULL if the backend does not support that. */
    const char *indexes_sql;
    /* The elements of a bound JSON array of strings as a FROM item named j
     * with one text column, value.  printf format taking: prefix (%c),
     * param number (%d). */
    const char *json_elements_fmt;
    /* A page after an OFFSET finds its rows' keys first (an index-only walk
     * of the sort index past the offset) and then reads only those rows:
     * "t.<pk>" keys_in_open "SELECT t.<pk> ... LIMIT .. OFFSET .." keys_in_close.
     * SQLite " IN (" ")"; PostgreSQL " = ANY (ARRAY(" "))": there an IN is a
     * join whose generic plan, not knowing the LIMIT, hashes the whole table.
     * From keys_first_offset rows on (below it reading the rows as the walk
     * passes them costs less: measured on 200k users, SQLite's break-even
     * between 1,000 and 2,000 rows, PostgreSQL's between 100 and 200). */
    const char *keys_in_open, *keys_in_close;
    int keys_first_offset;
    /* The key those pages pick rows by: SQLite "rowid" (every index holds
     * it, so any sort index covers the walk, and the row is one b-tree
     * probe); NULL for the primary key (PostgreSQL: index-only scans return
     * index columns, and every sort ends with the primary key). */
    const char *keys_column;
    /* The count of a list with no filter (include_total) is kept as rows
     * are written, in this table (PostgreSQL schema step 9): per table and
     * scope ('' when the list has none, else its workspace), the
     * live rows, summed over the rows of tbl, scope.  NULL: counted with
     * count(*) (SQLite counts index cells). */
    const char *row_counts;
};

struct store;

/* The longest one statement may take, in milliseconds (default 2000):
 * PostgreSQL cancels a slower statement and a database that does not answer
 * at all is given up on after it (both a 503).  Set once at start, before
 * any store is opened.  Bulk mode ignores it. */
void store_set_timeout_ms(int ms);

/* Opens a connection for url ("sqlite:PATH", "sqlite::memory:",
 * "postgresql://..." or "postgres://...").  On failure returns NULL and fills
 * err.  The caller owns the result and frees it with store_close. */
struct store *store_open(const char *url, struct store_err *err);
/* NULL-safe.  Finalizes cached statements and closes the connection. */
void store_close(struct store *st);
const struct dialect *store_dialect(const struct store *st);
/* true if url names a database this build can open. */
bool store_url_valid(const char *url);

/* Runs one statement with np bound parameters.  fn (may be NULL) is called
 * for each row.  Returns the number of rows changed (INSERT/UPDATE/DELETE) or
 * returned (SELECT), or -1 with err set.  After a STORE_UNAVAILABLE error the
 * store reconnects by itself on a later call. */
long store_exec(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn, void *ctx,
                struct store_err *err);

/* store_exec, for a caller that reads the columns of int_only (bit i:
 * column i, the first 64) only through store_row_int, store_row_true or
 * store_row_intp, as the type table's renderers of integers do: where a
 * backend reads such a column as an integer (SQLite), it does not write its
 * text (vals[i] is then "" for a value that is not NULL).  A list page
 * renders a few timestamps and booleans per row; their digits were most of
 * what reading the row cost us.  The mask is this statement's alone: one
 * run from inside its callback reads in full. */
long store_exec_ints(struct store *st, uint64_t int_only, const char *sql, const struct store_param *p, int np,
                     store_row_fn fn, void *ctx, struct store_err *err);

/* Inside a transaction: runs a statement whose rows and row count the
 * caller does not need.  PostgreSQL sends it with the next statement run
 * (store_exec, store_exec_commit) or with the COMMIT, all in one round trip
 * (libpq's pipeline mode); a failure of it is then that call's failure.
 * SQLite runs it at once.  Outside a transaction it runs at once.  0, or -1
 * with err set. */
int store_exec_later(struct store *st, const char *sql, const struct store_param *p, int np, struct store_err *err);
/* Runs the last statement of a transaction and commits: store_exec, then
 * store_commit, in one round trip on PostgreSQL.  Returns the statement's
 * row count (rows handed to fn, as store_exec) once the COMMIT succeeded
 * (the transaction is durable); -1 with err set when the statement or the
 * COMMIT failed, and the transaction is then over (rolled back). */
long store_exec_commit(struct store *st, const char *sql, const struct store_param *p, int np, store_row_fn fn,
                       void *ctx, struct store_err *err);

/* Transactions.  store_begin(st, true, …) takes the write lock up front
 * (SQLite BEGIN IMMEDIATE) so that a read-then-write cannot deadlock;
 * PostgreSQL sends the BEGIN with the transaction's first statement (a
 * transaction that runs none sends nothing).  store_commit returns only once
 * the transaction is durable. */
int store_begin(struct store *st, bool write, struct store_err *err);
/* How a transaction begins (store_begin: STORE_TX_READ or STORE_TX_WRITE).
 * STORE_TX_SERIALIZABLE: a write whose decision rests on rows it only
 * counts (a limit): PostgreSQL SERIALIZABLE, so two such writes that would
 * each have seen the other's rows fail one of them (STORE_RETRY). */
enum store_tx { STORE_TX_READ, STORE_TX_WRITE, STORE_TX_SERIALIZABLE };
int store_begin_tx(struct store *st, enum store_tx mode, struct store_err *err);
int store_commit(struct store *st, struct store_err *err);
/* NULL-safe; never fails from the caller's point of view. */
void store_rollback(struct store *st);

/* Creates or migrates the schema to the current version.  Safe to call from
 * several processes at once (PostgreSQL: an advisory lock). */
int store_migrate(struct store *st, struct store_err *err);
/* Makes the kept counts of unfiltered lists (dialect.row_counts) again from
 * the rows, holding writes to the counted tables until it commits, and sets
 * *changed to the number of scopes whose count was wrong.  Returns 0 (and
 * *changed = -1) where the dialect keeps no counts, -1 on error. */
int store_recount(struct store *st, long *changed, struct store_err *err);

/* A cheap round trip: 0 if the database answers. */
int store_ping(struct store *st, struct store_err *err);

/* Round trips to the database made by this connection since it was opened:
 * statements, BEGIN, COMMIT, ROLLBACK and pings; on PostgreSQL what one
 * pipeline sends together (a BEGIN with the first statement, queued
 * statements, a COMMIT with the last) is one (what the backend also does on
 * its own -- preparing a statement's first use, reconnecting -- is not
 * counted).  SQLite counts each statement.  A plain counter: read it from
 * the thread that owns the connection. */
unsigned long long store_round_trips(const struct store *st);
/* false while the connection is lost and not yet made again (PostgreSQL:
 * the next call reconnects); SQLite: always true. */
bool store_connected(const struct store *st);

/* Bulk-load mode for `firemode seed`: trades durability for speed on this
 * connection until store_close (SQLite: synchronous=OFF, no WAL).  Returns
 * 0, or 1 when another connection holds the database (SQLite: a running
 * server; the load then keeps WAL and should commit in short batches so
 * the server's writes get their turn), or -1 on an error. */
int store_bulk_mode(struct store *st, struct store_err *err);

/* ---- positions in the order of writes --------------------------------
 *
 * Every collection row keeps `seq`, set by the write that last touched it.
 * A position S says which writes had committed at one moment; a row is "old
 * for S" when the write that set its seq had committed at S:
 *
 *     old(seq, S)  <=>  seq < S.xmin  OR  (seq < S.xmax AND seq NOT IN S.xip)
 *
 * PostgreSQL: seq is the writing transaction's id (a trigger sets it from
 * pg_current_xact_id(), so no write can forget it) and S is the snapshot of
 * a statement, pg_current_snapshot().  Writers commit concurrently; no lock
 * is shared by all of them.
 * SQLite: one writer at a time; seq is a counter every write transaction
 * bumps once (store_write_position) and S = the counter c read by a
 * statement, written as xmin = xmax = c + 1 with no xip.
 */
#define WPOS_MAX_XIP 256

struct wpos {
    int64_t xmin, xmax;
    int nxip;
    int64_t xip[WPOS_MAX_XIP]; /* ascending, each in [xmin, xmax) */
};

/* Parses a position as the dialect's pos_sql renders it.  false if it is
 * not one (or has more than WPOS_MAX_XIP transactions in progress). */
bool store_parse_pos(const struct dialect *d, const char *s, size_t n, struct wpos *out);
/* true if a row whose seq is `seq` is old for p. */
bool wpos_old(const struct wpos *p, int64_t seq);

/* Inside a write transaction: the value to store in `seq` of every row
 * this transaction writes.  SQLite bumps the counter (once per transaction:
 * call it once); PostgreSQL's trigger sets seq itself, so this is 0 there.
 * 0 or -1. */
int store_write_position(struct store *st, int64_t *pos, struct store_err *err);

/* The 32-byte key that authenticates cursor and feed tokens: made once by
 * the first migration, kept in the database, so every server of a cluster
 * has the same one.  0 or -1. */
int store_token_key(struct store *st, unsigned char key[32], struct store_err *err);

/* Helpers to build parameters. */
static inline struct store_param sp_text(const char *s, size_t len)
{
    struct store_param p = {SP_TEXT, s, len, 0};
    return p;
}
static inline struct store_param sp_int(int64_t v)
{
    struct store_param p = {SP_INT, NULL, 0, v};
    return p;
}
static inline struct store_param sp_bool(bool v)
{
    struct store_param p = {SP_BOOL, NULL, 0, v ? 1 : 0};
    return p;
}
static inline struct store_param sp_null(void)
{
    struct store_param p = {SP_NULL, NULL, 0, 0};
    return p;
}

#endif
