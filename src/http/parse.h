/*
 * parse — a strict, incremental HTTP/1.1 request parser (RFC 9112), pure:
 * no I/O, no allocation, no clock.  The server feeds it the bytes it has;
 * it says "more", "done" or "this is wrong, answer STATUS".
 *
 * Three pieces:
 *   http_head_ready  remembers how far it has looked, so a client that
 *                    sends one byte at a time costs O(n), not O(n^2); it
 *                    says when the head is complete or over a limit;
 *   http_parse_head  parses a complete (or over-limit) head once, and
 *                    derives the body's framing (Content-Length, chunked),
 *                    refusing every ambiguous framing: two Content-Length,
 *                    Content-Length with Transfer-Encoding, any coding but
 *                    a lone "chunked", a NUL or other control byte;
 *   http_chunked_feed  decodes a chunked body incrementally, refusing a
 *                    chunk size past the body limit as soon as its digits
 *                    say so.
 * Untrusted bytes are pointer + length; nothing here needs a NUL.
 */
#ifndef FM_HTTP_PARSE_H
#define FM_HTTP_PARSE_H

#include "../util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_LINE (16 * 1024)   /* a longer request line is a 414 at once */
#define HTTP_MAX_FIELD_BYTES (16 * 1024) /* header fields: past it, 431 */
#define HTTP_MAX_FIELDS 128         /* header fields: more is a 431 */
#define HTTP_MAX_CHUNK_LINE 1024    /* a chunk-size line with its extensions */
#define HTTP_MAX_TRAILERS 8192      /* bytes of a chunked body's trailer lines (CRLFs included), in all */

struct http_field {
    const char *name;
    size_t name_len;
    const char *value; /* optional whitespace trimmed */
    size_t value_len;
};

struct http_head {
    const char *method; /* set once the first space is seen, even on error */
    size_t method_len;
    const char *target;
    size_t target_len;
    /* where the route starts in the target: 0 for "/path?query"; after the
     * authority for "http://host/path?query", where what follows may be
     * empty or start with '?' (the route is then "/" and that query) */
    size_t path_off;
    bool asterisk; /* "OPTIONS *": the server in general, no route */
    int minor; /* HTTP/1.<minor>: 0 or 1 */
    struct http_field fields[HTTP_MAX_FIELDS];
    int nfields;
    size_t head_len; /* bytes of the head, blank line included */
    /* framing and connection, from the fields */
    int64_t content_length; /* -1: none; saturates at INT64_MAX/2 */
    bool chunked;
    bool keep_alive;
    bool expect_continue;
    const char *error; /* why, when http_parse_head fails */
};

/* Where http_head_ready has looked so far; zero it for each new head. */
struct http_scan {
    size_t pos;      /* bytes looked at */
    size_t line_end; /* end of the request line + 1, or 0 */
};

/* True when buf[0..len) holds a complete head or is over a limit, so that
 * http_parse_head has something to say; false: read more. */
bool http_head_ready(struct http_scan *s, const char *buf, size_t len);

/* Parses the head at the start of buf.  Returns its length (> 0), 0 if it
 * is not complete yet, or -STATUS: -400 malformed, -414 request line too
 * long, -431 fields too large or too many, -501 a transfer coding other
 * than chunked, -505 an HTTP version other than 1.0/1.1, -417 an Expect
 * other than 100-continue.  h points into buf; h->error says why. */
int http_parse_head(const char *buf, size_t len, struct http_head *h);

/* A field's value by name (case-insensitive), or NULL; *n gets its length. */
const char *http_head_field(const struct http_head *h, const char *name, size_t *n);

struct http_chunked {
    int state;
    uint64_t size; /* of the chunk being read, or its digits so far */
    size_t line;   /* bytes of the current size line */
    size_t trailers;
};

/* Decodes chunked body bytes in[0..len), appending data to out; a body
 * past max bytes is refused.  *used gets the bytes consumed.  Returns 1
 * when the body (and its trailers) ended: what follows in[*used..] is the
 * next request; 0: all consumed, send more; -400 malformed; -413 over max. */
int http_chunked_feed(struct http_chunked *c, const char *in, size_t len, size_t *used, struct buf *out, size_t max);

#endif
