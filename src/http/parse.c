/*
 * parse — see parse.h.
 *
 * The grammar (RFC 9112 §3, §5, §6, §7.1), and what is refused:
 *   request-line = method SP request-target SP HTTP-version CRLF
 *     method: token characters only; the target: bytes 0x21..0x7e and
 *     0x80..0xff (no control byte, no NUL, no space); exactly one space
 *     each side; HTTP/<digit>.<digit>, only 1.0 and 1.1 served (505).
 *   field-line = field-name ":" OWS field-value OWS CRLF
 *     no space before the colon, no obs-fold, no control byte but HTAB in
 *     a value: all 400.  Lines end in CRLF; a lone CR or LF is a 400.
 * Framing: one Content-Length of digits only, or Transfer-Encoding:
 * chunked (HTTP/1.1 only) and no Content-Length; anything else is refused
 * rather than guessed, because two parsers guessing differently is how a
 * request is smuggled past a proxy.
 */
#include "parse.h"

#include <string.h>
#include <strings.h>

/* tchar (RFC 9110 §5.6.2) */
static bool is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && memchr(extra, c, sizeof extra - 1) != NULL;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

bool http_head_ready(struct http_scan *s, const char *buf, size_t len)
{
    size_t i = s->pos;
    for (; i < len; i++) {
        if (buf[i] != '\n') continue;
        if (!s->line_end) s->line_end = i + 1;
        /* a blank line: "\r\n\r\n" (or a malformed "\n\n"); the parser says which */
        if ((i >= 1 && buf[i - 1] == '\n') || (i >= 3 && buf[i - 1] == '\r' && buf[i - 2] == '\n')) {
            s->pos = i + 1;
            return true;
        }
    }
    s->pos = len;
    if (!s->line_end) return len > HTTP_MAX_LINE;
    return len - s->line_end > HTTP_MAX_FIELD_BYTES + 2;
}

static int fail(struct http_head *h, int status, const char *why)
{
    h->error = why;
    return -status;
}

/* Digits only, saturating; false if empty or any other byte. */
static bool parse_length(const char *s, size_t n, int64_t *out)
{
    if (n == 0) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (v < INT64_MAX / 20) v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Walks a comma-separated list value; calls back with each trimmed
 * element (empty ones skipped).  Returns the number of elements. */
static int list_each(const char *v, size_t n, void (*fn)(void *, const char *, size_t), void *ctx)
{
    int count = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t')) a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t')) b--;
        if (b > a) {
            count++;
            if (fn) fn(ctx, v + a, b - a);
        }
        i = j + 1;
    }
    return count;
}

struct te_state {
    int n;
    bool chunked_last;
    bool other;
};

static void te_elem(void *ctx, const char *s, size_t n)
{
    struct te_state *t = ctx;
    t->n++;
    t->chunked_last = ieq(s, n, "chunked");
    if (!t->chunked_last) t->other = true;
}

struct conn_state {
    bool close, keep_alive;
};

static void conn_elem(void *ctx, const char *s, size_t n)
{
    struct conn_state *c = ctx;
    if (ieq(s, n, "close")) c->close = true;
    else if (ieq(s, n, "keep-alive")) c->keep_alive = true;
}

/* A Host value (RFC 9112 §3.2: uri-host [ ":" port ], or empty): the
 * bytes of a reg-name, an IP literal or a port; a space, '/', '@' or any
 * other is not a host, and a request naming one is a 400. */
static bool host_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
        if (!strchr("-._~!$&'()*+,;=%:[]", c) || c == 0) return false;
    }
    return true;
}

/* The framing and connection fields; 0 or -STATUS. */
static int derive(struct http_head *h)
{
    int ncl = 0, nhost = 0;
    bool has_te = false;
    struct te_state te = {0};
    struct conn_state cs = {0};
    h->content_length = -1;
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        if (ieq(f->name, f->name_len, "Content-Length")) {
            if (++ncl > 1) return fail(h, 400, "More than one Content-Length header");
            if (!parse_length(f->value, f->value_len, &h->content_length))
                return fail(h, 400, "Malformed Content-Length: want decimal digits only");
        } else if (ieq(f->name, f->name_len, "Transfer-Encoding")) {
            has_te = true;
            list_each(f->value, f->value_len, te_elem, &te);
        } else if (ieq(f->name, f->name_len, "Host")) {
            nhost++;
            if (!host_ok(f->value, f->value_len)) return fail(h, 400, "Malformed Host header");
        } else if (ieq(f->name, f->name_len, "Connection")) {
            list_each(f->value, f->value_len, conn_elem, &cs);
        } else if (ieq(f->name, f->name_len, "Expect")) {
            if (!ieq(f->value, f->value_len, "100-continue"))
                return fail(h, 417, "Unsupported Expect: only 100-continue is known");
            h->expect_continue = true;
        }
    }
    if (has_te) {
        if (ncl) return fail(h, 400, "Content-Length together with Transfer-Encoding");
        if (h->minor == 0) return fail(h, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (te.n == 0) return fail(h, 400, "Empty Transfer-Encoding");
        if (te.other || te.n != 1) return fail(h, 501, "Transfer-Encoding not implemented: send chunked or a Content-Length");
        h->chunked = true;
    }
    if (nhost > 1) return fail(h, 400, "More than one Host header");
    if (h->minor == 1 && nhost == 0) return fail(h, 400, "HTTP/1.1 request without a Host header");
    h->keep_alive = h->minor == 1 ? !cs.close : cs.keep_alive && !cs.close;
    return 0;
}

/* The field lines from buf[i]: the end of the head (> 0), 0 if not
 * complete, or -STATUS. */
static int parse_fields(const char *buf, size_t len, size_t i, struct http_head *h)
{
    size_t fields_start = i;
    for (;;) {
        if (i - fields_start > HTTP_MAX_FIELD_BYTES) return fail(h, 431, "Request headers too large");
        /* a line that is only an LF ends the head for http_head_ready: it
         * is malformed now, not incomplete until the header timeout */
        if (i < len && buf[i] == '\n') return fail(h, 400, "Malformed header line: LF without CR");
        if (len - i < 2) return 0;
        if (buf[i] == '\r') {
            if (buf[i + 1] != '\n') return fail(h, 400, "Malformed header line: CR without LF");
            return (int)(i + 2);
        }
        size_t n0 = i;
        while (i < len && is_tchar((unsigned char)buf[i])) i++;
        /* past the limit in a name: too large now (else every byte after
         * it would parse the whole head again, up to the buffer's end) */
        if (i == len) return i - fields_start > HTTP_MAX_FIELD_BYTES ? fail(h, 431, "Request headers too large") : 0;
        if (buf[i] != ':' || i == n0) return fail(h, 400, "Malformed header line: want Name: value");
        size_t n1 = i++;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t')) i++;
        size_t v0 = i;
        while (i < len) {
            unsigned char c = (unsigned char)buf[i];
            if (c == '\r' || c == '\n') break;
            if ((c < 0x20 && c != '\t') || c == 0x7f) return fail(h, 400, "Control byte in a header value");
            i++;
        }
        if (len - i < 2) return i - fields_start > HTTP_MAX_FIELD_BYTES ? fail(h, 431, "Request headers too large") : 0;
        if (buf[i] != '\r' || buf[i + 1] != '\n') return fail(h, 400, "Malformed header line: want CRLF");
        size_t v1 = i;
        while (v1 > v0 && (buf[v1 - 1] == ' ' || buf[v1 - 1] == '\t')) v1--;
        i += 2;
        if (i - fields_start > HTTP_MAX_FIELD_BYTES) return fail(h, 431, "Request headers too large");
        if (h->nfields == HTTP_MAX_FIELDS) return fail(h, 431, "Too many request headers");
        struct http_field *f = &h->fields[h->nfields++];
        f->name = buf + n0, f->name_len = n1 - n0;
        f->value = buf + v0, f->value_len = v1 - v0;
    }
}

/* The request target's form (RFC 9112 §3.2): origin-form "/path?query";
 * absolute-form "http://authority/path?query" (scheme case-insensitive),
 * which a server must accept: the route is what follows the authority,
 * and the authority, like a Host value, must be a host; asterisk-form "*"
 * for OPTIONS alone.  NULL, or why the target is refused. */
static const char *target_form(struct http_head *h)
{
    const char *t = h->target;
    size_t n = h->target_len;
    if (t[0] == '/') return NULL; /* path_off stays 0 */
    if (n == 1 && t[0] == '*') {
        if (h->method_len != 7 || memcmp(h->method, "OPTIONS", 7) != 0)
            return "Malformed request target: '*' is for OPTIONS only";
        h->asterisk = true;
        return NULL;
    }
    size_t s = n >= 7 && strncasecmp(t, "http://", 7) == 0 ? 7 : n >= 8 && strncasecmp(t, "https://", 8) == 0 ? 8 : 0;
    if (!s) return "Malformed request target: want /path, http://host/path, or * for OPTIONS";
    size_t a = s;
    while (a < n && t[a] != '/' && t[a] != '?') a++;
    if (a == s || !host_ok(t + s, a - s)) return "Malformed request target: the authority of an absolute target is no host";
    h->path_off = a;
    return NULL;
}

/* A request line that is wrong: the fields after it are still read, as
 * far as they parse, so that the answer can echo X-Request-Id. */
static int line_fail(const char *buf, size_t len, struct http_head *h, int status, const char *why)
{
    const char *nl = memchr(buf, '\n', len);
    if (nl) {
        struct http_head saved_line = *h;
        (void)parse_fields(buf, len, (size_t)(nl - buf) + 1, h);
        saved_line.nfields = h->nfields;
        memcpy(saved_line.fields, h->fields, sizeof h->fields[0] * (size_t)h->nfields);
        *h = saved_line;
    }
    return fail(h, status, why);
}

int http_parse_head(const char *buf, size_t len, struct http_head *h)
{
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    size_t i = 0;
    /* method */
    while (i < len && is_tchar((unsigned char)buf[i])) i++;
    if (i < len && buf[i] == ' ' && i > 0) {
        h->method = buf, h->method_len = i;
    } else {
        if (i == len && len <= HTTP_MAX_LINE) return 0;
        /* for the log: the method as far as it goes */
        size_t m = 0;
        while (m < len && m < 64 && buf[m] != ' ' && buf[m] != '\n') m++;
        h->method = buf, h->method_len = m;
        if (i == len) return fail(h, 414, "Request line too long");
        return line_fail(buf, len, h, 400, "Malformed request line: bad method");
    }
    i++;
    /* target */
    size_t t0 = i;
    while (i < len && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f && buf[i] != '#') i++;
    h->target = buf + t0, h->target_len = i - t0;
    if (i == len) return len > HTTP_MAX_LINE ? fail(h, 414, "Request line too long") : 0;
    if (buf[i] != ' ' || i == t0) {
        bool fragment = buf[i] == '#';
        /* for the log: the target as sent, up to the last space of the line */
        const char *nl = memchr(buf + t0, '\n', len - t0);
        size_t e = nl ? (size_t)(nl - buf) : len, sp = e;
        while (sp > t0 && buf[sp - 1] != ' ') sp--;
        h->target_len = (sp > t0 + 1 ? sp - 1 : e) - t0;
        return line_fail(buf, len, h, 400, fragment ? "Malformed request target: a fragment ('#') is never sent"
                                                    : "Malformed request line: bad target");
    }
    const char *why = target_form(h);
    if (why) return line_fail(buf, len, h, 400, why);
    i++;
    /* version */
    if (len - i < 10) {
        if (len > HTTP_MAX_LINE) return fail(h, 414, "Request line too long");
        /* not complete: if what is there cannot become a version, say so now */
        if (memchr(buf + i, '\n', len - i) == NULL) return 0;
        return line_fail(buf, len, h, 400, "Malformed request line: bad HTTP version");
    }
    const char *v = buf + i;
    if (memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9' ||
        v[8] != '\r' || v[9] != '\n')
        return line_fail(buf, len, h, 400, "Malformed request line: want METHOD TARGET HTTP/1.1");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return line_fail(buf, len, h, 505, "HTTP version not supported: use HTTP/1.1 or HTTP/1.0");
    h->minor = v[7] - '0';
    i += 10;
    if (i > HTTP_MAX_LINE) return fail(h, 414, "Request line too long");
    int end = parse_fields(buf, len, i, h);
    if (end <= 0) return end;
    h->head_len = (size_t)end;
    int rc = derive(h);
    if (rc < 0) return rc;
    return end;
}

const char *http_head_field(const struct http_head *h, const char *name, size_t *n)
{
    for (int i = 0; i < h->nfields; i++)
        if (ieq(h->fields[i].name, h->fields[i].name_len, name)) {
            *n = h->fields[i].value_len;
            return h->fields[i].value;
        }
    return NULL;
}

/* ---- chunked bodies (RFC 9112 §7.1) ---------------------------------- */

enum { CK_SIZE0, CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER0, CK_TRAILER_NAME,
       CK_TRAILER, CK_TRAILER_LF, CK_END_LF, CK_DONE, CK_BWS };

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_chunked_feed(struct http_chunked *c, const char *in, size_t len, size_t *used, struct buf *out, size_t max)
{
    size_t i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        unsigned char ch = (unsigned char)in[i];
        switch (c->state) {
        case CK_SIZE0:
        case CK_SIZE: {
            int d = hexval(ch);
            if (d >= 0) {
                c->size = c->size * 16 + (uint64_t)d;
                if (c->size > max || out->len + c->size > max) rc = -413;
                c->state = CK_SIZE;
            } else if (c->state == CK_SIZE && ch == ';') {
                c->state = CK_EXT;
            } else if (c->state == CK_SIZE && (ch == ' ' || ch == '\t')) {
                c->state = CK_BWS;
            } else if (c->state == CK_SIZE && ch == '\r') {
                c->state = CK_SIZE_LF;
            } else {
                rc = -400;
            }
            if (++c->line > HTTP_MAX_CHUNK_LINE) rc = -400;
            i++;
            break;
        }
        case CK_BWS: /* after the size, only whitespace before ';' or the line's end: "2 5" is no size */
            if (ch == ';') c->state = CK_EXT;
            else if (ch == '\r') c->state = CK_SIZE_LF;
            else if (ch != ' ' && ch != '\t') rc = -400;
            if (++c->line > HTTP_MAX_CHUNK_LINE) rc = -400;
            i++;
            break;
        case CK_EXT:
            if (ch == '\r') c->state = CK_SIZE_LF;
            else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) rc = -400;
            if (++c->line > HTTP_MAX_CHUNK_LINE) rc = -400;
            i++;
            break;
        case CK_SIZE_LF:
            if (ch != '\n') rc = -400;
            c->line = 0;
            c->state = c->size ? CK_DATA : CK_TRAILER0;
            i++;
            break;
        case CK_DATA: {
            size_t n = len - i;
            if ((uint64_t)n > c->size) n = (size_t)c->size;
            buf_append(out, in + i, n);
            c->size -= n;
            i += n;
            if (!c->size) c->state = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
            if (ch != '\r') rc = -400;
            c->state = CK_DATA_LF;
            i++;
            break;
        case CK_DATA_LF:
            if (ch != '\n') rc = -400;
            c->state = CK_SIZE0;
            c->size = 0;
            i++;
            break;
        case CK_TRAILER0:
            if (ch == '\r') {
                c->state = CK_END_LF;
                i++;
                break;
            }
            /* a trailer field is a field line (RFC 9112 §7.1.2): a token,
             * then ':' with nothing between, then the value; a line that
             * starts with whitespace (obs-fold) or has no name is refused,
             * as it would be in the head */
            /* a first byte that is no tchar (':' among them) fails here,
             * so below it is never taken as the colon */
            if (!is_tchar(ch)) rc = -400;
            c->state = CK_TRAILER_NAME;
            /* fall through */
        case CK_TRAILER_NAME:
            if (ch == ':') c->state = CK_TRAILER;
            else if (!is_tchar(ch)) rc = -400;
            if (++c->trailers > HTTP_MAX_TRAILERS) rc = -400;
            i++;
            break;
        case CK_TRAILER:
            if (ch == '\r') c->state = CK_TRAILER_LF;
            else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) rc = -400;
            if (++c->trailers > HTTP_MAX_TRAILERS) rc = -400;
            i++;
            break;
        case CK_TRAILER_LF:
            if (ch != '\n') rc = -400;
            if (++c->trailers > HTTP_MAX_TRAILERS) rc = -400;
            c->state = CK_TRAILER0;
            i++;
            break;
        case CK_END_LF:
            if (ch != '\n') rc = -400;
            c->state = CK_DONE;
            rc = rc ? rc : 1;
            i++;
            break;
        default:
            rc = 1;
            break;
        }
    }
    *used = i;
    return rc;
}
