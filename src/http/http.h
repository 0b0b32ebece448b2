/*
 * http — the request as the API layer sees it, and the one place responses
 * are made.
 *
 * A struct request lives from a complete request head to the end of its
 * response (made by server.c when the head is parsed, freed after the
 * answer is written or the client is gone, so client aborts clean up too).
 * The API layer reads the parsed target, headers and body, and answers with
 * one of the resp_* functions; errors become {"detail": ...} bodies here
 * and nowhere else.  A worker thread owns the request while the API layer
 * runs; the I/O thread does not touch it meanwhile.
 */
#ifndef FM_HTTP_H
#define FM_HTTP_H

#include "../util/buf.h"
#include "../util/method.h"
#include "../util/url.h"

#include <stdbool.h>
#include <stdint.h>

#define HTTP_MAX_BODY (1024 * 1024)
#define HTTP_MAX_TARGET 8192
#define HTTP_MAX_HEADERS (16 * 1024)
#define HTTP_MAX_DISCARD (4 * 1024 * 1024) /* oversized body bytes read before closing */
/* Request bodies held in memory at once, across all connections: past it a
 * new body is answered 503, so stalled uploads cost a bounded amount. */
#define HTTP_BODY_BUDGET (256 * 1024 * 1024)
/* ... of which one client address may hold at most this much. */
#define HTTP_BODY_BUDGET_PER_CLIENT (32 * 1024 * 1024)

struct http_conn; /* server.c's connection */

/* A request header: NUL-terminated copies (a NUL in a header is refused). */
struct req_field {
    const char *name;
    const char *value;
};

struct resp_header {
    char *name;  /* owned */
    char *value; /* owned */
};

struct request {
    /* request */
    struct http_conn *conn;
    enum method method;
    const char *method_name; /* as sent (owned; bounded copy) */
    struct req_field *fields; /* owned, nfields of them */
    int nfields;
    int minor;         /* HTTP/1.<minor> */
    bool keep_alive;   /* the client wants the connection kept */
    bool close;        /* the answer closes the connection */
    char *target;      /* owned raw request target */
    size_t target_len;
    struct url url;    /* parsed target */
    struct buf body;
    size_t body_seen;  /* body bytes received, kept or not */
    size_t body_reserved; /* bytes of HTTP_BODY_BUDGET this request holds */
    int addr_slot;        /* the client's entry in the per-address budget, or -1 */
    bool too_large;    /* the body passed HTTP_MAX_BODY */
    bool busy;         /* HTTP_BODY_BUDGET was spent while the body came in */
    bool in_flight;    /* headers complete: counted for the SIGTERM drain */
    char request_id[65];
    char client_addr[48]; /* the peer's address as text, for the log */
    int64_t start_us;  /* monotonic, for the log */
    int64_t now_us;    /* wall clock, the request's "now" */
    /* routing, filled by the API layer's precheck */
    const void *route;
    /* what the HTTP layer needs to know of the route, set by the app's precheck
     * (the HTTP layer knows no routes): */
    bool public_route; /* no token needed: a body may be read before any check */
    bool no_database;  /* answered without a database (/healthz): on the I/O thread */
    bool priority;     /* served by the reserved worker (/readyz, /metrics) */
    char path_ws[37];  /* canonical {workspace_id} from the path, or "" */
    char path_id[37];  /* canonical {id} from the path, or "" */
    char path_sub[37]; /* canonical {sub} (an id under {id}, e.g. a token id), or "" */
    /* What the API layer keeps between the jobs of one request (its
     * caller, as its authorize found it before the body came); owned,
     * freed with the request. */
    void *app_state;
    /* response */
    int status;
    struct buf out;
    struct resp_header *headers; /* owned, grows as needed; one per name */
    int nheaders, cap_headers;
    bool responded;
    struct buf wire;      /* the serialized answer's status line and headers */
    struct buf wire_body; /* and its body as sent (out, or out gzipped), moved here, not copied:
                           * once the answer is built, out is empty (take a size from here) */
};

/* What the server serves, handed to server_run by the application (FireMode's
 * API layer): the HTTP layer knows no routes and opens no database.  A
 * worker's context (its database connection) is the application's; the
 * HTTP layer only hands it back on that worker. */
struct http_app {
    /* When a worker thread starts, and when it stops.  worker_open never
     * returns NULL (a NULL worker means the I/O thread, below). */
    void *(*worker_open)(void);
    void (*worker_close)(void *worker);
    /* On the I/O thread, once a request's head is in: finds the route and
     * sets public_route, no_database and priority.  True if it answered
     * (404, 405, 415, OPTIONS). */
    bool (*precheck)(struct request *r);
    /* On a worker, before a body is read: checks the caller, and answers
     * only to refuse (401, 403, 503). */
    void (*authorize)(struct request *r, void *worker);
    /* Answers r: on a worker, or on the I/O thread (worker NULL) for a
     * no_database route. */
    void (*handle)(struct request *r, void *worker);
    /* After the answer went out (status 0: none was sent), for the metrics. */
    void (*observe)(const struct request *r, int status, int64_t dur_us);
};

/* Requests whose headers have arrived and whose response is not yet sent. */
int http_in_flight(void);

/* A request header's value (case-insensitive name), or NULL. */
const char *req_header(struct request *r, const char *name);

/* Sets a response header (copied): a name set twice keeps the last value
 * (names compare case-insensitively); there is no limit on how many. */
void resp_header(struct request *r, const char *name, const char *value);
/* Answers with status and body (JSON); takes over body's contents. */
void resp_json(struct request *r, int status, struct buf *body);
/* {"detail": "<detail>"} */
void resp_error(struct request *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 422 {"detail":[{"loc":[where, name...],"msg":msg,"type":type}]}; name may be NULL. */
void resp_invalid(struct request *r, const char *where, const char *name, const char *msg, const char *type);
/* No body (204, 304). */
void resp_empty(struct request *r, int status);
/* Takes back an answer not sent yet: its status and body, and the headers
 * set after the first `mark` (r->nheaders when the attempt began). */
void resp_rewind(struct request *r, int mark);
/* Plain text (metrics). */
void resp_text(struct request *r, int status, const char *content_type, struct buf *body);

#endif
