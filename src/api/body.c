/*
 * body — request bodies validated by the field table.
 *
 * Create: every F_CREATE field may be given, F_REQUIRED ones must be, the
 * rest take their default or stay NULL; F_ADMIN fields only from admins.
 * PATCH: only fields sent change; null clears a nullable field and is a 422
 * on a required one.  PUT: like create, but over the F_PATCH fields (an
 * omitted optional field becomes its default or null).  Unknown fields are
 * a 422, as in FastAPI's extra="forbid".
 *
 * A 422 lists every problem at once (errors.h), as pydantic does: first the
 * collection's fields in table order (one issue per field: refused, invalid
 * or missing), then the fields the collection does not take, in the body's
 * order.  A body that cannot be read as one JSON object (empty, too many
 * values, malformed, not an object) is one issue: nothing else can be said.
 */
#include "api_int.h"
#include "errors.h"

#include "../model/types.h"
#include "../util/text.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_value(struct body_value *v, struct store_param p, char *owned)
{
    free(v->owned);
    v->owned = owned;
    v->p = p;
    v->present = true;
}

static void set_text(struct body_value *v, char *owned, size_t len)
{
    set_value(v, sp_text(owned, len), owned);
}

/* Answers one issue alone: for a body nothing more can be said about. */
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

/* Validates one JSON value for field f (at position `at` of the error
 * list) into v: null by the field's flags, anything else by its type's row
 * of the type table.  -1: an issue was filed. */
static int take(const struct field *f, json_t *j, struct body_value *v, struct lq_error *errs, int at)
{
    const char *name = f->name;
    if (json_is_null(j)) {
        if (!(f->flags & F_NULLABLE)) return lq_error_add(errs, at, name, "missing", "Field '%s' may not be null", name);
        set_value(v, sp_null(), NULL);
        return 0;
    }
    struct type_error terr = {0};
    struct store_param p;
    char *owned = NULL;
    if (type_of(f)->parse_json(f, j, &p, &owned, &terr) < 0) return lq_error_add(errs, at, name, terr.type, "%s", terr.msg);
    /* a rule of this API, not of the type: the bootstrap admin's address */
    if (f->type == FT_EMAIL && text_ieq(p.s, p.len, ACCOUNTS_BOOTSTRAP_EMAIL)) {
        free(owned);
        return lq_error_add(errs, at, name, "value_error", "This email is reserved for the bootstrap admin");
    }
    set_value(v, p, owned);
    return 0;
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

    struct lq_error errs;
    lq_error_init(&errs);
    /* The collection's fields, in table order (position i). */
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        struct body_value *v = &out->v[i];
        int at = (int)i;
        if (f->flags & F_HIDDEN) continue; /* sent: an extra field, below */
        json_t *val = json_object_get(j, f->name);
        if (val) {
            if (!writable(f, mode))
                lq_error_add(&errs, at, f->name, "extra_forbidden", "Field '%s' is set by the server%s", f->name,
                             mode == BODY_CREATE ? "" : " or cannot be changed");
            else if ((f->flags & F_ADMIN) && !x->who.is_admin)
                lq_error_add(&errs, at, f->name, "extra_forbidden", "Only an admin may set '%s'", f->name);
            else
                take(f, val, v, &errs, at);
            continue;
        }
        /* Create and PUT: required fields, then defaults. */
        if (mode == BODY_PATCH || !writable(f, mode)) continue;
        if (f->flags & F_REQUIRED) {
            lq_error_add(&errs, at, f->name, "missing", "Field required");
        } else if (f->default_value) {
            json_t *d = json_loads(f->default_value, JSON_DECODE_ANY, &jerr);
            take(f, d, v, &errs, at);
            json_decref(d);
        } else if (mode == BODY_PUT && (f->flags & F_NULLABLE)) {
            v->present = true;
            v->p = sp_null();
        }
    }
    /* Then what the collection does not take, in the body's order. */
    const char *key;
    json_t *val;
    int k = 0;
    json_object_foreach(j, key, val)
    {
        const struct field *f = collection_field(c, key, strlen(key));
        if (!f || (f->flags & F_HIDDEN))
            lq_error_add(&errs, (int)c->nfields + k, key, "extra_forbidden", "Extra inputs are not permitted");
        k++;
    }
    if (errs.n) {
        api_invalid(r, "body", &errs);
        return -1;
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
    /* every issue: the member first, then the extra fields in the body's order */
    struct lq_error errs;
    lq_error_init(&errs);
    json_t *val = json_object_get(j, name);
    if (!val)
        lq_error_add(&errs, 0, name, "missing", "Field required");
    else if (!json_is_string(val) || !uuid_parse(json_string_value(val), json_string_length(val), out))
        lq_error_add(&errs, 0, name, "uuid_parsing", "Input should be a valid UUID");
    const char *key;
    int k = 1;
    json_object_foreach(j, key, val)
    {
        if (strcmp(key, name) != 0) lq_error_add(&errs, k, key, "extra_forbidden", "Extra inputs are not permitted");
        k++;
    }
    if (errs.n) {
        api_invalid(r, "body", &errs);
        goto out;
    }
    res = out;
out:
    json_decref(j);
    return res;
}

int body_no_fields(struct ctx *x)
{
    struct request *r = x->r;
    if (r->body.len == 0) return 0;
    if (!few_enough_values(r->body.data, r->body.len))
        return invalid(x, NULL, "too_long", "This endpoint takes no fields: send no body or {}");
    json_error_t jerr;
    json_t *j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = 0;
    if (!j || !json_is_object(j)) {
        rc = invalid(x, NULL, "json_invalid", "Body should be a JSON object: this endpoint takes no fields ({})");
    } else if (json_object_size(j)) {
        struct lq_error errs;
        lq_error_init(&errs);
        const char *key;
        json_t *val;
        int k = 0;
        json_object_foreach(j, key, val)
        {
            (void)val;
            lq_error_add(&errs, k++, key, "extra_forbidden", "Extra inputs are not permitted: this endpoint takes no fields");
        }
        api_invalid(r, "body", &errs);
        rc = -1;
    }
    json_decref(j);
    return rc;
}
