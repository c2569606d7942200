/* Analysis on demand: the call paths of one class ranked by what they hold live now. It scans
 * the live table once (O(live blocks + nodes)), so it is for asking now and then, not for
 * every allocation. */
#include <string.h>

#include "core/arena.h"
#include "core/engine.h"

typedef struct scan_s {
    mt_node_figs_t *figs;
    uint32_t nnodes, cls;
    uint64_t mean; /* sample mode: blocks count for their estimates */
} scan_t;

static void count_live(const mt_block_t *b, void *ctx)
{
    scan_t *s = ctx;
    if (b->cls == s->cls && b->node < s->nnodes) {
        s->figs[b->node].live_blocks += s->mean ? mt__sample_count_fixed(b->size, s->mean) : 1;
        s->figs[b->node].live_bytes += s->mean ? mt__sample_bytes(b->size, s->mean) : b->size;
    }
}

/* Inserts p into out[0..*n) kept sorted by live count, then live bytes (biggest first). */
static void rank(mt_path_figs_t *out, size_t max, size_t *n, const mt_path_figs_t *p)
{
    size_t pos = *n < max ? *n : max;
    while (pos > 0 && (out[pos - 1].live_blocks < p->live_blocks ||
                       (out[pos - 1].live_blocks == p->live_blocks &&
                        out[pos - 1].live_bytes < p->live_bytes)))
        pos--;
    if (pos >= max) return;
    size_t last = *n < max ? *n : max - 1;
    memmove(&out[pos + 1], &out[pos], sizeof(*out) * (last - pos));
    out[pos] = *p;
    if (*n < max) ++*n;
}

int mt__engine_top_paths(mt_engine_t *e, uint32_t cls, mt_path_figs_t *out, size_t max,
                         size_t *count, uint32_t self)
{
    *count = 0;
    uint32_t nnodes = mt__tree_count(&e->tree);
    size_t len = sizeof(mt_node_figs_t) * nnodes, clen = sizeof(uint32_t) * nnodes;
    scan_t s = {mt__arena_alloc(len), nnodes, cls, mt__engine_est_mean(e)};
    uint32_t *class_of = mt__arena_alloc(clen); /* the class each node's path belongs to */
    if (!s.figs || !class_of) {
        mt__arena_free(s.figs, len);
        mt__arena_free(class_of, clen);
        return -1;
    }
    mt__engine_node_figures(e, s.figs, nnodes, 0, self);
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        mt_shard_t *sh = &e->live.shards[i];
        bool locked = mt_lock_unless_mine(&sh->lock, self);
        mt__shard_foreach(sh, count_live, &s);
        if (locked) mt_unlock(&sh->lock);
    }
    mt__node_figs_finish(e, s.figs, nnodes);
    /* Parents come before children, so one pass finds every node's class. */
    for (uint32_t id = 1; id < nnodes; id++) {
        const mt_node_t *n = mt__tree_node(&e->tree, id);
        class_of[id] = n->frame >= MT_FRAME_CLASS_BASE ? (uint32_t)(n->frame - MT_FRAME_CLASS_BASE)
                                                       : class_of[n->parent];
    }
    for (uint32_t id = 0; id < nnodes && max > 0; id++) {
        const mt_node_figs_t *f = &s.figs[id];
        if (class_of[id] != cls || (!f->live_blocks && !f->allocations)) continue;
        mt_path_figs_t p = {id, f->live_blocks, f->live_bytes, f->allocations, f->bytes};
        rank(out, max, count, &p);
    }
    mt__arena_free(s.figs, len);
    mt__arena_free(class_of, clen);
    return 0;
}

unsigned mt__engine_path_frames(mt_engine_t *e, uint32_t node, uint64_t *frames, unsigned max)
{
    unsigned n = 0;
    for (uint32_t id = node; id != 0 && n < max; id = mt__tree_node(&e->tree, id)->parent) {
        uint64_t f = mt__tree_node(&e->tree, id)->frame;
        if (f >= MT_FRAME_CLASS_BASE) break; /* the class marker ends the real frames */
        frames[n++] = f;
    }
    return n;
}
