/* The engine's only seam to the operating system: memory mapping, clocks, thread ids and
 * raw writes. Nothing here allocates through malloc or uses stdio, so it is safe inside an
 * allocator hook and in a signal handler. */
#ifndef MT_CORE_OS_H
#define MT_CORE_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maps `size` bytes of zeroed read-write memory, or returns NULL. Never calls malloc. */
void *mt__os_map(size_t size);
void mt__os_unmap(void *p, size_t size);
size_t mt__os_page_size(void);

uint64_t mt__os_now_ns(void); /* CLOCK_MONOTONIC */

/* A cheap, monotonic tick count (the TSC on x86-64: no system call), for timestamps taken on
 * the hot path and converted to nanoseconds later (mt__os_ticks_to_ns). */
static inline uint64_t mt__os_ticks(void)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return mt__os_now_ns();
#endif
}
uint64_t mt__os_realtime_ns(void); /* CLOCK_REALTIME */
uint64_t mt__os_tid(void);         /* the kernel's thread id */

/* Writes all of buf, retrying on EINTR and on short writes. Returns 0 or an errno value. */
int mt__os_write_all(int fd, const void *buf, size_t len);

/* Asymmetric fences: once registered, mt__os_membarrier() makes every thread of the process
 * execute a full memory barrier, so threads can publish a flag with a plain store and the rare
 * reader pays for the ordering. Register returns false when the kernel refuses it; then every
 * thread must fence itself. */
bool mt__os_membarrier_register(void);
void mt__os_membarrier(void);

/* Yields the CPU to another thread (used by spinlocks that have spun long enough). */
void mt__os_yield(void);

/* Writes v in decimal and a NUL at buf (room for 21 bytes), without stdio (for signal
 * handlers, vfork children and the tracked process's exit). Returns the NUL's address. */
char *mt__os_fmt_u64(char *buf, uint64_t v);

#endif
