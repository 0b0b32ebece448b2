/*
 * openapi — the OpenAPI 3.1 document of this server, generated once at
 * start from the tables the engine itself walks, so it cannot drift:
 *
 *   routes (api.c)            -> paths, methods, path parameters
 *   collections.c             -> list parameters (sorts, filters and their
 *                                descriptions), item schemas, request bodies
 *                                per mode (create, PATCH, PUT), envelopes
 *   the type table (types.h)  -> each value's JSON Schema
 *
 * What the tables cannot say (status codes, error shapes, headers, the
 * FireMode v1 list profile) is written here once, as data for every
 * operation of a kind.  Parts of the contract that a later change brings
 * (cursors, change feeds, ETags and conditional writes: CONTRACT.md §5, §6)
 * are described from the contract already: until they land, those paths
 * answer 404/405 and those headers are simply absent (they are optional in
 * the document).
 *
 * The document is built with jansson into one JSON text, kept for the life
 * of the process and served from memory.
 */
#include "api.h"
#include "api_int.h"

#include "../grammar/query.h"
#include "../model/types.h"

#include <ctype.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FM_API_VERSION "1.0.0"

static char *g_doc;
static size_t g_doc_len;

/* ---- small builders ---------------------------------------------------- */

static json_t *str(const char *s)
{
    return json_string(s);
}

static json_t *ref(const char *kind, const char *name)
{
    char buf[160];
    snprintf(buf, sizeof buf, "#/components/%s/%s", kind, name);
    return json_pack("{s:s}", "$ref", buf);
}

static json_t *schema_ref(const char *name)
{
    return ref("schemas", name);
}

/* "test session" -> "TestSession" */
static void camel(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    bool up = true;
    for (; *s && o + 1 < cap; s++) {
        if (*s == ' ' || *s == '_') {
            up = true;
            continue;
        }
        out[o++] = up ? (char)toupper((unsigned char)*s) : *s;
        up = false;
    }
    out[o] = '\0';
}

/* "test session" -> "test_session" */
static void snake(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++) out[o++] = *s == ' ' ? '_' : *s;
    out[o] = '\0';
}

static void schema_name(const struct collection *c, const char *suffix, char *out, size_t cap)
{
    char base[64];
    camel(c->item_name, base, sizeof base);
    snprintf(out, cap, "%s%s", base, suffix);
}

static bool has_text(const char *s)
{
    return s && *s;
}

/* Makes a schema accept null too (3.1: a type list, and null in an enum). */
static void allow_null(json_t *s)
{
    json_t *t = json_object_get(s, "type");
    if (json_is_string(t)) json_object_set_new(s, "type", json_pack("[s,s]", json_string_value(t), "null"));
    json_t *e = json_object_get(s, "enum");
    if (json_is_array(e)) json_array_append_new(e, json_null());
}

static bool server_set(const struct field *f)
{
    return !(f->flags & (F_CREATE | F_PATCH));
}

/* ---- values ------------------------------------------------------------- */

static json_t *value_schema(const struct field *f, enum schema_use use)
{
    json_t *s = json_object();
    type_of(f)->describe(s, f, use);
    return s;
}

/* A field as a property: its value, nullability, description, readOnly. */
static json_t *property(const struct field *f, enum schema_use use, bool read_only, const char *extra)
{
    json_t *s = value_schema(f, use);
    if (f->flags & F_NULLABLE) allow_null(s);
    char desc[600];
    snprintf(desc, sizeof desc, "%s%s%s", has_text(f->description) ? f->description : "",
             extra && *extra && has_text(f->description) ? " " : "", extra ? extra : "");
    if (*desc) json_object_set_new(s, "description", str(desc));
    if (read_only) json_object_set_new(s, "readOnly", json_true());
    return s;
}

/* ---- collection schemas ------------------------------------------------ */

/* The item as the server renders it: every field but the hidden ones. */
static json_t *item_schema(const struct collection *c, bool change)
{
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        if (f->flags & F_HIDDEN) continue;
        json_object_set_new(props, f->name, property(f, SCHEMA_OUTPUT, server_set(f) || (f->flags & F_PK), NULL));
        json_array_append_new(req, str(f->name));
    }
    if (change) {
        json_object_set_new(props, "deleted", json_pack("{s:s,s:b}", "type", "boolean", "const", 0));
        json_array_append_new(req, str("deleted"));
    }
    char desc[200];
    snprintf(desc, sizeof desc, change ? "A %s written since the change feed's position, as it is now." : "A %s.",
             c->item_name);
    return json_pack("{s:s,s:s,s:o,s:o,s:b}", "type", "object", "description", desc, "properties", props, "required",
                     req, "additionalProperties", 0);
}

/* A request body for mode: the fields the mode may set, the others as
 * readOnly (sending one is a 422), required ones and defaults. */
static json_t *body_schema(const struct collection *c, enum body_mode mode)
{
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < c->nfields; i++) {
        const struct field *f = &c->fields[i];
        if (f->flags & F_HIDDEN) continue;
        bool w = mode == BODY_CREATE ? (f->flags & F_CREATE) : (f->flags & F_PATCH);
        char extra[200] = "";
        if (!w)
            snprintf(extra, sizeof extra, "%s", server_set(f) ? "Set by the server." : "Cannot be changed.");
        else if (f->flags & F_ADMIN)
            snprintf(extra, sizeof extra, "Only an admin may set it%s.", f->default_value ? "" : " (else 422)");
        if (w && mode == BODY_PUT && !(f->flags & F_REQUIRED) && !f->default_value && (f->flags & F_NULLABLE))
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "%sOmitted: becomes null.",
                     *extra ? " " : "");
        json_t *p = property(f, SCHEMA_INPUT, !w, extra);
        if (w && f->default_value && mode != BODY_PATCH) {
            json_error_t e;
            json_t *d = json_loads(f->default_value, JSON_DECODE_ANY, &e);
            if (d) json_object_set_new(p, "default", d);
        }
        json_object_set_new(props, f->name, p);
        if (w && (f->flags & F_REQUIRED) && mode != BODY_PATCH) json_array_append_new(req, str(f->name));
    }
    static const char *const what[] = {
        [BODY_CREATE] = "A new %s. Fields marked readOnly are set by the server; any other field is a 422.",
        [BODY_PATCH] = "The fields of the %s to change; only those sent change. null clears a nullable field.",
        [BODY_PUT] = "The whole %s: every writable field; an omitted optional field takes its default, or null.",
    };
    char desc[200];
    snprintf(desc, sizeof desc, what[mode], c->item_name);
    json_t *s = json_pack("{s:s,s:s,s:o,s:b}", "type", "object", "description", desc, "properties", props,
                          "additionalProperties", 0);
    if (json_array_size(req))
        json_object_set_new(s, "required", req);
    else
        json_decref(req);
    return s;
}

static bool v1_profile(const struct collection *c)
{
    return !c->profile->pages;
}

static json_t *page_schema(const struct collection *c)
{
    char item[80];
    schema_name(c, "", item, sizeof item);
    json_t *cursor = json_pack("{s:[s,s],s:s}", "type", "string", "null", "description",
                               "Continues this walk (pass as cursor); null on the last page.");
    json_t *sync = json_pack("{s:s,s:s}", "type", "string", "description",
                             "The position in the order of writes when this page was read: "
                             "pass it as since to the collection's change feed.");
    if (v1_profile(c))
        return json_pack("{s:s,s:s,s:{s:{s:s,s:o},s:o,s:o},s:[s,s,s],s:b}", "type", "object", "description",
                         "A page of the FireMode v1 list.", "properties", "data", "type", "array", "items",
                         schema_ref(item), "next_cursor", cursor, "sync_token", sync, "required", "data",
                         "next_cursor", "sync_token", "additionalProperties", 0);
    return json_pack(
        "{s:s,s:s,s:{s:{s:s,s:o},s:{s:s,s:i,s:I},s:{s:s,s:i,s:i},s:{s:s},s:{s:s},s:{s:s,s:i,s:s},s:o,s:o},"
        "s:[s,s,s,s,s,s,s],s:b}",
        "type", "object", "description", "A page of the list.", "properties", "items", "type", "array", "items",
        schema_ref(item), "page", "type", "integer", "minimum", 1, "maximum", (json_int_t)TYPE_MAX_SAFE_INT,
        "page_size", "type", "integer", "minimum", 1, "maximum", LQ_MAX_PAGE_SIZE, "has_previous", "type", "boolean",
        "has_next", "type", "boolean", "total", "type", "integer", "minimum", 0, "description",
        "The number of items matching the filters; only with include_total=true.", "next_cursor", cursor,
        "sync_token", sync, "required", "items", "page", "page_size", "has_previous", "has_next", "next_cursor",
        "sync_token", "additionalProperties", 0);
}

static json_t *changes_schema(const struct collection *c)
{
    char change[80], deleted[80];
    schema_name(c, "Change", change, sizeof change);
    schema_name(c, "Deleted", deleted, sizeof deleted);
    const char *key = v1_profile(c) ? "data" : "items";
    return json_pack("{s:s,s:s,s:{s:{s:s,s:{s:[o,o]}},s:{s:s,s:s},s:{s:s,s:s}},s:[s,s,s],s:b}", "type", "object",
                     "description",
                     "Every item created, changed or deleted since the position, in the order of writes; an item "
                     "written several times appears once, at its latest write.",
                     "properties", key, "type", "array", "items", "oneOf", schema_ref(change), schema_ref(deleted),
                     "next_since", "type", "string", "description", "Pass as since for the next page of changes.",
                     "has_more", "type", "boolean", "description", "More changes follow next_since.", "required", key,
                     "next_since", "has_more", "additionalProperties", 0);
}

static json_t *deleted_schema(const struct collection *c)
{
    return json_pack("{s:s,s:s,s:{s:{s:s,s:s},s:{s:s,s:b}},s:[s,s],s:b}", "type", "object", "description",
                     "An item deleted since the position.", "properties", c->pk->name, "type", "string", "format",
                     "uuid", "deleted", "type", "boolean", "const", 1, "required", c->pk->name, "deleted",
                     "additionalProperties", 0);
}

/* 412/409 on a conditional write: the detail and the current item. */
static json_t *precondition_schema(const struct collection *c)
{
    char item[80];
    schema_name(c, "", item, sizeof item);
    return json_pack("{s:s,s:s,s:{s:{s:s},s:o},s:[s]}", "type", "object", "description",
                     "The write was refused: detail says why; current is the item as stored now (absent when "
                     "the If-Match header was not a valid clock, or on a unique-key conflict).",
                     "properties", "detail", "type", "string", "current", schema_ref(item), "required", "detail");
}

/* ---- parameters ---------------------------------------------------------- */

static json_t *param(const char *name, const char *in, const char *desc, json_t *schema, bool required)
{
    json_t *p = json_pack("{s:s,s:s,s:s,s:o}", "name", name, "in", in, "description", desc, "schema", schema);
    if (required) json_object_set_new(p, "required", json_true());
    return p;
}

static json_t *array_param(const char *name, const char *desc, json_t *items)
{
    json_t *p = param(name, "query", desc,
                      json_pack("{s:s,s:o,s:i,s:i}", "type", "array", "items", items, "minItems", 1, "maxItems",
                                LQ_MAX_VALUES),
                      false);
    json_object_set_new(p, "style", str("form"));
    json_object_set_new(p, "explode", json_true());
    return p;
}

static const char *op_phrase(enum fop op)
{
    switch (op) {
    case OP_EQ: return "Only items whose %s equals this.";
    case OP_IN: return "Only items whose %s is one of these (repeat the parameter and/or separate with commas; "
                       "empty items are ignored).";
    case OP_FROM: return "Only items whose %s is at or after this time ([from, to) is half-open).";
    case OP_TO: return "Only items whose %s is before this time ([from, to) is half-open).";
    case OP_THROUGH: return "Only items whose %s is at or before this time (inclusive); a date alone means the end "
                            "of that day.";
    case OP_IS_NULL: return "true: only items whose %s is null; false: only items where it is set.";
    case OP_SEARCH: return "Text search: an ASCII case-insensitive substring of %s; trimmed, then 2..128 characters; "
                           "%%, _ and \\ match literally.";
    case OP_CONTAINS: return "Only items whose %s contains this text, ASCII case-insensitively.";
    case OP_TAG_IN: return "Only items with any of these tags (no duplicate rows).";
    case OP_INCLUDE_DELETED: return "Include soft-deleted items (deleted_at set); default false.";
    }
    return "%s";
}

static const char *const TIME_IN =
    " RFC 3339 with Z or an offset, a naive date-time (taken as UTC), or a date (midnight UTC).";

static json_t *filter_param(const struct collection *c, const struct filter *fl)
{
    const struct field *f = fl->field;
    char what[200], desc[800];
    if (fl->op == OP_SEARCH) {
        what[0] = '\0';
        for (int i = 0; i < 3 && fl->columns[i]; i++)
            snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", i ? " or " : "", fl->columns[i]);
    } else {
        snprintf(what, sizeof what, "%s", f ? f->name : fl->column);
    }
    if (has_text(fl->description))
        snprintf(desc, sizeof desc, "%s", fl->description);
    else
        snprintf(desc, sizeof desc, op_phrase(fl->op), what);
    bool time = f && f->type == FT_TIME &&
                (fl->op == OP_FROM || fl->op == OP_TO || fl->op == OP_THROUGH || fl->op == OP_EQ);
    if (time) snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "%s", TIME_IN);

    switch (fl->op) {
    case OP_IN: return array_param(fl->param, desc, value_schema(f, SCHEMA_INPUT));
    case OP_TAG_IN:
        return array_param(fl->param, desc,
                           json_pack("{s:s,s:i,s:i}", "type", "string", "minLength", 1, "maxLength", LQ_MAX_TAG));
    case OP_IS_NULL:
    case OP_INCLUDE_DELETED: {
        json_t *s = json_pack("{s:s}", "type", "boolean");
        if (fl->op == OP_INCLUDE_DELETED) json_object_set_new(s, "default", json_false());
        return param(fl->param, "query", desc, s, false);
    }
    case OP_SEARCH:
        return param(fl->param, "query", desc,
                     json_pack("{s:s,s:i,s:i}", "type", "string", "minLength", LQ_MIN_SEARCH, "maxLength",
                               LQ_MAX_SEARCH),
                     false);
    case OP_CONTAINS:
        return param(fl->param, "query", desc,
                     json_pack("{s:s,s:i,s:i}", "type", "string", "minLength", 1, "maxLength", LQ_MAX_CONTAINS),
                     false);
    default: {
        json_t *s = value_schema(f, SCHEMA_INPUT);
        if (f->type == FT_TEXT || f->type == FT_EMAIL) {
            json_object_set_new(s, "minLength", json_integer(1));
            json_object_set_new(s, "maxLength", json_integer(LQ_MAX_EQ_TEXT));
        }
        return param(fl->param, "query", desc, s, false);
    }
    }
}

static json_t *sort_param(const struct collection *c)
{
    char desc[1200], example[160];
    size_t o = 0;
    /* an example: the first field other than the default's, then the default */
    const char *d = c->default_sort[0] == '-' ? c->default_sort + 1 : c->default_sort;
    const char *other = NULL;
    for (size_t i = 0; i < c->nsorts && !other; i++)
        if (strcmp(c->sorts[i].name, d) != 0 && strcmp(c->sorts[i].name, "id") != 0) other = c->sorts[i].name;
    snprintf(example, sizeof example, "-%s%s%s", d, other ? "," : "", other ? other : "");
    o += (size_t)snprintf(desc, sizeof desc,
                          "Comma-separated sort fields, at most %d; `-field` sorts descending. Case-insensitive, "
                          "whitespace-tolerant; a field named twice counts once. Ties are broken by the id. "
                          "Empty: the default, `%s`. Example: `%s`. Allowed fields:",
                          LQ_MAX_SORT, c->default_sort, example);
    for (size_t i = 0; i < c->nsorts && o < sizeof desc; i++) {
        const struct sort_key *k = &c->sorts[i];
        o += (size_t)snprintf(desc + o, sizeof desc - o, "%s `%s`%s%s%s%s", i ? "," : "", k->name,
                              has_text(k->description) ? " (" : "", has_text(k->description) ? k->description : "",
                              k->nullable ? (has_text(k->description) ? "; nulls last" : " (nulls last") : "",
                              has_text(k->description) || k->nullable ? ")" : "");
    }
    if (o < sizeof desc) snprintf(desc + o, sizeof desc - o, ". Unknown fields: 422 naming the allowed ones.");
    json_t *p = param("sort", "query", desc, json_pack("{s:s,s:s}", "type", "string", "default", c->default_sort),
                      false);
    json_object_set_new(p, "example", str(example));
    return p;
}

static json_t *list_params(const struct collection *c)
{
    json_t *a = json_array();
    /* the paging parameters of the collection's list profile, then its filters */
    const struct list_profile *pr = c->profile;
    if (pr->pages)
        json_array_append_new(a, param("page", "query",
                                       "Page number, from 1. A page past the end is 200 with no items. Not together "
                                       "with cursor.",
                                       json_pack("{s:s,s:i,s:I,s:i}", "type", "integer", "minimum", 1, "maximum",
                                                 (json_int_t)LQ_MAX_PAGE, "default", 1),
                                       false));
    char size_desc[64];
    snprintf(size_desc, sizeof size_desc, "Items per page, 1..%d.", pr->max_size);
    json_array_append_new(a, param(pr->size_param, "query", size_desc,
                                   json_pack("{s:s,s:i,s:i,s:i}", "type", "integer", "minimum", 1, "maximum",
                                             pr->max_size, "default", pr->default_size),
                                   false));
    if (pr->pages)
        json_array_append_new(a, param("include_total", "query",
                                       "Also count the items matching the filters (total). Accepts true/false, 1/0, "
                                       "yes/no, on/off in any case.",
                                       json_pack("{s:s,s:b}", "type", "boolean", "default", 0), false));
    json_array_append_new(a, sort_param(c));
    json_array_append_new(a, param("cursor", "query",
                                   "next_cursor of the previous page: continues a keyset walk (CONTRACT.md §5). "
                                   "Opaque; bound to the filters and sort it was made with (else 422).",
                                   json_pack("{s:s}", "type", "string"), false));
    for (size_t i = 0; i < c->nfilters; i++) json_array_append_new(a, filter_param(c, &c->filters[i]));
    return a;
}

/* ---- responses ------------------------------------------------------------ */

static json_t *headers_with(const char *name, ...)
{
    json_t *h = json_object();
    json_object_set_new(h, "X-Request-Id", ref("headers", "X-Request-Id"));
    va_list ap;
    va_start(ap, name);
    for (const char *n = name; n; n = va_arg(ap, const char *)) json_object_set_new(h, n, ref("headers", n));
    va_end(ap);
    return h;
}

static json_t *json_response(const char *desc, json_t *schema, json_t *headers)
{
    return json_pack("{s:s,s:o,s:{s:{s:o}}}", "description", desc, "headers", headers ? headers : headers_with(NULL),
                     "content", "application/json", "schema", schema);
}

static json_t *empty_response(const char *desc, json_t *headers)
{
    return json_pack("{s:s,s:o}", "description", desc, "headers", headers ? headers : headers_with(NULL));
}

/* For HEAD: the same status and headers, no content. */
static json_t *without_content(json_t *resp)
{
    json_t *r = json_deep_copy(resp);
    json_object_del(r, "content");
    return r;
}

/* Which kinds of errors an operation can meet. */
enum {
    E_AUTH = 1 << 0,      /* 401, 403 */
    E_DB = 1 << 1,        /* 503 */
    E_BODY = 1 << 2,      /* 413, 415 */
    E_NOT_FOUND = 1 << 3, /* 404 */
    E_LIST422 = 1 << 4,   /* 422 may be a string (sort) */
    E_COND = 1 << 5,      /* 409/412/428 with current */
    E_CONFLICT = 1 << 6,  /* 409 */
};

static void add_errors(json_t *responses, unsigned e, const char *precondition_schema_name)
{
    json_object_set_new(responses, "400", ref("responses", "BadRequest"));
    json_object_set_new(responses, "414", ref("responses", "UriTooLong"));
    json_object_set_new(responses, "431", ref("responses", "HeadersTooLarge"));
    json_object_set_new(responses, "422", ref("responses", e & E_LIST422 ? "ListValidationError" : "ValidationError"));
    if (e & E_AUTH) {
        json_object_set_new(responses, "401", ref("responses", "Unauthorized"));
        json_object_set_new(responses, "403", ref("responses", "Forbidden"));
    }
    if (e & E_DB) json_object_set_new(responses, "503", ref("responses", "Unavailable"));
    if (e & E_BODY) {
        json_object_set_new(responses, "413", ref("responses", "TooLarge"));
        json_object_set_new(responses, "415", ref("responses", "UnsupportedMediaType"));
    }
    if (e & E_NOT_FOUND) json_object_set_new(responses, "404", ref("responses", "NotFound"));
    if (e & E_CONFLICT) json_object_set_new(responses, "409", ref("responses", "Conflict"));
    if (e & E_COND) {
        json_object_set_new(
            responses, "409",
            json_response("A unique-key conflict, a full vector clock, or a concurrent write (If-Match clock "
                          "concurrent with the stored one; current holds the item, with its ETag).",
                          schema_ref(precondition_schema_name), headers_with("ETag", NULL)));
        json_object_set_new(responses, "412",
                            json_response("If-Match is older than the stored item (current holds it, with its "
                                          "ETag), or not a valid clock.",
                                          schema_ref(precondition_schema_name), headers_with("ETag", NULL)));
        json_object_set_new(responses, "428", ref("responses", "PreconditionRequired"));
    }
}

/* ---- operations ------------------------------------------------------------ */

struct op {
    const char *id;      /* operationId */
    const char *summary;
    const char *tag;
    bool public;
    json_t *params;      /* array or NULL (stolen) */
    json_t *body;        /* requestBody or NULL (stolen) */
    json_t *responses;   /* (stolen) */
};

static json_t *operation(struct op *o)
{
    json_t *j = json_pack("{s:s,s:s,s:[s],s:o}", "operationId", o->id, "summary", o->summary, "tags", o->tag,
                          "responses", o->responses);
    if (o->params && json_array_size(o->params))
        json_object_set_new(j, "parameters", o->params);
    else
        json_decref(o->params);
    if (o->body) json_object_set_new(j, "requestBody", o->body);
    if (o->public) json_object_set_new(j, "security", json_array());
    return j;
}

/* Adds GET and its HEAD twin (same parameters and statuses, no content). */
static void get_and_head(json_t *item, struct op *o)
{
    char id[160], summary[300];
    struct op h = *o;
    snprintf(id, sizeof id, "head_%s", o->id);
    snprintf(summary, sizeof summary, "%s (headers only)", o->summary);
    h.id = id;
    h.summary = summary;
    h.params = o->params ? json_deep_copy(o->params) : NULL;
    h.body = NULL;
    h.responses = json_object();
    const char *code;
    json_t *r;
    json_object_foreach(o->responses, code, r)
        json_object_set_new(h.responses, code, json_object_get(r, "$ref") ? json_deep_copy(r) : without_content(r));
    json_object_set_new(item, "get", operation(o));
    json_object_set_new(item, "head", operation(&h));
}

static void options_op(json_t *item, const char *base_id, const char *tag, bool has_path_params)
{
    char id[160];
    snprintf(id, sizeof id, "options_%s", base_id);
    json_t *resp = json_object();
    json_object_set_new(resp, "204", empty_response("The methods this path serves, in Allow.",
                                                    headers_with("Allow", NULL)));
    add_errors(resp, has_path_params ? E_NOT_FOUND : 0, NULL);
    struct op o = {id, "The methods this path serves (no token needed)", tag, true, NULL, NULL, resp};
    json_object_set_new(item, "options", operation(&o));
}

static json_t *path_param(const char *name, const char *what)
{
    char desc[200];
    snprintf(desc, sizeof desc, "The %s's id (a UUID; anything else is 404).", what);
    return param(name, "path", desc, json_pack("{s:s,s:s}", "type", "string", "format", "uuid"), true);
}

/* Path parameters of a route, in order, and its OpenAPI path. */
static json_t *route_path(const struct route *rt, char *path, size_t cap)
{
    json_t *params = json_array();
    size_t o = 0;
    path[0] = '\0';
    const struct collection *prev = NULL;
    for (int k = 0; k < 5 && rt->seg[k]; k++) {
        const char *s = rt->seg[k];
        if (strcmp(s, "{ws}") == 0) {
            o += (size_t)snprintf(path + o, cap - o, "/{workspace_id}");
            json_array_append_new(params, path_param("workspace_id", "workspace"));
        } else if (strcmp(s, "{id}") == 0) {
            const struct collection *c = rt->coll ? rt->coll : prev;
            o += (size_t)snprintf(path + o, cap - o, "/{%s}", c->pk->name);
            json_array_append_new(params, path_param(c->pk->name, c->item_name));
        } else if (strcmp(s, "{file}") == 0) {
            o += (size_t)snprintf(path + o, cap - o, "/{file}");
        } else if (strcmp(s, "{sub}") == 0) {
            bool member = k > 0 && strcmp(rt->seg[k - 1], "members") == 0;
            o += (size_t)snprintf(path + o, cap - o, member ? "/{user_id}" : "/{token_id}");
            json_array_append_new(params, member ? path_param("user_id", "member's user") : path_param("token_id", "token"));
        } else {
            o += (size_t)snprintf(path + o, cap - o, "/%s", s);
            const struct collection *c = collection_by_name(s, strlen(s));
            if (c) prev = c;
        }
    }
    return params;
}

static json_t *with_params(json_t *path_params, json_t *more)
{
    json_t *a = json_deep_copy(path_params);
    if (more) {
        json_array_extend(a, more);
        json_decref(more);
    }
    return a;
}

static json_t *if_none_match(void)
{
    return ref("parameters", "If-None-Match");
}

static json_t *if_match(void)
{
    return ref("parameters", "If-Match");
}

static json_t *include_deleted_param(const struct collection *c)
{
    if (!c->soft_delete || c->scope == SCOPE_OWNER) return NULL;
    json_t *a = json_array();
    json_array_append_new(a, param("include_deleted", "query", "Also find the item when it is soft-deleted.",
                                   json_pack("{s:s,s:b}", "type", "boolean", "default", 0), false));
    return a;
}

static json_t *request_body(const char *schema, const char *desc, bool required)
{
    return json_pack("{s:s,s:b,s:{s:{s:o}}}", "description", desc, "required", required, "content",
                     "application/json", "schema", schema_ref(schema));
}

static void collection_path(json_t *paths, const struct route *rt)
{
    const struct collection *c = rt->coll;
    char path[200], id[120], sum[300], sn[80], item[80], tag[64];
    json_t *pp = route_path(rt, path, sizeof path);
    bool scoped = json_array_size(pp) > 0;
    unsigned E = E_AUTH | E_DB | (scoped ? E_NOT_FOUND : 0);
    snprintf(tag, sizeof tag, "%s", c->name);
    snake(c->item_name, sn, sizeof sn);
    schema_name(c, "", item, sizeof item);
    json_t *pi = json_object();

    /* the list (every collection has one; the FireMode v1 one arrives with cursors) */
    {
        char page[80];
        schema_name(c, v1_profile(c) ? "PageV1" : "Page", page, sizeof page);
        json_t *resp = json_object();
        json_object_set_new(resp, "200", json_response("A page of the list.", schema_ref(page),
                                                       headers_with("Link", NULL)));
        add_errors(resp, E | E_LIST422, NULL);
        snprintf(id, sizeof id, "list_%s", c->name);
        snprintf(sum, sizeof sum, "List %ss%s", c->item_name,
                 c->admin_only ? " (admins only)" : c->scope == SCOPE_OWNER ? " (the caller's own)" : "");
        struct op o = {id, sum, tag, false, with_params(pp, list_params(c)), NULL, resp};
        get_and_head(pi, &o);
    }
    if (api_route_methods(rt) & M_POST) {
        char body[80];
        schema_name(c, "Create", body, sizeof body);
        json_t *resp = json_object();
        json_object_set_new(resp, "201", json_response("Created; Location names the new item.", schema_ref(item),
                                                       headers_with("Location", "ETag", NULL)));
        add_errors(resp, E | E_BODY | E_CONFLICT, NULL);
        snprintf(id, sizeof id, "create_%s", sn);
        snprintf(sum, sizeof sum, "Create a %s%s", c->item_name, c->admin_only ? " (admins only)" : "");
        struct op o = {id, sum, tag, false, json_deep_copy(pp), request_body(body, sum, true), resp};
        json_object_set_new(pi, "post", operation(&o));
    }
    snprintf(id, sizeof id, "%s", c->name);
    options_op(pi, id, tag, scoped);
    json_object_set_new(paths, path, pi);

    /* the change feed (CONTRACT.md §8) */
    {
        char cpath[220], changes[80];
        snprintf(cpath, sizeof cpath, "%s/changes", path);
        schema_name(c, "Changes", changes, sizeof changes);
        json_t *cp = json_object(), *more = json_array();
        json_array_append_new(more, param("since", "query",
                                          "A position: a list page's sync_token, or next_since of the previous "
                                          "page of changes.",
                                          json_pack("{s:s,s:i}", "type", "string", "minLength", 1), true));
        json_array_append_new(more, param("limit", "query", "Changes per page, 1..1000.",
                                          json_pack("{s:s,s:i,s:i,s:i}", "type", "integer", "minimum", 1, "maximum",
                                                    1000, "default", 100),
                                          false));
        json_t *resp = json_object();
        json_object_set_new(resp, "200", json_response("Changes since the position.", schema_ref(changes), NULL));
        add_errors(resp, E | E_NOT_FOUND, NULL); /* 404 too: before change feeds land, the path is unknown */
        snprintf(id, sizeof id, "%s_changes", c->name);
        snprintf(sum, sizeof sum, "%ss created, changed or deleted since a position", c->item_name);
        struct op o = {id, sum, tag, false, with_params(pp, more), NULL, resp};
        get_and_head(cp, &o);
        snprintf(id, sizeof id, "%s_changes", c->name);
        options_op(cp, id, tag, true);
        json_object_set_new(paths, cpath, cp);
    }
    json_decref(pp);
}

static void item_path(json_t *paths, const struct route *rt)
{
    const struct collection *c = rt->coll;
    unsigned m = api_route_methods(rt);
    char path[200], id[120], sum[300], sn[80], item[80], pre[80], tag[64];
    json_t *pp = route_path(rt, path, sizeof path);
    unsigned E = E_AUTH | E_DB | E_NOT_FOUND;
    snprintf(tag, sizeof tag, "%s", c->name);
    snake(c->item_name, sn, sizeof sn);
    schema_name(c, "", item, sizeof item);
    schema_name(c, "WriteRefused", pre, sizeof pre);
    json_t *pi = json_object();
    if (m & M_GET) {
        json_t *resp = json_object();
        json_object_set_new(resp, "200", json_response("The item.", schema_ref(item), headers_with("ETag", NULL)));
        json_object_set_new(resp, "304", empty_response("Not modified: If-None-Match names the current ETag.",
                                                        headers_with("ETag", NULL)));
        add_errors(resp, E, NULL);
        json_t *more = include_deleted_param(c);
        if (!more) more = json_array();
        json_array_append_new(more, if_none_match());
        snprintf(id, sizeof id, "get_%s", sn);
        snprintf(sum, sizeof sum, "Get a %s", c->item_name);
        struct op o = {id, sum, tag, false, with_params(pp, more), NULL, resp};
        get_and_head(pi, &o);
    }
    static const struct {
        unsigned m;
        const char *method, *verb, *suffix;
        enum body_mode mode;
    } writes[] = {
        {M_PATCH, "patch", "Change fields of", "Patch", BODY_PATCH},
        {M_PUT, "put", "Replace", "Put", BODY_PUT},
    };
    for (size_t w = 0; w < sizeof writes / sizeof writes[0]; w++) {
        if (!(m & writes[w].m)) continue;
        char body[80];
        schema_name(c, writes[w].suffix, body, sizeof body);
        json_t *resp = json_object();
        json_object_set_new(resp, "200", json_response("The item as written.", schema_ref(item),
                                                       headers_with("ETag", NULL)));
        add_errors(resp, E | E_BODY | E_COND, pre);
        json_t *more = json_array();
        json_array_append_new(more, if_match());
        snprintf(id, sizeof id, "%s_%s", writes[w].method, sn);
        snprintf(sum, sizeof sum, "%s a %s", writes[w].verb, c->item_name);
        struct op o = {id, sum, tag, false, with_params(pp, more), request_body(body, sum, true), resp};
        json_object_set_new(pi, writes[w].method, operation(&o));
    }
    if (m & M_DELETE) {
        json_t *resp = json_object();
        json_object_set_new(resp, "204", empty_response(c->soft_delete ? "Deleted (soft: deleted_at is set)."
                                                                       : "Deleted.",
                                                        NULL));
        add_errors(resp, E | E_COND, pre);
        json_t *more = json_array();
        json_array_append_new(more, if_match());
        snprintf(id, sizeof id, "delete_%s", sn);
        snprintf(sum, sizeof sum, "Delete a %s", c->item_name);
        struct op o = {id, sum, tag, false, with_params(pp, more), NULL, resp};
        json_object_set_new(pi, "delete", operation(&o));
    }
    snprintf(id, sizeof id, "%s_item", c->name);
    options_op(pi, id, tag, true);
    json_object_set_new(paths, path, pi);
    json_decref(pp);
}

static json_t *error_response(const char *desc, const char *schema, json_t *headers);

/* The routes that are not a collection's. */
static void other_path(json_t *paths, const struct route *rt)
{
    char path[200];
    json_t *pp = route_path(rt, path, sizeof path);
    json_t *pi = json_object(), *resp = json_object();
    const char *tag = rt->public ? "operations" : "accounts";
    bool scoped = json_array_size(pp) > 0;
    switch (rt->kind) {
    case RK_HEALTHZ: {
        json_object_set_new(resp, "200", json_response("The server is up.", schema_ref("Health"), NULL));
        add_errors(resp, 0, NULL);
        struct op o = {"healthz", "Liveness: the process answers (no database needed)", tag, true, NULL, NULL, resp};
        get_and_head(pi, &o);
        break;
    }
    case RK_READYZ: {
        json_object_set_new(resp, "200", json_response("Ready: the database answers.", schema_ref("Ready"), NULL));
        add_errors(resp, E_DB, NULL);
        struct op o = {"readyz", "Readiness: the database answers", tag, true, NULL, NULL, resp};
        get_and_head(pi, &o);
        break;
    }
    case RK_METRICS: {
        json_object_set_new(resp, "200",
                            json_pack("{s:s,s:o,s:{s:{s:{s:s}}}}", "description", "Prometheus text exposition.",
                                      "headers", headers_with(NULL), "content", "text/plain", "schema", "type",
                                      "string"));
        add_errors(resp, E_AUTH, NULL);
        struct op o = {"metrics", "Metrics (Prometheus text)", "operations", false, NULL, NULL, resp};
        get_and_head(pi, &o);
        break;
    }
    case RK_ME: {
        json_object_set_new(resp, "200", json_response("The caller.", schema_ref("User"), headers_with("ETag", NULL)));
        add_errors(resp, E_AUTH | E_DB | E_NOT_FOUND, NULL);
        struct op o = {"get_me", "The caller's own user", tag, false, NULL, NULL, resp};
        get_and_head(pi, &o);
        break;
    }
    case RK_TOKENS: {
        json_object_set_new(resp, "201", json_response("A new token; it is shown only now.", schema_ref("NewToken"),
                                                       headers_with("Location", NULL)));
        json_object_set_new(resp, "409", error_response("The user holds the most tokens a user may (100).", "Error",
                                                        NULL));
        add_errors(resp, E_AUTH | E_DB | E_NOT_FOUND | E_BODY, NULL);
        json_t *body = json_pack("{s:s,s:b,s:{s:{s:o}}}", "description", "No body, or an empty object.", "required",
                                 0, "content", "application/json", "schema", schema_ref("Empty"));
        struct op o = {"create_token", "Mint an API token for a user (admin or self)", "users", false,
                       json_deep_copy(pp), body, resp};
        json_object_set_new(pi, "post", operation(&o));
        json_t *lresp = json_object();
        json_object_set_new(lresp, "200", json_response("The user's tokens, newest first (never the token itself).",
                                                        schema_ref("TokenList"), NULL));
        add_errors(lresp, E_AUTH | E_DB | E_NOT_FOUND, NULL);
        struct op l = {"list_tokens", "List a user's API tokens (admin or self)", "users", false, json_deep_copy(pp),
                       NULL, lresp};
        get_and_head(pi, &l);
        break;
    }
    case RK_TOKEN: {
        json_object_set_new(resp, "204", empty_response("Revoked: the token is a 401 from now on, on every server.",
                                                        NULL));
        add_errors(resp, E_AUTH | E_DB | E_NOT_FOUND, NULL);
        struct op o = {"revoke_token", "Revoke an API token (admin or self)", "users", false, json_deep_copy(pp), NULL,
                       resp};
        json_object_set_new(pi, "delete", operation(&o));
        break;
    }
    case RK_MEMBERS: {
        json_object_set_new(resp, "201", json_response("Added.", schema_ref("Member"), headers_with("Location", NULL)));
        json_object_set_new(resp, "200", json_response("Already a member.", schema_ref("Member"), NULL));
        add_errors(resp, E_AUTH | E_DB | E_NOT_FOUND | E_BODY, NULL);
        json_t *body = request_body("MemberAdd", "The user to add.", true);
        struct op o = {"add_member", "Add a member to a workspace (members and admins)", "workspaces", false,
                       json_deep_copy(pp), body, resp};
        json_object_set_new(pi, "post", operation(&o));
        json_t *lresp = json_object();
        json_object_set_new(lresp, "200", json_response("The workspace's members, oldest first.",
                                                        schema_ref("MemberList"), NULL));
        add_errors(lresp, E_AUTH | E_DB | E_NOT_FOUND, NULL);
        struct op l = {"list_members", "List a workspace's members (members and admins)", "workspaces", false,
                       json_deep_copy(pp), NULL, lresp};
        get_and_head(pi, &l);
        break;
    }
    case RK_MEMBER: {
        json_object_set_new(resp, "204", empty_response("Removed: a write to the workspace (its clock, its change "
                                                        "feed; the removed member's feed gets a tombstone).",
                                                        NULL));
        json_object_set_new(resp, "409", error_response("The last member cannot be removed.", "Error", NULL));
        add_errors(resp, E_AUTH | E_DB | E_NOT_FOUND, NULL);
        struct op o = {"remove_member", "Remove a member (itself, or by a member or an admin)", "workspaces", false,
                       json_deep_copy(pp), NULL, resp};
        json_object_set_new(pi, "delete", operation(&o));
        break;
    }
    case RK_OPENAPI: {
        json_object_set_new(resp, "200",
                            json_response("This document (OpenAPI 3.1).", json_pack("{s:s}", "type", "object"), NULL));
        add_errors(resp, 0, NULL);
        struct op o = {"openapi", "This OpenAPI document", tag, true, NULL, NULL, resp};
        get_and_head(pi, &o);
        break;
    }
    case RK_DOCS: {
        bool file = rt->seg[1] != NULL;
        json_t *ok = json_pack("{s:s,s:o,s:{}}", "description", file ? "A file of Swagger UI." : "Swagger UI.",
                               "headers", headers_with(NULL), "content");
        json_t *ct = json_object_get(ok, "content");
        if (file) {
            json_object_set_new(ct, "application/javascript", json_pack("{s:{s:s}}", "schema", "type", "string"));
            json_object_set_new(ct, "text/css", json_pack("{s:{s:s}}", "schema", "type", "string"));
            json_object_set_new(ct, "image/png", json_pack("{s:{s:s,s:s}}", "schema", "type", "string",
                                                           "contentMediaType", "image/png"));
        } else {
            json_object_set_new(ct, "text/html", json_pack("{s:{s:s}}", "schema", "type", "string"));
        }
        json_object_set_new(resp, "200", ok);
        json_object_set_new(resp, "503", ref("responses", "DocsMissing"));
        add_errors(resp, file ? E_NOT_FOUND : 0, NULL);
        json_t *params = NULL;
        if (file) {
            params = json_array();
            json_array_append_new(params, param("file", "path", "A file of the Swagger UI page.",
                                                json_pack("{s:s}", "type", "string"), true));
        }
        struct op o = {file ? "docs_file" : "docs", file ? "A file of the Swagger UI page" : "Swagger UI over this "
                       "document", tag, true, params, NULL, resp};
        get_and_head(pi, &o);
        break;
    }
    default: break;
    }
    options_op(pi, rt->kind == RK_DOCS && rt->seg[1] ? "docs_file" : rt->kind == RK_TOKEN ? "token" : rt->kind == RK_MEMBER ? "member"
                                                                                    : rt->seg[rt->seg[2] ? 2 : 0],
               tag, scoped);
    json_object_set_new(paths, path, pi);
    json_decref(pp);
}

/* ---- components ---------------------------------------------------------- */

static json_t *error_response(const char *desc, const char *schema, json_t *headers)
{
    return json_response(desc, schema_ref(schema), headers);
}

static json_t *components(void)
{
    json_t *schemas = json_object();
    json_object_set_new(schemas, "Error",
                        json_pack("{s:s,s:s,s:{s:{s:s,s:i}},s:[s]}", "type", "object", "description",
                                  "An error: detail says what went wrong.", "properties", "detail", "type", "string",
                                  "minLength", 1, "required", "detail"));
    json_object_set_new(
        schemas, "ValidationError",
        json_pack("{s:s,s:s,s:{s:{s:s,s:i,s:{s:s,s:{s:{s:s,s:i,s:{s:[s,s]}},s:{s:s},s:{s:s}},s:[s,s,s]}}},s:[s]}",
                  "type", "object", "description",
                  "A validation error in FastAPI's shape: loc is [where, name, ...] with where one of query, body, "
                  "path, header.",
                  "properties", "detail", "type", "array", "minItems", 1, "items", "type", "object", "properties",
                  "loc", "type", "array", "minItems", 1, "items", "type", "string", "integer", "msg", "type",
                  "string", "type", "type", "string", "required", "loc", "msg", "type", "required", "detail"));
    /* every problem of the request, up to the bound (grammar/query.h) */
    json_object_set_new(json_object_get(json_object_get(json_object_get(schemas, "ValidationError"), "properties"),
                                        "detail"),
                        "maxItems", json_integer(LQ_MAX_ERRORS));
    json_object_set_new(schemas, "Health",
                        json_pack("{s:s,s:{s:{s:s,s:[s]},s:{s:s}},s:[s]}", "type", "object", "properties", "status",
                                  "type", "string", "enum", "ok", "version", "type", "string", "required", "status"));
    json_object_set_new(schemas, "Ready",
                        json_pack("{s:s,s:{s:{s:s,s:[s]}},s:[s]}", "type", "object", "properties", "status", "type",
                                  "string", "enum", "ready", "required", "status"));
    json_object_set_new(schemas, "NewToken",
                        json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s}},s:[s,s,s],s:b}", "type", "object",
                                  "properties", "token", "type", "string", "description",
                                  "Send as Authorization: Bearer <token>. Shown only once.", "token_id", "type",
                                  "string", "format", "uuid", "user_id", "type", "string", "format", "uuid",
                                  "required", "token", "token_id", "user_id", "additionalProperties", 0));
    json_object_set_new(schemas, "MemberList",
                        json_pack("{s:s,s:{s:{s:s,s:{s:s,s:{s:{s:s,s:s},s:{s:s},s:{s:[s,s]},s:{s:s,s:s}},s:[s,s,s,s],"
                                  "s:b}}},s:[s],s:b}",
                                  "type", "object", "properties", "items", "type", "array", "items", "type", "object",
                                  "properties", "user_id", "type", "string", "format", "uuid", "email", "type",
                                  "string", "display_name", "type", "string", "null", "added_at", "type", "string",
                                  "format", "date-time", "required", "user_id", "email", "display_name", "added_at",
                                  "additionalProperties", 0, "required", "items", "additionalProperties", 0));
    json_object_set_new(schemas, "TokenList",
                        json_pack("{s:s,s:{s:{s:s,s:{s:s,s:{s:{s:s,s:s},s:{s:s,s:s},s:{s:[s,s],s:s}},s:[s,s,s],"
                                  "s:b}}},s:[s],s:b}",
                                  "type", "object", "properties", "items", "type", "array", "items", "type", "object",
                                  "properties", "token_id", "type", "string", "format", "uuid", "created_at", "type",
                                  "string", "format", "date-time", "last_used_at", "type", "string", "null", "format",
                                  "date-time", "required", "token_id", "created_at", "last_used_at",
                                  "additionalProperties", 0, "required", "items", "additionalProperties", 0));
    json_object_set_new(schemas, "Member",
                        json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s,s:s}},s:[s,s],s:b}", "type", "object", "properties",
                                  "workspace_id", "type", "string", "format", "uuid", "user_id", "type", "string",
                                  "format", "uuid", "required", "workspace_id", "user_id", "additionalProperties", 0));
    json_object_set_new(schemas, "MemberAdd",
                        json_pack("{s:s,s:{s:{s:s,s:s,s:s}},s:[s],s:b}", "type", "object", "properties", "user_id",
                                  "type", "string", "format", "uuid", "description", "The user to add.", "required",
                                  "user_id", "additionalProperties", 0));
    json_object_set_new(schemas, "Empty",
                        json_pack("{s:s,s:s,s:i,s:b}", "type", "object", "description",
                                  "No fields: an empty object (any field is a 422).", "maxProperties", 0,
                                  "additionalProperties", 0));
    for (size_t i = 0; collections[i]; i++) {
        const struct collection *c = collections[i];
        char n[80];
        schema_name(c, "", n, sizeof n);
        json_object_set_new(schemas, n, item_schema(c, false));
        schema_name(c, "Create", n, sizeof n);
        json_object_set_new(schemas, n, body_schema(c, BODY_CREATE));
        if (c->item_methods & M_PATCH) {
            schema_name(c, "Patch", n, sizeof n);
            json_object_set_new(schemas, n, body_schema(c, BODY_PATCH));
        }
        if (c->item_methods & M_PUT) {
            schema_name(c, "Put", n, sizeof n);
            json_object_set_new(schemas, n, body_schema(c, BODY_PUT));
        }
        schema_name(c, v1_profile(c) ? "PageV1" : "Page", n, sizeof n);
        json_object_set_new(schemas, n, page_schema(c));
        schema_name(c, "Change", n, sizeof n);
        json_object_set_new(schemas, n, item_schema(c, true));
        schema_name(c, "Deleted", n, sizeof n);
        json_object_set_new(schemas, n, deleted_schema(c));
        schema_name(c, "Changes", n, sizeof n);
        json_object_set_new(schemas, n, changes_schema(c));
        schema_name(c, "WriteRefused", n, sizeof n);
        json_object_set_new(schemas, n, precondition_schema(c));
    }

    json_t *headers = json_pack(
        "{s:{s:s,s:b,s:{s:s,s:i,s:i}},s:{s:s,s:b,s:{s:s}},s:{s:s,s:{s:s,s:s}},s:{s:s,s:b,s:{s:s}},"
        "s:{s:s,s:b,s:{s:s}},s:{s:s,s:{s:s}},s:{s:s,s:{s:s,s:s}}}",
        "X-Request-Id", "description", "The request's id: the client's X-Request-Id if valid, else a new one.",
        "required", 1, "schema", "type", "string", "minLength", 1, "maxLength", 64, "Location", "description",
        "The path of the new item.", "required", 1, "schema", "type", "string", "ETag", "description",
        "The item's vector clock in a quoted, opaque form; send it back in If-Match or If-None-Match.", "schema",
        "type", "string", "pattern", "^\"[^\"]*\"$", "Allow", "description", "The methods this path serves.",
        "required", 1, "schema", "type", "string", "WWW-Authenticate", "description", "Always Bearer.", "required", 1,
        "schema", "type", "string", "Retry-After", "description", "Seconds to wait before trying again.", "schema",
        "type", "string", "Link", "description",
        "RFC 8288: <path?cursor=…>; rel=\"next\" when a next page exists (the same as next_cursor).", "schema",
        "type", "string", "pattern", "^<[^>]+>; rel=\"next\"$");

    json_t *parameters = json_pack(
        "{s:{s:s,s:s,s:s,s:{s:s}},s:{s:s,s:s,s:s,s:{s:s}}}", "If-Match", "name", "If-Match", "in", "header",
        "description",
        "Write only if the stored item is not newer: an ETag, the vector clock as bare JSON (FireMode v1), or *. "
        "Older: 412; concurrent: 409; not a valid clock: 412. With --require-if-match, leaving it out is a 428.",
        "schema", "type", "string", "If-None-Match", "name", "If-None-Match", "in", "header", "description",
        "An ETag: 304 (no body) if it is the item's current one.", "schema", "type", "string");

    json_t *responses = json_object();
    json_object_set_new(responses, "BadRequest",
                        error_response("Malformed request target (percent-encoding), Content-Length, or a body on a "
                                       "request that takes none.",
                                       "Error", NULL));
    json_object_set_new(responses, "Unauthorized",
                        error_response("No token, or an unknown one.", "Error", headers_with("WWW-Authenticate", NULL)));
    json_object_set_new(responses, "Forbidden",
                        error_response("The caller is inactive, or not an admin where one is needed.", "Error", NULL));
    json_object_set_new(responses, "NotFound",
                        error_response("Not found, or not visible to the caller (never a 403), or a malformed id.",
                                       "Error", NULL));
    json_object_set_new(responses, "Conflict",
                        error_response("Conflicts with an existing row (a unique key).", "Error", NULL));
    json_object_set_new(responses, "PreconditionRequired",
                        error_response("If-Match is required (server started with --require-if-match).", "Error",
                                       NULL));
    json_object_set_new(responses, "TooLarge", error_response("The body is over 1 MiB.", "Error", NULL));
    json_object_set_new(responses, "UriTooLong", error_response("The request line is over 8 KiB.", "Error", NULL));
    json_object_set_new(responses, "HeadersTooLarge", error_response("The headers are over 16 KiB.", "Error", NULL));
    json_object_set_new(responses, "UnsupportedMediaType",
                        error_response("The body is not application/json.", "Error", NULL));
    json_object_set_new(responses, "ValidationError",
                        error_response("Invalid parameters or body: every problem listed, query parameters in their order, "
                                       "body fields in the collection's order, then fields it does not take.",
                                       "ValidationError", NULL));
    json_object_set_new(responses, "ListValidationError",
                        json_response("Invalid parameters, every problem listed (FastAPI's list form, in the "
                                      "order of the parameters), or a string detail when an unsupported sort is "
                                      "the only problem.",
                                      json_pack("{s:[o,o]}", "anyOf", schema_ref("ValidationError"),
                                                schema_ref("Error")),
                                      NULL));
    json_object_set_new(responses, "Unavailable",
                        error_response("The database is unavailable (or the server's body memory is spent): try "
                                       "again shortly.",
                                       "Error", headers_with("Retry-After", NULL)));
    json_object_set_new(responses, "DocsMissing",
                        error_response("Swagger UI's files are not installed beside this binary (run make).", "Error",
                                       NULL));
    return json_pack("{s:{s:{s:s,s:s,s:s}},s:o,s:o,s:o,s:o}", "securitySchemes", "bearerAuth", "type", "http",
                     "scheme", "bearer", "description",
                     "An API token: `firemode user add EMAIL` prints one; POST /users/{user_id}/tokens mints more.",
                     "schemas", schemas, "headers", headers, "parameters", parameters, "responses", responses);
}

/* ---- the document -------------------------------------------------------- */

static const char DESCRIPTION[] =
    "FireMode's HTTP/JSON API: users, workspaces, documents, jobs, configs and FireMode v1 test sessions. "
    "Generated by the server from the tables its engine walks (routes, collections, field types).\n\n"
    "Every list speaks one grammar: `page`/`page_size` (or `cursor`), `include_total`, `sort` (CSV, `-` for "
    "descending, at most 3 fields) and per-collection filters (`field=value`, `field_in=a,b`, "
    "`field_from`/`field_to` as [from, to), `field_is_null`, `q`). Unknown parameters are a 422 naming the allowed "
    "ones.\n\n"
    "Authenticate with `Authorization: Bearer <token>` (Authorize above). Errors always carry `detail`: a string, "
    "or for validation errors (422) FastAPI's list of `{loc, msg, type}`. Beyond the statuses listed per "
    "operation, any request may get 405 (with Allow) for a method the path does not serve, 404 for a path that "
    "is not here, 501 for an unknown method and 505 for an HTTP version other than 1.0/1.1. Paths work with and "
    "without a trailing slash.";

void openapi_init(void)
{
    if (g_doc) return;
    json_t *paths = json_object();
    size_t n;
    const struct route *routes = api_routes(&n);
    for (size_t i = 0; i < n; i++) {
        const struct route *rt = &routes[i];
        if (rt->kind == RK_COLLECTION)
            collection_path(paths, rt);
        else if (rt->kind == RK_ITEM)
            item_path(paths, rt);
        else if (rt->kind == RK_CHANGES)
            continue; /* documented with its collection (collection_path) */
        else
            other_path(paths, rt);
    }
    json_t *tags = json_array();
    for (size_t i = 0; collections[i]; i++) {
        char d[120];
        snprintf(d, sizeof d, "%ss", collections[i]->item_name);
        d[0] = (char)toupper((unsigned char)d[0]);
        json_array_append_new(tags, json_pack("{s:s,s:s}", "name", collections[i]->name, "description", d));
    }
    json_array_append_new(tags, json_pack("{s:s,s:s}", "name", "operations", "description",
                                          "Health, readiness, metrics and these docs"));
    json_array_append_new(tags, json_pack("{s:s,s:s}", "name", "accounts", "description", "The caller"));
    json_t *doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:[{s:[]}],s:o,s:o,s:o}", "openapi", "3.1.0", "info",
                            "title", "FireMode API", "version", FM_API_VERSION, "description", DESCRIPTION, "servers",
                            "url", "/", "security", "bearerAuth", "tags", tags, "paths", paths, "components",
                            components());
    if (!doc) {
        fprintf(stderr, "firemode: cannot build the OpenAPI document\n");
        abort();
    }
    g_doc = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!g_doc) abort();
    g_doc_len = strlen(g_doc);
}

const char *api_openapi_json(size_t *len)
{
    return openapi_json(len);
}

const char *openapi_json(size_t *len)
{
    if (len) *len = g_doc_len;
    return g_doc;
}

void openapi_serve(struct request *r)
{
    struct buf b;
    buf_init(&b);
    buf_append(&b, g_doc, g_doc_len);
    resp_json(r, 200, &b);
}
