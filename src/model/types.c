/*
 * types — the type table (see types.h): per type, how a JSON body value is
 * validated, how a stored value is rendered, and how its values are
 * described as a JSON Schema.  The messages and error types are FastAPI's
 * (pydantic's) where it has one, so clients written for it read ours.
 */
#include "types.h"

#include "../util/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int refuse(struct type_error *err, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(struct type_error *err, const char *type, const char *fmt, ...)
{
    err->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

bool type_valid_slug(const char *s, size_t n)
{
    if (n < 1 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
        if (!ok) return false;
    }
    return true;
}

static void set(json_t *s, const char *key, json_t *v)
{
    json_object_set_new(s, key, v);
}

/* A copy of s[0..n) as the value (owned). */
static void own_text(const char *s, size_t n, struct store_param *out, char **owned)
{
    *owned = xstrndup(s, n);
    *out = sp_text(*owned, n);
}

/* The string of j, or -1 with the string_type error. */
static int string_of(json_t *j, const char **s, size_t *n, struct type_error *err)
{
    if (!json_is_string(j)) return refuse(err, "string_type", "Input should be a valid string");
    *s = json_string_value(j);
    *n = json_string_length(j);
    return 0;
}

/* ---- rendering shared by several types ---- */

static void render_string(struct buf *b, const struct field *f, const char *v, size_t n, const int64_t *iv)
{
    buf_json_str(b, v, n);
}

static void render_verbatim(struct buf *b, const struct field *f, const char *v, size_t n, const int64_t *iv)
{
    buf_append(b, v, n); /* stored as canonical JSON (numbers, tags, clocks) */
}

/* ---- FT_UUID ---- */

static int uuid_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    const char *s = NULL;
    size_t n = 0;
    char canon[37];
    if (string_of(j, &s, &n, err) < 0) return -1;
    if (!uuid_parse(s, n, canon)) return refuse(err, "uuid_parsing", "Input should be a valid UUID");
    own_text(canon, 36, out, owned);
    return 0;
}

static void uuid_describe(json_t *s, const struct field *f, enum schema_use use)
{
    set(s, "type", json_string("string"));
    set(s, "format", json_string("uuid"));
}

/* ---- FT_TEXT ---- */

static int text_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    const char *s = NULL;
    size_t n = 0;
    if (string_of(j, &s, &n, err) < 0) return -1;
    long cps = utf8_count(s, n);
    if (cps < 0) return refuse(err, "string_type", "Input should be a valid UTF-8 string without NUL");
    if (cps < f->min_len)
        return refuse(err, "string_too_short", "String should have at least %d character%s", f->min_len,
                      f->min_len == 1 ? "" : "s");
    if (cps > f->max_len) return refuse(err, "string_too_long", "String should have at most %d characters", f->max_len);
    own_text(s, n, out, owned);
    return 0;
}

static void text_describe(json_t *s, const struct field *f, enum schema_use use)
{
    set(s, "type", json_string("string"));
    if (f->min_len > 0) set(s, "minLength", json_integer(f->min_len));
    set(s, "maxLength", json_integer(f->max_len));
}

/* ---- FT_EMAIL ---- */

static int email_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    const char *s = NULL;
    size_t n = 0;
    if (string_of(j, &s, &n, err) < 0) return -1;
    text_trim(&s, &n);
    const char *at = memchr(s, '@', n);
    long cps = utf8_count(s, n);
    if (cps < 0 || cps > TYPE_EMAIL_MAX || !at || at == s || at == s + n - 1 ||
        memchr(at + 1, '@', n - (size_t)(at - s) - 1))
        return refuse(err, "value_error",
                      "value is not a valid email address: it needs one '@' with text on both sides and at "
                      "most 254 characters");
    own_text(s, n, out, owned);
    return 0;
}

static void email_describe(json_t *s, const struct field *f, enum schema_use use)
{
    set(s, "type", json_string("string"));
    set(s, "format", json_string("email"));
    set(s, "maxLength", json_integer(TYPE_EMAIL_MAX));
    if (use == SCHEMA_OUTPUT) set(s, "pattern", json_string("^[^@]+@[^@]+$"));
}

/* ---- FT_SLUG ---- */

static int slug_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    const char *s = NULL;
    size_t n = 0;
    if (string_of(j, &s, &n, err) < 0) return -1;
    if (!type_valid_slug(s, n))
        return refuse(err, "string_pattern_mismatch", "String should match pattern '" TYPE_SLUG_PATTERN "'");
    own_text(s, n, out, owned);
    return 0;
}

static void slug_describe(json_t *s, const struct field *f, enum schema_use use)
{
    set(s, "type", json_string("string"));
    set(s, "minLength", json_integer(1));
    set(s, "maxLength", json_integer(64));
    set(s, "pattern", json_string(TYPE_SLUG_PATTERN));
}

/* ---- FT_INT ---- */

static int int_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    if (!json_is_integer(j)) return refuse(err, "int_type", "Input should be a valid integer");
    if (json_integer_value(j) < f->min_int)
        return refuse(err, "greater_than_equal", "Input should be greater than or equal to %lld", f->min_int);
    *out = sp_int(json_integer_value(j));
    return 0;
}

static void int_describe(json_t *s, const struct field *f, enum schema_use use)
{
    set(s, "type", json_string("integer"));
    set(s, "format", json_string("int64"));
    set(s, "minimum", json_integer(f->min_int));
}

/* ---- FT_BOOL ---- */

static int bool_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    if (!json_is_boolean(j)) return refuse(err, "bool_type", "Input should be a valid boolean");
    *out = sp_bool(json_is_true(j));
    return 0;
}

static void bool_render(struct buf *b, const struct field *f, const char *v, size_t n, const int64_t *iv)
{
    bool t = iv ? *iv != 0 : store_text_true(v, n);
    if (t) buf_append(b, "true", 4);
    else buf_append(b, "false", 5);
}

static void bool_describe(json_t *s, const struct field *f, enum schema_use use)
{
    set(s, "type", json_string("boolean"));
}

/* ---- FT_TIME ---- */

static int time_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    const char *s = NULL;
    size_t n = 0;
    int64_t us;
    if (string_of(j, &s, &n, err) < 0) return -1;
    if (!time_parse(s, n, &us))
        return refuse(err, "datetime_parsing",
                      "Input should be a valid datetime or date (RFC 3339, e.g. 2025-03-01T09:30:00Z)");
    *out = sp_int(us);
    return 0;
}

static void time_render(struct buf *b, const struct field *f, const char *v, size_t n, const int64_t *iv)
{
    int64_t us = 0;
    if (iv) us = *iv;
    else if (!int_parse(v, n, &us)) us = strtoll(v, NULL, 10);
    buf_putc(b, '"');
    time_format(b, us);
    buf_putc(b, '"');
}

static void time_describe(json_t *s, const struct field *f, enum schema_use use)
{
    set(s, "type", json_string("string"));
    set(s, "format", json_string("date-time"));
    set(s, "examples", json_pack("[s]", use == SCHEMA_OUTPUT ? "2025-03-01T09:30:00.000000Z" : "2025-03-01T09:30:00Z"));
    if (use == SCHEMA_OUTPUT)
        set(s, "pattern", json_string("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"));
}

/* ---- FT_ENUM ---- */

static int enum_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    const char *s = NULL;
    size_t n = 0;
    if (string_of(j, &s, &n, err) < 0) return -1;
    for (size_t i = 0; f->enum_values[i]; i++)
        if (text_eq(s, n, f->enum_values[i])) {
            own_text(s, n, out, owned);
            return 0;
        }
    struct buf list;
    buf_init(&list);
    for (size_t i = 0; f->enum_values[i]; i++) buf_printf(&list, "%s'%s'", i ? ", " : "", f->enum_values[i]);
    refuse(err, "enum", "Input should be one of %s", list.data);
    buf_free(&list);
    return -1;
}

static void enum_describe(json_t *s, const struct field *f, enum schema_use use)
{
    json_t *vals = json_array();
    for (size_t i = 0; f->enum_values[i]; i++) json_array_append_new(vals, json_string(f->enum_values[i]));
    set(s, "type", json_string("string"));
    set(s, "enum", vals);
}

/* ---- FT_TAGS ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Bigger arrays are refused before their tags are looked at (each costs a
 * pointer here); the real limit, max_items, counts distinct tags. */
#define TAGS_MAX_SENT 4096

static int tags_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    if (!json_is_array(j)) return refuse(err, "list_type", "Input should be a valid list");
    size_t n = json_array_size(j);
    if (n > TAGS_MAX_SENT) return refuse(err, "too_long", "List should have at most %d items", f->max_items);
    const char **tags = xcalloc(n ? n : 1, sizeof *tags);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(j, i);
        if (!json_is_string(t)) {
            free(tags);
            return refuse(err, "string_type", "Tags should be strings");
        }
        long cps = utf8_count(json_string_value(t), json_string_length(t));
        if (cps < f->min_len || cps > f->max_len) {
            free(tags);
            return refuse(err, "string_too_long", "Each tag should have %d to %d characters", f->min_len, f->max_len);
        }
        tags[i] = json_string_value(t);
    }
    qsort(tags, n, sizeof *tags, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(tags[u - 1], tags[i]) != 0) tags[u++] = tags[i];
    if (u > (size_t)f->max_items) {
        free(tags);
        return refuse(err, "too_long", "List should have at most %d items after removing duplicates", f->max_items);
    }
    struct buf b;
    buf_init(&b);
    buf_putc(&b, '[');
    for (size_t i = 0; i < u; i++) {
        if (i) buf_putc(&b, ',');
        buf_json_str(&b, tags[i], strlen(tags[i]));
    }
    buf_putc(&b, ']');
    free(tags);
    size_t len;
    *owned = buf_steal(&b, &len);
    *out = sp_text(*owned, len);
    return 0;
}

static void tags_describe(json_t *s, const struct field *f, enum schema_use use)
{
    json_t *item = json_object();
    set(item, "type", json_string("string"));
    set(item, "minLength", json_integer(f->min_len));
    set(item, "maxLength", json_integer(f->max_len));
    set(s, "type", json_string("array"));
    set(s, "items", item);
    if (use == SCHEMA_OUTPUT) {
        /* what a client sends may repeat tags; duplicates are dropped */
        set(s, "maxItems", json_integer(f->max_items));
        set(s, "uniqueItems", json_true());
    }
}

/* ---- FT_CLOCK ---- */

static int clock_json(const struct field *f, json_t *j, struct store_param *out, char **owned, struct type_error *err)
{
    return refuse(err, "extra_forbidden", "Field '%s' cannot be set", f->name);
}

static void clock_describe(json_t *s, const struct field *f, enum schema_use use)
{
    json_t *counter = json_object(), *names = json_object();
    set(counter, "type", json_string("integer"));
    set(counter, "minimum", json_integer(0));
    set(counter, "maximum", json_integer(TYPE_MAX_SAFE_INT));
    set(names, "pattern", json_string("^[A-Za-z0-9_.:-]{1,64}$"));
    set(s, "type", json_string("object"));
    set(s, "additionalProperties", counter);
    set(s, "propertyNames", names);
    set(s, "maxProperties", json_integer(64));
}

/* ---- the table ---- */

/* ---- query values and binding (the list grammar) ---- */

#define QUERY_MAX_TEXT 128 /* LQ_MAX_EQ_TEXT: an exact-match text filter */

static int uuid_query(const struct field *f, const char *s, size_t n, struct type_qvalue *out, struct type_error *err)
{
    (void)f;
    if (!uuid_parse(s, n, out->canon)) return refuse(err, "uuid_parsing", "Input should be a valid UUID");
    out->s = out->canon, out->len = 36;
    return 0;
}

static int text_query(const struct field *f, const char *s, size_t n, struct type_qvalue *out, struct type_error *err)
{
    (void)f;
    long cps = utf8_count(s, n);
    if (cps < 0) return refuse(err, "string_type", "Input should be a valid UTF-8 string");
    if (cps > QUERY_MAX_TEXT)
        return refuse(err, "string_too_long", "String should have at most %d characters", QUERY_MAX_TEXT);
    out->s = s, out->len = n;
    return 0;
}

static int slug_query(const struct field *f, const char *s, size_t n, struct type_qvalue *out, struct type_error *err)
{
    (void)f;
    if (!type_valid_slug(s, n))
        return refuse(err, "string_pattern_mismatch", "String should match pattern '" TYPE_SLUG_PATTERN "'");
    out->s = s, out->len = n;
    return 0;
}

static int enum_query(const struct field *f, const char *s, size_t n, struct type_qvalue *out, struct type_error *err)
{
    for (size_t i = 0; f->enum_values[i]; i++)
        if (text_eq(s, n, f->enum_values[i])) {
            out->s = s, out->len = n;
            return 0;
        }
    /* "Input should be 'a', 'b' or 'c'" */
    char list[200];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; f->enum_values[i]; i++) {
        int w = snprintf(list + o, sizeof list - o, "%s'%s'", i == 0 ? "" : (f->enum_values[i + 1] ? ", " : " or "),
                         f->enum_values[i]);
        if (w < 0 || (size_t)w >= sizeof list - o) break;
        o += (size_t)w;
    }
    return refuse(err, "enum", "Input should be %s", list);
}

static int bool_query(const struct field *f, const char *s, size_t n, struct type_qvalue *out, struct type_error *err)
{
    (void)f;
    bool b;
    if (!bool_parse(s, n, &b))
        return refuse(err, "bool_parsing", "Input should be a valid boolean, unable to interpret input");
    out->i = b;
    return 0;
}

static int time_query(const struct field *f, const char *s, size_t n, struct type_qvalue *out, struct type_error *err)
{
    (void)f;
    if (!time_parse(s, n, &out->i))
        return refuse(err, "datetime_parsing",
                      "Input should be a valid datetime or date (RFC 3339, e.g. 2025-03-01T09:30:00Z)");
    return 0;
}

static int int_query(const struct field *f, const char *s, size_t n, struct type_qvalue *out, struct type_error *err)
{
    (void)f;
    if (!int_parse(s, n, &out->i)) return refuse(err, "int_parsing", "Input should be a valid integer");
    return 0;
}

static struct store_param bind_text(const struct field *f, const char *s, size_t len, int64_t i)
{
    (void)f, (void)i;
    return sp_text(s, len);
}

static struct store_param bind_int(const struct field *f, const char *s, size_t len, int64_t i)
{
    (void)f, (void)s, (void)len;
    return sp_int(i);
}

static struct store_param bind_bool(const struct field *f, const char *s, size_t len, int64_t i)
{
    (void)f;
    if (s && len == 1) return sp_bool(store_text_true(s, len)); /* as the database renders it */
    return sp_bool(i != 0);
}

const struct type_ops type_table[] = {
    [FT_UUID] = {"uuid", uuid_json, render_string, uuid_describe, uuid_query, bind_text, false},
    [FT_TEXT] = {"text", text_json, render_string, text_describe, text_query, bind_text, false},
    [FT_EMAIL] = {"email", email_json, render_string, email_describe, text_query, bind_text, false},
    [FT_SLUG] = {"slug", slug_json, render_string, slug_describe, slug_query, bind_text, false},
    [FT_INT] = {"integer", int_json, render_verbatim, int_describe, int_query, bind_int, false},
    [FT_BOOL] = {"boolean", bool_json, bool_render, bool_describe, bool_query, bind_bool, true},
    [FT_TIME] = {"timestamp", time_json, time_render, time_describe, time_query, bind_int, true},
    [FT_ENUM] = {"enum", enum_json, render_string, enum_describe, enum_query, bind_text, false},
    [FT_TAGS] = {"tags", tags_json, render_verbatim, tags_describe, NULL, bind_text, false},
    [FT_CLOCK] = {"vector clock", clock_json, render_verbatim, clock_describe, NULL, bind_text, false},
};

_Static_assert(sizeof type_table / sizeof type_table[0] == FT_CLOCK + 1, "one row per enum ftype");
