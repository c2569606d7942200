/* memtrack_track_paths: call paths for the classes that ask for them, whatever the mode (in
 * MEMTRACK_MODE=count the only ones). Leaks from functions whose names the test looks for in
 * `memtrack report --format json` of a snapshot: class "traced" (paths, depth 16), class
 * "plain" (none), untagged, class "reset" (paths, then back to the mode's default), class
 * "shallow" (depth 2, under a chain of 4 calls). Runs under `memtrack run` (or linked).
 *
 *   api_paths SNAPSHOT_PATH */
#include <stdlib.h>
#include <string.h>

#include "memtrack.h"
#include "progout.h"

static void *volatile leaked[64]; /* volatile: the leaks must not be optimized away */
static int nleaked;

/* n blocks of `size` bytes in class `cls` (NULL: untagged), through a scope. */
static void leak(const char *cls, int n, size_t size)
{
    if (cls) memtrack_tag_push(cls);
    for (int i = 0; i < n; i++)
        leaked[nleaked++] = malloc(size);
    if (cls) memtrack_tag_pop();
}

__attribute__((noinline)) void leak_traced(void)
{
    leak("traced", 3, 111);
}

__attribute__((noinline)) void leak_plain(void)
{
    leak("plain", 4, 222);
}

__attribute__((noinline)) void leak_untagged(void)
{
    leak(NULL, 5, 333);
}

__attribute__((noinline)) void leak_reset_before(void)
{
    leak("reset", 2, 444);
}

__attribute__((noinline)) void leak_reset_after(void)
{
    leak("reset", 6, 555);
}

/* shallow_1 -> shallow_2 -> shallow_3 -> shallow_4 -> malloc: with depth 2 only shallow_4
 * and shallow_3 are kept. */
__attribute__((noinline)) void shallow_4(void)
{
    memtrack_tag_push("shallow");
    leaked[nleaked++] = malloc(66);
    memtrack_tag_pop();
}

__attribute__((noinline)) void shallow_3(void)
{
    shallow_4();
}

__attribute__((noinline)) void shallow_2(void)
{
    shallow_3();
}

__attribute__((noinline)) void shallow_1(void)
{
    shallow_2();
}

int main(int argc, char **argv)
{
    static char long_name[257];
    if (argc != 2) return 2;
    memset(long_name, 'c', 256);
    int started = memtrack_start();
    put("start", started);
    if (started < 0) return 1;

    put("paths_null", memtrack_track_paths(NULL, 8));
    put("paths_empty", memtrack_track_paths("", 8));
    put("paths_256", memtrack_track_paths(long_name, 8));
    put("paths_depth_257", memtrack_track_paths("traced", 257));
    put("paths_depth_256", memtrack_track_paths("deepest", 256));
    put("paths_depth_0", memtrack_track_paths("deepest", 0));
    memtrack_counts_t c;
    put("count_for_created", memtrack_count_for("deepest", &c));

    put("paths_traced", memtrack_track_paths("traced", 16));
    put("paths_reset", memtrack_track_paths("reset", 8));
    put("paths_shallow", memtrack_track_paths("shallow", 2));
    leak_traced();
    leak_plain();
    leak_untagged();
    leak_reset_before();
    put("paths_reset_off", memtrack_track_paths("reset", 0));
    leak_reset_after();
    shallow_1();
    put("snapshot", memtrack_snapshot(argv[1]));
    return 0;
}
