/* The tracker's life in the process: configuration from the environment, the engine, thread
 * registration, and the final capture — after exit (from any thread), _exit, quick_exit, a
 * fatal signal or exec (exec.c) — plus fork, whose child goes on with a capture of its own. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "capture/format.h"
#include "core/arena.h"
#include "core/os.h"
#include "native/config.h"
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
    int signals_hooked;  /* fatal signals leave a capture: threads get alternate stacks */
} tr;

static void say(const char *a, const char *b, const char *c)
{
    /* Messages go straight to stderr with write(2): no stdio inside the tracked process. */
    const char *parts[] = {"memtrack: ", a, b, c, "\n"};
    for (unsigned i = 0; i < 5; i++)
        if (parts[i]) (void)!write(2, parts[i], strlen(parts[i]));
}

/* "memtrack: VAR='VALUE' WHY; not tracking" */
static void say4(const char *var, const char *value, const char *why)
{
    const char *parts[] = {"memtrack: ", var, "='", value, "' ", why, "; not tracking\n"};
    for (unsigned i = 0; i < 7; i++)
        (void)!write(2, parts[i], strlen(parts[i]));
}

mt_engine_t *mt__tracker_engine(void)
{
    return tr.engine;
}

/* ---- configuration */

/* The capture path: the pattern with every %p replaced by the pid, followed by ".N" for the
 * Nth image exec'd in this process when following children (exec.c). */
int mt__tracker_output_path(char *out, size_t cap)
{
    char pid[48];
    char *end = mt__os_fmt_u64(pid, (uint64_t)getpid());
    unsigned gen = mt__follow_generation();
    if (gen) {
        *end++ = '.';
        mt__os_fmt_u64(end, gen);
    }
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

/* The mode chosen through the C API before the tracker was set up (memtrack_set_mode): it
 * overrides MEMTRACK_MODE. */
static struct {
    bool set;
    mt_mode_t mode;
    uint64_t sample_mean;
} preset;

static mt_lock_t setup_lock = MT_LOCK_INIT;
static int setup_result = 1; /* 1: not tried yet; else what mt__tracker_setup returns */

int mt__tracker_preset_mode(int mode, uint64_t sample_mean)
{
    mt_lock(&setup_lock, UINT32_MAX - 8);
    int r = setup_result == 1 ? 0 : -1;
    if (r == 0) {
        preset.set = true;
        preset.mode = (mt_mode_t)mode;
        preset.sample_mean = sample_mean ? sample_mean : MT_SAMPLE_MEAN_DEFAULT;
    }
    mt_unlock(&setup_lock);
    return r;
}

int mt__tracker_mode(void)
{
    return tr.engine ? (int)tr.engine->config.mode : -1;
}

static int read_config(mt_config_t *cfg)
{
    mt_env_t env = {
        .mode = preset.set ? NULL : getenv("MEMTRACK_MODE"),
        .seed = getenv("MEMTRACK_SEED"),
        .depth = getenv("MEMTRACK_DEPTH"),
        .output = getenv("MEMTRACK_OUTPUT"),
        .unwind = getenv("MEMTRACK_UNWIND"),
    };
    char cwd[PATH_CAP];
    mt_env_error_t err;
    if (mt__config_parse(&env, getcwd(cwd, sizeof(cwd)), program_invocation_short_name, cfg,
                         tr.pattern, sizeof(tr.pattern), &err) != 0) {
        say4(err.var, err.value, err.why);
        return -1;
    }
    if (preset.set) {
        cfg->mode = preset.mode;
        cfg->sample_mean = preset.sample_mean;
    }
    /* Without MEMTRACK_SEED each run draws its own samples. */
    if (!cfg->seed) cfg->seed = mt__os_ticks() ^ ((uint64_t)getpid() << 32) ^ mt__os_now_ns();
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

/* Children the program starts with exec are not tracked unless asked (--follow-children, see
 * exec.c): take this library out of LD_PRELOAD, in place, before anyone copies environ. */
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

/* Fatal signals are handled on an alternate stack, so that a thread whose stack overflowed
 * still leaves a capture. Mapped lazily by the kernel: only what the handler uses is memory. */
#define ALTSTACK_SIZE (256 * 1024)

/* Gives the calling thread an alternate signal stack unless it has one (its own, say); returns
 * it, to unmap when the thread ends, or NULL. */
static void *give_altstack(void)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE)) return NULL;
    void *stack = mt__os_map(ALTSTACK_SIZE);
    if (!stack) return NULL;
    stack_t ss = {.ss_sp = stack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) == 0) return stack;
    mt__os_unmap(stack, ALTSTACK_SIZE);
    return NULL;
}

static void take_altstack(void)
{
    if (!mt__tls.altstack) return;
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    if (sigaltstack(&ss, NULL) == 0) mt__os_unmap(mt__tls.altstack, ALTSTACK_SIZE);
    mt__tls.altstack = NULL;
}

static void thread_ended(void *arg)
{
    mt_thread_t *t = arg;
    take_altstack();
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
    if (tr.signals_hooked && !mt__tls.altstack) mt__tls.altstack = give_altstack();
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
        .flags = tr.flags | (mt__unwind_used_fp() ? MT_META_FPUNWIND : 0),
        .program = tr.program,
        .cmdline = tr.cmdline,
        .cmdline_len = tr.cmdline_len,
        .modules = mt__modules_write,
        .self = mt__tls.thread,
    };
    int err = mt__capture_write(tr.engine, path, &info);
    if (err && !given)
        say("could not write the capture ", path,
            err == ENOSPC   ? ": no space left on device"
            : err == ELOOP  ? ": a symbolic link is there (memtrack does not follow or replace one)"
            : err == EEXIST ? ": something other than a regular file is there"
                            : ": write failed");
    return err;
}

bool mt__tracker_finished(void)
{
    return mt_load_acquire(&tr.closing) != 0;
}

/* The writer's half of enter()'s ordering (preload.c): after this, a thread's active flag is
 * up if it entered a hook before the caller's last store, and one that enters a hook later
 * sees that store. */
static void barrier_all_threads(void)
{
    if (mt__fence_needed)
        atomic_thread_fence(memory_order_seq_cst);
    else
        mt__os_membarrier();
}

bool mt__tracker_grace(uint64_t max_ns)
{
    if (!tr.engine) return true; /* no thread has entered a hook: they need the engine */
    barrier_all_threads();
    return mt__engine_quiesce(tr.engine, NULL, max_ns);
}

#define QUIESCE_NS       (200u * 1000u * 1000u)
#define QUIESCE_ROUND_NS (2u * 1000u * 1000u)

/* Waits up to QUIESCE_NS for the threads inside a hook to leave, after the switch from `old` to
 * `state`. A thread inside one may be waiting for the loader's lock (libunwind calls
 * dl_iterate_phdr) while the thread holding it waits at a paused hook: dlopen and dlclose
 * allocate and free under it. While that lock is held, a pause is lifted for a moment now and
 * then, so that both go on; what they record is before the moment the caller waits for. */
static bool quiesce(int state, int old)
{
    uint64_t deadline = mt__os_now_ns() + QUIESCE_NS;
    for (;;) {
        if (mt__engine_quiesce(tr.engine, mt__tls.thread, QUIESCE_ROUND_NS)) return true;
        if (mt__os_now_ns() > deadline) return false;
        if (state == MT_TRACK_PAUSED && old != MT_TRACK_PAUSED && mt__loader_lock_held()) {
            atomic_store(&mt__tracking, old);
            mt__os_yield();
            atomic_store(&mt__tracking, state);
            barrier_all_threads();
        }
    }
}

int mt__tracker_switch(int state)
{
    int old = atomic_exchange(&mt__tracking, state);
    if (state == MT_TRACK_OFF || state == MT_TRACK_PAUSED) {
        /* Wait for threads still inside a hook, so that what follows (a capture, a clear)
         * sees one consistent moment: the store above, then a barrier on every thread, then
         * the threads' active flags (see enter() in preload.c). */
        barrier_all_threads();
        if (tr.engine && !quiesce(state, old))
            say("other threads did not leave the tracker in time; figures may be inexact", NULL,
                NULL);
    }
    return old;
}

/* False in a child of vfork() (or of a clone() sharing memory), which runs on the parent's
 * memory until it execs or exits: fork handlers did not run for it, so tr.pid is the
 * parent's. */
static bool own_process(void)
{
    return (uint64_t)getpid() == tr.pid;
}

void mt__tracker_finish(uint32_t reason, int32_t value)
{
    int expected = 0;
    /* Nothing of a vfork child is ours to write, and switching tracking off there would
     * switch it off in the parent. */
    if (!tr.engine || !own_process()) return;
    if (!atomic_compare_exchange_strong(&tr.done, &expected, 1)) return;
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

/* The C library's sigaction, for memtrack's own use (the exported one below is the program's). */
static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    static int (*_Atomic fn)(int, const struct sigaction *, struct sigaction *);
    /* Relaxed: every thread that resolves it stores the same pointer. */
    int (*f)(int, const struct sigaction *, struct sigaction *) = mt_load_relaxed(&fn);
    if (!f) {
        f = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT,
                                                                              "sigaction");
        mt_store_relaxed(&fn, f);
    }
    return f(sig, act, old);
}

static void on_fatal_signal(int sig, siginfo_t *si, void *uc);

static bool is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fatal_signal;
}

/* Where memtrack's fatal-signal handler is installed the program sees the default action, as
 * it would without memtrack: some programs decide by it (Python installs the handler that
 * raises KeyboardInterrupt on SIGINT only over SIG_DFL, Ruby its Interrupt likewise). Setting
 * SIG_DFL there keeps memtrack's handler, which ends the same way once the capture is written;
 * any other action replaces it. */
MT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct sigaction cur;
    if (real_sigaction(sig, NULL, &cur) != 0 || !is_ours(&cur))
        return real_sigaction(sig, act, old);
    if (act && ((act->sa_flags & SA_SIGINFO) || act->sa_handler != SIG_DFL) &&
        real_sigaction(sig, act, NULL) != 0)
        return -1;
    if (old) {
        memset(old, 0, sizeof(*old));
        old->sa_handler = SIG_DFL;
    }
    return 0;
}

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
    real_sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void install_signal_handlers(void)
{
    /* This (usually the main) thread's alternate stack; other threads get theirs when they
     * first allocate (mt__tracker_thread). */
    if (!mt__tls.altstack) mt__tls.altstack = give_altstack();
    tr.signals_hooked = 1;
    for (unsigned i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        struct sigaction old;
        if (real_sigaction(fatal_signals[i], NULL, &old) != 0) continue;
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL) continue; /* the program's */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigfillset(&sa.sa_mask);
        real_sigaction(fatal_signals[i], &sa, NULL);
    }
}

/* A name without the pid gets ".%p", so that another process never writes over this one's
 * capture (mt__config_parse left room for it). */
static void add_pid_suffix(void)
{
    size_t n = strlen(tr.pattern);
    if (!strstr(tr.pattern, "%p") && n + 3 < sizeof(tr.pattern)) memcpy(tr.pattern + n, ".%p", 4);
}

/* ---- fork */

static int fork_was; /* what the hooks recorded before fork() paused them */

/* How long fork() waits for another thread to release the loader's lock; past it, the child
 * resets the lock anyway (mt__loader_after_fork_child). */
#define LOADER_WAIT_NS (1000u * 1000u * 1000u)

/* fork() copies only the forking thread: a lock another thread holds at that moment stays held
 * in the child forever. So the hooks are paused and the threads inside one are waited for
 * (none is then inside libunwind, which may hold the loader's lock), no refresh of the module
 * map is under way (modules.c), and the loader's write lock and the engine's locks are taken,
 * all released on both sides afterwards. */
static void fork_prepare(void)
{
    mt__tls.busy++; /* allocations of other fork handlers must not wait for our locks */
    mt__api_lock(); /* first: a snapshot in progress takes engine locks after it */
    /* No thread of ours is then inside dl_iterate_phdr. Before the pause: a refresh may wait
     * there for the loader's lock, which a dlopen or dlclose holds across a malloc or free. */
    mt__modules_fork_prepare();
    mt__fp_fork_prepare(); /* also before the engine's: a refresh takes the arena's lock */
    fork_was = mt__tracker_switch(MT_TRACK_PAUSED);
    /* The loader's lock, last: a thread waiting at a paused hook may hold it (dlopen and dlclose
     * allocate and free under it), so the pause is lifted until that thread lets it go. */
    uint64_t deadline = mt__os_now_ns() + LOADER_WAIT_NS;
    while (!mt__loader_fork_trylock() && mt__os_now_ns() < deadline) {
        mt__tracker_switch(fork_was);
        mt__os_yield();
        mt__tracker_switch(MT_TRACK_PAUSED);
    }
    if (tr.engine) mt__engine_fork_prepare(tr.engine);
}

static void fork_parent(void)
{
    if (tr.engine) mt__engine_fork_release(tr.engine);
    mt__loader_fork_unlock();
    mt__fp_fork_release();
    mt__tracker_switch(fork_was);
    mt__api_unlock();
    mt__modules_fork_release();
    mt__tls.busy--;
}

static void fork_child(void)
{
    mt__loader_after_fork_child(); /* first: what follows may call dl_iterate_phdr */
    if (tr.engine) {
        mt__engine_fork_release(tr.engine);
        mt__engine_after_fork_child(tr.engine, mt__tls.thread);
    }
    mt__fp_fork_release();
    tr.parent_pid = tr.pid;
    tr.pid = (uint64_t)getpid();
    tr.flags |= MT_META_FORKED;
    mt__follow_after_fork_child();
    mt__fence_needed = !mt__os_membarrier_register(); /* a new process registers anew */
    /* The child writes its own capture: a name without the pid gets one appended. */
    add_pid_suffix();
    mt__background_after_fork_child();
    mt__callbacks_after_fork_child();
    mt__tracker_switch(fork_was);
    mt__api_unlock();
    mt__modules_fork_release();
    mt__tls.busy--;
}

/* ---- start */

int mt__tracker_setup(void)
{
    mt_lock(&setup_lock, UINT32_MAX - 8);
    if (setup_result == 1) {
        mt__tls.busy++;
        mt_config_t cfg;
        setup_result = -1;
        /* A set-user-ID or set-group-ID program (AT_SECURE) is never traced: its environment
         * belongs to a less privileged user, who must not choose where it writes files. */
        if (getauxval(AT_SECURE)) {
            setup_result = -2;
        } else if (read_config(&cfg) == 0) {
            tr.pid = (uint64_t)getpid();
            if (mt__autostart) mt__follow_init(tr.pattern);
            if (mt__follow_followed()) {
                /* Started by a tracked process: say so, and never share its capture's name. */
                tr.flags |= MT_META_FOLLOWED;
                tr.parent_pid = (uint64_t)getppid();
                add_pid_suffix();
            }
            tr.cmdline = read_proc("/proc/self/cmdline", &tr.cmdline_len);
            if (tr.cmdline_len && tr.cmdline[tr.cmdline_len - 1] == '\0') tr.cmdline_len--;
            mt__unwind_init(mt__config_unwind(getenv("MEMTRACK_UNWIND")) == 1);
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
            mt__loader_find_lock(); /* early, for a fork soon after the start */
            setup_result = 0;
        }
        mt__tls.busy--;
    }
    int result = setup_result;
    mt_unlock(&setup_lock);
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
    if (!mt__follow_on()) forget_preload();
    mt__tls.busy--;
}

__attribute__((constructor)) static void at_load(void)
{
    mt__preload_resolve(); /* usually done already by the first malloc */
    /* Threads are started here, not in the first malloc, which may come before libc is ready. */
    if (mt__autostart && tr.engine) mt__background_start();
}

/* ---- exits that skip the destructors */

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

void mt__tracker_resume(void)
{
    if (!tr.engine || !own_process()) return;
    mt_store_relaxed(&tr.done, 0); /* relaxed: this thread is the only one that cares */
    mt_store_relaxed(&tr.closing, 0);
    mt__tracker_switch(tr.resume);
}
