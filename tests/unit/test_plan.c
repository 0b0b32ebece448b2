/*
 * test_plan — the planner's exact SQL for both dialects, and its bound
 * parameters, with no database: two test dialects shaped like the SQLite and
 * PostgreSQL backends' are defined here.
 *
 * The column list is taken from the collection table (c->select_list) so
 * these tests pin the planner's shape, not the list of columns.
 */
#include "tests.h"

#include "grammar/plan.h"
#include "grammar/query.h"
#include "model/collection.h"
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

static const struct dialect lite = {
    .name = "sqlite", .param_prefix = '?', .ci_like_fmt = "%s LIKE %c%d ESCAPE '\\'", .for_update = "", .pos_sql = "(SELECT value FROM firemode_counters WHERE name = 'write_seq')", .no_index = "+",
    .keys_in_open = " IN (", .keys_in_close = ")", .keys_first_offset = 1500,
    .keys_column = "rowid"};
static const struct dialect pg = {.name = "postgresql",
                                  .param_prefix = '$',
                                  .ci_like_fmt = "lower(%s) LIKE %c%d",
                                  .for_update = " FOR NO KEY UPDATE", .pos_sql = "pg_current_snapshot()::text", .snapshot_pos = true,
                                  .keys_in_open = " = ANY (ARRAY(", .keys_in_close = "))", .keys_first_offset = 200};

#define WS "0190c0de-0000-7000-8000-00000000aaaa"
#define ME "0190c0de-0000-7000-8000-00000000bbbb"

static const struct plan_scope member = {WS, ME, false, NULL};
static const struct plan_scope admin = {WS, ME, true, NULL};

struct planned {
    struct url u;
    struct list_query q;
    struct plan p;
};

static void plan_query(struct planned *x, const struct collection *c, const char *query, const struct dialect *d,
                       const struct plan_scope *sc)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "/x?");
    buf_puts(&b, query);
    assert_int_equal(url_parse(b.data, b.len, &x->u), URL_OK);
    buf_free(&b);
    struct lq_error e;
    int rc = lq_parse(c, x->u.pairs, x->u.npairs, &x->q, &e);
    if (rc) fprintf(stderr, "%s?%s: %s %s\n", c->name, query, e.list[0].loc, e.list[0].msg);
    assert_int_equal(rc, 0);
    assert_int_equal(plan_list(&x->q, d, sc, NULL, &x->p), 0);
}

static void planned_free(struct planned *x)
{
    plan_free(&x->p);
    plan_free(&x->p);
    lq_free(&x->q);
    url_free(&x->u);
}

/* "SELECT <c's columns> FROM " + rest */
static char *select_of(const struct collection *c, const char *rest)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "SELECT %s FROM %s", c->select_list, rest);
    return buf_steal(&b, NULL);
}

static void assert_sql(const struct plan *p, const struct collection *c, const char *rest)
{
    char *want = select_of(c, rest);
    if (strcmp(p->sql.data, want) != 0) fprintf(stderr, "got:  %s\nwant: %s\n", p->sql.data, want);
    assert_string_equal(p->sql.data, want);
    assert_int_equal(p->sql.len, strlen(want));
    free(want);
}

static void assert_count_sql(const struct plan *p, const char *want)
{
    if (!want) {
        assert_int_equal(p->count_sql.len, 0);
        return;
    }
    assert_non_null(p->count_sql.data);
    if (strcmp(p->count_sql.data, want) != 0) fprintf(stderr, "got:  %s\nwant: %s\n", p->count_sql.data, want);
    assert_string_equal(p->count_sql.data, want);
}

static void assert_text_param(const struct plan *p, int i, const char *want)
{
    assert_true(i < p->ps.n);
    assert_int_equal(p->ps.p[i].type, SP_TEXT);
    assert_int_equal(p->ps.p[i].len, strlen(want));
    assert_memory_equal(p->ps.p[i].s, want, strlen(want));
}

static void assert_int_param(const struct plan *p, int i, enum store_ptype type, int64_t want)
{
    assert_true(i < p->ps.n);
    assert_int_equal(p->ps.p[i].type, type);
    assert_int_equal(p->ps.p[i].i, want);
}

/* ---- documents -------------------------------------------------------- */

/* A non-admin's rows of a workspace: membership is checked in the same
 * query (no round trip of its own), right after the workspace. */
static void workspace_member_scope(void **state)
{
    (void)state;
    struct planned x;
    plan_query(&x, &coll_documents, "include_total=1", &lite, &member);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = ?1 AND EXISTS (SELECT 1 FROM workspace_members m"
               " WHERE m.workspace_id = t.workspace_id AND m.removed_at IS NULL AND m.user_id = ?2) AND t.deleted_at IS NULL"
               " ORDER BY t.created_at DESC, t.document_id DESC LIMIT ?3 OFFSET ?4");
    /* the count names the workspace's parameter: one membership probe for
     * the statement, not one per row counted */
    assert_count_sql(&x.p, "SELECT count(*) FROM documents t WHERE t.workspace_id = ?1"
                           " AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = ?1"
                           " AND m.removed_at IS NULL AND m.user_id = ?2) AND t.deleted_at IS NULL");
    assert_int_equal(x.p.nwhere, 2);
    assert_text_param(&x.p, 0, WS);
    assert_text_param(&x.p, 1, ME);
    planned_free(&x);
}


static void default_documents(void **state)
{
    struct planned x;
    plan_query(&x, &coll_documents, "", &lite, &admin);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL"
               " ORDER BY t.created_at DESC, t.document_id DESC LIMIT ?2 OFFSET ?3");
    assert_count_sql(&x.p, NULL);
    assert_int_equal(x.p.ps.n, 3);
    assert_int_equal(x.p.nwhere, 1);
    assert_int_equal(x.p.limit, 26);
    assert_text_param(&x.p, 0, WS);
    assert_int_param(&x.p, 1, SP_INT, 26);
    assert_int_param(&x.p, 2, SP_INT, 0);
    planned_free(&x);

    plan_query(&x, &coll_documents, "", &pg, &admin); /* admins are still scoped to the path */
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = $1 AND t.deleted_at IS NULL"
               " ORDER BY t.created_at DESC, t.document_id DESC LIMIT $2 OFFSET $3");
    assert_int_equal(x.p.ps.n, 3);
    assert_text_param(&x.p, 0, WS);
    planned_free(&x);
}

static void select_list_shape(void **state)
{
    /* rendered fields only: hidden ones never reach a page query */
    assert_non_null(strstr(coll_documents.select_list, "t.document_id"));
    assert_non_null(strstr(coll_documents.select_list, "t.vclock"));
    assert_null(strstr(coll_documents.select_list, "t.seq"));
    assert_null(strstr(coll_users.select_list, "email_canonical"));
    assert_non_null(strstr(coll_users.select_list, "t.email"));
    assert_true(strncmp(coll_users.select_list, "t.user_id, ", 11) == 0);
}

static void paging_and_total(void **state)
{
    struct planned x;
    plan_query(&x, &coll_documents, "page=3&page_size=10", &lite, &admin);
    assert_int_equal(x.p.limit, 11);
    assert_int_param(&x.p, 1, SP_INT, 11);
    assert_int_param(&x.p, 2, SP_INT, 20);
    assert_count_sql(&x.p, NULL);
    planned_free(&x);

    /* with include_total too: the look-ahead row tells whether a cursor follows */
    plan_query(&x, &coll_documents, "page=3&page_size=10&include_total=true", &lite, &admin);
    assert_int_equal(x.p.limit, 11);
    assert_int_param(&x.p, 1, SP_INT, 11);
    assert_int_param(&x.p, 2, SP_INT, 20);
    assert_int_equal(x.p.nwhere, 1);
    assert_count_sql(&x.p, "SELECT count(*) FROM documents t WHERE t.workspace_id = ?1 AND t.deleted_at IS NULL");
    assert_null(strstr(x.p.count_sql.data, "ORDER BY"));
    assert_null(strstr(x.p.count_sql.data, "LIMIT"));
    planned_free(&x);

    plan_query(&x, &coll_documents, "page=1000000&page_size=100", &pg, &admin);
    assert_int_param(&x.p, 1, SP_INT, 101);
    assert_int_param(&x.p, 2, SP_INT, 99999900);
    planned_free(&x);

    plan_query(&x, &coll_documents, "include_deleted=true&include_total=yes", &pg, &admin);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = $1"
               " ORDER BY t.created_at DESC, t.document_id DESC LIMIT $2 OFFSET $3");
    assert_count_sql(&x.p, "SELECT count(*) FROM documents t WHERE t.workspace_id = $1");
    /* one statement, one round trip, one snapshot: the position and the
     * count as columns of the page's rows */
    {
        struct buf want, empty;
        buf_init(&want);
        buf_init(&empty);
        /* the sort keys are rendered columns: read from them, not selected again */
        buf_printf(&want, "SELECT pg_current_snapshot()::text AS fm_pos, (%s) AS fm_n, %s %s",
                   x.p.count_sql.data, coll_documents.select_list, strstr(x.p.sql.data, "FROM documents t"));
        assert_string_equal(x.p.stmt.data, want.data);
        /* an empty page has no row: its form joins the position to the page */
        buf_reset(&want);
        buf_printf(&want, "WITH m AS (SELECT pg_current_snapshot()::text AS fm_pos, (%s) AS fm_n), p AS (SELECT %s %s)"
                          " SELECT m.*, p.* FROM m LEFT JOIN p ON 1=1 ORDER BY p.created_at DESC, p.document_id DESC",
                   x.p.count_sql.data, coll_documents.select_list, strstr(x.p.sql.data, "FROM documents t"));
        plan_list_empty_form(&x.p, &empty);
        assert_string_equal(empty.data, want.data);
        buf_free(&want);
        buf_free(&empty);
        assert_int_equal(x.p.col_count, 1);
        assert_int_equal(x.p.col_item, 2);
        assert_int_equal(x.p.key_col[0], 2 + x.q.sort[0].key->rendered_col);
        assert_true(x.q.sort[0].key->rendered_col > 0);
        assert_int_equal(x.p.key_col[1], 2 + coll_documents.pk_col);
    }
    planned_free(&x);

    plan_query(&x, &coll_documents, "sort=last_run_at", &lite, &admin);
    assert_int_equal(x.p.count_sql.len, 0); /* no include_total: no count */
    assert_non_null(strstr(x.p.stmt.data, "SELECT (SELECT value FROM firemode_counters WHERE name = "
                                          "'write_seq') AS fm_pos, t.document_id"));
    assert_int_equal(x.p.col_count, -1);
    assert_int_equal(x.p.col_item, 1);
    planned_free(&x);
    plan_query(&x, &coll_documents, "sort=-last_run_at&include_total=1", &lite, &admin);
    assert_non_null(strstr(x.p.stmt.data, " ORDER BY t.last_run_at DESC NULLS LAST, t.document_id DESC"));
    {
        struct buf empty;
        buf_init(&empty);
        plan_list_empty_form(&x.p, &empty);
        assert_non_null(strstr(empty.data, " ORDER BY p.last_run_at DESC NULLS LAST, p.document_id DESC"));
        buf_free(&empty);
    }
    planned_free(&x);
    /* a sort key that is not rendered (users.email_canonical) is still
     * carried, after the rendered columns; the tie-breaker is the id's own */
    plan_query(&x, &coll_users, "sort=email&include_total=1", &pg, &admin);
    assert_non_null(strstr(x.p.stmt.data, ", t.vclock, t.email_canonical AS fm_s0 FROM users t"));
    assert_null(strstr(x.p.stmt.data, "fm_s1"));
    assert_int_equal(x.p.key_col[0], x.p.col_item + coll_users.nrendered);
    assert_int_equal(x.p.key_col[1], x.p.col_item + coll_users.pk_col);
    {
        struct buf empty;
        buf_init(&empty);
        plan_list_empty_form(&x.p, &empty);
        assert_non_null(strstr(empty.data, " ORDER BY p.fm_s0 ASC, p.user_id ASC"));
        buf_free(&empty);
    }
    planned_free(&x);
}

static void nullable_sort(void **state)
{
    struct planned x;
    plan_query(&x, &coll_documents, "sort=last_run_at", &lite, &admin);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL"
               " ORDER BY t.last_run_at ASC NULLS LAST, t.document_id ASC LIMIT ?2 OFFSET ?3");
    planned_free(&x);
    plan_query(&x, &coll_documents, "sort=-last_run_at", &pg, &admin);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = $1 AND t.deleted_at IS NULL"
               " ORDER BY t.last_run_at DESC NULLS LAST, t.document_id DESC LIMIT $2 OFFSET $3");
    planned_free(&x);
    plan_query(&x, &coll_jobs, "sort=-started_at,status,completed_at", &pg, &admin);
    assert_sql(&x.p, &coll_jobs,
               "jobs t WHERE 1=1 AND t.workspace_id = $1"
               " ORDER BY t.started_at DESC NULLS LAST, t.status ASC, t.completed_at ASC NULLS LAST, t.job_id DESC"
               " LIMIT $2 OFFSET $3");
    planned_free(&x);
    plan_query(&x, &coll_users, "sort=display_name,-ID", &lite, &admin);
    assert_sql(&x.p, &coll_users,
               "users t WHERE 1=1 ORDER BY t.display_name ASC NULLS LAST, t.user_id DESC LIMIT ?1 OFFSET ?2");
    planned_free(&x);
    plan_query(&x, &coll_users, "sort=-email", &lite, &admin);
    assert_sql(&x.p, &coll_users, "users t WHERE 1=1 ORDER BY t.email_canonical DESC, t.user_id DESC LIMIT ?1 OFFSET ?2");
    planned_free(&x);
}

static void tag_in_exists(void **state)
{
    struct planned x;
    plan_query(&x, &coll_documents, "tag_in=a,b&tag_in=c", &lite, &admin);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL"
               " AND +t.document_id IN (SELECT x.document_id FROM document_tags x WHERE x.tag IN (?2, ?3, ?4))"
               " ORDER BY t.created_at DESC, t.document_id DESC LIMIT ?5 OFFSET ?6");
    assert_null(strstr(x.p.sql.data, "JOIN"));
    assert_int_equal(x.p.ps.n, 6);
    assert_int_equal(x.p.nwhere, 4);
    assert_text_param(&x.p, 1, "a");
    assert_text_param(&x.p, 2, "b");
    assert_text_param(&x.p, 3, "c");
    planned_free(&x);

    plan_query(&x, &coll_documents, "tag_in=a&include_total=1", &pg, &admin);
    assert_count_sql(&x.p, "SELECT count(*) FROM documents t WHERE t.workspace_id = $1"
                           " AND t.deleted_at IS NULL AND t.document_id IN (SELECT x.document_id FROM document_tags x"
                           " WHERE x.tag IN ($2))");
    assert_non_null(strstr(x.p.sql.data, " AND t.document_id IN (SELECT x.document_id FROM document_tags x"
                                         " WHERE x.tag IN ($2)) ORDER BY"));
    planned_free(&x);

    /* SQLite: the count drives from the tag index, the page probes the set
     * in its own order (no "+" in the count); both share parameter numbers */
    plan_query(&x, &coll_documents, "tag_in=a,b&include_total=1&status_in=failed", &lite, &member);
    assert_count_sql(&x.p, "SELECT count(*) FROM documents t WHERE t.workspace_id = ?1"
                           " AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = ?1"
                           " AND m.removed_at IS NULL AND m.user_id = ?2) AND t.deleted_at IS NULL"
                           " AND t.document_id IN (SELECT x.document_id FROM document_tags x WHERE x.tag IN (?3, ?4))"
                           " AND t.status IN (?5)");
    assert_non_null(strstr(x.p.sql.data, " AND +t.document_id IN (SELECT x.document_id FROM document_tags x"
                                         " WHERE x.tag IN (?3, ?4)) AND t.status IN (?5) ORDER BY"));
    assert_int_equal(x.p.nwhere, 5);
    assert_int_equal(x.p.ps.n, 7);
    planned_free(&x);
}

/* From d->keys_first_offset rows of OFFSET on, a page finds its keys in the
 * sort index first and reads only its own rows; below it, the plain page. */
static void deep_pages_keys_first(void **state)
{
    (void)state;
    struct planned x;
    /* SQLite: offset 1,475 (page 60 of 25) is a plain page, 1,500 keys first */
    plan_query(&x, &coll_users, "page=60", &lite, &admin);
    assert_sql(&x.p, &coll_users, "users t WHERE 1=1 ORDER BY t.created_at DESC, t.user_id DESC LIMIT ?1 OFFSET ?2");
    planned_free(&x);
    plan_query(&x, &coll_users, "page=61&is_active=true", &lite, &admin);
    assert_sql(&x.p, &coll_users,
               "(SELECT 1) fm_one LEFT JOIN users t ON t.rowid IN (SELECT t.rowid FROM users t WHERE 1=1 AND t.is_active = ?1"
               " ORDER BY t.created_at DESC, t.user_id DESC LIMIT ?2 OFFSET ?3)"
               " ORDER BY t.created_at DESC, t.user_id DESC");
    assert_int_equal(x.p.ps.p[2].i, 1500);
    assert_int_equal(x.p.nwhere, 1);
    /* the one statement: the head, then the rows with their sort keys */
    assert_string_equal(x.p.stmt.data + strlen(x.p.stmt.data) - strlen(" ORDER BY t.created_at DESC, t.user_id DESC"),
                        " ORDER BY t.created_at DESC, t.user_id DESC");
    assert_non_null(strstr(x.p.stmt.data, "AS fm_pos, t.user_id, "));
    assert_non_null(strstr(x.p.stmt.data, ", t.vclock FROM (SELECT 1) fm_one LEFT JOIN users t ON t.rowid IN ("));
    /* an empty deep page: the head joined to the keys-first page */
    struct buf e;
    buf_init(&e);
    plan_list_empty_form(&x.p, &e);
    assert_non_null(strstr(e.data, "), p AS (SELECT t.user_id, "));
    assert_non_null(strstr(e.data, " FROM (SELECT 1) fm_one LEFT JOIN users t ON t.rowid IN (SELECT t.rowid FROM users t WHERE 1=1"));
    assert_non_null(strstr(e.data, ") SELECT m.*, p.* FROM m LEFT JOIN p ON 1=1 ORDER BY p.created_at DESC, p.user_id DESC"));
    buf_free(&e);
    planned_free(&x);

    /* PostgreSQL: from 200 rows on; keys as an array (no join to plan); a
     * nullable key keeps NULLS LAST in both orders; the scope and soft
     * delete stay with the keys */
    plan_query(&x, &coll_documents, "page=8&sort=last_run_at", &pg, &member);
    assert_string_equal(strstr(x.p.sql.data, " FROM "), " FROM documents t WHERE 1=1 AND t.workspace_id = $1"
                        " AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = t.workspace_id AND m.removed_at IS NULL"
                        " AND m.user_id = $2) AND t.deleted_at IS NULL ORDER BY t.last_run_at ASC NULLS LAST,"
                        " t.document_id ASC LIMIT $3 OFFSET $4");
    planned_free(&x);
    plan_query(&x, &coll_documents, "page=9&sort=last_run_at", &pg, &member);
    assert_string_equal(strstr(x.p.sql.data, " FROM "), " FROM (SELECT 1) fm_one LEFT JOIN documents t ON t.document_id = ANY (ARRAY("
                        "SELECT t.document_id FROM documents t WHERE 1=1 AND t.workspace_id = $1"
                        " AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = t.workspace_id AND m.removed_at IS NULL"
                        " AND m.user_id = $2) AND t.deleted_at IS NULL ORDER BY t.last_run_at ASC NULLS LAST,"
                        " t.document_id ASC LIMIT $3 OFFSET $4)) ORDER BY t.last_run_at ASC NULLS LAST, t.document_id ASC");
    assert_int_equal(x.p.ps.p[3].i, 200);
    planned_free(&x);
}

static void all_document_filters(void **state)
{
    static const char *const query =
        "status_in=queued,failed&source_in=api&uploaded_by_user_id=0190C0DE-89AB-7CDE-8F01-23456789ABCD"
        "&created_at_from=2025-03-01&created_at_to=2025-03-01T11:30:00%2B02:00&last_run_at_is_null=false"
        "&q=Re_port&include_total=1&sort=-byte_size&page=2&page_size=5";
    struct planned x;
    plan_query(&x, &coll_documents, query, &lite, &admin);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL"
               " AND t.status IN (?2, ?3) AND t.source IN (?4) AND t.uploaded_by_user_id = ?5"
               " AND t.created_at >= ?6 AND t.created_at < ?7 AND t.last_run_at IS NOT NULL"
               " AND (t.original_filename LIKE ?8 ESCAPE '\\')"
               " ORDER BY t.byte_size DESC, t.document_id DESC LIMIT ?9 OFFSET ?10");
    assert_int_equal(x.p.ps.n, 10);
    assert_int_equal(x.p.nwhere, 8);
    assert_int_equal(x.p.limit, 6);
    assert_text_param(&x.p, 0, WS);
    assert_text_param(&x.p, 1, "queued");
    assert_text_param(&x.p, 2, "failed");
    assert_text_param(&x.p, 3, "api");
    assert_text_param(&x.p, 4, "0190c0de-89ab-7cde-8f01-23456789abcd");
    assert_int_param(&x.p, 5, SP_INT, 1740787200000000);
    assert_int_param(&x.p, 6, SP_INT, 1740821400000000);
    assert_text_param(&x.p, 7, "%re\\_port%");
    assert_int_param(&x.p, 8, SP_INT, 6);
    assert_int_param(&x.p, 9, SP_INT, 5);
    assert_count_sql(&x.p, "SELECT count(*) FROM documents t WHERE t.workspace_id = ?1"
                           " AND t.deleted_at IS NULL AND t.status IN (?2, ?3) AND t.source IN (?4)"
                           " AND t.uploaded_by_user_id = ?5 AND t.created_at >= ?6 AND t.created_at < ?7"
                           " AND t.last_run_at IS NOT NULL AND (t.original_filename LIKE ?8 ESCAPE '\\')");
    planned_free(&x);

    plan_query(&x, &coll_documents, query, &pg, &admin);
    assert_sql(&x.p, &coll_documents,
               "documents t WHERE 1=1 AND t.workspace_id = $1 AND t.deleted_at IS NULL"
               " AND t.status IN ($2, $3) AND t.source IN ($4) AND t.uploaded_by_user_id = $5"
               " AND t.created_at >= $6 AND t.created_at < $7 AND t.last_run_at IS NOT NULL"
               " AND (lower(t.original_filename) LIKE $8)"
               " ORDER BY t.byte_size DESC, t.document_id DESC LIMIT $9 OFFSET $10");
    planned_free(&x);
}

/* ---- users ------------------------------------------------------------ */

static void users_search_one_param(void **state)
{
    struct planned x;
    plan_query(&x, &coll_users, "q=%20Ab%25%20", &lite, &admin);
    assert_sql(&x.p, &coll_users,
               "users t WHERE 1=1 AND (t.email LIKE ?1 ESCAPE '\\' OR t.display_name LIKE ?1 ESCAPE '\\')"
               " ORDER BY t.created_at DESC, t.user_id DESC LIMIT ?2 OFFSET ?3");
    assert_int_equal(x.p.ps.n, 3);
    assert_int_equal(x.p.nwhere, 1);
    assert_text_param(&x.p, 0, "%ab\\%%");
    planned_free(&x);

    plan_query(&x, &coll_users, "q=ab&is_active=true&is_service_account=no&display_name_is_null=true", &pg, &admin);
    assert_sql(&x.p, &coll_users,
               "users t WHERE 1=1 AND (lower(t.email) LIKE $1 OR lower(t.display_name) LIKE $1)"
               " AND t.is_active = $2 AND t.is_service_account = $3 AND t.display_name IS NULL"
               " ORDER BY t.created_at DESC, t.user_id DESC LIMIT $4 OFFSET $5");
    assert_int_equal(x.p.ps.n, 5);
    assert_text_param(&x.p, 0, "%ab%");
    assert_int_param(&x.p, 1, SP_BOOL, 1);
    assert_int_param(&x.p, 2, SP_BOOL, 0);
    assert_int_param(&x.p, 3, SP_INT, 26);
    assert_int_param(&x.p, 4, SP_INT, 0);
    planned_free(&x);

    plan_query(&x, &coll_users, "last_login_from=2025-03-01T09:30:00Z&last_login_at_is_null=false", &lite, &admin);
    assert_sql(&x.p, &coll_users,
               "users t WHERE 1=1 AND t.last_login_at >= ?1 AND t.last_login_at IS NOT NULL"
               " ORDER BY t.created_at DESC, t.user_id DESC LIMIT ?2 OFFSET ?3");
    assert_int_param(&x.p, 0, SP_INT, 1740821400000000);
    planned_free(&x);
}

/* ---- workspaces, jobs, configs, sessions ------------------------------ */

static void workspaces_scope(void **state)
{
    struct planned x;
    plan_query(&x, &coll_workspaces, "", &lite, &member);
    assert_sql(&x.p, &coll_workspaces,
               "workspaces t WHERE 1=1 AND EXISTS (SELECT 1 FROM workspace_members m"
               " WHERE m.workspace_id = t.workspace_id AND m.removed_at IS NULL AND m.user_id = ?1)"
               " ORDER BY t.created_at DESC, t.workspace_id DESC LIMIT ?2 OFFSET ?3");
    assert_int_equal(x.p.nwhere, 1);
    assert_text_param(&x.p, 0, ME);
    planned_free(&x);

    plan_query(&x, &coll_workspaces, "include_total=true&q=team", &pg, &member);
    assert_sql(&x.p, &coll_workspaces,
               "workspaces t WHERE 1=1 AND EXISTS (SELECT 1 FROM workspace_members m"
               " WHERE m.workspace_id = t.workspace_id AND m.removed_at IS NULL AND m.user_id = $1)"
               " AND (lower(t.name) LIKE $2)"
               " ORDER BY t.created_at DESC, t.workspace_id DESC LIMIT $3 OFFSET $4");
    /* a member's count reads their memberships, not every workspace */
    assert_count_sql(&x.p, "SELECT count(*) FROM workspaces t WHERE t.workspace_id IN (SELECT m.workspace_id FROM"
                           " workspace_members m WHERE m.user_id = $1 AND m.removed_at IS NULL)"
                           " AND (lower(t.name) LIKE $2)");
    assert_int_equal(x.p.nwhere, 2);
    planned_free(&x);

    plan_query(&x, &coll_workspaces, "sort=name", &lite, &admin);
    assert_sql(&x.p, &coll_workspaces, "workspaces t WHERE 1=1 ORDER BY t.name ASC, t.workspace_id ASC LIMIT ?1 OFFSET ?2");
    assert_int_equal(x.p.nwhere, 0);
    assert_int_equal(x.p.ps.n, 2);
    assert_int_param(&x.p, 0, SP_INT, 26);
    planned_free(&x);

    /* nothing to filter: a bare count(*), which SQLite answers from the
     * page headers of its narrowest index (OP_Count), not row by row */
    plan_query(&x, &coll_workspaces, "include_total=true", &lite, &admin);
    assert_count_sql(&x.p, "SELECT count(*) FROM workspaces t");
    planned_free(&x);
    plan_query(&x, &coll_users, "include_total=true", &pg, &admin);
    assert_count_sql(&x.p, "SELECT count(*) FROM users t");
    planned_free(&x);
}

static void jobs_and_configs(void **state)
{
    struct planned x;
    plan_query(&x, &coll_jobs,
               "status_in=running&config_id=0190c0de-89ab-7cde-8f01-23456789abcd&trace_id=T-1"
               "&started_at_is_null=true&retry_of_job_id_is_null=0",
               &pg, &admin);
    assert_sql(&x.p, &coll_jobs,
               "jobs t WHERE 1=1 AND t.workspace_id = $1 AND t.status IN ($2) AND t.config_id = $3"
               " AND t.trace_id = $4 AND t.started_at IS NULL AND t.retry_of_job_id IS NOT NULL"
               " ORDER BY t.created_at DESC, t.job_id DESC LIMIT $5 OFFSET $6");
    assert_text_param(&x.p, 3, "T-1");
    planned_free(&x);

    plan_query(&x, &coll_configs, "slug=my-cfg&title=%20Prod%20&include_deleted=false", &lite, &admin);
    assert_sql(&x.p, &coll_configs,
               "configs t WHERE 1=1 AND t.workspace_id = ?1 AND t.deleted_at IS NULL AND t.slug = ?2"
               " AND (t.title LIKE ?3 ESCAPE '\\') ORDER BY t.created_at DESC, t.config_id DESC LIMIT ?4 OFFSET ?5");
    assert_text_param(&x.p, 1, "my-cfg");
    assert_text_param(&x.p, 2, "%prod%");
    planned_free(&x);

    plan_query(&x, &coll_configs, "include_deleted=true&sort=title", &pg, &admin);
    assert_sql(&x.p, &coll_configs,
               "configs t WHERE 1=1 AND t.workspace_id = $1 ORDER BY t.title ASC, t.config_id ASC LIMIT $2 OFFSET $3");
    planned_free(&x);
}

static void sessions_owner_scope(void **state)
{
    struct planned x;
    /* FireMode v1: status (a list), date_from, date_to (inclusive; a date
     * alone is the end of that day), technician_id */
    plan_query(&x, &coll_test_sessions, "status=scheduled,failed&date_from=2025-01-01&date_to=2025-01-31&technician_id=t1",
               &lite, &admin);
    assert_sql(&x.p, &coll_test_sessions,
               "test_sessions t WHERE 1=1 AND t.created_by = ?1 AND t.deleted_at IS NULL AND t.status IN (?2, ?3)"
               " AND t.created_at >= ?4 AND t.created_at <= ?5 AND t.technician_id = ?6"
               " ORDER BY t.created_at ASC, t.id ASC LIMIT ?7 OFFSET ?8");
    assert_text_param(&x.p, 0, ME);
    assert_int_param(&x.p, 3, SP_INT, 1735689600000000LL);
    assert_int_param(&x.p, 4, SP_INT, 1738367999999999LL);
    assert_int_param(&x.p, 6, SP_INT, 21); /* limit 20 + look-ahead */
    planned_free(&x);
}

/* ---- invariants over many shapes ------------------------------------- */

/* Distinct placeholder numbers in sql, each 1..max; returns how many. */
static int placeholders(const char *sql, char prefix, int max)
{
    bool seen[STORE_MAX_PARAMS + 1] = {0};
    int n = 0;
    for (const char *p = sql; *p; p++) {
        if (*p != prefix) continue;
        int v = 0, digits = 0;
        while (p[1] >= '0' && p[1] <= '9') v = v * 10 + (*++p - '0'), digits++;
        assert_true(digits > 0);
        assert_true(v >= 1 && v <= max);
        if (!seen[v]) seen[v] = true, n++;
    }
    return n;
}

static void placeholders_match_params(void **state)
{
    static const struct {
        const struct collection *c;
        const char *query;
    } cases[] = {
        {&coll_documents, "status_in=queued,failed&tag_in=a,b,c&q=abc&include_total=1"},
        {&coll_users, "q=abc&created_at_from=2025-01-01&created_at_to=2025-02-01&include_total=1"},
        {&coll_jobs, "status_in=queued&config_version_id=v&submitted_by_user_id=0190c0de-89ab-7cde-8f01-23456789abcd"
                     "&retry_of_job_id=0190c0de-89ab-7cde-8f01-23456789abce&created_at_to=2025-02-01&include_total=1"},
        {&coll_configs, "title=x&created_by_user_id=0190c0de-89ab-7cde-8f01-23456789abcd&include_total=1"},
        {&coll_workspaces, "q=xyz&include_total=1"},
    };
    const struct dialect *ds[] = {&lite, &pg};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int k = 0; k < 2; k++)
            for (int a = 0; a < 2; a++) {
                struct planned x;
                plan_query(&x, cases[i].c, cases[i].query, ds[k], a ? &admin : &member);
                assert_int_equal(placeholders(x.p.sql.data, ds[k]->param_prefix, x.p.ps.n), x.p.ps.n);
                assert_int_equal(placeholders(x.p.count_sql.data, ds[k]->param_prefix, x.p.nwhere), x.p.nwhere);
                assert_int_equal(x.p.ps.n, x.p.nwhere + 2);
                planned_free(&x);
            }
}

static void placeholder_helper(void **state)
{
    struct buf b;
    buf_init(&b);
    plan_placeholder(&b, &lite, 1);
    buf_putc(&b, ' ');
    plan_placeholder(&b, &pg, 256);
    assert_string_equal(b.data, "?1 $256");
    buf_free(&b);
}

int test_plan_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_documents),
        cmocka_unit_test(workspace_member_scope),
        cmocka_unit_test(select_list_shape),
        cmocka_unit_test(paging_and_total),
        cmocka_unit_test(nullable_sort),
        cmocka_unit_test(tag_in_exists),
        cmocka_unit_test(all_document_filters),
        cmocka_unit_test(deep_pages_keys_first),
        cmocka_unit_test(users_search_one_param),
        cmocka_unit_test(workspaces_scope),
        cmocka_unit_test(jobs_and_configs),
        cmocka_unit_test(sessions_owner_scope),
        cmocka_unit_test(placeholders_match_params),
        cmocka_unit_test(placeholder_helper),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
