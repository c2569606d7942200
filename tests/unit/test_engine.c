/* Unit tests of the engine: the live table, the call tree, counters, peaks and their
 * contributors, temporary allocations, and exact counts under concurrent updates. */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/calltree.h"
#include "core/engine.h"
#include "core/live_table.h"
#include "core/timeline.h"

/* ---- helpers */

static mt_engine_t *new_engine(void)
{
    mt_config_t cfg = {.depth = 64};
    mt_engine_t *e = mt__engine_create(&cfg);
    assert_non_null(e);
    return e;
}

typedef struct figs_s {
    mt_node_figs_t *figs;
    uint32_t n;
    uint64_t peak, mean;
} figs_t;

static void add_live(const mt_block_t *b, void *ctx)
{
    figs_t *f = ctx;
    mt__node_figs_add_live(f->figs, f->n, b, f->peak, f->mean);
}

/* The per-node figures exactly as the capture writer computes them. */
static mt_node_figs_t *node_figures(mt_engine_t *e, uint32_t *n, uint64_t *peak)
{
    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    figs_t f = {
        .n = mt__tree_count(&e->tree), .peak = tot.peak_bytes, .mean = mt__engine_est_mean(e)};
    f.figs = calloc(f.n, sizeof(*f.figs));
    mt__engine_node_figures(e, f.figs, f.n, f.peak, 0);
    for (unsigned i = 0; i < MT_SHARDS; i++)
        mt__shard_foreach(&e->live.shards[i], add_live, &f);
    mt__node_figs_finish(e, f.figs, f.n);
    *n = f.n;
    *peak = f.peak;
    return f.figs;
}

static uint32_t path_node(mt_engine_t *e, const uint64_t *frames, unsigned n)
{
    bool trunc = false;
    return mt__tree_intern(&e->tree, frames, n, 1, &trunc);
}

/* ---- live table */

static void test_live_table_grows_and_shrinks(void **state)
{
    (void)state;
    mt_live_t t;
    assert_int_equal(mt__live_init(&t), 0);
    enum { N = 200000 };
    uint64_t count = 0;
    for (uint64_t i = 1; i <= N; i++) {
        uint64_t addr = i * 48;
        mt_block_t b = {addr, i, 0, (uint32_t)i, 0}, old;
        mt_shard_t *s = mt__live_shard(&t, addr);
        assert_int_equal(mt__shard_insert(s, &b, &old), MT_INSERTED);
    }
    for (unsigned i = 0; i < MT_SHARDS; i++)
        count += t.shards[i].count;
    assert_int_equal(count, N);
    /* Re-inserting a live address replaces it and hands back the old record. */
    mt_block_t again = {48 * 7, 99, 0, 1, 0}, old;
    assert_int_equal(mt__shard_insert(mt__live_shard(&t, 48 * 7), &again, &old), MT_REPLACED);
    assert_int_equal(old.size, 7);
    /* Remove every other block, checking each record comes back intact. */
    for (uint64_t i = 1; i <= N; i += 2) {
        mt_block_t out;
        uint64_t addr = i * 48;
        assert_true(mt__shard_remove(mt__live_shard(&t, addr), addr, &out));
        assert_int_equal(out.addr, addr);
        assert_int_equal(out.size, i == 7 ? 99 : i);
        assert_false(mt__shard_remove(mt__live_shard(&t, addr), addr, &out));
    }
    count = 0;
    for (unsigned i = 0; i < MT_SHARDS; i++)
        count += t.shards[i].count;
    assert_int_equal(count, N / 2);
    for (uint64_t i = 2; i <= N; i += 2) {
        mt_block_t out;
        assert_true(mt__shard_remove(mt__live_shard(&t, i * 48), i * 48, &out));
        assert_int_equal(out.node, (uint32_t)i);
    }
    count = 0;
    for (unsigned i = 0; i < MT_SHARDS; i++)
        count += t.shards[i].count;
    assert_int_equal(count, 0);
    assert_true(mt__live_memory(&t) > 0);
    mt__live_destroy(&t);
}

/* ---- call tree */

static void test_calltree_interns_once(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    uint64_t a[] = {0x30, 0x20, 0x10}; /* innermost first: 0x10 is main */
    uint64_t b[] = {0x31, 0x20, 0x10}; /* shares 0x10 -> 0x20 with a */
    uint64_t c[] = {0x20, 0x10};       /* a prefix of both */
    uint32_t na = path_node(e, a, 3), nb = path_node(e, b, 3), nc = path_node(e, c, 2);
    assert_int_equal(path_node(e, a, 3), na);
    assert_int_not_equal(na, nb);
    assert_int_equal(mt__tree_node(&e->tree, na)->parent, nc);
    assert_int_equal(mt__tree_node(&e->tree, nb)->parent, nc);
    assert_int_equal(mt__tree_node(&e->tree, na)->frame, 0x30);
    assert_int_equal(mt__tree_count(&e->tree), 5); /* root, 0x10, 0x20, 0x30, 0x31 */
    assert_true(mt__tree_matches(&e->tree, na, a, 3));
    assert_false(mt__tree_matches(&e->tree, na, b, 3));
    assert_false(mt__tree_matches(&e->tree, nc, a, 3));
    assert_int_equal(path_node(e, a, 0), 0);
    /* Many distinct paths force the index to grow; all stay findable. */
    for (uint64_t i = 0; i < 50000; i++) {
        uint64_t p[] = {0x1000 + i, 0x20, 0x10};
        uint32_t id = path_node(e, p, 3);
        assert_int_equal(path_node(e, p, 3), id);
        assert_int_equal(mt__tree_node(&e->tree, id)->parent, nc);
    }
    assert_int_equal(mt__tree_count(&e->tree), 5 + 50000);
    mt__engine_destroy(e);
}

/* ---- counters, peaks, temporary */

static void test_counts_and_unknown_frees(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    mt_thread_t *t = mt__thread_attach(e, 100);
    uint64_t f1[] = {0xa1, 0x10}, f2[] = {0xa2, 0x10};
    mt__engine_alloc(t, 0x1000, 100, 0, f1, 2);
    mt__engine_alloc(t, 0x2000, 200, 0, f1, 2);
    mt__engine_alloc(t, 0x3000, 300, 0, f2, 2);
    assert_true(mt__engine_free(t, 0x2000));
    assert_false(mt__engine_free(t, 0x2000)); /* double free: unknown */
    assert_false(mt__engine_free(t, 0x9999)); /* never allocated */
    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    assert_int_equal(tot.allocations, 3);
    assert_int_equal(tot.allocated_bytes, 600);
    assert_int_equal(tot.frees, 1);
    assert_int_equal(tot.freed_bytes, 200);
    assert_int_equal(tot.unknown_frees, 2);
    assert_int_equal(tot.live_bytes, 400);
    assert_int_equal(tot.peak_bytes, 600);

    uint32_t n;
    uint64_t peak;
    mt_node_figs_t *figs = node_figures(e, &n, &peak);
    uint32_t a = path_node(e, f1, 2), b = path_node(e, f2, 2);
    assert_int_equal(figs[a].allocations, 2);
    assert_int_equal(figs[a].bytes, 300);
    assert_int_equal(figs[a].live_blocks, 1);
    assert_int_equal(figs[a].live_bytes, 100);
    assert_int_equal(figs[a].peak_blocks, 2);
    assert_int_equal(figs[a].peak_bytes, 300);
    assert_int_equal(figs[b].peak_bytes, 300);
    free(figs);
    mt__engine_destroy(e);
}

/* Phases: A holds 3000 then frees all; B holds 5000 (the peak) from two paths; C holds 1000.
 * The contributors at the peak are exactly B's two paths, though all of B is freed since. */
static void test_peak_contributors_exact(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    mt_thread_t *t = mt__thread_attach(e, 1);
    uint64_t pa[] = {0xa, 1}, pb1[] = {0xb1, 1}, pb2[] = {0xb2, 1}, pc[] = {0xc, 1};
    for (uint64_t i = 0; i < 3; i++)
        mt__engine_alloc(t, 0x100 + i * 16, 1000, 0, pa, 2);
    for (uint64_t i = 0; i < 3; i++)
        mt__engine_free(t, 0x100 + i * 16);
    for (uint64_t i = 0; i < 4; i++)
        mt__engine_alloc(t, 0x200 + i * 16, 1000, 0, pb1, 2);
    mt__engine_alloc(t, 0x300, 1000, 0, pb2, 2);
    for (uint64_t i = 0; i < 4; i++)
        mt__engine_free(t, 0x200 + i * 16);
    mt__engine_free(t, 0x300);
    mt__engine_alloc(t, 0x400, 1000, 0, pc, 2);

    uint32_t n;
    uint64_t peak;
    mt_node_figs_t *figs = node_figures(e, &n, &peak);
    assert_int_equal(peak, 5000);
    assert_int_equal(figs[path_node(e, pa, 2)].peak_bytes, 0);
    assert_int_equal(figs[path_node(e, pb1, 2)].peak_bytes, 4000);
    assert_int_equal(figs[path_node(e, pb1, 2)].peak_blocks, 4);
    assert_int_equal(figs[path_node(e, pb2, 2)].peak_bytes, 1000);
    assert_int_equal(figs[path_node(e, pc, 2)].peak_bytes, 0);
    assert_int_equal(figs[path_node(e, pc, 2)].live_bytes, 1000);
    assert_int_equal(t->peak_bytes, 5000);
    free(figs);

    /* A later, higher peak replaces the earlier contributors entirely. */
    mt__engine_alloc(t, 0x500, 4500, 0, pa, 2);
    mt__engine_free(t, 0x500);
    figs = node_figures(e, &n, &peak);
    assert_int_equal(peak, 5500);
    assert_int_equal(figs[path_node(e, pb1, 2)].peak_bytes, 0);
    assert_int_equal(figs[path_node(e, pa, 2)].peak_bytes, 4500);
    assert_int_equal(figs[path_node(e, pc, 2)].peak_bytes, 1000);
    free(figs);
    mt__engine_destroy(e);
}

static void test_temporary_allocations(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    mt_thread_t *t = mt__thread_attach(e, 1), *u = mt__thread_attach(e, 2);
    uint64_t p[] = {0x77};
    mt__engine_alloc(t, 0x10, 8, 0, p, 1);
    mt__engine_free(t, 0x10); /* temporary */
    mt__engine_alloc(t, 0x20, 8, 0, p, 1);
    mt__engine_alloc(t, 0x30, 8, 0, p, 1);
    mt__engine_free(t, 0x20); /* another allocation in between: not temporary */
    mt__engine_free(u, 0x30); /* freed by another thread: not temporary */
    mt__engine_alloc(t, 0x40, 8, 0, p, 1);
    mt__engine_free(t, 0x40); /* temporary */
    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    assert_int_equal(tot.temporary, 2);
    assert_int_equal(t->temporary, 2);
    assert_int_equal(u->frees, 1);
    /* Per-thread live bytes are those of blocks the thread allocated, wherever freed. */
    assert_int_equal(t->remote_freed_bytes, 8);
    uint32_t n;
    uint64_t peak;
    mt_node_figs_t *figs = node_figures(e, &n, &peak);
    assert_int_equal(figs[path_node(e, p, 1)].temporary, 2);
    free(figs);
    mt__engine_destroy(e);
}

static void test_realloc_take_and_put_back(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    mt_thread_t *t = mt__thread_attach(e, 1);
    uint64_t p[] = {0x5};
    mt__engine_alloc(t, 0x100, 50, 0, p, 1);
    mt_block_t b;
    assert_true(mt__engine_take(t, 0x100, &b));
    assert_false(mt__engine_free(t, 0x100)); /* taken: not in the table meanwhile */
    mt__engine_put_back(t, &b);              /* the realloc failed */
    assert_true(mt__engine_take(t, 0x100, &b));
    mt__engine_free_taken(t, &b); /* the realloc succeeded */
    mt__engine_alloc(t, 0x200, 80, 0, p, 1);
    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    assert_int_equal(tot.allocations, 2);
    assert_int_equal(tot.frees, 1);
    assert_int_equal(tot.unknown_frees, 1);
    assert_int_equal(tot.live_bytes, 80);
    assert_int_equal(tot.peak_bytes, 80);
    mt__engine_destroy(e);
}

static void test_thread_detach_keeps_figures(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    mt_thread_t *t = mt__thread_attach(e, 1);
    uint64_t p[] = {0x9};
    for (uint64_t i = 0; i < 1000; i++)
        mt__engine_alloc(t, 0x1000 + i * 16, 10, 0, p, 1);
    mt__thread_detach(t);
    assert_true(t->end_ns > 0);
    /* The record still works after detach (allocations from late TLS destructors). */
    mt__engine_alloc(t, 0x100000, 10, 0, p, 1);
    uint32_t n;
    uint64_t peak;
    mt_node_figs_t *figs = node_figures(e, &n, &peak);
    assert_int_equal(figs[path_node(e, p, 1)].allocations, 1001);
    assert_int_equal(figs[path_node(e, p, 1)].live_blocks, 1001);
    free(figs);
    mt__engine_destroy(e);
}

typedef struct tfigs_s {
    mt_nodemap_t *m;
    uint64_t peak;
} tfigs_t;

static void add_thread_live(const mt_block_t *b, void *ctx)
{
    tfigs_t *f = ctx;
    assert_int_equal(mt__thread_figs_add_live(&f->m, b, f->peak, f->peak, 0), 0);
}

/* The node figures by allocating thread, as the capture writer computes them. */
static mt_nodemap_t *thread_figures(mt_engine_t *e)
{
    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    tfigs_t f = {mt__engine_thread_figures(e, 0), tot.peak_bytes};
    assert_non_null(f.m);
    for (unsigned i = 0; i < MT_SHARDS; i++)
        mt__shard_foreach(&e->live.shards[i], add_thread_live, &f);
    return f.m;
}

/* One slot's figures: allocations, bytes, peak blocks, peak bytes (of the peak `tag`). */
static void expect_slot(mt_nodemap_t *m, uint32_t node, uint32_t owner, uint64_t tag,
                        uint64_t allocations, uint64_t bytes, uint64_t peak_blocks,
                        uint64_t peak_bytes)
{
    mt_nstat_t *s = mt__nodemap_find(m, node, owner);
    assert_non_null(s);
    assert_int_equal(s->allocations, allocations);
    assert_int_equal(s->bytes, bytes);
    assert_int_equal(s->peak_tag == tag ? s->peak_blocks : 0, peak_blocks);
    assert_int_equal(s->peak_tag == tag ? s->peak_bytes : 0, peak_bytes);
}

/* Every figure goes to the thread that allocated the block, wherever it is freed: a block of
 * thread A live at the peak and freed by B after it counts at the peak for A. */
static void test_figures_by_allocating_thread(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    mt_thread_t *a = mt__thread_attach(e, 1), *b = mt__thread_attach(e, 2);
    uint64_t pa[] = {0xa}, pb[] = {0xb};
    mt__engine_alloc(a, 0x100, 100, 0, pa, 1);
    mt__engine_alloc(a, 0x200, 100, 0, pa, 1);
    mt__engine_alloc(b, 0x300, 50, 0, pb, 1);
    mt__engine_free(b, 0x100); /* after the peak of 250, by the other thread */
    mt__engine_alloc(b, 0x400, 30, 0, pa, 1);
    mt__engine_free(b, 0x400); /* temporary, never at the peak */
    uint32_t na = path_node(e, pa, 1), nb = path_node(e, pb, 1);

    mt_nodemap_t *m = thread_figures(e);
    expect_slot(m, na, a->index + 1, 250, 2, 200, 2, 200);
    expect_slot(m, na, b->index + 1, 250, 1, 30, 0, 0);
    expect_slot(m, nb, b->index + 1, 250, 1, 50, 1, 50);
    assert_null(mt__nodemap_find(m, nb, a->index + 1));
    assert_int_equal(mt__nodemap_find(m, na, b->index + 1)->temporary, 1);
    mt__nodemap_free(m);

    /* A thread that ends keeps its figures, under its own number. */
    mt__thread_detach(a);
    m = thread_figures(e);
    expect_slot(m, na, a->index + 1, 250, 2, 200, 2, 200);
    expect_slot(m, nb, b->index + 1, 250, 1, 50, 1, 50);
    assert_false(a->figures_merged);
    mt__nodemap_free(m);

    /* Past retired_keep slots, the figures of threads that end are merged, and said to be. */
    e->retired_keep = 1;
    mt_thread_t *c = mt__thread_attach(e, 3);
    mt__engine_alloc(c, 0x500, 7, 0, pb, 1);
    mt__thread_detach(c);
    assert_true(c->figures_merged);
    m = thread_figures(e);
    expect_slot(m, nb, MT_OWNER_MERGED, 250, 1, 7, 0, 0);
    assert_null(mt__nodemap_find(m, nb, c->index + 1));
    expect_slot(m, na, a->index + 1, 250, 2, 200, 2, 200);
    mt__nodemap_free(m);
    mt__engine_destroy(e);
}

/* When a stage ends, the contributors kept of its peak say which thread allocated them. */
static void test_best_period_keeps_threads(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    mt_thread_t *a = mt__thread_attach(e, 1), *b = mt__thread_attach(e, 2);
    uint64_t pa[] = {0xa}, pb[] = {0xb};
    mt__engine_alloc(a, 0x100, 100, 0, pa, 1);
    mt__engine_alloc(b, 0x200, 50, 0, pb, 1);
    mt__engine_free(b, 0x100); /* a's block, live at the peak of 150, freed by b */
    assert_int_equal(mt__engine_new_period(e, "next", false, mt__engine_now(e), 0), 0);
    uint32_t na = path_node(e, pa, 1), nb = path_node(e, pb, 1);
    assert_int_equal(e->best_bytes, 150);
    assert_int_equal(e->nbest, 2);
    for (uint32_t i = 0; i < e->nbest; i++) {
        const mt_contrib_t *c = &e->best[i];
        if (c->node == na) {
            assert_int_equal(c->owner, a->index + 1);
            assert_int_equal(c->bytes, 100);
        } else {
            assert_int_equal(c->node, nb);
            assert_int_equal(c->owner, b->index + 1);
            assert_int_equal(c->bytes, 50);
        }
        assert_int_equal(c->blocks, 1);
    }
    mt__engine_destroy(e);
}

/* ---- concurrency: exact counts with cross-thread frees */

#define NTHREADS 8
#define ROUNDS   20000

typedef struct worker_s {
    mt_engine_t *e;
    int id;
    uint64_t *handoff; /* blocks this worker hands to the next one to free */
    pthread_barrier_t *barrier;
} worker_t;

static void *churn(void *arg)
{
    worker_t *w = arg;
    mt_thread_t *t = mt__thread_attach(w->e, 1000 + (uint64_t)w->id);
    uint64_t frames[3] = {0x500 + (uint64_t)(w->id % 3), 0x400, 0x300};
    uint64_t base = ((uint64_t)w->id + 1) << 32;
    for (uint64_t i = 0; i < ROUNDS; i++) {
        uint64_t a = base + i * 32;
        mt__engine_alloc(t, a, 1 + (i % 64), 0, frames, 3);
        if (i % 4 == 0)
            w->handoff[i / 4] = a; /* freed by the next thread */
        else
            mt__engine_free(t, a);
    }
    pthread_barrier_wait(w->barrier);
    /* Free the neighbour's hand-offs, except the last 10 (they stay live). */
    uint64_t *theirs = w[(w->id + 1) % NTHREADS - w->id].handoff;
    for (uint64_t i = 0; i < ROUNDS / 4 - 10; i++)
        mt__engine_free(t, theirs[i]);
    return NULL;
}

static void test_concurrent_exact_counts(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    worker_t w[NTHREADS];
    pthread_t th[NTHREADS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker_t){e, i, calloc(ROUNDS / 4, sizeof(uint64_t)), &barrier};
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, churn, &w[i]);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);

    mt_totals_t tot;
    mt__engine_totals(e, mt__engine_now(e), &tot);
    uint64_t live_blocks = NTHREADS * 10;
    uint64_t live_bytes = 0, all_bytes = 0;
    for (uint64_t i = 0; i < ROUNDS; i++)
        all_bytes += 1 + (i % 64);
    for (uint64_t i = ROUNDS / 4 - 10; i < ROUNDS / 4; i++)
        live_bytes += 1 + ((i * 4) % 64);
    live_bytes *= NTHREADS;
    assert_int_equal(tot.allocations, NTHREADS * ROUNDS);
    assert_int_equal(tot.allocated_bytes, NTHREADS * all_bytes);
    assert_int_equal(tot.frees, NTHREADS * ROUNDS - live_blocks);
    assert_int_equal(tot.live_bytes, live_bytes);
    assert_int_equal(tot.unknown_frees, 0);

    uint32_t n;
    uint64_t peak;
    mt_node_figs_t *figs = node_figures(e, &n, &peak);
    uint64_t sum_live_blocks = 0, sum_live_bytes = 0, sum_peak = 0, sum_allocs = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum_live_blocks += figs[i].live_blocks;
        sum_live_bytes += figs[i].live_bytes;
        sum_peak += figs[i].peak_bytes;
        sum_allocs += figs[i].allocations;
    }
    assert_int_equal(sum_live_blocks, live_blocks);
    assert_int_equal(sum_live_bytes, live_bytes);
    assert_int_equal(sum_allocs, NTHREADS * ROUNDS);
    /* The contributors at the peak add up to the peak exactly, whatever the interleaving. */
    assert_int_equal(sum_peak, peak);
    assert_true(peak >= live_bytes);
    for (uint32_t i = 0; i < mt__engine_thread_count(e); i++) {
        mt_thread_t *t = mt__engine_thread(e, i);
        assert_int_equal(t->allocations, ROUNDS);
        uint64_t live = t->allocated_bytes - t->own_freed_bytes - t->remote_freed_bytes;
        assert_int_equal(live, live_bytes / NTHREADS);
    }
    free(figs);
    for (int i = 0; i < NTHREADS; i++)
        free(w[i].handoff);
    pthread_barrier_destroy(&barrier);
    mt__engine_destroy(e);
}

/* ---- classes: striped counts and the event queue, from several threads at once */

#define CLASS_THREADS 4
#define CLASS_ROUNDS  5000

typedef struct class_worker_s {
    mt_engine_t *e;
    uint32_t cls;
    int id;
} class_worker_t;

static void *class_churn(void *arg)
{
    class_worker_t *w = arg;
    mt_thread_t *t = mt__thread_attach(w->e, 2000 + (uint64_t)w->id);
    uint64_t frames[1] = {0x700};
    uint64_t base = ((uint64_t)w->id + 1) << 32;
    for (uint64_t i = 0; i < CLASS_ROUNDS; i++) {
        mt__engine_alloc(t, base + i * 16, 8, w->cls, frames, 1);
        if (i % 2) mt__engine_free(t, base + i * 16);
    }
    return NULL;
}

static _Atomic int class_done;

static void *class_consumer(void *arg)
{
    class_worker_t *w = arg;
    mt_class_t *k = mt__class_at(&w->e->classes, w->cls);
    mt_event_t ev[64];
    uint64_t *counts = calloc(2, sizeof(uint64_t));
    for (;;) {
        int done = atomic_load(&class_done);
        uint32_t n = mt__class_take_events(k, ev, 64, UINT32_MAX - 20);
        for (uint32_t i = 0; i < n; i++)
            counts[ev[i].is_free]++;
        if (!n && done) break;
    }
    return counts;
}

static void test_classes_concurrent(void **state)
{
    (void)state;
    mt_engine_t *e = new_engine();
    uint32_t cls;
    assert_int_equal(mt__class_intern(&e->classes, "Hash", &cls), 0);
    uint32_t again;
    assert_int_equal(mt__class_intern(&e->classes, "Hash", &again), 0);
    assert_int_equal(again, cls);
    assert_int_not_equal(cls, MT_CLASS_UNTAGGED);
    mt_store_release(&mt__class_at(&e->classes, cls)->watched, 1);

    class_worker_t w[CLASS_THREADS], cw = {e, cls, 99};
    pthread_t th[CLASS_THREADS], consumer;
    pthread_create(&consumer, NULL, class_consumer, &cw);
    for (int i = 0; i < CLASS_THREADS; i++) {
        w[i] = (class_worker_t){e, cls, i};
        pthread_create(&th[i], NULL, class_churn, &w[i]);
    }
    for (int i = 0; i < CLASS_THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&class_done, 1);
    uint64_t *events;
    pthread_join(consumer, (void **)&events);

    mt_class_counts_t c;
    mt__engine_class_counts(e, cls, &c);
    assert_int_equal(c.new_count, CLASS_THREADS * CLASS_ROUNDS);
    assert_int_equal(c.free_count, CLASS_THREADS * CLASS_ROUNDS / 2);
    assert_int_equal(c.new_bytes, 8ull * CLASS_THREADS * CLASS_ROUNDS);
    assert_int_equal(events[0], CLASS_THREADS * CLASS_ROUNDS);     /* every allocation */
    assert_int_equal(events[1], CLASS_THREADS * CLASS_ROUNDS / 2); /* and every free */
    /* Nothing was untagged: its counts, derived from the totals, are zero. */
    mt__engine_class_counts(e, MT_CLASS_UNTAGGED, &c);
    assert_int_equal(c.new_count, 0);
    assert_int_equal(c.free_count, 0);
    free(events);
    mt__engine_destroy(e);
}

/* ---- the timeline: bounded, thinned evenly, in time order */

static void test_timeline_thinning(void **state)
{
    (void)state;
    mt_timeline_t tl = {0};
    for (uint64_t i = 0; i < 3 * MT_TIMELINE_MAX; i++) {
        mt_sample_t s = {i * MT_TIMELINE_INTERVAL, i, i, 0};
        mt__timeline_add(&tl, &s, false);
    }
    /* Full twice: every other sample dropped each time, the interval doubled each time. */
    assert_true(tl.count <= MT_TIMELINE_MAX);
    assert_int_equal(tl.interval_ns, 4 * MT_TIMELINE_INTERVAL);
    assert_int_equal(tl.samples[0].t_ns, 0);
    for (uint32_t i = 1; i < tl.count; i++) {
        assert_true(tl.samples[i].t_ns > tl.samples[i - 1].t_ns);
        assert_true(tl.samples[i].t_ns - tl.samples[i - 1].t_ns <= 4 * MT_TIMELINE_INTERVAL);
    }
    /* Too early for the pace: dropped, unless forced (a capture's moment). */
    mt_sample_t last = tl.samples[tl.count - 1], early = {last.t_ns + 1, 7, 7, 0};
    uint32_t n = tl.count;
    mt__timeline_add(&tl, &early, false);
    assert_int_equal(tl.count, n);
    mt__timeline_add(&tl, &early, true);
    assert_int_equal(tl.count, n + 1);
    /* A forced sample that comes late in the lock keeps the order. */
    mt_sample_t behind = {last.t_ns - 5, 9, 9, 0};
    mt__timeline_add(&tl, &behind, true);
    assert_int_equal(tl.samples[tl.count - 1].t_ns, early.t_ns);
    assert_int_equal(tl.samples[tl.count - 1].live_bytes, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_table_grows_and_shrinks),
        cmocka_unit_test(test_calltree_interns_once),
        cmocka_unit_test(test_counts_and_unknown_frees),
        cmocka_unit_test(test_peak_contributors_exact),
        cmocka_unit_test(test_temporary_allocations),
        cmocka_unit_test(test_realloc_take_and_put_back),
        cmocka_unit_test(test_thread_detach_keeps_figures),
        cmocka_unit_test(test_figures_by_allocating_thread),
        cmocka_unit_test(test_best_period_keeps_threads),
        cmocka_unit_test(test_concurrent_exact_counts),
        cmocka_unit_test(test_classes_concurrent),
        cmocka_unit_test(test_timeline_thinning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
