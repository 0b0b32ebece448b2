/*
 * buf — a growable byte buffer, the one way this server builds text.
 *
 * SQL, JSON bodies and log lines are all appended into a struct buf.  The
 * buffer always keeps a NUL after its contents so it can be handed to C APIs,
 * but its length is authoritative.  Out of memory is not recoverable for this
 * server: every allocation goes through xmalloc/xrealloc, which abort.
 */
#ifndef FM_BUF_H
#define FM_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;   /* owned; NUL-terminated at data[len] once anything is appended */
    size_t len;
    size_t cap;
};

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);

void buf_init(struct buf *b);
void buf_reset(struct buf *b);           /* keep memory, forget contents */
void buf_free(struct buf *b);            /* release memory; b is reusable after */
void buf_reserve(struct buf *b, size_t extra);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the strings given, up to a NULL: what buf_printf does with only
 * %s, without parsing a format (the planner writes SQL with it per request). */
void buf_cat(struct buf *b, ...) __attribute__((sentinel));
void buf_put_i64(struct buf *b, int64_t v);
/* Writes v in decimal backwards so that it ends just before `end`, and
 * returns where it starts (at most 20 bytes: INT64_MIN); no NUL. */
char *i64_digits(char *end, int64_t v);
/* Appends s (n bytes) as a JSON string literal, quotes included.  Bytes that
 * are not valid UTF-8 are replaced by U+FFFD so the output is always valid. */
void buf_json_str(struct buf *b, const char *s, size_t n);
/* Appends n bytes (or one byte): inline, since the JSON of every answer is
 * built from them; only growing the buffer is a call. */
static inline void buf_append(struct buf *b, const void *p, size_t n)
{
    if (b->cap - b->len <= n) buf_reserve(b, n);
    if (n) __builtin_memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static inline void buf_putc(struct buf *b, char c)
{
    if (b->cap - b->len <= 1) buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
/* Steals the contents: returns data (never NULL) and leaves b empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
