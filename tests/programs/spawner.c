/* Starts another program (argv[2]) in the way argv[1] says, waits for it, then leaks one block
 * of 77 bytes (spawner_leak) and exits 0. Prints "pid P" and, for each child, "child C".
 *   exec      execv in place (same pid)
 *   spawn     posix_spawn with environ, then posix_spawnp with an environment of its own
 *   system    system("PROGRAM")
 *   forkexec  fork, then execle with an empty environment in the child
 *   vfork     vfork, then execv in the child */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progout.h"

extern char **environ;

__attribute__((noinline)) void spawner_leak(void)
{
    void *volatile p = malloc(77);
    (void)p;
}

static void wait_for(pid_t c)
{
    int status;
    if (c < 0 || waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        _exit(90);
    out_kv("child", (unsigned long)c);
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    const char *how = argv[1], *prog = argv[2];
    char *args[] = {(char *)prog, NULL};
    out_kv("pid", (unsigned long)getpid());
    if (!strcmp(how, "exec")) {
        execv(prog, args);
        return 91;
    } else if (!strcmp(how, "spawn")) {
        pid_t c;
        if (posix_spawn(&c, prog, NULL, NULL, args, environ) != 0) return 92;
        wait_for(c);
        char *env[] = {"ONLY=this", NULL};
        if (posix_spawnp(&c, prog, NULL, NULL, args, env) != 0) return 93;
        wait_for(c);
    } else if (!strcmp(how, "system")) {
        if (system(prog) != 0) return 94;
    } else if (!strcmp(how, "forkexec")) {
        pid_t c = fork();
        if (c == 0) {
            execle(prog, prog, (char *)NULL, (char *[]){NULL});
            _exit(95);
        }
        wait_for(c);
    } else if (!strcmp(how, "vfork")) {
        pid_t c = vfork();
        if (c == 0) {
            execv(prog, args);
            _exit(96);
        }
        wait_for(c);
    } else {
        return 2;
    }
    spawner_leak();
    return 0;
}
