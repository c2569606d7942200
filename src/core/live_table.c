/* The live-allocation table (live_table.h): 1024 shards, each a chained hash table whose
 * entries come from a per-shard pool and whose bucket array grows by doubling, moving a few
 * buckets per operation (the incremental rehash of redis dict.c), so no call does unbounded
 * work. An entry is 40 bytes and a shard keeps at most one entry per bucket on average, so a
 * live block costs 44 to 48 bytes of engine memory. */
#include "core/live_table.h"

#include <string.h>

#include "core/arena.h"

struct mt_entry_s {
    mt_block_t b;
    uint32_t next;
};

#define FIRST_BUCKETS 8u
#define REHASH_STEP   16u /* old buckets moved per operation during a resize */

/* Addresses are placed by their 64 KiB region: a region belongs to one shard, and within the
 * shard the low 16 bits of the address pick neighbouring buckets. Blocks allocated one after
 * the other (usually neighbours in memory) then meet the same lock, bucket array lines and
 * entry pool, which keeps a table of millions of blocks in cache far better than a uniform
 * hash; threads allocate from their own malloc arenas, so they still spread over shards. */
static inline uint64_t hash_addr(uint64_t addr)
{
    uint64_t region = (addr >> 16) * 0x9e3779b97f4a7c15ull;
    return (region & ~(uint64_t)0xfff) | ((addr >> 4) & 0xfff);
}

static inline uint32_t bucket_of(uint64_t h, uint32_t mask)
{
    /* Low 12 bits: the address within its region; above them region bits that the shard
     * number (the top 10 bits) does not use. */
    return (uint32_t)((h & 0xfff) | ((h >> 20) & ~(uint64_t)0xfff)) & mask;
}

static inline mt_entry_t *entry_at(const mt_shard_t *s, uint32_t idx)
{
    uint32_t i = idx - 1;
    unsigned k = 31u - (unsigned)__builtin_clz((i >> 4) + 1);
    return &s->chunks[k][i - 16u * ((1u << k) - 1u)];
}

int mt__live_init(mt_live_t *t)
{
    t->shards = mt__arena_alloc(sizeof(mt_shard_t) * MT_SHARDS);
    return t->shards ? 0 : -1;
}

static size_t chunk_bytes(unsigned k)
{
    return sizeof(mt_entry_t) * (16u << k);
}

void mt__live_destroy(mt_live_t *t)
{
    if (!t->shards) return;
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        mt_shard_t *s = &t->shards[i];
        for (unsigned k = 0; k < MT_CHUNKS && s->chunks[k]; k++)
            mt__arena_free(s->chunks[k], chunk_bytes(k));
        if (s->buckets) mt__arena_free(s->buckets, sizeof(uint32_t) * (s->mask + 1u));
        if (s->old) mt__arena_free(s->old, sizeof(uint32_t) * (s->old_mask + 1u));
    }
    mt__arena_free(t->shards, sizeof(mt_shard_t) * MT_SHARDS);
    t->shards = NULL;
}

mt_shard_t *mt__live_shard(mt_live_t *t, uint64_t addr)
{
    return &t->shards[hash_addr(addr) >> (64 - MT_SHARD_BITS)];
}

/* Moves up to `n` buckets of the old table into the new one. */
static void rehash_step(mt_shard_t *s, unsigned n)
{
    while (s->old && n--) {
        uint32_t idx = s->old[s->rehash_pos];
        while (idx) {
            mt_entry_t *e = entry_at(s, idx);
            uint32_t next = e->next;
            uint32_t bkt = bucket_of(hash_addr(e->b.addr), s->mask);
            e->next = s->buckets[bkt];
            s->buckets[bkt] = idx;
            idx = next;
        }
        s->old[s->rehash_pos] = 0;
        if (s->rehash_pos++ == s->old_mask) {
            mt__arena_free(s->old, sizeof(uint32_t) * (s->old_mask + 1u));
            s->old = NULL;
            s->old_mask = 0;
            s->rehash_pos = 0;
        }
    }
}

/* Starts a resize when the table is full; without memory it just keeps longer chains. */
static void maybe_grow(mt_shard_t *s)
{
    if (s->old) return;
    if (s->buckets && s->count < s->mask + 1u) return;
    uint32_t nb = s->buckets ? (s->mask + 1u) * 2u : FIRST_BUCKETS;
    if (nb == 0) return; /* 2^32 buckets: stop growing */
    uint32_t *b = mt__arena_alloc(sizeof(uint32_t) * nb);
    if (!b) return;
    if (s->buckets) {
        s->old = s->buckets;
        s->old_mask = s->mask;
        s->rehash_pos = 0;
    }
    s->buckets = b;
    s->mask = nb - 1u;
}

static uint32_t new_entry(mt_shard_t *s)
{
    if (s->free_head) {
        uint32_t idx = s->free_head;
        s->free_head = entry_at(s, idx)->next;
        return idx;
    }
    uint32_t i = s->used; /* the 0-based position of the entry to carve */
    unsigned k = 31u - (unsigned)__builtin_clz((i >> 4) + 1);
    if (k >= MT_CHUNKS) return 0;
    if (!s->chunks[k]) {
        s->chunks[k] = mt__arena_alloc(chunk_bytes(k));
        if (!s->chunks[k]) return 0;
    }
    s->used++;
    return i + 1;
}

/* Finds the link that points at `addr`'s entry in one bucket array, or NULL. */
static uint32_t *find_link(mt_shard_t *s, uint32_t *buckets, uint32_t mask, uint64_t h,
                           uint64_t addr)
{
    uint32_t *link = &buckets[bucket_of(h, mask)];
    while (*link) {
        mt_entry_t *e = entry_at(s, *link);
        if (e->b.addr == addr) return link;
        link = &e->next;
    }
    return NULL;
}

static uint32_t *lookup(mt_shard_t *s, uint64_t h, uint64_t addr)
{
    uint32_t *link = s->buckets ? find_link(s, s->buckets, s->mask, h, addr) : NULL;
    if (!link && s->old) link = find_link(s, s->old, s->old_mask, h, addr);
    return link;
}

mt_insert_t mt__shard_insert(mt_shard_t *s, const mt_block_t *b, mt_block_t *old)
{
    uint64_t h = hash_addr(b->addr);
    uint32_t *link = s->count ? lookup(s, h, b->addr) : NULL;
    if (link) {
        mt_entry_t *e = entry_at(s, *link);
        *old = e->b;
        e->b = *b;
        return MT_REPLACED;
    }
    maybe_grow(s);
    if (!s->buckets) return MT_NO_MEMORY;
    rehash_step(s, REHASH_STEP);
    uint32_t idx = new_entry(s);
    if (!idx) return MT_NO_MEMORY;
    mt_entry_t *e = entry_at(s, idx);
    e->b = *b;
    uint32_t bkt = bucket_of(h, s->mask);
    e->next = s->buckets[bkt];
    s->buckets[bkt] = idx;
    s->count++;
    return MT_INSERTED;
}

bool mt__shard_remove(mt_shard_t *s, uint64_t addr, mt_block_t *out)
{
    if (!s->count) return false;
    uint32_t *link = lookup(s, hash_addr(addr), addr);
    if (!link) return false;
    uint32_t idx = *link;
    mt_entry_t *e = entry_at(s, idx);
    *out = e->b;
    *link = e->next;
    e->next = s->free_head;
    s->free_head = idx;
    s->count--;
    rehash_step(s, REHASH_STEP);
    return true;
}

bool mt__shard_find(mt_shard_t *s, uint64_t addr, mt_block_t *out)
{
    uint32_t *link = s->count ? lookup(s, hash_addr(addr), addr) : NULL;
    if (link) *out = entry_at(s, *link)->b;
    return link != NULL;
}

static void update_chain(const mt_shard_t *s, const uint32_t *buckets, uint32_t mask,
                         mt_block_mut_fn fn, void *ctx)
{
    for (uint64_t i = 0; i <= mask; i++) {
        for (uint32_t idx = buckets[i]; idx; idx = entry_at(s, idx)->next)
            fn(&entry_at(s, idx)->b, ctx);
    }
}

void mt__shard_update(mt_shard_t *s, mt_block_mut_fn fn, void *ctx)
{
    if (!s->count) return;
    if (s->buckets) update_chain(s, s->buckets, s->mask, fn, ctx);
    if (s->old) update_chain(s, s->old, s->old_mask, fn, ctx);
}

typedef struct read_only_s {
    mt_block_fn fn;
    void *ctx;
} read_only_t;

static void read_only(mt_block_t *b, void *ctx)
{
    read_only_t *r = ctx;
    r->fn(b, r->ctx);
}

void mt__shard_foreach(const mt_shard_t *s, mt_block_fn fn, void *ctx)
{
    read_only_t r = {fn, ctx};
    mt__shard_update((mt_shard_t *)s, read_only, &r); /* read_only changes nothing */
}

uint64_t mt__live_memory(const mt_live_t *t)
{
    uint64_t total = sizeof(mt_shard_t) * MT_SHARDS;
    for (unsigned i = 0; i < MT_SHARDS; i++) {
        const mt_shard_t *s = &t->shards[i];
        total += (uint64_t)s->used * sizeof(mt_entry_t);
        if (s->buckets) total += sizeof(uint32_t) * ((uint64_t)s->mask + 1u);
        if (s->old) total += sizeof(uint32_t) * ((uint64_t)s->old_mask + 1u);
    }
    return total;
}
