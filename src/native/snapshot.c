/* Snapshots on a signal, for a program that knows nothing of memtrack: `memtrack snapshot PID`
 * (or the user's `kill -SIG PID`) sends the signal chosen with MEMTRACK_SNAPSHOT_SIGNAL. A
 * signal handler cannot write a capture (the thread it interrupts may be inside malloc or the
 * tracker), so it only writes a byte to a pipe; a thread of memtrack's, blocked on the pipe the
 * rest of the time, writes the snapshot as memtrack_snapshot() would, next to the final
 * capture: NAME.snapN.mtc for a capture NAME.mtc. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
    struct stat st;
    pipe_ino = fstat(pipe_fds[1], &st) == 0 ? st.st_ino : 0;
    return 0;
}

static void *snapshot_thread(void *arg);

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

static void *snapshot_thread(void *arg)
{
    (void)arg;
    unsigned n = 0;
    for (;;) {
        char byte;
        ssize_t r = read(pipe_fds[0], &byte, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return NULL;
        char path[4200];
        snapshot_path(path, sizeof(path), ++n);
        if (path[0]) mt__tracker_snapshot(path);
    }
}

void mt__snapshot_after_fork_child(void)
{
    /* The thread did not survive the fork, and the pipe is the parent's: a child of its own. */
    if (pipe_fds[0] < 0) return;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    if (make_pipe() != 0) {
        pipe_fds[0] = pipe_fds[1] = -1;
        return;
    }
    mt__tracker_start_thread(snapshot_thread, NULL, "memtrack-snap");
}

int mt__snapshot_signal_init(void)
{
    const char *v = getenv("MEMTRACK_SNAPSHOT_SIGNAL");
    if (!v || !*v || strcmp(v, "none") == 0) return 0;
    char *end;
    long sig = strtol(v, &end, 10);
    if (*end || sig < 1 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP) {
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
    if (mt__tracker_start_thread(snapshot_thread, NULL, "memtrack-snap") != 0) return -1;
    return sigaction((int)sig, &sa, NULL);
}
