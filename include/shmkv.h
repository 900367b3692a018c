/*
 * shmkv.h - a hash table of binary keys and values in shared memory.
 *
 * One table is one memory-mapped file (by default in /dev/shm) used at once
 * by any number of processes and threads on one host, with no server.
 *
 * Conventions, true of every function below unless its comment says
 * otherwise:
 *
 *  - Functions returning int return 0 on success or a negative errno value
 *    (-ENOENT, -ENOSPC, ...).  shmkv_strerror() turns any of them into text.
 *  - Keys are 1 to SHMKV_KEY_MAX bytes, values 0 to SHMKV_VAL_MAX bytes; both
 *    are arbitrary binary data.  A NULL or zero-length key, or a NULL value
 *    with a non-zero length, gives -EINVAL; a key or value that is too long
 *    gives -E2BIG.  A NULL handle gives -EINVAL.
 *  - Thread and process safety: a handle may be used by any number of
 *    threads at once, and any number of processes may have the same table
 *    open.  A handle opened before fork() keeps working in parent and child.
 *    Every operation is atomic: a reader sees a pair entirely as it was
 *    before or after a write, never a mix, and once a write has returned
 *    every later read in any process sees it or something newer.
 *  - Reads (get, get_many, ttl, llen, foreach on a read-only handle,
 *    count, stat) take no lock and never write shared memory (except the
 *    hit/miss counters of a table created with SHMKV_STATS or SHMKV_CACHE,
 *    and in a cache a key's 2-bit read count, raised by one
 *    compare-and-swap while it is below its top), and work on read-only
 *    handles, which write nothing at all.  They never wait for writers.  A
 *    read that loses a race against a writer looks again; from its second
 *    look it validates its copy by the record's own run, so only writes of
 *    the very key it reads can make it look again, and a writable handle
 *    that loses 16 times in a row takes the shard's lock for one look: a
 *    read always finishes.  (A process that can write the file can of
 *    course keep rewriting a key; what it cannot do is crash or hang a
 *    reader: see "Distrust of the file" below.)
 *  - Writers serialise per shard on the table's own process-shared locks
 *    (format 3: a futex word naming the holder, and the holder's
 *    identity).  A holder that is gone (killed, exited, of another boot,
 *    or a lock word damaged so it names nobody) is taken over by the next
 *    waiter within about a millisecond, which repairs what the holder left
 *    half done: a process killed at any instant never blocks others for
 *    more than a moment and never damages a completed write; its
 *    interrupted write is all or nothing.  Every function that takes a
 *    lock (writes, and shmkv_foreach on a writable handle) may also return
 *    -ETIMEDOUT: at once if the lock's holder is stopped (SIGSTOP), or
 *    once one live holder has kept it a second of its own time without
 *    progress (stuck; held by a tracer, such as a debugger at a
 *    breakpoint: strace's stops are brief and merely waited out; or in
 *    another PID namespace, where its liveness cannot be seen, so it is
 *    never taken over).  A holder's own time is what it runs or sleeps,
 *    not what it waits for a CPU on a busy host.  The second is per
 *    holder: a waiter that keeps losing the lock to other brief
 *    holders waits on, and one whose holder grows the file waits while
 *    each step of the growth comes within a second.  So a wait outlasts
 *    a second of wall time only while its holder is queued for a CPU,
 *    the lock keeps changing hands, or a growth keeps stepping.
 *    -EDEADLK if the calling thread holds that lock already (only
 *    possible from an shmkv_update callback).
 *  - Expiry: a pair may be given a lifetime (shmkv_put_ttl, shmkv_expire).
 *    Once it has passed, the pair is absent to every function: gets miss,
 *    add succeeds, replace/del/expire/ttl return -ENOENT, foreach skips
 *    it; its space is reclaimed as writers meet it (no sweep of the whole
 *    table ever runs).  Time is the host's CLOCK_BOOTTIME (not the wall
 *    clock; setting the date changes nothing) in milliseconds, the same
 *    for every process.  A table on disk that outlives a reboot carries on
 *    from its last noted time: lifetimes pause while the host is down.
 *  - Kinds of value: a key holds a pair or a list (shmkv_push); a pair
 *    call on a list's key, or a list call on a pair's key, returns
 *    -EMEDIUMTYPE and changes nothing.
 *  - The library never exits, aborts or prints.
 *  - Distrust of the file: the file is checked on open and every offset
 *    read from it is bounds-checked against the file's real size, every
 *    walk is bounded by that size, and the locks' fields are data the
 *    library checks: a corrupt or hostile file yields -EBADMSG (or a lock
 *    taken over), never a signal, a hang or an abort.
 */
#ifndef SHMKV_H
#define SHMKV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMKV_VERSION_MAJOR 0
#define SHMKV_VERSION_MINOR 1
#define SHMKV_VERSION_PATCH 0
#define SHMKV_VERSION_STRING "0.1.0"

#define SHMKV_KEY_MAX 65535u          /* longest key, bytes */
#define SHMKV_VAL_MAX 4294967295u     /* longest value, bytes (4 GiB - 1) */
#define SHMKV_TTL_MAX (1ull << 46)    /* longest lifetime, ms (about 2,230 years);
                                       * a longer one is refused with -EINVAL */

/** One attached table; safe to share between threads. */
typedef struct shmkv shmkv;

/** Flags for shmkv_options.flags. */
enum {
    SHMKV_CREATE = 1 << 0, /* create the table if it does not exist */
    SHMKV_EXCL   = 1 << 1, /* with SHMKV_CREATE: fail with -EEXIST if it exists */
    SHMKV_RDONLY = 1 << 2, /* attach read-only; every write returns -EROFS */
    SHMKV_STATS  = 1 << 3, /* with SHMKV_CREATE, for a new table: count reads
                            * (hits and misses) in shared counters striped by
                            * CPU.  Costs one atomic add per get on a line of
                            * the reader's CPU; without it reads
                            * write nothing at all.  Read-only handles never
                            * count.  Ignored when the table exists. */
    SHMKV_CACHE  = 1 << 4, /* with SHMKV_CREATE, for a new table: cache mode
                            * (max_bytes required, else -EINVAL).  A write
                            * never fails for lack of space: it evicts the
                            * pairs least worth keeping (oldest first, but a
                            * pair read since it was written or last kept is
                            * kept, up to three times: CLOCK with a 2-bit
                            * read count per key).  Pairs larger than an
                            * eighth of max_bytes are refused (-E2BIG).
                            * Implies SHMKV_STATS.  Ignored when the table
                            * exists (it keeps its own mode). */
};

/** How to open or create a table.  Zero-initialise, then set what you need. */
typedef struct shmkv_options {
    unsigned flags;         /* SHMKV_* */
    unsigned mode;          /* permission bits of a new file; 0 means 0600.
                             * Applied exactly (fchmod), not filtered by umask. */
    uint64_t max_bytes;     /* most memory (file bytes) the table may ever use;
                             * 0: only the file system limits it (the table
                             * reserves address space for the file system's
                             * size at creation, at most 1 TiB).  At least
                             * SHMKV_MIN_BYTES. */
    uint64_t expected_keys; /* with SHMKV_CREATE, for a new table: the keys it
                             * will hold.  The index is made with room for
                             * them (five a bucket, the count rounded up to
                             * a power of two: 13 to 26 bytes a key, taken
                             * at creation; at most 2^20 buckets a shard and
                             * a quarter of max_bytes), so a fill
                             * up to that count splits nothing: its puts run
                             * some 30 % faster than into a table that grows
                             * (BENCHMARKS.md 9.20), and it grows as usual
                             * past it.  0: start small and grow.  Ignored
                             * when the table exists. */
} shmkv_options;

#define SHMKV_MIN_BYTES (256u * 1024u) /* smallest accepted max_bytes */

/** What shmkv_stat() reports.  Counters are summed over shards without a
 *  global lock, so under concurrent writes they are each exact but not
 *  taken at one instant. */
typedef struct shmkv_stats {
    uint64_t keys;             /* keys held, as shmkv_count() */
    uint64_t live_bytes;       /* key + value bytes of the live pairs */
    uint64_t used_bytes;       /* bytes of the file in use: header, index,
                                * records, and free space held for reuse */
    uint64_t max_bytes;        /* the table's limit (its address reservation
                                * when created with max_bytes 0) */
    /* geometry */
    uint64_t file_bytes;       /* current size of the file */
    uint64_t shards;           /* lock stripes / independent sub-tables */
    uint64_t buckets;          /* 64-byte index buckets in use (primary) */
    uint64_t overflow_buckets; /* 64-byte overflow buckets in use */
    uint64_t index_bytes;      /* bytes holding the index */
    uint64_t log_bytes;        /* bytes of record runs (live + garbage) */
    uint64_t garbage_bytes;    /* record bytes overwritten or deleted, not yet reclaimed */
    uint64_t free_bytes;       /* bytes in free runs, ready for reuse */
    double   load_factor;      /* keys / (primary buckets * 7) */
    /* activity since the table was created */
    uint64_t puts;             /* pairs written: put, add, replace, put_ex,
                                * put_many, incr, append, update, expire,
                                * put_leased */
    uint64_t dels;             /* successful deletes */
    uint64_t splits;           /* index buckets split (incremental growth) */
    uint64_t runs_cleaned;     /* record runs released for reuse (emptied by
                                * overwrites and deletes, or compacted) */
    uint64_t lock_waits;       /* writer lock acquisitions that had to wait */
    uint64_t lock_recoveries;  /* locks recovered from a dead owner */
    uint64_t read_stats;       /* 1 if the table counts reads (SHMKV_STATS) */
    uint64_t hits;             /* gets that found their key (if read_stats) */
    uint64_t misses;           /* gets that did not (if read_stats; expired
                                * keys count as misses) */
    uint64_t cache;            /* 1 if the table is a cache (SHMKV_CACHE) */
    uint64_t evictions;        /* pairs evicted to make room (cache mode) */
    uint64_t expirations;      /* expired pairs reclaimed (keys counts a pair
                                * until then) */
    uint64_t leases_granted;   /* leases handed out by shmkv_get_lease */
    uint64_t leases_filled;    /* ... filled by shmkv_put_leased */
    uint64_t leases_voided;    /* ... voided: by a write, delete, clear or
                                * eviction of the key, or lapsed */
} shmkv_stats;

/** Called by shmkv_foreach() for each pair, with a private copy of it.
 *  Return 0 to go on, anything else to stop (shmkv_foreach then returns it). */
typedef int (*shmkv_visit_fn)(void *ctx, const void *key, size_t klen,
                              const void *val, size_t vlen);

/**
 * Open (attach to) a table, creating it if asked.
 *
 * name: a name without '/' is a file in $SHMKV_DIR, else in /dev/shm; a
 * name with '/' is used as a path (so a table can live on disk).
 * opts: NULL means {.flags = SHMKV_CREATE}.  An existing table keeps its own
 * geometry and limit; the sizing options are then ignored.
 *
 * Creation is atomic: the table is built in a private temporary file and
 * linked into place, so many processes creating the same name at once all
 * end up attached to one table, and none ever sees it half-initialised.
 * A new file is created with O_EXCL|O_NOFOLLOW|O_CLOEXEC and mode 0600
 * unless opts->mode says otherwise.
 *
 * Returns 0 and sets *out, or:
 *   -EINVAL       NULL name or out, empty name, unknown flags, SHMKV_EXCL
 *                 without SHMKV_CREATE, max_bytes below SHMKV_MIN_BYTES
 *                 or above 2 TiB, SHMKV_CACHE without max_bytes when
 *                 creating
 * SHMKV_CREATE|SHMKV_RDONLY creates the table if needed, then attaches
 * read-only.
 *   -ENAMETOOLONG name or resulting path too long
 *   -ENOENT       no such table and SHMKV_CREATE not given, or the
 *                 directory does not exist
 *   -EEXIST       SHMKV_CREATE|SHMKV_EXCL and the table exists
 *   -ELOOP        the name is a symbolic link (never followed)
 *   -EACCES       permission denied (file or directory)
 *   -EISDIR       the name is a directory
 *   -EBADMSG      the file is not a shmkv table of this format: wrong magic,
 *                 other format version, truncated or corrupt header
 *   -ENOSPC       no room to create the file
 *   -ENOMEM       out of memory or address space
 *   other         as returned by open(2), mmap(2), fallocate(2)
 * Thread-safe.
 */
int shmkv_open(const char *name, const shmkv_options *opts, shmkv **out);

/** Detach from a table and free the handle.  The table and its contents
 *  stay.  NULL is ignored.  No other thread may use the handle meanwhile. */
void shmkv_close(shmkv *db);

/**
 * Remove the table's file (name resolved as by shmkv_open).  Processes that
 * have it open keep working on their mapping until they close it.
 * Returns 0, -EINVAL (NULL or empty name), -ENAMETOOLONG, -ENOENT, -EACCES,
 * -EPERM or another unlink(2) error.
 */
int shmkv_unlink(const char *name);

/**
 * Insert a pair, or overwrite the value of an existing key.
 * Returns 0, or -EINVAL (bad arguments, see above), -E2BIG (key or value
 * too long, or a pair larger than the table's whole max_bytes, which no
 * amount of deleting could make room for; in a cache, a pair whose key
 * and value pass max_bytes / 8), -EROFS (read-only handle), -ENOSPC
 * (max_bytes reached, the file system full, or the file at the calling
 * process's RLIMIT_FSIZE: the table is unchanged and still fully usable,
 * and space freed by deletes and overwrites is reused; a cache evicts
 * instead, and returns -ENOSPC only if the file itself can grow no
 * more), -EMEDIUMTYPE (the key holds a list), -ETIMEDOUT, -EDEADLK or
 * -EBADMSG (see the conventions).
 */
int shmkv_put(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen);

/**
 * Like shmkv_put(), and the pair expires ttl_ms milliseconds from now
 * (ttl_ms 0: never).  A later shmkv_put/add/replace of the key gives it
 * no expiry (as Redis SET does); shmkv_put_ttl sets a new one.  Same
 * return values as shmkv_put(), and -EINVAL for a ttl_ms over
 * SHMKV_TTL_MAX.
 */
int shmkv_put_ttl(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, uint64_t ttl_ms);

/**
 * Give an existing pair a new lifetime: it expires ttl_ms milliseconds
 * from now (ttl_ms 0: never).  The value is unchanged (the pair is
 * rewritten with it, atomically).  Returns 0, -ENOENT (absent or already
 * expired; also for a key too long to have been stored), -EINVAL (also a
 * ttl_ms over SHMKV_TTL_MAX), -E2BIG (key over SHMKV_KEY_MAX), -EROFS,
 * -ENOSPC, -ENOMEM (copying a chained value), -EMEDIUMTYPE (a list: lists
 * do not expire), -ETIMEDOUT, -EBADMSG.
 */
int shmkv_expire(shmkv *db, const void *key, size_t klen, uint64_t ttl_ms);

/**
 * How long a pair has left: sets *remaining_ms to the milliseconds until
 * it expires (at least 1), or to 0 if it never expires.  Returns 0,
 * -ENOENT (absent or expired), -EINVAL (also for a NULL remaining_ms),
 * -E2BIG, -EMEDIUMTYPE (a list), -EBADMSG.  Lock-free; counts as neither hit nor miss.
 */
int shmkv_ttl(shmkv *db, const void *key, size_t klen, uint64_t *remaining_ms);

/** Like shmkv_put(), but fails with -EEXIST (changing nothing) if the key
 *  is present. */
int shmkv_add(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen);

/** Like shmkv_put(), but fails with -ENOENT (changing nothing) if the key
 *  is absent. */
int shmkv_replace(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen);

/** Conditions and options of one write (shmkv_put_ex).  Zero-initialise,
 *  then set what you need. */
enum {
    SHMKV_IF_ABSENT  = 1 << 0, /* write only if the key is absent (or expired): else -EEXIST */
    SHMKV_IF_PRESENT = 1 << 1, /* write only if the key is present: else -ENOENT */
    SHMKV_IF_EQUAL   = 1 << 2, /* write only if the current value equals expected/elen:
                                * -ENOENT if absent, -ECANCELED if it differs */
    SHMKV_KEEP_TTL   = 1 << 3, /* keep the pair's current expiry instead of ttl_ms
                                * (a key written afresh gets none) */
};
typedef struct shmkv_put_opts {
    unsigned flags;            /* SHMKV_IF_*, SHMKV_KEEP_TTL */
    uint64_t ttl_ms;           /* lifetime of the written pair; 0: never expires */
    const void *expected;      /* SHMKV_IF_EQUAL: the value the key must hold now */
    size_t elen;
} shmkv_put_opts;

/**
 * Store a pair under conditions, atomically: the condition is tested and
 * the pair written under the key's lock, so of several processes doing
 * compare-and-swap (SHMKV_IF_EQUAL) on one key exactly one wins each
 * round.  opts NULL: as shmkv_put().  Returns what shmkv_put() returns,
 * and -EEXIST / -ENOENT / -ECANCELED when the condition fails (nothing
 * changes), -EINVAL for unknown flags, SHMKV_IF_ABSENT with
 * SHMKV_IF_PRESENT or SHMKV_IF_EQUAL, SHMKV_KEEP_TTL with a ttl_ms, an
 * expected value NULL with elen > 0, or ttl_ms over SHMKV_TTL_MAX.
 * A pending lease (shmkv_get_lease) counts as absent, and is voided.
 */
int shmkv_put_ex(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen,
                 const shmkv_put_opts *opts);

/**
 * Add delta to the signed 64-bit integer stored at key as decimal ASCII
 * text ("-42"), the representation Redis and memcached use, so shmkv get
 * and every binding read it as text.  An absent (or expired) key counts
 * as 0 and is created with lifetime ttl_ms (0: never); an existing key
 * keeps its expiry.  *result (may be NULL) gets the new value.  Atomic:
 * concurrent increments from any number of processes are all counted,
 * and a process killed mid-increment leaves the old value or the new.
 * When the new text is as long as the old one the digits are rewritten
 * in place (no new record, nothing for compaction to reclaim); readers
 * still see only whole values.  Returns 0, -EDOM (the current value is not a decimal integer: an
 * optional '-', then 1 to 19 digits, nothing else, within int64),
 * -ERANGE (the result would overflow int64; nothing changes), -EINVAL
 * (also ttl_ms over SHMKV_TTL_MAX), -E2BIG (key), -EROFS, -ENOSPC,
 * -ENOMEM, -ETIMEDOUT, -EBADMSG.
 */
int shmkv_incr(shmkv *db, const void *key, size_t klen, int64_t delta, uint64_t ttl_ms, int64_t *result);

/**
 * Append bytes to the key's value, atomically (creating the key with
 * exactly these bytes, and no expiry, if absent); an existing pair keeps
 * its expiry.  Returns 0, -E2BIG when the result would exceed
 * SHMKV_VAL_MAX or the table's limits (nothing changes), and the errors of
 * shmkv_put().
 */
int shmkv_append(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen);

/**
 * Get and delete in one step: *val is a malloc()ed copy (free it; never
 * NULL on success, even for an empty value), *vlen its length.  Of
 * several concurrent takers of one key exactly one gets it; the others
 * get -ENOENT.  Returns 0, -ENOENT (absent; a pending lease of the key is
 * voided, as by shmkv_del), -EINVAL (also val or vlen NULL), -E2BIG,
 * -EROFS, -ENOMEM, -ETIMEDOUT, -EBADMSG.
 */
int shmkv_take(shmkv *db, const void *key, size_t klen, void **val, size_t *vlen);

/** What an update callback decides (its return value), and the new value. */
enum { SHMKV_UPDATE_KEEP = 0, SHMKV_UPDATE_SET = 1, SHMKV_UPDATE_DELETE = 2 };
typedef struct shmkv_update_out {
    const void *val;           /* SHMKV_UPDATE_SET: the new value; must stay valid
                                * until shmkv_update returns or calls fn again */
    size_t vlen;
    uint64_t ttl_ms;           /* its lifetime (0: never) ... */
    unsigned flags;            /* ... or SHMKV_KEEP_TTL: the current one */
} shmkv_update_out;

/**
 * Called by shmkv_update() with the key and its current value (val NULL
 * when the key is absent; a pointer into the table or a private copy,
 * valid only during the call, never to be written).  Returns
 * SHMKV_UPDATE_KEEP (change nothing), SHMKV_UPDATE_SET (store out->val),
 * SHMKV_UPDATE_DELETE (delete the key), or a negative errno to abort
 * (shmkv_update returns it, nothing changes).
 */
typedef int (*shmkv_update_fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                               shmkv_update_out *out);

/**
 * A general read-modify-write: fn sees the key's current value and decides
 * what the key holds next, all while the key's shard is locked, so no
 * other write of any process comes in between (APCu's apcu_entry, Python's
 * setdefault, any update the other calls do not cover).  fn runs with a
 * lock held: it must be short (other writers of the shard wait for it), it
 * must not call any shmkv function on this table (a call needing the same
 * lock returns -EDEADLK; one needing another shard's could deadlock with
 * other processes), and it may be called more than once for one update
 * (when the table is full, the write lets go of the lock to make room and
 * decides again).  A process killed inside fn leaves the key as it was.
 * Returns 0 (whatever fn decided), fn's negative errno, -EINVAL (also
 * fn NULL, or an out that is not valid), -E2BIG (the new value too long),
 * -EROFS, -ENOSPC, -ENOMEM, -ETIMEDOUT, -EBADMSG.
 */
int shmkv_update(shmkv *db, const void *key, size_t klen, shmkv_update_fn fn, void *ctx);

/** One pair of a batch for shmkv_put_many(). */
typedef struct shmkv_pair {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
    uint64_t ttl_ms;           /* 0: never expires */
    int rc;                    /* out: what shmkv_put_ttl() would return for it */
} shmkv_pair;

/**
 * Many independent puts at once, faster than one call each: the memory
 * each pair's put will touch is requested a few pairs ahead of it, so the
 * cache misses of several pairs overlap (about 2x single puts in a table
 * of 10 M keys, BENCHMARKS.md 7.8; any n works, and batches of 16 or more
 * keep the pipeline full).  The pairs are written in the order given, each its own atomic
 * put, safe with every other operation of any thread or process as
 * shmkv_put_ttl() is (there is no transaction across pairs: a process
 * killed in the call leaves the pairs before the one in progress written,
 * that one old or new, and the rest not).  Returns the number of pairs
 * stored (rc 0), or -EINVAL (NULL db, or pairs NULL with n > 0).
 */
int shmkv_put_many(shmkv *db, shmkv_pair *pairs, size_t n);

/**
 * Look up a key and copy its value into buf.
 *  - Found and cap >= length: copies the value, sets *vlen, returns 0.
 *  - Found but cap too small: returns -ENOBUFS, sets *vlen to the length
 *    needed and leaves buf untouched (buf may be NULL when cap is 0).
 *  - Absent: -ENOENT.
 *  - A list: -EMEDIUMTYPE.
 * Also -EINVAL / -E2BIG (bad arguments; vlen must not be NULL), -EBADMSG
 * (the table is corrupt).  Lock-free: never waits for writers.
 */
int shmkv_get(shmkv *db, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen);

/**
 * Look up a key and return a malloc()ed copy of its value in *val (the
 * caller frees it) and its length in *vlen.  A zero-length value still
 * gives a non-NULL pointer.  Returns 0, -ENOENT, -ENOMEM, -EINVAL, -E2BIG,
 * -EBADMSG.  Lock-free.
 */
int shmkv_get_alloc(shmkv *db, const void *key, size_t klen, void **val, size_t *vlen);

/** One lookup of a batch for shmkv_get_many(). */
typedef struct shmkv_item {
    const void *key;  /* in: the key */
    size_t klen;      /* in: its length */
    void *buf;        /* in: where the value goes (may be NULL if cap is 0) */
    size_t cap;       /* in: room in buf */
    size_t vlen;      /* out: the value's length (also on -ENOBUFS) */
    int rc;           /* out: as shmkv_get() returns for this key */
} shmkv_item;

/**
 * Look up n keys at once; each item gets what shmkv_get() would give it
 * (rc, vlen, the value in buf).  Much faster than n calls on tables larger
 * than the CPU caches: the batch's buckets and records are prefetched
 * together, so their memory latencies overlap instead of adding up.
 * Returns the number of items found (rc 0), or -EINVAL (NULL db, or items
 * NULL with n > 0).  Lock-free, like shmkv_get().
 */
int shmkv_get_many(shmkv *db, shmkv_item *items, size_t n);

/** Delete a key.  Returns 0, -ENOENT (absent; a pending lease of the key
 *  is voided), -EINVAL, -E2BIG, -EROFS, -ETIMEDOUT, -EBADMSG. */
int shmkv_del(shmkv *db, const void *key, size_t klen);

/**
 * Remove every pair.  Not key by key: shard by shard, under each shard's
 * lock in turn, the index is zeroed and the shard's record runs are
 * released whole, so it takes about as long as writing the index once.
 * Other processes keep working meanwhile; each sees any key either as it
 * was or gone, and writes made to a shard after it was cleared stay.
 * Counters (puts, hits, ...) are kept.  Returns 0, -EINVAL, -EROFS,
 * -ETIMEDOUT, -EBADMSG.
 */
int shmkv_clear(shmkv *db);

/**
 * Call fn(ctx, key, klen, val, vlen) with a private copy of each pair, in no
 * particular order.  If fn returns non-zero the iteration stops and
 * shmkv_foreach returns that value; otherwise it returns 0.  Every pair
 * present for the whole iteration is visited exactly once, also while other
 * processes write; pairs added or removed meanwhile may or may not be.  fn
 * may call any shmkv function, on this table too.
 *
 * Works shard by shard: on a writable handle each shard's pairs are copied
 * under its lock (held briefly, never while fn runs); on a read-only handle
 * they are copied optimistically and the copy retried if writers changed
 * the shard meanwhile.  Returns also -EINVAL (NULL db or fn), -ENOMEM,
 * -EBADMSG, -EAGAIN on a read-only handle when writers changed one shard
 * on every one of many attempts, and on a writable handle -ETIMEDOUT or
 * -EDEADLK (a shard's lock; see the conventions).  An error can come
 * after fn has seen some shards: what fn saw is true, but the iteration
 * is not complete.  Lists are not visited (shmkv_scan_all visits them).
 */
int shmkv_foreach(shmkv *db, shmkv_visit_fn fn, void *ctx);

/**
 * Resumable iteration, one piece of the table per call, for iterators that
 * hand out pairs as they go: start with *cursor = 0; each call visits the
 * pairs of the next piece (a shard) with fn exactly as shmkv_foreach()
 * does, and sets *cursor to where the next call resumes, 0 after the last
 * piece.  A full scan visits every pair present from its start to its end
 * exactly once, also while other processes write; pairs added or removed
 * meanwhile may or may not be visited.  fn returning non-zero stops the
 * call and is returned (the cursor then resumes after the piece).
 * Returns 0, fn's value, -EINVAL (NULL db, cursor or fn, or a cursor that
 * no scan of this table gave), -ENOMEM, -EBADMSG, -ETIMEDOUT (writable
 * handle), -EAGAIN (read-only handle, as shmkv_foreach).
 */
int shmkv_scan(shmkv *db, uint64_t *cursor, shmkv_visit_fn fn, void *ctx);

/** What shmkv_scan_all() hands its callback: a pair (val/vlen its value),
 *  or a list (val/vlen its elements at one instant, each as a 4-byte
 *  length in host byte order, then its bytes). */
enum { SHMKV_KIND_PAIR = 0, SHMKV_KIND_LIST = 1 };
typedef int (*shmkv_entry_fn)(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen);

/**
 * shmkv_scan() for every key, pairs and lists (shmkv_foreach and
 * shmkv_scan visit pairs only): what a dump needs.  Same cursor, same
 * guarantees, same returns, and -E2BIG for a list whose elements pass
 * 4 GiB in all.
 */
int shmkv_scan_all(shmkv *db, uint64_t *cursor, shmkv_entry_fn fn, void *ctx);

/**
 * Leases: filling a cache from a slower store without stampedes or stale
 * values (the leases of "Scaling Memcache at Facebook", NSDI 2013).
 *
 * Like shmkv_get().  On a miss it returns -ENOENT and sets *lease:
 * non-zero when this caller now holds the key's lease and should fetch
 * the value and store it with shmkv_put_leased(); 0 when another live
 * lease exists (the caller may wait briefly and get again, or use the
 * slow path without storing).  A lease lasts lease_ms (0: 10 s) and then
 * lapses by itself, so a holder that dies costs nothing.  A pending lease
 * is invisible to every other function: gets miss, count and foreach
 * skip it, add succeeds and voids it.  On a hit *lease is 0.  On a
 * read-only handle it is shmkv_get() (no lease is ever granted).
 * Returns what shmkv_get() returns, -EINVAL also for lease NULL or
 * lease_ms over SHMKV_TTL_MAX, and (when granting) -ENOSPC, -ETIMEDOUT.
 */
int shmkv_get_lease(shmkv *db, const void *key, size_t klen, void *buf, size_t cap,
                    size_t *vlen, uint64_t lease_ms, uint64_t *lease);

/**
 * Store the value, with lifetime ttl_ms (0: never), only if lease is
 * still the key's valid lease: any put, delete, clear, eviction or expiry
 * of the key since the lease was granted voids it, and then nothing is
 * written and the call returns -ECANCELED.  So a value read from the slow
 * store before a newer write of the key can never land after it.
 * Returns 0, -ECANCELED, -EINVAL (also lease 0), and the errors of
 * shmkv_put().
 */
int shmkv_put_leased(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen,
                     uint64_t ttl_ms, uint64_t lease);

/*
 * Lists and queues under keys, in the same table as the pairs (like Redis
 * lists).  A list is a kind of value: get/put and the other pair calls on
 * a list's key, and list calls on a pair's key, fail with -EMEDIUMTYPE and
 * change nothing; shmkv_del deletes a list whole; count counts a list as
 * one key.  Lists hold up to 2^31 - 1 elements of 0 to SHMKV_VAL_MAX bytes
 * (and at most 16 GiB of ring: some 700 million elements of a deep queue,
 * whose elements past the ring's first 16 MiB take 24 bytes of it each).
 * Caches refuse lists (-EOPNOTSUPP): eviction would drop queued elements.
 *
 * Every push, pop and move is atomic and crash-safe: a process killed at
 * any instant leaves each element either fully in the list or fully gone,
 * never duplicated or damaged; shmkv_move never loses an element, even
 * when the mover is killed.  Waiting pops sleep in the kernel (futex) and
 * are woken by pushes from any process (one sleeper per element pushed);
 * a waiter killed while it waits leaves nothing behind (within a second,
 * the pushes stop making a wake-up call for it).  The memory of
 * consumed elements is reused, so a queue's footprint follows what it
 * holds, not what it has carried.  A list popped empty stays (llen 0,
 * counted by shmkv_count) until shmkv_del deletes it: a queue that drains
 * is not freed and made anew with every element.
 *
 * Thread- and process-safety: every call may run in any thread of any
 * process at once.  A push at SHMKV_TAIL of an existing list and a pop at
 * SHMKV_HEAD (a FIFO queue's two sides) run side by side, each taking
 * only a lock of its end (one per end per shard), not the shard's lock:
 * a producer and a consumer of one queue do not wait for each other,
 * but for one thing: a push that would grow a list's ring of 1 MiB or
 * more (the list holds that much already) first waits for a pop to make
 * room, if one comes within 200 us, for at most 2 ms in all (see
 * shmkv_push).  Every other list call, and one that must grow the list's
 * ring or that meets a big element, takes the shard's lock and both ends'
 * locks (so it waits for a pusher and a popper of that shard, and they
 * for it).
 */
enum { SHMKV_HEAD = 0, SHMKV_TAIL = 1 };

/** Add an element at one end (SHMKV_HEAD or SHMKV_TAIL) of the list at
 *  key, created when absent.  A list has no bound, and a push never fails
 *  for want of a pop; but a push at the tail that would grow a ring that
 *  already holds 1 MiB, or take it past 16 MiB (where elements go to the
 *  table's log and the queue slows several times), first waits for a
 *  consumer to make room: it watches the list for 50 us, then sleeps
 *  until a pop wakes it, and if no pop comes within 200 us (or 2 ms
 *  pass) it grows the ring after all.  So a consumer that keeps up holds
 *  its producers to its pace at that depth, where the queue stays in the
 *  CPUs' caches; one that stopped costs a producer one such wait, then
 *  none until it pops again (or 20 ms pass).
 *  Returns 0, -EMEDIUMTYPE (the key holds a
 *  pair), -EOPNOTSUPP (a cache), -EOVERFLOW (the list is full: 2^31 - 1
 *  elements, or a ring of 16 GiB), -EINVAL,
 *  -E2BIG, -EROFS, -ENOSPC, -ETIMEDOUT, -EBADMSG. */
int shmkv_push(shmkv *db, const void *key, size_t klen, const void *val, size_t vlen, int end);

/** Push n elements (elems[i].val, .vlen) at one end in one call and one
 *  commit, all or nothing: pushing at SHMKV_TAIL keeps their order, at
 *  SHMKV_HEAD reverses it (as pushing them one at a time would); up to 64
 *  at the tail wait for room in a big ring as shmkv_push does.  Returns
 *  0 or as shmkv_push. */
typedef struct shmkv_elem {
    const void *val;
    size_t vlen;
} shmkv_elem;
int shmkv_push_many(shmkv *db, const void *key, size_t klen, const shmkv_elem *elems, size_t n, int end);

/**
 * Push n elements as shmkv_push_many, but only into room: while the list
 * would then hold more than max_len elements, wait for pops to make room
 * (a bounded queue, whose producers a slow consumer holds back, as a
 * pipe's or a POSIX message queue's are).  timeout_ms as shmkv_pop's: 0
 * do not wait (neither for room under max_len nor, as shmkv_push may, for
 * room in a big ring), < 0 wait for ever, > 0 up to that long; the waiter
 * watches the list for up to 50 us, then sleeps in the kernel until a pop
 * (from any process) wakes it.  A list is created as by shmkv_push_many.
 * Returns 0, -EAGAIN (no room once the wait is over; nothing pushed),
 * -EINVAL (also max_len 0 or n > max_len: it could never fit), -EINTR (a
 * signal ended the wait), or the errors of shmkv_push.
 */
int shmkv_push_bounded(shmkv *db, const void *key, size_t klen, const shmkv_elem *elems, size_t n, int end,
                       uint64_t max_len, int64_t timeout_ms);

/**
 * Remove the element at one end and copy it into buf (*vlen its length).
 * timeout_ms: 0 do not wait, < 0 wait for ever, > 0 wait up to that long
 * for an element (blocking, not polling: the caller watches the list for
 * up to 50 us, in case the next element is about to come, then sleeps in
 * the kernel and a push wakes it; a list deleted or created meanwhile is
 * followed).
 * The sleep is taken in slices of at most 100 ms: a signal that arrives
 * while the caller sleeps ends the wait with -EINTR, one that arrives
 * between two slices does not (callers that must react to signals wait
 * in short timeouts of their own and check).
 * Returns 0; -EAGAIN when the list is empty (or absent) once the wait is
 * over; -ENOBUFS with *vlen set when cap is too small (nothing is
 * removed); -EMEDIUMTYPE, -EINVAL (also an unknown end, vlen NULL, or
 * buf NULL with cap > 0), -E2BIG, -EROFS, -EINTR (a signal interrupted
 * the wait), -ETIMEDOUT, -EBADMSG.
 */
int shmkv_pop(shmkv *db, const void *key, size_t klen, int end, void *buf, size_t cap,
              size_t *vlen, int64_t timeout_ms);

/**
 * Remove up to max elements from one end at once, waiting as shmkv_pop
 * for the first: they are copied back to back into buf, their lengths
 * into lens[0..*n).  Stops before an element that would not fit in what
 * is left of buf.  Returns 0 with *n >= 1, -EAGAIN (*n 0), -ENOBUFS with
 * lens[0] set when the first element alone does not fit (nothing is
 * removed), or the errors of shmkv_pop.
 */
int shmkv_pop_many(shmkv *db, const void *key, size_t klen, int end, void *buf, size_t cap, size_t *lens,
                   size_t max, size_t *n, int64_t timeout_ms);

/** Number of elements of the list at key (0 when absent).  Lock-free.
 *  Returns 0, -EMEDIUMTYPE, -EINVAL, -E2BIG, -EBADMSG. */
int shmkv_llen(shmkv *db, const void *key, size_t klen, uint64_t *len);

/**
 * Atomically pop from one end of src and push onto one end of dst (which
 * may be src), copying the element into buf too: the reliable-queue
 * pattern (a consumer moves a job to its own "processing" list, and
 * deletes it from there when done, so a consumer that dies loses no job).
 * Waits like shmkv_pop.  Returns as shmkv_pop (-EMEDIUMTYPE if either
 * key holds a pair; -ENOBUFS moves nothing), and -ENOSPC (the element
 * stays where it was; an absent destination may have been created,
 * empty, before the room ran out).
 */
int shmkv_move(shmkv *db, const void *src, size_t slen, int from, const void *dst, size_t dlen,
               int to, void *buf, size_t cap, size_t *vlen, int64_t timeout_ms);

/**
 * Visit the elements of the list at key from index start to stop, both
 * included, counted from the head (0 the first; negative from the tail:
 * -1 the last, as Redis LRANGE), without removing them: fn(ctx, key,
 * klen, element, length) with a private copy of each, in order, taken at
 * one instant.  fn returning non-zero stops and is returned.  Returns 0,
 * -ENOENT (absent), -EMEDIUMTYPE, -EINVAL, -E2BIG, -ENOMEM, -EBADMSG, and
 * on a writable handle -ETIMEDOUT (the range is copied under the lock),
 * on a read-only one -EAGAIN (as shmkv_foreach).
 */
int shmkv_lrange(shmkv *db, const void *key, size_t klen, int64_t start, int64_t stop, shmkv_visit_fn fn,
                 void *ctx);

/**
 * Number of keys the table holds: pairs and lists (0 for a NULL handle).
 * A pair whose lifetime has passed is counted until a writer meets it
 * (its key is written, or its run is compacted or evicted), though every
 * read already finds it absent: so under expiry the count can exceed what
 * shmkv_foreach visits.  Lock-free; exact for each shard, not taken at
 * one instant across them while writers work.
 */
uint64_t shmkv_count(shmkv *db);

/** Fill *out with the table's figures, like stat(2).  Returns 0 or
 *  -EINVAL (NULL argument).  Lock-free. */
int shmkv_stat(shmkv *db, shmkv_stats *out);

/**
 * Verify every invariant of the table's file: header and geometry, the
 * tiling of its runs and the free lists, each shard's run list and
 * counters, and every index slot (its record lies in a run of the right
 * shard, the record's key hashes to that slot's bucket, no record is
 * reachable twice, live-byte and key counts add up), and that every run
 * in use is referenced by something (a run nothing references has
 * leaked: its space is lost).
 *
 * Returns 0 if the table is sound, -EBADMSG if not (each problem, up to
 * 100, is written to report as one line, when report is not NULL),
 * -EINVAL (NULL db), -ENOMEM, or a lock error (-ETIMEDOUT, -EDEADLK).  On
 * a writable handle it holds every lock for the duration (writers wait;
 * readers do not), so the result is exact.  A read-only handle cannot
 * lock: it trusts only what it saw while no writer was inside (each
 * lock's generation counter stood still and even): a whole pass if
 * writers pause for one; else each shard while that shard's writers
 * pause, and the allocator's free lists while its lock does (the check
 * of leaked runs needs a whole quiet pass and is left out then).  Writers
 * at work therefore cause no false reports; a shard that writers never
 * left quiet is not checked: its line in report says so and the result
 * is -EAGAIN (unless a problem was found elsewhere).  A writer stopped or
 * killed in the middle of a change keeps its shard's lock, so that shard
 * is not checked (-EAGAIN) until the next writer repairs it.
 */
int shmkv_check(shmkv *db, FILE *report);

/**
 * Repair a table after damage or a crash, for an operator: forget every
 * lock's holder (whatever its state), repair every shard as the next
 * writer after a crash would (finish half-done splits and releases,
 * recount keys and bytes, drop slots that lead nowhere, put each log
 * run's used mark where its records end), rebuild the allocator's free
 * lists, cut a shard's free overflow buckets before one that is not free,
 * free every run nothing references (but none that referenced records or
 * runs lie inside), then check the table as shmkv_check does.
 *
 * Only with no other process writing to the table: a writer at work
 * while its lock is reset would corrupt it.  Readers may stay.
 *
 * Returns 0 if the table is sound afterwards, -EBADMSG if problems remain
 * (written to report as by shmkv_check; also a line for the runs freed),
 * -EINVAL (NULL db), -EROFS (read-only handle), -ENOMEM.  Not thread-safe
 * with other users of the table (see above).
 */
int shmkv_repair(shmkv *db, FILE *report);

/** A clear, static English message for any value shmkv returns (0, any
 *  negative errno); never NULL.  Thread-safe. */
const char *shmkv_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* SHMKV_H */
