/* The engine: what front ends (the preload library, the C API, the Ruby extension) call to
 * record allocations and frees, and what the capture writer reads. It knows nothing of malloc
 * or Ruby: blocks are (address, size) pairs and frames are opaque integers. */
#ifndef MT_CORE_ENGINE_H
#define MT_CORE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/atomics.h"
#include "core/calltree.h"
#include "core/classes.h"
#include "core/live_table.h"
#include "core/names.h"
#include "core/lock.h"
#include "core/nodemap.h"
#include "core/os.h"
#include "core/sampler.h"
#include "core/timeline.h"

#define MT_DEPTH_DEFAULT 64
#define MT_DEPTH_MAX     256
#define MT_PCACHE_SIZE   1024 /* per-thread call-path cache entries */
#define MT_THREAD_DIR    1024 /* thread registry: MT_THREAD_DIR chunks of 1024 records */
#define MT_THREADS_MAX   (MT_THREAD_DIR * 1024)
#define MT_RETIRED_KEEP  (1u << 16) /* retired node figures kept per thread (threads.c) */

typedef struct mt_engine_s mt_engine_t;

/* A moment: nanoseconds since the engine started, and the tick count then. Every time of one
 * capture or query is converted from ticks against the same moment, so times of one event
 * agree wherever they are shown, and none passes the moment. */
typedef struct mt_timebase_s {
    uint64_t ns, ticks;
} mt_timebase_t;

/* A call path's share of a peak (and the allocating thread's, where kept). */
typedef struct mt_contrib_s {
    uint32_t node;
    uint32_t owner; /* thread index + 1 (MT_OWNER_MERGED: unknown); 0 where not kept */
    uint64_t blocks, bytes;
} mt_contrib_t;

#define MT_STAGE_NAME_MAX 63
#define MT_STAGE_TOP      16 /* contributors kept per stage */

/* A period between two peak resets: a named stage (memtrack_stage_begin), or the unnamed time
 * before the first stage, between stages, or after a peak reset within a stage (which keeps
 * the stage's name). Its peak and top contributors are exact; they are final once it ends. */
typedef struct mt_stage_s {
    char name[MT_STAGE_NAME_MAX + 1];
    /* Times as tick counts (mt__os_ticks), converted when a capture is written, so that the
     * times of all periods and their peaks are converted against one moment and agree. */
    uint64_t start_ticks, end_ticks; /* end_ticks 0: the current period */
    uint64_t peak_bytes, peak_ticks;
    uint32_t ntop;
    mt_contrib_t top[MT_STAGE_TOP]; /* biggest first */
    struct mt_stage_s *next;
} mt_stage_t;

/* What is recorded of each allocation (the capture's META.mode). */
typedef enum mt_mode_e {
    MT_MODE_FULL = 0,   /* a call path for every allocation */
    MT_MODE_COUNT = 1,  /* counts only; call paths just for classes that ask for them */
    MT_MODE_SAMPLE = 2, /* call paths for a byte-weighted sample (sampler.h); counts exact */
} mt_mode_t;

typedef struct mt_config_s {
    unsigned depth; /* frames kept per call path, 1..MT_DEPTH_MAX */
    mt_mode_t mode;
    uint64_t sample_mean; /* sample mode: mean bytes between samples, 1..MT_SAMPLE_MEAN_MAX */
    uint64_t seed;        /* sample mode: the samplers' seed (the same seed, the same samples) */
} mt_config_t;

/* The node of a block recorded without a call path in sample mode (the sampler passed it
 * over): it counts in every total but in no node's figures, and the capture lists it in no
 * LIVE section. */
#define MT_NODE_NONE UINT32_MAX

/* Engine flags, reported in the capture's META.flags. */
#define MT_ENGINE_DEGRADED 0x1u
#define MT_ENGINE_TRUNCSTK 0x4u

typedef struct mt_pcache_s {
    uint64_t hash;
    uint32_t node;
    uint32_t nframes;
} mt_pcache_t;

/* One thread's record. Counters are written by the owning thread only (relaxed stores, so the
 * capture writer can read them untorn); the remote_freed pair is the exception, updated with
 * atomic adds by other threads freeing this thread's blocks, on a cache line of its own. */
typedef struct mt_thread_s {
    mt_engine_t *engine;
    uint32_t index; /* in the registry; the capture's thread number */
    uint32_t self;  /* index + 1: the lock owner id */
    uint64_t tid;
    char name[16];
    uint64_t start_ns;
    _Atomic uint64_t end_ns; /* 0 while running */

    _Atomic uint64_t allocations, allocated_bytes;
    _Atomic uint64_t frees, freed_bytes; /* frees this thread made, of anyone's blocks */
    _Atomic uint64_t temporary, unknown_frees;
    _Atomic uint64_t own_freed_blocks, own_freed_bytes; /* its own blocks it freed itself */
    _Atomic uint64_t peak_bytes, peak_ticks;   /* high-water mark of its live bytes, and when */
    _Atomic uint64_t gpeak_value, gpeak_ticks; /* the last global peak it set (a peak tag), when */
    _Atomic uint64_t sampled;                  /* sample mode: allocations given a call path */
    uint64_t last_alloc;                       /* for temporary allocations */
    mt_sampler_t sampler;                      /* sample mode: owner only */
    int no_events; /* set while this thread runs callbacks: it queues no events */
    /* 1 once the thread ended and its node figures were merged with other ended threads'. */
    _Atomic uint32_t figures_merged;

    /* 1 while the owner is recording an event: the capture writer waits for it to drop to 0
     * (mt__engine_quiesce) so that a capture is one consistent moment. */
    _Atomic uint32_t active;

    mt_lock_t maplock; /* guards `map` being replaced; the owner's updates go without it */
    mt_nodemap_t *map;
    mt_pcache_t *cache;

    _Alignas(64) _Atomic uint64_t remote_freed_blocks;
    _Atomic uint64_t remote_freed_bytes;
} __attribute__((aligned(64))) mt_thread_t;

struct mt_engine_s {
    /* lo: live bytes, hi: the peak of live bytes. Updated together, so every operation gets the
     * exact peak before and after it, and the peak is exact under any number of threads. */
    _Alignas(64) volatile unsigned __int128 global;
    char pad_global[48];

    mt_config_t config;
    uint64_t start_ns, start_realtime_ns, start_ticks;
    mt_live_t live;
    mt_tree_t tree;
    mt_classes_t classes;
    mt_names_t names;
    mt_timeline_t timeline;

    mt_lock_t registry_lock;
    mt_thread_t **threads[MT_THREAD_DIR];
    _Atomic uint32_t nthreads;

    mt_lock_t retired_lock; /* figures of node maps of threads that ended */
    mt_nodemap_t *retired;
    uint32_t retired_keep; /* MT_RETIRED_KEEP (tests lower it) */

    _Atomic uint64_t dropped; /* events lost for lack of engine memory, or missed frees */
    _Atomic uint32_t flags;

    /* Periods (stages.c). The global pair's `hi` is the peak of the current period; peaks of
     * ended periods are kept here, and the best of them with all its contributors. */
    uint64_t period;            /* number of the current period; peak tags carry it */
    mt_stage_t *stages, *stage; /* all periods, oldest first; the current one */
    uint64_t best_bytes, best_ticks;
    uint64_t period_ticks; /* when the current period began (the time of its first peak) */
    mt_contrib_t *best;    /* contributors of the best ended period (arena) */
    uint32_t nbest, best_cap;
};

/* The tag under which frees of blocks live at the current period's peak `peak` are filed
 * (nodemap.h): the period number above the 48 bits of the peak's bytes. */
static inline uint64_t mt__peak_tag(const mt_engine_t *e, uint64_t peak)
{
    return (e->period << 48) | (peak & ((1ull << 48) - 1));
}

/* Creates an engine whose memory comes from mmap. NULL without memory or with a bad config. */
mt_engine_t *mt__engine_create(const mt_config_t *config);

/* How many frames to record for an allocation of class `cls`: the class's own depth if it
 * asked for one, else the configured depth in full and sample mode and none in count mode. In
 * sample mode only allocations the sampler chose (mt__engine_sampled) are recorded with a
 * path, whatever their class. */
static inline unsigned mt__engine_depth(mt_engine_t *e, uint32_t cls)
{
    if (cls) {
        /* Relaxed: a setting; an allocation racing with its change may use either value. */
        unsigned d = mt_load_relaxed(&mt__class_at(&e->classes, cls)->depth);
        if (d) return d;
    }
    return e->config.mode != MT_MODE_COUNT ? e->config.depth : 0;
}

/* Sample mode: whether `t`'s allocation of `size` bytes gets a call path (sampler.h). The
 * common answer, no, costs a compare and a subtraction on the thread's own record. */
static inline bool mt__engine_sampled(mt_thread_t *t, uint64_t size)
{
    const mt_config_t *c = &t->engine->config;
    return mt__sampler_take(&t->sampler, size, c->sample_mean, c->seed, t->index);
}

/* Frees an engine no thread uses any more (tests; the preload engine lives as long as the
 * process). */
void mt__engine_destroy(mt_engine_t *e);

/* Registers the calling thread; NULL without memory or past MT_THREADS_MAX threads. */
mt_thread_t *mt__thread_attach(mt_engine_t *e, uint64_t tid);
/* The thread has ended: its figures are kept, its caches released. Calls made through it
 * afterwards still work (they rebuild what they need). */
void mt__thread_detach(mt_thread_t *t);
void mt__thread_set_name(mt_thread_t *t, const char *name);

/* Records that `t` allocated `size` bytes of class `cls` at `addr` with the call path
 * frames[0..n) (innermost first, n <= depth). A tagged block's path gets its class's marker
 * frame as the outermost frame (classes.h). */
void mt__engine_alloc(mt_thread_t *t, uint64_t addr, uint64_t size, uint32_t cls,
                      const uint64_t *frames, unsigned n);
/* Sample mode: records an allocation the sampler passed over. It counts everywhere (totals,
 * threads, classes, peaks) but has no call path (MT_NODE_NONE). In sample mode a block recorded
 * with mt__engine_alloc is a sampled one: its node's figures grow by its estimate (sampler.h),
 * not by one block of `size` bytes. */
void mt__engine_alloc_unsampled(mt_thread_t *t, uint64_t addr, uint64_t size, uint32_t cls);
/* Records a free. Returns false (and counts an unknown free) when addr is not live. */
bool mt__engine_free(mt_thread_t *t, uint64_t addr);

/* For realloc, which must remove the old block before the real call (so its address cannot be
 * handed out and recorded by another thread first) and may fail: take removes the block
 * without accounting, then either put_back (the call failed) or free_taken. */
bool mt__engine_take(mt_thread_t *t, uint64_t addr, mt_block_t *out);
void mt__engine_put_back(mt_thread_t *t, const mt_block_t *b);
void mt__engine_free_taken(mt_thread_t *t, const mt_block_t *b);
void mt__engine_unknown_free(mt_thread_t *t);

/* The front end saw a call path longer than the depth: say so in the capture. */
void mt__engine_note_truncated(mt_engine_t *e);

/* ---- reading the engine (the capture writer) ---- */

typedef struct mt_totals_s {
    uint64_t allocations, frees, allocated_bytes, freed_bytes;
    uint64_t temporary, unknown_frees;
    uint64_t peak_bytes, peak_time_ns; /* global */
    uint64_t peak_ticks;               /* peak_time_ns as a tick count */
    uint64_t live_bytes;               /* from the global counter */
} mt_totals_t;

/* `now`: the moment of the capture or query (mt__engine_now), for the peak's time. */
void mt__engine_totals(mt_engine_t *e, mt_timebase_t now, mt_totals_t *out);

/* Forgets everything recorded: live blocks, counters, node figures, peaks, class counts. Call
 * paths, classes and threads stay registered. No other thread may use the engine meanwhile.
 * Returns -1 when memory ran out rebuilding the live table (the engine is then unusable). */
int mt__engine_clear(mt_engine_t *e);

/* The counts of class `cls`. O(1) for a tagged class; the untagged class's are derived from
 * the totals (O(threads + classes)). */
void mt__engine_class_counts(mt_engine_t *e, uint32_t cls, mt_class_counts_t *out);

/* Waits until no thread but `self` is recording an event (their `active` flags are 0), at most
 * `max_ns`. The caller has already stopped new events from starting and made that visible
 * (a fence on every side, or mt__os_membarrier). Returns false on time-out. */
bool mt__engine_quiesce(mt_engine_t *e, const mt_thread_t *self, uint64_t max_ns);

static inline mt_timebase_t mt__engine_now(const mt_engine_t *e)
{
    mt_timebase_t tb = {mt__os_now_ns() - e->start_ns, mt__os_ticks()};
    return tb;
}

/* Nanoseconds since the engine started for a tick count taken between its start and `now`
 * (ticks run at a constant rate, but an unknown one: the two points calibrate it). */
uint64_t mt__engine_ticks_ns(const mt_engine_t *e, mt_timebase_t now, uint64_t ticks);

/* The time of `t`'s own peak, in nanoseconds since the engine started. */
uint64_t mt__thread_peak_time(mt_thread_t *t, mt_timebase_t now);

static inline uint32_t mt__engine_thread_count(mt_engine_t *e)
{
    return mt_load_acquire(&e->nthreads);
}

static inline mt_thread_t *mt__engine_thread(mt_engine_t *e, uint32_t i)
{
    return e->threads[i >> 10][i & 1023];
}

/* Figures of one node, merged from every thread. */
typedef struct mt_node_figs_s {
    uint64_t allocations, bytes, temporary;
    uint64_t peak_blocks, peak_bytes;
    uint64_t live_blocks, live_bytes;
} mt_node_figs_t;

/* Adds every thread's node figures into figs[0..nnodes), keeping the peak figures of blocks
 * freed after the peak `peak`. `self` is the calling thread's lock id (0 if none). */
void mt__engine_node_figures(mt_engine_t *e, mt_node_figs_t *figs, uint32_t nnodes, uint64_t peak,
                             uint32_t self);

/* Adds the figures of map m (any owner) into figs[0..nnodes), peak figures only of peak_tag. */
void mt__node_figs_add_map(mt_node_figs_t *figs, uint32_t nnodes, const mt_nodemap_t *m,
                           uint64_t peak_tag);

/* Every thread's node figures by allocating thread: a new map keyed (node, thread index + 1,
 * or MT_OWNER_MERGED for ended threads whose figures were merged), to free with
 * mt__nodemap_free; NULL without memory. It holds what the threads' maps hold: figures of
 * allocations, and of blocks freed after being live at a peak. Live blocks at the peak are
 * the caller's to add (mt__thread_figs_add_live), as it scans them anyway. In sample mode
 * its counts are in units of MT_EST_ONE until mt__thread_figs_finish. */
mt_nodemap_t *mt__engine_thread_figures(mt_engine_t *e, uint32_t self);

/* Adds live block b to such a map when it was live at `peak` (tag: its peak tag; mean: as
 * for mt__node_figs_add_live); -1 without memory. */
int mt__thread_figs_add_live(mt_nodemap_t **m, const mt_block_t *b, uint64_t peak, uint64_t tag,
                             uint64_t mean);

/* In sample mode, rounds the estimated counts of such a map to whole allocations. */
void mt__thread_figs_finish(const mt_engine_t *e, mt_nodemap_t *m);

/* Adds one live block to figs: live figures, and peak figures when it was live at `peak`.
 * `mean`: 0, or in sample mode the sampling mean, when the block adds its estimate (counts in
 * units of MT_EST_ONE until mt__node_figs_finish). */
static inline void mt__node_figs_add_live(mt_node_figs_t *figs, uint32_t nnodes,
                                          const mt_block_t *b, uint64_t peak, uint64_t mean)
{
    if (b->node >= nnodes) return; /* a node made after the writer counted them, or none */
    mt_node_figs_t *f = &figs[b->node];
    uint64_t blocks = mean ? mt__sample_count_fixed(b->size, mean) : 1;
    uint64_t bytes = mean ? mt__sample_bytes(b->size, mean) : b->size;
    f->live_blocks += blocks;
    f->live_bytes += bytes;
    if (b->peak_before < peak) {
        f->peak_blocks += blocks;
        f->peak_bytes += bytes;
    }
}

/* The sampling mean for mt__node_figs_add_live: 0 unless in sample mode. */
static inline uint64_t mt__engine_est_mean(const mt_engine_t *e)
{
    return e->config.mode == MT_MODE_SAMPLE ? e->config.sample_mean : 0;
}

/* Once every figure is added: in sample mode, turns the estimated counts (units of
 * MT_EST_ONE) into whole numbers. Nothing in the other modes. */
void mt__node_figs_finish(const mt_engine_t *e, mt_node_figs_t *figs, uint32_t nnodes);

/* Around fork(): prepare takes every engine lock so the child gets a consistent copy; release
 * lets them go in parent and child. `self` is the forking thread's record (may be NULL). */
void mt__engine_fork_prepare(mt_engine_t *e);
void mt__engine_fork_release(mt_engine_t *e);
/* In the child: threads other than `self` do not exist there; mark them ended. */
void mt__engine_after_fork_child(mt_engine_t *e, mt_thread_t *self);

uint64_t mt__engine_memory(mt_engine_t *e);

/* Takes a timeline sample now: live bytes and blocks from the engine, `rss_bytes` from the
 * front end (0 when unknown); `force` keeps it even if it comes early. O(threads). */
void mt__engine_sample(mt_engine_t *e, uint64_t rss_bytes, bool force);

/* ---- analysis (analysis.c) */

/* A call path of a class with what it holds live now and what it allocated in all. */
typedef struct mt_path_figs_s {
    uint32_t node;
    uint64_t live_blocks, live_bytes;
    uint64_t allocations, bytes;
} mt_path_figs_t;

/* The call paths of class `cls` holding the most live blocks now (then bytes), biggest first,
 * at most `max` of them into out, their number in *count. O(live blocks + nodes). Returns -1
 * without memory. */
int mt__engine_top_paths(mt_engine_t *e, uint32_t cls, mt_path_figs_t *out, size_t max,
                         size_t *count, uint32_t self);

/* The frames of node's call path, innermost first, without the class marker; at most max. */
unsigned mt__engine_path_frames(mt_engine_t *e, uint32_t node, uint64_t *frames, unsigned max);

/* ---- stages and peaks (stages.c) */

/* Ends the current period and starts a new one named `name` (NULL: unnamed; `keep_name`: the
 * current one's name), at `now` (ns since start): its peak and contributors are computed and
 * kept, and the global peak restarts from the live bytes. O(live blocks). No other thread may
 * record events meanwhile (see mt__engine_quiesce). Returns -1 without memory (the period
 * still ends, its contributors possibly incomplete: the engine is flagged degraded). */
int mt__engine_new_period(mt_engine_t *e, const char *name, bool keep_name, mt_timebase_t now,
                          uint32_t self);

/* Keeps in st->top the MT_STAGE_TOP biggest peak contributors of figs[0..nnodes). */
void mt__stage_keep_top(mt_stage_t *st, const mt_node_figs_t *figs, uint32_t nnodes);

/* The global current and peak live bytes of the current period, and the peak's time. */
void mt__engine_peak(mt_engine_t *e, mt_timebase_t now, uint64_t *current, uint64_t *peak,
                     uint64_t *peak_time_ns);

/* Forgets the calling thread's high-water mark: it restarts from its live bytes now. */
void mt__thread_peak_reset(mt_thread_t *t);

/* The thread's live bytes (of blocks it allocated) now. */
uint64_t mt__thread_live(mt_thread_t *t);

#endif
