/* Internal interface of the native front end (the LD_PRELOAD library), grouped by the file
 * that defines each part. */
#ifndef MT_NATIVE_H
#define MT_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/writer.h"
#include "core/engine.h"

#define MT_EXPORT __attribute__((visibility("default")))

/* ---- tracker.c: the process-wide tracker state and its life cycle */

/* The hooks' per-thread state, in initial-exec TLS (no allocation on first use). */
#define MT_TAG_STACK 64 /* scoped tags kept per thread (deeper pushes repeat the 64th) */

typedef struct mt_tls_s {
    int busy;          /* inside a hook: nested allocations pass through untracked */
    int attach_failed; /* the engine could not register this thread */
    mt_thread_t *thread;
    void *altstack; /* the alternate signal stack memtrack gave this thread, or NULL */
    unsigned ntags; /* scoped tags pushed (may exceed MT_TAG_STACK) */
    uint32_t tags[MT_TAG_STACK];
    uintptr_t stack_lo, stack_hi; /* the thread's stack, for frame-pointer walks (unwind.c) */
    int stack_known;              /* 1: stack_lo/hi are set; -1: unknown (DWARF only) */
} mt_tls_t;

/* The class of the calling thread's next allocation: its innermost scoped tag. */
static inline uint32_t mt__tls_class(const mt_tls_t *tls)
{
    unsigned n = tls->ntags < MT_TAG_STACK ? tls->ntags : MT_TAG_STACK;
    return n ? tls->tags[n - 1] : 0;
}

extern __thread mt_tls_t mt__tls __attribute__((tls_model("initial-exec")));

/* What the hooks record (mt__tracking; relaxed reads on the hot path). */
enum {
    MT_TRACK_OFF = 0,    /* nothing: not started, or the final capture is written */
    MT_TRACK_ON = 1,     /* allocations and frees */
    MT_TRACK_FREES = 2,  /* stopped: frees of recorded blocks only, so live counts stay true */
    MT_TRACK_PAUSED = 3, /* a snapshot is being written: hooks wait until it is done */
};
extern _Atomic int mt__tracking;

/* 1 in the library `memtrack run` preloads (tracking starts with the process), 0 in
 * libmemtrack.so (tracking starts at memtrack_start()). start_preload.c / start_linked.c. */
extern const int mt__autostart;

/* True when the kernel refused membarrier: then each hook fences after raising its thread's
 * `active` flag (tracker.c). */
extern int mt__fence_needed;

/* Called once, from the first hook that finds the real allocator resolved or from the library
 * constructor: sets up and starts tracking when mt__autostart. */
void mt__tracker_init(void);

/* Creates the engine from the environment and installs the exit, fork and signal handling,
 * once. Returns 0, -1 when the configuration is invalid (said on stderr) or memory ran out,
 * -2 in a set-user-ID or set-group-ID program (AT_SECURE), which is never traced. */
int mt__tracker_setup(void);

/* Switches what the hooks record (MT_TRACK_*), waiting for threads inside a hook when going to
 * OFF or PAUSED. Returns the previous state. */
int mt__tracker_switch(int state);

/* A grace period: after a barrier on every thread, true when each thread, the caller included,
 * has been seen outside the hooks (waiting up to max_ns for those inside one), so that none
 * still holds what was unpublished before the call. */
bool mt__tracker_grace(uint64_t max_ns);

/* Starts a detached thread of memtrack's named `name`; what pthread_create allocates for it is
 * not recorded as the program's. Returns 0 or -1. */
int mt__tracker_start_thread(void *(*fn)(void *), void *arg, const char *name);

/* The final capture's path (the output pattern with the pid); -1 when it does not fit. */
int mt__tracker_output_path(char *out, size_t cap);

/* True once the final capture began: no snapshot is written after it. */
bool mt__tracker_finished(void);

/* Writes a snapshot to `path` with the other threads paused; 0 or an errno value (EINVAL
 * after the final capture began). */
int mt__tracker_snapshot(const char *path);

/* Chooses the engine's mode (MT_MODE_*, a checked value) and sampling mean (0: the default)
 * instead of MEMTRACK_MODE: 0, or -1 when the tracker is already set up. */
int mt__tracker_preset_mode(int mode, uint64_t sample_mean);

/* The engine's mode (MT_MODE_*), or -1 when the tracker is not set up. */
int mt__tracker_mode(void);

/* exec failed after mt__tracker_finish(MT_END_EXEC): tracking goes on as before, and the
 * final capture will be written again at the end. */
void mt__tracker_resume(void);

/* ---- exec.c: exec, and following the programs the program starts */

/* Reads MEMTRACK_FOLLOW_CHILDREN and MEMTRACK_EXEC; `pattern` is the absolute output pattern
 * passed on to children. Called once when the tracker is set up. */
void mt__follow_init(const char *pattern);
void mt__follow_after_fork_child(void);
bool mt__follow_on(void);       /* following children: keep LD_PRELOAD, pass the environment */
bool mt__follow_followed(void); /* this process was started by a tracked one */
unsigned mt__follow_generation(void); /* N for the Nth image exec'd in this process, else 0 */

/* ---- api.c: the C API */

/* The lock serializing what changes the hooks' state: start, stop, clear, snapshots, stage
 * cuts; also held around fork() (no half-done snapshot in a child) and by the final capture
 * while it serves the last snapshot requests. */
void mt__api_lock(void);
bool mt__api_trylock(void);
void mt__api_unlock(void);

/* A snapshot to `path`, the API lock held by the caller. 0 or an errno value. */
int mt__tracker_snapshot_locked(const char *path);

/* ---- callbacks.c */

/* In a fork child: the delivery thread is gone; its lock is released and a thread will be
 * started again when needed. */
void mt__callbacks_after_fork_child(void);

/* ---- background.c: the timeline's samples and snapshots on a signal */

/* Starts memtrack's background thread (once): it samples the timeline and, with
 * MEMTRACK_SNAPSHOT_SIGNAL set, writes snapshots on that signal. Called after the tracker
 * started, outside any allocator hook. */
void mt__background_start(void);

/* Takes a timeline sample now; `force`: even if early (a capture's moment). */
void mt__background_sample(bool force);

/* In a fork child: a pipe and a thread of its own (the parent's thread did not survive). */
void mt__background_after_fork_child(void);

/* Writes every snapshot the signal asked for and that is not written yet; the API lock held
 * (the final capture calls it before it closes). */
void mt__background_pending_snapshots_locked(void);

/* Writes a capture of the engine now: with `path` NULL the configured output path (the final
 * capture), else `path` as given. The caller refreshes the module map first
 * (mt__modules_refresh) and has paused or stopped recording. Returns 0 or an errno value. */
int mt__tracker_write(const char *path, uint32_t end_reason, int32_t end_value);

/* The calling thread's record, registering it on first use; NULL when it cannot be tracked. */
mt_thread_t *mt__tracker_thread(void);

mt_engine_t *mt__tracker_engine(void);

/* Writes the final capture (once per process image) and stops tracking. */
void mt__tracker_finish(uint32_t end_reason, int32_t end_value);

/* ---- unwind.c: call paths */

/* Learns the address range of this library, so its frames are never recorded. */
/* `dwarf_only`: never follow frame pointers (MEMTRACK_UNWIND=dwarf). */
void mt__unwind_init(bool dwarf_only);

/* Fills frames[0..max) with the caller's call path, innermost first, starting at the first
 * frame outside memtrack. Returns the number of frames; sets *truncated when the path was
 * longer than max. Frames of modules that keep frame pointers are found by following %rbp;
 * the path is unwound with libunwind's DWARF unwinder when it leads through other code. */
unsigned mt__unwind(uint64_t *frames, unsigned max, bool *truncated);

/* True once a path was found by frame pointers alone. */
bool mt__unwind_used_fp(void);

/* ---- framepointers.c: which modules keep frame pointers */

/* An executable segment, and whether its module keeps frame pointers. */
typedef struct mt_fp_seg_s {
    uintptr_t lo, hi;
    uint32_t fp;
} mt_fp_seg_t;

/* Rebuilds the segment table if modules were loaded or unloaded since the last call. */
void mt__fp_refresh(void);
/* From now on every module counts as one without frame pointers (MEMTRACK_UNWIND=dwarf). */
void mt__fp_dwarf_only(void);
/* The unwinder met code in no known segment (a library loaded since): the background thread
 * refreshes the table (mt__fp_refresh_if_asked) rather than the allocating thread. */
void mt__fp_ask_refresh(void);
void mt__fp_refresh_if_asked(void);
/* The segment holding addr in the current table, or NULL. Takes no lock. */
const mt_fp_seg_t *mt__fp_find(uintptr_t addr);
/* How many loaded modules keep frame pointers, as of the last refresh. */
uint32_t mt__fp_modules(void);
/* Frees the tables replaced by refreshes if no thread can still be reading them
 * (mt__tracker_grace, waiting up to max_ns); else keeps them for a later call. */
void mt__fp_reclaim(uint64_t max_ns);
/* Around fork(): the refresh lock is held, so that no other thread is inside a refresh when
 * the process is copied (the background thread takes it); both sides release it. */
void mt__fp_fork_prepare(void);
void mt__fp_fork_release(void);

/* ---- modules.c: the module map written into captures */

/* Records the modules loaded now (new ones are appended; unloaded ones are kept). */
void mt__modules_refresh(void);
/* The loader's counts of objects loaded and unloaded so far (dl_iterate_phdr's dlpi_adds and
 * dlpi_subs), which change whenever the set of modules does. */
void mt__dl_counters(unsigned long long c[2]);

/* Around fork() (see modules.c): the module map's lock, so that no refresh is inside
 * dl_iterate_phdr when the process is copied; released on both sides. */
void mt__modules_fork_prepare(void);
void mt__modules_fork_release(void);

/* Finds the loader's write lock (see modules.c), from a thread that holds no loader lock; and,
 * in a child of fork(), resets it when a thread of the parent held it. */
void mt__loader_find_lock(void);
void mt__loader_after_fork_child(void);
/* True when some thread holds the loader's write lock (false when it was not found). */
bool mt__loader_lock_held(void);
/* In fork's prepare handler, with the hooks paused: takes the loader's write lock unless
 * another thread holds it (false then; true also when it was not found). Released in the
 * parent by mt__loader_fork_unlock, reset in the child by mt__loader_after_fork_child. */
bool mt__loader_fork_trylock(void);
void mt__loader_fork_unlock(void);

/* The MODULES section writer for mt_capture_info_t.modules. */
uint64_t mt__modules_write(mt_wbuf_t *w, void *ctx);

/* ---- preload.c: the interposed allocator functions */

/* Resolves the real allocator; allocations made meanwhile come from a static buffer. */
void mt__preload_resolve(void);

#endif
