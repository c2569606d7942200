/* The tracker's life in the process: configuration from the environment, the engine, thread
 * registration, and the final capture — after exit (from any thread), _exit, quick_exit, a
 * fatal signal or exec — plus fork, whose child goes on with a capture of its own. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "capture/format.h"
#include "core/arena.h"
#include "core/os.h"
#include "native/native.h"

__thread mt_tls_t mt__tls __attribute__((tls_model("initial-exec")));
_Atomic int mt__tracking;
int mt__fence_needed;

#define PATH_CAP 4096

static struct {
    mt_engine_t *engine;
    pthread_key_t key;
    char pattern[PATH_CAP]; /* output path; %p stands for the pid */
    char program[PATH_CAP];
    char *cmdline;
    size_t cmdline_len;
    uint64_t pid, parent_pid;
    uint32_t flags;      /* MT_META_* set by this front end */
    _Atomic int done;    /* the final capture of this image is written (or being written) */
    int resume;          /* what was recorded before the final capture (for a failed exec) */
    _Atomic int closing; /* the final capture is being written: no snapshot may start */
} tr;

static void say(const char *a, const char *b, const char *c)
{
    /* Messages go straight to stderr with write(2): no stdio inside the tracked process. */
    const char *parts[] = {"memtrack: ", a, b, c, "\n"};
    for (unsigned i = 0; i < 5; i++)
        if (parts[i]) (void)!write(2, parts[i], strlen(parts[i]));
}

mt_engine_t *mt__tracker_engine(void)
{
    return tr.engine;
}

/* ---- configuration */

static int parse_depth(const char *s, unsigned *out)
{
    unsigned v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
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
        if (*s < '0' || *s > '9' || v > max / 10) return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v < 1 || v > max) return -1;
    *out = v;
    return 0;
}

static void append(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(dst), m = strlen(src);
    if (n + m >= cap) m = cap - n - 1;
    memcpy(dst + n, src, m);
    dst[n + m] = '\0';
}

static void format_u64(char *buf, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
}

/* The capture path: the pattern with every %p replaced by the pid. */
int mt__tracker_output_path(char *out, size_t cap)
{
    char pid[24];
    format_u64(pid, (uint64_t)getpid());
    size_t n = 0;
    for (const char *s = tr.pattern; *s; s++) {
        const char *piece = s[0] == '%' && s[1] == 'p' ? pid : NULL;
        size_t len = piece ? strlen(piece) : 1;
        if (n + len >= cap) return -1;
        memcpy(out + n, piece ? piece : s, len);
        n += len;
        if (piece) s++;
    }
    out[n] = '\0';
    return 0;
}

static int read_config(mt_config_t *cfg)
{
    cfg->depth = MT_DEPTH_DEFAULT;
    cfg->mode = MT_MODE_FULL;
    cfg->sample_mean = MT_SAMPLE_MEAN_DEFAULT;
    const char *mode = getenv("MEMTRACK_MODE");
    if (mode && strcmp(mode, "full") == 0) {
        cfg->mode = MT_MODE_FULL;
    } else if (mode && strcmp(mode, "count") == 0) {
        cfg->mode = MT_MODE_COUNT;
    } else if (mode && strncmp(mode, "sample", 6) == 0 &&
               (mode[6] == '\0' || (mode[6] == '=' && parse_u64(mode + 7, MT_SAMPLE_MEAN_MAX,
                                                                &cfg->sample_mean) == 0))) {
        cfg->mode = MT_MODE_SAMPLE;
    } else if (mode) {
        say("MEMTRACK_MODE='", mode,
            "' is not 'full', 'count', 'sample' or 'sample=BYTES' (BYTES from 1 to 2^40); "
            "not tracking");
        return -1;
    }
    /* The samplers' seed: MEMTRACK_SEED makes a run's samples repeatable (tests); else each
     * run draws its own. */
    const char *seed = getenv("MEMTRACK_SEED");
    if (seed && parse_u64(seed, UINT64_MAX, &cfg->seed) != 0) {
        say("MEMTRACK_SEED='", seed, "' is not a number from 1 to 2^64-1; not tracking");
        return -1;
    }
    if (!seed) cfg->seed = mt__os_ticks() ^ ((uint64_t)getpid() << 32) ^ mt__os_now_ns();
    const char *depth = getenv("MEMTRACK_DEPTH");
    if (depth && parse_depth(depth, &cfg->depth) != 0) {
        say("MEMTRACK_DEPTH='", depth, "' is not a number from 1 to 256; not tracking");
        return -1;
    }
    const char *out = getenv("MEMTRACK_OUTPUT");
    if (out) {
        if (!*out || strlen(out) >= PATH_CAP - 64) {
            say("MEMTRACK_OUTPUT is empty or too long; not tracking", NULL, NULL);
            return -1;
        }
        if (out[0] != '/' && getcwd(tr.pattern, PATH_CAP - 64)) append(tr.pattern, PATH_CAP, "/");
        append(tr.pattern, PATH_CAP, out);
    } else {
        /* memtrack.<program>.%p.mtc in the directory where the program started */
        if (getcwd(tr.pattern, PATH_CAP - 300)) append(tr.pattern, PATH_CAP, "/");
        append(tr.pattern, PATH_CAP, "memtrack.");
        append(tr.pattern, PATH_CAP, program_invocation_short_name);
        append(tr.pattern, PATH_CAP, ".%p.mtc");
    }
    return 0;
}

/* Reads a small /proc file into engine memory (no malloc). */
static char *read_proc(const char *path, size_t *len)
{
    size_t cap = 64 * 1024;
    char *buf = mt__arena_alloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (buf && fd >= 0) {
        ssize_t r;
        while (n < cap && ((r = read(fd, buf + n, cap - n)) > 0 || (r < 0 && errno == EINTR)))
            if (r > 0) n += (size_t)r;
    }
    if (fd >= 0) close(fd);
    *len = n;
    return buf;
}

/* Children the program starts with exec are not tracked unless asked (a later --follow-
 * children): take this library out of LD_PRELOAD, in place, before anyone copies environ. */
static void forget_preload(void)
{
    char *v = getenv("LD_PRELOAD");
    if (!v) return;
    char *w = v;
    for (char *s = v; *s;) {
        size_t len = strcspn(s, ": ");
        int ours = memmem(s, len, "libmemtrack_preload", 19) != NULL;
        if (!ours && len) {
            if (w != v) *w++ = ':';
            memmove(w, s, len);
            w += len;
        }
        s += len;
        if (*s) s++;
    }
    *w = '\0';
}

/* ---- threads */

int mt__tracker_start_thread(void *(*fn)(void *), void *arg, const char *name)
{
    pthread_t th;
    pthread_attr_t attr;
    mt__tls.busy++; /* what pthread_create allocates is memtrack's, not the program's */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    mt__tls.busy--;
    if (r == 0) pthread_setname_np(th, name);
    return r == 0 ? 0 : -1;
}

static void thread_ended(void *arg)
{
    mt_thread_t *t = arg;
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name) == 0) mt__thread_set_name(t, name);
    mt__thread_detach(t);
}

mt_thread_t *mt__tracker_thread(void)
{
    mt_thread_t *t = mt__tls.thread;
    if (__builtin_expect(t != NULL, 1)) return t;
    if (mt__tls.attach_failed || !tr.engine) return NULL;
    t = mt__thread_attach(tr.engine, mt__os_tid());
    if (!t) {
        mt__tls.attach_failed = 1;
        return NULL;
    }
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name) == 0) mt__thread_set_name(t, name);
    mt__tls.thread = t;
    pthread_setspecific(tr.key, t); /* the destructor marks the thread ended */
    return t;
}

/* ---- the final capture */

int mt__tracker_write(const char *given, uint32_t reason, int32_t value)
{
    if (!tr.engine) return EINVAL;
    char path[PATH_CAP];
    if (given) {
        size_t n = strlen(given);
        if (n >= sizeof(path)) return ENAMETOOLONG;
        memcpy(path, given, n + 1);
    } else if (mt__tracker_output_path(path, sizeof(path)) != 0) {
        say("capture path too long: ", tr.pattern, NULL);
        return ENAMETOOLONG;
    }
    if (!tr.program[0]) {
        ssize_t n = readlink("/proc/self/exe", tr.program, sizeof(tr.program) - 1);
        if (n > 0) tr.program[n] = '\0';
    }
    mt_capture_info_t info = {
        .pid = tr.pid,
        .parent_pid = tr.parent_pid,
        .end_reason = reason,
        .end_value = value,
        .flags = tr.flags,
        .program = tr.program,
        .cmdline = tr.cmdline,
        .cmdline_len = tr.cmdline_len,
        .modules = mt__modules_write,
        .self = mt__tls.thread,
    };
    int err = mt__capture_write(tr.engine, path, &info);
    if (err && !given)
        say("could not write the capture ", path,
            err == ENOSPC ? ": no space left on device" : ": write failed");
    return err;
}

bool mt__tracker_finished(void)
{
    return mt_load_acquire(&tr.closing) != 0;
}

int mt__tracker_switch(int state)
{
    int old = atomic_exchange(&mt__tracking, state);
    if (state == MT_TRACK_OFF || state == MT_TRACK_PAUSED) {
        /* Wait for threads still inside a hook, so that what follows (a capture, a clear)
         * sees one consistent moment: the store above, then a barrier on every thread, then
         * the threads' active flags (see enter() in preload.c). */
        if (mt__fence_needed)
            atomic_thread_fence(memory_order_seq_cst);
        else
            mt__os_membarrier();
        if (tr.engine && !mt__engine_quiesce(tr.engine, mt__tls.thread, 200 * 1000 * 1000))
            say("other threads did not leave the tracker in time; figures may be inexact", NULL,
                NULL);
    }
    return old;
}

void mt__tracker_finish(uint32_t reason, int32_t value)
{
    int expected = 0;
    if (!tr.engine || !atomic_compare_exchange_strong(&tr.done, &expected, 1)) return;
    int saved = errno;
    int busy = mt__tls.busy;
    mt__tls.busy = 1;
    mt__modules_refresh(); /* before the switch: it may wait for the loader's lock */
    /* Snapshots asked for are not lost because the program ends: with the API lock (a
     * snapshot in progress finishes first; bounded, as this may be a fatal signal's handler
     * interrupting one), the requests still waiting are written, then no other may start. */
    bool locked = false;
    for (int i = 0; i < 2000 && !(locked = mt__api_trylock()); i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    mt__background_pending_snapshots_locked();
    mt_store_release(&tr.closing, 1);
    if (locked) mt__api_unlock();
    mt__background_sample(true); /* the timeline ends at the end */
    tr.resume = mt__tracker_switch(MT_TRACK_OFF);
    mt__tracker_write(NULL, reason, value);
    mt__tls.busy = busy;
    errno = saved;
}

static int exit_hooked;

/* The final capture of a normal exit. This handler is registered while the preloaded library
 * starts, before __libc_start_main registers _dl_fini, so exit() runs it after the program's
 * atexit handlers and after every destructor: what is live then was never freed. */
static void at_exit(int status, void *arg)
{
    (void)arg;
    mt__tracker_finish(MT_END_EXIT, status);
}

__attribute__((destructor)) static void at_unload(void)
{
    if (!exit_hooked) mt__tracker_finish(MT_END_EXIT, -1); /* on_exit was refused */
}

/* ---- fatal signals */

static const int fatal_signals[] = {SIGSEGV, SIGBUS,  SIGFPE,  SIGILL,  SIGABRT, SIGTRAP,
                                    SIGSYS,  SIGQUIT, SIGTERM, SIGINT,  SIGHUP,  SIGPIPE,
                                    SIGXCPU, SIGXFSZ, SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM};

static void on_fatal_signal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    mt__tracker_finish(MT_END_SIGNAL, sig);
    /* Die of the same signal: with the default action restored, the signal raised here is
     * delivered when the handler returns (a fault would also recur on its own). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void install_signal_handlers(void)
{
    /* An alternate stack for this (usually the main) thread, so a stack overflow still leaves
     * a capture. */
    size_t alt = 64 * 1024;
    void *stack = mt__os_map(alt);
    if (stack) {
        stack_t ss = {.ss_sp = stack, .ss_size = alt, .ss_flags = 0};
        sigaltstack(&ss, NULL);
    }
    for (unsigned i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        struct sigaction old;
        if (sigaction(fatal_signals[i], NULL, &old) != 0) continue;
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL) continue; /* the program's */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigfillset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

/* ---- fork */

static int fork_was; /* what the hooks recorded before fork() paused them */

/* fork() copies only the forking thread: a lock another thread holds at that moment stays held
 * in the child forever. So the hooks are paused and the threads inside one are waited for
 * (none is then inside libunwind, which may hold the loader's lock), and the engine's locks are
 * taken, all released on both sides afterwards. */
static void fork_prepare(void)
{
    mt__tls.busy++; /* allocations of other fork handlers must not wait for our locks */
    mt__api_lock(); /* first: a snapshot in progress takes engine locks after it */
    fork_was = mt__tracker_switch(MT_TRACK_PAUSED);
    if (tr.engine) mt__engine_fork_prepare(tr.engine);
}

static void fork_parent(void)
{
    if (tr.engine) mt__engine_fork_release(tr.engine);
    mt__tracker_switch(fork_was);
    mt__api_unlock();
    mt__tls.busy--;
}

static void fork_child(void)
{
    if (tr.engine) {
        mt__engine_fork_release(tr.engine);
        mt__engine_after_fork_child(tr.engine, mt__tls.thread);
    }
    tr.parent_pid = tr.pid;
    tr.pid = (uint64_t)getpid();
    tr.flags |= MT_META_FORKED;
    mt__fence_needed = !mt__os_membarrier_register(); /* a new process registers anew */
    /* The child writes its own capture: a name without the pid gets one appended. */
    if (!strstr(tr.pattern, "%p")) append(tr.pattern, PATH_CAP, ".%p");
    mt__background_after_fork_child();
    mt__callbacks_after_fork_child();
    mt__tracker_switch(fork_was);
    mt__api_unlock();
    mt__tls.busy--;
}

/* ---- start */

int mt__tracker_setup(void)
{
    static mt_lock_t lock = MT_LOCK_INIT;
    static int result = 1; /* 1: not tried yet */
    mt_lock(&lock, UINT32_MAX - 8);
    if (result == 1) {
        mt__tls.busy++;
        mt_config_t cfg;
        result = -1;
        if (read_config(&cfg) == 0) {
            tr.pid = (uint64_t)getpid();
            tr.cmdline = read_proc("/proc/self/cmdline", &tr.cmdline_len);
            if (tr.cmdline_len && tr.cmdline[tr.cmdline_len - 1] == '\0') tr.cmdline_len--;
            mt__unwind_init();
            mt__fence_needed = !mt__os_membarrier_register();
            tr.engine = mt__engine_create(&cfg);
            if (!tr.engine) say("no memory for the tracker; not tracking", NULL, NULL);
        }
        if (tr.engine) {
            pthread_key_create(&tr.key, thread_ended);
            pthread_atfork(fork_prepare, fork_parent, fork_child);
            /* libmemtrack.so leaves a capture at the end only when asked for one. */
            if (mt__autostart || getenv("MEMTRACK_OUTPUT")) {
                exit_hooked = on_exit(at_exit, NULL) == 0;
                install_signal_handlers();
            } else {
                exit_hooked = 1;
            }
            mt__modules_refresh();
            result = 0;
        }
        mt__tls.busy--;
    }
    mt_unlock(&lock);
    return result;
}

void mt__tracker_init(void)
{
    static _Atomic int started;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&started, &expected, 1)) return;
    if (!mt__autostart) return; /* libmemtrack.so: memtrack_start() does the rest */
    if (mt__tracker_setup() == 0) mt_store_release(&mt__tracking, MT_TRACK_ON);
    mt__tls.busy++;
    forget_preload();
    mt__tls.busy--;
}

__attribute__((constructor)) static void at_load(void)
{
    mt__preload_resolve(); /* usually done already by the first malloc */
    /* Threads are started here, not in the first malloc, which may come before libc is ready. */
    if (mt__autostart && tr.engine) mt__background_start();
}

/* ---- exits that skip the destructors, and exec */

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

MT_EXPORT void _exit(int status)
{
    mt__tracker_finish(MT_END_QUICK, status);
    REAL(_exit)(status);
    __builtin_unreachable();
}

MT_EXPORT void _Exit(int status)
{
    mt__tracker_finish(MT_END_QUICK, status);
    REAL(_Exit)(status);
    __builtin_unreachable();
}

MT_EXPORT void quick_exit(int status)
{
    mt__tracker_finish(MT_END_QUICK, status);
    REAL(quick_exit)(status);
    __builtin_unreachable();
}

/* exec replaces the image: its capture is written first. If exec fails, tracking resumes and
 * the capture is written again at the end. glibc's own exec functions call each other
 * directly, not through the PLT, so every public one is wrapped. */
static void before_exec(void)
{
    mt__tracker_finish(MT_END_EXEC, 0);
}

static int exec_failed(int r)
{
    int saved = errno;
    if (tr.engine) {
        mt_store_relaxed(&tr.done, 0); /* relaxed: this thread is the only one that cares */
        mt_store_relaxed(&tr.closing, 0);
        mt__tracker_switch(tr.resume);
    }
    errno = saved;
    return r;
}

#define EXEC_WRAPPER(name, params, args)   \
    MT_EXPORT int name params              \
    {                                      \
        __typeof__(&name) fn = REAL(name); \
        before_exec();                     \
        return exec_failed(fn args);       \
    }

EXEC_WRAPPER(execve, (const char *path, char *const argv[], char *const envp[]), (path, argv, envp))
EXEC_WRAPPER(execv, (const char *path, char *const argv[]), (path, argv))
EXEC_WRAPPER(execvp, (const char *file, char *const argv[]), (file, argv))
EXEC_WRAPPER(execvpe, (const char *file, char *const argv[], char *const envp[]),
             (file, argv, envp))
EXEC_WRAPPER(fexecve, (int fd, char *const argv[], char *const envp[]), (fd, argv, envp))

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
