/*
 * format.h - the on-disk format, versioned, in one place.
 *
 * A table is one file, mapped MAP_SHARED by every process at the same
 * reserved size, so offsets stay valid as the file grows.  All references
 * inside the file are byte offsets from its start.
 *
 *   0            struct hdr      magic, version, geometry, allocator state
 *   shards_off   struct shard[]  one per lock stripe: lock, index directory,
 *                                record-log state, counters
 *   data_off     runs            everything else, in runs of 4 KiB units
 *
 * A run starts with a 64-byte struct run header and is one of: a free run,
 * a log run (records appended by one shard), a huge run (one record too big
 * for a log run), an index run (a shard's bucket chunk or overflow
 * buckets), or a list's run or ring (struct list).  Runs tile [data_off, top) with no gaps, so the allocator can
 * rebuild its free lists by walking them (alloc.c).
 *
 * Index (index.c): per shard, linear hashing over 64-byte buckets of
 * 7 slots, grown one bucket split at a time.  A slot is one 8-byte word:
 *   bits 63..62  read count, 0..3 (cache mode: readers raise it with a
 *                compare-and-swap, eviction lowers it; see clean.c)
 *   bits 61..24  record offset / 8     (38 bits: 2 TiB)
 *   bits 23..0   low 24 bits of the key's hash (the tag)
 * and 0 means empty.  Bucket addresses are taken from the tag's low bits,
 * so a split needs no record reads.
 *
 * Records (log.c): struct rec, then (with REC_EXT) an 8-byte expiry time,
 * then key, then value, padded to 8 bytes.  A change writes a new record
 * and swings the slot with one atomic store.  The one exception is an
 * increment that keeps the value's length: its digits are rewritten in
 * place, journaled in the shard's patch fields (patch.c).
 *
 * Version history: 1, the first format; 2 added cache mode (read counts in
 * slots, run stamps, segments) and expiry (REC_EXT); 3 replaced glibc's
 * robust mutexes with the table's own locks (struct lock), whose every
 * field the library validates, and added deferred run releases; 4 added
 * in-place increments (the shard's patch line, which every reader of a
 * version-3 library would ignore, hence the new version); 5 keeps a list's
 * elements as bytes in its ring instead of records in the log (a version-4
 * library would read the ring's bytes as record offsets); 6 gives each shard
 * two lane locks and each list's ends a cache line each, so that a push
 * at the tail and a pop at the head run side by side (list.c).  Within 6,
 * hdr.grow_claim took 4 bytes of padding (growing ahead, alloc.c): 0 in
 * every older file, and a library that ignores it merely never grows
 * ahead, so the version stayed.  7 keys the hash of 17- to 32-byte keys
 * (hash.h: a version-6 table placed them by an unseeded hash, and a
 * version-6 library would look for them in other buckets).  8 keeps in
 * the link of a chain's first bucket a filter of the tags in its overflow
 * buckets (struct bucket: a version-7 library would take it for part of
 * the link, and a version-7 file's zero filter would hide its overflow
 * keys from a lookup that trusts the filter).  shmkv_open
 * refuses any other version, and any file whose structure sizes differ
 * from these (the header records them), with -EBADMSG.
 */
#ifndef SHMKV_FORMAT_H
#define SHMKV_FORMAT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define FORMAT_MAGIC   0x31766b6d68730aULL /* "\nshmkv1" little-endian */
#define FORMAT_VERSION 8u

#define UNIT_SHIFT   12u                   /* allocation unit: 4 KiB */
#define UNIT         (1ull << UNIT_SHIFT)
#define RUN_HDR      64u                   /* run header bytes */
#define SLOTS        7u                    /* slots per bucket */
#define BUCKET_BYTES 64u
#define TAG_BITS     24u
#define TAG_MASK     ((1ull << TAG_BITS) - 1)
#define OFF_LIMIT    (1ull << 41)          /* 38 bits of 8-byte units */
#define DIR_MAX      (TAG_BITS + 1)        /* bucket chunks per shard */
#define PIECE_BITS   2u                    /* big chunks are allocated in 4 pieces */
#define PIECE_MIN_BITS 12u                 /* chunks of 4096+ buckets are pieced */
#define PIECES       (1u << PIECE_BITS)
#define SHARD_BITS_MAX 12u
#define LOG_RUN_MIN  UNIT                  /* smallest log run */
#define LOG_RUN_MAX  (1ull << 17)          /* largest log run: 128 KiB */
#define SEG_MIN      (1ull << 15)          /* smallest cache-mode log run: 32 KiB */
/* A table's own largest log run (db->run_max) is also at most its
 * allocation headroom, so compaction can always move a victim's live
 * records; records of run_max / 4 or more get a run of their own. */
#define DEFAULT_RESERVE (1ull << 40)       /* address space when max_bytes is 0 */
#define CHAIN_MAX    (1u << 16)            /* longest chain walked before -EBADMSG */

/* In-place increments (patch.c): the longest value rewritten in place
 * (an int64's text is at most 20 bytes), and where the patch word's
 * generation begins (below it: a record offset / 8, 38 bits). */
#define PATCH_MAX       24u
#define PATCH_GEN_SHIFT 38u

/* Split a bucket once a shard holds more than this many keys per bucket. */
#define SPLIT_KEYS_PER_BUCKET 5u
/* ... and then split this many buckets at once (index.c). */
#define SPLIT_BURST 8u

/* A lock in the file (lock.c): a futex word naming its holder, and the
 * holder's identity, so that waiters can tell a holder that is gone (and
 * take the lock over) from one that is alive, stopped or out of sight. */
struct lock {
    _Atomic uint32_t word;          /* 0: free; else the holder's tid | LOCK_WAITERS */
    _Atomic uint32_t boot;          /* the holder's boot (32-bit tag; 0: unknown) */
    _Atomic uint64_t owner;         /* holder: tid | PID-namespace tag << 32, stored last */
    _Atomic uint64_t start;         /* the holder thread's start time (0: unknown) */
    _Atomic uint64_t gen;           /* bumped on every take and release: odd while held */
};
#define LOCK_WAITERS 0x80000000u
#define LOCK_TID     0x3fffffffu

enum run_kind {
    RUN_FREE  = 0x46524545, /* "FREE" */
    RUN_LOG   = 0x4c4f4721, /* "LOG!" */
    RUN_HUGE  = 0x48554745, /* "HUGE" */
    RUN_INDEX = 0x494e4458, /* "INDX" */
    RUN_NEW   = 0x4e455721, /* "NEW!": allocated, not yet adopted */
    RUN_DEFER = 0x44454652, /* "DEFR": released while the allocator was busy;
                             * on its shard's deferred list until freed */
    RUN_LIST  = 0x4c495354, /* "LIST": a list's state and its first ring */
    RUN_RING  = 0x52494e47, /* "RING": a list's grown ring of elements */
};

/* A list (list.c), in a RUN_LIST run of its key's shard, right after the
 * run header.  Its elements lie in its ring, a circle of cap bytes (a
 * power of two) inside the list run while small, else in a RUN_RING run
 * of their own, one after the other: an 8-byte tag (the payload's length
 * and a check), the payload padded to 8 bytes, the tag again (so that
 * either end can be walked).  An element too big for the ring (huge_min
 * bytes and more) lies out of line, in a record of its own (REC_ELEM) in
 * a huge run or a chain, and its ring payload is that record's offset.
 * Each end is one 64-bit word: the element index in the low half
 * (counting modulo 2^32: the length is tail - head), the ring position in
 * 8-byte units in the high half (modulo 2^32 units: the byte at position
 * p is ring[8p & (cap - 1)]), so a push or pop commits with one store,
 * and a move's journal can tell whether the push it began was committed.
 *
 * Who may change what (list.c): the tail's line, under its shard's
 * lane[SHMKV_TAIL]; the head's line, under lane[SHMKV_HEAD]; everything
 * else (the ring word, ver, the journals, and either end for anything but
 * a tail push or a head pop of elements in the ring), under the shard's
 * lock and both lanes.  Each end has a line of its own, so that a pusher
 * and a popper of one queue write no line in common. */
struct list_end {
    _Atomic uint64_t w;             /* [SHMKV_HEAD]: the first element,
                                     * [SHMKV_TAIL]: one past the last: pos << 32 | index */
    _Atomic uint32_t wake;          /* futex words, moved on by deletion and: [SHMKV_TAIL]
                                     * every push (poppers wait on it), [SHMKV_HEAD] every
                                     * pop (bounded pushers wait on it); sleepers count in
                                     * their shard: a list may be freed under its sleepers */
    uint32_t pad;
    uint64_t other, other_ver;      /* the other end's word as this end's lane last read
                                     * it, and ver then: still a bound while ver is
                                     * (list.c, lane_other) */
} __attribute__((aligned(64)));

struct list {
    struct list_end end[2];
    _Atomic uint64_t ring;          /* offset of the ring's first byte | log2(cap) */
    _Atomic uint64_t ver;           /* moved on after every change but a tail push and a
                                     * head pop of the lanes (lock-free copies compare it,
                                     * and the head, before and after) */
    /* the journal of a move out of this list (both lists locked) */
    _Atomic uint64_t move_dst;      /* the destination's list run, 0: none; | 1 once
                                     * the destination's repair found its push done */
    uint64_t move_dst_end;          /* the destination's end word before the push */
    uint64_t move_src_end;          /* this list's end word before the pop */
    uint32_t move_to, move_from;    /* the ends */
    uint64_t move_src;              /* a move into this list: the source's list run */
    uint64_t pending_ring;          /* a ring run allocated or retired, maybe not freed (journal) */
} __attribute__((aligned(64)));
#define LIST_RING_OFF 256u          /* the first ring's offset in its list run */
#define LIST_INLINE 2048u           /* ring bytes inside the list run (4 KiB) */

/* Header of every run.  kind/nunits are the walkable skeleton; the rest
 * depends on the kind.  used/live are read by stat and the checker without
 * the owner's lock, hence atomics (relaxed: they are statistics). */
struct run {
    uint32_t kind;
    uint32_t shard;                 /* owner, for log/huge/index runs */
    uint64_t nunits;                /* length in 4 KiB units */
    uint64_t next;                  /* free list, or the shard's run list
                                     * (log runs and huge heads, oldest first) */
    _Atomic uint64_t used;          /* log: bytes appended, header included */
    _Atomic uint64_t live;          /* log/huge: bytes of live records */
    uint64_t chain;                 /* huge: the next piece of a chained value */
    uint64_t exp_max;               /* latest expiry of a record appended here */
    uint32_t exp_bytes;             /* bytes of live records that have an expiry (capped) */
    uint32_t stamp;                 /* when it joined its shard's list (hdr.run_stamp), for
                                     * comparing ages across shards; wraps */
};

/* Record header.  dist is the distance back to the record's run header
 * in 8-byte units (runs holding records are at most 128 KiB), so a writer
 * can find the run whose live-byte count a retired record belongs to.
 * REC_CHAIN marks a huge record whose value continues in further huge
 * runs linked by run.chain (allocated so when no single run was free).
 * REC_EXT: an 8-byte ext word follows the header: bits 55..0 an expiry
 * time (table milliseconds, clock.c; 0: none), bits 63..56 the record's
 * type.  A record without REC_EXT is a pair that never expires. */
struct rec {
    uint16_t klen;
    uint16_t dist;
    uint32_t vlen;
};
#define REC_EXT   0x8000u
#define REC_CHAIN 0x4000u
#define REC_DIST  0x3fffu

#define EXT_EXPIRY    ((1ull << 56) - 1)
#define EXT_TYPE_SHIFT 56
enum rec_type {
    REC_PAIR  = 0,  /* a key and its value */
    REC_LEASE = 1,  /* a pending lease: invisible to readers; the value is its
                     * 8-byte token, the expiry when it lapses */
    REC_LIST  = 2,  /* a list: the value is the 8-byte offset of its list run */
    REC_ELEM  = 3,  /* an element of a list too big for its ring, reached from
                     * the ring, not the index: the key is the 8-byte offset
                     * of the list's run, the ext word's low 56 bits the ring
                     * position (in 8-byte units) of the element pointing here */
};

/* A bucket: a link and seven slots.  The link's low 48 bits are the
 * offset of the next overflow bucket (0: none).  In a chain's first
 * bucket its high 16 bits are a filter of the chain's overflow slots: bit
 * (tag >> 20) is set for every tag held in any overflow bucket of the
 * chain (bits may also be set for tags that left), so a lookup whose tag
 * is not among them, missing in the first bucket, stops there.  A writer
 * sets a tag's bit before it publishes the tag's slot in an overflow
 * bucket; only a writer that has just walked the whole chain recomputes
 * it.  Overflow buckets' high bits are 0. */
struct bucket {
    _Atomic uint64_t next;
    _Atomic uint64_t slot[SLOTS];
};
#define LINK_BITS     48u
#define LINK_MASK     ((1ull << LINK_BITS) - 1)
static inline uint64_t link_off(uint64_t next) { return next & LINK_MASK; }
static inline uint64_t link_filter(uint64_t next) { return next & ~LINK_MASK; }
/* the filter bit of a tag (its top four bits: the last a bucket's number
 * takes from the tag, at 2^20 buckets per shard) */
static inline uint64_t tag_filter_bit(uint64_t tag) { return 1ull << (LINK_BITS + (tag >> (TAG_BITS - 4))); }

/* One lock stripe and its sub-table.  Fields under "writer state" change
 * only under lock; readers use layout, seq, epoch, dir and the patch line. */
struct shard {
    /* Read by lock-free readers, written rarely: kept off the lock's
     * cache line so lock traffic does not evict it from readers. */
    /* Published index shape: (level << 32) | split.  Buckets in use are
     * (base << level) + split.  Release-stored after the split it
     * describes is complete. */
    _Atomic uint64_t layout;
    /* Bumped whenever a slot may have left a reader's path (overflow
     * bucket unlinked, split source cleaned): a miss is only trusted if
     * neither layout nor seq changed while looking. */
    _Atomic uint64_t seq;
    /* Bumped (before reuse) whenever a run of this shard that readers may
     * be reading is released.  Readers read it before and after copying
     * a record; unchanged means the record's memory was not reused. */
    _Atomic uint64_t epoch;
    _Atomic uint64_t dir[DIR_MAX * PIECES]; /* bucket piece offsets, each set once */

    /* Writer state, under lock, grouped by cache line so a plain put
     * dirties two lines of the shard: the lock's and the counters'. */
    struct lock lock __attribute__((aligned(64)));
    _Atomic uint64_t open_run;      /* log run being appended to (atomic: batches prefetch it unlocked) */
    _Atomic uint64_t log_bytes;     /* record bytes appended to log runs (used - header) */
    _Atomic uint64_t rec_live;      /* live record bytes in log runs */
    uint64_t deferred;              /* runs to free once the allocator is free (RUN_DEFER, by next) */

    /* What every write touches besides the lock's line: counters (read
     * lock-free, relaxed) and the cleaner's state, one line, so a plain
     * put dirties two lines of the shard. */
    _Atomic uint64_t keys __attribute__((aligned(64)));
    _Atomic uint64_t live_bytes;    /* klen + vlen of live pairs */
    _Atomic uint64_t puts, dels;
    uint64_t pending_huge;          /* huge run written, slot not yet published */
    uint64_t clean_run;             /* compaction / eviction victim; 0: none */
    uint64_t exp_next;              /* earliest time a closed run's expiries are all due; 0: none */
    uint64_t clean_pos;             /* cursor in clean_run */

    /* rarer: growth, compaction, eviction, expiry, lock trouble */
    uint64_t runs __attribute__((aligned(64))); /* log runs and huge heads, oldest first, by run.next */
    uint64_t runs_tail;             /* the newest of them */
    uint64_t clean_evict;           /* 1: clean_run was picked for eviction */
    uint64_t pending_split;         /* 1 + bucket being split; 0: none */
    uint64_t pending_free;          /* log run being released; 0: none */
    uint64_t pending_log;           /* log run allocated, not yet linked */
    uint64_t pending_piece;         /* chain piece unlinked, maybe not freed */
    uint64_t ov_free;               /* free overflow buckets (linked by next) */
    _Atomic uint64_t ov_used;       /* overflow buckets linked into chains */
    _Atomic uint64_t splits, cleaned, lock_waits, recoveries;
    _Atomic uint64_t evictions, expirations;
    _Atomic uint64_t oldest;        /* 1 << 32 | stamp of the oldest run but the open one; 0: none */
    _Atomic uint64_t leases_granted, leases_filled, leases_voided;
    uint64_t pending_index;         /* index run allocated, not yet in the directory or free list */
    uint64_t pending_defer;         /* deferred run taken off the list, maybe not freed */
    uint64_t pending_list;          /* list run created or being deleted (journal) */
    _Atomic uint32_t list_wake;     /* futex word: moved on when a list of the shard is created */
    _Atomic uint32_t list_waiters;  /* poppers that may be asleep on it or on a list of the
                                     * shard (a count of sleepers.h) */

    /* An increment rewriting a value in place (patch.c), on a line of its
     * own: written only by such increments, read by every reader of the
     * shard after its copy.  patch is gen << PATCH_GEN_SHIFT | the
     * record's offset / 8 while a rewrite is in flight, gen << 38 when
     * none is; gen moves on with every rewrite.  The journal holds the
     * new value while one is in flight: readers take it from there, and
     * the next holder of a dead writer's lock writes it again. */
    _Atomic uint64_t patch __attribute__((aligned(64)));
    uint32_t patch_len;             /* bytes in patch_text */
    uint32_t patch_pad;
    uint8_t patch_text[PATCH_MAX];
    _Atomic uint64_t patches;       /* increments made in place (counted here, not in puts:
                                     * so they write no line but the lock's, this one and
                                     * the value's) */

    /* The lanes (list.c): lane[SHMKV_TAIL] lets one push at the tail of
     * one of the shard's lists at a time, lane[SHMKV_HEAD] one pop at the
     * head, without the shard's lock, each on a line of its own.  Every
     * other change to a list takes the shard's lock, then both lanes, and
     * sets closed in both from before it takes them until it lets them go:
     * a lane's holder that finds it set leaves the list to the slow way
     * (the shard's lock: waiting for that writer, or repairing after it,
     * gone mid-change). */
    struct lane {
        struct lock lock;
        _Atomic uint32_t closed;
        _Atomic uint32_t sleepers;  /* [SHMKV_HEAD]: pushers that may be asleep on a list
                                     * of the shard, waiting for room (a count of
                                     * sleepers.h; woken by pops) */
        _Atomic uint64_t gen;       /* moved on (in both lanes, holding both) whenever a
                                     * list of the shard that a look could find is freed:
                                     * a lane's holder that saw it unchanged since it found
                                     * its list may use that list again without a look */
    } __attribute__((aligned(64))) lane[2];
} __attribute__((aligned(64)));

/* The patch word's parts. */
static inline uint64_t patch_rec(uint64_t p) { return (p & ((1ull << PATCH_GEN_SHIFT) - 1)) << 3; }
static inline uint64_t patch_gen(uint64_t p) { return p >> PATCH_GEN_SHIFT; }

/* Read counters (TF_READ_STATS), bumped by readers.  Striped by CPU, not
 * by shard: a reader adds to the line of the CPU it runs on, so readers on
 * different CPUs never pass a counter line between them (per-shard
 * counters cost a coherence miss per get); stat() sums the stripes. */
#define READ_STRIPES 64
struct read_stripe {
    _Atomic uint64_t hits;
    _Atomic uint64_t misses;
} __attribute__((aligned(64)));

#define TF_READ_STATS 1u /* readers count hits and misses (SHMKV_STATS) */
#define TF_CACHE      2u /* cache mode: writes evict instead of failing (SHMKV_CACHE) */
#define TF_ALL        (TF_READ_STATS | TF_CACHE)

#define NCLASS 41        /* free-list size classes: floor(log2 units) */

struct hdr {
    /* immutable after creation; covered by geo_sum */
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_bytes;             /* sizeof(struct hdr) */
    uint32_t shard_bytes;           /* sizeof(struct shard) */
    uint32_t lock_bytes;            /* sizeof(struct lock) */
    uint32_t shard_bits;
    uint32_t base_bits;             /* initial buckets per shard = 1 << base_bits */
    uint32_t tflags;                /* TF_* */
    uint32_t pad0;
    uint64_t seed[2];
    uint64_t reserve;               /* bytes every process maps; hard limit */
    uint64_t max_bytes;             /* as given at creation (0: none) */
    uint64_t shards_off;
    uint64_t data_off;
    uint64_t seg_bytes;             /* cache mode: size of every log run */
    uint64_t geo_sum;               /* checksum of the fields above */

    /* the table's clock (clock.c), under alloc_lock when rebased */
    uint64_t boot_id;               /* hash of the boot the clock base belongs to */
    _Atomic int64_t clock_base;     /* table ms = CLOCK_BOOTTIME ms + clock_base */
    _Atomic uint64_t clock_hw;      /* a recent table time, for rebasing after a reboot */

    /* allocator, under alloc_lock */
    struct lock alloc_lock __attribute__((aligned(64)));
    _Atomic uint64_t file_size;     /* bytes committed with fallocate */
    _Atomic uint64_t top;           /* end of the last run */
    _Atomic uint64_t free_units;    /* units in free runs */
    uint64_t free_head[NCLASS];     /* free runs by size class floor(log2 units) */
    _Atomic uint64_t alloc_recoveries;
    _Atomic uint32_t run_stamp;     /* run ages: bumped for every run listed */
    _Atomic uint32_t grow_claim;    /* a writer growing the file ahead: its ms stamp, 0: none
                                     * (alloc.c; padding until 2026-12, so 0 in older files) */
    _Atomic uint64_t lease_seq;     /* the last lease token handed out */
    _Atomic uint64_t grow_progress; /* moved on by a growth under a lock, a step at a time, so
                                     * that its waiters know it is not stuck (lock.c; padding
                                     * until 2026-12, so 0 in older files) */
    struct read_stripe reads[READ_STRIPES];
} __attribute__((aligned(64)));

/* ---- slots ---- */

#define SLOT_READS_SHIFT 62
#define SLOT_READ1   (1ull << SLOT_READS_SHIFT)
#define SLOT_READS_MAX 3u
static inline uint64_t slot_make(uint64_t off, uint64_t tag) { return (off >> 3) << TAG_BITS | tag; }
static inline uint64_t slot_off(uint64_t s) { return ((s << 2) >> (TAG_BITS + 2)) << 3; }
static inline uint64_t slot_tag(uint64_t s) { return s & TAG_MASK; }
static inline unsigned slot_reads(uint64_t s) { return (unsigned)(s >> SLOT_READS_SHIFT); }
static inline uint64_t slot_with_reads(uint64_t s, unsigned n)
{
    return (s & ~(3ull << SLOT_READS_SHIFT)) | (uint64_t)n << SLOT_READS_SHIFT;
}

/* ---- records ---- */

static inline uint64_t align8(uint64_t n) { return (n + 7) & ~7ull; }
static inline uint64_t units_of(uint64_t bytes) { return (bytes + UNIT - 1) >> UNIT_SHIFT; }

static inline uint64_t rec_ext(uint16_t dist) { return dist & REC_EXT ? 8 : 0; }
/* bytes before the key: the header and the expiry, if any */
static inline uint64_t rec_head(const struct rec *r) { return sizeof *r + rec_ext(r->dist); }
static inline uint64_t rec_size(uint64_t klen, uint64_t vlen, uint64_t ext)
{
    return align8(sizeof(struct rec) + ext + klen + vlen);
}
static inline uint64_t rec_bytes(const struct rec *r) { return rec_size(r->klen, r->vlen, rec_ext(r->dist)); }
static inline const uint8_t *rec_key(const struct rec *r) { return (const uint8_t *)r + rec_head(r); }
/* A record's ext word (0: none), expiry (0: none) and type.  Writers
 * only; readers copy the word racily and decode it with the ext_*. */
static inline uint64_t rec_extword(const struct rec *r) { return r->dist & REC_EXT ? *(const uint64_t *)(r + 1) : 0; }
static inline uint64_t ext_make(unsigned type, uint64_t expiry) { return (uint64_t)type << EXT_TYPE_SHIFT | expiry; }
static inline unsigned ext_type(uint64_t ext) { return (unsigned)(ext >> EXT_TYPE_SHIFT); }
/* an element's low bits are its index, not a time: elements never expire */
static inline uint64_t ext_expiry(uint64_t ext) { return ext_type(ext) == REC_ELEM ? 0 : ext & EXT_EXPIRY; }
static inline uint64_t rec_expiry(const struct rec *r) { return ext_expiry(rec_extword(r)); }
static inline unsigned rec_type(const struct rec *r) { return ext_type(rec_extword(r)); }
/* Records that are keys (counted in shard.keys): pairs and lists. */
static inline bool type_is_key(unsigned t) { return t == REC_PAIR || t == REC_LIST; }

/* An expiry time (0: none) that has come by table time now. */
static inline bool expired(uint64_t expiry, uint64_t now) { return expiry && expiry <= now; }

#endif
