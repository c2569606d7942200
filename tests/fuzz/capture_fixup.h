/* For the capture fuzzers: a copy of the input with its END checksum made right, so that the
 * reader's validation past the checksum is reached by mutated inputs too (a random mutation
 * almost never keeps a 64-bit hash right). */
#ifndef MT_FUZZ_CAPTURE_FIXUP_H
#define MT_FUZZ_CAPTURE_FIXUP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/checksum.h"
#include "capture/format.h"

static inline uint32_t fixup_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t fixup_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* A malloc'ed copy of data[size] (NULL when size is 0 or memory ran out) in which the payload
 * of the first section of type END with length 8 holds the hash of the bytes before it. */
static inline uint8_t *capture_fixup(const uint8_t *data, size_t size)
{
    uint8_t *copy = size ? malloc(size) : NULL;
    if (copy == NULL) return NULL;
    memcpy(copy, data, size);
    size_t pos = MT_FMT_HEADER_SIZE;
    while (pos <= size && size - pos >= MT_FMT_SECTION_HDR) {
        uint32_t type = fixup_le32(copy + pos);
        uint64_t length = fixup_le64(copy + pos + 8);
        if (type == MT_SEC_END && length == 8 && size - pos - MT_FMT_SECTION_HDR >= 8) {
            uint64_t h = mt__fnv1a(MT_FNV_OFFSET, copy, pos);
            for (int i = 0; i < 8; i++)
                copy[pos + MT_FMT_SECTION_HDR + i] = (uint8_t)(h >> (8 * i));
            break;
        }
        if (length > size - pos - MT_FMT_SECTION_HDR) break;
        pos += MT_FMT_SECTION_HDR + (size_t)length;
    }
    return copy;
}

#endif
