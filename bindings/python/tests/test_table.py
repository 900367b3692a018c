"""shmkv.Table: every method, in one process."""
import collections.abc
import errno
import os
import pickle
import threading
import time

import shmkv
from support import TableTest


class MappingTest(TableTest):
    def test_is_a_mutable_mapping(self):
        t = self.table()
        self.assertIsInstance(t, collections.abc.MutableMapping)
        self.assertEqual(len(t), 0)
        t[b"k"] = b"v"
        self.assertEqual(t[b"k"], b"v")
        self.assertIn(b"k", t)
        self.assertNotIn(b"other", t)
        self.assertEqual(len(t), 1)
        del t[b"k"]
        self.assertNotIn(b"k", t)
        self.assertEqual(len(t), 0)
        with self.assertRaises(KeyError) as cm:
            t[b"k"]
        self.assertEqual(cm.exception.args, (b"k",))
        with self.assertRaises(KeyError):
            del t[b"k"]

    def test_str_keys_are_utf8(self):
        t = self.table()
        t["naïve"] = b"1"
        self.assertEqual(t["naïve".encode()], b"1")
        self.assertEqual(list(t), ["naïve".encode()])
        self.assertIn("naïve", t)

    def test_keys_and_values_are_binary_and_bytes_like(self):
        t = self.table()
        key = bytes(range(256))
        t[key] = bytearray(b"\0\xff\0")
        self.assertEqual(t[key], b"\0\xff\0")
        t[memoryview(b"mv")] = memoryview(b"x" * 10)[2:5]
        self.assertEqual(t[b"mv"], b"xxx")
        t[b"empty"] = b""
        self.assertEqual(t[b"empty"], b"")
        self.assertIn(b"empty", t)
        self.assertIs(type(t[b"empty"]), bytes)

    def test_values_of_every_size_path(self):
        # under the stack buffer, just over it, and over the no-GIL limit
        t = self.table()
        values = {b"k%d" % n: os.urandom(n) for n in (1023, 1024, 1025, 40000, 3 << 20)}
        for k, value in values.items():
            t[k] = value
            self.assertEqual(t[k], value)
            self.assertEqual(t.get(k), value)
            self.assertEqual(t.get_many([k]), {k: value})
            self.assertEqual(t._get_lease(k), (value, 0))
        self.assertEqual(t.get_many(values), values)
        self.assertEqual(dict(t.items()), values)
        self.assertEqual(t.take(b"k40000"), values[b"k40000"])

    def test_iteration_keys_items_values(self):
        t = self.table()
        pairs = {b"k%d" % i: b"v%d" % i for i in range(1000)}
        t.update(pairs)
        self.assertEqual(sorted(t), sorted(pairs))
        self.assertEqual(sorted(t.keys()), sorted(pairs))
        self.assertEqual(dict(t.items()), pairs)
        self.assertEqual(sorted(t.values()), sorted(pairs.values()))
        self.assertEqual(t, pairs)
        self.assertEqual(dict(t), pairs)
        self.assertIn((b"k5", b"v5"), t.items())
        it = iter(t)
        self.assertIs(iter(it), it)
        self.assertEqual(len(list(it)), 1000)
        self.assertEqual(list(it), [])

    def test_iteration_while_writing(self):
        # every pair present throughout is seen exactly once
        t = self.table()
        t.update({b"stay%d" % i: b"s" for i in range(500)})
        seen = []
        for i, k in enumerate(t):
            seen.append(k)
            t[b"new%d" % i] = b"n"
            t.pop(b"new%d" % (i - 1), None)
        stays = [k for k in seen if k.startswith(b"stay")]
        self.assertEqual(sorted(stays), sorted(b"stay%d" % i for i in range(500)))

    def test_pop_setdefault_update_clear(self):
        t = self.table()
        t.update([(b"a", b"1")], b=b"2")
        self.assertEqual(dict(t.items()), {b"a": b"1", b"b": b"2"})
        self.assertEqual(t.pop(b"a"), b"1")
        self.assertEqual(t.pop(b"a", None), None)
        with self.assertRaises(KeyError):
            t.pop(b"a")
        self.assertEqual(t.setdefault(b"b", b"x"), b"2")
        self.assertEqual(t.setdefault(b"c", b"3"), b"3")
        self.assertEqual(t[b"c"], b"3")
        key, value = t.popitem()
        self.assertNotIn(key, t)
        t.clear()
        self.assertEqual(len(t), 0)
        self.assertEqual(list(t), [])


class WriteTest(TableTest):
    def test_set_and_conditions(self):
        t = self.table()
        self.assertIs(t.set(b"k", b"1"), True)
        self.assertIs(t.set(b"k", b"2", if_absent=True), False)
        self.assertEqual(t[b"k"], b"1")
        self.assertIs(t.set(b"new", b"n", if_present=True), False)
        self.assertNotIn(b"new", t)
        self.assertIs(t.set(b"k", b"2", if_present=True), True)
        self.assertIs(t.set(b"k", b"3", if_equal=b"wrong"), False)
        self.assertIs(t.set(b"k", b"3", if_equal=b"2"), True)
        self.assertIs(t.set(b"absent", b"3", if_equal=b"2"), False)
        self.assertEqual(t[b"k"], b"3")
        self.assertIs(t.set(b"n", b"1", if_absent=True), True)

    def test_add_replace(self):
        t = self.table()
        self.assertIs(t.add(b"k", b"1"), True)
        self.assertIs(t.add(b"k", b"2"), False)
        self.assertIs(t.replace(b"k", b"3"), True)
        self.assertIs(t.replace(b"x", b"3"), False)
        self.assertEqual(t[b"k"], b"3")
        self.assertNotIn(b"x", t)

    def test_incr(self):
        t = self.table()
        self.assertEqual(t.incr(b"n"), 1)
        self.assertEqual(t.incr(b"n", 41), 42)
        self.assertEqual(t.incr(b"n", -50), -8)
        self.assertEqual(t[b"n"], b"-8")
        t[b"m"] = b"100"
        self.assertEqual(t.incr(b"m", 2**62), 100 + 2**62)
        with self.assertRaises(shmkv.RangeError) as cm:
            t.incr(b"m", 2**63 - 1)
        self.assertIsInstance(cm.exception, OverflowError)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        self.assertEqual(t[b"m"], b"%d" % (100 + 2**62))
        t[b"text"] = b"12a"
        with self.assertRaises(shmkv.InvalidError) as cm:
            t.incr(b"text")
        self.assertEqual(cm.exception.errno, errno.EDOM)
        self.assertIsInstance(cm.exception, ValueError)

    def test_append_take(self):
        t = self.table()
        t.append(b"log", b"a")
        t.append(b"log", bytearray(b"bc"))
        self.assertEqual(t[b"log"], b"abc")
        self.assertEqual(t.take(b"log"), b"abc")
        self.assertNotIn(b"log", t)
        self.assertIsNone(t.take(b"log"))
        self.assertEqual(t.take(b"log", b"d"), b"d")

    def test_get_many_set_many(self):
        t = self.table()
        t.set_many({b"a": b"1", "b": b"2", b"big": b"x" * 5000})
        t.set_many([(b"c", b"3")])
        self.assertEqual(t.get_many([b"a", "b", b"c", b"big", b"none"]),
                         {b"a": b"1", "b": b"2", b"c": b"3", b"big": b"x" * 5000})
        keys = [b"k%d" % i for i in range(1000)]
        t.set_many((k, k + b"!") for k in keys)
        self.assertEqual(t.get_many(iter(keys)), {k: k + b"!" for k in keys})
        self.assertEqual(t.get_many([]), {})
        t.set_many({})

    def test_lifetimes(self):
        t = self.table()
        t.set(b"short", b"v", ttl=0.05)
        t.set(b"long", b"v", ttl=3600)
        t[b"never"] = b"v"
        self.assertIsNone(t.ttl(b"never"))
        self.assertTrue(3240 < t.ttl(b"long") <= 3600)
        with self.assertRaises(KeyError):
            t.ttl(b"absent")
        self.assertIs(t.expire(b"never", 100), True)
        self.assertTrue(90 < t.ttl(b"never") <= 100)
        self.assertIs(t.expire(b"never", None), True)
        self.assertIsNone(t.ttl(b"never"))
        self.assertIs(t.expire(b"absent", 1), False)
        t.set(b"long", b"w", keep_ttl=True)
        self.assertTrue(3240 < t.ttl(b"long") <= 3600)
        t[b"long"] = b"x"                      # a plain write drops the lifetime
        self.assertIsNone(t.ttl(b"long"))
        self.assertEqual(t.incr(b"cnt", ttl=0.05), 1)
        t.set_many({b"m1": b"1", b"m2": b"2"}, ttl=0.05)
        time.sleep(0.12)
        for k in (b"short", b"cnt", b"m1", b"m2"):
            self.assertNotIn(k, t)
        self.assertIsNone(t.get(b"short"))
        self.assertEqual(t.incr(b"cnt"), 1)      # expired counts as absent
        self.assertIs(t.add(b"short", b"again"), True)

    def test_stats_and_check(self):
        t = self.table(stats=True)
        t[b"a"] = b"12345"
        t.get(b"a")
        t.get(b"b")
        st = t.stats()
        self.assertEqual(st["keys"], 1)
        self.assertEqual(st["live_bytes"], 6)
        self.assertEqual((st["hits"], st["misses"]), (1, 1))
        self.assertIs(st["read_stats"], True)
        self.assertIs(st["cache"], False)
        self.assertGreaterEqual(st["puts"], 1)
        self.assertIsInstance(st["load_factor"], float)
        self.assertEqual(t.check(), [])

    def test_cache_mode_evicts(self):
        t = self.table(cache=True, max_bytes=shmkv.MIN_BYTES)
        for i in range(2000):
            t[b"k%d" % i] = b"v" * 500          # 4 times the budget
        st = t.stats()
        self.assertIs(st["cache"], True)
        self.assertGreater(st["evictions"], 0)
        self.assertLess(len(t), 2000)
        self.assertEqual(t.check(), [])


class LeaseTest(TableTest):
    def test_get_or_set(self):
        t = self.table()
        calls = []
        self.assertEqual(t.get_or_set(b"k", lambda: calls.append(1) or b"v"), b"v")
        self.assertEqual(t.get_or_set(b"k", lambda: calls.append(1) or b"w"), b"v")
        self.assertEqual(calls, [1])
        self.assertEqual(t.get_or_set(b"t", lambda: bytearray(b"x"), ttl=100), b"x")
        self.assertTrue(90 < t.ttl(b"t") <= 100)
        self.assertEqual(t.stats()["leases_filled"], 2)

    def test_get_or_set_waits_then_computes_without_storing(self):
        t = self.table()
        value, lease = t._get_lease(b"k")          # a holder that never fills it
        self.assertIsNone(value)
        self.assertNotEqual(lease, 0)
        start = time.monotonic()
        self.assertEqual(t.get_or_set(b"k", lambda: b"mine", wait=0.2), b"mine")
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        self.assertNotIn(b"k", t)
        self.assertIs(t._put_leased(b"k", b"held", lease), True)
        self.assertEqual(t[b"k"], b"held")

    def test_a_write_voids_the_lease(self):
        t = self.table()
        _, lease = t._get_lease(b"k")
        t[b"k"] = b"newer"
        self.assertIs(t._put_leased(b"k", b"stale", lease), False)
        self.assertEqual(t[b"k"], b"newer")
        self.assertEqual(t._get_lease(b"k"), (b"newer", 0))

    def test_failing_compute_releases_the_lease(self):
        t = self.table()
        with self.assertRaises(ZeroDivisionError):
            t.get_or_set(b"k", lambda: 1 / 0)
        start = time.monotonic()
        self.assertEqual(t.get_or_set(b"k", lambda: b"ok", wait=5), b"ok")
        self.assertLess(time.monotonic() - start, 3)
        self.assertEqual(t[b"k"], b"ok")


class HandleTest(TableTest):
    def test_close_and_context_manager(self):
        name = self.name()
        with shmkv.Table(name) as t:
            t[b"k"] = b"v"
            self.assertFalse(t.closed)
            self.assertEqual(t.name, name)
            self.assertIn(repr(name), repr(t))
        self.assertTrue(t.closed)
        self.assertIn("closed", repr(t))
        t.close()                                  # twice is fine
        for call in (lambda: t[b"k"], lambda: t.get(b"k"), lambda: len(t), lambda: list(t),
                     lambda: t.set(b"k", b"v"), lambda: t.stats(), lambda: t.__enter__()):
            with self.assertRaises(ValueError):
                call()
        with shmkv.Table(name, create=False) as t2:
            self.assertEqual(t2[b"k"], b"v")       # the table outlives its handles
        shmkv.unlink(name)
        self.assertFalse(os.path.exists(os.path.join(self.dir, name)))

    def test_paths_and_modes(self):
        path = os.path.join(self.dir, "sub")
        os.mkdir(path)
        self.addCleanup(os.rmdir, path)
        t = self.table(os.path.join(path, "x.tbl"), mode=0o640)
        self.assertEqual(os.stat(os.path.join(path, "x.tbl")).st_mode & 0o777, 0o640)
        t[b"k"] = b"v"
        import pathlib
        with shmkv.Table(pathlib.Path(path) / "x.tbl", create=False) as t2:
            self.assertEqual(t2[b"k"], b"v")

    def test_two_handles_see_each_other(self):
        name = self.name()
        a = self.table(name)
        b = self.table(name)
        a[b"k"] = b"from a"
        self.assertEqual(b[b"k"], b"from a")
        b.incr(b"n")
        self.assertEqual(a.incr(b"n"), 2)

    def test_not_picklable(self):
        with self.assertRaises(TypeError):
            pickle.dumps(self.table())

    def test_threads_share_a_handle_and_close_waits(self):
        t = self.table()
        t[b"big"] = b"b" * (8 << 20)
        errors = []

        def reader():
            try:
                for _ in range(20):
                    if len(t.get(b"big")) != 8 << 20:
                        errors.append("short read")
            except ValueError:
                pass                               # closed under us: refused cleanly
            except Exception as e:                 # anything else is a bug
                errors.append(repr(e))

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for th in threads:
            th.start()
        time.sleep(0.01)
        t.close()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        self.assertTrue(t.closed)

    def test_module_constants(self):
        self.assertEqual(shmkv.KEY_MAX, 65535)
        self.assertEqual(shmkv.VAL_MAX, 2**32 - 1)
        self.assertEqual(shmkv.MIN_BYTES, 256 * 1024)
        self.assertEqual(shmkv.TTL_MAX, float(2**46 // 1000))
        self.assertRegex(shmkv.__version__, r"^\d+\.\d+\.\d+$")
