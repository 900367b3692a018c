/*
 * torture_writer.c - test_torture's writers (killed at any instant by the
 * killer, test_torture.c) and the helpers that name keys, pick values and
 * compare the table with the writers' log of acknowledged states.
 */
#include "torture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Key i of the current table: "<phase><gen>-<i>", every 16th padded long. */
size_t torture_key_of(char *k, uint32_t gen, int phase, int i)
{
    int n = snprintf(k, 160, "%c%u-%d", phase, gen, i);
    if (i % 16 == 5) {
        memset(k + n, 'x', 120);
        n += 120;
        k[n] = 0;
    }
    return (size_t)n;
}

/* Value length for a write. */
static size_t pick_vlen(h_rng *r, int phase)
{
    unsigned x = (unsigned)h_below(r, 1000);
    if (phase == 'A')
        return x < 990 ? H_VAL_MIN + (size_t)h_below(r, 40) : 200 + (size_t)h_below(r, 1800);
    if (x < 700)
        return H_VAL_MIN + (size_t)h_below(r, 280);
    if (x < 940)
        return 300 + (size_t)h_below(r, 6000);
    if (x < 960) /* around the 32 KiB huge-record threshold */
        return 32768 - 64 + (size_t)h_below(r, 128);
    return 40960 + (size_t)h_below(r, BIG_MAX - 40960);
}

/* Does the table hold (present, seq, vlen) for key i?  1 yes, 0 no. */
int torture_holds(shmkv *db, uint32_t gen, int phase, int i, int present, uint64_t seq,
                  uint64_t vlen, unsigned char *buf, char *desc, size_t dcap)
{
    char k[160];
    size_t kl = torture_key_of(k, gen, phase, i);
    return h_val_holds(db, k, kl, present, seq, vlen, buf, BIG_MAX, desc, dcap);
}

/* The state op leaves behind, given the acknowledged state before it. */
void torture_op_result(uint32_t op, const struct keylog *L, int *present, uint64_t *seq,
                       uint64_t *vlen)
{
    int was = (int)ld32(&L->acked_present);
    int becomes = op == OP_PUT || (op == OP_ADD && !was) || (op == OP_REPLACE && was);
    if (op == OP_DEL) {
        *present = 0;
        *seq = *vlen = 0;
    } else if (becomes) {
        *present = 1;
        *seq = ld64(&L->pend_seq);
        *vlen = ld64(&L->pend_vlen);
    } else {
        *present = was;
        *seq = ld64(&L->acked_seq);
        *vlen = ld64(&L->acked_vlen);
    }
}

void torture_set_acked(struct keylog *L, int present, uint64_t seq, uint64_t vlen)
{
    st64(&L->acked_seq, present ? seq : 0);
    st64(&L->acked_vlen, present ? vlen : 0);
    st32(&L->acked_present, (uint32_t)present);
}

/* After a violation: take what the table holds as the new truth. */
void torture_adopt(shmkv *db, uint32_t gen, int phase, int i, unsigned char *buf)
{
    char k[160];
    size_t kl = torture_key_of(k, gen, phase, i), vl = 0;
    uint64_t seq = 0;
    int rc = shmkv_get(db, k, kl, buf, BIG_MAX, &vl);
    int ok = rc == 0 && h_val_check(buf, vl, k, kl, &seq);
    torture_set_acked(&S->keys[i], ok, seq, vl);
}

void torture_note_lat(double *max, char *what, size_t cap, double dt, const char *op)
{
    if (dt > *max) {
        *max = dt;
        snprintf(what, cap, "%s", op);
    }
}

/* ---- writers --------------------------------------------------------------- */

__attribute__((noreturn)) static void writer(int slot, int serial, uint64_t seed)
{
    const uint32_t gen = S->gen;
    const int phase = S->phase;
    shmkv *db = g_db;
    if (serial % 2) { /* every other writer opens a handle of its own */
        db = NULL;
        int rc = shmkv_open(S->name, NULL, &db);
        if (rc != 0)
            VIOLATION("writer: open returned %s", h_errname(rc));
        if (!db)
            h_child_exit();
    }
    struct wslot *me = &S->w[slot];
    struct wstats *ws = &S->ws[slot];
    const int32_t pid = (int32_t)getpid();
    h_rng r = h_rng_new(seed * 0x9e3779b97f4a7c15ULL + (uint64_t)serial);
    unsigned char *val = malloc(BIG_MAX), *buf = malloc(BIG_MAX);
    char desc[96], k[160];
    for (;;) {
        int i, fresh = 0;
        if (phase == 'A') {
            int32_t nf = __atomic_load_n(&S->next_fresh, __ATOMIC_RELAXED);
            if (h_below(&r, 100) < 85 && nf < MAXKEYS && !__atomic_load_n(&S->full, __ATOMIC_RELAXED)) {
                i = __atomic_fetch_add(&S->next_fresh, 1, __ATOMIC_RELAXED);
                if (i >= MAXKEYS) {
                    __atomic_store_n(&S->full, 1, __ATOMIC_RELAXED);
                    continue;
                }
                fresh = 1;
            } else if (nf > 0) {
                i = (int)h_below(&r, (uint64_t)(nf < MAXKEYS ? nf : MAXKEYS));
            } else {
                continue;
            }
        } else {
            i = (int)h_below(&r, NKEYS_B);
        }
        struct keylog *L = &S->keys[i];
        __atomic_store_n(&me->claiming, i, __ATOMIC_SEQ_CST);
        int32_t zero = 0;
        if (!__atomic_compare_exchange_n(&L->owner, &zero, pid, 0, __ATOMIC_SEQ_CST,
                                         __ATOMIC_RELAXED)) {
            __atomic_store_n(&me->claiming, -1, __ATOMIC_RELAXED);
            continue;
        }
        __atomic_add_fetch(&L->version, 1, __ATOMIC_SEQ_CST);
        int was = (int)ld32(&L->acked_present);
        if (!torture_holds(db, gen, phase, i, was, ld64(&L->acked_seq), ld64(&L->acked_vlen), buf, desc,
                   sizeof desc)) {
            VIOLATION("writer: key %d holds %s; acknowledged: %s seq %llu, %llu bytes", i, desc,
                      was ? "present" : "absent", (unsigned long long)ld64(&L->acked_seq),
                      (unsigned long long)ld64(&L->acked_vlen));
            torture_adopt(db, gen, phase, i, buf);
            was = (int)ld32(&L->acked_present);
        }
        uint32_t op;
        unsigned x = (unsigned)h_below(&r, 100);
        if (fresh)
            op = OP_ADD;
        else if (phase == 'A')
            op = x < 70 ? OP_PUT : OP_DEL;
        else
            op = x < 40 ? OP_PUT : x < 55 ? OP_ADD : x < 70 ? OP_REPLACE : OP_DEL;
        size_t kl = torture_key_of(k, gen, phase, i);
        size_t vl = pick_vlen(&r, phase);
        uint64_t seq = __atomic_add_fetch(&S->seq, 1, __ATOMIC_RELAXED);
        if (op != OP_DEL)
            h_val_make(val, vl, k, kl, seq);
        st64(&L->pend_seq, seq);
        st64(&L->pend_vlen, vl);
        __atomic_store_n(&L->pend_op, op, __ATOMIC_SEQ_CST);

        double t0 = h_now();
        int rc = op == OP_PUT     ? shmkv_put(db, k, kl, val, vl)
               : op == OP_ADD     ? shmkv_add(db, k, kl, val, vl)
               : op == OP_REPLACE ? shmkv_replace(db, k, kl, val, vl)
                                  : shmkv_del(db, k, kl);
        double dt = h_now() - t0;

        int expect_ok = op == OP_PUT || (op == OP_ADD && !was) || (op == OP_REPLACE && was) ||
                        (op == OP_DEL && was);
        int want_err = op == OP_ADD ? -EEXIST : -ENOENT;
        int ok = expect_ok ? rc == 0 || (rc == -ENOSPC && op != OP_DEL) : rc == want_err;
        if (!ok) {
            VIOLATION("writer: %s of key %d (%s, %zu bytes) returned %s", op_names[op], i,
                      was ? "present" : "absent", vl, h_errname(rc));
            torture_adopt(db, gen, phase, i, buf);
        } else if (rc == 0) {
            torture_set_acked(L, op != OP_DEL, seq, vl);
        } else if (rc == -ENOSPC) {
            ws->nospc++;
            ws->nospc_b += phase == 'B';
            if (fresh)
                __atomic_store_n(&S->full, 1, __ATOMIC_RELAXED);
        }
        __atomic_store_n(&L->pend_op, OP_NONE, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&L->version, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&L->owner, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&me->claiming, -1, __ATOMIC_RELAXED);
        ws->ops++;
        ws->ops_b += phase == 'B';
        if (dt > SLOW_NOTE_S)
            h_note("writer: slow %s: %.3f s, phase %c, key %d, %zu bytes, rc %s", op_names[op], dt,
                   phase, i, vl, h_errname(rc));
        torture_note_lat(&ws->max_lat, ws->max_op, sizeof ws->max_op, dt, op_names[op]);
    }
}

void torture_start_writer(int slot, uint64_t seed)
{
    S->w[slot].claiming = -1;
    S->w[slot].serial = g_serial;
    pid_t pid = h_fork();
    if (pid == 0)
        writer(slot, g_serial, seed);
    S->w[slot].pid = pid;
    g_serial++;
}
