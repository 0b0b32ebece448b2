/*
 * plan_sql — prints the SQL statement the server runs for a list page, as
 * the planner (src/grammar/plan.c) makes it, for tests/pg/test_plans.py.
 *
 *   plan_sql DB_URL < requests > answers        (one JSON object per line each)
 *
 * DB_URL picks the dialect: the helper opens that database with the
 * server's own store_open() and plans with its real struct dialect, so
 * placeholders, LIKE and position SQL are the server's.  A request:
 *
 *   {"coll": "documents", "query": "sort=-created_at&status_in=failed",
 *    "ws": "<uuid>" | null, "user": "<uuid>", "admin": false,
 *    "after": null | {"pos": "<as the dialect's pos_sql renders it>",
 *                     "keys": ["<text of each sort key of the last row>" | null, ...]}}
 *
 * (after = a cursor page: the walk's position and the last row's keys, one
 * per resolved sort key, tie-breaker included).  An answer:
 *
 *   {"stmt": "<the one statement a page runs>", "sql": "<the page part alone>",
 *    "count": "<the count part alone (include_total)>", "nwhere": <its parameters: the first nwhere>,
 *    "params": [{"type": "text"|"int"|"bool"|"null", "value": "<as bound, text>"}, ...]}
 *   or {"error": "..."}
 *
 * Links every server object but main (build/obj); see the Makefile lines
 * proposed in the test's docstring.
 */
#include "grammar/plan.h"
#include "grammar/query.h"
#include "model/collection.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/url.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void answer_error(const char *fmt, const char *arg)
{
    json_t *o = json_object();
    char msg[600];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    json_object_set_new(o, "error", json_string(msg));
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
    fflush(stdout);
}

static json_t *param_json(const struct store_param *p)
{
    json_t *o = json_object();
    char tmp[32];
    switch (p->type) {
    case SP_NULL:
        json_object_set_new(o, "type", json_string("null"));
        json_object_set_new(o, "value", json_null());
        break;
    case SP_TEXT:
        json_object_set_new(o, "type", json_string("text"));
        json_object_set_new(o, "value", json_stringn(p->s ? p->s : "", p->len));
        break;
    case SP_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)p->i);
        json_object_set_new(o, "type", json_string("int"));
        json_object_set_new(o, "value", json_string(tmp));
        break;
    case SP_BOOL:
        json_object_set_new(o, "type", json_string("bool"));
        json_object_set_new(o, "value", json_string(p->i ? "1" : "0"));
        break;
    }
    return o;
}

static void one(const struct dialect *d, const char *line)
{
    json_error_t je;
    json_t *req = json_loads(line, 0, &je);
    if (!req || !json_is_object(req)) {
        answer_error("bad request line: %s", je.text);
        json_decref(req);
        return;
    }
    const char *cname = json_string_value(json_object_get(req, "coll"));
    const char *query = json_string_value(json_object_get(req, "query"));
    const char *ws = json_string_value(json_object_get(req, "ws"));
    const char *user = json_string_value(json_object_get(req, "user"));
    bool admin = json_is_true(json_object_get(req, "admin"));
    json_t *after = json_object_get(req, "after");
    const struct collection *c = cname ? collection_by_name(cname, strlen(cname)) : NULL;
    if (!c || !query || !user) {
        answer_error("need coll, query and user (coll %s)", cname);
        json_decref(req);
        return;
    }
    struct buf target;
    buf_init(&target);
    buf_puts(&target, "/x?");
    buf_puts(&target, query);
    struct url u;
    if (url_parse(target.data, target.len, &u) != URL_OK) {
        answer_error("bad query: %s", query);
        buf_free(&target);
        json_decref(req);
        return;
    }
    struct list_query q;
    struct lq_error e;
    if (lq_parse(c, u.pairs, u.npairs, &q, &e) < 0) {
        answer_error("query refused by lq_parse: %s", query); /* (e's fields are the server's business) */
        url_free(&u);
        buf_free(&target);
        json_decref(req);
        return;
    }
    struct plan_scope sc = {ws, user, admin, NULL};
    struct plan_after a, *ap = NULL;
    struct wpos pos;
    struct token_key keys[TOKEN_MAX_KEYS];
    if (json_is_object(after)) {
        const char *ptext = json_string_value(json_object_get(after, "pos"));
        json_t *jk = json_object_get(after, "keys");
        if (!ptext || !store_parse_pos(d, ptext, strlen(ptext), &pos) || !json_is_array(jk) ||
            json_array_size(jk) > TOKEN_MAX_KEYS) {
            answer_error("bad after (pos %s)", ptext);
            goto done_q;
        }
        for (size_t i = 0; i < json_array_size(jk); i++) {
            json_t *k = json_array_get(jk, i);
            keys[i].null = json_is_null(k);
            keys[i].s = keys[i].null ? "" : json_string_value(k);
            keys[i].len = keys[i].null ? 0 : json_string_length(k);
        }
        a.s = &pos;
        a.keys = keys;
        a.nkeys = (int)json_array_size(jk);
        ap = &a;
    }
    struct plan p;
    if (plan_list(&q, d, &sc, ap, &p) < 0) {
        answer_error("plan_list failed (%s)", ap ? "keys do not fit the sort" : "query too complex");
        plan_free(&p);
        goto done_q;
    }
    json_t *o = json_object();
    json_object_set_new(o, "stmt", json_stringn(p.stmt.data, p.stmt.len));
    json_object_set_new(o, "sql", json_stringn(p.sql.data, p.sql.len));
    if (p.count_sql.len) json_object_set_new(o, "count", json_stringn(p.count_sql.data, p.count_sql.len));
    json_object_set_new(o, "nwhere", json_integer(p.nwhere));
    json_t *ps = json_array();
    for (int i = 0; i < p.ps.n; i++) json_array_append_new(ps, param_json(&p.ps.p[i]));
    json_object_set_new(o, "params", ps);
    json_t *sk = json_array();
    for (int i = 0; i < q.nsort; i++) {
        json_t *k = json_object();
        json_object_set_new(k, "column", json_string(q.sort[i].key->column));
        json_object_set_new(k, "desc", json_boolean(q.sort[i].desc));
        json_object_set_new(k, "nullable", json_boolean(q.sort[i].key->nullable));
        json_array_append_new(sk, k);
    }
    json_object_set_new(o, "sort", sk);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
    plan_free(&p);
done_q:
    lq_free(&q);
    url_free(&u);
    buf_free(&target);
    json_decref(req);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DB_URL < requests\n", argv[0]);
        return 2;
    }
    collections_init();
    struct store_err err = {0};
    struct store *st = store_open(argv[1], &err);
    if (!st) {
        fprintf(stderr, "plan_sql: cannot open %s: %s\n", argv[1], err.msg);
        return 1;
    }
    const struct dialect *d = store_dialect(st);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n && line[n - 1] == '\n') line[n - 1] = '\0';
        if (!line[0]) continue;
        one(d, line);
    }
    free(line);
    store_close(st);
    return 0;
}
