"""A library loaded with dlopen, leaked through and unloaded with dlclose before the end
(tests/programs/dlopen_plugin.c, tests/plugins/leaky_plugin.c): the capture keeps its module, so
the report still names its frames, with file and line, and the exact figures."""

import os
import unittest

from mtutil import (MemtrackCase, SOURCE_DIR, PROGRAMS_DIR, brief, contributors_of, excerpt,
                    fn_name, kv, leaks_of, source_line)

PLUGIN = os.path.join(PROGRAMS_DIR, "leaky_plugin.so")
PLUGIN_SRC = os.path.join(SOURCE_DIR, "tests", "plugins", "leaky_plugin.c")


def plugin_line(marker):
    with open(PLUGIN_SRC, encoding="utf-8") as f:
        return next(i for i, line in enumerate(f, 1) if "@" + marker in line)


class DlopenDlclose(MemtrackCase):

    def test_unloaded_library_is_named(self):
        res, data = self.run_and_load("dlopen_plugin", [PLUGIN])
        self.assertEqual(kv(res.stdout, "unloaded"), 1, "dlclose did not unload the plugin\n" +
                         res.describe())
        self.assertLeak(data, "plugin_leak", 3, 231)
        entries = leaks_of(data, "plugin_leak")
        self.assertEqual(len(entries), 1, excerpt(brief(data)))
        stack = entries[0]["stack"]
        msg = excerpt(entries[0])
        self.assertTrue((stack[0].get("module") or "").endswith("/leaky_plugin.so"), msg)
        self.assertTrue((stack[0].get("file") or "").endswith("leaky_plugin.c"), msg)
        self.assertEqual(stack[0].get("line"), plugin_line("plugin_leak"), msg)
        # Its caller, in the program, is unwound through the unloaded library's frame.
        self.assertEqual(fn_name(stack[1]), "main", msg)
        self.assertEqual(stack[1].get("line"),
                         source_line("dlopen_plugin.c", "call_plugin_leak"), msg)
        # What the library allocated and freed is not a leak, but one of its 1000-byte blocks
        # was live at the peak, with the three leaked ones.
        self.assertNoLeak(data, "plugin_scratch")
        got = {name: [(c["blocks"], c["bytes"]) for c in contributors_of(data, name)]
               for name in ("plugin_scratch", "plugin_leak")}
        self.assertEqual(got, {"plugin_scratch": [(1, 1000)], "plugin_leak": [(3, 231)]},
                         excerpt(brief(data)))


if __name__ == "__main__":
    unittest.main()
