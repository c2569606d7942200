/* fork(): parent and child each leak known blocks after the fork. Modes: "exit" (the child
 * calls exit(5)), "quick" (the child calls _exit(6)), "prefork" (as "exit", plus two blocks
 * allocated before the fork: one leaked by both, one freed by the child only). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progout.h"

static void *kept[16];
static int nkept;
static void *volatile sink;

__attribute__((noinline)) void keep(void *p)
{
    kept[nkept++] = p;
}

__attribute__((noinline)) void *prefork_leak(void)
{
    return malloc(111);
}

__attribute__((noinline)) void *prefork_shared(void)
{
    return malloc(222);
}

/* 3 blocks of 300 bytes, in the parent only. */
__attribute__((noinline)) void parent_leak(void)
{
    for (int i = 0; i < 3; i++)
        keep(malloc(300));
}

/* 2 blocks of 700 bytes, in the child only. */
__attribute__((noinline)) void child_leak(void)
{
    for (int i = 0; i < 2; i++)
        keep(malloc(700));
}

/* One temporary allocation of 64 bytes, in the child only. */
__attribute__((noinline)) void child_temp(void)
{
    void *p = malloc(64);
    sink = p;
    free(p);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "exit";
    int prefork = strcmp(mode, "prefork") == 0;
    void *shared = NULL;
    out_line("pid", (unsigned long)getpid(), 0);
    if (prefork) {
        keep(prefork_leak());
        shared = prefork_shared();
    }
    pid_t child = fork();
    if (child < 0) return 90;
    if (child == 0) {
        child_leak();
        child_temp();
        if (shared) free(shared);
        out_line("childpid", (unsigned long)getpid(), 0);
        if (strcmp(mode, "quick") == 0) _exit(6);
        exit(5);
    }
    parent_leak();
    int status = 0;
    if (waitpid(child, &status, 0) != child) return 91;
    out_line("child", (unsigned long)child,
             WIFEXITED(status) ? (unsigned long)WEXITSTATUS(status) : 999);
    sink = shared;
    return 0;
}
