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

#define SKIP_MAX 8 /* memtrack's own frames above the program's: hook, recorder, unwinder */

unsigned mt__unwind(uint64_t *frames, unsigned max, bool *truncated)
{
    void *ips[MT_DEPTH_MAX + SKIP_MAX + 1];
    int n = unw_backtrace(ips, (int)(max + SKIP_MAX + 1));
    if (n <= 0) return 0;
    int first = 0;
    while (first < n && (uintptr_t)ips[first] >= self_lo && (uintptr_t)ips[first] < self_hi)
        first++;
    unsigned count = (unsigned)(n - first);
    if (count > max) {
        count = max;
        *truncated = true;
    }
    for (unsigned i = 0; i < count; i++)
        frames[i] = (uint64_t)(uintptr_t)ips[first + (int)i];
    return count;
}
