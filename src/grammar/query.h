/*
 * query — the list grammar of CONTRACT.md §3, as a pure function.
 *
 *   lq_parse(collection, query pairs) -> validated struct list_query | error
 *
 * No I/O, no globals but the (immutable after start) collection tables, no
 * SQL: the planner (plan.h) turns a list_query into SQL.  Every limit the
 * grammar enforces is a constant below.  Values in a list_query either point
 * into the pairs (which must outlive it) or into its own arena (lq_free).
 */
#ifndef FM_QUERY_H
#define FM_QUERY_H

#include "../model/collection.h"
#include "../util/url.h"

#include <stdbool.h>
#include <stdint.h>

struct buf;

#define LQ_DEFAULT_PAGE_SIZE 25
#define LQ_MAX_PAGE_SIZE 100
#define LQ_MAX_PAGE 9007199254740991LL /* 2^53-1, JSON-safe; the offset (page-1)*100 < 2^60 fits int64 */
#define LQ_MAX_SORT 3
#define LQ_MIN_SEARCH 2
#define LQ_MAX_SEARCH 128
#define LQ_MAX_CONTAINS 128
#define LQ_MAX_EQ_TEXT 128
#define LQ_MAX_TAG 64
#define LQ_MAX_VALUES 100 /* items across all *_in lists of one request */
#define LQ_MAX_CONDS 32

struct lq_value {
    const char *s; /* text values (UUIDs canonical, patterns LIKE-escaped) */
    size_t len;
    int64_t i;     /* FT_TIME, FT_INT, FT_BOOL */
    const char *src; /* OP_SEARCH, OP_CONTAINS: the trimmed text the pattern came from */
    size_t src_len;
};

struct lq_sort {
    const struct sort_key *key;
    bool desc;
};

struct lq_cond {
    const struct filter *filter;
    int first, count; /* its values: vals[first .. first+count) */
};

struct list_query {
    const struct collection *coll;
    int64_t page;
    int page_size;      /* page_size or limit, per the collection's profile */
    bool include_total;
    bool include_deleted;
    bool explicit_query; /* a filter, sort or include_deleted was given */
    bool page_given;
    const char *cursor;  /* the cursor parameter as sent (into the pairs), or NULL */
    size_t cursor_len;
    struct lq_sort sort[LQ_MAX_SORT + 1]; /* resolved, tie-breaker included */
    int nsort;
    struct lq_cond conds[LQ_MAX_CONDS];
    int nconds;
    struct lq_value vals[LQ_MAX_VALUES];
    int nvals;
    char *arena; /* owned */
    size_t arena_len, arena_cap;
};

/* Client errors: every problem of one request, in a stable order.
 *
 * Each issue has the position `at` it belongs to (the index of the query
 * pair it came from; npairs for a required parameter that is missing; for
 * bodies, see body.c) and the list is kept sorted by it (ties in the order
 * they were found), so errors come in the order of the parameters.  At
 * most LQ_MAX_ERRORS are kept: the first ones by position; `truncated`
 * says some were dropped.  A message is at most sizeof msg - 1 bytes.
 *
 * `as_string` (an unsupported sort field, too many sort fields) selects
 * {"detail":"msg"} over FastAPI's list form
 * {"detail":[{"loc":["query",loc],"msg":msg,"type":type}, ...]} -- only when
 * it is the only issue; with others it is one entry of the list
 * (loc ["query","sort"], type value_error), as api_invalid renders it. */
#define LQ_MAX_ERRORS 32
struct lq_issue {
    char loc[80];
    char msg[512];
    char type[40];
    bool as_string;
    int at;
};
struct lq_error {
    int n;
    bool truncated;
    int at; /* where the parse is: the position the next issue is filed under */
    struct lq_issue list[LQ_MAX_ERRORS];
};

void lq_error_init(struct lq_error *e);
/* Files an issue at position `at`; returns -1 (for `return lq_error_add(...)`). */
int lq_error_add(struct lq_error *e, int at, const char *loc, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Parses and validates.  Returns 0 and fills q, or -1 and fills err with
 * every problem found (q is then already freed).  Always call lq_free(q)
 * after a 0. */
int lq_parse(const struct collection *c, const struct qpair *pairs, int npairs, struct list_query *q,
             struct lq_error *err);
void lq_free(struct list_query *q);

/* The walk's identity: the filters, include_deleted and the resolved sort
 * in one canonical byte form ("key\0value\0" pairs: filters in table
 * order, list values sorted and de-duplicated, values normalized).  Two
 * queries select and order the same rows iff their forms are equal, and
 * lq_parse_canonical reads a form back. */
void lq_canonical(const struct list_query *q, struct buf *out);
/* Parses a canonical form (made by lq_canonical) as lq_parse does; the
 * form must outlive q. */
int lq_parse_canonical(const struct collection *c, const char *s, size_t n, struct list_query *q,
                       struct lq_error *err);

/* GET {collection}/changes: since (required) and limit. */
#define LQ_FEED_DEFAULT_LIMIT 100
#define LQ_FEED_MAX_LIMIT 1000
struct feed_query {
    const char *since; /* into the pairs */
    size_t since_len;
    int limit;
};
int lq_parse_feed(const struct qpair *pairs, int npairs, struct feed_query *fq, struct lq_error *err);


#endif
