/*
 * vclock — vector clocks: a map from node id to a counter (CONTRACT.md §6).
 *
 * Stored and rendered in one canonical JSON form (keys in byte order, no
 * spaces), so the same clock always has the same text.  Node ids match
 * [A-Za-z0-9_.:-]{1,64}; counters are 0..2^53-1; at most 64 entries.
 */
#ifndef FM_VCLOCK_H
#define FM_VCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VCLOCK_MAX 64
#define VCLOCK_MAX_COUNTER 9007199254740991LL

struct buf;

struct vclock {
    int n;
    struct {
        char node[65];
        int64_t counter;
    } e[VCLOCK_MAX];
};

bool vclock_valid_node(const char *s, size_t n);
/* Parses clock JSON text; false if it is not a valid clock. */
bool vclock_parse(const char *s, size_t n, struct vclock *out);
/* Adds one to node's entry (creating it).  false if the clock is full or
 * the counter would pass the maximum. */
bool vclock_tick(struct vclock *c, const char *node);
/* Canonical JSON. */
void vclock_render(const struct vclock *c, struct buf *b);

#endif
