/*
 * host.c - the identity of this boot, PID namespace and thread, and what
 * /proc says of another thread.
 *
 * A lock's holder writes its identity next to the lock word; a waiter that
 * has waited a while asks here whether that holder still exists.  A thread
 * id alone is not enough: ids are reused, a process killed but not yet
 * reaped is a zombie whose id still answers kill(), a table on disk
 * outlives the boot whose ids it holds, and another PID namespace numbers
 * its threads differently.  So the holder also records its thread's start
 * time, its boot and its namespace.
 *
 * Everything here is read once per process (boot, namespace) or per
 * thread (tid, start time) and cached; a fork() refreshes the cache in
 * the child.
 */
#include "host.h"

#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic unsigned fork_gen = 1;        /* bumped in every child of fork() */
static _Thread_local struct host_me me;
static _Thread_local unsigned me_gen;        /* fork_gen when me was filled */

static void after_fork(void) { atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed); }
static void register_fork(void) { pthread_atfork(NULL, NULL, after_fork); }

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n >= 0)
        buf[n] = 0;
    return n;
}

uint64_t shmkv__host_boot(void)
{
    static _Atomic uint64_t boot;
    uint64_t b = atomic_load_explicit(&boot, memory_order_relaxed);
    if (!b) {
        char buf[64];
        ssize_t n = read_small("/proc/sys/kernel/random/boot_id", buf, sizeof buf);
        b = n > 0 ? shmkv__hash64(buf, (size_t)n, 0xb007, 0x1d) | 1 : 0;
        atomic_store_explicit(&boot, b, memory_order_relaxed);
    }
    return b;
}

/* Field 3 (state), fields 14 and 15 (user and system time, clock ticks)
 * and field 22 (start time) of /proc/.../stat.  The command name (field
 * 2) may hold spaces and parentheses: parse from the last ')'. */
static int parse_stat(const char *path, char *state, uint64_t *cpu, uint64_t *start)
{
    char buf[1024];
    if (read_small(path, buf, sizeof buf) <= 0)
        return -1;
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -1;
    *state = p[2];
    *cpu = 0;
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
        if (field == 13 || field == 14) /* p is at field + 1 */
            *cpu += strtoull(p, NULL, 10);
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

/* Nanoseconds in a clock tick of /proc's times. */
static uint64_t tick_ns(void)
{
    static _Atomic uint64_t ns;
    uint64_t t = atomic_load_explicit(&ns, memory_order_relaxed);
    if (!t) {
        long hz = sysconf(_SC_CLK_TCK);
        t = hz > 0 && hz <= 1000000000L ? 1000000000ull / (uint64_t)hz : 10000000ull;
        atomic_store_explicit(&ns, t, memory_order_relaxed);
    }
    return t;
}

const struct host_me *shmkv__host_me(void)
{
    unsigned g = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (me_gen == g)
        return &me;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork);
    g = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    me.tid = (uint32_t)gettid();
    char state;
    uint64_t cpu;
    if (parse_stat("/proc/thread-self/stat", &state, &cpu, &me.start))
        me.start = 0;
    struct stat st;
    me.ns = stat("/proc/self/ns/pid", &st) ? 0 : (uint32_t)st.st_ino | 1;
    me.boot = shmkv__host_boot();
    me_gen = g;
    return &me;
}

enum host_thread shmkv__host_thread(uint32_t tid, uint64_t start, struct host_seen *seen)
{
    seen->known = seen->runnable = false;
    seen->cpu_ns = 0;
    if (!tid || tid > 0x3fffffff)
        return THREAD_GONE;
    if (kill((pid_t)tid, 0) && errno == ESRCH)
        return THREAD_GONE;
    char path[64], state;
    uint64_t st, cpu;
    /* the thread's own view: /proc/<tid>/stat sums the times of all the
     * threads of its process */
    snprintf(path, sizeof path, "/proc/%u/task/%u/stat", tid, tid);
    if (parse_stat(path, &state, &cpu, &st))
        return THREAD_ALIVE; /* exists (kill said so) but /proc is hidden from us */
    if (state == 'Z' || state == 'X' || (start && st != start))
        return THREAD_GONE;
    seen->known = true;
    seen->runnable = state == 'R';
    seen->cpu_ns = cpu * tick_ns();
    /* 't' is a tracing stop: strace stops a thread at each of its system
     * calls for a moment (a writer under strace made every other writer of
     * its shard fail), a debugger for as long as its user likes; either
     * way the tracer lets it go, so it is a live holder */
    return state == 'T' ? THREAD_STOPPED : THREAD_ALIVE;
}
