/* In the library `memtrack run` preloads, tracking starts with the process. */
#include "native/native.h"

const int mt__autostart = 1;
