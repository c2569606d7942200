/* Call paths of allocations. Two unwinders:
 * - frame pointers, for modules that keep them (framepointers.c): each frame is two loads
 *   along the %rbp chain, checked to stay inside the thread's stack and to move outwards;
 * - libunwind's DWARF unwinder, for everything else (Debian builds without frame pointers,
 *   and glibc's backtrace() is 20x slower and may take locks inside malloc).
 * A walk that reaches code without frame pointers hands the whole path to libunwind, except
 * where the chain ends: at the outermost frames of a stack (the program's entry, a thread's
 * start, in a libc without frame pointers). Each place where walks end is checked once against
 * libunwind (check_end), which also supplies the outermost frames the walk cannot see; later
 * walks that end there append them. So a path is the same whichever unwinder found it.
 * The frames of this library itself are cut off by address, so inlining cannot let one slip
 * in; the library is built with frame pointers (CMakeLists.txt) so the chain crosses it. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/os.h"
#include "native/native.h"

extern void *__libc_stack_end; /* the main thread's stack pointer at the program's entry */

static uintptr_t self_lo, self_hi; /* this library's executable segments */
static _Atomic int used_fp;        /* some path was found by frame pointers alone */

static int find_self(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    uintptr_t probe = (uintptr_t)ctx;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (probe >= lo && probe < hi) {
            self_lo = lo;
            self_hi = hi;
            return 1;
        }
    }
    return 0;
}

void mt__unwind_init(bool dwarf)
{
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&mt__unwind_init);
    /* Each thread caches the unwind info of the addresses it has seen. */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    if (dwarf) mt__fp_dwarf_only();
    mt__fp_refresh();
}

bool mt__unwind_used_fp(void)
{
    return mt_load_relaxed(&used_fp) != 0; /* relaxed: a flag for the capture */
}

static inline int in_self(uintptr_t ip)
{
    return ip >= self_lo && ip < self_hi;
}

#define SKIP_MAX 16 /* room for memtrack's own frames: the hook's, and a callback's callers */

static unsigned dwarf_unwind(uint64_t *frames, unsigned max, bool *truncated)
{
    void *ips[MT_DEPTH_MAX + SKIP_MAX + 1];
    int n = unw_backtrace(ips, (int)(max + SKIP_MAX + 1));
    if (n <= 0) return 0;
    /* memtrack's own frames are left out: the hook's, innermost, and further out those of
     * memtrack calling the program back (the callbacks of memtrack_track). */
    unsigned count = 0;
    for (int i = 0; i < n; i++) {
        if (in_self((uintptr_t)ips[i])) continue;
        if (count == max) {
            *truncated = true;
            break;
        }
        frames[count++] = (uint64_t)(uintptr_t)ips[i];
    }
    return count;
}

/* ---- the ends of stacks: where walks stop, and the frames libunwind finds beyond */

#define ENDS_CAP 1024 /* a hash table; at most 3/4 full */
#define TAIL_MAX 4

/* A place where the %rbp chain ends: the return address read last, and the frame's distance
 * from the top of the stack, which is the same each time the program reaches its entry code
 * or a thread its start routine the same way. */
typedef struct stack_end_s {
    _Atomic uintptr_t ret; /* set last: the entry is complete when it is non-zero */
    uintptr_t depth;
    uint32_t ok; /* 0: libunwind disagreed; paths ending here are always unwound by it */
    uint32_t ntail;
    uintptr_t tail[TAIL_MAX];
} stack_end_t;

static stack_end_t ends[ENDS_CAP];
static uint32_t nends; /* under ends_lock */
static mt_lock_t ends_lock = MT_LOCK_INIT;

static inline uint32_t end_slot(uintptr_t ret, uintptr_t depth)
{
    return (uint32_t)(((ret ^ (depth << 20)) * 0x9e3779b97f4a7c15ull) >> 54); /* 10 bits */
}

/* The entry of (ret, depth), or NULL; *free_slot gets the empty slot where it would go. Entries
 * are never removed, so a reader needs no lock. */
static stack_end_t *find_end(uintptr_t ret, uintptr_t depth, stack_end_t **free_slot)
{
    for (uint32_t i = end_slot(ret, depth), k = 0; k < ENDS_CAP; i = (i + 1) % ENDS_CAP, k++) {
        uintptr_t r = mt_load_acquire(&ends[i].ret);
        if (r == 0) {
            if (free_slot) *free_slot = &ends[i];
            return NULL;
        }
        if (r == ret && ends[i].depth == depth) return &ends[i];
    }
    return NULL;
}

/* Whether the frame at `ip` is one the walk could not have followed: in code without frame
 * pointers, or in no known module. */
static bool opaque(uintptr_t ip)
{
    const mt_fp_seg_t *s = mt__fp_find(ip);
    return !s || !s->fp;
}

/* A walk found frames[0..n) and ended at (ret, depth), a place not seen before: libunwind
 * unwinds the stack, and the place is remembered as a true end of the stack when libunwind
 * found the same frames and then at most TAIL_MAX more, all but the outermost in code the
 * walk cannot follow (so that none of them is a caller a broken chain would hide). Returns
 * libunwind's path, in frames. */
static unsigned check_end(uint64_t *frames, unsigned n, unsigned max, bool *truncated,
                          uintptr_t ret, uintptr_t depth)
{
    uint64_t walk[MT_DEPTH_MAX];
    for (unsigned i = 0; i < n; i++)
        walk[i] = frames[i];
    unsigned count = dwarf_unwind(frames, max, truncated);
    bool same = count >= n && count - n <= TAIL_MAX && !*truncated;
    for (unsigned i = 0; same && i < n; i++)
        same = walk[i] == frames[i];
    for (unsigned i = n; same && i + 1 < count; i++)
        same = opaque((uintptr_t)frames[i]);
    mt_lock(&ends_lock, UINT32_MAX - 14);
    stack_end_t *e = NULL;
    if (nends < ENDS_CAP / 4 * 3 && !find_end(ret, depth, &e) && e) {
        e->depth = depth;
        e->ok = same;
        e->ntail = same ? count - n : 0;
        for (unsigned i = 0; same && i < count - n; i++)
            e->tail[i] = (uintptr_t)frames[n + i];
        mt_store_release(&e->ret, ret);
        nends++;
    }
    mt_unlock(&ends_lock);
    return count;
}

/* ---- the frame-pointer walk */

/* The calling thread's stack, found once: [lo, hi) holds every frame. */
static bool stack_bounds(mt_tls_t *tls)
{
    if (tls->stack_known) return tls->stack_known > 0;
    tls->stack_known = -1;
    if (mt__os_tid() == (uint64_t)getpid()) {
        /* The main stack grows down from the program's entry, at most RLIMIT_STACK: the
         * kernel keeps other mappings out of that range. */
        struct rlimit rl;
        uintptr_t hi = (uintptr_t)__libc_stack_end, max = (uintptr_t)1 << 30;
        if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < max)
            max = (uintptr_t)rl.rlim_cur;
        tls->stack_lo = hi > max ? hi - max : 0;
        tls->stack_hi = hi;
    } else {
        pthread_attr_t a;
        void *addr;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &a) != 0) return false;
        int r = pthread_attr_getstack(&a, &addr, &size);
        pthread_attr_destroy(&a);
        if (r != 0) return false;
        tls->stack_lo = (uintptr_t)addr;
        tls->stack_hi = (uintptr_t)addr + size;
    }
    if (tls->stack_hi) tls->stack_known = 1;
    return tls->stack_known > 0;
}

static inline const mt_fp_seg_t *segment(uintptr_t addr, const mt_fp_seg_t **last)
{
    const mt_fp_seg_t *s = *last;
    if (s && addr - s->lo < s->hi - s->lo) return s;
    s = mt__fp_find(addr);
    if (s) *last = s;
    return s;
}

/* Follows the %rbp chain from this function's frame. Returns the number of frames, or -1 when
 * the path needs libunwind. */
static __attribute__((noinline)) int fp_walk(uint64_t *frames, unsigned max, bool *truncated,
                                             bool *from_dwarf)
{
    const uintptr_t *fp = __builtin_frame_address(0);
    mt_tls_t *tls = &mt__tls;
    uintptr_t here = (uintptr_t)fp;
    if (!stack_bounds(tls) || here < tls->stack_lo || here >= tls->stack_hi)
        return -1; /* an alternate signal stack, a coroutine's: not the thread's stack */
    /* From here on every frame pointer followed lies above this frame and below the top:
     * inside the part of the stack in use, which is mapped. */
    uintptr_t hi = tls->stack_hi;
    const mt_fp_seg_t *last = NULL;
    unsigned n = 0;
    for (;;) {
        uintptr_t ret = fp[1], next = fp[0];
        bool chain_ok = next > (uintptr_t)fp && next <= hi - 16 && !(next & 7);
        if (!in_self(ret)) {
            const mt_fp_seg_t *seg = segment(ret, &last);
            if (!seg) { /* code outside every module known: a new dlopen, or JIT code */
                mt__fp_ask_refresh();
                return -1;
            }
            if (n == max) {
                *truncated = true;
                return (int)n;
            }
            frames[n++] = ret;
            /* A caller without frame pointers keeps anything in %rbp: unless the chain ends
             * here, libunwind must find the callers. */
            if (!seg->fp && chain_ok) return -1;
        }
        if (!chain_ok) {
            /* The chain ends: at the outermost frames of the stack, if this place was checked
             * to be such an end; libunwind checks it the first time. */
            uintptr_t depth = hi - (uintptr_t)fp;
            const stack_end_t *end = find_end(ret, depth, NULL);
            if (!end) {
                int r = (int)check_end(frames, n, max, truncated, ret, depth);
                *from_dwarf = true;
                return r;
            }
            if (!end->ok) return -1;
            for (uint32_t i = 0; i < end->ntail; i++) {
                if (n == max) {
                    *truncated = true;
                    break;
                }
                frames[n++] = end->tail[i];
            }
            return (int)n;
        }
        fp = (const uintptr_t *)next;
    }
}

unsigned mt__unwind(uint64_t *frames, unsigned max, bool *truncated)
{
    if (mt__fp_modules() > 0) { /* none with --unwind dwarf */
        bool from_dwarf = false;
        int n = fp_walk(frames, max, truncated, &from_dwarf);
        if (n >= 0) {
            if (!from_dwarf && !mt_load_relaxed(&used_fp)) mt_store_relaxed(&used_fp, 1);
            return (unsigned)n;
        }
        *truncated = false;
    }
    return dwarf_unwind(frames, max, truncated);
}
