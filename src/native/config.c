/* Parsing of the tracker's environment variables (config.h): pure functions over strings. */
#include "native/config.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>

static int parse_depth(const char *s, unsigned *out)
{
    unsigned v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        /* Checked before each step, so the value never grows past MT_DEPTH_MAX * 10 + 9. */
        if (*s < '0' || *s > '9' || v > MT_DEPTH_MAX) return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    if (v < 1 || v > MT_DEPTH_MAX) return -1;
    *out = v;
    return 0;
}

/* A decimal number from 1 to max, digits only. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (v < 1) return -1;
    *out = v;
    return 0;
}

/* Appends src to the string in dst[cap]; false (dst unchanged) when it does not fit. */
static int append(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(dst), m = strlen(src);
    if (m >= cap - n) return 0;
    memcpy(dst + n, src, m + 1);
    return 1;
}

/* How long the pattern may become once every %p is a pid (with a generation) and the suffixes
 * of MT_PATTERN_SPARE are added. */
static size_t expanded_len(const char *pattern)
{
    size_t n = strlen(pattern), grow = 0;
    for (const char *s = pattern; (s = strstr(s, "%p")) != NULL; s += 2)
        grow += 41 - 2; /* a pid and, after exec when following children, ".N" */
    return n + grow + MT_PATTERN_SPARE;
}

static int refuse(mt_env_error_t *err, const char *var, const char *value, const char *why)
{
    err->var = var;
    err->value = value;
    err->why = why;
    return -1;
}

int mt__config_parse(const mt_env_t *env, const char *cwd, const char *program, mt_config_t *cfg,
                     char *pattern, size_t cap, mt_env_error_t *err)
{
    cfg->depth = MT_DEPTH_DEFAULT;
    cfg->mode = MT_MODE_FULL;
    cfg->sample_mean = MT_SAMPLE_MEAN_DEFAULT;
    cfg->seed = 0;
    const char *mode = env->mode;
    if (mode && strcmp(mode, "full") == 0) {
        cfg->mode = MT_MODE_FULL;
    } else if (mode && strcmp(mode, "count") == 0) {
        cfg->mode = MT_MODE_COUNT;
    } else if (mode && strncmp(mode, "sample", 6) == 0 &&
               (mode[6] == '\0' || (mode[6] == '=' && parse_u64(mode + 7, MT_SAMPLE_MEAN_MAX,
                                                                &cfg->sample_mean) == 0))) {
        cfg->mode = MT_MODE_SAMPLE;
    } else if (mode) {
        return refuse(err, "MEMTRACK_MODE", mode,
                      "is not 'full', 'count', 'sample' or 'sample=BYTES' (BYTES from 1 to 2^40)");
    }
    /* The samplers' seed: MEMTRACK_SEED makes a run's samples repeatable (tests). */
    if (env->seed && parse_u64(env->seed, UINT64_MAX, &cfg->seed) != 0)
        return refuse(err, "MEMTRACK_SEED", env->seed, "is not a number from 1 to 2^64-1");
    if (env->depth && parse_depth(env->depth, &cfg->depth) != 0)
        return refuse(err, "MEMTRACK_DEPTH", env->depth, "is not a number from 1 to 256");
    if (mt__config_unwind(env->unwind) < 0)
        return refuse(err, "MEMTRACK_UNWIND", env->unwind, "is not 'auto' or 'dwarf'");

    if (cap == 0) return refuse(err, "MEMTRACK_OUTPUT", "", "does not fit");
    pattern[0] = '\0';
    const char *out = env->output;
    if (out && !*out) return refuse(err, "MEMTRACK_OUTPUT", out, "is empty");
    int fits = 1;
    if (cwd && (!out || out[0] != '/'))
        fits = append(pattern, cap, cwd) && append(pattern, cap, "/");
    if (out) {
        fits = fits && append(pattern, cap, out);
    } else {
        /* memtrack.<program>.%p.mtc in the directory where the program started */
        fits = fits && append(pattern, cap, "memtrack.") &&
               append(pattern, cap, program && *program ? program : "program") &&
               append(pattern, cap, ".%p.mtc");
    }
    if (!fits || expanded_len(pattern) >= cap) {
        pattern[0] = '\0';
        return refuse(err, "MEMTRACK_OUTPUT", out ? out : "", "makes a capture path too long");
    }
    return 0;
}

int mt__config_unwind(const char *value)
{
    if (!value || strcmp(value, "auto") == 0) return 0;
    return strcmp(value, "dwarf") == 0 ? 1 : -1;
}

int mt__config_signal(const char *value)
{
    if (!value || !*value || strcmp(value, "none") == 0) return 0;
    long sig = 0;
    for (const char *s = value; *s; s++) {
        if (*s < '0' || *s > '9' || sig > SIGRTMAX) return -1;
        sig = sig * 10 + (*s - '0');
    }
    if (sig < 1 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP) return -1;
    return (int)sig;
}
