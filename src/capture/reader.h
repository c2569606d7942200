/* The capture reader: loads a capture file (docs/FORMAT.md) into memory and validates all of
 * it, so that the report code can trust every index and count it is given. Runs in the
 * reporting tool, never in the tracked process; it may use malloc. */
#ifndef MT_CAPTURE_READER_H
#define MT_CAPTURE_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct mt_cap_totals_s {
    uint64_t allocations, frees, allocated_bytes, freed_bytes;
    uint64_t live_blocks, live_bytes;
    uint64_t peak_bytes, peak_time_ns, peak_blocks;
    uint64_t temporary, unknown_frees, threads;
} mt_cap_totals_t;

typedef struct mt_cap_module_s {
    uint64_t bias, start, end;
    char *path;        /* NUL-terminated copy */
    uint8_t *build_id; /* raw bytes, build_id_len of them (may be NULL when 0) */
    uint32_t build_id_len;
} mt_cap_module_t;

/* nodes[0] is the root (parent 0, frame 0, figures of stackless allocations). */
typedef struct mt_cap_node_s {
    uint32_t parent;
    uint64_t frame;
    uint64_t allocations, allocated_bytes, temporary;
    uint64_t peak_blocks, peak_bytes;
    uint64_t live_blocks, live_bytes;
} mt_cap_node_t;

typedef struct mt_cap_thread_s {
    uint64_t tid, allocations, allocated_bytes, frees, freed_bytes;
    uint64_t live_blocks, live_bytes, peak_bytes, peak_time_ns;
    uint64_t temporary, unknown_frees, start_ns, end_ns;
    char *name; /* NUL-terminated copy, may be "" */
    /* It ended and its call-path figures were merged with other ended threads' (THREAD_NODES
     * thread MT_CAP_THREAD_MERGED): its own are not known. */
    int figures_merged;
} mt_cap_thread_t;

/* A call path's figures of the allocations one thread made (THREAD_NODES). */
#define MT_CAP_THREAD_MERGED UINT32_MAX /* of the threads whose figures were merged */
typedef struct mt_cap_tnode_s {
    uint32_t thread; /* index in threads, or MT_CAP_THREAD_MERGED */
    uint32_t node;
    uint64_t allocations, allocated_bytes, temporary, peak_blocks, peak_bytes;
} mt_cap_tnode_t;

typedef struct mt_cap_live_s {
    uint64_t address, size;
    uint32_t node, thread;
} mt_cap_live_t;

typedef struct mt_cap_class_s {
    char *name; /* NUL-terminated copy */
    uint64_t new_count, new_bytes, free_count, free_bytes;
    uint32_t depth; /* call-path depth the class asked for, 0 for the default */
} mt_cap_class_t;

typedef struct mt_cap_contrib_s {
    uint32_t node;
    uint64_t blocks, bytes;
} mt_cap_contrib_t;

/* A period of the run cut by stages or peak resets (its end_ns 0 if it was running). */
typedef struct mt_cap_stage_s {
    char *name; /* "" for an unnamed period */
    uint64_t start_ns, end_ns, peak_bytes, peak_time_ns;
    size_t ntop;
    mt_cap_contrib_t *top; /* biggest first */
} mt_cap_stage_t;

/* A live block the program named (MEMTRACK_TRACK). */
typedef struct mt_cap_named_s {
    uint64_t address;
    char *name, *file; /* NUL-terminated copies */
    uint32_t line;
} mt_cap_named_t;

/* A frame's name from the SYMBOLS section (front ends that number their own frames). */
typedef struct mt_cap_symbol_s {
    uint64_t frame;
    char *function, *file; /* NUL-terminated copies, possibly "" */
    uint32_t line;         /* 0 when unknown */
} mt_cap_symbol_t;

/* Memory over time. */
typedef struct mt_cap_sample_s {
    uint64_t t_ns, live_bytes, live_blocks, rss_bytes; /* rss_bytes 0: unknown */
} mt_cap_sample_t;

typedef struct mt_capture_s {
    uint32_t version;
    /* META */
    uint64_t pid, parent_pid, start_realtime_ns, duration_ns;
    uint32_t depth, mode, end_reason, flags, frame_kind;
    int32_t end_value;
    uint64_t dropped_events, engine_bytes;
    char *program; /* NUL-terminated */
    char *cmdline; /* arguments separated by NUL bytes, cmdline_len bytes (+ a final NUL) */
    size_t cmdline_len;

    mt_cap_totals_t totals;
    size_t nmodules;
    mt_cap_module_t *modules;
    size_t nnodes; /* including the root: ids 0..nnodes-1 */
    mt_cap_node_t *nodes;
    size_t nthreads;
    mt_cap_thread_t *threads;
    size_t nlive;
    mt_cap_live_t *live;
    size_t nclasses; /* 0 when the capture has no CLASSES section */
    mt_cap_class_t *classes;
    size_t nstages; /* 0 when the program cut no stage */
    mt_cap_stage_t *stages;
    size_t nnamed;
    mt_cap_named_t *named;
    /* MEMORY: the tracker's own memory held by the live table and by the call tree, parts of
     * engine_bytes (has_memory 0 in older captures). */
    int has_memory;
    uint64_t live_table_bytes, call_tree_bytes;
    int has_tnodes; /* a THREAD_NODES section was present (0 in older captures) */
    size_t ntnodes;
    mt_cap_tnode_t *tnodes;
    size_t nsamples; /* 0 when the capture has no timeline */
    uint64_t sample_interval_ns;
    mt_cap_sample_t *samples;
    size_t nsymbols;          /* 0 when the capture has no SYMBOLS section */
    mt_cap_symbol_t *symbols; /* sorted by frame, each frame once */
    /* SAMPLING (mode 2): the sampling mean in bytes (0 in the other modes), and how many
     * allocations were sampled. The nodes' figures and TOTALS' peak_blocks are then estimates;
     * LIVE lists the sampled live blocks only. */
    uint64_t sample_mean, sampled;
} mt_capture_t;

/* The capture's META.mode values. */
#define MT_CAP_MODE_FULL   0u
#define MT_CAP_MODE_COUNT  1u
#define MT_CAP_MODE_SAMPLE 2u

/* Whether the capture's call-path figures are estimates (sample mode). */
static inline int mt__cap_estimated(const mt_capture_t *cap)
{
    return cap->mode == MT_CAP_MODE_SAMPLE;
}

/* The bytes a live block of the capture stands for: its size, or in sample mode its estimate
 * (core/sampler.h), as the node figures count it. */
uint64_t mt__cap_block_bytes(const mt_capture_t *cap, uint64_t size);

/* Reads and validates the capture at `path`. On success returns 0 and sets *out (free it with
 * mt__capture_free). On failure returns -1 and writes one line (no trailing newline) into
 * err[errlen] saying what is wrong, e.g. "truncated: NODES section needs 6800 bytes, 12 left". */
int mt__capture_read(const char *path, mt_capture_t **out, char *err, size_t errlen);

/* The same from a buffer already in memory (used by the fuzzer and tests); the buffer is not
 * retained. */
int mt__capture_parse(const uint8_t *data, size_t len, mt_capture_t **out, char *err,
                      size_t errlen);

void mt__capture_free(mt_capture_t *cap);

/* The id of the NODES record standing for the root (parent 0, frame 0: the figures of
 * allocations recorded without frames, which LIVE and THREAD_NODES give as node 0), or 0 when
 * there is none. */
size_t mt__capture_root_alias(const mt_capture_t *cap);

/* The SYMBOLS entry naming `frame`, or NULL. O(log symbols). */
const mt_cap_symbol_t *mt__capture_symbol(const mt_capture_t *cap, uint64_t frame);

#endif
