/*
 * precond — the conditional request headers of CONTRACT.md §6, as pure
 * functions over header text and clocks (no I/O; fuzzed).
 *
 * If-Match (PUT, PATCH, DELETE) is `*`, a list of entity-tags, or the clock
 * as bare JSON (FireMode v1 clients send that).  Entity-tags are compared
 * strongly (RFC 9110 §13.1.1): a weak tag W/"…" never satisfies If-Match.
 * With C a client clock and S the stored one: S <= C applies; C < S is a
 * 412; concurrent is a 409.  With several tags, one equal to S wins, else
 * the first that applies (a made-up tag before the one read cannot spoil
 * it); else any concurrent one makes it a 409, else a 412.
 *
 * If-None-Match (GET, HEAD) is `*` or a list of entity-tags, compared weakly.
 */
#ifndef FM_PRECOND_H
#define FM_PRECOND_H

#include "../util/vclock.h"

#include <stdbool.h>

#define PRECOND_MAX_TAGS 8 /* entity-tags read from one header; more is invalid */

struct precond {
    bool present;  /* If-Match was sent */
    bool invalid;  /* ... but holds no valid clock: 412 "Invalid vector clock in If-Match header" */
    bool any;      /* `*` */
    int n;         /* strong clocks given */
    struct vclock c[PRECOND_MAX_TAGS];
};

enum precond_result {
    PRECOND_APPLY,      /* go on; *use is the client's clock to merge (NULL: none) */
    PRECOND_STALE,      /* 412 */
    PRECOND_CONCURRENT, /* 409 */
};

/* Parses an If-Match value (NULL: absent).  Always fills p. */
void precond_parse_if_match(const char *h, struct precond *p);
/* Decides what a write does against stored clock s. */
enum precond_result precond_check(const struct precond *p, const struct vclock *s, const struct vclock **use);
/* true if If-None-Match value h (not NULL) matches the current clock: 304. */
bool precond_if_none_match(const char *h, const struct vclock *current);

#endif
