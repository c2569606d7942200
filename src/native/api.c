/* The C API (include/memtrack.h) as the tracker implements it: each public function's
 * inline wrapper calls the memtrack__ function of the same name here. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/format.h"
#include "core/arena.h"
#include "core/lock.h"
#include "core/os.h"
#include "memtrack.h"
#include "native/native.h"

/* Start, stop, clear and snapshots change what the hooks record: one at a time. */
static mt_lock_t api_lock = MT_LOCK_INIT;
#define API_LOCK_ID (UINT32_MAX - 9)

void mt__api_lock(void)
{
    mt_lock(&api_lock, API_LOCK_ID);
}

bool mt__api_trylock(void)
{
    return mt_lock_try(&api_lock, API_LOCK_ID);
}

void mt__api_unlock(void)
{
    mt_unlock(&api_lock);
}

/* Whether tracking was ever started in this process (snapshots of nothing are refused). */
static _Atomic int ever_started;

static int started(void)
{
    return mt__autostart || mt_load_acquire(&ever_started);
}

/* The engine, created (not started) on first need; NULL when it cannot be. */
static mt_engine_t *engine(void)
{
    return mt__tracker_setup() == 0 ? mt__tracker_engine() : NULL;
}

static int class_error(mt_engine_t *e)
{
    return mt__class_count(&e->classes) >= MT_CLASSES_MAX ? MEMTRACK_ERANGE : MEMTRACK_ENOMEM;
}

static int valid_name(const char *name)
{
    size_t n = name ? strnlen(name, MT_CLASS_NAME_MAX + 1) : 0;
    return n > 0 && n <= MT_CLASS_NAME_MAX;
}

MT_EXPORT int memtrack__start(void)
{
    int saved = errno;
    int setup = mt__tracker_setup();
    if (setup != 0) return setup == -2 ? MEMTRACK_ENOTRACKER : MEMTRACK_ENOMEM;
    mt_lock(&api_lock, API_LOCK_ID);
    /* Relaxed: state changes are serialized by api_lock. */
    int was = mt_load_relaxed(&mt__tracking);
    if (was != MT_TRACK_ON) mt__tracker_switch(MT_TRACK_ON);
    mt_store_release(&ever_started, 1);
    mt_unlock(&api_lock);
    mt__background_start();
    errno = saved;
    return was != MT_TRACK_ON;
}

MT_EXPORT int memtrack__set_mode(int mode, uint64_t sample_bytes)
{
    if (mode != MEMTRACK_MODE_FULL && mode != MEMTRACK_MODE_COUNT && mode != MEMTRACK_MODE_SAMPLE)
        return MEMTRACK_EINVAL;
    if (mode == MEMTRACK_MODE_SAMPLE && sample_bytes > MT_SAMPLE_MEAN_MAX) return MEMTRACK_EINVAL;
    _Static_assert((int)MEMTRACK_MODE_FULL == (int)MT_MODE_FULL &&
                       (int)MEMTRACK_MODE_COUNT == (int)MT_MODE_COUNT &&
                       (int)MEMTRACK_MODE_SAMPLE == (int)MT_MODE_SAMPLE,
                   "the API's modes are the engine's");
    if (mt__tracker_preset_mode(mode, mode == MEMTRACK_MODE_SAMPLE ? sample_bytes : 0) != 0)
        return MEMTRACK_ESTATE;
    return MEMTRACK_OK;
}

MT_EXPORT int memtrack__mode(void)
{
    int mode = mt__tracker_mode();
    return mode < 0 ? MEMTRACK_ENOTSTARTED : mode;
}

MT_EXPORT int memtrack__stop(void)
{
    mt_lock(&api_lock, API_LOCK_ID);
    int was = mt_load_relaxed(&mt__tracking); /* relaxed: serialized by api_lock */
    if (was == MT_TRACK_ON) mt__tracker_switch(MT_TRACK_FREES);
    mt_unlock(&api_lock);
    return was == MT_TRACK_ON;
}

MT_EXPORT int memtrack__running(void)
{
    return mt_load_acquire(&mt__tracking) == MT_TRACK_ON;
}

MT_EXPORT int memtrack__clear(void)
{
    mt_engine_t *e = mt__tracker_engine();
    if (!e) return MEMTRACK_OK; /* nothing was ever recorded */
    mt_lock(&api_lock, API_LOCK_ID);
    int was = mt_load_relaxed(&mt__tracking); /* relaxed: serialized by api_lock */
    int r = MEMTRACK_ERUNNING;
    if (was != MT_TRACK_ON) {
        int busy = mt__tls.busy;
        mt__tls.busy = 1;
        mt__tracker_switch(MT_TRACK_PAUSED); /* frees of recorded blocks wait meanwhile */
        r = mt__engine_clear(e) == 0 ? MEMTRACK_OK : MEMTRACK_ENOMEM;
        mt__tracker_switch(was);
        mt__tls.busy = busy;
    }
    mt_unlock(&api_lock);
    return r;
}

static void fill_counts(memtrack_counts_t *out, uint64_t n_new, uint64_t b_new, uint64_t n_free,
                        uint64_t b_free)
{
    out->new_count = n_new;
    out->new_bytes = b_new;
    out->free_count = n_free;
    out->free_bytes = b_free;
    /* Counters of running threads are read a moment apart: never report a negative. */
    out->live_count = n_new > n_free ? n_new - n_free : 0;
    out->live_bytes = b_new > b_free ? b_new - b_free : 0;
}

MT_EXPORT int memtrack__totals(memtrack_counts_t *out)
{
    mt_engine_t *e = mt__tracker_engine();
    if (!out) return MEMTRACK_EINVAL;
    if (!e) {
        memset(out, 0, sizeof(*out));
        return MEMTRACK_OK;
    }
    mt_totals_t t;
    mt__engine_totals(e, mt__engine_now(e), &t);
    fill_counts(out, t.allocations, t.allocated_bytes, t.frees, t.freed_bytes);
    return MEMTRACK_OK;
}

MT_EXPORT int memtrack__count_for(const char *cls, memtrack_counts_t *out)
{
    if (!out || !valid_name(cls)) return MEMTRACK_EINVAL;
    mt_engine_t *e = mt__tracker_engine();
    uint32_t id;
    if (!e || !mt__class_find(&e->classes, cls, &id)) return MEMTRACK_ENOENT;
    mt_class_counts_t k;
    mt__engine_class_counts(e, id, &k);
    fill_counts(out, k.new_count, k.new_bytes, k.free_count, k.free_bytes);
    return MEMTRACK_OK;
}

MT_EXPORT int memtrack__tag_push(const char *tag)
{
    int saved = errno;
    uint32_t id = MT_CLASS_UNTAGGED;
    int r = MEMTRACK_OK;
    mt_engine_t *e;
    if (!valid_name(tag))
        r = MEMTRACK_EINVAL;
    else if (!(e = engine()))
        r = MEMTRACK_ENOMEM;
    else if (mt__class_intern(&e->classes, tag, &id) != 0)
        r = class_error(e);
    /* The scope is entered even on error (as untagged), so that the caller's pop matches. */
    mt_tls_t *tls = &mt__tls;
    if (tls->ntags < MT_TAG_STACK)
        tls->tags[tls->ntags] = id;
    else if (r == MEMTRACK_OK)
        r = MEMTRACK_ERANGE; /* deeper than the stack: tagged as the deepest kept scope */
    tls->ntags++;
    errno = saved;
    return r;
}

MT_EXPORT int memtrack__tag_pop(void)
{
    if (mt__tls.ntags == 0) return MEMTRACK_ESTATE;
    mt__tls.ntags--;
    return MEMTRACK_OK;
}

MT_EXPORT void *memtrack__calloc_tagged(size_t n, size_t size, const char *tag)
{
    memtrack__tag_push(tag); /* always enters a scope, even for a bad tag: always popped */
    void *p = calloc(n, size);
    int saved = errno;
    memtrack__tag_pop();
    errno = saved;
    return p;
}

MT_EXPORT void *memtrack__malloc_tagged(size_t size, const char *tag)
{
    memtrack__tag_push(tag); /* always enters a scope, even for a bad tag: always popped */
    void *p = malloc(size);
    int saved = errno;
    memtrack__tag_pop();
    errno = saved;
    return p;
}

MT_EXPORT int memtrack__track_paths(const char *cls, unsigned depth)
{
    if (!valid_name(cls) || depth > MT_DEPTH_MAX) return MEMTRACK_EINVAL;
    mt_engine_t *e = engine();
    uint32_t id;
    if (!e) return MEMTRACK_ENOMEM;
    if (mt__class_intern(&e->classes, cls, &id) != 0) return class_error(e);
    mt_store_relaxed(&mt__class_at(&e->classes, id)->depth, depth); /* relaxed: a setting */
    return MEMTRACK_OK;
}

int mt__tracker_snapshot_locked(const char *path)
{
    int saved = errno, busy = mt__tls.busy;
    mt__tls.busy = 1;
    int was = mt__tracker_switch(MT_TRACK_PAUSED);
    int err = mt__tracker_write(path, MT_END_SNAPSHOT, 0);
    mt__tracker_switch(was);
    mt__tls.busy = busy;
    errno = saved;
    return err;
}

int mt__tracker_snapshot(const char *path)
{
    if (mt__tracker_finished()) return EINVAL;
    int saved = errno, busy = mt__tls.busy;
    mt__tls.busy = 1;
    mt__background_sample(true);
    mt_lock(&api_lock, API_LOCK_ID);
    /* Under the lock fork() takes first (see background.c), and before pausing the hooks: a
     * thread in dlopen holding the loader's lock may need to allocate meanwhile. */
    mt__modules_refresh();
    /* Checked again under the lock, which the end takes before it closes. */
    int err = mt__tracker_finished() ? EINVAL : mt__tracker_snapshot_locked(path);
    mt_unlock(&api_lock);
    mt__tls.busy = busy;
    errno = saved;
    return err;
}

MT_EXPORT int memtrack__snapshot(const char *path)
{
    if (!path || !*path) return MEMTRACK_EINVAL;
    if (!mt__tracker_engine() || !started()) return MEMTRACK_ENOTSTARTED;
    int err = mt__tracker_snapshot(path);
    if (err) errno = err; /* the reason, as the header promises */
    return err ? MEMTRACK_EIO : MEMTRACK_OK;
}

MT_EXPORT int memtrack__peak(memtrack_peak_t *out, int thread)
{
    if (!out) return MEMTRACK_EINVAL;
    mt_engine_t *e = mt__tracker_engine();
    memset(out, 0, sizeof(*out));
    if (!e) return MEMTRACK_OK;
    if (thread) {
        mt_thread_t *t = mt__tls.thread;
        if (!t) return MEMTRACK_OK; /* this thread never allocated while tracked */
        mt_timebase_t now = mt__engine_now(e);
        out->current_bytes = mt__thread_live(t);
        /* Relaxed: the thread's own fields. */
        out->peak_bytes = mt_load_relaxed(&t->peak_bytes);
        out->peak_time_ns = mt__thread_peak_time(t, now);
        return MEMTRACK_OK;
    }
    mt__engine_peak(e, mt__engine_now(e), &out->current_bytes, &out->peak_bytes,
                    &out->peak_time_ns);
    return MEMTRACK_OK;
}

/* Ends the current period of the engine (stages.c) with the other threads paused. */
static int cut_period(const char *name, bool keep_name)
{
    mt_engine_t *e = mt__tracker_engine();
    if (!e) return MEMTRACK_ENOTSTARTED;
    int saved = errno, busy = mt__tls.busy;
    mt__tls.busy = 1;
    mt_lock(&api_lock, API_LOCK_ID);
    int was = mt__tracker_switch(MT_TRACK_PAUSED);
    mt_thread_t *self = mt__tls.thread;
    int r = mt__engine_new_period(e, name, keep_name, mt__engine_now(e), self ? self->self : 0);
    mt__tracker_switch(was);
    mt_unlock(&api_lock);
    mt__tls.busy = busy;
    errno = saved;
    return r == 0 ? MEMTRACK_OK : MEMTRACK_ENOMEM;
}

MT_EXPORT int memtrack__peak_reset(int thread)
{
    if (!thread) return cut_period(NULL, true);
    mt_thread_t *t = mt__tls.thread;
    if (t) mt__thread_peak_reset(t);
    return mt__tracker_engine() ? MEMTRACK_OK : MEMTRACK_ENOTSTARTED;
}

MT_EXPORT int memtrack__stage_begin(const char *name)
{
    size_t n = name ? strnlen(name, MT_STAGE_NAME_MAX + 1) : 0;
    if (n == 0 || n > MT_STAGE_NAME_MAX) return MEMTRACK_EINVAL;
    if (!engine()) return MEMTRACK_ENOMEM;
    return cut_period(name, false);
}

MT_EXPORT int memtrack__stage_end(void)
{
    return cut_period(NULL, false);
}

MT_EXPORT int memtrack__top_paths(const char *cls, memtrack_path_t *out, size_t max, size_t *count)
{
    if (!valid_name(cls) || !count || (max && !out)) return MEMTRACK_EINVAL;
    *count = 0;
    mt_engine_t *e = mt__tracker_engine();
    uint32_t id;
    if (!e || !mt__class_find(&e->classes, cls, &id)) return MEMTRACK_ENOENT;
    if (max == 0) return MEMTRACK_OK;
    mt_path_figs_t *v = mt__arena_alloc(sizeof(*v) * max);
    if (!v) return MEMTRACK_ENOMEM;
    mt_thread_t *self = mt__tls.thread;
    int r = mt__engine_top_paths(e, id, v, max, count, self ? self->self : 0);
    for (size_t i = 0; r == 0 && i < *count; i++) {
        uint64_t frames[MEMTRACK_PATH_FRAMES];
        memset(&out[i], 0, sizeof(out[i]));
        out[i].live_count = v[i].live_blocks;
        out[i].live_bytes = v[i].live_bytes;
        out[i].total_count = v[i].allocations;
        out[i].total_bytes = v[i].bytes;
        out[i].nframes = mt__engine_path_frames(e, v[i].node, frames, MEMTRACK_PATH_FRAMES);
        for (unsigned f = 0; f < out[i].nframes; f++)
            out[i].frames[f] = (void *)frames[f];
    }
    mt__arena_free(v, sizeof(*v) * max);
    return r == 0 ? MEMTRACK_OK : MEMTRACK_ENOMEM;
}

MT_EXPORT int memtrack__frame_name(const void *frame, char *buf, size_t len)
{
    if (!buf || len == 0) return MEMTRACK_EINVAL;
    Dl_info info;
    /* A return address: the call is the instruction before it. */
    const char *pc = (const char *)frame - 1;
    int n;
    if (!frame || !dladdr(pc, &info) || !info.dli_fname)
        n = snprintf(buf, len, "%p", frame);
    else if (info.dli_sname)
        n = snprintf(buf, len, "%s+0x%zx (%s)", info.dli_sname,
                     (size_t)(pc - (const char *)info.dli_saddr), info.dli_fname);
    else
        n = snprintf(buf, len, "%s+0x%zx", info.dli_fname,
                     (size_t)(pc - (const char *)info.dli_fbase));
    return n >= 0 && (size_t)n < len ? MEMTRACK_OK : MEMTRACK_ENOBUFS;
}

MT_EXPORT int memtrack__name_block(uintptr_t block, const char *name, const char *file, int line)
{
    if (!block || !name || !*name || line < 0) return MEMTRACK_EINVAL;
    mt_engine_t *e = mt__tracker_engine();
    if (!e) return MEMTRACK_ENOENT;
    /* Only a block the engine knows can be named. */
    mt_block_t b;
    mt__tls.busy++;
    mt_thread_t *t = mt__tracker_thread();
    mt__tls.busy--;
    if (!t) return MEMTRACK_ENOMEM;
    mt_shard_t *s = mt__live_shard(&e->live, (uintptr_t)block);
    mt_lock(&s->lock, t->self);
    bool known = mt__shard_find(s, (uintptr_t)block, &b);
    mt_unlock(&s->lock);
    if (!known) return MEMTRACK_ENOENT;
    return mt__names_set(&e->names, (uintptr_t)block, name, file, (uint32_t)line, t->self) == 0
               ? MEMTRACK_OK
               : MEMTRACK_ENOMEM;
}
