/* A small allocator for the engine over mmap: power-of-two size classes with free lists, bump
 * allocation from 1 MiB slabs, and a mapping of its own for anything larger than 256 KiB. The
 * engine allocates rarely (tables grow geometrically), so one lock is enough here. */
#include "core/arena.h"

#include <string.h>

#include "core/lock.h"
#include "core/os.h"

#define SLAB_SIZE (1u << 20)
#define MIN_SHIFT 5  /* 32 bytes */
#define MAX_SHIFT 18 /* 256 KiB: larger blocks are mapped on their own */
#define NCLASSES  (MAX_SHIFT - MIN_SHIFT + 1)

typedef struct free_block_s {
    struct free_block_s *next;
} free_block_t;

static struct {
    mt_lock_t lock;
    free_block_t *free[NCLASSES];
    char *bump, *bump_end;
    _Atomic uint64_t mapped;
} arena;

static unsigned class_of(size_t size)
{
    unsigned shift = MIN_SHIFT;
    while (((size_t)1 << shift) < size)
        shift++;
    return shift - MIN_SHIFT;
}

static size_t round_pages(size_t size)
{
    size_t page = mt__os_page_size();
    return (size + page - 1) & ~(page - 1);
}

void *mt__arena_alloc(size_t size)
{
    if (size == 0) size = 1;
    if (size > ((size_t)1 << MAX_SHIFT)) {
        size_t len = round_pages(size);
        void *p = mt__os_map(len);
        if (p) mt_add_relaxed(&arena.mapped, len); /* relaxed: a statistic */
        return p;
    }
    unsigned c = class_of(size);
    size_t csize = (size_t)1 << (c + MIN_SHIFT);
    void *p = NULL;
    mt_lock(&arena.lock, UINT32_MAX - 1);
    if (arena.free[c]) {
        free_block_t *b = arena.free[c];
        arena.free[c] = b->next;
        p = b;
    } else {
        /* Blocks are aligned to their size (up to a page), so a 64-byte structure never
         * straddles two cache lines. */
        size_t align = csize < 4096 ? csize : 4096;
        arena.bump = (char *)(((uintptr_t)arena.bump + align - 1) & ~(uintptr_t)(align - 1));
        if (arena.bump > arena.bump_end) arena.bump = arena.bump_end;
        if ((size_t)(arena.bump_end - arena.bump) < csize) {
            /* The rest of the old slab is dropped: at most 256 KiB per 1 MiB in the worst case,
             * and only while the engine is growing. */
            char *slab = mt__os_map(SLAB_SIZE);
            if (slab) {
                mt_add_relaxed(&arena.mapped, SLAB_SIZE); /* relaxed: a statistic */
                arena.bump = slab;
                arena.bump_end = slab + SLAB_SIZE;
            }
        }
        if ((size_t)(arena.bump_end - arena.bump) >= csize) {
            p = arena.bump;
            arena.bump += csize;
            mt_unlock(&arena.lock);
            return p; /* fresh mapped memory is already zero */
        }
    }
    mt_unlock(&arena.lock);
    if (p) memset(p, 0, csize);
    return p;
}

void mt__arena_free(void *p, size_t size)
{
    if (!p) return;
    if (size == 0) size = 1;
    if (size > ((size_t)1 << MAX_SHIFT)) {
        size_t len = round_pages(size);
        mt__os_unmap(p, len);
        atomic_fetch_sub_explicit(&arena.mapped, len, memory_order_relaxed); /* a statistic */
        return;
    }
    unsigned c = class_of(size);
    free_block_t *b = p;
    mt_lock(&arena.lock, UINT32_MAX - 1);
    b->next = arena.free[c];
    arena.free[c] = b;
    mt_unlock(&arena.lock);
}

uint64_t mt__arena_mapped(void)
{
    return mt_load_relaxed(&arena.mapped); /* relaxed: a statistic */
}

void mt__arena_fork_prepare(void)
{
    mt_lock(&arena.lock, UINT32_MAX - 1);
}

void mt__arena_fork_release(void)
{
    mt_unlock(&arena.lock);
}
