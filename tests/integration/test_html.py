"""`memtrack html`: the interactive report of a real capture, checked in headless Chromium
(tests/browser/check_report.js with playwright-core), plus its command line."""

import os
import shutil
import tempfile
import unittest

from mtutil import BUILD_DIR, MEMTRACK, SOURCE_DIR, program, run_proc

CHROMIUM = os.environ.get("MT_CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
CHECK = os.path.join(SOURCE_DIR, "tests", "browser", "check_report.js")
# playwright-core comes from the npm ci the build ran (CMakeLists.txt), else from web/.
NODE_MODULES = next((d for d in (os.path.join(BUILD_DIR, "web", "node_modules"),
                                 os.path.join(SOURCE_DIR, "web", "node_modules"))
                     if os.path.isdir(os.path.join(d, "playwright-core"))), None)


class HtmlTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mt-html-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def capture(self, prog="leaks_c", opts=()):
        cap = os.path.join(self.tmp, "leaks.mtc")
        r = run_proc([MEMTRACK, "run", "-o", cap] + list(opts) + [program(prog)], cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        return cap

    def test_page_is_self_contained(self):
        cap = self.capture()
        r = run_proc([MEMTRACK, "html", cap], cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "leaks.html")
        self.assertEqual(r.stdout.strip(), out)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertNotIn("@@", page)  # every marker of the template was replaced
        # Nothing is loaded from elsewhere: no <script src>, <link> or <img src>.
        self.assertNotIn("src=", page)
        self.assertNotIn("<link", page)
        self.assertEqual(page.count("<script"), page.count("</script>"))
        self.assertIn('"leak_malloc', page)

    def test_usage_errors(self):
        r = run_proc([MEMTRACK, "html"], cwd=self.tmp)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no capture file given", r.stderr)
        r = run_proc([MEMTRACK, "html", "--bogus", "x.mtc"], cwd=self.tmp)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option", r.stderr)
        r = run_proc([MEMTRACK, "html", os.path.join(self.tmp, "missing.mtc")], cwd=self.tmp)
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.mtc", r.stderr)
        r = run_proc([MEMTRACK, "html", "-o", os.path.join(self.tmp, "no", "dir.html"),
                      self.capture()], cwd=self.tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot write", r.stderr)
        r = run_proc([MEMTRACK, "html", "--help"], cwd=self.tmp)
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: memtrack html", r.stdout)

    def browser_check(self, prog, *check_args, opts=()):
        """Writes the report of a run of `prog` (memtrack run OPTS) and runs check_report.js
        on it."""
        if NODE is None:
            self.skipTest("node is not installed (apt-get install nodejs)")
        if not os.access(CHROMIUM, os.X_OK):
            self.skipTest("%s is not installed (apt-get install chromium)" % CHROMIUM)
        if NODE_MODULES is None:
            self.skipTest("playwright-core is not installed (the build's npm ci did not run)")
        cap = self.capture(prog, opts)
        out = os.path.join(self.tmp, "report.html")
        r = run_proc([MEMTRACK, "html", "-o", out, cap], cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        shot = os.path.join(self.tmp, "report.png")
        r = run_proc(["env", "MT_NODE_MODULES=" + NODE_MODULES, "MT_CHROMIUM=" + CHROMIUM, NODE,
                      CHECK] + list(check_args) + [out, shot], cwd=self.tmp, timeout=180)
        self.assertEqual(r.returncode, 0, "browser checks failed:\n%s\n%s" % (r.stdout, r.stderr))
        self.assertGreater(os.path.getsize(shot), 10000)
        return shot

    def test_in_browser(self):
        shot = self.browser_check("leaks_c")
        shutil.copy(shot, "/tmp/report.png")

    def test_thread_choice_in_browser(self):
        """Two threads that free each other's blocks: the flame graph of each shows what it
        allocated, by every weight."""
        self.browser_check("thread_scope", "--threads")

    def test_sample_mode_in_browser(self):
        """A sample-mode capture (a mean of 64 bytes: leaks_c's paths of 100-byte blocks and
        more are all but certain to be sampled): the page says its call-path figures are
        estimates."""
        self.browser_check("leaks_c", "--sampled", opts=["--mode", "sample=64"])


if __name__ == "__main__":
    unittest.main()
