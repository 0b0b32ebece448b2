/*
 * api — the FireMode API on top of the HTTP layer: routes, auth, and the
 * generic collection engine.  The HTTP layer reaches it only through the
 * struct http_app that api_app hands to server_run.
 */
#ifndef FM_API_H
#define FM_API_H

#include "../http/http.h"
#include "../store/store.h"

#include <stdint.h>
#include <stdbool.h>

/* Once at start: this server's node id (vector clocks). */
void api_init(const char *node_id);
/* --require-if-match: PUT, PATCH and DELETE need If-Match (else 428). */
void api_set_require_if_match(bool on);
/* Once at start, after the migration: reads what the API keeps in the
 * database (the token key).  0 or -1. */
int api_prepare(struct store *st, struct store_err *err);

/* What the HTTP layer serves: the routes, auth and collections of this API,
 * each worker with its own connection to db_url (opened when the worker
 * starts; one that could not be opened is tried again by the next request). */
const struct http_app *api_app(const char *db_url);

/* The OpenAPI document (JSON text, built by api_init; lives until exit). */
const char *api_openapi_json(size_t *len);




/* ---- accounts, for the command line and the start-up bootstrap ---- */

/* Creates an active user (admin if asked) with a new API token.
 * Returns 0 and fills token/user_id; 1 if a user with this email exists
 * already; -1 on a storage error (err) or an invalid email (err.kind
 * STORE_CONSTRAINT). */
int accounts_add_user(struct store *st, const char *email, bool admin, char token[47], char user_id[37],
                      struct store_err *err);
/* Makes sure an active admin admin@firemode.local exists and that token
 * authenticates as it.  0 or -1. */
int accounts_bootstrap_admin(struct store *st, const char *token, struct store_err *err);

/* Called once per token of a user, newest first; last_used_at is -1 when
 * the token was never used.  Return nonzero to stop. */
typedef int (*accounts_token_fn)(void *ctx, const char *token_id, int64_t created_at, int64_t last_used_at);
/* Lists the tokens of the user with this email (case-insensitively).
 * 0, 1 if there is no such user, -1 on a storage error (err). */
int accounts_list_tokens(struct store *st, const char *email, accounts_token_fn fn, void *ctx,
                         struct store_err *err);
/* Revokes (deletes) token token_id (canonical UUID text): it stops working
 * at once on every server of the database.  0, 1 if there is no such token,
 * -1 on a storage error. */
int accounts_revoke_token(struct store *st, const char *token_id, struct store_err *err);
#endif
