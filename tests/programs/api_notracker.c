/* The C API with no tracker (plain build, run alone): every call is a no-op returning
 * MEMTRACK_ENOTRACKER and the tagged allocation functions fall back to malloc/calloc. The same
 * calls, in the same order, are also made linked (api_notracker_linked) and under `memtrack
 * run`, where test_api_notracker.py expects the tracker's answers instead.
 *
 *   api_notracker calls SNAPSHOT_PATH   one `key value` line per call (values signed)
 *   api_notracker errors                `err CODE NAME` and `msg CODE MESSAGE` lines
 *   api_notracker later                 the functions added later, one line each */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memtrack.h"
#include "progout.h"

/* A line `key V` with V signed (progout.h prints unsigned values only). */

/* A line `key CODE TEXT`. */
static void put_text(const char *key, int code, const char *text)
{
    char buf[512];
    size_t n = strlen(key), m = strlen(text);
    memcpy(buf, key, n);
    buf[n++] = ' ';
    char num[24];
    int d = 0;
    unsigned u = code < 0 ? 0u - (unsigned)code : (unsigned)code;
    if (code < 0) buf[n++] = '-';
    do {
        num[d++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (d)
        buf[n++] = num[--d];
    buf[n++] = ' ';
    if (m > sizeof(buf) - n - 1) m = sizeof(buf) - n - 1;
    memcpy(buf + n, text, m);
    n += m;
    buf[n++] = '\n';
    if (write(1, buf, n) < 0) _exit(99);
}

/* Pointers stored here escape, so the compiler cannot drop a malloc/free pair. */
static void *volatile sink;

typedef struct point_s {
    double x, y;
} point;

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

/* `errno` survives every call: each call is made with errno set to a marker. */
static int errno_kept = 1;
#define KEEP_ERRNO(expr)                   \
    do {                                   \
        errno = 4242;                      \
        expr;                              \
        if (errno != 4242) errno_kept = 0; \
    } while (0)

static void errors(void)
{
    /* Every code the map may hold (and then some), plus far-off values. */
    static const int extra[] = {INT_MIN, -1000, -100, 100, INT_MAX};
    for (int code = -64; code <= 2; code++) {
        put_text("err", code, memtrack_err_name(code));
        put_text("msg", code, memtrack_strerror(code));
    }
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        put_text("err", extra[i], memtrack_err_name(extra[i]));
        put_text("msg", extra[i], memtrack_strerror(extra[i]));
    }
}

static void calls(const char *snapshot_path)
{
    int r;
    memtrack_counts_t c;
    KEEP_ERRNO(r = memtrack_running());
    put("running", r);
    KEEP_ERRNO(r = memtrack_start());
    put("start", r);
    KEEP_ERRNO(r = memtrack_running());
    put("running_after_start", r);

    /* Without a tracker, an output struct is left alone. */
    memset(&c, 0xab, sizeof(c));
    KEEP_ERRNO(r = memtrack_totals(&c));
    put("totals", r);
    put("totals_is_zero", all_zero(&c, sizeof(c)));
    put("totals_null", memtrack_totals(NULL));
    memset(&c, 0xab, sizeof(c));
    KEEP_ERRNO(r = memtrack_count_for("nt_class", &c));
    put("count_for_unknown", r);
    put("count_for_null_name", memtrack_count_for(NULL, &c));
    put("count_for_null_out", memtrack_count_for("nt_class", NULL));

    KEEP_ERRNO(r = memtrack_tag_push("nt_class"));
    put("tag_push", r);
    void *tagged_in_scope = malloc(24);
    sink = tagged_in_scope;
    KEEP_ERRNO(r = memtrack_tag_pop());
    put("tag_pop", r);
    KEEP_ERRNO(r = memtrack_tag_pop());
    put("tag_pop_again", r);
    put("tag_push_null", memtrack_tag_push(NULL));
    put("tag_pop_after_null", memtrack_tag_pop());

    KEEP_ERRNO(r = memtrack_track_paths("nt_paths", 8));
    put("track_paths", r);
    put("track_paths_bad", memtrack_track_paths(NULL, 8));

    /* The tagged allocators allocate, with or without a tracker. */
    char *m = NULL, *z = NULL;
    KEEP_ERRNO(m = memtrack_malloc_tagged(100, "nt_class"));
    put("malloc_tagged_ok", m != NULL);
    if (m) memset(m, 0x5a, 100);
    KEEP_ERRNO(z = memtrack_calloc_tagged(10, 10, "nt_class"));
    put("calloc_tagged_zeroed", z != NULL && all_zero(z, 100));
    point *p = MEMTRACK_NEW(point);
    put("new_zeroed", p != NULL && all_zero(p, sizeof(*p)));
    point *arr = MEMTRACK_NEW_ARRAY(point, 5);
    put("new_array_zeroed", arr != NULL && all_zero(arr, 5 * sizeof(*arr)));
    void *bad_name = memtrack_malloc_tagged(8, NULL);
    put("malloc_tagged_null_name_ok", bad_name != NULL);
    /* calloc's overflow check still applies. */
    errno = 0;
    void *huge = memtrack_calloc_tagged(SIZE_MAX, 2, "nt_class");
    put("calloc_tagged_overflow_null", huge == NULL);
    put("calloc_tagged_overflow_enomem", errno == ENOMEM);
    free(m);
    free(z);
    free(p);
    free(arr);
    free(bad_name);
    free(tagged_in_scope);

    memset(&c, 0xab, sizeof(c));
    r = memtrack_count_for("nt_class", &c);
    put("count_for_after", r);
    if (r == 0) {
        unsigned long v[6] = {c.new_count, c.free_count, c.live_count,
                              c.new_bytes, c.free_bytes, c.live_bytes};
        out_values("nt_class_counts", v, 6);
    }

    KEEP_ERRNO(r = memtrack_snapshot(snapshot_path));
    put("snapshot", r);
    put("snapshot_null", memtrack_snapshot(NULL));
    KEEP_ERRNO(r = memtrack_stop());
    put("stop", r);
    put("stop_again", memtrack_stop());
    KEEP_ERRNO(r = memtrack_clear());
    put("clear", r);
    put("running_at_end", memtrack_running());
    put("errno_kept", errno_kept);
}

/* The functions added to the header after the first ones: without a tracker, each is
 * MEMTRACK_ENOTRACKER too (only run plain). */
static void later(void)
{
    char *block = calloc(1, 16); /* written: GCC warns of a malloc'd block read uninitialized */
    sink = block;
    put("name_block", memtrack_name_block(block, "block", __FILE__, __LINE__));
    put("track_var", MEMTRACK_TRACK(block));
    put("track", memtrack_track("nt_class", NULL, NULL, NULL));
    put("untrack", memtrack_untrack("nt_class"));
    put("flush", memtrack_flush());
    memtrack_peak_t pk;
    put("peak", memtrack_peak(&pk));
    put("thread_peak", memtrack_thread_peak(&pk));
    put("peak_reset", memtrack_peak_reset());
    put("thread_peak_reset", memtrack_thread_peak_reset());
    put("stage_begin", memtrack_stage_begin("stage"));
    put("stage_end", memtrack_stage_end());
    memtrack_path_t paths[2];
    size_t count = 12345;
    put("top_paths", memtrack_top_paths("nt_class", paths, 2, &count));
    put("top_paths_count_untouched", count == 12345);
    char name[64];
    put("frame_name", memtrack_frame_name((const void *)&later, name, sizeof(name)));
    free(block);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "later") == 0) {
        later();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "errors") == 0) {
        errors();
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "calls") == 0) {
        calls(argv[2]);
        return 0;
    }
    put_text("usage", 2, "api_notracker calls SNAPSHOT_PATH | errors | later");
    return 2;
}
