"""shmkv: a hash table of bytes in shared memory, for many processes.

A table is one memory-mapped file (by default in /dev/shm) that any number
of processes and threads on one host use at once, with no server: reads
are lock-free, writes take per-shard locks that survive a killed process.

    import shmkv
    with shmkv.Table("sessions") as t:      # /dev/shm/sessions, created if needed
        t["user:1"] = b"ann"                 # str keys are UTF-8 bytes
        t.get("user:1")                      # b'ann'
        t.incr("hits")                       # 1, atomic across processes

shmkv.Table is a MutableMapping of bytes to bytes, whose keys may also hold
lists and queues (push, list_pop, move, ...); shmkv.Cache stores
pickled Python objects on top of it; shmkv.django.ShmkvCache is a Django
cache backend.  Errors are shmkv.Error (an OSError) and its subclasses.
"""
import time
from collections.abc import ItemsView, MutableMapping, ValuesView

from . import _shmkv
from ._shmkv import (KEY_MAX, LIBRARY_VERSION, MIN_BYTES, TTL_MAX, VAL_MAX, AccessError,
                     BusyError, CorruptError, DirectoryError, Error, ExistsError, FullError,
                     InvalidError, LockTimeoutError, NotFoundError, RangeError, ReadOnlyError,
                     WrongTypeError, unlink)

__version__ = LIBRARY_VERSION
__all__ = ["Table", "Cache", "unlink", "Error", "NotFoundError", "ExistsError", "AccessError",
           "DirectoryError", "InvalidError", "RangeError", "FullError", "ReadOnlyError",
           "LockTimeoutError", "BusyError", "WrongTypeError", "CorruptError", "KEY_MAX", "VAL_MAX", "TTL_MAX",
           "MIN_BYTES", "LIBRARY_VERSION"]

_MISSING = object()


class Table(_shmkv.Table, MutableMapping):
    """Table(name, *, create=True, readonly=False, cache=False, max_bytes=0,
    expected_keys=0, stats=False, mode=0o600, exclusive=False)

    Open (attach to) the table called name, creating it if create is true:
    a name without '/' is a file in $SHMKV_DIR or /dev/shm, one with '/'
    a path.  cache=True makes a new table a cache (needs max_bytes): writes
    evict the pairs least worth keeping instead of failing.  stats=True
    counts hits and misses.  The options of a new table are ignored when
    it exists.  readonly=True attaches without write access.

    A MutableMapping of bytes keys to bytes values: str keys are encoded as
    UTF-8, values may be any bytes-like object.  Iteration (keys(),
    items(), values()) goes through the scan cursor: safe while other
    processes write, every pair present throughout is seen exactly once.

    A key may hold a list instead (push, push_many, list_pop,
    list_pop_many, move, llen, lrange): a queue shared by processes, whose
    pops can wait for a push (and bounded pushes, max_len, for a pop).  The mapping's calls on a list's key raise
    WrongTypeError, but del removes a list, `in` finds it and len()
    counts it; iteration visits the pairs only (lists() the lists).

    The handle works in both processes after fork() (gunicorn --preload);
    it may be shared by threads; the GIL is released around every call
    that can wait or copy much.  Close it with close() or a with block.
    """

    __slots__ = ()

    def items(self):
        """A view of the (key, value) pairs, read through the scan cursor."""
        return _ScanItems(self)

    def values(self):
        """A view of the values, read through the scan cursor."""
        return _ScanValues(self)

    def lists(self):
        """An iterator over the lists: (key, [elements]) with each list's
        elements as one moment saw them, through the scan cursor as the
        pairs' iteration (which skips lists)."""
        return self._scan(3)

    def pop(self, key, default=_MISSING):
        """Remove key and return its value, atomically (take()); KeyError
        if absent and no default is given."""
        value = self.take(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        return value

    def setdefault(self, key, default=b""):
        """The value of key, after storing default there if key is absent."""
        while True:
            value = self.get(key)
            if value is not None or self.add(key, default):
                return default if value is None else value

    def update(self, other=(), /, **kw):
        """Store the pairs of a mapping or iterable of pairs, and kw, in
        batches (set_many)."""
        self.set_many(other)
        if kw:
            self.set_many(kw)

    def get_or_set(self, key, compute, *, ttl=None, wait=5.0):
        """The value of key; if absent, compute() makes it and it is stored.

        When many processes miss the same key at once, one of them (the
        holder of the key's lease) runs compute() and stores the result; the
        others poll for it for up to wait seconds, then compute() for
        themselves without storing.  A value written meanwhile by anyone
        else voids the lease, so a stale result never overwrites it.  If
        compute() raises, the lease is released (the key deleted) so that
        the others need not wait it out.  compute() returns a bytes-like
        object; the result is bytes.  On a read-only table it only reads
        and computes.
        """
        if self.readonly:
            value = self.get(key)
            return bytes(compute()) if value is None else value
        deadline, pause = None, 0.001
        while True:
            value, lease = self._get_lease(key)
            if value is not None:
                return value
            if lease:
                return self._fill(key, compute, lease, ttl)
            now = time.monotonic()
            if deadline is None:
                deadline = now + wait
            if now >= deadline:
                return bytes(compute())
            time.sleep(min(pause, deadline - now))
            pause = min(pause * 2, 0.05)

    def _fill(self, key, compute, lease, ttl):
        try:
            value = bytes(compute())
        except BaseException:
            self.pop(key, None)
            raise
        self._put_leased(key, value, lease, ttl=ttl)
        return value


class _ScanItems(ItemsView):
    __slots__ = ()

    def __iter__(self):
        return self._mapping._scan(1)


class _ScanValues(ValuesView):
    __slots__ = ()

    def __iter__(self):
        return self._mapping._scan(2)


from .cache import Cache  # noqa: E402  (it builds on Table)
