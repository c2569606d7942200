/* Per-thread figures of call-tree nodes: how many allocations each call path made, their bytes,
 * how many were temporary, and what was freed after being live at the peak. A thread updates
 * its own map without atomic read-modify-write instructions; others only read it.
 *
 * A slot is keyed by node and *owner*: the thread that allocated the blocks it counts, as
 * thread index + 1, or 0 for the map's own thread. A thread's map has slots of other owners
 * only for peak figures (a block of another thread's, live at the peak, freed by this one),
 * so that every figure can be given to the thread that allocated it. */
#ifndef MT_CORE_NODEMAP_H
#define MT_CORE_NODEMAP_H

#include <stdint.h>

#include "core/atomics.h"

typedef struct mt_nstat_s {
    uint32_t key;   /* node id + 1; 0 marks an empty slot */
    uint32_t owner; /* thread index + 1 of the allocating thread; 0: the map's own thread */
    _Atomic uint64_t allocations, bytes, temporary;
    /* Blocks this thread freed that were live at the global peak whose value is peak_tag. */
    _Atomic uint64_t peak_tag, peak_blocks, peak_bytes;
} mt_nstat_t;

typedef struct mt_nodemap_s {
    uint32_t mask, used;
    mt_nstat_t slots[];
} mt_nodemap_t;

/* A new empty map with room for `n` nodes (a power of two), or NULL. */
mt_nodemap_t *mt__nodemap_new(uint32_t n);
void mt__nodemap_free(mt_nodemap_t *m);

/* Owner of figures whose thread is no longer known (ended threads merged past a bound). */
#define MT_OWNER_MERGED UINT32_MAX

/* The slot of (node, owner), or NULL when it is absent. */
mt_nstat_t *mt__nodemap_find(mt_nodemap_t *m, uint32_t node, uint32_t owner);

/* The slot of (node, owner), created if absent, or NULL when the map is full and must grow. */
mt_nstat_t *mt__nodemap_slot(mt_nodemap_t *m, uint32_t node, uint32_t owner);

/* The same, growing *m when it is full (the old map is freed: only for maps no other thread
 * reads). NULL without memory. */
mt_nstat_t *mt__nodemap_slot_grow(mt_nodemap_t **m, uint32_t node, uint32_t owner);

/* True when one more node would make the map too full. */
static inline int mt__nodemap_needs_grow(const mt_nodemap_t *m)
{
    return (uint64_t)(m->used + 1) * 4 > (uint64_t)(m->mask + 1) * 3;
}

/* A copy of `m` twice as large, or NULL. `m` is left as it is. */
mt_nodemap_t *mt__nodemap_grown(const mt_nodemap_t *m);

/* Adds every figure of `src` into `dst` (growing *dst as needed); peak figures are kept only
 * for the latest peak tag. Slots of owner 0 (src's own thread) go to owner `self_owner`.
 * Returns -1 when memory ran out (some figures were not merged). */
int mt__nodemap_merge(mt_nodemap_t **dst, const mt_nodemap_t *src, uint32_t self_owner);

/* Records `blocks` blocks of `bytes` bytes, live at the peak whose value is `tag`, freed now. */
static inline void mt__nstat_add_peak(mt_nstat_t *s, uint64_t tag, uint64_t blocks, uint64_t bytes)
{
    /* Relaxed stores: only the owning thread writes; readers accept a value in flight. */
    if (mt_load_relaxed(&s->peak_tag) != tag) {
        mt_store_relaxed(&s->peak_blocks, blocks);
        mt_store_relaxed(&s->peak_bytes, bytes);
        mt_store_relaxed(&s->peak_tag, tag);
    } else {
        mt_owner_add(&s->peak_blocks, blocks);
        mt_owner_add(&s->peak_bytes, bytes);
    }
}

#endif
