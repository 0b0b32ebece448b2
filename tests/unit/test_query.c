/*
 * test_query — the list grammar (CONTRACT.md §3, §4, §8) over the real
 * collection tables.
 *
 * Each case writes the query string as a client would (percent-encoding
 * included) and runs it through url_parse and then lq_parse, so the tests
 * see exactly what the server sees.  Errors are checked by loc and type (and
 * by the exact message where the contract fixes it).
 */
#include "tests.h"

#include "grammar/query.h"
#include "model/collection.h"
#include "model/types.h"
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

/* One parse: the url owns the bytes the list_query points into. */
struct run {
    struct url u;
    struct list_query q;
    struct lq_error e;
    int rc;
};

static void run_query(struct run *r, const struct collection *c, const char *query)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "/x?");
    buf_puts(&b, query);
    enum url_status st = url_parse(b.data, b.len, &r->u);
    buf_free(&b);
    if (st != URL_OK) fprintf(stderr, "url_parse failed on test input: %s\n", query);
    assert_int_equal(st, URL_OK);
    r->rc = lq_parse(c, r->u.pairs, r->u.npairs, &r->q, &r->e);
    if (r->rc != 0) assert_null(r->q.arena); /* freed on error */
}

static void run_done(struct run *r)
{
    lq_free(&r->q);
    lq_free(&r->q); /* NULL-safe and resetting */
    url_free(&r->u);
}

static void ok(struct run *r, const struct collection *c, const char *query)
{
    run_query(r, c, query);
    if (r->rc != 0) fprintf(stderr, "%s?%s: unexpected error %s/%s: %s\n", c->name, query, r->e.list[0].loc, r->e.list[0].type, r->e.list[0].msg);
    assert_int_equal(r->rc, 0);
}

/* Expects the FastAPI-style list error at ("query", loc) with this type. */
static void expect_err(const struct collection *c, const char *query, const char *loc, const char *type)
{
    struct run r;
    run_query(&r, c, query);
    if (r.rc == 0 || strcmp(r.e.list[0].loc, loc) != 0 || strcmp(r.e.list[0].type, type) != 0)
        fprintf(stderr, "%s?%.200s: rc=%d loc=%s type=%s msg=%s (want %s/%s)\n", c->name, query, r.rc, r.e.list[0].loc,
                r.e.list[0].type, r.e.list[0].msg, loc, type);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.e.list[0].loc, loc);
    assert_string_equal(r.e.list[0].type, type);
    assert_false(r.e.list[0].as_string);
    assert_true(r.e.list[0].msg[0] != '\0');
    run_done(&r);
}

/* Expects the {"detail": "..."} error with exactly this message. */
static void expect_str_err(const struct collection *c, const char *query, const char *msg)
{
    struct run r;
    run_query(&r, c, query);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.e.n, 1);
    assert_true(r.e.list[0].as_string);
    assert_string_equal(r.e.list[0].msg, msg);
    run_done(&r);
}

/* "unit" n times, as a new string. */
static char *rep(const char *unit, int n)
{
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < n; i++) buf_puts(&b, unit);
    return buf_steal(&b, NULL);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    assert_non_null(s);
    return s;
}

static const struct lq_cond *cond_of(const struct list_query *q, const char *param)
{
    for (int i = 0; i < q->nconds; i++)
        if (strcmp(q->conds[i].filter->param, param) == 0) return &q->conds[i];
    return NULL;
}

static void assert_sort(const struct list_query *q, int i, const char *name, const char *column, bool desc)
{
    assert_true(i < q->nsort);
    assert_string_equal(q->sort[i].key->name, name);
    assert_string_equal(q->sort[i].key->column, column);
    assert_int_equal(q->sort[i].desc, desc);
}

static void assert_text_val(const struct list_query *q, int i, const char *want)
{
    assert_true(i < q->nvals);
    assert_int_equal(q->vals[i].len, strlen(want));
    assert_memory_equal(q->vals[i].s, want, strlen(want));
}

static const struct collection *const five[] = {&coll_users, &coll_documents, &coll_jobs, &coll_configs,
                                                &coll_workspaces};

/* ---- defaults -------------------------------------------------------- */

static void defaults_every_collection(void **state)
{
    static const char *const pk[] = {"user_id", "document_id", "job_id", "config_id", "workspace_id"};
    for (size_t i = 0; i < 5; i++) {
        struct run r;
        ok(&r, five[i], "");
        assert_ptr_equal(r.q.coll, five[i]);
        assert_int_equal(r.q.page, 1);
        assert_int_equal(r.q.page_size, 25);
        assert_false(r.q.include_total);
        assert_false(r.q.include_deleted);
        assert_int_equal(r.q.nconds, 0);
        assert_int_equal(r.q.nvals, 0);
        assert_int_equal(r.q.nsort, 2);
        assert_sort(&r.q, 0, "created_at", "created_at", true);
        assert_sort(&r.q, 1, "id", pk[i], true);
        run_done(&r);
    }
    /* test sessions: default sort created_at ascending, tie-breaker asc */
    struct run r;
    ok(&r, &coll_test_sessions, "");
    assert_int_equal(r.q.nsort, 2);
    assert_sort(&r.q, 0, "created_at", "created_at", false);
    assert_sort(&r.q, 1, "id", "id", false);
    run_done(&r);
}

/* ---- page, page_size, include_total ---------------------------------- */

static void page_bounds(void **state)
{
    struct run r;
    ok(&r, &coll_documents, "page=2&page_size=100");
    assert_int_equal(r.q.page, 2);
    assert_int_equal(r.q.page_size, 100);
    run_done(&r);
    ok(&r, &coll_documents, "page=1&page_size=1");
    assert_int_equal(r.q.page, 1);
    assert_int_equal(r.q.page_size, 1);
    run_done(&r);
    ok(&r, &coll_documents, "page=1000000&page_size=007");
    assert_int_equal(r.q.page, 1000000);
    assert_int_equal(r.q.page_size, 7);
    run_done(&r);
    ok(&r, &coll_documents, "page=9007199254740991&page_size=100"); /* 2^53-1 */
    assert_true(r.q.page == 9007199254740991LL);
    run_done(&r);

    expect_err(&coll_documents, "page=0", "page", "greater_than_equal");
    expect_err(&coll_documents, "page=9007199254740992", "page", "less_than_equal");
    expect_err(&coll_documents, "page=-1", "page", "greater_than_equal");
    expect_err(&coll_documents, "page=-0", "page", "greater_than_equal");
    expect_err(&coll_documents, "page=abc", "page", "int_parsing");
    expect_err(&coll_documents, "page=1.5", "page", "int_parsing");
    expect_err(&coll_documents, "page=1e3", "page", "int_parsing");
    expect_err(&coll_documents, "page=+1", "page", "int_parsing"); /* "+" is a space: " 1" */
    expect_err(&coll_documents, "page=99999999999999999999", "page", "int_parsing");
    expect_err(&coll_documents, "page=", "page", "missing");
    expect_err(&coll_documents, "page", "page", "missing");
    expect_err(&coll_users, "page_size=0", "page_size", "greater_than_equal");
    expect_err(&coll_users, "page_size=-5", "page_size", "greater_than_equal");
    expect_err(&coll_users, "page_size=101", "page_size", "less_than_equal");
    expect_err(&coll_users, "page_size=9223372036854775807", "page_size", "less_than_equal");
    expect_err(&coll_users, "page_size=ten", "page_size", "int_parsing");
    expect_err(&coll_users, "page_size=10.0", "page_size", "int_parsing");
    expect_err(&coll_users, "page_size=", "page_size", "missing");

    run_query(&r, &coll_jobs, "page_size=101");
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.e.list[0].msg, "Input should be less than or equal to 100");
    run_done(&r);
    run_query(&r, &coll_jobs, "page=0");
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.e.list[0].msg, "Input should be greater than or equal to 1");
    run_done(&r);
}

static void include_total_spellings(void **state)
{
    static const char *const t[] = {"true", "TRUE", "True", "1", "yes", "YES", "Yes", "on", "ON", "oN"};
    static const char *const f[] = {"false", "FALSE", "False", "0", "no", "NO", "off", "OFF", "Off"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *s = fmt("include_total=%s", t[i]);
        struct run r;
        ok(&r, &coll_configs, s);
        assert_true(r.q.include_total);
        run_done(&r);
        free(s);
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char *s = fmt("include_total=%s", f[i]);
        struct run r;
        ok(&r, &coll_configs, s);
        assert_false(r.q.include_total);
        run_done(&r);
        free(s);
    }
    expect_err(&coll_configs, "include_total=maybe", "include_total", "bool_parsing");
    expect_err(&coll_configs, "include_total=2", "include_total", "bool_parsing");
    expect_err(&coll_configs, "include_total=t", "include_total", "bool_parsing");
    expect_err(&coll_configs, "include_total=+true", "include_total", "bool_parsing");
    expect_err(&coll_configs, "include_total=", "include_total", "missing");
    expect_err(&coll_configs, "include_total=true&include_total=true", "include_total", "multiple_values");
}

/* ---- sort ------------------------------------------------------------ */

static void sort_forms(void **state)
{
    struct run r;
    ok(&r, &coll_documents, "sort=%20%20-Created_At%20,%20id%20");
    assert_int_equal(r.q.nsort, 2); /* "id" named: no tie-breaker */
    assert_sort(&r.q, 0, "created_at", "created_at", true);
    assert_sort(&r.q, 1, "id", "document_id", false);
    run_done(&r);

    ok(&r, &coll_documents, "sort=++-Created_At+,+id+"); /* '+' is a space */
    assert_int_equal(r.q.nsort, 2);
    assert_sort(&r.q, 0, "created_at", "created_at", true);
    assert_sort(&r.q, 1, "id", "document_id", false);
    run_done(&r);

    ok(&r, &coll_documents, "sort=created_at,-created_at"); /* first wins */
    assert_int_equal(r.q.nsort, 2);
    assert_sort(&r.q, 0, "created_at", "created_at", false);
    assert_sort(&r.q, 1, "id", "document_id", false);
    run_done(&r);

    ok(&r, &coll_documents, "sort=-byte_size");
    assert_int_equal(r.q.nsort, 2);
    assert_sort(&r.q, 0, "byte_size", "byte_size", true);
    assert_sort(&r.q, 1, "id", "document_id", true);
    run_done(&r);

    ok(&r, &coll_documents, "sort=STATUS,-original_filename"); /* tie-breaker: first field's direction */
    assert_int_equal(r.q.nsort, 3);
    assert_sort(&r.q, 0, "status", "status", false);
    assert_sort(&r.q, 1, "original_filename", "original_filename", true);
    assert_sort(&r.q, 2, "id", "document_id", false);
    run_done(&r);

    ok(&r, &coll_documents, "sort=-status,original_filename");
    assert_int_equal(r.q.nsort, 3);
    assert_sort(&r.q, 2, "id", "document_id", true);
    run_done(&r);

    ok(&r, &coll_documents, "sort=status,byte_size,created_at,status,STATUS,-byte_size"); /* 3 distinct */
    assert_int_equal(r.q.nsort, 4);
    assert_sort(&r.q, 0, "status", "status", false);
    assert_sort(&r.q, 1, "byte_size", "byte_size", false);
    assert_sort(&r.q, 2, "created_at", "created_at", false);
    assert_sort(&r.q, 3, "id", "document_id", false);
    run_done(&r);

    ok(&r, &coll_documents, "sort=-status,byte_size,-ID");
    assert_int_equal(r.q.nsort, 3);
    assert_sort(&r.q, 2, "id", "document_id", true);
    run_done(&r);

    ok(&r, &coll_documents, "sort=-id");
    assert_int_equal(r.q.nsort, 1);
    assert_sort(&r.q, 0, "id", "document_id", true);
    run_done(&r);

    ok(&r, &coll_documents, "sort=id,-created_at"); /* id first: still no extra key */
    assert_int_equal(r.q.nsort, 2);
    assert_sort(&r.q, 0, "id", "document_id", false);
    assert_sort(&r.q, 1, "created_at", "created_at", true);
    run_done(&r);

    ok(&r, &coll_documents, "sort=%2Bcreated_at"); /* explicit '+' = ascending */
    assert_sort(&r.q, 0, "created_at", "created_at", false);
    run_done(&r);

    ok(&r, &coll_documents, "sort=,created_at,,");
    assert_int_equal(r.q.nsort, 2);
    assert_sort(&r.q, 0, "created_at", "created_at", false);
    run_done(&r);

    ok(&r, &coll_users, "sort=-email");
    assert_sort(&r.q, 0, "email", "email_canonical", true);
    assert_sort(&r.q, 1, "id", "user_id", true);
    assert_false(r.q.sort[0].key->nullable);
    run_done(&r);

    ok(&r, &coll_users, "sort=display_name,last_login_at");
    assert_true(r.q.sort[0].key->nullable);
    assert_true(r.q.sort[1].key->nullable);
    assert_false(r.q.sort[2].key->nullable);
    run_done(&r);

    ok(&r, &coll_documents, "sort=-last_run_at");
    assert_true(r.q.sort[0].key->nullable);
    run_done(&r);

    ok(&r, &coll_jobs, "sort=completed_at,-started_at,queued_at");
    assert_int_equal(r.q.nsort, 4);
    assert_sort(&r.q, 3, "id", "job_id", false);
    run_done(&r);

    ok(&r, &coll_workspaces, "sort=name");
    assert_sort(&r.q, 0, "name", "name", false);
    assert_sort(&r.q, 1, "id", "workspace_id", false);
    run_done(&r);

    ok(&r, &coll_configs, "sort=-slug,title");
    assert_sort(&r.q, 2, "id", "config_id", true);
    run_done(&r);
}

static void sort_empty_is_default(void **state)
{
    static const char *const qs[] = {"sort=", "sort", "sort=,", "sort=%20", "sort=+,+,"};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        struct run r;
        ok(&r, &coll_jobs, qs[i]);
        assert_int_equal(r.q.nsort, 2);
        assert_sort(&r.q, 0, "created_at", "created_at", true);
        assert_sort(&r.q, 1, "id", "job_id", true);
        run_done(&r);
    }
}

static void sort_errors(void **state)
{
    expect_str_err(&coll_documents, "sort=x",
                   "Unsupported sort field 'x'. Allowed: id, created_at, last_run_at, byte_size, original_filename, "
                   "status");
    expect_str_err(&coll_documents, "sort=created_at,-Nope",
                   "Unsupported sort field 'Nope'. Allowed: id, created_at, last_run_at, byte_size, original_filename, "
                   "status");
    expect_str_err(&coll_users, "sort=email_canonical",
                   "Unsupported sort field 'email_canonical'. Allowed: id, created_at, updated_at, email, display_name, "
                   "last_login_at");
    expect_str_err(&coll_workspaces, "sort=-document_id",
                   "Unsupported sort field 'document_id'. Allowed: id, created_at, name");
    expect_str_err(&coll_jobs, "sort=tags",
                   "Unsupported sort field 'tags'. Allowed: id, created_at, queued_at, started_at, completed_at, status");
    expect_str_err(&coll_configs, "sort=deleted_at",
                   "Unsupported sort field 'deleted_at'. Allowed: id, created_at, updated_at, slug, title");
    expect_str_err(&coll_configs, "sort=-", "Unsupported sort field ''. Allowed: id, created_at, updated_at, slug, title");
    expect_str_err(&coll_configs, "sort=--slug",
                   "Unsupported sort field '-slug'. Allowed: id, created_at, updated_at, slug, title");
    expect_str_err(&coll_configs, "sort=sl%20ug",
                   "Unsupported sort field 'sl ug'. Allowed: id, created_at, updated_at, slug, title");
    /* the echoed name is bounded */
    char *lng = rep("z", 300);
    char *s = fmt("sort=%s", lng);
    char *want = fmt("Unsupported sort field '%.64s'. Allowed: id, created_at, name", lng);
    expect_str_err(&coll_workspaces, s, want);
    free(lng), free(s), free(want);

    expect_str_err(&coll_documents, "sort=status,byte_size,created_at,original_filename", "Too many sort fields (max 3).");
    expect_str_err(&coll_documents, "sort=status,byte_size,created_at,id", "Too many sort fields (max 3).");
    expect_str_err(&coll_documents, "sort=status,status,byte_size,-byte_size,created_at,-last_run_at",
                   "Too many sort fields (max 3).");
    expect_err(&coll_documents, "sort=id&sort=status", "sort", "multiple_values");
    expect_err(&coll_documents, "sort=&sort=", "sort", "multiple_values");

    struct run r;
    run_query(&r, &coll_documents, "sort=x");
    assert_string_equal(r.e.list[0].loc, "sort");
    run_done(&r);
}

/* ---- unknown and repeated keys --------------------------------------- */

static void unknown_keys(void **state)
{
    struct run r;
    run_query(&r, &coll_documents, "page=1&foo=1");
    assert_int_equal(r.rc, -1);
    assert_false(r.e.list[0].as_string);
    assert_string_equal(r.e.list[0].loc, "foo");
    assert_string_equal(r.e.list[0].type, "extra_forbidden");
    assert_string_equal(r.e.list[0].msg, "Unknown query parameter 'foo'. Allowed: page, page_size, include_total, sort, "
                                 "cursor, status_in, source_in, uploaded_by_user_id, created_at_from, created_at_to, "
                                 "last_run_from, last_run_to, q, include_deleted, tag_in, last_run_at_is_null");
    run_done(&r);

    static const struct {
        const struct collection *c;
        const char *allowed;
    } lists[] = {
        {&coll_users, "page, page_size, include_total, sort, cursor, q, is_active, is_service_account, created_at_from, "
                      "created_at_to, last_login_from, last_login_to, display_name_is_null, last_login_at_is_null"},
        {&coll_workspaces, "page, page_size, include_total, sort, cursor, q"},
        {&coll_test_sessions, "limit, sort, cursor, status, date_from, date_to, technician_id"},
        {&coll_jobs, "page, page_size, include_total, sort, cursor, status_in, config_id, config_version_id, "
                     "submitted_by_user_id, trace_id, retry_of_job_id, created_at_from, created_at_to, "
                     "config_version_id_is_null, trace_id_is_null, retry_of_job_id_is_null, started_at_is_null, "
                     "completed_at_is_null"},
        {&coll_configs, "page, page_size, include_total, sort, cursor, slug, title, created_by_user_id, created_at_from, "
                        "created_at_to, include_deleted"},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        run_query(&r, lists[i].c, "bogus=");
        assert_int_equal(r.rc, -1);
        char *want = fmt("Unknown query parameter 'bogus'. Allowed: %s", lists[i].allowed);
        assert_string_equal(r.e.list[0].msg, want);
        assert_string_equal(r.e.list[0].type, "extra_forbidden");
        free(want);
        run_done(&r);
    }

    expect_err(&coll_documents, "Page=1", "Page", "extra_forbidden"); /* keys are case-sensitive */
    expect_err(&coll_documents, "page_size%20=1", "page_size ", "extra_forbidden");
    expect_err(&coll_documents, "status=queued", "status", "extra_forbidden");
    expect_err(&coll_documents, "deleted_at_is_null=true", "deleted_at_is_null", "extra_forbidden");
    expect_err(&coll_configs, "deleted_at_is_null=false", "deleted_at_is_null", "extra_forbidden");
    expect_err(&coll_documents, "limit=10", "limit", "extra_forbidden");
    expect_err(&coll_jobs, "include_deleted=true", "include_deleted", "extra_forbidden");
    expect_err(&coll_jobs, "q=abc", "q", "extra_forbidden");
    expect_err(&coll_workspaces, "name=x", "name", "extra_forbidden");
    expect_err(&coll_users, "email=a@b", "email", "extra_forbidden");
    expect_err(&coll_users, "is_admin=true", "is_admin", "extra_forbidden");
    expect_err(&coll_documents, "=1", "", "extra_forbidden");

    /* a long unknown key is cut in loc and msg */
    char *k = rep("k", 100);
    char *s = fmt("%s=1", k);
    run_query(&r, &coll_workspaces, s);
    assert_int_equal(r.rc, -1);
    assert_int_equal(strlen(r.e.list[0].loc), 40);
    char *want = fmt("Unknown query parameter '%.40s...'. Allowed: page, page_size, include_total, sort, cursor, q", k);
    assert_string_equal(r.e.list[0].msg, want);
    run_done(&r);
    free(k), free(s), free(want);
}

static void scalar_repeated(void **state)
{
    static const struct {
        const struct collection *c;
        const char *query, *loc;
    } cases[] = {
        {&coll_documents, "page=1&page=1", "page"},
        {&coll_documents, "page_size=5&page_size=6", "page_size"},
        {&coll_documents, "q=abc&q=abc", "q"},
        {&coll_documents, "q=abc&status_in=queued&q=def", "q"},
        {&coll_documents, "include_deleted=true&include_deleted=true", "include_deleted"},
        {&coll_documents, "uploaded_by_user_id=0190c0de-89ab-7cde-8f01-23456789abcd"
                          "&uploaded_by_user_id=0190c0de-89ab-7cde-8f01-23456789abcd",
         "uploaded_by_user_id"},
        {&coll_documents, "created_at_from=2025-01-01&created_at_from=2025-01-02", "created_at_from"},
        {&coll_documents, "last_run_at_is_null=true&last_run_at_is_null=false", "last_run_at_is_null"},
        {&coll_configs, "slug=a&slug=b", "slug"},
        {&coll_configs, "title=a&title=b", "title"},
        {&coll_users, "is_active=true&is_active=false", "is_active"},
        {&coll_jobs, "trace_id=a&trace_id=a", "trace_id"},
        {&coll_workspaces, "q=ab&q=", "q"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_err(cases[i].c, cases[i].query, cases[i].loc, "multiple_values");
}

/* ---- lists ------------------------------------------------------------ */

static void in_lists(void **state)
{
    struct run r;
    ok(&r, &coll_documents, "status_in=queued,failed");
    const struct lq_cond *c = cond_of(&r.q, "status_in");
    assert_non_null(c);
    assert_int_equal(c->filter->op, OP_IN);
    assert_int_equal(c->count, 2);
    assert_text_val(&r.q, c->first, "queued");
    assert_text_val(&r.q, c->first + 1, "failed");
    run_done(&r);

    ok(&r, &coll_documents, "status_in=queued&page=2&status_in=failed,processed");
    c = cond_of(&r.q, "status_in");
    assert_int_equal(r.q.nconds, 1);
    assert_int_equal(c->count, 3);
    assert_text_val(&r.q, c->first + 0, "queued");
    assert_text_val(&r.q, c->first + 1, "failed");
    assert_text_val(&r.q, c->first + 2, "processed");
    run_done(&r);

    ok(&r, &coll_documents, "status_in=queued,,failed");
    c = cond_of(&r.q, "status_in");
    assert_int_equal(c->count, 2);
    run_done(&r);

    ok(&r, &coll_documents, "status_in=,queued,");
    c = cond_of(&r.q, "status_in");
    assert_int_equal(c->count, 1);
    assert_text_val(&r.q, c->first, "queued");
    run_done(&r);

    ok(&r, &coll_documents, "status_in=+queued+,%20failed");
    c = cond_of(&r.q, "status_in");
    assert_int_equal(c->count, 2);
    assert_text_val(&r.q, c->first, "queued");
    assert_text_val(&r.q, c->first + 1, "failed");
    run_done(&r);

    /* two lists interleaved: each one's values are contiguous */
    ok(&r, &coll_documents, "source_in=api&status_in=uploaded&source_in=email,import&status_in=processing");
    assert_int_equal(r.q.nconds, 2);
    assert_int_equal(r.q.nvals, 5);
    c = cond_of(&r.q, "source_in");
    assert_int_equal(c->count, 3);
    assert_text_val(&r.q, c->first, "api");
    assert_text_val(&r.q, c->first + 1, "email");
    assert_text_val(&r.q, c->first + 2, "import");
    c = cond_of(&r.q, "status_in");
    assert_int_equal(c->count, 2);
    assert_text_val(&r.q, c->first, "uploaded");
    assert_text_val(&r.q, c->first + 1, "processing");
    run_done(&r);

    ok(&r, &coll_jobs, "status_in=queued,running,succeeded,failed,cancelled");
    assert_int_equal(cond_of(&r.q, "status_in")->count, 5);
    run_done(&r);

    expect_err(&coll_documents, "status_in=,,", "status_in", "missing");
    expect_err(&coll_documents, "status_in=", "status_in", "missing");
    expect_err(&coll_documents, "status_in", "status_in", "missing");
    expect_err(&coll_documents, "status_in=+,%20,", "status_in", "missing");
    expect_err(&coll_documents, "status_in=queued,bogus", "status_in", "enum");
    expect_err(&coll_documents, "status_in=Queued", "status_in", "enum"); /* enum values are exact */
    expect_err(&coll_documents, "status_in=cancelled", "status_in", "enum"); /* a job status */
    expect_err(&coll_documents, "source_in=web", "source_in", "enum");
    expect_err(&coll_jobs, "status_in=processed", "status_in", "enum");

    run_query(&r, &coll_documents, "status_in=nope");
    assert_string_equal(r.e.list[0].msg, "Input should be 'uploaded', 'queued', 'processing', 'processed' or 'failed'");
    run_done(&r);
    run_query(&r, &coll_documents, "source_in=nope");
    assert_string_equal(r.e.list[0].msg, "Input should be 'upload', 'email', 'api' or 'import'");
    run_done(&r);
}

static void in_list_limits(void **state)
{
    struct run r;
    char *items = rep("queued,", LQ_MAX_VALUES);
    char *s = fmt("status_in=%s", items);
    ok(&r, &coll_documents, s);
    assert_int_equal(r.q.nvals, LQ_MAX_VALUES);
    assert_int_equal(cond_of(&r.q, "status_in")->count, LQ_MAX_VALUES);
    run_done(&r);
    free(s);
    s = fmt("status_in=%squeued", items);
    expect_err(&coll_documents, s, "status_in", "too_long");
    free(s);
    /* the limit is over all lists of the request */
    char *half = rep("api,", 50);
    char *half2 = rep("queued,", 50);
    s = fmt("status_in=%s&source_in=%s", items, "api");
    expect_err(&coll_documents, s, "source_in", "too_long");
    free(s);
    s = fmt("source_in=%s&status_in=%s", half, half2);
    ok(&r, &coll_documents, s);
    assert_int_equal(r.q.nvals, 100);
    run_done(&r);
    free(s);
    free(items);
    free(half);
    free(half2);
}

/* A full list followed by one more value of another kind: must be a 422,
 * never a write past vals[] (found by review; see the report). */
static void values_limit_with_scalars(void **state)
{
    char *items = rep("queued,", LQ_MAX_VALUES);
    char *tags = rep("t,", LQ_MAX_VALUES);
    static const char *const tails[] = {"q=abc", "last_run_at_is_null=true", "created_at_from=2025-01-01",
                                        "uploaded_by_user_id=0190c0de-89ab-7cde-8f01-23456789abcd"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        char *s = fmt("status_in=%s&%s", items, tails[i]);
        struct run r;
        run_query(&r, &coll_documents, s);
        assert_int_equal(r.rc, -1);
        assert_string_equal(r.e.list[0].type, "too_long");
        run_done(&r);
        free(s);
        s = fmt("tag_in=%s&%s", tags, tails[i]);
        run_query(&r, &coll_documents, s);
        assert_int_equal(r.rc, -1);
        assert_string_equal(r.e.list[0].type, "too_long");
        run_done(&r);
        free(s);
    }
    /* include_deleted takes no value slot: still fine with a full list */
    char *s = fmt("status_in=%s&include_deleted=true", items);
    struct run r;
    ok(&r, &coll_documents, s);
    assert_true(r.q.include_deleted);
    run_done(&r);
    free(s);
    /* 99 list values + one scalar fit exactly */
    char *items99 = rep("queued,", LQ_MAX_VALUES - 1);
    s = fmt("status_in=%s&q=abc", items99);
    ok(&r, &coll_documents, s);
    assert_int_equal(r.q.nvals, LQ_MAX_VALUES);
    run_done(&r);
    free(s);
    free(items99);
    free(items);
    free(tags);
}

static void tag_lists(void **state)
{
    struct run r;
    ok(&r, &coll_documents, "tag_in=a,B,a%20b&tag_in=,%C3%A9,");
    const struct lq_cond *c = cond_of(&r.q, "tag_in");
    assert_int_equal(c->filter->op, OP_TAG_IN);
    assert_int_equal(c->count, 4);
    assert_text_val(&r.q, c->first, "a");
    assert_text_val(&r.q, c->first + 1, "B");
    assert_text_val(&r.q, c->first + 2, "a b");
    assert_text_val(&r.q, c->first + 3, "\xC3\xA9");
    run_done(&r);

    char *t = rep("x", 64);
    char *s = fmt("tag_in=%s", t);
    ok(&r, &coll_documents, s);
    run_done(&r);
    free(s), free(t);
    t = rep("x", 65);
    s = fmt("tag_in=%s", t);
    expect_err(&coll_documents, s, "tag_in", "string_too_long");
    free(s), free(t);
    t = rep("%C3%A9", 64); /* 64 characters, 128 bytes */
    s = fmt("tag_in=%s", t);
    ok(&r, &coll_documents, s);
    assert_int_equal(r.q.vals[0].len, 128);
    run_done(&r);
    free(s), free(t);
    t = rep("%C3%A9", 65);
    s = fmt("tag_in=%s", t);
    expect_err(&coll_documents, s, "tag_in", "string_too_long");
    free(s), free(t);

    expect_err(&coll_documents, "tag_in=%FF", "tag_in", "string_type");
    expect_err(&coll_documents, "tag_in=a,%C0%80", "tag_in", "string_type");
    expect_err(&coll_documents, "tag_in=,,", "tag_in", "missing");
    expect_err(&coll_documents, "tag_in=", "tag_in", "missing");
    expect_err(&coll_configs, "tag_in=a", "tag_in", "extra_forbidden");
}

/* ---- empty values ----------------------------------------------------- */

static void empty_values_rejected(void **state)
{
    /* Every parameter of every collection but sort: "p=" is a 422 at p. */
    for (size_t i = 0; collections[i]; i++) {
        const struct collection *c = collections[i];
        static const char *const common[] = {"page", "page_size", "include_total"};
        for (size_t k = 0; k < 3; k++) {
            char *s = fmt("%s=", common[k]);
            struct run r;
            run_query(&r, c, s);
            assert_int_equal(r.rc, -1);
            assert_string_equal(r.e.list[0].loc, common[k]);
            run_done(&r);
            free(s);
        }
        for (size_t k = 0; k < c->nfilters; k++) {
            const char *p = c->filters[k].param;
            char *s = fmt("%s=", p);
            struct run r;
            run_query(&r, c, s);
            if (r.rc != -1) fprintf(stderr, "%s: '%s' accepted\n", c->name, s);
            assert_int_equal(r.rc, -1);
            assert_string_equal(r.e.list[0].loc, p);
            assert_false(r.e.list[0].as_string);
            run_done(&r);
            free(s);
            s = fmt("%s", p); /* no '=' at all */
            run_query(&r, c, s);
            assert_int_equal(r.rc, -1);
            assert_string_equal(r.e.list[0].loc, p);
            run_done(&r);
            free(s);
        }
        struct run r;
        ok(&r, c, "sort=");
        run_done(&r);
    }
}

/* ---- text search ------------------------------------------------------ */

static void search_q(void **state)
{
    struct run r;
    ok(&r, &coll_documents, "q=ab");
    const struct lq_cond *c = cond_of(&r.q, "q");
    assert_int_equal(c->filter->op, OP_SEARCH);
    assert_int_equal(c->count, 1);
    assert_text_val(&r.q, c->first, "%ab%");
    run_done(&r);

    ok(&r, &coll_documents, "q=+%20Report%20Q1+");
    assert_text_val(&r.q, 0, "%report q1%");
    run_done(&r);

    ok(&r, &coll_documents, "q=50%25_Off%5C"); /* "50%_Off\" */
    assert_text_val(&r.q, 0, "%50\\%\\_off\\\\%");
    run_done(&r);

    ok(&r, &coll_workspaces, "q=%25%25");
    assert_text_val(&r.q, 0, "%\\%\\%%");
    run_done(&r);

    ok(&r, &coll_users, "q=%C3%89t%C3%89"); /* only ASCII is folded */
    assert_text_val(&r.q, 0, "%\xC3\x89t\xC3\x89%");
    run_done(&r);

    ok(&r, &coll_users, "q=a%09b"); /* inner white space kept */
    assert_text_val(&r.q, 0, "%a\tb%");
    run_done(&r);

    expect_err(&coll_documents, "q=a", "q", "string_too_short");
    expect_err(&coll_documents, "q=+a+", "q", "string_too_short");
    expect_err(&coll_documents, "q=%20%20%20", "q", "string_too_short");
    expect_err(&coll_documents, "q=%C3%A9", "q", "string_too_short"); /* one character, two bytes */
    expect_err(&coll_documents, "q=", "q", "missing");
    expect_err(&coll_documents, "q=%FF%FE", "q", "string_type");
    expect_err(&coll_documents, "q=a%ED%A0%80", "q", "string_type");

    /* 2..128 characters, counted as code points, after trimming */
    char *t = rep("%C3%A9", 128);
    char *s = fmt("q=%%20%s%%20", t);
    ok(&r, &coll_users, s);
    assert_int_equal(r.q.vals[0].len, 256 + 2);
    run_done(&r);
    free(s), free(t);
    t = rep("%C3%A9", 129);
    s = fmt("q=%s", t);
    expect_err(&coll_users, s, "q", "string_too_long");
    free(s), free(t);
    t = rep("A", 128);
    s = fmt("q=%s", t);
    ok(&r, &coll_workspaces, s);
    assert_int_equal(r.q.vals[0].len, 130);
    assert_int_equal(r.q.vals[0].s[1], 'a');
    assert_int_equal(r.q.vals[0].s[128], 'a');
    run_done(&r);
    free(s), free(t);
    t = rep("A", 129);
    s = fmt("q=%s", t);
    expect_err(&coll_workspaces, s, "q", "string_too_long");
    free(s), free(t);
    /* all 128 characters being special doubles the pattern: still fits */
    t = rep("%25", 128);
    s = fmt("q=%s", t);
    ok(&r, &coll_documents, s);
    assert_int_equal(r.q.vals[0].len, 2 * 128 + 2);
    run_done(&r);
    free(s), free(t);

    run_query(&r, &coll_documents, "q=a");
    assert_string_equal(r.e.list[0].msg, "String should have at least 2 characters after trimming");
    run_done(&r);
}

static void title_contains(void **state)
{
    struct run r;
    ok(&r, &coll_configs, "title=A");
    const struct lq_cond *c = cond_of(&r.q, "title");
    assert_int_equal(c->filter->op, OP_CONTAINS);
    assert_text_val(&r.q, c->first, "%a%");
    run_done(&r);
    ok(&r, &coll_configs, "title=%20My_Title%20");
    assert_text_val(&r.q, 0, "%my\\_title%");
    run_done(&r);
    char *t = rep("T", 128);
    char *s = fmt("title=%s", t);
    ok(&r, &coll_configs, s);
    run_done(&r);
    free(s), free(t);
    t = rep("T", 129);
    s = fmt("title=%s", t);
    expect_err(&coll_configs, s, "title", "string_too_long");
    free(s), free(t);
    expect_err(&coll_configs, "title=+", "title", "string_too_short");
    expect_err(&coll_configs, "title=", "title", "missing");
    expect_err(&coll_configs, "title=%FF", "title", "string_type");
}

/* ---- typed scalar filters -------------------------------------------- */

static void slug_filter(void **state)
{
    static const char *const good[] = {"a", "0", "abc", "a-b-1", "abc-", "0-0", "a--b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *s = fmt("slug=%s", good[i]);
        struct run r;
        ok(&r, &coll_configs, s);
        assert_text_val(&r.q, 0, good[i]);
        run_done(&r);
        free(s);
    }
    char *t = rep("a", 64);
    char *s = fmt("slug=%s", t);
    struct run r;
    ok(&r, &coll_configs, s);
    run_done(&r);
    free(s), free(t);
    t = rep("a", 65);
    s = fmt("slug=%s", t);
    expect_err(&coll_configs, s, "slug", "string_pattern_mismatch");
    free(s), free(t);
    static const char *const bad[] = {"-a", "A", "aB", "a_b", "a+b", "a.b", "%C3%A9", "a%2Fb", "%20a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = fmt("slug=%s", bad[i]);
        expect_err(&coll_configs, s, "slug", "string_pattern_mismatch");
        free(s);
    }
    assert_true(type_valid_slug("a", 1));
    assert_true(type_valid_slug("a-", 2));
    assert_false(type_valid_slug("", 0));
    assert_false(type_valid_slug("-", 1));
    assert_true(type_valid_slug("a_", 1)); /* only n bytes are looked at */
    assert_false(type_valid_slug("a_", 2));
}

static void uuid_filters(void **state)
{
    static const struct {
        const struct collection *c;
        const char *param;
    } cases[] = {
        {&coll_documents, "uploaded_by_user_id"}, {&coll_jobs, "config_id"},
        {&coll_jobs, "submitted_by_user_id"},     {&coll_jobs, "retry_of_job_id"},
        {&coll_configs, "created_by_user_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = fmt("%s=0190C0DE-89AB-7CDE-8F01-23456789ABCD", cases[i].param);
        struct run r;
        ok(&r, cases[i].c, s);
        const struct lq_cond *c = cond_of(&r.q, cases[i].param);
        assert_non_null(c);
        assert_int_equal(c->filter->op, OP_EQ);
        assert_int_equal(c->count, 1);
        assert_text_val(&r.q, c->first, "0190c0de-89ab-7cde-8f01-23456789abcd");
        assert_int_equal(r.q.vals[c->first].s[36], '\0');
        run_done(&r);
        free(s);
        static const char *const bad[] = {"not-a-uuid", "0190c0de-89ab-7cde-8f01-23456789abc",
                                          "0190c0de89ab7cde8f0123456789abcd",
                                          "+0190c0de-89ab-7cde-8f01-23456789abcd",
                                          "0190c0de-89ab-7cde-8f01-23456789abcg"};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            s = fmt("%s=%s", cases[i].param, bad[k]);
            expect_err(cases[i].c, s, cases[i].param, "uuid_parsing");
            free(s);
        }
    }
}

static void time_filters(void **state)
{
    static const struct {
        const char *in;
        int64_t us;
    } good[] = {
        {"2025-03-01T09:30:00Z", 1740821400000000},
        {"2025-03-01T11:30:00%2B02:00", 1740821400000000},
        {"2025-03-01T11:30:00+02:00", 1740821400000000}, /* '+' unescaped: a space, read as '+' */
        {"2025-03-01T09:30:00-05:30", 1740841200000000},
        {"2025-03-01T09:30:00", 1740821400000000},
        {"2025-03-01%2009:30:00", 1740821400000000},
        {"2025-03-01", 1740787200000000},
        {"2025-03-01T09:30:00.123456789Z", 1740821400123456},
        {"1969-12-31T23:59:59.999999Z", -1},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *s = fmt("created_at_from=%s&created_at_to=%s", good[i].in, good[i].in);
        struct run r;
        ok(&r, &coll_documents, s);
        const struct lq_cond *from = cond_of(&r.q, "created_at_from");
        const struct lq_cond *to = cond_of(&r.q, "created_at_to");
        assert_int_equal(from->filter->op, OP_FROM);
        assert_int_equal(to->filter->op, OP_TO);
        assert_int_equal(r.q.vals[from->first].i, good[i].us);
        assert_int_equal(r.q.vals[to->first].i, good[i].us);
        run_done(&r);
        free(s);
    }
    static const char *const bad[] = {"2025-02-30", "2025-13-01", "garbage", "2025-03-01T11:30:00++02:00",
                                      "2025-03-01T25:00", "1741000000", "2025-03-01T09:30:00.Z", "0000-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *s = fmt("created_at_to=%s", bad[i]);
        expect_err(&coll_jobs, s, "created_at_to", "datetime_parsing");
        free(s);
    }
    struct run r;
    ok(&r, &coll_users, "last_login_from=2025-01-01&last_login_to=2025-02-01");
    assert_int_equal(r.q.nconds, 2);
    assert_string_equal(r.q.conds[0].filter->column, "last_login_at");
    assert_string_equal(r.q.conds[1].filter->column, "last_login_at");
    run_done(&r);
    ok(&r, &coll_documents, "last_run_from=2025-01-01&last_run_to=2025-02-01");
    assert_string_equal(r.q.conds[0].filter->column, "last_run_at");
    run_done(&r);
    expect_err(&coll_users, "last_login_from=x", "last_login_from", "datetime_parsing");
    expect_err(&coll_configs, "created_at_from=2023-02-29", "created_at_from", "datetime_parsing");
}

static void is_null_filters(void **state)
{
    static const struct {
        const struct collection *c;
        const char *param, *column;
    } have[] = {
        {&coll_documents, "last_run_at_is_null", "last_run_at"},
        {&coll_jobs, "started_at_is_null", "started_at"},
        {&coll_jobs, "completed_at_is_null", "completed_at"},
        {&coll_jobs, "trace_id_is_null", "trace_id"},
        {&coll_jobs, "config_version_id_is_null", "config_version_id"},
        {&coll_jobs, "retry_of_job_id_is_null", "retry_of_job_id"},
        {&coll_users, "display_name_is_null", "display_name"},
        {&coll_users, "last_login_at_is_null", "last_login_at"},
    };
    for (size_t i = 0; i < sizeof have / sizeof have[0]; i++) {
        char *s = fmt("%s=TRUE", have[i].param);
        struct run r;
        ok(&r, have[i].c, s);
        const struct lq_cond *c = cond_of(&r.q, have[i].param);
        assert_non_null(c);
        assert_int_equal(c->filter->op, OP_IS_NULL);
        assert_string_equal(c->filter->column, have[i].column);
        assert_int_equal(c->count, 1);
        assert_int_equal(r.q.vals[c->first].i, 1);
        run_done(&r);
        free(s);
        s = fmt("%s=off", have[i].param);
        ok(&r, have[i].c, s);
        assert_int_equal(r.q.vals[0].i, 0);
        run_done(&r);
        free(s);
        s = fmt("%s=null", have[i].param);
        expect_err(have[i].c, s, have[i].param, "bool_parsing");
        free(s);
    }
    /* exactly these: every nullable field but deleted_at, nothing else */
    for (size_t i = 0; collections[i]; i++) {
        const struct collection *c = collections[i];
        int n = 0;
        for (size_t k = 0; k < c->nfilters; k++) {
            if (c->filters[k].op != OP_IS_NULL) continue;
            n++;
            assert_true(strcmp(c->filters[k].param, "deleted_at_is_null") != 0);
            bool listed = false;
            for (size_t j = 0; j < sizeof have / sizeof have[0]; j++)
                listed |= have[j].c == c && strcmp(have[j].param, c->filters[k].param) == 0;
            if (!listed) fprintf(stderr, "unexpected %s.%s\n", c->name, c->filters[k].param);
            assert_true(listed);
        }
        int want = 0;
        for (size_t j = 0; j < sizeof have / sizeof have[0]; j++) want += have[j].c == c;
        assert_int_equal(n, want);
    }
    expect_err(&coll_workspaces, "name_is_null=true", "name_is_null", "extra_forbidden");
    expect_err(&coll_documents, "byte_size_is_null=true", "byte_size_is_null", "extra_forbidden");
}

static void include_deleted_flag(void **state)
{
    struct run r;
    ok(&r, &coll_documents, "include_deleted=true");
    assert_true(r.q.include_deleted);
    assert_int_equal(r.q.nvals, 0);
    run_done(&r);
    ok(&r, &coll_configs, "include_deleted=Yes");
    assert_true(r.q.include_deleted);
    run_done(&r);
    ok(&r, &coll_configs, "include_deleted=0");
    assert_false(r.q.include_deleted);
    run_done(&r);
    expect_err(&coll_documents, "include_deleted=deleted", "include_deleted", "bool_parsing");
    expect_err(&coll_documents, "include_deleted=", "include_deleted", "missing");
    expect_err(&coll_users, "include_deleted=true", "include_deleted", "extra_forbidden");
}

static void bool_and_text_filters(void **state)
{
    struct run r;
    ok(&r, &coll_users, "is_active=false&is_service_account=1");
    assert_int_equal(r.q.nconds, 2);
    assert_int_equal(r.q.vals[r.q.conds[0].first].i, 0);
    assert_int_equal(r.q.vals[r.q.conds[1].first].i, 1);
    run_done(&r);
    expect_err(&coll_users, "is_active=2", "is_active", "bool_parsing");

    ok(&r, &coll_jobs, "trace_id=%20Abc%20&config_version_id=v1");
    /* equality text is exact: not trimmed, not folded */
    assert_text_val(&r.q, r.q.conds[0].first, " Abc ");
    assert_text_val(&r.q, r.q.conds[1].first, "v1");
    run_done(&r);
    char *t = rep("%E2%82%AC", 128);
    char *s = fmt("trace_id=%s", t);
    ok(&r, &coll_jobs, s);
    run_done(&r);
    free(s), free(t);
    t = rep("x", 129);
    s = fmt("config_version_id=%s", t);
    expect_err(&coll_jobs, s, "config_version_id", "string_too_long");
    free(s), free(t);
    expect_err(&coll_jobs, "trace_id=%FF", "trace_id", "string_type");
}

static void many_filters_together(void **state)
{
    struct run r;
    ok(&r, &coll_jobs,
       "page=3&page_size=10&include_total=on&sort=-queued_at&status_in=queued,running"
       "&config_id=0190c0de-89ab-7cde-8f01-23456789abcd&trace_id=t1&created_at_from=2025-01-01"
       "&created_at_to=2025-02-01&started_at_is_null=false&retry_of_job_id_is_null=true");
    assert_int_equal(r.q.page, 3);
    assert_int_equal(r.q.page_size, 10);
    assert_true(r.q.include_total);
    assert_int_equal(r.q.nconds, 7);
    assert_int_equal(r.q.nvals, 8);
    /* conditions keep the order of first appearance */
    static const char *const order[] = {"status_in", "config_id", "trace_id", "created_at_from", "created_at_to",
                                        "started_at_is_null", "retry_of_job_id_is_null"};
    int next = 0;
    for (int i = 0; i < 7; i++) {
        assert_string_equal(r.q.conds[i].filter->param, order[i]);
        assert_int_equal(r.q.conds[i].first, next);
        next += r.q.conds[i].count;
    }
    assert_int_equal(next, r.q.nvals);
    assert_sort(&r.q, 0, "queued_at", "queued_at", true);
    assert_sort(&r.q, 1, "id", "job_id", true);
    run_done(&r);
}

static const char *fmt_static(const char *f, const char *arg)
{
    static char out[512];
    snprintf(out, sizeof out, f, arg);
    return out;
}

/* Expects exactly these issues, in this order: "loc/type" strings. */
static void expect_issues(const struct collection *c, const char *query, const char *const *want, int n)
{
    struct run r;
    run_query(&r, c, query);
    assert_int_equal(r.rc, -1);
    if (r.e.n != n)
        for (int k = 0; k < r.e.n; k++) fprintf(stderr, "  %s/%s: %s\n", r.e.list[k].loc, r.e.list[k].type, r.e.list[k].msg);
    assert_int_equal(r.e.n, n);
    for (int k = 0; k < n; k++) {
        char got[160];
        snprintf(got, sizeof got, "%s/%s", r.e.list[k].loc, r.e.list[k].type);
        assert_string_equal(got, want[k]);
        assert_true(r.e.list[k].msg[0] != '\0');
    }
    assert_false(r.e.truncated);
    run_done(&r);
}

/* Issue 10 point 4: every problem of the query at once, in the order of
 * the parameters. */
static void every_error_listed(void **state)
{
    (void)state;
    static const char *const three[] = {"page_size/greater_than_equal", "status_in/enum", "sort/value_error"};
    expect_issues(&coll_documents, "page_size=0&status_in=bogus&sort=nope", three, 3);
    /* the order is the parameters', whatever pass finds them */
    static const char *const rev[] = {"sort/value_error", "status_in/enum", "page_size/greater_than_equal"};
    expect_issues(&coll_documents, "sort=nope&status_in=bogus&page_size=0", rev, 3);
    /* the sort issue keeps its message (and is a string detail only alone) */
    struct run r;
    run_query(&r, &coll_documents, "sort=nope&page=0");
    assert_int_equal(r.e.n, 2);
    assert_true(r.e.list[0].as_string);
    assert_string_equal(r.e.list[0].msg, fmt_static("Unsupported sort field 'nope'. Allowed: %s",
                                                    coll_documents.allowed_sorts));
    assert_false(r.e.list[1].as_string);
    run_done(&r);
    static const char *const mixed[] = {"foo/extra_forbidden", "page/int_parsing",     "q/string_too_short",
                                        "page_size/missing",    "source_in/enum",       "page/multiple_values",
                                        "created_at_from/datetime_parsing", "bar/extra_forbidden"};
    expect_issues(&coll_documents,
                  "foo=1&page=x&q=a&page_size=&source_in=api,nope,worse&page=2&created_at_from=soon&bar=2", mixed, 8);
    /* one issue per pair: a list's first bad item; a repeated scalar filter once */
    static const char *const per_pair[] = {"status_in/enum", "status_in/enum", "q/multiple_values"};
    expect_issues(&coll_documents, "status_in=a,b&q=abc&status_in=queued,c&q=x", per_pair, 3);
    /* a list with no item left, beside other problems */
    static const char *const empty[] = {"status_in/missing", "source_in/enum", "include_total/bool_parsing"};
    expect_issues(&coll_documents, "status_in=,,&source_in=x&include_total=perhaps", empty, 3);
    /* cursor and page together: at the cursor's place */
    static const char *const cur[] = {"page_size/less_than_equal", "cursor/value_error", "q/string_too_short"};
    expect_issues(&coll_documents, "page_size=101&cursor=abc&page=2&q=%20", cur, 3);
    /* the same on a v1 collection (limit) and a users list */
    static const char *const v1[] = {"limit/less_than_equal", "nope/extra_forbidden"};
    expect_issues(&coll_test_sessions, "limit=500&nope=1", v1, 2);
    static const char *const users[] = {"is_active/bool_parsing", "last_login_from/datetime_parsing"};
    expect_issues(&coll_users, "is_active=maybe&last_login_from=soon", users, 2);
}

/* At most LQ_MAX_ERRORS issues: the first ones by position. */
static void errors_bounded(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 60; i++) {
        if (i) buf_putc(&b, '&');
        if (i == 0) buf_puts(&b, "page=0");
        else {
            char k[16];
            snprintf(k, sizeof k, "x%02d=1", i);
            buf_puts(&b, k);
        }
    }
    buf_puts(&b, "&sort=nope"); /* past the bound: dropped */
    struct run r;
    run_query(&r, &coll_documents, b.data);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.e.n, LQ_MAX_ERRORS);
    assert_true(r.e.truncated);
    assert_string_equal(r.e.list[0].loc, "page");
    for (int k = 1; k < LQ_MAX_ERRORS; k++) {
        char want[16];
        snprintf(want, sizeof want, "x%02d", k);
        assert_string_equal(r.e.list[k].loc, want);
        assert_true(strlen(r.e.list[k].msg) < sizeof r.e.list[k].msg);
    }
    run_done(&r);
    buf_free(&b);
}

/* The filter value slots spent stops the scan: later values are not read. */
static void values_limit_stops_scan(void **state)
{
    (void)state;
    char *items = rep("queued,", LQ_MAX_VALUES + 1);
    char *s = fmt("page=0&status_in=%s&source_in=bogus", items);
    static const char *const want[] = {"page/greater_than_equal", "status_in/too_long"};
    expect_issues(&coll_documents, s, want, 2);
    free(s);
    free(items);
}

/* The change feed's parameters: every problem, a missing since last. */
static void feed_errors(void **state)
{
    (void)state;
    struct url u;
    struct feed_query fq;
    struct lq_error e;
    assert_int_equal(url_parse("/x?limit=0&foo=1&limit=2", 24, &u), URL_OK);
    assert_int_equal(lq_parse_feed(u.pairs, u.npairs, &fq, &e), -1);
    assert_int_equal(e.n, 4);
    assert_string_equal(e.list[0].loc, "limit");
    assert_string_equal(e.list[0].type, "greater_than_equal");
    assert_string_equal(e.list[1].loc, "foo");
    assert_string_equal(e.list[2].type, "multiple_values");
    assert_string_equal(e.list[3].loc, "since");
    assert_string_equal(e.list[3].type, "missing");
    url_free(&u);
    assert_int_equal(url_parse("/x?since=abc&limit=7", 20, &u), URL_OK);
    assert_int_equal(lq_parse_feed(u.pairs, u.npairs, &fq, &e), 0);
    assert_int_equal(e.n, 0);
    assert_int_equal(fq.limit, 7);
    url_free(&u);
}

int test_query_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_every_collection),
        cmocka_unit_test(page_bounds),
        cmocka_unit_test(include_total_spellings),
        cmocka_unit_test(sort_forms),
        cmocka_unit_test(sort_empty_is_default),
        cmocka_unit_test(sort_errors),
        cmocka_unit_test(unknown_keys),
        cmocka_unit_test(scalar_repeated),
        cmocka_unit_test(in_lists),
        cmocka_unit_test(in_list_limits),
        cmocka_unit_test(values_limit_with_scalars),
        cmocka_unit_test(tag_lists),
        cmocka_unit_test(empty_values_rejected),
        cmocka_unit_test(search_q),
        cmocka_unit_test(title_contains),
        cmocka_unit_test(slug_filter),
        cmocka_unit_test(uuid_filters),
        cmocka_unit_test(time_filters),
        cmocka_unit_test(is_null_filters),
        cmocka_unit_test(include_deleted_flag),
        cmocka_unit_test(bool_and_text_filters),
        cmocka_unit_test(many_filters_together),
        cmocka_unit_test(every_error_listed),
        cmocka_unit_test(errors_bounded),
        cmocka_unit_test(values_limit_stops_scan),
        cmocka_unit_test(feed_errors),
    };
    return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
