/* Named blocks: a name, file and line given to one block (MEMTRACK_TRACK(var)), kept while the
 * block is live so reports can say which variable holds it. Names are rare, so one lock
 * guards them; the free path only looks when some name exists. */
#ifndef MT_CORE_NAMES_H
#define MT_CORE_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/atomics.h"
#include "core/lock.h"

#define MT_NAME_MAX 127

typedef struct mt_named_s {
    uint64_t addr;
    uint32_t line;
    char name[MT_NAME_MAX + 1];
    char file[MT_NAME_MAX + 1];
    struct mt_named_s *next;
} mt_named_t;

typedef struct mt_names_s {
    mt_lock_t lock;
    _Atomic uint64_t count; /* named blocks now */
    mt_named_t **buckets;
    uint32_t nbuckets;
    mt_named_t *spare;
} mt_names_t;

/* Names the block at addr (replacing an earlier name); -1 without memory. */
int mt__names_set(mt_names_t *n, uint64_t addr, const char *name, const char *file, uint32_t line,
                  uint32_t self);

/* The block at addr is freed: forget its name. Cheap when nothing is named. */
static inline void mt__names_forget(mt_names_t *n, uint64_t addr, uint32_t self)
{
    void mt__names_forget_slow(mt_names_t * n, uint64_t addr, uint32_t self);
    if (mt_load_relaxed(&n->count)) mt__names_forget_slow(n, addr, self); /* relaxed: a hint */
}

/* Calls fn for every named block (under the lock). */
typedef void (*mt_named_fn)(const mt_named_t *nb, void *ctx);
void mt__names_foreach(mt_names_t *n, mt_named_fn fn, void *ctx, uint32_t self);

void mt__names_clear(mt_names_t *n);

#endif
