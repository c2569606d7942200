"""memtrack as installed: `cmake --install BUILD --prefix TMP`, then a program outside the
source tree built with `pkg-config --cflags --libs memtrack` (and one with --cflags only, C and
C++), run with LD_LIBRARY_PATH, without a tracker, and under the installed `memtrack run`, with
exact counts."""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from mtutil import BUILD_DIR, SOURCE_DIR, ApiCase, api_counts, counts, run_proc_env

APP = r"""/* A program outside the memtrack tree, built against the installed memtrack. */
#define _POSIX_C_SOURCE 200809L
#include <memtrack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct widget {
    int id;
    char name[28];
} widget;

static void put_counts(const char *key, int rc, const memtrack_counts_t *c)
{
    printf("%s_rc %d\n", key, rc);
    if (rc == 0)
        printf("%s %llu %llu %llu %llu %llu %llu\n", key, (unsigned long long)c->new_count,
               (unsigned long long)c->free_count, (unsigned long long)c->live_count,
               (unsigned long long)c->new_bytes, (unsigned long long)c->free_bytes,
               (unsigned long long)c->live_bytes);
}

int main(int argc, char **argv)
{
    int started = memtrack_start();
    widget *w[10];
    for (int i = 0; i < 10; i++)
        w[i] = MEMTRACK_NEW(widget);
    for (int i = 0; i < 4; i++)
        free(w[i]);
    int pushed = memtrack_tag_push("app");
    char *s = strdup("installed");
    char *b = malloc(90);
    int popped = memtrack_tag_pop();
    memtrack_counts_t wc, ac;
    int wr = memtrack_count_for("widget", &wc);
    int ar = memtrack_count_for("app", &ac);
    int snap = argc > 1 ? memtrack_snapshot(argv[1]) : 0;
    /* stdio only from here: nothing above is disturbed by its buffers */
    printf("start %d\npush %d\npop %d\nsnapshot %d\n", started, pushed, popped, snap);
    put_counts("widget", wr, &wc);
    put_counts("app", ar, &ac);
    printf("name %s\n", memtrack_err_name(started < 0 ? started : 0));
    b[0] = s[0];
    free(s);
    free(b);
    for (int i = 4; i < 10; i++)
        free(w[i]);
    return 0;
}
"""

APP_CXX = r"""// The public header from C++: extern "C", the inline wrappers and the typed macros.
#include <memtrack.h>
#include <cstdio>

struct gadget {
    long a, b;
};

int main()
{
    int started = memtrack_start();
    gadget *g = MEMTRACK_NEW(gadget);
    memtrack_counts_t c;
    int r = memtrack_count_for("gadget", &c);
    std::printf("start %d\ngadget_rc %d\n", started, r);
    if (r == 0) std::printf("gadget_new %llu\n", (unsigned long long)c.new_count);
    std::free(g);
    return 0;
}
"""


# The usage memtrack.h documents for MEMTRACK_TRACK, as a user would write it.
TRACK_USAGE = r"""#include <stdlib.h>
#include <memtrack.h>

int main(void)
{
    char *config = malloc(64);
    MEMTRACK_TRACK(config);
    free(config);
    return 0;
}
"""


def project_version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        return re.search(r"project\(memtrack VERSION ([0-9.]+)", f.read()).group(1)


class Installed(ApiCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for tool in ("cmake", "pkg-config", "cc", "c++"):
            if not shutil.which(tool):
                raise unittest.SkipTest(tool + " not found")
        cls.prefix = tempfile.mkdtemp(prefix="mt-install-")
        proc = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", cls.prefix],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            shutil.rmtree(cls.prefix, True)
            raise AssertionError("cmake --install failed:\n%s%s" % (proc.stdout, proc.stderr))
        pcs = glob.glob(os.path.join(cls.prefix, "**", "pkgconfig", "memtrack.pc"),
                        recursive=True)
        cls.pcdir = os.path.dirname(pcs[0]) if pcs else None
        libs = glob.glob(os.path.join(cls.prefix, "**", "libmemtrack.so"), recursive=True)
        cls.libdir = os.path.dirname(libs[0]) if libs else os.path.join(cls.prefix, "lib")
        cls.work = tempfile.mkdtemp(prefix="mt-pkg-app-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, True)
        shutil.rmtree(cls.work, True)
        super().tearDownClass()

    def pkg_config(self, *args):
        self.assertIsNotNone(self.pcdir, "no pkgconfig/memtrack.pc installed under " +
                             self.prefix)
        proc = run_proc_env(["pkg-config"] + list(args) + ["memtrack"],
                            {"PKG_CONFIG_PATH": self.pcdir, "PKG_CONFIG_LIBDIR": self.pcdir})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout.split()

    def flags(self, *what):
        """pkg-config's flags for the installed tree. The prefix is given explicitly, so that
        this holds whatever prefix the build was configured with (see test_pc_relocates)."""
        return self.pkg_config("--define-variable=prefix=" + self.prefix, *what)

    def compile(self, name, source, flags, compiler="cc", std="-std=c17"):
        src = os.path.join(self.work, name + (".cpp" if compiler == "c++" else ".c"))
        with open(src, "w", encoding="utf-8") as f:
            f.write(source)
        exe = os.path.join(self.work, name)
        argv = [compiler, std, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-o", exe, src]
        argv += flags
        proc = run_proc_env(argv, cwd=self.work)
        self.assertEqual(proc.returncode, 0, "%s\n%s" % (" ".join(argv), proc.stderr))
        return exe

    def run_app(self, argv, libdir=True):
        env = {k: None for k in ("MEMTRACK_MODE", "MEMTRACK_OUTPUT", "MEMTRACK_DEPTH",
                                 "LD_PRELOAD")}
        env["LD_LIBRARY_PATH"] = self.libdir if libdir else None
        workdir = tempfile.mkdtemp(dir=self.work)
        proc = run_proc_env(argv, env, cwd=workdir)
        self.assertEqual(proc.returncode, 0, "%s\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv), proc.stdout, proc.stderr))
        lines = {}
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and all(p.lstrip("-").isdigit() for p in parts[1:]):
                lines[parts[0]] = [int(p) for p in parts[1:]]
        return proc, lines, workdir

    def expect_tracked(self, proc, lines, start):
        self.assertEqual({k: lines.get(k, [None])[0] for k in (
            "start", "push", "pop", "snapshot", "widget_rc", "app_rc")},
            {"start": start, "push": 0, "pop": 0, "snapshot": 0, "widget_rc": 0, "app_rc": 0},
            proc.stdout)
        # 10 x MEMTRACK_NEW(widget) (32 bytes), 4 freed; strdup("installed") + malloc(90)
        self.assertEqual(api_counts(lines, "widget"), counts(10, 4, 320, 128), proc.stdout)
        self.assertEqual(api_counts(lines, "app"), counts(2, 0, 100, 0), proc.stdout)

    def test_installed_files(self):
        for rel in ("include/memtrack.h", "bin/memtrack", "lib/memtrack/libmemtrack_preload.so"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        libs = glob.glob(os.path.join(self.prefix, "lib*", "**", "libmemtrack.so*"),
                         recursive=True)
        self.assertTrue(any(p.endswith("libmemtrack.so") for p in libs), libs)
        with open(os.path.join(SOURCE_DIR, "include", "memtrack.h"), "rb") as a, \
                open(os.path.join(self.prefix, "include", "memtrack.h"), "rb") as b:
            self.assertEqual(a.read(), b.read(), "installed header differs from the source")
        self.assertEqual(self.pkg_config("--modversion"), [project_version()])

    def test_pc_relocates(self):
        """The installed memtrack.pc must describe where it was installed: `cmake --install
        --prefix P` of a build configured for another prefix must still give -IP/include and
        -LP/lib (e.g. prefix=${pcfiledir}/../.. in memtrack.pc.in)."""
        got = self.pkg_config("--cflags", "--libs")
        self.assertIn("-I" + os.path.join(self.prefix, "include"), got)
        self.assertTrue(any(f.startswith("-L" + self.prefix) for f in got), got)

    def test_linked_program(self):
        exe = self.compile("app", APP, self.flags("--cflags", "--libs"))
        snap = os.path.join(self.work, "app_snapshot.mtc")
        proc, lines, _ = self.run_app([exe, snap])
        self.expect_tracked(proc, lines, start=1)
        # The installed memtrack reads the snapshot.
        rep = run_proc_env([os.path.join(self.prefix, "bin", "memtrack"), "report", "--format",
                            "json", snap])
        self.assertEqual(rep.returncode, 0, rep.stderr)
        self.assertRegex(rep.stdout, r'"name": "widget",\s*"new_count": 10,')

    def test_program_without_tracker_and_under_installed_run(self):
        """Built with --cflags only (no -lmemtrack): alone every call is MEMTRACK_ENOTRACKER
        and MEMTRACK_NEW still allocates; under the installed `memtrack run` (which finds its
        preload library beside itself) it is tracked from the start."""
        exe = self.compile("app_plain", APP, self.flags("--cflags"))
        proc, lines, _ = self.run_app([exe], libdir=False)
        self.assertEqual({k: lines.get(k, [None])[0] for k in (
            "start", "push", "pop", "widget_rc", "app_rc")},
            {k: self.E["ENOTRACKER"] for k in ("start", "push", "pop", "widget_rc", "app_rc")},
            proc.stdout)
        self.assertIn("name MEMTRACK_ENOTRACKER", proc.stdout)

        snap = os.path.join(self.work, "app_plain_snapshot.mtc")
        proc, lines, workdir = self.run_app(
            [os.path.join(self.prefix, "bin", "memtrack"), "run", "--", exe, snap], libdir=False)
        self.expect_tracked(proc, lines, start=0)
        self.assertEqual(len([f for f in os.listdir(workdir) if f.endswith(".mtc")]), 1,
                         proc.stderr)

    def test_documented_usage_compiles_without_warnings(self):
        """`char *config = malloc(64); MEMTRACK_TRACK(config);` (memtrack.h's own example)
        must compile cleanly with -Wall -Wextra at every optimization level: passing a fresh
        block to a `const void *` parameter makes GCC 12 warn -Wmaybe-uninitialized."""
        for opt in ("-O0", "-O2"):
            self.compile("track_usage" + opt, TRACK_USAGE, [opt] + self.flags("--cflags"))

    def test_cxx_program(self):
        exe = self.compile("app_cxx", APP_CXX, self.flags("--cflags", "--libs"),
                           compiler="c++", std="-std=c++17")
        proc, lines, _ = self.run_app([exe])
        self.assertEqual(lines, {"start": [1], "gadget_rc": [0], "gadget_new": [1]},
                         proc.stdout)


if __name__ == "__main__":
    unittest.main()
