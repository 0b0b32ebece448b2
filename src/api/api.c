/*
 * api — routes, authentication, dispatch, the storage-error map, metrics.
 *
 * Routes are a table: path segments ("{ws}" a workspace id, "{id}" an item
 * id, both UUIDs, anything else 404), a kind, and the collection the generic
 * engine serves there.  Methods allowed on a collection route are fixed;
 * on an item route they come from the collection's table.
 */
#include "api.h"

#include "../util/text.h"
#include "api_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

const char *api_node_id = "node";

void api_init(const char *node_id)
{
    api_node_id = node_id;
    collections_init();
    openapi_init();
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
    {{"users", "{id}"}, RK_ITEM, &coll_users, 0, false},
    {{"users", "{id}", "tokens"}, RK_TOKENS, NULL, M_POST | M_OPTIONS, false},
    {{"workspaces"}, RK_COLLECTION, &coll_workspaces, COLL_METHODS, false},
    {{"workspaces", "{id}"}, RK_ITEM, &coll_workspaces, 0, false},
    {{"workspaces", "{ws}", "members"}, RK_MEMBERS, NULL, M_POST | M_OPTIONS, false},
    {{"workspaces", "{ws}", "documents"}, RK_COLLECTION, &coll_documents, COLL_METHODS, false},
    {{"workspaces", "{ws}", "documents", "{id}"}, RK_ITEM, &coll_documents, 0, false},
    {{"workspaces", "{ws}", "jobs"}, RK_COLLECTION, &coll_jobs, COLL_METHODS, false},
    {{"workspaces", "{ws}", "jobs", "{id}"}, RK_ITEM, &coll_jobs, 0, false},
    {{"workspaces", "{ws}", "configs"}, RK_COLLECTION, &coll_configs, COLL_METHODS, false},
    {{"workspaces", "{ws}", "configs", "{id}"}, RK_ITEM, &coll_configs, 0, false},
    {{"v1", "tests", "sessions"}, RK_COLLECTION, &coll_test_sessions, M_POST | M_OPTIONS, false},
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

bool api_precheck(struct request *r)
{
    const struct route *rt = match(r);
    if (!rt) {
        resp_error(r, 404, "Not Found");
        return true;
    }
    r->route = rt;
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

void api_store_error(struct request *r, const struct store_err *e)
{
    switch (e->kind) {
    case STORE_UNIQUE:
        resp_error(r, 409, "Conflict with an existing row");
        break;
    case STORE_CONSTRAINT:
        resp_invalid(r, "body", NULL, "The values break a rule of the data (a reference or a bound)", "value_error");
        break;
    case STORE_UNAVAILABLE:
    case STORE_BUSY:
        fprintf(stderr, "firemode: database: %s (rid=%s)\n", e->msg, r->request_id);
        resp_header(r, "Retry-After", "1");
        resp_error(r, 503, "Database unavailable, try again shortly (%s)",
                   e->kind == STORE_BUSY ? "busy" : "cannot reach the database");
        break;
    default:
        fprintf(stderr, "firemode: internal error: %s\n", e->msg);
        resp_error(r, 500, "Internal Server Error");
    }
}

static atomic_ullong m_status[6];
static atomic_ullong m_dur_us;
static atomic_ullong m_count;

void api_observe(const char *method, int status, int64_t dur_us)
{
    int cls = status >= 100 && status < 600 ? status / 100 : 0;
    atomic_fetch_add(&m_status[cls], 1);
    atomic_fetch_add(&m_dur_us, (unsigned long long)(dur_us > 0 ? dur_us : 0));
    atomic_fetch_add(&m_count, 1);
}

static void metrics(struct ctx *x)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "# HELP firemode_http_requests_total HTTP requests answered, by status class.\n"
                 "# TYPE firemode_http_requests_total counter\n");
    for (int i = 1; i < 6; i++)
        buf_printf(&b, "firemode_http_requests_total{code=\"%dxx\"} %llu\n", i, atomic_load(&m_status[i]));
    buf_printf(&b,
               "# HELP firemode_http_request_duration_seconds Time from request line to response.\n"
               "# TYPE firemode_http_request_duration_seconds summary\n"
               "firemode_http_request_duration_seconds_sum %.6f\n"
               "firemode_http_request_duration_seconds_count %llu\n",
               (double)atomic_load(&m_dur_us) / 1e6, atomic_load(&m_count));
    resp_text(x->r, 200, "text/plain; version=0.0.4", &b);
}

/* ---- dispatch ------------------------------------------------------------ */

static bool no_query(struct ctx *x)
{
    if (x->r->url.npairs == 0) return true;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(x->r->url.pairs[0].key_len > 40 ? 40 : x->r->url.pairs[0].key_len),
             x->r->url.pairs[0].key);
    resp_invalid(x->r, "query", name, "This endpoint takes no query parameters", "extra_forbidden");
    return false;
}

void api_handle(struct request *r, struct store *st, const struct store_err *open_err)
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
        buf_puts(&b, "{\"status\":\"ok\"}");
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
    if (acct_authenticate(&x) < 0) return;

    const struct collection *c = rt->coll;
    switch (rt->kind) {
    case RK_METRICS:
        if (no_query(&x)) metrics(&x);
        return;
    case RK_ME:
        if (no_query(&x)) crud_get(&x, &coll_users, x.who.user_id);
        return;
    case RK_TOKENS:
        if (no_query(&x)) acct_new_token(&x, r->path_id);
        return;
    case RK_MEMBERS:
        if (no_query(&x)) acct_add_member(&x, r->path_ws);
        return;
    case RK_COLLECTION:
        if (c->admin_only && !x.who.is_admin) {
            resp_error(r, 403, "Only admins may do this");
            return;
        }
        if (r->method == M_POST) {
            if (no_query(&x)) crud_create(&x, c);
        } else {
            crud_list(&x, c);
        }
        return;
    case RK_ITEM:
        /* users: an admin sees everyone, anyone else only themself */
        if (c->scope == SCOPE_GLOBAL && !x.who.is_admin && strcmp(r->path_id, x.who.user_id) != 0) {
            resp_error(r, 404, "%c%s not found", c->item_name[0] - 32, c->item_name + 1);
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
