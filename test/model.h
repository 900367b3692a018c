/*
 * model.h - the reference model of test_model: what a table must hold
 * after each operation, kept in plain memory by the simplest code that
 * follows the header's contract.
 *
 * Per key: present or not, its value, its expiry instant, its pending
 * lease (token and lapse instant).  Time is the model's own clock, moved
 * only by the test, in whole UNITs, and every lifetime is a whole number
 * of UNITs: the real time a run takes (far less than a UNIT) then never
 * decides whether something has expired (see model_tick).
 *
 * The model counts what the table's stats count: live pairs and bytes,
 * puts (every pair written: put, add, replace, put_ex, incr, append,
 * update SET, put_many, put_leased, expire), dels (present pairs deleted:
 * del, take, update DELETE), expirations (each pair once, when it
 * expires), and leases granted, filled and voided (by a write or delete
 * of the key, a clear, or lapsing).
 */
#ifndef SHMKV_TEST_MODEL_H
#define SHMKV_TEST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define NKEYS 2000
#define KEY_MAX_LEN 40
#define BIG_VAL 20480
#define VAL_CAP (BIG_VAL + 8192)  /* no value grows past this */
#define UNIT (1ull << 20)         /* ms */

struct mkey {
    unsigned char k[KEY_MAX_LEN];
    size_t kl;
    uint64_t h;
    int present;
    size_t vl;
    unsigned char *v;
    uint64_t exp;                 /* model time it expires at; 0: never */
    uint64_t lease, lease_exp;    /* a pending lease's token (0: none) and lapse */
    int seen;                     /* visits of one iteration */
};

struct model {
    struct mkey keys[NKEYS];
    uint32_t by_hash[NKEYS];      /* indexes sorted by hash of key */
    uint64_t now;                 /* ms the test moved the clock by */
    uint64_t count, live, puts, dels, expired;
    uint64_t granted, filled, voided, last_token;
};

extern struct model *M;

/* NKEYS distinct random keys (some with NUL bytes), nothing present. */
void model_init(uint64_t seed);
void model_free(void);
/* The index of a key, or -1. */
int model_find(const void *key, size_t klen);
/* Bring k up to the model's time: an expired pair or lapsed lease goes. */
void model_tick(struct mkey *k);
void model_tick_all(void);
/* The expiry instant of a write with lifetime ttl_ms (0: never). */
uint64_t model_expiry(uint64_t ttl_ms);
/* A pair written (value copied), with expiry exp; voids a lease. */
void model_set(struct mkey *k, const void *v, size_t vl, uint64_t exp);
/* Its lease filled instead. */
void model_fill(struct mkey *k, const void *v, size_t vl, uint64_t exp);
/* A delete of the key: the pair (counted) and any lease go. */
void model_del(struct mkey *k);
/* shmkv_clear: every pair and lease goes. */
void model_clear(void);
/* The value as shmkv_incr reads it: an optional '-', 1 to 19 digits,
 * within int64.  1 and *v if it is one. */
int model_number(const unsigned char *p, size_t n, int64_t *v);

#endif
