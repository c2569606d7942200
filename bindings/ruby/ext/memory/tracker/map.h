/* A small open-addressing hash map from a two-word key to a word, for the extension's tables
 * (classes, frames, per-object states). It allocates with malloc only, never through Ruby, so
 * the allocation hooks can use it while the garbage collector runs. */
#ifndef RT_MAP_H
#define RT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_map_entry_s {
    uint64_t k1; /* 0: an empty slot (never a Ruby heap object, never a valid key) */
    uint64_t k2;
    uint64_t value;
} rt_map_entry_t;

typedef struct rt_map_s {
    rt_map_entry_t *slots;
    size_t mask; /* slots - 1; 0 with no slots yet */
    size_t count;
} rt_map_t;

/* The entry for (k1, k2), or NULL. k1 must not be 0. */
rt_map_entry_t *rt_map_find(const rt_map_t *m, uint64_t k1, uint64_t k2);

/* Sets (k1, k2) to value, adding the entry when needed. Returns false when memory ran out
 * (the map is then unchanged). */
bool rt_map_put(rt_map_t *m, uint64_t k1, uint64_t k2, uint64_t value);

/* Removes (k1, k2); returns true and its value in *value (may be NULL) when it was there. */
bool rt_map_remove(rt_map_t *m, uint64_t k1, uint64_t k2, uint64_t *value);

/* Empties the map, keeping its slots. */
void rt_map_clear(rt_map_t *m);

/* Frees the slots. */
void rt_map_free(rt_map_t *m);

/* Calls fn for every entry; fn may change k1, k2 and value (the map is rebuilt afterwards,
 * so keys may change: this is how keys follow objects that the GC moved). Entries whose k1
 * fn sets to 0 are dropped. Returns false when memory ran out while rebuilding; every entry
 * is then still there, but some under their old keys. */
bool rt_map_rekey(rt_map_t *m, void (*fn)(rt_map_entry_t *e, void *ctx), void *ctx);

#endif
