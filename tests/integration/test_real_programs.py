"""Real programs under `memtrack run` (issue 7, item 3): Debian's python3, perl, sqlite3, git,
gcc and ruby, a C++ program that throws from 4 threads, and Python's threaded HTTP server under
a bounded load. Each must behave as without memtrack (same output, same exit status), and
every capture, the snapshots taken while the server runs among them, must account exactly:
allocations - frees = live blocks, allocated - freed bytes = live bytes, leaks and threads
adding up to the totals (check_invariants)."""

import os
import re
import shutil
import signal
import subprocess
import threading
import unittest
import urllib.request

from mtutil import (MEMTRACK, LineReader, MemtrackCase, brief, excerpt, program, run_proc,
                    run_proc_env)

PYTHON = "/usr/bin/python3"
GIT_ENV = {"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.org",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.org",
           "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "GIT_PAGER": "cat",
           "MEMTRACK_MODE": None, "MEMTRACK_DEPTH": None, "MEMTRACK_OUTPUT": None}


def need(path):
    found = shutil.which(path)
    if not found:
        raise unittest.SkipTest("%s is not installed" % path)
    return found


class RealPrograms(MemtrackCase):

    def same_as_untracked(self, argv, cwd_setup=None, env=None):
        """Runs argv untracked and under `memtrack run`, each in a fresh directory prepared by
        cwd_setup(dir); checks the same stdout, stderr and exit status; returns the capture's
        JSON (invariants checked)."""
        runs = []
        for tracked in (False, True):
            d = self.tempdir()
            if cwd_setup:
                cwd_setup(d)
            full = [MEMTRACK, "run", "-o", os.path.join(d, "cap.mtc"), "--"] + argv \
                if tracked else argv
            runs.append((d, run_proc_env(full, env or {}, cwd=d)))
        (_, plain), (d, tracked) = runs
        self.assertEqual(tracked.returncode, plain.returncode, tracked.stderr)
        self.assertEqual(tracked.stdout, plain.stdout)
        summary = [l for l in tracked.stderr.splitlines() if l.startswith("memtrack: ")]
        self.assertEqual(len(summary), 1, tracked.stderr)
        self.assertIn("still live at the end", summary[0])
        self.assertEqual([l for l in tracked.stderr.splitlines() if l not in summary],
                         plain.stderr.splitlines())
        return self.load(os.path.join(d, "cap.mtc"))

    def test_python3(self):
        data = self.same_as_untracked([need(PYTHON), "-c", (
            "import json, collections, re\n"
            "d = {str(i): [i] * 5 for i in range(20000)}\n"
            "s = json.dumps(d)\n"
            "c = collections.Counter(re.findall(r'[0-9]{3}', s))\n"
            "print(len(s), len(c), c.most_common(1)[0][0])")])
        self.assertGreater(data["totals"]["allocations"], 100)

    def test_perl(self):
        data = self.same_as_untracked([need("perl"), "-e", (
            'my %h; $h{$_} = "x" x ($_ % 50) for 1..50000;'
            'my @s = sort { $a <=> $b } keys %h; print scalar(@s), " $s[-1]\\n"')])
        self.assertGreater(data["totals"]["allocations"], 10000)

    def test_sqlite3(self):
        data = self.same_as_untracked([need("sqlite3"), "db.sqlite", (
            "create table t(a integer primary key, b text);"
            "with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000)"
            " insert into t select x, printf('%08x', x * 2654435761 % 4294967296) from c;"
            "create index tb on t(b);"
            "select count(*), sum(a), min(b), max(b) from t;")])
        self.assertGreater(data["totals"]["allocations"], 1000)

    def test_git(self):
        git = need("git")

        def repo(d):
            subprocess.run([git, "init", "-q", "r"], cwd=d, check=True)
            for i in range(20):
                with open(os.path.join(d, "r", "f%d.txt" % i), "w") as f:
                    f.write("line %d\n" % i * (i + 1))
            subprocess.run([git, "-C", "r", "add", "."], cwd=d, check=True)

        # commit (which may fork helpers, each writing a capture of its own), then the log
        # and the patch of what was committed
        data = self.same_as_untracked([git, "-C", "r", "commit", "-q", "-m", "twenty files"],
                                      repo, env=GIT_ENV)
        self.assertGreater(data["totals"]["allocations"], 100)

        def committed(d):
            repo(d)
            subprocess.run([git, "-C", "r", "commit", "-q", "-m", "twenty files"], cwd=d,
                           check=True, env=dict(os.environ, **{k: v for k, v in GIT_ENV.items()
                                                               if v is not None}))

        data = self.same_as_untracked([git, "-C", "r", "log", "--stat", "-p"], committed,
                                      env=GIT_ENV)
        self.assertGreater(data["totals"]["allocations"], 100)

    def test_gcc(self):
        # gcc runs cc1, as and collect2/ld with vfork and exec: they are not traced, and the
        # driver's capture is its own. The compiled program is the same.
        gcc = need("gcc")

        def source(d):
            with open(os.path.join(d, "hello.c"), "w") as f:
                f.write("#include <stdio.h>\nint main(void) { puts(\"hello\"); return 3; }\n")

        data = self.same_as_untracked([gcc, "-O2", "-o", "hello", "hello.c"], source)
        self.assertEqual(data["end"], {"reason": "exit", "value": 0})
        self.assertGreater(data["totals"]["allocations"], 50)

    def test_ruby(self):
        data = self.same_as_untracked([need("ruby"), "-e", (
            "h = {}; 50000.times { |i| h[i.to_s] = [i] * 3 }; "
            "puts h.size, h.values.map(&:sum).sum")])
        self.assertGreater(data["totals"]["allocations"], 10000)

    def test_cpp_exceptions(self):
        # tests/programs/exceptions.cpp: 4 threads x 2000 exceptions, each round 4 blocks (the
        # held object, the message, the runtime_error's string, the exception object), all
        # freed; every 10th catch leaks 32 bytes.
        data = self.same_as_untracked([program("exceptions")])
        self.assertLeak(data, "leak_in_handler", 800, 800 * 32)
        self.assertNoLeak(data, "thrower", inclusive=True)
        workers = sorted((t["allocations"], t["frees"], t["live_blocks"], t["live_bytes"])
                         for t in data["threads"] if t["allocations"] >= 8000)
        self.assertEqual(workers, [(8200, 8000, 200, 6400)] * 4, excerpt(data["threads"]))


class HttpServer(MemtrackCase):
    """Python's ThreadingHTTPServer (a thread per connection) serves 400 requests from 8 client
    threads, with a snapshot after the first 200; SIGINT ends it the way Ctrl-C does."""

    def load_server(self, port, n, expected):
        errors = []

        def client(k):
            for i in range(n // 8):
                name = "f%d.txt" % ((k * 31 + i) % 10)
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, name),
                                                timeout=60) as r:
                        if r.read() != expected[name]:
                            errors.append("bad content for " + name)
                except OSError as e:
                    errors.append(str(e))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

    def test_threaded_server_under_load(self):
        need(PYTHON)
        d = self.tempdir()
        expected = {}
        for i in range(10):
            name = "f%d.txt" % i
            expected[name] = ("file %d\n" % i * (100 * (i + 1))).encode()
            with open(os.path.join(d, name), "wb") as f:
                f.write(expected[name])
        out = os.path.join(d, "server.mtc")
        proc = subprocess.Popen([MEMTRACK, "run", "-o", out, "--", PYTHON, "-u", "-m",
                                 "http.server", "0", "--bind", "127.0.0.1"], cwd=d,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            line = LineReader(proc.stdout).wait("Serving HTTP on", timeout=60)
            port = int(re.search(r"port (\d+)", line).group(1))
            with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
                server = int(f.read().split()[0])
            self.load_server(port, 200, expected)
            snap = run_proc([MEMTRACK, "snapshot", "--timeout", "60", str(server)])
            self.assertEqual(snap.returncode, 0, snap.stderr)
            self.load_server(port, 200, expected)
            os.kill(server, signal.SIGINT)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()
        self.assertEqual(proc.returncode, 0)
        first = self.load(snap.stdout.strip())
        self.assertEqual(first["end"]["reason"], "snapshot")
        final = self.load(out)
        self.assertEqual(final["end"], {"reason": "exit", "value": 0})
        # A thread per connection, one connection per request: 400 handler threads ran.
        self.assertGreaterEqual(len(final["threads"]), 400, excerpt(brief(final)))
        self.assertGreaterEqual(final["totals"]["allocations"], first["totals"]["allocations"])


if __name__ == "__main__":
    unittest.main()
