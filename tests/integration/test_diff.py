"""`memtrack diff`: two runs of tests/programs/grower.c (`grower A B` keeps A blocks of 64 bytes
from grow_a and B from grow_b), each loaded wherever ASLR put it, compared by call path as JSON
and text; a capture of another program; damaged captures and bad usage."""

import json
import os
import unittest

from mtutil import MEMTRACK, MemtrackCase, fn_name, name_is, run_proc, source_line


def diff(*args):
    return run_proc([MEMTRACK, "diff"] + list(args))


def fig(before, after):
    return {"before": before, "after": after, "delta": after - before}


class Diff(MemtrackCase):

    _captures = {}

    def capture(self, prog, *args):
        """A capture of `prog ARGS`, made once per class."""
        key = (prog,) + args
        if key not in self._captures:
            res = self.run_memtrack(prog, [str(a) for a in args])
            self._captures[key] = self.only_capture(res, prog)
        return self._captures[key]

    def diff_json(self, before, after, *extra):
        proc = diff("--format", "json", *extra, before, after)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        try:
            return json.loads(proc.stdout)
        except ValueError as e:
            raise AssertionError("diff output is not JSON (%s):\n%s" % (e, proc.stdout[:3000]))

    def assertStackOf(self, path, function, marker):
        """The path's stack starts at `function` (at the line marked @marker in grower.c),
        called from main."""
        stack = path["stack"]
        msg = json.dumps(path, indent=1)
        self.assertGreaterEqual(len(stack), 2, msg)
        self.assertTrue(name_is(fn_name(stack[0]), function), msg)
        self.assertEqual(stack[0]["line"], source_line("grower.c", marker), msg)
        self.assertTrue(stack[0]["file"].endswith("grower.c"), msg)
        self.assertTrue(stack[0]["module"].endswith("/grower"), msg)
        self.assertEqual(fn_name(stack[1]), "main", msg)
        for f in stack:
            self.assertEqual(set(f), {"function", "file", "line", "module", "address", "offset",
                                      "inlined"}, msg)

    def test_growth_and_shrinkage(self):
        before, after = self.capture("grower", 10, 5), self.capture("grower", 25, 0)
        data = self.diff_json(before, after)
        for side, path in (("before", before), ("after", after)):
            self.assertEqual(data[side]["capture"], path)
            self.assertTrue(data[side]["program"].endswith("/grower"), data[side])
            self.assertIsInstance(data[side]["pid"], int)
            self.assertEqual((data[side]["end"]["reason"], data[side]["end"]["value"]),
                             ("exit", 0))
        self.assertNotEqual(data["before"]["pid"], data["after"]["pid"])
        self.assertEqual(data["totals"], {"allocations": fig(15, 25),
                                          "allocated_bytes": fig(960, 1600),
                                          "live_blocks": fig(15, 25),
                                          "live_bytes": fig(960, 1600),
                                          "peak_bytes": fig(960, 1600)})
        self.assertEqual(data["call_paths"], 2)
        paths = data["paths"]
        self.assertEqual([{k: v for k, v in p.items() if k != "stack"} for p in paths], [
            {"live_bytes": fig(640, 1600), "live_blocks": fig(10, 25),
             "allocations": fig(10, 25), "allocated_bytes": fig(640, 1600), "class": "untagged"},
            {"live_bytes": fig(320, 0), "live_blocks": fig(5, 0),
             "allocations": fig(5, 0), "allocated_bytes": fig(320, 0), "class": "untagged"},
        ])
        self.assertEqual(paths[0]["live_bytes"]["delta"], 960)
        self.assertEqual(paths[1]["live_bytes"]["delta"], -320)
        self.assertStackOf(paths[0], "grow_a", "grow_a")
        self.assertStackOf(paths[1], "grow_b", "grow_b")

        # The other way round: grow_a shrank by more than grow_b grew, so it comes first.
        data = self.diff_json(after, before)
        self.assertEqual([(p["live_bytes"]["delta"], p["live_blocks"]["delta"])
                          for p in data["paths"]], [(-960, -15), (320, 5)])
        self.assertStackOf(data["paths"][0], "grow_a", "grow_a")
        self.assertStackOf(data["paths"][1], "grow_b", "grow_b")

        data = self.diff_json(before, after, "--top", "1")
        self.assertEqual(data["call_paths"], 2)
        self.assertEqual(len(data["paths"]), 1)

    def test_matched_across_load_addresses(self):
        """Each run has the program and libc elsewhere (ASLR), and the paths still match."""
        before, after = self.capture("grower", 10, 5), self.capture("grower", 25, 0)
        leaks = []
        for cap in (before, after):
            report = self.load(cap)
            leaks.append([e for e in report["leaks"] if name_is(fn_name(e["stack"][0]),
                                                                "grow_a")])
        self.assertEqual([len(x) for x in leaks], [1, 1])
        a, b = leaks[0][0]["stack"], leaks[1][0]["stack"]
        if [f["address"] for f in a] == [f["address"] for f in b]:
            self.skipTest("address space layout randomization is off here")
        self.assertEqual([(f["module"], f["offset"]) for f in a],
                         [(f["module"], f["offset"]) for f in b])
        data = self.diff_json(before, after)
        self.assertEqual(data["paths"][0]["live_bytes"], fig(640, 1600))

    def test_same_capture(self):
        cap = self.capture("grower", 10, 5)
        data = self.diff_json(cap, cap)
        self.assertEqual(data["call_paths"], 0)
        self.assertEqual(data["paths"], [])
        for v in data["totals"].values():
            self.assertEqual(v["delta"], 0)

    def test_text(self):
        before, after = self.capture("grower", 10, 5), self.capture("grower", 25, 0)
        proc = diff(before, after)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        out = proc.stdout
        lines = out.splitlines()
        self.assertEqual(lines[0], "Before: " + before, out)
        self.assertRegex(lines[1], r"^        /\S+/grower \(pid \d+\), exit 0 at \d{4}-\d\d-\d\d "
                         r"\d\d:\d\d:\d\d\.\d{3} UTC, tracked for [0-9.]+ ms$")
        self.assertEqual(lines[2], "After:  " + after, out)
        self.assertIn("\n  allocations:  15 \u2192 25, +10\n", out)
        self.assertIn("\n  live bytes:   960 B \u2192 1.6 KiB (1600 bytes), +640 B\n", out)
        grew = ("\nGrew: +960 B live, in 1 call path\n"
                "  #1  +960 B, +15 blocks  (before: 640 B in 10 blocks, after: 1.6 KiB (1600 "
                "bytes) in 25 blocks)\n      grow_a  ")
        self.assertIn(grew, out)
        shrank = ("\nShrank: -320 B live, in 1 call path\n"
                  "  #1  -320 B, -5 blocks  (before: 320 B in 5 blocks, after: 0 B in 0 blocks)\n"
                  "      grow_b  ")
        self.assertIn(shrank, out)
        self.assertIn("grower.c:%d\n      main  " % source_line("grower.c", "grow_a"), out)
        self.assertLess(out.index(grew), out.index(shrank))

    def test_different_programs_warn(self):
        grower, other = self.capture("grower", 10, 5), self.capture("leaks_c")
        proc = diff("--format", "json", grower, other)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith(
            "memtrack: warning: the captures are of different programs ("), lines[0])
        data = json.loads(proc.stdout)
        self.assertTrue(data["after"]["program"].endswith("/leaks_c"))
        # Every call path goes through one program or the other, so none is in both.
        for p in data["paths"]:
            self.assertIn(0, (p["allocations"]["before"], p["allocations"]["after"]), p)


class DiffErrors(MemtrackCase):

    _blob = {}

    def good(self):
        if "blob" not in self._blob:
            res = self.run_memtrack("grower", ["3", "2"])
            with open(self.only_capture(res, "grower"), "rb") as f:
                self._blob["blob"] = f.read()
        return self._blob["blob"]

    def write(self, name, blob):
        path = os.path.join(self.tempdir(), name)
        with open(path, "wb") as f:
            f.write(blob)
        return path

    def test_bad_captures(self):
        good = self.write("good.mtc", self.good())
        blob = self.good()
        missing = os.path.join(self.tempdir(), "missing.mtc")
        cut = self.write("cut.mtc", blob[:len(blob) // 2])
        flipped = bytearray(blob)
        flipped[-1] ^= 0x40  # in END's checksum: nothing else can catch it first
        flip = self.write("flip.mtc", bytes(flipped))
        for bad, reason in ((missing, "No such file or directory"),
                            (cut, "truncated: "), (flip, "corrupt: checksum mismatch")):
            for args in ((bad, good), (good, bad)):
                with self.subTest(args=args):
                    proc = diff(*args)
                    msg = "exit %s\nstdout: %r\nstderr: %r" % (proc.returncode, proc.stdout[:500],
                                                               proc.stderr)
                    self.assertEqual(proc.returncode, 2, msg)
                    self.assertEqual(proc.stdout, "", msg)
                    lines = proc.stderr.splitlines()
                    self.assertEqual(len(lines), 1, msg)
                    self.assertTrue(lines[0].startswith("memtrack: %s: %s" % (bad, reason)), msg)
        # Both bad: each named.
        proc = diff(missing, cut)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual([line.split(": ")[1] for line in proc.stderr.splitlines()],
                         [missing, cut], proc.stderr)

    def test_usage(self):
        good = self.write("good.mtc", self.good())
        see = " (see 'memtrack diff --help')"
        for args, err in (
                ((), "no captures given (want BEFORE and AFTER)"),
                ((good,), "only one capture given (want BEFORE and AFTER)"),
                ((good, good, good), "more than two captures given ('%s')" % good),
                (("--top", "-3", good, good), "bad --top '-3' (want a number, 0 for all)"),
                (("--format", "yaml", good, good), "bad --format 'yaml' (want text or json)"),
                ((good, good, "--top"), "--top needs a value (a number, 0 for all)"),
                (("--frobnicate", good, good), "unknown option '--frobnicate'")):
            with self.subTest(args=args):
                proc = diff(*args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(proc.stdout, "")
                self.assertEqual(proc.stderr, "memtrack diff: %s%s\n" % (err, see))
        proc = diff("--help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(proc.stdout.startswith(
            "usage: memtrack diff [--format text|json] [--top N] BEFORE AFTER\n"), proc.stdout)
        proc = run_proc([MEMTRACK, "help"])
        self.assertIn("memtrack diff [--format text|json] [--top N] BEFORE AFTER", proc.stdout)


if __name__ == "__main__":
    unittest.main()
