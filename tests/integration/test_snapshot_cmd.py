"""`memtrack snapshot PID` (the CLI) on tests/programs/api2_snapsteps.c, a program that knows
nothing of memtrack, run under `memtrack run` and waiting for a go-file between its steps so
that each snapshot is of a known moment: NAME.snap1.mtc and NAME.snap2.mtc (the path printed
on stdout) hold exactly the live blocks of those moments, `end.reason` "snapshot"; `memtrack
diff` of the two shows the growth by function. Also `--snapshot-signal USR2` with `kill -USR2`,
and the errors: a process not under memtrack, a run with `--snapshot-signal none`, a process
that is gone, a stopped one (timeout), bad PIDs and options."""

import json
import os
import signal
import subprocess
import time
import unittest

from mtutil import MEMTRACK, LineReader, MemtrackCase, _no_core, leak_sum, program, run_proc

PROG = "api2_snapsteps"


class Snapsteps:
    """One run of api2_snapsteps under `memtrack run OPTS`, in its own session and temp dir."""

    def __init__(self, case, opts=(), steps=2, fork=False):
        self.case = case
        self.dir = case.tempdir()
        self.argv = [MEMTRACK, "run"] + list(opts) + ["--", program(PROG), self.dir, str(steps)]
        if fork:
            self.argv.append("fork")
        self.proc = subprocess.Popen(self.argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_no_core, start_new_session=True)
        self.out = LineReader(self.proc.stdout)
        self.pid = int(self.out.wait("pid ").split()[1])
        if fork:
            self.parent_pid = self.pid
            self.pid = int(self.out.wait("child_pid ").split()[1])

    def ready(self, k):
        self.out.wait("ready %d" % k, timeout=30)

    def go(self, k):
        with open(os.path.join(self.dir, "go%d" % k), "w"):
            pass

    def finish(self):
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the program did not finish: %r" % self.argv)
        self.case.assertEqual(self.proc.returncode, 0, err)
        return err.decode()

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()

    def path(self, name):
        return os.path.join(self.dir, name)


def snapshot_cmd(*args, timeout=60):
    return run_proc([MEMTRACK, "snapshot"] + [str(a) for a in args], timeout=timeout)


class SnapshotCommand(MemtrackCase):

    def start(self, opts=(), steps=2, fork=False):
        run = Snapsteps(self, opts, steps, fork)
        self.addCleanup(run.kill)
        return run

    def assertOneLine(self, proc, rc, contains=None):
        lines = proc.stderr.splitlines()
        self.assertEqual(proc.returncode, rc, proc.stderr)
        self.assertEqual(len(lines), 1, "expected one line on stderr: %r" % proc.stderr)
        self.assertEqual(proc.stdout, "", "nothing on stdout on an error")
        if contains:
            self.assertIn(contains, lines[0])

    def take(self, run, n):
        """`memtrack snapshot PID`: exit 0, the new file's path on stdout, one line on stderr."""
        proc = snapshot_cmd(run.pid)
        want = run.path("memtrack.%s.%d.snap%d.mtc" % (PROG, run.pid, n))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, want + "\n")
        self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
        self.assertTrue(os.path.exists(want))
        return want

    def test_two_snapshots_and_diff(self):
        run = self.start()
        run.ready(1)
        snap1 = self.take(run, 1)
        run.go(1)
        run.ready(2)
        snap2 = self.take(run, 2)
        run.go(2)
        run.finish()

        s1 = self.load(snap1)
        self.assertEqual(s1["end"]["reason"], "snapshot")
        self.assertEqual(s1["pid"], run.pid)
        self.assertTotals(s1, {"allocations": 10, "frees": 0, "live_blocks": 10,
                               "live_bytes": 1000}, "snap1")
        self.assertLeak(s1, "hold_a", 10, 1000)
        self.assertEqual(leak_sum(s1, "hold_b"), (0, 0))

        s2 = self.load(snap2)
        self.assertEqual(s2["end"]["reason"], "snapshot")
        self.assertTotals(s2, {"allocations": 15, "frees": 4, "live_blocks": 11,
                               "live_bytes": 5600, "peak_bytes": 5600}, "snap2")
        self.assertLeak(s2, "hold_a", 6, 600)
        self.assertLeak(s2, "hold_b", 5, 5000)

        final = self.load(run.path("memtrack.%s.%d.mtc" % (PROG, run.pid)))
        self.assertEqual(final["end"]["reason"], "exit")
        self.assertTotals(final, {"live_blocks": 11, "live_bytes": 5600})
        self.assertEqual(sorted(f for f in os.listdir(run.dir) if f.endswith(".mtc")), sorted(
            os.path.basename(p) for p in (snap1, snap2, "memtrack.%s.%d.mtc" % (PROG, run.pid))))

        proc = run_proc([MEMTRACK, "diff", "--format", "json", snap1, snap2])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        diff = json.loads(proc.stdout)
        self.assertEqual((diff["before"]["end"]["reason"], diff["after"]["end"]["reason"]),
                         ("snapshot", "snapshot"))
        self.assertEqual(diff["totals"]["live_bytes"], {"before": 1000, "after": 5600,
                                                        "delta": 4600})
        self.assertEqual(diff["totals"]["live_blocks"], {"before": 10, "after": 11, "delta": 1})
        got = [(p["stack"][0]["function"], p["live_bytes"]["delta"], p["live_blocks"]["delta"],
                p["allocations"]["delta"]) for p in diff["paths"]]
        self.assertEqual(got, [("hold_b", 5000, 5, 5), ("hold_a", -400, -4, 0)])
        self.assertEqual(diff["call_paths"], 2)

    def test_usr2_by_kill_and_by_command(self):
        """--snapshot-signal USR2 and -o run.mtc: `kill -USR2 PID` writes run.snap1.mtc,
        `memtrack snapshot PID` then run.snap2.mtc."""
        run = self.start(opts=("--snapshot-signal", "USR2", "-o", "run.mtc"), steps=1)
        run.ready(1)
        os.kill(run.pid, signal.SIGUSR2)
        snap1 = run.path("run.snap1.mtc")
        deadline = time.monotonic() + 20
        while not os.path.exists(snap1) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(os.path.exists(snap1), os.listdir(run.dir))
        proc = snapshot_cmd(run.pid)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, run.path("run.snap2.mtc") + "\n")
        run.go(1)
        run.finish()
        for snap in (snap1, run.path("run.snap2.mtc")):
            data = self.load(snap)
            self.assertEqual(data["end"]["reason"], "snapshot")
            self.assertLeak(data, "hold_a", 10, 1000)
        self.assertEqual(self.load(run.path("run.mtc"))["end"]["reason"], "exit")

    def test_forked_child(self):
        """A fork()ed child writes captures of its own (README): `memtrack snapshot CHILD`
        gives a snapshot of the child — its pid, its 10 blocks — never one of the parent."""
        for opts in (("-o", "run.mtc"), ()):
            with self.subTest(opts=opts):
                run = self.start(opts=opts, steps=1, fork=True)
                run.ready(1)
                proc = snapshot_cmd("--timeout", "2", run.pid)
                run.go(1)
                run.finish()
                self.assertEqual(proc.returncode, 0, "%r: %s" % (opts, proc.stderr))
                snap = proc.stdout.strip()
                data = self.load(snap)
                self.assertEqual((data["pid"], data["parent_pid"], data["forked"]),
                                 (run.pid, run.parent_pid, True),
                                 "%r: %s is a snapshot of process %d, not of the child %d" % (
                                     opts, os.path.basename(snap), data["pid"], run.pid))
                self.assertLeak(data, "hold_a", 10, 1000)

    def test_process_not_under_memtrack(self):
        sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
        self.addCleanup(lambda: (sleeper.kill(), sleeper.wait()))
        proc = snapshot_cmd(sleeper.pid)
        self.assertOneLine(proc, 1, "not running under memtrack run")
        self.assertIsNone(sleeper.poll(), "the process was signalled")

    def test_snapshot_signal_none(self):
        run = self.start(opts=("--snapshot-signal", "none"), steps=1)
        run.ready(1)
        proc = snapshot_cmd(run.pid)
        self.assertOneLine(proc, 1, "--snapshot-signal")
        run.go(1)
        run.finish()
        self.assertEqual([f for f in os.listdir(run.dir) if ".snap" in f], [])

    def test_memtrack_run_itself(self):
        """The pid of `memtrack run` (not of the program it runs) is not under memtrack."""
        run = self.start(steps=1)
        run.ready(1)
        proc = snapshot_cmd(run.proc.pid)
        self.assertOneLine(proc, 1, "not running under memtrack run")
        run.go(1)
        run.finish()

    def test_process_gone(self):
        gone = subprocess.Popen(["true"])
        gone.wait()
        proc = snapshot_cmd(gone.pid)
        self.assertOneLine(proc, 1, str(gone.pid))

    def test_timeout(self):
        """A stopped program cannot write its snapshot: `--timeout 0.3` gives up with exit 1;
        continued, the program writes it all the same."""
        run = self.start(steps=1)
        run.ready(1)
        os.kill(run.pid, signal.SIGSTOP)
        try:
            proc = snapshot_cmd("--timeout", "0.3", run.pid)
        finally:
            os.kill(run.pid, signal.SIGCONT)
        self.assertOneLine(proc, 1, "no snapshot")
        run.go(1)
        run.finish()
        self.assertTrue(os.path.exists(run.path("memtrack.%s.%d.snap1.mtc" % (PROG, run.pid))))

    def test_usage_errors(self):
        """Exit 2 and one line naming `memtrack snapshot --help`."""
        for args in ([], ["abc"], ["0"], ["-5"], ["12x"], [""], ["1", "2"],
                     ["--timeout"], ["--timeout", "abc", "1"], ["--timeout", "0", "1"],
                     ["99999999999999999999"]):
            proc = snapshot_cmd(*args)
            self.assertEqual(proc.returncode, 2, "%r: %s" % (args, proc.stderr))
            self.assertEqual(len(proc.stderr.splitlines()), 1, "%r: %r" % (args, proc.stderr))
            self.assertIn("memtrack snapshot --help", proc.stderr, args)

    def test_help(self):
        proc = snapshot_cmd("--help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("memtrack snapshot", proc.stdout)


if __name__ == "__main__":
    unittest.main()
