/* Phases with known live memory: A holds 1 MiB and frees it, B holds 3 MiB (phase_b) plus
 * 1 MiB (phase_a2), C holds 2 MiB. The peak is exactly 4 MiB in 1024 blocks, made of the
 * blocks of phase_b and phase_a2. No stdio, so nothing else is allocated. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progout.h"

static void *blocks_a[1024];
static void *blocks_b[768];
static void *blocks_a2[256];
static void *blocks_c[512];

__attribute__((noinline)) void release(void **blocks, int n)
{
    for (int i = 0; i < n; i++)
        free(blocks[i]);
}

/* 1024 blocks of 1 KiB. */
__attribute__((noinline)) void phase_a(void)
{
    for (int i = 0; i < 1024; i++)
        blocks_a[i] = malloc(1024);
}

/* 768 blocks of 4 KiB = 3 MiB. */
__attribute__((noinline)) void phase_b(void)
{
    for (int i = 0; i < 768; i++)
        blocks_b[i] = malloc(4096);
}

/* 256 blocks of 4 KiB = 1 MiB. */
__attribute__((noinline)) void phase_a2(void)
{
    for (int i = 0; i < 256; i++)
        blocks_a2[i] = malloc(4096);
}

/* 512 blocks of 4 KiB = 2 MiB. */
__attribute__((noinline)) void phase_c(void)
{
    for (int i = 0; i < 512; i++)
        blocks_c[i] = malloc(4096);
}

int main(void)
{
    out_kv("pid", (unsigned long)getpid());
    phase_a();
    release(blocks_a, 1024);
    phase_b();
    phase_a2();
    release(blocks_b, 768);
    release(blocks_a2, 256);
    phase_c();
    release(blocks_c, 512);
    return 0;
}
