/* A shared library (its two functions exported: the build hides symbols by default) that
 * tests/programs/dlopen_plugin.c loads with dlopen, leaks through, and unloads with dlclose before
 * it exits: its frames must still be named in the report. */
#include <stddef.h>
#include <stdlib.h>

/* One block of n bytes, which the caller keeps past dlclose (a leak). */
__attribute__((noinline, visibility("default"))) void *plugin_leak(size_t n)
{
    return malloc(n); /* @plugin_leak */
}

/* Five blocks of 1000 bytes, each freed at once (no leak). */
__attribute__((noinline, visibility("default"))) void plugin_scratch(void)
{
    for (int i = 0; i < 5; i++) {
        void *volatile p = malloc(1000);
        free(p);
    }
}
