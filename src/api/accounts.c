/*
 * accounts — bearer tokens, /me, new tokens, workspace members, and the
 * users the command line and FIREMODE_ADMIN_TOKEN create.
 *
 * A token is shown once; the database keeps its SHA-256.  Lookup is by the
 * hash (indexed), on every request, with nothing cached in the server: a
 * revoked token (its row deleted) is refused by every server of a database
 * from the next request on.  The stored hash is then compared in constant
 * time.  last_used_at is written by authentication at most once a minute
 * per token (TOKEN_TOUCH_US), so a busy token costs one small write a
 * minute, not one per request.  A user holds at most TOKENS_MAX tokens;
 * minting counts them under the user row's lock, so two servers cannot
 * both mint the last one.
 */
#include "api.h"

#include "../util/crypto.h"
#include "../util/text.h"
#include "../util/vclock.h"
#include "api_int.h"

#include "../grammar/plan.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOTSTRAP_EMAIL ACCOUNTS_BOOTSTRAP_EMAIL
#define TOKENS_MAX 100
#define TOKEN_TOUCH_US (60 * 1000000LL)
static int find_user(void *ctx, const struct store_row *row);

#define BEARER_HINT "expected \"Authorization: Bearer <token>\""

struct auth_row {
    bool found, active, admin, used;
    char user_id[37];
    char hash[65];
    char token_id[37];
    int64_t last_used_at;
};

static int read_auth(void *ctx, const struct store_row *row)
{
    struct auth_row *a = ctx;
    a->found = true;
    snprintf(a->user_id, sizeof a->user_id, "%s", row->vals[0] ? row->vals[0] : "");
    a->active = store_row_true(row, 1);
    a->admin = store_row_true(row, 2);
    snprintf(a->hash, sizeof a->hash, "%s", row->vals[3] ? row->vals[3] : "");
    snprintf(a->token_id, sizeof a->token_id, "%s", row->vals[4] ? row->vals[4] : "");
    a->used = row->vals[5] != NULL;
    a->last_used_at = row->vals[5] ? strtoll(row->vals[5], NULL, 10) : 0;
    return 1;
}

/* Records that the token was used now, if its last record is a minute old
 * (the WHERE makes servers racing to do it write once).  Best effort: a
 * failure costs the request nothing. */
/* Returns the last_used_at on record after it: now, or the earlier one if
 * that is under a minute old or the write failed. */
static int64_t touch_token(struct ctx *x, const struct auth_row *a)
{
    int64_t now = x->r->now_us;
    if (a->used && now - a->last_used_at < TOKEN_TOUCH_US) return a->last_used_at;
    char sql[200];
    char c = x->d->param_prefix;
    snprintf(sql, sizeof sql,
             "UPDATE api_tokens SET last_used_at = %c1 WHERE token_id = %c2 AND (last_used_at IS NULL OR "
             "last_used_at < %c3)",
             c, c, c);
    struct store_param p[3] = {sp_int(now), sp_text(a->token_id, strlen(a->token_id)), sp_int(now - TOKEN_TOUCH_US)};
    struct store_err err = {0};
    if (store_exec(x->st, sql, p, 3, NULL, NULL, &err) < 0) {
        fprintf(stderr, "firemode: could not record a token's use: %s (rid=%s)\n", err.msg, x->r->request_id);
        return a->used ? a->last_used_at : now - TOKEN_TOUCH_US; /* the next full check tries again */
    }
    return now;
}

static int read_active(void *ctx, const struct store_row *row)
{
    struct { bool found, active; } *u = ctx;
    u->found = true;
    u->active = store_row_true(row, 0);
    return 1;
}

static int unauthorized(struct request *r, const char *why)
{
    resp_header(r, "WWW-Authenticate", "Bearer");
    resp_error(r, 401, "%s", why);
    return -1;
}

/* The SHA-256 (hex) of the bearer token of r's Authorization header; -1
 * (answered 401 when `answer`) if there is none or it is malformed. */
static int bearer_hash(struct request *r, char hash[65], bool answer)
{
    const char *h = req_header(r, "Authorization");
    if (!h) return answer ? unauthorized(r, "Not authenticated: " BEARER_HINT) : -1;
    size_t n = strlen(h);
    if (n < 7 || !text_ieq(h, 6, "Bearer") || h[6] != ' ')
        return answer ? unauthorized(r, "Malformed Authorization header: " BEARER_HINT) : -1;
    const char *tok = h + 7;
    size_t tl = n - 7;
    text_trim(&tok, &tl);
    if (tl == 0) return answer ? unauthorized(r, "No token after \"Bearer\": " BEARER_HINT) : -1;
    if (tl > 256) return answer ? unauthorized(r, "Invalid token") : -1;
    crypto_sha256_hex(tok, tl, hash);
    return 0;
}

/* ---- the identity hint ------------------------------------------------
 *
 * What a token meant the last time this worker checked it fully: a hint,
 * never an answer.  A request that uses it (acct_hint) runs its statement
 * with a guard, a column the database computes in the same statement and
 * snapshot as the data -- the token still exists and belongs to this
 * user, who is still active and exactly as admin as the hint says
 * (plan_scope.guard_hash) -- and the answer is kept only when the guard
 * holds; else it is thrown away and the request is authenticated in full.
 * So a revoked token, a deactivated user or a changed admin flag count
 * from the next request on, as without the hint, and a list costs one
 * statement instead of two (on PostgreSQL one round trip instead of two).
 * Entries expire with TOKEN_TOUCH_US, so the full check still records a
 * token's use once a minute.  Per worker thread: no lock. */
#define HINT_SETS 64
#define HINT_WAYS 4 /* a set holds this many tokens; the least recently checked one goes */
struct hint {
    bool used;
    char hash[65];
    struct caller who;
    int64_t last_used_at; /* as the full check saw it */
    uint64_t stamp;       /* when it was last stored (the thread's own counter) */
};
static _Thread_local struct hint tl_hints[HINT_SETS][HINT_WAYS];
static _Thread_local uint64_t tl_hint_clock;

/* The set of a token hash: its first hex digits (the hash is uniform). */
static struct hint *hint_set(const char *hash)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return tl_hints[v % HINT_SETS];
}

/* The entry of hash, or NULL. */
static struct hint *hint_find(const char *hash)
{
    struct hint *set = hint_set(hash);
    for (int w = 0; w < HINT_WAYS; w++)
        if (set[w].used && crypto_equal(set[w].hash, hash, 64)) return &set[w];
    return NULL;
}

/* Where to store hash: its own entry, a free one, or the oldest. */
static struct hint *hint_place(const char *hash)
{
    struct hint *h = hint_find(hash);
    if (h) return h;
    struct hint *set = hint_set(hash), *old = &set[0];
    for (int w = 0; w < HINT_WAYS; w++) {
        if (!set[w].used) return &set[w];
        if (set[w].stamp < old->stamp) old = &set[w];
    }
    return old;
}

int acct_hint(struct ctx *x)
{
    char hash[65];
    if (bearer_hash(x->r, hash, false) < 0) return -1;
    struct hint *h = hint_find(hash);
    if (!h) return -1;
    if (x->r->now_us - h->last_used_at >= TOKEN_TOUCH_US) return -1; /* time to record its use */
    x->who = h->who;
    memcpy(x->guard_hash, hash, sizeof hash);
    x->guarded = true;
    x->guard_failed = x->guard_confirmed = x->guard_store_error = false;
    return 0;
}

void acct_forget_hint(struct ctx *x)
{
    struct hint *h = hint_find(x->guard_hash);
    if (h) h->used = false;
    x->guarded = false;
    x->guard_failed = x->guard_confirmed = x->guard_store_error = false;
    memset(&x->who, 0, sizeof x->who);
}

int acct_authenticate(struct ctx *x)
{
    struct request *r = x->r;
    char hash[65];
    if (bearer_hash(r, hash, true) < 0) return -1;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT u.user_id, u.is_active, u.is_admin, t.token_hash, t.token_id, t.last_used_at FROM api_tokens t "
             "JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = %c1",
             x->d->param_prefix);
    struct store_param p = sp_text(hash, 64);
    struct auth_row a = {0};
    struct store_err err = {0};
    if (store_exec(x->st, sql, &p, 1, read_auth, &a, &err) < 0) {
        api_store_error(r, &err);
        return -1;
    }
    struct hint *h = hint_find(hash);
    if (h) h->used = false;
    if (!a.found || strlen(a.hash) != 64 || !crypto_equal(a.hash, hash, 64))
        return unauthorized(r, "Invalid token (unknown or revoked)");
    int64_t recorded = touch_token(x, &a);
    if (!a.active) {
        resp_error(r, 403, "This user is inactive");
        return -1;
    }
    memcpy(x->who.user_id, a.user_id, sizeof a.user_id);
    x->who.is_admin = a.admin;
    h = hint_place(hash);
    h->used = true;
    h->stamp = ++tl_hint_clock;
    memcpy(h->hash, hash, sizeof h->hash);
    h->who = x->who;
    h->last_used_at = recorded; /* the hint lasts until the next record is due */
    return 0;
}

/* Inserts a token for user_id; fills token and token_id. */
static int issue_token(struct store *st, const char *user_id, char token[47], char token_id[37], struct store_err *err)
{
    const struct dialect *d = store_dialect(st);
    char hash[65], sql[200];
    crypto_token_new(token);
    crypto_sha256_hex(token, strlen(token), hash);
    uuid7_new(token_id);
    snprintf(sql, sizeof sql, "INSERT INTO api_tokens (token_id, user_id, token_hash, created_at) VALUES (%c1, %c2, %c3, %c4)",
             d->param_prefix, d->param_prefix, d->param_prefix, d->param_prefix);
    struct store_param p[4] = {sp_text(token_id, 36), sp_text(user_id, strlen(user_id)), sp_text(hash, 64),
                               sp_int(time_now_us())};
    /* sent with the COMMIT (PostgreSQL), which reports its failure */
    return store_exec_later(st, sql, p, 4, err);
}

/* The body of POST /users/{id}/tokens: none, or an empty JSON object.
 * Answers 422 (naming the first field sent) and returns false otherwise. */
static bool empty_body(struct ctx *x)
{
    struct request *r = x->r;
    const char *p = r->body.data;
    size_t n = r->body.len;
    text_trim(&p, &n);
    if (n == 0) return true;
    json_error_t jerr;
    json_t *j = n <= 65536 ? json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    bool ok = false;
    if (!j || !json_is_object(j)) {
        resp_invalid(r, "body", NULL, "This endpoint takes no body, or an empty JSON object {}", "json_invalid");
    } else if (json_object_size(j) > 0) {
        char k[80];
        snprintf(k, sizeof k, "%s", json_object_iter_key(json_object_iter(j)));
        resp_invalid(r, "body", k, "Extra inputs are not permitted (this endpoint takes no fields)", "extra_forbidden");
    } else {
        ok = true;
    }
    json_decref(j);
    return ok;
}

/* An admin may act on any user's tokens, anyone else on their own; 404
 * otherwise (answered), as if the user did not exist. */
static bool may_manage_tokens(struct ctx *x, const char *user_id)
{
    if (x->who.is_admin || strcmp(user_id, x->who.user_id) == 0) return true;
    resp_error(x->r, 404, "User not found");
    return false;
}

static int read_count(void *ctx, const struct store_row *row)
{
    *(long *)ctx = row->vals[0] ? strtol(row->vals[0], NULL, 10) : 0;
    return 0;
}

struct new_token {
    const char *user_id;
    char token[47], token_id[37];
    long count;
    bool found;
};

/* Minting locks the user row, so minting for one user is ordered and the
 * limit holds under concurrency (SQLite: the write lock). */
static int new_token_body(struct wtx *w, void *arg, struct store_err *err)
{
    struct new_token *t = arg;
    char sql[240];
    char c = w->d->param_prefix;
    struct store_param p = sp_text(t->user_id, strlen(t->user_id));
    /* the user row locked, and their tokens counted, in one statement (a
     * SERIALIZABLE transaction: the count is the snapshot's, and a mint
     * that commits after it makes this one fail and run again) */
    snprintf(sql, sizeof sql,
             "SELECT (SELECT COUNT(*) FROM api_tokens a WHERE a.user_id = %c1) FROM users WHERE user_id = %c1%s", c,
             c, w->d->for_update);
    t->count = 0;
    long n = store_exec(w->st, sql, &p, 1, read_count, &t->count, err);
    if (n < 0) return W_FAIL;
    t->found = n > 0;
    if (!t->found) return W_REFUSED;
    if (t->count >= TOKENS_MAX) return W_REFUSED;
    if (issue_token(w->st, t->user_id, t->token, t->token_id, err) < 0) return W_FAIL;
    return W_DONE;
}

void acct_new_token(struct ctx *x, const char *user_id)
{
    struct request *r = x->r;
    struct store_err err = {0};
    if (!may_manage_tokens(x, user_id) || !empty_body(x)) return;
    struct new_token t = {.user_id = user_id};
    int rc = write_run_serializable(x->st, new_token_body, &t, &err);
    if (rc == W_FAIL) {
        api_store_error(r, &err);
        return;
    }
    if (rc == W_REFUSED) {
        if (!t.found)
            resp_error(r, 404, "User not found");
        else
            resp_error(r, 409,
                       "This user holds %d tokens, the most a user may hold: revoke one first "
                       "(DELETE /users/%s/tokens/{token_id}; GET /users/%s/tokens lists them)",
                       TOKENS_MAX, user_id, user_id);
        return;
    }
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"token\":\"%s\",\"token_id\":\"%s\",\"user_id\":\"%s\"}", t.token, t.token_id, user_id);
    char loc[128];
    snprintf(loc, sizeof loc, "/users/%s/tokens/%s", user_id, t.token_id);
    resp_header(r, "Location", loc);
    resp_json(r, 201, &b);
}

/* Lists the tokens of user_id, newest first, into fn. */
struct token_list {
    accounts_token_fn fn;
    void *ctx;
};

static int read_token(void *ctx, const struct store_row *row)
{
    struct token_list *tl = ctx;
    if (!row->vals[0] || !row->vals[1]) return 0;
    return tl->fn(tl->ctx, row->vals[0], strtoll(row->vals[1], NULL, 10),
                  row->vals[2] ? strtoll(row->vals[2], NULL, 10) : -1);
}

static int list_tokens(struct store *st, const char *user_id, accounts_token_fn fn, void *ctx,
                       struct store_err *err)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT token_id, created_at, last_used_at FROM api_tokens WHERE user_id = %c1 "
             "ORDER BY created_at DESC, token_id DESC",
             store_dialect(st)->param_prefix);
    struct store_param p = sp_text(user_id, strlen(user_id));
    struct token_list tl = {fn, ctx};
    return store_exec(st, sql, &p, 1, read_token, &tl, err) < 0 ? -1 : 0;
}

static int render_token(void *ctx, const char *token_id, int64_t created_at, int64_t last_used_at)
{
    struct buf *b = ctx;
    buf_puts(b, b->data[b->len - 1] == '[' ? "{\"token_id\":" : ",{\"token_id\":");
    buf_json_str(b, token_id, strlen(token_id));
    buf_puts(b, ",\"created_at\":\"");
    time_format(b, created_at);
    buf_puts(b, "\",\"last_used_at\":");
    if (last_used_at >= 0) {
        buf_putc(b, '"');
        time_format(b, last_used_at);
        buf_putc(b, '"');
    } else {
        buf_puts(b, "null");
    }
    buf_putc(b, '}');
    return 0;
}

void acct_list_tokens(struct ctx *x, const char *user_id)
{
    struct request *r = x->r;
    struct store_err err = {0};
    if (!may_manage_tokens(x, user_id)) return;
    char sql[120];
    snprintf(sql, sizeof sql, "SELECT 1 FROM users WHERE user_id = %c1", x->d->param_prefix);
    struct store_param p = sp_text(user_id, strlen(user_id));
    long n = store_exec(x->st, sql, &p, 1, NULL, NULL, &err);
    if (n < 0) goto fail;
    if (n == 0) {
        resp_error(r, 404, "User not found");
        return;
    }
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"items\":[");
    if (list_tokens(x->st, user_id, render_token, &b, &err) < 0) {
        buf_free(&b);
        goto fail;
    }
    buf_puts(&b, "]}");
    resp_json(r, 200, &b);
    return;
fail:
    api_store_error(r, &err);
}

static long delete_token(struct store *st, const char *user_id, const char *token_id, struct store_err *err)
{
    char sql[160];
    char c = store_dialect(st)->param_prefix;
    struct store_param p[2] = {sp_text(token_id, strlen(token_id)), sp_null()};
    if (user_id) {
        snprintf(sql, sizeof sql, "DELETE FROM api_tokens WHERE token_id = %c1 AND user_id = %c2", c, c);
        p[1] = sp_text(user_id, strlen(user_id));
        return store_exec(st, sql, p, 2, NULL, NULL, err);
    }
    snprintf(sql, sizeof sql, "DELETE FROM api_tokens WHERE token_id = %c1", c);
    return store_exec(st, sql, p, 1, NULL, NULL, err);
}

void acct_revoke_token(struct ctx *x, const char *user_id, const char *token_id)
{
    struct store_err err = {0};
    if (!may_manage_tokens(x, user_id)) return;
    long n = delete_token(x->st, user_id, token_id, &err);
    if (n < 0) api_store_error(x->r, &err);
    else if (n == 0) resp_error(x->r, 404, "Token not found");
    else resp_empty(x->r, 204);
}

int accounts_list_tokens(struct store *st, const char *email, accounts_token_fn fn, void *ctx,
                         struct store_err *err)
{
    char sql[120], user_id[37] = "";
    const char *e = email;
    size_t n = strlen(email);
    text_trim(&e, &n);
    char *canon = text_ascii_lower(e, n);
    snprintf(sql, sizeof sql, "SELECT user_id FROM users WHERE email_canonical = %c1", store_dialect(st)->param_prefix);
    struct store_param p = sp_text(canon, n);
    long found = store_exec(st, sql, &p, 1, find_user, user_id, err);
    free(canon);
    if (found < 0) return -1;
    if (found == 0) return 1;
    return list_tokens(st, user_id, fn, ctx, err);
}

int accounts_revoke_token(struct store *st, const char *token_id, struct store_err *err)
{
    long n = delete_token(st, NULL, token_id, err);
    return n < 0 ? -1 : n == 0 ? 1 : 0;
}

/* Adding a member is a write to the workspace: it changes what the new
 * member's workspace list holds, so the workspace row takes a new position
 * (its change feed reports it to the member) and its clock ticks. */
struct member_add {
    struct ctx *x;
    const char *ws, *user_id;
    bool added;
};

static int member_add_body(struct wtx *w, void *arg, struct store_err *err)
{
    struct member_add *m = arg;
    struct ctx *x = m->x;
    struct request *r = x->r;
    char sql[400];
    struct buf clock;
    struct plan_scope sc = {m->ws, x->who.user_id, x->who.is_admin, NULL};
    int rc = W_FAIL;
    m->added = false;
    buf_init(&clock);
    if ((rc = write_lock_item(w, x, &coll_workspaces, &sc, m->ws, NULL, &clock, err)) != W_DONE) goto out;
    rc = W_FAIL;
    /* FOR SHARE: a deactivation racing this waits (or makes it run again) */
    snprintf(sql, sizeof sql, "SELECT is_active FROM users WHERE user_id = %c1%s", w->d->param_prefix,
             w->d->for_share);
    struct store_param p[4] = {sp_text(m->ws, 36), sp_text(m->user_id, 36), sp_int(r->now_us), sp_int(0)};
    struct { bool found, active; } u = {false, false};
    if (store_exec(w->st, sql, &p[1], 1, read_active, &u, err) < 0) goto out;
    if (!u.found || !u.active) {
        resp_invalid(r, "body", "user_id", u.found ? "This user is inactive" : "No user with this id",
                     u.found ? "value_error" : "foreign_key");
        rc = W_ANSWERED;
        goto out;
    }
    /* a member removed earlier is the same row, live again */
    char c = w->d->param_prefix;
    snprintf(sql, sizeof sql,
             "INSERT INTO workspace_members (workspace_id, user_id, created_at, seq) VALUES (%c1, %c2, %c3, %c4) "
             "ON CONFLICT (workspace_id, user_id) DO UPDATE SET removed_at = NULL, created_at = excluded.created_at,"
             " seq = excluded.seq WHERE workspace_members.removed_at IS NOT NULL",
             c, c, c, c);
    p[3] = sp_int(w->pos);
    long n = store_exec(w->st, sql, p, 4, NULL, NULL, err);
    if (n < 0) goto out;
    m->added = n > 0;
    if (m->added) {
        snprintf(sql, sizeof sql, "UPDATE workspaces SET vclock = %c1, seq = %c2 WHERE workspace_id = %c3",
                 w->d->param_prefix, w->d->param_prefix, w->d->param_prefix);
        struct store_param up[3] = {sp_text(clock.data, clock.len), sp_int(w->pos), sp_text(m->ws, 36)};
        if (store_exec_later(w->st, sql, up, 3, err) < 0) goto out; /* goes with the COMMIT */
    }
    rc = W_DONE;
out:
    buf_free(&clock);
    return rc;
}

void acct_add_member(struct ctx *x, const char *ws)
{
    struct request *r = x->r;
    struct store_err err = {0};
    char user_id[37];
    /* the workspace is checked by the write (write_lock_item: 404), in its
     * transaction; a 422 of the body is a 404 when it is not visible */
    if (!body_uuid_member(x, "user_id", user_id)) {
        (void)crud_workspace_visible(x, ws);
        return;
    }
    struct member_add m = {x, ws, user_id, false};
    int rc = write_run(x->st, member_add_body, &m, &err);
    if (rc == W_FAIL) api_store_error(r, &err);
    if (rc != W_DONE) return;
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"workspace_id\":\"%s\",\"user_id\":\"%s\"}", ws, user_id);
    if (m.added) {
        char loc[128];
        snprintf(loc, sizeof loc, "/workspaces/%s/members/%s", ws, user_id);
        resp_header(r, "Location", loc);
    }
    resp_json(r, m.added ? 201 : 200, &b);
}

/* GET /workspaces/{ws}/members: the live members, oldest first. */
static int render_member(void *ctx, const struct store_row *row)
{
    struct buf *b = ctx;
    if (b->data[b->len - 1] != '[') buf_putc(b, ',');
    buf_puts(b, "{\"user_id\":");
    buf_json_str(b, row->vals[0], row->lens[0]);
    buf_puts(b, ",\"email\":");
    buf_json_str(b, row->vals[1], row->lens[1]);
    buf_puts(b, ",\"display_name\":");
    if (row->vals[2]) buf_json_str(b, row->vals[2], row->lens[2]);
    else buf_puts(b, "null");
    buf_puts(b, ",\"added_at\":\"");
    time_format(b, strtoll(row->vals[3], NULL, 10));
    buf_puts(b, "\"}");
    return 0;
}

void acct_list_members(struct ctx *x, const char *ws)
{
    struct store_err err = {0};
    char sql[300];
    if (crud_workspace_visible(x, ws) <= 0) return;
    snprintf(sql, sizeof sql,
             "SELECT u.user_id, u.email, u.display_name, m.created_at FROM workspace_members m JOIN users u ON"
             " u.user_id = m.user_id WHERE m.workspace_id = %c1 AND m.removed_at IS NULL"
             " ORDER BY m.created_at, m.user_id",
             x->d->param_prefix);
    struct store_param p = sp_text(ws, 36);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"items\":[");
    if (store_exec(x->st, sql, &p, 1, render_member, &b, &err) < 0) {
        buf_free(&b);
        api_store_error(x->r, &err);
        return;
    }
    buf_puts(&b, "]}");
    resp_json(x->r, 200, &b);
}

/* DELETE /workspaces/{ws}/members/{user_id}: a write to the workspace (its
 * clock and position), keeping the membership row as history. */
struct member_remove {
    struct ctx *x;
    const char *ws, *user_id;
    bool was_member, last;
};

static int member_remove_body(struct wtx *w, void *arg, struct store_err *err)
{
    struct member_remove *m = arg;
    struct ctx *x = m->x;
    char sql[300], c = w->d->param_prefix;
    struct buf clock;
    struct plan_scope sc = {m->ws, x->who.user_id, x->who.is_admin, NULL};
    int rc;
    buf_init(&clock);
    m->was_member = m->last = false;
    if ((rc = write_lock_item(w, x, &coll_workspaces, &sc, m->ws, NULL, &clock, err)) != W_DONE) goto out;
    rc = W_FAIL;
    struct store_param p[3] = {sp_text(m->ws, 36), sp_text(m->user_id, 36), sp_int(0)};
    long count = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM workspace_members WHERE workspace_id = %c1 AND removed_at IS NULL",
             c);
    if (store_exec(w->st, sql, p, 1, read_count, &count, err) < 0) goto out;
    snprintf(sql, sizeof sql,
             "UPDATE workspace_members SET removed_at = %c3, seq = %c4 WHERE workspace_id = %c1 AND user_id = %c2"
             " AND removed_at IS NULL",
             c, c, c, c);
    struct store_param up[4] = {p[0], p[1], sp_int(x->r->now_us), sp_int(w->pos)};
    long n = store_exec(w->st, sql, up, 4, NULL, NULL, err);
    if (n < 0) goto out;
    m->was_member = n > 0;
    m->last = m->was_member && count <= 1;
    if (!m->was_member || m->last) {
        rc = W_REFUSED; /* nothing to write: the caller says why */
        goto out;
    }
    snprintf(sql, sizeof sql, "UPDATE workspaces SET vclock = %c1, seq = %c2 WHERE workspace_id = %c3", c, c, c);
    struct store_param wp[3] = {sp_text(clock.data, clock.len), sp_int(w->pos), sp_text(m->ws, 36)};
    if (store_exec_later(w->st, sql, wp, 3, err) < 0) goto out; /* goes with the COMMIT */
    rc = W_DONE;
out:
    buf_free(&clock);
    return rc;
}

void acct_remove_member(struct ctx *x, const char *ws, const char *user_id)
{
    struct store_err err = {0};
    /* the workspace is checked by the write (write_lock_item: 404) */
    struct member_remove m = {x, ws, user_id, false, false};
    int rc = write_run(x->st, member_remove_body, &m, &err);
    if (rc == W_FAIL) {
        api_store_error(x->r, &err);
    } else if (rc == W_REFUSED) {
        if (!m.was_member) resp_error(x->r, 404, "This user is not a member of this workspace");
        else resp_error(x->r, 409, "The last member of a workspace cannot be removed");
    } else if (rc == W_DONE) {
        resp_empty(x->r, 204);
    }
}

/* ---- command line and bootstrap ----------------------------------------- */

static int find_user(void *ctx, const struct store_row *row)
{
    char *id = ctx;
    snprintf(id, 37, "%s", row->vals[0] ? row->vals[0] : "");
    return 1;
}

static int insert_user(struct wtx *w, const char *email, size_t n, bool admin, char user_id[37],
                       struct store_err *err)
{
    char sql[400], clock_text[160];
    struct buf cb;
    int64_t now = time_now_us();
    struct vclock vc = {0};
    vclock_tick(&vc, api_node_id);
    buf_init(&cb);
    vclock_render(&vc, &cb);
    snprintf(clock_text, sizeof clock_text, "%s", cb.data);
    buf_free(&cb);
    uuid7_new(user_id);
    char *canon = text_ascii_lower(email, n);
    char c = w->d->param_prefix;
    snprintf(sql, sizeof sql,
             "INSERT INTO users (user_id, email, email_canonical, display_name, is_active, is_service_account, "
             "is_admin, created_at, updated_at, last_login_at, vclock, seq) VALUES (%c1, %c2, %c3, NULL, %c4, %c5, "
             "%c6, %c7, %c7, NULL, %c8, %c9)",
             c, c, c, c, c, c, c, c, c, c);
    struct store_param p[9] = {sp_text(user_id, 36), sp_text(email, n), sp_text(canon, n), sp_bool(true),
                               sp_bool(false), sp_bool(admin), sp_int(now), sp_text(clock_text, strlen(clock_text)),
                               sp_int(w->pos)};
    long rc = store_exec(w->st, sql, p, 9, NULL, NULL, err);
    free(canon);
    return rc < 0 ? -1 : 0;
}

struct add_user {
    const char *email;
    size_t n;
    bool admin;
    char *token, *user_id;
};

static int add_user_body(struct wtx *w, void *arg, struct store_err *err)
{
    struct add_user *a = arg;
    char token_id[37];
    if (insert_user(w, a->email, a->n, a->admin, a->user_id, err) < 0) return W_FAIL;
    if (issue_token(w->st, a->user_id, a->token, token_id, err) < 0) return W_FAIL;
    return W_DONE;
}

int accounts_add_user(struct store *st, const char *email, bool admin, char token[47], char user_id[37],
                      struct store_err *err)
{
    const char *e = email;
    size_t n = strlen(email);
    text_trim(&e, &n);
    const char *at = memchr(e, '@', n);
    if (!at || at == e || at == e + n - 1 || memchr(at + 1, '@', n - (size_t)(at - e) - 1) || n > 254 ||
        utf8_count(e, n) < 0)
    {
        err->kind = STORE_CONSTRAINT;
        snprintf(err->msg, sizeof err->msg, "'%.200s' is not a valid email address", email);
        return -1;
    }
    struct add_user a = {e, n, admin, token, user_id};
    if (write_run(st, add_user_body, &a, err) == W_DONE) return 0;
    return err->kind == STORE_UNIQUE ? 1 : -1;
}

static int bootstrap_body(struct wtx *w, void *arg, struct store_err *err)
{
    const char *token = arg;
    char c = w->d->param_prefix;
    char sql[300], user_id[37] = "", hash[65];
    /* only an admin that is not (any more) an active admin is written:
     * starting a server again changes nothing, so no client's ETag breaks */
    snprintf(sql, sizeof sql,
             "SELECT user_id FROM users WHERE email_canonical = %c1 AND NOT (is_active AND is_admin)", c);
    struct store_param pe = sp_text(BOOTSTRAP_EMAIL, strlen(BOOTSTRAP_EMAIL));
    if (store_exec(w->st, sql, &pe, 1, find_user, user_id, err) < 0) return W_FAIL;
    bool existed = user_id[0] != '\0';
    if (!existed) {
        snprintf(sql, sizeof sql, "SELECT user_id FROM users WHERE email_canonical = %c1", c);
        char any[37] = "";
        if (store_exec(w->st, sql, &pe, 1, find_user, any, err) < 0) return W_FAIL;
        if (any[0]) { /* an active admin already: only the token below */
            memcpy(user_id, any, 37);
            goto token;
        }
    }
    if (!existed && insert_user(w, BOOTSTRAP_EMAIL, strlen(BOOTSTRAP_EMAIL), true, user_id, err) < 0) return W_FAIL;
token:
    crypto_sha256_hex(token, strlen(token), hash);
    snprintf(sql, sizeof sql,
             "INSERT INTO api_tokens (token_id, user_id, token_hash, created_at) VALUES (%c1, %c2, %c3, %c4) "
             "ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id",
             c, c, c, c);
    char token_id[37];
    uuid7_new(token_id);
    struct store_param p[4] = {sp_text(token_id, 36), sp_text(user_id, strlen(user_id)), sp_text(hash, 64),
                               sp_int(time_now_us())};
    if (store_exec(w->st, sql, p, 4, NULL, NULL, err) < 0) return W_FAIL;
    if (existed) {
        /* re-activating it (and making it admin again) is a write like any
         * other: row locked, clock ticked, updated_at and position set */
        struct ctx x = {.st = w->st, .d = w->d};
        struct plan_scope sc = {"", "", true, NULL};
        struct buf clock;
        buf_init(&clock);
        int rc = write_lock_item(w, &x, &coll_users, &sc, user_id, NULL, &clock, err);
        if (rc == W_DONE) {
            snprintf(sql, sizeof sql,
                     "UPDATE users SET is_active = %c1, is_admin = %c1, updated_at = %c2, vclock = %c3, seq = %c4 "
                     "WHERE user_id = %c5",
                     c, c, c, c, c, c);
            struct store_param up[5] = {sp_bool(true), sp_int(time_now_us()), sp_text(clock.data, clock.len),
                                        sp_int(w->pos), sp_text(user_id, strlen(user_id))};
            if (store_exec(w->st, sql, up, 5, NULL, NULL, err) < 0) rc = W_FAIL;
        }
        buf_free(&clock);
        return rc == W_DONE ? W_DONE : W_FAIL;
    }
    return W_DONE;
}

static int bootstrap_once(struct store *st, const char *token, struct store_err *err)
{
    return write_run(st, bootstrap_body, (void *)token, err) == W_DONE ? 0 : -1;
}

int accounts_bootstrap_admin(struct store *st, const char *token, struct store_err *err)
{
    /* Servers starting together race to create the admin: the loser sees a
     * unique violation, and on the next try finds the winner's row. */
    int rc = -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = bootstrap_once(st, token, err);
        if (rc == 0 || err->kind != STORE_UNIQUE) break;
    }
    return rc;
}
