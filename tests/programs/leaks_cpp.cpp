// C++ allocations with known sizes: new, new[] with and without an array cookie, over-aligned
// new, a std::vector, and objects that are deleted. "baseline" only prints the pid, so the tests
// can subtract what the C++ runtime allocates by itself (libstdc++'s emergency exception pool).
#include <cstring>
#include <new>
#include <unistd.h>
#include <vector>

#include "progout.h"

struct Obj {
    long a[6]; // 48 bytes
};

struct WithDtor {
    long a[2]; // 16 bytes; the destructor makes new[] add an 8-byte count cookie
    ~WithDtor()
    {
        a[0] = 0;
    }
};

struct alignas(64) Aligned {
    char c[100]; // sizeof 128
};

static void *kept[64];
static int nkept;
static void *volatile sink;

__attribute__((noinline)) void keep(void *p)
{
    kept[nkept++] = p;
}

// 4 blocks of 48 bytes.
__attribute__((noinline)) void leak_new()
{
    for (int i = 0; i < 4; i++)
        keep(new Obj());
}

// 2 blocks of 25 * 4 = 100 bytes (no cookie for a trivially destructible type).
__attribute__((noinline)) void leak_new_array()
{
    for (int i = 0; i < 2; i++)
        keep(new int[25]());
}

// 1 block of 3 * 16 + 8 = 56 bytes.
__attribute__((noinline)) void leak_new_array_cookie()
{
    keep(new WithDtor[3]);
}

// 1 block of 128 bytes through operator new(size_t, align_val_t).
__attribute__((noinline)) void leak_new_aligned()
{
    keep(new Aligned());
}

// The vector object (24 bytes) here, its 1000-byte buffer below std::vector's allocator.
__attribute__((noinline)) void leak_vector()
{
    keep(new std::vector<int>(250));
}

// Allocated and deleted at once: counted, temporary, not a leak.
__attribute__((noinline)) void no_leak_new()
{
    Obj *o = new Obj();
    sink = o;
    delete o;
}

// 10 * 4 = 40 bytes, deleted at once.
__attribute__((noinline)) void no_leak_array()
{
    int *a = new int[10]();
    sink = a;
    delete[] a;
}

int main(int argc, char **argv)
{
    out_kv("pid", (unsigned long)getpid());
    if (argc > 1 && std::strcmp(argv[1], "baseline") == 0) return 0;
    leak_new();
    leak_new_array();
    leak_new_array_cookie();
    leak_new_aligned();
    leak_vector();
    no_leak_new();
    no_leak_array();
    out_kv("kept", (unsigned long)nkept);
    return 0;
}
