/* The call tree (calltree.h). Nodes live in 1 MiB chunks that never move, so a node id read
 * once stays valid. The index from (parent, frame) to child is an open-addressing table that
 * readers probe without a lock: a slot's child id is published last, with release, after its
 * key. Writers hold the tree lock; a full index is replaced by a larger copy and the old one
 * is kept (readers may still be probing it: a miss there sends them to the locked path). */
#include "core/calltree.h"

#include "core/arena.h"

typedef struct slot_s {
    uint64_t frame;
    uint32_t parent;
    _Atomic uint32_t child; /* 0: empty (the root is never a child) */
} slot_t;

struct mt_itable_s {
    uint32_t mask;
    uint32_t used;
    slot_t slots[];
};

#define FIRST_INDEX 1024u

static inline uint64_t hash_edge(uint32_t parent, uint64_t frame)
{
    uint64_t h = (frame ^ ((uint64_t)parent << 32 | parent)) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static mt_itable_t *index_new(uint32_t nslots)
{
    mt_itable_t *ix = mt__arena_alloc(sizeof(mt_itable_t) + sizeof(slot_t) * nslots);
    if (ix) ix->mask = nslots - 1;
    return ix;
}

int mt__tree_init(mt_tree_t *t)
{
    t->chunks[0] = mt__arena_alloc(sizeof(mt_node_t) << MT_NODE_CHUNK_BITS);
    mt_itable_t *ix = index_new(FIRST_INDEX);
    if (!t->chunks[0] || !ix) return -1;
    t->index_bytes = sizeof(mt_itable_t) + sizeof(slot_t) * FIRST_INDEX;
    mt_store_release(&t->index, ix);
    mt_store_release(&t->count, 1); /* the root, frame 0, parent 0 */
    return 0;
}

void mt__tree_destroy(mt_tree_t *t)
{
    for (unsigned i = 0; i < MT_NODE_DIR && t->chunks[i]; i++)
        mt__arena_free(t->chunks[i], sizeof(mt_node_t) << MT_NODE_CHUNK_BITS);
    /* Index tables (and retired ones) stay in the arena: destroy is for tests only. */
}

/* Probes `ix` for the child (parent, frame); 0 when absent. Lock-free. */
static uint32_t index_find(const mt_itable_t *ix, uint32_t parent, uint64_t frame)
{
    for (uint64_t i = hash_edge(parent, frame);; i++) {
        const slot_t *s = &ix->slots[i & ix->mask];
        uint32_t child = mt_load_acquire(&((slot_t *)s)->child);
        if (child == 0) return 0;
        if (s->frame == frame && s->parent == parent) return child;
    }
}

static void index_put(mt_itable_t *ix, uint32_t parent, uint64_t frame, uint32_t child)
{
    for (uint64_t i = hash_edge(parent, frame);; i++) {
        slot_t *s = &ix->slots[i & ix->mask];
        if (mt_load_relaxed(&s->child) == 0) { /* relaxed: writers are serialized by the lock */
            s->frame = frame;
            s->parent = parent;
            mt_store_release(&s->child, child);
            ix->used++;
            return;
        }
    }
}

/* Doubles the index when it is 5/8 full; with the lock held. False without memory. */
static bool index_reserve(mt_tree_t *t)
{
    mt_itable_t *ix = mt_load_relaxed(&t->index); /* relaxed: we hold the lock */
    if ((uint64_t)(ix->used + 1) * 8 <= (uint64_t)(ix->mask + 1) * 5) return true;
    uint32_t n = (ix->mask + 1) * 2;
    mt_itable_t *nx = n ? index_new(n) : NULL;
    if (!nx) return false;
    for (uint32_t i = 0; i <= ix->mask; i++) {
        uint32_t child = mt_load_relaxed(&ix->slots[i].child); /* relaxed: under the lock */
        if (child) index_put(nx, ix->slots[i].parent, ix->slots[i].frame, child);
    }
    t->index_bytes += sizeof(mt_itable_t) + sizeof(slot_t) * n;
    mt_store_release(&t->index, nx);
    return true;
}

/* Creates the child (parent, frame) unless another thread just did; with the lock held.
 * Returns 0 without memory. */
static uint32_t create_child(mt_tree_t *t, uint32_t parent, uint64_t frame)
{
    uint32_t child = index_find(mt_load_relaxed(&t->index), parent, frame); /* relaxed: lock */
    if (child) return child;
    uint32_t id = mt_load_relaxed(&t->count); /* relaxed: only writers, under the lock, change it */
    uint32_t chunk = id >> MT_NODE_CHUNK_BITS;
    if (chunk >= MT_NODE_DIR || !index_reserve(t)) return 0;
    if (!t->chunks[chunk]) {
        t->chunks[chunk] = mt__arena_alloc(sizeof(mt_node_t) << MT_NODE_CHUNK_BITS);
        if (!t->chunks[chunk]) return 0;
    }
    mt_node_t *n = &t->chunks[chunk][id & ((1u << MT_NODE_CHUNK_BITS) - 1)];
    n->frame = frame;
    n->parent = parent;
    /* The node is complete before its id can be seen, through the count or the index. */
    mt_store_release(&t->count, id + 1);
    index_put(mt_load_relaxed(&t->index), parent, frame, id); /* relaxed: under the lock */
    return id;
}

uint32_t mt__tree_intern(mt_tree_t *t, const uint64_t *frames, unsigned n, uint32_t self,
                         bool *truncated)
{
    return mt__tree_intern_from(t, 0, frames, n, self, truncated);
}

uint32_t mt__tree_intern_from(mt_tree_t *t, uint32_t from, const uint64_t *frames, unsigned n,
                              uint32_t self, bool *truncated)
{
    uint32_t node = from;
    for (unsigned i = n; i-- > 0;) {
        uint32_t child = index_find(mt_load_acquire(&t->index), node, frames[i]);
        if (!child) {
            mt_lock(&t->lock, self);
            child = create_child(t, node, frames[i]);
            mt_unlock(&t->lock);
            if (!child) {
                *truncated = true;
                return node;
            }
        }
        node = child;
    }
    return node;
}

bool mt__tree_matches(const mt_tree_t *t, uint32_t id, const uint64_t *frames, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (id == 0) return false;
        const mt_node_t *nd = mt__tree_node(t, id);
        if (nd->frame != frames[i]) return false;
        id = nd->parent;
    }
    return id == 0;
}

uint64_t mt__tree_memory(const mt_tree_t *t)
{
    uint64_t chunks = (mt__tree_count(t) >> MT_NODE_CHUNK_BITS) + 1;
    return chunks * (sizeof(mt_node_t) << MT_NODE_CHUNK_BITS) + t->index_bytes;
}

void mt__tree_fork_prepare(mt_tree_t *t)
{
    mt_lock(&t->lock, UINT32_MAX - 2);
}

void mt__tree_fork_release(mt_tree_t *t)
{
    mt_unlock(&t->lock);
}
