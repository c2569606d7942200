/* fork() while another thread loads and unloads libraries and two more allocate, some through
 * the loaded library. fork() copies every lock as it is, and glibc resets only some of them in
 * the child: one the loader takes in dl_iterate_phdr, which a child under memtrack calls
 * (libunwind meeting a new frame, the module map at the end), stays held for ever if another
 * thread held it (src/native/modules.c). Each child leaks CHILD_BLOCKS blocks of 100 bytes from
 * child_leak and ends with _exit(0); the parent gives each 10 s, then kills it, counts it as hung
 * and forks no more. argv: fp_plugin.so nofp_plugin.so FORKS. Prints pid, forks, hung, badstatus
 * (and firstbad, the first bad wait status).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progout.h"

#define CHILD_BLOCKS 3
#define WAIT_MS      10000

static const char *libs[2];
static atomic_int stop;
static pthread_mutex_t lib_mutex = PTHREAD_MUTEX_INITIALIZER;
static void *lib; /* the library loaded now, under lib_mutex */

static void *reloader(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&stop); i++) {
        void *h = dlopen(libs[i % 2], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            put_str("dlerror", dlerror());
            _exit(4);
        }
        pthread_mutex_lock(&lib_mutex);
        void *old = lib;
        lib = h;
        pthread_mutex_unlock(&lib_mutex);
        if (old != NULL) dlclose(old);
    }
    return NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    void *blocks[64] = {0};
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        free(blocks[i % 64]);
        blocks[i % 64] = malloc(16 + i % 500);
        if (i % 128 == 0) {
            pthread_mutex_lock(&lib_mutex);
            void (*plugin)(int) = lib ? (void (*)(int))dlsym(lib, "fp_plugin_alloc") : NULL;
            if (plugin != NULL) plugin(1);
            pthread_mutex_unlock(&lib_mutex);
        }
    }
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    return NULL;
}

__attribute__((noinline)) static void child_leak(void)
{
    for (int i = 0; i < CHILD_BLOCKS; i++) {
        void *volatile p = malloc(100);
        (void)p; /* leaked */
    }
}

static int first_bad = -1; /* the wait status of the first child that ended otherwise */

/* 1 when the child ended with status 0, 0 with another status, -1 when it was killed. */
static int reap(pid_t pid)
{
    int status;
    for (int ms = 0; ms < WAIT_MS; ms++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
            if (first_bad < 0) first_bad = status;
            return 0;
        }
        struct timespec t = {0, 1000 * 1000};
        nanosleep(&t, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    libs[0] = argv[1];
    libs[1] = argv[2];
    int forks = atoi(argv[3]), hung = 0, bad = 0;
    put("pid", getpid());
    pthread_t threads[3];
    pthread_create(&threads[0], NULL, reloader, NULL);
    for (int i = 1; i < 3; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid < 0) return 3;
        if (pid == 0) {
            child_leak();
            _exit(0);
        }
        int r = reap(pid);
        bad += r == 0;
        if (r < 0) {
            hung = 1;
            forks = i + 1;
            break;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    if (lib != NULL) dlclose(lib);
    put("forks", forks);
    put("hung", hung);
    put("badstatus", bad);
    if (bad) put("firstbad", first_bad);
    return hung || bad ? 1 : 0;
}
