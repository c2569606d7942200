#!/usr/bin/env python3
"""Benchmark memtrack against an untracked run and against heaptrack, in the same run.

Every workload is run plain, under `memtrack run`, and under `heaptrack`, alternating the three
variants inside each round so that a noisy moment on this shared machine hits all of them. Results
are medians over rounds, and the figures that matter are ratios (traced / plain), never absolute
seconds. See bench/README.md and docs/PERFORMANCE.md. Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
MODES = ("full", "count", "sample")  # memtrack's modes, each a variant "memtrack-MODE"
VARIANTS = ("plain",) + tuple("memtrack-" + m for m in MODES) + ("heaptrack",)
# --breakdown: count mode through the reduced preload builds (CMakeLists.txt), run directly with
# LD_PRELOAD; variant -> (CMake target, what it keeps).
BREAKDOWN = {
    "count-hooks": ("memtrack_preload_hooks", "the hooks alone: every call interposed, nothing "
                    "recorded"),
    "count-notable": ("memtrack_preload_notable", "count mode without the live table: "
                      "allocations counted, peaks and timeline kept, frees not matched to blocks"),
}
# Targets of the performance issue, as ratios traced / plain (full's is relative to heaptrack).
MODE_LIMIT = {"count": 1.10, "sample": 1.03}
CHURN2_FULL_LIMIT = 2.0
ESTIMATE_TOLERANCE = 0.05  # sampled estimates of the top call paths vs the full figures
TOP_PATHS = 5
SHARE_MIN_OVERHEAD = 0.05  # --breakdown: below this count-mode overhead, no share is computed
MARK_BEGIN = "<!-- bench/run.py results: begin (generated, do not edit by hand) -->"
MARK_END = "<!-- bench/run.py results: end -->"
# Processes whose presence means someone is compiling on this 2-core machine.
BUILD_COMMS = {"cc1", "cc1plus", "collect2", "ld", "ld.bfd", "ld.gold", "make", "ninja", "cmake"}

# The Python workload: dicts and lists of strings, every object through malloc (PYTHONMALLOC).
# It runs from a file, not with -c: heaptrack 1.4 writes the command line into its data stream,
# and a newline in an argument corrupts the stream (heaptrack exits 141 with no data).
PYTHON_CODE = r"""
import sys
n = int(sys.argv[1])
total = 0
for r in range(3):
    d = {}
    for i in range(n):
        k = "key-%d-%d" % (r, i)
        d[k] = [str(i), k.upper(), (i, r)]
    words = [v[1].lower() for v in d.values() if len(v[0]) % 2 == 0]
    total += len(d) + len(words) + sum(len(w) for w in words[:1000])
    del d, words
print(total)
"""

# The SQLite workload: an in-memory table filled by a recursive CTE, then two indexes built.
# The "random" text is a deterministic hash of the row number so every run does the same work.
SQLITE_SCRIPT = """
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, payload TEXT);
WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {rows})
INSERT INTO t(k, name, payload)
SELECT (x * 2654435761) % 1000003,
       printf('n%08x', (x * 2246822519) % 4294967296),
       substr('the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ',
              1 + x % 37, 8 + x % 41)
FROM seq;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_k ON t(k, payload);
SELECT count(*), sum(k) % 1000000007, sum(length(payload)) FROM t WHERE name > 'n8';
"""


# The Perl workload: hashes of strings and arrays, sorted and joined.
PERL_CODE = r"""
my $n = shift;
my $total = 0;
for my $r (0 .. 2) {
    my %h;
    for my $i (1 .. $n) {
        my $k = "key-$r-$i";
        $h{$k} = [$i, uc($k), "$i:$r"];
    }
    my @w = map { lc($_->[1]) } grep { $_->[0] % 2 == 0 } values %h;
    $total += scalar(keys %h) + scalar(@w);
}
print "$total\n";
"""

# The Ruby workload: objects, strings, arrays and hashes.
RUBY_CODE = r"""
n = ARGV[0].to_i
total = 0
3.times do |r|
  h = {}
  n.times { |i| k = "key-#{r}-#{i}"; h[k] = [i, k.upcase, "#{i}:#{r}"] }
  w = h.values.select { |v| v[0].even? }.map { |v| v[1].downcase }
  total += h.size + w.size
end
puts total
"""


def generated_c_source(functions):
    """A large C file for the compiler workload: many functions with loops, structs and
    switch statements, so cc1 builds big trees and RTL (allocation-heavy, as real builds are)."""
    out = ["#include <stddef.h>", "struct s { int a, b; double c; struct s *next; };"]
    for i in range(functions):
        out.append(f"""
static int f{i}(struct s *p, int n)
{{
    int acc = {i};
    for (int k = 0; k < n; k++) {{
        switch ((k + acc) % 7) {{
        case 0: acc += p->a * {i % 13 + 1}; break;
        case 1: acc ^= p->b + k; break;
        case 2: p->c += acc / (k + 1.0); break;
        case 3: acc -= (int)p->c; break;
        case 4: if (p->next) p = p->next; break;
        default: acc = acc * 31 + k;
        }}
    }}
    return acc + (p->next ? f{i - 1 if i else 0}(p->next, n - 1) : 0);
}}""")
    out.append("int run(struct s *p, int n)\n{\n    int t = 0;")
    out.extend(f"    t += f{i}(p, n);" for i in range(functions))
    out.append("    return t;\n}")
    return "\n".join(out) + "\n"


def find_cc1():
    """The C compiler proper (cc1) of the system gcc, run directly so the workload is one
    process (the driver would fork it)."""
    try:
        r = subprocess.run(["gcc", "-print-prog-name=cc1"], stdout=subprocess.PIPE, text=True,
                           timeout=20)
        path = r.stdout.strip()
        return path if os.path.isabs(path) and os.access(path, os.X_OK) else "cc1"
    except (OSError, subprocess.SubprocessError):
        return "cc1"


class Workload:
    def __init__(self, name, what, argv, env=None, stdin_text=None, needs=None):
        self.name = name
        self.what = what
        self.argv = argv
        self.env = env or {}
        self.stdin_text = stdin_text
        self.needs = needs or argv[0]  # the program that must exist, else the workload is skipped
        self.stdin_path = None


def make_workloads(churn_path, workdir):
    churn_iters = "8000000"
    py_script = os.path.join(workdir, "python_workload.py")
    with open(py_script, "w") as f:
        f.write(PYTHON_CODE)
    pl_script = os.path.join(workdir, "perl_workload.pl")
    with open(pl_script, "w") as f:
        f.write(PERL_CODE)
    rb_script = os.path.join(workdir, "ruby_workload.rb")
    with open(rb_script, "w") as f:
        f.write(RUBY_CODE)
    c_file = os.path.join(workdir, "generated.c")
    with open(c_file, "w") as f:
        f.write(generated_c_source(700))
    cc1 = find_cc1()
    return [
        Workload("churn2", f"bench/churn.c, 2 threads x {churn_iters} malloc/free",
                 [churn_path, "2", churn_iters]),
        Workload("churn4", f"bench/churn.c, 4 threads x {int(churn_iters) // 2} malloc/free",
                 [churn_path, "4", str(int(churn_iters) // 2)]),
        Workload("churn2fp", f"churn2 built with -fno-omit-frame-pointer",
                 [churn_path + "-fp", "2", churn_iters]),
        Workload("python", "PYTHONMALLOC=malloc /usr/bin/python3: dicts/lists of strings",
                 ["/usr/bin/python3", py_script, "200000"],
                 env={"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}),
        Workload("sqlite", "sqlite3 :memory:, 400k-row recursive-CTE insert + 2 indexes",
                 ["sqlite3", ":memory:"], stdin_text=SQLITE_SCRIPT.format(rows=400000)),
        Workload("perl", "/usr/bin/perl: hashes of strings and arrays",
                 ["/usr/bin/perl", pl_script, "150000"]),
        Workload("ruby", "/usr/bin/ruby: hashes, arrays and strings",
                 ["/usr/bin/ruby", "--disable-gems", rb_script, "300000"]),
        Workload("cc1", "gcc's cc1 -O2 on a generated 700-function C file",
                 [cc1, "-quiet", "-O2", c_file, "-o", os.devnull]),
    ]


def die(msg):
    print(f"run.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def command_output(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=20)
        return r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info():
    info = {}
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["nproc"] = str(os.cpu_count())
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = cpu
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    info["memory"] = mem
    info["kernel"] = platform.release()
    try:
        info["glibc"] = os.confstr("CS_GNU_LIBC_VERSION").replace("glibc ", "")
    except (ValueError, OSError):
        info["glibc"] = "unknown"
    info["heaptrack"] = command_output(["heaptrack", "--version"]).replace("heaptrack ", "") \
        if shutil.which("heaptrack") else "not installed"
    info["sqlite3"] = command_output(["sqlite3", "--version"]).split(" ")[0] \
        if shutil.which("sqlite3") else "not installed"
    info["python"] = command_output(["/usr/bin/python3", "--version"]).replace("Python ", "") \
        if os.path.exists("/usr/bin/python3") else "not installed"
    info["cc"] = re.sub(r"^cc ", "", command_output(["cc", "--version"]).splitlines()[0]) \
        if shutil.which("cc") else "not installed"
    commit = command_output(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"])
    info["memtrack commit"] = commit if re.fullmatch(r"[0-9a-f]{4,40}", commit) else "none"
    info["load average at start"] = "%.2f %.2f %.2f" % os.getloadavg()
    return info


def cpu_busy(interval=1.0):
    """Fraction of all CPUs busy over `interval` seconds, from /proc/stat (while we run nothing)."""
    def sample():
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        return sum(vals), idle
    try:
        t0, i0 = sample()
        time.sleep(interval)
        t1, i1 = sample()
    except (OSError, ValueError):
        return 0.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def builds_running():
    """Names of compiler/build processes running now (other people's builds skew timings)."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in BUILD_COMMS:
            found.add(comm)
    return sorted(found)


class Result:
    """One timed command: wall seconds, exit code, peak RSS, CPU, and why it failed (if it did)."""

    def __init__(self):
        self.wall = None
        self.rc = None
        self.maxrss_kb = None
        self.cpu = None
        self.stdout = b""
        self.stderr = b""
        self.failure = None


def timed_run(argv, env, stdin_path, out_path, err_path, timeout):
    """Runs argv, timing the whole command with perf_counter; rusage comes from wait4.

    The wall time includes everything the command does before it exits (a tracker writing its
    file, heaptrack waiting for its interpreter). ru_maxrss from wait4 is the largest peak RSS of
    the child and of the descendants it waited for (Linux keeps a max, not a sum)."""
    res = Result()
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, env=env, stdin=stdin, stdout=out, stderr=err,
                                 start_new_session=True)
        except OSError as e:
            res.failure = f"cannot start: {e.strerror}"
            return res
        finally:
            if stdin_path:
                stdin.close()
        timed_out = []

        def kill():
            timed_out.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except KeyboardInterrupt:
            kill()  # the child is in its own session, so ^C did not reach it
            raise
        finally:
            timer.cancel()
        t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    res.wall = t1 - t0
    res.rc = p.returncode
    res.maxrss_kb = ru.ru_maxrss
    res.cpu = ru.ru_utime + ru.ru_stime
    with open(out_path, "rb") as f:
        res.stdout = f.read()
    with open(err_path, "rb") as f:
        res.stderr = f.read()
    if timed_out:
        res.failure = f"timeout {timeout:g}s"
    elif res.rc < 0:
        res.failure = f"killed by signal {-res.rc}"
    elif res.rc != 0:
        res.failure = f"exit {res.rc}"
    return res


def same_output(expected, got):
    """Whether every line the plain run printed appears, in order, in a traced run's stdout
    (heaptrack adds its own lines around the program's)."""
    lines = got.decode(errors="replace").splitlines()
    pos = 0
    for want in expected.decode(errors="replace").splitlines():
        while pos < len(lines) and lines[pos] != want:
            pos += 1
        if pos == len(lines):
            return False
        pos += 1
    return True


def last_line(data):
    text = data.decode(errors="replace").strip().splitlines()
    return text[-1][:160] if text else ""


class Bench:
    def __init__(self, args, memtrack, workdir):
        self.args = args
        self.memtrack = memtrack
        self.workdir = workdir
        self.seq = 0
        # samples[workload][key] -> list of Result; keys: plain, memtrack, heaptrack,
        # memtrack-report, heaptrack-print. sizes[workload][variant] -> list of bytes.
        self.samples = {}
        self.sizes = {}
        self.expected = {}
        self.busy_rounds = []
        self.failure_details = {}  # (workload, what) -> last line of stderr, for the notes
        self.json = {}  # json[workload][variant] -> the JSON report of its first capture
        self.live_cost = {}  # mode -> engine bytes per live block (live_block_cost)
        self.variants = VARIANTS + (tuple(BREAKDOWN) if args.breakdown else ())
        self.breakdown_libs = {}  # variant -> the reduced preload library (build_breakdown)

    def run_dir(self):
        self.seq += 1
        d = os.path.join(self.workdir, f"run{self.seq}")
        os.mkdir(d)
        return d

    def env_for(self, w):
        env = dict(os.environ)
        env.update(w.env)
        return env

    def run_variant(self, w, variant):
        d = self.run_dir()
        if variant == "plain":
            argv = list(w.argv)
        elif variant in BREAKDOWN:
            argv = list(w.argv)
        elif variant.startswith("memtrack-"):
            argv = [self.memtrack, "run", "-o", os.path.join(d, "capture.mtc"), "--mode",
                    variant[len("memtrack-"):]] + self.args.memtrack_args + ["--"] + w.argv
        else:
            argv = ["heaptrack", "-o", os.path.join(d, "heaptrack")] + w.argv
        env = self.env_for(w)
        if variant in BREAKDOWN:
            env.update(LD_PRELOAD=self.breakdown_libs[variant], MEMTRACK_MODE="count",
                       MEMTRACK_OUTPUT=os.path.join(d, "capture.mtc"))
        res = timed_run(argv, env, w.stdin_path, os.path.join(self.workdir, "stdout"),
                        os.path.join(self.workdir, "stderr"), self.args.timeout)
        files = sorted(os.path.join(d, f) for f in os.listdir(d))
        size = sum(os.path.getsize(f) for f in files)
        if res.failure is None:
            if variant == "plain":
                self.expected.setdefault(w.name, res.stdout)
                if res.stdout != self.expected[w.name]:
                    res.failure = "output differs between plain runs"
            elif not same_output(self.expected.get(w.name, b""), res.stdout):
                res.failure = "program output differs from the plain run"
            elif not self.capture_of(variant, d, files):
                res.failure = "no capture file written"
        if res.failure and variant != "plain":
            detail = last_line(res.stderr)
            self.failure_details.setdefault((w.name, variant), f"{res.failure}: " +
                                            detail.replace(self.workdir, "WORKDIR"))
            note(f"  {w.name}/{variant}: FAILED ({res.failure}){': ' + detail if detail else ''}")
        self.samples[w.name].setdefault(variant, []).append(res)
        if res.failure is None and variant != "plain" and variant not in BREAKDOWN:
            self.sizes[w.name].setdefault(variant, []).append(size)
            report = self.time_report(w, variant, d, files)
            if report.failure:
                # A capture its own reader rejects is no capture: the run failed too.
                res.failure = f"capture unreadable ({report.failure} from report)"
                self.sizes[w.name][variant].pop()
            elif variant.startswith("memtrack-") and variant not in self.json[w.name]:
                self.json[w.name][variant] = self.json_report(self.capture_of(variant, d, files))
        shutil.rmtree(d, ignore_errors=True)
        return res

    @staticmethod
    def capture_of(variant, d, files):
        """The (non-empty) capture a traced run left in its directory, or None. A memtrack
        capture left only as NAME.tmp.PID is incomplete and does not count."""
        want = [os.path.join(d, "capture.mtc")] if variant.startswith(("memtrack", "count-")) else \
            [os.path.join(d, "heaptrack." + ext) for ext in ("zst", "gz")]
        for f in want:
            if f in files and os.path.getsize(f) > 0:
                return f
        return None

    def time_report(self, w, variant, d, files):
        """Times the text report of the capture just written, output to /dev/null."""
        capture = self.capture_of(variant, d, files)
        if variant.startswith("memtrack"):
            argv, key = [self.memtrack, "report", capture], variant + "-report"
        else:
            argv, key = ["heaptrack_print", capture], "heaptrack-print"
        res = timed_run(argv, dict(os.environ), None, os.devnull,
                        os.path.join(self.workdir, "stderr"), self.args.timeout)
        if res.failure:
            detail = last_line(res.stderr)
            self.failure_details.setdefault((w.name, key), f"{res.failure}: " +
                                            detail.replace(self.workdir, "WORKDIR"))
            note(f"  {w.name}/{key}: FAILED ({res.failure}): {detail}")
        self.samples[w.name].setdefault(key, []).append(res)
        return res

    def json_report(self, capture):
        """The JSON report of one capture (untimed), for the tracker's memory and the sampled
        estimates; None if it cannot be had."""
        try:
            r = subprocess.run([self.memtrack, "report", "--format", "json", "--top",
                                str(4 * TOP_PATHS), capture], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, timeout=self.args.timeout)
            return json.loads(r.stdout) if r.returncode == 0 else None
        except (OSError, ValueError, subprocess.SubprocessError):
            return None

    def wait_quiet(self, round_no):
        """Before a round, waits (up to --wait-quiet seconds) until no compiler runs and other
        processes use less than a quarter of the CPUs; if that does not happen, notes it."""
        deadline = time.monotonic() + self.args.wait_quiet
        while True:
            builds = builds_running()
            busy = cpu_busy()
            if not builds and busy < 0.25:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(5)
        why = f"{busy:.0%} of the CPUs busy before it started"
        if builds:
            why += f", build processes running ({', '.join(builds)})"
        self.busy_rounds.append(f"round {round_no}: {why}")
        note(f"round {round_no}: note: {why}")

    def run(self, workloads):
        for w in workloads:
            self.samples[w.name] = {}
            self.sizes[w.name] = {}
            self.json[w.name] = {}
            if w.stdin_text is not None:
                w.stdin_path = os.path.join(self.workdir, f"{w.name}.stdin")
                with open(w.stdin_path, "w") as f:
                    f.write(w.stdin_text)
            # One untimed plain run: warms the page cache and records the expected output.
            res = self.run_variant(w, "plain")
            self.samples[w.name]["plain"].clear()
            note(f"warm-up {w.name}: {res.wall:.2f}s" if res.failure is None
                 else f"warm-up {w.name}: plain run FAILED ({res.failure})")
        for r in range(self.args.runs):
            self.wait_quiet(r + 1)
            for w in workloads:
                times = []
                for variant in self.variants:
                    res = self.run_variant(w, variant)
                    times.append("FAIL" if res.failure else f"{res.wall:.2f}s")
                note(f"round {r + 1}/{self.args.runs} {w.name}: " +
                     "  ".join(f"{v} {t}" for v, t in zip(self.variants, times)))

    def build_breakdown(self):
        """Builds the reduced preload libraries next to the memtrack CLI (its build tree)."""
        build_dir = os.path.dirname(self.memtrack)
        targets = [t for t, _ in BREAKDOWN.values()]
        r = subprocess.run(["cmake", "--build", build_dir, "--target"] + targets,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            die(f"--breakdown: cannot build {', '.join(targets)} in {build_dir} (it must be the "
                f"CMake build tree of --memtrack): {last_line(r.stdout.encode())}")
        for variant, (target, _) in BREAKDOWN.items():
            self.breakdown_libs[variant] = os.path.join(build_dir, f"lib{target}.so")


def summarize(results):
    """Median wall time of a list of Result, or a failure string if any of them failed."""
    if not results:
        return None, "not run"
    failed = [r for r in results if r.failure]
    if failed:
        reasons = sorted({r.failure for r in failed})
        return None, f"FAIL {len(failed)}/{len(results)}: {'; '.join(reasons)}"
    return statistics.median(r.wall for r in results), None


def fmt_s(v):
    return f"{v:.2f}" if v is not None else "—"


def fmt_mib(kb):
    return f"{kb / 1024:.0f}" if kb is not None else "—"


def fmt_size(n):
    if n is None:
        return "—"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def median_or_none(values):
    return statistics.median(values) if values else None


def median_int(values):
    return int(statistics.median(values)) if values else None


def path_key(entry):
    """A call path of a JSON report, comparable between runs (addresses move with ASLR)."""
    return tuple((os.path.basename(f.get("module") or ""), f.get("offset"))
                 for f in entry.get("stack") or [])


def estimate_errors(full, sample, key, figure):
    """For the TOP_PATHS biggest call paths of full[key] (by `figure`), the relative error of the
    sample capture's estimate; a path the sample did not list counts as estimated at 0."""
    if not full or not sample:
        return None
    if key == "peak":
        fl, sl = full["peak"]["contributors"], sample["peak"]["contributors"]
    else:
        fl, sl = full[key], sample[key]
    est = {}
    for e in sl:
        est[path_key(e)] = est.get(path_key(e), 0) + e[figure]
    errs = []
    for e in sorted(fl, key=lambda e: -e[figure])[:TOP_PATHS]:
        if e[figure] > 0:
            errs.append(abs(est.get(path_key(e), 0) - e[figure]) / e[figure])
    return errs


LIVE_SMALL, LIVE_LARGE = 100000, 4000000


def live_block_cost(memtrack, live_path, workdir, timeout):
    """The engine's memory per live block in each mode: META.engine_bytes of `live N` (N blocks
    kept live from one call path) for two values of N, (large - small) / (N_large - N_small).
    Returns {mode: bytes per block} (absent when a run failed)."""
    out = {}
    for mode in MODES:
        eng = {}
        for n in (LIVE_SMALL, LIVE_LARGE):
            cap = os.path.join(workdir, f"live-{mode}-{n}.mtc")
            r = subprocess.run([memtrack, "run", "-o", cap, "--mode", mode, "--", live_path,
                                str(n)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=timeout)
            rep = subprocess.run([memtrack, "report", "--format", "json", cap],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 timeout=timeout)
            if r.returncode != 0 or rep.returncode != 0:
                break
            eng[n] = json.loads(rep.stdout)["engine_bytes"]
        if len(eng) == 2:
            out[mode] = (eng[LIVE_LARGE] - eng[LIVE_SMALL]) / (LIVE_LARGE - LIVE_SMALL)
    return out


def cell_of(ratio, err, v):
    return f"{ratio[v]:.2f}" if v in ratio else (err[v] or "—")


def build_tables(bench, workloads, info, runs):
    """Returns (tables: list of (caption, lines)), target lines), all Markdown."""
    mem_variants = ["memtrack-" + m for m in MODES]
    main = ["| workload | plain s | " + " | ".join(f"{m} ×" for m in MODES) +
            " | heaptrack × | (full−1)/(h−1) |",
            "| --- | ---: | " + " | ".join("---:" for _ in MODES) + " | ---: | ---: |"]
    secs = ["| workload | " + " | ".join(f"{v} s" for v in VARIANTS) + " |",
            "| --- | " + " | ".join("---:" for _ in VARIANTS) + " |"]
    detail = ["| workload | capture " + " / ".join(MODES) + " / heaptrack | peak RSS MiB "
              + " / ".join(v.replace("memtrack-", "") for v in VARIANTS) + " | report s "
              + " / ".join(MODES) + " | `heaptrack_print` s |",
              "| --- | ---: | ---: | ---: | ---: |"]
    memory = ["| workload | engine bytes (full) | live blocks at the peak | bytes per live block "
              "(incl. call tree) | call paths |",
              "| --- | ---: | ---: | ---: | ---: |"]
    est = [f"| workload | leaked bytes, top {TOP_PATHS} paths: max error | peak bytes, top "
           f"{TOP_PATHS} paths: max error | sampled allocations |",
           "| --- | ---: | ---: | ---: |"]
    parts = ["| workload | hooks alone × | count without the live table × | count × | the live "
             "table's share of count's overhead |", "| --- | ---: | ---: | ---: | ---: |"]
    targets = {"full": [], "count": [], "sample": [], "report": [], "estimates": []}
    ratios = {}
    for w in workloads:
        s = bench.samples.get(w.name, {})
        if getattr(w, "skipped", None):
            main.append(f"| {w.name} | skipped: {w.skipped} | | | | | |")
            continue
        med, err = {}, {}
        for v in VARIANTS:
            med[v], err[v] = summarize(s.get(v, []))
        ratio = {}
        for v in VARIANTS[1:]:
            if med["plain"] and med[v] is not None:
                ratio[v] = med[v] / med["plain"]
        ratios[w.name] = ratio
        if bench.args.breakdown:
            bd = {}
            for v in BREAKDOWN:
                m, e = summarize(s.get(v, []))
                bd[v] = f"{m / med['plain']:.2f}" if m is not None and med["plain"] else (e or "—")
            share = "—"
            notable, count = summarize(s.get("count-notable", []))[0], med["memtrack-count"]
            if notable is not None and count is not None and med["plain"]:
                # a share of an overhead within the rounds' noise means nothing
                share = (f"{(count - notable) / (count - med['plain']):.0%}"
                         if count > med["plain"] * (1 + SHARE_MIN_OVERHEAD) else
                         f"— (count within {SHARE_MIN_OVERHEAD:.0%} of plain)")
            parts.append(f"| {w.name} | {bd['count-hooks']} | {bd['count-notable']} | "
                         f"{cell_of(ratio, err, 'memtrack-count')} | {share} |")
        rel = "—"
        full, heap = ratio.get("memtrack-full"), ratio.get("heaptrack")
        if full is not None and heap is not None and heap > 1:
            frac = (full - 1) / (heap - 1)
            rel = f"{frac:.2f}"
            targets["full"].append((w.name, frac <= 1 / 3, f"{frac:.2f}"))
        elif err["memtrack-full"]:
            targets["full"].append((w.name, False, "failed"))
        for m in ("count", "sample"):
            r = ratio.get("memtrack-" + m)
            targets[m].append((w.name, r is not None and r <= MODE_LIMIT[m],
                               f"{r:.2f}×" if r is not None else "failed"))

        def cell(v):
            return cell_of(ratio, err, v)
        main.append(f"| {w.name} | {fmt_s(med['plain']) if err['plain'] is None else err['plain']}"
                    f" | " + " | ".join(cell(v) for v in mem_variants) +
                    f" | {cell('heaptrack')} | {rel} |")
        def spread(v):
            walls = [r.wall for r in s.get(v, [])]
            return (f"{fmt_s(med[v])} ({fmt_s(min(walls))}–{fmt_s(max(walls))})"
                    if err[v] is None else err[v])
        secs.append(f"| {w.name} | " + " | ".join(spread(v) for v in VARIANTS) + " |")

        def ok_vals(key, attr):
            return [getattr(r, attr) for r in s.get(key, []) if r.failure is None]

        rss = " / ".join(fmt_mib(median_or_none(ok_vals(v, "maxrss_kb"))) for v in VARIANTS)
        sizes = " / ".join(fmt_size(median_int(bench.sizes[w.name].get(v, [])))
                           for v in mem_variants + ["heaptrack"])
        rep = {}
        for key in [v + "-report" for v in mem_variants] + ["heaptrack-print"]:
            rep[key] = summarize(s.get(key, []))
        mrep = " / ".join(fmt_s(m) if e is None else e for m, e in
                          (rep[v + "-report"] for v in mem_variants))
        hp = rep["heaptrack-print"]
        detail.append(f"| {w.name} | {sizes} | {rss} | {mrep} | "
                      f"{fmt_s(hp[0]) if hp[1] is None else hp[1]} |")
        mr = rep["memtrack-full-report"][0]
        if mr is not None and hp[0] is not None:
            targets["report"].append((w.name, mr < hp[0], f"{mr:.2f} s vs {hp[0]:.2f} s"))

        js = bench.json.get(w.name, {})
        jf, jsmp = js.get("memtrack-full"), js.get("memtrack-sample")
        if jf:
            blocks = jf["totals"]["peak_blocks"]
            per = f"{jf['engine_bytes'] / blocks:.0f}" if blocks else "—"
            memory.append(f"| {w.name} | {fmt_size(jf['engine_bytes'])} | {blocks} | {per} "
                          f"| {jf.get('leak_call_paths', '—')} leaking |")
        errs = [estimate_errors(jf, jsmp, "leaks", "live_bytes"),
                estimate_errors(jf, jsmp, "peak", "bytes")]
        cells = ["—" if e is None else (f"{max(e):.1%}" if e else "none") for e in errs]
        if jsmp:
            est.append(f"| {w.name} | {cells[0]} | {cells[1]} | "
                       f"{jsmp.get('sampled_allocations', '—')} |")
            worst = max((max(e) for e in errs if e), default=None)
            if worst is not None:
                targets["estimates"].append((w.name, worst <= ESTIMATE_TOLERANCE, f"{worst:.1%}"))

    lines = []

    def verdict(name, rows, limit):
        if not rows:
            return
        bad = [f"{wn} ({val})" for wn, ok, val in rows if not ok]
        good = [f"{wn} ({val})" for wn, ok, val in rows if ok]
        lines.append(f"- {name} ({limit}): " + ("met on every workload" if not bad else
                     "**missed** on " + ", ".join(bad)) +
                     (("; met on " + ", ".join(good)) if bad and good else
                      (": " + ", ".join(good) if good else "")))
    verdict("full: overhead at most 1/3 of heaptrack's", targets["full"], "(m−1)/(h−1) ≤ 0.33")
    r2 = ratios.get("churn2", {}).get("memtrack-full")
    if r2 is not None:
        lines.append(f"- full: churn2 at most {CHURN2_FULL_LIMIT}×: {r2:.2f}× — "
                     f"{'met' if r2 <= CHURN2_FULL_LIMIT else '**missed**'}")
    verdict("count: at most 1.10×", targets["count"], "ratio")
    verdict("sample: at most 1.03×", targets["sample"], "ratio")
    verdict(f"sample: estimates of the top {TOP_PATHS} call paths' leaked and peak bytes within "
            f"{ESTIMATE_TOLERANCE:.0%} of full mode's", targets["estimates"], "max error")
    verdict("report generation faster than `heaptrack_print`", targets["report"],
            "`memtrack report` of the full capture")
    c2, c4 = ratios.get("churn2", {}), ratios.get("churn4", {})
    if "memtrack-full" in c2 and "memtrack-full" in c4:
        growth = c4["memtrack-full"] / c2["memtrack-full"]
        lines.append(f"- no collapse with threads: full {c2['memtrack-full']:.2f}× on churn2 → "
                     f"{c4['memtrack-full']:.2f}× on churn4 (×{growth:.2f}) — "
                     f"{'met' if growth <= 1.5 else '**missed**'} (limit ×1.5)")
    if bench.live_cost:
        worst = max(bench.live_cost.values())
        lines.append(f"- tracker memory at most 48 bytes per live allocation plus the call tree: "
                     + ", ".join(f"{m} {v:.1f}" for m, v in bench.live_cost.items()) +
                     f" bytes per live block — {'met' if worst <= 48 else '**missed**'}")
    tables = [
        (f"Ratios traced / plain of median wall times over {runs} rounds (variants alternated "
         "within each round); (full−1)/(h−1) = full mode's overhead as a fraction of "
         "heaptrack's.", main),
        ("Median wall times, seconds, and in brackets the fastest and slowest round (a wide "
         "range means the median is unstable: see the notes on the churns' two speeds).", secs),
        ("Capture size, peak RSS (`ru_maxrss` from `wait4`: the largest single process of the "
         "command's tree, so for heaptrack the larger of the program and its "
         "`heaptrack_interpret` helper, not their sum), and the time of a text report of one "
         "capture (output to /dev/null); medians.", detail),
        ("The tracker's own memory (META.engine_bytes of the first full-mode capture: all it "
         "mapped, live table and call tree included) per block live at the peak.", memory),
        ("The engine's memory per live block, measured: `bench/live.c` keeps N blocks live from "
         f"one call path; (engine_bytes at N = {LIVE_LARGE} − at N = {LIVE_SMALL}) / "
         f"{LIVE_LARGE - LIVE_SMALL}.",
         ["| mode | bytes per live block |", "| --- | ---: |"] +
         [f"| {m} | {v:.1f} |" for m, v in bench.live_cost.items()]),
        (f"Sample mode's estimates (default mean, 512 KiB) against full mode's exact figures: "
         f"for the {TOP_PATHS} call paths with the most leaked bytes, and the {TOP_PATHS} with "
         "the most bytes at the peak, the largest relative error of the sampled estimate "
         "(first capture of each mode; a path absent from the sample counts as 100 %).", est),
    ]
    if bench.args.breakdown:
        tables.append((
            "Where count mode's overhead goes (`--breakdown`): ratios to the plain run of two "
            "reduced builds of the preload library, run with `LD_PRELOAD` in count mode in the "
            "same rounds: " + "; ".join(f"**{v}** = {what}" for v, (_, what) in BREAKDOWN.items())
            + ". The share is (count − without the table) / (count − plain).", parts))
    return tables, lines


def render(bench, workloads, info, args):
    tables, targets = build_tables(bench, workloads, info, args.runs)
    out = []
    out.append(f"Measured {info['date']} with `python3 bench/run.py --runs {args.runs}"
               f"{' --only ' + args.only if args.only else ''}"
               f"{' --breakdown' if args.breakdown else ''}"
               f"{f' --wait-quiet {args.wait_quiet:g}' if args.wait_quiet else ''}"
               f"{' --memtrack-args=' + shlex.quote(' '.join(args.memtrack_args)) if args.memtrack_args else ''}`"
               f" (memtrack commit {info['memtrack commit']}).")
    out.append("")
    out.append("Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()
                                       if k not in ("date", "memtrack commit")) + ".")
    if bench.busy_rounds:
        out.append("")
        out.append("The machine was not quiet (other processes' load; timings noisier than "
                   "usual): " + "; ".join(bench.busy_rounds) + ".")
    for caption, lines in tables:
        out.append("")
        out.append(caption)
        out.append("")
        out.extend(lines)
    skipped = [w for w in workloads if getattr(w, "skipped", None)]
    if bench.failure_details:
        out.append("")
        out.append("Failures (first of each kind, with the last line of the command's stderr):")
        out.append("")
        out.extend(f"- {wn} / {what}: {d}" for (wn, what), d in bench.failure_details.items())
    if targets:
        out.append("")
        out.append("Targets:")
        out.append("")
        out.extend(targets)
    if skipped:
        out.append("")
        out.extend(f"Skipped {w.name}: {w.skipped}." for w in skipped)
    return "\n".join(out) + "\n"


def write_markdown(path, text):
    block = f"{MARK_BEGIN}\n{text}{MARK_END}\n"
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = "# memtrack performance\n\n## Results\n\n"
    if MARK_BEGIN in old and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        new = head + block + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(
        description="Benchmark memtrack vs. an untracked run vs. heaptrack (ratios, same run).")
    ap.add_argument("--runs", type=int, default=5, help="rounds per workload (default 5)")
    ap.add_argument("--only",
                    help="comma-separated workloads: churn2,churn4,churn2fp,python,sqlite,perl,ruby,cc1")
    ap.add_argument("--memtrack", default=os.path.join(REPO_ROOT, "build", "memtrack"),
                    help="the memtrack CLI (default: build/memtrack in the repository)")
    ap.add_argument("--memtrack-args", default="",
                    help="extra options for `memtrack run`, e.g. --memtrack-args='--depth 16'")
    ap.add_argument("--markdown", metavar="FILE",
                    help="write/replace the results section of FILE (docs/PERFORMANCE.md)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per command (default 600)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each round, wait up to S seconds for the machine to be quiet "
                    "(no compiler, < 25%% CPU busy); default 0: just note it")
    ap.add_argument("--breakdown", action="store_true",
                    help="also run count mode through two reduced builds of the preload library "
                    "(the hooks alone; no live table) to show where its overhead goes")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    args.memtrack_args = shlex.split(args.memtrack_args)
    if args.runs < 1:
        die("--runs must be at least 1")

    memtrack = os.path.abspath(args.memtrack)
    if not (os.path.isfile(memtrack) and os.access(memtrack, os.X_OK)):
        die(f"memtrack CLI not found at {memtrack}; build it first "
            "(cmake -S . -B build && cmake --build build -j2) or pass --memtrack PATH")
    for tool in ("heaptrack", "heaptrack_print"):
        if shutil.which(tool) is None:
            die(f"{tool} is not installed (Debian: apt-get install heaptrack); the benchmark "
                "compares against it in the same run and cannot go on without it")

    workdir = tempfile.mkdtemp(prefix="memtrack-bench-")
    try:
        churn = os.path.join(workdir, "churn")
        churn_err = None
        cc = shutil.which("cc")
        if cc is None:
            churn_err = "no C compiler (cc) to build bench/churn.c"
        else:
            # as Debian builds (no frame pointers), and with frame pointers (Fedora 38+, Ubuntu
            # 24.04+), which memtrack's unwinder follows instead of the DWARF tables
            for out, extra in ((churn, []), (churn + "-fp", ["-fno-omit-frame-pointer"])):
                r = subprocess.run([cc, "-O2", "-g", "-pthread"] + extra + [
                                   "-o", out, os.path.join(BENCH_DIR, "churn.c")],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                if r.returncode != 0:
                    churn_err = "bench/churn.c did not compile: " + r.stdout.strip()[:300]
        workloads = make_workloads(churn, workdir)
        if args.only:
            wanted = [x.strip() for x in args.only.split(",") if x.strip()]
            known = {w.name for w in workloads}
            unknown = [x for x in wanted if x not in known]
            if unknown:
                die(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
            workloads = [w for w in workloads if w.name in wanted]
        for w in workloads:
            w.skipped = None
            if w.argv[0] in (churn, churn + "-fp") and churn_err:
                w.skipped = churn_err
            elif shutil.which(w.needs) is None:
                w.skipped = f"{w.needs} not found"
            if w.skipped:
                note(f"skipping {w.name}: {w.skipped}")
        active = [w for w in workloads if not w.skipped]

        info = machine_info()
        for k, v in info.items():
            note(f"{k}: {v}")
        bench = Bench(args, memtrack, workdir)
        if args.breakdown:
            bench.build_breakdown()
        bench.run(active)
        live = os.path.join(workdir, "live")
        if cc and subprocess.run([cc, "-O1", "-o", live, os.path.join(BENCH_DIR, "live.c")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                                 ).returncode == 0:
            bench.live_cost = live_block_cost(memtrack, live, workdir, args.timeout)
        info["load average at end"] = "%.2f %.2f %.2f" % os.getloadavg()
        text = render(bench, workloads, info, args)
        print(text)
        if args.markdown:
            write_markdown(args.markdown, text)
            note(f"results written to {args.markdown}")
    finally:
        if args.keep:
            note(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
