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
 *   parse_query  a query-string value -> struct lq_value     } slots for the
 *   bind         a struct lq_value -> a bound SQL parameter  } list grammar
 *
 * parse_query and bind are NULL in every row for now: src/grammar/query.c
 * (add_value) and src/grammar/plan.c (param_of) still switch on the type.
 * Those switches belong here and move into these two slots; the table's
 * contract for them is written beside the members below.
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

struct lq_value; /* src/grammar/query.h */

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
     * (what the database returns for this type) to b. */
    void (*render)(struct buf *b, const struct field *f, const char *v, size_t n);

    /* Adds the JSON Schema keywords of f's values (type, format, bounds,
     * enum, pattern; never null: nullability is the caller's) to the
     * object s. */
    void (*describe)(json_t *s, const struct field *f, enum schema_use use);

    /* Slot (NULL today, see above): validates one query-string value of
     * s[0..n) for field f into *out (text may point into s); 0, or -1 with
     * err filled.  Takes over query.c's switch in add_value(). */
    int (*parse_query)(const struct field *f, const char *s, size_t n, struct lq_value *out, struct type_error *err);

    /* Slot (NULL today, see above): the SQL parameter for a value parse_query
     * made.  Takes over plan.c's switch in param_of(). */
    struct store_param (*bind)(const struct field *f, const struct lq_value *v);
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
