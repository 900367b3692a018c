/*
 * hostile_build.c - the table test_hostile damages, and where its
 * structures lie (see hostile.h).
 *
 * A few hundred pairs: plain ones, ones that live an hour, ones already
 * expired, huge values (a run each) and values chained over several runs
 * (made by filling the table with mid-sized values and deleting every
 * other one, so that no single free run is big enough).  Shard S gets one
 * of everything: closed and open log runs, a huge and a chained value, an
 * overflow chain (keys picked to share a bucket) and a deferred run (a
 * run released while a writer stopped holding the allocator's lock).
 */
#include "hostile.h"

#include "alloc.h"
#include "format.h"
#include "handle.h"
#include "hash.h"
#include "index.h"
#include "fault.h"
#include "shard.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_INDEX 1u              /* shard S */
#define TTL_LONG 3600000u       /* an hour: outlives the test */

struct builder {
    struct htable *t;
    shmkv *db;
    unsigned char *val;
    uint64_t mid;               /* mid-sized value: holes of one such are too small for a chain */
};

static uint64_t key_hash(shmkv *db, const char *k, size_t kl) { return shmkv__hash64(k, kl, db->seed0, db->seed1); }
static struct shard *key_shard(shmkv *db, const char *k, size_t kl) { return shard_of(db, key_hash(db, k, kl)); }

static uint64_t key_bucket(shmkv *db, const char *k, size_t kl)
{
    struct shard *s = key_shard(db, k, kl);
    return shmkv__bucket_for(atomic_load(&s->layout), db->base_bits, key_hash(db, k, kl) & TAG_MASK);
}

/* Store a pair and remember it; returns its index, or -1. */
static int add(struct builder *b, const char *key, uint32_t vlen, uint8_t kind)
{
    struct htable *t = b->t;
    if (t->npairs == HPAIRS_MAX)
        return -1;
    struct hpair *p = &t->pairs[t->npairs];
    p->klen = (uint8_t)snprintf(p->key, sizeof p->key, "%s", key);
    p->kind = kind;
    p->vlen = vlen;
    h_val_make(b->val, vlen, p->key, p->klen, 1);
    uint64_t ttl = kind == HP_TTL ? TTL_LONG : kind == HP_SHORT ? 1 : 0;
    int rc = shmkv_put_ttl(b->db, p->key, p->klen, b->val, vlen, ttl);
    CHECKF(rc == 0, "building: put of %s (%u bytes): %s", p->key, (unsigned)vlen, h_errname(rc));
    return rc ? -1 : (int)t->npairs++;
}

/* The next key "<prefix><n>" of shard S (and of bucket, unless UINT64_MAX). */
static void key_in_s(shmkv *db, const char *prefix, unsigned *n, uint64_t bucket, char *k, size_t cap)
{
    for (;; ++*n) {
        size_t kl = (size_t)snprintf(k, cap, "%s%u", prefix, *n);
        if (key_shard(db, k, kl) == &db->shards[S_INDEX] && (bucket == UINT64_MAX || key_bucket(db, k, kl) == bucket)) {
            ++*n;
            return;
        }
    }
}

static unsigned log_runs(shmkv *db, struct shard *s)
{
    unsigned n = 0;
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next)
        n += run_at(db, ro)->kind == RUN_LOG;
    return n;
}

/* Shard S: plain pairs until it has a closed log run, a pair with a
 * lifetime, two huge values, keys enough to overflow one bucket. */
static void fill_s(struct builder *b)
{
    shmkv *db = b->db;
    struct shard *s = &db->shards[S_INDEX];
    char k[16];
    unsigned n = 0, first = b->t->npairs;
    for (int i = 0; i < 400 && log_runs(db, s) < 2; i++) {
        key_in_s(db, "s", &n, UINT64_MAX, k, sizeof k);
        add(b, k, b->t->cache ? 20000 : 400, HP_PLAIN);
    }
    CHECKF(log_runs(db, s) >= 2, "building: shard S has %u log runs", log_runs(db, s));
    b->t->probe[0] = first;
    key_in_s(db, "u", &n, UINT64_MAX, k, sizeof k);
    b->t->probe[1] = (unsigned)add(b, k, 100, HP_TTL);
    for (int i = 0; i < 2; i++) {
        key_in_s(db, "g", &n, UINT64_MAX, k, sizeof k);
        int p = add(b, k, (uint32_t)db->huge_min * 2, HP_HUGE);
        if (i == 0)
            b->t->probe[2] = (unsigned)p;
    }
    const struct hpair *anchor = &b->t->pairs[first];
    uint64_t bucket = key_bucket(db, anchor->key, anchor->klen);
    for (unsigned i = 0; i < SLOTS + 2; i++) {
        key_in_s(db, "o", &n, bucket, k, sizeof k);
        add(b, k, 40, HP_PLAIN);
    }
}

/* Mid-sized values until the table is full (a store: -ENOSPC; a cache,
 * which evicts rather than fail: the file may grow no more, by
 * RLIMIT_FSIZE), every other one deleted, then two values bigger than any
 * hole: chained.  Returns the first chained pair. */
static unsigned fill_and_chain(struct builder *b)
{
    shmkv *db = b->db;
    struct htable *t = b->t;
    struct rlimit was, lim;
    getrlimit(RLIMIT_FSIZE, &was);
    lim = was;
    lim.rlim_cur = atomic_load(&db->hdr->file_size) + (3u << 19);
    if (t->cache)
        setrlimit(RLIMIT_FSIZE, &lim);
    unsigned first = t->npairs;
    for (int i = 0; i < 1000 && t->npairs + 8 < HPAIRS_MAX; i++) {
        if (t->cache && atomic_load(&db->hdr->top) + 2 * b->mid > lim.rlim_cur)
            break;
        struct hpair *p = &t->pairs[t->npairs];
        p->klen = (uint8_t)snprintf(p->key, sizeof p->key, "m%03d", i);
        p->kind = HP_HUGE;
        p->vlen = (uint32_t)b->mid;
        h_val_make(b->val, b->mid, p->key, p->klen, 1);
        int rc = shmkv_put(db, p->key, p->klen, b->val, b->mid);
        if (rc == -ENOSPC)
            break;
        CHECK_RC(rc, 0);
        t->npairs += rc == 0;
    }
    unsigned kept = first;
    for (unsigned i = first; i < t->npairs; i++) {
        if ((i - first) % 2 == 0)
            CHECK_RC(shmkv_del(db, t->pairs[i].key, t->pairs[i].klen), 0);
        else
            t->pairs[kept++] = t->pairs[i];
    }
    t->npairs = kept;
    unsigned n = 0, chain = t->npairs;
    char k[16];
    uint64_t sizes[2] = {5 * b->mid + 7, 7 * b->mid};
    for (int i = 0; i < 2; i++) {
        key_in_s(db, "c", &n, UINT64_MAX, k, sizeof k);
        add(b, k, (uint32_t)sizes[i], HP_CHAIN);
    }
    setrlimit(RLIMIT_FSIZE, &was);
    return chain;
}

/* Release huge value p (of shard S) while another process is stopped
 * holding the allocator's lock: the run goes on S's deferred list.  Then
 * the stopped writer is killed and its locks recovered, S's left alone. */
static void defer_one(struct builder *b, unsigned p)
{
    shmkv *db = b->db;
    char k[16];
    size_t kl;
    for (unsigned n = 0;; n++)
        if (key_shard(db, k, kl = (size_t)snprintf(k, sizeof k, "z%u", n)) == &db->shards[0])
            break;
    pid_t pid = h_fork();
    if (pid == 0) {
        shmkv__pause_arm(PAUSE_ALLOC_LOCKED, 0);
        shmkv_put(db, k, kl, b->val, db->huge_min * 2); /* stops inside */
        h_child_exit();
    }
    int st;
    CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
    CHECK_RC(shmkv_del(db, b->t->pairs[p].key, b->t->pairs[p].klen), 0);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    CHECK_RC(shmkv__shard_lock(db, &db->shards[0]), 0);
    shmkv__shard_unlock(&db->shards[0]);
    CHECK_RC(shmkv__alloc_lock(db), 0);
    shmkv__alloc_unlock(db);
    b->t->pairs[p] = b->t->pairs[--b->t->npairs];
    CHECKF(db->shards[S_INDEX].deferred != 0, "building: no deferred run in shard S");
}

/* Where a key's slot is (0: not found). */
static uint64_t slot_of(shmkv *db, const struct hpair *p)
{
    uint64_t h = key_hash(db, p->key, p->klen);
    struct found f;
    if (shmkv__index_find(db, shard_of(db, h), h & TAG_MASK, p->key, p->klen, NULL, &f) || !f.slot)
        return 0;
    return off_of(db, f.slot);
}

static uint64_t rec_of(shmkv *db, uint64_t slot)
{
    return slot ? slot_off(atomic_load((_Atomic uint64_t *)at(db, slot))) : 0;
}

static uint64_t first_run(shmkv *db, struct shard *s, uint32_t kind, uint64_t not)
{
    for (uint64_t ro = s->runs; ro; ro = run_at(db, ro)->next)
        if (run_at(db, ro)->kind == kind && ro != not)
            return ro;
    return 0;
}

static void locate(struct htable *t, shmkv *db)
{
    struct hloc *a = &t->at;
    struct shard *s = &db->shards[S_INDEX], *o = &db->shards[0];
    a->shard = off_of(db, s);
    a->other_shard = off_of(db, o);
    a->log_open = s->open_run;
    a->log_closed = first_run(db, s, RUN_LOG, s->open_run);
    a->slot_plain = slot_of(db, &t->pairs[t->probe[0]]);
    a->slot_ttl = slot_of(db, &t->pairs[t->probe[1]]);
    a->slot_huge = slot_of(db, &t->pairs[t->probe[2]]);
    a->slot_chain = slot_of(db, &t->pairs[t->probe[3]]);
    a->rec_plain = rec_of(db, a->slot_plain);
    a->rec_ttl = rec_of(db, a->slot_ttl);
    a->rec_huge = rec_of(db, a->slot_huge);
    a->rec_chain = rec_of(db, a->slot_chain);
    a->rec_other = rec_of(db, slot_of(db, &t->pairs[t->probe[4]]));
    a->huge = a->rec_huge - RUN_HDR;
    a->chain_head = a->rec_chain - RUN_HDR;
    a->chain_piece = run_at(db, a->chain_head)->chain;
    a->index_run = atomic_load(&s->dir[0]) - RUN_HDR;
    a->defer_run = s->deferred;
    a->other_log = o->open_run ? o->open_run : first_run(db, o, RUN_LOG, 0);
    a->other_index = atomic_load(&o->dir[0]) - RUN_HDR;
    a->home_bucket = a->slot_plain & ~(uint64_t)(BUCKET_BYTES - 1);
    a->ov_bucket = link_off(atomic_load(&((struct bucket *)at(db, a->home_bucket))->next));
    a->ov_free = s->ov_free;
    for (unsigned i = 0; i < t->npairs && !a->slot_ov; i++) {
        uint64_t sl = slot_of(db, &t->pairs[i]);
        if (sl && a->ov_bucket && (sl & ~(uint64_t)(BUCKET_BYTES - 1)) == a->ov_bucket)
            a->slot_ov = sl;
    }
    for (unsigned c = 0; c < NCLASS; c++) {
        if (db->hdr->free_head[c] && !a->free_run) {
            a->free_run = db->hdr->free_head[c];
            a->free_class = c;
        } else if (!db->hdr->free_head[c]) {
            a->empty_class = c;
        }
    }
    uint64_t need[] = {a->log_open, a->log_closed, a->huge, a->chain_head, a->chain_piece, a->free_run,
                       a->defer_run, a->other_log, a->ov_bucket, a->ov_free, a->slot_ov, a->rec_other};
    for (unsigned i = 0; i < sizeof need / sizeof need[0]; i++)
        CHECKF(need[i] != 0, "building (%s): structure %u of the list not found", t->cache ? "cache" : "store", i);
    CHECKF(rec_of(db, a->slot_chain) && (((struct rec *)at(db, a->rec_chain))->dist & REC_CHAIN),
           "building: the chained pair is not chained");
}

/* Drop from the list the pairs the build evicted (a cache). */
static void prune(struct htable *t, shmkv *db)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < t->npairs; i++) {
        size_t vl;
        int rc = shmkv_get(db, t->pairs[i].key, t->pairs[i].klen, NULL, 0, &vl);
        if (rc != -ENOENT || t->pairs[i].kind == HP_SHORT)
            t->pairs[kept++] = t->pairs[i];
        for (unsigned p = 0; p < 5; p++)
            if (t->probe[p] == i)
                t->probe[p] = kept - 1;
    }
    t->npairs = kept;
}

/* The image with one run allocated and dropped (referenced by nothing). */
static unsigned char *leak_image(const struct htable *t)
{
    char path[PATH_MAX];
    h_path(path, sizeof path, "hostile-leak");
    CHECK(h_write_file(path, t->image, t->len) == 0);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(path, NULL, &db), 0);
    uint64_t off;
    if (db)
        CHECK_RC(shmkv__run_alloc(db, 2, RUN_LOG, S_INDEX, false, &off), 0);
    shmkv_close(db);
    size_t len = 0;
    unsigned char *img = h_read_file(path, &len);
    CHECK(img && len == t->len);
    unlink(path);
    return img;
}

void hostile_build(struct htable *t, bool cache)
{
    memset(t, 0, sizeof *t);
    t->cache = cache;
    char path[PATH_MAX];
    h_path(path, sizeof path, cache ? "hostile-cache" : "hostile-store");
    shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_EXCL | (cache ? SHMKV_CACHE : 0),
                       .max_bytes = cache ? 8u << 20 : 1u << 20};
    struct builder b = {.t = t, .val = malloc(1u << 20), .mid = cache ? 40000 : 20480};
    CHECK_RC(shmkv_open(path, &o, &b.db), 0);
    if (!b.db || !b.val)
        return;
    shmkv *db = b.db;
    char k[16];
    for (unsigned i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "k%03u", i);
        int p = add(&b, k, 24 + (i * 37) % 300, HP_PLAIN);
        if (p >= 0 && key_shard(db, k, strlen(k)) == &db->shards[0])
            t->probe[4] = (unsigned)p;
    }
    for (unsigned i = 0; i < 40; i++) {
        snprintf(k, sizeof k, "t%02u", i);
        add(&b, k, 24 + i * 5, HP_TTL);
    }
    for (unsigned i = 0; i < 5; i++) {
        snprintf(k, sizeof k, "x%u", i);
        add(&b, k, 50, HP_SHORT);
    }
    fill_s(&b);
    t->probe[3] = fill_and_chain(&b);
    CHECK_TABLE(db, "the table test_hostile damages");
    defer_one(&b, t->probe[2] + 1); /* the second huge value of S */
    prune(t, db);
    t->shards_off = db->hdr->shards_off;
    t->data_off = db->data_off;
    t->nshards = (unsigned)nshards(db);
    locate(t, db);
    shmkv_close(db);
    free(b.val);
    /* sound as built (a read-only check: a writer's lock would drain the deferred run) */
    o.flags = SHMKV_RDONLY;
    CHECK_RC(shmkv_open(path, &o, &db), 0);
    if (db)
        CHECK_TABLE(db, "the table with a deferred run");
    shmkv_close(db);
    t->image = h_read_file(path, &t->len);
    CHECK(t->image != NULL);
    unlink(path);
    if (t->image)
        t->leak_image = leak_image(t);
}

void hostile_free(struct htable *t)
{
    free(t->image);
    free(t->leak_image);
    t->image = t->leak_image = NULL;
}
