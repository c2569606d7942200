/* Named atomic operations: each name says its memory ordering, so a reader sees at the call
 * site what is guaranteed (the habit of mimalloc's atomic.h). Relaxed uses carry a comment
 * saying why relaxed is enough. */
#ifndef MT_CORE_ATOMICS_H
#define MT_CORE_ATOMICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define mt_load_relaxed(p)        atomic_load_explicit((p), memory_order_relaxed)
#define mt_load_acquire(p)        atomic_load_explicit((p), memory_order_acquire)
#define mt_store_relaxed(p, v)    atomic_store_explicit((p), (v), memory_order_relaxed)
#define mt_store_release(p, v)    atomic_store_explicit((p), (v), memory_order_release)
#define mt_add_relaxed(p, v)      atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define mt_add_acq_rel(p, v)      atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define mt_exchange_acq_rel(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define mt_cas_acq_rel(p, exp, v)                                                  \
    atomic_compare_exchange_strong_explicit((p), (exp), (v), memory_order_acq_rel, \
                                            memory_order_acquire)

/* A counter written by one thread only and read by others (the capture writer): the owner's
 * increment needs no read-modify-write instruction, only a store others can read untorn. */
#define mt_owner_add(p, v) mt_store_relaxed((p), mt_load_relaxed(p) + (v))

/* A 128-bit pair updated as one (lock cmpxchg16b; the build passes -mcx16). */
typedef struct mt_pair_s {
    uint64_t lo, hi;
} mt_pair_t;

typedef union mt_pair128_u {
    unsigned __int128 v;
    mt_pair_t p;
} mt_pair128_t;

/* Compare-and-swap of a 16-byte-aligned pair, sequentially consistent (a full barrier on
 * x86-64). On failure *expected receives the current value. */
static inline bool mt_pair_cas(volatile unsigned __int128 *target, mt_pair_t *expected,
                               mt_pair_t desired)
{
    mt_pair128_t e = {.p = *expected}, d = {.p = desired};
    mt_pair128_t old;
    old.v = __sync_val_compare_and_swap(target, e.v, d.v);
    if (old.v == e.v) return true;
    *expected = old.p;
    return false;
}

/* Reads a pair possibly torn (two relaxed 8-byte loads); callers use it only as the first
 * guess of a CAS loop, which corrects it. */
static inline mt_pair_t mt_pair_peek(volatile unsigned __int128 *target)
{
    uint64_t *w = (uint64_t *)target;
    mt_pair_t p = {__atomic_load_n(&w[0], __ATOMIC_RELAXED),
                   __atomic_load_n(&w[1], __ATOMIC_RELAXED)};
    return p;
}

#endif
