"""Bad input never crashes memtrack: damaged captures make `memtrack report` exit 2 with one
line on stderr; bad `memtrack run` usage exits 2 (127 for a program that cannot be run)."""

import json
import os
import random
import struct
import unittest

from mtutil import (MEMTRACK, SEC_LIVE, SEC_META, SEC_MODULES, SEC_NODES, SEC_THREADS,
                    SEC_TOTALS, MemtrackCase, build_capture, parse_capture, program, report,
                    run_proc)


class BadCaptures(MemtrackCase):

    _cache = {}

    def good(self):
        """Bytes of a real capture (tests/programs/leaks_c.c, which has live blocks)."""
        if "blob" not in self._cache:
            res = self.run_memtrack("leaks_c")
            with open(self.only_capture(res, "leaks_c"), "rb") as f:
                self._cache["blob"] = f.read()
        return self._cache["blob"]

    def write(self, name, blob):
        d = self.tempdir()
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(blob)
        return path

    def assertRejected(self, path, what):
        for fmt in ("json", "text"):
            proc = report(path, fmt)
            desc = "%s (--format %s): exit %s\nstdout: %r\nstderr: %r" % (
                what, fmt, proc.returncode, proc.stdout[:500], proc.stderr[:2000])
            self.assertGreaterEqual(proc.returncode, 0, "crashed by a signal: " + desc)
            self.assertEqual(proc.returncode, 2, desc)
            lines = proc.stderr.splitlines()
            self.assertEqual(len(lines), 1, "expected exactly one line on stderr: " + desc)
            self.assertTrue(lines[0].startswith("memtrack:"), desc)
            self.assertIn(os.path.basename(path), lines[0], "the message names the file: " + desc)
            self.assertEqual(proc.stdout, "", "no partial report on stdout: " + desc)

    def sections(self):
        header, secs = parse_capture(self.good())
        return header, [list(s) for s in secs]

    def rebuilt(self, header, secs):
        return build_capture(header, [tuple(s) for s in secs])

    def payload(self, secs, typ):
        for s in secs:
            if s[0] == typ:
                return s
        self.fail("capture has no section %d" % typ)

    # --- the good capture and harmless changes ---

    def test_good_capture_and_rebuild_are_accepted(self):
        header, secs = self.sections()
        original = report(self.write("good.mtc", self.good()))
        self.assertEqual(original.returncode, 0, original.stderr)
        # our own reassembly of the file is byte-identical (so the mutations below are exact)
        self.assertEqual(self.rebuilt(header, secs), self.good())

    def test_unknown_section_is_skipped(self):
        header, secs = self.sections()
        base = json.loads(report(self.write("good.mtc", self.good())).stdout)
        for pos in (0, len(secs) - 1):
            with self.subTest(position=pos):
                s2 = secs[:pos] + [[0x7777, 0, b"future section \x00\xff"]] + secs[pos:]
                proc = report(self.write("unknown.mtc", self.rebuilt(header, s2)))
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(json.loads(proc.stdout), base)

    # --- module paths that are not binaries ---

    def with_module_paths(self, path):
        """The good capture with every module's path replaced by `path` (build-ids kept)."""
        header, secs = self.sections()
        s = self.payload(secs, SEC_MODULES)
        p = s[2]
        count = struct.unpack_from("<I", p, 0)[0]
        pos, out = 4, bytearray(struct.pack("<I", count))
        for _ in range(count):
            fixed = p[pos:pos + 24]
            plen = struct.unpack_from("<I", p, pos + 24)[0]
            pos += 28 + plen
            blen = struct.unpack_from("<I", p, pos)[0]
            build_id = p[pos:pos + 4 + blen]
            pos += 4 + blen
            out += fixed + struct.pack("<I", len(path)) + path.encode() + build_id
        s[2] = bytes(out)
        return count, self.rebuilt(header, secs)

    def test_module_paths_that_are_not_files(self):
        # A capture names the binaries to read; one naming a FIFO made `memtrack report` wait
        # forever for a writer, and a device would feed it forever. Each module holding a frame
        # of a listed path is reported once, and its frames stay module+offset.
        d = self.tempdir()
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        for path in (fifo, "/dev/zero", d):
            with self.subTest(path=path):
                count, blob = self.with_module_paths(path)
                proc = report(self.write("modules.mtc", blob), timeout=60)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                lines = proc.stderr.splitlines()
                self.assertEqual(set(lines), {
                    "memtrack: warning: cannot read %s (not a regular file); its frames are "
                    "shown as module+offset" % path})
                self.assertLessEqual(len(lines), count)
                data = json.loads(proc.stdout)
                self.assertEqual(data["totals"], json.loads(
                    report(self.write("good.mtc", self.good())).stdout)["totals"])

    # --- damaged files ---

    def test_truncated(self):
        blob = self.good()
        n = len(blob)
        for cut in sorted({1, 7, 8, 12, 15, 16, 17, 31, 32, 33, n // 5, n // 3, n // 2,
                           2 * n // 3, n - 25, n - 24, n - 17, n - 16, n - 9, n - 8, n - 1}):
            with self.subTest(length=cut):
                self.assertRejected(self.write("cut.mtc", blob[:cut]), "cut at %d of %d" % (
                    cut, n))

    def test_without_end_section(self):
        header, secs = parse_capture(self.good())
        blob = bytearray(header)
        for typ, flags, payload in secs[:-1]:
            blob += struct.pack("<IIQ", typ, flags, len(payload)) + payload
        self.assertRejected(self.write("noend.mtc", bytes(blob)), "no END section")

    def test_flipped_bytes(self):
        blob = self.good()
        n = len(blob)
        for pos in (0, 8, 12, 20, n // 2, n // 2 + 1, n - 20, n - 1):
            with self.subTest(position=pos):
                bad = bytearray(blob)
                bad[pos] ^= 0x40
                self.assertRejected(self.write("flip.mtc", bytes(bad)), "byte %d flipped" % pos)

    def test_bytes_after_end(self):
        self.assertRejected(self.write("tail.mtc", self.good() + b"\0"), "a byte after END")

    def test_empty_missing_directory(self):
        self.assertRejected(self.write("empty.mtc", b""), "empty file")
        d = self.tempdir()
        self.assertRejected(os.path.join(d, "missing.mtc"), "missing file")
        sub = os.path.join(d, "adir.mtc")
        os.mkdir(sub)
        self.assertRejected(sub, "a directory")

    def test_endless_device(self):
        # /dev/zero used to be read until memory ran out; the magic is checked as soon as
        # it is read.
        for dev in ("/dev/zero", "/dev/urandom"):
            with self.subTest(dev=dev):
                proc = report(dev, timeout=60)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(proc.stderr, "memtrack: %s: not a memtrack capture (bad magic)\n"
                                 % dev)

    def test_garbage(self):
        rnd = random.Random(1234)
        for i, size in enumerate((1, 16, 100, 4096, 100000)):
            with self.subTest(size=size):
                blob = bytes(rnd.getrandbits(8) for _ in range(size))
                self.assertRejected(self.write("garbage%d.mtc" % i, blob), "random bytes")
        blob = b"MEMTRACK" + struct.pack("<II", 1, 16) + bytes(
            rnd.getrandbits(8) for _ in range(5000))
        self.assertRejected(self.write("garbage-hdr.mtc", blob), "valid header, random rest")
        self.assertRejected(self.write("text.mtc", b"hello world\n" * 100), "a text file")

    # --- structurally wrong files with a correct checksum ---

    def mutate(self, name, fn):
        header, secs = self.sections()
        header = bytearray(header)
        fn(header, secs)
        self.assertRejected(self.write(name + ".mtc", self.rebuilt(bytes(header), secs)), name)

    def test_wrong_version_or_header_size(self):
        self.mutate("version2", lambda h, s: h.__setitem__(slice(8, 12), struct.pack("<I", 2)))
        self.mutate("version0", lambda h, s: h.__setitem__(slice(8, 12), struct.pack("<I", 0)))
        self.mutate("hdrsize", lambda h, s: h.__setitem__(slice(12, 16), struct.pack("<I", 17)))

    def test_duplicate_section(self):
        def dup(h, secs):
            secs.insert(1, list(self.payload(secs, SEC_TOTALS)))
        self.mutate("duplicate-totals", dup)

    def test_section_length_mismatch(self):
        def short_totals(h, secs):
            s = self.payload(secs, SEC_TOTALS)
            s[2] = s[2][:-8]
        self.mutate("short-totals", short_totals)

        def long_totals(h, secs):
            s = self.payload(secs, SEC_TOTALS)
            s[2] = s[2] + b"\0" * 8
        self.mutate("long-totals", long_totals)

        def node_count(h, secs):
            s = self.payload(secs, SEC_NODES)
            n = struct.unpack_from("<I", s[2])[0]
            s[2] = struct.pack("<I", n + 1) + s[2][4:]
        self.mutate("nodes-count", node_count)

    def test_huge_counts(self):
        def set_u32(typ, off, value):
            def fn(h, secs):
                s = self.payload(secs, typ)
                s[2] = s[2][:off] + struct.pack("<I", value) + s[2][off + 4:]
            return fn

        def set_u64(typ, off, value):
            def fn(h, secs):
                s = self.payload(secs, typ)
                s[2] = s[2][:off] + struct.pack("<Q", value) + s[2][off + 8:]
            return fn
        self.mutate("nodes-huge", set_u32(SEC_NODES, 0, 0xFFFFFFFF))
        self.mutate("modules-huge", set_u32(SEC_MODULES, 0, 0xFFFFFFFF))
        self.mutate("threads-huge", set_u32(SEC_THREADS, 0, 0xFFFFFFFF))
        self.mutate("live-huge", set_u64(SEC_LIVE, 0, 0xFFFFFFFFFFFFFFFF))
        self.mutate("live-huge2", set_u64(SEC_LIVE, 0, 1 << 59))
        self.mutate("program-string-huge", set_u32(SEC_META, 72, 0xFFFFFFF0))
        self.mutate("module-path-huge", set_u32(SEC_MODULES, 4 + 24, 0x7FFFFFFF))

    def test_section_length_past_end(self):
        header, secs = parse_capture(self.good())
        blob = bytearray(header)
        typ, flags, payload = secs[0]
        blob += struct.pack("<IIQ", typ, flags, (1 << 63) + 5) + payload
        for typ, flags, payload in secs[1:]:
            blob += struct.pack("<IIQ", typ, flags, len(payload)) + payload
        self.assertRejected(self.write("length.mtc", bytes(blob)), "section length past end")

    def test_inconsistent_contents(self):
        def node_parent(h, secs):
            s = self.payload(secs, SEC_NODES)
            # node 1's parent must be less than 1
            s[2] = s[2][:4] + struct.pack("<I", 1) + s[2][8:]
        self.mutate("node-parent", node_parent)

        def node_parent_far(h, secs):
            s = self.payload(secs, SEC_NODES)
            s[2] = s[2][:4] + struct.pack("<I", 0xFFFFFFFF) + s[2][8:]
        self.mutate("node-parent-far", node_parent_far)

        def live_node(h, secs):
            s = self.payload(secs, SEC_LIVE)
            nnodes = struct.unpack_from("<I", self.payload(secs, SEC_NODES)[2])[0]
            s[2] = s[2][:8 + 16] + struct.pack("<I", nnodes + 1) + s[2][8 + 20:]
        self.mutate("live-node", live_node)

        def live_thread(h, secs):
            s = self.payload(secs, SEC_LIVE)
            nthreads = struct.unpack_from("<I", self.payload(secs, SEC_THREADS)[2])[0]
            s[2] = s[2][:8 + 20] + struct.pack("<I", nthreads) + s[2][8 + 24:]
        self.mutate("live-thread", live_thread)

        def totals_live(h, secs):
            s = self.payload(secs, SEC_TOTALS)
            v = struct.unpack_from("<Q", s[2], 5 * 8)[0]
            s[2] = s[2][:40] + struct.pack("<Q", v + 1) + s[2][48:]
        self.mutate("totals-live-bytes", totals_live)

        def live_size(h, secs):
            s = self.payload(secs, SEC_LIVE)
            v = struct.unpack_from("<Q", s[2], 8 + 8)[0]
            s[2] = s[2][:16] + struct.pack("<Q", v + 1) + s[2][24:]
        self.mutate("live-size", live_size)

        def drop_live(h, secs):
            secs[:] = [x for x in secs if x[0] != SEC_LIVE]
        # a capture without its LIVE section cannot match TOTALS' live figures
        self.mutate("no-live", drop_live)


class BadUsage(MemtrackCase):

    def run_cli(self, args, cwd):
        return run_proc([MEMTRACK] + args, cwd=cwd)

    def assertUsage(self, args, rc):
        """Exit status rc, one line on stderr starting "memtrack" ("memtrack:",
        "memtrack run:" or "memtrack report:"); nothing written."""
        d = self.tempdir()
        proc = self.run_cli(args, d)
        desc = "memtrack %s: exit %s\nstdout: %r\nstderr: %r" % (
            " ".join(args), proc.returncode, proc.stdout[:500], proc.stderr[:2000])
        self.assertEqual(proc.returncode, rc, desc)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr: " + desc)
        self.assertTrue(lines[0].startswith("memtrack"), desc)
        self.assertEqual(os.listdir(d), [], "nothing written: " + desc)

    def test_run_usage_errors(self):
        prog = program("leaks_c")
        for args in (["run"], ["run", "--"], ["run", "--bogus", prog],
                     ["run", "--depth", "0", prog], ["run", "--depth", "abc", prog],
                     ["run", "--depth", "100000", prog], ["run", "--depth", "-1", prog],
                     ["run", "--depth", "", prog], ["run", "--depth", "5x", prog],
                     ["run", "--depth"], ["run", "-o"], ["run", "-o", "", prog]):
            with self.subTest(args=args):
                self.assertUsage(args, 2)

    def test_run_program_not_runnable(self):
        d = self.tempdir()
        text = os.path.join(d, "not-executable")
        with open(text, "w") as f:
            f.write("just text\n")
        os.chmod(text, 0o644)
        # As in the shell: 127 when the program is not found, 126 when it cannot be executed.
        for args in (["run", "/nonexistent/dir/prog"], ["run", "--", "no-such-program-xyz"]):
            with self.subTest(args=args):
                self.assertUsage(args, 127)
        for args in (["run", text], ["run", d]):
            with self.subTest(args=args):
                self.assertUsage(args, 126)

    def test_report_usage_errors(self):
        d = self.tempdir()
        cap = os.path.join(d, "x.mtc")
        for args in (["report"], ["report", "--format", "xml", cap],
                     ["report", "--top", "abc", cap], ["report", "--top", "-1", cap],
                     ["report", "--bogus", cap], ["report", "--format"]):
            with self.subTest(args=args):
                self.assertUsage(args, 2)

    def test_no_or_unknown_command(self):
        for args in ([], ["frobnicate"]):
            with self.subTest(args=args):
                proc = self.run_cli(args, self.tempdir())
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("memtrack", proc.stderr)


if __name__ == "__main__":
    unittest.main()
