/*
 * api_int — what the pieces of the API layer share.
 */
#ifndef FM_API_INT_H
#define FM_API_INT_H

#include "../http/http.h"
#include "../model/collection.h"
#include "../store/store.h"
#include "../util/buf.h"

/* The account FIREMODE_ADMIN_TOKEN makes an admin: reserved, no API write may
 * give a user this email. */
#define ACCOUNTS_BOOTSTRAP_EMAIL "admin@firemode.local"
/* JSON values (objects, arrays, scalars) a request body may hold: enough for
 * any item (at most 32 fields and 32 tags), small enough that parsing costs
 * little memory. */
#define BODY_MAX_VALUES 4096

struct caller {
    char user_id[37];
    bool is_admin;
};

/* One request being handled. */
struct ctx {
    struct request *r;
    struct store *st;
    const struct dialect *d;
    struct caller who;
    /* who came from the identity hint (acct_hint): the statement must
     * confirm it (plan_scope.guard_hash); guard_failed when it did not, and
     * nothing may then be answered from what it read */
    bool guarded, guard_failed, guard_confirmed, guard_store_error;
    char guard_hash[65];
};

extern const char *api_node_id;
/* --require-if-match: PUT, PATCH and DELETE without If-Match are a 428. */
extern bool api_require_if_match;
/* The database's token key (store_token_key), read once at start. */
extern unsigned char api_token_key[32];

/* ---- routes (api.c) ---- */

enum rkind {
    RK_HEALTHZ, RK_READYZ, RK_METRICS, RK_ME, RK_COLLECTION, RK_ITEM, RK_CHANGES, RK_TOKENS, RK_TOKEN, RK_MEMBERS, RK_MEMBER,
    RK_OPENAPI, RK_DOCS
};

/* One row of the route table: path segments ("{ws}" a workspace id and
 * "{id}" an item id, both UUIDs, else 404; "{file}" any name), a kind, and
 * the collection the generic engine serves there. */
struct route {
    const char *seg[5];
    enum rkind kind;
    const struct collection *coll;
    unsigned methods; /* 0: the collection's item_methods */
    bool public;      /* no token needed */
};

/* The route table (n rows), and the methods a route serves. */
const struct route *api_routes(size_t *n);
unsigned api_route_methods(const struct route *rt);

/* ---- the OpenAPI document (openapi.c) and Swagger UI (docs.c) ---- */

/* Builds the document from the route and collection tables; once, at
 * start (api_init), before any request. */
void openapi_init(void);
/* The document as JSON text (NUL-terminated, lives until exit). */
const char *openapi_json(size_t *len);
/* Answers GET/HEAD /openapi.json. */
void openapi_serve(struct request *r);
/* Answers GET/HEAD /docs (name NULL) and /docs/<name>. */
void docs_serve(struct request *r, const char *name, size_t len);

/* The one map from a storage error to an HTTP answer. */
void api_store_error(struct request *r, const struct store_err *e);

/* Renders the item in row (columns in c->select_list order) as JSON. */
void render_item(struct buf *b, const struct collection *c, const struct store_row *row);

/* ---- body validation (body.c) ---- */

enum body_mode { BODY_CREATE, BODY_PATCH, BODY_PUT };

struct body_value {
    bool present; /* given by the client (or filled by a default on create/PUT) */
    struct store_param p;
    char *owned;  /* storage behind p.s, if any */
};

struct body {
    struct body_value v[COLLECTION_MAX_FIELDS]; /* indexed like c->fields */
    void *json;              /* the parsed document (json_t *) */
};

/* Parses r->body as a JSON object and validates it against c for mode.
 * On a client error answers 422/415 and returns -1; else 0.  body_free
 * always (NULL-safe parts). */
int body_parse(struct ctx *x, const struct collection *c, enum body_mode mode, struct body *out);
void body_free(struct body *b);
/* The string value of a required FT_UUID/FT_TEXT member (mini bodies like
 * {"user_id": ...}); answers 422 and returns NULL when absent or invalid. */
const char *body_uuid_member(struct ctx *x, const char *name, char out[37]);
/* For endpoints that take no fields: no body, or an empty JSON object; a
 * field is a 422 naming it.  0, or -1 answered. */
int body_no_fields(struct ctx *x);

/* ---- the generic engine (crud.c) ---- */

void crud_list(struct ctx *x, const struct collection *c);
void crud_create(struct ctx *x, const struct collection *c);
void crud_get(struct ctx *x, const struct collection *c, const char *id);
void crud_update(struct ctx *x, const struct collection *c, const char *id, enum body_mode mode);
void crud_delete(struct ctx *x, const struct collection *c, const char *id);
void crud_changes(struct ctx *x, const struct collection *c);
/* 404 "<Item> not found" for an item of c (the one wording). */
void crud_not_found(struct ctx *x, const struct collection *c);
/* 1 if the caller may see workspace ws, 0 if not (answered 404), -1 on a
 * storage error (answered). */
int crud_workspace_visible(struct ctx *x, const char *ws);
/* Reads the item id of c that the caller may see into out (JSON) and its
 * stored clock text into clock (may be NULL).  1 found, 0 not, -1 error. */
int crud_fetch_item(struct ctx *x, const struct collection *c, const char *id, bool include_deleted,
                    struct buf *out, struct buf *clock, struct store_err *err);
/* The one way an item is answered (GET, HEAD, POST, PUT, PATCH, and the
 * `current` of a 409/412): sets its ETag from clock (stored JSON text) and,
 * for GET/HEAD, answers 304 when If-None-Match matches it. */
void crud_answer_item(struct ctx *x, int status, struct buf *item, const struct buf *clock);

/* ---- the write path (write.c) ---- */

/* One write transaction.  Every write of the server (the CRUD engine,
 * member adds, the admin bootstrap, `user add`) runs in write_run, which
 * owns what all of them must share: the transaction and its isolation, the
 * position in the order of writes, and retries of serialization failures
 * and deadlocks.  Locks are taken in one order everywhere: the written
 * item first (write_lock_item: FOR NO KEY UPDATE on PostgreSQL, which the
 * foreign-key checks of rows referencing it do not wait for), references
 * only ever as KEY SHARE (foreign keys), so no two writes wait on each
 * other in a cycle. */
struct wtx {
    struct store *st;
    const struct dialect *d;
    int64_t pos;   /* the seq every row written here gets (PostgreSQL: its trigger's) */
    int attempt;   /* 0 first, then 1.. on retries */
    bool committed; /* write_exec_last ran: the transaction is over */
};

/* W_REFUSED: the body decided not to write (a limit, nothing to change)
 * and left the answer to its caller; rolled back like W_ANSWERED. */
enum { W_DONE = 0, W_ANSWERED = 1, W_REFUSED = 2, W_FAIL = -1 };

/* body runs inside the transaction and returns W_DONE (commit), W_ANSWERED
 * (it answered the request: roll back), W_REFUSED (roll back, the caller
 * answers) or W_FAIL (err set: roll back).
 * On a retry it runs again from scratch, so it must reset what it fills.
 * write_run returns what body did, W_DONE only once committed (durable). */
typedef int (*write_body_fn)(struct wtx *w, void *arg, struct store_err *err);
int write_run(struct store *st, write_body_fn body, void *arg, struct store_err *err);
/* The same, SERIALIZABLE (store_begin_tx): for a write that enforces a limit
 * by counting rows (tokens per user). */
int write_run_serializable(struct store *st, write_body_fn body, void *arg, struct store_err *err);

struct precond;
/* Locks the live item id of c within scope (FOR NO KEY UPDATE), reads its
 * clock and applies the precondition pre (NULL: none) there, with the row
 * locked.  On W_DONE, *clock holds the clock to store: merge(stored, the
 * client's) plus one on this server's entry.  W_ANSWERED: 404, 412, 409
 * or 500 answered (x->r must then be set); W_FAIL: err. */
struct plan_scope;
int write_lock_item(struct wtx *w, struct ctx *x, const struct collection *c, const struct plan_scope *scope,
                    const char *id, const struct precond *pre, struct buf *clock, struct store_err *err);
/* A non-admin's write in a workspace holds their membership (FOR SHARE)
 * until COMMIT, so a removal racing the write is ordered with it: the
 * write is checked against live membership inside its transaction.
 * W_DONE, W_ANSWERED (404, x->r set), W_FAIL. */
int write_lock_membership(struct wtx *w, struct ctx *x, const char *ws, const char *user_id, struct store_err *err);
/* The body's last statement, run and committed in one (store_exec_commit:
 * one round trip on PostgreSQL, with the BEGIN and the statements queued by
 * store_exec_later).  Returns its row count; once it returns the
 * transaction is over.  On success it is durable and the body returns
 * W_DONE, or W_ANSWERED only where what it committed is nothing (a
 * statement that found no row to write); on -1 it returns W_FAIL (err set;
 * a STORE_RETRY runs the transaction again, as always). */
long write_exec_last(struct wtx *w, const char *sql, const struct store_param *p, int np, store_row_fn fn, void *ctx,
                     struct store_err *err);
/* A write in workspace ws needs it: a non-admin's live membership, held
 * FOR SHARE (write_lock_membership), or, for an admin, the workspace.
 * W_DONE, W_ANSWERED (404 "Workspace not found"), W_FAIL. */
int write_check_workspace(struct wtx *w, struct ctx *x, const char *ws, struct store_err *err);
/* The answer to a failed precondition (409/412): {"detail", "current"}. */
int write_answer_conflict(struct wtx *w, struct ctx *x, const struct collection *c, const char *id, int status,
                          const char *detail, struct store_err *err);

/* ---- accounts (accounts.c) ---- */

/* Authenticates the bearer token; answers 401/403 and returns -1 when the
 * caller may not proceed. */
int acct_authenticate(struct ctx *x);
void acct_me(struct ctx *x);
/* The identity the bearer token had when this worker last checked it
 * fully (into x->who, x->guarded set), or -1 if there is none to go on:
 * then acct_authenticate.  See accounts.c, "the identity hint". */
int acct_hint(struct ctx *x);
/* The hint was wrong (the guard failed): drop it and x's identity. */
void acct_forget_hint(struct ctx *x);
void acct_new_token(struct ctx *x, const char *user_id);
/* GET /users/{id}/tokens and DELETE /users/{id}/tokens/{token_id}. */
void acct_list_tokens(struct ctx *x, const char *user_id);
void acct_revoke_token(struct ctx *x, const char *user_id, const char *token_id);
void acct_add_member(struct ctx *x, const char *ws);
void acct_list_members(struct ctx *x, const char *ws);
void acct_remove_member(struct ctx *x, const char *ws, const char *user_id);

#endif
