/*
 * plan — from a validated list_query (or a change-feed token) to SQL for
 * one dialect.
 *
 * The SQL text depends only on the shape of the query (which filters, how
 * many values in each list, which sorts, whether a walk goes on from a
 * position, which of the last row's keys are NULL), never on values: values
 * are bound parameters, so each shape is prepared once per connection and
 * reused.  Identifiers come only from the collection tables.
 */
#ifndef FM_PLAN_H
#define FM_PLAN_H

#include "../store/store.h"
#include "../util/buf.h"
#include "query.h"
#include "token.h"

/* Who is asking and under which path: restricts rows to what the caller
 * may see.  The one scope clause (plan_scope_clause) serves lists, single
 * items and change feeds. */
struct plan_scope {
    const char *workspace_id; /* SCOPE_WORKSPACE: canonical UUID from the path */
    const char *user_id;      /* SCOPE_MEMBER (non-admin), SCOPE_OWNER */
    bool is_admin;
    /* Not NULL: who asks was not checked yet (the API's identity hint).
     * A list statement then also answers fm_auth: whether a token with
     * this SHA-256 (hex) exists for user_id, who is active and whose admin
     * flag is is_admin -- in the same snapshot as its rows. */
    const char *guard_hash;
};

/* Bound parameters of one statement, numbered from 1. */
struct plan_params {
    struct store_param p[STORE_MAX_PARAMS];
    int n;
    struct buf text; /* storage behind text parameters the planner made */
};

/* Where a walk goes on from: its position S and the last row's sort keys
 * (one per sort key of the query, in order), as a cursor carries them. */
struct plan_after {
    const struct wpos *s;
    const struct token_key *keys;
    int nkeys;
};

struct plan {
    struct buf sql;       /* the page alone: columns, WHERE, ORDER BY, LIMIT/OFFSET */
    struct buf count_sql; /* COUNT(*) over the filtered set, when include_total; with no
                             filter, where the dialect keeps counts (row_counts), the sum
                             of the scope's kept counts */
    /* The statement to run: the position, the count (include_total) and
     * the page in one statement, so they share one snapshot:
     *   SELECT <pos> AS fm_pos [, (<count>) AS fm_n] [, <guard> AS fm_auth], <page columns>
     *          [, <sort key k not rendered> AS fm_s<k>..] FROM <table> t WHERE .. ORDER BY .. LIMIT ..
     * Its rows: fm_pos [, fm_n] [, fm_auth], the item columns, the sort keys
     * that are not item columns (key_col says where each key is).  An empty
     * page has no row, so no position: the caller then runs the empty-page
     * form (plan_list_empty_form), which always answers one row.  (That
     * form, a join of the position to the page, is the one statement of
     * earlier versions: SQLite materializes and sorts its page in a temp
     * b-tree, which cost a third of a page's time.) */
    struct buf stmt;
    struct buf head;      /* "<pos> AS fm_pos [, (<count>) AS fm_n] [, <guard> AS fm_auth]" */
    struct buf page;      /* the page with its keys not rendered as fm_s<k> */
    const struct list_query *q; /* the query planned (plan_list_empty_form reads its sort) */
    struct plan_params ps;
    int nwhere;           /* the first nwhere parameters are the filters' */
    int limit;            /* rows asked for: page_size + 1 (look-ahead) */
    int col_count;        /* column of fm_n, or -1 */
    int col_auth;         /* column of fm_auth (scope.guard_hash), or -1 */
    int col_item;         /* first item column */
    int col_keys;         /* change feeds: the column of fm_w (fm_del follows) */
    int key_col[TOKEN_MAX_KEYS]; /* lists: the column of each sort key */
};

/* Builds the statement of a list page.  after: NULL for a first (or
 * page=N) page; else the walk goes on after those keys, over rows old for
 * after->s only.  Returns 0, or -1 if the query needs more parameters than
 * a statement may bind (cannot happen within the grammar's limits) or
 * after's keys do not fit the sort.  Free with plan_free (also after -1). */
int plan_list(const struct list_query *q, const struct dialect *d, const struct plan_scope *scope,
              const struct plan_after *after, struct plan *p);

/* Builds the statement of a change-feed page: rows of c in scope (soft-
 * deleted ones too) not old for t->s [and old for t->e], after (last_seq,
 * last_pk), in (seq, pk) order, limit + 1 of them.  Rows: fm_pos, the item
 * columns, fm_w (seq), fm_del (1 if deleted).  0 or -1. */
int plan_feed(const struct collection *c, const struct dialect *d, const struct plan_scope *scope,
              const struct token *t, int limit, struct plan *p);

/* The statement of p's page for when p->stmt answered no row:
 *   WITH m AS (SELECT <head>), p AS (<page>)
 *   SELECT m.*, p.* FROM m LEFT JOIN p ON 1=1 ORDER BY p.<key 0>, ...
 * one row with NULL item columns when the page is empty (same columns and
 * parameters as p->stmt).  The list query p was planned from must still
 * be alive. */
void plan_list_empty_form(const struct plan *p, struct buf *out);

void plan_free(struct plan *p);

void plan_params_init(struct plan_params *ps);
void plan_params_free(struct plan_params *ps);
/* Adds a parameter; returns its number, or -1 when full. */
int plan_param(struct plan_params *ps, struct store_param v);

/* Appends the placeholder of parameter n ("?n" or "$n"); shared by the CRUD
 * engine so that every placeholder is written one way. */
void plan_placeholder(struct buf *b, const struct dialect *d, int n);
/* Appends " AND ..." restricting rows of c (alias t) to the scope.  0 or
 * -1 (parameters full). */
int plan_scope_clause(struct buf *b, const struct dialect *d, const struct collection *c,
                      const struct plan_scope *sc, struct plan_params *ps);
/* Appends "<guard> AS fm_auth": whether sc->guard_hash's token exists for
 * sc->user_id, who is active and whose admin flag is sc->is_admin (the
 * identity hint's check, in the statement's own snapshot).  0 or -1. */
int plan_guard_column(struct buf *b, const struct dialect *d, const struct plan_scope *sc, struct plan_params *ps);
/* Appends " AND (...)": the row (alias t) is old for s. */
int plan_old_for(struct buf *b, const struct dialect *d, const struct wpos *s, struct plan_params *ps);

#endif
