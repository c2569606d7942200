"""Flame graphs and folded stacks of one thread, for every weight: tests/programs/thread_scope.c
has main and a worker each free the other's blocks after the peak, so figures filed by the
freeing thread would be wrong; they must go to the thread that allocated them."""

import os
import shutil
import unittest
import xml.etree.ElementTree as ET

from mtutil import MEMTRACK, MemtrackCase, parse_kv_lines, run_proc, run_proc_env

# (weight, function) -> (main's figure, the worker's figure); None: no line at all.
EXPECTED = {
    ("allocations", "main_alloc"): (3, None),
    ("bytes", "main_alloc"): (3000, None),
    ("peak-bytes", "main_alloc"): (3000, None),
    ("peak-blocks", "main_alloc"): (3, None),
    ("live-bytes", "main_alloc"): (1000, None),
    ("live-blocks", "main_alloc"): (1, None),
    ("allocations", "worker_alloc"): (None, 2),
    ("bytes", "worker_alloc"): (None, 1000),
    ("peak-bytes", "worker_alloc"): (None, 1000),
    ("peak-blocks", "worker_alloc"): (None, 2),
    ("live-bytes", "worker_alloc"): (None, None),
    ("allocations", "worker_temp"): (None, 10),
    ("bytes", "worker_temp"): (None, 640),
    ("peak-bytes", "worker_temp"): (None, None),
}


class ThreadScope(MemtrackCase):

    _run = None

    def run_once(self):
        if ThreadScope._run is None:
            res, data = self.run_and_load("thread_scope")
            tids = {}
            for key, vals in parse_kv_lines(res.stdout):
                tids[key] = vals[0]
            ThreadScope._run = (res, data, tids)
        return ThreadScope._run

    def capture(self):
        res, _, _ = self.run_once()
        return self.only_capture(res, "thread_scope")

    def folded(self, *args):
        proc = run_proc([MEMTRACK, "folded"] + list(args) + [self.capture()])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def weight_of(self, out, function):
        """The weight of the one line whose innermost frame is `function`, None if none."""
        lines = [l for l in out.splitlines()
                 if l.rsplit(" ", 1)[0].split(";")[-1] == function]
        self.assertLessEqual(len(lines), 1, out)
        if not lines:
            return None
        path, weight = lines[0].rsplit(" ", 1)
        self.assertIn("main" if function == "main_alloc" else "worker", path.split(";"), out)
        return int(weight)

    def test_every_weight_by_thread(self):
        _, data, tids = self.run_once()
        # What pthread_create allocates comes on top of the program's 4000 bytes at the peak.
        self.assertGreaterEqual(data["totals"]["peak_bytes"], 4000, data["totals"])
        for (weight, function), want in EXPECTED.items():
            for who, expected in zip(("main_tid", "worker_tid"), want):
                out = self.folded("--thread", str(tids[who]), "--weight", weight)
                self.assertEqual(self.weight_of(out, function), expected,
                                 "%s of %s by %s:\n%s" % (weight, function, who, out))

    def test_threads_add_up_to_all(self):
        """For every weight, the threads' lines together are the whole capture's."""
        _, data, _ = self.run_once()
        for weight in ("allocations", "bytes", "peak-bytes", "peak-blocks", "live-bytes"):
            whole = {}
            for line in self.folded("--weight", weight).splitlines():
                path, w = line.rsplit(" ", 1)
                whole[path] = int(w)
            parts = {}
            for tid in sorted({t["tid"] for t in data["threads"]}):
                for line in self.folded("--thread", str(tid), "--weight", weight).splitlines():
                    path, w = line.rsplit(" ", 1)
                    parts[path] = parts.get(path, 0) + int(w)
            self.assertEqual(parts, whole, weight)

    def test_flamegraph_of_one_thread(self):
        _, _, tids = self.run_once()
        out = os.path.join(self.tempdir(), "worker.svg")
        proc = run_proc([MEMTRACK, "flamegraph", "--thread", str(tids["worker_tid"]),
                         "--weight", "peak-bytes", "-o", out, self.capture()])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        titles = [t.text for t in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}title")]
        self.assertTrue(any(t.startswith("worker_alloc (1000 bytes, ") for t in titles), titles)
        self.assertFalse(any(t.startswith("main_alloc (") for t in titles), titles)

    def test_pprof_thread_tags(self):
        """memtrack pprof labels each sample with its allocating thread: go tool pprof
        -tagfocus thread=TID shows that thread's figures."""
        go = shutil.which("go")
        if go is None:
            self.skipTest("`go` is not installed (Debian package golang-go)")
        _, _, tids = self.run_once()
        work = self.tempdir()
        out = os.path.join(work, "t.pb.gz")
        proc = run_proc([MEMTRACK, "pprof", "-o", out, self.capture()])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        env = {"HOME": work, "GOCACHE": os.path.join(work, "gocache"),
               "GOPATH": os.path.join(work, "gopath"), "PPROF_TMPDIR": work}
        for who, function, index, want in (("main_tid", "main_alloc", "alloc_space", "3000B"),
                                           ("main_tid", "main_alloc", "inuse_space", "1000B"),
                                           ("worker_tid", "worker_temp", "alloc_space", "640B"),
                                           ("worker_tid", "worker_alloc", "alloc_space",
                                            "1000B")):
            p = run_proc_env([go, "tool", "pprof", "-top", "-unit=B", "-sample_index=" + index,
                              "-tagfocus=thread=%d" % tids[who], out], env)
            self.assertEqual(p.returncode, 0, p.stderr)
            rows = {l.split()[5]: l.split()[0] for l in p.stdout.splitlines()
                    if len(l.split()) == 6 and l.split()[1].endswith("%")}
            self.assertEqual(rows.get(function), want, p.stdout)
            other = "worker_alloc" if who == "main_tid" else "main_alloc"
            self.assertNotIn(other, rows, p.stdout)


if __name__ == "__main__":
    unittest.main()
