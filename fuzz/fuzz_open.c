/*
 * fuzz_open.c - libFuzzer target: attach to a damaged table and use it.
 *
 * Input, one of:
 *   - any bytes: they are the whole table file;
 *   - "OVL1" t  (offset:u32le len:u8 bytes[len])*  : the template table t
 *     (t mod 5: empty, small, chained, split, cache; see fuzz_common.c,
 *     built once at start-up) with each patch written over it at offset
 *     mod its size.  This gets the fuzzer past the header's checksum
 *     straight to the structures it does not cover (allocator state,
 *     shard layouts, run lists, buckets, records, locks).
 *
 * The image goes into a memfd (fuzz_common.c), attached with the test
 * hook shmkv__open_fd: no file system.  Then, in passes:
 *   RAW     read-only: get, get without a buffer, get_alloc, ttl (40 keys),
 *           get_many, foreach, count, stat, check;
 *   WRITER  read-write: get, get_many, foreach, stat, check (locks taken
 *           over, repaired), then put small and huge values, put_ttl,
 *           expire, del; clear when the input's length is 3 mod 4;
 *   AFTER   read-only again: RAW's lookups and get_many, over what the
 *           writer left;
 * last, read-write again, shmkv_repair; if repair calls the table sound
 * (its last step is shmkv_check's walk) it must be: pairs written read
 * back exactly, foreach works, and shmkv_check on a read-only handle
 * passes.  Every call must return 0 or an error the header documents for
 * it; nothing may crash, hang (run with -timeout) or touch memory outside
 * the mapping (ASan, SIGSEGV, SIGBUS all count).
 *
 * Locks are fuzzed as the input gives them: word, holder identity, gen.
 * Three things keep that fast and reproducible:
 *  - shmkv__hurry(1000) (a test-build hook, src/fault.c): every lock wait
 *    and every nap of a read-only check lasts a thousandth of its time.
 *    A word naming a live thread (pid 1, say) then costs 1 ms, not the
 *    1 s writers wait for a live holder, and a gone holder is taken over
 *    after microseconds; the code paths are the same.
 *  - The fuzzer's own thread has a different id on every run, so an input
 *    cannot name it directly and reproduce.  Stand-ins do: in any lock,
 *    FZ_SELF_TID in the word's or the owner's tid bits, FZ_SELF_NS in the
 *    owner's namespace half, FZ_SELF_BOOT as boot and FZ_SELF_START as
 *    start are replaced by this thread's own values before attaching.
 *    With all four, the lock is this thread's own (-EDEADLK); with some,
 *    it names this thread but another holder (a tid reused, another boot).
 *  - The errors a lock may give follow from the image: -ETIMEDOUT only if
 *    some lock names a thread that exists (kill(2); before the input ran
 *    or, ids being reused, by the time of the error) or one of another PID
 *    namespace, -EDEADLK only if some lock is wholly this thread's, and a
 *    read-only check's -EAGAIN only if some lock's gen is odd (held).  A
 *    holder that is gone must be taken over, never waited for.
 */
#include "fuzz_common.h"

#include "fault.h"
#include "host.h"

#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static unsigned char *tpl[FZ_TEMPLATES];
static size_t tpl_len[FZ_TEMPLATES];
static unsigned char *buf;
#define BUF_CAP (128 * 1024)

/* What the input's locks allow (see the top of this file); the ids they
 * name that no thread had when the input was loaded. */
static bool may_time_out, may_deadlock;
static uint32_t unborn[FZ_LOCKS_MAX];
static size_t nunborn;

static bool thread_exists(uint32_t tid)
{
    return kill((pid_t)tid, 0) == 0 || errno != ESRCH;
}

/* Does a thread have one of those ids now?  Ids are reused: a holder that
 * was gone can be alive when the lock is taken. */
static bool reborn(void)
{
    for (size_t i = 0; i < nunborn; i++)
        if (thread_exists(unborn[i]))
            return true;
    return false;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_open: %s returned %d (%s)\n", what, rc, shmkv_strerror(rc));
    abort();
}

/* Errors any call may give on a damaged file, beyond its own. */
static bool damaged_ok(int rc)
{
    return rc == -EBADMSG || rc == -ENOMEM || (rc == -ETIMEDOUT && (may_time_out || reborn())) ||
           (rc == -EDEADLK && may_deadlock);
}

/* A damaged record can claim a value of up to 4 GiB; the library refuses
 * lengths the file cannot hold, but under ASan any huge allocation is slow
 * enough to look like a hang: refuse them (-ENOMEM) so the fuzzer goes on.
 * Freed memory is kept from reuse (to catch use after free) for 8 MiB of
 * later frees, not the default 256: fresh memory costs a page fault per
 * page, which was a third of each input's time, and 8 MiB spans every call
 * an input makes. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=64:quarantine_size_mb=8";
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    shmkv__hurry(1000);
    prctl(PR_SET_TIMERSLACK, 1UL); /* sleeps as short as asked: hurried ones are microseconds */
    for (int t = 0; t < FZ_TEMPLATES; t++)
        tpl[t] = fz_template(t, &tpl_len[t]);
    buf = malloc(BUF_CAP);
    return 0;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Put this thread in for the stand-ins of one lock; then what it allows. */
static void place_self(unsigned char *l)
{
    const struct host_me *me = shmkv__host_me();
    unsigned char *word = l + offsetof(struct lock, word), *boot = l + offsetof(struct lock, boot);
    unsigned char *owner = l + offsetof(struct lock, owner), *start = l + offsetof(struct lock, start);
    uint32_t w = get32(word);
    uint64_t o = get64(owner);
    if ((w & LOCK_TID) == FZ_SELF_TID)
        put32(word, w = (w & ~LOCK_TID) | (me->tid & LOCK_TID));
    if ((uint32_t)o == FZ_SELF_TID)
        o = (o & ~0xffffffffull) | me->tid;
    if (o >> 32 == FZ_SELF_NS)
        o = (uint64_t)me->ns << 32 | (uint32_t)o;
    put64(owner, o);
    if (get32(boot) == FZ_SELF_BOOT)
        put32(boot, (uint32_t)me->boot);
    if (get64(start) == FZ_SELF_START)
        put64(start, me->start);

    uint32_t tid = w & LOCK_TID, ns = (uint32_t)(o >> 32);
    if (tid && thread_exists(tid))
        may_time_out = true; /* a thread that exists */
    else if (tid)
        unborn[nunborn++] = tid;
    if (tid && (uint32_t)o == tid && ns && me->ns && ns != me->ns)
        may_time_out = true; /* one of another PID namespace */
    if (tid == me->tid && o == ((uint64_t)me->ns << 32 | me->tid) && get32(boot) == (uint32_t)me->boot &&
        get64(start) == me->start)
        may_deadlock = true;
}

static void place_locks(unsigned char *img, size_t len)
{
    static size_t at[FZ_LOCKS_MAX];
    size_t n = fz_locks(img, len, at, FZ_LOCKS_MAX);
    may_time_out = may_deadlock = false;
    nunborn = 0;
    for (size_t i = 0; i < n; i++)
        place_self(img + at[i]);
}

/* Some lock looks held (odd gen): a read-only check may give up. */
static bool gens_odd(shmkv *db)
{
    bool odd = atomic_load(&db->hdr->alloc_lock.gen) & 1;
    for (uint64_t i = 0; i < nshards(db); i++)
        odd |= (atomic_load(&db->shards[i].lock.gen) | atomic_load(&db->shards[i].lane[0].lock.gen) |
                atomic_load(&db->shards[i].lane[1].lock.gen)) & 1;
    return odd;
}

/* What the library hands out must be memory of its own: ASan's shadow
 * says whether every byte may be read (a loop reading them would cost
 * more than the rest of the input). */
static void readable(const void *p, size_t n, const char *what)
{
    const void *bad = __asan_region_is_poisoned((void *)(uintptr_t)p, n);
    if (bad) {
        fprintf(stderr, "fuzz_open: %s: byte %zu of %zu is not the library's to hand out\n", what,
                (size_t)((const char *)bad - (const char *)p), n);
        abort();
    }
}

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)ctx;
    readable(key, klen, "foreach's key");
    readable(val, vlen, "foreach's value");
    return 0;
}

/* The passes over one input's table (see the top of this file). */
enum pass { RAW, WRITER, AFTER, PASSES };

/* Every read.  The writer's lookups (the same code but for the counters
 * and a cache's read counts) only with get; after the writer, only the
 * lookups (the repair that follows walks everything it left, and foreach
 * and check follow on the repaired table). */
static void reads(shmkv *db, enum pass pass)
{
    bool rdonly = pass != WRITER;
    char k[32];
    for (int i = 0; i < 40; i++) {
        size_t kl = i < 24 ? fz_key(k, i) : (size_t)snprintf(k, sizeof k, "s%d", (i - 24) * 31);
        size_t vl = 0;
        int rc = shmkv_get(db, k, kl, buf, BUF_CAP, &vl);
        if (rc && rc != -ENOENT && rc != -ENOBUFS && !damaged_ok(rc))
            die("get", rc);
        if (rc == 0 && vl > BUF_CAP)
            die("get (length beyond the buffer)", rc);
        if (!rdonly)
            continue;
        rc = shmkv_get(db, k, kl, NULL, 0, &vl);
        if (rc && rc != -ENOENT && rc != -ENOBUFS && !damaged_ok(rc))
            die("get with no buffer", rc);
        void *p = NULL;
        rc = shmkv_get_alloc(db, k, kl, &p, &vl);
        if (rc && rc != -ENOENT && !damaged_ok(rc))
            die("get_alloc", rc);
        if (rc == 0)
            readable(p, vl, "get_alloc's value");
        free(p);
        uint64_t left = 0;
        rc = shmkv_ttl(db, k, kl, &left);
        if (rc && rc != -ENOENT && !damaged_ok(rc))
            die("ttl", rc);
    }
    shmkv_item it[8];
    char keys[8][32];
    for (int j = 0; j < 8; j++)
        it[j] = (shmkv_item){ .key = keys[j], .klen = fz_key(keys[j], j * 3),
                              .buf = buf + (size_t)j * (BUF_CAP / 8), .cap = BUF_CAP / 8 };
    int n = shmkv_get_many(db, it, 8);
    if (n < 0 || n > 8)
        die("get_many", n);
    if (pass == AFTER)
        return;
    int rc = shmkv_foreach(db, visit, NULL);
    if (rc && !damaged_ok(rc))
        die("foreach", rc);
    (void)shmkv_count(db);
    shmkv_stats st;
    if ((rc = shmkv_stat(db, &st)) != 0)
        die("stat", rc);
    rc = shmkv_check(db, NULL);
    if (rc && !damaged_ok(rc) && !(rdonly && rc == -EAGAIN && gens_odd(db)))
        die("check", rc);
}

/* A write's result: fine to go on (true), or the table is damaged in a
 * way each further write could meet again (false). */
static bool written(const char *what, int rc, bool missing_ok)
{
    if (rc && rc != -ENOSPC && rc != -E2BIG && !(missing_ok && rc == -ENOENT) && !damaged_ok(rc))
        die(what, rc);
    return rc != -ETIMEDOUT && rc != -EBADMSG && rc != -EDEADLK;
}

static void writes(shmkv *db)
{
    char k[32];
    for (int i = 0; i < 30; i++) {
        size_t kl = i % 3 == 2 ? (size_t)snprintf(k, sizeof k, "new%d", i) : fz_key(k, i);
        /* three values that get runs of their own (from 8 KiB in these
         * tables) and a chain where space is fragmented */
        size_t vl = i % 10 == 4 ? 6000 + (size_t)i * 1000 : (size_t)i * 13;
        fz_fill(buf, vl, kl, (uint64_t)i);
        if (!written("put", shmkv_put(db, k, kl, buf, vl), false))
            return;
        if (i % 4 == 1 && !written("put_ttl", shmkv_put_ttl(db, k, kl, buf, vl, 1000u * (uint64_t)(i + 1)), false))
            return;
        if (i % 4 == 2 &&
            !written("expire", shmkv_expire(db, k, fz_key(k, i + 2), i % 8 == 2 ? 0 : 5000), true))
            return;
        if (!written("del", shmkv_del(db, k, fz_key(k, i + 1)), true))
            return;
    }
}

/* After repair called the table sound (its last step is shmkv_check's
 * walk): it must behave as one. */
static void sound(shmkv *db)
{
    int rc;
    char k[32];
    static const size_t sizes[] = { 0, 1, 100, 1000, 5000, 9000, 20000, 7, 300, 3000, 60, 2 };
    for (int i = 0; i < 12; i++) {
        size_t kl = (size_t)snprintf(k, sizeof k, "repaired%d", i), vl = sizes[i], got = 0;
        fz_fill(buf, vl, kl, 99);
        rc = shmkv_put(db, k, kl, buf, vl);
        if (rc == -ENOSPC || rc == -E2BIG)
            continue;
        if (rc != 0)
            die("put after a repair that passed", rc);
        unsigned char *v = buf + BUF_CAP / 2;
        if ((rc = shmkv_get(db, k, kl, v, BUF_CAP / 2, &got)) != 0 || got != vl || memcmp(v, buf, vl) != 0)
            die("get of a pair just written after a repair (or its bytes differ)", rc);
        if (i % 3 == 0 && (rc = shmkv_del(db, k, kl)) != 0)
            die("del after a repair that passed", rc);
    }
    if ((rc = shmkv_foreach(db, visit, NULL)) != 0)
        die("foreach after a repair that passed", rc);
    shmkv *ro;
    if ((rc = fz_attach(true, &ro)) != 0)
        die("read-only attach to a repaired table", rc);
    if ((rc = shmkv_check(ro, stderr)) != 0)
        die("read-only check of a repaired table", rc);
    shmkv_close(ro);
}

/* The image of the input, in a buffer reused from input to input. */
static unsigned char *image_of(const uint8_t *data, size_t size, size_t *len)
{
    static unsigned char *img;
    static size_t cap;
    const unsigned char *from = data;
    *len = size;
    if (size >= 5 && memcmp(data, "OVL1", 4) == 0) {
        int t = data[4] % FZ_TEMPLATES;
        from = tpl[t];
        *len = tpl_len[t];
    }
    if (*len > cap || !img) {
        free(img);
        cap = *len ? *len : 1;
        if (!(img = malloc(cap)))
            abort();
    }
    memcpy(img, from, *len);
    if (from == data)
        return img;
    for (size_t p = 5; p + 5 <= size;) {
        uint32_t off;
        memcpy(&off, data + p, 4);
        size_t n = data[p + 4];
        p += 5;
        if (n > size - p)
            n = size - p;
        off %= (uint32_t)*len;
        if (n > *len - off)
            n = *len - off;
        memcpy(img + off, data + p, n);
        p += n;
    }
    return img;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    unsigned char *img = image_of(data, size, &len);
    place_locks(img, len);
    fz_load(img, fz_used(img, len), len);

    for (enum pass pass = RAW; pass < PASSES; pass++) {
        shmkv *db;
        int rc = fz_attach(pass != WRITER, &db);
        if (rc != 0) {
            if (rc != -EBADMSG && rc != -ENOMEM)
                die("open", rc);
            return 0; /* refused: it is refused every time */
        }
        reads(db, pass);
        if (pass == WRITER) {
            writes(db);
            int r = size % 4 == 3 ? shmkv_clear(db) : 0;
            if (r && !damaged_ok(r))
                die("clear", r);
        }
        shmkv_close(db);
    }

    shmkv *db;
    int rc = fz_attach(false, &db);
    if (rc != 0)
        die("open after passes that opened it", rc);
    rc = shmkv_repair(db, NULL);
    if (rc == 0)
        sound(db);
    else if (rc != -EBADMSG && rc != -ENOMEM)
        die("repair", rc);
    shmkv_close(db);
    return 0;
}
