/*
 * The commands that report on a table: stats (once) and top (live).
 */
#include "cli.h"

#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STAT_FIELDS(X) \
    X(keys) X(live_bytes) X(used_bytes) X(max_bytes) X(file_bytes) X(shards) X(buckets) \
    X(overflow_buckets) X(index_bytes) X(log_bytes) X(garbage_bytes) X(free_bytes) X(puts) X(dels) \
    X(splits) X(runs_cleaned) X(lock_waits) X(lock_recoveries) X(read_stats) X(hits) X(misses) \
    X(cache) X(evictions) X(expirations)

static const char READS_NOTE[] = "not counted (lock-free readers write nothing; create with --stats to count)";

/* The lists of a table: the library counts them with the keys, so stats
 * reads every key (shmkv_scan_all) to tell them apart. */
struct list_count {
    uint64_t lists, elems, bytes;
};

static int count_list(void *ctx, int kind, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct list_count *c = ctx;
    (void)key, (void)klen;
    if (kind != SHMKV_KIND_LIST)
        return 0;
    c->lists++;
    for (size_t pos = 0; pos + 4 <= vlen; c->elems++) {
        uint32_t n;
        memcpy(&n, (const unsigned char *)val + pos, 4);
        c->bytes += n;
        pos += 4 + (size_t)n;
    }
    return 0;
}

int cmd_stats(const struct args *a)
{
    const char *name = a->v[0], *path = table_path(name);
    shmkv *db;
    shmkv_stats s;
    struct stat fs;
    struct list_count lc = {0};
    int rc = open_table(name, OPEN_READ, &db);
    if (rc)
        return rc;
    shmkv_stat(db, &s);
    uint64_t cursor = 0;
    int lr;
    do
        lr = shmkv_scan_all(db, &cursor, count_list, &lc);
    while (lr == 0 && cursor);
    shmkv_close(db);
    if (stat(path, &fs))
        memset(&fs, 0, sizeof fs);
    if (a->json) {
        printf("{\"table\": ");
        json_str(stdout, name);
        printf(", \"path\": ");
        json_str(stdout, path);
#define JF(f) printf(", \"" #f "\": %" PRIu64, s.f);
        STAT_FIELDS(JF)
#undef JF
        printf(", \"load_factor\": %.4f, \"hit_ratio\": %.4f, \"mode\": \"%04o\", \"owner\": ", s.load_factor,
               s.hits + s.misses ? (double)s.hits / (double)(s.hits + s.misses) : 0.0, (unsigned)(fs.st_mode & 07777));
        json_str(stdout, owner_name(fs.st_uid));
        printf(", \"reads_counted\": %s", s.read_stats ? "true" : "false");
        if (lr == 0)
            printf(", \"lists\": %" PRIu64 ", \"list_elements\": %" PRIu64 ", \"list_bytes\": %" PRIu64, lc.lists,
                   lc.elems, lc.bytes);
        printf("}\n");
        return finish_output();
    }
    double per = s.keys >= 1000 ? (double)s.file_bytes / (double)s.keys : 0;
    printf("table            %s (%s)\n", name, path);
    printf("keys             %s\n", hnum(s.keys));
    if (lr == 0)
        printf("lists            %s of the keys, holding %s elements (%s)\n", hnum(lc.lists), hnum(lc.elems),
               hbytes(lc.bytes));
    else
        printf("lists            not counted: %s\n", shmkv_strerror(lr));
    printf("live data        %s (key + value bytes)\n", hbytes(s.live_bytes));
    printf("memory used      %s of the %s limit (%.1f%%)\n", hbytes(s.used_bytes), hbytes(s.max_bytes),
           pct(s.used_bytes, s.max_bytes));
    printf("file size        %s (%.1f%% of the limit)", hbytes(s.file_bytes), pct(s.file_bytes, s.max_bytes));
    printf(per > 0 ? ", %.1f bytes per pair\n" : "\n", per);
    printf("mode, owner      %04o %s\n", (unsigned)(fs.st_mode & 07777), owner_name(fs.st_uid));
    printf("shards           %s\n", hnum(s.shards));
    printf("index            %s: %s buckets + %s overflow, load factor %.2f\n", hbytes(s.index_bytes),
           hnum(s.buckets), hnum(s.overflow_buckets), s.load_factor);
    printf("record log       %s, of which garbage %s (%.1f%%)\n", hbytes(s.log_bytes), hbytes(s.garbage_bytes),
           pct(s.garbage_bytes, s.log_bytes));
    printf("free for reuse   %s\n", hbytes(s.free_bytes));
    printf("since creation   %s puts, %s dels, %s splits, %s runs cleaned\n", hnum(s.puts), hnum(s.dels),
           hnum(s.splits), hnum(s.runs_cleaned));
    printf("locks            %s waits, %s recoveries from dead holders\n", hnum(s.lock_waits),
           hnum(s.lock_recoveries));
    if (s.cache)
        printf("cache            yes (when full, writes evict): %s evictions\n", hnum(s.evictions));
    else
        printf("cache            no (when full, writes fail; create with --cache to evict instead)\n");
    printf("expiry           %s expired pairs reclaimed\n", hnum(s.expirations));
    if (s.read_stats)
        printf("reads            %s hits, %s misses, hit ratio %.1f%%\n", hnum(s.hits), hnum(s.misses),
               pct(s.hits, s.hits + s.misses));
    else
        printf("reads            %s\n", READS_NOTE);
    return finish_output();
}

static double rate(uint64_t a, uint64_t b, double dt)
{
    return b > a && dt > 0 ? (double)(b - a) / dt : 0.0;
}

static void top_frame(const struct args *a, const shmkv_stats *p, const shmkv_stats *s, double dt, bool tty)
{
    const char *name = a->v[0];
    double puts = rate(p->puts, s->puts, dt), dels = rate(p->dels, s->dels, dt);
    double splits = rate(p->splits, s->splits, dt), cleaned = rate(p->runs_cleaned, s->runs_cleaned, dt);
    double waits = rate(p->lock_waits, s->lock_waits, dt), recov = rate(p->lock_recoveries, s->lock_recoveries, dt);
    double evict = rate(p->evictions, s->evictions, dt), expir = rate(p->expirations, s->expirations, dt);
    if (tty) {
        time_t t = time(NULL);
        char when[32];
        strftime(when, sizeof when, "%H:%M:%S", localtime(&t));
        printf("\033[H\033[2Jshmkv top: %s (%s)   %s, every %.1f s, Ctrl-C quits\n\n", name, table_path(name),
               when, a->interval);
        printf("  keys          %14s      load factor     %10.2f\n", hnum(s->keys), s->load_factor);
        printf("  live data     %14s      file          %12s\n", hbytes(s->live_bytes), hbytes(s->file_bytes));
        printf("  memory used   %14s      limit         %12s  (%.1f%% used)\n\n", hbytes(s->used_bytes),
               hbytes(s->max_bytes), pct(s->used_bytes, s->max_bytes));
        printf("  puts/s        %14.0f      dels/s        %12.0f\n", puts, dels);
        printf("  splits/s      %14.0f      runs cleaned/s %11.0f\n", splits, cleaned);
        printf("  lock waits/s  %14.0f      lock recoveries %10s (%.0f/s)\n", waits, hnum(s->lock_recoveries),
               recov);
        if (s->cache)
            printf("  evictions/s   %14.0f      expirations/s %12.0f  (cache: %s evicted)\n\n", evict, expir,
                   hnum(s->evictions));
        else
            printf("  evictions     %14s      expirations/s %12.0f  (not a cache)\n\n", "-", expir);
        if (s->read_stats)
            printf("  hits/s        %14.0f      misses/s      %12.0f  (hit ratio %.1f%%)\n",
                   rate(p->hits, s->hits, dt), rate(p->misses, s->misses, dt),
                   pct(s->hits - p->hits, s->hits - p->hits + s->misses - p->misses));
        else
            printf("  reads are %s\n", READS_NOTE);
        fflush(stdout);
        return;
    }
    /* key: value lines, or one JSON object a line: the same fields */
    struct { const char *k; double v; bool real; } f[] = {
        {"interval_s", dt, true}, {"keys", (double)s->keys, false}, {"live_bytes", (double)s->live_bytes, false},
        {"used_bytes", (double)s->used_bytes, false}, {"file_bytes", (double)s->file_bytes, false},
        {"max_bytes", (double)s->max_bytes, false}, {"load_factor", s->load_factor, true},
        {"puts_per_s", puts, true}, {"dels_per_s", dels, true}, {"splits_per_s", splits, true},
        {"runs_cleaned_per_s", cleaned, true}, {"lock_waits_per_s", waits, true},
        {"lock_recoveries", (double)s->lock_recoveries, false}, {"lock_recoveries_per_s", recov, true},
        {"read_stats", (double)s->read_stats, false}, {"hits_per_s", rate(p->hits, s->hits, dt), true},
        {"misses_per_s", rate(p->misses, s->misses, dt), true},
        {"hit_ratio", s->hits + s->misses ? (double)s->hits / (double)(s->hits + s->misses) : 0, true},
        {"cache", (double)s->cache, false}, {"evictions", (double)s->evictions, false},
        {"evictions_per_s", evict, true}, {"expirations", (double)s->expirations, false},
        {"expirations_per_s", expir, true},
    };
    const char *sep = a->json ? ", \"" : "\n", *colon = a->json ? "\": " : ": ";
    if (a->json) {
        printf("{\"table\": ");
        json_str(stdout, name);
    } else {
        printf("table: %s", name);
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        printf(f[i].real ? "%s%s%s%.4f" : "%s%s%s%.0f", sep, f[i].k, colon, f[i].v);
    const char *reads = s->read_stats ? "counted" : READS_NOTE;
    printf(a->json ? "%sreads%s\"%s\"}\n" : "%sreads%s%s\n", sep, colon, reads);
    fflush(stdout);
}

int cmd_top(const struct args *a)
{
    shmkv *db;
    shmkv_stats p, s;
    int rc = open_table(a->v[0], OPEN_READ, &db);
    if (rc)
        return rc;
    bool tty = !a->once && !a->json && isatty(STDOUT_FILENO);
    uint64_t frames = a->once ? 1 : a->count ? a->count : UINT64_MAX;
    double t0 = now(), t;
    shmkv_stat(db, &p);
    for (uint64_t i = 0; i < frames && !ferror(stdout); i++, p = s, t0 = t) {
        while ((t = now()) < t0 + a->interval) {
            double w = t0 + a->interval - t;
            struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
            nanosleep(&ts, NULL);
        }
        shmkv_stat(db, &s);
        if (i && !tty && !a->json)
            putchar('\n');
        top_frame(a, &p, &s, t - t0, tty);
    }
    shmkv_close(db);
    return finish_output();
}

