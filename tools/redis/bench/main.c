/*
 * shmkv-redis-bench: the near cache against plain Redis reads and
 * per-process client-side caches (nearbench.h; results in BENCHMARKS.md).
 *
 *   shmkv-redis-bench [--workers 2,4] [--seconds 4] [--warmup 1]
 *                     [--keys 100000] [--value-bytes 100] [--zipf 0.99]
 *                     [--writes 0.05] [--write-depth 16] [--probe-ms 10]
 *                     [--modes redis,local,shmkv,refresh] [--table-mib M] [--runs R]
 *                     [--agent-nice N]
 *
 * With --runs R (1 to 9) every mode runs R times, in turn, and the median
 * of each figure is reported too.  --agent-nice runs the agent at that
 * nice value (negative: ahead of the workers; needs root).
 *
 * The shmkv table's max_bytes is what one process's local cache used in
 * the local run before it (whole MiB; 64 MiB when local did not run),
 * unless --table-mib says: one copy per host in the memory of one of the
 * local mode's N copies.
 *
 * It starts its own redis-server (on a Unix socket in a private directory)
 * and, for the shmkv mode, its own agent (shmkv-redis sync, found next to
 * this program) on a fresh table per run.
 */
#include "nearbench.h"

#include "bench.h"
#include "conn.h"
#include "servers.h"
#include "shmkv-redis.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

struct result {
    double reads_s, hit_ratio, cpu_s, cpu_us_per_kread;
    uint64_t reads, mem_bytes, table_mib;
    double p50, p99, max;
    unsigned nprobes;
};

static void die(const char *what)
{
    fprintf(stderr, "shmkv-redis-bench: %s\n", what);
    exit(1);
}

static double redis_cpu(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO cpu");
    double sys = 0, user = 0;
    const char *s, *u;
    if (r && r->type == REDIS_REPLY_STRING && (s = strstr(r->str, "used_cpu_sys:")) &&
        (u = strstr(r->str, "used_cpu_user:"))) {
        sys = atof(s + 13);
        user = atof(u + 14);
    }
    freeReplyObject(r);
    return sys + user;
}

static void preload(redisContext *c, const struct setup *s)
{
    char key[32], val[4096];
    for (uint64_t i = 0; i < s->nkeys; i++) {
        size_t kl = key_text(i, key), vl = value_text(i, 0, s->value_bytes, val);
        redisAppendCommand(c, "SET %b %b", key, kl, val, vl);
        if (i % 1000 == 999 || i + 1 == s->nkeys)
            for (uint64_t j = i - i % 1000; j <= i; j++) {
                void *r;
                if (redisGetReply(c, &r) != REDIS_OK)
                    die("preloading Redis failed");
                freeReplyObject(r);
            }
    }
}

/* shmkv-redis sync, next to this program, on the table. */
static pid_t agent_start(const struct setup *s, int refresh)
{
    char self[PATH_MAX - 16], tool[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        die("cannot find this program's directory");
    self[n] = 0;
    *strrchr(self, '/') = 0;
    snprintf(tool, sizeof tool, "%s/shmkv-redis", self);
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || (s->agent_nice && setpriority(PRIO_PROCESS, 0, s->agent_nice)))
            _exit(1);
        execl(tool, "shmkv-redis", "sync", s->table, "--redis", s->redis, "--quiet", refresh ? "--refresh" : (char *)NULL,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(const struct setup *s, enum mode m, int nworkers, redisContext *ctl, struct result *res)
{
    struct nb_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shmkv *db = NULL;
    pid_t agent = 0, kids[NB_MAX_WORKERS + 1];
    if (sh == MAP_FAILED)
        die("out of memory");
    if (MODE_NEAR(m)) {
        shmkv_unlink(s->table);
        shmkv_options o = {.flags = SHMKV_CREATE | SHMKV_CACHE, .max_bytes = s->table_bytes};
        if (shmkv_open(s->table, &o, &db))
            die("cannot create the table");
        agent = agent_start(s, m == MODE_REFRESH);
        for (int i = 0; i < 1000 && shmkv_redis_agent(db, NULL); i++)
            nap_ms(10);
        if (shmkv_redis_agent(db, NULL))
            die("the agent did not start");
    }
    int nkids = nworkers + (m != MODE_REDIS);
    for (int i = 0; i < nkids; i++) {
        fflush(NULL);
        if ((kids[i] = fork()) == 0) {
            if (i < nworkers)
                worker_main(s, m, i, db, sh);
            prober_main(s, m, db, sh);
        }
    }
    nap_ms((uint64_t)(s->warmup_s * 1000));
    double cpu0 = redis_cpu(ctl), t0 = now_sec();
    atomic_store(&sh->go, 1);
    nap_ms((uint64_t)(s->seconds * 1000));
    double cpu1 = redis_cpu(ctl), t1 = now_sec();
    shmkv_stats st = {0};
    if (db)
        shmkv_stat(db, &st);
    atomic_store(&sh->stop, 1);
    memset(res, 0, sizeof *res);
    uint64_t hits = 0;
    for (int i = 0; i < nkids; i++) {
        int status;
        waitpid(kids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            die("a worker failed");
        if (i < nworkers) {
            res->reads += sh->w[i].reads;
            hits += sh->w[i].hits;
            res->mem_bytes += sh->w[i].cache_bytes;
        }
    }
    if (db) {
        res->mem_bytes = st.used_bytes;
        kill(agent, SIGTERM);
        waitpid(agent, NULL, 0);
        shmkv_close(db);
        shmkv_unlink(s->table);
    }
    res->table_mib = s->table_bytes >> 20;
    res->reads_s = (double)res->reads / (t1 - t0);
    res->hit_ratio = res->reads ? (double)hits / (double)res->reads : 0;
    res->cpu_s = cpu1 - cpu0;
    res->cpu_us_per_kread = res->reads ? res->cpu_s * 1e9 / (double)res->reads : 0;
    res->nprobes = atomic_load(&sh->nprobes);
    if (res->nprobes) {
        qsort(sh->probe_ms, res->nprobes, sizeof(double), by_value);
        res->p50 = sh->probe_ms[res->nprobes / 2];
        res->p99 = sh->probe_ms[res->nprobes * 99 / 100];
        res->max = sh->probe_ms[res->nprobes - 1];
    }
    munmap(sh, sizeof *sh);
}

static void print_row(enum mode m, const struct result *r, const char *what)
{
    char stale[64] = "-", mem[64];
    if (r->nprobes)
        snprintf(stale, sizeof stale, "%.2f / %.2f / %.2f (%u)", r->p50, r->p99, r->max, r->nprobes);
    snprintf(mem, sizeof mem, "%.1f MiB", (double)r->mem_bytes / 1048576.0);
    if (MODE_NEAR(m))
        snprintf(mem + strlen(mem), sizeof mem - strlen(mem), " (of %" PRIu64 ")", r->table_mib);
    printf("| %s%s | %10.0f | %6.1f %% | %17s | %6.2f s | %8.1f | %s |\n", mode_name[m], what, r->reads_s,
           r->hit_ratio * 100, mem, r->cpu_s, r->cpu_us_per_kread, stale);
}

#define MAX_RUNS_NB 9

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median of each figure over the runs, figure by figure. */
static void medians(struct result *rs, int runs, struct result *out)
{
    double v[8][MAX_RUNS_NB];
    for (int k = 0; k < runs; k++) {
        const struct result *r = &rs[k];
        double f[8] = {r->reads_s, r->hit_ratio, (double)r->mem_bytes, r->cpu_s, r->cpu_us_per_kread,
                       r->p50, r->p99, r->max};
        for (int i = 0; i < 8; i++)
            v[i][k] = f[i];
    }
    *out = rs[0];
    out->reads_s = median(v[0], runs);
    out->hit_ratio = median(v[1], runs);
    out->mem_bytes = (uint64_t)median(v[2], runs);
    out->cpu_s = median(v[3], runs);
    out->cpu_us_per_kread = median(v[4], runs);
    out->p50 = median(v[5], runs);
    out->p99 = median(v[6], runs);
    out->max = median(v[7], runs);
}

/* Every mode, runs times in turn (so that the machine's other work falls
 * on all of them alike), then the medians and their ratios. */
static void bench_workers(struct setup *s, int n, const char *modes, uint64_t table_mib, int runs,
                          redisContext *ctl)
{
    static struct result r[NMODES][MAX_RUNS_NB];
    struct result med[NMODES];
    int ran[NMODES] = {0};
    printf("%d worker processes:\n\n| mode  | reads/s    | hits     | cache memory      | Redis CPU | "
           "CPU us per 1k reads | staleness ms p50 / p99 / max (probes) |\n"
           "|-------|-----------:|---------:|------------------:|----------:|---------:|---|\n", n);
    for (int k = 0; k < runs; k++) {
        for (int m = 0; m < NMODES; m++) {
            if (!strstr(modes, mode_name[m]))
                continue;
            /* the shared table gets the memory of one local cache (whole MiB) */
            uint64_t one = ran[MODE_LOCAL] ? r[MODE_LOCAL][k].mem_bytes / (uint64_t)n : 64u << 20;
            s->table_bytes = table_mib ? table_mib << 20 : (one + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
            if (s->table_bytes < (1u << 20))
                s->table_bytes = 1u << 20;
            run(s, (enum mode)m, n, ctl, &r[m][k]);
            ran[m] = 1;
            print_row((enum mode)m, &r[m][k], "");
            fflush(stdout);
        }
    }
    for (int m = 0; m < NMODES && runs > 1; m++)
        if (ran[m]) {
            medians(r[m], runs, &med[m]);
            print_row((enum mode)m, &med[m], " (median)");
        }
    for (int m = 0; m < NMODES && runs == 1; m++)
        med[m] = r[m][0];
    for (int m = MODE_SHMKV; m <= MODE_REFRESH; m++) {
        const struct result *x = &med[m], *loc = &med[MODE_LOCAL];
        if (ran[m] && ran[MODE_REDIS])
            printf("\n%s / redis reads: %.1fx", mode_name[m], x->reads_s / med[MODE_REDIS].reads_s);
        if (ran[m] && ran[MODE_LOCAL])
            printf("; %s / local: reads %.2fx, hits %.1f vs %.1f %%, memory %.2fx, Redis CPU per read %.2fx",
                   mode_name[m], x->reads_s / loc->reads_s, x->hit_ratio * 100, loc->hit_ratio * 100,
                   (double)x->mem_bytes / (double)(loc->mem_bytes ? loc->mem_bytes : 1),
                   x->cpu_us_per_kread / (loc->cpu_us_per_kread ? loc->cpu_us_per_kread : 1));
    }
    printf("\n\n");
}

static void print_machine(const struct setup *s)
{
    char model[128] = "?", line[256], ver[32];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    if (f)
        fclose(f);
    double load[3] = {0};
    getloadavg(load, 3);
    printf("machine: %ld CPUs (%s), load average %.1f when it started; redis-server %s, hiredis %d.%d.%d\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, load[0],
           program_version("redis-server --version 2>/dev/null", "v=", ver, sizeof ver), HIREDIS_MAJOR,
           HIREDIS_MINOR, HIREDIS_PATCH);
    printf("workload: %" PRIu64 " keys, %zu-byte values, Zipf %.2f, %.0f %% writes (SET, pipelined %u deep), "
           "%.0f s warm-up then %.0f s measured; staleness probed every %.0f ms\n\n",
           s->nkeys, s->value_bytes, s->zipf_s, s->write_share * 100, s->write_depth, s->warmup_s, s->seconds,
           s->probe_every_s * 1e3);
}

static void usage(void)
{
    fprintf(stderr, "usage: shmkv-redis-bench [--workers 2,4] [--seconds 4] [--warmup 1] [--keys 100000]\n"
                    "       [--value-bytes 100] [--zipf 0.99] [--writes 0.05] [--write-depth 16]\n"
                    "       [--probe-ms 10] [--modes redis,local,shmkv,refresh] [--table-mib M] [--runs R]\n"
                    "       [--agent-nice N]\n"
                    "The shmkv table gets the memory one local cache used (--table-mib: M MiB).\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct setup s = {.nkeys = 100000, .value_bytes = 100, .zipf_s = 0.99, .write_share = 0.05,
                      .write_depth = 16, .warmup_s = 1, .seconds = 4, .probe_every_s = 0.01};
    const char *workers = "2,4", *modes = "redis,local,shmkv,refresh";
    uint64_t table_mib = 0;
    int runs = 1;
    static const struct option opts[] = {
        {"workers", 1, NULL, 'w'}, {"seconds", 1, NULL, 's'}, {"warmup", 1, NULL, 'u'},
        {"keys", 1, NULL, 'k'},    {"value-bytes", 1, NULL, 'v'}, {"zipf", 1, NULL, 'z'},
        {"writes", 1, NULL, 'x'},  {"write-depth", 1, NULL, 'd'}, {"probe-ms", 1, NULL, 'p'},
        {"modes", 1, NULL, 'm'},   {"table-mib", 1, NULL, 't'}, {"runs", 1, NULL, 'r'},
        {"agent-nice", 1, NULL, 'n'}, {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'w': workers = optarg; break;
        case 's': s.seconds = atof(optarg); break;
        case 'u': s.warmup_s = atof(optarg); break;
        case 'k': s.nkeys = strtoull(optarg, NULL, 10); break;
        case 'v': s.value_bytes = strtoul(optarg, NULL, 10); break;
        case 'z': s.zipf_s = atof(optarg); break;
        case 'x': s.write_share = atof(optarg); break;
        case 'd': s.write_depth = (unsigned)atoi(optarg); break;
        case 'p': s.probe_every_s = atof(optarg) / 1e3; break;
        case 'm': modes = optarg; break;
        case 't': table_mib = strtoull(optarg, NULL, 10); break;
        case 'r': runs = atoi(optarg); break;
        case 'n': s.agent_nice = atoi(optarg); break;
        default: usage();
        }
    }
    if (optind < argc || runs < 1 || runs > MAX_RUNS_NB || s.seconds <= 0 || s.nkeys < 1 || s.nkeys > 1000000 || s.value_bytes < 16 ||
        s.value_bytes > 4000 || s.write_depth < 1 || s.zipf_s <= 0 || s.write_share < 0 || s.write_share >= 1)
        usage();
    signal(SIGPIPE, SIG_IGN);
    struct server sv = {.prog = "redis-server"};
    char err[512], table[64];
    if (server_prepare(&sv, "near", err, sizeof err))
        die(err);
    char *argv_redis[] = {"redis-server", "--save", "", "--appendonly", "no", "--port", "0", "--unixsocket",
                          sv.sock, "--unixsocketperm", "700", NULL};
    if (server_start(&sv, argv_redis, err, sizeof err))
        die(err);
    snprintf(table, sizeof table, "shmkv-nearbench-%d", (int)getpid());
    s.redis = sv.sock;
    s.table = table;
    redisContext *ctl = redisConnectUnix(sv.sock);
    if (!ctl || ctl->err)
        die("cannot connect to the Redis server");
    preload(ctl, &s);
    print_machine(&s);
    for (const char *w = workers; *w; w += strcspn(w, ",") + (w[strcspn(w, ",")] == ',')) {
        int n = atoi(w);
        if (n < 1 || n > NB_MAX_WORKERS)
            usage();
        bench_workers(&s, n, modes, table_mib, runs, ctl);
    }
    redisFree(ctl);
    server_stop(&sv);
    return 0;
}
