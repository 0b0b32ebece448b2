/*
 * test_parse — the HTTP request parser (src/http/parse.c) against tables of
 * whole, partial and broken requests, in the manner of picohttpparser's
 * test.c: every request is also fed in every prefix, which must say "more"
 * (or fail the same way), never succeed early or read past the end.
 */
#include "tests.h"

#include "http/parse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct head_case {
    const char *name;
    const char *req;
    size_t len; /* 0: strlen(req) */
    int want;   /* > 0: complete (the head's length is checked), 0: incomplete, < 0: -status */
    int64_t content_length;
    bool chunked, keep_alive;
};

#define OK 1
static const struct head_case heads[] = {
    {"simple", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, OK, -1, false, true},
    {"1.0 closes", "GET / HTTP/1.0\r\n\r\n", 0, OK, -1, false, false},
    {"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, OK, -1, false, true},
    {"1.1 close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\n\r\n", 0, OK, -1, false, false},
    {"content-length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", 0, OK, 12, false, true},
    {"chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", 0, OK, -1, true, true},
    {"ows trimmed", "GET / HTTP/1.1\r\nHost:\t x \t\r\nContent-Length:  3 \r\n\r\n", 0, OK, 3, false, true},
    {"empty value", "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n", 0, OK, -1, false, true},
    {"host with port", "GET / HTTP/1.1\r\nHost: api-1.example.com:8080\r\n\r\n", 0, OK, -1, false, true},
    {"host ipv6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0, OK, -1, false, true},
    {"host empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, OK, -1, false, true},
    {"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, -400, -1, false, true},
    {"host with userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 0, -400, -1, false, true},
    {"obs-text value", "GET / HTTP/1.1\r\nHost: x\r\nX: caf\xc3\xa9\r\n\r\n", 0, OK, -1, false, true},
    {"absolute-form", "GET http://api.example.com:8080/me?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, OK, -1, false, true},
    {"absolute-form https, upper scheme", "GET HTTPS://[::1]/me HTTP/1.1\r\nHost: x\r\n\r\n", 0, OK, -1, false, true},
    {"absolute-form, empty path", "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", 0, OK, -1, false, true},
    {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0, OK, -1, false, true},
    {"huge length saturates", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0,
     OK, -2, false, true},
    /* incomplete */
    {"empty", "", 0, 0, 0, false, false},
    {"line only", "GET / HTTP/1.1\r\n", 0, 0, 0, false, false},
    {"no blank line", "GET / HTTP/1.1\r\nHost: x\r\n", 0, 0, 0, false, false},
    {"half CRLF", "GET / HTTP/1.1\r\nHost: x\r\n\r", 0, 0, 0, false, false},
    /* request line */
    {"garbage", "GARBAGE\r\n\r\n", 0, -400, 0, false, false},
    {"no target", "GET\r\n\r\n", 0, -400, 0, false, false},
    {"0.9", "GET /\r\n\r\n", 0, -400, 0, false, false},
    {"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"extra", "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"bad proto", "GET / FOO/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"lowercase proto", "GET / http/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 0, -505, 0, false, false},
    {"1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 0, -505, 0, false, false},
    {"NUL in target", "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n", 31, -400, 0, false, false},
    {"NUL in method", "GE\0T / HTTP/1.1\r\nHost: x\r\n\r\n", 29, -400, 0, false, false},
    {"fragment", "GET /me#top HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"fragment alone", "GET # HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"relative target", "GET me HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"other scheme", "GET ftp://h/me HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"absolute, no host", "GET http:///me HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"absolute, userinfo", "GET http://u@h/me HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"scheme alone", "GET http: HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"asterisk for GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"asterisk and more", "OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"control in target", "GET /\x1b HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"bare LF line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    {"CR in method", "G\rET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, -400, 0, false, false},
    /* fields */
    {"no colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 0, -400, 0, false, false},
    {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, -400, 0, false, false},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 0, -400, 0, false, false},
    {"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n", 35, -400, 0, false, false},
    {"NUL in name", "GET / HTTP/1.1\r\nHost: x\r\nA\0: b\r\n\r\n", 34, -400, 0, false, false},
    {"bare LF field", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n", 0, -400, 0, false, false},
    {"bare CR field", "GET / HTTP/1.1\r\nHost: x\rA: b\r\n\r\n", 0, -400, 0, false, false},
    {"no host", "GET / HTTP/1.1\r\n\r\n", 0, -400, 0, false, false},
    {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, -400, 0, false, false},
    /* framing: refused, never guessed */
    {"two CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 0, -400, 0, false, false},
    {"CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n", 0, -400, 0, false, false},
    {"CL sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n", 0, -400, 0, false, false},
    {"CL negative", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 0, -400, 0, false, false},
    {"CL hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x1\r\n\r\n", 0, -400, 0, false, false},
    {"CL empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 0, -400, 0, false, false},
    {"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -400, 0,
     false, false},
    {"TE and CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 0, -400, 0,
     false, false},
    {"TE gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 0, -501, 0, false, false},
    {"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, -501, 0, false,
     false},
    {"TE chunked, identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 0, -501, 0,
     false, false},
    {"TE twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
     -501, 0, false, false},
    {"TE empty", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", 0, -400, 0, false, false},
    {"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -400, 0, false, false},
    {"expect other", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 0, -417, 0, false, false},
};

static void test_heads(void **state)
{
    (void)state;
    static struct http_head h;
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        const struct head_case *t = &heads[i];
        size_t len = t->len ? t->len : strlen(t->req);
        /* an exact-size copy, so ASan catches any read past the end */
        char *buf = malloc(len ? len : 1);
        memcpy(buf, t->req, len);
        int rc = http_parse_head(buf, len, &h);
        if (t->want == OK) {
            if (rc != (int)len) fail_msg("%s: want %zu, got %d (%s)", t->name, len, rc, h.error ? h.error : "");
            if (t->content_length == -2) assert_true(h.content_length > HTTP_MAX_LINE);
            else if (h.content_length != t->content_length) fail_msg("%s: content length", t->name);
            if (h.chunked != t->chunked || h.keep_alive != t->keep_alive) fail_msg("%s: framing", t->name);
            /* every prefix is incomplete */
            for (size_t n = 0; n < len; n++)
                if (http_parse_head(buf, n, &h) != 0) fail_msg("%s: prefix %zu not incomplete", t->name, n);
        } else if (rc != t->want) {
            fail_msg("%s: want %d, got %d", t->name, t->want, rc);
        } else if (rc < 0) {
            assert_non_null(h.error);
            /* a prefix either waits or fails the same way */
            for (size_t n = 0; n < len; n++) {
                int p = http_parse_head(buf, n, &h);
                if (p > 0) fail_msg("%s: prefix %zu succeeded", t->name, n);
            }
        }
        free(buf);
    }
}

static void test_fields_and_values(void **state)
{
    (void)state;
    static struct http_head h;
    const char *req = "PATCH /x?y=1 HTTP/1.1\r\nHost: h\r\nX-Request-Id:  abc \r\nauthorization: Bearer t\r\n\r\nBODY";
    int rc = http_parse_head(req, strlen(req), &h);
    assert_int_equal(rc, (int)(strlen(req) - 4));
    assert_int_equal(h.method_len, 5);
    assert_memory_equal(h.method, "PATCH", 5);
    assert_int_equal(h.target_len, 6);
    assert_memory_equal(h.target, "/x?y=1", 6);
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.nfields, 3);
    size_t n;
    const char *v = http_head_field(&h, "x-request-id", &n);
    assert_non_null(v);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "abc", 3);
    v = http_head_field(&h, "Authorization", &n);
    assert_int_equal(n, 8);
    assert_null(http_head_field(&h, "Cookie", &n));
}

static void test_request_line_error_keeps_fields(void **state)
{
    (void)state;
    static struct http_head h;
    const char *req = "GET /me HTTP/2.0\r\nHost: x\r\nX-Request-Id: r1\r\n\r\n";
    assert_int_equal(http_parse_head(req, strlen(req), &h), -505);
    size_t n;
    const char *v = http_head_field(&h, "X-Request-Id", &n);
    assert_non_null(v);
    assert_memory_equal(v, "r1", 2);
    assert_memory_equal(h.method, "GET", 3);
}

/* Where the route starts in each form of target, and the log's view of a refused one */
static void test_target_forms(void **state)
{
    (void)state;
    static struct http_head h;
    static const struct {
        const char *req;
        size_t path_off;
        bool asterisk;
    } forms[] = {
        {"GET /me?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, false},
        {"GET http://h:1/me?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", 10, false},
        {"GET hTTpS://h.example HTTP/1.1\r\nHost: x\r\n\r\n", 17, false},
        {"GET http://h?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", 8, false},
        {"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0, true},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int rc = http_parse_head(forms[i].req, strlen(forms[i].req), &h);
        if (rc <= 0) fail_msg("%s: %d (%s)", forms[i].req, rc, h.error ? h.error : "");
        if (h.path_off != forms[i].path_off || h.asterisk != forms[i].asterisk)
            fail_msg("%s: path_off %zu, asterisk %d", forms[i].req, h.path_off, h.asterisk);
    }
    /* a refused target keeps the method, the target for the log and the fields for the answer */
    const char *req = "GET /me#top HTTP/1.1\r\nHost: x\r\nX-Request-Id: r2\r\n\r\n";
    assert_int_equal(http_parse_head(req, strlen(req), &h), -400);
    assert_non_null(strstr(h.error, "fragment"));
    assert_int_equal(h.target_len, 7);
    assert_memory_equal(h.target, "/me#top", 7);
    size_t n;
    assert_non_null(http_head_field(&h, "X-Request-Id", &n));
    req = "GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(http_parse_head(req, strlen(req), &h), -400);
    assert_memory_equal(h.target, "ftp://h/", 8);
}

static void test_limits(void **state)
{
    (void)state;
    static struct http_head h;
    struct http_scan sc = {0};
    /* a request line that never ends */
    size_t big = HTTP_MAX_LINE + 10;
    char *buf = malloc(big + 64);
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', big - 5);
    assert_true(http_head_ready(&sc, buf, big));
    assert_int_equal(http_parse_head(buf, big, &h), -414);
    /* fields that never end */
    const char *line = "GET / HTTP/1.1\r\nX: ";
    size_t ll = strlen(line);
    size_t big2 = ll + HTTP_MAX_FIELD_BYTES + 100;
    buf = realloc(buf, big2);
    memcpy(buf, line, ll);
    memset(buf + ll, 'b', big2 - ll);
    memset(&sc, 0, sizeof sc);
    bool ready = false;
    size_t n = 1;
    for (; n <= big2 && !ready; n += 10) ready = http_head_ready(&sc, buf, n);
    assert_true(ready);
    assert_int_equal(http_parse_head(buf, n, &h), -431);
    free(buf);
    /* too many fields */
    char many[HTTP_MAX_FIELDS * 8 + 64];
    size_t k = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_FIELDS; i++) k += (size_t)snprintf(many + k, sizeof many - k, "A: b\r\n");
    k += (size_t)snprintf(many + k, sizeof many - k, "\r\n");
    assert_int_equal(http_parse_head(many, k, &h), -431);
}

static void test_scan_is_incremental(void **state)
{
    (void)state;
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
    struct http_scan sc = {0};
    size_t end = strlen(req) - 4;
    for (size_t n = 0; n < end; n++) assert_false(http_head_ready(&sc, req, n));
    assert_true(http_head_ready(&sc, req, end));
}

struct chunk_case {
    const char *name;
    const char *in;
    int want; /* 1 done, 0 more, < 0 -status */
    const char *body;
};

static const struct chunk_case chunks[] = {
    {"one", "5\r\nhello\r\n0\r\n\r\n", 1, "hello"},
    {"two", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 1, "abcde"},
    {"hex upper", "A\r\n0123456789\r\n0\r\n\r\n", 1, "0123456789"},
    {"extension", "3;name=v\r\nabc\r\n0\r\n\r\n", 1, "abc"},
    {"space before extension", "3 \t;name=v\r\nabc\r\n0\r\n\r\n", 1, "abc"},
    {"space after size", "3 \r\nabc\r\n0\r\n\r\n", 1, "abc"},
    {"digits after a space", "2 5\r\nab\r\n0\r\n\r\n", -400, ""},
    {"trailer", "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 1, "abc"},
    {"two trailers", "3\r\nabc\r\n0\r\nX-T: 1\r\nX-U:\r\n\r\n", 1, "abc"},
    {"trailer with no colon", "3\r\nabc\r\n0\r\nX-T 1\r\n\r\n", -400, "abc"},
    {"trailer with no name", "3\r\nabc\r\n0\r\n: 1\r\n\r\n", -400, "abc"},
    {"space before a trailer's colon", "3\r\nabc\r\n0\r\nX-T : 1\r\n\r\n", -400, "abc"},
    {"folded trailer", "3\r\nabc\r\n0\r\nX-T: 1\r\n 2\r\n\r\n", -400, "abc"},
    {"bare LF after a trailer", "3\r\nabc\r\n0\r\nX-T: 1\n\r\n", -400, "abc"},
    {"leading zeros", "0003\r\nabc\r\n0\r\n\r\n", 1, "abc"},
    {"empty", "0\r\n\r\n", 1, ""},
    {"partial", "5\r\nhel", 0, "hel"},
    {"no size", "\r\n", -400, ""},
    {"bad digit", "zz\r\n", -400, ""},
    {"negative", "-1\r\n", -400, ""},
    {"LF only", "5\nhello\r\n0\r\n\r\n", -400, ""},
    {"data too long", "5\r\nhelloX\r\n", -400, "hello"},
    {"huge size", "FFFFFFFFFFFFFFFF\r\n", -413, ""},
    {"over max", "401\r\n", -413, ""},
    {"NUL in extension", "3;a\0\r\nabc\r\n0\r\n\r\n", -400, ""},
};

static void test_chunked(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        const struct chunk_case *t = &chunks[i];
        size_t len = strlen(t->in);
        if (strcmp(t->name, "NUL in extension") == 0) len = 18;
        /* whole, then byte by byte: the same answer */
        for (int mode = 0; mode < 2; mode++) {
            struct http_chunked c = {0};
            struct buf out;
            buf_init(&out);
            int rc = 0;
            size_t off = 0;
            while (off < len && rc == 0) {
                size_t used, n = mode ? 1 : len - off;
                rc = http_chunked_feed(&c, t->in + off, n, &used, &out, 1024);
                off += used;
            }
            if (rc != t->want) fail_msg("%s (mode %d): want %d, got %d", t->name, mode, t->want, rc);
            if (rc >= 0 && (out.len != strlen(t->body) || memcmp(out.data ? out.data : "", t->body, out.len) != 0))
                fail_msg("%s: body", t->name);
            buf_free(&out);
        }
    }
    /* the trailer lines' bound, CRLFs included: 8 lines of 1024 bytes
     * ("X:" and 1020 bytes of value, CRLF) are in; one byte more is not */
    for (int extra = 0; extra < 2; extra++) {
        struct buf in;
        buf_init(&in);
        buf_puts(&in, "0\r\n");
        for (int line = 0; line < 8; line++) {
            buf_puts(&in, "X:");
            for (int k = 0; k < 1020 + (line == 7 ? extra : 0); k++) buf_putc(&in, 'v');
            buf_puts(&in, "\r\n");
        }
        buf_puts(&in, "\r\n");
        _Static_assert(HTTP_MAX_TRAILERS == 8 * 1024, "the case above is made for this bound");
        struct http_chunked c = {0};
        struct buf out;
        buf_init(&out);
        size_t used;
        assert_int_equal(http_chunked_feed(&c, in.data, in.len, &used, &out, 1024), extra ? -400 : 1);
        buf_free(&out);
        buf_free(&in);
    }
    /* what follows the body is left for the next request */
    struct http_chunked c = {0};
    struct buf out;
    buf_init(&out);
    const char *in = "1\r\na\r\n0\r\n\r\nGET /";
    size_t used;
    assert_int_equal(http_chunked_feed(&c, in, strlen(in), &used, &out, 1024), 1);
    assert_int_equal(used, strlen(in) - 5);
    buf_free(&out);
}

int test_parse_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_fields_and_values),
        cmocka_unit_test(test_request_line_error_keeps_fields),
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_scan_is_incremental),
        cmocka_unit_test(test_chunked),
    };
    return cmocka_run_group_tests_name("http parse", tests, NULL, NULL);
}
