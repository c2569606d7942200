/* A small spinlock for the engine's short critical sections (a shard of the live table, the
 * call-tree insert path). It records its owner so that code running in a signal handler can
 * tell that the interrupted thread itself holds it and must not wait for it. */
#ifndef MT_CORE_LOCK_H
#define MT_CORE_LOCK_H

#include "core/atomics.h"
#include "core/os.h"

typedef struct mt_lock_s {
    _Atomic uint32_t owner; /* 0 when free, else the holder's thread index + 1 */
} mt_lock_t;

#define MT_LOCK_INIT \
    {                \
        0            \
    }

static inline bool mt_lock_try(mt_lock_t *l, uint32_t self)
{
    uint32_t free_ = 0;
    return mt_cas_acq_rel(&l->owner, &free_, self);
}

static inline void mt_lock(mt_lock_t *l, uint32_t self)
{
    for (unsigned spins = 0;; spins++) {
        /* Relaxed: only a hint to avoid hammering the line with failed CAS; the CAS orders. */
        if (mt_load_relaxed(&l->owner) == 0 && mt_lock_try(l, self)) return;
        if (spins < 64)
            __builtin_ia32_pause();
        else
            mt__os_yield();
    }
}

static inline void mt_unlock(mt_lock_t *l)
{
    mt_store_release(&l->owner, 0);
}

/* For the capture writer in a signal handler: takes the lock unless `self` already holds it
 * (the handler interrupted its own critical section), in which case it returns false and the
 * caller reads without the lock, accepting a possibly half-made update. */
static inline bool mt_lock_unless_mine(mt_lock_t *l, uint32_t self)
{
    if (self != 0 && mt_load_relaxed(&l->owner) == self) return false; /* relaxed: own store */
    mt_lock(l, self ? self : UINT32_MAX);
    return true;
}

#endif
