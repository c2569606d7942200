/* A shared library built with frame pointers that tests/programs/fp_paths.c loads with dlopen:
 * the unwinder learns of it while the program runs. tests/programs/fp_reload.c loads it in turn
 * with nofp_plugin.so, the same source built without frame pointers. */
#include <stdlib.h>

__attribute__((noinline)) static void plugin_leaf(void)
{
    void *volatile p = malloc(400);
    (void)p; /* leaked */
}

/* n blocks of 400 bytes, leaked, each from the same path. */
__attribute__((noinline, visibility("default"))) void fp_plugin_alloc(int n)
{
    for (int i = 0; i < n; i++)
        plugin_leaf();
}
