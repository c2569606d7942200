/* A program that knows nothing of memtrack and allocates in steps, for `memtrack snapshot PID`
 * (test_snapshot_cmd.py): it prints `pid N`, then before each step `ready K` and waits until
 * the file DIR/goK exists, so that a snapshot taken between the two is of a known moment.
 * Step 1: hold_a() keeps 10 x 100 B. Step 2: 4 of them freed, hold_b() keeps 5 x 1000 B.
 * It exits without freeing the rest. No stdio, and the waiting allocates nothing. With `fork`
 * the steps are made by a forked child (which prints `child_pid N`) while the parent waits
 * for it and exits with its status.
 *
 *   api2_snapsteps DIR [STEPS [fork]]     (STEPS: how many waits, default 2) */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "progout.h"

static void *volatile held_a[10], *volatile held_b[5];

__attribute__((noinline)) void hold_a(void)
{
    for (int i = 0; i < 10; i++)
        held_a[i] = malloc(100);
}

__attribute__((noinline)) void hold_b(void)
{
    for (int i = 0; i < 5; i++)
        held_b[i] = malloc(1000);
}

/* Says `ready K` and waits for DIR/goK (K < 10). */
static void wait_go(const char *dir, int k)
{
    char path[4200];
    size_t n = strlen(dir);
    memcpy(path, dir, n);
    memcpy(path + n, "/go", 3);
    path[n + 3] = (char)('0' + k);
    path[n + 4] = '\0';
    out_kv("ready", (unsigned long)k);
    struct stat st;
    struct timespec tick = {0, 2 * 1000 * 1000};
    while (stat(path, &st) != 0)
        nanosleep(&tick, NULL); /* a snapshot signal may cut it short: just look again */
}

int main(int argc, char **argv)
{
    if (argc < 2 || strlen(argv[1]) > 4000) return 2;
    int steps = argc > 2 ? atoi(argv[2]) : 2;
    out_kv("pid", (unsigned long)getpid());
    if (argc > 3 && strcmp(argv[3], "fork") == 0) {
        pid_t child = fork();
        if (child < 0) return 3;
        if (child > 0) {
            int status;
            if (waitpid(child, &status, 0) != child) return 4;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 5;
        }
        out_kv("child_pid", (unsigned long)getpid());
    }
    hold_a();
    if (steps >= 1) wait_go(argv[1], 1);
    for (int i = 0; i < 4; i++)
        free(held_a[i]);
    hold_b();
    if (steps >= 2) wait_go(argv[1], 2);
    return 0;
}
