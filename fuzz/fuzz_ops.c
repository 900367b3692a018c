/*
 * fuzz_ops.c - libFuzzer target: operation sequences against a model.
 *
 * The input is a program.  Byte 0 picks the table (mod 6: 256 KiB, 1 MiB
 * or 2 MiB max_bytes, 1, 4 or 8 shards; 3 to 5: caches (SHMKV_CACHE) of
 * 256 KiB, 1 MiB and 8 MiB, 1, 1 and 2 shards); then each operation is an
 * opcode byte followed by its operands:
 *   put/add/replace  key, size class, size byte   (value derived from a
 *                                                 sequence number)
 *   del, get, get_alloc                           key (get: + capacity byte)
 *   get_many  count, keys...     foreach     count/stat
 *   check  handle byte (odd: through a second, read-only handle)
 *   reopen  flag (read-only or read-write)        put_null  key
 *   put_ttl  key, size class, size byte, ttl byte
 *   expire  key, ttl byte        ttl  key         clear      repair
 *   advance_clock  n             (n < 240: (n % 16) minutes; from 240,
 *                                 (n - 239) * 2^42 ms, rounded to minutes)
 *   then the list opcodes of fuzz_lists.h (push, pop, move, llen, lrange,
 *   ldel, clash), on four list keys of their own, with a deque per list
 *   as the model (fuzz_lists.c); count, stat, foreach and the final
 *   check take the lists into account;
 *   then put_many  count, then per pair: key, size class, size byte, a
 *                  byte whose low bit says a ttl byte follows
 *                  (shmkv_put_many, each pair checked as a single put).
 *
 * With $FUZZ_OPS_TRACE set, each operation is printed with its operand
 * bytes (and list results), and shmkv_check runs after each one.
 *
 * Each table is an image made once at start-up (fuzz_common.c) and copied
 * into a memfd for each input; handles attach with shmkv__open_fd.
 *
 * Time: the model has its own clock, 0 at the start of a run, moved only
 * by advance_clock, in whole minutes (the table's clock moves with it, as
 * well as by the real time the run takes, which is far below 30 s; the
 * table's clock is put back at the start of each run, so runs do not
 * depend on the ones before).  Lifetimes (the ttl byte) are 0 (never) or
 * a whole number of minutes plus 30 s, so such an expiry time is always
 * 30 s away from the model's clock: the milliseconds a run really takes
 * cannot decide whether a key has expired.  Bytes 238 and up give hostile
 * lifetimes: 1 ms and 999 ms, SHMKV_TTL_MAX and one less (accepted), one
 * more, 2^63 and UINT64_MAX (-EINVAL, changing nothing).  A key whose
 * expiry time is less than 30 s ahead of the model's clock may or may not
 * have expired: a read may find it (with its latest value) or miss it,
 * and after a miss it is expired for good.  A key whose expiry time is at
 * or before the model's clock is absent; until a writer meets it, it may
 * still count in count/stat (which are then checked against a range).
 * put/add/replace give a key no expiry; put_ttl and expire set one.
 *
 * In a cache, writes never fail for space (-ENOSPC is a bug), pairs over
 * an eighth of the table are refused (-E2BIG), and any key may vanish by
 * eviction: a miss on a key the model holds is accepted (and the model
 * then forgets the key), but a value returned must always be the key's
 * latest one, never one overwritten, deleted, cleared or expired.
 * Keys come from a space of 24: short ones, a 1-byte key, keys of 300,
 * 2000 and 65535 bytes (the longest allowed), and one of 65536 (always
 * -E2BIG).  Value sizes include 0, the huge-record thresholds and values
 * over 32 KiB (records of their own run; chained when space is fragmented).
 *
 * Each operation is applied to the table and to a model (present, length,
 * value per key), and every result is compared: return code, length,
 * bytes, -ENOBUFS with the needed length, get_many's items, every pair
 * foreach visits, count and stat.  -ENOSPC is accepted for a write only
 * when the live data plus the new pair are at least an eighth of
 * max_bytes (short of that, refusing is a bug), and then it must have
 * changed nothing.  A read-only handle must refuse every write, clear and
 * repair with -EROFS.  shmkv_check must pass on either handle; shmkv_repair
 * of this sound table must pass, report nothing and change nothing the
 * model sees.  At the end shmkv_check must pass.  Any mismatch aborts.
 */
#include "fuzz_common.h"
#include "fuzz_lists.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 24
#define VMAX (100 * 1024)
#define NTABLES 6
/* max_bytes of the tables: stores of 1, 4 and 8 shards, caches of 1, 1, 2 */
static const uint64_t table_bytes[NTABLES] = { 256u << 10, 1u << 20, 2u << 20, 256u << 10, 1u << 20, 8u << 20 };

struct mkey {
    int present;     /* written and not deleted, cleared or evicted (may have expired) */
    size_t vlen;
    const unsigned char *val; /* its value: vlen bytes of S.pat */
    uint64_t exp;    /* model time it expires at; 0: never */
    int lapsed;      /* expired by the table's clock, before the model's */
};

#define MINUTE 60000u

static struct {
    char num[NKEYS][24]; /* the values incr made, as text (mkey.val points here) */
    unsigned char *k[NKEYS];
    size_t kl[NKEYS];
    struct mkey m[NKEYS];
    uint64_t seq;
    uint64_t clock;  /* model time, ms: a multiple of MINUTE */
    int64_t advanced; /* how far this process's table clock was moved */
    int cache;       /* the table is a cache */
    uint64_t max_bytes;
    unsigned char *img[NTABLES];
    size_t img_len[NTABLES], img_used[NTABLES];
    unsigned char *pat, *buf; /* values are slices of pat, at an offset a write picks */
    const char *what; /* the operation being checked, for messages */
    bool trace;       /* $FUZZ_OPS_TRACE set: print each operation */
} S;

static void vfail(const char *fmt, va_list ap) __attribute__((noreturn));
static void vfail(const char *fmt, va_list ap)
{
    fprintf(stderr, "fuzz_ops: %s: ", S.what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    abort();
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(fmt, ap);
}

void fo_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(fmt, ap);
}

static size_t key_len(int i)
{
    switch (i) {
    case 19: return 1;
    case 20: return 300;
    case 21: return 2000;
    case 22: return SHMKV_KEY_MAX;
    case 23: return SHMKV_KEY_MAX + 1;
    default: return (size_t)snprintf(NULL, 0, "key-%d", i);
    }
}

/* As fuzz_open.c's: huge allocations refused, an 8 MiB quarantine. */
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
    for (int t = 0; t < NTABLES; t++) {
        S.img[t] = fz_fresh(table_bytes[t], t >= 3 ? SHMKV_CACHE : 0, &S.img_len[t]);
        S.img_used[t] = fz_used(S.img[t], S.img_len[t]);
    }
    for (int i = 0; i < NKEYS; i++) {
        S.kl[i] = key_len(i);
        S.k[i] = malloc(S.kl[i] + 1);
        if (i < 19) {
            snprintf((char *)S.k[i], S.kl[i] + 1, "key-%d", i);
        } else {
            fz_fill(S.k[i], S.kl[i], 1000 + (uint64_t)i, 1);
            S.k[i][0] = (unsigned char)i; /* distinct first bytes */
        }
    }
    if (S.kl[19] == 1)
        S.k[19][0] = 0; /* a single NUL byte */
    S.pat = malloc(2 * VMAX);
    fz_fill(S.pat, 2 * VMAX, 1, 2);
    S.buf = malloc(VMAX);
    fl_init(S.pat, VMAX);
    S.trace = getenv("FUZZ_OPS_TRACE") != NULL;
    return 0;
}

/* ---- input reading (struct in, next: fuzz_lists.h) ---- */

static size_t value_len(unsigned cls, unsigned b)
{
    static const size_t edges[] = { 4095, 4096, 4097, 16383, 16384, 32767, 32768, 65536, 65537,
                                    VMAX };
    switch (cls % 6) {
    case 0: return 0;
    case 1: return 1 + b % 64;
    case 2: return 65 + b * 16;
    case 3: return 4097 + b * 112;
    case 4: return 32768 + b * 264;
    default: return edges[b % (sizeof edges / sizeof edges[0])];
    }
}

/* ---- the model ---- */

/* The ttl byte: 0 (never) or 30 s plus 0 to 15 minutes; from 238 on,
 * the hostile ones (see the top of this file). */
static uint64_t ttl_of(unsigned b)
{
    static const uint64_t hostile[] = { 1, 999, SHMKV_TTL_MAX, SHMKV_TTL_MAX - 1, SHMKV_TTL_MAX + 1,
                                        1ull << 63, UINT64_MAX };
    if (b >= 238)
        return hostile[(b - 238) % (sizeof hostile / sizeof hostile[0])];
    return b % 17 == 0 ? 0 : (uint64_t)(b % 17 - 1) * MINUTE + MINUTE / 2;
}

/* present and not expired by the model's clock */
static int live(int i)
{
    return S.m[i].present && !S.m[i].lapsed && (!S.m[i].exp || S.m[i].exp > S.clock);
}

/* live, but expiring less than 30 s after the model's clock: the table's
 * clock, ahead by the time the run has taken, may have passed it */
static int fading(int i)
{
    return live(i) && S.m[i].exp && S.m[i].exp - S.clock < MINUTE / 2;
}

/* expired, and maybe not yet reclaimed (then still counted by stat) */
static int zombie(int i)
{
    return S.m[i].present && !live(i);
}

static const char *state(int i)
{
    return fading(i) ? "fading" : live(i) ? "present" : zombie(i) ? "expired" : "absent";
}

/* A write on key i got as far as its lock (any result but -E2BIG,
 * -EROFS, -EINVAL): an expired record of the key has been reclaimed. */
static void met(int i, int rc)
{
    if (rc != -E2BIG && rc != -EROFS && rc != -EINVAL && zombie(i))
        S.m[i].present = 0;
}

/* A miss (rc) on key i where the model has it: allowed in a cache, which
 * may have evicted it (then it stays gone until written again), and for a
 * fading key, which has then expired for good. */
static int vanished(int i, int rc)
{
    if (rc != -ENOENT || !live(i))
        return 0;
    if (fading(i))
        S.m[i].lapsed = 1;
    else if (S.cache)
        S.m[i].present = 0;
    else
        return 0;
    return 1;
}

/* count, live bytes: [lo, hi] (lo: 0 in a cache, which may have evicted
 * anything, and without fading keys; hi: with the expired pairs not yet
 * reclaimed) */
static void model_counts(uint64_t *lo, uint64_t *hi, uint64_t *blo, uint64_t *bhi)
{
    *lo = *hi = *blo = *bhi = 0;
    for (int i = 0; i < NKEYS; i++) {
        if (!S.m[i].present)
            continue;
        uint64_t b = S.kl[i] + S.m[i].vlen;
        if (live(i) && !fading(i) && !S.cache) {
            ++*lo;
            *blo += b;
        }
        ++*hi;
        *bhi += b;
    }
    /* lists (never in a cache) are keys, their record a key and an offset */
    *lo += fl_count();
    *hi += fl_count() + fl_maybe_count();
    *blo += fl_live_bytes();
    *bhi += fl_live_bytes() + fl_maybe_bytes();
}

/* For fuzz_lists.c: a pair key by a byte, whether it is surely live, and
 * the most bytes the pairs may hold. */
int fo_pair_key(unsigned b, const void **key, size_t *klen)
{
    int i = (int)(b % NKEYS);
    *key = S.k[i];
    *klen = S.kl[i];
    return i;
}

bool fo_pair_live(int i)
{
    return live(i) && !fading(i) && !S.cache;
}

uint64_t fo_pair_bytes(void)
{
    uint64_t lo, hi, blo, bhi;
    model_counts(&lo, &hi, &blo, &bhi);
    return bhi;
}

static int same_value(int i, const void *v, size_t vl)
{
    return live(i) && vl == S.m[i].vlen && (!vl || memcmp(v, S.m[i].val, vl) == 0);
}

static int key_index(const void *key, size_t klen)
{
    for (int i = 0; i < NKEYS; i++)
        if (S.kl[i] == klen && memcmp(S.k[i], key, klen) == 0)
            return i;
    return -1;
}

/* Compare one lookup result with the model. */
static void check_get(int i, int rc, const void *v, size_t vl, size_t cap)
{
    if (S.kl[i] > SHMKV_KEY_MAX) {
        if (rc != -E2BIG)
            fail("key %d (too long): %s", i, shmkv_strerror(rc));
        return;
    }
    if (!live(i)) {
        if (rc != -ENOENT)
            fail("key %d is %s, got rc %d", i, state(i), rc);
        return;
    }
    if (vanished(i, rc))
        return;
    if (S.m[i].vlen > cap) {
        if (rc != -ENOBUFS || vl != S.m[i].vlen)
            fail("key %d: %zu bytes into %zu: rc %d, length %zu", i, S.m[i].vlen, cap, rc, vl);
        return;
    }
    if (rc != 0 || !same_value(i, v, vl))
        fail("key %d: rc %d, %zu bytes, model %zu bytes", i, rc, vl, S.m[i].vlen);
}

struct fe {
    int seen[NKEYS];
    long pairs;
};

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct fe *f = ctx;
    int i = key_index(key, klen);
    if (i < 0)
        fail("foreach: a key of %zu bytes that was never written", klen);
    if (f->seen[i]++)
        fail("foreach: key %d visited twice", i);
    if (!same_value(i, val, vlen))
        fail("foreach: key %d has %zu bytes, model %s %zu", i, vlen, state(i), S.m[i].vlen);
    f->pairs++;
    return 0;
}

static void check_counts(shmkv *db)
{
    uint64_t lo, hi, blo, bhi;
    model_counts(&lo, &hi, &blo, &bhi);
    S.what = "count/stat";
    uint64_t n = shmkv_count(db);
    if (n < lo || n > hi)
        fail("count %llu, model %llu to %llu", (unsigned long long)n, (unsigned long long)lo,
             (unsigned long long)hi);
    shmkv_stats st;
    if (shmkv_stat(db, &st) != 0 || st.keys < lo || st.keys > hi || st.live_bytes < blo ||
        st.live_bytes > bhi)
        fail("stat: %llu keys %llu bytes, model %llu-%llu / %llu-%llu", (unsigned long long)st.keys,
             (unsigned long long)st.live_bytes, (unsigned long long)lo, (unsigned long long)hi,
             (unsigned long long)blo, (unsigned long long)bhi);
    if (st.cache != (uint64_t)S.cache || (S.cache && !st.read_stats) || (!S.cache && st.evictions))
        fail("stat: cache %llu, read_stats %llu, evictions %llu in a %s", (unsigned long long)st.cache,
             (unsigned long long)st.read_stats, (unsigned long long)st.evictions,
             S.cache ? "cache" : "table that is not a cache");
}

static void check_all(shmkv *db)
{
    S.what = "foreach";
    struct fe f;
    memset(&f, 0, sizeof f);
    int rc = shmkv_foreach(db, visit, &f);
    if (rc != 0)
        fail("returned %d", rc);
    /* a cache may have evicted what was not visited, a fading key expired */
    for (int i = 0; i < NKEYS; i++)
        if (!f.seen[i] && live(i) && !vanished(i, -ENOENT))
            fail("key %d not visited", i);
    fl_check_all(db);
    check_counts(db);
}

enum { OP_PUT, OP_ADD, OP_REPLACE, OP_DEL, OP_GET, OP_GET_ALLOC, OP_GET_MANY, OP_FOREACH,
       OP_STAT, OP_CHECK, OP_REOPEN, OP_PUT_NULL, OP_PUT_TTL, OP_EXPIRE, OP_TTL, OP_CLEAR,
       OP_ADVANCE_CLOCK, OP_REPAIR, OP_LIST_,
       /* added after the list opcodes, so that earlier inputs written with
        * opcode bytes below OP_PUT_MANY (the seeds, the regressions) keep
        * their meaning */
       OP_PUT_MANY = OP_LIST_ + FL_COUNT_, OP_INCR, OP_COUNT_ };

static const char *const op_names[OP_LIST_] = {
    "put", "add", "replace", "del", "get", "get_alloc", "get_many", "foreach", "stat",
    "check", "reopen", "put_null", "put_ttl", "expire", "ttl", "clear", "advance_clock", "repair",
    /* then fuzz_lists.c's, fl_names */
};

/* -ENOSPC for a write of key i to vl bytes is allowed only in a table
 * that is not a cache and holds at least an eighth of max_bytes (live
 * pairs, expired ones not yet reclaimed, and the new pair). */
static void check_nospc(int i, size_t vl)
{
    uint64_t lo, hi, blo, bhi;
    model_counts(&lo, &hi, &blo, &bhi);
    if (S.cache)
        fail("key %d, %zu bytes: -ENOSPC from a cache", i, vl);
    if (bhi + fl_used_bound() + S.kl[i] + vl < S.max_bytes / 8)
        fail("key %d, %zu bytes: -ENOSPC with only %llu live bytes in a %llu-byte table", i, vl,
             (unsigned long long)bhi, (unsigned long long)S.max_bytes);
}

static void note_write(int rdonly, int op, int i, const unsigned char *v, size_t vl, uint64_t ttl_ms, int rc);

/* put, add, replace, put_null, put_ttl (ttl_ms: 0 never) */
static void do_write(shmkv *db, int rdonly, int op, int i, size_t vl, int null_val, uint64_t ttl_ms)
{
    uint64_t seq = ++S.seq;
    /* a slice of random bytes starting where no other write of the key
     * starts (seq): an old value read back is told from the new one */
    const unsigned char *v = null_val ? NULL : S.pat + (seq * 8191 + (uint64_t)i) % VMAX;
    int rc = op == OP_ADD       ? shmkv_add(db, S.k[i], S.kl[i], v, vl)
           : op == OP_REPLACE   ? shmkv_replace(db, S.k[i], S.kl[i], v, vl)
           : op == OP_PUT_TTL   ? shmkv_put_ttl(db, S.k[i], S.kl[i], v, vl, ttl_ms)
                                : shmkv_put(db, S.k[i], S.kl[i], v, vl);
    note_write(rdonly, op, i, v, vl, ttl_ms, rc);
}

/* Check a write's rc against the model and apply it there. */
static void note_write(int rdonly, int op, int i, const unsigned char *v, size_t vl, uint64_t ttl_ms, int rc)
{
    int want;
    /* a cache refuses pairs over an eighth of it; near that, either way */
    uint64_t pair = S.kl[i] + vl, eighth = S.max_bytes / 8;
    int big = S.cache && pair > eighth, near = S.cache && !big && pair + 4096 > eighth;
    met(i, rc);
    if (S.kl[i] > SHMKV_KEY_MAX || big)
        want = -E2BIG;
    else if (near && rc == -E2BIG)
        return;
    else if (rdonly)
        want = -EROFS;
    else if (ttl_ms > SHMKV_TTL_MAX)
        want = -EINVAL;
    else if (op == OP_ADD && live(i) && rc != -EEXIST && vanished(i, -ENOENT))
        want = 0; /* it had been evicted, or had expired: an add like any */
    else if (op == OP_ADD && live(i))
        want = -EEXIST;
    else if (op == OP_REPLACE && !live(i))
        want = -ENOENT;
    else if (op == OP_REPLACE && vanished(i, rc))
        return;
    else
        want = 0;
    if (rc == -ENOSPC && want == 0) {
        check_nospc(i, vl);
        return; /* refused: nothing changed (checked by the next reads) */
    }
    if (rc != want)
        fail("key %d, %zu bytes (%s), ttl %llu: rc %d, expected %d", i, vl, state(i),
             (unsigned long long)ttl_ms, rc, want);
    if (rc == 0) {
        S.m[i] = (struct mkey){ 1, vl, v, ttl_ms ? S.clock + ttl_ms : 0, 0 };
    }
}

static void do_expire(shmkv *db, int rdonly, int i, uint64_t ttl_ms)
{
    int rc = shmkv_expire(db, S.k[i], S.kl[i], ttl_ms);
    met(i, rc);
    int want = S.kl[i] > SHMKV_KEY_MAX ? -E2BIG
             : rdonly                  ? -EROFS
             : ttl_ms > SHMKV_TTL_MAX  ? -EINVAL
             : live(i)                 ? 0
                                       : -ENOENT;
    if (want == 0 && vanished(i, rc))
        return;
    if (rc == -ENOSPC && want == 0) {
        check_nospc(i, S.m[i].vlen);
        return;
    }
    if (rc != want)
        fail("key %d (%s), %llu ms: rc %d, expected %d", i, state(i), (unsigned long long)ttl_ms, rc, want);
    if (rc == 0)
        S.m[i].exp = ttl_ms ? S.clock + ttl_ms : 0;
}

static void do_ttl(shmkv *db, int i)
{
    uint64_t left = 12345;
    int rc = shmkv_ttl(db, S.k[i], S.kl[i], &left);
    int want = S.kl[i] > SHMKV_KEY_MAX ? -E2BIG : live(i) ? 0 : -ENOENT;
    if (want == 0 && vanished(i, rc))
        return;
    if (rc != want)
        fail("key %d (%s): rc %d, expected %d", i, state(i), rc, want);
    if (rc != 0)
        return;
    /* the table's clock is ahead of the model's by the real time the run
     * has taken (far less than 30 s) */
    uint64_t exp = S.m[i].exp, rem = exp ? exp - S.clock : 0;
    if (exp ? left > rem || left + MINUTE / 2 <= rem || left == 0 : left != 0)
        fail("key %d: %llu ms left, model %llu", i, (unsigned long long)left, (unsigned long long)rem);
}

static void do_del(shmkv *db, int rdonly, int i)
{
    int rc = shmkv_del(db, S.k[i], S.kl[i]);
    met(i, rc);
    int want = S.kl[i] > SHMKV_KEY_MAX ? -E2BIG : rdonly ? -EROFS : live(i) ? 0 : -ENOENT;
    if (want == 0 && vanished(i, rc))
        return;
    if (rc != want)
        fail("key %d (%s): rc %d, expected %d", i, state(i), rc, want);
    if (rc == 0)
        S.m[i].present = 0;
}

static void do_get(shmkv *db, int i, unsigned c)
{
    size_t cap = c == 0 ? 0 : c == 255 ? VMAX : S.m[i].vlen - (c & 1 && S.m[i].vlen);
    size_t vl = 12345;
    int rc = shmkv_get(db, S.k[i], S.kl[i], cap ? S.buf : NULL, cap, &vl);
    check_get(i, rc, S.buf, vl, cap);
}

static void do_get_alloc(shmkv *db, int i)
{
    void *p = NULL;
    size_t vl = 0;
    int rc = shmkv_get_alloc(db, S.k[i], S.kl[i], &p, &vl);
    if (rc == 0 && !p)
        fail("key %d: 0 but no buffer", i);
    check_get(i, rc, p, vl, SIZE_MAX);
    free(p);
}

static void do_get_many(shmkv *db, struct in *in)
{
    enum { B = 20 };
    shmkv_item it[B];
    int ids[B], n = (int)(next(in) % (B + 1)), found = 0;
    static unsigned char bufs[4][VMAX];
    for (int j = 0; j < n; j++) {
        ids[j] = (int)(next(in) % NKEYS);
        it[j] = (shmkv_item){ .key = S.k[ids[j]], .klen = S.kl[ids[j]],
                              .buf = j < 4 ? bufs[j] : NULL, .cap = j < 4 ? VMAX : 0 };
    }
    int rc = shmkv_get_many(db, it, (size_t)n);
    for (int j = 0; j < n; j++) {
        check_get(ids[j], it[j].rc, it[j].buf, it[j].vlen, it[j].cap);
        found += it[j].rc == 0;
    }
    if (rc != found)
        fail("returned %d, %d items found", rc, found);
}

static void do_clear(shmkv *db, int rdonly)
{
    int rc = shmkv_clear(db), want = rdonly ? -EROFS : 0;
    if (rc != want)
        fail("rc %d, expected %d", rc, want);
    if (rc == 0) {
        for (int i = 0; i < NKEYS; i++)
            S.m[i].present = 0;
        fl_clear();
    }
}

/* shmkv_check through this handle, or through a second, read-only one
 * attached beside it: either way the sound table passes. */
static void do_check(shmkv *db, unsigned b)
{
    shmkv *ro = NULL;
    int rc = b & 1 ? fz_attach(true, &ro) : 0;
    if (rc != 0)
        fail("a second, read-only handle: %d", rc);
    if ((rc = shmkv_check(ro ? ro : db, stderr)) != 0)
        fail("%s handle: returned %d", ro ? "a second, read-only" : "this", rc);
    shmkv_close(ro);
}

/* Repair of a sound table: passes and says nothing (no leaked run freed,
 * no problem); whether it changed anything the next operations see. */
static void do_repair(shmkv *db, int rdonly)
{
    char *text = NULL;
    size_t len = 0;
    FILE *report = open_memstream(&text, &len);
    if (!report)
        abort();
    int rc = shmkv_repair(db, report);
    fclose(report);
    if (rc != (rdonly ? -EROFS : 0) || len)
        fail("rc %d, expected %d; report: %s", rc, rdonly ? -EROFS : 0, text);
    free(text);
}

static void do_advance(unsigned b)
{
    uint64_t ms = b < 240 ? (b % 16) * (uint64_t)MINUTE : (b - 239) * ((1ull << 42) / MINUTE * MINUTE);
    shmkv__clock_advance((int64_t)ms);
    S.advanced += (int64_t)ms;
    S.clock += ms;
}

static shmkv *reopen(shmkv *db, int rdonly)
{
    shmkv_close(db);
    int rc = fz_attach(rdonly, &db);
    if (rc != 0)
        fail("reopen (%s) returned %d", rdonly ? "read-only" : "read-write", rc);
    return db;
}

static int key(struct in *in) { return (int)(next(in) % NKEYS); }

/* shmkv_put_many of up to 12 pairs (a key may come twice: the later
 * wins), each checked as the single put it is, in order. */
static void do_put_many(shmkv *db, int rdonly, struct in *in)
{
    enum { B = 12 }; /* the pipeline's depth and more; bigger batches only slow the fuzzer */
    shmkv_pair p[B];
    int ids[B], n = (int)(next(in) % (B + 1)), stored = 0;
    for (int j = 0; j < n; j++) {
        uint64_t seq = ++S.seq;
        ids[j] = key(in);
        unsigned cls = next(in), b = next(in);
        size_t vl = value_len(cls, b);
        uint64_t ttl = next(in) & 1 ? ttl_of(next(in)) : 0;
        p[j] = (shmkv_pair){ .key = S.k[ids[j]], .klen = S.kl[ids[j]],
                             .val = S.pat + (seq * 8191 + (uint64_t)ids[j]) % VMAX, .vlen = vl,
                             .ttl_ms = ttl, .rc = 12345 };
    }
    int rc = shmkv_put_many(db, p, (size_t)n);
    for (int j = 0; j < n; j++) {
        note_write(rdonly, OP_PUT, ids[j], p[j].val, p[j].vlen, p[j].ttl_ms, p[j].rc);
        stored += p[j].rc == 0;
    }
    if (rc != stored)
        fail("put_many returned %d, %d pairs stored", rc, stored);
}

/* The model's value of key i as an int64 (decimal text, as incr reads it). */
static bool model_int(int i, int64_t *v)
{
    const unsigned char *p = S.m[i].val;
    size_t n = S.m[i].vlen, j = n && p[0] == '-';
    if (n - j < 1 || n - j > 19)
        return false;
    uint64_t u = 0;
    for (; j < n; j++) {
        if (p[j] < '0' || p[j] > '9')
            return false;
        u = u * 10 + (uint64_t)(p[j] - '0');
    }
    if (u > (uint64_t)INT64_MAX + (p[0] == '-'))
        return false;
    *v = p[0] == '-' ? (int64_t)(0 - u) : (int64_t)u;
    return true;
}

/* shmkv_incr by a delta the input picks: small ones of either sign (most
 * rewrite the value in place, some change its length), or near the ends
 * of int64 (-ERANGE).  A key the model has may have been evicted or have
 * faded: then it counts from 0. */
static void do_incr(shmkv *db, int rdonly, int i, unsigned b, uint64_t ttl_ms)
{
    static const int64_t far[] = {INT64_MAX, INT64_MIN, INT64_MAX / 2, -1000000007};
    int64_t delta = b < 240 ? (int64_t)(b % 21) - 10 : far[b % 4], res = 12345, cur = 0, sum = 0;
    int rc = shmkv_incr(db, S.k[i], S.kl[i], delta, ttl_ms, &res);
    met(i, rc);
    bool was = live(i), may_vanish = was && (S.cache || fading(i));
    bool num = !was || model_int(i, &cur);
    int want = S.kl[i] > SHMKV_KEY_MAX              ? -E2BIG
             : rdonly                               ? -EROFS
             : ttl_ms > SHMKV_TTL_MAX               ? -EINVAL
             : !num                                 ? -EDOM
             : __builtin_add_overflow(cur, delta, &sum) ? -ERANGE
                                                    : 0;
    if (S.cache && want == 0 && rc == -E2BIG && S.kl[i] + 24 + 4096 > S.max_bytes / 8)
        return; /* near a cache's largest pair */
    if (rc == -ENOSPC && (want == 0 || want == -EDOM || want == -ERANGE)) {
        check_nospc(i, 20);
        return;
    }
    bool as_absent = may_vanish && rc == 0 && res == delta && (want != 0 || res != sum);
    if (may_vanish && rc == 0 && res == delta && want == 0 && res == sum) {
        /* it held 0: gone or not, the same result; the expiry tells */
        uint64_t rem = 0, old = S.m[i].exp, new_exp = ttl_ms ? S.clock + ttl_ms : 0;
        if (shmkv_ttl(db, S.k[i], S.kl[i], &rem) == 0) {
            uint64_t at = rem ? S.clock + rem : 0;
            as_absent = (at > new_exp ? at - new_exp : new_exp - at) < (at > old ? at - old : old - at);
        }
    }
    if (as_absent) { /* it was gone: counted from 0 */
        if (fading(i))
            S.m[i].lapsed = 1;
        else
            S.m[i].present = 0;
        was = false;
        sum = delta;
        want = rc;
    }
    if (rc != want)
        fail("key %d (%s), delta %lld: rc %d, expected %d", i, state(i), (long long)delta, rc, want);
    if (rc)
        return;
    if (res != sum)
        fail("key %d, delta %lld: result %lld, expected %lld", i, (long long)delta, (long long)res, (long long)sum);
    size_t n = (size_t)snprintf(S.num[i], sizeof S.num[i], "%lld", (long long)sum);
    uint64_t exp = was ? S.m[i].exp : ttl_ms ? S.clock + ttl_ms : 0;
    S.m[i] = (struct mkey){ 1, n, (const unsigned char *)S.num[i], exp, 0 };
}

/* The next few bytes, for the trace (the operands and maybe more). */
static const char *trace_bytes(const struct in *in)
{
    static char s[32];
    for (size_t j = 0; j < 5; j++)
        snprintf(s + 3 * j, sizeof s - 3 * j, j < in->n ? "%02x " : "   ", j < in->n ? in->p[j] : 0);
    return s;
}

static void run(shmkv **dbp, struct in *in)
{
    int rdonly = 0;
    for (int steps = 0; in->n && steps < 2000; steps++) {
        shmkv *db = *dbp;
        int op = (int)(next(in) % OP_COUNT_), i;
        S.what = op < OP_LIST_ ? op_names[op] : op == OP_PUT_MANY ? "put_many" : op == OP_INCR ? "incr"
               : fl_names[op - OP_LIST_];
        if (S.trace) /* the operation and its operand bytes */
            fprintf(stderr, "%d: %s %s\n", steps, S.what, trace_bytes(in));
        switch (op) {
        case OP_PUT:
        case OP_ADD:
        case OP_REPLACE: {
            i = key(in);
            unsigned cls = next(in), b = next(in);
            do_write(db, rdonly, op, i, value_len(cls, b), 0, 0);
            break;
        }
        case OP_PUT_NULL: do_write(db, rdonly, OP_PUT, key(in), 0, 1, 0); break;
        case OP_PUT_TTL: {
            i = key(in);
            unsigned cls = next(in), b = next(in);
            do_write(db, rdonly, op, i, value_len(cls, b), 0, ttl_of(next(in)));
            break;
        }
        case OP_EXPIRE: i = key(in), do_expire(db, rdonly, i, ttl_of(next(in))); break;
        case OP_TTL: do_ttl(db, key(in)); break;
        case OP_DEL: do_del(db, rdonly, key(in)); break;
        case OP_GET: i = key(in), do_get(db, i, next(in)); break;
        case OP_GET_ALLOC: do_get_alloc(db, key(in)); break;
        case OP_GET_MANY: do_get_many(db, in); break;
        case OP_FOREACH: check_all(db); break;
        case OP_STAT: check_counts(db); break;
        case OP_CHECK: do_check(db, next(in)); break;
        case OP_REOPEN: rdonly = (int)(next(in) & 1), *dbp = reopen(db, rdonly); break;
        case OP_CLEAR: do_clear(db, rdonly); break;
        case OP_ADVANCE_CLOCK: do_advance(next(in)); break;
        case OP_REPAIR: do_repair(db, rdonly); break;
        case OP_PUT_MANY: do_put_many(db, rdonly, in); break;
        case OP_INCR: i = key(in), do_incr(db, rdonly, i, next(in), next(in) & 1 ? ttl_of(next(in)) : 0); break;
        default: fl_op(db, rdonly, op - OP_LIST_, in); break;
        }
        /* tracing, also a check after each step: the first that breaks the table */
        if (S.trace && shmkv_check(*dbp, stderr))
            fprintf(stderr, "check failed after step %d\n", steps);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = { data, size };
    memset(S.m, 0, sizeof S.m);
    S.seq = S.clock = 0;
    shmkv__clock_advance(-S.advanced); /* the table's clock as the last run found it */
    S.advanced = 0;
    unsigned t = next(&in) % NTABLES;
    S.max_bytes = table_bytes[t];
    S.cache = t >= 3;
    fl_reset(S.cache, S.max_bytes);
    S.what = "open";
    fz_load(S.img[t], S.img_used[t], S.img_len[t]);
    shmkv *db;
    int rc = fz_attach(false, &db);
    if (rc != 0)
        fail("a fresh %llu-byte table: %d", (unsigned long long)S.max_bytes, rc);
    run(&db, &in);
    /* the final state, through a fresh read-write handle */
    db = reopen(db, 0);
    for (int i = 0; i < NKEYS; i++) {
        size_t vl = 0;
        S.what = "final get";
        rc = shmkv_get(db, S.k[i], S.kl[i], S.buf, VMAX, &vl);
        check_get(i, rc, S.buf, vl, VMAX);
    }
    check_all(db);
    S.what = "final check";
    if ((rc = shmkv_check(db, stderr)) != 0)
        fail("returned %d", rc);
    shmkv_close(db);
    return 0;
}
