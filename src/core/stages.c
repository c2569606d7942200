/* Stages and peak resets (engine.h): the run is cut into periods; each keeps its peak and the
 * call paths that held it. Cutting is rare and pauses the program (the caller quiesces it), so
 * the work is done here, at the cut, instead of on every allocation: the live blocks are
 * scanned once to find the ending period's contributors, and their peak_before values are
 * reset so that they count as allocated before any peak of the new period. */
#include <string.h>

#include "core/arena.h"
#include "core/engine.h"
#include "core/os.h"

typedef struct cut_s {
    mt_node_figs_t *figs;
    uint32_t nnodes;
    uint64_t peak, tag, mean;
    mt_nodemap_t *tfigs; /* by allocating thread (engine.h); NULL without memory */
} cut_t;

static void cut_block(mt_block_t *b, void *ctx)
{
    cut_t *c = ctx;
    if (c->figs) mt__node_figs_add_live(c->figs, c->nnodes, b, c->peak, c->mean);
    if (c->tfigs && mt__thread_figs_add_live(&c->tfigs, b, c->peak, c->tag, c->mean) != 0) {
        mt__nodemap_free(c->tfigs);
        c->tfigs = NULL;
    }
    b->peak_before = 0;
}

void mt__stage_keep_top(mt_stage_t *st, const mt_node_figs_t *figs, uint32_t nnodes)
{
    st->ntop = 0;
    for (uint32_t id = 0; id < nnodes; id++) {
        const mt_node_figs_t *f = &figs[id];
        if (!f->peak_blocks) continue;
        uint32_t pos = st->ntop < MT_STAGE_TOP ? st->ntop : MT_STAGE_TOP;
        while (pos > 0 && st->top[pos - 1].bytes < f->peak_bytes)
            pos--;
        if (pos >= MT_STAGE_TOP) continue;
        uint32_t last = st->ntop < MT_STAGE_TOP ? st->ntop : MT_STAGE_TOP - 1;
        memmove(&st->top[pos + 1], &st->top[pos], sizeof(st->top[0]) * (last - pos));
        st->top[pos] = (mt_contrib_t){id, 0, f->peak_blocks, f->peak_bytes};
        if (st->ntop < MT_STAGE_TOP) st->ntop++;
    }
}

/* Makes the peak figures of c the contributors of the best ended period: by call path and
 * allocating thread, or by call path alone (thread unknown) when c has no thread figures. */
static int keep_best(mt_engine_t *e, const cut_t *c)
{
    uint32_t n = 0;
    const mt_nodemap_t *m = c->tfigs;
    for (uint32_t i = 0; m && i <= m->mask; i++)
        n += m->slots[i].key && m->slots[i].key - 1 < c->nnodes && m->slots[i].peak_blocks &&
             m->slots[i].peak_tag == c->tag;
    for (uint32_t id = 0; !m && id < c->nnodes; id++)
        n += c->figs[id].peak_blocks != 0;
    if (n > e->best_cap) {
        mt_contrib_t *v = mt__arena_alloc(sizeof(*v) * n);
        if (!v) return -1;
        mt__arena_free(e->best, sizeof(*v) * e->best_cap);
        e->best = v;
        e->best_cap = n;
    }
    e->nbest = 0;
    for (uint32_t i = 0; m && i <= m->mask; i++) {
        const mt_nstat_t *sl = &m->slots[i];
        if (sl->key && sl->key - 1 < c->nnodes && sl->peak_blocks && sl->peak_tag == c->tag)
            e->best[e->nbest++] =
                (mt_contrib_t){sl->key - 1, sl->owner, sl->peak_blocks, sl->peak_bytes};
    }
    for (uint32_t id = 0; !m && id < c->nnodes; id++) {
        const mt_node_figs_t *f = &c->figs[id];
        if (f->peak_blocks)
            e->best[e->nbest++] =
                (mt_contrib_t){id, MT_OWNER_MERGED, f->peak_blocks, f->peak_bytes};
    }
    return 0;
}

static mt_stage_t *new_stage(mt_engine_t *e, const char *name, uint64_t ticks)
{
    mt_stage_t *st = mt__arena_alloc(sizeof(*st));
    if (!st) return NULL;
    if (name) {
        size_t n = strnlen(name, MT_STAGE_NAME_MAX);
        memcpy(st->name, name, n);
    }
    st->start_ticks = ticks;
    if (e->stage)
        e->stage->next = st;
    else
        e->stages = st;
    e->stage = st;
    return st;
}

int mt__engine_new_period(mt_engine_t *e, const char *name, bool keep_name, mt_timebase_t now,
                          uint32_t self)
{
    int r = 0;
    if (!e->stage && !new_stage(e, NULL, e->start_ticks))
        r = -1; /* the time before the first cut */
    mt_totals_t tot;
    mt__engine_totals(e, now, &tot);
    uint32_t nnodes = mt__tree_count(&e->tree);
    size_t len = sizeof(mt_node_figs_t) * nnodes;
    cut_t c = {mt__arena_alloc(len),   nnodes, tot.peak_bytes, mt__peak_tag(e, tot.peak_bytes),
               mt__engine_est_mean(e), NULL};
    if (c.figs) {
        /* The node figures are the sums of the thread figures, so the two always agree. */
        c.tfigs = mt__engine_thread_figures(e, self);
        if (c.tfigs)
            mt__node_figs_add_map(c.figs, nnodes, c.tfigs, c.tag);
        else
            mt__engine_node_figures(e, c.figs, nnodes, c.tag, self);
    }
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        mt_shard_t *s = &e->live.shards[i];
        bool locked = mt_lock_unless_mine(&s->lock, self);
        mt__shard_update(s, cut_block, &c);
        if (locked) mt_unlock(&s->lock);
    }
    if (c.figs) mt__node_figs_finish(e, c.figs, nnodes);
    if (c.tfigs) mt__thread_figs_finish(e, c.tfigs);
    if (e->stage) {
        e->stage->end_ticks = now.ticks;
        e->stage->peak_bytes = tot.peak_bytes;
        e->stage->peak_ticks = tot.peak_ticks;
        if (c.figs) mt__stage_keep_top(e->stage, c.figs, nnodes);
    }
    if (!c.figs) r = -1;
    if (c.figs && (tot.peak_bytes > e->best_bytes || (!e->nbest && tot.peak_bytes))) {
        if (keep_best(e, &c) == 0) {
            e->best_bytes = tot.peak_bytes;
            e->best_ticks = tot.peak_ticks;
        } else {
            r = -1;
        }
    }
    mt__arena_free(c.figs, len);
    if (c.tfigs) mt__nodemap_free(c.tfigs);

    /* The new period: its peak starts from what is live. */
    mt_pair_t cur = mt_pair_peek(&e->global), reset;
    do {
        reset = (mt_pair_t){cur.lo, cur.lo};
    } while (!mt_pair_cas(&e->global, &cur, reset));
    char kept[MT_STAGE_NAME_MAX + 1] = "";
    if (keep_name && e->stage) memcpy(kept, e->stage->name, sizeof(kept));
    e->period++;
    e->period_ticks = now.ticks;
    if (!new_stage(e, keep_name ? kept : name, now.ticks)) r = -1;
    if (r) atomic_fetch_or_explicit(&e->flags, MT_ENGINE_DEGRADED, memory_order_relaxed);
    return r;
}

void mt__engine_peak(mt_engine_t *e, mt_timebase_t now, uint64_t *current, uint64_t *peak,
                     uint64_t *peak_time_ns)
{
    mt_totals_t tot;
    mt__engine_totals(e, now, &tot);
    *current = tot.live_bytes;
    *peak = tot.peak_bytes;
    *peak_time_ns = tot.peak_time_ns;
}

uint64_t mt__thread_live(mt_thread_t *t)
{
    /* Relaxed: see mt__engine_alloc. */
    return mt_load_relaxed(&t->allocated_bytes) - mt_load_relaxed(&t->own_freed_bytes) -
           mt_load_relaxed(&t->remote_freed_bytes);
}

void mt__thread_peak_reset(mt_thread_t *t)
{
    mt_store_relaxed(&t->peak_bytes, mt__thread_live(t)); /* relaxed: the owner's own field */
    mt_store_relaxed(&t->peak_ticks, mt__os_ticks());
}
