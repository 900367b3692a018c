/* stop_helpers.c - see stop_helpers.h. */
#include "stop_helpers.h"

#include "fault.h"
#include "handle.h"
#include "harness.h"
#include "hash.h"
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

shmkv *child_open(const char *name)
{
    shmkv *db = NULL;
    CHECK_RC(shmkv_open(name, NULL, &db), 0);
    if (!db)
        h_child_exit();
    return db;
}

pid_t fork_paused(const char *name, int point, long after, paused_fn fn, void *arg)
{
    pid_t pid = h_fork();
    if (pid == 0) {
        alarm(120); /* a child forgotten stopped is killed by the guardian; one forgotten running by this */
        shmkv *db = child_open(name);
        shmkv__pause_arm(point, after);
        fn(db, arg);
        shmkv_close(db);
        h_child_exit();
    }
    int status = 0, r = pid > 0 ? wait_stopped(pid, 10.0, &status) : 0;
    if (r == 1)
        return pid;
    CHECKF(0, "a writer armed at pause point %d %s", point,
           r == 0 ? "ended without stopping there" : "did not stop there within 10 s");
    if (r < 0)
        kill_child(pid);
    return -1;
}

int wait_stopped(pid_t pid, double timeout_s, int *status)
{
    double end = h_now() + timeout_s;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG | WUNTRACED);
        if (r == pid && WIFSTOPPED(st))
            return 1;
        if (r == pid || (r < 0 && errno != EINTR)) {
            if (status)
                *status = st;
            return 0;
        }
        if (h_now() > end)
            return -1;
        usleep(200);
    }
}

void cont_child(pid_t pid, const char *what)
{
    CHECK(kill(pid, SIGCONT) == 0);
    h_wait(pid, what);
}

void kill_child(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold anything */
    return p && p[1] == ' ' ? p[2] : 0;
}

uint64_t key_hash(shmkv *db, const void *key, size_t klen)
{
    return shmkv__hash64(key, klen, db->seed0, db->seed1);
}

unsigned key_shard(shmkv *db, const void *key, size_t klen)
{
    return shard_index(db, shard_of(db, key_hash(db, key, klen)));
}

uint64_t key_bucket(shmkv *db, const void *key, size_t klen)
{
    uint64_t h = key_hash(db, key, klen);
    struct shard *s = shard_of(db, h);
    uint64_t lay = atomic_load_explicit(&s->layout, memory_order_acquire);
    return shmkv__bucket_for(lay, db->base_bits, h & TAG_MASK);
}

size_t key_find(shmkv *db, char *k, size_t cap, const char *prefix, long *next, long shard, long bucket)
{
    for (;; ++*next) {
        size_t kl = (size_t)snprintf(k, cap, "%s%ld", prefix, *next);
        if ((shard < 0 || key_shard(db, k, kl) == (unsigned)shard) &&
            (bucket < 0 || key_bucket(db, k, kl) == (uint64_t)bucket)) {
            ++*next;
            return kl;
        }
    }
}

void key_group(shmkv *db, char (*keys)[24], int n, int id0, unsigned shard, uint64_t low, uint64_t mask)
{
    for (long m = 0, j = 0; j < n; m++) {
        size_t kl = (size_t)snprintf(keys[j], sizeof keys[j], "g%ld-%ld", id0 + j, m);
        j += key_shard(db, keys[j], kl) == shard && (key_hash(db, keys[j], kl) & mask) == low;
    }
}

/* key_place, also giving the slot's value. */
static int key_find_slot(shmkv *db, const void *key, size_t klen, unsigned *slot, uint64_t *val)
{
    uint64_t h = key_hash(db, key, klen), tag = h & TAG_MASK;
    struct shard *s = shard_of(db, h);
    struct bucket *bk = shmkv__bucket_at(db, s, key_bucket(db, key, klen));
    for (int n = 0; bk && n < 1000; n++, bk = shmkv__bucket_next(db, bk))
        for (unsigned i = 0; i < SLOTS; i++) {
            uint64_t v = atomic_load_explicit(&bk->slot[i], memory_order_relaxed);
            const struct rec *r = v && slot_tag(v) == tag ? at(db, slot_off(v)) : NULL;
            if (r && r->klen == klen && !memcmp(rec_key(r), key, klen)) {
                *slot = i;
                *val = v;
                return n;
            }
        }
    return -1;
}

int key_place(shmkv *db, const void *key, size_t klen, unsigned *slot)
{
    uint64_t v;
    return key_find_slot(db, key, klen, slot, &v);
}

uint64_t key_record(shmkv *db, const void *key, size_t klen)
{
    unsigned i;
    uint64_t v = 0;
    return key_find_slot(db, key, klen, &i, &v) < 0 ? 0 : slot_off(v);
}
