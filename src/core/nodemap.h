/* Per-thread figures of call-tree nodes: how many allocations each call path made, their bytes,
 * how many were temporary, and what was freed after being live at the peak. A thread updates
 * its own map without atomic read-modify-write instructions; others only read it. */
#ifndef MT_CORE_NODEMAP_H
#define MT_CORE_NODEMAP_H

#include <stdint.h>

#include "core/atomics.h"

typedef struct mt_nstat_s {
    uint32_t key; /* node id + 1; 0 marks an empty slot */
    uint32_t pad;
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

/* The slot of `node`, or NULL when it is absent. */
mt_nstat_t *mt__nodemap_find(mt_nodemap_t *m, uint32_t node);

/* The slot of `node`, created if absent, or NULL when the map is full and must grow. */
mt_nstat_t *mt__nodemap_slot(mt_nodemap_t *m, uint32_t node);

/* True when one more node would make the map too full. */
static inline int mt__nodemap_needs_grow(const mt_nodemap_t *m)
{
    return (uint64_t)(m->used + 1) * 4 > (uint64_t)(m->mask + 1) * 3;
}

/* A copy of `m` twice as large, or NULL. `m` is left as it is. */
mt_nodemap_t *mt__nodemap_grown(const mt_nodemap_t *m);

/* Adds every figure of `src` into `dst` (growing *dst as needed); peak figures are kept only
 * for the latest peak tag. Returns -1 when memory ran out (some figures were not merged). */
int mt__nodemap_merge(mt_nodemap_t **dst, const mt_nodemap_t *src);

/* Records a block of `size` bytes, live at the peak whose value is `tag`, freed now. */
static inline void mt__nstat_add_peak(mt_nstat_t *s, uint64_t tag, uint64_t size)
{
    /* Relaxed stores: only the owning thread writes; readers accept a value in flight. */
    if (mt_load_relaxed(&s->peak_tag) != tag) {
        mt_store_relaxed(&s->peak_blocks, 1);
        mt_store_relaxed(&s->peak_bytes, size);
        mt_store_relaxed(&s->peak_tag, tag);
    } else {
        mt_owner_add(&s->peak_blocks, 1);
        mt_owner_add(&s->peak_bytes, size);
    }
}

#endif
