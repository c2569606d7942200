/* The capture checksum: 64-bit FNV-1a, shared by the writer and the reader. */
#ifndef MT_CAPTURE_CHECKSUM_H
#define MT_CAPTURE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#define MT_FNV_OFFSET 0xcbf29ce484222325ull
#define MT_FNV_PRIME  0x100000001b3ull

static inline uint64_t mt__fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * MT_FNV_PRIME;
    return h;
}

#endif
