/* Loads tests/plugins/leaky_plugin.c (the path is argv[1]) with dlopen, leaks 3 blocks of 77
 * bytes through it, lets it allocate and free 5 blocks of 1000 bytes, then unloads it with
 * dlclose and says whether it is gone ("unloaded 1"). */
#include <dlfcn.h>
#include <stddef.h>

#include "progout.h"

static void *kept[3];
static volatile int three = 3; /* a loop bound the compiler cannot unroll into 3 call sites */

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        put_str("dlerror", dlerror());
        return 3;
    }
    void *(*leak)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_leak");
    void (*scratch)(void) = (void (*)(void))dlsym(h, "plugin_scratch");
    if (leak == NULL || scratch == NULL) return 4;
    for (int i = 0; i < three; i++)
        kept[i] = leak(77); /* @call_plugin_leak */
    scratch();
    if (dlclose(h) != 0) return 5;
    put("unloaded", dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) == NULL);
    return 0;
}
