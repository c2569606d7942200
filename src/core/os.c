/* Linux implementation of the engine's OS seam (os.h). */
#include "core/os.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *mt__os_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mt__os_unmap(void *p, size_t size)
{
    if (p) munmap(p, size);
}

size_t mt__os_page_size(void)
{
    static size_t page;
    if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mt__os_now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t mt__os_realtime_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

uint64_t mt__os_tid(void)
{
    return (uint64_t)syscall(SYS_gettid);
}

int mt__os_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO; /* a regular file never returns 0 for len > 0 */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

bool mt__os_membarrier_register(void)
{
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

void mt__os_membarrier(void)
{
    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

void mt__os_yield(void)
{
    sched_yield();
}

char *mt__os_fmt_u64(char *buf, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *buf++ = tmp[--n];
    *buf = '\0';
    return buf;
}
