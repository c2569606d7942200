/* The tracker's configuration from its environment variables (MEMTRACK_MODE, MEMTRACK_SEED,
 * MEMTRACK_DEPTH, MEMTRACK_OUTPUT, MEMTRACK_SNAPSHOT_SIGNAL), parsed by pure functions: no getenv,
 * no malloc, no stdio, so they can run in the tracked process before anything is set up and can be
 * fuzzed on their own (tests/fuzz/fuzz_env.c). */
#ifndef MT_NATIVE_CONFIG_H
#define MT_NATIVE_CONFIG_H

#include <stddef.h>

#include "core/engine.h"

/* The variables' values, NULL for those not set. */
typedef struct mt_env_s {
    const char *mode, *seed, *depth, *output, *snapshot_signal, *unwind;
} mt_env_t;

/* Why a value was refused: the variable, its value and what is wrong with it, for a message
 * "memtrack: VAR='VALUE' WHY". */
typedef struct mt_env_error_s {
    const char *var, *value, *why;
} mt_env_error_t;

/* Room the output pattern keeps for what is appended to it later: a forked child's ".%p", a
 * snapshot's ".snapN", the writer's ".tmp.PID", and each %p growing into a pid. */
#define MT_PATTERN_SPARE 64

/* Fills *cfg (depth, mode, sampling mean and seed) and the output pattern (pattern[cap]) from
 * env. Without MEMTRACK_SEED, cfg->seed is 0: the caller draws one. A relative
 * MEMTRACK_OUTPUT is made absolute with `cwd` (NULL when the working directory is unknown:
 * then it stays relative); without MEMTRACK_OUTPUT the pattern is
 * CWD/memtrack.PROGRAM.%p.mtc. Returns 0, or -1 with *err saying which value is refused:
 * a mode other than full, count, sample or sample=BYTES (1 to MT_SAMPLE_MEAN_MAX), a seed that
 * is not a decimal number from 1 to 2^64-1, a depth that is not a decimal number from 1 to
 * MT_DEPTH_MAX, an unwinder other than 'auto' or 'dwarf' (mt__config_unwind), an empty output,
 * or a pattern that would not fit in cap with room for a pid in every %p. */
int mt__config_parse(const mt_env_t *env, const char *cwd, const char *program, mt_config_t *cfg,
                     char *pattern, size_t cap, mt_env_error_t *err);

/* MEMTRACK_UNWIND: 0 for "auto" (or unset: frame pointers where modules keep them, DWARF
 * elsewhere), 1 for "dwarf" (libunwind's DWARF unwinder only), -1 for anything else. */
int mt__config_unwind(const char *value);

/* MEMTRACK_SNAPSHOT_SIGNAL: 0 when snapshots on a signal are off (NULL, "" or "none"), the
 * signal number (decimal digits only, 1 to SIGRTMAX, not SIGKILL or SIGSTOP), or -1 when the
 * value is none of these. */
int mt__config_signal(const char *value);

#endif
