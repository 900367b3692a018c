"""shmkv.Cache: Python objects by pickle, ints as text."""
import datetime
import decimal
import time

import shmkv
from support import TableTest, child, run_all


class CacheTest(TableTest):
    def cache(self, **options):
        name = self.name()
        c = shmkv.Cache(name, **options)
        self.addCleanup(shmkv.unlink, name)
        self.addCleanup(c.close)
        return c

    def test_objects_round_trip(self):
        c = self.cache()
        values = [None, True, 0, -5, 2**63 - 1, 2**70, 1.5, "text", b"bytes", [1, (2, 3)],
                  {"a": {1, 2}}, datetime.date(2024, 2, 29), decimal.Decimal("1.10")]
        for i, v in enumerate(values):
            c.set("k%d" % i, v)
        for i, v in enumerate(values):
            self.assertEqual(c.get("k%d" % i), v)
            self.assertIs(type(c["k%d" % i]), type(v))
        self.assertEqual(c.get("absent", "dflt"), "dflt")
        self.assertEqual(len(c), len(values))

    def test_ints_are_text_and_count_atomically(self):
        c = self.cache()
        c["n"] = 41
        self.assertEqual(c.table[b"n"], b"41")
        self.assertEqual(c.incr("n"), 42)
        self.assertEqual(c.table.incr(b"n"), 43)      # the same counter for Table.incr
        self.assertEqual(c["n"], 43)
        c["f"] = 1.5
        self.assertEqual(c.incr("f", 1), 2.5)          # any number, by compare-and-swap
        with self.assertRaises(KeyError):
            c.incr("absent")
        c.table[b"raw"] = b"written by another program"
        self.assertEqual(c["raw"], b"written by another program")

        @child
        def worker():
            for _ in range(500):
                c.incr("n")

        self.assertEqual(run_all(worker, [()] * 4), [0] * 4)
        self.assertEqual(c["n"], 43 + 2000)

    def test_the_rest_of_the_api(self):
        c = self.cache()
        self.assertIs(c.add("a", [1]), True)
        self.assertIs(c.add("a", [2]), False)
        self.assertIs(c.replace("a", [3]), True)
        self.assertIs(c.replace("b", [3]), False)
        self.assertEqual(c["a"], [3])
        self.assertIn("a", c)
        self.assertIs(c.delete("a"), True)
        self.assertIs(c.delete("a"), False)
        with self.assertRaises(KeyError):
            c["a"]
        c.set_many({"x": 1, "y": "why"})
        self.assertEqual(c.get_many(["x", "y", "z"]), {"x": 1, "y": "why"})
        c.delete_many(["x", "nope"])
        self.assertNotIn("x", c)
        del c["y"]
        with self.assertRaises(KeyError):
            del c["y"]
        self.assertEqual(c.get_or_set("g", lambda: {"made": 1}), {"made": 1})
        self.assertEqual(c.get_or_set("g", lambda: {"made": 2}), {"made": 1})
        c.set("t", 1, ttl=0.05)
        self.assertIs(c.touch("g", 100), True)
        self.assertIs(c.touch("absent", 100), False)
        self.assertTrue(90 < c.table.ttl("g") <= 100)
        time.sleep(0.1)
        self.assertNotIn("t", c)
        c.clear()
        self.assertEqual(len(c), 0)
        self.assertIn("shmkv.Cache", repr(c))

    def test_wraps_a_table_it_does_not_own(self):
        t = self.table()
        with shmkv.Cache(t, protocol=2) as c:
            c["k"] = {"v"}
            self.assertEqual(c.table.get(b"k")[:2], b"\x80\x02")
        self.assertFalse(t.closed)
        with self.assertRaises(ValueError):
            shmkv.Cache(t, protocol=1)
        with shmkv.Cache(t.name, readonly=True) as r:
            self.assertEqual(r["k"], {"v"})
            self.assertTrue(r.table.readonly)
        self.assertEqual(shmkv.Cache(t).get("k"), {"v"})
