/* A program linked with -lmemtrack that starts the tracker (tests/integration/test_security.py):
 * prints what memtrack_start() returned, then leaks 3 blocks of 100 bytes. With MEMTRACK_OUTPUT
 * set, libmemtrack.so writes a capture at exit, unless the program is set-user-ID. */
#include <stdlib.h>

#include <memtrack.h>

#include "progout.h"

static void *volatile sink;

int main(void)
{
    put("start", memtrack_start());
    for (int i = 0; i < 3; i++)
        sink = malloc(100);
    put("running", memtrack_running());
    return 0;
}
