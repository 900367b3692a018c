/*
 * test_hostile.c - structure-aware damage: every field of every on-disk
 * structure of src/format.h set to boundary and hostile values, and every
 * operation run on the result.
 *
 * The table (hostile_build.c) holds a few hundred pairs, plain, with
 * lifetimes, huge and chained, in store and in cache mode; the sites and
 * their values are hostile_sites.c's.  Each case, in a child process under
 * a time limit, writes the sound image with one field changed to three
 * files and then:
 *  - runs the CLI's check and dump on one, and loads a dump that was
 *    written into a new table (which must load and check sound);
 *  - opens another read-only and read-write and runs every operation on
 *    both handles: get, get_alloc, get_many, ttl, foreach, count, stat,
 *    check; put, put_ttl, add, replace, expire, del, clear, check again,
 *    shmkv_repair;
 *  - repairs the third: afterwards a writable check says 0 or -EBADMSG,
 *    and for the damage repair exists for (locks, counters, journal
 *    fields, free lists, the run list's tail, leaked runs) it says 0 and
 *    every pair reads back as it was; a table repair calls sound takes 64
 *    puts, keeps its pairs and checks sound again (a bucket, run or used
 *    mark repair left wrong is met by the next writes: bugs 25 and 26).
 * Every return code must be one include/shmkv.h documents for that call;
 * no process may die of a signal, hang, or stop on a sanitizer's report.
 *
 * By default each field gets 2 of its values in each mode (1 under ASan,
 * where a case costs some 0.2 s), chosen with a fixed seed: about 700
 * cases, 15 s of CPU in the plain build.  Environment:
 *   SHMKV_HOSTILE_FULL=1     every value of every field (the whole cross
 *                            product, some minutes: values that name a live
 *                            lock holder cost each locking call a second)
 *   SHMKV_HOSTILE_SEED=N     another sample
 *   SHMKV_HOSTILE_SITE=TEXT  only the fields whose name contains TEXT
 * It ends with one line: HOSTILE RESULT cases=... signals=0 hangs=0 ...
 */
#include "hostile.h"
#include "run_tool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SAMPLE (H_ASAN ? 1 : 2) /* values per field and mode by default */
#define CASE_LIMIT 30           /* seconds a case may take (slow values: 4x) */

struct tally {
    atomic_long cases, signals, hangs, sanitizer, failed, opened, repaired_sound, fixes, calls;
    atomic_long slowest_ms;
};
static struct tally *tally;

/* The case a child runs, for its messages. */
static const struct htable *T;
static const struct hsite *SITE;
static int VAL;
static unsigned char *val_buf; /* 1 MiB of scratch */
static unsigned char *sound_dump; /* the sound table's dump (the same records load the same) */
static size_t sound_dump_len;

static bool in_set(int rc, const int *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == ok[i])
            return true;
    return false;
}

/* rc of call must be one of the codes listed (its documented ones). */
#define ALLOW(call, rc, ...)                                                                            \
    do {                                                                                               \
        static const int ok_[] = {__VA_ARGS__};                                                        \
        int rc_ = (rc);                                                                                \
        atomic_fetch_add(&tally->calls, 1);                                                            \
        if (!in_set(rc_, ok_, sizeof ok_ / sizeof ok_[0]))                                             \
            h_fail(__FILE__, __LINE__, "%s %s = %s: %s returned %s", T->cache ? "cache" : "store",      \
                   SITE->name, hostile_value_name(VAL), call, h_errname(rc_));                         \
    } while (0)

#define CASE_FAIL(...)                                                                                 \
    h_fail(__FILE__, __LINE__, "%s %s = %s: %s", T->cache ? "cache" : "store", SITE->name,             \
           hostile_value_name(VAL), case_text(__VA_ARGS__))

static const char *case_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *case_text(const char *fmt, ...)
{
    static char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

static const struct hpair *probe(unsigned i) { return &T->pairs[T->probe[i]]; }

/* ---- the operations ------------------------------------------------------- */

static int visit(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    ++*(long *)ctx;
    return 0;
}

static void reads(shmkv *db)
{
    for (unsigned i = 0; i <= 5; i++) {
        const char *k = i < 5 ? probe(i)->key : "absent-key";
        size_t kl = strlen(k), vl;
        ALLOW("get", shmkv_get(db, k, kl, val_buf, 1u << 20, &vl), 0, -ENOENT, -EBADMSG);
        ALLOW("get (8-byte buffer)", shmkv_get(db, k, kl, val_buf, 8, &vl), 0, -ENOENT, -ENOBUFS, -EBADMSG);
        void *p = NULL;
        int rc = shmkv_get_alloc(db, k, kl, &p, &vl);
        ALLOW("get_alloc", rc, 0, -ENOENT, -ENOMEM, -EBADMSG);
        free(p);
        uint64_t ms;
        ALLOW("ttl", shmkv_ttl(db, k, kl, &ms), 0, -ENOENT, -EBADMSG);
    }
    static shmkv_item items[HPAIRS_MAX];
    for (unsigned i = 0; i < T->npairs; i++)
        items[i] = (shmkv_item){.key = T->pairs[i].key, .klen = T->pairs[i].klen, .buf = val_buf, .cap = 1u << 20};
    int found = shmkv_get_many(db, items, T->npairs);
    CHECKF(found >= 0 && found <= (int)T->npairs, "get_many returned %d", found);
    for (unsigned i = 0; i < T->npairs; i++)
        ALLOW("get_many (item)", items[i].rc, 0, -ENOENT, -EBADMSG);
    shmkv_stats st;
    ALLOW("stat", shmkv_stat(db, &st), 0);
    (void)shmkv_count(db);
}

static void writes(shmkv *db)
{
    const struct hpair *plain = probe(0), *ttl = probe(1), *huge = probe(2), *chain = probe(3), *other = probe(4);
    memset(val_buf, 'w', 300000);
    ALLOW("put", shmkv_put(db, plain->key, plain->klen, val_buf, 100), 0, -ENOSPC, -ETIMEDOUT, -EBADMSG);
    ALLOW("put_ttl", shmkv_put_ttl(db, ttl->key, ttl->klen, val_buf, 60, 3600000), 0, -ENOSPC, -ETIMEDOUT,
          -EBADMSG);
    ALLOW("add (new key)", shmkv_add(db, "new-key", 7, val_buf, 10), 0, -ENOSPC, -ETIMEDOUT, -EBADMSG);
    ALLOW("add (present)", shmkv_add(db, other->key, other->klen, val_buf, 10), 0, -EEXIST, -ENOSPC, -ETIMEDOUT,
          -EBADMSG);
    ALLOW("replace", shmkv_replace(db, huge->key, huge->klen, val_buf, 200), 0, -ENOENT, -ENOSPC, -ETIMEDOUT,
          -EBADMSG);
    ALLOW("replace (absent)", shmkv_replace(db, "absent-key", 10, val_buf, 5), -ENOENT, -ETIMEDOUT, -EBADMSG);
    ALLOW("expire", shmkv_expire(db, chain->key, chain->klen, 3600000), 0, -ENOENT, -ENOSPC, -ENOMEM, -ETIMEDOUT,
          -EBADMSG);
    ALLOW("del", shmkv_del(db, other->key, other->klen), 0, -ENOENT, -ETIMEDOUT, -EBADMSG);
    ALLOW("put (huge)", shmkv_put(db, "new-huge", 8, val_buf, 100000), 0, -ENOSPC, -ETIMEDOUT, -EBADMSG);
    ALLOW("put (chain-sized)", shmkv_put(db, "new-chain", 9, val_buf, 300000), 0, -ENOSPC, -ETIMEDOUT, -EBADMSG);
}

/* Every operation on a read-only and on a writable handle of path. */
static void operations(const char *path)
{
    shmkv_options o = {.flags = SHMKV_RDONLY};
    shmkv *ro = NULL, *rw = NULL;
    long n = 0;
    ALLOW("open (read-only)", shmkv_open(path, &o, &ro), 0, -EBADMSG, -ENOMEM);
    if (ro) {
        reads(ro);
        ALLOW("foreach (read-only)", shmkv_foreach(ro, visit, &n), 0, -ENOMEM, -EBADMSG, -EAGAIN);
        ALLOW("check (read-only)", shmkv_check(ro, NULL), 0, -EBADMSG, -ENOMEM, -EAGAIN);
        ALLOW("put (read-only)", shmkv_put(ro, "k", 1, "v", 1), -EROFS);
    }
    o.flags = 0;
    ALLOW("open", shmkv_open(path, &o, &rw), 0, -EBADMSG, -ENOMEM);
    CHECKF(!ro == !rw, "%s = %s: opened %s only", SITE->name, hostile_value_name(VAL), ro ? "read-only" : "writable");
    if (rw) {
        atomic_fetch_add(&tally->opened, 1);
        reads(rw);
        ALLOW("foreach", shmkv_foreach(rw, visit, &n), 0, -ENOMEM, -EBADMSG, -ETIMEDOUT);
        ALLOW("check", shmkv_check(rw, NULL), 0, -EBADMSG, -ENOMEM, -ETIMEDOUT);
        writes(rw);
        if (ro) {
            reads(ro);
            ALLOW("foreach (read-only)", shmkv_foreach(ro, visit, &n), 0, -ENOMEM, -EBADMSG, -EAGAIN);
            ALLOW("check (read-only)", shmkv_check(ro, NULL), 0, -EBADMSG, -ENOMEM, -EAGAIN);
        }
        ALLOW("foreach", shmkv_foreach(rw, visit, &n), 0, -ENOMEM, -EBADMSG, -ETIMEDOUT);
        ALLOW("check", shmkv_check(rw, NULL), 0, -EBADMSG, -ENOMEM, -ETIMEDOUT);
        ALLOW("clear", shmkv_clear(rw), 0, -ETIMEDOUT, -EBADMSG);
        ALLOW("put (after clear)", shmkv_put(rw, "k", 1, "v", 1), 0, -ENOSPC, -ETIMEDOUT, -EBADMSG);
        ALLOW("repair", shmkv_repair(rw, NULL), 0, -EBADMSG, -ENOMEM);
        ALLOW("check (after repair)", shmkv_check(rw, NULL), 0, -EBADMSG);
    }
    shmkv_close(ro);
    shmkv_close(rw);
}

/* ---- repair ---------------------------------------------------------------- */

/* After a repair that said the table is sound: every pair as it was
 * (strict: as hostile_repair demands), else present and right or gone,
 * never -EBADMSG. */
static void verify_pairs(shmkv *db, enum hrepair want)
{
    unsigned bad = 0;
    for (unsigned i = 0; i < T->npairs; i++) {
        const struct hpair *p = &T->pairs[i];
        size_t vl = 0;
        void *v = NULL;
        int rc = shmkv_get_alloc(db, p->key, p->klen, &v, &vl);
        bool right = rc == 0 && vl == p->vlen && h_val_check(v, vl, p->key, p->klen, NULL);
        free(v);
        bool may_go = want == HR_ANY || p->kind == HP_SHORT || (want == HR_FIXP && p->kind == HP_TTL);
        bool ok = want == HR_ANY ? rc == 0 || rc == -ENOENT : right || (may_go && rc == -ENOENT);
        if (!ok && bad++ < 3)
            CASE_FAIL("after a sound repair, %s (%u bytes) reads %s%s", p->key, (unsigned)p->vlen, h_errname(rc),
                      rc == 0 ? (right ? "" : " with a wrong value") : "");
    }
}

static void repair(const char *path)
{
    shmkv *db = NULL;
    shmkv_options o = {0};
    enum hrepair want = hostile_repair(SITE, VAL);
    int rc = shmkv_open(path, &o, &db);
    if (want != HR_ANY)
        CHECKF(rc == 0, "%s = %s: open of a table repair can fix: %s", SITE->name, hostile_value_name(VAL),
               h_errname(rc));
    if (!db)
        return;
    if (SITE->cls == HC_LEAK)
        ALLOW("check (a leaked run)", shmkv_check(db, NULL), -EBADMSG);
    char *report = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&report, &len);
    int r = shmkv_repair(db, f);
    fclose(f);
    ALLOW("repair", r, 0, -EBADMSG, -ENOMEM);
    int c = shmkv_check(db, NULL);
    ALLOW("check (after repair)", c, 0, -EBADMSG);
    if (r == 0 && c != 0)
        CASE_FAIL("repair said sound, then check said %s", h_errname(c));
    if (want != HR_ANY && (r || c))
        CASE_FAIL("repair returned %s, check %s; report: %.300s", h_errname(r), h_errname(c), report ? report : "");
    if (r == 0 && c == 0) {
        atomic_fetch_add(&tally->repaired_sound, 1);
        verify_pairs(db, want);
        /* and it stays sound under writes: a free bucket or run that is
         * still someone's would be handed out now (bug 25) */
        for (int i = 0; i < 64; i++) {
            char k[16];
            int kl = snprintf(k, sizeof k, "after%d", i);
            ALLOW("put (after a sound repair)", shmkv_put(db, k, (size_t)kl, k, (size_t)kl), 0, -ENOSPC);
        }
        verify_pairs(db, want);
        ALLOW("check (after a sound repair and puts)", shmkv_check(db, NULL), 0);
    }
    if (want != HR_ANY)
        atomic_fetch_add(&tally->fixes, 1);
    free(report);
    shmkv_close(db);
}

/* ---- the CLI ------------------------------------------------------------- */

/* A tool's wait status: its exit status if it is ok0 or ok1, else -1 (a failure). */
static int tool_status(const char *what, int st, int ok0, int ok1)
{
    if (st != -1 && WIFSIGNALED(st)) {
        atomic_fetch_add(WTERMSIG(st) == SIGALRM ? &tally->hangs : &tally->signals, 1);
        CASE_FAIL("shmkv %s: killed by signal %d (%s)", what, WTERMSIG(st), strsignal(WTERMSIG(st)));
        return -1;
    }
    int code = st == -1 ? -1 : WEXITSTATUS(st);
    if (code == TOOL_SANITIZER_EXIT)
        atomic_fetch_add(&tally->sanitizer, 1);
    if (code != ok0 && code != ok1) {
        CASE_FAIL("shmkv %s: exit status %d", what, code);
        return -1;
    }
    return code;
}

static void cli(const char *path, unsigned limit)
{
    char dump[PATH_MAX], loaded[PATH_MAX];
    h_path(dump, sizeof dump, "hx-dump");
    h_path(loaded, sizeof loaded, "hx-loaded");
    tool_status("check", tool_run((const char *[]){"check", path, NULL}, NULL, NULL, limit), 0, 3);
    int d = tool_status("dump", tool_run((const char *[]){"dump", path, dump, NULL}, NULL, NULL, limit), 0, 3);
    if (d == 3 && access(dump, F_OK) == 0)
        CASE_FAIL("a failed dump left its file");
    if (d != 0)
        return;
    size_t len = 0;
    unsigned char *bytes = h_read_file(dump, &len);
    /* the same records (the header's count hint aside) load the same */
    bool same = bytes && len == sound_dump_len && len > 24 && !memcmp(bytes + 24, sound_dump + 24, len - 24);
    free(bytes);
    if (same) { /* loaded once, when the mode began */
        unlink(dump);
        return;
    }
    unlink(loaded);
    if (tool_status("load", tool_run((const char *[]){"load", loaded, dump, NULL}, NULL, NULL, limit), 0, 0) == 0) {
        shmkv *db = NULL;
        CHECK_RC(shmkv_open(loaded, NULL, &db), 0);
        if (db)
            ALLOW("check (a loaded dump)", shmkv_check(db, NULL), 0);
        shmkv_close(db);
    }
    unlink(loaded);
    unlink(dump);
}

/* ---- the cases -------------------------------------------------------------- */

/* Make the file at path hold the image: only the pages that differ from
 * what the last case left there are written (the tables are megabytes,
 * a case changes a few pages of them). */
static void write_image(const char *path, const unsigned char *img, size_t len)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    CHECK(fd >= 0 && fstat(fd, &st) == 0);
    if (fd < 0)
        return;
    unsigned char *m = MAP_FAILED;
    if ((size_t)st.st_size == len)
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (m != MAP_FAILED) {
        for (size_t off = 0; off < len; off += 4096) {
            size_t n = len - off < 4096 ? len - off : 4096;
            if (memcmp(m + off, img + off, n))
                memcpy(m + off, img + off, n);
        }
        munmap(m, len);
    } else {
        CHECK(pwrite(fd, img, len, 0) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0);
    }
    close(fd);
}

static void run_child(unsigned limit)
{
    alarm(limit);
    const unsigned char *base = SITE->cls == HC_LEAK ? T->leak_image : T->image;
    unsigned char *img = malloc(T->len);
    CHECK(img != NULL);
    if (!img)
        h_child_exit();
    memcpy(img, base, T->len);
    hostile_apply(T, SITE, VAL, img);
    static const char *const names[] = {"hx-cli", "hx-ops", "hx-repair"};
    char path[3][PATH_MAX];
    for (int i = 0; i < 3; i++) {
        h_path(path[i], sizeof path[i], names[i]);
        write_image(path[i], img, T->len);
    }
    free(img);
    cli(path[0], limit);
    operations(path[1]);
    repair(path[2]);
    h_child_exit();
}

/* A failed case's damaged table, kept in $SHMKV_TEST_ARTIFACTS if set (the
 * table's hash seeds are random, so a failure is reproduced from it). */
static void keep(const struct hsite *s, int v, const unsigned char *img, size_t len)
{
    const char *dir = getenv("SHMKV_TEST_ARTIFACTS");
    char path[PATH_MAX];
    if (!dir || !*dir)
        return;
    snprintf(path, sizeof path, "%s/hostile-%s-%s-%s-%d", dir, T->cache ? "cache" : "store", s->name,
             hostile_value_name(v), (int)getpid());
    for (char *c = path + strlen(dir) + 1; *c; c++)
        *c = strchr("()[]/ ", *c) ? '_' : *c;
    if (h_write_file(path, img, len) == 0)
        h_note("the damaged table is kept as %s", path);
}

static void run_case(const struct htable *t, const struct hsite *s, int v)
{
    T = t, SITE = s, VAL = v;
    const unsigned char *base = s->cls == HC_LEAK ? t->leak_image : t->image;
    unsigned char *copy = malloc(t->len);
    if (!copy || (memcpy(copy, base, t->len), !hostile_apply(t, s, v, copy))) {
        free(copy); /* no change at all: not a case */
        return;
    }
    unsigned limit = hostile_value_slow(v) ? 4 * CASE_LIMIT : CASE_LIMIT;
    atomic_fetch_add(&tally->cases, 1);
    double t0 = h_now();
    pid_t pid = h_fork();
    if (pid == 0)
        run_child(limit);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    long ms = (long)((h_now() - t0) * 1000);
    if (ms > atomic_load(&tally->slowest_ms))
        atomic_store(&tally->slowest_ms, ms);
    const char *mode = t->cache ? "cache" : "store";
    if (ms > 1000)
        h_note("%s %s = %s: a slow case, %ld ms", mode, s->name, hostile_value_name(v), ms);
    if (WIFSIGNALED(st)) {
        atomic_fetch_add(WTERMSIG(st) == SIGALRM ? &tally->hangs : &tally->signals, 1);
        h_fail(__FILE__, __LINE__, "%s %s = %s: %s (signal %d, %s)", mode, s->name, hostile_value_name(v),
               WTERMSIG(st) == SIGALRM ? "hung" : "crashed", WTERMSIG(st), strsignal(WTERMSIG(st)));
    } else if (WEXITSTATUS(st) == TOOL_SANITIZER_EXIT) {
        atomic_fetch_add(&tally->sanitizer, 1);
        h_fail(__FILE__, __LINE__, "%s %s = %s: a sanitizer's report", mode, s->name, hostile_value_name(v));
    } else if (WEXITSTATUS(st) != 0) {
        atomic_fetch_add(&tally->failed, 1);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        keep(s, v, copy, t->len);
    free(copy);
}

/* The values a field gets: all (SHMKV_HOSTILE_FULL), or SAMPLE of them
 * chosen by the seed, never the slow ones. */
static unsigned choose(const struct hsite *s, unsigned index, bool cache, int *vals)
{
    unsigned n = hostile_values(s, vals);
    const char *full = getenv("SHMKV_HOSTILE_FULL");
    if (full && *full && strcmp(full, "0"))
        return n;
    const char *seed = getenv("SHMKV_HOSTILE_SEED");
    h_rng r = h_rng_new((seed ? strtoull(seed, NULL, 10) : 1) * 1000003 + index * 2 + cache);
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++)
        if (!hostile_value_slow(vals[i]))
            vals[m++] = vals[i];
    for (unsigned i = m; i > 1; i--) {
        unsigned j = (unsigned)h_below(&r, i);
        int x = vals[i - 1];
        vals[i - 1] = vals[j];
        vals[j] = x;
    }
    return m < SAMPLE ? m : SAMPLE;
}

/* Dump the sound table, and load the dump (as the cases would) once. */
static void sound_dump_of(const struct htable *t)
{
    char path[PATH_MAX], dump[PATH_MAX], loaded[PATH_MAX];
    h_path(path, sizeof path, "hx-sound");
    h_path(dump, sizeof dump, "hx-sound-dump");
    h_path(loaded, sizeof loaded, "hx-sound-loaded");
    write_image(path, t->image, t->len);
    int st = tool_run((const char *[]){"dump", path, dump, NULL}, NULL, NULL, CASE_LIMIT);
    CHECKF(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "dump of the sound table: status %#x", st);
    sound_dump = h_read_file(dump, &sound_dump_len);
    st = tool_run((const char *[]){"load", loaded, dump, NULL}, NULL, NULL, CASE_LIMIT);
    CHECKF(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "load of the sound table's dump: status %#x", st);
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(loaded, NULL, &db), 0);
    if (db) {
        CHECK_EQ_U64(shmkv_count(db), t->npairs - 5); /* all but the expired ones */
        CHECK_TABLE(db, "the sound table's dump, loaded");
    }
    shmkv_close(db);
    unlink(path);
    unlink(dump);
    unlink(loaded);
}

static void run_mode(bool cache)
{
    static struct htable t;
    static struct hsite sites[HSITES_MAX];
    long failures = h_failures_total();
    hostile_build(&t, cache);
    if (!t.image || !t.leak_image || h_failures_total() != failures)
        return;
    sound_dump_of(&t);
    const char *only = getenv("SHMKV_HOSTILE_SITE");
    unsigned n = hostile_sites(&t, sites);
    long before = atomic_load(&tally->cases);
    for (unsigned i = 0; i < n; i++) {
        if (only && *only && !strstr(sites[i].name, only))
            continue;
        int vals[HVALS_MAX];
        unsigned m = choose(&sites[i], i, cache, vals);
        for (unsigned j = 0; j < m; j++)
            run_case(&t, &sites[i], vals[j]);
    }
    h_note("%s mode: a table of %u pairs in %zu bytes, %u fields, %ld cases", cache ? "cache" : "store", t.npairs,
           t.len, n, atomic_load(&tally->cases) - before);
    hostile_free(&t);
    free(sound_dump);
    sound_dump = NULL;
}

static void part_store(void) { run_mode(false); }
static void part_cache(void) { run_mode(true); }

static const struct h_part parts[] = {
    {"store", part_store},
    {"cache", part_cache},
};

int main(int argc, char **argv)
{
    tool_sanitizer_env();
    tally = h_shm_alloc(sizeof *tally);
    val_buf = malloc(1u << 20);
    double t0 = h_now();
    int rc = h_main(argc, argv, "test_hostile", parts, H_NPARTS(parts));
    printf("HOSTILE RESULT cases=%ld signals=%ld hangs=%ld sanitizer=%ld failed=%ld opened=%ld "
           "repaired_sound=%ld repair_must_fix=%ld calls=%ld slowest_case_ms=%ld seconds=%.1f\n",
           atomic_load(&tally->cases), atomic_load(&tally->signals), atomic_load(&tally->hangs),
           atomic_load(&tally->sanitizer), atomic_load(&tally->failed), atomic_load(&tally->opened),
           atomic_load(&tally->repaired_sound), atomic_load(&tally->fixes), atomic_load(&tally->calls),
           atomic_load(&tally->slowest_ms), h_now() - t0);
    free(val_buf);
    return rc;
}
