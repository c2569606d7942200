"""memtrack and valgrind agree on what is live at exit; memtrack's figures for a pseudo-random
mix of malloc/calloc/realloc/free match a replay of the same sequence."""

import re
import shutil
import unittest

from mtutil import TIMEOUT, MemtrackCase, brief, excerpt, program, run_proc

VALGRIND = shutil.which("valgrind")


def valgrind_in_use(prog, args=()):
    """(bytes, blocks) valgrind reports as in use at exit."""
    proc = run_proc(
        [VALGRIND, "--leak-check=full", "--run-libc-freeres=no", "--run-cxx-freeres=no",
         program(prog)] + list(args), timeout=TIMEOUT * 3)
    m = re.search(r"in use at exit: ([\d,]+) bytes in ([\d,]+) blocks", proc.stderr)
    if not m:
        raise AssertionError("no valgrind summary:\n" + proc.stderr[-3000:])
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


def replay_mixed():
    """The figures tests/programs/mixed_leaks.c must produce (same generator, same rules)."""
    state = 12345
    slots = [None] * 1024  # size of the live block in each slot
    t = dict(allocations=0, frees=0, allocated_bytes=0, freed_bytes=0, temporary=0,
             peak_bytes=0, peak_blocks=0)
    live_bytes = live_blocks = 0
    last = None  # the slot allocated most recently (for temporaries)
    serial = 0
    for _ in range(20000):
        state = (state * 6364136223846793005 + 1442695040888963407) & (2 ** 64 - 1)
        r = state >> 33
        s = r % 1024
        size = 1 + (r >> 10) % 5000
        op = (r >> 23) % 4

        def free_slot():
            nonlocal live_bytes, live_blocks, last
            t["frees"] += 1
            t["freed_bytes"] += slots[s][0]
            if last == slots[s][1]:
                t["temporary"] += 1
            live_bytes -= slots[s][0]
            live_blocks -= 1
            slots[s] = None

        def alloc_slot():
            nonlocal live_bytes, live_blocks, last, serial
            serial += 1
            slots[s] = (size, serial)
            last = serial
            t["allocations"] += 1
            t["allocated_bytes"] += size
            live_bytes += size
            live_blocks += 1
            if live_bytes > t["peak_bytes"]:
                t["peak_bytes"], t["peak_blocks"] = live_bytes, live_blocks

        if slots[s] is not None:
            free_slot()
            if op == 0:  # realloc: a free of the old block and an allocation of the new
                alloc_slot()
        else:
            alloc_slot()
    t.update(live_bytes=live_bytes, live_blocks=live_blocks, unknown_frees=0)
    return t


class MixedReplay(MemtrackCase):

    def test_mixed_matches_replay(self):
        _, data = self.run_and_load("mixed_leaks")
        expected = replay_mixed()
        self.assertTotals(data, expected)
        self.assertLeak(data, "churn_slots", expected["live_blocks"], expected["live_bytes"])


@unittest.skipUnless(VALGRIND, "valgrind not installed")
class AgainstValgrind(MemtrackCase):

    def compare(self, prog, args=(), blocks_only=False):
        _, data = self.run_and_load(prog, args)
        vbytes, vblocks = valgrind_in_use(prog, args)
        got = (data["totals"]["live_bytes"], data["totals"]["live_blocks"])
        if blocks_only:
            got, vbytes = (None, got[1]), None
        self.assertEqual(got, (vbytes, vblocks),
                         "%s: memtrack live (bytes, blocks) vs valgrind's in use at exit\n%s" % (
                             prog, excerpt(brief(data))))
        return data

    def test_mixed(self):
        data = self.compare("mixed_leaks")
        expected = replay_mixed()
        self.assertEqual((data["totals"]["live_bytes"], data["totals"]["live_blocks"]),
                         (expected["live_bytes"], expected["live_blocks"]))

    def test_c_leaks(self):
        # valgrind does not replace pvalloc, so that one is left out here
        data = self.compare("leaks_c", ["nopvalloc"])
        self.assertEqual(data["totals"]["live_bytes"], 11318 - 8192)

    def test_cxx_leaks(self):
        # includes what the C++ runtime keeps (libstdc++'s emergency exception pool)
        self.compare("leaks_cpp")

    def test_cxx_runtime_alone(self):
        data = self.compare("leaks_cpp", ["baseline"])
        self.assertGreater(data["totals"]["live_blocks"], 0,
                           "libstdc++'s start-up allocation was not seen\n" +
                           excerpt(brief(data)))

    def test_stdio_program(self):
        self.compare("stdio_prog")

    def test_threads(self):
        # Blocks only: glibc sizes each thread's TLS vector (allocated by pthread_create) by
        # the number of loaded modules with TLS, which memtrack's library changes.
        self.compare("churn", ["full"], blocks_only=True)


if __name__ == "__main__":
    unittest.main()
