/*
 * plan — from a validated list_query to SQL for one dialect.
 *
 * The SQL text depends only on the shape of the query (which filters, how
 * many values in each list, which sorts), never on values: values are bound
 * parameters, so each shape is prepared once per connection and reused.
 * Identifiers come only from the collection tables.
 */
#ifndef FM_PLAN_H
#define FM_PLAN_H

#include "../store/store.h"
#include "../util/buf.h"
#include "query.h"

/* Who is asking and under which path: restricts rows to what the caller
 * may see. */
struct plan_scope {
    const char *workspace_id; /* SCOPE_WORKSPACE: canonical UUID from the path */
    const char *user_id;      /* SCOPE_MEMBER (non-admin), SCOPE_OWNER */
    bool is_admin;
};

struct plan {
    struct buf sql;       /* the page: rendered columns, ORDER BY, LIMIT/OFFSET */
    struct buf count_sql; /* COUNT(*) over the filtered set, when include_total */
    /* With include_total, the statement to run: the count and the page in
     * one statement (one round trip, one snapshot).  Its rows are
     * (count, item columns...) in page order; one row with NULL item
     * columns when the page is empty. */
    struct buf total_sql;
    struct store_param params[STORE_MAX_PARAMS];
    int nparams;          /* the page query's parameters */
    int nwhere;           /* the first nwhere are the count query's */
    int limit;            /* rows asked for: page_size (+1 for look-ahead) */
};

/* Builds the page (and count) queries.  Returns 0, or -1 if the query has
 * more parameters than a statement may bind (cannot happen within the
 * grammar's limits).  Free with plan_free. */
int plan_list(const struct list_query *q, const struct dialect *d, const struct plan_scope *scope, struct plan *p);
void plan_free(struct plan *p);

/* Appends the placeholder of parameter n ("?n" or "$n"); shared by the CRUD
 * engine so that every placeholder is written one way. */
void plan_placeholder(struct buf *b, const struct dialect *d, int n);
/* Appends " AND EXISTS (...)": the user bound as parameter n is a member of
 * the workspace in column t.<ws_column>.  Shared with the CRUD engine. */
void plan_membership(struct buf *b, const struct dialect *d, const char *ws_column, int n);

#endif
