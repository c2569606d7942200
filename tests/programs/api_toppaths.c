/* memtrack_top_paths and memtrack_frame_name: class "widget" allocated from 4 functions with
 * known live and total counts (make_a: 8 x 64 B, 3 freed; make_b: 3 x 128 B; make_c: 6 x
 * 1000 B, 5 freed; make_d: 2 x 32 B, both freed), untagged blocks from 2 more, then the
 * ranking, the frames' names, and the refused arguments. With the argument `paths` it first
 * asks for the class's call paths (memtrack_track_paths), for MEMTRACK_MODE=count. Runs plain,
 * linked (api_toppaths_linked) or under `memtrack run`. Prints `key value...` lines (a path:
 * `KEY_I live_count live_bytes total_count total_bytes nframes`, its innermost frame's name:
 * `KEY_I_name NAME`) for test_api_toppaths.py. No stdio.
 *
 *   api_toppaths [paths] */
#include <stdlib.h>
#include <string.h>

#include "memtrack.h"
#include "progout.h"

/* key + "_" + i (i < 100), into buf. */
static const char *numbered(char *buf, const char *key, size_t i)
{
    size_t n = strlen(key);
    memcpy(buf, key, n);
    buf[n++] = '_';
    if (i >= 10) buf[n++] = (char)('0' + i / 10);
    buf[n++] = (char)('0' + i % 10);
    buf[n] = '\0';
    return buf;
}

#define MAXBLOCKS 32
static void *volatile blocks[MAXBLOCKS];
static int nblocks;

/* fn(): n blocks of `size` allocated by fn itself at one call site (so one call path, whose
 * innermost frame is in fn), the first `nfree` freed again; class "widget" unless untagged. */
#define MAKE(fn, n, size, nfree, tagged)                            \
    __attribute__((noinline)) void fn(void)                         \
    {                                                               \
        int first = nblocks;                                        \
        volatile int count = (n); /* no unrolling: one call site */ \
        if (tagged) memtrack_tag_push("widget");                    \
        for (int i = 0; i < count; i++)                             \
            blocks[nblocks++] = malloc(size);                       \
        if (tagged) memtrack_tag_pop();                             \
        for (int i = 0; i < (nfree); i++)                           \
            free(blocks[first + i]);                                \
    }

MAKE(make_a, 8, 64, 3, 1)
MAKE(make_b, 3, 128, 0, 1)
MAKE(make_c, 6, 1000, 5, 1)
MAKE(make_d, 2, 32, 2, 1)
MAKE(make_u1, 4, 16, 0, 0)
MAKE(make_u2, 2, 16, 0, 0)

static memtrack_path_t paths[8];

/* The top paths of `cls` (at most max), each as a line, with its frames' names: frame 0 as
 * KEY_I_name, frame 1 as KEY_I_name1. */
static void put_top(const char *key, const char *cls, size_t max)
{
    char k[80], k2[96];
    size_t count = 99;
    int r = memtrack_top_paths(cls, paths, max, &count);
    put(numbered(k, key, 99), r); /* KEY_99: the return value */
    if (r != 0) return;
    put(numbered(k, key, 98), (long)count); /* KEY_98: the count */
    for (size_t i = 0; i < count; i++) {
        unsigned long v[5] = {paths[i].live_count, paths[i].live_bytes, paths[i].total_count,
                              paths[i].total_bytes, paths[i].nframes};
        out_values(numbered(k, key, i), v, 5);
        for (unsigned f = 0; f < 2 && f < paths[i].nframes; f++) {
            char name[512];
            int nr = memtrack_frame_name(paths[i].frames[f], name, sizeof(name));
            size_t n = strlen(k);
            memcpy(k2, k, n);
            memcpy(k2 + n, f ? "_name1" : "_name", f ? 7 : 6);
            if (nr == 0)
                put_str(k2, name);
            else
                put(k2, nr);
        }
    }
}

int main(int argc, char **argv)
{
    int with_paths = argc > 1 && strcmp(argv[1], "paths") == 0;
    int started = memtrack_start();
    put("start", started);
    if (started == MEMTRACK_ENOTRACKER) {
        size_t count = 0;
        char buf[8];
        put("none_top", memtrack_top_paths("widget", paths, 8, &count));
        put("none_frame_name", memtrack_frame_name((void *)main, buf, sizeof(buf)));
        return 0;
    }
    if (with_paths) put("track_paths", memtrack_track_paths("widget", 16));
    make_a();
    make_b();
    make_c();
    make_d();
    make_u1();
    make_u2();

    /* Ranked by live blocks: a (5), b (3), c (1), d (0 live, 2 allocated). */
    put_top("widget", "widget", 8);
    put_top("widget_max2", "widget", 2);
    put_top("untagged", "untagged", 8);

    /* Arguments. */
    size_t count = 77;
    put("max0_null_out", memtrack_top_paths("widget", NULL, 0, &count));
    put("max0_null_out_count", (long)count);
    count = 77;
    put("max0", memtrack_top_paths("widget", paths, 0, &count));
    put("max0_count", (long)count);
    put("null_out", memtrack_top_paths("widget", NULL, 4, &count));
    put("null_count", memtrack_top_paths("widget", paths, 4, NULL));
    put("null_class", memtrack_top_paths(NULL, paths, 4, &count));
    put("unknown_class", memtrack_top_paths("nosuch", paths, 4, &count));

    char small[4];
    memset(small, 'z', sizeof(small));
    put("name_null_buf", memtrack_frame_name((void *)main, NULL, 16));
    put("name_len0", memtrack_frame_name((void *)main, small, 0));
    put("name_small", memtrack_frame_name((void *)main, small, sizeof(small)));
    put("name_small_terminated", small[3] == '\0');
    return 0;
}
