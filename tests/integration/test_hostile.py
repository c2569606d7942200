"""Hostile conditions (issue 7, item 4) not covered elsewhere (test_termination.py has exit()
from a thread, _exit and fatal signals; test_fork*.py fork; test_dlopen.py dlclose): 64 threads
freeing each other's blocks, a program that closes every descriptor, changes directory,
handles SIGSEGV itself or mallocs in a signal handler, an address-space limit that starves the
tracker, a full disk, posix_spawn and vfork. tests/programs/hostile.c is the program; most of
its modes leak 3 blocks of 100 bytes from leak_three first."""

import os
import signal
import subprocess
import tempfile
import unittest

from mtutil import (MEMTRACK, MemtrackCase, brief, excerpt, kv, program, run_proc,
                    run_proc_env)

PRELOAD = os.path.join(os.path.dirname(MEMTRACK), "libmemtrack_preload.so")
THREE = {"allocations": 3, "frees": 0, "allocated_bytes": 300, "live_blocks": 3,
         "live_bytes": 300, "unknown_frees": 0}


class Hostile(MemtrackCase):

    def run_hostile(self, args, rc=0, opts=(), cwd=None):
        res = self.run_memtrack("hostile", args, opts, expect_rc=rc, cwd=cwd)
        return res, self.load(self.only_capture(res, "hostile"))

    def test_64_threads_free_each_others_blocks(self):
        # Each of 64 threads allocates n blocks and frees the n blocks the previous thread
        # allocated, all at once (hostile.c: churn), then leaks one block from leak_one.
        n = 30000
        _, data = self.run_hostile(["threads64", str(n)])

        def size(t, i):
            return 16 + (7 * t + i) % 100

        expected = []
        for t in range(64):
            prev = (t + 63) % 64
            made = sum(size(t, i) for i in range(n))
            freed = sum(size(prev, i) for i in range(n))
            expected.append((n + 1, made + 8 * (t + 1), n, freed, 1, 8 * (t + 1)))
        keys = ("allocations", "allocated_bytes", "frees", "freed_bytes", "live_blocks",
                "live_bytes")
        workers = [tuple(th[k] for k in keys) for th in data["threads"]
                   if th["allocations"] >= n]
        self.assertEqual(sorted(workers), sorted(expected), excerpt(data["threads"]))
        self.assertLeak(data, "leak_one", 64, 8 * 64 * 65 // 2)
        self.assertNoLeak(data, "churn")
        self.assertEqual(data["totals"]["unknown_frees"], 0)

    def test_program_closes_every_descriptor(self):
        res, data = self.run_hostile(["closefds", "6"], rc=6)
        self.assertEqual(data["end"], {"reason": "exit", "value": 6})
        self.assertTotals(data, THREE)
        self.assertLeak(data, "leak_three", 3, 300)

    def test_relative_output_after_chdir(self):
        # The capture goes where the user asked when the program started, wherever it went.
        elsewhere = self.tempdir()
        for opts in (["-o", "rel.mtc"], []):
            with self.subTest(opts=opts):
                d = self.tempdir()
                res = self.run_memtrack("hostile", ["chdir", elsewhere], opts, cwd=d)
                pid = kv(res.stdout, "pid")
                name = "rel.mtc" if opts else "memtrack.hostile.%d.mtc" % pid
                self.assertEqual(os.listdir(d), [name], res.describe())
                self.assertTotals(self.load(os.path.join(d, name)), THREE)
        self.assertEqual(os.listdir(elsewhere), [])

    def test_relative_memtrack_output_after_chdir(self):
        d, elsewhere = self.tempdir(), self.tempdir()
        proc = run_proc_env([program("hostile"), "chdir", elsewhere],
                            {"LD_PRELOAD": PRELOAD, "MEMTRACK_OUTPUT": "sub.mtc",
                             "MEMTRACK_MODE": None, "MEMTRACK_DEPTH": None}, cwd=d)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(os.listdir(d), ["sub.mtc"])
        self.assertEqual(os.listdir(elsewhere), [])
        self.assertTotals(self.load(os.path.join(d, "sub.mtc")), THREE)

    def test_own_sigsegv_handler_recovers(self):
        # The program's handler, installed after memtrack's, gets the fault; the program goes
        # on and exits normally.
        res, data = self.run_hostile(["segv_recover"])
        self.assertIn("recovered 1\n", res.stdout)
        self.assertNotIn("not_reached", res.stdout)
        self.assertEqual(data["end"], {"reason": "exit", "value": 0})
        self.assertTotals(data, THREE)

    def test_own_sigsegv_handler_exits(self):
        _, data = self.run_hostile(["segv_exit", "3"], rc=3)
        self.assertEqual(data["end"], {"reason": "_exit", "value": 3})
        self.assertTotals(data, THREE)

    def test_handlers_look_default(self):
        # The program sees SIG_DFL where memtrack's handler is (as it would without memtrack),
        # and setting SIG_DFL keeps the capture on that signal.
        plain = run_proc([program("hostile"), "sigdfl"])
        self.assertEqual(plain.returncode, -signal.SIGTERM)
        res, data = self.run_hostile(["sigdfl"], rc=-signal.SIGTERM)
        self.assertEqual(kv(plain.stdout, "int_default"), 1)
        self.assertEqual(kv(res.stdout, "int_default"), 1)
        self.assertEqual(data["end"], {"reason": "signal", "value": int(signal.SIGTERM)})
        self.assertTotals(data, THREE)

    def test_malloc_in_signal_handler(self):
        # A timer signal every 200 us mallocs and frees 4000 bytes in its handler while the main
        # thread mallocs and frees 48 bytes. A handler that interrupts a hook allocates
        # untracked (the hook's re-entry guard) and frees untracked, so k of its calls are
        # recorded, 0 <= k <= calls; the figures are exact given k.
        res, data = self.run_hostile(["signal_malloc", "200000"])
        pairs, calls = kv(res.stdout, "pairs"), kv(res.stdout, "handler_calls")
        t = data["totals"]
        k = t["allocations"] - pairs - 3
        self.assertGreaterEqual(k, 0, excerpt(brief(data)))
        self.assertLessEqual(k, calls, excerpt(brief(data)))
        self.assertTotals(data, {"allocations": pairs + 3 + k, "frees": pairs + k,
                                 "allocated_bytes": 48 * pairs + 300 + 4000 * k,
                                 "freed_bytes": 48 * pairs + 4000 * k, "live_blocks": 3,
                                 "live_bytes": 300, "unknown_frees": 0})
        self.assertLeak(data, "leak_three", 3, 300)

    def test_address_space_limit_starves_the_tracker(self):
        # hostile.c `rlimit`: 8 MiB of its own heap kept, then RLIMIT_AS at what is mapped plus
        # 256 KiB: its 200000 blocks of 16 bytes fit in its heap, the tracker's tables do not.
        # The program runs on unchanged; the capture says it is degraded.
        plain = run_proc([program("hostile"), "rlimit", "200000"])
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertIn("kept 200000\n", plain.stdout)
        for mode in ("full", "count"):
            with self.subTest(mode=mode):
                res = self.run_memtrack("hostile", ["rlimit", "200000"], ["--mode", mode])
                self.assertIn("kept 200000\n", res.stdout)
                data = self.load(self.only_capture(res, "hostile"), check=False)
                self.assertIs(data["degraded"], True, excerpt(brief(data)))
                self.assertGreater(data["dropped_events"], 0)
                self.assertEqual(data["end"], {"reason": "exit", "value": 0})
                self.assertEqual(res.stderr.splitlines()[1:], [
                    "memtrack: warning: tracking was degraded (memtrack ran short of memory and "
                    "dropped %d events); the figures are incomplete" % data["dropped_events"]],
                    res.describe())

    def test_full_disk(self):
        # A 16 KiB tmpfs, filled up before the program runs: the capture cannot be written, the
        # program's stderr says so, its exit status is unchanged, and no piece is left behind.
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        d = self.tempdir()
        mnt = os.path.join(d, "full")
        os.mkdir(mnt)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt],
                               capture_output=True, text=True)
        if mount.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + mount.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        with open(os.path.join(mnt, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        out = os.path.join(mnt, "cap.mtc")
        res = self.run_memtrack("hostile", ["exit", "4"], ["-o", out], expect_rc=4, cwd=d)
        self.assertEqual(res.stderr.splitlines()[0],
                         "memtrack: could not write the capture %s: no space left on device"
                         % out, res.describe())
        self.assertEqual(os.listdir(mnt), ["filler"])

    def test_posix_spawn_and_vfork(self):
        # The children run untracked with their own exit statuses; the parent's capture is its
        # own: a vfork child's exec must neither end nor stop the parent's tracking.
        res = self.run_memtrack("hostile", ["spawn", program("hostile")])
        self.assertEqual(kv(res.stdout, "spawn_status"), 7)
        self.assertEqual(kv(res.stdout, "vfork_status"), 5)
        data = self.load(self.only_capture(res, "hostile"))
        self.assertEqual(data["end"], {"reason": "exit", "value": 0})
        self.assertTotals(data, {"allocations": 5, "frees": 0, "allocated_bytes": 400,
                                 "live_blocks": 5, "live_bytes": 400, "unknown_frees": 0})
        self.assertLeak(data, "leak_three", 3, 300)
        self.assertLeak(data, "leak_after", 2, 100)


if __name__ == "__main__":
    unittest.main()
