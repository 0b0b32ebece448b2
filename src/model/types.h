/*
 * types — what each field type (enum ftype) does, as one table.
 *
 * Every layer that used to switch on f->type walks this table instead
 * (the pattern of Redis's config.c typeInterface): one row per type, one
 * function per thing a type does.  Adding a type is adding a row; adding a
 * new use of the types (OpenAPI, cursors, CSV) is adding a column.
 *
 *   parse_json   a JSON request-body value -> the value to store (body.c)
 *   render       a stored value -> JSON (render.c)
 *   describe     the JSON Schema of a value (openapi.c)
 *   parse_query  a query-string filter value -> struct type_qvalue (query.c)
 *   bind         a parsed filter or cursor value -> a bound SQL parameter (plan.c)
 *
 * Types that cannot be filtered on (tags: the tag_in filter has its own
 * rule; clocks) have no parse_query.
 *
 * Nullability, writability, admin-only fields and defaults are properties
 * of a field, not of its type: the callers handle them (null never reaches
 * parse_json; a NULL column never reaches render).
 */
#ifndef FM_TYPES_H
#define FM_TYPES_H

#include "../store/store.h"
#include "../util/buf.h"
#include "collection.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Why a value was refused: a FastAPI/pydantic error type ("string_type")
 * and a message for people. */
struct type_error {
    const char *type;
    char msg[256];
};

/* Which side of the API a schema describes: what a client may send, or
 * what the server answers (the server's answers are canonical: tags
 * de-duplicated and sorted, timestamps with microseconds and Z). */
enum schema_use { SCHEMA_INPUT, SCHEMA_OUTPUT };

/* A filter value as a type parsed it: text (s, len; into the query, or
 * canon for a canonical UUID) or a number (i: times, integers, booleans). */
struct type_qvalue {
    const char *s;
    size_t len;
    int64_t i;
    char canon[37];
};

struct type_ops {
    const char *name; /* for messages and docs: "uuid", "text", ... */

    /* Validates the JSON value j (not null) for field f.  On success
     * returns 0 and sets *out to the value to store; when *out points to
     * new memory, *owned is that memory (the caller frees it; else NULL).
     * Text values may point into j, which must then outlive *out.  On a
     * refusal returns -1 and fills err. */
    int (*parse_json)(const struct field *f, json_t *j, struct store_param *out, char **owned,
                      struct type_error *err);

    /* Appends the JSON form of the stored, non-NULL column text v[0..n)
     * (what the database returns for this type) to b; iv, when not NULL,
     * is the same value as the integer the backend read (no parse). */
    void (*render)(struct buf *b, const struct field *f, const char *v, size_t n, const int64_t *iv);

    /* Adds the JSON Schema keywords of f's values (type, format, bounds,
     * enum, pattern; never null: nullability is the caller's) to the
     * object s. */
    void (*describe)(json_t *s, const struct field *f, enum schema_use use);

    /* Validates one non-empty query-string value s[0..n) for field f into
     * *out (text may point into s); 0, or -1 with err filled.  NULL: the
     * type cannot be filtered on. */
    int (*parse_query)(const struct field *f, const char *s, size_t n, struct type_qvalue *out,
                       struct type_error *err);

    /* The SQL parameter of a value: text s[0..len) or number i, as
     * parse_query made it or as the database rendered a sort key (bool:
     * "1"/"t"). */
    struct store_param (*bind)(const struct field *f, const char *s, size_t len, int64_t i);

    /* render reads the value from iv alone when iv is not NULL (the text
     * may then be left out: store_exec_ints). */
    bool renders_from_int;
};

/* The table, indexed by enum ftype. */
extern const struct type_ops type_table[];

static inline const struct type_ops *type_of(const struct field *f)
{
    return &type_table[f->type];
}

/* The slug syntax of FT_SLUG: [a-z0-9][a-z0-9-]{0,63}. */
#define TYPE_SLUG_PATTERN "^[a-z0-9][a-z0-9-]{0,63}$"
bool type_valid_slug(const char *s, size_t n);

/* Emails: at most this many code points after trimming. */
#define TYPE_EMAIL_MAX 254
/* The largest integer a JSON client can hold exactly (vector clock counters). */
#define TYPE_MAX_SAFE_INT 9007199254740991LL

#endif
