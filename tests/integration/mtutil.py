"""Shared helpers for the integration tests: run a test program under `memtrack run` in a
temporary directory, read its capture with `memtrack report --format json`, find leak entries
by function name, and check the invariants every capture must satisfy.

Environment: MEMTRACK_BUILD_DIR (the CMake build directory; default <source>/build) and
MEMTRACK_SOURCE_DIR (default: two levels above this file).
"""

import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(
    os.environ.get("MEMTRACK_SOURCE_DIR") or os.path.join(HERE, "..", ".."))
BUILD_DIR = os.path.abspath(
    os.environ.get("MEMTRACK_BUILD_DIR") or os.path.join(SOURCE_DIR, "build"))
MEMTRACK = os.path.join(BUILD_DIR, "memtrack")
PROGRAMS_DIR = os.path.join(BUILD_DIR, "tests", "programs")
PROGRAMS_SRC = os.path.join(SOURCE_DIR, "tests", "programs")
PRELOAD_NAME = "libmemtrack_preload.so"

TIMEOUT = 120  # seconds for any one subprocess
TOTAL_KEYS = ("allocations", "frees", "allocated_bytes", "freed_bytes", "live_blocks",
              "live_bytes", "peak_bytes", "peak_blocks", "temporary", "unknown_frees")


def program(name):
    """Path of a built test program (tests/programs/NAME.c or .cpp)."""
    return os.path.join(PROGRAMS_DIR, name)


def source_line(src_name, marker):
    """1-based line of the source file in tests/programs holding the comment `@marker`."""
    with open(os.path.join(PROGRAMS_SRC, src_name), encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if re.search(r"@%s\b" % re.escape(marker), line):
                return i
    raise AssertionError("marker @%s not found in %s" % (marker, src_name))


def _no_core():
    # Crashing test programs must not leave core files (or wait for a core handler).
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_proc(argv, cwd=None, timeout=TIMEOUT, input=None):
    """subprocess.run with text output, no core files, its own process group (killed whole
    on timeout, so no test program outlives its test), stdin from `input` or /dev/null."""
    proc = subprocess.Popen(argv, cwd=cwd or tempfile.gettempdir(), text=True,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_no_core, start_new_session=True)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError("timed out after %ss: %s\nstdout: %s\nstderr: %s" % (
            timeout, " ".join(argv), out[-2000:], err[-2000:]))
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def excerpt(obj, limit=4000):
    """A JSON excerpt for assertion messages."""
    text = json.dumps(obj, indent=1, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "\n... (%d more chars)" % (
        len(text) - limit)


def parse_kv_lines(stdout):
    """Lines `key a [b]` written by the test programs -> list of (key, [ints])."""
    out = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and all(p.lstrip("-").isdigit() for p in parts[1:]):
            out.append((parts[0], [int(p) for p in parts[1:]]))
    return out


def kv(stdout, key):
    """The first value of the first line `key N ...` a program printed."""
    for k, vals in parse_kv_lines(stdout):
        if k == key:
            return vals[0]
    raise AssertionError("program printed no `%s` line; stdout:\n%s" % (key, stdout))


class Result:
    """What one `memtrack run` left behind."""

    def __init__(self, argv, proc, workdir):
        self.argv = argv
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.workdir = workdir

    def files(self):
        return sorted(os.listdir(self.workdir))

    def path(self, name):
        return os.path.join(self.workdir, name)

    def describe(self):
        return "command: %s\nexit status: %s\nstdout:\n%s\nstderr:\n%s\nfiles: %s" % (
            " ".join(self.argv), self.returncode, self.stdout[-3000:], self.stderr[-3000:],
            self.files())


def run_plain(prog, args=(), timeout=TIMEOUT, cwd=None):
    """Runs a test program without memtrack; returns the CompletedProcess."""
    return run_proc([program(prog)] + list(args), cwd=cwd, timeout=timeout)


def report(capture, fmt="json", extra=(), timeout=TIMEOUT):
    """Runs `memtrack report`; returns the CompletedProcess (text)."""
    return run_proc([MEMTRACK, "report", "--format", fmt] + list(extra) + [capture],
                    timeout=timeout)


# --- reading stacks -------------------------------------------------------------------------

def fn_name(frame):
    return frame.get("function") or ""


def name_is(function, name):
    """True if a reported function name is `name`: plain C, demangled C++ (`name(...)`,
    `ns::name(...)`), or mangled (`_Z<len>name...`)."""
    if not function:
        return False
    if function == name:
        return True
    base = function.split("(", 1)[0].strip()
    if base == name or base.endswith("::" + name):
        return True
    return function.startswith("_Z%d%s" % (len(name), name))


def is_operator_new(function):
    return bool(function) and (function.startswith("operator new") or function in (
        "_Znwm", "_Znam", "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t") or
        function.startswith("_Znw") or function.startswith("_Zna"))


def user_frame_index(stack):
    """Index of the first frame below the operator new frames (0 for a C allocation)."""
    i = 0
    while i < len(stack) and is_operator_new(fn_name(stack[i])):
        i += 1
    return i


def leaks_of(data, name, inclusive=False):
    """Leak entries whose innermost user frame is function `name` (below any operator new
    frames); with inclusive=True, entries with `name` anywhere in the stack."""
    found = []
    for entry in data.get("leaks", []):
        stack = entry.get("stack") or []
        if inclusive:
            if any(name_is(fn_name(f), name) for f in stack):
                found.append(entry)
        else:
            i = user_frame_index(stack)
            if i < len(stack) and name_is(fn_name(stack[i]), name):
                found.append(entry)
    return found


def leak_sum(data, name, inclusive=False):
    """(live_blocks, live_bytes) summed over the leak entries of function `name`."""
    entries = leaks_of(data, name, inclusive)
    return (sum(e["live_blocks"] for e in entries), sum(e["live_bytes"] for e in entries))


def contributors_of(data, name):
    found = []
    for entry in data.get("peak", {}).get("contributors", []):
        stack = entry.get("stack") or []
        i = user_frame_index(stack)
        if i < len(stack) and name_is(fn_name(stack[i]), name):
            found.append(entry)
    return found


def thread_by_tid(data, tid):
    for t in data.get("threads", []):
        if t.get("tid") == tid:
            return t
    return None


def all_stacks(data):
    for entry in data.get("leaks", []):
        yield "leaks", entry.get("stack") or []
    for entry in data.get("peak", {}).get("contributors", []):
        yield "peak.contributors", entry.get("stack") or []


def brief(data):
    """The parts of a report worth showing in a failure message (stacks shortened)."""
    def short(entries):
        out = []
        for e in entries[:25]:
            e = dict(e)
            e["stack"] = ["%s %s:%s [%s]" % (f.get("function"), os.path.basename(
                f.get("file") or "?"), f.get("line"), os.path.basename(f.get("module") or "?"))
                for f in (e.get("stack") or [])[:8]]
            out.append(e)
        return out
    peak = dict(data.get("peak", {}))
    peak["contributors"] = short(peak.get("contributors", []))
    return {"totals": data.get("totals"), "threads": data.get("threads"),
            "end": data.get("end"), "pid": data.get("pid"), "parent_pid": data.get("parent_pid"),
            "depth": data.get("depth"), "degraded": data.get("degraded"),
            "leaks": short(data.get("leaks", [])), "peak": peak}


# --- test case base --------------------------------------------------------------------------

class MemtrackCase(unittest.TestCase):
    """Base class: temp directories, running programs under memtrack, reading captures."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.access(MEMTRACK, os.X_OK):
            raise AssertionError("memtrack not built: %s (set MEMTRACK_BUILD_DIR)" % MEMTRACK)

    @classmethod
    def tearDownClass(cls):
        # Temp dirs live as long as the class: tests cache runs shared by several methods.
        for d in cls.__dict__.get("_tempdirs", []):
            shutil.rmtree(d, True)

    def tempdir(self):
        d = tempfile.mkdtemp(prefix="mt-it-")
        if "_tempdirs" not in type(self).__dict__:
            type(self)._tempdirs = []
        type(self)._tempdirs.append(d)
        return d

    def run_memtrack(self, prog, args=(), opts=(), expect_rc=0, cwd=None, timeout=TIMEOUT,
                     prog_path=None):
        """Runs `memtrack run OPTS -- PROG ARGS` in a fresh temp dir (or cwd). Checks the exit
        status (an int, or -SIGNAL; None to skip) and that no half-written capture is left."""
        workdir = cwd or self.tempdir()
        argv = [MEMTRACK, "run"] + list(opts) + ["--", prog_path or program(prog)] + list(args)
        proc = run_proc(argv, cwd=workdir, timeout=timeout)
        res = Result(argv, proc, workdir)
        if expect_rc is not None:
            self.assertEqual(res.returncode, expect_rc,
                             "unexpected exit status\n" + res.describe())
        leftovers = [f for f in res.files() if ".tmp." in f]
        self.assertEqual(leftovers, [], "half-written capture left behind\n" + res.describe())
        return res

    def default_capture(self, res, prog, pid):
        """The capture at the default path ./memtrack.PROG.PID.mtc; asserts it exists."""
        name = "memtrack.%s.%d.mtc" % (prog, pid)
        self.assertIn(name, res.files(), "default capture missing\n" + res.describe())
        return res.path(name)

    def only_capture(self, res, prog):
        """The single capture a run left (checked to be ./memtrack.PROG.<pid>.mtc with the pid
        the program printed, when it printed one)."""
        caps = [f for f in res.files() if f.endswith(".mtc")]
        self.assertEqual(len(caps), 1, "expected exactly one capture\n" + res.describe())
        m = re.fullmatch(r"memtrack\.%s\.(\d+)\.mtc" % re.escape(prog), caps[0])
        self.assertTrue(m, "capture name %r is not memtrack.%s.<pid>.mtc" % (caps[0], prog))
        try:
            pid = kv(res.stdout, "pid")
        except AssertionError:
            pid = None
        if pid is not None:
            self.assertEqual(int(m.group(1)), pid, "capture named after another pid\n" +
                             res.describe())
        return res.path(caps[0])

    def load(self, capture, check=True, inherited=False):
        """`memtrack report --format json CAPTURE` -> dict; checks exit 0 and the invariants."""
        proc = report(capture)
        self.assertEqual(proc.returncode, 0, "memtrack report failed on %s:\n%s" % (
            capture, proc.stderr))
        try:
            data = json.loads(proc.stdout)
        except ValueError as e:
            raise AssertionError("report output is not JSON (%s):\n%s" % (e, proc.stdout[:2000]))
        if check:
            self.check_invariants(data, inherited=inherited)
        return data

    def run_and_load(self, prog, args=(), opts=(), expect_rc=0, **kw):
        res = self.run_memtrack(prog, args, opts, expect_rc=expect_rc)
        return res, self.load(self.only_capture(res, prog), **kw)

    # --- assertions ---

    def assertTotals(self, data, expected, what=""):
        """Each key of `expected` equals the same key of data["totals"]."""
        got = {k: data["totals"].get(k) for k in expected}
        self.assertEqual(got, dict(expected), "%s totals differ\n%s" % (what, excerpt(
            brief(data))))

    def assertLeak(self, data, name, blocks, nbytes, inclusive=False):
        got = leak_sum(data, name, inclusive)
        self.assertEqual(got, (blocks, nbytes),
                         "leaks of %s: (live_blocks, live_bytes) expected %r, got %r\n%s" % (
                             name, (blocks, nbytes), got, excerpt(brief(data))))

    def assertNoLeak(self, data, name, inclusive=False):
        entries = leaks_of(data, name, inclusive)
        self.assertEqual(entries, [], "%s should not leak\n%s" % (name, excerpt(brief(data))))

    def check_invariants(self, data, inherited=False):
        """What every capture must satisfy, whatever the program did."""
        msg = excerpt(brief(data))
        for key in ("totals", "threads", "peak", "leaks", "pid", "parent_pid", "end", "depth",
                    "degraded"):
            self.assertIn(key, data, "JSON lacks %r\n%s" % (key, msg))
        t = data["totals"]
        for key in TOTAL_KEYS:
            self.assertIsInstance(t.get(key), int, "totals.%s missing or not an integer\n%s" % (
                key, msg))
            self.assertGreaterEqual(t[key], 0, "totals.%s negative\n%s" % (key, msg))
        self.assertIs(data["degraded"], False, "capture is degraded\n" + msg)
        if not inherited:
            self.assertEqual(t["allocations"] - t["frees"], t["live_blocks"],
                             "allocations - frees != live_blocks\n" + msg)
            self.assertEqual(t["allocated_bytes"] - t["freed_bytes"], t["live_bytes"],
                             "allocated_bytes - freed_bytes != live_bytes\n" + msg)
        self.assertLessEqual(t["temporary"], t["frees"], "more temporaries than frees\n" + msg)
        self.assertGreaterEqual(t["peak_bytes"], t["live_bytes"], "peak below live\n" + msg)
        leaks = data["leaks"]
        self.assertEqual(sum(e["live_blocks"] for e in leaks), t["live_blocks"],
                         "leaks do not add up to totals.live_blocks\n" + msg)
        self.assertEqual(sum(e["live_bytes"] for e in leaks), t["live_bytes"],
                         "leaks do not add up to totals.live_bytes\n" + msg)
        sizes = [e["live_bytes"] for e in leaks]
        self.assertEqual(sizes, sorted(sizes, reverse=True), "leaks not biggest first\n" + msg)
        for e in leaks:
            self.assertGreater(e["live_blocks"], 0, "leak entry without blocks\n" + msg)
        peak = data["peak"]
        self.assertEqual(peak.get("bytes"), t["peak_bytes"], "peak.bytes != totals\n" + msg)
        self.assertEqual(peak.get("blocks"), t["peak_blocks"], "peak.blocks != totals\n" + msg)
        self.assertEqual(sum(c["bytes"] for c in peak["contributors"]), peak["bytes"],
                         "peak contributors do not add up to peak.bytes\n" + msg)
        self.assertEqual(sum(c["blocks"] for c in peak["contributors"]), peak["blocks"],
                         "peak contributors do not add up to peak.blocks\n" + msg)
        threads = data["threads"]
        if not inherited:
            for key in ("allocations", "allocated_bytes", "frees", "live_blocks", "live_bytes"):
                self.assertEqual(sum(th[key] for th in threads), t[key],
                                 "threads' %s do not add up to totals\n%s" % (key, msg))
        for th in threads:
            self.assertGreaterEqual(th["peak_bytes"], th["live_bytes"],
                                    "thread peak below its live bytes\n" + msg)
        depth = data["depth"]
        for where, stack in all_stacks(data):
            # depth counts the frames unwound; each may show as several (inlined functions).
            unwound = [f for f in stack if not f.get("inlined")]
            self.assertLessEqual(len(unwound), depth, "%s stack longer than depth\n%s" % (
                where, msg))
            for f in stack:
                for key in ("function", "file", "line", "module", "address", "inlined"):
                    self.assertIn(key, f, "frame lacks %r in %s\n%s" % (key, where, msg))
                self.assertNotIn(PRELOAD_NAME, f.get("module") or "",
                                 "memtrack's own frame in a %s stack: %s\n%s" % (
                                     where, f, msg))

    def check_times(self, data):
        """Times (checked when the JSON has them) are from tracking start, so no peak comes
        after the end of the capture or before its thread started."""
        msg = excerpt({"duration_ms": data.get("duration_ms"), "totals": data["totals"],
                       "peak.time_ms": data["peak"].get("time_ms"), "threads": data["threads"]})
        t = data["totals"]
        threads = data["threads"]
        duration = data.get("duration_ms")
        if duration is not None and t["peak_bytes"] > 0 and "peak_time_ms" in t:
            self.assertLessEqual(t["peak_time_ms"], duration + 1e-6,
                                 "peak after the end of the capture\n" + msg)
            for th in threads:
                if th.get("peak_bytes") and "peak_time_ms" in th:
                    self.assertLessEqual(th["peak_time_ms"], duration + 1e-6,
                                         "thread peak after the end of the capture\n" + msg)
                    self.assertLessEqual(th.get("start_ms", 0), th["peak_time_ms"] + 1e-6,
                                         "thread peak before the thread started\n" + msg)


def parse_capture(blob):
    """Splits a capture into (header bytes, [(type, flags, payload)], end payload)."""
    header = blob[:16]
    pos = 16
    sections = []
    while pos + 16 <= len(blob):
        typ, flags, length = struct.unpack_from("<IIQ", blob, pos)
        payload = blob[pos + 16:pos + 16 + length]
        sections.append((typ, flags, payload))
        pos += 16 + length
    if pos != len(blob):
        raise ValueError("capture does not end on a section boundary")
    return header, sections


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


SEC_META, SEC_TOTALS, SEC_MODULES, SEC_NODES, SEC_THREADS, SEC_LIVE, SEC_END = (
    1, 2, 3, 4, 5, 6, 0x454e44)


def build_capture(header, sections):
    """Reassembles a capture from parse_capture's pieces, recomputing the END hash (any END in
    `sections` is dropped and a correct one appended)."""
    body = bytearray(header)
    for typ, flags, payload in sections:
        if typ == SEC_END:
            continue
        body += struct.pack("<IIQ", typ, flags, len(payload)) + payload
    body += struct.pack("<IIQ", SEC_END, 0, 8) + struct.pack("<Q", fnv1a(bytes(body)))
    return bytes(body)


def kill_signal_name(rc):
    try:
        return signal.Signals(-rc).name if rc < 0 else str(rc)
    except ValueError:
        return str(rc)


# --- C API tests (test_api*.py) --------------------------------------------------------------

API_HEADER = os.path.join(SOURCE_DIR, "include", "memtrack.h")


def api_program(name, linked=False):
    """Path of a built C API test program: tests/programs/NAME.c, plain or linked with
    -lmemtrack (NAME_linked)."""
    return program(name + "_linked" if linked else name)


def api_errors():
    """{"EINVAL": (-4, "invalid argument"), ...} read from MEMTRACK_ERRNO_MAP in the public
    header itself, so the tests hold the programs to what the header says."""
    with open(API_HEADER, encoding="utf-8") as f:
        text = f.read()
    start = text.index("#define MEMTRACK_ERRNO_MAP")
    end = text.index("\n\n", start)
    body = text[start:end].replace("\\\n", " ")
    codes = {}
    for m in re.finditer(r'XX\(\s*(\w+)\s*,\s*(-?\d+)\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)', body):
        msg = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(3)))
        codes[m.group(1)] = (int(m.group(2)), msg)
    if not codes:
        raise AssertionError("MEMTRACK_ERRNO_MAP not found in " + API_HEADER)
    return codes


def api_lines(stdout):
    """`key v1 [v2 ...]` lines with integer values -> {key: [ints]}; a key printed twice is an
    error (each program prints each key once)."""
    out = {}
    for key, vals in parse_kv_lines(stdout):
        if key in out:
            raise AssertionError("key %r printed twice; stdout:\n%s" % (key, stdout))
        out[key] = vals
    return out


COUNT_FIELDS = ("new_count", "free_count", "live_count", "new_bytes", "free_bytes",
                "live_bytes")


def api_counts(lines, key):
    """A memtrack_counts_t a program printed as `key new free live new_b free_b live_b`."""
    vals = lines.get(key)
    if vals is None or len(vals) != 6:
        raise AssertionError("no counts line %r in %r" % (key, sorted(lines)))
    return dict(zip(COUNT_FIELDS, vals))


def counts(new, free, new_bytes, free_bytes):
    """The memtrack_counts_t expected after `new` allocations and `free` frees."""
    return dict(zip(COUNT_FIELDS, (new, free, new - free, new_bytes, free_bytes,
                                   new_bytes - free_bytes)))


def run_proc_env(argv, env=None, cwd=None, timeout=TIMEOUT):
    """run_proc with variables added to (or, when None, removed from) the environment."""
    full = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    proc = subprocess.Popen(argv, cwd=cwd or tempfile.gettempdir(), text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_no_core,
                            start_new_session=True, env=full)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError("timed out after %ss: %s\nstdout: %s\nstderr: %s" % (
            timeout, " ".join(argv), out[-2000:], err[-2000:]))
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


API_MODES = ("plain", "linked", "run", "run_linked")


class ApiCase(MemtrackCase):
    """Base class of the C API tests: runs a tests/programs/api_*.c program in one of the ways
    a program meets the API (API_MODES): `plain` (no tracker), `linked` (-lmemtrack, off until
    memtrack_start()), `run` (the plain build under `memtrack run`) and `run_linked` (the
    linked build under `memtrack run`)."""

    E = {name: value for name, (value, _msg) in api_errors().items()}

    def run_api(self, name, args=(), mode="linked", env=None, expect_rc=0, opts=(),
                timeout=TIMEOUT):
        """Runs the program in a fresh temp dir; returns (Result, api_lines of its stdout).
        MEMTRACK_* variables of the caller's environment are removed unless given in env."""
        workdir = self.tempdir()
        prog = api_program(name, linked=mode in ("linked", "run_linked"))
        argv = [prog] + list(args)
        if mode in ("run", "run_linked"):
            argv = [MEMTRACK, "run"] + list(opts) + ["--"] + argv
        elif mode not in API_MODES:
            raise ValueError(mode)
        full_env = {k: None for k in ("MEMTRACK_MODE", "MEMTRACK_OUTPUT", "MEMTRACK_DEPTH")}
        full_env.update(env or {})
        proc = run_proc_env(argv, full_env, cwd=workdir, timeout=timeout)
        res = Result(argv, proc, workdir)
        if expect_rc is not None:
            self.assertEqual(res.returncode, expect_rc, "unexpected exit status\n" +
                             res.describe())
        return res, api_lines(proc.stdout)

    def assertLines(self, lines, expected, res, what=""):
        """Each key of `expected` has that value (an int, or a list of ints) in `lines`."""
        got = {}
        for k, v in expected.items():
            vals = lines.get(k)
            got[k] = None if vals is None else (vals[0] if isinstance(v, int) else vals)
        self.assertEqual(got, dict(expected), "%s\n%s" % (what, res.describe()))


# --- helpers of the API tests of stages, callbacks, names, top paths and snapshots ----------

def compile_c(src, out, linked=True, extra=(), timeout=TIMEOUT):
    """Compiles one C file (a path, or relative to the source tree) with the public header, as
    a user would: `cc -std=c17 -Wall -Wextra -Werror -I include SRC [-lmemtrack] -o OUT`, linked
    with the build's libmemtrack.so (rpath set) when `linked`. $CC chooses the compiler.
    Returns the CompletedProcess (check returncode)."""
    src = src if os.path.isabs(src) else os.path.join(SOURCE_DIR, src)
    argv = [os.environ.get("CC") or "cc", "-std=c17", "-O1", "-g", "-Wall", "-Wextra",
            "-Wstrict-prototypes", "-Werror", "-I", os.path.join(SOURCE_DIR, "include")]
    argv += list(extra) + [src, "-o", out, "-pthread"]
    if linked:
        argv += ["-L", BUILD_DIR, "-lmemtrack", "-Wl,-rpath," + BUILD_DIR]
    return run_proc(argv, timeout=timeout)


def peak_line(lines, key):
    """A memtrack_peak_t a program printed as `key current peak time_ns` -> (current, peak,
    time_ns)."""
    vals = lines.get(key)
    if vals is None or len(vals) != 3:
        raise AssertionError("no peak line %r in %r" % (key, sorted(lines)))
    return tuple(vals)


def innermost_function(entry):
    """The function of the innermost frame of a report entry (contributor or leak), below
    any operator new frames; "" for an empty stack."""
    stack = entry.get("stack") or []
    i = user_frame_index(stack)
    return fn_name(stack[i]) if i < len(stack) else ""


def by_function(entries, key_blocks="blocks", key_bytes="bytes"):
    """{innermost function: (blocks, bytes)} summed over report entries."""
    out = {}
    for e in entries:
        f = innermost_function(e)
        b, n = out.get(f, (0, 0))
        out[f] = (b + e[key_blocks], n + e[key_bytes])
    return out


class LineReader:
    """Reads a running program's output (a pipe's file object or fd) line by line, with a
    deadline: read the pipe with os.read so that select() never waits for lines that already
    sit in a buffer."""

    def __init__(self, pipe):
        self.fd = pipe if isinstance(pipe, int) else pipe.fileno()
        self.buf = b""
        self.seen = []

    def wait(self, prefix, timeout=TIMEOUT):
        """The next line starting with `prefix` (without the newline); raises on EOF or after
        `timeout` seconds."""
        import select
        import time
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                self.seen.append(text)
                if text.startswith(prefix):
                    return text
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no line %r within %ss; got %r" % (prefix, timeout,
                                                                        self.seen))
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    raise AssertionError("output ended before a line %r; got %r" % (
                        prefix, self.seen))
                self.buf += chunk


class ExampleCase(ApiCase):
    """Runs the example examples/EXAMPLE.c as a user builds it (compile_c: -Werror, linked with
    -lmemtrack or not), plain or under `memtrack run`."""

    EXAMPLE = None
    _built = {}

    def build(self, linked):
        key = (self.EXAMPLE, linked)
        if key not in self._built:
            out = os.path.join(self.tempdir(), self.EXAMPLE + ("_linked" if linked else ""))
            proc = compile_c("examples/%s.c" % self.EXAMPLE, out, linked=linked)
            self.assertEqual(proc.returncode, 0, "cc failed:\n" + proc.stderr)
            self._built[key] = out
        return self._built[key]

    def run_example(self, linked, under_run):
        argv = [self.build(linked)]
        if under_run:
            argv = [MEMTRACK, "run", "--"] + argv
        proc = run_proc_env(argv, {"MEMTRACK_MODE": None, "MEMTRACK_DEPTH": None},
                            cwd=self.tempdir())
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        return proc.stdout
