/* fork() while another thread writes snapshots and a third churns: every child must run
 * (never waiting on a lock or a pause the parent's threads left behind), write its own
 * capture, and the parent's captures must stay valid. Prints `children_ok N`. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memtrack.h"
#include "progout.h"

#define CHILDREN 40

static volatile int stop;
static const char *snap_dir;

static void *snapper(void *arg)
{
    (void)arg;
    char path[512];
    for (int i = 0; !stop; i++) {
        snprintf(path, sizeof path, "%s/snap.%d.mtc", snap_dir, i % 3);
        memtrack_snapshot(path);
    }
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    while (!stop) {
        void *volatile p = malloc(64);
        free(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    snap_dir = argc > 1 ? argv[1] : ".";
    pthread_t s, c;
    pthread_create(&s, NULL, snapper, NULL);
    pthread_create(&c, NULL, churn, NULL);
    long ok = 0;
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            void *volatile p = malloc(100);
            memtrack_stage_begin("child");
            free(p);
            _exit(7);
        }
        int status;
        waitpid(pid, &status, 0);
        ok += WIFEXITED(status) && WEXITSTATUS(status) == 7;
    }
    stop = 1;
    pthread_join(s, NULL);
    pthread_join(c, NULL);
    put("children_ok", ok);
    return 0;
}
