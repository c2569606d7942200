/* The live-allocation table: every live block keyed by its address, sharded by a hash of the
 * address so threads rarely meet on a lock (DESIGN.md invariant 1). */
#ifndef MT_CORE_LIVE_TABLE_H
#define MT_CORE_LIVE_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lock.h"

/* What the engine remembers of one live block. The table stores it packed in 32 bytes with
 * its link (live_table.c): thread and cls below 2^20, addr below 2^56, size below 2^48. */
typedef struct mt_block_s {
    uint64_t addr;
    uint64_t size;
    uint64_t peak_before; /* the global peak just before this block was allocated */
    uint32_t node;        /* call-tree node of its call path */
    uint32_t thread;      /* index of the thread that allocated it */
    uint32_t cls;         /* its class (classes.h) */
} mt_block_t;

#define MT_SHARD_BITS 10
#define MT_SHARDS     (1u << MT_SHARD_BITS)
/* A shard's entries: chunk k < MT_CHUNKS holds 16 << k of them (496 in all), then chunks of
 * MT_FIXED_CHUNK each, found through a directory that grows by doubling. Small shards stay
 * small, and a large one never holds more than one chunk it has not handed out. */
#define MT_CHUNKS      5
#define MT_FIXED_SHIFT 9
#define MT_FIXED_CHUNK (1u << MT_FIXED_SHIFT)

typedef struct mt_entry_s mt_entry_t;

typedef struct mt_shard_s {
    mt_lock_t lock;
    uint32_t count;      /* live entries */
    uint32_t mask;       /* buckets - 1; 0 with no buckets yet */
    uint32_t old_mask;   /* the table being drained during an incremental resize */
    uint32_t rehash_pos; /* next bucket of `old` to move */
    uint32_t free_head;  /* entry indices are 1-based; 0 ends lists */
    uint32_t used;       /* entries carved from the chunks so far */
    uint32_t *buckets;
    uint32_t *old;
    uint32_t ndir; /* slots of `dir` */
    mt_entry_t *chunks[MT_CHUNKS];
    mt_entry_t **dir; /* the fixed-size chunks */
} __attribute__((aligned(64))) mt_shard_t;

typedef struct mt_live_s {
    mt_shard_t *shards; /* MT_SHARDS of them */
} mt_live_t;

int mt__live_init(mt_live_t *t);
void mt__live_destroy(mt_live_t *t);

/* The shard an address belongs to; the caller locks it around insert/remove. */
mt_shard_t *mt__live_shard(mt_live_t *t, uint64_t addr);

typedef enum mt_insert_e {
    MT_INSERTED = 0,
    MT_REPLACED = 1, /* the address was already live (a free was missed): *old has its record */
    MT_NO_MEMORY = -1
} mt_insert_t;

/* Both with the shard locked. */
mt_insert_t mt__shard_insert(mt_shard_t *s, const mt_block_t *b, mt_block_t *old);
bool mt__shard_remove(mt_shard_t *s, uint64_t addr, mt_block_t *out);
bool mt__shard_find(mt_shard_t *s, uint64_t addr, mt_block_t *out);

/* Calls fn for each block of a shard (locked by the caller), in no particular order. */
typedef void (*mt_block_fn)(const mt_block_t *b, void *ctx);
void mt__shard_foreach(const mt_shard_t *s, mt_block_fn fn, void *ctx);

/* The same, letting fn change the block's record (never its address). */
typedef void (*mt_block_mut_fn)(mt_block_t *b, void *ctx);
void mt__shard_update(mt_shard_t *s, mt_block_mut_fn fn, void *ctx);

/* Bytes the table holds in entries and buckets, for the capture's accounting of the engine. */
uint64_t mt__live_memory(const mt_live_t *t);

#endif
