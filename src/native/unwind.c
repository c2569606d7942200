/* Call paths of allocations, with libunwind's DWARF unwinder (Debian builds without frame
 * pointers, and glibc's backtrace() is 20x slower and may take locks inside malloc). The
 * frames of this library itself are cut off by address, so inlining cannot let one slip in. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <link.h>
#include <stdint.h>

#include "native/native.h"

static uintptr_t self_lo, self_hi; /* this library's executable segments */

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

void mt__unwind_init(void)
{
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&mt__unwind_init);
    /* Each thread caches the unwind info of the addresses it has seen. */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

static inline int in_self(const void *ip)
{
    return (uintptr_t)ip >= self_lo && (uintptr_t)ip < self_hi;
}

#define SKIP_MAX 16 /* room for memtrack's own frames: the hook's, and a callback's callers */

unsigned mt__unwind(uint64_t *frames, unsigned max, bool *truncated)
{
    void *ips[MT_DEPTH_MAX + SKIP_MAX + 1];
    int n = unw_backtrace(ips, (int)(max + SKIP_MAX + 1));
    if (n <= 0) return 0;
    /* memtrack's own frames are left out: the hook's, innermost, and further out those of
     * memtrack calling the program back (the callbacks of memtrack_track). */
    unsigned count = 0;
    for (int i = 0; i < n; i++) {
        if (in_self(ips[i])) continue;
        if (count == max) {
            *truncated = true;
            break;
        }
        frames[count++] = (uint64_t)(uintptr_t)ips[i];
    }
    return count;
}
