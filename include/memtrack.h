/* memtrack.h — the public API of memtrack, a memory-allocation tracker.
 *
 * A C or C++ program asks the tracker, while it runs, what is live and where: counts per class
 * in O(1), totals, high-water marks, and captures written on demand. There are two ways in,
 * one API:
 *
 *   - link with -lmemtrack (`pkg-config --cflags --libs memtrack`): the program gets a tracker
 *     that is off until memtrack_start();
 *   - run the program under `memtrack run -- PROG`: the calls talk to the tracker that
 *     `memtrack run` preloaded, which is already running.
 *
 * A program built with this header but run with neither still runs: every call is a harmless
 * no-op returning MEMTRACK_ENOTRACKER (the functions below are inline wrappers over weak
 * symbols, so nothing needs to be linked for that).
 *
 * Conventions. Functions returning int return 0 (MEMTRACK_OK) or a positive value on success
 * as documented, and a negative MEMTRACK_E* code on failure (memtrack_strerror names it). All
 * functions are thread-safe unless stated otherwise, never allocate through the program's
 * malloc except where stated, and keep errno unchanged. Strings passed in are copied; nothing
 * returned needs to be freed.
 *
 * A *class* is a name that allocations are tagged with: by the typed macros (MEMTRACK_NEW),
 * by memtrack_malloc_tagged, or by a scoped tag (memtrack_tag_push) that tags every allocation
 * the thread makes until the matching pop, including those made inside libraries.
 * Allocations without a tag belong to the class "untagged".
 */
#ifndef MEMTRACK_H
#define MEMTRACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEMTRACK_VERSION_MAJOR 0
#define MEMTRACK_VERSION_MINOR 1

/* ---- errors */

/* Every error, once: name, value, message. */
#define MEMTRACK_ERRNO_MAP(XX)                                                  \
    XX(ENOTRACKER, -1,                                                          \
       "no tracker in this process (not linked with -lmemtrack, not run under " \
       "memtrack run)")                                                         \
    XX(ENOTSTARTED, -2, "the tracker has not been started")                     \
    XX(ERUNNING, -3, "not allowed while the tracker is running")                \
    XX(EINVAL, -4, "invalid argument")                                          \
    XX(ENOMEM, -5, "the tracker is out of memory")                              \
    XX(ENOENT, -6, "no such class")                                             \
    XX(ENOBUFS, -7, "buffer too small")                                         \
    XX(EIO, -8, "the file could not be written")                                \
    XX(ERANGE, -9, "too many (tags pushed, classes)")                           \
    XX(ESTATE, -10, "call out of order (pop without push)")

typedef enum memtrack_errno_e {
    MEMTRACK_OK = 0,
#define MEMTRACK_XX_(name, value, msg) MEMTRACK_##name = (value),
    MEMTRACK_ERRNO_MAP(MEMTRACK_XX_)
#undef MEMTRACK_XX_
} memtrack_errno_t;

/* The message for an error code (or "unknown error"). Works without a tracker. */
static inline const char *memtrack_strerror(int err)
{
    switch (err) {
    case MEMTRACK_OK:
        return "success";
#define MEMTRACK_XX_(name, value, msg) \
    case MEMTRACK_##name:              \
        return msg;
        MEMTRACK_ERRNO_MAP(MEMTRACK_XX_)
#undef MEMTRACK_XX_
    default:
        return "unknown error";
    }
}

/* The name of an error code ("MEMTRACK_EINVAL"), or "MEMTRACK_UNKNOWN". */
static inline const char *memtrack_err_name(int err)
{
    switch (err) {
    case MEMTRACK_OK:
        return "MEMTRACK_OK";
#define MEMTRACK_XX_(name, value, msg) \
    case MEMTRACK_##name:              \
        return "MEMTRACK_" #name;
        MEMTRACK_ERRNO_MAP(MEMTRACK_XX_)
#undef MEMTRACK_XX_
    default:
        return "MEMTRACK_UNKNOWN";
    }
}

/* ---- figures */

/* Counts of allocations ("new"), frees, and what is live (retained) now, with bytes (the sizes
 * the program asked for). live = new - free for what the tracker saw allocated. */
typedef struct memtrack_counts_s {
    uint64_t new_count, free_count, live_count;
    uint64_t new_bytes, free_bytes, live_bytes;
} memtrack_counts_t;

/* The symbols the wrappers below call. They are defined by libmemtrack.so and by the library
 * `memtrack run` preloads; weak, so that a program without either still links and runs. Do
 * not call them directly. */
#define MEMTRACK_WEAK_ __attribute__((weak))
/* The wrappers are always inlined, so that they never show up as frames in call paths. */
#define MEMTRACK_INLINE_ static inline __attribute__((always_inline))

extern int memtrack__start(void) MEMTRACK_WEAK_;
extern int memtrack__set_mode(int mode, uint64_t sample_bytes) MEMTRACK_WEAK_;
extern int memtrack__mode(void) MEMTRACK_WEAK_;
extern int memtrack__stop(void) MEMTRACK_WEAK_;
extern int memtrack__running(void) MEMTRACK_WEAK_;
extern int memtrack__clear(void) MEMTRACK_WEAK_;
extern int memtrack__totals(memtrack_counts_t *out) MEMTRACK_WEAK_;
extern int memtrack__count_for(const char *cls, memtrack_counts_t *out) MEMTRACK_WEAK_;
extern int memtrack__tag_push(const char *tag) MEMTRACK_WEAK_;
extern int memtrack__tag_pop(void) MEMTRACK_WEAK_;
extern void *memtrack__calloc_tagged(size_t n, size_t size, const char *tag) MEMTRACK_WEAK_;
extern void *memtrack__malloc_tagged(size_t size, const char *tag) MEMTRACK_WEAK_;
extern int memtrack__track_paths(const char *cls, unsigned depth) MEMTRACK_WEAK_;
extern int memtrack__snapshot(const char *path) MEMTRACK_WEAK_;
struct memtrack_peak_s;
typedef void *(*memtrack_new_fn)(const char *cls, void *block, size_t size, void *user);
typedef void (*memtrack_free_fn)(const char *cls, void *block, size_t size, void *state,
                                 void *user);
extern int memtrack__track(const char *cls, memtrack_new_fn on_new, memtrack_free_fn on_free,
                           void *user) MEMTRACK_WEAK_;
extern int memtrack__untrack(const char *cls) MEMTRACK_WEAK_;
extern int memtrack__flush(void) MEMTRACK_WEAK_;
struct memtrack_path_s;
extern int memtrack__top_paths(const char *cls, struct memtrack_path_s *out, size_t max,
                               size_t *count) MEMTRACK_WEAK_;
extern int memtrack__frame_name(const void *frame, char *buf, size_t len) MEMTRACK_WEAK_;
/* The block goes by address (an integer): it is never read, and naming a fresh block must not
 * look like reading uninitialized memory to the compiler. */
extern int memtrack__name_block(uintptr_t block, const char *name, const char *file,
                                int line) MEMTRACK_WEAK_;
extern int memtrack__peak(struct memtrack_peak_s *out, int thread) MEMTRACK_WEAK_;
extern int memtrack__peak_reset(int thread) MEMTRACK_WEAK_;
extern int memtrack__stage_begin(const char *name) MEMTRACK_WEAK_;
extern int memtrack__stage_end(void) MEMTRACK_WEAK_;

/* ---- capture control */

/* Starts tracking. Returns 1 if tracking started now, 0 if it was already running,
 * MEMTRACK_ENOTRACKER without a tracker and in a set-user-ID or set-group-ID program (never
 * traced), MEMTRACK_ENOMEM if the tracker could not set up. With -lmemtrack the first start
 * reads the mode from the environment (unless memtrack_set_mode chose it): MEMTRACK_MODE is `full`
 * (the default: a call path for every allocation), `count` (exact counts, no call paths) or
 * `sample` / `sample=BYTES` (exact counts; call paths for a byte-weighted sample, one per BYTES
 * allocated on average, default 524288, and per-path figures that are estimates), with
 * MEMTRACK_DEPTH and MEMTRACK_SEED (a fixed sample); see README.md. An invalid setting makes
 * it return MEMTRACK_ENOMEM after a message on stderr. Counts (memtrack_totals,
 * memtrack_count_for, memtrack_peak) are exact in every mode. Blocks allocated before the
 * start are invisible, and freeing them later is counted as an "unknown free", never as a
 * negative count. */
MEMTRACK_INLINE_ int memtrack_start(void)
{
    return memtrack__start ? memtrack__start() : MEMTRACK_ENOTRACKER;
}

/* What the tracker records (memtrack_set_mode, memtrack_mode; MEMTRACK_MODE in the
 * environment, `memtrack run --mode`). */
enum memtrack_mode_e {
    MEMTRACK_MODE_FULL = 0,   /* a call path for every allocation (the default) */
    MEMTRACK_MODE_COUNT = 1,  /* exact counts, peaks and classes; no call paths */
    MEMTRACK_MODE_SAMPLE = 2, /* exact counts; call paths for a byte-weighted sample */
};

/* Chooses the mode before the tracker is set up, in place of MEMTRACK_MODE: with -lmemtrack,
 * before the first memtrack_start() or any other call that sets it up (tags, classes,
 * callbacks). `sample_bytes` is sample mode's mean: one call path per that many bytes
 * allocated on average, 0 for the default (524288), at most 2^40; ignored in the other modes.
 * Returns MEMTRACK_OK, MEMTRACK_EINVAL for an unknown mode or a mean too large,
 * MEMTRACK_ESTATE once the tracker is set up (always under `memtrack run`, whose --mode
 * applies), MEMTRACK_ENOTRACKER without a tracker. */
MEMTRACK_INLINE_ int memtrack_set_mode(int mode, uint64_t sample_bytes)
{
    return memtrack__set_mode ? memtrack__set_mode(mode, sample_bytes) : MEMTRACK_ENOTRACKER;
}

/* The mode in effect (a MEMTRACK_MODE_* value), MEMTRACK_ENOTSTARTED before the tracker is
 * set up, MEMTRACK_ENOTRACKER without a tracker. */
MEMTRACK_INLINE_ int memtrack_mode(void)
{
    return memtrack__mode ? memtrack__mode() : MEMTRACK_ENOTRACKER;
}

/* Stops recording allocations. Returns 1 if it stopped now, 0 if it was not running. Frees of
 * blocks recorded earlier are still seen, so live counts stay true while stopped; counts are
 * kept until memtrack_clear(). */
MEMTRACK_INLINE_ int memtrack_stop(void)
{
    return memtrack__stop ? memtrack__stop() : MEMTRACK_ENOTRACKER;
}

/* 1 while tracking, 0 when stopped or never started, MEMTRACK_ENOTRACKER without a tracker. */
MEMTRACK_INLINE_ int memtrack_running(void)
{
    return memtrack__running ? memtrack__running() : MEMTRACK_ENOTRACKER;
}

/* Forgets everything recorded: counts, live blocks, call paths' figures, peaks. Refused with
 * MEMTRACK_ERUNNING while running: stop first. Blocks recorded before and freed after count as
 * unknown frees. Class names and per-class settings (memtrack_track_paths) are kept. */
MEMTRACK_INLINE_ int memtrack_clear(void)
{
    return memtrack__clear ? memtrack__clear() : MEMTRACK_ENOTRACKER;
}

/* The totals of everything recorded since the start (or the last clear). */
MEMTRACK_INLINE_ int memtrack_totals(memtrack_counts_t *out)
{
    return memtrack__totals ? memtrack__totals(out) : MEMTRACK_ENOTRACKER;
}

/* ---- classes */

/* The counts of one class, in O(1) (for "untagged": O(threads + classes)). MEMTRACK_ENOENT if
 * there is no class of that name (classes are made by tags, typed allocations,
 * memtrack_track_paths and memtrack_track); MEMTRACK_EINVAL for a NULL or empty name. */
MEMTRACK_INLINE_ int memtrack_count_for(const char *cls, memtrack_counts_t *out)
{
    return memtrack__count_for ? memtrack__count_for(cls, out) : MEMTRACK_ENOTRACKER;
}

/* Tags every allocation the calling thread makes, until the matching memtrack_tag_pop(), with
 * class `tag` (1 to 255 bytes; "untagged" means no tag). Scopes nest, 64 deep; the innermost
 * wins. Returns 0; MEMTRACK_EINVAL for a bad name or MEMTRACK_ENOMEM when no more classes can
 * be made (the scope then tags as untagged); MEMTRACK_ERANGE past 64 scopes (the scope then
 * tags as the 64th). A scope is entered even when an error is returned, and must be popped. */
MEMTRACK_INLINE_ int memtrack_tag_push(const char *tag)
{
    return memtrack__tag_push ? memtrack__tag_push(tag) : MEMTRACK_ENOTRACKER;
}

/* Ends the innermost scope of memtrack_tag_push. MEMTRACK_ESTATE without one. */
MEMTRACK_INLINE_ int memtrack_tag_pop(void)
{
    return memtrack__tag_pop ? memtrack__tag_pop() : MEMTRACK_ENOTRACKER;
}

/* malloc(size) tagged with class `tag`; free it with free(). Without a tracker, plain malloc. */
static inline void *memtrack_malloc_tagged(size_t size, const char *tag)
{
    return memtrack__malloc_tagged ? memtrack__malloc_tagged(size, tag) : malloc(size);
}

/* calloc(n, size) tagged with class `tag`; free it with free(). Without a tracker, calloc. */
static inline void *memtrack_calloc_tagged(size_t n, size_t size, const char *tag)
{
    return memtrack__calloc_tagged ? memtrack__calloc_tagged(n, size, tag) : calloc(n, size);
}

/* A zeroed object / array of n objects of `Type`, tagged with the type's name. */
#define MEMTRACK_NEW(Type)          ((Type *)memtrack_calloc_tagged(1, sizeof(Type), #Type))
#define MEMTRACK_NEW_ARRAY(Type, n) ((Type *)memtrack_calloc_tagged((n), sizeof(Type), #Type))

/* Names the live block `block` (a pointer from malloc and friends): reports then say that
 * `name` (declared at file:line) holds it. The name goes with the block until it is freed (a
 * realloc'd block must be named again). Names and file names are cut at 127 bytes.
 * MEMTRACK_ENOENT if the tracker does not know the block (allocated while not tracking). */
MEMTRACK_INLINE_ int memtrack_name_block(void *block, const char *name, const char *file, int line)
{
    return memtrack__name_block ? memtrack__name_block((uintptr_t)block, name, file, line)
                                : MEMTRACK_ENOTRACKER;
}

/* Names the block a pointer variable points to after the variable, as memscope-rs's
 * track_var! does: `char *config = malloc(64); MEMTRACK_TRACK(config);`. */
#define MEMTRACK_TRACK(var) memtrack_name_block((var), #var, __FILE__, __LINE__)

/* Records call paths of `depth` frames (1..256) for the allocations of class `cls` from now
 * on, whatever the mode (in `count` mode, the only call paths recorded; in `sample` mode, for
 * the class's sampled allocations); 0 switches back to the mode's default. The class is
 * created if needed. */
MEMTRACK_INLINE_ int memtrack_track_paths(const char *cls, unsigned depth)
{
    return memtrack__track_paths ? memtrack__track_paths(cls, depth) : MEMTRACK_ENOTRACKER;
}

/* ---- callbacks */

/* Calls on_new after each allocation of class `cls` and on_free after each free of one, with
 * the class name, the block and its size. What on_new returns is the block's *state*, given
 * back to on_free for the same block (NULL if on_new is NULL). Either function may be NULL.
 *
 * Callbacks never run inside the allocator: events are queued where they happen and delivered
 * later, in the order they happened for each class, one callback at a time, on a thread of
 * memtrack's (started by the first memtrack_track) or on a thread calling memtrack_flush().
 * So they must be thread-safe with respect to the program, but need no locking among
 * themselves. Allocations made inside a callback are counted but never produce callbacks (no
 * endless loop). Events of
 * blocks allocated before the call have no state (NULL). Registering again delivers what is
 * queued, then replaces the callbacks and forgets the states kept so far. Returns 0,
 * MEMTRACK_EINVAL for a bad name, MEMTRACK_ENOMEM, MEMTRACK_ESTATE from inside a callback. */
MEMTRACK_INLINE_ int memtrack_track(const char *cls, memtrack_new_fn on_new,
                                    memtrack_free_fn on_free, void *user)
{
    return memtrack__track ? memtrack__track(cls, on_new, on_free, user) : MEMTRACK_ENOTRACKER;
}

/* Stops the callbacks of `cls` (events already queued are still delivered). MEMTRACK_ENOENT if
 * it had none. */
MEMTRACK_INLINE_ int memtrack_untrack(const char *cls)
{
    return memtrack__untrack ? memtrack__untrack(cls) : MEMTRACK_ENOTRACKER;
}

/* Delivers every event queued before the call, on the calling thread, and returns when done.
 * Must not be called from a callback (MEMTRACK_ESTATE). */
MEMTRACK_INLINE_ int memtrack_flush(void)
{
    return memtrack__flush ? memtrack__flush() : MEMTRACK_ENOTRACKER;
}

/* ---- stages and peaks */

/* Live bytes now and their high-water mark since the last reset (or the start), with the time
 * of that mark in nanoseconds since tracking started. */
typedef struct memtrack_peak_s {
    uint64_t current_bytes;
    uint64_t peak_bytes;
    uint64_t peak_time_ns;
} memtrack_peak_t;

/* The whole program's live bytes and high-water mark (exact, whatever the threads do). */
MEMTRACK_INLINE_ int memtrack_peak(memtrack_peak_t *out)
{
    return memtrack__peak ? memtrack__peak(out, 0) : MEMTRACK_ENOTRACKER;
}

/* The calling thread's: bytes of the blocks it allocated that are live, wherever they are
 * freed, and their high-water mark. */
MEMTRACK_INLINE_ int memtrack_thread_peak(memtrack_peak_t *out)
{
    return memtrack__peak ? memtrack__peak(out, 1) : MEMTRACK_ENOTRACKER;
}

/* Restarts the whole program's high-water mark from the live bytes now. The period that ends
 * is kept, with its peak and the call paths that held it, and shown by the report (as part of
 * the current stage). It pauses the other threads while the live blocks are scanned once:
 * O(live blocks). MEMTRACK_ENOTSTARTED before the tracker exists. */
MEMTRACK_INLINE_ int memtrack_peak_reset(void)
{
    return memtrack__peak_reset ? memtrack__peak_reset(0) : MEMTRACK_ENOTRACKER;
}

/* Restarts the calling thread's high-water mark from its live bytes now. O(1). */
MEMTRACK_INLINE_ int memtrack_thread_peak_reset(void)
{
    return memtrack__peak_reset ? memtrack__peak_reset(1) : MEMTRACK_ENOTRACKER;
}

/* Begins a stage named `name` (1 to 63 bytes), ending the current one: the high-water mark
 * restarts, and the report shows each stage with its peak, when it was reached, and the call
 * paths holding memory then. Costs what memtrack_peak_reset costs. */
MEMTRACK_INLINE_ int memtrack_stage_begin(const char *name)
{
    return memtrack__stage_begin ? memtrack__stage_begin(name) : MEMTRACK_ENOTRACKER;
}

/* Ends the current stage (what follows, until the next stage, is unnamed). */
MEMTRACK_INLINE_ int memtrack_stage_end(void)
{
    return memtrack__stage_end ? memtrack__stage_end() : MEMTRACK_ENOTRACKER;
}

/* ---- analysis */

#define MEMTRACK_PATH_FRAMES 32

/* A call path of a class: what its blocks hold live now, what it allocated since the start
 * (or the last clear), and its frames (return addresses, innermost first; the first
 * MEMTRACK_PATH_FRAMES of them). */
typedef struct memtrack_path_s {
    uint64_t live_count, live_bytes;
    uint64_t total_count, total_bytes;
    unsigned nframes;
    void *frames[MEMTRACK_PATH_FRAMES];
} memtrack_path_t;

/* The call paths of class `cls` holding the most live blocks now (then the most bytes), biggest
 * first: up to `max` of them into out[], their number in *count. Paths are recorded at the
 * moment of each allocation, for classes that have them (full mode, or memtrack_track_paths);
 * in sample mode the figures are estimates from the sampled allocations.
 * It scans what is live: O(live blocks), for occasional use. MEMTRACK_ENOENT for an unknown
 * class. */
MEMTRACK_INLINE_ int memtrack_top_paths(const char *cls, memtrack_path_t *out, size_t max,
                                        size_t *count)
{
    return memtrack__top_paths ? memtrack__top_paths(cls, out, max, count) : MEMTRACK_ENOTRACKER;
}

/* Names a frame of a memtrack_path_t for a quick look from inside the program:
 * "function+0xOFF (module)" from the dynamic symbol table, or "module+0xOFF". (For file:line
 * and inlined frames, write a snapshot and use `memtrack report`.) MEMTRACK_ENOBUFS when the
 * name is cut to fit. */
MEMTRACK_INLINE_ int memtrack_frame_name(const void *frame, char *buf, size_t len)
{
    return memtrack__frame_name ? memtrack__frame_name(frame, buf, len) : MEMTRACK_ENOTRACKER;
}

/* ---- captures */

/* Writes a capture of the tracker's state now to `path` (as `memtrack run` does at exit), for
 * `memtrack report` and `memtrack diff`. Other threads wait while it is written. Returns 0,
 * MEMTRACK_ENOTSTARTED if tracking never started, MEMTRACK_EIO if the file could not be written
 * (errno is left as the system set it, for the reason). */
MEMTRACK_INLINE_ int memtrack_snapshot(const char *path)
{
    return memtrack__snapshot ? memtrack__snapshot(path) : MEMTRACK_ENOTRACKER;
}

#ifdef __cplusplus
}
#endif

#endif
