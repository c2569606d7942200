/* memtrack_set_mode and memtrack_mode: the mode chosen before the tracker is set up, refused
 * after it (and under memtrack run, which sets it up at once), bad values refused. Then 100
 * blocks of 1000 bytes from keep_blocks, kept, and the exact totals. Prints `key value` lines;
 * test_api_modes.py holds the expected values. */
#include <stdint.h>
#include <stdlib.h>

#include "memtrack.h"
#include "progout.h"

void *kept[100]; /* global: the compiler may not drop the allocations */

__attribute__((noinline)) void keep_blocks(void)
{
    for (int i = 0; i < 100; i++)
        kept[i] = malloc(1000);
}

int main(void)
{
    put("mode_before", memtrack_mode());
    put("set_unknown", memtrack_set_mode(7, 0));
    put("set_mean_too_large", memtrack_set_mode(MEMTRACK_MODE_SAMPLE, (UINT64_C(1) << 40) + 1));
    put("set_sample", memtrack_set_mode(MEMTRACK_MODE_SAMPLE, 64));
    put("start", memtrack_start());
    put("mode_after", memtrack_mode());
    put("set_late", memtrack_set_mode(MEMTRACK_MODE_FULL, 0));
    keep_blocks();
    memtrack_counts_t c;
    int r = memtrack_totals(&c);
    put("totals_rc", r);
    put("allocations", r == 0 ? (long)c.new_count : -1);
    put("live_bytes", r == 0 ? (long)c.live_bytes : -1);
    return 0;
}
