/* The engine's own memory: every structure of the engine lives in memory mapped here, never
 * in memory from the tracked malloc (DESIGN.md invariant 2). */
#ifndef MT_CORE_ARENA_H
#define MT_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Returns `size` zeroed bytes aligned to 16, or NULL when the system refuses memory. Thread-safe.
 * Small sizes come from power-of-two classes carved from 1 MiB slabs; large ones are mapped
 * on their own. */
void *mt__arena_alloc(size_t size);

/* Gives back memory from mt__arena_alloc with the same `size`. Large blocks are unmapped; small
 * ones are kept for reuse. NULL is ignored. */
void mt__arena_free(void *p, size_t size);

/* Bytes the arena has mapped from the system so far (what the capture reports as the engine's
 * own memory). */
uint64_t mt__arena_mapped(void);

/* Around fork(): the prepare step takes the arena's lock so that no other thread is inside
 * it when the process is copied; both parent and child release it afterwards. */
void mt__arena_fork_prepare(void);
void mt__arena_fork_release(void);

#endif
