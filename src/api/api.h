/*
 * api — the FireMode API on top of the HTTP layer: routes, auth, and the
 * generic collection engine.  The HTTP layer calls these three functions.
 */
#ifndef FM_API_H
#define FM_API_H

#include "../http/http.h"
#include "../store/store.h"

#include <stdint.h>
#include <stdbool.h>

/* Once at start: this server's node id (vector clocks). */
void api_init(const char *node_id);

/* Before the body is read: route, method, Content-Type.  Returns true if it
 * already answered (404, 405 with Allow, 415, OPTIONS). */
bool api_precheck(struct request *r);

/* Answers the request.  st is this worker's database connection, or NULL
 * when it could not be opened (open_err says why). */
void api_handle(struct request *r, struct store *st, const struct store_err *open_err);

/* The OpenAPI document (JSON text, built by api_init; lives until exit). */
const char *api_openapi_json(size_t *len);

/* Records a finished request in the metrics. */
void api_observe(const char *method, int status, int64_t dur_us);



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
#endif
