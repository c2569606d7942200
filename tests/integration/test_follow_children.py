"""exec, posix_spawn, system, fork+exec and vfork+exec (tests/programs/spawner.c starting
tests/programs/leaks_c.c): without --follow-children only the program is tracked (and a vfork
child's exec leaves the parent's tracking whole); with it, every process and exec'd image
writes a capture of its own, named by pid (PID.N for the Nth image exec'd in process PID),
even when the program gives the child an environment of its own, and `memtrack run` lists
them."""

import os
import re
import unittest

from mtutil import MemtrackCase, compile_c, parse_kv_lines, program, run_proc_env

LEAKS = program("leaks_c")
# What leaks_c leaks through malloc (tests/integration/test_leaks.py checks the rest).
LEAK_MALLOC = (3, 300)


class FollowChildren(MemtrackCase):

    def spawn(self, how, follow):
        opts = ["--follow-children"] if follow else []
        res = self.run_memtrack("spawner", [how, LEAKS], opts=opts)
        values = parse_kv_lines(res.stdout)
        pid = [v[0] for k, v in values if k == "pid"][0]
        children = [v[0] for k, v in values if k == "child"]
        caps = {}
        for f in res.files():
            m = re.fullmatch(r"memtrack\.spawner\.(\d+(?:\.\d+)?)\.mtc", f)
            self.assertTrue(m, "unexpected file %s\n%s" % (f, res.describe()))
            caps[m.group(1)] = self.load(res.path(f))
        return res, pid, children, caps

    def assertMain(self, data, pid):
        """The spawner's own capture: whole, with its 77-byte leak after the child ended."""
        self.assertEqual(data["pid"], pid)
        self.assertEqual(data["end"], {"reason": "exit", "value": 0})
        self.assertLeak(data, "spawner_leak", 1, 77)
        self.assertFalse(data["followed"])

    def assertLeaksChild(self, data, pid, parent):
        self.assertTrue(data["program"].endswith("/leaks_c"), data["program"])
        self.assertEqual((data["pid"], data["parent_pid"]), (pid, parent))
        self.assertTrue(data["followed"])
        self.assertFalse(data["forked"])
        self.assertEqual(data["end"], {"reason": "exit", "value": 0})
        self.assertLeak(data, "leak_malloc", *LEAK_MALLOC)

    def test_not_followed_unless_asked(self):
        for how in ("exec", "spawn", "system", "vfork"):
            res, pid, _, caps = self.spawn(how, follow=False)
            self.assertEqual(sorted(caps), [str(pid)], how)
            if how == "exec":
                self.assertEqual(caps[str(pid)]["end"]["reason"], "exec")
            else:
                self.assertMain(caps[str(pid)], pid)
            self.assertNotIn("more capture", res.stderr)
        # fork() without exec is this process going on: the child writes its capture (ending
        # with its exec), the program it execs is not tracked.
        _, pid, children, caps = self.spawn("forkexec", follow=False)
        self.assertEqual(sorted(caps), sorted([str(pid), str(children[0])]))
        child = caps[str(children[0])]
        self.assertTrue(child["forked"])
        self.assertEqual(child["end"]["reason"], "exec")

    def test_exec_in_place(self):
        res, pid, _, caps = self.spawn("exec", follow=True)
        self.assertEqual(sorted(caps), [str(pid), "%d.1" % pid], res.describe())
        old = caps[str(pid)]
        self.assertEqual(old["end"]["reason"], "exec")
        self.assertEqual(old["totals"]["allocations"], 0)
        # Its parent is the program's: `memtrack run`, whose pid the test does not know.
        image = caps["%d.1" % pid]
        self.assertNotIn(image["parent_pid"], (0, pid))
        self.assertLeaksChild(image, pid, image["parent_pid"])
        self.assertRegex(res.stderr, r"memtrack: 1 more capture, of the processes the program "
                         r"started:\n  \S+memtrack\.spawner\.%d\.1\.mtc: leaks_c \(pid %d, exit 0\)"
                         % (pid, pid))

    def test_posix_spawn_even_with_its_own_environment(self):
        res, pid, children, caps = self.spawn("spawn", follow=True)
        self.assertEqual(len(children), 2)
        self.assertEqual(sorted(caps), sorted(str(p) for p in [pid] + children), res.describe())
        self.assertMain(caps[str(pid)], pid)
        for c in children:
            self.assertLeaksChild(caps[str(c)], c, pid)
        self.assertIn("memtrack: 2 more captures, of the processes the program started:",
                      res.stderr)

    def test_system_follows_the_shell_and_its_child(self):
        res, pid, _, caps = self.spawn("system", follow=True)
        self.assertEqual(len(caps), 3, res.describe())
        self.assertMain(caps[str(pid)], pid)
        others = [d for k, d in caps.items() if k != str(pid)]
        shells = [d for d in others if not d["program"].endswith("/leaks_c")]
        leaks = [d for d in others if d["program"].endswith("/leaks_c")]
        self.assertEqual((len(shells), len(leaks)), (1, 1), [d["program"] for d in others])
        self.assertEqual(shells[0]["parent_pid"], pid)
        self.assertTrue(shells[0]["followed"])
        self.assertLeaksChild(leaks[0], leaks[0]["pid"], shells[0]["pid"])

    def test_fork_then_exec_with_an_empty_environment(self):
        res, pid, children, caps = self.spawn("forkexec", follow=True)
        c = children[0]
        self.assertEqual(sorted(caps), sorted([str(pid), str(c), "%d.1" % c]), res.describe())
        self.assertMain(caps[str(pid)], pid)
        forked = caps[str(c)]
        self.assertTrue(forked["forked"])
        self.assertEqual((forked["parent_pid"], forked["end"]["reason"]), (pid, "exec"))
        self.assertLeaksChild(caps["%d.1" % c], c, pid)

    def test_vfork_then_exec(self):
        """The vfork child shares the parent's memory: its exec must not end the parent's
        tracking (the spawner's leak after the child ended is recorded)."""
        for follow in (False, True):
            res, pid, children, caps = self.spawn("vfork", follow=follow)
            c = children[0]
            want = [str(pid)] + ([str(c)] if follow else [])
            self.assertEqual(sorted(caps), sorted(want), res.describe())
            self.assertMain(caps[str(pid)], pid)
            if follow:
                self.assertLeaksChild(caps[str(c)], c, pid)

    def test_output_without_pid(self):
        """-o FILE without %p: the program's capture is FILE, a child's FILE.PID, an image it
        exec'd FILE.PID.N."""
        res = self.run_memtrack("spawner", ["forkexec", LEAKS],
                                opts=["--follow-children", "-o", "out.mtc"])
        c = [v[0] for k, v in parse_kv_lines(res.stdout) if k == "child"][0]
        self.assertEqual(sorted(res.files()), sorted(["out.mtc", "out.mtc.%d" % c,
                                                      "out.mtc.%d.1" % c]), res.describe())
        self.assertLeaksChild(self.load(res.path("out.mtc.%d.1" % c)), c,
                              self.load(res.path("out.mtc"))["pid"])
        self.assertIn("memtrack: 2 more captures", res.stderr)

    def test_linked_program_writes_its_capture_at_exec(self):
        """With -lmemtrack (no memtrack run), exec still writes the old image's capture."""
        work = self.tempdir()
        src = os.path.join(work, "execer.c")
        with open(src, "w") as f:
            f.write(EXECER)
        exe = os.path.join(work, "execer")
        r = compile_c(src, exe, linked=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        cap = os.path.join(work, "linked.mtc")
        r = run_proc_env([exe, LEAKS], {"MEMTRACK_OUTPUT": cap}, cwd=work)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.load(cap)
        self.assertEqual(data["end"]["reason"], "exec")
        self.assertLeak(data, "before_exec_leak", 1, 55)


EXECER = r"""
#include <memtrack.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) void before_exec_leak(void)
{
    void *volatile p = malloc(55);
    (void)p;
}

int main(int argc, char **argv)
{
    if (argc != 2 || memtrack_start() != 1) return 2;
    before_exec_leak();
    execv(argv[1], argv + 1);
    return 3;
}
"""


if __name__ == "__main__":
    unittest.main()
