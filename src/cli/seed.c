/*
 * seed — fills a database with realistic synthetic data, fast.
 *
 * Deterministic for a given --seed: one PRNG (splitmix64) drives every
 * choice, ids included (UUIDv7 layout from the row's created_at plus PRNG
 * bits).  Rows go in through the same store interface as the server's,
 * with one prepared multi-row INSERT per table, with the connection in
 * bulk mode.  Two ways to load:
 *
 *  - alone (no other connection has the database; PostgreSQL always):
 *    one transaction, so a failed seed leaves nothing; SQLite without WAL
 *    or sync; on a fresh database the secondary indexes are dropped and
 *    built once at the end instead of row by row.
 *  - shared (SQLite with a running server): SQLite has one write lock, so
 *    the load commits a batch every SHARED_TXN_MS and pauses SHARED_PAUSE_MS
 *    before taking the lock again (waiting for it up to the busy timeout):
 *    the server's writes get their turn, its reads never wait (WAL).  Each
 *    batch continues the write positions (seq) from the counter as it finds
 *    it and stores where it stopped, so rows the server writes between
 *    batches get positions after the seed's.  A failed seed keeps the
 *    batches it committed.
 */
#include "cli.h"

#include "../api/api.h"
#include "../store/store.h"
#include "../util/buf.h"
#include "../util/crypto.h"
#include "../util/text.h"
#include "../util/vclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 5000 /* rows between progress updates */
#define SHARED_TXN_MS 50   /* shared mode: the longest a batch holds the write lock (about) */
#define SHARED_PAUSE_MS 50  /* shared mode: the pause between batches */

struct rng {
    uint64_t s;
};

static uint64_t next(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
    return n ? next(r) % n : 0;
}

static void seeded_uuid(struct rng *r, int64_t us, char out[37])
{
    unsigned char b[16];
    uint64_t ms = (uint64_t)(us / 1000), a = next(r), c = next(r);
    for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (40 - 8 * i));
    for (int i = 6; i < 16; i++) b[i] = (unsigned char)((i < 11 ? a : c) >> (8 * (i % 8)));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0F));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3F));
    uuid_format(b, out);
}

static const char *const first_names[] = {"Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances",
                                          "Edsger", "Radia", "Niklaus", "Hedy", "Alan", "Katherine", "Tim", "Sophie",
                                          "José", "Zoë", "Łukasz", "Åsa"};
static const char *const last_names[] = {"Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
                                         "Allen", "Dijkstra", "Perlman", "Wirth", "Lamarr", "Turing", "Johnson",
                                         "Berners-Lee", "Wilson", "Núñez", "O'Brien", "Kowalski", "Lindqvist"};
static const char *const domains[] = {"example.com", "firemode.test", "acme.io", "north.example", "labs.example"};
static const char *const words[] = {"annual", "fire", "drill", "sprinkler", "alarm", "report", "inspection", "floor",
                                    "plan", "exit", "smoke", "detector", "audit", "Q3", "east-wing", "lobby",
                                    "basement", "roof", "hydrant", "evacuation", "panel", "zone", "draft", "final"};
static const char *const exts[] = {"pdf", "docx", "xlsx", "png", "jpg", "csv", "txt", "dwg"};
static const char *const tags[] = {"urgent", "review", "archived", "blueprint", "invoice", "safety", "north", "south",
                                   "q1", "q2", "q3", "q4", "legal", "ops", "draft", "Signed"};
static const char *const doc_status[] = {"uploaded", "queued", "processing", "processed", "processed", "failed"};
static const char *const doc_source[] = {"upload", "upload", "email", "api", "import"};
static const char *const job_status[] = {"queued", "running", "succeeded", "succeeded", "failed", "cancelled"};
static const char *const ws_kinds[] = {"Headquarters", "Warehouse", "Plant", "Campus", "Tower", "Depot", "Clinic"};
static const char *const cities[] = {"Oslo", "Lyon", "Austin", "Kyoto", "Porto", "Gdańsk", "Quito", "Perth"};
#define PICK(r, a) (a[below(r, sizeof(a) / sizeof(a[0]))])

struct progress {
    long done, total;
    int last_pct;
    bool tty;
    struct timespec start;
};

static void progress(struct progress *p, long add)
{
    p->done += add;
    if (!p->tty || p->total == 0) return;
    int pct = (int)(p->done * 100 / p->total);
    if (pct == p->last_pct && p->done != p->total) return;
    p->last_pct = pct;
    int w = pct * 40 / 100;
    fprintf(stderr, "\r[%.*s%*s] %3d%% %ld/%ld rows", w, "########################################", 40 - w, "", pct,
            p->done, p->total);
    if (p->done >= p->total) fputc('\n', stderr);
}

struct seeder {
    struct store *st;
    const struct dialect *d;
    struct rng rng;
    struct store_err err;
    struct progress prog;
    long in_batch;
    int64_t seq;
    char clock[128];
    int64_t t0, span; /* created_at range */
    long links;       /* rows of link tables (tags, members, tokens) */
    bool shared;      /* another connection holds the database: commit in batches */
    int since_check;  /* items since the clock was last read */
    int64_t txn_start_ms;
    long commits;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The i-th of n rows is created at an increasing time across the span, as
 * rows are in life; ids (UUIDv7 from that time) then arrive in key order,
 * which keeps B-tree inserts appends.  Some rows share a timestamp, so
 * sorts need their primary-key tie-breaker. */
static int64_t when(struct seeder *s, long i, long n)
{
    int64_t base = s->t0 + (int64_t)((double)s->span * ((double)i / (double)n));
    if (below(&s->rng, 50) == 0) return base - base % 1000000; /* whole second: ties */
    return base;
}

/* Counts a row for the progress bar. */
static void batch_tick(struct seeder *s)
{
    if (++s->in_batch < BATCH) return;
    s->in_batch = 0;
    progress(&s->prog, BATCH);
}

/* Multi-row INSERTs: rows are buffered (their text copied into an arena)
 * and sent as many at a time as the parameter limit allows, so a load costs
 * one round trip per batch instead of one per row. */
struct batch {
    struct seeder *s;
    const char *table, *cols, *suffix;
    int ncols, max_rows, nrows;
    long *counter; /* rows the batch inserted are added here, if set */
    struct batch *parent; /* rows these refer to: flushed first */
    struct store_param p[STORE_MAX_PARAMS];
    size_t off[STORE_MAX_PARAMS]; /* text parameters: offsets into arena */
    struct buf arena, sql;
    int sql_rows; /* rows the statement in sql is for */
};

static void batch_init(struct batch *b, struct seeder *s, const char *table, const char *cols, int ncols,
                       const char *suffix, long *counter)
{
    memset(b, 0, sizeof *b);
    b->s = s, b->table = table, b->cols = cols, b->ncols = ncols, b->suffix = suffix, b->counter = counter;
    b->max_rows = STORE_MAX_PARAMS / ncols;
    buf_init(&b->arena);
    buf_init(&b->sql);
}

static int batch_flush(struct batch *b)
{
    if (b->nrows == 0) return 0;
    if (b->parent && batch_flush(b->parent) < 0) return -1;
    if (b->sql_rows != b->nrows) {
        struct buf *q = &b->sql;
        buf_reset(q);
        buf_printf(q, "INSERT INTO %s (%s) VALUES ", b->table, b->cols);
        for (int r = 0, n = 1; r < b->nrows; r++) {
            buf_puts(q, r ? ", (" : "(");
            for (int c = 0; c < b->ncols; c++, n++) buf_printf(q, "%s%c%d", c ? ", " : "", b->s->d->param_prefix, n);
            buf_putc(q, ')');
        }
        buf_puts(q, b->suffix);
        b->sql_rows = b->nrows;
    }
    int np = b->nrows * b->ncols;
    for (int i = 0; i < np; i++)
        if (b->p[i].type == SP_TEXT) b->p[i].s = b->arena.data + b->off[i];
    long n = store_exec(b->s->st, b->sql.data, b->p, np, NULL, NULL, &b->s->err);
    if (n < 0) return -1;
    if (b->counter) *b->counter += n;
    b->nrows = 0;
    buf_reset(&b->arena);
    return 0;
}

/* Adds one row of ncols parameters (text is copied). */
static int batch_add(struct batch *b, const struct store_param *row)
{
    struct store_param *p = &b->p[b->nrows * b->ncols];
    size_t *off = &b->off[b->nrows * b->ncols];
    for (int i = 0; i < b->ncols; i++) {
        p[i] = row[i];
        if (row[i].type == SP_TEXT) {
            off[i] = b->arena.len;
            buf_append(&b->arena, row[i].s, row[i].len);
        }
    }
    return ++b->nrows == b->max_rows ? batch_flush(b) : 0;
}

static void batch_free(struct batch *b)
{
    buf_free(&b->arena);
    buf_free(&b->sql);
}

static int read_i64(void *ctx, const struct store_row *row)
{
    *(int64_t *)ctx = row->vals[0] ? strtoll(row->vals[0], NULL, 10) : 0;
    return 0;
}

/* Write positions: continue after the counter (or after what this seed
 * has used, whichever is later); store where the seed stopped. */
static int read_counter(struct seeder *s)
{
    int64_t v = 0;
    if (store_exec(s->st, "SELECT value FROM firemode_counters WHERE name = 'write_seq'", NULL, 0, read_i64, &v,
                   &s->err) < 0)
        return -1;
    if (v > s->seq) s->seq = v;
    return 0;
}

static int write_counter(struct seeder *s)
{
    char cs[200];
    snprintf(cs, sizeof cs, "UPDATE firemode_counters SET value = %c1 WHERE name = 'write_seq' AND value < %c1",
             s->d->param_prefix, s->d->param_prefix);
    struct store_param p = sp_int(s->seq);
    return store_exec(s->st, cs, &p, 1, NULL, NULL, &s->err) < 0 ? -1 : 0;
}

/* Shared mode: once the open batch has held the write lock SHARED_TXN_MS,
 * flushes the rows buffered in rows and links (either may be NULL), commits,
 * pauses, and opens the next batch.  Alone: nothing.  0 or -1. */
static int checkpoint(struct seeder *s, struct batch *rows, struct batch *links)
{
    if (!s->shared || ++s->since_check < 256) return 0;
    s->since_check = 0;
    if (mono_ms() - s->txn_start_ms < SHARED_TXN_MS) return 0;
    if ((links && batch_flush(links) < 0) || (rows && batch_flush(rows) < 0)) return -1;
    if (write_counter(s) < 0 || store_commit(s->st, &s->err) < 0) return -1;
    s->commits++;
    struct timespec pause = {0, SHARED_PAUSE_MS * 1000000L};
    nanosleep(&pause, NULL);
    if (store_begin(s->st, true, &s->err) < 0 || read_counter(s) < 0) return -1;
    s->txn_start_ms = mono_ms();
    return 0;
}


/* Secondary indexes dropped for the load and rebuilt after it. */
struct saved_indexes {
    int n;
    char *name[64];
    char *sql[64];
};

static int save_index(void *ctx, const struct store_row *row)
{
    struct saved_indexes *si = ctx;
    if (si->n == 64 || !row->vals[0] || !row->vals[1]) return 0;
    si->name[si->n] = xstrndup(row->vals[0], row->lens[0]);
    si->sql[si->n] = xstrndup(row->vals[1], row->lens[1]);
    si->n++;
    return 0;
}

static void saved_indexes_free(struct saved_indexes *si)
{
    for (int i = 0; i < si->n; i++) free(si->name[i]), free(si->sql[i]);
    si->n = 0;
}

/* On a database whose collections are all empty, building the secondary
 * indexes once after the load is several times faster than maintaining
 * them row by row.  Runs inside the load's transaction, so a failed seed
 * leaves the indexes as they were. */
static int drop_indexes_if_fresh(struct seeder *s, struct saved_indexes *si)
{
    static const char *const tables[] = {"users", "workspaces", "documents", "configs", "jobs", "test_sessions", NULL};
    if (!s->d->indexes_sql) return 0;
    for (int i = 0; tables[i]; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT 1 FROM %s LIMIT 1", tables[i]);
        long n = store_exec(s->st, sql, NULL, 0, NULL, NULL, &s->err);
        if (n < 0) return -1;
        if (n > 0) return 0;
    }
    if (store_exec(s->st, s->d->indexes_sql, NULL, 0, save_index, si, &s->err) < 0) return -1;
    for (int i = 0; i < si->n; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP INDEX %s", si->name[i]);
        if (store_exec(s->st, sql, NULL, 0, NULL, NULL, &s->err) < 0) return -1;
    }
    return 0;
}

static int rebuild_indexes(struct seeder *s, const struct saved_indexes *si)
{
    for (int i = 0; i < si->n; i++)
        if (store_exec(s->st, si->sql[i], NULL, 0, NULL, NULL, &s->err) < 0) return -1;
    return 0;
}

static const char *arg_str(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc - 1; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

/* The largest count of any one kind a seed makes (ids of users,
 * workspaces, configs and jobs are held in memory: 37 bytes each). */
#define SEED_MAX_COUNT 100000000

void cli_seed_usage(void)
{
    fputs("usage: firemode seed [--db URL] [--seed N] [--users N] [--workspaces N] [--documents N]\n"
          "                     [--jobs N] [--configs N] [--sessions N] [--admin-token TOKEN] [--node-id ID]\n"
          "Fills the database with deterministic synthetic data (same --seed, same data).\n"
          "Defaults: --seed 1 --users 1000 --workspaces 50 --documents 100000 --jobs 50000 --configs 2000\n"
          "          --sessions 5000.  Counts are whole numbers (no 10k or 1e3), at most 100000000.\n"
          "Shows a progress bar when stderr is a terminal.\n"
          "The first user is an active admin; --admin-token gives it that API token.\n"
          "On a fresh database it loads in one transaction and builds the indexes after it.  On a\n"
          "database that holds data (a running server's, say) it commits in batches and waits for\n"
          "the write lock, so a server on the same database keeps answering while it runs.\n",
          stdout);
}

struct count_flag {
    const char *name;
    long *out;
    long min, def;
};

int cli_seed(int argc, char **argv, const char *db_url, const char *node_id)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_seed_usage();
            return 0;
        }
    static const char *const known[] = {"--db", "--seed", "--users", "--workspaces", "--documents",
                                        "--jobs", "--configs", "--sessions", "--node-id", "--admin-token", NULL};
    for (int i = 1; i < argc; i += 2) {
        bool ok = false;
        for (int k = 0; known[k]; k++) ok |= strcmp(argv[i], known[k]) == 0;
        if (!ok || i + 1 >= argc) {
            fprintf(stderr, "firemode seed: unknown or incomplete option '%s' (see firemode seed --help)\n",
                    argv[i]);
            return 2;
        }
    }
    long n_users, n_ws, n_docs, n_jobs, n_cfg, n_sess;
    const struct count_flag counts[] = {
        {"--users", &n_users, 1, 1000}, {"--workspaces", &n_ws, 1, 50}, {"--documents", &n_docs, 0, 100000},
        {"--jobs", &n_jobs, 0, 50000},  {"--configs", &n_cfg, 0, 2000}, {"--sessions", &n_sess, 0, 5000},
    };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        const char *v = arg_str(argc, argv, counts[k].name);
        int64_t n = counts[k].def;
        if (v && !cli_int("seed", counts[k].name, v, counts[k].min, SEED_MAX_COUNT, &n)) return 2;
        *counts[k].out = (long)n;
    }
    if (n_jobs > 0 && n_cfg < 1) {
        fputs("firemode seed: --jobs needs at least one config (--configs 1 or more)\n", stderr);
        return 2;
    }
    int64_t seed_value = 1;
    const char *seed_text = arg_str(argc, argv, "--seed");
    if (seed_text && !cli_int("seed", "--seed", seed_text, 0, INT64_MAX, &seed_value)) return 2;
    const char *admin_token = arg_str(argc, argv, "--admin-token");
    struct seeder s = {0};
    s.rng.s = (uint64_t)seed_value;
    s.st = store_open(db_url, &s.err);
    if (!s.st) {
        fprintf(stderr, "firemode seed: %s\n", s.err.msg);
        return 1;
    }
    s.d = store_dialect(s.st);
    int rc = 1;
    struct saved_indexes saved = {0};
    struct batch rows, links;
    batch_init(&rows, &s, "", "", 1, "", NULL);
    batch_init(&links, &s, "", "", 1, "", NULL);
    char (*user_ids)[37] = xcalloc((size_t)n_users, 37);
    char (*ws_ids)[37] = xcalloc((size_t)n_ws, 37);
    char (*cfg_ids)[37] = xcalloc((size_t)(n_cfg ? n_cfg : 1), 37);
    long *cfg_ws = xcalloc((size_t)(n_cfg ? n_cfg : 1), sizeof(long));
    char (*job_ids)[37] = xcalloc((size_t)(n_jobs ? n_jobs : 1), 37);
    long *first_job_of_ws = xcalloc((size_t)n_ws, sizeof(long));
    if (store_migrate(s.st, &s.err) < 0) goto fail;
    int bulk = store_bulk_mode(s.st, &s.err);
    if (bulk < 0) goto fail;
    s.shared = bulk == 1;
    {
        struct vclock vc = {0};
        struct buf cb;
        buf_init(&cb);
        vclock_tick(&vc, node_id);
        vclock_render(&vc, &cb);
        snprintf(s.clock, sizeof s.clock, "%s", cb.data);
        buf_free(&cb);
    }
    s.prog.tty = isatty(2);
    s.prog.total = n_users + n_ws + n_docs + n_jobs + n_cfg + n_sess;
    s.prog.last_pct = -1;
    s.span = 2LL * 365 * 86400 * 1000000; /* two years up to 2026-01-01 */
    s.t0 = 1767225600LL * 1000000 - s.span;
    struct timespec t_start, t_end;
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    if (s.shared)
        fprintf(stderr, "firemode seed: another connection (a server?) has the database open: loading in batches "
                        "of ~%d ms, so it keeps answering\n", SHARED_TXN_MS);
    if (store_begin(s.st, true, &s.err) < 0) goto fail;
    s.txn_start_ms = mono_ms();
    /* seq: continue after whatever the database already holds */
    if (read_counter(&s) < 0) goto fail;
    if (!s.shared && drop_indexes_if_fresh(&s, &saved) < 0) goto fail;

    /* users */
    batch_init(&rows, &s, "users",
               "user_id, email, email_canonical, display_name, is_active, is_service_account, is_admin, created_at, "
               "updated_at, last_login_at, vclock, seq",
               12, "", NULL);
    for (long i = 0; i < n_users; i++) {
        int64_t created = when(&s, i, n_users);
        seeded_uuid(&s.rng, created, user_ids[i]);
        char email[160], display[120];
        const char *fn = PICK(&s.rng, first_names), *ln = PICK(&s.rng, last_names);
        snprintf(email, sizeof email, "%s.%s%ld@%s", fn, ln, i, PICK(&s.rng, domains));
        snprintf(display, sizeof display, "%s %s", fn, ln);
        char *canon = text_ascii_lower(email, strlen(email));
        bool has_login = below(&s.rng, 4) != 0;
        int64_t login = created + (int64_t)below(&s.rng, (uint64_t)(s.t0 + s.span - created));
        bool svc = below(&s.rng, 20) == 0;
        struct store_param p[12] = {sp_text(user_ids[i], 36), sp_text(email, strlen(email)),
                                    sp_text(canon, strlen(canon)),
                                    below(&s.rng, 10) ? sp_text(display, strlen(display)) : sp_null(),
                                    sp_bool(i == 0 || below(&s.rng, 10) != 0), sp_bool(svc && i != 0), sp_bool(i == 0),
                                    sp_int(created), sp_int(created + (int64_t)below(&s.rng, 86400000000LL)),
                                    has_login ? sp_int(login) : sp_null(), sp_text(s.clock, strlen(s.clock)),
                                    sp_int(++s.seq)};
        int r = batch_add(&rows, p);
        free(canon);
        if (r < 0) goto fail;
        batch_tick(&s);
        if (checkpoint(&s, &rows, NULL) < 0) goto fail;
    }
    if (batch_flush(&rows) < 0) goto fail;
    batch_free(&rows);

    /* --admin-token: the first user (an active admin) gets this token, so
     * that two databases seeded alike are identical and usable alike */
    if (admin_token) {
        char hash[65], tid[37], tsql[200];
        crypto_sha256_hex(admin_token, strlen(admin_token), hash);
        seeded_uuid(&s.rng, s.t0, tid);
        snprintf(tsql, sizeof tsql,
                 "INSERT INTO api_tokens (token_id, user_id, token_hash, created_at) VALUES (%c1, %c2, %c3, %c4)",
                 s.d->param_prefix, s.d->param_prefix, s.d->param_prefix, s.d->param_prefix);
        struct store_param tp[4] = {sp_text(tid, 36), sp_text(user_ids[0], 36), sp_text(hash, 64), sp_int(s.t0)};
        if (store_exec(s.st, tsql, tp, 4, NULL, NULL, &s.err) < 0) goto fail;
    }

    /* workspaces, each with a few members */
    batch_init(&rows, &s, "workspaces", "workspace_id, name, created_by_user_id, created_at, vclock, seq", 6, "", NULL);
    batch_init(&links, &s, "workspace_members", "workspace_id, user_id, created_at", 3, " ON CONFLICT DO NOTHING",
               &s.links);
    links.parent = &rows;
    for (long i = 0; i < n_ws; i++) {
        int64_t created = when(&s, i, n_ws);
        seeded_uuid(&s.rng, created, ws_ids[i]);
        char name[120];
        snprintf(name, sizeof name, "%s %s %ld", PICK(&s.rng, cities), PICK(&s.rng, ws_kinds), i + 1);
        long owner = (long)below(&s.rng, (uint64_t)n_users);
        struct store_param p[6] = {sp_text(ws_ids[i], 36), sp_text(name, strlen(name)), sp_text(user_ids[owner], 36),
                                   sp_int(created), sp_text(s.clock, strlen(s.clock)), sp_int(++s.seq)};
        if (batch_add(&rows, p) < 0) goto fail;
        long members = 1 + (long)below(&s.rng, 8);
        for (long m = 0; m < members; m++) {
            long u = m == 0 ? owner : (long)below(&s.rng, (uint64_t)n_users);
            struct store_param mp[3] = {sp_text(ws_ids[i], 36), sp_text(user_ids[u], 36), sp_int(created)};
            if (batch_add(&links, mp) < 0) goto fail;
        }
        batch_tick(&s);
        if (checkpoint(&s, &rows, &links) < 0) goto fail;
    }
    /* configs */
    if (batch_flush(&rows) < 0 || batch_flush(&links) < 0) goto fail;
    batch_free(&rows);
    batch_free(&links);
    batch_init(&rows, &s, "configs",
               "config_id, workspace_id, slug, title, created_by_user_id, created_at, updated_at, deleted_at, vclock, "
               "seq",
               10, "", NULL);
    for (long i = 0; i < n_cfg; i++) {
        int64_t created = when(&s, i, n_cfg);
        seeded_uuid(&s.rng, created, cfg_ids[i]);
        cfg_ws[i] = (long)below(&s.rng, (uint64_t)n_ws);
        char slug[80], title[160];
        const char *w1 = PICK(&s.rng, words), *w2 = PICK(&s.rng, words);
        snprintf(slug, sizeof slug, "cfg-%ld", i);
        snprintf(title, sizeof title, "%c%s %s settings", w1[0] >= 'a' ? w1[0] - 32 : w1[0], w1 + 1, w2);
        bool deleted = below(&s.rng, 20) == 0;
        struct store_param p[10] = {sp_text(cfg_ids[i], 36), sp_text(ws_ids[cfg_ws[i]], 36), sp_text(slug, strlen(slug)),
                                    sp_text(title, strlen(title)), sp_text(user_ids[below(&s.rng, (uint64_t)n_users)], 36),
                                    sp_int(created), sp_int(created + (int64_t)below(&s.rng, 3600000000LL)),
                                    deleted ? sp_int(created + 7200000000LL) : sp_null(),
                                    sp_text(s.clock, strlen(s.clock)), sp_int(++s.seq)};
        if (batch_add(&rows, p) < 0) goto fail;
        batch_tick(&s);
        if (checkpoint(&s, &rows, NULL) < 0) goto fail;
    }
    /* documents and their tags */
    if (batch_flush(&rows) < 0) goto fail;
    batch_free(&rows);
    batch_init(&rows, &s, "documents",
               "document_id, workspace_id, original_filename, byte_size, status, source, uploaded_by_user_id, tags, "
               "created_at, last_run_at, deleted_at, vclock, seq",
               13, "", NULL);
    batch_init(&links, &s, "document_tags", "document_id, tag", 2, "", &s.links);
    links.parent = &rows;
    for (long i = 0; i < n_docs; i++) {
        int64_t created = when(&s, i, n_docs);
        char id[37], fname[200], tagjson[400];
        seeded_uuid(&s.rng, created, id);
        snprintf(fname, sizeof fname, "%s_%s_%ld.%s", PICK(&s.rng, words), PICK(&s.rng, words), i, PICK(&s.rng, exts));
        /* 0-3 distinct tags in byte order */
        unsigned mask = 0;
        int ntags = (int)below(&s.rng, 4);
        for (int t = 0; t < ntags; t++) mask |= 1u << below(&s.rng, 16);
        const char *chosen[16];
        int nc = 0;
        for (int t = 0; t < 16; t++)
            if (mask & (1u << t)) chosen[nc++] = tags[t];
        for (int a = 1; a < nc; a++) /* insertion sort, byte order */
            for (int k = a; k > 0 && strcmp(chosen[k - 1], chosen[k]) > 0; k--) {
                const char *tmp = chosen[k];
                chosen[k] = chosen[k - 1];
                chosen[k - 1] = tmp;
            }
        size_t o = 0;
        tagjson[o++] = '[';
        for (int t = 0; t < nc; t++) o += (size_t)snprintf(tagjson + o, sizeof tagjson - o, "%s\"%s\"", t ? "," : "", chosen[t]);
        tagjson[o++] = ']';
        tagjson[o] = '\0';
        long ws = (long)below(&s.rng, (uint64_t)n_ws);
        bool ran = below(&s.rng, 3) != 0;
        struct store_param p[13] = {
            sp_text(id, 36), sp_text(ws_ids[ws], 36), sp_text(fname, strlen(fname)),
            sp_int((int64_t)below(&s.rng, 50000000)), sp_null(), sp_null(), sp_text(user_ids[below(&s.rng, (uint64_t)n_users)], 36), sp_text(tagjson, o), sp_int(created),
            ran ? sp_int(created + (int64_t)below(&s.rng, 864000000000LL)) : sp_null(),
            below(&s.rng, 25) == 0 ? sp_int(created + 1000000) : sp_null(), sp_text(s.clock, strlen(s.clock)),
            sp_int(++s.seq)};
        const char *st_ = PICK(&s.rng, doc_status), *src = PICK(&s.rng, doc_source);
        p[4] = sp_text(st_, strlen(st_));
        p[5] = sp_text(src, strlen(src));
        if (batch_add(&rows, p) < 0) goto fail;
        for (int t = 0; t < nc; t++) {
            struct store_param tp[2] = {sp_text(id, 36), sp_text(chosen[t], strlen(chosen[t]))};
            if (batch_add(&links, tp) < 0) goto fail;
        }
        batch_tick(&s);
        if (checkpoint(&s, &rows, &links) < 0) goto fail;
    }
    /* jobs: a config of the same workspace; some retries of earlier jobs */
    if (batch_flush(&rows) < 0 || batch_flush(&links) < 0) goto fail;
    batch_free(&rows);
    batch_free(&links);
    batch_init(&rows, &s, "jobs",
               "job_id, workspace_id, config_id, config_version_id, status, submitted_by_user_id, trace_id, "
               "retry_of_job_id, created_at, queued_at, started_at, completed_at, vclock, seq",
               14, "", NULL);
    for (long w = 0; w < n_ws; w++) first_job_of_ws[w] = -1;
    for (long i = 0; i < n_jobs; i++) {
        int64_t created = when(&s, i, n_jobs);
        seeded_uuid(&s.rng, created, job_ids[i]);
        long cfg = (long)below(&s.rng, (uint64_t)n_cfg);
        long ws = cfg_ws[cfg];
        const char *stt = PICK(&s.rng, job_status);
        bool started = strcmp(stt, "queued") != 0;
        bool done = started && strcmp(stt, "running") != 0;
        int64_t st_at = created + (int64_t)below(&s.rng, 600000000LL);
        char ver[32], trace[40];
        snprintf(ver, sizeof ver, "v%d", (int)below(&s.rng, 20) + 1);
        snprintf(trace, sizeof trace, "trace-%016llx", (unsigned long long)next(&s.rng));
        long retry = first_job_of_ws[ws];
        bool is_retry = retry >= 0 && below(&s.rng, 10) == 0;
        struct store_param p[14] = {
            sp_text(job_ids[i], 36), sp_text(ws_ids[ws], 36), sp_text(cfg_ids[cfg], 36),
            below(&s.rng, 3) ? sp_text(ver, strlen(ver)) : sp_null(), sp_text(stt, strlen(stt)),
            sp_text(user_ids[below(&s.rng, (uint64_t)n_users)], 36),
            below(&s.rng, 2) ? sp_text(trace, strlen(trace)) : sp_null(),
            is_retry ? sp_text(job_ids[retry], 36) : sp_null(), sp_int(created), sp_int(created),
            started ? sp_int(st_at) : sp_null(), done ? sp_int(st_at + (int64_t)below(&s.rng, 3600000000LL)) : sp_null(),
            sp_text(s.clock, strlen(s.clock)), sp_int(++s.seq)};
        if (batch_add(&rows, p) < 0) goto fail;
        if (first_job_of_ws[ws] < 0) first_job_of_ws[ws] = i;
        batch_tick(&s);
        if (checkpoint(&s, &rows, NULL) < 0) goto fail;
    }
    /* test sessions */
    if (batch_flush(&rows) < 0) goto fail;
    batch_free(&rows);
    batch_init(&rows, &s, "test_sessions",
               "id, building_id, status, technician_id, notes, created_by, created_at, updated_at, deleted_at, vclock, "
               "seq",
               11, "", NULL);
    static const char *const sess_status[] = {"scheduled", "in_progress", "completed", "completed", "failed",
                                              "cancelled"};
    for (long i = 0; i < n_sess; i++) {
        int64_t created = when(&s, i, n_sess);
        char id[37], building[37], tech[40], notes[200];
        seeded_uuid(&s.rng, created, id);
        seeded_uuid(&s.rng, created, building);
        snprintf(tech, sizeof tech, "tech-%03d", (int)below(&s.rng, 200));
        snprintf(notes, sizeof notes, "%s %s check, %s", PICK(&s.rng, words), PICK(&s.rng, words), PICK(&s.rng, cities));
        const char *stt = PICK(&s.rng, sess_status);
        struct store_param p[11] = {sp_text(id, 36), sp_text(building, 36), sp_text(stt, strlen(stt)),
                                    below(&s.rng, 4) ? sp_text(tech, strlen(tech)) : sp_null(),
                                    below(&s.rng, 2) ? sp_text(notes, strlen(notes)) : sp_null(),
                                    sp_text(user_ids[below(&s.rng, (uint64_t)n_users)], 36), sp_int(created),
                                    sp_int(created), sp_null(), sp_text(s.clock, strlen(s.clock)), sp_int(++s.seq)};
        if (batch_add(&rows, p) < 0) goto fail;
        batch_tick(&s);
        if (checkpoint(&s, &rows, NULL) < 0) goto fail;
    }
    if (batch_flush(&rows) < 0 || write_counter(&s) < 0) goto fail;
    progress(&s.prog, s.in_batch);
    if (s.prog.tty && saved.n) fputs("building indexes...\n", stderr);
    if (rebuild_indexes(&s, &saved) < 0 || store_commit(s.st, &s.err) < 0) goto fail;
    /* fresh statistics, so the query planner knows the new data (beside a
     * server, from a sample: a full ANALYZE would hold the write lock long) */
    if (s.shared && store_exec(s.st, "PRAGMA analysis_limit=1000", NULL, 0, NULL, NULL, &s.err) < 0) goto fail;
    if (store_exec(s.st, "ANALYZE", NULL, 0, NULL, NULL, &s.err) < 0) goto fail;
    clock_gettime(CLOCK_MONOTONIC, &t_end);
    double secs = (double)(t_end.tv_sec - t_start.tv_sec) + (double)(t_end.tv_nsec - t_start.tv_nsec) / 1e9;
    long total_rows = s.prog.total + s.links;
    fprintf(stderr, "seeded %ld rows (%ld items, %ld tag and member rows) in %.2f s: %.0f rows/s, %.0f items/s",
            total_rows, s.prog.total, s.links, secs, secs > 0 ? (double)total_rows / secs : 0.0,
            secs > 0 ? (double)s.prog.total / secs : 0.0);
    if (s.shared) fprintf(stderr, " (%ld batches beside another connection)", s.commits + 1);
    else if (saved.n) fputs(" (fresh database: indexes built after the load)", stderr);
    fputc('\n', stderr);
    rc = 0;
    goto out;
fail:
    store_rollback(s.st);
    fprintf(stderr, "\nfiremode seed: %s\n", s.err.msg[0] ? s.err.msg : "failed");
    if (s.err.kind == STORE_UNIQUE) fputs("firemode seed: the database already holds seeded rows; use a fresh database or another --seed\n", stderr);
    if (s.shared && s.commits)
        fprintf(stderr, "firemode seed: the %ld batches committed before the failure stay in the database\n", s.commits);
    if (s.err.kind == STORE_BUSY)
        fputs("firemode seed: another connection held the write lock too long; try again, or seed while no server "
              "writes to this database\n", stderr);
out:
    saved_indexes_free(&saved);
    batch_free(&rows);
    batch_free(&links);
    free(user_ids), free(ws_ids), free(cfg_ids), free(cfg_ws), free(job_ids), free(first_job_of_ws);
    store_close(s.st);
    return rc;
}
