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
};

extern const char *api_node_id;

/* ---- routes (api.c) ---- */

enum rkind { RK_HEALTHZ, RK_READYZ, RK_METRICS, RK_ME, RK_COLLECTION, RK_ITEM, RK_TOKENS, RK_MEMBERS, RK_OPENAPI, RK_DOCS };

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
/* 1 if the caller may see workspace ws, 0 if not (answered 404), -1 on a
 * storage error (answered). */
int crud_workspace_visible(struct ctx *x, const char *ws);
/* Takes the next position in the order of writes (the counter row: see
 * crud.c for when a write may take it). */
int crud_next_seq(struct ctx *x, int64_t *seq, struct store_err *err);
/* Stamps the next position in the order of writes on item id: the last
 * statement of every write transaction before COMMIT (see crud.c). */
int crud_stamp_seq(struct ctx *x, const struct collection *c, const char *id, struct store_err *err);

/* ---- accounts (accounts.c) ---- */

/* Authenticates the bearer token; answers 401/403 and returns -1 when the
 * caller may not proceed. */
int acct_authenticate(struct ctx *x);
void acct_me(struct ctx *x);
void acct_new_token(struct ctx *x, const char *user_id);
void acct_add_member(struct ctx *x, const char *ws);

#endif
