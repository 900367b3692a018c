/*
 * shmkv-bench: throughput of shmkv, next to LMDB, with several processes.
 *
 *   shmkv-bench [--procs N] [--keys N] [--key-size B] [--val-size B]
 *               [--system shmkv|lmdb|all] [--runs R] [--json] [--quick] ...
 *
 * For each system and run, a fresh store in a temporary directory (under
 * /dev/shm unless --dir says otherwise), then two phases:
 *
 *   PUT  each of the N processes inserts its share of the unique keys;
 *   GET  every key is looked up once, in a random order, each process its
 *        share, and every value is checked (a wrong or missing one fails
 *        the run).
 *
 * Workers are fork()ed before each phase, attach to the store, say they are
 * ready and block on a pipe; closing the pipe releases them together.  A
 * phase's time runs (CLOCK_MONOTONIC) from the release to the last worker's
 * finish; "Mops/s" is all its operations over that time, and the figures in
 * brackets are each worker's own operations over its own time from release
 * to finish.
 *
 * LMDB (built when <lmdb.h> was found, -DHAVE_LMDB) runs with the same keys
 * and values: MDB_WRITEMAP|MDB_NOSYNC|MDB_NOMETASYNC|MDB_NORDAHEAD, one write
 * transaction per put (the atomicity of one shmkv put) and one read
 * transaction per get, reused with mdb_txn_reset()/mdb_txn_renew().
 *
 * Everything it creates is removed at the end, also on SIGINT/SIGTERM.
 * Exit status: 0 if every run passed, 1 if one failed, 2 on bad usage.
 */
#include "shmkv.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LMDB
#include <lmdb.h>
#endif

#define MAX_PROCS 256
#define MAX_RUNS 100

enum system { SYS_SHMKV, SYS_LMDB, NSYS };
enum phase { PH_PUT, PH_GET, NPH };

static const char *const sys_name[NSYS] = { "shmkv", "lmdb" };
static const char *const ph_name[NPH] = { "PUT", "GET" };

/* ---- options ---------------------------------------------------------- */

static int procs = 2;
static uint64_t nkeys = 1000000;
static size_t key_size = 8;
static size_t val_size = 8;
static int want_sys[NSYS] = { 1, 1 };
static int json;
static int runs = 1;
static int presize;
static unsigned batch = 1; /* shmkv GETs per shmkv_get_many() call */
static int quick;
static const char *base_dir = "/dev/shm";

/* ---- shared between the parent and the workers ------------------------ */

struct worker_result {
    uint64_t ops;
    uint64_t bad;    /* wrong or missing values */
    int error;       /* first error: negative errno (shmkv) or LMDB code */
    int ready;
    double end;      /* CLOCK_MONOTONIC seconds when it finished */
    uint64_t minflt; /* page faults (minor + major) during the phase */
};

static struct worker_result *results; /* MAP_SHARED, procs entries */
static uint32_t *order;               /* GET order: a permutation of 0..nkeys-1 */

/* What one phase of one run measured. */
struct measure {
    int ok;
    double secs;
    uint64_t ops;
    uint64_t faults;       /* page faults in the workers during the phase */
    double proc_mops[MAX_PROCS];
    double bytes_per_pair; /* after PUT; 0 if not known */
    shmkv_stats st;        /* shmkv, after the phase */
    /* lmdb, after the phase */
    uint64_t lmdb_pages, lmdb_psize, lmdb_depth, lmdb_entries;
};

static struct measure meas[NSYS][NPH][MAX_RUNS];
static int have_meas[NSYS];

/* ---- cleanup ---------------------------------------------------------- */

/* Paths to remove, also from the signal handler (unlink and rmdir are
 * async-signal-safe); at most 3 files and the directory. */
static char clean_dir[256];
static char clean_file[3][384];
static pid_t parent_pid;
static volatile pid_t kids[MAX_PROCS]; /* workers of the current phase */

static void cleanup_files(void)
{
    for (int i = 0; i < 3; i++)
        if (clean_file[i][0])
            unlink(clean_file[i]);
    if (clean_dir[0])
        rmdir(clean_dir);
}

static void on_signal(int sig)
{
    if (getpid() == parent_pid) {
        for (int i = 0; i < MAX_PROCS; i++)
            if (kids[i] > 0)
                kill(kids[i], SIGKILL);
        cleanup_files();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- keys and values -------------------------------------------------- */

static uint64_t mix64(uint64_t x) /* a bijection of 64-bit integers */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t o = 0; o < n; o += 8) {
        seed = mix64(seed + 0x9e3779b97f4a7c15ULL);
        memcpy(p + o, &seed, n - o < 8 ? n - o : 8);
    }
}

/* Key i: key_size bytes, unique for every i < nkeys, in no sorted order. */
static void make_key(uint64_t i, unsigned char *k)
{
    if (key_size >= 8) {
        uint64_t h = mix64(i);
        memcpy(k, &h, 8);
        fill(k + 8, key_size - 8, i);
    } else {
        /* multiplying by an odd number is a bijection mod 2^(8 key_size) */
        uint64_t h = i * 0x9e3779b97f4a7c15ULL;
        for (size_t j = 0; j < key_size; j++)
            k[j] = (unsigned char)(h >> (8 * j));
    }
}

static void make_val(uint64_t i, unsigned char *v)
{
    fill(v, val_size, i ^ 0xa5a5a5a55a5a5a5aULL);
}

/* ---- time ------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the systems ------------------------------------------------------ */

/* Each system: set up a fresh store (parent), attach in a worker, do one
 * operation, detach, look at the store after a phase (parent), remove it. */
struct store;
typedef int (*op_fn)(struct store *s, uint64_t i, unsigned char *kbuf,
                     unsigned char *vbuf, unsigned char *gbuf, uint64_t *bad);

struct store {
    enum system sys;
    char path[320];
    shmkv *db;
#ifdef HAVE_LMDB
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn;
#endif
};

static const char *err_text(enum system sys, int err)
{
#ifdef HAVE_LMDB
    if (sys == SYS_LMDB)
        return mdb_strerror(err);
#endif
    (void)sys;
    return err < 0 ? shmkv_strerror(err) : strerror(err);
}

/* shmkv */

static int shmkv_setup(struct store *s)
{
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_CREATE | SHMKV_EXCL;
    o.expected_keys = presize ? nkeys : 0;
    snprintf(s->path, sizeof s->path, "%s/table", clean_dir);
    snprintf(clean_file[0], sizeof clean_file[0], "%s", s->path);
    shmkv *db;
    int rc = shmkv_open(s->path, &o, &db);
    if (rc == 0)
        shmkv_close(db);
    return rc;
}

static int shmkv_attach(struct store *s)
{
    shmkv_options o;
    memset(&o, 0, sizeof o);
    return shmkv_open(s->path, &o, &s->db);
}

static void shmkv_detach(struct store *s)
{
    shmkv_close(s->db);
    s->db = NULL;
}

static int shmkv_put_op(struct store *s, uint64_t i, unsigned char *k, unsigned char *v,
                        unsigned char *g, uint64_t *bad)
{
    (void)g;
    (void)bad;
    make_key(i, k);
    make_val(i, v);
    return shmkv_put(s->db, k, key_size, v, val_size);
}

static int shmkv_get_op(struct store *s, uint64_t i, unsigned char *k, unsigned char *v,
                        unsigned char *g, uint64_t *bad)
{
    size_t len = 0;
    make_key(i, k);
    int rc = shmkv_get(s->db, k, key_size, g, val_size, &len);
    if (rc == -ENOENT || rc == -ENOBUFS) {
        (*bad)++;
        return 0;
    }
    if (rc)
        return rc;
    make_val(i, v);
    if (len != val_size || memcmp(v, g, val_size) != 0)
        (*bad)++;
    return 0;
}

static int shmkv_inspect(struct store *s, struct measure *m)
{
    shmkv *db;
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_RDONLY;
    int rc = shmkv_open(s->path, &o, &db);
    if (rc)
        return rc;
    rc = shmkv_stat(db, &m->st);
    shmkv_close(db);
    if (rc == 0 && m->st.keys)
        m->bytes_per_pair = (double)m->st.file_bytes / (double)m->st.keys;
    return rc;
}

static int shmkv_teardown(struct store *s)
{
    int rc = shmkv_unlink(s->path);
    clean_file[0][0] = 0;
    return rc;
}

/* lmdb */

#ifdef HAVE_LMDB
static const unsigned lmdb_flags = MDB_WRITEMAP | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NORDAHEAD;

static size_t lmdb_mapsize(void)
{
    /* far more than the B-tree can need: pages of 4 KiB at least a quarter
     * full, plus overflow pages for big values, plus slack; on tmpfs only
     * the pages written take memory. */
    uint64_t per = (uint64_t)key_size + val_size + 64;
    if (val_size > 1000)
        per += val_size + 4096;
    uint64_t sz = nkeys * per * 4 + (256u << 20);
    return (size_t)((sz + 0xfffff) & ~(uint64_t)0xfffff);
}

static int lmdb_open_env(struct store *s)
{
    int rc = mdb_env_create(&s->env);
    if (rc)
        return rc;
    if ((rc = mdb_env_set_mapsize(s->env, lmdb_mapsize())) == 0 &&
        (rc = mdb_env_set_maxreaders(s->env, (unsigned)procs + 8)) == 0 &&
        (rc = mdb_env_open(s->env, s->path, lmdb_flags, 0600)) == 0) {
        MDB_txn *txn;
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) == 0) {
            if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) == 0)
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
    }
    if (rc) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    return rc;
}

static int lmdb_setup(struct store *s)
{
    snprintf(s->path, sizeof s->path, "%s/lmdb", clean_dir);
    if (mkdir(s->path, 0700) != 0)
        return errno;
    snprintf(clean_file[1], sizeof clean_file[1], "%s/data.mdb", s->path);
    snprintf(clean_file[2], sizeof clean_file[2], "%s/lock.mdb", s->path);
    int rc = lmdb_open_env(s);
    if (rc == 0) {
        if ((size_t)mdb_env_get_maxkeysize(s->env) < key_size) {
            fprintf(stderr, "lmdb: keys of %zu bytes are longer than LMDB's limit of %d\n",
                    key_size, mdb_env_get_maxkeysize(s->env));
            rc = EINVAL;
        }
        mdb_env_close(s->env);
        s->env = NULL;
    }
    return rc;
}

static int lmdb_attach(struct store *s)
{
    int rc = lmdb_open_env(s);
    if (rc)
        return rc;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc == 0)
        mdb_txn_reset(s->rtxn);
    else {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    return rc;
}

static void lmdb_detach(struct store *s)
{
    mdb_txn_abort(s->rtxn);
    mdb_env_close(s->env);
    s->env = NULL;
}

static int lmdb_put_op(struct store *s, uint64_t i, unsigned char *k, unsigned char *v,
                       unsigned char *g, uint64_t *bad)
{
    (void)g;
    (void)bad;
    make_key(i, k);
    make_val(i, v);
    MDB_val mk = { key_size, k }, mv = { val_size, v };
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return rc;
    rc = mdb_put(txn, s->dbi, &mk, &mv, 0);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static int lmdb_get_op(struct store *s, uint64_t i, unsigned char *k, unsigned char *v,
                       unsigned char *g, uint64_t *bad)
{
    (void)g;
    make_key(i, k);
    make_val(i, v);
    MDB_val mk = { key_size, k }, mv;
    int rc = mdb_txn_renew(s->rtxn);
    if (rc)
        return rc;
    rc = mdb_get(s->rtxn, s->dbi, &mk, &mv);
    if (rc == MDB_NOTFOUND)
        (*bad)++;
    else if (rc == 0 && (mv.mv_size != val_size || memcmp(mv.mv_data, v, val_size) != 0))
        (*bad)++;
    mdb_txn_reset(s->rtxn);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lmdb_inspect(struct store *s, struct measure *m)
{
    int rc = lmdb_open_env(s);
    if (rc)
        return rc;
    MDB_stat ms;
    MDB_envinfo info;
    if ((rc = mdb_env_stat(s->env, &ms)) == 0 && (rc = mdb_env_info(s->env, &info)) == 0) {
        m->lmdb_psize = ms.ms_psize;
        m->lmdb_depth = ms.ms_depth;
        m->lmdb_entries = ms.ms_entries;
        m->lmdb_pages = (uint64_t)info.me_last_pgno + 1;
        if (ms.ms_entries)
            m->bytes_per_pair = (double)(m->lmdb_pages * ms.ms_psize) / (double)ms.ms_entries;
    }
    mdb_env_close(s->env);
    s->env = NULL;
    return rc;
}

static int lmdb_teardown(struct store *s)
{
    int rc = 0;
    for (int i = 1; i <= 2; i++) {
        if (unlink(clean_file[i]) != 0 && errno != ENOENT)
            rc = errno;
        clean_file[i][0] = 0;
    }
    if (rmdir(s->path) != 0 && rc == 0)
        rc = errno;
    return rc;
}
#endif /* HAVE_LMDB */

static int sys_setup(struct store *s)
{
#ifdef HAVE_LMDB
    if (s->sys == SYS_LMDB)
        return lmdb_setup(s);
#endif
    return shmkv_setup(s);
}

static int sys_attach(struct store *s)
{
#ifdef HAVE_LMDB
    if (s->sys == SYS_LMDB)
        return lmdb_attach(s);
#endif
    return shmkv_attach(s);
}

static void sys_detach(struct store *s)
{
#ifdef HAVE_LMDB
    if (s->sys == SYS_LMDB) {
        lmdb_detach(s);
        return;
    }
#endif
    shmkv_detach(s);
}

static op_fn sys_op(enum system sys, enum phase ph)
{
#ifdef HAVE_LMDB
    if (sys == SYS_LMDB)
        return ph == PH_PUT ? lmdb_put_op : lmdb_get_op;
#endif
    (void)sys;
    return ph == PH_PUT ? shmkv_put_op : shmkv_get_op;
}

static int sys_inspect(struct store *s, struct measure *m)
{
#ifdef HAVE_LMDB
    if (s->sys == SYS_LMDB)
        return lmdb_inspect(s, m);
#endif
    return shmkv_inspect(s, m);
}

static int sys_teardown(struct store *s)
{
#ifdef HAVE_LMDB
    if (s->sys == SYS_LMDB)
        return lmdb_teardown(s);
#endif
    return shmkv_teardown(s);
}

/* ---- one phase -------------------------------------------------------- */

static uint64_t share_begin(int p)
{
    return nkeys * (uint64_t)p / (uint64_t)procs;
}

/* GETs of keys order[lo..hi) through shmkv_get_many, batch at a time,
 * every value checked.  Returns the number of operations done. */
static uint64_t batched_gets(struct store *s, uint64_t lo, uint64_t hi, uint64_t *bad)
{
    size_t kcap = key_size + 8, vcap = val_size + 8;
    unsigned char *keys = malloc(kcap * batch), *vals = malloc(vcap * batch), *want = malloc(vcap);
    shmkv_item *it = malloc(sizeof *it * batch);
    if (!keys || !vals || !want || !it)
        _exit(1);
    uint64_t n = 0;
    for (uint64_t j = lo; j < hi; j += batch) {
        unsigned m = hi - j < batch ? (unsigned)(hi - j) : batch;
        for (unsigned b = 0; b < m; b++) {
            make_key(order[j + b], keys + b * kcap);
            it[b].key = keys + b * kcap;
            it[b].klen = key_size;
            it[b].buf = vals + b * vcap;
            it[b].cap = val_size;
        }
        shmkv_get_many(s->db, it, m);
        for (unsigned b = 0; b < m; b++) {
            make_val(order[j + b], want);
            if (it[b].rc || it[b].vlen != val_size || memcmp(want, it[b].buf, val_size))
                (*bad)++;
        }
        n += m;
    }
    free(keys);
    free(vals);
    free(want);
    free(it);
    return n;
}

static void worker(struct store *s, enum phase ph, int p, int ready_fd, int go_fd)
{
    struct worker_result *r = &results[p];
    int rc = sys_attach(s);
    if (rc) {
        r->error = rc;
        _exit(1);
    }
    size_t bufsz = (key_size > val_size ? key_size : val_size) + 8;
    unsigned char *k = malloc(bufsz), *v = malloc(bufsz), *g = malloc(bufsz);
    if (!k || !v || !g) {
        r->error = -ENOMEM;
        _exit(1);
    }
    op_fn op = sys_op(s->sys, ph);
    uint64_t lo = share_begin(p), hi = share_begin(p + 1);

    r->ready = 1;
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1)
        _exit(1);
    close(ready_fd);
    while (read(go_fd, &c, 1) < 0 && errno == EINTR)
        ;

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t n = 0, bad = 0;
    if (ph == PH_GET && s->sys == SYS_SHMKV && batch > 1)
        n = batched_gets(s, lo, hi, &bad);
    else
        for (uint64_t j = lo; j < hi; j++) {
            uint64_t i = ph == PH_PUT ? j : order[j];
            if ((rc = op(s, i, k, v, g, &bad)) != 0)
                break;
            n++;
        }
    r->end = now();
    getrusage(RUSAGE_SELF, &ru1);
    r->minflt = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt) + (uint64_t)(ru1.ru_majflt - ru0.ru_majflt);
    r->ops = n;
    r->bad = bad;
    r->error = rc;
    sys_detach(s);
    free(k);
    free(v);
    free(g);
    _exit(rc || bad ? 1 : 0);
}

static int run_phase(struct store *s, enum phase ph, struct measure *m)
{
    int ready[2], go[2];
    memset(results, 0, sizeof *results * (size_t)procs);
    if (pipe(ready) != 0 || pipe(go) != 0) {
        perror("shmkv-bench: pipe");
        return -1;
    }
    fflush(NULL);
    int started = 0;
    for (int p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("shmkv-bench: fork");
            break;
        }
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            worker(s, ph, p, ready[1], go[0]);
        }
        kids[p] = pid;
        started++;
    }
    close(ready[1]);
    close(go[0]);

    /* Wait until every worker is attached (or gone), then release them. */
    int nready = 0;
    char c;
    for (;;) {
        ssize_t r = read(ready[0], &c, 1);
        if (r == 1)
            nready++;
        else if (r == 0 || errno != EINTR)
            break;
    }
    close(ready[0]);
    double t0 = now();
    close(go[1]);

    int ok = nready == procs && started == procs;
    for (int left = started; left > 0; left--) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR) {
                left++;
                continue;
            }
            perror("shmkv-bench: wait");
            ok = 0;
            break;
        }
        for (int p = 0; p < procs; p++)
            if (kids[p] == pid)
                kids[p] = 0;
        if (WIFSIGNALED(status)) {
            fprintf(stderr, "shmkv-bench: %s %s worker %d killed by signal %d\n",
                    sys_name[s->sys], ph_name[ph], (int)pid, WTERMSIG(status));
            ok = 0;
        }
    }

    double last = t0;
    uint64_t ops = 0;
    for (int p = 0; p < procs; p++) {
        struct worker_result *r = &results[p];
        if (r->error) {
            fprintf(stderr, "shmkv-bench: %s %s worker %d: %s\n", sys_name[s->sys],
                    ph_name[ph], p, err_text(s->sys, r->error));
            ok = 0;
        }
        if (r->bad) {
            fprintf(stderr, "shmkv-bench: %s %s worker %d: %" PRIu64
                    " wrong or missing values\n", sys_name[s->sys], ph_name[ph], p, r->bad);
            ok = 0;
        }
        if (r->end > last)
            last = r->end;
        ops += r->ops;
        m->faults += r->minflt;
        double own = r->end - t0;
        m->proc_mops[p] = own > 0 ? (double)r->ops / own / 1e6 : 0;
    }
    if (ops != nkeys)
        ok = 0;
    m->ops = ops;
    m->secs = last - t0;
    m->ok = ok;
    int rc = sys_inspect(s, m);
    if (rc) {
        fprintf(stderr, "shmkv-bench: %s: looking at the store: %s\n", sys_name[s->sys],
                err_text(s->sys, rc));
        m->ok = 0;
    } else if (s->sys == SYS_SHMKV && m->st.keys != nkeys) {
        fprintf(stderr, "shmkv-bench: shmkv holds %" PRIu64 " keys after %s, expected %"
                PRIu64 "\n", m->st.keys, ph_name[ph], nkeys);
        m->ok = 0;
    } else if (s->sys == SYS_LMDB && m->lmdb_entries != nkeys) {
        fprintf(stderr, "shmkv-bench: lmdb holds %" PRIu64 " keys after %s, expected %"
                PRIu64 "\n", m->lmdb_entries, ph_name[ph], nkeys);
        m->ok = 0;
    }
    return m->ok ? 0 : -1;
}

/* ---- output ----------------------------------------------------------- */

static double mops_of(const struct measure *m)
{
    return m->secs > 0 ? (double)m->ops / m->secs / 1e6 : 0;
}

static void print_line(enum system sys, enum phase ph, const struct measure *m, int run)
{
    double total = mops_of(m);
    int prec = total >= 0.995 ? 2 : total >= 0.00995 ? 3 : 5;
    printf("%-6s %-4s %d procs  %" PRIu64 " keys  %6.*f Mops/s  (", sys_name[sys],
           ph_name[ph], procs, nkeys, prec, total);
    for (int p = 0; p < procs; p++)
        printf("%s%.*f", p ? " + " : "", prec, m->proc_mops[p]);
    printf(")");
    if (ph == PH_GET && sys == SYS_SHMKV && batch > 1)
        printf("  batches of %u", batch);
    if (ph == PH_PUT && m->bytes_per_pair > 0)
        printf("  %.1f B/pair", m->bytes_per_pair);
    if (m->ops)
        printf("  %.2f faults/op", (double)m->faults / (double)m->ops);
    if (runs > 1)
        printf("  [run %d/%d]", run + 1, runs);
    if (!m->ok)
        printf("  FAILED");
    printf("\n");
    if (ph == PH_PUT && sys == SYS_SHMKV && m->st.keys)
        printf("       table: %" PRIu64 " keys, file %.1f MiB (used %.1f, index %.1f, "
               "log %.1f), %" PRIu64 " shards, %" PRIu64 " buckets + %" PRIu64
               " overflow, load %.2f, %" PRIu64 " splits, %" PRIu64 " lock waits\n",
               m->st.keys, (double)m->st.file_bytes / 1048576.0,
               (double)m->st.used_bytes / 1048576.0, (double)m->st.index_bytes / 1048576.0,
               (double)m->st.log_bytes / 1048576.0, m->st.shards, m->st.buckets,
               m->st.overflow_buckets, m->st.load_factor, m->st.splits, m->st.lock_waits);
    if (ph == PH_PUT && sys == SYS_LMDB && m->lmdb_entries)
        printf("       env: %" PRIu64 " entries, %" PRIu64 " pages of %" PRIu64
               " B in use (%.1f MiB), B-tree depth %" PRIu64 "\n", m->lmdb_entries,
               m->lmdb_pages, m->lmdb_psize,
               (double)(m->lmdb_pages * m->lmdb_psize) / 1048576.0, m->lmdb_depth);
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_mops(enum system sys, enum phase ph, double *lo, double *hi)
{
    double v[MAX_RUNS];
    for (int r = 0; r < runs; r++)
        v[r] = mops_of(&meas[sys][ph][r]);
    qsort(v, (size_t)runs, sizeof v[0], cmp_double);
    *lo = v[0];
    *hi = v[runs - 1];
    return runs % 2 ? v[runs / 2] : (v[runs / 2 - 1] + v[runs / 2]) / 2;
}

static void print_json(void)
{
    printf("{\n  \"shmkv_version\": \"%s\",\n", SHMKV_VERSION_STRING);
#ifdef HAVE_LMDB
    printf("  \"lmdb_version\": \"%d.%d.%d\",\n", MDB_VERSION_MAJOR, MDB_VERSION_MINOR,
           MDB_VERSION_PATCH);
#else
    printf("  \"lmdb_version\": null,\n");
#endif
    printf("  \"procs\": %d,\n  \"keys\": %" PRIu64 ",\n  \"key_size\": %zu,\n"
           "  \"val_size\": %zu,\n  \"runs\": %d,\n  \"presize\": %s,\n"
           "  \"cpus\": %ld,\n  \"results\": [", procs, nkeys, key_size, val_size, runs,
           presize ? "true" : "false", sysconf(_SC_NPROCESSORS_ONLN));
    int first = 1;
    for (int sys = 0; sys < NSYS; sys++) {
        if (!have_meas[sys])
            continue;
        for (int r = 0; r < runs; r++)
            for (int ph = 0; ph < NPH; ph++) {
                const struct measure *m = &meas[sys][ph][r];
                printf("%s\n    {\"system\": \"%s\", \"phase\": \"%s\", \"run\": %d, "
                       "\"ok\": %s, \"ops\": %" PRIu64 ", \"seconds\": %.6f, "
                       "\"mops\": %.4f, \"proc_mops\": [", first ? "" : ",", sys_name[sys],
                       ph_name[ph], r + 1, m->ok ? "true" : "false", m->ops, m->secs,
                       mops_of(m));
                first = 0;
                for (int p = 0; p < procs; p++)
                    printf("%s%.4f", p ? ", " : "", m->proc_mops[p]);
                printf("], \"bytes_per_pair\": %.2f, \"page_faults\": %" PRIu64,
                       m->bytes_per_pair, m->faults);
                if (sys == SYS_SHMKV)
                    printf(", \"stats\": {\"keys\": %" PRIu64 ", \"live_bytes\": %" PRIu64
                           ", \"used_bytes\": %" PRIu64 ", \"file_bytes\": %" PRIu64
                           ", \"shards\": %" PRIu64 ", \"buckets\": %" PRIu64
                           ", \"overflow_buckets\": %" PRIu64 ", \"index_bytes\": %" PRIu64
                           ", \"log_bytes\": %" PRIu64 ", \"garbage_bytes\": %" PRIu64
                           ", \"free_bytes\": %" PRIu64 ", \"load_factor\": %.4f"
                           ", \"splits\": %" PRIu64 ", \"lock_waits\": %" PRIu64 "}",
                           m->st.keys, m->st.live_bytes, m->st.used_bytes, m->st.file_bytes,
                           m->st.shards, m->st.buckets, m->st.overflow_buckets,
                           m->st.index_bytes, m->st.log_bytes, m->st.garbage_bytes,
                           m->st.free_bytes, m->st.load_factor, m->st.splits,
                           m->st.lock_waits);
                else
                    printf(", \"stats\": {\"entries\": %" PRIu64 ", \"pages\": %" PRIu64
                           ", \"page_size\": %" PRIu64 ", \"depth\": %" PRIu64 "}",
                           m->lmdb_entries, m->lmdb_pages, m->lmdb_psize, m->lmdb_depth);
                printf("}");
            }
    }
    printf("\n  ]\n}\n");
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: shmkv-bench [options]\n"
        "  --procs N        worker processes (default 2)\n"
        "  --keys N         unique keys (default 1000000)\n"
        "  --key-size B     key bytes (default 8)\n"
        "  --val-size B     value bytes (default 8)\n"
        "  --system S       shmkv, lmdb or all (default all)\n"
        "  --runs R         repeat everything R times, report medians (default 1)\n"
        "  --json           print the results as JSON instead of text\n"
        "  --presize        create the shmkv table with expected_keys = N\n"
        "  --batch B        shmkv GETs in batches of B with shmkv_get_many (default 1)\n"
        "  --dir DIR        where the stores go (default /dev/shm)\n"
        "  --quick          a smoke test: 20000 keys unless --keys says otherwise\n"
        "  --help\n"
        "Phases: PUT (each process inserts its share of the keys), GET (every key\n"
        "once, in random order, each process its share, every value checked).\n"
        "Per phase: total Mops/s (all operations / time from release to the last\n"
        "finish), each worker's own Mops/s in brackets, file bytes per pair, and\n"
        "page faults per operation (the workers are fresh processes: each\n"
        "faults in the pages of the store it touches).\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "procs", required_argument, NULL, 'p' },
        { "keys", required_argument, NULL, 'n' },
        { "key-size", required_argument, NULL, 'k' },
        { "val-size", required_argument, NULL, 'v' },
        { "system", required_argument, NULL, 's' },
        { "runs", required_argument, NULL, 'r' },
        { "json", no_argument, NULL, 'j' },
        { "presize", no_argument, NULL, 'P' },
        { "batch", required_argument, NULL, 'b' },
        { "dir", required_argument, NULL, 'd' },
        { "quick", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int keys_given = 0, opt;
    uint64_t u;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (parse_u64(optarg, 1, MAX_PROCS, &u))
                goto bad;
            procs = (int)u;
            break;
        case 'n':
            if (parse_u64(optarg, 1, UINT32_MAX, &u))
                goto bad;
            nkeys = u;
            keys_given = 1;
            break;
        case 'k':
            if (parse_u64(optarg, 1, SHMKV_KEY_MAX, &u))
                goto bad;
            key_size = (size_t)u;
            break;
        case 'v':
            if (parse_u64(optarg, 0, 1u << 30, &u))
                goto bad;
            val_size = (size_t)u;
            break;
        case 's':
            want_sys[SYS_SHMKV] = !strcmp(optarg, "shmkv") || !strcmp(optarg, "all");
            want_sys[SYS_LMDB] = !strcmp(optarg, "lmdb") || !strcmp(optarg, "all");
            if (!want_sys[SYS_SHMKV] && !want_sys[SYS_LMDB])
                goto bad;
            break;
        case 'r':
            if (parse_u64(optarg, 1, MAX_RUNS, &u))
                goto bad;
            runs = (int)u;
            break;
        case 'j':
            json = 1;
            break;
        case 'P':
            presize = 1;
            break;
        case 'b':
            if (parse_u64(optarg, 1, 1024, &u))
                goto bad;
            batch = (unsigned)u;
            break;
        case 'd':
            base_dir = optarg;
            break;
        case 'q':
            quick = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    if (quick && !keys_given)
        nkeys = 20000;
    if (strlen(base_dir) > 200) {
        fprintf(stderr, "shmkv-bench: --dir: path too long\n");
        return 2;
    }
    if (nkeys < (uint64_t)procs) {
        fprintf(stderr, "shmkv-bench: fewer keys than processes\n");
        return 2;
    }
    if (key_size < 8 && key_size * 8 < 64 && nkeys > (1ULL << (8 * key_size))) {
        fprintf(stderr, "shmkv-bench: %" PRIu64 " unique keys do not fit in %zu bytes\n",
                nkeys, key_size);
        return 2;
    }
#ifndef HAVE_LMDB
    if (want_sys[SYS_LMDB]) {
        if (!want_sys[SYS_SHMKV]) {
            fprintf(stderr, "shmkv-bench: built without LMDB (no <lmdb.h>; "
                            "scripts/install-deps.sh test, then rebuild)\n");
            return 2;
        }
        fprintf(stderr, "shmkv-bench: built without LMDB, running shmkv only\n");
        want_sys[SYS_LMDB] = 0;
    }
#endif

    parent_pid = getpid();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);

    results = mmap(NULL, sizeof *results * (size_t)procs, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    order = malloc(sizeof *order * (size_t)nkeys);
    if (results == MAP_FAILED || !order) {
        fprintf(stderr, "shmkv-bench: out of memory\n");
        return 1;
    }
    /* The GET order: a fixed random permutation (Fisher-Yates). */
    for (uint64_t i = 0; i < nkeys; i++)
        order[i] = (uint32_t)i;
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (uint64_t i = nkeys - 1; i > 0; i--) {
        x = mix64(x);
        uint64_t j = x % (i + 1);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }

    if (!json) {
        printf("# shmkv-bench: %d procs, %" PRIu64 " keys, key %zu B, value %zu B, "
               "%d run%s, %ld cpus, stores in %s%s; shmkv %s", procs, nkeys, key_size,
               val_size, runs, runs > 1 ? "s" : "", sysconf(_SC_NPROCESSORS_ONLN), base_dir,
               presize ? ", shmkv presized" : "", SHMKV_VERSION_STRING);
#ifdef HAVE_LMDB
        printf(", LMDB %d.%d.%d", MDB_VERSION_MAJOR, MDB_VERSION_MINOR, MDB_VERSION_PATCH);
#endif
        printf("\n");
        fflush(stdout);
    }

    int failed = 0;
    for (int r = 0; r < runs; r++) {
        for (int sys = 0; sys < NSYS; sys++) {
            if (!want_sys[sys])
                continue;
            have_meas[sys] = 1;
            struct store s;
            memset(&s, 0, sizeof s);
            s.sys = (enum system)sys;
            snprintf(clean_dir, sizeof clean_dir, "%s/shmkv-bench.XXXXXX", base_dir);
            if (!mkdtemp(clean_dir)) {
                fprintf(stderr, "shmkv-bench: mkdtemp %s: %s\n", clean_dir, strerror(errno));
                clean_dir[0] = 0;
                return 1;
            }
            int rc = sys_setup(&s);
            if (rc) {
                fprintf(stderr, "shmkv-bench: %s: creating the store: %s\n", sys_name[sys],
                        err_text(s.sys, rc));
                failed = 1;
            } else {
                for (int ph = 0; ph < NPH; ph++) {
                    struct measure *m = &meas[sys][ph][r];
                    if (run_phase(&s, (enum phase)ph, m) != 0)
                        failed = 1;
                    if (!json)
                        print_line(s.sys, (enum phase)ph, m, r);
                    if (!m->ok)
                        break;
                }
                if ((rc = sys_teardown(&s)) != 0) {
                    fprintf(stderr, "shmkv-bench: %s: removing the store: %s\n",
                            sys_name[sys], err_text(SYS_SHMKV, rc < 0 ? rc : -rc));
                    failed = 1;
                }
            }
            cleanup_files();
            struct stat sb;
            if (stat(clean_dir, &sb) == 0) {
                /* the store left something behind */
                fprintf(stderr, "shmkv-bench: %s is not empty; left in place\n", clean_dir);
                failed = 1;
            }
            clean_dir[0] = 0;
        }
    }

    if (!json && runs > 1) {
        for (int sys = 0; sys < NSYS; sys++)
            for (int ph = 0; have_meas[sys] && ph < NPH; ph++) {
                double lo, hi, med = median_mops((enum system)sys, (enum phase)ph, &lo, &hi);
                int prec = med >= 0.995 ? 2 : med >= 0.00995 ? 3 : 5;
                printf("%-6s %-4s median of %d runs: %.*f Mops/s (min %.*f, max %.*f)\n",
                       sys_name[sys], ph_name[ph], runs, prec, med, prec, lo, prec, hi);
            }
    }
    if (json)
        print_json();
    free(order);
    if (failed && !json)
        printf("FAILED\n");
    return failed ? 1 : 0;

bad:
    fprintf(stderr, "shmkv-bench: bad arguments; see shmkv-bench --help\n");
    return 2;
}
