/*
 * schema — the database schema, written once and instantiated per dialect.
 *
 * Text columns are byte-ordered on both backends (SQLite's BINARY collation,
 * PostgreSQL's COLLATE "C"); timestamps are BIGINT microseconds since the
 * epoch (UTC); booleans are INTEGER 0/1 on SQLite and BOOLEAN on PostgreSQL.
 * Tags and vector clocks are stored as canonical JSON text ready to render;
 * document_tags duplicates the tags for filtering.
 *
 * Every collection row keeps `vclock` (its vector clock) and `seq`, its
 * position in the order of writes (store.h, "positions"): on SQLite the
 * value of firemode_counters.write_seq that its write transaction took
 * (one writer at a time), on PostgreSQL the id of the transaction that last
 * wrote it, stamped by a trigger (step 3); no lock is shared by all writers.
 *
 * To change the schema, append a step; never edit a released one.
 */
#include "store_int.h"

#include <string.h>

#define STEP1(T, B, W)                                                                                                   \
    "CREATE TABLE IF NOT EXISTS firemode_counters (name " T " PRIMARY KEY, value BIGINT NOT NULL);"                    \
    "INSERT INTO firemode_counters (name, value) VALUES ('write_seq', 0) ON CONFLICT DO NOTHING;"                     \
    "CREATE TABLE IF NOT EXISTS users ("                                                                             \
    " user_id " T " PRIMARY KEY, email " T " NOT NULL, email_canonical " T " NOT NULL,"                              \
    " display_name " T ", is_active " B " NOT NULL, is_service_account " B " NOT NULL, is_admin " B " NOT NULL,"     \
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, last_login_at BIGINT,"                                  \
    " vclock " T " NOT NULL, seq BIGINT NOT NULL);"                                                                  \
    "CREATE UNIQUE INDEX IF NOT EXISTS users_email_canonical ON users (email_canonical);"                           \
    "CREATE INDEX IF NOT EXISTS users_active_created ON users (is_active, created_at, user_id);"                    \
    "CREATE INDEX IF NOT EXISTS users_created ON users (created_at, user_id);"                                      \
    "CREATE INDEX IF NOT EXISTS users_seq ON users (seq);"                                                          \
    "CREATE TABLE IF NOT EXISTS api_tokens ("                                                                        \
    " token_id " T " PRIMARY KEY, user_id " T " NOT NULL REFERENCES users (user_id),"                                \
    " token_hash " T " NOT NULL, created_at BIGINT NOT NULL);"                                                       \
    "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_hash ON api_tokens (token_hash);"                                 \
    "CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens (user_id);"                                           \
    "CREATE TABLE IF NOT EXISTS workspaces ("                                                                        \
    " workspace_id " T " PRIMARY KEY, name " T " NOT NULL,"                                                          \
    " created_by_user_id " T " NOT NULL REFERENCES users (user_id),"                                                 \
    " created_at BIGINT NOT NULL, vclock " T " NOT NULL, seq BIGINT NOT NULL);"                                      \
    "CREATE INDEX IF NOT EXISTS workspaces_created ON workspaces (created_at, workspace_id);"                       \
    "CREATE INDEX IF NOT EXISTS workspaces_seq ON workspaces (seq);"                                                \
    "CREATE TABLE IF NOT EXISTS workspace_members ("                                                                 \
    " workspace_id " T " NOT NULL REFERENCES workspaces (workspace_id),"                                             \
    " user_id " T " NOT NULL REFERENCES users (user_id), created_at BIGINT NOT NULL,"                                \
    " PRIMARY KEY (workspace_id, user_id))" W ";"                                                                         \
    "CREATE INDEX IF NOT EXISTS workspace_members_user ON workspace_members (user_id, workspace_id);"               \
    "CREATE TABLE IF NOT EXISTS documents ("                                                                         \
    " document_id " T " PRIMARY KEY, workspace_id " T " NOT NULL REFERENCES workspaces (workspace_id),"              \
    " original_filename " T " NOT NULL, byte_size BIGINT NOT NULL CHECK (byte_size >= 0),"                           \
    " status " T " NOT NULL, source " T " NOT NULL,"                                                                 \
    " uploaded_by_user_id " T " NOT NULL REFERENCES users (user_id), tags " T " NOT NULL,"                           \
    " created_at BIGINT NOT NULL, last_run_at BIGINT, deleted_at BIGINT,"                                            \
    " vclock " T " NOT NULL, seq BIGINT NOT NULL);"                                                                  \
    "CREATE INDEX IF NOT EXISTS documents_ws_created ON documents (workspace_id, created_at, document_id);"          \
    "CREATE INDEX IF NOT EXISTS documents_ws_status_created ON documents (workspace_id, status, created_at);"       \
    "CREATE INDEX IF NOT EXISTS documents_ws_last_run ON documents (workspace_id, last_run_at);"                    \
    "CREATE INDEX IF NOT EXISTS documents_ws_seq ON documents (workspace_id, seq);"                                 \
    "CREATE TABLE IF NOT EXISTS document_tags ("                                                                     \
    " document_id " T " NOT NULL REFERENCES documents (document_id), tag " T " NOT NULL,"                            \
    " PRIMARY KEY (document_id, tag))" W ";"                                                                              \
    "CREATE INDEX IF NOT EXISTS document_tags_tag ON document_tags (tag, document_id);"                             \
    "CREATE TABLE IF NOT EXISTS configs ("                                                                           \
    " config_id " T " PRIMARY KEY, workspace_id " T " NOT NULL REFERENCES workspaces (workspace_id),"                \
    " slug " T " NOT NULL, title " T " NOT NULL, created_by_user_id " T " NOT NULL REFERENCES users (user_id),"      \
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted_at BIGINT,"                                    \
    " vclock " T " NOT NULL, seq BIGINT NOT NULL);"                                                                  \
    "CREATE UNIQUE INDEX IF NOT EXISTS configs_ws_slug_live ON configs (workspace_id, slug) WHERE deleted_at IS NULL;" \
    "CREATE INDEX IF NOT EXISTS configs_ws_created ON configs (workspace_id, created_at, config_id);"               \
    "CREATE INDEX IF NOT EXISTS configs_ws_seq ON configs (workspace_id, seq);"                                     \
    "CREATE TABLE IF NOT EXISTS jobs ("                                                                              \
    " job_id " T " PRIMARY KEY, workspace_id " T " NOT NULL REFERENCES workspaces (workspace_id),"                   \
    " config_id " T " NOT NULL REFERENCES configs (config_id), config_version_id " T ","                             \
    " status " T " NOT NULL, submitted_by_user_id " T " NOT NULL REFERENCES users (user_id),"                        \
    " trace_id " T ", retry_of_job_id " T " REFERENCES jobs (job_id),"                                               \
    " created_at BIGINT NOT NULL, queued_at BIGINT NOT NULL, started_at BIGINT, completed_at BIGINT,"                \
    " vclock " T " NOT NULL, seq BIGINT NOT NULL);"                                                                  \
    "CREATE INDEX IF NOT EXISTS jobs_ws_created ON jobs (workspace_id, created_at, job_id);"                        \
    "CREATE INDEX IF NOT EXISTS jobs_ws_status_created ON jobs (workspace_id, status, created_at);"                 \
    "CREATE INDEX IF NOT EXISTS jobs_status_queued ON jobs (status, queued_at);"                                    \
    "CREATE INDEX IF NOT EXISTS jobs_ws_seq ON jobs (workspace_id, seq);"                                           \
    "CREATE TABLE IF NOT EXISTS test_sessions ("                                                                     \
    " id " T " PRIMARY KEY, building_id " T " NOT NULL, status " T " NOT NULL, technician_id " T ", notes " T ","    \
    " created_by " T " NOT NULL REFERENCES users (user_id),"                                                         \
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted_at BIGINT,"                                       \
    " vclock " T " NOT NULL, seq BIGINT NOT NULL);"                                                                  \
    "CREATE INDEX IF NOT EXISTS test_sessions_owner_created ON test_sessions (created_by, created_at, id);"         \
    "CREATE INDEX IF NOT EXISTS test_sessions_owner_seq ON test_sessions (created_by, seq);"

/* Step 2: lists of soft-delete collections read live rows by default; a
 * partial index over them serves the default order and makes the count of
 * include_total an index-only walk. */
#define STEP2                                                                                                         \
    "CREATE INDEX IF NOT EXISTS documents_ws_live_created ON documents (workspace_id, created_at, document_id)"      \
    " WHERE deleted_at IS NULL;"                                                                                     \
    "CREATE INDEX IF NOT EXISTS configs_ws_live_created ON configs (workspace_id, created_at, config_id)"             \
    " WHERE deleted_at IS NULL;"

/* Step 3: change feeds page by (seq, primary key) within a scope, so the
 * seq indexes carry the key too (one transaction may write many rows: a
 * seed, a migration).  PostgreSQL: the write position of a row is the id of
 * the transaction that last wrote it, set by a trigger so that no write
 * path can forget it (store.h, "positions"), fired also under logical
 * replication (ENABLE ALWAYS).  Rows written before this step get the
 * migration's own id.  The write_seq counter stays for SQLite only. */
#define SEQ_INDEXES                                                                                                   \
    "DROP INDEX IF EXISTS users_seq; DROP INDEX IF EXISTS workspaces_seq; DROP INDEX IF EXISTS documents_ws_seq;"    \
    "DROP INDEX IF EXISTS configs_ws_seq; DROP INDEX IF EXISTS jobs_ws_seq; DROP INDEX IF EXISTS test_sessions_owner_seq;" \
    "CREATE INDEX IF NOT EXISTS users_seq_pk ON users (seq, user_id);"                                              \
    "CREATE INDEX IF NOT EXISTS workspaces_seq_pk ON workspaces (seq, workspace_id);"                               \
    "CREATE INDEX IF NOT EXISTS documents_ws_seq_pk ON documents (workspace_id, seq, document_id);"                 \
    "CREATE INDEX IF NOT EXISTS configs_ws_seq_pk ON configs (workspace_id, seq, config_id);"                       \
    "CREATE INDEX IF NOT EXISTS jobs_ws_seq_pk ON jobs (workspace_id, seq, job_id);"                                \
    "CREATE INDEX IF NOT EXISTS test_sessions_owner_seq_pk ON test_sessions (created_by, seq, id);"
#define PG_SEQ_TRIGGER(T)                                                                                             \
    "DROP TRIGGER IF EXISTS firemode_seq ON " T ";"                                                                  \
    "CREATE TRIGGER firemode_seq BEFORE INSERT OR UPDATE ON " T                                                      \
    " FOR EACH ROW EXECUTE FUNCTION firemode_stamp_seq();"                                                           \
    "ALTER TABLE " T " ENABLE ALWAYS TRIGGER firemode_seq;"                                                          \
    "UPDATE " T " SET seq = seq;" /* the trigger stamps this migration's id */
#define PG_STEP3                                                                                                      \
    "CREATE OR REPLACE FUNCTION firemode_stamp_seq() RETURNS trigger LANGUAGE plpgsql AS $fm$"                       \
    " BEGIN NEW.seq := pg_current_xact_id()::text::bigint; RETURN NEW; END $fm$;"                                   \
    PG_SEQ_TRIGGER("users") PG_SEQ_TRIGGER("workspaces") PG_SEQ_TRIGGER("documents") PG_SEQ_TRIGGER("configs")       \
    PG_SEQ_TRIGGER("jobs") PG_SEQ_TRIGGER("test_sessions") SEQ_INDEXES

/* Step 4 (tokens): when each API token was last used, kept coarse
 * (authentication writes it at most once a minute per token), for
 * GET /users/{id}/tokens and `firemode token list`.  Revoking a token
 * deletes its row, so no column for that. */
#define STEP_TOKENS_LAST_USED "ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;"

/* Step 5: workspace membership keeps its history: a removal sets
 * removed_at and the row's position (seq), so the removed member's change
 * feed of workspaces reports a tombstone (CONTRACT.md §9 "Members"), and a
 * member added again is the same row, live again.  Every membership check
 * reads live rows only. */
#define STEP_MEMBER_HISTORY                                                                                           \
    "ALTER TABLE workspace_members ADD COLUMN removed_at BIGINT;"                                                    \
    "ALTER TABLE workspace_members ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;"                                        \
    "CREATE INDEX IF NOT EXISTS workspace_members_user_seq ON workspace_members (user_id, seq, workspace_id);"
#define PG_STEP_MEMBER_HISTORY STEP_MEMBER_HISTORY PG_SEQ_TRIGGER("workspace_members")

/* Step 6: status sorts walk (status, primary key), the order a cursor page
 * reads: without the key in the index every page sorted the rest of its
 * status group (tests/pg/test_plans.py). */
#define STEP_STATUS_INDEXES                                                                                           \
    "CREATE INDEX IF NOT EXISTS documents_ws_status_pk ON documents (workspace_id, status, document_id);"          \
    "CREATE INDEX IF NOT EXISTS jobs_ws_status_pk ON jobs (workspace_id, status, job_id);"

/* Step 7: documents sorted by last_run_at (nullable) walk two index ranges
 * per cursor page, the values after the last one and the NULLs, both in
 * (last_run_at, document_id) order (plan.c). */
#define STEP_LAST_RUN_INDEX                                                                                           \
    "CREATE INDEX IF NOT EXISTS documents_ws_live_last_run ON documents (workspace_id, last_run_at, document_id)"   \
    " WHERE deleted_at IS NULL;"

/* Step 8: include_total counts every row in scope, so the count must read
 * as little as possible per row (plan.c; tests/pg/test_plans.py pins it).
 * Live rows of documents and configs: a partial index that covers the
 * count, (workspace_id, deleted_at) WHERE deleted_at IS NULL: deleted_at is
 * there for SQLite, which otherwise reads every row to check the index's
 * own condition; on PostgreSQL the index deduplicates to a few bytes a row
 * (its keys repeat), the narrowest an index-only scan can walk.
 * SQLite's count of all rows (users, an admin's workspaces) counts the
 * cells of the narrowest index's pages: users (is_admin), 435 pages for
 * 200k users against 1,730 for the narrowest before.  PostgreSQL counts
 * all rows with a sequential scan, no faster through an index, so it gets
 * no such index; instead, per table: no parallel workers (a count on a
 * 2-core machine ran at 64/s with two workers, 159/s without: starting
 * workers costs more than it saves, and concurrent requests want the
 * cores), and autovacuum after 1 % of a table is inserted or changed
 * rather than 20 %, so that the visibility map an index-only scan needs
 * stays current while the API writes (rows on pages not yet vacuumed are
 * read from the table). */
#define STEP_COUNT_INDEXES                                                                                            \
    "CREATE INDEX IF NOT EXISTS documents_ws_live_count ON documents (workspace_id, deleted_at)"                     \
    " WHERE deleted_at IS NULL;"                                                                                     \
    "CREATE INDEX IF NOT EXISTS configs_ws_live_count ON configs (workspace_id, deleted_at)"                         \
    " WHERE deleted_at IS NULL;"
#define PG_COUNT_TABLE(T)                                                                                             \
    "ALTER TABLE " T " SET (parallel_workers = 0, autovacuum_vacuum_scale_factor = 0.01,"                            \
    " autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);"
#define PG_STEP_COUNT                                                                                                 \
    STEP_COUNT_INDEXES PG_COUNT_TABLE("users") PG_COUNT_TABLE("workspaces") PG_COUNT_TABLE("workspace_members")       \
    PG_COUNT_TABLE("documents") PG_COUNT_TABLE("document_tags") PG_COUNT_TABLE("configs") PG_COUNT_TABLE("jobs")     \
    PG_COUNT_TABLE("test_sessions")
#define SQLITE_STEP_COUNT STEP_COUNT_INDEXES "CREATE INDEX IF NOT EXISTS users_admin ON users (is_admin);"

/* PostgreSQL step 9: the count of an unfiltered list (include_total with no
 * filter: all users, an admin's workspaces, a workspace's documents, configs
 * or jobs; every list that has include_total) is kept by the database as
 * rows are written, so that it costs a few index entries, not a scan of the
 * table (12-14 ms for 200k users, whatever the index).  firemode_row_counts
 * holds, per table and scope ('' for users and workspaces, else the
 * workspace), the number of live rows (deleted_at IS NULL where rows are
 * soft deleted) as a sum over slots.  A transaction adds to a slot of its
 * own session, pid * 16 + (its transaction id mod 16): concurrent writers
 * never touch the same row (no lock waits, no deadlocks, no serialization
 * failures under REPEATABLE READ), and a session's writes are spread over
 * 16 rows, because while any old snapshot is open (a pg_dump, a long
 * report) no version of a row it may see can be pruned, and each upsert
 * walks the versions of its row: 16 rows make that walk 16 times shorter.
 * Slot 0 (pid 0 is no backend) holds the counts this step finds and those
 * of sessions that have ended (folded at each start: pg.c post_migrate_sql).
 * Triggers keep the counts, so no write path can forget them (like the seq
 * trigger of step 3), once per statement (one upsert per scope however
 * many rows: a row-level trigger made one transaction's updates quadratic,
 * 20k soft deletes 0.8 s against 0.09 s, 164k 230 s against 5 s).  An
 * UPDATE of documents or configs, which may soft delete or restore, costs
 * its statement 20-25 us (pgbench, one-row updates); jobs, which an update
 * cannot move, count a change of workspace row by row, when one happens
 * (the WHEN clause, evaluated without a call otherwise).  A TRUNCATE forgets
 * the table's counts.  The functions carry the schema of the migration
 * (its search_path resolved, "$user" included), so that a writer with
 * another path (pg_dump's restore sets it empty; another role) finds the
 * counts' table.  Enabled ALWAYS, as the seq trigger; even so a logical
 * replica does not keep its counts (its apply worker fires row triggers
 * only, so they drift with every change it applies): no server is to read
 * lists from a live replica.  A data-only restore that loaded both rows
 * and counts, or writes with these triggers disabled, need `firemode
 * recount`.
 * Creating a trigger locks its table against writes until this step
 * commits, and the migration runs at READ COMMITTED (pg.c), so the fill at
 * the end of the step sees every row written before: the counts are exact.
 * SQLite counts index cells (step 8) and needs none of this. */
#define PG_COUNT_SLOT "pg_backend_pid()::bigint * 16 + pg_current_xact_id()::text::bigint % 16"
#define PG_COUNT_FN(NAME, BODY)                                                                                       \
    "CREATE OR REPLACE FUNCTION " NAME "() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT"           \
    " AS $fm$ BEGIN" BODY                                                                                              \
    " RETURN NULL; END $fm$;"
#define PG_COUNT_INTO " INSERT INTO firemode_row_counts AS k (tbl, scope, slot, n) "
#define PG_COUNT_UPSERT " ON CONFLICT (tbl, scope, slot) DO UPDATE SET n = k.n + excluded.n;"
/* the live rows of ROWS (a transition table) per KEY, added (SIGN "") or taken away ("-") */
#define PG_COUNT_ROWS(T, KEY, LIVE, SIGN, ROWS)                                                                       \
    PG_COUNT_INTO "SELECT '" T "', " KEY ", " PG_COUNT_SLOT ", " SIGN "count(*) FROM " ROWS " WHERE " LIVE            \
    " GROUP BY 2" PG_COUNT_UPSERT
#define PG_COUNT_TRIGGER(T, NAME, WHAT)                                                                               \
    "DROP TRIGGER IF EXISTS " NAME " ON " T ";"                                                                       \
    "CREATE TRIGGER " NAME " " WHAT " EXECUTE FUNCTION " NAME "_" T "();"                                             \
    "ALTER TABLE " T " ENABLE ALWAYS TRIGGER " NAME ";"
/* T's rows counted per KEY (an expression over a row) where LIVE holds */
#define PG_ROW_COUNT(T, KEY, LIVE)                                                                                    \
    PG_COUNT_FN("firemode_count_ins_" T, PG_COUNT_ROWS(T, KEY, LIVE, "", "fm_new"))                                   \
    PG_COUNT_FN("firemode_count_del_" T, PG_COUNT_ROWS(T, KEY, LIVE, "-", "fm_old"))                                  \
    PG_COUNT_FN("firemode_count_trunc_" T, " DELETE FROM firemode_row_counts WHERE tbl = '" T "';")                    \
    PG_COUNT_TRIGGER(T, "firemode_count_ins", "AFTER INSERT ON " T " REFERENCING NEW TABLE AS fm_new FOR EACH STATEMENT") \
    PG_COUNT_TRIGGER(T, "firemode_count_del", "AFTER DELETE ON " T " REFERENCING OLD TABLE AS fm_old FOR EACH STATEMENT") \
    PG_COUNT_TRIGGER(T, "firemode_count_trunc", "AFTER TRUNCATE ON " T " FOR EACH STATEMENT")
/* ... and updates, which may move rows in or out of a count: per scope, the
 * live rows after the statement less those before it, where they differ */
#define PG_ROW_COUNT_UPDATES(T, KEY, LIVE)                                                                            \
    PG_COUNT_FN("firemode_count_upd_" T,                                                                              \
                PG_COUNT_INTO "SELECT '" T "', s, " PG_COUNT_SLOT ", sum(d) FROM (SELECT " KEY " AS s, 1 AS d"         \
                " FROM fm_new WHERE " LIVE " UNION ALL SELECT " KEY ", -1 FROM fm_old WHERE " LIVE ") x"                \
                " GROUP BY s HAVING sum(d) <> 0" PG_COUNT_UPSERT)                                                      \
    PG_COUNT_TRIGGER(T, "firemode_count_upd",                                                                         \
                     "AFTER UPDATE ON " T " REFERENCING OLD TABLE AS fm_old NEW TABLE AS fm_new FOR EACH STATEMENT")
/* ... or, for a table whose updates never move a row (jobs), row by row when one does */
#define PG_ROW_COUNT_MOVES(T, KEY, LIVE)                                                                              \
    PG_COUNT_FN("firemode_count_upd_" T, PG_COUNT_INTO "VALUES ('" T "', OLD." KEY ", " PG_COUNT_SLOT ", -1), ('" T   \
                "', NEW." KEY ", " PG_COUNT_SLOT ", 1)" PG_COUNT_UPSERT)                                              \
    PG_COUNT_TRIGGER(T, "firemode_count_upd", "AFTER UPDATE OF " KEY " ON " T " FOR EACH ROW WHEN (OLD." KEY        \
                     " <> NEW." KEY ")")
#define PG_NO_MOVES(T, KEY, LIVE) "" /* users, workspaces: an update never moves a row */
/* The counted tables, parents first (the order writers lock them in), as
 * X(table, scope key, live condition, what an update may do to a count) */
#define PG_COUNTED(X)                                                                                                 \
    X("users", "''", "true", PG_NO_MOVES)                                                                             \
    X("workspaces", "''", "true", PG_NO_MOVES)                                                                        \
    X("documents", "workspace_id", "deleted_at IS NULL", PG_ROW_COUNT_UPDATES)                                        \
    X("configs", "workspace_id", "deleted_at IS NULL", PG_ROW_COUNT_UPDATES)                                          \
    X("jobs", "workspace_id", "true", PG_ROW_COUNT_MOVES)
#define PG_COUNT_TRIGGERS(T, KEY, LIVE, MOVES) PG_ROW_COUNT(T, KEY, LIVE) MOVES(T, KEY, LIVE)
#define PG_COUNT_FILL(T, KEY, LIVE, MOVES)                                                                            \
    "INSERT INTO firemode_row_counts (tbl, scope, slot, n) SELECT '" T "', " KEY ", 0, count(*) FROM " T              \
    " WHERE " LIVE " GROUP BY 2;"
#define PG_COUNT_LOCK(T, KEY, LIVE, MOVES) "LOCK TABLE " T " IN SHARE MODE;"
#define PG_STEP_ROW_COUNTS                                                                                            \
    "SELECT set_config('search_path', quote_ident(current_schema()), true);" /* what the functions keep */            \
    "CREATE TABLE IF NOT EXISTS firemode_row_counts (tbl TEXT COLLATE \"C\" NOT NULL, scope TEXT COLLATE \"C\" NOT NULL," \
    " slot BIGINT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (tbl, scope, slot));"                                      \
    PG_COUNTED(PG_COUNT_TRIGGERS) PG_COUNTED(PG_COUNT_FILL)

/* firemode recount (store_recount): the kept counts made again from the
 * rows, for a database whose counts drifted (rows written with the count
 * triggers disabled, a data-only restore that loaded both the rows and
 * their counts, a logical replica).  The counted tables are locked against
 * writes (SHARE) until it commits, so what it finds is exact; the counts
 * before it stay in fm_recount_before for the caller to compare. */
#define PG_RECOUNT                                                                                                    \
    PG_COUNTED(PG_COUNT_LOCK)                                                                                     \
    "CREATE TEMP TABLE fm_recount_before ON COMMIT DROP AS SELECT tbl, scope, sum(n) AS n FROM firemode_row_counts"   \
    " GROUP BY tbl, scope;"                                                                                           \
    "DELETE FROM firemode_row_counts;" PG_COUNTED(PG_COUNT_FILL)
#define PG_RECOUNT_CHANGED                                                                                            \
    "SELECT count(*) FROM fm_recount_before b FULL JOIN (SELECT tbl, scope, sum(n) AS n FROM firemode_row_counts"    \
    " GROUP BY tbl, scope) a ON a.tbl = b.tbl AND a.scope = b.scope WHERE coalesce(a.n, 0) <> coalesce(b.n, 0)"

/* SQLite step 9: a deep page-number page walks its OFFSET over the sort
 * index alone (plan.c: keys first).  SQLite reads a row to check a partial
 * index's own condition unless the column is in the index, so the default
 * order's live-row indexes of documents and configs carry deleted_at
 * (always NULL there).  PostgreSQL knows the condition holds for every
 * entry of the index and needs no such step.  A database that was ANALYZEd
 * (firemode seed does) keeps its statistics: the new index gets the old
 * one's, one column longer (without them SQLite's planner, comparing the
 * other indexes' statistics with a new index's guesses, chose full sorts for
 * other orders).  ANALYZE sqlite_master makes an empty sqlite_stat1 where
 * there is none and analyzes nothing, so an unANALYZEd database stays so. */
#define LIVE_KEYS_INDEX(T, PK)                                                                                        \
    "CREATE INDEX IF NOT EXISTS " T "_ws_live_created_keys ON " T " (workspace_id, created_at, " PK ", deleted_at)" \
    " WHERE deleted_at IS NULL;"                                                                                     \
    "INSERT INTO sqlite_stat1 (tbl, idx, stat) SELECT tbl, '" T "_ws_live_created_keys', stat || ' 1'"              \
    " FROM sqlite_stat1 WHERE idx = '" T "_ws_live_created';"                                                       \
    "DROP INDEX IF EXISTS " T "_ws_live_created;"
#define STEP_LIVE_KEYS "ANALYZE sqlite_master;" LIVE_KEYS_INDEX("documents", "document_id") LIVE_KEYS_INDEX("configs", "config_id")

static const char *const steps_sqlite[] = {
    STEP1("TEXT", "INTEGER", " WITHOUT ROWID"),
    STEP2,
    SEQ_INDEXES,
    STEP_TOKENS_LAST_USED,
    STEP_MEMBER_HISTORY,
    STEP_STATUS_INDEXES,
    STEP_LAST_RUN_INDEX,
    SQLITE_STEP_COUNT,
    STEP_LIVE_KEYS,
};
static const char *const steps_pg[] = {
    STEP1("TEXT COLLATE \"C\"", "BOOLEAN", ""),
    STEP2,
    PG_STEP3,
    STEP_TOKENS_LAST_USED,
    PG_STEP_MEMBER_HISTORY,
    STEP_STATUS_INDEXES,
    STEP_LAST_RUN_INDEX,
    PG_STEP_COUNT,
    PG_STEP_ROW_COUNTS,
};

const char *schema_recount_sql(const struct dialect *d, const char **changed_sql)
{
    if (!d->row_counts) return NULL;
    *changed_sql = PG_RECOUNT_CHANGED;
    return PG_RECOUNT;
}

const char *const *schema_steps(const struct dialect *d, size_t *n)
{
    if (strcmp(d->name, "sqlite") == 0) {
        *n = sizeof steps_sqlite / sizeof steps_sqlite[0];
        return steps_sqlite;
    }
    *n = sizeof steps_pg / sizeof steps_pg[0];
    return steps_pg;
}
