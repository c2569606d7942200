/* The thread registry: a record per thread that ever allocated, kept after it ends so the
 * report can show it. Registering takes a lock once per thread; nothing else does. */
#include <string.h>

#include "core/arena.h"
#include "core/engine.h"
#include "core/os.h"

mt_thread_t *mt__thread_attach(mt_engine_t *e, uint64_t tid)
{
    mt_thread_t *t = mt__arena_alloc(sizeof(*t));
    if (!t) return NULL;
    t->engine = e;
    t->tid = tid;
    t->start_ns = mt__os_now_ns() - e->start_ns;
    t->cache = mt__arena_alloc(sizeof(mt_pcache_t) * MT_PCACHE_SIZE); /* optional */

    mt_lock(&e->registry_lock, UINT32_MAX - 4);
    uint32_t i = mt_load_relaxed(&e->nthreads); /* relaxed: writers hold the lock */
    uint32_t chunk = i >> 10;
    if (chunk < MT_THREAD_DIR && !e->threads[chunk])
        e->threads[chunk] = mt__arena_alloc(sizeof(mt_thread_t *) * 1024);
    if (chunk >= MT_THREAD_DIR || !e->threads[chunk]) {
        mt_unlock(&e->registry_lock);
        mt__arena_free(t->cache, sizeof(mt_pcache_t) * MT_PCACHE_SIZE);
        mt__arena_free(t, sizeof(*t));
        return NULL;
    }
    t->index = i;
    t->self = i + 1;
    e->threads[chunk][i & 1023] = t;
    mt_store_release(&e->nthreads, i + 1); /* the record is complete before it is counted */
    mt_unlock(&e->registry_lock);
    return t;
}

void mt__thread_set_name(mt_thread_t *t, const char *name)
{
    size_t n = strnlen(name, sizeof(t->name) - 1);
    memcpy(t->name, name, n);
    t->name[n] = '\0';
}

void mt__thread_detach(mt_thread_t *t)
{
    mt_engine_t *e = t->engine;
    mt_store_relaxed(&t->end_ns, mt__os_now_ns() - e->start_ns); /* relaxed: read at capture */

    /* Fold the thread's node figures into the retired map, so that its memory can be reused
     * by threads to come. They stay the thread's (owner index + 1) until the map holds
     * retired_keep slots; past that, the figures of threads that end are merged into
     * one owner (MT_OWNER_MERGED), so that a program starting threads without end keeps
     * the map bounded by its call paths. */
    mt_lock(&t->maplock, t->self);
    mt_nodemap_t *m = t->map;
    if (m) {
        mt_lock(&e->retired_lock, t->self);
        uint32_t owner = t->index + 1;
        if (e->retired->used >= e->retired_keep) {
            owner = MT_OWNER_MERGED;
            mt_store_relaxed(&t->figures_merged, 1); /* relaxed: read at capture */
        }
        int r = mt__nodemap_merge(&e->retired, m, owner);
        mt_unlock(&e->retired_lock);
        if (r == 0) {
            t->map = NULL;
        } else {
            m = NULL; /* keep the map: its figures are still read from there */
        }
    }
    mt_unlock(&t->maplock);
    mt__nodemap_free(m);
    mt__arena_free(t->cache, sizeof(mt_pcache_t) * MT_PCACHE_SIZE);
    t->cache = NULL;
}
