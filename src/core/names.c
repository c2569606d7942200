/* Named blocks (names.h): a chained hash table in engine memory. */
#include "core/names.h"

#include <string.h>

#include "core/arena.h"

static uint32_t bucket(const mt_names_t *n, uint64_t addr)
{
    return (uint32_t)((addr * 0x9e3779b97f4a7c15ull) >> 32) & (n->nbuckets - 1);
}

static void grow(mt_names_t *n)
{
    uint32_t nb = n->nbuckets ? n->nbuckets * 2 : 64;
    mt_named_t **b = mt__arena_alloc(sizeof(*b) * nb);
    if (!b) return;
    mt_named_t **old = n->buckets;
    uint32_t oldn = n->nbuckets;
    n->buckets = b;
    n->nbuckets = nb;
    for (uint32_t i = 0; i < oldn; i++) {
        for (mt_named_t *e = old[i], *next; e; e = next) {
            next = e->next;
            mt_named_t **head = &n->buckets[bucket(n, e->addr)];
            e->next = *head;
            *head = e;
        }
    }
    mt__arena_free(old, sizeof(*old) * oldn);
}

static void copy(char *dst, const char *src)
{
    size_t len = src ? strnlen(src, MT_NAME_MAX) : 0;
    memcpy(dst, src ? src : "", len);
    dst[len] = '\0';
}

int mt__names_set(mt_names_t *n, uint64_t addr, const char *name, const char *file, uint32_t line,
                  uint32_t self)
{
    mt_lock(&n->lock, self);
    if (mt_load_relaxed(&n->count) >= n->nbuckets) grow(n); /* relaxed: under the lock */
    mt_named_t *e = NULL;
    if (n->nbuckets) {
        for (e = n->buckets[bucket(n, addr)]; e && e->addr != addr; e = e->next) {
        }
        if (!e && (e = n->spare ? n->spare : mt__arena_alloc(sizeof(*e)))) {
            if (e == n->spare) n->spare = e->next;
            e->addr = addr;
            e->next = n->buckets[bucket(n, addr)];
            n->buckets[bucket(n, addr)] = e;
            mt_store_relaxed(&n->count, mt_load_relaxed(&n->count) + 1);
        }
    }
    if (e) {
        copy(e->name, name);
        copy(e->file, file);
        e->line = line;
    }
    mt_unlock(&n->lock);
    return e ? 0 : -1;
}

void mt__names_forget_slow(mt_names_t *n, uint64_t addr, uint32_t self)
{
    mt_lock(&n->lock, self);
    for (mt_named_t **link = n->nbuckets ? &n->buckets[bucket(n, addr)] : NULL; link && *link;
         link = &(*link)->next) {
        if ((*link)->addr != addr) continue;
        mt_named_t *e = *link;
        *link = e->next;
        e->next = n->spare;
        n->spare = e;
        mt_store_relaxed(&n->count, mt_load_relaxed(&n->count) - 1); /* relaxed: under lock */
        break;
    }
    mt_unlock(&n->lock);
}

void mt__names_foreach(mt_names_t *n, mt_named_fn fn, void *ctx, uint32_t self)
{
    bool locked = mt_lock_unless_mine(&n->lock, self);
    for (uint32_t i = 0; i < n->nbuckets; i++)
        for (const mt_named_t *e = n->buckets[i]; e; e = e->next)
            fn(e, ctx);
    if (locked) mt_unlock(&n->lock);
}

void mt__names_clear(mt_names_t *n)
{
    for (uint32_t i = 0; i < n->nbuckets; i++) {
        while (n->buckets[i]) {
            mt_named_t *e = n->buckets[i];
            n->buckets[i] = e->next;
            e->next = n->spare;
            n->spare = e;
        }
    }
    mt_store_relaxed(&n->count, 0); /* relaxed: the engine is not in use (see clear) */
}
