/*
 * atomic_work.h - the work of the atomicity tests, shared by test_atomic
 * (many processes of many threads) and test_atomic_threads (threads of
 * one process, the ThreadSanitizer target): counters incremented with
 * shmkv_incr and with compare-and-swap loops, rounds of concurrent
 * shmkv_take of one key, rounds of concurrent lease requests.
 *
 * Every increment's result is recorded in a bitmap in shared memory, so a
 * value handed out twice (two increments that saw the same old value, or
 * one applied twice) is caught where it happens, and the final count is
 * checked against both the number of increments and the bitmap.
 *
 * A game's rounds are driven by one participant (the driver: the parent
 * process or the main thread) and played by the others.
 */
#ifndef SHMKV_TEST_ATOMIC_WORK_H
#define SHMKV_TEST_ATOMIC_WORK_H

#include "harness.h"

#include <errno.h>
#include <stdint.h>

#define NCOUNTERS 8

/* rc = call, again while it returns -ETIMEDOUT (up to 30 times).  A
 * writer gives up waiting for a lock after a second (as documented) if its
 * holder is alive but not running; a machine loaded far beyond its cores
 * can leave a holder descheduled that long.  These tests are about
 * atomicity, test_kill about waiting times: a write that timed out changed
 * nothing, and is made again. */
#define RETRY_TIMEDOUT(rc, call)                                           \
    do {                                                                   \
        int tries_ = 0;                                                    \
        while (((rc) = (call)) == -ETIMEDOUT && tries_++ < 30)             \
            note_timeout();                                                \
    } while (0)
void note_timeout(void);

/* The results handed out per key (values 1 .. cap-1), in shared memory. */
struct results {
    uint64_t nkeys, cap;
    long dups, out_of_range;   /* atomic */
    uint64_t words[];          /* nkeys * cap / 64, atomic */
};
struct results *results_new(unsigned nkeys, uint64_t cap);
void results_free(struct results *r);
/* Record result v of key k: 1 the first time, else 0 and a failure. */
int results_claim(struct results *r, unsigned k, uint64_t v);
/* How many results of key k were recorded; *max gets the largest. */
uint64_t results_count(const struct results *r, unsigned k, uint64_t *max);

/* The name of counter i ("counter-i"), and its value (0 and a failure if
 * it cannot be read as a number). */
size_t counter_key(char *buf, unsigned i);
int64_t counter_read(shmkv *db, unsigned i);

/* n increments by worker w: counter (w + j) % NCOUNTERS, +1 on even
 * counters and -1 on odd ones, each result recorded. */
void incr_work(shmkv *db, struct results *r, unsigned w, long n);
/* Each counter is exactly +-per_key and each of its results 1..per_key
 * was handed out exactly once. */
void check_counters(shmkv *db, struct results *r, uint64_t per_key);

/* n successful compare-and-swap increments of the counter "cas" (decimal
 * text: get it, put_ex IF_EQUAL its old text), each result recorded
 * under key 0.  Returns the rounds lost to another writer (-ECANCELED). */
long cas_work(shmkv *db, struct results *r, long n);

/* Rounds played by players (threads or processes) and refereed by a
 * driver, all meeting at a barrier of players + 1 between the steps. */
struct game {
    h_barrier *b;
    int rounds;
    struct round {
        int wins, misses;      /* atomic: players who got the prize, and not */
        int fill_rc;           /* leases: what the holder's fill returned */
    } r[];
};
struct game *game_new(unsigned players, int rounds);
void game_free(struct game *g);

/* Rounds of shmkv_take: the driver puts "prize" (the round's number);
 * the players all take it at once; exactly one must win the right value. */
void take_play(shmkv *db, struct game *g);
void take_drive(shmkv *db, struct game *g);

/* Rounds of leases: the key absent, the players all miss it at once with
 * shmkv_get_lease and exactly one gets a lease.  Then the driver does
 * nothing, a put, a del or a clear (by round), and the holder fills the
 * lease: it must succeed only when nothing came in between, and then
 * store its value; otherwise it gets -ECANCELED and stores nothing.  The
 * stats counters must account for every lease. */
void lease_play(shmkv *db, struct game *g);
void lease_drive(shmkv *db, struct game *g);

#endif
