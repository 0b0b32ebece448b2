/*
 * test_clock — vector clocks (parse, compare, merge, canonical form and
 * ETags) and the conditional headers built on them (If-Match,
 * If-None-Match).
 */
#include "tests.h"

#include "api/precond.h"
#include "util/buf.h"
#include "util/vclock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static struct vclock vc(const char *json)
{
    struct vclock c;
    assert_true(vclock_parse(json, strlen(json), &c));
    return c;
}

static void assert_render(const struct vclock *c, const char *want)
{
    struct buf b;
    buf_init(&b);
    vclock_render(c, &b);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void parse_canonical(void **state)
{
    (void)state;
    struct vclock c = vc("{ \"b\" : 2, \"a\":1 }");
    assert_render(&c, "{\"a\":1,\"b\":2}");
    c = vc("{}");
    assert_int_equal(c.n, 0);
    c = vc("{\"a\":0,\"b\":3}"); /* a zero entry is no entry */
    assert_render(&c, "{\"b\":3}");
    c = vc("{\"n.1:x_y-Z\":9007199254740991}");
    assert_int_equal(c.e[0].counter, 9007199254740991LL);
}

static void parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "[]", "1", "null", "{", "{\"a\":-1}", "{\"a\":1.5}", "{\"a\":\"1\"}", "{\"a\":9007199254740992}",
        "{\"a\":1,\"a\":2}", "{\"\":1}", "{\"a b\":1}", "{\"a\\\"\":1}", "{\"a=\":1}", "{\"a;\":1}",
        "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}", /* 65 */
        "{\"a\":true}", "{\"a\":null}", "{\"a\":1e3}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct vclock c;
        if (vclock_parse(bad[i], strlen(bad[i]), &c)) fail_msg("accepted %s", bad[i]);
        assert_int_equal(c.n, 0);
    }
    /* 64 entries are fine, 65 are not */
    struct buf b;
    buf_init(&b);
    buf_putc(&b, '{');
    for (int i = 0; i < 65; i++) buf_printf(&b, "%s\"n%02d\":1", i ? "," : "", i);
    buf_putc(&b, '}');
    struct vclock c;
    assert_false(vclock_parse(b.data, b.len, &c));
    buf_reset(&b);
    buf_putc(&b, '{');
    for (int i = 0; i < 64; i++) buf_printf(&b, "%s\"n%02d\":1", i ? "," : "", i);
    buf_putc(&b, '}');
    assert_true(vclock_parse(b.data, b.len, &c));
    assert_int_equal(c.n, 64);
    assert_false(vclock_tick(&c, "zz")); /* full: no 65th */
    assert_int_equal(c.n, 64);
    assert_true(vclock_tick(&c, "n07"));
    buf_free(&b);
}

static void compare(void **state)
{
    (void)state;
    struct vclock a = vc("{\"a\":1,\"b\":2}"), b = vc("{\"a\":1,\"b\":3}"), c = vc("{\"a\":2,\"b\":1}"),
                  e = vc("{}"), d = vc("{\"b\":2,\"a\":1}"), f = vc("{\"a\":1,\"b\":2,\"c\":1}");
    assert_int_equal(vclock_compare(&a, &d), VC_EQUAL);
    assert_int_equal(vclock_compare(&a, &b), VC_BEFORE);
    assert_int_equal(vclock_compare(&b, &a), VC_AFTER);
    assert_int_equal(vclock_compare(&b, &c), VC_CONCURRENT);
    assert_int_equal(vclock_compare(&e, &a), VC_BEFORE);
    assert_int_equal(vclock_compare(&e, &e), VC_EQUAL);
    assert_int_equal(vclock_compare(&a, &f), VC_BEFORE); /* a missing entry counts as 0 */
    assert_int_equal(vclock_compare(&f, &b), VC_CONCURRENT);
}

static void merge_and_tick(void **state)
{
    (void)state;
    struct vclock a = vc("{\"a\":1,\"c\":5}"), b = vc("{\"a\":3,\"b\":2}");
    assert_true(vclock_merge(&a, &b));
    assert_render(&a, "{\"a\":3,\"b\":2,\"c\":5}");
    assert_true(vclock_tick(&a, "b"));
    assert_true(vclock_tick(&a, "0"));
    assert_render(&a, "{\"0\":1,\"a\":3,\"b\":3,\"c\":5}");
    struct vclock m = vc("{\"a\":9007199254740991}");
    assert_false(vclock_tick(&m, "a"));
    /* a merge past 64 entries is refused and leaves the clock as it was */
    struct vclock x = {0}, y = {0};
    char node[16];
    for (int i = 0; i < 40; i++) snprintf(node, sizeof node, "x%02d", i), assert_true(vclock_tick(&x, node));
    for (int i = 0; i < 40; i++) snprintf(node, sizeof node, "y%02d", i), assert_true(vclock_tick(&y, node));
    assert_false(vclock_merge(&x, &y));
    assert_int_equal(x.n, 40);
}

static void etags(void **state)
{
    (void)state;
    struct vclock a = vc("{\"node-b\":12,\"node:a\":3}"), back;
    struct buf b;
    buf_init(&b);
    vclock_etag(&a, &b);
    assert_string_equal(b.data, "\"node-b=12;node:a=3\"");
    assert_true(vclock_from_etag(b.data + 1, b.len - 2, &back));
    assert_int_equal(vclock_compare(&a, &back), VC_EQUAL);
    static const char *const bad[] = {"a", "a=", "=1", "a=01", "a=-1", "a=1;", ";a=1", "b=1;a=1", "a=1;a=2",
                                      "a=0", "a=99999999999999999", "a b=1", "a=1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vclock_from_etag(bad[i], strlen(bad[i]), &back)) fail_msg("accepted ETag %s", bad[i]);
    buf_free(&b);
}

static void if_match(void **state)
{
    (void)state;
    struct precond p;
    const struct vclock *use;
    struct vclock s = vc("{\"a\":2,\"b\":1}");
    precond_parse_if_match(NULL, &p);
    assert_false(p.present);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    precond_parse_if_match(" * ", &p);
    assert_true(p.any);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    precond_parse_if_match("\"a=2;b=1\"", &p);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    assert_non_null(use);
    precond_parse_if_match("\"a=3;b=1\"", &p); /* the client saw more: applies, merged */
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    precond_parse_if_match("\"a=1;b=1\"", &p);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_STALE);
    precond_parse_if_match("\"a=1;b=2\"", &p);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_CONCURRENT);
    precond_parse_if_match("{\"b\":1,\"a\":2}", &p); /* FireMode v1: bare JSON */
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    precond_parse_if_match("W/\"a=2;b=1\"", &p); /* weak never satisfies */
    assert_false(p.invalid);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_STALE);
    precond_parse_if_match("\"a=1;b=1\", W/\"a=2;b=1\", \"a=2;b=1\"", &p);
    assert_int_equal(p.n, 2);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    precond_parse_if_match("\"a=1;b=1\", \"a=1;b=2\"", &p);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_CONCURRENT);
    /* a tag ahead of S before the one equal to it: the equal one is used */
    precond_parse_if_match("\"a=9;b=1\", \"a=2;b=1\"", &p);
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    assert_ptr_equal(use, &p.c[1]);
    precond_parse_if_match("\"a=3;b=1\", \"a=9;b=1\"", &p); /* none equal: the first that applies */
    assert_int_equal(precond_check(&p, &s, &use), PRECOND_APPLY);
    assert_ptr_equal(use, &p.c[0]);
    static const char *const bad[] = {"", "garbage", "\"a=x\"", "{\"a\":-1}", "{bad", "\"a=1\" \"b=1\"",
                                      "\"unterminated", "\"a=1\",,x", "{\"a\":1.5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        precond_parse_if_match(bad[i], &p);
        if (!p.invalid) fail_msg("If-Match %s not invalid", bad[i]);
    }
}

static void if_none_match(void **state)
{
    (void)state;
    struct vclock s = vc("{\"a\":2}");
    assert_true(precond_if_none_match("\"a=2\"", &s));
    assert_true(precond_if_none_match("W/\"a=2\"", &s)); /* weak comparison */
    assert_true(precond_if_none_match("\"a=1\", \"a=2\"", &s));
    assert_true(precond_if_none_match("*", &s));
    assert_false(precond_if_none_match("\"a=1\"", &s));
    assert_false(precond_if_none_match("junk", &s));
    assert_false(precond_if_none_match("", &s));
}

static void response_headers(void **state);

int test_clock_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_canonical), cmocka_unit_test(parse_rejects), cmocka_unit_test(compare),
        cmocka_unit_test(merge_and_tick),  cmocka_unit_test(etags),         cmocka_unit_test(if_match),
        cmocka_unit_test(if_none_match),   cmocka_unit_test(response_headers),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}

/* ---- response headers (src/http): no silent limit, set twice = replaced ---- */
#include "http/http.h"
#include <stdlib.h>
#include <strings.h>

static const char *hdr(const struct request *r, const char *name, int *count)
{
    const char *v = NULL;
    *count = 0;
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) v = r->headers[i].value, (*count)++;
    return v;
}

static void response_headers(void **state)
{
    (void)state;
    struct request r;
    memset(&r, 0, sizeof r);
    static const char *const names[] = {"ETag", "Location", "Link", "Retry-After", "Allow", "Content-Type",
                                        "WWW-Authenticate", "Vary", "X-One", "X-Two", "X-Three", "X-Four"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) resp_header(&r, names[i], "v1");
    resp_header(&r, "etag", "\"a=2\"");      /* replaced, not repeated */
    resp_header(&r, "Retry-After", "3");
    int n;
    assert_int_equal(r.nheaders, (int)(sizeof names / sizeof names[0]));
    assert_string_equal(hdr(&r, "ETag", &n), "\"a=2\"");
    assert_int_equal(n, 1);
    assert_string_equal(hdr(&r, "Retry-After", &n), "3");
    assert_string_equal(hdr(&r, "X-Four", &n), "v1"); /* the twelfth survives */
    for (int i = 0; i < r.nheaders; i++) free(r.headers[i].name), free(r.headers[i].value);
    free(r.headers);
}
