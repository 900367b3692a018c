/*
 * stall.c - shmkv-bench --stall-probe: how often the machine takes the CPU
 * away.
 *
 * One process per online CPU, pinned, reads CLOCK_MONOTONIC in a tight
 * loop for secs seconds and counts the gaps between two reads: time the
 * process did not run (interrupts, the hypervisor, other tasks).  A
 * timed operation that lasts d seconds meets such a gap with probability
 * about d x (gaps per second), which bounds how low a p99.9 any code can
 * show on the machine.  Prints one line per CPU and a summary.
 */
#include "bench.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct gaps { uint64_t reads, g5, g20, g50, lost_ns, max_ns; };

static void probe_cpu(double secs, struct gaps *g)
{
    uint64_t t0 = now_ns(), prev = t0, end = t0 + (uint64_t)(secs * 1e9);
    memset(g, 0, sizeof *g);
    while (prev < end) {
        uint64_t t = now_ns(), d = t - prev;
        if (d > 5000) {
            g->g5++;
            g->lost_ns += d;
        }
        g->g20 += d > 20000;
        g->g50 += d > 50000;
        if (d > g->max_ns)
            g->max_ns = d;
        g->reads++;
        prev = t;
    }
}

int stall_probe(double secs)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1 || ncpu > MAX_PROCS)
        ncpu = 1;
    struct gaps *all = mmap(NULL, sizeof *all * (size_t)ncpu, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (all == MAP_FAILED)
        return 1;
    for (long c = 0; c < ncpu; c++) {
        pid_t p = fork();
        if (p < 0)
            return 1;
        if (p == 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET((int)c, &set);
            sched_setaffinity(0, sizeof set, &set);
            probe_cpu(secs, &all[c]);
            _exit(0);
        }
    }
    int bad = 0, st;
    while (wait(&st) > 0)
        bad |= !WIFEXITED(st) || WEXITSTATUS(st);
    struct gaps sum = { 0 };
    for (long c = 0; c < ncpu; c++) {
        struct gaps *g = &all[c];
        printf("cpu %ld: %.0f reads/s; gaps > 5 us %.0f/s, > 20 us %.0f/s, > 50 us %.0f/s; "
               "%.2f %% of the time in gaps > 5 us; longest %.1f us\n",
               c, g->reads / secs, g->g5 / secs, g->g20 / secs, g->g50 / secs,
               g->lost_ns / (secs * 1e7), g->max_ns / 1e3);
        sum.g5 += g->g5, sum.g20 += g->g20, sum.g50 += g->g50, sum.lost_ns += g->lost_ns;
        if (g->max_ns > sum.max_ns)
            sum.max_ns = g->max_ns;
    }
    double per = secs * (double)ncpu;
    printf("stall probe: %ld CPUs x %.1f s: per CPU, gaps > 20 us %.0f/s, > 50 us %.0f/s, "
           "%.2f %% of the time lost in gaps > 5 us; longest gap %.1f us\n",
           ncpu, secs, sum.g20 / per, sum.g50 / per, sum.lost_ns / (per * 1e7), sum.max_ns / 1e3);
    munmap(all, sizeof *all * (size_t)ncpu);
    return bad;
}
