/* The call tree: every call path is interned once as a chain of nodes from the root (outermost
 * frame) to a leaf (innermost frame); a path is then one 32-bit node id. Lookups take no lock;
 * only the creation of a node does. */
#ifndef MT_CORE_CALLTREE_H
#define MT_CORE_CALLTREE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/atomics.h"
#include "core/lock.h"

typedef struct mt_node_s {
    uint64_t frame;
    uint32_t parent;
    uint32_t pad;
} mt_node_t;

#define MT_NODE_CHUNK_BITS 16
#define MT_NODE_DIR        4096 /* up to 2^28 nodes */

typedef struct mt_itable_s mt_itable_t;

typedef struct mt_tree_s {
    mt_node_t *chunks[MT_NODE_DIR];
    _Atomic uint32_t count; /* nodes 0..count-1 exist; 0 is the root */
    mt_lock_t lock;         /* held to create nodes and to grow the index */
    _Atomic(mt_itable_t *) index;
    uint64_t index_bytes; /* memory of the index, including retired tables */
} mt_tree_t;

int mt__tree_init(mt_tree_t *t);
void mt__tree_destroy(mt_tree_t *t);

static inline const mt_node_t *mt__tree_node(const mt_tree_t *t, uint32_t id)
{
    return &t->chunks[id >> MT_NODE_CHUNK_BITS][id & ((1u << MT_NODE_CHUNK_BITS) - 1)];
}

/* Interns `frames[0..n)` (innermost first) and returns the leaf's id; 0 for n == 0. When the
 * engine runs out of memory the path is cut short (the id of the deepest node made) and
 * *truncated is set. `self` identifies the caller for the lock. */
uint32_t mt__tree_intern(mt_tree_t *t, const uint64_t *frames, unsigned n, uint32_t self,
                         bool *truncated);

/* The same below node `from` instead of the root (the path continues from[...]'s frames). */
uint32_t mt__tree_intern_from(mt_tree_t *t, uint32_t from, const uint64_t *frames, unsigned n,
                              uint32_t self, bool *truncated);

/* True when node `id` is exactly the path frames[0..n). Reads only. */
bool mt__tree_matches(const mt_tree_t *t, uint32_t id, const uint64_t *frames, unsigned n);

/* Number of nodes including the root; nodes below it are complete (acquire). */
static inline uint32_t mt__tree_count(const mt_tree_t *t)
{
    return mt_load_acquire(&((mt_tree_t *)t)->count);
}

uint64_t mt__tree_memory(const mt_tree_t *t);

void mt__tree_fork_prepare(mt_tree_t *t);
void mt__tree_fork_release(mt_tree_t *t);

#endif
