/*
 * torture_reader.c - test_torture's readers, never killed: each checks
 * every value it gets against the writers' log (test_torture.c explains
 * the checks), and parks while the killer swaps tables.
 */
#include "torture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- readers ------------------------------------------------------------------ */

int torture_key_id(const struct rctx *c, const void *key, size_t klen)
{
    char k[160];
    if (klen >= sizeof k)
        return -1;
    memcpy(k, key, klen);
    k[klen] = 0;
    char pfx[32];
    int n = snprintf(pfx, sizeof pfx, "%c%u-", c->phase, c->gen);
    if (strncmp(k, pfx, (size_t)n) != 0)
        return -1;
    int i = atoi(k + n);
    return i >= 0 && i < MAXKEYS ? i : -1;
}

/* A value got for key i: valid for its key, and never older than one
 * seen before. */
static void got_value(struct rctx *c, int i, const char *k, size_t kl, const void *v, size_t vl,
                      const char *how)
{
    uint64_t seq = 0;
    if (!h_val_check(v, vl, k, kl, &seq)) {
        if (c->bad++ < 5)
            VIOLATION("reader: %s of key %d gave an invalid value of %zu bytes", how, i, vl);
        return;
    }
    if (seq < c->last[i]) {
        if (c->bad++ < 5)
            VIOLATION("reader: %s of key %d gave seq %llu after seq %llu was seen", how, i,
                      (unsigned long long)seq, (unsigned long long)c->last[i]);
        return;
    }
    c->last[i] = seq;
}

static int reader_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct rctx *c = ctx;
    int i = torture_key_id(c, key, klen);
    c->pairs++;
    if (i < 0) {
        if (c->bad++ < 5)
            VIOLATION("reader: foreach gave a key of %zu bytes not of this table", klen);
        return 0;
    }
    char k[160];
    size_t kl = torture_key_of(k, c->gen, c->phase, i);
    uint64_t seq = 0;
    if (kl != klen || memcmp(k, key, kl) != 0 || !h_val_check(val, vlen, k, kl, &seq)) {
        if (c->bad++ < 5)
            VIOLATION("reader: foreach gave an invalid pair for key %d (%zu bytes)", i, vlen);
    }
    return 0;
}

__attribute__((noreturn)) void torture_reader(int id)
{
    struct rstats *rs = &S->rs[id];
    h_rng r = h_rng_new(0xbeef + (uint64_t)id);
    unsigned char *buf = malloc(BIG_MAX);
    enum { BATCH = 16 };
    unsigned char *bbuf = malloc((size_t)BATCH * BIG_MAX);
    struct rctx c = { .last = calloc(MAXKEYS, sizeof(uint64_t)) };
    shmkv *db = NULL;
    uint32_t gen = 0;
    while (!__atomic_load_n(&S->stop, __ATOMIC_ACQUIRE)) {
        if (!__atomic_load_n(&S->active, __ATOMIC_ACQUIRE)) {
            if (db) {
                shmkv_close(db);
                db = NULL;
            }
            __atomic_store_n(&rs->parked, __atomic_load_n(&S->park_epoch, __ATOMIC_ACQUIRE),
                             __ATOMIC_RELEASE);
            h_sleep(0.0002);
            continue;
        }
        if (!db || gen != S->gen) {
            if (db)
                shmkv_close(db);
            db = NULL;
            gen = S->gen;
            shmkv_options o = { .flags = id == 1 ? SHMKV_RDONLY : 0 };
            int rc = shmkv_open(S->name, &o, &db);
            if (rc != 0) {
                VIOLATION("reader %d: open of %s returned %s", id, S->name, h_errname(rc));
                h_sleep(0.01);
                continue;
            }
            c.gen = gen;
            c.phase = S->phase;
            memset(c.last, 0, MAXKEYS * sizeof(uint64_t));
        }
        int nk = c.phase == 'A' ? __atomic_load_n(&S->next_fresh, __ATOMIC_RELAXED) : NKEYS_B;
        if (nk > MAXKEYS)
            nk = MAXKEYS;
        if (nk <= 0) {
            h_sleep(0.0001);
            continue;
        }
        unsigned kind = (unsigned)h_below(&r, 1000);
        char k[160];
        double t0 = h_now(), dt;
        rs->ops++;
        if (kind < 700) {
            /* one get; exact when nobody held the key meanwhile */
            int i = (int)h_below(&r, (uint64_t)nk);
            struct keylog *L = &S->keys[i];
            size_t kl = torture_key_of(k, gen, c.phase, i), vl = 0;
            uint32_t v1 = __atomic_load_n(&L->version, __ATOMIC_SEQ_CST);
            int32_t o1 = __atomic_load_n(&L->owner, __ATOMIC_SEQ_CST);
            int present = (int)ld32(&L->acked_present);
            uint64_t aseq = ld64(&L->acked_seq), avl = ld64(&L->acked_vlen);
            t0 = h_now();
            int rc = shmkv_get(db, k, kl, buf, BIG_MAX, &vl);
            dt = h_now() - t0;
            torture_note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "get");
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            int quiet = o1 == 0 && __atomic_load_n(&L->owner, __ATOMIC_SEQ_CST) == 0 &&
                        __atomic_load_n(&L->version, __ATOMIC_SEQ_CST) == v1;
            rs->gets++;
            if (rc == 0) {
                rs->found++;
                got_value(&c, i, k, kl, buf, vl, "get");
            } else if (rc != -ENOENT && c.bad++ < 5) {
                VIOLATION("reader %d: get of key %d returned %s", id, i, h_errname(rc));
            }
            if (quiet && (rc == 0 || rc == -ENOENT)) {
                rs->exact++;
                uint64_t seq = 0;
                int same = present ? rc == 0 && vl == avl && h_val_check(buf, vl, k, kl, &seq) &&
                                         seq == aseq
                                   : rc == -ENOENT;
                if (!same && c.bad++ < 5)
                    VIOLATION("reader %d: key %d (not being written) read as %s, %zu bytes; "
                              "acknowledged: %s seq %llu, %llu bytes", id, i, h_errname(rc), vl,
                              present ? "present" : "absent", (unsigned long long)aseq,
                              (unsigned long long)avl);
            }
            continue;
        } else if (kind < 850) {
            shmkv_item it[BATCH];
            char keys[BATCH][160];
            int ids[BATCH];
            for (int j = 0; j < BATCH; j++) {
                ids[j] = (int)h_below(&r, (uint64_t)nk);
                it[j].key = keys[j];
                it[j].klen = torture_key_of(keys[j], gen, c.phase, ids[j]);
                it[j].buf = bbuf + (size_t)j * BIG_MAX;
                it[j].cap = j == 3 ? 100 : BIG_MAX; /* one small buffer: -ENOBUFS */
            }
            t0 = h_now();
            int n = shmkv_get_many(db, it, BATCH);
            dt = h_now() - t0;
            torture_note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "get_many");
            int found = 0;
            for (int j = 0; j < BATCH; j++) {
                rs->gets++;
                if (it[j].rc == 0) {
                    found++;
                    rs->found++;
                    got_value(&c, ids[j], keys[j], it[j].klen, it[j].buf, it[j].vlen,
                              "get_many");
                } else if (it[j].rc != -ENOENT && !(it[j].rc == -ENOBUFS && it[j].vlen > 100) &&
                           c.bad++ < 5) {
                    VIOLATION("reader %d: get_many item returned %s", id, h_errname(it[j].rc));
                }
            }
            if (n != found && c.bad++ < 5)
                VIOLATION("reader %d: get_many returned %d, %d items found", id, n, found);
        } else if (kind < 950) {
            int i = (int)h_below(&r, (uint64_t)nk);
            size_t kl = torture_key_of(k, gen, c.phase, i), vl = 0;
            void *p = NULL;
            t0 = h_now();
            int rc = shmkv_get_alloc(db, k, kl, &p, &vl);
            dt = h_now() - t0;
            torture_note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "get_alloc");
            rs->gets++;
            if (rc == 0) {
                rs->found++;
                got_value(&c, i, k, kl, p, vl, "get_alloc");
                free(p);
            } else if (rc != -ENOENT && c.bad++ < 5) {
                VIOLATION("reader %d: get_alloc returned %s", id, h_errname(rc));
            }
        } else if (kind < 953) {
            uint64_t before = c.pairs;
            t0 = h_now();
            int rc = shmkv_foreach(db, reader_visit, &c);
            dt = h_now() - t0;
            torture_note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "foreach");
            rs->foreach_runs++;
            rs->pairs += c.pairs - before;
            if (dt > SLOW_NOTE_S)
                h_note("reader %d: slow foreach: %.3f s, phase %c, %llu pairs, rc %s", id, dt,
                       c.phase, (unsigned long long)(c.pairs - before), h_errname(rc));
            if (rc == -EAGAIN && id == 1)
                rs->eagain++;
            else if (rc != 0 && c.bad++ < 5)
                VIOLATION("reader %d: foreach returned %s", id, h_errname(rc));
        } else {
            shmkv_stats st;
            t0 = h_now();
            int rc = shmkv_stat(db, &st);
            (void)shmkv_count(db);
            dt = h_now() - t0;
            torture_note_lat(&rs->max_lat, rs->max_op, sizeof rs->max_op, dt, "stat");
            if (rc != 0 && c.bad++ < 5)
                VIOLATION("reader %d: stat returned %s", id, h_errname(rc));
        }
    }
    if (db)
        shmkv_close(db);
    free(c.last);
    free(buf);
    free(bbuf);
    h_child_exit();
}

/* Readers stop using the table (and close it) / start on the new one. */
void torture_park_readers(void)
{
    uint32_t epoch = __atomic_add_fetch(&S->park_epoch, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&S->active, 0, __ATOMIC_SEQ_CST);
    double t0 = h_now();
    for (int id = 0; id < NREADERS; id++)
        while (__atomic_load_n(&S->rs[id].parked, __ATOMIC_ACQUIRE) != epoch) {
            if (h_now() - t0 > 30) {
                CHECKF(0, "reader %d did not park within 30 s", id);
                return;
            }
            h_sleep(0.0002);
        }
}

void torture_unpark_readers(void)
{
    __atomic_store_n(&S->active, 1, __ATOMIC_RELEASE);
}

