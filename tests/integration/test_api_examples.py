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
