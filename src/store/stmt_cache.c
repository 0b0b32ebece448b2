/*
 * stmt_cache — a small array of entries kept compact (the n used entries
 * first), scanned by hash, with a use counter for LRU.  A connection sees a
 * few dozen SQL shapes, so the scan is short and costs far less than the
 * prepare it saves.
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
    size_t n; /* entries in use: e[0..n) */
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

/* Frees entry e and moves the last used entry into its place. */
static void drop(struct stmt_cache *c, struct entry *e, int free_handle)
{
    if (free_handle && c->free_fn) c->free_fn(c->ctx, e->handle);
    free(e->sql);
    struct entry *last = &c->e[c->n - 1];
    if (e != last) *e = *last;
    memset(last, 0, sizeof *last);
    c->n--;
}

void stmt_cache_clear(struct stmt_cache *c)
{
    if (!c) return;
    while (c->n) drop(c, &c->e[c->n - 1], 1);
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
    for (size_t i = 0; i < c->n; i++) {
        struct entry *e = &c->e[i];
        if (e->hash == h && strcmp(e->sql, sql) == 0) return e;
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
    if (c->n == c->cap) {
        struct entry *lru = &c->e[0];
        for (size_t i = 1; i < c->n; i++)
            if (c->e[i].used < lru->used) lru = &c->e[i];
        drop(c, lru, 1);
    }
    struct entry *victim = &c->e[c->n++];
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
