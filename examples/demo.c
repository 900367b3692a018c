/*
 * shmkv-demo: several processes share one shmkv table (`make demo` builds
 * this file, examples/demo.c, as build/shmkv-demo and runs it).
 *
 *   shmkv-demo [-p WRITERS] [-n KEYS]        (default 4 writers, 200000 keys)
 *
 * Makes a private directory under /dev/shm, points SHMKV_DIR at it and
 * creates a table there.  Then forks WRITERS writer processes, each of which
 * attaches to the table by name, puts its share of the keys, waits for the
 * others and reads back every key the others wrote; and one reader process
 * with a read-only handle, which looks keys up while the writers are busy
 * (each key must be either absent or carry exactly its value) and afterwards
 * checks them all.  The parent then walks the table with shmkv_foreach(),
 * prints what each process did, the table's figures and the throughput,
 * removes the table and the directory, and exits non-zero if any value was
 * wrong or anything failed.
 */
#include "shmkv.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TABLE_NAME "demo"
#define MAX_WRITERS 64
#define KEY_CAP 32
#define VAL_CAP 64
#define WAIT_LIMIT_S 60.0

/* What each child reports back, in memory shared with the parent. */
struct worker_report {
    pid_t pid;
    int error;            /* first shmkv error, 0 if none */
    uint64_t puts;
    uint64_t gets;
    uint64_t mismatches;
    double put_start, put_end; /* CLOCK_MONOTONIC seconds */
    double get_start, get_end;
};

struct reader_report {
    pid_t pid;
    int error;
    int rofs_rc;            /* what a put on the read-only handle returned */
    uint64_t early_lookups; /* lookups while the writers were busy */
    uint64_t early_found;
    uint64_t early_absent;
    uint64_t checked;       /* keys verified after the writers finished */
    uint64_t mismatches;
    double check_start, check_end;
};

struct shared {
    atomic_int puts_done;   /* writers that finished putting */
    atomic_int gets_done;   /* writers that finished reading */
    atomic_int abort_all;   /* set by the parent when a child died */
    struct reader_report reader;
    struct worker_report writer[MAX_WRITERS];
};

static struct shared *sh;
static uint64_t nkeys = 200000;
static int nwriters = 4;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Key i: printable, unique. */
static size_t make_key(uint64_t i, char *buf)
{
    return (size_t)snprintf(buf, KEY_CAP, "user:%08" PRIu64, i);
}

/* Value of key i: 8 to 64 bytes of binary data, both derived from i. */
static size_t make_val(uint64_t i, unsigned char *buf)
{
    uint64_t h = mix64(i + 0x9e3779b97f4a7c15ULL);
    size_t len = 8 + (size_t)(h % (VAL_CAP - 8 + 1));
    for (size_t o = 0; o < len; o += 8) {
        h = mix64(h);
        size_t n = len - o < 8 ? len - o : 8;
        memcpy(buf + o, &h, n);
    }
    return len;
}

/* 0: key i holds exactly its value; 1: absent; -1: wrong value; else -errno. */
static int check_key(shmkv *db, uint64_t i)
{
    char k[KEY_CAP];
    unsigned char want[VAL_CAP], got[VAL_CAP];
    size_t kl = make_key(i, k), wl = make_val(i, want), gl = 0;
    int rc = shmkv_get(db, k, kl, got, sizeof got, &gl);
    if (rc == -ENOENT)
        return 1;
    if (rc == -ENOBUFS)
        return -1; /* longer than any value we write */
    if (rc)
        return rc;
    return gl == wl && memcmp(got, want, wl) == 0 ? 0 : -1;
}

static int wait_for(atomic_int *counter, int target)
{
    double limit = now() + WAIT_LIMIT_S;
    struct timespec pause = { 0, 200000 };
    while (atomic_load(counter) < target) {
        if (atomic_load(&sh->abort_all) || now() > limit)
            return -1;
        nanosleep(&pause, NULL);
    }
    return 0;
}

static int open_table(unsigned flags, shmkv **db)
{
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = flags;
    return shmkv_open(TABLE_NAME, &o, db);
}

/* Writer w owns the keys i with i % nwriters == w. */
static int writer_main(int w)
{
    struct worker_report *r = &sh->writer[w];
    shmkv *db;
    r->pid = getpid();
    int rc = open_table(0, &db);
    if (rc) {
        r->error = rc;
        atomic_fetch_add(&sh->puts_done, 1);
        atomic_fetch_add(&sh->gets_done, 1);
        return 1;
    }

    r->put_start = now();
    for (uint64_t i = (uint64_t)w; i < nkeys; i += (uint64_t)nwriters) {
        char k[KEY_CAP];
        unsigned char v[VAL_CAP];
        size_t kl = make_key(i, k), vl = make_val(i, v);
        if ((rc = shmkv_put(db, k, kl, v, vl)) != 0) {
            r->error = rc;
            break;
        }
        r->puts++;
    }
    r->put_end = now();
    atomic_fetch_add(&sh->puts_done, 1);

    if (r->error == 0 && wait_for(&sh->puts_done, nwriters) != 0)
        r->error = -ETIMEDOUT;
    if (r->error == 0) {
        /* Read back the others' keys, starting at a different place in
         * each process so that they do not all walk in step. */
        r->get_start = now();
        uint64_t start = nkeys / (uint64_t)nwriters * (uint64_t)w;
        for (uint64_t n = 0; n < nkeys; n++) {
            uint64_t i = (start + n) % nkeys;
            if (i % (uint64_t)nwriters == (uint64_t)w)
                continue;
            rc = check_key(db, i);
            r->gets++;
            if (rc == 0)
                continue;
            if (rc == 1 || rc == -1) {
                if (r->mismatches++ < 3)
                    fprintf(stderr, "writer %d: key %" PRIu64 " is %s\n", w, i,
                            rc == 1 ? "missing" : "wrong");
            } else {
                r->error = rc;
                break;
            }
        }
        r->get_end = now();
    }
    atomic_fetch_add(&sh->gets_done, 1);
    shmkv_close(db);
    return r->error || r->mismatches ? 1 : 0;
}

static int reader_main(void)
{
    struct reader_report *r = &sh->reader;
    shmkv *db;
    r->pid = getpid();
    int rc = open_table(SHMKV_RDONLY, &db);
    if (rc) {
        r->error = rc;
        return 1;
    }
    r->rofs_rc = shmkv_put(db, "x", 1, "y", 1);

    /* While the writers work: any key is either absent or exactly right. */
    uint64_t x = (uint64_t)getpid();
    while (atomic_load(&sh->puts_done) < nwriters && !atomic_load(&sh->abort_all)) {
        x = mix64(x);
        uint64_t i = x % nkeys;
        rc = check_key(db, i);
        r->early_lookups++;
        if (rc == 0) {
            r->early_found++;
        } else if (rc == 1) {
            r->early_absent++;
        } else if (rc == -1) {
            if (r->mismatches++ < 3)
                fprintf(stderr, "reader: key %" PRIu64 " has a wrong value\n", i);
        } else {
            r->error = rc;
            break;
        }
    }
    if (r->error == 0 && wait_for(&sh->puts_done, nwriters) != 0)
        r->error = -ETIMEDOUT;

    /* Afterwards: every key, exactly. */
    if (r->error == 0) {
        r->check_start = now();
        for (uint64_t i = 0; i < nkeys; i++) {
            rc = check_key(db, i);
            if (rc < -1) {
                r->error = rc;
                break;
            }
            if (rc != 0 && r->mismatches++ < 3)
                fprintf(stderr, "reader: key %" PRIu64 " is %s\n", i,
                        rc == 1 ? "missing" : "wrong");
            r->checked++;
        }
        r->check_end = now();
    }
    shmkv_close(db);
    return r->error || r->mismatches || r->rofs_rc != -EROFS ? 1 : 0;
}

struct walk {
    uint64_t pairs;
    uint64_t bad;
};

static int walk_pair(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct walk *w = ctx;
    char k[KEY_CAP];
    unsigned char want[VAL_CAP];
    w->pairs++;
    /* keys are "user:%08u" */
    uint64_t i = 0;
    int ok = klen == 13 && memcmp(key, "user:", 5) == 0;
    for (size_t j = 5; ok && j < klen; j++) {
        char c = ((const char *)key)[j];
        ok = c >= '0' && c <= '9';
        i = i * 10 + (uint64_t)(c - '0');
    }
    if (ok)
        ok = i < nkeys && make_key(i, k) == klen && memcmp(k, key, klen) == 0 &&
             make_val(i, want) == vlen && memcmp(want, val, vlen) == 0;
    if (!ok)
        w->bad++;
    return 0;
}

static double mops(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs / 1e6 : 0.0;
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

static char tmpdir[256];
static char table_path[300];

/* Ctrl-C: remove the table and the directory (unlink and rmdir are
 * async-signal-safe), then die of the signal. */
static void on_signal(int sig)
{
    if (table_path[0]) {
        unlink(table_path);
        rmdir(tmpdir);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void remove_dir(void)
{
    if (tmpdir[0]) {
        shmkv_unlink(TABLE_NAME); /* in case it is still there */
        if (rmdir(tmpdir) != 0)
            fprintf(stderr, "demo: cannot remove %s: %s\n", tmpdir, strerror(errno));
        tmpdir[0] = 0;
        table_path[0] = 0;
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shmkv-demo [-p WRITERS] [-n KEYS]\n"
               "  -p N  writer processes (1..%d, default 4)\n"
               "  -n N  keys (default 200000)\n", MAX_WRITERS);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "p:n:h")) != -1) {
        char *end;
        switch (opt) {
        case 'p':
            nwriters = (int)strtol(optarg, &end, 10);
            if (*end || nwriters < 1 || nwriters > MAX_WRITERS) {
                usage(stderr);
                return 2;
            }
            break;
        case 'n':
            nkeys = strtoull(optarg, &end, 10);
            if (*end || nkeys < 1 || nkeys > 99999999) {
                usage(stderr);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    /* A private directory for the table, so the demo never meets another
     * table of the same name. */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                       : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/shmkv-demo.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "demo: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    setenv("SHMKV_DIR", tmpdir, 1);
    snprintf(table_path, sizeof table_path, "%s/%s", tmpdir, TABLE_NAME);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("demo: mmap");
        remove_dir();
        return 1;
    }

    shmkv *db;
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_CREATE | SHMKV_EXCL;
    int rc = shmkv_open(TABLE_NAME, &o, &db);
    if (rc) {
        fprintf(stderr, "demo: shmkv_open(\"%s\", CREATE|EXCL): %s\n", TABLE_NAME,
                shmkv_strerror(rc));
        remove_dir();
        return 1;
    }
    printf("shmkv %s demo: table \"%s\" in %s; %d writer processes and 1 read-only "
           "reader, %" PRIu64 " keys\n\n", SHMKV_VERSION_STRING, TABLE_NAME, tmpdir,
           nwriters, nkeys);
    fflush(stdout);

    int nchildren = 0;
    double t0 = now();
    for (int w = 0; w <= nwriters; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("demo: fork");
            atomic_store(&sh->abort_all, 1);
            break;
        }
        if (pid == 0) {
            table_path[0] = 0; /* only the parent cleans up */
            /* The parent's handle is not used in the children: each one
             * attaches by name, like an unrelated process would. */
            _exit(w < nwriters ? writer_main(w) : reader_main());
        }
        nchildren++;
    }

    int failed = nchildren != nwriters + 1;
    for (int left = nchildren; left > 0; left--) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            perror("demo: wait");
            failed = 1;
            break;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed = 1;
            if (WIFSIGNALED(status)) {
                fprintf(stderr, "demo: process %d killed by signal %d\n", (int)pid,
                        WTERMSIG(status));
                atomic_store(&sh->abort_all, 1);
            }
        }
    }
    double t1 = now();

    /* What each process did. */
    double put_first = 1e300, put_last = 0, get_first = 1e300, get_last = 0;
    uint64_t total_puts = 0, total_gets = 0, mismatches = 0;
    for (int w = 0; w < nwriters; w++) {
        struct worker_report *r = &sh->writer[w];
        double pt = r->put_end - r->put_start, gt = r->get_end - r->get_start;
        printf("writer %d (pid %d): put %" PRIu64 " keys in %.3f s (%.2f M/s); "
               "read %" PRIu64 " of the others' in %.3f s (%.2f M/s), "
               "%" PRIu64 " wrong%s%s\n",
               w, (int)r->pid, r->puts, pt, mops(r->puts, pt), r->gets, gt,
               mops(r->gets, gt), r->mismatches, r->error ? ", error: " : "",
               r->error ? shmkv_strerror(r->error) : "");
        total_puts += r->puts;
        total_gets += r->gets;
        mismatches += r->mismatches;
        if (r->puts) {
            put_first = r->put_start < put_first ? r->put_start : put_first;
            put_last = r->put_end > put_last ? r->put_end : put_last;
        }
        if (r->gets) {
            get_first = r->get_start < get_first ? r->get_start : get_first;
            get_last = r->get_end > get_last ? r->get_end : get_last;
        }
    }
    struct reader_report *rr = &sh->reader;
    double ct = rr->check_end - rr->check_start;
    printf("reader   (pid %d, read-only handle):\n"
           "         while the writers ran: %" PRIu64 " lookups, %" PRIu64 " found intact, "
           "%" PRIu64 " not there yet\n"
           "         afterwards: %" PRIu64 " of %" PRIu64 " keys checked in %.3f s (%.2f M/s), "
           "%" PRIu64 " wrong%s%s\n"
           "         a put on the read-only handle returned %s\n",
           (int)rr->pid, rr->early_lookups, rr->early_found, rr->early_absent,
           rr->checked, nkeys, ct, mops(rr->checked, ct), rr->mismatches,
           rr->error ? ", error: " : "", rr->error ? shmkv_strerror(rr->error) : "",
           rr->rofs_rc == -EROFS ? "-EROFS, as it should" : shmkv_strerror(rr->rofs_rc));
    mismatches += rr->mismatches;
    if (rr->rofs_rc != -EROFS) {
        fprintf(stderr, "demo: a put on a read-only handle returned %d, not -EROFS\n",
                rr->rofs_rc);
        failed = 1;
    }

    /* The parent walks the table with its own handle. */
    struct walk wk = { 0, 0 };
    double f0 = now();
    rc = shmkv_foreach(db, walk_pair, &wk);
    double f1 = now();
    if (rc) {
        fprintf(stderr, "demo: shmkv_foreach: %s\n", shmkv_strerror(rc));
        failed = 1;
    }
    printf("parent   (pid %d): shmkv_foreach visited %" PRIu64 " pairs in %.3f s, "
           "%" PRIu64 " wrong\n", (int)getpid(), wk.pairs, f1 - f0, wk.bad);
    if (wk.pairs != nkeys || wk.bad) {
        fprintf(stderr, "demo: foreach saw %" PRIu64 " pairs (%" PRIu64 " wrong), "
                "expected %" PRIu64 "\n", wk.pairs, wk.bad, nkeys);
        failed = 1;
    }

    shmkv_stats st;
    memset(&st, 0, sizeof st);
    rc = shmkv_stat(db, &st);
    if (rc) {
        fprintf(stderr, "demo: shmkv_stat: %s\n", shmkv_strerror(rc));
        failed = 1;
    }
    if (st.keys != nkeys || shmkv_count(db) != nkeys) {
        fprintf(stderr, "demo: the table holds %" PRIu64 " keys (count %" PRIu64
                "), expected %" PRIu64 "\n", st.keys, shmkv_count(db), nkeys);
        failed = 1;
    }
    printf("\ntable: %" PRIu64 " keys, %.1f MiB of keys+values; file %.1f MiB "
           "(%.1f MiB in use, index %.1f MiB), %.1f file bytes per pair\n",
           st.keys, mib(st.live_bytes), mib(st.file_bytes), mib(st.used_bytes),
           mib(st.index_bytes), st.keys ? (double)st.file_bytes / (double)st.keys : 0.0);
    printf("       %" PRIu64 " shards, %" PRIu64 " buckets + %" PRIu64 " overflow, "
           "load factor %.2f, %" PRIu64 " splits, %" PRIu64 " puts, %" PRIu64
           " lock waits\n", st.shards, st.buckets, st.overflow_buckets, st.load_factor,
           st.splits, st.puts, st.lock_waits);
    double pw = put_last - put_first, gw = get_last - get_first;
    printf("throughput: puts %.2f M/s (%d processes together, %.3f s), "
           "gets %.2f M/s (%.3f s); whole run %.2f s\n",
           mops(total_puts, pw), nwriters, pw, mops(total_gets, gw), gw, t1 - t0);

    shmkv_close(db);
    rc = shmkv_unlink(TABLE_NAME);
    if (rc) {
        fprintf(stderr, "demo: shmkv_unlink: %s\n", shmkv_strerror(rc));
        failed = 1;
    }
    remove_dir();

    if (mismatches) {
        fprintf(stderr, "demo: FAILED: %" PRIu64 " wrong or missing values\n", mismatches);
        return 1;
    }
    if (failed || total_puts != nkeys) {
        fprintf(stderr, "demo: FAILED\n");
        return 1;
    }
    printf("all %" PRIu64 " values verified; table removed\n", nkeys);
    return 0;
}
