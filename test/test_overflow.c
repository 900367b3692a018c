/*
 * test_overflow.c - overflow chains and their filter (format.h, struct
 * bucket): a lookup that misses in a chain's first bucket walks on only
 * if the filter in that bucket's link has the key's tag.
 *
 *  - filter: keys picked to share one bucket overflow it; the filter then
 *    holds exactly the tags of the overflow slots, every key is found by
 *    get, get_many and by writers (an add says -EEXIST), and an overwrite
 *    of an overflow key while the first bucket has room adds no second
 *    copy; deleting overflow keys shrinks the filter to the tags left, and
 *    the last one takes the overflow bucket and the filter with it.
 *  - damage: a filter cleared by hand hides its overflow keys from a get
 *    and from a replace (so both really consult it); the checker reports
 *    it, and shmkv_repair makes it again.
 *  - growth: 60 000 keys through thousands of splits, some deleted and put
 *    back: every key found, and the checker (which holds every overflow
 *    slot's tag to its chain's filter) finds the table sound.
 *  - race: threads read the chain's stable keys (seven in the first bucket,
 *    three beyond it) with get and get_many and add them (-EEXIST), while
 *    another deletes and puts back the ten others again and again, so the
 *    filter is set, made again on every delete beyond the first bucket,
 *    and the second overflow bucket unlinked and linked anew under them:
 *    no stable key is ever missed.  (Also a ThreadSanitizer target.)
 *  - split_race: threads read 12 000 keys nobody writes (get, get_many)
 *    and a thread runs foreach on a read-only handle, while a writer puts
 *    60 000 more, so that thousands of splits compact their sources'
 *    chains under them (each compaction held a moment, by the library's
 *    stall hook, while its keys are in two slots): no read misses, no
 *    foreach visits a key twice or misses a stable one, and the
 *    compactions did happen.
 */
#include "harness.h"

#include "fault.h"
#include "index.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NSAME 20 /* keys in one chain: seven in its first bucket, 13 in two overflow buckets */

struct same {
    char key[NSAME][24];
    struct shard *s;
    struct bucket *first;
    uint64_t lay;
};

/* NSAME keys whose home, under the layout now, is the same bucket. */
static void pick_same(shmkv *db, struct same *p)
{
    unsigned n = 0;
    p->lay = atomic_load(&db->shards[0].layout);
    char k[24];
    for (unsigned i = 0; n < NSAME && i < 10000000; i++) {
        snprintf(k, sizeof k, "same-%u", i);
        uint64_t h = shmkv__key_hash(db, k, strlen(k));
        struct shard *s = shard_of(db, h);
        uint64_t lay = atomic_load(&s->layout);
        struct bucket *bk = shmkv__bucket_at(db, s, shmkv__bucket_for(lay, db->base_bits, h & TAG_MASK));
        if (n == 0) {
            p->s = s;
            p->first = bk;
            p->lay = lay;
        }
        if (s == p->s && bk == p->first)
            memcpy(p->key[n++], k, sizeof k);
    }
    CHECKF(n == NSAME, "found %u keys for one bucket", n);
}

static uint64_t tag_of(shmkv *db, const char *k)
{
    return shmkv__key_hash(db, k, strlen(k)) & TAG_MASK;
}

/* The filter the chain should have: its overflow slots' tags. */
static uint64_t filter_want(shmkv *db, struct bucket *first)
{
    uint64_t f = 0;
    for (struct bucket *bk = shmkv__bucket_next(db, first); bk; bk = shmkv__bucket_next(db, bk))
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t v = atomic_load(&bk->slot[i]);
            if (v)
                f |= tag_filter_bit(slot_tag(v));
        }
    return f;
}

static uint64_t filter_has(struct bucket *first)
{
    return link_filter(atomic_load(&first->next));
}

static void expect_found(shmkv *db, const char *k, const char *when)
{
    char buf[64];
    size_t got = 0;
    CHECKF(shmkv_get(db, k, strlen(k), buf, sizeof buf, &got) == 0 && got == strlen(k) && !memcmp(buf, k, got),
           "%s: get %s", when, k);
    shmkv_item it = {.key = k, .klen = strlen(k), .buf = buf, .cap = sizeof buf};
    CHECKF(shmkv_get_many(db, &it, 1) == 1 && it.rc == 0 && it.vlen == strlen(k), "%s: get_many %s", when, k);
    CHECKF(shmkv_add(db, k, strlen(k), "x", 1) == -EEXIST, "%s: add %s", when, k);
}

static uint64_t keys_of(shmkv *db)
{
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    return st.keys;
}

static shmkv *open_new(char *name, size_t cap, uint64_t max_bytes)
{
    h_name(name, cap, "overflow");
    shmkv_options o = {.flags = SHMKV_CREATE, .max_bytes = max_bytes};
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    return db;
}

/* Puts the keys; they go to the first bucket in order, then beyond. */
static void put_same(shmkv *db, struct same *p)
{
    for (unsigned i = 0; i < NSAME; i++)
        CHECK_RC(shmkv_put(db, p->key[i], strlen(p->key[i]), p->key[i], strlen(p->key[i])), 0);
    CHECKF(atomic_load(&p->s->layout) == p->lay, "no split while the chain is built (pick fewer keys)");
    CHECKF(shmkv__bucket_next(db, p->first) != NULL, "the chain has an overflow bucket");
}

/* A new table with one chain of NSAME keys. */
static shmkv *build_same(char *name, size_t cap, struct same *p)
{
    shmkv *db = open_new(name, cap, 64u << 20);
    pick_same(db, p);
    put_same(db, p);
    return db;
}

static void test_filter(void)
{
    char name[64];
    struct same p;
    shmkv *db = build_same(name, sizeof name, &p);
    uint64_t want = 0;
    for (unsigned i = SLOTS; i < NSAME; i++)
        want |= tag_filter_bit(tag_of(db, p.key[i]));
    CHECK_EQ_U64(filter_has(p.first), want);
    CHECK_EQ_U64(filter_want(db, p.first), want);
    for (unsigned i = 0; i < NSAME; i++)
        expect_found(db, p.key[i], "built");

    /* holes in the first bucket: an overwrite of a key beyond them must
     * find it there, not take a hole */
    CHECK_RC(shmkv_del(db, p.key[0], strlen(p.key[0])), 0);
    CHECK_RC(shmkv_del(db, p.key[1], strlen(p.key[1])), 0);
    uint64_t keys = keys_of(db);
    for (unsigned i = SLOTS; i < NSAME; i++) {
        CHECK_RC(shmkv_put(db, p.key[i], strlen(p.key[i]), p.key[i], strlen(p.key[i])), 0);
        expect_found(db, p.key[i], "overwritten with holes in front");
    }
    CHECK_EQ_U64(keys_of(db), keys);
    CHECK_EQ_U64(filter_has(p.first), want);
    CHECK_TABLE(db, "overwrites beyond holes");

    /* deletes beyond the first bucket: the filter follows */
    for (unsigned i = NSAME - 1; i >= SLOTS; i--) {
        CHECK_RC(shmkv_del(db, p.key[i], strlen(p.key[i])), 0);
        CHECK_EQ_U64(filter_has(p.first), filter_want(db, p.first));
        for (unsigned j = 2; j < i; j++)
            expect_found(db, p.key[j], "after a delete beyond");
    }
    CHECKF(shmkv__bucket_next(db, p.first) == NULL, "the emptied overflow bucket is unlinked");
    CHECK_EQ_U64(filter_has(p.first), 0);
    CHECK_TABLE(db, "overflow emptied");
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static void test_damage(void)
{
    char name[64];
    struct same p;
    shmkv *db = build_same(name, sizeof name, &p);
    const char *k = p.key[NSAME - 1]; /* beyond the first bucket */
    uint64_t was = atomic_load(&p.first->next);
    atomic_store(&p.first->next, link_off(was));
    char buf[64];
    size_t got;
    CHECK_RC(shmkv_get(db, k, strlen(k), buf, sizeof buf, &got), -ENOENT);
    CHECK_RC(shmkv_replace(db, k, strlen(k), "y", 1), -ENOENT);
    for (unsigned i = 0; i < SLOTS; i++) /* the first bucket's keys stay */
        CHECK_RC(shmkv_get(db, p.key[i], strlen(p.key[i]), buf, sizeof buf, &got), 0);
    CHECK_RC(shmkv_check(db, NULL), -EBADMSG);
    CHECK_RC(shmkv_repair(db, NULL), 0);
    CHECK_EQ_U64(filter_has(p.first), link_filter(was));
    for (unsigned i = 0; i < NSAME; i++)
        expect_found(db, p.key[i], "repaired");
    CHECK_TABLE(db, "repaired");
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

#define NGROW 60000

static void test_growth(void)
{
    char name[64];
    shmkv *db = open_new(name, sizeof name, 8u << 20); /* 32 shards of 64 buckets to begin with */
    char k[24];
    for (unsigned i = 0; i < NGROW; i++) {
        snprintf(k, sizeof k, "g%u", i);
        CHECK_RC(shmkv_put(db, k, strlen(k), k, strlen(k)), 0);
    }
    for (unsigned i = 0; i < NGROW; i += 3) {
        snprintf(k, sizeof k, "g%u", i);
        CHECK_RC(shmkv_del(db, k, strlen(k)), 0);
    }
    CHECK_TABLE(db, "grown, a third deleted");
    for (unsigned i = 0; i < NGROW; i += 3) {
        snprintf(k, sizeof k, "g%u", i);
        CHECK_RC(shmkv_add(db, k, strlen(k), k, strlen(k)), 0);
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.keys, NGROW);
    CHECKF(st.splits > 1000, "%llu splits", (unsigned long long)st.splits);
    for (unsigned i = 0; i < NGROW; i++) {
        snprintf(k, sizeof k, "g%u", i);
        char buf[24];
        size_t got = 0;
        CHECKF(shmkv_get(db, k, strlen(k), buf, sizeof buf, &got) == 0 && got == strlen(k), "get %s", k);
        CHECKF(shmkv_add(db, k, strlen(k), "x", 1) == -EEXIST, "add %s", k);
    }
    CHECK_TABLE(db, "put back");
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

#define NSTABLE 10 /* p.key[0..9]: seven in the first bucket, three beyond; the rest churn */
#define RACE_SECONDS (H_ASAN ? 2.0 : 1.5)

static struct {
    shmkv *db;
    struct same p;
    _Atomic int stop;
    _Atomic long misses, reads, adds_wrong, churns;
} race;

static void *race_reader(void *arg)
{
    char buf[64];
    shmkv_item it[NSTABLE];
    for (unsigned round = (unsigned)(uintptr_t)arg; !atomic_load(&race.stop); round++) {
        for (unsigned i = 0; i < NSTABLE; i++) {
            const char *k = race.p.key[i];
            size_t got = 0;
            if (shmkv_get(race.db, k, strlen(k), buf, sizeof buf, &got) || got != strlen(k) || memcmp(buf, k, got))
                atomic_fetch_add(&race.misses, 1);
        }
        if (round % 4 == 0) {
            static _Thread_local char bufs[NSTABLE][64];
            for (unsigned i = 0; i < NSTABLE; i++)
                it[i] = (shmkv_item){.key = race.p.key[i], .klen = strlen(race.p.key[i]), .buf = bufs[i], .cap = 64};
            if (shmkv_get_many(race.db, it, NSTABLE) != NSTABLE)
                atomic_fetch_add(&race.misses, 1);
            for (unsigned i = 0; i < NSTABLE; i++)
                if (it[i].rc || it[i].vlen != it[i].klen)
                    atomic_fetch_add(&race.misses, 1);
        }
        if (round % 8 == 1)
            for (unsigned i = SLOTS; i < NSTABLE; i++)
                if (shmkv_add(race.db, race.p.key[i], strlen(race.p.key[i]), "x", 1) != -EEXIST)
                    atomic_fetch_add(&race.adds_wrong, 1);
        atomic_fetch_add(&race.reads, 1);
    }
    return NULL;
}

static void *race_churner(void *arg)
{
    (void)arg;
    while (!atomic_load(&race.stop)) {
        for (unsigned i = NSTABLE; i < NSAME; i++)
            if (shmkv_del(race.db, race.p.key[i], strlen(race.p.key[i])))
                atomic_fetch_add(&race.adds_wrong, 1);
        for (unsigned i = NSTABLE; i < NSAME; i++)
            if (shmkv_put(race.db, race.p.key[i], strlen(race.p.key[i]), race.p.key[i], strlen(race.p.key[i])))
                atomic_fetch_add(&race.adds_wrong, 1);
        atomic_fetch_add(&race.churns, 1);
    }
    return NULL;
}

static void test_race(void)
{
    char name[64];
    race.db = build_same(name, sizeof name, &race.p);
    atomic_store(&race.stop, 0);
    pthread_t t[3];
    pthread_create(&t[0], NULL, race_churner, NULL);
    for (unsigned i = 1; i < 3; i++)
        pthread_create(&t[i], NULL, race_reader, (void *)(uintptr_t)i);
    h_sleep(RACE_SECONDS);
    atomic_store(&race.stop, 1);
    for (unsigned i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECKF(atomic_load(&race.churns) > 10 && atomic_load(&race.reads) > 10, "%ld churns, %ld reads",
           atomic_load(&race.churns), atomic_load(&race.reads));
    CHECK_EQ_INT(atomic_load(&race.misses), 0);
    CHECK_EQ_INT(atomic_load(&race.adds_wrong), 0);
    CHECK_EQ_U64(filter_has(race.p.first), filter_want(race.db, race.p.first));
    CHECK_TABLE(race.db, "after the race");
    shmkv_close(race.db);
    CHECK_RC(shmkv_unlink(name), 0);
}

#define SR_STABLE 12000u
#define SR_NEW 60000u

static struct {
    shmkv *db, *ro;
    _Atomic int stop;
    _Atomic long compactions, misses, reads, scans, scan_wrong;
} sr;

/* Each split that compacted: counted, and every fourth held a moment
 * (keys in two slots of its chain meanwhile). */
static void sr_stall(int point)
{
    if (point == STALL_SPLIT_COMPACTED && atomic_fetch_add(&sr.compactions, 1) % 4 == 0)
        sched_yield();
}

static void *sr_reader(void *arg)
{
    h_rng r = h_rng_new((uint64_t)(uintptr_t)arg);
    char k[16][24], buf[16][24];
    while (!atomic_load(&sr.stop)) {
        shmkv_item it[16];
        for (unsigned i = 0; i < 16; i++) {
            snprintf(k[i], sizeof k[i], "s%llu", (unsigned long long)h_below(&r, SR_STABLE));
            size_t got = 0;
            if (shmkv_get(sr.db, k[i], strlen(k[i]), buf[i], sizeof buf[i], &got) || got != strlen(k[i]) ||
                memcmp(buf[i], k[i], got))
                atomic_fetch_add(&sr.misses, 1);
            it[i] = (shmkv_item){.key = k[i], .klen = strlen(k[i]), .buf = buf[i], .cap = sizeof buf[i]};
        }
        if (shmkv_get_many(sr.db, it, 16) != 16)
            atomic_fetch_add(&sr.misses, 1);
        atomic_fetch_add(&sr.reads, 32);
    }
    return NULL;
}

struct sr_seen {
    uint8_t stable[SR_STABLE], fresh[SR_NEW];
    long bad;
};

static int sr_note(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct sr_seen *c = ctx;
    char k[24];
    unsigned i;
    if (klen >= sizeof k || vlen != klen || memcmp(key, val, klen)) {
        c->bad++;
        return 0;
    }
    memcpy(k, key, klen);
    k[klen] = 0;
    if (sscanf(k, "s%u", &i) == 1 && i < SR_STABLE)
        c->stable[i]++;
    else if (sscanf(k, "n%u", &i) == 1 && i < SR_NEW)
        c->fresh[i]++;
    else
        c->bad++;
    return 0;
}

static void *sr_scanner(void *arg)
{
    (void)arg;
    static struct sr_seen c;
    while (!atomic_load(&sr.stop)) {
        memset(&c, 0, sizeof c);
        int rc = shmkv_foreach(sr.ro, sr_note, &c);
        long wrong = rc != 0 || c.bad;
        for (unsigned i = 0; i < SR_STABLE; i++)
            wrong += c.stable[i] != 1;
        for (unsigned i = 0; i < SR_NEW; i++)
            wrong += c.fresh[i] > 1;
        atomic_fetch_add(&sr.scan_wrong, wrong);
        atomic_fetch_add(&sr.scans, 1);
    }
    return NULL;
}

static void test_split_race(void)
{
    char name[64], k[24];
    sr.db = open_new(name, sizeof name, 8u << 20); /* 32 shards of 64 buckets: splits from ~10 000 keys */
    shmkv_options rdo = {.flags = SHMKV_RDONLY};
    CHECK_RC(shmkv_open(name, &rdo, &sr.ro), 0);
    for (unsigned i = 0; i < SR_STABLE; i++) {
        snprintf(k, sizeof k, "s%u", i);
        CHECK_RC(shmkv_put(sr.db, k, strlen(k), k, strlen(k)), 0);
    }
    atomic_store(&sr.stop, 0);
    shmkv__stall_set(sr_stall);
    pthread_t t[3];
    for (unsigned i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, sr_reader, (void *)(uintptr_t)(i + 1));
    pthread_create(&t[2], NULL, sr_scanner, NULL);
    for (unsigned i = 0; i < SR_NEW; i++) {
        snprintf(k, sizeof k, "n%u", i);
        CHECK_RC(shmkv_put(sr.db, k, strlen(k), k, strlen(k)), 0);
    }
    atomic_store(&sr.stop, 1);
    for (unsigned i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    shmkv__stall_set(NULL);
    h_note("%ld compactions under %ld reads and %ld scans", atomic_load(&sr.compactions), atomic_load(&sr.reads),
           atomic_load(&sr.scans));
    CHECKF(atomic_load(&sr.compactions) > 500, "%ld compactions", atomic_load(&sr.compactions));
    CHECK(atomic_load(&sr.reads) > 1000 && atomic_load(&sr.scans) > 0);
    CHECK_EQ_INT(atomic_load(&sr.misses), 0);
    CHECK_EQ_INT(atomic_load(&sr.scan_wrong), 0);
    CHECK_EQ_U64(keys_of(sr.db), SR_STABLE + SR_NEW);
    CHECK_TABLE(sr.db, "after splits under readers");
    shmkv_close(sr.ro);
    shmkv_close(sr.db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static const struct h_part parts[] = {
    { "filter", test_filter },
    { "damage", test_damage },
    { "growth", test_growth },
    { "race", test_race },
    { "split_race", test_split_race },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_overflow", parts, H_NPARTS(parts));
}
