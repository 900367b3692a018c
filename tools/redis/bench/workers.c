/*
 * workers.c - what shmkv-redis-bench's processes do (nearbench.h).
 *
 * Every worker draws key ranks from one Zipf distribution; a draw is a
 * write (SET of a new value) with probability write_share, else a read.
 * Writes are pipelined write_depth deep on the worker's data connection
 * in every mode alike (a worker rarely needs its write's answer at once);
 * reads wait for their answer.
 */
#include "nearbench.h"

#include "bench.h"
#include "conn.h"
#include "shmkv-redis.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

const char *const mode_name[NMODES] = {"redis", "local", "shmkv", "refresh"};

/* "k:%06" PRIu64 without sprintf, whose cost in every worker's loop
 * would count against the modes that do the least per read. */
size_t key_text(uint64_t i, char *buf)
{
    char digits[20];
    int n = 0;
    do
        digits[n++] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    while (n < 6)
        digits[n++] = '0';
    buf[0] = 'k';
    buf[1] = ':';
    for (int k = 0; k < n; k++)
        buf[2 + k] = digits[n - 1 - k];
    buf[2 + n] = 0;
    return (size_t)n + 2;
}

size_t value_text(uint64_t i, uint64_t version, size_t bytes, char *buf)
{
    int n = sprintf(buf, "v%" PRIu64 ".%" PRIu64 ".", i, version);
    memset(buf + n, 'x', bytes > (size_t)n ? bytes - (size_t)n : 0);
    return bytes > (size_t)n ? bytes : (size_t)n;
}

static redisContext *connect_to(const char *where)
{
    struct addr a;
    char err[ERR_MAX];
    redisContext *c = addr_parse(where, &a, err, sizeof err) ? NULL : conn_open(&a, 5000, err, sizeof err);
    if (!c) {
        fprintf(stderr, "shmkv-redis-bench: %s\n", err);
        _exit(1);
    }
    return c;
}

/* ---- the data connection: pipelined writes, waited reads -------------------- */

struct data {
    redisContext *c;
    unsigned pending;            /* writes sent whose answers are not read */
};

static int drain_writes(struct data *d)
{
    for (; d->pending; d->pending--) {
        void *r;
        if (redisGetReply(d->c, &r) != REDIS_OK)
            return -1;
        freeReplyObject(r);
    }
    return 0;
}

static int write_key(struct data *d, const char *key, size_t klen, const char *val, size_t vlen, unsigned depth)
{
    redisAppendCommand(d->c, "SET %b %b", key, klen, val, vlen);
    d->pending++;
    return d->pending >= depth ? drain_writes(d) : 0;
}

/* GET, after the answers to the writes before it. */
static redisReply *read_key(struct data *d, const char *key, size_t klen)
{
    void *r = NULL;
    redisAppendCommand(d->c, "GET %b", key, klen);
    if (drain_writes(d) || redisGetReply(d->c, &r) != REDIS_OK)
        return NULL;
    return r;
}

/* ---- the local mode's cache: per key id, and its own invalidations ------------ */

struct local {
    redisContext *inval;         /* subscribed to __redis__:invalidate */
    redisContext *track;         /* CLIENT TRACKING on REDIRECT ... BCAST */
    uint64_t nkeys;
    char **val;
    uint32_t *len, *gen;         /* gen: invalidations of the key so far */
};

static void local_open(struct local *l, const struct setup *s, uint64_t nkeys)
{
    memset(l, 0, sizeof *l);
    l->nkeys = nkeys;
    l->val = calloc(nkeys, sizeof *l->val);
    l->len = calloc(nkeys, sizeof *l->len);
    l->gen = calloc(nkeys, sizeof *l->gen);
    l->inval = connect_to(s->redis);
    l->track = connect_to(s->redis);
    redisReply *id = redisCommand(l->inval, "CLIENT ID");
    redisReply *sub = redisCommand(l->inval, "SUBSCRIBE __redis__:invalidate");
    redisReply *tr = id ? redisCommand(l->track, "CLIENT TRACKING on REDIRECT %lld BCAST", id->integer) : NULL;
    if (!l->val || !l->len || !l->gen || !sub || !tr || tr->type != REDIS_REPLY_STATUS) {
        fprintf(stderr, "shmkv-redis-bench: cannot set up tracking for the local cache\n");
        _exit(1);
    }
    freeReplyObject(id);
    freeReplyObject(sub);
    freeReplyObject(tr);
}

static void local_forget(struct local *l, uint64_t i)
{
    free(l->val[i]);
    l->val[i] = NULL;
    l->gen[i]++;
}

/* "k:000123" -> 123; keys of other shapes are none of ours (nkeys). */
static uint64_t key_id(const char *k, size_t len, char first)
{
    if (len < 3 || k[0] != first || k[1] != ':')
        return UINT64_MAX;
    uint64_t v = 0;
    for (size_t i = 2; i < len; i++)
        v = v * 10 + (uint64_t)(k[i] - '0');
    return v;
}

/* Apply every invalidation that has arrived (without waiting). */
static void local_sync(struct local *l, char first)
{
    struct pollfd p = {.fd = l->inval->fd, .events = POLLIN};
    while (poll(&p, 1, 0) == 1) {
        if (redisBufferRead(l->inval) != REDIS_OK)
            _exit(1);
        void *r;
        while (redisGetReplyFromReader(l->inval, &r) == REDIS_OK && r) {
            redisReply *m = r, *keys = m->elements == 3 ? m->element[2] : NULL;
            if (keys && keys->type == REDIS_REPLY_NIL)
                for (uint64_t i = 0; i < l->nkeys; i++)
                    local_forget(l, i);
            for (size_t k = 0; keys && keys->type == REDIS_REPLY_ARRAY && k < keys->elements; k++) {
                uint64_t i = key_id(keys->element[k]->str, keys->element[k]->len, first);
                if (i < l->nkeys)
                    local_forget(l, i);
            }
            freeReplyObject(r);
        }
    }
}

/* A read through the local cache: 1 hit, 0 miss (filled unless an
 * invalidation of the key came while it was read), -1 error. */
static int local_get(struct local *l, struct data *d, uint64_t i, const char *key, size_t klen, char first)
{
    local_sync(l, first);
    if (l->val[i])
        return 1;
    uint32_t gen = l->gen[i];
    redisReply *r = read_key(d, key, klen);
    if (!r)
        return -1;
    local_sync(l, first);
    if (r->type == REDIS_REPLY_STRING && gen == l->gen[i] && (l->val[i] = malloc(r->len ? r->len : 1))) {
        memcpy(l->val[i], r->str, r->len);
        l->len[i] = (uint32_t)r->len;
    }
    freeReplyObject(r);
    return 0;
}

/* ---- a worker ------------------------------------------------------------------ */

static shmkv_redis *near_open(const struct setup *s, shmkv *db)
{
    shmkv_redis *nr;
    if (shmkv_redis_open(db, s->redis, NULL, &nr)) {
        fprintf(stderr, "shmkv-redis-bench: shmkv_redis_open failed\n");
        _exit(1);
    }
    return nr;
}

void worker_main(const struct setup *s, enum mode m, int w, shmkv *db, struct nb_shared *sh)
{
    struct data d = {connect_to(s->redis), 0};
    struct local l;
    shmkv_redis *nr = MODE_NEAR(m) ? near_open(s, db) : NULL;
    if (m == MODE_LOCAL)
        local_open(&l, s, s->nkeys);
    size_t heap0 = mallinfo2().uordblks;
    struct zipf z;
    struct rng g;
    zipf_init(&z, s->nkeys, s->zipf_s);
    rng_seed(&g, 0x9e3779b97f4a7c15ull * (uint64_t)(w + 1));
    uint64_t reads = 0, hits = 0, writes = 0, version = 0;
    int measuring = 0, failed = 0;
    char key[32], val[4096];
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed) && !failed) {
        if (!measuring && atomic_load_explicit(&sh->go, memory_order_relaxed)) {
            measuring = 1;
            reads = hits = writes = 0;
        }
        uint64_t i = zipf_draw(&z, &g) - 1;
        size_t klen = key_text(i, key);
        if (rng_unit(&g) < s->write_share) {
            size_t vlen = value_text(i, ++version * NB_MAX_WORKERS + (uint64_t)w, s->value_bytes, val);
            failed = write_key(&d, key, klen, val, vlen, s->write_depth) != 0;
            writes++;
            continue;
        }
        int hit = 0;
        if (m == MODE_REDIS) {
            redisReply *r = read_key(&d, key, klen);
            failed = !r;
            freeReplyObject(r);
        } else if (m == MODE_LOCAL) {
            hit = local_get(&l, &d, i, key, klen, 'k');
            failed = hit < 0;
        } else {
            void *v;
            size_t vlen;
            int src, rc = shmkv_redis_get(nr, key, klen, &v, &vlen, &src);
            failed = rc != 0;
            hit = src == SHMKV_REDIS_FROM_TABLE;
            free(v);
        }
        reads++;
        hits += hit > 0;
    }
    sh->w[w].reads = reads;
    sh->w[w].hits = hits;
    sh->w[w].writes = writes;
    sh->w[w].failed = failed;
    sh->w[w].cache_bytes = m == MODE_LOCAL ? mallinfo2().uordblks - heap0 + s->nkeys * 16 : 0;
    shmkv_redis_close(nr);
    _exit(failed);
}

/* ---- the staleness prober ------------------------------------------------------- */

/* Is the probe key (id i, text key) cached, and with value old (NULL:
 * any value)? */
static int still_cached(enum mode m, struct local *l, shmkv *db, uint64_t i, const char *key, size_t klen,
                        const char *old)
{
    char buf[64];
    size_t len;
    if (m == MODE_LOCAL) {
        local_sync(l, 'p');
        return l->val[i] && (!old || (l->len[i] == strlen(old) && !memcmp(l->val[i], old, l->len[i])));
    }
    int rc = shmkv_get(db, key, klen, buf, sizeof buf, &len);
    return (rc == 0 && (!old || (len == strlen(old) && !memcmp(buf, old, len)))) || (rc == -ENOBUFS && !old);
}

/* The probe key's cached value, as a string in out ("" if none). */
static void cached_value(enum mode m, struct local *l, shmkv *db, uint64_t i, const char *key, size_t klen,
                         char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    if (m == MODE_LOCAL) {
        local_sync(l, 'p');
        if (l->val[i] && l->len[i] < cap)
            memcpy(out, l->val[i], len = l->len[i]);
    } else if (shmkv_get(db, key, klen, out, cap - 1, &len)) {
        len = 0;
    }
    out[len] = 0;
}

void prober_main(const struct setup *s, enum mode m, shmkv *db, struct nb_shared *sh)
{
    prctl(PR_SET_TIMERSLACK, 1ul); /* its naps are 20 us, not 70 */
    struct data d = {connect_to(s->redis), 0};
    struct local l;
    shmkv_redis *nr = MODE_NEAR(m) ? near_open(s, db) : NULL;
    if (m == MODE_LOCAL)
        local_open(&l, s, PROBE_KEYS);
    char key[32], val[64];
    for (uint64_t n = 0; !atomic_load(&sh->stop); n++) {
        uint64_t i = n % PROBE_KEYS;
        size_t klen = (size_t)sprintf(key, "p:%02" PRIu64, i);
        /* cached first (a fill can lose its lease to the last write's invalidation) */
        for (int tries = 0; tries < 100 && !still_cached(m, &l, db, i, key, klen, NULL); tries++) {
            void *v = NULL;
            size_t vlen;
            if (m == MODE_LOCAL)
                local_get(&l, &d, i, key, klen, 'p');
            else
                shmkv_redis_get(nr, key, klen, &v, &vlen, NULL);
            free(v);
        }
        char old[64] = "";
        cached_value(m, &l, db, i, key, klen, old, sizeof old);
        size_t vlen = (size_t)sprintf(val, "probe-%" PRIu64, n);
        redisReply *r = redisCommand(d.c, "SET %b %b", key, klen, val, vlen);
        uint64_t acked = mono_ns();
        freeReplyObject(r);
        while (still_cached(m, &l, db, i, key, klen, old[0] ? old : NULL) && mono_ns() - acked < 2000000000u)
            nanosleep(&(struct timespec){0, 20000}, NULL);
        double ms = (double)(mono_ns() - acked) / 1e6;
        unsigned k = atomic_fetch_add(&sh->nprobes, 1);
        if (atomic_load(&sh->go) && k < MAX_PROBES)
            sh->probe_ms[k] = ms;
        else
            atomic_fetch_sub(&sh->nprobes, 1);
        nanosleep(&(struct timespec){0, (long)(s->probe_every_s * 1e9)}, NULL);
    }
    shmkv_redis_close(nr);
    _exit(0);
}
