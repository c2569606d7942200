/* The engine's accounting (engine.h): the exact global live/peak pair, per-thread counters,
 * per-thread node figures, and the live table. The order of the steps is what makes the
 * figures exact:
 * - an allocation updates the global pair first, learning the peak just before it, and stores
 *   that value with the block; a free removes the block first and then updates the pair,
 *   learning the peak at that moment;
 * - a block was live at the final peak P exactly when its peak_before < P (it was allocated no
 *   later than the operation that reached P) and it is still live or its free saw the peak at
 *   P (it was freed after). The freeing thread files the latter under the tag P; the capture
 *   counts the blocks tagged with the final peak and the live blocks allocated before it. */
#include "core/engine.h"

#include <string.h>

#include "core/arena.h"
#include "core/os.h"

_Static_assert(MT_THREADS_MAX <= (1u << 20) && MT_CLASSES_MAX <= (1u << 20),
               "the live table packs thread and class indices in 20 bits each");

mt_engine_t *mt__engine_create(const mt_config_t *config)
{
    if (!config || config->depth < 1 || config->depth > MT_DEPTH_MAX ||
        (config->mode != MT_MODE_FULL && config->mode != MT_MODE_COUNT &&
         config->mode != MT_MODE_SAMPLE) ||
        (config->mode == MT_MODE_SAMPLE &&
         (config->sample_mean < 1 || config->sample_mean > MT_SAMPLE_MEAN_MAX)))
        return NULL;
    mt_engine_t *e = mt__arena_alloc(sizeof(*e));
    if (!e) return NULL;
    e->config = *config;
    e->start_ns = mt__os_now_ns();
    e->start_ticks = mt__os_ticks();
    e->period_ticks = e->start_ticks;
    e->start_realtime_ns = mt__os_realtime_ns();
    e->retired = mt__nodemap_new(64);
    e->retired_keep = MT_RETIRED_KEEP;
    if (!e->retired || mt__live_init(&e->live) != 0 || mt__tree_init(&e->tree) != 0 ||
        mt__classes_init(&e->classes) != 0) {
        mt__engine_destroy(e);
        return NULL;
    }
    return e;
}

void mt__engine_destroy(mt_engine_t *e)
{
    if (!e) return;
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        mt__nodemap_free(t->map);
        mt__arena_free(t->cache, sizeof(mt_pcache_t) * MT_PCACHE_SIZE);
        mt__arena_free(t, sizeof(*t));
    }
    for (unsigned c = 0; c < MT_THREAD_DIR && e->threads[c]; c++)
        mt__arena_free(e->threads[c], sizeof(mt_thread_t *) * 1024);
    mt__nodemap_free(e->retired);
    mt__live_destroy(&e->live);
    mt__tree_destroy(&e->tree);
    mt__arena_free(e, sizeof(*e));
}

static void drop(mt_engine_t *e)
{
    mt_add_relaxed(&e->dropped, 1); /* relaxed: a statistic */
    atomic_fetch_or_explicit(&e->flags, MT_ENGINE_DEGRADED, memory_order_relaxed);
}

void mt__engine_note_truncated(mt_engine_t *e)
{
    /* Relaxed: a flag read only when the capture is written. Test first to keep it shared. */
    if (!(mt_load_relaxed(&e->flags) & MT_ENGINE_TRUNCSTK))
        atomic_fetch_or_explicit(&e->flags, MT_ENGINE_TRUNCSTK, memory_order_relaxed);
}

/* ---- call paths */

/* Four independent multiply lanes, so hashing 64 frames does not wait on 64 multiplications
 * in a row. */
static inline uint64_t hash_frames(const uint64_t *frames, unsigned n)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t h[4] = {n, 0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull};
    unsigned i = 0;
    for (; i + 4 <= n; i += 4)
        for (unsigned l = 0; l < 4; l++)
            h[l] = (h[l] ^ frames[i + l]) * k;
    for (; i < n; i++)
        h[0] = (h[0] ^ frames[i]) * k;
    uint64_t r = h[0] ^ (h[1] >> 17 | h[1] << 47) ^ (h[2] >> 31 | h[2] << 33) ^ (h[3] >> 43);
    r ^= r >> 29;
    r *= k;
    return r ^ (r >> 32);
}

/* The node under which a class's call paths hang: its marker frame's, made on first use. */
static uint32_t class_node(mt_thread_t *t, mt_class_t *k)
{
    uint32_t node = mt_load_acquire(&k->node);
    if (node) return node;
    uint64_t marker = MT_FRAME_CLASS_BASE | k->id;
    bool truncated = false;
    node = mt__tree_intern(&t->engine->tree, &marker, 1, t->self, &truncated);
    if (!truncated) mt_store_release(&k->node, node);
    return node;
}

/* The node of a call path: the thread's cache first, the shared tree on a miss. A cache hit
 * is trusted on the 64-bit hash of the whole path (class included) plus its length and
 * innermost frame; walking the path to compare every frame would cost as much as interning
 * it. */
static uint32_t intern(mt_thread_t *t, uint32_t cls, const uint64_t *frames, unsigned n)
{
    mt_engine_t *e = t->engine;
    uint32_t from = cls ? class_node(t, mt__class_at(&e->classes, cls)) : 0;
    if (n == 0) return from;
    uint64_t h = hash_frames(frames, n) ^ ((uint64_t)cls * 0x9e3779b97f4a7c15ull);
    mt_pcache_t *c = t->cache ? &t->cache[h & (MT_PCACHE_SIZE - 1)] : NULL;
    if (c && c->hash == h && c->nframes == n && c->node != 0 &&
        mt__tree_node(&e->tree, c->node)->frame == frames[0])
        return c->node;
    bool truncated = false;
    uint32_t node = mt__tree_intern_from(&e->tree, from, frames, n, t->self, &truncated);
    if (truncated) {
        drop(e);
    } else if (c) {
        c->hash = h;
        c->node = node;
        c->nframes = n;
    }
    return node;
}

/* The figures of (node, owner) in the thread's own map, growing the map when needed. */
static mt_nstat_t *node_stat(mt_thread_t *t, uint32_t node, uint32_t owner)
{
    if (!t->map) {
        mt_nodemap_t *m = mt__nodemap_new(256);
        if (!m) return NULL;
        mt_lock(&t->maplock, t->self);
        t->map = m;
        mt_unlock(&t->maplock);
    }
    mt_nstat_t *s = mt__nodemap_slot(t->map, node, owner);
    if (s) return s;
    mt_nodemap_t *g = mt__nodemap_grown(t->map);
    if (!g) return NULL;
    mt_lock(&t->maplock, t->self);
    mt_nodemap_t *old = t->map;
    t->map = g;
    mt_unlock(&t->maplock);
    mt__nodemap_free(old);
    return mt__nodemap_slot(g, node, owner);
}

/* ---- the global pair */

/* Adds `delta` (two's complement for a free) to live bytes; returns the pair before. */
static inline mt_pair_t global_add(mt_engine_t *e, uint64_t delta, mt_pair_t *after)
{
    mt_pair_t old = mt_pair_peek(&e->global), nw;
    do {
        nw.lo = old.lo + delta;
        nw.hi = nw.lo > old.hi && (int64_t)delta > 0 ? nw.lo : old.hi;
    } while (!mt_pair_cas(&e->global, &old, nw));
    *after = nw;
    return old;
}

/* ---- recording */

/* What a block adds to its node's figures: one block of `size` bytes, or in sample mode its
 * estimate (the count in units of MT_EST_ONE, mt__node_figs_finish). */
static inline void node_weight(const mt_engine_t *e, uint64_t size, uint64_t *blocks,
                               uint64_t *bytes)
{
    if (e->config.mode == MT_MODE_SAMPLE) {
        *blocks = mt__sample_count_fixed(size, e->config.sample_mean);
        *bytes = mt__sample_bytes(size, e->config.sample_mean);
    } else {
        *blocks = 1;
        *bytes = size;
    }
}

/* Records a block of call-tree node `node` (MT_NODE_NONE: none). */
static void record(mt_thread_t *t, uint64_t addr, uint64_t size, uint32_t cls, uint32_t node)
{
    mt_engine_t *e = t->engine;
    /* The untagged class is not counted on its own: its counts are the totals less the
     * tagged classes' (mt__engine_class_counts). */
    if (cls) {
        mt_class_t *k = mt__class_at(&e->classes, cls);
        mt__class_count_new(k, t->index, size);
        /* Relaxed: callbacks take effect for the allocations after they are registered. */
        if (mt_load_relaxed(&k->watched) && !t->no_events &&
            !mt__class_push_event(k, (mt_event_t){addr, size, 0}, t->self))
            drop(e);
    }

    mt_pair_t after, before = global_add(e, size, &after);
    uint64_t ticks = 0;
    if (after.hi > before.hi) {
        /* Relaxed: read by the writer only. The tick count costs no system call, so even a
         * run of allocations that each set a new peak stays cheap. */
        ticks = mt__os_ticks();
        mt_store_relaxed(&t->gpeak_value, mt__peak_tag(e, after.hi));
        mt_store_relaxed(&t->gpeak_ticks, ticks);
    }

    mt_owner_add(&t->allocations, 1);
    mt_owner_add(&t->allocated_bytes, size);
    /* Relaxed: the thread's live bytes as of the last remote free that reached this line; the
     * thread's peak is the maximum over its own allocations of that value. */
    uint64_t live = mt_load_relaxed(&t->allocated_bytes) - mt_load_relaxed(&t->own_freed_bytes) -
                    mt_load_relaxed(&t->remote_freed_bytes);
    if (live > mt_load_relaxed(&t->peak_bytes)) {
        mt_store_relaxed(&t->peak_bytes, live);
        mt_store_relaxed(&t->peak_ticks, ticks ? ticks : mt__os_ticks());
    }
    if (node != MT_NODE_NONE) {
        mt_nstat_t *ns = node_stat(t, node, 0);
        if (ns) {
            uint64_t blocks, bytes;
            node_weight(e, size, &blocks, &bytes);
            mt_owner_add(&ns->allocations, blocks);
            mt_owner_add(&ns->bytes, bytes);
        } else {
            drop(e);
        }
    }
    t->last_alloc = addr;

    mt_block_t b = {addr, size, before.hi, node, t->index, cls}, old;
#ifdef MT_BENCH_NO_LIVE_TABLE
    /* The benchmark's breakdown build (bench/README.md): everything but the live table. */
    mt_insert_t r = MT_INSERTED;
    (void)b;
    (void)old;
#else
    mt_shard_t *s = mt__live_shard(&e->live, addr);
    mt_lock(&s->lock, t->self);
    mt_insert_t r = mt__shard_insert(s, &b, &old);
    mt_unlock(&s->lock);
#endif
    if (r == MT_REPLACED) {
        /* The address was handed out again without its free reaching us (it happened while
         * tracking was suspended on that thread): account that free now. */
        drop(e);
        mt__engine_free_taken(t, &old);
        t->last_alloc = addr;
    } else if (r == MT_NO_MEMORY) {
        /* Undo: the block stays unknown to the engine, as if made before tracking. */
        drop(e);
        if (cls) mt__class_count_free(mt__class_at(&e->classes, cls), t->index, size);
        global_add(e, (uint64_t)0 - size, &after);
        mt_owner_add(&t->own_freed_blocks, 1);
        mt_owner_add(&t->own_freed_bytes, size);
        mt_owner_add(&t->frees, 1);
        mt_owner_add(&t->freed_bytes, size);
    }
}

void mt__engine_alloc(mt_thread_t *t, uint64_t addr, uint64_t size, uint32_t cls,
                      const uint64_t *frames, unsigned n)
{
    if (t->engine->config.mode == MT_MODE_SAMPLE) mt_owner_add(&t->sampled, 1);
    record(t, addr, size, cls, intern(t, cls, frames, n));
}

void mt__engine_alloc_unsampled(mt_thread_t *t, uint64_t addr, uint64_t size, uint32_t cls)
{
    record(t, addr, size, cls, MT_NODE_NONE);
}

void mt__engine_free_taken(mt_thread_t *t, const mt_block_t *b)
{
    mt_engine_t *e = t->engine;
    mt_pair_t after;
    global_add(e, (uint64_t)0 - b->size, &after);

    mt_owner_add(&t->frees, 1);
    mt_owner_add(&t->freed_bytes, b->size);
    mt__names_forget(&e->names, b->addr, t->self);
    if (b->cls) {
        mt_class_t *k = mt__class_at(&e->classes, b->cls);
        mt__class_count_free(k, t->index, b->size);
        /* Relaxed: as in mt__engine_alloc. */
        if (mt_load_relaxed(&k->watched) && !t->no_events &&
            !mt__class_push_event(k, (mt_event_t){b->addr, b->size, 1}, t->self))
            drop(e);
    }
    bool own = b->thread == t->index;
    if (own) {
        mt_owner_add(&t->own_freed_blocks, 1);
        mt_owner_add(&t->own_freed_bytes, b->size);
    } else {
        mt_thread_t *owner = mt__engine_thread(e, b->thread);
        mt_add_relaxed(&owner->remote_freed_blocks, 1); /* relaxed: counters, read at capture */
        mt_add_relaxed(&owner->remote_freed_bytes, b->size);
    }

    bool temporary = own && t->last_alloc == b->addr;
    bool at_peak = b->peak_before < after.hi;
    if (temporary) {
        mt_owner_add(&t->temporary, 1);
        t->last_alloc = 0; /* frees of other blocks in between do not matter; allocations do */
    }
    if ((temporary || at_peak) && b->node != MT_NODE_NONE) {
        /* Figures go to the thread that allocated the block: temporary ones are always this
         * thread's; a peak block of another thread's is filed under that thread as owner. */
        mt_nstat_t *ns = node_stat(t, b->node, own ? 0 : b->thread + 1);
        if (!ns) {
            drop(e);
        } else {
            uint64_t blocks, bytes;
            node_weight(e, b->size, &blocks, &bytes);
            if (temporary) mt_owner_add(&ns->temporary, blocks);
            if (at_peak) mt__nstat_add_peak(ns, mt__peak_tag(e, after.hi), blocks, bytes);
        }
    }
}

void mt__engine_unknown_free(mt_thread_t *t)
{
    mt_owner_add(&t->unknown_frees, 1);
}

bool mt__engine_take(mt_thread_t *t, uint64_t addr, mt_block_t *out)
{
#ifdef MT_BENCH_NO_LIVE_TABLE
    (void)t, (void)addr, (void)out;
    return false; /* the breakdown build: no block is known, every free is an unknown one */
#else
    mt_shard_t *s = mt__live_shard(&t->engine->live, addr);
    mt_lock(&s->lock, t->self);
    bool found = mt__shard_remove(s, addr, out);
    mt_unlock(&s->lock);
    return found;
#endif
}

void mt__engine_put_back(mt_thread_t *t, const mt_block_t *b)
{
    mt_block_t old;
    mt_shard_t *s = mt__live_shard(&t->engine->live, b->addr);
    mt_lock(&s->lock, t->self);
    mt_insert_t r = mt__shard_insert(s, b, &old);
    mt_unlock(&s->lock);
    if (r != MT_INSERTED) drop(t->engine);
}

bool mt__engine_free(mt_thread_t *t, uint64_t addr)
{
    mt_block_t b;
    if (!mt__engine_take(t, addr, &b)) {
        mt__engine_unknown_free(t);
        return false;
    }
    mt__engine_free_taken(t, &b);
    return true;
}

/* ---- reading */

uint64_t mt__engine_ticks_ns(const mt_engine_t *e, mt_timebase_t now, uint64_t ticks)
{
    if (ticks <= e->start_ticks || now.ticks <= e->start_ticks) return 0;
    unsigned __int128 ns = (unsigned __int128)(ticks - e->start_ticks) * now.ns;
    uint64_t v = (uint64_t)(ns / (now.ticks - e->start_ticks));
    return v < now.ns ? v : now.ns;
}

uint64_t mt__thread_peak_time(mt_thread_t *t, mt_timebase_t now)
{
    /* Relaxed: see mt__engine_totals. */
    return mt__engine_ticks_ns(t->engine, now, mt_load_relaxed(&t->peak_ticks));
}

void mt__engine_totals(mt_engine_t *e, mt_timebase_t now, mt_totals_t *out)
{
    memset(out, 0, sizeof(*out));
    mt_pair_t g = mt_pair_peek(&e->global);
    mt_pair_t exact = g;
    mt_pair_cas(&e->global, &exact, g); /* an untorn read: a CAS that writes what is there */
    out->live_bytes = exact.lo;
    out->peak_bytes = exact.hi;
    /* A period's peak is at least its live bytes when it began; a thread that raised it since
     * says when it did. */
    out->peak_ticks = e->period_ticks;
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        /* Relaxed: counters of running threads are read as they are at this moment. */
        out->allocations += mt_load_relaxed(&t->allocations);
        out->allocated_bytes += mt_load_relaxed(&t->allocated_bytes);
        out->frees += mt_load_relaxed(&t->frees);
        out->freed_bytes += mt_load_relaxed(&t->freed_bytes);
        out->temporary += mt_load_relaxed(&t->temporary);
        out->unknown_frees += mt_load_relaxed(&t->unknown_frees);
        if (mt_load_relaxed(&t->gpeak_value) == mt__peak_tag(e, exact.hi) && exact.hi != 0)
            out->peak_ticks = mt_load_relaxed(&t->gpeak_ticks);
    }
    out->peak_time_ns = mt__engine_ticks_ns(e, now, out->peak_ticks);
}

int mt__engine_clear(mt_engine_t *e)
{
    mt__live_destroy(&e->live);
    int r = mt__live_init(&e->live);
    mt_pair_t zero = {0, 0}, cur = mt_pair_peek(&e->global);
    while (!mt_pair_cas(&e->global, &cur, zero)) {
    }
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        /* Relaxed stores: nobody else uses the engine now (see the contract). */
        _Atomic uint64_t *counters[] = {
            &t->allocations,         &t->allocated_bytes,    &t->frees,
            &t->freed_bytes,         &t->temporary,          &t->unknown_frees,
            &t->own_freed_blocks,    &t->own_freed_bytes,    &t->peak_bytes,
            &t->peak_ticks,          &t->gpeak_value,        &t->gpeak_ticks,
            &t->remote_freed_blocks, &t->remote_freed_bytes, &t->sampled,
        };
        for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++)
            mt_store_relaxed(counters[c], 0);
        t->last_alloc = 0;
        mt_store_relaxed(&t->figures_merged, 0);
        if (t->map) memset(t->map->slots, 0, sizeof(mt_nstat_t) * (t->map->mask + 1u));
        if (t->map) t->map->used = 0;
    }
    memset(e->retired->slots, 0, sizeof(mt_nstat_t) * (e->retired->mask + 1u));
    e->retired->used = 0;
    mt__classes_clear(&e->classes);
    mt__names_clear(&e->names);
    mt_store_relaxed(&e->dropped, 0); /* relaxed: see the contract */
    return r;
}

void mt__engine_class_counts(mt_engine_t *e, uint32_t cls, mt_class_counts_t *out)
{
    if (cls != MT_CLASS_UNTAGGED) {
        mt__class_counts(mt__class_at(&e->classes, cls), out);
        return;
    }
    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    mt_class_counts_t tagged = {0}, k;
    uint32_t n = mt__class_count(&e->classes);
    for (uint32_t id = 1; id < n; id++) {
        mt__class_counts(mt__class_at(&e->classes, id), &k);
        tagged.new_count += k.new_count;
        tagged.new_bytes += k.new_bytes;
        tagged.free_count += k.free_count;
        tagged.free_bytes += k.free_bytes;
    }
    /* Counters read a moment apart may disagree by an event in flight: never below zero. */
    out->new_count = tot.allocations > tagged.new_count ? tot.allocations - tagged.new_count : 0;
    out->new_bytes =
        tot.allocated_bytes > tagged.new_bytes ? tot.allocated_bytes - tagged.new_bytes : 0;
    out->free_count = tot.frees > tagged.free_count ? tot.frees - tagged.free_count : 0;
    out->free_bytes = tot.freed_bytes > tagged.free_bytes ? tot.freed_bytes - tagged.free_bytes : 0;
}

void mt__engine_sample(mt_engine_t *e, uint64_t rss_bytes, bool force)
{
    mt_totals_t tot;
    mt_timebase_t now = mt__engine_now(e);
    mt__engine_totals(e, now, &tot);
    mt_sample_t s = {now.ns, tot.live_bytes,
                     tot.allocations > tot.frees ? tot.allocations - tot.frees : 0, rss_bytes};
    mt__timeline_add(&e->timeline, &s, force);
}

bool mt__engine_quiesce(mt_engine_t *e, const mt_thread_t *self, uint64_t max_ns)
{
    uint64_t deadline = mt__os_now_ns() + max_ns;
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        for (unsigned spins = 0; t != self && mt_load_acquire(&t->active); spins++) {
            if (spins > 64) {
                if (mt__os_now_ns() > deadline) return false;
                mt__os_yield();
            }
        }
    }
    return true;
}

void mt__node_figs_add_map(mt_node_figs_t *figs, uint32_t nnodes, const mt_nodemap_t *m,
                           uint64_t peak_tag)
{
    for (uint32_t i = 0; i <= m->mask; i++) {
        const mt_nstat_t *s = &m->slots[i];
        if (!s->key || s->key - 1 >= nnodes) continue;
        mt_node_figs_t *f = &figs[s->key - 1];
        /* Relaxed: see mt__engine_totals. */
        f->allocations += mt_load_relaxed(&s->allocations);
        f->bytes += mt_load_relaxed(&s->bytes);
        f->temporary += mt_load_relaxed(&s->temporary);
        if (peak_tag != 0 && mt_load_relaxed(&s->peak_tag) == peak_tag) {
            f->peak_blocks += mt_load_relaxed(&s->peak_blocks);
            f->peak_bytes += mt_load_relaxed(&s->peak_bytes);
        }
    }
}

void mt__engine_node_figures(mt_engine_t *e, mt_node_figs_t *figs, uint32_t nnodes,
                             uint64_t peak_tag, uint32_t self)
{
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        bool locked = mt_lock_unless_mine(&t->maplock, self);
        if (t->map) mt__node_figs_add_map(figs, nnodes, t->map, peak_tag);
        if (locked) mt_unlock(&t->maplock);
    }
    bool locked = mt_lock_unless_mine(&e->retired_lock, self);
    mt__node_figs_add_map(figs, nnodes, e->retired, peak_tag);
    if (locked) mt_unlock(&e->retired_lock);
}

mt_nodemap_t *mt__engine_thread_figures(mt_engine_t *e, uint32_t self)
{
    mt_nodemap_t *m = mt__nodemap_new(256);
    int r = m ? 0 : -1;
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; r == 0 && i < n; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        bool locked = mt_lock_unless_mine(&t->maplock, self);
        if (t->map) r = mt__nodemap_merge(&m, t->map, t->index + 1);
        if (locked) mt_unlock(&t->maplock);
    }
    if (r == 0) {
        bool locked = mt_lock_unless_mine(&e->retired_lock, self);
        r = mt__nodemap_merge(&m, e->retired, MT_OWNER_MERGED); /* it has no slot of owner 0 */
        if (locked) mt_unlock(&e->retired_lock);
    }
    if (r == 0) return m;
    if (m) mt__nodemap_free(m);
    return NULL;
}

int mt__thread_figs_add_live(mt_nodemap_t **m, const mt_block_t *b, uint64_t peak, uint64_t tag,
                             uint64_t mean)
{
    if (b->peak_before >= peak || b->node == MT_NODE_NONE) return 0;
    mt_nstat_t *s = mt__nodemap_slot_grow(m, b->node, b->thread + 1);
    if (!s) return -1;
    uint64_t blocks = mean ? mt__sample_count_fixed(b->size, mean) : 1;
    uint64_t bytes = mean ? mt__sample_bytes(b->size, mean) : b->size;
    mt__nstat_add_peak(s, tag, blocks, bytes);
    return 0;
}

void mt__thread_figs_finish(const mt_engine_t *e, mt_nodemap_t *m)
{
    if (e->config.mode != MT_MODE_SAMPLE) return;
    for (uint32_t i = 0; i <= m->mask; i++) {
        mt_nstat_t *s = &m->slots[i];
        mt_store_relaxed(&s->allocations, mt__est_round(mt_load_relaxed(&s->allocations)));
        mt_store_relaxed(&s->temporary, mt__est_round(mt_load_relaxed(&s->temporary)));
        mt_store_relaxed(&s->peak_blocks, mt__est_round(mt_load_relaxed(&s->peak_blocks)));
    }
}

void mt__node_figs_finish(const mt_engine_t *e, mt_node_figs_t *figs, uint32_t nnodes)
{
    if (e->config.mode != MT_MODE_SAMPLE) return;
    for (uint32_t i = 0; i < nnodes; i++) {
        mt_node_figs_t *f = &figs[i];
        f->allocations = mt__est_round(f->allocations);
        f->temporary = mt__est_round(f->temporary);
        f->peak_blocks = mt__est_round(f->peak_blocks);
        f->live_blocks = mt__est_round(f->live_blocks);
    }
}

uint64_t mt__engine_memory(mt_engine_t *e)
{
    (void)e;
    return mt__arena_mapped();
}

/* ---- fork */

void mt__engine_fork_prepare(mt_engine_t *e)
{
    mt_lock(&e->registry_lock, UINT32_MAX - 3);
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++)
        mt_lock(&mt__engine_thread(e, i)->maplock, UINT32_MAX - 3);
    mt_lock(&e->retired_lock, UINT32_MAX - 3);
    mt_lock(&e->names.lock, UINT32_MAX - 3);
    mt_lock(&e->timeline.lock, UINT32_MAX - 3);
    uint32_t nclasses = mt__class_count(&e->classes);
    for (uint32_t id = 0; id < nclasses; id++)
        mt_lock(&mt__class_at(&e->classes, id)->qlock, UINT32_MAX - 3);
    mt__tree_fork_prepare(&e->tree);
    for (unsigned i = 0; i < MT_SHARDS; i++)
        mt_lock(&e->live.shards[i].lock, UINT32_MAX - 3);
    mt__arena_fork_prepare();
}

void mt__engine_fork_release(mt_engine_t *e)
{
    mt__arena_fork_release();
    for (unsigned i = 0; i < MT_SHARDS; i++)
        mt_unlock(&e->live.shards[i].lock);
    mt__tree_fork_release(&e->tree);
    uint32_t nclasses = mt__class_count(&e->classes);
    for (uint32_t id = 0; id < nclasses; id++)
        mt_unlock(&mt__class_at(&e->classes, id)->qlock);
    mt_unlock(&e->timeline.lock);
    mt_unlock(&e->names.lock);
    mt_unlock(&e->retired_lock);
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++)
        mt_unlock(&mt__engine_thread(e, i)->maplock);
    mt_unlock(&e->registry_lock);
}

void mt__engine_after_fork_child(mt_engine_t *e, mt_thread_t *self)
{
    uint64_t now = mt__os_now_ns() - e->start_ns;
    uint32_t n = mt__engine_thread_count(e);
    for (uint32_t i = 0; i < n; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        if (t == self) continue;
        /* Relaxed: the child has one thread. A thread caught inside a hook by the fork never
         * leaves it here. */
        if (mt_load_relaxed(&t->end_ns) == 0) mt_store_relaxed(&t->end_ns, now);
        mt_store_relaxed(&t->active, 0);
    }
    if (self) self->tid = mt__os_tid();
}
