/*
 * test_fork.c - a handle opened before fork() keeps working in parent and
 * child: writes of each are seen by the other, in lock step and
 * concurrently, while the table grows, in grandchildren, after the other
 * side closed its copy, and when fork() happens while other threads of the
 * parent are using the handle.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_seq(shmkv *db, const char *k, uint64_t seq, size_t vlen)
{
    unsigned char v[512];
    h_val_make(v, vlen, k, strlen(k), seq);
    CHECK_RC(shmkv_put(db, k, strlen(k), v, vlen), 0);
}

/* 1 if k holds a valid value with this seq */
static int has_seq(shmkv *db, const char *k, uint64_t seq)
{
    unsigned char buf[512];
    size_t vl = 0;
    uint64_t got = 0;
    return shmkv_get(db, k, strlen(k), buf, sizeof buf, &vl) == 0 &&
           h_val_check(buf, vl, k, strlen(k), &got) && got == seq;
}

static void xwrite(int fd, int v)
{
    CHECK(write(fd, &v, sizeof v) == (ssize_t)sizeof v);
}

static int xread(int fd)
{
    int v = -1;
    ssize_t r;
    do {
        r = read(fd, &v, sizeof v);
    } while (r < 0 && errno == EINTR);
    return r == (ssize_t)sizeof v ? v : -1;
}

/* Parent and child take turns: each reads what the other just wrote. */
static void test_ping_pong(void)
{
    char name[128];
    shmkv *db = NULL;
    h_name(name, sizeof name, "pingpong");
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    put_seq(db, "before-fork", 1, 64);
    int p2c[2], c2p[2];
    CHECK(pipe(p2c) == 0 && pipe(c2p) == 0);
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        close(p2c[1]);
        close(c2p[0]);
        CHECK(has_seq(db, "before-fork", 1));
        for (int round = 0; round < 200; round++) {
            int v = xread(p2c[0]);
            CHECK_EQ_INT(v, round);
            CHECK(has_seq(db, "from-parent", (uint64_t)round));
            put_seq(db, "from-child", (uint64_t)round, 24 + (size_t)(round % 300));
            if (round % 2)
                CHECK_RC(shmkv_del(db, "scratch", 7), 0); /* the parent put it */
            xwrite(c2p[1], round);
        }
        CHECK_RC(shmkv_del(db, "before-fork", 11), 0);
        xwrite(c2p[1], -2);
        shmkv_close(db);
        h_child_exit();
    }
    close(p2c[0]);
    close(c2p[1]);
    for (int round = 0; round < 200; round++) {
        put_seq(db, "from-parent", (uint64_t)round, 24 + (size_t)(round % 300));
        if (round % 2)
            CHECK_RC(shmkv_put(db, "scratch", 7, "s", 1), 0);
        xwrite(p2c[1], round);
        CHECK_EQ_INT(xread(c2p[0]), round);
        CHECK(has_seq(db, "from-child", (uint64_t)round));
        if (round % 2) {
            size_t vl;
            CHECK_RC(shmkv_get(db, "scratch", 7, NULL, 0, &vl), -ENOENT);
        }
    }
    CHECK_EQ_INT(xread(c2p[0]), -2);
    h_wait(pid, "ping-pong child");
    CHECK_TABLE(db, "after ping-pong");
    size_t vl;
    CHECK_RC(shmkv_get(db, "before-fork", 11, NULL, 0, &vl), -ENOENT);
    close(p2c[1]);
    close(c2p[0]);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

/* Parent and child write many keys at once (the table grows after the
 * fork, through both), then each checks the other's. */
#define NCONC 40000

static void write_range(shmkv *db, const char *prefix, int n, uint64_t seqbase)
{
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "%s%d", prefix, i);
        put_seq(db, k, seqbase + (uint64_t)i, 24 + (size_t)(i % 200));
    }
}

static long check_range(shmkv *db, const char *prefix, int n, uint64_t seqbase)
{
    long bad = 0;
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "%s%d", prefix, i);
        bad += !has_seq(db, k, seqbase + (uint64_t)i);
    }
    return bad;
}

static void test_concurrent_growth(void)
{
    char name[128];
    shmkv *db = NULL;
    h_name(name, sizeof name, "forkgrow");
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    shmkv_stats st0, st1;
    CHECK_RC(shmkv_stat(db, &st0), 0);
    int p2c[2], c2p[2];
    CHECK(pipe(p2c) == 0 && pipe(c2p) == 0);
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(120);
        write_range(db, "child-", NCONC, 1000000);
        xwrite(c2p[1], 1);
        CHECK_EQ_INT(xread(p2c[0]), 1);
        CHECK_EQ_INT(check_range(db, "parent-", NCONC, 0), 0);
        CHECK_EQ_INT(check_range(db, "child-", NCONC, 1000000), 0);
        CHECK_EQ_U64(shmkv_count(db), 2 * NCONC);
        /* a grandchild, with the same inherited handle */
        pid_t gpid = h_fork();
        if (gpid == 0) {
            CHECK_EQ_INT(check_range(db, "parent-", 100, 0), 0);
            write_range(db, "grandchild-", 1000, 5000000);
            shmkv_close(db);
            h_child_exit();
        }
        h_wait(gpid, "grandchild");
        CHECK_EQ_INT(check_range(db, "grandchild-", 1000, 5000000), 0);
        shmkv_close(db);
        xwrite(c2p[1], 2);
        h_child_exit();
    }
    write_range(db, "parent-", NCONC, 0);
    CHECK_EQ_INT(xread(c2p[0]), 1);
    xwrite(p2c[1], 1);
    CHECK_EQ_INT(check_range(db, "child-", NCONC, 1000000), 0);
    CHECK_EQ_INT(check_range(db, "parent-", NCONC, 0), 0);
    CHECK_EQ_INT(xread(c2p[0]), 2);
    h_wait(pid, "concurrent child");
    CHECK_EQ_INT(check_range(db, "grandchild-", 1000, 5000000), 0);
    CHECK_EQ_U64(shmkv_count(db), 2 * NCONC + 1000);
    CHECK_RC(shmkv_stat(db, &st1), 0);
    CHECKF(st1.file_bytes > st0.file_bytes, "file did not grow: %llu -> %llu",
           (unsigned long long)st0.file_bytes, (unsigned long long)st1.file_bytes);
    CHECK_TABLE(db, "after concurrent growth");
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
    close(p2c[0]);
    close(p2c[1]);
    close(c2p[0]);
    close(c2p[1]);
}

/* One side closes its copy; the other goes on. */
static void test_close_one_side(void)
{
    char name[128];
    shmkv *db = NULL;
    h_name(name, sizeof name, "forkclose");
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    int c2p[2], p2c[2];
    CHECK(pipe(c2p) == 0 && pipe(p2c) == 0);
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(60);
        /* the child closes at once; the parent must be unaffected */
        shmkv_close(db);
        xwrite(c2p[1], 1);
        h_child_exit();
    }
    CHECK_EQ_INT(xread(c2p[0]), 1);
    h_wait(pid, "closing child");
    write_range(db, "after-child-close-", 5000, 0);
    CHECK_EQ_INT(check_range(db, "after-child-close-", 5000, 0), 0);

    pid = h_fork();
    if (pid == 0) {
        alarm(60);
        /* the parent closes its copy meanwhile */
        CHECK_EQ_INT(xread(p2c[0]), 1);
        write_range(db, "after-parent-close-", 5000, 7);
        CHECK_EQ_INT(check_range(db, "after-parent-close-", 5000, 7), 0);
        CHECK_EQ_INT(check_range(db, "after-child-close-", 5000, 0), 0);
        shmkv_close(db);
        h_child_exit();
    }
    shmkv_close(db);
    xwrite(p2c[1], 1);
    h_wait(pid, "child after parent close");
    shmkv_options o = { 0 };
    CHECK_RC(shmkv_open(name, &o, &db), 0);
    CHECK_EQ_INT(check_range(db, "after-parent-close-", 5000, 7), 0);
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
    close(c2p[0]);
    close(c2p[1]);
    close(p2c[0]);
    close(p2c[1]);
}

/* fork() while two other threads are busy with the handle. */
struct busy {
    shmkv *db;
    int id;
    int stop;
    long ops, bad;
};

static void *busy_thread(void *p)
{
    struct busy *b = p;
    h_rng r = h_rng_new((uint64_t)b->id);
    uint64_t seq = 0;
    while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
        char k[32];
        snprintf(k, sizeof k, "busy-%d-%d", b->id, (int)h_below(&r, 2000));
        unsigned char v[512], buf[512];
        size_t vl = 24 + (size_t)h_below(&r, 400), got = 0;
        h_val_make(v, vl, k, strlen(k), ++seq);
        if (shmkv_put(b->db, k, strlen(k), v, vl) != 0)
            b->bad++;
        if (shmkv_get(b->db, k, strlen(k), buf, sizeof buf, &got) != 0 ||
            !h_val_check(buf, got, k, strlen(k), NULL))
            b->bad++;
        if (h_below(&r, 4) == 0 && shmkv_del(b->db, k, strlen(k)) != 0)
            b->bad++;
        b->ops++;
    }
    return NULL;
}

static void test_fork_while_busy(void)
{
    char name[128];
    shmkv *db = NULL;
    h_name(name, sizeof name, "forkbusy");
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        return;
    struct busy b[2] = { { db, 1, 0, 0, 0 }, { db, 2, 0, 0, 0 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, busy_thread, &b[i]) == 0);
    int nchildren = H_ASAN ? 20 : 40;
    for (int c = 0; c < nchildren; c++) {
        h_sleep(0.002 * (double)(c % 5));
        pid_t pid = h_fork();
        if (pid == 0) {
            /* only this thread exists here; the others may have been in the
             * middle of an operation when the process was copied */
            alarm(30);
            char k[32];
            for (int i = 0; i < 300; i++) {
                snprintf(k, sizeof k, "child-%d-%d", c, i);
                put_seq(db, k, (uint64_t)i, 40);
            }
            for (int i = 0; i < 300; i++) {
                snprintf(k, sizeof k, "child-%d-%d", c, i);
                CHECK(has_seq(db, k, (uint64_t)i));
                if (i % 2)
                    CHECK_RC(shmkv_del(db, k, strlen(k)), 0);
            }
            /* the busy threads' keys are readable and valid */
            for (int i = 0; i < 2000; i++) {
                snprintf(k, sizeof k, "busy-1-%d", i);
                unsigned char buf[512];
                size_t vl = 0;
                int rc = shmkv_get(db, k, strlen(k), buf, sizeof buf, &vl);
                CHECK(rc == -ENOENT || (rc == 0 && h_val_check(buf, vl, k, strlen(k), NULL)));
            }
            h_child_exit(); /* without close: the process just ends */
        }
        char what[48];
        snprintf(what, sizeof what, "child %d forked while busy", c);
        h_wait(pid, what);
        for (int i = 0; i < 300; i++) {
            char k[32];
            snprintf(k, sizeof k, "child-%d-%d", c, i);
            if (i % 2) {
                size_t vl;
                CHECK_RC(shmkv_get(db, k, strlen(k), NULL, 0, &vl), -ENOENT);
            } else {
                CHECK(has_seq(db, k, (uint64_t)i));
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&b[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(b[i].bad, 0);
        CHECK(b[i].ops > 0);
    }
    shmkv_stats st;
    CHECK_RC(shmkv_stat(db, &st), 0);
    CHECK_EQ_U64(st.lock_recoveries, 0);
    CHECK_TABLE(db, "after forks while busy");
    shmkv_close(db);
    CHECK_RC(shmkv_unlink(name), 0);
}

static const struct h_part parts[] = {
    { "ping_pong", test_ping_pong },
    { "concurrent_growth", test_concurrent_growth },
    { "close_one_side", test_close_one_side },
    { "fork_while_busy", test_fork_while_busy },
};

int main(int argc, char **argv)
{
    return h_main(argc, argv, "test_fork", parts, H_NPARTS(parts));
}
