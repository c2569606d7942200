// A C++ program that throws: 4 threads each throw and catch 2000 exceptions (std::runtime_error
// with a message too long for a small string, so its text is on the heap too) out of a function
// that holds an object through a unique_ptr, unwound on the way. Every 10th catch leaks 32 bytes
// from leak_in_handler; nothing else the program makes stays live. Prints "caught N" and
// "leaked N" (tests/integration/test_real_programs.py).
#include <memory>
#include <pthread.h>
#include <stdexcept>
#include <string>

#include "progout.h"

#define NTHREADS 4
#define ROUNDS   2000

struct Obj {
    long a[6]; // 48 bytes
};

static void *volatile sink;

__attribute__((noinline)) void thrower(int i)
{
    std::unique_ptr<Obj> held(new Obj());
    held->a[0] = i;
    throw std::runtime_error("round " + std::to_string(i) + " failed, as it was meant to");
}

__attribute__((noinline)) void leak_in_handler()
{
    sink = new char[32];
}

static void *rounds(void *)
{
    long caught = 0;
    for (int i = 0; i < ROUNDS; i++) {
        try {
            thrower(i);
        } catch (const std::runtime_error &e) {
            caught += e.what()[0] == 'r';
            if (i % 10 == 0) leak_in_handler();
        }
    }
    return reinterpret_cast<void *>(caught);
}

int main()
{
    pthread_t t[NTHREADS];
    for (auto &th : t)
        pthread_create(&th, nullptr, rounds, nullptr);
    long caught = 0;
    for (auto &th : t) {
        void *r;
        pthread_join(th, &r);
        caught += reinterpret_cast<long>(r);
    }
    put("caught", caught);
    put("leaked", NTHREADS * (ROUNDS / 10));
    return 0;
}
