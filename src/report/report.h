/* Internal interface of the report layer: the model computed from a capture (leaks, peak
 * contributors, call paths), the symbolizer, the text and JSON writers and size formatting. */
#ifndef MT_REPORT_REPORT_H
#define MT_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/reader.h"

/* --- fmt.c --- */

/* Formats a size for people: "512 B", "12.3 KiB", "4.5 MiB", "1.2 GiB" (binary units, one
 * decimal). Always NUL-terminates buf when len > 0; 16 bytes are always enough. */
void mt__fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* Text for XML or HTML (fmt.c): at most `max` bytes of s, with < > & " ' escaped and control
 * characters dropped. */
void mt__fmt_xml(FILE *out, const char *s, size_t max);

/* Formats nanoseconds as milliseconds with exact decimals and no trailing zeros ("12.5",
 * "0.000001", "3"), valid as a JSON number. 32 bytes are always enough. */
void mt__fmt_ms(uint64_t ns, char *buf, size_t len);

/* --- model.c --- */

/* One call path (a node of the call tree) with the figures a list ranks it by. */
typedef struct mt_path_stat_s {
    uint32_t node;
    uint64_t blocks, bytes;
} mt_path_stat_t;

typedef struct mt_model_s {
    const mt_capture_t *cap;
    mt_path_stat_t *leaks; /* live_blocks or live_bytes > 0; most bytes first */
    size_t nleaks;
    mt_path_stat_t *peak; /* peak_blocks or peak_bytes > 0; most bytes first */
    size_t npeak;
    uint32_t *named_nodes; /* per named block of the capture, its node (mt__model_named_nodes) */
} mt_model_t;

/* Builds the lists from a validated capture, which must outlive the model. Ties are broken by
 * more blocks, then the lower node id, so the order is the same on every run. Returns 0, or -1
 * when out of memory (the model is then empty but may still be destroyed). */
int mt__model_init(mt_model_t *model, const mt_capture_t *cap);
void mt__model_destroy(mt_model_t *model);

/* Writes the frames of `node`'s call path, innermost first, into frames[0..max) and returns how
 * many there are in all (which may be more than max). Frames equal to 0 (the record standing
 * for the root) are not frames and are left out. `node` must be < cap->nnodes. */
size_t mt__model_path(const mt_capture_t *cap, uint32_t node, uint64_t *frames, size_t max);

/* The same into a fresh array (free it); *n gets the count. NULL when out of memory. */
uint64_t *mt__model_path_dup(const mt_capture_t *cap, uint32_t node, size_t *n);

/* For each named block of the capture, the node of its live block (UINT32_MAX when it is not
 * live); free() the array. NULL when out of memory. */
uint32_t *mt__model_named_nodes(const mt_capture_t *cap);

/* A stage's contributors as path figures (free() the array); NULL when out of memory. */
mt_path_stat_t *mt__model_stage_paths(const mt_cap_stage_t *st);

/* The class of the allocations whose call path ends at `node`: the class named by the path's
 * marker frame, else class 0 ("untagged"); NULL for a capture without classes. */
const char *mt__model_class_of(const mt_capture_t *cap, uint32_t node);

/* The word for how the capture ended, as JSON's end.reason: "exit", "signal", "exec",
 * "snapshot", "_exit". */
const char *mt__end_reason_name(uint32_t end_reason);

/* How the capture's process ended, in a few words: "exit 0", "signal SIGSEGV", "exec"... */
void mt__fmt_end(const mt_capture_t *cap, char *buf, size_t len);

/* Iterates over the NUL-separated arguments of META's cmdline: start with *pos = 0; each call
 * sets *arg (not NUL-terminated when it is the last) and *len and returns true, then false. */
bool mt__cmdline_next(const mt_capture_t *cap, size_t *pos, const char **arg, size_t *len);

/* --- symbolize.c --- */

typedef struct mt_sym_s mt_sym_t;

/* One entry of a symbolized stack. A frame address expands into one entry, or into several
 * when code was inlined there: the inlined functions innermost first, then the function they
 * were inlined into. The strings belong to the symbolizer. */
typedef struct mt_sym_frame_s {
    const char *function; /* demangled, or NULL when unknown */
    const char *file;     /* source file, or NULL when unknown */
    uint32_t line;        /* 0 when unknown */
    const char *module;   /* path of the module holding the address, or NULL */
    uint64_t offset;      /* (frame - 1) - module bias, meaningful when module != NULL */
    uint64_t address;     /* the frame as recorded */
    bool inlined;         /* an inline expansion entry, other than the outermost one */
} mt_sym_frame_t;

/* Creates a symbolizer for the frames of `cap` (which must outlive it). Modules are opened on
 * first use; a module that cannot be opened, or whose build-id differs from the captured one,
 * is reported once on `warn` (which may be NULL) and its frames are shown as module+offset.
 * When `warn` is a terminal and naming frames takes more than a second, a progress line is
 * drawn there (and cleared by mt__sym_free).
 * Returns NULL when out of memory. */
mt_sym_t *mt__sym_new(const mt_capture_t *cap, FILE *warn);

/* Symbolizes one frame; *out points at 1 or more entries valid until mt__sym_free. Results are
 * cached per frame. Never fails: what cannot be named is left NULL. Returns the entry count. */
size_t mt__sym_lookup(mt_sym_t *sym, uint64_t frame, const mt_sym_frame_t **out);

void mt__sym_free(mt_sym_t *sym);

/* Calls fn for every entry of the call path of `node`, innermost first, inline expansions
 * included (raw addresses when sym is NULL). Returns the number of frames of the path, or -1
 * when out of memory. */
typedef void (*mt_sym_entry_fn)(const mt_sym_frame_t *entry, void *ctx);
long mt__sym_walk_path(const mt_capture_t *cap, mt_sym_t *sym, uint32_t node, mt_sym_entry_fn fn,
                       void *ctx);

/* --- text.c and json.c --- */

/* A string on a text report, control characters escaped so names cannot drive the terminal. */
void mt__text_str(FILE *out, const char *s);

/* One symbolized stack entry as the text report prints it (ctx: the FILE *). */
void mt__text_entry(const mt_sym_frame_t *e, void *ctx);

/* A JSON string (null for NULL); bytes that are not UTF-8 become U+FFFD. */
void mt__json_string(FILE *out, const char *str);

typedef struct mt_report_opts_s {
    size_t top;        /* call paths per list; 0 = all */
    const char *match; /* keep only call paths with a frame whose function, file or module
                        * contains this text; NULL: all */
} mt_report_opts_t;

/* True when a frame of node's call path has `match` in its function, file or module name
 * (symbolize.c). */
bool mt__sym_path_matches(const mt_capture_t *cap, mt_sym_t *sym, uint32_t node, const char *match);

/* Keeps in v[0..*n) only the paths that match (mt__sym_path_matches), in their order. */
void mt__model_filter(const mt_capture_t *cap, mt_sym_t *sym, const char *match, mt_path_stat_t *v,
                      size_t *n);

/* Write the report of `cap` to `out`; `sym` may be NULL (frames then stay addresses). Return
 * 0, or -1 when out of memory or when writing to `out` failed. */
int mt__report_text(FILE *out, const mt_capture_t *cap, mt_sym_t *sym,
                    const mt_report_opts_t *opts);
int mt__report_json(FILE *out, const mt_capture_t *cap, mt_sym_t *sym,
                    const mt_report_opts_t *opts);

/* --- folded.c --- */

/* What a folded stack line is weighed by: a figure of the call tree's nodes. */
typedef enum mt_folded_weight_e {
    MT_FOLDED_ALLOCATIONS, /* allocations made */
    MT_FOLDED_BYTES,       /* bytes allocated */
    MT_FOLDED_LIVE_BLOCKS, /* blocks live at capture time */
    MT_FOLDED_LIVE_BYTES,  /* their bytes (the default) */
    MT_FOLDED_PEAK_BYTES,  /* bytes live at the moment of the peak */
    MT_FOLDED_PEAK_BLOCKS, /* blocks live at the moment of the peak */
} mt_folded_weight_t;

#define MT_FOLDED_WEIGHTS 6 /* the weights above, numbered 0..5 */

/* The weight named `s` ("allocations", "bytes", "live-blocks", "live-bytes", "peak-bytes",
 * "peak-blocks"); false when there is none of that name. */
bool mt__folded_weight_parse(const char *s, mt_folded_weight_t *weight);

/* The name of a weight, as mt__folded_weight_parse takes it. */
const char *mt__folded_weight_name(mt_folded_weight_t weight);

typedef struct mt_folded_opts_s {
    mt_folded_weight_t weight;
    /* When not NULL, only what the threads i with threads[i] true (cap->nthreads entries)
     * allocated counts: from the live blocks for live weights, else from THREAD_NODES, which
     * the capture must have with none of these threads merged (mt__folded_threads_check). */
    const bool *threads;
    const char *match; /* only paths with a frame matching it (mt__sym_path_matches); NULL */
} mt_folded_opts_t;

/* Whether `weight` can be shown for the threads selected in threads[]: NULL when it can, else
 * why not (one line, naming the first thread at fault by tid). */
const char *mt__folded_threads_check(const mt_capture_t *cap, const bool *threads,
                                     mt_folded_weight_t weight, char *buf, size_t len);

/* Writes the collapsed stacks of `cap` to `out`, as flamegraph.pl and speedscope read them: one
 * line per call path with a non-zero weight, its frames outermost first separated by ';', a
 * space and the weight. Frames are named by function (inline expansions each a frame of their
 * own), else module+0xOFFSET, else 0xADDRESS; class markers are "[class NAME]" and a path
 * without frames is "[no call path]". ';' in a name becomes ':' and control characters a space.
 * Paths that come to the same names are summed; lines are sorted by their bytes. `sym` may be
 * NULL (frames then stay addresses). Returns 0, or -1 when out of memory or when writing to
 * `out` failed. */
int mt__report_folded(FILE *out, const mt_capture_t *cap, mt_sym_t *sym,
                      const mt_folded_opts_t *opts);

/* One folded stack: "outer;...;inner" and its weight. */
typedef struct mt_folded_line_s {
    char *path;
    uint64_t weight;
} mt_folded_line_t;

/* The lines mt__report_folded prints, merged and sorted, into *lines (*n of them); free them
 * with mt__folded_free. Returns 0, or -1 when out of memory. */
int mt__folded_lines(const mt_capture_t *cap, mt_sym_t *sym, const mt_folded_opts_t *opts,
                     mt_folded_line_t **lines, size_t *n);
void mt__folded_free(mt_folded_line_t *lines, size_t n);

/* --- flamegraph.c --- */

/* Writes a flame graph of the folded stacks `lines` (mt__folded_lines) as one self-contained
 * SVG: the outermost frames at the bottom, each frame as wide as its weight, a hover title
 * with its name, weight and share, colours from a hash of the name. `title` heads the picture
 * and `unit` says what the weight counts ("bytes" or "blocks"/"allocations"). Returns 0, or
 * -1 when out of memory or when writing failed. */
int mt__report_flamegraph(FILE *out, const mt_folded_line_t *lines, size_t n, const char *title,
                          const char *unit);

/* --- pprof.c --- */

/* Builds the gzipped pprof profile (profile.proto) of `cap`: sample types alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes, one sample per call path with a
 * non-zero figure, a location per frame (its lines innermost first for inline expansions),
 * functions with name and file, a mapping per module. `sym` may be NULL (functions are then
 * named by address). On success returns 0 and sets *data (free it) and *len; -1 when out of
 * memory or when compression failed. */
int mt__report_pprof(const mt_capture_t *cap, mt_sym_t *sym, uint8_t **data, size_t *len);

/* --- diff.c --- */

/* One figure in the two captures a diff compares. The change is after - before; as the values
 * are unsigned, the renderers print the sign and the magnitude separately so no size can
 * overflow a signed type. */
typedef struct mt_diff_fig_s {
    uint64_t before, after;
} mt_diff_fig_t;

/* One call path as both captures know it. Paths are matched by what their frames are: the
 * path of the module each frame falls in (and its build-id when both captures have one) and the
 * offset of `frame - 1` in it, or the raw frame when it is in no module. Node ids and addresses
 * differ between two processes (ASLR); these do not. Nodes of one capture that come to the same
 * path (a library loaded twice) are summed. */
typedef struct mt_diff_path_s {
    mt_diff_fig_t live_bytes, live_blocks, allocations, allocated_bytes;
    bool in_before, in_after;         /* whether the capture's call tree has the path at all */
    uint32_t before_node, after_node; /* its lowest node id there, when in_before/in_after */
} mt_diff_path_t;

typedef struct mt_diff_s {
    const mt_capture_t *before, *after;
    /* The paths whose figures differ: most live bytes gained or lost first, growth before
     * shrinkage of the same size, then by live blocks, allocated bytes and allocations changed,
     * then by the frames themselves, so the order is the same on every run. */
    mt_diff_path_t *paths;
    size_t npaths;
    size_t ngrew, nshrank; /* how many of them have mt__diff_direction() > 0, < 0 */
    size_t nunchanged;     /* paths with the same non-zero figures in both captures */
} mt_diff_t;

/* Matches the call paths of two validated captures, which must outlive the diff. Returns 0, or
 * -1 when out of memory (the diff is then empty but may still be destroyed). */
int mt__diff_init(mt_diff_t *diff, const mt_capture_t *before, const mt_capture_t *after);
void mt__diff_destroy(mt_diff_t *diff);

/* Which way a path's live memory went: 1 grew (more live bytes, or as many bytes in more
 * blocks), -1 shrank, 0 when its live figures are the same (only its allocations changed). */
int mt__diff_direction(const mt_diff_path_t *path);

typedef struct mt_diff_opts_s {
    size_t top;                           /* call paths per list; 0 = all */
    const char *before_name, *after_name; /* the capture files, for the header; may be NULL */
} mt_diff_opts_t;

/* When the two captures are of different programs (executable path or build-id), writes one
 * line saying so on `warn` and returns false; else returns true and writes nothing. */
bool mt__diff_check_program(FILE *warn, const mt_diff_t *diff);

/* Write the diff to `out`. Each capture is symbolized with its own symbolizer (either may be
 * NULL: frames then stay addresses); a path's stack comes from AFTER when it is there, else from
 * BEFORE. Return 0, or -1 when out of memory or when writing to `out` failed. */
int mt__diff_text(FILE *out, const mt_diff_t *diff, mt_sym_t *before_sym, mt_sym_t *after_sym,
                  const mt_diff_opts_t *opts);
int mt__diff_json(FILE *out, const mt_diff_t *diff, mt_sym_t *before_sym, mt_sym_t *after_sym,
                  const mt_diff_opts_t *opts);

/* --- html.c --- */

/* Writes the interactive HTML report of `cap`: one self-contained page (the scripts and styles
 * embedded at build time, no network needed) with the JSON report (mt__report_json, all paths)
 * and the folded stacks of every weight as its data. `sym` may be NULL (frames then stay
 * addresses). Returns 0, or -1 when out of memory or when writing to `out` failed. */
int mt__report_html(FILE *out, const mt_capture_t *cap, mt_sym_t *sym);

#endif
