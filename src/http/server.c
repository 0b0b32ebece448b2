/*
 * server — see server.h.  FireMode's own HTTP/1.1 server: an epoll loop on
 * one I/O thread, a pool of worker threads for everything that touches the
 * database, and the strict parser of parse.c.
 *
 * Why not libmicrohttpd any more: see README.md, "Design notes: the HTTP
 * layer".  In short, 0.9.75 accepts two Content-Length headers and CL+TE
 * (request smuggling), answers 400/413/414/431/505 itself in HTML without
 * our detail or X-Request-Id, drops some malformed requests without an
 * answer, truncates at NUL bytes, has no header deadline, and sends
 * 100 Continue before the application can look at the headers.
 *
 * Threads.
 *   I/O thread (the caller of server_run): accepts, reads, parses, applies
 *     every limit and deadline, answers what needs no database (parse
 *     errors, 404/405/415 from the app's precheck, OPTIONS, /healthz), writes
 *     answers without blocking, logs.  It never waits for a worker.
 *   workers (cfg->threads): each holds the context the app's worker_open
 *     made (the API's database connection: this layer opens none), takes
 *     jobs from a FIFO, and hands the connection back through a done list
 *     and an eventfd.  An idle worker waits on its own semaphore, posted
 *     after the queue's mutex is released.
 *   one reserved worker (not on sqlite::memory:): /readyz and /metrics,
 *     so an operator's probes never queue behind slow database work.
 *
 * A connection's states (c->state), and who owns c->r in each:
 *
 *   HEAD --head complete--> [AUTH] --ok--> BODY --body complete--> WORK --> WRITE
 *     |  (no body) ----------------------------------------------> WORK     |
 *     |  (answered by the I/O thread: errors, precheck, /healthz) -> WRITE   |
 *     +<------------------------- keep-alive, next pipelined request ------+
 *                                  close_after / drain --> LINGER --> closed
 *
 *   AUTH: a request that carries a body waits here while a worker
 *         authenticates its token from the headers alone; only then is
 *         100 Continue sent and a body byte read (issue 11 point 1).
 *   AUTH, WORK: the worker owns c->r; the I/O thread watches only for the
 *         client going away (EPOLLHUP/ERR): such work is abandoned (freed
 *         when the worker hands it back).  A half close (EPOLLRDHUP) is not
 *         that: the client may still read, and what it sent before is
 *         answered; the reads after the answer find the end of stream.
 *         (Events in these states still clear c->drained and may set
 *         c->eager, so what arrived meanwhile is read after the answer.)
 *   LINGER: after an answer that closes, the write side is shut and what
 *         the client still sends is read and dropped for a short while, so
 *         the client reads the answer instead of a reset.
 *
 * Limits (README "Choices where the contract is silent"): request line
 * 8 KiB of target (414), 16 KiB of header fields (431), body 1 MiB (413),
 * 1000 connections, --max-conn-per-ip, body memory per address and in all
 * (503).  Deadlines: a request head must arrive within header_timeout_s
 * (408), a body at HTTP_MIN_BODY_RATE after that long (408), an idle
 * keep-alive connection is closed after conn_timeout_s.  Requests not yet
 * complete (a silent or partial head, a body arriving) have their own
 * budget, in all and per address; past it, and at the connection caps,
 * the oldest lingering, idle or incomplete connection, or answer a client
 * is slow to take, is closed to make room (victim), so slow clients can
 * never keep complete requests out.
 *
 * System calls per request: a read that took all the socket had (short,
 * or EAGAIN) is not followed by another until an event comes (c->drained:
 * Linux's edge-triggered epoll reports every arrival), so a keep-alive
 * request costs one recv, not a second one that finds nothing.  Once an
 * event has reported an end of stream, an error or TCP urgent data, a
 * short read proves nothing and reads go on to EAGAIN (c->eager).
 *
 * The log: one line per request on stderr, text or JSON (--log-format),
 * with the UTC time the request arrived, the client address, method,
 * target, status, duration and request id.  Every field that came from the
 * client is escaped and cut to a bound, so a line is at most LOG_LINE_MAX
 * bytes and a request can neither forge a line nor make one huge.  The
 * lines of a loop turn go out together, in writes of whole lines of at
 * most PIPE_BUF bytes (log_flush), never interleaved with another writer's.
 * Headers and bodies are never logged.
 */
#include "server.h"

#include "../util/crypto.h"
#include "../util/text.h"
#include "http.h"
#include "parse.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define HTTP_MAX_CONNS 1000
#define HTTP_MAX_INCOMPLETE 600          /* requests not yet complete, in all */
#define HTTP_MIN_BODY_RATE 1024          /* bytes/s a body must average after header_timeout_s */
#define HTTP_WRITE_TIMEOUT_US (30 * 1000000LL) /* an answer the client does not read */
#define HTTP_LINGER_US (2 * 1000000LL)
/* Spared when a connection must be closed to make room, while another can
 * go (young()): a pool's connections opened together, or an answer that
 * moved this recently, are not the slow clients the limits are for. */
#define HTTP_EVICT_AFTER_US (1000000LL)
#define HTTP_LINGER_MAX (8 * 1024 * 1024)
#define HTTP_DRAIN_US (10 * 1000000LL)
#define HEAD_CAP (HTTP_MAX_LINE + HTTP_MAX_FIELD_BYTES + 64)
#define GZIP_MIN 1024                    /* smaller answers are sent as they are */
#define READ_CHUNK (64 * 1024)

enum cstate { C_HEAD, C_AUTH, C_BODY, C_WORK, C_WRITE, C_LINGER };
enum job { JOB_AUTH, JOB_HANDLE };

/* A connection's events that mean there may be something to read, and
 * those after which a short read no longer means the socket is empty. */
#define EV_READABLE (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define EV_EAGER (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)

struct http_conn {
    int fd; /* -1 once closed */
    enum cstate state;
    unsigned char key[17]; /* family byte + address bytes */
    char addr[48];
    struct buf in;
    size_t in_off; /* bytes of in already consumed */
    struct http_scan scan;
    struct request *r;
    bool chunked, expect_continue;
    int64_t body_left;
    struct http_chunked ck;
    struct buf out;      /* pending bytes: an answer's head (or a 100 Continue) */
    struct buf out_body; /* then its body, sent with it by one sendmsg */
    size_t out_off;      /* bytes of out, then of out_body, already sent */
    bool close_after, gone, peer_eof, served, worker;
    bool ready; /* in g_ready (once at most: the list has a place for every connection) */
    /* The last read took all the socket had (a short read or EAGAIN), and
     * no event has come since: reading again could only find EAGAIN, since
     * every arrival brings an edge (conn_event clears it).  Not trusted once
     * `eager`: an event reported an end of stream, an error or urgent data,
     * after which a short read may leave something (the end of stream, the
     * bytes past the urgent mark) that no new event will announce; from
     * then on every read goes on to EAGAIN or the end. */
    bool drained, eager;
    int64_t t_accept, t_first, t_last, t_body, t_linger;
    size_t body_in, linger_in;
    uint32_t events;
    enum job job;
    int idx; /* in g_conns, or -1 */
    struct http_conn *next;
};

/* A worker, as the idle list knows it: on its own stack for the thread's
 * life.  It waits on its own semaphore, posted after the queue's mutex is
 * released (a condition variable takes the mutex again on waking and marks
 * it contended, so the unlock after is a futex call that wakes nobody). */
struct idler {
    sem_t wake;
    struct idler *next;
};

/* Jobs are served in order (FIFO); an idle worker is woken last in, first
 * out: the one that went idle most recently, whose caches (and database
 * backend's) are warm.  With more workers than requests in flight (the
 * default --threads is 4, a server may run 64) the same few workers serve
 * them all, instead of every job waking the longest idle one in turn. */
struct jobq {
    pthread_mutex_t mu;
    struct http_conn *head, *tail;
    struct idler *idle; /* workers waiting, the latest first */
    bool stop;
};

static const struct server_config *g_cfg;
static const struct http_app *g_app;
static atomic_int g_in_flight;
static atomic_bool g_draining;
static int g_epfd = -1, g_evfd = -1;
static struct jobq g_jobs = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL, false};
static struct jobq g_prio = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL, false};
static bool g_have_prio;
static pthread_mutex_t g_done_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_conn *g_done_head, *g_done_tail;
static struct http_conn *g_conns[HTTP_MAX_CONNS + 1];
static int g_nconns;
static struct http_conn *g_free_list;
static int64_t g_now; /* the I/O thread's clock, monotonic us */

/* Request body memory, as it arrives (see HTTP_BODY_BUDGET): a total, and
 * a share per client address, so that one client's stalled uploads cannot
 * spend what others need.  Addresses live in a small open-addressing table
 * (entries stay once used; a slot whose bytes are 0 is reused).  Only the
 * I/O thread reads bodies, but the mutex keeps that an implementation
 * detail. */
#define ADDR_SLOTS 2048
static pthread_mutex_t g_body_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t g_body_bytes;
static struct {
    unsigned char key[17];
    bool used;
    size_t bytes;
} g_addr[ADDR_SLOTS];

/* The table slot of this client address (g_body_mu held), or -1 when the
 * table is full of busy addresses. */
static int addr_slot(const unsigned char key[17])
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 17; i++) h = (h ^ key[i]) * 1099511628211ull;
    int free_slot = -1;
    for (int k = 0; k < ADDR_SLOTS; k++) {
        int i = (int)((h + (uint64_t)k) % ADDR_SLOTS);
        if (!g_addr[i].used) {
            if (free_slot < 0) free_slot = i;
            break;
        }
        if (memcmp(g_addr[i].key, key, 17) == 0) return i;
        if (g_addr[i].bytes == 0 && free_slot < 0) free_slot = i;
    }
    if (free_slot >= 0) {
        memcpy(g_addr[free_slot].key, key, 17);
        g_addr[free_slot].used = true;
    }
    return free_slot;
}

/* Reserves n more body bytes for r; false if the total or the client's
 * share is spent. */
static bool body_reserve(struct request *r, size_t n)
{
    bool ok = false;
    pthread_mutex_lock(&g_body_mu);
    if (r->addr_slot < 0) r->addr_slot = addr_slot(r->conn->key);
    if (r->addr_slot >= 0 && g_body_bytes + n <= HTTP_BODY_BUDGET &&
        g_addr[r->addr_slot].bytes + n <= HTTP_BODY_BUDGET_PER_CLIENT) {
        g_body_bytes += n;
        g_addr[r->addr_slot].bytes += n;
        r->body_reserved += n;
        ok = true;
    }
    pthread_mutex_unlock(&g_body_mu);
    return ok;
}

static void body_release(struct request *r)
{
    if (!r->body_reserved) return;
    pthread_mutex_lock(&g_body_mu);
    g_body_bytes -= r->body_reserved;
    g_addr[r->addr_slot].bytes -= r->body_reserved;
    pthread_mutex_unlock(&g_body_mu);
    r->body_reserved = 0;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int http_in_flight(void)
{
    return atomic_load(&g_in_flight);
}

/* ---- responses: the only place a status and body are put together ---- */

const char *req_header(struct request *r, const char *name)
{
    for (int i = 0; i < r->nfields; i++)
        if (strcasecmp(r->fields[i].name, name) == 0) return r->fields[i].value;
    return NULL;
}

void resp_header(struct request *r, const char *name, const char *value)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) {
            free(r->headers[i].value);
            r->headers[i].value = xstrndup(value, strlen(value));
            return;
        }
    if (r->nheaders == r->cap_headers) {
        r->cap_headers = r->cap_headers ? 2 * r->cap_headers : 8;
        r->headers = xrealloc(r->headers, (size_t)r->cap_headers * sizeof *r->headers);
    }
    r->headers[r->nheaders].name = xstrndup(name, strlen(name));
    r->headers[r->nheaders].value = xstrndup(value, strlen(value));
    r->nheaders++;
}

void resp_json(struct request *r, int status, struct buf *body)
{
    buf_free(&r->out);
    r->out = *body;
    buf_init(body);
    r->status = status;
    r->responded = true;
    resp_header(r, "Content-Type", "application/json");
}

void resp_text(struct request *r, int status, const char *content_type, struct buf *body)
{
    buf_free(&r->out);
    r->out = *body;
    buf_init(body);
    r->status = status;
    r->responded = true;
    resp_header(r, "Content-Type", content_type);
}

void resp_empty(struct request *r, int status)
{
    buf_free(&r->out);
    r->status = status;
    r->responded = true;
}

void resp_rewind(struct request *r, int mark)
{
    for (int i = mark; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    if (mark < r->nheaders) r->nheaders = mark;
    buf_free(&r->out);
    r->status = 0;
    r->responded = false;
}

void resp_error(struct request *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"detail\":");
    buf_json_str(&b, msg, strlen(msg));
    buf_putc(&b, '}');
    resp_json(r, status, &b);
}

void resp_invalid(struct request *r, const char *where, const char *name, const char *msg, const char *type)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"detail\":[{\"loc\":[");
    buf_json_str(&b, where, strlen(where));
    if (name) {
        buf_putc(&b, ',');
        buf_json_str(&b, name, strlen(name));
    }
    buf_puts(&b, "],\"msg\":");
    buf_json_str(&b, msg, strlen(msg));
    buf_puts(&b, ",\"type\":");
    buf_json_str(&b, type, strlen(type));
    buf_puts(&b, "}]}");
    resp_json(r, 422, &b);
}

/* ---- requests ---------------------------------------------------------- */

static const struct {
    const char *name;
    enum method m;
} methods[] = {
    {"GET", M_GET}, {"HEAD", M_HEAD}, {"POST", M_POST}, {"PUT", M_PUT},
    {"PATCH", M_PATCH}, {"DELETE", M_DELETE}, {"OPTIONS", M_OPTIONS},
};

static bool valid_request_id(const char *s, size_t n)
{
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':'))
            return false;
    }
    return true;
}

static bool body_allowed(enum method m)
{
    return m == M_POST || m == M_PUT || m == M_PATCH;
}

static void request_free(struct request *r)
{
    if (!r) return;
    body_release(r);
    free(r->target);
    free((char *)r->method_name);
    for (int i = 0; i < r->nfields; i++) {
        free((char *)r->fields[i].name);
        free((char *)r->fields[i].value);
    }
    free(r->fields);
    url_free(&r->url);
    buf_free(&r->body);
    buf_free(&r->out);
    buf_free(&r->wire);
    buf_free(&r->wire_body);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->app_state);
    free(r);
}

/* A request for c from what the parser saw of its head: all of it when
 * complete, the method and target (and the fields so far) when not, so an
 * error answer can still echo X-Request-Id and be logged. */
static struct request *request_new(struct http_conn *c, const struct http_head *h)
{
    struct request *r = xcalloc(1, sizeof *r);
    r->conn = c;
    _Static_assert(sizeof r->client_addr == sizeof c->addr, "the client's address is copied whole");
    memcpy(r->client_addr, c->addr, sizeof r->client_addr);
    r->addr_slot = -1;
    r->start_us = c->t_first ? c->t_first : g_now;
    r->now_us = time_now_us();
    r->method_name = xstrndup(h->method ? h->method : "", h->method ? (h->method_len > 256 ? 256 : h->method_len) : 0);
    r->target_len = h->target ? h->target_len : 0;
    r->target = xstrndup(h->target ? h->target : "", r->target_len);
    r->minor = h->minor;
    r->keep_alive = h->keep_alive;
    if (h->nfields) r->fields = xcalloc((size_t)h->nfields, sizeof *r->fields);
    for (int i = 0; i < h->nfields; i++) {
        r->fields[i].name = xstrndup(h->fields[i].name, h->fields[i].name_len);
        r->fields[i].value = xstrndup(h->fields[i].value, h->fields[i].value_len);
        r->nfields++;
        if (strcasecmp(r->fields[i].name, "X-Request-Id") == 0 && !r->request_id[0] &&
            valid_request_id(h->fields[i].value, h->fields[i].value_len)) /* at most 64 bytes */
            memcpy(r->request_id, r->fields[i].value, h->fields[i].value_len + 1);
    }
    _Static_assert(sizeof r->request_id >= 65, "a valid X-Request-Id fits with its NUL");
    if (!r->request_id[0]) uuid7_new(r->request_id);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(r->method_name, methods[i].name) == 0) r->method = methods[i].m;
    buf_init(&r->body);
    buf_init(&r->out);
    buf_init(&r->wire);
    buf_init(&r->wire_body);
    r->in_flight = true;
    atomic_fetch_add(&g_in_flight, 1);
    return r;
}

/* ---- serializing an answer ------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static const char *resp_get(struct request *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
    return NULL;
}

/* Adds token to a list-valued response header (Vary). */
static void resp_add_token(struct request *r, const char *name, const char *token)
{
    const char *cur = resp_get(r, name);
    if (!cur) {
        resp_header(r, name, token);
        return;
    }
    if (strcasestr(cur, token)) return;
    char v[256];
    snprintf(v, sizeof v, "%s, %s", cur, token);
    resp_header(r, name, v);
}

/* Does Accept-Encoding allow gzip?  Elements "gzip", "x-gzip" or "*",
 * with a q other than 0. */
static bool accepts_gzip(const char *ae)
{
    if (!ae) return false;
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *t = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
        size_t tl = (size_t)(p - t);
        bool q0 = false;
        while (*p && *p != ',') {
            if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                const char *q = p + 2;
                q0 = q[0] == '0';
                for (q++; q0 && *q && *q != ',' && *q != ';'; q++)
                    if (*q != '.' && *q != '0') q0 = false;
            }
            p++;
        }
        if (!q0 && ((tl == 4 && strncasecmp(t, "gzip", 4) == 0) || (tl == 6 && strncasecmp(t, "x-gzip", 6) == 0) ||
                    (tl == 1 && *t == '*')))
            return true;
    }
    return false;
}

/* gzip of in[0..n) into out; false if it did not get smaller. */
static bool gzip_buf(const char *in, size_t n, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    size_t cap = deflateBound(&zs, (uLong)n);
    buf_reserve(out, cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t got = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END || got >= n) return false;
    out->len += got;
    return true;
}

static bool compressible(const char *ct)
{
    return ct && (strncasecmp(ct, "application/json", 16) == 0 || strncasecmp(ct, "text/", 5) == 0 ||
                  strncasecmp(ct, "application/javascript", 22) == 0);
}

/* An HTTP date, cached per thread per second. */
static const char *http_date(void)
{
    static _Thread_local char date[40];
    static _Thread_local time_t last;
    time_t now = time(NULL);
    if (now != last || !date[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return date;
}

/* CORS (--cors-origin): the allowed origin's answers say so, and a
 * preflight (OPTIONS with Access-Control-Request-Method, answered by
 * the app's precheck without a token) lists the route's methods. */
static void cors_headers(struct request *r)
{
    const char *allow = g_cfg->cors_origin;
    const char *origin = req_header(r, "Origin");
    if (!allow || !*allow || !origin) return;
    bool any = strcmp(allow, "*") == 0;
    if (!any && strcmp(origin, allow) != 0) return;
    resp_header(r, "Access-Control-Allow-Origin", any ? "*" : allow);
    if (!any) resp_add_token(r, "Vary", "Origin");
    resp_header(r, "Access-Control-Expose-Headers", "ETag, Location, Link, X-Request-Id");
    if (r->method == M_OPTIONS && req_header(r, "Access-Control-Request-Method")) {
        const char *m = resp_get(r, "Allow");
        if (m) resp_header(r, "Access-Control-Allow-Methods", m);
        resp_header(r, "Access-Control-Allow-Headers",
                    "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id");
        resp_header(r, "Access-Control-Max-Age", "600");
    }
}

/* Appends a header value with any CR, LF or NUL made a space. */
static void put_value(struct buf *b, const char *v)
{
    size_t n = strlen(v);
    size_t start = b->len;
    buf_append(b, v, n);
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] == '\r' || b->data[i] == '\n') b->data[i] = ' ';
}

/* Serializes r's answer: the status line and headers into r->wire, and the
 * body (r->out, or its gzip) moved into r->wire_body, so a page is never
 * copied on its way to the socket.  Runs on a worker or the I/O thread. */
static void response_build(struct request *r)
{
    int status = r->status ? r->status : 500;
    bool no_body = status == 204 || status == 304 || status < 200;
    const char *ct = resp_get(r, "Content-Type");
    struct buf gz;
    buf_init(&gz);
    bool gzipped = false;
    if (!no_body && compressible(ct) && !resp_get(r, "Content-Encoding")) {
        resp_add_token(r, "Vary", "Accept-Encoding");
        if (r->out.len >= GZIP_MIN && accepts_gzip(req_header(r, "Accept-Encoding")))
            gzipped = gzip_buf(r->out.data, r->out.len, &gz);
    }
    cors_headers(r);
    if (atomic_load(&g_draining) || !r->keep_alive) r->close = true;
    struct buf *w = &r->wire;
    buf_reset(w);
    size_t blen = gzipped ? gz.len : r->out.len;
    buf_reserve(w, 256);
    buf_puts(w, "HTTP/1.1 ");
    buf_put_i64(w, status);
    buf_putc(w, ' ');
    buf_puts(w, reason(status));
    buf_puts(w, "\r\nDate: ");
    buf_puts(w, http_date());
    buf_puts(w, "\r\nX-Request-Id: ");
    buf_puts(w, r->request_id);
    buf_puts(w, "\r\n");
    for (int i = 0; i < r->nheaders; i++) {
        buf_puts(w, r->headers[i].name);
        buf_puts(w, ": ");
        put_value(w, r->headers[i].value);
        buf_puts(w, "\r\n");
    }
    if (gzipped) buf_puts(w, "Content-Encoding: gzip\r\n");
    if (!no_body) {
        buf_puts(w, "Content-Length: ");
        buf_put_i64(w, (int64_t)blen);
        buf_puts(w, "\r\n");
    }
    if (r->close) buf_puts(w, "Connection: close\r\n");
    else if (r->minor == 0) buf_puts(w, "Connection: keep-alive\r\n");
    buf_puts(w, "\r\n");
    buf_free(&r->wire_body);
    if (!no_body && r->method != M_HEAD) {
        struct buf *body = gzipped ? &gz : &r->out;
        r->wire_body = *body;
        buf_init(body);
    }
    buf_free(&gz);
}

/* Bounds on what one log line holds of a client's bytes, after escaping
 * (an escaped byte takes up to 6): the whole line stays under LOG_LINE_MAX. */
#define LOG_METHOD_MAX 64
#define LOG_TARGET_MAX 1536
#define LOG_LINE_MAX 2048

/* Appends n bytes of s, escaped, writing at most max bytes (then "..."):
 * text: printable ASCII but space and '\' as is, anything else as \xNN;
 * json: a JSON string body: printable ASCII as is (with \" and \\), any
 * other byte as \u00NN, so the line is valid JSON whatever the bytes. */
static void log_field(struct buf *b, const char *s, size_t n, size_t max, bool json)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[6];
        size_t el = 0;
        bool plain = json ? c >= 0x20 && c < 0x7f : c > 0x20 && c < 0x7f;
        if (plain && c != '\\' && !(json && c == '"')) {
            e[el++] = (char)c;
        } else if (json && (c == '"' || c == '\\')) {
            e[el++] = '\\', e[el++] = (char)c;
        } else if (json) {
            e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
            el = 6;
        } else {
            e[0] = '\\', e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15];
            el = 4;
        }
        if (b->len - start + el > max) {
            buf_puts(b, "...");
            return;
        }
        buf_append(b, e, el);
    }
}

/* One log line for r (see the top of the file). */
/* Milliseconds with three decimals ("12.345") from microseconds, as %.3f
 * would print them, without printf (one per request). */
static void put_ms(struct buf *b, int64_t us)
{
    if (us < 0) us = 0;
    buf_put_i64(b, us / 1000);
    char f[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10), (char)('0' + us % 10)};
    buf_append(b, f, 4);
}

static void log_line(struct buf *b, struct request *r, int status, int64_t dur_us, bool aborted)
{
    const char *m = r->method_name && r->method_name[0] ? r->method_name : "-";
    const char *t = r->target_len ? r->target : "-";
    size_t tl = r->target_len ? r->target_len : 1;
    const char *rid = r->request_id[0] ? r->request_id : "-";
    bool json = g_cfg->log_json;
    if (json) {
        buf_puts(b, "{\"time\":\"");
        time_format(b, r->now_us);
        buf_puts(b, "\",\"client\":\"");
        log_field(b, r->client_addr, strlen(r->client_addr), 64, true);
        buf_puts(b, "\",\"method\":\"");
        log_field(b, m, strlen(m), LOG_METHOD_MAX, true);
        buf_puts(b, "\",\"path\":\"");
        log_field(b, t, tl, LOG_TARGET_MAX, true);
        buf_puts(b, "\",\"status\":");
        buf_put_i64(b, status);
        buf_puts(b, ",\"duration_ms\":");
        put_ms(b, dur_us);
        buf_puts(b, ",\"request_id\":\"");
        log_field(b, rid, strlen(rid), 64, true); /* validated already; escaped all the same */
        buf_puts(b, aborted ? "\",\"aborted\":true}\n" : "\"}\n");
    } else {
        time_format(b, r->now_us);
        buf_putc(b, ' ');
        log_field(b, r->client_addr, strlen(r->client_addr), 64, false);
        buf_putc(b, ' ');
        log_field(b, m, strlen(m), LOG_METHOD_MAX, false);
        buf_putc(b, ' ');
        log_field(b, t, tl, LOG_TARGET_MAX, false);
        buf_putc(b, ' ');
        buf_put_i64(b, status);
        buf_putc(b, ' ');
        put_ms(b, dur_us);
        buf_puts(b, "ms rid=");
        log_field(b, rid, strlen(rid), 64, false);
        buf_puts(b, aborted ? " aborted\n" : "\n");
    }
}

/* ---- workers -------------------------------------------------------------- */

/* One job: authenticate from the headers (JOB_AUTH: answered only if that
 * fails), or answer the request (JOB_HANDLE). */
static void run_job(struct http_conn *c, void *worker)
{
    struct request *r = c->r;
    if (c->job == JOB_AUTH) {
        g_app->authorize(r, worker);
        if (r->responded) {
            r->close = true;
            response_build(r);
        }
        return;
    }
    g_app->handle(r, worker);
    if (!r->responded) resp_error(r, 500, "Internal Server Error");
    response_build(r);
}

static void *worker_main(void *arg)
{
    struct jobq *q = arg;
    void *worker = g_app->worker_open();
    struct idler me;
    sem_init(&me.wake, 0, 0);
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stop) {
            /* posted exactly once for each time it is on the list */
            me.next = q->idle;
            q->idle = &me;
            pthread_mutex_unlock(&q->mu);
            while (sem_wait(&me.wake) != 0) continue; /* EINTR */
            pthread_mutex_lock(&q->mu);
        }
        struct http_conn *c = q->head;
        if (!c) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        q->head = c->next;
        if (!q->head) q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        c->next = NULL;
        run_job(c, worker);
        /* the eventfd is written only for the first of a batch: the I/O
         * thread takes the whole list each time it wakes */
        pthread_mutex_lock(&g_done_mu);
        bool first = !g_done_head;
        if (g_done_tail) g_done_tail->next = c;
        else g_done_head = c;
        g_done_tail = c;
        pthread_mutex_unlock(&g_done_mu);
        if (first) {
            uint64_t one = 1;
            ssize_t wr = write(g_evfd, &one, sizeof one);
            (void)wr;
        }
    }
    g_app->worker_close(worker);
    sem_destroy(&me.wake);
    return NULL;
}

/* ---- connections (I/O thread only) ---------------------------------------- */

/* The request log lines of this loop turn (I/O thread only), written
 * when the turn ends, before the thread waits for events (so a line is
 * never held while the server is idle): one write(2) per turn, not one
 * per request.  A write holds whole lines and at most PIPE_BUF bytes, so
 * that on a pipe it is atomic too: another writer's line (a worker's
 * database error) never lands inside one. */
_Static_assert(LOG_LINE_MAX <= PIPE_BUF, "a line fits in one atomic write");
static struct buf g_log;

static void log_write(size_t n)
{
    for (size_t off = 0; off < n;) { /* one write, unless a signal cuts it short */
        ssize_t w = write(STDERR_FILENO, g_log.data + off, n - off);
        if (w > 0) off += (size_t)w;
        else if (w < 0 && errno == EINTR) continue;
        else break; /* stderr closed or full: the lines are lost, not the server */
    }
    memmove(g_log.data, g_log.data + n, g_log.len - n);
    g_log.len -= n;
}

static void log_flush(void)
{
    if (g_log.len) log_write(g_log.len);
}

/* Logs r, records it in the metrics and frees it. */
static void request_finish(struct http_conn *c, bool aborted)
{
    struct request *r = c->r;
    if (!r) return;
    int64_t dur = mono_us() - r->start_us;
    int status = r->responded ? r->status : 0;
    size_t before = g_log.len;
    log_line(&g_log, r, status, dur, aborted);
    assert(g_log.len - before <= LOG_LINE_MAX);
    if (g_log.len > PIPE_BUF) log_write(before); /* the lines before this one */
    /* an answer the client did not get in full (it went away, or the
     * connection was closed for room) is counted as none, as the log marks
     * it aborted */
    g_app->observe(r, aborted ? 0 : status, dur);
    if (r->in_flight) atomic_fetch_sub(&g_in_flight, 1);
    request_free(r);
    c->r = NULL;
}

/* Closes c's socket now.  Its memory goes at the end of the loop turn, or
 * when the worker holding its request hands it back. */
static void conn_close(struct http_conn *c)
{
    if (c->fd < 0) return;
    epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->gone = true;
    if (c->idx >= 0) {
        g_conns[c->idx] = g_conns[--g_nconns];
        g_conns[c->idx]->idx = c->idx;
        c->idx = -1;
    }
    if (!c->worker) {
        request_finish(c, true);
        c->next = g_free_list;
        g_free_list = c;
    }
}

static void conn_free(struct http_conn *c)
{
    request_free(c->r);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->out_body);
    free(c);
}

/* Writes what is pending; true when all of it is out.  false: wait for
 * EPOLLOUT, or c was closed (c->fd < 0). */
static bool conn_flush(struct http_conn *c)
{
    size_t total = c->out.len + c->out_body.len;
    while (c->out_off < total) {
        struct iovec iov[2];
        size_t niov = 0;
        if (c->out_off < c->out.len) {
            iov[niov++] = (struct iovec){c->out.data + c->out_off, c->out.len - c->out_off};
            if (c->out_body.len) iov[niov++] = (struct iovec){c->out_body.data, c->out_body.len};
        } else {
            size_t at = c->out_off - c->out.len;
            iov[niov++] = (struct iovec){c->out_body.data + at, c->out_body.len - at};
        }
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = niov};
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->t_last = g_now;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return false; /* the EPOLLOUT edge brings us back */
        }
        conn_close(c);
        return false;
    }
    /* a page is not kept by an idle connection (out holds one only when an
     * answer was queued behind unsent bytes) */
    if (c->out.cap > 4096) buf_free(&c->out);
    else buf_reset(&c->out);
    buf_free(&c->out_body);
    c->out_off = 0;
    return true;
}

/* Where bytes queued behind everything unsent go: out_body once that has
 * bytes, so the order on the wire is the order they were queued in. */
static struct buf *out_tail(struct http_conn *c)
{
    return c->out_body.len ? &c->out_body : &c->out;
}

/* Queues r's serialized answer on c, its head (r->wire) and its body
 * (r->wire_body) moved, not copied, when nothing else is pending: the state
 * is WRITE. */
static void conn_answer(struct http_conn *c)
{
    struct request *r = c->r;
    assert(r && r->responded && !c->worker);
    if (r->close) c->close_after = true;
    if (c->out.len + c->out_body.len == 0) {
        buf_free(&c->out);
        c->out = r->wire;
        buf_init(&r->wire);
        c->out_body = r->wire_body;
        buf_init(&r->wire_body);
        c->out_off = 0;
    } else { /* behind unsent bytes: appended after all of them, in order */
        struct buf *tail = out_tail(c);
        buf_append(tail, r->wire.data, r->wire.len);
        buf_append(tail, r->wire_body.data, r->wire_body.len);
        buf_reset(&r->wire);
        buf_free(&r->wire_body);
    }
    c->state = C_WRITE;
}

/* Answers c's request (made from h if there is none yet) with an error and
 * closes the connection after it. */
static void conn_fail(struct http_conn *c, const struct http_head *h, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void conn_fail(struct http_conn *c, const struct http_head *h, int status, const char *fmt, ...)
{
    if (!c->r) c->r = request_new(c, h);
    struct request *r = c->r;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->nheaders = 0;
    if (status == 503) resp_header(r, "Retry-After", "1");
    resp_error(r, status, "%s", msg);
    r->close = true;
    response_build(r);
    conn_answer(c);
}

static void conn_linger(struct http_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->t_linger = g_now;
    c->in_off = c->in.len;
}

/* Posts w, taken off its queue's idle list under the queue's mutex and
 * released since; returns the idler after it on that list, read before
 * the post, since w may be gone once woken. */
static struct idler *wake(struct idler *w)
{
    struct idler *next = w->next;
    sem_post(&w->wake);
    return next;
}

static void submit(struct http_conn *c, enum job job)
{
    assert(c->r && !c->worker && c->fd >= 0 && (c->state == C_HEAD || c->state == C_BODY));
    struct jobq *q = &g_jobs;
    if (g_have_prio && c->r->priority) q = &g_prio;
    c->job = job;
    c->state = job == JOB_AUTH ? C_AUTH : C_WORK;
    c->worker = true;
    pthread_mutex_lock(&q->mu);
    c->next = NULL;
    if (q->tail) q->tail->next = c;
    else q->head = c;
    q->tail = c;
    struct idler *w = q->idle;
    if (w) q->idle = w->next;
    pthread_mutex_unlock(&q->mu);
    if (w) wake(w);
}

/* The route of r's target from path_off on (the parser's: after the
 * authority of an absolute target), where an absolute target's empty path
 * is "/" (RFC 9112 §3.2.2: "http://host" and "http://host?q" are "/" and
 * "/?q"). */
static enum url_status parse_route(struct request *r, size_t path_off)
{
    const char *p = r->target + path_off;
    size_t n = r->target_len - path_off;
    if (!path_off || (n && p[0] == '/')) return url_parse(p, n, &r->url);
    char *root = xmalloc(n + 1);
    root[0] = '/';
    memcpy(root + 1, p, n);
    enum url_status us = url_parse(root, n + 1, &r->url);
    free(root);
    return us;
}

/* The request head is parsed (rc > 0): the checks that need only the
 * head, then where the request goes next. */
static void start_request(struct http_conn *c, const struct http_head *h)
{
    struct request *r = c->r = request_new(c, h);
    bool has_body = h->chunked || h->content_length > 0;
    if (!r->method) {
        conn_fail(c, h, 501, "Method '%.32s' is not implemented", r->method_name);
        return;
    }
    if (r->target_len > HTTP_MAX_TARGET) {
        conn_fail(c, h, 414, "Request target longer than %d bytes", HTTP_MAX_TARGET);
        return;
    }
    enum url_status us = h->asterisk ? URL_OK : parse_route(r, h->path_off);
    if (us == URL_BAD_ENCODING) {
        conn_fail(c, h, 400, "Malformed percent-encoding in the request target");
        return;
    }
    if (h->content_length > HTTP_MAX_BODY) {
        conn_fail(c, h, 413, "Request body larger than %d bytes", HTTP_MAX_BODY);
        return;
    }
    if (h->asterisk) {
        /* "OPTIONS *" asks about the server in general (RFC 9110 §9.3.7) */
        char allow[sizeof methods / sizeof methods[0] * 9 + 1] = ""; /* names of at most 7 bytes, ", " */
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            strcat(strcat(allow, i ? ", " : ""), methods[i].name);
        resp_header(r, "Allow", allow);
        resp_empty(r, 204);
    } else if (us == URL_BAD_PATH || us == URL_TOO_MANY) {
        resp_error(r, 404, "Not Found");
    } else if (us == URL_TOO_MANY_PAIRS) {
        resp_invalid(r, "query", NULL, "Too many query parameters", "too_long");
    } else if (has_body && !body_allowed(r->method) && r->method != M_OPTIONS) {
        resp_error(r, 400, "%s requests take no body", r->method_name);
    } else if (!g_app->precheck(r)) {
        /* not answered yet: where it goes */
        if (has_body) {
            c->chunked = h->chunked;
            c->body_left = h->content_length;
            memset(&c->ck, 0, sizeof c->ck);
            c->expect_continue = h->expect_continue && h->minor == 1;
            c->body_in = 0;
            if (r->public_route) {
                c->state = C_BODY;
                c->t_body = g_now;
            } else {
                submit(c, JOB_AUTH);
            }
            return;
        }
        if (r->no_database) {
            g_app->handle(r, NULL); /* needs no database: answered here */
        } else {
            submit(c, JOB_HANDLE);
            return;
        }
    }
    /* answered here; a body it did not read closes the connection */
    if (has_body) r->close = true;
    response_build(r);
    conn_answer(c);
}

/* Takes body bytes from c->in; moves on when the body is complete. */
static void read_body(struct http_conn *c)
{
    struct request *r = c->r;
    const char *p = c->in.data + c->in_off;
    size_t avail = c->in.len - c->in_off;
    if (!avail) return;
    int rc;
    size_t used;
    if (c->chunked) {
        rc = http_chunked_feed(&c->ck, p, avail, &used, &r->body, HTTP_MAX_BODY);
    } else {
        used = avail < (uint64_t)c->body_left ? avail : (size_t)c->body_left;
        buf_append(&r->body, p, used);
        c->body_left -= (int64_t)used;
        rc = c->body_left == 0;
    }
    c->in_off += used;
    c->body_in += used;
    if (r->body.len > r->body_reserved) {
        /* memory is reserved as bytes arrive, doubling, so a stalled
         * upload holds about what it sent */
        size_t want = r->body.len > 4096 ? r->body.len * 2 : 4096;
        if (want > HTTP_MAX_BODY) want = HTTP_MAX_BODY;
        if (!c->chunked && want > (size_t)c->body_left + r->body.len) want = (size_t)c->body_left + r->body.len;
        if (want < r->body.len) want = r->body.len;
        if (!body_reserve(r, want - r->body_reserved)) {
            conn_fail(c, NULL, 503, "Server busy: too many request bodies in progress, try again shortly");
            return;
        }
    }
    if (rc == -413) conn_fail(c, NULL, 413, "Request body larger than %d bytes", HTTP_MAX_BODY);
    else if (rc < 0) conn_fail(c, NULL, 400, "Malformed chunked request body");
    else if (rc == 1) submit(c, JOB_HANDLE);
}

/* Moves c along as far as the bytes it has allow. */
static void conn_advance(struct http_conn *c)
{
    while (c->fd >= 0) {
        switch (c->state) {
        case C_HEAD: {
            while (c->in.len - c->in_off >= 2 && c->in.data[c->in_off] == '\r' && c->in.data[c->in_off + 1] == '\n')
                c->in_off += 2; /* empty lines before a request line (RFC 9112 §2.2) */
            const char *p = c->in.data + c->in_off;
            size_t avail = c->in.len - c->in_off;
            if (!avail) {
                buf_reset(&c->in);
                c->in_off = 0;
                c->t_first = 0; /* empty lines are not a head: its deadline starts with its first byte */
                return;
            }
            if (!c->t_first) c->t_first = g_now;
            if (!http_head_ready(&c->scan, p, avail)) return;
            static struct http_head h; /* I/O thread only */
            int rc = http_parse_head(p, avail, &h);
            memset(&c->scan, 0, sizeof c->scan);
            if (rc == 0) {
                if (avail < HEAD_CAP) return;
                rc = -431, h.error = "Request headers too large";
            }
            if (rc < 0) {
                conn_fail(c, &h, -rc, "%s", h.error ? h.error : "Malformed request");
                continue;
            }
            c->in_off += (size_t)rc;
            start_request(c, &h);
            continue;
        }
        case C_BODY:
            read_body(c);
            if (c->state == C_BODY) return;
            continue;
        case C_AUTH:
        case C_WORK:
        case C_LINGER:
            return;
        case C_WRITE:
            if (!conn_flush(c)) return;
            request_finish(c, false);
            /* after the client's end of stream (read: nothing is left in
             * the socket), what it sent before is still answered */
            if (c->close_after || (c->peer_eof && c->in.len == c->in_off) || atomic_load(&g_draining)) {
                conn_linger(c);
                return;
            }
            c->served = true;
            c->state = C_HEAD;
            c->t_first = 0;
            c->t_last = g_now;
            continue;
        }
    }
}

/* Reads what the socket has (edge-triggered: until a short read, EAGAIN,
 * or the head buffer is full; nothing while c->drained, unless c->eager,
 * when only EAGAIN or the end of stream stops it).  True if there is
 * something new to act on: bytes, or the client's end of stream
 * (c->peer_eof). */
static bool conn_read_some(struct http_conn *c)
{
    bool got = false;
    while (c->fd >= 0) {
        if (c->state == C_LINGER) {
            char sink[16384];
            ssize_t n = recv(c->fd, sink, sizeof sink, 0);
            if (n > 0 && (c->linger_in += (size_t)n) < HTTP_LINGER_MAX) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
            conn_close(c);
            return false;
        }
        if (c->drained && !c->eager) return got;
        if (c->in_off && c->in_off == c->in.len) buf_reset(&c->in), c->in_off = 0;
        size_t held = c->in.len - c->in_off;
        size_t want = c->state == C_HEAD ? (held < HEAD_CAP ? HEAD_CAP - held : 0) : READ_CHUNK;
        if (!want) return got;
        if (c->in_off > 0) {
            memmove(c->in.data, c->in.data + c->in_off, held);
            c->in.len = held;
            c->in_off = 0;
        }
        /* into a stack buffer first: a connection holds what it was sent,
         * not what it might be sent */
        char tmp[16384];
        if (want > sizeof tmp) want = sizeof tmp;
        ssize_t n = recv(c->fd, tmp, want, 0);
        if (n > 0) {
            buf_append(&c->in, tmp, (size_t)n);
            c->t_last = g_now;
            got = true;
            if (c->state == C_HEAD && !c->t_first) c->t_first = g_now;
            /* a short read took all there was (unless c->eager: see its
             * comment); bytes that come later bring a new edge (Linux wakes
             * epoll on every arrival) */
            bool all = (size_t)n < want;
            if (all) c->drained = true;
            if (c->state == C_BODY) {
                read_body(c);
                if (c->state != C_BODY) return true;
            }
            if (all) return true;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->drained = true;
            return got;
        }
        c->peer_eof = true; /* closed or reset */
        return true;
    }
    return false;
}

/* Connections with work left over (a bounded turn ended with bytes still
 * to read): run again before the next wait. */
static struct http_conn *g_ready[HTTP_MAX_CONNS + 1];
static int g_nready;

/* Runs c as far as it can go: parse, answer, write, read more. */
static void conn_run(struct http_conn *c)
{
    for (int turn = 0; c->fd >= 0; turn++) {
        conn_advance(c);
        if (c->fd < 0) return;
        if (c->state != C_HEAD && c->state != C_BODY && c->state != C_LINGER) return;
        if (c->peer_eof) {
            /* the client is gone or done sending: nothing more will come */
            conn_close(c);
            return;
        }
        if (turn == 32) {
            if (!c->ready && g_nready < HTTP_MAX_CONNS + 1) c->ready = true, g_ready[g_nready++] = c;
            return;
        }
        if (!conn_read_some(c)) return; /* wait for the next edge */
    }
}

static void conn_event(struct http_conn *c, uint32_t ev)
{
    if (ev & EV_READABLE) c->drained = false;
    /* sticky: bytes and the end of stream (or urgent data and the bytes
     * after it) can come in one event, and a short read takes the bytes
     * before and leaves the rest unread, with no event to come for it */
    if (ev & EV_EAGER) c->eager = true;
    if (c->state == C_AUTH || c->state == C_WORK) {
        /* the worker has the request: only watch for the client going */
        /* a half close (EPOLLRDHUP) is not c->peer_eof yet: requests the
         * client sent before it may still be unread, and closing with
         * them unread would reset the connection and lose the answers
         * on their way; the reads after the answer (eager) find the end */
        if (ev & (EPOLLHUP | EPOLLERR)) conn_close(c);
        return;
    }
    if ((ev & EPOLLOUT) && c->out.len + c->out_body.len > c->out_off && c->state != C_WRITE) conn_flush(c); /* 100 Continue */
    if (c->fd < 0) return;
    if (c->state == C_WRITE) {
        if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) conn_run(c);
        return;
    }
    if (ev & EV_READABLE) {
        conn_read_some(c);
        conn_run(c);
    }
}

/* Workers' finished jobs. */
static void process_done(void)
{
    pthread_mutex_lock(&g_done_mu);
    struct http_conn *c = g_done_head;
    g_done_head = g_done_tail = NULL;
    pthread_mutex_unlock(&g_done_mu);
    while (c) {
        struct http_conn *next = c->next;
        assert(c->worker && (c->state == C_AUTH || c->state == C_WORK) && c->r);
        c->next = NULL;
        c->worker = false;
        if (c->fd < 0) {
            request_finish(c, true); /* the client went away: abandoned */
            c->next = g_free_list;   /* freed at the end of the loop turn */
            g_free_list = c;
        } else if (c->state == C_AUTH && !c->r->responded) {
            c->state = C_BODY;
            c->t_body = c->t_last = g_now;
            if (c->expect_continue && c->in.len == c->in_off) {
                buf_puts(out_tail(c), "HTTP/1.1 100 Continue\r\n\r\n");
                conn_flush(c);
            }
            if (c->fd >= 0) {
                conn_read_some(c); /* what came while the worker checked the token */
                conn_run(c);
            }
        } else {
            conn_answer(c); /* after the client's end of stream, the C_WRITE step decides */
            conn_run(c);
        }
        c = next;
    }
}

/* ---- accepting, budgets, deadlines ------------------------------------------ */

static bool incomplete(const struct http_conn *c)
{
    return c->state == C_BODY || (c->state == C_HEAD && (!c->served || c->in.len > c->in_off));
}

/* How long c has waited in its state, for picking whom to close first. */
static int64_t since(const struct http_conn *c)
{
    if (c->state == C_LINGER) return c->t_linger;
    if (c->state == C_BODY) return c->t_body;
    if (c->state == C_WRITE) return c->t_last; /* the answer's last progress */
    if (c->t_first) return c->t_first;
    return c->served ? c->t_last : c->t_accept;
}

/* Not closed to make room while another can be: a connection opened less
 * than HTTP_EVICT_AFTER_US ago that has sent no request yet (a pool's
 * connections opened together), or an answer that moved that recently. */
static bool young(const struct http_conn *c)
{
    if (c->state == C_WRITE) return g_now - c->t_last < HTTP_EVICT_AFTER_US;
    return c->state == C_HEAD && !c->served && c->in.len == c->in_off && g_now - c->t_accept < HTTP_EVICT_AFTER_US;
}

/* The connection to close to make room: lingering ones first, then idle
 * keep-alive ones, then incomplete requests, then answers the client is
 * slow to take, oldest first; among those of address key if key, among
 * incomplete requests only if only_incomplete.  young() ones only when
 * there is no other, and then only if spare_young is false; a request a
 * worker has is never closed. */
static struct http_conn *victim_of(const unsigned char *key, bool only_incomplete, bool spare_young)
{
    struct http_conn *best = NULL;
    int best_rank = 9;
    for (int i = 0; i < g_nconns; i++) {
        struct http_conn *c = g_conns[i];
        if (key && memcmp(c->key, key, 17) != 0) continue;
        int rank;
        if (incomplete(c)) rank = 2;
        else if (only_incomplete) continue;
        else if (c->state == C_LINGER) rank = 0;
        else if (c->state == C_HEAD) rank = 1;
        else if (c->state == C_WRITE) rank = 3;
        else continue;
        if (spare_young && young(c)) continue;
        if (rank < best_rank || (rank == best_rank && since(c) < since(best))) best = c, best_rank = rank;
    }
    return best;
}

static struct http_conn *victim(const unsigned char *key, bool only_incomplete, bool spare_young)
{
    struct http_conn *v = victim_of(key, only_incomplete, true);
    return v || spare_young ? v : victim_of(key, only_incomplete, false);
}

/* Closes c to make room.  A request it had begun is told so (408, best
 * effort: one write that does not wait) and logged. */
static void evict(struct http_conn *c)
{
    if (c->state == C_BODY || (c->state == C_HEAD && c->in.len > c->in_off)) {
        static struct http_head h; /* I/O thread only */
        if (!c->r) http_parse_head(c->in.data + c->in_off, c->in.len - c->in_off, &h);
        conn_fail(c, &h, 408, "Request not completed in time: the server needed the connection");
        bool sent = conn_flush(c);
        if (c->fd >= 0) request_finish(c, !sent);
    }
    conn_close(c);
}

static void addr_of(const struct sockaddr_storage *ss, unsigned char key[17], char *text, size_t cap)
{
    memset(key, 0, 17);
    snprintf(text, cap, "-");
    key[0] = (unsigned char)ss->ss_family;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(key + 1, &a->sin_addr, 4);
        inet_ntop(AF_INET, &a->sin_addr, text, (socklen_t)cap);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        memcpy(key + 1, &a->sin6_addr, 16);
        inet_ntop(AF_INET6, &a->sin6_addr, text, (socklen_t)cap);
    }
}

static void accept_all(int lfd)
{
    for (int k = 0; k < 256; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;
        }
        unsigned char key[17];
        char text[48];
        addr_of(&ss, key, text, sizeof text);
        /* room: at the global cap, and at the address's */
        int per_ip = g_cfg->max_per_ip;
        int a_conns = 0, a_inc = 0, g_inc = 0;
        for (int i = 0; i < g_nconns; i++) {
            bool same = memcmp(g_conns[i]->key, key, 17) == 0;
            bool inc = incomplete(g_conns[i]);
            g_inc += inc;
            a_conns += same;
            a_inc += same && inc;
        }
        /* Both victims are chosen before either is closed: a connection
         * refused at its address's cap costs nobody else theirs.  At a cap
         * someone always goes (young ones too, last), so nobody is locked
         * out; the budgets of incomplete requests spare young connections,
         * so a pool opened at once keeps all of its own (the hard caps
         * still bound them). */
        struct http_conn *v = NULL;
        if (per_ip && a_conns >= per_ip && !(v = victim(key, false, false))) {
            close(fd);
            continue;
        }
        if (!v && g_nconns >= HTTP_MAX_CONNS && !(v = victim(NULL, false, false))) {
            close(fd);
            continue;
        }
        if (v) {
            bool same = memcmp(v->key, key, 17) == 0, inc = incomplete(v); /* before evict moves it on */
            g_inc -= inc;
            a_inc -= same && inc;
            evict(v);
        }
        /* the budget of incomplete requests: in all, and per address */
        int inc_per_ip = per_ip ? (per_ip / 2 > 0 ? per_ip / 2 : 1) : 0;
        if (g_inc >= HTTP_MAX_INCOMPLETE && (v = victim(NULL, true, true))) {
            a_inc -= memcmp(v->key, key, 17) == 0;
            evict(v);
        }
        if (inc_per_ip && a_inc >= inc_per_ip && (v = victim(key, true, true))) evict(v);

        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct http_conn *c = xcalloc(1, sizeof *c);
        c->fd = fd;
        memcpy(c->key, key, 17);
        snprintf(c->addr, sizeof c->addr, "%s", text);
        buf_init(&c->in);
        buf_init(&c->out);
        buf_init(&c->out_body);
        c->t_accept = c->t_last = g_now;
        c->idx = g_nconns;
        g_conns[g_nconns++] = c;
        /* edge-triggered, registered once: no epoll_ctl per request */
        c->events = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        struct epoll_event e = {.events = c->events, .data.ptr = c};
        epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &e);
    }
}

/* Deadlines: every connection, a few times a second. */
static void sweep(void)
{
    int64_t head_us = (int64_t)g_cfg->header_timeout_s * 1000000;
    int64_t idle_us = (int64_t)g_cfg->conn_timeout_s * 1000000;
    for (int i = g_nconns - 1; i >= 0; i--) {
        if (i >= g_nconns) continue;
        struct http_conn *c = g_conns[i];
        switch (c->state) {
        case C_HEAD:
            if (c->in.len > c->in_off) {
                if (g_now - c->t_first > head_us) {
                    struct http_head h;
                    http_parse_head(c->in.data + c->in_off, c->in.len - c->in_off, &h); /* for the log and the rid */
                    conn_fail(c, &h, 408, "Request headers not received within %d s", g_cfg->header_timeout_s);
                    conn_run(c);
                }
            } else if (g_now - (c->served ? c->t_last : c->t_accept) > (c->served ? idle_us : head_us)) {
                conn_close(c);
            }
            break;
        case C_BODY: {
            int64_t el = g_now - c->t_body;
            if (g_now - c->t_last > head_us ||
                (el > head_us && (double)c->body_in * 1e6 / (double)el < HTTP_MIN_BODY_RATE)) {
                conn_fail(c, NULL, 408, "Request body too slow: send at least %d bytes/s", HTTP_MIN_BODY_RATE);
                conn_run(c);
            }
            break;
        }
        case C_WRITE:
            if (g_now - c->t_last > HTTP_WRITE_TIMEOUT_US) conn_close(c);
            break;
        case C_LINGER:
            if (g_now - c->t_linger > HTTP_LINGER_US) conn_close(c);
            break;
        default:
            break;
        }
    }
}

/* Requests the drain waits for: headers in, answer not yet written, and a
 * client that has not gone (a half-closed one may still read its answer;
 * the drain's deadline bounds the wait either way). */
static int live_in_flight(void)
{
    int n = 0;
    for (int i = 0; i < g_nconns; i++) {
        struct http_conn *c = g_conns[i];
        if (c->r && !c->peer_eof && c->state != C_HEAD && c->state != C_LINGER) n++;
    }
    return n;
}

int server_parse_listen(const char *listen, char *host, unsigned long hostcap, unsigned *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || !colon[1]) return 0;
    int64_t p;
    if (!int_parse(colon + 1, strlen(colon + 1), &p) || p < 0 || p > 65535) return 0;
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
    if (hl == 0) h = "0.0.0.0", hl = 7;
    if (hl >= hostcap) return 0;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 1;
}

int server_resolve(const char *host, unsigned port, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    *v6 = false;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    /* A host name: its first IPv4 address, else its first IPv6 one. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL, *pick = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "firemode: cannot resolve the listen host '%s': %s\n", host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET && !pick) pick = a;
    for (struct addrinfo *a = res; a && !pick; a = a->ai_next)
        if (a->ai_family == AF_INET6) pick = a;
    if (!pick) {
        freeaddrinfo(res);
        fprintf(stderr, "firemode: the listen host '%s' has no IPv4 or IPv6 address\n", host);
        return -1;
    }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    if (pick->ai_family == AF_INET) in4->sin_port = htons((uint16_t)port);
    else in6->sin6_port = htons((uint16_t)port), *v6 = true;
    freeaddrinfo(res);
    return 0;
}

static int listen_on(const struct sockaddr_storage *ss, bool v6)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t sl = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)ss, sl) < 0 || listen(fd, 1024) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int server_run(const struct server_config *cfg, const struct http_app *app)
{
    g_cfg = cfg;
    char host[128];
    unsigned port;
    if (!server_parse_listen(cfg->listen, host, sizeof host, &port)) {
        fprintf(stderr, "firemode: bad listen address '%s' (want HOST:PORT)\n", cfg->listen);
        return -1;
    }
    struct sockaddr_storage ss;
    bool v6;
    if (server_resolve(host, port, &ss, &v6) < 0) return -1;
    int lfd = listen_on(&ss, v6);
    if (lfd < 0) {
        fprintf(stderr, "firemode: cannot listen on %s: %s\n", cfg->listen, strerror(errno));
        return -1;
    }
    g_app = app;

    /* Signals are taken by the I/O thread only, through a signalfd; the
     * workers inherit the blocked mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    g_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    static char tag_listen, tag_event, tag_signal;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &tag_listen};
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, lfd, &e);
    e.data.ptr = &tag_event;
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_evfd, &e);
    e.data.ptr = &tag_signal;
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, sfd, &e);

    int nworkers = cfg->threads;
    g_have_prio = cfg->priority_worker;
    pthread_t *tids = xcalloc((size_t)nworkers + 1, sizeof *tids);
    for (int i = 0; i < nworkers; i++) pthread_create(&tids[i], NULL, worker_main, &g_jobs);
    if (g_have_prio) pthread_create(&tids[nworkers], NULL, worker_main, &g_prio);

    fprintf(stderr, "firemode: serving on http://%s (%s, %d threads)\n", cfg->listen, cfg->serving, cfg->threads);

    int64_t drain_until = 0, last_sweep = 0;
    struct epoll_event evs[256];
    for (;;) {
        log_flush();
        int n = epoll_wait(g_epfd, evs, 256, g_nready ? 0 : 100);
        g_now = mono_us();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_listen) {
                accept_all(lfd);
            } else if (p == &tag_event) {
                uint64_t v;
                ssize_t rd = read(g_evfd, &v, sizeof v);
                (void)rd;
                process_done();
            } else if (p == &tag_signal) {
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof si) != sizeof si || drain_until) continue;
                log_flush(); /* the lines of requests answered before it come first */
                fprintf(stderr, "firemode: %s received, draining\n", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                atomic_store(&g_draining, true);
                drain_until = g_now + HTTP_DRAIN_US;
                epoll_ctl(g_epfd, EPOLL_CTL_DEL, lfd, NULL);
                close(lfd);
                lfd = -1;
                /* no request in flight on these: idle, partial heads, lingering */
                for (int k = g_nconns - 1; k >= 0; k--)
                    if (k < g_nconns && (g_conns[k]->state == C_HEAD || g_conns[k]->state == C_LINGER))
                        conn_close(g_conns[k]);
            } else {
                conn_event(p, evs[i].events);
            }
        }
        /* connections a bounded turn left with work (closed ones are skipped:
         * they are on the free list until the end of this turn) */
        int nr = g_nready;
        g_nready = 0;
        for (int i = 0; i < nr; i++) {
            struct http_conn *c = g_ready[i];
            c->ready = false; /* before conn_run, which may put it back */
            if (c->fd >= 0 && !c->worker) conn_run(c);
        }
        if (g_now - last_sweep >= 100000) {
            sweep();
            last_sweep = g_now;
        }
        while (g_free_list) {
            struct http_conn *c = g_free_list;
            g_free_list = c->next;
            for (int i = 0; i < g_nready; i++)
                if (g_ready[i] == c) g_ready[i--] = g_ready[--g_nready];
            conn_free(c);
        }
        if (drain_until && (live_in_flight() == 0 || g_now > drain_until)) break;
    }
    /* stop: close what is left; workers finish the job in hand and exit.
     * The last turn's lines and those of the requests closed here go out
     * now, not after the workers are joined (which may wait for a slow
     * statement) */
    while (g_nconns) conn_close(g_conns[g_nconns - 1]);
    log_flush();
    for (struct jobq *q = &g_jobs; q; q = q == &g_jobs && g_have_prio ? &g_prio : NULL) {
        pthread_mutex_lock(&q->mu);
        q->stop = true;
        struct idler *idle = q->idle;
        q->idle = NULL;
        pthread_mutex_unlock(&q->mu);
        while (idle) idle = wake(idle);
    }
    for (int i = 0; i < nworkers + (g_have_prio ? 1 : 0); i++) pthread_join(tids[i], NULL);
    free(tids);
    process_done();
    while (g_free_list) {
        struct http_conn *c = g_free_list;
        g_free_list = c->next;
        conn_free(c);
    }
    log_flush();
    buf_free(&g_log);
    close(g_epfd);
    close(g_evfd);
    close(sfd);
    fprintf(stderr, "firemode: stopped\n");
    return 0;
}
