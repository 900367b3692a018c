/*
 * test_faults.c - fault injection and a genuinely full file system.
 *
 * 1. For each kind of fault the test builds offer (fallocate fails with
 *    ENOSPC, mmap with ENOMEM, malloc/calloc/realloc return NULL) and for
 *    countdown n = 0, 1, 2, ... a fixed sequence of operations runs in a
 *    child process with the fault armed to hit the (n+1)-th call of that
 *    kind: create a table, puts growing it (small, medium and huge values,
 *    so runs, chains, index chunks and overflow buckets are allocated),
 *    overwrites, deletes, get_alloc, get, get_many, foreach, check, close,
 *    reopen read-write and read-only, more puts.  Every call must return 0
 *    or an error its documentation lists for that situation (-ENOSPC for
 *    writes and creation, -ENOMEM for open, get_alloc, foreach and check);
 *    nothing may crash.  A reference model records every write that
 *    returned 0.  Then, with the fault disarmed, the table must be intact
 *    and usable: shmkv_check passes, every pair of the model is there with
 *    its value and nothing else is, a failed creation left no temporary
 *    file, and more puts, deletes and a reopen work.  The countdown goes up
 *    until the sequence no longer reaches the fault (the countdown is still
 *    armed after it; how many calls the sequence makes varies with the
 *    table's random hash seed, through when the file grows).  Done for two
 *    tables: one without max_bytes (256 shards) and one of 2 MiB (8 shards,
 *    which also fills up).
 *
 * 2. A full file system (root only; skipped with a note otherwise): an
 *    8 MiB tmpfs is mounted, a table without max_bytes is created in it and
 *    filled until -ENOSPC.  That must be -ENOSPC, never SIGBUS (the child
 *    doing it would die); the table must then be intact, deletes must make
 *    room for new puts, and the table must reopen.
 *
 * Parts fallocate, mmap and malloc (1., one kind each) print one line
 * each: FAULTS RESULT kind=... cases=... error_returns=...; part fs_full
 * (2.) prints FAULTS RESULT fs_full=run|skipped.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* In the test builds of the library (SHMKV_TEST_HOOKS). */
void shmkv__fault_arm(int kind, long after);
long shmkv__fault_left(int kind);

enum { F_FALLOCATE = 0, F_MMAP = 1, F_MALLOC = 2, F_KINDS = 3 };
static const char *const kind_names[] = { "fallocate", "mmap", "malloc" };

#define NK 400
#define VAL_MAX (96 * 1024)
#define MAX_CASES 3000

struct mk {
    int present;
    size_t vl;
    uint64_t seq;
};

/* What a case's child reports back. */
struct result {
    int reached;          /* the armed fault fired during the sequence */
    long injected;        /* calls that returned -ENOSPC or -ENOMEM */
    long calls;           /* calls made */
};

static struct mk M[NK + 200];
static unsigned char *VAL, *BUF;
static uint64_t g_seq;

static size_t key_of(char *k, int i)
{
    return (size_t)snprintf(k, 48, "fault-key-%d%s", i, i % 7 == 3 ? "-with-a-longer-tail" : "");
}

static size_t vlen_of(int i, int round)
{
    unsigned x = (unsigned)(h_mix64((uint64_t)i * 31 + (uint64_t)round) % 100);
    if (x < 12)
        return 33000 + (size_t)(h_mix64((uint64_t)i + 7 * (uint64_t)round) % (VAL_MAX - 33000));
    if (x < 40)
        return 500 + (size_t)(h_mix64((uint64_t)i ^ (uint64_t)round) % 6000);
    return H_VAL_MIN + (size_t)(h_mix64((uint64_t)i + (uint64_t)round) % 300);
}

static int write_ok(int rc) { return rc == 0 || rc == -ENOSPC; }

/* Calls under fault: check the return code is allowed, count. */
#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        R->calls++;                                                        \
        if (!(cond))                                                       \
            CHECKF(0, __VA_ARGS__);                                        \
    } while (0)

static void do_put(shmkv *db, int i, int round, struct result *R, const char *ctx)
{
    char k[48];
    size_t kl = key_of(k, i), vl = vlen_of(i, round);
    uint64_t seq = ++g_seq;
    h_val_make(VAL, vl, k, kl, seq);
    int rc = shmkv_put(db, k, kl, VAL, vl);
    EXPECT(write_ok(rc), "%s: put of key %d (%zu bytes) returned %s", ctx, i, vl, h_errname(rc));
    if (rc == 0)
        M[i] = (struct mk){ 1, vl, seq };
    else
        R->injected += rc == -ENOSPC;
}

static void do_del(shmkv *db, int i, struct result *R, const char *ctx)
{
    char k[48];
    size_t kl = key_of(k, i);
    int rc = shmkv_del(db, k, kl);
    EXPECT(rc == (M[i].present ? 0 : -ENOENT), "%s: del of key %d (%s) returned %s", ctx, i,
           M[i].present ? "present" : "absent", h_errname(rc));
    if (rc == 0)
        M[i].present = 0;
}

static int matches(int i, int rc, const void *v, size_t vl)
{
    char k[48];
    size_t kl = key_of(k, i);
    uint64_t seq = 0;
    if (!M[i].present)
        return rc == -ENOENT;
    return rc == 0 && vl == M[i].vl && h_val_check(v, vl, k, kl, &seq) && seq == M[i].seq;
}

struct fe {
    long pairs, bad;
};

static int fe_visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct fe *f = ctx;
    f->pairs++;
    char k[64];
    if (klen >= sizeof k || klen < 11 || memcmp(key, "fault-key-", 10) != 0) {
        f->bad++;
        return 0;
    }
    memcpy(k, key, klen);
    k[klen] = 0;
    int i = atoi(k + 10);
    if (i < 0 || i >= NK + 200 || !matches(i, 0, val, vlen))
        f->bad++;
    return 0;
}

/* Everything the model says, nothing else. */
static void compare_all(shmkv *db, const char *ctx)
{
    long bad = 0, present = 0;
    for (int i = 0; i < NK + 200; i++) {
        char k[48];
        size_t kl = key_of(k, i), vl = 0;
        int rc = shmkv_get(db, k, kl, BUF, VAL_MAX, &vl);
        present += M[i].present;
        if (!matches(i, rc, BUF, vl) && bad++ < 5)
            CHECKF(0, "%s: key %d (%s) reads %s, %zu bytes", ctx, i,
                   M[i].present ? "present" : "absent", h_errname(rc), vl);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_U64(shmkv_count(db), (uint64_t)present);
    struct fe f = { 0, 0 };
    CHECK_RC(shmkv_foreach(db, fe_visit, &f), 0);
    CHECK_EQ_INT(f.bad, 0);
    CHECK_EQ_INT(f.pairs, present);
}

/* Temporary files left in the directory by a failed creation. */
static int stray_temp_files(void)
{
    DIR *d = opendir(h_dir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, ".shmkv-tmp.", 11) == 0;
    if (d)
        closedir(d);
    return n;
}

/* The sequence, with a fault armed.  Returns the handle (or NULL). */
static shmkv *sequence(const char *name, uint64_t max_bytes, struct result *R)
{
    shmkv_options o = { .flags = SHMKV_CREATE, .max_bytes = max_bytes };
    shmkv *db = NULL;
    int rc = shmkv_open(name, &o, &db);
    EXPECT(rc == 0 || rc == -ENOSPC || rc == -ENOMEM, "create returned %s", h_errname(rc));
    if (rc) {
        R->injected++;
        return NULL;
    }
    /* grow: fresh keys, every size */
    for (int i = 0; i < NK; i++)
        do_put(db, i, 0, R, "fill");
    /* overwrites with other sizes, deletes */
    for (int i = 0; i < NK; i += 3)
        do_put(db, i, 1, R, "overwrite");
    for (int i = 1; i < NK; i += 5)
        do_del(db, i, R, "delete");
    /* add / replace */
    for (int i = NK; i < NK + 40; i++) {
        char k[48];
        size_t kl = key_of(k, i), vl = vlen_of(i, 2);
        uint64_t seq = ++g_seq;
        h_val_make(VAL, vl, k, kl, seq);
        rc = shmkv_add(db, k, kl, VAL, vl);
        EXPECT(write_ok(rc), "add of a new key returned %s", h_errname(rc));
        if (rc == 0)
            M[i] = (struct mk){ 1, vl, seq };
        seq = ++g_seq;
        h_val_make(VAL, vl / 2 + H_VAL_MIN, k, kl, seq);
        rc = shmkv_replace(db, k, kl, VAL, vl / 2 + H_VAL_MIN);
        EXPECT(M[i].present ? write_ok(rc) : rc == -ENOENT, "replace of key %d returned %s", i,
               h_errname(rc));
        if (rc == 0)
            M[i] = (struct mk){ 1, vl / 2 + H_VAL_MIN, seq };
    }
    /* reads */
    for (int i = 0; i < 60; i++) {
        char k[48];
        size_t kl = key_of(k, i * 7 % (NK + 40)), vl = 0;
        void *p = NULL;
        rc = shmkv_get_alloc(db, k, kl, &p, &vl);
        EXPECT(rc == -ENOMEM || matches(i * 7 % (NK + 40), rc, p, vl),
               "get_alloc of key %d returned %s", i * 7 % (NK + 40), h_errname(rc));
        R->injected += rc == -ENOMEM;
        free(p);
        rc = shmkv_get(db, k, kl, BUF, VAL_MAX, &vl);
        EXPECT(matches(i * 7 % (NK + 40), rc, BUF, vl), "get of key %d returned %s",
               i * 7 % (NK + 40), h_errname(rc));
    }
    {
        enum { B = 8 };
        shmkv_item it[B];
        char keys[B][48];
        unsigned char *bufs = malloc((size_t)B * VAL_MAX);
        for (int j = 0; j < B; j++) {
            it[j] = (shmkv_item){ .key = keys[j], .klen = key_of(keys[j], j * 11),
                                  .buf = bufs + (size_t)j * VAL_MAX, .cap = VAL_MAX };
        }
        rc = shmkv_get_many(db, it, B);
        EXPECT(rc >= 0, "get_many returned %s", h_errname(rc));
        for (int j = 0; bufs && j < B; j++)
            EXPECT(matches(j * 11, it[j].rc, it[j].buf, it[j].vlen), "get_many item %d: %s", j,
                   h_errname(it[j].rc));
        free(bufs);
    }
    struct fe f = { 0, 0 };
    rc = shmkv_foreach(db, fe_visit, &f);
    EXPECT(rc == 0 || rc == -ENOMEM, "foreach returned %s", h_errname(rc));
    EXPECT(f.bad == 0, "foreach visited %ld pairs the model does not have", f.bad);
    R->injected += rc == -ENOMEM;
    rc = shmkv_check(db, NULL);
    EXPECT(rc == 0 || rc == -ENOMEM, "check returned %s", h_errname(rc));
    R->injected += rc == -ENOMEM;
    /* reopen: read-only, then read-write */
    shmkv_close(db);
    shmkv_options ro = { .flags = SHMKV_RDONLY };
    shmkv *rdb = NULL;
    rc = shmkv_open(name, &ro, &rdb);
    EXPECT(rc == 0 || rc == -ENOMEM, "read-only open returned %s", h_errname(rc));
    R->injected += rc == -ENOMEM;
    if (rdb) {
        f = (struct fe){ 0, 0 };
        rc = shmkv_foreach(rdb, fe_visit, &f);
        EXPECT(rc == 0 || rc == -ENOMEM, "read-only foreach returned %s", h_errname(rc));
        EXPECT(f.bad == 0, "read-only foreach visited %ld pairs the model does not have", f.bad);
        shmkv_close(rdb);
    }
    db = NULL;
    rc = shmkv_open(name, NULL, &db);
    EXPECT(rc == 0 || rc == -ENOMEM, "reopen returned %s", h_errname(rc));
    if (rc) {
        R->injected++;
        return NULL;
    }
    /* more growth */
    for (int i = NK + 40; i < NK + 200; i++)
        do_put(db, i, 3, R, "more puts");
    for (int i = 0; i < NK; i += 4)
        do_put(db, i, 4, R, "second overwrite");
    return db;
}

static void one_case(int kind, long n, uint64_t max_bytes, struct result *R)
{
    char name[128], ctx[96];
    h_name(name, sizeof name, "fault");
    snprintf(ctx, sizeof ctx, "%s fault after %ld calls, max_bytes %llu", kind_names[kind], n,
             (unsigned long long)max_bytes);
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(120);
        memset(M, 0, sizeof M);
        *R = (struct result){ 0, 0, 0 };
        shmkv__fault_arm(kind, n);
        shmkv *db = sequence(name, max_bytes, R);
        R->reached = shmkv__fault_left(kind) == 0;
        shmkv__fault_arm(kind, -1); /* disarmed */

        /* the table is intact and usable */
        int stray = stray_temp_files();
        CHECKF(stray == 0, "%s: %d temporary files left behind", ctx, stray);
        if (!db) {
            shmkv_options o = { .flags = SHMKV_CREATE, .max_bytes = max_bytes };
            CHECK_RC(shmkv_open(name, &o, &db), 0);
        }
        if (db) {
            char when[160];
            snprintf(when, sizeof when, "%s: after the fault", ctx);
            CHECK_TABLE(db, when);
            compare_all(db, when);
            struct result R2 = { 0, 0, 0 }, *saved = R;
            R = &R2;
            for (int i = NK + 100; i < NK + 200; i++) {
                char k[48];
                size_t kl = key_of(k, i), vl = max_bytes ? 100 : vlen_of(i, 9);
                uint64_t seq = ++g_seq;
                h_val_make(VAL, vl, k, kl, seq);
                int rc = shmkv_put(db, k, kl, VAL, vl);
                /* a full small table may refuse; delete to make room */
                if (rc == -ENOSPC && max_bytes) {
                    for (int j = 0; j < NK && rc == -ENOSPC; j++)
                        if (M[j].present) {
                            do_del(db, j, R, when);
                            rc = shmkv_put(db, k, kl, VAL, vl);
                        }
                }
                CHECKF(rc == 0, "%s: put after the fault returned %s", ctx, h_errname(rc));
                if (rc == 0)
                    M[i] = (struct mk){ 1, vl, seq };
            }
            for (int i = 0; i < NK; i += 9)
                do_del(db, i, R, when);
            R = saved;
            snprintf(when, sizeof when, "%s: after more writes", ctx);
            CHECK_TABLE(db, when);
            compare_all(db, when);
            shmkv_close(db);
            db = NULL;
            CHECK_RC(shmkv_open(name, NULL, &db), 0);
            if (db) {
                snprintf(when, sizeof when, "%s: reopened", ctx);
                compare_all(db, when);
                shmkv_close(db);
            }
        }
        shmkv_unlink(name);
        /* exit(), not _exit(): under ASan, LeakSanitizer then checks that
         * no failed call leaked memory */
        fflush(NULL);
        exit(h_failures_local() ? 1 : 0);
    }
    h_wait(pid, ctx);
    shmkv_unlink(name);
}

/* ---- a full file system ---------------------------------------------------- */

static void fill_fs(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/full-table", dir);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(path, NULL, &db), 0);
    if (!db)
        return;
    int n = 0, rc = 0;
    uint64_t bytes = 0;
    memset(M, 0, sizeof M);
    /* keys beyond NK+200 are not modelled: use a plain scheme */
    for (; n < 100000; n++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "fs-%d", n);
        size_t vl = n % 25 == 0 ? 50000 : 3000 + (size_t)(n % 7) * 100;
        h_val_make(VAL, vl, k, kl, (uint64_t)n);
        rc = shmkv_put(db, k, kl, VAL, vl);
        if (rc)
            break;
        bytes += kl + vl;
    }
    CHECKF(rc == -ENOSPC, "filling a table on an 8 MiB tmpfs: put returned %s after %d puts",
           h_errname(rc), n);
    h_note("full file system: -ENOSPC after %d puts, %llu bytes", n, (unsigned long long)bytes);
    CHECK(bytes > (4u << 20));
    CHECK_TABLE(db, "on a full file system");
    CHECK_EQ_U64(shmkv_count(db), (uint64_t)n);
    long bad = 0;
    for (int i = 0; i < n; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "fs-%d", i), vl = 0;
        uint64_t seq = 0;
        rc = shmkv_get(db, k, kl, BUF, VAL_MAX, &vl);
        bad += rc != 0 || !h_val_check(BUF, vl, k, kl, &seq) || seq != (uint64_t)i;
    }
    CHECK_EQ_INT(bad, 0);
    /* still -ENOSPC, changing nothing, and reads fine */
    h_val_make(VAL, 60000, "fs-extra", 8, 1);
    CHECK_RC(shmkv_put(db, "fs-extra", 8, VAL, 60000), -ENOSPC);
    size_t gl;
    CHECK_RC(shmkv_get(db, "fs-extra", 8, NULL, 0, &gl), -ENOENT);
    /* deletes make room */
    for (int i = 0; i < n; i += 2) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "fs-%d", i);
        CHECK_RC(shmkv_del(db, k, kl), 0);
    }
    int again = 0;
    for (int i = 0; i < n / 3; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "fs-again-%d", i);
        h_val_make(VAL, 3000, k, kl, 1);
        again += shmkv_put(db, k, kl, VAL, 3000) == 0;
    }
    CHECKF(again == n / 3, "after deleting half of a full table, only %d of %d puts succeeded",
           again, n / 3);
    CHECK_RC(shmkv_put(db, "fs-extra", 8, VAL, 60000), 0);
    CHECK_TABLE(db, "after deletes and puts on a full file system");
    uint64_t count = shmkv_count(db);
    shmkv_close(db);
    db = NULL;
    CHECK_RC(shmkv_open(path, NULL, &db), 0);
    if (db) {
        CHECK_EQ_U64(shmkv_count(db), count);
        CHECK_TABLE(db, "full file system, reopened");
        shmkv_close(db);
    }
    CHECK_RC(shmkv_unlink(path), 0);
}

static int fs_full(void)
{
    char dir[PATH_MAX];
    if (geteuid() != 0) {
        h_note("full file system: SKIPPED (not root: cannot mount a tmpfs)");
        return 0;
    }
    h_path(dir, sizeof dir, "tmpfs-8m");
    if (mkdir(dir, 0700) != 0) {
        h_note("full file system: SKIPPED (mkdir %s: %s)", dir, strerror(errno));
        return 0;
    }
    if (mount("shmkvtest", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700") != 0) {
        h_note("full file system: SKIPPED (mount -t tmpfs: %s)", strerror(errno));
        rmdir(dir);
        return 0;
    }
    /* in a child: a SIGBUS kills it and fails the test, and the parent
     * still unmounts */
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(120);
        fill_fs(dir);
        h_child_exit();
    }
    h_wait(pid, "table on a full tmpfs");
    if (umount2(dir, 0) != 0) {
        CHECKF(0, "umount %s: %s", dir, strerror(errno));
        umount2(dir, MNT_DETACH);
    }
    rmdir(dir);
    return 1;
}

/* Every countdown of one kind of fault, for both table sizes; prints
 * "FAULTS RESULT kind=K cases=N error_returns=M". */
static void inject(int kind)
{
    struct result *R = h_shm_alloc(sizeof *R);
    long cases = 0, injected = 0;
    const uint64_t sizes[] = { 0, 2u << 20 };
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        long n = 0;
        double t0 = h_now();
        for (; n < MAX_CASES && h_failures_total() < 10; n++) {
            one_case(kind, n, sizes[si], R);
            cases++;
            injected += R->injected;
            if (!R->reached)
                break;
        }
        h_note("%s faults, max_bytes %llu: %ld cases (the sequence makes %ld such calls), "
               "%.1f s", kind_names[kind], (unsigned long long)sizes[si], n + 1, n,
               h_now() - t0);
        CHECKF(n > 0 && n < MAX_CASES, "%s: the sequence never reached the fault, or "
               "always did", kind_names[kind]);
    }
    printf("FAULTS RESULT kind=%s cases=%ld error_returns=%ld\n", kind_names[kind], cases,
           injected);
    h_shm_free(R, sizeof *R);
}

static void fallocate_faults(void) { inject(F_FALLOCATE); }
static void mmap_faults(void) { inject(F_MMAP); }
static void malloc_faults(void) { inject(F_MALLOC); }

/* Prints "FAULTS RESULT fs_full=run|skipped". */
static void full_fs(void)
{
    double t0 = h_now();
    int fs = fs_full();
    h_note("full file system part: %.1f s", h_now() - t0);
    printf("FAULTS RESULT fs_full=%s\n", fs ? "run" : "skipped");
}

static const struct h_part parts[] = {
    { "fallocate", fallocate_faults },
    { "mmap", mmap_faults },
    { "malloc", malloc_faults },
    { "fs_full", full_fs },
};

int main(int argc, char **argv)
{
    VAL = malloc(VAL_MAX);
    BUF = malloc(VAL_MAX);
    int rc = h_main(argc, argv, "test_faults", parts, H_NPARTS(parts));
    free(VAL);
    free(BUF);
    return rc;
}
