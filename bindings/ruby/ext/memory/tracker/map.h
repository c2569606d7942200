/* A small open-addressing hash map from a two-word key to a word, for the extension's tables
 * (classes, frames, per-object states). It allocates with malloc only, never through Ruby, so
 * the allocation hooks can use it while the garbage collector runs. */
#ifndef MT_RB_MAP_H
#define MT_RB_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mt_rb_map_entry_s {
    uint64_t k1; /* 0: an empty slot (never a Ruby heap object, never a valid key) */
    uint64_t k2;
    uint64_t value;
} mt_rb_map_entry_t;

typedef struct mt_rb_map_s {
    mt_rb_map_entry_t *slots;
    size_t mask; /* slots - 1; 0 with no slots yet */
    size_t count;
} mt_rb_map_t;

/* The entry for (k1, k2), or NULL. k1 must not be 0. */
mt_rb_map_entry_t *mt__rb_map_find(const mt_rb_map_t *m, uint64_t k1, uint64_t k2);

/* Sets (k1, k2) to value, adding the entry when needed. Returns false when memory ran out
 * (the map is then unchanged). */
bool mt__rb_map_put(mt_rb_map_t *m, uint64_t k1, uint64_t k2, uint64_t value);

/* Removes (k1, k2); returns true and its value in *value (may be NULL) when it was there. */
bool mt__rb_map_remove(mt_rb_map_t *m, uint64_t k1, uint64_t k2, uint64_t *value);

/* Empties the map, keeping its slots. */
void mt__rb_map_clear(mt_rb_map_t *m);

/* Frees the slots. */
void mt__rb_map_free(mt_rb_map_t *m);

/* Calls fn for every entry; fn may change k1, k2 and value (the map is rebuilt afterwards,
 * so keys may change: this is how keys follow objects that the GC moved). Entries whose k1
 * fn sets to 0 are dropped. Returns false when memory ran out while rebuilding; every entry
 * is then still there, but some under their old keys. */
bool mt__rb_map_rekey(mt_rb_map_t *m, void (*fn)(mt_rb_map_entry_t *e, void *ctx), void *ctx);

#endif
