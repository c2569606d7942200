/* memtrack's background thread, "memtrack-bg": it samples the timeline (live bytes, live
 * blocks, resident memory) at the timeline's rate, and writes snapshots on a signal, for a
 * program that knows nothing of memtrack: `memtrack snapshot PID` (or the user's
 * `kill -SIG PID`) sends the signal chosen with MEMTRACK_SNAPSHOT_SIGNAL. A signal handler
 * cannot write a capture (the thread it interrupts may be inside malloc or the tracker), so it
 * only writes a byte to a pipe, which wakes the thread; the snapshot goes next to the final
 * capture: NAME.snapN.mtc for a capture NAME.mtc. Nothing of this runs on the allocation
 * path. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "native/config.h"
#include "native/native.h"

static int pipe_fds[2] = {-1, -1};
static ino_t pipe_ino; /* the pipe's identity: a program may close our descriptors and reuse them */

/* Makes the pipe, its ends moved high (out of the way of programs that expect small numbers). */
static int make_pipe(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        pipe_fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 512);
        if (pipe_fds[i] < 0)
            pipe_fds[i] = fds[i];
        else
            close(fds[i]);
    }
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK); /* two readers may race: neither may block */
    fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
    struct stat st;
    pipe_ino = fstat(pipe_fds[1], &st) == 0 ? st.st_ino : 0;
    return 0;
}

static void *background(void *arg);

static void on_snapshot_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char byte = 1;
    struct stat st; /* fstat and write are async-signal-safe */
    if (fstat(pipe_fds[1], &st) == 0 && S_ISFIFO(st.st_mode) && st.st_ino == pipe_ino)
        (void)!write(pipe_fds[1], &byte, 1); /* a full pipe already has a request pending */
    errno = saved;
}

/* The snapshot path from the capture path: NAME.mtc -> NAME.snapN.mtc, else NAME.snapN. */
static void snapshot_path(char *out, size_t cap, unsigned n)
{
    char base[4096];
    if (mt__tracker_output_path(base, sizeof(base)) != 0) {
        out[0] = '\0';
        return;
    }
    size_t len = strlen(base);
    int ext = len > 4 && strcmp(base + len - 4, ".mtc") == 0;
    if (ext) base[len - 4] = '\0';
    snprintf(out, cap, "%s.snap%u%s", base, n, ext ? ".mtc" : "");
}

/* Resident memory from /proc/self/statm (its second field, in pages); 0 when unreadable. */
static uint64_t rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *p = strchr(buf, ' ');
    return p ? strtoull(p + 1, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

void mt__background_sample(bool force)
{
    mt_engine_t *e = mt__tracker_engine();
    /* Relaxed: a sample taken as tracking changes state is harmless. */
    if (e && mt_load_relaxed(&mt__tracking) != MT_TRACK_OFF)
        mt__engine_sample(e, rss_bytes(), force);
}

static unsigned snapshots;        /* written so far, the N of NAME.snapN.mtc: under the lock */
static _Atomic unsigned requests; /* taken from the pipe, not yet written */

/* Moves the requests waiting in the pipe to the counter. */
static void take_requests(void)
{
    char bytes[64];
    ssize_t n;
    while (pipe_fds[0] >= 0 && (n = read(pipe_fds[0], bytes, sizeof bytes)) != 0) {
        if (n > 0) {
            atomic_fetch_add(&requests, (unsigned)n);
            continue;
        }
        if (errno != EINTR && errno != EAGAIN) pipe_fds[0] = -1; /* closed by the program */
        if (errno != EINTR) break;
    }
}

/* Whoever holds the API lock writes the requests (this thread, or the final capture): one
 * taken from the pipe is written whatever happens next. */
void mt__background_pending_snapshots_locked(void)
{
    take_requests();
    for (unsigned n = atomic_exchange(&requests, 0); n > 0; n--) {
        char path[4200];
        snapshot_path(path, sizeof(path), ++snapshots);
        if (path[0]) mt__tracker_snapshot_locked(path);
    }
}

/* Waits for a request at most timeout_ms; writes it. True when one came. */
static bool serve_request(int timeout_ms)
{
    struct pollfd p = {pipe_fds[0], POLLIN, 0};
    if (pipe_fds[0] < 0 || poll(&p, 1, timeout_ms) <= 0) return false;
    take_requests();
    if (mt__tracker_finished()) return true; /* the end writes them */
    mt__background_sample(true);
    mt__api_lock();
    /* The module map is read under the API lock, which fork() takes first: no fork happens
     * while this thread holds the loader's lock (a child would inherit it held). */
    mt__modules_refresh();
    if (!mt__tracker_finished()) mt__background_pending_snapshots_locked();
    mt__api_unlock();
    return true;
}

static void *background(void *arg)
{
    (void)arg;
    mt_engine_t *e = mt__tracker_engine();
    for (;;) {
        mt__loader_find_lock(); /* this thread holds none of the loader's locks */
        /* Relaxed: the interval only grows, and any value read is a fine pace. */
        int ms = e && e->timeline.interval_ns ? (int)(e->timeline.interval_ns / 1000000u) : 10;
        if (pipe_fds[0] < 0 || !serve_request(ms)) {
            if (pipe_fds[0] < 0) {
                struct timespec t = {0, (long)ms * 1000000L};
                nanosleep(&t, NULL);
            }
        }
        mt__background_sample(false);
        mt__fp_refresh_if_asked();
        mt__fp_reclaim(1000 * 1000); /* a thread leaves the hooks within microseconds */
    }
    return NULL;
}

static _Atomic int started;

void mt__background_after_fork_child(void)
{
    /* The thread did not survive the fork, and the pipe is the parent's: a child of its own. */
    if (!started) return;
    if (pipe_fds[0] >= 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        if (make_pipe() != 0) pipe_fds[0] = pipe_fds[1] = -1;
    }
    mt__tracker_start_thread(background, NULL, "memtrack-bg");
}

/* The snapshot signal's pipe and handler, when MEMTRACK_SNAPSHOT_SIGNAL asks for them. */
static int snapshot_signal_init(void)
{
    int sig = mt__config_signal(getenv("MEMTRACK_SNAPSHOT_SIGNAL"));
    if (sig == 0) return 0;
    if (sig < 0) {
        static const char msg[] = "memtrack: MEMTRACK_SNAPSHOT_SIGNAL is not a signal number; "
                                  "no snapshots on a signal\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        return -1;
    }
    if (make_pipe() != 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_snapshot_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

void mt__background_start(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&started, &expected, 1)) return;
    snapshot_signal_init();
    mt__tracker_start_thread(background, NULL, "memtrack-bg");
}
