/* The capture file format: constants shared by the writer (which runs inside the tracked
 * process) and the reader (which runs in the reporting tool). docs/FORMAT.md is the spec. */
#ifndef MT_CAPTURE_FORMAT_H
#define MT_CAPTURE_FORMAT_H

#include <stdint.h>

/* "MEMTRACK" followed by the version. Everything is little-endian, fields packed without
 * padding, in the order docs/FORMAT.md lists them. */
#define MT_FMT_MAGIC       "MEMTRACK"
#define MT_FMT_MAGIC_LEN   8
#define MT_FMT_VERSION     1u
#define MT_FMT_HEADER_SIZE 16u /* magic[8], u32 version, u32 header_size */
#define MT_FMT_SECTION_HDR 16u /* u32 type, u32 flags, u64 length */

/* Section types. A reader skips types it does not know; END must be last. */
typedef enum mt_fmt_section_e {
    MT_SEC_META = 1,
    MT_SEC_TOTALS = 2,
    MT_SEC_MODULES = 3,
    MT_SEC_NODES = 4,
    MT_SEC_THREADS = 5,
    MT_SEC_LIVE = 6,
    MT_SEC_CLASSES = 7,
    MT_SEC_STAGES = 8,
    MT_SEC_NAMES = 9,
    MT_SEC_TIMELINE = 10,
    MT_SEC_THREAD_NODES = 11,
    MT_SEC_SYMBOLS = 12,  /* optional: names of frames a front end numbered itself */
    MT_SEC_SAMPLING = 13, /* sample mode's parameters */
    MT_SEC_MEMORY = 14,   /* the tracker's own memory, by part */
    MT_SEC_END = 0x454e44 /* "END" */
} mt_fmt_section_t;
#define MT_SEC_LAST MT_SEC_MEMORY /* the highest known type but END */

/* Why the capture was written (META.end_reason). */
typedef enum mt_fmt_end_e {
    MT_END_EXIT = 0,     /* normal exit or exit(); end_value is the exit status if known, else -1 */
    MT_END_SIGNAL = 1,   /* killed by a fatal signal; end_value is the signal number */
    MT_END_EXEC = 2,     /* the process image was replaced by exec*() */
    MT_END_SNAPSHOT = 3, /* written on request while the program ran */
    MT_END_QUICK = 4     /* _exit()/_Exit(); end_value is the status */
} mt_fmt_end_t;

/* What frames are (META.frame_kind). */
typedef enum mt_fmt_frames_e {
    MT_FRAMES_NATIVE_RETURN = 0, /* return addresses: look up frame - 1 */
    MT_FRAMES_SYMBOLS = 1        /* numbers named by the SYMBOLS section (the Ruby gem) */
} mt_fmt_frames_t;

/* META.flags */
#define MT_META_DEGRADED  0x1u  /* the engine ran out of its own memory: some events were dropped */
#define MT_META_FORKED    0x2u  /* this process is a fork() child of parent_pid */
#define MT_META_TRUNCSTK  0x4u  /* some call paths were cut at the depth limit */
#define MT_META_STACKLESS 0x8u  /* call paths were not recorded (frames are all empty) */
#define MT_META_FOLLOWED  0x10u /* started by a tracked process (--follow-children) */
#define MT_META_FPUNWIND  0x20u /* some call paths were found by following frame pointers */

/* Fixed sizes of the records, for validation. */
#define MT_FMT_META_FIXED    72u        /* numeric part of META, before its strings */
#define MT_FMT_TOTALS_SIZE   96u        /* twelve u64 */
#define MT_FMT_NODE_SIZE     68u        /* u32 parent, u64 frame, seven u64 figures */
#define MT_FMT_THREAD_FIXED  104u       /* thirteen u64, then the name */
#define MT_FMT_LIVE_SIZE     24u        /* u64 address, u64 size, u32 node, u32 thread */
#define MT_FMT_CLASS_FIXED   36u        /* after the name: four u64 counts, u32 depth */
#define MT_FMT_STAGE_FIXED   36u        /* after the name: four u64, u32 count of contributors */
#define MT_FMT_CONTRIB_SIZE  20u        /* u32 node, u64 blocks, u64 bytes */
#define MT_FMT_SAMPLE_SIZE   32u        /* u64 t_ns, live_bytes, live_blocks, rss_bytes */
#define MT_FMT_TNODE_SIZE    48u        /* u32 thread, u32 node, five u64 figures */
#define MT_FMT_THREAD_MERGED UINT32_MAX /* THREAD_NODES: figures of merged ended threads */
#define MT_FMT_SYMBOL_MIN    20u        /* u64 frame, two empty strings, u32 line */
#define MT_FMT_SAMPLING_LEN  16u        /* u64 mean_bytes, u64 sampled allocations */
#define MT_FMT_MEMORY_LEN    16u        /* u64 live_table_bytes, u64 call_tree_bytes */

/* A frame at or above this value is a class marker, not a code address: the outermost frame
 * of a tagged allocation's call path, naming class (frame - MT_FMT_CLASS_FRAME). */
#define MT_FMT_CLASS_FRAME 0xffff000000000000ull

#endif
