/*
 * fuzz_body — libFuzzer target for request bodies: the value counter that
 * runs before parsing, jansson's parser, and the validation of every field
 * type against the collection tables (src/api/body.c), for every
 * collection, in create, PATCH and PUT modes, as an admin and not.
 *
 * Input: byte 0 chooses the collection (bits 0-2), the mode (bits 3-4) and
 * whether the caller is an admin (bit 5); the rest is the body.
 * Beyond the sanitizers, invariants trap when broken:
 *   - a refused body has an answer whose status is 422 and whose body is a
 *     JSON object with "detail";
 *   - an accepted body's values fit their fields: text is valid UTF-8 within
 *     its bounds, UUIDs canonical, enums from the table, integers >= their
 *     minimum, tags a sorted, de-duplicated JSON array of at most 32, nulls
 *     only where the field is nullable, admin-only fields only for admins,
 *     required fields present on create and PUT.
 *
 * Build: make build/fuzz_body (clang -fsanitize=fuzzer,address,undefined).
 */
#include "api/api.h"
#include "api/api_int.h"
#include "grammar/query.h"
#include "model/collection.h"
#include "util/buf.h"
#include "util/text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) __builtin_trap();                                                                                    \
    } while (0)

static void check_value(const struct collection *c, const struct field *f, const struct body_value *v, bool admin,
                        enum body_mode mode, const struct body *b)
{
    if (f->autofill == A_LOWER_OF) { /* derived: present exactly when its source is, lower-cased */
        const struct body_value *src = &b->v[collection_field(c, f->of, strlen(f->of)) - c->fields];
        CHECK(v->present == src->present);
        if (v->present) {
            CHECK(v->p.len == src->p.len);
            for (size_t i = 0; i < v->p.len; i++) CHECK(!(v->p.s[i] >= 'A' && v->p.s[i] <= 'Z'));
        }
        return;
    }
    if (!v->present) {
        if (mode != BODY_PATCH && (f->flags & F_REQUIRED)) CHECK(0);
        return;
    }
    CHECK(mode == BODY_CREATE ? (f->flags & F_CREATE) : (f->flags & F_PATCH));
    if (f->flags & F_ADMIN) CHECK(admin || f->default_value); /* defaults fill admin-only fields too */
    if (v->p.type == SP_NULL) {
        CHECK(f->flags & F_NULLABLE);
        return;
    }
    switch (f->type) {
    case FT_TEXT: {
        long n = utf8_count(v->p.s, v->p.len);
        CHECK(n >= f->min_len && n <= f->max_len);
        break;
    }
    case FT_EMAIL: CHECK(utf8_count(v->p.s, v->p.len) >= 3 && memchr(v->p.s, '@', v->p.len)); break;
    case FT_SLUG: CHECK(lq_valid_slug(v->p.s, v->p.len)); break;
    case FT_UUID: {
        char canon[37];
        CHECK(v->p.len == 36 && uuid_parse(v->p.s, 36, canon) && memcmp(canon, v->p.s, 36) == 0);
        break;
    }
    case FT_ENUM: {
        bool ok = false;
        for (size_t i = 0; f->enum_values[i]; i++) ok |= text_eq(v->p.s, v->p.len, f->enum_values[i]);
        CHECK(ok);
        break;
    }
    case FT_INT: CHECK(v->p.type == SP_INT && v->p.i >= f->min_int); break;
    case FT_BOOL: CHECK(v->p.type == SP_BOOL && (v->p.i == 0 || v->p.i == 1)); break;
    case FT_TIME: CHECK(v->p.type == SP_INT); break;
    case FT_TAGS: {
        json_error_t e;
        json_t *a = json_loadb(v->p.s, v->p.len, 0, &e);
        CHECK(a && json_is_array(a) && json_array_size(a) <= 32);
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *t = json_array_get(a, i);
            CHECK(json_is_string(t));
            long n = utf8_count(json_string_value(t), json_string_length(t));
            CHECK(n >= 1 && n <= 64);
            if (i) CHECK(strcmp(json_string_value(json_array_get(a, i - 1)), json_string_value(t)) < 0);
        }
        json_decref(a);
        break;
    }
    case FT_CLOCK: CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ncoll;
    if (!ncoll) {
        api_init("fuzz");
        while (collections[ncoll]) ncoll++;
    }
    if (size < 1) return 0;
    const struct collection *c = collections[(data[0] & 7) % ncoll];
    enum body_mode mode = (enum body_mode)(((data[0] >> 3) & 3) % 3);
    bool admin = (data[0] >> 5) & 1;

    struct request *r = xcalloc(1, sizeof *r);
    buf_init(&r->body);
    buf_init(&r->out);
    buf_append(&r->body, data + 1, size - 1);
    struct ctx x = {.r = r, .who = {.is_admin = admin}};
    memcpy(x.who.user_id, "01a20788-c194-7077-96e7-55331570bca8", 37);

    struct body b;
    if (body_parse(&x, c, mode, &b) == 0) {
        CHECK(!r->responded);
        for (size_t i = 0; i < c->nfields; i++) check_value(c, &c->fields[i], &b.v[i], admin, mode, &b);
    } else {
        CHECK(r->responded && r->status == 422);
        json_error_t e;
        json_t *j = json_loadb(r->out.data, r->out.len, 0, &e);
        CHECK(j && json_is_object(j) && json_object_get(j, "detail"));
        json_decref(j);
    }
    body_free(&b);
    buf_free(&r->body);
    buf_free(&r->out);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r);
    return 0;
}
