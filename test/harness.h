/*
 * harness.h - the tiny test framework shared by every test/test_*.c.
 *
 * Usage: a test is a table of named parts, each of which makes its own
 * tables, so that any of them can run alone:
 *     static void part_put_get(void) { CHECK(...); CHECK_RC(expr, -ENOENT); }
 *     static const struct h_part parts[] = {{"put_get", part_put_get}, ...};
 *     int main(int argc, char **argv)
 *     {
 *         return h_main(argc, argv, "test_foo", parts, H_NPARTS(parts));
 *     }
 * h_main() runs h_init(), the parts, and h_done():
 *     test_foo                  every part, in the table's order
 *     test_foo put_get del      only those parts (in the table's order)
 *     test_foo --list           the part names, one a line
 * An unknown part or option is a usage error: exit status 2, nothing run.
 *
 * h_init() creates a private directory /dev/shm/shmkv-test-XXXXXX, points
 * $SHMKV_DIR at it and then forks: the original process becomes a guardian
 * that waits for the test, kills any processes the test left behind, removes
 * the directory and everything in it (also when the test failed, crashed,
 * hung past its time limit or was interrupted) and exits with the test's
 * verdict.  The test itself runs in the child, in a process group of its
 * own.
 *
 * Failures are counted per process and in a counter shared by every process
 * of the test (so a check failing in a forked child that is later killed
 * with SIGKILL still fails the test).  Children made with h_fork() must end
 * with h_child_exit(), which exits non-zero if any check failed in that
 * child; the parent collects them with h_wait(), which checks the status.
 */
#ifndef SHMKV_TEST_HARNESS_H
#define SHMKV_TEST_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmkv.h"

#if defined(__SANITIZE_ADDRESS__)
#define H_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H_ASAN 1
#endif
#endif
#ifndef H_ASAN
#define H_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define H_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define H_TSAN 1
#endif
#endif
#ifndef H_TSAN
#define H_TSAN 0
#endif

/* ---- checks ------------------------------------------------------------ */

void h_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond))                                                       \
            h_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);         \
    } while (0)

/* CHECK with an explanation: CHECKF(x > 0, "x=%d", x) */
#define CHECKF(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            h_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);         \
            h_note("    " __VA_ARGS__);                                    \
        }                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                 \
    do {                                                                   \
        long long h_a_ = (long long)(a), h_b_ = (long long)(b);            \
        if (h_a_ != h_b_)                                                  \
            h_fail(__FILE__, __LINE__, "CHECK_EQ_INT(%s, %s) failed: "     \
                   "%lld != %lld", #a, #b, h_a_, h_b_);                    \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                 \
    do {                                                                   \
        unsigned long long h_a_ = (unsigned long long)(a);                 \
        unsigned long long h_b_ = (unsigned long long)(b);                 \
        if (h_a_ != h_b_)                                                  \
            h_fail(__FILE__, __LINE__, "CHECK_EQ_U64(%s, %s) failed: "     \
                   "%llu != %llu", #a, #b, h_a_, h_b_);                    \
    } while (0)

/* A shmkv return code against the expected one, printed by errno name. */
#define CHECK_RC(expr, want)                                               \
    do {                                                                   \
        int h_r_ = (int)(expr), h_w_ = (int)(want);                        \
        if (h_r_ != h_w_)                                                  \
            h_fail(__FILE__, __LINE__, "%s returned %s, expected %s",      \
                   #expr, h_errname(h_r_), h_errname(h_w_));               \
    } while (0)

#define CHECK_MEM(a, b, n)                                                 \
    do {                                                                   \
        if (memcmp((a), (b), (n)) != 0)                                    \
            h_fail(__FILE__, __LINE__, "CHECK_MEM(%s, %s, %s) failed",     \
                   #a, #b, #n);                                            \
    } while (0)

/* Print an informational line (prefixed with the test name and pid). */
void h_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "-ENOENT", "0", "-E123"... (static or thread-local storage). */
const char *h_errname(int rc);

/* Failures so far: in this process / in the whole test (all processes). */
long h_failures_local(void);
long h_failures_total(void);

/* ---- life cycle -------------------------------------------------------- */

/* One independently runnable part of a test. */
struct h_part {
    const char *name;
    void (*run)(void);
};
#define H_NPARTS(parts) (sizeof(parts) / sizeof((parts)[0]))

/* The whole main() of a test made of parts (see the top of this file).
 * Returns main()'s exit status; work that must precede h_init() (such as
 * setting $SHMKV_TEST_TIMEOUT) goes before the call. */
int h_main(int argc, char **argv, const char *test_name, const struct h_part *parts,
           size_t nparts);


/* Call first in main().  Timeout of the whole test: $SHMKV_TEST_TIMEOUT
 * seconds (default 280).  Sets $SHMKV_TEST_TABLE_SEED to a random number
 * unless it is set (a test build of the library makes the tables' hash
 * seeds from it: fault.h shmkv__table_seed), and prints it if the test
 * fails. */
void h_init(const char *test_name);
/* Call last: prints the verdict, returns the exit status for main(). */
int h_done(void);

/* The private directory ($SHMKV_DIR). */
const char *h_dir(void);
/* Write "<h_dir()>/<name>" into buf. */
void h_path(char *buf, size_t cap, const char *name);
/* A fresh table name (no '/'), unique within the test: "<tag>-<pid>-<n>". */
void h_name(char *buf, size_t cap, const char *tag);
/* Register a path outside h_dir() that the guardian must unlink at the end. */
void h_cleanup_path(const char *path);

/* ---- processes ---------------------------------------------------------- */

/* fork() after flushing stdio; in the child the local failure count starts
 * at 0.  Children must end with h_child_exit(). */
pid_t h_fork(void);
__attribute__((noreturn)) void h_child_exit(void);
/* waitpid() the child and CHECK that it exited with status 0.  Returns the
 * raw wait status.  what names the child in the failure message. */
int h_wait(pid_t pid, const char *what);

/* Shared anonymous memory (MAP_SHARED), zero-filled, visible to children
 * forked afterwards.  Never fails (aborts the test instead). */
void *h_shm_alloc(size_t size);
void h_shm_free(void *p, size_t size);

/* A barrier in shared memory for n processes or threads.  Wait returns 1 in
 * exactly one waiter per round, 0 in the others, and -1 (after recording a
 * failure) if the others did not arrive within timeout_s seconds. */
typedef struct h_barrier {
    uint32_t n;
    uint32_t count; /* accessed atomically */
    uint32_t gen;   /* accessed atomically; futex word */
} h_barrier;
h_barrier *h_barrier_new(uint32_t n); /* in h_shm_alloc() memory */
int h_barrier_wait(h_barrier *b, double timeout_s);

/* ---- time, randomness, hashing ------------------------------------------ */

double h_now(void); /* CLOCK_MONOTONIC seconds */
double h_thread_cpu_s(void); /* the calling thread's CPU time, seconds */
void h_sleep(double seconds);

typedef struct h_rng {
    uint64_t s;
} h_rng;

static inline uint64_t h_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline h_rng h_rng_new(uint64_t seed)
{
    h_rng r = { h_mix64(seed ^ 0x5851f42d4c957f2dULL) };
    return r;
}

/* splitmix64 */
static inline uint64_t h_rand(h_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return h_mix64(r->s);
}

/* Uniform in [0, n), n > 0. */
static inline uint64_t h_below(h_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)h_rand(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline uint64_t h_range(h_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + h_below(r, hi - lo + 1);
}

void h_fill_random(h_rng *r, void *buf, size_t len);

/* 64-bit hash of a byte string (FNV-1a, then mixed). */
uint64_t h_hash(const void *data, size_t len);

/* ---- self-validating values -------------------------------------------- */

/*
 * A value of vlen >= H_VAL_MIN bytes made for (key, seq):
 *   bytes  0.. 7  hash of the key
 *   bytes  8..15  seq
 *   bytes 16..23  vlen mixed with the key hash and seq
 *   bytes 24..    payload derived from (key hash, seq, offset)
 * h_val_check() recomputes everything, so a value read torn (two writes
 * mixed), truncated, extended, or belonging to another key is caught.
 */
#define H_VAL_MIN 24u
void h_val_make(void *buf, size_t vlen, const void *key, size_t klen, uint64_t seq);
/* 1 if val is a valid value for key (and then *seq_out = its seq, if not
 * NULL), 0 otherwise. */
int h_val_check(const void *val, size_t vlen, const void *key, size_t klen,
                uint64_t *seq_out);
/* Does the table hold (present, seq, vlen) at key k, a value h_val_make
 * made?  1 yes, 0 no; desc (dcap bytes) says what it holds: "absent",
 * "seq S, N bytes", an invalid value or get's error.  buf takes the
 * value (cap bytes). */
int h_val_holds(shmkv *db, const void *k, size_t kl, int present, uint64_t seq, uint64_t vlen, void *buf,
                size_t cap, char *desc, size_t dcap);

/* ---- table integrity ------------------------------------------------------ */

/* shmkv_check(db) must return 0 and report nothing; on failure the report
 * is printed.  Returns shmkv_check's result. */
int h_check_table_at(const char *file, int line, shmkv *db, const char *when);
#define CHECK_TABLE(db, when) h_check_table_at(__FILE__, __LINE__, (db), (when))

/* ---- files ------------------------------------------------------------- */

/* st_size of a file, or -1 (errno set). */
long long h_file_size(const char *path);
/* st_mode & 07777, or -1. */
int h_file_mode(const char *path);
/* Number of directory entries (not . and ..) in dir, or -1. */
int h_dir_entries(const char *dir);
/* Read a whole file into a malloc()ed buffer; NULL on error. */
void *h_read_file(const char *path, size_t *len);
/* Write len bytes to path (created/truncated, mode 0600); 0 or -errno. */
int h_write_file(const char *path, const void *data, size_t len);

#endif
