"""shmkv.Cache: arbitrary Python objects in a shmkv table, by pickle.

A thin layer over shmkv.Table for programs that cache Python objects
rather than bytes: keys are str, values are pickled, except ints (within
64 bits), which are stored as decimal text so that they can be counted
atomically and read by the other bindings and the shmkv tool.  Anything
else another program wrote as text comes back as bytes.

Only unpickle tables you trust: a pickle can run code when loaded, and
anyone who can write the table's file can write a pickle.
"""
import os
import pickle

from . import Table

_PICKLED = 0x80  # every pickle of protocol 2 or more starts with PROTO
_INT64 = range(-(1 << 63), 1 << 63)


class Cache:
    """Cache(table, *, protocol=pickle.HIGHEST_PROTOCOL, **options)

    table is a shmkv.Table, or a name (or path) to open one with options
    (those of Table; cache=True needs max_bytes).  Lifetimes (ttl) are in
    seconds, None for none.  Cache owns a table it opened: close() and the
    with block close it.
    """

    def __init__(self, table, *, protocol=pickle.HIGHEST_PROTOCOL, **options):
        if protocol < 2:
            raise ValueError("shmkv.Cache needs pickle protocol 2 or more")
        self._owns = isinstance(table, (str, bytes, os.PathLike))
        self.table = Table(table, **options) if self._owns else table
        self.protocol = protocol

    # ---- encoding --------------------------------------------------------

    def encode(self, value):
        """The bytes stored for value."""
        if type(value) is int and value in _INT64:
            return b"%d" % value
        return pickle.dumps(value, self.protocol)

    @staticmethod
    def decode(raw):
        """The object stored as raw (bytes from the table)."""
        if raw[:1] == bytes((_PICKLED,)):
            return pickle.loads(raw)
        try:
            return int(raw)
        except ValueError:
            return raw

    # ---- the API -----------------------------------------------------------

    def get(self, key, default=None):
        raw = self.table.get(key)
        return default if raw is None else self.decode(raw)

    def set(self, key, value, ttl=None):
        self.table.set(key, self.encode(value), ttl=ttl)

    def add(self, key, value, ttl=None):
        """Store value only if key is absent; True if it was stored."""
        return self.table.add(key, self.encode(value), ttl=ttl)

    def replace(self, key, value, ttl=None):
        """Store value only if key is present; True if it was stored."""
        return self.table.replace(key, self.encode(value), ttl=ttl)

    def delete(self, key):
        """Remove key; True if it was there."""
        return self.table.take(key) is not None

    def touch(self, key, ttl=None):
        """Give key a new lifetime (None: none); True if it was there."""
        return self.table.expire(key, ttl)

    def incr(self, key, delta=1):
        """Add delta to the number at key and return the sum, atomically
        (compare-and-swap, keeping the key's lifetime); KeyError if absent."""
        while True:
            raw = self.table.get(key)
            if raw is None:
                raise KeyError(key)
            value = self.decode(raw) + delta
            if self.table.set(key, self.encode(value), if_equal=raw, keep_ttl=True):
                return value

    def get_many(self, keys):
        """{key: value} for the keys present."""
        return {k: self.decode(raw) for k, raw in self.table.get_many(keys).items()}

    def set_many(self, mapping, ttl=None):
        self.table.set_many({k: self.encode(v) for k, v in mapping.items()}, ttl=ttl)

    def delete_many(self, keys):
        for key in keys:
            self.table.pop(key, None)

    def get_or_set(self, key, compute, ttl=None, wait=5.0):
        """The object at key; if absent, compute()'s result, stored.  One
        process computes while the others wait for it (Table.get_or_set)."""
        made = []

        def produce():
            made.append(compute())
            return self.encode(made[0])

        raw = self.table.get_or_set(key, produce, ttl=ttl, wait=wait)
        return made[0] if made else self.decode(raw)

    def clear(self):
        self.table.clear()

    def close(self):
        if self._owns:
            self.table.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getitem__(self, key):
        raw = self.table[key]
        return self.decode(raw)

    def __setitem__(self, key, value):
        self.set(key, value)

    def __delitem__(self, key):
        del self.table[key]

    def __contains__(self, key):
        return key in self.table

    def __len__(self):
        return len(self.table)

    def __repr__(self):
        return "<shmkv.Cache of %r>" % (self.table,)
