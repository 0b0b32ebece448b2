/*
 * fuzz_http — libFuzzer target for the HTTP request parser (src/http/parse.c):
 * the head whole and byte by byte (the incremental scan must agree with
 * the parser), then what follows it as a chunked body, whole and in
 * pieces (both must decode the same bytes).  Invariants are asserted: a
 * parsed head lies inside the input, and its fields inside the head.
 */
#include "http/parse.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_head h;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    int rc = http_parse_head(in, size, &h);
    if (rc > 0) {
        assert((size_t)rc <= size);
        assert(h.method_len > 0 && h.target_len > 0);
        for (int i = 0; i < h.nfields; i++) {
            assert(h.fields[i].name >= in && h.fields[i].name + h.fields[i].name_len <= in + rc);
            assert(h.fields[i].value >= in && h.fields[i].value + h.fields[i].value_len <= in + rc);
            assert(memchr(h.fields[i].value, 0, h.fields[i].value_len) == NULL);
        }
        assert(!(h.chunked && h.content_length >= 0));
        /* the route starts inside the target; "*" only for OPTIONS; no fragment */
        assert(h.path_off <= h.target_len);
        assert(!h.asterisk || (h.target_len == 1 && h.method_len == 7));
        assert(memchr(h.target, '#', h.target_len) == NULL);
        assert(h.path_off || h.asterisk || h.target[0] == '/');
        /* the scan finds the end no later than the parser's */
        struct http_scan sc = {0};
        bool ready = false;
        for (size_t n = 0; n <= (size_t)rc && !ready; n++) ready = http_head_ready(&sc, in, n);
        assert(ready);
    }
    size_t off = rc > 0 ? (size_t)rc : 0;
    struct http_chunked a = {0}, b = {0};
    struct buf oa, ob;
    buf_init(&oa);
    buf_init(&ob);
    size_t used;
    int ra = http_chunked_feed(&a, in + off, size - off, &used, &oa, 4096);
    size_t pos = off;
    int rb = 0;
    while (pos < size && rb == 0) {
        size_t step = 1 + (size_t)(data[pos] % 7);
        if (step > size - pos) step = size - pos;
        rb = http_chunked_feed(&b, in + pos, step, &used, &ob, 4096);
        pos += used;
    }
    assert(ra == rb);
    if (ra >= 0) assert(oa.len == ob.len && (oa.len == 0 || memcmp(oa.data, ob.data, oa.len) == 0));
    assert(oa.len <= 4096);
    buf_free(&oa);
    buf_free(&ob);
    return 0;
}
