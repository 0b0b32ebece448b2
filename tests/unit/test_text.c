/*
 * test_text — the pure helpers under the grammar: strict URL parsing
 * (url.c), RFC 3339 timestamps, UUIDs, UTF-8, bool/int parsing (text.c) and
 * JSON string escaping (buf.c).  Expected timestamps were computed
 * independently (Python datetime), not by the code under test.
 */
#include "tests.h"

#include "util/buf.h"
#include "util/crypto.h"
#include "util/text.h"
#include "util/url.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- url_parse ------------------------------------------------------- */

static enum url_status parse(const char *target, struct url *u)
{
    return url_parse(target, strlen(target), u);
}

static void assert_seg(const struct url *u, int i, const char *want)
{
    assert_true(i < u->nseg);
    assert_int_equal(u->seg_len[i], strlen(want));
    assert_memory_equal(u->seg[i], want, strlen(want));
    assert_int_equal(u->seg[i][u->seg_len[i]], '\0');
}

static void assert_pair(const struct url *u, int i, const char *key, const char *value)
{
    assert_true(i < u->npairs);
    assert_int_equal(u->pairs[i].key_len, strlen(key));
    assert_memory_equal(u->pairs[i].key, key, strlen(key));
    assert_int_equal(u->pairs[i].key[u->pairs[i].key_len], '\0');
    assert_int_equal(u->pairs[i].value_len, strlen(value));
    assert_memory_equal(u->pairs[i].value, value, strlen(value));
    assert_int_equal(u->pairs[i].value[u->pairs[i].value_len], '\0');
}

static void url_basic(void **state)
{
    struct url u;
    assert_int_equal(parse("/workspaces/0190c0de-0000-7000-8000-000000000001/documents?page=2&sort=-created_at", &u),
                     URL_OK);
    assert_int_equal(u.nseg, 3);
    assert_seg(&u, 0, "workspaces");
    assert_seg(&u, 1, "0190c0de-0000-7000-8000-000000000001");
    assert_seg(&u, 2, "documents");
    assert_false(u.trailing_slash);
    assert_int_equal(u.npairs, 2);
    assert_pair(&u, 0, "page", "2");
    assert_pair(&u, 1, "sort", "-created_at");
    url_free(&u);
    assert_null(u.arena);
    url_free(&u); /* idempotent */
}

static void url_root_and_trailing_slash(void **state)
{
    struct url u;
    assert_int_equal(parse("/", &u), URL_OK);
    assert_int_equal(u.nseg, 0);
    assert_int_equal(u.npairs, 0);
    url_free(&u);

    assert_int_equal(parse("/users/", &u), URL_OK);
    assert_int_equal(u.nseg, 1);
    assert_seg(&u, 0, "users");
    assert_true(u.trailing_slash);
    url_free(&u);

    assert_int_equal(parse("/users", &u), URL_OK);
    assert_int_equal(u.nseg, 1);
    assert_false(u.trailing_slash);
    url_free(&u);

    assert_int_equal(parse("/users/?page=1", &u), URL_OK);
    assert_int_equal(u.nseg, 1);
    assert_true(u.trailing_slash);
    assert_int_equal(u.npairs, 1);
    assert_pair(&u, 0, "page", "1");
    url_free(&u);

    assert_int_equal(parse("/?", &u), URL_OK);
    assert_int_equal(u.nseg, 0);
    assert_int_equal(u.npairs, 0);
    url_free(&u);
}

static void url_bad_encoding(void **state)
{
    static const char *const bad[] = {
        "/a?q=%zz", "/a?q=%4",  "/a?q=%",    "/a?q=%00",  "/a?q=a%0", "/a?%zz=1", "/a?k%=1",
        "/a%zz",    "/a%",      "/a%4/b",    "/a%00b",    "/a?q=%g0", "/a?q=%0g", "/%",
        "/a?x=1&q=%", "/a?q=%%41",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct url u;
        enum url_status st = parse(bad[i], &u);
        if (st != URL_BAD_ENCODING) fprintf(stderr, "input: %s -> %d\n", bad[i], (int)st);
        assert_int_equal(st, URL_BAD_ENCODING);
        url_free(&u);
    }
}

static void url_bad_path(void **state)
{
    static const char *const bad[] = {
        "", "users", "?a=1", "//", "/a//b", "/a//", "/.", "/./a", "/a/..", "/a/../b", "/a/%2e%2E", "/%2E",
        "/a%2Fb", "/a%2fb/c",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct url u;
        enum url_status st = parse(bad[i], &u);
        if (st != URL_BAD_PATH) fprintf(stderr, "input: '%s' -> %d\n", bad[i], (int)st);
        assert_int_equal(st, URL_BAD_PATH);
        url_free(&u);
    }
    /* Dots that are not whole segments are plain names. */
    struct url u;
    assert_int_equal(parse("/.a/a../...", &u), URL_OK);
    assert_int_equal(u.nseg, 3);
    assert_seg(&u, 0, ".a");
    assert_seg(&u, 1, "a..");
    assert_seg(&u, 2, "...");
    url_free(&u);
}

static void url_plus_and_percent(void **state)
{
    struct url u;
    assert_int_equal(parse("/a+b/c%20d?q=x+y%2Bz&%70age=%31&k+1=%C3%A9", &u), URL_OK);
    assert_int_equal(u.nseg, 2);
    assert_seg(&u, 0, "a+b"); /* '+' is a space only in the query */
    assert_seg(&u, 1, "c d");
    assert_int_equal(u.npairs, 3);
    assert_pair(&u, 0, "q", "x y+z");
    assert_pair(&u, 1, "page", "1");
    assert_pair(&u, 2, "k 1", "\xC3\xA9");
    url_free(&u);
}

static void url_pairs_shapes(void **state)
{
    struct url u;
    assert_int_equal(parse("/a?a=1&&b=2", &u), URL_OK);
    assert_int_equal(u.npairs, 2);
    assert_pair(&u, 0, "a", "1");
    assert_pair(&u, 1, "b", "2");
    url_free(&u);

    assert_int_equal(parse("/a?&&a=1&", &u), URL_OK);
    assert_int_equal(u.npairs, 1);
    assert_pair(&u, 0, "a", "1");
    url_free(&u);

    /* key without '=' has an empty value; '=' inside a value is kept */
    assert_int_equal(parse("/a?flag&k=&x=b=c&=v", &u), URL_OK);
    assert_int_equal(u.npairs, 4);
    assert_pair(&u, 0, "flag", "");
    assert_pair(&u, 1, "k", "");
    assert_pair(&u, 2, "x", "b=c");
    assert_pair(&u, 3, "", "v");
    url_free(&u);

    /* repeated keys are kept in order */
    assert_int_equal(parse("/a?s=1&s=2&s=3", &u), URL_OK);
    assert_int_equal(u.npairs, 3);
    assert_pair(&u, 0, "s", "1");
    assert_pair(&u, 2, "s", "3");
    url_free(&u);
}

static void url_fragment(void **state)
{
    struct url u;
    assert_int_equal(parse("/a?b=1#frag&c=2", &u), URL_OK);
    assert_int_equal(u.npairs, 1);
    assert_pair(&u, 0, "b", "1");
    url_free(&u);

    /* A '?' after the '#' is part of the fragment, not a query. */
    assert_int_equal(parse("/a#x?b=1", &u), URL_OK);
    assert_int_equal(u.nseg, 1);
    assert_seg(&u, 0, "a");
    assert_int_equal(u.npairs, 0);
    url_free(&u);
}

static void url_limits(void **state)
{
    struct buf b;
    struct url u;

    buf_init(&b);
    for (int i = 0; i < URL_MAX_SEGMENTS; i++) buf_puts(&b, "/s");
    assert_int_equal(url_parse(b.data, b.len, &u), URL_OK);
    assert_int_equal(u.nseg, URL_MAX_SEGMENTS);
    url_free(&u);
    buf_puts(&b, "/s");
    assert_int_equal(url_parse(b.data, b.len, &u), URL_TOO_MANY);
    url_free(&u);
    buf_free(&b);

    buf_init(&b);
    buf_puts(&b, "/a?");
    for (int i = 0; i < URL_MAX_PAIRS; i++) buf_printf(&b, "%sk%d=%d", i ? "&" : "", i, i);
    assert_int_equal(url_parse(b.data, b.len, &u), URL_OK);
    assert_int_equal(u.npairs, URL_MAX_PAIRS);
    assert_pair(&u, URL_MAX_PAIRS - 1, "k63", "63");
    url_free(&u);
    buf_puts(&b, "&one=more");
    assert_int_equal(url_parse(b.data, b.len, &u), URL_TOO_MANY_PAIRS);
    url_free(&u);
    buf_free(&b);
}

static void url_not_nul_terminated(void **state)
{
    /* The target is pointer + length: bytes after n must not be read. */
    char *t = malloc(8);
    memcpy(t, "/a?q=%4", 7);
    struct url u;
    assert_int_equal(url_parse(t, 7, &u), URL_BAD_ENCODING);
    url_free(&u);
    memcpy(t, "/a?q=xy", 7);
    assert_int_equal(url_parse(t, 7, &u), URL_OK);
    assert_pair(&u, 0, "q", "xy");
    url_free(&u);
    free(t);
}

static void url_decode_direct(void **state)
{
    char out[32];
    size_t n = 99;
    assert_true(url_decode(S("a%41+%7e"), false, out, &n));
    assert_int_equal(n, 4);
    assert_string_equal(out, "aA+~");
    assert_true(url_decode(S("a%41+%7e"), true, out, &n));
    assert_string_equal(out, "aA ~");
    assert_true(url_decode("", 0, true, out, &n));
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    assert_false(url_decode(S("%"), true, out, &n));
    assert_false(url_decode(S("ab%4"), true, out, &n));
    assert_false(url_decode(S("%00"), true, out, &n));
    assert_false(url_decode(S("%G1"), true, out, &n));
    assert_true(url_decode(S("%ff%FF"), true, out, &n));
    assert_int_equal(n, 2);
    assert_int_equal((unsigned char)out[0], 0xFF);
}

/* ---- timestamps ------------------------------------------------------ */

static void assert_time(const char *s, int64_t want)
{
    int64_t got = 12345;
    bool ok = time_parse(s, strlen(s), &got);
    if (!ok || got != want) fprintf(stderr, "time_parse(%s) = %d, %lld\n", s, ok, (long long)got);
    assert_true(ok);
    assert_int_equal(got, want);
}

static void assert_bad_time(const char *s)
{
    int64_t got;
    bool ok = time_parse(s, strlen(s), &got);
    if (ok) fprintf(stderr, "time_parse(%s) accepted: %lld\n", s, (long long)got);
    assert_false(ok);
}

static void time_parse_forms(void **state)
{
    assert_time("1970-01-01T00:00:00Z", 0);
    assert_time("1970-01-01", 0);
    assert_time("2025-03-01T09:30:00Z", 1740821400000000);
    assert_time("2025-03-01T09:30:00z", 1740821400000000);
    assert_time("2025-03-01t09:30:00Z", 1740821400000000);
    assert_time("2025-03-01 09:30:00Z", 1740821400000000);
    assert_time("2025-03-01T09:30:00", 1740821400000000);   /* naive: UTC */
    assert_time("2025-03-01T09:30", 1740821400000000);      /* seconds optional */
    assert_time("2025-03-01T11:30:00+02:00", 1740821400000000);
    assert_time("2025-03-01T09:30:00+00:00", 1740821400000000);
    assert_time("2025-03-01T09:30:00-00:00", 1740821400000000);
    assert_time("2025-03-01T09:30:00-05:30", 1740841200000000);
    assert_time("2025-03-01T00:00:00+01:00", 1740783600000000); /* crosses to Feb 28 */
    assert_time("2025-03-01", 1740787200000000);
    assert_time("2025-03-01T00:00:00.000000Z", 1740787200000000);
}

static void time_parse_fractions(void **state)
{
    assert_time("1970-01-01T00:00:00.5Z", 500000);
    assert_time("1970-01-01T00:00:00.000001Z", 1);
    assert_time("1970-01-01T00:00:00.123456Z", 123456);
    assert_time("1970-01-01T00:00:00.1234567Z", 123456);
    assert_time("1970-01-01T00:00:00.123456999Z", 123456);
    assert_time("1970-01-01T00:00:00.9999999999+00:00", 999999);
    assert_time("1970-01-01T00:00:00.0000009Z", 0);
    assert_time("1970-01-01T00:00:01.25", 1250000);
    assert_bad_time("1970-01-01T00:00:00.Z");
    assert_bad_time("1970-01-01T00:00:00.");
    assert_bad_time("1970-01-01T00:00.5Z"); /* a fraction needs seconds */
}

static void time_parse_range(void **state)
{
    assert_time("1969-12-31T23:59:59.999999Z", -1);
    assert_time("1969-07-20T20:17:40Z", -14182940000000);
    assert_time("1900-01-01", -2208988800000000);
    assert_time("0001-01-01T00:00:00Z", -62135596800000000);
    assert_time("9999-12-31T23:59:59.999999Z", 253402300799999999);
    assert_time("2024-02-29T12:00:00.5Z", 1709208000500000);
    assert_time("2000-02-29", 951782400000000);
}

/* An unescaped '+' in a query string arrives as a space: " HH:MM" right
 * after a time is read as "+HH:MM"; nothing else with a space is. */
static void time_parse_space_for_plus(void **state)
{
    assert_time("2025-03-01T09:30:00 01:00", 1740817800000000); /* = 08:30:00Z */
    assert_time("2025-03-01T10:30:00 01:00", 1740821400000000);
    assert_time("2025-03-01T09:30 01:00", 1740817800000000);
    assert_time("2025-03-01T09:30:00.5 01:00", 1740817800500000);
    assert_time("2025-03-01 11:30:00 02:00", 1740821400000000); /* space separator too */
    assert_time("2025-03-01T00:30:00 01:00", 1740785400000000); /* to the day before */
    static const char *const bad[] = {
        "2025-03-01T09:30:00 ",       "2025-03-01T09:30:00  01:00", "2025-03-01T09:30:00 1:00",
        "2025-03-01T09:30:00 0100",   "2025-03-01T09:30:00 01",     "2025-03-01T09:30:00 24:00",
        "2025-03-01T09:30:00 01:00 ", "2025-03-01T09:30:00 -01:00",
        "2025-03-01T09:30:00 +01:00", "2025-03-01T09:30:00 Z",      "2025-03-01T09:30:00 01:60",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_bad_time(bad[i]);
}

static void time_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "", "garbage", "2025", "2025-03", "2025-3-1", "2025-03-1", "25-03-01", "2025/03/01",
        "2025-02-30", "2025-02-29", "1900-02-29", "2025-04-31", "2025-13-01", "2025-00-10", "2025-01-00",
        "2025-01-32", "0000-01-01", "2025-03-01T", "2025-03-01T9:30", "2025-03-01T09", "2025-03-01T09:3",
        "2025-03-01T24:00:00", "2025-03-01T23:60", "2025-03-01T23:59:60", "2025-03-01T10:00:00+2:00",
        "2025-03-01T10:00:00+0200", "2025-03-01T10:00:00+02", "2025-03-01T10:00:00+24:00",
        "2025-03-01T10:00:00+02:60", "2025-03-01T10:00:00Zjunk", "2025-03-01T10:00:00ZZ",
        "2025-03-01T10:00:00 Z", "2025-03-01Z", "2025-03-01+02:00", "2025-03-01 ", " 2025-03-01",
        "2025-03-01X10:00", "2025-03-01T10:00:00.1234567890123456789012345678901234Z", "-2025-03-01",
        "2025-03-01T10:00:0", "2025-03-01T-1:00", "2025-03-01T10:-1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_bad_time(bad[i]);
    /* Not NUL-terminated: the digits after n must not be read. */
    int64_t v;
    assert_false(time_parse("2025-03-01T10:00:00Z", 12, &v));
    assert_true(time_parse("2025-03-01T10:00:00Z", 10, &v));
    assert_int_equal(v, 1740787200000000);
}

static void assert_format(int64_t us, const char *want)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, ">");
    time_format(&b, us);
    assert_string_equal(b.data + 1, want);
    assert_int_equal(b.len, strlen(want) + 1);
    int64_t back;
    assert_true(time_parse(b.data + 1, b.len - 1, &back));
    assert_int_equal(back, us);
    buf_free(&b);
}

static void time_format_roundtrip(void **state)
{
    assert_format(0, "1970-01-01T00:00:00.000000Z");
    assert_format(1, "1970-01-01T00:00:00.000001Z");
    assert_format(-1, "1969-12-31T23:59:59.999999Z");
    assert_format(-1000000, "1969-12-31T23:59:59.000000Z");
    assert_format(-999999, "1969-12-31T23:59:59.000001Z");
    assert_format(-86400000000, "1969-12-31T00:00:00.000000Z");
    assert_format(-14182940000000, "1969-07-20T20:17:40.000000Z");
    assert_format(-2208988800000000, "1900-01-01T00:00:00.000000Z");
    assert_format(-62135596800000000, "0001-01-01T00:00:00.000000Z");
    assert_format(1740821400000000, "2025-03-01T09:30:00.000000Z");
    assert_format(1709208000500000, "2024-02-29T12:00:00.500000Z");
    assert_format(951782400000000, "2000-02-29T00:00:00.000000Z");
    assert_format(253402300799999999, "9999-12-31T23:59:59.999999Z");
    /* the date kept from the time before (per thread): the same day, the
     * next, back, and a day before 1970 after one after it */
    assert_format(1740821400000000, "2025-03-01T09:30:00.000000Z");
    assert_format(1740873599999999, "2025-03-01T23:59:59.999999Z");
    assert_format(1740873600000000, "2025-03-02T00:00:00.000000Z");
    assert_format(1740821400000001, "2025-03-01T09:30:00.000001Z");
    assert_format(-1, "1969-12-31T23:59:59.999999Z");
    assert_format(-86400000000, "1969-12-31T00:00:00.000000Z");
    assert_format(-86400000001, "1969-12-30T23:59:59.999999Z");
    /* a time out of years 0..9999 takes the old form and is not kept as
     * the day before: the days around it still come out right */
    assert_format(253402214400000000, "9999-12-31T00:00:00.000000Z");
    {
        struct buf b;
        buf_init(&b);
        time_format(&b, 253402300800000000);
        assert_string_equal(b.data, "10000-01-01T00:00:00.000000Z");
        buf_reset(&b);
        time_format(&b, 253402300800000001);
        assert_string_equal(b.data, "10000-01-01T00:00:00.000001Z");
        buf_free(&b);
    }
    assert_format(253402214400000001, "9999-12-31T00:00:00.000001Z");
    assert_format(-62135596800000000, "0001-01-01T00:00:00.000000Z");
    /* days that share a slot of the per-thread day cache (16 apart) and
     * days that do not, interleaved as a page's columns are */
    for (int k = 0; k < 3; k++) {
        assert_format(1740821400000000, "2025-03-01T09:30:00.000000Z");
        assert_format(1740821400000000 + 16 * 86400000000LL, "2025-03-17T09:30:00.000000Z");
        assert_format(1740821400000000 + 86400000000LL, "2025-03-02T09:30:00.000000Z");
        assert_format(1740821400000000 - 16 * 86400000000LL, "2025-02-13T09:30:00.000000Z");
        assert_format(1740821400000000 - 15 * 86400000000LL, "2025-02-14T09:30:00.000000Z");
        assert_format(-1 - 16 * 86400000000LL, "1969-12-15T23:59:59.999999Z");
    }
    /* every day boundary of a leap year round-trips */
    for (int64_t d = -800; d < 800; d++) {
        int64_t us = (1704067200 + d * 86400) * (int64_t)1000000 + d * 7;
        struct buf b;
        buf_init(&b);
        time_format(&b, us);
        int64_t back;
        assert_true(time_parse(b.data, b.len, &back));
        assert_int_equal(back, us);
        buf_free(&b);
    }
}

/* ---- UUIDs ----------------------------------------------------------- */

static void uuid_forms(void **state)
{
    char out[37];
    memset(out, 'x', sizeof out);
    assert_true(uuid_parse(S("0190c0de-89ab-7cde-8f01-23456789abcd"), out));
    assert_string_equal(out, "0190c0de-89ab-7cde-8f01-23456789abcd");
    assert_true(uuid_parse(S("0190C0DE-89AB-7CDE-8F01-23456789ABCD"), out));
    assert_string_equal(out, "0190c0de-89ab-7cde-8f01-23456789abcd");
    assert_true(uuid_parse(S("00000000-0000-0000-0000-000000000000"), out));
    assert_string_equal(out, "00000000-0000-0000-0000-000000000000");

    static const char *const bad[] = {
        "", "0190c0de-89ab-7cde-8f01-23456789abc", "0190c0de-89ab-7cde-8f01-23456789abcde",
        "0190c0de89ab-7cde-8f01-23456789abcd0", "0190c0de-89ab-7cde-8f0123456789abcd-",
        "0190c0dg-89ab-7cde-8f01-23456789abcd", "0190c0de_89ab_7cde_8f01_23456789abcd",
        "{190c0de-89ab-7cde-8f01-23456789abcd", " 190c0de-89ab-7cde-8f01-23456789abcd",
        "0190c0de-89ab-7cde-8f01-23456789abc ", "0190c0de89ab7cde8f0123456789abcd",
        "urn:uuid:0190c0de-89ab-7cde-8f01-23456789ab",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(uuid_parse(bad[i], strlen(bad[i]), out));
}

static void uuid7_shape(void **state)
{
    char a[37], b[37], c[37];
    uuid7_new(a);
    uuid7_new(b);
    assert_int_equal(strlen(a), 36);
    assert_true(uuid_parse(a, 36, c));
    assert_string_equal(a, c); /* already canonical */
    assert_int_equal(a[14], '7'); /* version 7 */
    assert_true(strchr("89ab", a[19]) != NULL); /* RFC 4122 variant */
    assert_true(strcmp(a, b) < 0); /* time-ordered within the process */
}

/* crypto_random_fast hands small requests out of a per-thread pool: across
 * refills (5,000 x 16 bytes > 4 KiB many times) no two draws repeat, every
 * byte value turns up, and draws of every size, large ones too (straight
 * from the kernel), fill what they were asked to. */
static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void random_pool(void **state)
{
    enum { N = 5000 };
    unsigned char(*d)[16] = malloc(N * sizeof *d);
    assert_non_null(d);
    unsigned seen[256] = {0};
    for (int i = 0; i < N; i++) {
        crypto_random_fast(d[i], 16);
        for (int k = 0; k < 16; k++) seen[d[i][k]]++;
    }
    qsort(d, N, sizeof *d, cmp16);
    for (int i = 1; i < N; i++) assert_true(memcmp(d[i - 1], d[i], 16) != 0);
    for (int v = 0; v < 256; v++) assert_true(seen[v] > 0);
    free(d);
    /* the pool's bytes are wiped as they go: the next draws never hand them out again, and
     * a secret (crypto_random) never comes from it */
    unsigned char s1[32], s2[32];
    crypto_random(s1, sizeof s1), crypto_random(s2, sizeof s2);
    assert_true(memcmp(s1, s2, sizeof s1) != 0);
    for (size_t n = 1; n <= 600; n += 37) { /* ends are written: no byte left as it was */
        unsigned char a[600], b[600];
        memset(a, 0, sizeof a), memset(b, 0xFF, sizeof b);
        crypto_random_fast(a, n), crypto_random_fast(b, n);
        assert_true(memcmp(a, b, n) != 0);
        int zeros = 0, ones = 0;
        for (size_t k = 0; k < n; k++) zeros += a[k] == 0, ones += b[k] == 0xFF;
        assert_true(zeros < 8 + (int)n / 16 && ones < 8 + (int)n / 16);
        assert_int_equal(a[n < 600 ? n : 599] == 0 || n == 600, 1);
    }
}

/* ---- UTF-8 ----------------------------------------------------------- */

static void utf8_counts(void **state)
{
    assert_int_equal(utf8_count("", 0), 0);
    assert_int_equal(utf8_count(S("abc")), 3);
    assert_int_equal(utf8_count(S("\xC3\xA9")), 1);             /* é */
    assert_int_equal(utf8_count(S("\xE2\x82\xAC")), 1);         /* € */
    assert_int_equal(utf8_count(S("\xF0\x9D\x84\x9E")), 1);     /* 𝄞 */
    assert_int_equal(utf8_count(S("a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E" "b")), 5);
    assert_int_equal(utf8_count(S("\xC2\x80")), 1);             /* U+0080 */
    assert_int_equal(utf8_count(S("\xDF\xBF")), 1);             /* U+07FF */
    assert_int_equal(utf8_count(S("\xE0\xA0\x80")), 1);         /* U+0800 */
    assert_int_equal(utf8_count(S("\xED\x9F\xBF")), 1);         /* U+D7FF */
    assert_int_equal(utf8_count(S("\xEE\x80\x80")), 1);         /* U+E000 */
    assert_int_equal(utf8_count(S("\xEF\xBF\xBF")), 1);         /* U+FFFF */
    assert_int_equal(utf8_count(S("\xF0\x90\x80\x80")), 1);     /* U+10000 */
    assert_int_equal(utf8_count(S("\xF4\x8F\xBF\xBF")), 1);     /* U+10FFFF */
    assert_int_equal(utf8_count(S("\x7F")), 1);
}

static void utf8_rejects(void **state)
{
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {S("\xC0\x80")},         /* overlong NUL */
        {S("\xC1\xBF")},         /* overlong */
        {S("\xE0\x80\xAF")},     /* overlong '/' */
        {S("\xE0\x9F\xBF")},     /* overlong U+07FF */
        {S("\xF0\x80\x80\xAF")}, /* overlong */
        {S("\xF0\x8F\xBF\xBF")}, /* overlong U+FFFF */
        {S("\xED\xA0\x80")},     /* U+D800 surrogate */
        {S("\xED\xBF\xBF")},     /* U+DFFF surrogate */
        {S("\xF4\x90\x80\x80")}, /* U+110000 */
        {S("\xF5\x80\x80\x80")},
        {S("\xF8\x88\x80\x80\x80")},
        {S("\xFF")},
        {S("\xFE")},
        {S("\x80")},             /* lone continuation */
        {S("a\xBF")},
        {S("\xC3")},             /* truncated */
        {S("\xE2\x82")},
        {S("\xF0\x9D\x84")},
        {S("\xC3\x28")},         /* bad continuation */
        {S("\xE2\x28\xA1")},
        {S("\xE2\x82\x28")},
        {"a\0b", 3},             /* NUL */
        {"\0", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long c = utf8_count(bad[i].s, bad[i].n);
        if (c != -1) fprintf(stderr, "utf8 case %zu: %ld\n", i, c);
        assert_int_equal(c, -1);
    }
    /* length is authoritative: a valid prefix of a longer invalid buffer */
    assert_int_equal(utf8_count("ab\xFF", 2), 2);
}

/* ---- small text helpers ---------------------------------------------- */

static void text_helpers(void **state)
{
    const char *s = " \t\r\n\f\vab c \n";
    size_t n = strlen(s);
    text_trim(&s, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(s, "ab c", 4);
    s = "   ";
    n = 3;
    text_trim(&s, &n);
    assert_int_equal(n, 0);
    s = "";
    n = 0;
    text_trim(&s, &n);
    assert_int_equal(n, 0);

    assert_true(text_ieq(S("Created_AT"), "created_at"));
    assert_false(text_ieq(S("created_a"), "created_at"));
    assert_false(text_ieq(S("created_att"), "created_at"));
    assert_false(text_ieq(S("\xC3\x89"), "\xC3\xA9")); /* ASCII only */
    assert_true(text_eq(S("page"), "page"));
    assert_false(text_eq(S("Page"), "page"));
    assert_false(text_eq(S("pag"), "page"));
    char *l = text_ascii_lower(S("AbC-\xC3\x89Z"));
    assert_string_equal(l, "abc-\xC3\x89z");
    free(l);
}

static void bool_forms(void **state)
{
    static const char *const t[] = {"true", "TRUE", "True", "tRuE", "1", "yes", "YES", "Yes", "on", "ON", "On"};
    static const char *const f[] = {"false", "FALSE", "False", "0", "no", "NO", "No", "off", "OFF", "Off"};
    static const char *const bad[] = {"", "2", "tru", "truee", " true", "true ", "y", "n", "t", "f",
                                      "00", "01", "-1", "enabled", "nope", "of", "onn"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool b = false;
        assert_true(bool_parse(t[i], strlen(t[i]), &b));
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        bool b = true;
        assert_true(bool_parse(f[i], strlen(f[i]), &b));
        assert_false(b);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool b;
        assert_false(bool_parse(bad[i], strlen(bad[i]), &b));
    }
}

/* int_parse as it was, a digit at a time: the reference for the
 * eight-at-a-time form. */
static bool int_parse_ref(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', i = 1;
    if (i == n || n - i > 19) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return false;
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

static void assert_int_parse_as_ref(const char *s, size_t n)
{
    /* on a heap copy of exactly n bytes, so that ASan sees a read past n
     * (an eight-byte load of a shorter tail gives the right value from the
     * caller's larger buffer) */
    char *h = malloc(n ? n : 1);
    assert_non_null(h);
    memcpy(h, s, n);
    int64_t got = 7, want = 7;
    bool g = int_parse(h, n, &got), w = int_parse_ref(s, n, &want);
    free(h);
    if (g != w || (g && got != want)) fprintf(stderr, "int_parse(%.*s) n=%zu: %d %lld, want %d %lld\n", (int)n, s, n, g,
                                              (long long)got, w, (long long)want);
    assert_true(g == w);
    if (g) assert_true(got == want);
}

static void int_parse_every_byte(void **state)
{
    /* every byte value at every place of digit strings of 1..20 digits,
     * signed and not: the bytes around '0'..'9', those whose high nibble
     * is 3 (':' .. '?'), and the ones whose low nibble is a digit's */
    char s[32];
    for (size_t len = 1; len <= 20; len++) {
        for (int sign = 0; sign < 3; sign++) {
            size_t off = sign ? 1 : 0, n = off + len;
            for (size_t at = off; at < n; at++) {
                for (int c = 0; c < 256; c++) {
                    if (sign) s[0] = sign == 1 ? '-' : '+';
                    for (size_t k = off; k < n; k++) s[k] = (char)('1' + (k * 7) % 9);
                    s[at] = (char)c;
                    assert_int_parse_as_ref(s, n);
                }
            }
        }
    }
    /* random digit strings of 1..22 bytes, mostly digits, at the edges of
     * the range too */
    uint64_t x = 88172645463325252u;
    for (int round = 0; round < 200000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = 1 + x % 22;
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[k] = x % 61 == 0 ? (char)(x >> 8) : (char)('0' + (x >> 8) % 10);
        }
        if (x % 5 == 0) s[0] = '-';
        if (round % 1000 == 0) memcpy(s, "9223372036854775807", n = 19);
        if (round % 1000 == 1) memcpy(s, "-9223372036854775808", n = 20);
        if (round % 1000 == 2) memcpy(s, "9223372036854775808", n = 19);
        if (round % 1000 == 3) memcpy(s, "00000000000000000001", n = 20);
        assert_int_parse_as_ref(s, n);
    }
}

static void int_forms(void **state)
{
    static const struct {
        const char *s;
        int64_t v;
    } ok[] = {
        {"0", 0}, {"-0", 0}, {"+7", 7}, {"42", 42}, {"007", 7}, {"-1", -1},
        {"9223372036854775807", INT64_MAX}, {"-9223372036854775808", INT64_MIN},
        {"-9223372036854775807", -INT64_MAX}, {"1000000000000000000", 1000000000000000000},
    };
    static const char *const bad[] = {"", "-", "+", "1a", " 1", "1 ", "1.0", "0x10", "1e3", "--1", "+-1",
                                      "9223372036854775808", "-9223372036854775809", "18446744073709551616",
                                      "99999999999999999999", "9999999999999999999"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = 12345;
        assert_true(int_parse(ok[i].s, strlen(ok[i].s), &v));
        assert_int_equal(v, ok[i].v);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        if (int_parse(bad[i], strlen(bad[i]), &v)) fprintf(stderr, "int_parse(%s) accepted\n", bad[i]);
        assert_false(int_parse(bad[i], strlen(bad[i]), &v));
    }
}

/* ---- buf ------------------------------------------------------------- */

static void assert_json(const char *s, size_t n, const char *want)
{
    struct buf b;
    buf_init(&b);
    buf_json_str(&b, s, n);
    if (strcmp(b.data, want) != 0) fprintf(stderr, "json: got %s want %s\n", b.data, want);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    assert_true(utf8_count(b.data, b.len) >= 0);
    buf_free(&b);
}

static void json_escaping(void **state)
{
    assert_json("", 0, "\"\"");
    assert_json(S("plain/text"), "\"plain/text\"");
    assert_json(S("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_json(S("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    assert_json(S("\x01\x1f\x0b"), "\"\\u0001\\u001f\\u000b\"");
    assert_json("a\0b", 3, "\"a\\u0000b\"");
    assert_json(S("\x7f"), "\"\x7f\"");
    assert_json(S("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E"), "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E\"");
    assert_json(S("a\xFF" "b"), "\"a\\ufffdb\"");
    assert_json(S("\xC3"), "\"\\ufffd\"");                          /* truncated at the end */
    assert_json(S("\xC0\x80"), "\"\\ufffd\\ufffd\"");               /* overlong: each byte */
    assert_json(S("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");    /* surrogate */
    assert_json(S("\xF4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    assert_json(S("\xC3\"x"), "\"\\ufffd\\\"x\"");
    assert_json(S("\xE2\x82\xC3\xA9"), "\"\\ufffd\\ufffd\xC3\xA9\"");
}

/* buf_json_str against a byte-at-a-time reference, for one special (or
 * border) byte at every place of strings of every length up to three
 * words: the eight-byte scan must stop exactly where a byte needs care. */
static void json_ref(struct buf *b, const unsigned char *s, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else if (c >= 0x80) {
            buf_puts(b, "\\ufffd"); /* a lone byte >= 0x80 is never valid UTF-8 */
        } else {
            buf_putc(b, (char)c);
        }
    }
    buf_putc(b, '"');
}

static void json_escaping_every_place(void **state)
{
    const unsigned char probe[] = {0x00, 0x01, 0x1f, 0x20, 0x21, '"', '#', '[', '\\', ']', 0x7e, 0x7f, 0x80, 0xa2, 0xdc, 0xff};
    for (size_t n = 0; n <= 24; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof probe; k++) {
                unsigned char s[24];
                memset(s, 'a', sizeof s);
                s[at] = probe[k];
                if (probe[k] >= 0x20 && probe[k] != '"' && probe[k] != '\\' && probe[k] < 0x80 && at + 1 < n)
                    s[n - 1] = probe[(k + 1) % sizeof probe]; /* a plain probe: a second byte at the end */
                struct buf got, want;
                buf_init(&got);
                buf_init(&want);
                buf_json_str(&got, (const char *)s, n);
                json_ref(&want, s, n);
                if (strcmp(got.data, want.data) != 0)
                    fprintf(stderr, "json n=%zu at=%zu byte=%02x: got %s want %s\n", n, at, probe[k], got.data, want.data);
                assert_string_equal(got.data, want.data);
                assert_int_equal(got.len, want.len);
                buf_free(&got);
                buf_free(&want);
            }
        }
    }
}


/* time_format against gmtime_r (years 1..9999 and, in the old printf form,
 * beyond both ends), for random times of random days, so that the day
 * cache's slots are shared, refilled and hit in every order; each written
 * after the last into one buffer, so that it grows at every offset. */
static uint64_t rnd_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void time_ref(char *out, size_t cap, int64_t us)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    time_t t = (time_t)secs;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ", (long long)tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
}

static void time_format_random(void **state)
{
    const int64_t lo = -62135596800LL * 1000000, hi = 253402300799LL * 1000000 + 999999; /* years 1..9999 */
    const int64_t day = 86400LL * 1000000;
    uint64_t x = 88172645463325252ull;
    int64_t days[40];
    for (int i = 0; i < 40; i++) days[i] = (int64_t)(rnd_next(&x) % 40000) - 20000; /* 1915..2024, both signs */
    struct buf b, want;
    buf_init(&b);
    buf_init(&want);
    for (int i = 0; i < 200000; i++) {
        int64_t us;
        uint64_t r = rnd_next(&x);
        switch (r % 8) {
        case 0: us = lo + (int64_t)(rnd_next(&x) % (uint64_t)(hi - lo + 1)); break; /* anywhere */
        case 1: us = (r & 8 ? lo : hi) + (int64_t)(rnd_next(&x) % 3 * day) * (r & 8 ? 1 : -1); break; /* the ends */
        case 2: us = (r & 8 ? lo - 1 : hi + 1) - (int64_t)(rnd_next(&x) % (1000 * day)) * (r & 8 ? 1 : -1); break;
        case 3: us = (int64_t)(rnd_next(&x) % 4) - 2; break; /* around 0 */
        default: /* a few days, as a page's: slots shared 16 days apart */
            us = days[rnd_next(&x) % 40] * day + (int64_t)(rnd_next(&x) % (uint64_t)day);
        }
        if (i % 997 == 0) {
            buf_free(&b); /* a buffer with nothing yet, too */
            buf_reset(&want);
        }
        char ref[64];
        time_ref(ref, sizeof ref, us);
        buf_puts(&want, ref);
        time_format(&b, us);
        if (b.len != want.len || memcmp(b.data, want.data, b.len) != 0)
            fprintf(stderr, "time_format(%lld): got %s want %s\n", (long long)us,
                    b.data + (b.len > strlen(ref) ? b.len - strlen(ref) : 0), ref);
        assert_int_equal(b.len, want.len);
        assert_memory_equal(b.data, want.data, b.len);
        assert_int_equal(b.data[b.len], '\0');
        if (b.len > 4000) {
            buf_reset(&b);
            buf_reset(&want);
        }
    }
    /* the very ends of int64 (clamped), in the old form */
    char ref[64];
    buf_reset(&b);
    time_format(&b, INT64_MAX);
    time_ref(ref, sizeof ref, INT64_MAX);
    assert_string_equal(b.data, ref);
    buf_free(&b);
    buf_free(&want);
}

/* buf_json_str against the byte-wise reference, for random strings of
 * border bytes (each >= 0x80 one that never starts valid UTF-8), so that
 * several special bytes share a word, borrow chains cross it, and runs
 * end at every place. */
static void json_escaping_random(void **state)
{
    const unsigned char abc[] = {0x00, 0x01, 0x02, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c,
                                 0x5d, 0x61, 0x7e, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xc1, 0xf8, 0xff};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned char s[48];
    for (int i = 0; i < 100000; i++) {
        size_t n = rnd_next(&x) % sizeof s;
        int plain = (int)(rnd_next(&x) % 4); /* mostly plain strings, as answers are */
        for (size_t k = 0; k < n; k++) {
            uint64_t r = rnd_next(&x);
            s[k] = plain && r % 16 ? (unsigned char)(0x20 + r / 16 % 95) : abc[r / 16 % sizeof abc];
            if (s[k] == '"' || s[k] == '\\') s[k] = plain ? 'q' : s[k];
        }
        struct buf got, want;
        buf_init(&got);
        buf_init(&want);
        buf_puts(&got, "[");
        buf_puts(&want, "[");
        buf_json_str(&got, (const char *)s, n);
        json_ref(&want, s, n);
        assert_int_equal(got.len, want.len);
        assert_string_equal(got.data, want.data);
        buf_free(&got);
        buf_free(&want);
    }
}

/* base64url without padding against a bit-at-a-time reference, for every
 * length up to 64 and every byte value, and back through the decoder. */
static void b64url_ref(const unsigned char *r, size_t n, struct buf *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = ((acc << 8) | r[i]) & 0xffff;
        for (bits += 8; bits >= 6;) {
            bits -= 6;
            buf_putc(out, abc[(acc >> bits) & 63]);
        }
    }
    if (bits) buf_putc(out, abc[(acc << (6 - bits)) & 63]);
}

static void b64url_every_length(void **state)
{
    unsigned char in[64], back[64];
    for (size_t n = 0; n <= sizeof in; n++) {
        for (int round = 0; round < 8; round++) {
            for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(i * 37 + (size_t)round * 101 + n);
            if (round == 1) memset(in, 0xff, n);
            if (round == 2) memset(in, 0, n);
            struct buf got, want;
            buf_init(&got);
            buf_init(&want);
            buf_puts(&got, "x"); /* appends after what is there */
            buf_puts(&want, "x");
            crypto_b64url_encode(in, n, &got);
            b64url_ref(in, n, &want);
            assert_string_equal(got.data, want.data);
            assert_int_equal(got.len, want.len);
            size_t m = 0;
            assert_true(crypto_b64url_decode(got.data + 1, got.len - 1, back, sizeof back, &m));
            assert_int_equal(m, n);
            assert_memory_equal(back, in, n);
            buf_free(&got);
            buf_free(&want);
        }
    }
}

static void buf_basics(void **state)
{
    /* decimal digits two at a time: every length and both signs */
    int64_t v = 1;
    for (int k = 0; k < 19; k++, v = k < 19 ? v * 10 : v) {
        int64_t cases[] = {v, v - 1, v + 1, -v, -(v - 1), v <= INT64_MAX / 10 ? 10 * v - 1 : INT64_MAX, INT64_MIN};
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
            char want[32], tmp[24];
            snprintf(want, sizeof want, "%lld", (long long)cases[j]);
            char *p = i64_digits(tmp + sizeof tmp, cases[j]);
            assert_int_equal((size_t)(tmp + sizeof tmp - p), strlen(want));
            assert_memory_equal(p, want, strlen(want));
        }
    }
    struct buf b;
    buf_init(&b);
    buf_put_i64(&b, INT64_MIN);
    buf_putc(&b, ' ');
    buf_put_i64(&b, 0);
    buf_putc(&b, ' ');
    buf_put_i64(&b, -1);
    buf_putc(&b, ' ');
    buf_put_i64(&b, INT64_MAX);
    assert_string_equal(b.data, "-9223372036854775808 0 -1 9223372036854775807");
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "<%s|%d>", big, 7);
    assert_int_equal(b.len, 1003);
    assert_int_equal(b.data[0], '<');
    assert_string_equal(b.data + 1000, "|7>");
    assert_int_equal(b.data[999], 'x');
    size_t len;
    char *d = buf_steal(&b, &len);
    assert_int_equal(len, 1003);
    assert_null(b.data);
    free(d);
    d = buf_steal(&b, &len);
    assert_int_equal(len, 0);
    assert_string_equal(d, "");
    free(d);
}

/* ---- HMAC-SHA256 (precomputed key states) and SHA-256 --------------- */

static void assert_hmac(const void *key, size_t klen, const void *msg, size_t n, const char *want_hex)
{
    unsigned char mac[32];
    char hex[65];
    crypto_hmac_sha256(key, klen, msg, n, mac);
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", mac[i]);
    assert_string_equal(hex, want_hex);
}

static void hmac_vectors(void **state)
{
    /* RFC 4231 test cases 1, 2, 6 (a key longer than the block), and
     * alternating keys: the per-thread key states must follow the key */
    unsigned char k1[20], k6[131];
    memset(k1, 0x0b, sizeof k1);
    memset(k6, 0xaa, sizeof k6);
    for (int round = 0; round < 2; round++) {
        assert_hmac(k1, sizeof k1, S("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        assert_hmac(S("Jefe"), S("what do ya want for nothing?"),
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_hmac(k6, sizeof k6, S("Test Using Larger Than Block-Size Key - Hash Key First"),
                    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }
    char hex[65];
    crypto_sha256_hex(S("abc"), hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int test_text_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_basic),
        cmocka_unit_test(url_root_and_trailing_slash),
        cmocka_unit_test(url_bad_encoding),
        cmocka_unit_test(url_bad_path),
        cmocka_unit_test(url_plus_and_percent),
        cmocka_unit_test(url_pairs_shapes),
        cmocka_unit_test(url_fragment),
        cmocka_unit_test(url_limits),
        cmocka_unit_test(url_not_nul_terminated),
        cmocka_unit_test(url_decode_direct),
        cmocka_unit_test(time_parse_forms),
        cmocka_unit_test(time_parse_fractions),
        cmocka_unit_test(time_parse_range),
        cmocka_unit_test(time_parse_space_for_plus),
        cmocka_unit_test(time_parse_invalid),
        cmocka_unit_test(time_format_roundtrip),
        cmocka_unit_test(json_escaping_every_place),
        cmocka_unit_test(b64url_every_length),
        cmocka_unit_test(int_parse_every_byte),
        cmocka_unit_test(time_format_random),
        cmocka_unit_test(json_escaping_random),
        cmocka_unit_test(uuid_forms),
        cmocka_unit_test(uuid7_shape),
        cmocka_unit_test(random_pool),
        cmocka_unit_test(utf8_counts),
        cmocka_unit_test(utf8_rejects),
        cmocka_unit_test(text_helpers),
        cmocka_unit_test(bool_forms),
        cmocka_unit_test(int_forms),
        cmocka_unit_test(json_escaping),
        cmocka_unit_test(buf_basics),
        cmocka_unit_test(hmac_vectors),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
