/*
 * test_walk — the pieces of keyset walks and change feeds that need no
 * database: positions, the token codec (round trip, tampering, truncation,
 * other keys), the canonical query form, and the keyset and feed SQL.
 */
#include "tests.h"

#include "grammar/plan.h"
#include "grammar/query.h"
#include "grammar/token.h"
#include "model/collection.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/url.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct dialect lite = {.name = "sqlite", .param_prefix = '?', .ci_like_fmt = "%s LIKE %c%d ESCAPE '\\'",
                                    .pos_sql = "(SELECT value FROM firemode_counters WHERE name = 'write_seq')"};
static const struct dialect pg = {.name = "postgresql", .param_prefix = '$',
                                  .ci_like_fmt = "lower(%s) LIKE %c%d ESCAPE '\\'",
                                  .pos_sql = "pg_current_snapshot()::text", .snapshot_pos = true};
static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";

#define WS "0190c0de-0000-7000-8000-00000000aaaa"
#define ME "0190c0de-0000-7000-8000-00000000bbbb"

static void positions(void **state)
{
    (void)state;
    struct wpos p;
    assert_true(store_parse_pos(&lite, "41", 2, &p));
    assert_int_equal(p.xmin, 42);
    assert_int_equal(p.xmax, 42);
    assert_true(wpos_old(&p, 41));
    assert_false(wpos_old(&p, 42));
    assert_true(store_parse_pos(&pg, "100:105:100,103", 15, &p));
    assert_int_equal(p.nxip, 2);
    assert_true(wpos_old(&p, 99));
    assert_false(wpos_old(&p, 100));
    assert_true(wpos_old(&p, 101));
    assert_false(wpos_old(&p, 103));
    assert_true(wpos_old(&p, 104));
    assert_false(wpos_old(&p, 105));
    assert_true(store_parse_pos(&pg, "7:7:", 4, &p));
    assert_int_equal(p.nxip, 0);
    static const char *const bad[] = {"", "x", "5:4:", "5:9:3", "5:9:9", "5:9:6,6", "5:9:7,6", "5:9:6,", "5:9",
                                      "1:2:1:", "99999999999999999999:1:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (store_parse_pos(&pg, bad[i], strlen(bad[i]), &p)) fail_msg("accepted position %s", bad[i]);
    assert_false(store_parse_pos(&lite, "-1", 2, &p));
}

static struct token sample(void)
{
    struct token t;
    memset(&t, 0, sizeof t);
    t.kind = TOKEN_CURSOR;
    t.coll = coll_documents.index;
    memcpy(t.scope, WS, 37);
    memcpy(t.user, ME, 37);
    t.s.xmin = 1000, t.s.xmax = 1010, t.s.nxip = 3;
    t.s.xip[0] = 1000, t.s.xip[1] = 1004, t.s.xip[2] = 1009;
    t.page = 7;
    t.query = "status_in\0queued\0sort\0-created_at\0";
    t.query_len = 34;
    t.nkeys = 2;
    t.keys[0].s = "1740787200000000", t.keys[0].len = 16;
    t.keys[1].null = true;
    return t;
}

static void token_round_trip(void **state)
{
    (void)state;
    struct token t = sample(), back;
    struct buf b;
    buf_init(&b);
    token_encode(&t, key, &b);
    for (size_t i = 0; i < b.len; i++) /* URL-safe as it is */
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", b.data[i]));
    assert_true(token_decode(b.data, b.len, key, &back));
    assert_int_equal(back.kind, TOKEN_CURSOR);
    assert_int_equal(back.coll, coll_documents.index);
    assert_string_equal(back.scope, WS);
    assert_string_equal(back.user, ME);
    assert_false(back.admin);
    assert_int_equal(back.s.xmin, 1000);
    assert_int_equal(back.s.xmax, 1010);
    assert_int_equal(back.s.nxip, 3);
    assert_int_equal(back.s.xip[2], 1009);
    assert_int_equal(back.page, 7);
    assert_int_equal(back.query_len, 34);
    assert_memory_equal(back.query, t.query, 34);
    assert_int_equal(back.nkeys, 2);
    assert_false(back.keys[0].null);
    assert_memory_equal(back.keys[0].s, "1740787200000000", 16);
    assert_true(back.keys[1].null);
    token_free(&back);

    /* a feed token with a window and a last row */
    struct token f;
    memset(&f, 0, sizeof f);
    f.kind = TOKEN_FEED;
    f.coll = coll_users.index;
    f.admin = true;
    memcpy(f.user, ME, 37);
    f.s.xmin = f.s.xmax = 5;
    f.has_end = true;
    f.e.xmin = 9, f.e.xmax = 12, f.e.nxip = 1, f.e.xip[0] = 10;
    f.has_last = true;
    f.last_seq = 7;
    f.last_pk = ME;
    f.last_pk_len = 36;
    buf_reset(&b);
    token_encode(&f, key, &b);
    assert_true(token_decode(b.data, b.len, key, &back));
    assert_int_equal(back.kind, TOKEN_FEED);
    assert_true(back.admin);
    assert_string_equal(back.scope, "");
    assert_true(back.has_end);
    assert_int_equal(back.e.xip[0], 10);
    assert_true(back.has_last);
    assert_int_equal(back.last_seq, 7);
    assert_memory_equal(back.last_pk, ME, 36);
    token_free(&back);
    buf_free(&b);
}

static void token_tampering(void **state)
{
    (void)state;
    struct token t = sample(), back;
    struct buf b;
    buf_init(&b);
    token_encode(&t, key, &b);
    /* another key: refused */
    unsigned char other[32];
    memcpy(other, key, 32);
    other[0] ^= 1;
    assert_false(token_decode(b.data, b.len, other, &back));
    /* every single-character change and every truncation: refused */
    static const char alphabet[] = "AZaz09-_";
    for (size_t i = 0; i < b.len; i++) {
        char saved = b.data[i];
        for (const char *c = alphabet; *c; c++) {
            if (*c == saved) continue;
            b.data[i] = *c;
            if (token_decode(b.data, b.len, key, &back)) fail_msg("accepted a token changed at %zu", i);
        }
        b.data[i] = saved;
    }
    for (size_t n = 0; n < b.len; n++)
        if (token_decode(b.data, n, key, &back)) fail_msg("accepted a token cut to %zu", n);
    assert_false(token_decode("not a token!", 12, key, &back));
    assert_false(token_decode("", 0, key, &back));
    buf_free(&b);
}

struct planned {
    struct url u;
    struct list_query q;
};

static void parse(struct planned *x, const struct collection *c, const char *query)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "/x?%s", query);
    assert_int_equal(url_parse(b.data, b.len, &x->u), URL_OK);
    buf_free(&b);
    struct lq_error e;
    int rc = lq_parse(c, x->u.pairs, x->u.npairs, &x->q, &e);
    if (rc) fprintf(stderr, "%s?%s: %s %s\n", c->name, query, e.list[0].loc, e.list[0].msg);
    assert_int_equal(rc, 0);
}

static void done(struct planned *x)
{
    lq_free(&x->q);
    url_free(&x->u);
}

static void canonical(void **state)
{
    (void)state;
    /* the same walk written differently has one form */
    static const char *const same[][2] = {
        {"status_in=failed,queued&sort=-created_at", "status_in=queued&status_in=failed,queued&sort=-CREATED_AT"},
        {"created_at_from=2025-03-01", "created_at_from=2025-03-01T00:00:00Z"},
        {"uploaded_by_user_id=0190C0DE-89AB-7CDE-8F01-23456789ABCD",
         "uploaded_by_user_id=0190c0de-89ab-7cde-8f01-23456789abcd"},
        {"q=%20Plan%20", "q=Plan"},
        {"", "sort=-created_at"},
        {"sort=created_at,byte_size", "sort=created_at,byte_size,id"},
        {"include_deleted=true&last_run_at_is_null=1", "last_run_at_is_null=yes&include_deleted=on"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        struct planned a, b;
        struct buf ca, cb;
        buf_init(&ca), buf_init(&cb);
        parse(&a, &coll_documents, same[i][0]);
        parse(&b, &coll_documents, same[i][1]);
        lq_canonical(&a.q, &ca);
        lq_canonical(&b.q, &cb);
        if (ca.len != cb.len || memcmp(ca.data, cb.data, ca.len) != 0) fail_msg("forms differ: %s | %s", same[i][0], same[i][1]);
        /* and the form reads back as the same query */
        struct list_query back;
        struct lq_error e;
        assert_int_equal(lq_parse_canonical(&coll_documents, ca.data, ca.len, &back, &e), 0);
        struct buf cc;
        buf_init(&cc);
        lq_canonical(&back, &cc);
        assert_int_equal(cc.len, ca.len);
        assert_memory_equal(cc.data, ca.data, ca.len);
        lq_free(&back);
        buf_free(&ca), buf_free(&cb), buf_free(&cc);
        done(&a), done(&b);
    }
    static const char *const differ[][2] = {
        {"status_in=failed", "status_in=failed,queued"},
        {"sort=byte_size", "sort=-byte_size"},
        {"sort=byte_size,status", "sort=status,byte_size"},
        {"", "include_deleted=true"},
        {"q=plan", "q=plans"},
    };
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        struct planned a, b;
        struct buf ca, cb;
        buf_init(&ca), buf_init(&cb);
        parse(&a, &coll_documents, differ[i][0]);
        parse(&b, &coll_documents, differ[i][1]);
        lq_canonical(&a.q, &ca);
        lq_canonical(&b.q, &cb);
        assert_false(ca.len == cb.len && memcmp(ca.data, cb.data, ca.len) == 0);
        buf_free(&ca), buf_free(&cb);
        done(&a), done(&b);
    }
    /* cursor and page together: a 422 naming cursor */
    struct url u;
    struct list_query q;
    struct lq_error e;
    assert_int_equal(url_parse("/x?cursor=abc&page=2", 20, &u), URL_OK);
    assert_int_equal(lq_parse(&coll_documents, u.pairs, u.npairs, &q, &e), -1);
    assert_string_equal(e.list[0].loc, "cursor");
    url_free(&u);
}

static char *after_sql(const struct collection *c, const char *query, const struct dialect *d,
                       const struct token_key *keys, const struct wpos *s)
{
    struct planned x;
    struct plan p;
    struct plan_scope sc = {WS, ME, true, NULL};
    parse(&x, c, query);
    struct plan_after a = {s, keys, x.q.nsort};
    assert_int_equal(plan_list(&x.q, d, &sc, &a, &p), 0);
    const char *w = strstr(p.sql.data, " WHERE ");
    char *out = xstrndup(w, strlen(w));
    plan_free(&p);
    done(&x);
    return out;
}

static void keyset_predicates(void **state)
{
    (void)state;
    struct wpos s = {.xmin = 50, .xmax = 50};
    struct token_key k2[2] = {{false, "1740787200000000", 16}, {false, ME, 36}};
    /* the default sort: one row comparison, an index range */
    char *w = after_sql(&coll_documents, "", &lite, k2, &s);
    assert_string_equal(w, " WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL"
                           " AND (t.created_at, t.document_id) < (?2, ?3) AND t.seq < ?4"
                           " ORDER BY t.created_at DESC, t.document_id DESC LIMIT ?5");
    free(w);
    /* a nullable key, not NULL: after it come larger values, then the NULLs:
     * two index ranges of at most a page each, merged */
    struct token_key kn[2] = {{false, "1740787200000000", 16}, {false, ME, 36}};
    w = after_sql(&coll_documents, "sort=last_run_at", &lite, kn, &s);
    assert_non_null(strstr(w, " AND (t.last_run_at, t.document_id) > (?4, ?5) AND t.seq < ?2"
                              " ORDER BY t.last_run_at ASC, t.document_id ASC LIMIT ?3) a UNION ALL SELECT * FROM ("));
    assert_non_null(strstr(w, " AND t.last_run_at IS NULL AND t.seq < ?2 ORDER BY t.document_id ASC LIMIT ?3) b)"
                              " u ORDER BY u.last_run_at ASC NULLS LAST, u.document_id ASC LIMIT ?3"));
    free(w);
    /* ... NULL: only the NULLs after the last id, descending too */
    struct token_key kz[2] = {{true, NULL, 0}, {false, ME, 36}};
    w = after_sql(&coll_documents, "sort=-last_run_at", &lite, kz, &s);
    assert_string_equal(w, " WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL"
                           " AND (t.last_run_at IS NULL AND t.document_id < ?2) AND t.seq < ?3"
                           " ORDER BY t.last_run_at DESC NULLS LAST, t.document_id DESC LIMIT ?4");
    free(w);
    /* mixed directions: expanded, with a range on the leading key */
    struct token_key k3[3] = {{false, "processed", 9}, {false, "1740787200000000", 16}, {false, ME, 36}};
    w = after_sql(&coll_documents, "sort=status,-created_at", &pg, k3, &s);
    assert_string_equal(w, " WHERE 1=1 AND t.workspace_id = $1 AND t.deleted_at IS NULL AND t.status >= $2"
                           " AND (t.status > $3 OR (t.status = $4 AND (t.created_at < $5 OR (t.created_at = $6"
                           " AND t.document_id > $7)))) AND t.seq < $8"
                           " ORDER BY t.status ASC, t.created_at DESC, t.document_id ASC LIMIT $9");
    free(w);
    /* PostgreSQL, transactions in progress at S: one array parameter */
    struct wpos sx = {.xmin = 40, .xmax = 50, .nxip = 2, .xip = {40, 44}};
    w = after_sql(&coll_documents, "", &pg, k2, &sx);
    assert_non_null(strstr(w, " AND (t.seq < $4 OR (t.seq < $5 AND t.seq <> ALL ($6::bigint[])))"));
    free(w);
    /* keys after the primary key do not count */
    struct token_key kp[3] = {{false, ME, 36}, {false, "1740787200000000", 16}, {true, NULL, 0}};
    w = after_sql(&coll_documents, "sort=id,created_at,last_run_at", &lite, kp, &s);
    assert_string_equal(w, " WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL AND t.document_id > ?2"
                           " AND t.seq < ?3 ORDER BY t.document_id ASC, t.created_at ASC, t.last_run_at ASC NULLS"
                           " LAST LIMIT ?4");
    free(w);
}

static void feed_sql(void **state)
{
    (void)state;
    struct token t;
    struct plan p;
    struct plan_scope sc = {WS, ME, false, NULL};
    memset(&t, 0, sizeof t);
    t.kind = TOKEN_FEED;
    t.s.xmin = 40, t.s.xmax = 50, t.s.nxip = 1, t.s.xip[0] = 45;
    t.has_end = true;
    t.e.xmin = t.e.xmax = 60;
    t.has_last = true;
    t.last_seq = 47;
    t.last_pk = ME;
    t.last_pk_len = 36;
    assert_int_equal(plan_feed(&coll_documents, &pg, &sc, &t, 10, &p), 0);
    assert_non_null(strstr(p.stmt.data, " WHERE 1=1 AND t.workspace_id = $1 AND EXISTS (SELECT 1 FROM "
                                        "workspace_members m WHERE m.workspace_id = t.workspace_id AND m.removed_at IS NULL AND m.user_id = $2)"
                                        " AND t.seq >= $3 AND (t.seq >= $4 OR t.seq = ANY ($5::bigint[]))"
                                        " AND t.seq < $6 AND (t.seq, t.document_id) > ($7, $8)"
                                        " ORDER BY t.seq, t.document_id LIMIT $9)"));
    assert_null(strstr(p.stmt.data, " AND t.deleted_at IS NULL")); /* tombstones too */
    assert_int_equal(p.ps.p[4].type, SP_TEXT);
    assert_int_equal(p.ps.p[4].len, 4);
    assert_memory_equal(p.ps.p[4].s, "{45}", 4);
    assert_int_equal(p.ps.p[8].i, 11);
    plan_free(&p);
}

int test_walk_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(positions),  cmocka_unit_test(token_round_trip),  cmocka_unit_test(token_tampering),
        cmocka_unit_test(canonical),  cmocka_unit_test(keyset_predicates), cmocka_unit_test(feed_sql),
    };
    return cmocka_run_group_tests_name("walk", tests, NULL, NULL);
}
