"""shmkv.django.ShmkvCache through Django's cache framework.

Needs Django for the interpreter that runs it: on Debian that is
/usr/bin/python3 with python3-django (bindings/python/run-tests.sh runs
this file with every interpreter that has Django, says which, and fails
if none has).
"""
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import warnings

import shmkv

try:
    import django
except ImportError:
    raise unittest.SkipTest("Django is not installed for %s" % sys.executable) from None
from django.conf import settings
from django.core.cache.backends.base import CacheKeyWarning

from support import FORK, child, run_all

DIR = tempfile.mkdtemp(prefix="shmkv-django-", dir="/dev/shm")
SITE = os.path.join(DIR, "site")
STORE = os.path.join(DIR, "store")
BACKEND = "shmkv.django.ShmkvCache"
settings.configure(CACHES={
    "default": {"BACKEND": BACKEND, "LOCATION": SITE, "TIMEOUT": 300,
                "OPTIONS": {"max_bytes": 4 << 20, "MAX_ENTRIES": 10}},
    "prefixed": {"BACKEND": BACKEND, "LOCATION": SITE, "KEY_PREFIX": "other",
                 "OPTIONS": {"max_bytes": 4 << 20, "MAX_ENTRIES": 10}},
    "v2": {"BACKEND": BACKEND, "LOCATION": SITE, "VERSION": 2,
           "OPTIONS": {"max_bytes": 4 << 20, "MAX_ENTRIES": 10}},
    "store": {"BACKEND": BACKEND, "LOCATION": STORE, "TIMEOUT": None,
              "OPTIONS": {"cache": False}},
})
django.setup()
from django.core.cache import cache, caches  # noqa: E402  (after configure)


def tearDownModule():
    import shmkv.django as backend
    for c in backend._open.values():
        c.close()
    backend._open.clear()
    shmkv.unlink(SITE)
    shmkv.unlink(STORE)
    left = os.listdir(DIR)
    shutil.rmtree(DIR)
    assert left == [], left


class DjangoCacheTest(unittest.TestCase):
    def setUp(self):
        cache.clear()
        caches["store"].clear()

    def test_get_set_add_delete(self):
        self.assertIsNone(cache.get("k"))
        self.assertEqual(cache.get("k", "dflt"), "dflt")
        cache.set("k", {"a": [1, 2]})
        self.assertEqual(cache.get("k"), {"a": [1, 2]})
        self.assertIs(cache.add("k", "other"), False)
        self.assertIs(cache.add("new", "v"), True)
        self.assertEqual(cache.get("new"), "v")
        self.assertIs(cache.has_key("k"), True)
        self.assertIn("k", cache)
        self.assertIs(cache.delete("k"), True)
        self.assertIs(cache.delete("k"), False)
        self.assertIs(cache.has_key("k"), False)
        cache.set("none", None)
        self.assertIsNone(cache.get("none", "dflt"))  # None is a value, as in Django
        self.assertTrue(cache.has_key("none"))

    def test_timeouts(self):
        table = cache._table
        cache.set("default", 1)
        self.assertTrue(270 < table.ttl(cache.make_key("default")) <= 300)
        cache.set("forever", 1, timeout=None)
        self.assertIsNone(table.ttl(cache.make_key("forever")))
        cache.set("short", 1, timeout=0.05)
        cache.set("gone", 1)
        cache.set("gone", 2, timeout=0)               # expires at once: deleted
        self.assertIsNone(cache.get("gone"))
        cache.set("neg", 2, timeout=-1)
        self.assertIsNone(cache.get("neg"))
        self.assertIs(cache.add("add0", 1, timeout=0), True)
        self.assertIsNone(cache.get("add0"))
        self.assertIs(cache.add("forever", 1, timeout=0), False)
        cache.set_many({"m1": 1, "m2": 2}, timeout=0)
        self.assertEqual(cache.get_many(["m1", "m2"]), {})
        self.assertIs(cache.touch("forever", 100), True)
        self.assertTrue(90 < table.ttl(cache.make_key("forever")) <= 100)
        self.assertIs(cache.touch("forever", None), True)
        self.assertIsNone(table.ttl(cache.make_key("forever")))
        self.assertIs(cache.touch("absent", 10), False)
        self.assertIs(cache.touch("default", 0), True)
        self.assertIsNone(cache.get("default"))
        caches["store"].set("s", 1)                    # its TIMEOUT is None
        self.assertIsNone(caches["store"]._table.ttl(caches["store"].make_key("s")))
        time.sleep(0.1)
        self.assertIsNone(cache.get("short"))
        cache.set("huge", 1, timeout=10**12)           # beyond TTL_MAX: as long as it goes
        self.assertEqual(cache.get("huge"), 1)

    def test_incr_decr(self):
        cache.set("n", 10)
        self.assertEqual(cache.incr("n"), 11)
        self.assertEqual(cache.incr("n", 10), 21)
        self.assertEqual(cache.decr("n"), 20)
        self.assertEqual(cache.decr("n", 30), -10)
        self.assertEqual(cache.get("n"), -10)
        with self.assertRaises(ValueError):
            cache.incr("absent")
        with self.assertRaises(ValueError):
            cache.decr("absent")
        cache.set("n", 5, timeout=100)
        cache.incr("n")
        self.assertTrue(90 < cache._table.ttl(cache.make_key("n")) <= 100)  # kept

    def test_many(self):
        self.assertEqual(cache.set_many({"a": 1, "b": [2], "c": "3"}), [])
        self.assertEqual(cache.get_many(["a", "b", "c", "d"]), {"a": 1, "b": [2], "c": "3"})
        cache.delete_many(["a", "b", "d"])
        self.assertEqual(cache.get_many(["a", "b", "c"]), {"c": "3"})

    def test_versions_and_prefixes(self):
        cache.set("k", "v1")
        cache.set("k", "v2", version=2)
        self.assertEqual(cache.get("k"), "v1")
        self.assertEqual(cache.get("k", version=2), "v2")
        self.assertEqual(caches["v2"].get("k"), "v2")
        self.assertIsNone(caches["prefixed"].get("k"))
        caches["prefixed"].set("k", "p")
        self.assertEqual(cache.get("k"), "v1")
        self.assertEqual(caches["prefixed"].get("k"), "p")
        self.assertEqual(cache.incr_version("k"), 2)   # BaseCache's, on our get/set/delete
        self.assertEqual(cache.get("k", version=2), "v1")
        self.assertIsNone(cache.get("k"))
        self.assertEqual(cache.decr_version("k", version=2), 1)
        self.assertEqual(cache.get("k"), "v1")
        self.assertIs(cache._table, caches["prefixed"]._table)   # one handle per table

    def test_get_or_set(self):
        self.assertEqual(cache.get_or_set("k", "plain"), "plain")
        self.assertEqual(cache.get_or_set("k", "other"), "plain")
        self.assertEqual(cache.get_or_set("c", lambda: [1]), [1])
        self.assertEqual(cache.get_or_set("c", lambda: [2]), [1])
        self.assertEqual(cache.get_or_set("t", lambda: 1, timeout=50), 1)
        self.assertTrue(45 < cache._table.ttl(cache.make_key("t")) <= 50)

    def test_get_or_set_computes_once_across_workers(self):
        barrier = FORK.Barrier(4)

        def expensive():
            cache.incr("computed")
            time.sleep(0.3)
            return {"page": "rendered"}

        @child
        def worker():
            barrier.wait(10)
            assert cache.get_or_set("page", expensive) == {"page": "rendered"}

        cache.set("computed", 0)
        self.assertEqual(run_all(worker, [()] * 4), [0] * 4)
        self.assertEqual(cache.get("computed"), 1)

    def test_key_validation_and_close(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cache.set("has space", 1)
            self.assertTrue(any(issubclass(w.category, CacheKeyWarning) for w in caught))
            cache.close()                              # after every request: a no-op
            from django.core.cache import close_caches
            close_caches()
            self.assertEqual(cache.get("has space"), 1)

    def test_threads_share_the_table(self):
        tables = []
        t = threading.Thread(target=lambda: tables.append(caches["default"]))
        t.start()
        t.join()
        self.assertIsNot(tables[0], caches["default"])  # Django's object per thread
        self.assertIs(tables[0]._table, cache._table)   # one handle for all

    def test_cache_options(self):
        self.assertTrue(cache._table.stats()["cache"])
        self.assertEqual(cache._table.stats()["max_bytes"], 4 << 20)
        self.assertFalse(caches["store"]._table.stats()["cache"])
        cache.clear()
        for i in range(3000):                           # 3 MB of values into 4 MiB ...
            cache.set("fill%d" % i, b"x" * 1000)
        for i in range(3000):                           # ... then 6 more: it evicts
            cache.set("more%d" % i, b"y" * 2000)
        self.assertGreater(cache._table.stats()["evictions"], 0)
        self.assertEqual(cache.get("more2999"), b"y" * 2000)
