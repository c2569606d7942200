"""Security (issue 7, item 5): the capture is created with the user's umask and never written
through a symbolic link (or over a device) planted at its path; absurd environment values are
refused with one message, and the program runs untouched; set-user-ID programs are not traced.

tests/programs/hostile.c `exit N` leaks 3 blocks of 100 bytes and exits with N."""

import os
import pwd
import shutil
import stat
import subprocess
import unittest

from mtutil import MEMTRACK, MemtrackCase, api_program, program, run_proc, run_proc_env

PRELOAD = os.path.join(os.path.dirname(MEMTRACK), "libmemtrack_preload.so")
NO_VARS = {"MEMTRACK_MODE": None, "MEMTRACK_DEPTH": None, "MEMTRACK_OUTPUT": None,
           "MEMTRACK_SNAPSHOT_SIGNAL": None, "MEMTRACK_SEED": None}
MODE_WHY = "is not 'full', 'count', 'sample' or 'sample=BYTES' (BYTES from 1 to 2^40)"


class CaptureFile(MemtrackCase):

    def test_umask_applies(self):
        for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
            with self.subTest(umask=oct(umask)):
                d = self.tempdir()
                out = os.path.join(d, "cap.mtc")
                old = os.umask(umask)
                try:
                    proc = run_proc([MEMTRACK, "run", "-o", out, "--", program("hostile"),
                                     "exit", "0"], cwd=d)
                finally:
                    os.umask(old)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), mode)

    def test_symlink_at_output_is_not_followed(self):
        d = self.tempdir()
        target = os.path.join(d, "precious.txt")
        with open(target, "w") as f:
            f.write("keep me\n")
        link = os.path.join(d, "cap.mtc")
        os.symlink(target, link)
        proc = run_proc([MEMTRACK, "run", "-o", link, "--", program("hostile"), "exit", "5"],
                        cwd=d)
        self.assertEqual(proc.returncode, 5, proc.stderr)
        self.assertEqual(proc.stderr.splitlines(), [
            "memtrack: could not write the capture %s: a symbolic link is there (memtrack does "
            "not follow or replace one)" % link])
        with open(target) as f:
            self.assertEqual(f.read(), "keep me\n")
        self.assertTrue(os.path.islink(link))
        self.assertEqual(sorted(os.listdir(d)), ["cap.mtc", "precious.txt"])

    def test_dangling_symlink_at_output(self):
        # A link to a file that does not exist yet would create it wherever it points.
        d = self.tempdir()
        target = os.path.join(d, "elsewhere", "made.mtc")
        os.mkdir(os.path.dirname(target))
        link = os.path.join(d, "cap.mtc")
        os.symlink(target, link)
        proc = run_proc_env([program("hostile"), "exit", "0"],
                            dict(NO_VARS, LD_PRELOAD=PRELOAD, MEMTRACK_OUTPUT=link), cwd=d)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("a symbolic link is there", proc.stderr)
        self.assertFalse(os.path.exists(target))
        self.assertEqual(os.listdir(os.path.dirname(target)), [])

    def test_device_at_output_is_not_replaced(self):
        # `-o /dev/null` must not turn /dev/null into a capture: a FIFO stands for it here.
        d = self.tempdir()
        fifo = os.path.join(d, "cap.mtc")
        os.mkfifo(fifo)
        proc = run_proc([MEMTRACK, "run", "-o", fifo, "--", program("hostile"), "exit", "0"],
                        cwd=d)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr.splitlines(), [
            "memtrack: could not write the capture %s: something other than a regular file is "
            "there" % fifo])
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertEqual(os.listdir(d), ["cap.mtc"])

    def test_planted_temporary_file_symlink(self):
        # The writer's NAME.tmp.PID is created with O_EXCL|O_NOFOLLOW: a link planted under that
        # name (the pid is guessable) is removed, never written through.
        d = self.tempdir()
        target = os.path.join(d, "precious.txt")
        with open(target, "w") as f:
            f.write("keep me\n")
        out = os.path.join(d, "cap.mtc")
        # The program waits for a byte on stdin, so the link is there before it ends.
        proc = subprocess.Popen([program("hostile"), "stdin", "0"], cwd=d,
                                env=dict(os.environ, LD_PRELOAD=PRELOAD, MEMTRACK_OUTPUT=out),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.PIPE)
        os.symlink(target, "%s.tmp.%d" % (out, proc.pid))
        _, err = proc.communicate(b"\n", timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        with open(target) as f:
            self.assertEqual(f.read(), "keep me\n")
        self.assertEqual(sorted(os.listdir(d)), ["cap.mtc", "precious.txt"])
        self.load(out)


class Environment(MemtrackCase):
    """Values the tracker refuses: the program runs as without memtrack (same output, same
    exit status), one line on stderr says what is wrong, and no capture is written."""

    BAD = (
        ("MEMTRACK_DEPTH", "99999999999", "is not a number from 1 to 256"),
        ("MEMTRACK_DEPTH", "18446744073709551617", "is not a number from 1 to 256"),
        ("MEMTRACK_DEPTH", "-1", "is not a number from 1 to 256"),
        ("MEMTRACK_DEPTH", "0", "is not a number from 1 to 256"),
        ("MEMTRACK_DEPTH", "257", "is not a number from 1 to 256"),
        ("MEMTRACK_DEPTH", "", "is not a number from 1 to 256"),
        ("MEMTRACK_DEPTH", " 8", "is not a number from 1 to 256"),
        ("MEMTRACK_DEPTH", "8x", "is not a number from 1 to 256"),
        ("MEMTRACK_MODE", "bogus", MODE_WHY),
        ("MEMTRACK_MODE", "", MODE_WHY),
        ("MEMTRACK_MODE", "FULL", MODE_WHY),
        ("MEMTRACK_MODE", "sample=0", MODE_WHY),
        ("MEMTRACK_MODE", "sample=1099511627777", MODE_WHY),
        ("MEMTRACK_MODE", "sample=", MODE_WHY),
        ("MEMTRACK_MODE", "samples", MODE_WHY),
        ("MEMTRACK_SEED", "0", "is not a number from 1 to 2^64-1"),
        ("MEMTRACK_SEED", "18446744073709551616", "is not a number from 1 to 2^64-1"),
        ("MEMTRACK_SEED", "-3", "is not a number from 1 to 2^64-1"),
        ("MEMTRACK_OUTPUT", "", "is empty"),
        ("MEMTRACK_OUTPUT", "x" * 5000, "makes a capture path too long"),
        ("MEMTRACK_OUTPUT", "/tmp/" + "%p" * 1000, "makes a capture path too long"),
    )

    def test_preloaded_tracker_refuses(self):
        plain = run_proc([program("hostile"), "exit", "6"])
        for var, value, why in self.BAD:
            with self.subTest(var=var, value=value[:20]):
                d = self.tempdir()
                proc = run_proc_env([program("hostile"), "exit", "6"],
                                    dict(NO_VARS, LD_PRELOAD=PRELOAD, **{var: value}), cwd=d)
                self.assertEqual(proc.returncode, 6, proc.stderr)
                self.assertEqual(proc.stdout.split("\n")[1:], plain.stdout.split("\n")[1:])
                self.assertEqual(proc.stderr.splitlines(), [
                    "memtrack: %s='%s' %s; not tracking" % (var, value, why)])
                self.assertEqual(os.listdir(d), [])

    def test_memtrack_run_refuses(self):
        # memtrack run checks the variables it passes on before starting anything.
        for var, value, why in self.BAD:
            if var == "MEMTRACK_OUTPUT":
                continue  # memtrack run sets it from -o
            with self.subTest(var=var, value=value):
                d = self.tempdir()
                proc = run_proc_env([MEMTRACK, "run", "--", program("hostile"), "exit", "6"],
                                    dict(NO_VARS, **{var: value}), cwd=d)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(proc.stdout, "", "the program must not have run")
                self.assertEqual(proc.stderr.splitlines(), [
                    "memtrack run: %s='%s' in the environment %s" % (var, value, why)])
                self.assertEqual(os.listdir(d), [])

    def test_option_overrides_bad_variable(self):
        d = self.tempdir()
        proc = run_proc_env([MEMTRACK, "run", "--depth", "8", "--mode", "full", "--",
                             program("hostile"), "exit", "0"],
                            dict(NO_VARS, MEMTRACK_DEPTH="abc", MEMTRACK_MODE="bogus"), cwd=d)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        caps = [f for f in os.listdir(d) if f.endswith(".mtc")]
        self.assertEqual(len(caps), 1, proc.stderr)
        data = self.load(os.path.join(d, caps[0]))
        self.assertEqual(data["depth"], 8)
        self.assertTotals(data, {"allocations": 3, "live_blocks": 3, "live_bytes": 300})

    def test_bad_snapshot_signal_only_disables_snapshots(self):
        for value in ("+5", "abc", "9", "19", "0", "99999999999999999999", "65"):
            with self.subTest(value=value):
                d = self.tempdir()
                out = os.path.join(d, "cap.mtc")
                proc = run_proc_env([program("hostile"), "exit", "0"],
                                    dict(NO_VARS, LD_PRELOAD=PRELOAD, MEMTRACK_OUTPUT=out,
                                         MEMTRACK_SNAPSHOT_SIGNAL=value), cwd=d)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stderr.splitlines(), [
                    "memtrack: MEMTRACK_SNAPSHOT_SIGNAL is not a signal number; no snapshots "
                    "on a signal"])
                self.assertTotals(self.load(out), {"allocations": 3, "live_bytes": 300})


class SnapshotTarget(MemtrackCase):
    """`memtrack snapshot PID` reads the signal to send from the process's environment, which
    the process chose: a value the tracker would refuse (SIGKILL, junk) is refused too, and the
    process is not signalled."""

    def test_signal_from_environment_is_checked(self):
        for value in ("9", "19", "+15", "15abc"):
            with self.subTest(value=value):
                env = dict(os.environ, LD_PRELOAD=PRELOAD, MEMTRACK_SNAPSHOT_SIGNAL=value,
                           MEMTRACK_OUTPUT=os.path.join(self.tempdir(), "cap.mtc"))
                proc = subprocess.Popen(["sleep", "60"], env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                try:
                    # Wait for the preloaded library to be in the process's map.
                    for _ in range(6000):
                        with open("/proc/%d/maps" % proc.pid) as f:
                            if "libmemtrack_preload.so" in f.read():
                                break
                    snap = run_proc([MEMTRACK, "snapshot", "--timeout", "1", str(proc.pid)])
                    self.assertEqual(snap.returncode, 1, snap.stderr)
                    self.assertEqual(snap.stderr.splitlines(), [
                        "memtrack: process %d is not running under memtrack run with a "
                        "snapshot signal (--snapshot-signal)" % proc.pid])
                    self.assertIsNone(proc.poll(), "the process was signalled")
                finally:
                    proc.kill()
                    proc.communicate()


class SetUid(MemtrackCase):
    """A set-user-ID program runs with the privileges of its owner but the environment of its
    caller, who must not choose what it loads or where it writes. The copies made here are
    owned by `nobody` and run by root, so the kernel marks them AT_SECURE."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to make a set-user-ID copy owned by another user")
        self.nobody = pwd.getpwnam("nobody").pw_uid

    def setuid_copy(self, src):
        d = self.tempdir()
        os.chmod(d, 0o777)  # nobody could write a capture here if it were traced
        dst = os.path.join(d, os.path.basename(src))
        shutil.copy(src, dst)
        os.chown(dst, self.nobody, -1)
        os.chmod(dst, 0o4755)
        return d, dst

    def test_preloaded_tracker_is_not_loaded(self):
        # This part is the dynamic loader's doing: for an AT_SECURE program it ignores an
        # LD_PRELOAD path with a slash. The program runs exactly as without memtrack.
        d, prog = self.setuid_copy(program("hostile"))
        proc = run_proc([MEMTRACK, "run", "--", prog, "exit", "3"], cwd=d)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertEqual(sorted(os.listdir(d)), ["hostile"])
        self.assertIn("no usable capture", proc.stderr)

    def test_linked_tracker_stays_off(self):
        # This part is memtrack's: libmemtrack.so is loaded (the program is linked with it),
        # sees AT_SECURE and refuses to start, whatever MEMTRACK_OUTPUT says.
        d, prog = self.setuid_copy(api_program("api_secure", linked=True))
        out = os.path.join(d, "cap.mtc")
        proc = run_proc_env([prog], dict(NO_VARS, MEMTRACK_OUTPUT=out), cwd=d)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, "start -1\nrunning 0\n")  # -1: MEMTRACK_ENOTRACKER
        self.assertEqual(sorted(os.listdir(d)), ["api_secure_linked"])
        # The same copy without the set-user-ID bit is traced and writes its capture.
        os.chmod(prog, 0o755)
        proc = run_proc_env([prog], dict(NO_VARS, MEMTRACK_OUTPUT=out), cwd=d)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, "start 1\nrunning 1\n")
        self.assertEqual(sorted(os.listdir(d)), ["api_secure_linked", "cap.mtc"])
        self.assertTotals(self.load(out), {"allocations": 3, "live_blocks": 3,
                                           "live_bytes": 300})


if __name__ == "__main__":
    unittest.main()
