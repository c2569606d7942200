/* `memtrack snapshot PID`: asks a program running under `memtrack run` for a snapshot. The
 * program's environment says which signal it listens to and where its captures go; the
 * snapshot is the new NAME.snapN.mtc file that appears next to its capture. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "native/config.h"

#define SNAP_USAGE "usage: memtrack snapshot [--timeout SECONDS] PID\n"

/* The value of `name` in the process's environment (a NUL-separated file), or NULL. */
static char *environ_value(const char *env, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < len; i += strlen(env + i) + 1)
        if (!strncmp(env + i, name, n) && env[i + n] == '=') return strdup(env + i + n + 1);
    return NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

/* Counts the snapshot files of `base` (NAME.snapN.mtc, or NAME.snapN without .mtc) in its
 * directory, and remembers the newest one's name. */
static int count_snapshots(const char *base, char *newest, size_t cap)
{
    char dir[PATH_MAX], stem[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", base);
    char *slash = strrchr(dir, '/');
    const char *file = slash ? slash + 1 : dir;
    snprintf(stem, sizeof stem, "%s", file);
    size_t sl = strlen(stem);
    if (sl > 4 && !strcmp(stem + sl - 4, ".mtc")) stem[sl -= 4] = '\0';
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    DIR *d = opendir(dir);
    if (!d) return -1;
    int count = 0;
    unsigned best = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, stem, sl) || strncmp(e->d_name + sl, ".snap", 5)) continue;
        char *end;
        unsigned long n = strtoul(e->d_name + sl + 5, &end, 10);
        if (end == e->d_name + sl + 5 || (*end && strcmp(end, ".mtc"))) continue;
        count++;
        if (n > best) {
            best = (unsigned)n;
            snprintf(newest, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return count;
}

int mt__cmd_snapshot(int argc, char **argv)
{
    double timeout = 30;
    const char *pid_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *val;
        int r = mt__cli_option("--timeout", argc, argv, &i, &val);
        if (r < 0) {
            fprintf(stderr, "memtrack snapshot: --timeout needs a value (see 'memtrack snapshot "
                            "--help')\n");
            return 2;
        }
        char *end;
        if (r > 0) {
            timeout = strtod(val, &end);
            if (*end || !(timeout > 0 && timeout <= 3600)) {
                fprintf(stderr,
                        "memtrack snapshot: bad --timeout '%s' (seconds, up to 3600) "
                        "(see 'memtrack snapshot --help')\n",
                        val);
                return 2;
            }
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(SNAP_USAGE, stdout);
            return 0;
        } else if (pid_arg) {
            fprintf(stderr,
                    "memtrack snapshot: more than one PID given ('%s') (see 'memtrack "
                    "snapshot --help')\n",
                    argv[i]);
            return 2;
        } else {
            pid_arg = argv[i];
        }
    }
    char *end;
    long pid = pid_arg ? strtol(pid_arg, &end, 10) : 0;
    if (!pid_arg || *end || pid <= 0 || pid > INT_MAX) {
        fprintf(stderr, "memtrack snapshot: %s (see 'memtrack snapshot --help')\n",
                pid_arg ? "PID must be a process id" : "no PID given");
        return 2;
    }

    char path[64];
    size_t len;
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    char *env = read_file(path, &len);
    if (!env) {
        fprintf(stderr, "memtrack: cannot read the environment of process %ld: %s\n", pid,
                strerror(errno));
        return 1;
    }
    char *sig = environ_value(env, len, "MEMTRACK_SNAPSHOT_SIGNAL");
    char *pattern = environ_value(env, len, "MEMTRACK_OUTPUT");
    free(env);
    snprintf(path, sizeof path, "/proc/%ld/maps", pid);
    char *maps = read_file(path, &len);
    int tracked = maps && strstr(maps, "libmemtrack_preload.so");
    free(maps);
    /* The process's environment is its own to choose: its signal is read as the tracker
     * reads it (a number, never SIGKILL or SIGSTOP), not with atoi. */
    int signo = mt__config_signal(sig);
    if (!tracked || !pattern || signo <= 0) {
        fprintf(stderr, "memtrack: process %ld is not running under memtrack run%s\n", pid,
                tracked && signo <= 0 ? " with a snapshot signal (--snapshot-signal)" : "");
        free(sig);
        free(pattern);
        return 1;
    }

    /* The capture path: the pattern with the pid. */
    char base[PATH_MAX];
    size_t n = 0;
    for (const char *s = pattern; *s && n + 24 < sizeof base; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += (size_t)snprintf(base + n, sizeof base - n, "%ld", pid);
            s++;
        } else {
            base[n++] = *s;
        }
    }
    base[n] = '\0';
    int had_pid = strstr(pattern, "%p") != NULL;
    free(sig);
    free(pattern);

    /* A fork()ed child of the program adds ".PID" to a capture name without %p: the snapshot
     * comes next to whichever capture name is this process's. */
    char bases[2][PATH_MAX + 24], newest[PATH_MAX] = "";
    snprintf(bases[0], sizeof bases[0], "%s", base);
    snprintf(bases[1], sizeof bases[1], "%s.%ld", base, pid);
    int nbases = had_pid ? 1 : 2;
    int before[2];
    for (int b = 0; b < nbases; b++)
        before[b] = count_snapshots(bases[b], newest, sizeof newest);
    if (kill((pid_t)pid, signo) != 0) {
        fprintf(stderr, "memtrack: cannot signal process %ld: %s\n", pid, strerror(errno));
        return 1;
    }
    struct timespec step = {0, 20 * 1000 * 1000};
    for (double waited = 0; waited < timeout; waited += 0.02) {
        nanosleep(&step, NULL);
        for (int b = 0; b < nbases; b++) {
            if (count_snapshots(bases[b], newest, sizeof newest) > before[b]) {
                printf("%s\n", newest);
                fprintf(stderr, "memtrack: snapshot of process %ld written to %s\n", pid, newest);
                return 0;
            }
        }
    }
    fprintf(stderr, "memtrack: process %ld wrote no snapshot within %g s\n", pid, timeout);
    return 1;
}
