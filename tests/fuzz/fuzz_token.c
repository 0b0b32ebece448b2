/*
 * fuzz_token — libFuzzer target for what clients send back to us as opaque
 * or conditional values: cursor and feed tokens (token_decode), If-Match
 * and If-None-Match values (precond), vector clocks and ETags.
 *
 * The first input byte picks what the rest is fed to.  Invariants (a
 * violation traps):
 *   - token_decode never accepts bytes it did not make: a decoded token
 *     re-encodes to exactly the input; positions are ordered (xmin <= xip <
 *     xmax, ascending), counts within bounds;
 *   - a token made from fuzzed fields decodes back to the same fields;
 *   - If-Match: an invalid value has no clocks, a valid one at most
 *     PRECOND_MAX_TAGS; every parsed clock is canonical (renders, re-parses
 *     equal; its ETag converts back to it); precond_check is total;
 *   - vclock_compare is antisymmetric, merge is an upper bound of both.
 */
#include "api/precond.h"
#include "grammar/token.h"
#include "util/buf.h"
#include "util/vclock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) __builtin_trap();                                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[32] = "fuzzing-key-fuzzing-key-fuzzing-";

static void check_clock(const struct vclock *c)
{
    struct buf b;
    struct vclock back;
    buf_init(&b);
    CHECK(c->n >= 0 && c->n <= VCLOCK_MAX);
    for (int i = 0; i < c->n; i++) {
        CHECK(c->e[i].counter >= 1 && c->e[i].counter <= VCLOCK_MAX_COUNTER);
        CHECK(vclock_valid_node(c->e[i].node, strlen(c->e[i].node)));
        if (i) CHECK(strcmp(c->e[i - 1].node, c->e[i].node) < 0);
    }
    vclock_render(c, &b);
    CHECK(vclock_parse(b.data, b.len, &back) && vclock_compare(c, &back) == VC_EQUAL);
    buf_reset(&b);
    vclock_etag(c, &b);
    CHECK(b.len <= VCLOCK_ETAG_MAX && b.data[0] == '"' && b.data[b.len - 1] == '"');
    CHECK(vclock_from_etag(b.data + 1, b.len - 2, &back) && vclock_compare(c, &back) == VC_EQUAL);
    buf_free(&b);
}

static void check_pos(const struct wpos *p)
{
    CHECK(p->xmin >= 0 && p->xmin <= p->xmax && p->nxip >= 0 && p->nxip <= WPOS_MAX_XIP);
    for (int i = 0; i < p->nxip; i++) {
        CHECK(p->xip[i] >= p->xmin && p->xip[i] < p->xmax);
        if (i) CHECK(p->xip[i - 1] < p->xip[i]);
    }
}

static void fuzz_decode(const char *s, size_t n)
{
    struct token t;
    if (!token_decode(s, n, key, &t)) return;
    check_pos(&t.s);
    if (t.has_end) check_pos(&t.e);
    CHECK(t.nkeys >= 0 && t.nkeys <= TOKEN_MAX_KEYS);
    struct buf b;
    buf_init(&b);
    token_encode(&t, key, &b);
    CHECK(b.len == n && memcmp(b.data, s, n) == 0); /* only what we made */
    buf_free(&b);
    token_free(&t);
}

/* A token built from the input's bytes must round-trip. */
static void fuzz_encode(const uint8_t *d, size_t n)
{
    struct token t, back;
    memset(&t, 0, sizeof t);
    uint64_t v[4] = {0};
    for (size_t i = 0; i < n && i < 32; i++) v[i / 8] = (v[i / 8] << 8) | d[i];
    t.kind = (v[0] & 1) ? TOKEN_CURSOR : TOKEN_FEED;
    t.coll = (int)(v[0] >> 1 & 7);
    t.admin = v[0] >> 4 & 1;
    memcpy(t.user, "0190c0de-0000-7000-8000-00000000bbbb", 37);
    if (v[0] >> 5 & 1) memcpy(t.scope, "0190c0de-0000-7000-8000-00000000aaaa", 37);
    t.s.xmin = (int64_t)(v[1] >> 2);
    t.s.xmax = t.s.xmin + (int64_t)(v[2] & 0xffff);
    for (int64_t x = t.s.xmin; x < t.s.xmax && t.s.nxip < (int)(v[2] >> 16 & 31); x += 1 + (int64_t)(v[3] & 7))
        t.s.xip[t.s.nxip++] = x;
    const char *rest = n > 32 ? (const char *)d + 32 : "";
    size_t rn = n > 32 ? n - 32 : 0;
    if (t.kind == TOKEN_CURSOR) {
        t.page = (int64_t)(v[3] >> 1);
        t.query = rest, t.query_len = rn / 2;
        t.nkeys = (int)(v[3] >> 40 & 3) + 1;
        for (int k = 0; k < t.nkeys; k++) {
            t.keys[k].null = (v[3] >> (50 + k)) & 1;
            t.keys[k].s = rest + rn / 2, t.keys[k].len = t.keys[k].null ? 0 : rn - rn / 2;
        }
    } else {
        t.has_end = v[3] & 1;
        t.e = t.s;
        t.has_last = v[3] >> 1 & 1;
        t.last_seq = (int64_t)(v[3] >> 2);
        t.last_pk = rest, t.last_pk_len = rn;
    }
    struct buf b;
    buf_init(&b);
    token_encode(&t, key, &b);
    if (b.len <= TOKEN_MAX_LEN) {
        CHECK(token_decode(b.data, b.len, key, &back));
        CHECK(back.kind == t.kind && back.coll == t.coll && back.admin == t.admin && back.s.xmin == t.s.xmin &&
              back.s.xmax == t.s.xmax && back.s.nxip == t.s.nxip && strcmp(back.scope, t.scope) == 0);
        if (t.kind == TOKEN_CURSOR)
            CHECK(back.page == t.page && back.nkeys == t.nkeys && back.query_len == t.query_len);
        else
            CHECK(back.has_end == t.has_end && back.has_last == t.has_last &&
                  (!t.has_last || back.last_pk_len == t.last_pk_len));
        token_free(&back);
    }
    buf_free(&b);
}

static void fuzz_if_match(const char *s)
{
    struct precond p;
    precond_parse_if_match(s, &p);
    CHECK(p.present);
    CHECK(p.n >= 0 && p.n <= PRECOND_MAX_TAGS);
    if (p.invalid) CHECK(p.n == 0 && !p.any);
    for (int i = 0; i < p.n; i++) check_clock(&p.c[i]);
    struct vclock stored = {0};
    vclock_tick(&stored, "node-a");
    const struct vclock *use;
    enum precond_result r = precond_check(&p, &stored, &use);
    CHECK(r == PRECOND_APPLY || r == PRECOND_STALE || r == PRECOND_CONCURRENT);
    if (r == PRECOND_APPLY && use) CHECK(vclock_compare(&stored, use) != VC_AFTER);
    for (int i = 0; i + 1 < p.n; i++) {
        enum vc_order a = vclock_compare(&p.c[i], &p.c[i + 1]), b = vclock_compare(&p.c[i + 1], &p.c[i]);
        CHECK((a == VC_EQUAL) == (b == VC_EQUAL) && (a == VC_BEFORE) == (b == VC_AFTER) &&
              (a == VC_CONCURRENT) == (b == VC_CONCURRENT));
        struct vclock m = p.c[i];
        if (vclock_merge(&m, &p.c[i + 1])) {
            check_clock(&m);
            enum vc_order o1 = vclock_compare(&p.c[i], &m), o2 = vclock_compare(&p.c[i + 1], &m);
            CHECK((o1 == VC_BEFORE || o1 == VC_EQUAL) && (o2 == VC_BEFORE || o2 == VC_EQUAL));
        }
    }
    (void)precond_if_none_match(s, &stored);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    char *s = malloc(size); /* NUL-terminated copy of the rest: headers are C strings */
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0: fuzz_decode(s, size - 1); break;
    case 1: fuzz_encode(data + 1, size - 1); break;
    case 2:
        if (!memchr(s, '\0', size - 1)) fuzz_if_match(s);
        break;
    case 3: {
        struct vclock c;
        if (vclock_parse(s, size - 1, &c)) check_clock(&c);
        if (vclock_from_etag(s, size - 1, &c)) check_clock(&c);
        break;
    }
    }
    free(s);
    return 0;
}
