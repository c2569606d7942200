"""Every way a program can end leaves a complete capture: fatal signals (memtrack run dies by
the same signal), exit() from another thread while threads allocate, _exit(), exit codes."""

import signal
import unittest

from mtutil import MemtrackCase, brief, excerpt, kv, leaks_of, program


class Termination(MemtrackCase):
    """tests/programs/crash.c: every mode first leaks 2 x 250 bytes from leak_before_end."""

    def ended(self, args, rc, end):
        res = self.run_memtrack("crash", args, expect_rc=rc)
        data = self.load(self.only_capture(res, "crash"))
        self.assertEqual(data["end"], end, excerpt(brief(data)))
        self.assertLeak(data, "leak_before_end", 2, 500)
        return res, data

    def check_single_threaded(self, data):
        self.assertTotals(data, {"allocations": 2, "frees": 0, "allocated_bytes": 500,
                                 "live_blocks": 2, "live_bytes": 500, "peak_bytes": 500,
                                 "unknown_frees": 0})

    def test_sigsegv(self):
        _, data = self.ended(["segv"], -signal.SIGSEGV,
                             {"reason": "signal", "value": int(signal.SIGSEGV)})
        self.check_single_threaded(data)

    def test_stack_overflow(self):
        """A stack overflow, in the main thread or another one, still leaves a capture: the
        handler runs on an alternate stack memtrack gave each thread."""
        _, data = self.ended(["overflow"], -signal.SIGSEGV,
                             {"reason": "signal", "value": int(signal.SIGSEGV)})
        self.check_single_threaded(data)
        _, data = self.ended(["thread_overflow"], -signal.SIGSEGV,
                             {"reason": "signal", "value": int(signal.SIGSEGV)})
        self.assertLeak(data, "leak_in_thread", 1, 33)

    def test_abort(self):
        _, data = self.ended(["abort"], -signal.SIGABRT,
                             {"reason": "signal", "value": int(signal.SIGABRT)})
        self.check_single_threaded(data)

    def test_sigterm(self):
        _, data = self.ended(["term"], -signal.SIGTERM,
                             {"reason": "signal", "value": int(signal.SIGTERM)})
        self.check_single_threaded(data)

    def test_sigkill(self):
        """SIGKILL leaves no capture, and memtrack run says so; a capture an earlier run left
        at the same path is not passed off as this run's."""
        res = self.run_memtrack("crash", ["kill"], expect_rc=-signal.SIGKILL)
        self.assertEqual(res.files(), [], res.describe())
        self.assertEqual(res.stderr, "memtrack: no capture: the program was killed by SIGKILL, "
                         "which no process can handle\n", res.describe())
        workdir = self.tempdir()
        first = self.run_memtrack("crash", ["exit", "0"], opts=["-o", "cap.mtc"], cwd=workdir)
        self.assertIn("capture: %s/cap.mtc" % workdir, first.stderr, first.describe())
        res = self.run_memtrack("crash", ["kill"], opts=["-o", "cap.mtc"], cwd=workdir,
                                expect_rc=-signal.SIGKILL)
        self.assertEqual(res.stderr, "memtrack: the program left no capture (it was killed by "
                         "SIGKILL, which no process can handle); %s/cap.mtc is from an earlier "
                         "run (process %d)\n" % (workdir, kv(first.stdout, "pid")),
                         res.describe())
        data = self.load(res.path("cap.mtc"))  # the earlier run's, untouched
        self.assertEqual(data["pid"], kv(first.stdout, "pid"))
        self.assertEqual(data["end"], {"reason": "exit", "value": 0}, excerpt(brief(data)))

    def test_exit_status_passed_through(self):
        for code in (0, 3, 255):
            with self.subTest(code=code):
                _, data = self.ended(["exit", str(code)], code,
                                     {"reason": "exit", "value": code})
                self.check_single_threaded(data)

    def test_quick_exit(self):
        _, data = self.ended(["quick", "4"], 4, {"reason": "_exit", "value": 4})
        self.check_single_threaded(data)

    def churners_consistent(self, data):
        # Each of the 4 churning threads holds at most one 64-byte block when the process
        # ends; nothing else of theirs is live.
        blocks = sum(e["live_blocks"] for e in leaks_of(data, "churn_forever"))
        nbytes = sum(e["live_bytes"] for e in leaks_of(data, "churn_forever"))
        self.assertLessEqual(blocks, 4, excerpt(brief(data)))
        self.assertEqual(nbytes, 64 * blocks, excerpt(brief(data)))
        churned = sum(t["allocations"] for t in data["threads"] if t["allocations"] >= 1000)
        self.assertGreaterEqual(churned, 4 * 1000, excerpt(data["threads"]))

    def test_exit_from_other_thread_while_threads_allocate(self):
        for _ in range(3):
            _, data = self.ended(["thread_exit"], 9, {"reason": "exit", "value": 9})
            self.churners_consistent(data)

    def test_sigsegv_in_thread_while_threads_allocate(self):
        _, data = self.ended(["thread_segv"], -signal.SIGSEGV,
                             {"reason": "signal", "value": int(signal.SIGSEGV)})
        self.churners_consistent(data)

    def test_exec(self):
        # The image before exec leaves its capture (end reason "exec"); the exec'd program's
        # exit status comes back through memtrack run.
        res = self.run_memtrack("crash", ["exec", program("crash"), "exit", "7"], expect_rc=7)
        pid = kv(res.stdout, "pid")
        data = self.load(self.default_capture(res, "crash", pid))
        self.assertEqual(data["end"], {"reason": "exec", "value": 0}, excerpt(brief(data)))
        self.assertEqual(data["pid"], pid)
        self.assertLeak(data, "leak_before_end", 2, 500)
        self.check_single_threaded(data)


if __name__ == "__main__":
    unittest.main()
