/* The interposed allocator: malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc. Each calls the next definition in the lookup
 * order (glibc's, or another interposer's) and records what happened; the real function's
 * results, errno included, reach the program unchanged.
 *
 * Before dlsym has found the real functions, allocations (dlsym's own among them) are served
 * from a static buffer and never freed; a per-thread flag sends allocations made while a hook
 * is running (by the unwinder, or by a signal handler) straight to the real allocator. */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/os.h"
#include "native/native.h"

typedef struct real_s {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
} real_t;

static real_t real;
static _Atomic int resolved; /* 0: not yet, 1: resolving, 2: done */
static __thread int resolving __attribute__((tls_model("initial-exec")));

/* ---- the bootstrap buffer */

#define BOOT_SIZE (256u * 1024u)
static _Alignas(64) unsigned char boot[BOOT_SIZE];
static _Atomic size_t boot_used;

static inline int is_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + BOOT_SIZE;
}

/* 16-byte header holding the size, so realloc can copy out of the buffer. */
static void *boot_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    size_t used = mt_load_relaxed(&boot_used); /* relaxed: the CAS below orders */
    for (;;) {
        uintptr_t start = ((uintptr_t)boot + used + 16 + align - 1) & ~(uintptr_t)(align - 1);
        size_t end = (size_t)(start - (uintptr_t)boot) + size;
        if (size > BOOT_SIZE || end > BOOT_SIZE) {
            errno = ENOMEM;
            return NULL;
        }
        if (atomic_compare_exchange_weak(&boot_used, &used, end)) {
            memcpy((void *)(start - 16), &size, sizeof(size));
            return (void *)start; /* static storage is zeroed and never reused */
        }
    }
}

static size_t boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - 16, sizeof(size));
    return size;
}

void mt__preload_resolve(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&resolved, &expected, 1)) {
        while (mt_load_acquire(&resolved) != 2)
            mt__os_yield(); /* another thread resolves */
        return;
    }
    resolving = 1;
    real.malloc = dlsym(RTLD_NEXT, "malloc");
    real.free = dlsym(RTLD_NEXT, "free");
    real.calloc = dlsym(RTLD_NEXT, "calloc");
    real.realloc = dlsym(RTLD_NEXT, "realloc");
    real.reallocarray = dlsym(RTLD_NEXT, "reallocarray");
    real.posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real.aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real.memalign = dlsym(RTLD_NEXT, "memalign");
    real.valloc = dlsym(RTLD_NEXT, "valloc");
    real.pvalloc = dlsym(RTLD_NEXT, "pvalloc");
    resolving = 0;
    if (!real.malloc || !real.free || !real.calloc || !real.realloc || !real.posix_memalign ||
        !real.memalign) {
        static const char msg[] = "memtrack: cannot find the real malloc; aborting\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(127);
    }
    mt_store_release(&resolved, 2);
    mt__tracker_init();
}

/* True when the hook may call `real` now; false when it must use the bootstrap buffer. */
static inline int ready(void)
{
    if (__builtin_expect(mt_load_acquire(&resolved) == 2, 1)) return 1;
    if (resolving) return 0;
    mt__preload_resolve();
    return mt_load_acquire(&resolved) == 2 && !resolving;
}

/* ---- recording */

static inline int accepts(int state, int is_free)
{
    return state == MT_TRACK_ON || (is_free && state == MT_TRACK_FREES);
}

/* Whether this call should be recorded (`is_free`: a free, recorded also while stopped); if
 * so the thread is marked busy and active. The active flag is raised before tracking is
 * checked (a plain store, made visible to a capture writer by its membarrier), so a writer
 * that switched tracking off and then saw the flag down knows this thread will not touch the
 * engine until it has finished. While a snapshot is written, callers wait here. */
static inline mt_thread_t *enter(int is_free)
{
    /* Relaxed: the state changes rarely; a call racing with a change is ordered by the active
     * flag below. */
    int state = mt_load_relaxed(&mt__tracking);
    if (mt__tls.busy || (!accepts(state, is_free) && state != MT_TRACK_PAUSED)) return NULL;
    mt__tls.busy = 1;
    mt_thread_t *t = mt__tracker_thread();
    while (t) {
        mt_store_relaxed(&t->active, 1); /* relaxed: ordered by the fence or the membarrier */
        if (mt__fence_needed)
            atomic_thread_fence(memory_order_seq_cst);
        else
            atomic_signal_fence(memory_order_seq_cst);
        state = mt_load_relaxed(&mt__tracking);
        if (accepts(state, is_free)) return t;
        mt_store_release(&t->active, 0);
        if (state != MT_TRACK_PAUSED) break;
        while (mt_load_acquire(&mt__tracking) == MT_TRACK_PAUSED)
            mt__os_yield();
    }
    mt__tls.busy = 0;
    return NULL;
}

static inline void leave(mt_thread_t *t)
{
    mt_store_release(&t->active, 0); /* the engine updates are done before the flag drops */
    mt__tls.busy = 0;
}

static void record_alloc(mt_thread_t *t, void *p, size_t size)
{
#ifdef MT_BENCH_HOOKS_ONLY
    (void)t, (void)p, (void)size;
    return; /* the benchmark's breakdown build (bench/README.md): the hooks and nothing else */
#endif
    uint64_t frames[MT_DEPTH_MAX];
    mt_engine_t *e = t->engine;
    uint32_t cls = mt__tls_class(&mt__tls);
    /* Sample mode: the sampler decides first, so that most allocations cost no unwinding. */
    if (e->config.mode == MT_MODE_SAMPLE && !mt__engine_sampled(t, size)) {
        mt__engine_alloc_unsampled(t, (uintptr_t)p, size, cls);
        return;
    }
    unsigned depth = mt__engine_depth(e, cls), n = 0;
    if (depth) {
        bool truncated = false;
        n = mt__unwind(frames, depth, &truncated);
        if (truncated) mt__engine_note_truncated(e);
    }
    mt__engine_alloc(t, (uintptr_t)p, size, cls, frames, n);
}

/* Records a block returned by an allocation function (NULL: nothing to record). */
static inline void *after_alloc(mt_thread_t *t, void *p, size_t size)
{
    if (t) {
        int err = errno;
        if (p) record_alloc(t, p, size);
        errno = err;
        leave(t);
    }
    return p;
}

MT_EXPORT void *malloc(size_t size)
{
    if (!ready()) return boot_alloc(size, 16);
    mt_thread_t *t = enter(0);
    return after_alloc(t, real.malloc(size), size);
}

MT_EXPORT void free(void *p)
{
    if (!p || is_boot(p)) return;
    if (!ready()) return; /* cannot happen: p came from somewhere */
    mt_thread_t *t = enter(1);
    if (t) {
        int err = errno;
        mt__engine_free(t, (uintptr_t)p); /* before the real free: see DESIGN.md invariant 3 */
        real.free(p);
        errno = err;
        leave(t);
        return;
    }
    real.free(p);
}

MT_EXPORT void *calloc(size_t n, size_t size)
{
    if (!ready()) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) {
            errno = ENOMEM;
            return NULL;
        }
        return boot_alloc(total, 16); /* already zero */
    }
    mt_thread_t *t = enter(0);
    void *p = real.calloc(n, size);
    return after_alloc(t, p, p ? n * size : 0);
}

/* realloc and reallocarray: the old block leaves the table before the real call (its address
 * may be reused by another thread as soon as the call frees it) and comes back if it fails. */
static void *resize(void *old, size_t size, void *(*call)(void *, size_t, size_t), size_t a,
                    size_t b)
{
    mt_thread_t *t = enter(1);
    if (!t) return call(old, a, b);
    mt_block_t blk;
    bool known = old && mt__engine_take(t, (uintptr_t)old, &blk);
    void *p = call(old, a, b);
    int err = errno;
    if (!p && old && size != 0) {
        if (known) mt__engine_put_back(t, &blk); /* failed: the old block is still there */
    } else {
        if (known)
            mt__engine_free_taken(t, &blk);
        else if (old)
            mt__engine_unknown_free(t);
        /* Relaxed: as in enter(); stopped, only the free half of a realloc is recorded. */
        if (p && mt_load_relaxed(&mt__tracking) == MT_TRACK_ON) record_alloc(t, p, size);
    }
    errno = err;
    leave(t);
    return p;
}

static void *call_realloc(void *old, size_t size, size_t unused)
{
    (void)unused;
    return real.realloc(old, size);
}

static void *call_reallocarray(void *old, size_t n, size_t size)
{
    return real.reallocarray(old, n, size);
}

static void *boot_realloc(void *old, size_t size)
{
    void *p = boot_alloc(size, 16);
    if (p && old) {
        size_t n = boot_size(old);
        memcpy(p, old, n < size ? n : size);
    }
    return p;
}

/* A block from the bootstrap buffer moves to the real allocator (untracked: it was never
 * recorded, so it stays invisible, like any allocation made before tracking began). */
static void *realloc_from_boot(void *old, size_t size)
{
    void *p = real.malloc(size);
    if (p) {
        size_t n = boot_size(old);
        memcpy(p, old, n < size ? n : size);
    }
    return p;
}

MT_EXPORT void *realloc(void *old, size_t size)
{
    if (!ready()) return boot_realloc(old, size);
    if (old && is_boot(old)) return realloc_from_boot(old, size);
    return resize(old, size, call_realloc, size, 0);
}

MT_EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!ready()) return boot_realloc(old, total);
    if (old && is_boot(old)) return realloc_from_boot(old, total);
    if (!real.reallocarray) return resize(old, total, call_realloc, total, 0);
    return resize(old, total, call_reallocarray, n, size);
}

MT_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!ready()) {
        if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
        void *p = boot_alloc(size, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    mt_thread_t *t = enter(0);
    int r = real.posix_memalign(out, align, size);
    after_alloc(t, r == 0 ? *out : NULL, size);
    return r;
}

MT_EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (!ready()) return boot_alloc(size, align);
    mt_thread_t *t = enter(0);
    void *p = real.aligned_alloc ? real.aligned_alloc(align, size) : real.memalign(align, size);
    return after_alloc(t, p, size);
}

MT_EXPORT void *memalign(size_t align, size_t size)
{
    if (!ready()) return boot_alloc(size, align);
    mt_thread_t *t = enter(0);
    return after_alloc(t, real.memalign(align, size), size);
}

MT_EXPORT void *valloc(size_t size)
{
    if (!ready()) return boot_alloc(size, 4096);
    mt_thread_t *t = enter(0);
    void *p = real.valloc ? real.valloc(size) : real.memalign(mt__os_page_size(), size);
    return after_alloc(t, p, size);
}

/* pvalloc gives whole pages, but like every other function it is recorded with the size the
 * program asked for (docs/FORMAT.md). */
MT_EXPORT void *pvalloc(size_t size)
{
    if (!ready()) {
        size_t page = mt__os_page_size();
        return boot_alloc(size ? (size + page - 1) & ~(page - 1) : page, page);
    }
    mt_thread_t *t = enter(0);
    void *p;
    if (real.pvalloc) {
        p = real.pvalloc(size);
    } else { /* an allocator without pvalloc: its contract through memalign */
        size_t page = mt__os_page_size(), rounded = size ? (size + page - 1) & ~(page - 1) : page;
        p = rounded >= size ? real.memalign(page, rounded) : (errno = ENOMEM, NULL);
    }
    return after_alloc(t, p, size);
}
