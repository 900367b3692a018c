"""shmkv.django.ShmkvCache: a Django cache backend on a shmkv table.

    CACHES = {
        "default": {
            "BACKEND": "shmkv.django.ShmkvCache",
            "LOCATION": "mysite",                  # the table: /dev/shm/mysite
            "TIMEOUT": 300,                        # Django's, as for any backend
            "OPTIONS": {"max_bytes": 256 << 20},   # shmkv.Table's options
        }
    }

Every worker process of the site shares the one table: a value cached by
one is a hit in all the others, with no server in between.  OPTIONS are
shmkv.Table's keyword arguments; the table is a cache (cache=True: full
means evict, never fail) of max_bytes (default 64 MiB) unless they say
otherwise.  Django's own MAX_ENTRIES and CULL_FREQUENCY do not apply (the
table evicts by bytes).  Values are pickled (shmkv.Cache), ints stored as
text so incr/decr are atomic.  Timeouts follow Django: seconds, None for
never, 0 or less for "expired at once".  Keys get Django's KEY_PREFIX,
VERSION and KEY_FUNCTION.  get_or_set with a callable computes the value
in one process while the others wait for it (shmkv leases).
"""
import threading

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from . import TTL_MAX, Cache

_DEFAULT_MAX_BYTES = 64 << 20

# One handle per table and options in a process, shared by the backend
# objects Django makes for each thread.
_open = {}
_open_lock = threading.Lock()


def _shared_cache(location, options):
    key = (location, tuple(sorted(options.items())))
    with _open_lock:
        cache = _open.get(key)
        if cache is None:
            cache = _open[key] = Cache(location, **options)
        return cache


class ShmkvCache(BaseCache):
    """Django's cache API on the shmkv table named by LOCATION."""

    def __init__(self, location, params):
        super().__init__(params)
        options = {k.lower(): v for k, v in params.get("OPTIONS", {}).items()
                   if k.upper() not in ("MAX_ENTRIES", "CULL_FREQUENCY")}
        options.setdefault("cache", True)
        if options["cache"]:
            options.setdefault("max_bytes", _DEFAULT_MAX_BYTES)
        self._cache = _shared_cache(location, options)
        self._table = self._cache.table

    def _key(self, key, version):
        key = self.make_key(key, version=version)
        self.validate_key(key)
        return key

    def _ttl(self, timeout):
        """The lifetime for Django's timeout: seconds, None for never, or
        0 for a timeout that has already passed."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return None
        return 0 if timeout <= 0 else min(timeout, TTL_MAX)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key, ttl = self._key(key, version), self._ttl(timeout)
        if ttl == 0:
            return key not in self._table
        return self._cache.add(key, value, ttl)

    def get(self, key, default=None, version=None):
        return self._cache.get(self._key(key, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key, ttl = self._key(key, version), self._ttl(timeout)
        if ttl == 0:
            self._cache.delete(key)
        else:
            self._cache.set(key, value, ttl)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key, ttl = self._key(key, version), self._ttl(timeout)
        if ttl == 0:
            return self._cache.delete(key)
        return self._cache.touch(key, ttl)

    def delete(self, key, version=None):
        return self._cache.delete(self._key(key, version))

    def has_key(self, key, version=None):
        return self._key(key, version) in self._table

    def incr(self, key, delta=1, version=None):
        try:
            return self._cache.incr(self._key(key, version), delta)
        except KeyError:
            raise ValueError("Key '%s' not found" % key) from None

    def get_many(self, keys, version=None):
        made = {self._key(k, version): k for k in keys}
        return {made[k]: v for k, v in self._cache.get_many(made).items()}

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        made = {self._key(k, version): v for k, v in data.items()}
        ttl = self._ttl(timeout)
        if ttl == 0:
            self._cache.delete_many(made)
        else:
            self._cache.set_many(made, ttl)
        return []

    def delete_many(self, keys, version=None):
        self._cache.delete_many([self._key(k, version) for k in keys])

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        ttl = self._ttl(timeout)
        if not callable(default) or ttl == 0:
            return super().get_or_set(key, default, timeout, version)
        return self._cache.get_or_set(self._key(key, version), default, ttl)

    def clear(self):
        self._cache.clear()

    def close(self, **kwargs):
        """Django calls this after every request: the shared handle stays
        open for the life of the process."""
