/*
 * test_store — the SQLite backend's statement deadline (store_set_timeout_ms),
 * against a database file in a fresh temporary directory: a statement that
 * runs past the deadline is stopped (STORE_BUSY, a 503), an interrupted
 * write rolls its whole transaction back, and the connection goes on
 * working; without a deadline (migrations, seed) the same statement runs to
 * its end.
 */
#include "tests.h"

#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Never ends: stopped only by the deadline. */
#define ENDLESS "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
/* Ends after a few hundred ms (longer than the 100 ms deadline below). */
#define LONG "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_long(void *ctx, const struct store_row *row)
{
    *(long *)ctx = row->vals[0] ? strtol(row->vals[0], NULL, 10) : -1;
    return 0;
}

static long count_rows(struct store *st)
{
    struct store_err err;
    long n = -1;
    assert_int_equal(store_exec(st, "SELECT count(*) FROM t", NULL, 0, read_long, &n, &err), 1);
    return n;
}

static void sqlite_deadline(void **state)
{
    char dir[] = "/tmp/fm-test-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[192], path[128];
    snprintf(path, sizeof path, "%s/t.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    store_set_timeout_ms(100);
    struct store_err err;
    struct store *st = store_open(url, &err);
    assert_non_null(st);
    assert_true(store_exec(st, "CREATE TABLE t (v INTEGER)", NULL, 0, NULL, NULL, &err) >= 0);

    /* a slow read: stopped soon after the deadline */
    double t0 = now_s();
    assert_int_equal(store_exec(st, ENDLESS "SELECT count(*) FROM c", NULL, 0, NULL, NULL, &err), -1);
    assert_int_equal(err.kind, STORE_BUSY);
    assert_non_null(strstr(err.msg, "statement timeout"));
    assert_true(now_s() - t0 < 2.0);

    /* a slow write inside a write transaction: the whole transaction is
     * rolled back, the rollback after it is harmless */
    assert_int_equal(store_begin(st, true, &err), 0);
    assert_int_equal(store_exec(st, "INSERT INTO t (v) VALUES (1)", NULL, 0, NULL, NULL, &err), 1);
    t0 = now_s();
    assert_int_equal(store_exec(st, "INSERT INTO t (v) " ENDLESS "SELECT x FROM c", NULL, 0, NULL, NULL, &err), -1);
    assert_int_equal(err.kind, STORE_BUSY);
    assert_true(now_s() - t0 < 2.0);
    store_rollback(st);
    assert_int_equal(count_rows(st), 0);

    /* the connection is fine: a write commits, and a second connection
     * (another worker) can take the write lock at once */
    assert_int_equal(store_begin(st, true, &err), 0);
    assert_int_equal(store_exec(st, "INSERT INTO t (v) VALUES (2)", NULL, 0, NULL, NULL, &err), 1);
    assert_int_equal(store_commit(st, &err), 0);
    assert_int_equal(count_rows(st), 1);
    struct store *other = store_open(url, &err);
    assert_non_null(other);
    assert_int_equal(store_begin(other, true, &err), 0);
    assert_int_equal(store_exec(other, "INSERT INTO t (v) VALUES (3)", NULL, 0, NULL, NULL, &err), 1);
    /* ... while it holds the lock, a writer here waits no longer than the deadline */
    t0 = now_s();
    assert_int_equal(store_begin(st, true, &err), -1);
    assert_int_equal(err.kind, STORE_BUSY);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(store_commit(other, &err), 0);
    assert_int_equal(count_rows(st), 2);

    /* a read-only transaction stopped mid-way can be rolled back and reused */
    assert_int_equal(store_begin(st, false, &err), 0);
    assert_int_equal(store_exec(st, LONG, NULL, 0, NULL, NULL, &err), -1);
    store_rollback(st);
    assert_int_equal(count_rows(st), 2);

    /* no deadline (as while migrating): the long statement ends */
    store_set_timeout_ms(-1);
    long n = 0;
    assert_int_equal(store_exec(st, LONG, NULL, 0, read_long, &n, &err), 1);
    assert_int_equal(n, 3000000);
    store_set_timeout_ms(2000);

    store_close(other);
    store_close(st);
    char side[160];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    rmdir(dir);
}

/* ---- store_exec_ints ---------------------------------------------------- */

struct ints_seen {
    int rows;
    char text[8][24];  /* each column's text as the callback saw it ("<null>" for NULL) */
    int64_t num[8];
    int is_int[8];
    bool truth[8];
    struct store *st;  /* nested: run a plain statement from the callback */
    char nested[24];
    int stop_after;
};

static int ints_row(void *ctx, const struct store_row *row)
{
    struct ints_seen *s = ctx;
    s->rows++;
    for (int i = 0; i < row->ncols && i < 8; i++) {
        snprintf(s->text[i], sizeof s->text[i], "%s", row->vals[i] ? row->vals[i] : "<null>");
        s->is_int[i] = row->is_int && row->is_int[i];
        s->num[i] = row->vals[i] ? store_row_int(row, i) : -1;
        s->truth[i] = store_row_true(row, i);
    }
    if (s->st) {
        struct store_err err;
        long n = -1;
        /* a statement of its own, run plainly: it reads its text */
        assert_int_equal(store_exec(s->st, "SELECT 40 + 2", NULL, 0, read_long, &n, &err), 1);
        snprintf(s->nested, sizeof s->nested, "%ld", n);
    }
    return s->stop_after && s->rows >= s->stop_after;
}

static void sqlite_exec_ints(void **state)
{
    struct store_err err;
    struct store *st = store_open("sqlite::memory:", &err);
    assert_non_null(st);
    const char *sql = "SELECT 1, 42, NULL, 'x', 0, -7, 3.5 UNION ALL SELECT 2, 0, 5, 't', 1, NULL, NULL";
    /* columns 1, 2, 4, 5 and 6 read as integers only; 0 and 3 in full */
    uint64_t mask = 1u << 1 | 1u << 2 | 1u << 4 | 1u << 5 | 1u << 6;
    struct ints_seen s = {0};
    assert_int_equal(store_exec_ints(st, mask, sql, NULL, 0, ints_row, &s, &err), 2);
    assert_int_equal(s.rows, 2);
    /* the last row: integers under the mask have no text, but their number */
    assert_string_equal(s.text[0], "2");
    assert_string_equal(s.text[1], "");
    assert_int_equal(s.num[1], 0);
    assert_false(s.truth[1]);
    assert_string_equal(s.text[2], "");
    assert_int_equal(s.num[2], 5);
    assert_true(s.truth[2]);
    assert_string_equal(s.text[3], "t"); /* text is text, mask or not */
    assert_string_equal(s.text[4], "");
    assert_true(s.truth[4]);
    assert_string_equal(s.text[5], "<null>"); /* NULL stays NULL */
    assert_false(s.truth[5]);
    assert_string_equal(s.text[6], "<null>");

    /* a REAL under the mask is not an integer: its text is read */
    memset(&s, 0, sizeof s);
    s.stop_after = 1; /* and an early stop */
    assert_int_equal(store_exec_ints(st, mask, sql, NULL, 0, ints_row, &s, &err), 1);
    assert_string_equal(s.text[6], "3.5");
    assert_int_equal(s.is_int[6], 0);
    assert_string_equal(s.text[5], "");
    assert_int_equal(s.num[5], -7);
    assert_true(s.truth[5]);

    /* after an early stop, an error, and a plain run: the next plain
     * statement reads every column's text */
    memset(&s, 0, sizeof s);
    assert_int_equal(store_exec(st, sql, NULL, 0, ints_row, &s, &err), 2);
    assert_string_equal(s.text[1], "0");
    assert_string_equal(s.text[2], "5");
    assert_string_equal(s.text[4], "1");
    assert_int_equal(store_exec_ints(st, mask, "SELECT nope FROM nowhere", NULL, 0, ints_row, &s, &err), -1);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_exec(st, sql, NULL, 0, ints_row, &s, &err), 2);
    assert_string_equal(s.text[1], "0");
    assert_string_equal(s.text[5], "<null>");

    /* a statement run from inside another's callback is not under the
     * other's mask: SELECT 40 + 2 is read in full (column 0 is not under
     * this mask, so 1 << 0 stands for any column a nested caller reads) */
    memset(&s, 0, sizeof s);
    s.st = st;
    assert_int_equal(store_exec_ints(st, mask | 1u, "SELECT 1, 2", NULL, 0, ints_row, &s, &err), 1);
    assert_string_equal(s.text[0], "");
    assert_string_equal(s.nested, "42");
    store_close(st);
}

int test_store_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlite_deadline),
        cmocka_unit_test(sqlite_exec_ints),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
