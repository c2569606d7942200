/* The capture writer (writer.h). Live blocks are written shard by shard, each shard as a LIVE
 * section of its own, while the figures of the call tree and the threads are summed from the
 * same pass, so the capture is consistent with itself even while other threads keep running:
 * blocks from call paths or threads that appeared after the writer started are left out. */
#include "capture/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/checksum.h"
#include "capture/format.h"
#include "core/arena.h"
#include "core/os.h"

#define WBUF_SIZE (64u * 1024u)

struct mt_wbuf_s {
    int fd;
    int err;
    size_t len;
    uint64_t hash;
    unsigned char buf[WBUF_SIZE];
};

static mt_wbuf_t wbuf; /* one writer at a time (writer_lock) */
static mt_lock_t writer_lock = MT_LOCK_INIT;

static void flush(mt_wbuf_t *w)
{
    if (w->len && !w->err) w->err = mt__os_write_all(w->fd, w->buf, w->len);
    w->len = 0;
}

void mt__wbuf_put(mt_wbuf_t *w, const void *p, size_t n)
{
    w->hash = mt__fnv1a(w->hash, p, n);
    const unsigned char *s = p;
    while (n) {
        if (w->len == WBUF_SIZE) flush(w);
        size_t k = WBUF_SIZE - w->len < n ? WBUF_SIZE - w->len : n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

void mt__wbuf_u32(mt_wbuf_t *w, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    mt__wbuf_put(w, b, 4);
}

void mt__wbuf_u64(mt_wbuf_t *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    mt__wbuf_put(w, b, 8);
}

void mt__wbuf_str(mt_wbuf_t *w, const void *s, uint32_t len)
{
    mt__wbuf_u32(w, len);
    mt__wbuf_put(w, s, len);
}

static void section(mt_wbuf_t *w, uint32_t type, uint64_t length)
{
    mt__wbuf_u32(w, type);
    mt__wbuf_u32(w, 0);
    mt__wbuf_u64(w, length);
}

static uint32_t str_len(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void write_meta(mt_wbuf_t *w, mt_engine_t *e, const mt_capture_info_t *info, uint64_t now,
                       uint32_t more_flags)
{
    uint32_t plen = str_len(info->program);
    uint32_t clen = info->cmdline_len > UINT32_MAX ? UINT32_MAX : (uint32_t)info->cmdline_len;
    section(w, MT_SEC_META, MT_FMT_META_FIXED + 4u + plen + 4u + clen);
    uint32_t flags = info->flags | more_flags;
    uint32_t ef = mt_load_relaxed(&e->flags); /* relaxed: flags are only ever added */
    if (ef & MT_ENGINE_DEGRADED) flags |= MT_META_DEGRADED;
    if (ef & MT_ENGINE_TRUNCSTK) flags |= MT_META_TRUNCSTK;
    mt__wbuf_u64(w, info->pid);
    mt__wbuf_u64(w, info->parent_pid);
    mt__wbuf_u64(w, e->start_realtime_ns);
    mt__wbuf_u64(w, now);
    /* The longest a call path can be: classes may have asked for more than the default. */
    uint32_t depth = e->config.depth, nclasses = mt__class_count(&e->classes);
    for (uint32_t id = 1; id < nclasses; id++) {
        uint32_t d = mt_load_relaxed(&mt__class_at(&e->classes, id)->depth); /* a setting */
        if (d > depth) depth = d;
    }
    mt__wbuf_u32(w, depth);
    mt__wbuf_u32(w, e->config.mode);
    mt__wbuf_u32(w, info->end_reason);
    mt__wbuf_u32(w, (uint32_t)info->end_value);
    mt__wbuf_u32(w, flags);
    mt__wbuf_u32(w, info->frame_kind);
    mt__wbuf_u64(w, mt_load_relaxed(&e->dropped)); /* relaxed: a statistic */
    mt__wbuf_u64(w, mt__engine_memory(e));
    mt__wbuf_str(w, info->program ? info->program : "", plen);
    mt__wbuf_str(w, info->cmdline ? info->cmdline : "", clen);
}

/* What the pass over the live blocks adds up. */
typedef struct scan_s {
    mt_wbuf_t *w;
    mt_node_figs_t *figs; /* NULL when there was no memory for them */
    uint32_t nnodes, nthreads;
    uint64_t peak, peak_tag;
    uint64_t mean;         /* sample mode: node figures are estimates (mt__node_figs_add_live) */
    mt_nodemap_t *tfigs;   /* node figures by allocating thread (engine.h); may be NULL */
    uint64_t *thread_live; /* 2 per thread: blocks, bytes; may be NULL */
    uint64_t live_blocks, live_bytes;
} scan_t;

/* Whether a block counts in this capture: not when its call path or thread appeared after the
 * writer started. A block without a call path (sample mode, MT_NODE_NONE) counts in the totals
 * and its thread's figures, but is not listed in LIVE (in_live). Without memory for the nodes'
 * figures (figs NULL) no block counts: the nodes could not account for them and the capture
 * would be refused as inconsistent. It is then marked degraded instead. */
static bool in_snapshot(const scan_t *sc, const mt_block_t *b)
{
    return sc->figs && (b->node < sc->nnodes || b->node == MT_NODE_NONE) &&
           b->thread < sc->nthreads;
}

static bool in_live(const scan_t *sc, const mt_block_t *b)
{
    return sc->figs && b->node < sc->nnodes && b->thread < sc->nthreads;
}

static void write_block(const mt_block_t *b, void *ctx)
{
    scan_t *sc = ctx;
    if (!in_snapshot(sc, b)) return;
    if (in_live(sc, b)) {
        mt__wbuf_u64(sc->w, b->addr);
        mt__wbuf_u64(sc->w, b->size);
        mt__wbuf_u32(sc->w, b->node);
        mt__wbuf_u32(sc->w, b->thread);
    }
    sc->live_blocks++;
    sc->live_bytes += b->size;
    if (sc->figs) mt__node_figs_add_live(sc->figs, sc->nnodes, b, sc->peak, sc->mean);
    if (sc->tfigs &&
        mt__thread_figs_add_live(&sc->tfigs, b, sc->peak, sc->peak_tag, sc->mean) != 0) {
        mt__nodemap_free(sc->tfigs); /* no memory: the capture goes without THREAD_NODES */
        sc->tfigs = NULL;
    }
    if (sc->thread_live) {
        sc->thread_live[2 * b->thread]++;
        sc->thread_live[2 * b->thread + 1] += b->size;
    }
}

typedef struct filter_s {
    const scan_t *sc;
    uint64_t n;
} filter_t;

static void count_in_snapshot(const mt_block_t *b, void *ctx)
{
    filter_t *f = ctx;
    if (in_live(f->sc, b)) f->n++;
}

static void write_live(mt_engine_t *e, scan_t *sc, uint32_t self)
{
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        mt_shard_t *s = &e->live.shards[i];
        bool locked = mt_lock_unless_mine(&s->lock, self);
        filter_t f = {sc, 0};
        mt__shard_foreach(s, count_in_snapshot, &f);
        if (f.n) {
            section(sc->w, MT_SEC_LIVE, 8 + MT_FMT_LIVE_SIZE * f.n);
            mt__wbuf_u64(sc->w, f.n);
        }
        /* Also without a section: blocks without a call path still count (sample mode). */
        mt__shard_foreach(s, write_block, sc);
        if (locked) mt_unlock(&s->lock);
    }
}

static void write_node(mt_wbuf_t *w, uint32_t parent, uint64_t frame, const mt_node_figs_t *f)
{
    mt__wbuf_u32(w, parent);
    mt__wbuf_u64(w, frame);
    mt__wbuf_u64(w, f->allocations);
    mt__wbuf_u64(w, f->bytes);
    mt__wbuf_u64(w, f->temporary);
    mt__wbuf_u64(w, f->peak_blocks);
    mt__wbuf_u64(w, f->peak_bytes);
    mt__wbuf_u64(w, f->live_blocks);
    mt__wbuf_u64(w, f->live_bytes);
}

static void write_nodes(mt_wbuf_t *w, mt_engine_t *e, const scan_t *sc)
{
    static const mt_node_figs_t none;
    /* Allocations recorded without frames belong to the root, which has no record of its own:
     * its figures go into one extra record with parent 0 and frame 0 (docs/FORMAT.md). */
    const mt_node_figs_t *root = sc->figs ? &sc->figs[0] : &none;
    bool alias = root->allocations || root->live_blocks || root->peak_blocks;
    uint32_t count = sc->nnodes - 1 + (alias ? 1 : 0);
    section(w, MT_SEC_NODES, 4 + (uint64_t)MT_FMT_NODE_SIZE * count);
    mt__wbuf_u32(w, count);
    for (uint32_t id = 1; id < sc->nnodes; id++) {
        const mt_node_t *n = mt__tree_node(&e->tree, id);
        write_node(w, n->parent, n->frame, sc->figs ? &sc->figs[id] : &none);
    }
    if (alias) write_node(w, 0, 0, root);
}

static void write_threads(mt_wbuf_t *w, mt_engine_t *e, const scan_t *sc, mt_timebase_t now)
{
    uint64_t len = 4;
    for (uint32_t i = 0; i < sc->nthreads; i++)
        len += MT_FMT_THREAD_FIXED + 4 + str_len(mt__engine_thread(e, i)->name);
    section(w, MT_SEC_THREADS, len);
    mt__wbuf_u32(w, sc->nthreads);
    for (uint32_t i = 0; i < sc->nthreads; i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        /* Relaxed loads throughout: counters of possibly running threads, read untorn. */
        mt__wbuf_u64(w, t->tid);
        mt__wbuf_u64(w, mt_load_relaxed(&t->allocations));
        mt__wbuf_u64(w, mt_load_relaxed(&t->allocated_bytes));
        mt__wbuf_u64(w, mt_load_relaxed(&t->frees));
        mt__wbuf_u64(w, mt_load_relaxed(&t->freed_bytes));
        mt__wbuf_u64(w, sc->thread_live ? sc->thread_live[2 * i] : 0);
        mt__wbuf_u64(w, sc->thread_live ? sc->thread_live[2 * i + 1] : 0);
        mt__wbuf_u64(w, mt_load_relaxed(&t->peak_bytes));
        mt__wbuf_u64(w, mt__thread_peak_time(t, now));
        mt__wbuf_u64(w, mt_load_relaxed(&t->temporary));
        mt__wbuf_u64(w, mt_load_relaxed(&t->unknown_frees));
        mt__wbuf_u64(w, t->start_ns);
        mt__wbuf_u64(w, mt_load_relaxed(&t->end_ns));
        mt__wbuf_str(w, t->name, str_len(t->name));
    }
}

/* A THREAD_NODES record's slot: in the snapshot, of a known owner, with a figure. */
static bool tnode_kept(const scan_t *sc, const mt_nstat_t *s)
{
    if (!s->key || s->key - 1 >= sc->nnodes) return false;
    if (s->owner != MT_OWNER_MERGED && (s->owner == 0 || s->owner - 1 >= sc->nthreads))
        return false;
    return s->allocations || s->temporary || (s->peak_tag == sc->peak_tag && s->peak_blocks);
}

/* The node figures by allocating thread; then the threads whose figures were merged. */
static void write_thread_nodes(mt_wbuf_t *w, mt_engine_t *e, const scan_t *sc)
{
    const mt_nodemap_t *m = sc->tfigs;
    uint32_t count = 0, nmerged = 0;
    for (uint32_t i = 0; i <= m->mask; i++)
        count += tnode_kept(sc, &m->slots[i]);
    for (uint32_t i = 0; i < sc->nthreads; i++)
        nmerged += mt_load_relaxed(&mt__engine_thread(e, i)->figures_merged) != 0; /* set once */
    section(w, MT_SEC_THREAD_NODES, 4 + (uint64_t)MT_FMT_TNODE_SIZE * count + 4 + 4ull * nmerged);
    mt__wbuf_u32(w, count);
    for (uint32_t i = 0; i <= m->mask; i++) {
        const mt_nstat_t *s = &m->slots[i];
        if (!tnode_kept(sc, s)) continue;
        bool at_peak = s->peak_tag == sc->peak_tag;
        mt__wbuf_u32(w, s->owner == MT_OWNER_MERGED ? MT_FMT_THREAD_MERGED : s->owner - 1);
        mt__wbuf_u32(w, s->key - 1);
        mt__wbuf_u64(w, s->allocations);
        mt__wbuf_u64(w, s->bytes);
        mt__wbuf_u64(w, s->temporary);
        mt__wbuf_u64(w, at_peak ? s->peak_blocks : 0);
        mt__wbuf_u64(w, at_peak ? s->peak_bytes : 0);
    }
    mt__wbuf_u32(w, nmerged);
    for (uint32_t i = 0; i < sc->nthreads; i++)
        if (mt_load_relaxed(&mt__engine_thread(e, i)->figures_merged)) mt__wbuf_u32(w, i);
}

static void write_stage(mt_wbuf_t *w, mt_engine_t *e, const mt_stage_t *st, mt_timebase_t now)
{
    uint32_t n = (uint32_t)strlen(st->name);
    mt__wbuf_str(w, st->name, n);
    mt__wbuf_u64(w, mt__engine_ticks_ns(e, now, st->start_ticks));
    mt__wbuf_u64(w, st->end_ticks ? mt__engine_ticks_ns(e, now, st->end_ticks) : 0);
    mt__wbuf_u64(w, st->peak_bytes);
    mt__wbuf_u64(w, mt__engine_ticks_ns(e, now, st->peak_ticks));
    mt__wbuf_u32(w, st->ntop);
    for (uint32_t i = 0; i < st->ntop; i++) {
        mt__wbuf_u32(w, st->top[i].node);
        mt__wbuf_u64(w, st->top[i].blocks);
        mt__wbuf_u64(w, st->top[i].bytes);
    }
}

/* The periods cut by stages and peak resets; `current` is the period running now, filled in by
 * the writer (its peak is not final). Nothing when the program never cut one. */
static void write_stages(mt_wbuf_t *w, mt_engine_t *e, const mt_stage_t *current, mt_timebase_t now)
{
    if (!e->stages) return;
    uint64_t len = 4;
    uint32_t count = 0;
    for (const mt_stage_t *st = e->stages; st; st = st->next, count++) {
        const mt_stage_t *v = st == e->stage ? current : st;
        len += 4 + strlen(v->name) + MT_FMT_STAGE_FIXED + (uint64_t)MT_FMT_CONTRIB_SIZE * v->ntop;
    }
    section(w, MT_SEC_STAGES, len);
    mt__wbuf_u32(w, count);
    for (const mt_stage_t *st = e->stages; st; st = st->next)
        write_stage(w, e, st == e->stage ? current : st, now);
}

typedef struct names_ctx_s {
    mt_wbuf_t *w;
    uint64_t len;
    uint32_t count;
} names_ctx_t;

static void measure_name(const mt_named_t *nb, void *ctx)
{
    names_ctx_t *c = ctx;
    c->len += 8 + 4 + strlen(nb->name) + 4 + strlen(nb->file) + 4;
    c->count++;
}

static void write_name(const mt_named_t *nb, void *ctx)
{
    names_ctx_t *c = ctx;
    mt__wbuf_u64(c->w, nb->addr);
    mt__wbuf_str(c->w, nb->name, (uint32_t)strlen(nb->name));
    mt__wbuf_str(c->w, nb->file, (uint32_t)strlen(nb->file));
    mt__wbuf_u32(c->w, nb->line);
}

/* Named live blocks (MEMTRACK_TRACK); nothing when there are none. The other threads are
 * paused or stopped while a capture is written, so the two passes see the same names. */
static void write_names(mt_wbuf_t *w, mt_engine_t *e, uint32_t self)
{
    names_ctx_t c = {w, 4, 0};
    mt__names_foreach(&e->names, measure_name, &c, self);
    if (!c.count) return;
    section(w, MT_SEC_NAMES, c.len);
    mt__wbuf_u32(w, c.count);
    mt__names_foreach(&e->names, write_name, &c, self);
}

static void count_sample(const mt_sample_t *sm, void *ctx)
{
    (void)sm;
    ++*(uint32_t *)ctx;
}

static void write_sample(const mt_sample_t *sm, void *ctx)
{
    mt_wbuf_t *w = ctx;
    mt__wbuf_u64(w, sm->t_ns);
    mt__wbuf_u64(w, sm->live_bytes);
    mt__wbuf_u64(w, sm->live_blocks);
    mt__wbuf_u64(w, sm->rss_bytes);
}

/* Memory over time (the samples the front end took); nothing when there are none. The
 * sampler does not run while a capture is written (it takes the same path), so the two passes
 * see the same samples. */
static void write_timeline(mt_wbuf_t *w, mt_engine_t *e, uint32_t self)
{
    uint32_t n = 0;
    mt__timeline_foreach(&e->timeline, count_sample, &n, self);
    if (!n) return;
    section(w, MT_SEC_TIMELINE, 4 + 8 + (uint64_t)MT_FMT_SAMPLE_SIZE * n);
    mt__wbuf_u32(w, n);
    mt__wbuf_u64(w, e->timeline.interval_ns);
    mt__timeline_foreach(&e->timeline, write_sample, w, self);
}

_Static_assert(MT_FRAME_CLASS_BASE == MT_FMT_CLASS_FRAME, "class marker frames");

static void write_classes(mt_wbuf_t *w, mt_engine_t *e)
{
    uint32_t n = mt__class_count(&e->classes);
    uint64_t len = 4;
    for (uint32_t id = 0; id < n; id++)
        len += 4 + mt__class_at(&e->classes, id)->len + 36;
    section(w, MT_SEC_CLASSES, len);
    mt__wbuf_u32(w, n);
    for (uint32_t id = 0; id < n; id++) {
        mt_class_t *k = mt__class_at(&e->classes, id);
        mt_class_counts_t c;
        mt__engine_class_counts(e, id, &c);
        mt__wbuf_str(w, k->name, k->len);
        mt__wbuf_u64(w, c.new_count);
        mt__wbuf_u64(w, c.new_bytes);
        mt__wbuf_u64(w, c.free_count);
        mt__wbuf_u64(w, c.free_bytes);
        mt__wbuf_u32(w, mt_load_relaxed(&k->depth)); /* relaxed: a setting */
    }
}

/* Sample mode's parameters (docs/FORMAT.md, SAMPLING): the mean and how many allocations were
 * sampled. */
static void write_sampling(mt_wbuf_t *w, mt_engine_t *e, const scan_t *sc)
{
    if (e->config.mode != MT_MODE_SAMPLE) return;
    uint64_t sampled = 0;
    for (uint32_t i = 0; i < sc->nthreads; i++)
        sampled += mt_load_relaxed(&mt__engine_thread(e, i)->sampled); /* relaxed: a counter */
    section(w, MT_SEC_SAMPLING, MT_FMT_SAMPLING_LEN);
    mt__wbuf_u64(w, e->config.sample_mean);
    mt__wbuf_u64(w, sampled);
}

/* The tracker's own memory by part (META.engine_bytes is all it mapped). */
static void write_memory(mt_wbuf_t *w, mt_engine_t *e)
{
    section(w, MT_SEC_MEMORY, MT_FMT_MEMORY_LEN);
    mt__wbuf_u64(w, mt__live_memory(&e->live));
    mt__wbuf_u64(w, mt__tree_memory(&e->tree));
}

static void write_totals(mt_wbuf_t *w, const mt_totals_t *tot, const scan_t *sc)
{
    uint64_t peak_blocks = 0;
    if (sc->figs)
        for (uint32_t i = 0; i < sc->nnodes; i++)
            peak_blocks += sc->figs[i].peak_blocks;
    section(w, MT_SEC_TOTALS, MT_FMT_TOTALS_SIZE);
    mt__wbuf_u64(w, tot->allocations);
    mt__wbuf_u64(w, tot->frees);
    mt__wbuf_u64(w, tot->allocated_bytes);
    mt__wbuf_u64(w, tot->freed_bytes);
    mt__wbuf_u64(w, sc->live_blocks);
    mt__wbuf_u64(w, sc->live_bytes);
    mt__wbuf_u64(w, tot->peak_bytes);
    mt__wbuf_u64(w, tot->peak_time_ns);
    mt__wbuf_u64(w, peak_blocks);
    mt__wbuf_u64(w, tot->temporary);
    mt__wbuf_u64(w, tot->unknown_frees);
    mt__wbuf_u64(w, sc->nthreads);
}

static void write_all(mt_wbuf_t *w, mt_engine_t *e, const mt_capture_info_t *info)
{
    uint32_t self = info->self ? info->self->self : 0;
    mt__wbuf_put(w, MT_FMT_MAGIC, MT_FMT_MAGIC_LEN);
    mt__wbuf_u32(w, MT_FMT_VERSION);
    mt__wbuf_u32(w, MT_FMT_HEADER_SIZE);
    /* One moment for the whole capture: its duration, and every time converted from ticks. */
    mt_timebase_t now = mt__engine_now(e);
    mt_totals_t tot;
    mt__engine_totals(e, now, &tot);
    scan_t sc = {.w = w, .peak = tot.peak_bytes, .mean = mt__engine_est_mean(e)};
    sc.nthreads = mt__engine_thread_count(e);
    sc.nnodes = mt__tree_count(&e->tree);
    size_t figs_len = sizeof(mt_node_figs_t) * sc.nnodes;
    size_t tl_len = sizeof(uint64_t) * 2 * (sc.nthreads ? sc.nthreads : 1);
    sc.figs = mt__arena_alloc(figs_len);
    sc.thread_live = mt__arena_alloc(tl_len);
    write_meta(w, e, info, now.ns, sc.figs ? 0 : MT_META_DEGRADED);

    uint64_t mlen = info->modules ? info->modules(NULL, info->modules_ctx) : 4;
    section(w, MT_SEC_MODULES, mlen);
    if (info->modules)
        info->modules(w, info->modules_ctx);
    else
        mt__wbuf_u32(w, 0);
    if (info->symbols) {
        section(w, MT_SEC_SYMBOLS, info->symbols(NULL, info->symbols_ctx));
        info->symbols(w, info->symbols_ctx);
    }

    sc.peak_tag = mt__peak_tag(e, tot.peak_bytes);
    if (sc.figs) {
        sc.tfigs = mt__engine_thread_figures(e, self);
        if (!sc.tfigs) mt__engine_node_figures(e, sc.figs, sc.nnodes, sc.peak_tag, self);
    }

    write_live(e, &sc, self);
    if (sc.figs) mt__node_figs_finish(e, sc.figs, sc.nnodes);
    if (sc.tfigs) {
        /* The node figures other than live ones are the sums of the thread figures (each
         * rounded first, in sample mode), so that the two always agree. */
        mt__thread_figs_finish(e, sc.tfigs);
        for (uint32_t i = 0; i < sc.nnodes; i++) {
            mt_node_figs_t *f = &sc.figs[i];
            f->allocations = f->bytes = f->temporary = f->peak_blocks = f->peak_bytes = 0;
        }
        mt__node_figs_add_map(sc.figs, sc.nnodes, sc.tfigs, sc.peak_tag);
    }

    /* The figures now hold the current period's peak. The run's peak may be that of an earlier
     * period (stages.c kept its contributors): then those are the nodes' peak figures. */
    mt_stage_t current = {0};
    if (e->stage) {
        current = *e->stage;
        current.peak_bytes = tot.peak_bytes;
        current.peak_ticks = tot.peak_ticks;
        if (sc.figs) mt__stage_keep_top(&current, sc.figs, sc.nnodes);
    }
    if (e->best_bytes > tot.peak_bytes) {
        tot.peak_bytes = e->best_bytes;
        tot.peak_ticks = e->best_ticks;
        tot.peak_time_ns = mt__engine_ticks_ns(e, now, e->best_ticks);
        for (uint32_t i = 0; sc.figs && i < sc.nnodes; i++)
            sc.figs[i].peak_blocks = sc.figs[i].peak_bytes = 0;
        /* The thread figures get those contributors under a tag of their own (a peak tag's
         * period never reaches 2^16). */
        sc.peak_tag = UINT64_MAX;
        for (uint32_t i = 0; sc.figs && i < e->nbest; i++) {
            const mt_contrib_t *b = &e->best[i];
            if (b->node >= sc.nnodes) continue;
            sc.figs[b->node].peak_blocks += b->blocks;
            sc.figs[b->node].peak_bytes += b->bytes;
            mt_nstat_t *s = sc.tfigs ? mt__nodemap_slot_grow(&sc.tfigs, b->node, b->owner) : NULL;
            if (s) mt__nstat_add_peak(s, sc.peak_tag, b->blocks, b->bytes);
            if (sc.tfigs && !s) {
                mt__nodemap_free(sc.tfigs);
                sc.tfigs = NULL;
            }
        }
    }
    write_nodes(w, e, &sc);
    write_threads(w, e, &sc, now);
    if (sc.tfigs) write_thread_nodes(w, e, &sc);
    write_classes(w, e);
    write_stages(w, e, &current, now);
    write_names(w, e, self);
    write_timeline(w, e, self);
    write_sampling(w, e, &sc);
    write_memory(w, e);
    write_totals(w, &tot, &sc);

    mt__arena_free(sc.figs, figs_len);
    mt__arena_free(sc.thread_live, tl_len);
    if (sc.tfigs) mt__nodemap_free(sc.tfigs);

    uint64_t hash = w->hash;
    section(w, MT_SEC_END, 8);
    mt__wbuf_u64(w, hash);
    flush(w);
}

/* path + ".tmp." + pid, formatted without stdio. */
static int temp_name(char *out, size_t cap, const char *path, uint64_t pid)
{
    char digits[24];
    size_t nd = (size_t)(mt__os_fmt_u64(digits, pid) - digits);
    size_t plen = strlen(path);
    if (plen + 5 + nd + 1 > cap) return -1;
    memcpy(out, path, plen);
    memcpy(out + plen, ".tmp.", 5);
    memcpy(out + plen + 5, digits, nd + 1);
    return 0;
}

int mt__capture_write(mt_engine_t *e, const char *path, const mt_capture_info_t *info)
{
    char tmp[4096];
    if (temp_name(tmp, sizeof(tmp), path, info->pid) != 0) return ENAMETOOLONG;

    /* What is at the path is replaced only when it is a regular file: a symbolic link planted
     * there is neither followed nor replaced (ELOOP), and neither is a device, a FIFO or a
     * directory (EEXIST), such as /dev/null given as the output. rename() never follows a
     * link, so one swapped in after this check is replaced, not followed. */
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) return S_ISLNK(st.st_mode) ? ELOOP : EEXIST;

    mt_lock(&writer_lock, info->self ? info->self->self : UINT32_MAX - 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) {
        /* A leftover of an earlier process with our pid: ours to replace, but never follow. */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    }
    if (fd < 0) {
        int err = errno;
        mt_unlock(&writer_lock);
        return err;
    }
    mt_wbuf_t *w = &wbuf;
    w->fd = fd;
    w->err = 0;
    w->len = 0;
    w->hash = MT_FNV_OFFSET;
    write_all(w, e, info);
    int err = w->err;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) unlink(tmp);
    mt_unlock(&writer_lock);
    return err;
}
