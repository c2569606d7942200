"""The benchmark harness (bench/run.py), so that it keeps working between benchmark runs: one
round of the sqlite workload with --breakdown, every variant and table present and every
cell a figure (timings are not checked: this machine is shared), the tracker-memory target
checked (it does not depend on timing), the results section of a Markdown file replaced in
place with the rest of the file kept, and bad options refused with one line."""

import os
import re
import shutil
import tempfile
import unittest

from mtutil import MEMTRACK, SOURCE_DIR, run_proc

RUN_PY = os.path.join(SOURCE_DIR, "bench", "run.py")
BEGIN = "<!-- bench/run.py results: begin (generated, do not edit by hand) -->"
END = "<!-- bench/run.py results: end -->"
NUM = r"-?[0-9]+\.[0-9]+"


def bench(*args, timeout=600):
    return run_proc(["python3", RUN_PY, "--memtrack", MEMTRACK] + list(args), timeout=timeout)


@unittest.skipUnless(shutil.which("heaptrack") and shutil.which("sqlite3"),
                     "needs heaptrack and sqlite3 (scripts/setup.sh --test installs them)")
class Bench(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="memtrack-test-bench-")
        cls.md = os.path.join(cls.dir, "PERF.md")
        with open(cls.md, "w") as f:
            f.write(f"# Title\n\nintro stays\n\n{BEGIN}\nold results\n{END}\n\n### Notes\n"
                    "notes stay\n")
        cls.res = bench("--runs", "1", "--only", "sqlite", "--breakdown", "--markdown", cls.md)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def out(self):
        self.assertEqual(self.res.returncode, 0, self.res.stderr[-3000:])
        return self.res.stdout

    def test_tables(self):
        out = self.out()
        self.assertNotIn("FAIL", out)
        # ratios: full, count, sample, heaptrack, and full's overhead against heaptrack's
        self.assertRegex(out, r"(?m)^\| sqlite \| %s( \| %s){5} \|$" % (NUM, NUM))
        # median (fastest–slowest) seconds of the five variants
        self.assertRegex(out, r"(?m)^\| sqlite( \| %s \(%s–%s\)){5} \|$" % (NUM, NUM, NUM))
        # the breakdown: hooks alone, without the live table, count, and the table's share
        self.assertRegex(out, r"(?m)^\| sqlite( \| %s){3} \| (-?[0-9]+%%|— \(count within "
                         r"5%% of plain\)) \|$" % NUM)
        for heading in ("Where count mode's overhead goes", "The engine's memory per live block",
                        "Sample mode's estimates", "Targets:"):
            self.assertIn(heading, out)

    def test_memory_target(self):
        out = self.out()
        per_mode = dict(re.findall(r"(?m)^\| (full|count|sample) \| (%s) \|$" % NUM, out))
        self.assertEqual(sorted(per_mode), ["count", "full", "sample"], out)
        for mode, value in per_mode.items():
            self.assertLessEqual(float(value), 48.0, mode)
        self.assertRegex(out, r"tracker memory at most 48 bytes per live allocation plus the "
                         r"call tree: .* — met")

    def test_markdown_replaced_in_place(self):
        self.out()
        with open(self.md) as f:
            text = f.read()
        self.assertTrue(text.startswith("# Title\n\nintro stays\n\n" + BEGIN + "\n"), text[:200])
        self.assertTrue(text.endswith(END + "\n\n### Notes\nnotes stay\n"), text[-200:])
        self.assertNotIn("old results", text)
        self.assertEqual(text.count(BEGIN), 1)
        self.assertIn("--breakdown", text)

    def test_bad_options(self):
        for args, message in ((["--only", "nosuch"], "unknown workload(s) nosuch; known: "),
                              (["--runs", "0"], "--runs must be at least 1"),
                              (["--memtrack", "/nonexistent/memtrack"], "memtrack CLI not found")):
            res = run_proc(["python3", RUN_PY] + (["--memtrack", MEMTRACK] if args[0] !=
                                                  "--memtrack" else []) + args)
            self.assertEqual(res.returncode, 2, (args, res.stderr))
            self.assertEqual(res.stderr.count("\n"), 1, (args, res.stderr))
            self.assertIn("run.py: error: " + message, res.stderr, args)


if __name__ == "__main__":
    unittest.main()
