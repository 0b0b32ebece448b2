/*
 * server — see server.h.
 *
 * Threads: libmicrohttpd's internal thread pool (epoll), `threads` workers.
 * Each worker lazily opens its own database connection (a thread-specific
 * key closes it when the worker exits), so prepared statements are reused
 * per connection and no lock is shared on the request path.
 *
 * A request's life:
 *   URI log callback   -> struct request allocated, raw target kept
 *   first access call  -> method, target, header limits; body limits from
 *                         Content-Length; then MHD_YES to read the body
 *   more access calls  -> body appended (413 as soon as it passes 1 MiB)
 *   last access call   -> api_handle() answers; the response is queued
 *   completed callback -> log line, metrics, request freed
 *
 * The log: one line per request on stderr, text or JSON (--log-format),
 * with the UTC time the request arrived, the client address, method,
 * target, status, duration and request id.  Every field that came from the
 * client is escaped and cut to a bound, so a line is at most LOG_LINE_MAX
 * bytes (one write(2), never interleaved) and a request can neither forge
 * a line nor make one huge.  Headers and bodies are never logged, so
 * neither is a token.
 * A stalled client costs one connection slot until the connection timeout;
 * it never blocks a worker, because MHD reads and writes without blocking.
 */
#include "server.h"

#include "../api/api.h"
#include "../store/store.h"
#include "../util/crypto.h"
#include "../util/text.h"
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const struct server_config *g_cfg;
static pthread_key_t g_store_key;
static atomic_int g_in_flight;
/* Request body memory, as it arrives (see HTTP_BODY_BUDGET): a total, and
 * a share per client address, so that one client's stalled uploads cannot
 * spend what others need.  Addresses live in a small open-addressing table
 * (entries stay once used; a slot whose bytes are 0 is reused). */
#define ADDR_SLOTS 2048
static pthread_mutex_t g_body_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t g_body_bytes;
static struct {
    unsigned char key[17]; /* family byte + up to 16 address bytes */
    bool used;
    size_t bytes;
} g_addr[ADDR_SLOTS];

/* The table slot of this connection's client address (g_body_mu held), or
 * -1 when the table is full of busy addresses. */
static int addr_slot(struct MHD_Connection *conn)
{
    unsigned char key[17] = {0};
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        key[0] = (unsigned char)sa->sa_family;
        if (sa->sa_family == AF_INET) memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        else if (sa->sa_family == AF_INET6) memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 17; i++) h = (h ^ key[i]) * 1099511628211ull;
    int free_slot = -1;
    for (int k = 0; k < ADDR_SLOTS; k++) {
        int i = (int)((h + (uint64_t)k) % ADDR_SLOTS);
        if (!g_addr[i].used) {
            if (free_slot < 0) free_slot = i;
            break;
        }
        if (memcmp(g_addr[i].key, key, sizeof key) == 0) return i;
        if (g_addr[i].bytes == 0 && free_slot < 0) free_slot = i;
    }
    if (free_slot >= 0) {
        memcpy(g_addr[free_slot].key, key, sizeof key);
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
    if (r->addr_slot < 0) r->addr_slot = addr_slot(r->conn);
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
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
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

/* ---- the request life cycle ------------------------------------------ */

static void request_free(struct request *r)
{
    if (!r) return;
    body_release(r);
    free(r->target);
    url_free(&r->url);
    buf_free(&r->body);
    buf_free(&r->out);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r);
}

/* The client's address as text ("127.0.0.1", "::1"), or "-". */
static void client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "-");
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct request *r = xcalloc(1, sizeof *r);
    r->conn = conn;
    client_address(conn, r->client_addr, sizeof r->client_addr);
    r->addr_slot = -1;
    r->start_us = mono_us();
    r->now_us = time_now_us();
    r->target_len = strlen(uri);
    r->target = xstrndup(uri, r->target_len > HTTP_MAX_TARGET + 1 ? HTTP_MAX_TARGET + 1 : r->target_len);
    buf_init(&r->body);
    buf_init(&r->out);
    return r;
}

static const struct {
    const char *name;
    enum method m;
} methods[] = {
    {"GET", M_GET}, {"HEAD", M_HEAD}, {"POST", M_POST}, {"PUT", M_PUT},
    {"PATCH", M_PATCH}, {"DELETE", M_DELETE}, {"OPTIONS", M_OPTIONS},
};

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    size_t *total = cls;
    *total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static bool valid_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':'))
            return false;
    }
    return true;
}

static enum MHD_Result respond_now(struct MHD_Connection *conn, struct request *r)
{
    size_t len;
    char *data = buf_steal(&r->out, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    for (int i = 0; i < r->nheaders; i++) MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void store_dtor(void *p)
{
    store_close(p);
}

/* This worker's database connection, opened on first use; NULL (and err
 * filled) when the database cannot be reached now. */
static struct store *worker_store(struct store_err *err)
{
    struct store *st = pthread_getspecific(g_store_key);
    if (st) return st;
    st = store_open(g_cfg->db_url, err);
    if (st) pthread_setspecific(g_store_key, st);
    return st;
}

static bool body_allowed(enum method m)
{
    return m == M_POST || m == M_PUT || m == M_PATCH;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct request *r = *req_cls;
    if (!r) return MHD_NO; /* cannot happen: the URI logger always runs first */

    if (r->method_name == NULL) {
        /* First call: headers are complete.  From here on the request is
         * in flight: a SIGTERM lets it finish.  (One still sending its
         * headers is not waited for.) */
        r->in_flight = true;
        atomic_fetch_add(&g_in_flight, 1);
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && valid_request_id(rid)) {
            snprintf(r->request_id, sizeof r->request_id, "%s", rid);
        } else {
            char u[37];
            uuid7_new(u);
            snprintf(r->request_id, sizeof r->request_id, "%s", u);
        }
        r->method_name = method;
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (strcmp(method, methods[i].name) == 0) r->method = methods[i].m;
        if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
            resp_error(r, 505, "HTTP version not supported: use HTTP/1.1 or HTTP/1.0");
            return respond_now(conn, r);
        }
        if (!r->method) {
            resp_error(r, 501, "Method '%.32s' is not implemented", method);
            return respond_now(conn, r);
        }
        if (r->target_len > HTTP_MAX_TARGET) {
            resp_error(r, 414, "Request target longer than %d bytes", HTTP_MAX_TARGET);
            return respond_now(conn, r);
        }
        size_t hsize = 0;
        MHD_get_connection_values(conn, MHD_HEADER_KIND, sum_header, &hsize);
        if (hsize > HTTP_MAX_HEADERS) {
            resp_error(r, 431, "Request headers larger than %d bytes", HTTP_MAX_HEADERS);
            return respond_now(conn, r);
        }
        enum url_status us = url_parse(r->target, r->target_len, &r->url);
        if (us == URL_BAD_ENCODING) {
            resp_error(r, 400, "Malformed percent-encoding in the request target");
            return respond_now(conn, r);
        }
        if (us == URL_BAD_PATH || us == URL_TOO_MANY) {
            resp_error(r, 404, "Not Found");
            return respond_now(conn, r);
        }
        if (us == URL_TOO_MANY_PAIRS) {
            resp_invalid(r, "query", NULL, "Too many query parameters", "too_long");
            return respond_now(conn, r);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            int64_t n;
            if (!int_parse(cl, strlen(cl), &n) || n < 0) {
                resp_error(r, 400, "Malformed Content-Length");
                return respond_now(conn, r);
            }
            if (n > HTTP_MAX_BODY) {
                resp_error(r, 413, "Request body larger than %d bytes", HTTP_MAX_BODY);
                return respond_now(conn, r);
            }
        }
        /* Route and method before the body, so a wrong method or path is
         * answered without reading what the client sends. */
        if (api_precheck(r)) return respond_now(conn, r);
        return MHD_YES;
    }

    if (*upload_data_size) {
        /* libmicrohttpd can answer only before or after the body, so an
         * oversized body (chunked: its size is not known up front) is read
         * and dropped up to HTTP_MAX_DISCARD more bytes, then answered 413;
         * past that the connection is closed. */
        r->body_seen += *upload_data_size;
        if (r->body_seen > HTTP_MAX_BODY + HTTP_MAX_DISCARD) return MHD_NO;
        size_t want = r->body.len + *upload_data_size;
        if (!r->too_large && !r->busy && want <= HTTP_MAX_BODY) {
            /* Memory is reserved as bytes arrive, doubling (a declared
             * Content-Length reserves nothing by itself), so a stalled
             * upload holds about what it sent. */
            if (want > r->body_reserved) {
                size_t grow = want > 4096 ? want * 2 : 4096;
                if (grow > HTTP_MAX_BODY) grow = HTTP_MAX_BODY;
                if (!body_reserve(r, grow - r->body_reserved)) r->busy = true;
                else buf_reserve(&r->body, grow - r->body.len);
            }
            if (!r->busy) buf_append(&r->body, upload_data, *upload_data_size);
        } else {
            r->too_large = !r->busy;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->responded) return MHD_YES;
    if (r->too_large) {
        resp_error(r, 413, "Request body larger than %d bytes", HTTP_MAX_BODY);
        return respond_now(conn, r);
    }
    if (r->busy) {
        resp_header(r, "Retry-After", "1");
        resp_error(r, 503, "Server busy: too many request bodies in progress, try again shortly");
        return respond_now(conn, r);
    }
    if (r->body.len && !body_allowed(r->method)) {
        resp_error(r, 400, "%s requests take no body", r->method_name);
        return respond_now(conn, r);
    }

    struct store_err err = {0};
    struct store *st = worker_store(&err);
    api_handle(r, st, &err);
    if (!r->responded) resp_error(r, 500, "Internal Server Error");
    return respond_now(conn, r);
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
static void log_line(struct buf *b, struct request *r, int status, int64_t dur_us, bool aborted)
{
    const char *m = r->method_name ? r->method_name : "-";
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
        log_field(b, r->target, r->target_len, LOG_TARGET_MAX, true);
        buf_printf(b, "\",\"status\":%d,\"duration_ms\":%.3f,\"request_id\":\"", status, (double)dur_us / 1000.0);
        log_field(b, rid, strlen(rid), 64, true); /* validated already; escaped all the same */
        buf_printf(b, "\"%s}\n", aborted ? ",\"aborted\":true" : "");
    } else {
        time_format(b, r->now_us);
        buf_putc(b, ' ');
        log_field(b, r->client_addr, strlen(r->client_addr), 64, false);
        buf_putc(b, ' ');
        log_field(b, m, strlen(m), LOG_METHOD_MAX, false);
        buf_putc(b, ' ');
        log_field(b, r->target, r->target_len, LOG_TARGET_MAX, false);
        buf_printf(b, " %d %.3fms rid=", status, (double)dur_us / 1000.0);
        log_field(b, rid, strlen(rid), 64, false);
        buf_puts(b, aborted ? " aborted\n" : "\n");
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    struct request *r = *req_cls;
    if (!r) return;
    int64_t dur = mono_us() - r->start_us;
    int status = r->responded ? r->status : 0;
    struct buf line;
    buf_init(&line);
    log_line(&line, r, status, dur, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    fwrite(line.data, 1, line.len, stderr);
    buf_free(&line);
    api_observe(r, status, dur);
    if (r->in_flight) atomic_fetch_sub(&g_in_flight, 1);
    request_free(r);
    *req_cls = NULL;
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

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    fputs("firemode: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int server_run(const struct server_config *cfg)
{
    g_cfg = cfg;
    char host[128];
    unsigned port;
    if (!server_parse_listen(cfg->listen, host, sizeof host, &port)) {
        fprintf(stderr, "firemode: bad listen address '%s' (want HOST:PORT)\n", cfg->listen);
        return -1;
    }
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    bool v6;
    if (server_resolve(host, port, &ss, &v6) < 0) return -1;
    if (v6) flags |= MHD_USE_IPv6;
    pthread_key_create(&g_store_key, store_dtor);

    /* Signals are taken by this thread only (sigwait below). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->conn_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_per_ip,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "firemode: cannot listen on %s\n", cfg->listen);
        return -1;
    }
    fprintf(stderr, "firemode: serving on http://%s (db %s, node %s, %d threads)\n", cfg->listen,
            strncmp(cfg->db_url, "sqlite:", 7) == 0 ? cfg->db_url : "postgresql", cfg->node_id, cfg->threads);

    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "firemode: %s received, draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    /* Let requests in flight finish, up to 10 s; idle keep-alive
     * connections are closed by MHD_stop_daemon. */
    for (int i = 0; i < 1000 && atomic_load(&g_in_flight) > 0; i++) usleep(10000);
    MHD_stop_daemon(d);
    fprintf(stderr, "firemode: stopped\n");
    return 0;
}
