/* Built with frame pointers: loads and unloads two builds of one library in turn, ROUNDS times,
 * for the frame-pointer detection's memory of modules it has seen. argv[1] is fp_plugin.so
 * (with frame pointers), argv[2] nofp_plugin.so (the same source without them); the loader
 * usually maps each at the address the other just left, so a verdict remembered by address
 * alone would send the %rbp walk into the build without frame pointers. Each round, the
 * library leaks PER_ROUND blocks of 400 bytes from fp_plugin_alloc -> plugin_leaf, so each
 * build's path ends with ROUNDS / 2 x PER_ROUND blocks. argv[3] and argv[4], when given,
 * replace ROUNDS and PER_ROUND (test_unwind reloads 6000 times, allocating nothing). */
#include <dlfcn.h>
#include <stdlib.h>

#include "progout.h"

#define ROUNDS    40
#define PER_ROUND 10

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    int rounds = argc > 3 ? atoi(argv[3]) : ROUNDS,
        per_round = argc > 4 ? atoi(argv[4]) : PER_ROUND;
    for (int i = 0; i < rounds; i++) {
        void *h = dlopen(argv[1 + i % 2], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            put_str("dlerror", dlerror());
            return 4;
        }
        /* A dlclose that unloads nothing: memtrack rebuilds its table of modules after every
         * dlclose, so the library's frames are walked from its first call. */
        void *again = dlopen(argv[1 + i % 2], RTLD_NOW | RTLD_LOCAL);
        if (again == NULL || dlclose(again) != 0) return 7;
        void (*plugin)(int) = (void (*)(int))dlsym(h, "fp_plugin_alloc");
        if (plugin == NULL) return 5;
        plugin(per_round);
        if (dlclose(h) != 0) return 6;
    }
    return 0;
}
