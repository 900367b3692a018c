/* harness.c - see harness.h. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_MAX_CLEANUP 8
#define H_PRINT_LIMIT 40 /* failure messages printed per process */

/* State shared by the guardian and every process of the test. */
struct h_shared {
    atomic_long failures;
    atomic_int ncleanup;
    char cleanup[H_MAX_CLEANUP][PATH_MAX];
};

static struct h_shared *g_shared;
static atomic_long g_local_failures;
static atomic_long g_printed;
static char g_name[64] = "test";
static char g_dir[PATH_MAX];
static atomic_uint g_name_counter;

/* The number the tables' hash seeds come from in a test build of the
 * library (fault.h shmkv__table_seed): the harness sets it when the
 * environment does not, and names it when a test fails, so that a
 * failure that depends on where keys fall can be run again. */
static uint64_t g_table_seed;

static void seed_hint(FILE *f)
{
    fprintf(f, "[%s] in a test build the tables' hash seeds came from SHMKV_TEST_TABLE_SEED=0x%" PRIx64
               " (set it to run the test again with them)\n", g_name, g_table_seed);
}

static void seed_choose(void)
{
    const char *e = getenv("SHMKV_TEST_TABLE_SEED");
    if (e && *e) {
        g_table_seed = strtoull(e, NULL, 0);
        return;
    }
    if (getrandom(&g_table_seed, sizeof g_table_seed, 0) != (ssize_t)sizeof g_table_seed)
        g_table_seed = (uint64_t)h_now() * 1000003u ^ (uint64_t)getpid();
    char v[32];
    snprintf(v, sizeof v, "0x%" PRIx64, g_table_seed);
    setenv("SHMKV_TEST_TABLE_SEED", v, 1);
}

/* ---- checks ------------------------------------------------------------ */

void h_note(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    int n = snprintf(buf, sizeof buf, "[%s %d] ", g_name, (int)getpid());
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    /* one write per line so lines of concurrent processes do not mix */
    size_t len = strlen(buf);
    if (len + 1 < sizeof buf) {
        buf[len++] = '\n';
    }
    fflush(stdout);
    ssize_t w = write(STDOUT_FILENO, buf, len);
    (void)w;
}

void h_fail(const char *file, int line, const char *fmt, ...)
{
    atomic_fetch_add(&g_local_failures, 1);
    if (g_shared)
        atomic_fetch_add(&g_shared->failures, 1);
    long printed = atomic_fetch_add(&g_printed, 1);
    if (printed > H_PRINT_LIMIT)
        return;
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (printed == H_PRINT_LIMIT)
        h_note("FAIL %s:%d: %s (further failure messages of this process suppressed)",
               file, line, msg);
    else
        h_note("FAIL %s:%d: %s", file, line, msg);
}

long h_failures_local(void)
{
    return atomic_load(&g_local_failures);
}

long h_failures_total(void)
{
    return g_shared ? atomic_load(&g_shared->failures) : atomic_load(&g_local_failures);
}

static const struct {
    int e;
    const char *name;
} g_errnames[] = {
    { EPERM, "EPERM" },     { ENOENT, "ENOENT" },   { EINTR, "EINTR" },
    { EIO, "EIO" },         { E2BIG, "E2BIG" },     { EBADF, "EBADF" },
    { EAGAIN, "EAGAIN" },   { ENOMEM, "ENOMEM" },   { EACCES, "EACCES" },
    { EFAULT, "EFAULT" },   { EBUSY, "EBUSY" },     { EEXIST, "EEXIST" },
    { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },   { EINVAL, "EINVAL" },
    { ENFILE, "ENFILE" },   { EMFILE, "EMFILE" },   { EFBIG, "EFBIG" },
    { ENOSPC, "ENOSPC" },   { EROFS, "EROFS" },     { ERANGE, "ERANGE" },
    { EDEADLK, "EDEADLK" }, { ENAMETOOLONG, "ENAMETOOLONG" },
    { ENOSYS, "ENOSYS" },   { ELOOP, "ELOOP" },     { EBADMSG, "EBADMSG" },
    { EOVERFLOW, "EOVERFLOW" }, { ENOBUFS, "ENOBUFS" },
    { ETIMEDOUT, "ETIMEDOUT" }, { EOWNERDEAD, "EOWNERDEAD" },
    { ENOTRECOVERABLE, "ENOTRECOVERABLE" }, { EPROTO, "EPROTO" },
    { ENOTSUP, "ENOTSUP" }, { ESTALE, "ESTALE" }, { ENODEV, "ENODEV" },
    { ENXIO, "ENXIO" },     { ETXTBSY, "ETXTBSY" }, { EMLINK, "EMLINK" },
};

const char *h_errname(int rc)
{
    static _Thread_local char buf[4][32];
    static _Thread_local unsigned idx;
    if (rc == 0)
        return "0";
    if (rc < 0) {
        for (size_t i = 0; i < sizeof g_errnames / sizeof g_errnames[0]; i++)
            if (g_errnames[i].e == -rc) {
                char *b = buf[idx++ % 4];
                snprintf(b, sizeof buf[0], "-%s", g_errnames[i].name);
                return b;
            }
    }
    char *b = buf[idx++ % 4];
    snprintf(b, sizeof buf[0], "%d", rc);
    return b;
}

/* ---- guardian ---------------------------------------------------------- */

static volatile sig_atomic_t g_guard_signal;

static void guard_handler(int sig)
{
    g_guard_signal = sig;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP || type == FTW_D || type == FTW_DNR)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    /* make everything removable (tests chmod things) */
    chmod(dir, 0700);
    nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
    rmdir(dir);
}

static void reap_all(void)
{
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
}

__attribute__((noreturn)) static void guardian(pid_t child, double timeout_s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = guard_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)(timeout_s + 0.5));

    int status = 0, timed_out = 0, sig_forwarded = 0;
    for (;;) {
        pid_t r = waitpid(child, &status, 0);
        if (r == child)
            break;
        if (r < 0 && errno != EINTR) {
            status = 1 << 8;
            break;
        }
        if (g_guard_signal == SIGALRM) {
            timed_out = 1;
            g_guard_signal = 0;
            fprintf(stderr, "[%s] TIMEOUT after %.0f s: killing the test\n", g_name, timeout_s);
            kill(-child, SIGKILL);
            kill(child, SIGKILL);
        } else if (g_guard_signal) {
            sig_forwarded = g_guard_signal;
            g_guard_signal = 0;
            kill(-child, sig_forwarded);
            kill(child, sig_forwarded);
            alarm(5); /* then SIGKILL */
        }
    }
    /* whatever the test left behind (forked workers) */
    kill(-child, SIGKILL);
    reap_all();

    rm_tree(g_dir);
    int nclean = atomic_load(&g_shared->ncleanup);
    for (int i = 0; i < nclean && i < H_MAX_CLEANUP; i++)
        unlink(g_shared->cleanup[i]);

    long failures = atomic_load(&g_shared->failures);
    int ok = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0 && failures == 0;
    if (!ok)
        seed_hint(stderr);
    if (WIFSIGNALED(status))
        fprintf(stderr, "[%s] test process killed by signal %d (%s)\n", g_name,
                WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && failures == 0)
        fprintf(stderr, "[%s] test process exited with status %d\n", g_name,
                WEXITSTATUS(status));
    if (!ok && failures == 0 && !WIFSIGNALED(status) && timed_out)
        fprintf(stderr, "[%s] FAILED: timed out\n", g_name);
    fflush(NULL);
    _exit(ok ? 0 : 1);
}

void h_init(const char *test_name)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(g_name, sizeof g_name, "%s", test_name);

    g_shared = mmap(NULL, sizeof *g_shared, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_shared == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    snprintf(g_dir, sizeof g_dir, "/dev/shm/shmkv-test-XXXXXX");
    if (!mkdtemp(g_dir)) {
        /* no /dev/shm: fall back to $TMPDIR or /tmp */
        const char *t = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/shmkv-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(g_dir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    seed_choose();
    if (setenv("SHMKV_DIR", g_dir, 1) != 0) {
        perror("setenv");
        exit(2);
    }

    double timeout_s = 280;
    const char *t = getenv("SHMKV_TEST_TIMEOUT");
    if (t && atof(t) > 0)
        timeout_s = atof(t);

    fflush(NULL);
    pid_t guard = getpid();
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        rm_tree(g_dir);
        exit(2);
    }
    if (child > 0) {
        setpgid(child, child);
        /* orphans of the test get re-parented to us, so we can reap them */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        guardian(child, timeout_s);
    }
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != guard)
        _exit(2);
}

int h_done(void)
{
    long f = h_failures_total();
    if (f)
        h_note("FAILED: %ld check(s) failed", f);
    else
        h_note("all checks passed");
    fflush(NULL);
    return f ? 1 : 0;
}

/* ---- parts ------------------------------------------------------------- */

static const struct h_part *find_part(const struct h_part *parts, size_t nparts,
                                      const char *name)
{
    for (size_t i = 0; i < nparts; i++)
        if (strcmp(parts[i].name, name) == 0)
            return &parts[i];
    return NULL;
}

static int usage(const char *test_name, const struct h_part *parts, size_t nparts)
{
    fprintf(stderr, "usage: %s [--list] [PART...]\nparts:", test_name);
    for (size_t i = 0; i < nparts; i++)
        fprintf(stderr, " %s", parts[i].name);
    fprintf(stderr, "\n");
    return 2;
}

static void run_part(const struct h_part *part)
{
    long failures_before = h_failures_total();
    double t0 = h_now();
    part->run();
    double secs = h_now() - t0;
    long failed = h_failures_total() - failures_before;
    if (failed)
        h_note("part %s: %ld check(s) failed (%.1f s)", part->name, failed, secs);
    else if (secs > 1.0)
        h_note("part %s took %.1f s", part->name, secs);
}

int h_main(int argc, char **argv, const char *test_name, const struct h_part *parts,
           size_t nparts)
{
    /* every argument is checked before anything runs */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(test_name, parts, nparts);
            return 0;
        }
        if (strcmp(argv[i], "--list") == 0 && argc == 2) {
            for (size_t p = 0; p < nparts; p++)
                printf("%s\n", parts[p].name);
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "%s: unknown option '%s' (--list comes alone)\n", test_name,
                    argv[i]);
            return usage(test_name, parts, nparts);
        }
        if (!find_part(parts, nparts, argv[i])) {
            fprintf(stderr, "%s: no part '%s'\n", test_name, argv[i]);
            return usage(test_name, parts, nparts);
        }
    }
    h_init(test_name);
    /* the table's order, each part once, however often it was named */
    for (size_t p = 0; p < nparts; p++) {
        int chosen = argc < 2;
        for (int i = 1; i < argc && !chosen; i++)
            chosen = strcmp(argv[i], parts[p].name) == 0;
        if (chosen)
            run_part(&parts[p]);
    }
    return h_done();
}

const char *h_dir(void)
{
    return g_dir;
}

void h_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
}

void h_name(char *buf, size_t cap, const char *tag)
{
    unsigned n = atomic_fetch_add(&g_name_counter, 1);
    snprintf(buf, cap, "%s-%d-%u", tag, (int)getpid(), n);
}

void h_cleanup_path(const char *path)
{
    int i = atomic_fetch_add(&g_shared->ncleanup, 1);
    if (i < H_MAX_CLEANUP)
        snprintf(g_shared->cleanup[i], PATH_MAX, "%s", path);
}

/* ---- processes ---------------------------------------------------------- */

pid_t h_fork(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        h_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        return pid;
    }
    if (pid == 0) {
        atomic_store(&g_local_failures, 0);
        atomic_store(&g_printed, 0);
    }
    return pid;
}

void h_child_exit(void)
{
    fflush(NULL);
    _exit(atomic_load(&g_local_failures) ? 1 : 0);
}

int h_wait(pid_t pid, const char *what)
{
    int status;
    pid_t r;
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r != pid) {
        h_fail(__FILE__, __LINE__, "waitpid(%s): %s", what, strerror(errno));
        return -1;
    }
    if (WIFSIGNALED(status))
        h_fail(__FILE__, __LINE__, "child %s (pid %d) killed by signal %d (%s)", what,
               (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        h_fail(__FILE__, __LINE__, "child %s (pid %d) exited with status %d", what,
               (int)pid, WEXITSTATUS(status));
    return status;
}

void *h_shm_alloc(size_t size)
{
    void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        h_fail(__FILE__, __LINE__, "mmap(%zu): %s", size, strerror(errno));
        fflush(NULL);
        _exit(2);
    }
    return p;
}

void h_shm_free(void *p, size_t size)
{
    if (p)
        munmap(p, size ? size : 1);
}

h_barrier *h_barrier_new(uint32_t n)
{
    h_barrier *b = h_shm_alloc(sizeof *b);
    b->n = n;
    return b;
}

static void futex_wait_ms(uint32_t *addr, uint32_t val, long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake_all(uint32_t *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int h_barrier_wait(h_barrier *b, double timeout_s)
{
    uint32_t gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
    uint32_t arrived = __atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL);
    if (arrived == b->n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&b->gen, 1, __ATOMIC_RELEASE);
        futex_wake_all(&b->gen);
        return 1;
    }
    double deadline = h_now() + timeout_s;
    while (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen) {
        futex_wait_ms(&b->gen, gen, 50);
        if (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) != gen)
            break;
        if (h_now() > deadline) {
            h_fail(__FILE__, __LINE__, "barrier: the other %u waiter(s) did not arrive "
                   "within %.0f s", b->n - 1, timeout_s);
            return -1;
        }
    }
    return 0;
}

/* ---- time, randomness, hashing ------------------------------------------ */

double h_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double h_thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void h_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void h_fill_random(h_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len >= 8) {
        uint64_t x = h_rand(r);
        memcpy(p, &x, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t x = h_rand(r);
        memcpy(p, &x, len);
    }
}

uint64_t h_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h_mix64(h ^ len);
}

/* ---- self-validating values -------------------------------------------- */

static uint64_t val_lenword(uint64_t kh, uint64_t seq, size_t vlen)
{
    return (uint64_t)vlen ^ h_mix64(kh ^ (seq * 0x9e3779b97f4a7c15ULL) ^ 0xabcdefULL);
}

static uint64_t val_word(uint64_t kh, uint64_t seq, uint64_t i)
{
    return h_mix64(kh + seq * 0xd1b54a32d192ed03ULL + i * 0x9e3779b97f4a7c15ULL);
}

void h_val_make(void *buf, size_t vlen, const void *key, size_t klen, uint64_t seq)
{
    unsigned char *p = buf;
    if (vlen < H_VAL_MIN) {
        h_fail(__FILE__, __LINE__, "h_val_make: vlen %zu < H_VAL_MIN", vlen);
        memset(p, 0, vlen);
        return;
    }
    uint64_t kh = h_hash(key, klen);
    uint64_t lw = val_lenword(kh, seq, vlen);
    memcpy(p, &kh, 8);
    memcpy(p + 8, &seq, 8);
    memcpy(p + 16, &lw, 8);
    size_t off = H_VAL_MIN;
    uint64_t i = 0;
    while (off < vlen) {
        uint64_t w = val_word(kh, seq, i++);
        size_t n = vlen - off < 8 ? vlen - off : 8;
        memcpy(p + off, &w, n);
        off += n;
    }
}

int h_val_check(const void *val, size_t vlen, const void *key, size_t klen,
                uint64_t *seq_out)
{
    const unsigned char *p = val;
    if (!val || vlen < H_VAL_MIN)
        return 0;
    uint64_t kh = h_hash(key, klen), vkh, seq, lw;
    memcpy(&vkh, p, 8);
    memcpy(&seq, p + 8, 8);
    memcpy(&lw, p + 16, 8);
    if (vkh != kh || lw != val_lenword(kh, seq, vlen))
        return 0;
    size_t off = H_VAL_MIN;
    uint64_t i = 0;
    while (off < vlen) {
        uint64_t w = val_word(kh, seq, i++);
        size_t n = vlen - off < 8 ? vlen - off : 8;
        if (memcmp(p + off, &w, n) != 0)
            return 0;
        off += n;
    }
    if (seq_out)
        *seq_out = seq;
    return 1;
}

int h_val_holds(shmkv *db, const void *k, size_t kl, int present, uint64_t seq, uint64_t vlen, void *buf,
                size_t cap, char *desc, size_t dcap)
{
    size_t vl = 0;
    uint64_t got = 0;
    int rc = shmkv_get(db, k, kl, buf, cap, &vl);
    if (rc == -ENOENT) {
        snprintf(desc, dcap, "absent");
        return !present;
    }
    if (rc != 0) {
        snprintf(desc, dcap, "get returned %s", h_errname(rc));
        return 0;
    }
    if (!h_val_check(buf, vl, k, kl, &got)) {
        snprintf(desc, dcap, "an INVALID value of %zu bytes", vl);
        return 0;
    }
    snprintf(desc, dcap, "seq %llu, %zu bytes", (unsigned long long)got, vl);
    return present && got == seq && vl == vlen;
}

/* ---- table integrity ------------------------------------------------------ */

int h_check_table_at(const char *file, int line, shmkv *db, const char *when)
{
    char *rep = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&rep, &len);
    int rc = shmkv_check(db, f);
    if (f)
        fclose(f);
    if (rc != 0 || len != 0) {
        if (rc != 0)
            h_fail(file, line, "%s: shmkv_check returned %s", when, h_errname(rc));
        else
            h_fail(file, line, "%s: shmkv_check returned 0 but reported problems", when);
        int lines = 0;
        for (char *p = rep, *nl; p && *p && lines < 30; p = nl + 1, lines++) {
            nl = strchr(p, '\n');
            if (!nl) {
                h_note("    check: %s", p);
                break;
            }
            h_note("    check: %.*s", (int)(nl - p), p);
        }
    }
    free(rep);
    return rc;
}

/* ---- files ------------------------------------------------------------- */

long long h_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_size;
}

int h_file_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int)(st.st_mode & 07777);
}

int h_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

void *h_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    size_t got = 0;
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (buf && len)
        *len = n;
    return buf;
}

int h_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0)
        return -errno;
    return 0;
}
