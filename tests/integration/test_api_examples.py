"""The C API example examples/tag_leak_hunt.c: linked with -lmemtrack and under `memtrack run`
it prints each class's exact counts (checked against the cache's own bookkeeping) and names
class "cache" as the leak; without a tracker it says so and exits with status 1."""

import os
import re
import unittest

from mtutil import ApiCase, BUILD_DIR, MEMTRACK, Result, excerpt, run_proc_env

EXAMPLES = os.path.join(BUILD_DIR, "examples")
REQUESTS, KEY_BYTES, VALUE_BYTES, ENTRY_BYTES = 1000, len("/item/00") + 1, 128, 24


class TagLeakHunt(ApiCase):

    _cache = {}

    def run_example(self, mode):
        if mode not in self._cache:
            workdir = self.tempdir()
            argv = [os.path.join(EXAMPLES, "tag_leak_hunt" + (
                "_linked" if mode == "linked" else ""))]
            if mode == "run":
                argv = [MEMTRACK, "run", "--"] + argv
            env = {k: None for k in ("MEMTRACK_MODE", "MEMTRACK_OUTPUT", "MEMTRACK_DEPTH")}
            proc = run_proc_env(argv, env, cwd=workdir)
            self._cache[mode] = Result(argv, proc, workdir)
        return self._cache[mode]

    def parse(self, res):
        classes = {}
        for m in re.finditer(r"^class (\S+) +(\d+) new +(\d+) freed +(\d+) live +(\d+) bytes$",
                             res.stdout, re.M):
            classes[m.group(1)] = tuple(int(g) for g in m.groups()[1:])
        m = re.search(r"^cache: (\d+) entries, (\d+) hits, (\d+) misses, (\d+) evictions",
                      res.stdout, re.M)
        self.assertTrue(m, res.describe())
        entries, hits, misses, evictions = (int(g) for g in m.groups())
        return classes, entries, hits, misses, evictions

    def check(self, mode):
        res = self.run_example(mode)
        self.assertEqual(res.returncode, 0, res.describe())
        classes, entries, hits, misses, evictions = self.parse(res)
        self.assertEqual(hits + misses, REQUESTS)
        self.assertEqual(entries, 32)
        self.assertEqual(misses - evictions, entries)
        self.assertGreater(evictions, 0)
        # (new, freed, live blocks, live bytes) per class
        self.assertEqual(classes, {
            "parser": (3 * REQUESTS, 3 * REQUESTS, 0, 0),     # three token strings a request
            "token": (REQUESTS, REQUESTS, 0, 0),              # MEMTRACK_NEW_ARRAY(token, 3)
            "network": (REQUESTS, REQUESTS, 0, 0),
            # a key and a value per miss; evictions free the value only
            "cache": (2 * misses, evictions, 2 * entries + evictions,
                      entries * (KEY_BYTES + VALUE_BYTES) + evictions * KEY_BYTES),
            "cache_entry": (misses, evictions, entries, entries * ENTRY_BYTES),
        }, res.describe())
        self.assertRegex(res.stdout, r"(?m)^leaking class: cache \(\+\d+ live blocks")
        return res, classes

    def test_linked(self):
        res, _ = self.check("linked")
        self.assertIn("tracker started by the program (linked)", res.stdout)

    def test_under_memtrack_run(self):
        res, classes = self.check("run")
        self.assertIn("tracker already running", res.stdout)
        data = self.load(self.only_capture(res, "tag_leak_hunt"))
        in_capture = {c["name"]: (c["new_count"], c["free_count"], c["live_count"],
                                  c["live_bytes"]) for c in data["classes"]}
        for name, figures in classes.items():
            self.assertEqual(in_capture.get(name), figures, name)
        # The forgotten keys: strdup in cache_get, class "cache".
        keys = [e for e in data["leaks"] if e["class"] == "cache" and
                any(f.get("function") == "cache_get" for f in e["stack"]) and
                "strdup" in (e["stack"][0].get("function") or "")]
        self.assertEqual(len(keys), 1, excerpt(data["leaks"]))
        self.assertEqual(keys[0]["live_blocks"], classes["cache"][2] - 32)
        self.assertEqual(keys[0]["stack"][-1]["function"], "[class cache]")

    def test_without_tracker(self):
        res = self.run_example("plain")
        self.assertEqual(res.returncode, 1, res.describe())
        self.assertIn("no tracker in this process", res.stderr)
        self.assertEqual(res.stdout, "")


if __name__ == "__main__":
    unittest.main()


class OtherExamples(ApiCase):
    """examples/stage_peaks.c and examples/class_lifetimes.c, linked and under memtrack run:
    exact figures (times aside), and a clear line and status 0 without a tracker."""

    def run_example(self, name, mode):
        workdir = self.tempdir()
        argv = [os.path.join(EXAMPLES, name + ("_linked" if mode == "linked" else ""))]
        if mode == "run":
            argv = [MEMTRACK, "run", "--"] + argv
        env = {k: None for k in ("MEMTRACK_MODE", "MEMTRACK_OUTPUT", "MEMTRACK_DEPTH")}
        res = Result(argv, run_proc_env(argv, env, cwd=workdir), workdir)
        self.assertEqual(res.returncode, 0, res.describe())
        return res

    def test_stage_peaks(self):
        expected = ["stage load: peak 1040000 bytes, 1040000 bytes live at its end"]
        expected += ["unit %d: peak %d bytes above the 1040000 held before it" % (u, 65664 * (u + 1))
                     for u in range(4)]
        expected += ["stage process: peak 1302656 bytes, 1040000 bytes live at its end",
                     "stage teardown: peak 1040000 bytes, 0 bytes live at its end",
                     "done (checksum 17440)"]
        for mode in ("linked", "run"):
            with self.subTest(mode=mode):
                res = self.run_example("stage_peaks", mode)
                lines = [re.sub(r" at [0-9.]+ ms,", ",", l) for l in res.stdout.splitlines()]
                self.assertEqual(lines[1:], expected, res.describe())
                if mode == "run":
                    data = self.load(self.only_capture(res, "stage_peaks"))
                    named = [s for s in data["stages"] if s["name"]]
                    self.assertEqual([s["name"] for s in named], ["load", "process", "teardown"])
                    # The capture's stages hold the same peaks, above what stdio holds.
                    base = named[0]["peak_bytes"] - 1040000
                    self.assertEqual([s["peak_bytes"] - base for s in named],
                                     [1040000, 1302656, 1040000])
                    self.assertEqual(data["peak"]["bytes"], named[1]["peak_bytes"])
        res = self.run_example("stage_peaks", "plain")
        self.assertIn("no tracker in this process", res.stdout)

    def test_class_lifetimes(self):
        for mode in ("linked", "run"):
            with self.subTest(mode=mode):
                res = self.run_example("class_lifetimes", mode)
                freed = dict(re.findall(r"(?m)^(\w+) +(\d+) +[0-9.]+ ms$", res.stdout))
                self.assertEqual(freed, {"cache": "16", "session": "16", "request": "200"},
                                 res.describe())
        res = self.run_example("class_lifetimes", "plain")
        self.assertIn("no tracker in this process", res.stdout)
