/*
 * api — routes, authentication, dispatch, the storage-error map, metrics.
 *
 * Routes are a table: path segments ("{ws}" a workspace id, "{id}" an item
 * id, "{sub}" an id under it, all UUIDs, anything else 404), a kind, and the
 * collection the generic engine serves there.  Methods allowed on a
 * collection route are fixed; on an item route they come from the
 * collection's table.
 *
 * Metrics are counters in static memory, updated with relaxed atomics from
 * every worker (no lock on the request path): per route and status class a
 * request count and a latency histogram, requests in flight, database
 * errors by kind, database round trips per route, and each worker's
 * connection state.  GET /metrics renders them as Prometheus text.
 */
#include "api.h"

#include "../util/text.h"
#include "../util/version.h"
#include "api_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *api_node_id = "node";
bool api_require_if_match;
unsigned char api_token_key[32];

void api_init(const char *node_id)
{
    api_node_id = node_id;
    collections_init();
    openapi_init();
}

static void count_round_trips(const struct request *r, unsigned long long n);

/* Before a body is read: authenticates the bearer token from the headers
 * on st (a worker's connection, or NULL when it could not be opened:
 * open_err says why).  0: go on; -1: answered (401/403/503). */
static int api_authorize(struct request *r, struct store *st, const struct store_err *open_err)
{
    if (!st) {
        api_store_error(r, open_err);
        return -1;
    }
    struct ctx x = {.r = r, .st = st, .d = store_dialect(st)};
    unsigned long long before = store_round_trips(st);
    int rc = acct_authenticate(&x);
    count_round_trips(r, store_round_trips(st) - before); /* the request's, on its route */
    if (rc == 0) {
        /* the same request is answered as this caller: its token was
         * checked when its head arrived, as any request's is at its start
         * (a revocation counts from the next request on) */
        struct caller *who = xmalloc(sizeof *who);
        *who = x.who;
        free(r->app_state);
        r->app_state = who;
    }
    return rc;
}

void api_set_require_if_match(bool on)
{
    api_require_if_match = on;
}

int api_prepare(struct store *st, struct store_err *err)
{
    return store_token_key(st, api_token_key, err);
}

#define COLL_METHODS (M_GET | M_HEAD | M_POST | M_OPTIONS)
#define GET_METHODS (M_GET | M_HEAD | M_OPTIONS)

/* struct route: api_int.h (openapi.c walks this table too). */
static const struct route routes[] = {
    {{"openapi.json"}, RK_OPENAPI, NULL, GET_METHODS, true},
    {{"docs"}, RK_DOCS, NULL, GET_METHODS, true},
    {{"docs", "{file}"}, RK_DOCS, NULL, GET_METHODS, true},
    {{"healthz"}, RK_HEALTHZ, NULL, GET_METHODS, true},
    {{"readyz"}, RK_READYZ, NULL, GET_METHODS, true},
    {{"metrics"}, RK_METRICS, NULL, GET_METHODS, false},
    {{"me"}, RK_ME, NULL, GET_METHODS, false},
    {{"users"}, RK_COLLECTION, &coll_users, COLL_METHODS, false},
    {{"users", "changes"}, RK_CHANGES, &coll_users, GET_METHODS, false},
    {{"users", "{id}"}, RK_ITEM, &coll_users, 0, false},
    {{"users", "{id}", "tokens"}, RK_TOKENS, NULL, M_GET | M_HEAD | M_POST | M_OPTIONS, false},
    {{"users", "{id}", "tokens", "{sub}"}, RK_TOKEN, NULL, M_DELETE | M_OPTIONS, false},
    {{"workspaces"}, RK_COLLECTION, &coll_workspaces, COLL_METHODS, false},
    {{"workspaces", "changes"}, RK_CHANGES, &coll_workspaces, GET_METHODS, false},
    {{"workspaces", "{id}"}, RK_ITEM, &coll_workspaces, 0, false},
    {{"workspaces", "{ws}", "members"}, RK_MEMBERS, NULL, M_GET | M_HEAD | M_POST | M_OPTIONS, false},
    {{"workspaces", "{ws}", "members", "{sub}"}, RK_MEMBER, NULL, M_DELETE | M_OPTIONS, false},
    {{"workspaces", "{ws}", "documents"}, RK_COLLECTION, &coll_documents, COLL_METHODS, false},
    {{"workspaces", "{ws}", "documents", "changes"}, RK_CHANGES, &coll_documents, GET_METHODS, false},
    {{"workspaces", "{ws}", "documents", "{id}"}, RK_ITEM, &coll_documents, 0, false},
    {{"workspaces", "{ws}", "jobs"}, RK_COLLECTION, &coll_jobs, COLL_METHODS, false},
    {{"workspaces", "{ws}", "jobs", "changes"}, RK_CHANGES, &coll_jobs, GET_METHODS, false},
    {{"workspaces", "{ws}", "jobs", "{id}"}, RK_ITEM, &coll_jobs, 0, false},
    {{"workspaces", "{ws}", "configs"}, RK_COLLECTION, &coll_configs, COLL_METHODS, false},
    {{"workspaces", "{ws}", "configs", "changes"}, RK_CHANGES, &coll_configs, GET_METHODS, false},
    {{"workspaces", "{ws}", "configs", "{id}"}, RK_ITEM, &coll_configs, 0, false},
    {{"v1", "tests", "sessions"}, RK_COLLECTION, &coll_test_sessions, COLL_METHODS, false},
    {{"v1", "tests", "sessions", "changes"}, RK_CHANGES, &coll_test_sessions, GET_METHODS, false},
    {{"v1", "tests", "sessions", "{id}"}, RK_ITEM, &coll_test_sessions, 0, false},
};

const struct route *api_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

unsigned api_route_methods(const struct route *rt)
{
    return rt->methods ? rt->methods : rt->coll->item_methods;
}

/* Matches the path; fills r->path_ws / r->path_id.  NULL if no route. */
static const struct route *match(struct request *r)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        int n = 0;
        while (n < 5 && rt->seg[n]) n++;
        if (n != r->url.nseg) continue;
        bool ok = true;
        for (int k = 0; k < n && ok; k++) {
            const char *want = rt->seg[k];
            const char *got = r->url.seg[k];
            size_t len = r->url.seg_len[k];
            if (strcmp(want, "{ws}") == 0)
                ok = uuid_parse(got, len, r->path_ws);
            else if (strcmp(want, "{id}") == 0)
                ok = uuid_parse(got, len, r->path_id);
            else if (strcmp(want, "{sub}") == 0)
                ok = uuid_parse(got, len, r->path_sub);
            else if (strcmp(want, "{file}") == 0)
                ok = len > 0; /* the handler looks the name up */
            else
                ok = text_eq(got, len, want);
        }
        if (ok) return rt;
    }
    return NULL;
}

static void allow_header(struct request *r, unsigned m)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    struct buf allow;
    buf_init(&allow);
    for (int i = 0; i < 7; i++)
        if (m & (1u << i)) buf_printf(&allow, "%s%s", allow.len ? ", " : "", names[i]);
    resp_header(r, "Allow", allow.data ? allow.data : "");
    buf_free(&allow);
}

static bool json_content_type(const char *ct)
{
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    const char *s = ct;
    text_trim(&s, &n);
    return text_ieq(s, n, "application/json");
}

/* Before the body is read: route, method, Content-Type.  Returns true if it
 * already answered (404, 405 with Allow, 415, OPTIONS). */
static bool api_precheck(struct request *r)
{
    const struct route *rt = match(r);
    if (!rt) {
        resp_error(r, 404, "Not Found");
        return true;
    }
    r->route = rt;
    r->public_route = rt->public;
    r->no_database = rt->kind == RK_HEALTHZ;
    r->priority = rt->kind == RK_READYZ || rt->kind == RK_METRICS;
    unsigned allowed = api_route_methods(rt);
    if (!(allowed & r->method)) {
        allow_header(r, allowed);
        resp_error(r, 405, "Method Not Allowed");
        return true;
    }
    if (r->method == M_OPTIONS) {
        allow_header(r, allowed);
        resp_empty(r, 204);
        return true;
    }
    if (r->method == M_POST || r->method == M_PUT || r->method == M_PATCH) {
        const char *ct = req_header(r, "Content-Type");
        const char *cl = req_header(r, "Content-Length");
        const char *te = req_header(r, "Transfer-Encoding");
        bool has_body = (cl && strcmp(cl, "0") != 0) || te;
        if ((ct && !json_content_type(ct)) || (!ct && has_body)) {
            resp_error(r, 415, "Unsupported Media Type: send the body as application/json");
            return true;
        }
    }
    return false;
}

/* ---- errors and metrics ------------------------------------------------ */

/* Database errors by kind, for /metrics: what an operator tells apart
 * (a database that is down or too slow, lock waits and retries, our bugs).
 * PostgreSQL's SQLSTATE is in the message (pg.c); SQLite's busy is "busy". */
enum db_err { DBE_UNAVAILABLE, DBE_TIMEOUT, DBE_BUSY, DBE_DEADLOCK, DBE_SERIALIZATION, DBE_LOCK_TIMEOUT,
              DBE_STATEMENT_TIMEOUT, DBE_UNIQUE, DBE_CONSTRAINT, DBE_INTERNAL, DBE_N };
static const char *const db_err_names[DBE_N] = {"unavailable", "timeout", "busy", "deadlock", "serialization",
                                                "lock_timeout", "statement_timeout", "unique", "constraint",
                                                "internal"};
static atomic_ullong m_db_errors[DBE_N];
/* lists answered on the identity hint (accounts.c), and hints the
 * statement refused (then authenticated in full) */
static atomic_ullong m_hint_confirmed, m_hint_refused;

static enum db_err db_err_of(const struct store_err *e)
{
    static const struct {
        const char *needle;
        enum db_err kind;
    } busy[] = {{"SQLSTATE 40P01", DBE_DEADLOCK},
                {"SQLSTATE 40001", DBE_SERIALIZATION},
                {"SQLSTATE 55P03", DBE_LOCK_TIMEOUT},
                {"SQLSTATE 57014", DBE_STATEMENT_TIMEOUT}};
    switch (e->kind) {
    case STORE_UNIQUE: return DBE_UNIQUE;
    case STORE_CONSTRAINT: return DBE_CONSTRAINT;
    case STORE_UNAVAILABLE: return strstr(e->msg, "no answer within") ? DBE_TIMEOUT : DBE_UNAVAILABLE;
    case STORE_BUSY:
        for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++)
            if (strstr(e->msg, busy[i].needle)) return busy[i].kind;
        return DBE_BUSY;
    default: return DBE_INTERNAL;
    }
}

void api_store_error(struct request *r, const struct store_err *e)
{
    atomic_fetch_add_explicit(&m_db_errors[db_err_of(e)], 1, memory_order_relaxed);
    switch (e->kind) {
    case STORE_UNIQUE:
        resp_error(r, 409, "Conflict with an existing row");
        break;
    case STORE_CONSTRAINT:
        resp_invalid(r, "body", NULL, "The values break a rule of the data (a reference or a bound)", "value_error");
        break;
    case STORE_UNAVAILABLE:
    case STORE_BUSY:
    case STORE_RETRY:
        fprintf(stderr, "firemode: database: %s (rid=%s)\n", e->msg, r->request_id);
        resp_header(r, "Retry-After", "1");
        resp_error(r, 503, "Database unavailable, try again shortly (%s)",
                   e->kind != STORE_UNAVAILABLE ? "busy" : "cannot reach the database");
        break;
    default:
        fprintf(stderr, "firemode: internal error: %s\n", e->msg);
        resp_error(r, 500, "Internal Server Error");
    }
}

/* Latency histogram bucket bounds, in microseconds (Prometheus "le", seconds). */
static const int64_t m_bounds_us[] = {1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
                                      2500000, 5000000, 10000000};
#define NBOUNDS (sizeof m_bounds_us / sizeof m_bounds_us[0])
#define NROUTES (sizeof routes / sizeof routes[0])
#define NCLASSES 6 /* 0: no answer (aborted), then 1xx..5xx */

/* Per route (the last slot: no route matched) and status class. */
static struct {
    atomic_ullong bucket[NBOUNDS]; /* non-cumulative; summed when rendered */
    atomic_ullong count;
    atomic_ullong sum_us;
} m_req[NROUTES + 1][NCLASSES];

/* Records a finished request in the metrics (by r's route; status 0: no
 * answer was sent). */
static void api_observe(const struct request *r, int status, int64_t dur_us)
{
    size_t route = r->route ? (size_t)((const struct route *)r->route - routes) : NROUTES;
    int cls = status >= 100 && status < 600 ? status / 100 : 0;
    if (route > NROUTES) route = NROUTES;
    if (dur_us < 0) dur_us = 0;
    size_t b = 0;
    while (b < NBOUNDS && dur_us > m_bounds_us[b]) b++;
    if (b < NBOUNDS) atomic_fetch_add_explicit(&m_req[route][cls].bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m_req[route][cls].count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m_req[route][cls].sum_us, (unsigned long long)dur_us, memory_order_relaxed);
}

/* Database round trips per route (the deltas of store_round_trips over
 * each request: the connection is the worker's own, so the delta is this
 * request's). */
static atomic_ullong m_db_trips[NROUTES + 1];

static void count_round_trips(const struct request *r, unsigned long long n)
{
    size_t route = r->route ? (size_t)((const struct route *)r->route - routes) : NROUTES;
    if (route > NROUTES) route = NROUTES;
    if (n) atomic_fetch_add_explicit(&m_db_trips[route], n, memory_order_relaxed);
}

/* Connection state per worker thread, as of the end of its latest request
 * (a worker takes a slot on its first request; at most MAX_WORKERS are
 * shown): connected, or reconnecting (the connection is lost or could not
 * be opened; the worker's next request tries again). */
#define MAX_WORKERS 256
enum { WS_UNSEEN, WS_CONNECTED, WS_RECONNECTING };
static atomic_int m_worker_state[MAX_WORKERS];
static atomic_int m_nworkers;
static _Thread_local int t_worker_slot = -1;

static void note_worker_state(struct store *st)
{
    if (t_worker_slot < 0) {
        int slot = atomic_fetch_add_explicit(&m_nworkers, 1, memory_order_relaxed);
        t_worker_slot = slot < MAX_WORKERS ? slot : MAX_WORKERS;
    }
    if (t_worker_slot < MAX_WORKERS)
        atomic_store_explicit(&m_worker_state[t_worker_slot],
                              st && store_connected(st) ? WS_CONNECTED : WS_RECONNECTING, memory_order_relaxed);
}

/* The route's path template, e.g. /workspaces/:workspace_id/documents. */
static void route_label(struct buf *b, size_t i)
{
    if (i == NROUTES) {
        buf_puts(b, "unmatched");
        return;
    }
    const struct route *rt = &routes[i];
    for (int k = 0; k < 5 && rt->seg[k]; k++) {
        const char *seg = rt->seg[k];
        if (strcmp(seg, "{ws}") == 0) seg = ":workspace_id";
        else if (strcmp(seg, "{id}") == 0) seg = ":id";
        else if (strcmp(seg, "{sub}") == 0) seg = ":sub_id";
        buf_printf(b, "/%s", seg);
    }
}

static void metrics(struct ctx *x)
{
    static const char *const cls_names[NCLASSES] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    struct buf b, label;
    buf_init(&b);
    buf_init(&label);
    buf_puts(&b, "# HELP firemode_http_requests_total HTTP requests answered, by route and status class.\n"
                 "# TYPE firemode_http_requests_total counter\n");
    for (size_t i = 0; i <= NROUTES; i++)
        for (int c = 0; c < NCLASSES; c++) {
            unsigned long long n = atomic_load_explicit(&m_req[i][c].count, memory_order_relaxed);
            if (!n) continue;
            buf_reset(&label);
            route_label(&label, i);
            buf_printf(&b, "firemode_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n", label.data, cls_names[c],
                       n);
        }
    buf_puts(&b, "# HELP firemode_http_request_duration_seconds Time from request line to response, by route and "
                 "status class.\n"
                 "# TYPE firemode_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= NROUTES; i++)
        for (int c = 0; c < NCLASSES; c++) {
            unsigned long long n = atomic_load_explicit(&m_req[i][c].count, memory_order_relaxed);
            if (!n) continue;
            buf_reset(&label);
            route_label(&label, i);
            unsigned long long cum = 0;
            for (size_t k = 0; k < NBOUNDS; k++) {
                cum += atomic_load_explicit(&m_req[i][c].bucket[k], memory_order_relaxed);
                buf_printf(&b, "firemode_http_request_duration_seconds_bucket{route=\"%s\",code=\"%s\",le=\"%g\"} %llu\n",
                           label.data, cls_names[c], (double)m_bounds_us[k] / 1e6, cum);
            }
            /* count was read first: +Inf is at least every finite bucket */
            if (cum > n) n = cum;
            buf_printf(&b,
                       "firemode_http_request_duration_seconds_bucket{route=\"%s\",code=\"%s\",le=\"+Inf\"} %llu\n"
                       "firemode_http_request_duration_seconds_sum{route=\"%s\",code=\"%s\"} %.6f\n"
                       "firemode_http_request_duration_seconds_count{route=\"%s\",code=\"%s\"} %llu\n",
                       label.data, cls_names[c], n, label.data, cls_names[c],
                       (double)atomic_load_explicit(&m_req[i][c].sum_us, memory_order_relaxed) / 1e6, label.data,
                       cls_names[c], n);
        }
    buf_printf(&b,
               "# HELP firemode_http_requests_in_flight Requests whose headers have arrived and whose response is "
               "not yet sent.\n"
               "# TYPE firemode_http_requests_in_flight gauge\n"
               "firemode_http_requests_in_flight %d\n",
               http_in_flight());
    buf_puts(&b, "# HELP firemode_db_errors_total Database errors met while answering, by kind (unavailable and "
                 "timeout are 503s; busy, deadlock, serialization, lock_timeout and statement_timeout are lock "
                 "waits and retries given up, also 503s).\n"
                 "# TYPE firemode_db_errors_total counter\n");
    for (int k = 0; k < DBE_N; k++)
        buf_printf(&b, "firemode_db_errors_total{kind=\"%s\"} %llu\n", db_err_names[k],
                   atomic_load_explicit(&m_db_errors[k], memory_order_relaxed));
    buf_printf(&b,
               "# HELP firemode_auth_hints_total List and item GETs whose caller was taken from the worker's identity "
               "hint and confirmed by their statement itself (one statement instead of two), and hints the "
               "statement refused (revoked token, deactivated user, admin flag changed; then checked in full).\n"
               "# TYPE firemode_auth_hints_total counter\n"
               "firemode_auth_hints_total{outcome=\"confirmed\"} %llu\n"
               "firemode_auth_hints_total{outcome=\"refused\"} %llu\n",
               atomic_load_explicit(&m_hint_confirmed, memory_order_relaxed),
               atomic_load_explicit(&m_hint_refused, memory_order_relaxed));
    buf_puts(&b, "# HELP firemode_db_round_trips_total Database round trips (statements, BEGIN, COMMIT, ROLLBACK, "
                 "pings) made while answering, by route.\n"
                 "# TYPE firemode_db_round_trips_total counter\n");
    for (size_t i = 0; i <= NROUTES; i++) {
        unsigned long long n = atomic_load_explicit(&m_db_trips[i], memory_order_relaxed);
        if (!n) continue;
        buf_reset(&label);
        route_label(&label, i);
        buf_printf(&b, "firemode_db_round_trips_total{route=\"%s\"} %llu\n", label.data, n);
    }
    buf_puts(&b, "# HELP firemode_db_connection_state Each worker's database connection as of its latest request: "
                 "1 for its state (connected, or reconnecting: lost or not opened, the next request tries again).\n"
                 "# TYPE firemode_db_connection_state gauge\n");
    int nw = atomic_load_explicit(&m_nworkers, memory_order_relaxed);
    for (int w = 0; w < nw && w < MAX_WORKERS; w++) {
        int s = atomic_load_explicit(&m_worker_state[w], memory_order_relaxed);
        if (s == WS_UNSEEN) continue;
        buf_printf(&b,
                   "firemode_db_connection_state{worker=\"%d\",state=\"connected\"} %d\n"
                   "firemode_db_connection_state{worker=\"%d\",state=\"reconnecting\"} %d\n",
                   w, s == WS_CONNECTED, w, s == WS_RECONNECTING);
    }
    buf_printf(&b,
               "# HELP firemode_build_info The running server's version and build.\n"
               "# TYPE firemode_build_info gauge\n"
               "firemode_build_info{version=\"%s\",build=\"%s\"} 1\n",
               FIREMODE_VERSION, version_build());
    buf_free(&label);
    resp_text(x->r, 200, "text/plain; version=0.0.4", &b);
}

/* ---- dispatch ------------------------------------------------------------ */

/* Whether the caller may list (or follow the changes of) c: admins only
 * for an admin-only collection (users). */
static bool collection_allowed(const struct ctx *x, const struct collection *c)
{
    return !c->admin_only || x->who.is_admin;
}

/* Whether the caller may see item id of c at all (else a 404): users are
 * seen by an admin, or each by themself; the other collections' scopes are
 * in their statements. */
static bool item_visible(const struct ctx *x, const struct collection *c, const char *id)
{
    return c->scope != SCOPE_GLOBAL || x->who.is_admin || strcmp(id, x->who.user_id) == 0;
}

static bool no_query(struct ctx *x)
{
    if (x->r->url.npairs == 0) return true;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(x->r->url.pairs[0].key_len > 40 ? 40 : x->r->url.pairs[0].key_len),
             x->r->url.pairs[0].key);
    resp_invalid(x->r, "query", name, "This endpoint takes no query parameters", "extra_forbidden");
    return false;
}

static void handle(struct request *r, struct store *st, const struct store_err *open_err);

/* Answers the request.  st is this worker's database connection, or NULL
 * when it could not be opened (open_err says why). */
static void api_handle(struct request *r, struct store *st, const struct store_err *open_err)
{
    unsigned long long before = st ? store_round_trips(st) : 0;
    /* answers that need no database (/healthz, /openapi.json, /docs) may
     * come from a thread that has none: they say nothing of a worker */
    bool needs_db = st || open_err;
    if (needs_db) note_worker_state(st); /* a /metrics request shows its own worker too */
    handle(r, st, open_err);
    if (st) count_round_trips(r, store_round_trips(st) - before);
    if (needs_db) note_worker_state(st);
}

static void handle(struct request *r, struct store *st, const struct store_err *open_err)
{
    const struct route *rt = r->route;
    struct ctx x = {.r = r, .st = st, .d = st ? store_dialect(st) : NULL};
    if (rt->kind == RK_OPENAPI) {
        if (no_query(&x)) openapi_serve(r);
        return;
    }
    if (rt->kind == RK_DOCS) {
        if (no_query(&x)) docs_serve(r, r->url.nseg > 1 ? r->url.seg[1] : NULL, r->url.nseg > 1 ? r->url.seg_len[1] : 0);
        return;
    }
    if (rt->kind == RK_HEALTHZ) {
        struct buf b;
        buf_init(&b);
        buf_printf(&b, "{\"status\":\"ok\",\"version\":\"%s\",\"build\":\"%s\"}", FIREMODE_VERSION, version_build());
        resp_json(r, 200, &b);
        return;
    }
    struct store_err err = {0};
    if (!st) {
        if (rt->kind == RK_READYZ) {
            resp_header(r, "Retry-After", "1");
            resp_error(r, 503, "Not ready: cannot reach the database");
            return;
        }
        api_store_error(r, open_err);
        return;
    }
    if (rt->kind == RK_READYZ) {
        if (store_ping(st, &err) < 0) {
            resp_header(r, "Retry-After", "1");
            resp_error(r, 503, "Not ready: cannot reach the database");
        } else {
            struct buf b;
            buf_init(&b);
            buf_puts(&b, "{\"status\":\"ready\"}");
            resp_json(r, 200, &b);
        }
        return;
    }
    const struct collection *c = rt->coll;
    if ((rt->kind == RK_COLLECTION || rt->kind == RK_ITEM) && (r->method == M_GET || r->method == M_HEAD) &&
        acct_hint(&x) == 0) {
        /* a list or an item with the identity hint: one statement reads it
         * and confirms who asks; any other outcome (the guard failed, an
         * item not found, or an answer given before the statement ran) is
         * taken back and the request runs again, authenticated in full */
        int mark = r->nheaders;
        if (rt->kind == RK_COLLECTION ? collection_allowed(&x, c) : item_visible(&x, c, r->path_id)) {
            if (rt->kind == RK_COLLECTION) crud_list(&x, c);
            else crud_get(&x, c, r->path_id);
            if (x.guard_store_error) return; /* answered 503 (or such): final */
            if (x.guard_confirmed) {
                atomic_fetch_add_explicit(&m_hint_confirmed, 1, memory_order_relaxed);
                return;
            }
            if (x.guard_failed) atomic_fetch_add_explicit(&m_hint_refused, 1, memory_order_relaxed);
        }
        if (r->responded) resp_rewind(r, mark);
        acct_forget_hint(&x);
    }
    if (r->app_state) x.who = *(const struct caller *)r->app_state; /* checked before the body (api_authorize) */
    else if (acct_authenticate(&x) < 0) return;

    switch (rt->kind) {
    case RK_METRICS:
        if (no_query(&x)) metrics(&x);
        return;
    case RK_ME:
        if (no_query(&x)) crud_get(&x, &coll_users, x.who.user_id);
        return;
    case RK_TOKENS:
        if (!no_query(&x)) return;
        if (r->method == M_POST) acct_new_token(&x, r->path_id);
        else acct_list_tokens(&x, r->path_id);
        return;
    case RK_TOKEN:
        if (no_query(&x)) acct_revoke_token(&x, r->path_id, r->path_sub);
        return;
    case RK_MEMBERS:
        if (!no_query(&x)) return;
        if (r->method == M_POST) acct_add_member(&x, r->path_ws);
        else acct_list_members(&x, r->path_ws);
        return;
    case RK_MEMBER:
        if (no_query(&x)) acct_remove_member(&x, r->path_ws, r->path_sub);
        return;
    case RK_COLLECTION:
        if (!collection_allowed(&x, c)) {
            resp_error(r, 403, "Only admins may do this");
            return;
        }
        if (r->method == M_POST) {
            if (no_query(&x)) crud_create(&x, c);
        } else {
            crud_list(&x, c);
        }
        return;
    case RK_CHANGES:
        if (!collection_allowed(&x, c)) {
            resp_error(r, 403, "Only admins may do this");
            return;
        }
        crud_changes(&x, c);
        return;
    case RK_ITEM:
        if (!item_visible(&x, c, r->path_id)) {
            crud_not_found(&x, c);
            return;
        }
        switch (r->method) {
        case M_GET:
        case M_HEAD: crud_get(&x, c, r->path_id); return;
        case M_PATCH:
            if (no_query(&x)) crud_update(&x, c, r->path_id, BODY_PATCH);
            return;
        case M_PUT:
            if (no_query(&x)) crud_update(&x, c, r->path_id, BODY_PUT);
            return;
        case M_DELETE: crud_delete(&x, c, r->path_id); return;
        default: break;
        }
        break;
    default:
        break;
    }
    resp_error(r, 405, "Method Not Allowed");
}

/* ---- what the HTTP layer serves ------------------------------------------- */

static const char *g_db_url;

/* A worker's context: its own database connection, NULL while it cannot be
 * opened (each request tries again, and answers 503 with why if it fails). */
struct api_worker {
    struct store *st;
};

static void *app_worker_open(void)
{
    struct api_worker *w = xcalloc(1, sizeof *w);
    struct store_err err = {0};
    w->st = store_open(g_db_url, &err); /* now, not in front of the first request */
    return w;
}

static void app_worker_close(void *worker)
{
    struct api_worker *w = worker;
    store_close(w->st);
    free(w);
}

static struct store *app_store(struct api_worker *w, struct store_err *err)
{
    if (!w->st) w->st = store_open(g_db_url, err);
    return w->st;
}

static void app_authorize(struct request *r, void *worker)
{
    struct store_err err = {0};
    struct store *st = app_store(worker, &err);
    api_authorize(r, st, &err);
}

static void app_handle(struct request *r, void *worker)
{
    if (!worker) { /* a no_database route, on the I/O thread */
        api_handle(r, NULL, NULL);
        return;
    }
    struct store_err err = {0};
    struct store *st = app_store(worker, &err);
    api_handle(r, st, &err);
}

const struct http_app *api_app(const char *db_url)
{
    static const struct http_app app = {
        .worker_open = app_worker_open,
        .worker_close = app_worker_close,
        .precheck = api_precheck,
        .authorize = app_authorize,
        .handle = app_handle,
        .observe = api_observe,
    };
    g_db_url = db_url;
    return &app;
}
