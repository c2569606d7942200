/* The capture writer: writes the engine's state as a capture file (docs/FORMAT.md) from inside
 * the tracked process. It never calls malloc or stdio (it may run at exit, in a fatal-signal
 * handler or in a fork child), formats into one fixed buffer, and writes with write(2),
 * retrying short writes. */
#ifndef MT_CAPTURE_WRITER_H
#define MT_CAPTURE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/engine.h"

typedef struct mt_wbuf_s mt_wbuf_t;

/* Appends raw bytes / little-endian integers / a length-prefixed string to a section. */
void mt__wbuf_put(mt_wbuf_t *w, const void *p, size_t n);
void mt__wbuf_u32(mt_wbuf_t *w, uint32_t v);
void mt__wbuf_u64(mt_wbuf_t *w, uint64_t v);
void mt__wbuf_str(mt_wbuf_t *w, const void *s, uint32_t len);

/* What the front end adds to the engine's state. */
typedef struct mt_capture_info_s {
    uint64_t pid, parent_pid;
    uint32_t end_reason; /* mt_fmt_end_t */
    int32_t end_value;
    uint32_t flags; /* MT_META_* beyond what the engine knows (e.g. MT_META_FORKED) */
    const char *program;
    const char *cmdline; /* arguments separated by NUL bytes */
    size_t cmdline_len;
    /* Writes the MODULES payload with mt__wbuf_*; called with w == NULL first, when it must
     * only return the payload's length, then with a buffer, when it must write exactly that
     * many bytes. NULL writes an empty module list. */
    uint64_t (*modules)(mt_wbuf_t *w, void *ctx);
    void *modules_ctx;
    /* META.frame_kind (mt_fmt_frames_t): 0, native return addresses, unless the front end
     * numbers its frames itself and names them in a SYMBOLS section. */
    uint32_t frame_kind;
    /* Writes the SYMBOLS payload, with the same two calls as `modules`; NULL: no section. */
    uint64_t (*symbols)(mt_wbuf_t *w, void *ctx);
    void *symbols_ctx;
    mt_thread_t *self; /* the calling thread's record, or NULL */
} mt_capture_info_t;

/* Writes a capture of `e` to `path` (through a temporary file renamed into place; never
 * following a symbolic link). Returns 0 or an errno value. Only one capture is written at a
 * time; a second caller waits. */
int mt__capture_write(mt_engine_t *e, const char *path, const mt_capture_info_t *info);

#endif
