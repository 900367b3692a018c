"""Errors: missing tables, read-only tables, bad arguments.  Each gives
a clear exception of the documented class, never a crash."""
import errno
import os

import shmkv
from support import TableTest


class OpenErrorTest(TableTest):
    def test_missing_table(self):
        with self.assertRaises(FileNotFoundError) as cm:
            shmkv.Table("nope", create=False)
        e = cm.exception
        self.assertIsInstance(e, shmkv.NotFoundError)
        self.assertIsInstance(e, shmkv.Error)
        self.assertEqual(e.errno, errno.ENOENT)
        self.assertEqual(e.strerror, "no such key or table")
        self.assertEqual(e.filename, "nope")
        self.assertEqual(str(e), "[Errno 2] no such key or table: 'nope'")
        with self.assertRaises(shmkv.NotFoundError):
            shmkv.Table("nope", readonly=True, create=False)
        with self.assertRaises(FileNotFoundError):
            shmkv.Table(os.path.join(self.dir, "no-such-dir", "t"))
        with self.assertRaises(FileNotFoundError):
            shmkv.unlink("nope")
        shmkv.unlink("nope", missing_ok=True)

    def test_exclusive_directory_corrupt_and_bad_names(self):
        self.table("there")
        with self.assertRaises(FileExistsError) as cm:
            shmkv.Table("there", exclusive=True)
        self.assertIsInstance(cm.exception, shmkv.ExistsError)
        os.mkdir(os.path.join(self.dir, "adir"))
        self.addCleanup(os.rmdir, os.path.join(self.dir, "adir"))
        with self.assertRaises(IsADirectoryError) as cm:
            shmkv.Table("adir")
        self.assertIsInstance(cm.exception, shmkv.DirectoryError)
        junk = os.path.join(self.dir, "junk")
        with open(junk, "wb") as f:
            f.write(b"not a table" * 100000)
        self.addCleanup(os.unlink, junk)
        with self.assertRaises(shmkv.CorruptError) as cm:
            shmkv.Table("junk")
        self.assertEqual(cm.exception.errno, errno.EBADMSG)
        os.symlink(junk, os.path.join(self.dir, "link"))
        self.addCleanup(os.unlink, os.path.join(self.dir, "link"))
        with self.assertRaises(shmkv.Error) as cm:
            shmkv.Table("link")
        self.assertEqual(cm.exception.errno, errno.ELOOP)
        with self.assertRaises(ValueError):
            shmkv.Table("")
        with self.assertRaises(ValueError):
            shmkv.Table("a\0b")                   # embedded NUL
        with self.assertRaises(shmkv.InvalidError) as cm:
            shmkv.Table("x" * 5000)
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)

    def test_bad_options(self):
        for options, exc in [({"max_bytes": -1}, OverflowError),
                             ({"max_bytes": 1.5}, TypeError),
                             ({"max_bytes": "1G"}, TypeError),
                             ({"max_bytes": 1000}, shmkv.InvalidError),
                             ({"max_bytes": 2**64}, OverflowError),
                             ({"cache": True}, shmkv.InvalidError),        # needs max_bytes
                             ({"exclusive": True, "create": False}, shmkv.InvalidError),
                             ({"mode": 0o10000}, shmkv.InvalidError),
                             ({"expected_keys": -5}, OverflowError),
                             ({"colour": "red"}, TypeError)]:
            with self.subTest(options=options), self.assertRaises(exc):
                shmkv.Table(self.name(), **options)
        with self.assertRaises(TypeError):
            shmkv.Table(42)
        with self.assertRaises(TypeError):
            shmkv.Table("x", True)                   # options are keywords only
        self.assertEqual(os.listdir(self.dir), [])


class ReadOnlyTest(TableTest):
    def test_reads_work_writes_raise(self):
        name = self.name()
        w = self.table(name)
        w.update({b"a": b"1", b"n": b"5"})
        r = self.table(name, readonly=True)
        self.assertTrue(r.readonly)
        self.assertIn("readonly", repr(r))
        self.assertEqual(r[b"a"], b"1")
        self.assertEqual(r.get_many([b"a", b"n"]), {b"a": b"1", b"n": b"5"})
        self.assertEqual(dict(r.items()), {b"a": b"1", b"n": b"5"})
        self.assertIsNone(r.ttl(b"a"))
        self.assertEqual(r.check(), [])
        self.assertEqual(r.stats()["keys"], 2)
        writes = [lambda: r.__setitem__(b"a", b"2"), lambda: r.__delitem__(b"a"),
                  lambda: r.set(b"a", b"2"), lambda: r.add(b"b", b"2"),
                  lambda: r.replace(b"a", b"2"), lambda: r.incr(b"n"),
                  lambda: r.append(b"a", b"2"), lambda: r.take(b"a"),
                  lambda: r.expire(b"a", 1), lambda: r.set_many({b"a": b"2"}),
                  lambda: r.clear(), lambda: r.pop(b"a")]
        for write in writes:
            with self.assertRaises(shmkv.ReadOnlyError) as cm:
                write()
            self.assertEqual(cm.exception.errno, errno.EROFS)
        self.assertEqual(dict(w.items()), {b"a": b"1", b"n": b"5"})
        w[b"a"] = b"new"
        self.assertEqual(r[b"a"], b"new")            # sees writers at once

    def test_get_or_set_computes_without_storing(self):
        name = self.name()
        self.table(name)
        r = self.table(name, readonly=True)
        self.assertEqual(r.get_or_set(b"k", lambda: b"v"), b"v")
        self.assertNotIn(b"k", r)

    def test_readonly_create_makes_the_table(self):
        r = self.table(readonly=True)
        self.assertEqual(len(r), 0)
        with self.assertRaises(shmkv.ReadOnlyError):
            r[b"k"] = b"v"


class ArgumentTest(TableTest):
    def test_keys(self):
        t = self.table()
        for key, exc, code in [(b"", shmkv.InvalidError, errno.EINVAL),
                               ("", shmkv.InvalidError, errno.EINVAL),
                               (b"k" * (shmkv.KEY_MAX + 1), shmkv.InvalidError, errno.E2BIG),
                               ("é" * 40000, shmkv.InvalidError, errno.E2BIG)]:
            for call in (lambda: t[key], lambda: t.get(key), lambda: key in t,
                         lambda: t.__setitem__(key, b"v"), lambda: t.set(key, b"v"),
                         lambda: t.incr(key), lambda: t.take(key), lambda: t.ttl(key),
                         lambda: t.get_many([b"ok", key]), lambda: t.set_many({key: b"v"}),
                         lambda: t.get_or_set(key, lambda: b"v")):
                with self.subTest(key=key[:10], call=call), self.assertRaises(exc) as cm:
                    call()
                self.assertEqual(cm.exception.errno, code)
                self.assertIsInstance(cm.exception, ValueError)
        self.assertIn("65536 bytes", str(self._raise(lambda: t.get(b"k" * 65536))))
        t[b"k" * shmkv.KEY_MAX] = b"longest"
        self.assertEqual(t[b"k" * shmkv.KEY_MAX], b"longest")
        for key in (1, 1.5, None, [b"a"], object()):
            with self.subTest(key=key), self.assertRaises(TypeError) as cm:
                t.get(key)
            self.assertIn("key must be bytes or str", str(cm.exception))
        with self.assertRaises(UnicodeEncodeError):
            t["\udc80"] = b"lone surrogate"
        self.assertEqual(len(t), 1)

    def _raise(self, call):
        try:
            call()
        except Exception as e:
            return e
        self.fail("no exception")

    def test_values(self):
        t = self.table()
        for value in ("text", 1, None, [b"a"], 2.0):
            with self.subTest(value=value), self.assertRaises(TypeError) as cm:
                t[b"k"] = value
            self.assertIn("value must be a bytes-like object", str(cm.exception))
            with self.assertRaises(TypeError):
                t.set(b"k", value)
            with self.assertRaises(TypeError):
                t.append(b"k", value)
            with self.assertRaises(TypeError):
                t.set(b"k", b"v", if_equal=value if value is not None else 5)
        with self.assertRaises(TypeError):
            t.get_or_set(b"k", lambda: "text")
        with self.assertRaises(TypeError):
            t.set_many({b"k": "text"})
        self.assertEqual(len(t), 0)

    def test_other_arguments(self):
        t = self.table()
        bad = [(lambda: t.set(b"k", b"v", ttl=0), shmkv.InvalidError),
               (lambda: t.set(b"k", b"v", ttl=-1), shmkv.InvalidError),
               (lambda: t.set(b"k", b"v", ttl=float("nan")), shmkv.InvalidError),
               (lambda: t.set(b"k", b"v", ttl=1e300), shmkv.InvalidError),
               (lambda: t.set(b"k", b"v", ttl="1"), TypeError),
               (lambda: t.set(b"k", b"v", ttl=1, keep_ttl=True), shmkv.InvalidError),
               (lambda: t.set(b"k", b"v", if_absent=True, if_present=True), shmkv.InvalidError),
               (lambda: t.set(b"k", b"v", if_absent=True, if_equal=b"x"), shmkv.InvalidError),
               (lambda: t.set(b"k", b"v", nonsense=1), TypeError),
               (lambda: t.set(b"k"), TypeError),
               (lambda: t.set(b"k", b"v", 5), TypeError),
               (lambda: t.get(), TypeError),
               (lambda: t.get(b"a", None, None), TypeError),
               (lambda: t.get(b"a", default=None), TypeError),
               (lambda: t.incr(b"n", 1.5), TypeError),
               (lambda: t.incr(b"n", 2**63), OverflowError),
               (lambda: t.incr(b"n", "1"), TypeError),
               (lambda: t.expire(b"n"), TypeError),
               (lambda: t.expire(b"n", -3), shmkv.InvalidError),
               (lambda: t.get_many(5), TypeError),
               (lambda: t.set_many(5), TypeError),
               (lambda: t.set_many([(b"a",)]), TypeError),
               (lambda: t.set_many([b"ab"]), TypeError),
               (lambda: t._scan(7), shmkv.InvalidError),
               (lambda: t._put_leased(b"k", b"v", 0), shmkv.InvalidError),
               (lambda: t._put_leased(b"k", b"v", -1), OverflowError)]
        for call, exc in bad:
            with self.subTest(call=call), self.assertRaises(exc):
                call()
        self.assertEqual(len(t), 0)

    def test_error_classes(self):
        pairs = [(shmkv.NotFoundError, FileNotFoundError), (shmkv.ExistsError, FileExistsError),
                 (shmkv.AccessError, PermissionError), (shmkv.DirectoryError, IsADirectoryError),
                 (shmkv.InvalidError, ValueError), (shmkv.RangeError, OverflowError),
                 (shmkv.LockTimeoutError, TimeoutError), (shmkv.BusyError, BlockingIOError)]
        for cls, builtin in pairs:
            self.assertTrue(issubclass(cls, shmkv.Error) and issubclass(cls, builtin))
        for cls in (shmkv.FullError, shmkv.ReadOnlyError, shmkv.CorruptError):
            self.assertTrue(issubclass(cls, shmkv.Error))
        self.assertTrue(issubclass(shmkv.Error, OSError))
        self.assertEqual(shmkv.Error.__module__, "shmkv")

    def test_full_store(self):
        t = self.table(max_bytes=shmkv.MIN_BYTES)
        with self.assertRaises(shmkv.FullError) as cm:
            for i in range(10000):
                t[b"k%d" % i] = b"v" * 1000
        self.assertEqual(cm.exception.errno, errno.ENOSPC)
        n = len(t)
        self.assertGreater(n, 0)
        del t[b"k0"]
        t[b"again"] = b"v" * 500                     # space is reused, still usable
        self.assertEqual(len(t), n)
        with self.assertRaises(shmkv.FullError):
            t.set_many({b"x%d" % i: b"v" * 1000 for i in range(300)})
        self.assertEqual(t.check(), [])
