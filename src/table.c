/*
 * table.c - the file: naming, atomic creation, validation, mapping.
 *
 * Creation never exposes a half-built table: the creator builds the whole
 * table in a private temporary file next to the target (O_EXCL, never
 * followed through links), then link()s it into place.  link() fails if
 * the name exists, so of many simultaneous creators exactly one wins and
 * the others drop their temporary file and open the winner's table.  A
 * creator killed mid-build leaves its temporary file behind; the next
 * creation in that directory removes it.
 *
 * Every process maps the table once at its full reservation (max_bytes,
 * or the size of its file system, at most 1 TiB), MAP_SHARED|MAP_NORESERVE,
 * so offsets stay valid while the file grows and nobody ever remaps (map.c).
 *
 * The header carries magic, format version, the structure sizes it was
 * built with and a checksum over the geometry; anything that does not
 * match is -EBADMSG.
 */
#include "alloc.h"
#include "api.h"
#include "atomics.h"
#include "clock.h"
#include "fault.h"
#include "hash.h"
#include "index.h"
#include "map.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static int resolve(const char *name, char *out)
{
    if (!name || !*name)
        return -EINVAL;
    int n;
    if (strchr(name, '/')) {
        n = snprintf(out, PATH_MAX, "%s", name);
    } else {
        if (strlen(name) > NAME_MAX)
            return -ENAMETOOLONG;
        const char *dir = getenv("SHMKV_DIR");
        n = snprintf(out, PATH_MAX, "%s/%s", dir && *dir ? dir : "/dev/shm", name);
    }
    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static uint64_t geo_sum(const struct hdr *h)
{
    /* everything from version to geo_sum: the magic is written last */
    return shmkv__hash64(&h->version, offsetof(struct hdr, geo_sum) - offsetof(struct hdr, version), 0x5eed, 0x6e0);
}

static uint64_t pow2_floor(uint64_t x) { return x ? 1ull << (63 - __builtin_clzll(x)) : 1; }

struct geometry {
    uint32_t shard_bits, base_bits;
    uint64_t reserve, shards_off, data_off, seg_bytes;
};

/* Address space to reserve for a table without max_bytes: the size of the
 * file system it lives on (it can never outgrow that), at most 1 TiB. */
static uint64_t fs_reserve(int dirfd)
{
    struct statvfs v;
    if (fstatvfs(dirfd, &v) || !v.f_blocks)
        return DEFAULT_RESERVE;
    uint64_t total = (uint64_t)v.f_blocks * v.f_frsize;
    if (total < (64ull << 20))
        total = 64ull << 20;
    return total < DEFAULT_RESERVE ? total & ~(UNIT - 1) : DEFAULT_RESERVE;
}

static int plan(const shmkv_options *o, int fd, struct geometry *g)
{
    uint64_t nsh = 256, base;
    bool cache = o->flags & SHMKV_CACHE;
    if (cache && !o->max_bytes)
        return -EINVAL;
    g->seg_bytes = 0;
    if (o->max_bytes) {
        if (o->max_bytes < SHMKV_MIN_BYTES || o->max_bytes > OFF_LIMIT)
            return -EINVAL;
        /* a small table gets fewer stripes so per-shard runs fit; a cache
         * wants each shard's FIFO to be some 32 runs (segments) long, so
         * eviction is fine-grained, and its segments big, so values up to
         * 32 KiB share them (4 MiB a shard at least: 128 KiB segments
         * from 128 MiB up) */
        uint64_t want = pow2_floor(o->max_bytes / (cache ? 4096 * 1024 : 256 * 1024));
        nsh = want < nsh ? want : nsh;
    }
    if (cache) {
        uint64_t seg = pow2_floor(o->max_bytes / nsh / 32);
        g->seg_bytes = seg < SEG_MIN ? SEG_MIN : seg > LOG_RUN_MAX ? LOG_RUN_MAX : seg;
    }
    g->shard_bits = (uint32_t)__builtin_ctzll(nsh);
    base = o->expected_keys / nsh / SPLIT_KEYS_PER_BUCKET;
    base = base < 64 ? 64 : base > (1u << 20) ? 1u << 20 : base;
    base = pow2_floor(base * 2 - 1); /* round up */
    if (o->max_bytes) /* first chunks may take at most a quarter */
        while (base > 64 && nsh * base * BUCKET_BYTES > o->max_bytes / 4)
            base /= 2;
    g->base_bits = (uint32_t)__builtin_ctzll(base);
    g->reserve = o->max_bytes ? o->max_bytes & ~(UNIT - 1) : fs_reserve(fd);
    g->shards_off = sizeof(struct hdr);
    g->data_off = (g->shards_off + nsh * sizeof(struct shard) + UNIT - 1) & ~(UNIT - 1);
    return 0;
}

/* CPUID 0x80000001 ECX bit 8 (3DNowPrefetch / PRFCHW): older CPUs may
 * not decode PREFETCHW at all. */
static bool cpu_has_prefetchw(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8));
#else
    return false;
#endif
}

static bool header_ok(const struct hdr *h, uint64_t file_size)
{
    if (h->magic != FORMAT_MAGIC || h->version != FORMAT_VERSION || h->hdr_bytes != sizeof(struct hdr) ||
        h->shard_bytes != sizeof(struct shard) || h->lock_bytes != sizeof(struct lock))
        return false;
    if (h->geo_sum != geo_sum(h) || h->shard_bits > SHARD_BITS_MAX || h->base_bits < 1 ||
        h->base_bits >= TAG_BITS || (h->tflags & ~TF_ALL))
        return false;
    bool cache = h->tflags & TF_CACHE;
    if (cache ? h->seg_bytes < SEG_MIN || h->seg_bytes > LOG_RUN_MAX || (h->seg_bytes & (h->seg_bytes - 1))
              : h->seg_bytes != 0)
        return false;
    uint64_t data_off = (h->shards_off + (sizeof(struct shard) << h->shard_bits) + UNIT - 1) & ~(UNIT - 1);
    if (h->shards_off != sizeof(struct hdr) || h->data_off != data_off || h->reserve <= data_off ||
        h->reserve > OFF_LIMIT || file_size < data_off)
        return false;
    return true;
}

/* The mutable marks and the per-shard fields readers depend on, checked
 * once at open, after mapping.  The allocator's marks must lie inside the
 * real file: a file cut short (or a header that claims more) is refused
 * here, before any access past its end could raise SIGBUS.  Read in the
 * order growers write them backwards (top, then file_size, then the
 * file's size from fstat via mem_ok) so a table growing meanwhile is
 * never mistaken for a damaged one. */
static bool marks_ok(shmkv *db)
{
    struct hdr *h = db->hdr;
    uint64_t top = atomic_load_explicit(&h->top, memory_order_acquire);
    uint64_t fs = atomic_load_explicit(&h->file_size, memory_order_acquire);
    if (top < db->data_off || top > fs || fs > db->reserve || (top - db->data_off) % UNIT ||
        !mem_ok(db, db->data_off, fs - db->data_off))
        return false;
    for (uint64_t i = 0; i < (1ull << db->shard_bits); i++)
        if (!shmkv__layout_fits(db, atomic_load_explicit(&db->shards[i].layout, memory_order_relaxed)))
            return false;
    return true;
}

static int map_table(int fd, const struct hdr *h, bool rdonly, uint64_t file_size, shmkv **out)
{
    static _Atomic uint64_t serials;
    shmkv *db = xcalloc(1, sizeof *db);
    if (!db)
        return -ENOMEM;
    db->serial = atomic_fetch_add_explicit(&serials, 1, memory_order_relaxed) + 1;
    int r = shmkv__map_reserve(fd, h->reserve, rdonly, &db->base);
    if (r) {
        free(db);
        return r;
    }
    db->fd = fd;
    db->rdonly = rdonly;
    db->count_reads = !rdonly && (h->tflags & TF_READ_STATS);
    db->cache = h->tflags & TF_CACHE;
    db->mark_reads = db->cache && !rdonly;
    db->prefetchw = cpu_has_prefetchw();
    db->map_size = h->reserve;
    db->hdr = (struct hdr *)db->base;
    db->shards = (struct shard *)(db->base + h->shards_off);
    db->shard_bits = h->shard_bits;
    db->base_bits = h->base_bits;
    db->seed0 = h->seed[0];
    db->seed1 = h->seed[1];
    db->seed8 = shmkv__hash_seed(db->seed0, db->seed1, 8);
    db->data_off = h->data_off;
    db->reserve = h->reserve;
    db->max_bytes = h->max_bytes;
    uint64_t room = shmkv__headroom_units(db) << UNIT_SHIFT;
    db->run_max = room < LOG_RUN_MAX ? room : LOG_RUN_MAX;
    if (db->cache && h->seg_bytes < db->run_max)
        db->run_max = h->seg_bytes;
    db->huge_min = db->run_max / 4;
    /* evict ahead while less than the headroom plus a segment per shard is free */
    db->low_water = db->cache ? room + (db->run_max << h->shard_bits) : 0;
    atomic_store_explicit(&db->known_size, file_size < h->reserve ? file_size : h->reserve,
                          memory_order_relaxed);
    /* what the file held at open is faulted in as it is used; growth
     * after open is mapped in by map_in() */
    atomic_store_explicit(&db->mapped_in, atomic_load_explicit(&db->known_size, memory_order_relaxed),
                          memory_order_relaxed);
    *out = db;
    return 0;
}

static int commit(int fd, uint64_t len)
{
    struct rlimit rl; /* past RLIMIT_FSIZE the kernel would send SIGXFSZ */
    if (!getrlimit(RLIMIT_FSIZE, &rl) && rl.rlim_cur != RLIM_INFINITY && len > (uint64_t)rl.rlim_cur)
        return -ENOSPC;
    int r = shmkv__fault_hit(FAULT_FALLOCATE) ? ENOSPC : fallocate(fd, 0, 0, (off_t)len) ? errno : 0;
    if (r == EOPNOTSUPP)
        r = posix_fallocate(fd, 0, (off_t)len);
    return r == EFBIG || r == EDQUOT ? -ENOSPC : -r;
}

/* Build a complete table in fd (an empty private file). */
static int build(int fd, const struct geometry *g, const shmkv_options *o)
{
    int r = commit(fd, g->data_off);
    if (r)
        return r;
    struct hdr h0;
    memset(&h0, 0, sizeof h0);
    h0.reserve = g->reserve;
    h0.shards_off = g->shards_off;
    h0.data_off = g->data_off;
    h0.shard_bits = g->shard_bits;
    h0.base_bits = g->base_bits;
    h0.seg_bytes = g->seg_bytes;
    h0.tflags = o->flags & SHMKV_CACHE ? TF_CACHE : 0;
    shmkv *db;
    if ((r = map_table(fd, &h0, false, g->data_off, &db)))
        return r;
    struct hdr *h = db->hdr;
    h->version = FORMAT_VERSION;
    h->hdr_bytes = sizeof(struct hdr);
    h->shard_bytes = sizeof(struct shard);
    h->lock_bytes = sizeof(struct lock);
    h->shard_bits = g->shard_bits;
    h->base_bits = g->base_bits;
    /* a cache always counts its hits and misses: its users want the ratio */
    h->tflags = (o->flags & (SHMKV_STATS | SHMKV_CACHE) ? TF_READ_STATS : 0) |
                (o->flags & SHMKV_CACHE ? TF_CACHE : 0);
    h->seg_bytes = g->seg_bytes;
    shmkv__clock_init(db);
    if (!shmkv__table_seed(h->seed) && getrandom(h->seed, sizeof h->seed, GRND_NONBLOCK) != (ssize_t)sizeof h->seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        h->seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
        h->seed[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
    }
    db->seed0 = h->seed[0];
    db->seed1 = h->seed[1];
    db->seed8 = shmkv__hash_seed(db->seed0, db->seed1, 8);
    h->reserve = g->reserve;
    h->max_bytes = o->max_bytes;
    h->shards_off = g->shards_off;
    h->data_off = g->data_off;
    atomic_store(&h->file_size, g->data_off);
    atomic_store(&h->top, g->data_off);
    /* the locks are free: the file is all zeros (fallocate) */
    uint64_t chunk0 = units_of(RUN_HDR + (BUCKET_BYTES << g->base_bits));
    for (uint64_t i = 0; i < (1ull << g->shard_bits); i++) {
        struct shard *s = &db->shards[i];
        uint64_t ro;
        if ((r = shmkv__run_alloc(db, chunk0, RUN_INDEX, (uint32_t)i, true, &ro)))
            goto out;
        /* the file was just extended with fallocate: already zero */
        atomic_store(&s->dir[0], ro + RUN_HDR);
        shmkv__index_adopt_tail(db, s, ro, 1ull << g->base_bits);
    }
    h->geo_sum = geo_sum(h);
    /* the magic last: until now nothing could have accepted this file */
    fence_release();
    h->magic = FORMAT_MAGIC;
out:
    munmap(db->base, db->map_size);
    free(db);
    return r;
}

#define TMP_PREFIX ".shmkv-tmp."

/* Remove temporary files left in dir by creators killed mid-build: those
 * whose process is gone and that are over a minute old (a build takes
 * milliseconds; the age test also protects creators whose pid we cannot
 * see, in another pid namespace sharing the directory). */
static void sweep_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, TMP_PREFIX, sizeof TMP_PREFIX - 1))
            continue;
        long pid = strtol(e->d_name + sizeof TMP_PREFIX - 1, NULL, 10);
        struct stat st;
        if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
            now - st.st_mtime < 60)
            continue;
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* Create name atomically.  Returns 0 (created), -EEXIST, or an error. */
static int create(const char *path, const shmkv_options *o)
{
    struct geometry g;
    int r = 0;
    static _Atomic unsigned counter;
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 0;
    int n = snprintf(tmp, sizeof tmp, "%.*s%s" TMP_PREFIX "%ld.%u", dirlen, path, slash ? "/" : "",
                     (long)getpid(), atomic_fetch_add(&counter, 1));
    if (n < 0 || n >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    tmp[dirlen] = 0;
    sweep_tmp(slash ? (dirlen ? tmp : "/") : ".");
    if (slash)
        tmp[dirlen] = '/';
    mode_t mode = o->mode ? (mode_t)(o->mode & 07777) : 0600;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, mode) || (r = plan(o, fd, &g)) != 0 || (r = build(fd, &g, o)) != 0) {
        r = r ? r : -errno;
    } else if (link(tmp, path)) {
        r = -errno;
    }
    unlink(tmp);
    close(fd);
    return r;
}

/* Check and map the table in fd (which the handle then owns, or which is
 * closed on failure). */
static int attach(int fd, bool rdonly, shmkv **out)
{
    struct stat st;
    struct hdr h;
    int r;
    if (fstat(fd, &st)) {
        r = -errno;
    } else if (S_ISDIR(st.st_mode)) {
        r = -EISDIR;
    } else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof h ||
               pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || !header_ok(&h, (uint64_t)st.st_size)) {
        r = -EBADMSG;
    } else {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        r = map_table(fd, &h, rdonly, (uint64_t)st.st_size, out);
        if (r == 0 && marks_ok(*out)) {
            shmkv__clock_open(*out);
            return 0;
        }
        if (r == 0) {
            shmkv_close(*out);
            *out = NULL;
            return -EBADMSG; /* shmkv_close closed fd */
        }
    }
    close(fd);
    return r;
}

SHMKV_API int shmkv_open(const char *name, const shmkv_options *opts, shmkv **out)
{
    static const shmkv_options dflt = {.flags = SHMKV_CREATE};
    const shmkv_options *o = opts ? opts : &dflt;
    char path[PATH_MAX];
    if (!out)
        return -EINVAL;
    *out = NULL;
    if ((o->flags & ~(unsigned)(SHMKV_CREATE | SHMKV_EXCL | SHMKV_RDONLY | SHMKV_STATS | SHMKV_CACHE)) ||
        ((o->flags & SHMKV_EXCL) && !(o->flags & SHMKV_CREATE)))
        return -EINVAL;
    if (o->max_bytes && (o->max_bytes < SHMKV_MIN_BYTES || o->max_bytes > OFF_LIMIT))
        return -EINVAL;
    int r = resolve(name, path);
    if (r)
        return r;
    bool rdonly = o->flags & SHMKV_RDONLY;

    if (o->flags & SHMKV_EXCL) {
        if ((r = create(path, o)))
            return r;
    }
    for (int attempt = 0;; attempt++) {
        int fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            r = -errno;
            if (r == -ENOENT && (o->flags & SHMKV_CREATE) && attempt < 100) {
                r = create(path, o);
                if (r == 0 || r == -EEXIST)
                    continue; /* ours or someone else's: open it */
            }
            return r == -EMLINK ? -ELOOP : r; /* FreeBSD-style ELOOP spelling */
        }
        return attach(fd, rdonly, out);
    }
}

#ifdef SHMKV_TEST_HOOKS
/* Test builds: attach to the table in an open file (a memfd, say, so the
 * fuzzers need no file system).  The handle owns a dup of fd. */
SHMKV_API int shmkv__open_fd(int fd, bool rdonly, shmkv **out)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return -errno;
    return attach(d, rdonly, out);
}
#endif

SHMKV_API void shmkv_close(shmkv *db)
{
    if (!db)
        return;
    munmap(db->base, db->map_size);
    close(db->fd);
    free(db);
}

SHMKV_API int shmkv_unlink(const char *name)
{
    char path[PATH_MAX];
    int r = resolve(name, path);
    if (r)
        return r;
    return unlink(path) ? -errno : 0;
}
