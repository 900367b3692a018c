/*
 * torture.h - what test_torture's processes share: the writers' log of
 * every key (struct shared, in memory all of them map), the readers'
 * context, and the helpers the killer, the writers and the readers all
 * use.  test_torture.c explains the test; torture_writer.c holds the
 * writers and the key helpers, torture_reader.c the readers.
 */
#ifndef SHMKV_TEST_TORTURE_H
#define SHMKV_TEST_TORTURE_H

#include "harness.h"

#include <stddef.h>
#include <stdint.h>

#define NWRITERS 4
#define NREADERS 2
#define MAXKEYS 50000          /* keys of one table (phase A fills up below) */
#define NKEYS_B 2000           /* keys of the churn phase */
#define BIG_MAX (128 * 1024)
#define TABLE_A (2u << 20)
#define TABLE_B (8u << 20)
#define MAX_OP_S 1.0
#define SLOW_NOTE_S 0.25       /* operations this slow are noted as they happen */
#define CHECK_EVERY 100        /* kills between checks while writers run */
#define VERIFY_EVERY 300       /* kills between full (quiesced) verifications */
#define ROUND_KILLS 100        /* most kills of one insert round */

enum { OP_NONE = 0, OP_PUT, OP_ADD, OP_REPLACE, OP_DEL };
static const char *const op_names[] __attribute__((unused)) = { "none", "put", "add", "replace", "del" };

struct keylog {
    int32_t owner;            /* pid holding the key, 0: free (CAS) */
    uint32_t version;         /* bumped when claimed and when released */
    uint32_t pend_op;         /* OP_*: the operation in flight */
    uint32_t acked_present;
    uint64_t pend_seq, pend_vlen;
    uint64_t acked_seq, acked_vlen;
};

struct wslot {
    int32_t pid;
    int32_t claiming;         /* key being claimed or held, -1: none */
    int serial;
};

struct wstats {               /* per writer slot, summed over its writers */
    uint64_t ops, nospc, ops_b, nospc_b;
    double max_lat;
    char max_op[24];
};

struct rstats {
    uint64_t ops, gets, found, exact, foreach_runs, eagain, pairs;
    double max_lat;
    char max_op[24];
    uint32_t parked;          /* the park_epoch this reader has parked for */
};

struct shared {
    char name[128];
    int active;               /* readers may use the table named above */
    uint32_t park_epoch;      /* bumped by every torture_park_readers() */
    uint32_t gen;             /* bumped for every new table */
    int phase;                /* 'A' or 'B' */
    int nkeys;                /* keys in play (phase B); phase A: next_fresh */
    int32_t next_fresh;       /* phase A: next key id to insert */
    int full;                 /* phase A: an insert got -ENOSPC */
    int stop;                 /* readers exit */
    uint64_t seq;
    uint64_t violations;
    struct wslot w[NWRITERS];
    struct wstats ws[NWRITERS];
    struct rstats rs[NREADERS];
    struct keylog keys[MAXKEYS];
};

struct rctx {
    uint32_t gen;
    int phase;
    uint64_t *last;           /* per key: highest seq seen */
    uint64_t pairs, bad;
};

extern struct shared *S; /* mapped by every process: the log and the figures */
extern shmkv *g_db;      /* the killer's handle on the current table (writers inherit it) */
extern int g_serial;     /* writers started so far */

#define VIOLATION(...)                                                     \
    do {                                                                   \
        __atomic_add_fetch(&S->violations, 1, __ATOMIC_RELAXED);           \
        CHECKF(0, __VA_ARGS__);                                            \
    } while (0)

static inline uint64_t ld64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline uint32_t ld32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void st64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline void st32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/* torture_writer.c */
size_t torture_key_of(char *k, uint32_t gen, int phase, int i);
int torture_holds(shmkv *db, uint32_t gen, int phase, int i, int present, uint64_t seq, uint64_t vlen,
                  unsigned char *buf, char *desc, size_t dcap);
void torture_op_result(uint32_t op, const struct keylog *L, int *present, uint64_t *seq, uint64_t *vlen);
void torture_set_acked(struct keylog *L, int present, uint64_t seq, uint64_t vlen);
void torture_adopt(shmkv *db, uint32_t gen, int phase, int i, unsigned char *buf);
void torture_note_lat(double *max, char *what, size_t cap, double dt, const char *op);
void torture_start_writer(int slot, uint64_t seed);

/* torture_reader.c */
int torture_key_id(const struct rctx *c, const void *key, size_t klen);
__attribute__((noreturn)) void torture_reader(int id);
void torture_park_readers(void);
void torture_unpark_readers(void);

#endif
