/* exec and the programs a tracked program starts. exec replaces the image, so its capture is
 * written first (if exec fails, tracking resumes and the capture is written again at the end).
 * The programs it starts are tracked only when asked (`memtrack run --follow-children`, which
 * sets MEMTRACK_FOLLOW_CHILDREN=1): then every exec and posix_spawn passes the tracker's
 * environment on, even to a program given an environment of its own (`env -i`, execle), and
 * each process or exec'd image writes a capture of its own.
 *
 * MEMTRACK_EXEC=PID.N tells an image started by exec in process PID that it is that process's
 * image number N (its capture is named with "PID.N" for %p); in a process of another pid it
 * only says that the process was started by a tracked one. glibc's own exec functions call
 * each other directly, not through the PLT, so every public one is wrapped. Everything here
 * may run in a vfork() child, which shares the parent's memory: nothing is allocated and no
 * shared state changes there but what exec needs. */
#include <alloca.h>
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/format.h"
#include "core/os.h"
#include "native/native.h"

/* The real functions, looked up once (mt__follow_init does it early): dlsym may take the
 * loader's lock and allocate, which a vfork() child must not do while the parent's other
 * threads run. */
static void *real_execve, *real_execvpe, *real_fexecve, *real_execv, *real_execvp,
    *real_posix_spawn, *real_posix_spawnp;
#define REAL(name) ((__typeof__(&name))real(&real_##name, #name))

static void *real(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_RELAXED); /* any thread finds the same value */
    if (!f) {
        f = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELAXED);
    }
    return f;
}

#define ENV_MAX  4096 /* entries of an environment passed on (more: E2BIG) */
#define VAR_MAX  4352 /* bytes of one variable of ours (a path, its name and '=') */
#define PASS_MAX 6    /* variables passed on */

static const char *const passed[PASS_MAX] = {
    "MEMTRACK_OUTPUT",          "MEMTRACK_DEPTH",           "MEMTRACK_MODE",
    "MEMTRACK_SNAPSHOT_SIGNAL", "MEMTRACK_FOLLOW_CHILDREN", "MEMTRACK_EXEC",
};

static struct {
    int on;                       /* following children */
    int followed;                 /* this process was started by a tracked one */
    unsigned gen;                 /* this image's number among its process's exec'd images */
    pid_t pid;                    /* the process MEMTRACK_EXEC was made for */
    char preload[VAR_MAX];        /* this library's path */
    char vars[PASS_MAX][VAR_MAX]; /* "NAME=value" to pass on; "" for unset */
} fw;

static void set_var(int i, const char *value)
{
    size_t n = strlen(passed[i]), m = value ? strlen(value) : 0;
    if (!value || n + 1 + m >= VAR_MAX) {
        fw.vars[i][0] = '\0';
        return;
    }
    memcpy(fw.vars[i], passed[i], n);
    fw.vars[i][n] = '=';
    memcpy(fw.vars[i] + n + 1, value, m + 1);
}

/* MEMTRACK_EXEC for images this process starts: this pid, and the next image number. */
static void set_exec_var(void)
{
    char v[48];
    char *p = mt__os_fmt_u64(v, (uint64_t)fw.pid);
    *p++ = '.';
    mt__os_fmt_u64(p, fw.gen + 1);
    set_var(PASS_MAX - 1, v);
    if (fw.on) setenv("MEMTRACK_EXEC", v, 1); /* for system(), popen() and their like */
}

void mt__follow_init(const char *pattern)
{
    fw.pid = getpid();
    (void)REAL(execve), (void)REAL(execvpe), (void)REAL(fexecve), (void)REAL(execv);
    (void)REAL(execvp), (void)REAL(posix_spawn), (void)REAL(posix_spawnp);
    const char *ex = getenv("MEMTRACK_EXEC");
    if (ex) {
        /* "PID.N": digits, a dot, digits; anything else only says "started by a tracked one". */
        uint64_t pid = 0, gen = 0;
        const char *s = ex;
        for (; *s >= '0' && *s <= '9' && pid < (1ull << 40); s++)
            pid = pid * 10 + (uint64_t)(*s - '0');
        if (*s == '.') {
            for (s++; *s >= '0' && *s <= '9' && gen < (1u << 30); s++)
                gen = gen * 10 + (uint64_t)(*s - '0');
        }
        fw.followed = 1;
        if (*s == '\0' && pid == (uint64_t)fw.pid) fw.gen = (unsigned)gen;
    }
    const char *on = getenv("MEMTRACK_FOLLOW_CHILDREN");
    fw.on = on && strcmp(on, "1") == 0;
    if (!fw.on) return;
    Dl_info di;
    if (dladdr((void *)mt__follow_init, &di) && di.dli_fname && strlen(di.dli_fname) < VAR_MAX)
        memcpy(fw.preload, di.dli_fname, strlen(di.dli_fname) + 1);
    set_var(0, pattern); /* absolute, as the children may start elsewhere */
    for (int i = 1; i < PASS_MAX - 1; i++)
        set_var(i, getenv(passed[i]));
    set_exec_var();
}

void mt__follow_after_fork_child(void)
{
    fw.pid = getpid();
    fw.gen = 0;
    set_exec_var();
}

bool mt__follow_on(void)
{
    return fw.on;
}

bool mt__follow_followed(void)
{
    return fw.followed;
}

unsigned mt__follow_generation(void)
{
    return fw.gen;
}

/* ---- the environment passed on */

/* True when entry "NAME=..." names one of ours or LD_PRELOAD. */
static int ours(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* An environment passed on: the entries, and the LD_PRELOAD entry made for it. */
typedef struct envbuf_s {
    char *out[ENV_MAX + PASS_MAX + 2];
    char preload[2 * VAR_MAX + 16];
} envbuf_t;

/* envp with our variables and this library first in LD_PRELOAD, in b->out (NULL-terminated).
 * Returns b->out, or NULL with errno E2BIG. */
static char *const *pass_on(char *const *envp, envbuf_t *b)
{
    size_t n = 0;
    const char *old_preload = NULL;
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *e = envp[i];
        int skip = ours(e, "LD_PRELOAD");
        if (skip) old_preload = e + 11;
        for (int k = 0; !skip && k < PASS_MAX; k++)
            skip = fw.vars[k][0] && ours(e, passed[k]);
        if (skip) continue;
        if (n >= ENV_MAX) {
            errno = E2BIG;
            return NULL;
        }
        b->out[n++] = (char *)e;
    }
    for (int k = 0; k < PASS_MAX; k++)
        if (fw.vars[k][0]) b->out[n++] = fw.vars[k];
    /* LD_PRELOAD: this library first, then what the program had there (but us again). */
    char *p = b->preload, *end = b->preload + sizeof(b->preload) - 1;
    size_t len = strlen(fw.preload);
    memcpy(p, "LD_PRELOAD=", 11);
    p += 11;
    memcpy(p, fw.preload, len);
    p += len;
    for (const char *s = old_preload; s && *s;) {
        size_t l = strcspn(s, ": ");
        int dup = l && memmem(s, l, "libmemtrack_preload", 19) != NULL;
        if (l && !dup && p + 1 + l < end) {
            *p++ = ':';
            memcpy(p, s, l);
            p += l;
        }
        s += l;
        if (*s) s++;
    }
    *p = '\0';
    if (fw.preload[0]) b->out[n++] = b->preload;
    b->out[n] = NULL;
    return b->out;
}

/* ---- exec */

/* In a vfork() child, which shares the parent's memory, both do nothing (tracker.c). */
static void before_exec(void)
{
    mt__tracker_finish(MT_END_EXEC, 0);
}

static int exec_failed(int r)
{
    int saved = errno;
    mt__tracker_resume();
    errno = saved;
    return r;
}

extern char **environ;

/* Each exec function, through the real one; when following, with our environment passed on
 * (those without an envp argument go to the one with it, passing environ). The environment is
 * built on the stack (alloca: only when following), as this may be a vfork() child. */
#define PASS_ON(envp, env, fail)                                \
    char *const *env = (envp);                                  \
    if (fw.on) {                                                \
        envbuf_t *b_ = alloca(sizeof(envbuf_t));                \
        if ((env = pass_on((envp), b_)) == NULL) return (fail); \
    }

MT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    PASS_ON(envp, env, -1);
    before_exec();
    return exec_failed(REAL(execve)(path, argv, env));
}

MT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    PASS_ON(envp, env, -1);
    before_exec();
    return exec_failed(REAL(execvpe)(file, argv, env));
}

MT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    PASS_ON(envp, env, -1);
    before_exec();
    return exec_failed(REAL(fexecve)(fd, argv, env));
}

MT_EXPORT int execv(const char *path, char *const argv[])
{
    if (fw.on) return execve(path, argv, environ);
    before_exec();
    return exec_failed(REAL(execv)(path, argv));
}

MT_EXPORT int execvp(const char *file, char *const argv[])
{
    if (fw.on) return execvpe(file, argv, environ);
    before_exec();
    return exec_failed(REAL(execvp)(file, argv));
}

/* The list forms gather their arguments into an array on the stack (no malloc, as in glibc)
 * and go through the wrappers above. */
#define EXEC_ARGV_MAX 4096
#define GATHER_ARGS(first, ap, argv)               \
    do {                                           \
        size_t n_ = 0;                             \
        argv[n_++] = (char *)(first);              \
        while (argv[n_ - 1] && n_ < EXEC_ARGV_MAX) \
            argv[n_++] = va_arg(ap, char *);       \
        if (argv[n_ - 1]) {                        \
            va_end(ap);                            \
            errno = E2BIG;                         \
            return -1;                             \
        }                                          \
    } while (0)

MT_EXPORT int execl(const char *path, const char *arg, ...)
{
    char *argv[EXEC_ARGV_MAX];
    va_list ap;
    va_start(ap, arg);
    GATHER_ARGS(arg, ap, argv);
    va_end(ap);
    return execv(path, argv);
}

MT_EXPORT int execlp(const char *file, const char *arg, ...)
{
    char *argv[EXEC_ARGV_MAX];
    va_list ap;
    va_start(ap, arg);
    GATHER_ARGS(arg, ap, argv);
    va_end(ap);
    return execvp(file, argv);
}

MT_EXPORT int execle(const char *path, const char *arg, ...)
{
    char *argv[EXEC_ARGV_MAX];
    va_list ap;
    va_start(ap, arg);
    GATHER_ARGS(arg, ap, argv);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}

/* ---- posix_spawn: a new process, so nothing to write here; only the environment to pass on
 * when following (system() and popen() use environ, which has it already). */

MT_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    PASS_ON(envp, env, errno);
    return REAL(posix_spawn)(pid, path, fa, attr, argv, env);
}

MT_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    PASS_ON(envp, env, errno);
    return REAL(posix_spawnp)(pid, file, fa, attr, argv, env);
}
