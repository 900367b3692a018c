/*
 * cluster.c - key slots and cluster topology (cluster.h).
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned crc16(const unsigned char *p, size_t n)
{
    unsigned crc = 0;
    while (n--) {
        crc ^= (unsigned)*p++ << 8;
        for (int i = 0; i < 8; i++)
            crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    return crc & 0xffff;
}

unsigned key_slot(const void *key, size_t klen)
{
    const unsigned char *k = key;
    /* the part between the first '{' and the next '}', if not empty */
    const unsigned char *open = memchr(k, '{', klen);
    if (open) {
        size_t rest = klen - (size_t)(open - k) - 1;
        const unsigned char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) % SLOTS;
    }
    return crc16(k, klen) % SLOTS;
}

/* The node of a CLUSTER SLOTS entry: [ip, port, id, ...]; 0 or -1. */
static int node_parse(const redisReply *e, struct master *m)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_INTEGER || e->element[0]->len >= sizeof m->addr.host)
        return -1;
    memset(m, 0, sizeof *m);
    memcpy(m->addr.host, e->element[0]->str, e->element[0]->len);
    m->addr.port = (int)e->element[1]->integer;
    if (e->elements >= 3 && e->element[2]->type == REDIS_REPLY_STRING &&
        e->element[2]->len < sizeof m->id)
        memcpy(m->id, e->element[2]->str, e->element[2]->len);
    return 0;
}

static int same_master(const struct master *a, const struct master *b)
{
    return !strcmp(a->id, b->id) && !strcmp(a->addr.host, b->addr.host) && a->addr.port == b->addr.port;
}

static int master_index(struct topo *t, const struct master *m)
{
    for (int i = 0; i < t->nmasters; i++)
        if (same_master(&t->masters[i], m))
            return i;
    if (t->nmasters == TOPO_MAX_MASTERS)
        return -1;
    t->masters[t->nmasters] = *m;
    return t->nmasters++;
}

static void note_known(struct topo *t, const struct addr *a)
{
    for (int i = 0; i < t->nknown; i++)
        if (!strcmp(t->known[i].host, a->host) && t->known[i].port == a->port)
            return;
    if (t->nknown < (int)(sizeof t->known / sizeof t->known[0]))
        t->known[t->nknown++] = *a;
}

static int by_lo(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int topo_parse(const redisReply *r, struct topo *t, char *err, size_t n)
{
    memset(t, 0, sizeof *t);
    if (reply_expect(r, REDIS_REPLY_ARRAY, "CLUSTER SLOTS", err, n))
        return -1;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        struct master m;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || node_parse(e->element[2], &m) ||
            e->element[0]->integer < 0 || e->element[1]->integer >= SLOTS ||
            e->element[0]->integer > e->element[1]->integer) {
            snprintf(err, n, "CLUSTER SLOTS: an entry of an unknown form");
            return -1;
        }
        int mi = master_index(t, &m);
        if (mi < 0 || t->nranges == TOPO_MAX_RANGES) {
            snprintf(err, n, "CLUSTER SLOTS: more masters or ranges than shmkv-redis handles");
            return -1;
        }
        t->ranges[t->nranges].lo = (unsigned)e->element[0]->integer;
        t->ranges[t->nranges].hi = (unsigned)e->element[1]->integer;
        t->ranges[t->nranges++].master = mi;
        for (size_t j = 2; j < e->elements; j++)
            if (node_parse(e->element[j], &m) == 0)
                note_known(t, &m.addr);
    }
    if (!t->nmasters) {
        snprintf(err, n, "CLUSTER SLOTS: no slot is served");
        return -1;
    }
    qsort(t->ranges, (size_t)t->nranges, sizeof t->ranges[0], by_lo);
    return 0;
}

int topo_fetch(redisContext *c, struct topo *t, char *err, size_t n)
{
    redisReply *r = conn_words(c, "CLUSTER SLOTS", err, n);
    if (!r)
        return -1;
    int rc = topo_parse(r, t, err, n);
    freeReplyObject(r);
    return rc;
}

static const struct master *range_master(const struct topo *t, int i)
{
    return &t->masters[t->ranges[i].master];
}

int topo_equal(const struct topo *a, const struct topo *b)
{
    if (a->nranges != b->nranges)
        return 0;
    for (int i = 0; i < a->nranges; i++) {
        const struct master *x = range_master(a, i), *y = range_master(b, i);
        if (a->ranges[i].lo != b->ranges[i].lo || a->ranges[i].hi != b->ranges[i].hi || !same_master(x, y))
            return 0;
    }
    return 1;
}

static int has_master(const struct topo *t, const struct master *m)
{
    for (int i = 0; i < t->nmasters; i++)
        if (same_master(&t->masters[i], m))
            return 1;
    return 0;
}

int topo_same_masters(const struct topo *a, const struct topo *b)
{
    if (a->nmasters != b->nmasters)
        return 0;
    for (int i = 0; i < a->nmasters; i++)
        if (!has_master(b, &a->masters[i]))
            return 0;
    return 1;
}

int topo_master_of(const struct topo *t, unsigned slot)
{
    int lo = 0, hi = t->nranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (slot < t->ranges[mid].lo)
            hi = mid - 1;
        else if (slot > t->ranges[mid].hi)
            lo = mid + 1;
        else
            return t->ranges[mid].master;
    }
    return -1;
}
