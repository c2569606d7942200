/* Per-thread node figures (nodemap.h): an open-addressing table keyed by node id and owner. */
#include "core/nodemap.h"

#include "core/arena.h"

static size_t map_bytes(uint32_t n)
{
    return sizeof(mt_nodemap_t) + sizeof(mt_nstat_t) * n;
}

mt_nodemap_t *mt__nodemap_new(uint32_t n)
{
    mt_nodemap_t *m = mt__arena_alloc(map_bytes(n));
    if (m) m->mask = n - 1;
    return m;
}

void mt__nodemap_free(mt_nodemap_t *m)
{
    if (m) mt__arena_free(m, map_bytes(m->mask + 1));
}

static inline uint32_t hash_key(uint32_t node, uint32_t owner)
{
    uint64_t k = ((uint64_t)owner << 32) | node;
    return (uint32_t)((k * 0x9e3779b97f4a7c15ull) >> 32);
}

mt_nstat_t *mt__nodemap_find(mt_nodemap_t *m, uint32_t node, uint32_t owner)
{
    for (uint32_t i = hash_key(node, owner);; i++) {
        mt_nstat_t *s = &m->slots[i & m->mask];
        if (s->key == node + 1 && s->owner == owner) return s;
        if (s->key == 0) return NULL;
    }
}

mt_nstat_t *mt__nodemap_slot(mt_nodemap_t *m, uint32_t node, uint32_t owner)
{
    for (uint32_t i = hash_key(node, owner);; i++) {
        mt_nstat_t *s = &m->slots[i & m->mask];
        if (s->key == node + 1 && s->owner == owner) return s;
        if (s->key == 0) {
            if (mt__nodemap_needs_grow(m)) return NULL;
            s->owner = owner;
            s->key = node + 1;
            m->used++;
            return s;
        }
    }
}

mt_nstat_t *mt__nodemap_slot_grow(mt_nodemap_t **m, uint32_t node, uint32_t owner)
{
    mt_nstat_t *s = mt__nodemap_slot(*m, node, owner);
    if (s) return s;
    mt_nodemap_t *g = mt__nodemap_grown(*m);
    if (!g) return NULL;
    mt__nodemap_free(*m);
    *m = g;
    return mt__nodemap_slot(g, node, owner);
}

static void add_into(mt_nstat_t *d, const mt_nstat_t *s)
{
    /* Relaxed: the destination is private to the caller or guarded by its lock. */
    mt_owner_add(&d->allocations, mt_load_relaxed(&s->allocations));
    mt_owner_add(&d->bytes, mt_load_relaxed(&s->bytes));
    mt_owner_add(&d->temporary, mt_load_relaxed(&s->temporary));
    uint64_t tag = mt_load_relaxed(&s->peak_tag), dtag = mt_load_relaxed(&d->peak_tag);
    if (tag > dtag) {
        mt_store_relaxed(&d->peak_tag, tag);
        mt_store_relaxed(&d->peak_blocks, mt_load_relaxed(&s->peak_blocks));
        mt_store_relaxed(&d->peak_bytes, mt_load_relaxed(&s->peak_bytes));
    } else if (tag == dtag) {
        mt_owner_add(&d->peak_blocks, mt_load_relaxed(&s->peak_blocks));
        mt_owner_add(&d->peak_bytes, mt_load_relaxed(&s->peak_bytes));
    }
}

mt_nodemap_t *mt__nodemap_grown(const mt_nodemap_t *m)
{
    uint32_t n = (m->mask + 1) * 2;
    mt_nodemap_t *g = n ? mt__nodemap_new(n) : NULL;
    if (!g) return NULL;
    for (uint32_t i = 0; i <= m->mask; i++) {
        const mt_nstat_t *s = &m->slots[i];
        if (s->key) add_into(mt__nodemap_slot(g, s->key - 1, s->owner), s);
    }
    return g;
}

int mt__nodemap_merge(mt_nodemap_t **dst, const mt_nodemap_t *src, uint32_t self_owner)
{
    for (uint32_t i = 0; i <= src->mask; i++) {
        const mt_nstat_t *s = &src->slots[i];
        if (!s->key) continue;
        mt_nstat_t *d = mt__nodemap_slot_grow(dst, s->key - 1, s->owner ? s->owner : self_owner);
        if (!d) return -1;
        add_into(d, s);
    }
    return 0;
}
