/*
 * stmt_cache — per-connection map from SQL text to a prepared statement.
 *
 * The planner produces a small, bounded family of SQL texts (one per shape
 * of query: which filters and sorts are present, not their values), so a
 * connection prepares each shape once and reuses it.  The cache is bounded;
 * the least recently used entry is evicted through the free callback.
 */
#ifndef FM_STMT_CACHE_H
#define FM_STMT_CACHE_H

#include <stddef.h>

typedef void (*stmt_free_fn)(void *ctx, void *handle);

struct stmt_cache;

struct stmt_cache *stmt_cache_new(size_t capacity, stmt_free_fn free_fn, void *ctx);
/* NULL-safe; frees every handle. */
void stmt_cache_free(struct stmt_cache *c);
/* The handle cached for sql, or NULL.  Marks it most recently used. */
void *stmt_cache_get(struct stmt_cache *c, const char *sql);
/* Caches handle under a copy of sql (which must not be cached yet). */
void stmt_cache_put(struct stmt_cache *c, const char *sql, void *handle);
/* Forgets sql's entry without freeing its handle (e.g. after the backend
 * freed it because it went bad). */
void stmt_cache_forget(struct stmt_cache *c, const char *sql);
/* Frees every handle and empties the cache (e.g. after a reconnect). */
void stmt_cache_clear(struct stmt_cache *c);
/* A number unique among handles this cache has seen (PostgreSQL names). */
unsigned long stmt_cache_next_id(struct stmt_cache *c);

#endif
