/*
 * accounts — bearer tokens, /me, new tokens, workspace members, and the
 * users the command line and FIREMODE_ADMIN_TOKEN create.
 *
 * A token is shown once; the database keeps its SHA-256.  Lookup is by the
 * hash (indexed); the stored hash is then compared in constant time.
 */
#include "api.h"

#include "../util/crypto.h"
#include "../util/text.h"
#include "../util/vclock.h"
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOTSTRAP_EMAIL ACCOUNTS_BOOTSTRAP_EMAIL

struct auth_row {
    bool found, active, admin;
    char user_id[37];
    char hash[65];
};

static bool truthy(const char *v)
{
    return v && (v[0] == '1' || v[0] == 't');
}

static int read_auth(void *ctx, const struct store_row *row)
{
    struct auth_row *a = ctx;
    a->found = true;
    snprintf(a->user_id, sizeof a->user_id, "%s", row->vals[0] ? row->vals[0] : "");
    a->active = truthy(row->vals[1]);
    a->admin = truthy(row->vals[2]);
    snprintf(a->hash, sizeof a->hash, "%s", row->vals[3] ? row->vals[3] : "");
    return 1;
}

static int unauthorized(struct request *r, const char *why)
{
    resp_header(r, "WWW-Authenticate", "Bearer");
    resp_error(r, 401, "%s", why);
    return -1;
}

int acct_authenticate(struct ctx *x)
{
    struct request *r = x->r;
    const char *h = req_header(r, "Authorization");
    if (!h) return unauthorized(r, "Not authenticated");
    size_t n = strlen(h);
    if (n < 7 || !text_ieq(h, 6, "Bearer") || h[6] != ' ') return unauthorized(r, "Not authenticated");
    const char *tok = h + 7;
    size_t tl = n - 7;
    text_trim(&tok, &tl);
    if (tl == 0 || tl > 256) return unauthorized(r, "Invalid token");
    char hash[65];
    crypto_sha256_hex(tok, tl, hash);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT u.user_id, u.is_active, u.is_admin, t.token_hash FROM api_tokens t JOIN users u ON u.user_id = "
             "t.user_id WHERE t.token_hash = %c1",
             x->d->param_prefix);
    struct store_param p = sp_text(hash, 64);
    struct auth_row a = {0};
    struct store_err err = {0};
    if (store_exec(x->st, sql, &p, 1, read_auth, &a, &err) < 0) {
        api_store_error(r, &err);
        return -1;
    }
    if (!a.found || strlen(a.hash) != 64 || !crypto_equal(a.hash, hash, 64)) return unauthorized(r, "Invalid token");
    if (!a.active) {
        resp_error(r, 403, "This user is inactive");
        return -1;
    }
    memcpy(x->who.user_id, a.user_id, sizeof a.user_id);
    x->who.is_admin = a.admin;
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
    return store_exec(st, sql, p, 4, NULL, NULL, err) < 0 ? -1 : 0;
}

void acct_new_token(struct ctx *x, const char *user_id)
{
    struct request *r = x->r;
    struct store_err err = {0};
    if (!x->who.is_admin && strcmp(user_id, x->who.user_id) != 0) {
        resp_error(r, 404, "User not found");
        return;
    }
    if (body_no_fields(x) < 0) return;
    char sql[120], token[47], token_id[37];
    snprintf(sql, sizeof sql, "SELECT 1 FROM users WHERE user_id = %c1", x->d->param_prefix);
    struct store_param p = sp_text(user_id, strlen(user_id));
    long n = store_exec(x->st, sql, &p, 1, NULL, NULL, &err);
    if (n < 0) goto fail;
    if (n == 0) {
        resp_error(r, 404, "User not found");
        return;
    }
    if (issue_token(x->st, user_id, token, token_id, &err) < 0) goto fail;
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"token\":\"%s\",\"token_id\":\"%s\",\"user_id\":\"%s\"}", token, token_id, user_id);
    char loc[128];
    snprintf(loc, sizeof loc, "/users/%s/tokens/%s", user_id, token_id);
    resp_header(r, "Location", loc);
    resp_json(r, 201, &b);
    return;
fail:
    api_store_error(r, &err);
}

void acct_add_member(struct ctx *x, const char *ws)
{
    struct request *r = x->r;
    struct store_err err = {0};
    char user_id[37], sql[200];
    if (crud_workspace_visible(x, ws) <= 0) return;
    if (!body_uuid_member(x, "user_id", user_id)) return;
    snprintf(sql, sizeof sql, "SELECT 1 FROM users WHERE user_id = %c1", x->d->param_prefix);
    struct store_param p[3] = {sp_text(ws, 36), sp_text(user_id, 36), sp_int(r->now_us)};
    long n = store_exec(x->st, sql, &p[1], 1, NULL, NULL, &err);
    if (n < 0) goto fail;
    if (n == 0) {
        resp_invalid(r, "body", "user_id", "No user with this id", "foreign_key");
        return;
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO workspace_members (workspace_id, user_id, created_at) VALUES (%c1, %c2, %c3) "
             "ON CONFLICT DO NOTHING",
             x->d->param_prefix, x->d->param_prefix, x->d->param_prefix);
    n = store_exec(x->st, sql, p, 3, NULL, NULL, &err);
    if (n < 0) goto fail;
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "{\"workspace_id\":\"%s\",\"user_id\":\"%s\"}", ws, user_id);
    if (n > 0) {
        char loc[128];
        snprintf(loc, sizeof loc, "/workspaces/%s/members/%s", ws, user_id);
        resp_header(r, "Location", loc);
    }
    resp_json(r, n > 0 ? 201 : 200, &b);
    return;
fail:
    api_store_error(r, &err);
}

/* ---- command line and bootstrap ----------------------------------------- */

static int find_user(void *ctx, const struct store_row *row)
{
    char *id = ctx;
    snprintf(id, 37, "%s", row->vals[0] ? row->vals[0] : "");
    return 1;
}

/* The write position of a user row written outside the CRUD engine. */
static int stamp_user(struct store *st, const char *user_id, struct store_err *err)
{
    struct ctx x = {.st = st, .d = store_dialect(st)};
    return crud_stamp_seq(&x, &coll_users, user_id, err);
}

static int insert_user(struct store *st, const char *email, size_t n, bool admin, char user_id[37],
                       struct store_err *err)
{
    const struct dialect *d = store_dialect(st);
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
    char c = d->param_prefix;
    snprintf(sql, sizeof sql,
             "INSERT INTO users (user_id, email, email_canonical, display_name, is_active, is_service_account, "
             "is_admin, created_at, updated_at, last_login_at, vclock, seq) VALUES (%c1, %c2, %c3, NULL, %c4, %c5, "
             "%c6, %c7, %c7, NULL, %c8, %c9)",
             c, c, c, c, c, c, c, c, c, c);
    /* seq is stamped last, like every write (crud_stamp_seq) */
    struct store_param p[9] = {sp_text(user_id, 36), sp_text(email, n), sp_text(canon, n), sp_bool(true),
                               sp_bool(false), sp_bool(admin), sp_int(now), sp_text(clock_text, strlen(clock_text)),
                               sp_int(0)};
    long rc = store_exec(st, sql, p, 9, NULL, NULL, err);
    free(canon);
    return rc < 0 ? -1 : 0;
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
    char token_id[37];
    if (store_begin(st, true, err) < 0) return -1;
    if (insert_user(st, e, n, admin, user_id, err) < 0) goto fail;
    if (issue_token(st, user_id, token, token_id, err) < 0) goto fail;
    if (stamp_user(st, user_id, err) < 0) goto fail;
    return store_commit(st, err);
fail:
    store_rollback(st);
    return err->kind == STORE_UNIQUE ? 1 : -1;
}

static int bootstrap_once(struct store *st, const char *token, struct store_err *err)
{
    const struct dialect *d = store_dialect(st);
    char c = d->param_prefix;
    char sql[300], user_id[37] = "", hash[65];
    if (store_begin(st, true, err) < 0) return -1;
    snprintf(sql, sizeof sql, "SELECT user_id FROM users WHERE email_canonical = %c1", c);
    struct store_param pe = sp_text(BOOTSTRAP_EMAIL, strlen(BOOTSTRAP_EMAIL));
    if (store_exec(st, sql, &pe, 1, find_user, user_id, err) < 0) goto fail;
    bool existed = user_id[0] != '\0';
    if (!existed && insert_user(st, BOOTSTRAP_EMAIL, strlen(BOOTSTRAP_EMAIL), true, user_id, err) < 0) goto fail;
    crypto_sha256_hex(token, strlen(token), hash);
    snprintf(sql, sizeof sql,
             "INSERT INTO api_tokens (token_id, user_id, token_hash, created_at) VALUES (%c1, %c2, %c3, %c4) "
             "ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id",
             c, c, c, c);
    char token_id[37];
    uuid7_new(token_id);
    struct store_param p[4] = {sp_text(token_id, 36), sp_text(user_id, strlen(user_id)), sp_text(hash, 64),
                               sp_int(time_now_us())};
    if (store_exec(st, sql, p, 4, NULL, NULL, err) < 0) goto fail;
    if (existed) {
        /* one UPDATE, its write position included (see crud_stamp_seq) */
        struct ctx x = {.st = st, .d = d};
        int64_t seq;
        if (crud_next_seq(&x, &seq, err) < 0) goto fail;
        snprintf(sql, sizeof sql, "UPDATE users SET is_active = %c1, is_admin = %c1, seq = %c2 WHERE user_id = %c3", c,
                 c, c, c);
        struct store_param up[3] = {sp_bool(true), sp_int(seq), sp_text(user_id, strlen(user_id))};
        if (store_exec(st, sql, up, 3, NULL, NULL, err) < 0) goto fail;
    } else if (stamp_user(st, user_id, err) < 0) {
        goto fail;
    }
    return store_commit(st, err);
fail:
    store_rollback(st);
    return -1;
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
