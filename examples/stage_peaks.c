/* stage_peaks.c — how high memory goes in each stage of a program, and in each unit of work.
 *
 * The program loads records, processes them in units of work that each build a scratch index,
 * and tears everything down. Each part is a memtrack stage, so `memtrack report` shows each
 * stage's peak and who held it; the program also asks for the peaks itself: memtrack_peak()
 * at the end of each stage, and memtrack_thread_peak() per unit of work, with the thread's
 * high-water mark reset before each unit so that each unit gets its own.
 *
 *   cc stage_peaks.c -lmemtrack && ./a.out    (linked: the tracker starts in main)
 *   memtrack run -- ./stage_peaks             (built without -lmemtrack, or with it)
 *
 * Run with neither and it does the same work and says that there is no tracker. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtrack.h>

#define RECORDS     2000
#define RECORD_SIZE 512
#define UNITS       4
#define PAGE        4096

static int tracking;

/* Prints the whole program's figures at the end of a stage. */
static void stage_done(const char *stage)
{
    memtrack_peak_t p;
    if (!tracking || memtrack_peak(&p) != 0) return;
    printf("stage %s: peak %llu bytes at %.3f ms, %llu bytes live at its end\n", stage,
           (unsigned long long)p.peak_bytes, (double)p.peak_time_ns / 1e6,
           (unsigned long long)p.current_bytes);
}

static char **load(void)
{
    char **records = malloc(RECORDS * sizeof(*records));
    if (!records) exit(1);
    for (int i = 0; i < RECORDS; i++) {
        records[i] = malloc(RECORD_SIZE);
        if (!records[i]) exit(1);
        memset(records[i], 'a' + i % 26, RECORD_SIZE);
    }
    return records;
}

/* One unit of work: a scratch index of (unit + 1) * 16 pages, freed before returning. */
static unsigned long process_unit(char **records, int unit)
{
    int pages = (unit + 1) * 16;
    unsigned char **scratch = malloc((size_t)pages * sizeof(*scratch));
    unsigned long sum = 0;
    if (!scratch) exit(1);
    for (int i = 0; i < pages; i++) {
        scratch[i] = malloc(PAGE);
        if (!scratch[i]) exit(1);
        memcpy(scratch[i], records[(unit * pages + i) % RECORDS], RECORD_SIZE);
        sum += scratch[i][0];
    }
    for (int i = 0; i < pages; i++)
        free(scratch[i]);
    free(scratch);
    return sum;
}

static void teardown(char **records)
{
    for (int i = 0; i < RECORDS; i++)
        free(records[i]);
    free(records);
}

int main(void)
{
    /* stdout's buffer is the program's own, so that stdio's allocation is not in the figures. */
    static char outbuf[BUFSIZ];
    setvbuf(stdout, outbuf, _IOLBF, sizeof(outbuf));

    int r = memtrack_start();
    tracking = r >= 0;
    if (!tracking)
        printf("memtrack: %s; the work runs without figures (link with -lmemtrack or run under "
               "`memtrack run`)\n",
               memtrack_strerror(r));
    else
        printf("memtrack: %s\n", r ? "tracking started by the program (-lmemtrack)"
                                   : "already tracking (memtrack run)");

    memtrack_stage_begin("load");
    char **records = load();
    stage_done("load");

    memtrack_stage_begin("process");
    unsigned long sum = 0;
    for (int unit = 0; unit < UNITS; unit++) {
        /* The thread's mark restarts from what it holds now: the unit's peak is what it adds. */
        memtrack_peak_t before, after;
        memtrack_thread_peak_reset();
        int ok = memtrack_thread_peak(&before) == 0;
        sum += process_unit(records, unit);
        if (ok && memtrack_thread_peak(&after) == 0)
            printf("unit %d: peak %llu bytes above the %llu held before it\n", unit,
                   (unsigned long long)(after.peak_bytes - before.current_bytes),
                   (unsigned long long)before.current_bytes);
    }
    stage_done("process");

    memtrack_stage_begin("teardown");
    teardown(records);
    stage_done("teardown");
    memtrack_stage_end();

    printf("done (checksum %lu)\n", sum);
    return 0;
}
