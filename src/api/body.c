/*
 * body — request bodies validated by the field table.
 *
 * Create: every F_CREATE field may be given, F_REQUIRED ones must be, the
 * rest take their default or stay NULL; F_ADMIN fields only from admins.
 * PATCH: only fields sent change; null clears a nullable field and is a 422
 * on a required one.  PUT: like create, but over the F_PATCH fields (an
 * omitted optional field becomes its default or null).  Unknown fields are
 * a 422, as in FastAPI's extra="forbid".
 */
#include "api_int.h"

#include "../grammar/query.h"
#include "../util/text.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAGS 32

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void set_text(struct body_value *v, char *owned, size_t len)
{
    free(v->owned);
    v->owned = owned;
    v->p = sp_text(owned, len);
    v->present = true;
}

static int invalid(struct ctx *x, const char *name, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int invalid(struct ctx *x, const char *name, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp_invalid(x->r, "body", name, msg, type);
    return -1;
}

/* Validates one JSON value for field f into v.  -1 answered. */
static int take(struct ctx *x, const struct field *f, json_t *j, struct body_value *v)
{
    const char *name = f->name;
    if (json_is_null(j)) {
        if (!(f->flags & F_NULLABLE)) return invalid(x, name, "missing", "Field '%s' may not be null", name);
        v->present = true;
        v->p = sp_null();
        return 0;
    }
    switch (f->type) {
    case FT_UUID:
    case FT_TEXT:
    case FT_EMAIL:
    case FT_SLUG:
    case FT_ENUM:
    case FT_TIME: {
        if (!json_is_string(j)) return invalid(x, name, "string_type", "Input should be a valid string");
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        if (f->type == FT_UUID) {
            char canon[37];
            if (!uuid_parse(s, n, canon)) return invalid(x, name, "uuid_parsing", "Input should be a valid UUID");
            set_text(v, xstrndup(canon, 36), 36);
        } else if (f->type == FT_TEXT) {
            long cps = utf8_count(s, n);
            if (cps < 0) return invalid(x, name, "string_type", "Input should be a valid UTF-8 string without NUL");
            if (cps < f->min_len)
                return invalid(x, name, "string_too_short", "String should have at least %d character%s", f->min_len,
                               f->min_len == 1 ? "" : "s");
            if (cps > f->max_len)
                return invalid(x, name, "string_too_long", "String should have at most %d characters", f->max_len);
            set_text(v, xstrndup(s, n), n);
        } else if (f->type == FT_EMAIL) {
            text_trim(&s, &n);
            const char *at = memchr(s, '@', n);
            long cps = utf8_count(s, n);
            if (cps < 0 || cps > 254 || !at || at == s || at == s + n - 1 || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
                return invalid(x, name, "value_error",
                               "value is not a valid email address: it needs one '@' with text on both sides and at "
                               "most 254 characters");
            if (text_ieq(s, n, ACCOUNTS_BOOTSTRAP_EMAIL))
                return invalid(x, name, "value_error", "This email is reserved for the bootstrap admin");
            set_text(v, xstrndup(s, n), n);
        } else if (f->type == FT_SLUG) {
            if (!lq_valid_slug(s, n))
                return invalid(x, name, "string_pattern_mismatch",
                               "String should match pattern '^[a-z0-9][a-z0-9-]{0,63}$'");
            set_text(v, xstrndup(s, n), n);
        } else if (f->type == FT_ENUM) {
            bool ok = false;
            for (size_t i = 0; f->enum_values[i] && !ok; i++) ok = text_eq(s, n, f->enum_values[i]);
            if (!ok) {
                struct buf list;
                buf_init(&list);
                for (size_t i = 0; f->enum_values[i]; i++)
                    buf_printf(&list, "%s'%s'", i ? ", " : "", f->enum_values[i]);
                invalid(x, name, "enum", "Input should be one of %s", list.data);
                buf_free(&list);
                return -1;
            }
            set_text(v, xstrndup(s, n), n);
        } else {
            int64_t us;
            if (!time_parse(s, n, &us))
                return invalid(x, name, "datetime_parsing",
                               "Input should be a valid datetime or date (RFC 3339, e.g. 2025-03-01T09:30:00Z)");
            v->present = true;
            v->p = sp_int(us);
        }
        return 0;
    }
    case FT_INT:
        if (!json_is_integer(j)) return invalid(x, name, "int_type", "Input should be a valid integer");
        if (json_integer_value(j) < f->min_int)
            return invalid(x, name, "greater_than_equal", "Input should be greater than or equal to %lld", f->min_int);
        v->present = true;
        v->p = sp_int(json_integer_value(j));
        return 0;
    case FT_BOOL:
        if (!json_is_boolean(j)) return invalid(x, name, "bool_type", "Input should be a valid boolean");
        v->present = true;
        v->p = sp_bool(json_is_true(j));
        return 0;
    case FT_TAGS: {
        if (!json_is_array(j)) return invalid(x, name, "list_type", "Input should be a valid list");
        size_t n = json_array_size(j);
        if (n > 4096) return invalid(x, name, "too_long", "List should have at most %d items", MAX_TAGS);
        const char **tags = xcalloc(n ? n : 1, sizeof *tags);
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(j, i);
            if (!json_is_string(t)) {
                free(tags);
                return invalid(x, name, "string_type", "Tags should be strings");
            }
            long cps = utf8_count(json_string_value(t), json_string_length(t));
            if (cps < f->min_len || cps > f->max_len) {
                free(tags);
                return invalid(x, name, "string_too_long", "Each tag should have %d to %d characters", f->min_len,
                               f->max_len);
            }
            tags[i] = json_string_value(t);
        }
        qsort(tags, n, sizeof *tags, cmp_str);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (u == 0 || strcmp(tags[u - 1], tags[i]) != 0) tags[u++] = tags[i];
        if (u > MAX_TAGS) {
            free(tags);
            return invalid(x, name, "too_long", "List should have at most %d items after removing duplicates",
                           MAX_TAGS);
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
        char *s = buf_steal(&b, &len);
        set_text(v, s, len);
        return 0;
    }
    case FT_CLOCK:
        break;
    }
    return invalid(x, name, "extra_forbidden", "Field '%s' cannot be set", name);
}

static bool writable(const struct field *f, enum body_mode mode)
{
    return mode == BODY_CREATE ? (f->flags & F_CREATE) != 0 : (f->flags & F_PATCH) != 0;
}

/* Fills the fields derived from others (A_LOWER_OF: email_canonical from
 * email) wherever their source is present, so writes store them alike. */
static void derive(const struct collection *c, struct body *out)
{
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        if (f->autofill != A_LOWER_OF) continue;
        const struct body_value *src = &out->v[collection_field(c, f->of, strlen(f->of)) - c->fields];
        if (!src->present || src->p.type != SP_TEXT) continue;
        set_text(&out->v[i], text_ascii_lower(src->p.s, src->p.len), src->p.len);
    }
}

/* Counts the JSON values in s (brackets, commas and colons outside strings,
 * a close upper bound) without parsing it, so an oversized document is
 * refused before the parser allocates a node for each value. */
static bool few_enough_values(const char *s, size_t n)
{
    size_t count = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[' || c == ',' || c == ':') {
            if (++count > BODY_MAX_VALUES) return false;
        }
    }
    return true;
}

int body_parse(struct ctx *x, const struct collection *c, enum body_mode mode, struct body *out)
{
    memset(out, 0, sizeof *out);
    struct request *r = x->r;
    if (r->body.len == 0) return invalid(x, NULL, "missing", "A JSON object body is required");
    if (!few_enough_values(r->body.data, r->body.len))
        return invalid(x, NULL, "too_long", "The body holds more JSON values than any item needs");
    json_error_t jerr;
    json_t *j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    out->json = j;
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg, "JSON decode error: %s (at byte %d)", jerr.text, jerr.position);
        resp_invalid(r, "body", NULL, msg, "json_invalid");
        return -1;
    }
    if (!json_is_object(j)) return invalid(x, NULL, "model_attributes_type", "Input should be a JSON object");

    const char *key;
    json_t *val;
    json_object_foreach(j, key, val)
    {
        const struct field *f = collection_field(c, key, strlen(key));
        if (!f || (f->flags & F_HIDDEN) || !writable(f, mode)) {
            char name[80];
            snprintf(name, sizeof name, "%s", key);
            if (f && !(f->flags & F_HIDDEN))
                return invalid(x, name, "extra_forbidden", "Field '%s' is set by the server%s", name,
                               mode == BODY_CREATE ? "" : " or cannot be changed");
            return invalid(x, name, "extra_forbidden", "Extra inputs are not permitted");
        }
        if ((f->flags & F_ADMIN) && !x->who.is_admin)
            return invalid(x, f->name, "extra_forbidden", "Only an admin may set '%s'", f->name);
        if (take(x, f, val, &out->v[f - c->fields]) < 0) return -1;
    }

    /* Create and PUT: required fields, then defaults. */
    for (size_t i = 0; mode != BODY_PATCH && i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        struct body_value *v = &out->v[i];
        if (v->present || !writable(f, mode)) continue;
        if (f->flags & F_REQUIRED) return invalid(x, f->name, "missing", "Field required");
        if (f->default_value) {
            json_t *d = json_loads(f->default_value, JSON_DECODE_ANY, &jerr);
            int rc = take(x, f, d, v);
            json_decref(d);
            if (rc < 0) return -1;
        } else if (mode == BODY_PUT && (f->flags & F_NULLABLE)) {
            v->present = true;
            v->p = sp_null();
        }
    }
    derive(c, out);
    return 0;
}

void body_free(struct body *b)
{
    for (size_t i = 0; i < sizeof b->v / sizeof b->v[0]; i++) free(b->v[i].owned);
    json_decref(b->json);
    memset(b, 0, sizeof *b);
}

const char *body_uuid_member(struct ctx *x, const char *name, char out[37])
{
    struct request *r = x->r;
    if (r->body.len == 0) {
        invalid(x, NULL, "missing", "A JSON object body is required");
        return NULL;
    }
    if (!few_enough_values(r->body.data, r->body.len)) {
        invalid(x, NULL, "too_long", "The body holds more JSON values than this endpoint needs");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    const char *res = NULL;
    if (!j || !json_is_object(j)) {
        invalid(x, NULL, "json_invalid", "Body should be a JSON object");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val)
    {
        if (strcmp(key, name) != 0) {
            char k[80];
            snprintf(k, sizeof k, "%s", key);
            invalid(x, k, "extra_forbidden", "Extra inputs are not permitted");
            goto out;
        }
    }
    val = json_object_get(j, name);
    if (!val) {
        invalid(x, name, "missing", "Field required");
        goto out;
    }
    if (!json_is_string(val) || !uuid_parse(json_string_value(val), json_string_length(val), out)) {
        invalid(x, name, "uuid_parsing", "Input should be a valid UUID");
        goto out;
    }
    res = out;
out:
    json_decref(j);
    return res;
}
