/* libFuzzer target: the capture reader (src/capture/reader.c) over any bytes. Whatever it
 * accepts must be consistent as docs/FORMAT.md says; everything else is refused with a
 * message, never a crash. The END checksum is fixed up first (capture_fixup.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/reader.h"
#include "capture_fixup.h"

/* What the reader promises of a capture it accepts (reader.h, docs/FORMAT.md); a broken
 * promise is a crash for the fuzzer. */
static void check(const mt_capture_t *cap)
{
    if (cap->nnodes == 0 || cap->nodes[0].parent != 0) abort();
    for (size_t i = 1; i < cap->nnodes; i++)
        if (cap->nodes[i].parent >= i) abort();
    uint64_t blocks = 0, bytes = 0;
    for (size_t i = 0; i < cap->nlive; i++) {
        if (cap->live[i].node >= cap->nnodes || cap->live[i].thread >= cap->nthreads) abort();
        blocks++;
        bytes += cap->live[i].size;
    }
    /* In sample mode LIVE lists the sampled blocks only: within TOTALS. */
    if (mt__cap_estimated(cap)) {
        if (blocks > cap->totals.live_blocks || bytes > cap->totals.live_bytes) abort();
    } else if (blocks != cap->totals.live_blocks || bytes != cap->totals.live_bytes) {
        abort();
    }
    for (size_t i = 0; i < cap->ntnodes; i++) {
        const mt_cap_tnode_t *r = &cap->tnodes[i];
        if (r->node >= cap->nnodes) abort();
        if (r->thread != MT_CAP_THREAD_MERGED && r->thread >= cap->nthreads) abort();
    }
    for (size_t i = 0; i < cap->nstages; i++)
        for (size_t k = 0; k < cap->stages[i].ntop; k++)
            if (cap->stages[i].top[k].node >= cap->nnodes) abort();
    for (size_t i = 0; i < cap->nmodules; i++)
        if (strlen(cap->modules[i].path) > SIZE_MAX / 2) abort(); /* NUL-terminated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = capture_fixup(data, size);
    char err[512];
    mt_capture_t *cap = NULL;
    if (mt__capture_parse(copy, size, &cap, err, sizeof err) == 0) {
        check(cap);
    } else if (cap != NULL || strlen(err) == 0) {
        abort(); /* a refusal sets no capture and always says why */
    }
    mt__capture_free(cap);
    free(copy);
    return 0;
}
