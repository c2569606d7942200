/* Named blocks (MEMTRACK_TRACK, memtrack_name_block): a named leak (config), a named block
 * freed again (temp), named blocks realloc'd (moved: grown; in place: shrunk; named again
 * after the realloc: renamed), three named blocks from one call site (items), a name longer
 * than the 127 bytes kept, refused arguments and blocks the tracker does not know. Then a
 * snapshot that test_api_names.py reads (`names` of the leak entries, text `named:` lines).
 * Runs plain, linked (api_names_linked) or under `memtrack run`. The lines of the names are
 * marked `@NAME` for the test. No stdio.
 *
 *   api_names SNAPSHOT_PATH */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memtrack.h"
#include "progout.h"

static void *volatile kept[8];
static char static_buf[64];

__attribute__((noinline)) void make_config(void)
{
    char *config = malloc(64);
    put("track_config", MEMTRACK_TRACK(config)); /* @config */
    kept[0] = config;
}

__attribute__((noinline)) void make_temp(void)
{
    char *temp = malloc(32);
    put("track_temp", MEMTRACK_TRACK(temp)); /* @temp */
    free(temp);
}

__attribute__((noinline)) void make_grown(void)
{
    char *grown = malloc(10);
    put("track_grown", MEMTRACK_TRACK(grown)); /* @grown */
    char *moved = realloc(grown, 100000);
    put("grown_moved", moved != grown);
    kept[1] = moved;
}

__attribute__((noinline)) void make_shrunk(void)
{
    char *shrunk = malloc(100);
    put("track_shrunk", MEMTRACK_TRACK(shrunk)); /* @shrunk */
    char *same = realloc(shrunk, 90);
    put("shrunk_in_place", same == shrunk);
    kept[2] = same;
}

__attribute__((noinline)) void make_renamed(void)
{
    char *renamed = malloc(10);
    put("track_renamed_1", MEMTRACK_TRACK(renamed)); /* @renamed_1 */
    renamed = realloc(renamed, 5000);
    put("track_renamed_2", MEMTRACK_TRACK(renamed)); /* @renamed_2 */
    kept[3] = renamed;
}

static void *volatile items[3];

__attribute__((noinline)) void make_items(void)
{
    static const char *const names[3] = {"item0", "item1", "item2"};
    volatile int n = 3; /* one call site: the loop must not be unrolled */
    for (int i = 0; i < n; i++)
        items[i] = malloc(48);
    for (int i = 0; i < n; i++)
        put(names[i], memtrack_name_block(items[i], names[i], "items.c", 100 + i));
}

__attribute__((noinline)) void make_long(void)
{
    static char long_name[201], long_file[301];
    memset(long_name, 'n', 200);
    memset(long_file, 'f', 300);
    kept[4] = malloc(24);
    put("track_long", memtrack_name_block(kept[4], long_name, long_file, 7));
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    put_str("file", __FILE__);
    int initially = memtrack_running();
    put("initially_running", initially);
    void *before = NULL;
    if (initially == 0) before = malloc(40); /* linked: made before tracking started */
    int started = memtrack_start();
    put("start", started);
    if (started == MEMTRACK_ENOTRACKER) {
        void *p = malloc(8);
        put("none_name", MEMTRACK_TRACK(p));
        free(p);
        return 0;
    }
    if (before) put("name_before_start", MEMTRACK_TRACK(before));

    void *p = malloc(16);
    int on_stack = 0;
    put("name_null_block", memtrack_name_block(NULL, "x", "f.c", 1));
    put("name_null_name", memtrack_name_block(p, NULL, "f.c", 1));
    put("name_empty_name", memtrack_name_block(p, "", "f.c", 1));
    put("name_negative_line", memtrack_name_block(p, "x", "f.c", -1));
    put("name_static", MEMTRACK_TRACK(static_buf));
    put("name_stack", memtrack_name_block(&on_stack, "on_stack", "f.c", 1));
    put("name_inside_block", memtrack_name_block((char *)p + 8, "inside", "f.c", 1));
    uintptr_t freed = (uintptr_t)p; /* the address only: the block is gone */
    free(p);
    put("name_freed_block", memtrack_name_block((void *)freed, "freed", "f.c", 1));

    make_config();
    make_temp();
    make_grown();
    make_shrunk();
    make_renamed();
    make_items();
    make_long();
    put("snapshot", memtrack_snapshot(argv[1]));
    free(before);
    return 0;
}
