/*
 * vclock — vector clocks: a map from node id to a counter (CONTRACT.md §6).
 *
 * Stored and rendered in one canonical JSON form (keys in byte order, no
 * spaces), so the same clock always has the same text.  Node ids match
 * [A-Za-z0-9_.:-]{1,64}; counters are 0..2^53-1; at most 64 entries.
 *
 * An ETag is the same clock in a form that may stand inside an HTTP
 * entity-tag: `"node=counter;node=counter"`, entries in byte order of the
 * node id (node ids hold neither '=' nor ';' nor '"').  So the same clock
 * gives the same ETag bytes on every server, and an ETag converts back to
 * exactly the clock it came from.
 */
#ifndef FM_VCLOCK_H
#define FM_VCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VCLOCK_MAX 64
#define VCLOCK_MAX_COUNTER 9007199254740991LL
/* What a client's clock may bring into a stored one (write_lock_item):
 * counters up to 2^32 (a server whose entry a client raised that far still
 * has 2^53 - 2^32 writes to count), and new entries up to 48 of the 64 (the
 * last 16 are for servers' own first writes of the item). */
#define VCLOCK_CLIENT_MAX_COUNTER 4294967296LL
#define VCLOCK_CLIENT_MAX 48
/* The longest ETag: 64 entries of a 64-byte id, '=', 16 digits, ';'. */
#define VCLOCK_ETAG_MAX (2 + VCLOCK_MAX * (64 + 1 + 16 + 1))

struct buf;

struct vclock {
    int n;
    struct {
        char node[65];
        int64_t counter;
    } e[VCLOCK_MAX]; /* sorted by node id, no duplicates */
};

/* How two clocks relate. */
enum vc_order {
    VC_EQUAL,      /* the same clock */
    VC_BEFORE,     /* a < b: b has seen every write a has, and more */
    VC_AFTER,      /* a > b */
    VC_CONCURRENT, /* neither has seen all of the other */
};

bool vclock_valid_node(const char *s, size_t n);
/* Parses clock JSON text; false if it is not a valid clock (bad JSON, not an
 * object, duplicate keys, a bad node id, a counter that is not an integer in
 * 0..2^53-1, more than 64 entries). */
bool vclock_parse(const char *s, size_t n, struct vclock *out);
/* Adds one to node's entry (creating it).  false if the clock is full or
 * the counter would pass the maximum (c is then unchanged). */
bool vclock_tick(struct vclock *c, const char *node);
/* Canonical JSON. */
void vclock_render(const struct vclock *c, struct buf *b);

/* Compares a with b (missing entries count as 0). */
enum vc_order vclock_compare(const struct vclock *a, const struct vclock *b);
/* a := pointwise max(a, b).  false if the result would hold more than
 * VCLOCK_MAX entries (a is then unchanged). */
bool vclock_merge(struct vclock *a, const struct vclock *b);

/* Appends the ETag, quotes included. */
void vclock_etag(const struct vclock *c, struct buf *b);
/* Parses the inside of a strong ETag (without the quotes) back into a
 * clock; false if it is not one this server makes. */
bool vclock_from_etag(const char *s, size_t n, struct vclock *out);

#endif
