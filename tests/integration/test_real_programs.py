"""Real programs from Debian under `memtrack run`: each one's output (and exit status, and any
file it writes) must be what an untracked run gives, and its capture must account exactly
(allocations - frees = live blocks, bytes likewise, threads adding up: check_invariants).
python3 (with PYTHONMALLOC=malloc, so its objects go through malloc), perl, ruby, sqlite3,
git, gcc with --follow-children (the driver, cc1 and as each tracked), a C++ program throwing
and catching 1000 exceptions, and python3's threaded HTTP server under a bounded load from 4
client threads, snapshotted twice while serving, then stopped with SIGTERM."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest
import urllib.request

from mtutil import (MEMTRACK, LineReader, MemtrackCase, _no_core, name_is, program, run_proc,
                    run_proc_env)

PYTHON = "/usr/bin/python3"  # Debian's, not whatever python3 the PATH finds first

PY_SCRIPT = r"""
import json
d = {str(i): [i, str(i) * 3, {"k": i}] for i in range(20000)}
s = json.dumps(d, sort_keys=True)
back = json.loads(s)
words = sorted(set(w for v in back.values() for w in v[1].split("1")))
print(len(s), len(words), sum(v[0] for v in back.values()))
"""
PERL_SCRIPT = r"""
my %h; $h{$_} = ($_ x 3) . ":" . join(",", 1 .. ($_ % 7)) for 1 .. 20000;
my @k = sort { $a <=> $b } keys %h; my $t = 0; $t += length($h{$_}) for @k;
print scalar(@k), " $t\n";
"""
RUBY_SCRIPT = r"""
h = {}
20000.times { |i| h[i] = (i.to_s * 3) + ":" + (1..(i % 7)).to_a.join(",") }
puts [h.size, h.values.map(&:size).sum, h.keys.select(&:even?).size].join(" ")
"""
SQL = r"""
create table t(id integer primary key, name text, n integer);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000)
insert into t select x, 'name-' || x, x % 97 from c;
create index t_n on t(n);
select count(*), sum(n), max(length(name)) from t where n between 10 and 60;
select n, count(*) from t group by n order by n limit 3;
"""


def tool(name):
    path = shutil.which(name, path="/usr/bin:/bin")
    return path


class RealPrograms(MemtrackCase):

    def compare(self, argv, env=None, cwd=None, opts=(), min_allocations=1000):
        """Runs argv plain, then under memtrack run: same status, stdout and stderr (but
        memtrack's own lines). Returns (the tracked run, the main capture's JSON)."""
        work = cwd or self.tempdir()
        plain = run_proc_env(argv, env, cwd=work)
        cap = os.path.join(self.tempdir(), "main.%p.mtc")
        tracked = run_proc_env([MEMTRACK, "run", "-o", cap] + list(opts) + ["--"] + argv, env,
                               cwd=work)
        what = " ".join(argv)
        self.assertEqual(tracked.returncode, plain.returncode, what + "\n" + tracked.stderr)
        self.assertEqual(tracked.stdout, plain.stdout, what)
        own = [l for l in tracked.stderr.splitlines(True)
               if not l.startswith(("memtrack:", "  /"))]
        self.assertEqual("".join(own), plain.stderr, what)
        m = re.search(r"capture: (\S+) \(see", tracked.stderr)
        self.assertIsNotNone(m, tracked.stderr)
        data = self.load(m.group(1))
        self.assertGreaterEqual(data["totals"]["allocations"], min_allocations, what)
        self.assertEqual(data["end"], {"reason": "exit", "value": plain.returncode}, what)
        return tracked, data

    def need(self, name):
        path = tool(name)
        if path is None:
            self.skipTest("%s is not installed (scripts/setup.sh --test installs it)" % name)
        return path

    def test_python(self):
        self.need("python3")
        self.compare([PYTHON, "-c", PY_SCRIPT], env={"PYTHONMALLOC": "malloc"},
                     min_allocations=100000)

    def test_perl(self):
        self.compare([self.need("perl"), "-e", PERL_SCRIPT], min_allocations=20000)

    def test_ruby(self):
        self.compare([self.need("ruby"), "-e", RUBY_SCRIPT], min_allocations=10000)

    def test_sqlite3(self):
        self.compare([self.need("sqlite3"), ":memory:", SQL], min_allocations=1000)

    def test_git(self):
        git = self.need("git")
        repo = self.tempdir()
        env = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE":
               "2026-01-01T00:00:00Z", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example",
               "HOME": repo, "GIT_CONFIG_NOSYSTEM": "1"}
        for argv in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "one"]):
            with open(os.path.join(repo, "f%d.txt" % len(argv)), "w") as f:
                f.write("line\n" * 100)
            if argv[0] == "commit":
                run_proc_env([git, "add", "."], env, cwd=repo)
            r = run_proc_env([git] + argv, env, cwd=repo)
            self.assertEqual(r.returncode, 0, r.stderr)
        for argv in (["log", "--format=%H %s"], ["status", "--porcelain"],
                     ["ls-files", "-s"], ["rev-list", "--objects", "--all"]):
            self.compare([git, "--no-pager"] + argv, env=env, cwd=repo, min_allocations=50)

    def test_gcc_follows_cc1(self):
        gcc = self.need("gcc")
        work = self.tempdir()
        src = os.path.join(work, "big.c")
        with open(src, "w") as f:
            for i in range(400):
                f.write("static int f%d(int x) { int a[8] = {%s}; return a[x & 7] * x + %d; }\n"
                        % (i, ", ".join(str(i + k) for k in range(8)), i))
            f.write("int all(int x) { return %s; }\n"
                    % " + ".join("f%d(x)" % i for i in range(400)))
        out = os.path.join(work, "big.o")
        plain = run_proc([gcc, "-O2", "-c", src, "-o", out], cwd=work)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        with open(out, "rb") as f:
            want = f.read()
        os.unlink(out)
        tracked, driver = self.compare([gcc, "-O2", "-c", src, "-o", out], cwd=work,
                                       opts=["--follow-children"], min_allocations=50)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), want, "the object file differs under memtrack")
        # The driver's children: cc1 (the compiler proper) and as, each a capture of its own.
        children = re.findall(r"^  (\S+): (\S+) \(pid (\d+), (.*?)\)", tracked.stderr, re.M)
        names = sorted(c[1] for c in children)
        self.assertIn("cc1", names, tracked.stderr)
        self.assertTrue(any(n == "as" or n.endswith("-as") for n in names), tracked.stderr)
        for path, name, pid, end in children:
            self.assertEqual(end, "exit 0", tracked.stderr)
            data = self.load(path)
            self.assertTrue(data["followed"])
            self.assertEqual(data["parent_pid"], driver["pid"], name)
            if name == "cc1":
                self.assertGreater(data["totals"]["allocations"], 10000)

    def test_cxx_exceptions(self):
        tracked, data = self.compare([program("cxx_exceptions")], min_allocations=2000)
        self.assertEqual(tracked.stdout, "caught 1000\nsum 54390\n")
        self.assertLeak(data, "leak_once", 1, 40)
        # Everything else was freed: the thrown objects, their messages, the unwound vectors
        # (what libstdc++ keeps for the process, its emergency pool, is all that remains).
        others = [e for e in data["leaks"]
                  if not any(name_is(f.get("function"), "leak_once") for f in e["stack"])]
        self.assertLessEqual(sum(e["live_blocks"] for e in others), 2, others)


class HttpServer(MemtrackCase):
    """python3 -m http.server (a thread per request) under memtrack run, 4 client threads
    fetching files, two snapshots while it serves, then SIGTERM."""

    def test_threaded_server_under_load(self):
        docroot = self.tempdir()
        files = {}
        for i in range(8):
            body = ("file %d\n" % i).encode() * (200 * (i + 1))
            files["f%d.txt" % i] = body
            with open(os.path.join(docroot, "f%d.txt" % i), "wb") as f:
                f.write(body)
        argv = [MEMTRACK, "run", "-o", os.path.join(docroot, "srv.%p.mtc"), "--",
                PYTHON, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"]
        env = dict(os.environ, PYTHONMALLOC="malloc")
        proc = subprocess.Popen(argv, cwd=docroot, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                preexec_fn=_no_core, start_new_session=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        line = LineReader(proc.stdout).wait("Serving HTTP on", timeout=60)
        port = int(re.search(r"port (\d+)", line).group(1))
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            server_pid = int(f.read().split()[0])

        errors = []

        def client(k, rounds):
            for r in range(rounds):
                name = "f%d.txt" % ((k + r) % 8)
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, name),
                                                timeout=30) as resp:
                        if resp.read() != files[name]:
                            errors.append("wrong body for " + name)
                except OSError as e:
                    errors.append(str(e))

        snapshots = []
        for phase in range(2):
            threads = [threading.Thread(target=client, args=(k, 10)) for k in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.05)
            snap = run_proc([MEMTRACK, "snapshot", str(server_pid)], timeout=60)
            self.assertEqual(snap.returncode, 0, snap.stderr)
            snapshots.append(snap.stdout.strip())
            for t in threads:
                t.join(60)
        self.assertEqual(errors, [])
        # SIGTERM: Python's default, death by the signal (its SIGINT handling is racy), which
        # memtrack records, then passes on.
        os.kill(server_pid, signal.SIGTERM)
        proc.wait(60)
        self.assertEqual(proc.returncode, -signal.SIGTERM)
        for path in snapshots:
            data = self.load(path)  # allocations - frees = live, threads adding up
            self.assertEqual(data["end"]["reason"], "snapshot")
            self.assertGreater(data["totals"]["allocations"], 10000)
        final = self.load(os.path.join(docroot, "srv.%d.mtc" % server_pid))
        self.assertEqual(final["end"], {"reason": "signal", "value": signal.SIGTERM})
        # A thread per request: 80 requests, 80 threads besides the main one (and memtrack's).
        self.assertGreaterEqual(len(final["threads"]), 81)
        first = self.load(snapshots[0])
        self.assertGreater(final["totals"]["allocations"], first["totals"]["allocations"])


if __name__ == "__main__":
    unittest.main()
