/* `memtrack run`: starts the program with the preload library, waits for it, prints one line
 * of totals and where the capture went, and ends the way the program ended. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/format.h"
#include "capture/reader.h"
#include "cli/cli.h"
#include "native/config.h"
#include "report/report.h"

#define PRELOAD_NAME "libmemtrack_preload.so"
#define DEPTH_MAX    256

typedef struct run_opts_s {
    const char *output; /* -o */
    unsigned depth;     /* 0: the tracker's default */
    const char *mode;   /* --mode: NULL for the default */
    const char *unwind; /* --unwind: NULL for the default */
    int snapshot_sig;   /* --snapshot-signal: 0 for none */
    bool follow;        /* --follow-children */
    char **argv;        /* the program and its arguments */
} run_opts_t;

static void run_usage(FILE *f)
{
    fputs("usage: memtrack run [-o FILE] [--depth N] [--mode MODE] [--unwind HOW]\n"
          "                    [--snapshot-signal SIG] [--follow-children] [--] PROGRAM [ARGS...]\n"
          "  -o, --output FILE      where to write the capture (default\n"
          "                         ./memtrack.PROGRAM.PID.mtc); %p in FILE becomes the pid\n"
          "  --depth N              frames kept per call path, 1 to 256 (default 64)\n"
          "  --mode MODE            full: a call path for every allocation (the default);\n"
          "                         count: counts only, with call paths for the classes\n"
          "                         that ask; sample[=BYTES]: exact counts, call paths for\n"
          "                         a byte-weighted sample of the allocations, one per BYTES\n"
          "                         allocated on average (default 524288), and per-path\n"
          "                         figures estimated from them\n"
          "  --unwind HOW           auto: follow frame pointers through the modules that\n"
          "                         keep them, DWARF unwind info elsewhere (the default);\n"
          "                         dwarf: DWARF unwind info everywhere\n"
          "  --snapshot-signal SIG  the signal on which the program writes a snapshot\n"
          "                         (memtrack snapshot PID sends it): a number, a name like\n"
          "                         USR2 or RTMAX-2 (the default), or none\n"
          "  --follow-children      track the programs it starts too (exec, posix_spawn,\n"
          "                         system...): each process and exec'd image writes a\n"
          "                         capture of its own (%p: PID, or PID.N for the Nth image\n"
          "                         exec'd in process PID)\n",
          f);
}

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "memtrack run: %s%s%s%s (see 'memtrack run --help')\n", what, arg ? " '" : "",
            arg ? arg : "", arg ? "'" : "");
    return 2;
}

static int parse_depth(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || v < 1 || v > DEPTH_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Whether the tracker takes `mode` for MEMTRACK_MODE (native/config.c, its one parser). */
static bool mode_valid(const char *mode)
{
    mt_env_t env = {.mode = mode};
    mt_env_error_t bad;
    mt_config_t cfg;
    char pattern[PATH_MAX];
    return mt__config_parse(&env, NULL, "x", &cfg, pattern, sizeof(pattern), &bad) == 0;
}

/* A signal by number or name ("USR2", "SIGUSR2", "RTMIN+3", "RTMAX-2"); -1 if it is none. */
int mt__cli_signal(const char *s)
{
    if (!strncmp(s, "SIG", 3)) s += 3;
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2},   {"HUP", SIGHUP},  {"PROF", SIGPROF},
                 {"URG", SIGURG},   {"WINCH", SIGWINCH}, {"ALRM", SIGALRM}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i].name)) return names[i].sig;
    char *end;
    long v;
    if (!strncmp(s, "RTMIN", 5) || !strncmp(s, "RTMAX", 5)) {
        int base = s[3] == 'I' ? SIGRTMIN : SIGRTMAX;
        v = s[5] ? strtol(s + 5, &end, 10) : 0;
        if (s[5] && (*end || (s[5] != '+' && s[5] != '-'))) return -1;
        if (v < -SIGRTMAX || v > SIGRTMAX) return -1; /* strtol's LONG_MAX + base overflowed */
        v += base;
        if (v < SIGRTMIN || v > SIGRTMAX) return -1;
        return (int)v;
    }
    v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > SIGRTMAX || v == SIGKILL || v == SIGSTOP) return -1;
    return (int)v;
}

/* Returns -1 on success (go on), else the exit status to return. */
static int parse_run_args(int argc, char **argv, run_opts_t *o)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-') break;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--follow-children")) {
            o->follow = true;
            continue;
        }
        static const char *const with_value[] = {"--output", "--depth", "--mode", "--unwind",
                                                 "--snapshot-signal"};
        const char *name = NULL;
        if (!strcmp(a, "-o")) {
            if (i + 1 >= argc) return bad_usage("missing value after", a);
            val = argv[++i];
            name = "--output";
        }
        for (size_t k = 0; !name && k < sizeof(with_value) / sizeof(with_value[0]); k++) {
            int r = mt__cli_option(with_value[k], argc, argv, &i, &val);
            if (r < 0) return bad_usage("missing value after", a);
            if (r > 0) name = with_value[k];
        }
        if (!name) return bad_usage("unknown option", a);
        a = name;
        if (!strcmp(a, "--depth")) {
            if (parse_depth(val, &o->depth) != 0)
                return bad_usage("--depth takes a number from 1 to 256, not", val);
        } else if (!strcmp(a, "--mode")) {
            if (!mode_valid(val))
                return bad_usage("--mode takes full, count, sample or sample=BYTES, not", val);
            o->mode = val;
        } else if (!strcmp(a, "--unwind")) {
            if (mt__config_unwind(val) < 0)
                return bad_usage("--unwind takes auto or dwarf, not", val);
            o->unwind = val;
        } else if (!strcmp(a, "--snapshot-signal")) {
            o->snapshot_sig = strcmp(val, "none") ? mt__cli_signal(val) : 0;
            if (o->snapshot_sig < 0)
                return bad_usage("--snapshot-signal takes a signal number or name, not", val);
        } else {
            if (!*val) return bad_usage("-o needs a file name", NULL);
            o->output = val;
        }
    }
    if (i >= argc) return bad_usage("no program to run", NULL);
    o->argv = argv + i;
    return -1;
}

/* The preload library beside this executable (build tree), in ../lib/memtrack (installed
 * tree), or where it was installed. */
static int find_preload(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        const char *rel[] = {"/" PRELOAD_NAME, "/../lib/memtrack/" PRELOAD_NAME};
        for (unsigned i = 0; i < 2; i++) {
            if (snprintf(out, cap, "%s%s", exe, rel[i]) < (int)cap && access(out, R_OK) == 0)
                return 0;
        }
    }
    if (snprintf(out, cap, "%s", MEMTRACK_PRELOAD_INSTALLED) < (int)cap && access(out, R_OK) == 0)
        return 0;
    return -1;
}

/* The output pattern, absolute, since the program may change directory. */
static int output_pattern(const run_opts_t *o, char *out, size_t cap)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) return -1;
    int n;
    if (o->output) {
        n = o->output[0] == '/' ? snprintf(out, cap, "%s", o->output)
                                : snprintf(out, cap, "%s/%s", cwd, o->output);
    } else {
        const char *base = strrchr(o->argv[0], '/');
        base = base ? base + 1 : o->argv[0];
        n = snprintf(out, cap, "%s/memtrack.%s.%%p.mtc", cwd, base);
    }
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void expand_pid(const char *pattern, pid_t pid, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = pattern; *s && n + 1 < cap; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += (size_t)snprintf(out + n, cap - n, "%d", (int)pid);
            if (n >= cap) n = cap - 1;
            s++;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

static pid_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0) kill(child_pid, sig);
}

/* In the child: set the environment and exec; on failure send errno through the pipe. */
static void exec_child(const run_opts_t *o, const char *preload, const char *pattern, int errfd)
{
    const char *old = getenv("LD_PRELOAD");
    size_t len = strlen(preload) + (old ? strlen(old) + 1 : 0) + 1;
    char *ld = malloc(len);
    if (ld) {
        snprintf(ld, len, "%s%s%s", preload, old && *old ? ":" : "", old ? old : "");
        setenv("LD_PRELOAD", ld, 1);
    }
    setenv("MEMTRACK_OUTPUT", pattern, 1);
    if (o->depth) { /* else MEMTRACK_DEPTH, if set, applies */
        char d[16];
        snprintf(d, sizeof(d), "%u", o->depth);
        setenv("MEMTRACK_DEPTH", d, 1);
    }
    if (o->mode) setenv("MEMTRACK_MODE", o->mode, 1); /* else MEMTRACK_MODE, if set, applies */
    if (o->unwind) setenv("MEMTRACK_UNWIND", o->unwind, 1);
    char sig[16];
    snprintf(sig, sizeof(sig), "%d", o->snapshot_sig);
    setenv("MEMTRACK_SNAPSHOT_SIGNAL", o->snapshot_sig ? sig : "none", 1);
    if (o->follow) setenv("MEMTRACK_FOLLOW_CHILDREN", "1", 1); /* else the environment's */
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    execvp(o->argv[0], o->argv);
    int err = errno;
    (void)!write(errfd, &err, sizeof(err));
    _exit(err == ENOENT ? 127 : 126);
}

/* The line of totals of the program's capture. A capture already at the path, left by an
 * earlier run, is not the program's: nothing is said of it as if it were. */
static void print_summary(const char *path, pid_t pid, int status)
{
    mt_capture_t *cap;
    char err[512];
    struct stat st;
    bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    /* The tracker does not write over a symbolic link, a device or the like, and has said so:
     * what is there is not read (a link would be followed). */
    bool exists = lstat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) return;
    if (killed && !exists) {
        fprintf(stderr, "memtrack: no capture: the program was killed by SIGKILL, which no "
                        "process can handle\n");
        return;
    }
    if (mt__capture_read(path, &cap, err, sizeof(err)) != 0) {
        fprintf(stderr, "memtrack: no usable capture at %s: %s\n", path, err);
        return;
    }
    if (cap->pid != (uint64_t)pid) {
        fprintf(stderr,
                "memtrack: the program left no capture%s; %s is from an earlier run "
                "(process %" PRIu64 ")\n",
                killed ? " (it was killed by SIGKILL, which no process can handle)" : "", path,
                cap->pid);
        mt__capture_free(cap);
        return;
    }
    char alloc[32], live[32], peak[32];
    mt__fmt_bytes(cap->totals.allocated_bytes, alloc, sizeof(alloc));
    mt__fmt_bytes(cap->totals.live_bytes, live, sizeof(live));
    mt__fmt_bytes(cap->totals.peak_bytes, peak, sizeof(peak));
    fprintf(stderr,
            "memtrack: %" PRIu64 " allocations (%s), %" PRIu64 " blocks (%s) still live at the "
            "end, peak %s; capture: %s (see: memtrack report %s)\n",
            cap->totals.allocations, alloc, cap->totals.live_blocks, live, peak, path, path);
    if (cap->flags & MT_META_DEGRADED || cap->dropped_events > 0)
        fprintf(stderr,
                "memtrack: warning: tracking was degraded (memtrack ran short of memory and "
                "dropped %" PRIu64 " events); the figures are incomplete\n",
                cap->dropped_events);
    mt__capture_free(cap);
}

/* Ends this process the way the program ended. */
static int pass_status(int status)
{
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core); /* the program dumped its core already, if any */
        signal(sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        fflush(NULL);
        raise(sig);
        return 128 + sig;
    }
    return 1;
}

int mt__cmd_run(int argc, char **argv)
{
    run_opts_t o = {.snapshot_sig = SIGRTMAX - 2};
    int r = parse_run_args(argc, argv, &o);
    if (r >= 0) return r;

    /* MEMTRACK_MODE, MEMTRACK_SEED, MEMTRACK_DEPTH and MEMTRACK_UNWIND of this environment apply
     * when no option
     * overrides them:
     * a bad one is refused here, as the tracker would refuse it (native/config.c). */
    mt_env_t env = {.mode = o.mode ? NULL : getenv("MEMTRACK_MODE"),
                    .seed = getenv("MEMTRACK_SEED"),
                    .depth = o.depth ? NULL : getenv("MEMTRACK_DEPTH"),
                    .unwind = o.unwind ? NULL : getenv("MEMTRACK_UNWIND")};
    mt_env_error_t bad;
    mt_config_t cfg;
    char check[PATH_MAX];
    if (mt__config_parse(&env, NULL, "x", &cfg, check, sizeof(check), &bad) != 0) {
        fprintf(stderr, "memtrack run: %s='%s' in the environment %s\n", bad.var, bad.value,
                bad.why);
        return 2;
    }

    char preload[PATH_MAX], pattern[PATH_MAX];
    if (find_preload(preload, sizeof(preload)) != 0) {
        fprintf(stderr, "memtrack: cannot find %s next to the memtrack executable or in %s\n",
                PRELOAD_NAME, MEMTRACK_PRELOAD_INSTALLED);
        return 2;
    }
    if (output_pattern(&o, pattern, sizeof(pattern)) != 0) {
        fprintf(stderr, "memtrack: the capture path is too long\n");
        return 2;
    }

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        perror("memtrack: pipe");
        return 2;
    }
    /* Ctrl-C goes to the whole foreground group: let the program decide, and stay to report. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, forward_signal);
    signal(SIGHUP, forward_signal);

    struct timespec since;
    clock_gettime(CLOCK_REALTIME, &since);
    since.tv_sec -= 1; /* file times may be a clock tick behind */
    fflush(NULL);
    child_pid = fork();
    if (child_pid < 0) {
        perror("memtrack: fork");
        return 2;
    }
    if (child_pid == 0) {
        close(pipefd[0]);
        exec_child(&o, preload, pattern, pipefd[1]);
    }
    close(pipefd[1]);
    int exec_err = 0;
    ssize_t got;
    while ((got = read(pipefd[0], &exec_err, sizeof(exec_err))) < 0 && errno == EINTR) {
    }
    close(pipefd[0]);

    int status;
    while (waitpid(child_pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("memtrack: waitpid");
            return 2;
        }
    }
    if (got == (ssize_t)sizeof(exec_err)) {
        fprintf(stderr, "memtrack: cannot run '%s': %s\n", o.argv[0], strerror(exec_err));
        return exec_err == ENOENT ? 127 : 126;
    }

    char path[PATH_MAX];
    expand_pid(pattern, child_pid, path, sizeof(path));
    print_summary(path, child_pid, status);
    const char *follow = getenv("MEMTRACK_FOLLOW_CHILDREN");
    if (o.follow || (follow && !strcmp(follow, "1")))
        mt__run_list_children(pattern, path, (uint64_t)child_pid, &since);
    return pass_status(status);
}
