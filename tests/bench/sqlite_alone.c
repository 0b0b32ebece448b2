/*
 * sqlite_alone — SQLite alone running one of FireMode's statements, for
 * make bench (scripts/bench.sh): the ceiling a list request's rate is read
 * against, in the same run, on the same database file.
 *
 *   sqlite_alone DB_PATH SECONDS THREADS < statement
 *
 * The statement is one line of build/plan_sql's answer (tests/plans/plan_sql.c):
 * {"stmt": "...", "params": [{"type": "text"|"int"|"bool"|"null", "value": "..."}, ...]},
 * the planner's own SQL with its bound values.  Each of THREADS threads
 * opens its own read-only connection with the settings src/store/sqlite.c
 * gives a server connection (temp_store=FILE, the same page cache per
 * connection, the same process-wide heap limits, the query planner
 * stability guarantee), prepares the statement
 * once (SQLITE_PREPARE_PERSISTENT) and, until SECONDS have passed, does
 * what the server's run() does per use: bind every value, step every row,
 * read every column of every row (its type, then an integer as
 * sqlite3_column_int64, anything else as sqlite3_column_text and
 * sqlite3_column_bytes), reset, clear the bindings.  Nothing else: no
 * token lookup, no JSON, no HTTP, no progress handler.  Keep the reads in
 * step with src/store/sqlite.c (if it reads typed values, read them here).
 *
 * Prints one line:
 *   statements/s R  rows/statement N  avg latency A ms  p99 P ms  threads T
 */
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* as src/store/sqlite.c: SQLITE_CACHE_KIB, SQLITE_SOFT_HEAP_LIMIT, SQLITE_HARD_HEAP_LIMIT */
#define CACHE_KIB 8192
#define SOFT_HEAP_LIMIT (40LL << 20)
#define HARD_HEAP_LIMIT (1024LL << 20)
#define MAX_PARAMS 64
#define MAX_THREADS 64

struct param {
    enum { P_TEXT, P_INT, P_NULL } type;
    const char *s;
    int len;
    sqlite3_int64 i;
};

static const char *db_path, *stmt_sql;
static struct param params[MAX_PARAMS];
static int nparams;
static double seconds;

struct worker {
    pthread_t th;
    long n;           /* statements run in the timed window */
    long rows;        /* rows stepped in it */
    float *lat_us;    /* each statement's latency */
    size_t nlat, cap;
    size_t sink;      /* bytes read, so the reads are not optimized away */
    char err[300];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One use of the statement, as the server's run(): bind, step and read, reset. */
static int once(sqlite3_stmt *st, struct worker *w, long *rows)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < nparams && rc == SQLITE_OK; i++) {
        switch (params[i].type) {
        case P_NULL: rc = sqlite3_bind_null(st, i + 1); break;
        case P_TEXT: rc = sqlite3_bind_text(st, i + 1, params[i].s, params[i].len, SQLITE_STATIC); break;
        case P_INT: rc = sqlite3_bind_int64(st, i + 1, params[i].i); break;
        }
    }
    if (rc != SQLITE_OK) return rc;
    int ncols = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        (*rows)++;
        for (int c = 0; c < ncols; c++) {
            int t = sqlite3_column_type(st, c);
            if (t == SQLITE_NULL) continue;
            if (t == SQLITE_INTEGER) { /* as the server reads them: typed */
                w->sink += (size_t)sqlite3_column_int64(st, c);
                continue;
            }
            const unsigned char *v = sqlite3_column_text(st, c);
            w->sink += (size_t)sqlite3_column_bytes(st, c) + (v ? v[0] : 0);
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA temp_store=FILE; PRAGMA cache_size=-%d", CACHE_KIB);
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, (int *)NULL); /* as the server */
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v3(db, stmt_sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) < nparams) {
        snprintf(w->err, sizeof w->err, "%d values for %d placeholders", nparams, sqlite3_bind_parameter_count(st));
        goto out;
    }
    long warm = 0;
    if (rc == SQLITE_OK) rc = once(st, w, &warm); /* the first use reads the pages in */
    if (rc != SQLITE_OK) {
        snprintf(w->err, sizeof w->err, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    double end = now_s() + seconds, t = now_s();
    while (t < end) {
        rc = once(st, w, &w->rows);
        if (rc != SQLITE_OK) {
            snprintf(w->err, sizeof w->err, "%s", sqlite3_errmsg(db));
            break;
        }
        double t2 = now_s();
        if (w->nlat == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 1 << 16;
            float *p = realloc(w->lat_us, w->cap * sizeof *p);
            if (!p) {
                snprintf(w->err, sizeof w->err, "out of memory");
                break;
            }
            w->lat_us = p;
        }
        w->lat_us[w->nlat++] = (float)((t2 - t) * 1e6);
        w->n++;
        t = t2;
    }
out:
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return NULL;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int load_statement(json_t *o)
{
    json_t *ps = json_object_get(o, "params");
    stmt_sql = json_string_value(json_object_get(o, "stmt"));
    if (!stmt_sql || !json_is_array(ps) || json_array_size(ps) > MAX_PARAMS) return -1;
    nparams = (int)json_array_size(ps);
    for (int i = 0; i < nparams; i++) {
        json_t *p = json_array_get(ps, (size_t)i);
        const char *type = json_string_value(json_object_get(p, "type"));
        json_t *v = json_object_get(p, "value");
        if (!type) return -1;
        if (strcmp(type, "null") == 0) {
            params[i].type = P_NULL;
        } else if (!json_is_string(v)) {
            return -1;
        } else if (strcmp(type, "text") == 0) {
            params[i].type = P_TEXT;
            params[i].s = json_string_value(v);
            params[i].len = (int)json_string_length(v);
        } else if (strcmp(type, "int") == 0 || strcmp(type, "bool") == 0) {
            params[i].type = P_INT;
            params[i].i = strtoll(json_string_value(v), NULL, 10);
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DB_PATH SECONDS THREADS < statement (a line of plan_sql's answer)\n", argv[0]);
        return 2;
    }
    db_path = argv[1];
    seconds = atof(argv[2]);
    int nthreads = atoi(argv[3]);
    if (seconds <= 0 || nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "sqlite_alone: SECONDS > 0, 1 <= THREADS <= %d\n", MAX_THREADS);
        return 2;
    }
    json_error_t je;
    json_t *o = json_loadf(stdin, JSON_DISABLE_EOF_CHECK, &je);
    if (!o || load_statement(o) < 0) {
        fprintf(stderr, "sqlite_alone: stdin is not a statement of plan_sql's (%s)\n", o ? "fields" : je.text);
        json_decref(o);
        return 2;
    }
    sqlite3_soft_heap_limit64(SOFT_HEAP_LIMIT);
    sqlite3_hard_heap_limit64(HARD_HEAP_LIMIT);
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    if (!w) return 1;
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) pthread_create(&w[i].th, NULL, work, &w[i]);
    for (int i = 0; i < nthreads; i++) pthread_join(w[i].th, NULL);
    double dt = now_s() - t0;
    long n = 0, rows = 0;
    size_t nlat = 0;
    int rc = 0;
    for (int i = 0; i < nthreads; i++) {
        if (w[i].err[0]) {
            fprintf(stderr, "sqlite_alone: thread %d: %s\n", i, w[i].err);
            rc = 1;
        }
        n += w[i].n;
        rows += w[i].rows;
        nlat += w[i].nlat;
    }
    float *all = malloc((nlat ? nlat : 1) * sizeof *all);
    double sum = 0;
    size_t k = 0;
    for (int i = 0; all && i < nthreads; i++)
        for (size_t j = 0; j < w[i].nlat; j++) sum += all[k++] = w[i].lat_us[j];
    if (all && nlat) qsort(all, nlat, sizeof *all, cmp_float);
    double p99 = all && nlat ? all[nlat * 99 / 100] : 0;
    /* the window is each thread's own SECONDS after its warm-up; dt (which includes opening and
     * the first use) is only a bound */
    printf("statements/s %.1f  rows/statement %.1f  avg latency %.3f ms  p99 %.3f ms  threads %d\n",
           (double)n / (seconds < dt ? seconds : dt), n ? (double)rows / (double)n : 0.0, nlat ? sum / (double)nlat / 1000 : 0,
           p99 / 1000, nthreads);
    for (int i = 0; i < nthreads; i++) free(w[i].lat_us);
    free(all);
    free(w);
    json_decref(o);
    return rc;
}
