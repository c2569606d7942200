/* In libmemtrack.so, which programs link with -lmemtrack, tracking waits for memtrack_start(). */
#include "native/native.h"

const int mt__autostart = 0;
