/*
 * stmt_cache — an open-addressing-free design: a small array scanned by
 * hash, with a use counter for LRU.  Capacities are a few hundred at most, so
 * a linear scan of hashes costs less than the prepared statement saves.
 */
#include "stmt_cache.h"

#include "../util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint64_t hash;
    uint64_t used; /* 0 = free slot */
    char *sql;
    void *handle;
};

struct stmt_cache {
    struct entry *e;
    size_t cap;
    uint64_t tick;
    unsigned long ids;
    stmt_free_fn free_fn;
    void *ctx;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct stmt_cache *stmt_cache_new(size_t capacity, stmt_free_fn free_fn, void *ctx)
{
    struct stmt_cache *c = xcalloc(1, sizeof *c);
    c->cap = capacity ? capacity : 1;
    c->e = xcalloc(c->cap, sizeof *c->e);
    c->free_fn = free_fn;
    c->ctx = ctx;
    return c;
}

static void drop(struct stmt_cache *c, struct entry *e, int free_handle)
{
    if (free_handle && c->free_fn) c->free_fn(c->ctx, e->handle);
    free(e->sql);
    memset(e, 0, sizeof *e);
}

void stmt_cache_clear(struct stmt_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++)
        if (c->e[i].used) drop(c, &c->e[i], 1);
}

void stmt_cache_free(struct stmt_cache *c)
{
    if (!c) return;
    stmt_cache_clear(c);
    free(c->e);
    free(c);
}

static struct entry *find(struct stmt_cache *c, const char *sql)
{
    uint64_t h = hash_str(sql);
    for (size_t i = 0; i < c->cap; i++) {
        struct entry *e = &c->e[i];
        if (e->used && e->hash == h && strcmp(e->sql, sql) == 0) return e;
    }
    return NULL;
}

void *stmt_cache_get(struct stmt_cache *c, const char *sql)
{
    struct entry *e = find(c, sql);
    if (!e) return NULL;
    e->used = ++c->tick;
    return e->handle;
}

void stmt_cache_put(struct stmt_cache *c, const char *sql, void *handle)
{
    struct entry *victim = NULL;
    for (size_t i = 0; i < c->cap; i++) {
        struct entry *e = &c->e[i];
        if (!e->used) {
            victim = e;
            break;
        }
        if (!victim || e->used < victim->used) victim = e;
    }
    if (victim->used) drop(c, victim, 1);
    victim->hash = hash_str(sql);
    victim->sql = xstrndup(sql, strlen(sql));
    victim->handle = handle;
    victim->used = ++c->tick;
}

void stmt_cache_forget(struct stmt_cache *c, const char *sql)
{
    struct entry *e = find(c, sql);
    if (e) drop(c, e, 0);
}

unsigned long stmt_cache_next_id(struct stmt_cache *c)
{
    return ++c->ids;
}
