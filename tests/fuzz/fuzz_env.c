/* libFuzzer target: the tracker's environment parsing (src/native/config.c). The input is the
 * values of MEMTRACK_MODE, MEMTRACK_DEPTH, MEMTRACK_OUTPUT, MEMTRACK_SNAPSHOT_SIGNAL, the
 * working directory, the program's name, MEMTRACK_SEED and MEMTRACK_UNWIND, separated by NUL
 * bytes (a missing piece is a variable not set). What is accepted must be in range and the pattern
 * must fit. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "native/config.h"

#define PATTERN_CAP 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    const char *piece[8] = {NULL};
    size_t pos = 0;
    for (int i = 0; i < 8 && pos <= size; i++) {
        piece[i] = text + pos;
        pos += strlen(text + pos) + 1;
    }
    mt_env_t env = {.mode = piece[0],
                    .depth = piece[1],
                    .output = piece[2],
                    .snapshot_signal = piece[3],
                    .seed = piece[6],
                    .unwind = piece[7]};
    /* A small pattern buffer now and then, to reach the limits with short inputs. */
    size_t cap = size > 0 && data[0] == 'S' ? 24 : PATTERN_CAP;
    char pattern[PATTERN_CAP];
    memset(pattern, 'x', sizeof pattern);
    mt_config_t cfg = {0};
    mt_env_error_t err = {0};
    if (mt__config_parse(&env, piece[4], piece[5], &cfg, pattern, cap, &err) == 0) {
        if (cfg.depth < 1 || cfg.depth > MT_DEPTH_MAX) abort();
        if (cfg.mode != MT_MODE_FULL && cfg.mode != MT_MODE_COUNT && cfg.mode != MT_MODE_SAMPLE)
            abort();
        if (cfg.sample_mean < 1 || cfg.sample_mean > MT_SAMPLE_MEAN_MAX) abort();
        if (env.seed ? cfg.seed == 0 : cfg.seed != 0) abort();
        size_t n = strnlen(pattern, cap);
        if (n + MT_PATTERN_SPARE >= cap || n == 0) abort();
        if (env.output && env.output[0] == '/' && strcmp(pattern, env.output) != 0) abort();
        if (mt__config_unwind(env.unwind) < 0) abort();
    } else if (!err.var || !err.value || !err.why) {
        abort();
    }
    int how = mt__config_unwind(env.unwind);
    if (how < -1 || how > 1 || (how == 1 && strcmp(env.unwind, "dwarf") != 0)) abort();
    int sig = mt__config_signal(env.snapshot_signal);
    if (sig < -1 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP) abort();
    free(text);
    return 0;
}
