/* Memory over time: holds 1 MiB more every 20 ms for 10 steps, then frees it all in 10 steps,
 * so a timeline sampled every 10 ms rises and falls; prints nothing. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *volatile held[10][64];

static void pause_ms(long ms)
{
    struct timespec t = {0, ms * 1000000L};
    nanosleep(&t, NULL);
}

int main(void)
{
    for (int step = 0; step < 10; step++) {
        for (int i = 0; i < 64; i++) {
            held[step][i] = malloc(16384);
            memset(held[step][i], 1, 16384);
        }
        pause_ms(20);
    }
    for (int step = 9; step >= 0; step--) {
        for (int i = 0; i < 64; i++)
            free(held[step][i]);
        pause_ms(20);
    }
    return 0;
}
