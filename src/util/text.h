/*
 * text — small, pure helpers over untrusted bytes (pointer + length, never
 * NUL-terminated by assumption): UTF-8 checks, trimming, ASCII folding,
 * UUID syntax, and RFC 3339 timestamps as microseconds since the epoch.
 *
 * Timestamps are int64 microseconds UTC everywhere inside the server and in
 * both databases, so that ordering and formatting are identical on SQLite and
 * PostgreSQL; they become RFC 3339 text only at the JSON edge.
 */
#ifndef FM_TEXT_H
#define FM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Number of code points if s is valid UTF-8 without NUL bytes, else -1. */
long utf8_count(const char *s, size_t n);
/* Trims ASCII white space (space, tab, CR, LF, FF, VT) from both ends. */
void text_trim(const char **s, size_t *n);
/* Case-insensitive (ASCII) equality of s (n bytes) with the C string lit. */
bool text_ieq(const char *s, size_t n, const char *lit);
bool text_eq(const char *s, size_t n, const char *lit);
/* Copies s lower-casing ASCII letters only into a new string (caller frees). */
char *text_ascii_lower(const char *s, size_t n);

/* Canonical UUID text: 36 chars, lower-case hex, hyphens at 8,13,18,23.
 * Accepts upper-case hex; writes the lower-case form into out[37]. */
bool uuid_parse(const char *s, size_t n, char out[37]);
/* Writes the 16 bytes b as canonical UUID text. */
void uuid_format(const unsigned char b[16], char out[37]);
/* A new version-7 UUID (time-ordered, monotonic within this process). */
void uuid7_new(char out[37]);

/* Parses RFC 3339 with Z or an offset, a naive date-time (UTC) or a date
 * (midnight UTC).  Fractions finer than a microsecond are truncated.  An
 * offset's '+' may be a space ("09:30:00 01:00"): that is what an unescaped
 * '+' in a query string becomes, and it cannot mean anything else.
 * Returns false on anything else or on out-of-range dates (years 1..9999). */
bool time_parse(const char *s, size_t n, int64_t *out_us);
/* Appends 2025-03-01T09:30:00.000000Z (no quotes). */
void time_format(struct buf *b, int64_t us);
int64_t time_now_us(void);

/* Parses a decimal integer (optional leading '-') that fits in int64. */
bool int_parse(const char *s, size_t n, int64_t *out);
/* true/false/1/0/yes/no/on/off, any case. */
bool bool_parse(const char *s, size_t n, bool *out);

#endif
