"""`memtrack folded` and `memtrack pprof` on a real capture: tests/programs/leaks_c.c leaks 3
blocks of 100 bytes from leak_malloc (called from main), which the folded stacks must show on
the exact line `...;main;leak_malloc WEIGHT` and `go tool pprof -top` must count exactly."""

import os
import re
import shutil
import unittest
import xml.etree.ElementTree as ET

from mtutil import MEMTRACK, MemtrackCase, run_proc, run_proc_env


class Exports(MemtrackCase):

    _capture = None

    def capture(self):
        """A capture of leaks_c, made once per class."""
        if Exports._capture is None:
            res = self.run_memtrack("leaks_c")
            Exports._capture = self.only_capture(res, "leaks_c")
        return Exports._capture

    def folded(self, *args):
        proc = run_proc([MEMTRACK, "folded"] + list(args))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def leak_malloc_line(self, out):
        """The one line whose innermost frame is leak_malloc -> (frames, weight)."""
        lines = [l for l in out.splitlines() if l.rsplit(" ", 1)[0].split(";")[-1] ==
                 "leak_malloc"]
        self.assertEqual(len(lines), 1, "want one leak_malloc line:\n" + out)
        path, weight = lines[0].rsplit(" ", 1)
        return path.split(";"), weight

    def test_flamegraph_svg(self):
        """`memtrack flamegraph` draws the same stacks: well-formed SVG whose frame for
        leak_malloc says its 300 live bytes, above main, and -o / the default name work."""
        d = self.tempdir()
        out = os.path.join(d, "g.svg")
        proc = run_proc([MEMTRACK, "flamegraph", "-o", out, self.capture()])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), out)
        root = ET.parse(out).getroot()  # raises on malformed XML
        self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
        titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
        leak = [t for t in titles if re.fullmatch(r"leak_malloc \(300 bytes, [\d.]+%\)", t)]
        self.assertEqual(len(leak), 1, titles)
        total = int(re.fullmatch(r"all \((\d+) bytes, 100.00%\)", titles[0]).group(1))
        folded_total = sum(int(l.rsplit(" ", 1)[1]) for l in self.folded(self.capture()).splitlines())
        self.assertEqual(total, folded_total)
        self.assertTrue(any(t.startswith("main (") for t in titles))
        # The weight chosen is the one drawn; the default name is CAPTURE with .svg.
        copy = os.path.join(d, "c.mtc")
        shutil.copy(self.capture(), copy)
        proc = run_proc([MEMTRACK, "flamegraph", "--weight", "allocations", copy])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        titles = [t.text for t in
                  ET.parse(os.path.join(d, "c.svg")).getroot().iter("{http://www.w3.org/2000/svg}title")]
        self.assertTrue(any(re.fullmatch(r"leak_malloc \(3 allocations, [\d.]+%\)", t)
                            for t in titles), titles)
        # Bad input: one line, status 2.
        for args in (["--weight", "nope", self.capture()], [os.path.join(d, "missing.mtc")],
                     ["--thread", "1", "--weight", "bytes", self.capture()],
                     ["--thread", "1", self.capture()]):
            proc = run_proc([MEMTRACK, "flamegraph"] + args)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)

    def test_report_match(self):
        """`memtrack report --match TEXT` keeps the call paths with a matching frame (function,
        file or module), in every list, and says so; totals stay whole."""
        whole = self.load(self.capture())
        proc = run_proc([MEMTRACK, "report", "--format", "json", "--match", "leak_calloc",
                         self.capture()])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        import json
        data = json.loads(proc.stdout)
        self.assertEqual(data["totals"], whole["totals"])
        self.assertTrue(data["leaks"])
        for e in data["leaks"] + data["peak"]["contributors"]:
            self.assertTrue(any("leak_calloc" in (f.get("function") or "") for f in e["stack"]),
                            e)
        self.assertEqual(sum(e["live_bytes"] for e in data["leaks"]), 480)
        self.assertEqual(data["leak_call_paths"], len(data["leaks"]))
        text = run_proc([MEMTRACK, "report", "--match", "leak_calloc", self.capture()]).stdout
        self.assertRegex(text, r"call paths? with a frame matching 'leak_calloc'")
        # A module name matches too, and nothing matching gives empty lists.
        data = json.loads(run_proc([MEMTRACK, "report", "--format", "json", "--match",
                                    "leaks_c", self.capture()]).stdout)
        self.assertEqual(len(data["leaks"]), len(whole["leaks"]) - sum(
            1 for e in whole["leaks"] if not any("leaks_c" in (f.get("module") or "")
                                                  for f in e["stack"])))
        data = json.loads(run_proc([MEMTRACK, "report", "--format", "json", "--match",
                                    "no-such-function-xyz", self.capture()]).stdout)
        self.assertEqual((data["leaks"], data["peak"]["contributors"]), ([], []))
        proc = run_proc([MEMTRACK, "report", "--match", "", self.capture()])
        self.assertEqual(proc.returncode, 2)

    def test_folded_match(self):
        """--match keeps the stacks with a matching frame, in folded and flamegraph alike."""
        out = self.folded("--match", "leak_malloc", self.capture())
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertTrue(out.rstrip().endswith(";main;leak_malloc 300"), out)
        proc = run_proc([MEMTRACK, "folded", "--match", "", self.capture()])
        self.assertEqual(proc.returncode, 2)

    def test_folded(self):
        cap = self.capture()
        out = self.folded(cap)
        self.assertEqual(out, self.folded("--weight", "live-bytes", cap))
        lines = out.splitlines()
        self.assertEqual(lines, sorted(lines, key=lambda l: l.encode()), "not sorted:\n" + out)
        for line in lines:
            path, weight = line.rsplit(" ", 1)
            self.assertTrue(weight.isdigit() and int(weight) > 0, line)
            self.assertNotIn("\n", path)
        frames, weight = self.leak_malloc_line(out)
        self.assertEqual(frames[-2:], ["main", "leak_malloc"], out)
        self.assertIn(";".join(frames) + " 300", lines)
        for w, want in (("live-blocks", "3"), ("allocations", "3"), ("bytes", "300")):
            got = self.leak_malloc_line(self.folded("--weight", w, cap))
            self.assertEqual(got, (frames, want), "--weight " + w)
        # The calloc that makes the peak is freed at once: leak_malloc's blocks were live then.
        self.assertEqual(self.leak_malloc_line(self.folded("--weight", "peak-bytes", cap)),
                         (frames, "300"))

    def test_folded_thread(self):
        cap = self.capture()
        data = self.load(cap)
        tid = data["threads"][0]["tid"]
        for weight in ("live-bytes", "bytes", "allocations", "peak-bytes"):
            self.assertEqual(self.folded("--thread", str(tid), "--weight", weight, cap),
                             self.folded("--weight", weight, cap),
                             "one thread: everything is its (%s)" % weight)
        proc = run_proc([MEMTRACK, "folded", "--thread", str(tid + 100000), cap])
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, "")
        self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
        self.assertIn("has no thread", proc.stderr)

    def test_pprof_go_tool(self):
        go = shutil.which("go")
        if go is None:
            self.skipTest("`go` is not installed (Debian package golang-go): cannot run "
                          "go tool pprof")
        cap = self.capture()
        work = self.tempdir()
        out = os.path.join(work, "leaks.pb.gz")
        proc = run_proc([MEMTRACK, "pprof", "-o", out, cap])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(2), b"\x1f\x8b", "not gzip")
        env = {"HOME": work, "GOCACHE": os.path.join(work, "gocache"), "GOFLAGS": "-mod=mod",
               "GOPATH": os.path.join(work, "gopath"), "PPROF_TMPDIR": work}

        def top(index):
            p = run_proc_env([go, "tool", "pprof", "-top", "-unit=B",
                              "-sample_index=" + index, out], env)
            self.assertEqual(p.returncode, 0, p.stderr)
            rows = {}
            for line in p.stdout.splitlines():
                parts = line.split()
                if len(parts) == 6 and parts[1].endswith("%"):
                    rows[parts[5]] = (parts[0], parts[3])  # flat, cum
            return p.stdout, rows

        text, rows = top("inuse_space")
        self.assertIn("Type: inuse_space", text)
        self.assertEqual(rows.get("leak_malloc"), ("300B", "300B"), text)
        self.assertEqual(rows.get("leak_calloc"), ("480B", "480B"), text)
        text, rows = top("alloc_space")
        self.assertEqual(rows.get("leak_malloc"), ("300B", "300B"), text)
        self.assertEqual(rows.get("temp_pairs"), ("250B", "250B"), text)


if __name__ == "__main__":
    unittest.main()
